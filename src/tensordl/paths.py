"""Networks as sums over paths: linear and ReLU path sums, gates and path norms.

Slides: "Tensor Methods in Deep Learning" (a deep ReLU network is a homogeneous
piecewise polynomial in its parameters) and the path slides of Choromanska,
Henaff, Mathieu, Ben Arous & LeCun (2015): "Suppose we have a linear deep
network", "In coordinates", "Equivalently, we can define paths" and "Now some
paths will be stopped". Used by ``notebooks/01_networks_as_polynomials.md``, and by
``notebooks/03_global_optimality_certificates.md`` (``forward``, for a ReLU network's output).

Conventions. A network of depth ``d`` is a list of ``d`` weight matrices; weight
``k`` maps layer ``k`` to layer ``k+1`` and has shape ``(width[k+1], width[k])``.
Samples are rows: ``X`` has shape ``(n, width[0])``. The activation acts on the
hidden layers ``1 .. d-1``; the output layer ``d`` is linear. A path is a tuple
``p = (l_0, ..., l_d)`` with ``0 <= l_k < width[k]``, and

    Phi(x)^j = sum_{p : l_d = j} pi(p, x) x_{l_0} prod_k W_k[l_{k+1}, l_k],

where the gate ``pi(p, x)`` is 1 for a linear network and, for a ReLU network,
1 exactly when every hidden unit ``(k, l_k)`` on the path is active. Paths are
ordered lexicographically with ``l_0`` most significant (``enumerate_paths``);
``PathPlan`` enumerates them once for loops that evaluate one architecture many times.

The enumeration is exponential in depth by nature; it is for teaching and for
path statistics on small networks. ``forward`` and the dynamic-programming
``path_norm`` are what to use otherwise. ``squared_loss_terms``, ``path_terms``, ``shared_edges``,
``edge_sums`` and the bootstrap correlations of path terms (``iid_bootstrap_corr``,
``stratified_bootstrap_corr``, ``resampled_corr``, ``resampled_corr_se``) serve
``notebooks/07_deep_networks_as_spin_glasses.md`` (the assumptions of the reduction
to a spin glass, measured).
"""

import numba
import numpy as np

from ._checks import as_choice, as_float, as_int, as_matrix, as_weights

__all__ = [
    "MAX_PATH_SAMPLES",
    "forward",
    "preactivations",
    "count_paths",
    "enumerate_paths",
    "PathPlan",
    "path_tensor",
    "unit_gates",
    "path_gates",
    "path_sum",
    "squared_loss_expansion",
    "squared_loss_terms",
    "path_terms",
    "shared_edges",
    "edge_sums",
    "iid_bootstrap_corr",
    "stratified_bootstrap_corr",
    "resampled_corr",
    "resampled_corr_se",
    "path_norm",
    "gate_flips",
    "scaling_polynomial",
]

#: Largest number of (path, sample) pairs that ``path_sum``, ``path_gates`` and
#: ``unit_gates`` will enumerate in one call (and of entries ``path_tensor``
#: will build).
MAX_PATH_SAMPLES = 10**9

_ACTIVATIONS = ("relu", "linear")


def _as_biases(biases, widths):
    if biases is None:
        return [np.zeros(w) for w in widths[1:]]
    if len(biases) != len(widths) - 1:
        raise ValueError(f"biases must hold {len(widths) - 1} vectors, one per layer, got {len(biases)}")
    out = []
    for k, b in enumerate(biases):
        b = np.asarray(b, dtype=np.float64)
        if b.shape != (widths[k + 1],):
            raise ValueError(f"biases[{k}] must have shape ({widths[k + 1]},), got {b.shape}")
        if not np.all(np.isfinite(b)):
            raise ValueError(f"biases[{k}] must contain only finite values")
        out.append(b)
    return out


def preactivations(weights, X, biases=None):
    """Pre-activations ``z_k = W_{k-1} h_{k-1} + b_{k-1}`` of layers ``1 .. d`` (ReLU net).

    Parameters
    ----------
    weights : list of ndarray
        Weight ``k`` has shape ``(width[k+1], width[k])``.
    X : ndarray of shape (n, width[0])
    biases : list of ndarray, optional
        Bias ``k`` has shape ``(width[k+1],)``; zero when omitted.

    Returns
    -------
    list of ndarray
        ``d`` arrays; entry ``k-1`` has shape ``(n, width[k])``.

    Examples
    --------
    >>> W = [np.array([[1.0, -1.0]]), np.array([[2.0]])]
    >>> [z.ravel().tolist() for z in preactivations(W, np.array([[1.0, 3.0]]))]
    [[-2.0], [0.0]]
    """
    mats, widths = as_weights(weights)
    X = as_matrix(X, "X", n_cols=widths[0])
    bs = _as_biases(biases, widths)
    zs, h = [], X
    for k, (W, b) in enumerate(zip(mats, bs)):
        z = h @ W.T + b
        zs.append(z)
        h = np.maximum(z, 0.0) if k < len(mats) - 1 else z
    return zs


def forward(weights, X, activation="relu", biases=None):
    """Forward pass ``Phi(x) = W_d rho(... rho(W_1 x + b_1) ...) + b_d`` for rows of ``X``.

    Parameters
    ----------
    weights : list of ndarray
        Weight ``k`` has shape ``(width[k+1], width[k])``.
    X : ndarray of shape (n, width[0])
    activation : {"relu", "linear"}, default="relu"
        Nonlinearity of the hidden layers; the output layer is linear.
    biases : list of ndarray, optional
        Bias ``k`` has shape ``(width[k+1],)``; zero when omitted.

    Returns
    -------
    ndarray of shape (n, width[d])

    Examples
    --------
    >>> W = [np.array([[1.0, -1.0], [0.5, 0.5]]), np.array([[1.0, 2.0]])]
    >>> forward(W, np.array([[1.0, 3.0]]))
    array([[4.]])
    >>> forward(W, np.array([[1.0, 3.0]]), activation="linear")
    array([[2.]])
    """
    as_choice(activation, "activation", _ACTIVATIONS)
    if activation == "relu":
        return preactivations(weights, X, biases)[-1]
    mats, widths = as_weights(weights)
    h = as_matrix(X, "X", n_cols=widths[0])
    for W, b in zip(mats, _as_biases(biases, widths)):
        h = h @ W.T + b
    return h


def count_paths(widths):
    """Number of input-to-output paths, ``prod_k width[k]``, as an exact int.

    Examples
    --------
    >>> count_paths([8, 16, 16, 16, 1])
    32768
    """
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__len__") or len(widths) < 2:
        raise ValueError(f"widths must be a sequence of at least two layer widths, got {widths!r}")
    total = 1
    for k, w in enumerate(widths):
        total *= as_int(w, f"widths[{k}]", minimum=1)
    return total


def _check_budget(n_paths, n_samples, what):
    if n_paths * n_samples > MAX_PATH_SAMPLES:
        raise ValueError(
            f"{what} would enumerate {n_paths} paths x {n_samples} samples = "
            f"{n_paths * n_samples:.3g} path-sample pairs, more than MAX_PATH_SAMPLES = "
            f"{MAX_PATH_SAMPLES:.0e}; use forward() or fewer samples (X) / smaller weights"
        )


def enumerate_paths(widths):
    """All paths ``(l_0, ..., l_d)`` as rows, ``l_0`` most significant.

    Examples
    --------
    >>> enumerate_paths([2, 1, 2])
    array([[0, 0, 0],
           [0, 0, 1],
           [1, 0, 0],
           [1, 0, 1]])
    """
    n_paths = count_paths(widths)
    _check_budget(n_paths, 1, "enumerate_paths")
    return np.indices(tuple(widths)).reshape(len(widths), -1).T.copy()


def path_tensor(weights):
    """The order-(d+1) tensor of path products ``T[l_0,...,l_d] = prod_k W_k[l_{k+1}, l_k]``.

    It is the part of ``W_1 (x) W_2 (x) ... (x) W_d`` on which consecutive indices
    agree; a linear network is its contraction with ``x``:
    ``Phi(x)^j = sum T[l_0, ..., l_{d-1}, j] x_{l_0}``.

    Examples
    --------
    >>> W = [np.array([[1.0, 2.0]]), np.array([[3.0], [4.0]])]
    >>> path_tensor(W)[:, 0, :]
    array([[3., 4.],
           [6., 8.]])
    """
    mats, widths = as_weights(weights)
    _check_budget(count_paths(widths), 1, "path_tensor")
    T = np.ones(widths[0])
    for W in mats:
        T = T[..., None] * W.T
    return T


def _padded(mats, widths):
    maxw = max(widths)
    W = np.zeros((len(mats), maxw, maxw))
    for k, m in enumerate(mats):
        W[k, : m.shape[0], : m.shape[1]] = m
    return W, np.asarray(widths, dtype=np.int64)


_BLOCK = 64  # samples per task of the compiled enumeration (a multiple of the SIMD width)


@numba.njit(cache=True, parallel=True, fastmath={"contract"})
def _path_sum_kernel(W, widths, depth, XB, AB, outP):
    """Path sum of the first ``depth`` layers, one task per (block of samples, input unit).

    ``XB[b, l, t]`` is input ``l`` of sample ``t`` of block ``b``, ``AB[b, k, l, t]``
    the gate (0.0 or 1.0) of unit ``l`` of layer ``k``. Task ``(b, a)`` writes
    ``outP[b, a, j, t] = sum_{p: l_0 = a, l_depth = j} (prod_k W[k, l_{k+1}, l_k])
    (x_a prod_{0<k<depth} AB[b, k, l_k, t])``: the paths from input ``a`` are
    visited in lexicographic order, the weight product and the gated input of
    every prefix are kept (a step to the next path recomputes only the levels
    that changed), and each path adds its term with one multiply-add per sample.
    The loops over samples are innermost and contiguous (vectorised); ``fastmath``
    only allows fusing a multiply and an add (no reordering), so the result does
    not depend on the block or thread count.
    """
    nb, w0 = XB.shape[0], XB.shape[1]
    top = depth - 2  # deepest level kept as a prefix; the last two levels are loops
    nout = widths[depth]
    for task in numba.prange(nb * w0):
        b, a = task // w0, task % w0
        idx = np.zeros(max(top, 0) + 1, dtype=np.int64)
        wp = np.ones(max(top, 0) + 1)
        g = np.empty((max(top, 0) + 1, _BLOCK))
        h = np.empty(_BLOCK)
        acc = np.zeros((nout, _BLOCK))
        for t in range(_BLOCK):
            g[0, t] = XB[b, a, t]
        if depth == 1:
            for j in range(nout):
                for t in range(_BLOCK):
                    acc[j, t] = W[0, j, a] * g[0, t]
        idx[0] = a
        start = 1
        while depth > 1:
            for k in range(start, top + 1):
                wp[k] = wp[k - 1] * W[k - 1, idx[k], idx[k - 1]]
                for t in range(_BLOCK):
                    g[k, t] = g[k - 1, t] * AB[b, k, idx[k], t]
            for u in range(widths[depth - 1]):
                w1 = wp[top] * W[top, u, idx[top]]
                if nout == 1:
                    c = w1 * W[depth - 1, 0, u]
                    for t in range(_BLOCK):
                        acc[0, t] += c * (g[top, t] * AB[b, depth - 1, u, t])
                    continue
                for t in range(_BLOCK):
                    h[t] = g[top, t] * AB[b, depth - 1, u, t]
                for j in range(nout):
                    c = w1 * W[depth - 1, j, u]
                    for t in range(_BLOCK):
                        acc[j, t] += c * h[t]
            k = top
            while k >= 1:
                idx[k] += 1
                if idx[k] < widths[k]:
                    break
                idx[k] = 0
                k -= 1
            if k < 1:
                break
            start = k
        for j in range(nout):
            for t in range(_BLOCK):
                outP[b, a, j, t] = acc[j, t]


def _blocked(X):
    """Samples in blocks of ``_BLOCK`` (zero-padded): ``XB[b, l, t] = X[b * _BLOCK + t, l]``."""
    n, d = X.shape
    nb = -(-n // _BLOCK)
    Xp = np.zeros((nb * _BLOCK, d))
    Xp[:n] = X
    return np.ascontiguousarray(Xp.reshape(nb, _BLOCK, d).transpose(0, 2, 1))


def _enumerate(Wpad, widths, depth, XB, AB, kernel=None):
    """``out[b, j, t]``: the path sum of the first ``depth`` layers, summed over the input unit in order."""
    outP = np.empty((XB.shape[0], XB.shape[1], widths[depth], _BLOCK))
    (kernel or _path_sum_kernel)(Wpad, widths, depth, XB, AB, outP)
    out = outP[:, 0].copy()
    for a in range(1, XB.shape[1]):
        out += outP[:, a]
    return out


def _unit_activity(Wpad, widths, XB, kernel=None):
    """Gate table ``AB[b, k, l, t]`` (1.0 or 0.0) by the slide's recursion.

    Unit ``l`` of hidden layer ``K`` is active for a sample when the gated
    path sum of the paths that end at it (gates from layers ``< K``) is
    positive; input and output units always pass.
    """
    depth = len(widths) - 1
    AB = np.ones((XB.shape[0], depth + 1, Wpad.shape[1], _BLOCK))
    for K in range(1, depth):
        AB[:, K, : widths[K]] = _enumerate(Wpad, widths, K, XB, AB, kernel) > 0.0
    return AB


def _unblocked(YB, n):
    """Inverse of ``_blocked`` for ``YB[b, l, t]``: rows are samples, the first ``n`` kept."""
    return YB.transpose(0, 2, 1).reshape(-1, YB.shape[1])[:n]


def unit_gates(weights, X):
    """Which hidden units pass, for each sample, computed by enumerating paths.

    Following the slide, unit ``l`` of layer ``K`` is active for ``x`` when the
    sum over the paths ending at it, each gated by the units before it,
    ``sum_{p'} pi(p', x) x_{p'(0)} prod_{k<K} W_k``, is positive.

    Parameters
    ----------
    weights : list of ndarray
    X : ndarray of shape (n, width[0])

    Returns
    -------
    list of ndarray of bool
        ``d - 1`` arrays; entry ``K-1`` has shape ``(n, width[K])``.

    Examples
    --------
    >>> W = [np.array([[1.0, -1.0], [-1.0, 1.0]]), np.array([[1.0, 1.0]])]
    >>> unit_gates(W, np.array([[2.0, 1.0]]))[0]
    array([[ True, False]])
    """
    mats, widths = as_weights(weights)
    X = as_matrix(X, "X", n_cols=widths[0])
    _check_budget(count_paths(widths[:-1]), X.shape[0], "unit_gates")
    Wpad, w = _padded(mats, widths)
    AB = _unit_activity(Wpad, w, _blocked(X))
    return [_unblocked(AB[:, K, : widths[K]], X.shape[0]) > 0.0 for K in range(1, len(widths) - 1)]


class PathPlan:
    """The paths of one architecture, enumerated once and evaluated for many weights and inputs.

    Like ``opt_einsum.contract_expression``, the plan is built once: the table of
    paths (``rows``, as ``enumerate_paths`` returns it) is made and checked against
    ``MAX_PATH_SAMPLES`` at construction, and every evaluation reuses it. Use one
    where a loop evaluates the gates or terms of the same architecture many times
    (chunks of samples, networks of one shape).

    Parameters
    ----------
    widths : sequence of int
        Layer widths ``(width[0], ..., width[d])``.

    Attributes
    ----------
    widths : tuple of int
    rows : ndarray of int, shape (count_paths(widths), d + 1)
        Read-only.

    Examples
    --------
    >>> plan = PathPlan([2, 2, 1])
    >>> W = [np.array([[1.0, -1.0], [-1.0, 1.0]]), np.array([[1.0, 1.0]])]
    >>> plan.gates(W, np.array([[2.0, 1.0]]))
    array([[1, 0, 1, 0]], dtype=uint8)
    >>> plan.rows[1].tolist()
    [0, 1, 0]
    """

    def __init__(self, widths):
        self.rows = enumerate_paths(widths)
        self.rows.flags.writeable = False
        self.widths = tuple(int(w) for w in widths)

    def __repr__(self):
        return f"PathPlan(widths={list(self.widths)}, paths={len(self.rows)})"

    def _weights(self, weights):
        mats, widths = as_weights(weights)
        if tuple(widths) != self.widths:
            raise ValueError(f"weights must have the plan's widths {list(self.widths)}, got {list(widths)}")
        return mats

    def gates(self, weights, X):
        """The gate ``pi(p, x)`` of every path of the plan for every row of ``X`` (see ``path_gates``)."""
        mats = self._weights(weights)
        X = as_matrix(X, "X", n_cols=self.widths[0])
        _check_budget(len(self.rows), X.shape[0], "path_gates")
        gates = np.ones((X.shape[0], len(self.rows)), dtype=np.uint8)
        for K, g in enumerate(unit_gates(mats, X), start=1):
            gates &= g[:, self.rows[:, K]]
        return gates

    def terms(self, weights, X, Y):
        """``path_terms`` of every path of the plan."""
        return path_terms(self._weights(weights), X, Y, self.rows)


def path_gates(weights, X):
    """The gate ``pi(p, x)`` of every path for every sample (ReLU network).

    ``pi(p, x) = pi(p~, x) * [unit p(K) is active]``: the product of the
    activities of the hidden units on the path (see ``unit_gates``).

    Returns
    -------
    ndarray of uint8, shape (n, count_paths(widths))
        Columns in the order of ``enumerate_paths``.

    Examples
    --------
    >>> W = [np.array([[1.0, -1.0], [-1.0, 1.0]]), np.array([[1.0, 1.0]])]
    >>> path_gates(W, np.array([[2.0, 1.0]]))
    array([[1, 0, 1, 0]], dtype=uint8)
    """
    mats, widths = as_weights(weights)
    X = as_matrix(X, "X", n_cols=widths[0])
    _check_budget(count_paths(widths), X.shape[0], "path_gates")  # before enumerating
    return PathPlan(widths).gates(mats, X)


def path_sum(weights, X, activation="relu"):
    """Network outputs by explicit enumeration of all paths (compiled).

    Computes ``Phi(x)^j = sum_{p: l_d = j} pi(p, x) x_{l_0} prod_k W_k[l_{k+1}, l_k]``
    with ``pi = 1`` (linear) or the ReLU gates of ``unit_gates``. Every path adds
    its term for every sample (one multiply-add), so the cost is
    ``n * count_paths(widths)`` terms, plus, for ReLU, the enumerations of the
    shorter paths that decide the gates; requests above ``MAX_PATH_SAMPLES``
    raise ``ValueError``. ``benchmarks/bench_paths.py`` times it against the
    machine's limit and against ``_path_sum_numpy``.

    Parameters
    ----------
    weights : list of ndarray
        Weight ``k`` has shape ``(width[k+1], width[k])``.
    X : ndarray of shape (n, width[0])
    activation : {"relu", "linear"}, default="relu"

    Returns
    -------
    ndarray of shape (n, width[d])

    Examples
    --------
    >>> W = [np.array([[1.0, -1.0], [0.5, 0.5]]), np.array([[1.0, 2.0]])]
    >>> path_sum(W, np.array([[1.0, 3.0]]))
    array([[4.]])
    """
    as_choice(activation, "activation", _ACTIVATIONS)
    mats, widths = as_weights(weights)
    X = as_matrix(X, "X", n_cols=widths[0])
    _check_budget(count_paths(widths), X.shape[0], "path_sum")
    Wpad, w = _padded(mats, widths)
    XB = _blocked(X)
    if activation == "relu":
        AB = _unit_activity(Wpad, w, XB)
    else:
        AB = np.ones((XB.shape[0], len(widths), Wpad.shape[1], _BLOCK))
    return _unblocked(_enumerate(Wpad, w, len(widths) - 1, XB, AB), X.shape[0])


def _path_sum_numpy(weights, X, activation="relu", budget=2**18):
    """Vectorised numpy enumeration of the same sum, with the same gate recursion.

    Every path's term is formed and added once, in a matrix product: for layer
    ``K >= 2``, with ``H[s, (l_{K-2}, ..., l_0)] = x_{l_0} g_1[l_1] ... g_{K-2}[l_{K-2}]``
    the gated inputs of the paths up to layer ``K-2`` and
    ``Q_K[(l_{K-2}, ..., l_0), (l_{K-1}, l_K)] = prod_{k<K} W_k[l_{k+1}, l_k]`` the path
    products, ``H @ Q_K`` sums the terms of the paths ending at each ``(l_{K-1}, l_K)``
    (one multiply-add per path and sample, at BLAS speed), and the gates of layer
    ``K-1``, common to those paths, multiply the result before the sum over
    ``l_{K-1}``; the gates of layer ``K`` are ``z_K > 0``. Samples are taken in chunks so
    that ``H`` holds about ``budget`` numbers. The strongest numpy peer of
    ``_path_sum_kernel`` (tests, ``benchmarks/bench_paths.py``); it does no validation.
    """
    products, T = [], weights[0]  # T[l_{K-1}, (l_{K-2}, ..., l_0)]: the path products up to layer K-1
    for K in range(2, len(weights) + 1):
        W = weights[K - 1]
        products.append((T.T[:, :, None] * W.T[None, :, :]).reshape(T.shape[1], -1))
        T = (W[:, :, None] * T[None, :, :]).reshape(W.shape[0], -1)
    widest = max([weights[0].shape[1]] + [Q.shape[0] for Q in products])
    chunk = max(1, budget // widest)
    out = np.empty((X.shape[0], weights[-1].shape[0]))
    for s in range(0, X.shape[0], chunk):
        H = X[s : s + chunk]
        z = H @ weights[0].T
        for K, Q in enumerate(products, start=2):
            gates = (z > 0.0).astype(np.float64) if activation == "relu" else np.ones_like(z)
            Z = (H @ Q).reshape(H.shape[0], gates.shape[1], -1)
            z = np.einsum("su,suj->sj", gates, Z)
            if K < len(weights):
                H = (gates[:, :, None] * H[:, None, :]).reshape(H.shape[0], -1)
        out[s : s + chunk] = z
    return out


def path_norm(weights, q=1, method="dp"):
    """The ell_q path norm ``(sum_p prod_k |W_k[l_{k+1}, l_k]|^q)^(1/q)``.

    Parameters
    ----------
    weights : list of ndarray
    q : float, default=1
        Exponent, ``q >= 1``.
    method : {"dp", "enumerate"}, default="dp"
        ``"dp"`` propagates ``v <- |W_k|^q v`` from a vector of ones (cost of one
        forward pass); ``"enumerate"`` sums over all paths with ``path_sum``.

    Examples
    --------
    >>> W = [np.array([[1.0, -2.0]]), np.array([[3.0], [-1.0]])]
    >>> path_norm(W, 1), path_norm(W, 1, method="enumerate")
    (12.0, 12.0)
    """
    mats, widths = as_weights(weights)
    as_choice(method, "method", ("dp", "enumerate"))
    q = as_float(q, "q", minimum=1)
    powered = [np.abs(W) ** q for W in mats]
    if method == "dp":
        v = np.ones(widths[0])
        for P in powered:
            v = P @ v
        total = v.sum()
    else:
        total = path_sum(powered, np.ones((1, widths[0])), activation="linear").sum()
    return float(total ** (1.0 / q))


def _pattern(weights, x):
    return np.concatenate([z.ravel() > 0.0 for z in preactivations(weights, x)[:-1]])


def gate_flips(weights, direction, x, interval=(-1.0, 1.0), n_grid=2001):
    """Where the ReLU gates of ``x`` change along the line ``Theta + t * direction``.

    The activation pattern is evaluated on ``n_grid`` equally spaced values of
    ``t``; every grid cell whose two ends differ is bisected down to rounding.
    Two flips inside one cell that undo each other are not seen: refine
    ``n_grid`` to be sure.

    Parameters
    ----------
    weights, direction : list of ndarray
        The base point and the direction; same shapes.
    x : ndarray of shape (1, width[0])
        One input.
    interval : tuple of float, default=(-1.0, 1.0)
    n_grid : int, default=2001

    Returns
    -------
    ndarray
        The sorted values of ``t`` at which some hidden unit switches.

    Examples
    --------
    >>> W = [np.array([[1.0]]), np.array([[1.0]])]
    >>> D = [np.array([[-2.0]]), np.array([[0.0]])]
    >>> gate_flips(W, D, np.array([[1.0]]), interval=(0.0, 1.0)).round(12)
    array([0.5])
    """
    mats, widths = as_weights(weights)
    dirs, dwidths = as_weights(direction, "direction")
    if dwidths != widths:
        raise ValueError(f"direction must have the shapes of weights (widths {widths}), got widths {dwidths}")
    x = as_matrix(x, "x", n_cols=widths[0])
    if x.shape[0] != 1:
        raise ValueError(f"x must hold exactly one input (shape (1, {widths[0]})), got {x.shape}")
    n_grid = as_int(n_grid, "n_grid", minimum=2)
    lo, hi = (float(v) for v in interval)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"interval must be (lo, hi) with finite lo < hi, got {interval!r}")

    def pattern(t):
        return _pattern([W + t * D for W, D in zip(mats, dirs)], x)

    ts = np.linspace(lo, hi, n_grid)
    pats = [pattern(t) for t in ts]
    flips = []
    for a, b, pa, pb in zip(ts[:-1], ts[1:], pats[:-1], pats[1:]):
        if np.array_equal(pa, pb):
            continue
        for _ in range(200):
            mid = 0.5 * (a + b)
            if mid in (a, b):
                break
            if np.array_equal(pattern(mid), pa):
                a = mid
            else:
                b = mid
        flips.append(0.5 * (a + b))
    return np.asarray(flips)


def scaling_polynomial(weights, X, gates, biases=None):
    """Coefficients in ``alpha`` of ``Phi(x; alpha * Theta)`` with the hidden gates frozen.

    Multiply every weight and every bias by ``alpha`` and hold the ReLU gates at
    ``gates`` (diagonal 0/1 masks ``D_K``). Then ``z_1 = alpha (W_1 x + b_1)``,
    ``z_{K+1} = alpha (W_{K+1} D_K z_K + b_{K+1})``, and the output is the
    polynomial ``sum_{m=0}^{d} C[m] alpha^m`` with

        C[0] = 0,
        C[d] = W_d D_{d-1} ... D_1 (W_1 x + b_1),
        C[m] = W_d D_{d-1} ... D_k b_k,  k = d - m + 1  (0 < m < d; 1-based layers),

    so the bias of layer ``k`` enters with degree ``d - k + 1``. ``C[d]`` is the
    sum over the open paths (gated by ``D``) of the bias-free network whose input
    ``x`` is extended by a constant 1 with weights ``b_1``: the first layer's bias
    scales like its weights. The arrays of
    coefficients are propagated layer by layer (each layer raises every degree
    by one), exactly, with no fit. Where the gates are those of the network
    itself, on an interval of ``alpha`` where they do not change, the polynomial
    is the network's output there.

    Parameters
    ----------
    weights : list of ndarray
        Weight ``k`` has shape ``(width[k+1], width[k])``.
    X : ndarray of shape (n, width[0])
    gates : list of ndarray of bool
        ``d - 1`` arrays, entry ``K-1`` of shape ``(n, width[K])``: which hidden
        units of layer ``K`` pass, per sample (the layout of ``unit_gates``).
    biases : list of ndarray, optional
        Bias ``k`` has shape ``(width[k+1],)``; zero when omitted.

    Returns
    -------
    ndarray of shape (d + 1, n, width[d])
        ``C[m]`` is the coefficient of ``alpha^m``.

    Examples
    --------
    ``Phi = alpha * 2 * relu(alpha (x + 0.5)) + alpha * 1`` at ``x = 1``, unit active:

    >>> W = [np.array([[1.0]]), np.array([[2.0]])]
    >>> b = [np.array([0.5]), np.array([1.0])]
    >>> scaling_polynomial(W, np.array([[1.0]]), [np.array([[True]])], biases=b).ravel()
    array([0., 1., 3.])
    """
    mats, widths = as_weights(weights)
    X = as_matrix(X, "X", n_cols=widths[0])
    bs = _as_biases(biases, widths)
    depth, n = len(mats), X.shape[0]
    if isinstance(gates, np.ndarray) or len(gates) != depth - 1:
        raise ValueError(f"gates must be a list of {depth - 1} arrays, one per hidden layer")
    masks = []
    for K, g in enumerate(gates, start=1):
        g = np.asarray(g)
        if g.shape != (n, widths[K]) or g.dtype != np.bool_:
            raise ValueError(
                f"gates[{K - 1}] must be a bool array of shape ({n}, {widths[K]}), got {g.dtype} {g.shape}"
            )
        masks.append(g)
    P = np.zeros((depth + 1, n, widths[0]))
    P[0] = X  # h_0 = x has degree 0
    for k, (W, b) in enumerate(zip(mats, bs)):
        Q = np.zeros((depth + 1, n, widths[k + 1]))
        Q[1:] = P[:-1] @ W.T  # alpha W h: every degree up by one
        Q[1] += b  # alpha b
        P = Q * masks[k] if k < depth - 1 else Q
    return P


def squared_loss_expansion(weights, X, Y):
    """The mean squared error as a quadratic polynomial in the path products (Choromanska et al.).

    With the gates ``pi(p, x)`` of the ReLU network held at their values for
    ``weights``, the loss ``E = (1/m) sum_s ||Y_s - Phi(x_s)||^2`` is

        E = C + sum_p q_p P_p + sum_{p, p'} Q_{p p'} P_p P_p',    P_p = prod_k W_k[l_{k+1}, l_k],

    with ``A_{s p} = x_{s, l_0(p)} pi(p, x_s)``, ``C = (1/m) sum_s ||Y_s||^2``,
    ``q_p = -(2/m) sum_s Y_{s, l_d(p)} A_{s p}`` and
    ``Q_{p p'} = (1/m) sum_s A_{s p} A_{s p'} [l_d(p) = l_d(p')]``.

    The returned ``q`` is the loss's linear coefficient, written ``c_p = -2 q_p``
    in ``notebooks/07_deep_networks_as_spin_glasses.md``, where ``q_p`` is the
    slide's ``E[pi Y^{p(K+1)} X^{p(1)}]`` (see ``path_terms``); the notebook's
    erratum lists where the slide's expansion differs (the factor ``-2``, the
    same-output indicator of ``Q`` and the output index of ``Y``).

    Parameters
    ----------
    weights : list of ndarray
    X : ndarray of shape (m, width[0])
    Y : ndarray of shape (m, width[-1])

    Returns
    -------
    C : float
    q : ndarray of shape (n_paths,)
    Q : ndarray of shape (n_paths, n_paths)
    P : ndarray of shape (n_paths,)
        The path products, in the order of ``enumerate_paths``.

    Examples
    --------
    >>> W = [np.array([[1.0, -2.0], [0.5, 1.0]]), np.array([[1.0, 2.0]])]
    >>> X, Y = np.array([[1.0, 0.2], [0.3, -1.0]]), np.array([[0.5], [1.0]])
    >>> C, q, Q, P = squared_loss_expansion(W, X, Y)
    >>> mse = np.mean(np.sum((Y - forward(W, X)) ** 2, axis=1))
    >>> bool(np.isclose(C + q @ P + P @ Q @ P, mse))
    True
    """
    mats, widths = as_weights(weights)
    X = as_matrix(X, "X", n_cols=widths[0])
    Y = as_matrix(Y, "Y", n_cols=widths[-1])
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"Y must have one row per row of X ({X.shape[0]}), got {Y.shape[0]}")
    paths = enumerate_paths(widths)
    _check_budget(len(paths) ** 2, 1, "squared_loss_expansion")
    gates = path_gates(mats, X) if len(mats) > 1 else 1.0  # no hidden layer: every path is open
    A = gates * X[:, paths[:, 0]]
    out = paths[:, -1]
    m = X.shape[0]
    C = float(np.sum(Y**2) / m)
    q = -2.0 / m * np.sum(Y[:, out] * A, axis=0)
    Q = (A.T @ A / m) * (out[:, None] == out[None, :])
    P = path_tensor(mats).reshape(-1)
    return C, q, Q, P


def squared_loss_terms(weights, X, Y):
    """The three terms of ``squared_loss_expansion`` at ``weights``, by one forward pass.

    With the gates frozen at ``weights``, ``sum_p q_p P_p = -(2/m) sum_s Y_s . Phi(x_s)``
    and ``sum_{p p'} Q_{p p'} P_p P_p' = (1/m) sum_s ||Phi(x_s)||^2``, so the terms
    of the polynomial cost no enumeration of paths. For a bias-free ReLU network
    of depth ``d`` both are homogeneous in the weights (degrees ``d`` and ``2d``),
    and Euler's identity gives ``Theta . grad E = d (linear + 2 quadratic)``: at a
    critical point the quadratic term is minus half the linear term.

    Parameters
    ----------
    weights : list of ndarray
    X : ndarray of shape (m, width[0])
    Y : ndarray of shape (m, width[-1])

    Returns
    -------
    constant : float
        ``C = (1/m) sum_s ||Y_s||^2``.
    linear : float
        ``sum_p q_p P_p``.
    quadratic : float
        ``sum_{p, p'} Q_{p p'} P_p P_p'``.

    Examples
    --------
    >>> W = [np.array([[1.0, -2.0], [0.5, 1.0]]), np.array([[1.0, 2.0]])]
    >>> X, Y = np.array([[1.0, 0.2], [0.3, -1.0]]), np.array([[0.5], [1.0]])
    >>> C, q, Q, P = squared_loss_expansion(W, X, Y)
    >>> c, lin, quad = squared_loss_terms(W, X, Y)
    >>> bool(np.isclose(lin, q @ P) and np.isclose(quad, P @ Q @ P))
    True
    """
    mats, widths = as_weights(weights)
    X = as_matrix(X, "X", n_cols=widths[0])
    Y = as_matrix(Y, "Y", n_cols=widths[-1])
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"Y must have one row per row of X ({X.shape[0]}), got {Y.shape[0]}")
    m = X.shape[0]
    out = forward(mats, X)
    return float(np.sum(Y**2) / m), float(-2.0 * np.sum(Y * out) / m), float(np.sum(out**2) / m)


def _as_path_rows(paths, name):
    try:
        arr = np.asarray(paths)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an integer array of paths, got {type(paths).__name__}") from exc
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError(f"{name} must have shape (n, depth + 1) with depth >= 1, got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer unit indices, got dtype {arr.dtype}")
    return arr


def shared_edges(paths_a, paths_b):
    """How many edges two paths have in common, row by row.

    Edge ``k`` of a path ``(l_0, ..., l_d)`` is ``(l_k, l_{k+1})``, the weight
    ``W_k[l_{k+1}, l_k]``; two paths share it when both ends agree. Two paths
    share all ``d`` edges only if they are the same path.

    Parameters
    ----------
    paths_a, paths_b : ndarray of int, shape (n, d + 1)
        Paths as rows (as ``enumerate_paths`` returns them).

    Returns
    -------
    ndarray of int, shape (n,)

    Examples
    --------
    >>> shared_edges([[0, 1, 2, 3], [0, 1, 2, 3]], [[0, 1, 5, 3], [4, 1, 2, 3]])
    array([1, 2])
    """
    a, b = _as_path_rows(paths_a, "paths_a"), _as_path_rows(paths_b, "paths_b")
    if a.shape != b.shape:
        raise ValueError(f"paths_a and paths_b must have the same shape, got {a.shape} and {b.shape}")
    same = a == b
    return np.sum(same[:, :-1] & same[:, 1:], axis=1)


def edge_sums(values, widths):
    """Sum a per-path quantity over the paths through each edge (weight).

    ``S_k[j, i] = sum_{p : l_k = i, l_{k+1} = j} values[p]``: for ``values`` the
    rate at which each path is open, ``S_k[j, i]`` is how much the weight
    ``W_k[j, i]`` is used along open paths; for ``values`` all ones it is the
    number of paths through that weight, ``count_paths(widths) / (width[k] width[k+1])``.

    Parameters
    ----------
    values : ndarray of shape (count_paths(widths),)
        One value per path, in the order of ``enumerate_paths``.
    widths : sequence of int

    Returns
    -------
    list of ndarray
        ``d`` arrays; entry ``k`` has the shape ``(width[k+1], width[k])`` of ``W_k``.

    Examples
    --------
    >>> [s.tolist() for s in edge_sums(np.arange(4.0), [2, 1, 2])]
    [[[1.0, 5.0]], [[2.0], [4.0]]]
    """
    n_paths = count_paths(widths)
    widths = tuple(int(w) for w in widths)
    v = np.asarray(values, dtype=np.float64)
    if v.shape != (n_paths,):
        raise ValueError(f"values must have shape ({n_paths},), one per path, got {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("values must contain only finite values")
    T = v.reshape(widths)
    out = []
    for k in range(len(widths) - 1):
        others = tuple(a for a in range(len(widths)) if a not in (k, k + 1))
        out.append(np.ascontiguousarray(T.sum(axis=others).T))
    return out


def path_terms(weights, X, Y, rows):
    """Per-sample terms ``Y_{s, l_d} x_{s, l_0} pi(p, x_s)`` of chosen paths (ReLU network).

    Their mean over the samples is the slide's ``q(X, Y, p) = E[pi Y^{p(K+1)} X^{p(1)}]``
    (the slide writes ``Y^{p(K)}``; the target's index is the path's output unit),
    and ``-2`` times it is the coefficient ``q`` of ``squared_loss_expansion``.
    With ``Y`` all ones the terms are ``A_{s p} = x_{s, l_0} pi(p, x_s)``, the
    factors of ``Q``.
    Only the chosen paths are formed, from the unit gates, so any subset of a
    large network's paths costs one pass over the hidden layers.

    Parameters
    ----------
    weights : list of ndarray
    X : ndarray of shape (m, width[0])
    Y : ndarray of shape (m, width[-1])
    rows : ndarray of int, shape (n_rows, d + 1)
        Paths as rows (as ``enumerate_paths`` returns them).

    Returns
    -------
    ndarray of shape (m, n_rows)

    Examples
    --------
    >>> W = [np.array([[1.0, -2.0], [0.5, 1.0]]), np.array([[1.0, 2.0]])]
    >>> X, Y = np.array([[1.0, 0.2], [0.3, -1.0]]), np.array([[0.5], [1.0]])
    >>> C, q, Q, P = squared_loss_expansion(W, X, Y)
    >>> T = path_terms(W, X, Y, enumerate_paths([2, 2, 1]))
    >>> bool(np.allclose(-2 * T.mean(axis=0), q))
    True
    """
    mats, widths = as_weights(weights)
    X = as_matrix(X, "X", n_cols=widths[0])
    Y = as_matrix(Y, "Y", n_cols=widths[-1])
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"Y must have one row per row of X ({X.shape[0]}), got {Y.shape[0]}")
    r = _as_path_rows(rows, "rows")
    if r.shape[1] != len(widths) or np.any(r < 0) or np.any(r >= np.asarray(widths)):
        raise ValueError(f"rows must hold paths (l_0, ..., l_d) with 0 <= l_k < width[k] = {list(widths)}")
    _check_budget(len(r), X.shape[0], "path_terms")
    out = X[:, r[:, 0]] * Y[:, r[:, -1]]
    for K, g in enumerate(unit_gates(mats, X), start=1):
        out *= g[:, r[:, K]]
    return out


def _paired_terms(terms_a, terms_b):
    a = as_matrix(terms_a, "terms_a")
    b = as_matrix(terms_b, "terms_b")
    if a.shape != b.shape:
        raise ValueError(f"terms_a and terms_b must have the same shape, got {a.shape} and {b.shape}")
    if a.shape[0] < 2:
        raise ValueError(f"terms_a needs at least 2 samples (rows), got {a.shape[0]}")
    return a, b


def _column_corr(a, b):
    a, b = a - a.mean(axis=0), b - b.mean(axis=0)
    den = np.sqrt(np.sum(a**2, axis=0) * np.sum(b**2, axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, np.sum(a * b, axis=0) / np.where(den > 0, den, 1.0), np.nan)


def iid_bootstrap_corr(terms_a, terms_b):
    """Correlation of two means over iid bootstrap resamples, in the limit of many resamples.

    Column ``i`` of ``terms_a`` and of ``terms_b`` holds the per-sample terms of two
    means, ``q_a = (1/m) sum_s a_s`` and ``q_b``. Resampling the ``m`` samples with
    replacement (multinomial counts ``w``, ``q_a = (1/m) sum_s w_s a_s``) gives
    ``Cov(q_a, q_b) = cov(a, b) / m`` with ``cov`` the empirical covariance (``ddof=0``),
    so the limit is the samples' own Pearson correlation of ``a`` and ``b``.

    For path terms that vanish outside one class (``Y`` one-hot), with ``pi_j`` the share
    of class ``j`` and ``m_a, v_a, c_ab`` the within-class mean, variance and
    covariance, this is ``(c_ab + (1 - pi_j) m_a m_b) / sqrt((v_a + (1 - pi_j) m_a^2)
    (v_b + (1 - pi_j) m_b^2))`` for two paths of class ``j``, and ``-m_a m_b`` over the
    square root of the variances for two paths of different classes: the class counts of
    the resample move every mean of a class together (a common mode).

    Parameters
    ----------
    terms_a, terms_b : ndarray of shape (m, n_pairs)
        Per-sample terms (samples as rows), one column per pair.

    Returns
    -------
    ndarray of shape (n_pairs,)
        NaN where a column is constant.

    Examples
    --------
    >>> a = np.array([[1.0], [0.0], [2.0], [0.0]])
    >>> b = np.array([[0.0], [1.0], [0.0], [1.0]])
    >>> iid_bootstrap_corr(a, b).round(3)
    array([-0.905])
    """
    a, b = _paired_terms(terms_a, terms_b)
    return _column_corr(a, b)


def stratified_bootstrap_corr(terms_a, terms_b, groups):
    """Correlation of two means over a bootstrap stratified by ``groups``, in the limit.

    Each group's samples are resampled among themselves, so its size stays fixed, and
    ``Cov(q_a, q_b) = sum_g m_g cov_g(a, b) / m^2`` with ``cov_g`` the empirical
    within-group covariance (``ddof=0``). For terms that vanish outside one group this
    is the within-group correlation ``c_ab / sqrt(v_a v_b)`` when both columns belong to
    the same group and exactly 0 when they belong to two: the class counts' common mode
    of :func:`iid_bootstrap_corr` is gone.

    Parameters
    ----------
    terms_a, terms_b : ndarray of shape (m, n_pairs)
        Per-sample terms (samples as rows), one column per pair.
    groups : ndarray of int, shape (m,)
        The stratum of each sample (for the digits, its label).

    Returns
    -------
    ndarray of shape (n_pairs,)
        NaN where a column does not vary within any group.

    Examples
    --------
    >>> a = np.array([[1.0], [3.0], [0.0], [0.0]])
    >>> b = np.array([[2.0], [1.0], [0.0], [0.0]])
    >>> stratified_bootstrap_corr(a, b, [0, 0, 1, 1])
    array([-1.])
    """
    a, b = _paired_terms(terms_a, terms_b)
    g = np.asarray(groups)
    if g.shape != (a.shape[0],):
        raise ValueError(f"groups must have shape ({a.shape[0]},), one label per sample, got {g.shape}")
    cab, va, vb = np.zeros(a.shape[1]), np.zeros(a.shape[1]), np.zeros(a.shape[1])
    for label in np.unique(g):
        ga, gb = a[g == label], b[g == label]
        ga, gb = ga - ga.mean(axis=0), gb - gb.mean(axis=0)
        cab += np.sum(ga * gb, axis=0)
        va += np.sum(ga**2, axis=0)
        vb += np.sum(gb**2, axis=0)
    den = np.sqrt(va * vb)
    return np.where(den > 0, cab / np.where(den > 0, den, 1.0), np.nan)


def resampled_corr(counts, terms_a, terms_b):
    """Correlation of two means over given resamples (Monte Carlo bootstrap).

    Row ``r`` of ``counts`` says how often each sample is drawn in resample ``r``; the
    resampled means are ``counts @ terms / m``, and the function returns, pair by pair,
    their Pearson correlation over the resamples. With many iid multinomial rows it
    tends to :func:`iid_bootstrap_corr`; with rows drawn within groups, to
    :func:`stratified_bootstrap_corr`.

    Parameters
    ----------
    counts : ndarray of shape (resamples, m)
    terms_a, terms_b : ndarray of shape (m, n_pairs)

    Returns
    -------
    ndarray of shape (n_pairs,)

    Examples
    --------
    >>> g = np.random.default_rng(0)
    >>> counts = g.multinomial(4, np.full(4, 0.25), size=20000)
    >>> a = np.array([[1.0], [0.0], [2.0], [0.0]])
    >>> b = np.array([[0.0], [1.0], [0.0], [1.0]])
    >>> bool(abs(resampled_corr(counts, a, b)[0] - iid_bootstrap_corr(a, b)[0]) < 0.02)
    True
    """
    a, b = _paired_terms(terms_a, terms_b)
    c = as_matrix(counts, "counts", n_cols=a.shape[0])
    if c.shape[0] < 2:
        raise ValueError(f"counts needs at least 2 resamples (rows), got {c.shape[0]}")
    return _column_corr(c @ a, c @ b)


def resampled_corr_se(counts, terms_a, terms_b, batches=10):
    """Monte Carlo standard error of the pair-mean of :func:`resampled_corr`.

    All pairs share the same resamples, so their Monte Carlo errors are correlated and
    the spread over pairs does not measure them. The resamples are split into
    ``batches`` consecutive blocks; the standard deviation of the blocks' pair-means,
    over the square root of ``batches``, is the error of the mean over all resamples
    (batch means).

    Parameters
    ----------
    counts : ndarray of shape (resamples, m)
        ``resamples`` must be a multiple of ``batches``.
    terms_a, terms_b : ndarray of shape (m, n_pairs)
    batches : int, default=10

    Returns
    -------
    float

    Examples
    --------
    >>> g = np.random.default_rng(0)
    >>> counts = g.multinomial(4, np.full(4, 0.25), size=2000)
    >>> a = np.array([[1.0], [0.0], [2.0], [0.0]])
    >>> b = np.array([[0.0], [1.0], [0.0], [1.0]])
    >>> 0 < resampled_corr_se(counts, a, b) < 0.01
    True
    """
    batches = as_int(batches, "batches", minimum=2)
    c = np.asarray(counts)
    if c.ndim != 2 or c.shape[0] % batches:
        raise ValueError(f"counts must have a number of rows divisible by batches={batches}, got shape {c.shape}")
    means = [np.nanmean(resampled_corr(cb, terms_a, terms_b)) for cb in np.split(c, batches)]
    return float(np.std(means, ddof=1) / np.sqrt(batches))
