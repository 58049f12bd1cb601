"""What users notice in daily use of the command line: paths they can type, files squash
removes, the databases --dialect takes, ISO 8601 times, reproducible offline SQL, stamp
--sql, TOML ids written as numbers, and listings that stay readable in a narrow terminal."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess

import pytest
from conftest import Project, make_project, rows, run_cli

from schemaflow.dialects import names

TABLE = {"create_table": {"name": "t", "columns": [
    {"name": "id", "type": "integer", "primary_key": True}]}}


def _three(p: Project) -> list[str]:
    return p.chain([TABLE], [{"add_column": {"table": "t", "column": {
        "name": "a", "type": "integer"}}}], [{"add_column": {"table": "t", "column": {
            "name": "b", "type": "integer"}}}])


def test_new_prints_a_path_relative_to_the_current_directory(project: Project) -> None:
    here = project.cli("new", "-m", "first")
    assert here.returncode == 0, here.stderr
    shown = here.stdout.strip()
    assert shown.startswith("changesets/") and (project.root / shown).is_file()
    sub = project.root / "app" / "models"
    sub.mkdir(parents=True)
    below = run_cli("new", "-m", "second", cwd=sub)
    assert below.returncode == 0, below.stderr
    shown = below.stdout.strip()
    assert shown.startswith("../../changesets/"), shown
    assert (sub / shown).is_file()


def test_squash_lists_the_files_it_removes(project: Project) -> None:
    ids = _three(project)
    files = {cid: next(project.changesets.glob(f"{cid}_*")) for cid in ids}
    done = project.cli("squash", ids[0], ids[1], "-m", "squashed")
    assert done.returncode == 0, done.stderr
    removed = [line.removeprefix("removed ") for line in done.stderr.splitlines()
               if line.startswith("removed ")]
    assert removed == [f"changesets/{files[ids[0]].name}", f"changesets/{files[ids[1]].name}"]
    assert not files[ids[0]].exists() and files[ids[2]].exists()
    assert (project.root / done.stdout.strip()).is_file()


@pytest.mark.parametrize("command", ["apply", "rollback", "stamp", "validate"])
def test_dialect_help_lists_every_registered_database(project: Project, command: str) -> None:
    shown = project.cli(command, "--help")
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "{databases}" not in text
    listed = re.search(r"--dialect <?\w*>? (.*?)\(default", text)
    assert listed, text
    for name in names():
        assert re.search(rf"\b{name}\b", listed.group(1)), (name, listed.group(1))


def test_json_times_are_iso_8601(project: Project) -> None:
    _three(project)
    assert project.cli("apply").returncode == 0
    doc = json.loads(project.cli("current", "--format", "json").stdout)
    times = [row["applied_at"] for row in doc["applied"]]
    assert len(times) == 3
    for text in times:
        assert "T" in text, text
        parsed = dt.datetime.fromisoformat(text)
        assert parsed.utcoffset() == dt.timedelta(0), text


def test_offline_sql_is_reproducible(project: Project) -> None:
    _three(project)
    for args in (("apply", "--sql"), ("rollback", "base", "--sql", "--dialect", "postgresql"),
                 ("stamp", "--sql", "head", "--dialect", "mysql")):
        first, second = project.cli(*args), project.cli(*args)
        assert first.returncode == 0, first.stderr
        assert first.stdout == second.stdout
        assert not re.search(r"\d{4}-\d{2}-\d{2}", first.stdout), first.stdout
        stamped = project.cli(*args, "--timestamp")
        head, _, rest = stamped.stdout.partition("\n")
        assert re.fullmatch(r"-- generated \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00", head)
        assert rest == first.stdout
    refused = project.cli("apply", "--timestamp")
    assert refused.returncode == 2 and "only go with --sql" in refused.stderr


def test_offline_version_rows_record_when_the_script_ran(project: Project) -> None:
    """The script holds no time; the rows it writes have the database's UTC time."""
    _three(project)
    script = project.cli("apply", "--sql")
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    fed = subprocess.run(["sqlite3", "-bail", str(project.root / "app.db")],
                         input=script.stdout, capture_output=True, text=True, check=False)
    assert fed.returncode == 0, fed.stderr
    stored = rows(project.url, "SELECT applied_at FROM schemaflow_version")
    assert len(stored) == 3
    for (value,) in stored:
        at = dt.datetime.fromisoformat(str(value))
        assert before - dt.timedelta(minutes=5) <= at <= before + dt.timedelta(minutes=5)


# --- stamp --sql ------------------------------------------------------------------------------


def _feed_sqlite(p: Project, script: str) -> None:
    fed = subprocess.run(["sqlite3", "-bail", str(p.root / "app.db")], input=script,
                         capture_output=True, text=True, check=False)
    assert fed.returncode == 0, fed.stderr + script


def test_stamp_sql_prints_what_stamp_would_record(project: Project) -> None:
    ids = _three(project)
    script = project.cli("stamp", "--sql", ids[1])
    assert script.returncode == 0, script.stderr
    assert "CREATE TABLE IF NOT EXISTS schemaflow_version" in script.stdout
    assert "CREATE TABLE t" not in script.stdout  # stamp runs no changeset
    assert not (project.root / "app.db").exists()  # no database needed
    _feed_sqlite(project, script.stdout)
    current = project.cli("current", "--format", "json")
    assert [h["id"] for h in json.loads(current.stdout)["heads"]] == [ids[1]]
    assert [i["id"] for i in json.loads(project.cli("status", "--format", "json").stdout)[
        "pending"]] == [ids[2]]

    # FROM:TO: from what FROM applied, forwards and back.
    onward = project.cli("stamp", "--sql", f"{ids[1]}:{ids[2]}")
    assert "CREATE TABLE" not in onward.stdout and ids[2] in onward.stdout
    _feed_sqlite(project, onward.stdout)
    assert rows(project.url, "SELECT id FROM schemaflow_version ORDER BY exec_order") == [
        (ids[0],), (ids[1],), (ids[2],)]
    back = project.cli("stamp", "--sql", f"{ids[2]}:{ids[0]}")
    assert "DELETE FROM schemaflow_version" in back.stdout
    _feed_sqlite(project, back.stdout)
    assert rows(project.url, "SELECT id FROM schemaflow_version") == [(ids[0],)]
    # --purge: empties the table first.
    purged = project.cli("stamp", "--sql", "--purge", ids[1])
    _feed_sqlite(project, purged.stdout)
    assert rows(project.url, "SELECT id FROM schemaflow_version ORDER BY exec_order") == [
        (ids[0],), (ids[1],)]


def test_stamp_sql_refuses_what_needs_the_database(project: Project) -> None:
    _three(project)
    for args, says in ((("stamp", "--sql", "-1"), "needs the database"),
                       (("stamp", "--sql"), "needs a TARGET"),
                       (("stamp", "--sql", "--from-alembic"), "needs a TARGET"),
                       (("stamp", "head", "--dialect", "sqlite"), "only go with --sql")):
        done = project.cli(*args)
        assert done.returncode == 2, (args, done.stdout)
        assert says in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr


def test_stamp_sql_on_postgresql(project: Project, pg_url: str) -> None:
    p = make_project(project.root.parent / "pg", pg_url)
    ids = _three(p)
    script = p.cli("stamp", "--sql", "head")
    assert script.returncode == 0, script.stderr
    database = pg_url.rsplit("/", 1)[1]
    fed = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                          "-U", "postgres", "-d", database], input=script.stdout,
                         capture_output=True, text=True, check=False)
    assert fed.returncode == 0, fed.stderr
    assert json.loads(p.cli("status", "--format", "json").stdout)["pending"] == []
    assert [r[0] for r in rows(pg_url, "SELECT id FROM schemaflow_version ORDER BY "
                                       "exec_order")] == ids


# --- TOML ids written as numbers ----------------------------------------------------------------


def test_toml_numeric_ids_are_the_text_written(project: Project) -> None:
    project.write_text("20240115093000_first.toml", """\
schemaflow = 1
id = 20240115093000
parents = []
message = "first"

[[operations]]
[operations.create_table]
name = "t"
columns = [{ name = "id", type = "integer", primary_key = true },
           { name = "price", type = "float" }]
""")
    project.write_text("73e773485570_second.toml", """\
schemaflow = 1
id = 73e773485570
parents = [20240115093000]
message = 2024

[[operations]]
[operations.insert_rows]
table = "t"
rows = [{ id = 7, price = 1.5 }]
""")
    checked = project.cli("validate")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert project.cli("apply").returncode == 0
    history = json.loads(project.cli("history", "--format", "json").stdout)["changesets"]
    assert [(c["id"], c["parents"], c["message"]) for c in history] == [
        ("73e773485570", ["20240115093000"], "2024"), ("20240115093000", [], "first")]
    # Rows of data keep their types.
    assert rows(project.url, "SELECT id, price FROM t") == [(7, 1.5)]


# --- narrow terminals ---------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_status_and_history_are_readable_at_60_columns(project: Project) -> None:
    ids = project.chain(*([TABLE] if i == 0 else [{"add_column": {"table": "t", "column": {
        "name": f"c{i}", "type": "integer"}}}] for i in range(3)), prefix="changeset_")
    terminal = {"FORCE_COLOR": "1", "TERM": "xterm", "COLUMNS": "60"}
    for command in ("status", "history"):
        done = project.cli(command, env=terminal)
        assert done.returncode == 0, done.stderr
        lines = _ANSI.sub("", done.stdout).splitlines()
        assert lines and all(len(line) <= 60 for line in lines), done.stdout
        for cid in ids:  # every id whole on one line, never folded
            assert any(cid in line for line in lines), (cid, lines)
        assert any("change changeset_001" in line for line in lines), lines
    wide = project.cli("history", env={**terminal, "COLUMNS": "160"})
    assert "operations" in wide.stdout and "parents" in wide.stdout


def test_on_start_names_each_changeset_before_it_runs(project: Project) -> None:
    ids = _three(project)
    seen: list[tuple[str, str]] = []
    project.api().apply(on_start=lambda cid, message: seen.append((cid, message)),
                        on_item=lambda r: seen.append(("done", r.id)))
    assert seen == [e for cid in ids for e in ((cid, f"change {cid}"), ("done", cid))]
