"""Hierarchical Tucker (HT) tensors: the deep network of the depth-efficiency theorem.

Slides: "[Cohen, Sharir, Shashua'15]" (convolutional arithmetic circuits, the CP and
HT decompositions, depth efficiency). Used by ``notebooks/05_depth_efficiency.md``.

The module builds the order-``N`` tensor of the
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

import numba
import numpy as np

from ._checks import as_int, as_matrix, as_power_of_two
from .data import random_ht  # noqa: F401 -- moved to tensordl.data; the old name still works
from .data import rng as _rng

__all__ = [
    "ht_tensor",
    "cp_to_ht",
    "ht_to_cp",
    "matricization_rank",
    "eckart_young_bound",
]


def _check_ht(leaves, transfers):
    if isinstance(leaves, np.ndarray) and leaves.ndim == 3:
        leaves = list(leaves)
    if not hasattr(leaves, "__len__") or not hasattr(transfers, "__len__"):
        raise TypeError("leaves and transfers must be sequences of arrays")
    N = as_power_of_two(len(leaves), "the number of leaves N")
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
    N = as_power_of_two(len(factors), "the number of factors N")
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
