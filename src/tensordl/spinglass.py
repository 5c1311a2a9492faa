"""Spherical H-spin glasses: energy, gradients, Hessian index, descent, complexity.

Slides: the "[Choromanska, Henaff, Mathieu, LeCun, Ben Arous]" slides from "The
loss 'looks' like a polynomial" to "Pros / Cons", and "Deep Networks and Spin
Glasses" (all three). Papers: Choromanska et al. (2015); Auffinger, Ben Arous &
Cerny (2013). Used by ``notebooks/06_spin_glass_landscapes.md``, and by
``notebooks/07_deep_networks_as_spin_glasses.md`` (``SphericalSpinGlass``, the glass the
network's loss is compared with).

The Hamiltonian of the slide, on the sphere ``||w||^2 = Lambda`` (``n`` here),

    L(w) = n^(-(H-1)/2) sum_{i_1..i_H} Z_{i_1..i_H} w_{i_1} ... w_{i_H},   Z iid N(0, 1),

has covariance ``E[L(w) L(w')] = n (w.w' / n)^H``; energies are reported per unit
``n`` as ``L / n``. Symmetrising ``Z`` leaves ``L`` unchanged and makes a batch of
gradients one matrix product: ``T(I, w, ..., w) = J.reshape(n, n^(H-1)) @ (w (x) ... (x) w)``;
for ``H = 3`` only the pairs ``j <= k`` are summed, which halves the product.

Asymptotics (Auffinger, Ben Arous & Cerny), for the pure H-spin model and
energies ``u`` per unit ``n``: ``E_inf = 2 sqrt((H-1)/H)``; the complexity of
critical points of index ``k`` below ``u`` is

    Theta_{k,H}(u) = 1/2 log(H-1) - (H-2) u^2 / (4(H-1)) - (k+1) I_1(u)   (u <= -E_inf),
    Theta_{k,H}(u) = 1/2 log(H-1) - (H-2)/H                              (u >  -E_inf),

with ``I_1(u) = -(u/E_inf^2) sqrt(u^2 - E_inf^2) - log(-u + sqrt(u^2 - E_inf^2)) + log E_inf``;
``-E_k`` is its zero below ``-E_inf``, and ``E_0 > E_1 > ... > E_inf``.
"""

import functools
import math
from dataclasses import dataclass

import numba
import numpy as np
import scipy.optimize
from threadpoolctl import threadpool_limits

from ._checks import ConvergenceWarning, as_float, as_int, as_matrix, warn_not_converged
from .data import rng as _rng
from .data import sphere_points

__all__ = [
    "ConvergenceWarning",
    "SphericalSpinGlass",
    "DescentResult",
    "descend",
    "newton_critical",
    "hessian_index",
    "hessian_spectrum",
    "anneal",
    "semicircle_cdf",
    "index_law",
    "goe_eigenvalue",
    "kac_rice_sample",
    "expected_critical_points",
    "kac_rice_direct",
    "critical_energy_density",
    "threshold_energy",
    "ground_state_energy",
    "band_energy",
    "complexity",
    "distinct_points",
    "tangent_goe_spectrum",
    "conditioned_goe_spectra",
    "index_gap_t",
    "rerun_below",
    "glass_components",
    "glass_bootstrap",
]

MAX_ENTRIES = 2 * 10**8  # entries of Z held in memory (1.6 GB in float64)


def _one_blas_thread(f):
    """Run ``f`` with BLAS limited to one thread.

    The batched contractions here are small (restarts x Lambda^2 at most) and are called
    thousands of times: on a loaded 2-core machine a threaded BLAS call of this size was
    measured at 202 ms against 1.5 ms on one thread (the threads wait for each other).
    One thread also makes the results independent of the machine's core count.
    """

    @functools.wraps(f)
    def run(*args, **kwargs):
        with threadpool_limits(limits=1, user_api="blas"):
            return f(*args, **kwargs)

    return run


def _euclidean_grad_rows(W, Jrows, iu, H, scale, field):
    """``grad L(w)`` in R^n for each row of ``W``: one formula for numpy arrays and torch tensors.

    ``Jrows`` is ``J`` as an ``(n, n^(H-1))`` matrix, or for ``H = 3`` its half over the
    pairs ``iu = (j <= k)`` with off-diagonal pairs counted twice; ``W``, ``Jrows`` and
    ``iu`` are all numpy or all torch (on one device). Used by ``SphericalSpinGlass``
    and by both paths of ``descend``.
    """
    if iu is not None:  # H = 3: the pairs j <= k of w_j w_k, half the work
        P = W[:, iu[0]] * W[:, iu[1]]
    else:
        P = W
        for _ in range(H - 2):  # w^(x)(H-1), one row per point
            P = (P[:, :, None] * W[:, None, :]).reshape(W.shape[0], -1)
    return H * scale * (P @ Jrows.T) + field


def _tangent_part(G, W, n):
    """``G - (G.w / n) w`` for each row: the projection onto the tangent space of the sphere ``||w||^2 = n``."""
    return G - ((G * W).sum(1) / n)[:, None] * W


def _symmetrise(Z):
    from itertools import permutations

    H = Z.ndim
    return sum(np.transpose(Z, p) for p in permutations(range(H))) / math.factorial(H)


class SphericalSpinGlass:
    """The spherical spin glass of order ``H``, ``L(w) = n^(-(H-1)/2) sum Z w^(x)H``, on ``||w||^2 = n``.

    Parameters
    ----------
    n : int
        Dimension (the slide's ``Lambda``), ``n >= 2``.
    H : int
        Order (the network's depth), ``H >= 2``.
    seed : int or numpy.random.Generator
        Draws ``Z``.
    field : float, default=0.0
        Strength ``h`` of an external field: the energy gains ``h`` times the sum of
        the coordinates of ``w`` (the picture of gradient noise of Chaudhari and
        Soatto). Zero for the pure model.

    Notes
    -----
    Methods take points as rows, ``W`` of shape ``(B, n)``. They refuse points off
    the sphere (relative tolerance 1e-8) rather than project them silently.

    Examples
    --------
    >>> glass = SphericalSpinGlass(10, 3, seed=0)
    >>> w = np.sqrt(10) * np.eye(10)[:1]
    >>> # n^-1 * Z_000 * sqrt(n)^3
    >>> bool(np.isclose(glass.energy(w)[0], glass.Z[0, 0, 0] * np.sqrt(10)))
    True
    """

    def __init__(self, n, H, seed, field=0.0):
        self.n = as_int(n, "n", minimum=2)
        self.H = as_int(H, "H", minimum=2)
        if self.n**self.H > MAX_ENTRIES:
            raise ValueError(f"n^H = {self.n**self.H:.2g} entries exceed MAX_ENTRIES = {MAX_ENTRIES:.0e}")
        if not np.isfinite(field):
            raise ValueError(f"field must be finite, got {field!r}")
        self.field = float(field)
        self.Z = _rng(seed).standard_normal((self.n,) * self.H)
        self.J = _symmetrise(self.Z)
        self._Jmat = self.J.reshape(self.n, -1)
        self._scale = self.n ** (-(self.H - 1) / 2)
        if self.H == 3:  # J is symmetric: sum over j <= k only, off-diagonal pairs counted twice
            self._iu = np.triu_indices(self.n)
            twice = np.where(self._iu[0] < self._iu[1], 2.0, 1.0)
            self._Jhalf = np.ascontiguousarray(self.J[:, self._iu[0], self._iu[1]] * twice)

    def _check(self, W):
        W = as_matrix(np.atleast_2d(W), "W", n_cols=self.n)
        norms = np.sum(W * W, axis=1)
        if np.any(np.abs(norms - self.n) > 1e-8 * self.n):
            raise ValueError(f"W must lie on the sphere ||w||^2 = n = {self.n} (rows); project with "
                             "w * sqrt(n) / ||w|| first")
        return W

    def _contract(self, W, times):
        """``J(I, ..., I, w, ..., w)`` with ``times`` copies of ``w``, for each row."""
        B = W.shape[0]
        if self.H == 3 and times == 2:  # half the work: the pairs j <= k of w_j w_k
            return (W[:, self._iu[0]] * W[:, self._iu[1]]) @ self._Jhalf.T
        P = np.ones((B, 1))
        for _ in range(times):
            P = (P[:, :, None] * W[:, None, :]).reshape(B, -1)
        J = self.J.reshape(self.n ** (self.H - times), self.n**times)
        return P @ J.T  # (B, n^(H - times))

    def energy(self, W):
        """``L(w)`` for each row of ``W`` (not divided by ``n``); shape ``(B,)``."""
        W = self._check(W)
        return self._scale * np.sum(self._contract(W, self.H - 1) * W, axis=1) + self.field * W.sum(axis=1)

    def euclidean_grad(self, W):
        """``grad L(w)`` in R^n for each row (before projection); shape ``(B, n)``."""
        W = self._check(W)
        return _euclidean_grad_rows(W, *self._grad_operands(), self.H, self._scale, self.field)

    def _grad_operands(self):
        """``(Jrows, iu)`` of ``_euclidean_grad_rows`` (numpy)."""
        return (self._Jhalf, self._iu) if self.H == 3 else (self._Jmat, None)

    def grad(self, W):
        """Riemannian gradient on the sphere: ``g - (g.w / n) w``; shape ``(B, n)``."""
        W = self._check(W)
        return _tangent_part(self.euclidean_grad(W), W, self.n)

    def hessian(self, w):
        """Riemannian Hessian at one point, ``P (nabla^2 L - (w.grad L / n) I) P`` with ``P = I - w w^T / n``.

        Returns an ``(n, n)`` matrix; ``w`` itself is in its kernel, so the tangent
        spectrum is the other ``n - 1`` eigenvalues.
        """
        w = self._check(w)[0]
        Hess = self.H * (self.H - 1) * self._scale * self._contract(w[None, :], self.H - 2).reshape(self.n, self.n)
        g = self.euclidean_grad(w[None, :])[0]
        P = np.eye(self.n) - np.outer(w, w) / self.n
        return P @ (Hess - (w @ g / self.n) * np.eye(self.n)) @ P


@_one_blas_thread
def hessian_spectrum(glass, W):
    """Tangent eigenvalues of the Riemannian Hessian at each row of ``W``, ascending; shape ``(B, n - 1)``.

    At a critical point of energy ``u = L / n`` of the pure model the Hessian is
    ``sqrt(2 H (H - 1)) M - H u I`` with ``M`` an ``(n - 1) x (n - 1)`` GOE matrix of
    off-diagonal variance ``1 / (2 n)``: a semicircle of radius ``2 sqrt(H (H - 1))``
    centred at ``-H u`` (Auffinger, Ben Arous & Cerny).

    Examples
    --------
    >>> glass = SphericalSpinGlass(8, 3, seed=0)
    >>> res = descend(glass, n_restarts=2, seed=0)
    >>> hessian_spectrum(glass, res.W).shape
    (2, 7)
    """
    W = glass._check(W)
    out = np.empty((len(W), glass.n - 1))
    for b, w in enumerate(W):
        P = _tangent_basis(w)
        out[b] = np.linalg.eigvalsh(P.T @ glass.hessian(w) @ P)
    return out


@_one_blas_thread
def hessian_index(glass, W):
    """Number of negative tangent eigenvalues of the Riemannian Hessian at each row of ``W``.

    Examples
    --------
    >>> glass = SphericalSpinGlass(8, 3, seed=0)
    >>> res = descend(glass, n_restarts=4, seed=0)
    >>> idx = hessian_index(glass, res.W[res.converged])
    >>> idx.tolist() == [0] * int(res.converged.sum())
    True
    """
    return np.sum(hessian_spectrum(glass, W) < 0, axis=1).astype(int)


@dataclass
class DescentResult:
    """End points of ``descend``: per-restart arrays.

    Attributes
    ----------
    W : ndarray of shape (B, n)
        End points, on the sphere ``||w||^2 = n``.
    energy : ndarray of shape (B,)
        ``L(w)`` (not divided by ``n``).
    grad_norm : ndarray of shape (B,)
        Riemannian gradient norm divided by ``sqrt(n)``.
    n_iter : ndarray of shape (B,)
        Iterations until each restart met ``tol`` (``max_iter`` if it did not).
    converged : ndarray of bool, shape (B,)
    """

    W: np.ndarray
    energy: np.ndarray
    grad_norm: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray


@_one_blas_thread
def descend(glass, n_restarts, seed, tol=1e-6, max_iter=20000, lr=None, device=None, W0=None):
    """Projected gradient descent on the sphere from uniform random starts, all restarts as one batch.

    ``w <- sqrt(n) (w - lr grad_R L(w)) / ||w - lr grad_R L(w)||``, every restart
    at once (one matrix product with ``J`` per step), until the Riemannian
    gradient norm over ``sqrt(n)`` is below ``tol``; converged restarts are frozen.

    Parameters
    ----------
    glass : SphericalSpinGlass
    n_restarts : int
    seed : int or numpy.random.Generator
        Draws the starts.
    tol : float, default=1e-6
    max_iter : int, default=20000
    lr : float, optional
        Step size; default ``0.5 / (H (H - 1))``.
    device : str, optional
        A torch device (e.g. ``"cuda"``) to run the batch on; numpy when None.
    W0 : array of shape (n_restarts, n), optional
        Starting points on the sphere (``seed`` is then unused); uniform random
        starts when None.

    Returns
    -------
    DescentResult
        Non-convergence is reported in ``converged`` and ``n_iter``, and by a
        ``ConvergenceWarning``.

    Examples
    --------
    >>> glass = SphericalSpinGlass(12, 3, seed=1)
    >>> res = descend(glass, n_restarts=8, seed=0)
    >>> bool(res.converged.all()), bool(np.all(res.energy / 12 < 0))
    (True, True)
    """
    n_restarts = as_int(n_restarts, "n_restarts", minimum=1)
    max_iter = as_int(max_iter, "max_iter", minimum=1)
    tol = as_float(tol, "tol", minimum=0, strict=True)
    lr = 0.5 / (glass.H * (glass.H - 1)) if lr is None else as_float(lr, "lr", minimum=0, strict=True)
    if W0 is None:
        W = sphere_points(n_restarts, glass.n, _rng(seed), radius=np.sqrt(glass.n))
    else:
        W = glass._check(W0).copy()
        if len(W) != n_restarts:
            raise ValueError(f"W0 must have n_restarts = {n_restarts} rows, got {len(W)}")
    res = _run_descent(glass, W, tol, max_iter, lr, device)
    _warn_unconverged("descend", res, f"restarts did not reach tol = {tol:g} within {max_iter} steps (max_iter)")
    return res


def _warn_unconverged(name, res, what):
    """The ``ConvergenceWarning`` of a public routine when a run did not converge.

    Called from a routine wrapped by ``_one_blas_thread``: the frames above this one are
    the routine, the wrapper and the caller the warning points at.
    """
    if not res.converged.all():
        warn_not_converged(
            f"{name}: {int((~res.converged).sum())} of {len(res.converged)} {what}; see converged",
            stacklevel=4,
        )


def _run_descent(glass, W, tol, max_iter, lr, device):
    """The loop of ``descend`` from the rows of ``W`` (changed in place on the numpy path)."""
    if device is not None:
        return _descend_torch(glass, W, tol, max_iter, lr, device)
    n_restarts = len(W)
    n_iter = np.full(n_restarts, max_iter)
    active = np.ones(n_restarts, dtype=bool)
    for it in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        G = glass.grad(W[idx])
        gn = np.linalg.norm(G, axis=1) / np.sqrt(glass.n)
        done = gn < tol
        n_iter[idx[done]] = it
        active[idx[done]] = False
        step = W[idx[~done]] - lr * G[~done]
        W[idx[~done]] = np.sqrt(glass.n) * step / np.linalg.norm(step, axis=1, keepdims=True)
    G = glass.grad(W)
    gn = np.linalg.norm(G, axis=1) / np.sqrt(glass.n)
    return DescentResult(W, glass.energy(W), gn, n_iter, gn < tol)


def _tangent_basis(w):
    """An orthonormal basis ``(n, n - 1)`` of the tangent space ``w^perp``."""
    n = w.shape[0]
    return np.linalg.qr(np.column_stack([w, np.eye(n)[:, :-1]]))[0][:, 1:]


@_one_blas_thread
def newton_critical(glass, W0, tol=1e-10, max_iter=100, max_step=0.5):
    """Riemannian Newton's method on the gradient: critical points of any index, from each row of ``W0``.

    At ``w`` the step ``xi`` solves ``Hess_R xi = -grad_R L`` in the tangent space
    (so it is attracted to saddles as well as minima), is shortened to at most
    ``max_step * sqrt(n)``, and is retracted to the sphere. Use ``hessian_index``
    on the converged end points to sort them by index.

    Parameters
    ----------
    glass : SphericalSpinGlass
    W0 : ndarray of shape (B, n)
        Starting points on the sphere.
    tol : float, default=1e-10
        Stop when the Riemannian gradient norm over ``sqrt(n)`` is below ``tol``.
    max_iter : int, default=100
    max_step : float, default=0.5

    Returns
    -------
    DescentResult
        Starts that did not converge (many do not, from far away) are flagged in
        ``converged`` and reported by a ``ConvergenceWarning``.

    Examples
    --------
    >>> glass = SphericalSpinGlass(10, 3, seed=0)
    >>> W0 = sphere_points(6, 10, seed=1, radius=np.sqrt(10))
    >>> res = newton_critical(glass, W0)
    >>> bool(res.converged.all()), bool(np.all(res.grad_norm < 1e-10))
    (True, True)
    """
    W = glass._check(W0).copy()
    max_iter = as_int(max_iter, "max_iter", minimum=1)
    tol = as_float(tol, "tol", minimum=0, strict=True)
    max_step = as_float(max_step, "max_step", minimum=0, strict=True)
    n = glass.n
    n_iter = np.full(len(W), max_iter)
    for b in range(len(W)):
        w = W[b]
        for it in range(max_iter):
            g = glass.grad(w[None, :])[0]
            if np.linalg.norm(g) / np.sqrt(n) < tol:
                n_iter[b] = it
                break
            P = _tangent_basis(w)
            xi = P @ np.linalg.lstsq(P.T @ glass.hessian(w) @ P, -(P.T @ g), rcond=None)[0]
            step = np.linalg.norm(xi)
            if step > max_step * np.sqrt(n):
                xi *= max_step * np.sqrt(n) / step
            w = np.sqrt(n) * (w + xi) / np.linalg.norm(w + xi)
        W[b] = w
    gn = np.linalg.norm(glass.grad(W), axis=1) / np.sqrt(n)
    res = DescentResult(W, glass.energy(W), gn, n_iter, gn < tol)
    what = f"starts did not reach tol = {tol:g} within {max_iter} steps (max_iter)"
    _warn_unconverged("newton_critical", res, what)
    return res


def _descend_torch(glass, W0, tol, max_iter, lr, device):
    import torch

    n = glass.n
    Jrows, iu = glass._grad_operands()
    J = torch.as_tensor(Jrows, dtype=torch.float64, device=device)
    iu = None if iu is None else [torch.as_tensor(i, device=device) for i in iu]
    W = torch.as_tensor(W0, dtype=torch.float64, device=device)
    n_iter = torch.full((len(W0),), max_iter, dtype=torch.long, device=device)
    active = torch.ones(len(W0), dtype=torch.bool, device=device)
    for it in range(max_iter):
        G = _tangent_part(_euclidean_grad_rows(W, J, iu, glass.H, glass._scale, glass.field), W, n)
        gn = G.norm(dim=1) / math.sqrt(n)
        newly = active & (gn < tol)
        n_iter[newly] = it
        active &= ~newly
        if not bool(active.any()):
            break
        step = W - lr * G
        step = math.sqrt(n) * step / step.norm(dim=1, keepdim=True)
        W = torch.where(active[:, None], step, W)
    W = W.cpu().numpy()
    G = glass.grad(W)
    gn = np.linalg.norm(G, axis=1) / np.sqrt(n)
    return DescentResult(W, glass.energy(W), gn, n_iter.cpu().numpy(), gn < tol)


# --- asymptotic complexity (Auffinger, Ben Arous & Cerny) -------------------------


def _as_H(H):
    H = as_int(H, "H", minimum=3)
    return H


def threshold_energy(H):
    """``E_inf = 2 sqrt((H - 1) / H)``: above ``-E_inf`` the index of critical points diverges.

    Examples
    --------
    >>> round(threshold_energy(3), 6)
    1.632993
    """
    H = _as_H(H)
    return 2.0 * math.sqrt((H - 1) / H)


def _I1(u, Einf):
    r = math.sqrt(max(u * u - Einf * Einf, 0.0))
    return -(u / Einf**2) * r - math.log(-u + r) + math.log(Einf)


def complexity(u, H, k=None):
    """``Theta_{k,H}(u)`` (critical points of index ``k``), or the total ``Theta_H(u)`` when ``k`` is None.

    Energies ``u`` are per unit ``n`` (``L / n``).

    Examples
    --------
    >>> round(complexity(0.5, 3), 6)  # = 1/2 log 2 for u >= 0
    0.346574
    """
    H = _as_H(H)
    u = float(u)
    if not math.isfinite(u):
        raise ValueError(f"u must be finite, got {u!r}")
    Einf = threshold_energy(H)
    base = 0.5 * math.log(H - 1)
    if k is None:
        if u >= 0:
            return base
        if u >= -Einf:
            return base - (H - 2) * u * u / (4 * (H - 1))
        return base - (H - 2) * u * u / (4 * (H - 1)) - _I1(u, Einf)
    k = as_int(k, "k", minimum=0)
    if u > -Einf:
        return base - (H - 2) / H
    return base - (H - 2) * u * u / (4 * (H - 1)) - (k + 1) * _I1(u, Einf)


def band_energy(H, k):
    """``E_k > 0``: ``-E_k`` is the zero of ``Theta_{k,H}`` below ``-E_inf`` (root finding).

    Examples
    --------
    >>> round(band_energy(3, 0), 6)
    1.656998
    """
    H = _as_H(H)
    k = as_int(k, "k", minimum=0)
    Einf = threshold_energy(H)
    f = lambda u: complexity(u, H, k)  # noqa: E731
    lo = -Einf - 1e-12
    hi = -Einf - 1.0
    while f(hi) > 0:
        hi -= 1.0
    return -float(scipy.optimize.brentq(f, hi, lo, xtol=1e-14))


def ground_state_energy(H):
    """``E_0``: minima concentrate at ``-n E_0`` (the zero of ``Theta_{0,H}``).

    Examples
    --------
    >>> round(ground_state_energy(3), 3)
    1.657
    """
    return band_energy(H, 0)


# --- annealing the field (Chaudhari & Soatto) ----------------------------------


@_one_blas_thread
def anneal(glass, fields, n_restarts, seed, tol=1e-6, stage_iter=2000, max_iter=20000, lr=None,
           noise="field"):
    """Descent under random noise whose strength is lowered through ``fields``, then plain descent.

    With ``noise="field"`` each restart gets its own static field direction ``v``
    (standard Gaussian, so ``||v|| ~ sqrt(n)``, the scale of the uniform field of
    ``SphericalSpinGlass``): at stage ``h`` it descends ``L(w) + h v.w`` for at most
    ``stage_iter`` steps (or to ``tol``) -- the picture of gradient noise as an
    external field. With ``noise="gradient"`` a fresh ``h xi``, ``xi`` standard
    Gaussian, is added to the gradient at every step (the noise itself), for
    ``stage_iter`` steps per stage. Each stage starts where the previous one ended;
    the last stage is ``descend`` on the glass itself, to ``tol``. This is the
    annealing of gradient noise that Chaudhari and Soatto propose.

    Parameters
    ----------
    glass : SphericalSpinGlass
        The glass at zero field (its own ``field`` is kept in every stage).
    fields : sequence of float
        Field strengths, each > 0, in decreasing order.
    n_restarts : int
    seed : int or numpy.random.Generator
        Draws the starts, then the field directions.
    tol, stage_iter, max_iter, lr
        As in ``descend``; ``max_iter`` bounds the final stage.
    noise : {"field", "gradient"}, default="field"
        A static field per restart, or noise redrawn at every step.

    Returns
    -------
    DescentResult
        Of the final, zero-field stage; non-convergence there is flagged in
        ``converged`` and reported by a ``ConvergenceWarning``.

    Examples
    --------
    >>> glass = SphericalSpinGlass(12, 3, seed=1)
    >>> res = anneal(glass, [1.0, 0.5], n_restarts=4, seed=0)
    >>> bool(res.converged.all())
    True
    """
    if noise not in ("field", "gradient"):
        raise ValueError(f"noise must be 'field' or 'gradient', got {noise!r}")
    fields = np.asarray(fields, dtype=float)
    if fields.ndim != 1 or fields.size == 0 or np.any(~np.isfinite(fields)) or np.any(fields <= 0):
        raise ValueError(f"fields must be a non-empty sequence of finite numbers > 0, got {fields!r}")
    if np.any(np.diff(fields) > 0):
        raise ValueError("fields must be in decreasing order")
    n_restarts = as_int(n_restarts, "n_restarts", minimum=1)
    stage_iter = as_int(stage_iter, "stage_iter", minimum=1)
    max_iter = as_int(max_iter, "max_iter", minimum=1)
    tol = as_float(tol, "tol", minimum=0, strict=True)
    lr = 0.5 / (glass.H * (glass.H - 1)) if lr is None else as_float(lr, "lr", minimum=0, strict=True)
    g = _rng(seed)
    n = glass.n
    W = sphere_points(n_restarts, n, g, radius=np.sqrt(n))
    V = g.standard_normal((n_restarts, n))
    for h in fields:
        for _ in range(stage_iter):
            if noise == "gradient":
                V = g.standard_normal((n_restarts, n))
            G = glass.euclidean_grad(W) + h * V
            G -= (np.sum(G * W, axis=1, keepdims=True) / n) * W
            if noise == "field" and np.all(np.linalg.norm(G, axis=1) / np.sqrt(n) < tol):
                break
            step = W - lr * G
            W = np.sqrt(n) * step / np.linalg.norm(step, axis=1, keepdims=True)
    res = _run_descent(glass, W, tol, max_iter, lr, None)
    what = f"restarts did not reach tol = {tol:g} within the final stage's {max_iter} steps (max_iter)"
    _warn_unconverged("anneal", res, what)
    return res


# --- finite-n random-matrix theory (Auffinger, Ben Arous & Cerny) ---------------


def semicircle_cdf(x):
    """Distribution function of the semicircle law on ``[-1, 1]``.

    Examples
    --------
    >>> [round(float(v), 6) for v in semicircle_cdf([-1.0, 0.0, 1.0])]
    [0.0, 0.5, 1.0]
    """
    x = np.clip(np.asarray(x, dtype=float), -1.0, 1.0)
    return 0.5 + (x * np.sqrt(1 - x * x) + np.arcsin(x)) / np.pi


def index_law(u, n, H):
    """Expected Hessian index of a critical point at energy ``u`` per unit ``n``, to leading order.

    The Hessian there is a semicircle of radius ``2 sqrt(H (H - 1))`` centred at
    ``-H u`` on ``n - 1`` tangent directions, so its negative eigenvalues number about
    ``(n - 1) F_sc(H u / (2 sqrt(H (H - 1))))``; zero below ``-E_inf``.

    Examples
    --------
    >>> float(index_law(0.0, 25, 3))  # half the spectrum at zero energy
    12.0
    >>> float(index_law(-threshold_energy(3), 25, 3))
    0.0
    """
    H = _as_H(H)
    n = as_int(n, "n", minimum=2)
    return (n - 1) * semicircle_cdf(np.asarray(u, dtype=float) * H / (2 * math.sqrt(H * (H - 1))))


@numba.njit(cache=True)
def _goe_kth_kernel(d, e2, k, iters):  # pragma: no cover - compiled
    n, m = d.shape
    out = np.empty(m)
    for s in range(m):
        bound = 0.0
        for i in range(n):
            r = abs(d[i, s])
            if i > 0:
                r += math.sqrt(e2[i - 1, s])
            if i < n - 1:
                r += math.sqrt(e2[i, s])
            bound = max(bound, r)
        lo, hi = -bound, bound
        for _ in range(iters):
            x = 0.5 * (lo + hi)
            count = 0  # eigenvalues below x: negative pivots of the LDL^T of T - x I
            q = d[0, s] - x
            if q < 0:
                count += 1
            for i in range(1, n):
                if q == 0.0:
                    q = 1e-300
                q = d[i, s] - x - e2[i - 1, s] / q
                if q < 0:
                    count += 1
            if count > k:
                hi = x
            else:
                lo = x
        out[s] = 0.5 * (lo + hi)
    return out


def goe_eigenvalue(n, k, n_samples, seed, iters=60):
    """The ``(k + 1)``-th smallest eigenvalue of ``n x n`` GOE draws, off-diagonal variance ``1 / (2 n)``.

    The diagonal has variance ``1 / n``; the semicircle fills ``[-sqrt 2, sqrt 2]``.
    Draws use the tridiagonal model of Dumitriu and Edelman and bisection on Sturm
    counts (a compiled loop), ``iters`` halvings of the Gershgorin interval.

    Examples
    --------
    >>> lam = goe_eigenvalue(200, 0, 400, seed=0)
    >>> bool(abs(lam.mean() + np.sqrt(2)) < 0.05)  # near the edge -sqrt(2)
    True
    """
    n = as_int(n, "n", minimum=1)
    k = as_int(k, "k", minimum=0)
    if k >= n:
        raise ValueError(f"k must be < n = {n}, got {k}")
    n_samples = as_int(n_samples, "n_samples", minimum=1)
    iters = as_int(iters, "iters", minimum=1)
    g = _rng(seed)
    d = g.standard_normal((n, n_samples)) / np.sqrt(n)
    dof = np.arange(n - 1, 0, -1)[:, None] * np.ones((1, n_samples))
    e2 = g.chisquare(dof) / (2 * n) if n > 1 else np.zeros((0, n_samples))
    return _goe_kth_kernel(d, e2, k, iters)


def kac_rice_sample(n, H, k=0, *, n_samples=200_000, seed=0):
    """Monte Carlo terms of the finite-``n`` Kac-Rice formula: a weight and an energy per GOE draw.

    Auffinger, Ben Arous and Cerny's identity (their Theorem 2.8 in the form with
    an ``n x n`` GOE): the expected number of critical points of index ``k`` with
    energy per unit in a set ``B`` is

        2 sqrt(2/H) (H-1)^(n/2) E[exp(-n (H-2) lam_k^2 / (2H)) 1{sqrt(2(H-1)/H) lam_k in B}],

    ``lam_k`` the ``(k + 1)``-th smallest eigenvalue of an ``n x n`` GOE with
    off-diagonal variance ``1 / (2 n)``. Returns, per draw, the weight (the factor in
    front of the indicator, so that ``weight.mean()`` estimates the count over all
    energies) and the energy ``sqrt(2(H-1)/H) lam_k``.

    Examples
    --------
    >>> w, u = kac_rice_sample(5, 3, n_samples=20000, seed=0)
    >>> round(float(w.mean()), 1)  # about 4 minima at n = 5, H = 3
    4.0
    """
    n = as_int(n, "n", minimum=2)
    H = _as_H(H)
    lam = goe_eigenvalue(n, k, n_samples, seed)
    log_w = math.log(2 * math.sqrt(2 / H)) + 0.5 * n * math.log(H - 1) - n * (H - 2) * lam**2 / (2 * H)
    return np.exp(log_w), lam * math.sqrt(2 * (H - 1) / H)


@dataclass
class KacRiceEstimate:
    """A Monte Carlo estimate of an expected number of critical points.

    Attributes
    ----------
    expected : float
    se : float
        Its Monte Carlo standard error.
    n_samples : int
    """

    expected: float
    se: float
    n_samples: int


def expected_critical_points(n, H, k=0, u_max=None, *, n_samples=200_000, seed=0):
    """Expected number of critical points of index ``k`` with energy per unit at most ``u_max``.

    The pure ``H``-spin glass on the sphere of radius ``sqrt(n)``, by the exact
    finite-``n`` Kac-Rice formula (see ``kac_rice_sample``), all energies when
    ``u_max`` is None.

    Returns
    -------
    KacRiceEstimate

    Examples
    --------
    >>> est = expected_critical_points(25, 3, n_samples=20000, seed=0)
    >>> bool(10 < est.expected < 20)
    True
    """
    w, u = kac_rice_sample(n, H, k, n_samples=n_samples, seed=seed)
    if u_max is not None:
        if not np.isfinite(u_max):
            raise ValueError(f"u_max must be finite or None, got {u_max!r}")
        w = w * (u <= u_max)
    return KacRiceEstimate(float(w.mean()), float(w.std(ddof=1) / math.sqrt(len(w))), len(w))


def critical_energy_density(n, H, bins, k=0, *, n_samples=200_000, seed=0):
    """Probability density of the energy per unit of a critical point of index ``k`` (Kac-Rice).

    The Kac-Rice weights of ``kac_rice_sample`` histogrammed over ``bins`` and
    normalised to integrate to one over all energies (mass outside ``bins`` is
    left out, not renormalised): the curve to lay over a histogram of energies of
    index-``k`` critical points picked uniformly among them.

    Examples
    --------
    >>> bins = np.linspace(-1.8, -1.0, 81)
    >>> dens = critical_energy_density(25, 3, bins, n_samples=20000, seed=0)
    >>> bool(abs(np.sum(dens * np.diff(bins)) - 1) < 0.01)
    True
    """
    bins = np.asarray(bins, dtype=float)
    if bins.ndim != 1 or len(bins) < 2 or np.any(np.diff(bins) <= 0):
        raise ValueError("bins must be an increasing 1-d array of at least two edges")
    w, u = kac_rice_sample(n, H, k, n_samples=n_samples, seed=seed)
    hist, _ = np.histogram(u, bins=bins, weights=w)
    return hist / (w.sum() * np.diff(bins))


_KR_CHUNK = 5000  # GOE matrices per block of kac_rice_direct


@_one_blas_thread
def kac_rice_direct(n, H, k=0, *, n_matrices=2000, seed=0):
    """The Kac-Rice integral written out, an independent check of ``expected_critical_points``.

    Sphere area times the density of the Riemannian gradient at zero (covariance
    ``H I`` on the tangent space) times ``int p(u) E[|det Hess| 1{index k}] du``,
    with the tangent Hessian ``sqrt(2H(H-1)) M - H u I`` (``M`` an ``(n-1) x (n-1)``
    GOE of off-diagonal variance ``1/(2n)``) and the energy ``u ~ N(0, 1/n)``; the
    expectation over ``M`` is a Monte Carlo mean over ``n_matrices`` draws and the
    ``u`` integral a Riemann sum on ``[-3, 3]``. Returns a ``KacRiceEstimate``
    (standard error from 10 batches of the matrices).

    Examples
    --------
    >>> est = kac_rice_direct(5, 3, n_matrices=2000, seed=0)
    >>> bool(abs(est.expected - 4.0) < 0.3)
    True
    """
    n = as_int(n, "n", minimum=2)
    H = _as_H(H)
    k = as_int(k, "k", minimum=0)
    n_matrices = as_int(n_matrices, "n_matrices", minimum=20)
    g = _rng(seed)
    us = np.linspace(-3.0, 3.0, 601)
    log_area = math.log(2) + (n / 2) * math.log(math.pi) - math.lgamma(n / 2) + (n - 1) / 2 * math.log(n)
    log_c = log_area - (n - 1) / 2 * math.log(2 * math.pi * H) + 0.5 * math.log(n / (2 * math.pi))
    chunks = []
    for start in range(0, n_matrices, _KR_CHUNK):  # memory bounded by the chunk, not by n_matrices
        A = g.standard_normal((min(_KR_CHUNK, n_matrices - start), n - 1, n - 1))
        mu = np.linalg.eigvalsh((A + A.transpose(0, 2, 1)) / 2 / math.sqrt(n)) * math.sqrt(2 * H * (H - 1))
        terms = np.empty((len(us), len(A)))
        for i, u in enumerate(us):  # log|det| keeps n in the hundreds finite
            ev = mu - H * u
            log_det = np.sum(np.log(np.abs(ev)), axis=1)
            terms[i] = np.exp(log_c - n * u * u / 2 + log_det) * (np.sum(ev < 0, axis=1) == k)
        chunks.append(terms.sum(axis=0) * (us[1] - us[0]))
    per_matrix = np.concatenate(chunks)
    batches = per_matrix[: n_matrices - n_matrices % 10].reshape(10, -1).mean(axis=1)
    return KacRiceEstimate(float(per_matrix.mean()), float(batches.std(ddof=1) / math.sqrt(10)), n_matrices)


# --- helpers of the chapter's experiments: clustering, tangent GOE, glass-level t ---


def distinct_points(W, overlap=0.999):
    """Greedy clustering of points on the sphere ``||w||^2 = n`` by their overlap.

    Row ``i`` joins the first earlier cluster whose representative ``r`` has
    ``w_i . r / n > overlap``, else starts a new cluster with itself as representative.
    Used to count distinct minima among the end points of many descents.

    Parameters
    ----------
    W : ndarray of shape (B, n)
        Points on the sphere of radius ``sqrt(n)``.
    overlap : float, default=0.999
        Two points are one when their overlap ``w . w' / n`` exceeds it.

    Returns
    -------
    count : int
        The number of clusters.
    label : ndarray of int of shape (B,)
        The cluster of each row, numbered in order of first appearance.

    Examples
    --------
    >>> W = np.array([[1.0, 0.0], [-1.0, 0.0], [1.0, 1e-3]]) * np.sqrt(2)
    >>> count, label = distinct_points(W)
    >>> count, label.tolist()
    (2, [0, 1, 0])
    """
    W = as_matrix(W, "W")
    overlap = as_float(overlap, "overlap")
    n = W.shape[1]
    reps, label = [], np.empty(len(W), dtype=int)
    for i, w in enumerate(W):
        hit = [j for j, r in enumerate(reps) if w @ r / n > overlap]
        if hit:
            label[i] = hit[0]
        else:
            label[i] = len(reps)
            reps.append(w)
    return len(reps), label


def tangent_goe_spectrum(n, seed):
    """One draw of the GOE part of a Hessian on the sphere of ``n`` weights, in semicircle units.

    The ``n - 1`` eigenvalues of an ``(n - 1) x (n - 1)`` GOE with off-diagonal
    variance ``1 / (2 n)`` (the tridiagonal model of Dumitriu and Edelman), divided by
    ``sqrt 2`` so that their semicircle fills ``[-1, 1]`` as ``n`` grows. The Hessian
    at a critical point of energy ``u`` per unit is ``2 sqrt(H (H - 1))`` times this
    spectrum, shifted by ``-H u``; its index is the number of eigenvalues below
    ``H u / (2 sqrt(H (H - 1)))``.

    Parameters
    ----------
    n : int
        Number of weights (the sphere's dimension plus one), at least 3.
    seed : int or numpy.random.Generator
        A Generator is drawn from in place: the diagonal, then the off-diagonal.

    Returns
    -------
    ndarray of shape (n - 1,)
        Ascending.

    Examples
    --------
    >>> x = tangent_goe_spectrum(400, seed=0)
    >>> x.shape, bool(-1.1 < x[0] < -0.9), bool(0.9 < x[-1] < 1.1)
    ((399,), True, True)
    """
    import scipy.linalg

    n = as_int(n, "n", minimum=3)
    g = _rng(seed)
    m = n - 1
    d = g.standard_normal(m) / np.sqrt(n)
    e = np.sqrt(g.chisquare(np.arange(m - 1, 0, -1)) / (2 * n))
    return scipy.linalg.eigvalsh_tridiagonal(d, e) / np.sqrt(2)


def conditioned_goe_spectra(n, x_min, k, max_draws, seed):
    """``k`` tangent GOE spectra with every eigenvalue above ``x_min``, and their ``|det|`` weights.

    The law of the Hessian at a local minimum of energy ``u``: the Kac-Rice formula
    conditions the shifted GOE on a positive spectrum and weights it by
    ``|det| = prod (x_i - x_min)`` (``x_min = H u / (2 sqrt(H (H - 1)))`` in the units
    of :func:`tangent_goe_spectrum`). Draws by rejection.

    Parameters
    ----------
    n : int
    x_min : float
    k : int
        Spectra wanted.
    max_draws : int
        Draws tried before giving up.
    seed : int or numpy.random.Generator

    Returns
    -------
    (ndarray of shape (k, n - 1), ndarray of shape (k,)) or None
        The accepted spectra and their normalised weights; None when fewer than ``k`` of
        ``max_draws`` draws are accepted (at energies far above the threshold a
        positive spectrum is a rare event, a pushed edge).

    Examples
    --------
    >>> spectra, w = conditioned_goe_spectra(30, -1.2, 3, 100, seed=0)
    >>> spectra.shape, bool(np.all(spectra > -1.2)), round(float(w.sum()), 12)
    ((3, 29), True, 1.0)
    >>> conditioned_goe_spectra(30, 0.0, 3, 10, seed=0) is None
    True
    """
    k = as_int(k, "k", minimum=1)
    max_draws = as_int(max_draws, "max_draws", minimum=1)
    x_min = as_float(x_min, "x_min")
    g = _rng(seed)
    out = []
    for _ in range(max_draws):
        ev = tangent_goe_spectrum(n, g)
        if ev[0] > x_min:
            out.append(ev)
            if len(out) == k:
                break
    if len(out) < k:
        return None
    out = np.array(out)
    logw = np.log(out - x_min).sum(axis=1)
    return out, np.exp(logw - logw.max()) / np.exp(logw - logw.max()).sum()


def index_gap_t(per_glass, k):
    """Mean energy of index ``k + 1`` minus that of index ``k``, in standard errors over glasses.

    Critical points of one glass share its disorder (and Newton runs started near one
    minimum find neighbouring saddles), so the glass is the unit: on each glass that
    has critical points of both indices the difference of their mean energies is one
    observation, and the statistic is the ``t`` of these differences.

    Parameters
    ----------
    per_glass : sequence of (ndarray, ndarray)
        For each glass, the energies of its distinct critical points and their indices.
    k : int

    Returns
    -------
    t : float
        nan with fewer than two usable glasses; infinite when every glass gives the
        same gap.
    n_glasses : int
        Glasses used (the ``t`` has ``n_glasses - 1`` degrees of freedom).

    Examples
    --------
    >>> glasses = [(np.array([-1.6, -1.5, -1.4]), np.array([0, 1, 2]))] * 2
    >>> glasses.append((np.array([-1.7, -1.5]), np.array([0, 1])))
    >>> t, n_g = index_gap_t(glasses, 0)
    >>> round(t, 3), n_g
    (4.0, 3)
    >>> index_gap_t(glasses, 1)  # two identical glasses: the same gap twice
    (inf, 2)
    """
    k = as_int(k, "k", minimum=0)
    gaps = np.array(
        [
            np.mean(e[i == k + 1]) - np.mean(e[i == k])
            for e, i in ((np.asarray(e_), np.asarray(i_)) for e_, i_ in per_glass)
            if np.any(i == k) and np.any(i == k + 1)
        ]
    )
    if len(gaps) < 2:
        return float("nan"), len(gaps)
    spread = gaps.std(ddof=1)
    if spread == 0:  # every glass gives the same gap: no noise, t is infinite (signed)
        return float(np.sign(gaps.mean()) * np.inf), len(gaps)
    return float(gaps.mean() / (spread / np.sqrt(len(gaps)))), len(gaps)


def rerun_below(t, n, threshold):
    """Chance that a rerun on ``n`` new units gives a one-sample ``t`` below ``threshold``.

    The one-sample ``t`` of ``n`` units is noncentral ``t`` with ``n - 1`` degrees of
    freedom and noncentrality ``delta``; its mean is ``c delta``, with
    ``c = sqrt(nu / 2) Gamma((nu - 1) / 2) / Gamma(nu / 2) > 1``. The effect is
    estimated from an observed ``t`` as ``delta = t / c`` (unbiased), and the chance is
    the noncentral ``t``'s distribution function at ``threshold``. A check of a claim's
    margin: how often a fresh run of the same size would fail it. nan for ``n < 4`` or
    a nan ``t``.

    Examples
    --------
    >>> round(rerun_below(6.02, 8, 3.0), 3)  # eight glasses at t = 6.0: about 3 %
    0.029
    >>> rerun_below(8.6, 16, 3.0) < 1e-4
    True
    """
    import scipy.special
    import scipy.stats

    n = as_int(n, "n", minimum=0)
    t = float(t)
    if n < 4 or not np.isfinite(t):
        return float("nan")
    nu = n - 1
    c = math.sqrt(nu / 2) * math.exp(scipy.special.gammaln((nu - 1) / 2) - scipy.special.gammaln(nu / 2))
    return float(scipy.stats.nct.cdf(as_float(threshold, "threshold"), nu, t / c))


def glass_components(e, glass):
    """Pooled mean and spread of end-point energies, split into within- and between-glass parts.

    The end points of several descents on each of several glasses vary for two reasons:
    the disorder (glass to glass) and the start (descent to descent on one glass). The
    within-glass variance is the mean of the glasses' own variances; the between-glass
    variance is that of the glass means less the share the descents contribute to it
    (the within variance over the mean number of descents per glass), floored at 0.

    Parameters
    ----------
    e : ndarray of shape (m,)
        Energies (per unit) of the end points.
    glass : ndarray of int of shape (m,)
        The glass of each end point, labelled ``0 .. G - 1``; at least two per glass.

    Returns
    -------
    (float, float, float, float)
        Pooled mean, pooled standard deviation, within-glass and between-glass
        standard deviations.

    Examples
    --------
    >>> e = np.array([0.0, 2.0, 10.0, 12.0])
    >>> [round(float(v), 6) for v in glass_components(e, np.array([0, 0, 1, 1]))]
    [6.0, 5.887841, 1.414214, 7.0]
    """
    e = np.asarray(e, dtype=float)
    gl = np.asarray(glass)
    if e.shape != gl.shape or e.ndim != 1:
        raise ValueError(f"e and glass must be 1-d of one length, got {e.shape} and {gl.shape}")
    means = np.array([e[gl == i].mean() for i in np.unique(gl)])
    within = np.mean([e[gl == i].var(ddof=1) for i in np.unique(gl)])
    between = max(means.var(ddof=1) - within / np.bincount(gl).mean(), 0.0)
    return e.mean(), e.std(ddof=1), np.sqrt(within), np.sqrt(between)


def glass_bootstrap(samples, stat, n_boot, seed):
    """A statistic over resamples that redraw whole glasses, independently at every size.

    The end points of one glass share its disorder, so the glass is the unit of
    resampling: each resample draws, for every key of ``samples`` in order, as many
    glasses as it has with replacement and concatenates their end points.

    Parameters
    ----------
    samples : dict of key -> (ndarray of shape (m,), ndarray of int of shape (m,))
        Per size (or any key), the energies and the glass of each, glasses labelled
        ``0 .. G - 1``.
    stat : callable
        Maps a dict key -> resampled energies to a number or a sequence of numbers.
    n_boot : int
    seed : int or numpy.random.Generator
        A Generator is drawn from in place.

    Returns
    -------
    ndarray of shape (n_boot, ...)
        ``stat`` of each resample.

    Examples
    --------
    >>> e = np.array([0.0, 0.0, 1.0, 1.0])
    >>> b = glass_bootstrap({25: (e, np.array([0, 0, 1, 1]))}, lambda s: s[25].mean(), 200, 0)
    >>> sorted(set(b.round(6).tolist()))  # both glasses, one of them twice, or each once
    [0.0, 0.5, 1.0]
    """
    n_boot = as_int(n_boot, "n_boot", minimum=1)
    g = _rng(seed)
    out = []
    for _ in range(n_boot):
        sample = {}
        for key, (e, gl) in samples.items():
            pick = g.integers(0, gl.max() + 1, gl.max() + 1)
            sample[key] = np.concatenate([e[gl == i] for i in pick])
        out.append(stat(sample))
    return np.array(out)
