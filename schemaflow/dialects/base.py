"""What a database is to schemaflow: the `Dialect` every database module subclasses.

A Dialect answers, without importing SQLAlchemy, everything the linter and the read-only
commands ask: its URL schemes, its capabilities at a server version, which operations it
refuses (`support`), what it keeps of a schema (the comparable view: `comparable`), its
extra lint rules, and how to read the version table through the driver alone. What needs
SQLAlchemy (rendering, connecting, the lock) is reached through methods that import it on
first use.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from .. import ir
from ..config import hide_password, hide_passwords_in
from ..errors import ConnectionFailed
from ..sqlsplit import SqlSyntax
from ..typespec import TypeSpec
from . import columns
from .catalogs import CatalogReading
from .comparable import ComparableView
from .support import SupportChecks
from .support import column_types as column_types
from .support import names_created as names_created
from .values import INTEGER_BITS, check_values, nul_refused, signed, stored_values
from .versions import URL_PARTS as URL_PARTS
from .versions import VERSION_COLUMNS as VERSION_COLUMNS
from .versions import quoted as quoted
from .versions import select_journal as select_journal
from .versions import select_versions as select_versions

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ..rules import Analyzer
    from ..state import SchemaState
    from .driver import DriverSide
    from .render import Renderer

Version = tuple[int, ...]
VersionRow = tuple[Any, ...]  # the version table's columns, in VERSION_COLUMNS order
# The version rows, and the journal's rows (journal.COLUMNS order; none without the table).
VersionRead = tuple[list[VersionRow], list[tuple[Any, ...]]]

CONNECT_HINT = "check the URL, that the server runs, and the credentials"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Abilities of one database at one server version."""

    dialect: str
    transactional_ddl: bool = True
    drop_column: bool = True
    rename_column: bool = True
    alter_column: bool = True
    alter_constraints: bool = True
    partial_index: bool = False
    check_constraints: bool = True
    comments: bool = False
    native_enum: bool = False
    concurrent_index: bool = False
    enum_add_value_in_transaction: bool = False
    max_identifier_length: int = 63
    # Index key parts and options beyond plain ascending columns.
    index_desc: bool = False
    index_nulls: bool = False
    index_expressions: bool = False
    index_opclass: bool = False
    index_include: bool = False
    index_methods: tuple[str, ...] = ("btree",)
    arrays: bool = False
    # Generated columns computed on read (VIRTUAL); identity columns (else autoincrement).
    virtual_computed: bool = True
    identity_columns: bool = False
    # Whether that limit counts UTF-8 bytes (PostgreSQL) or characters (MySQL).
    identifier_bytes: bool = True
    deferrable_foreign_keys: bool = False
    # Whether the database refuses a foreign key that points at no primary key or unique
    # constraint (or unique index) of its table: PostgreSQL. MySQL and MariaDB take any
    # columns an index leads with; SQLite takes any, then fails writes ('foreign key
    # mismatch'), which a rebuild refuses where it runs (histories that applied hold them).
    foreign_keys_need_keys: bool = False
    # Index names unique per table (MySQL, MariaDB), else per schema (PostgreSQL, SQLite).
    index_names_per_table: bool = False
    string_lengths: bool = True  # whether string(N) refuses (or cuts) a longer value
    unsized_strings: bool = True  # whether `string` without a length is a type (VARCHAR)
    # The longest `string(n)` (VARCHAR) and `char(n)` (CHAR) it builds (None: any).
    max_string: int | None = None
    max_char: int | None = None
    # Whether an integer key is numbered whatever it is asked (SQLite's rowid): then an
    # `autoincrement: false` key is no different from another.
    numbered_keys: bool = False
    # Whether a key of several columns can have a numbered column (not on SQLite, which
    # numbers only a sole INTEGER PRIMARY KEY, the rowid), and whether the numbered column
    # must lead the key or an index (InnoDB's "there can be only one auto column and it
    # must be defined as a key").
    composite_numbering: bool = True
    sequences: bool = False  # CREATE SEQUENCE
    numbered_leads_index: bool = False
    # The column types that store a NaN, and an infinity, written in `insert_rows` (YAML's
    # .nan, .inf) as such; elsewhere the value is refused: PostgreSQL's floating-point
    # types hold both (numeric a NaN; an infinity only without a precision, from 14 on),
    # SQLite an infinity (a NaN it writes as NULL: `nan_as_null`), MySQL and MariaDB
    # neither.
    nan_types: tuple[str, ...] = ()
    infinity_types: tuple[str, ...] = ()
    nan_as_null: bool = False


def db_message(exc: BaseException) -> str:
    """The database's own message, first lines only, passwords hidden."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    lines = [ln for ln in text.splitlines() if ln.strip()][:3]
    return hide_passwords_in(" ".join(lines))


def unreachable(url: str, exc: BaseException) -> ConnectionFailed:
    """The error for a server that cannot be reached (password hidden)."""
    return ConnectionFailed(f"cannot connect to {hide_password(url)}: {db_message(exc)}",
                            hint=CONNECT_HINT)


class Dialect(SupportChecks, CatalogReading, ComparableView):
    """One database at one server version (None: the newest). Subclasses set the class
    attributes and override what their database does apart."""

    name: ClassVar[str] = "default"
    # URL schemes (the part before `+driver`) that mean this database.
    schemes: ClassVar[tuple[str, ...]] = ()
    # The `sql` operation `dialects:` entries and type prefixes this database runs.
    sql_dialects: ClassVar[tuple[str, ...]] = ()
    type_dialects: ClassVar[tuple[str, ...]] = ()
    # (minimum server version, capability changes): later rows win once the version
    # reaches their minimum.
    capability_rows: ClassVar[tuple[tuple[Version, dict[str, Any]], ...]] = ()
    # Whether `lock` holds a lock for the whole run (else only each changeset's transaction
    # serialises concurrent runs).
    run_lock: ClassVar[bool] = False
    # Whether the Inspector reads every table of a schema in one catalog query, which is
    # faster without a list of names to match (reflect.py asks for every table then, when
    # few are left out, and drops those).
    catalog_queries: ClassVar[bool] = False
    # Whether a new database is made on the server (CREATE DATABASE), else it is a new file.
    server_databases: ClassVar[bool] = True
    # Whether a run through the driver alone has what it runs rendered by a process of its
    # own (`renderchild`): where the database runs in this process, the second core is free
    # for it. A server needs that core while the run sends, and on PostgreSQL that process
    # (importing SQLAlchemy's dialect, connecting through it) measured slower than a run
    # rendering for itself: there the driver alone runs plans kept whole.
    render_process: ClassVar[bool] = False
    # Whether an index key may cover a prefix of its column (`length`); elsewhere the whole
    # column is indexed.
    prefix_lengths: ClassVar[bool] = False
    # Quotes and comments of its SQL: where a `sql:` string's statements end (sqlsplit).
    sql_syntax: ClassVar[SqlSyntax] = SqlSyntax()
    # The driver (the part after `+`) used when a URL names none: the one schemaflow's extra
    # installs (None: SQLAlchemy's default). A URL that names a driver keeps it.
    default_driver: ClassVar[str | None] = None
    # Other spellings of the scheme, as SQLAlchemy spells it (`postgres` → `postgresql`).
    scheme_aliases: ClassVar[Mapping[str, str]] = MappingProxyType({})
    # asyncio drivers and the synchronous driver that reads the same URL: schemaflow runs
    # synchronously, so an app's async URL (its DATABASE_URL) works as it is.
    sync_drivers: ClassVar[Mapping[str, str]] = MappingProxyType({})
    # The pip package of each driver, for the message when it is not installed.
    driver_packages: ClassVar[Mapping[str, str]] = MappingProxyType({})

    def __init__(self, server_version: Version | None = None) -> None:
        self.server_version = server_version
        self.caps = self.capabilities(server_version)

    @classmethod
    def capabilities(cls, version: Version | None = None) -> Capabilities:
        """The capabilities at server `version` (None: the newest)."""
        caps = Capabilities(cls.name)
        for minimum, changes in sorted(cls.capability_rows, key=lambda r: r[0]):
            if version is None or version >= minimum:
                caps = replace(caps, **changes)
        return caps

    @property
    def transactional_ddl(self) -> bool:
        """Whether DDL runs inside a transaction here."""
        return self.caps.transactional_ddl

    @classmethod
    def matches(cls, sa_dialect: Any) -> bool:
        """Whether a connected SQLAlchemy dialect is this database."""
        return bool(sa_dialect.name == cls.name)

    # --- what it can do (the linter's SF331, and every renderer before it renders) -------

    # --- type variants: each column with the type it has on this database (columns.py) ---

    @functools.cached_property
    def variant_names(self) -> tuple[str, ...]:
        """The `variants` keys that apply here, the most specific first (MariaDB: mariadb,
        then mysql); read for each column compared, so worked out once."""
        return (self.name, *[d for d in reversed(self.sql_dialects) if d != self.name])

    def column_here(self, c: ir.Column) -> ir.Column:
        """`c` as this database builds it: its variant for here (else its type) as its type,
        and no variants."""
        return columns.column_here(self.variant_names, c)

    def state_here(self, state: SchemaState) -> SchemaState:
        """`state` with every column as this database builds it."""
        return columns.state_here(self.variant_names, state)

    def op_here(self, op: ir.Operation) -> ir.Operation:
        """`op` with every column and type as this database builds it."""
        return columns.op_here(self.variant_names, op)

    def elsewhere(self, op: ir.Operation, before: SchemaState) -> bool:
        """Whether `op` creates or drops an index that exists on other databases only."""
        return columns.elsewhere(self.variant_names, op, before)

    def index_held(self, i: ir.IndexDef | ir.CreateIndex) -> bool:
        """Whether index `i` exists here (its `dialects` name this database, or are left
        out)."""
        return columns.index_held(self.variant_names, i)

    def check(self, op: ir.Operation, before: SchemaState) -> None:
        """Raise UsageError when this database cannot do `op` (values last: Unstorable)."""
        if self.elsewhere(op, before):
            return
        op = self.op_here(op)
        self.check_support(op, before)
        check_values(self, op, before)

    def integer_range(self, spec: TypeSpec) -> tuple[int, int] | None:
        """The integers a column of type `spec` holds here (None: no integer limit)."""
        bits = INTEGER_BITS.get(spec.name)
        return signed(bits) if bits else None

    def name_refused(self, name: str) -> str | None:
        """Why this database refuses the identifier `name` (None: it takes it)."""
        return nul_refused(name)

    def refuses_transaction(self, statement: str) -> bool:
        """Whether raw SQL `statement` cannot run inside a transaction block here (then it
        runs alone, outside any, in a `transactional: false` changeset)."""
        return False

    def runs_sql(self, op: ir.Sql) -> bool:
        """Whether a `sql` operation's `dialects` include this database."""
        return self.holds(op.dialects)

    def holds(self, dialects: Sequence[str] | None) -> bool:
        """Whether something scoped to `dialects` (None: every database) exists here."""
        return dialects is None or any(d in self.sql_dialects for d in dialects)

    def analyzers(self) -> tuple[Analyzer, ...]:
        """Lint rules that only this database needs (beyond the shared ones)."""
        return (stored_values,)

    def script_preamble(self) -> tuple[str, ...]:
        """The lines an offline script (`--sql`) starts with, before any transaction, so that
        it runs as the online run does (SQLite: foreign keys off, as on schemaflow's own
        connections)."""
        return ()

    def autogenerate_prelude(self, operations: Sequence[ir.Operation]
                             ) -> tuple[ir.Operation, ...]:
        """What autogenerate writes at the start of a changeset of `operations` so that this
        database's own lint rules need not ask for it (PostgreSQL: a lock_timeout)."""
        return ()

    # --- SQL (SQLAlchemy from here on, imported on use) ----------------------------------

    def renderer(self) -> Renderer:
        """The renderer of operations to this database's statements."""
        raise NotImplementedError(f"{self.name} has no renderer")

    def sa_dialect(self) -> Any:
        """A SQLAlchemy dialect instance for offline compilation (no driver needed)."""
        raise NotImplementedError(f"{self.name} has no SQLAlchemy dialect")

    def driver_url(self, url: str) -> str:
        """`url` as schemaflow connects with it: the scheme as SQLAlchemy spells it, the
        default driver where the URL names none, an asyncio driver replaced by its
        synchronous counterpart. Text only (the driver-level reader uses it too)."""
        scheme, sep, rest = url.partition("://")
        if not sep:
            return url
        base, _, driver = scheme.lower().partition("+")
        base = self.scheme_aliases.get(base, base)
        driver = self.sync_drivers.get(driver, driver) if driver else (self.default_driver or "")
        return f"{base}+{driver}://{rest}" if driver else f"{base}://{rest}"

    def driver_package(self, driver: str) -> str:
        """The pip package that provides `driver` (its own name when not known)."""
        return self.driver_packages.get(driver, driver)

    def engine_args(self, url: Any, kwargs: dict[str, Any], lock_timeout: float) -> Any:
        """The SQLAlchemy URL to connect with and, in `kwargs`, engine options."""
        return url

    def setup_engine(self, engine: Any) -> None:
        """Hook a new engine's events (session settings per connection)."""

    def canceller(self, conn: Connection) -> Callable[[], None]:
        """How to cancel the statement `conn` runs from outside it (a signal handler), read
        while `conn` is idle: by default the driver's own cancel request."""
        from .cancel import driver_cancel

        return driver_cancel(conn)
    def borrowed(self, conn: Connection, inside: bool) -> AbstractContextManager[None]:
        """For the block, give a connection of the caller's own engine (the API's `url=` an
        Engine or Connection) what `setup_engine` gives schemaflow's; restore it after.
        `inside`: the caller's transaction is open on it (and must stay so)."""
        return nullcontext()

    # --- the lock and the version table --------------------------------------------------

    def lock(self, conn: Connection, table: str, timeout: float) -> bool:
        """Take the run-wide lock for `table` within `timeout` seconds (0: try once)."""
        return True

    def unlock(self, conn: Connection, table: str) -> None:
        """Release the run-wide lock."""

    def database_missing(self, url: str) -> bool:
        """Whether the database of `url` does not exist yet (and connecting would create it,
        which a dry run or a listing must not do)."""
        return False

    def read_versions(self, url: str, table: str, schema: str | None,
                      timeout: float) -> VersionRead | None:
        """The version rows and the journal's rows through the driver alone ([] without
        the table), or None when this URL is left to SQLAlchemy (its meaning to the driver
        is not certain)."""
        return None

    def driver_side(self, url: str, schema: str | None) -> DriverSide | None:
        """`url` through its driver alone, for a run that needs no SQLAlchemy (`driverrun`),
        the version table in `schema`; None where only SQLAlchemy connects it."""
        return None

    def driver_facts(self, raw: Any, driver: str) -> tuple[Any, ...] | None:
        """What a plan renders for besides the server version, read from the driver's
        connection `raw` (SQLAlchemy's `driver`) of one of schemaflow's own engines, as
        `driver_side`'s `facts` reads it; None: only SQLAlchemy's dialect tells."""
        return None

    # --- throw-away databases (the pytest plugin's) --------------------------------------

    def create_database_sql(self, name: str) -> str:
        """The statement that creates the empty database `name` (a plain identifier)."""
        return f"CREATE DATABASE {name}"

    def drop_database_sql(self, name: str) -> str:
        """The statement that drops the database `name`, even with sessions left open."""
        return f"DROP DATABASE IF EXISTS {name}"
