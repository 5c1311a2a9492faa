"""Tests of tensordl.training: batched training equals training each network alone."""

import numpy as np
import pytest
import torch

from tensordl import training


@pytest.fixture(scope="module")
def toy():
    g = np.random.default_rng(3)
    X = g.standard_normal((30, 6))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)
    Xe = g.standard_normal((12, 6))
    ye = g.integers(0, 3, 12)
    return X, y, Xe, ye


def sgd(toy, nets, **kw):
    X, y, Xe, ye = toy
    args = dict(epochs=6, batch_size=7, lr=0.2, seed=5, n_classes=3, eval_sets={"test": (Xe, ye)},
                checkpoints=[2], dtype=torch.float64)
    args.update(kw)
    return training.train_sgd(X, y, 4, nets, **args)


def test_sgd_batched_equals_each_net_alone(toy):
    together = sgd(toy, 4)
    for k in range(4):
        alone = sgd(toy, [k])
        for name in training.PARAM_NAMES:
            np.testing.assert_allclose(alone.params[name][0].numpy(), together.params[name][k].numpy(),
                                       rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(alone.losses["test"][:, 0], together.losses["test"][:, k], rtol=1e-10)
        np.testing.assert_allclose(alone.grad_norm[0], together.grad_norm[k], rtol=1e-9)


def test_sgd_matches_a_plain_reference_loop(toy):
    """One network by a loop written out with torch.nn, same draws: same weights."""
    X, y, _, _ = toy
    run = sgd(toy, [1], epochs=3, eval_sets=None, checkpoints=None)
    g = np.random.default_rng([5, 1])
    W1 = torch.tensor(g.standard_normal((4, 6)) * np.sqrt(2 / 6), requires_grad=True)
    W2 = torch.tensor(g.standard_normal((3, 4)) * np.sqrt(1 / 4), requires_grad=True)
    b1 = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    b2 = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    for _ in range(3):
        order = torch.tensor(g.permutation(len(X)))
        for i in range(0, len(X), 7):
            idx = order[i:i + 7]
            logits = torch.relu(Xt[idx] @ W1.T + b1) @ W2.T + b2
            loss = torch.nn.functional.cross_entropy(logits, yt[idx])
            grads = torch.autograd.grad(loss, [W1, b1, W2, b2])
            with torch.no_grad():
                for p, gr in zip([W1, b1, W2, b2], grads):
                    p -= 0.2 * gr
    for name, ref in zip(training.PARAM_NAMES, [W1, b1, W2, b2]):
        np.testing.assert_allclose(run.params[name][0].numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_adam_batched_equals_each_net_alone(toy):
    X, y, _, _ = toy
    together = training.train_adam(X, y, 5, 3, steps=30, seed=2, n_classes=3, dtype=torch.float64)
    alone = training.train_adam(X, y, 5, [2], steps=30, seed=2, n_classes=3, dtype=torch.float64)
    np.testing.assert_allclose(alone.params["W1"][0].numpy(), together.params["W1"][2].numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(alone.losses["train"][:, 0], together.losses["train"][:, 2], rtol=1e-8)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_workers_give_the_same_run_to_the_last_bit(toy, dtype):
    """Split over processes (one thread each) and joined: the networks are independent."""
    X, y, _, _ = toy
    one = sgd(toy, 5, dtype=dtype)
    two = sgd(toy, 5, dtype=dtype, workers=2)
    adam1 = training.train_adam(X, y, 5, 4, steps=20, seed=2, n_classes=3, dtype=dtype)
    adam3 = training.train_adam(X, y, 5, 4, steps=20, seed=2, n_classes=3, dtype=dtype, workers=3)  # 2 of 2
    for a, b in ((one, two), (adam1, adam3)):
        assert all(torch.equal(a.params[k], b.params[k]) for k in training.PARAM_NAMES)
        assert all(a.params[k].dtype == dtype for k in training.PARAM_NAMES)
        assert np.array_equal(a.nets, b.nets)
        assert all(np.array_equal(a.losses[k], b.losses[k]) for k in a.losses)
        assert np.array_equal(a.grad_norm, b.grad_norm) and np.array_equal(a.grad_norm_init, b.grad_norm_init)
        assert b.flops == pytest.approx(a.flops)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 200])
@pytest.mark.parametrize("rows", [1, 100, 512])
def test_net_groups_cover_the_networks_in_order_two_or_more_a_group(n, rows):
    p, _ = training.init_relu_nets(3, 500, 2, nets=n)
    groups = training._net_groups(p, rows)
    assert [i for s in groups for i in range(n)[s]] == list(range(n))
    assert all(s.stop - s.start >= min(2, n) for s in groups)
    assert all((s.stop - s.start) * rows * 500 <= max(training._CACHE_ENTRIES, 2 * rows * 500) for s in groups)
    assert (len(groups) == 1) == (n * rows * 500 <= training._CACHE_ENTRIES or n < 4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_groups_of_networks_give_the_same_numbers_to_the_last_bit(toy, dtype, monkeypatch):
    """Networks taken a few at a time (to stay in cache) or all at once: every number identical in float64.

    In float32 torch's batched product can round a last bit differently for another count
    of matrices (Adam's full-batch products here): 1e-5 relative is allowed there.
    """
    X, y, Xe, ye = toy

    def everything():
        s = sgd(toy, 7, dtype=dtype)
        a = training.train_adam(X, y, 5, 7, steps=20, seed=2, n_classes=3, dtype=dtype, weight_decay=1e-3)
        return s, a, training.per_sample_loss(s.params, Xe, ye), training.gradient_norm(a.params, X, y, 1e-3)

    monkeypatch.setattr(training, "_CACHE_ENTRIES", 10**9)
    whole = everything()
    monkeypatch.setattr(training, "_CACHE_ENTRIES", 1)  # groups of 2 or 3 networks
    assert len(training._net_groups(whole[0].params, 7)) == 3
    grouped = everything()
    def same(a, b):
        return np.array_equal(a, b) if dtype == torch.float64 else np.allclose(a, b, rtol=1e-5, atol=0)

    for a, b in zip(whole[:2], grouped[:2]):
        assert all(same(a.params[k].numpy(), b.params[k].numpy()) for k in training.PARAM_NAMES)
        assert all(same(a.losses[k], b.losses[k]) for k in a.losses)
        assert same(a.grad_norm, b.grad_norm) and same(a.grad_norm_init, b.grad_norm_init)
    assert same(whole[2], grouped[2]) and same(whole[3], grouped[3])
    assert np.array_equal(whole[0].params["W1"].numpy(), grouped[0].params["W1"].numpy())  # and SGD's, measured


def test_concat_runs_refuses_runs_that_do_not_fit(toy):
    with pytest.raises(TypeError, match="TrainingRun"):
        training.concat_runs([])
    with pytest.raises(ValueError, match="checkpoints"):
        training.concat_runs([sgd(toy, [0]), sgd(toy, [1], checkpoints=[3])])
    with pytest.raises(ValueError, match="workers"):
        sgd(toy, 2, workers=0)


def test_losses_decrease_and_gradients_shrink(toy):
    run = sgd(toy, 5, epochs=40)
    assert run.losses["train"].shape == (3, 5)
    assert np.all(run.losses["train"][-1] < 0.7 * run.losses["train"][0])
    assert np.all(run.grad_norm < run.grad_norm_init)
    np.testing.assert_array_equal(run.checkpoints, [0, 2, 40])


def test_recorded_losses_match_per_net_loss(toy):
    X, y, Xe, ye = toy
    run = sgd(toy, 3)
    np.testing.assert_allclose(training.per_net_loss(run.params, X, y), run.losses["train"][-1], rtol=1e-12)
    np.testing.assert_allclose(training.per_net_loss(run.params, Xe, ye), run.losses["test"][-1], rtol=1e-12)


@pytest.mark.parametrize("train", ["sgd", "adam"])
def test_start_and_end_losses_from_the_gradient_pass_over_several_chunks_and_groups(toy, train, monkeypatch):
    """The start and end training losses come from the grouped gradient passes, summed over chunks
    of samples: in float64 the same numbers as per_net_loss, which takes neither groups nor that pass."""
    X, y, _, _ = toy
    monkeypatch.setattr(training, "_CHUNK", 7)  # 30 samples: chunks of 7, 7, 7, 7 and 2
    monkeypatch.setattr(training, "_CACHE_ENTRIES", 1)  # groups of 2 or 3 networks
    if train == "sgd":
        run = sgd(toy, 7)
        start, _ = training.init_relu_nets(6, 4, 3, nets=7, seed=5, dtype=torch.float64)
    else:
        run = training.train_adam(X, y, 5, 7, steps=10, seed=2, n_classes=3, dtype=torch.float64)
        start, _ = training.init_relu_nets(6, 5, 3, nets=7, seed=2, dtype=torch.float64)
    assert np.array_equal(run.losses["train"][0], training.per_net_loss(start, X, y))
    assert np.array_equal(run.losses["train"][-1], training.per_net_loss(run.params, X, y))
    assert np.array_equal(run.grad_norm_init, training.gradient_norm(start, X, y, 0.0 if train == "sgd" else 1e-4))


def test_adam_records_each_checkpoint_once_in_order(toy):
    X, y, Xe, ye = toy
    run = training.train_adam(X, y, 5, 3, steps=12, seed=2, n_classes=3, dtype=torch.float64,
                              eval_sets={"test": (Xe, ye)}, checkpoints=[2, 11, 12])
    np.testing.assert_array_equal(run.checkpoints, [0, 2, 11, 12])
    assert run.losses["train"].shape == run.losses["test"].shape == (4, 3)
    np.testing.assert_allclose(run.losses["test"][-1], training.per_net_loss(run.params, Xe, ye), rtol=1e-12)
    start, _ = training.init_relu_nets(6, 5, 3, nets=3, seed=2, dtype=torch.float64)
    np.testing.assert_allclose(run.losses["test"][0], training.per_net_loss(start, Xe, ye), rtol=1e-12)
    assert np.all(np.diff(run.losses["train"], axis=0) != 0)  # four different points, none twice


def test_run_flops_count_the_products_once(toy):
    """Training, the two gradient passes (whose forward gives the start and end training loss),
    and the forward passes of the other checkpoints and of the evaluation sets."""
    X, y, Xe, ye = toy
    run = sgd(toy, 5)  # 6 epochs, checkpoints 0, 2, 6; 30 training and 12 test samples
    d, h, k, n = 6, 4, 3, 5
    train, forward = 4 * d * h + 6 * h * k, 2 * (d * h + h * k)
    assert run.flops == n * (train * 30 * (6 + 2) + forward * (30 * 1 + 12 * 3))


def test_per_sample_loss_against_a_loop_and_its_mean(toy, monkeypatch):
    X, y, Xe, ye = toy
    run = sgd(toy, 3)
    monkeypatch.setattr(training, "_CHUNK", 7)  # several chunks, the last one short
    per = training.per_sample_loss(run.params, Xe, ye)
    assert per.shape == (3, len(Xe))
    np.testing.assert_allclose(per.mean(axis=1), training.per_net_loss(run.params, Xe, ye), rtol=1e-6)
    for k in range(3):  # the oracle: one network, one sample at a time, by hand
        W1, b1, W2, b2 = (run.params[n][k].double().numpy() for n in ("W1", "b1", "W2", "b2"))
        logits = np.maximum(Xe @ W1.T + b1, 0) @ W2.T + b2
        logz = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
        np.testing.assert_allclose(per[k], logz - logits[np.arange(len(ye)), ye], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="per_sample_loss"):
        training.per_sample_loss(run.params, Xe, ye[:5])


def test_same_seed_same_numbers_other_seed_other_numbers(toy):
    a, b = sgd(toy, 3), sgd(toy, 3)
    np.testing.assert_array_equal(a.losses["train"], b.losses["train"])
    c = sgd(toy, 3, seed=6)
    assert not np.allclose(a.losses["train"][-1], c.losses["train"][-1])


def test_each_net_has_its_own_order(toy):
    """Same initialisation is impossible to arrange, but two nets never share a trajectory."""
    run = sgd(toy, 3)
    assert len(np.unique(np.round(run.losses["train"][-1], 12))) == 3


def test_gradient_norm_against_autograd_of_one_net(toy):
    X, y, _, _ = toy
    p, _ = training.init_relu_nets(6, 4, 3, nets=2, seed=1, dtype=torch.float64)
    wd = 0.3
    H_free = training.gradient_norm(p, X, y, weight_decay=wd)
    q = {k: v[1:2].clone().requires_grad_() for k, v in p.items()}
    loss = training._ce(q, torch.tensor(X), torch.tensor(y))[0]
    loss = loss + 0.5 * wd * (q["W1"].pow(2).sum() + q["W2"].pow(2).sum())
    grads = torch.autograd.grad(loss, [q[k] for k in training.PARAM_NAMES])
    assert H_free[1] == pytest.approx(float(torch.sqrt(sum(g.pow(2).sum() for g in grads))), rel=1e-12)


@pytest.mark.parametrize("shared", [True, False])
def test_hand_gradients_equal_autograd(shared):
    g = np.random.default_rng(3)
    p, _ = training.init_relu_nets(5, 7, 4, nets=3, seed=1, dtype=torch.float64)
    X = torch.tensor(g.standard_normal((20, 5) if shared else (3, 20, 5)))
    y = torch.tensor(g.integers(0, 4, 20 if shared else (3, 20)))
    q = {k: v.clone().requires_grad_() for k, v in p.items()}
    auto = torch.autograd.grad(training._ce(q, X, y).sum(), [q[k] for k in training.PARAM_NAMES])
    hand = training._ce_grads(p, X, y)
    for k, a in zip(training.PARAM_NAMES, auto):
        np.testing.assert_allclose(hand[k].numpy(), a.numpy(), rtol=1e-12, atol=1e-14)


def _autograd_hessian(p, net, X, y, weight_decay):
    """The oracle: torch's Hessian of the same objective, the function flattened by hand."""
    one = {k: p[k][net:net + 1].detach().to(torch.float64) for k in training.PARAM_NAMES}
    shapes = [one[k].shape for k in training.PARAM_NAMES]
    sizes = [int(np.prod(s)) for s in shapes]
    theta = torch.cat([one[k].reshape(-1) for k in training.PARAM_NAMES])
    Xt, yt = torch.tensor(X, dtype=torch.float64), torch.tensor(y)

    def objective(t):
        q = dict(zip(training.PARAM_NAMES, (c.reshape(s) for c, s in zip(torch.split(t, sizes), shapes))))
        wd = 0.5 * weight_decay * (q["W1"].pow(2).sum() + q["W2"].pow(2).sum())
        return training._ce(q, Xt, yt)[0] + wd

    return torch.autograd.functional.hessian(objective, theta).numpy()


@pytest.mark.parametrize("weight_decay", [0.0, 0.3])
def test_closed_form_hessian_equals_autograd(weight_decay):
    g = np.random.default_rng(7)
    X = g.standard_normal((30, 5))
    y = g.integers(0, 3, 30)
    p, _ = training.init_relu_nets(5, 4, 3, nets=3, seed=2, dtype=torch.float64)
    for net in range(3):
        H = training.hessian(p, net, X, y, weight_decay=weight_decay)
        np.testing.assert_allclose(H, _autograd_hessian(p, net, X, y, weight_decay), rtol=0, atol=1e-13)


def test_hessian_against_finite_differences_of_the_gradient(toy):
    X, y, _, _ = toy
    p, _ = training.init_relu_nets(6, 4, 3, nets=2, seed=1, dtype=torch.float64)
    H = training.hessian(p, 1, X, y, weight_decay=0.1)
    assert H.shape == (4 * 6 + 4 + 3 * 4 + 3,) * 2
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    theta = torch.cat([p[k][1].reshape(-1) for k in training.PARAM_NAMES])
    shapes = [p[k][1:2].shape for k in training.PARAM_NAMES]
    sizes = [int(np.prod(s)) for s in shapes]
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def grad(t):
        t = t.clone().requires_grad_()
        q = dict(zip(training.PARAM_NAMES, (c.reshape(s) for c, s in zip(torch.split(t, sizes), shapes))))
        f = training._ce(q, Xt, yt)[0] + 0.05 * (q["W1"].pow(2).sum() + q["W2"].pow(2).sum())
        return torch.autograd.grad(f, t)[0]

    e = torch.zeros_like(theta)
    for j in (0, 10, 30, 42):
        e.zero_()
        e[j] = 1e-6
        fd = (grad(theta + e) - grad(theta - e)) / 2e-6
        np.testing.assert_allclose(H[:, j], fd.numpy(), atol=1e-6)


def test_training_flops_counts_matrix_products():
    # forward 2(dh + hk), backward 2dh + 4hk per sample; evaluation 2(dh + hk)
    assert training.training_flops(2, 3, 4, nets=5, train_samples=7, epochs=2) == 5 * 7 * 2 * (4 * 6 + 6 * 12)
    assert training.training_flops(2, 3, 4, 1, 0, 0, eval_samples=10, evaluations=3) == 3 * 10 * 2 * 18


@pytest.mark.parametrize(
    "kw, exc, word",
    [
        (dict(epochs=0), ValueError, "epochs"),
        (dict(batch_size=2.5), TypeError, "batch_size"),
        (dict(lr=-0.1), ValueError, "lr"),
        (dict(lr="fast"), TypeError, "lr"),
        (dict(checkpoints=[99]), ValueError, "checkpoints"),
        (dict(dtype=torch.int32), TypeError, "dtype"),
        (dict(seed=1.5), TypeError, "seed"),
        (dict(eval_sets={"train": (np.zeros((2, 6)), np.zeros(2, int))}), ValueError, "eval_sets"),
    ],
)
def test_bad_arguments_raise_naming_them(toy, kw, exc, word):
    with pytest.raises(exc, match=word):
        sgd(toy, 2, **kw)


def test_bad_data_raise(toy):
    X, y, _, _ = toy
    with pytest.raises(ValueError, match="y must"):
        training.train_sgd(X, y.astype(float), 3, 2, epochs=1, batch_size=5, lr=0.1, n_classes=3)
    with pytest.raises(ValueError, match="labels"):
        training.train_sgd(X, y + 5, 3, 2, epochs=1, batch_size=5, lr=0.1, n_classes=3)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        training.train_sgd(Xn, y, 3, 2, epochs=1, batch_size=5, lr=0.1, n_classes=3)
    with pytest.raises(ValueError, match="nets"):
        training.train_sgd(X, y, 3, [], epochs=1, batch_size=5, lr=0.1, n_classes=3)
    with pytest.raises(ValueError, match="weight_decay"):
        training.train_adam(X, y, 3, 2, steps=1, weight_decay=-1.0, n_classes=3)
    p, _ = training.init_relu_nets(6, 3, 3, nets=2)
    with pytest.raises(ValueError, match="net must"):
        training.hessian(p, 2, X, y)
    with pytest.raises(TypeError, match="params"):
        training.per_net_loss({"W1": p["W1"]}, X, y)


def test_negative_eigenvalues_at_most_the_bound():
    g = np.random.default_rng(5)
    X = g.standard_normal((40, 6))
    y = g.integers(0, 4, 40)
    bound = training.negative_eigenvalue_bound(5, 4)
    assert bound == 15
    p, _ = training.init_relu_nets(6, 5, 4, nets=3, seed=1, dtype=torch.float64)
    counts = []
    for k in range(3):
        ev = np.linalg.eigvalsh(training.hessian(p, k, X, y))
        counts.append(int(np.sum(ev < -1e-10 * ev[-1])))
    assert max(counts) <= bound
    assert max(counts) > 0  # the bound is not vacuous: there are negative directions
    with pytest.raises(ValueError, match="hidden"):
        training.negative_eigenvalue_bound(0)


def _mse_grads(Ws, X, Y):
    """Gradient of mean_s ||Y_s - Phi(x_s)||^2 for a bias-free ReLU network, by hand."""
    hs, h = [X], X
    for W in Ws[:-1]:
        h = np.maximum(h @ W.T, 0)
        hs.append(h)
    delta = 2 * (h @ Ws[-1].T - Y) / len(X)  # d loss / d output
    grads = [None] * len(Ws)
    for k in range(len(Ws) - 1, -1, -1):
        grads[k] = delta.T @ hs[k]
        delta = (delta @ Ws[k]) * (hs[k] > 0)
    return grads


def test_train_bias_free_mse_matches_a_numpy_adam_reference():
    g = np.random.default_rng(8)
    widths, steps, lr = [5, 4, 3, 2], 7, 0.01
    X, Y = g.random((20, 5)), np.eye(2)[g.integers(0, 2, 20)]
    init, middle, end = training.train_bias_free_mse(widths, X, Y, steps, seed=9, lr=lr)
    g0 = np.random.default_rng(9)
    Ws = [g0.standard_normal((widths[k + 1], widths[k])) * np.sqrt(2 / widths[k]) for k in range(3)]
    for a, b in zip(init, Ws):
        np.testing.assert_array_equal(a, b)
    m1, m2 = [np.zeros_like(W) for W in Ws], [np.zeros_like(W) for W in Ws]
    for t in range(1, steps + 1):  # Adam with torch's defaults
        for k, G in enumerate(_mse_grads(Ws, X, Y)):
            m1[k] = 0.9 * m1[k] + 0.1 * G
            m2[k] = 0.999 * m2[k] + 0.001 * G**2
            denom = np.sqrt(m2[k] / (1 - 0.999**t)) + 1e-8
            Ws[k] = Ws[k] - lr * (m1[k] / (1 - 0.9**t)) / denom
        if t - 1 == steps // 2:
            for a, b in zip(middle, Ws):
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    for a, b in zip(end, Ws):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_train_bias_free_mse_same_seed_same_weights_and_errors():
    g = np.random.default_rng(10)
    X, Y = g.random((12, 3)), np.eye(2)[g.integers(0, 2, 12)]
    a = training.train_bias_free_mse([3, 4, 2], X, Y, 5, seed=1)
    b = training.train_bias_free_mse([3, 4, 2], X, Y, 5, seed=np.random.default_rng(1))
    c = training.train_bias_free_mse([3, 4, 2], X, Y, 5, seed=2)
    for u, v, w in zip(a[2], b[2], c[2]):
        np.testing.assert_array_equal(u, v)
        assert not np.array_equal(u, w)
    with pytest.raises(ValueError, match="X must"):
        training.train_bias_free_mse([4, 4, 2], X, Y, 5)
    with pytest.raises(ValueError, match="Y must"):
        training.train_bias_free_mse([3, 4, 3], X, Y, 5)
    with pytest.raises(ValueError, match="steps"):
        training.train_bias_free_mse([3, 4, 2], X, Y, 0)
    with pytest.raises(ValueError, match="lr"):
        training.train_bias_free_mse([3, 4, 2], X, Y, 5, lr=-1.0)


def test_gauss_newton_is_psd_and_the_rest_is_the_residual_blocks():
    """Oracle: H - G equals the residual term built by hand, block by block."""
    g = np.random.default_rng(4)
    d, h, k, m = 4, 3, 3, 20
    X, y = g.standard_normal((m, d)), g.integers(0, k, m)
    p, _ = training.init_relu_nets(d, h, k, 2, seed=1, dtype=torch.float64)
    H, G = training.hessian(p, 1, X, y), training.gauss_newton(p, 1, X, y)
    assert np.linalg.eigvalsh(G).min() > -1e-12
    W1, b1, W2, b2 = (p[n][1].numpy() for n in ("W1", "b1", "W2", "b2"))
    a = X @ W1.T + b1
    z = np.maximum(a, 0) @ W2.T + b2
    prob = np.exp(z - z.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    r = prob - np.eye(k)[y]  # softmax residuals, rows sum to zero
    R = np.zeros_like(H)
    o2 = h * d + h  # W2 starts here, row-major (k, h)
    for j in range(h):
        xa = np.hstack([X, np.ones((m, 1))]) * (a[:, j] > 0)[:, None]  # (m, d + 1)
        M = r.T @ xa / m  # (k, d + 1): d/dW2[c, j] d/d(W1[j], b1[j])
        rows = [o2 + c * h + j for c in range(k)]
        cols = [j * d + i for i in range(d)] + [h * d + j]
        R[np.ix_(rows, cols)] = M
        R[np.ix_(cols, rows)] = M.T
    np.testing.assert_allclose(H - G, R, atol=1e-12)
    assert np.sum(np.linalg.eigvalsh(R) < -1e-12) <= training.negative_eigenvalue_bound(h, k)
    with pytest.raises(ValueError, match="net"):
        training.gauss_newton(p, 2, X, y)
