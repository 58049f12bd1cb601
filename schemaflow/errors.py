"""The exception tree, the one diagnostic type every output format renders, and its codes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True, slots=True)
class Code:
    """A diagnostic code: its default severity, the problem in one line, its group."""

    code: str
    severity: Severity
    title: str
    # The group docs/rules.md's table lists it under; "" for the codes about reading the
    # files and the database, which that page explains in prose.
    group: str = ""


def catalogue(*codes: Code) -> Mapping[str, Code]:
    """A read-only mapping of codes by name; a code given twice raises ValueError."""
    out: dict[str, Code] = {}
    for c in codes:
        if c.code in out:
            raise ValueError(f"diagnostic code {c.code} is registered twice: "
                             f"{out[c.code].title!r} and {c.title!r}")
        out[c.code] = c
    return MappingProxyType(out)


# Every code schemaflow reports, one per problem. docs/rules.md explains each (a test checks).
CODES = catalogue(
    # Reading the files and the database.
    Code("SF001", "error", "the file cannot be read or parsed"),
    Code("SF002", "error", "the file does not match the changeset schema"),
    Code("SF003", "error", "an unknown key or operation"),
    Code("SF004", "error", "a value that is not valid"),
    Code("SF005", "error", "the changesets folder is missing"),
    Code("SF010", "error", "two changesets have the same id"),
    Code("SF011", "error", "an unknown parent or depends_on"),
    Code("SF012", "error", "the changesets form a cycle"),
    Code("SF015", "error", "a changeset replaces one whose file still exists"),
    Code("SF020", "error", "an applied changeset was edited"),
    Code("SF021", "error", "an applied changeset is missing"),
    Code("SF022", "warning", "checksums not compared: the database cannot be read"),
    Code("SF023", "error", "a changeset is applied without a changeset it builds on"),
    Code("SF024", "warning", "models not compared: they cannot be loaded"),
    # Reference errors: the operation does not fit the schema at that point.
    Code("SF101", "error", "the table does not exist at this point", "reference"),
    Code("SF102", "error", "the column does not exist at this point", "reference"),
    Code("SF103", "error", "the index does not exist at this point", "reference"),
    Code("SF104", "error", "the constraint does not exist at this point", "reference"),
    Code("SF105", "error", "the table already exists", "reference"),
    Code("SF106", "error", "the column already exists (or is listed twice)", "reference"),
    Code("SF107", "error", "a constraint or index of that name already exists", "reference"),
    Code("SF108", "error", "a foreign key has more or fewer columns than it references",
         "reference"),
    Code("SF109", "error", "a primary key problem", "reference"),
    Code("SF110", "error", "drops a table that another table's foreign key references",
         "reference"),
    Code("SF111", "error", "drops a column that a foreign key references", "reference"),
    Code("SF112", "error", "drops the only column of a table", "reference"),
    Code("SF113", "error", "alter_column changes nothing", "reference"),
    Code("SF114", "error", "alter_column both sets and drops the default", "reference"),
    Code("SF115", "error", "alter_column gives both default and default_sql", "reference"),
    Code("SF116", "error", "a foreign key is initially deferred but not deferrable",
         "reference"),
    Code("SF117", "error", "the sequence does not exist at this point", "reference"),
    Code("SF118", "error", "a sequence of that name already exists", "reference"),
    Code("SF119", "error", "drops a column that a generated column uses", "reference"),
    Code("SF120", "error", "a default value does not fit the column's type", "reference"),
    Code("SF121", "error", "a row value does not fit its column's type", "reference"),
    # The history.
    Code("SF013", "error", "merged branches conflict", "history"),
    Code("SF014", "error", "a changeset that is not a merge has no operations", "history"),
    Code("SF016", "warning", "a note an import left for a hand (it does nothing when run; "
         "apply and rollback refuse to run it)", "history"),
    Code("SF201", "warning", "the changeset cannot be rolled back (forward-only)", "history"),
    Code("SF202", "error", "the explicit rollback does not restore the schema", "history"),
    # The safety rules (rules.RULES): a project selects and ignores them by code.
    Code("SF301", "warning", "drops a table and its data", "destructive"),
    Code("SF302", "warning", "drops a column and its data", "destructive"),
    Code("SF303", "warning", "narrows a column type (data may be cut or lost)", "destructive"),
    Code("SF311", "warning", "adds a NOT NULL column without a default to an existing table "
                             "(fails when the table has rows)", "data"),
    Code("SF312", "warning", "adds a unique constraint or index on existing data (fails on "
                             "duplicates)", "data"),
    Code("SF313", "warning", "changes a type in a way existing rows may not convert", "data"),
    Code("SF314", "warning", "makes an existing column NOT NULL (fails on NULLs)", "data"),
    Code("SF321", "warning", "renames a table (running code still uses the old name)",
         "compatibility"),
    Code("SF322", "warning", "renames a column (running code still uses the old name)",
         "compatibility"),
    Code("SF323", "error", "drops a column the models still have", "compatibility"),
    Code("SF331", "error", "the target database cannot do this", "dialect"),
    Code("SF332", "warning", "the target database cannot run the changeset's rollback",
         "dialect"),
    Code("SF333", "error", "a value the target database cannot store as written (an integer "
         "out of range, a string too long)", "dialect"),
    Code("SF334", "warning", "an index name another table has too (only databases with index "
                             "names per table take it)", "dialect"),
    Code("SF341", "warning", "creates an index on an existing table without CONCURRENTLY "
                             "(blocks writes)", "postgresql-locks"),
    Code("SF342", "warning", "adds a foreign key or check without NOT VALID (scans the table "
                             "under a lock)", "postgresql-locks"),
    Code("SF343", "warning", "changes a type in a way that rewrites the table under an ACCESS "
                             "EXCLUSIVE lock", "postgresql-locks"),
    Code("SF344", "warning", "SET NOT NULL without a validated CHECK (col IS NOT NULL) first "
                             "scans under a lock", "postgresql-locks"),
    Code("SF345", "warning", "takes an ACCESS EXCLUSIVE lock without setting lock_timeout "
                             "first", "postgresql-locks"),
    Code("SF346", "warning", "adds a column whose default is computed per row (a volatile "
                             "function): rewrites the table", "postgresql-locks"),
    Code("SF006", "warning", "the file name does not start with the changeset's id", "graph"),
    Code("SF401", "warning", "the history has several heads", "graph"),
    Code("SF402", "warning", "a merge of histories with no common ancestor", "graph"),
)


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

    def __post_init__(self) -> None:
        # Fail where the code is written, not in a report: every code is in CODES.
        if self.code not in CODES:
            raise ValueError(f"diagnostic code {self.code!r} is not registered in "
                             "errors.CODES")

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


class ModelError(ConfigError):
    """The configured SQLAlchemy models cannot be read: their module fails to import, or
    they describe what no database could build (a foreign key to a table that is not in the
    models)."""


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


class Interrupted(ChangesetFailed):
    """A run stopped by a signal (Ctrl-C, SIGTERM); exits 128 + the signal's number, as a
    shell reports a process the signal ended (130 for Ctrl-C)."""

    def __init__(self, message: str, *, signum: int, changeset: str,
                 ran: list[str] | None = None, hint: str | None = None) -> None:
        super().__init__(message, changeset=changeset, ran=ran, hint=hint)
        self.exit_code = 128 + signum


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
