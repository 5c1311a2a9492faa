"""pmap: the same results for any number of workers, one thread per task, error paths."""

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from tensordl import parallel
from tensordl import spinglass as sg


def _blas_task(i):
    """A task whose rounding would change with the BLAS thread count if it were not one."""
    g = np.random.default_rng([7, i])
    A = g.standard_normal((300, 300))
    return np.linalg.eigvalsh(A @ A.T + A.T @ A), (A @ A)[:3, :3]


def _threads(_):
    blas = [m["num_threads"] for m in threadpool_info() if m["user_api"] == "blas"]
    return blas, torch.get_num_threads()


def test_same_results_for_any_number_of_workers():
    one = parallel.pmap(_blas_task, range(5), workers=1)
    two = parallel.pmap(_blas_task, range(5), workers=2)
    assert len(one) == len(two) == 5
    for (e1, m1), (e2, m2) in zip(one, two):
        assert np.array_equal(e1, e2) and np.array_equal(m1, m2)


def test_spin_glass_descents_are_bit_identical_across_workers():
    def task(i):
        glass = sg.SphericalSpinGlass(20, 3, seed=np.random.default_rng([0, 2, 20, i]))
        res = sg.descend(glass, 6, seed=np.random.default_rng([0, 3, 20, i]))
        return res.W, res.energy, res.n_iter

    serial = [task(i) for i in range(3)]
    forked = parallel.pmap(task, range(3), workers=2)  # a closure: forked, not pickled
    for a, b in zip(serial, forked):
        assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_results_keep_the_order_of_the_items():
    assert parallel.pmap(lambda x: x * x, [3, 1, 2, 5], workers=2) == [9, 1, 4, 25]


@pytest.mark.parametrize("workers", [1, 2])
def test_every_task_runs_with_one_thread(workers):
    before = torch.get_num_threads()
    for blas, torch_threads in parallel.pmap(_threads, range(2), workers=workers):
        assert torch_threads == 1
        assert all(t == 1 for t in blas)
    assert torch.get_num_threads() == before  # the caller's setting is restored


def test_an_error_in_a_task_reaches_the_caller():
    def bad(i):
        if i == 2:
            raise ValueError("task 2 failed")
        return i

    with pytest.raises(ValueError, match="task 2 failed"):
        parallel.pmap(bad, range(4), workers=2)
    assert parallel._FUNC is None  # the next pmap may run


def test_nested_pmap_is_refused_in_a_worker():
    def nested(i):
        return parallel.pmap(abs, [i, -i], workers=2)

    with pytest.raises(RuntimeError, match="cannot be nested"):
        parallel.pmap(nested, range(2), workers=2)


def test_default_workers_follows_the_environment(monkeypatch):
    monkeypatch.setenv("TENSORDL_WORKERS", "3")
    assert parallel.default_workers() == 3
    monkeypatch.delenv("TENSORDL_WORKERS")
    assert parallel.default_workers() >= 1


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_bad_worker_counts_are_refused(monkeypatch, value):
    monkeypatch.setenv("TENSORDL_WORKERS", value)
    with pytest.raises(ValueError, match="TENSORDL_WORKERS"):
        parallel.default_workers()


def test_bad_arguments():
    with pytest.raises(TypeError, match="func must be callable"):
        parallel.pmap(3, [1])
    with pytest.raises(ValueError, match="workers"):
        parallel.pmap(abs, [1], workers=0)
    with pytest.raises(TypeError, match="workers"):
        parallel.pmap(abs, [1], workers=1.5)
    assert parallel.pmap(abs, [], workers=2) == []
