"""`parallel.map_items`: the same results as a plain loop, and workers that stay quiet."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from schemaflow import parallel


def _square(x: int) -> int:
    return x * x


def test_results_come_back_in_order() -> None:
    items = list(range(1000))
    assert parallel.map_items(_square, items) == [x * x for x in items]


def _raise_terminated(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # what the command line's SIGTERM handler does


@pytest.mark.skipif(parallel.workers() < 2, reason="one core: no workers")
def test_workers_stopped_by_the_pool_print_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    # The command line turns SIGTERM into an exception; the pool stops its workers with
    # SIGTERM when the work is done. Workers must not inherit the handler (a traceback each).
    old = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        for _ in range(3):
            assert parallel.map_items(_square, list(range(400)))[-1] == 399 * 399
    finally:
        signal.signal(signal.SIGTERM, old)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


def _sleep() -> None:
    import time

    time.sleep(5)


def test_a_process_stopped_while_it_starts_prints_nothing(
        capfd: pytest.CaptureFixture[str]) -> None:
    """Stopped at once (autogenerate's read of a server, when the models fail to import),
    a forked process could still be in multiprocessing's start-up with the command line's
    SIGTERM handler: 7 tracebacks in 30 such stops before (and one failed CI test)."""
    old = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        for _ in range(30):
            forked = parallel.fork_call(_sleep)
            assert forked is not None
            forked.cancel()
    finally:
        signal.signal(signal.SIGTERM, old)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


_PARENT = __import__("os").getpid()


def _fails_in_a_worker(x: int) -> int:
    import os

    if x == 700 and os.getpid() != _PARENT:
        raise RuntimeError("a worker failed")
    return x * x


@pytest.mark.skipif(parallel.workers() < 2, reason="one core: no workers")
def test_results_stream_in_order_and_a_failed_worker_leaves_the_rest_to_this_process() -> None:
    items = list(range(1000))
    got = parallel.iter_items(_fails_in_a_worker, items)
    first = next(got)  # the first results are back before the rest is asked for
    assert [first, *got] == [x * x for x in items]
    assert parallel.map_items(_fails_in_a_worker, items) == [x * x for x in items]


@pytest.mark.parametrize("count", [1, 199, 250, 1000, 10_000])
def test_tasks_shrink_so_that_the_workers_finish_together(count: int) -> None:
    items = list(range(count))
    tasks = parallel.chunks(items, 2)
    assert [x for task in tasks for x in task] == items
    sizes = [len(task) for task in tasks]
    assert sizes == sorted(sizes, reverse=True)  # each a share of what is left
    assert sizes[-1] <= parallel._MIN_CHUNK  # the last ones are small
    if count >= 1000:
        assert sizes[0] >= count // 6 and len(tasks) <= 40  # few to send and take in
        assert max(sizes[-4:]) <= parallel._MIN_CHUNK
