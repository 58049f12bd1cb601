"""The built-in checks of a project's history, as functions of the plugin's fixtures: the
pytest plugin collects one test item per check, so pytest resolves (and users override) the
fixtures they take. Each database check runs on a new database of its own."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..api import Project
    from ..state import SchemaState
    from .runner import Runner


class CheckFailed(Exception):
    """A built-in check found a problem (reported as its message, without a traceback)."""


def _missing(have: SchemaState, want: SchemaState) -> list[str]:
    """What turns `have` into `want`, one line per operation ([] when they are the same)."""
    from ..describe import describe
    from ..diff import diff
    from ..errors import UsageError

    try:
        return [describe(op) for op in diff(have, want).operations]
    except UsageError as exc:  # a difference no operation writes (a table's charset)
        return [exc.message]


def single_head(schemaflow_project: Project) -> None:
    """The history has exactly one head."""
    heads = schemaflow_project.history.graph.heads
    if len(heads) != 1:
        raise CheckFailed(f"the history has {len(heads)} heads: {', '.join(heads)}; "
                          "join them with: schemaflow merge -m MESSAGE")


def apply_from_empty(schemaflow_runner: Runner) -> None:
    """Every changeset applies to an empty database."""
    schemaflow_runner.apply()


def every_step_rolls_back(schemaflow_runner: Runner) -> None:
    """At every changeset: apply, roll back and apply again give the same schemas."""
    runner = schemaflow_runner
    graph = runner.project.history.graph
    for cid in graph.order:
        before = runner.schema()
        runner.apply(cid)
        after = runner.schema()
        runner.rollback("-1")
        if (missed := _missing(runner.schema(), before)):
            raise CheckFailed(
                f"rolling back {cid} ({graph[cid].path}) does not restore the schema before "
                f"it; the rollback also needed: {'; '.join(missed)}")
        runner.apply(cid)
        if (again := _missing(after, runner.schema())):
            raise CheckFailed(f"applying {cid} ({graph[cid].path}) again after its rollback "
                              f"gives another schema: {'; '.join(again)}")


def models_match(schemaflow_runner: Runner) -> None:
    """The models match the schema the changesets describe and the database they build."""
    project = schemaflow_runner.project
    if not project.settings.models:
        pytest.skip("no models configured (models = \"package.module:Base\" in the "
                    "schemaflow configuration)")
    from ..describe import describe

    problems = []
    if (ops := project.compare().operations):
        problems.append("the models differ from the changesets; the changesets also need: "
                        + "; ".join(describe(o) for o in ops))
    schemaflow_runner.apply()
    if (ops := project.compare(against_db=True).operations):
        problems.append("the models differ from the database the changesets built; it also "
                        "needs: " + "; ".join(describe(o) for o in ops))
    if problems:
        raise CheckFailed("\n".join(problems))


def applied_checksums(schemaflow_project: Project, schemaflow_url: Any) -> None:
    """No changeset applied to the database --schemaflow-url names (read, never changed)
    was edited or removed since."""
    from .. import api

    if not schemaflow_url:
        pytest.skip("give --schemaflow-url to compare the checksums applied there")
    settings = dataclasses.replace(schemaflow_project.settings, url=url_text(schemaflow_url))
    project = api.Project(settings)
    drift = project.drift(project.applied_rows())
    if drift:
        raise CheckFailed("; ".join(d.message for d in drift))


def url_text(value: Any) -> str:
    """A URL given as text, an SQLAlchemy URL, or an Engine: as text with its password."""
    url = getattr(value, "url", value)
    render = getattr(url, "render_as_string", None)
    return str(render(hide_password=False)) if render else str(url)


CHECKS: tuple[Callable[..., None], ...] = (
    single_head, apply_from_empty, every_step_rolls_back, models_match, applied_checksums)
