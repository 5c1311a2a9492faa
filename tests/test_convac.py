"""Tests of tensordl.convac: the shallow (CP) and deep (HT) convolutional arithmetic circuits."""

import numpy as np
import pytest
import torch

from tensordl import convac


@pytest.mark.parametrize(("N", "M", "r"), [(4, 3, 2), (16, 2, 3), (128, 2, 2)])
def test_deep_conv_ac_has_n_m_r_plus_n_minus_2_r_squared_plus_r_parameters(N, M, r):
    """O(r^2 N): leaves N M r, inner transfers (N/2 + ... + 2) r^2 = (N - 2) r^2, top r (Y = 1)."""
    net = convac.DeepConvAC(N, M, [r] * (N.bit_length() - 1))
    assert net.n_parameters() == N * M * r + (N - 2) * r**2 + r


@pytest.mark.parametrize("shared", [False, True])
def test_conv_ac_forward_equals_the_contraction(shared):
    Phi = torch.randn(6, 8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    shallow = convac.ShallowConvAC(8, 3, K=4, Y=2, shared=shared, seed=1)
    deep = convac.DeepConvAC(8, 3, ranks=[2, 3, 2], Y=2, shared=shared, seed=1)
    for net in (shallow, deep):
        out = net(Phi).detach().numpy()
        assert np.allclose(out, convac.contract(net.tensor(), Phi.numpy()), rtol=1e-10, atol=1e-12)


def test_contract_in_chunks_equals_one_chunk():
    g = np.random.default_rng(6)
    A, Phi = g.standard_normal((2, 3, 3, 3, 3)), g.standard_normal((10, 4, 3))
    assert np.allclose(convac.contract(A, Phi, max_entries=1), convac.contract(A, Phi), rtol=1e-13)
    ref = np.einsum("yabcd,na,nb,nc,nd->ny", A, *[Phi[:, i] for i in range(4)])
    assert np.allclose(convac.contract(A, Phi), ref, rtol=1e-12)


def test_weight_sharing_symmetrises_cp_but_not_ht():
    shallow = convac.ShallowConvAC(4, 3, K=3, shared=True, seed=2).tensor()[0]
    deep = convac.DeepConvAC(4, 3, ranks=[3, 3], shared=True, seed=2).tensor()[0]
    across = (0, 2, 1, 3)  # swaps two patches that the tree pools at different nodes
    assert np.allclose(shallow, shallow.transpose(across)) and np.allclose(shallow, shallow.transpose(3, 2, 1, 0))
    assert not np.allclose(deep, deep.transpose(across), atol=1e-3 * np.abs(deep).max())
    assert np.allclose(deep, deep.transpose(1, 0, 2, 3))  # within a pooled pair shared weights do symmetrise


@pytest.mark.parametrize("kind", ["shallow", "deep"])
def test_log_forward_equals_forward_and_scales_exactly_where_forward_underflows(kind):
    def make(N):
        if kind == "shallow":
            return convac.ShallowConvAC(N, 3, K=5, Y=2, seed=4)
        return convac.DeepConvAC(N, 3, [2] * (N.bit_length() - 1), Y=2, seed=4)

    g = torch.Generator().manual_seed(5)
    Phi = torch.randn(20, 8, 3, dtype=torch.float64, generator=g)
    net = make(8)
    with torch.no_grad():
        h = net(Phi)
        sign, logabs = net.log_forward(Phi)
    assert torch.equal(sign, torch.sign(h))
    assert torch.allclose(logabs, torch.log(h.abs()), rtol=0, atol=1e-10)
    # N = 1024 with the first-layer weights scaled by 1e-3: forward gives 0, log space exactly N log(1e-3) less
    big, Phi_big = make(1024), torch.randn(6, 1024, 3, dtype=torch.float64, generator=g)
    with torch.no_grad():
        s1, l1 = big.log_forward(Phi_big)
        (big.a if kind == "shallow" else big.leaves).mul_(1e-3)
        s2, l2 = big.log_forward(Phi_big)
        assert torch.all(big(Phi_big) == 0)
    assert torch.equal(s1, s2) and torch.all(torch.isfinite(l2))
    assert torch.allclose(l2 - l1, torch.full_like(l1, 1024 * np.log(1e-3)), rtol=1e-12, atol=1e-8)


@pytest.mark.parametrize("kind", ["shallow", "deep"])
def test_log_space_loss_has_grad_h_over_h_and_per_input_scale_free_gradients(kind):
    """What chapter 5 says of a loss on log|h|: its gradient is grad h / h, finite where h underflows,
    and an input's contribution does not depend on its scale (relative, not absolute, errors)."""
    N = 64
    net = (convac.ShallowConvAC(N, 3, K=4, seed=2) if kind == "shallow"
           else convac.DeepConvAC(N, 3, [2] * 6, seed=2))
    g = torch.Generator().manual_seed(3)
    Phi = torch.randn(1, N, 3, dtype=torch.float64, generator=g)
    params = list(net.parameters())

    def grads(value):
        return torch.cat([v.reshape(-1) for v in torch.autograd.grad(value, params)])

    h = net(Phi)[0, 0]
    assert h != 0 and torch.isfinite(h)
    grad_h_over_h = grads(h) / h.detach()
    # features scaled by 1e-6: h scales by 1e-6^N = 1e-384 and underflows, log|h| does not
    tiny = Phi * 1e-6
    assert net(tiny)[0, 0] == 0 and torch.all(grads(net(tiny)[0, 0]) == 0)
    log_tiny = net.log_forward(tiny)[1][0, 0]
    assert torch.isfinite(log_tiny)
    assert torch.allclose(log_tiny, torch.log(h.abs()) + N * np.log(1e-6), rtol=1e-12, atol=0)
    assert torch.allclose(grads(log_tiny), grad_h_over_h, rtol=1e-8, atol=1e-12)
    # per-input gradient of the squared log loss against a target y = 2 h: the same at any scale s
    # of the input (target scaled alike, y(s x) = s^N y(x)); the squared loss on h scales as s^(2N)
    s = 1.5
    for_log = [grads(0.5 * (net.log_forward(Phi * c)[1][0, 0] - torch.log(2 * h.detach().abs() * c**N)) ** 2)
               for c in (1.0, s)]
    assert torch.allclose(for_log[0], for_log[1], rtol=1e-8, atol=1e-12)
    for_sq = [grads(0.5 * (net(Phi * c)[0, 0] - 2 * h.detach() * c**N) ** 2) for c in (1.0, s)]
    ratio = for_sq[1].norm() / for_sq[0].norm()
    assert torch.isclose(ratio, torch.tensor(s ** (2 * N), dtype=torch.float64), rtol=1e-6)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: convac.DeepConvAC(4, 3, ranks=[2]), "ranks must hold L"),
        (lambda: convac.ShallowConvAC(6, 3, K=2), "N must be a power of two"),
        (lambda: convac.ShallowConvAC(4, 3, K=2)(torch.ones(2, 4, 2, dtype=torch.float64)), "Phi must have shape"),
        (lambda: convac.contract(np.ones((3, 3)), np.ones((2, 2, 2))), "A must have shape"),
        (lambda: convac.contract(np.ones((3, 3)), np.ones((2, 3))), "Phi must have shape"),
    ],
)
def test_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_constructors_accept_numpy_integers():
    """Issue 18: sizes computed with numpy (np.int64) were rejected as 'not a power of two'."""
    a = convac.ShallowConvAC(np.int64(4), np.int64(3), K=np.int64(2), seed=0)
    b = convac.ShallowConvAC(4, 3, K=2, seed=0)
    assert a.n_parameters() == b.n_parameters()
    assert np.array_equal(a.tensor(), b.tensor())
    deep = convac.DeepConvAC(np.int64(4), 3, [np.int64(2), 2], seed=0)
    assert np.array_equal(deep.tensor(), convac.DeepConvAC(4, 3, [2, 2], seed=0).tensor())
    with pytest.raises(TypeError, match="K must be an integer"):
        convac.ShallowConvAC(4, 3, K=2.0)
    with pytest.raises(ValueError, match="N must be a power of two >= 2"):
        convac.ShallowConvAC(np.int64(6), 3, K=2)


def _decimal_scores(net, Phi):
    """Scores of a circuit in 60-digit decimal arithmetic (every float converted exactly)."""
    from decimal import Decimal

    P = [[[Decimal(float(v)) for v in row] for row in x] for x in Phi.numpy()]
    out = []
    if isinstance(net, convac.ShallowConvAC):
        a = net.a.detach().expand(net.N, -1, -1).numpy()
        alpha = [Decimal(float(v)) for v in net.alpha.detach().numpy()[:, 0]]
        for x in P:
            h = Decimal(0)
            for k in range(net.K):
                prod = Decimal(1)
                for n in range(net.N):
                    prod *= sum(x[n][m] * Decimal(float(a[n, m, k])) for m in range(net.M))
                h += alpha[k] * prod
            out.append(h)
        return out
    leaves = net.leaves.detach().expand(net.N, -1, -1).numpy()
    transfers = [A.detach().expand(net.N >> (lv + 1), -1, -1).numpy() for lv, A in enumerate(net.transfers)]
    for x in P:
        z = [
            [sum(x[n][m] * Decimal(float(leaves[n, m, r])) for m in range(net.M)) for r in range(leaves.shape[2])]
            for n in range(net.N)
        ]
        for A in transfers:
            z = [[z[2 * j][c] * z[2 * j + 1][c] for c in range(A.shape[1])] for j in range(len(z) // 2)]
            z = [
                [sum(z[j][c] * Decimal(float(A[j, c, o])) for c in range(A.shape[1])) for o in range(A.shape[2])]
                for j in range(len(z))
            ]
        out.append(z[0][0])
    return out


@pytest.mark.parametrize("kind", ["shallow", "deep"])
def test_log_forward_matches_60_digit_arithmetic_where_forward_underflows(kind):
    """log_forward's signed log|h| against an exact-to-60-digits evaluation at N = 1024 and 2048.

    There float64 scores underflow to 0, so the homogeneity check of the test above
    cannot tell a wrong but homogeneous evaluation; signed log-sum-exp could also lose
    accuracy to cancellation. The reference converts every weight and feature exactly
    to a 60-digit Decimal and multiplies and adds without rounding to float64.
    """
    from decimal import Decimal, localcontext

    g = np.random.default_rng(123)
    for N in (1024, 2048):
        if kind == "shallow":
            net = convac.ShallowConvAC(N, 3, K=4, seed=N)
        else:
            net = convac.DeepConvAC(N, 3, [2] * (N.bit_length() - 1), seed=N)
        F = g.standard_normal((3, N, 3))
        Phi = torch.tensor(np.sqrt(3) * F / np.linalg.norm(F, axis=2, keepdims=True))
        with torch.no_grad():
            sign, logabs = net.log_forward(Phi)
        with localcontext() as ctx:
            ctx.prec = 60
            ref = _decimal_scores(net, Phi)
            ref_log = [float(abs(h).ln()) for h in ref]
            ref_sign = [1.0 if h > 0 else -1.0 for h in ref]
        assert all(h != Decimal(0) for h in ref)
        assert np.all(net(Phi).detach().numpy() == 0) or N == 1024  # float64 underflows at N = 2048
        assert np.allclose(logabs[:, 0].numpy(), ref_log, rtol=0, atol=1e-9), (logabs[:, 0].numpy(), ref_log)
        assert np.array_equal(sign[:, 0].numpy(), ref_sign)


def _inline_lbfgs(net, Phi, y, steps):
    """The loop chapter 5 used to write inline: the oracle of fit_lbfgs."""
    opt = torch.optim.LBFGS(net.parameters(), max_iter=steps, tolerance_grad=1e-14, tolerance_change=1e-16,
                            history_size=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = ((net(Phi)[:, 0] - y) ** 2).mean()
        loss.backward()
        return loss

    opt.step(closure)
    return net


def test_fit_lbfgs_is_the_inline_loop_and_descends():
    g = torch.Generator().manual_seed(4)
    Phi = torch.randn(60, 4, 3, generator=g, dtype=torch.float64)
    with torch.no_grad():
        y = convac.DeepConvAC(4, 3, [2, 2], seed=1)(Phi)[:, 0]
    a, b = convac.DeepConvAC(4, 3, [2, 2], seed=7), convac.DeepConvAC(4, 3, [2, 2], seed=7)
    mse = convac.fit_lbfgs(a, Phi, y, 40, tolerance_grad=1e-14, tolerance_change=1e-16, history_size=50)
    _inline_lbfgs(b, Phi, y, 40)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    with torch.no_grad():
        assert mse == float(((b(Phi)[:, 0] - y) ** 2).mean())
    start = float(((convac.DeepConvAC(4, 3, [2, 2], seed=7)(Phi)[:, 0] - y) ** 2).mean().detach())
    assert mse < 1e-2 * start  # 40 iterations lower the error by two decades (a broken closure would not)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"max_iter": 0}, ValueError, "max_iter"),
        ({"max_iter": 5, "history_size": 0}, ValueError, "history_size"),
        ({"max_iter": 5, "tolerance_grad": -1.0}, ValueError, "tolerance_grad"),
        ({"max_iter": 5, "net": torch.nn.Linear(3, 1)}, TypeError, "net must be"),
    ],
)
def test_fit_lbfgs_errors_name_the_argument(kwargs, error, match):
    Phi = torch.ones(2, 4, 3, dtype=torch.float64)
    args = {"net": convac.ShallowConvAC(4, 3, K=2, seed=0), "Phi": Phi, "y": torch.zeros(2, dtype=torch.float64)}
    with pytest.raises(error, match=match):
        convac.fit_lbfgs(**{**args, **kwargs})
