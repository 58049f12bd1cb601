"""Configuration: where the settings come from, which wins, and what a bad file says."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import rows, run_cli

from schemaflow.config import hide_password, load
from schemaflow.errors import ConfigError

ONE_TABLE = """\
schemaflow: 1
id: c001
parents: []
message: create t
operations:
  - create_table:
      name: t
      columns:
        - {name: id, type: integer, primary_key: true}
"""


def _folder(root: Path, name: str = "changesets") -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "c001_create_t.yaml").write_text(ONE_TABLE)
    return folder


def _sqlite(path: Path) -> str:
    return f"sqlite:///{path}"


def _tables(db: Path) -> set[str]:
    names = rows(_sqlite(db), "SELECT name FROM sqlite_master WHERE type = 'table'")
    return {n for (n,) in names}


# --- precedence of the URL (pure) ------------------------------------------------------------


@pytest.fixture
def configured(tmp_path: Path) -> Path:
    (tmp_path / "schemaflow.toml").write_text('url = "sqlite:////srv/from_config.db"\n')
    return tmp_path


ALL_ENV = {"SCHEMAFLOW_URL": "sqlite:////srv/from_schemaflow_url.db",
           "DATABASE_URL": "sqlite:////srv/from_database_url.db"}


def test_url_flag_beats_everything(configured: Path) -> None:
    s = load(url="sqlite:////srv/from_flag.db", cwd=configured, environ=ALL_ENV)
    assert s.url == "sqlite:////srv/from_flag.db"


def test_schemaflow_url_beats_database_url_and_config(configured: Path) -> None:
    s = load(cwd=configured, environ=ALL_ENV)
    assert s.url == "sqlite:////srv/from_schemaflow_url.db"


def test_database_url_beats_config(configured: Path) -> None:
    s = load(cwd=configured, environ={"DATABASE_URL": ALL_ENV["DATABASE_URL"]})
    assert s.url == "sqlite:////srv/from_database_url.db"


def test_config_url_beats_default(configured: Path) -> None:
    s = load(cwd=configured, environ={})
    assert s.url == "sqlite:////srv/from_config.db"


def test_empty_environment_variables_are_ignored(configured: Path) -> None:
    s = load(cwd=configured, environ={"SCHEMAFLOW_URL": "", "DATABASE_URL": ""})
    assert s.url == "sqlite:////srv/from_config.db"


def test_default_url_without_any_configuration(tmp_path: Path) -> None:
    s = load(cwd=tmp_path, environ={})
    assert s.url == _sqlite(tmp_path.resolve() / "schemaflow.db")
    assert s.changesets == tmp_path.resolve() / "changesets"
    assert s.version_table == "schemaflow_version"
    assert s.format == "yaml"


def test_default_url_is_next_to_the_configuration_file(tmp_path: Path) -> None:
    (tmp_path / "schemaflow.toml").write_text('format = "toml"\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    s = load(cwd=sub, environ={})
    assert s.url == _sqlite(tmp_path.resolve() / "schemaflow.db")
    assert s.format == "toml"


# --- where the configuration is found (pure) -------------------------------------------------


def test_relative_sqlite_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "schemaflow.toml").write_text('url = "sqlite:///data/app.db"\n'
                                              'changesets = "migrations"\n')
    sub = tmp_path / "src" / "pkg"
    sub.mkdir(parents=True)
    s = load(cwd=sub, environ={})
    assert s.config_file == (tmp_path / "schemaflow.toml").resolve()
    assert s.url == _sqlite(tmp_path.resolve() / "data" / "app.db")
    assert s.changesets == tmp_path.resolve() / "migrations"


def test_pyproject_tool_schemaflow_is_found(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.schemaflow]\nurl = "sqlite:///py.db"\n'
        'version_table = "my_versions"\n')
    s = load(cwd=tmp_path, environ={})
    assert s.config_file == (tmp_path / "pyproject.toml").resolve()
    assert s.url == _sqlite(tmp_path.resolve() / "py.db")
    assert s.version_table == "my_versions"


def test_pyproject_without_the_section_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "schemaflow.toml").write_text('url = "sqlite:///outer.db"\n')
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "inner"\n')
    s = load(cwd=inner, environ={})
    assert s.config_file == (tmp_path / "schemaflow.toml").resolve()
    assert s.url == _sqlite(tmp_path.resolve() / "outer.db")


def test_schemaflow_toml_wins_over_pyproject_in_the_same_folder(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.schemaflow]\nurl = "sqlite:///py.db"\n')
    (tmp_path / "schemaflow.toml").write_text('url = "sqlite:///sf.db"\n')
    s = load(cwd=tmp_path, environ={})
    assert s.config_file == (tmp_path / "schemaflow.toml").resolve()
    assert s.url == _sqlite(tmp_path.resolve() / "sf.db")


def test_the_nearest_configuration_wins(tmp_path: Path) -> None:
    (tmp_path / "schemaflow.toml").write_text('url = "sqlite:///outer.db"\n')
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[tool.schemaflow]\nurl = "sqlite:///inner.db"\n')
    s = load(cwd=inner, environ={})
    assert s.url == _sqlite(inner.resolve() / "inner.db")


def test_config_option_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "schemaflow.toml").write_text('url = "sqlite:///ignored.db"\n')
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "other.toml").write_text('url = "sqlite:///other.db"\nchangesets = "cs"\n')
    s = load(config="conf/other.toml", cwd=tmp_path, environ={})
    assert s.config_file == (conf / "other.toml").resolve()
    assert s.url == _sqlite(conf.resolve() / "other.db")
    assert s.changesets == conf.resolve() / "cs"


def test_config_option_with_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(config="nope.toml", cwd=tmp_path, environ={})
    assert "nope.toml" in info.value.message
    assert info.value.exit_code == 2


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    (tmp_path / "schemaflow.toml").write_text('changeset = "migrations"\n')
    with pytest.raises(ConfigError) as info:
        load(cwd=tmp_path, environ={})
    assert "changeset" in info.value.message
    assert "did you mean 'changesets'" in info.value.message
    assert info.value.exit_code == 2


def test_unknown_key_in_pyproject_section(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.schemaflow]\nversion_tabel = "v"\n')
    with pytest.raises(ConfigError) as info:
        load(cwd=tmp_path, environ={})
    assert "did you mean 'version_table'" in info.value.message
    assert "pyproject.toml" in info.value.message


def test_bad_value_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "schemaflow.toml").write_text('format = "xml"\n')
    with pytest.raises(ConfigError) as info:
        load(cwd=tmp_path, environ={})
    assert "xml" in info.value.message


def test_hide_password() -> None:
    shown = hide_password("postgresql+psycopg://alice:s3cr3t@db.example:5432/app")
    assert "s3cr3t" not in shown
    assert shown.startswith("postgresql+psycopg://alice:")
    assert shown.endswith("@db.example:5432/app")
    assert hide_password("sqlite:///app.db") == "sqlite:///app.db"


# --- end to end: which database file a user's run creates ------------------------------------


def test_cli_url_precedence_creates_the_right_database(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _folder(root)
    (root / "schemaflow.toml").write_text('url = "sqlite:///from_config.db"\n')
    dbs = {name: root / f"{name}.db"
           for name in ("flag", "schemaflow_url", "database_url", "from_config")}
    env = {"SCHEMAFLOW_URL": _sqlite(dbs["schemaflow_url"]),
           "DATABASE_URL": _sqlite(dbs["database_url"])}

    def run(*args: str, **extra: str) -> set[str]:
        done = run_cli(*args, "apply", cwd=root, env=extra)
        assert done.returncode == 0, done.stderr
        return {p.name for p in root.glob("*.db")}

    assert run("--url", _sqlite(dbs["flag"]), **env) == {"flag.db"}
    assert run(**env) == {"flag.db", "schemaflow_url.db"}
    assert run(DATABASE_URL=env["DATABASE_URL"]) == {"flag.db", "schemaflow_url.db",
                                                     "database_url.db"}
    assert run() == {"flag.db", "schemaflow_url.db", "database_url.db", "from_config.db"}
    for db in dbs.values():
        assert "t" in _tables(db)


def test_cli_default_database_without_a_url(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _folder(root)
    (root / "schemaflow.toml").write_text('changesets = "changesets"\n')
    sub = root / "sub"
    sub.mkdir()
    done = run_cli("apply", cwd=sub)
    assert done.returncode == 0, done.stderr
    assert "t" in _tables(root / "schemaflow.db")
    assert not (sub / "schemaflow.db").exists()


def test_cli_relative_sqlite_path_from_a_subfolder(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _folder(root, "migrations")
    (root / "data").mkdir()
    (root / "schemaflow.toml").write_text(
        'url = "sqlite:///data/app.db"\nchangesets = "migrations"\n'
        'version_table = "my_versions"\n')
    deep = root / "src" / "pkg"
    deep.mkdir(parents=True)
    done = run_cli("apply", cwd=deep)
    assert done.returncode == 0, done.stderr
    db = root / "data" / "app.db"
    assert _tables(db) == {"t", "my_versions"}
    assert rows(_sqlite(db), "SELECT id FROM my_versions") == [("c001",)]
    assert not list(deep.rglob("*.db"))


def test_cli_pyproject_section(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _folder(root)
    (root / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.schemaflow]\n'
                                         'url = "sqlite:///py.db"\n')
    done = run_cli("apply", cwd=root)
    assert done.returncode == 0, done.stderr
    assert "t" in _tables(root / "py.db")


def test_cli_config_option(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _folder(root / "conf", "cs")
    (root / "conf" / "staging.toml").write_text('url = "sqlite:///staging.db"\n'
                                                'changesets = "cs"\n')
    done = run_cli("-c", "conf/staging.toml", "apply", cwd=root)
    assert done.returncode == 0, done.stderr
    assert "t" in _tables(root / "conf" / "staging.db")


def test_cli_unknown_config_key(tmp_path: Path) -> None:
    (tmp_path / "schemaflow.toml").write_text('urll = "sqlite:///x.db"\n')
    done = run_cli("status", cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "schemaflow.toml" in done.stderr
    assert "did you mean 'url'" in done.stderr
    assert not list(tmp_path.glob("*.db"))


def test_cli_toml_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "schemaflow.toml").write_text('url = "sqlite:///x.db\n')
    done = run_cli("status", cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "schemaflow.toml" in done.stderr
    assert not list(tmp_path.glob("*.db"))


def test_plain_check_and_json_schema_know_the_same_keys() -> None:
    # Every command checks the configuration in plain Python (config._KEYS); editors use
    # schemas/config.schema.json. The two must not drift apart.
    import json

    from schemaflow import config
    from schemaflow.validate import schema_path

    schema = json.loads(schema_path("config.schema.json").read_text())
    assert set(schema["properties"]) == set(config._KEYS)
    assert set(schema["properties"]["lint"]["properties"]) == {"select", "ignore"}
