"""Tests of tensordl.moments: score functions against closed forms and autodiff, Stein's identity, implicit moments."""

import numpy as np
import pytest

from tensordl import moments


def test_gaussian_score_matches_autodiff_definition():
    X = np.random.default_rng(0).normal(size=(5, 3))
    for order in (1, 2, 3):
        auto = moments.score(X, lambda x: -0.5 * (x**2).sum(), order)
        assert np.allclose(auto, moments.gaussian_score(X, order), atol=1e-10)


def test_score_of_logistic_product_matches_closed_form():
    import torch

    X = np.random.default_rng(1).normal(size=(4, 2))
    # log p = sum_i -x_i - 2 log(1 + e^{-x_i}):  grad log p = -tanh(x / 2), S_1 = tanh(x / 2),
    # S_2 = s s^T + diag(-sech^2(x / 2) / 2) with s = grad log p
    S = moments.score(X, lambda x: (-x - 2 * torch.log1p(torch.exp(-x))).sum(), 2)
    s = -np.tanh(X / 2)
    closed = np.einsum("ni,nj->nij", s, s) + np.einsum("ni,ij->nij", -0.5 / np.cosh(X / 2) ** 2, np.eye(2))
    assert np.allclose(S, closed, atol=1e-12)
    assert np.allclose(moments.score(X, lambda x: (-x - 2 * torch.log1p(torch.exp(-x))).sum(), 1), -s, atol=1e-12)


def test_stein_identity_for_a_quadratic():
    g = np.random.default_rng(2)
    X = g.normal(size=(400000, 2))
    y = X[:, 0] ** 2 + 3 * X[:, 0] * X[:, 1]  # Hessian [[2, 3], [3, 0]]
    assert np.allclose(moments.moment2(X, y), [[2, 3], [3, 0]], atol=0.05)


def test_moment3_implicit_products_equal_dense():
    g = np.random.default_rng(3)
    X, y = g.normal(size=(300, 5)), g.normal(size=300)
    T = moments.Moment3(X, y)
    D = T.dense()
    dense_ref = np.einsum("n,nijk->ijk", y, moments.gaussian_score(X, 3)) / 300
    assert np.allclose(D, dense_ref, atol=1e-12)
    V = g.normal(size=(5, 4))
    assert np.allclose(T.tvv(V), np.einsum("ijk,jl,kl->il", D, V, V), atol=1e-12)
    assert np.allclose(T.tvvv(V), np.einsum("ijk,il,jl,kl->l", D, V, V, V), atol=1e-12)
    theta = g.normal(size=5)
    assert np.allclose(T.tvv_matrix(theta), D @ theta, atol=1e-12)
    W = g.normal(size=(5, 2))
    assert np.allclose(T.project(W), np.einsum("ijk,ia,jb,kc->abc", D, W, W, W), atol=1e-12)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: moments.gaussian_score(np.ones((2, 2)), 4), "order must be 1, 2 or 3"),
        (lambda: moments.moment2(np.ones((3, 2)), np.ones(2)), "y must have shape"),
        (lambda: moments.Moment3(np.ones((3, 2)), np.ones(3)).tvv(np.ones((3, 1))), "V must have shape"),
        (lambda: moments.score(np.ones((1, 2)), "gauss", 1), "log_density must be callable"),
    ],
)
def test_errors_name_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
