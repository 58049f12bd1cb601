"""Finding and merging settings: CLI > environment > schemaflow.toml > pyproject.toml > defaults."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

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
    lint_error: tuple[str, ...] = ()  # warnings the project treats as errors
    post_write_hooks: tuple[str, ...] = field(default=())
    # Tables autogenerate and check leave out, or the only ones they look at (glob patterns).
    exclude_tables: tuple[str, ...] = ()
    include_tables: tuple[str, ...] = ()
    # Schemas besides the default one that autogenerate reads from the database.
    schemas: tuple[str, ...] = ()
    # Whether the user allowed the hooks to run (--run-hooks, SCHEMAFLOW_RUN_HOOKS=1): they
    # come with the repository, which may be anyone's pull request.
    run_hooks: bool = False
    max_file_bytes: int = 10_000_000  # a larger changeset file is refused unread
    # The caller's SQLAlchemy Engine or Connection (the API's `url=`), used instead of
    # connecting with `url` (then that engine's URL, for what is told from a URL).
    bind: Engine | Connection | None = None

    @property
    def database(self) -> str | Engine | Connection:
        """What to connect to: the caller's Engine or Connection, else the URL."""
        return self.url if self.bind is None else self.bind


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_QUERY_PASSWORD = re.compile(r"([?&](?:password|passwd|pwd)=)([^&#\s]*)", re.I)
# Passwords seen in URLs this run: driver messages are scrubbed of them (see `scrub`).
_SECRETS: set[str] = set()


@dataclass(frozen=True, slots=True)
class UrlParts:
    """A database URL cut where its user part ends: `scheme://user:password@rest`."""

    scheme: str  # `postgresql+psycopg://`
    user: str | None  # None: no `@`
    password: str | None  # None: no `:` in the user part
    rest: str  # host, port, database and query

    def joined(self, password: str | None) -> str:
        """The URL with `password` in place of its own."""
        if self.user is None:
            return self.scheme + self.rest
        pw = "" if password is None else f":{password}"
        return f"{self.scheme}{self.user}{pw}@{self.rest}"


def url_parts(url: str) -> UrlParts | None:
    """The parts of `url` as its writer meant them (None when it is not `scheme://...`).

    The user part ends at the last `@` before the query, so a password written with raw
    `@`, `:`, `/` or `%` is still the password (drivers cut it at the first `@`)."""
    m = _SCHEME.match(url)
    if m is None:
        return None
    body = url[m.end():]
    head = body.split("?", 1)[0]
    at = head.rfind("@")
    if at < 0 and "?" in body and "/" not in head:  # a raw `?` in the password?
        last = body.rfind("@")
        if ":" in body[:last] and "=" not in body[last:]:  # not an `@` in a query value
            at = last
    if at < 0:
        return UrlParts(m.group(0), None, None, body)
    user, sep, password = body[:at].partition(":")
    if "/" in user:  # a path with an `@` (sqlite:///a@b.db), not a user part
        return UrlParts(m.group(0), None, None, body)
    return UrlParts(m.group(0), user, password if sep else None, body[at + 1:])


_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9%!$&'()*+,;=._~\-]")


def _encoded(text: str) -> str:
    """`text` percent-encoded where a URL needs it; valid `%XX` escapes are kept."""
    return _ESCAPE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group(0).encode()), text)


def normal_url(url: str) -> str:
    """`url` with its user name and password percent-encoded where they need it (a raw
    `@`, `:`, `/`, `%`...), so that every driver reads them as the writer meant."""
    parts = url_parts(url)
    if parts is None or parts.user is None:
        return url
    remember_secrets(url)
    user = _encoded(parts.user)
    password = None if parts.password is None else _encoded(parts.password)
    return UrlParts(parts.scheme, user, None, parts.rest).joined(password)


def url_port_problem(url: str) -> str | None:
    """What is wrong with the port of `url` (None: nothing, or no port)."""
    parts = url_parts(url)
    if parts is None:
        return None
    host = re.split(r"[/?]", parts.rest, maxsplit=1)[0]
    port = host.rpartition("]")[2] if host.startswith("[") else host
    if ":" not in port:
        return None
    value = port.rpartition(":")[2]
    if value.isdigit() and int(value) < 65536:
        return None
    return f"the port must be a number from 0 to 65535, not '{value}'"


def remember_secrets(url: str) -> None:
    """Note the password of `url` (as written and decoded) for `scrub`."""
    from urllib.parse import unquote

    parts = url_parts(url)
    found = [m.group(2) for m in _QUERY_PASSWORD.finditer(url)]
    if parts is not None and parts.password:
        found.append(parts.password)
    for secret in found:
        _SECRETS.update(s for s in (secret, unquote(secret), _encoded(unquote(secret)))
                        if len(s) >= 4)


def scrub(text: str) -> str:
    """`text` without any password seen in a URL this run (a driver may quote it)."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def hide_password(url: str) -> str:
    """The URL with its password (in the user part or the query) replaced by ***; a text
    that is not a URL is not shown at all (it may be a password or a DSN)."""
    parts = url_parts(url)
    if parts is None:
        return "<a URL without scheme://, not shown>"
    remember_secrets(url)
    shown = parts.joined(None if parts.password is None else "***")
    return _QUERY_PASSWORD.sub(r"\1***", shown)


_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"]+")


def hide_passwords_in(text: str) -> str:
    """`text` (a driver's message) with the password of every URL in it hidden, and any
    password seen in a URL this run."""
    return scrub(_URL_IN_TEXT.sub(lambda m: hide_password(m.group(0)), text))


def url_origin(settings: Settings) -> str:
    """Where the database URL came from, in words (for headers and -v)."""
    source = settings.url_source
    if source in ("SCHEMAFLOW_URL", "DATABASE_URL"):
        return f"from the environment variable {source}"
    if source == "default":
        return "the default: no url configured"
    if settings.config_file is not None and source == settings.config_file.name:
        try:
            shown = os.path.relpath(settings.config_file)
        except ValueError:  # another drive (Windows)
            shown = str(settings.config_file)
        return f"from {shown}"
    return f"from {source}"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for memory databases and other URLs, and for a path
    with a %-escape, which SQLAlchemy 2.1 decodes and 2.0 does not: left to it)."""
    m = re.match(r"^sqlite(?:\+\w+)?:///(.*?)(?:\?.*)?$", url)
    if not m or not m.group(1) or m.group(1) == ":memory:" or "%" in m.group(1):
        return None
    return Path(m.group(1))


_KEYS: Mapping[str, type | tuple[type, ...]] = {
    "changesets": str, "url": str, "models": str, "version_table": str,
    "version_table_schema": str, "format": str, "lint": dict, "post_write_hooks": list,
    "autogenerate": dict,
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
            if key not in ("select", "ignore", "error"):
                problems.append(f"unknown key 'lint.{key}' (select, ignore or error)")
            elif not (isinstance(codes, list) and all(
                    isinstance(c, str) and re.fullmatch(r"SF\d{1,4}", c) for c in codes)):
                problems.append(f"'lint.{key}' must be a list of codes such as SF302 or SF3")
    auto = values.get("autogenerate")
    if isinstance(auto, dict):
        for key, names in auto.items():
            if key not in ("exclude_tables", "include_tables", "schemas"):
                problems.append(f"unknown key 'autogenerate.{key}' (exclude_tables, "
                                "include_tables or schemas)")
            elif not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
                problems.append(f"'autogenerate.{key}' must be a list of table names or "
                                "patterns such as \"celery_*\"")
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
        found = config_in(folder)
        if found[0] is not None:
            return found
    return None, {}


def config_in(folder: Path) -> tuple[Path | None, dict[str, Any]]:
    """The configuration in `folder` itself (schemaflow.toml first), and its settings."""
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
    run_hooks: bool = False,
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
        url=normal_url(chosen),
        url_source=source,
        models=merged.get("models"),
        version_table=str(merged["version_table"]),
        version_table_schema=merged.get("version_table_schema"),
        format=str(merged["format"]),
        lint_select=tuple(lint.get("select", ())),
        lint_ignore=tuple(lint.get("ignore", ())),
        lint_error=tuple(lint.get("error", ())),
        post_write_hooks=tuple(merged.get("post_write_hooks", ())),
        exclude_tables=tuple((merged.get("autogenerate") or {}).get("exclude_tables", ())),
        include_tables=tuple((merged.get("autogenerate") or {}).get("include_tables", ())),
        schemas=tuple((merged.get("autogenerate") or {}).get("schemas", ())),
        run_hooks=run_hooks or env.get("SCHEMAFLOW_RUN_HOOKS", "").lower() in ("1", "true", "yes"),
        max_file_bytes=int(merged["max_file_mb"] * 1_000_000),
    )
