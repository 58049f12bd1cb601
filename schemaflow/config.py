"""Finding and merging settings: CLI > environment > schemaflow.toml > pyproject.toml > defaults."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

DEFAULT_URL = "sqlite:///schemaflow.db"
DEFAULTS: Mapping[str, Any] = {
    "changesets": "changesets",
    "url": DEFAULT_URL,
    "models": None,
    "version_table": "schemaflow_version",
    "version_table_schema": None,
    "format": "yaml",
    "max_file_mb": 10,
}


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved settings for one run."""

    root: Path
    config_file: Path | None
    changesets: Path
    url: str
    url_source: str
    models: str | None = None
    version_table: str = "schemaflow_version"
    version_table_schema: str | None = None
    format: str = "yaml"
    lint_select: tuple[str, ...] = ()
    lint_ignore: tuple[str, ...] = ()
    post_write_hooks: tuple[str, ...] = field(default=())
    max_file_bytes: int = 10_000_000  # a larger changeset file is refused unread


_PASSWORD = re.compile(r"^([A-Za-z0-9+.\-]+://[^:/@]*):[^@]*@")


_QUERY_PASSWORD = re.compile(r"([?&](?:password|passwd|pwd)=)[^&#\s]*", re.I)


def hide_password(url: str) -> str:
    """The URL with its password (in the user part or the query) replaced by ***."""
    return _QUERY_PASSWORD.sub(r"\1***", _PASSWORD.sub(r"\1:***@", url))


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for memory databases and other URLs)."""
    m = re.match(r"^sqlite(?:\+\w+)?:///(.*?)(?:\?.*)?$", url)
    if not m or not m.group(1) or m.group(1) == ":memory:":
        return None
    return Path(m.group(1))


def sqlite_missing(url: str) -> bool:
    """True for a SQLite file URL whose file does not exist yet (checked without SQLAlchemy)."""
    path = sqlite_path(url)
    return path is not None and not path.exists()


_KEYS: Mapping[str, type | tuple[type, ...]] = {
    "changesets": str, "url": str, "models": str, "version_table": str,
    "version_table_schema": str, "format": str, "lint": dict, "post_write_hooks": list,
    "max_file_mb": (int, float),
}


def _check(values: Mapping[str, Any], path: str) -> None:
    """The configuration's keys and types, checked in plain Python (every command reads the
    configuration; importing jsonschema for it would cost a fifth of a second each time)."""
    import difflib

    problems = []
    for key, value in values.items():
        expected = _KEYS.get(key)
        if expected is None:
            close = difflib.get_close_matches(key, list(_KEYS), n=1)
            problems.append(f"unknown key '{key}'" + (f" — did you mean '{close[0]}'?"
                                                      if close else ""))
        elif not isinstance(value, expected):
            problems.append(f"'{key}' must be a {getattr(expected, '__name__', 'value')}")
    size = values.get("max_file_mb", 10)
    if isinstance(size, bool) or (isinstance(size, (int, float)) and not 0 < size < 1e9):
        problems.append("'max_file_mb' must be a number of megabytes greater than 0")
    if values.get("format", "yaml") not in ("yaml", "toml"):
        problems.append(f"'format' must be yaml or toml, not {values['format']!r}")
    lint = values.get("lint")
    if isinstance(lint, dict):
        for key, codes in lint.items():
            if key not in ("select", "ignore"):
                problems.append(f"unknown key 'lint.{key}' (select or ignore)")
            elif not (isinstance(codes, list) and all(
                    isinstance(c, str) and re.fullmatch(r"SF\d{1,4}", c) for c in codes)):
                problems.append(f"'lint.{key}' must be a list of codes such as SF302 or SF3")
    hooks = values.get("post_write_hooks")
    if isinstance(hooks, list) and not all(isinstance(h, str) for h in hooks):
        problems.append("'post_write_hooks' must be a list of commands")
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: TOML syntax error: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror}") from None


def _section(path: Path) -> dict[str, Any] | None:
    """The schemaflow settings in a file, or None when the file has none."""
    doc = _read_toml(path)
    if path.name == "pyproject.toml":
        tool = doc.get("tool", {})
        section = tool.get("schemaflow") if isinstance(tool, dict) else None
        if section is None:
            return None
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: [tool.schemaflow] must be a table")
        return section
    return doc


def find_config(start: Path) -> tuple[Path | None, dict[str, Any]]:
    """The nearest configuration at or above `start`, and its settings."""
    for folder in (start, *start.parents):
        for name in ("schemaflow.toml", "pyproject.toml"):
            candidate = folder / name
            if candidate.is_file():
                section = _section(candidate)
                if section is not None:
                    return candidate, section
    return None, {}


def _sqlite_relative(url: str, base: Path) -> str:
    """Make a relative SQLite file path absolute against `base`."""
    m = re.match(r"^(sqlite(?:\+\w+)?:///)(.*)$", url)
    if not m or not m.group(2) or m.group(2).startswith(("/", ":memory:")):
        return url
    path, sep, query = m.group(2).partition("?")
    return f"{m.group(1)}{(base / path).resolve()}{sep}{query}"


def load(
    *,
    config: str | None = None,
    url: str | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve the settings for a run."""
    env = os.environ if environ is None else environ
    here = (cwd or Path.cwd()).resolve()
    if config:
        cfg_path: Path | None = (here / config).resolve()
        assert cfg_path is not None
        if not cfg_path.is_file():
            raise ConfigError(f"configuration file not found: {config}")
        values = _section(cfg_path) or {}
    else:
        cfg_path, values = find_config(here)
    if values:
        _check(values, str(cfg_path))
    root = cfg_path.parent if cfg_path else here
    merged = {**DEFAULTS, **values}
    lint = merged.get("lint") or {}
    if url:
        chosen, source = url, "--url"
    elif env.get("SCHEMAFLOW_URL"):
        chosen, source = env["SCHEMAFLOW_URL"], "SCHEMAFLOW_URL"
    elif env.get("DATABASE_URL"):
        chosen, source = env["DATABASE_URL"], "DATABASE_URL"
    else:
        chosen = _sqlite_relative(str(merged["url"]), root)
        source = f"{cfg_path.name}" if cfg_path and "url" in values else "default"
    return Settings(
        root=root,
        config_file=cfg_path,
        changesets=(root / str(merged["changesets"])).resolve(),
        url=chosen,
        url_source=source,
        models=merged.get("models"),
        version_table=str(merged["version_table"]),
        version_table_schema=merged.get("version_table_schema"),
        format=str(merged["format"]),
        lint_select=tuple(lint.get("select", ())),
        lint_ignore=tuple(lint.get("ignore", ())),
        post_write_hooks=tuple(merged.get("post_write_hooks", ())),
        max_file_bytes=int(merged["max_file_mb"] * 1_000_000),
    )
