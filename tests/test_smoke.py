"""The README's first command, end to end: apply the demo, roll back to base, apply again."""

from __future__ import annotations

from conftest import Project, reflect, rows


def test_demo_apply_rollback_apply(demo_project: Project) -> None:
    p = demo_project
    first = p.cli("apply")
    assert first.returncode == 0, first.stderr
    assert "Applied 8 changesets" in first.stderr
    built = reflect(p.url)
    assert {"users", "posts", "comments", "tags", "post_tags"} <= set(built)
    assert rows(p.url, "SELECT count(*) FROM schemaflow_version") == [(8,)]

    back = p.cli("rollback", "base")
    assert back.returncode == 0, back.stderr
    assert reflect(p.url) == {}
    assert rows(p.url, "SELECT count(*) FROM schemaflow_version") == [(0,)]

    again = p.cli("apply")
    assert again.returncode == 0, again.stderr
    assert reflect(p.url) == built
