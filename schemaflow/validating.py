"""The checking half of `api.Project`: `validate` (the history check, the models and the
database's checksums when asked) and the check that `apply` and `rollback` run first."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import Diagnostic, SchemaflowError, UsageError, ValidationFailed
from .history import History, load

if TYPE_CHECKING:
    from .config import Settings
    from .recorder import AppliedRow
    from .rules import LintContext
    from .source import Limits
    from .state import SchemaState


class Validating:
    """Mixed into `api.Project`, which provides the settings, the history and the database."""

    settings: Settings
    _history: History | None

    if TYPE_CHECKING:
        @property
        def history(self) -> History: ...

        def _limits(self) -> Limits: ...

        def _folder(self) -> str: ...

        def applied_rows(self) -> list[AppliedRow]: ...

        def models_state(self) -> SchemaState: ...

    def validate(self, paths: Sequence[Path] | None = None, *, database: bool = False,
                 dialect: str | None = None, server_version: tuple[int, ...] | None = None,
                 models: bool = False) -> list[Diagnostic]:
        """Every problem in the changesets (and, with `database`, checksum drift). The whole
        history is always checked: with `paths`, errors anywhere are reported (an edit to one
        file can break another) and warnings only for those files. Files that fail to load do
        not stop the linter: it checks every changeset that does not build on one of them.
        With `database`, warnings about changesets the database has already applied are not
        repeated (errors still are). The configured models are imported (running the
        project's code) only with `models`."""
        from .history import load_intact

        try:
            # The cache files written meanwhile by another process: the check goes on here.
            history: History | None = load(self.settings.changesets, limits=self._limits(),
                                           background=True)
        except ValidationFailed as exc:
            diags = exc.diagnostics
            history = load_intact(self.settings.changesets, self._limits())
            database = False  # a partial history would show applied changesets as missing
        else:
            self._history = history
            diags = []
        if history is not None:
            try:
                diags += self._lint(history, dialect, server_version, models, database)
            finally:
                history.cache_written()
            if history is self._history and not (
                    self.settings.lint_select or self.settings.lint_ignore
                    or any(d.severity == "error" for d in diags)):
                from .memo import mark_checked

                # The history check's errors all shown (none selected away) and none found:
                # it passed, and apply need not redo it.
                mark_checked(history)
        if paths:
            wanted = {os.path.realpath(p) for p in paths}
            diags = [d for d in diags if d.severity == "error" or d.file is None
                     or os.path.realpath(d.file) in wanted]
        return diags

    def _lint(self, history: History, dialect: str | None,
              server_version: tuple[int, ...] | None, models: bool,
              database: bool) -> list[Diagnostic]:
        """The linter's findings on `history` (and the database's, with `database`)."""
        from .lint import check
        from .lintcache import remembered

        ctx, notes = self._lint_context(dialect, server_version, models)
        select, ignore = self.settings.lint_select, self.settings.lint_ignore
        found = check(history, ctx, select=select, ignore=ignore,
                      error=self.settings.lint_error,
                      remembered=remembered(history, ctx, select, ignore))
        if not database:
            return notes + found
        applied, db_diags = self._database_diagnostics(history)
        if applied:
            found = [d for d in found if d.severity == "error" or d.changeset not in applied]
        return notes + found + db_diags

    def _lint_context(self, dialect: str | None, server_version: tuple[int, ...] | None,
                      with_models: bool) -> tuple[LintContext, list[Diagnostic]]:
        """What the linter knows: the target database and, when asked, the models."""
        from .dialects import by_name
        from .rules import LintContext

        notes: list[Diagnostic] = []
        models = None
        if with_models and not self.settings.models:
            raise UsageError("validate --models: no models configured",
                             hint='set models = "package.module:Base" in schemaflow.toml')
        if with_models:
            try:
                models = self.models_state()
            except SchemaflowError as exc:
                notes.append(Diagnostic(code="SF024", severity="warning",
                                        message=f"models not compared: {exc.message}"))
        support = by_name(dialect, server_version) if dialect else None
        return LintContext(models=models, support=support), notes

    def _database_diagnostics(self, history: History) -> tuple[set[str], list[Diagnostic]]:
        """(the ids the database has applied, checksum drift); nothing applied when the
        database cannot be reached."""
        from .recorder import drift

        try:
            rows = self.applied_rows()
        except SchemaflowError as exc:
            return set(), [Diagnostic(code="SF022", severity="warning",
                                      message=f"checksums not compared: {exc.message}")]
        return {r.id for r in rows}, drift(rows, history.graph, self._folder())

    def _checked_history(self) -> History:
        """The history, refusing to run when it has errors."""
        from .memo import history_errors

        history = self.history
        errors = history_errors(history)
        if errors:
            raise ValidationFailed(errors)
        return history
