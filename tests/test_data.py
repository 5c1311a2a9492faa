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


def test_orthogonal_symmetric_tensor_is_its_planted_decomposition():
    T, lam, U = data.orthogonal_symmetric_tensor(7, 3, seed=4)
    np.testing.assert_allclose(U.T @ U, np.eye(3), atol=1e-12)
    assert np.all((lam >= 1.0) & (lam <= 3.0))
    np.testing.assert_allclose(T, T.transpose(1, 0, 2), atol=1e-14)
    np.testing.assert_allclose(T, T.transpose(2, 1, 0), atol=1e-14)
    # each u_j is an eigenvector of T(I, u, u) with eigenvalue lam_j; T vanishes off span(U)
    for j in range(3):
        np.testing.assert_allclose(np.einsum("ijk,j,k->i", T, U[:, j], U[:, j]), lam[j] * U[:, j], atol=1e-12)
    v = np.linalg.svd(U, full_matrices=True)[0][:, 3]
    assert np.abs(np.einsum("ijk,i->jk", T, v)).max() < 1e-12
    again = data.orthogonal_symmetric_tensor(7, 3, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip((T, lam, U), again))
    with pytest.raises(ValueError, match="k must be at most d"):
        data.orthogonal_symmetric_tensor(2, 3, seed=0)
    with pytest.raises(ValueError, match="weights must be"):
        data.orthogonal_symmetric_tensor(4, 2, seed=0, weights=(2.0, 1.0))


def test_sphere_points_are_uniform_on_the_sphere():
    P = data.sphere_points(40000, 3, seed=5, radius=2.5)
    np.testing.assert_allclose(np.linalg.norm(P, axis=1), 2.5, rtol=1e-14)
    # uniform on the sphere: E[x] = 0 and E[x x^T] = r^2 I / d; each coordinate has sd r / sqrt(d)
    se = 2.5 / np.sqrt(3) / np.sqrt(len(P))
    assert np.abs(P.mean(axis=0)).max() < 5 * se
    second = P.T @ P / len(P)
    assert np.abs(second - 2.5**2 / 3 * np.eye(3)).max() < 0.05  # about 8 standard errors (0.006 each)
    # fourth moments E[x_i^4] = 3 r^4 / (d (d + 2)) (sd of the mean about 0.05); a planted failure,
    # uniform points in the cube projected onto the sphere (E[x_i^4] about 7.05), is rejected
    C = np.random.default_rng(5).uniform(-1, 1, (40000, 3))
    C = 2.5 * C / np.linalg.norm(C, axis=1, keepdims=True)
    fourth = 3 * 2.5**4 / 15
    assert np.abs((P**4).mean(axis=0) - fourth).max() < 0.3
    assert np.abs((C**4).mean(axis=0) - fourth).max() > 0.3
    np.testing.assert_array_equal(P, data.sphere_points(40000, 3, seed=5, radius=2.5))
    assert data.sphere_points(3, 4, seed=np.random.default_rng(0)).shape == (3, 4)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n": 0, "d": 3}, ValueError, "n must be"),
        ({"n": 2, "d": 0}, ValueError, "d must be"),
        ({"n": 2, "d": 3, "radius": 0.0}, ValueError, "radius must be"),
        ({"n": 2, "d": 3, "radius": "1"}, TypeError, "radius must be"),
        ({"n": 2.5, "d": 3}, TypeError, "n must be"),
    ],
)
def test_sphere_points_errors_name_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        data.sphere_points(seed=0, **kwargs)
