"""The shape the code keeps: every operation kind is complete, and a database is one module.

Every kind has its state transition, automatic inverse, renderer and JSON Schema entry (with
the schema's keys equal to the dataclass fields); a toy fifth database registered by this
test alone works through the same API as the real ones; and no code outside
`schemaflow/dialects/` compares a database's name.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import ROOT

from schemaflow import dialects, ir
from schemaflow.api import Project
from schemaflow.dialects.render import Renderer
from schemaflow.dialects.sqlite import SQLite
from schemaflow.errors import UsageError
from schemaflow.reverse import _REVERSE
from schemaflow.state import _APPLY

SCHEMA = json.loads((ROOT / "schemas" / "changeset.schema.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("kind", sorted(ir.OPERATIONS))
def test_every_kind_is_complete(kind: str) -> None:
    cls = ir.OPERATIONS[kind]
    assert cls in _APPLY, f"{kind} has no state transition"
    assert cls in _REVERSE, f"{kind} has no automatic inverse (None is an answer; absence is not)"
    assert callable(getattr(Renderer, f"op_{kind}", None)), f"{kind} has no renderer"
    definitions = SCHEMA["definitions"]
    assert kind in SCHEMA["definitions"]["operation"]["properties"]
    assert dataclasses.is_dataclass(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    assert set(definitions[kind]["properties"]) == fields


def test_the_schema_names_no_operation_the_ir_lacks() -> None:
    assert set(SCHEMA["definitions"]["operation"]["properties"]) == set(ir.OPERATIONS)


class ToyDB(SQLite):
    """A fifth database for this test: SQLite's statements under another name and scheme."""

    name: ClassVar[str] = "toydb"
    schemes: ClassVar[tuple[str, ...]] = ("toydb",)
    sql_dialects: ClassVar[tuple[str, ...]] = ("toydb",)


@pytest.fixture
def toy() -> Iterator[type[ToyDB]]:
    dialects.register(ToyDB)
    try:
        yield ToyDB
    finally:
        dialects.unregister("toydb")


def test_a_new_database_is_one_registered_class(toy: type[ToyDB], tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "changesets").mkdir(parents=True)
    (root / "schemaflow.toml").write_text('url = "toydb:///nowhere"\n', encoding="utf-8")
    (root / "changesets" / "a1_users.yaml").write_text(
        "schemaflow: 1\nid: a1\nparents: []\nmessage: users\noperations:\n"
        "  - create_table: {name: users, columns: [{name: id, type: integer, "
        "primary_key: true}]}\n"
        "  - sql: {up: 'SELECT 1', down: 'SELECT 2', dialects: [postgresql]}\n",
        encoding="utf-8")
    project = Project.from_config(cwd=root)
    assert "toydb" in dialects.names()
    assert isinstance(dialects.for_url("toydb:///x"), ToyDB)
    assert project.validate(dialect="toydb") == []
    sql = project.offline_sql("apply", None).sql  # the dialect told from the URL
    assert sql is not None
    assert "-- schemaflow apply (toydb)" in sql
    assert re.search(r'CREATE TABLE users \(\s*id INTEGER NOT NULL', sql)
    assert "SELECT 1" not in sql  # a `sql` operation for PostgreSQL only is not run here


def test_a_database_name_is_registered_once(toy: type[ToyDB]) -> None:
    class Again(SQLite):
        name: ClassVar[str] = "toydb"

    with pytest.raises(ValueError, match="registered already"):
        dialects.register(Again)


def test_an_unknown_database_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="the dialect 'toydb' is not supported yet"):
        dialects.by_name("toydb")


def test_no_database_name_is_compared_outside_dialects() -> None:
    pattern = re.compile(r"""(==|!=|\bin\s*\()\s*['"](postgresql|mysql|mariadb|sqlite)['"]""")
    found = []
    for path in sorted((ROOT / "schemaflow").rglob("*.py")):
        if "dialects" in path.relative_to(ROOT / "schemaflow").parts:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert found == []


def test_the_mixins_of_dialect_define_each_method_once() -> None:
    """A method two of `Dialect`'s mixins define is the first one's in the MRO: a stub in
    one shadowed the other's real method (CatalogReading.matched over the comparable view's,
    when that moved out of base.py), and checks read back compared as different."""
    import inspect

    from schemaflow.dialects.base import Dialect

    mixins = [c for c in Dialect.__mro__[1:] if c.__module__.startswith("schemaflow.")]
    seen: dict[str, str] = {}
    for cls in mixins:
        for name, value in vars(cls).items():
            if inspect.isfunction(value) and not name.startswith("__"):
                assert name not in seen, (name, seen.get(name), cls.__name__)
                seen[name] = cls.__name__
