"""pytest plugin: fixtures for migrated databases, and opt-in checks of the whole history.

Enable the built-in checks with `pytest --schemaflow-checks` or `schemaflow_checks = true` in
the pytest configuration. They are: a single head; apply from empty; at every step, apply,
roll back and apply again give the same schema; the models match the changesets (when
`models` is configured); applied checksums are unchanged (with `--schemaflow-url`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's options."""
    group = parser.getgroup("schemaflow")
    group.addoption("--schemaflow-checks", action="store_true", default=None,
                    help="run schemaflow's built-in checks of the changesets")
    group.addoption("--schemaflow-url", default=None,
                    help="database for the applied-checksums check and migrated_engine")
    parser.addini("schemaflow_checks", type="bool", default=False,
                  help="run schemaflow's built-in checks of the changesets")
    parser.addini("schemaflow_config", default="", help="schemaflow configuration file")


def _project(config: pytest.Config, url: str | None = None) -> Any:
    from .api import Project

    cfg = config.getini("schemaflow_config") or None
    return Project.from_config(config=cfg, url=url, cwd=Path(config.rootpath))


class SchemaflowCheckFailed(Exception):
    """A built-in check found a problem (reported without a traceback)."""


class Runner:
    """Applies and rolls back the project's changesets on one database."""

    def __init__(self, project: Any) -> None:
        self.project = project

    @property
    def url(self) -> str:
        """The database URL."""
        return str(self.project.settings.url)

    def apply(self, target: str | None = None) -> Any:
        """Apply up to `target` (default: every head)."""
        return self.project.apply(target)

    def rollback(self, target: str) -> Any:
        """Roll back down to `target`."""
        return self.project.rollback(target)

    def schema(self) -> Any:
        """The live schema (reflected)."""
        return self.project.database_state()[0]


@pytest.fixture
def schemaflow_project(request: pytest.FixtureRequest) -> Any:
    """The schemaflow Project of the repository under test."""
    return _project(request.config)


@pytest.fixture
def schemaflow_runner(request: pytest.FixtureRequest, tmp_path: Path) -> Runner:
    """A Runner on a fresh SQLite file (or on --schemaflow-url)."""
    url = request.config.getoption("--schemaflow-url") or f"sqlite:///{tmp_path / 'sf.db'}"
    return Runner(_project(request.config, url))


@pytest.fixture
def migrated_engine(schemaflow_runner: Runner) -> Iterator[Any]:
    """A SQLAlchemy engine on a database with every changeset applied."""
    import sqlalchemy as sa

    schemaflow_runner.apply()
    engine = sa.create_engine(schemaflow_runner.url)
    try:
        yield engine
    finally:
        engine.dispose()


# --- the built-in checks -------------------------------------------------------------------------


def _same(a: Any, b: Any) -> list[str]:
    from .describe import describe
    from .diff import diff

    return [describe(op) for op in diff(a, b).operations]


def _fresh(config: pytest.Config) -> Runner:
    folder = tempfile.mkdtemp(prefix="schemaflow-check-")
    return Runner(_project(config, f"sqlite:///{folder}/check.db"))


def check_single_head(config: pytest.Config) -> None:
    """The history has exactly one head."""
    heads = _project(config).history.graph.heads
    if len(heads) != 1:
        raise SchemaflowCheckFailed(f"the history has {len(heads)} heads: {', '.join(heads)}; "
                                    "join them with: schemaflow merge -m MESSAGE")


def check_apply_from_empty(config: pytest.Config) -> None:
    """Every changeset applies to an empty database."""
    _fresh(config).apply()


def check_every_step_rolls_back(config: pytest.Config) -> None:
    """At every changeset: apply, roll back and apply again give the same schemas."""
    runner = _fresh(config)
    order = runner.project.history.graph.order
    for cid in order:
        before = runner.schema()
        runner.apply(cid)
        after = runner.schema()
        runner.rollback("-1")
        back = runner.schema()
        if (missed := _same(back, before)):
            raise SchemaflowCheckFailed(
                f"rolling back {cid} ({runner.project.history.graph[cid].path}) does not "
                f"restore the schema before it; the rollback also needed: {'; '.join(missed)}")
        runner.apply(cid)
        if (again := _same(after, runner.schema())):
            raise SchemaflowCheckFailed(f"applying {cid} again gives another schema: "
                                        f"{'; '.join(again)}")


def check_models_match(config: pytest.Config) -> None:
    """The models match what the changesets build."""
    project = _project(config)
    if not project.settings.models:
        pytest.skip("no models configured")
    ops = project.compare().operations
    if ops:
        from .describe import describe

        raise SchemaflowCheckFailed("the models differ from the changesets: "
                                    + "; ".join(describe(o) for o in ops))


def check_applied_checksums(config: pytest.Config) -> None:
    """No applied changeset was edited or removed (needs --schemaflow-url)."""
    url = config.getoption("--schemaflow-url")
    if not url:
        pytest.skip("give --schemaflow-url to compare applied checksums")
    project = _project(config, url)
    drift = project.drift(project.applied_rows())
    if drift:
        raise SchemaflowCheckFailed("; ".join(d.message for d in drift))


CHECKS: tuple[Callable[[pytest.Config], None], ...] = (
    check_single_head, check_apply_from_empty, check_every_step_rolls_back,
    check_models_match, check_applied_checksums)


class SchemaflowItem(pytest.Item):
    """One built-in check."""

    def __init__(self, *, check: Callable[[pytest.Config], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check

    def runtest(self) -> None:
        """Run the check."""
        from .errors import SchemaflowError, ValidationFailed

        try:
            self.check(self.config)
        except ValidationFailed as exc:
            raise SchemaflowCheckFailed("; ".join(
                f"{d.where()}: {d.code} {d.message}" for d in exc.diagnostics)) from None
        except SchemaflowError as exc:
            raise SchemaflowCheckFailed(exc.message + (f" ({exc.hint})" if exc.hint else "")
                                        ) from None

    def repr_failure(self, excinfo: Any, style: Any = None) -> Any:
        """The check's message, not a traceback."""
        if isinstance(excinfo.value, SchemaflowCheckFailed):
            return f"schemaflow: {excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """Where the check is reported."""
        return self.path, None, f"schemaflow::{self.name}"


class SchemaflowChecks(pytest.Collector):
    """The built-in checks, as a collector of their items."""

    def collect(self) -> list[pytest.Item]:
        """One item per check."""
        return [SchemaflowItem.from_parent(self, name=c.__name__.removeprefix("check_"),
                                           check=c) for c in CHECKS]


def _enabled(config: pytest.Config) -> bool:
    option = config.getoption("--schemaflow-checks")
    return bool(option) if option is not None else bool(config.getini("schemaflow_checks"))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """Append the built-in checks when they are enabled."""
    if not _enabled(config):
        return
    collector = SchemaflowChecks.from_parent(session, name="schemaflow",
                                             path=Path(config.rootpath))
    items.extend(collector.collect())
