"""pytest plugin: a new migrated database per test, and the built-in checks of the history.

Loaded in every pytest run of a project where schemaflow is installed (the `pytest11` entry
point), so this module imports pytest alone; SQLAlchemy and the rest load when a fixture or a
check is used.

The built-in checks (`--schemaflow-checks`, or `schemaflow_checks = true` in the pytest
configuration; `--no-schemaflow-checks` turns them off) are test items of the schemaflow
configuration file: `schemaflow.toml::apply_from_empty`. They are collected when pytest
collects that file, or when a run names no test file (`pytest`, `pytest tests/`), and are
selected like any test (node id, `-k`, `-m schemaflow`, `--deselect`). Each check that needs a
database gets a new one on the server `--schemaflow-url` names (CREATE DATABASE with a unique
name, dropped afterwards), or a new SQLite file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from .api import Project
    from .testing.databases import ScratchDatabase
    from .testing.runner import ChangesetData, Runner

_ENABLED = pytest.StashKey[bool]()
_ANCHOR = pytest.StashKey["Path | None"]()
_DATABASE = "schemaflow database"
T = TypeVar("T")  # the user property naming a check's database


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's options."""
    group = parser.getgroup("schemaflow")
    group.addoption("--schemaflow-checks", action="store_true", dest="schemaflow_checks",
                    default=None, help="run schemaflow's built-in checks of the changesets")
    group.addoption("--no-schemaflow-checks", action="store_false", dest="schemaflow_checks",
                    help="do not run them (even when the configuration turns them on)")
    group.addoption("--schemaflow-url", dest="schemaflow_url", default=None,
                    help="the database server the checks, schemaflow_runner and "
                         "migrated_engine create their test databases on (default: a new "
                         "SQLite file per test)")
    parser.addini("schemaflow_checks", type="bool", default=False,
                  help="run schemaflow's built-in checks of the changesets")
    parser.addini("schemaflow_url", default="",
                  help="the database server for schemaflow's test databases")
    parser.addini("schemaflow_config", default="", help="schemaflow configuration file")


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker; find the file the checks belong to when they are on."""
    config.addinivalue_line("markers", "schemaflow: schemaflow's built-in checks, and tests "
                                       "that use its database fixtures")
    option = config.getoption("schemaflow_checks")
    enabled = bool(config.getini("schemaflow_checks")) if option is None else bool(option)
    config.stash[_ENABLED] = enabled
    config.stash[_ANCHOR] = _anchor(config) if enabled else None


def _anchor(config: pytest.Config) -> Path | None:
    """The schemaflow configuration file (None when there is none, or it cannot be read:
    the checks then report why)."""
    from .config import find_config
    from .errors import SchemaflowError

    named = config.getini("schemaflow_config")
    if named:
        path = (config.rootpath / named).resolve()
        return path if path.is_file() else None
    try:
        return find_config(config.rootpath)[0]
    except SchemaflowError:
        return None


def _project(config: pytest.Config) -> Project:
    from .api import Project

    return Project.from_config(config=config.getini("schemaflow_config") or None,
                               cwd=Path(config.rootpath))


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def schemaflow_url(request: pytest.FixtureRequest) -> Any:
    """The database server schemaflow's test databases are made on: `--schemaflow-url`, else
    the `schemaflow_url` ini option, else None (a new SQLite file each). Override it to return
    another URL, SQLAlchemy URL or Engine (a testcontainers server, for instance)."""
    config = request.config
    return config.getoption("schemaflow_url") or config.getini("schemaflow_url") or None


@pytest.fixture(scope="session")
def schemaflow_data() -> ChangesetData:
    """Rows to insert right after a changeset is first applied, for every runner and check:
    `{changeset: {table: [row, ...]}}`. Empty unless overridden."""
    return {}


@pytest.fixture
def schemaflow_project(request: pytest.FixtureRequest) -> Project:
    """The schemaflow Project under test (the configuration at or above pytest's rootdir)."""
    return _guarded(lambda: _project(request.config))


@pytest.fixture
def schemaflow_database(schemaflow_url: Any, tmp_path_factory: pytest.TempPathFactory
                        ) -> Iterator[ScratchDatabase]:
    """A new, empty database on the `schemaflow_url` server (or a new SQLite file), dropped
    after the test."""
    from .errors import SchemaflowError
    from .testing.checks import url_text
    from .testing.databases import scratch_database
    from .testing.report import error_text

    folder = tmp_path_factory.mktemp("schemaflow")
    base = url_text(schemaflow_url) if schemaflow_url else None
    failure = None
    try:
        with scratch_database(base, folder) as database:
            yield database
    except SchemaflowError as exc:  # creating or dropping it (a test's own errors stay its)
        failure = error_text(exc)
    if failure is not None:
        pytest.fail(failure, pytrace=False)


@pytest.fixture
def schemaflow_runner(schemaflow_project: Project, schemaflow_database: ScratchDatabase,
                      schemaflow_data: ChangesetData) -> Iterator[Runner]:
    """A Runner of the project's changesets on this test's own new database."""
    from .api import Project
    from .testing.runner import Runner

    settings = dataclasses.replace(schemaflow_project.settings, url=schemaflow_database.url,
                                   url_source="schemaflow_database")
    runner = Runner(Project(settings), schemaflow_database, schemaflow_data)
    try:
        yield runner
    finally:
        runner.close()


@pytest.fixture
def migrated_engine(schemaflow_runner: Runner) -> Engine:
    """A SQLAlchemy engine on this test's own database, every changeset applied."""
    _guarded(schemaflow_runner.apply)
    return schemaflow_runner.engine


def _guarded(fn: Callable[[], T]) -> T:
    """`fn()`, a schemaflow error failing the test with its message alone."""
    from .errors import SchemaflowError
    from .testing.report import error_text

    try:
        return fn()
    except SchemaflowError as exc:
        failure = error_text(exc)
    pytest.fail(failure, pytrace=False)  # outside the except: no "during handling" chain


# --- the built-in checks as test items -----------------------------------------------------


class CheckItem(pytest.Function):
    """One built-in check: a test function of the plugin's fixtures."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_marker("schemaflow")

    def runtest(self) -> None:
        """Run the check, noting the database it runs on."""
        runner = self.funcargs.get("schemaflow_runner")
        database = getattr(runner, "database", None)
        if database is not None:
            self.user_properties.append((_DATABASE, str(database)))
        super().runtest()

    def repr_failure(self, excinfo: Any) -> Any:  # type: ignore[override]
        """The check's message (and its database), not a traceback."""
        from .testing.report import failure_text

        text = failure_text(excinfo.value)
        if text is None:
            return super().repr_failure(excinfo)
        where = dict(self.user_properties).get(_DATABASE)
        return f"schemaflow: {text}" + (f"\n  on: {where}" if where else "")

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """Where the check is reported."""
        return self.path, None, f"schemaflow check {self.name}"


class ChecksFile(pytest.File):
    """The schemaflow configuration file, as the collector of the built-in checks."""

    def collect(self) -> list[pytest.Item]:
        """One item per check."""
        from .testing.checks import CHECKS

        return [CheckItem.from_parent(self, name=fn.__name__, callobj=fn) for fn in CHECKS]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """The checks, when pytest collects the schemaflow configuration file."""
    anchor = parent.config.stash.get(_ANCHOR, None)
    if anchor is not None and file_path.name == anchor.name and file_path.resolve() == anchor:
        return ChecksFile.from_parent(parent, path=file_path)
    return None


def _whole_suite(config: pytest.Config) -> bool:
    """Whether the run names no test file or test (only folders, or nothing)."""
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        return True
    base = config.invocation_params.dir
    return all("::" not in arg and (base / arg).is_dir() for arg in config.args)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """Add the checks to a whole-suite run that did not walk the configuration file; first,
    so that -k, -m and --deselect select among them as among any test."""
    if not config.stash.get(_ENABLED, False):
        return
    if _whole_suite(config) and not any(isinstance(item, CheckItem) for item in items):
        anchor = config.stash.get(_ANCHOR, None) or config.rootpath / "schemaflow.toml"
        items.extend(i for i in session.genitems(ChecksFile.from_parent(session, path=anchor))
                     if isinstance(i, pytest.Item))
    _warn_unseen_overrides(items, config.stash.get(_ANCHOR, None))


def _active(item: pytest.Item) -> dict[str, Any]:
    """The fixture definitions an item uses, by name (the innermost override of each)."""
    info = getattr(item, "_fixtureinfo", None)
    defs = getattr(info, "name2fixturedefs", {})
    return {name: found[-1] for name, found in defs.items() if found}


def _warn_unseen_overrides(items: list[pytest.Item], anchor: Path | None) -> None:
    """A fixture override that tests see and the checks do not (a conftest.py below the
    configuration file's folder) would make the checks run elsewhere without a word."""
    import inspect
    import warnings

    checks: dict[str, Any] = {}
    for item in items:
        if isinstance(item, CheckItem):
            checks.update(_active(item))
    told: set[str] = set()
    for item in items:
        if isinstance(item, CheckItem):
            continue
        for name, fixturedef in _active(item).items():
            if name in checks and name not in told and fixturedef is not checks[name]:
                told.add(name)
                folder = anchor.parent if anchor else "the configuration file's folder"
                warnings.warn_explicit(pytest.PytestWarning(
                    f"this overrides the fixture {name} for the tests below it, but the "
                    "schemaflow checks belong to the configuration file and do not see it; "
                    f"move the override to a conftest.py in {folder}"), None,
                    inspect.getsourcefile(fixturedef.func) or "conftest.py",
                    inspect.getsourcelines(fixturedef.func)[1])


def pytest_itemcollected(item: pytest.Item) -> None:
    """Tests that use a schemaflow database carry the `schemaflow` marker too."""
    if "schemaflow_database" in getattr(item, "fixturenames", ()):
        item.add_marker("schemaflow")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Which database each check ran on."""
    lines = [f"{report.nodeid.rpartition('::')[2]} {report.outcome} on {where}"
             for key in ("passed", "failed") for report in terminalreporter.stats.get(key, ())
             if report.when == "call" and (where := dict(report.user_properties).get(_DATABASE))]
    if lines:
        terminalreporter.write_sep("-", "schemaflow checks")
        for line in lines:
            terminalreporter.write_line(line)
