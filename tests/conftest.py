"""Shared test setup: make the pipeline helpers in tools/ importable; a thread-count fixture."""

import sys
from pathlib import Path

import pytest
from hypothesis import settings

# property tests draw the same examples on every run: a failure in CI reproduces locally
settings.register_profile("derandomized", derandomize=True, print_blob=True)
settings.load_profile("derandomized")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))


@pytest.fixture
def one_and_all_threads():
    """``run(f)`` calls ``f()`` with one numba thread and with all of them and returns both results."""
    numba = pytest.importorskip("numba")
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip(
            f"only {numba.config.NUMBA_NUM_THREADS} numba thread on this machine "
            "(NUMBA_NUM_THREADS): one-against-many threads cannot be compared"
        )

    def run(f):
        before = numba.get_num_threads()
        try:
            numba.set_num_threads(1)
            one = f()
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
            many = f()
        finally:
            numba.set_num_threads(before)
        return one, many

    return run
