"""Plans kept whole (plancache): a long run's plan, once rendered, is sent again as it was
rendered by a later run of the same changesets on the same kind of database, without
rendering or a forked process; it builds the database a rendered plan builds. It is used
only while every file holds the bytes it was rendered from, and only when signed with this
machine's key (kept outside the cache folder): a forged or restored cache, or a changed
file, costs a render, never a different schema."""

from __future__ import annotations

import datetime as dt
import decimal
import marshal
import os
import re
import secrets
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Project, make_project, record_calls, reflect, rows

from schemaflow import cachefile, parallel, plancache, planstream

N = planstream.MIN_ITEMS + 8
Change = Callable[[list[Any]], list[Any]]


def _history(p: Project, n: int = N) -> list[str]:
    """Tables, columns, indexes and rows of several types (dates, times, decimals)."""
    ops: list[list[Any]] = []
    for i in range(1, n + 1):
        t = f"t{(i - 1) // 4}"
        match i % 4:
            case 1:
                ops.append([{"create_table": {"name": t, "columns": [
                    {"name": "id", "type": "integer", "primary_key": True},
                    {"name": "name", "type": "string(40)", "nullable": False},
                    {"name": "at", "type": "datetime"}, {"name": "on", "type": "date"},
                    {"name": "amount", "type": "numeric(10,2)"}]}}])
            case 2:
                ops.append([{"add_column": {"table": t, "column": {
                    "name": f"c{i}", "type": "bigint"}}},
                    {"create_index": {"table": t, "name": f"ix_{t}_c{i}",
                                      "columns": [f"c{i}"]}}])
            case 3:
                ops.append([{"insert_rows": {"table": t, "rows": [
                    {"id": 1, "name": "it's", "at": "2024-07-21 10:20:30.000123",
                     "on": "2024-02-29", "amount": "12.50"},
                    {"id": 2, "name": "%s", "at": None, "on": None, "amount": None}]}}])
            case _:
                ops.append([{"alter_column": {"table": t, "name": "name",
                                              "type": "string(80)"}}])
    return p.chain(*ops)


def _kept_plans(p: Project) -> list[Path]:
    """The plans kept in the project's cache folder."""
    folder = p.api().history.memo.dir
    assert folder is not None  # (the tests run with a cache folder)
    return list(folder.glob("plan-*"))


def _versions(url: str) -> list[tuple[Any, ...]]:
    return rows(url, "SELECT id, checksum, exec_order FROM schemaflow_version ORDER BY id")


def _data(url: str) -> list[Any]:
    return [rows(url, f"SELECT * FROM t{k} ORDER BY id") for k in range(N // 4)]


def _kept_runs(p: Project, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[Any]]:
    """An apply and a rollback that render (and keep) their plans, then the forked
    processes started from now on, and the plans kept from now on."""
    stored = record_calls(monkeypatch, plancache, "store")
    p.api().apply()
    p.api().rollback("base")
    assert len(stored) == 2
    assert sorted(x.name for x in _kept_plans(p)) == sorted(
        f"plan-{call[1]}" for call in stored)
    stored.clear()
    return record_calls(monkeypatch, parallel, "fork_stream"), stored


def _reference(p: Project, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    """What a plan rendered in one process, with nothing remembered, builds."""
    with monkeypatch.context() as m:
        m.setenv("SCHEMAFLOW_JOBS", "1")
        m.setenv("SCHEMAFLOW_NO_CACHE", "1")
        p.api().apply()
        built = reflect(p.url), _versions(p.url), _data(p.url)
        p.api().rollback("base")
    assert reflect(p.url) == {}
    return built


def _rewrite(p: Project, change: Change, secret: bytes | None = None) -> None:
    """The kept plan of applying every changeset on an empty database, changed and signed
    again (with this machine's key, or `secret`): what only someone who can write both
    the cache folder and the state folder could do."""
    api = p.api()
    g = api.history.graph
    from schemaflow.dialects.connect import create_engine, session

    engine = create_engine(p.url)
    try:
        with session(engine) as (conn, dialect):
            ctx = planstream.context(dialect, planstream.sa_facts(
                dialect, conn.dialect, conn.connection.dbapi_connection, True))
    finally:
        engine.dispose()
    assert ctx is not None
    key = planstream.item_keys(g, "apply", [], list(g.order), ctx)[-1]
    place = plancache.where(api.history, key)
    assert place is not None
    path, file_key = place
    found = cachefile.read(path, file_key)
    assert found is not None
    blob = marshal.dumps(change(marshal.loads(found[1][1])))
    secret = secret or plancache.machine_key()
    assert secret is not None
    cachefile.write(path, file_key, (plancache._signature(secret, file_key, blob), blob))


def _forge(data: list[Any]) -> list[Any]:
    """One more statement in the first changeset: a table no changeset creates."""
    cid, source, checksum, transactional, steps = data[0]
    data[0] = (cid, source, checksum, transactional,
               (*steps, ("CREATE TABLE forged (x INTEGER)", None, None, True, True)))
    return data


def test_a_kept_plan_runs_without_rendering_and_builds_the_same_database(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _history(project)
    built = _reference(project, monkeypatch)
    forks, stored = _kept_runs(project, monkeypatch)
    again = project.api().apply()
    assert forks == [] and stored == []  # neither rendered nor kept again
    assert (reflect(project.url), _versions(project.url), _data(project.url)) == built
    assert [r.id for r in again.results] == ids
    project.api().rollback("base")
    assert forks == [] and stored == []
    assert reflect(project.url) == {} and _versions(project.url) == []


def test_from_the_command_line(tmp_path: Path) -> None:
    p = make_project(tmp_path / "proj")
    _history(p)
    outputs = []
    for args in (["apply"], ["rollback", "base"], ["apply"]):
        got = p.cli(*args)
        assert got.returncode == 0 and "Traceback" not in got.stderr, got.stderr
        outputs.append(got)
    assert len(_kept_plans(p)) == 2
    assert len(_versions(p.url)) == N
    def untimed(out: str) -> list[str]:
        return [re.sub(r" \(\d+ ms\)$| in [\d.]+ s$", "", line) for line in out.splitlines()]

    assert untimed(outputs[2].stderr) == untimed(outputs[0].stderr)
    assert len(untimed(outputs[0].stderr)) == N + 2


def test_a_kept_plan_imports_neither_the_replay_nor_the_renderers(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    _history(project)
    _kept_runs(project, monkeypatch)
    code = ("import sys\nfrom schemaflow.api import Project\n"
            "p = Project.from_config()\n"
            "ran = [len(p.apply().results), len(p.rollback('base').results)]\n"
            "print(ran, sorted(m for m in ('schemaflow.state', 'schemaflow.dialects.render',"
            " 'schemaflow.planning', 'schemaflow.reverse') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, cwd=project.root)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"[{N}, {N}] []"
    # Rendered in this process, the same run imports them (the test sees what it claims
    # to; on two cores the render process renders a plan known to render).
    for kept in _kept_plans(project):
        kept.unlink()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, cwd=project.root,
                          env={**os.environ, "SCHEMAFLOW_JOBS": "1"})
    assert done.returncode == 0, done.stderr
    assert "schemaflow.dialects.render" in done.stdout


def test_the_kept_plan_is_what_runs_while_the_files_hold_the_same_bytes(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _history(project)
    _kept_runs(project, monkeypatch)
    _rewrite(project, _forge)
    project.api().apply()
    assert "forged" in reflect(project.url)  # (it is the kept plan that ran)
    project.api().rollback("base")
    with sqlite3.connect(project.root / "app.db") as db:
        db.execute("DROP TABLE forged")
    # The same changeset (its key unchanged), but not the same bytes: rendered again.
    first = next(project.changesets.glob(f"{ids[0]}_*.yaml"))
    first.write_text(first.read_text() + "# a comment\n")
    _rewrite(project, _forge)
    forks = record_calls(monkeypatch, parallel, "fork_stream")
    project.api().apply()
    assert "forged" not in reflect(project.url)
    assert len(forks) == 1  # rendered on two cores, as a plan not kept
    assert len(_versions(project.url)) == N


def test_a_plan_signed_with_another_key_is_not_used(project: Project,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _history(project)
    built = _reference(project, monkeypatch)
    _kept_runs(project, monkeypatch)
    _rewrite(project, _forge, secret=secrets.token_bytes(32))  # a cache made elsewhere
    project.api().apply()
    assert (reflect(project.url), _versions(project.url), _data(project.url)) == built


def test_no_state_folder_no_kept_plans(project: Project, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _history(project)
    blocked = tmp_path / "state"
    blocked.write_text("a file where the folder would be")
    monkeypatch.setenv("SCHEMAFLOW_STATE_DIR", str(blocked / "schemaflow"))
    project.api().apply()
    project.api().rollback("base")
    assert _kept_plans(project) == []
    assert plancache.machine_key() is None
    project.api().apply()
    assert len(_versions(project.url)) == N


def test_the_machine_key_is_ours_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "state"
    monkeypatch.setenv("SCHEMAFLOW_STATE_DIR", str(folder))
    key = plancache.machine_key()
    assert key is not None and len(key) == 32 and plancache.machine_key() == key
    assert (folder.stat().st_mode & 0o777, (folder / "plan-key").stat().st_mode & 0o777) == (
        0o700, 0o600)
    for mode in (0o666, 0o644, 0o640):  # others may write it, or read it
        os.chmod(folder / "plan-key", mode)
        assert plancache.machine_key() is None
    os.chmod(folder / "plan-key", 0o600)
    os.chmod(folder, 0o777)
    assert plancache.machine_key() is None
    os.chmod(folder, 0o700)
    (folder / "plan-key").write_bytes(b"")  # (a crash while it was written, say)
    again = plancache.machine_key()
    assert again is not None and len(again) == 32 and again != key
    # A state folder inside the cache folder would come back with a restored cache.
    monkeypatch.setenv("SCHEMAFLOW_STATE_DIR", os.path.join(os.environ["SCHEMAFLOW_CACHE_DIR"],
                                                            "state"))
    assert plancache.machine_key() is None


def test_only_plans_rendered_from_the_files_alone_are_kept(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """From empty, or back to base: every schema the plan renders on is built from the
    changesets it reads from their files. On top of applied changesets, their schema comes
    from the memo (what the cache folder remembers): such a plan is not kept."""
    ids = _history(project, N + planstream.MIN_ITEMS)
    stored = record_calls(monkeypatch, plancache, "store")
    project.api().apply(ids[N - 1])
    project.api().apply()  # on top of N applied
    project.api().rollback(ids[N - 1])  # not to base
    assert [call[2][0].direction for call in stored] == ["apply"]
    project.api().rollback("base")
    assert [call[2][0].direction for call in stored] == ["apply", "rollback"]


def test_a_forged_remembered_schema_does_not_reach_a_kept_plan(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """The forked process renders a plan's second half on the schema the first half builds:
    replayed from the changesets, never taken from the memo, where a schema forged for that
    point (a restored cache) would decide the SQL of every later run."""
    ops: list[list[Any]] = [[{"create_table": {"name": f"t{i}", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "name", "type": "string(40)"}]}}] for i in range(N - 1)]
    ops.append([{"alter_column": {"table": "t0", "name": "name", "type": "string(90)"}}])
    ids = project.chain(*ops)
    built = _reference(project, monkeypatch)
    api = project.api()
    g = api.history.graph
    prefix = ids[:N // 2]  # (what the forked process replays)
    real = api.history.memo.replay(g, prefix, remember=False, stored=False).state
    from schemaflow import ir
    from schemaflow.memo import sequence_keys
    from schemaflow.state import apply

    forged = apply(real, ir.parse_operation({"add_column": {"table": "t0", "column": {
        "name": "ghost", "type": "integer"}}}))
    last = sequence_keys(g, prefix).last
    assert last is not None  # (the key of a prefix that is not empty)
    api.history.memo.put_state(last, forged)
    forks = record_calls(monkeypatch, parallel, "fork_stream")
    project.api().apply()
    assert len(forks) == 1  # (rendered on two cores)
    assert (reflect(project.url), _versions(project.url)) == built[:2]
    project.api().rollback("base")
    project.api().apply()  # the plan kept
    assert (reflect(project.url), _versions(project.url)) == built[:2]


def test_an_edited_changeset_is_rendered_again(project: Project,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _history(project)
    forks, stored = _kept_runs(project, monkeypatch)
    path = next(project.changesets.glob(f"{ids[-1]}_*.yaml"))
    path.write_text(path.read_text().replace("string(80)", "string(90)"))
    project.api().apply()
    assert len(forks) == 1 and len(stored) == 1
    assert ("name", "VARCHAR(90)") in [
        (c[1], c[2]) for c in rows(project.url, f"PRAGMA table_info(t{(N - 1) // 4})")]


@pytest.mark.parametrize("value", [
    dt.datetime(2024, 7, 21, 10, 20, 30, 123), dt.datetime(2024, 7, 21, tzinfo=dt.timezone(
        dt.timedelta(hours=-5, minutes=-30))), dt.date(2024, 2, 29), dt.time(23, 59, 59, 9),
    decimal.Decimal("-1.50E+3"), decimal.Decimal("NaN"), uuid.UUID(int=7), 2 ** 70, -0.0,
    b"\x00\xff", True, None, "it's"])
def test_values_come_back_as_they_went(value: Any) -> None:
    # Named values (psycopg, PyMySQL) and positional ones (sqlite3), through the file's
    # marshal: the same type, and the same value (repr: NaN is not equal to itself).
    for params, first in (({"v": value}, "v"), ((value, 1), 0)):
        kept = marshal.loads(marshal.dumps(plancache._params(params)))
        back = plancache._revived_params(kept)[first]
        assert type(back) is type(value)
        assert repr(back) == repr(value)


def test_a_value_of_another_type_is_not_kept() -> None:
    class Name(str):
        pass

    import zoneinfo

    for value in (Name("x"), dt.datetime(2024, 1, 1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
                  [1], {"a": 1}, object()):
        with pytest.raises(plancache._Unkept):
            plancache._params({"v": value})


@pytest.mark.parametrize("kind", [pytest.param("postgresql", marks=pytest.mark.postgresql),
                                  pytest.param("mysql", marks=pytest.mark.mysql)])
def test_on_a_server(kind: str, tmp_path: Path, request: pytest.FixtureRequest,
                     monkeypatch: pytest.MonkeyPatch) -> None:
    url = str(request.getfixturevalue("pg_url" if kind == "postgresql" else "mysql_url"))
    p = make_project(tmp_path / "proj", url)
    _history(p)
    p.api().apply()
    built = reflect(url), _versions(url), _data(url)
    p.api().rollback("base")
    stored = record_calls(monkeypatch, plancache, "store")
    p.api().apply()  # (the first rollback kept its plan; this apply's was kept before)
    forks = record_calls(monkeypatch, parallel, "fork_stream")
    p.api().rollback("base")
    p.api().apply()
    assert forks == [] and stored == []
    assert (reflect(url), _versions(url), _data(url)) == built
    p.api().rollback("base")
    assert reflect(url) == {} and _versions(url) == []


def test_the_key_follows_the_dialects_settings(project: Project) -> None:
    from schemaflow.dialects.connect import create_engine, session

    engine = create_engine(project.url)
    try:
        with session(engine) as (conn, dialect):
            raw = conn.connection.dbapi_connection

            def ctx_now(own: bool) -> str | None:
                return planstream.context(dialect, planstream.sa_facts(
                    dialect, conn.dialect, raw, own))

            ctx, own = ctx_now(False), ctx_now(True)  # (a caller's engine; schemaflow's)
            conn.dialect._supports_statement_cache = True  # (what SQLAlchemy notes on it)
            assert ctx_now(False) == ctx
            conn.dialect.supports_multivalues_insert = False  # (what it compiles by)
            assert ctx_now(False) != ctx
            # schemaflow's own engine is set up from what the driver tells (the library's
            # version, Python's): a run through the driver alone finds the same plans.
            assert ctx_now(True) == own
    finally:
        engine.dispose()
