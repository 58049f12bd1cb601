"""Shared fixtures: throwaway projects, the CLI as a user runs it, and real test databases."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from hypothesis import settings

if TYPE_CHECKING:
    from schemaflow.api import Project as ApiProject
    from schemaflow.api import RunResult

ROOT = Path(__file__).resolve().parent.parent
# The parse cache goes to a throwaway folder, never the developer's own cache.
os.environ.setdefault("SCHEMAFLOW_CACHE_DIR", os.path.join(
    __import__("tempfile").mkdtemp(prefix="schemaflow-test-cache-")))
# So does the key that signs kept plans (plancache), which lives outside the cache folder.
os.environ.setdefault("SCHEMAFLOW_STATE_DIR", os.path.join(
    __import__("tempfile").mkdtemp(prefix="schemaflow-test-state-")))
DEMO = ROOT / "changesets"
# The property tests assert what holds, never how fast: Hypothesis's default 200 ms deadline
# per example failed a passing test on a loaded 2-core CI machine (221 ms). Speed is bench/'s.
settings.register_profile("schemaflow", deadline=None)
settings.load_profile("schemaflow")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_URL = os.environ.get("SCHEMAFLOW_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("SCHEMAFLOW_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


@dataclass
class Project:
    """A project folder with a schemaflow.toml and a changesets folder."""

    root: Path
    url: str

    @property
    def changesets(self) -> Path:
        return self.root / "changesets"

    def write(self, cid: str, operations: list[Any], *, parents: list[str] | None = None,
              fmt: str = "yaml", slug: str = "change", **extra: Any) -> Path:
        """Write a changeset document; returns its path."""
        doc: dict[str, Any] = {"schemaflow": 1, "id": cid, "parents": parents or [],
                               "message": extra.pop("message", f"{slug} {cid}")}
        doc.update(extra)
        doc["operations"] = operations
        path = self.changesets / f"{cid}_{slug}.{fmt}"
        if fmt == "toml":
            import tomli_w

            path.write_text(tomli_w.dumps(doc), encoding="utf-8")
        else:
            path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        return path

    def write_text(self, name: str, text: str) -> Path:
        path = self.changesets / name
        path.write_text(text, encoding="utf-8")
        return path

    def chain(self, *ops_per_changeset: list[Any], prefix: str = "c") -> list[str]:
        """Write a linear history, one changeset per list of operations; returns the ids."""
        ids: list[str] = []
        for i, ops in enumerate(ops_per_changeset, 1):
            cid = f"{prefix}{i:03d}"
            self.write(cid, ops, parents=ids[-1:])
            ids.append(cid)
        return ids

    def accept_import_notes(self) -> list[str]:
        """Mark each changeset that holds a note an import left for a hand as run as it is
        (`lint: {ignore: [SF016]}`, a user's decision: apply refuses them otherwise); returns
        their ids."""
        marked = []
        for path in sorted(self.changesets.glob("*.yaml")):
            text = path.read_text(encoding="utf-8")
            if "TODO(schemaflow import)" not in text:
                continue
            head = "".join(line for line in text.splitlines(keepends=True)
                           if line.startswith("#"))
            doc = yaml.safe_load(text)
            ignore = doc.setdefault("lint", {}).setdefault("ignore", [])
            ignore.append("SF016")
            path.write_text(head + yaml.safe_dump(doc, sort_keys=False, width=1000),
                            encoding="utf-8")
            marked.append(doc["id"])
        return marked

    def cli(self, *args: str, env: dict[str, str] | None = None,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run `schemaflow ARGS` in the project folder, as a user would."""
        return run_cli(*args, cwd=self.root, env=env, input=input)

    def api(self, **kwargs: Any) -> ApiProject:
        from schemaflow.api import Project as ApiProject

        return ApiProject.from_config(cwd=self.root, **kwargs)


def sql_of(result: RunResult) -> str:
    """The SQL of an apply/rollback that ran nothing (a dry run or offline SQL), which has it."""
    assert result.sql is not None
    return result.sql


# `schemaflow ARGS` run by a `python -c` script (after whatever the script did first), its
# exit code left in `code` for what the script does after.
CLI_MAIN = """
import sys
sys.argv = ["schemaflow", *sys.argv[1:]]
from schemaflow.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
"""
# `schemaflow ARGS` in one process, then which of the heavy modules it imported on the way.
_IN_PROCESS = CLI_MAIN + """
heavy = sorted(m for m in ("schemaflow.ir.operations", "schemaflow.ir.parts",
                           "schemaflow.ir.codec", "schemaflow.planning", "sqlalchemy", "rich")
               if m in sys.modules)
print(f"\\nIMPORTED={','.join(heavy)} EXIT={code}")
"""


def run_reporting_imports(root: Path, *args: str, no_cache: bool = False
                          ) -> tuple[str, int, list[str]]:
    """(stdout, exit code, the heavy modules imported: IR operations, parts, codec, the
    planner, SQLAlchemy, rich) of `schemaflow ARGS` in the project at `root`, without
    inherited URLs."""
    env = {k: v for k, v in os.environ.items() if k not in ("SCHEMAFLOW_URL", "DATABASE_URL")}
    env.update({"NO_COLOR": "1", "COLUMNS": "200"})
    if no_cache:
        env["SCHEMAFLOW_NO_CACHE"] = "1"
    result = subprocess.run([sys.executable, "-c", _IN_PROCESS, *args], cwd=root, env=env,
                            capture_output=True, text=True, timeout=120)
    out, _, tail = result.stdout.rpartition("\nIMPORTED=")
    assert " EXIT=" in tail, result.stdout + result.stderr
    modules, _, code = tail.rstrip().partition(" EXIT=")
    return out, int(code), [m for m in modules.split(",") if m]


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m schemaflow ARGS` with a clean environment (no inherited database URLs)."""
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("SCHEMAFLOW_URL", "DATABASE_URL")}
    full_env.update({"NO_COLOR": "1", "COLUMNS": "200"})
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "schemaflow", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, input=input, timeout=120)


def make_project(root: Path, url: str | None = None) -> Project:
    root.mkdir(parents=True, exist_ok=True)
    (root / "changesets").mkdir(exist_ok=True)
    url = url or f"sqlite:///{root / 'app.db'}"
    (root / "schemaflow.toml").write_text(f'url = "{url}"\n', encoding="utf-8")
    return Project(root, url)


# Every database the tests run on (the servers' tests marked, so CI requires them).
DIALECTS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgresql),
    pytest.param("mysql", marks=pytest.mark.mysql),
]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """An empty project on a fresh SQLite file."""
    return make_project(tmp_path / "proj")


@pytest.fixture
def demo_project(tmp_path: Path) -> Project:
    """A project holding a copy of the demo changesets."""
    import shutil

    p = make_project(tmp_path / "demo")
    for f in DEMO.iterdir():
        shutil.copy(f, p.changesets / f.name)
    return p


# --- real servers ---------------------------------------------------------------------------


def _unreachable(kind: str, exc: Exception) -> None:
    msg = f"{kind} test server unreachable: {exc}"
    if IN_CI:
        pytest.fail(msg + " (CI=true: these tests must run)")
    pytest.skip(msg)


def _server_database(base_url: str, kind: str) -> Iterator[str]:
    """Create a uniquely named database on the server, yield its URL, drop it afterwards."""
    import sqlalchemy as sa

    name = f"sf_test_{uuid.uuid4().hex[:12]}"
    url = sa.engine.make_url(base_url)
    try:
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except Exception as exc:
        _unreachable(kind, exc)
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            if kind == "PostgreSQL":
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (dropped after the test)."""
    yield from _server_database(POSTGRES_URL, "PostgreSQL")


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """A fresh, empty MySQL/MariaDB database (dropped after the test)."""
    yield from _server_database(MYSQL_URL, "MySQL")


def database_url(tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> str:
    """An empty database of `dialect`: a new SQLite file, else the server's `pg_url` or
    `mysql_url` (dropped after the test)."""
    if dialect == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite'}"
    return str(request.getfixturevalue("pg_url" if dialect == "postgresql" else "mysql_url"))


def live_collations(url: str, dialect: str, table: str = "words") -> dict[str, str | None]:
    """Each column of `table` but `id`, with its collation as the database holds it (the
    database's default: None)."""
    if dialect == "sqlite":
        tables = rows(url, f"SELECT sql FROM sqlite_master WHERE name = '{table}'")
        if not tables:
            return {}
        ((create,),) = tables
        found = {}
        for (name,) in rows(url, f"SELECT name FROM pragma_table_info('{table}')"):
            match = re.search(rf'\n\s*"?{name}"? [^\n]*?COLLATE "?(\w+)', create)
            if name != "id":
                found[name] = match[1] if match else None
        return found
    query = ("SELECT column_name, collation_name FROM information_schema.columns "
             f"WHERE table_name = '{table}' AND column_name <> 'id'")
    if dialect == "mysql":
        default = rows(url, "SELECT default_collation_name FROM information_schema.schemata "
                            "WHERE schema_name = database()")[0][0]
        found = dict(rows(url, query + " AND table_schema = database()"))
        return {k: (None if v == default else v) for k, v in found.items()}
    return dict(rows(url, query))


def reflect(url: str) -> dict[str, Any]:
    """The schema of a database as comparable plain data (version table excluded)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        insp = sa.inspect(engine)
        out: dict[str, Any] = {}
        for table in sorted(insp.get_table_names()):
            if table in ("schemaflow_version", "schemaflow_version_journal"):
                continue
            cols = {c["name"]: (str(c["type"]).upper(), c["nullable"],
                                _norm_default(c.get("default")))
                    for c in insp.get_columns(table)}
            pk = insp.get_pk_constraint(table)
            out[table] = {
                "columns": cols,
                "pk": tuple(pk["constrained_columns"]),
                "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"],
                               tuple(f["referred_columns"]), f.get("name"),
                               (f.get("options") or {}).get("ondelete"))
                              for f in insp.get_foreign_keys(table)),
                "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                                  for i in insp.get_indexes(table)),
                "uniques": sorted((u["name"], tuple(u["column_names"]))
                                  for u in insp.get_unique_constraints(table)),
                "checks": sorted(c.get("name") or "" for c in insp.get_check_constraints(table)),
            }
        return out
    finally:
        engine.dispose()


def _norm_default(value: Any) -> Any:
    if value is None:
        return None
    return str(value).strip("()'\"").lower()


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    """The rows of a query."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def record_calls(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str
                 ) -> list[tuple[Any, ...]]:
    """From now on, the arguments of each call of `owner.name` (which still runs), in
    order."""
    calls: list[tuple[Any, ...]] = []
    real = getattr(owner, name)

    def recording(*args: Any) -> Any:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(owner, name, recording)
    return calls


def count_parallel_maps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """From now on, the number of items of each `parallel.map_items` (or `iter_items`) call,
    in order."""
    from schemaflow import parallel

    used: list[int] = []
    real = parallel.iter_items

    def counting(fn: Any, items: Any) -> Any:
        used.append(len(items))
        return real(fn, items)

    monkeypatch.setattr(parallel, "iter_items", counting)  # map_items goes through it
    return used


@pytest.fixture(autouse=True)
def _schema_check_agrees(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every document a test checks in this process (valid, invalid, hostile, fuzzed) goes
    through both the compiled predicate (`schemacheck`) and jsonschema, which must agree:
    the predicate lets a document skip jsonschema only when jsonschema finds no error."""
    import importlib

    validate = importlib.import_module("schemaflow.validate")  # the module, not api.validate
    schemacheck = importlib.import_module("schemaflow.schemacheck")

    real = validate.fast_check

    def checked(name: str) -> Any:
        fast = real(name)
        if fast is None:
            return None

        def both(doc: Any) -> bool:
            verdict: bool = fast(doc)
            slow = not any(True for _ in validate._validator(name).iter_errors(doc))
            stricter_where_undecided = slow and not schemacheck.decided(doc)
            assert verdict == slow or stricter_where_undecided, (
                f"schemacheck says {verdict}, jsonschema {slow}: {doc!r}")
            return verdict

        return both

    monkeypatch.setattr(validate, "fast_check", checked)
