"""Score functions, Stein's identity and moment tensors (Janzamin, Sedghi & Anandkumar).

Slides: "Tensor Decompositions and Neural Nets" (both) and the three
"[Janzamin, Sedghi, Anandkumar]" slides. Used by ``notebooks/04_nn_lift.md``.

The m-th order score function of an input density p is
``S_m(x) = (-1)^m nabla^m p(x) / p(x)``; for ``f(x) = E[y | x]`` Stein's identity
gives ``E[y S_m(x)] = E[nabla^m f(x)]``. For the standard Gaussian,

    S_1 = x,   S_2 = x x^T - I,
    S_3 = x (x) x (x) x - sum_j (x (x) e_j (x) e_j + e_j (x) x (x) e_j + e_j (x) e_j (x) x).

``Moment3`` holds the empirical ``T = mean_i y_i S_3(x_i)`` for Gaussian inputs
*implicitly*: its products ``T(I, v, v)`` cost two passes over the samples, and the
``d^3`` tensor is never formed (``dense`` forms it for small ``d``).
"""

import numpy as np

from ._checks import as_int, as_matrix, as_samples

__all__ = ["gaussian_score", "score", "moment2", "Moment3"]

MAX_DENSE_ENTRIES = 2 * 10**8
_CHUNK = 8192  # samples per block of the implicit products


def _as_order(order):
    order = as_int(order, "order", minimum=1)
    if order > 3:
        raise ValueError(f"order must be 1, 2 or 3, got {order}")
    return order


def gaussian_score(X, order):
    """Score functions of the standard Gaussian in closed form, one per row of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    order : {1, 2, 3}

    Returns
    -------
    ndarray of shape (n,) + (d,) * order

    Examples
    --------
    >>> gaussian_score(np.array([[1.0, 2.0]]), 2)
    array([[[0., 2.],
            [2., 3.]]])
    """
    X = as_matrix(X, "X")
    order = _as_order(order)
    n, d = X.shape
    if n * d**order > MAX_DENSE_ENTRIES:
        raise ValueError(f"gaussian_score would form {n * d**order:.2g} entries; use Moment3 for products")
    if order == 1:
        return X.copy()
    eye = np.eye(d)
    if order == 2:
        return np.einsum("ni,nj->nij", X, X) - eye
    S = np.einsum("ni,nj,nk->nijk", X, X, X)
    S -= np.einsum("ni,jk->nijk", X, eye) + np.einsum("nj,ik->nijk", X, eye) + np.einsum("nk,ij->nijk", X, eye)
    return S


def score(X, log_density, order):
    """Score functions ``(-1)^m nabla^m p / p`` by automatic differentiation of ``p = exp(log_density)``.

    The definition, literally: ``p`` is differentiated ``order`` times with
    ``torch.func`` (forward over reverse mode) and divided by ``p`` -- no
    recursion or closed form is used, so it serves as an independent check of
    ``gaussian_score`` and of closed forms for other densities.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    log_density : callable
        Maps a torch tensor of shape ``(d,)`` (float64) to the scalar ``log p(x)``;
        normalisation constants cancel.
    order : {1, 2, 3}

    Returns
    -------
    ndarray of shape (n,) + (d,) * order

    Examples
    --------
    >>> S2 = score(np.array([[1.0, 2.0]]), lambda x: -0.5 * (x**2).sum(), 2)
    >>> bool(np.allclose(S2, gaussian_score(np.array([[1.0, 2.0]]), 2)))
    True
    """
    import torch
    from torch.func import jacfwd, jacrev, vmap

    X = as_matrix(X, "X")
    order = _as_order(order)
    if not callable(log_density):
        raise TypeError(f"log_density must be callable, got {type(log_density).__name__}")

    def p(x):
        return torch.exp(log_density(x))

    deriv = jacrev(p)
    for _ in range(order - 1):
        deriv = jacfwd(deriv)
    xt = torch.as_tensor(X, dtype=torch.float64)
    dp = vmap(deriv)(xt)
    pv = vmap(p)(xt)
    out = (-1.0) ** order * dp / pv.reshape((-1,) + (1,) * order)
    return out.detach().numpy()


def moment2(X, y):
    """``M2 = mean_i y_i S_2(x_i) = mean_i y_i (x_i x_i^T - I)`` for Gaussian inputs.

    By Stein's identity its expectation is ``E[nabla^2 f(x)]``.

    Examples
    --------
    >>> moment2(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([1.0, 1.0]))
    array([[-0.5,  0. ],
           [ 0. , -0.5]])
    """
    X, y = as_samples(X, y)
    return (X * y[:, None]).T @ X / len(y) - y.mean() * np.eye(X.shape[1])


class Moment3:
    """The empirical third-order moment ``T = mean_i y_i S_3(x_i)``, held implicitly.

    ``T(I, v, v) = mean_i y_i [ x_i (x_i.v)^2 - ||v||^2 x_i - 2 (x_i.v) v ]``:
    for a block of vectors ``V`` this is two matrix products with each block of
    samples (``X_c V``, then ``X_c^T`` applied to ``y (X_c V)^2``), block by block so
    that ``X`` is read from memory once -- ``O(n d)`` per vector, never the
    ``d^3`` tensor.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Samples of a standard Gaussian input.
    y : ndarray of shape (n,)

    Examples
    --------
    >>> g = np.random.default_rng(0)
    >>> X, y = g.normal(size=(500, 3)), g.normal(size=500)
    >>> T = Moment3(X, y)
    >>> v = np.array([[1.0], [0.0], [0.0]])
    >>> dense = np.einsum("ijk,j,k->i", T.dense(), v[:, 0], v[:, 0])
    >>> bool(np.allclose(T.tvv(v)[:, 0], dense))
    True
    """

    def __init__(self, X, y):
        self.X, self.y = as_samples(X, y)
        self.n, self.d = self.X.shape
        self._Xty = self.X.T @ self.y / self.n
        self._ybar = float(self.y.mean())

    def tvv(self, V):
        """``T(I, v, v)`` for every column ``v`` of ``V`` (shape ``(d, L)``); returns ``(d, L)``."""
        V = self._as_block(V)
        first = np.zeros((self.d, V.shape[1]))
        yP = np.zeros(V.shape[1])
        for s in range(0, self.n, _CHUNK):  # chunks stay in cache between the two products: one pass over X
            Xc, yc = self.X[s : s + _CHUNK], self.y[s : s + _CHUNK]
            P = Xc @ V  # x_i . v
            yP += yc @ P
            P *= P
            P *= yc[:, None]
            first += Xc.T @ P
        first /= self.n
        second = np.sum(V * V, axis=0)[None, :] * self._Xty[:, None]
        third = 2.0 * V * (yP / self.n)[None, :]
        return first - second - third

    def tvvv(self, V):
        """``T(v, v, v)`` for every column of ``V``; returns ``(L,)``."""
        V = self._as_block(V)
        return np.sum(V * self.tvv(V), axis=0)

    def tvv_matrix(self, theta):
        """The slice ``T(I, I, theta)``, a ``(d, d)`` matrix:
        ``mean_i y_i [(x_i.theta) x_i x_i^T - (x_i.theta) I - x_i theta^T - theta x_i^T]``."""
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != (self.d,):
            raise ValueError(f"theta must have shape ({self.d},), got {theta.shape}")
        w = self.y * (self.X @ theta) / self.n
        M = (self.X * w[:, None]).T @ self.X - w.sum() * np.eye(self.d)
        return M - np.outer(self._Xty, theta) - np.outer(theta, self._Xty)

    def dense(self):
        """The full ``d x d x d`` tensor (small ``d`` only)."""
        d = self.d
        if d**3 > MAX_DENSE_ENTRIES // 100:
            raise ValueError(f"dense() would form {d**3:.2g} entries; use tvv for products")
        T = np.zeros((d, d * d))
        for s in range(0, self.n, 20000):  # sum_i y_i x_i (x) (x_i (x) x_i) as GEMMs over chunks
            Xc = self.X[s : s + 20000]
            T += (Xc * self.y[s : s + 20000, None]).T @ (Xc[:, :, None] * Xc[:, None, :]).reshape(len(Xc), d * d)
        T = T.reshape(d, d, d) / self.n
        e = np.eye(self.d)
        m = self._Xty
        T -= np.einsum("i,jk->ijk", m, e) + np.einsum("j,ik->ijk", m, e) + np.einsum("k,ij->ijk", m, e)
        return T

    def project(self, W):
        """The ``k x k x k`` tensor ``T(W, W, W)`` for ``W`` of shape ``(d, k)``.

        Formed from the projected samples ``z_i = W^T x_i``:
        ``mean_i y_i [z_i^(x)3 - sym(z_i (x) G)]`` with ``G = W^T W``.
        """
        W = self._as_block(W)
        Z = self.X @ W
        T = np.einsum("n,ni,nj,nk->ijk", self.y, Z, Z, Z) / self.n
        G = W.T @ W
        m = Z.T @ self.y / self.n
        T -= np.einsum("i,jk->ijk", m, G) + np.einsum("j,ik->ijk", m, G) + np.einsum("k,ij->ijk", m, G)
        return T

    def _as_block(self, V):
        V = np.asarray(V, dtype=np.float64)
        if V.ndim == 1:
            V = V[:, None]
        if V.ndim != 2 or V.shape[0] != self.d:
            raise ValueError(f"V must have shape ({self.d}, L), got {V.shape}")
        return V
