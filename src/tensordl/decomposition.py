"""Tensor decompositions: the robust tensor power method, whitening, Jennrich, CP.

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

``cp_als_batch`` (CP-ALS on a batch of small tensors, many starts at once) is used by
``notebooks/05_depth_efficiency.md``. The Hierarchical Tucker format of chapter 5 is
in :mod:`tensordl.hierarchical`.
"""

import warnings
from dataclasses import dataclass

import numpy as np

from ._checks import as_float, as_int, as_matrix, warn_not_converged
from .data import rng as _rng

__all__ = [
    "PowerResult",
    "IndefiniteWarning",
    "tensor_power_method",
    "simultaneous_power_method",
    "slice_subspace",
    "whiten",
    "jennrich",
    "cp_als",
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
        warn_not_converged(
            f"tensor_power_method: {int((~conv).sum())} of {k} components moved by more than tol={tol:g} "
            f"in their last step (n_iter={n_iter})"
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
        warn_not_converged(
            f"simultaneous_power_method: a column moved by {moved:.3g} > tol={tol:g} in the last of "
            f"n_iter={n_iter} steps"
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
    if hasattr(T, "tvv_matrix"):
        sl, d = T.tvv_matrix, T.d
    else:
        T = _as_cube(T, "T")
        sl, d = (lambda th: T @ th), T.shape[0]
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


JENNRICH_IMAG_TOL = 1e-6  # imaginary parts of the (unit) eigenvectors above this warn


def _as_cube(T, name):
    """``T`` as a finite float64 ``(d, d, d)`` array, or raise."""
    T = np.asarray(T, dtype=np.float64)
    if T.ndim != 3 or len(set(T.shape)) != 1:
        raise ValueError(f"{name} must be a (d, d, d) array, got shape {T.shape}")
    if not np.all(np.isfinite(T)):
        raise ValueError(f"{name} must contain only finite values")
    return T


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
    T = _as_cube(T, "T")
    k = T.shape[0]
    g = _rng(seed)
    t1, t2 = g.standard_normal(k), g.standard_normal(k)
    M1, M2 = T @ t1, T @ t2
    vals, vecs = np.linalg.eig(M1 @ np.linalg.pinv(M2))
    imag = float(np.abs(vecs.imag).max())  # eig returns unit columns
    if imag > JENNRICH_IMAG_TOL:
        warnings.warn(
            f"jennrich: the eigenvectors have imaginary parts up to {imag:.2g} (T is not a sum of k real "
            "rank-one terms with independent components, or is noisy); their real parts are returned",
            np.exceptions.ComplexWarning,
            stacklevel=2,
        )
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
    if T.ndim < 2 or not np.all(np.isfinite(T)) or not np.any(T):
        raise ValueError(f"T must be a nonzero finite tensor of order at least 2, got shape {T.shape}")
    k = as_int(k, "k", minimum=1)
    n_iter_max = as_int(n_iter_max, "n_iter_max", minimum=1)
    tol = as_float(tol, "tol", minimum=0)
    seed_int = int(_rng(seed).integers(2**31 - 1))
    start = "random"
    if init is not None:
        w0, A0 = init
        if T.ndim != 3 or np.shape(A0) != (T.shape[0], k) or np.shape(w0) != (k,) or len(set(T.shape)) != 1:
            raise ValueError(
                f"init must be (weights of shape ({k},), A of shape (d, {k})) for a (d, d, d) tensor T, "
                f"got shapes {np.shape(w0)}, {np.shape(A0)} for T of shape {T.shape}"
            )
        start = tl.cp_tensor.CPTensor((np.asarray(w0, dtype=float), [np.array(A0, dtype=float) for _ in range(3)]))
    cp = parafac(tl.tensor(T), rank=k, init=start, random_state=seed_int, n_iter_max=n_iter_max, tol=tol)
    factors = [np.asarray(f) for f in cp.factors]
    norms = [np.linalg.norm(f, axis=0) for f in factors]
    weights = np.asarray(cp.weights) * np.prod(norms, axis=0)
    return weights, [f / nrm for f, nrm in zip(factors, norms)]


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


_MOVED = frozenset(
    ["ht_tensor", "random_ht", "cp_to_ht", "ht_to_cp", "matricization_rank", "eckart_young_bound"]
)


def __getattr__(name):
    """The Hierarchical Tucker functions moved to :mod:`tensordl.hierarchical`; old names still resolve."""
    if name in _MOVED:
        import importlib

        warnings.warn(
            f"tensordl.decomposition.{name} moved to tensordl.hierarchical.{name}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module("tensordl.hierarchical"), name)
    raise AttributeError(f"module 'tensordl.decomposition' has no attribute {name!r}")
