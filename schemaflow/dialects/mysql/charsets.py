"""A table's default character set and collation on MySQL and MariaDB (`mysql_charset`,
`mysql_collate`): read from the catalog in the fewest words that rebuild them, and a
reflected table's put in the models' words where both build the same here."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ...ir.charsets import charset_of, full_collation, normal_charset, normal_collation

if TYPE_CHECKING:
    from ...state import SchemaState, Table

_TABLES = ("SELECT table_name, table_collation FROM information_schema.tables "
           "WHERE table_schema = coalesce(:schema, database()) AND table_type = 'BASE TABLE'")
_DATABASE = ("SELECT default_collation_name FROM information_schema.schemata "
             "WHERE schema_name = coalesce(:schema, database())")
_DEFAULTS = "SELECT character_set_name, default_collate_name FROM information_schema.character_sets"
# MariaDB 11.2 on: each character set's default collation where the server's differs from the
# one it was built with (`utf8mb4=uca1400_ai_ci,...`); no row elsewhere.
_OVERRIDES = "SHOW VARIABLES LIKE 'character_set_collations'"


@dataclass(frozen=True)
class Defaults:
    """What a table gets that names no collation: the database's default collation where it
    names no character set either, else its character set's default collation."""

    database: str
    charsets: dict[str, str]

    def built(self, charset: str | None, collate: str | None) -> str:
        """The collation a table written with these words gets (a collation that names no
        character set is one of the given one, else of the database's)."""
        if collate:
            return full_collation(collate, charset or charset_of(self.database))
        if charset:
            return self.charsets.get(normal_charset(charset), "")
        return self.database


def defaults(conn: Any, schema: str | None) -> Defaults:
    """The database's and each character set's default collation."""
    import sqlalchemy as sa

    database = conn.execute(sa.text(_DATABASE), {"schema": schema}).scalar()
    charsets = {normal_charset(str(c)): normal_collation(str(d))
                for c, d in conn.execute(sa.text(_DEFAULTS))}
    for _, value in conn.exec_driver_sql(_OVERRIDES):
        for pair in str(value or "").split(","):
            charset, _, collate = pair.strip().partition("=")
            if charset and collate:
                charsets[normal_charset(charset)] = full_collation(collate, charset)
    return Defaults(normal_collation(str(database or "")), charsets)


def table_words(conn: Any, schema: str | None) -> dict[str, tuple[str | None, str | None]]:
    """Each table's `mysql_charset` and `mysql_collate` where its collation is not the
    database's: the character set alone where the collation is that set's default."""
    import sqlalchemy as sa

    rows = [(str(t), normal_collation(str(c))) for t, c in conn.execute(
        sa.text(_TABLES), {"schema": schema}) if c]
    if not rows:
        return {}
    known = defaults(conn, schema)
    found: dict[str, tuple[str | None, str | None]] = {}
    for table, collation in rows:
        if collation == known.database:
            continue
        charset = charset_of(collation)
        found[table] = (charset, None if charset and known.charsets.get(charset) == collation
                        else collation)
    return found


def words_matched(conn: Any, have: SchemaState, want: SchemaState) -> SchemaState:
    """`have` with each table whose collation `want`'s words build here written in them."""
    from ..comparable import map_tables

    def words(t: Table) -> tuple[str | None, str | None]:
        return t.mysql_charset, t.mysql_collate

    pairs = [(t, want.tables.get(t.key)) for t in have.tables.values()]
    differ = [(t, w) for t, w in pairs if w is not None and words(t) != words(w)]
    if not differ:
        return have
    known = {s: defaults(conn, s) for s in {t.schema for t, _ in differ}}
    same = {t.key: w for t, w in differ
            if known[t.schema].built(*words(t)) == known[t.schema].built(*words(w))}

    def matched(t: Table) -> Table:
        w = same.get(t.key)
        return t if w is None else replace(t, mysql_charset=w.mysql_charset,
                                           mysql_collate=w.mysql_collate)

    return map_tables(have, matched)
