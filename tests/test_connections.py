"""Connecting as users' URLs say: every driver SQLAlchemy has (async ones mapped to their
synchronous counterparts), the package to install when one is missing, and where the URL came
from shown on the commands that use the database."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from conftest import Project, make_project, rows

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
