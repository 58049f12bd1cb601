"""PostgreSQL type changes that need an explicit cast (text → json, json → text rolled back,
text → integer) run as `ALTER COLUMN c TYPE t USING c::t`, on the real server, as a user
runs them; and the cast table they are decided by is the server's own pg_cast."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import Project, make_project, rows
from test_execute_sqlite import run_sql

pytestmark = pytest.mark.postgresql

ID = {"name": "id", "type": "integer", "primary_key": True}


@pytest.fixture
def pg_project(tmp_path: Path, pg_url: str) -> Project:
    return make_project(tmp_path / "proj", pg_url)


def _ok(p: Project, *args: str) -> str:
    done = p.cli(*args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout + done.stderr


def _column(url: str, name: str) -> tuple[Any, ...]:
    """The column's data type and default, as information_schema gives them."""
    found = rows(url, "SELECT data_type, column_default FROM information_schema.columns "
                      f"WHERE table_name = 't' AND column_name = '{name}'")
    assert len(found) == 1, found
    return found[0]


def _history(p: Project, column: dict[str, Any], seed: list[dict[str, Any]],
             new_type: str) -> None:
    p.chain([{"create_table": {"name": "t", "columns": [ID, column]}},
             {"insert_rows": {"table": "t", "rows": seed}}],
            [{"alter_column": {"table": "t", "name": column["name"], "type": new_type}}])


def test_text_to_json_applies_and_rolls_back(pg_project: Project) -> None:
    p, url = pg_project, pg_project.url
    _history(p, {"name": "doc", "type": "text", "default": "{}"},
             [{"id": 1, "doc": '{"a": [1, 2]}'}, {"id": 2, "doc": "3"}], "json")
    _ok(p, "validate", "--dialect", "postgresql")
    _ok(p, "apply")
    assert _column(url, "doc") == ("json", "'{}'::json")  # its default kept, as json
    assert rows(url, "SELECT id, doc->'a'->>1 FROM t ORDER BY id") == [(1, "2"), (2, None)]
    _ok(p, "rollback", "c001")
    assert _column(url, "doc")[0] == "text"
    assert rows(url, "SELECT id, doc FROM t ORDER BY id") == [(1, '{"a": [1, 2]}'), (2, "3")]


def test_json_to_text_rolls_back(pg_project: Project) -> None:
    """Airflow's case: the change runs by itself; its inverse needs the cast."""
    p, url = pg_project, pg_project.url
    p.chain([{"create_table": {"name": "t", "columns": [
                 ID, {"name": "j", "type": "json", "nullable": False}]}},
             {"sql": {"up": ["""INSERT INTO t VALUES (1, '{"k": "v"}'), (2, '[]')"""],
                      "down": ["DELETE FROM t"]}}],
            [{"alter_column": {"table": "t", "name": "j", "type": "text"}}])
    _ok(p, "apply")
    assert _column(url, "j")[0] == "text"
    _ok(p, "rollback", "c001")
    assert _column(url, "j")[0] == "json"
    assert rows(url, "SELECT id, j->>'k' FROM t ORDER BY id") == [(1, "v"), (2, None)]
    _ok(p, "apply")  # and forward again
    assert rows(url, "SELECT id, j FROM t ORDER BY id") == [(1, '{"k": "v"}'), (2, "[]")]


def test_text_to_integer_with_a_default_applies_and_rolls_back(pg_project: Project) -> None:
    p, url = pg_project, pg_project.url
    _history(p, {"name": "n", "type": "text", "nullable": False, "default": "0"},
             [{"id": 1, "n": "42"}, {"id": 2, "n": "-7"}], "integer")
    _ok(p, "apply")
    assert _column(url, "n") == ("integer", "0")
    assert rows(url, "SELECT id, n + 1 FROM t ORDER BY id") == [(1, 43), (2, -6)]
    _ok(p, "rollback", "c001")
    assert _column(url, "n")[0] == "text"
    assert rows(url, "SELECT id, n FROM t ORDER BY id") == [(1, "42"), (2, "-7")]
    run_sql(url, "INSERT INTO t (id) VALUES (3)")  # its default still given
    assert rows(url, "SELECT n FROM t WHERE id = 3") == [("0",)]


def test_a_value_that_does_not_convert_fails_with_the_servers_message(
        pg_project: Project) -> None:
    p, url = pg_project, pg_project.url
    _history(p, {"name": "n", "type": "string(10)"}, [{"id": 1, "n": "x1"}], "integer")
    done = p.cli("apply")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "USING n::INTEGER" in done.stderr and '"x1"' in done.stderr, done.stderr
    assert _column(url, "n")[0] == "character varying"  # rolled back as a whole


def test_the_cast_rows_are_the_servers(pg_url: str) -> None:
    """casts.CASTS is pg_cast between the types it knows, and STRINGS their string types."""
    from schemaflow.dialects.postgresql import casts

    known = ", ".join(f"'{t}'" for t in sorted(casts.KNOWN))
    found = rows(pg_url, f"""
        SELECT s.typname, t.typname, c.castcontext::text FROM pg_cast c
        JOIN pg_type s ON s.oid = c.castsource JOIN pg_type t ON t.oid = c.casttarget
        WHERE s.typname IN ({known}) AND t.typname IN ({known}) AND s.oid <> t.oid
          AND s.typnamespace = 'pg_catalog'::regnamespace
          AND t.typnamespace = 'pg_catalog'::regnamespace""")
    assert {(s, t): c for s, t, c in found} == dict(casts.CASTS)
    strings = rows(pg_url, f"SELECT typname FROM pg_type WHERE typname IN ({known}) "
                           "AND typcategory = 'S'")
    assert {s for (s,) in strings} == casts.STRINGS
    assert len(rows(pg_url, f"SELECT 1 FROM pg_type WHERE typname IN ({known}) AND "
                            "typnamespace = 'pg_catalog'::regnamespace")) == len(casts.KNOWN)


GENERATED = {"name": "g", "type": "integer", "computed": {"expression": "id * 2",
                                                          "stored": True}}


def test_a_generated_column_changes_only_to_a_type_it_converts_to(pg_project: Project) -> None:
    """PostgreSQL takes no USING for a generated column ("cannot specify USING when altering
    type of generated column"), so a type with only an explicit cast from the old one is
    refused at validate and before apply runs anything (it failed half-way at apply), and
    one with an assignment cast (integer → text, text → varchar) applies and rolls back."""
    p, url = pg_project, pg_project.url
    _history(p, GENERATED, [{"id": 1}], "boolean")
    done = p.cli("validate", "--dialect", "postgresql")
    assert done.returncode == 1
    assert ("error SF331 alter_column on postgresql: t.g is a generated column, and "
            "PostgreSQL changes its type only to one its old type (integer) converts to by "
            "assignment; to boolean it would need an explicit cast") in done.stdout, done.stdout
    done = p.cli("apply")
    assert done.returncode != 0 and "t.g is a generated column" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert rows(url, "SELECT count(*) FROM information_schema.tables "
                     "WHERE table_name = 't'") == [(0,)]  # (refused before anything ran)
    p.write("c002", [{"alter_column": {"table": "t", "name": "g", "type": "bigint",
                                       "using": "g::bigint"}}], parents=["c001"])
    done = p.cli("validate", "--dialect", "postgresql")
    assert done.returncode == 1 and "takes no `using:`" in done.stdout, done.stdout
    p.write("c002", [{"alter_column": {"table": "t", "name": "g", "type": "text"}}],
            parents=["c001"])
    done = p.cli("validate", "--dialect", "postgresql")
    # Its rollback, text → integer, is not: a warning (SF332), and rollback refuses it.
    assert done.returncode == 0 and "SF331" not in done.stdout, done.stdout
    assert ("warning SF332 the rollback cannot run on postgresql: alter_column: t.g is a "
            "generated column") in done.stdout, done.stdout
    _ok(p, "apply")
    assert _column(url, "g")[0] == "text"
    assert rows(url, "SELECT id, g FROM t") == [(1, "2")]
    done = p.cli("rollback", "c001")
    assert done.returncode != 0 and "t.g is a generated column" in done.stderr, done.stderr
    assert _column(url, "g")[0] == "text"
