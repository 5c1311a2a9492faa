"""Tests of the instance builders in tensordl.data."""

import numpy as np
import pytest

from tensordl import data


def test_low_rank_plus_noise_draws_factors_then_noise():
    Y, S = data.low_rank_plus_noise(7, 5, 2, 0.5, seed=3)
    g = np.random.default_rng(3)
    S_ref = g.normal(size=(7, 2)) @ g.normal(size=(2, 5))
    np.testing.assert_array_equal(S, S_ref)
    np.testing.assert_array_equal(Y, S_ref + 0.5 * g.normal(size=(7, 5)))
    assert np.linalg.matrix_rank(S) == 2
    with pytest.raises(ValueError, match="rank"):
        data.low_rank_plus_noise(3, 3, 4, 0.1, seed=0)
    with pytest.raises(ValueError, match="noise"):
        data.low_rank_plus_noise(3, 3, 1, -1.0, seed=0)


def test_two_block_mask_structure_and_seed():
    M = data.two_block_mask(10, 7, seed=1)
    assert M[:5, :5].all() and M[5:, 5:].all()
    assert M[:5, 5:].sum() == 7 and M[5:, :5].sum() == 7
    np.testing.assert_array_equal(M, data.two_block_mask(10, 7, seed=1))
    with pytest.raises(ValueError, match="n_link"):
        data.two_block_mask(4, 5, seed=0)
