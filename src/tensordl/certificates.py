"""Global optimality certificates for factorized problems (Haeffele & Vidal; Bach).

Slides: "Tensor Norms [Bach, Haeffele&Vidal]" (both), the homogeneous-maps slides,
"Proposition [H-V]", both "Theorem [H-V]" slides and "Pros / Cons". Papers:
Haeffele & Vidal (2015), Bach (2013). Used by
``notebooks/02_matrix_factorization.md`` (``optimality_violation``) and
``notebooks/03_global_optimality_certificates.md``.

For a factorization ``X = sum_i u_i v_i^T`` with regulariser
``Theta(U, V) = sum_i ||u_i||_a ||v_i||_b`` (positively homogeneous of degree 2,
like the map ``(U, V) -> U V^T``), the induced convex regulariser is the tensor norm
``Omega(X) = ||X||_{a,b} = inf sum_i ||u_i||_a ||v_i||_b`` and its polar is

    Omega°(Z) = sup { u^T Z v : ||u||_a <= 1, ||v||_b <= 1 }.

A factorization is a global minimiser of ``l(U V^T) + lam Theta(U, V)`` (and
``U V^T`` of the convex ``l(X) + lam Omega(X)``) iff it is a first-order point and
``Omega°(-grad l(U V^T) / lam) <= 1``: the certificate that ``certify`` checks and
``grow_rank`` drives to.

Norm pairs with an exact polar here: ``("l2", "l2")`` (nuclear norm / operator
norm), ``("l1", "l2")`` (sum of row norms / largest row norm), ``("l2", "l1")``
(columns) and ``("l1", "l1")`` (entrywise l1 / largest entry).
"""

import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.optimize
import scipy.sparse.linalg

from ._checks import as_float, as_int, as_matrix, as_samples, warn_not_converged
from ._checks import as_lam as _as_lam
from ._checks import as_mask as _as_mask
from ._checks import check_factors as _check_factors
from .data import rng as _rng
from .factorization import solve_factorized

__all__ = [
    "NORM_PAIRS",
    "Certificate",
    "GrowResult",
    "ReluGrowResult",
    "ReluPolar",
    "ReluCertificate",
    "polar",
    "tensor_norm",
    "certify",
    "add_polar_column",
    "grow_rank",
    "polar_power",
    "relu_net",
    "relu_polar",
    "certify_relu",
    "grow_relu_network",
    "optimality_violation",
]

NORM_PAIRS = (("l2", "l2"), ("l1", "l2"), ("l2", "l1"), ("l1", "l1"))


def _as_norms(norms):
    norms = tuple(norms) if isinstance(norms, (tuple, list)) else norms
    if norms not in NORM_PAIRS:
        raise ValueError(f"norms must be one of {list(NORM_PAIRS)}, got {norms!r}")
    return norms


def polar(Z, norms=("l2", "l2"), return_maximizer=False):
    """The polar ``Omega°(Z) = sup { u^T Z v : ||u||_a <= 1, ||v||_b <= 1 }``, exactly.

    Parameters
    ----------
    Z : ndarray of shape (m, n)
    norms : tuple of str, default=("l2", "l2")
        One of ``NORM_PAIRS``. ``("l2", "l2")``: the largest singular value;
        ``("l1", "l2")``: the largest row norm (the l1 ball's extreme points are
        ``+-e_i``); ``("l2", "l1")``: the largest column norm;
        ``("l1", "l1")``: the largest absolute entry.
    return_maximizer : bool, default=False
        Also return unit ``u, v`` attaining the supremum.

    Returns
    -------
    float, or (float, ndarray, ndarray)

    Examples
    --------
    >>> Z = np.array([[3.0, 4.0], [0.0, 1.0]])
    >>> polar(Z, ("l1", "l2")), polar(Z, ("l1", "l1"))
    (5.0, 4.0)
    """
    Z = as_matrix(Z, "Z")
    value, u, v = _DUAL_PAIRS[_as_norms(norms)][0](Z)
    return (value, u, v) if return_maximizer else value


def tensor_norm(X, norms=("l2", "l2")):
    """The tensor norm ``||X||_{a,b} = inf_r min_{U V^T = X} sum_i ||u_i||_a ||v_i||_b``, in closed form.

    The dual norm of ``polar``: the nuclear norm for ``("l2", "l2")``, the sum of
    row l2 norms for ``("l1", "l2")``, of column norms for ``("l2", "l1")``, and
    the entrywise l1 norm for ``("l1", "l1")``.

    Examples
    --------
    >>> tensor_norm(np.array([[3.0, 4.0], [0.0, 1.0]]), ("l1", "l2"))
    6.0
    """
    X = as_matrix(X, "X")
    return float(_DUAL_PAIRS[_as_norms(norms)][1](X))


def _polar_l2_l2(Z):
    """The largest singular value and its singular vectors."""
    m, n = Z.shape
    if min(m, n) > 60:
        # Lanczos (ARPACK) for the top pair: at an optimum the residual's top singular values form a
        # cluster at lam, which block subspace iteration resolves slowly and Lanczos does not
        v0 = np.full(min(m, n), 1.0 / np.sqrt(min(m, n)))
        U, s, Vt = scipy.sparse.linalg.svds(Z, k=1, tol=1e-12, v0=v0)
    else:
        U, s, Vt = np.linalg.svd(Z, full_matrices=False)
    return float(s[0]), U[:, 0], Vt[0]


def _polar_l1_l2(Z):
    """The largest row norm: the l1 ball's extreme points are the signed basis vectors."""
    rows = np.linalg.norm(Z, axis=1)
    i = int(np.argmax(rows))
    return float(rows[i]), np.eye(Z.shape[0])[i], Z[i] / max(rows[i], 1e-300)


def _polar_l2_l1(Z):
    """The largest column norm: the transpose's largest row norm."""
    value, v, u = _polar_l1_l2(Z.T)
    return value, u, v


def _polar_l1_l1(Z):
    """The largest absolute entry."""
    i, j = np.unravel_index(int(np.argmax(np.abs(Z))), Z.shape)
    return float(abs(Z[i, j])), np.sign(Z[i, j]) * np.eye(Z.shape[0])[i], np.eye(Z.shape[1])[j]


# each pair of norms: its polar (value and maximisers) and its tensor norm, side by side
_DUAL_PAIRS = {
    ("l2", "l2"): (_polar_l2_l2, lambda X: np.linalg.svd(X, compute_uv=False).sum()),
    ("l1", "l2"): (_polar_l1_l2, lambda X: np.linalg.norm(X, axis=1).sum()),
    ("l2", "l1"): (_polar_l2_l1, lambda X: np.linalg.norm(X, axis=0).sum()),
    ("l1", "l1"): (_polar_l1_l1, lambda X: np.abs(X).sum()),
}


def _column_norm(A, kind):
    return np.linalg.norm(A, ord=1 if kind == "l1" else 2, axis=0)


@dataclass
class Certificate:
    """The outcome of ``certify``.

    Attributes
    ----------
    certified : bool
        ``polar <= 1 + tol``: at a first-order point the factorization is a global
        minimiser when ``polar <= 1``, and within ``gap`` of one when ``tol > 0``.
    polar : float
        ``Omega°(-grad l / lam)``.
    gap : float
        Duality gap of the convex problem at ``X = U V^T`` (primal taken with the
        factorized regulariser, an upper bound), relative to the primal value.
    objective : float
        ``l(U V^T) + lam sum_i ||u_i||_a ||v_i||_b``.
    first_order : float
        ``|<-grad l / lam, U V^T> - Theta(U, V)| / max(Theta, tiny)``; zero at
        first-order points, the theorem's other condition.
    zero_columns : int
        Number of columns with ``||u_i|| ||v_i||`` below ``1e-8`` of the largest.
    """

    certified: bool
    polar: float
    gap: float
    objective: float
    first_order: float
    zero_columns: int


def certify(Y, factors, lam, mask=None, norms=("l2", "l2"), tol=1e-4):
    """Check the Haeffele–Vidal certificate for ``1/2 ||P(Y - U V^T)||^2 + lam Theta(U, V)``.

    Parameters
    ----------
    Y : ndarray of shape (m, n)
    factors : tuple of ndarray
        ``(U, V)`` of shapes ``(m, r)`` and ``(n, r)``.
    lam : float
        ``lam > 0``.
    mask : ndarray of bool, optional
        Observed entries; all when omitted.
    norms : tuple of str, default=("l2", "l2")
    tol : float, default=1e-4
        Slack allowed in ``polar <= 1``: at a global minimiser the polar is
        exactly 1 on the active atoms, and a local solver stops a little short.

    Returns
    -------
    Certificate

    Examples
    --------
    >>> from tensordl.factorization import solve_convex, balanced_factors
    >>> Y = np.diag([3.0, 1.0, 0.5])
    >>> c = certify(Y, balanced_factors(solve_convex(Y, 0.8)), 0.8)
    >>> c.certified, round(c.polar, 6)
    (True, 1.0)
    """
    Y, U, V = _check_factors(Y, *factors)
    lam = _as_lam(lam)
    if lam == 0:
        raise ValueError("lam must be > 0 for a certificate (the polar of grad l / lam)")
    norms = _as_norms(norms)
    mask = _as_mask(mask, Y.shape)
    X = U @ V.T
    R = Y - X if mask is None else (Y - X) * mask  # -grad l
    weights = _column_norm(U, norms[0]) * _column_norm(V, norms[1])
    theta = float(weights.sum())
    primal = 0.5 * float(np.sum(R**2)) + lam * theta
    pol = polar(R / lam, norms)
    Lam = R * min(1.0, 1.0 / pol) if pol > 0 else R
    Yo = Y if mask is None else Y * mask
    dual = float(np.sum(Yo * Lam) - 0.5 * np.sum(Lam**2))
    first = abs(float(np.sum(R * X)) / lam - theta) / max(theta, 1e-300)
    zero = int(np.sum(weights <= 1e-8 * max(weights.max(initial=0.0), 1e-300)))
    return Certificate(
        certified=bool(pol <= 1.0 + tol),
        polar=float(pol),
        gap=max(primal - dual, 0.0) / max(abs(primal), 1e-300),
        objective=primal,
        first_order=first,
        zero_columns=zero,
    )


def add_polar_column(Y, U, V, lam, mask=None):
    """Append the polar's maximiser as a new column, sized by an exact line search.

    The step of the meta-algorithm (``(l2, l2)``): with ``R = P(Y - U V^T)`` and
    ``(u, v)`` its top singular pair, the new column is ``sqrt(b) (u, v)`` with
    ``b = max((u^T R v - lam) / ||P(u v^T)||^2, 0)``, the minimiser of
    ``1/2 ||R - b P(u v^T)||^2 + lam b``. ``b > 0`` exactly when the polar
    ``||R||_op / lam`` exceeds 1. Used by ``grow_rank`` and by
    ``notebooks/03_global_optimality_certificates.md`` (one escape step).

    Parameters
    ----------
    Y : ndarray of shape (m, n)
    U : ndarray of shape (m, r)
    V : ndarray of shape (n, r)
    lam : float
        ``lam >= 0``.
    mask : ndarray of bool of shape (m, n), optional

    Returns
    -------
    U, V : ndarray of shapes (m, r + 1) and (n, r + 1)

    Examples
    --------
    >>> U, V = add_polar_column(np.diag([3.0, 1.0]), np.zeros((2, 0)), np.zeros((2, 0)), 1.0)
    >>> np.round(np.abs(U @ V.T), 12)
    array([[2., 0.],
           [0., 0.]])
    """
    Y, U, V = _check_factors(Y, U, V)
    lam = _as_lam(lam)
    mask = _as_mask(mask, Y.shape)
    P = np.ones(Y.shape, dtype=bool) if mask is None else mask
    R = (Y - U @ V.T) * P
    _, u, v = polar(R, return_maximizer=True)
    step = (u @ R @ v - lam) / np.sum((np.outer(u, v) * P) ** 2)
    b = np.sqrt(max(step, 0.0))
    return np.column_stack([U, b * u]), np.column_stack([V, b * v])


def polar_power(T, seed, tol=1e-13, max_iter=20000):
    """Alternating power method for ``sup T(u, v[, w])`` over unit vectors: a lower bound on the polar.

    For a matrix (``T`` of order 2) the iteration ``u <- T v / |T v|``,
    ``v <- T^T u / |T^T u|`` reaches ``sigma_1`` from almost every start; for a
    third-order tensor (the CP polar, the spectral norm) the higher-order power
    method ``u <- T(., v, w)`` and so on converges to a *local* maximum, so the
    value is only a lower bound on the polar. Stops when the value changes by
    at most ``tol`` relative. Used by
    ``notebooks/03_global_optimality_certificates.md`` ("Is it easy to check?").

    Parameters
    ----------
    T : ndarray of shape (m, n) or (m, n, k)
    seed : int or numpy.random.Generator
        The random start: ``v`` (order 2), ``v, w`` (order 3).
    tol : float, default=1e-13
    max_iter : int, default=20000

    Returns
    -------
    value : float
    converged : bool

    Examples
    --------
    >>> val, ok = polar_power(np.diag([2.0, 1.0]), seed=0)
    >>> round(val, 12), ok
    (2.0, True)
    """
    T = np.asarray(T, dtype=np.float64)
    if T.ndim not in (2, 3) or not np.all(np.isfinite(T)):
        raise ValueError(f"T must be a finite array of order 2 or 3, got shape {T.shape}")
    tol = as_float(tol, "tol", minimum=0)
    max_iter = as_int(max_iter, "max_iter", minimum=1)
    g = _rng(seed)
    if T.ndim == 2:
        v = g.normal(size=T.shape[1])
        v /= np.linalg.norm(v)
    else:
        v, w = g.normal(size=T.shape[1]), g.normal(size=T.shape[2])
        v, w = v / np.linalg.norm(v), w / np.linalg.norm(w)
    val = 0.0
    for _ in range(max_iter):
        if T.ndim == 2:
            u = T @ v
            u /= np.linalg.norm(u)
            x = T.T @ u
            new = np.linalg.norm(x)
            v = x / new
        else:
            u = np.einsum("ijk,j,k->i", T, v, w)
            u /= np.linalg.norm(u)
            v = np.einsum("ijk,i,k->j", T, u, w)
            v /= np.linalg.norm(v)
            x = np.einsum("ijk,i,j->k", T, u, v)
            new = np.linalg.norm(x)
            w = x / new
        if abs(new - val) <= tol * new:
            return float(new), True
        val = new
    return float(val), False


@dataclass
class GrowResult:
    """The outcome of ``grow_rank``: final factors and the history of the meta-algorithm."""

    U: np.ndarray
    V: np.ndarray
    certified: bool
    certificate: Certificate
    history: list = field(default_factory=list)


def _warn_uncertified(message):
    """A ``ConvergenceWarning`` pointing at the caller of the public growing routine."""
    warn_not_converged(message, stacklevel=3)


def _grow(state, descend, check, add, size, max_size):
    """The meta-algorithm's skeleton, shared by ``grow_rank`` and ``grow_relu_network``.

    Repeat: ``state = descend(state)``; ``cert, record, done = check(state)``
    (``record`` goes to the history); stop when ``done`` or when ``size(state)``
    has reached ``max_size``; otherwise ``state = add(state, cert)``, a new
    column or unit from the polar's maximiser. Returns the last state, its
    certificate and the history.
    """
    history = []
    while True:
        state = descend(state)
        cert, record, done = check(state)
        history.append(record)
        if done or size(state) >= max_size:
            return state, cert, history
        state = add(state, cert)


def grow_rank(Y, lam, seed, r0=1, max_rank=None, mask=None, tol=1e-4, descent_tol=1e-14, max_iter=5000):
    """The meta-algorithm of the "Pros" slide, for the matrix case with ``(l2, l2)``.

    Descend from ``r0`` random columns (``solve_factorized``); if the certificate
    fails, append the polar's maximiser ``(u, v)`` -- the top singular pair of the
    residual -- scaled by an exact line search, set ``r <- r + 1`` and descend
    again; stop when certified or at ``max_rank``.

    Parameters
    ----------
    Y : ndarray of shape (m, n)
    lam : float
        ``lam > 0``.
    seed : int or numpy.random.Generator
    r0 : int, default=1
    max_rank : int, optional
        Default ``min(m, n)``.
    mask : ndarray of bool, optional
    tol : float, default=1e-4
        Certificate slack (see ``certify``).
    descent_tol, max_iter
        Passed to ``solve_factorized`` as ``tol`` and ``max_iter``.

    Returns
    -------
    GrowResult
        ``history`` holds one dict per descent: ``r``, ``objective``, ``polar``.

    Examples
    --------
    >>> g = np.random.default_rng(0)
    >>> Y = g.normal(size=(20, 2)) @ g.normal(size=(2, 15))
    >>> res = grow_rank(Y, lam=1.0, seed=0)
    >>> res.certified, [h["r"] for h in res.history]
    (True, [1, 2])
    """
    Y = as_matrix(Y, "Y")
    lam = _as_lam(lam)
    if lam == 0:
        raise ValueError("lam must be > 0 for the meta-algorithm")
    r0 = as_int(r0, "r0", minimum=1)
    max_rank = min(Y.shape) if max_rank is None else as_int(max_rank, "max_rank", minimum=r0)
    mask = _as_mask(mask, Y.shape)
    g = _rng(seed)
    U = g.normal(0.0, 1e-2, (Y.shape[0], r0))
    V = g.normal(0.0, 1e-2, (Y.shape[1], r0))

    def descend(UV):
        return solve_factorized(Y, lam, UV[0].shape[1], g, mask=mask, init=UV, tol=descent_tol, max_iter=max_iter)

    def check(UV):
        cert = certify(Y, UV, lam, mask=mask, tol=tol)
        return cert, {"r": UV[0].shape[1], "objective": cert.objective, "polar": cert.polar}, cert.certified

    (U, V), cert, history = _grow(
        (U, V), descend, check, lambda UV, cert: add_polar_column(Y, *UV, lam, mask=mask),
        lambda UV: UV[0].shape[1], max_rank,
    )
    if not cert.certified:
        _warn_uncertified(
            f"grow_rank stopped at max_rank={max_rank} without a certificate (polar {cert.polar:.4g} > 1)"
        )
    return GrowResult(U, V, cert.certified, cert, history)


# --- two-layer ReLU networks: a sum of r homogeneous maps of degree 2 ---------------


def relu_net(X, a, W):
    """``Phi(x) = sum_i a_i relu(w_i . x)`` for the rows of ``X``; positively homogeneous of degree 2 in ``(a, W)``.

    Append a column of ones to ``X`` for biases: they stay inside the homogeneous map.

    Examples
    --------
    >>> relu_net(np.array([[1.0, 2.0]]), np.array([2.0]), np.array([[1.0, 1.0]]))
    array([6.])
    """
    X = as_matrix(X, "X")
    a, W = _relu_params(a, W, X.shape[1])
    return np.maximum(X @ W.T, 0.0) @ a


def _relu_params(a, W, p):
    """Output weights ``a`` of shape ``(r,)`` and input weights ``W`` of shape ``(r, p)``, finite, or raise."""
    W = as_matrix(W, "W", n_cols=p)
    a = np.asarray(a, dtype=np.float64)
    if a.shape != (W.shape[0],):
        raise ValueError(f"a must have shape ({W.shape[0]},) to match the rows of W (units), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("a must contain only finite values")
    return a, W


def _sphere_grid(p, n):
    """About ``n`` points on the unit sphere of R^p (p = 2 or 3), for plots and searches."""
    if p == 2:
        t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
        return np.column_stack([np.cos(t), np.sin(t)])
    if p == 3:  # Fibonacci lattice
        i = np.arange(n) + 0.5
        z = 1 - 2 * i / n
        phi = np.pi * (1 + 5**0.5) * i
        rad = np.sqrt(1 - z**2)
        return np.column_stack([rad * np.cos(phi), rad * np.sin(phi), z])
    raise ValueError(f"X must have 2 or 3 columns for the sphere grid (1 or 2 inputs plus a bias), got {p}")


def _cube_grid(p, n):
    """A grid on the faces of ``[-1, 1]^p`` with about ``n`` points, and its covering radius.

    Every unit ``w`` lies within chord distance ``sqrt(p - 1) / (m - 1)`` of some
    normalised grid point (``m`` points per edge): ``w / ||w||_inf`` lies on a face,
    within ``h/2 = 1/(m - 1)`` per coordinate of a grid point, and the radial
    projection onto the unit ball is non-expansive.
    """
    m = max(2, int(np.floor((n / (2 * p)) ** (1.0 / (p - 1)))))
    face = np.stack(np.meshgrid(*[np.linspace(-1.0, 1.0, m)] * (p - 1), indexing="ij"), -1).reshape(-1, p - 1)
    blocks = []
    for k in range(p):
        for s in (-1.0, 1.0):
            blocks.append(np.insert(face, k, s, axis=1))
    G = np.concatenate(blocks)
    return G / np.linalg.norm(G, axis=1, keepdims=True), np.sqrt(p - 1) / (m - 1)


def _relu_values(z, X, W, chunk=8192):
    """``|z . relu(X w)|`` for each row ``w`` of ``W``: the best value and its row."""
    best, w_best = -1.0, None
    for k in range(0, len(W), chunk):
        vals = np.abs(np.maximum(X @ W[k : k + chunk].T, 0.0).T @ z)
        j = int(np.argmax(vals))
        if vals[j] > best:
            best, w_best = float(vals[j]), W[k + j]
    return best, w_best


def _unit_rows(W):
    W = W[np.linalg.norm(W, axis=1) > 0]
    W = W / np.linalg.norm(W, axis=1, keepdims=True)
    return np.concatenate([W, -W])


def _arrangement_candidates_2(z, X):
    """Candidates on the circle: the arc ends and each arc's ``+-c/||c||``."""
    t = np.arctan2(X[:, 1], X[:, 0])
    ends = np.unique(np.mod(np.concatenate([t + np.pi / 2, t - np.pi / 2]), 2 * np.pi))
    mids = (ends + np.diff(np.append(ends, ends[0] + 2 * np.pi)) / 2)
    M = np.column_stack([np.cos(mids), np.sin(mids)])
    C = ((M @ X.T > 0) * z) @ X  # the linear part c on each arc
    E = np.column_stack([np.cos(ends), np.sin(ends)])
    return _unit_rows(np.concatenate([E, C]))


def _arrangement_best_3(z, X, chunk=4096):
    """Best candidate on the sphere (value, direction, count), pairs of samples in chunks.

    None when the samples are not in general position (three great circles meet).
    """
    i_all, j_all = np.triu_indices(len(z), 1)
    best, w_best, count = -1.0, None, 0
    for k in range(0, len(i_all), chunk):
        W = _arrangement_candidates_3(z, X, i_all[k : k + chunk], j_all[k : k + chunk])
        if W is None:
            return None
        value, w = _relu_values(z, X, W)
        count += len(W)
        if value > best:
            best, w_best = value, w
    return best, w_best, count


def _arrangement_candidates_3(z, X, i, j):
    """Candidates around the vertices ``x_i x x_j``: the vertex, its four cells' and four edges' maxima.

    Returns None when three great circles meet at a vertex (samples not in general
    position), where the four cells around a vertex do not list every active set.
    """
    v = np.cross(X[i], X[j])
    norms = np.linalg.norm(v, axis=1)
    if np.any(norms <= 1e-12 * np.linalg.norm(X[i], axis=1) * np.linalg.norm(X[j], axis=1)):
        return None  # two parallel samples: the same great circle twice
    v /= norms[:, None]
    rows = np.arange(len(i))
    on = np.abs(v @ X.T) <= 1e-12 * np.linalg.norm(X, axis=1)
    on[rows, i] = on[rows, j] = False
    if on.any():
        return None
    ni = X[i] / np.linalg.norm(X[i], axis=1, keepdims=True)
    nj = X[j] / np.linalg.norm(X[j], axis=1, keepdims=True)
    ci, cj = z[i, None] * X[i], z[j, None] * X[j]
    cands = []
    for V in (v, -v):
        S = (V @ X.T > 0) * z
        S[rows, i] = S[rows, j] = 0.0
        base = S @ X  # the linear part from every sample but i and j
        cands.append(V)
        for si in (0.0, 1.0):
            for sj in (0.0, 1.0):
                cands.append(base + si * ci + sj * cj)  # the four cells at the vertex
        for s_on in (0.0, 1.0):  # the edges along circle i (j on or off) and along circle j
            for nrm, cvec in ((ni, base + s_on * cj), (nj, base + s_on * ci)):
                cands.append(cvec - np.sum(cvec * nrm, axis=1, keepdims=True) * nrm)
    return _unit_rows(np.concatenate(cands))


@dataclass
class ReluPolar:
    """The polar ``sup_{||w|| = 1} |z . relu(X w)|``, bracketed.

    Attributes
    ----------
    lower : float
        The value at ``w``: attained, so a lower bound.
    upper : float
        A proven upper bound: for ``method="arrangement"`` the largest candidate value
        plus a rounding margin of ``64 eps sum_n |z_n| ||x_n||``.
    w : ndarray of shape (p,)
        Unit maximiser found, signed so that ``z . relu(X w) = sign * lower``.
    sign : float
        ``+1`` or ``-1``: the sign of the output weight of the best new unit.
    method : str
        ``"arrangement"`` (exact enumeration) or ``"lipschitz"`` (grid plus Lipschitz bound).
    n_candidates : int
        Directions evaluated (candidates of the arrangement, or grid points).
    """

    lower: float
    upper: float
    w: np.ndarray
    sign: float
    method: str
    n_candidates: int


def relu_polar(z, X, method="auto", n_grid=20000, n_refine=8):
    """The polar of the two-layer ReLU regulariser at ``z``, with proven bounds.

    ``Omega°(z) = sup_{||w|| = 1} |z . relu(X w)|`` is the polar of the regulariser
    ``sum_i |a_i| ||w_i||`` of a two-layer ReLU network ``sum_i a_i relu(X w_i)``.

    The great circles ``{w : x_n . w = 0}`` cut the sphere into cells on which the
    set of active samples is fixed and the sum is linear, ``c . w``. Its maximum on a
    closed cell lies at ``c / ||c||``, at the projection of ``c`` onto a bounding
    circle, or at a vertex. ``method="arrangement"`` (``p = 2`` or ``3``) evaluates
    every such candidate -- ``O(n^2)`` of them, ``O(n^(p-1))`` vertices in general --
    so ``lower`` is the polar and ``upper`` adds only a rounding margin. It needs the samples in general
    position for ``p = 3`` (no three circles through a point; true almost surely for
    continuous inputs); otherwise ``"auto"`` falls back to ``"lipschitz"``.
    ``method="lipschitz"`` (any ``p >= 2``) evaluates a grid on the faces of the cube
    with chord covering radius ``delta``, refines its best points by Nelder--Mead
    (``lower``), and bounds the polar by the grid's maximum plus ``L delta`` with
    ``L = min(sum_n |z_n| ||x_n||, ||z|| ||X||_op)``, the Lipschitz constant of
    ``w -> z . relu(X w)`` (``upper``; also at most the trivial bound
    ``max(||z_+|| ||X_+||_op, ||z_-|| ||X_-||_op)``).

    Parameters
    ----------
    z : ndarray of shape (n,)
    X : ndarray of shape (n, p)
        Inputs, with a column of ones if the units have a bias.
    method : {"auto", "arrangement", "lipschitz"}, default="auto"
        ``"auto"``: ``"arrangement"`` for ``p <= 3`` when it applies, else ``"lipschitz"``.
    n_grid : int, default=20000
        About this many grid points for ``"lipschitz"``.
    n_refine : int, default=8
        Nelder--Mead refinements of the best grid points for ``"lipschitz"``.

    Returns
    -------
    ReluPolar

    Examples
    --------
    >>> X = np.column_stack([np.linspace(-1, 1, 5), np.ones(5)])
    >>> # the best unit w = (1, 1)/sqrt(2) gives relu(2/sqrt(2)) on the last sample
    >>> res = relu_polar(np.array([0, 0, 0, 0, 1.0]), X)
    >>> round(res.lower, 12), round(res.upper, 12), res.method
    (1.414213562373, 1.414213562373, 'arrangement')
    >>> res = relu_polar(np.array([0, 0, 0, 0, 1.0]), X, method="lipschitz")
    >>> bool(res.lower <= 2**0.5 + 1e-12 <= res.upper + 2e-12)
    True
    """
    z = np.asarray(z, dtype=np.float64)
    X = as_matrix(X, "X")
    n, p = X.shape
    if z.shape != (n,):
        raise ValueError(f"z must have shape ({n},), got {z.shape}")
    if method not in ("auto", "arrangement", "lipschitz"):
        raise ValueError(f"method must be 'auto', 'arrangement' or 'lipschitz', got {method!r}")
    if p < 2:
        raise ValueError(f"X must have at least 2 columns, got {p}")
    if method == "arrangement" and p > 3:
        raise ValueError(f"method='arrangement' needs X with 2 or 3 columns, got {p}")
    keep = (np.linalg.norm(X, axis=1) > 0) & (z != 0)  # samples that never contribute
    Xk, zk = X[keep], z[keep]
    if len(zk) == 0:
        w = np.eye(p)[0]
        return ReluPolar(0.0, 0.0, w, 1.0, "arrangement" if p <= 3 else "lipschitz", 0)
    if method != "lipschitz" and p <= 3:
        if p == 2:
            W = _arrangement_candidates_2(zk, Xk)
            found = (*_relu_values(zk, Xk, W), len(W))
        else:
            found = _arrangement_best_3(zk, Xk) if len(zk) > 1 else (-1.0, None, 0)
        if found is None and method == "arrangement":
            raise ValueError("method='arrangement' needs samples in general position (three great circles meet)")
        if found is not None:
            best, w, count = found
            if p == 3:  # with a single sample there is no vertex: w = x/||x||
                value, w1 = _relu_values(zk, Xk, _unit_rows(Xk))
                best, w, count = (value, w1, count + 2 * len(zk)) if value > best else (best, w, count + 2 * len(zk))
            sign = float(np.sign(np.maximum(Xk @ w, 0.0) @ zk) or 1.0)
            return ReluPolar(float(best), float(best + _rounding_margin(zk, Xk)), w, sign, "arrangement", count)
    return _relu_polar_lipschitz(zk, Xk, as_int(n_grid, "n_grid", minimum=10), as_int(n_refine, "n_refine", minimum=0))


def _rounding_margin(z, X):
    """A bound on the floating-point error of one value ``|z . relu(X w)|``, ``||w|| = 1``."""
    return 64 * np.finfo(float).eps * float(np.abs(z) @ np.linalg.norm(X, axis=1))


def _relu_polar_lipschitz(z, X, n_grid, n_refine):
    import scipy.optimize

    p = X.shape[1]
    G, delta = _cube_grid(p, n_grid)
    vals = np.abs(np.maximum(X @ G.T, 0.0).T @ z)
    grid_max = float(vals.max())
    lip = min(float(np.abs(z) @ np.linalg.norm(X, axis=1)), float(np.linalg.norm(z) * np.linalg.norm(X, 2)))
    pos, neg = z > 0, z < 0
    trivial = max(
        float(np.linalg.norm(z[pos]) * np.linalg.norm(X[pos], 2)) if pos.any() else 0.0,
        float(np.linalg.norm(z[neg]) * np.linalg.norm(X[neg], 2)) if neg.any() else 0.0,
    )

    def negval(w):
        return -abs(float(np.maximum(X @ (w / np.linalg.norm(w)), 0.0) @ z))

    best, w = grid_max, G[int(np.argmax(vals))]
    for j in np.argsort(-vals)[:n_refine]:
        res = scipy.optimize.minimize(negval, G[j], method="Nelder-Mead", options={"xatol": 1e-12, "fatol": 1e-14})
        if -res.fun > best:
            best, w = -res.fun, res.x / np.linalg.norm(res.x)
    sign = float(np.sign(np.maximum(X @ w, 0.0) @ z) or 1.0)
    upper = min(grid_max + lip * delta, trivial) + _rounding_margin(z, X)
    return ReluPolar(float(best), float(upper), w, sign, "lipschitz", len(G))


def _relu_fit(X, y, lam, a, W, max_iter):
    import scipy.optimize

    r, p = W.shape

    def f(theta):
        a, W = theta[:r], theta[r:].reshape(r, p)
        pre = X @ W.T
        H = np.maximum(pre, 0.0)
        res = H @ a - y
        obj = 0.5 * res @ res + 0.5 * lam * (a @ a + np.sum(W * W))
        ga = H.T @ res + lam * a
        gW = ((res[:, None] * a[None, :]) * (pre > 0)).T @ X + lam * W
        return obj, np.concatenate([ga, gW.ravel()])

    out = scipy.optimize.minimize(
        f, np.concatenate([a, W.ravel()]), jac=True, method="L-BFGS-B",
        options={"maxiter": max_iter, "gtol": 1e-12, "ftol": 1e-16, "maxcor": 30},
    )
    a, W = out.x[:r], out.x[r:].reshape(r, p)
    return _lasso_polish(X, y, lam, a, W), out


def _lasso_polish(X, y, lam, a, W):
    """Fix the unit directions and solve for the output magnitudes exactly.

    With ``c_i = a_i ||w_i||`` and ``u_i = w_i / ||w_i||`` the objective is the lasso
    ``1/2 ||y - H c||^2 + lam ||c||_1`` with ``H = relu(X U^T)``; solving it makes the
    first-order condition exact for the current directions, and zeroes units
    that do not pay (zero slices). Returns balanced ``(a, W)``.
    """
    from sklearn.linear_model import Lasso

    norms = np.linalg.norm(W, axis=1)
    U = W / np.maximum(norms, 1e-300)[:, None]
    H = np.maximum(X @ U.T, 0.0)
    c0 = a * norms
    lasso = Lasso(alpha=lam / len(y), fit_intercept=False, tol=1e-10, max_iter=100000, warm_start=True)
    lasso.coef_ = c0.copy()
    with warnings.catch_warnings():
        # near-duplicate directions slow coordinate descent; what is left shows in the certificate's gap
        warnings.simplefilter("ignore", category=UserWarning)
        c = lasso.fit(H, y).coef_
    root = np.sqrt(np.abs(c))
    return np.sign(c) * root, U * root[:, None]


@dataclass
class ReluCertificate:
    """The Haeffele–Vidal certificate of a two-layer ReLU network (``certify_relu``).

    Attributes
    ----------
    status : str
        ``"certified"`` (``polar_upper <= 1 + tol``), ``"not certified"``
        (``polar_lower > 1 + tol``: a unit along ``relu_polar``'s ``w`` lowers the
        objective), or ``"undecided"`` (the bounds straddle ``1 + tol``).
    polar_lower : float
        Lower bound on ``Omega°(r / lam)`` for the residual ``r``.
    polar_upper : float
        Proven upper bound on ``Omega°(r / lam)``.
    gap : float
        Proven duality gap relative to the primal value: the dual point ``r`` scaled by
        ``1 / max(1, polar_upper)`` is feasible, so the network's objective is within
        this fraction of the optimum of the convex problem over measures.
    objective : float
        ``1/2 ||y - Phi(X)||^2 + lam sum_i |a_i| ||w_i||``.
    first_order : float
        ``|<r / lam, Phi(X)> - Theta| / Theta``, zero at first-order points.
    zero_units : int
        Units with ``|a_i| ||w_i||`` below ``1e-8`` of the largest.
    method : str
        The ``relu_polar`` method that bounded the polar.
    """

    status: str
    polar_lower: float
    polar_upper: float
    gap: float
    objective: float
    first_order: float
    zero_units: int
    method: str

    @property
    def certified(self):
        """``status == "certified"``."""
        return self.status == "certified"


def _relu_certificate(X, y, a, W, lam, pol, tol):
    R = y - relu_net(X, a, W)
    weights = np.abs(a) * np.linalg.norm(W, axis=1)
    theta = float(weights.sum())
    primal = 0.5 * float(R @ R) + lam * theta
    nu = R / max(1.0, pol.upper)
    dual = float(y @ nu - 0.5 * nu @ nu)
    first = abs(float(R @ relu_net(X, a, W)) / lam - theta) / max(theta, 1e-300)
    zero = int(np.sum(weights <= 1e-8 * max(weights.max(initial=0.0), 1e-300)))
    if pol.upper <= 1.0 + tol:
        status = "certified"
    elif pol.lower > 1.0 + tol:
        status = "not certified"
    else:
        status = "undecided"
    gap = max(primal - dual, 0.0) / max(primal, 1e-300)
    return ReluCertificate(status, pol.lower, pol.upper, gap, primal, first, zero, pol.method)


def certify_relu(X, y, a, W, lam, tol=0.0, method="auto", n_grid=20000):
    """The Haeffele–Vidal certificate for ``1/2 ||y - Phi(X)||^2 + lam sum_i |a_i| ||w_i||``.

    A first-order point whose polar ``Omega°((y - Phi(X)) / lam)`` is at most 1 is a
    global minimiser. The polar is bracketed by ``relu_polar``: only its upper bound
    can certify, only its lower bound can refute.

    Parameters
    ----------
    X : ndarray of shape (n, p)
    y : ndarray of shape (n,)
    a : ndarray of shape (r,)
    W : ndarray of shape (r, p)
    lam : float
        ``lam > 0``.
    tol : float, default=0.0
        Slack in ``polar <= 1``. With ``tol > 0`` a "certified" point is
        ``epsilon``-optimal: ``gap`` bounds how far.
    method, n_grid
        As in ``relu_polar``.

    Returns
    -------
    ReluCertificate

    Examples
    --------
    >>> X = np.column_stack([np.linspace(-1, 1, 9), np.ones(9)])
    >>> c = certify_relu(X, np.zeros(9), np.zeros(1), np.zeros((1, 2)), lam=1.0)
    >>> c.status, c.gap
    ('certified', 0.0)
    >>> y = np.maximum(X[:, 0], 0.0)  # the zero network is not optimal for this target
    >>> certify_relu(X, y, np.zeros(1), np.zeros((1, 2)), lam=0.1).status
    'not certified'
    """
    X, y = as_samples(X, y)
    a, W = _relu_params(a, W, X.shape[1])
    lam = as_float(lam, "lam", minimum=0, strict=True)
    tol = as_float(tol, "tol", minimum=0)
    pol = relu_polar((y - relu_net(X, a, W)) / lam, X, method=method, n_grid=n_grid)
    return _relu_certificate(X, y, a, W, lam, pol, tol)


@dataclass
class ReluGrowResult:
    """The outcome of ``grow_relu_network``: output weights ``a``, input weights ``W``, history."""

    a: np.ndarray
    W: np.ndarray
    certified: bool
    certificate: ReluCertificate
    history: list = field(default_factory=list)


def grow_relu_network(X, y, lam, seed, r0=1, max_units=50, tol=1e-3, max_iter=20000, method="auto", n_grid=20000):
    """The meta-algorithm for a two-layer ReLU network with the degree-2 regulariser.

    Minimises ``1/2 ||y - sum_i a_i relu(X w_i)||^2 + lam sum_i |a_i| ||w_i||``:
    descend (L-BFGS on the balanced form ``lam/2 sum_i (a_i^2 + ||w_i||^2)``, equal
    at balanced points, then an exact lasso on the output magnitudes); if the lower
    bound of the polar of the residual over ``lam`` exceeds ``1 + tol``, append the
    polar's maximiser as a new unit, scaled by an exact line search, and descend
    again. ``certified`` is the certificate at tolerance ``tol``: the upper bound of
    the polar is at most ``1 + tol`` (exact for ``p <= 3``, see ``relu_polar``), so
    the objective is within ``certificate.gap`` of the global optimum.

    Parameters
    ----------
    X : ndarray of shape (n, p)
        Inputs, with a column of ones for the bias.
    y : ndarray of shape (n,)
    lam : float
    seed : int or numpy.random.Generator
    r0 : int, default=1
    max_units : int, default=50
    tol : float, default=1e-3
    max_iter : int, default=20000
        L-BFGS iterations per descent.
    method, n_grid
        As in ``relu_polar``.

    Returns
    -------
    ReluGrowResult
        ``history`` holds, per descent, ``r``, ``objective``, ``polar`` (the lower
        bound, which the stopping rule uses), ``polar_upper`` and ``lbfgs_converged``.

    Examples
    --------
    >>> X = np.column_stack([np.linspace(-1, 1, 30), np.ones(30)])
    >>> y = np.maximum(X[:, 0], 0.0)
    >>> res = grow_relu_network(X, y, lam=0.1, seed=0)
    >>> res.certified
    True
    """
    X, y = as_samples(X, y)
    lam = _as_lam(lam)
    if lam == 0:
        raise ValueError("lam must be > 0 for the meta-algorithm")
    r0 = as_int(r0, "r0", minimum=1)
    max_units = as_int(max_units, "max_units", minimum=r0)
    g = _rng(seed)
    a = g.normal(0.0, 0.1, r0)
    W = g.normal(0.0, 0.1, (r0, X.shape[1]))

    def descend(state):
        (a, W), out = _relu_fit(X, y, lam, *state[:2], max_iter)
        return a, W, out

    def check(state):
        a, W, out = state
        pol = relu_polar((y - relu_net(X, a, W)) / lam, X, method=method, n_grid=n_grid)
        cert = _relu_certificate(X, y, a, W, lam, pol, tol)
        record = {"r": len(a), "objective": cert.objective, "polar": pol.lower, "polar_upper": pol.upper,
                  "lbfgs_converged": bool(out.success)}
        return (cert, pol), record, pol.lower <= 1.0 + tol  # the lower bound: a unit is added only if it helps

    def add(state, cert_pol):
        a, W, _ = state
        pol = cert_pol[1]
        R = y - relu_net(X, a, W)
        h = np.maximum(X @ pol.w, 0.0)
        beta = max((pol.sign * (R @ h) - lam) / (h @ h), 0.0)
        return np.append(a, pol.sign * np.sqrt(beta)), np.vstack([W, np.sqrt(beta) * pol.w]), None

    (a, W, _), (cert, _), history = _grow((a, W, None), descend, check, add, lambda s: len(s[0]), max_units)
    if not cert.certified:
        _warn_uncertified(f"grow_relu_network stopped at {len(a)} units without a certificate "
                          f"(polar in [{cert.polar_lower:.6g}, {cert.polar_upper:.6g}], status {cert.status})")
    return ReluGrowResult(a, W, cert.certified, cert, history)


def optimality_violation(Y, X, lam, mask=None, rel_tol=1e-8):
    """Violation of the nuclear-norm optimality condition at ``X``, and ``||G||_op``.

    ``X`` minimises ``1/2 ||P(Y - X)||_F^2 + lam ||X||_*`` iff ``G = P(Y - X) / lam``
    is a subgradient of the nuclear norm at ``X = U S V^T`` (compact SVD):
    ``G = U V^T + W`` with ``U^T W = 0``, ``W V = 0`` and ``||W||_op <= 1``. Returns
    ``(max(||U^T W||_op, ||W V||_op, ||W||_op - 1), ||G||_op)``: the first is 0 at the
    optimum; the bound ``||G||_op <= 1`` alone is necessary, not sufficient. Singular
    values of ``X`` below ``rel_tol`` times the largest count as zero.

    Examples
    --------
    >>> Y = np.diag([3.0, 0.5])
    >>> round(optimality_violation(Y, np.diag([2.0, 0.0]), 1.0)[0], 12)
    0.0
    >>> optimality_violation(Y, Y, 1.0)[0]  # X = Y: G = 0 passes the bound only
    1.0
    """
    Y = as_matrix(Y, "Y")
    X = as_matrix(X, "X")
    if X.shape != Y.shape:
        raise ValueError(f"X must have the shape of Y {Y.shape}, got {X.shape}")
    lam = _as_lam(lam)
    if lam == 0:
        raise ValueError("lam must be positive")
    R = Y - X if mask is None else np.where(_as_mask(mask, Y.shape), Y - X, 0.0)
    G = R / lam
    U, sv, Vt = np.linalg.svd(X, full_matrices=False)
    k = int(np.sum(sv > rel_tol * max(sv[0], 1e-300)))
    W = G - U[:, :k] @ Vt[:k]
    parts = (
        np.linalg.norm(U[:, :k].T @ W, 2) if k else 0.0,
        np.linalg.norm(W @ Vt[:k].T, 2) if k else 0.0,
        np.linalg.norm(W, 2) - 1.0,
    )
    return float(max(parts)), float(np.linalg.norm(G, 2))
