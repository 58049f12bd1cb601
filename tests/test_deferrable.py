"""Deferrable foreign keys (`deferrable`, `initially`): written, replayed, reversed, diffed,
rendered, read from models and from databases; refused where a database has none."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import tomli_w
import yaml
from conftest import Project, make_project
from test_fidelity import _driver, _second, models_project

from schemaflow import ir
from schemaflow.diff import diff
from schemaflow.errors import StateError, UsageError
from schemaflow.reverse import reverse
from schemaflow.source.reading import read
from schemaflow.state import SchemaState, apply, apply_all
from schemaflow.validate import check_document

TABLES: list[dict[str, Any]] = [
    {"create_table": {"name": "a", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}},
    {"create_table": {"name": "b", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "a_id", "type": "integer"}]}},
]


def _fk(**options: Any) -> dict[str, Any]:
    return {"create_foreign_key": {"name": "fk_b_a", "table": "b", "columns": ["a_id"],
                                   "references": {"table": "a", "columns": ["id"]},
                                   **options}}


def _state(*docs: dict[str, Any]) -> SchemaState:
    return apply_all(SchemaState(), [ir.parse_operation(d) for d in (*TABLES, *docs)])


# --- the format and the state ----------------------------------------------------------------


def test_yaml_and_toml_say_the_same(tmp_path: Path) -> None:
    doc = {"schemaflow": 1, "id": "c001", "parents": [], "message": "m",
           "operations": [*TABLES, _fk(deferrable=True, initially="deferred")]}
    (tmp_path / "c001_m.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    (tmp_path / "c001_m.toml").write_text(tomli_w.dumps(doc), encoding="utf-8")
    sources = [read(tmp_path / f"c001_m.{ext}") for ext in ("yaml", "toml")]
    assert [check_document(src) for src in sources] == [[], []]  # the JSON Schema has them
    parsed = [ir.parse(src.doc) for src in sources]
    assert parsed[0].operations == parsed[1].operations
    op = parsed[0].operations[-1]
    assert isinstance(op, ir.CreateForeignKey)
    assert (op.deferrable, op.initially) == (True, "deferred")
    assert ir.dump_operation(op)["create_foreign_key"]["initially"] == "deferred"
    with pytest.raises(ir.IRError, match="must be one of deferred, immediate"):
        ir.parse_operation(_fk(initially="DEFERRED"))
    wrong = dict(doc, operations=[_fk(initially="later")])
    (tmp_path / "c002_m.yaml").write_text(yaml.safe_dump(wrong), encoding="utf-8")
    (diag,) = check_document(read(tmp_path / "c002_m.yaml"))
    assert diag.code == "SF002" and "later" in diag.message


def test_the_state_keeps_it_and_refuses_a_contradiction() -> None:
    (fk,) = _state(_fk(initially="deferred")).table("b", None).foreign_keys
    assert (fk.deferrable, fk.initially) == (None, "deferred")
    with pytest.raises(StateError, match="initially deferred but not deferrable") as caught:
        _state(_fk(deferrable=False, initially="deferred"))
    assert caught.value.code == "SF116"


def test_inline_keys_keep_it_through_reverse_and_diff() -> None:
    inline = {"create_table": {"name": "c", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "a_id", "type": "integer"}],
        "foreign_keys": [{"columns": ["a_id"], "references": {"table": "a", "columns": ["id"]},
                          "deferrable": True, "initially": "deferred"}]}}
    before = _state()
    after = apply(before, ir.parse_operation(inline))
    (fk,) = after.table("c", None).foreign_keys
    assert (fk.deferrable, fk.initially) == (True, "deferred")
    # Dropping the key, and dropping the table, come back deferrable.
    drop = ir.DropConstraint(name=fk.name or "", table="c", type="foreign_key")
    (back,) = reverse(drop, after) or ()
    assert apply(apply(after, drop), back) == after
    (recreated,) = reverse(ir.DropTable(name="c"), after) or ()
    assert apply(apply(after, ir.DropTable(name="c")), recreated) == after
    # Autogenerate writes it.
    (created,) = diff(before, after).operations
    assert isinstance(created, ir.CreateTable) and created.foreign_keys == (fk,)


@pytest.mark.parametrize(("old", "new", "changed"), [
    ({}, {"deferrable": True}, True),
    ({"deferrable": True}, {"deferrable": True, "initially": "deferred"}, True),
    ({"initially": "deferred"}, {"deferrable": True, "initially": "deferred"}, False),
    ({"deferrable": False}, {}, False),
    ({"deferrable": True, "initially": "immediate"}, {"deferrable": True}, False),
])
def test_a_changed_deferrability_is_a_drop_and_a_create(old: dict[str, Any],
                                                        new: dict[str, Any],
                                                        changed: bool) -> None:
    ops = diff(_state(_fk(**old)), _state(_fk(**new))).operations
    if not changed:
        assert ops == []
        return
    drop, create = ops
    assert isinstance(drop, ir.DropConstraint) and drop.name == "fk_b_a"
    assert isinstance(create, ir.CreateForeignKey)
    assert (create.deferrable, create.initially) == (new.get("deferrable"),
                                                     new.get("initially"))


def test_mysql_and_mariadb_refuse_it_and_the_others_render_it() -> None:
    from schemaflow.dialects import by_name, renderer_for

    before = _state()
    for options in ({"deferrable": True}, {"initially": "deferred"}):
        op = ir.parse_operation(_fk(**options))
        for name in ("mysql", "mariadb"):
            with pytest.raises(UsageError, match="no deferrable foreign keys: the foreign key "
                                                 "'fk_b_a' on 'b'"):
                by_name(name).check(op, before)
    quiet = ir.parse_operation(_fk(deferrable=False, initially="immediate"))
    by_name("mariadb").check(quiet, before)  # what MariaDB does anyway
    sql = " ".join(str(s.sql) for s in renderer_for("mariadb").render(quiet, before))
    assert "DEFERRABLE" not in sql and "INITIALLY" not in sql
    deferred = ir.parse_operation(_fk(initially="deferred"))
    for name in ("postgresql", "sqlite"):
        sql = " ".join(str(s.sql) for s in renderer_for(name).render(deferred, before))
        assert "DEFERRABLE INITIALLY DEFERRED" in sql, (name, sql)


# --- models and databases ---------------------------------------------------------------------

MODELS = """
    sa.Table("adjustment_definitions", metadata, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("order_lines", metadata,
             sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("definition_id", sa.ForeignKey("adjustment_definitions.id",
                                                      deferrable=True, initially="DEFERRED")),
             sa.Column("parent_id", sa.Integer),
             sa.ForeignKeyConstraint(["parent_id"], ["order_lines.id"], name="fk_line_parent",
                                     deferrable=True))
"""


def _foreign_keys(url: str) -> list[tuple[Any, ...]]:
    """Each foreign key of order_lines as the database reports it, deferrability included."""
    engine = sa.create_engine(_driver(url), poolclass=sa.pool.NullPool)
    try:
        fks = sa.inspect(engine).get_foreign_keys("order_lines")
    finally:
        engine.dispose()
    return sorted((tuple(f["constrained_columns"]), f["referred_table"],
                   bool((f.get("options") or {}).get("deferrable")),
                   str((f.get("options") or {}).get("initially") or "IMMEDIATE").upper())
                  for f in fks)


def _create_all(p: Project, url: str) -> None:
    spec = importlib.util.spec_from_file_location(f"fm_{abs(hash(url))}",
                                                  p.root / "fidelity_models.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    engine = sa.create_engine(_driver(url), poolclass=sa.pool.NullPool)
    try:
        module.metadata.create_all(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize("dialect", [
    "sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def test_deferrable_keys_round_trip(tmp_path: Path, dialect: str,
                                    request: pytest.FixtureRequest) -> None:
    if dialect == "sqlite":
        urls = [f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}",
                f"sqlite:///{tmp_path / 'c.db'}"]
    else:
        urls = [request.getfixturevalue("pg_url"), _second(request, dialect),
                _second(request, dialect)]
    p = models_project(tmp_path / "proj", MODELS, urls[0])
    made = p.cli("new", "--autogenerate", "-m", "models")
    assert made.returncode == 0, made.stderr
    (written,) = p.changesets.iterdir()
    fks = [f for op in yaml.safe_load(written.read_text(encoding="utf-8"))["operations"]
           for f in op.get("create_table", {}).get("foreign_keys", [])]
    assert sorted((f["columns"], f.get("deferrable"), f.get("initially")) for f in fks) == [
        (["definition_id"], True, "deferred"), (["parent_id"], True, None)]
    for args in (("validate",), ("apply",), ("check",), ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    expected = [(("definition_id",), "adjustment_definitions", True, "DEFERRED"),
                (("parent_id",), "order_lines", True, "IMMEDIATE")]
    assert _foreign_keys(urls[0]) == expected
    # The key really is checked at COMMIT: a line may come before its definition.
    engine = sa.create_engine(_driver(urls[0]), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            if dialect == "sqlite":
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.exec_driver_sql("INSERT INTO order_lines (id, definition_id) VALUES (1, 7)")
            conn.exec_driver_sql("INSERT INTO adjustment_definitions (id) VALUES (7)")
    finally:
        engine.dispose()

    # create_all() builds the same keys, and check --against-db finds nothing to do.
    _create_all(p, urls[1])
    assert _foreign_keys(urls[1]) == expected
    done = p.cli("--url", urls[1], "check", "--against-db")
    assert done.returncode == 0, (done.stdout, done.stderr)

    # A baseline of that database rebuilds them.
    base = make_project(tmp_path / "base", urls[1])
    made = base.cli("new", "--autogenerate", "--from-db", "-m", "baseline")
    assert made.returncode == 0, made.stderr
    done = base.cli("--url", urls[2], "apply")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert _foreign_keys(urls[2]) == expected


@pytest.mark.mysql
def test_mariadb_refuses_a_deferrable_key_loudly(tmp_path: Path, mysql_url: str) -> None:
    p = models_project(tmp_path / "proj", MODELS, mysql_url)
    made = p.cli("new", "--autogenerate", "-m", "models")  # refused before writing a file
    assert made.returncode == 2 and "no deferrable foreign keys" in made.stderr, made.stderr
    assert list(p.changesets.iterdir()) == []
    # Written for SQLite, then applied to MariaDB: apply and validate refuse it as well.
    elsewhere = f"sqlite:///{tmp_path / 'w.db'}"
    assert p.cli("--url", elsewhere, "new", "--autogenerate", "-m", "models").returncode == 0
    done = p.cli("apply")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert "no deferrable foreign keys" in done.stderr
    assert "the foreign key 'fk_line_parent' on 'order_lines' is deferrable" in done.stderr
    engine = sa.create_engine(_driver(mysql_url), poolclass=sa.pool.NullPool)
    try:
        # Nothing ran, and no version table is made for a plan refused.
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()
    linted = p.cli("validate")
    assert linted.returncode == 1 and "SF331" in linted.stdout, linted.stdout
