"""Tests of tensordl.spinglass: energies against einsum, derivatives, descent, complexity closed forms."""

import itertools
import math

import numpy as np
import pytest

from tensordl import spinglass as sg


def on_sphere(B, n, seed):
    W = np.random.default_rng(seed).standard_normal((B, n))
    return W * np.sqrt(n) / np.linalg.norm(W, axis=1, keepdims=True)


@pytest.mark.parametrize("H", [2, 3, 4])
def test_energy_against_einsum_of_unsymmetrised_Z(H):
    n = 6
    glass = sg.SphericalSpinGlass(n, H, seed=0)
    W = on_sphere(5, n, 1)
    letters = "abcd"[:H]
    ref = [np.einsum(",".join(letters) + "," + letters + "->", *([w] * H), glass.Z) for w in W]
    assert np.allclose(glass.energy(W), n ** (-(H - 1) / 2) * np.array(ref), rtol=1e-12)


def test_symmetrised_tensor_is_symmetric():
    J = sg.SphericalSpinGlass(5, 3, seed=2).J
    for p in itertools.permutations(range(3)):
        assert np.allclose(np.transpose(J, p), J)


@pytest.mark.parametrize("H", [2, 3])
def test_gradient_and_hessian_by_finite_differences_on_the_sphere(H):
    n = 7
    glass = sg.SphericalSpinGlass(n, H, seed=3, field=0.3)
    w = on_sphere(1, n, 4)[0]
    G = glass.grad(w[None])[0]
    assert abs(G @ w) < 1e-10 * np.linalg.norm(G) * np.sqrt(n)  # tangent
    P = np.linalg.qr(np.column_stack([w, np.eye(n)[:, :-1]]))[0][:, 1:]  # tangent basis

    def along(t, v):  # geodesic through w with unit tangent v
        return (np.cos(t / np.sqrt(n)) * w + np.sqrt(n) * np.sin(t / np.sqrt(n)) * v)[None]

    Hm = glass.hessian(w)
    h = 1e-4
    for j in range(3):
        v = P[:, j]
        d1 = (glass.energy(along(h, v))[0] - glass.energy(along(-h, v))[0]) / (2 * h)
        d2 = (glass.energy(along(h, v))[0] - 2 * glass.energy(w[None])[0] + glass.energy(along(-h, v))[0]) / h**2
        assert d1 == pytest.approx(G @ v, rel=1e-6, abs=1e-8)
        assert d2 == pytest.approx(v @ Hm @ v, rel=1e-4, abs=1e-6)


def test_covariance_of_the_hamiltonian():
    n, H = 5, 3
    w = on_sphere(1, n, 5)
    w2 = on_sphere(1, n, 6)
    vals = np.array([[sg.SphericalSpinGlass(n, H, seed=s).energy(x)[0] for x in (w, w2)] for s in range(4000)])
    q = float((w @ w2.T)[0, 0]) / n
    assert np.mean(vals[:, 0] ** 2) == pytest.approx(n, rel=0.07)
    assert np.mean(vals[:, 0] * vals[:, 1]) == pytest.approx(n * q**H, abs=0.07 * n)


def test_descent_ends_at_minima_and_is_deterministic():
    glass = sg.SphericalSpinGlass(15, 3, seed=7)
    a = sg.descend(glass, n_restarts=6, seed=1)
    b = sg.descend(glass, n_restarts=6, seed=1)
    assert np.array_equal(a.W, b.W)
    assert a.converged.all() and np.all(a.grad_norm < 1e-6)
    assert np.allclose(np.sum(a.W**2, axis=1), 15)
    assert np.all(sg.hessian_index(glass, a.W) == 0)


def test_descent_reports_non_convergence():
    glass = sg.SphericalSpinGlass(15, 3, seed=8)
    res = sg.descend(glass, n_restarts=3, seed=0, max_iter=2)
    assert not res.converged.any() and np.all(res.n_iter == 2)


def test_newton_finds_critical_points_of_several_indices():
    glass = sg.SphericalSpinGlass(12, 3, seed=10)
    res = sg.newton_critical(glass, on_sphere(40, 12, 11), tol=1e-10, max_iter=200)
    assert res.converged.mean() > 0.8
    W = res.W[res.converged]
    assert np.allclose(np.sum(W**2, axis=1), 12)
    assert np.all(np.linalg.norm(glass.grad(W), axis=1) / np.sqrt(12) < 1e-10)
    assert len(set(sg.hessian_index(glass, W).tolist())) >= 3  # not only minima: saddles of several indices


def test_newton_stays_at_a_minimum_and_reports_non_convergence():
    glass = sg.SphericalSpinGlass(10, 3, seed=12)
    m = sg.descend(glass, n_restarts=3, seed=0, tol=1e-9)
    res = sg.newton_critical(glass, m.W, tol=1e-8)
    assert np.allclose(res.W, m.W, atol=1e-6) and np.all(res.n_iter <= 1)
    stuck = sg.newton_critical(glass, on_sphere(3, 10, 1), tol=1e-14, max_iter=1)
    assert not stuck.converged.any() and np.all(stuck.n_iter == 1)
    with pytest.raises(ValueError, match="tol and max_step must be > 0"):
        sg.newton_critical(glass, m.W, tol=0)
    with pytest.raises(ValueError, match="W must lie on the sphere"):
        sg.newton_critical(glass, 2 * m.W)


def test_threshold_and_ground_state_energies():
    assert sg.threshold_energy(3) == pytest.approx(2 * math.sqrt(2 / 3))
    assert sg.ground_state_energy(3) == pytest.approx(1.656998, abs=1e-6)
    E = [sg.band_energy(3, k) for k in range(5)]
    assert all(a > b for a, b in zip(E, E[1:])) and E[-1] > sg.threshold_energy(3)


def test_complexity_is_continuous_at_the_threshold_and_zero_at_the_bands():
    Einf = sg.threshold_energy(3)
    assert sg.complexity(-Einf - 1e-12, 3) == pytest.approx(sg.complexity(-Einf + 1e-12, 3), abs=1e-6)
    for k in range(3):
        assert sg.complexity(-sg.band_energy(3, k), 3, k) == pytest.approx(0.0, abs=1e-10)
    assert sg.complexity(0.3, 3) == pytest.approx(0.5 * math.log(2))


def test_complexity_of_minima_at_the_threshold_is_the_closed_form():
    """Theta_{0,3}(-E_inf) = 1/2 log 2 - E_inf^2 / 8 (= 1/2 log 2 - 1/3), quoted by chapter 6."""
    Einf = sg.threshold_energy(3)
    value = sg.complexity(-Einf - 1e-12, 3, 0)
    assert value == pytest.approx(0.5 * math.log(2) - Einf**2 / 8, abs=1e-9)
    assert value == pytest.approx(0.5 * math.log(2) - 1 / 3, abs=1e-9)
    assert sg.complexity(-Einf + 1e-3, 3, 0) == pytest.approx(value, abs=1e-9)  # flat above


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sg.SphericalSpinGlass(1, 3, seed=0), "n must be at least 2"),
        (lambda: sg.SphericalSpinGlass(5, 1, seed=0), "H must be at least 2"),
        (lambda: sg.SphericalSpinGlass(5, 3, seed=0).energy(np.ones((1, 5)) * 2), "W must lie on the sphere"),
        (lambda: sg.SphericalSpinGlass(5, 3, seed=0).energy(np.ones((1, 4))), "W must have 5 columns"),
        (lambda: sg.SphericalSpinGlass(5, 3, seed=0, field=float("nan")), "field must be finite"),
        (lambda: sg.complexity(float("inf"), 3), "u must be finite"),
        (lambda: sg.threshold_energy(2), "H must be at least 3"),
        (lambda: sg.SphericalSpinGlass(1000, 3, seed=0), "MAX_ENTRIES"),
    ],
)
def test_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_torch_path_matches_numpy_on_cpu():
    glass = sg.SphericalSpinGlass(12, 3, seed=9)
    a = sg.descend(glass, n_restarts=5, seed=2)
    b = sg.descend(glass, n_restarts=5, seed=2, device="cpu")
    assert np.allclose(a.W, b.W, atol=1e-6) and np.array_equal(a.converged, b.converged)
    assert np.allclose(a.energy, b.energy, rtol=1e-9)
