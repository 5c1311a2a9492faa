"""Path enumeration: compiled (numba) against vectorised numpy, and against the forward pass.

    .venv/bin/python benchmarks/bench_paths.py

All three compute the outputs of a bias-free ReLU network; the two enumerations
visit every path and compute the gates by the slide's recursion, the forward pass
is three or four matrix products. Writes ``results/paths.json``, rendered by the
book's Performance page.
"""

import sys
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median_time, write  # noqa: E402

from tensordl import data, paths  # noqa: E402
from tensordl.paths import _path_sum_numpy  # noqa: E402

CASES = [([8, 16, 16, 16, 1], 1000, 7), ([8, 16, 16, 16, 16, 1], 200, 3)]


def one_thread(f):
    def run():
        before = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            return f()
        finally:
            numba.set_num_threads(before)

    return run


def time_case(W, X, repeats):
    return {
        "compiled enumeration (numba, all threads)": median_time(lambda: paths.path_sum(W, X), repeats),
        "compiled enumeration (numba, 1 thread)": median_time(one_thread(lambda: paths.path_sum(W, X)), repeats),
        "vectorised numpy enumeration": median_time(lambda: _path_sum_numpy(W, X), repeats),
        "forward pass (numpy)": median_time(lambda: paths.forward(W, X), 10 * repeats),
    }


def main():
    cases, targets = [], []
    for widths, n, repeats in CASES:
        W = data.random_network(widths, seed=0)
        X = data.random_inputs(n, widths[0], seed=1)
        ref = paths.forward(W, X)
        assert np.allclose(paths.path_sum(W, X), ref, rtol=1e-10, atol=1e-12)
        assert np.allclose(_path_sum_numpy(W, X), ref, rtol=1e-10, atol=1e-12)
        t = time_case(W, X, repeats)
        label = f"widths {widths}, {n} inputs ({paths.count_paths(widths)} paths)"
        cases.append({"case": label, "rows": [{"method": k, "median_s": v} for k, v in t.items()]})
        targets.append(
            {
                "what": f"compiled vs numpy enumeration, {label}",
                "ratio": t["vectorised numpy enumeration"] / t["compiled enumeration (numba, all threads)"],
                "min": 20,
            }
        )
    write(
        "paths",
        "Path enumeration (chapter 1)",
        "benchmarks/bench_paths.py",
        "3 to 7",
        cases,
        targets,
    )


if __name__ == "__main__":
    main()
