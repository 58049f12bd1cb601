"""Work on many items on every core: parsing a folder of changesets with an empty cache (a
fresh clone, a new schemaflow) is the one job long enough to be worth it.

Only where processes start by fork (Linux): a forked worker inherits the loaded modules and
the compiled JSON Schema validator, so it starts in milliseconds, and the function it runs
is inherited, never pickled (items and results are: plain data). `SCHEMAFLOW_JOBS=1` keeps
everything in one process. Whatever fails on the way (no fork, a worker that dies, a result
that does not come back) falls back to the same work in this process: the result is the
same, only slower.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 200     # below this, starting workers costs more than it saves
MAX_WORKERS = 8
_MIN_CHUNK = 25

_job: Callable[[Any], Any] | None = None  # set just before the workers fork


def workers() -> int:
    """How many processes `map_items` uses (1: this one alone)."""
    wanted = os.environ.get("SCHEMAFLOW_JOBS", "")
    if sys.platform != "linux":
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    if wanted.isdigit() and int(wanted) > 0:
        cores = min(cores, int(wanted))
    return max(1, min(cores, MAX_WORKERS))


_HELD = frozenset({2, 15})  # SIGINT, SIGTERM


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM held back while processes are forked: a child inherits the
    command line's handlers, and one stopped before `_quiet_worker` replaced them (in
    multiprocessing's own start-up) printed a traceback. The child lets them through once
    its own handlers are set; a signal the parent got meanwhile reaches it afterwards."""
    import signal

    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _quiet_worker() -> None:
    """A worker leaves signals to the parent: it ignores Ctrl-C (the parent stops the pool)
    and dies silently on SIGTERM, which the pool sends when it is done. Inherited, the
    command line's SIGTERM handler printed a traceback per worker at every parallel load.
    Forked with them held (`_signals_held`), it lets them through from here."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)


def _run_chunk(chunk: Sequence[Any]) -> list[Any]:
    assert _job is not None  # inherited from the parent at fork
    return [_job(item) for item in chunk]


def chunks(items: Sequence[T], n: int) -> list[Sequence[T]]:
    """`items` cut into the tasks `n` workers take one at a time: each a share of what is
    left (large first, few tasks to send and take in), shrinking to `_MIN_CHUNK` items at the
    end, so that the workers finish within a small task of each other (fixed tasks of an
    eighth of the work each left one core idle for up to one of them, ~0.2 s of a fresh
    clone's 10,000 files)."""
    out: list[Sequence[T]] = []
    start = 0
    while start < len(items):
        size = max(_MIN_CHUNK, (len(items) - start) // (n * 3))
        out.append(items[start:start + size])
        start += size
    return out


def map_items(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`[fn(item) for item in items]`, on several processes when there are many items.
    Items and results cross between processes (picklable plain data); `fn` itself does not."""
    return list(iter_items(fn, items))


def iter_items(fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
    """`map_items`, each result as soon as it and those before it are back: the caller
    takes in the first results while the workers are still at the later ones."""
    n = workers()
    if n < 2 or len(items) < MIN_ITEMS:
        yield from map(fn, items)
        return
    import multiprocessing

    global _job
    done = 0
    _job = fn
    try:
        with _signals_held():
            pool = multiprocessing.get_context("fork").Pool(n, initializer=_quiet_worker)
        with pool:
            for part in pool.imap(_run_chunk, chunks(items, n)):
                yield from part
                done += len(part)
    except Exception:  # no workers, or one failed: the rest of the work here
        yield from map(fn, items[done:])
    finally:
        _job = None


class Forked:
    """A function running in a forked process; `result()` waits for what it returned."""

    def __init__(self, process: Any, conn: Any) -> None:
        self.process = process
        self.conn = conn

    def result(self) -> Any:
        """What the function returned; None when it raised, or the process died or could
        not send it back (the caller then does the same work itself)."""
        try:
            return self.conn.recv()
        except Exception:
            return None
        except BaseException:  # Ctrl-C: what it would return is not waited for
            self.process.terminate()
            raise
        finally:
            self.conn.close()
            self.process.join()

    def cancel(self) -> None:
        """Stop the process without waiting for what it would return."""
        self.conn.close()
        self.process.terminate()
        self.process.join()


def _flush() -> None:
    """Flush the standard streams before a fork, or the child would write what they hold a
    second time; a stream that is closed (None, as with `>&-`) or cannot be flushed is left."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(ValueError, OSError):
                stream.flush()


def fork_call(fn: Callable[[], Any]) -> Forked | None:
    """Start `fn()` in a forked process (it inherits everything loaded here, and is never
    pickled; its result is); None where processes cannot be forked."""
    if sys.platform != "linux":
        return None
    import multiprocessing

    context = multiprocessing.get_context("fork")
    _flush()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_send_result, args=(fn, send), daemon=True)
    try:
        with _signals_held():
            process.start()
    except Exception:
        receive.close()
        send.close()
        return None
    send.close()
    return Forked(process, receive)


def _send_result(fn: Callable[[], Any], conn: Any) -> None:
    import gc

    _quiet_worker()
    gc.freeze()  # what the parent built is not traversed (and so not copied) by collections
    try:
        result = fn()
    except BaseException:
        result = None
    conn.send(result)
    conn.close()


class Stream:
    """What a function in a forked process sends as it goes (`fork_stream`)."""

    WAIT = 10.0

    def __init__(self, pid: int, conn: Any) -> None:
        self.pid = pid
        self.conn = conn

    def send(self, obj: Any, timeout: float | None = None) -> bool:
        """Send `obj` to the process (`fork_server`); False when it is gone, or has not
        taken it within `timeout` seconds."""
        try:
            if timeout is None:
                self.conn.send(obj)
            else:
                self.conn.send(obj, timeout)
        except Exception:  # (gone, or a value that cannot be pickled)
            return False
        return True

    def ready(self, timeout: float) -> bool:
        """Whether something can be received within `timeout` seconds (or the process is
        gone: then `receive` says None at once)."""
        try:
            return bool(self.conn.poll(timeout))
        except Exception:
            return True

    def receive(self, timeout: float | None = None) -> Any:
        """The next thing sent; None when the process ended without sending more (it was
        done, it raised, or it died), or sent nothing within `timeout` seconds. Ctrl-C
        while waiting stops the process."""
        try:
            if timeout is not None and not self.conn.poll(timeout):
                return None
            return self.conn.recv()
        except Exception:
            return None
        except BaseException:
            self.close()
            raise

    def close(self, *, wait: bool = False) -> None:
        """Stop the process, if it still runs (`wait`: let it end on its own first, for up
        to `WAIT` seconds), and reap it."""
        import signal
        import time

        self.conn.close()
        child, self.pid = self.pid, 0  # (reaped once: its number may be another's after)
        if not child:
            return
        deadline = time.monotonic() + (self.WAIT if wait else 0)
        while True:
            try:
                pid, _ = os.waitpid(child, os.WNOHANG)
            except ChildProcessError:
                return
            if pid or time.monotonic() >= deadline:
                break
            time.sleep(0.005)
        if not pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child, 0)


def forkable() -> bool:
    """Whether this process may fork: no thread runs but the main one and the live status
    line's (rich's refresh thread, which only writes to the terminal; the forked process
    never does, nor flushes a stream when it ends: `fork_stream`). A fork copies
    another thread's locks as they are, held or not."""
    main = threading.main_thread()
    return all(t is main or type(t).__name__ == "_RefreshThread" for t in threading.enumerate())


def fork_stream(fn: Callable[[Callable[[Any], None]], None]) -> Stream | None:
    """Start `fn(send)` in a forked process, which calls `send(x)` for each thing it has for
    this one (picklable; `fn` itself is inherited, never pickled); None where processes
    cannot be forked. The process ends with `os._exit` once `fn` returns or raises: it runs
    no exit handler and flushes no stream of this one (a thread of this process may have
    held a stream's lock when it forked: the live status line's), and it ignores warnings
    (which would write to one)."""
    return _fork(lambda conn: fn(conn.send), duplex=False)


def fork_server(fn: Callable[[Any], None]) -> Stream | None:
    """`fork_stream`, with a connection both ways: `fn(conn)` receives what this process
    sends (`Stream.send`) with `conn.recv()`, and answers with `conn.send(x)`."""
    return _fork(fn, duplex=True)


class _Channel:
    """Both ways between two processes on two pipes, each object pickled and framed by its
    length: what `multiprocessing.connection.Pipe(duplex=True)` does, without importing
    multiprocessing (~10 ms, in a process forked before the command knows it needs one:
    `renderchild`)."""

    def __init__(self, reads: int, writes: int) -> None:
        self.reads, self.writes = reads, writes

    def send(self, obj: Any, timeout: float | None = None) -> None:
        """Send `obj`; TimeoutError when the other end has not taken it all within `timeout`
        seconds (a pipe holds 64 KiB: more waits for the reader)."""
        import pickle
        import select
        import time

        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(len(data).to_bytes(8, "little") + data)
        deadline = None if timeout is None else time.monotonic() + timeout
        os.set_blocking(self.writes, deadline is None)
        while view:
            if deadline is not None and not select.select(
                    [], [self.writes], [], max(0.0, deadline - time.monotonic()))[1]:
                raise TimeoutError("the other process takes nothing")
            try:
                view = view[os.write(self.writes, view):]
            except BlockingIOError:
                continue

    def _read(self, n: int) -> bytes:
        parts, left = [], n
        while left:
            part = os.read(self.reads, min(left, 1 << 20))
            if not part:
                raise EOFError
            parts.append(part)
            left -= len(part)
        return b"".join(parts)

    def recv(self) -> Any:
        import pickle

        return pickle.loads(self._read(int.from_bytes(self._read(8), "little")))

    def poll(self, timeout: float) -> bool:
        """Whether something can be read within `timeout` seconds (or the other end is
        gone)."""
        import select

        return bool(select.select([self.reads], [], [], timeout)[0])

    def close(self) -> None:
        """Close both pipes (once: a descriptor's number may be reused after)."""
        for fd in (self.reads, self.writes):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.reads = self.writes = -1


def _channels() -> tuple[_Channel, _Channel]:
    """This process's end and the child's."""
    down, up = os.pipe(), os.pipe()  # (read, write) each
    return _Channel(up[0], down[1]), _Channel(down[0], up[1])


def _fork(fn: Callable[[Any], None], *, duplex: bool) -> Stream | None:
    if sys.platform != "linux":
        return None
    _flush()
    ours: Any
    theirs: Any
    try:
        if duplex:
            ours, theirs = _channels()
        else:
            from multiprocessing.connection import Pipe

            ours, theirs = Pipe(duplex=False)
    except OSError:
        return None
    with _signals_held():  # the child never leaves this block: it lets them through itself
        try:
            pid = os.fork()
        except OSError:
            ours.close()
            theirs.close()
            return None
        if pid == 0:  # the child
            code = 1
            try:
                import gc
                import warnings

                ours.close()
                _quiet_worker()
                warnings.simplefilter("ignore")
                gc.freeze()  # what the parent built is not traversed (so not copied)
                fn(theirs)
                code = 0
            finally:
                os._exit(code)
    theirs.close()
    return Stream(pid, ours)
