"""squash: one changeset for a range, equivalent from empty, and transparent to databases that
already applied the range."""

from __future__ import annotations

from conftest import Project, reflect, rows

TABLE = {"create_table": {"name": "t", "columns": [{"name": "id", "type": "integer",
                                                     "primary_key": True}]}}
ADD = {"add_column": {"table": "t", "column": {"name": "a", "type": "string(20)"}}}
INDEX = {"create_index": {"name": "ix_t_a", "table": "t", "columns": ["a"]}}
RENAME = {"rename_column": {"table": "t", "name": "a", "new_name": "b"}}
OTHER = {"create_table": {"name": "u", "columns": [{"name": "id", "type": "integer",
                                                     "primary_key": True}]}}


def _history(p: Project) -> list[str]:
    return p.chain([TABLE], [ADD], [INDEX], [RENAME], [OTHER])


def test_squashed_history_builds_the_same_schema_from_empty(project: Project,
                                                            tmp_path: object) -> None:
    _history(project)
    assert project.cli("apply").returncode == 0
    original = reflect(project.url)
    result = project.cli("squash", "c001", "c004", "-m", "base")
    assert result.returncode == 0, result.stderr
    files = sorted(f.name for f in project.changesets.iterdir())
    assert len(files) == 2 and "c005_change.yaml" in files  # c001..c004 replaced by one file
    fresh = f"sqlite:///{project.root / 'fresh.db'}"
    assert project.cli("--url", fresh, "apply").returncode == 0
    assert reflect(fresh) == original
    assert project.cli("validate").returncode == 0


def test_a_database_at_the_end_of_the_range_keeps_working(project: Project) -> None:
    _history(project)
    assert project.cli("apply").returncode == 0
    assert project.cli("squash", "c001", "c004", "-m", "base").returncode == 0
    status = project.cli("status")
    assert "nothing pending" in status.stdout, status.stdout + status.stderr
    project.write("c006", [{"add_column": {"table": "u", "column": {"name": "x",
                                                                     "type": "integer"}}}],
                  parents=["c005"])
    applied = project.cli("apply")
    assert applied.returncode == 0, applied.stderr
    assert "x" in reflect(project.url)["u"]["columns"]
    # Rolling back through the squashed changeset removes the rows of the range too.
    back = project.cli("rollback", "base")
    assert back.returncode == 0, back.stderr
    assert reflect(project.url) == {}
    assert rows(project.url, "SELECT count(*) FROM schemaflow_version") == [(0,)]


def test_a_database_in_the_middle_of_the_range_is_told_what_to_do(project: Project) -> None:
    _history(project)
    assert project.cli("apply", "c002").returncode == 0
    assert project.cli("squash", "c001", "c004", "-m", "base").returncode == 0
    result = project.cli("apply")
    assert result.returncode == 1
    assert "applied only part of the changesets squashed into" in result.stderr
    assert "Traceback" not in result.stderr


def test_ranges_with_sql_need_concat(project: Project) -> None:
    project.chain([TABLE], [{"sql": {"up": "INSERT INTO t (id) VALUES (1)",
                                     "down": "DELETE FROM t WHERE id = 1"}}], [ADD])
    refused = project.cli("squash", "c001", "c003", "-m", "base")
    assert refused.returncode == 2
    assert "--concat" in refused.stderr
    done = project.cli("squash", "c001", "c003", "-m", "base", "--concat")
    assert done.returncode == 0, done.stderr
    assert project.cli("apply").returncode == 0
    assert rows(project.url, "SELECT id FROM t") == [(1,)]


def test_a_branching_range_is_refused(project: Project) -> None:
    project.chain([TABLE], [ADD], [INDEX])
    project.write("b001", [OTHER], parents=["c002"])
    result = project.cli("squash", "c001", "c003", "-m", "base")
    assert result.returncode == 2
    assert "builds on c002 from outside the range" in result.stderr
