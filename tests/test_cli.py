"""The command line as a user types it: exit codes, messages, and the database afterwards."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Project, reflect, rows, run_cli

from schemaflow import __version__

DEMO_ORDER = ["4b7e2a9c1d30", "9d3f61c0a8b2", "e25a0b7c4f18", "71c8d2e9b5a4",
              "a6b04f3e7c12", "3e9c57d1f0ab", "c40d8e2b6f95", "f81b3a5c9e07"]

CREATE_T = [{"create_table": {"name": "t", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "n", "type": "string(20)"},
]}}]
ADD_X = [{"add_column": {"table": "t", "column": {"name": "x", "type": "integer"}}}]
ADD_Y = [{"add_column": {"table": "t", "column": {"name": "y", "type": "integer"}}}]

ANSI = re.compile(r"\x1b\[")


def applied(p: Project) -> list[str]:
    return [r[0] for r in rows(p.url, "SELECT id FROM schemaflow_version ORDER BY exec_order")]


def snapshot(p: Project) -> tuple[Any, Any]:
    return reflect(p.url), rows(p.url, "SELECT id, checksum, exec_order FROM schemaflow_version "
                                       "ORDER BY exec_order")


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def ids_of(items: list[dict[str, Any]]) -> list[str]:
    return [i["id"] for i in items]


def assert_user_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    """A user error: the exit code, one message, no traceback. Returns stderr."""
    out = result.stdout + result.stderr
    assert result.returncode == code, (result.returncode, out)
    assert "Traceback" not in out
    assert result.stderr.strip(), "the error must be explained on stderr"
    lines = result.stderr.splitlines()
    diagnostics = [ln for ln in lines if re.search(r": error SF\d+", ln)]
    summaries = [ln for ln in lines if ln.lower().startswith("error:")]
    assert len(diagnostics) <= 1, result.stderr
    assert len(summaries) == 1, result.stderr
    return result.stderr


# --- version, help, unknown commands --------------------------------------------------------


def test_version_help_and_unknown_command(tmp_path: Path) -> None:
    version = run_cli("--version", cwd=tmp_path)
    assert version.returncode == 0
    assert __version__ in version.stdout

    helped = run_cli("--help", cwd=tmp_path)
    assert helped.returncode == 0
    for command in ("init", "new", "apply", "rollback", "current", "status", "history",
                    "heads", "show", "merge"):
        assert command in helped.stdout

    unknown = run_cli("frobnicate", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "frobnicate" in unknown.stderr
    assert "Traceback" not in unknown.stderr


# --- init -------------------------------------------------------------------------------------


def test_init_writes_the_project_and_refuses_to_run_twice(tmp_path: Path) -> None:
    first = run_cli("init", "myproject", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    root = tmp_path / "myproject"
    config = root / "schemaflow.toml"
    assert tomllib.loads(config.read_text())["changesets"] == "changesets"
    assert (root / "changesets").is_dir()
    schema = root / ".schemaflow" / "changeset.schema.json"
    assert json.loads(schema.read_text())
    settings = json.loads((root / ".vscode" / "settings.json").read_text())
    assert any("changeset.schema.json" in k for k in settings["yaml.schemas"])

    # A user edits the files; a second init must not touch them.
    config.write_text('url = "sqlite:///mine.db"\n')
    (root / ".vscode" / "settings.json").write_text('{"editor.tabSize": 2}\n')
    schema.write_text("{}")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    second = run_cli("init", "myproject", cwd=tmp_path)
    assert_user_error(second, 2)
    assert "schemaflow.toml" in second.stderr
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_init_keeps_existing_vscode_settings(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / ".vscode").mkdir(parents=True)
    (root / ".vscode" / "settings.json").write_text('{"editor.tabSize": 2}\n')
    done = run_cli("init", str(root), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    settings = json.loads((root / ".vscode" / "settings.json").read_text())
    assert settings["editor.tabSize"] == 2
    assert "yaml.schemas" in settings


def test_init_format_toml_makes_new_write_toml(tmp_path: Path) -> None:
    assert run_cli("init", "proj", "--format", "toml", cwd=tmp_path).returncode == 0
    root = tmp_path / "proj"
    made = run_cli("new", "-m", "create user table", cwd=root)
    assert made.returncode == 0, made.stderr
    path = root / made.stdout.strip()  # relative to the folder it ran in
    assert path.suffix == ".toml"
    assert path.parent.resolve() == (root / "changesets").resolve()
    doc = tomllib.loads(path.read_text())
    assert doc["parents"] == []
    assert doc["message"] == "create user table"
    assert path.name == f"{doc['id']}_create_user_table.toml"


# --- new, revision, merge -----------------------------------------------------------------------


def _new(p: Project, *args: str) -> tuple[Path, dict[str, Any]]:
    made = p.cli(*args)
    assert made.returncode == 0, made.stderr
    path = Path(made.stdout.strip())
    if not path.is_absolute():
        path = p.root / path
    assert path.is_file(), made.stdout
    return path, yaml.safe_load(path.read_text())


def test_new_chains_changesets_and_revision_is_an_alias(project: Project) -> None:
    p = project
    path1, doc1 = _new(p, "new", "-m", "create user table")
    assert path1.parent.resolve() == p.changesets.resolve()
    assert path1.name == f"{doc1['id']}_create_user_table.yaml"
    assert re.fullmatch(r"[A-Za-z0-9_]{1,64}", doc1["id"])
    assert doc1["schemaflow"] == 1
    assert doc1["parents"] == []
    assert doc1["message"] == "create user table"
    assert doc1.get("operations", []) == []

    _, doc2 = _new(p, "new", "-m", "add email")
    assert doc2["parents"] == [doc1["id"]]
    _, doc3 = _new(p, "revision", "-m", "add name")
    assert doc3["parents"] == [doc2["id"]]
    assert len({doc1["id"], doc2["id"], doc3["id"]}) == 3


def test_new_writes_a_block_style_yaml_file(project: Project) -> None:
    """The README says: run new, 'then edit the file' - every top-level key on its own line."""
    path, _ = _new(project, "new", "-m", "create user table")
    lines = path.read_text().splitlines()
    for key in ("schemaflow", "id", "parents", "message", "operations"):
        assert any(ln.startswith(f"{key}:") for ln in lines), path.read_text()


def test_new_parent_branch_label_depends_on_and_merge(project: Project) -> None:
    p = project
    p.write("r001", CREATE_T)
    p.write("a001", ADD_X, parents=["r001"])
    p.write("b001", ADD_Y, parents=["r001"])

    # Two heads: `new` without --parent refuses, naming both, and writes nothing.
    files = sorted(p.changesets.iterdir())
    refused = p.cli("new", "-m", "after both")
    err = assert_user_error(refused, 2)
    assert "a001" in err and "b001" in err
    assert sorted(p.changesets.iterdir()) == files

    branch_points = as_json(p.cli("branches", "--format", "json"))["branches"]
    assert ids_of(branch_points) == ["r001"]
    assert sorted(branch_points[0]["children"]) == ["a001", "b001"]
    text = p.cli("branches")
    assert text.returncode == 0
    assert "r001" in text.stdout and "a001" in text.stdout and "b001" in text.stdout

    _, doc = _new(p, "new", "-m", "feature", "--parent", "a00", "--branch-label", "feat",
                  "--depends-on", "b001")
    assert doc["parents"] == ["a001"]
    assert doc["branch_labels"] == ["feat"]
    assert doc["depends_on"] == ["b001"]
    feature = doc["id"]

    merged = p.cli("merge", "-m", "join the branches")
    assert merged.returncode == 0, merged.stderr
    merge_doc = yaml.safe_load((p.root / merged.stdout.strip()).read_text())
    assert sorted(merge_doc["parents"]) == sorted([feature, "b001"])

    heads = as_json(p.cli("heads", "--format", "json"))["heads"]
    assert ids_of(heads) == [merge_doc["id"]]


# --- apply / rollback and their aliases -------------------------------------------------------


def test_apply_rollback_and_their_alembic_aliases(demo_project: Project) -> None:
    p = demo_project
    up = p.cli("upgrade", "9d3f")
    assert up.returncode == 0, up.stderr
    assert applied(p) == DEMO_ORDER[:2]
    assert set(reflect(p.url)) == {"users", "posts"}

    more = p.cli("apply", "+2")
    assert more.returncode == 0, more.stderr
    assert applied(p) == DEMO_ORDER[:4]

    down = p.cli("downgrade", "-1")
    assert down.returncode == 0, down.stderr
    assert applied(p) == DEMO_ORDER[:3]

    back = p.cli("rollback", "base")
    assert back.returncode == 0, back.stderr
    assert applied(p) == []
    assert reflect(p.url) == {}


# --- listings -------------------------------------------------------------------------------


def test_listings_in_text_and_json(demo_project: Project) -> None:
    p = demo_project
    assert p.cli("apply", "9d3f").returncode == 0

    cur = p.cli("current")
    assert cur.returncode == 0, cur.stderr
    assert "9d3f61c0a8b2" in cur.stdout and "create posts table" in cur.stdout
    cur_json = as_json(p.cli("current", "--format", "json"))
    assert ids_of(cur_json["heads"]) == ["9d3f61c0a8b2"]
    assert ids_of(cur_json["applied"]) == DEMO_ORDER[:2]

    st = p.cli("status")
    assert st.returncode == 0, st.stderr
    positions = [st.stdout.index(i) for i in DEMO_ORDER[2:]]
    assert positions == sorted(positions)
    assert "4b7e2a9c1d30 ->" not in st.stdout
    pending = as_json(p.cli("status", "--format", "json"))["pending"]
    assert ids_of(pending) == DEMO_ORDER[2:]
    assert all(x["applied"] is False for x in pending)

    hist = p.cli("history")
    assert hist.returncode == 0, hist.stderr
    positions = [hist.stdout.index(f"-> {i}") for i in reversed(DEMO_ORDER)]
    assert positions == sorted(positions)
    hist_json = as_json(p.cli("history", "--format", "json"))["changesets"]
    assert ids_of(hist_json) == list(reversed(DEMO_ORDER))
    assert hist_json[0]["is_head"] is True
    assert hist_json[0]["tag"] == "v1.0"

    ranged = p.cli("history", "-r", "9d3f:71c8")
    assert ranged.returncode == 0, ranged.stderr
    shown = re.findall(r"-> ([0-9a-f]{12})", ranged.stdout)
    assert shown == ["71c8d2e9b5a4", "e25a0b7c4f18", "9d3f61c0a8b2"]
    ranged_json = as_json(p.cli("history", "-r", "9d3f:71c8", "--format", "json"))
    assert ids_of(ranged_json["changesets"]) == shown

    hd = p.cli("heads")
    assert hd.returncode == 0
    assert "f81b3a5c9e07" in hd.stdout
    assert ids_of(as_json(p.cli("heads", "--format", "json"))["heads"]) == ["f81b3a5c9e07"]

    assert as_json(p.cli("branches", "--format", "json"))["branches"] == []

    sh = p.cli("show", "e25a")
    assert sh.returncode == 0, sh.stderr
    assert "e25a0b7c4f18" in sh.stdout and "create comments table" in sh.stdout
    assert "e25a0b7c4f18_create_comments.yaml" in sh.stdout
    sh_json = as_json(p.cli("show", "e25a", "--format", "json"))
    assert sh_json["id"] == "e25a0b7c4f18"
    assert sh_json["parents"] == ["9d3f61c0a8b2"]
    assert sh_json["author"] == "bob"
    assert sh_json["operations"] == ["create_table"]
    assert sh_json["path"].endswith("e25a0b7c4f18_create_comments.yaml")


def test_current_on_a_missing_database_creates_nothing(demo_project: Project) -> None:
    p = demo_project
    db = p.root / "app.db"
    assert not db.exists()
    text = p.cli("current")
    assert text.returncode == 0, text.stderr
    assert "nothing applied" in text.stdout
    data = as_json(p.cli("current", "--format", "json"))
    assert data["heads"] == [] and data["applied"] == []
    assert not db.exists()


# --- bad inputs: one message, no traceback, database unchanged -------------------------------

BROKEN_YAML = """\
schemaflow: 1
id: c003
parents: [c002]
message: broken
operations:
  - drop_column: {table: t, name: x
"""


def _bad_yaml(p: Project) -> list[str]:
    p.write_text("c003_broken.yaml", BROKEN_YAML)
    return ["apply"]


def _unknown_key(p: Project) -> list[str]:
    p.write("c003", [{"add_column": {"table": "t", "column": {
        "name": "z", "type": "integer", "nullabel": False}}}], parents=["c002"])
    return ["apply"]


def _wrong_type(p: Project) -> list[str]:
    p.write("c003", [{"add_column": {"table": "t", "column": {
        "name": "z", "type": "integer", "nullable": "maybe"}}}], parents=["c002"])
    return ["apply"]


def _missing_parent(p: Project) -> list[str]:
    p.write("c003", ADD_Y, parents=["zz9999"])
    return ["apply"]


def _cycle(p: Project) -> list[str]:
    p.write("k001", ADD_Y, parents=["c002", "k002"])
    p.write("k002", [], parents=["k001"])
    return ["apply"]


def _duplicate(p: Project) -> list[str]:
    p.write("c002", ADD_X, parents=["c001"], slug="again")
    return ["apply"]


def _unknown_table(p: Project) -> list[str]:
    p.write("c003", [{"add_column": {"table": "nosuchtable", "column": {
        "name": "z", "type": "integer"}}}], parents=["c002"])
    return ["apply"]


def _ambiguous(p: Project) -> list[str]:
    p.write("c003", ADD_Y, parents=["c002"])
    return ["apply", "c00"]


UNREACHABLE = "postgresql+psycopg://u:secret@127.0.0.1:1/x"

BAD_INPUTS: list[tuple[str, Callable[[Project], list[str]], int, list[str]]] = [
    ("malformed-yaml", _bad_yaml, 1, [r"c003_broken\.yaml:\d+"]),
    ("unknown-key", _unknown_key, 1, ["nullabel", "did you mean 'nullable'"]),
    ("wrong-type", _wrong_type, 1, ["c003_change.yaml", "nullable", "maybe"]),
    ("missing-parent", _missing_parent, 1, ["zz9999"]),
    ("cycle", _cycle, 1, ["cycle", "k001", "k002"]),
    ("duplicate-id", _duplicate, 1, ["c002_change.yaml", "c002_again.yaml"]),
    ("unknown-table", _unknown_table, 1, ["nosuchtable"]),
    ("ambiguous-id", _ambiguous, 2, ["c001", "c002", "c003", "ambiguous"]),
    ("unknown-target", lambda p: ["apply", "nosuch"], 2, ["nosuch"]),
    ("unreachable-db", lambda p: ["--url", UNREACHABLE, "apply"], 2, ["127.0.0.1"]),
    ("unknown-driver", lambda p: ["--url", "postgresql+nodriver://u:secret@db/x", "apply"], 2,
     ["nodriver"]),
    # An unparsable URL is never echoed: it may hold a password.
    ("not-a-url", lambda p: ["--url", "not a url", "apply"], 2, ["not a database URL"]),
    ("format-xml", lambda p: ["status", "--format", "xml"], 2, ["xml"]),
    ("new-without-m", lambda p: ["new"], 2, ["--message"]),
]


@pytest.mark.parametrize(("make", "code", "needles"), [c[1:] for c in BAD_INPUTS],
                         ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_gives_one_message_and_changes_nothing(
        project: Project, make: Callable[[Project], list[str]], code: int,
        needles: list[str]) -> None:
    p = project
    p.chain(CREATE_T)
    p.api().apply()
    p.write("c002", ADD_X, parents=["c001"])  # pending: must stay pending
    args = make(p)
    before = snapshot(p)
    files = {f.name: f.read_bytes() for f in p.changesets.iterdir()}

    err = assert_user_error(p.cli(*args), code)
    for needle in needles:
        assert re.search(needle, err), (needle, err)
    assert "secret" not in err
    assert snapshot(p) == before
    assert applied(p) == ["c001"]
    assert {f.name: f.read_bytes() for f in p.changesets.iterdir()} == files


# --- edited and missing applied changesets ---------------------------------------------------

REFORMATTED = """\
# The same changeset, reformatted by hand: comments, indentation, key order, flow style.
message: change c001
id: c001
schemaflow: 1
parents: []
operations:
    -   create_table:
            columns:
                - {type: integer, primary_key: true, name: id}   # the key
                - {name: n,   type: string(20)}
            name: t
"""


def test_edited_applied_changeset_is_drift_but_reformatting_is_not(project: Project) -> None:
    p = project
    p.chain(CREATE_T, ADD_X)
    assert p.cli("apply").returncode == 0
    original = (p.changesets / "c001_change.yaml").read_text()

    # A real edit: the column type changes.
    p.write("c003", ADD_Y, parents=["c002"])
    (p.changesets / "c001_change.yaml").write_text(original.replace("string(20)", "string(40)"))
    before = snapshot(p)
    edited = p.cli("apply")
    err = assert_user_error(edited, 1)
    assert "c001" in err
    assert snapshot(p) == before

    # Reformatting changes nothing that matters.
    (p.changesets / "c001_change.yaml").write_text(REFORMATTED)
    reformatted = p.cli("apply")
    assert reformatted.returncode == 0, reformatted.stderr
    assert applied(p) == ["c001", "c002", "c003"]

    # Nor does converting it to TOML.
    (p.changesets / "c001_change.yaml").unlink()
    p.write("c001", CREATE_T, fmt="toml")
    as_toml = p.cli("apply")
    assert as_toml.returncode == 0, as_toml.stderr

    # `rehash` accepts an intended edit.
    (p.changesets / "c001_change.toml").unlink()
    (p.changesets / "c001_change.yaml").write_text(original.replace("string(20)", "string(40)"))
    old_sum = rows(p.url, "SELECT checksum FROM schemaflow_version WHERE id = 'c001'")
    accepted = p.cli("rehash", "c001")
    assert accepted.returncode == 0, accepted.stderr
    assert rows(p.url, "SELECT checksum FROM schemaflow_version WHERE id = 'c001'") != old_sum
    after = p.cli("apply")
    assert after.returncode == 0, after.stderr


def test_applied_changeset_missing_from_the_folder(project: Project) -> None:
    p = project
    p.chain(CREATE_T, ADD_X)
    assert p.cli("apply").returncode == 0
    (p.changesets / "c002_change.yaml").unlink()
    p.write("c003", ADD_Y, parents=["c001"])
    before = snapshot(p)
    missing = p.cli("apply")
    err = assert_user_error(missing, 1)
    assert "c002" in err
    assert "hint" in err
    assert snapshot(p) == before


# --- offline SQL and dry runs ------------------------------------------------------------------


def test_apply_sql_needs_no_database(demo_project: Project) -> None:
    p = demo_project
    offline = p.cli("--url", "postgresql+psycopg://nobody@127.0.0.1:1/x", "apply", "--sql")
    assert offline.returncode == 0, offline.stderr
    assert "CREATE TABLE users" in offline.stdout
    assert "CREATE TABLE post_tags" in offline.stdout

    pg = p.cli("apply", "--sql", "--dialect", "postgresql")
    assert pg.returncode == 0, pg.stderr
    assert "CREATE TABLE users" in pg.stdout
    assert "(sqlite)" not in pg.stdout
    assert not (p.root / "app.db").exists()


def test_apply_dry_run_prints_sql_and_changes_nothing(demo_project: Project) -> None:
    p = demo_project
    assert p.cli("apply", "9d3f").returncode == 0
    before = snapshot(p)
    dry = p.cli("apply", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "CREATE TABLE comments" in dry.stdout
    assert "CREATE TABLE users" not in dry.stdout
    assert snapshot(p) == before


def test_apply_dry_run_does_not_create_the_database(demo_project: Project) -> None:
    p = demo_project
    dry = p.cli("apply", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "CREATE TABLE users" in dry.stdout
    assert not (p.root / "app.db").exists()


# --- NO_COLOR ------------------------------------------------------------------------------------


def test_no_color_piped_output_has_no_escape_codes(demo_project: Project) -> None:
    done = demo_project.cli("history", "--verbose")
    assert done.returncode == 0
    failed = demo_project.cli("show", "nosuch")
    assert failed.returncode == 2
    for text in (done.stdout, done.stderr, failed.stdout, failed.stderr):
        assert not ANSI.search(text), repr(text)


def _in_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run schemaflow on a pseudo-terminal with NO_COLOR=1, as in a user's shell."""
    import pty

    env = {k: v for k, v in os.environ.items()
           if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "SCHEMAFLOW_URL", "DATABASE_URL")}
    env.update({"NO_COLOR": "1", "TERM": "xterm-256color", "COLUMNS": "200"})
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "schemaflow", *args], cwd=cwd, env=env,
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode(errors="replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_no_color_terminal_output_has_no_escape_codes(demo_project: Project) -> None:
    code, listing = _in_terminal(["heads"], demo_project.root)
    assert code == 0, listing
    assert "f81b3a5c9e07" in listing
    code, error = _in_terminal(["show", "nosuch"], demo_project.root)
    assert code == 2, error
    assert not ANSI.search(listing), repr(listing)
    assert not ANSI.search(error), repr(error)


def test_a_version_table_of_another_shape_is_one_clear_error(project: Project) -> None:
    import sqlite3

    db = project.root / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE schemaflow_version (x INTEGER)")
    result = project.cli("current")
    assert result.returncode == 2
    assert "the database failed" in result.stderr and "schemaflow_version.id" in result.stderr
    assert "Traceback" not in result.stderr


def test_global_options_may_follow_the_command(project: Project, tmp_path: Path) -> None:
    project.chain([{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}])
    other = tmp_path / "other.db"
    done = project.cli("apply", "--url", f"sqlite:///{other}", "-q")
    assert done.returncode == 0, done.stderr
    assert other.exists() and not (project.root / "app.db").exists()
    done = project.cli("current", "-c", str(project.root / "schemaflow.toml"),
                       f"--url=sqlite:///{other}")
    assert done.returncode == 0 and "c001" in done.stdout


def test_hoisting_leaves_a_commands_own_options_and_values() -> None:
    import typer

    from schemaflow.cli import app
    from schemaflow.cli.app import hoisted

    group = typer.main.get_command(app)
    assert hoisted(group, ["check", "--url", "u", "--against-db"]) == [
        "--url", "u", "check", "--against-db"]
    # `current -v` is current's own --verbose; `-m -q` is a message that reads "-q".
    assert hoisted(group, ["current", "-v", "-c", "f"]) == ["-c", "f", "current", "-v"]
    assert hoisted(group, ["new", "-m", "-q"]) == ["new", "-m", "-q"]
    assert hoisted(group, ["--url", "u", "status"]) == ["--url", "u", "status"]
    assert hoisted(group, ["nosuch", "--url", "u"]) == ["nosuch", "--url", "u"]


@pytest.mark.postgresql
def test_a_postgres_scheme_url_means_postgresql(project: Project, pg_url: str) -> None:
    project.chain([{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}])
    url = "postgres://" + pg_url.split("://", 1)[1]
    assert project.cli("apply", env={"DATABASE_URL": url}).returncode == 0
    done = project.cli("current", env={"DATABASE_URL": url})
    assert done.returncode == 0 and "c001" in done.stdout
    assert rows(pg_url, "SELECT id FROM schemaflow_version") == [("c001",)]
    assert not (project.root / "app.db").exists()


def test_a_changeset_applied_without_its_parent_is_reported_not_a_traceback(
        project: Project) -> None:
    ids = project.chain(
        [{"create_table": {"name": "a", "columns": [
            {"name": "id", "type": "integer", "primary_key": True}]}}],
        [{"create_table": {"name": "b", "columns": [
            {"name": "id", "type": "integer", "primary_key": True}]}}])
    assert project.cli("apply").returncode == 0
    import sqlite3

    with sqlite3.connect(project.root / "app.db") as conn:  # a row deleted by hand
        conn.execute("DELETE FROM schemaflow_version WHERE id = ?", (ids[0],))
    for args in (("apply",), ("apply", "--dry-run"), ("rollback", "base"), ("rollback", "-1")):
        done = project.cli(*args)
        assert done.returncode == 1, (args, done.stderr)
        assert "Traceback" not in done.stderr
        assert f"{ids[1]}" in done.stderr and "applied without what they build on" in done.stderr
    done = project.cli("validate", "--db")
    assert done.returncode == 1
    assert "SF023" in done.stdout and f"but {ids[0]}, which it builds on, is not" in done.stdout
    assert rows(project.url, "SELECT id FROM schemaflow_version") == [(ids[1],)]
