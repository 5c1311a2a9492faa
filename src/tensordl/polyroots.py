"""Learning to find polynomial roots: data, synthetic division, LSTM models, R², conditioning.

Slides: the objective slide's second presentation, Hoang Duong, "Learning Polynomial
Factorization". No public text of that title exists; this module reproduces the
presenter's public project "Seq2seq for Polynomial Roots Finding" (Duong and Bruna,
Stat 212b final project, 2016) as its slides describe it. Used by
``notebooks/10_polynomial_roots.md`` (imported on its own,
``from tensordl import polyroots``, so that ``import tensordl`` does not load torch).

Conventions: a polynomial of degree ``d`` is the row of its ``d + 1`` coefficients,
highest degree first, as in ``numpy.polyval`` and ``numpy.poly``; a batch of
polynomials of one degree is a matrix of shape ``(n, d + 1)``. Every random routine
takes ``seed`` (an int, a sequence of ints or a :class:`numpy.random.Generator`).

Contents:

- data: :func:`random_polynomials` (coefficients i.i.d. U[-1, 1]),
  :func:`coefficients_from_roots` (the monic polynomial with given roots),
  :func:`random_roots` (roots i.i.d. U[-1, 1], sorted ascending);
- classical algorithms: :func:`synthetic_division` (Horner's scheme: the quotient and
  the remainder of the division by ``x - x0``), :func:`horner_targets` (the running
  values of two Horner passes, the targets of the easy task), :func:`smallest_roots`
  (``numpy.roots``, the eigenvalues of the companion matrix);
- measures: :func:`r2_score` and :func:`root_condition` (absolute displacement of a root
  per unit relative perturbation of the coefficients);
- models (torch): :class:`HornerLSTM` (the easy tasks), :class:`EncoderDecoder` (the
  plain sequence-to-sequence model of the hard task), :class:`RecursiveRootModel` (LSTM1
  predicts a root, LSTM2 divides it out, repeat; loss weights 1, 1/2, 1/3), trained by
  :func:`train_horner` and :func:`train_roots` (on a ``device``: ``"cpu"`` or
  ``"cuda"``), several seeds side by side by :func:`train_roots_many`, applied by
  :func:`predict`.
"""

import multiprocessing
import numbers
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ._checks import as_int

__all__ = [
    "random_polynomials",
    "coefficients_from_roots",
    "random_roots",
    "synthetic_division",
    "horner_targets",
    "smallest_roots",
    "r2_score",
    "root_condition",
    "HornerLSTM",
    "EncoderDecoder",
    "RecursiveRootModel",
    "TrainingRun",
    "train_horner",
    "train_roots",
    "train_roots_many",
    "predict",
    "ROOT_WEIGHTS",
]

ROOT_WEIGHTS = (1.0, 1.0 / 2.0, 1.0 / 3.0)


def _rng(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not (
        isinstance(seed, numbers.Integral)
        or (isinstance(seed, (list, tuple)) and all(isinstance(s, numbers.Integral) for s in seed))
    ):
        raise TypeError(f"seed must be an int, a sequence of ints or a Generator, got {seed!r}")
    return np.random.default_rng(seed)


def _coeffs(coeffs, name="coeffs", min_len=2):
    try:
        a = np.asarray(coeffs, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array, got {type(coeffs).__name__}") from exc
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] < min_len:
        raise ValueError(
            f"{name} must have shape (n, d + 1) with d + 1 >= {min_len} (highest degree first), "
            f"got shape {np.shape(coeffs)}"
        )
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must contain only finite values")
    return a


def random_polynomials(n, degree, seed=0):
    """Coefficients i.i.d. uniform on [-1, 1], highest degree first.

    Parameters
    ----------
    n : int
        Number of polynomials.
    degree : int
        Their degree ``d >= 1``.
    seed : int, sequence of int or numpy.random.Generator, default=0

    Returns
    -------
    ndarray of shape (n, degree + 1)

    Examples
    --------
    >>> random_polynomials(2, 3, seed=1).shape
    (2, 4)
    """
    n, degree = as_int(n, "n", minimum=1), as_int(degree, "degree", minimum=1)
    return _rng(seed).uniform(-1.0, 1.0, size=(n, degree + 1))


def coefficients_from_roots(roots):
    """The monic polynomial with the given roots: prod_i (x - z_i), highest degree first.

    Parameters
    ----------
    roots : array_like of shape (n, d) or (d,)

    Returns
    -------
    ndarray of shape (n, d + 1)
        Row ``j`` equals ``numpy.poly(roots[j])``; the first column is 1.

    Examples
    --------
    >>> coefficients_from_roots([[1.0, 2.0]])
    array([[ 1., -3.,  2.]])
    """
    z = _coeffs(roots, "roots", min_len=1)
    c = np.zeros((z.shape[0], z.shape[1] + 1))
    c[:, 0] = 1.0
    for i in range(z.shape[1]):  # multiply by (x - z_i): c[k] -= z_i c[k - 1]
        c[:, 1 : i + 2] -= z[:, i : i + 1] * c[:, : i + 1]
    return c


def random_roots(n, degree, seed=0):
    """Roots i.i.d. uniform on [-1, 1], sorted ascending (the hard task's planted truth).

    Returns
    -------
    ndarray of shape (n, degree)
        Pass it to :func:`coefficients_from_roots` for the monic coefficients.

    Examples
    --------
    >>> z = random_roots(3, 5, seed=0)
    >>> bool(np.all(np.diff(z, axis=1) >= 0))
    True
    """
    n, degree = as_int(n, "n", minimum=1), as_int(degree, "degree", minimum=1)
    return np.sort(_rng(seed).uniform(-1.0, 1.0, size=(n, degree)), axis=1)


def _points(x0, n, name="x0"):
    x = np.asarray(x0, dtype=np.float64)
    if x.ndim == 0:
        x = np.full(n, float(x))
    if x.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},), got {np.shape(x0)}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must contain only finite values")
    return x


def synthetic_division(coeffs, x0):
    """Divide by ``x - x0`` (Horner's scheme): ``p(x) = (x - x0) q(x) + p(x0)``.

    ``b_0 = a_0``, ``b_k = a_k + x0 b_{k-1}`` for coefficients ``a`` highest degree
    first; ``b_0 .. b_{d-1}`` are the quotient's coefficients and ``b_d = p(x0)``.

    Parameters
    ----------
    coeffs : array_like of shape (n, d + 1) or (d + 1,)
    x0 : float or array_like of shape (n,)

    Returns
    -------
    quotient : ndarray of shape (n, d)
    remainder : ndarray of shape (n,)
        ``p(x0)``.

    Examples
    --------
    >>> q, r = synthetic_division([1.0, -3.0, 2.0], 1.0)  # x^2 - 3x + 2 = (x - 1)(x - 2)
    >>> q, r
    (array([[ 1., -2.]]), array([0.]))
    """
    a = _coeffs(coeffs)
    x = _points(x0, a.shape[0])
    b = np.empty_like(a)
    b[:, 0] = a[:, 0]
    for k in range(1, a.shape[1]):
        b[:, k] = a[:, k] + x * b[:, k - 1]
    return b[:, :-1], b[:, -1].copy()


def horner_targets(coeffs, x0):
    """The running values of the two Horner passes: the easy task's targets, step by step.

    At step ``k`` (after reading ``a_0 .. a_k``) channel 0 is ``b_k`` of
    :func:`synthetic_division` and channel 1 is ``c_{k-1}``, the running Horner value of
    the quotient (``c_{-1} = 0``). At the last step ``k = d`` they are ``p(x0)`` and
    ``p'(x0)``; channel 0 at steps ``0 .. d-1`` is the quotient.

    Returns
    -------
    ndarray of shape (n, d + 1, 2)

    Examples
    --------
    >>> t = horner_targets([1.0, 0.0, -1.0], 2.0)  # p = x^2 - 1: p(2) = 3, p'(2) = 4
    >>> t[0, -1]
    array([3., 4.])
    """
    a = _coeffs(coeffs)
    x = _points(x0, a.shape[0])
    q, r = synthetic_division(a, x)
    b = np.concatenate([q, r[:, None]], axis=1)
    c = np.zeros_like(b)
    for k in range(1, b.shape[1]):
        c[:, k] = b[:, k - 1] + x * c[:, k - 1]
    return np.stack([b, c], axis=-1)


def smallest_roots(coeffs, k=3):
    """The ``k`` smallest real parts of ``numpy.roots`` (companion-matrix eigenvalues), ascending.

    For polynomials whose roots are all real the real parts are the roots; a cluster of
    nearly equal roots can come back as a complex pair with a tiny imaginary part, which
    this drops.

    Returns
    -------
    ndarray of shape (n, k)

    Examples
    --------
    >>> smallest_roots(coefficients_from_roots([[0.5, -0.25, 0.0]]), k=2)
    array([[-0.25,  0.  ]])
    """
    a = _coeffs(coeffs)
    k = as_int(k, "k", minimum=1)
    if k > a.shape[1] - 1:
        raise ValueError(f"k must be at most the degree {a.shape[1] - 1}, got {k}")
    out = np.empty((a.shape[0], k))
    for i, row in enumerate(a):
        out[i] = np.sort(np.roots(row).real)[:k]
    return out


def r2_score(y, y_pred):
    """Coefficient of determination per column: ``1 - sum (y - y_pred)^2 / sum (y - mean y)^2``.

    1 for a perfect predictor, 0 for the constant prediction ``mean(y)``, negative for
    a predictor worse than that constant.

    Parameters
    ----------
    y, y_pred : array_like of shape (n,) or (n, m), n >= 2

    Returns
    -------
    float or ndarray of shape (m,)

    Examples
    --------
    >>> y = np.array([0.0, 1.0, 2.0])
    >>> r2_score(y, y), r2_score(y, np.full(3, y.mean()))
    (1.0, 0.0)
    """
    y, p = np.asarray(y, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if y.shape != p.shape:
        raise ValueError(f"y_pred must have the shape of y {y.shape}, got {p.shape}")
    if y.ndim not in (1, 2) or y.shape[0] < 2:
        raise ValueError(f"y must have shape (n,) or (n, m) with n >= 2, got {y.shape}")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(p))):
        raise ValueError("y and y_pred must contain only finite values")
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    if np.any(ss_tot == 0):
        raise ValueError("y is constant (in some column): R² is undefined")
    r2 = 1.0 - ((y - p) ** 2).sum(axis=0) / ss_tot
    return float(r2) if y.ndim == 1 else r2


def root_condition(coeffs, roots):
    """Absolute displacement of each root per unit relative perturbation of the coefficients.

    For ``p(x) = sum_k a_k x^(d-k)`` and a perturbation ``a_k -> a_k (1 + delta_k)``
    with ``|delta_k| <= eps``, a simple root ``z`` moves to first order by
    ``-sum_k delta_k a_k z^(d-k) / p'(z)``, at most ``eps * kappa(z)`` with
    ``kappa(z) = sum_k |a_k| |z|^(d-k) / |p'(z)|``, attained by ``delta_k = eps * sign(a_k z^(d-k))``.

    Parameters
    ----------
    coeffs : array_like of shape (n, d + 1)
    roots : array_like of shape (n, m)
        Roots of each row (any ``m`` of them).

    Returns
    -------
    ndarray of shape (n, m)

    Examples
    --------
    >>> root_condition([[1.0, -1.0]], [[1.0]])  # x - 1: |1| + |-1| over |p'| = 1
    array([[2.]])
    """
    a = _coeffs(coeffs)
    z = _coeffs(roots, "roots", min_len=1)
    if z.shape[0] != a.shape[0]:
        raise ValueError(f"roots must have {a.shape[0]} rows like coeffs, got shape {z.shape}")
    d = a.shape[1] - 1
    powers = np.abs(z)[..., None] ** np.arange(d, -1, -1)  # (n, m, d + 1)
    num = (np.abs(a)[:, None, :] * powers).sum(-1)
    da = a[:, :-1] * np.arange(d, 0, -1)  # p' coefficients
    dp = np.stack([np.polyval(da[i], z[i]) for i in range(a.shape[0])])
    return num / np.abs(dp)


# ----------------------------------------------------------------------------- models


class HornerLSTM(nn.Module):
    """The easy tasks: reads ``(a_k, x0)`` step by step, outputs two channels per step.

    Trained on :func:`horner_targets`, its last step predicts ``p(x0)`` and ``p'(x0)``
    and its channel 0 at the other steps the quotient of the division by ``x - x0``.

    Examples
    --------
    >>> m = HornerLSTM(hidden=8, seed=0)
    >>> m(torch.zeros(3, 6), torch.zeros(3)).shape
    torch.Size([3, 6, 2])
    """

    def __init__(self, hidden=32, layers=1, seed=0):
        super().__init__()
        hidden, layers = as_int(hidden, "hidden", minimum=1), as_int(layers, "layers", minimum=1)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.lstm = nn.LSTM(2, hidden, layers, batch_first=True)
            self.head = nn.Linear(hidden, 2)

    def forward(self, coeffs, x0):
        x = torch.stack([coeffs, x0[:, None].expand_as(coeffs)], dim=-1)
        return self.head(self.lstm(x)[0])


class EncoderDecoder(nn.Module):
    """The plain sequence-to-sequence model: encode the coefficients, decode ``k`` roots.

    The encoder LSTM reads the coefficients; the decoder LSTM starts from its final
    state and, fed its own previous output, emits the ``k`` smallest roots in order.

    Examples
    --------
    >>> EncoderDecoder(hidden=8, seed=0)(torch.zeros(4, 7)).shape
    torch.Size([4, 3])
    """

    def __init__(self, hidden=32, layers=1, k=3, seed=0):
        super().__init__()
        hidden, layers = as_int(hidden, "hidden", minimum=1), as_int(layers, "layers", minimum=1)
        self.k = as_int(k, "k", minimum=1)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.encoder = nn.LSTM(1, hidden, layers, batch_first=True)
            self.decoder = nn.LSTM(1, hidden, layers, batch_first=True)
            self.head = nn.Linear(hidden, 1)

    def forward(self, coeffs):
        _, state = self.encoder(coeffs[..., None])
        prev, out = coeffs.new_zeros(coeffs.shape[0], 1, 1), []
        for _ in range(self.k):
            h, state = self.decoder(prev, state)
            prev = self.head(h)
            out.append(prev[:, 0, 0])
        return torch.stack(out, dim=1)


class RecursiveRootModel(nn.Module):
    """The recursive model: LSTM1 predicts the smallest root, LSTM2 divides it out, repeat.

    Step ``j`` (from 0): LSTM1 (shared by all steps) reads the current coefficients and
    predicts their smallest root ``z_j``; LSTM2 (shared) reads ``(a_i, z_j)`` step by
    step and outputs the ``d - j`` coefficients of the quotient (of degree
    ``d - j - 1``) by ``x - z_j``, which the next step reads. Each step uses its own
    predicted root, as the project's slides describe. With ``exact_division=True`` LSTM2 is replaced by
    :func:`synthetic_division` (a reference, and the test of the recursion).

    Examples
    --------
    >>> m = RecursiveRootModel(hidden=8, seed=0)
    >>> m(torch.zeros(4, 7)).shape
    torch.Size([4, 3])
    >>> a = torch.tensor([[1.0, -3.0, 2.0]], dtype=torch.float64)
    >>> m.divide(a, torch.tensor([1.0], dtype=torch.float64), exact=True)
    tensor([[ 1., -2.]], dtype=torch.float64)
    """

    def __init__(self, hidden=32, layers=1, k=3, seed=0, exact_division=False):
        super().__init__()
        hidden, layers = as_int(hidden, "hidden", minimum=1), as_int(layers, "layers", minimum=1)
        self.k, self.exact_division = as_int(k, "k", minimum=1), bool(exact_division)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.root_lstm = nn.LSTM(1, hidden, layers, batch_first=True)
            self.root_head = nn.Linear(hidden, 1)
            self.div_lstm = nn.LSTM(2, hidden, layers, batch_first=True)
            self.div_head = nn.Linear(hidden, 1)

    def root(self, coeffs):
        """LSTM1: the predicted smallest root of each row, shape ``(n,)``."""
        h = self.root_lstm(coeffs[..., None])[0]
        return self.root_head(h[:, -1])[:, 0]

    def divide(self, coeffs, z, exact=None):
        """LSTM2 (or exact synthetic division): the quotient by ``x - z``, shape ``(n, d)``."""
        if exact if exact is not None else self.exact_division:
            b = [coeffs[:, 0]]
            for i in range(1, coeffs.shape[1] - 1):
                b.append(coeffs[:, i] + z * b[-1])
            return torch.stack(b, dim=1)
        x = torch.stack([coeffs, z[:, None].expand_as(coeffs)], dim=-1)
        return self.div_head(self.div_lstm(x)[0])[:, :-1, 0]

    def forward(self, coeffs):
        out, a = [], coeffs
        for j in range(self.k):
            z = self.root(a)
            out.append(z)
            if j + 1 < self.k:
                a = self.divide(a, z)
        return torch.stack(out, dim=1)


# ----------------------------------------------------------------------------- training


@dataclass
class TrainingRun:
    """The result of :func:`train_horner` or :func:`train_roots`.

    Attributes
    ----------
    model : torch.nn.Module
        The trained model (float32, CPU).
    losses : ndarray of shape (steps,)
        The training loss of each minibatch.
    seconds : float
        Wall-clock training time.
    settings : dict
        The arguments of the run.
    cpu_seconds : float
        CPU time of the training process (one torch thread on the CPU): what the run
        takes on a quiet machine.
    """

    model: nn.Module
    losses: np.ndarray
    seconds: float
    settings: dict = field(default_factory=dict)
    cpu_seconds: float = float("nan")


def _device(device):
    try:
        dev = torch.device(device)
    except (TypeError, RuntimeError) as exc:
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}") from exc
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch sees no CUDA device")
    return dev


def _degrees(degrees):
    try:
        degs = [as_int(d, "degrees", minimum=3) for d in degrees]
    except TypeError as exc:
        raise TypeError(f"degrees must be a sequence of ints, got {degrees!r}") from exc
    if not degs:
        raise ValueError("degrees must not be empty")
    return degs


def _train(model, batch, steps, lr, seed, weights_fn, device):
    steps = as_int(steps, "steps", minimum=1)
    dev = _device(device)
    if not (isinstance(lr, numbers.Real) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    rng = _rng([seed, 1] if not isinstance(seed, np.random.Generator) else seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # results do not depend on the machine's thread count
    try:
        model.to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        losses, t0, c0 = np.empty(steps), time.perf_counter(), time.process_time()
        for s in range(steps):
            inputs, target = batch(rng)
            inputs, target = tuple(x.to(dev) for x in inputs), target.to(dev)
            loss = weights_fn(model(*inputs), target)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            losses[s] = loss.item()
        model.to("cpu")
        return losses, time.perf_counter() - t0, time.process_time() - c0
    finally:
        torch.set_num_threads(threads)


def train_horner(hidden=32, *, steps, batch_size=128, lr=3e-3, degrees=range(5, 16), seed=0,
                 device="cpu"):
    """Train a :class:`HornerLSTM` on the easy tasks with fresh random polynomials.

    Each minibatch draws one degree from ``degrees``, ``batch_size`` polynomials of
    :func:`random_polynomials` and points ``x0`` uniform on [-1, 1]; the loss is the
    mean squared error over both channels of every step of :func:`horner_targets`.
    Adam with a cosine-decayed step, gradients clipped at norm 1, one torch thread.
    ``device="cuda"`` trains on the GPU (the minibatches are drawn on the CPU and
    moved); the returned model is on the CPU either way.

    Examples
    --------
    >>> run = train_horner(8, steps=3, batch_size=4, seed=0)
    >>> run.losses.shape
    (3,)
    """
    degs = _degrees(degrees)
    batch_size = as_int(batch_size, "batch_size", minimum=1)
    model = HornerLSTM(hidden, seed=seed)

    def batch(rng):
        d = degs[rng.integers(len(degs))]
        a = random_polynomials(batch_size, d, rng)
        x0 = rng.uniform(-1.0, 1.0, batch_size)
        t = horner_targets(a, x0)
        f = torch.float32
        return (torch.tensor(a, dtype=f), torch.tensor(x0, dtype=f)), torch.tensor(t, dtype=f)

    losses, secs, cpu = _train(
        model, batch, steps, lr, seed, lambda p, t: ((p - t) ** 2).mean(), device
    )
    settings = dict(hidden=hidden, steps=steps, batch_size=batch_size, lr=lr, degrees=degs,
                    device=str(device))
    return TrainingRun(model, losses, secs, settings, cpu)


def train_roots(kind, hidden=32, *, steps, batch_size=128, lr=3e-3, degrees=range(5, 16),
                k=3, seed=0, device="cpu"):
    """Train a root model on the hard task with fresh random polynomials.

    Each minibatch draws one degree from ``degrees`` and ``batch_size`` polynomials with
    roots :func:`random_roots`; the targets are the ``k`` smallest roots and the loss is
    ``sum_j w_j mean (z_j - zhat_j)^2`` with ``w = 1, 1/2, 1/3, ...``
    (``ROOT_WEIGHTS`` for ``k = 3``). Adam with a cosine-decayed step, gradients
    clipped at norm 1, one torch thread.

    Parameters
    ----------
    kind : {"recursive", "plain"}
        :class:`RecursiveRootModel` or :class:`EncoderDecoder`.
    device : {"cpu", "cuda"}, default "cpu"
        Where the model and the minibatches live during training; the returned model is
        on the CPU.

    Examples
    --------
    >>> run = train_roots("recursive", 8, steps=2, batch_size=4, seed=0)
    >>> float(run.losses[0]) > 0
    True
    """
    if kind not in ("recursive", "plain"):
        raise ValueError(f"kind must be 'recursive' or 'plain', got {kind!r}")
    degs = _degrees(degrees)
    k = as_int(k, "k", minimum=1)
    if k > min(degs):
        raise ValueError(f"k must be at most the smallest degree {min(degs)}, got {k}")
    batch_size = as_int(batch_size, "batch_size", minimum=1)
    cls = RecursiveRootModel if kind == "recursive" else EncoderDecoder
    model = cls(hidden, k=k, seed=seed)
    w = torch.tensor([1.0 / (j + 1) for j in range(k)])

    def batch(rng):
        d = degs[rng.integers(len(degs))]
        z = random_roots(batch_size, d, rng)
        a = coefficients_from_roots(z)
        f = torch.float32
        return (torch.tensor(a, dtype=f),), torch.tensor(z[:, :k], dtype=f)

    losses, secs, cpu = _train(
        model, batch, steps, lr, seed,
        lambda p, t: (((p - t) ** 2).mean(0) * w.to(p.device)).sum(), device,
    )
    settings = dict(kind=kind, hidden=hidden, steps=steps, batch_size=batch_size, lr=lr,
                    degrees=degs, k=k, device=str(device))
    return TrainingRun(model, losses, secs, settings, cpu)


def _train_roots_job(job):
    kind, seed, hidden, kwargs = job
    return train_roots(kind, hidden, seed=seed, **kwargs)


def train_roots_many(jobs, hidden=32, *, steps, workers=1, device="cpu", **kwargs):
    """Train several root models, e.g. the seeds of both kinds, side by side.

    Each job ``(kind, seed)`` is one :func:`train_roots` call with the shared
    arguments. With ``workers > 1`` (CPU only) the jobs run in that many fresh
    processes, each with one torch thread, so the trained models are the same as
    with ``workers=1``, only sooner on a machine with that many idle cores. On
    ``device="cuda"`` the jobs run one after another in this process.

    Parameters
    ----------
    jobs : sequence of (str, int)
        ``(kind, seed)`` pairs; the runs come back in this order.
    workers : int, default 1
        Processes for the CPU; jobs are handed out in order as processes free up.

    Returns
    -------
    list of TrainingRun

    Examples
    --------
    >>> runs = train_roots_many([("plain", 0), ("recursive", 1)], 8, steps=2, batch_size=4)
    >>> [r.settings["kind"] for r in runs]
    ['plain', 'recursive']
    """
    workers = as_int(workers, "workers", minimum=1)
    dev = _device(device)
    try:
        jobs = [(str(kind), as_int(s, "seed"), hidden, dict(steps=steps, device=device, **kwargs))
                for kind, s in jobs]
    except (TypeError, ValueError) as exc:
        raise TypeError(f"jobs must be a sequence of (kind, seed) pairs, got {jobs!r}") from exc
    if workers == 1 or dev.type == "cuda" or len(jobs) < 2:
        return [_train_roots_job(j) for j in jobs]
    ctx = multiprocessing.get_context("spawn")  # no torch or OpenMP state is inherited
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=ctx) as pool:
        return list(pool.map(_train_roots_job, jobs))


def predict(model, *inputs, chunk=1024):
    """Apply a trained model to numpy inputs (no gradients, one torch thread); numpy out.

    Examples
    --------
    >>> m = RecursiveRootModel(hidden=8, seed=0)
    >>> predict(m, np.zeros((5, 7))).shape
    (5, 3)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    dev = next(model.parameters()).device
    arrays = [np.asarray(x, dtype=np.float32) for x in inputs]
    n = arrays[0].shape[0]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            out = [
                model(*(torch.from_numpy(np.ascontiguousarray(x[i : i + chunk])).to(dev)
                        for x in arrays)).cpu()
                for i in range(0, n, chunk)
            ]
    finally:
        torch.set_num_threads(threads)
    return torch.cat(out).numpy().astype(np.float64)
