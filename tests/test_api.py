"""The Python API as users call it: module functions, typed results, two threads at once."""

from __future__ import annotations

import threading
from pathlib import Path

from conftest import DEMO, Project, reflect, rows

import schemaflow


def test_apply_and_rollback_from_two_threads_on_two_databases(tmp_path: Path) -> None:
    urls = [f"sqlite:///{tmp_path / f'db{i}.sqlite'}" for i in range(2)]
    errors: list[BaseException] = []
    counts: dict[int, tuple[int, int, int]] = {}

    def migrate(i: int) -> None:
        try:
            first = schemaflow.apply(url=urls[i], changesets=str(DEMO), cwd=tmp_path)
            back = schemaflow.rollback("base", url=urls[i], changesets=str(DEMO), cwd=tmp_path)
            again = schemaflow.apply(url=urls[i], changesets=str(DEMO), cwd=tmp_path)
            counts[i] = (len(first.results), len(back.results), len(again.results))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert counts == {0: (8, 8, 8), 1: (8, 8, 8)}
    assert reflect(urls[0]) == reflect(urls[1])
    assert rows(urls[0], "SELECT count(*) FROM schemaflow_version") == [(8,)]


def test_module_functions_return_typed_results(demo_project: Project) -> None:
    root = demo_project.root
    assert [c.id for c in schemaflow.status(cwd=root)][:1] == ["4b7e2a9c1d30"]
    plan = schemaflow.plan(cwd=root)
    assert plan.sql and "CREATE TABLE" in plan.sql and plan.plan is not None
    result = schemaflow.apply("+2", cwd=root)
    assert [r.id for r in result.results] == ["4b7e2a9c1d30", "9d3f61c0a8b2"]
    assert [h.id for h in schemaflow.current(cwd=root)] == ["9d3f61c0a8b2"]
    assert schemaflow.validate(cwd=root) == []


def test_post_write_hooks_run_on_written_files(project: Project) -> None:
    (project.root / "schemaflow.toml").write_text(
        f'url = "{project.url}"\npost_write_hooks = ["echo \'# formatted\' >> {{file}}"]\n')
    result = project.cli("new", "-m", "first", "--run-hooks")
    assert result.returncode == 0, result.stderr
    written = project.root / result.stdout.strip()
    assert written.read_text().rstrip().endswith("# formatted")
    failing = (project.root / "schemaflow.toml")
    failing.write_text(f'url = "{project.url}"\npost_write_hooks = ["exit 3"]\n')
    second = project.cli("new", "-m", "second", env={"SCHEMAFLOW_RUN_HOOKS": "1"})
    assert second.returncode == 0
    assert "post-write hook failed (3)" in second.stderr
