"""The JSON Schema check: messages users read, their positions, every output format."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import DEMO, ROOT, Project

from schemaflow import history, source
from schemaflow.errors import Diagnostic
from schemaflow.validate import check_document, describe_path

HEADER = "schemaflow: 1\nid: c001\nparents: []\nmessage: m\noperations:\n"


def _check(text: str, fmt: source.Format = "yaml", name: str = "c001_x.yaml") -> list[Diagnostic]:
    return check_document(source.SourceFile(name, text, fmt, source.loads(text, fmt, name)))


def _pos(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """1-based (line, col) of the nth occurrence of `needle` in `text`."""
    idx = -1
    for _ in range(nth + 1):
        idx = text.index(needle, idx + 1)
    line = text.count("\n", 0, idx) + 1
    col = idx - (text.rfind("\n", 0, idx) + 1) + 1
    return line, col


def _only(diags: list[Diagnostic]) -> Diagnostic:
    assert len(diags) == 1, [d.message for d in diags]
    return diags[0]


# --- messages and positions --------------------------------------------------------------------

NULABLE = HEADER + """\
  - create_table:
      name: user
      columns:
        - {name: id, type: integer, primary_key: true}
        - {name: email, type: string(120), nulable: false}
"""


def test_unknown_key_with_suggestion_and_position() -> None:
    d = _only(_check(NULABLE))
    assert d.message == "unknown key 'nulable' — did you mean 'nullable'?"
    assert d.code == "SF003"
    assert d.severity == "error"
    assert d.file == "c001_x.yaml"
    assert (d.line, d.col) == _pos(NULABLE, "nulable") == (10, 44)


def test_unknown_key_in_block_style_column() -> None:
    text = HEADER + ("  - add_column:\n      table: user\n      column:\n"
                     "        name: a\n        type: text\n        defualt: x\n")
    d = _only(_check(text))
    assert d.message == "unknown key 'defualt' — did you mean 'default'?"
    assert (d.line, d.col) == _pos(text, "defualt")


def test_unknown_key_without_close_match_lists_the_allowed_keys() -> None:
    text = HEADER + "  - drop_table: {name: t, zzz: 1}\n"
    d = _only(_check(text))
    assert d.message == "unknown key 'zzz' in 'drop_table'"
    assert d.hint == "allowed: name, schema"
    assert (d.line, d.col) == _pos(text, "zzz")


def test_unknown_top_level_key() -> None:
    text = "schemaflow: 1\nid: c001\nparent: []\nmessage: m\noperations: []\n"
    diags = _check(text)
    assert "unknown key 'parent' — did you mean 'parents'?" in [d.message for d in diags]
    assert "the changeset is missing the required key 'parents'" in [d.message for d in diags]
    unknown = next(d for d in diags if d.code == "SF003")
    assert (unknown.line, unknown.col) == (3, 1)


def test_unknown_operation_with_suggestion() -> None:
    text = HEADER + "  - create_tabel:\n      name: t\n"
    d = _only(_check(text))
    assert d.message == "unknown operation 'create_tabel' — did you mean 'create_table'?"
    assert d.code == "SF003"
    assert (d.line, d.col) == _pos(text, "create_tabel") == (6, 5)


@pytest.mark.parametrize(("body", "message", "needle"), [
    ("  - drop_table: {}\n", "'drop_table' is missing the required key 'name'", "drop_table"),
    ("  - rename_column: {table: t, name: a}\n",
     "'rename_column' is missing the required key 'new_name'", "rename_column"),
    ("  - create_table:\n      name: t\n      columns:\n        - {name: a}\n",
     "a column is missing the required key 'type'", "{name: a}"),
    ("  - add_column: {table: t, column: {type: text}}\n",
     "a column is missing the required key 'name'", "column: {type"),
    ("  - create_foreign_key: {name: f, table: t, columns: [a], references: {table: u}}\n",
     "'references' is missing the required key 'columns'", "references"),
])
def test_missing_required_key(body: str, message: str, needle: str) -> None:
    # A missing key is reported where the object that lacks it is.
    text = HEADER + body
    d = _only(_check(text))
    assert d.message == message
    assert d.code == "SF002"
    assert (d.line, d.col) == _pos(text, needle)


def test_missing_top_level_key() -> None:
    d = _only(_check("schemaflow: 1\nid: c001\nparents: []\noperations: []\n"))
    assert d.message == "the changeset is missing the required key 'message'"


def test_several_missing_keys_are_named_in_one_message() -> None:
    d = _only(_check("schemaflow: 1\nmessage: m\n"))
    assert d.message == "the changeset is missing the required keys 'id', 'parents', 'operations'"
    d = _only(_check(HEADER + "  - add_column: {}\n"))
    assert d.message == "'add_column' is missing the required keys 'table', 'column'"


@pytest.mark.parametrize(("text", "message", "needle"), [
    # A plain `5` where a name goes is the text "5" (test_histories.py); a tag types it.
    ("schemaflow: 1\nid: c001\nparents: []\nmessage: !!int 5\noperations: []\n",
     "message must be a string, not 5", "message"),
    ("schemaflow: 1\nid: c001\nparents: []\nmessage: yes\noperations: []\ntransactional: on\n",
     "transactional must be true or false, not 'on'", "transactional"),
    (HEADER + "  - drop_table: {name: !!int 12}\n",
     "operations[0].drop_table.name must be a string, not 12", "name"),
    (HEADER + "  - create_table:\n      name: t\n      columns:\n        - {name: !!bool true, "
     "type: text}\n", "operations[0].create_table.columns[0].name must be a string, not true",
     "name: !!bool true"),
    (HEADER + "  - create_index: {name: i, table: t, columns: a}\n",
     "operations[0].create_index.columns must be a list, not 'a'", "columns"),
    (HEADER + "  - add_column: {table: t, column: {name: a, type: text, nullable: no}}\n",
     "operations[0].add_column.column.nullable must be true or false, not 'no'", "nullable"),
    ("schemaflow: 1\nid: c001\nparents: c000\nmessage: m\noperations: []\n",
     "parents must be a list, not 'c000'", "parents"),
])
def test_wrong_type(text: str, message: str, needle: str) -> None:
    d = _only(_check(text))
    assert d.message == message
    assert d.code == "SF002"
    assert (d.line, d.col) == _pos(text, needle)


def test_enum_violation() -> None:
    text = HEADER + """\
  - create_foreign_key:
      name: fk
      table: post
      columns: [author_id]
      references: {table: user, columns: [id]}
      ondelete: DELETE
"""
    d = _only(_check(text))
    assert d.message == ("operations[0].create_foreign_key.ondelete must be one of CASCADE, "
                         "SET NULL, SET DEFAULT, RESTRICT, NO ACTION, not 'DELETE'")
    assert (d.line, d.col) == _pos(text, "ondelete")


def test_empty_columns_list() -> None:
    text = HEADER + "  - create_table:\n      name: t\n      columns: []\n"
    d = _only(_check(text))
    assert d.message == "operations[0].create_table.columns must not be empty"
    assert (d.line, d.col) == _pos(text, "columns")


def test_other_constraints() -> None:
    assert _only(_check(HEADER + "  - drop_table: {name: a}\n    drop_index: {name: b, table: t}\n"
                        )).message.startswith(
        "an operation is a mapping with exactly one key, the operation's name (found 2)")
    assert _only(_check("schemaflow: 2\nid: c001\nparents: []\nmessage: m\noperations: []\n"
                        )).message == "schemaflow must be 1"
    bad_id = _only(_check("schemaflow: 1\nid: c-1\nparents: []\nmessage: m\noperations: []\n"))
    assert bad_id.message == "id: 'c-1' is not valid"
    assert bad_id.hint is not None and "letters, digits or underscores" in bad_id.hint
    assert _only(_check(HEADER + "  - create_index: {name: i, table: t, columns: [a, a]}\n"
                        )).message == "operations[0].create_index.columns lists the same item twice"
    assert _only(_check(HEADER + "  - alter_column: {table: t, name: a}\n")).message == (
        "operations[0].alter_column needs one of: comment, default, default_sql, drop_default, "
        "nullable, type")


def test_every_error_of_a_file_is_reported_in_line_order() -> None:
    text = """\
schemaflow: 1
id: c001
parents: []
message: m
operations:
  - create_table:
      name: user
      columns:
        - {name: id, type: integer, nulable: false}
  - create_foreign_key:
      name: fk
      table: post
      columns: [a]
      references: {table: user, columns: [id]}
      ondelete: DELETE
  - create_tabel: {name: x}
"""
    diags = _check(text)
    assert [d.message for d in diags] == [
        "unknown key 'nulable' — did you mean 'nullable'?",
        "operations[1].create_foreign_key.ondelete must be one of CASCADE, SET NULL, "
        "SET DEFAULT, RESTRICT, NO ACTION, not 'DELETE'",
        "unknown operation 'create_tabel' — did you mean 'create_table'?",
    ]
    assert [(d.line, d.col) for d in diags] == [
        _pos(text, "nulable"), _pos(text, "ondelete"), _pos(text, "create_tabel")]


def test_errors_found_bottom_up_are_still_sorted() -> None:
    text = ("operations:\n  - drop_table: {}\n"
            "schemaflow: 1\nid: c001\nparents: []\nmessage: !!int 7\nextra: 1\n")
    diags = _check(text)
    lines = [d.line for d in diags if d.line is not None]
    assert lines == sorted(lines)
    assert len(diags) == 3
    assert all(d.line is not None and d.col is not None for d in diags)


def test_toml_positions_follow_the_path() -> None:
    text = """\
schemaflow = 1
id = "c001"
parents = []
message = "m"

[[operations]]
[operations.create_table]
name = "user"
columns = [{ name = "id", type = "integer" }]

[[operations]]
[operations.drop_table]
name = ["x"]
"""
    d = _only(_check(text, "toml", "c001_x.toml"))
    # (A bare number there is the name written, as in YAML: a list is what is wrong.)
    assert d.message == "operations[1].drop_table.name must be a string, not a list"
    assert (d.line, d.col) == (13, 1)


def test_toml_unknown_key() -> None:
    text = ('schemaflow = 1\nid = "c001"\nparents = []\nmessage = "m"\n\n[[operations]]\n'
            '[operations.create_table]\nname = "user"\n'
            'columns = [{ name = "id", type = "integer", nulable = false }]\n')
    d = _only(_check(text, "toml", "c001_x.toml"))
    assert d.message == "unknown key 'nulable' — did you mean 'nullable'?"
    assert (d.line, d.col) == _pos(text, "nulable")


def test_alter_column_empty_comment_removes_it_and_null_is_a_type_error(project: Project) -> None:
    # The schema documents `comment: ""` as "remove the comment"; null is not a string.
    project.write("c001", [{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True, "comment": "the key"}]}}])
    project.write("c002", [{"alter_column": {"table": "t", "name": "id", "comment": ""}}],
                  parents=["c001"])
    r = project.cli("validate")
    assert r.returncode == 0, r.stdout + r.stderr
    project.write("c003", [{"alter_column": {"table": "t", "name": "id", "comment": None}}],
                  parents=["c002"])
    r = project.cli("validate")
    assert r.returncode == 1
    assert "must be a string" in r.stdout


@pytest.mark.parametrize(("path", "text"), [
    ((), "the document"),
    (("operations", 2, "create_table", "columns", 0), "operations[2].create_table.columns[0]"),
    (("id",), "id"),
])
def test_describe_path(path: tuple[Any, ...], text: str) -> None:
    assert describe_path(path) == text


# --- the demo changesets -----------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(source.list_files(DEMO)), ids=lambda p: p.name)
def test_demo_changeset_is_valid(path: Path) -> None:
    src, cs, diags = history.load_file(path)
    assert diags == []
    assert src is not None and cs is not None
    assert check_document(src) == []


def test_demo_project_validates_cleanly(demo_project: Project) -> None:
    r = demo_project.cli("validate")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"No problems found in {len(source.list_files(DEMO))} changesets" in r.stdout


# --- the command line --------------------------------------------------------------------------


BAD = """\
schemaflow: 1
id: c002
parents: [c001]
message: bad
operations:
  - add_column:
      table: t
      column: {name: email, type: string(120), nulable: false}
  - create_tabel: {name: x}
"""
NULABLE_AT = _pos(BAD, "nulable")
TABEL_AT = _pos(BAD, "create_tabel")


def _bad(project: Project) -> Path:
    project.write("c001", [{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}], slug="good")
    return project.write_text("c002_bad.yaml", BAD)


def test_cli_text_output_and_exit_code(project: Project) -> None:
    _bad(project)
    r = project.cli("validate")
    assert r.returncode == 1, r.stdout + r.stderr
    assert (f"changesets/c002_bad.yaml:{NULABLE_AT[0]}:{NULABLE_AT[1]}: error SF003 unknown "
            "key 'nulable' — did you mean 'nullable'?") in r.stdout
    assert (f"changesets/c002_bad.yaml:{TABEL_AT[0]}:{TABEL_AT[1]}: error SF003 unknown "
            "operation 'create_tabel' — did you mean 'create_table'?") in r.stdout
    assert "2 errors, 0 warnings" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr


def test_cli_good_files_exit_zero(project: Project) -> None:
    project.chain(
        [{"create_table": {"name": "t", "columns": [{"name": "id", "type": "integer",
                                                     "primary_key": True}]}}],
        [{"add_column": {"table": "t", "column": {"name": "on", "type": "boolean"}}}],
    )
    r = project.cli("validate")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "No problems found in 2 changesets" in r.stdout


def test_cli_json(project: Project) -> None:
    _bad(project)
    r = project.cli("validate", "--format", "json")
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    diags = doc["diagnostics"]
    assert isinstance(diags, list)
    assert [(d["file"], d["line"], d["col"], d["code"], d["severity"]) for d in diags] == [
        ("changesets/c002_bad.yaml", *NULABLE_AT, "SF003", "error"),
        ("changesets/c002_bad.yaml", *TABEL_AT, "SF003", "error"),
    ]
    assert diags[0]["message"] == "unknown key 'nulable' — did you mean 'nullable'?"
    assert set(diags[0]) >= {"code", "severity", "message", "file", "line", "col", "hint"}
    assert doc["summary"]["errors"] == 2


def test_cli_json_when_clean(project: Project) -> None:
    project.write("c001", [{"create_table": {"name": "x", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}])
    r = project.cli("validate", "--format", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["diagnostics"] == []
    assert doc["summary"]["errors"] == 0


def test_cli_github(project: Project) -> None:
    _bad(project)
    r = project.cli("validate", "--format", "github")
    assert r.returncode == 1, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln]
    assert lines == [
        f"::error file=changesets/c002_bad.yaml,line={NULABLE_AT[0]},col={NULABLE_AT[1]},"
        "title=SF003::unknown key 'nulable' — did you mean 'nullable'?",
        f"::error file=changesets/c002_bad.yaml,line={TABEL_AT[0]},col={TABEL_AT[1]},"
        "title=SF003::unknown operation 'create_tabel' — did you mean 'create_table'?",
    ]
    assert all(re.match(r"::error file=[^,]+,line=\d+", ln) for ln in lines)


def test_cli_syntax_error_is_reported_not_raised(project: Project) -> None:
    project.write_text("c001_broken.toml", 'schemaflow = 1\nid = "c001"\nparents = [\n')
    project.write_text("c002_broken.yaml", "schemaflow: 1\nid: c002\nid: c003\n")
    r = project.cli("validate")
    assert r.returncode == 1
    assert "Traceback" not in r.stdout + r.stderr
    assert "changesets/c001_broken.toml" in r.stdout
    assert "changesets/c002_broken.yaml:3:1: error SF001" in r.stdout


def test_cli_unknown_format_is_bad_usage(project: Project) -> None:
    r = project.cli("validate", "--format", "xml")
    assert r.returncode == 2
    assert "Traceback" not in r.stdout + r.stderr


def test_cli_paths_report_errors_of_the_whole_history(project: Project) -> None:
    _bad(project)
    good = "changesets/c001_good.yaml"
    r = project.cli("validate", good)
    # The project c001 belongs to is checked whole: the broken c002 is reported.
    assert r.returncode == 1, r.stdout + r.stderr
    assert "c002_bad" in r.stdout
    bad = project.cli("validate", "changesets/c002_bad.yaml")
    assert bad.returncode == 1
    assert f"c002_bad.yaml:{NULABLE_AT[0]}:{NULABLE_AT[1]}" in bad.stdout


# --- the packaged schemas ----------------------------------------------------------------------


def test_wheel_schemas_equal_the_repository_copies(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    (wheel,) = tmp_path.glob("schemaflow-*.whl")
    repo = {p.name: p.read_bytes() for p in (ROOT / "schemas").glob("*.json")}
    assert {"changeset.schema.json", "config.schema.json"} <= set(repo)
    with zipfile.ZipFile(wheel) as zf:
        packaged = {Path(n).name: zf.read(n) for n in zf.namelist()
                    if re.fullmatch(r"schemaflow/schemas/[^/]+\.json", n)}
    assert packaged == repo
