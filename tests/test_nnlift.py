"""Tests of tensordl.nnlift: planted recovery, the Stein coefficients, the bias equation, errors."""

import numpy as np
import pytest

from tensordl import data, nnlift


def planted_data(d, k, n, seed, act="sigmoid", orthonormal=True):
    A1, b1, a2, b2 = data.planted_network(d, k, seed=seed, orthonormal=orthonormal)
    X = np.random.default_rng(seed + 1).standard_normal((n, d))
    return (A1, b1, a2, b2), X, nnlift.activation(act, X @ A1 + b1) @ a2 + b2


def match(A, B):
    """Best |cosine| of each column of B among the columns of A."""
    return np.abs(A.T @ B).max(axis=0)


@pytest.mark.parametrize("act", ["sigmoid", "tanh"])
def test_recovers_planted_network(act):
    (A1, b1, a2, b2), X, y = planted_data(6, 3, 1000000, seed=0, act=act)
    est = nnlift.NNLift(3, activation=act).fit(X, y, seed=0)
    assert match(est.A1, A1).min() > 0.97
    Xt = np.random.default_rng(9).standard_normal((20000, 6))
    f = nnlift.activation(act, Xt @ A1 + b1) @ a2 + b2
    assert np.mean((est.predict(Xt) - f) ** 2) < 0.05 * np.var(f)


def test_cp_method_handles_non_orthogonal_columns():
    (A1, *_), X, y = planted_data(5, 3, 400000, seed=2, act="tanh", orthonormal=False)
    est = nnlift.NNLift(3, activation="tanh", method="cp").fit(X, y, seed=0)
    assert match(est.A1, A1).min() > 0.95


def test_whiten_method_recovers_non_orthogonal_columns_and_is_reproducible():
    (A1, *_), X, y = planted_data(5, 2, 400000, seed=2, act="tanh", orthonormal=False)
    est = nnlift.NNLift(2, activation="tanh", method="whiten").fit(X, y, seed=0)
    assert match(est.A1, A1).min() > 0.98
    again = nnlift.NNLift(2, activation="tanh", method="whiten").fit(X, y, seed=0)
    np.testing.assert_array_equal(est.A1, again.A1)


def test_stein_coefficients_against_monte_carlo_and_closed_forms():
    z = np.random.default_rng(3).standard_normal(2_000_000)
    for order in (1, 2, 3):
        mc = nnlift.activation("sigmoid", z + 0.7, order).mean()
        assert nnlift.stein_coefficients("sigmoid", 0.7, order) == pytest.approx(mc, abs=3e-4)
    assert nnlift.stein_coefficients("relu", 0.0, 3) == 0.0
    assert nnlift.stein_coefficients("relu", 1.0, 2) == pytest.approx(np.exp(-0.5) / np.sqrt(2 * np.pi))
    # E[1(z + b > 0)] = Phi(b): against Monte Carlo, and smooth in b (no quadrature staircase)
    assert nnlift.stein_coefficients("relu", 0.3, 1) == pytest.approx(np.mean(z + 0.3 > 0), abs=2e-3)
    b = np.linspace(-1, 1, 201)
    assert np.all(np.diff(nnlift.stein_coefficients("relu", b, 1)) > 0)


def test_activation_derivatives_by_finite_differences():
    t = np.linspace(-3, 3, 13)
    h = 1e-5
    for name in ("sigmoid", "tanh"):
        for order in (1, 2, 3):
            fd = (nnlift.activation(name, t + h, order - 1) - nnlift.activation(name, t - h, order - 1)) / (2 * h)
            assert np.allclose(nnlift.activation(name, t, order), fd, atol=1e-7)


def test_bias_equation_is_inverted_exactly():
    est = nnlift.NNLift(1)
    for b in (-1.5, -0.2, 0.0, 0.9):
        ratio = nnlift.stein_coefficients("sigmoid", b, 2) / nnlift.stein_coefficients("sigmoid", b, 1)
        assert est._bias(ratio) == pytest.approx(b, abs=1e-9)


@pytest.mark.parametrize(("b", "sign"), [(-0.6, 1.0), (0.4, -1.0), (0.85, 1.0)])
def test_fourier_bias_recovers_b_where_one_over_p_is_bounded(b, sign):
    # inputs uniform on [-R, R] with R a half-integer: the box's edges add nothing at frequency 1/2
    g = np.random.default_rng(12)
    X = g.uniform(-5.5, 5.5, (1000000, 1))
    y = sign * 1.5 * np.tanh(X[:, 0] + b)
    est = nnlift.fourier_bias(X, y, np.ones((1, 1)), [sign], seed=0, log_density=lambda X: np.full(len(X), -np.log(11)))
    assert abs(est[0] - b) < 0.1


def test_fourier_bias_option_runs_in_fit_and_is_reproducible():
    _, X, y = planted_data(5, 2, 20000, seed=4)
    a = nnlift.NNLift(2, bias="fourier").fit(X, y, seed=5)
    b = nnlift.NNLift(2, bias="fourier").fit(X, y, seed=5)
    assert np.array_equal(a.b1, b.b1) and np.all(np.abs(a.b1) <= 1)


def test_same_seed_same_fit():
    _, X, y = planted_data(5, 2, 20000, seed=4)
    a = nnlift.NNLift(2).fit(X, y, seed=5)
    b = nnlift.NNLift(2).fit(X, y, seed=5)
    assert np.array_equal(a.A1, b.A1) and np.array_equal(a.b1, b.b1)


@pytest.mark.parametrize(
    ("call", "match_"),
    [
        (lambda: nnlift.NNLift(2, activation="relu"), "activation must be one of"),
        (lambda: nnlift.NNLift(2, method="jennrich"), "method must be one of"),
        (lambda: nnlift.NNLift(4).fit(np.ones((1000, 3)), np.ones(1000), seed=0), "cannot exceed the input dimension"),
        (lambda: nnlift.NNLift(2).fit(np.ones((10, 3)), np.ones(10), seed=0), "too few"),
        (lambda: nnlift.NNLift(2).fit(np.ones((100, 3)), np.ones(99), seed=0), "y must have shape"),
        (lambda: nnlift.NNLift(2).fit(np.full((100, 3), np.nan), np.ones(100), seed=0), "X must contain only finite"),
        (lambda: data.planted_network(2, 3, seed=0), "k must be at most d"),
        (lambda: nnlift.NNLift(2, bias="moments"), "bias must be one of"),
        (lambda: nnlift.fourier_bias(np.ones((9, 2)), np.ones(9), np.ones((2, 1)), [1.0, 1.0], 0), "a2_sign must hold"),
        (lambda: nnlift.fourier_bias(np.ones((9, 2)), np.ones(9), np.ones((3, 1)), [1.0], 0), "A1 must have d = 2"),
        (lambda: nnlift.fourier_bias(np.ones((9, 2)), np.ones(9), np.ones((2, 1)), [1.0], 0,
                                     log_density=lambda X: np.ones(3)), "log_density must return n finite"),
    ],
)
def test_errors_name_the_argument(call, match_):
    with pytest.raises(ValueError, match=match_):
        call()


def test_stein_zeros_are_roots_and_match_stein_by_parts():
    # E[sigma'''(z + b)] = E[sigma'(z + b)(z^2 - 1)] (Stein twice): an independent integrand
    z, w = np.polynomial.hermite_e.hermegauss(120)
    w = w / w.sum()
    for name, expected in (("tanh", 2), ("sigmoid", 2)):
        zeros = nnlift.stein_zeros(name, 3)
        assert len(zeros) == expected and np.allclose(zeros, -zeros[::-1])
        for b in zeros:
            by_parts = np.sum(w * nnlift.activation(name, z + b, 1) * (z**2 - 1))
            assert abs(by_parts) < 1e-6  # 80-point quadrature of a non-polynomial
            assert abs(nnlift.stein_coefficients(name, b, 3)) < 1e-12
    assert np.allclose(nnlift.stein_zeros("sigmoid", 2), [0.0])
    assert nnlift.stein_zeros("sigmoid", 1).size == 0  # sigma' > 0
    assert np.allclose(nnlift.stein_zeros("relu", 3), [0.0])
    assert nnlift.stein_zeros("relu", 2).size == 0  # phi(b) > 0


def test_stein_zeros_errors():
    with pytest.raises(ValueError, match="name"):
        nnlift.stein_zeros("softplus", 3)
    with pytest.raises(ValueError, match="order"):
        nnlift.stein_zeros("tanh", 4)
    with pytest.raises(ValueError, match="b_max"):
        nnlift.stein_zeros("tanh", 3, b_max=-1.0)
    with pytest.raises(TypeError, match="b_max"):
        nnlift.stein_zeros("tanh", 3, b_max="4")


def test_conditioned_columns_singular_values_unit_columns_and_seed():
    for d, k, lo, hi in ((10, 4, 0.1, 1.2247), (8, 3, 0.5, 1.3), (5, 2, 0.6, np.sqrt(2 - 0.36))):
        A = nnlift.conditioned_columns(d, k, lo, hi, seed=3)
        s = np.linalg.svd(A, compute_uv=False)
        assert A.shape == (d, k)
        assert np.allclose(np.linalg.norm(A, axis=0), 1.0, atol=1e-12)
        assert s[0] == pytest.approx(hi, rel=1e-9) and s[-1] == pytest.approx(lo, rel=1e-9)
    A5 = nnlift.conditioned_columns(10, 4, 0.2, 1.2, seed=5)
    assert np.array_equal(A5, nnlift.conditioned_columns(10, 4, 0.2, 1.2, seed=5))
    assert not np.allclose(A5, nnlift.conditioned_columns(10, 4, 0.2, 1.2, seed=6))


def test_conditioned_columns_errors():
    with pytest.raises(ValueError, match="sigma_min"):
        nnlift.conditioned_columns(10, 4, 0.0, 1.2, seed=0)
    with pytest.raises(ValueError, match="k must be at most"):
        nnlift.conditioned_columns(3, 4, 0.5, 1.2, seed=0)
    with pytest.raises(ValueError, match="not a correlation matrix"):
        nnlift.conditioned_columns(10, 4, 0.5, 1.9, seed=0)
    with pytest.raises(ValueError, match="sum to 2"):
        nnlift.conditioned_columns(10, 2, 0.5, 1.2, seed=0)
    with pytest.raises(TypeError, match="sigma_max"):
        nnlift.conditioned_columns(10, 4, 0.5, "1.2", seed=0)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        # issue 18: derivative=-1 used to return the third derivative silently, 4 an IndexError
        (lambda: nnlift.activation("tanh", 0.0, derivative=-1), ValueError, "derivative must be at least 0"),
        (lambda: nnlift.activation("tanh", 0.0, derivative=4), ValueError, "derivative must be 0, 1, 2 or 3"),
        (lambda: nnlift.activation("tanh", 0.0, derivative=1.0), TypeError, "derivative must be an integer"),
        # stein_coefficients never validated its order (7: IndexError; "a": a bare list-index TypeError)
        (lambda: nnlift.stein_coefficients("tanh", 0.3, 7), ValueError, "order must be 0, 1, 2 or 3"),
        (lambda: nnlift.stein_coefficients("tanh", 0.3, "a"), TypeError, "order must be an integer"),
        (lambda: nnlift.stein_coefficients("elu", 0.3, 1), ValueError, "activation must be one of"),
        # planted_network had an unused activation_name; bias_scale was never checked
        (lambda: data.planted_network(5, 3, seed=0, activation_name="tanh"), TypeError, "activation_name"),
        (lambda: data.planted_network(5, 3, seed=0, bias_scale=-1.0), ValueError, "bias_scale"),
        # predict before fit raised an AttributeError about A1
        (lambda: nnlift.NNLift(2).predict(np.ones((3, 2))), ValueError, "not fitted yet"),
    ],
)
def test_validation_gaps_closed(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_activation_numpy_integer_derivatives_agree_with_python_ints():
    t = np.linspace(-2, 2, 5)
    for k in range(4):
        assert np.array_equal(nnlift.activation("sigmoid", t, np.int64(k)), nnlift.activation("sigmoid", t, k))


def test_cp_method_records_rather_than_warns_jennrichs_complex_eigenvectors(monkeypatch):
    """Jennrich's start is one of five that CP-ALS refines: its imaginary parts are recorded on the fit."""
    import warnings

    (A1, *_), X, y = planted_data(5, 3, 20000, seed=2, act="tanh", orthonormal=False)
    real_jennrich = nnlift.jennrich

    def complex_jennrich(T, seed):
        warnings.warn("imaginary parts up to 0.5", np.exceptions.ComplexWarning, stacklevel=2)
        return real_jennrich(T, seed)

    clean = nnlift.NNLift(3, activation="tanh", method="cp").fit(X, y, seed=0)
    assert clean.jennrich_complex_ is False
    monkeypatch.setattr(nnlift, "jennrich", complex_jennrich)
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        est = nnlift.NNLift(3, activation="tanh", method="cp").fit(X, y, seed=0)
    assert est.jennrich_complex_ is True
    assert np.array_equal(est.A1, clean.A1)  # recording changes no number
