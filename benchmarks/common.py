"""Helpers shared by the benchmark scripts: timing and the machine description."""

import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from execute import cpu_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def _wall_times(f, repeats):
    """Wall times of ``repeats`` calls of ``f()``, after one warm-up call."""
    f()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return times


def best_time(f, repeats):
    """Shortest wall time of ``f()`` over ``repeats`` calls, after one warm-up call: for peak rates.

    A peak is what the machine can do, so it is the best of its runs; a noisy
    neighbour can only make a run slower. Kernels are timed by their median instead.
    """
    return float(np.min(_wall_times(f, repeats)))


def median_time(f, repeats):
    """Median wall time of ``f()`` over ``repeats`` calls, after one warm-up call."""
    return float(np.median(_wall_times(f, repeats)))


def machine():
    """The machine a benchmark ran on: CPU, cores, numba threads, versions."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "load_1min": round(os.getloadavg()[0], 2),
        "threads": numba.get_num_threads(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
    }


def write(name, title, script, repeats, cases, targets, **extra):
    """Write one benchmark's results to ``results/NAME.json`` and print them."""
    out = {
        "title": title,
        "script": script,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "repeats": repeats,
        "machine": machine(),
        "cases": cases,
        "targets": targets,
        **extra,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


_LANES = 256  # doubles per thread: 64 independent 4-wide chains, all in L1


@numba.njit(parallel=True, fastmath={"contract"})
def _fma_loop(acc, x, y, reps):
    for task in numba.prange(acc.shape[0]):
        for _ in range(reps):
            for t in range(_LANES):
                acc[task, t] = acc[task, t] * x + y


def fma_peak(repeats=7, reps=200_000):
    """Multiply-adds per second of a simple compiled loop (numba, all threads), best of ``repeats``.

    Each thread updates its own row of 256 doubles, ``a <- a * x + y``, from L1: the
    loop compiles to vector FMA instructions with 64 independent chains, so its rate is
    the most multiply-adds per second numba's code reaches on this machine.
    """
    threads = numba.get_num_threads()
    acc = np.ones((threads, _LANES + 64))  # rows 64 doubles apart: no shared cache line
    t = best_time(lambda: _fma_loop(acc, 0.999, 1e-3, reps), repeats)
    return threads * _LANES * reps / t


def gemm_peak(n=1024, repeats=7):
    """Multiply-adds per second of the BLAS's DGEMM of two ``n x n`` matrices (all threads), best of ``repeats``.

    Register-blocked GEMM is the fastest double-precision code on most machines, so
    together with ``fma_peak`` it bounds what any kernel can reach.
    """
    g = np.random.default_rng(0)
    A, B, C = g.random((n, n)), g.random((n, n)), np.empty((n, n))
    return n**3 / best_time(lambda: np.dot(A, B, out=C), repeats)


def fit_exponent(sizes, times):
    """Least-squares slope of ``log(time)`` against ``log(size)``."""
    return float(np.polyfit(np.log(sizes), np.log(times), 1)[0])


def plot_scaling(name, scaling):
    """Draw the cost-against-size curves of one benchmark (log-log) into ``book/_static``.

    ``scaling`` is the ``"scaling"`` entry written to the results file: a size label,
    the theoretical exponent and, per method, the sizes, the median times, the fitted
    exponent and optionally the method's own theoretical exponent (``"theory"``); one
    theory line is drawn per distinct exponent. Returns the image's path relative to ``book/``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), facecolor="white")
    for series, marker in zip(scaling["series"], "os^vD"):
        x, y = np.asarray(series["sizes"], float), np.asarray(series["median_s"], float)
        c, slope = np.polyfit(np.log(x), np.log(y), 1)[::-1]
        ax.loglog(x, y, marker, label=f"{series['method']}: fitted exponent {slope:.2f}")
        ax.loglog(x, np.exp(c) * x**slope, "-", color=ax.lines[-1].get_color(), lw=1)
    anchors = {}  # one theory line per distinct exponent, through the last point of its first series
    for series, line in zip(scaling["series"], ax.lines[::2]):
        anchors.setdefault(series.get("theory", scaling["theory"]), (series, line.get_color()))
    for theory, (series, color) in anchors.items():
        xs = np.asarray(series["sizes"], float)
        ax.loglog(xs, series["median_s"][-1] * (xs / xs[-1]) ** theory, ":", lw=1.2,
                  color="k" if len(anchors) == 1 else color, label=f"theory: exponent {theory:g}")
    ax.set_xlabel(scaling["size"])
    ax.set_ylabel("median wall time (s)")
    ax.grid(True, which="both", alpha=0.3)
    entries = len(scaling["series"]) + len(anchors)  # the legend goes below the axes: long names
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.16), frameon=False)
    fig.set_size_inches(6.4, 3.6 + 0.17 * entries)
    fig.tight_layout()
    out = Path(__file__).resolve().parents[1] / "book" / "_static" / f"bench_{name}_scaling.png"
    fig.savefig(out, dpi=110, facecolor="white", metadata={"Software": None})
    plt.close(fig)
    return f"_static/{out.name}"
