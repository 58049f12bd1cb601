"""`schemaflow init`: the files a new project starts with."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import UsageError
from .source import display_path
from .validate import schema_path

CONFIG = """\
#:schema .schemaflow/config.schema.json
changesets = "changesets"
url = "sqlite:///schemaflow.db"
version_table = "schemaflow_version"
format = "{fmt}"
"""


def init_project(directory: Path, fmt: str) -> list[str]:
    """Write the configuration, the folder, the JSON Schemas and the VS Code hook-up."""
    root = directory.resolve()
    config = root / "schemaflow.toml"
    if config.exists():
        raise UsageError(f"{display_path(config)} already exists; nothing was written")
    written: list[Path] = []
    root.mkdir(parents=True, exist_ok=True)
    config.write_text(CONFIG.format(fmt=fmt), encoding="utf-8")
    written.append(config)
    folder = root / "changesets"
    folder.mkdir(exist_ok=True)
    keep = folder / ".gitkeep"
    keep.touch()
    written.append(keep)
    schemas = root / ".schemaflow"
    schemas.mkdir(exist_ok=True)
    for name in ("changeset.schema.json", "config.schema.json"):
        target = schemas / name
        target.write_text(schema_path(name).read_text(encoding="utf-8"), encoding="utf-8")
        written.append(target)
    vscode = root / ".vscode" / "settings.json"
    settings: dict[str, object] = {}
    if vscode.exists():
        try:
            settings = json.loads(vscode.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            raise UsageError(f"{display_path(vscode)} is not valid JSON; fix it and run init "
                             "again") from None
    yaml_schemas = dict(settings.get("yaml.schemas", {}) or {})  # type: ignore[call-overload]
    yaml_schemas["./.schemaflow/changeset.schema.json"] = ["changesets/*.yaml",
                                                           "changesets/*.yml"]
    settings["yaml.schemas"] = yaml_schemas
    vscode.parent.mkdir(exist_ok=True)
    vscode.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    written.append(vscode)
    return [display_path(p) for p in written]
