"""Histories as teams really write them: forward-only changesets, ids written as plain YAML
scalars, empty changesets, multi-statement SQL; through the CLI, on every database."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Project, make_project, reflect

LOG = {"create_table": {"name": "log", "columns": [{"name": "line", "type": "text"}]}}
ADD_N = {"add_column": {"table": "log", "column": {"name": "n", "type": "integer"}}}


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def db_project(request: pytest.FixtureRequest, tmp_path: Any) -> Project:
    """An empty project on each database in turn (a fresh database on the servers)."""
    url = None if request.param == "sqlite" else request.getfixturevalue(
        {"postgresql": "pg_url", "mysql": "mysql_url"}[request.param])
    return make_project(tmp_path / "proj", url)


def applied(project: Project) -> str:
    r = project.cli("current")
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


# --- forward-only changesets --------------------------------------------------------------------


def test_forward_only_changeset_applies_and_blocks_rollback_past_it(
        db_project: Project) -> None:
    p = db_project
    p.chain([LOG], [{"sql": {"up": "INSERT INTO log (line) VALUES ('x')"}}], [ADD_N])
    r = p.cli("validate", "--no-db")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning SF201" in r.stdout and "c002" in r.stdout
    r = p.cli("apply")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "c003" in applied(p)
    before = reflect(p.url)
    r = p.cli("rollback", "c001")
    assert r.returncode != 0, r.stdout + r.stderr
    assert "c002" in r.stderr and "forward-only" in r.stderr
    assert "nothing was rolled back" in r.stderr and "Traceback" not in r.stderr
    # Nothing was rolled back: c003 (which could be) was not reversed either.
    assert "c003" in applied(p)
    assert reflect(p.url) == before
    r = p.cli("rollback", "c002")  # down to it, not past it: fine
    assert r.returncode == 0, r.stdout + r.stderr
    assert "c002" in applied(p) and "c003" not in applied(p)


def test_forward_only_is_an_error_when_the_project_says_so(project: Project) -> None:
    project.chain([LOG], [{"sql": {"up": "INSERT INTO log (line) VALUES ('x')"}}])
    with open(project.root / "schemaflow.toml", "a", encoding="utf-8") as fh:
        fh.write('[lint]\nerror = ["SF201"]\n')
    r = project.cli("validate", "--no-db")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "error SF201" in r.stdout
    r = project.cli("validate", "--no-db", "--format", "json")
    assert r.returncode == 1 and '"severity": "error"' in r.stdout
    # A changeset that says it has been looked at is still honoured.
    project.write("c002", [{"sql": {"up": "INSERT INTO log (line) VALUES ('x')"}}],
                  parents=["c001"], lint={"ignore": ["SF201"]})
    r = project.cli("validate", "--no-db")
    assert r.returncode == 0, r.stdout + r.stderr


def test_lint_error_key_is_checked(project: Project) -> None:
    project.chain([LOG])
    (project.root / "schemaflow.toml").write_text(
        f'url = "{project.url}"\n[lint]\nerror = "SF201"\n', encoding="utf-8")
    r = project.cli("validate", "--no-db")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "lint.error" in r.stderr and "Traceback" not in r.stderr


# --- ids and names written as plain YAML scalars ----------------------------------------------


def test_plain_scalar_ids_and_names_are_the_text_written(project: Project) -> None:
    project.write_text("20240115093000_a.yaml", """\
schemaflow: 1
id: 20240115093000
parents: []
message: 2024
operations:
  - create_table:
      name: log
      columns: [{name: line, type: text}, {name: 1e3, type: integer, default: 5}]
  - insert_rows: {table: log, rows: [{line: 7, 1e3: 0x10}]}
rollback:
  - drop_table: {name: log}
""")
    project.write_text("73e773485570_b.yaml", """\
schemaflow: 1
id: 73e773485570
parents: [20240115093000]
message: index
tag: 1.0
operations:
  - create_index: {name: 007, table: log, columns: [1e3]}
""")
    project.write_text("1_c.yaml", """\
schemaflow: 1
id: 1
parents: [73e773485570]
depends_on: [20240115093000]
message: c
branch_labels: [2]
operations:
  - rename_table: {name: log, new_name: 10}
""")
    r = project.cli("validate", "--no-db")
    assert r.returncode == 0, r.stdout + r.stderr
    r = project.cli("apply")
    assert r.returncode == 0, r.stdout + r.stderr
    r = project.cli("history")
    assert "20240115093000" in r.stdout and "73e773485570" in r.stdout
    assert "inf" not in r.stdout and "tag: 1.0" in r.stdout
    schema = reflect(project.url)
    assert set(schema) == {"10"}
    assert schema["10"]["indexes"] == [("007", ("1e3",), False)]
    import sqlalchemy as sa

    engine = sa.create_engine(project.url)
    with engine.connect() as conn:
        # Rows are data: `0x10` is the number 16, as YAML reads it.
        assert conn.exec_driver_sql('SELECT line, "1e3" FROM "10"').all() == [("7", 16)]
    engine.dispose()
    r = project.cli("rollback", "1.0")  # the tag written as a plain scalar
    assert r.returncode == 0, r.stdout + r.stderr
    assert "73e773485570" in project.cli("current").stdout


def test_an_explicit_tag_still_types_the_value(project: Project) -> None:
    project.write_text("1_a.yaml", "schemaflow: 1\nid: !!int 1\nparents: []\n"
                       "message: a\noperations: [{sql: {up: SELECT 1, down: SELECT 1}}]\n")
    r = project.cli("validate", "--no-db")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1_a.yaml:2:1: error SF002 id must be a string, not 1" in r.stdout


def test_toml_number_id_is_the_text_written(project: Project) -> None:
    """As in YAML: `id = 2024` in TOML is the id "2024" (test_daily_cli has more)."""
    project.write_text("2024_a.toml", 'schemaflow = 1\nid = 2024\nparents = []\n'
                       'message = "a"\n[[operations]]\n[operations.sql]\nup = "SELECT 1"\n'
                       'down = "SELECT 1"\n')
    r = project.cli("validate", "--no-db")
    assert r.returncode == 0, r.stdout + r.stderr
    assert [h.id for h in project.api().heads()] == ["2024"]


def test_every_name_key_of_the_schema_is_read_as_text() -> None:
    """A key added to the format whose value is a name or text is listed in NAME_KEYS."""
    import json

    from schemaflow.source.reading import NAME_KEYS
    from schemaflow.validate import schema_path

    schema = json.loads(schema_path("changeset.schema.json").read_text(encoding="utf-8"))
    textual = {"identifier", "changeset_id", "label", "column_list"}
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, sub in (node.get("properties") or {}).items():
                items = sub.get("items", sub) if isinstance(sub, dict) else {}
                ref = str(items.get("$ref", "")).rsplit("/", 1)[-1]
                plain = items.get("type") == "string" and "enum" not in items and (
                    "pattern" not in items)
                if ref in textual or plain:
                    found.add(key)
            for sub in node.values():
                walk(sub)
        elif isinstance(node, list):
            for sub in node:
                walk(sub)

    walk(schema)
    assert found - NAME_KEYS == set()


# --- several statements in one sql string ----------------------------------------------------

MULTI = """\
CREATE TABLE notes (id integer PRIMARY KEY, body varchar(50));
-- a comment; with a semicolon
INSERT INTO notes (id, body) VALUES (1, 'a; b');  /* another; */
INSERT INTO notes (id, body) VALUES (2, 'it''s');
"""
ROUTINES = {
    "postgresql": "CREATE FUNCTION two() RETURNS integer AS $$ BEGIN RETURN 2; END; $$ "
                  "LANGUAGE plpgsql; INSERT INTO notes VALUES (3, 'pg');",
    "mysql": "CREATE TRIGGER notes_up BEFORE INSERT ON notes FOR EACH ROW BEGIN "
             "SET NEW.body = UPPER(NEW.body); SET NEW.body = CONCAT(NEW.body, '!'); END; "
             "INSERT INTO notes VALUES (3, 'my');",
    "sqlite": "CREATE TRIGGER notes_up AFTER INSERT ON notes BEGIN "
              "UPDATE notes SET body = upper(body) WHERE id = NEW.id; "
              "UPDATE notes SET body = body || '!' WHERE id = NEW.id; END; "
              "INSERT INTO notes VALUES (3, 'lite');",
}
DOWN = {"postgresql": "DROP FUNCTION two(); DELETE FROM notes WHERE id = 3",
        "mysql": "DROP TRIGGER notes_up; DELETE FROM notes WHERE id = 3",
        "sqlite": "DROP TRIGGER notes_up; DELETE FROM notes WHERE id = 3"}
THIRD = {"postgresql": "pg", "mysql": "MY!", "sqlite": "LITE!"}


def test_multi_statement_sql_runs_on_every_database(db_project: Project) -> None:
    import sqlalchemy as sa

    p = db_project
    kind = sa.engine.make_url(p.url).get_backend_name()
    kind = "mysql" if kind == "mariadb" else kind
    p.chain([{"sql": {"up": MULTI, "down": "DROP TABLE notes"}}],
            [{"sql": {"up": ROUTINES[kind], "down": DOWN[kind]}}])
    r = p.cli("apply")
    assert r.returncode == 0, r.stdout + r.stderr
    engine = sa.create_engine(p.url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, body FROM notes ORDER BY id").all()
    assert [tuple(row) for row in rows] == [(1, "a; b"), (2, "it's"), (3, THIRD[kind])]
    r = p.cli("rollback", "base")  # the `down` strings are split the same way
    assert r.returncode == 0, r.stdout + r.stderr
    with engine.connect() as conn:
        assert "notes" not in sa.inspect(conn).get_table_names()
    engine.dispose()
    r = p.cli("apply", "--sql")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "'a; b')" in r.stdout and "'it''s')" in r.stdout


# --- status agrees with apply ------------------------------------------------------------------


def test_status_agrees_with_apply_about_an_edited_changeset(db_project: Project) -> None:
    p = db_project
    path = p.write("c001", [LOG])
    assert p.cli("apply").returncode == 0
    r = p.cli("status")
    assert r.returncode == 0 and "Up to date" in r.stdout, r.stdout + r.stderr
    path.write_text(path.read_text(encoding="utf-8").replace("text", "integer"),
                    encoding="utf-8")
    p.write("c002", [ADD_N], parents=["c001"])
    applying = p.cli("apply")
    assert applying.returncode == 1 and "c001" in applying.stderr
    r = p.cli("status")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "c002" in r.stdout  # still listed as pending
    assert "error SF020" in r.stderr and "c001" in r.stderr and "rehash c001" in r.stderr
    r = p.cli("status", "--format", "json")
    assert r.returncode == 1 and '"code": "SF020"' in r.stdout


# --- merge warns at once about conflicting heads --------------------------------------------------


def test_merge_of_conflicting_heads_warns_at_once(project: Project) -> None:
    project.write("c001", [LOG])
    project.write("a001", [ADD_N], parents=["c001"])
    project.write("b001", [ADD_N], parents=["c001"])
    r = project.cli("merge", "-m", "join")
    assert r.returncode == 0, r.stdout + r.stderr  # the file is written, as asked
    assert "_join.yaml" in r.stdout
    assert "warning" in r.stderr and "SF013" in r.stderr and "log.n" in r.stderr
    assert project.cli("validate", "--no-db").returncode == 1


def test_merge_of_independent_heads_says_nothing_more(project: Project) -> None:
    project.write("c001", [LOG])
    project.write("a001", [ADD_N], parents=["c001"])
    project.write("b001", [{"add_column": {"table": "log", "column": {
        "name": "m", "type": "integer"}}}], parents=["c001"])
    r = project.cli("merge", "-m", "join")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SF013" not in r.stderr and "warning" not in r.stderr


# --- Alembic's target forms ---------------------------------------------------------------------


def _four(project: Project) -> None:
    project.chain(*[[{"sql": {"up": f"SELECT {i}", "down": f"SELECT {i}"}}]
                    for i in range(1, 5)])


def test_targets_relative_to_an_id(project: Project) -> None:
    _four(project)
    r = project.cli("apply", "+5")
    assert r.returncode == 2 and "only 4 are pending" in r.stderr, r.stderr
    assert "nothing applied" in project.cli("current").stdout
    r = project.cli("apply", "c001+2")
    assert r.returncode == 0, r.stderr
    assert "c003 (applied)" in project.cli("current").stdout
    r = project.cli("show", "-1")  # one below the head
    assert r.returncode == 0 and r.stdout.startswith("c003"), r.stdout + r.stderr
    assert project.cli("show", "c004-3").stdout.startswith("c001")
    assert project.cli("show", "base+2").stdout.startswith("c002")
    r = project.cli("stamp", "-1")  # one below what is applied
    assert r.returncode == 0, r.stderr
    assert "c002 (applied)" in project.cli("current").stdout
    r = project.cli("rollback", "c002-2")  # down to base
    assert r.returncode == 0, r.stderr
    assert "nothing applied" in project.cli("current").stdout
    for args, needle in ((["show", "c004+1"], "only 0 changesets above"),
                         (["show", "c002-3"], "only 2 changesets below"),
                         (["apply", "x+1"], "unknown target")):
        r = project.cli(*args)
        assert r.returncode == 2 and needle in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr


def test_history_range_counts_down_from_the_head(project: Project) -> None:
    _four(project)
    r = project.cli("history", "-r", "-2:")
    assert r.returncode == 0, r.stderr
    assert [line.split()[2].rstrip(",") for line in r.stdout.splitlines()] == [
        "c004", "c003", "c002"]
    r = project.cli("history", "-r", "c001:-2")
    assert r.returncode == 0 and "c002" in r.stdout and "c003" not in r.stdout, r.stdout


def test_a_relative_step_across_a_branch_point_is_ambiguous(project: Project) -> None:
    project.write("c001", [LOG])
    project.write("a001", [ADD_N], parents=["c001"])
    project.write("b001", [{"add_column": {"table": "log", "column": {
        "name": "m", "type": "integer"}}}], parents=["c001"])
    r = project.cli("show", "c001+1")
    assert r.returncode == 2, r.stderr
    assert "ambiguous" in r.stderr and "a001" in r.stderr and "b001" in r.stderr
    assert project.cli("show", "b001-1").stdout.startswith("c001")


def test_label_head_follows_the_branch_own_chain(project: Project) -> None:
    project.write("c001", [LOG])
    project.write("f001", [ADD_N], parents=["c001"], branch_labels=["feature"])
    project.write("f002", [{"sql": {"up": "SELECT 1", "down": "SELECT 1"}}],
                  parents=["f001"])
    # Another branch depends on the feature: that does not make feature@head ambiguous.
    project.write("o001", [{"add_column": {"table": "log", "column": {
        "name": "m", "type": "integer"}}}], parents=["c001"], depends_on=["f001"])
    r = project.cli("show", "feature@head")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("f002")
    r = project.cli("apply", "feature@head")
    assert r.returncode == 0, r.stderr
    current = project.cli("current").stdout
    assert "f002" in current and "o001" not in current
