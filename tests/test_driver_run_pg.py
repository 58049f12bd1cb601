"""A plan kept whole, run on PostgreSQL through psycopg alone (`dialects.postgresql.driver`):
no SQLAlchemy imported, and the same database, version rows and output as the run through
SQLAlchemy that kept it. The facts a plan is kept under are read the same way on either
connection; the advisory lock is the one a run through SQLAlchemy takes; what a kept plan
does not run goes on through SQLAlchemy as on SQLite. Plans not kept, and a deploy's few
changesets, render in the run itself on PostgreSQL (`Dialect.render_process`)."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest
from conftest import Project, make_project, reflect, rows
from test_driver_run import _cli, _untimed, failing_apply
from test_plancache import _data, _history, _kept_plans

pytestmark = pytest.mark.postgresql

TIME_COLUMN = "SELECT pg_typeof(applied_at)::text FROM {} LIMIT 1"


def _version_rows(url: str, table: str = "schemaflow_version") -> list[tuple[Any, ...]]:
    return rows(url, "SELECT id, checksum, message, applied_by, schemaflow_version, exec_order"
                     f" FROM {table} ORDER BY exec_order")


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _side(url: str) -> tuple[Any, Any]:
    """The database's driver side, and a connection of it."""
    from schemaflow.dialects import for_url

    named = for_url(url)
    side = named.driver_side(url, None) if named is not None else None
    assert side is not None
    return side, side.connect(5)


def _drop_all(url: str) -> None:
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture
def kept(tmp_path: Any, pg_url: str) -> tuple[Project, list[str], tuple[Any, ...], str]:
    """A project on a fresh PostgreSQL database whose apply and rollback ran through
    SQLAlchemy and kept their plans; what the apply built, and its output."""
    p = make_project(tmp_path / "proj", pg_url)
    ids = _history(p)
    first, imported = _cli(p, "apply")
    assert first.returncode == 0 and imported, first.stderr
    built = (reflect(pg_url), _version_rows(pg_url), _data(pg_url))
    done, imported = _cli(p, "rollback", "base")
    assert done.returncode == 0 and imported, done.stderr
    assert len(_kept_plans(p)) == 2
    return p, ids, built, first.stderr


def test_a_kept_plan_runs_through_psycopg_alone(
        kept: tuple[Project, list[str], tuple[Any, ...], str]) -> None:
    p, ids, built, output = kept
    _drop_all(p.url)  # from nothing at all: the version table is made too
    done, imported = _cli(p, "apply")
    assert done.returncode == 0 and not imported, done.stderr
    assert _untimed(done.stderr) == _untimed(output)
    assert (reflect(p.url), _version_rows(p.url), _data(p.url)) == built
    assert rows(p.url, TIME_COLUMN.format("schemaflow_version")) == [
        ("timestamp without time zone",)]
    listed, _ = _cli(p, "current")
    assert listed.returncode == 0 and f"{ids[-1]} (head, applied)" in listed.stdout
    done, imported = _cli(p, "rollback", "base")
    assert done.returncode == 0 and not imported, done.stderr
    assert reflect(p.url) == {} and _version_rows(p.url) == []
    done, imported = _cli(p, "apply")  # (on an empty version table)
    assert done.returncode == 0 and not imported, done.stderr
    assert _version_rows(p.url) == built[1]


def test_the_facts_are_read_alike_on_either_connection(pg_url: str) -> None:
    """What a plan is kept under: the driver's read of its own connection is the same as
    its read of the connection SQLAlchemy opened, and the server version SQLAlchemy's."""
    from schemaflow.dialects.connect import session
    from schemaflow.planstream import sa_facts

    side, raw = _side(pg_url)
    try:
        alone = (side.facts(raw), side.server_version(raw))
        assert not side.in_transaction(raw)
    finally:
        side.close(raw)
    with session(pg_url) as (conn, dialect):
        dbapi = conn.connection.dbapi_connection
        before = dbapi.info.transaction_status
        through = (sa_facts(dialect, conn.dialect, dbapi, True), conn.dialect.server_version_info)
        assert dbapi.info.transaction_status == before  # (no transaction left behind)
    assert alone == through
    assert alone[0][0] == "psycopg" and alone[0][2] == "public"
    # Inside a transaction SQLAlchemy began, in a savepoint of it: the transaction goes on.
    with session(pg_url) as (conn, dialect):
        conn.exec_driver_sql("CREATE TABLE kept (x integer)")
        dbapi = conn.connection.dbapi_connection
        assert sa_facts(dialect, conn.dialect, dbapi, True) == alone[0]
        conn.exec_driver_sql("INSERT INTO kept VALUES (1)")
        conn.commit()
    assert rows(pg_url, "SELECT x FROM kept") == [(1,)]


def test_the_lock_is_the_one_sqlalchemys_runs_take(
        kept: tuple[Project, list[str], tuple[Any, ...], str]) -> None:
    from schemaflow.dialects.connect import session
    from schemaflow.dialects.postgresql import lock_key

    p, _, _, _ = kept
    with session(p.url) as (conn, dialect):
        assert dialect.lock(conn, "schemaflow_version", 0)
        conn.commit()
        try:
            done, imported = _cli(p, "apply", "--lock-timeout", "0.5")
        finally:
            dialect.unlock(conn, "schemaflow_version")
        key = lock_key(conn, "schemaflow_version")
    assert done.returncode != 0 and not imported, done.stderr
    assert "waiting for another schemaflow run" in done.stderr
    assert "timed out after 0.5s waiting for the schemaflow lock" in done.stderr
    assert "Traceback" not in done.stderr
    assert _version_rows(p.url) == []
    # Its own lock is let go: no advisory lock of that key is left on the server.
    assert rows(p.url, f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                       f"AND objid = {key}") == [(0,)]
    done, imported = _cli(p, "apply")
    assert done.returncode == 0 and not imported, done.stderr


def test_the_driver_takes_and_lets_go_of_sqlalchemys_lock(pg_url: str) -> None:
    """The lock a run through psycopg takes is the one a run through SQLAlchemy waits for;
    letting go of it never fails a run, even where the session is gone."""
    from schemaflow.dialects.connect import session

    side, raw = _side(pg_url)
    try:
        assert side.lock(raw, "schemaflow_version", 0)
        with session(pg_url) as (conn, dialect):
            assert not dialect.lock(conn, "schemaflow_version", 0.2)  # (waits, times out)
            side.unlock(raw, "schemaflow_version")
            assert dialect.lock(conn, "schemaflow_version", 0)
            dialect.unlock(conn, "schemaflow_version")
        assert side.lock(raw, "schemaflow_version", 0)
        with psycopg.connect(_libpq(pg_url), autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s)", (raw.info.backend_pid,))
        side.unlock(raw, "schemaflow_version")  # (the session is gone: no error)
        assert raw.closed or raw.broken
    finally:
        side.close(raw)


def test_a_deploy_that_cannot_be_kept_connects_once_for_its_run(
        kept: tuple[Project, list[str], tuple[Any, ...], str]) -> None:
    """Without a render process a run through the driver serves only a plan kept whole:
    a deploy of one changeset connects to read the version table, then once for its run
    (through SQLAlchemy), as before the driver side."""
    p, ids, _, _ = kept
    done, _ = _cli(p, "apply", ids[-2])
    assert done.returncode == 0, done.stderr
    count = ("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
    before = rows(p.url, count)[0][0]
    done, _ = _cli(p, "apply")
    assert done.returncode == 0, done.stderr
    assert rows(p.url, count)[0][0] - before == 1 + 2  # (this query's own, and the run's two)


def test_a_failing_changeset_goes_on_through_sqlalchemy_and_is_reported_as_always(
        kept: tuple[Project, list[str], tuple[Any, ...], str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    p, ids, _, _ = kept
    # The ninth changeset creates t2: made by hand, it stops the run there.
    reports = []
    for env in ({}, {"SCHEMAFLOW_NO_CACHE": "1"}):
        _drop_all(p.url)
        with psycopg.connect(_libpq(p.url), autocommit=True) as conn:
            conn.execute("CREATE TABLE t2 (x INTEGER)")
        done, imported = _cli(p, "apply", env=env)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert imported  # (from the ninth on)
        reports.append(_untimed(done.stderr))
        assert [v[0] for v in _version_rows(p.url)] == ids[:8]
        assert rows(p.url, "SELECT count(*) FROM t2") == [(0,)]
    assert reports[0] == reports[1]
    assert f"applied {ids[7]} " in "\n".join(reports[0])
    assert 'relation "t2" already exists' in "\n".join(reports[0])
    # The first eight ran through psycopg: no SQLAlchemy run before the ninth.
    _drop_all(p.url)
    with psycopg.connect(_libpq(p.url), autocommit=True) as conn:
        conn.execute("CREATE TABLE t2 (x INTEGER)")
    done_then, applied, _ = failing_apply(p, monkeypatch)
    assert done_then == [8] and applied == ids[:8]


def test_a_version_table_in_its_own_schema(tmp_path: Any, pg_url: str) -> None:
    with psycopg.connect(_libpq(pg_url), autocommit=True) as conn:
        conn.execute('CREATE SCHEMA "Ops"')
    p = make_project(tmp_path / "proj", pg_url)
    (p.root / "schemaflow.toml").write_text(
        f'url = "{pg_url}"\nversion_table = "Versions"\nversion_table_schema = "Ops"\n',
        encoding="utf-8")
    ids = _history(p)
    table = '"Ops"."Versions"'
    for args in (("apply",), ("rollback", "base")):
        done, imported = _cli(p, *args)
        assert done.returncode == 0 and imported, done.stderr
    done, imported = _cli(p, "apply")
    assert done.returncode == 0 and not imported, done.stderr
    assert [(r[0], r[5]) for r in _version_rows(pg_url, table)] == list(
        zip(ids, range(1, len(ids) + 1), strict=True))
    done, imported = _cli(p, "rollback", "base")
    assert done.returncode == 0 and not imported, done.stderr
    assert _version_rows(pg_url, table) == [] and reflect(pg_url) == {}
    # Its schema gone: the version table's CREATE fails alike both ways, the server's LINE
    # counted in that statement alone.
    with psycopg.connect(_libpq(pg_url), autocommit=True) as conn:
        conn.execute('DROP SCHEMA "Ops" CASCADE')
    _fail_alike(p)


def _fail_alike(p: Project) -> str:
    """An apply that fails through psycopg alone, told as through SQLAlchemy (a URL with a
    query is left to it): the same message, exit 2, nothing made. The message."""
    alone, imported = _cli(p, "apply")
    assert alone.returncode == 2 and not imported, alone.stderr
    through, imported = _cli(p, "--url", p.url + "?application_name=sf", "apply")
    assert through.returncode == 2 and imported, through.stderr
    told = [line for line in alone.stderr.splitlines() if not line.startswith("database:")]
    assert told == [line for line in through.stderr.splitlines()
                    if not line.startswith("database:")]
    assert "Traceback" not in alone.stderr and reflect(p.url) == {}
    return alone.stderr


def test_a_few_pending_changesets_render_in_the_run_itself(
        kept: tuple[Project, list[str], tuple[Any, ...], str]) -> None:
    """No render process on PostgreSQL: a deploy's changeset renders where it runs, through
    SQLAlchemy, exactly as before."""
    p, ids, built, _ = kept
    done, _ = _cli(p, "apply", ids[-2])
    assert done.returncode == 0, done.stderr
    done, imported = _cli(p, "apply")
    assert done.returncode == 0 and imported, done.stderr
    assert re.search(rf"applied {ids[-1]} ", done.stderr)
    assert (reflect(p.url), _data(p.url)) == (built[0], built[2])


def test_a_url_with_a_query_is_left_to_sqlalchemy(tmp_path: Any, pg_url: str) -> None:
    """libpq reads a URL's query otherwise than SQLAlchemy's psycopg dialect (a `+`, several
    hosts): such a URL is never connected by the driver alone, and works as before."""
    from schemaflow.dialects import for_url

    named = for_url(pg_url)
    assert named is not None and named.driver_side(pg_url, None) is not None
    url = pg_url + "?application_name=my+app"
    assert named.driver_side(url, None) is None
    # A %-escape in the host: libpq decodes it (a socket folder), SQLAlchemy does not.
    socket = "postgresql+psycopg://postgres@%2Fvar%2Frun%2Fpostgresql/test"
    assert named.driver_side(socket, None) is None
    assert named.driver_side(socket.replace("%2Fvar%2Frun%2Fpostgresql", "127.0.0.1"),
                             None) is not None
    p = make_project(tmp_path / "proj", url)
    ids = _history(p)
    for args in (("apply",), ("rollback", "base"), ("apply",)):
        done, imported = _cli(p, *args)
        assert done.returncode == 0 and imported, done.stderr
    listed, _ = _cli(p, "current")
    assert listed.returncode == 0 and f"{ids[-1]} (head, applied)" in listed.stdout


def test_a_version_table_that_cannot_be_made_is_told_as_through_sqlalchemy(
        kept: tuple[Project, list[str], tuple[Any, ...], str]) -> None:
    """A relation of the version table's name that is no table (a composite type): not
    taken for the version table, whose CREATE then fails as through SQLAlchemy."""
    p, _, _, _ = kept
    _drop_all(p.url)
    with psycopg.connect(_libpq(p.url), autocommit=True) as conn:
        conn.execute("CREATE TYPE schemaflow_version AS (x integer)")  # takes the table's name
    assert "already exists" in _fail_alike(p)
