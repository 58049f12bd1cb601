"""`schemaflow init`: the files a new project starts with, written all or none."""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError
from .jsonc import JsoncError, add_member, loads
from .source import display_path
from .validate import schema_path

SETTINGS = """\
changesets = "changesets"
url = "sqlite:///schemaflow.db"
version_table = "schemaflow_version"
format = "{fmt}"
"""
CONFIG = "#:schema .schemaflow/config.schema.json\n" + SETTINGS
CONFIG_FILES = ("schemaflow.toml", "pyproject.toml")
SCHEMA_KEY = "./.schemaflow/changeset.schema.json"
SCHEMA_GLOBS = ["changesets/*.yaml", "changesets/*.yml"]


@dataclass
class _Plan:
    """What init writes: each file's new text and, for a file it edits, the text it had."""

    files: list[tuple[Path, str, str | None]] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)  # what to tell the user, in order

    def add(self, path: Path, text: str, old: str | None = None, shown: str | None = None
            ) -> None:
        self.files.append((path, text, old))
        self.shown.append(shown or display_path(path))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise UsageError(f"cannot read {display_path(path)}: {why}; nothing was written") \
            from None


def choose_config(root: Path, config_file: str | None) -> Path:
    """Where the settings go: the file asked for, else pyproject.toml when the folder has
    one (Python projects keep their tools' settings there), else schemaflow.toml."""
    if config_file is not None:
        if config_file not in CONFIG_FILES:
            raise UsageError(f"--config-file must be {' or '.join(CONFIG_FILES)}, not "
                             f"'{config_file}'")
        return root / config_file
    return root / ("pyproject.toml" if (root / "pyproject.toml").is_file() else
                   "schemaflow.toml")


def _config(plan: _Plan, config: Path, fmt: str) -> None:
    for name in CONFIG_FILES:  # config.py reads either: one project, one configuration
        other = config.parent / name
        if name == "schemaflow.toml" and other.exists():
            raise UsageError(f"{display_path(other)} already exists; nothing was written")
        if name == "pyproject.toml" and other.is_file():
            try:
                tool = tomllib.loads(_read(other)).get("tool", {})
            except tomllib.TOMLDecodeError as exc:
                if config == other:
                    raise UsageError(f"{display_path(other)} is not valid TOML ({exc}); fix "
                                     "it, or run init --config-file schemaflow.toml; nothing "
                                     "was written") from None
                continue
            if isinstance(tool, dict) and "schemaflow" in tool:
                raise UsageError(f"{display_path(other)} already has [tool.schemaflow]; "
                                 "nothing was written")
    if config.name == "schemaflow.toml":
        plan.add(config, CONFIG.format(fmt=fmt))
        return
    old = _read(config) if config.exists() else ""
    text = old + ("" if not old or old.endswith("\n") else "\n") + (
        "\n" if old else "") + "[tool.schemaflow]\n" + SETTINGS.format(fmt=fmt)
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:  # e.g. `tool = {...}` inline: a table cannot be added
        raise UsageError(f"cannot add [tool.schemaflow] to {display_path(config)} as it is "
                         "written", hint="add the section by hand, or run init --config-file "
                         "schemaflow.toml; nothing was written") from None
    plan.add(config, text, old if config.exists() else None,
             f"[tool.schemaflow] in {display_path(config)}")


def _vscode(plan: _Plan, root: Path) -> None:
    """The editor hook-up: VS Code's YAML extension checks changesets against the schema."""
    settings = root / ".vscode" / "settings.json"
    old = _read(settings) if settings.exists() else None
    try:
        current = loads(old or "")
        if not isinstance(current, dict):
            raise JsoncError("the settings are not a JSON object")
        schemas = current.get("yaml.schemas")
        if isinstance(schemas, dict) and SCHEMA_KEY in schemas:
            return  # hooked up already: the file stays as it is
        text = add_member(old, "yaml.schemas", SCHEMA_KEY, SCHEMA_GLOBS) if old and old.strip() \
            else json.dumps({"yaml.schemas": {SCHEMA_KEY: SCHEMA_GLOBS}}, indent=2) + "\n"
        loads(text)  # what is written must read back
    except JsoncError as exc:
        raise UsageError(f"{display_path(settings)} cannot be read as JSON with comments "
                         f"({exc}); fix it and run init again; nothing was written") from None
    plan.add(settings, text, old)


def init_project(directory: Path, fmt: str, config_file: str | None = None) -> list[str]:
    """Write the configuration (schemaflow.toml, or [tool.schemaflow] in pyproject.toml),
    the changesets folder, the JSON Schemas and the VS Code hook-up; all of them or, when
    one cannot be written, none (files it edited get their text back). Returns what it
    wrote, for the user."""
    root = directory.resolve()
    plan = _Plan()
    _config(plan, choose_config(root, config_file), fmt)
    keep = root / "changesets" / ".gitkeep"
    if not keep.exists():
        plan.add(keep, "")
    for name in ("changeset.schema.json", "config.schema.json"):
        plan.add(root / ".schemaflow" / name, _read(schema_path(name)))
    _vscode(plan, root)
    _write(plan)
    return plan.shown


def _write(plan: _Plan) -> None:
    """Write every file of the plan, or undo what was done and raise UsageError."""
    made: list[Path] = []  # folders created, in order
    done: list[tuple[Path, str | None]] = []
    path = Path()
    try:
        for path, text, old in plan.files:
            missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
            for folder in reversed(missing):
                folder.mkdir()
                made.append(folder)
            temp = path.with_name(f".{path.name}.schemaflow-init")
            temp.write_text(text, encoding="utf-8")
            try:
                os.replace(temp, path)
            finally:
                temp.unlink(missing_ok=True)
            done.append((path, old))
    except OSError as exc:
        for written, old in reversed(done):
            if old is None:
                written.unlink(missing_ok=True)
            else:
                written.write_text(old, encoding="utf-8")
        for folder in reversed(made):
            folder.rmdir()
        raise UsageError(f"cannot write {display_path(path)}: {exc.strerror}; nothing was "
                         "written") from None
