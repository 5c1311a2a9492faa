"""Tensor decompositions: the robust tensor power method, whitening, CP; Hierarchical Tucker.

Slides: the "[Janzamin, Sedghi, Anandkumar]" slides (learning is reduced to a
low-rank tensor factorization). Papers: Anandkumar, Ge, Hsu, Kakade & Telgarsky
(2014), Algorithm 1; Janzamin, Sedghi & Anandkumar (2015). Used by
``notebooks/04_nn_lift.md``.

``tensor_power_method`` works on any symmetric third-order tensor that can
apply ``T(I, v, v)`` to a block of vectors: a dense ``(d, d, d)`` array, or an
implicit ``tensordl.moments.Moment3``. All restarts are the columns of one
matrix, so a power step is one block product. ``simultaneous_power_method``
finds all ``k`` components of an *orthogonally* decomposable tensor at once
(Wang & Lu 2017): ``V <- qr(T(I, v_j, v_j))_j``, one block product per step
and no deflation.

The Hierarchical Tucker part (slides "[Cohen, Sharir, Shashua'15]", used by
``notebooks/05_depth_efficiency.md``) builds the order-``N`` tensor of the
slide's recursion over a binary tree, ``N = 2^L``:

    phi^{0,j,a} = leaves[j][:, a],
    phi^{l,j,g} = sum_a transfers[l-1][j, a, g] phi^{l-1,2j,a} (x) phi^{l-1,2j+1,a},

(0-based ``j``), and ``A = phi^{L,0}``. ``ht_tensor`` computes each node by a
compiled loop that writes each entry once (or, for wide ranks, by one matrix
product per output channel); ``cp_to_ht`` embeds a CP model in HT form with
identity transfers, and ``ht_to_cp`` goes the other way: in the slide's format one
index is shared by both children of a node, so an HT tensor is a CP model with
``r_0^(N/2)`` terms. ``matricization_rank`` measures the ranks of the
matricizations that carry the depth-efficiency theorem, and ``eckart_young_bound``
turns the singular values of one of them into a lower bound on the error of every
CP model of a given rank.
"""

import warnings
from dataclasses import dataclass

import numba
import numpy as np

from ._checks import as_int, as_matrix
from .data import rng as _rng
from .factorization import ConvergenceWarning

__all__ = [
    "PowerResult",
    "IndefiniteWarning",
    "tensor_power_method",
    "simultaneous_power_method",
    "slice_subspace",
    "whiten",
    "jennrich",
    "cp_als",
    "ht_tensor",
    "random_ht",
    "cp_to_ht",
    "ht_to_cp",
    "matricization_rank",
    "eckart_young_bound",
    "cp_als_batch",
]


class IndefiniteWarning(UserWarning):
    """The second moment is indefinite on its top-k eigenspace: whitening does not orthogonalise."""


class _Dense:
    def __init__(self, T):
        self.T = T
        self.d = T.shape[0]

    def tvv(self, V):
        return np.einsum("ijk,jl,kl->il", self.T, V, V)


class _Deflated:
    """``T - sum_j lam_j u_j^(x)3``, applied implicitly."""

    def __init__(self, base, lams, U):
        self.base, self.lams, self.U, self.d = base, np.asarray(lams), np.asarray(U), base.d

    def tvv(self, V):
        out = self.base.tvv(V)
        if len(self.lams):
            C = self.U.T @ V  # (j, L)
            out = out - self.U @ (self.lams[:, None] * C * C)
        return out


def _as_operator(T):
    if hasattr(T, "tvv") and hasattr(T, "d"):
        return T
    T = np.asarray(T, dtype=np.float64)
    if T.ndim != 3 or not (T.shape[0] == T.shape[1] == T.shape[2]):
        raise ValueError(f"T must be a (d, d, d) array or a Moment3, got shape {T.shape}")
    if not np.all(np.isfinite(T)):
        raise ValueError("T must contain only finite values")
    if not np.allclose(T, T.transpose(1, 0, 2), atol=1e-8 * max(np.abs(T).max(), 1e-300)) or not np.allclose(
        T, T.transpose(0, 2, 1), atol=1e-8 * max(np.abs(T).max(), 1e-300)
    ):
        raise ValueError("T must be a symmetric tensor")
    return _Dense(T)


def _operator_and_k(T, k):
    """The tensor as an operator, and ``k`` checked against its dimension."""
    op = _as_operator(T)
    k = as_int(k, "k", minimum=1)
    if k > op.d:
        raise ValueError(f"k must be at most d = {op.d}, got {k}")
    return op, k


@dataclass
class PowerResult:
    """Components found by ``tensor_power_method``.

    Attributes
    ----------
    weights : ndarray of shape (k,)
        ``lambda_j = T(v_j, v_j, v_j) >= 0`` (signs absorbed: ``lam v^(x)3 = (-lam)(-v)^(x)3``).
    factors : ndarray of shape (d, k)
        Unit vectors ``v_j``.
    converged : ndarray of bool, shape (k,)
        Whether the last power steps of component ``j`` moved ``v_j`` by less than ``tol``.
    """

    weights: np.ndarray
    factors: np.ndarray
    converged: np.ndarray


def _power_steps(op, V, n_iter):
    for _ in range(n_iter):
        W = op.tvv(V)
        V_new = W / np.maximum(np.linalg.norm(W, axis=0), 1e-300)
        moved = np.linalg.norm(V_new - V, axis=0)
        V = V_new
    return V, moved


def tensor_power_method(T, k, n_restarts, n_iter, seed, tol=1e-8):
    """Robust tensor power method with deflation (Anandkumar et al. 2014, Algorithm 1).

    For each of ``k`` components: ``n_restarts`` starts uniform on the sphere,
    ``n_iter`` power steps ``v <- T(I, v, v) / ||T(I, v, v)||`` on all of them at
    once, keep the one with the largest ``|T(v, v, v)|``, run ``n_iter`` more
    steps on it, record ``lambda = T(v, v, v)`` (flipping ``v`` so that
    ``lambda >= 0``) and deflate ``T <- T - lambda v^(x)3``.

    Parameters
    ----------
    T : ndarray of shape (d, d, d) or Moment3
        Symmetric tensor, dense or implicit.
    k : int
        Number of components, ``1 <= k <= d``.
    n_restarts : int
    n_iter : int
    seed : int or numpy.random.Generator
    tol : float, default=1e-8
        A component whose last step moved it by more than ``tol`` is reported as
        not converged (``converged`` field and a ``ConvergenceWarning``).

    Returns
    -------
    PowerResult

    Examples
    --------
    >>> e = np.eye(3)
    >>> cube = lambda a: np.einsum("i,j,k->ijk", a, a, a)
    >>> T = 2 * cube(e[0]) + cube(e[1])
    >>> res = tensor_power_method(T, 2, n_restarts=10, n_iter=30, seed=0)
    >>> res.weights.round(6), np.abs(res.factors).round(6)[:, 0]
    (array([2., 1.]), array([1., 0., 0.]))
    """
    op, k = _operator_and_k(T, k)
    n_restarts = as_int(n_restarts, "n_restarts", minimum=1)
    n_iter = as_int(n_iter, "n_iter", minimum=1)
    g = _rng(seed)
    lams, vecs, conv = [], [], []
    for _ in range(k):
        defl = _Deflated(op, lams, np.array(vecs).T.reshape(op.d, len(vecs)))
        V = g.standard_normal((op.d, n_restarts))
        V /= np.linalg.norm(V, axis=0)
        V, _ = _power_steps(defl, V, n_iter)
        best = int(np.argmax(np.abs(np.sum(V * defl.tvv(V), axis=0))))
        v, moved = _power_steps(defl, V[:, [best]], n_iter)
        lam = float(np.sum(v * defl.tvv(v)))
        if lam < 0:
            v, lam = -v, -lam
        lams.append(lam)
        vecs.append(v[:, 0])
        conv.append(bool(moved[0] <= tol))
    conv = np.array(conv)
    if not conv.all():
        warnings.warn(
            f"tensor_power_method: {int((~conv).sum())} of {k} components moved by more than tol={tol:g} "
            f"in their last step (n_iter={n_iter})",
            ConvergenceWarning,
            stacklevel=2,
        )
    return PowerResult(np.array(lams), np.array(vecs).T, conv)


def simultaneous_power_method(T, k, n_iter, seed, tol=1e-8):
    """All ``k`` components of an orthogonally decomposable tensor by simultaneous power iteration.

    ``V`` starts as a random orthonormal ``d x k`` matrix; each step replaces it by
    the orthonormal factor of the QR decomposition of ``[T(I, v_1, v_1), ...,
    T(I, v_k, v_k)]`` (Wang & Lu 2017), stopping when no column moves by more
    than ``tol``. For ``T = sum_j lam_j a_j^(x)3`` with orthonormal ``a_j`` the
    columns converge to the ``a_j`` (up to order and sign); non-orthogonal
    components need ``tensor_power_method`` after whitening, or ``cp_als``.

    Parameters
    ----------
    T : ndarray of shape (d, d, d) or Moment3
    k : int
        ``1 <= k <= d``.
    n_iter : int
        Most steps.
    seed : int or numpy.random.Generator
    tol : float, default=1e-8

    Returns
    -------
    PowerResult
        Weights ``T(v_j, v_j, v_j) >= 0`` (signs absorbed), sorted decreasing;
        ``converged`` is the same for every column (and a ``ConvergenceWarning``
        when false).

    Examples
    --------
    >>> e = np.eye(3)
    >>> cube = lambda a: np.einsum("i,j,k->ijk", a, a, a)
    >>> T = 2 * cube(e[1]) + cube(e[2])
    >>> res = simultaneous_power_method(T, 2, n_iter=50, seed=0)
    >>> res.weights.round(6), np.abs(res.factors).round(6)[:, 0]
    (array([2., 1.]), array([0., 1., 0.]))
    """
    op, k = _operator_and_k(T, k)
    n_iter = as_int(n_iter, "n_iter", minimum=1)
    V = np.linalg.qr(_rng(seed).standard_normal((op.d, k)))[0]
    moved = np.inf
    for _ in range(n_iter):
        V_new = np.linalg.qr(op.tvv(V))[0]
        moved = float(np.max(np.linalg.norm(V_new - V * np.sign(np.sum(V_new * V, axis=0)), axis=0)))
        V = V_new
        if moved <= tol:
            break
    lam = np.sum(V * op.tvv(V), axis=0)
    V, lam = V * np.where(lam < 0, -1.0, 1.0), np.abs(lam)
    order = np.argsort(-lam)
    converged = moved <= tol
    if not converged:
        warnings.warn(
            f"simultaneous_power_method: a column moved by {moved:.3g} > tol={tol:g} in the last of "
            f"n_iter={n_iter} steps",
            ConvergenceWarning,
            stacklevel=2,
        )
    return PowerResult(lam[order], V[:, order], np.full(k, converged))


def slice_subspace(T, k, seed, n_slices=None):
    """An orthonormal basis of the span of the components of ``T = sum_j lam_j a_j^(x)3``.

    Each slice ``T(I, I, theta) = A diag(lam_j a_j.theta) A^T`` has range
    ``span(A)``; the sum of the squares of ``n_slices`` (default ``k + 2``) slices for
    random ``theta`` is positive semi-definite with that range, whatever the
    signs of ``lam_j``. Returns its top-``k`` eigenvectors, shape ``(d, k)``.
    ``T`` must offer ``tvv_matrix`` (a ``Moment3``) or be a dense array.

    Examples
    --------
    >>> e = np.eye(4)
    >>> cube = lambda a: np.einsum("i,j,k->ijk", a, a, a)
    >>> T = cube(e[0]) - 2 * cube(e[2])
    >>> U = slice_subspace(T, 2, seed=0)
    >>> np.abs(U.T @ e[[0, 2]].T).round(6).max(axis=0)
    array([1., 1.])
    """
    k = as_int(k, "k", minimum=1)
    g = _rng(seed)
    sl = T.tvv_matrix if hasattr(T, "tvv_matrix") else (lambda th: np.asarray(T) @ th)
    d = T.d if hasattr(T, "d") else np.asarray(T).shape[0]
    if k > d:
        raise ValueError(f"k must be at most d = {d}, got {k}")
    S = np.zeros((d, d))
    for _ in range(k + 2 if n_slices is None else as_int(n_slices, "n_slices", minimum=1)):
        M = sl(g.standard_normal(d))
        S += M @ M.T
    vals, vecs = np.linalg.eigh(S)
    return vecs[:, np.argsort(-vals)[:k]]


def whiten(M2, k):
    """A whitening matrix ``W = U |D|^(-1/2)`` from the top-``k`` eigenpairs of ``M2``.

    ``W^T M2 W = diag(sign(D))``: the identity when ``M2`` is positive
    semi-definite on its top-``k`` eigenspace (or ``-I`` when negative: whiten
    ``-M2``, which is equivalent). With eigenvalues of both signs the whitened
    components of ``sum_j c_j a_j a_j^T`` are *not* orthonormal; this raises an
    ``IndefiniteWarning`` -- use a non-orthogonal solver (``jennrich``) in the
    subspace instead.

    Parameters
    ----------
    M2 : ndarray of shape (d, d)
        Symmetric.
    k : int
        ``1 <= k <= d``.

    Returns
    -------
    ndarray of shape (d, k)

    Examples
    --------
    >>> W = whiten(np.diag([4.0, 1.0, 0.0]), 2)
    >>> (W.T @ np.diag([4.0, 1.0, 0.0]) @ W).round(12)
    array([[1., 0.],
           [0., 1.]])
    """
    M2 = as_matrix(M2, "M2")
    if M2.shape[0] != M2.shape[1] or not np.allclose(M2, M2.T, atol=1e-10 * max(np.abs(M2).max(), 1e-300)):
        raise ValueError(f"M2 must be a symmetric square matrix, got shape {M2.shape}")
    k = as_int(k, "k", minimum=1)
    if k > M2.shape[0]:
        raise ValueError(f"k must be at most d = {M2.shape[0]}, got {k}")
    vals, vecs = np.linalg.eigh(0.5 * (M2 + M2.T))
    top = np.argsort(-np.abs(vals))[:k]
    D, U = vals[top], vecs[:, top]
    if np.any(D > 0) and np.any(D < 0):
        warnings.warn(
            f"M2 is indefinite on its top-{k} eigenspace (eigenvalues {np.round(D, 4).tolist()}): whitening with "
            "|D|^(-1/2) will not give orthonormal components",
            IndefiniteWarning,
            stacklevel=2,
        )
    return U / np.sqrt(np.maximum(np.abs(D), 1e-300))


def jennrich(T, seed):
    """Non-orthogonal symmetric CP of a ``(k, k, k)`` tensor of rank ``k`` by simultaneous diagonalisation.

    For ``T = sum_j lam_j a_j^(x)3`` with linearly independent ``a_j``, the slices
    ``T(I, I, t) = A diag(lam (A^T t)) A^T`` for two random ``t`` give
    ``M_1 M_2^(-1) = A diag(.) A^(-1)``, whose eigenvectors are the ``a_j``.
    Signs of ``lam_j`` need no special care. Returns unit ``a_j`` (columns) and
    ``lam_j`` from a least-squares fit.

    Examples
    --------
    >>> A = np.array([[1.0, 0.6], [0.0, 0.8]])
    >>> T = np.einsum("j,ij,kj,lj->ikl", [2.0, -1.0], A, A, A)
    >>> lam, F = jennrich(T, seed=0)
    >>> np.sort(lam).round(8)
    array([-1.,  2.])
    """
    T = np.asarray(T, dtype=np.float64)
    if T.ndim != 3 or len(set(T.shape)) != 1:
        raise ValueError(f"T must be a (k, k, k) array, got shape {T.shape}")
    k = T.shape[0]
    g = _rng(seed)
    t1, t2 = g.standard_normal(k), g.standard_normal(k)
    M1, M2 = T @ t1, T @ t2
    vals, vecs = np.linalg.eig(M1 @ np.linalg.pinv(M2))
    A = np.real(vecs)
    A /= np.linalg.norm(A, axis=0)
    kr = np.einsum("ij,kj,lj->iklj", A, A, A).reshape(k**3, k)
    lam = np.linalg.lstsq(kr, T.ravel(), rcond=None)[0]
    return lam, A


def cp_als(T, k, seed, n_iter_max=500, tol=1e-12, init=None):
    """CP decomposition of a dense tensor by alternating least squares (tensorly's ``parafac``).

    A thin wrapper with a random start drawn from ``seed`` (or ``init = (weights,
    A)``, a symmetric start), used to cross-check the power method on small
    explicit tensors and to refine ``jennrich``. Returns ``(weights, factors)``
    with unit-norm factor columns.

    Examples
    --------
    >>> e = np.eye(3)
    >>> T = 3 * np.einsum("i,j,k->ijk", e[0], e[1], e[2])
    >>> w, f = cp_als(T, 1, seed=0)
    >>> float(np.abs(w[0])).__round__(6)
    3.0
    """
    import tensorly as tl
    from tensorly.decomposition import parafac

    T = np.asarray(T, dtype=np.float64)
    k = as_int(k, "k", minimum=1)
    seed_int = int(_rng(seed).integers(2**31 - 1))
    start = "random"
    if init is not None:
        w0, A0 = init
        start = tl.cp_tensor.CPTensor((np.asarray(w0, dtype=float), [np.array(A0, dtype=float) for _ in range(3)]))
    cp = parafac(tl.tensor(T), rank=k, init=start, random_state=seed_int, n_iter_max=n_iter_max, tol=tol)
    factors = [np.asarray(f) for f in cp.factors]
    norms = [np.linalg.norm(f, axis=0) for f in factors]
    weights = np.asarray(cp.weights) * np.prod(norms, axis=0)
    return weights, [f / nrm for f, nrm in zip(factors, norms)]


def _check_ht(leaves, transfers):
    if isinstance(leaves, np.ndarray) and leaves.ndim == 3:
        leaves = list(leaves)
    if not hasattr(leaves, "__len__") or not hasattr(transfers, "__len__"):
        raise TypeError("leaves and transfers must be sequences of arrays")
    N = len(leaves)
    if N < 2 or N & (N - 1):
        raise ValueError(f"the number of leaves N must be a power of two >= 2 for the binary tree, got {N}")
    L = N.bit_length() - 1
    if len(transfers) != L:
        raise ValueError(f"transfers must hold L = log2(N) = {L} levels, got {len(transfers)}")
    leaves = [as_matrix(a, f"leaves[{j}]") for j, a in enumerate(leaves)]
    if len({a.shape for a in leaves}) != 1:
        raise ValueError(f"all leaves must have the same shape (M, r_0), got {sorted({a.shape for a in leaves})}")
    rank = leaves[0].shape[1]
    out = []
    for lv, A in enumerate(transfers, start=1):
        A = np.asarray(A, dtype=np.float64)
        want = (N >> lv, rank)
        if A.ndim != 3 or A.shape[:2] != want:
            raise ValueError(f"transfers[{lv - 1}] must have shape ({want[0]}, {want[1]}, r_{lv}), got {A.shape}")
        if not np.all(np.isfinite(A)):
            raise ValueError(f"transfers[{lv - 1}] must contain only finite values")
        rank = A.shape[2]
        out.append(A)
    return leaves, out


MERGE_KERNEL_MAX = 64  # a * g at most this: the fused kernel; above, BLAS matrix products


@numba.njit(cache=True, parallel=True)
def _merge_kernel(LA, RT, out):
    """``out[p, q, h] = sum_b LA[p, b, h] RT[b, q]``: rows in parallel, the inner loop over ``q`` contiguous."""
    P, a, g = LA.shape
    Q = RT.shape[1]
    for p in numba.prange(P):
        for h in range(g):
            for q in range(Q):
                out[p, q, h] = 0.0
            for b in range(a):
                c = LA[p, b, h]
                for q in range(Q):
                    out[p, q, h] += c * RT[b, q]


def _merge(left, right, A):
    """``sum_a A[a, g] left[:, a] (x) right[:, a]`` as a ``(P Q, g)`` matrix, row ``p Q + q``.

    The output is ``a`` times smaller than the Khatri--Rao product ``(P Q, a)``
    and is what costs: for small ``a * g`` a fused compiled loop writes each entry
    once; otherwise one matrix product per output channel, ``(left * A[:, g]) @ right^T``.
    The sum over ``a`` runs in a fixed order, so the result does not depend on
    the number of threads.
    """
    a, g = A.shape
    if a * g <= MERGE_KERNEL_MAX:
        out = np.empty((left.shape[0], right.shape[0], g))
        _merge_kernel(np.ascontiguousarray(left[:, :, None] * A[None]), np.ascontiguousarray(right.T), out)
        return out.reshape(-1, g)
    out = np.matmul(left[None] * A.T[:, None, :], right.T)  # (g, P, Q)
    return out.reshape(g, -1).T


def ht_tensor(leaves, transfers):
    """The full tensor of a Hierarchical Tucker model, by the slide's recursion.

    Parameters
    ----------
    leaves : sequence of N arrays of shape (M, r_0)
        ``leaves[j][:, a]`` is the vector ``phi^{0,j,a}`` at position ``j``.
    transfers : sequence of L = log2(N) arrays
        Level ``l`` (1-based) has shape ``(N / 2^l, r_{l-1}, r_l)``; the last has
        one node and ``r_L`` outputs (classes ``y``).

    Returns
    -------
    ndarray of shape (M,) * N, or (r_L,) + (M,) * N when r_L > 1

    Examples
    --------
    >>> g = np.random.default_rng(0)
    >>> leaves = [g.standard_normal((3, 2)) for _ in range(4)]
    >>> transfers = [g.standard_normal((2, 2, 2)), g.standard_normal((1, 2, 1))]
    >>> A = ht_tensor(leaves, transfers)
    >>> phi = [np.einsum("ia,ja,ag->ijg", leaves[2 * j], leaves[2 * j + 1], transfers[0][j])
    ...        for j in range(2)]
    >>> top = transfers[1][0, :, 0]
    >>> bool(np.allclose(A, np.einsum("ija,kla,a->ijkl", phi[0], phi[1], top)))
    True
    """
    leaves, transfers = _check_ht(leaves, transfers)
    M, N = leaves[0].shape[0], len(leaves)
    nodes = leaves  # each node: (M^(size of its subtree), rank)
    for A in transfers:
        nodes = [_merge(nodes[2 * j], nodes[2 * j + 1], A[j]) for j in range(len(nodes) // 2)]
    top = nodes[0]
    if top.shape[1] == 1:
        return top[:, 0].reshape((M,) * N)
    return np.ascontiguousarray(top.T).reshape((top.shape[1],) + (M,) * N)


def random_ht(N, M, r, seed, return_factors=False):
    """A random HT tensor of order ``N``, dimension ``M``, all ranks ``r`` (Gaussian leaves and transfers).

    Leaves have entries ``N(0, 1/M)`` and transfers ``N(0, 1/r)``, so that the
    entries of the tensor stay of order one as ``N`` grows.

    Returns
    -------
    ndarray of shape (M,) * N
        With ``return_factors=True``, the tuple ``(A, leaves, transfers)``.

    Examples
    --------
    >>> A = random_ht(4, 3, 2, seed=0)
    >>> A.shape, matricization_rank(A, rows=[0, 2])
    ((3, 3, 3, 3), 4)
    """
    N, M, r = as_int(N, "N", minimum=2), as_int(M, "M", minimum=1), as_int(r, "r", minimum=1)
    if N & (N - 1):
        raise ValueError(f"N must be a power of two for the binary tree, got {N}")
    g = _rng(seed)
    leaves = [g.standard_normal((M, r)) / np.sqrt(M) for _ in range(N)]
    transfers, n_nodes = [], N
    while n_nodes > 1:
        n_nodes //= 2
        transfers.append(g.standard_normal((n_nodes, r, 1 if n_nodes == 1 else r)) / np.sqrt(r))
    A = ht_tensor(leaves, transfers)
    return (A, leaves, transfers) if return_factors else A


def cp_to_ht(weights, factors):
    """Embed a CP model ``sum_k w_k a_1^k (x) ... (x) a_N^k`` in HT form with ranks ``K``.

    The leaves are the CP factors; every transfer is the "diagonal" tensor
    ``transfers[l][j, a, g] = [a = g]``, so each node carries the products of its
    leaves' factors term by term; the top transfer is ``w``. The HT model has
    ``N M K + (N - 2) K^2 + K`` parameters, i.e. ``O(N K max(K, M))``.

    Parameters
    ----------
    weights : array_like of shape (K,)
    factors : sequence of N arrays of shape (M, K)

    Returns
    -------
    leaves, transfers
        Accepted by ``ht_tensor``.

    Examples
    --------
    >>> g = np.random.default_rng(0)
    >>> w, F = g.standard_normal(3), [g.standard_normal((2, 3)) for _ in range(4)]
    >>> A = ht_tensor(*cp_to_ht(w, F))
    >>> bool(np.allclose(A, np.einsum("k,ik,jk,lk,mk->ijlm", w, *F)))
    True
    """
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    K = w.shape[0]
    factors = [as_matrix(f, f"factors[{i}]") for i, f in enumerate(factors)]
    for i, f in enumerate(factors):
        if f.shape[1] != K:
            raise ValueError(f"factors[{i}] must have K = {K} columns (one per weight), got shape {f.shape}")
    N = len(factors)
    if N < 2 or N & (N - 1):
        raise ValueError(f"the number of factors N must be a power of two >= 2, got {N}")
    eye = np.eye(K)
    transfers, n_nodes = [], N
    while n_nodes > 2:
        n_nodes //= 2
        transfers.append(np.broadcast_to(eye, (n_nodes, K, K)).copy())
    transfers.append(w.reshape(1, K, 1))
    return factors, transfers


HT_TO_CP_MAX_TERMS = 2**22  # r_0^(N/2) above this: refuse (the factors alone would not fit in memory)


def ht_to_cp(leaves, transfers):
    """The CP decomposition of an HT tensor in the slide's format, with ``r_0^(N/2)`` terms.

    In the slide's recursion one index ``a`` is shared by both children of a
    node, so the level-1 node ``j`` is ``sum_a C_j[a, g] u_a (x) v_a`` with
    ``u_a, v_a`` the ``a``-th columns of ``leaves[2j]`` and ``leaves[2j + 1]`` and
    ``C_j = transfers[0][j]``. Everything above level 1 is linear in the level-1
    nodes, so expanding over one ``a_j`` per level-1 node gives

        A = sum_{a_1..a_{N/2}} W[a_1, .., a_{N/2}] (x)_j (u^j_{a_j} (x) v^j_{a_j}),

    where ``W`` is the HT tensor of order ``N/2`` whose leaves are the matrices
    ``C_j`` and whose transfers are the levels above. So CP-rank(A) is at most
    ``r_0^(N/2)``; with the odd/even matricization's rank, ``r^(N/2)`` almost
    everywhere, it is exactly ``r^(N/2)`` when all ranks are ``r <= M``.

    Parameters
    ----------
    leaves : sequence of N arrays of shape (M, r_0)
    transfers : sequence of L = log2(N) arrays
        As for ``ht_tensor``; the top level must have one output (``r_L = 1``).

    Returns
    -------
    weights : ndarray of shape (r_0^(N/2),)
        ``W`` flattened in C order: term ``t`` has the indices
        ``np.unravel_index(t, (r_0,) * (N // 2))``.
    factors : list of N ndarrays of shape (M, r_0^(N/2))
        ``factors[2j][:, t]`` and ``factors[2j + 1][:, t]`` are the columns ``a_j``
        of ``leaves[2j]`` and ``leaves[2j + 1]``.

    Raises
    ------
    ValueError
        If the HT model is malformed (see ``ht_tensor``), has ``r_L > 1``
        outputs, or would need more than ``HT_TO_CP_MAX_TERMS`` terms.

    Examples
    --------
    >>> A, leaves, transfers = random_ht(4, 3, 2, seed=0, return_factors=True)
    >>> w, F = ht_to_cp(leaves, transfers)
    >>> len(w), bool(np.allclose(np.einsum("t,it,jt,kt,lt->ijkl", w, *F), A))
    (4, True)
    """
    leaves, transfers = _check_ht(leaves, transfers)
    N, r0 = len(leaves), leaves[0].shape[1]
    if transfers[-1].shape[2] != 1:
        raise ValueError(f"transfers[-1] must have one output (r_L = 1), got shape {transfers[-1].shape}")
    half = N // 2
    if r0**half > HT_TO_CP_MAX_TERMS:
        raise ValueError(f"r_0^(N/2) = {r0}^{half} terms exceed HT_TO_CP_MAX_TERMS = {HT_TO_CP_MAX_TERMS}")
    level1 = transfers[0]  # (N/2, r_0, r_1): node j's "leaf" over the pairs u_a (x) v_a
    weights = level1[0, :, 0].copy() if N == 2 else ht_tensor(list(level1), transfers[1:])
    idx = np.indices((r0,) * half).reshape(half, -1)  # C order, as weights.reshape(-1)
    factors = [np.ascontiguousarray(leaves[i][:, idx[i // 2]]) for i in range(N)]
    return weights.reshape(-1), factors


def matricization_rank(A, rows, tol=None, method="sketch", seed=0):
    """The rank of the matricization of ``A`` with the modes ``rows`` indexing rows.

    Parameters
    ----------
    A : ndarray of order N
    rows : sequence of int
        Distinct modes in ``0 .. N-1`` (the others index columns), e.g. the odd
        modes ``[0, 2, 4, ...]`` or the first half ``[0, 1, ..., N/2 - 1]``.
    tol : float, optional
        Singular values above ``tol`` count; default ``sigma_max * max(shape) * eps``
        (numpy's ``matrix_rank`` rule).
    method : {"sketch", "svd"}, default="sketch"
        ``"svd"``: singular values of the whole matrix. ``"sketch"``: singular
        values of ``A_mat Omega`` for Gaussian ``Omega`` with ``k`` columns,
        doubling ``k`` until the rank found is below ``k``; almost surely
        ``rank(A_mat Omega) = min(rank(A_mat), k)``, so this is the same rank at
        the cost of products with ``k`` columns instead of a full SVD.
    seed : int or numpy.random.Generator, default=0
        For ``Omega``.

    Returns
    -------
    int

    Examples
    --------
    >>> u, v = np.ones(3), np.arange(3.0)
    >>> A = np.einsum("i,j,k,l->ijkl", u, v, u, v) + np.einsum("i,j,k,l->ijkl", v, v, u, u)
    >>> matricization_rank(A, rows=[0, 1]), matricization_rank(A, rows=[0, 2], method="svd")
    (2, 2)
    """
    A = np.asarray(A, dtype=np.float64)
    if not np.all(np.isfinite(A)):
        raise ValueError("A must contain only finite values")
    rows = [as_int(m, "rows", minimum=0) for m in rows]
    if len(set(rows)) != len(rows) or any(m >= A.ndim for m in rows) or not 0 < len(rows) < A.ndim:
        raise ValueError(f"rows must be distinct modes of the order-{A.ndim} tensor, neither none nor all, got {rows}")
    if method not in ("sketch", "svd"):
        raise ValueError(f"method must be one of ('sketch', 'svd'), got {method!r}")
    cols = [m for m in range(A.ndim) if m not in rows]
    n_rows = int(np.prod([A.shape[m] for m in rows]))
    mat = np.transpose(A, rows + cols).reshape(n_rows, -1)
    eps = np.finfo(np.float64).eps

    def rank_of(S, shape):
        cut = S[0] * max(shape) * eps if tol is None else tol
        return int(np.sum(S > cut))

    if method == "svd":
        S = np.linalg.svd(mat, compute_uv=False)
        return rank_of(S, mat.shape) if S.size else 0
    g = _rng(seed)
    small = min(mat.shape)
    k = min(32, small)
    while True:
        Y = mat @ g.standard_normal((mat.shape[1], k))
        S = np.linalg.svd(Y, compute_uv=False)
        rank = rank_of(S, mat.shape)
        if rank < k or k == small:
            return rank
        k = min(2 * k, small)


def eckart_young_bound(A, K, rows=None):
    """Least relative error ``||A - B|| / ||A||`` of any CP model ``B`` of rank ``K``: a lower bound.

    A rank-one tensor has rank-one matricizations, so a CP model ``B`` of rank ``K``
    has a matricization ``[B]`` of rank at most ``K``. By Eckart--Young the nearest
    matrix of rank ``K`` to ``[A]`` is its truncated SVD, hence

        ||A - B|| / ||A||  >=  (sum_{i > K} s_i^2)^(1/2) / ||A||

    for every CP model ``B`` of rank ``K``, with ``s_1 >= s_2 >= ...`` the singular
    values of ``[A]`` (Frobenius norms throughout). The bound is a proof, not a
    search; it is 0 from ``K = rank [A]`` on. For order 2 it is attained.

    Parameters
    ----------
    A : ndarray of order N >= 2
        Nonzero and finite.
    K : int or sequence of int
        CP ranks, each at least 0.
    rows : sequence of int, optional
        Modes indexing the rows of the matricization (as for
        ``matricization_rank``); default the odd modes of the slides, ``[0, 2, 4, ...]``
        (0-based), the matricization of the depth-efficiency theorem.

    Returns
    -------
    float, or ndarray of shape (len(K),) when ``K`` is a sequence

    Examples
    --------
    >>> g = np.random.default_rng(0)
    >>> X = g.standard_normal((5, 4))
    >>> s = np.linalg.svd(X, compute_uv=False)
    >>> tail = np.sqrt(np.sum(s[1:] ** 2)) / np.linalg.norm(X)
    >>> bool(np.isclose(eckart_young_bound(X, 1), tail))
    True
    >>> eckart_young_bound(random_ht(4, 3, 2, seed=0), [0, 4]).round(12)
    array([1., 0.])
    """
    A = np.asarray(A, dtype=np.float64)
    if A.ndim < 2:
        raise ValueError(f"A must have order at least 2, got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError("A must contain only finite values")
    norm = np.linalg.norm(A)
    if norm == 0:
        raise ValueError("A must be nonzero (the bound is relative to ||A||)")
    scalar = np.ndim(K) == 0
    Ks = [as_int(k, "K", minimum=0) for k in ([K] if scalar else list(K))]
    rows = list(range(0, A.ndim, 2)) if rows is None else [as_int(m, "rows", minimum=0) for m in rows]
    if len(set(rows)) != len(rows) or any(m >= A.ndim for m in rows) or not 0 < len(rows) < A.ndim:
        raise ValueError(f"rows must be distinct modes of the order-{A.ndim} tensor, neither none nor all, got {rows}")
    cols = [m for m in range(A.ndim) if m not in rows]
    n_rows = int(np.prod([A.shape[m] for m in rows]))
    s = np.linalg.svd(np.transpose(A, rows + cols).reshape(n_rows, -1), compute_uv=False)
    tail = np.sqrt(np.cumsum((s**2)[::-1])[::-1])  # tail[k] = (sum_{i >= k} s_i^2)^(1/2), summed small first
    out = np.array([tail[k] / norm if k < s.size else 0.0 for k in Ks])
    return float(out[0]) if scalar else out


def cp_als_batch(T, rank, seed, n_starts=1, n_iter=1000, tol=1e-13):
    """Relative errors of CP-ALS fits of rank ``rank`` to a batch of small tensors, all starts at once.

    Alternating least squares on every tensor of the batch and every random start
    together: for each mode ``n`` in turn, ``F_n <- MTTKRP_n (*_{m != n} F_m^T F_m)^{-1}``
    (the Hadamard product of the other factors' Gram matrices), as a batch of
    small solves. It is ``parafac``'s update without its per-call overhead, for the
    many fits that a fraction over random tensors needs. A fit stops changing its
    factors when its relative error changes by less than ``tol`` in one sweep;
    the batch stops when every fit has, or after ``n_iter`` sweeps.

    Parameters
    ----------
    T : ndarray of shape (B, M_1, ..., M_N)
        ``B`` nonzero finite tensors of order ``N >= 2``.
    rank : int
        CP rank ``K >= 1``.
    seed : int or numpy.random.Generator
        For the starts (factor entries standard normal).
    n_starts : int, default=1
    n_iter : int, default=1000
        Sweeps (one update of every factor) at most.
    tol : float, default=1e-13

    Returns
    -------
    ndarray of shape (B, n_starts)
        ``||T_b - [[F]]|| / ||T_b||`` of each fit.

    Examples
    --------
    >>> g = np.random.default_rng(0)
    >>> F = [g.standard_normal((3, 2)) for _ in range(3)]
    >>> T = np.einsum("ik,jk,lk->ijl", *F)[None]
    >>> bool(cp_als_batch(T, 2, seed=0, n_starts=3).min() < 1e-8)
    True
    """
    T = np.asarray(T, dtype=np.float64)
    if T.ndim < 3:
        raise ValueError(f"T must have shape (B, M_1, ..., M_N) with N >= 2, got {T.shape}")
    if not np.all(np.isfinite(T)):
        raise ValueError("T must contain only finite values")
    norms = np.sqrt(np.sum(T.reshape(T.shape[0], -1) ** 2, axis=1))
    if np.any(norms == 0):
        raise ValueError("every tensor of the batch T must be nonzero (errors are relative)")
    K = as_int(rank, "rank", minimum=1)
    S = as_int(n_starts, "n_starts", minimum=1)
    n_iter = as_int(n_iter, "n_iter", minimum=1)
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol!r}")
    g = _rng(seed)
    B, dims = T.shape[0], T.shape[1:]
    N = len(dims)
    if N > 10:
        raise ValueError(f"T must have order N <= 10 (small tensors), got {N}")
    TS = np.broadcast_to(T[:, None], (B, S) + dims)  # every start sees its tensor
    F = [g.standard_normal((B, S, m, K)) for m in dims]
    letters = "abcdefghij"[:N]
    specs = []  # per mode: the MTTKRP einsum and its contraction order, planned once
    for n in range(N):
        others = [m for m in range(N) if m != n]
        spec = "xy" + letters + "," + ",".join(f"xy{letters[m]}z" for m in others) + f"->xy{letters[n]}z"
        path = np.einsum_path(spec, TS, *[F[m] for m in others], optimize="optimal")[0]
        specs.append((others, spec, path))
    rec_spec = ",".join(f"xy{c}z" for c in letters) + "->xy" + letters
    rec_path = np.einsum_path(rec_spec, *F, optimize="optimal")[0]
    eye = np.eye(K)
    err, active = np.full((B, S), np.inf), np.ones((B, S), dtype=bool)
    for _ in range(n_iter):
        grams = [np.matmul(np.swapaxes(f, 2, 3), f) for f in F]  # (B, S, K, K)
        for n, (others, spec, path) in enumerate(specs):
            mttkrp = np.einsum(spec, TS, *[F[m] for m in others], optimize=path)
            gram = np.prod([grams[m] for m in others], axis=0)
            gram = gram + 1e-14 * np.trace(gram, axis1=2, axis2=3)[..., None, None] * eye
            new = np.swapaxes(np.linalg.solve(gram, np.swapaxes(mttkrp, 2, 3)), 2, 3)
            F[n] = np.where(active[..., None, None], new, F[n])
            grams[n] = np.matmul(np.swapaxes(F[n], 2, 3), F[n])
        rec = np.einsum(rec_spec, *F, optimize=rec_path)
        new_err = np.sqrt(np.sum((rec - TS).reshape(B, S, -1) ** 2, axis=2)) / norms[:, None]
        active &= ~(np.abs(err - new_err) < tol)
        err = np.where(active | np.isinf(err), new_err, err)
        if not active.any():
            break
    return err
