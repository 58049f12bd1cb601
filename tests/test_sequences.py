"""Sequences (`create_sequence`, `drop_sequence`) on the databases that have them: built with
their options, rolled back, read back by a `--from-db` baseline, written by autogenerate from
the models' own `sa.Sequence(..., metadata=metadata)` and compared by `check`; refused by
validate where the database has none. Before, a sequence could only be raw SQL: a baseline
refused every sequence, and models that declare one were refused."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from conftest import Project, make_project
from test_autogenerate import run_sql
from test_fidelity import _driver, _round_trip, _second, models_project

SERVERS = [pytest.param("postgresql", marks=pytest.mark.postgresql),
           pytest.param("mysql", marks=pytest.mark.mysql)]


def _url(request: pytest.FixtureRequest, dialect: str) -> str:
    """The test database; MariaDB's named so (a mysql:// URL is checked as MySQL, which has
    no sequences)."""
    return _mariadb(str(request.getfixturevalue(
        "pg_url" if dialect == "postgresql" else "mysql_url")))


def _mariadb(url: str) -> str:
    return re.sub(r"^mysql(\+\w+)?://", r"mariadb\1://", url)


def _write(p: Project, cid: str, parents: list[str], *operations: Any) -> None:
    (p.changesets / f"{cid}_x.yaml").write_text(yaml.safe_dump(
        {"schemaflow": 1, "id": cid, "parents": parents, "message": cid,
         "operations": list(operations)}, sort_keys=False), encoding="utf-8")


def _values(url: str, sql: str) -> list[Any]:
    engine = sa.create_engine(_driver(url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            return list(conn.exec_driver_sql(sql).scalars())
    finally:
        engine.dispose()


def _ok(p: Project, *args: str) -> str:
    done = p.cli(*args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def _operations(p: Project) -> list[Any]:
    (path,) = p.changesets.glob("*.yaml")
    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["operations"])


@pytest.mark.parametrize("dialect", SERVERS)
def test_a_sequence_is_built_rolled_back_and_read_back(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    url = _url(request, dialect)
    draw = ("nextval('ticket_numbers')" if dialect == "postgresql"
            else "NEXT VALUE FOR ticket_numbers")
    p = make_project(tmp_path / "p", url)
    _write(p, "0001", [], {"create_sequence": {"name": "ticket_numbers", "start": 100,
                                               "increment": 5, "cache": 10}},
           {"create_table": {"name": "tickets", "columns": [
               {"name": "id", "type": "integer", "primary_key": True},
               {"name": "number", "type": "bigint", "default_sql": draw}]}})
    _write(p, "0002", ["0001"], {"drop_table": {"name": "tickets"}},
           {"drop_sequence": {"name": "ticket_numbers"}})
    _ok(p, "validate")
    _ok(p, "apply", "0001")
    run_sql(_driver(url), "INSERT INTO tickets (id) VALUES (1)", "INSERT INTO tickets (id) "
            "VALUES (2)")
    assert _values(url, "SELECT number FROM tickets ORDER BY id") == [100, 105]
    # A baseline of that database reads the sequence with its options, before the table
    # whose default draws from it; applied elsewhere, it builds the same.
    base = make_project(tmp_path / "base", url)
    (base.root / "schemaflow.toml").open("a").write(
        '[autogenerate]\nexclude_tables = ["schemaflow_*"]\n')
    _ok(base, "new", "--autogenerate", "--from-db", "-m", "baseline")
    ops = _operations(base)
    assert ops[0] == {"create_sequence": {"name": "ticket_numbers", "start": 100,
                                          "increment": 5, "cache": 10}}, ops
    assert list(ops[1]) == ["create_table"], ops
    other = _mariadb(_second(request, dialect))
    _ok(base, "--url", other, "apply")
    run_sql(_driver(other), "INSERT INTO tickets (id) VALUES (1)")
    assert _values(other, "SELECT number FROM tickets") == [100]
    # Dropped, and rolled back: created again with its options (counting from its start).
    _ok(p, "apply")
    assert "ticket_numbers" not in _sequences(url)
    _ok(p, "rollback", "-1")
    run_sql(_driver(url), "INSERT INTO tickets (id) VALUES (1)")
    assert _values(url, "SELECT number FROM tickets") == [100]
    _ok(p, "rollback", "base")
    assert "ticket_numbers" not in _sequences(url)


def _sequences(url: str) -> list[str]:
    engine = sa.create_engine(_driver(url), poolclass=sa.pool.NullPool)
    try:
        return sa.inspect(engine).get_sequence_names()
    finally:
        engine.dispose()


MODELS = """
    sa.Sequence("ticket_numbers", start=100, increment=5, metadata=metadata)
    sa.Sequence("plain_numbers", cache=1, metadata=metadata)
    sa.Table("tickets", metadata, sa.Column("id", sa.Integer, primary_key=True))
"""


@pytest.mark.parametrize("dialect", SERVERS)
def test_the_models_sequences_round_trip(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """Models → changeset → apply → check (--against-db); create_all() → check --against-db;
    its baseline applied elsewhere → check. `cache=1` is PostgreSQL's default (a baseline
    leaves it out there) and not MariaDB's (1000): equal either way."""
    p = _round_trip(tmp_path, dialect, request, {
        "common": (MODELS, ["create_sequence: {name: ticket_numbers, start: 100, increment: 5}",
                            "create_sequence: {name: plain_numbers, cache: 1}"]),
        dialect: ("", [])}, mariadb=True)
    # Adopted: a baseline of the models' database, stamped, then the models checked.
    base = models_project(tmp_path / "adopt", MODELS, p.url)
    (base.root / "schemaflow.toml").open("a").write(
        '[autogenerate]\nexclude_tables = ["schemaflow_*"]\n')
    for args in (("new", "--autogenerate", "--from-db", "-m", "baseline"), ("stamp", "heads"),
                 ("check",)):
        _ok(base, *args)
    # Options that change are not written over (ALTER SEQUENCE keeps the current value).
    (p.root / "fidelity_models.py").write_text(
        (p.root / "fidelity_models.py").read_text().replace("start=100", "start=200"))
    for args in (("check",), ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "the options of sequence ticket_numbers change (start 100, increment 5 in " \
               "what exists, start 200, increment 5 in what is wanted)" in done.stderr


def test_a_database_without_sequences_refuses_them(tmp_path: Path) -> None:
    """SQLite and MySQL have no sequences: validate says so (SF331) for each operation and
    autogenerate refuses models that declare one (create_all() skips it there, and the
    models' inserts that draw from it would fail)."""
    p = make_project(tmp_path / "p")
    _write(p, "0001", [], {"create_sequence": {"name": "ticket_numbers"}})
    for dialect in ("sqlite", "mysql"):
        done = p.cli("validate", "--dialect", dialect)
        assert done.returncode == 1, done.stdout
        assert f"error SF331 create_sequence on {dialect}: {dialect} has no sequences: " \
               "create_sequence ticket_numbers" in done.stdout, done.stdout
    assert p.cli("validate", "--dialect", "mariadb").returncode == 0
    done = p.cli("apply")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    m = models_project(tmp_path / "m", MODELS)
    done = m.cli("new", "--autogenerate", "-m", "models")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "sqlite has no sequences: create_sequence" in done.stderr, done.stderr
    assert list(m.changesets.iterdir()) == []


# Flask-AppBuilder numbers its keys from sequences of their own; celery's result tables too,
# with autoincrement=True.
ON_COLUMNS = """
    sa.Table("ab_user", metadata,
             sa.Column("id", sa.Integer, sa.Sequence("ab_user_id_seq", start=1, increment=1,
                                                     minvalue=1, cycle=False),
                       primary_key=True),
             sa.Column("name", sa.String(50)))
    sa.Table("celery_taskmeta", metadata,
             sa.Column("id", sa.Integer, sa.Sequence("task_id_sequence"), primary_key=True,
                       autoincrement=True),
             sa.Column("task_id", sa.String(155)))
"""


@pytest.mark.parametrize("dialect", ["sqlite", *SERVERS])
def test_a_key_numbered_from_a_sequence_round_trips(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """`sa.Sequence` on a column: create_all() creates the sequence where the database has
    sequences and builds the key a plain INTEGER (SQLAlchemy draws `nextval` on insert);
    where it has none the key is an autoincrement key. The models were refused; now the
    column says `sequence:`, each database builds what create_all() builds, and a baseline
    of it (a sequence of its own and a plain key) is equal to the models."""
    p = _round_trip(tmp_path, dialect, request, {
        "common": (ON_COLUMNS, ["sequence: {name: ab_user_id_seq, start: 1, increment: 1, "
                                "minvalue: 1, cycle: false}", "sequence: {name: "
                                "task_id_sequence}"]),
        dialect: ("", [])}, mariadb=True)
    engine = sa.create_engine(_driver(p.url), poolclass=sa.pool.NullPool)
    try:
        meta = sa.MetaData()
        users = sa.Table("ab_user", meta, sa.Column(
            "id", sa.Integer, sa.Sequence("ab_user_id_seq"), primary_key=True),
            sa.Column("name", sa.String(50)))
        with engine.begin() as conn:
            for name in ("a", "b"):
                conn.execute(users.insert().values(name=name))
            assert sorted(conn.execute(sa.select(users.c.id)).scalars()) == [1, 2]
    finally:
        engine.dispose()
    # Rolled back to nothing: the sequences go with their tables.
    _ok(p, "rollback", "base")
    if dialect != "sqlite":
        assert _sequences(p.url) == []
    _ok(p, "apply")
    # Adopted: a baseline of it (sequences of their own, plain keys), stamped, and the
    # models checked against the history.
    base = models_project(tmp_path / "adopt", ON_COLUMNS, p.url)
    (base.root / "schemaflow.toml").open("a").write(
        '[autogenerate]\nexclude_tables = ["schemaflow_*"]\n')
    for args in (("new", "--autogenerate", "--from-db", "-m", "baseline"), ("stamp", "heads"),
                 ("check",)):
        _ok(base, *args)


def test_a_column_sequence_takes_a_name_of_its_own(tmp_path: Path) -> None:
    """A column's sequence is a sequence of the schema: its name cannot be another's
    (SF118), and the column has no other source of values (SF002)."""
    column = {"name": "id", "type": "integer", "primary_key": True,
              "sequence": {"name": "ids"}}
    cases: list[tuple[list[dict[str, Any]], str]] = [
        ([{"create_sequence": {"name": "ids"}},
          {"create_table": {"name": "t", "columns": [column]}}], "error SF118"),
        ([{"create_table": {"name": "t", "columns": [column]}},
          {"create_sequence": {"name": "ids"}}], "error SF118"),
        ([{"create_table": {"name": "t", "columns": [
            column, {"name": "n", "type": "integer", "sequence": {"name": "ids"}}]}}],
         "is given to two columns"),
        ([{"create_table": {"name": "t", "columns": [{**column, "default": 1}]}}],
         "has default and sequence"),
    ]
    for i, (operations, said) in enumerate(cases):
        p = make_project(tmp_path / f"p{i}")
        _write(p, "0001", [], *operations)
        done = p.cli("validate", "--dialect", "postgresql")
        assert done.returncode == 1 and said in done.stdout, (operations, done.stdout)


@pytest.mark.mysql
def test_a_mysql_url_on_mariadb_refuses_a_baseline_it_could_not_validate(
        tmp_path: Path, mysql_url: str) -> None:
    """A mysql:// URL is checked as MySQL, which has no sequences: a baseline of a MariaDB
    database with one is refused up front (exit 2, nothing written), naming the way out,
    where it was written and then refused by its own `validate`."""
    run_sql(_driver(mysql_url), "CREATE SEQUENCE ticket_numbers")
    p = make_project(tmp_path / "p", mysql_url)
    (p.root / "schemaflow.toml").open("a").write(
        '[autogenerate]\nexclude_tables = ["schemaflow_*"]\n')
    done = p.cli("new", "--autogenerate", "--from-db", "-m", "baseline")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "the database holds what mysql cannot build: mysql has no sequences: " \
           "create_sequence ticket_numbers" in done.stderr, done.stderr
    assert "write mariadb:// for MariaDB" in done.stderr
    assert list(p.changesets.iterdir()) == []
    _ok(p, "--url", _mariadb(mysql_url), "new", "--autogenerate", "--from-db", "-m", "baseline")


@pytest.mark.mysql
def test_a_mariadb_sequence_that_increments_by_zero_is_refused_by_name(
        tmp_path: Path, mysql_url: str) -> None:
    """MariaDB takes INCREMENT BY 0 (the sequence then follows auto_increment_increment;
    privacyIDEA builds its sequences so), which the format lacks: reading it raised the
    IR's own error, a traceback, from --from-db, check --against-db and stamp's look at the
    constraint names. It is refused by name; stamp only notes it."""
    run_sql(_driver(mysql_url), "CREATE SEQUENCE galera_seq INCREMENT BY 0")
    url = _mariadb(mysql_url)
    p = make_project(tmp_path / "p", url)
    done = p.cli("new", "--autogenerate", "--from-db", "-m", "baseline")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "sequence galera_seq: an option the format lacks" in done.stderr, done.stderr
    _write(p, "0001", [], {"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}})
    done = p.cli("stamp", "heads")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "note: constraint names not compared: sequence galera_seq" in done.stderr
