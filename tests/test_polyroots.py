"""Tests of tensordl.polyroots: oracles (numpy.polydiv, numpy.poly, numpy.roots), R², the models."""

import numpy as np
import pytest
import torch

from tensordl import polyroots as pr


def test_synthetic_division_matches_numpy_polydiv():
    a = pr.random_polynomials(20, 9, seed=1)
    x0 = np.random.default_rng(2).uniform(-2, 2, 20)
    q, r = pr.synthetic_division(a, x0)
    for i in range(20):
        nq, nr = np.polydiv(a[i], [1.0, -x0[i]])
        np.testing.assert_allclose(q[i], nq, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(r[i], nr[-1], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(r[i], np.polyval(a[i], x0[i]), rtol=1e-12, atol=1e-13)


def test_horner_targets_give_value_derivative_and_quotient():
    a = pr.random_polynomials(15, 12, seed=3)
    x0 = np.random.default_rng(4).uniform(-1, 1, 15)
    t = pr.horner_targets(a, x0)
    q, _ = pr.synthetic_division(a, x0)
    for i in range(15):
        np.testing.assert_allclose(t[i, -1, 0], np.polyval(a[i], x0[i]), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(
            t[i, -1, 1], np.polyval(np.polyder(a[i]), x0[i]), rtol=1e-11, atol=1e-12
        )
    np.testing.assert_array_equal(t[:, :-1, 0], q)
    np.testing.assert_array_equal(t[:, 0, 1], 0.0)


def test_coefficients_from_roots_matches_numpy_poly():
    z = np.random.default_rng(5).uniform(-1, 1, (10, 14))
    c = pr.coefficients_from_roots(z)
    for i in range(10):
        np.testing.assert_allclose(c[i], np.poly(z[i]), rtol=1e-12, atol=1e-14)


def test_random_roots_planted_and_smallest_roots_against_numpy_roots():
    z = pr.random_roots(30, 11, seed=6)
    assert np.all(np.diff(z, axis=1) >= 0) and np.all(np.abs(z) <= 1)
    a = pr.coefficients_from_roots(z)
    found = pr.smallest_roots(a, k=3)
    np.testing.assert_allclose(found, z[:, :3], atol=1e-7)  # planted truth
    for i in range(30):  # the numpy.roots oracle itself
        np.testing.assert_allclose(found[i], np.sort(np.roots(a[i]).real)[:3], rtol=0, atol=1e-15)


def test_r2_perfect_mean_and_worse_predictors():
    y = np.random.default_rng(7).standard_normal((50, 3))
    np.testing.assert_array_equal(pr.r2_score(y, y), np.ones(3))
    np.testing.assert_allclose(pr.r2_score(y, np.broadcast_to(y.mean(0), y.shape)), 0.0, atol=1e-15)
    assert np.all(pr.r2_score(y, -y) < 0)
    # against the definition written out
    p = y + 0.3
    ref = 1 - ((y[:, 0] - p[:, 0]) ** 2).sum() / ((y[:, 0] - y[:, 0].mean()) ** 2).sum()
    assert pr.r2_score(y[:, 0], p[:, 0]) == pytest.approx(ref, rel=1e-14)


def test_root_condition_is_the_worst_case_first_order_displacement():
    z = pr.random_roots(8, 10, seed=8)
    a = pr.coefficients_from_roots(z)
    kappa = pr.root_condition(a, z[:, :1])
    eps = 1e-11  # second-order term ~ eps kappa / spacing, rounding ~ 1e-16 / eps: both < 1e-4
    for i in range(8):
        zi = z[i, 0]
        powers = zi ** np.arange(10, -1, -1)
        pert = a[i] * (1 + eps * np.sign(a[i] * powers))
        w = zi  # Newton on the perturbed polynomial from the exact root
        for _ in range(5):
            w -= np.polyval(pert, w) / np.polyval(np.polyder(pert), w)
        assert abs(w - zi) == pytest.approx(eps * kappa[i, 0], rel=1e-3)
        # a random perturbation of the same size moves it no further (first order)
        g = np.random.default_rng(i).uniform(-1, 1, 11)
        assert abs(np.polyval(a[i] * eps * g, zi) / np.polyval(np.polyder(a[i]), zi)) <= (
            eps * kappa[i, 0] * (1 + 1e-12)
        )


def test_recursive_division_step_on_exact_roots_deflates_exactly():
    z = pr.random_roots(12, 9, seed=9)
    a = torch.tensor(pr.coefficients_from_roots(z))
    m = pr.RecursiveRootModel(hidden=4, seed=0)
    out = a
    for j in range(3):
        out = m.divide(out, torch.tensor(z[:, j]), exact=True)
        np.testing.assert_allclose(
            out.numpy(), pr.coefficients_from_roots(z[:, j + 1 :]), rtol=1e-10, atol=1e-12
        )
    # the exact-division model's recursion feeds each step its own root
    m_exact = pr.RecursiveRootModel(hidden=4, seed=0, exact_division=True)
    seen = []
    m_exact.root = lambda c: seen.append(c.shape[1]) or torch.tensor(z[:, len(seen) - 1])
    m_exact(a)
    assert seen == [10, 9, 8]


def test_same_seed_same_numbers_and_different_seed_different_numbers():
    r1 = pr.train_roots("recursive", 6, steps=4, batch_size=8, seed=3)
    r2 = pr.train_roots("recursive", 6, steps=4, batch_size=8, seed=3)
    r3 = pr.train_roots("recursive", 6, steps=4, batch_size=8, seed=4)
    np.testing.assert_array_equal(r1.losses, r2.losses)
    assert not np.array_equal(r1.losses, r3.losses)
    a = pr.coefficients_from_roots(pr.random_roots(5, 7, seed=0))
    np.testing.assert_array_equal(pr.predict(r1.model, a), pr.predict(r2.model, a))
    h1 = pr.train_horner(6, steps=3, batch_size=8, seed=1)
    h2 = pr.train_horner(6, steps=3, batch_size=8, seed=1)
    np.testing.assert_array_equal(h1.losses, h2.losses)
    np.testing.assert_array_equal(pr.random_polynomials(3, 4, 5), pr.random_polynomials(3, 4, 5))


def test_training_lowers_the_loss_and_restores_threads():
    threads = torch.get_num_threads()
    run = pr.train_horner(16, steps=150, batch_size=32, lr=1e-2, degrees=[5], seed=0)
    assert run.losses[-20:].mean() < 0.5 * run.losses[:5].mean()
    assert torch.get_num_threads() == threads


def test_plain_model_decodes_k_roots():
    m = pr.EncoderDecoder(hidden=5, k=4, seed=0)
    assert pr.predict(m, np.zeros((3, 9))).shape == (3, 4)


def test_parallel_workers_give_the_same_models_as_one_process():
    # CPU only: the device option's "cuda" path is not exercised by the tests
    kw = dict(steps=4, batch_size=8, degrees=[5, 6])
    par = pr.train_roots_many([("plain", 0), ("recursive", 1)], 8, workers=2, **kw)
    one = [pr.train_roots("plain", 8, seed=0, **kw), pr.train_roots("recursive", 8, seed=1, **kw)]
    a = pr.random_roots(5, 7, seed=3)
    for p, o in zip(par, one):
        assert np.array_equal(p.losses, o.losses)
        assert np.array_equal(pr.predict(p.model, a), pr.predict(o.model, a))
        assert p.settings["device"] == "cpu" and p.cpu_seconds >= 0


def test_cuda_without_a_gpu_is_refused():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="cuda"):
        pr.train_horner(steps=1, device="cuda")


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: pr.random_polynomials(0, 3), ValueError, "n must be"),
        (lambda: pr.random_polynomials(2, 2.5), TypeError, "degree"),
        (lambda: pr.random_roots(2, 3, seed="x"), TypeError, "seed"),
        (lambda: pr.synthetic_division([[1.0]], 0.0), ValueError, "coeffs"),
        (lambda: pr.synthetic_division([[1.0, np.nan]], 0.0), ValueError, "finite"),
        (lambda: pr.synthetic_division([[1.0, 2.0]], [1.0, 2.0]), ValueError, "x0"),
        (lambda: pr.smallest_roots([[1.0, 2.0, 1.0]], k=3), ValueError, "k must be"),
        (lambda: pr.r2_score([1.0, 2.0], [1.0]), ValueError, "y_pred"),
        (lambda: pr.r2_score([1.0, 1.0], [1.0, 2.0]), ValueError, "constant"),
        (lambda: pr.root_condition([[1.0, -1.0]], [[1.0], [2.0]]), ValueError, "roots"),
        (lambda: pr.train_roots("deep", steps=1), ValueError, "kind"),
        (lambda: pr.train_roots("plain", steps=1, degrees=[3], k=4), ValueError, "k must"),
        (lambda: pr.train_roots("plain", steps=0), ValueError, "steps"),
        (lambda: pr.train_horner(steps=1, lr=-1.0), ValueError, "lr"),
        (lambda: pr.train_horner(steps=1, degrees=[]), ValueError, "degrees"),
        (lambda: pr.HornerLSTM(hidden=0), ValueError, "hidden"),
        (lambda: pr.predict("model", np.zeros((2, 3))), TypeError, "model"),
        (lambda: pr.train_roots("plain", steps=1, device="tpu"), ValueError, "device"),
        (lambda: pr.train_horner(steps=1, device=3), ValueError, "device"),
        (lambda: pr.train_roots_many([("plain", 0)], steps=1, workers=0), ValueError, "workers"),
        (lambda: pr.train_roots_many([("plain",)], steps=1), TypeError, "jobs"),
    ],
)
def test_error_paths(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
