"""`schemaflow import alembic` and `stamp --from-alembic`: a history written here (see
alembic_history.py) and optuna's, installed from PyPI; the changesets must build on SQLite and
PostgreSQL the schema `alembic upgrade` builds on the same server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from alembic_history import REVISIONS, build
from conftest import Project, live_collations, make_project, rows

pytest.importorskip("alembic")

ALEMBIC_UPGRADE = """
import logging, sys
logging.basicConfig(level=logging.WARNING)
from alembic import command
from alembic.config import Config
cfg = Config()
cfg.set_main_option("script_location", sys.argv[1])
cfg.set_main_option("sqlalchemy.url", sys.argv[2])
command.upgrade(cfg, sys.argv[3])
"""


def alembic_upgrade(scripts: Path, url: str, target: str = "heads") -> None:
    """`alembic upgrade TARGET` of the script directory on `url` (in its own process: env.py
    configures logging)."""
    done = subprocess.run([sys.executable, "-c", ALEMBIC_UPGRADE, str(scripts), url, target],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def shape(url: str) -> dict[str, Any]:
    """The schema as reflected, constraints compared by what they hold: Alembic leaves some
    unnamed (the database names them), schemaflow names every one."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        insp = sa.inspect(engine)
        out: dict[str, Any] = {}
        for table in sorted(insp.get_table_names()):
            if table in ("schemaflow_version", "alembic_version"):
                continue
            out[table] = {
                "columns": [(c["name"], str(c["type"]).upper(), c["nullable"],
                             str(c.get("default")).strip("()'\"").lower())
                            for c in insp.get_columns(table)],
                "pk": insp.get_pk_constraint(table)["constrained_columns"],
                "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"],
                               tuple(f["referred_columns"]),
                               str((f.get("options") or {}).get("ondelete")))
                              for f in insp.get_foreign_keys(table)),
                # A unique index may be a unique constraint MySQL named after its column.
                "indexes": sorted(("" if i["unique"] else str(i["name"]),
                                   str(i.get("expressions") or i["column_names"]),
                                   bool(i["unique"]))
                                  for i in insp.get_indexes(table)
                                  if not i.get("duplicates_constraint")),
                "uniques": sorted(tuple(u["column_names"])
                                  for u in insp.get_unique_constraints(table)),
                "checks": len(insp.get_check_constraints(table)),
            }
        return out
    finally:
        engine.dispose()


def drop_all(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        md = sa.MetaData()
        md.reflect(engine)
        md.drop_all(engine)
        with engine.begin() as conn:
            inspector: Any = sa.inspect(conn)
            for enum in inspector.get_enums() if hasattr(inspector, "get_enums") else []:
                conn.exec_driver_sql(f'DROP TYPE "{enum["name"]}"')
    finally:
        engine.dispose()


OPTUNA_SERVERS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
# Optuna's own history fails on MariaDB (`alembic upgrade` drops a column an index uses).
SERVERS = [*OPTUNA_SERVERS, pytest.param("mysql", marks=pytest.mark.mysql)]


SERVER_URLS = {"postgresql": "pg_url", "mysql": "mysql_url"}


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """The Alembic project (alembic.ini + migrations/) of alembic_history.py."""
    return build(tmp_path / "alembic_app").parent


def load(p: Project) -> dict[str, dict[str, Any]]:
    docs = {}
    for f in sorted(p.changesets.iterdir()):
        doc = yaml.safe_load(f.read_text())
        docs[doc["id"]] = {**doc, "_text": f.read_text()}
    return docs


def test_import_writes_a_changeset_per_revision(project: Project, history: Path) -> None:
    done = project.cli("import", "alembic", str(history))
    assert done.returncode == 1, done.stderr
    docs = load(project)
    assert set(docs) == {r[0] for r in REVISIONS}
    # Ids, parents (a merge has two), branch labels, messages and dates are kept.
    assert docs["e5"]["parents"] == ["c3", "d4"] and docs["e5"]["operations"] == []
    assert docs["c3"]["branch_labels"] == ["feature"]
    assert docs["d4"]["message"] == "tags, and an index that differs by database"
    assert "Alembic revision a1 (migrations/versions/a1_a1.py, created 2024-01-01 09:30:00)" \
        in docs["a1"]["_text"]
    # A downgrade that is the automatic inverse is not written; one that differs is.
    assert "rollback" not in docs["a1"] and "rollback" not in docs["c3"]
    assert "rollback" not in docs["g7"]
    assert [next(iter(o)) for o in docs["d4"]["rollback"]] == [
        "drop_constraint", "drop_column", "sql", "drop_table"]
    # Batch operations become plain ones; bulk_insert becomes insert_rows.
    assert [next(iter(o)) for o in docs["d4"]["operations"]] == [
        "create_table", "insert_rows", "sql", "sql", "add_column", "create_foreign_key"]
    assert docs["g7"]["operations"][0] == {
        "rename_column": {"table": "posts", "name": "title", "new_name": "headline"}}
    # op.execute is sql; the revision branching on the database is scoped by database.
    # (An empty downgrade: the SQL it ran is undone by nothing, as in Alembic.)
    assert docs["b2"]["operations"][2]["sql"] == {
        "up": "UPDATE users SET bio = 'none'",
        "down": "-- nothing: downgrade() of Alembic revision b2 is empty"}
    assert {tuple(o["sql"]["dialects"]): o["sql"]["up"]
            for o in docs["d4"]["operations"][2:4]} == {
        ("mysql", "sqlite"): "CREATE INDEX ix_tags_label ON tags (label)",
        ("postgresql",): "CREATE INDEX ix_tags_label ON tags (lower(label))"}
    # Python that reads rows is a marked note, the operations after it are kept.
    f6 = docs["f6"]["operations"]
    assert "TODO(schemaflow import): Alembic revision f6" in f6[0]["sql"]["up"][0]
    assert f6[1]["create_table"]["name"] == "audit"
    # What needs a hand is listed at the end, and only that.
    listed = [line for line in done.stderr.splitlines() if line.startswith("  ")]
    # (d4's expression index is expressible: only its per-database difference is SQL.)
    assert [line.split()[0] for line in listed] == ["f6"], done.stderr
    assert "SELECT id, name FROM users" in listed[0]
    valid = project.cli("validate")
    assert valid.returncode == 0, valid.stdout + valid.stderr


def _anchored(request: pytest.FixtureRequest, tmp_path: Path, server: str, scripts: Path,
              target: str = "heads") -> tuple[dict[str, Any], Project]:
    """What `alembic upgrade` of `scripts` builds on `server` (its shape), and a project on
    an empty database of that server for schemaflow to build the same in."""
    url = (f"sqlite:///{tmp_path / 'alembic.db'}" if server == "sqlite"
           else request.getfixturevalue(SERVER_URLS[server]))
    alembic_upgrade(scripts, url, target)
    expected = shape(url)
    if server == "sqlite":
        url = f"sqlite:///{tmp_path / 'schemaflow.db'}"
    else:
        drop_all(url)
    return expected, make_project(tmp_path / "proj", url)


def _builds_then_unbuilds(p: Project, expected: dict[str, Any]) -> None:
    """`apply` builds `expected` (what `alembic upgrade` built), and `rollback base` leaves
    nothing but the version table."""
    applied = p.cli("apply")
    assert applied.returncode == 0, applied.stderr
    assert shape(p.url) == expected
    back = p.cli("rollback", "base")
    assert back.returncode == 0, back.stderr
    assert set(shape(p.url)) == set()


@pytest.mark.parametrize("server", SERVERS)
def test_apply_builds_what_alembic_builds(request: pytest.FixtureRequest, tmp_path: Path,
                                          history: Path, server: str) -> None:
    expected, p = _anchored(request, tmp_path, server, history / "migrations")
    assert {"users", "posts", "tags", "audit"} <= set(expected)
    assert p.cli("import", "alembic", str(history)).returncode == 1
    # f6 fills a column in Python, which the import left as a note: run, it would do
    # nothing; apply refuses it, naming its place, and changes nothing.
    refused = p.cli("apply")
    assert refused.returncode == 1, refused.stderr
    assert "f6_fill_nicknames_in_python.yaml:7:5: error SF016" in refused.stderr
    assert "nothing was changed" in refused.stderr and shape(p.url) == {}
    assert p.accept_import_notes() == ["f6"]
    _builds_then_unbuilds(p, expected)


def test_stamp_from_alembic_continues_a_database_at_head(tmp_path: Path, history: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    alembic_upgrade(history / "migrations", url)
    p = make_project(tmp_path / "proj", url)
    assert p.cli("import", "alembic", str(history)).returncode == 1
    # apply refuses a database Alembic manages until told what is applied.
    refused = p.cli("apply")
    assert refused.returncode == 2
    assert "stamp --from-alembic" in refused.stderr and "g7" in refused.stderr
    assert rows(url, "SELECT name FROM sqlite_master WHERE name = 'schemaflow_version'") == []
    stamped = p.cli("stamp", "--from-alembic")
    assert stamped.returncode == 0, stamped.stderr
    status = p.cli("status", "--format", "json")
    assert status.returncode == 0 and yaml.safe_load(status.stdout) == {"pending": []}
    # The next changeset applies normally; alembic_version is left as it was.
    p.write("h8", [{"add_column": {"table": "users", "column": {"name": "age",
                                                                  "type": "integer"}}}],
            parents=["g7"])
    applied = p.cli("apply")
    assert applied.returncode == 0, applied.stderr
    assert "age" in [c[0] for c in shape(url)["users"]["columns"]]
    assert rows(url, "SELECT version_num FROM alembic_version") == [("g7",)]


def test_stamp_then_apply_from_an_older_revision(tmp_path: Path, history: Path) -> None:
    head = f"sqlite:///{tmp_path / 'head.db'}"
    alembic_upgrade(history / "migrations", head)
    url = f"sqlite:///{tmp_path / 'old.db'}"
    alembic_upgrade(history / "migrations", url, "d4")
    p = make_project(tmp_path / "proj", url)
    assert p.cli("import", "alembic", str(history)).returncode == 1
    assert p.cli("stamp", "--from-alembic").returncode == 0
    pending = yaml.safe_load(p.cli("status", "--format", "json").stdout)["pending"]
    assert sorted(c["id"] for c in pending) == ["c3", "e5", "f6", "g7"]
    # f6's rows are filled in Python, left as a note: on a database with rows, running it
    # as nothing would leave them unfilled. Refused until a person decides.
    refused = p.cli("apply")
    assert refused.returncode == 1 and "SF016" in refused.stderr, refused.stderr
    assert p.accept_import_notes() == ["f6"]
    applied = p.cli("apply")
    assert applied.returncode == 0, applied.stderr
    assert shape(url) == shape(head)


def test_stamp_from_alembic_needs_the_imported_revisions(tmp_path: Path,
                                                         history: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    p = make_project(tmp_path / "proj", url)
    p.write("x1", [{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}])
    none = p.cli("stamp", "--from-alembic")
    assert none.returncode == 2 and "alembic_version" in none.stderr
    alembic_upgrade(history / "migrations", url, "a1")
    missing = p.cli("stamp", "--from-alembic")
    assert missing.returncode == 2
    assert "a1" in missing.stderr and "schemaflow import alembic" in missing.stderr


Revision = tuple[str, str | None, str]  # (revision, down_revision, the body of the file)


def _revision(root: Path, rev: str, down: str | None, body: str) -> None:
    (root / "migrations" / "versions" / f"{rev}.py").write_text(
        f'"""{rev}"""\nfrom alembic import op\nimport sqlalchemy as sa\n'
        f"revision = {rev!r}\ndown_revision = {down!r}\n{body}")


@pytest.mark.parametrize(("case", "expected"), [
    ("raises", "Alembic revision a1: upgrade() raised: "),
    ("missing", "zz"),
    ("cycle", "Cycle is detected in revisions"),
    ("syntax", "a1.py"),
    ("empty", "Alembic finds no revision there"),
])
def test_bad_histories_write_nothing(project: Project, tmp_path: Path, case: str,
                                     expected: str) -> None:
    root = tmp_path / "bad"
    root.mkdir()
    subprocess.run([sys.executable, "-m", "alembic", "init", "migrations"], cwd=root,
                   check=True, capture_output=True)
    ok = "def upgrade():\n    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))\n"
    bodies = {
        "raises": ("a1", None, "def upgrade():\n    raise RuntimeError('no way')\n"),
        "missing": ("a1", "zz", ok),
        "cycle": ("a1", "b1", ok),
        "syntax": ("a1", None, "def upgrade(:\n"),
    }
    rev, down, body = bodies.get(case, ("a1", None, ok))
    _revision(root, rev, down, body)
    if case == "empty":  # a revision in a subfolder, where Alembic does not look by default
        versions = root / "migrations" / "versions"
        (versions / "sub").mkdir()
        (versions / "a1.py").rename(versions / "sub" / "a1.py")
    if case == "cycle":
        _revision(root, "b1", "a1", ok)
    done = project.cli("import", "alembic", str(root / "alembic.ini"))
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
    assert list(project.changesets.iterdir()) == []


def _alembic_project(tmp_path: Path, revisions: Sequence[Revision]) -> Path:
    root = tmp_path / "hist"
    root.mkdir()
    subprocess.run([sys.executable, "-m", "alembic", "init", "migrations"], cwd=root,
                   check=True, capture_output=True)
    for rev, down, body in revisions:
        _revision(root, rev, down, body)
    return root / "alembic.ini"


def _listed(project: Project, ini: Path, rev: str) -> list[str]:
    """Import the history of `ini`, which leaves parts to a hand (exit 1, no traceback):
    the lines of the closing list about revision `rev`."""
    done = project.cli("import", "alembic", str(ini))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    return [line for line in done.stderr.splitlines() if line.startswith(f"  {rev}")]


def _imported(project: Project, rev: str) -> dict[str, Any]:
    """The document of the changeset imported from revision `rev`."""
    doc: dict[str, Any] = yaml.safe_load(
        next(project.changesets.glob(f"{rev}_*.yaml")).read_text())
    return doc


TWO = [("a1", None, "def upgrade():\n"
                    "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))\n"
                    "    op.add_column('t', sa.Column('c', sa.Text))\n"
                    "def downgrade():\n"
                    "    op.drop_column('t', sa.Column('c'))\n"  # JupyterHub's 4dc2d5a8c53c
                    "    op.drop_table('t')\n"),
       ("a2", "a1", "def upgrade():\n    op.add_column('t', sa.Column('d', sa.Integer))\n"
                    "def downgrade():\n    op.drop_column('t', 'd')\n")]


def test_an_argument_of_another_type_is_left_to_a_hand_listed_once(project: Project,
                                                                     tmp_path: Path) -> None:
    """A Column where Alembic documents a column's name (JupyterHub's history): a TODO note
    in the rollback and one finding, not a traceback after half the files were written."""
    done = project.cli("import", "alembic", str(_alembic_project(tmp_path, TWO)))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "1 part needs a hand" in done.stderr, done.stderr
    assert done.stderr.count("DropColumnOp was given what schemaflow cannot write") == 1
    assert len(list(project.changesets.glob("*.yaml"))) == 2
    first = _imported(project, "a1")
    assert "TODO(schemaflow import)" in first["rollback"][0]["sql"]["up"][0]
    assert first["rollback"][1] == {"drop_table": {"name": "t"}}


def test_a_file_that_cannot_be_written_leaves_none_of_the_import(project: Project,
                                                                 tmp_path: Path) -> None:
    (project.changesets / "a2_a2.yaml").mkdir()  # not a file, so not listed: not refused
    done = project.cli("import", "alembic", str(_alembic_project(tmp_path, TWO)))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "a2_a2.yaml exists already" in done.stderr, done.stderr
    assert [p.name for p in project.changesets.iterdir() if p.is_file()
            and p.suffix == ".yaml"] == []


def test_a_revision_asking_the_database_is_never_written_as_if_it_did_the_same_everywhere(
        project: Project, tmp_path: Path) -> None:
    """JupyterHub's revisions add a column only where the inspector finds the table: run on
    a scratch SQLite database, the branch is not taken, and the changeset was written empty
    (MLflow's revisions that branch on the database likewise kept SQLite's way), with
    nothing listed. It is now a note in the file and a listed part that needs a hand."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))\n"
                     "def downgrade():\n    op.drop_table('t')\n"),
        ("a2", "a1", "def upgrade():\n"
                     "    if 'legacy' in sa.inspect(op.get_bind().engine).get_table_names():\n"
                     "        op.add_column('legacy', sa.Column('note', sa.Unicode(100)))\n"
                     "def downgrade():\n    pass\n")])
    listed = _listed(project, ini, "a2")
    assert len(listed) == 1 and "upgrade() asks the database it runs on" in listed[0], listed
    assert "it did nothing there" in listed[0]
    a2 = _imported(project, "a2")
    assert "TODO(schemaflow import)" in a2["operations"][0]["sql"]["up"][0]


def test_a_step_that_did_not_fit_on_the_scratch_database_still_says_where_it_ran(
        project: Project, tmp_path: Path) -> None:
    """Dagster's 037: a revision that asks the inspector, then adds a primary-key column by
    batch on SQLite, by SQL on MySQL, by add_column elsewhere. Its scratch SQLite run's
    add_column does not fit (listed), and that finding stood for the note saying it ran on
    SQLite only: nothing told that the MySQL and PostgreSQL branches were never seen."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('kvs', sa.Column('key', sa.Text, nullable=False))\n"
                     "def downgrade():\n    op.drop_table('kvs')\n"),
        ("a2", "a1", "def upgrade():\n"
                     "    if 'kvs' not in sa.inspect(op.get_bind()).get_table_names():\n"
                     "        return\n"
                     "    if op.get_context().dialect.name == 'mysql':\n"
                     "        op.execute('ALTER TABLE kvs ADD COLUMN id BIGINT PRIMARY KEY "
                     "AUTO_INCREMENT')\n"
                     "    else:\n"
                     "        op.add_column('kvs', sa.Column('id', sa.BigInteger(), "
                     "primary_key=True))\n"
                     "def downgrade():\n    pass\n")])
    listed = _listed(project, ini, "a2")
    assert any("does not fit" in line for line in listed), listed
    (asks,) = [line for line in listed if "asks the database it runs on" in line]
    assert "the operations after this note are what it did there" in asks
    ops = _imported(project, "a2")["operations"]
    assert "asks the database" in ops[0]["sql"]["up"][0], ops


def test_a_revision_without_downgrade_is_not_rolled_back_by_the_automatic_inverse(
        project: Project, tmp_path: Path) -> None:
    """Keystone's revisions define no downgrade(): Alembic cannot downgrade past them. They
    were imported as if their downgrade were empty, and `rollback base` dropped every table
    by the automatic inverse. Now the rollback is a listed note, which rollback refuses,
    naming the file, before anything changes."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))\n")])
    listed = _listed(project, ini, "a1")
    assert any("has no downgrade(), so Alembic cannot downgrade past it" in line
               for line in listed), listed
    a1 = _imported(project, "a1")
    assert [next(iter(op)) for op in a1["operations"]] == ["create_table"]
    assert "TODO(schemaflow import)" in a1["rollback"][0]["sql"]["up"][0]
    assert project.cli("apply").returncode == 0
    done = project.cli("rollback", "base")
    assert done.returncode == 1 and "a1_" in done.stderr and "SF016" in done.stderr, done.stderr
    assert rows(project.url, "SELECT count(*) FROM sqlite_master WHERE name = 't'") == [(1,)]


def test_a_revision_that_reads_rows_and_branches_on_the_database_says_which_it_took(
        project: Project, tmp_path: Path) -> None:
    """A revision that reads rows cannot run offline, so it ran on the scratch SQLite
    database only, where its branch on the database's name took SQLite's way: the note
    about its rows was the only one, and nothing said that the index written for every
    database was SQLite's (MLflow's spans indexes were lost on PostgreSQL). The offline
    runs, as far as they went, did otherwise: that is said."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "                    sa.Column('a', sa.Integer), sa.Column('b', sa.Integer))\n"
                     "def downgrade():\n    op.drop_table('t')\n"),
        ("a2", "a1", "def upgrade():\n"
                     "    bind = op.get_bind()\n"
                     "    if bind.dialect.name == 'sqlite':\n"
                     "        op.create_index('ix_t_a', 't', ['a'])\n"
                     "    else:\n"
                     "        op.create_index('ix_t_b', 't', ['b'])\n"
                     "    bind.execute(sa.text('SELECT id FROM t')).fetchall()\n"
                     "def downgrade():\n    pass\n")])
    listed = _listed(project, ini, "a2")
    assert any("reads or writes rows" in line for line in listed), listed
    (asks,) = [line for line in listed if "asks the database it runs on" in line]
    assert "the operations after this note are what it did there" in asks
    ops = _imported(project, "a2")["operations"]
    assert "asks the database" in ops[0]["sql"]["up"][0]
    assert ops[1] == {"create_index": {"name": "ix_t_a", "table": "t", "columns": ["a"]}}


# MLflow's skill tables: a key with a collation on MySQL and MariaDB only.
MLFLOW_SKILLS = ("a1", None, "from sqlalchemy.dialects import mysql\n"
                 "def upgrade():\n"
                 "    op.create_table('t', sa.Column('k', sa.String(50).with_variant(\n"
                 "        mysql.VARCHAR(50, collation='utf8mb4_bin'), 'mysql'),\n"
                 "        primary_key=True))\n"
                 "def downgrade():\n    op.drop_table('t')\n")


@pytest.mark.parametrize("server", SERVERS)
def test_a_collation_on_one_database_is_a_collation_per_database(
        request: pytest.FixtureRequest, tmp_path: Path, server: str) -> None:
    """MLflow's skill tables were written as SQL per database, since the format had no
    collation per database: now a create_table whose key has `collation: {mysql:
    utf8mb4_bin}`, built as `alembic upgrade` builds it, its collation included."""
    ini = _alembic_project(tmp_path, [MLFLOW_SKILLS])
    url = (f"sqlite:///{tmp_path / 'alembic.db'}" if server == "sqlite"
           else request.getfixturevalue(SERVER_URLS[server]))
    alembic_upgrade(ini.parent / "migrations", url)
    expected, collations = shape(url), live_collations(url, server, "t")
    assert collations == {"k": "utf8mb4_bin" if server == "mysql" else None}
    if server == "sqlite":
        url = f"sqlite:///{tmp_path / 'schemaflow.db'}"
    else:
        drop_all(url)
    p = make_project(tmp_path / "proj", url)
    done = p.cli("import", "alembic", str(ini))
    assert done.returncode == 0, done.stdout + done.stderr
    imported = _imported(p, "a1")
    (op,) = imported["operations"]
    assert op["create_table"]["columns"][0]["collation"] == {"mysql": "utf8mb4_bin"}, op
    assert "rollback" not in imported
    applied = p.cli("apply")
    assert applied.returncode == 0, applied.stderr
    assert (shape(p.url), live_collations(p.url, server, "t")) == (expected, collations)
    back = p.cli("rollback", "base")
    assert back.returncode == 0, back.stderr
    assert set(shape(p.url)) == set()


def test_a_downgrade_of_a_table_created_as_sql_is_sql_too(project: Project,
                                                          tmp_path: Path) -> None:
    """(MLflow's skill tables, when a collation per database was SQL.) A table written as
    SQL per database, as one with an option the format lacks is: the downgrade kept
    `drop_table` of a table the replayed schema does not have, and the import's own
    changeset failed validate (SF101)."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('t', sa.Column('k', sa.String(50), primary_key=True),\n"
                     "                    mysql_ROW_FORMAT='DYNAMIC')\n"
                     "def downgrade():\n    op.drop_table('t')\n")])
    listed = _listed(project, ini, "a1")
    assert any("downgrade(): drop_table" in line and "SQL too" in line for line in listed)
    a1 = _imported(project, "a1")
    assert a1["rollback"] == [{"sql": {"up": "DROP TABLE t"}}]
    done = project.cli("validate")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_step_that_does_not_fit_stays_an_operation(project: Project, tmp_path: Path) -> None:
    """(From a review.) A step that does not fit the replayed schema for another reason (a
    constraint dropped by PostgreSQL's default name) stays the operation, so validate says
    what is wrong; only what an earlier step wrote as SQL makes a step SQL."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "                    sa.Column('e', sa.Integer, unique=True))\n"
                     "def downgrade():\n    op.drop_table('t')\n"),
        ("a2", "a1", "def upgrade():\n"
                     "    op.drop_constraint('t_e_key', 't', type_='unique')\n"
                     "def downgrade():\n    pass\n")])
    project.cli("import", "alembic", str(ini))
    assert next(iter(_imported(project, "a2")["operations"][0])) == "drop_constraint"
    done = project.cli("validate")
    assert done.returncode == 1 and "t_e_key" in done.stdout, done.stdout


def test_sql_that_mariadb_writes_otherwise_is_noted(project: Project,
                                                   tmp_path: Path) -> None:
    """MLflow drops a CHECK where the database is MySQL: Alembic writes DROP CHECK, and DROP
    CONSTRAINT on MariaDB (which a `mysql://` URL reaches as `mysql` too). The import wrote
    DROP CHECK scoped to mysql, which runs on MariaDB as well and fails there (1064)."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "                    sa.Column('a', sa.Integer),\n"
                     "                    sa.CheckConstraint('a > 0', name='ck_a'))\n"
                     "def downgrade():\n    op.drop_table('t')\n"),
        ("a2", "a1", "def upgrade():\n"
                     "    if op.get_bind().dialect.name == 'mysql':\n"
                     "        op.drop_constraint('ck_a', 't', type_='check')\n"
                     "def downgrade():\n    pass\n")])
    listed = _listed(project, ini, "a2")
    assert any("other SQL for MariaDB" in line and "DROP CONSTRAINT ck_a" in line
               for line in listed), listed
    ops = _imported(project, "a2")["operations"]
    assert ops[0]["sql"]["up"] == "ALTER TABLE t DROP CHECK ck_a"
    assert "other SQL for MariaDB" in ops[1]["sql"]["up"][0]
    assert ops[1]["sql"]["dialects"] == ["mysql"]


def test_an_index_a_sqlite_batch_keeps_is_noted(project: Project, tmp_path: Path) -> None:
    """MLflow retypes a column by dropping and adding it in one batch_alter_table: on
    SQLite the batch recreates the table with every index whose columns exist after it, so
    Alembic keeps the index on the column; the changeset drops it (as PostgreSQL's Alembic
    run does), and nothing said so."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "                    sa.Column('a', sa.Integer), sa.Column('c', sa.Integer))\n"
                     "    op.create_index('ix_t_a_c', 't', ['a', 'c'])\n"
                     "def downgrade():\n    op.drop_table('t')\n"),
        ("a2", "a1", "def upgrade():\n"
                     "    with op.batch_alter_table('t') as b:\n"
                     "        b.drop_column('c')\n"
                     "        b.add_column(sa.Column('c', sa.BigInteger))\n"
                     "def downgrade():\n    pass\n")])
    listed = _listed(project, ini, "a2")
    assert len(listed) == 1 and "keeps index ix_t_a_c on t(a, c)" in listed[0], listed


def test_a_type_change_with_its_own_check_is_left_to_a_hand(project: Project,
                                                             tmp_path: Path) -> None:
    """MLflow widens an enum (native_enum=False, create_constraint=True) and gives booleans
    their CHECK by alter_column: Alembic drops and adds the type's CHECK around the change.
    The type change alone kept the old CHECK (a KILLED run could not be stored), silently."""
    old = "sa.Enum('A', 'B', name='status', native_enum=False, create_constraint=True)"
    new = "sa.Enum('A', 'B', 'C', name='status', native_enum=False, create_constraint=True)"
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('runs', sa.Column('id', sa.Integer, primary_key=True),\n"
                     f"                    sa.Column('status', {old}),\n"
                     "                    sa.Column('nan', sa.Boolean))\n"
                     "def downgrade():\n    op.drop_table('runs')\n"),
        ("a2", "a1", "def upgrade():\n"
                     f"    op.alter_column('runs', 'status', type_={new}, existing_type={old})\n"
                     "    op.alter_column('runs', 'nan', "
                     "type_=sa.Boolean(create_constraint=True), nullable=False)\n"
                     "def downgrade():\n    pass\n")])
    listed = _listed(project, ini, "a2")
    assert [line.split(": ")[1] for line in listed] == ["column runs.status",
                                                        "column runs.nan"], listed
    assert all("CHECK constraint of the type's own" in line for line in listed)
    a2 = _imported(project, "a2")
    assert not any("alter_column" in op for op in a2["operations"]), a2["operations"]


def test_a_text_key_with_its_ordering_becomes_an_ordered_column(project: Project,
                                                                 tmp_path: Path) -> None:
    """MLflow's `op.create_index(..., [sa.text("version_major DESC")])`: written as the
    expression `version_major DESC`, which validate passed and apply failed on."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('v', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "                    sa.Column('major', sa.Integer))\n"
                     "    op.create_index('ix_v', 'v', ['id', sa.text('major DESC'),\n"
                     "                                  sa.text('lower(major)')])\n"
                     "def downgrade():\n    op.drop_table('v')\n")])
    done = project.cli("import", "alembic", str(ini))
    assert done.returncode == 0, done.stderr
    assert "imported 1 Alembic revision into" in done.stderr, done.stderr
    a1 = _imported(project, "a1")
    assert a1["operations"][1]["create_index"]["columns"] == [
        "id", {"name": "major", "order": "desc"}, {"expression": "lower(major)"}]
    assert project.cli("apply").returncode == 0


def test_a_revision_reading_its_config_with_an_autocommit_block(project: Project,
                                                                tmp_path: Path) -> None:
    """ckan's revisions read `op.get_context().config` (it was None: an AttributeError, and
    nothing imported); an `autocommit_block()` (prefect's) was written as `sql: COMMIT` and
    `sql: BEGIN` steps, committing half a changeset: it is a note to make the statements a
    changeset of their own with `transactional: false`, listed once."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.get_context().config.get_main_option('script_location')\n"
                     "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))\n"
                     "    with op.get_context().autocommit_block():\n"
                     "        op.execute('CREATE INDEX ix_t_id ON t (id)')\n"
                     "def downgrade():\n    op.drop_table('t')\n")])
    listed = _listed(project, ini, "a1")
    assert len(listed) == 1 and "autocommit_block()" in listed[0], listed
    text = next(project.changesets.glob("a1_*.yaml")).read_text()
    assert "COMMIT" not in text and "BEGIN" not in text, text


def test_an_autocommit_block_in_a_revision_that_asks_the_database(project: Project,
                                                                  tmp_path: Path) -> None:
    """Run on the scratch database (it reads rows), an `autocommit_block()` failed with a
    bare AssertionError: the context knew of no transaction to commit."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))\n"
                     "    with op.get_context().autocommit_block():\n"
                     "        op.get_bind().execute(sa.text('SELECT count(*) FROM t')).fetchall()\n"
                     "def downgrade():\n    op.drop_table('t')\n")])
    done = project.cli("import", "alembic", str(ini))
    assert done.returncode == 1, done.stderr
    assert "AssertionError" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert _imported(project, "a1")["operations"][0]["create_table"]["name"] == "t"


def test_a_use_alter_foreign_key_is_left_out_as_alembic_leaves_it_out(project: Project,
                                                                      tmp_path: Path) -> None:
    """prefect's first revisions: a foreign key with use_alter=True, which Alembic's CREATE
    TABLE leaves out on PostgreSQL and MySQL, was written into create_table (a key Alembic
    never built, and SF101 where it named a later table). It is left out, with a note."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('child', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "        sa.Column('parent_id', sa.Integer),\n"
                     "        sa.ForeignKeyConstraint(['parent_id'], ['parent.id'],\n"
                     "                                use_alter=True))\n"
                     "    op.create_table('parent',\n"
                     "                    sa.Column('id', sa.Integer, primary_key=True))\n"
                     "def downgrade():\n"
                     "    op.drop_table('parent')\n    op.drop_table('child')\n")])
    listed = _listed(project, ini, "a1")
    assert len(listed) == 1 and "use_alter=True" in listed[0], listed
    ops = _imported(project, "a1")["operations"]
    assert "foreign_keys" not in ops[0]["create_table"], ops[0]
    # (SQLite builds it: the note is a decision apply leaves to a person, SF016)
    done = project.cli("validate")
    assert done.returncode == 0 and "warning SF016" in done.stdout, done.stdout
    assert project.cli("apply").returncode == 1
    assert project.accept_import_notes() == ["a1"]
    done = project.cli("apply")
    assert done.returncode == 0, (done.stdout, done.stderr)


def test_a_boolean_server_default_of_0_is_false(project: Project, tmp_path: Path) -> None:
    """MLflow's `sa.Boolean(), server_default="0"` in create_table, add_column and
    alter_column: written as '0', which validate refused (SF120)."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "                    sa.Column('x', sa.Boolean(), server_default='1'))\n"
                     "    op.add_column('t', sa.Column('b', sa.Boolean(), server_default='0',\n"
                     "                                 nullable=False))\n"
                     "    op.alter_column('t', 'x', server_default='0')\n"
                     "def downgrade():\n    op.drop_table('t')\n")])
    assert project.cli("import", "alembic", str(ini)).returncode == 0
    ops = _imported(project, "a1")["operations"]
    assert ops[0]["create_table"]["columns"][1]["default"] is True
    assert ops[1]["add_column"]["column"]["default"] is False
    assert ops[2]["alter_column"]["default"] is False
    done = project.cli("validate")
    assert done.returncode == 0, done.stdout + done.stderr


MODIFY_ON_MYSQL = [
    ("a1", None, "def upgrade():\n"
                 "    op.create_table('item', sa.Column('id', sa.Integer, primary_key=True),\n"
                 "        sa.Column('code', sa.String(10), nullable=False),\n"
                 "        sa.Column('label', sa.String(20), nullable=False, server_default='x'),\n"
                 "        sa.Column('note', sa.String(5), server_default='n'))\n"
                 "def downgrade():\n    op.drop_table('item')\n"),
    ("a2", "a1", "def upgrade():\n"
                 "    op.alter_column('item', 'code', nullable=False,\n"
                 "                    existing_type=sa.String(255))\n"
                 "    op.alter_column('item', 'label', new_column_name='title',\n"
                 "                    existing_type=sa.String(20))\n"
                 "    op.alter_column('item', 'note', type_=sa.String(8),\n"
                 "                    existing_type=sa.String(5))\n"
                 "def downgrade():\n"
                 "    op.alter_column('item', 'note', type_=sa.String(5),\n"
                 "                    existing_type=sa.String(8), server_default='n')\n"
                 "    op.alter_column('item', 'title', new_column_name='label',\n"
                 "        existing_type=sa.String(20), nullable=False, server_default='x')\n"
                 "    op.alter_column('item', 'code', type_=sa.String(10),\n"
                 "                    existing_type=sa.String(255), nullable=False)\n"),
]


def _columns(url: str, table: str) -> dict[str, tuple[str, bool, Any]]:
    """name → (type, nullable, default) of each column, as the database's catalog has them."""
    if url.startswith("sqlite"):
        return {r[1]: (r[2].upper(), not r[3], r[4])
                for r in rows(url, f"PRAGMA table_info({table})")}
    if url.startswith("postgresql"):
        query = ("SELECT column_name, upper(data_type) || coalesce('(' || "
                 "character_maximum_length || ')', ''), is_nullable, column_default FROM "
                 f"information_schema.columns WHERE table_name = '{table}'")
    else:
        query = ("SELECT column_name, upper(column_type), is_nullable, column_default FROM "
                 "information_schema.columns WHERE table_schema = database() AND "
                 f"table_name = '{table}'")
    # (MariaDB shows no default as 'NULL', MySQL as NULL.)
    return {r[0]: (r[1], r[2] == "YES", None if r[3] == "NULL" else r[3])
            for r in rows(url, query)}


@pytest.mark.parametrize("server", SERVERS)
def test_an_alter_column_builds_on_mysql_what_alembic_builds_there(
        request: pytest.FixtureRequest, tmp_path: Path, server: str) -> None:
    """On MySQL and MariaDB, Alembic's alter_column is a MODIFY / CHANGE restating the whole
    column from `existing_type`, `existing_nullable` (left out: NULL) and
    `existing_server_default` (left out: no default): octavia's "Make pool.lb_algorithm
    larger" (nullable=False, existing_type=String(255)) makes it larger there. The import
    wrote only what the call asks, silently: varchar(10), and a renamed column that kept
    NOT NULL and its default. PostgreSQL builds what the call asks, as before."""
    url = (f"sqlite:///{tmp_path / 'schemaflow.db'}" if server == "sqlite"
           else request.getfixturevalue(SERVER_URLS[server]))
    ini = _alembic_project(tmp_path, MODIFY_ON_MYSQL)
    expected = None
    if server != "sqlite":  # (Alembic's alter_column needs batch mode on SQLite)
        alembic_upgrade(ini.parent / "migrations", url)
        expected = shape(url), _columns(url, "item")
        drop_all(url)
    p = make_project(tmp_path / "proj", url)
    done = p.cli("import", "alembic", str(ini))
    assert done.returncode == 0, done.stderr
    valid = p.cli("validate")
    assert valid.returncode == 0, valid.stdout + valid.stderr
    applied = p.cli("apply")
    assert applied.returncode == 0, applied.stderr
    built = _columns(url, "item")
    if server == "mysql":
        assert built["code"] == ("VARCHAR(255)", False, None), built
        assert built["title"] == ("VARCHAR(20)", True, None), built
        assert built["note"] == ("VARCHAR(8)", True, None), built
    else:  # what the call asks
        assert built["code"][:2] == ("VARCHAR(10)" if server == "sqlite"
                                     else "CHARACTER VARYING(10)", False), built
        assert built["title"][1] is False and "x" in str(built["title"][2]), built
        assert built["note"][1] is True and "n" in str(built["note"][2]), built
    if expected is not None:
        assert (shape(url), built) == expected
    # The downgrade (a rollback of its own, as it differs) builds what a1 built.
    back = p.cli("rollback", "a1")
    assert back.returncode == 0, back.stderr
    before = _columns(url, "item")
    assert before["code"][:2] in (("VARCHAR(10)", False), ("CHARACTER VARYING(10)", False))
    assert before["label"][1] is False and "x" in str(before["label"][2]), before


def test_a_boolean_default_neither_true_nor_false_is_left_to_a_hand(project: Project,
                                                                     tmp_path: Path) -> None:
    """`server_default="yes"` on a boolean column was written as the text 'yes', which
    validate refuses (SF120) after an import that exited 0: left out, with a listed note."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "                    sa.Column('a', sa.Boolean, server_default='yes'))\n"
                     "    op.alter_column('t', 'a', server_default='on',\n"
                     "                    existing_type=sa.Boolean)\n"
                     "def downgrade():\n    op.drop_table('t')\n")])
    listed = _listed(project, ini, "a1")
    assert [line.split(": ", 1)[1] for line in listed] == [
        "column t.a: the boolean default 'yes' means neither true nor false on every "
        "database; it is left out: set it by hand",
        "column t.a: the boolean default 'on' means neither true nor false on every "
        "database; it is left out: set it by hand"], listed
    ops = _imported(project, "a1")["operations"]
    assert "default" not in ops[0]["create_table"]["columns"][1], ops
    assert not any("alter_column" in o for o in ops), ops
    done = project.cli("validate")
    assert done.returncode == 0, done.stdout + done.stderr


BOOLEAN_DEFAULTS = [
    ("a1", None, "def upgrade():\n"
                 "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True),\n"
                 "        sa.Column('c1', sa.Boolean, server_default='true'),\n"
                 "        sa.Column('c2', sa.Boolean, server_default='FALSE'),\n"
                 "        sa.Column('c3', sa.Boolean, server_default=sa.literal(True)),\n"
                 "        *(sa.Column(f'a{i}', sa.Boolean) for i in range(1, 7)))\n"
                 "    op.add_column('t', sa.Column('d1', sa.Boolean, server_default='true'))\n"
                 "    op.add_column('t', sa.Column('d2', sa.Boolean, server_default='false',\n"
                 "                                 nullable=False))\n"
                 "def downgrade():\n    op.drop_table('t')\n"),
    ("a2", "a1", "def upgrade():\n"
                 "    op.alter_column('t', 'a1', server_default=sa.true())\n"
                 "    op.alter_column('t', 'a2', server_default=sa.false())\n"
                 "    op.alter_column('t', 'a3', server_default=sa.text('1'))\n"
                 "    op.alter_column('t', 'a4', server_default='true')\n"
                 "    op.alter_column('t', 'a5', server_default=sa.literal(True))\n"
                 "    op.alter_column('t', 'a6', server_default=sa.text(\"'0'\"),\n"
                 "                    existing_type=sa.Boolean)\n"
                 "def downgrade():\n"
                 "    for c in ('a1', 'a2', 'a3', 'a4', 'a5', 'a6'):\n"
                 "        op.alter_column('t', c, server_default=None)\n"),
]


@pytest.mark.parametrize("server", OPTUNA_SERVERS)
def test_boolean_server_defaults_become_true_and_false(request: pytest.FixtureRequest,
                                                       tmp_path: Path, server: str) -> None:
    """octavia's b8bd389cbae7: `server_default=sa.true()`, `sa.false()`, `sa.text("1")`,
    `"true"`, `sa.literal(True)` in alter_column were written as `default: 1` / `0` /
    `'true'`, and `"true"` in create_table and add_column as `'true'` (`sa.literal(True)`
    as `default_sql: ':param_1'`): validate refused them (SF120) after an import that exited
    0. They are `default: true` / `false`, which each database builds as its own boolean."""
    url = (f"sqlite:///{tmp_path / 'schemaflow.db'}" if server == "sqlite"
           else request.getfixturevalue(SERVER_URLS[server]))
    p = make_project(tmp_path / "proj", url)
    done = p.cli("import", "alembic", str(_alembic_project(tmp_path, BOOLEAN_DEFAULTS)))
    assert done.returncode == 0, done.stderr
    a1, a2 = _imported(p, "a1"), _imported(p, "a2")
    made = {c["name"]: c.get("default") for c in a1["operations"][0]["create_table"]["columns"]}
    assert (made["c1"], made["c2"], made["c3"]) == (True, False, True), made
    assert [o["add_column"]["column"]["default"] for o in a1["operations"][1:]] == [True, False]
    assert [o["alter_column"].get("default") for o in a2["operations"]] == [
        True, False, True, True, True, False], a2["operations"]
    valid = p.cli("validate")
    assert valid.returncode == 0, valid.stdout + valid.stderr
    applied = p.cli("apply")
    assert applied.returncode == 0, applied.stderr
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:  # every boolean column from its default
        conn.exec_driver_sql("INSERT INTO t (id) VALUES (1)")
    engine.dispose()
    names = ["c1", "c2", "c3", "d1", "d2", "a1", "a2", "a3", "a4", "a5", "a6"]
    got = rows(url, f"SELECT {', '.join(names)} FROM t")
    assert [bool(v) if v is not None else None for v in got[0]] == [
        True, False, True, True, False, True, False, True, True, True, False], got
    back = p.cli("rollback", "base")
    assert back.returncode == 0, back.stderr


def test_a_script_directory_with_its_own_ini_and_a_history_that_starts_elsewhere(
        project: Project, tmp_path: Path) -> None:
    """MLflow's db_migrations: an alembic.ini inside the script directory, whose
    script_location is relative to where MLflow runs it; and a first revision that alters a
    table made by metadata.create_all() (JupyterHub's history too)."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.get_bind().execute(sa.text('SELECT user_id FROM runs')).fetchall()\n"
                     "def downgrade():\n    pass\n")])
    scripts = ini.parent / "migrations"
    (scripts / "alembic.ini").write_text("[alembic]\nscript_location = store/migrations\n")
    done = project.cli("import", "alembic", str(scripts))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "Alembic revision a1: upgrade() raised" in done.stderr, done.stderr
    assert "the history does not build its schema from an empty database" in done.stderr
    assert list(project.changesets.glob("*.yaml")) == []


def test_an_alter_column_to_a_type_with_variants_keeps_them(project: Project,
                                                            tmp_path: Path) -> None:
    """MLflow's experiment_tags.value: Text with a MEDIUMTEXT variant on MySQL (and one for
    MSSQL, which schemaflow does not run on), as a model's column type is read; it was a
    TODO note naming no database."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "from sqlalchemy.dialects import mysql\n"
                     "def upgrade():\n"
                     "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "                    sa.Column('v', sa.String(5000)))\n"
                     "    op.alter_column('t', 'v', existing_type=sa.String(5000),\n"
                     "                    type_=sa.Text()\n"
                     "                    .with_variant(mysql.MEDIUMTEXT(), 'mysql')\n"
                     "                    .with_variant(sa.NVARCHAR(), 'mssql'))\n"
                     "def downgrade():\n    op.drop_table('t')\n")])
    done = project.cli("import", "alembic", str(ini))
    assert done.returncode == 0, done.stderr
    ops = _imported(project, "a1")["operations"]
    assert ops[1] == {"alter_column": {"table": "t", "name": "v", "type": "text",
                                       "variants": {"mysql": "mysql.mediumtext"}}}, ops
    assert project.cli("apply").returncode == 0


def test_import_refuses_a_folder_with_changesets(project: Project, history: Path) -> None:
    project.write("x1", [{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}])
    done = project.cli("import", "alembic", str(history))
    assert done.returncode == 2 and "already holds changesets" in done.stderr
    assert len(list(project.changesets.iterdir())) == 1
    next(project.changesets.iterdir()).unlink()
    nothing = project.cli("import", "alembic", str(project.root / "nowhere"))
    assert nothing.returncode == 2 and "no such file" in nothing.stderr


# --- a real history from PyPI: optuna ships its Alembic migrations inside the package ----


def _optuna_scripts() -> Path:
    optuna = pytest.importorskip("optuna")
    return Path(os.path.dirname(optuna.__file__)) / "storages" / "_rdb" / "alembic"


OPTUNA_DATA_MIGRATIONS = {"v1.3.0.a", "v2.4.0.a", "v3.0.0.a", "v3.0.0.b", "v3.0.0.c",
                          "v3.0.0.d"}


@pytest.mark.parametrize("server", OPTUNA_SERVERS)
def test_optuna_history(request: pytest.FixtureRequest, tmp_path: Path, server: str) -> None:
    scripts = _optuna_scripts()
    expected, p = _anchored(request, tmp_path, server, scripts, "head")
    assert "trial_intermediate_values" in expected
    done = p.cli("import", "alembic", str(scripts))
    assert done.returncode == 1, done.stderr
    listed = {line.split()[0] for line in done.stderr.splitlines() if line.startswith("  ")}
    assert listed == OPTUNA_DATA_MIGRATIONS, done.stderr
    assert len(list(p.changesets.iterdir())) == 10
    valid = p.cli("validate")
    assert valid.returncode == 0, valid.stdout + valid.stderr
    # Its data migrations are notes: refused until a person decides (on an empty database,
    # as here, that they need nothing).
    assert p.cli("apply").returncode == 1 and shape(p.url) == {}
    assert set(p.accept_import_notes()) == {r.replace(".", "_") for r in OPTUNA_DATA_MIGRATIONS}
    # v1.2.0.a added a value to an enum; PostgreSQL cannot remove one (Alembic's downgrade
    # leaves it there): schemaflow's rollback replaces the type.
    _builds_then_unbuilds(p, expected)


def test_pyproject_and_script_directory(project: Project, tmp_path: Path) -> None:
    root = build(tmp_path / "app").parent
    (root / "alembic.ini").unlink()
    (root / "pyproject.toml").write_text(
        '[tool.alembic]\nscript_location = "%(here)s/migrations"\n')
    done = project.cli("import", "alembic", str(root))  # finds pyproject.toml there
    assert done.returncode == 1 and "imported 7 Alembic revisions" in done.stderr, done.stderr
    for f in project.changesets.iterdir():
        f.unlink()
    by_dir = project.cli("import", "alembic", str(root / "migrations"))
    assert by_dir.returncode == 1 and "imported 7 Alembic revisions" in by_dir.stderr


def test_without_alembic_installed(project: Project, tmp_path: Path, history: Path) -> None:
    shadow = tmp_path / "shadow" / "alembic"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('no alembic here')\n")
    path = os.pathsep.join([str(shadow.parent), os.environ.get("PYTHONPATH", "")])
    done = project.cli("import", "alembic", str(history), env={"PYTHONPATH": path})
    assert done.returncode == 2
    assert "needs Alembic installed" in done.stderr and "schemaflow[alembic]" in done.stderr
    assert list(project.changesets.iterdir()) == []


CUSTOM = '''from alembic import context
from alembic.operations import MigrateOperation, Operations


@Operations.register_operation("create_sequence")
class CreateSequenceOp(MigrateOperation):
    def __init__(self, name):
        self.name = name

    @classmethod
    def create_sequence(cls, operations, name):
        return operations.invoke(cls(name))


@Operations.implementation_for(CreateSequenceOp)
def create_sequence(operations, operation):
    operations.execute("CREATE SEQUENCE %s" % operation.name)


def upgrade():
    op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))
    if context.get_context().dialect.name == "postgresql":
        op.create_sequence("seq_t")
    op.add_column("t", sa.Column("parent", sa.Integer, sa.ForeignKey("t.id"), index=True))


def downgrade():
    op.drop_table("t")
'''


def test_custom_operation_and_context_dialect(project: Project, tmp_path: Path) -> None:
    root = tmp_path / "custom"
    root.mkdir()
    subprocess.run([sys.executable, "-m", "alembic", "init", "migrations"], cwd=root,
                   check=True, capture_output=True)
    _revision(root, "x1", None, CUSTOM)
    done = project.cli("import", "alembic", str(root))
    assert done.returncode == 1
    assert "x1 (migrations/versions/x1.py) upgrade(): the operation CreateSequenceOp is not " \
        "one of Alembic's own; written as the SQL Alembic generates" in done.stderr
    doc = yaml.safe_load(next(project.changesets.iterdir()).read_text())
    assert [next(iter(o)) for o in doc["operations"]] == [
        "create_table", "sql", "add_column", "create_index", "create_foreign_key"]
    assert doc["operations"][1]["sql"] == {"up": "CREATE SEQUENCE seq_t",
                                           "dialects": ["postgresql"]}
    # The sequence has no automatic inverse: Alembic's downgrade is the rollback.
    assert doc["rollback"] == [{"drop_table": {"name": "t"}}]


def test_drop_index_without_a_table_is_found_in_its_table_or_refused_when_ambiguous() -> None:
    """Alembic's `op.drop_index(name)` names no table: the importer finds the one table with
    that index; where index names are per table (MySQL, MariaDB) and several have it, it says
    which, instead of guessing."""
    from alembic.operations import ops as aops

    from schemaflow import ir
    from schemaflow.importers.alembic_columns import Opaque
    from schemaflow.importers.alembic_ops import translate
    from schemaflow.ir import parse_operation
    from schemaflow.state import SchemaState, apply_all

    def table(name: str) -> ir.Operation:
        return parse_operation({"create_table": {"name": name, "columns": [
            {"name": "parent_id", "type": "integer"}],
            "indexes": [{"name": "parent_id", "columns": ["parent_id"]}]}})

    one = apply_all(SchemaState(), [table("shelf")])
    assert translate(aops.DropIndexOp("parent_id"), one, None) == [
        ir.DropIndex(name="parent_id", table="shelf")]
    two = apply_all(one, [table("box")])
    with pytest.raises(Opaque, match="the tables box and shelf each have an index of that name"):
        translate(aops.DropIndexOp("parent_id"), two, None)
    with pytest.raises(Opaque, match="no table has it"):
        translate(aops.DropIndexOp("ix_gone"), two, None)


def _cut_at_a_word(shown: str, full: str) -> bool:
    """Whether `shown` is `full`, or `full` cut at a word boundary with an ellipsis."""
    if shown == full:
        return True
    kept = shown.removesuffix("...")
    return kept != shown and full.startswith(kept) and full[len(kept)] == " "


def test_notes_are_cut_at_a_word_with_an_ellipsis_or_not_at_all(project: Project,
                                                                 tmp_path: Path) -> None:
    """The closing list and the notes cut a statement Python ran on rows at 120 characters
    and the error of a revision that asks the database at 160, mid-word (`...MockConnection`
    without its `'>`, the absolute path of the revision file taking most of it)."""
    select = ("SELECT id FROM t WHERE description_of_the_thing = 'something rather long here' "
              "AND another_long_column_name = 'xyzzy' AND identifier_of_the_row > 12345678")
    assert select[119] not in " '"  # (120 characters end inside a word)
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "        *(sa.Column(c, sa.Text) for c in ('description_of_the_thing',\n"
                     "          'another_long_column_name', 'identifier_of_the_row')))\n"
                     f"    op.get_bind().execute(sa.text({select!r})).fetchall()\n"
                     "def downgrade():\n    op.drop_table('t')\n"),
        ("a2", "a1", "def upgrade():\n"
                     "    if 'legacy' in sa.inspect(op.get_bind().engine).get_table_names():\n"
                     "        op.add_column('legacy', sa.Column('note', sa.Unicode(100)))\n"
                     "def downgrade():\n    pass\n")])
    rows_read = _listed(project, ini, "a1")
    assert len(rows_read) == 1, rows_read
    shown = rows_read[0].split("reads or writes rows: ", 1)[1]
    assert shown.endswith("...") and _cut_at_a_word(shown, select), shown
    assert shown in " ".join(_imported(project, "a1")["operations"][1]["sql"]["up"][0].split())
    for f in project.changesets.iterdir():
        f.unlink()
    asks = _listed(project, ini, "a2")
    assert len(asks) == 1, asks
    reason = asks[0].split("asks the database it runs on (", 1)[1].split("), so it ran", 1)[0]
    full = ("migrations/versions/a2.py:7: NoInspectionAvailable: No inspection system is "
            "available for object of type <class 'sqlalchemy.engine.mock.MockConnection'>")
    assert _cut_at_a_word(reason, full), reason


def test_a_refused_column_is_listed_once(project: Project, tmp_path: Path) -> None:
    """A column type schemaflow refuses, for which Alembic writes SQL offline on one database
    only (MySQL's SET): listed twice, once as a note and once as written as SQL. It is one
    line saying which database has the SQL and which the note."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "from sqlalchemy.dialects import mysql\n"
                     "def upgrade():\n"
                     "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))\n"
                     "    op.add_column('t', sa.Column('s', mysql.SET('a', 'b')))\n"
                     "def downgrade():\n    op.drop_table('t')\n")])
    listed = _listed(project, ini, "a1")
    assert len(listed) == 1, listed
    assert "column t.s: the type SET('a', 'b')" in listed[0], listed
    assert listed[0].endswith("written as the SQL Alembic generates for mysql, as a note on "
                              "postgresql and sqlite (Alembic writes no SQL for it there)")
    ops = _imported(project, "a1")["operations"]
    assert ops[1]["sql"] == {"up": "ALTER TABLE t ADD COLUMN s SET('a','b')",
                             "dialects": ["mysql"]}, ops
    assert ops[2]["sql"]["dialects"] == ["postgresql", "sqlite"], ops
    assert "TODO(schemaflow import)" in ops[2]["sql"]["up"][0], ops


ENUMS = [
    ("a1", None, "def upgrade():\n"
                 "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True),\n"
                 "                    sa.Column('s', sa.Enum('a', 'b', name='status')))\n"
                 "    op.create_table('u', sa.Column('id', sa.Integer, primary_key=True),\n"
                 "                    sa.Column('k', sa.Enum('x', 'y', name='kind')))\n"
                 "    if op.get_bind().dialect.name == 'postgresql':\n"
                 "        op.execute(\"CREATE TYPE mood AS ENUM ('sad', 'happy')\")\n"
                 "def downgrade():\n"
                 "    op.drop_table('t')\n"
                 "    op.drop_table('u')\n"
                 "    sa.Enum(name='status').drop(op.get_bind())\n"
                 "    if op.get_bind().dialect.name == 'postgresql':\n"
                 "        op.execute('DROP TYPE kind, mood')\n"),
    ("a2", "a1", "def upgrade():\n"
                 "    op.drop_table('u')\n"
                 "    op.execute('DROP TYPE kind')\n"
                 "def downgrade():\n"
                 "    op.create_table('u', sa.Column('id', sa.Integer, primary_key=True),\n"
                 "                    sa.Column('k', sa.Enum('x', 'y', name='kind')))\n"),
]


@pytest.mark.postgresql
def test_a_type_dropped_by_hand_after_its_table_is_dropped_once(pg_url: str,
                                                                tmp_path: Path) -> None:
    """A revision drops a table with an enum column, then its type by hand (Alembic's
    drop_table leaves the type): schemaflow drops the type with the table, and the imported
    `DROP TYPE` failed the rollback (and the apply) on PostgreSQL: `type "status" does not
    exist`. A type schemaflow does not drop (made by SQL) is still dropped."""
    p = make_project(tmp_path / "proj", pg_url)
    done = p.cli("import", "alembic", str(_alembic_project(tmp_path, ENUMS)))
    assert done.returncode == 0, done.stderr
    a1, a2 = _imported(p, "a1"), _imported(p, "a2")
    assert a1["rollback"] == [
        {"drop_table": {"name": "t"}}, {"drop_table": {"name": "u"}},
        {"sql": {"up": "DROP TYPE mood", "dialects": ["postgresql"]}}], a1["rollback"]
    assert a2["operations"] == [{"drop_table": {"name": "u"}}], a2["operations"]
    _enum_types_come_and_go(p, pg_url, ["mood", "status"])


def _enum_types_come_and_go(p: Project, url: str, made: list[str]) -> None:
    """Apply makes exactly the enum types `made`, and a rollback to base drops them all."""
    types = "SELECT typname FROM pg_type WHERE typtype = 'e' ORDER BY typname"
    applied = p.cli("apply")
    assert applied.returncode == 0, applied.stderr
    assert rows(url, types) == [(name,) for name in made]
    back = p.cli("rollback", "base")
    assert back.returncode == 0, back.stderr
    assert rows(url, types) == []


MADE_BY_HAND = [
    ("a1", None, "def upgrade():\n"
                 "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))\n"
                 "def downgrade():\n    op.drop_table('t')\n"),
    ("a2", "a1", "from sqlalchemy.dialects import postgresql\n"
                 "def upgrade():\n"
                 "    op.execute(\"CREATE TYPE t_kind AS ENUM ('X', 'Y')\")\n"
                 "    op.execute(\"CREATE TYPE other AS ENUM ('p', 'q')\")\n"
                 "    op.add_column('t', sa.Column('kind', postgresql.ENUM(\n"
                 "        'X', 'Y', name='t_kind', create_type=False)))\n"
                 "def downgrade():\n"
                 "    op.drop_column('t', 'kind')\n"
                 "    op.execute('DROP TYPE t_kind')\n"
                 "    op.execute('DROP TYPE other')\n"),
]


@pytest.mark.postgresql
def test_a_type_made_by_hand_for_a_column_is_made_once(pg_url: str, tmp_path: Path) -> None:
    """Prefect's revision 7ae9e431e67a: `CREATE TYPE ... AS ENUM` by hand, then a column of
    that type with create_type=False. schemaflow's column makes its type, so the imported
    CREATE TYPE ran twice: `type "t_kind" already exists`. A type no column makes (other)
    is still made by its SQL, and both are gone after the rollback."""
    p = make_project(tmp_path / "proj", pg_url)
    done = p.cli("import", "alembic", str(_alembic_project(tmp_path, MADE_BY_HAND)))
    assert done.returncode == 0, done.stderr
    ops = _imported(p, "a2")["operations"]
    assert ops[0] == {"sql": {"up": "CREATE TYPE other AS ENUM ('p', 'q')"}}, ops
    assert list(ops[1]) == ["add_column"], ops
    _enum_types_come_and_go(p, pg_url, ["other", "t_kind"])


def _refused(url: str, statement: str) -> bool:
    """Whether the database refuses `statement` as breaking a constraint (rolled back)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            tx = conn.begin()
            try:
                conn.exec_driver_sql(statement)
            except sa.exc.IntegrityError:
                return True
            finally:
                tx.rollback()
            return False
    finally:
        engine.dispose()


COLUMN_CHECKS = [
    ("a1", None, "def upgrade():\n"
                 "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True),\n"
                 "                    sa.Column('a', sa.Integer, sa.CheckConstraint('a > 0')))\n"
                 "def downgrade():\n    op.drop_table('t')\n"),
    ("a2", "a1", "def upgrade():\n"
                 "    op.add_column('t', sa.Column('c', sa.Integer, sa.CheckConstraint('c > 0')))\n"
                 "    op.add_column('t', sa.Column(\n"
                 "        'd', sa.Integer, sa.CheckConstraint('d < 10', name='ck_small')))\n"
                 "def downgrade():\n    op.drop_column('t', 'd')\n    op.drop_column('t', 'c')\n"),
]


@pytest.mark.parametrize("server", OPTUNA_SERVERS)
def test_a_check_given_on_a_column_is_built(request: pytest.FixtureRequest, tmp_path: Path,
                                            server: str) -> None:
    """`op.add_column('t', sa.Column('c', sa.Integer, sa.CheckConstraint('c > 0')))`: Alembic
    writes `ADD COLUMN c INTEGER CHECK (c > 0)`, and the import wrote the column alone, with
    nothing listed (SQLAlchemy keeps such a CHECK on the column, where the reading of the
    table never looked); a create_table's column lost it too."""
    ini = _alembic_project(tmp_path, COLUMN_CHECKS)
    expected, p = _anchored(request, tmp_path, server, ini.parent / "migrations")
    assert expected["t"]["checks"] == 3, expected
    done = p.cli("import", "alembic", str(ini))
    assert done.returncode == 0, done.stderr
    a1, a2 = _imported(p, "a1"), _imported(p, "a2")
    assert [c["expression"] for c in a1["operations"][0]["create_table"]["checks"]] == ["a > 0"]
    assert [next(iter(o)) for o in a2["operations"]] == [
        "add_column", "create_check_constraint", "add_column", "create_check_constraint"]
    assert a2["operations"][1]["create_check_constraint"]["expression"] == "c > 0"
    assert a2["operations"][3]["create_check_constraint"] == {
        "name": "ck_small", "table": "t", "expression": "d < 10"}
    applied = p.cli("apply")
    assert applied.returncode == 0, applied.stderr
    assert shape(p.url) == expected
    # The database refuses what each CHECK refuses, and takes a row that keeps to them.
    for bad in ("a", "c"):
        assert _refused(p.url, f"INSERT INTO t (id, {bad}) VALUES (1, -1)"), bad
    assert _refused(p.url, "INSERT INTO t (id, d) VALUES (1, 10)")
    assert not _refused(p.url, "INSERT INTO t (id, a, c, d) VALUES (1, 1, 1, 9)")
    if server == "postgresql":
        names = rows(p.url, "SELECT conname FROM pg_constraint WHERE contype = 'c' "
                          "AND conrelid = 't'::regclass ORDER BY conname")
        assert ("ck_small",) in names and len(names) == 3, names
    back = p.cli("rollback", "base")
    assert back.returncode == 0, back.stderr
    assert set(shape(p.url)) == set()


COLUMN_PARTS = [
    ("b1", None, "def upgrade():\n"
                 "    op.create_table('users', sa.Column('id', sa.Integer, primary_key=True))\n"
                 "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))\n"
                 "def downgrade():\n    op.drop_table('t')\n    op.drop_table('users')\n"),
    ("b2", "b1", "def upgrade():\n"
                 "    op.add_column('t', sa.Column('e', sa.Integer, unique=True))\n"
                 "    op.add_column('t', sa.Column('f', sa.Integer, index=True))\n"
                 "    op.add_column('t', sa.Column('g', sa.Integer, unique=True, index=True))\n"
                 "    op.add_column('t', sa.Column('u', sa.Integer, sa.ForeignKey(\n"
                 "        'users.id', ondelete='CASCADE', deferrable=True,\n"
                 "        initially='DEFERRED')))\n"
                 "def downgrade():\n"
                 "    for c in ('u', 'g', 'f', 'e'):\n"
                 "        op.drop_column('t', c)\n"),
]


@pytest.mark.parametrize("server", OPTUNA_SERVERS)
def test_unique_index_and_foreign_key_given_on_an_added_column_are_built(
        request: pytest.FixtureRequest, tmp_path: Path, server: str) -> None:
    """`unique=True`, `index=True` (both: one unique index, as Alembic builds it) and a
    `ForeignKey` on an added column become the operations Alembic runs after ADD COLUMN; the
    foreign key lost `deferrable` and `initially`, with nothing listed."""
    url = (f"sqlite:///{tmp_path / 'schemaflow.db'}" if server == "sqlite"
           else request.getfixturevalue(SERVER_URLS[server]))
    ini = _alembic_project(tmp_path, COLUMN_PARTS)
    expected = None
    if server == "postgresql":  # (Alembic cannot add a constraint to a SQLite table)
        alembic_upgrade(ini.parent / "migrations", url)
        expected = shape(url)
        drop_all(url)
    p = make_project(tmp_path / "proj", url)
    done = p.cli("import", "alembic", str(ini))
    assert done.returncode == 0, done.stderr
    assert _imported(p, "b2")["operations"] == [
        {"add_column": {"table": "t", "column": {"name": "e", "type": "integer",
                                                 "nullable": True}}},
        {"create_unique_constraint": {"name": "uq_t_e", "table": "t", "columns": ["e"]}},
        {"add_column": {"table": "t", "column": {"name": "f", "type": "integer",
                                                 "nullable": True}}},
        {"create_index": {"name": "ix_t_f", "table": "t", "columns": ["f"]}},
        {"add_column": {"table": "t", "column": {"name": "g", "type": "integer",
                                                 "nullable": True}}},
        {"create_index": {"name": "ix_t_g", "table": "t", "columns": ["g"], "unique": True}},
        {"add_column": {"table": "t", "column": {"name": "u", "type": "integer",
                                                 "nullable": True}}},
        {"create_foreign_key": {"name": "fk_t_u_users", "table": "t", "columns": ["u"],
                                "references": {"table": "users", "columns": ["id"]},
                                "ondelete": "CASCADE", "deferrable": True,
                                "initially": "deferred"}}]
    applied = p.cli("apply")
    assert applied.returncode == 0, applied.stderr
    if expected is not None:
        assert shape(url) == expected
        assert rows(url, "SELECT condeferrable, condeferred FROM pg_constraint "
                         "WHERE contype = 'f'") == [(True, True)]
    else:
        ddl = rows(url, "SELECT sql FROM sqlite_master WHERE name = 't'")[0][0]
        assert "DEFERRABLE INITIALLY DEFERRED" in ddl and "ON DELETE CASCADE" in ddl, ddl
        assert {(r[1], bool(r[2])) for r in rows(url, "PRAGMA index_list(t)")} >= {
            ("ix_t_f", False), ("ix_t_g", True)}
    assert not _refused(url, "INSERT INTO t (id, e, g) VALUES (1, 1, 1)")
    for col in ("e", "g"):  # two rows with the same value, in one statement
        assert _refused(url, f"INSERT INTO t (id, {col}) SELECT n, 1 FROM "
                             "(SELECT 1 AS n UNION ALL SELECT 2) AS x"), col
    back = p.cli("rollback", "base")
    assert back.returncode == 0, back.stderr
    assert set(shape(url)) == set()


def test_an_if_not_exists_guard_is_written_as_alembics_sql(project: Project,
                                                            tmp_path: Path) -> None:
    """`create_index(..., if_not_exists=True)` (and the other guards) was written as a plain
    create_index without a word: the import exited 0, and apply failed where the index
    existed already. The format has no guard: Alembic's SQL, listed."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "                    sa.Column('a', sa.Integer))\n"
                     "    op.execute('CREATE INDEX ix_t_a ON t (a)')\n"
                     "def downgrade():\n    op.drop_table('t')\n"),
        ("a2", "a1", "def upgrade():\n"
                     "    op.create_index('ix_t_a', 't', ['a'], if_not_exists=True)\n"
                     "def downgrade():\n"
                     "    op.drop_index('ix_t_a', 't', if_exists=True)\n")])
    listed = _listed(project, ini, "a2")
    assert any("CreateIndexOp with if_not_exists=True, which the format lacks" in line
               for line in listed), listed
    assert any("DropIndexOp with if_exists=True" in line for line in listed), listed
    ops = _imported(project, "a2")["operations"]
    assert ops[0]["sql"]["up"] == "CREATE INDEX IF NOT EXISTS ix_t_a ON t (a)", ops
    for args in (("apply",), ("rollback", "a1"), ("apply",)):
        done = project.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)


def test_a_note_keeps_no_objects_address(tmp_path: Path) -> None:
    """Prefect's `ENUM(...).create(op.get_bind())`: the note quoted the offline run's error,
    `<...MySQLDDLCompiler object at 0x7f2b23472210>`, so the same history imported twice
    wrote different changesets (and checksums)."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "from sqlalchemy.dialects import postgresql\n"
                     "def upgrade():\n"
                     "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))\n"
                     "    postgresql.ENUM('A', 'B', name='t_status').create(op.get_bind())\n"
                     "def downgrade():\n    op.drop_table('t')\n")])
    texts = []
    for name in ("one", "two"):
        p = make_project(tmp_path / name)
        done = p.cli("import", "alembic", str(ini))
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        (path,) = p.changesets.glob("a1_*.yaml")
        texts.append(path.read_text(encoding="utf-8"))
    assert "object at 0x" not in texts[0] and "Compiler" in texts[0], texts[0]
    assert texts[0] == texts[1]


def test_the_scratch_database_goes_on_past_a_constraint_sqlite_cannot_alter(
        tmp_path: Path) -> None:
    """Prefect's PostgreSQL history: a plain `op.create_foreign_key` (no batch mode) raised
    NotImplementedError on the scratch SQLite database, which stopped that revision's run
    there: its later tables were missing, so a later revision that asks the inspector took
    another branch (here: added no column), or the import failed (exit 2, nothing written).
    The scratch database now goes without the constraint, and the operation is imported."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('a', sa.Column('id', sa.Integer, primary_key=True))\n"
                     "    op.create_table('b', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "                    sa.Column('a_id', sa.Integer))\n"
                     "    op.create_foreign_key('fk_b_a', 'b', 'a', ['a_id'], ['id'])\n"
                     "    op.create_table('c', sa.Column('id', sa.Integer, primary_key=True))\n"
                     "def downgrade():\n"
                     "    op.drop_table('c')\n    op.drop_table('b')\n    op.drop_table('a')\n"),
        ("a2", "a1", "def upgrade():\n"
                     "    if 'c' in sa.inspect(op.get_bind()).get_table_names():\n"
                     "        op.add_column('c', sa.Column('x', sa.Integer))\n"
                     "def downgrade():\n    op.drop_column('c', 'x')\n")])
    p = make_project(tmp_path / "p")
    done = p.cli("import", "alembic", str(ini))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    a1 = _imported(p, "a1")["operations"]
    assert [next(iter(op)) for op in a1] == ["create_table", "create_table",
                                            "create_foreign_key", "create_table"], a1
    a2 = _imported(p, "a2")["operations"]
    assert any(op.get("add_column", {}).get("column", {}).get("name") == "x" for op in a2), a2
    p.accept_import_notes()  # (a2's note: it ran on the scratch database only)
    done = p.cli("apply")
    assert done.returncode == 0, done.stderr
    assert "x" in {r[1] for r in rows(p.url, "PRAGMA table_info(c)")}


def test_the_scratch_database_goes_on_past_sql_sqlite_refuses(tmp_path: Path) -> None:
    """Prefect's PostgreSQL history again: a plain `alter_column(nullable=False)` is SQL the
    scratch SQLite database refuses (ALTER COLUMN). In a revision that asks the database, that
    stopped the import (exit 2, nothing written); in one that does not, it stopped the
    revision's run there unseen, and a later revision's inspector missed the table made
    after it (a3 added no column: 38 of Prefect's 120 revisions stopped so)."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "                    sa.Column('c', sa.String))\n"
                     "def downgrade():\n    op.drop_table('t')\n"),
        ("a2", "a1", "def upgrade():\n"
                     "    op.alter_column('t', 'c', existing_type=sa.VARCHAR(), nullable=False)\n"
                     "    op.create_table('u', sa.Column('id', sa.Integer, primary_key=True))\n"
                     "def downgrade():\n"
                     "    op.drop_table('u')\n"
                     "    op.alter_column('t', 'c', existing_type=sa.VARCHAR(), nullable=True)\n"),
        ("a3", "a2", "def upgrade():\n"
                     "    op.add_column('t', sa.Column('d', sa.String))\n"
                     "    sa.MetaData().reflect(op.get_bind())\n"
                     "    op.alter_column('t', 'd', existing_type=sa.VARCHAR(), nullable=False)\n"
                     "    if 'u' in sa.inspect(op.get_bind()).get_table_names():\n"
                     "        op.add_column('u', sa.Column('x', sa.Integer))\n"
                     "def downgrade():\n"
                     "    op.drop_column('u', 'x')\n    op.drop_column('t', 'd')\n")])
    p = make_project(tmp_path / "p")
    done = p.cli("import", "alembic", str(ini))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    a3 = [next(iter(op)) for op in _imported(p, "a3")["operations"]]
    assert a3 == ["sql", "add_column", "alter_column", "add_column"], a3  # (its note first)
    p.accept_import_notes()
    done = p.cli("apply")
    assert done.returncode == 0, done.stderr
    assert "x" in {r[1] for r in rows(p.url, "PRAGMA table_info(u)")}
    assert [r[3] for r in rows(p.url, "PRAGMA table_info(t)") if r[1] in ("c", "d")] == [1, 1]


RENAMED_BY_HAND = [
    ("a1", None, "def upgrade():\n"
                 "    op.create_table('block_data',\n"
                 "                    sa.Column('id', sa.Integer, primary_key=True),\n"
                 "                    sa.Column('n', sa.Integer))\n"
                 "def downgrade():\n    op.drop_table('block_data')\n"),
    ("a2", "a1", "def upgrade():\n"
                 "    op.execute('ALTER TABLE block_data RENAME TO block')\n"
                 "def downgrade():\n"
                 "    op.execute('ALTER TABLE block RENAME TO block_data')\n"),
    ("a3", "a2", "def upgrade():\n"
                 "    op.add_column('block', sa.Column('m', sa.Integer))\n"
                 "    op.create_index('ix_block_n', 'block', ['n'])\n"
                 "def downgrade():\n"
                 "    op.drop_index('ix_block_n', 'block')\n    op.drop_column('block', 'm')\n"),
]


@pytest.mark.parametrize("server", ["sqlite", pytest.param("postgresql",
                                                           marks=pytest.mark.postgresql)])
def test_a_table_renamed_by_hand_is_a_rename_table(request: pytest.FixtureRequest,
                                                   tmp_path: Path, server: str) -> None:
    """Prefect's d9d98a9ebb6f renames a table with `op.execute("ALTER TABLE block_data RENAME
    TO block")`: written as SQL, the schema the changesets replay never learnt the new name,
    and every later operation on `block` did not fit (93 SF101 errors on Prefect; here a3 a
    note and apply refused). The statement alone is rename_table, whose DDL it is."""
    ini = _alembic_project(tmp_path, RENAMED_BY_HAND)
    expected, p = _anchored(request, tmp_path, server, ini.parent / "migrations")
    done = p.cli("import", "alembic", str(ini))
    assert done.returncode == 0, done.stderr
    a2 = _imported(p, "a2")
    assert a2["operations"] == [{"rename_table": {"name": "block_data", "new_name": "block"}}]
    assert p.cli("validate").returncode == 0
    _builds_then_unbuilds(p, expected)


PERCENT = [("a1", None,
            "import datetime\n"
            "def upgrade():\n"
            "    t = op.create_table('t', sa.Column('id', sa.Integer, primary_key=True),\n"
            "                        sa.Column('s', sa.Text), sa.Column('d', sa.DateTime))\n"
            "    op.bulk_insert(t, [{'id': 1, 's': '{% if x %}100%{% endif %}',\n"
            "                        'd': datetime.datetime(2020, 1, 1)}])\n"
            "    op.execute(sa.text('INSERT INTO t (id, s) VALUES (2, :v)')"
            ".bindparams(v='50%'))\n"
            "    op.execute(\"INSERT INTO t (id, s) VALUES (3, 'a%b')\")\n"
            "def downgrade():\n    op.drop_table('t')\n")]


@pytest.mark.parametrize("server", SERVERS)
def test_a_percent_sign_in_a_value_is_the_value(request: pytest.FixtureRequest,
                                                tmp_path: Path, server: str) -> None:
    """Airflow's log_template rows (a Jinja template with `{% ... %}`), inserted by a
    bulk_insert the import writes as SQL: the SQL Alembic writes for drivers with %s
    placeholders doubles each percent sign, and run as a `sql` operation (no parameters)
    the rows held '{%% if x %%}100%%'."""
    ini = _alembic_project(tmp_path, PERCENT)
    url = (f"sqlite:///{tmp_path / 'alembic.db'}" if server == "sqlite"
           else request.getfixturevalue(SERVER_URLS[server]))
    alembic_upgrade(ini.parent / "migrations", url)
    expected = rows(url, "SELECT id, s FROM t ORDER BY id")
    assert expected == [(1, "{% if x %}100%{% endif %}"), (2, "50%"), (3, "a%b")]
    _, p = _anchored(request, tmp_path, server, ini.parent / "migrations")
    done = p.cli("import", "alembic", str(ini))
    assert done.returncode == 1  # (the rows listed as SQL, with why)
    assert ("bulk_insert into t has a date or time ('d': 2020-01-01T00:00:00), written as the "
            "value the revision gave when the import ran it") in done.stdout + done.stderr
    assert "%%" not in _imported(p, "a1").__repr__()
    applied = p.cli("apply")
    assert applied.returncode == 0, applied.stderr
    assert rows(p.url, "SELECT id, s FROM t ORDER BY id") == expected


JSON_ROWS = [("a1", None,
              "def upgrade():\n"
              "    t = op.create_table('t', sa.Column('id', sa.Integer, primary_key=True),\n"
              "                        sa.Column('doc', sa.JSON),\n"
              "                        sa.Column('n', sa.JSON(none_as_null=True)))\n"
              "    op.bulk_insert(t, [{'id': 1, 'doc': {'a': [1, None, 'x']}, 'n': None},\n"
              "                       {'id': 2, 'doc': 'text', 'n': [True]}])\n"
              "def downgrade():\n    op.drop_table('t')\n"),
             ("a2", "a1",
              "def upgrade():\n"
              "    t = sa.table('t', sa.column('id', sa.Integer), sa.column('doc', sa.JSON))\n"
              "    op.bulk_insert(t, [{'id': 3, 'doc': None}])\n"
              "def downgrade():\n    op.execute('DELETE FROM t WHERE id = 3')\n")]


@pytest.mark.parametrize("server", SERVERS)
def test_json_rows_are_stored_as_alembic_stores_them(request: pytest.FixtureRequest,
                                                     tmp_path: Path, server: str) -> None:
    """bulk_insert into json columns: a dict or list is insert_rows' JSON value (the import
    wrote it as SQL, which SQLAlchemy cannot write for JSON: a note); None, which
    SQLAlchemy's JSON stores as JSON's null and insert_rows (and Alembic's --sql) as SQL
    NULL, a listed note."""
    ini = _alembic_project(tmp_path, JSON_ROWS)
    url = (f"sqlite:///{tmp_path / 'alembic.db'}" if server == "sqlite"
           else request.getfixturevalue(SERVER_URLS[server]))
    alembic_upgrade(ini.parent / "migrations", url)
    query = ("SELECT id, doc::text, n::text, doc IS NULL FROM t ORDER BY id"
             if server == "postgresql" else
             "SELECT id, doc, n, doc IS NULL FROM t ORDER BY id")

    def stored(at: str) -> list[tuple[object, ...]]:
        return [(i, *(None if v is None else json.loads(v) for v in (d, n)), bool(null))
                for i, d, n, null in rows(at, query)]
    expected = stored(url)
    assert expected == [(1, {"a": [1, None, "x"]}, None, False), (2, "text", [True], False),
                        (3, None, None, False)]  # (3: JSON's null, not SQL NULL)
    _, p = _anchored(request, tmp_path, server, ini.parent / "migrations")
    done = p.cli("import", "alembic", str(ini))
    assert "Traceback" not in done.stderr
    a1 = _imported(p, "a1")
    assert a1["operations"][1] == {"insert_rows": {"table": "t", "rows": [
        {"id": 1, "doc": {"a": [1, None, "x"]}, "n": None},
        {"id": 2, "doc": "text", "n": [True]}]}}
    # Not SQL NULL, as insert_rows or Alembic's own --sql would store it: a listed note.
    assert done.returncode == 1 and "JSON's null" in done.stdout + done.stderr
    a2 = _imported(p, "a2")["operations"]
    assert len(a2) == 1 and "TODO(schemaflow import)" in a2[0]["sql"]["up"][0], a2
    assert "t" not in shape(p.url)
    applied = p.cli("apply", "a1")
    assert applied.returncode == 0, applied.stderr
    assert stored(p.url) == expected[:2]


PYTHON_DEFAULT = [("a1", None,
                   "def upgrade():\n"
                   "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True),\n"
                   "                    sa.Column('c', sa.String(20)))\n"
                   "def downgrade():\n    op.drop_table('t')\n"),
                  ("a2", "a1",
                   "def upgrade():\n"
                   "    op.alter_column('t', 'c', existing_type=sa.String(20), nullable=False,\n"
                   "                    default='x')\n"
                   "def downgrade():\n"
                   "    op.alter_column('t', 'c', existing_type=sa.String(20), nullable=True)\n")]


@pytest.mark.parametrize("server", SERVERS[1:])  # (SQLite: Alembic needs a batch for it)
def test_a_python_side_default_in_alter_column_builds_nothing(
        request: pytest.FixtureRequest, tmp_path: Path, server: str) -> None:
    """Airflow's `alter_column(..., default=...)`: a model's Python-side default, which no
    database's Alembic implementation reads. It was taken as an option schemaflow cannot
    express, and the step written as SQL; it is the nullability change alone."""
    ini = _alembic_project(tmp_path, PYTHON_DEFAULT)
    expected, p = _anchored(request, tmp_path, server, ini.parent / "migrations")
    done = p.cli("import", "alembic", str(ini))
    assert done.returncode == 0, done.stdout + done.stderr
    change = _imported(p, "a2")["operations"]
    assert len(change) == 1 and change[0]["alter_column"]["nullable"] is False, change
    assert "default" not in change[0]["alter_column"], change
    _builds_then_unbuilds(p, expected)


# A table with an option the format lacks (a row format): written as SQL on every database.
SQL_TABLE_A = ("a1", None, "def upgrade():\n"
               "    op.create_table('a', sa.Column('id', sa.Integer, primary_key=True),\n"
               "        sa.Column('name', sa.String(50)), mysql_ROW_FORMAT='DYNAMIC')\n"
               "def downgrade():\n    op.drop_table('a')\n")


# Airflow's histories: a step that does not fit the replayed schema because an earlier step
# wrote what it names as SQL (a column added by op.execute or in a branch on the database's
# name; a table with an option the format lacks) is that SQL too.
SQL_BEFORE: dict[str, list[Revision]] = {
    "a column added as SQL, dropped later (the import raised AssertionError)": [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))\n"
                     "    op.execute('ALTER TABLE t ADD COLUMN c VARCHAR(20)')\n"
                     "def downgrade():\n    op.drop_table('t')\n"),
        ("a2", "a1", "def upgrade():\n    op.drop_column('t', 'c')\n"
                     "def downgrade():\n"
                     "    op.add_column('t', sa.Column('c', sa.String(20)))\n")],
    "a column added in a branch on the database, dropped by the downgrade": [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))\n"
                     "def downgrade():\n    op.drop_table('t')\n"),
        ("a2", "a1", "def upgrade():\n"
                     "    if op.get_bind().dialect.name == 'mysql':\n"
                     "        op.add_column('t', sa.Column('c', sa.Text(2000)))\n"
                     "    else:\n"
                     "        op.add_column('t', sa.Column('c', sa.String(2000)))\n"
                     "def downgrade():\n    op.drop_column('t', 'c')\n")],
    "a branch on the database inside a batch": [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))\n"
                     "def downgrade():\n    op.drop_table('t')\n"),
        ("a2", "a1", "def upgrade():\n"
                     "    with op.batch_alter_table('t') as batch_op:\n"
                     "        if op.get_bind().dialect.name == 'mysql':\n"
                     "            batch_op.add_column(sa.Column('c', sa.Text(2000)))\n"
                     "        else:\n"
                     "            batch_op.add_column(sa.Column('c', sa.String(2000)))\n"
                     "def downgrade():\n"
                     "    with op.batch_alter_table('t') as batch_op:\n"
                     "        batch_op.drop_column('c')\n")],
    "a batch on a table written as SQL (Buildbot's 062)": [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('p', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "                    mysql_ROW_FORMAT='DYNAMIC')\n"
                     "def downgrade():\n    op.drop_table('p')\n"),
        ("a2", "a1", "def upgrade():\n"
                     "    with op.batch_alter_table('p') as batch_op:\n"
                     "        batch_op.add_column(sa.Column('note', sa.Text))\n"
                     "def downgrade():\n"
                     "    with op.batch_alter_table('p') as batch_op:\n"
                     "        batch_op.drop_column('note')\n")],
    "a step on a table a step written as SQL built (two levels)": [
        SQL_TABLE_A,
        ("a2", "a1", "def upgrade():\n"
                     "    op.create_table('b', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "        sa.Column('a_id', sa.Integer, sa.ForeignKey('a.id')))\n"
                     "    op.create_index('ix_b_a_id', 'b', ['a_id'])\n"
                     "    op.add_column('b', sa.Column('x', sa.Integer))\n"
                     "    op.rename_table('a', 'a2')\n"
                     "    op.add_column('a2', sa.Column('y', sa.Integer))\n"
                     "def downgrade():\n"
                     "    op.drop_column('a2', 'y')\n    op.rename_table('a2', 'a')\n"
                     "    op.drop_table('b')\n")],
    "a table pointing at a table written as SQL": [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('a', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "        sa.Column('name', sa.String(50)), mysql_ROW_FORMAT='DYNAMIC')\n"
                     "    op.create_table('b', sa.Column('id', sa.Integer, primary_key=True),\n"
                     "        sa.Column('a_id', sa.Integer, sa.ForeignKey('a.id')))\n"
                     "def downgrade():\n    op.drop_table('b')\n    op.drop_table('a')\n")],
}


@pytest.mark.parametrize("server", OPTUNA_SERVERS)
@pytest.mark.parametrize("case", sorted(SQL_BEFORE))
def test_a_step_on_what_an_earlier_step_wrote_as_sql_is_sql_too(
        request: pytest.FixtureRequest, tmp_path: Path, server: str, case: str) -> None:
    ini = _alembic_project(tmp_path, SQL_BEFORE[case])
    expected, p = _anchored(request, tmp_path, server, ini.parent / "migrations")
    done = p.cli("import", "alembic", str(ini))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "so this step is SQL too" in done.stderr
    done = p.cli("validate")
    assert done.returncode == 0, done.stdout + done.stderr
    _builds_then_unbuilds(p, expected)
    done = p.cli("apply")  # (again, after its rollback)
    assert done.returncode == 0, done.stderr
    assert shape(p.url) == expected


CONVENTION = ('{"ck": "ck_%(table_name)s_%(constraint_name)s", '
              '"uq": "uq_%(table_name)s_%(column_0_name)s"}')
NAMED = [("a1", None, "def upgrade():\n"
                      "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True),\n"
                      "        sa.Column('n', sa.Integer), sa.Column('m', sa.Integer),\n"
                      "        sa.CheckConstraint('n >= 0', name='n_not_negative'))\n"
                      "    op.create_unique_constraint(None, 't', ['n', 'm'])\n"
                      "    op.create_check_constraint('m_positive', 't', 'm > 0')\n"
                      "def downgrade():\n"
                      "    op.drop_constraint('m_positive', 't', type_='check')\n"
                      "    op.drop_constraint('uq_t_n', 't', type_='unique')\n"
                      "    op.drop_table('t')\n")]


@pytest.mark.postgresql
def test_constraints_are_named_after_the_models_naming_convention(
        pg_url: str, tmp_path: Path) -> None:
    """Airflow's env.py gives target_metadata the convention SQLAlchemy documents, and
    Alembic's operations name their constraints after it (`ck_task_map_...`): the import,
    which runs no env.py, named them as written, a CHECK other than Alembic's, silently.
    It takes the convention from the configured models; without them it says so."""
    ini = _alembic_project(tmp_path, NAMED)
    env = ini.parent / "migrations" / "env.py"
    env.write_text(env.read_text().replace(
        "target_metadata = None",
        "import sqlalchemy\n"
        f"target_metadata = sqlalchemy.MetaData(naming_convention={CONVENTION})"))
    alembic_upgrade(ini.parent / "migrations", pg_url)
    anchor = sorted(r[0] for r in rows(pg_url, "SELECT conname FROM pg_constraint WHERE "
                                               "conrelid = 't'::regclass AND contype <> 'p'"))
    assert anchor == ["ck_t_m_positive", "ck_t_n_not_negative", "uq_t_n"]
    drop_all(pg_url)
    p = make_project(tmp_path / "proj", pg_url)
    listed = _listed(p, ini, "env.py")
    assert len(listed) == 1 and "set `models`" in listed[0], listed
    for path in p.changesets.iterdir():
        path.unlink()
    (p.root / "conv_models.py").write_text(
        f"import sqlalchemy\nmetadata = sqlalchemy.MetaData(naming_convention={CONVENTION})\n")
    with (p.root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
        fh.write('models = "conv_models:metadata"\n')
    done = p.cli("import", "alembic", str(ini))
    assert done.returncode == 0, done.stderr
    for args in (("validate",), ("apply",)):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    assert sorted(r[0] for r in rows(pg_url, "SELECT conname FROM pg_constraint WHERE "
                                             "conrelid = 't'::regclass AND contype <> 'p'")) \
        == anchor
    done = p.cli("rollback", "base")  # the downgrade drops them by the convention's names
    assert done.returncode == 0, done.stderr


def test_a_batch_step_sqlite_alters_only_by_copy_is_a_note_there(project: Project,
                                                                  tmp_path: Path) -> None:
    """Airflow's batch alter_column on a table written as SQL: the step is SQL too, but
    SQLite changes a column only by the batch's copy of the table, and Alembic's ALTER
    COLUMN written as SQL for it failed there at apply, after validate said nothing."""
    ini = _alembic_project(tmp_path, [
        SQL_TABLE_A,
        ("a2", "a1", "def upgrade():\n"
                     "    with op.batch_alter_table('a') as batch_op:\n"
                     "        batch_op.alter_column('name', existing_type=sa.String(50),\n"
                     "                              nullable=False)\n"
                     "def downgrade():\n    pass\n")])
    listed = _listed(project, ini, "a2")
    assert any("differs on sqlite and Alembic writes no SQL for it offline" in line
               for line in listed), listed
    ops = _imported(project, "a2")["operations"]
    on_sqlite = [op["sql"] for op in ops if "sqlite" in op["sql"].get("dialects", ["sqlite"])]
    assert on_sqlite and all("ALTER COLUMN" not in str(sql["up"]) for sql in on_sqlite)
    assert any("SET NOT NULL" in str(op["sql"]["up"]) for op in ops
               if "postgresql" in op["sql"].get("dialects", []))
    done = project.cli("apply")
    assert done.returncode == 1 and "SF016" in done.stderr, done.stderr


@pytest.mark.postgresql
def test_each_databases_statements_keep_their_order_when_some_are_shared(
        tmp_path: Path, pg_url: str) -> None:
    """Buildbot's 060: a table written as SQL per database (a MySQL row format), then a
    foreign key to it from a table made before, the same SQL on MySQL and PostgreSQL. The
    shared statement was moved back to MySQL's, ahead of PostgreSQL's CREATE TABLE: on
    PostgreSQL the key pointed at a table not yet made."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('builders', sa.Column('id', sa.Integer, "
                     "primary_key=True))\n"
                     "def downgrade():\n    op.drop_table('builders')\n"),
        ("a2", "a1", "def upgrade():\n"
                     "    op.create_table('projects', sa.Column('id', sa.Integer, "
                     "primary_key=True),\n                    mysql_ROW_FORMAT='DYNAMIC')\n"
                     "    op.add_column('builders', sa.Column('projectid', sa.Integer,\n"
                     "        sa.ForeignKey('projects.id', name='fk_builders_projectid')))\n"
                     "def downgrade():\n"
                     "    op.drop_constraint('fk_builders_projectid', 'builders', "
                     "type_='foreignkey')\n"
                     "    op.drop_column('builders', 'projectid')\n"
                     "    op.drop_table('projects')\n")])
    p = make_project(tmp_path / "proj", pg_url)
    done = p.cli("import", "alembic", str(ini))
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr
    on_pg = [" ".join(op["sql"]["up"]) if isinstance(op["sql"]["up"], list) else op["sql"]["up"]
             for op in _imported(p, "a2")["operations"]
             if "sql" in op and "postgresql" in op["sql"].get("dialects", ["postgresql"])]
    made = next(i for i, sql in enumerate(on_pg) if "CREATE TABLE projects" in sql)
    assert all("REFERENCES projects" not in sql for sql in on_pg[:made]), on_pg
    done = p.cli("apply")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert rows(pg_url, "SELECT count(*) FROM information_schema.table_constraints WHERE "
                        "constraint_name = 'fk_builders_projectid'") == [(1,)]


def test_an_empty_bulk_insert_is_nothing(tmp_path: Path) -> None:
    """`op.bulk_insert(t, [])` (ZenML's, with rows read from a table the scratch database
    holds none of) does nothing in Alembic; it was imported as `insert_rows` with no rows,
    which `validate` refuses (SF002), and so apply refused the whole history."""
    ini = _alembic_project(tmp_path, [
        ("a1", None, "def upgrade():\n"
                     "    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))\n"
                     "def downgrade():\n    op.drop_table('t')\n"),
        ("a2", "a1", "def upgrade():\n"
                     "    t = sa.table('t', sa.column('id', sa.Integer))\n"
                     "    op.bulk_insert(t, [])\n"
                     "def downgrade():\n    pass\n")])
    p = make_project(tmp_path / "proj")
    done = p.cli("import", "alembic", str(ini))
    assert done.returncode == 0, done.stderr
    assert _imported(p, "a2")["operations"] == []
    for args in (("validate",), ("apply",)):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)


def test_scoped_sql_is_grouped_only_where_each_databases_order_stays() -> None:
    """The same statement on two databases is written once for both, moved back only over
    other databases' statements: never ahead of one of its own databases' (Buildbot's 060),
    and a statement one database runs twice stays twice."""
    from schemaflow import ir
    from schemaflow.importers.alembic_merge import grouped

    def sql(up: str, *dialects: ir.Dialect) -> ir.Operation:
        return ir.Sql(up=(up,), dialects=dialects)

    assert grouped([sql("A", "mysql"), sql("X", "sqlite"), sql("A", "postgresql")]) == [
        sql("A", "mysql", "postgresql"), sql("X", "sqlite")]
    kept = [sql("CREATE my", "mysql"), sql("ALTER", "mysql"), sql("CREATE pg", "postgresql"),
            sql("ALTER", "postgresql")]
    assert grouped(kept) == kept
    twice = [sql("UPDATE", "mysql"), sql("UPDATE", "mysql")]
    assert grouped(twice) == twice
