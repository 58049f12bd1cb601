"""A database through its driver alone, for a run that needs no SQLAlchemy (`driverrun`: a
plan kept whole, or rendered by the run's render process). Each database that has one gives
the connection exactly as its engines set theirs up (`Dialect.setup_engine`), the run-wide
lock, the version table read on that connection, the cancel of a running statement, and
what a plan renders for on it (`facts`, `planstream.context`). No SQLAlchemy here."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from .base import VersionRead
    from .batch import BatchDriver
    from .cancel import Cancel

class VersionsFound(NamedTuple):
    """The version table as read: whether it exists, its rows and the journal's (empty
    without them), and whether the journal's table exists (even empty)."""

    exists: bool
    read: VersionRead
    journal_table: bool


class DriverSide:
    """One database URL through its driver."""

    # The driver as SQLAlchemy names it (its dialect's `driver`): what `facts` stand for.
    driver: str = ""
    errors: tuple[type[BaseException], ...] = ()

    def connect(self, timeout: float) -> Any:
        """A connection set up as schemaflow's engines set theirs up; ConnectionFailed when
        the database cannot be reached."""
        raise NotImplementedError

    def server_version(self, raw: Any) -> tuple[int, ...]:
        """The server's version, as SQLAlchemy's dialect reads it."""
        raise NotImplementedError

    def facts(self, raw: Any) -> tuple[Any, ...]:
        """What a plan renders for on this connection besides the server version and the
        code (`planstream.context`), read from the driver: the same whether SQLAlchemy
        connected or the driver alone."""
        raise NotImplementedError

    def lock(self, raw: Any, table: str, timeout: float) -> bool:
        """Take the run-wide lock within `timeout` seconds (0: try once)."""
        raise NotImplementedError

    def unlock(self, raw: Any, table: str) -> None:
        """Release the run-wide lock."""
        raise NotImplementedError

    def read(self, raw: Any, table: str, schema: str | None) -> VersionsFound:
        """The version table read on `raw` (leaving no transaction open)."""
        raise NotImplementedError

    def has_any(self, raw: Any, tables: tuple[str, ...]) -> bool:
        """Whether any of `tables` exists (in any case; a view counts, as SQLAlchemy's
        `has_table` counts one)."""
        raise NotImplementedError

    def next_order(self, raw: Any, table: str, schema: str | None) -> int:
        """The exec_order for the next version row."""
        raise NotImplementedError

    def batch(self, raw: Any) -> BatchDriver:
        """The connection as a batching driver (`dialects.batch`)."""
        raise NotImplementedError

    def canceller(self, raw: Any) -> Cancel:
        """How to cancel the statement `raw` runs, from a signal handler."""
        from .cancel import raw_cancel

        return raw_cancel(raw)

    def interruptible(self, raw: Any) -> AbstractContextManager[None]:
        """For the block, a running statement that a signal can stop (`dialects.cancel`)."""
        from .cancel import progress_ticks

        return progress_ticks(raw)

    def in_transaction(self, raw: Any) -> bool:
        """Whether a transaction is open on `raw`."""
        raise NotImplementedError

    def close(self, raw: Any) -> None:
        """Close the connection (never raises)."""
        with suppress(Exception):  # (a connection that is gone)
            raw.close()


def take_lock(take: Callable[[float], bool], timeout: float, shown_url: str,
              on_wait: Callable[[str], None] | None = None) -> None:
    """Take the run-wide lock with `take(seconds)` (0: try once): at once, else after
    telling `on_wait` that this run waits, within `timeout` seconds; ConnectionFailed when
    another run holds it that long."""
    from ..errors import ConnectionFailed, UsageError

    if not timeout >= 0:  # (NaN too)
        raise UsageError(f"--lock-timeout must be a number of seconds, 0 or more, not {timeout:g}")
    if take(0):
        return
    if on_wait:
        on_wait(f"waiting for another schemaflow run on {shown_url} to finish")
    if not take(timeout):
        raise ConnectionFailed(
            f"timed out after {timeout:g}s waiting for the schemaflow lock on {shown_url}",
            hint="another schemaflow run holds it; raise --lock-timeout or wait")
