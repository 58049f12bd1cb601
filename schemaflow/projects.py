"""Which project each file given to `validate` belongs to. The configuration is found from the
file's own folder upwards, not from the current directory: pre-commit and CI run from the
repository root, and a repository may hold several projects in sub-folders."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import config as config_mod
from .errors import ConfigError, UsageError

# Folders never searched for projects below a folder given to validate.
_SKIPPED = {"node_modules", "__pycache__", "site-packages", "venv", "env"}
_NO_PROJECT = ("no schemaflow.toml (nor pyproject.toml with [tool.schemaflow]) in its "
               "folder or any folder above")


def group(paths: Sequence[Path], *, config: str | None = None, url: str | None = None,
          cwd: Path | None = None,
          environ: Mapping[str, str] | None = None
          ) -> list[tuple[config_mod.Settings, list[Path] | None]]:
    """The projects `paths` belong to, each with the files given in it (None: the whole
    project, for a folder, a configuration file or a deleted file). A folder stands for the
    project it is in and every project below it. `config`: one
    configuration for every path. A file outside every project, or outside its project's
    changesets folder, is a UsageError: a hook that checks nothing must not pass."""
    here = (cwd or Path.cwd()).resolve()
    found: dict[Path, tuple[config_mod.Settings, list[Path] | None]] = {}

    def settings_of(cfg: Path) -> config_mod.Settings:
        if cfg not in found:
            found[cfg] = (config_mod.load(config=str(cfg), url=url, environ=environ), [])
        return found[cfg][0]

    def whole(cfg: Path) -> None:
        found[cfg] = (settings_of(cfg), None)

    fixed = config_mod.load(config=config, url=url, cwd=here, environ=environ).config_file \
        if config else None
    for given in paths:
        path = Path(os.path.abspath(here / given))
        if path.is_dir() and fixed is None:
            cfgs = _configs_at_or_below(path)
            if not cfgs:
                raise UsageError(f"{given}: no schemaflow project in this folder",
                                 hint=f"{_NO_PROJECT}, nor in any folder below; or give -c "
                                 "CONFIG")
            for cfg in cfgs:
                whole(cfg)
            continue
        above = fixed or _config_above(path)
        if above is None:
            raise UsageError(f"{given} belongs to no schemaflow project",
                             hint=f"{_NO_PROJECT}; give -c CONFIG or leave the file out")
        cfg = above
        settings = settings_of(cfg)
        files = found[cfg][1]
        if path == cfg or path.is_dir() or not path.exists():
            whole(cfg)  # a deleted changeset is noticed by checking everything
        elif not _inside(path, settings.changesets):
            raise UsageError(
                f"{given} is not in the changesets folder of the project {cfg} "
                f"({os.path.relpath(settings.changesets, here)})",
                hint="set `changesets` in that configuration, or leave the file out")
        elif files is not None:
            files.append(path)
    return list(found.values())


def _config_above(path: Path) -> Path | None:
    """The configuration of the nearest project at or above `path`'s folder (a file that no
    longer exists: its nearest existing folder)."""
    start = path if path.is_dir() else path.parent
    while not start.is_dir() and start != start.parent:
        start = start.parent
    cfg, _ = config_mod.find_config(start)
    return cfg.resolve() if cfg else None


def _configs_at_or_below(folder: Path) -> list[Path]:
    """The project a folder is in, and every project below it (a monorepo's root)."""
    above = _config_above(folder)
    cfgs = [above] if above is not None else []
    for root, dirs, _files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED)
        try:
            cfg, _ = config_mod.config_in(Path(root))
        except ConfigError:
            if (Path(root) / "schemaflow.toml").is_file():
                raise
            continue  # another tool's broken pyproject.toml is not a project of ours
        if cfg is not None and cfg.resolve() not in cfgs:
            cfgs.append(cfg.resolve())
    return cfgs


def _inside(path: Path, folder: Path) -> bool:
    real, base = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([real, base]) == base
