"""Reading the models and the live database at once (`autogen.models_and_database`): the
database is read on a thread while the models load. The result must be what reading one
after the other gives, errors must come in the same order (the models' first), and the
thread must import nothing (while the models load, sys.path starts with the project)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import DIALECTS, Project, make_project

from schemaflow.autogen import database_state, models_and_database, models_state
from schemaflow.config import load

MODELS = """\
import sqlalchemy as sa

metadata = sa.MetaData()
sa.Table("customers", metadata, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("email", sa.String(80), nullable=False, unique=True),
         sa.Column("note", sa.Text, comment="free text"))
sa.Table("orders", metadata, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id",
                                                            ondelete="CASCADE")),
         sa.Column("total", sa.Numeric(10, 2), server_default="0"),
         sa.Index("ix_orders_total", "total"))
"""


def _url(request: pytest.FixtureRequest, dialect: str, tmp_path: Path) -> str:
    if dialect == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    url: str = request.getfixturevalue("pg_url" if dialect == "postgresql" else "mysql_url")
    return url


def _project(root: Path, url: str, models: str = MODELS) -> Project:
    p = make_project(root, url)
    (root / "read_models.py").write_text(models, encoding="utf-8")
    with (root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
        fh.write('models = "read_models:metadata"\n')
    return p


def _pg_engine(url: str) -> sa.Engine:
    return sa.create_engine(sa.engine.make_url(url).set(drivername="postgresql+psycopg"),
                            poolclass=sa.pool.NullPool)


def _create_all(url: str, models: str) -> None:
    space: dict[str, Any] = {}
    exec(compile(models, "<models>", "exec"), space)
    parsed = sa.engine.make_url(url)
    drivers = {"mysql": "mysql+pymysql", "postgresql": "postgresql+psycopg"}
    parsed = parsed.set(drivername=drivers.get(parsed.drivername, parsed.drivername))
    engine = sa.create_engine(parsed, poolclass=sa.pool.NullPool)
    try:
        space["metadata"].create_all(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_what_the_thread_reads_is_what_one_after_the_other_reads(
        dialect: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = _url(request, dialect, tmp_path)
    p = _project(tmp_path / "proj", url)
    assert p.cli("new", "--autogenerate", "-m", "models").returncode == 0
    assert p.cli("apply").returncode == 0
    # A difference, so that an empty read could not pass for an equal one.
    _create_all(url, "import sqlalchemy as sa\nmetadata = sa.MetaData()\n"
                     "sa.Table('extra', metadata, sa.Column('id', sa.Integer, primary_key=True))\n")
    settings = load(cwd=p.root)
    models, live, dialect_read = models_and_database(settings, 10)
    assert models == models_state(settings)
    alone, dialect_alone = database_state(settings, 10)
    assert live == alone and ("extra" in {k[1] for k in live.tables})
    assert {k[1] for k in live.tables} == {"customers", "orders", "extra"}
    assert type(dialect_read) is type(dialect_alone)
    assert dialect_read.server_version == dialect_alone.server_version


@pytest.mark.postgresql
def test_a_schema_only_the_models_name_is_read_after_they_load(
        tmp_path: Path, pg_url: str) -> None:
    engine = sa.create_engine(sa.engine.make_url(pg_url).set(drivername="postgresql+psycopg"),
                              poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA billing")
        conn.exec_driver_sql("CREATE TABLE billing.invoices (id integer PRIMARY KEY, "
                             "total numeric(10, 2))")
    engine.dispose()
    p = _project(tmp_path / "proj", pg_url, MODELS + textwrap.dedent("""
        sa.Table("invoices", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 schema="billing")
    """))
    settings = load(cwd=p.root)
    _, live, _ = models_and_database(settings, 10)
    assert live == database_state(settings, 10, ["billing"])[0]
    assert {k for k in live.tables} == {("billing", "invoices")}
    assert [c.name for c in live.tables[("billing", "invoices")].columns] == ["id", "total"]


@pytest.mark.parametrize("broken", [True, False])
def test_broken_models_are_reported_before_an_unreachable_database(
        tmp_path: Path, broken: bool) -> None:
    """As before the thread: the models load first, their error is the one shown; with
    working models, the database's error is."""
    url = "postgresql://nobody@127.0.0.1:1/none"
    models = "raise RuntimeError('the models are broken')\n" if broken else MODELS
    p = _project(tmp_path / "proj", url, models)
    for args in (("check", "--against-db"), ("new", "--autogenerate", "--against-db", "-m", "x")):
        done = p.cli(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.count("error:") == 1, done.stderr
        assert "Traceback" not in done.stderr
        if broken:
            assert "the models are broken" in done.stderr
            assert "cannot connect" not in done.stderr
        else:
            assert "cannot connect" in done.stderr
    assert list(p.changesets.iterdir()) == []


# Run in a fresh process: in the test's own, what the thread needs is imported already. The
# spy cannot run on the thread alone (fails there): it notes, and the test checks.
_SPIED = """
import sys, threading
seen = []

class Spy:
    def find_spec(self, name, path=None, target=None):
        # A top-level module is looked for on sys.path, which starts with the project's
        # folder while the models load (a submodule is looked for in its package).
        if path is None and threading.current_thread() is not threading.main_thread():
            seen.append(name)

sys.meta_path.insert(0, Spy())
from schemaflow.autogen import models_and_database
from schemaflow.config import load
models, live, _ = models_and_database(load(), 10)
print(sorted(k[1] for k in live.tables), sorted(k[1] for k in models.tables))
print("THREAD IMPORTED", seen)
"""


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_reading_thread_imports_nothing(dialect: str, tmp_path: Path,
                                            request: pytest.FixtureRequest) -> None:
    url = _url(request, dialect, tmp_path)
    _create_all(url, MODELS)
    p = _project(tmp_path / "proj", url)
    env = {k: v for k, v in os.environ.items() if k not in ("SCHEMAFLOW_URL", "DATABASE_URL")}
    done = subprocess.run([sys.executable, "-c", _SPIED], cwd=p.root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['customers', 'orders'] ['customers', 'orders']",
                                        "THREAD IMPORTED []"]


# --- PostgreSQL's primary keys by schemaflow's own catalog query --------------------------------

_KEYS_SQL = [
    'CREATE TABLE plain (id integer PRIMARY KEY, name text)',
    'CREATE TABLE "Mixed Case" ("B col" integer, "a" integer, '
    'CONSTRAINT "PK Named" PRIMARY KEY ("B col", "a"))',
    'CREATE TABLE reordered (a integer, b integer, c integer, CONSTRAINT pk_r PRIMARY KEY (c, a))',
    'CREATE TABLE covering (a integer, b integer, c integer, '
    'CONSTRAINT pk_cov PRIMARY KEY (b) INCLUDE (c, a))',
    'CREATE TABLE dropped (a integer, gone integer, b integer)',
    'ALTER TABLE dropped DROP COLUMN gone',
    'ALTER TABLE dropped ADD CONSTRAINT pk_d PRIMARY KEY (b, a)',
    'CREATE TABLE nokey (a integer UNIQUE)',
    'CREATE TABLE parted (id integer, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)',
    "CREATE TABLE parted_2020 PARTITION OF parted FOR VALUES FROM ('2020-01-01') "
    "TO ('2021-01-01')",
    'CREATE VIEW plain_view AS SELECT * FROM plain',
    'CREATE SCHEMA other',
    'CREATE TABLE other.elsewhere (x integer, y integer, PRIMARY KEY (y, x))',
    'CREATE TABLE other.plain (z integer PRIMARY KEY)',  # hidden behind public.plain
]


@pytest.mark.postgresql
@pytest.mark.parametrize("search_path", ["public", "public, other"])
def test_postgresql_primary_keys_read_as_the_inspector_reads_them(
        pg_url: str, search_path: str) -> None:
    from schemaflow.dialects.postgresql.catalog import primary_keys

    engine = sa.create_engine(sa.engine.make_url(pg_url).set(drivername="postgresql+psycopg"),
                              poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            for statement in _KEYS_SQL:
                conn.exec_driver_sql(statement)
            conn.exec_driver_sql("CREATE TEMPORARY TABLE temporary (t integer PRIMARY KEY)")
            conn.exec_driver_sql(f"SET search_path = {search_path}")
            insp = sa.inspect(conn)
            for schema in (None, "other", "public"):
                want = {k: {"constrained_columns": v["constrained_columns"], "name": v["name"]}
                        for k, v in insp.get_multi_pk_constraint(schema=schema).items()
                        if v["name"] is not None}
                assert primary_keys(conn, schema) == want, schema
            default = primary_keys(conn, None)
            assert default[(None, "Mixed Case")] == {"constrained_columns": ["B col", "a"],
                                                     "name": "PK Named"}
            assert default[(None, "reordered")]["constrained_columns"] == ["c", "a"]
            assert default[(None, "covering")]["constrained_columns"] == ["b"]
            assert default[(None, "dropped")]["constrained_columns"] == ["b", "a"]
            assert (None, "nokey") not in default and (None, "temporary") not in default
            assert default[(None, "plain")]["constrained_columns"] == ["id"]
            assert ((None, "elsewhere") in default) == (search_path == "public, other")
            conn.rollback()
    finally:
        engine.dispose()


def test_a_sqlite_connection_made_on_the_callers_thread_is_read_there(tmp_path: Path) -> None:
    """sqlite3 refuses a connection made on another thread (check_same_thread), as an
    in-memory engine or a caller's `creator` makes it: SQLite is read where it was opened."""
    import sqlite3

    from schemaflow.api import Project as ApiProject

    p = _project(tmp_path / "proj", "sqlite://")
    engine = sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(":memory:"),
                              poolclass=sa.pool.StaticPool)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE customers (id integer PRIMARY KEY)")
        result = ApiProject.from_config(url=engine, cwd=p.root).compare(against_db=True)
    finally:
        engine.dispose()
    kinds = sorted(type(op).__name__ for op in result.operations)
    assert kinds == ["AddColumn", "AddColumn", "CreateTable", "CreateUniqueConstraint"]


# --- columns alike across tables, read once --------------------------------------------------


@pytest.mark.postgresql
def test_columns_alike_across_tables_are_read_as_each_table_alone_reads_them(
        pg_url: str) -> None:
    """Columns that share a name and a type but differ in anything else (nullability, a
    default, a comment, a collation, the length, being a sole key numbered or not, identity,
    generated) are each read as a read of their table alone reads them: the columns read
    once for many tables are only those alike in everything."""
    from schemaflow.dialects.reflect import reflect

    statements = [
        "CREATE TABLE a (id integer PRIMARY KEY, name varchar(50) NOT NULL, n numeric(10, 2))",
        "CREATE TABLE b (id serial PRIMARY KEY, name varchar(50), n numeric(10, 2) DEFAULT 0)",
        "CREATE TABLE c (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "name varchar(60) NOT NULL, n numeric(12, 2))",
        'CREATE TABLE d (id bigint PRIMARY KEY, name varchar(50) COLLATE "C" NOT NULL, '
        "n numeric(10, 2) GENERATED ALWAYS AS (id * 2) STORED)",
        "CREATE TABLE e (id integer, name varchar(50) NOT NULL DEFAULT 'x', n numeric(10, 2))",
        "CREATE TABLE f (id integer PRIMARY KEY, name varchar(50) NOT NULL, n numeric(10, 2))",
        "COMMENT ON COLUMN f.name IS 'the name'",
        "CREATE TABLE g (id integer PRIMARY KEY, name varchar(50) NOT NULL, "
        "n numeric(10, 2), k integer DEFAULT nextval('b_id_seq'))",
        "CREATE TABLE h (id integer NOT NULL, name varchar(50) PRIMARY KEY, n numeric(10, 2))",
        "CREATE TABLE i (id integer PRIMARY KEY, name varchar(50), n numeric(10, 2) DEFAULT 1)",
        "CREATE TABLE j (id integer PRIMARY KEY, name varchar(50), n numeric(10, 2) DEFAULT 1.0)",
    ]
    engine = _pg_engine(pg_url)
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    names = "abcdefghij"
    with engine.connect() as conn:
        whole = reflect(conn)
        alone = {name: reflect(conn, skip=set(names) - {name}) for name in names}
    engine.dispose()
    for name in names:
        assert alone[name].tables[(None, name)] == whole.tables[(None, name)], name
    assert len({whole.tables[(None, n)].columns[0] for n in names}) > 3


# --- the read in a process of its own ---------------------------------------------------------


@pytest.mark.postgresql
def test_a_server_is_read_by_a_forked_process_as_one_read_here(
        tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a core to spare, the read runs in a forked process on a connection of its own
    (its backend another than this process's); what it brings back is what this process
    reads itself. With SCHEMAFLOW_JOBS=1 the thread reads on this process's connection."""
    from schemaflow import parallel
    from schemaflow.autogen import _Process, _reader, _Thread
    from schemaflow.dialects.connect import session

    _create_all(pg_url, MODELS)
    p = _project(tmp_path / "proj", pg_url)
    settings = load(cwd=p.root)
    with session(settings.url) as (conn, _):
        mine = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        reader = _reader(settings, conn, (None,), lambda n: False, 10)
        if parallel.workers() < 2:
            assert isinstance(reader, _Thread)
            pytest.skip("one core: no process is forked")
        assert isinstance(reader, _Process)
        found = reader.result()
        conn.rollback()
        alone = database_state(settings, 10)[0]
        assert found.tables == dict(alone.tables.items())
        assert found.sequences == {}
        assert sorted(k[1] for k in found.tables) == ["customers", "orders"]
        # Its backend is gone (its connection closed, not left to time out); a backend
        # leaves pg_stat_activity a moment after its client closes.
        for _ in range(100):
            backends = set(conn.exec_driver_sql(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()").scalars())
            conn.rollback()
            if backends == {mine}:
                break
            time.sleep(0.05)
        assert backends == {mine}
        monkeypatch.setenv("SCHEMAFLOW_JOBS", "1")
        threaded = _reader(settings, conn, (None,), lambda n: False, 10)
        assert isinstance(threaded, _Thread) and threaded.result() == found


@pytest.mark.postgresql
def test_what_the_process_cannot_read_is_refused_here_as_a_read_here_refuses_it(
        tmp_path: Path, pg_url: str) -> None:
    """The forked process's error does not come back: this process reads again and raises
    the error a read here raises (the same message, exit code and hint)."""
    from schemaflow.dialects.read import Unexpressible

    engine = _pg_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE spans (id integer PRIMARY KEY, parent integer, "
                             "CONSTRAINT fk_up FOREIGN KEY (parent) REFERENCES spans (id) "
                             "MATCH FULL)")
    engine.dispose()
    p = _project(tmp_path / "proj", pg_url)
    settings = load(cwd=p.root)
    with pytest.raises(Unexpressible) as alone:
        database_state(settings, 10)
    with pytest.raises(Unexpressible) as both:
        models_and_database(settings, 10)
    assert str(both.value) == str(alone.value) and "fk_up on spans" in str(both.value)
    assert both.value.hint == alone.value.hint
    done = p.cli("check", "--against-db")
    assert done.returncode == 2 and done.stderr.count("error:") == 1, done.stderr
    assert "fk_up on spans" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.postgresql
def test_broken_models_stop_the_read_of_a_reachable_server(tmp_path: Path, pg_url: str) -> None:
    """The models' error is the one shown, and the process reading the server is stopped,
    not waited for or left behind."""
    _create_all(pg_url, MODELS)
    p = _project(tmp_path / "proj", pg_url, "raise RuntimeError('the models are broken')\n")
    for args in (("check", "--against-db"), ("new", "--autogenerate", "--against-db", "-m", "x")):
        done = p.cli(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.count("error:") == 1 and "the models are broken" in done.stderr
        assert "Traceback" not in done.stderr
    assert list(p.changesets.iterdir()) == []


def test_model_columns_alike_across_tables_are_read_as_each_table_alone_reads_them() -> None:
    """The same for the models: defaults equal in Python but not alike (1, 1.0, True, '1'),
    comments, nullability, identity and computed columns."""
    from schemaflow.dialects.metadata import from_metadata

    metadata = sa.MetaData()
    defaults: list[Any] = ["1", sa.text("1"), sa.text("1.0"), sa.text("true"), None]
    for i, default in enumerate(defaults):
        sa.Table(f"t{i}", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("flag", sa.Integer, server_default=default))
    sa.Table("c", metadata, sa.Column("id", sa.Integer, primary_key=True, comment="the key"),
             sa.Column("flag", sa.Integer, nullable=False))
    sa.Table("g", metadata, sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
             sa.Column("flag", sa.Integer, sa.Computed("id * 2")))
    sa.Table("n", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("flag", sa.Integer))
    names = list(metadata.tables)
    whole = from_metadata(metadata)
    for name in names:
        alone = from_metadata(metadata, skip=set(names) - {name})
        assert alone.tables[(None, name)] == whole.tables[(None, name)], name
    flags = [whole.tables[(None, f"t{i}")].column("flag") for i in range(len(defaults))]
    assert [(type(f.default), f.default) for f in flags if f is not None] == [
        (str, "1"), (int, 1), (float, 1.0), (bool, True), (type(None), None)]
