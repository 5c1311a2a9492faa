"""Tests of tensordl.moments and tensordl.decomposition: closed forms, autodiff, implicit products, recovery."""

import numpy as np
import pytest

from tensordl import decomposition as dec
from tensordl import moments
from tensordl.decomposition import IndefiniteWarning
from tensordl.factorization import ConvergenceWarning


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


def orthogonal_tensor(d, k, seed):
    g = np.random.default_rng(seed)
    U = np.linalg.qr(g.normal(size=(d, k)))[0]
    lam = g.uniform(1, 3, k)
    return np.einsum("j,ij,kj,lj->ikl", lam, U, U, U), lam, U


def test_power_method_recovers_planted_orthogonal_components():
    T, lam, U = orthogonal_tensor(8, 4, 4)
    res = dec.tensor_power_method(T, 4, n_restarts=20, n_iter=50, seed=0)
    assert res.converged.all()
    order = np.argsort(-lam)
    assert np.allclose(res.weights, lam[order], rtol=1e-8)
    assert np.allclose(np.abs(np.sum(res.factors * U[:, order], axis=0)), 1, atol=1e-8)


def test_power_method_same_seed_same_answer_and_reports_nonconvergence():
    T, _, _ = orthogonal_tensor(6, 3, 5)
    a = dec.tensor_power_method(T, 3, 5, 20, seed=1)
    b = dec.tensor_power_method(T, 3, 5, 20, seed=1)
    assert np.array_equal(a.factors, b.factors)
    with pytest.warns(ConvergenceWarning, match="moved by more than tol"):
        res = dec.tensor_power_method(T, 3, 1, 1, seed=1)
    assert not res.converged.all()


def test_power_method_on_implicit_tensor_matches_dense():
    g = np.random.default_rng(6)
    X = g.normal(size=(20000, 6))
    U = np.linalg.qr(g.normal(size=(6, 2)))[0]
    y = (X @ U[:, 0]) ** 3 + 0.5 * (X @ U[:, 1]) ** 3  # E[y S_3] = 6 u1^(x)3 + 3 u2^(x)3 by Stein
    T = moments.Moment3(X, y)
    a = dec.tensor_power_method(T, 2, 10, 100, seed=2)
    b = dec.tensor_power_method(T.dense(), 2, 10, 100, seed=2)
    assert np.allclose(a.factors, b.factors, atol=1e-8) and np.allclose(a.weights, b.weights, rtol=1e-10)
    assert np.allclose(np.abs(np.sum(a.factors * U, axis=0)), 1, atol=0.05)


def test_simultaneous_power_method_recovers_orthogonal_components_and_matches_deflation():
    T, lam, U = orthogonal_tensor(10, 4, 11)
    res = dec.simultaneous_power_method(T, 4, n_iter=500, seed=0, tol=1e-12)
    assert res.converged.all()
    order = np.argsort(-lam)
    assert np.allclose(res.weights, lam[order], rtol=1e-8)
    assert np.allclose(np.abs(np.sum(res.factors * U[:, order], axis=0)), 1, atol=1e-8)
    ref = dec.tensor_power_method(T, 4, n_restarts=20, n_iter=100, seed=0)
    assert np.allclose(np.abs(np.sum(res.factors * ref.factors, axis=0)), 1, atol=1e-8)
    with pytest.warns(ConvergenceWarning, match="simultaneous_power_method"):
        assert not dec.simultaneous_power_method(T, 4, n_iter=1, seed=0).converged.any()
    with pytest.raises(ValueError, match="k must be at most d"):
        dec.simultaneous_power_method(T, 11, n_iter=5, seed=0)


def test_whiten_and_indefinite_warning():
    A = np.linalg.qr(np.random.default_rng(7).normal(size=(5, 2)))[0]
    W = dec.whiten(A @ np.diag([3.0, 1.0]) @ A.T, 2)
    assert np.allclose(W.T @ (A @ np.diag([3.0, 1.0]) @ A.T) @ W, np.eye(2), atol=1e-12)
    with pytest.warns(IndefiniteWarning):
        dec.whiten(A @ np.diag([3.0, -1.0]) @ A.T, 2)


def test_jennrich_recovers_non_orthogonal_mixed_sign_components():
    g = np.random.default_rng(8)
    A = g.normal(size=(4, 4))
    A /= np.linalg.norm(A, axis=0)
    lam = np.array([2.0, -1.0, 0.5, -3.0])
    T = np.einsum("j,ij,kj,lj->ikl", lam, A, A, A)
    got_lam, got_A = dec.jennrich(T, seed=0)
    recon = np.einsum("j,ij,kj,lj->ikl", got_lam, got_A, got_A, got_A)
    assert np.allclose(recon, T, atol=1e-8)


def test_cp_als_cross_check_on_explicit_tensor():
    T, lam, U = orthogonal_tensor(5, 2, 9)
    w, f = dec.cp_als(T, 2, seed=0)
    recon = np.einsum("j,ij,kj,lj->ikl", w, *f)
    assert np.allclose(recon, T, atol=1e-6)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: moments.gaussian_score(np.ones((2, 2)), 4), "order must be 1, 2 or 3"),
        (lambda: moments.moment2(np.ones((3, 2)), np.ones(2)), "y must have shape"),
        (lambda: moments.Moment3(np.ones((3, 2)), np.ones(3)).tvv(np.ones((3, 1))), "V must have shape"),
        (lambda: moments.score(np.ones((1, 2)), "gauss", 1), "log_density must be callable"),
        (lambda: dec.tensor_power_method(np.ones((2, 3, 3)), 1, 1, 1, 0), r"T must be a \(d, d, d\)"),
        (lambda: dec.tensor_power_method(np.arange(8.0).reshape(2, 2, 2), 1, 1, 1, 0), "symmetric"),
        (lambda: dec.tensor_power_method(np.ones((2, 2, 2)), 3, 1, 1, 0), "k must be at most d"),
        (lambda: dec.whiten(np.ones((2, 3)), 1), "M2 must be a symmetric square"),
    ],
)
def test_errors_name_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_slice_subspace_spans_mixed_sign_components():
    g = np.random.default_rng(10)
    A = g.normal(size=(7, 3))
    A /= np.linalg.norm(A, axis=0)
    T = np.einsum("j,ij,kj,lj->ikl", [1.0, -2.0, 0.5], A, A, A)
    U = dec.slice_subspace(T, 3, seed=0)
    assert np.allclose(U @ (U.T @ A), A, atol=1e-10)
