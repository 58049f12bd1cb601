"""Failures of schemaflow's checks and fixtures as a user reads them: the message, the
statement and the database's own words, never a traceback into schemaflow."""

from __future__ import annotations

from ..errors import ChangesetFailed, SchemaflowError, ValidationFailed
from .checks import CheckFailed


def failure_text(exc: BaseException) -> str | None:
    """The report of a check's or a fixture's failure (None: not schemaflow's, so pytest's
    own report with its traceback)."""
    if isinstance(exc, CheckFailed):
        return str(exc)
    if isinstance(exc, ValidationFailed):
        return exc.message + ":\n" + "\n".join(
            f"  {d.where()}: {d.code} {d.message}" for d in exc.diagnostics)
    if not isinstance(exc, SchemaflowError):
        return None
    return error_text(exc)


def error_text(exc: SchemaflowError) -> str:
    """A schemaflow error: its message, and a failed changeset's statement and database
    error."""
    lines = [exc.message]
    if isinstance(exc, ChangesetFailed):
        if exc.statement:
            lines.append("  statement: " + exc.statement.strip().replace("\n", "\n    "))
        if exc.db_message:
            lines.append(f"  database error: {exc.db_message}")
        lines += [f"  already ran: {s}" for s in exc.ran]
    if exc.hint:
        lines.append(f"  hint: {exc.hint}")
    return "\n".join(lines)
