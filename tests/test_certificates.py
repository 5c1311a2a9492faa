"""Tests of tensordl.certificates: polars against brute force, the certificate, the meta-algorithms."""

import numpy as np
import pytest

from tensordl import certificates as cert
from tensordl import data
from tensordl import factorization as fz
from tensordl.factorization import ConvergenceWarning


def planted(m, n, rank, noise, seed):
    return data.low_rank_plus_noise(m, n, rank, noise, seed)[0]


@pytest.mark.parametrize("norms", cert.NORM_PAIRS)
def test_polar_against_brute_force_and_maximizer(norms):
    g = np.random.default_rng(0)
    Z = g.normal(size=(6, 5))
    value, u, v = cert.polar(Z, norms, return_maximizer=True)
    assert u @ Z @ v == pytest.approx(value, rel=1e-12)
    assert np.linalg.norm(u, 1 if norms[0] == "l1" else 2) == pytest.approx(1.0)
    assert np.linalg.norm(v, 1 if norms[1] == "l1" else 2) == pytest.approx(1.0)
    # random feasible points never exceed it
    U = g.normal(size=(5000, 6))
    V = g.normal(size=(5000, 5))
    U /= np.linalg.norm(U, 1 if norms[0] == "l1" else 2, axis=1, keepdims=True)
    V /= np.linalg.norm(V, 1 if norms[1] == "l1" else 2, axis=1, keepdims=True)
    assert np.einsum("si,ij,sj->s", U, Z, V).max() <= value * (1 + 1e-12)


@pytest.mark.parametrize("norms", cert.NORM_PAIRS)
def test_tensor_norm_is_dual_of_polar(norms):
    g = np.random.default_rng(1)
    X, Z = g.normal(size=(5, 4)), g.normal(size=(5, 4))
    assert np.sum(X * Z) <= cert.tensor_norm(X, norms) * cert.polar(Z, norms) * (1 + 1e-12)


def test_every_pair_of_norms_has_its_polar_and_its_tensor_norm():
    assert set(cert._DUAL_PAIRS) == set(cert.NORM_PAIRS)


def test_tensor_norms_and_polars_have_their_closed_forms():
    # (l2, l2): nuclear norm and operator norm; (l1, l2): sum and max of row norms,
    # the sum attained by the row factorization X = sum_i e_i X_i^T
    g = np.random.default_rng(9)
    X, Z = g.normal(size=(12, 8)), g.normal(size=(12, 8))
    assert cert.tensor_norm(X) == pytest.approx(fz.nuclear_norm(X), rel=1e-12)
    assert cert.polar(Z) == pytest.approx(np.linalg.norm(Z, 2), rel=1e-12)
    rows = np.linalg.norm(X, axis=1)
    assert cert.tensor_norm(X, ("l1", "l2")) == pytest.approx(rows.sum(), rel=1e-12)
    assert cert.polar(Z, ("l1", "l2")) == pytest.approx(np.linalg.norm(Z, axis=1).max(), rel=1e-12)
    # the normalised rows attain the dual sup <X, Z> over polar(Z) <= 1
    Zs = X / rows[:, None]
    assert cert.polar(Zs, ("l1", "l2")) == pytest.approx(1.0)
    assert np.sum(X * Zs) == pytest.approx(rows.sum(), rel=1e-12)


def test_polar_large_matrix_uses_subspace_iteration_correctly():
    Z = planted(120, 90, 3, 1.0, 2)
    assert cert.polar(Z) == pytest.approx(np.linalg.norm(Z, 2), rel=1e-10)


def test_certificate_at_the_convex_solution_and_at_a_saddle():
    Y = planted(30, 20, 3, 0.3, 3)
    lam = 3.0
    good = cert.certify(Y, fz.balanced_factors(fz.solve_convex(Y, lam)), lam)
    assert good.certified and good.gap < 1e-10 and good.first_order < 1e-10
    U, s, Vt = np.linalg.svd(Y, full_matrices=False)
    k = int(np.sum(s > lam))
    S = np.arange(1, k)
    bad = cert.certify(Y, (U[:, S] * np.sqrt(s[S] - lam), Vt[S].T * np.sqrt(s[S] - lam)), lam)
    assert not bad.certified
    assert bad.polar == pytest.approx(s[0] / lam, rel=1e-8)
    assert bad.gap > 1e-3


def test_zero_columns_are_counted():
    Y = planted(10, 8, 2, 0.0, 4)
    U, V = fz.balanced_factors(Y)
    U = np.column_stack([U, np.zeros(10)])
    V = np.column_stack([V, np.zeros(8)])
    assert cert.certify(Y, (U, V), 0.5).zero_columns == 1


def test_grow_rank_certifies_at_the_rank_of_the_convex_solution():
    Y = planted(30, 25, 4, 0.2, 5)
    lam = 1.5 * 0.2 * (np.sqrt(30) + np.sqrt(25))
    res = cert.grow_rank(Y, lam, seed=0)
    assert res.certified
    assert res.history[-1]["r"] == np.linalg.matrix_rank(fz.solve_convex(Y, lam), 1e-9)
    assert [h["r"] for h in res.history] == list(range(1, res.history[-1]["r"] + 1))
    objs = [h["objective"] for h in res.history]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(objs, objs[1:]))


def test_grow_rank_warns_when_capped():
    Y = planted(20, 15, 5, 0.1, 6)
    with pytest.warns(ConvergenceWarning, match="max_rank"):
        res = cert.grow_rank(Y, 0.5, seed=0, max_rank=2)
    assert not res.certified


def _circle_brute(z, X, n=200001):
    t = np.linspace(0, 2 * np.pi, n)
    G = np.column_stack([np.cos(t), np.sin(t)])
    return np.abs(np.maximum(X @ G.T, 0).T @ z).max()


def test_relu_polar_exact_on_the_circle_against_a_dense_grid():
    x = np.linspace(-1, 1, 41)
    X = np.column_stack([x, np.ones_like(x)])
    z = np.where(x > 0.5, 1.0, 0.0) - np.where(x < -0.3, 0.7, 0.0)
    res = cert.relu_polar(z, X)
    brute = _circle_brute(z, X)
    # the grid's value is attained, so it is below the polar, and within L * (half the grid step) of it
    lip = np.abs(z) @ np.linalg.norm(X, axis=1)
    assert res.method == "arrangement" and 0 < res.upper - res.lower < 1e-13 * lip
    assert brute <= res.upper and res.upper - brute <= lip * np.pi / 200000
    assert np.linalg.norm(res.w) == pytest.approx(1.0)
    assert res.sign * (np.maximum(X @ res.w, 0) @ z) == pytest.approx(res.lower, rel=1e-12)


def test_certify_relu_against_a_dense_grid_oracle():
    """The certificate's verdict at lam just above and below the oracle's polar of the residual."""
    g = np.random.default_rng(11)
    x = np.sort(g.uniform(-1, 1, 30))
    X = np.column_stack([x, np.ones_like(x)])
    a, W = g.normal(size=2), g.normal(size=(2, 2))
    y = np.sin(3 * x)
    residual = y - np.maximum(X @ W.T, 0) @ a  # the network written out, not relu_net
    oracle = _circle_brute(residual, X)  # polar of the residual; that of residual / lam is oracle / lam
    assert cert.certify_relu(X, y, a, W, lam=1.001 * oracle).status == "certified"
    assert cert.certify_relu(X, y, a, W, lam=0.999 * oracle).status == "not certified"


def test_relu_polar_two_orthogonal_samples_closed_form():
    # sup relu(x1.w) + relu(x2.w) over unit w, x1 _|_ x2: sqrt(|x1|^2 + |x2|^2) at w ~ x1 + x2
    X = np.array([[3.0, 0.0, 0.0], [0.0, 0.0, 4.0]])
    res = cert.relu_polar(np.ones(2), X)
    assert res.method == "arrangement" and res.lower == pytest.approx(5.0, rel=1e-14) and res.upper >= 5.0
    assert np.allclose(res.w, np.array([3.0, 0.0, 4.0]) / 5.0)


def test_relu_polar_exact_on_the_sphere_brackets_search_and_dense_grid():
    g = np.random.default_rng(3)
    X = np.column_stack([g.uniform(-1, 1, (40, 2)), np.ones(40)])
    z = g.normal(size=40)
    exact = cert.relu_polar(z, X)
    G = cert._sphere_grid(3, 400000)
    dense = np.abs(np.maximum(X @ G.T, 0).T @ z).max()
    lip = cert.relu_polar(z, X, method="lipschitz", n_grid=20000)
    assert exact.method == "arrangement" and exact.upper - exact.lower < 1e-12 * exact.upper
    # every attained value is at most the proven bound; a dense grid and a local search come close to it
    assert dense <= exact.upper and lip.lower <= exact.upper
    assert exact.upper - dense < 2e-3 * exact.upper and exact.upper - lip.lower < 1e-8 * exact.upper
    # the Lipschitz bracket holds the exact value
    assert lip.upper >= exact.upper and lip.lower <= exact.lower + 1e-12


def test_relu_polar_lipschitz_bracket_in_four_dimensions():
    g = np.random.default_rng(4)
    X = np.column_stack([g.normal(size=(30, 3)), np.ones(30)])
    z = g.normal(size=30)
    res = cert.relu_polar(z, X)
    W = data.sphere_points(200000, 4, g)
    sampled = np.abs(np.maximum(X @ W.T, 0).T @ z).max()
    assert res.method == "lipschitz"
    assert sampled <= res.upper and res.lower <= res.upper and res.lower >= sampled - 1e-3 * sampled
    # a finer grid cannot loosen the proven bound by more than its own covering term
    finer = cert.relu_polar(z, X, n_grid=200000)
    assert finer.upper < res.upper


def test_relu_polar_cube_grid_covering_radius():
    for p in (2, 3, 4):
        G, delta = cert._cube_grid(p, 3000)
        W = data.sphere_points(20000, p, seed=p)
        nearest = np.sqrt(np.maximum(2 - 2 * (W @ G.T).max(axis=1), 0))
        assert nearest.max() <= delta


def test_relu_polar_falls_back_when_circles_meet():
    # three collinear inputs (with the bias column): their great circles share a point
    X = np.column_stack([[0.0, 0.5, 1.0, 0.2], [0.0, 0.5, 1.0, -0.7], np.ones(4)])
    z = np.array([1.0, -2.0, 1.5, 0.3])
    res = cert.relu_polar(z, X, n_grid=50000)
    assert res.method == "lipschitz" and res.lower <= res.upper
    with pytest.raises(ValueError, match="general position"):
        cert.relu_polar(z, X, method="arrangement")


def test_certify_relu_status_follows_the_bounds():
    g = np.random.default_rng(5)
    X = np.column_stack([g.normal(size=(25, 3)), np.ones(25)])
    y = g.normal(size=25)
    a0, W0 = np.zeros(1), np.zeros((1, 4))
    pol = cert.relu_polar(y, X, method="lipschitz", n_grid=2000)
    assert pol.lower < pol.upper
    for lam, status in ((0.5 * pol.lower, "not certified"), (2.0 * pol.upper, "certified"),
                        ((pol.lower + pol.upper) / 2, "undecided")):
        c = cert.certify_relu(X, y, a0, W0, lam, method="lipschitz", n_grid=2000)
        assert c.status == status and c.certified == (status == "certified")
    # the zero network with lam above the polar is the global minimiser: the proven gap is 0
    assert cert.certify_relu(X, y, a0, W0, 2.0 * pol.upper).gap == pytest.approx(0.0, abs=1e-15)


def test_grow_relu_network_certifies_a_planted_unit():
    g = np.random.default_rng(7)
    x = g.uniform(-1, 1, (60, 2))
    X = np.column_stack([x, np.ones(60)])
    y = cert.relu_net(X, np.array([1.5]), np.array([[1.0, -0.5, 0.2]]))
    res = cert.grow_relu_network(X, y, lam=0.05, seed=0, n_grid=5000)
    assert res.certified and res.certificate.polar_upper <= 1.001
    assert res.certificate.gap < 5e-3


def test_relu_net_is_homogeneous_of_degree_two():
    g = np.random.default_rng(8)
    X, a, W = g.normal(size=(20, 3)), g.normal(size=4), g.normal(size=(4, 3))
    assert np.allclose(cert.relu_net(X, 3.0 * a, 3.0 * W), 9.0 * cert.relu_net(X, a, W))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: cert.polar(np.ones((2, 2)), ("l3", "l2")), "norms must be one of"),
        (lambda: cert.tensor_norm(np.ones((2, 2)), "nuclear"), "norms must be one of"),
        (lambda: cert.certify(np.ones((3, 3)), (np.ones((3, 1)), np.ones((3, 1))), 0.0), "lam must be > 0"),
        (lambda: cert.certify(np.ones((3, 3)), (np.ones((2, 1)), np.ones((3, 1))), 1.0), "U and V must"),
        (lambda: cert.grow_rank(np.ones((3, 3)), -1.0, seed=0), "lam must be"),
        (lambda: cert.grow_relu_network(np.ones((4, 3)), np.ones(3), 1.0, seed=0), "y must have shape"),
        (lambda: cert.relu_polar(np.ones(4), np.ones((4, 5)), method="arrangement"), "2 or 3 columns"),
        (lambda: cert.relu_polar(np.ones(4), np.ones((4, 1))), "at least 2 columns"),
        (lambda: cert.relu_polar(np.ones(4), np.ones((4, 3)), method="grid"), "method must be"),
        (lambda: cert.relu_polar(np.ones(3), np.ones((4, 3))), "z must have shape"),
        (lambda: cert.certify_relu(np.ones((4, 3)), np.ones(4), np.ones(1), np.ones((1, 3)), 1.0, tol=-1),
         "tol must be"),
    ],
)
def test_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        # before the shared validator: a silently broadcast product, and float("x") without a name
        (lambda: cert.relu_net(np.ones((4, 3)), np.ones(2), np.ones((3, 3))), ValueError, r"a must have shape \(3,\)"),
        (lambda: cert.relu_net(np.ones((4, 3)), np.ones(3), np.ones((3, 2))), ValueError, "W must have 3 columns"),
        (lambda: cert.certify_relu(np.ones((4, 3)), np.ones(4), np.ones(1), np.ones((1, 3)), "1"), TypeError,
         "lam must be a real number"),
        (lambda: cert.certify_relu(np.ones((4, 3)), np.ones(4), np.ones(1), np.ones((1, 3)), 1.0, tol="x"),
         TypeError, "tol must be a real number"),
        (lambda: cert.certify_relu(np.ones((4, 3)), np.ones(4), np.ones(2), np.ones((1, 3)), 1.0), ValueError,
         "a must have shape"),
    ],
)
def test_relu_parameters_are_validated(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_numpy_scalars_are_accepted_as_lam():
    X = np.column_stack([np.linspace(-1, 1, 9), np.ones(9)])
    y = np.maximum(X[:, 0], 0.0)
    a, W = np.zeros(1), np.zeros((1, 2))
    ref = cert.certify_relu(X, y, a, W, lam=1)
    got = cert.certify_relu(X, y, a, W, lam=np.int64(1))
    assert got.status == ref.status and got.polar_upper == ref.polar_upper


def test_add_polar_column_decreases_the_objective_only_when_the_polar_exceeds_one():
    from tensordl.factorization import factorized_objective

    g = np.random.default_rng(5)
    Y = g.normal(size=(6, 5))
    mask = g.random((6, 5)) < 0.7
    U, V = np.zeros((6, 0)), np.zeros((5, 0))
    lam = 0.5 * np.linalg.norm(Y * mask, 2)  # polar 2 at the origin
    U1, V1 = cert.add_polar_column(Y, U, V, lam, mask=mask)
    assert U1.shape == (6, 1) and V1.shape == (5, 1)
    assert factorized_objective(Y, U1, V1, lam, mask) < factorized_objective(Y, U, V, lam, mask)
    # exact line search: b = (u^T R v - lam) / |P(uv^T)|^2, so the gradient in b vanishes
    R = Y * mask
    b = float(np.linalg.norm(U1) * np.linalg.norm(V1))
    D = np.outer(U1[:, 0], V1[:, 0]) / b
    assert abs(-np.sum(R * D) + b * np.sum((D * mask) ** 2) + lam) < 1e-10
    # polar below 1: nothing to add
    U2, V2 = cert.add_polar_column(Y, U, V, 2.0 * np.linalg.norm(Y, 2))
    assert np.all(U2 == 0) and np.all(V2 == 0)


def test_polar_power_finds_sigma_1_and_a_lower_bound_on_the_cp_polar():
    g = np.random.default_rng(6)
    Z = g.normal(size=(7, 5))
    val, ok = cert.polar_power(Z, seed=1)
    assert ok and abs(val - np.linalg.norm(Z, 2)) < 1e-10 * val
    # a rank-one tensor: the polar is its norm, and the power method reaches it
    a, b, c = (x / np.linalg.norm(x) for x in g.normal(size=(3, 4)))
    T = 3.0 * np.einsum("i,j,k->ijk", a, b, c)
    val, ok = cert.polar_power(T, seed=2)
    assert ok and abs(val - 3.0) < 1e-10
    # a random tensor: never above the best rank-one value found from many starts
    T = g.normal(size=(4, 4, 4))
    vals = [cert.polar_power(T, seed=s)[0] for s in range(20)]
    unfold_bound = np.linalg.norm(T.reshape(4, 16), 2)  # sup over unit u and unit (v w)
    assert max(vals) <= unfold_bound + 1e-12
    assert cert.polar_power(T, seed=3) == cert.polar_power(T, seed=3)


def test_polar_power_reports_non_convergence_and_bad_input():
    val, ok = cert.polar_power(np.random.default_rng(0).normal(size=(5, 5, 5)), seed=0, max_iter=1)
    assert not ok and val > 0
    with pytest.raises(ValueError, match="order 2 or 3"):
        cert.polar_power(np.ones(3), seed=0)
    with pytest.raises(ValueError, match="order 2 or 3"):
        cert.polar_power(np.full((2, 2), np.nan), seed=0)


def test_optimality_violation_zero_at_svt_one_at_x_equals_y():
    g = np.random.default_rng(2)
    Y = g.normal(size=(9, 7))
    lam = 1.5
    X = fz.svt(Y, lam)
    viol, opn = cert.optimality_violation(Y, X, lam)
    assert viol < 1e-12 and opn <= 1 + 1e-12
    viol, opn = cert.optimality_violation(Y, Y, lam)
    assert abs(viol - 1.0) < 1e-12 and opn == 0.0  # the bound alone would accept X = Y
    # masked: APG's answer satisfies it, a perturbed one does not
    M = g.random(Y.shape) < 0.6
    Xm = fz.solve_convex(Y, 0.5, mask=M, method="apg", max_iter=20000, tol=1e-13)
    assert cert.optimality_violation(Y, Xm, 0.5, M)[0] < 1e-6
    assert cert.optimality_violation(Y, 1.1 * Xm, 0.5, M)[0] > 1e-2
    with pytest.raises(ValueError, match="lam"):
        cert.optimality_violation(Y, X, 0.0)
