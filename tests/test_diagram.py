"""ER diagrams (Mermaid, DOT) and the history graph, from the replayed schema."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import IN_CI, Project

from schemaflow.diagram import graph_lines

DATA = Path(__file__).parent / "data"


def test_mermaid_of_the_demo_is_the_expected_diagram(demo_project: Project) -> None:
    result = demo_project.cli("diagram")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (DATA / "demo.mmd").read_text()


def test_diagram_at_an_earlier_changeset(demo_project: Project) -> None:
    result = demo_project.cli("diagram", "--at", "9d3f61c0a8b2")
    assert result.returncode == 0, result.stderr
    assert "users {" in result.stdout and "posts {" in result.stdout
    assert "comments {" not in result.stdout
    assert "body" in result.stdout and "content" not in result.stdout  # before the rename


def test_dot_renders_to_svg_with_graphviz(demo_project: Project, tmp_path: Path) -> None:
    if shutil.which("dot") is None:
        if IN_CI:
            pytest.fail("Graphviz's dot is missing (.ci/run installs Debian's graphviz)")
        pytest.skip("Graphviz's dot is not installed (apt-get install graphviz)")
    result = demo_project.cli("diagram", "--format", "dot")
    assert result.returncode == 0, result.stderr
    source = tmp_path / "demo.dot"
    source.write_text(result.stdout)
    svg = subprocess.run(["dot", "-Tsvg", str(source)], capture_output=True, text=True,
                         check=False)
    assert svg.returncode == 0, svg.stderr
    assert svg.stderr == ""
    assert "<svg" in svg.stdout and "post_tags" in svg.stdout


def test_bad_format_and_unknown_target_are_usage_errors(demo_project: Project) -> None:
    assert demo_project.cli("diagram", "--format", "png").returncode == 2
    result = demo_project.cli("diagram", "--at", "nope")
    assert result.returncode == 2
    assert "unknown target 'nope'" in result.stderr


def test_graph_lines_draw_branches_and_merges() -> None:
    parents = {"a": (), "b": ("a",), "c": ("b",), "d": ("b",), "e": ("c", "d"), "f": ("e",),
               "g": ("f",), "h": ("f",)}
    rows = graph_lines(["a", "b", "c", "d", "e", "f", "g", "h"], parents)
    assert [lanes for lanes, _ in rows] == [
        "*", "| *", "|/", "*", "*", "|\\", "| *", "* |", "|/", "*", "*"]
    assert [cid for _, cid in rows if cid] == ["h", "g", "f", "e", "d", "c", "b", "a"]


def test_history_graph_on_the_cli(demo_project: Project) -> None:
    result = demo_project.cli("history", "--graph")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("* f81b3a5c9e07 (head, tag: v1.0)")
    assert len(lines) == 8 and all(line.startswith("* ") for line in lines)


def test_schema_command_prints_the_json_schema(demo_project: Project) -> None:
    import json

    result = demo_project.cli("schema")
    assert json.loads(result.stdout)["$schema"].startswith("http://json-schema.org/draft-07")
    config = demo_project.cli("schema", "config")
    assert "version_table" in json.loads(config.stdout)["properties"]
