"""Tests of tensordl.paths: path sums against the forward pass and numpy oracles."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensordl import data, paths
from tensordl.paths import _BLOCK, _blocked, _enumerate, _padded, _path_sum_kernel, _path_sum_numpy, _unit_activity


def rel_err(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


NETS = [[3, 1], [4, 5, 2], [5, 4, 3, 2], [3, 4, 4, 4, 2], [2, 3, 2, 3, 2, 1]]


@pytest.mark.parametrize("widths", NETS)
@pytest.mark.parametrize("activation", ["relu", "linear"])
def test_path_sum_equals_forward(widths, activation):
    W = data.random_network(widths, seed=1)
    X = data.random_inputs(70, widths[0], seed=2)
    assert rel_err(paths.path_sum(W, X, activation), paths.forward(W, X, activation)) < 1e-12


@pytest.mark.parametrize("widths", NETS)
def test_kernel_against_numpy_oracle_and_own_python_source(widths):
    W = data.random_network(widths, seed=3)
    X = data.random_inputs(9, widths[0], seed=4)
    fast = paths.path_sum(W, X)
    assert rel_err(fast, _path_sum_numpy(W, X)) < 1e-12
    Wpad, w = _padded(W, tuple(widths))
    XB = _blocked(X)
    AB = _unit_activity(Wpad, w, XB, kernel=_path_sum_kernel.py_func)
    slow = _enumerate(Wpad, w, len(widths) - 1, XB, AB, kernel=_path_sum_kernel.py_func)
    assert rel_err(slow.transpose(0, 2, 1).reshape(-1, widths[-1])[: len(X)], fast) < 1e-12


@pytest.mark.parametrize("seed", range(6))
def test_kernel_equals_its_python_source_on_random_networks_of_several_depths(seed):
    g = np.random.default_rng(seed)
    widths = list(g.integers(1, 5, size=seed % 4 + 2))  # depths 1 to 4
    W = data.random_network(widths, seed=g)
    X = data.random_inputs(int(g.integers(1, _BLOCK + 20)), widths[0], seed=g)  # one or two blocks
    Wpad, w = _padded(W, tuple(widths))
    XB = _blocked(X)
    for depth in range(1, len(widths)):
        AB = np.where(g.random((XB.shape[0], len(widths), Wpad.shape[1], _BLOCK)) < 0.6, 1.0, 0.0)
        fast = np.empty((XB.shape[0], XB.shape[1], widths[depth], _BLOCK))
        slow = np.empty_like(fast)
        _path_sum_kernel(Wpad, w, depth, XB, AB, fast)
        _path_sum_kernel.py_func(Wpad, w, depth, XB, AB, slow)
        # fastmath fuses multiply-adds only: equal up to rounding, never reordered
        assert np.allclose(fast, slow, rtol=1e-13, atol=1e-13 * max(1.0, np.abs(slow).max()))


@pytest.mark.parametrize("widths", [[8, 16, 16, 16, 1], [5, 7, 6, 3]])
def test_numpy_enumeration_agrees_with_forward_to_1e_9(widths):
    W = data.random_network(widths, seed=31)
    X = data.random_inputs(150, widths[0], seed=32)  # several chunks of samples
    for activation in ("relu", "linear"):
        ref = paths.forward(W, X, activation)
        assert rel_err(_path_sum_numpy(W, X, activation, budget=2**12), ref) < 1e-9
        assert rel_err(paths.path_sum(W, X, activation), ref) < 1e-9


def test_linear_path_sum_is_contraction_of_path_tensor():
    W = data.random_network([3, 4, 5, 2], seed=5)
    X = data.random_inputs(6, 3, seed=6)
    T = paths.path_tensor(W)
    assert T.shape == (3, 4, 5, 2)
    # The slide's d-order tensor: path products are the entries of W1 (x) W2 (x) W3
    # whose consecutive indices agree.
    outer = np.multiply.outer(np.multiply.outer(W[0], W[1]), W[2])
    assert np.allclose(np.einsum("bacbdc->abcd", outer), T, rtol=1e-14, atol=0)
    assert rel_err(np.einsum("na,abcd->nd", X, T), paths.forward(W, X, "linear")) < 1e-12


def test_enumerate_paths_order_and_count():
    P = paths.enumerate_paths([2, 3, 2])
    assert P.shape == (paths.count_paths([2, 3, 2]), 3) == (12, 3)
    assert len({tuple(p) for p in P}) == 12
    assert np.all(np.diff(P @ np.array([6, 2, 1])) == 1)  # lexicographic, l_0 most significant


def test_enumerate_paths_lists_every_path_once_for_the_timed_network():
    widths = [8, 16, 16, 16, 1]  # the network timed in chapter 1
    P = paths.enumerate_paths(widths)
    assert paths.count_paths(widths) == 8 * 16**3 == len(P)
    assert len(np.unique(P, axis=0)) == len(P)
    assert np.all(P.min(axis=0) == 0) and np.all(P.max(axis=0) == np.array(widths) - 1)


def test_unit_gates_equal_forward_activity():
    W = data.random_network([4, 6, 5, 3, 1], seed=7)
    X = data.random_inputs(40, 4, seed=8)
    zs = paths.preactivations(W, X)
    for g, z in zip(paths.unit_gates(W, X), zs[:-1]):
        assert np.array_equal(g, z > 0)


def test_path_gates_are_products_of_unit_gates():
    widths = [3, 4, 3, 2]
    W = data.random_network(widths, seed=9)
    X = data.random_inputs(5, 3, seed=10)
    G = paths.path_gates(W, X)
    units = paths.unit_gates(W, X)
    for j, p in enumerate(paths.enumerate_paths(widths)):
        expected = units[0][:, p[1]] & units[1][:, p[2]]
        assert np.array_equal(G[:, j].astype(bool), expected)
    # gated enumeration by hand equals the forward pass
    prod = np.array([np.prod([W[k][p[k + 1], p[k]] for k in range(3)]) for p in paths.enumerate_paths(widths)])
    terms = G * X[:, paths.enumerate_paths(widths)[:, 0]] * prod
    out = np.stack([terms[:, paths.enumerate_paths(widths)[:, -1] == j].sum(1) for j in range(2)], axis=1)
    assert rel_err(out, paths.forward(W, X)) < 1e-12


def test_relu_homogeneity_degree_d_and_one_per_layer():
    W = data.random_network([5, 7, 7, 3], seed=11)
    X = data.random_inputs(20, 5, seed=12)
    base = paths.forward(W, X)
    for alpha in (0.3, 2.5):
        assert rel_err(paths.forward([alpha * w for w in W], X), alpha**3 * base) < 1e-12
        for k in range(3):
            scaled = [alpha * w if i == k else w for i, w in enumerate(W)]
            assert rel_err(paths.forward(scaled, X), alpha * base) < 1e-12
    # a negative factor is not allowed: ReLU is only positively homogeneous
    assert rel_err(paths.forward([-w for w in W], X), -base) > 1e-3


def test_biases_add_lower_order_terms():
    W, b = data.random_network([3, 4, 1], seed=13, biases=True)
    x = data.random_inputs(1, 3, seed=14)
    lin = [paths.forward([a * w for w in W], x, "linear", [a * v for v in b])[0, 0] for a in (1.0, 2.0, 3.0)]
    # Phi(a) = c2 a^2 + c1 a exactly for a linear two-layer net with biases
    c = np.polyfit([1.0, 2.0, 3.0], lin, 2)
    assert abs(c[2]) < 1e-12 and abs(c[1]) > 1e-6


def test_path_norm_dp_equals_enumeration():
    W = data.random_network([4, 5, 5, 2], seed=15)
    for q in (1, 2, 3.5):
        assert paths.path_norm(W, q) == pytest.approx(paths.path_norm(W, q, method="enumerate"), rel=1e-12)
    # closed form for depth 1: the entrywise q-norm
    A = data.random_network([3, 2], seed=16)[0]
    assert paths.path_norm([A], 2) == pytest.approx(np.linalg.norm(A), rel=1e-14)


def test_gate_flips_located_on_a_known_line():
    # one hidden unit with pre-activation (1 - 2t) x: it switches off at t = 1/2
    W = [np.array([[1.0]]), np.array([[1.0]])]
    D = [np.array([[-2.0]]), np.array([[0.0]])]
    flips = paths.gate_flips(W, D, np.array([[1.0]]), interval=(-1.0, 2.0), n_grid=7)
    assert flips.shape == (1,) and abs(flips[0] - 0.5) < 1e-14


def test_same_seed_same_network():
    a = data.random_network([3, 4, 2], seed=17)
    b = data.random_network([3, 4, 2], seed=17)
    c = data.random_network([3, 4, 2], seed=18)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("widths", [[4, 6, 6, 1], [3, 5, 4, 5, 2], [6, 2, 3]])
def test_results_do_not_depend_on_thread_count(one_and_all_threads, widths):
    W = data.random_network(widths, seed=19)
    X = data.random_inputs(3 * _BLOCK + 7, widths[0], seed=20)  # blocks fewer than tasks, a partial one
    for activation in ("relu", "linear"):
        one, many = one_and_all_threads(lambda a=activation: paths.path_sum(W, X, a))
        assert np.array_equal(one, many)
    one, many = one_and_all_threads(lambda: paths.unit_gates(W, X))
    assert all(np.array_equal(a, b) for a, b in zip(one, many))


@settings(max_examples=40, deadline=None)
@given(
    widths=st.lists(st.integers(1, 4), min_size=2, max_size=5),
    n=st.integers(1, 6),
    seed=st.integers(0, 2**31 - 1),
    activation=st.sampled_from(["relu", "linear"]),
)
def test_hypothesis_path_sum_equals_forward(widths, n, seed, activation):
    W = data.random_network(widths, seed=seed)
    X = data.random_inputs(n, widths[0], seed=seed + 1)
    fwd = paths.forward(W, X, activation)
    assert np.allclose(paths.path_sum(W, X, activation), fwd, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(fwd).max()))


# --- error paths -------------------------------------------------------------


def test_broken_shape_chain():
    with pytest.raises(ValueError, match=r"weights\[1\]"):
        paths.path_sum([np.ones((3, 2)), np.ones((1, 4))], np.ones((1, 2)))


def test_wrong_input_width():
    with pytest.raises(ValueError, match="X must have 2 columns"):
        paths.forward([np.ones((3, 2))], np.ones((4, 3)))


def test_non_finite_values():
    with pytest.raises(ValueError, match=r"weights\[0\] must contain only finite"):
        paths.path_sum([np.array([[np.nan, 1.0]])], np.ones((1, 2)))
    with pytest.raises(ValueError, match="X must contain only finite"):
        paths.forward([np.ones((1, 2))], np.array([[np.inf, 1.0]]))


def test_unknown_activation():
    with pytest.raises(ValueError, match="activation must be one of"):
        paths.path_sum([np.ones((1, 2))], np.ones((1, 2)), activation="tanh")


def test_path_budget():
    W = [np.ones((100, 100))] * 4  # 10^10 paths
    with pytest.raises(ValueError, match="MAX_PATH_SAMPLES"):
        paths.path_sum(W, np.ones((1, 100)))
    with pytest.raises(ValueError, match="MAX_PATH_SAMPLES"):
        paths.path_gates(W, np.ones((1, 100)))
    assert paths.MAX_PATH_SAMPLES >= 10**8


def test_bad_weights_container_and_biases():
    with pytest.raises(TypeError, match="weights must be a list"):
        paths.forward(np.ones((2, 2)), np.ones((1, 2)))
    with pytest.raises(ValueError, match="weights must hold at least one"):
        paths.forward([], np.ones((1, 2)))
    with pytest.raises(ValueError, match=r"biases\[0\] must have shape"):
        paths.forward([np.ones((3, 2))], np.ones((1, 2)), biases=[np.ones(2)])


def test_bad_path_norm_arguments():
    with pytest.raises(ValueError, match="q must be"):
        paths.path_norm([np.ones((2, 2))], q=0.5)
    with pytest.raises(ValueError, match="method must be one of"):
        paths.path_norm([np.ones((2, 2))], method="magic")


def test_bad_count_paths_and_gate_flips_arguments():
    with pytest.raises(ValueError, match=r"widths\[1\] must be at least 1"):
        paths.count_paths([3, 0])
    W = [np.ones((2, 1)), np.ones((1, 2))]
    with pytest.raises(ValueError, match="direction must have the shapes"):
        paths.gate_flips(W, [np.ones((3, 1)), np.ones((1, 3))], np.ones((1, 1)))
    with pytest.raises(ValueError, match="x must hold exactly one input"):
        paths.gate_flips(W, W, np.ones((2, 1)))
    with pytest.raises(ValueError, match="interval must be"):
        paths.gate_flips(W, W, np.ones((1, 1)), interval=(1.0, 0.0))


@pytest.mark.parametrize("widths", [[3, 2], [4, 3, 2], [3, 3, 2, 3]])
def test_squared_loss_expansion_reproduces_the_mse(widths):
    W = data.random_network(widths, seed=3)
    g = np.random.default_rng(4)
    X, Y = g.standard_normal((25, widths[0])), g.standard_normal((25, widths[-1]))
    C, q, Q, P = paths.squared_loss_expansion(W, X, Y)
    mse = np.mean(np.sum((Y - paths.forward(W, X)) ** 2, axis=1))
    assert C + q @ P + P @ Q @ P == pytest.approx(mse, rel=1e-12)
    assert np.allclose(Q, Q.T) and np.all(np.linalg.eigvalsh(Q) > -1e-12)  # a Gram matrix
    # paths to different outputs do not interact
    out = paths.enumerate_paths(widths)[:, -1]
    assert np.all(Q[out[:, None] != out[None, :]] == 0)


def test_squared_loss_coefficients_are_one_signed_for_nonnegative_data():
    # Pixels >= 0, one-hot targets and 0/1 gates: every q_p = -(2/m) sum y pi x is <= 0,
    # so a statistic of q across paths cannot test Gaussianity (chapter 7).
    W = data.random_network([5, 4, 3], seed=7)
    g = np.random.default_rng(8)
    X, Y = g.random((40, 5)), np.eye(3)[g.integers(0, 3, 40)]
    C, q, Q, P = paths.squared_loss_expansion(W, X, Y)
    assert np.all(q <= 0) and np.any(q < 0)


def test_squared_loss_expansion_errors():
    W = data.random_network([3, 2, 2], seed=0)
    with pytest.raises(ValueError, match="Y must have one row per row of X"):
        paths.squared_loss_expansion(W, np.ones((4, 3)), np.ones((5, 2)))
    with pytest.raises(ValueError, match="Y must have 2 columns"):
        paths.squared_loss_expansion(W, np.ones((4, 3)), np.ones((4, 3)))
    with pytest.raises(ValueError, match="MAX_PATH_SAMPLES"):
        paths.squared_loss_expansion(data.random_network([40, 30, 30], seed=0), np.ones((2, 40)), np.ones((2, 30)))


@pytest.mark.parametrize("widths", [[4, 3, 2], [5, 4, 3, 2], [3, 2, 2, 2, 2]])
def test_squared_loss_terms_match_the_expansion_and_euler(widths):
    W = data.random_network(widths, seed=11)
    g = np.random.default_rng(12)
    X, Y = g.standard_normal((30, widths[0])), g.standard_normal((30, widths[-1]))
    C, q, Q, P = paths.squared_loss_expansion(W, X, Y)
    c, lin, quad = paths.squared_loss_terms(W, X, Y)
    assert (c, lin, quad) == pytest.approx((C, q @ P, P @ Q @ P), rel=1e-12)
    # Euler: the derivative along Theta -> t Theta at t = 1 is d (linear + 2 quadratic)
    d, h = len(W), 1e-6
    E = [np.mean(np.sum((Y - paths.forward([t * w for w in W], X)) ** 2, axis=1)) for t in (1 - h, 1 + h)]
    assert (E[1] - E[0]) / (2 * h) == pytest.approx(d * (lin + 2 * quad), rel=1e-6)


def test_squared_loss_terms_at_a_perfect_fit_quadratic_is_half_the_linear():
    W = data.random_network([4, 3, 2], seed=5)
    X = data.random_inputs(20, 4, seed=6)
    Y = paths.forward(W, X)  # a critical point: the loss is zero
    c, lin, quad = paths.squared_loss_terms(W, X, Y)
    assert quad == pytest.approx(-lin / 2, rel=1e-12) and c + lin + quad == pytest.approx(0, abs=1e-12)


def test_squared_loss_terms_errors():
    W = data.random_network([3, 2, 2], seed=0)
    with pytest.raises(ValueError, match="Y must have one row per row of X"):
        paths.squared_loss_terms(W, np.ones((4, 3)), np.ones((5, 2)))
    with pytest.raises(ValueError, match="X must have 3 columns"):
        paths.squared_loss_terms(W, np.ones((4, 2)), np.ones((4, 2)))


def test_shared_edges_counts_equal_consecutive_pairs():
    widths = [3, 2, 3, 2]
    P = paths.enumerate_paths(widths)
    i, j = np.meshgrid(np.arange(len(P)), np.arange(len(P)), indexing="ij")
    a, b = P[i.ravel()], P[j.ravel()]
    brute = np.array([sum(x[k] == y[k] and x[k + 1] == y[k + 1] for k in range(3)) for x, y in zip(a, b)])
    got = paths.shared_edges(a, b)
    assert np.array_equal(got, brute)
    assert np.all((got == 3) == (i.ravel() == j.ravel()))  # all edges shared: the same path
    # sharing a unit is not sharing an edge
    assert paths.shared_edges([[0, 1, 0]], [[1, 1, 1]]).tolist() == [0]


def test_shared_edges_errors():
    with pytest.raises(ValueError, match="same shape"):
        paths.shared_edges([[0, 1, 2]], [[0, 1]])
    with pytest.raises(ValueError, match="depth"):
        paths.shared_edges([0, 1, 2], [0, 1, 2])
    with pytest.raises(TypeError, match="integer"):
        paths.shared_edges([[0.0, 1.0]], [[0.0, 1.0]])


@pytest.mark.parametrize("widths", [[2, 3], [3, 2, 4], [2, 3, 2, 3]])
def test_edge_sums_against_a_loop_over_paths(widths):
    P = paths.enumerate_paths(widths)
    v = np.random.default_rng(3).standard_normal(len(P))
    got = paths.edge_sums(v, widths)
    for k in range(len(widths) - 1):
        ref = np.zeros((widths[k + 1], widths[k]))
        for p, val in zip(P, v):
            ref[p[k + 1], p[k]] += val
        assert np.allclose(got[k], ref, rtol=1e-13, atol=1e-13)
    # all ones: the number of paths through each weight
    ones = paths.edge_sums(np.ones(len(P)), widths)
    n = paths.count_paths(widths)
    assert all(np.all(s == n // (widths[k] * widths[k + 1])) for k, s in enumerate(ones))


def test_edge_sums_errors():
    with pytest.raises(ValueError, match="one per path"):
        paths.edge_sums(np.ones(5), [2, 3])
    with pytest.raises(ValueError, match="finite"):
        paths.edge_sums(np.array([1.0, np.nan, 0.0, 0.0, 0.0, 0.0]), [2, 3])


@pytest.mark.parametrize("widths", [[4, 3, 2], [5, 4, 3, 2]])
def test_path_terms_average_to_the_expansion_coefficients(widths):
    W = data.random_network(widths, seed=21)
    g = np.random.default_rng(22)
    X, Y = g.standard_normal((40, widths[0])), g.standard_normal((40, widths[-1]))
    P = paths.enumerate_paths(widths)
    C, q, Q, _ = paths.squared_loss_expansion(W, X, Y)
    T = paths.path_terms(W, X, Y, P)
    assert np.allclose(-2 * T.mean(axis=0), q, rtol=1e-12, atol=1e-14)
    # the gates: terms vanish exactly where path_gates closes the path
    G = paths.path_gates(W, X)
    assert np.all(T[G == 0] == 0)
    sub = P[[3, 0, 7]]  # any order, any subset
    assert np.array_equal(paths.path_terms(W, X, Y, sub), T[:, [3, 0, 7]])


def test_path_terms_errors():
    W = data.random_network([3, 2, 2], seed=0)
    X, Y = np.ones((4, 3)), np.ones((4, 2))
    with pytest.raises(ValueError, match="rows must hold paths"):
        paths.path_terms(W, X, Y, [[0, 2, 0]])
    with pytest.raises(ValueError, match="rows must hold paths"):
        paths.path_terms(W, X, Y, [[0, 0]])
    with pytest.raises(ValueError, match="one row per row"):
        paths.path_terms(W, X, np.ones((3, 2)), [[0, 0, 0]])


def test_path_terms_with_unit_targets_are_the_factors_of_Q():
    widths = [4, 3, 3, 2]
    W = data.random_network(widths, seed=23)
    g = np.random.default_rng(24)
    X, Y = g.standard_normal((30, 4)), g.standard_normal((30, 2))
    P = paths.enumerate_paths(widths)
    _, _, Q, _ = paths.squared_loss_expansion(W, X, Y)
    A = paths.path_terms(W, X, np.ones_like(Y), P)  # A_sp = x_{s, l_0} pi(p, x_s)
    same_out = P[:, -1][:, None] == P[:, -1][None, :]
    assert np.allclose(A.T @ A / len(X) * same_out, Q, rtol=1e-12, atol=1e-14)


def test_frozen_polynomial_is_exact_up_to_the_first_gate_flip():
    # chapter 7: the gates frozen at t = 0 describe the loss along W + tD exactly
    # until the nearest flip that gate_flips locates, and not beyond it
    widths = [5, 4, 3, 2]
    W = data.random_network(widths, seed=25)
    g = np.random.default_rng(26)
    D = [0.5 * g.standard_normal(w.shape) for w in W]
    X, Y = g.standard_normal((8, 5)), g.standard_normal((8, 2))
    C, q, Q, _ = paths.squared_loss_expansion(W, X, Y)
    flips = [paths.gate_flips(W, D, x[None], n_grid=201) for x in X]
    s, t_star = min(((i, abs(f).min()) for i, f in enumerate(flips) if f.size), key=lambda a: a[1])
    t_near = flips[s][np.argmin(abs(flips[s]))]
    for t in np.linspace(-0.999, 0.999, 41) * t_star:
        Wt = [w + t * d for w, d in zip(W, D)]
        Pt = paths.path_tensor(Wt).reshape(-1)
        mse = np.mean(np.sum((Y - paths.forward(Wt, X)) ** 2, axis=1))
        assert C + q @ Pt + Pt @ Q @ Pt == pytest.approx(mse, rel=1e-12)

    def pattern(t):
        zs = paths.preactivations([w + t * d for w, d in zip(W, D)], X[s : s + 1])
        return np.concatenate([z.ravel() > 0 for z in zs[:-1]])

    assert np.array_equal(pattern(0.999 * t_near), pattern(0.0))
    assert not np.array_equal(pattern(1.001 * t_near), pattern(0.0))


def test_path_norm_accepts_numpy_exponent():
    # q = np.int64(2) raised "q must be a finite number" before the shared validator
    W = [np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([[1.0, 1.0]])]
    assert paths.path_norm(W, q=np.int64(2)) == paths.path_norm(W, q=2.0)
    with pytest.raises(TypeError, match="q must be a real number"):
        paths.path_norm(W, q="2")


def _class_terms(seed, m=36, pairs=6, classes=3):
    """Toy path terms: non-negative, sparse, each column zero outside its class."""
    g = np.random.default_rng(seed)
    groups = np.arange(m) % classes
    ca, cb = g.integers(0, classes, pairs), g.integers(0, classes, pairs)
    cb[:3] = ca[:3]  # some pairs of one class, the rest drawn freely
    shared = g.random((m, pairs))  # a shared factor makes pairs of one class correlate
    Ta = (groups[:, None] == ca) * g.random((m, pairs)) * (shared > 0.3)
    Tb = (groups[:, None] == cb) * (g.random((m, pairs)) + shared) * (g.random((m, pairs)) > 0.2)
    return groups, ca, cb, Ta, Tb


def test_iid_bootstrap_corr_is_the_samples_correlation_and_the_common_mode_formula():
    groups, ca, cb, Ta, Tb = _class_terms(1)
    r = paths.iid_bootstrap_corr(Ta, Tb)
    ref = [np.corrcoef(Ta[:, i], Tb[:, i])[0, 1] for i in range(Ta.shape[1])]
    np.testing.assert_allclose(r, ref, rtol=1e-12)
    for i in range(Ta.shape[1]):  # the decomposition quoted by chapter 7 (eq-ch7-1)
        a, b = Ta[:, i], Tb[:, i]
        if ca[i] != cb[i]:
            formula = -a.mean() * b.mean() / np.sqrt(a.var() * b.var())
        else:
            own = groups == ca[i]
            pj, a, b = own.mean(), a[own], b[own]
            cab = np.mean((a - a.mean()) * (b - b.mean()))
            den = np.sqrt((a.var() + (1 - pj) * a.mean() ** 2) * (b.var() + (1 - pj) * b.mean() ** 2))
            formula = (cab + (1 - pj) * a.mean() * b.mean()) / den
        assert r[i] == pytest.approx(formula, rel=1e-12)


def test_stratified_bootstrap_corr_is_within_class_or_zero():
    groups, ca, cb, Ta, Tb = _class_terms(2)
    r = paths.stratified_bootstrap_corr(Ta, Tb, groups)
    for i in range(Ta.shape[1]):
        if ca[i] != cb[i]:
            assert r[i] == 0.0
        else:
            own = groups == ca[i]
            assert r[i] == pytest.approx(np.corrcoef(Ta[own, i], Tb[own, i])[0, 1], rel=1e-12)


def test_bootstrap_limits_against_monte_carlo_resamples():
    groups, ca, cb, Ta, Tb = _class_terms(3)
    m, R = len(groups), 40_000
    g = np.random.default_rng(4)
    iid = g.multinomial(m, np.full(m, 1 / m), size=R)
    strat = np.zeros_like(iid)
    for label in np.unique(groups):
        idx = np.flatnonzero(groups == label)
        strat[:, idx] = g.multinomial(len(idx), np.full(len(idx), 1 / len(idx)), size=R)
    # the Monte Carlo error of a correlation over R resamples is below (1 - r^2)/sqrt(R) < 0.005
    np.testing.assert_allclose(paths.resampled_corr(iid, Ta, Tb), paths.iid_bootstrap_corr(Ta, Tb), atol=0.025)
    np.testing.assert_allclose(
        paths.resampled_corr(strat, Ta, Tb), paths.stratified_bootstrap_corr(Ta, Tb, groups), atol=0.025
    )


def test_resampled_corr_se_matches_the_spread_of_independent_runs():
    groups, ca, cb, Ta, Tb = _class_terms(5)
    m = len(groups)
    g = np.random.default_rng(6)
    runs = [g.multinomial(m, np.full(m, 1 / m), size=400) for _ in range(30)]
    spread = np.std([paths.resampled_corr(c, Ta, Tb).mean() for c in runs], ddof=1)
    se = [paths.resampled_corr_se(c, Ta, Tb) for c in runs]
    assert 0.5 < np.mean(se) / spread < 1.6  # batch means estimate the run-to-run error
    assert paths.resampled_corr_se(runs[0], Ta, Tb) == paths.resampled_corr_se(runs[0], Ta, Tb)


def test_bootstrap_corr_errors_name_the_argument():
    groups, ca, cb, Ta, Tb = _class_terms(7)
    with pytest.raises(ValueError, match="same shape"):
        paths.iid_bootstrap_corr(Ta, Tb[:, :2])
    with pytest.raises(ValueError, match="groups"):
        paths.stratified_bootstrap_corr(Ta, Tb, groups[:-1])
    with pytest.raises(ValueError, match="counts"):
        paths.resampled_corr(np.ones((5, 3)), Ta, Tb)
    with pytest.raises(ValueError, match="divisible by batches"):
        paths.resampled_corr_se(np.ones((15, len(groups))), Ta, Tb, batches=10)
    with pytest.raises(TypeError, match="terms_a"):
        paths.iid_bootstrap_corr("x", Tb)

def _masked_forward(W, b, X, gates, a):
    """Oracle for scaling_polynomial: the network with every parameter times a, gates held fixed."""
    h = X
    for k, (w, v) in enumerate(zip(W, b)):
        h = a * (h @ w.T + v)
        if k < len(W) - 1:
            h = h * gates[k]
    return h


@pytest.mark.parametrize("widths", [[3, 1], [4, 5, 2], [3, 4, 4, 4, 2], [2, 3, 2, 3, 2, 1]])
def test_scaling_polynomial_against_masked_forward_interpolation(widths):
    # any gates, not only the network's own: d + 1 values of the masked network fix its polynomial
    g = np.random.default_rng(41)
    W, b = data.random_network(widths, seed=g, biases=True, bias_scale=0.5)
    X = data.random_inputs(6, widths[0], seed=g)
    gates = [g.random((6, w)) < 0.6 for w in widths[1:-1]]
    C = paths.scaling_polynomial(W, X, gates, biases=b)
    d = len(W)
    assert C.shape == (d + 1, 6, widths[-1]) and np.all(C[0] == 0.0)
    nodes = np.cos(np.pi * (np.arange(d + 1) + 0.5) / (d + 1))  # Chebyshev nodes, well conditioned
    vals = np.array([_masked_forward(W, b, X, gates, a) for a in nodes])
    coef = np.linalg.solve(np.vander(nodes, d + 1, increasing=True), vals.reshape(d + 1, -1))
    assert np.max(np.abs(coef.reshape(C.shape) - C)) < 1e-12 * max(1.0, np.abs(C).max())


def test_scaling_polynomial_is_the_network_where_its_own_gates_hold():
    W, b = data.random_network([4, 6, 6, 1], seed=42, biases=True, bias_scale=0.5)
    x = data.random_inputs(1, 4, seed=43)
    gates = [z > 0 for z in paths.preactivations(W, x, biases=b)[:-1]]
    C = paths.scaling_polynomial(W, x, gates, biases=b)
    checked = 0
    for a in np.linspace(0.8, 1.25, 46):
        Wa, ba = [a * w for w in W], [a * v for v in b]
        same = all(np.array_equal(z > 0, g) for z, g in zip(paths.preactivations(Wa, x, biases=ba), gates))
        if same:
            phi = paths.forward(Wa, x, biases=ba)[0, 0]
            assert abs(np.polynomial.polynomial.polyval(a, C[:, 0, 0]) - phi) < 1e-13 * max(1.0, abs(phi))
            checked += 1
    assert checked >= 2  # a = 1 at least, and its neighbours unless a gate flips right there


def test_scaling_polynomial_top_coefficient_is_the_masked_path_sum_and_bias_free_is_homogeneous():
    widths = [3, 4, 5, 2]
    W, b = data.random_network(widths, seed=44, biases=True)
    X = data.random_inputs(5, 3, seed=45)
    g = np.random.default_rng(46)
    gates = [g.random((5, w)) < 0.5 for w in widths[1:-1]]
    C = paths.scaling_polynomial(W, X, gates, biases=b)
    # degree d: the open paths of the bias-free network on (x, 1), b_1 the weights of the constant 1
    aug = [np.hstack([W[0], b[0][:, None]])] + W[1:]
    Xa = np.hstack([X, np.ones((5, 1))])
    rows = paths.enumerate_paths([4] + widths[1:])
    T = paths.path_tensor(aug).reshape(-1)  # rows in enumerate_paths order
    for s in range(5):
        open_ = np.all([gates[K - 1][s, rows[:, K]] for K in range(1, len(widths) - 1)], axis=0)
        ref = np.array([np.sum((T * Xa[s, rows[:, 0]] * open_)[rows[:, -1] == j]) for j in range(2)])
        assert np.allclose(C[-1, s], ref, rtol=1e-13, atol=1e-13)
    # no biases: only degree d, and with the network's own gates it is the network itself
    own = [z > 0 for z in paths.preactivations(W, X)[:-1]]
    C0 = paths.scaling_polynomial(W, X, own)
    assert np.all(C0[:-1] == 0.0) and rel_err(C0[-1], paths.forward(W, X)) < 1e-14


def test_scaling_polynomial_dead_layer_leaves_only_the_biases_above_it():
    W, b = data.random_network([3, 4, 4, 4, 1], seed=47, biases=True)
    X = data.random_inputs(2, 3, seed=48)
    gates = [np.ones((2, 4), bool), np.zeros((2, 4), bool), np.ones((2, 4), bool)]
    C = paths.scaling_polynomial(W, X, gates, biases=b)
    # layer 2 closed: only the biases of layers 3 (degree 2) and 4 (degree 1) reach the output
    assert np.all(C[3:] == 0.0) and np.all(C[0] == 0.0)
    assert np.allclose(C[1, :, 0], b[3][0]) and np.allclose(C[2, :, 0], (W[3] @ b[2])[0])


def test_scaling_polynomial_bad_gates():
    W = data.random_network([3, 4, 2], seed=49)
    X = np.ones((2, 3))
    with pytest.raises(ValueError, match="gates"):
        paths.scaling_polynomial(W, X, [])
    with pytest.raises(ValueError, match="gates\\[0\\]"):
        paths.scaling_polynomial(W, X, [np.ones((2, 5), bool)])
    with pytest.raises(ValueError, match="gates\\[0\\]"):
        paths.scaling_polynomial(W, X, [np.ones((2, 4))])
    with pytest.raises(ValueError, match="biases"):
        paths.scaling_polynomial(W, X, [np.ones((2, 4), bool)], biases=[np.ones(4)])


def test_path_plan_evaluates_like_the_one_shot_functions():
    widths = [3, 4, 5, 2]
    plan = paths.PathPlan(widths)
    assert plan.widths == tuple(widths) and plan.rows.shape == (paths.count_paths(widths), 4)
    np.testing.assert_array_equal(plan.rows, paths.enumerate_paths(widths))
    for seed in range(3):  # many networks and inputs through one plan
        W = data.random_network(widths, seed=seed)
        X = data.random_inputs(17, 3, seed=10 + seed)
        Y = data.random_inputs(17, 2, seed=20 + seed)
        np.testing.assert_array_equal(plan.gates(W, X), paths.path_gates(W, X))
        np.testing.assert_array_equal(plan.terms(W, X, Y), paths.path_terms(W, X, Y, paths.enumerate_paths(widths)))
    # the gates agree with the forward pass: the gated path sum is the network's output
    T = paths.path_tensor(W).reshape(-1)
    gated = (plan.gates(W, X) * X[:, plan.rows[:, 0]] * T) @ np.eye(2)[plan.rows[:, -1]]
    np.testing.assert_allclose(gated, paths.forward(W, X), rtol=1e-12, atol=1e-12)


def test_path_plan_errors():
    plan = paths.PathPlan([2, 3, 1])
    with pytest.raises(ValueError, match="plan's widths"):
        plan.gates(data.random_network([2, 4, 1], seed=0), np.ones((1, 2)))
    with pytest.raises(ValueError, match="X must"):
        plan.gates(data.random_network([2, 3, 1], seed=0), np.ones((1, 3)))
    with pytest.raises(ValueError):
        plan.rows[0, 0] = 1  # read-only
    with pytest.raises(ValueError, match="MAX_PATH_SAMPLES"):
        paths.PathPlan([100] * 6)
    with pytest.raises(ValueError, match="widths must"):
        paths.PathPlan([3])
