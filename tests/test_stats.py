"""Tests of tensordl.stats: Fisher's z and its interval, resampled z, Spearman-Brown."""

import numpy as np
import pytest

from tensordl import stats


def test_fisher_interval_covers_the_true_correlation_95_percent_of_the_time():
    g = np.random.default_rng(0)
    rho, n, sims = 0.6, 40, 4000
    cov = [[1.0, rho], [rho, 1.0]]
    hits = 0
    for _ in range(sims):
        a, b = g.multivariate_normal([0.0, 0.0], cov, n).T
        lo, hi = stats.fisher_interval(*stats.fisher_z(a, b))
        hits += lo <= rho <= hi
    # binomial SE of the coverage at 95%: 0.0034; 4 SE either side
    assert abs(hits / sims - 0.95) < 4 * np.sqrt(0.95 * 0.05 / sims)


def test_fisher_z_closed_forms():
    z, se = stats.fisher_z(np.arange(10.0), 3 * np.arange(10.0) + 1)
    assert np.tanh(z) == pytest.approx(1.0, abs=1e-12) and se == pytest.approx(1 / np.sqrt(7))  # r = 1
    a = np.array([1.0, 2.0, 3.0, 4.0])
    z, _ = stats.fisher_z(a, np.array([1.0, 3.0, 2.0, 4.0]))
    assert np.tanh(z) == pytest.approx(0.8)  # the Pearson r of these four pairs
    assert stats.fisher_interval(0.5, 0.0) == (pytest.approx(np.tanh(0.5)),) * 2


def test_bootstrap_fisher_z_equals_corrcoef_row_by_row():
    g = np.random.default_rng(1)
    a, b = g.normal(size=30), g.normal(size=30)
    idx = g.integers(0, 30, (3, 50, 30))
    z = stats.bootstrap_fisher_z(a, b, idx)
    assert z.shape == (3, 50)
    for i, j in [(0, 0), (1, 17), (2, 49)]:
        r = np.corrcoef(a[idx[i, j]], b[idx[i, j]])[0, 1]
        assert z[i, j] == pytest.approx(np.arctanh(r), rel=1e-12)


def test_spearman_brown():
    assert stats.spearman_brown(0.5) == pytest.approx(2 / 3)
    assert stats.spearman_brown(0.0, k=10) == 0.0
    assert stats.spearman_brown(1.0, k=7) == pytest.approx(1.0)
    # the halves' formula inverts the halving: r for a half from r for the whole and back
    r_whole = 0.8
    assert stats.spearman_brown(stats.spearman_brown(r_whole, k=0.5)) == pytest.approx(r_whole)


@pytest.mark.parametrize(
    ("call", "err", "match"),
    [
        (lambda: stats.fisher_z([1.0, 2.0, 3.0], [1.0, 2.0, 4.0]), ValueError, "at least 4 pairs"),
        (lambda: stats.fisher_z(np.ones(5), np.ones(6)), ValueError, "same length"),
        (lambda: stats.fisher_z([1.0, 2.0, np.nan, 4.0], np.ones(4)), ValueError, "finite"),
        (lambda: stats.fisher_interval(0.1, -1.0), ValueError, "se"),
        (lambda: stats.fisher_interval(0.1, 0.1, crit=0), ValueError, "crit"),
        (lambda: stats.bootstrap_fisher_z(np.arange(5.0), np.arange(5.0), np.ones((2, 5))), TypeError, "idx"),
        (lambda: stats.bootstrap_fisher_z(np.arange(5.0), np.arange(5.0), np.full((2, 5), 5)), ValueError, "idx"),
        (lambda: stats.spearman_brown(0.5, k=0), ValueError, "k"),
    ],
)
def test_errors_name_the_argument(call, err, match):
    with pytest.raises(err, match=match):
        call()
