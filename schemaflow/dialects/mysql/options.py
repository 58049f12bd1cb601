"""What MySQL and MariaDB keep of a table beyond its columns, keys and indexes, as reflection
reads it: table options (only the engine InnoDB and the default character set and
collation, read by `charsets`, are expressible) and MariaDB's sequences."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..catalogs import Limits

# A table's comment is read as its comment, its default character set and collation as its
# `mysql_charset` and `mysql_collate` (`charsets`).
_READ = frozenset({"mysql_comment", "mysql_default charset", "mysql_charset",
                   "mysql_collate"})

_SEQUENCES = ("SELECT table_name FROM information_schema.tables WHERE table_type = 'SEQUENCE' "
              "AND table_schema = coalesce(:schema, database()) ORDER BY table_name")


def refused(options: dict[Any, dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    """Each table's options but the InnoDB engine and those read elsewhere: a MyISAM table,
    a row format, partitioning, MIN_ROWS, ..."""
    found = {}
    for key, named in options.items():
        # SQLAlchemy's MariaDB dialect (a mariadb:// URL) prefixes them mariadb_.
        given = {"mysql_" + k.removeprefix("mariadb_") if k.startswith("mariadb_") else k: v
                 for k, v in named.items()}
        left = {k: v for k, v in given.items() if not (
            k in _READ or (k == "mysql_engine" and str(v).lower() == "innodb"))}
        if left:
            found[key] = left
    return found


def sequence_options(conn: Any, schema: str | None, names: list[str],
                     limits: Limits) -> dict[str, dict[str, int | bool]]:
    """The options of MariaDB's named sequences of `schema`, its defaults left out (a
    sequence is a table of one row that holds them)."""
    from ..catalogs import options_given

    quote = conn.dialect.identifier_preparer.quote
    found = {}
    for name in names:
        table = f"{quote(schema)}.{quote(name)}" if schema else quote(name)
        start, increment, low, high, cache, cycle = conn.exec_driver_sql(
            "SELECT start_value, increment, minimum_value, maximum_value, cache_size, "
            f"cycle_option FROM {table}").one()
        found[name] = options_given(start, increment, low, high, cache, bool(cycle), limits)
    return found


def sequences(conn: Any, schema: str | None) -> list[tuple[str, str | None, str | None]]:
    """MariaDB's sequences in `schema` (None: the connection's database); none is owned by
    a column."""
    import sqlalchemy as sa

    return [(str(name), None, None) for (name,) in conn.execute(sa.text(_SEQUENCES),
                                                                {"schema": schema})]
