"""Data sets that ship with installed packages, and generators of planted instances.

Nothing here downloads anything: ``digits`` reads scikit-learn's bundled 8x8
digits, and the generators draw from the ``seed`` they are given. Tests and
notebooks build their instances here so that both use one oracle.
Used by ``notebooks/01_networks_as_polynomials.md``,
``notebooks/02_matrix_factorization.md``, ``notebooks/03_global_optimality_certificates.md``
(``random_network``, ``low_rank_plus_noise``), ``notebooks/04_nn_lift.md`` (``planted_network``),
``notebooks/05_depth_efficiency.md`` (``random_ht``), ``notebooks/07_deep_networks_as_spin_glasses.md``
and ``notebooks/08_network_minima.md`` (``digits``); the spin-glass descents start from
``sphere_points``.
"""

import numpy as np

from ._checks import as_float, as_int, as_power_of_two

__all__ = [
    "rng",
    "random_network",
    "random_inputs",
    "sphere_points",
    "planted_network",
    "random_ht",
    "digits",
    "low_rank_plus_noise",
    "two_block_mask",
    "orthogonal_symmetric_tensor",
]


def rng(seed):
    """A ``numpy.random.Generator`` from an int seed or an existing Generator.

    Examples
    --------
    >>> int(rng(0).integers(10)) == int(rng(0).integers(10))
    True
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or a numpy.random.Generator, got {type(seed).__name__}")
    return np.random.default_rng(int(seed))


def random_network(widths, seed, biases=False, bias_scale=0.1):
    """Gaussian weights with He scaling, ``W_k ~ N(0, 2 / width[k])``.

    Parameters
    ----------
    widths : sequence of int
        Layer widths ``(width[0], ..., width[d])``.
    seed : int or numpy.random.Generator
    biases : bool, default=False
        Also draw biases ``b_k ~ N(0, bias_scale^2)``.
    bias_scale : float, default=0.1

    Returns
    -------
    list of ndarray, or (list of ndarray, list of ndarray) when ``biases``
        Weight ``k`` has shape ``(width[k+1], width[k])``.

    Examples
    --------
    >>> [W.shape for W in random_network([3, 4, 1], seed=0)]
    [(4, 3), (1, 4)]
    """
    if len(widths) < 2:
        raise ValueError(f"widths must name at least two layers, got {widths!r}")
    widths = [as_int(w, f"widths[{k}]", minimum=1) for k, w in enumerate(widths)]
    g = rng(seed)
    weights = [g.normal(0.0, np.sqrt(2.0 / a), size=(b, a)) for a, b in zip(widths[:-1], widths[1:])]
    if not biases:
        return weights
    return weights, [g.normal(0.0, bias_scale, size=b) for b in widths[1:]]


def random_inputs(n, d, seed):
    """``n`` standard Gaussian inputs in dimension ``d``, as rows.

    Examples
    --------
    >>> random_inputs(5, 3, seed=1).shape
    (5, 3)
    """
    n = as_int(n, "n", minimum=1)
    d = as_int(d, "d", minimum=1)
    return rng(seed).standard_normal((n, d))


def sphere_points(n, d, seed, radius=1.0):
    """``n`` points drawn uniformly on the sphere of radius ``radius`` in R^d, as rows.

    Standard Gaussian rows (drawn as ``random_inputs`` draws them) scaled to norm
    ``radius``; the spin-glass descents start from these with ``radius = sqrt(d)``.

    Parameters
    ----------
    n, d : int
        Number of points and dimension, both ``>= 1``.
    seed : int or numpy.random.Generator
    radius : float, default=1.0
        Must be positive.

    Returns
    -------
    ndarray of shape (n, d)

    Examples
    --------
    >>> P = sphere_points(4, 3, seed=0, radius=2.0)
    >>> np.allclose(np.linalg.norm(P, axis=1), 2.0)
    True
    """
    n = as_int(n, "n", minimum=1)
    d = as_int(d, "d", minimum=1)
    radius = as_float(radius, "radius", minimum=0, strict=True)
    X = rng(seed).standard_normal((n, d))
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / norms if radius == 1.0 else X * (radius / norms)


def planted_network(d, k, seed, orthonormal=True, bias_scale=1.0):
    """A random one-hidden-layer target ``(A1, b1, a2, b2)`` for the NN-LIFT chapter: unit columns of ``A1``.

    ``f(x) = a2 . sigma(A1^T x + b1) + b2``. The ``k`` columns of ``A1`` (``d x k``)
    are orthonormal (QR of a Gaussian matrix) or, with ``orthonormal=False``,
    Gaussian directions scaled to unit length; ``b1 ~ U(-bias_scale, bias_scale)``,
    ``|a2| ~ U(1, 2)`` with random signs, ``b2 ~ N(0, 0.1^2)``.

    Examples
    --------
    >>> A1, b1, a2, b2 = planted_network(5, 3, seed=0)
    >>> bool(np.allclose(A1.T @ A1, np.eye(3)))
    True
    """
    d, k = as_int(d, "d", minimum=1), as_int(k, "k", minimum=1)
    if k > d:
        raise ValueError(f"k must be at most d = {d}, got {k}")
    g = rng(seed)
    A = g.standard_normal((d, k))
    A1 = np.linalg.qr(A)[0] if orthonormal else A / np.linalg.norm(A, axis=0)
    b1 = as_float(bias_scale, "bias_scale", minimum=0) * g.uniform(-1.0, 1.0, k)
    a2 = g.choice([-1.0, 1.0], k) * g.uniform(1.0, 2.0, k)
    return A1, b1, a2, float(g.normal(0.0, 0.1))


def random_ht(N, M, r, seed, return_factors=False):
    """A random HT tensor of order ``N``, dimension ``M``, all ranks ``r`` (Gaussian leaves and transfers).

    Leaves have entries ``N(0, 1/M)`` and transfers ``N(0, 1/r)``, so that the
    entries of the tensor stay of order one as ``N`` grows; the tensor is built by
    :func:`tensordl.hierarchical.ht_tensor`.

    Returns
    -------
    ndarray of shape (M,) * N
        With ``return_factors=True``, the tuple ``(A, leaves, transfers)``.

    Examples
    --------
    >>> from tensordl.hierarchical import matricization_rank
    >>> A = random_ht(4, 3, 2, seed=0)
    >>> A.shape, matricization_rank(A, rows=[0, 2])
    ((3, 3, 3, 3), 4)
    """
    from .hierarchical import ht_tensor  # hierarchical imports this module

    N, M, r = as_power_of_two(N, "N"), as_int(M, "M", minimum=1), as_int(r, "r", minimum=1)
    g = rng(seed)
    leaves = [g.standard_normal((M, r)) / np.sqrt(M) for _ in range(N)]
    transfers, n_nodes = [], N
    while n_nodes > 1:
        n_nodes //= 2
        transfers.append(g.standard_normal((n_nodes, r, 1 if n_nodes == 1 else r)) / np.sqrt(r))
    A = ht_tensor(leaves, transfers)
    return (A, leaves, transfers) if return_factors else A


def digits():
    """scikit-learn's 8x8 handwritten digits, pixel values scaled to [0, 1].

    Returns
    -------
    X : ndarray of shape (1797, 64)
    y : ndarray of shape (1797,)

    Examples
    --------
    >>> X, y = digits()
    >>> X.shape, float(X.max())
    ((1797, 64), 1.0)
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.data / 16.0, bunch.target


def low_rank_plus_noise(m, n, rank, noise, seed):
    """A planted rank-``rank`` matrix ``A B^T`` (Gaussian factors) plus Gaussian noise.

    Returns ``(Y, signal)`` with ``Y = signal + noise * N``, ``N`` of i.i.d. standard
    normal entries; ``A``, ``B`` and ``N`` are drawn in that order from ``seed``.

    Examples
    --------
    >>> Y, S = low_rank_plus_noise(6, 5, 2, 0.0, seed=0)
    >>> int(np.linalg.matrix_rank(S)), bool(np.array_equal(Y, S))
    (2, True)
    """
    m = as_int(m, "m", minimum=1)
    n = as_int(n, "n", minimum=1)
    rank = as_int(rank, "rank", minimum=1)
    if rank > min(m, n):
        raise ValueError(f"rank must be at most min(m, n) = {min(m, n)}, got {rank}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a non-negative number, got {noise!r}")
    g = rng(seed)
    signal = g.normal(size=(m, rank)) @ g.normal(size=(rank, n))
    return signal + noise * g.normal(size=(m, n)), signal


def two_block_mask(m, n_link, seed):
    """An ``m x m`` boolean mask with both diagonal blocks observed.

    Besides the two diagonal blocks, ``n_link`` random entries of each off-diagonal
    block are observed (drawn from ``seed``).

    Examples
    --------
    >>> M = two_block_mask(4, 1, seed=0)
    >>> int(M.sum()), bool(M[:2, :2].all() and M[2:, 2:].all())
    (10, True)
    """
    m = as_int(m, "m", minimum=2)
    h = m // 2
    n_link = as_int(n_link, "n_link", minimum=0)
    if n_link > h * (m - h):
        raise ValueError(f"n_link must be at most {h * (m - h)}, got {n_link}")
    g = rng(seed)
    mask = np.zeros((m, m), dtype=bool)
    mask[:h, :h] = mask[h:, h:] = True
    for r0, c0 in [(0, h), (h, 0)]:
        k = g.choice(h * h, n_link, replace=False)
        mask[r0 + k // h, c0 + k % h] = True
    return mask


def orthogonal_symmetric_tensor(d, k, seed, weights=(1.0, 3.0)):
    """A planted symmetric CP tensor ``sum_j lam_j u_j (x) u_j (x) u_j`` with orthonormal ``u_j``.

    ``U`` is the Q factor of a Gaussian ``d x k`` matrix, then the weights ``lam`` are
    drawn uniformly from ``weights = (low, high)``, in that order from ``seed``. The
    planted truth of the power-method tests (chapter 4's orthogonal case).

    Returns
    -------
    T : ndarray of shape (d, d, d)
    lam : ndarray of shape (k,)
    U : ndarray of shape (d, k)

    Examples
    --------
    >>> T, lam, U = orthogonal_symmetric_tensor(5, 2, seed=0)
    >>> bool(np.allclose(np.einsum("ijk,j,k->i", T, U[:, 0], U[:, 0]), lam[0] * U[:, 0]))
    True
    """
    d = as_int(d, "d", minimum=1)
    k = as_int(k, "k", minimum=1)
    if k > d:
        raise ValueError(f"k must be at most d = {d} (orthonormal components), got {k}")
    low, high = weights
    if not (np.isfinite(low) and np.isfinite(high) and 0 < low <= high):
        raise ValueError(f"weights must be (low, high) with 0 < low <= high, got {weights!r}")
    g = rng(seed)
    U = np.linalg.qr(g.normal(size=(d, k)))[0]
    lam = g.uniform(low, high, k)
    return np.einsum("j,ij,kj,lj->ikl", lam, U, U, U), lam, U
