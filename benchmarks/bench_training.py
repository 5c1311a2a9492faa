"""Batched training of many one-hidden-layer ReLU networks (chapter 8, 08_network_minima).

    .venv/bin/python benchmarks/bench_training.py

One epoch of minibatch SGD (batch 100, 1200 digits) for 200 networks of each hidden
size, as in the chapter's full run: ``tensordl.training.train_sgd`` (all networks as
one batched computation) against a Python loop that trains the networks one at a
time with the same function. The FLOP count is that of the matrix products
(``training.training_flops``: forward, backward and the checkpoint evaluations);
the achieved rate is reported beside each time. Writes ``results/training.json``.
"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median_time, write  # noqa: E402

from tensordl import data, training  # noqa: E402

NETS, LOOP_NETS = 200, 20


def main():
    torch.set_num_threads(2)
    X, y = data.digits()
    Xtr, ytr = X[:1200], y[:1200]
    cases, targets = [], []
    for h in (25, 100, 500):
        def batched(h=h):
            return training.train_sgd(Xtr, ytr, h, NETS, epochs=1, batch_size=100, lr=0.1)

        def loop(h=h):
            return [training.train_sgd(Xtr, ytr, h, [k], epochs=1, batch_size=100, lr=0.1)
                    for k in range(LOOP_NETS)]

        flops = batched().flops
        t_b = median_time(batched, 3)
        t_l = median_time(loop, 3) * NETS / LOOP_NETS
        cases.append({"case": f"one epoch of SGD, {NETS} networks of {h} hidden units "
                              f"({flops / 1e9:.1f} GFLOP with the start and end evaluations)",
                      "rows": [{"method": f"train_sgd, networks batched (ours), "
                                          f"{flops / t_b / 1e9:.0f} GFLOP/s", "median_s": t_b},
                               {"method": f"train_sgd one network at a time (timed on {LOOP_NETS}, "
                                          f"scaled to {NETS}), {flops / t_l / 1e9:.1f} GFLOP/s",
                                "median_s": t_l}]})
        targets.append({"what": f"one at a time / batched, {h} units", "ratio": t_l / t_b,
                        "min": 3 if h <= 100 else None})
    write("training", "Batched training of one-hidden-layer networks (chapter 8, network minima)",
          "benchmarks/bench_training.py", 3, cases, targets)


if __name__ == "__main__":
    main()
