"""Path enumeration: compiled (numba) against the strongest numpy enumeration, near the machine's limit.

    .venv/bin/python benchmarks/bench_paths.py

Both enumerations compute the outputs of a bias-free ReLU network by forming the term
of every path for every sample and adding it, with the gates decided by the slide's
recursion (the gates of layer K are the signs of the enumerated sums of the paths that
end there). The numpy one (``paths._path_sum_numpy``) forms the terms of all paths in
one matrix product per layer (gated inputs of the paths up to layer K-2 times the path
products up to layer K) and applies the gate of each path's last hidden unit after it;
the compiled one (``paths.path_sum``) walks the paths in order keeping prefix products.
The machine's limit is the kernel's count of floating-point operations over the rate of
the faster of a simple compiled FMA loop (``common.fma_peak``) and the BLAS's DGEMM
(``common.gemm_peak``); the largest ratio any enumeration could
reach against the numpy peer is the peer's time over that limit. The numpy peer is timed
with BLAS on all threads and on one (the faster is the target's peer); two weaker numpy
enumerations (the gate masks multiplied into the gated inputs before a matrix-vector
product, and issue 19's first version, every term formed by one broadcast, then summed)
and the forward pass (dynamic programming) are shown as illustrations. The cost against
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
from common import fit_exponent, fma_peak, gemm_peak, median_time, plot_scaling, write  # noqa: E402

from tensordl import data, paths  # noqa: E402
from tensordl.paths import _path_sum_numpy  # noqa: E402

NOTES = (
    "Every enumeration forms the term of every path for every sample and adds it, the gates decided by "
    "the slide's recursion (the gates of a hidden layer are the signs of the enumerated sums of the paths "
    "that end there). The strongest numpy enumeration multiplies the gated inputs of the paths up to layer "
    "K-2 by the path products up to layer K in one matrix product (one multiply-add per path and sample, "
    "at BLAS speed) and applies the gate of each path's last hidden unit after it; the "
    "compiled kernel walks the paths in order keeping prefix products, with its loops over samples innermost. "
    "Multiplying the gate masks into the gated inputs of all paths before a matrix-vector product (this "
    "page's peer until 2026-12-07), and forming every term in memory with one broadcast before summing "
    "(issue 19's first version), are shown as illustrations. "
    "Summing the paths through a unit before applying its gate is the forward pass (dynamic programming), "
    "shown as an illustration: no enumeration competes with it."
)
CASES = [([8, 16, 16, 16, 1], 1000, 7), ([8, 16, 16, 16, 16, 1], 200, 5)]
SCALING_WIDTHS = [8, 16, 16, 16, 1]
SCALING_INPUTS = [64 * 2**k for k in range(8)]  # 64 to 8192: paths x inputs over two decades
COMPILED = "compiled enumeration (numba, all threads)"
NUMPY = "numpy enumeration (matrix product, last gate after it; BLAS, all threads)"
NUMPY_1 = "numpy enumeration (matrix product, last gate after it; BLAS, 1 thread)"
MASKS = "numpy enumeration, gate masks multiplied into the gated inputs first (BLAS, all threads)"
BROADCAST = "numpy enumeration, terms formed by one broadcast and summed (issue 19's version)"


def enumeration_ops(widths):
    """Floating-point operations per sample of the compiled enumeration, gates included.

    For each layer ``K = 1 .. d`` (the hidden layers for their gates, then the output)
    one multiply-add per path ending at layer ``K`` (its term), and one multiply per
    prefix ``(l_0, ..., l_j)``, ``1 <= j < K``, for its gated input.
    """
    prefix = np.cumprod(widths)  # prefix[j]: paths from the inputs to layer j
    return int(sum(prefix[K] + prefix[1:K].sum() for K in range(1, len(widths))))


def numpy_gate_masks(weights, X, budget=2**17):
    """A weaker numpy enumeration: the gate masks multiplied into the gated inputs of all paths first.

    For layer ``K``, ``H[s, (l_{K-1}, ..., l_0)] = x_{l_0} g_1[l_1] ... g_{K-1}[l_{K-1}]``
    (one broadcast multiply by the gate masks of layer ``K-1`` per level) times the path
    tensor, ``z_K = H @ P_K``: at the output a matrix-vector product over every path.
    This page's numpy peer until ``paths._path_sum_numpy`` moved the last gate after
    the matrix product; an illustration.
    """
    tensors, T = [], np.ones((weights[0].shape[1], 1))
    for W in weights:  # T[l_K, (l_{K-1}, ..., l_0)] = prod_k W_k[l_{k+1}, l_k]
        T = (W[:, :, None] * T[None, :, :]).reshape(W.shape[0], -1)
        tensors.append(T.T)
    chunk = max(1, budget // tensors[-1].shape[0])
    out = np.empty((X.shape[0], weights[-1].shape[0]))
    for s in range(0, X.shape[0], chunk):
        H = X[s : s + chunk]
        for K, P in enumerate(tensors, start=1):
            z = H @ P
            if K < len(tensors):
                H = ((z > 0.0).astype(np.float64)[:, :, None] * H[:, None, :]).reshape(H.shape[0], -1)
        out[s : s + chunk] = z
    return out


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
    for f in (paths.path_sum, _path_sum_numpy, numpy_gate_masks, numpy_one_broadcast):
        assert np.abs(f(W, X) - ref).max() / scale < 1e-9, f.__name__


def time_case(W, X, repeats):
    return {
        COMPILED: median_time(lambda: paths.path_sum(W, X), repeats),
        "compiled enumeration (numba, 1 thread)": median_time(one_thread(lambda: paths.path_sum(W, X)), repeats),
        NUMPY: median_time(lambda: _path_sum_numpy(W, X), repeats),
        NUMPY_1: median_time(one_blas_thread(lambda: _path_sum_numpy(W, X)), repeats),
        MASKS: median_time(lambda: numpy_gate_masks(W, X), repeats),
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
    loop, gemm = fma_peak(), gemm_peak()  # measured again after the cases; the faster of each is kept
    cases, targets, timed = [], [], []
    for widths, n, repeats in CASES:
        W = data.random_network(widths, seed=0)
        X = data.random_inputs(n, widths[0], seed=1)
        check(W, X)
        t = time_case(W, X, repeats)
        n_paths = paths.count_paths(widths)
        label = f"widths {widths}, {n} inputs ({n_paths} paths)"
        cases.append({"case": label, "rows": [{"method": k, "median_s": v} for k, v in t.items()]})
        timed.append((label, n_paths * n, enumeration_ops(widths) * n, t))
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
                "what": f"compiled / numpy enumeration with the gate masks first, {label}",
                "ratio": t[MASKS] / t[COMPILED],
                "min": None,
            }
        )
        targets.append(
            {
                "what": f"compiled / numpy enumeration by one broadcast, {label}",
                "ratio": t[BROADCAST] / t[COMPILED],
                "min": None,
            }
        )
    loop, gemm = max(loop, fma_peak()), max(gemm, gemm_peak())
    peak = max(loop, gemm)
    limits = [
        {
            "case": label,
            "path_samples": path_samples,
            "ops": ops,
            "limit_s": ops / peak,
            "gpath_samples_per_s": path_samples / t[COMPILED] / 1e9,
            "fraction_of_limit": ops / peak / t[COMPILED],
            "peer_s": min(t[NUMPY], t[NUMPY_1]),
            "largest_ratio": min(t[NUMPY], t[NUMPY_1]) / (ops / peak),
        }
        for label, path_samples, ops, t in timed
    ]
    first = limits[0]
    notes = NOTES + (
        f" In this run the numpy peer of the first case took {first['peer_s'] * 1e3:.2g} ms against a limit of "
        f"{first['limit_s'] * 1e3:.2g} ms, so no enumeration could be more than {first['largest_ratio']:.2g} times "
        "faster than it on this machine: the 20× target cannot be met here by any kernel."
        if first["largest_ratio"] < 20
        else ""
    )
    write(
        "paths",
        "Path enumeration (chapter 1)",
        "benchmarks/bench_paths.py",
        "3 to 70",
        cases,
        targets,
        notes=notes,
        peak={
            "what": (
                f"the faster of a simple compiled multiply–add loop (numba, all threads, from L1: "
                f"{loop / 1e9:.1f}·10⁹/s) and the BLAS's DGEMM of two 1024×1024 matrices (all threads: "
                f"{gemm / 1e9:.1f}·10⁹/s)"
            ),
            "fma_per_s": peak,
            "loop_fma_per_s": loop,
            "gemm_fma_per_s": gemm,
        },
        limits=limits,
        scaling=[scaling()],
    )


if __name__ == "__main__":
    main()
