"""Global optimality certificates for factorized problems (Haeffele & Vidal; Bach).

Slides: "Tensor Norms [Bach, Haeffele&Vidal]" (both), the homogeneous-maps slides,
"Proposition [H-V]", both "Theorem [H-V]" slides and "Pros / Cons". Papers:
Haeffele & Vidal (2015), Bach (2013). Used by
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
import scipy.sparse.linalg

from ._checks import as_int, as_matrix, as_samples
from .data import rng as _rng
from .factorization import ConvergenceWarning, _as_lam, _as_mask, _check_factors, solve_factorized

__all__ = [
    "NORM_PAIRS",
    "Certificate",
    "GrowResult",
    "ReluGrowResult",
    "polar",
    "tensor_norm",
    "certify",
    "grow_rank",
    "relu_net",
    "relu_polar",
    "certify_relu",
    "grow_relu_network",
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
    norms = _as_norms(norms)
    m, n = Z.shape
    if norms == ("l2", "l2"):
        if min(m, n) > 60:
            # Lanczos (ARPACK) for the top pair: at an optimum the residual's top singular values form a
            # cluster at lam, which block subspace iteration resolves slowly and Lanczos does not
            v0 = np.full(min(m, n), 1.0 / np.sqrt(min(m, n)))
            U, s, Vt = scipy.sparse.linalg.svds(Z, k=1, tol=1e-12, v0=v0)
        else:
            U, s, Vt = np.linalg.svd(Z, full_matrices=False)
        value, u, v = float(s[0]), U[:, 0], Vt[0]
    elif norms == ("l1", "l2"):
        rows = np.linalg.norm(Z, axis=1)
        i = int(np.argmax(rows))
        value, u, v = float(rows[i]), np.eye(m)[i], Z[i] / max(rows[i], 1e-300)
    elif norms == ("l2", "l1"):
        value, v, u = polar(Z.T, ("l1", "l2"), return_maximizer=True)
    else:
        i, j = np.unravel_index(int(np.argmax(np.abs(Z))), Z.shape)
        value, u, v = float(abs(Z[i, j])), np.sign(Z[i, j]) * np.eye(m)[i], np.eye(n)[j]
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
    norms = _as_norms(norms)
    if norms == ("l2", "l2"):
        return float(np.linalg.svd(X, compute_uv=False).sum())
    if norms == ("l1", "l2"):
        return float(np.linalg.norm(X, axis=1).sum())
    if norms == ("l2", "l1"):
        return float(np.linalg.norm(X, axis=0).sum())
    return float(np.abs(X).sum())


def _column_norm(A, kind):
    return np.linalg.norm(A, ord=1 if kind == "l1" else 2, axis=0)


@dataclass
class Certificate:
    """The outcome of ``certify``.

    Attributes
    ----------
    certified : bool
        ``polar <= 1 + tol``: the factorization is a global minimiser.
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
    warnings.warn(message, ConvergenceWarning, stacklevel=3)


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
    P = np.ones(Y.shape, dtype=bool) if mask is None else mask
    U = g.normal(0.0, 1e-2, (Y.shape[0], r0))
    V = g.normal(0.0, 1e-2, (Y.shape[1], r0))
    history = []
    while True:
        U, V = solve_factorized(Y, lam, U.shape[1], g, mask=mask, init=(U, V), tol=descent_tol, max_iter=max_iter)
        cert = certify(Y, (U, V), lam, mask=mask, tol=tol)
        history.append({"r": U.shape[1], "objective": cert.objective, "polar": cert.polar})
        if cert.certified or U.shape[1] >= max_rank:
            break
        R = (Y - U @ V.T) * P
        _, u, v = polar(R, return_maximizer=True)
        step = (u @ R @ v - lam) / np.sum((np.outer(u, v) * P) ** 2)  # argmin_b 1/2||R - b P(uv^T)||^2 + lam b
        U = np.column_stack([U, np.sqrt(max(step, 0.0)) * u])
        V = np.column_stack([V, np.sqrt(max(step, 0.0)) * v])
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
    return np.maximum(X @ W.T, 0.0) @ a


def _sphere_grid(p, n):
    if p == 2:
        t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
        return np.column_stack([np.cos(t), np.sin(t)])
    if p == 3:  # Fibonacci lattice
        i = np.arange(n) + 0.5
        z = 1 - 2 * i / n
        phi = np.pi * (1 + 5**0.5) * i
        rad = np.sqrt(1 - z**2)
        return np.column_stack([rad * np.cos(phi), rad * np.sin(phi), z])
    raise ValueError(f"X must have 2 or 3 columns for the grid polar (1 or 2 inputs plus a bias), got {p}")


def relu_polar(z, X, n_grid=20000, n_refine=8):
    """``sup_{||w|| = 1} |z . relu(X w)|`` by a grid on the sphere plus local refinement.

    This is the polar ``Omega°(z)`` of the regulariser ``sum_i |a_i| ||w_i||`` of a
    two-layer ReLU network. The supremum is over a sphere of dimension 1 or 2, so
    a fine grid and a Nelder--Mead refinement from its ``n_refine`` best points
    give it to high accuracy; it is a lower bound in principle (a maximiser
    between grid points can be missed), and ``grid_value`` shows how much the
    refinement added.

    Returns
    -------
    value : float
    w : ndarray of shape (p,)
        Unit maximiser, signed so that ``z . relu(X w) = sign * value``.
    sign : float
        ``+1`` or ``-1``: the sign of the output weight of the best new unit.
    grid_value : float
        The best value on the grid alone.

    Examples
    --------
    >>> X = np.column_stack([np.linspace(-1, 1, 5), np.ones(5)])
    >>> round(relu_polar(np.array([0, 0, 0, 0, 1.0]), X)[0], 6)  # w = (1, 1)/sqrt(2): relu(2/sqrt(2))
    1.414214
    """
    import scipy.optimize

    z = np.asarray(z, dtype=np.float64)
    X = as_matrix(X, "X")
    if z.shape != (X.shape[0],):
        raise ValueError(f"z must have shape ({X.shape[0]},), got {z.shape}")
    G = _sphere_grid(X.shape[1], as_int(n_grid, "n_grid", minimum=10))
    vals = np.maximum(X @ G.T, 0.0).T @ z
    grid_value = float(np.abs(vals).max())

    def neg(w):
        w = w / np.linalg.norm(w)
        return -abs(float(np.maximum(X @ w, 0.0) @ z))

    best_w, best = G[np.argmax(np.abs(vals))], grid_value
    for j in np.argsort(-np.abs(vals))[: as_int(n_refine, "n_refine", minimum=0)]:
        res = scipy.optimize.minimize(neg, G[j], method="Nelder-Mead", options={"xatol": 1e-12, "fatol": 1e-14})
        if -res.fun > best:
            best, best_w = -res.fun, res.x / np.linalg.norm(res.x)
    sign = float(np.sign(np.maximum(X @ best_w, 0.0) @ z) or 1.0)
    return float(best), best_w, sign, grid_value


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


def certify_relu(X, y, a, W, lam, tol=1e-3, n_grid=20000):
    """The Haeffele–Vidal certificate for ``1/2 ||y - Phi(X)||^2 + lam sum_i |a_i| ||w_i||``.

    Same fields as ``certify``; the polar is computed by ``relu_polar``.

    Examples
    --------
    >>> X = np.column_stack([np.linspace(-1, 1, 9), np.ones(9)])
    >>> certify_relu(X, np.zeros(9), np.zeros(1), np.zeros((1, 2)), lam=1.0).certified
    True
    """
    X, y = as_samples(X, y)
    lam = _as_lam(lam)
    if lam == 0:
        raise ValueError("lam must be > 0 for a certificate")
    R = y - relu_net(X, a, W)
    weights = np.abs(a) * np.linalg.norm(W, axis=1)
    theta = float(weights.sum())
    primal = 0.5 * float(R @ R) + lam * theta
    pol = relu_polar(R / lam, X, n_grid=n_grid)[0]
    nu = R * min(1.0, 1.0 / pol) if pol > 0 else R
    dual = float(y @ nu - 0.5 * nu @ nu)
    first = abs(float(R @ relu_net(X, a, W)) / lam - theta) / max(theta, 1e-300)
    zero = int(np.sum(weights <= 1e-8 * max(weights.max(initial=0.0), 1e-300)))
    return Certificate(bool(pol <= 1.0 + tol), float(pol), max(primal - dual, 0.0) / max(primal, 1e-300),
                       primal, first, zero)


@dataclass
class ReluGrowResult:
    """The outcome of ``grow_relu_network``: output weights ``a``, input weights ``W``, history."""

    a: np.ndarray
    W: np.ndarray
    certified: bool
    certificate: Certificate
    history: list = field(default_factory=list)


def grow_relu_network(X, y, lam, seed, r0=1, max_units=50, tol=1e-3, max_iter=20000, n_grid=20000):
    """The meta-algorithm for a two-layer ReLU network with the degree-2 regulariser.

    Minimises ``1/2 ||y - sum_i a_i relu(X w_i)||^2 + lam sum_i |a_i| ||w_i||``:
    descend (L-BFGS on the balanced form ``lam/2 sum_i (a_i^2 + ||w_i||^2)``, equal
    at balanced points); if the polar of the residual over ``lam`` exceeds
    ``1 + tol``, append the polar's maximiser as a new unit, scaled by an exact
    line search, and descend again.

    Parameters
    ----------
    X : ndarray of shape (n, p)
        Inputs with a column of ones for the bias; ``p`` is 2 or 3.
    y : ndarray of shape (n,)
    lam : float
    seed : int or numpy.random.Generator
    r0 : int, default=1
    max_units : int, default=50
    tol : float, default=1e-3
    max_iter : int, default=20000
        L-BFGS iterations per descent.
    n_grid : int, default=20000
        Grid size of ``relu_polar``.

    Returns
    -------
    ReluGrowResult

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
    history = []
    while True:
        (a, W), out = _relu_fit(X, y, lam, a, W, max_iter)
        R = y - relu_net(X, a, W)
        pol, w, sign, _ = relu_polar(R / lam, X, n_grid=n_grid)
        cert = certify_relu(X, y, a, W, lam, tol=tol, n_grid=n_grid)
        history.append({"r": len(a), "objective": cert.objective, "polar": pol, "lbfgs_converged": bool(out.success)})
        if pol <= 1.0 + tol or len(a) >= max_units:
            break
        h = np.maximum(X @ w, 0.0)
        beta = max((sign * (R @ h) - lam) / (h @ h), 0.0)
        a = np.append(a, sign * np.sqrt(beta))
        W = np.vstack([W, np.sqrt(beta) * w])
    if not cert.certified:
        _warn_uncertified(f"grow_relu_network stopped at {len(a)} units without a certificate (polar {cert.polar:.4g})")
    return ReluGrowResult(a, W, cert.certified, cert, history)
