"""Listings on a warm cache import only what they show: no operation class of the IR (48
dataclasses, ~40 ms of every start-up), no codec, no SQLAlchemy; and they print what a run
without any cache prints. A command names its own options only (typer builds one command)."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import Project, run_reporting_imports

LISTINGS = [["current"], ["current", "-v", "--format", "json"], ["status"],
            ["status", "--format", "json"], ["heads"], ["heads", "--format", "json"],
            ["history"], ["history", "-v", "--format", "json"], ["show", "v1.0"]]


def run_main(p: Project, *args: str, no_cache: bool = False) -> tuple[str, list[str]]:
    """(stdout, the heavy modules imported) of `schemaflow ARGS` in the project."""
    out, code, heavy = run_reporting_imports(p.root, *args, no_cache=no_cache)
    assert code == 0, out
    return out, heavy


def test_listings_on_a_warm_cache_import_no_operation_and_print_as_without_cache(
        demo_project: Project) -> None:
    p = demo_project
    # parses every file (the cache is warm), then leaves two pending
    assert p.cli("apply").returncode == 0 and p.cli("rollback", "-2").returncode == 0
    for args in LISTINGS:
        out, heavy = run_main(p, *args)
        assert heavy == [], (args, heavy)
        cold, _ = run_main(p, *args, no_cache=True)
        assert out == cold, args
    status, _ = run_main(p, "status", "--format", "json")
    assert len(json.loads(status)["pending"]) == 2


def test_apply_with_nothing_to_do_imports_what_current_imports(demo_project: Project) -> None:
    """An apply at head costs what `current` costs: no SQLAlchemy, and none of the replay
    and rendering machinery (the empty plan it returns is a plain record, `plans`)."""
    p = demo_project
    assert p.cli("apply").returncode == 0
    _, heavy = run_main(p, "apply")
    assert heavy == [], heavy


def test_an_edited_file_is_still_seen_by_a_listing(demo_project: Project) -> None:
    p = demo_project
    assert p.cli("apply").returncode == 0
    first, _ = run_main(p, "history")
    path = sorted(p.changesets.iterdir())[0]
    text = path.read_text(encoding="utf-8")
    message = next(line for line in text.splitlines() if line.startswith("message:"))
    path.write_text(text.replace(message, "message: edited after the cache was warm"),
                    encoding="utf-8")
    out, _ = run_main(p, "history")
    assert "edited after the cache was warm" in out and out != first


@pytest.mark.parametrize("args", [["current", "--help"], ["import", "--help"]])
def test_a_command_alone_is_built_and_its_help_is_whole(demo_project: Project,
                                                        args: list[str]) -> None:
    out, _ = run_main(demo_project, *args)
    assert f"Usage: schemaflow {args[0]}" in out, out
    if args[0] == "import":
        assert "alembic" in out and "liquibase" in out


def test_help_and_a_mistyped_command_still_list_every_command(demo_project: Project) -> None:
    out, _ = run_main(demo_project, "--help")
    for name in ("current", "status", "heads", "apply", "validate", "import"):
        assert name in out, name
    ran = demo_project.cli("curent")
    assert ran.returncode == 2 and "Did you mean 'current'" in ran.stderr, ran.stderr


def test_each_command_built_alone_is_the_one_of_the_whole_group() -> None:
    import typer

    from schemaflow.cli import app

    only = sys.modules["schemaflow.cli.app"]._only
    whole = typer.main.get_command(app)
    names = whole.commands  # type: ignore[attr-defined]
    assert {"apply", "upgrade", "current", "history", "import"} <= set(names)
    for name, command in names.items():
        alone = typer.main.get_command(only(app, ["-c", "x.toml", "-v", name, "--format"]))
        assert list(alone.commands) == [name]  # type: ignore[attr-defined]
        got = alone.commands[name]  # type: ignore[attr-defined]
        assert [p.opts for p in got.params] == [p.opts for p in command.params], name
        assert got.help == command.help, name
    for argv in (["--help"], ["--version"], ["--help", "current"], ["nosuch"], []):
        assert only(app, argv) is app, argv


def test_no_command_signature_is_evaluated_from_text() -> None:
    """typer reads each command's signature with typing.get_type_hints; an annotation kept
    as text (`from __future__ import annotations` in a command module) is compiled and
    evaluated again on every start, ~20% of `schemaflow --help`."""
    import typer

    from schemaflow.cli import app

    whole = typer.main.get_command(app)
    groups = [whole]
    seen = 0
    while groups:
        group = groups.pop()
        for name, command in group.commands.items():  # type: ignore[attr-defined]
            if hasattr(command, "commands"):
                groups.append(command)
                continue
            fn = command.callback
            while hasattr(fn, "__wrapped__"):
                fn = fn.__wrapped__
            texts = [k for k, v in fn.__annotations__.items() if isinstance(v, str)]
            assert not texts, f"{name}: annotations kept as text: {texts} ({fn.__module__})"
            seen += 1
    assert seen >= 20
