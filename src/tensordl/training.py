"""Many one-hidden-layer ReLU networks trained at once, as one batched tensor computation.

Slides: "[Choromaska, Henaff, Mathieu, LeCun, Ben Arous,'14]", the network experiment
offered as evidence for the spin-glass picture (Choromanska et al., 2015, Table 1).
Used by ``notebooks/08_network_minima.md``; ``train_bias_free_mse`` (one bias-free deep
ReLU network on the squared loss) by ``notebooks/07_deep_networks_as_spin_glasses.md``;
``train_adam`` and ``per_net_loss`` by ``notebooks/01_networks_as_polynomials.md`` (the
network whose midpoint shows that a regularised loss is not convex).

``nets`` networks ``x -> W2 relu(W1 x + b1) + b2`` of one hidden size are stored as
stacked tensors with a leading network axis, ``W1`` of shape ``(nets, hidden, d)``
(a weight matrix maps layer k to layer k+1, as everywhere in the package), and each
step is a batched matrix product (``torch.bmm``/``matmul``). The networks never
interact: the loss that is differentiated is the sum of the networks' own losses, so
each network receives exactly the gradient it would receive alone. Network ``k``
draws its initialisation and, for minibatch SGD, its own minibatch order from
``numpy.random.default_rng([seed, k])``, so that training networks ``[2, 5]`` gives
the same numbers for them as training networks ``0..5`` together.

Two protocols:

- :func:`train_sgd` -- plain minibatch SGD with a constant step for a fixed number of
  epochs, no weight decay (the protocol reported for the paper's experiment);
- :func:`train_adam` -- full-batch Adam with a cosine-decayed step and weight decay
  (the protocol of this book's first version of the experiment).

The loss is the cross-entropy (softmax of the 10 outputs), averaged over samples.
"""

import math
import numbers
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ._checks import as_int

__all__ = [
    "TrainingRun",
    "init_relu_nets",
    "per_net_loss",
    "per_sample_loss",
    "train_sgd",
    "train_adam",
    "concat_runs",
    "gradient_norm",
    "hessian",
    "gauss_newton",
    "negative_eigenvalue_bound",
    "training_flops",
    "train_bias_free_mse",
]

PARAM_NAMES = ("W1", "b1", "W2", "b2")
_CHUNK = 512  # samples per chunk when a whole data set is evaluated
# On the CPU, the gradients are computed for groups of networks whose hidden activations
# (networks x samples x hidden units) hold at most this many entries, so that they stay in
# cache (the Performance page times it against a loop of torch.nn models). A group holds at
# least two networks (torch multiplies a batch of one by another routine, whose last bit can
# differ). In float64 grouping leaves every number unchanged to the last bit (tested). In
# float32 torch's batched product can round a last bit differently for another count of
# matrices: a test measured 1e-7 relative on tiny networks, and at the book's sizes every
# number was unchanged. The start and end training losses come from the grouped gradient
# passes; in float32 they can differ in the last bit (a referee measured 8e-8 relative in 9
# of 40 shapes) from per_net_loss and from the losses at the other checkpoints, which, like
# every evaluation set's, are computed ungrouped: grouped, their float32 last bits changed
# between one process and two workers at the book's sizes.
_CACHE_ENTRIES = 2**20


@dataclass
class TrainingRun:
    """The result of :func:`train_sgd` or :func:`train_adam`.

    Attributes
    ----------
    params : dict of str to torch.Tensor
        ``W1`` ``(nets, hidden, d)``, ``b1`` ``(nets, hidden)``, ``W2`` ``(nets, k, hidden)``,
        ``b2`` ``(nets, k)``, on the training device, detached.
    nets : ndarray of shape (nets,)
        The network numbers (each seeds its network).
    checkpoints : ndarray of shape (c,)
        Epochs (SGD) or steps (Adam) at which the losses were recorded; 0 is the start.
    losses : dict of str to ndarray of shape (c, nets)
        Mean cross-entropy of every network at every checkpoint, on ``"train"`` and on
        each named evaluation set.
    grad_norm_init, grad_norm : ndarray of shape (nets,)
        Euclidean norm of the full-batch gradient of the training objective (train loss,
        plus the weight decay term where there is one) at the start and at the end.
    seconds : float
        Wall time of the training loop (checkpoint evaluations included).
    flops : float
        Floating-point operations of the matrix products of the training loop and of the
        checkpoint evaluations (:func:`training_flops`).
    """

    params: dict
    nets: np.ndarray
    checkpoints: np.ndarray
    losses: dict = field(default_factory=dict)
    grad_norm_init: np.ndarray = None
    grad_norm: np.ndarray = None
    seconds: float = 0.0
    flops: float = 0.0


def _net_ids(nets):
    if isinstance(nets, numbers.Integral) and not isinstance(nets, bool):
        return np.arange(as_int(nets, "nets", minimum=1))
    try:
        ids = [as_int(k, "nets", minimum=0) for k in nets]
    except TypeError as exc:
        raise TypeError("nets must be an int or a sequence of non-negative ints") from exc
    if not ids:
        raise ValueError("nets must name at least one network")
    return np.asarray(ids, dtype=np.int64)


def _dtype(dtype):
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
    return dtype


def _data(X, y, name, n_classes, dtype, device):
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"{name}: X must be a numeric 2-D array (samples, features), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name}: X must contain only finite values")
    if y.shape != (X.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name}: y must be integer class labels of shape ({X.shape[0]},), got {y.dtype} {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{name}: y must hold labels in [0, {n_classes}), got [{y.min()}, {y.max()}]")
    return (torch.as_tensor(X, dtype=dtype, device=device),
            torch.as_tensor(y, dtype=torch.int64, device=device))


def _positive(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive and finite, got {value}")
    return float(value)


def init_relu_nets(d, hidden, n_classes, nets, seed=0, dtype=torch.float32, device=None):
    """He-initialised one-hidden-layer ReLU networks, stacked along a leading network axis.

    Network ``k`` draws ``W1 ~ N(0, 2/d)`` and then ``W2 ~ N(0, 1/hidden)`` from
    ``numpy.random.default_rng([seed, k])``; the biases start at zero.

    Parameters
    ----------
    d, hidden, n_classes : int
        Input dimension, hidden units, outputs.
    nets : int or sequence of int
        How many networks (numbered ``0 .. nets-1``), or the numbers of the networks.
    seed : int, default=0
    dtype : torch.float32 or torch.float64, default=torch.float32
    device : str or torch.device or None, default=None
        ``None`` is the CPU.

    Returns
    -------
    params : dict of str to torch.Tensor
        ``W1`` ``(nets, hidden, d)``, ``b1`` ``(nets, hidden)``, ``W2`` ``(nets, n_classes, hidden)``,
        ``b2`` ``(nets, n_classes)``.
    rngs : list of numpy.random.Generator
        One per network, advanced past its initialisation (SGD draws its minibatch
        orders from them).

    Examples
    --------
    >>> p, _ = init_relu_nets(64, 25, 10, nets=3)
    >>> tuple(p["W1"].shape), tuple(p["W2"].shape)
    ((3, 25, 64), (3, 10, 25))
    """
    d = as_int(d, "d", minimum=1)
    hidden = as_int(hidden, "hidden", minimum=1)
    n_classes = as_int(n_classes, "n_classes", minimum=2)
    ids = _net_ids(nets)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    dtype = _dtype(dtype)
    rngs = [np.random.default_rng([int(seed), int(k)]) for k in ids]
    W1, W2 = [], []
    for g in rngs:
        W1.append(g.standard_normal((hidden, d)) * math.sqrt(2 / d))
        W2.append(g.standard_normal((n_classes, hidden)) * math.sqrt(1 / hidden))
    n = len(ids)
    params = {
        "W1": torch.as_tensor(np.stack(W1), dtype=dtype, device=device),
        "b1": torch.zeros((n, hidden), dtype=dtype, device=device),
        "W2": torch.as_tensor(np.stack(W2), dtype=dtype, device=device),
        "b2": torch.zeros((n, n_classes), dtype=dtype, device=device),
    }
    return params, rngs


def _net_groups(p, rows):
    """Slices of the networks of ``p`` for activations of ``rows`` samples (``_CACHE_ENTRIES``)."""
    n, h = p["W1"].shape[:2]
    if not _on_cpu(p["W1"].device):
        return [slice(0, n)]
    per = max(2, _CACHE_ENTRIES // max(1, rows * h))
    parts = max(1, min(n // 2, -(-n // per)))
    bounds = np.linspace(0, n, parts + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def _group(p, X, y, s):
    """The networks ``s`` of ``p`` with their inputs and labels (shared or one set per network)."""
    return ({k: v[s] for k, v in p.items()}, X[s] if X.ndim == 3 else X, y[s] if y.ndim == 2 else y)


def _logits(params, X):
    """Logits ``(nets, m, k)``; ``X`` is ``(m, d)`` (shared) or ``(nets, m, d)``."""
    W1, b1, W2, b2 = (params[k] for k in PARAM_NAMES)
    hid = torch.relu(torch.matmul(X, W1.transpose(1, 2)) + b1[:, None, :])
    return torch.baddbmm(b2[:, None, :], hid, W2.transpose(1, 2))


def _ce(params, X, y):
    """Per-network mean cross-entropy; ``y`` is ``(m,)`` or ``(nets, m)``."""
    logits = _logits(params, X)
    n = logits.shape[0]
    y = y.expand(n, -1) if y.ndim == 1 else y
    return torch.nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="none").mean(dim=1)


def per_net_loss(params, X, y):
    """Mean cross-entropy of every network on the samples ``(X, y)``, in chunks of samples.

    Parameters
    ----------
    params : dict of str to torch.Tensor
        As returned by :func:`init_relu_nets` or in :attr:`TrainingRun.params`.
    X : ndarray of shape (m, d)
    y : ndarray of shape (m,)
        Integer class labels.

    Returns
    -------
    ndarray of shape (nets,)

    Examples
    --------
    >>> p, _ = init_relu_nets(4, 3, 2, nets=2, dtype=torch.float64)
    >>> per_net_loss(p, np.zeros((5, 4)), np.zeros(5, dtype=int))  # zero input: logits 0
    array([0.69314718, 0.69314718])
    """
    p = _check_params(params)
    Xt, yt = _data(X, y, "per_net_loss", p["W2"].shape[1], p["W1"].dtype, p["W1"].device)
    with torch.no_grad():
        return _loss_chunked(p, Xt, yt).double().cpu().numpy()


def per_sample_loss(params, X, y):
    """Cross-entropy of every network on every sample, in chunks of samples.

    The mean over the samples (axis 1) is :func:`per_net_loss`. A chapter uses the
    per-sample losses to split a data set into halves and measure how reliably its mean
    loss ranks the networks.

    Parameters
    ----------
    params : dict of str to torch.Tensor
        As returned by :func:`init_relu_nets` or in :attr:`TrainingRun.params`.
    X : ndarray of shape (m, d)
    y : ndarray of shape (m,)
        Integer class labels.

    Returns
    -------
    ndarray of shape (nets, m)

    Examples
    --------
    >>> p, _ = init_relu_nets(4, 3, 2, nets=2, dtype=torch.float64)
    >>> per_sample_loss(p, np.zeros((3, 4)), np.zeros(3, dtype=int))  # logits 0
    array([[0.69314718, 0.69314718, 0.69314718],
           [0.69314718, 0.69314718, 0.69314718]])
    """
    p = _check_params(params)
    Xt, yt = _data(X, y, "per_sample_loss", p["W2"].shape[1], p["W1"].dtype, p["W1"].device)
    out = []
    with torch.no_grad():
        for i in range(0, len(Xt), _CHUNK):
            logits = _logits(p, Xt[i:i + _CHUNK])
            yb = yt[i:i + _CHUNK].expand(logits.shape[0], -1)
            ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), yb, reduction="none")
            out.append(ce.double().cpu())
    return torch.cat(out, dim=1).numpy()


def _loss_chunked(p, Xt, yt):
    total = torch.zeros(p["W1"].shape[0], dtype=torch.float64, device=Xt.device)
    for i in range(0, len(Xt), _CHUNK):
        xb, yb = Xt[i:i + _CHUNK], yt[i:i + _CHUNK]
        total += _ce(p, xb, yb).double() * len(xb)
    return total / len(Xt)


def _check_params(params):
    if not isinstance(params, dict) or set(params) != set(PARAM_NAMES):
        raise TypeError(f"params must be a dict with the keys {PARAM_NAMES}")
    if not all(isinstance(v, torch.Tensor) for v in params.values()):
        raise TypeError("params must hold torch tensors")
    return params


def _ce_grads(p, X, y):
    """Gradients of the sum over networks of each one's mean cross-entropy, by groups of networks.

    :func:`_ce_grads_group` on each group of :func:`_net_groups` (see ``_CACHE_ENTRIES``).
    """
    groups = _net_groups(p, X.shape[-2])
    if len(groups) == 1:
        return _ce_grads_group(p, X, y)
    first = _ce_grads_group(*_group(p, X, y, groups[0]))
    # laid out as the whole computation's results (W1's is transposed)
    out = {k: _empty_laid_out_like(g, p[k].shape) for k, g in first.items()}
    for k, g in first.items():
        out[k][groups[0]] = g
    for s in groups[1:]:
        for k, g in _ce_grads_group(*_group(p, X, y, s)).items():
            out[k][s] = g
    return out


def _empty_laid_out_like(t, shape):
    """An empty tensor of ``shape`` whose dimensions lie in memory in the order of ``t``'s."""
    order = sorted(range(t.ndim), key=lambda i: -t.stride(i))
    full = torch.empty([shape[i] for i in order], dtype=t.dtype, device=t.device)
    return full.permute([order.index(i) for i in range(t.ndim)])


def _ce_grads_group(p, X, y):
    """Gradients of the sum over networks of each one's mean cross-entropy on ``(X, y)``, by hand.

    The same numbers as autograd on :func:`_ce` up to rounding (tested), about 1.5 times
    faster: the bias is added and the ReLU applied in place, and the first layer's weight
    gradient is formed as ``X^T dA`` (the faster matrix layout). ``X`` is ``(m, d)`` (shared)
    or ``(nets, m, d)``; ``y`` is ``(m,)`` or ``(nets, m)``.
    """
    W1, b1, W2, b2 = (p[k].detach() for k in PARAM_NAMES)
    with torch.no_grad():
        Z = torch.matmul(X, W1.transpose(1, 2)).add_(b1[:, None, :])  # (nets, m, h)
        on = Z > 0
        A = Z.clamp_min_(0.0)
        dO = torch.softmax(torch.baddbmm(b2[:, None, :], A, W2.transpose(1, 2)), dim=2)  # (nets, m, k)
        y = y.expand(len(W1), -1) if y.ndim == 1 else y
        dO.scatter_add_(2, y[:, :, None], torch.full((*y.shape, 1), -1.0, dtype=dO.dtype, device=dO.device))
        dO.div_(dO.shape[1])  # mean over the samples: (softmax - one-hot) / m
        dA = torch.bmm(dO, W2).mul_(on)  # (nets, m, h)
        return {
            "W1": torch.matmul(X.transpose(-2, -1), dA).transpose(1, 2),
            "b1": dA.sum(1),
            "W2": torch.bmm(dO.transpose(1, 2), A),
            "b2": dO.sum(1),
        }


def _grad_norm(p, Xt, yt, weight_decay, with_loss=False):
    """Norm of the full-batch gradient of mean CE (+ weight_decay/2 |W|^2) per network.

    With ``with_loss``, also the mean CE of the same forward pass (float64 tensor), without
    a second pass: the numbers of :func:`_loss_chunked` in float64, and in float32 up to
    the last bit when the networks are split into groups (see ``_CACHE_ENTRIES``).
    """
    parts = [_grad_norm_group({k: v[s] for k, v in p.items()}, Xt, yt, weight_decay)
             for s in _net_groups(p, min(_CHUNK, len(Xt)))]
    norms = np.concatenate([n for n, _ in parts])
    return (norms, torch.cat([loss for _, loss in parts])) if with_loss else norms


def _grad_norm_group(p, Xt, yt, weight_decay):
    q = {k: v.detach().clone().requires_grad_() for k, v in p.items()}
    m = len(Xt)
    total = torch.zeros(p["W1"].shape[0], dtype=torch.float64, device=Xt.device)
    for i in range(0, m, _CHUNK):
        xb, yb = Xt[i:i + _CHUNK], yt[i:i + _CHUNK]
        ce = _ce(q, xb, yb)
        (ce * (len(xb) / m)).sum().backward()
        total += ce.detach().double() * len(xb)
    sq = 0
    for k in PARAM_NAMES:
        g = q[k].grad
        if weight_decay and k in ("W1", "W2"):
            g = g + weight_decay * q[k].detach()
        sq = sq + g.double().pow(2).flatten(1).sum(dim=1)
    return torch.sqrt(sq).cpu().numpy(), total / m


def gradient_norm(params, X, y, weight_decay=0.0):
    """Euclidean norm of each network's full-batch gradient of its training objective.

    The objective is the mean cross-entropy plus ``weight_decay / 2`` times the squared
    norm of the weight matrices (not the biases).

    Parameters
    ----------
    params : dict of str to torch.Tensor
    X : ndarray of shape (m, d)
    y : ndarray of shape (m,)
    weight_decay : float, default=0.0

    Returns
    -------
    ndarray of shape (nets,)

    Examples
    --------
    >>> p, _ = init_relu_nets(4, 3, 2, nets=2, dtype=torch.float64)
    >>> gradient_norm(p, np.zeros((5, 4)), np.array([0, 1, 0, 1, 0]))  # only b2 moves
    array([0.14142136, 0.14142136])
    """
    p = _check_params(params)
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, numbers.Real) or not weight_decay >= 0:
        raise ValueError(f"weight_decay must be a non-negative number, got {weight_decay!r}")
    Xt, yt = _data(X, y, "gradient_norm", p["W2"].shape[1], p["W1"].dtype, p["W1"].device)
    return _grad_norm(p, Xt, yt, float(weight_decay))


def training_flops(d, hidden, n_classes, nets, train_samples, epochs, eval_samples=0, evaluations=0):
    """Floating-point operations of the matrix products of a batched training run.

    Per sample and network, the forward pass costs ``2 (d h + h k)`` (a multiply-add is
    two operations) and the backward pass ``2 d h`` (weights of layer 1; no input
    gradient) plus ``4 h k`` (weights and input of layer 2): ``4 d h + 6 h k`` per
    sample seen in training. Each evaluation of a loss costs the forward pass on
    ``eval_samples`` samples. Element-wise work (ReLU, softmax, updates) is left out.

    Parameters
    ----------
    d, hidden, n_classes, nets : int
    train_samples : int
        Samples per epoch (SGD) or per step (full-batch Adam).
    epochs : int
        Epochs (SGD) or steps (Adam).
    eval_samples, evaluations : int, default=0
        Samples per evaluation and number of evaluations.

    Returns
    -------
    float

    Examples
    --------
    >>> training_flops(64, 25, 10, nets=1, train_samples=1, epochs=1)
    7900.0
    """
    d, h, k = (as_int(v, name, minimum=1) for v, name in ((d, "d"), (hidden, "hidden"), (n_classes, "n_classes")))
    nets = as_int(nets, "nets", minimum=1)
    per_train = 4 * d * h + 6 * h * k
    per_eval = 2 * (d * h + h * k)
    m, e = as_int(train_samples, "train_samples", minimum=0), as_int(epochs, "epochs", minimum=0)
    m_eval = as_int(eval_samples, "eval_samples", minimum=0)
    evals = as_int(evaluations, "evaluations", minimum=0)
    return float(nets * (per_train * m * e + per_eval * m_eval * evals))


def _eval_sets(eval_sets, n_classes, dtype, device):
    out = {}
    if eval_sets is None:
        return out
    if not isinstance(eval_sets, dict):
        raise TypeError("eval_sets must be a dict name -> (X, y)")
    for name, pair in eval_sets.items():
        if name == "train" or not isinstance(name, str):
            raise ValueError(f"eval_sets: names must be strings other than 'train', got {name!r}")
        out[name] = _data(*pair, f"eval_sets[{name!r}]", n_classes, dtype, device)
    return out


def _checkpoints(checkpoints, last, name):
    cps = sorted({as_int(c, name, minimum=0) for c in (checkpoints or ())} | {0, last})
    if cps[-1] > last:
        raise ValueError(f"{name} must lie in [0, {last}], got {cps[-1]}")
    return cps


def _record(run, p, Xt, yt, sets, train_loss=None):
    with torch.no_grad():
        train_loss = _loss_chunked(p, Xt, yt) if train_loss is None else train_loss
        run.losses["train"].append(train_loss.cpu().numpy())
        for name, (Xe, ye) in sets.items():
            run.losses[name].append(_loss_chunked(p, Xe, ye).cpu().numpy())


def _setup(X, y, hidden, nets, n_classes, seed, dtype, device, eval_sets):
    dtype = _dtype(dtype)
    Xt, yt = _data(X, y, "train", as_int(n_classes, "n_classes", minimum=2), dtype, device)
    p, rngs = init_relu_nets(Xt.shape[1], hidden, n_classes, nets, seed, dtype, device)
    sets = _eval_sets(eval_sets, n_classes, dtype, device)
    return Xt, yt, p, rngs, sets


def _start(run, p, Xt, yt, sets, weight_decay):
    """The gradient norm and the losses at the start (one pass over the training set for both)."""
    run.grad_norm_init, loss = _grad_norm(p, Xt, yt, weight_decay, with_loss=True)
    _record(run, p, Xt, yt, sets, loss)


def _finish(run, p, Xt, yt, sets, weight_decay, t0, flop_args):
    """The gradient norm and the losses at the end (always a checkpoint), the time and the FLOPs."""
    run.grad_norm, loss = _grad_norm(p, Xt, yt, weight_decay, with_loss=True)
    _record(run, p, Xt, yt, sets, loss)
    run.seconds = time.perf_counter() - t0
    run.params = {k: v.detach() for k, v in p.items()}
    run.checkpoints = np.asarray(run.checkpoints)
    run.losses = {k: np.stack(v) for k, v in run.losses.items()}
    d, h, k, n, m, e = flop_args
    evals = len(run.checkpoints)
    m_eval = m + sum(len(Xe) for Xe, _ in sets.values())
    # the two full-batch gradients: forward and backward over the training set; their forward
    # passes give the training loss at the start and the end
    run.flops = training_flops(d, h, k, n, m, e + 2, m_eval, evals) - training_flops(d, h, k, n, 0, 0, m, 2)
    return run


def _on_cpu(device):
    return device is None or torch.device(device).type == "cpu"


def _portable(run):
    """``run`` with its parameters as numpy arrays, to leave a worker process by pickle."""
    run.params = {k: v.cpu().numpy() for k, v in run.params.items()}
    return run


def concat_runs(runs):
    """One :class:`TrainingRun` of the networks of several runs of the same training, in order.

    The runs must share everything but the networks (sizes, checkpoints, data sets).
    ``seconds`` and ``flops`` are summed. Parameters given as numpy arrays (from a
    worker process) come back as tensors.

    Examples
    --------
    >>> g = np.random.default_rng(0)
    >>> X, y = g.standard_normal((30, 4)), g.integers(0, 3, 30)
    >>> kw = dict(hidden=5, epochs=3, batch_size=10, lr=0.1, n_classes=3)
    >>> whole = train_sgd(X, y, nets=4, **kw)
    >>> parts = concat_runs([train_sgd(X, y, nets=[0, 1], **kw), train_sgd(X, y, nets=[2, 3], **kw)])
    >>> all(torch.equal(whole.params[k], parts.params[k]) for k in PARAM_NAMES)
    True
    """
    runs = list(runs)
    if not runs or not all(isinstance(r, TrainingRun) for r in runs):
        raise TypeError("runs must be a non-empty sequence of TrainingRun")
    first = runs[0]
    if any(not np.array_equal(r.checkpoints, first.checkpoints) or r.losses.keys() != first.losses.keys()
           for r in runs):
        raise ValueError("runs must share their checkpoints and evaluation sets")
    return TrainingRun(
        params={k: torch.cat([torch.as_tensor(r.params[k]) for r in runs]) for k in PARAM_NAMES},
        nets=np.concatenate([r.nets for r in runs]),
        checkpoints=first.checkpoints,
        losses={k: np.concatenate([r.losses[k] for r in runs], axis=1) for k in first.losses},
        grad_norm_init=np.concatenate([r.grad_norm_init for r in runs]),
        grad_norm=np.concatenate([r.grad_norm for r in runs]),
        seconds=float(sum(r.seconds for r in runs)),
        flops=float(sum(r.flops for r in runs)),
    )


def _in_workers(train, nets, workers, device, **kwargs):
    """``train`` on the networks ``nets``, split into ``workers`` processes on the CPU."""
    workers = as_int(workers, "workers", minimum=1)
    ids = _net_ids(nets)
    # at least two networks a worker: torch multiplies a batch of one by another routine,
    # whose last bit can differ
    parts = min(workers, len(ids) // 2)
    if parts <= 1 or not _on_cpu(device):
        return train(nets=nets, device=device, **kwargs)
    from .parallel import pmap

    chunks = [c.tolist() for c in np.array_split(ids, parts)]
    return concat_runs(pmap(lambda c: _portable(train(nets=c, device=device, **kwargs)), chunks, workers=workers))


def train_sgd(X, y, hidden, nets, *, epochs, batch_size, lr, seed=0, n_classes=10,
              eval_sets=None, checkpoints=None, device=None, dtype=torch.float32, workers=1):
    """Train ``nets`` one-hidden-layer ReLU networks by minibatch SGD, all at once.

    Plain SGD (no momentum, no weight decay, constant step ``lr``) on the mean
    cross-entropy of each minibatch, for ``epochs`` passes over the training set.
    Network ``k`` reshuffles the training set every epoch with its own generator
    ``numpy.random.default_rng([seed, k])`` (after drawing its initialisation, see
    :func:`init_relu_nets`) and takes consecutive minibatches of ``batch_size``
    samples (the last one smaller when ``batch_size`` does not divide the samples).

    Parameters
    ----------
    X : ndarray of shape (m, d)
        Training inputs.
    y : ndarray of int of shape (m,)
        Training labels in ``[0, n_classes)``.
    hidden : int
        Hidden units.
    nets : int or sequence of int
        How many networks, or the numbers of the networks to train.
    epochs, batch_size : int
    lr : float
        Step size.
    seed : int, default=0
    n_classes : int, default=10
    eval_sets : dict of str to (ndarray, ndarray), optional
        Further data sets (e.g. ``{"test": (X_test, y_test)}``) whose losses are
        recorded at the checkpoints.
    checkpoints : sequence of int, optional
        Epochs after which the losses are recorded; the start (0) and the end are
        always recorded.
    device : str or torch.device or None, default=None
        ``None`` is the CPU.
    dtype : torch.float32 or torch.float64, default=torch.float32
    workers : int, default=1
        On the CPU, split the networks over at most this many worker processes
        (:func:`tensordl.parallel.pmap`, one thread each, at least two networks each) and
        join the runs with :func:`concat_runs`. The networks are independent: the tests
        and the book's full-run sizes (200 networks a size) give the same run to the last
        bit for any number of workers. Elsewhere the recorded losses can differ in their
        last bits from a run in one process (float32: a referee measured 7e-8 at 12
        networks of 25 units, with identical parameters), and
        one network alone can differ in the last bit (torch multiplies a batch of one by
        another routine). ``seconds`` is then summed over workers.

    Returns
    -------
    TrainingRun

    Examples
    --------
    >>> g = np.random.default_rng(0)
    >>> X, y = g.standard_normal((40, 5)), g.integers(0, 3, 40)
    >>> run = train_sgd(X, y, hidden=8, nets=4, epochs=20, batch_size=10, lr=0.1,
    ...                 n_classes=3, checkpoints=[10])
    >>> run.losses["train"].shape
    (3, 4)
    >>> bool((run.losses["train"][-1] < run.losses["train"][0]).all())
    True
    """
    epochs = as_int(epochs, "epochs", minimum=1)
    batch_size = as_int(batch_size, "batch_size", minimum=1)
    lr = _positive(lr, "lr")
    return _in_workers(_train_sgd, nets, workers, device, X=X, y=y, hidden=hidden, epochs=epochs,
                       batch_size=batch_size, lr=lr, seed=seed, n_classes=n_classes, eval_sets=eval_sets,
                       checkpoints=checkpoints, dtype=dtype)


def _train_sgd(X, y, hidden, nets, *, epochs, batch_size, lr, seed, n_classes, eval_sets, checkpoints,
               device, dtype):
    Xt, yt, p, rngs, sets = _setup(X, y, hidden, nets, n_classes, seed, dtype, device, eval_sets)
    m, n = len(Xt), len(rngs)
    cps = _checkpoints(checkpoints, epochs, "checkpoints")
    run = TrainingRun(params=p, nets=_net_ids(nets), checkpoints=cps,
                      losses={k: [] for k in ["train", *sets]})
    t0 = time.perf_counter()
    _start(run, p, Xt, yt, sets, 0.0)
    for epoch in range(1, epochs + 1):
        order = torch.as_tensor(np.stack([g.permutation(m) for g in rngs]), device=Xt.device)
        Xp, yp = Xt[order], yt[order]  # (nets, m, d), (nets, m): each net's own order
        for i in range(0, m, batch_size):
            grads = _ce_grads(p, Xp[:, i:i + batch_size], yp[:, i:i + batch_size])
            with torch.no_grad():
                for k in PARAM_NAMES:
                    p[k].sub_(lr * grads[k])
        if epoch in cps and epoch < epochs:
            _record(run, p, Xt, yt, sets)
    return _finish(run, p, Xt, yt, sets, 0.0, t0, (Xt.shape[1], hidden, n_classes, n, m, epochs))


def train_adam(X, y, hidden, nets, *, steps, lr=1e-2, weight_decay=1e-4, seed=0, n_classes=10,
               eval_sets=None, checkpoints=None, device=None, dtype=torch.float32, workers=1):
    """Train ``nets`` one-hidden-layer ReLU networks by full-batch Adam, all at once.

    ``steps`` full-batch steps of Adam (torch defaults, betas 0.9 and 0.999) on the mean
    cross-entropy plus ``weight_decay / 2`` times the squared norm of ``W1`` and ``W2``,
    with the step decayed from ``lr`` to 0 by a cosine schedule. Adam acts coordinate by
    coordinate, so the networks remain independent.

    Parameters
    ----------
    X : ndarray of shape (m, d)
    y : ndarray of int of shape (m,)
    hidden : int
    nets : int or sequence of int
    steps : int
    lr : float, default=1e-2
    weight_decay : float, default=1e-4
        Non-negative.
    seed, n_classes, eval_sets, device, dtype
        As in :func:`train_sgd`.
    checkpoints : sequence of int, optional
        Steps after which the losses are recorded (0 and ``steps`` always are).
    workers : int, default=1
        As in :func:`train_sgd`: Adam acts network by network, and the tests give the same
        run to the last bit for any number of workers; elsewhere, in float32, the
        parameters can differ in their last bits (a referee found it at 11 and 13 networks
        on 2 workers: torch rounds a batched product differently for another count of
        networks).

    Returns
    -------
    TrainingRun

    Examples
    --------
    >>> g = np.random.default_rng(0)
    >>> X, y = g.standard_normal((40, 5)), g.integers(0, 3, 40)
    >>> run = train_adam(X, y, hidden=8, nets=2, steps=100, n_classes=3)
    >>> bool((run.grad_norm < run.grad_norm_init).all())
    True
    """
    steps = as_int(steps, "steps", minimum=1)
    lr = _positive(lr, "lr")
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, numbers.Real) or not weight_decay >= 0:
        raise ValueError(f"weight_decay must be a non-negative number, got {weight_decay!r}")
    wd = float(weight_decay)
    return _in_workers(_train_adam, nets, workers, device, X=X, y=y, hidden=hidden, steps=steps, lr=lr,
                       wd=wd, seed=seed, n_classes=n_classes, eval_sets=eval_sets, checkpoints=checkpoints,
                       dtype=dtype)


def _train_adam(X, y, hidden, nets, *, steps, lr, wd, seed, n_classes, eval_sets, checkpoints, device, dtype):
    Xt, yt, p, rngs, sets = _setup(X, y, hidden, nets, n_classes, seed, dtype, device, eval_sets)
    m, n = len(Xt), len(rngs)
    cps = _checkpoints(checkpoints, steps, "checkpoints")
    run = TrainingRun(params=p, nets=_net_ids(nets), checkpoints=cps,
                      losses={k: [] for k in ["train", *sets]})
    t0 = time.perf_counter()
    _start(run, p, Xt, yt, sets, wd)
    params = [p[k].requires_grad_() for k in PARAM_NAMES]
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for step in range(1, steps + 1):
        grads = _ce_grads(p, Xt, yt)
        for k in PARAM_NAMES:  # plus the weight decay's gradient wd * W on the weights
            p[k].grad = grads[k] + wd * p[k].detach() if wd and k in ("W1", "W2") else grads[k]
        opt.step()
        sched.step()
        if step in cps and step < steps:
            _record(run, p, Xt, yt, sets)
    return _finish(run, p, Xt, yt, sets, wd, t0, (Xt.shape[1], hidden, n_classes, n, m, steps))


def hessian(params, net, X, y, weight_decay=0.0):
    """The exact Hessian of one network's training objective, in float64.

    The objective is the mean cross-entropy on ``(X, y)`` plus ``weight_decay / 2``
    times the squared norm of the weight matrices, as a function of the network's
    parameters flattened in the order ``W1, b1, W2, b2`` (row-major). Computed in
    closed form: the Gauss-Newton term ``mean_n J_n^T (diag(p_n) - p_n p_n^T) J_n``
    block by block (``J_n`` the Jacobian of the logits, never formed whole) plus the
    residual term, whose only non-zero blocks pair ``W2[:, j]`` with ``(W1[j], b1[j])``
    (see :func:`negative_eigenvalue_bound`); the ReLU contributes no second
    derivative (it is piecewise linear), so the Hessian is that of the current
    activation pattern. The tests check it against ``torch.autograd.functional.hessian``
    and finite differences of the gradient; for 25 hidden units on 1200 digits it took
    0.6 s against autograd's 15 s (one thread, on a busy 2-core machine).

    Parameters
    ----------
    params : dict of str to torch.Tensor
        Stacked networks (:attr:`TrainingRun.params`).
    net : int
        Position of the network along the network axis.
    X : ndarray of shape (m, d)
    y : ndarray of shape (m,)
    weight_decay : float, default=0.0

    Returns
    -------
    ndarray of shape (P, P)
        ``P = h d + h + k h + k`` parameters.

    Examples
    --------
    >>> p, _ = init_relu_nets(3, 2, 2, nets=1)
    >>> H = hessian(p, 0, np.ones((4, 3)), np.array([0, 1, 1, 0]))
    >>> H.shape, bool(np.allclose(H, H.T))
    ((14, 14), True)
    """
    p = _check_params(params)
    n = p["W1"].shape[0]
    net = as_int(net, "net", minimum=0)
    if net >= n:
        raise ValueError(f"net must be below the number of networks {n}, got {net}")
    wd = float(weight_decay)
    W1, b1, W2, b2 = (p[k][net].detach().to(dtype=torch.float64, device="cpu").numpy() for k in PARAM_NAMES)
    Xt, yt = _data(X, y, "hessian", W2.shape[0], torch.float64, "cpu")
    X, y = Xt.numpy(), yt.numpy()
    m, d = X.shape
    k, h = W2.shape
    z = X @ W1.T + b1
    on = (z > 0).astype(np.float64)  # (m, h): the activation pattern
    xt = np.hstack([X, np.ones((m, 1))])  # inputs with a 1 for the bias b1
    at = np.hstack([z * on, np.ones((m, 1))])  # hidden units with a 1 for the bias b2
    logits = at[:, :h] @ W2.T + b2
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    S = prob[:, :, None] * np.eye(k) - prob[:, :, None] * prob[:, None, :]  # (m, k, k)
    # blocks in the merged order [(W1 | b1) row by row, (W2 | b2) row by row]
    U = np.matmul(W2.T, S) * on[:, :, None]  # (m, h, k): W2^T S_n, masked
    T = np.matmul(U, W2) * on[:, None, :]  # (m, h, h)
    # each block a sum over samples, done as one matrix product
    G11 = T.reshape(m, h * h).T @ (xt[:, :, None] * xt[:, None, :]).reshape(m, -1) / m
    G11 = G11.reshape(h, h, d + 1, d + 1).transpose(0, 2, 1, 3).reshape(h * (d + 1), h * (d + 1))
    G12 = xt.T @ (U[:, :, :, None] * at[:, None, None, :]).reshape(m, -1) / m  # (i, j c l)
    G12 = G12.reshape(d + 1, h, k, h + 1).transpose(1, 0, 2, 3).reshape(h * (d + 1), k * (h + 1))
    G22 = S.reshape(m, k * k).T @ (at[:, :, None] * at[:, None, :]).reshape(m, -1) / m
    G22 = G22.reshape(k, k, h + 1, h + 1).transpose(0, 2, 1, 3).reshape(k * (h + 1), k * (h + 1))
    # the residual term: d^2 logit_c / dW2[c, j] d(W1 | b1)[j, i] = on_nj xt_ni
    r = prob - np.eye(k)[y]
    Rj = ((on[:, :, None] * r[:, None, :]).reshape(m, h * k).T @ xt / m).reshape(h, k, d + 1)
    R = np.zeros((h, d + 1, k, h + 1))
    R[np.arange(h), :, :, np.arange(h)] = Rj.transpose(0, 2, 1)
    R = R.reshape(h * (d + 1), k * (h + 1))
    merged = np.block([[G11, G12 + R], [(G12 + R).T, G22]])
    # merged index -> position in the flat (W1, b1, W2, b2) order
    j, i = np.divmod(np.arange(h * (d + 1)), d + 1)
    first = np.where(i < d, j * d + i, h * d + j)
    c, jj = np.divmod(np.arange(k * (h + 1)), h + 1)
    second = h * d + h + np.where(jj < h, c * h + jj, k * h + c)
    order = np.concatenate([first, second])
    H = np.empty_like(merged)
    H[np.ix_(order, order)] = merged
    weights = np.concatenate([np.arange(h * d), h * d + h + np.arange(k * h)])
    H[weights, weights] += wd
    return H


def gauss_newton(params, net, X, y):
    """The Gauss-Newton term of one network's cross-entropy Hessian, in float64.

    ``G = mean_n J_n^T (diag(p_n) - p_n p_n^T) J_n``, with ``J_n`` the Jacobian of the
    logits of sample ``n`` with respect to the flattened parameters (order ``W1, b1,
    W2, b2``, as in :func:`hessian`) and ``p_n`` its softmax. ``G`` is positive
    semi-definite; :func:`hessian` minus ``G`` is the residual term, whose only non-zero
    blocks pair ``W2[:, j]`` with ``(W1[j], b1[j])`` (see
    :func:`negative_eigenvalue_bound`). The Jacobian is formed whole, ``(m, k, P)``
    numbers: meant for small networks, such as the chapter's diagram.

    Parameters
    ----------
    params : dict of str to torch.Tensor
        Stacked networks (:attr:`TrainingRun.params`).
    net : int
        Position of the network along the network axis.
    X : ndarray of shape (m, d)
    y : ndarray of shape (m,)

    Returns
    -------
    ndarray of shape (P, P)

    Examples
    --------
    >>> p, _ = init_relu_nets(3, 2, 2, nets=1)
    >>> G = gauss_newton(p, 0, np.ones((4, 3)), np.array([0, 1, 1, 0]))
    >>> G.shape, bool(np.linalg.eigvalsh(G).min() > -1e-12)
    ((14, 14), True)
    """
    p = _check_params(params)
    net = as_int(net, "net", minimum=0)
    if net >= p["W1"].shape[0]:
        raise ValueError(f"net must be below the number of networks {p['W1'].shape[0]}, got {net}")
    one = {k: p[k][net:net + 1].detach().to(dtype=torch.float64, device="cpu") for k in PARAM_NAMES}
    shapes = [one[k].shape for k in PARAM_NAMES]
    sizes = [math.prod(s) for s in shapes]
    theta = torch.cat([one[k].reshape(-1) for k in PARAM_NAMES])
    Xt, _ = _data(X, y, "gauss_newton", one["W2"].shape[1], torch.float64, "cpu")

    def logits(t):
        q = dict(zip(PARAM_NAMES, (c.reshape(s) for c, s in zip(torch.split(t, sizes), shapes))))
        return _logits(q, Xt)[0]

    J = torch.autograd.functional.jacobian(logits, theta, vectorize=True)  # (m, k, P)
    with torch.no_grad():
        prob = torch.softmax(logits(theta), dim=1)
        A = torch.diag_embed(prob) - prob[:, :, None] * prob[:, None, :]
        G = torch.einsum("nkp,nkl,nlq->pq", J, A, J) / len(Xt)
    return G.numpy()


def negative_eigenvalue_bound(hidden, n_classes=10):
    """Most negative eigenvalues the Hessian of the cross-entropy of a network can have.

    The Hessian of the mean cross-entropy of ``x -> W2 relu(W1 x + b1) + b2`` is the
    positive semi-definite Gauss-Newton term plus the residuals times the second
    derivatives of the logits. With ReLU those vanish except between ``W2[:, j]`` and
    ``(W1[j], b1[j])`` for each hidden unit ``j``: a block ``[[0, M_j], [M_j^T, 0]]``
    with ``M_j = mean_n r_n (1[a_nj > 0] [x_n, 1])^T``, whose ``n_classes`` rows sum to
    zero because the softmax residuals ``r_n = p_n - e_{y_n}`` do. Each block has rank
    at most ``2 (n_classes - 1)`` and as many negative as positive eigenvalues; adding a
    positive semi-definite matrix adds none. So the Hessian has at most
    ``hidden * (n_classes - 1)`` negative eigenvalues, without weight decay; weight
    decay only shifts the weight directions up.

    Parameters
    ----------
    hidden : int
    n_classes : int, default=10

    Returns
    -------
    int

    Examples
    --------
    >>> negative_eigenvalue_bound(25)  # of P = 1885 parameters for 64 inputs
    225
    """
    hidden = as_int(hidden, "hidden", minimum=1)
    n_classes = as_int(n_classes, "n_classes", minimum=2)
    return hidden * (n_classes - 1)


def train_bias_free_mse(widths, X, Y, steps, seed=0, lr=3e-3):
    """One bias-free ReLU network trained by full-batch Adam on the mean squared error.

    The network ``x -> W_d relu(W_{d-1} ... relu(W_1 x))`` of the path slides (no biases,
    linear output), weight ``k`` of shape ``(widths[k+1], widths[k])`` drawn as
    ``standard_normal * sqrt(2 / widths[k])`` (He initialisation) from ``seed``, in float64.
    Each of the ``steps`` steps is one step of Adam (torch defaults, betas 0.9 and 0.999,
    no weight decay) on ``mean_s ||Y_s - Phi(x_s)||^2``, the squared loss of the slide
    "Loss becomes". Used by ``notebooks/07_deep_networks_as_spin_glasses.md``.

    Parameters
    ----------
    widths : sequence of int
        ``(d_0, ..., d_K)``, at least two entries, each at least 1.
    X : ndarray of shape (m, widths[0])
    Y : ndarray of shape (m, widths[-1])
    steps : int
        At least 1.
    seed : int or numpy.random.Generator, default=0
        Draws the initial weights.
    lr : float, default=3e-3

    Returns
    -------
    init, middle, end : list of ndarray
        The weights at the start, after step ``steps // 2`` (counting from 0) and at the end.

    Examples
    --------
    >>> g = np.random.default_rng(0)
    >>> X, Y = g.random((30, 4)), np.eye(3)[g.integers(0, 3, 30)]
    >>> init, middle, end = train_bias_free_mse([4, 6, 3], X, Y, steps=200)
    >>> def mse(W):
    ...     return np.mean(np.sum((Y - np.maximum(X @ W[0].T, 0) @ W[1].T) ** 2, axis=1))
    >>> bool(mse(end) < mse(middle) < mse(init))
    True
    """
    widths = [as_int(w, "widths", minimum=1) for w in widths]
    if len(widths) < 2:
        raise ValueError(f"widths needs at least 2 entries (input and output), got {widths}")
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != widths[0] or not np.all(np.isfinite(X)):
        raise ValueError(f"X must be a finite array of shape (m, {widths[0]}), got shape {X.shape}")
    if Y.shape != (X.shape[0], widths[-1]) or not np.all(np.isfinite(Y)):
        raise ValueError(f"Y must be a finite array of shape ({X.shape[0]}, {widths[-1]}), got shape {Y.shape}")
    steps = as_int(steps, "steps", minimum=1)
    lr = _positive(lr, "lr")
    g = np.random.default_rng(seed)
    Ws = [
        torch.tensor(g.standard_normal((widths[k + 1], widths[k])) * np.sqrt(2 / widths[k]), requires_grad=True)
        for k in range(len(widths) - 1)
    ]
    init = [W.detach().numpy().copy() for W in Ws]
    opt = torch.optim.Adam(Ws, lr=lr)
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    middle = None
    for step in range(steps):
        opt.zero_grad()
        h = Xt
        for W in Ws[:-1]:
            h = torch.relu(h @ W.T)
        loss = ((h @ Ws[-1].T - Yt) ** 2).sum(dim=1).mean()
        loss.backward()
        opt.step()
        if step == steps // 2:
            middle = [W.detach().numpy().copy() for W in Ws]
    return init, middle, [W.detach().numpy().copy() for W in Ws]
