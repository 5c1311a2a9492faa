"""Tests of the Hierarchical Tucker part of tensordl.decomposition and of tensordl.convac."""

import numpy as np
import pytest
import tensorly as tl
import torch
from tensorly.decomposition import parafac

from tensordl import convac
from tensordl import decomposition as dec


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
    assert np.allclose(dec.ht_tensor(leaves, transfers), naive_ht(leaves, transfers), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("a", "g"), [(2, 3), (4, 1), (9, 9)])  # the last one takes the BLAS branch
def test_merge_kernel_against_its_python_source_and_numpy(a, g):
    rng = np.random.default_rng(7)
    left, right, A = rng.standard_normal((5, a)), rng.standard_normal((6, a)), rng.standard_normal((a, g))
    ref = np.einsum("pa,qa,ag->pqg", left, right, A).reshape(30, g)
    assert np.allclose(dec._merge(left, right, A), ref, rtol=1e-13, atol=1e-13)
    LA, out = np.ascontiguousarray(left[:, :, None] * A[None]), np.empty((5, 6, g))
    dec._merge_kernel.py_func(LA, np.ascontiguousarray(right.T), out)
    assert np.allclose(out.reshape(30, g), ref, rtol=1e-13, atol=1e-13)


def test_ht_tensor_does_not_depend_on_thread_count(one_and_all_threads):
    _, leaves, transfers = dec.random_ht(8, 3, 2, seed=8, return_factors=True)
    one, many = one_and_all_threads(lambda: dec.ht_tensor(leaves, transfers))
    assert np.array_equal(one, many)


@pytest.mark.parametrize(("N", "M", "r"), [(4, 3, 2), (4, 4, 3), (8, 3, 2)])
def test_odd_even_rank_is_r_to_the_n_over_2_and_left_right_rank_is_r(N, M, r):
    A = dec.random_ht(N, M, r, seed=1)
    odd = list(range(0, N, 2))
    assert dec.matricization_rank(A, odd) == r ** (N // 2)
    assert dec.matricization_rank(A, odd, method="svd") == r ** (N // 2)
    assert dec.matricization_rank(A, list(range(N // 2))) == r


def test_matricization_rank_sketch_agrees_with_svd_on_random_matrices():
    g = np.random.default_rng(2)
    for rank in [1, 5, 40, 64]:
        A = (g.standard_normal((64, rank)) @ g.standard_normal((rank, 64))).reshape(8, 8, 8, 8)
        assert dec.matricization_rank(A, [0, 1]) == rank == dec.matricization_rank(A, [0, 1], method="svd")


def test_cp_to_ht_reproduces_the_cp_tensor_and_counts_parameters():
    g = np.random.default_rng(3)
    w, F = g.standard_normal(5), [g.standard_normal((3, 5)) for _ in range(8)]
    leaves, transfers = dec.cp_to_ht(w, F)
    A = dec.ht_tensor(leaves, transfers)
    assert np.allclose(A, tl.cp_to_tensor((w, F)), rtol=1e-12, atol=1e-12)
    n_params = sum(a.size for a in leaves) + sum(t.size for t in transfers)
    assert n_params == 8 * 3 * 5 + (8 - 2) * 25 + 5


@pytest.mark.parametrize(("N", "M", "r"), [(4, 3, 2), (16, 2, 3), (128, 2, 2)])
def test_deep_conv_ac_has_n_m_r_plus_n_minus_2_r_squared_plus_r_parameters(N, M, r):
    """O(r^2 N): leaves N M r, inner transfers (N/2 + ... + 2) r^2 = (N - 2) r^2, top r (Y = 1)."""
    net = convac.DeepConvAC(N, M, [r] * (N.bit_length() - 1))
    assert net.n_parameters() == N * M * r + (N - 2) * r**2 + r


def test_cp_fit_of_an_ht_tensor_needs_rank_r_to_the_n_over_2():
    A = dec.random_ht(4, 3, 2, seed=4)  # CP rank >= 4
    norm = np.linalg.norm(A)
    errs = []
    for rank in [2, 3, 4]:
        cp = parafac(tl.tensor(A), rank, init="random", random_state=0, n_iter_max=2000, tol=1e-14)
        errs.append(np.linalg.norm(A - tl.cp_to_tensor(cp)) / norm)
    assert errs[0] > 1e-3 and errs[1] > 1e-3 and errs[2] < 1e-5


@pytest.mark.parametrize("shared", [False, True])
def test_conv_ac_forward_equals_the_contraction(shared):
    Phi = torch.randn(6, 8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    shallow = convac.ShallowConvAC(8, 3, K=4, Y=2, shared=shared, seed=1)
    deep = convac.DeepConvAC(8, 3, ranks=[2, 3, 2], Y=2, shared=shared, seed=1)
    for net in (shallow, deep):
        out = net(Phi).detach().numpy()
        assert np.allclose(out, convac.contract(net.tensor(), Phi.numpy()), rtol=1e-10, atol=1e-12)


def test_contract_in_chunks_equals_one_chunk():
    g = np.random.default_rng(6)
    A, Phi = g.standard_normal((2, 3, 3, 3, 3)), g.standard_normal((10, 4, 3))
    assert np.allclose(convac.contract(A, Phi, max_entries=1), convac.contract(A, Phi), rtol=1e-13)
    ref = np.einsum("yabcd,na,nb,nc,nd->ny", A, *[Phi[:, i] for i in range(4)])
    assert np.allclose(convac.contract(A, Phi), ref, rtol=1e-12)


def test_weight_sharing_symmetrises_cp_but_not_ht():
    shallow = convac.ShallowConvAC(4, 3, K=3, shared=True, seed=2).tensor()[0]
    deep = convac.DeepConvAC(4, 3, ranks=[3, 3], shared=True, seed=2).tensor()[0]
    across = (0, 2, 1, 3)  # swaps two patches that the tree pools at different nodes
    assert np.allclose(shallow, shallow.transpose(across)) and np.allclose(shallow, shallow.transpose(3, 2, 1, 0))
    assert not np.allclose(deep, deep.transpose(across), atol=1e-3 * np.abs(deep).max())
    assert np.allclose(deep, deep.transpose(1, 0, 2, 3))  # within a pooled pair shared weights do symmetrise


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: dec.random_ht(6, 3, 2, seed=0), "N must be a power of two"),
        (lambda: dec.ht_tensor([np.ones((2, 2))] * 3, [np.ones((1, 2, 1))]), "power of two"),
        (lambda: dec.ht_tensor([np.ones((2, 2))] * 4, [np.ones((2, 2, 2))]), "transfers must hold L = log2"),
        (lambda: dec.ht_tensor([np.ones((2, 2))] * 4, [np.ones((2, 3, 2)), np.ones((1, 2, 1))]),
         r"transfers\[0\] must have shape \(2, 2, r_1\)"),
        (lambda: dec.ht_tensor([np.ones((2, 2))] * 3 + [np.ones((3, 2))], [np.ones((2, 2, 2)), np.ones((1, 2, 1))]),
         "same shape"),
        (lambda: dec.cp_to_ht(np.ones(2), [np.ones((3, 3))] * 4), "K = 2 columns"),
        (lambda: dec.matricization_rank(np.ones((2, 2, 2)), [0, 3]), "rows must be distinct modes"),
        (lambda: dec.matricization_rank(np.ones((2, 2, 2)), [0, 1, 2]), "neither none nor all"),
        (lambda: dec.matricization_rank(np.ones((2, 2)), [0], method="qr"), "method must be one of"),
        (lambda: convac.DeepConvAC(4, 3, ranks=[2]), "ranks must hold L"),
        (lambda: convac.ShallowConvAC(6, 3, K=2), "N must be a power of two"),
        (lambda: convac.ShallowConvAC(4, 3, K=2)(torch.ones(2, 4, 2, dtype=torch.float64)), "Phi must have shape"),
        (lambda: convac.contract(np.ones((3, 3)), np.ones((2, 2, 2))), "A must have shape"),
        (lambda: convac.contract(np.ones((3, 3)), np.ones((2, 3))), "Phi must have shape"),
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
    w, F = dec.ht_to_cp(leaves, transfers)
    assert w.shape == (ranks[0] ** (N // 2),) and all(f.shape == (M, len(w)) for f in F)
    A = naive_ht(leaves, transfers)
    assert np.allclose(tl.cp_to_tensor((w, F)), A, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("N", "M", "r"), [(4, 3, 2), (4, 3, 3), (8, 3, 2)])
def test_cp_rank_of_random_ht_is_exactly_r_to_the_n_over_2(N, M, r):
    """Upper bound: the expansion's terms; lower bound: the odd/even rank. They meet."""
    A, leaves, transfers = dec.random_ht(N, M, r, seed=12, return_factors=True)
    w, F = dec.ht_to_cp(leaves, transfers)
    assert len(w) == r ** (N // 2) == dec.matricization_rank(A, list(range(0, N, 2)), method="svd")
    assert np.allclose(tl.cp_to_tensor((w, F)), A, rtol=1e-12, atol=1e-12)


def test_ht_to_cp_is_the_expansion_of_a_deep_conv_ac_and_same_seed_same_answer():
    net = convac.DeepConvAC(8, 3, [2, 2, 2], seed=3)
    leaves = list(net.leaves.detach().numpy())
    transfers = [a.detach().numpy() for a in net.transfers]
    w, F = dec.ht_to_cp(leaves, transfers)
    assert np.allclose(tl.cp_to_tensor((w, F)), net.tensor()[0], rtol=1e-12, atol=1e-13)
    w2, F2 = dec.ht_to_cp(leaves, transfers)
    assert np.array_equal(w, w2) and all(np.array_equal(a, b) for a, b in zip(F, F2))


@pytest.mark.parametrize("N", [2, 4, 8])
def test_eckart_young_bound_against_the_svd_of_the_brute_force_matricization(N):
    A = dec.random_ht(N, 3, 3, seed=13) + 0.01 * np.random.default_rng(13).standard_normal((3,) * N)
    s = np.linalg.svd(brute_odd_even_matrix(A), compute_uv=False)
    Ks = list(range(len(s) + 2))
    ref = [np.sqrt(np.sum(s[k:] ** 2)) / np.linalg.norm(A) for k in Ks]
    assert np.allclose(dec.eckart_young_bound(A, Ks), ref, rtol=1e-10, atol=1e-14)
    assert dec.eckart_young_bound(A, 0) == pytest.approx(1.0, rel=1e-12)


def test_eckart_young_bound_is_attained_by_the_truncated_svd_for_matrices():
    X = np.random.default_rng(14).standard_normal((6, 5))
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    for K in range(6):
        best = (U[:, :K] * s[:K]) @ Vt[:K]
        assert dec.eckart_young_bound(X, K) == pytest.approx(np.linalg.norm(X - best) / np.linalg.norm(X), abs=1e-14)


def test_no_cp_model_beats_the_eckart_young_bound():
    A = dec.random_ht(4, 3, 2, seed=15)
    g = np.random.default_rng(15)
    for K in [1, 2, 3]:
        bound = dec.eckart_young_bound(A, K)
        assert bound > 1e-3
        for s in range(3):  # local optima of CP-ALS, and random models scaled optimally
            cp = parafac(tl.tensor(A), K, init="random", random_state=s, n_iter_max=300, tol=1e-12)
            assert np.linalg.norm(A - tl.cp_to_tensor(cp)) / np.linalg.norm(A) >= bound * (1 - 1e-9)
            B = tl.cp_to_tensor((np.ones(K), [g.standard_normal((3, K)) for _ in range(4)]))
            B *= np.sum(A * B) / np.sum(B * B)
            assert np.linalg.norm(A - B) / np.linalg.norm(A) >= bound
    assert dec.eckart_young_bound(A, 4) < 1e-12


def test_eckart_young_bound_other_rows_and_scalar_or_array():
    A = dec.random_ht(4, 3, 2, seed=16)
    assert isinstance(dec.eckart_young_bound(A, 2), float)
    assert dec.eckart_young_bound(A, [2, 3]).shape == (2,)
    assert dec.eckart_young_bound(A, 2, rows=[0, 1]) < 1e-12  # left/right rank is r = 2
    assert dec.eckart_young_bound(A, 1, rows=[0, 1]) > 1e-3


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: dec.ht_to_cp([np.ones((2, 2))] * 4, [np.ones((2, 2, 2)), np.ones((1, 2, 2))]), ValueError,
         r"transfers\[-1\] must have one output"),
        (lambda: dec.ht_to_cp([np.ones((2, 2))] * 3, [np.ones((1, 2, 1))]), ValueError, "power of two"),
        (lambda: dec.ht_to_cp(*dec.cp_to_ht(np.ones(2), [np.ones((2, 2))] * 64)), ValueError,
         "HT_TO_CP_MAX_TERMS"),
        (lambda: dec.ht_to_cp(3, 4), TypeError, "sequences of arrays"),
        (lambda: dec.eckart_young_bound(np.ones(3), 1), ValueError, "order at least 2"),
        (lambda: dec.eckart_young_bound(np.zeros((2, 2)), 1), ValueError, "nonzero"),
        (lambda: dec.eckart_young_bound(np.full((2, 2), np.nan), 1), ValueError, "finite"),
        (lambda: dec.eckart_young_bound(np.ones((2, 2)), -1), ValueError, "K must be at least 0"),
        (lambda: dec.eckart_young_bound(np.ones((2, 2)), 1.5), TypeError, "K must be an integer"),
        (lambda: dec.eckart_young_bound(np.ones((2, 2, 2)), 1, rows=[0, 1, 2]), ValueError, "rows must be distinct"),
    ],
)
def test_new_hierarchical_errors_name_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("kind", ["shallow", "deep"])
def test_log_forward_equals_forward_and_scales_exactly_where_forward_underflows(kind):
    def make(N):
        if kind == "shallow":
            return convac.ShallowConvAC(N, 3, K=5, Y=2, seed=4)
        return convac.DeepConvAC(N, 3, [2] * (N.bit_length() - 1), Y=2, seed=4)

    g = torch.Generator().manual_seed(5)
    Phi = torch.randn(20, 8, 3, dtype=torch.float64, generator=g)
    net = make(8)
    with torch.no_grad():
        h = net(Phi)
        sign, logabs = net.log_forward(Phi)
    assert torch.equal(sign, torch.sign(h))
    assert torch.allclose(logabs, torch.log(h.abs()), rtol=0, atol=1e-10)
    # N = 1024 with the first-layer weights scaled by 1e-3: forward gives 0, log space exactly N log(1e-3) less
    big, Phi_big = make(1024), torch.randn(6, 1024, 3, dtype=torch.float64, generator=g)
    with torch.no_grad():
        s1, l1 = big.log_forward(Phi_big)
        (big.a if kind == "shallow" else big.leaves).mul_(1e-3)
        s2, l2 = big.log_forward(Phi_big)
        assert torch.all(big(Phi_big) == 0)
    assert torch.equal(s1, s2) and torch.all(torch.isfinite(l2))
    assert torch.allclose(l2 - l1, torch.full_like(l1, 1024 * np.log(1e-3)), rtol=1e-12, atol=1e-8)


def test_cp_als_batch_recovers_planted_cp_tensors_and_matches_parafac():
    g = np.random.default_rng(11)
    # planted: exact rank-2 tensors of order 3 and 4 are fitted to rounding from some start
    for dims in [(5, 4, 3), (3, 3, 3, 3)]:
        T = np.stack([tl.cp_to_tensor((None, [g.standard_normal((m, 2)) for m in dims])) for _ in range(3)])
        err = dec.cp_als_batch(T, 2, seed=0, n_starts=6, n_iter=3000)
        assert err.shape == (3, 6) and np.all(err.min(axis=1) < 1e-6)
    # oracle: on rank one (ALS converges to the best rank-one fit from almost every start) the best
    # error equals tensorly's parafac, and no fit beats the Eckart-Young bound
    A = np.stack([dec.random_ht(4, 3, 2, seed=s) for s in range(3)])
    err = dec.cp_als_batch(A, 1, seed=1, n_starts=3, n_iter=3000).min(axis=1)
    ref = [min(np.linalg.norm(tl.cp_to_tensor(parafac(tl.tensor(a), 1, init="random", random_state=s,
                                                       n_iter_max=3000, tol=1e-14)) - a) / np.linalg.norm(a)
               for s in range(3)) for a in A]
    assert np.allclose(err, ref, rtol=1e-6, atol=0)
    assert np.all(err >= np.array([dec.eckart_young_bound(a, 1) for a in A]) * (1 - 1e-12))


def test_cp_als_batch_same_seed_same_answer():
    A = np.stack([dec.random_ht(4, 3, 2, seed=s) for s in range(4)])
    e1 = dec.cp_als_batch(A, 2, seed=3, n_starts=2, n_iter=50)
    assert np.array_equal(e1, dec.cp_als_batch(A, 2, seed=3, n_starts=2, n_iter=50))
    assert not np.array_equal(e1, dec.cp_als_batch(A, 2, seed=4, n_starts=2, n_iter=50))


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: dec.cp_als_batch(np.ones((2, 3)), 1, seed=0), ValueError, r"shape \(B, M_1"),
        (lambda: dec.cp_als_batch(np.zeros((1, 2, 2)), 1, seed=0), ValueError, "nonzero"),
        (lambda: dec.cp_als_batch(np.full((1, 2, 2), np.nan), 1, seed=0), ValueError, "finite"),
        (lambda: dec.cp_als_batch(np.ones((1, 2, 2)), 0, seed=0), ValueError, "rank must be at least 1"),
        (lambda: dec.cp_als_batch(np.ones((1, 2, 2)), 1, seed=0, n_starts=0), ValueError, "n_starts"),
        (lambda: dec.cp_als_batch(np.ones((1, 2, 2)), 1, seed=0, tol=-1.0), ValueError, "tol must be"),
        (lambda: dec.cp_als_batch(np.ones((1,) + (1,) * 11), 1, seed=0), ValueError, "order N <= 10"),
    ],
)
def test_cp_als_batch_errors_name_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("kind", ["shallow", "deep"])
def test_log_space_loss_has_grad_h_over_h_and_per_input_scale_free_gradients(kind):
    """What chapter 5 says of a loss on log|h|: its gradient is grad h / h, finite where h underflows,
    and an input's contribution does not depend on its scale (relative, not absolute, errors)."""
    N = 64
    net = (convac.ShallowConvAC(N, 3, K=4, seed=2) if kind == "shallow"
           else convac.DeepConvAC(N, 3, [2] * 6, seed=2))
    g = torch.Generator().manual_seed(3)
    Phi = torch.randn(1, N, 3, dtype=torch.float64, generator=g)
    params = list(net.parameters())

    def grads(value):
        return torch.cat([v.reshape(-1) for v in torch.autograd.grad(value, params)])

    h = net(Phi)[0, 0]
    assert h != 0 and torch.isfinite(h)
    grad_h_over_h = grads(h) / h.detach()
    # features scaled by 1e-6: h scales by 1e-6^N = 1e-384 and underflows, log|h| does not
    tiny = Phi * 1e-6
    assert net(tiny)[0, 0] == 0 and torch.all(grads(net(tiny)[0, 0]) == 0)
    log_tiny = net.log_forward(tiny)[1][0, 0]
    assert torch.isfinite(log_tiny)
    assert torch.allclose(log_tiny, torch.log(h.abs()) + N * np.log(1e-6), rtol=1e-12, atol=0)
    assert torch.allclose(grads(log_tiny), grad_h_over_h, rtol=1e-8, atol=1e-12)
    # per-input gradient of the squared log loss against a target y = 2 h: the same at any scale s
    # of the input (target scaled alike, y(s x) = s^N y(x)); the squared loss on h scales as s^(2N)
    s = 1.5
    for_log = [grads(0.5 * (net.log_forward(Phi * c)[1][0, 0] - torch.log(2 * h.detach().abs() * c**N)) ** 2)
               for c in (1.0, s)]
    assert torch.allclose(for_log[0], for_log[1], rtol=1e-8, atol=1e-12)
    for_sq = [grads(0.5 * (net(Phi * c)[0, 0] - 2 * h.detach() * c**N) ** 2) for c in (1.0, s)]
    ratio = for_sq[1].norm() / for_sq[0].norm()
    assert torch.isclose(ratio, torch.tensor(s ** (2 * N), dtype=torch.float64), rtol=1e-6)
