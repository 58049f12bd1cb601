"""Hostile changeset files at the loader: every failure a positioned diagnostic (tags and
scalars PyYAML's constructors choke on included), nesting and alias expansion refused without
crashing, a size limit checked before reading, symbolic links kept inside the project, file
content never quoted, and positions located from one parse per file."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
import tomli_w
import yaml
from conftest import Project

from schemaflow import source
from schemaflow.errors import ValidationFailed
from schemaflow.history import load
from schemaflow.source import Limits, SourceError, SourceFile

HEAD = "schemaflow: 1\nid: c001\nparents: []\n"


def _error(text: str, path: str = "c001_x.yaml") -> Any:
    with pytest.raises(SourceError) as info:
        source.loads(text, "yaml", path)
    return info.value.diagnostic


# --- tags and scalars ---------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "words"), [
    ("!!bool maybe", "'maybe' is not a valid !!bool"),
    ("!!bool ''", "'' is not a valid !!bool"),
    ("!!int abc", "'abc' is not a valid !!int"),
    ("!!int 1.5", "'1.5' is not a valid !!int"),
    ("!!int " + "9" * 5000, "'99999999999999999999...' is not a valid !!int"),
    ("!!float x", "'x' is not a valid !!float"),
    ("!!float ''", "'' is not a valid !!float"),
    ("!!timestamp 2001-12-14", "the tag '!!timestamp' is not allowed"),
    ("!!timestamp ''", "the tag '!!timestamp' is not allowed"),
    ("!!binary aGVsbG8=", "the tag '!!binary' is not allowed"),
    ("!!set {a, b}", "the tag '!!set' is not allowed"),
    ("!!omap [a: 1]", "the tag '!!omap' is not allowed"),
    ("!!str {a: 1}", "the tag '!!str' is not allowed"),
    ("!!map [1]", "the tag '!!map' is not allowed"),
    ("!local x", "the tag '!local' is not allowed"),
    ("!<tag:example.com,2000:x> y", "the tag 'tag:example.com,2000:x' is not allowed"),
    ("!!python/object/apply:os.system ['true']", "'!!python/object/apply:os.system' is not"),
    ("*undefined", "found undefined alias 'undefined'"),
    ("&a [1, *a]", "an alias refers to the value that contains it"),
])
def test_a_bad_tag_or_scalar_anywhere_is_one_positioned_diagnostic(value: str,
                                                                   words: str) -> None:
    # Deep inside an operation, as a pull request would put it.
    text = (HEAD + "message: m\noperations:\n  - create_table:\n      name: t\n"
            f"      comment: {value}\n")
    d = _error(text)
    assert d.code == "SF001"
    assert words in d.message, d.message
    assert (d.file, d.line) == ("c001_x.yaml", 8)
    assert d.col is not None
    assert len(d.message) < 200


def test_plain_scalars_and_allowed_tags_still_load() -> None:
    doc = source.loads("a: !!int '12'\nb: !!float 1\nc: !!str 5\nd: !!bool TRUE\ne: !!null x\n"
                       "f: 0x1F\ng: 0o17\nh: -.inf\ni: ! 12\nj: !!seq [1]\nk: !!map {x: 1}\n",
                       "yaml", "x.yaml")
    assert doc == {"a": 12, "b": 1.0, "c": "5", "d": True, "e": None, "f": 31, "g": 15,
                   "h": float("-inf"), "i": "12", "j": [1], "k": {"x": 1}}


@pytest.mark.parametrize(("text", "words", "line"), [
    ("a: 1\nb: [1, 2]\na: 3\n", "the key 'a' appears twice", 3),
    ("? [a]\n: 1\n", "a mapping key must be a plain value", 1),
    ("a: &x {k: 1}\nb: {*x : 1}\n", "a mapping key must be a plain value", 2),
    ("a: 1\n---\nb: 2\n", "expected a single document", 2),
])
def test_keys_and_documents(text: str, words: str, line: int) -> None:
    d = _error(text)
    assert words in d.message
    assert d.line == line


def test_a_control_character_is_positioned() -> None:
    d = _error("a: 1\nb: x\x07y\n")
    assert (d.line, d.col) == (2, 5)
    assert "U+0007" in d.message


# --- nesting and aliases ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["flow", "compact", "mapping", "unclosed"])
@pytest.mark.parametrize("depth", [100, 300_000])
def test_deep_nesting_is_refused_without_crashing(shape: str, depth: int) -> None:
    # PyYAML's C composer recursed on the C stack: 200,000 levels (400 KB) was a segfault.
    body = {"flow": "[" * depth + "]" * depth, "compact": "\n" + "- " * depth + "x",
            "mapping": "{a: " * depth + "1" + "}" * depth, "unclosed": "[" * depth}[shape]
    d = _error(HEAD + "message: m\noperations: " + body + "\n")
    assert "nested too deeply" in d.message
    assert d.line is not None and d.line >= 5


def test_nesting_a_changeset_needs_is_fine() -> None:
    doc = source.loads("a: " + "[" * 40 + "1" + "]" * 40 + "\n", "yaml", "x.yaml")
    assert doc is not None


def test_a_billion_laughs_is_refused_at_an_alias() -> None:
    rows = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        rows.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    text = HEAD + "message: m\nlint:\n" + "".join(f"  {r}\n" for r in rows) + "operations: *i\n"
    d = _error(text)
    assert "aliases repeat more than 200,000 values" in d.message
    assert d.line is not None and 5 < d.line <= len(text.splitlines())


def test_a_long_string_repeated_by_aliases_counts_by_its_length() -> None:
    uses = ", ".join(["{sql: {up: *s}}"] * 500)
    d = _error(HEAD + "message: &s " + "x" * 50_000 + "\noperations: [" + uses + "]\n")
    assert "aliases repeat" in d.message


def test_aliases_used_sensibly_load() -> None:
    text = (HEAD + "message: m\ncols: &cols [{name: id, type: integer}]\noperations:\n"
            + "".join(f"  - create_table: {{name: t{i}, columns: *cols}}\n" for i in range(50)))
    doc = source.loads(text, "yaml", "x.yaml")
    assert doc["operations"][49]["create_table"]["columns"] == [{"name": "id",
                                                                 "type": "integer"}]


def test_a_large_document_without_aliases_loads(project: Project) -> None:
    """A seed changeset of 70,000 rows (210,000 values) is not an alias bomb."""
    rows = [{"id": i, "name": f"n{i}"} for i in range(70_000)]
    project.write("c001", [
        {"create_table": {"name": "t", "columns": [
            {"name": "id", "type": "integer", "primary_key": True},
            {"name": "name", "type": "text"}]}},
        {"insert_rows": {"table": "t", "rows": rows}}])
    history = load(project.changesets)
    op = history.graph["c001"].operations[1]
    assert len(op.rows) == 70_000  # type: ignore[attr-defined]


# --- size, symbolic links, special files ----------------------------------------------------------


def test_a_file_over_the_limit_is_refused_unread(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "changesets" / "c001_big.yaml"
    big.parent.mkdir()
    with open(big, "wb") as fh:  # 50 MB, sparse: no disk, and nothing to read
        fh.truncate(50_000_000)
    read: list[int] = []
    real_read = os.read

    def counted_read(fd: int, n: int) -> bytes:
        read.append(n)
        return real_read(fd, n)

    monkeypatch.setattr(os, "read", counted_read)
    with pytest.raises(ValidationFailed) as info:
        load(big.parent)
    [d] = info.value.diagnostics
    assert d.file is not None and d.file.endswith("c001_big.yaml")
    assert "(50.0 MB) is larger than the 10 MB a changeset file may be" in d.message
    assert d.hint is not None and "max_file_mb" in d.hint
    assert read == []
    # A lower limit, given by the caller (the configuration's max_file_mb).
    small = tmp_path / "changesets" / "c001_big.yaml"
    small.write_text(HEAD + "message: m\noperations: []\n")
    with pytest.raises(ValidationFailed) as info:
        load(small.parent, limits=Limits(max_bytes=20))
    assert "larger than the 2e-05 MB" in info.value.diagnostics[0].message


def test_max_file_mb_in_the_configuration(project: Project) -> None:
    project.write("c001", [{"drop_table": {"name": f"t{i}"}} for i in range(10)])  # 300 bytes
    (project.root / "schemaflow.toml").write_text(f'url = "{project.url}"\nmax_file_mb = 0.0001\n')
    result = project.cli("validate")
    assert result.returncode == 1
    assert "larger than the 0.0001 MB a changeset file may be" in result.stdout + result.stderr
    (project.root / "schemaflow.toml").write_text(f'url = "{project.url}"\nmax_file_mb = 0\n')
    result = project.cli("validate")
    assert result.returncode == 2
    assert "'max_file_mb' must be a number of megabytes greater than 0" in result.stderr


SECRET = "ghp_TOPSECRETTOKEN1234567890"


def test_a_symlink_out_of_the_project_is_refused_and_names_the_link(project: Project,
                                                                    tmp_path: Path) -> None:
    secret = tmp_path / "git-credentials"
    secret.write_text(f"https://alice:{SECRET}@github.com\n")
    (project.changesets / "t1.yaml").symlink_to(secret)
    (project.changesets / "t2.yaml").symlink_to(os.path.relpath(secret, project.changesets))
    for fmt in ("text", "json", "github"):
        result = project.cli("validate", "--format", fmt)
        out = result.stdout + result.stderr
        assert result.returncode == 1, out
        assert SECRET not in out and "alice" not in out and "git-credentials" not in out
        assert "t1.yaml" in out and "t2.yaml" in out
        assert "symbolic link to a file outside the project" in out


def test_a_symlink_inside_the_project_is_followed(project: Project) -> None:
    elsewhere = project.root / "shared"
    elsewhere.mkdir()
    (elsewhere / "c001_x.yaml").write_text(HEAD + "message: m\noperations: []\n")
    (project.changesets / "c001_x.yaml").symlink_to(elsewhere / "c001_x.yaml")
    history = project.api().history
    assert list(history.graph.by_id) == ["c001"]
    # The loader alone knows only the changesets folder: out of it is refused.
    with pytest.raises(ValidationFailed) as info:
        load(project.changesets)
    assert "symbolic link" in info.value.diagnostics[0].message


def test_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "c001_x.yaml"
    os.mkfifo(fifo)
    outcome: list[Any] = []

    def read() -> None:
        try:
            source.read_bytes(fifo)
        except SourceError as exc:
            outcome.append(exc.diagnostic.message)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(30)
    assert outcome == ["not a regular file"]


# --- content is not quoted ----------------------------------------------------------------------


@pytest.mark.parametrize("content", [
    f"https://alice:{SECRET}@github.com\n",
    f"db.example.com:5432:app:alice:{SECRET}\n",
    f"PASSWORD={SECRET}\nTOKEN={SECRET}\n",
    f"{SECRET}: 1\naws_secret_access_key: {SECRET}\n",
    f"- {SECRET}\n",
    f"id: {SECRET}\n",
])
def test_a_file_that_is_no_changeset_is_named_not_quoted(project: Project,
                                                         content: str) -> None:
    project.write_text("t1.yaml", content)
    result = project.cli("validate", "--format", "github")
    out = result.stdout + result.stderr
    assert result.returncode == 1
    assert SECRET[:8] not in out and "alice" not in out and "aws_secret" not in out, out
    assert "the file is not a changeset" in out


def test_values_in_messages_are_short_escaped_excerpts() -> None:
    from schemaflow.validate import check_document

    text = HEAD + 'message: m\noperations: []\ntransactional: "' + '\\e[2J' * 50 + '"\n'
    doc = source.loads(text, "yaml", "c001_x.yaml")
    [d] = check_document(SourceFile("c001_x.yaml", text, "yaml", doc))
    assert "\x1b" not in d.message
    assert len(d.message) < 120, d.message


# --- positions: one parse per file --------------------------------------------------------------


def _count_calls(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.parametrize("fmt", ["yaml", "toml"])
def test_many_findings_cost_one_parse_of_the_file(project: Project, fmt: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """5,000 findings in one file: each is located in the one parse made for positions
    (before, each finding parsed the whole file again: quadratic)."""
    from schemaflow.source import positions

    project.write("c001", [{"drop_table": {"name": f"missing_{i}"}} for i in range(5_000)],
                  fmt=fmt)
    yaml_parses = _count_calls(monkeypatch, positions, "yaml_positions")
    toml_indexes = _count_calls(monkeypatch, positions, "_TomlIndex")
    inline_reads = _count_calls(monkeypatch, positions._InlineReader, "read")
    diags = project.api().validate()
    assert len(diags) == 5_000
    assert {d.code for d in diags} == {"SF101"}
    assert len(yaml_parses) + len(toml_indexes) == 1
    assert len(inline_reads) <= 1
    text = (project.changesets / f"c001_change.{fmt}").read_text().splitlines()
    for i in (0, 1, 2_500, 4_999):
        d = diags[i]
        assert d.line is not None
        assert f"missing_{i}" in text[d.line - 1] or f"missing_{i}" in text[d.line], (i, d)


def test_toml_inline_values_are_located() -> None:
    doc = {"schemaflow": 1, "id": "c001", "parents": [], "message": "m", "operations": [
        {"create_table": {"name": f"t{i}", "columns": [{"name": "id", "type": "integer"},
                                                       {"name": "x", "type": 'a"b'}]}}
        for i in range(300)]}
    text = tomli_w.dumps(doc)
    src = SourceFile("c.toml", text, "toml", None)
    lines = text.splitlines()
    for i in (0, 150, 299):
        line, col = source.locate(src, ("operations", i, "create_table", "columns", 1, "type"))
        assert line is not None and col is not None
        assert lines[line - 1][col - 1:].startswith("type"), (i, lines[line - 1])
        assert f"t{i}\"" in lines[line - 1] or f"t{i}\"" in "".join(lines[line - 5:line])


def test_yaml_positions_follow_aliases_to_where_they_are_used() -> None:
    text = "a: &x {k: 1}\nb:\n  - *x\n"
    src = SourceFile("x.yaml", text, "yaml", yaml.safe_load(text))
    assert source.locate(src, ("b", 0)) == (3, 5)
    assert source.locate(src, ("b", 0, "k")) == (1, 8)
