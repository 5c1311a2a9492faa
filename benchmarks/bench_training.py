"""Batched training of many one-hidden-layer ReLU networks (chapter 8): ours against a loop of torch.nn models.

    .venv/bin/python benchmarks/bench_training.py

One epoch of minibatch SGD (batch 100, step 0.1, 1200 digits, float32) for 200 networks
of each hidden size, as in the chapter's full run: ``tensordl.training.train_sgd`` (all
networks as one batched computation) against the peer a user would pick, a loop over
the networks with one ``torch.nn.Sequential`` and one ``torch.optim.SGD`` each, from
the same initial weights and on the same minibatches. Both return the same things: the
end weights, the full-batch training loss and gradient norm at the start and at the end.
The peer is timed on 20 networks and scaled to 200. Before timing, the peer's results on
3 networks are checked against ours: within 1e-10 relative in float64, 1e-4 in float32.
The FLOP count is that of the matrix products (``TrainingRun.flops``: forward, backward
and the start and end evaluations); the achieved rate is reported beside each time. The
cost against size is the time of the batched run against the number of networks (100
hidden units) and against the hidden width (200 networks), both linear in theory
(exponent 1) once the products dominate. Writes ``results/training.json``.
"""

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fit_exponent, median_time, plot_scaling, write  # noqa: E402

from tensordl import data, training  # noqa: E402

NETS, LOOP_NETS, CHECK_NETS = 200, 20, [0, 1, 2]
SAMPLES, BATCH, LR, EPOCHS = 1200, 100, 0.1, 1
HIDDEN = (25, 100, 500)
SCALING_NETS, SCALING_HIDDEN = [25, 50, 100, 200, 400], [25, 50, 100, 200, 400]
CHECK = {torch.float64: 1e-10, torch.float32: 1e-4}  # relative max difference of every result
OURS = "train_sgd, networks batched (ours)"
PEER = "loop of torch.nn.Sequential + torch.optim.SGD"


def ours(X, y, hidden, nets, dtype=torch.float32):
    return training.train_sgd(X, y, hidden, nets, epochs=EPOCHS, batch_size=BATCH, lr=LR, dtype=dtype)


def full_batch(model, X, y):
    """The mean cross-entropy on all of ``(X, y)`` and the norm of its gradient."""
    loss = torch.nn.functional.cross_entropy(model(X), y)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    return float(loss.detach()), float(torch.sqrt(sum(g.double().pow(2).sum() for g in grads)))


def peer(X, y, hidden, nets, dtype=torch.float32):
    """One ``torch.nn`` model and optimiser per network; its weights, its start and end loss and gradient norm."""
    Xt, yt = torch.as_tensor(X, dtype=dtype), torch.as_tensor(y)
    out = []
    for k in nets:
        p, (g,) = training.init_relu_nets(X.shape[1], hidden, 10, [k], dtype=dtype)  # the same start
        model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], hidden), torch.nn.ReLU(),
                                    torch.nn.Linear(hidden, 10)).to(dtype)
        with torch.no_grad():
            for layer, W, b in ((model[0], p["W1"][0], p["b1"][0]), (model[2], p["W2"][0], p["b2"][0])):
                layer.weight.copy_(W)
                layer.bias.copy_(b)
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        start = full_batch(model, Xt, yt)
        for _ in range(EPOCHS):
            order = torch.as_tensor(g.permutation(len(Xt)))  # the network's own minibatch order, as ours
            for i in range(0, len(Xt), BATCH):
                idx = order[i : i + BATCH]
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx]).backward()
                opt.step()
        out.append(([t.detach() for t in (model[0].weight, model[0].bias, model[2].weight, model[2].bias)],
                     start, full_batch(model, Xt, yt)))
    return out


def check(X, y, hidden, run, dtype):
    """The peer's results on ``CHECK_NETS`` against ``run`` (ours, whose first networks they are)."""
    tol = CHECK[dtype]
    for j, (params, start, end) in enumerate(peer(X, y, hidden, CHECK_NETS, dtype)):
        for name, ref in zip(training.PARAM_NAMES, params):
            got = run.params[name][j]
            err = float((got - ref).abs().max() / ref.abs().max())
            assert err < tol, f"{name} of network {j}, {hidden} units, {dtype}: {err:.1e}"
        mine = ((run.losses["train"][0, j], run.grad_norm_init[j]), (run.losses["train"][-1, j], run.grad_norm[j]))
        assert np.allclose(mine, (start, end), rtol=tol, atol=0), f"losses or gradient norms, {hidden} units"


def scaling(X, y):
    out = []
    t_nets = [median_time(lambda n=n: ours(X, y, 100, n), 3) for n in SCALING_NETS]
    t_hidden = [median_time(lambda h=h: ours(X, y, h, NETS), 3) for h in SCALING_HIDDEN]
    t_peer = [median_time(lambda h=h: peer(X, y, h, range(LOOP_NETS)), 3) * NETS / LOOP_NETS
              for h in SCALING_HIDDEN]
    for name, size, what, sizes, series in (
        ("training_nets", "networks", f"100 hidden units, {SCALING_NETS[0]} to {SCALING_NETS[-1]} networks",
         SCALING_NETS, {OURS: t_nets}),
        ("training_hidden", "hidden units", f"{NETS} networks, {SCALING_HIDDEN[0]} to {SCALING_HIDDEN[-1]} "
         f"hidden units (the loop timed on "
         f"{LOOP_NETS} networks, scaled)", SCALING_HIDDEN, {OURS: t_hidden, PEER: t_peer}),
    ):
        sc = {"what": f"one epoch of SGD, {what}", "size": size, "theory": 1,
              "series": [{"method": m, "sizes": sizes, "median_s": t, "exponent": fit_exponent(sizes, t)}
                         for m, t in series.items()]}
        sc["plot"] = plot_scaling(name, sc)
        out.append(sc)
    return out


def main():
    X, y = data.digits()
    X, y = X[:SAMPLES], y[:SAMPLES]
    check(X, y, 25, ours(X, y, 25, CHECK_NETS, torch.float64), torch.float64)
    cases, targets = [], []
    for h in HIDDEN:
        run = ours(X, y, h, NETS)
        check(X, y, h, run, torch.float32)
        t_ours = median_time(lambda h=h: ours(X, y, h, NETS), 3)
        t_peer = median_time(lambda h=h: peer(X, y, h, range(LOOP_NETS)), 3) * NETS / LOOP_NETS
        cases.append({"case": f"one epoch of SGD, {NETS} networks of {h} hidden units ({run.flops / 1e9:.1f} GFLOP "
                              "with the start and end evaluations)",
                      "rows": [{"method": f"{OURS}, {run.flops / t_ours / 1e9:.0f} GFLOP/s", "median_s": t_ours},
                               {"method": f"{PEER} (timed on {LOOP_NETS} networks, scaled to {NETS}), "
                                          f"{run.flops / t_peer / 1e9:.1f} GFLOP/s", "median_s": t_peer}]})
        # batching pays by sharing one dispatch per step among the networks: for small networks a user
        # would not bother for less than 3x; at 500 units the products dominate and batching must at least
        # not lose (both fixed before any run)
        targets.append({"what": f"torch.nn loop / batched, {h} units", "ratio": t_peer / t_ours,
                        "min": 3 if h <= 100 else 1})
    write("training", "Batched training of one-hidden-layer networks (chapter 8, network minima)",
          "benchmarks/bench_training.py", 3, cases, targets, scaling=scaling(X, y), notes=(
              "The peer trains the networks one at a time, each a torch.nn.Sequential (Linear, ReLU, Linear) with "
              "its own torch.optim.SGD, from the same initial weights and on the same minibatches, and computes "
              "what train_sgd returns (end weights; full-batch loss and gradient norm at the start and the end). "
              "Its results on 3 networks agree with ours within 1e-10 relative in float64 and 1e-4 in float32. "
              f"torch on {torch.get_num_threads()} threads."))


if __name__ == "__main__":
    main()
