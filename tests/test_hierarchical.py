"""Tests of tensordl.hierarchical: HT tensors against the slide's recursion, ranks, CP conversions, bounds."""

import numpy as np
import pytest
import tensorly as tl
from tensorly.decomposition import parafac

from tensordl import convac, data, hierarchical


def naive_ht(leaves, transfers):
    """The slide's recursion with explicit outer products (the oracle)."""
    nodes = [leaf for leaf in leaves]  # (M, r) per node, trailing rank axis
    for A in transfers:
        nxt = []
        for j in range(len(nodes) // 2):
            left, right = nodes[2 * j], nodes[2 * j + 1]
            outer = np.einsum("...a,Pa->...Pa", left, right.reshape(-1, right.shape[-1]))
            outer = outer.reshape(left.shape[:-1] + right.shape[:-1] + (left.shape[-1],))
            nxt.append(np.tensordot(outer, A[j], axes=([-1], [0])))
        nodes = nxt
    top = nodes[0]
    return top[..., 0] if top.shape[-1] == 1 else np.moveaxis(top, -1, 0)


@pytest.mark.parametrize(("N", "M", "ranks", "Y"), [(2, 3, [2], 1), (4, 3, [2, 3], 1), (8, 2, [2, 2, 3], 2)])
def test_ht_tensor_equals_the_recursion(N, M, ranks, Y):
    g = np.random.default_rng(0)
    leaves = [g.standard_normal((M, ranks[0])) for _ in range(N)]
    outs = ranks[1:] + [Y]
    transfers = [g.standard_normal((N >> (lv + 1), ranks[lv], outs[lv])) for lv in range(len(ranks))]
    assert np.allclose(hierarchical.ht_tensor(leaves, transfers), naive_ht(leaves, transfers), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("a", "g"), [(2, 3), (4, 1), (9, 9)])  # the last one takes the BLAS branch
def test_merge_kernel_against_its_python_source_and_numpy(a, g):
    rng = np.random.default_rng(7)
    left, right, A = rng.standard_normal((5, a)), rng.standard_normal((6, a)), rng.standard_normal((a, g))
    ref = np.einsum("pa,qa,ag->pqg", left, right, A).reshape(30, g)
    assert np.allclose(hierarchical._merge(left, right, A), ref, rtol=1e-13, atol=1e-13)
    LA, out = np.ascontiguousarray(left[:, :, None] * A[None]), np.empty((5, 6, g))
    hierarchical._merge_kernel.py_func(LA, np.ascontiguousarray(right.T), out)
    assert np.allclose(out.reshape(30, g), ref, rtol=1e-13, atol=1e-13)


def test_ht_tensor_does_not_depend_on_thread_count(one_and_all_threads):
    _, leaves, transfers = data.random_ht(8, 3, 2, seed=8, return_factors=True)
    one, many = one_and_all_threads(lambda: hierarchical.ht_tensor(leaves, transfers))
    assert np.array_equal(one, many)


@pytest.mark.parametrize(("N", "M", "r"), [(4, 3, 2), (4, 4, 3), (8, 3, 2)])
def test_odd_even_rank_is_r_to_the_n_over_2_and_left_right_rank_is_r(N, M, r):
    A = data.random_ht(N, M, r, seed=1)
    odd = list(range(0, N, 2))
    assert hierarchical.matricization_rank(A, odd) == r ** (N // 2)
    assert hierarchical.matricization_rank(A, odd, method="svd") == r ** (N // 2)
    assert hierarchical.matricization_rank(A, list(range(N // 2))) == r


def test_matricization_rank_sketch_agrees_with_svd_on_random_matrices():
    g = np.random.default_rng(2)
    for rank in [1, 5, 40, 64]:
        A = (g.standard_normal((64, rank)) @ g.standard_normal((rank, 64))).reshape(8, 8, 8, 8)
        svd_rank = hierarchical.matricization_rank(A, [0, 1], method="svd")
        assert hierarchical.matricization_rank(A, [0, 1]) == rank == svd_rank


def test_cp_to_ht_reproduces_the_cp_tensor_and_counts_parameters():
    g = np.random.default_rng(3)
    w, F = g.standard_normal(5), [g.standard_normal((3, 5)) for _ in range(8)]
    leaves, transfers = hierarchical.cp_to_ht(w, F)
    A = hierarchical.ht_tensor(leaves, transfers)
    assert np.allclose(A, tl.cp_to_tensor((w, F)), rtol=1e-12, atol=1e-12)
    n_params = sum(a.size for a in leaves) + sum(t.size for t in transfers)
    assert n_params == 8 * 3 * 5 + (8 - 2) * 25 + 5


def test_cp_fit_of_an_ht_tensor_needs_rank_r_to_the_n_over_2():
    A = data.random_ht(4, 3, 2, seed=4)  # CP rank >= 4
    norm = np.linalg.norm(A)
    errs = []
    for rank in [2, 3, 4]:
        cp = parafac(tl.tensor(A), rank, init="random", random_state=0, n_iter_max=2000, tol=1e-14)
        errs.append(np.linalg.norm(A - tl.cp_to_tensor(cp)) / norm)
    assert errs[0] > 1e-3 and errs[1] > 1e-3 and errs[2] < 1e-5


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: data.random_ht(6, 3, 2, seed=0), "N must be a power of two"),
        (lambda: hierarchical.ht_tensor([np.ones((2, 2))] * 3, [np.ones((1, 2, 1))]), "power of two"),
        (lambda: hierarchical.ht_tensor([np.ones((2, 2))] * 4, [np.ones((2, 2, 2))]), "transfers must hold L = log2"),
        (lambda: hierarchical.ht_tensor([np.ones((2, 2))] * 4, [np.ones((2, 3, 2)), np.ones((1, 2, 1))]),
         r"transfers\[0\] must have shape \(2, 2, r_1\)"),
        (lambda: hierarchical.ht_tensor([np.ones((2, 2))] * 3 + [np.ones((3, 2))],
                                        [np.ones((2, 2, 2)), np.ones((1, 2, 1))]),
         "same shape"),
        (lambda: hierarchical.cp_to_ht(np.ones(2), [np.ones((3, 3))] * 4), "K = 2 columns"),
        (lambda: hierarchical.matricization_rank(np.ones((2, 2, 2)), [0, 3]), "rows must be distinct modes"),
        (lambda: hierarchical.matricization_rank(np.ones((2, 2, 2)), [0, 1, 2]), "neither none nor all"),
        (lambda: hierarchical.matricization_rank(np.ones((2, 2)), [0], method="qr"), "method must be one of"),
    ],
)
def test_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def brute_odd_even_matrix(A):
    """[A]_odd,even entry by entry (the oracle for the matricization)."""
    N, M = A.ndim, A.shape[0]
    half = N // 2
    mat = np.zeros((M**half, M**half))
    for idx in np.ndindex(A.shape):
        row = np.ravel_multi_index(idx[0::2], (M,) * half)
        col = np.ravel_multi_index(idx[1::2], (M,) * half)
        mat[row, col] = A[idx]
    return mat


@pytest.mark.parametrize(
    ("N", "M", "ranks"), [(2, 3, [2]), (4, 3, [2, 1]), (4, 2, [3, 2]), (8, 3, [2, 3, 2]), (8, 2, [2, 2, 1])]
)
def test_ht_to_cp_reproduces_the_ht_tensor_with_r0_to_the_n_over_2_terms(N, M, ranks):
    g = np.random.default_rng(11)
    leaves = [g.standard_normal((M, ranks[0])) for _ in range(N)]
    outs = ranks[1:] + [1]
    transfers = [g.standard_normal((N >> (lv + 1), ranks[lv], outs[lv])) for lv in range(len(ranks))]
    w, F = hierarchical.ht_to_cp(leaves, transfers)
    assert w.shape == (ranks[0] ** (N // 2),) and all(f.shape == (M, len(w)) for f in F)
    A = naive_ht(leaves, transfers)
    assert np.allclose(tl.cp_to_tensor((w, F)), A, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("N", "M", "r"), [(4, 3, 2), (4, 3, 3), (8, 3, 2)])
def test_cp_rank_of_random_ht_is_exactly_r_to_the_n_over_2(N, M, r):
    """Upper bound: the expansion's terms; lower bound: the odd/even rank. They meet."""
    A, leaves, transfers = data.random_ht(N, M, r, seed=12, return_factors=True)
    w, F = hierarchical.ht_to_cp(leaves, transfers)
    assert len(w) == r ** (N // 2) == hierarchical.matricization_rank(A, list(range(0, N, 2)), method="svd")
    assert np.allclose(tl.cp_to_tensor((w, F)), A, rtol=1e-12, atol=1e-12)


def test_ht_to_cp_is_the_expansion_of_a_deep_conv_ac_and_same_seed_same_answer():
    net = convac.DeepConvAC(8, 3, [2, 2, 2], seed=3)
    leaves = list(net.leaves.detach().numpy())
    transfers = [a.detach().numpy() for a in net.transfers]
    w, F = hierarchical.ht_to_cp(leaves, transfers)
    assert np.allclose(tl.cp_to_tensor((w, F)), net.tensor()[0], rtol=1e-12, atol=1e-13)
    w2, F2 = hierarchical.ht_to_cp(leaves, transfers)
    assert np.array_equal(w, w2) and all(np.array_equal(a, b) for a, b in zip(F, F2))


@pytest.mark.parametrize("N", [2, 4, 8])
def test_eckart_young_bound_against_the_svd_of_the_brute_force_matricization(N):
    A = data.random_ht(N, 3, 3, seed=13) + 0.01 * np.random.default_rng(13).standard_normal((3,) * N)
    s = np.linalg.svd(brute_odd_even_matrix(A), compute_uv=False)
    Ks = list(range(len(s) + 2))
    ref = [np.sqrt(np.sum(s[k:] ** 2)) / np.linalg.norm(A) for k in Ks]
    assert np.allclose(hierarchical.eckart_young_bound(A, Ks), ref, rtol=1e-10, atol=1e-14)
    assert hierarchical.eckart_young_bound(A, 0) == pytest.approx(1.0, rel=1e-12)


def test_eckart_young_bound_is_attained_by_the_truncated_svd_for_matrices():
    X = np.random.default_rng(14).standard_normal((6, 5))
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    for K in range(6):
        best = (U[:, :K] * s[:K]) @ Vt[:K]
        ref = np.linalg.norm(X - best) / np.linalg.norm(X)
        assert hierarchical.eckart_young_bound(X, K) == pytest.approx(ref, abs=1e-14)


def test_no_cp_model_beats_the_eckart_young_bound():
    A = data.random_ht(4, 3, 2, seed=15)
    g = np.random.default_rng(15)
    for K in [1, 2, 3]:
        bound = hierarchical.eckart_young_bound(A, K)
        assert bound > 1e-3
        for s in range(3):  # local optima of CP-ALS, and random models scaled optimally
            cp = parafac(tl.tensor(A), K, init="random", random_state=s, n_iter_max=300, tol=1e-12)
            assert np.linalg.norm(A - tl.cp_to_tensor(cp)) / np.linalg.norm(A) >= bound * (1 - 1e-9)
            B = tl.cp_to_tensor((np.ones(K), [g.standard_normal((3, K)) for _ in range(4)]))
            B *= np.sum(A * B) / np.sum(B * B)
            assert np.linalg.norm(A - B) / np.linalg.norm(A) >= bound
    assert hierarchical.eckart_young_bound(A, 4) < 1e-12


def test_eckart_young_bound_other_rows_and_scalar_or_array():
    A = data.random_ht(4, 3, 2, seed=16)
    assert isinstance(hierarchical.eckart_young_bound(A, 2), float)
    assert hierarchical.eckart_young_bound(A, [2, 3]).shape == (2,)
    assert hierarchical.eckart_young_bound(A, 2, rows=[0, 1]) < 1e-12  # left/right rank is r = 2
    assert hierarchical.eckart_young_bound(A, 1, rows=[0, 1]) > 1e-3


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: hierarchical.ht_to_cp([np.ones((2, 2))] * 4, [np.ones((2, 2, 2)), np.ones((1, 2, 2))]), ValueError,
         r"transfers\[-1\] must have one output"),
        (lambda: hierarchical.ht_to_cp([np.ones((2, 2))] * 3, [np.ones((1, 2, 1))]), ValueError, "power of two"),
        (lambda: hierarchical.ht_to_cp(*hierarchical.cp_to_ht(np.ones(2), [np.ones((2, 2))] * 64)), ValueError,
         "HT_TO_CP_MAX_TERMS"),
        (lambda: hierarchical.ht_to_cp(3, 4), TypeError, "sequences of arrays"),
        (lambda: hierarchical.eckart_young_bound(np.ones(3), 1), ValueError, "order at least 2"),
        (lambda: hierarchical.eckart_young_bound(np.zeros((2, 2)), 1), ValueError, "nonzero"),
        (lambda: hierarchical.eckart_young_bound(np.full((2, 2), np.nan), 1), ValueError, "finite"),
        (lambda: hierarchical.eckart_young_bound(np.ones((2, 2)), -1), ValueError, "K must be at least 0"),
        (lambda: hierarchical.eckart_young_bound(np.ones((2, 2)), 1.5), TypeError, "K must be an integer"),
        (lambda: hierarchical.eckart_young_bound(np.ones((2, 2, 2)), 1, rows=[0, 1, 2]), ValueError,
         "rows must be distinct"),
    ],
)
def test_new_hierarchical_errors_name_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


