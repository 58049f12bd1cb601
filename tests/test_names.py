"""The names schemaflow makes up fit every database, the same on each; names a user wrote that a
database cannot take are reported by `validate --dialect`."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import Project, make_project
from sqlalchemy.schema import CreateIndex, CreateTable

from schemaflow import ir
from schemaflow.dialects import _REGISTRY, by_name
from schemaflow.state import MAX_NAME_BYTES, SchemaState, apply, fit, fk_name, ix_name

LONG_FK = "fk_order_line_adjustments_adjustment_definition_id_adjustment_definitions"
LONG_COLUMN = "adjustment_definition_external_reference"


def test_the_limit_is_the_smallest_of_the_databases() -> None:
    smallest = min(cls.capabilities().max_identifier_length for cls in _REGISTRY.values())
    assert smallest == MAX_NAME_BYTES


def test_a_name_that_fits_is_kept_exactly() -> None:
    for name in ("pk_users", "x" * 63, "ü" * 31 + "x"):  # 63 bytes
        assert fit(name) == name


def test_a_long_name_is_cut_and_hashed_in_bytes() -> None:
    short = fit(LONG_FK)
    assert short == "fk_order_line_adjustments_adjustment_definition_id_adju_bf20"
    assert fit("x" * 64) != fit("x" * 65)  # the hash is of the whole name
    wide = fit("ü" * 40)  # 80 bytes: cut on a character boundary, never inside one
    assert len(wide.encode()) <= MAX_NAME_BYTES and wide.startswith("ü" * 27 + "_")


def test_a_long_name_is_what_sqlalchemy_gives_a_naming_convention_on_postgresql() -> None:
    metadata = sa.MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"})
    sa.Table("adjustment_definitions", metadata, sa.Column("id", sa.Integer, primary_key=True))
    t = sa.Table("order_line_adjustments", metadata,
                 sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("adjustment_definition_id", sa.ForeignKey("adjustment_definitions.id")),
                 sa.Column(LONG_COLUMN, sa.String(40), index=True))
    ddl = str(CreateTable(t).compile(dialect=by_name("postgresql").sa_dialect()))
    assert f"CONSTRAINT {fit(LONG_FK)} FOREIGN KEY" in ddl
    (index,) = t.indexes
    ddl = str(CreateIndex(index).compile(dialect=by_name("postgresql").sa_dialect()))
    assert f"INDEX {ix_name(t.name, (LONG_COLUMN,))} ON" in ddl
    # MySQL's limit is 64: SQLAlchemy cuts there one character later (see the README).
    assert fit(LONG_FK) not in str(CreateTable(t).compile(dialect=by_name("mysql").sa_dialect()))


def _long_tables() -> list[Any]:
    return [
        {"create_table": {"name": "adjustment_definitions", "columns": [
            {"name": "id", "type": "integer", "primary_key": True}]}},
        {"create_table": {"name": "order_line_adjustments", "columns": [
            {"name": "id", "type": "integer", "primary_key": True},
            {"name": "adjustment_definition_id", "type": "integer"},
            {"name": LONG_COLUMN, "type": "string(40)", "index": True},
            {"name": "adjustment_definition_external_code_value", "type": "string(40)",
             "unique": True}],
            "foreign_keys": [{"columns": ["adjustment_definition_id"],
                              "references": {"table": "adjustment_definitions",
                                             "columns": ["id"]}}]}},
    ]


def test_generated_names_in_the_replayed_state_fit() -> None:
    state = SchemaState()
    for doc in _long_tables():
        state = apply(state, ir.parse_operation(doc))
    t = state.table("order_line_adjustments", None)
    names = [t.foreign_keys[0].name, t.indexes[0].name, t.uniques[0].name]
    assert names[0] == fit(LONG_FK) == fk_name(t.name, t.foreign_keys[0])
    assert all(n and len(n.encode()) <= MAX_NAME_BYTES for n in names), names
    assert t.primary_key and t.primary_key.name == "pk_order_line_adjustments"  # unchanged


MODELS = """\
import sqlalchemy as sa

metadata = sa.MetaData()
sa.Table("adjustment_definitions", metadata, sa.Column("id", sa.Integer, primary_key=True))
sa.Table("order_line_adjustments", metadata,
         sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("adjustment_definition_id", sa.ForeignKey("adjustment_definitions.id")),
         sa.Column("{long}", sa.String(40), index=True),
         sa.Column("adjustment_definition_external_code_value", sa.String(40), unique=True))
"""


def _fk_names(url: str) -> list[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        insp = sa.inspect(engine)
        return [str(f["name"]) for f in insp.get_foreign_keys("order_line_adjustments")]
    finally:
        engine.dispose()


def _project(root: Path, url: str | None) -> Project:
    p = make_project(root, url)
    p.chain(_long_tables())
    (root / "long_models.py").write_text(MODELS.replace("{long}", LONG_COLUMN),
                                         encoding="utf-8")
    with (root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
        fh.write('models = "long_models:metadata"\n')
    return p


@pytest.mark.parametrize("url_fixture", [
    "sqlite",
    pytest.param("pg_url", marks=pytest.mark.postgresql),
    pytest.param("mysql_url", marks=pytest.mark.mysql),
])
def test_a_long_generated_name_applies_the_same_everywhere(
        tmp_path: Path, url_fixture: str, request: pytest.FixtureRequest) -> None:
    url = (f"sqlite:///{tmp_path / 'app.db'}" if url_fixture == "sqlite"
           else request.getfixturevalue(url_fixture))
    p = _project(tmp_path / "proj", url)
    for args in (("validate",), ("apply",), ("check",), ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    assert _fk_names(url) == [fit(LONG_FK)]


@pytest.mark.postgresql
def test_create_all_on_postgresql_gives_the_same_schema(tmp_path: Path, pg_url: str) -> None:
    # Unnamed keys get PostgreSQL's own names (compared by meaning); the index of
    # `index=True` gets SQLAlchemy's shortened convention name, which is schemaflow's.
    p = _project(tmp_path / "proj", pg_url)
    spec = importlib.util.spec_from_file_location("long_models_pg", p.root / "long_models.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    try:
        module.metadata.create_all(engine)
        indexes = sa.inspect(engine).get_indexes("order_line_adjustments")
    finally:
        engine.dispose()
    assert ix_name("order_line_adjustments", (LONG_COLUMN,)) in {i["name"] for i in indexes}
    done = p.cli("check", "--against-db")
    assert done.returncode == 0, (done.stdout, done.stderr)


def test_a_long_name_written_out_is_reported_per_database(tmp_path: Path) -> None:
    p = make_project(tmp_path / "proj")
    name = "ü" * 32  # 64 bytes in 32 characters
    p.chain([{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer"}],
        "primary_key": {"columns": ["id"], "name": name}}}])
    pg = p.cli("validate", "--dialect", "postgresql")
    assert pg.returncode == 1 and "SF331" in pg.stdout and "64 bytes" in pg.stdout, pg.stdout
    my = p.cli("validate", "--dialect", "mariadb")  # 64 characters there
    assert my.returncode == 0, my.stdout
    assert p.cli("validate", "--dialect", "sqlite").returncode == 0


def test_a_naming_convention_too_long_for_postgresql_is_shortened_as_sqlalchemy_does(
        tmp_path: Path) -> None:
    p = make_project(tmp_path / "proj")
    (p.root / "conv_models.py").write_text(textwrap.dedent(f"""\
        import sqlalchemy as sa

        metadata = sa.MetaData(naming_convention={{
            "ix": "ix_%(column_0_label)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}})
        sa.Table("adjustment_definitions", metadata,
                 sa.Column("id", sa.Integer, primary_key=True))
        sa.Table("order_line_adjustments", metadata,
                 sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("adjustment_definition_id",
                           sa.ForeignKey("adjustment_definitions.id")),
                 sa.Column("{LONG_COLUMN}", sa.String(40), index=True))
        """), encoding="utf-8")
    with (p.root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
        fh.write('models = "conv_models:metadata"\n')
    made = p.cli("new", "--autogenerate", "-m", "models")
    assert made.returncode == 0, made.stderr
    text = next(p.changesets.iterdir()).read_text(encoding="utf-8")
    assert fit(LONG_FK) in text and LONG_FK not in text
    for args in (("validate", "--dialect", "postgresql"), ("apply",), ("check",)):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
