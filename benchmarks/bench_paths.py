"""Path enumeration: compiled (numba) against the strongest numpy enumeration, near the machine's limit.

    .venv/bin/python benchmarks/bench_paths.py

Both enumerations compute the outputs of a bias-free ReLU network by forming the term
of every path for every sample and adding it, with the gates decided by the slide's
recursion (the gates of layer K are the signs of the enumerated sums of the paths that
end there). The numpy one (``paths._path_sum_numpy``) builds the gated inputs of all
paths with broadcast multiplies by the gate masks and sums them against the path tensor
with one matrix product per layer; the compiled one (``paths.path_sum``) walks the paths
in order keeping prefix products. The machine's limit is the kernel's count of
floating-point operations over the rate of a simple compiled FMA loop (``common.fma_peak``).
The numpy peer is timed with BLAS on all threads and on one (the faster is the target's
peer); the enumeration as issue 19 first wrote it (every term formed by one broadcast,
then summed) and the forward pass (dynamic programming) are shown as illustrations. The cost against
size is timed over two decades of paths x inputs, the log-log exponent fitted, and the
plot drawn into ``book/_static``. Writes ``results/paths.json``, rendered by the book's
Performance page.
"""

import sys
from pathlib import Path

import numba
import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fit_exponent, fma_peak, median_time, plot_scaling, write  # noqa: E402

from tensordl import data, paths  # noqa: E402
from tensordl.paths import _path_sum_numpy  # noqa: E402

NOTES = (
    "Both enumerations form the term of every path for every sample and add it, the gates decided by "
    "the slide's recursion (the gates of a hidden layer are the signs of the enumerated sums of the paths "
    "that end there); numpy builds the gated inputs of all paths with broadcast multiplies by the gate "
    "masks and sums them against the path tensor with one matrix product per layer, the compiled kernel "
    "walks the paths in order keeping prefix products, with its loops over samples innermost. Forming every "
    "term in memory with one broadcast before summing (issue 19's first version) is shown as an illustration. "
    "Summing the paths through a unit before applying its gate is the forward pass (dynamic programming), "
    "shown as an illustration: no enumeration competes with it."
)
CASES = [([8, 16, 16, 16, 1], 1000, 7), ([8, 16, 16, 16, 16, 1], 200, 5)]
SCALING_WIDTHS = [8, 16, 16, 16, 1]
SCALING_INPUTS = [64 * 2**k for k in range(8)]  # 64 to 8192: paths x inputs over two decades
COMPILED = "compiled enumeration (numba, all threads)"
NUMPY = "numpy enumeration (gated inputs × path tensor, BLAS, all threads)"
NUMPY_1 = "numpy enumeration (gated inputs × path tensor, BLAS, 1 thread)"
BROADCAST = "numpy enumeration, terms formed by one broadcast and summed (issue 19's version)"


def enumeration_ops(widths):
    """Floating-point operations per sample of the compiled enumeration, gates included.

    For each layer ``K = 1 .. d`` (the hidden layers for their gates, then the output)
    one multiply-add per path ending at layer ``K`` (its term), and one multiply per
    prefix ``(l_0, ..., l_j)``, ``1 <= j < K``, for its gated input.
    """
    prefix = np.cumprod(widths)  # prefix[j]: paths from the inputs to layer j
    return int(sum(prefix[K] + prefix[1:K].sum() for K in range(1, len(widths))))


def numpy_one_broadcast(weights, X, budget=2**17):
    """The enumeration as issue 19 first wrote it: the terms ``H[s, p] * P[p, j]`` formed by one broadcast, then summed.

    The gated inputs ``H`` are built as in ``paths._path_sum_numpy``; the sum over the
    paths is ``(H[:, :, None] * P[None]).sum(axis=1)`` instead of a matrix product.
    An illustration: it writes every term to memory before adding it.
    """
    tensors = []  # P_K[(l_{K-1}, ..., l_0), l_K]: the path tensor of the first K layers
    for K in range(1, len(weights) + 1):
        T = paths.path_tensor(weights[:K])
        tensors.append(T.transpose(tuple(reversed(range(T.ndim)))).reshape(T.shape[-1], -1).T)
    chunk = max(1, budget // tensors[-1].shape[0])
    out = np.empty((X.shape[0], weights[-1].shape[0]))
    for s in range(0, X.shape[0], chunk):
        H = X[s : s + chunk]
        for K, P in enumerate(tensors, start=1):
            z = (H[:, :, None] * P[None]).sum(axis=1)
            if K < len(tensors):
                H = ((z > 0.0).astype(np.float64)[:, :, None] * H[:, None, :]).reshape(H.shape[0], -1)
        out[s : s + chunk] = z
    return out


def one_thread(f):
    def run():
        before = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            return f()
        finally:
            numba.set_num_threads(before)

    return run


def one_blas_thread(f):
    def run():
        with threadpool_limits(limits=1, user_api="blas"):
            return f()

    return run


def check(W, X):
    ref = paths.forward(W, X)
    scale = max(np.abs(ref).max(), 1e-300)
    for f in (paths.path_sum, _path_sum_numpy, numpy_one_broadcast):
        assert np.abs(f(W, X) - ref).max() / scale < 1e-9, f.__name__


def time_case(W, X, repeats):
    return {
        COMPILED: median_time(lambda: paths.path_sum(W, X), repeats),
        "compiled enumeration (numba, 1 thread)": median_time(one_thread(lambda: paths.path_sum(W, X)), repeats),
        NUMPY: median_time(lambda: _path_sum_numpy(W, X), repeats),
        NUMPY_1: median_time(one_blas_thread(lambda: _path_sum_numpy(W, X)), repeats),
        BROADCAST: median_time(lambda: numpy_one_broadcast(W, X), 3),
        "forward pass, numpy (dynamic programming; not an enumeration)": median_time(
            lambda: paths.forward(W, X), 10 * repeats
        ),
    }


def scaling():
    W = data.random_network(SCALING_WIDTHS, seed=0)
    n_paths = paths.count_paths(SCALING_WIDTHS)
    series = {COMPILED: [], NUMPY: []}
    for n in SCALING_INPUTS:
        X = data.random_inputs(n, SCALING_WIDTHS[0], seed=1)
        check(W, X)
        series[COMPILED].append(median_time(lambda X=X: paths.path_sum(W, X), 5))
        series[NUMPY].append(median_time(lambda X=X: _path_sum_numpy(W, X), 3))
    sizes = [n_paths * n for n in SCALING_INPUTS]
    out = {
        "what": f"widths {SCALING_WIDTHS} ({n_paths} paths), {SCALING_INPUTS[0]} to {SCALING_INPUTS[-1]} inputs",
        "size": "paths × inputs",
        "theory": 1,
        "series": [
            {"method": m, "sizes": sizes, "median_s": t, "exponent": fit_exponent(sizes, t)}
            for m, t in series.items()
        ],
    }
    out["plot"] = plot_scaling("paths", out)
    return out


def main():
    peak = fma_peak()
    cases, targets, limits = [], [], []
    for widths, n, repeats in CASES:
        W = data.random_network(widths, seed=0)
        X = data.random_inputs(n, widths[0], seed=1)
        check(W, X)
        t = time_case(W, X, repeats)
        n_paths = paths.count_paths(widths)
        label = f"widths {widths}, {n} inputs ({n_paths} paths)"
        cases.append({"case": label, "rows": [{"method": k, "median_s": v} for k, v in t.items()]})
        ops = enumeration_ops(widths) * n
        limits.append(
            {
                "case": label,
                "path_samples": n_paths * n,
                "ops": ops,
                "limit_s": ops / peak,
                "gpath_samples_per_s": n_paths * n / t[COMPILED] / 1e9,
                "fraction_of_limit": ops / peak / t[COMPILED],
            }
        )
        main_case = (widths, n) == tuple(CASES[0][:2])
        targets.append(
            {
                "what": f"compiled / faster numpy enumeration (BLAS), {label}",
                "ratio": min(t[NUMPY], t[NUMPY_1]) / t[COMPILED],
                "min": 20 if main_case else None,
            }
        )
        targets.append(
            {
                "what": f"compiled / numpy enumeration by one broadcast, {label}",
                "ratio": t[BROADCAST] / t[COMPILED],
                "min": None,
            }
        )
    write(
        "paths",
        "Path enumeration (chapter 1)",
        "benchmarks/bench_paths.py",
        "3 to 70",
        cases,
        targets,
        notes=NOTES,
        peak={"what": "simple compiled FMA loop (numba, all threads, from L1)", "fma_per_s": peak},
        limits=limits,
        scaling=[scaling()],
    )


if __name__ == "__main__":
    main()
