"""NN-LIFT: learning a one-hidden-layer network by tensor decomposition.

Slides: "Tensor Decompositions and Neural Nets" (both), the three
"[Janzamin, Sedghi, Anandkumar]" slides and their "Pros / Cons". Paper:
Janzamin, Sedghi & Anandkumar (2015). Used by ``notebooks/04_nn_lift.md``.

Model: ``E[y | x] = f(x) = <a2, sigma(A1^T x + b1)> + b2`` with ``x ~ N(0, I_d)``,
``A1`` of shape ``(d, k)`` with unit columns. By Stein's identity

    E[y S_3(x)] = sum_j lam_j a_j^(x)3,     lam_j = a2_j E[sigma'''(a_j.x + b1_j)],

so the directions ``a_j`` are the components of a third-order tensor that the
samples give implicitly (``tensordl.moments.Moment3``). ``NNLift.fit``:

1. decomposes that tensor -- the robust tensor power method on the implicit
   ``d``-dimensional tensor (``method="power"``, for orthonormal ``A1``), after
   whitening with ``M2 = E[y S_2]`` (``"whiten"``; needs ``M2`` definite on its top-k
   eigenspace), or by a non-orthogonal CP in the k-dimensional span of the
   tensor's slices (``"cp"``: ALS started from Jennrich's simultaneous
   diagonalisation and from random points, best fit kept; any linearly
   independent ``A1``, weights of any sign);
2. estimates ``b1`` from Stein moments of orders 1 and 2:
   ``E[y S_1] = A1 c1``, ``E[y S_2] = A1 diag(c2) A1^T`` with
   ``c_m = a2_j E[sigma^(m)(z + b1_j)]``, ``z ~ N(0, 1)``; the ratio
   ``c2 / c1 = (log g)'(b)``, ``g(b) = E[sigma'(z + b)]``, is strictly monotone for
   the log-concave ``sigma'`` of the sigmoid and tanh, so ``b1_j`` is one root.
   The paper's Fourier method is ``fourier_bias`` (``bias="fourier"``): it
   weights samples by ``1 / p(x)``; on R^d the weighted label has no mean at all,
   ``E|y / p| = int |y| dx = inf`` for any density ``p`` when ``y`` does not decay
   (so no law of large numbers applies, let alone a variance), and it is not the
   default; with bounded support ``1 / p`` is bounded and it works. See the chapter.
3. fits ``a2, b2`` by ridge regression on the features ``sigma(A1^T x + b1)``.

The sign of each ``a_j`` is not identified by the odd-order tensor, and need not
be: ``a2 sigma(a.x + b) = a2 - a2 sigma(-a.x - b)`` for the sigmoid and
``-a2 tanh(-a.x - b)`` for tanh, so either sign fits the same function.
"""

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.special
import scipy.stats

from ._checks import as_choice, as_int, as_matrix, as_samples
from .data import planted_network  # noqa: F401 -- moved to tensordl.data; the old name still works
from .data import rng as _rng
from .decomposition import cp_als, jennrich, slice_subspace, tensor_power_method, whiten
from .moments import Moment3, moment2

__all__ = [
    "ACTIVATIONS",
    "activation",
    "stein_coefficients",
    "stein_zeros",
    "conditioned_columns",
    "fourier_bias",
    "NNLift",
]

ACTIVATIONS = ("sigmoid", "tanh", "relu")
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(80)  # E[h(z)], z ~ N(0, 1)
_GH_W = _GH_W / _GH_W.sum()


def _as_derivative(value, name):
    """``value`` as one of the orders 0, 1, 2, 3 that the closed forms cover, or raise."""
    value = as_int(value, name, minimum=0)
    if value > 3:
        raise ValueError(f"{name} must be 0, 1, 2 or 3 (the closed forms go to the third derivative), got {value}")
    return value


def activation(name, t, derivative=0):
    """The activation ``name`` or its first three derivatives at ``t``.

    Examples
    --------
    >>> float(activation("sigmoid", 0.0, 1))
    0.25
    """
    as_choice(name, "activation", ACTIVATIONS)
    derivative = _as_derivative(derivative, "derivative")
    t = np.asarray(t, dtype=np.float64)
    if name == "relu":
        return [np.maximum(t, 0.0), (t > 0).astype(float), np.zeros_like(t), np.zeros_like(t)][derivative]
    if name == "tanh":
        s = np.tanh(t)
        return [s, 1 - s**2, -2 * s * (1 - s**2), -2 * (1 - s**2) * (1 - 3 * s**2)][derivative]
    s = scipy.special.expit(t)
    d1 = s * (1 - s)
    return [s, d1, d1 * (1 - 2 * s), d1 * (1 - 6 * d1)][derivative]


def stein_coefficients(name, b, order):
    """``E[sigma^(order)(z + b)]`` for ``z ~ N(0, 1)`` by 80-point Gauss--Hermite quadrature.

    For ReLU the first derivative is a step, and the second and third vanish
    away from 0: the expectations are the closed forms ``Phi(b)``, ``phi(b)`` and
    ``-b phi(b)`` (``Phi``, ``phi`` the Gaussian distribution and density; a
    quadrature of the step would be a staircase in ``b``).

    Examples
    --------
    >>> round(float(stein_coefficients("tanh", 0.0, 2)), 12)  # odd in b
    0.0
    """
    as_choice(name, "activation", ACTIVATIONS)
    order = _as_derivative(order, "order")
    b = np.asarray(b, dtype=np.float64)
    if name == "relu" and order >= 1:
        if order == 1:
            return scipy.special.ndtr(b)
        phi = np.exp(-0.5 * b**2) / np.sqrt(2 * np.pi)
        return phi if order == 2 else -b * phi
    return np.tensordot(activation(name, b[..., None] + _GH_X, order), _GH_W, axes=(-1, 0))


def stein_zeros(name, order, b_max=4.0, n_grid=801):
    """The biases ``b`` in ``[-b_max, b_max]`` where ``E[sigma^(order)(z + b)] = 0``.

    ``lam_j = a2_j E[sigma^(3)(z + b_j)]`` and ``c_j = a2_j E[sigma^(2)(z + b_j)]``
    (the weights of the third- and second-order Stein moments) vanish at these
    biases, whatever ``a2_j``: the condition of Janzamin et al. is on the pair
    ``(sigma, b)``. Sign changes on a grid of ``n_grid`` points are refined by
    Brent's method (``xtol=1e-12``); a grid point where the value is 0 to rounding
    is a zero (``b = 0`` for the second derivative of the sigmoid and tanh).

    Parameters
    ----------
    name : {"sigmoid", "tanh", "relu"}
    order : {1, 2, 3}
    b_max : float, default=4.0
    n_grid : int, default=801

    Returns
    -------
    ndarray of shape (n_zeros,)
        Sorted.

    Examples
    --------
    >>> [round(float(z), 6) + 0.0 for z in stein_zeros("tanh", 2)]  # odd in b
    [0.0]
    >>> [round(float(z), 6) + 0.0 for z in stein_zeros("relu", 3)]  # -b phi(b)
    [0.0]
    """
    as_choice(name, "name", ACTIVATIONS)
    order = as_int(order, "order", minimum=1)
    if order > 3:
        raise ValueError(f"order must be 1, 2 or 3, got {order}")
    if isinstance(b_max, bool) or not isinstance(b_max, (int, float, np.floating, np.integer)):
        raise TypeError(f"b_max must be a number, got {type(b_max).__name__}")
    if not np.isfinite(b_max) or b_max <= 0:
        raise ValueError(f"b_max must be a finite number > 0, got {b_max!r}")
    n_grid = as_int(n_grid, "n_grid", minimum=3)
    b = np.linspace(-b_max, b_max, n_grid)
    v = stein_coefficients(name, b, order)
    exact = np.abs(v) <= 1e-14 * np.max(np.abs(v))
    zeros = list(b[exact])
    for i in np.flatnonzero((v[:-1] * v[1:] < 0) & ~exact[:-1] & ~exact[1:]):
        zeros.append(
            scipy.optimize.brentq(lambda t: float(stein_coefficients(name, t, order)), b[i], b[i + 1], xtol=1e-12)
        )
    return np.array(sorted(float(z) for z in zeros))


def conditioned_columns(d, k, sigma_min, sigma_max, seed):
    """A ``(d, k)`` matrix with unit columns and extreme singular values ``sigma_max, sigma_min``.

    The Gram matrix ``A^T A`` is a random correlation matrix (unit diagonal) with
    eigenvalues ``sigma_max^2``, ``sigma_min^2`` and ``k - 2`` equal ones that make
    the trace ``k`` (``scipy.stats.random_correlation``); ``A = U R`` with ``R`` its
    Cholesky factor and ``U`` a random ``(d, k)`` matrix with orthonormal columns.
    The unit columns are NN-LIFT's normalisation, and the singular values are the
    ``lambda_min(A1)``, ``lambda_max(A1)`` of the sample-complexity theorem.

    Parameters
    ----------
    d, k : int
        ``2 <= k <= d``.
    sigma_min, sigma_max : float
        ``0 < sigma_min <= 1 <= sigma_max``, with the middle eigenvalue
        ``(k - sigma_max^2 - sigma_min^2) / (k - 2)`` between ``sigma_min^2`` and
        ``sigma_max^2`` (for ``k = 2``: ``sigma_min^2 + sigma_max^2 = 2``).
    seed : int or numpy.random.Generator

    Returns
    -------
    ndarray of shape (d, k)

    Examples
    --------
    >>> A = conditioned_columns(10, 4, 0.2, 1.2, seed=0)
    >>> [round(float(s), 6) for s in np.linalg.svd(A, compute_uv=False)[[0, -1]]]
    [1.2, 0.2]
    >>> bool(np.allclose(np.linalg.norm(A, axis=0), 1.0))
    True
    """
    d, k = as_int(d, "d", minimum=2), as_int(k, "k", minimum=2)
    if k > d:
        raise ValueError(f"k must be at most d = {d}, got {k}")
    for name, v in (("sigma_min", sigma_min), ("sigma_max", sigma_max)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
            raise TypeError(f"{name} must be a number, got {type(v).__name__}")
    if not (0 < sigma_min <= 1 <= sigma_max):
        raise ValueError(f"need 0 < sigma_min <= 1 <= sigma_max, got {sigma_min!r} and {sigma_max!r}")
    lo, hi = float(sigma_min) ** 2, float(sigma_max) ** 2
    if k == 2:
        if abs(lo + hi - 2) > 1e-12:
            raise ValueError(f"for k = 2 the squared singular values must sum to 2, got {lo + hi!r}")
        eig = np.array([hi, lo])
    else:
        mid = (k - hi - lo) / (k - 2)
        if not lo <= mid <= hi:
            raise ValueError(
                f"sigma_min = {sigma_min!r}, sigma_max = {sigma_max!r} leave the other eigenvalues at {mid:.3g}, "
                f"outside [sigma_min^2, sigma_max^2]: not a correlation matrix of size k = {k}"
            )
        eig = np.array([hi] + [mid] * (k - 2) + [lo])
    g = _rng(seed)
    G = scipy.stats.random_correlation.rvs(eig, random_state=g, tol=1e-12)
    G = 0.5 * (G + G.T)
    np.fill_diagonal(G, 1.0)
    R = np.linalg.cholesky(G).T
    U = np.linalg.qr(g.standard_normal((d, k)))[0]
    return U @ R


def _cap_directions(a, eps, m, g):
    """``m`` unit vectors uniform on the cap ``{u : u.a >= 1 - eps^2 / 2}`` of the sphere."""
    d = a.shape[0]
    if d == 1:
        return np.tile(a, (m, 1))
    c0 = 1 - eps**2 / 2
    c = np.linspace(c0, 1.0, 2001)
    dens = (1 - c**2).clip(1e-12) ** ((d - 3) / 2)  # the density of u.a on the sphere S^(d-1)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(c))])
    cos = np.interp(g.uniform(0, cdf[-1], m), cdf, c)
    R = g.standard_normal((m, d))
    R -= np.outer(R @ a, a)
    R /= np.linalg.norm(R, axis=1, keepdims=True)
    return cos[:, None] * a + np.sqrt(1 - cos**2)[:, None] * R


def fourier_bias(X, y, A1, a2_sign, seed, log_density=None, eps=0.1):
    """The paper's Fourier estimate of ``b1`` (Janzamin et al. 2015, Procedure 2).

    With ``F(w) = int f(x) exp(-2 pi i <w, x>) dx``, a unit ``a2 sigma(a.x + b)``
    contributes ``a2 Sigma(w.a) exp(2 pi i (w.a) b)`` along ``w`` parallel to ``a``.
    For each column ``a_l`` the estimate is

        v_l = (1/n) sum_i y_i / p(x_i) exp(-2 pi i <w_i, x_i>),

    each ``w_i`` uniform on ``{||w|| = 1/2, <w, a_l> >= (1 - eps^2 / 2) / 2}``, and
    ``b_l = (angle(v_l) - angle(Sigma(1/2)) - angle(a2_l)) / pi``, in ``(-1, 1]``:
    ``angle(Sigma(1/2)) = -pi/2`` for the sigmoid and tanh (``Sigma(xi)`` is
    ``-i pi / sinh(2 pi^2 xi)`` and ``-i pi / sinh(pi^2 xi)`` away from 0), and the
    sign of ``a2_l`` (in the orientation of ``a_l``) adds ``pi`` when negative.
    The estimator is unbiased but its variance is ``int y^2 / p - |F|^2``,
    infinite for any ``p`` on R^d with non-decaying ``y``; it is usable only on a
    bounded domain.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    A1 : ndarray of shape (d, k)
        Unit columns (the recovered directions).
    a2_sign : array_like of shape (k,)
        Signs of the output weights in the orientation of ``A1``'s columns.
    seed : int or numpy.random.Generator
        For the frequencies ``w_i``.
    log_density : callable, optional
        ``log p`` of the rows of ``X`` (the sampling density); standard Gaussian
        when omitted.
    eps : float, default=0.1
        Angular width of the frequency cap.

    Returns
    -------
    ndarray of shape (k,)

    Examples
    --------
    Inputs uniform on ``[-4.5, 4.5]`` (a bounded domain, where ``1/p`` is bounded):

    >>> g = np.random.default_rng(0)
    >>> X = g.uniform(-4.5, 4.5, (400000, 1))
    >>> y = np.tanh(X[:, 0] + 0.3)
    >>> uniform = lambda X: np.full(len(X), -np.log(9.0))  # log density of U(-4.5, 4.5)
    >>> b = fourier_bias(X, y, np.ones((1, 1)), [1.0], seed=0, log_density=uniform)
    >>> bool(abs(b[0] - 0.3) < 0.15)
    True
    """
    X, y = as_samples(X, y)
    n, d = X.shape
    A1 = as_matrix(A1, "A1")
    if A1.shape[0] != d:
        raise ValueError(f"A1 must have d = {d} rows (one per input), got shape {A1.shape}")
    a2_sign = np.asarray(a2_sign, dtype=np.float64).reshape(-1)
    if a2_sign.shape[0] != A1.shape[1] or not np.all(np.isin(np.sign(a2_sign), (-1.0, 1.0))):
        raise ValueError(f"a2_sign must hold {A1.shape[1]} nonzero signs, got {a2_sign!r}")
    if not 0 < eps <= 1:
        raise ValueError(f"eps must be in (0, 1], got {eps!r}")
    g = _rng(seed)
    if log_density is None:
        log_p = -0.5 * np.sum(X**2, axis=1) - 0.5 * d * np.log(2 * np.pi)
    else:
        log_p = np.asarray(log_density(X), dtype=np.float64).reshape(-1)
        if log_p.shape != (n,) or not np.all(np.isfinite(log_p)):
            raise ValueError("log_density must return n finite values, one per row of X")
    log_w = -log_p - np.max(-log_p)  # the common scale does not change the phase
    b = np.empty(A1.shape[1])
    for j in range(A1.shape[1]):
        a = A1[:, j] / np.linalg.norm(A1[:, j])
        W = 0.5 * _cap_directions(a, eps, n, g)
        v = np.sum(y * np.exp(log_w - 2j * np.pi * np.sum(W * X, axis=1)))
        phase = np.angle(v) + np.pi / 2 - (np.pi if a2_sign[j] < 0 else 0.0)
        b[j] = (np.angle(np.exp(1j * phase))) / np.pi
    return b


@dataclass
class _Directions:
    """What a direction finder returns: unit columns ``A`` (d, k), the tensor's weights, and
    whether Jennrich's eigenvectors were complex (``"cp"`` only)."""

    A: np.ndarray
    weights: np.ndarray
    jennrich_complex: bool = False


def _power_directions(T, X, y, k, n_restarts, n_iter, g):
    """Orthogonal case: the symmetric tensor power method with deflation on ``T``."""
    d = X.shape[1]
    # a dense d^3 tensor costs one pass of n d^3; the implicit one a pass per product
    T_op = T.dense() if d**3 <= 64000 else T
    res = tensor_power_method(T_op, k, n_restarts, n_iter, g, tol=1e-6)
    return _Directions(res.factors, res.weights)


def _whiten_directions(T, X, y, k, n_restarts, n_iter, g):
    """Whitening with ``M2 = E[y S_2]``, the power method on ``T(W, W, W)``, un-whitened."""
    W = whiten(moment2(X, y), k)
    res = tensor_power_method(T.project(W), k, n_restarts, n_iter, g, tol=1e-6)
    A = np.linalg.pinv(W.T) @ res.factors
    return _Directions(A / np.linalg.norm(A, axis=0), res.weights)


def _cp_directions(T, X, y, k, n_restarts, n_iter, g):
    """The span of ``A1`` from slices ``T(I, I, theta)``, then a non-orthogonal CP of ``T(U, U, U)``:
    Jennrich's start and four random starts of CP-ALS, the best fit kept."""
    U = slice_subspace(T, k, g)
    TU = T.project(U)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", np.exceptions.ComplexWarning)
        lam, mu = jennrich(TU, g)
    complex_ = any(issubclass(w.category, np.exceptions.ComplexWarning) for w in caught)
    for w in caught:  # anything else still reaches the caller
        if not issubclass(w.category, np.exceptions.ComplexWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    starts = [(lam, mu)] if np.linalg.cond(mu) < 1e6 else []  # noise can pair Jennrich's eigenvalues
    starts += [None] * 4  # random starts as well; keep the best fit
    best = None
    for init in starts:
        w, f = cp_als(TU, k, g, init=init)
        resid = np.linalg.norm(TU - np.einsum("j,ij,kj,lj->ikl", w, *f))
        if best is None or resid < best[0]:
            best = (resid, w, f)
    _, lam, factors = best
    A = U @ factors[0]
    return _Directions(A / np.linalg.norm(A, axis=0), lam, complex_)


# NNLift's ``method``: each finder returns its result; NNLift.fit keeps it
_DIRECTION_FINDERS = {"power": _power_directions, "whiten": _whiten_directions, "cp": _cp_directions}


class NNLift:
    """NN-LIFT for ``E[y|x] = <a2, sigma(A1^T x + b1)> + b2`` with standard Gaussian inputs.

    Parameters
    ----------
    k : int
        Hidden units.
    activation : {"sigmoid", "tanh"}, default="sigmoid"
    method : {"power", "whiten", "cp"}, default="power"
        Tensor decomposition (see the module docstring). ``"power"`` assumes
        orthonormal ``A1``.
    n_restarts, n_iter : int, default=20, 40
        Robust tensor power method.
    ridge : float, default=1e-6
        Ridge weight for ``a2, b2`` (relative to ``n``).
    bias : {"stein", "fourier"}, default="stein"
        How ``b1`` is estimated: the Stein-moment ratio (module docstring) or the
        paper's Fourier method (``fourier_bias``, Gaussian ``p``).

    Attributes (after ``fit``)
    --------------------------
    A1 : ndarray of shape (d, k), unit columns
    b1, a2 : ndarray of shape (k,)
    b2 : float
    weights_ : ndarray of shape (k,)
        The tensor components' weights ``lam_j``.
    jennrich_complex_ : bool
        ``method="cp"``: whether Jennrich's eigenvectors had imaginary parts (a
        noisy moment can pair its eigenvalues). Its start is then one of five and
        CP-ALS keeps the best fit, so this is recorded here rather than warned.
        Always False for the other methods.

    Examples
    --------
    >>> g = np.random.default_rng(0)
    >>> A1, b1, a2, b2 = planted_network(6, 2, seed=1)
    >>> X = g.standard_normal((200000, 6))
    >>> y = activation("sigmoid", X @ A1 + b1) @ a2 + b2
    >>> est = NNLift(2).fit(X, y, seed=0)
    >>> bool(np.min(np.abs(est.A1.T @ A1).max(axis=0)) > 0.98)
    True
    """

    def __init__(self, k, activation="sigmoid", method="power", n_restarts=20, n_iter=40, ridge=1e-6, bias="stein"):
        self.k = as_int(k, "k", minimum=1)
        self.activation = as_choice(activation, "activation", ("sigmoid", "tanh"))
        self.method = as_choice(method, "method", tuple(_DIRECTION_FINDERS))
        self.bias = as_choice(bias, "bias", ("stein", "fourier"))
        self.n_restarts = as_int(n_restarts, "n_restarts", minimum=1)
        self.n_iter = as_int(n_iter, "n_iter", minimum=1)
        if not np.isfinite(ridge) or ridge < 0:
            raise ValueError(f"ridge must be a finite number >= 0, got {ridge!r}")
        self.ridge = float(ridge)

    def fit(self, X, y, seed):
        """Estimate ``A1, b1, a2, b2`` from samples; returns ``self``."""
        X, y = as_samples(X, y)
        n, d = X.shape
        if self.k > d:
            raise ValueError(f"k = {self.k} hidden units cannot exceed the input dimension d = {d}")
        if n < 10 * d * self.k:
            raise ValueError(
                f"n = {n} samples is too few for k = {self.k} and d = {d}: the third-order moment needs "
                f"n >= 10 d k = {10 * d * self.k} (the theorem asks n of order k d^3 / eps^2)"
            )
        g = _rng(seed)
        T = Moment3(X, y)
        found = _DIRECTION_FINDERS[self.method](T, X, y, self.k, self.n_restarts, self.n_iter, g)
        A, self.weights_, self.jennrich_complex_ = found.A, found.weights, found.jennrich_complex
        c1 = np.linalg.lstsq(A, X.T @ y / n, rcond=None)[0]
        Ap = np.linalg.pinv(A)
        c2 = np.diag(Ap @ moment2(X, y) @ Ap.T)
        if self.bias == "fourier":
            self.b1 = fourier_bias(X, y, A, np.where(c1 < 0, -1.0, 1.0), g)
        else:
            self.b1 = np.array([self._bias(r) for r in c2 / np.where(np.abs(c1) > 1e-300, c1, 1e-300)])
        H = np.column_stack([activation(self.activation, X @ A + self.b1), np.ones(n)])
        coef = np.linalg.solve(H.T @ H + self.ridge * n * np.eye(self.k + 1), H.T @ y)
        self.A1, self.a2, self.b2 = A, coef[:-1], float(coef[-1])
        return self

    def _bias(self, ratio):
        def f(b):
            return stein_coefficients(self.activation, b, 2) / stein_coefficients(self.activation, b, 1) - ratio

        lo, hi = -8.0, 8.0
        if f(lo) * f(hi) > 0:  # the ratio is out of range: the closest end
            return lo if abs(f(lo)) < abs(f(hi)) else hi
        return float(scipy.optimize.brentq(f, lo, hi, xtol=1e-12))

    def predict(self, X):
        """``<a2, sigma(A1^T x + b1)> + b2`` for the rows of ``X``; ``fit`` first."""
        if not hasattr(self, "A1"):
            raise ValueError("this NNLift is not fitted yet: call fit(X, y) before predict(X)")
        X = as_matrix(X, "X", n_cols=self.A1.shape[0])
        return activation(self.activation, X @ self.A1 + self.b1) @ self.a2 + self.b2
