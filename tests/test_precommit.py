"""pre-commit and CI: a real pre-commit run on a monorepo, and `validate FILE...` as the hook
and CI run it (the project of each file found from its own folder)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, Project, make_project, run_cli

USERS = [{"create_table": {"name": "users", "columns": [
    {"name": "id", "type": "integer", "primary_key": True}, {"name": "bio", "type": "text"}]}}]
BAD = [{"add_column": {"table": "nosuch", "column": {"name": "x", "type": "text"}}}]
DROP_BIO = [{"drop_column": {"table": "users", "name": "bio"}}]
DROP_USERS = [{"drop_table": {"name": "users"}}]


def _git(repo: Path, *args: str, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                          env=env, timeout=300)


def _monorepo(tmp_path: Path) -> tuple[Path, Project, Project]:
    repo = tmp_path / "repo"
    db = make_project(repo / "db")
    api = make_project(repo / "services" / "api")
    db.chain(USERS)
    api.chain(USERS, [{"add_column": {"table": "users",
                                      "column": {"name": "age", "type": "integer"}}}])
    return repo, db, api


# --- a real pre-commit run ------------------------------------------------------------------


def _hooks_config() -> dict[str, Any]:
    """The repository's own hooks (.pre-commit-hooks.yaml) as local hooks that run this
    checkout's schemaflow: the same files, arguments and options."""
    shipped = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    hooks = []
    for hook in shipped:
        assert hook["entry"].startswith("schemaflow ")
        hooks.append({**hook, "language": "system",
                      "entry": f"{sys.executable} -m schemaflow" + hook["entry"][10:]})
    return {"repos": [{"repo": "local", "hooks": hooks}]}


@pytest.fixture
def precommit_repo(tmp_path: Path) -> tuple[Path, Project, Project, dict[str, str]]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    pytest.importorskip("pre_commit")
    repo, db, api = _monorepo(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("SCHEMAFLOW_URL", "DATABASE_URL")}
    env.update({"PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "NO_COLOR": "1",
                "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
                "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH"))
                                              if p)})
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(_hooks_config()),
                                                  encoding="utf-8")
    assert _git(repo, "init", "-q", ".").returncode == 0
    # The databases the projects name are not part of the repository.
    (repo / ".gitignore").write_text("*.db\n", encoding="utf-8")
    return repo, db, api, env


def _commit(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`git add -A` and `git commit` with pre-commit's hook installed, as a user commits."""
    assert _git(repo, "add", "-A", env=env).returncode == 0
    return _git(repo, "commit", "-q", "-m", "change", env=env)


def _status(output: str) -> dict[str, str]:
    """Each hook's result line: name → Passed / Failed."""
    found = {}
    for line in output.splitlines():
        for result in ("Passed", "Failed"):
            if line.endswith(result) and line.startswith("schemaflow validate"):
                found[line.split(".")[0].strip()] = result
    return found


def test_precommit_catches_a_bad_changeset_in_either_project(
        precommit_repo: tuple[Path, Project, Project, dict[str, str]]) -> None:
    repo, db, api, env = precommit_repo
    installed = subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=repo,
                               capture_output=True, text=True, env=env, timeout=300)
    assert installed.returncode == 0, installed.stderr
    first = _commit(repo, env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert _status(first.stdout + first.stderr) == {
        "schemaflow validate": "Passed", "schemaflow validate (every project)": "Passed"}

    for project, folder in ((db, "db"), (api, "services/api")):
        bad = project.write("c009", BAD, parents=[sorted(
            p.name.split("_")[0] for p in project.changesets.iterdir())[-1]])
        done = _commit(repo, env)
        out = done.stdout + done.stderr
        assert done.returncode != 0, out
        assert _status(out)["schemaflow validate"] == "Failed", out
        assert f"{folder}/changesets/{bad.name}" in out, out
        assert "SF101" in out and "Traceback" not in out
        bad.unlink()
        assert _git(repo, "reset", "-q", env=env).returncode == 0

    # An edit to an old changeset breaks a later one the commit does not touch.
    old = api.changesets / "c001_change.yaml"
    old.write_text(old.read_text(encoding="utf-8").replace("users", "people"), encoding="utf-8")
    done = _commit(repo, env)
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert _status(out)["schemaflow validate"] == "Failed", out
    assert "services/api/changesets/c002_change.yaml" in out, out
    assert _git(repo, "checkout", "-q", "HEAD", "--", ".", env=env).returncode == 0

    # A commit that only deletes a changeset another builds on: pre-commit passes the
    # deleted file to no hook; the every-project hook notices.
    db.write("c002", DROP_BIO, parents=["c001"])
    assert _commit(repo, env).returncode == 0  # a warning does not fail the commit
    (db.changesets / "c001_change.yaml").unlink()
    done = _commit(repo, env)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert _status(out) == {"schemaflow validate (every project)": "Failed"}, out
    assert "db/changesets/c002_change.yaml" in out and "SF011" in out, out
    assert _git(repo, "reset", "-q", "--hard", env=env).returncode == 0

    # Both clean: every hook passes on every file.
    done = subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=repo,
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _status(done.stdout) == {
        "schemaflow validate": "Passed", "schemaflow validate (every project)": "Passed"}


# --- validate FILE... as the hook and CI run it ---------------------------------------------


def _codes(done: subprocess.CompletedProcess[str]) -> list[tuple[str, str]]:
    """(code, file) of each diagnostic of `validate --format json`."""
    assert "Traceback" not in done.stderr, done.stderr
    return sorted((d["code"], d["file"]) for d in json.loads(done.stdout)["diagnostics"])


def test_files_are_checked_with_their_own_project_from_the_root(tmp_path: Path) -> None:
    repo, db, api = _monorepo(tmp_path)
    # A project whose changesets folder has another name.
    (api.root / "schemaflow.toml").write_text(f'url = "{api.url}"\nchangesets = "migrations"\n',
                                              encoding="utf-8")
    api.changesets.rename(api.root / "migrations")
    bad_db = db.write("c002", BAD, parents=["c001"])
    bad_api = (api.root / "migrations" / "c003_change.yaml")
    bad_api.write_text(yaml.safe_dump({"schemaflow": 1, "id": "c003", "parents": ["c002"],
                                       "message": "m", "operations": BAD}), encoding="utf-8")
    done = run_cli("validate", "--no-db", "--format", "json", str(bad_db.relative_to(repo)),
                   str(bad_api.relative_to(repo)), cwd=repo)
    assert done.returncode == 1
    assert _codes(done) == [("SF101", "db/changesets/c002_change.yaml"),
                            ("SF101", "services/api/migrations/c003_change.yaml")]
    # From inside one project, the other project's file is still its own project's.
    inside = run_cli("validate", "--no-db", "--format", "json", "../services/api/migrations/"
                     "c003_change.yaml", cwd=db.root)
    assert _codes(inside) == [("SF101", "../services/api/migrations/c003_change.yaml")]
    # A folder with no project of its own: every project below it.
    assert len(_codes(run_cli("validate", "--no-db", "--format", "json", ".", cwd=repo))) == 2
    bad_db.unlink()
    bad_api.unlink()
    clean = run_cli("validate", "--no-db", ".", cwd=repo)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "No problems found in 3 changesets" in clean.stdout


def test_the_whole_history_of_a_file_is_checked(project: Project) -> None:
    first, second, third = (project.write("c001", USERS),
                            project.write("c002", DROP_BIO, parents=["c001"]),
                            project.write("c003", DROP_USERS, parents=["c002"]))
    # Warnings: only for the files given.
    done = run_cli("validate", "--format", "json", str(third), cwd=project.root.parent)
    assert [c for c, _ in _codes(done)] == ["SF301"]
    # An edit to c001 breaks c002, which the commit does not touch: reported.
    first.write_text(first.read_text(encoding="utf-8").replace("bio", "about"),
                     encoding="utf-8")
    done = run_cli("validate", "--format", "json", str(first), cwd=project.root.parent)
    assert done.returncode == 1
    assert ("SF102", "proj/changesets/c002_change.yaml") in _codes(done)
    # A deleted changeset (CI passes the paths `git diff` names): its project is checked.
    first.unlink()
    done = run_cli("validate", "--format", "json", str(first), cwd=project.root.parent)
    assert done.returncode == 1
    assert _codes(done) == [("SF011", "proj/changesets/c002_change.yaml")]
    assert second.exists()


@pytest.mark.parametrize("where", ["no project", "outside the changesets folder"])
def test_a_file_in_no_project_fails_loudly(where: str, tmp_path: Path) -> None:
    repo, db, _ = _monorepo(tmp_path)
    stray = repo / "notes" / "changesets" / "x.yaml" if where == "no project" else (
        db.root / "other" / "x.yaml")
    stray.parent.mkdir(parents=True)
    stray.write_text("a: 1\n", encoding="utf-8")
    for fmt in ("text", "github"):
        done = run_cli("validate", "--no-db", "--format", fmt, str(stray.relative_to(repo)),
                       str(db.changesets / "c001_change.yaml"), cwd=repo)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        assert done.stderr.count("error:") == 1, done.stderr
        words = "belongs to no schemaflow project" if where == "no project" else (
            "is not in the changesets folder")
        assert words in done.stderr and "x.yaml" in done.stderr, done.stderr
        assert "No problems found" not in done.stdout


def test_github_annotations_name_files_from_the_repository_root(tmp_path: Path) -> None:
    repo, db, _ = _monorepo(tmp_path)
    (repo / ".git").mkdir()  # what GitHub checks out: paths are read from here
    odd = db.write("c002", DROP_BIO, parents=["c001"], slug="a,b:c")
    done = run_cli("validate", "--no-db", "--format", "github", cwd=db.root)
    assert done.returncode == 0
    [line] = done.stdout.splitlines()
    assert line.startswith("::warning file=db/changesets/c002_a%2Cb%3Ac.yaml,line="), line
    assert ",title=SF302::" in line
    # Run from the root with the file given: the same path.
    again = run_cli("validate", "--no-db", "--format", "github", str(odd), cwd=repo)
    assert again.stdout == done.stdout


def test_a_schema_error_does_not_hide_other_findings(tmp_path: Path) -> None:
    repo, db, api = _monorepo(tmp_path)
    db.write("c002", DROP_BIO, parents=["c001"])  # SF302, on its own branch
    db.write("c003", [{"add_column": {"table": "users"}}], parents=["c001"])  # schema error
    db.write("c004", BAD, parents=["c003"])  # builds on the broken file: not checked
    api.write("c003", BAD, parents=["c002"])
    done = run_cli("validate", "--no-db", "--format", "json", ".", cwd=repo)
    assert done.returncode == 1
    codes = _codes(done)
    assert ("SF302", "db/changesets/c002_change.yaml") in codes
    assert ("SF101", "services/api/changesets/c003_change.yaml") in codes
    assert any(f == "db/changesets/c003_change.yaml" for _, f in codes)
    assert not any(f == "db/changesets/c004_change.yaml" for _, f in codes), codes
    github = run_cli("validate", "--no-db", "--format", "github", ".", cwd=repo)
    assert "title=SF302::" in github.stdout and "title=SF101::" in github.stdout


@pytest.mark.parametrize("server", ["sqlite", pytest.param("postgresql",
                                                           marks=pytest.mark.postgresql)])
def test_warnings_on_applied_changesets_are_not_repeated(server: str, tmp_path: Path,
                                                         request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("pg_url") if server == "postgresql" else None
    project = make_project(tmp_path / "proj", url)
    project.chain(USERS, DROP_BIO)
    assert project.cli("apply").returncode == 0
    offline = project.cli("validate", "--no-db", "--format", "json")
    assert "SF302" in [c for c, _ in _codes(offline)]  # without the database: shown
    online = project.cli("validate", "--db", "--format", "json")
    assert online.returncode == 0
    assert _codes(online) == []
    project.write("c003", DROP_USERS, parents=["c002"])
    fresh = _codes(project.cli("validate", "--db", "--format", "json"))
    assert ("SF301", "changesets/c003_change.yaml") in fresh
    assert {f for _, f in fresh} == {"changesets/c003_change.yaml"}
    # Errors in applied changesets are still reported (with the edit itself).
    first = project.changesets / "c001_change.yaml"
    text = first.read_text(encoding="utf-8")
    first.write_text(text.replace("bio", "about"), encoding="utf-8")
    done = project.cli("validate", "--db", "--format", "json")
    assert done.returncode == 1
    assert ("SF102", "changesets/c002_change.yaml") in _codes(done)
    # An unreachable database: nothing is left out.
    first.write_text(text, encoding="utf-8")
    gone = project.cli("validate", "--db", "--format", "json",
                       "--url", "postgresql+psycopg://nobody@127.0.0.1:1/x")
    assert "SF302" in [c for c, _ in _codes(gone)]


def test_a_folder_stands_for_its_project_and_every_project_below(tmp_path: Path) -> None:
    repo, db, api = _monorepo(tmp_path)
    root = make_project(repo)  # the repository root is a project too
    root.write("r001", BAD)
    api.write("c003", BAD, parents=["c002"])
    (repo / "tools").mkdir()
    (repo / "tools" / "pyproject.toml").write_text("[tool.x\n", encoding="utf-8")  # not ours
    done = run_cli("validate", "--no-db", "--format", "json", ".", cwd=repo)
    assert _codes(done) == [("SF101", "changesets/r001_change.yaml"),
                            ("SF101", "services/api/changesets/c003_change.yaml")]
    # A file of the root project is the root project's alone.
    done = run_cli("validate", "--no-db", "--format", "json", "changesets/r001_change.yaml",
                   cwd=repo)
    assert _codes(done) == [("SF101", "changesets/r001_change.yaml")]
    assert db.root.is_dir()
