"""Independent tasks in worker processes, with results that do not depend on how many.

The full runs of chapters 4 and 6 are mostly sums of independent pieces: random starts
of L-BFGS, planted networks, spin glasses. Each piece seeds its own generator from its
arguments, so running the pieces in ``k`` processes returns the same list, to the last
bit, for every ``k``, provided every piece computes with one thread: :func:`pmap` makes
sure of that in the workers and in the calling process alike (``tests/test_parallel.py``
checks both). The book's pipeline gives a notebook that asks for two threads both cores,
alone; ``pmap`` turns them into two workers (``TENSORDL_WORKERS``).

Workers are forked and inherit the task, so it may be any function, a closure or one
defined in a notebook; the items and results travel by pickle. A task should
not print (its output is not the notebook's) and should not call numba's parallel
kernels (numba's thread pool does not survive a fork). On a platform without ``fork``
the tasks run in the calling process.

Used by ``notebooks/04_nn_lift.md`` and ``notebooks/06_spin_glass_landscapes.md``, and by
:func:`tensordl.training.train_sgd` (``workers``) in ``notebooks/08_network_minima.md``.
"""

import multiprocessing
import os
import sys
from contextlib import contextmanager

from ._checks import as_int

__all__ = ["default_workers", "pmap"]


def default_workers():
    """Workers :func:`pmap` uses by default.

    ``TENSORDL_WORKERS`` when it is set (the book's pipeline sets it to the threads a
    notebook runs with), else the CPUs this process may run on.

    Examples
    --------
    >>> default_workers() >= 1
    True
    """
    env = os.environ.get("TENSORDL_WORKERS")
    if env is None:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        return as_int(int(env), "TENSORDL_WORKERS", minimum=1)
    except ValueError as exc:
        raise ValueError(f"TENSORDL_WORKERS must be a positive integer, got {env!r}") from exc


@contextmanager
def one_thread():
    """Run the body with one BLAS/OpenMP thread and, when torch is loaded, one torch thread."""
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(1):
        if torch is not None:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(before)


def _run(func, item):
    with one_thread():
        return func(item)


_FUNC = None  # the task of the running pmap: forked workers inherit it, nothing pickles it


def _call(item):
    return _run(_FUNC, item)


def pmap(func, items, workers=None):
    """``[func(x) for x in items]``, in ``workers`` forked processes, one thread each.

    Parameters
    ----------
    func : callable
        Applied to each item; must seed any randomness from its argument.
    items : iterable
        Handed out in order, one at a time: put the longest first.
    workers : int, optional
        Processes; :func:`default_workers` when None. One runs the tasks here.

    Returns
    -------
    list
        ``func(x)`` for each item, in the order of ``items``; the same for any ``workers``.

    Examples
    --------
    >>> import numpy as np
    >>> def draw(i):
    ...     return np.random.default_rng([0, i]).standard_normal(3)
    >>> one, two = pmap(draw, range(4), workers=1), pmap(draw, range(4), workers=2)
    >>> all(np.array_equal(a, b) for a, b in zip(one, two))
    True
    """
    if not callable(func):
        raise TypeError(f"func must be callable, got {type(func).__name__}")
    items = list(items)
    workers = default_workers() if workers is None else as_int(workers, "workers", minimum=1)
    workers = min(workers, len(items))
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [_run(func, x) for x in items]
    if "torch" in sys.modules:
        # torch's optimizers import torch._dynamo on first use (about 2 s): once here, not
        # once in every worker of every pmap
        import torch._dynamo  # noqa: F401
    global _FUNC
    if _FUNC is not None:
        raise RuntimeError("pmap cannot be nested: a task must not call pmap")
    _FUNC = func
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.map(_call, items, chunksize=1)
    finally:
        _FUNC = None
