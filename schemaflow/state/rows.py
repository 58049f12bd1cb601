"""What the rows of `insert_rows` and `delete_rows` may hold: columns of their table, and values
a changeset can carry for each column's type (SF121)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .. import ir
from ..errors import StateError
from ..typespec import TypeSpec
from .schema import SchemaState, nearest

# Types whose values are bytes, which neither YAML nor TOML (nor JSON) holds.
_BYTES = frozenset({"binary", "varbinary", "bytea", "blob", "tinyblob", "mediumblob",
                    "longblob"})


def _types(c: ir.Column) -> list[tuple[str, TypeSpec]]:
    """The column's type and each variant's, as a message shows them."""
    return [(str(c.type), c.type), *((f"{v.dialect}: {v.type}", v.type) for v in c.variants)]


def rows_fit(state: SchemaState, op: ir.InsertRows | ir.DeleteRows) -> SchemaState:
    """The state after `op` (the same): its rows name columns the table has, with values
    each column takes (SF102, SF121)."""
    from ..defaults import row_problem  # (the state package imports no checks of its own)

    t = state.table(op.table, op.schema)
    columns = {c.name: c for c in t.columns}  # seed data may hold many thousand rows
    binary = {c.name for c in t.columns if any(
        spec.name.rsplit(".", 1)[-1] in _BYTES for _, spec in _types(c))}
    for n, row in enumerate(op.rows, 1):
        for col, value in row.items():
            c = columns.get(col)
            if c is None:
                raise StateError(f"{op.kind} names the column '{op.table}.{col}', which does not "
                                 "exist", code="SF102", hint=nearest(col, list(columns)))
            if isinstance(value, (dict, list)):
                _json_value(op, n, c)
            elif value is not None and col not in binary:
                _fits(op, n, c, value, row_problem)
            elif value is not None:
                raise StateError(
                    f"row {n}, column '{op.table}.{col}' ({c.type}): a binary column takes "
                    "no value here (a changeset holds text, numbers and JSON, no bytes)",
                    code="SF121", hint="write these rows with a sql operation, the bytes as "
                    "the database's literal (X'00ff' on SQLite and MySQL, '\\x00ff' on "
                    "PostgreSQL), scoped with `dialects:` where they differ")
    return state


def _json_value(op: ir.InsertRows | ir.DeleteRows, n: int, c: ir.Column) -> None:
    """A mapping or list as a row value: a JSON object or array, which only a json column
    stores on every database, and which delete_rows cannot match (PostgreSQL's json has no
    equality, and MySQL compares JSON with text as text)."""
    where = f"row {n}, column '{op.table}.{c.name}'"
    what = "a mapping" if isinstance(op.rows[n - 1][c.name], dict) else "a list"
    if isinstance(op, ir.DeleteRows):
        raise StateError(f"{where}: {what} cannot be matched; delete_rows compares values "
                         "with =, which JSON values do not take on every database",
                         code="SF121", hint="match the rows by their primary key")
    # A list is an array column's value too (its elements).
    takes = ("json", "jsonb", "array") if what == "a list" else ("json", "jsonb")
    not_json = [shown for shown, spec in _types(c) if spec.name.rsplit(".", 1)[-1] not in takes]
    if not_json:
        raise StateError(f"{where} ({', '.join(dict.fromkeys(not_json))}): {what} is a "
                         "value only for a json column (a JSON object or array)"
                         + (" or an array column" if what == "a list" else ""),
                         code="SF121", hint="write the value as text or a number, or give "
                         "the column the type json")


def _fits(op: ir.InsertRows | ir.DeleteRows, n: int, c: ir.Column,
          value: str | int | float | bool, row_problem: Callable[[TypeSpec, Any], str | None]
          ) -> None:
    """A scalar row value of the column's type and of each type variant's (SF121): one the
    type's conversion would raise on at apply, or a database would refuse or change."""
    for shown, spec in _types(c):
        why = row_problem(spec, value)
        if why is not None:
            raise StateError(f"row {n}, column '{op.table}.{c.name}' ({shown}): the value "
                             f"{json.dumps(value)} {why}", code="SF121",
                             hint="write a value of the column's type")
