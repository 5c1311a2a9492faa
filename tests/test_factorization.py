"""Tests of tensordl.factorization: closed forms, solver agreement, convergence reporting, errors."""

import warnings

import numpy as np
import pytest

from tensordl import data
from tensordl import factorization as fz
from tensordl.factorization import ConvergenceWarning


def planted(m, n, rank, noise, seed):
    return data.low_rank_plus_noise(m, n, rank, noise, seed)[0]


def test_nuclear_norm_closed_forms():
    assert fz.nuclear_norm(np.diag([3.0, -4.0, 0.5])) == pytest.approx(7.5)
    u, v = np.array([1.0, 2.0, 2.0]), np.array([3.0, 4.0])
    assert fz.nuclear_norm(np.outer(u, v)) == pytest.approx(np.linalg.norm(u) * np.linalg.norm(v))


def test_svt_is_the_prox_of_the_nuclear_norm():
    Y = planted(20, 15, 3, 0.3, 0)
    tau = 2.0
    X = fz.svt(Y, tau)
    base = fz.convex_objective(Y, X, tau)
    g = np.random.default_rng(1)
    for _ in range(50):  # any perturbation increases the strictly convex objective
        D = g.normal(size=Y.shape) * 10.0 ** g.uniform(-4, 0)
        assert fz.convex_objective(Y, X + D, tau) > base
    assert np.linalg.norm(Y - X, 2) <= tau * (1 + 1e-12)  # subgradient condition


def test_svt_partial_equals_full():
    Y = planted(200, 150, 8, 1.0, 2)
    tau = 1.2 * (np.sqrt(200) + np.sqrt(150))
    full = fz.svt(Y, tau)
    partial = fz.svt(Y, tau, rank_hint=8)
    assert np.linalg.matrix_rank(full, 1e-8) == 8
    assert np.abs(partial - full).max() <= 1e-10 * np.abs(full).max()
    # a too-small hint is doubled until the threshold is crossed
    assert np.abs(fz.svt(Y, tau, rank_hint=2) - full).max() <= 1e-10 * np.abs(full).max()


def test_balanced_factors_attain_the_variational_principle():
    X = planted(12, 9, 4, 0.0, 3)
    U, V = fz.balanced_factors(X)
    assert U.shape == (12, 4) and V.shape == (9, 4)
    assert np.allclose(U @ V.T, X, atol=1e-12)
    assert 0.5 * (np.sum(U**2) + np.sum(V**2)) == pytest.approx(fz.nuclear_norm(X), rel=1e-12)
    M = np.random.default_rng(4).normal(size=(4, 4)) + 2 * np.eye(4)
    assert 0.5 * (np.sum((U @ M) ** 2) + np.sum((V @ np.linalg.inv(M).T) ** 2)) > fz.nuclear_norm(X)


def test_apg_matches_svt_and_reports_iterations():
    Y = planted(30, 20, 3, 0.5, 5)
    X, info = fz.solve_convex(Y, 1.5, method="apg", return_info=True)
    assert info.converged and info.n_iter >= 1
    assert np.allclose(X, fz.svt(Y, 1.5), atol=1e-10)


def test_factorized_reaches_convex_optimum_full_and_masked():
    Y = planted(30, 25, 3, 0.3, 6)
    lam = 2.0
    Xc = fz.solve_convex(Y, lam)
    r = np.linalg.matrix_rank(Xc, 1e-9) + 2
    U, V, info = fz.solve_factorized(Y, lam, r=r, seed=0, return_info=True, tol=1e-15, max_iter=20000)
    assert info.converged
    assert fz.factorized_objective(Y, U, V, lam) == pytest.approx(fz.convex_objective(Y, Xc, lam), rel=1e-9)
    mask = np.random.default_rng(7).random(Y.shape) < 0.6
    Xm = fz.solve_convex(Y, 1.0, mask=mask, method="apg", max_iter=5000, tol=1e-13)
    rm = np.linalg.matrix_rank(Xm, 1e-8) + 2
    Um, Vm = fz.solve_factorized(Y, 1.0, r=rm, seed=1, mask=mask, tol=1e-15, max_iter=20000)
    assert fz.factorized_objective(Y, Um, Vm, 1.0, mask) == pytest.approx(
        fz.convex_objective(Y, Xm, 1.0, mask), rel=1e-7
    )


def test_masked_ridge_matches_row_by_row_solution():
    g = np.random.default_rng(8)
    Y, V = g.normal(size=(7, 5)), g.normal(size=(5, 3))
    mask = g.random((7, 5)) < 0.7
    fast = fz._ridge_rows(Y, V, 0.3, mask)
    for i in range(7):
        Vi = V[mask[i]]
        slow = np.linalg.solve(Vi.T @ Vi + 0.3 * np.eye(3), Vi.T @ Y[i, mask[i]])
        assert np.allclose(fast[i], slow, atol=1e-12)


def test_gradient_descent_finds_eckart_young_error():
    Y = planted(25, 20, 3, 0.2, 9)
    s = np.linalg.svd(Y, compute_uv=False)
    _, _, err = fz.factorize_gd(Y, 3, seed=0, n_iter=4000)
    assert err[-1] == pytest.approx(np.sqrt(np.sum(s[3:] ** 2)), rel=1e-6)
    assert np.all(np.diff(err) <= 1e-9 * err[0])  # monotone at this step size


def test_same_seed_same_factors():
    Y = planted(10, 8, 2, 0.1, 10)
    a = fz.solve_factorized(Y, 0.5, r=3, seed=11)
    b = fz.solve_factorized(Y, 0.5, r=3, seed=11)
    c = fz.solve_factorized(Y, 0.5, r=3, seed=12)
    assert np.array_equal(a[0], b[0]) and not np.array_equal(a[0], c[0])


def test_non_convergence_is_reported():
    Y = planted(30, 20, 3, 0.5, 13)
    mask = np.random.default_rng(14).random(Y.shape) < 0.5
    with pytest.warns(ConvergenceWarning, match="solve_factorized"):
        *_, info = fz.solve_factorized(Y, 0.1, r=5, seed=0, mask=mask, max_iter=2, return_info=True)
    assert not info.converged and info.n_iter == 2
    with pytest.warns(ConvergenceWarning, match="solve_convex"):
        _, info = fz.solve_convex(Y, 0.1, mask=mask, method="apg", max_iter=3, return_info=True)
    assert not info.converged


def test_no_warning_when_converged():
    Y = planted(10, 8, 2, 0.1, 15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fz.solve_factorized(Y, 0.5, r=3, seed=0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: fz.svt(np.ones((3, 3)), -1.0), "lam must be"),
        (lambda: fz.solve_convex(np.ones((3, 3)), float("nan")), "lam must be"),
        (lambda: fz.solve_convex(np.array([[np.inf, 1.0]]), 1.0), "Y must contain only finite"),
        (lambda: fz.solve_factorized(np.ones((3, 3)), 1.0, r=0, seed=0), "r must be at least 1"),
        (lambda: fz.solve_factorized(np.ones((3, 3)), 1.0, r=2, seed=0, init=(np.ones((3, 1)), np.ones((3, 1)))),
         "init factors must have r = 2"),
        (lambda: fz.factorized_objective(np.ones((3, 3)), np.ones((2, 1)), np.ones((3, 1)), 1.0), "U and V must"),
        (lambda: fz.solve_convex(np.ones((3, 3)), 1.0, mask=np.ones((2, 2), bool)), "mask must be a boolean"),
        (lambda: fz.solve_convex(np.ones((3, 3)), 1.0, mask=np.ones((3, 3), bool), method="svt"), "closed form"),
        (lambda: fz.solve_convex(np.ones((3, 3)), 1.0, method="newton"), "method must be one of"),
        (lambda: fz.convex_objective(np.ones((3, 3)), np.ones((2, 3)), 1.0), "X must have the shape"),
        (lambda: fz.nuclear_norm(np.ones(3)), "X must be a 2-D array"),
    ],
)
def test_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_numpy_integer_lam_is_a_number():
    # np.int64 was rejected ("lam must be a finite number") before the shared validator
    Y = np.arange(12.0).reshape(3, 4)
    assert np.array_equal(fz.svt(Y, np.int64(2)), fz.svt(Y, 2.0))
    with pytest.raises(TypeError, match="lam must be a real number"):
        fz.svt(Y, "2")


def test_factorized_hessian_matches_autograd_and_finite_differences():
    torch = pytest.importorskip("torch")
    g = np.random.default_rng(3)
    Y, U, V = g.normal(size=(5, 4)), g.normal(size=(5, 2)), g.normal(size=(4, 2))
    mask = g.random((5, 4)) < 0.6
    lam = 0.3
    H = fz.factorized_hessian(Y, U, V, lam, mask=mask)
    Yt, Mt = torch.tensor(Y), torch.tensor(mask, dtype=torch.float64)

    def f(th):
        Ut, Vt = th[:10].reshape(5, 2), th[10:].reshape(4, 2)
        return 0.5 * ((Mt * (Yt - Ut @ Vt.T)) ** 2).sum() + 0.5 * lam * (th**2).sum()

    th = torch.tensor(np.concatenate([U.ravel(), V.ravel()]))
    ref = torch.autograd.functional.hessian(f, th).numpy()
    np.testing.assert_allclose(H, ref, atol=1e-12)
    np.testing.assert_allclose(H, H.T)
    # no mask: the same as an all-true mask
    np.testing.assert_allclose(
        fz.factorized_hessian(Y, U, V, lam), fz.factorized_hessian(Y, U, V, lam, mask=np.ones((5, 4), bool))
    )


def test_factorized_hessian_zero_column_block_is_lam_minus_singular_values():
    # at a padded zero column the block [[lam I, -R], [-R^T, lam I]] has smallest
    # eigenvalue lam - sigma_1(R)
    g = np.random.default_rng(4)
    Y = g.normal(size=(4, 3))
    U, V = np.zeros((4, 1)), np.zeros((3, 1))
    eig = np.linalg.eigvalsh(fz.factorized_hessian(Y, U, V, 0.2))
    assert abs(eig[0] - (0.2 - np.linalg.norm(Y, 2))) < 1e-12


def test_factorized_hessian_errors():
    with pytest.raises(ValueError, match="U and V"):
        fz.factorized_hessian(np.ones((3, 2)), np.ones((2, 1)), np.ones((2, 1)), 0.1)
    with pytest.raises(ValueError, match="lam"):
        fz.factorized_hessian(np.ones((2, 2)), np.ones((2, 1)), np.ones((2, 1)), -1.0)
    with pytest.raises(ValueError, match="mask"):
        fz.factorized_hessian(np.ones((2, 2)), np.ones((2, 1)), np.ones((2, 1)), 0.1, mask=np.ones((3, 3)))


def test_factorized_gradient_matches_finite_differences():
    g = np.random.default_rng(7)
    Y, U, V = g.normal(size=(4, 3)), g.normal(size=(4, 2)), g.normal(size=(3, 2))
    mask = g.random((4, 3)) < 0.7
    lam = 0.4

    def f(U, V):
        return 0.5 * np.sum((mask * (Y - U @ V.T)) ** 2) + 0.5 * lam * (np.sum(U**2) + np.sum(V**2))

    gU, gV = fz.factorized_gradient(Y, U, V, lam, mask=mask)
    h = 1e-6
    E = np.zeros_like(U)
    E[1, 0] = h
    assert abs((f(U + E, V) - f(U - E, V)) / (2 * h) - gU[1, 0]) < 1e-6
    E = np.zeros_like(V)
    E[2, 1] = h
    assert abs((f(U, V + E) - f(U, V - E)) / (2 * h) - gV[2, 1]) < 1e-6


def test_variational_norm_is_the_nuclear_norm_without_its_closed_form():
    g = np.random.default_rng(8)
    X = g.normal(size=(6, 2)) @ g.normal(size=(2, 5))
    val = fz.variational_norm(X, seed=0)
    assert abs(val - fz.nuclear_norm(X)) < 1e-6 * fz.nuclear_norm(X)
    assert fz.variational_norm(X, seed=1) == fz.variational_norm(X, seed=1)
    with pytest.raises(ValueError, match="rho"):
        fz.variational_norm(X, seed=0, rho=-1.0)


def test_gd_start_is_the_start_of_factorize_gd():
    Y = planted(12, 9, 2, 0.1, 3)
    U0, V0 = fz.gd_start(Y, 3, seed=5)
    lr = 0.2 / np.linalg.norm(Y, 2)
    R = Y - U0 @ V0.T
    U1, V1, err = fz.factorize_gd(Y, 3, seed=5, n_iter=1)
    np.testing.assert_allclose(U1, U0 + lr * R @ V0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(V1, V0 + lr * R.T @ U0, rtol=0, atol=1e-15)
    assert err[0] == np.linalg.norm(R)


def test_mode_dynamics_is_gradient_descent_on_a_rank_one_mode():
    # a rank-one Y with a balanced rank-one start along its singular pair is one mode
    u, v = np.array([0.6, 0.8]), np.array([1.0, 0.0, 0.0])
    sigma, c0, lr = 2.0, 1e-4, 0.05
    U, V = np.sqrt(c0) * u[:, None], np.sqrt(c0) * v[:, None]
    Y = sigma * np.outer(u, v)
    c = fz.mode_dynamics(sigma, c0, lr, 50)
    for t in range(50):
        R = Y - U @ V.T
        U, V = U + lr * R @ V, V + lr * R.T @ U
        assert abs(float(u @ U @ V.T @ v) - c[t + 1]) < 1e-12
    # continuous-time limit: half of sigma after log(sigma / c0) / (2 sigma) time units
    c = fz.mode_dynamics(sigma, c0, 1e-4, 40000)
    t_half = np.argmax(c >= sigma / 2) * 1e-4
    assert abs(t_half - np.log(sigma / c0 - 1) / (2 * sigma)) < 1e-3
    with pytest.raises(ValueError, match="lr"):
        fz.mode_dynamics(1.0, 1e-3, 0.0, 10)


def test_factorized_gradient_and_hessian_match_finite_differences():
    g = np.random.default_rng(7)
    Y = g.normal(size=(5, 4))
    M = g.random((5, 4)) < 0.6
    U, V = g.normal(size=(5, 2)), g.normal(size=(4, 2))
    lam, h = 0.3, 1e-6
    z = np.concatenate([U.ravel(), V.ravel()])

    def f(z):
        return fz.factorized_objective(Y, z[:10].reshape(5, 2), z[10:].reshape(4, 2), lam, M)

    def grad(z):
        gU, gV = fz.factorized_gradient(Y, z[:10].reshape(5, 2), z[10:].reshape(4, 2), lam, M)
        return np.concatenate([gU.ravel(), gV.ravel()])

    fd = np.array([(f(z + h * e) - f(z - h * e)) / (2 * h) for e in np.eye(z.size)])
    np.testing.assert_allclose(grad(z), fd, atol=1e-6)
    H = fz.factorized_hessian(Y, U, V, lam, M)
    H_fd = np.array([(grad(z + h * e) - grad(z - h * e)) / (2 * h) for e in np.eye(z.size)])
    np.testing.assert_allclose(H, H_fd, atol=1e-6)
    np.testing.assert_array_equal(H, H.T)


def test_hessian_at_the_optimum_is_positive_semidefinite_with_the_rotation_null():
    Y = planted(8, 6, 2, 0.0, 4)
    U, V = fz.solve_factorized(Y, 0.1, r=2, seed=0, tol=1e-15, max_iter=20000)
    ev = np.linalg.eigvalsh(fz.factorized_hessian(Y, U, V, 0.1))
    assert ev[0] > -1e-8 and abs(ev[0]) < 1e-6 and ev[1] > 1e-4  # one rotation direction


def test_every_non_convergence_warning_points_at_the_callers_line():
    """One way to warn (_checks.warn_not_converged): the warning names the line that called the solver."""
    import itertools

    from tensordl import certificates as cert
    from tensordl import data
    from tensordl import decomposition as dec
    from tensordl import spinglass as sg

    Y = planted(30, 20, 3, 0.5, 13)
    mask = np.random.default_rng(14).random(Y.shape) < 0.5
    T = np.random.default_rng(0).standard_normal((4, 4, 4))
    T = sum(T.transpose(p) for p in itertools.permutations(range(3))) / 6
    glass = sg.SphericalSpinGlass(10, 3, seed=12)
    glass_starts = data.sphere_points(3, 10, seed=1, radius=np.sqrt(10))
    calls = [
        lambda: fz.solve_factorized(Y, 0.1, r=5, seed=0, mask=mask, max_iter=2),
        lambda: fz.solve_convex(Y, 0.1, mask=mask, method="apg", max_iter=3),
        lambda: dec.tensor_power_method(T, 2, n_restarts=3, n_iter=1, seed=0),
        lambda: dec.simultaneous_power_method(T, 2, n_iter=1, seed=0),
        lambda: cert.grow_rank(Y, lam=0.1, seed=0, max_rank=1),
        lambda: sg.descend(glass, 3, seed=0, max_iter=2),
        lambda: sg.anneal(glass, [1.0], 3, seed=0, stage_iter=2, max_iter=2),
        lambda: sg.newton_critical(glass, glass_starts, tol=1e-14, max_iter=1),
    ]
    for call in calls:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        ours = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
        assert ours, call
        assert all(w.filename == __file__ for w in ours), [(w.filename, str(w.message)) for w in ours]
