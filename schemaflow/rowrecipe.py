"""The version table's statements as plain data, for a run through the driver alone
(`driverrun`): compiled by SQLAlchemy in a run that has it (`make`, from its `RunWriter`),
kept signed beside the plans (`plancache.store_recipe`), and sent by `RecipeWriter` with
the values converted as SQLAlchemy converts them. Importing this module imports no
SQLAlchemy."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from .runner import RowWriter

if TYPE_CHECKING:
    from .recorder import RunWriter

# A time as SQLAlchemy's SQLite DATETIME stores it (text); what `make` checks a converter by.
DATETIME_TEXT = "%Y-%m-%d %H:%M:%S.%f"
_SAMPLE_TIMES = (dt.datetime(2001, 2, 3, 4, 5, 6, 7), dt.datetime(2026, 12, 31, 23, 59, 59))
MOST_IDS = 8  # the query and the DELETE of up to this many ids (a changeset and its parents)


def make(writer: RunWriter, most: int = MOST_IDS) -> dict[str, Any] | None:
    """`writer`'s statements as plain data: the version table's CREATE TABLE, the INSERT,
    and the query and the DELETE of 1 to `most` ids. None where a value is converted in a
    way that `RecipeWriter` does not repeat (anything but a time as SQLite's text)."""
    from sqlalchemy.schema import CreateTable

    convert = {}
    for key, processor in writer.processors.items():
        if processor is None:
            continue
        if key != "applied_at" or not all(
                processor(t) == t.strftime(DATETIME_TEXT) for t in _SAMPLE_TIMES):
            return None
        convert[key] = "datetime-text"
    for n in range(1, most + 1):
        ids = tuple(str(i) for i in range(n))
        writer.present_sql(ids)
        writer.delete_sql(ids)
    # As SQLAlchemy sends it (its first line empty): the server counts an error's LINE in it.
    create = CreateTable(writer.vt).compile(dialect=writer.conn.dialect)
    schema = writer.vt.schema
    return {"table": str(writer.vt.name), "schema": None if schema is None else str(schema),
            "create": str(create).rstrip(), "insert": _plain(writer.insert_row),
            "convert": convert, "present": {n: _plain(s) for n, s in writer.selects.items()},
            "delete": {n: _plain(s) for n, s in writer.deletes.items()}}


def _plain(sql: tuple[str, list[str] | None]) -> tuple[str, list[str] | None]:
    """A compiled statement as plain strings (SQLAlchemy's names are a subclass of str)."""
    text, names = sql
    return str(text), None if names is None else [str(n) for n in names]


class RecipeWriter(RowWriter):
    """The version-row statements of a run through the driver alone, from `make`'s
    recipe."""

    def __init__(self, recipe: dict[str, Any]) -> None:
        self.recipe = recipe
        self.texts = [k for k, v in recipe["convert"].items() if v == "datetime-text"]

    def covers(self, n: int) -> bool:
        """Whether the recipe has the query and the DELETE of `n` ids."""
        return n in self.recipe["present"] and n in self.recipe["delete"]

    def present_sql(self, ids: tuple[str, ...]) -> tuple[str, Any]:
        return self._params(self.recipe["present"][len(ids)],
                            {f"id_{i}": v for i, v in enumerate(ids)})

    def delete_sql(self, ids: tuple[str, ...]) -> tuple[str, Any]:
        return self._params(self.recipe["delete"][len(ids)],
                            {f"id_{i}": v for i, v in enumerate(ids)})

    def insert_sql(self, *, cid: str, checksum: str, message: str, execution_ms: int,
                   order: int) -> tuple[str, Any]:
        values = self.row_values(cid=cid, checksum=checksum, message=message,
                                 execution_ms=execution_ms, order=order)
        for key in self.texts:
            values[key] = values[key].strftime(DATETIME_TEXT)
        return self._params(self.recipe["insert"], values)
