"""Convolutional arithmetic circuits: the shallow (CP) and deep (HT) networks of Cohen, Sharir & Shashua.

Slides: every "[Cohen, Sharir, Shashua'15]" slide, from "Consider an input
image x and its features" to their "Pros / Cons". Paper: Cohen, Sharir &
Shashua (2016), "On the expressive power of deep learning: a tensor analysis".
Used by ``notebooks/05_depth_efficiency.md``.

An input is ``N`` patches with features ``Phi(x^i) in R^M``, a batch of them an
array ``Phi`` of shape ``(B, N, M)``. The score of class ``y`` is the contraction

    h_y(x) = sum_{d_1..d_N} A^y_{d_1..d_N} prod_i Phi_{d_i}(x^i).

``ShallowConvAC`` takes ``A^y`` in CP form -- one hidden layer of ``K`` units, each
a product over the patches of a linear map of the features ("product
pooling") -- and ``DeepConvAC`` in Hierarchical Tucker form: ``L = log2 N``
levels, each a 1x1 linear map (the transfer of the level) followed by product
pooling of neighbouring pairs. ``shared=True`` gives every patch the same
weights (a convolution). ``.tensor()`` returns ``A^y`` as a dense array, so that
``forward`` can be checked against the contraction.

``log_forward`` evaluates the same network in log space with the signs kept
apart: a product of activations is a sum of their logarithms, and the linear
maps are signed log-sum-exps shifted by their largest term. It returns
``(sign h_y, log |h_y|)``, which stay representable where ``forward`` underflows
or overflows (the slide's "Cons": multiplicative nonlinearities).
"""

import math

import numpy as np
import torch

from ._checks import as_float, as_int, as_power_of_two
from .hierarchical import ht_tensor

__all__ = ["ShallowConvAC", "DeepConvAC", "contract", "fit_lbfgs"]


def _power_of_two(N):
    return as_power_of_two(N, "N")


def _positive(value, name):
    return as_int(value, name, minimum=1)


def _check_phi(Phi, N, M):
    if not isinstance(Phi, torch.Tensor):
        raise TypeError(f"Phi must be a torch.Tensor, got {type(Phi).__name__}")
    if Phi.ndim != 3 or Phi.shape[1:] != (N, M):
        raise ValueError(f"Phi must have shape (B, N={N}, M={M}), got {tuple(Phi.shape)}")
    return Phi


def contract(A, Phi, max_entries=2**24):
    """``sum A_{d_1..d_N} prod_i Phi[b, i, d_i]`` for each row of the batch (the dense reference).

    The patches are contracted one at a time, from the last, as matrix
    products on a chunk of the batch whose intermediate holds at most about
    ``max_entries`` numbers.

    Parameters
    ----------
    A : ndarray of shape (M,) * N or (Y,) + (M,) * N
    Phi : ndarray of shape (B, N, M)
    max_entries : int, default=2**24

    Returns
    -------
    ndarray of shape (B,) or (B, Y)

    Examples
    --------
    >>> A = np.ones((2, 2))
    >>> contract(A, np.array([[[1.0, 2.0], [3.0, 4.0]]]))
    array([21.])
    """
    A, Phi = np.asarray(A, dtype=np.float64), np.asarray(Phi, dtype=np.float64)
    if Phi.ndim != 3:
        raise ValueError(f"Phi must have shape (B, N, M), got {Phi.shape}")
    B, N, M = Phi.shape
    if A.shape[-N:] != (M,) * N or A.ndim not in (N, N + 1):
        raise ValueError(f"A must have shape (M,)*N or (Y,)+(M,)*N with N={N}, M={M}, got {A.shape}")
    Ymat = A.reshape(-1, M**N)  # (Y, M^N), Y = 1 for a single tensor
    chunk = max(1, max_entries // max(Ymat.size // M, 1))
    out = np.empty((B, Ymat.shape[0]))
    for s in range(0, B, chunk):
        P = Phi[s : s + chunk]
        T = P[:, N - 1] @ Ymat.reshape(-1, M).T  # (c, Y M^(N-1)): the last patch, one GEMM
        for i in range(N - 2, -1, -1):  # then the others, last remaining mode first
            T = np.matmul(T.reshape(len(P), -1, M), P[:, i, :, None])[..., 0]
        out[s : s + chunk] = T
    return out[:, 0] if A.ndim == N else out


def _signed_log_linear(sign, logabs, weights):
    """``(sign, log|.|)`` of ``sum_a weights[..., a, g] sign_a exp(logabs_a)`` over the last axis.

    ``sign``/``logabs`` have shape ``(B, n, a)`` and ``weights`` ``(n, a, g)``; the
    terms are shifted by their largest ``logabs`` before exponentiation, so
    nothing overflows, and a sum of zeros gives ``(0, -inf)``.
    """
    top = logabs.amax(dim=2, keepdim=True)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    t = torch.einsum("bna,nag->bng", sign * torch.exp(logabs - top), weights)
    return torch.sign(t), top + torch.log(torch.abs(t))


class ShallowConvAC(torch.nn.Module):
    """The shallow network of the slide: ``h_y = sum_k alpha^y_k prod_i <a_i^k, Phi(x^i)>``.

    Parameters
    ----------
    N, M, K, Y : int
        Patches, features per patch, hidden units (the CP rank), classes.
    shared : bool, default=False
        One ``a^k`` for every patch (weight sharing, a convolution).
    seed : int, default=0
        Initialisation (``a`` entries ``N(0, 1/M)``, ``alpha`` entries ``N(0, 1/K)``).

    Examples
    --------
    >>> net = ShallowConvAC(N=4, M=3, K=5, Y=2)
    >>> Phi = torch.randn(7, 4, 3, dtype=torch.float64)
    >>> bool(np.allclose(net(Phi).detach().numpy(), contract(net.tensor(), Phi.numpy())))
    True
    """

    def __init__(self, N, M, K, Y=1, shared=False, seed=0):
        super().__init__()
        self.N, self.M = _power_of_two(N), _positive(M, "M")
        self.K, self.Y, self.shared = _positive(K, "K"), _positive(Y, "Y"), bool(shared)
        g = torch.Generator().manual_seed(seed)
        n_maps = 1 if self.shared else self.N
        self.a = torch.nn.Parameter(
            torch.randn(n_maps, self.M, self.K, generator=g, dtype=torch.float64) / math.sqrt(self.M)
        )
        self.alpha = torch.nn.Parameter(
            torch.randn(self.K, self.Y, generator=g, dtype=torch.float64) / math.sqrt(self.K)
        )

    def forward(self, Phi):
        """Scores of shape ``(B, Y)`` for features ``Phi`` of shape ``(B, N, M)``."""
        Phi = _check_phi(Phi, self.N, self.M)
        z = torch.einsum("bnm,nmk->bnk", Phi, self.a.expand(self.N, -1, -1))
        return z.prod(dim=1) @ self.alpha

    def log_forward(self, Phi):
        """``(sign, log|h|)`` of the scores, each of shape ``(B, Y)``, computed in log space.

        Each unit's product is the sum of the logs of its factors (signs
        multiplied apart) and the output is a signed log-sum-exp over the units,
        so ``log|h|`` is finite wherever ``h != 0`` even when ``forward`` underflows.

        Examples
        --------
        >>> net = ShallowConvAC(N=2048, M=3, K=4)
        >>> gen = torch.Generator().manual_seed(0)
        >>> Phi = torch.randn(3, 2048, 3, dtype=torch.float64, generator=gen)
        >>> sign, log_abs = net.log_forward(Phi)
        >>> bool(torch.all(net(Phi) == 0)), bool(torch.all(torch.isfinite(log_abs)))
        (True, True)
        """
        Phi = _check_phi(Phi, self.N, self.M)
        z = torch.einsum("bnm,nmk->bnk", Phi, self.a.expand(self.N, -1, -1))
        sign, logabs = torch.sign(z).prod(dim=1), torch.log(torch.abs(z)).sum(dim=1)  # (B, K)
        sign, logabs = _signed_log_linear(sign[:, None], logabs[:, None], self.alpha[None])
        return sign[:, 0], logabs[:, 0]

    def tensor(self):
        """``A^y`` of shape ``(Y,) + (M,) * N`` (numpy), from the CP factors."""
        from tensorly.tenalg import khatri_rao

        a = self.a.detach().expand(self.N, -1, -1).numpy()
        A = khatri_rao(list(a)) @ self.alpha.detach().numpy()  # (M^N, Y): column k of the KR product is a_1^k (x) ...
        return np.ascontiguousarray(A.T).reshape((self.Y,) + (self.M,) * self.N)

    def n_parameters(self):
        """Number of trainable numbers."""
        return sum(p.numel() for p in self.parameters())


class DeepConvAC(torch.nn.Module):
    """The deep network of the slide: the HT recursion as 1x1 maps and product pooling over ``log2 N`` levels.

    Level 0 maps each patch's features to ``r_0`` channels; level ``l`` multiplies
    neighbouring pairs channel by channel (product pooling) and maps the result
    with the transfer of the level to ``r_l`` channels; the last level has one
    node and ``Y`` outputs.

    Parameters
    ----------
    N, M : int
        Patches (a power of two) and features per patch.
    ranks : sequence of int
        ``r_0, ..., r_{L-1}`` (``L = log2 N`` numbers).
    Y : int, default=1
    shared : bool, default=False
        Share the maps of one level across its nodes (a convolution).
    seed : int, default=0

    Examples
    --------
    >>> net = DeepConvAC(N=4, M=3, ranks=[2, 2], Y=2)
    >>> Phi = torch.randn(5, 4, 3, dtype=torch.float64)
    >>> bool(np.allclose(net(Phi).detach().numpy(), contract(net.tensor(), Phi.numpy())))
    True
    """

    def __init__(self, N, M, ranks, Y=1, shared=False, seed=0):
        super().__init__()
        self.N, self.M, self.Y = _power_of_two(N), _positive(M, "M"), _positive(Y, "Y")
        self.L = self.N.bit_length() - 1
        ranks = [_positive(r, "ranks") for r in ranks]
        if len(ranks) != self.L:
            raise ValueError(f"ranks must hold L = log2(N) = {self.L} numbers r_0..r_(L-1), got {len(ranks)}")
        self.ranks, self.shared = ranks, bool(shared)
        g = torch.Generator().manual_seed(seed)

        def param(*shape, fan_in):
            return torch.nn.Parameter(torch.randn(*shape, generator=g, dtype=torch.float64) / math.sqrt(fan_in))

        self.leaves = param(1 if shared else self.N, self.M, ranks[0], fan_in=self.M)
        outs = ranks[1:] + [self.Y]
        self.transfers = torch.nn.ParameterList(
            [param(1 if shared else self.N >> (lv + 1), ranks[lv], outs[lv], fan_in=ranks[lv]) for lv in range(self.L)]
        )

    def forward(self, Phi):
        """Scores of shape ``(B, Y)`` for features ``Phi`` of shape ``(B, N, M)``."""
        Phi = _check_phi(Phi, self.N, self.M)
        z = torch.einsum("bnm,nmr->bnr", Phi, self.leaves.expand(self.N, -1, -1))
        for A in self.transfers:
            z = z[:, 0::2] * z[:, 1::2]  # product pooling of neighbouring nodes
            z = torch.einsum("bnr,nrs->bns", z, A.expand(z.shape[1], -1, -1))
        return z[:, 0]

    def log_forward(self, Phi):
        """``(sign, log|h|)`` of the scores, each of shape ``(B, Y)``, computed in log space.

        Product pooling adds the logs (and multiplies the signs) of the two
        children; each transfer is a signed log-sum-exp over the channels.

        Examples
        --------
        >>> net = DeepConvAC(N=4, M=3, ranks=[2, 2])
        >>> Phi = torch.randn(5, 4, 3, dtype=torch.float64)
        >>> sign, log_abs = net.log_forward(Phi)
        >>> bool(torch.allclose(sign * torch.exp(log_abs), net(Phi)))
        True
        """
        Phi = _check_phi(Phi, self.N, self.M)
        z = torch.einsum("bnm,nmr->bnr", Phi, self.leaves.expand(self.N, -1, -1))
        sign, logabs = torch.sign(z), torch.log(torch.abs(z))
        for A in self.transfers:
            sign, logabs = sign[:, 0::2] * sign[:, 1::2], logabs[:, 0::2] + logabs[:, 1::2]
            sign, logabs = _signed_log_linear(sign, logabs, A.expand(sign.shape[1], -1, -1))
        return sign[:, 0], logabs[:, 0]

    def tensor(self):
        """``A^y`` of shape ``(Y,) + (M,) * N`` (numpy), by ``tensordl.hierarchical.ht_tensor``."""
        leaves = list(self.leaves.detach().expand(self.N, -1, -1).numpy())
        transfers = [A.detach().expand(self.N >> (lv + 1), -1, -1).numpy() for lv, A in enumerate(self.transfers)]
        A = ht_tensor(leaves, transfers)
        return A[None] if self.Y == 1 else A

    def n_parameters(self):
        """Number of trainable numbers."""
        return sum(p.numel() for p in self.parameters())


def fit_lbfgs(net, Phi, y, max_iter, tolerance_grad=1e-12, tolerance_change=1e-14, history_size=30):
    """Fit ``net``'s first score to ``y`` by least squares with L-BFGS (strong-Wolfe line search), in place.

    Minimises ``mean((h_0(x_s) - y_s)^2)`` over the batch ``Phi`` with one call of
    ``torch.optim.LBFGS.step`` of at most ``max_iter`` iterations: chapter 5's fits of
    a deep ConvAC to a random HT tensor and of both circuits to a teacher.

    Parameters
    ----------
    net : ShallowConvAC or DeepConvAC
    Phi : torch.Tensor of shape (B, N, M)
    y : torch.Tensor of shape (B,)
    max_iter : int
    tolerance_grad, tolerance_change : float, default=1e-12 and 1e-14
        L-BFGS's stopping tolerances.
    history_size : int, default=30

    Returns
    -------
    float
        The final mean squared error.

    Examples
    --------
    >>> teacher = ShallowConvAC(4, 2, K=2, seed=0)
    >>> Phi = torch.randn(40, 4, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    >>> with torch.no_grad():
    ...     y = teacher(Phi)[:, 0]
    >>> fit_lbfgs(ShallowConvAC(4, 2, K=2, seed=3), Phi, y, max_iter=500) < 1e-12
    True
    """
    max_iter = as_int(max_iter, "max_iter", minimum=1)
    history_size = as_int(history_size, "history_size", minimum=1)
    tolerance_grad = as_float(tolerance_grad, "tolerance_grad", minimum=0)
    tolerance_change = as_float(tolerance_change, "tolerance_change", minimum=0)
    if not isinstance(net, (ShallowConvAC, DeepConvAC)):
        raise TypeError(f"net must be a ShallowConvAC or DeepConvAC, got {type(net).__name__}")
    opt = torch.optim.LBFGS(
        net.parameters(),
        max_iter=max_iter,
        tolerance_grad=tolerance_grad,
        tolerance_change=tolerance_change,
        history_size=history_size,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        loss = ((net(Phi)[:, 0] - y) ** 2).mean()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float(((net(Phi)[:, 0] - y) ** 2).mean())
