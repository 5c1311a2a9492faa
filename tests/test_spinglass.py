"""Tests of tensordl.spinglass: energies against einsum, derivatives, descent, complexity closed forms."""

import itertools
import math
import warnings

import numpy as np
import pytest

from tensordl import data
from tensordl import spinglass as sg


def on_sphere(B, n, seed):
    return data.sphere_points(B, n, seed, radius=np.sqrt(n))


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
    message = r"descend: 3 of 3 restarts did not reach tol = 1e-06 within 2 steps \(max_iter\)"
    with pytest.warns(sg.ConvergenceWarning, match=message):
        res = sg.descend(glass, n_restarts=3, seed=0, max_iter=2)
    assert not res.converged.any() and np.all(res.n_iter == 2)
    with pytest.warns(sg.ConvergenceWarning, match=r"anneal: 3 of 3 restarts .* final stage's 2 steps"):
        res = sg.anneal(glass, [1.0], n_restarts=3, seed=0, stage_iter=2, max_iter=2)
    assert not res.converged.any()


@pytest.mark.parametrize(
    "kw, exc, match",
    [({"tol": 0}, ValueError, "tol must be"), ({"tol": "x"}, TypeError, "tol"),
     ({"max_iter": 0}, ValueError, "max_iter must be"), ({"max_iter": 1.5}, (TypeError, ValueError), "max_iter")],
)
def test_anneal_validates_tol_and_max_iter_before_any_stage(kw, exc, match, monkeypatch):
    glass = sg.SphericalSpinGlass(8, 3, seed=0)
    monkeypatch.setattr(sg.SphericalSpinGlass, "euclidean_grad", lambda *a: pytest.fail("a stage ran"))
    with pytest.raises(exc, match=match):
        sg.anneal(glass, [1.0], n_restarts=2, seed=0, **kw)


def test_no_warning_when_every_run_converges():
    glass = sg.SphericalSpinGlass(15, 3, seed=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", sg.ConvergenceWarning)
        assert sg.descend(glass, n_restarts=3, seed=0).converged.all()
        assert sg.anneal(glass, [1.0], n_restarts=3, seed=0).converged.all()


def test_newton_finds_critical_points_of_several_indices():
    glass = sg.SphericalSpinGlass(12, 3, seed=10)
    with warnings.catch_warnings():  # the starts that do not converge are flagged: counted here
        warnings.simplefilter("ignore", sg.ConvergenceWarning)
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
    with pytest.warns(sg.ConvergenceWarning, match="newton_critical: 3 of 3 starts"):
        stuck = sg.newton_critical(glass, on_sphere(3, 10, 1), tol=1e-14, max_iter=1)
    assert not stuck.converged.any() and np.all(stuck.n_iter == 1)
    with pytest.raises(ValueError, match="tol must be a finite number > 0"):
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
        (lambda: sg.goe_eigenvalue(5, 5, 10, seed=0), "k must be < n"),
        (lambda: sg.goe_eigenvalue(5, -1, 10, seed=0), "k must be at least 0"),
        (lambda: sg.expected_critical_points(5, 3, u_max=float("nan")), "u_max must be finite"),
        (lambda: sg.critical_energy_density(5, 3, [0.0, -1.0]), "bins must be an increasing"),
        (lambda: sg.anneal(sg.SphericalSpinGlass(5, 3, seed=0), [0.5, 1.0], 2, seed=0), "decreasing"),
        (lambda: sg.anneal(sg.SphericalSpinGlass(5, 3, seed=0), [1.0, 0.0], 2, seed=0), "fields must be"),
        (lambda: sg.anneal(sg.SphericalSpinGlass(5, 3, seed=0), [1.0], 2, seed=0, noise="x"), "noise must be"),
        (lambda: sg.descend(sg.SphericalSpinGlass(5, 3, seed=0), 3, 0, W0=on_sphere(2, 5, 0)), "W0 must have"),
    ],
)
def test_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("H", [2, 3, 4])
def test_torch_path_matches_numpy_on_cpu(H):
    glass = sg.SphericalSpinGlass(12 if H < 4 else 8, H, seed=9)
    a = sg.descend(glass, n_restarts=5, seed=2)
    b = sg.descend(glass, n_restarts=5, seed=2, device="cpu")
    assert np.allclose(a.W, b.W, atol=1e-6) and np.array_equal(a.converged, b.converged)
    assert np.allclose(a.energy, b.energy, rtol=1e-9)


def test_goe_eigenvalue_against_dense_eigendecomposition():
    """The tridiagonal model and bisection give the law of the (k+1)-th eigenvalue of a dense GOE."""
    import scipy.stats

    n, m = 12, 4000
    A = np.random.default_rng(5).standard_normal((m, n, n))
    dense = np.linalg.eigvalsh((A + A.transpose(0, 2, 1)) / 2 / np.sqrt(n))
    for k in (0, 3):
        fast = sg.goe_eigenvalue(n, k, m, seed=6)
        assert scipy.stats.ks_2samp(fast, dense[:, k]).pvalue > 1e-3
    # bisection resolves the eigenvalue itself: a 1 x 1 "GOE" is its own diagonal
    g = np.random.default_rng(7)
    assert np.allclose(sg.goe_eigenvalue(1, 0, 5, seed=7), g.standard_normal((1, 5))[0], atol=1e-12)
    assert np.array_equal(sg.goe_eigenvalue(8, 1, 50, seed=3), sg.goe_eigenvalue(8, 1, 50, seed=3))


@pytest.mark.parametrize("k", [0, 1])
def test_kac_rice_formula_against_the_direct_integral(k):
    """The n x n GOE form of the formula equals the Kac-Rice integral over the (n-1)-dimensional Hessian.

    With an (n-1) x (n-1) GOE in the formula instead, n = 5 gives 4.5-5.1 minima, not 4.0.
    """
    direct = sg.kac_rice_direct(5, 3, k, n_matrices=24000, seed=0)
    est = sg.expected_critical_points(5, 3, k, n_samples=100_000, seed=1)
    assert abs(direct.expected - est.expected) < 4 * math.hypot(direct.se, est.se)
    # the (n-1) x (n-1) GOE in the n x n form overcounts: the test can tell the two apart
    wrong = 2 * math.sqrt(2 / 3) * 2 ** (5 / 2) * np.mean(
        np.exp(-5 * sg.goe_eigenvalue(4, k, 100_000, seed=2) ** 2 / 6)
    )
    assert abs(direct.expected - wrong) > 4 * math.hypot(direct.se, est.se)


def test_kac_rice_minima_against_exhaustive_counting():
    """At n = 5 many descents find every minimum of a glass; their mean count is the formula's."""
    counts = []
    for i in range(80):
        glass = sg.SphericalSpinGlass(5, 3, seed=np.random.default_rng([11, i]))
        res = sg.descend(glass, 60, seed=i, tol=1e-7, max_iter=40000, lr=1 / 6)
        reps = []
        for w in res.W[res.converged]:
            if not any(w @ r / 5 > 0.999 for r in reps):
                reps.append(w)
        counts.append(len(reps))
    est = sg.expected_critical_points(5, 3, n_samples=100_000, seed=2)
    se = math.hypot(np.std(counts, ddof=1) / math.sqrt(len(counts)), est.se)
    assert abs(np.mean(counts) - est.expected) < 4 * se


def test_energy_density_and_counts_agree():
    bins = np.linspace(-4.0, 0.0, 201)
    dens = sg.critical_energy_density(10, 3, bins, n_samples=50_000, seed=4)
    total = sg.expected_critical_points(10, 3, n_samples=50_000, seed=4).expected
    below = sg.expected_critical_points(10, 3, u_max=bins[100], n_samples=50_000, seed=4).expected
    assert np.sum(dens * np.diff(bins)) == pytest.approx(1.0, abs=1e-3)  # no minimum above 0
    assert np.sum(dens[:100] * np.diff(bins)[:100]) * total == pytest.approx(below, rel=1e-9)


def test_minima_outnumber_index_one_below_the_threshold():
    """Theta_0 - Theta_1 = I_1 > 0 below -E_inf: at finite n, fewer index-1 saddles than minima there."""
    Einf = sg.threshold_energy(3)
    m0 = sg.expected_critical_points(40, 3, 0, u_max=-Einf, n_samples=50_000, seed=0)
    m1 = sg.expected_critical_points(40, 3, 1, u_max=-Einf, n_samples=50_000, seed=0)
    assert m1.expected + 4 * m1.se < m0.expected - 4 * m0.se


def test_index_law_and_semicircle():
    x = np.linspace(-1, 1, 20001)
    numeric = np.cumsum(2 / np.pi * np.sqrt(1 - x**2)) * (x[1] - x[0])
    assert np.allclose(sg.semicircle_cdf(x), numeric, atol=1e-3)
    Einf = sg.threshold_energy(3)
    assert sg.index_law(-Einf - 0.1, 30, 3) == 0.0 and sg.index_law(Einf, 30, 3) == pytest.approx(29.0)
    assert np.all(np.diff(sg.index_law(np.linspace(-2, 2, 50), 30, 3)) >= 0)


def test_hessian_spectrum_at_minima_is_a_shifted_semicircle():
    """Descent end points at n = 60: the tangent spectrum, centred at -H u and scaled, is a semicircle."""
    import scipy.stats

    n, H = 60, 3
    glass = sg.SphericalSpinGlass(n, H, seed=12)
    res = sg.descend(glass, 20, seed=13, tol=1e-7, max_iter=40000, lr=1 / 6)
    spec = sg.hessian_spectrum(glass, res.W)
    assert np.all(spec > 0) and np.array_equal(sg.hessian_index(glass, res.W), np.zeros(20, dtype=int))
    x = (spec + H * (res.energy / n)[:, None]) / (2 * math.sqrt(H * (H - 1)))
    ks = scipy.stats.kstest(x.ravel(), sg.semicircle_cdf).statistic
    unshifted = scipy.stats.kstest((spec / (2 * math.sqrt(H * (H - 1)))).ravel(), sg.semicircle_cdf).statistic
    assert ks < 0.05 < unshifted


def test_anneal_ends_at_minima_and_is_deterministic():
    glass = sg.SphericalSpinGlass(20, 3, seed=14)
    a = sg.anneal(glass, [2.0, 1.0, 0.5], n_restarts=6, seed=15)
    b = sg.anneal(glass, [2.0, 1.0, 0.5], n_restarts=6, seed=15)
    assert a.converged.all() and np.array_equal(a.W, b.W)
    assert np.array_equal(sg.hessian_index(glass, a.W), np.zeros(6, dtype=int))
    # a vanishing field is plain descent from the same starts (the starts are drawn first)
    weak = sg.anneal(glass, [1e-12], n_restarts=6, seed=15, stage_iter=1, tol=1e-8)
    plain = sg.descend(glass, 6, seed=15, tol=1e-8, max_iter=20000)
    assert np.allclose(weak.energy, plain.energy, rtol=1e-9, atol=1e-9)
    # a strong field moves each restart to the minimum its own field selects: other end points
    strong = sg.anneal(glass, [20.0], n_restarts=6, seed=15, stage_iter=4000)
    assert not np.allclose(strong.energy, plain.energy, atol=1e-6)
    # noise redrawn at every step: a different path, still to minima, and reproducible
    noisy = sg.anneal(glass, [1.0, 0.5], n_restarts=6, seed=15, stage_iter=200, noise="gradient")
    again = sg.anneal(glass, [1.0, 0.5], n_restarts=6, seed=15, stage_iter=200, noise="gradient")
    assert noisy.converged.all() and np.array_equal(noisy.W, again.W)
    assert not np.allclose(noisy.W, a.W)


def test_heavy_routines_run_blas_on_one_thread(monkeypatch):
    from threadpoolctl import threadpool_info

    seen = []
    original = sg.SphericalSpinGlass.grad

    def grad(self, W):
        seen.append({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
        return original(self, W)

    monkeypatch.setattr(sg.SphericalSpinGlass, "grad", grad)
    glass = sg.SphericalSpinGlass(8, 3, seed=0)
    with pytest.warns(sg.ConvergenceWarning):  # five steps: not converged, and said so
        sg.descend(glass, 2, seed=1, max_iter=5)
    assert seen and all(threads <= {1} for threads in seen)
    # the wrapper keeps the documented signature
    import inspect

    assert list(inspect.signature(sg.descend).parameters)[:3] == ["glass", "n_restarts", "seed"]


def _small():
    return sg.SphericalSpinGlass(5, 3, seed=0)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        # lr = 0 never moves and lr < 0 ascends: both were accepted before
        (lambda: sg.descend(_small(), 2, 0, lr=0.0), ValueError, "lr must be a finite number > 0"),
        (lambda: sg.descend(_small(), 2, 0, lr=-0.1), ValueError, "lr must be"),
        (lambda: sg.descend(_small(), 2, 0, lr="fast"), TypeError, "lr must be a real number"),
        (lambda: sg.descend(_small(), 2, 0, tol="x"), TypeError, "tol must be a real number"),
        (lambda: sg.anneal(_small(), [1.0], 2, seed=0, lr=0), ValueError, "lr must be"),
        (lambda: sg.newton_critical(_small(), on_sphere(2, 5, 0), max_step=0), ValueError,
         "max_step must be"),
    ],
)
def test_step_sizes_are_validated(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_descend_accepts_numpy_scalar_step():
    glass = sg.SphericalSpinGlass(8, 3, seed=1)
    a = sg.descend(glass, n_restarts=3, seed=4, lr=1 / 12)
    b = sg.descend(glass, n_restarts=3, seed=4, lr=np.float32(1 / 12).item())
    c = sg.descend(glass, n_restarts=3, seed=4, lr=np.float64(1 / 12))
    assert np.array_equal(a.W, c.W) and np.allclose(a.energy, b.energy, rtol=1e-5)


# --- the chapter's experiment helpers -------------------------------------------


def test_distinct_points_recovers_planted_clusters():
    n, g = 10, np.random.default_rng(0)
    centres = on_sphere(4, n, 1)
    pick = g.integers(0, 4, 40)
    W = centres[pick] + 1e-4 * g.standard_normal((40, n))
    W *= np.sqrt(n) / np.linalg.norm(W, axis=1, keepdims=True)
    count, label = sg.distinct_points(W)
    assert count == len(np.unique(pick))
    # same cluster exactly when the same planted centre
    assert np.array_equal(label[:, None] == label[None], pick[:, None] == pick[None])
    assert label[0] == 0 and set(label) == set(range(count))


def test_distinct_points_threshold_and_errors():
    W = np.array([[1.0, 0.0], [np.cos(0.1), np.sin(0.1)]]) * np.sqrt(2)
    assert sg.distinct_points(W, overlap=0.999)[0] == 2  # overlap cos(0.1) = 0.995
    assert sg.distinct_points(W, overlap=0.99)[0] == 1
    with pytest.raises(ValueError, match="W"):
        sg.distinct_points(np.ones(3))


def test_tangent_goe_spectrum_second_moment_is_a_quarter():
    # E sum x^2 = (m/n + 2 sum_j j/(2n)) / 2 = m/4 exactly, m = n - 1: the semicircle's
    g = np.random.default_rng(2)
    n = 40
    x2 = [np.mean(sg.tangent_goe_spectrum(n, g) ** 2) for _ in range(2000)]
    assert abs(np.mean(x2) - 0.25) < 4 * np.std(x2) / np.sqrt(len(x2))


def test_tangent_goe_spectrum_matches_a_dense_goe():
    n, reps = 12, 3000
    g = np.random.default_rng(3)
    small = np.array([sg.tangent_goe_spectrum(n, g)[0] for _ in range(reps)])
    dense = []
    for _ in range(reps):
        A = g.standard_normal((n - 1, n - 1)) / np.sqrt(4 * n)
        A = A + A.T  # off-diagonal variance 1/(2n), diagonal 1/n
        dense.append(np.linalg.eigvalsh(A)[0] / np.sqrt(2))
    se = np.hypot(small.std(), np.std(dense)) / np.sqrt(reps)
    assert abs(small.mean() - np.mean(dense)) < 4 * se


def test_tangent_goe_spectrum_same_seed_and_errors():
    assert np.array_equal(sg.tangent_goe_spectrum(20, 5), sg.tangent_goe_spectrum(20, 5))
    with pytest.raises(ValueError, match="n"):
        sg.tangent_goe_spectrum(2, 0)


def test_conditioned_goe_spectra_is_rejection_from_the_same_stream():
    n, x_min = 15, -1.1
    spectra, w = sg.conditioned_goe_spectra(n, x_min, 4, 500, seed=np.random.default_rng(7))
    g = np.random.default_rng(7)
    manual = []
    while len(manual) < 4:
        ev = sg.tangent_goe_spectrum(n, g)
        if ev[0] > x_min:
            manual.append(ev)
    assert np.array_equal(spectra, np.array(manual))
    det = np.prod(spectra - x_min, axis=1)
    assert np.allclose(w, det / det.sum(), rtol=1e-12)
    assert sg.conditioned_goe_spectra(n, 0.5, 1, 20, seed=0) is None
    with pytest.raises(ValueError, match="k"):
        sg.conditioned_goe_spectra(n, x_min, 0, 10, seed=0)


def test_index_gap_t_against_a_hand_computation():
    g = np.random.default_rng(4)
    per_glass, gaps = [], []
    for _ in range(6):
        e = g.normal(size=9)
        i = np.repeat([0, 1, 2], 3)
        per_glass.append((e, i))
        gaps.append(e[3:6].mean() - e[:3].mean())
    per_glass.append((np.array([-1.0]), np.array([0])))  # no index-1 point: not used
    t, n_g = sg.index_gap_t(per_glass, 0)
    gaps = np.array(gaps)
    assert n_g == 6
    assert t == pytest.approx(gaps.mean() / (gaps.std(ddof=1) / np.sqrt(6)), rel=1e-12)
    assert np.isnan(sg.index_gap_t(per_glass[-2:], 0)[0])


def test_rerun_below_against_simulated_reruns():
    n, t_obs, thr = 8, 4.0, 3.0
    p = sg.rerun_below(t_obs, n, thr)
    nu = n - 1
    c = math.sqrt(nu / 2) * math.gamma((nu - 1) / 2) / math.gamma(nu / 2)
    delta = t_obs / c
    g = np.random.default_rng(5)
    x = g.normal(delta / np.sqrt(n), 1.0, (200_000, n))
    t = x.mean(axis=1) / (x.std(axis=1, ddof=1) / np.sqrt(n))
    sim = np.mean(t < thr)
    assert abs(sim - p) < 4 * np.sqrt(p * (1 - p) / len(t))
    assert np.isnan(sg.rerun_below(float("nan"), n, thr)) and np.isnan(sg.rerun_below(5.0, 3, thr))


def test_glass_components_recover_planted_variances():
    g = np.random.default_rng(6)
    n_glass, per = 400, 20
    glass = np.repeat(np.arange(n_glass), per)
    e = g.normal(0, 0.3, n_glass)[glass] + g.normal(0, 0.1, n_glass * per)
    mean, sd, within, between = sg.glass_components(e, glass)
    assert within == pytest.approx(0.1, rel=0.03)
    assert between == pytest.approx(0.3, rel=0.1)
    assert sd == pytest.approx(e.std(ddof=1)) and mean == pytest.approx(e.mean())
    with pytest.raises(ValueError, match="glass"):
        sg.glass_components(e, glass[:-1])


def test_glass_bootstrap_resamples_whole_glasses_from_the_stream():
    e = np.arange(6.0)
    gl = np.array([0, 0, 1, 1, 2, 2])
    samples = {25: (e, gl), 50: (e[:4], gl[:4])}
    boot = sg.glass_bootstrap(samples, lambda s: (s[25].sum(), len(s[50])), 50, seed=3)
    g = np.random.default_rng(3)
    for row in boot:  # the same draws, in the same order
        pick25, pick50 = g.integers(0, 3, 3), g.integers(0, 2, 2)
        assert row[0] == sum(e[gl == i].sum() for i in pick25)
        assert row[1] == 2 * len(pick50)
    # a standard error close to the glass means' own spread over sqrt(3)
    big = sg.glass_bootstrap({0: (e, gl)}, lambda s: s[0].mean(), 4000, seed=4)
    means = np.array([0.5, 2.5, 4.5])
    assert big.std() == pytest.approx(means.std() / np.sqrt(3), rel=0.05)
