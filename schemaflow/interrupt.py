"""Ctrl-C and SIGTERM while changesets run: the statement running is cancelled (on a server,
not left running for a client that has gone; on SQLite, interrupted: `dialects.cancel`), and
the run stops at the next statement boundary, where execute rolls the changeset back and
says what happened.

Only the main thread can take signals: elsewhere (a run in a worker thread) nothing is
installed and the process's own handling applies."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType, TracebackType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stop(Exception):
    """A signal came: raised at a statement boundary (internal to execute). `started`: a
    statement had been sent and ended with an error, the cancel's doing."""

    def __init__(self, signum: int, *, started: bool = False) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.started = started

    @property
    def name(self) -> str:
        """SIGINT or SIGTERM."""
        return signal.Signals(self.signum).name


class Watch:
    """SIGINT/SIGTERM handlers for the time changesets run. The first signal cancels the
    statement running (with `cancel`, prepared while the connection was idle) and is
    remembered; a second one raises KeyboardInterrupt at once (the user insists: the
    connection is dropped and the database discards what was not committed)."""

    def __init__(self, cancel: Callable[[], None]) -> None:
        self.cancel = cancel
        self.signum: int | None = None
        self.busy = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Watch:
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                with suppress(ValueError, OSError):
                    self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        if self.busy:
            # A failed cancel changes nothing: the run still stops after the statement.
            with suppress(Exception):
                self.cancel()

    def check(self) -> None:
        """Raise Stop if a signal came (between statements or changesets)."""
        if self.signum is not None:
            raise Stop(self.signum)

    @contextmanager
    def statement(self) -> Iterator[None]:
        """Around one statement: a signal cancels it. Stop before it starts when a signal
        came already, and when it fails after one (the cancel's doing). A statement that
        ends well all the same (it finished first) counts as run: the run stops at the next
        boundary."""
        self.busy = True  # before the check: a signal in between still cancels
        try:
            self.check()
            yield
        except Stop:
            raise
        except Exception:
            if self.signum is not None:
                raise Stop(self.signum, started=True) from None
            raise
        finally:
            self.busy = False
