"""SQLite's run-wide lock: an OS lock on a file beside the database file.

SQLite's own locks last one transaction; a run (apply, rollback, stamp) needs one that lasts
from reading the version table to its last changeset, whatever history each run holds. An
OS lock (`flock`; `msvcrt.locking` on Windows) on `<database>.schemaflow-lock` lasts as long
as the descriptor, and the OS drops it when the process ends, however it ends: a killed run
never leaves a stale lock. The lock file stays (deleting it would race with a run opening it).
It is a file of its own, never the database file, whose POSIX locks are SQLite's.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import suppress

SUFFIX = ".schemaflow-lock"


def _try(fd: int) -> bool:
    """Take the lock without waiting."""
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class FileLock:
    """The lock file of one SQLite database file."""

    def __init__(self, database: str) -> None:
        self.path = database + SUFFIX
        self.fd: int | None = None

    def acquire(self, timeout: float) -> bool:
        """Take the lock within `timeout` seconds (0: try once). True also when the lock file
        cannot be created (a read-only folder, where this run cannot write the database
        either): each changeset's transaction still checks the version table."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            try:
                fd = os.open(self.path, os.O_RDONLY)
            except OSError:
                return True
        deadline = time.monotonic() + timeout
        pause = 0.002
        while not _try(fd):
            left = deadline - time.monotonic()
            if left <= 0:
                os.close(fd)
                return False
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.05)
        self.fd = fd
        return True

    def release(self) -> None:
        """Drop the lock (closing the descriptor releases it)."""
        fd, self.fd = self.fd, None
        if fd is None:
            return
        if sys.platform == "win32":
            import msvcrt

            with suppress(OSError):
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        os.close(fd)
