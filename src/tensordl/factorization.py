"""Matrix factorization: low rank, the nuclear norm and its variational principle.

Slides: "Tensor Methods" (both), "Motivation: Matrix factorization" (both) and the
variational-principle slides of "Tensor Norms [Bach, Haeffele&Vidal]". Papers:
Bach (2013), Haeffele & Vidal (2015). Used by
``notebooks/02_matrix_factorization.md`` and
``notebooks/03_global_optimality_certificates.md``.

The two problems of the slides, for the squared loss ``l(X) = 1/2 ||P(Y - X)||_F^2``
(``P`` keeps the observed entries; all of them by default):

- the convex, *lifted* problem ``min_X l(X) + lam ||X||_*`` (``solve_convex``);
- the factorized problem ``min_{U,V} l(U V^T) + lam/2 (||U||_F^2 + ||V||_F^2)``
  (``solve_factorized``).

They are linked by ``||X||_* = min_{U V^T = X} 1/2 (||U||_F^2 + ||V||_F^2)``,
attained by the balanced factors ``U = U_r S^(1/2)``, ``V = V_r S^(1/2)`` of the
SVD (``balanced_factors``).
"""

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
import scipy.optimize

from ._checks import ConvergenceWarning, as_float, as_int, as_matrix, warn_not_converged
from ._checks import as_lam as _as_lam
from ._checks import as_mask as _as_mask
from ._checks import check_factors as _check_factors
from .data import rng as _rng

__all__ = [
    "ConvergenceWarning",
    "SolverInfo",
    "nuclear_norm",
    "svt",
    "balanced_factors",
    "convex_objective",
    "factorized_objective",
    "factorized_hessian",
    "factorized_gradient",
    "variational_norm",
    "solve_convex",
    "solve_factorized",
    "factorize_gd",
    "gd_start",
    "mode_dynamics",
    "factorized_gradient",
    "factorized_hessian",
]


@dataclass
class SolverInfo:
    """What an iterative solver did: iterations, convergence flag, objective history."""

    n_iter: int
    converged: bool
    objective: float
    history: list = field(default_factory=list)


def nuclear_norm(X):
    """The nuclear norm ``||X||_*``: the sum of the singular values.

    Examples
    --------
    >>> nuclear_norm(np.diag([3.0, -4.0]))
    7.0
    """
    X = as_matrix(X, "X")
    return float(np.linalg.svd(X, compute_uv=False).sum())


def _top_svd(Y, k, oversample=10, max_iter=100, tol=1e-12):
    """The ``k + oversample`` leading singular triplets of ``Y`` by block subspace iteration.

    A deterministic start (a fixed seed) multiplied by ``Y``, then alternating
    orthonormalised products with ``Y^T`` and ``Y`` until the leading ``k``
    triplets have residuals ``||Y v_i - s_i u_i||`` below ``tol * s_max``: thin
    GEMMs instead of a full SVD. Values are sorted decreasingly; the ``k``-th
    onward are the oversampling columns, less accurate. The last value returned
    says whether ``tol`` was met within ``max_iter`` iterations.
    """
    b = min(k + oversample, min(Y.shape))
    Q = np.linalg.qr(Y @ np.random.default_rng(0).standard_normal((Y.shape[1], b)))[0]
    for _ in range(max_iter):
        Q = np.linalg.qr(Y @ np.linalg.qr(Y.T @ Q)[0])[0]
        Ub, s, Vt = np.linalg.svd(Q.T @ Y, full_matrices=False)
        U = Q @ Ub
        if np.linalg.norm(Y @ Vt[:k].T - U[:, :k] * s[:k], axis=0).max() <= tol * s[0]:
            return U, s, Vt, True
    return U, s, Vt, False


def svt(Y, tau, rank_hint=None):
    """Singular value thresholding, the proximal map of ``tau ||.||_*``.

    ``svt(Y, tau) = U max(S - tau, 0) V^T`` is the unique minimiser of
    ``1/2 ||Y - X||_F^2 + tau ||X||_*``.

    Parameters
    ----------
    Y : ndarray of shape (m, n)
    tau : float
        Threshold, ``tau >= 0``.
    rank_hint : int, optional
        Expected number of singular values above ``tau``. When given, only the
        leading singular triplets are computed (block subspace iteration),
        doubling their number until the next one is estimated at least 5% below
        ``tau``; a full SVD is used past ``min(m, n) / 3`` or when the iteration
        does not converge. Pays when the spectrum has a gap below ``tau``.

    Returns
    -------
    ndarray of shape (m, n)

    Examples
    --------
    >>> svt(np.diag([3.0, 1.0]), 2.0)
    array([[1., 0.],
           [0., 0.]])
    """
    Y = as_matrix(Y, "Y")
    tau = _as_lam(tau)
    U, s, Vt = _thresholded_svd(Y, tau, rank_hint)
    return (U * s) @ Vt


def _thresholded_svd(Y, tau, rank_hint):
    small = min(Y.shape)
    if rank_hint is not None:
        k = as_int(rank_hint, "rank_hint", minimum=1)
        while 3 * k < small:
            U, s, Vt, ok = _top_svd(Y, k)
            if not ok:  # slow spectral decay: the full SVD is both exact and cheaper here
                break
            # s[k] is a Ritz value from the oversampling block, an estimate from below of the (k+1)-th
            # singular value: trust it only with a 5% margin, otherwise take more values or a full SVD
            if s[k] <= 0.95 * tau:
                keep = s[:k] > tau
                return U[:, :k][:, keep], s[:k][keep] - tau, Vt[:k][keep]
            k *= 2
    U, s, Vt = np.linalg.svd(Y, full_matrices=False)
    keep = s > tau
    return U[:, keep], s[keep] - tau, Vt[keep]


def balanced_factors(X, tol=None):
    """Factors ``U = U_r S^(1/2)``, ``V = V_r S^(1/2)`` with ``U V^T = X``.

    They attain the variational principle
    ``||X||_* = min_{U V^T = X} 1/2 (||U||_F^2 + ||V||_F^2)``.

    Parameters
    ----------
    X : ndarray of shape (m, n)
    tol : float, optional
        Singular values below ``tol`` are dropped; default
        ``max(m, n) * eps * s_max``.

    Returns
    -------
    U : ndarray of shape (m, r)
    V : ndarray of shape (n, r)

    Examples
    --------
    >>> U, V = balanced_factors(np.diag([4.0, 1.0]))
    >>> float(0.5 * (np.sum(U**2) + np.sum(V**2)))
    5.0
    """
    X = as_matrix(X, "X")
    Uf, s, Vt = np.linalg.svd(X, full_matrices=False)
    if tol is None:
        tol = max(X.shape) * np.finfo(float).eps * (s[0] if s.size else 0.0)
    keep = s > tol
    root = np.sqrt(s[keep])
    return Uf[:, keep] * root, Vt[keep].T * root


def convex_objective(Y, X, lam, mask=None):
    """``1/2 ||P(Y - X)||_F^2 + lam ||X||_*``.

    Examples
    --------
    >>> convex_objective(np.eye(2), np.zeros((2, 2)), 1.0)
    1.0
    """
    Y = as_matrix(Y, "Y")
    X = as_matrix(X, "X")
    if X.shape != Y.shape:
        raise ValueError(f"X must have the shape of Y {Y.shape}, got {X.shape}")
    R = Y - X
    if mask is not None:
        R = R * _as_mask(mask, Y.shape)
    return float(0.5 * np.sum(R**2) + _as_lam(lam) * nuclear_norm(X))


def factorized_objective(Y, U, V, lam, mask=None):
    """``1/2 ||P(Y - U V^T)||_F^2 + lam/2 (||U||_F^2 + ||V||_F^2)``.

    Examples
    --------
    >>> factorized_objective(np.eye(2), np.eye(2), np.eye(2), 1.0)
    2.0
    """
    Y, U, V = _check_factors(Y, U, V)
    R = Y - U @ V.T
    if mask is not None:
        R = R * _as_mask(mask, Y.shape)
    return float(0.5 * np.sum(R**2) + 0.5 * _as_lam(lam) * (np.sum(U**2) + np.sum(V**2)))


def factorized_hessian(Y, U, V, lam, mask=None):
    """The Hessian of ``1/2 ||P(Y - U V^T)||^2 + lam/2 (||U||_F^2 + ||V||_F^2)``.

    In closed form, with ``E = P(U V^T - Y)`` and ``M`` the mask:
    ``d2f/dU_ik dU_i'k' = [i = i'] sum_j M_ij V_jk V_jk' + lam [ik = i'k']``,
    ``d2f/dV_jk dV_j'k' = [j = j'] sum_i M_ij U_ik U_ik' + lam [jk = j'k']`` and
    ``d2f/dU_ik dV_jk' = M_ij U_ik' V_jk + [k = k'] E_ij``. The variables are
    ``(U.ravel(), V.ravel())`` (row-major), as in ``solve_factorized``'s ``init``.
    Used by ``notebooks/02_matrix_factorization.md`` and
    ``notebooks/03_global_optimality_certificates.md`` to tell local minima from saddles.

    Parameters
    ----------
    Y : ndarray of shape (m, n)
    U : ndarray of shape (m, r)
    V : ndarray of shape (n, r)
    lam : float
        ``lam >= 0``.
    mask : ndarray of bool of shape (m, n), optional
        Observed entries; all when omitted.

    Returns
    -------
    ndarray of shape ((m + n) r, (m + n) r)
        Symmetric.

    Examples
    --------
    At the origin of the scalar problem the eigenvalues are ``lam -+ |y|``:

    >>> H = factorized_hessian(np.array([[2.0]]), np.zeros((1, 1)), np.zeros((1, 1)), 0.5)
    >>> np.linalg.eigvalsh(H)
    array([-1.5,  2.5])
    """
    Y, U, V = _check_factors(Y, U, V)
    lam = _as_lam(lam)
    mask = _as_mask(mask, Y.shape)
    M = np.ones(Y.shape) if mask is None else mask.astype(float)
    (m, r), n = U.shape, V.shape[0]
    E = M * (U @ V.T - Y)
    Huu = np.einsum("ij,jk,jl->ikl", M, V, V)  # (m, r, r): one block per row i
    Hvv = np.einsum("ij,ik,il->jkl", M, U, U)  # (n, r, r): one block per row j
    Huv = np.einsum("ij,il,jk->ikjl", M, U, V) + np.einsum("ij,kl->ikjl", E, np.eye(r))
    H = np.zeros(((m + n) * r, (m + n) * r))
    for i in range(m):
        H[i * r : (i + 1) * r, i * r : (i + 1) * r] = Huu[i]
    for j in range(n):
        b = (m + j) * r
        H[b : b + r, b : b + r] = Hvv[j]
    H[: m * r, m * r :] = Huv.reshape(m * r, n * r)
    H[m * r :, : m * r] = H[: m * r, m * r :].T
    return H + lam * np.eye((m + n) * r)


def factorized_gradient(Y, U, V, lam, mask=None):
    """The gradient of ``1/2 ||P(Y - U V^T)||^2 + lam/2 (||U||_F^2 + ||V||_F^2)``.

    ``(lam U - R V, lam V - R^T U)`` with ``R = P(Y - U V^T)``. Used by
    ``notebooks/02_matrix_factorization.md`` and
    ``notebooks/03_global_optimality_certificates.md`` (stationarity of stuck points).

    Returns
    -------
    gU, gV : ndarray of shapes (m, r) and (n, r)

    Examples
    --------
    >>> gU, gV = factorized_gradient(np.array([[2.0]]), np.ones((1, 1)), np.ones((1, 1)), 1.0)
    >>> float(gU[0, 0]), float(gV[0, 0])
    (0.0, 0.0)
    """
    Y, U, V = _check_factors(Y, U, V)
    lam = _as_lam(lam)
    mask = _as_mask(mask, Y.shape)
    R = Y - U @ V.T if mask is None else np.where(mask, Y - U @ V.T, 0.0)
    return lam * U - R @ V, lam * V - R.T @ U


def variational_norm(X, seed, rho=1.0, tol=1e-8, max_rounds=50):
    """``min 1/2 (||U||_F^2 + ||V||_F^2)`` over ``U V^T = X``: the nuclear norm by its variational definition.

    An augmented Lagrangian from a random start with ``min(m, n)`` columns:
    L-BFGS on ``1/2 |theta|^2 - <Lam, E> + rho/2 |E|^2`` (``E = U V^T - X``), then
    ``Lam <- Lam - rho E``, until ``|E| <= tol |X|``. It never uses the closed
    form, so it can test the Proposition [H-V] (convexity, degree) on values that
    no formula produced. Used by ``notebooks/03_global_optimality_certificates.md``.

    Parameters
    ----------
    X : ndarray of shape (m, n)
    seed : int or numpy.random.Generator
        The random start.
    rho : float, default=1.0
    tol : float, default=1e-8
        Relative constraint violation at which to stop.
    max_rounds : int, default=50
        Multiplier updates at most.

    Returns
    -------
    float

    Examples
    --------
    >>> round(variational_norm(np.diag([3.0, 1.0]), seed=0), 6)
    4.0
    """
    X = as_matrix(X, "X")
    rho = as_float(rho, "rho", minimum=0)
    tol = as_float(tol, "tol", minimum=0)
    max_rounds = as_int(max_rounds, "max_rounds", minimum=1)
    g = _rng(seed)
    (m, n), k = X.shape, min(X.shape)
    th, Lam = g.normal(size=(m + n) * k), np.zeros_like(X)

    def f(th):
        U, V = th[: m * k].reshape(m, k), th[m * k :].reshape(n, k)
        E = U @ V.T - X
        G = rho * E - Lam
        val = 0.5 * th @ th - np.sum(Lam * E) + 0.5 * rho * np.sum(E * E)
        return val, np.concatenate([(U + G @ V).ravel(), (V + G.T @ U).ravel()])

    opts = {"gtol": 1e-9, "ftol": 1e-15, "maxiter": 2000}
    for _ in range(max_rounds):
        th = scipy.optimize.minimize(f, th, jac=True, method="L-BFGS-B", options=opts).x
        E = th[: m * k].reshape(m, k) @ th[m * k :].reshape(n, k).T - X
        Lam = Lam - rho * E
        if np.linalg.norm(E) <= tol * np.linalg.norm(X):
            break
    return 0.5 * float(th @ th)


def _warn(solver, max_iter, tol):
    warn_not_converged(f"{solver} did not reach tol={tol:g} within max_iter={max_iter} iterations", stacklevel=3)


def solve_convex(Y, lam, mask=None, method="auto", rank_hint=None, max_iter=500, tol=1e-10, return_info=False):
    """Minimise ``1/2 ||P(Y - X)||_F^2 + lam ||X||_*`` over ``X``.

    Parameters
    ----------
    Y : ndarray of shape (m, n)
    lam : float
        Regularisation weight, ``lam >= 0``.
    mask : ndarray of bool, optional
        Observed entries (``P``); all when omitted.
    method : {"auto", "svt", "apg"}, default="auto"
        ``"svt"``: the closed form ``svt(Y, lam)`` (full observation only).
        ``"apg"``: accelerated proximal gradient (FISTA with restarts), one
        singular value thresholding per iteration. ``"auto"`` picks ``"svt"``
        when ``mask`` is None.
    rank_hint : int, optional
        Passed to ``svt``: compute only the leading singular triplets.
    max_iter : int, default=500
    tol : float, default=1e-10
        APG stops when the relative change of ``X`` falls below ``tol``.
    return_info : bool, default=False
        Also return a ``SolverInfo``.

    Returns
    -------
    X : ndarray of shape (m, n)
    info : SolverInfo, only if ``return_info``

    Examples
    --------
    >>> Y = np.diag([3.0, 1.0])
    >>> np.allclose(solve_convex(Y, 0.5), solve_convex(Y, 0.5, method="apg"))
    True
    """
    Y = as_matrix(Y, "Y")
    lam = _as_lam(lam)
    mask = _as_mask(mask, Y.shape)
    if method not in ("auto", "svt", "apg"):
        raise ValueError(f"method must be one of ['apg', 'auto', 'svt'], got {method!r}")
    max_iter = as_int(max_iter, "max_iter", minimum=1)
    if method == "svt" and mask is not None:
        raise ValueError("method='svt' is the closed form for full observation; use method='apg' with a mask")
    if method in ("auto", "svt") and mask is None:
        U, s, Vt = _thresholded_svd(Y, lam, rank_hint)
        X = (U * s) @ Vt
        info = SolverInfo(0, True, 0.5 * float(np.sum((Y - X) ** 2)) + lam * float(s.sum()))
        return (X, info) if return_info else X

    P = np.ones(Y.shape, dtype=bool) if mask is None else mask
    X = np.zeros_like(Y)
    Z, t, hist = X.copy(), 1.0, []
    converged = False
    for it in range(1, max_iter + 1):
        Us, s, Vts = _thresholded_svd(Z + P * (Y - Z), lam, rank_hint)  # prox of a unit gradient step
        X_new = (Us * s) @ Vts
        change = np.linalg.norm(X_new - X) / max(np.linalg.norm(X_new), 1e-300)
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        Z = X_new + ((t - 1.0) / t_new) * (X_new - X)
        obj = 0.5 * float(np.sum((P * (Y - X_new)) ** 2)) + lam * float(s.sum())  # ||X_new||_* = sum(s)
        if hist and obj > hist[-1]:  # adaptive restart keeps the objective monotone
            t_new, Z = 1.0, X_new
        X, t = X_new, t_new
        hist.append(obj)
        n_iter = it
        if change < tol:
            converged = True
            break
    if not converged:
        _warn("solve_convex (apg)", max_iter, tol)
    info = SolverInfo(n_iter, converged, hist[-1], hist)
    return (X, info) if return_info else X


def solve_factorized(Y, lam, r, seed, mask=None, init=None, max_iter=2000, tol=1e-12, return_info=False):
    """Minimise ``1/2 ||P(Y - U V^T)||_F^2 + lam/2 (||U||_F^2 + ||V||_F^2)`` by alternating ridge steps.

    Each half-step is solved exactly (a ridge regression per row of ``U``, then
    of ``V``), so the objective never increases. Local descent: from a random
    start it finds a stationary point, which ``tensordl.certificates.certify``
    can certify as global.

    Parameters
    ----------
    Y : ndarray of shape (m, n)
    lam : float
        ``lam >= 0``; with ``lam = 0`` a tiny ridge keeps the steps defined.
    r : int
        Number of columns of the factors, ``r >= 1``.
    seed : int or numpy.random.Generator
        Draws the start ``U, V ~ N(0, 1/r)`` when ``init`` is None.
    mask : ndarray of bool, optional
        Observed entries; all when omitted.
    init : tuple of ndarray, optional
        Starting ``(U, V)``; its width must be ``r``.
    max_iter : int, default=2000
    tol : float, default=1e-12
        Stop when the relative decrease of the objective falls below ``tol``.
    return_info : bool, default=False

    Returns
    -------
    U : ndarray of shape (m, r)
    V : ndarray of shape (n, r)
    info : SolverInfo, only if ``return_info``

    Examples
    --------
    >>> Y = np.outer([1.0, 2.0], [3.0, 1.0])
    >>> U, V = solve_factorized(Y, 0.0, r=1, seed=0)
    >>> bool(np.allclose(U @ V.T, Y, atol=1e-6))
    True
    """
    Y = as_matrix(Y, "Y")
    lam = _as_lam(lam)
    r = as_int(r, "r", minimum=1)
    mask = _as_mask(mask, Y.shape)
    max_iter = as_int(max_iter, "max_iter", minimum=1)
    if init is None:
        g = _rng(seed)
        U = g.normal(0.0, 1.0 / np.sqrt(r), (Y.shape[0], r))
        V = g.normal(0.0, 1.0 / np.sqrt(r), (Y.shape[1], r))
    else:
        _, U, V = _check_factors(Y, *init)
        if U.shape[1] != r:
            raise ValueError(f"init factors must have r = {r} columns, got {U.shape[1]}")
        U, V = U.copy(), V.copy()
    ridge = max(lam, 1e-12 * max(1.0, np.abs(Y).max()))
    hist, converged = [factorized_objective(Y, U, V, lam, mask)], False
    for it in range(1, max_iter + 1):
        U = _ridge_rows(Y, V, ridge, mask)
        V = _ridge_rows(Y.T, U, ridge, None if mask is None else mask.T)
        hist.append(factorized_objective(Y, U, V, lam, mask))
        n_iter = it
        if hist[-2] - hist[-1] <= tol * max(abs(hist[-1]), 1e-300):
            converged = True
            break
    if not converged:
        _warn("solve_factorized", max_iter, tol)
    info = SolverInfo(n_iter, converged, hist[-1], hist)
    return (U, V, info) if return_info else (U, V)


def _ridge_rows(Y, V, lam, mask):
    """Rows ``u_i = argmin 1/2 ||P_i(y_i - V u)||^2 + lam/2 ||u||^2``."""
    r = V.shape[1]
    if mask is None:
        G = V.T @ V + lam * np.eye(r)
        return scipy.linalg.solve(G, V.T @ Y.T, assume_a="pos").T
    G = np.einsum("ij,jk,jl->ikl", mask.astype(float), V, V) + lam * np.eye(r)  # one Gram matrix per row
    rhs = (Y * mask) @ V
    return np.linalg.solve(G, rhs[:, :, None])[:, :, 0]


def factorize_gd(Y, r, seed, lr=None, n_iter=2000):
    """Plain gradient descent on ``1/2 ||Y - U V^T||_F^2`` from a small random start.

    Parameters
    ----------
    Y : ndarray of shape (m, n)
    r : int
        Width of the factors.
    seed : int or numpy.random.Generator
    lr : float, optional
        Step size; default ``0.2 / ||Y||_2``.
    n_iter : int, default=2000

    Returns
    -------
    U, V : ndarray
    errors : ndarray of shape (n_iter + 1,)
        ``||Y - U V^T||_F`` after each step.

    Examples
    --------
    >>> Y = np.outer([1.0, 2.0], [3.0, 1.0])
    >>> U, V, err = factorize_gd(Y, r=1, seed=0, n_iter=3000)
    >>> bool(err[-1] < 1e-8)
    True
    """
    Y = as_matrix(Y, "Y")
    r = as_int(r, "r", minimum=1)
    n_iter = as_int(n_iter, "n_iter", minimum=1)
    U, V = gd_start(Y, r, seed)
    if lr is None:
        lr = 0.2 / np.linalg.norm(Y, 2)
    errors = np.empty(n_iter + 1)
    R = Y - U @ V.T
    errors[0] = np.linalg.norm(R)
    for it in range(1, n_iter + 1):
        U, V = U + lr * R @ V, V + lr * R.T @ U
        R = Y - U @ V.T
        errors[it] = np.linalg.norm(R)
    return U, V, errors


def gd_start(Y, r, seed):
    """The small random start of ``factorize_gd``.

    ``U`` and ``V`` have i.i.d. ``N(0, s^2)`` entries, ``s = 0.01 (||Y||_2 / max(m, n))^(1/2)``,
    drawn from ``seed`` (``U`` first).

    Examples
    --------
    >>> Y = np.outer([1.0, 2.0], [3.0, 1.0])
    >>> U0, V0 = gd_start(Y, r=1, seed=0)
    >>> U0.shape, V0.shape
    ((2, 1), (2, 1))
    """
    Y = as_matrix(Y, "Y")
    r = as_int(r, "r", minimum=1)
    g = _rng(seed)
    scale = np.sqrt(np.linalg.norm(Y, 2) / max(Y.shape)) * 1e-2
    U = g.normal(0.0, scale, (Y.shape[0], r))
    V = g.normal(0.0, scale, (Y.shape[1], r))
    return U, V


def mode_dynamics(sigma, c0, lr, n_iter):
    """Gradient descent on one decoupled, balanced mode of ``factorize_gd``.

    Minimises ``1/2 (sigma - a b)^2`` from ``a = b = c0^(1/2)`` with step ``lr``.

    The linearised picture of ``factorize_gd`` near zero (Saxe, McClelland & Ganguli):
    the component ``c = a b`` of ``U V^T`` along one singular pair grows by about
    ``(1 + lr sigma)^2`` per step, then saturates at ``sigma``.

    Returns
    -------
    c : ndarray of shape (n_iter + 1,)
        ``a b`` after each step (``c[0] = c0``).

    Examples
    --------
    >>> c = mode_dynamics(1.0, 1e-6, 0.1, 400)
    >>> bool(abs(c[-1] - 1.0) < 1e-8)
    True
    """
    sigma = as_float(sigma, "sigma", minimum=0)
    c0 = as_float(c0, "c0", minimum=0)
    lr = as_float(lr, "lr", minimum=0)
    if lr == 0:
        raise ValueError("lr must be positive")
    n_iter = as_int(n_iter, "n_iter", minimum=1)
    a = b = np.sqrt(c0)
    c = np.empty(n_iter + 1)
    c[0] = c0
    for it in range(1, n_iter + 1):
        step = lr * (sigma - a * b)
        a, b = a + step * b, b + step * a
        c[it] = a * b
    return c
