"""Tests of tensordl.decomposition: the tensor power methods, whitening, Jennrich, CP-ALS (single and batched)."""

import numpy as np
import pytest
import tensorly as tl
from tensorly.decomposition import parafac

from tensordl import data, hierarchical, moments
from tensordl import decomposition as dec
from tensordl._checks import ConvergenceWarning
from tensordl.decomposition import IndefiniteWarning

orthogonal_tensor = data.orthogonal_symmetric_tensor


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


def test_slice_subspace_spans_mixed_sign_components():
    g = np.random.default_rng(10)
    A = g.normal(size=(7, 3))
    A /= np.linalg.norm(A, axis=0)
    T = np.einsum("j,ij,kj,lj->ikl", [1.0, -2.0, 0.5], A, A, A)
    U = dec.slice_subspace(T, 3, seed=0)
    assert np.allclose(U @ (U.T @ A), A, atol=1e-10)


def test_cp_als_batch_recovers_planted_cp_tensors_and_matches_parafac():
    g = np.random.default_rng(11)
    # planted: exact rank-2 tensors of order 3 and 4 are fitted to rounding from some start
    for dims in [(5, 4, 3), (3, 3, 3, 3)]:
        T = np.stack([tl.cp_to_tensor((None, [g.standard_normal((m, 2)) for m in dims])) for _ in range(3)])
        err = dec.cp_als_batch(T, 2, seed=0, n_starts=6, n_iter=3000)
        assert err.shape == (3, 6) and np.all(err.min(axis=1) < 1e-6)
    # oracle: on rank one (ALS converges to the best rank-one fit from almost every start) the best
    # error equals tensorly's parafac, and no fit beats the Eckart-Young bound
    A = np.stack([data.random_ht(4, 3, 2, seed=s) for s in range(3)])
    err = dec.cp_als_batch(A, 1, seed=1, n_starts=3, n_iter=3000).min(axis=1)
    ref = [min(np.linalg.norm(tl.cp_to_tensor(parafac(tl.tensor(a), 1, init="random", random_state=s,
                                                       n_iter_max=3000, tol=1e-14)) - a) / np.linalg.norm(a)
               for s in range(3)) for a in A]
    assert np.allclose(err, ref, rtol=1e-6, atol=0)
    assert np.all(err >= np.array([hierarchical.eckart_young_bound(a, 1) for a in A]) * (1 - 1e-12))


def test_cp_als_batch_same_seed_same_answer():
    A = np.stack([data.random_ht(4, 3, 2, seed=s) for s in range(4)])
    e1 = dec.cp_als_batch(A, 2, seed=3, n_starts=2, n_iter=50)
    assert np.array_equal(e1, dec.cp_als_batch(A, 2, seed=3, n_starts=2, n_iter=50))
    assert not np.array_equal(e1, dec.cp_als_batch(A, 2, seed=4, n_starts=2, n_iter=50))


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: dec.cp_als_batch(np.ones((2, 3)), 1, seed=0), ValueError, r"shape \(B, M_1"),
        (lambda: dec.cp_als_batch(np.zeros((1, 2, 2)), 1, seed=0), ValueError, "nonzero"),
        (lambda: dec.cp_als_batch(np.full((1, 2, 2), np.nan), 1, seed=0), ValueError, "finite"),
        (lambda: dec.cp_als_batch(np.ones((1, 2, 2)), 0, seed=0), ValueError, "rank must be at least 1"),
        (lambda: dec.cp_als_batch(np.ones((1, 2, 2)), 1, seed=0, n_starts=0), ValueError, "n_starts"),
        (lambda: dec.cp_als_batch(np.ones((1, 2, 2)), 1, seed=0, tol=-1.0), ValueError, "tol must be"),
        (lambda: dec.cp_als_batch(np.ones((1,) + (1,) * 11), 1, seed=0), ValueError, "order N <= 10"),
    ],
)
def test_cp_als_batch_errors_name_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: dec.tensor_power_method(np.ones((2, 3, 3)), 1, 1, 1, 0), r"T must be a \(d, d, d\)"),
        (lambda: dec.tensor_power_method(np.arange(8.0).reshape(2, 2, 2), 1, 1, 1, 0), "symmetric"),
        (lambda: dec.tensor_power_method(np.ones((2, 2, 2)), 3, 1, 1, 0), "k must be at most d"),
        (lambda: dec.whiten(np.ones((2, 3)), 1), "M2 must be a symmetric square"),
    ],
)
def test_errors_name_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def _random_symmetric(d, seed):
    T = np.random.default_rng(seed).standard_normal((d, d, d))
    perms = [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]
    return sum(T.transpose(p) for p in perms) / 6


def test_jennrich_warns_when_it_drops_imaginary_parts():
    """Issue 18: a tensor that is not a sum of k real rank-one terms gave complex eigenvectors, silently."""
    with pytest.warns(np.exceptions.ComplexWarning, match="imaginary parts up to"):
        dec.jennrich(_random_symmetric(3, 0), seed=0)
    A = np.array([[1.0, 0.6], [0.0, 0.8]])
    T = np.einsum("j,ij,kj,lj->ikl", [2.0, -1.0], A, A, A)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the real case stays silent
        dec.jennrich(T, seed=0)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: dec.jennrich(np.full((2, 2, 2), np.nan), seed=0), ValueError, "finite"),
        (lambda: dec.cp_als(np.full((2, 2, 2), np.nan), 1, seed=0), ValueError, "nonzero finite tensor"),
        (lambda: dec.cp_als(np.zeros((2, 2, 2)), 1, seed=0), ValueError, "nonzero finite tensor"),
        (lambda: dec.cp_als(np.ones((2, 2, 2)), 1, seed=0, n_iter_max=0), ValueError, "n_iter_max"),
        (lambda: dec.cp_als(np.ones((2, 2, 2)), 1, seed=0, tol=-1.0), ValueError, "tol"),
        (lambda: dec.cp_als(np.ones((2, 2, 2)), 2, seed=0, init=(np.ones(2), np.ones((3, 2)))), ValueError, "init"),
        (lambda: dec.slice_subspace(np.ones((2, 2)), 1, seed=0), ValueError, r"T must be a \(d, d, d\)"),
        (lambda: dec.slice_subspace(np.full((2, 2, 2), np.inf), 1, seed=0), ValueError, "finite"),
    ],
)
def test_validation_gaps_closed(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
