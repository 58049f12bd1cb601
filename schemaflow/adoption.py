"""Constraints a database holds under other names than the changesets give them.

A database schemaflow did not build (by `metadata.create_all()`, Alembic, by hand) names the
constraints its models left unnamed after its own rule: PostgreSQL's `t_pkey`, `t_c_fkey`,
`t_c_key`, `t_c_check`; MySQL's `t_ibfk_1`, `CONSTRAINT_1` and the column's name for a unique
key. The changesets give the same constraints schemaflow's names (`pk_t`, `fk_t_c_ref`, ...:
`state.naming`), and `check` compares what constraints mean, not their names. Stamped as
applied there, the history is in effect, until a changeset drops or alters such a
constraint by the changesets' name: it fails on that database alone. So when a stamp
records a history on a database schemaflow had recorded nothing on, the names are
compared and each difference listed (`differences`), before any such changeset is written.
Only where constraints are altered by name (not SQLite, whose changes rebuild the table).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .dialects.base import Dialect
    from .ir import ForeignKeyDef
    from .state import SchemaState, Table


@dataclass(frozen=True)
class Renamed:
    """A constraint this database holds under `here`, which the changesets name `wanted`."""

    table: str
    what: str  # "primary key (id)", "foreign key (a_id) -> a (id)", ...
    wanted: str
    here: str

    def __str__(self) -> str:
        return f"{self.table}: {self.what} is {self.wanted} in the changesets, {self.here} here"


def _fk(f: ForeignKeyDef) -> tuple[object, ...]:
    r = f.references
    return f.columns, r.schema, r.table, r.columns


def _listed(columns: tuple[str, ...]) -> str:
    return ", ".join(columns)


def _table(have: Table, want: Table) -> list[Renamed]:
    """The constraints of one table held under other names, matched by what they are."""
    name = want.name if want.schema is None else f"{want.schema}.{want.name}"
    out: list[Renamed] = []

    def differ(what: str, wanted: str | None, here: str | None) -> None:
        if wanted and here and wanted != here:
            out.append(Renamed(name, what, wanted, here))

    if have.primary_key and want.primary_key and (
            have.primary_key.columns == want.primary_key.columns):
        differ(f"primary key ({_listed(want.primary_key.columns)})", want.primary_key.name,
               have.primary_key.name)
    uniques = {u.columns: u.name for u in have.uniques}
    for u in want.uniques:
        differ(f"unique ({_listed(u.columns)})", u.name, uniques.get(u.columns))
    keys = {_fk(f): f.name for f in have.foreign_keys}
    for f in want.foreign_keys:
        differ(f"foreign key ({_listed(f.columns)}) -> {f.references.table} "
               f"({_listed(f.references.columns)})", f.name, keys.get(_fk(f)))
    checks = {c.expression: c.name for c in have.checks}
    for c in want.checks:
        differ(f"check ({c.expression})", c.name, checks.get(c.expression))
    return out


def differences(have: SchemaState, want: SchemaState, dialect: Dialect) -> list[Renamed]:
    """Each constraint of `want` (the changesets' schema) that `have` (the database's,
    reflected) holds under another name; none where `dialect` alters no constraint by
    name. A CHECK is matched by what it means there (`Dialect.matched`)."""
    if not dialect.caps.alter_constraints:
        return []
    have = dialect.matched(have, want)
    out: list[Renamed] = []
    for key, t in want.tables.items():
        other = have.tables.get(key)
        if other is not None:
            out += _table(other, t)
    return out
