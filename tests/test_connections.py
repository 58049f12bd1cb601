"""Connecting as users' URLs say: every driver SQLAlchemy has (async ones mapped to their
synchronous counterparts), the package to install when one is missing, and where the URL came
from shown on the commands that use the database."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import Project, make_project, rows

import schemaflow
from schemaflow import ir
from schemaflow.recorder import read_rows

TABLE = [{"create_table": {"name": "t", "columns": [
    {"name": "id", "type": "integer", "primary_key": True}]}}]


def with_driver(url: str, driver: str) -> str:
    """`url` (a `scheme+driver://` URL of the test servers) with another driver."""
    scheme, rest = url.split("://", 1)
    return f"{scheme.split('+')[0]}+{driver}://{rest}" if driver else f"{scheme}://{rest}"


def applied_and_listed(project: Project, url: str) -> None:
    """`apply` with `url`, then `current` and `status` with it, as a user runs them."""
    done = project.cli("--url", url, "apply")
    assert done.returncode == 0, done.stderr
    current = project.cli("current", "--url", url)
    assert current.returncode == 0 and "c001" in current.stdout, current.stderr
    status = project.cli("status", "--url", url)
    assert status.returncode == 0 and "Up to date" in status.stdout, status.stderr


@pytest.mark.postgresql
@pytest.mark.parametrize("driver", ["psycopg2", "asyncpg", "psycopg_async"])
def test_postgresql_urls_of_every_driver_work(project: Project, pg_url: str,
                                              driver: str) -> None:
    # psycopg2 is installed and used as named; asyncpg is not installed: its URL (an async
    # app's DATABASE_URL) is run through psycopg, which reads the same URL.
    project.chain(TABLE)
    url = with_driver(pg_url, driver)
    applied_and_listed(project, url + ("?ssl=disable" if driver == "asyncpg" else ""))
    assert rows(pg_url, "SELECT id FROM schemaflow_version") == [("c001",)]
    assert not (project.root / "app.db").exists()
    if driver != "psycopg2":  # the driver-level reader takes the mapped URL as it is
        assert [r.id for r in read_rows(url, "schemaflow_version", None, timeout=5) or []] \
            == ["c001"]


@pytest.mark.mysql
@pytest.mark.parametrize("scheme", ["mysql+aiomysql", "mysql+asyncmy", "mysql"])
def test_mysql_async_urls_run_through_pymysql(project: Project, mysql_url: str,
                                              scheme: str) -> None:
    project.chain(TABLE)
    url = scheme + "://" + mysql_url.split("://", 1)[1]
    applied_and_listed(project, url)
    assert rows(mysql_url, "SELECT id FROM schemaflow_version") == [("c001",)]
    assert [r.id for r in read_rows(url, "schemaflow_version", None, timeout=5) or []] \
        == ["c001"]


def test_an_aiosqlite_url_runs_through_sqlite3(project: Project) -> None:
    project.chain(TABLE)
    applied_and_listed(project, f"sqlite+aiosqlite:///{project.root / 'app.db'}")
    assert rows(project.url, "SELECT id FROM schemaflow_version") == [("c001",)]


@pytest.mark.parametrize(("url", "module", "package"), [
    ("mysql+mysqldb://root@127.0.0.1:1/test", "MySQLdb", "mysqlclient"),
    ("mysql+mysqlconnector://root@127.0.0.1:1/test", "mysql.connector",
     "mysql-connector-python"),
    ("postgresql+pg8000://postgres:secret@127.0.0.1:1/test", "pg8000", "pg8000"),
])
def test_a_driver_not_installed_names_the_package(project: Project, url: str, module: str,
                                                  package: str) -> None:
    try:
        installed = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        installed = False
    if installed:
        pytest.skip(f"{module} is installed here")
    project.chain(TABLE)
    for args in (("apply",), ("current",), ("status",)):
        done = project.cli("--url", url, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert f"pip install {package}" in done.stderr and "not installed" in done.stderr
        assert "Traceback" not in done.stderr and "secret" not in done.stderr
    assert not (project.root / "app.db").exists()


def test_an_unknown_driver_is_a_usage_error(project: Project) -> None:
    project.chain(TABLE)
    done = project.cli("--url", "postgresql+nosuch://u@127.0.0.1:1/db", "apply")
    assert done.returncode == 2 and "unknown database or driver" in done.stderr
    assert "Traceback" not in done.stderr


# --- where the URL came from ------------------------------------------------------------------


def header(stderr: str) -> str:
    found = [ln for ln in stderr.splitlines() if ln.startswith("database: ")]
    assert len(found) == 1, stderr
    return found[0]


def test_current_status_and_apply_say_which_database_and_why(project: Project) -> None:
    project.chain(TABLE)
    other = project.root / "other.db"
    env_url = f"sqlite:///{project.root / 'env.db'}"
    cases = [
        ([], {}, f"database: sqlite:///{project.root / 'app.db'} (from schemaflow.toml)"),
        (["--url", f"sqlite:///{other}"], {}, f"database: sqlite:///{other} (from --url)"),
        ([], {"SCHEMAFLOW_URL": env_url},
         f"database: {env_url} (from the environment variable SCHEMAFLOW_URL)"),
        ([], {"DATABASE_URL": env_url},
         f"database: {env_url} (from the environment variable DATABASE_URL)"),
    ]
    for args, env, expected in cases:
        for command in ("apply", "current", "status"):
            done = project.cli(command, *args, env=env)
            assert done.returncode == 0, done.stderr
            assert header(done.stderr) == expected, (command, args, env)
    assert rows(f"sqlite:///{other}", "SELECT id FROM schemaflow_version") == [("c001",)]
    # Under -q nothing but errors; --format json stays JSON alone on stdout.
    assert "database:" not in project.cli("-q", "apply").stderr
    assert "database:" not in project.cli("current", "--format", "json").stderr


def test_the_default_url_and_verbose_output_say_so(tmp_path: Path) -> None:
    root = tmp_path / "bare"
    (root / "changesets").mkdir(parents=True)
    p = Project(root, f"sqlite:///{root / 'schemaflow.db'}")
    done = p.cli("-v", "current")
    assert done.returncode == 0, done.stderr
    assert "configuration: none found (defaults)" in done.stderr
    assert header(done.stderr) == (f"database: sqlite:///{root / 'schemaflow.db'} "
                                   "(the default: no url configured)")


def test_the_header_hides_the_password(project: Project) -> None:
    project.chain(TABLE)
    url = "postgresql://someone:hunter22@127.0.0.1:1/db"
    done = project.cli("status", "-v", env={"DATABASE_URL": url})
    assert done.returncode == 2  # nothing listens on port 1
    assert ("database: postgresql://someone:***@127.0.0.1:1/db (from the environment "
            "variable DATABASE_URL)") in done.stderr
    assert "hunter22" not in done.stderr + done.stdout


def test_a_sqlite_file_in_a_missing_folder_is_an_error(project: Project) -> None:
    project.chain(TABLE)
    missing = project.root / "no" / "such" / "dir"
    url = f"sqlite:///{missing / 'x.db'}"
    for args in (["current"], ["status"], ["apply"], ["apply", "--dry-run"],
                 ["rollback", "base"]):
        done = project.cli("--url", url, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert f"the folder {missing} of the SQLite database" in done.stderr, done.stderr
        assert "<base>" not in done.stdout and "Traceback" not in done.stderr
    assert not missing.exists()
    # A relative path in the configuration is relative to its folder: the same error.
    nested = make_project(project.root / "nested", "sqlite:///data/app.db")
    nested.chain(TABLE)
    done = nested.cli("current")
    assert done.returncode == 2 and f"the folder {nested.root / 'data'}" in done.stderr


# --- the Python API: url= an Engine or a Connection -----------------------------------------


def schema_tables(engine: sa.Engine) -> list[str]:
    return sorted(sa.inspect(engine).get_table_names())


def two_tables(p: Project) -> None:
    p.chain(TABLE, [{"create_table": {"name": "u", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}])


def engine_of(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> sa.Engine:
    if kind == "sqlite":
        return sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    url = str(request.getfixturevalue(kind))
    return sa.create_engine(url)


KINDS = ["sqlite", pytest.param("pg_url", marks=pytest.mark.postgresql),
         pytest.param("mysql_url", marks=pytest.mark.mysql)]


@pytest.mark.parametrize("kind", KINDS)
def test_an_engine_is_used_as_the_database(project: Project, kind: str, tmp_path: Path,
                                          request: pytest.FixtureRequest) -> None:
    two_tables(project)
    engine = engine_of(request, kind, tmp_path / "db")
    (tmp_path / "db").mkdir(exist_ok=True)
    try:
        result = schemaflow.apply(url=engine, cwd=project.root)
        assert [r.id for r in result.results] == ["c001", "c002"]
        assert schema_tables(engine) == ["schemaflow_version", "t", "u"]
        assert [c.id for c in schemaflow.current(url=engine, cwd=project.root)] == ["c002"]
        assert schemaflow.status(url=engine, cwd=project.root) == []
        assert schemaflow.validate(url=engine, cwd=project.root, database=True) == []
        assert "DROP TABLE" in (schemaflow.plan(url=engine, cwd=project.root,
                                                direction="rollback").sql or "")
        schemaflow.rollback("c001", url=engine, cwd=project.root)
        assert schema_tables(engine) == ["schemaflow_version", "t"]
        # The engine is the caller's: still usable, and nothing went to the configured file.
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
        assert not (project.root / "app.db").exists()
        info = project.api(url=engine)
        assert info.url_origin == "from url= (an SQLAlchemy Engine)"
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", KINDS)
def test_a_connection_is_used_and_left_open(project: Project, kind: str, tmp_path: Path,
                                           request: pytest.FixtureRequest) -> None:
    two_tables(project)
    (tmp_path / "db").mkdir(exist_ok=True)
    engine = engine_of(request, kind, tmp_path / "db")
    try:
        with engine.connect() as conn:
            schemaflow.apply(url=conn, cwd=project.root)
            assert not conn.closed and not conn.in_transaction()  # each changeset committed
            conn.exec_driver_sql("INSERT INTO t (id) VALUES (1)")
            conn.commit()
            assert [c.id for c in schemaflow.current(url=conn, cwd=project.root)] == ["c002"]
            assert not conn.closed
        assert schema_tables(engine) == ["schemaflow_version", "t", "u"]
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", KINDS[:2])
def test_a_connection_inside_a_transaction_keeps_the_changesets_in_it(
        project: Project, kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    # A test fixture's connection: begun, rolled back after the test. The changesets run
    # inside that transaction (savepoints) and go with its rollback, as with Alembic.
    two_tables(project)
    (tmp_path / "db").mkdir(exist_ok=True)
    engine = engine_of(request, kind, tmp_path / "db")
    try:
        with engine.connect() as conn:
            outer = conn.begin()
            schemaflow.apply(url=conn, cwd=project.root)
            assert outer.is_active and conn.in_transaction()
            assert sa.inspect(conn).has_table("u")
            assert [c.id for c in schemaflow.current(url=conn, cwd=project.root)] == ["c002"]
            outer.rollback()
        assert schema_tables(engine) == []
        with engine.connect() as conn, conn.begin():  # and committed when the caller commits
            schemaflow.apply("c001", url=conn, cwd=project.root)
        assert schema_tables(engine) == ["schemaflow_version", "t"]
    finally:
        engine.dispose()


@pytest.mark.postgresql
def test_a_failed_changeset_inside_the_callers_transaction_leaves_it_usable(
        project: Project, pg_url: str) -> None:
    project.chain(TABLE, [{"sql": {"up": "SELECT * FROM no_such_table", "down": "SELECT 1"}}])
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn, conn.begin():
            with pytest.raises(schemaflow.ChangesetFailed) as info:
                schemaflow.apply(url=conn, cwd=project.root)
            assert info.value.changeset == "c002"
            # c001 stays (its savepoint was released), c002 is undone, the transaction works.
            assert conn.exec_driver_sql("SELECT id FROM schemaflow_version").all() == [("c001",)]
        assert schema_tables(engine) == ["schemaflow_version", "t"]
    finally:
        engine.dispose()


@pytest.mark.mysql
def test_a_mysql_connection_inside_a_transaction_is_refused(project: Project,
                                                            mysql_url: str) -> None:
    project.chain(TABLE)
    engine = sa.create_engine(mysql_url)
    try:
        with engine.connect() as conn, conn.begin(), pytest.raises(
                schemaflow.UsageError, match="commits each DDL statement"):
            schemaflow.apply(url=conn, cwd=project.root)
        assert schema_tables(engine) == []
    finally:
        engine.dispose()


def test_a_sqlite_engine_keeps_its_own_settings(project: Project, tmp_path: Path) -> None:
    # A Flask-style engine with foreign keys enforced: the table rebuild must not cascade,
    # and the engine's connections keep enforcing them afterwards.
    project.chain(
        [{"create_table": {"name": "parent", "columns": [
            {"name": "id", "type": "integer", "primary_key": True},
            {"name": "name", "type": "string(20)"}]}},
         {"create_table": {"name": "child", "columns": [
             {"name": "id", "type": "integer", "primary_key": True},
             {"name": "parent_id", "type": "integer"}],
             "foreign_keys": [{"columns": ["parent_id"], "ondelete": "CASCADE",
                               "references": {"table": "parent", "columns": ["id"]}}]}}],
        [{"alter_column": {"table": "parent", "name": "name", "type": "string(40)"}}])
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    sa.event.listen(engine, "connect",
                    lambda dbapi, _rec: dbapi.execute("PRAGMA foreign_keys=ON"))
    try:
        schemaflow.apply("c001", url=engine, cwd=project.root)
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO parent (id, name) VALUES (1, 'a')")
            conn.exec_driver_sql("INSERT INTO child (id, parent_id) VALUES (1, 1)")
        with engine.connect() as conn:
            schemaflow.apply(url=conn, cwd=project.root)  # rebuilds parent
            assert conn.exec_driver_sql("SELECT count(*) FROM child").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_other_values_of_url_are_refused(project: Project) -> None:
    with pytest.raises(schemaflow.UsageError, match="not int"):
        schemaflow.status(url=42, cwd=project.root)  # type: ignore[arg-type]


# --- the models, loaded as often as asked, one project's never another's ---------------------

MODELS = '''
import sqlalchemy as sa
metadata = sa.MetaData()
{tables}
'''


def models_file(p: Project, *tables: str, module: str = "app_models") -> None:
    body = "\n".join(f"sa.Table({t!r}, metadata, sa.Column('id', sa.Integer, "
                     "primary_key=True))" for t in tables)
    (p.root / f"{module}.py").write_text(MODELS.format(tables=body), encoding="utf-8")
    (p.root / "schemaflow.toml").write_text(
        f'url = "{p.url}"\nmodels = "{module}:metadata"\n', encoding="utf-8")


def created(operations: list[ir.Operation]) -> list[str]:
    return sorted(op.name for op in operations if isinstance(op, ir.CreateTable))


def test_a_second_check_sees_the_edited_models(project: Project,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as a user's Python runs
    path, finders = list(sys.path), list(sys.meta_path)
    models_file(project, "a")
    assert created(schemaflow.check(cwd=project.root)) == ["a"]
    assert sys.path == path and "app_models" not in sys.modules
    models_file(project, "a", "b")  # same second, maybe same size: no stale .pyc either
    assert created(schemaflow.check(cwd=project.root)) == ["a", "b"]
    assert created(schemaflow.check(cwd=project.root)) == ["a", "b"]  # unchanged: reused
    assert sys.path == path and "app_models" not in sys.modules
    assert sys.meta_path == finders and not sys.dont_write_bytecode
    # The only bytecode kept is checked against the source's hash, never its mtime.
    assert [p.name for p in (project.root / "__pycache__").iterdir()] == [
        Path(importlib.util.cache_from_source(str(project.root / "app_models.py"))).name]
    assert pyc_source_hash(project.root / "app_models.py") == importlib.util.source_hash(
        (project.root / "app_models.py").read_bytes())


def pyc_source_hash(source: Path) -> bytes | None:
    """The source hash a checked-hash .pyc of `source` records (None: no such .pyc)."""
    pyc = Path(importlib.util.cache_from_source(str(source)))
    if not pyc.exists():
        return None
    head = pyc.read_bytes()[:16]
    assert head[:4] == importlib.util.MAGIC_NUMBER
    assert head[4:8] == (0b11).to_bytes(4, "little")  # hash-based, checked
    return head[8:16]


def test_models_edited_at_the_same_mtime_and_size_are_read_again(project: Project) -> None:
    """The models' bytecode kept between runs is never served for an edited file, not even
    one of the same size given back its old mtime (which fools mtime-checked .pyc files)."""
    import os

    env = {"PYTHONDONTWRITEBYTECODE": ""}  # empty: bytecode written, as by default
    models_file(project, "aaa")
    models = project.root / "app_models.py"
    first = project.cli("check", env=env)
    assert first.returncode == 1 and "aaa" in first.stdout, first.stderr
    assert pyc_source_hash(models) == importlib.util.source_hash(models.read_bytes())
    stat = models.stat()
    models_file(project, "bbb")
    os.utime(models, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert models.stat().st_size == stat.st_size
    second = project.cli("check", env=env)
    assert second.returncode == 1 and "bbb" in second.stdout and "aaa" not in second.stdout
    assert pyc_source_hash(models) == importlib.util.source_hash(models.read_bytes())
    again = project.cli("check", env=env)  # from the .pyc written for it
    assert again.stdout == second.stdout


def test_no_bytecode_written_for_the_models_when_python_writes_none(project: Project) -> None:
    models_file(project, "aaa")
    done = project.cli("check", env={"PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 1 and "aaa" in done.stdout, done.stderr
    assert not (project.root / "__pycache__").exists()


def test_two_projects_in_one_process_see_their_own_models(tmp_path: Path) -> None:
    import sys
    import types

    first, second = (make_project(tmp_path / n) for n in ("one", "two"))
    models_file(first, "from_one")
    models_file(second, "from_two")
    # A module of that name the process loaded itself is set aside meanwhile, then back.
    own = types.ModuleType("app_models")
    sys.modules["app_models"] = own
    try:
        for _ in range(2):
            assert created(schemaflow.check(cwd=first.root)) == ["from_one"]
            assert created(schemaflow.check(cwd=second.root)) == ["from_two"]
        assert sys.modules["app_models"] is own
    finally:
        sys.modules.pop("app_models", None)


def test_a_foreign_key_to_a_table_missing_from_the_models_is_a_model_error(
        project: Project) -> None:
    (project.root / "app_models.py").write_text(
        "import sqlalchemy as sa\nmetadata = sa.MetaData()\n"
        "sa.Table('user', metadata, sa.Column('id', sa.Integer, primary_key=True),\n"
        "         sa.Column('org_id', sa.ForeignKey('org.id')))\n", encoding="utf-8")
    (project.root / "schemaflow.toml").write_text(
        f'url = "{project.url}"\nmodels = "app_models:metadata"\n', encoding="utf-8")
    said = ("model table 'user': the foreign key on user.org_id references 'org.id', but "
            "the models have no table 'org'")
    for args in (["check"], ["check", "--against-db"], ["new", "-m", "x", "--autogenerate"]):
        done = project.cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert said in done.stderr and "database failed" not in done.stderr
        assert "Traceback" not in done.stderr
    with pytest.raises(schemaflow.ModelError, match="no table 'org'"):
        schemaflow.check(cwd=project.root)
    assert list(project.changesets.iterdir()) == []


def test_a_broken_models_module_names_the_file_and_line(project: Project) -> None:
    (project.root / "app_models.py").write_text(
        "import sqlalchemy as sa\n\nmetadata = sa.MetaData()\nraise RuntimeError('half done')\n",
        encoding="utf-8")
    (project.root / "schemaflow.toml").write_text(
        f'url = "{project.url}"\nmodels = "app_models:metadata"\n', encoding="utf-8")
    done = project.cli("check")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert ("the models (app_models:metadata) cannot be imported: module 'app_models' "
            "(app_models.py, line 4): RuntimeError: half done") in done.stderr


def test_the_api_exports_its_errors() -> None:
    for name in ("SchemaflowError", "UsageError", "ConfigError", "ModelError",
                 "ConnectionFailed", "ValidationFailed", "DriftError", "ChangesetFailed",
                 "DatabaseError", "Interrupted"):
        assert name in schemaflow.__all__
        assert issubclass(getattr(schemaflow, name), schemaflow.SchemaflowError)
    assert schemaflow.ModelError.exit_code == 2
    assert issubclass(schemaflow.Interrupted, schemaflow.ChangesetFailed)
