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


def median_time(f, repeats):
    """Median wall time of ``f()`` over ``repeats`` calls, after one warm-up call."""
    f()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def machine():
    """The machine a benchmark ran on: CPU, cores, numba threads, versions."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "threads": numba.get_num_threads(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
    }


def write(name, title, script, repeats, cases, targets):
    """Write one benchmark's results to ``results/NAME.json`` and print them."""
    out = {
        "title": title,
        "script": script,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "repeats": repeats,
        "machine": machine(),
        "cases": cases,
        "targets": targets,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))
