"""The exception tree and the one diagnostic type every output format renders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnostic:
    """One finding about a changeset or the configuration, with where it is."""

    code: str
    message: str
    severity: Severity = "error"
    file: str | None = None
    line: int | None = None
    col: int | None = None
    hint: str | None = None
    changeset: str | None = None

    def where(self) -> str:
        """`file:line:col` as far as it is known."""
        if not self.file:
            return f"changeset {self.changeset}" if self.changeset else ""
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready mapping (stable keys)."""
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "hint": self.hint,
            "changeset": self.changeset,
        }


class SchemaflowError(Exception):
    """Base of every error a user can cause; carries the process exit code."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(SchemaflowError):
    """Bad arguments or a target that does not resolve."""


class ConfigError(SchemaflowError):
    """A configuration file or setting that cannot be used."""


class ConnectionFailed(SchemaflowError):
    """The database cannot be reached (the URL in the message has its password hidden)."""


class ValidationFailed(SchemaflowError):
    """One or more changesets are invalid; carries every diagnostic found."""

    exit_code = 1

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        n = len(diagnostics)
        super().__init__(f"{n} problem{'s' if n != 1 else ''} found in the changesets")
        self.diagnostics = diagnostics


class DriftError(SchemaflowError):
    """The database and the changesets disagree (edited or missing applied changesets)."""

    exit_code = 1


class ChangesetFailed(SchemaflowError):
    """A statement of a changeset failed while it ran."""

    def __init__(
        self,
        message: str,
        *,
        changeset: str,
        statement: str | None = None,
        db_message: str | None = None,
        ran: list[str] | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.changeset = changeset
        self.statement = statement
        self.db_message = db_message
        self.ran = ran or []


class StateError(Exception):
    """An operation does not fit the schema it is applied to (internal: becomes a Diagnostic)."""

    def __init__(self, message: str, *, code: str = "SF101", hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.hint = hint


class DatabaseError(SchemaflowError):
    """A database error outside any changeset (a version table of another shape, a server
    gone mid-command)."""
