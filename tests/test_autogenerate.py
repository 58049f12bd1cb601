"""Autogenerate and check: SQLAlchemy models to reviewable changesets, on the three databases.

The model sets live in tests/models/ (blog: a naming convention; shop: none, every type,
a cycle; large: forty tables built in a loop; changes: a base plus one change per VARIANT).
Each test copies the module it needs into its project under a fresh module name, because
Python caches imported modules by name and every test's models must be its own.

Schemas are compared through `snapshot`, one connection per database (the conftest's
`reflect` opens a connection per inspector call, which costs a minute on forty tables on
MariaDB), holding what conftest.reflect holds plus comments, check expressions, index
predicates and PostgreSQL's enum types. Only documented, legitimate differences are
normalised, each where it is done.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
import yaml
from conftest import MYSQL_URL, POSTGRES_URL, Project, _server_database, make_project
from sqlalchemy.dialects.postgresql.base import PGInspector

from schemaflow import ir
from schemaflow.errors import SchemaflowError
from schemaflow.ir import dump_operation
from schemaflow.state import ck_name

if TYPE_CHECKING:
    from _pytest.mark import ParameterSet  # pytest does not export the type of pytest.param

MODELS = Path(__file__).resolve().parent / "models"
VERSION_TABLE = "schemaflow_version"

DIALECTS: list[str | ParameterSet] = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgresql),
    pytest.param("mysql", marks=pytest.mark.mysql),
]
SERVERS = [d for d in DIALECTS if d != "sqlite"]


# --- databases ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """One PostgreSQL database for the module; each test gets schemas of its own in it."""
    yield from _server_database(POSTGRES_URL, "PostgreSQL")


class Databases:
    """Fresh, empty databases of a dialect, removed after the test."""

    def __init__(self, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.request = request
        self.tmp_path = tmp_path
        self.cleanups: list[Iterator[str]] = []

    def new(self, dialect: str) -> str:
        """The URL of a new empty database: a SQLite file, a PostgreSQL schema (made the
        session's default through search_path: as empty as a new database, and far cheaper to
        create), or a MariaDB database."""
        tag = uuid.uuid4().hex[:10]
        if dialect == "sqlite":
            return f"sqlite:///{self.tmp_path / f'db_{tag}.sqlite'}"
        if dialect == "postgresql":
            base = self.request.getfixturevalue("pg_database")
            schema = f"s_{tag}"
            engine = sa.create_engine(base, poolclass=sa.pool.NullPool)
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            finally:
                engine.dispose()
            schema_url = sa.engine.make_url(base).update_query_dict(
                {"options": f"-csearch_path={schema}"})
            return schema_url.render_as_string(hide_password=False)
        gen = _server_database(MYSQL_URL, "MySQL")
        url = next(gen)
        self.cleanups.append(gen)
        return url

    def close(self) -> None:
        for gen in self.cleanups:
            next(gen, None)


@pytest.fixture
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Databases]:
    dbs = Databases(request, tmp_path)
    yield dbs
    dbs.close()


def run_sql(url: str, *statements: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            for s in statements:
                conn.exec_driver_sql(s)
    finally:
        engine.dispose()


# --- projects and models ------------------------------------------------------------------------


def use_models(project: Project, module: str, variant: str | None = None) -> str:
    """Copy tests/models/<module>.py into the project under a fresh name; point `models` at
    it. Returns the module name."""
    text = (MODELS / f"{module}.py").read_text(encoding="utf-8")
    if variant is not None:
        marker = 'VARIANT = "base"'
        assert marker in text
        text = text.replace(marker, f'VARIANT = "{variant}"')
    name = f"{module}_{uuid.uuid4().hex[:10]}"
    (project.root / f"{name}.py").write_text(text, encoding="utf-8")
    (project.root / "schemaflow.toml").write_text(
        f'url = "{project.url}"\nmodels = "{name}:Base"\n', encoding="utf-8")
    return name


def models_module(project: Project, module: str, text: str, extra: str = "") -> Path:
    """Write `text` as the project's module `module` and point `models` at its `metadata`
    (`extra`: more lines of schemaflow.toml). Returns the module's path."""
    path = project.root / f"{module}.py"
    path.write_text(text, encoding="utf-8")
    (project.root / "schemaflow.toml").write_text(
        f'url = "{project.url}"\nmodels = "{module}:metadata"\n{extra}', encoding="utf-8")
    return path


def new_project(tmp_path: Path, url: str, module: str, variant: str | None = None) -> Project:
    project = make_project(tmp_path / f"proj_{uuid.uuid4().hex[:6]}", url)
    use_models(project, module, variant)
    return project


def model_metadata(module: str, variant: str | None = None) -> sa.MetaData:
    """The MetaData of a tests/models module (a private copy: nothing shared between tests)."""
    text = (MODELS / f"{module}.py").read_text(encoding="utf-8")
    if variant is not None:
        text = text.replace('VARIANT = "base"', f'VARIANT = "{variant}"')
    name = f"_sf_models_{module}_{uuid.uuid4().hex[:10]}"
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # declarative resolves the annotations through sys.modules
    exec(compile(text, str(MODELS / f"{module}.py"), "exec"), mod.__dict__)
    return mod.Base.metadata  # type: ignore[no-any-return]


def create_all(metadata: sa.MetaData, url: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        metadata.create_all(engine)
    finally:
        engine.dispose()


def errors(project: Project) -> list[Any]:
    return [d for d in project.api().validate() if d.severity == "error"]


def dumps(ops: list[Any]) -> list[dict[str, Any]]:
    return [dump_operation(op) for op in ops]


def sig(d: dict[str, Any]) -> str:
    """kind, table and name of a dumped operation: enough to tell two diffs apart."""
    (kind, body), = d.items()
    name = body.get("name", (body.get("column") or {}).get("name", ""))
    return f"{kind} {body.get('table', '')} {name}".replace("  ", " ").strip()


def summary(ops: list[Any]) -> list[str]:
    return [sig(dump_operation(op)) for op in ops]


def changeset_ops(path: Path) -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["operations"])


def changes(path: Path) -> list[dict[str, Any]]:
    """The operations of an autogenerated changeset after PostgreSQL's lock_timeout prelude
    (written first when the change locks an existing table, SF345)."""
    ops = changeset_ops(path)
    return ops[1:] if ops and "lock_timeout" in str(ops[0].get("sql")) else ops


# --- snapshots ----------------------------------------------------------------------------------


def _squash(text: Any) -> str | None:
    if text is None:
        return None
    return re.sub(r"[\s()`\"]", "", str(text)).lower()


def _default(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split()).lower()
    while re.fullmatch(r"\((.*)\)", text):
        text = text[1:-1]
    # now() is PostgreSQL's spelling of CURRENT_TIMESTAMP (the same function); schemaflow
    # writes a model's func.now() as CURRENT_TIMESTAMP, the portable spelling.
    text = text.replace("now()", "current_timestamp")
    # A number is compared by value: '0.00' and 0.0 are one default of a numeric column.
    m = re.fullmatch(r"'?(-?\d+(?:\.\d*)?)'?(::numeric)?", text)
    if m:
        text = format(Decimal(m.group(1)).normalize(), "f")
    return text


def _action(value: Any) -> str | None:
    text = str(value or "").upper()
    return None if text in ("", "NO ACTION", "RESTRICT") else text


def _table(insp: Any, dialect: Any, table: str) -> dict[str, Any]:
    columns = {}
    for c in insp.get_columns(table):
        try:
            type_text = c["type"].compile(dialect=dialect)
        except Exception:
            type_text = str(c["type"])
        columns[c["name"]] = (type_text.upper(), bool(c["nullable"]), _default(c.get("default")),
                              c.get("comment"))
    pk = insp.get_pk_constraint(table)
    fks = sorted(((f.get("name"), tuple(f["constrained_columns"]), f["referred_table"],
                   tuple(f["referred_columns"]),
                   _action((f.get("options") or {}).get("ondelete")),
                   _action((f.get("options") or {}).get("onupdate")))
                  for f in insp.get_foreign_keys(table)), key=str)
    indexes = []
    for i in insp.get_indexes(table):
        opts = i.get("dialect_options") or {}
        where = opts.get("postgresql_where") or opts.get("sqlite_where")
        indexes.append((i["name"], tuple(i["column_names"]), bool(i["unique"]), _squash(where)))
    try:
        comment = insp.get_table_comment(table).get("text")
    except NotImplementedError:  # SQLite keeps no comments
        comment = None
    return {
        "columns": columns,
        "pk": (pk.get("name"), tuple(pk["constrained_columns"])),
        "fks": fks,
        "indexes": sorted(indexes, key=str),
        "uniques": sorted(((u["name"], tuple(u["column_names"]))
                           for u in insp.get_unique_constraints(table)), key=str),
        "checks": sorted(((c.get("name"), _squash(c["sqltext"]))
                          for c in insp.get_check_constraints(table)), key=str),
        "comment": comment,
    }


def snapshot(url: str, *, names: bool = True) -> dict[str, Any]:
    """The schema of a database (version table aside) as comparable plain data.

    With `names=False`, the names that a database makes up for unnamed constraints
    (`posts_author_id_fkey`, `products_ibfk_1`, SQLite's none) are left out: schemaflow gives
    every constraint a name (README, "Constraint names"), create_all leaves them to the
    database when the models have no naming convention.
    """
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            insp = sa.inspect(conn)
            kind = conn.dialect.name
            out: dict[str, Any] = {}
            for t in sorted(insp.get_table_names()):
                if t != VERSION_TABLE:
                    out[t] = _normalise(_table(insp, conn.dialect, t), kind, names)
            if kind == "postgresql":
                assert isinstance(insp, PGInspector)
                out["<enum types>"] = sorted((e["name"], tuple(e["labels"]))
                                             for e in insp.get_enums())
            return out
    finally:
        engine.dispose()


def _normalise(t: dict[str, Any], kind: str, names: bool) -> dict[str, Any]:
    if kind == "mysql":
        # InnoDB makes an index for every foreign key no index serves, named after the key
        # (or its first column when the key has no name): the server's, not the schema's.
        implicit = {(f[0], f[1]) for f in t["fks"]} | {(f[1][0], f[1]) for f in t["fks"]}
        t["indexes"] = [i for i in t["indexes"]
                        if i[2] or (i[0], i[1]) not in implicit]
    if not names:
        t["pk"] = (None, t["pk"][1])
        t["fks"] = sorted(((None, *f[1:]) for f in t["fks"]), key=str)
        t["uniques"] = sorted(((None, u[1]) for u in t["uniques"]), key=str)
        t["indexes"] = sorted(((None, *i[1:]) if i[2] else i for i in t["indexes"]), key=str)
    return t


def assert_same_schema(got: dict[str, Any], expected: dict[str, Any]) -> None:
    """Equal, with a readable list of what differs."""
    problems = []
    for table in sorted(set(got) | set(expected)):
        a, b = got.get(table), expected.get(table)
        if a == b:
            continue
        if a is None or b is None or not isinstance(a, dict):
            problems.append(f"{table}: {a!r} != {b!r}")
            continue
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                problems.append(f"{table}.{key}:\n    got      {a.get(key)!r}\n"
                                f"    expected {b.get(key)!r}")
    assert not problems, "schemas differ:\n" + "\n".join(problems)


# --- whole model sets: autogenerate from nothing, apply, compare with create_all -----------------

MODEL_SETS = {
    # module: whether the models name their constraints (a naming convention)
    "blog": True,
    "shop": False,
    "large": True,
}


@pytest.mark.parametrize("module", list(MODEL_SETS))
@pytest.mark.parametrize("dialect", DIALECTS)
def test_model_set_builds_what_create_all_builds(module: str, dialect: str, tmp_path: Path,
                                                 databases: Databases) -> None:
    url, expected_url = databases.new(dialect), databases.new(dialect)
    project = new_project(tmp_path, url, module)
    result = project.api().autogenerate("initial schema")
    assert result.path is not None
    assert result.warnings == []
    assert errors(project) == []
    project.api().apply()

    create_all(model_metadata(module), expected_url)
    names = MODEL_SETS[module]
    assert_same_schema(snapshot(url, names=names), snapshot(expected_url, names=names))

    assert summary(project.api().compare().operations) == []
    assert summary(project.api().compare(against_db=True).operations) == []


@pytest.mark.parametrize("dialect", DIALECTS)
def test_check_exits_0_after_autogenerate_and_apply(dialect: str, tmp_path: Path,
                                                    databases: Databases) -> None:
    project = new_project(tmp_path, databases.new(dialect), "blog")
    made = project.cli("new", "--autogenerate", "-m", "blog schema")
    assert made.returncode == 0, made.stderr
    assert (project.root / made.stdout.strip()).is_file()
    project.api().apply()
    for args in (("check",), ("check", "--against-db")):
        done = project.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        assert "No differences" in done.stdout
        assert "Traceback" not in done.stderr


def _cycle_edges(metadata: sa.MetaData) -> set[tuple[str, str]]:
    """(table, referenced table) pairs that lie on a cycle of foreign keys."""
    edges: dict[str, set[str]] = {}
    for t in metadata.tables.values():
        edges[t.name] = {str(fk.referred_table.name) for fk in t.foreign_key_constraints}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            n = todo.pop()
            if n == goal:
                return True
            if n not in seen:
                seen.add(n)
                todo += edges.get(n, ())
        return False

    return {(a, b) for a, refs in edges.items() for b in refs if a != b and reaches(b, a)}


@pytest.mark.parametrize("module", list(MODEL_SETS))
def test_generated_order_referenced_tables_first(module: str, project: Project) -> None:
    use_models(project, module)
    ops = project.api().autogenerate("initial").operations
    cycles = _cycle_edges(model_metadata(module))
    created: list[str] = []
    late = []
    for op in ops:
        if isinstance(op, ir.CreateTable):
            for f in op.foreign_keys:
                assert f.references.table in (*created, op.name), (
                    f"{op.name} is created before {f.references.table}, which it references")
            created.append(op.name)
        else:
            assert isinstance(op, ir.CreateForeignKey), op
            late.append((op.table, op.references.table))
    assert sorted(created) == sorted(model_metadata(module).tables)
    # Only a foreign key on a cycle has to wait until both of its tables exist.
    assert [e for e in late if e not in cycles] == []
    if module in ("shop", "large"):
        assert late, "the models have a cycle: one of its keys must be added afterwards"


def _convention_names(metadata: sa.MetaData) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = {}
    for t in metadata.tables.values():
        found = {("index", str(i.name)) for i in t.indexes}
        for c in t.constraints:
            kind = {sa.PrimaryKeyConstraint: "pk", sa.UniqueConstraint: "unique",
                    sa.ForeignKeyConstraint: "fk", sa.CheckConstraint: "check"}[type(c)]
            found.add((kind, str(c.name)))
        out[t.name] = found
    return out


def _constraints_and_indexes(t: sa.Table) -> tuple[sa.Constraint | sa.Index, ...]:
    return (*t.constraints, *t.indexes)


def _state_names(state: Any) -> dict[str, set[tuple[str, str]]]:
    out = {}
    for (_, name), t in state.tables.items():
        found = {("index", i.name) for i in t.indexes}
        found |= {("unique", str(u.name)) for u in t.uniques}
        found |= {("fk", str(f.name)) for f in t.foreign_keys}
        found |= {("check", str(c.name)) for c in t.checks}
        if t.primary_key:
            found.add(("pk", str(t.primary_key.name)))
        out[name] = found
    return out


@pytest.mark.parametrize("module", ["blog", "large"])
def test_every_constraint_named_after_the_naming_convention(module: str,
                                                            project: Project) -> None:
    use_models(project, module)
    project.api().autogenerate("initial")
    assert _state_names(project.api().changesets_state()) == _convention_names(
        model_metadata(module))


def test_every_constraint_named_by_the_readme_rules_without_a_convention(
        project: Project) -> None:
    use_models(project, "shop")
    assert project.api().autogenerate("initial").path is not None
    metadata = model_metadata("shop")
    given = {str(c.name) for t in metadata.tables.values() for c in _constraints_and_indexes(t)
             if c.name is not None}
    state = project.api().changesets_state()
    for (_, name), t in state.tables.items():
        assert t.primary_key is not None and t.primary_key.name == f"pk_{name}"
        for u in t.uniques:
            assert u.name in given or u.name == f"uq_{name}_{'_'.join(u.columns)}"
        for f in t.foreign_keys:
            assert f.name in given or (
                f.name == f"fk_{name}_{'_'.join(f.columns)}_{f.references.table}")
        for c in t.checks:
            assert c.name in given or (c.name or "").startswith(f"ck_{name}_")
        for i in t.indexes:
            assert i.name in given or i.name == f"ix_{name}_{'_'.join(i.column_names)}"
    assert errors(project) == []


def test_autogenerate_writes_toml_that_applies(project: Project) -> None:
    use_models(project, "shop")
    result = project.api().autogenerate("initial", fmt="toml")
    assert result.path is not None and result.path.suffix == ".toml"
    assert errors(project) == []
    project.api().apply()
    assert summary(project.api().compare().operations) == []
    assert summary(project.api().compare(against_db=True).operations) == []


# --- one change at a time -----------------------------------------------------------------------

_FK_NOTE = {"name": "fk_note_post_id_post", "table": "note", "type": "foreign_key"}
_KINDS = "kind IN ('draft', 'final', 'gone')"

CHANGES: dict[str, list[dict[str, Any]]] = {
    "add_table": [{"create_table": {
        "name": "tag",
        "columns": [{"name": "id", "type": "integer", "primary_key": True},
                    {"name": "label", "type": "string(30)", "nullable": False, "unique": True},
                    {"name": "post_id", "type": "integer", "nullable": False}],
        "foreign_keys": [{"columns": ["post_id"], "references": {"table": "post",
                                                                 "columns": ["id"]},
                          "name": "fk_tag_post_id_post"}]}}],
    "drop_table": [{"drop_table": {"name": "note"}}],
    "add_column": [{"add_column": {"table": "post",
                                   "column": {"name": "subtitle", "type": "string(100)"}}}],
    "drop_column": [{"drop_column": {"table": "post", "name": "body"}}],
    "string_length": [{"alter_column": {"table": "author", "name": "name",
                                        "type": "string(100)"}}],
    "bigint": [{"alter_column": {"table": "post", "name": "views", "type": "bigint"}}],
    "not_null": [{"alter_column": {"table": "author", "name": "email", "nullable": False}}],
    "nullable": [{"alter_column": {"table": "author", "name": "joined", "nullable": True}}],
    "default_added": [{"alter_column": {"table": "post", "name": "views", "default": 0}}],
    "default_changed": [{"alter_column": {"table": "author", "name": "score", "default": 10}}],
    "default_removed": [{"alter_column": {"table": "author", "name": "score",
                                          "drop_default": True}}],
    "pk_change": [
        {"drop_constraint": {"name": "pk_pair", "table": "pair", "type": "primary_key"}},
        {"create_primary_key": {"name": "pk_pair", "table": "pair",
                                "columns": ["left", "right"]}}],
    "add_unique": [{"create_unique_constraint": {"name": "uq_author_email", "table": "author",
                                                 "columns": ["email"]}}],
    "drop_unique": [{"drop_constraint": {"name": "uq_post_author_id_title", "table": "post",
                                         "type": "unique"}}],
    "add_fk": [{"create_foreign_key": {"name": "fk_post_editor_id_author", "table": "post",
                                       "columns": ["editor_id"],
                                       "references": {"table": "author", "columns": ["id"]}}}],
    "drop_fk": [{"drop_constraint": _FK_NOTE}],
    "fk_ondelete": [
        {"drop_constraint": _FK_NOTE},
        {"create_foreign_key": {"name": "fk_note_post_id_post", "table": "note",
                                "columns": ["post_id"],
                                "references": {"table": "post", "columns": ["id"]},
                                "ondelete": "SET NULL"}}],
    "add_index": [{"create_index": {"name": "ix_author_name", "table": "author",
                                    "columns": ["name"]}}],
    "drop_index": [{"drop_index": {"name": "ix_post_title", "table": "post"}}],
    "index_unique": [
        {"drop_index": {"name": "ix_post_title", "table": "post"}},
        {"create_index": {"name": "ix_post_title", "table": "post", "columns": ["title"],
                          "unique": True}}],
    # Partial on PostgreSQL and SQLite, whole on MySQL and MariaDB (as create_all() builds it).
    "partial_index": [{"create_index": {"name": "ix_post_published", "table": "post",
                                        "columns": ["author_id"], "where": "published",
                                        "where_dialects": ["postgresql", "sqlite"]}}],
    "add_check": [{"create_check_constraint": {"name": "ck_author_score", "table": "author",
                                               "expression": "score >= 0"}}],
    "drop_check": [{"drop_constraint": {"name": "ck_post_views", "table": "post",
                                        "type": "check"}}],
    "column_comment": [{"alter_column": {"table": "author", "name": "name",
                                         "comment": "display name"}}],
    "new_enum_type": [{"add_column": {"table": "post", "column": {
        "name": "mood", "type": "enum(happy,sad,name=post_mood)"}}}],
    "enum_value": [{"alter_column": {"table": "author", "name": "status",
                                     "type": "enum(active,banned,away,name=author_status)"}}],
    # A value added to a non-native enum: its CHECK dropped and created again (the VARCHAR
    # is long enough already), nothing else.
    "enum_check_value": [
        {"drop_constraint": {"name": ck_name("pair", "kind IN ('draft', 'final')"),
                             "table": "pair", "type": "check"}},
        {"create_check_constraint": {"name": ck_name("pair", _KINDS), "table": "pair",
                                     "expression": _KINDS}}],
    # The foreign key into a dropped table goes first (once), then the table.
    "drop_referenced_table": [{"drop_constraint": _FK_NOTE}, {"drop_table": {"name": "post"}}],
    # Two tables, one referencing the other: the referencing one is dropped first.
    "drop_two_tables": [{"drop_constraint": _FK_NOTE}, {"drop_table": {"name": "post"}},
                        {"drop_table": {"name": "author"}}],
}
NOT_ON = {
    "column_comment": {"sqlite"},  # SQLite keeps no comments
}
# What a database cannot tell apart, so that compared with it the change is no change:
# SQLite keeps an enum as a VARCHAR as long as its longest value (here 6 before and after).
NOT_SEEN_IN = {("enum_value", "sqlite")}


def _change_params() -> list[Any]:
    out = []
    for d in DIALECTS:
        dialect = d if isinstance(d, str) else d.values[0]
        assert isinstance(dialect, str)
        marks = () if isinstance(d, str) else d.marks
        for change in CHANGES:
            if dialect not in NOT_ON.get(change, set()):
                known = KNOWN_GAPS.get((dialect, change))
                extra = (pytest.mark.xfail(reason=known, strict=True),) if known else ()
                out.append(pytest.param(dialect, change, marks=(*marks, *extra),
                                        id=f"{dialect}-{change}"))
    return out


# Known gaps, asserted as they should behave (strict: a fix makes these tests fail until the
# mark is removed).
KNOWN_GAPS: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize(("dialect", "change"), _change_params())
def test_one_model_change_autogenerates_exactly_that_change(
        dialect: str, change: str, tmp_path: Path, databases: Databases) -> None:
    url = databases.new(dialect)
    project = new_project(tmp_path, url, "changes")
    assert project.api().autogenerate("base").path is not None
    project.api().apply()

    use_models(project, "changes", change)
    expected = CHANGES[change]
    problems = []
    # Compared with the database (reflected), the change is the same change.
    want_db = [] if (change, dialect) in NOT_SEEN_IN else [sig(d) for d in expected]
    against_db = summary(project.api().compare(against_db=True).operations)
    if against_db != want_db:
        problems.append(f"compared with the database: {against_db}, expected {want_db}")

    result = project.api().autogenerate(change)
    assert result.path is not None
    written = changeset_ops(result.path)
    assert dumps(result.operations) == written
    # PostgreSQL: a lock_timeout first when the change locks an existing table (SF345).
    prelude = [op for op in written[:1] if "lock_timeout" in str(op.get("sql"))]
    assert written[len(prelude):] == expected
    assert errors(project) == []
    try:
        project.api().apply()
    except SchemaflowError as exc:
        problems.append(f"apply failed: {exc.message}: {getattr(exc, 'db_message', '')}")
    else:
        # Nothing is left to do: neither for the history nor for the database.
        for against in (False, True):
            left = summary(project.api().compare(against_db=against).operations)
            if left:
                problems.append(f"left to do after apply (against_db={against}): {left}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("dialect", SERVERS)
def test_table_comment_change_is_autogenerated(dialect: str, tmp_path: Path,
                                               databases: Databases) -> None:
    url = databases.new(dialect)
    project = new_project(tmp_path, url, "changes")
    project.api().autogenerate("base")
    project.api().apply()
    use_models(project, "changes", "table_comment")

    result = project.api().autogenerate("comment the author table")
    # There is no operation in the contract's minimum set for a table comment; whatever
    # carries it must touch the author table alone and not recreate it.
    assert result.operations, "a new table comment in the models autogenerates nothing"
    for d in dumps(result.operations):
        (kind, body), = d.items()
        assert kind not in ("drop_table", "create_table", "rename_table")
        assert body.get("table", body.get("name")) == "author"
    assert errors(project) == []
    project.api().apply()
    assert snapshot(url)["author"]["comment"] == "people who write"
    assert summary(project.api().compare().operations) == []
    assert summary(project.api().compare(against_db=True).operations) == []


# --- renames ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
def test_rename_column_with_a_hint(dialect: str, tmp_path: Path,
                                   databases: Databases) -> None:
    url = databases.new(dialect)
    project = new_project(tmp_path, url, "changes")
    project.api().autogenerate("base")
    project.api().apply()
    run_sql(url, "INSERT INTO author (name, email) VALUES ('ann', 'ann@example.com')",
            "INSERT INTO post (author_id, title, body) VALUES (1, 'hello', 'kept')")
    use_models(project, "changes", "rename_column")

    done = project.cli("new", "--autogenerate", "-m", "rename body",
                       "--rename", "post.body=content")
    assert done.returncode == 0, done.stderr
    assert changes(project.root / done.stdout.strip()) == [
        {"rename_column": {"table": "post", "name": "body", "new_name": "content"}}]
    assert "warning" not in done.stderr
    assert errors(project) == []
    project.api().apply()
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT content FROM post").scalar() == "kept"
    finally:
        engine.dispose()
    assert summary(project.api().compare(against_db=True).operations) == []


@pytest.mark.parametrize("dialect", DIALECTS)
def test_rename_table_with_a_hint(dialect: str, tmp_path: Path, databases: Databases) -> None:
    url = databases.new(dialect)
    project = new_project(tmp_path, url, "changes")
    project.api().autogenerate("base")
    project.api().apply()
    use_models(project, "changes", "rename_table")

    done = project.cli("new", "--autogenerate", "-m", "notes are memos",
                       "--rename", "note=memo")
    assert done.returncode == 0, done.stderr
    assert changes(project.root / done.stdout.strip()) == [
        {"rename_table": {"name": "note", "new_name": "memo"}}]
    assert errors(project) == []
    project.api().apply()
    tables = snapshot(url)
    assert "memo" in tables and "note" not in tables
    assert summary(project.api().compare().operations) == []
    assert summary(project.api().compare(against_db=True).operations) == []


def test_rename_column_without_terminal_or_hint_is_drop_and_add_with_a_warning(
        project: Project) -> None:
    use_models(project, "changes")
    project.api().autogenerate("base")
    project.api().apply()
    use_models(project, "changes", "rename_column")

    done = project.cli("new", "--autogenerate", "-m", "content")  # stdin is not a terminal
    assert done.returncode == 0, done.stderr
    assert changeset_ops(project.root / done.stdout.strip()) == [
        {"add_column": {"table": "post", "column": {"name": "content", "type": "text"}}},
        {"drop_column": {"table": "post", "name": "body"}}]
    assert "warning" in done.stderr
    assert "--rename post.body=content" in done.stderr
    assert "Did you rename" not in done.stdout + done.stderr
    project.api().apply()
    assert summary(project.api().compare(against_db=True).operations) == []


def test_rename_table_without_terminal_or_hint_is_drop_and_create_with_a_warning(
        project: Project) -> None:
    use_models(project, "changes")
    project.api().autogenerate("base")
    project.api().apply()
    use_models(project, "changes", "rename_table")

    done = project.cli("new", "--autogenerate", "-m", "memos")
    assert done.returncode == 0, done.stderr
    assert [sig(d) for d in changeset_ops(project.root / done.stdout.strip())] == [
        "drop_table note", "create_table memo"]
    assert "warning" in done.stderr and "note" in done.stderr
    assert "Did you rename" not in done.stdout + done.stderr
    project.api().apply()
    assert summary(project.api().compare(against_db=True).operations) == []


def test_rename_question_answered_by_the_ask_callback(project: Project) -> None:
    use_models(project, "changes")
    project.api().autogenerate("base")
    use_models(project, "changes", "rename_column")
    asked: list[tuple[str, ...]] = []

    def ask(*args: str) -> bool:
        asked.append(args)
        return True

    result = project.api().autogenerate("rename", ask=ask)
    assert asked == [("column", "post", "body", "content")]
    assert dumps(result.operations) == [
        {"rename_column": {"table": "post", "name": "body", "new_name": "content"}}]


# --- comparisons by meaning ---------------------------------------------------------------------

BY_MEANING_MODELS = '''
from sqlalchemy import Integer, MetaData, String, Table, Column, text

metadata = MetaData()
Table(
    "item", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False),
    Column("qty", Integer, nullable=False, server_default=text("0")),
    Column("label", String(20), server_default="none"),
)


class Base:
    metadata = metadata
'''


@pytest.mark.parametrize("dialect", DIALECTS)
def test_types_and_defaults_compared_by_meaning(dialect: str, tmp_path: Path,
                                                databases: Databases) -> None:
    url = databases.new(dialect)
    # Written by hand, as a DBA would: VARCHAR for String, a quoted '0' for text("0"), the
    # key numbered as each database numbers one (the models' integer key is).
    key = {"postgresql": "id SERIAL NOT NULL", "mysql": "id INTEGER NOT NULL AUTO_INCREMENT"
           }.get(dialect, "id INTEGER NOT NULL")
    run_sql(url, f"CREATE TABLE item ({key}, name VARCHAR(50) NOT NULL, "
                 "qty INTEGER DEFAULT '0' NOT NULL, label VARCHAR(20) DEFAULT 'none', "
                 "PRIMARY KEY (id))")
    project = make_project(tmp_path / "proj", url)
    (project.root / "by_meaning.py").write_text(BY_MEANING_MODELS, encoding="utf-8")
    (project.root / "schemaflow.toml").write_text(
        f'url = "{url}"\nmodels = "by_meaning:Base"\n', encoding="utf-8")

    done = project.cli("check", "--against-db")
    assert done.returncode == 0, done.stdout + done.stderr
    done = project.cli("new", "--autogenerate", "--against-db", "-m", "nothing")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
    assert "No changes" in done.stderr
    assert list(project.changesets.iterdir()) == []


NUMERIC_DEFAULT_MODELS = '''
from sqlalchemy import Column, Integer, MetaData, Numeric, Table

metadata = MetaData()
Table("account", metadata, Column("id", Integer, primary_key=True),
      Column("balance", Numeric(12, 2), nullable=False, server_default="0.00"))
'''


@pytest.mark.parametrize("dialect", DIALECTS)
def test_numeric_default_compared_by_meaning(dialect: str, tmp_path: Path,
                                             databases: Databases) -> None:
    url = databases.new(dialect)
    project = make_project(tmp_path / "proj", url)
    (project.root / "numeric_models.py").write_text(NUMERIC_DEFAULT_MODELS, encoding="utf-8")
    (project.root / "schemaflow.toml").write_text(
        f'url = "{url}"\nmodels = "numeric_models:metadata"\n', encoding="utf-8")
    namespace: dict[str, Any] = {}
    exec(NUMERIC_DEFAULT_MODELS, namespace)
    create_all(namespace["metadata"], url)
    # The database says 0.00 (PostgreSQL, MariaDB) for the models' '0.00': no change.
    assert summary(project.api().compare(against_db=True).operations) == []


# --- a baseline from a live database ------------------------------------------------------------


@pytest.mark.parametrize("module", ["blog", "shop"])
@pytest.mark.parametrize("dialect", DIALECTS)
def test_baseline_from_db_rebuilds_the_same_schema(module: str, dialect: str, tmp_path: Path,
                                                   databases: Databases) -> None:
    original, empty = databases.new(dialect), databases.new(dialect)
    create_all(model_metadata(module), original)
    project = make_project(tmp_path / "proj", original)

    done = project.cli("new", "--autogenerate", "--from-db", "-m", "baseline")
    assert done.returncode == 0, done.stderr
    path = project.root / done.stdout.strip()
    assert path.is_file()
    assert errors(project) == []

    project.api(url=empty).apply()
    # SQLite leaves unnamed constraints unnamed; the baseline names them (README).
    names = dialect != "sqlite" or MODEL_SETS[module]
    assert_same_schema(snapshot(empty, names=names), snapshot(original, names=names))

    cid = path.name.split("_", 1)[0]
    assert project.api().stamp(cid) == ([cid], [])
    done = project.cli("apply")
    assert done.returncode == 0, done.stderr
    assert "Nothing to do" in done.stderr


# --- check --------------------------------------------------------------------------------------


def test_check_lists_differences_and_exits_1(project: Project) -> None:
    use_models(project, "changes")
    project.api().autogenerate("base")
    done = project.cli("check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No differences" in done.stdout

    use_models(project, "changes", "add_column")
    text_out = project.cli("check")
    assert text_out.returncode == 1, text_out.stderr
    assert "The models differ from the changesets" in text_out.stdout
    assert "add_column post.subtitle" in text_out.stdout
    assert "Traceback" not in text_out.stderr

    json_out = project.cli("check", "--format", "json")
    assert json_out.returncode == 1
    doc = json.loads(json_out.stdout)
    assert doc["differences"] == CHANGES["add_column"]
    assert len(doc["summary"]) == 1 and "post.subtitle" in doc["summary"][0]

    use_models(project, "changes")
    json_out = project.cli("check", "--format", "json")
    assert json_out.returncode == 0
    assert json.loads(json_out.stdout)["differences"] == []


def test_check_against_db_sees_what_is_not_applied(project: Project) -> None:
    use_models(project, "changes")
    project.api().autogenerate("base")  # written, not applied
    assert project.cli("check").returncode == 0
    done = project.cli("check", "--against-db", "--format", "json")
    assert done.returncode == 1, done.stderr
    kinds = {next(iter(d)) for d in json.loads(done.stdout)["differences"]}
    assert kinds == {"create_table"}
    project.api().apply()
    assert project.cli("check", "--against-db").returncode == 0


BROKEN_MODELS = {
    "raises on import": ("broken_models.py", "raise RuntimeError('the models are broken')\n",
                         "broken_models:Base", "the models are broken"),
    "missing attribute": ("plain_models.py", "metadata = None\n", "plain_models:Base",
                          "no attribute 'Base'"),
    "not a MetaData": ("number_models.py", "Base = 42\n", "number_models:Base",
                       "not a SQLAlchemy MetaData"),
    "no such module": (None, None, "no_such_models_module:Base", "no_such_models_module"),
}


@pytest.mark.parametrize("case", list(BROKEN_MODELS))
def test_broken_models_setting_exits_2_with_one_message(case: str, project: Project) -> None:
    filename, source, spec, words = BROKEN_MODELS[case]
    if filename:
        (project.root / filename).write_text(source or "", encoding="utf-8")
    (project.root / "schemaflow.toml").write_text(
        f'url = "{project.url}"\nmodels = "{spec}"\n', encoding="utf-8")
    commands = [("check",), ("new", "--autogenerate", "-m", "x")]
    if case == "raises on import":
        commands.append(("check", "--format", "json"))
    for command in commands:
        done = project.cli(*command)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        assert done.stdout == ""
        assert done.stderr.count("error:") == 1, done.stderr
        assert words in done.stderr
    assert list(project.changesets.iterdir()) == []


# --- SF345: autogenerate sets lock_timeout where PostgreSQL's rule asks for it -----------------


@pytest.mark.parametrize("dialect", DIALECTS)
def test_autogenerate_sets_lock_timeout_before_locking_existing_tables(
        dialect: str, tmp_path: Path, databases: Databases) -> None:
    project = new_project(tmp_path, databases.new(dialect), "changes")
    base = project.api().autogenerate("base")
    assert base.path is not None
    # Only new tables: nothing waits for a lock, nothing is set.
    assert not any("lock_timeout" in str(op) for op in changeset_ops(base.path))
    project.api().apply()
    use_models(project, "changes", "add_column")
    made = project.cli("new", "--autogenerate", "-m", "subtitle")
    assert made.returncode == 0, made.stderr
    path = project.root / made.stdout.strip()
    ops = changeset_ops(path)
    codes = [d["code"] for d in json.loads(project.cli(
        "validate", "--dialect", "postgresql", "--format", "json").stdout)["diagnostics"]]
    if dialect != "postgresql":
        assert not any("sql" in op for op in ops)
        assert "SF345" in codes  # the rule still guards a changeset meant for PostgreSQL
        return
    assert ops[0] == {"sql": {"up": "SET LOCAL lock_timeout = '5s'",
                              "down": "SET LOCAL lock_timeout = '5s'",
                              "dialects": ["postgresql"]}}
    assert "SF345" not in codes
    project.api().apply()  # the statement runs on the real server
    # Without the setting the rule fires: the test above can fail.
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["operations"] = doc["operations"][1:]
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    codes = [d["code"] for d in json.loads(project.cli(
        "validate", "--no-db", "--format", "json").stdout)["diagnostics"]]
    assert "SF345" in codes


@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def test_an_enum_name_is_no_difference_where_enums_have_no_type(
        tmp_path: Path, databases: Databases, dialect: str) -> None:
    """Only PostgreSQL names its enum types (tests/test_pg_enums.py): on SQLite (a VARCHAR)
    and MySQL (the column's own ENUM) an enum renamed in the models changes nothing."""
    project = make_project(tmp_path / "proj", databases.new(dialect))
    text = ('import sqlalchemy as sa\nmetadata = sa.MetaData()\n'
            'sa.Table("orders", metadata, sa.Column("id", sa.Integer, primary_key=True),\n'
            '         sa.Column("status", sa.Enum("new", "paid", name="{}")))\n')
    models = models_module(project, "named_enum", text.format("order_status"))
    assert project.cli("new", "--autogenerate", "-m", "orders").returncode == 0
    assert project.cli("apply").returncode == 0
    models.write_text(text.format("status_kind"), encoding="utf-8")
    for args in (("check",), ("check", "--against-db")):
        done = project.cli(*args)
        assert done.returncode == 0 and "No differences" in done.stdout, (args, done.stdout,
                                                                          done.stderr)


def test_a_str_enum_member_as_server_default_is_its_text(tmp_path: Path) -> None:
    """Prefect's `server_default=WorkPoolStatus.NOT_READY` (a str enum): autogenerate died
    with a YAML RepresenterError traceback, and in TOML `check` saw `Status.NOT_READY`
    against the database's 'NOT_READY' for ever."""
    for fmt in ("yaml", "toml"):
        project = make_project(tmp_path / fmt)
        models_module(project, "str_enum",
            "import enum\nimport sqlalchemy as sa\n"
            "class Status(str, enum.Enum):\n    READY = 'READY'\n    NOT_READY = 'NOT_READY'\n"
            "metadata = sa.MetaData()\n"
            "sa.Table('pool', metadata, sa.Column('id', sa.Integer, primary_key=True),\n"
            "         sa.Column('status', sa.Enum(Status, name='pool_status'),\n"
            "                   server_default=Status.NOT_READY))\n", f'format = "{fmt}"\n')
        done = project.cli("new", "--autogenerate", "-m", "pool")
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        (written,) = project.changesets.glob(f"*.{fmt}")
        assert "NOT_READY" in written.read_text() and "Status." not in written.read_text()
        assert project.cli("apply").returncode == 0
        for args in (("check",), ("check", "--against-db")):
            done = project.cli(*args)
            assert done.returncode == 0, (fmt, args, done.stdout, done.stderr)


def test_models_with_two_indexes_of_one_name_are_refused_by_name(project: Project) -> None:
    """`mapped_column(index=True)` beside an Index of the name the naming convention gives
    it (Prefect's artifact key): a StateError traceback. create_all() fails on them too."""
    models_module(project, "twice",
        "import sqlalchemy as sa\n"
        "metadata = sa.MetaData(\n"
        "    naming_convention={'ix': 'ix_%(table_name)s__%(column_0_N_name)s'})\n"
        "sa.Table('artifact', metadata, sa.Column('id', sa.Integer, primary_key=True),\n"
        "         sa.Column('key', sa.String(10), index=True),\n"
        "         sa.Index('ix_artifact__key', 'key'))\n")
    for args in (("new", "--autogenerate", "-m", "x"), ("check",)):
        done = project.cli(*args)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "ix_artifact__key" in done.stderr and "models (twice:metadata)" in done.stderr


def test_a_server_default_a_compiles_override_builds_per_database(project: Project) -> None:
    """Prefect compiles `func.now()` as `strftime(...)` on SQLite (`@compiles(now,
    "sqlite")`): the changeset said CURRENT_TIMESTAMP, a schema other than create_all()'s,
    and `check` agreed with it; its GenerateUUID, compiled for two databases only, gave an
    error naming no column. One that an override builds differently by database is each
    database's own (`default_sql` per database, which was refused by name before); one it
    builds alike everywhere is that text; one it cannot build on some database (where
    create_all() fails) is refused, naming the column."""
    path = models_module(project, "overrides",
        "import sqlalchemy as sa\n"
        "from sqlalchemy.ext.compiler import compiles\n"
        "from sqlalchemy.sql import functions\n"
        "class stamp(functions.GenericFunction):\n    inherit_cache = True\n"
        "class same(functions.GenericFunction):\n    inherit_cache = True\n"
        "@compiles(stamp, 'sqlite')\n"
        "def _stamp(element, compiler, **kw):\n"
        "    return \"strftime('%Y-%m-%d %H:%M:%f000', 'now')\"\n"
        "@compiles(stamp)\n"
        "def _stamp_elsewhere(element, compiler, **kw):\n    return 'CURRENT_TIMESTAMP'\n"
        "@compiles(same)\n"
        "def _same(element, compiler, **kw):\n    return 'CURRENT_TIMESTAMP'\n"
        "@compiles(same, 'mysql')\n"  # (Dagster's: MariaDB gives the column's precision)
        "def _same_mysql(element, compiler, **kw):\n    return 'CURRENT_TIMESTAMP(6)'\n"
        "metadata = sa.MetaData()\n"
        "sa.Table('t', metadata, sa.Column('id', sa.Integer, primary_key=True),\n"
        "         sa.Column('created', sa.DateTime, server_default=VALUE))\n")
    text = path.read_text()
    path.write_text(text.replace("VALUE", "stamp()"))
    done = project.cli("new", "--autogenerate", "-m", "t")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    (written,) = project.changesets.glob("*.yaml")
    default = yaml.safe_load(written.read_text())["operations"][0]["create_table"][
        "columns"][1]["default_sql"]
    assert default == {"mysql": "CURRENT_TIMESTAMP", "postgresql": "CURRENT_TIMESTAMP",
                       "sqlite": "strftime('%Y-%m-%d %H:%M:%f000', 'now')"}, default
    for args in (("validate",), ("apply",), ("check",), ("check", "--against-db")):
        done = project.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    from conftest import rows

    ((sql,),) = rows(project.url, "SELECT sql FROM sqlite_master WHERE name = 't'")
    assert "DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now'))" in sql, sql
    written.unlink()
    (project.root / "app.db").unlink()
    # Prefect's GenerateUUID: compiled for two databases only (create_all() fails on the
    # others): none there, where the project builds one of the two; refused where the
    # project builds another.
    path.write_text(
        "import sqlalchemy as sa\n"
        "from sqlalchemy.ext.compiler import compiles\n"
        "from sqlalchemy.sql.expression import FunctionElement\n"
        "class uid(FunctionElement):\n    inherit_cache = True\n"
        "@compiles(uid, 'postgresql')\n"
        "def _pg(element, compiler, **kw):\n    return 'GEN_RANDOM_UUID()'\n"
        "@compiles(uid, 'sqlite')\n"
        "def _lite(element, compiler, **kw):\n    return 'lower(hex(randomblob(16)))'\n"
        "metadata = sa.MetaData()\n"
        "sa.Table('t', metadata, sa.Column('id', sa.Integer, primary_key=True),\n"
        "         sa.Column('created', sa.String(36), server_default=uid()))\n")
    done = project.cli("--url", "mysql+pymysql://nobody@127.0.0.1:1/none", "new",
                       "--autogenerate", "-m", "t")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "column t.created" in done.stderr and "cannot build on some" in done.stderr
    assert list(project.changesets.iterdir()) == []
    done = project.cli("new", "--autogenerate", "-m", "t")
    assert done.returncode == 0, done.stderr
    (written,) = project.changesets.glob("*.yaml")
    assert yaml.safe_load(written.read_text())["operations"][0]["create_table"]["columns"][1][
        "default_sql"] == {"postgresql": "GEN_RANDOM_UUID()",
                           "sqlite": "lower(hex(randomblob(16)))"}
    written.unlink()
    path.write_text(text.replace("VALUE", "same()"))
    done = project.cli("new", "--autogenerate", "-m", "t")
    assert done.returncode == 0, done.stderr
    (written,) = project.changesets.glob("*.yaml")
    assert "default_sql: CURRENT_TIMESTAMP" in written.read_text()
    # (From a review.) An override that takes a value builds it inlined, as create_all()
    # does: one default everywhere.
    written.unlink()
    path.write_text(
        "import sqlalchemy as sa\n"
        "from sqlalchemy.ext.compiler import compiles\n"
        "from sqlalchemy.sql import functions\n"
        "class tznow(functions.GenericFunction):\n    inherit_cache = True\n"
        "@compiles(tznow)\n"
        "def _tznow(element, compiler, **kw):\n"
        "    return 'timezone(%s, CURRENT_TIMESTAMP)' % compiler.process(element.clauses, **kw)\n"
        "metadata = sa.MetaData()\n"
        "sa.Table('t', metadata, sa.Column('id', sa.Integer, primary_key=True),\n"
        "         sa.Column('created', sa.DateTime, server_default=tznow('utc')))\n")
    done = project.cli("new", "--autogenerate", "-m", "t")
    assert done.returncode == 0, done.stderr
    (written,) = project.changesets.glob("*.yaml")
    column = yaml.safe_load(written.read_text())["operations"][0]["create_table"]["columns"][1]
    assert column["default_sql"] == "timezone('utc', CURRENT_TIMESTAMP)"


@pytest.mark.postgresql
def test_an_interval_with_a_server_default_validates_and_compares_on_postgresql(
        tmp_path: Path, databases: Databases) -> None:
    """Prefect's `Interval, server_default="0"`: `datetime` with a PostgreSQL interval
    variant, whose default validate refused (SF120: "not a date and time", the base type's
    rule, though PostgreSQL builds the interval), and `check --against-db` saw PostgreSQL's
    '00:00:00' as another default than '0' for ever."""
    project = make_project(tmp_path / "proj", databases.new("postgresql"))
    models_module(project, "intervals",
        "import sqlalchemy as sa\nmetadata = sa.MetaData()\n"
        "sa.Table('job', metadata, sa.Column('id', sa.Integer, primary_key=True),\n"
        "         sa.Column('total', sa.Interval, nullable=False, server_default='0'))\n")
    for args in (("new", "--autogenerate", "-m", "job"), ("validate",), ("apply",),
                 ("check",), ("check", "--against-db")):
        done = project.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    # (From a review.) A default given later by alter_column is checked the same way.
    (first,) = project.changesets.glob("*.yaml")
    project.write("c002", [{"alter_column": {"table": "job", "name": "total", "default": "5"}}],
                  parents=[yaml.safe_load(first.read_text())["id"]])
    done = project.cli("validate")
    assert done.returncode == 0 and "SF120" not in done.stdout, done.stdout


@pytest.mark.postgresql
def test_an_interval_default_in_units_compares_with_what_postgresql_gives_back(
        tmp_path: Path, databases: Databases) -> None:
    """`server_default="1 hour"` on an Interval: PostgreSQL gives it back as '01:00:00', and
    `check --against-db` reported `alter_column ... (default=1 hour)` on the database it had
    just built (Prefect's trial). Amounts of units, a clock and months compare by meaning."""
    project = make_project(tmp_path / "proj", databases.new("postgresql"))
    models_module(project, "unit_intervals",
        "import sqlalchemy as sa\nmetadata = sa.MetaData()\n"
        "sa.Table('job', metadata, sa.Column('id', sa.Integer, primary_key=True),\n"
        "         sa.Column('a', sa.Interval, server_default='1 hour'),\n"
        "         sa.Column('b', sa.Interval, server_default='1 day 2 hours 30 minutes'),\n"
        "         sa.Column('c', sa.Interval, server_default='1 year 2 months'),\n"
        "         sa.Column('d', sa.Interval, server_default='500 milliseconds'))\n")
    for args in (("new", "--autogenerate", "-m", "job"), ("apply",), ("check",),
                 ("check", "--against-db")):
        done = project.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    # A default that does differ still does.
    project.write("c002", [{"alter_column": {"table": "job", "name": "a", "default": "2 hours"}}],
                  parents=[yaml.safe_load(next(project.changesets.glob("*.yaml")).read_text())[
                      "id"]])
    assert project.cli("apply").returncode == 0
    done = project.cli("check", "--against-db")
    assert done.returncode == 1 and "job.a" in done.stdout, (done.stdout, done.stderr)


@pytest.mark.mysql
def test_a_prefix_length_on_a_column_that_takes_none_is_no_difference(
        tmp_path: Path, databases: Databases) -> None:
    """Dagster's `mysql_length={"updated": 8}` on a DATETIME(6) column: MariaDB builds that
    key part whole and gives it back without a length, and `check --against-db` reported
    the index dropped and created again for ever."""
    project = make_project(tmp_path / "proj", databases.new("mysql"))
    models_module(project, "prefixes", (
        "import sqlalchemy as sa\nfrom sqlalchemy.dialects import mysql\n"
        "metadata = sa.MetaData()\n"
        "runs = sa.Table('runs', metadata, sa.Column('id', sa.Integer, primary_key=True),\n"
        "    sa.Column('status', sa.String(63)),\n"
        "    sa.Column('updated', sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql')))\n"
        "sa.Index('idx_run_range', runs.c.status, runs.c.updated,\n"
        "         mysql_length={'status': 32, 'updated': 8})\n"))
    for args in (("new", "--autogenerate", "-m", "runs"), ("apply",), ("check",),
                 ("check", "--against-db")):
        done = project.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)


@pytest.mark.mysql
def test_a_baseline_matches_a_prefix_as_long_as_its_column(tmp_path: Path,
                                                           databases: Databases) -> None:
    """Dagster's `mysql_length={"backfill_id": 255}` on a VARCHAR(255): MariaDB keeps the
    whole column and gives the key back without a length, so a --from-db baseline writes
    none, and `check` (models against the changesets) reported the index dropped and made
    again right after adopting."""
    project = make_project(tmp_path / "proj", databases.new("mysql"))
    run_sql(project.url, "CREATE TABLE bulk (id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY, "
                         "backfill_id VARCHAR(255), KEY idx_bulk (backfill_id))")
    models_module(project, "lengths", (
        "import sqlalchemy as sa\nmetadata = sa.MetaData()\n"
        "bulk = sa.Table('bulk', metadata, sa.Column('id', sa.Integer, primary_key=True),\n"
        "    sa.Column('backfill_id', sa.String(255)))\n"
        "sa.Index('idx_bulk', bulk.c.backfill_id, mysql_length={'backfill_id': 255})\n"))
    for args in (("new", "--autogenerate", "--from-db", "-m", "baseline"), ("check",),
                 ("check", "--against-db")):
        done = project.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)


def test_autogenerate_says_at_once_of_a_default_validate_refuses(tmp_path: Path) -> None:
    """Prefect's `Interval` with `server_default="0"`: a datetime on SQLite, whose default
    '0' validate refuses there (SF120), while create_all() builds it. Autogenerate wrote it
    without a word, and CI failed on the file it wrote: it warns at once, naming the column,
    and the changeset's `lint: {ignore: [SF120]}` keeps it as the models have it."""
    from test_fidelity import models_project

    p = models_project(tmp_path / "proj", """
        sa.Table("runs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("total", sa.Interval, server_default="0", nullable=False))
    """)
    done = p.cli("new", "--autogenerate", "-m", "m")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "warning:" in done.stderr and 'the default "0" is not a date and time' in done.stderr
    assert "on sqlite: validate refuses it (SF120)" in done.stderr
    (path,) = p.changesets.glob("*.yaml")
    refused = p.cli("validate")
    assert refused.returncode == 1 and "SF120" in refused.stdout, refused.stdout
    path.write_text(path.read_text().replace("operations:", "lint: {ignore: [SF120]}\noperations:"))
    for args in (("validate",), ("apply",), ("check",)):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)


PER_DATABASE_DEFAULT = (
    "import sqlalchemy as sa\n"
    "from sqlalchemy.ext.compiler import compiles\n"
    "from sqlalchemy.sql import functions\n"
    "class stamp(functions.GenericFunction):\n    inherit_cache = True\n"
    "@compiles(stamp, 'sqlite')\n"
    "def _stamp(element, compiler, **kw):\n"
    "    return \"strftime('%Y-%m-%d %H:%M:%f000', 'now')\"\n"
    "@compiles(stamp)\n"
    "def _stamp_elsewhere(element, compiler, **kw):\n    return 'CURRENT_TIMESTAMP'\n"
    "metadata = sa.MetaData()\n"
    "sa.Table('t', metadata, sa.Column('id', sa.Integer, primary_key=True),\n"
    "         sa.Column('created', sa.DateTime, server_default=VALUE))\n")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_default_per_database_is_built_compared_changed_and_rolled_back(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """Each database builds its own default (Prefect's `now()`), `check --against-db` finds
    nothing, a change to one default for every database is an alter_column, and rolling it
    back gives each database its own again."""
    from conftest import database_url, make_project

    p = make_project(tmp_path / "proj", database_url(tmp_path, dialect, request))
    path = models_module(p, "perdb", PER_DATABASE_DEFAULT.replace("VALUE", "stamp()"))
    for args in (("new", "--autogenerate", "-m", "t"), ("apply",), ("check",),
                 ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    path.write_text(PER_DATABASE_DEFAULT.replace("VALUE", "sa.text('CURRENT_TIMESTAMP')"))
    made = p.cli("new", "--autogenerate", "-m", "one")
    assert made.returncode == 0, made.stderr
    (changed,) = p.changesets.glob("*_one.yaml")
    # (after PostgreSQL's lock_timeout, where it is the database)
    assert yaml.safe_load(changed.read_text())["operations"][-1:] == [{"alter_column": {
        "table": "t", "name": "created", "default_sql": "CURRENT_TIMESTAMP"}}]
    for args in (("apply",), ("check", "--against-db"), ("rollback", "-1")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    path.write_text(PER_DATABASE_DEFAULT.replace("VALUE", "stamp()"))
    for args in (("check", "--against-db"), ("rollback", "base")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)


def test_a_default_per_database_is_compared_by_what_each_database_gets(
        project: Project) -> None:
    """(From a review.) A `mariadb` entry equal to the `mysql` one it would take anyway made
    `check` report a change, and autogenerate write an alter_column that changed nothing."""
    models_module(project, "perdb", PER_DATABASE_DEFAULT.replace("VALUE", "stamp()"))
    assert project.cli("new", "--autogenerate", "-m", "t").returncode == 0
    (path,) = project.changesets.glob("*.yaml")
    path.write_text(path.read_text().replace(
        "{mysql: CURRENT_TIMESTAMP,", "{mariadb: CURRENT_TIMESTAMP, mysql: CURRENT_TIMESTAMP,"))
    assert "mariadb: CURRENT_TIMESTAMP" in path.read_text()
    done = project.cli("check")
    assert done.returncode == 0 and "No differences" in done.stdout, done.stdout + done.stderr


def test_a_not_null_column_without_a_default_here_is_sf311(project: Project) -> None:
    """(From a review.) A NOT NULL add_column whose default names PostgreSQL alone has none
    on SQLite, where it fails on a table with rows: SF311, as without a default."""
    project.write("c001", [{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}])
    project.write("c002", [{"add_column": {"table": "t", "column": {
        "name": "created", "type": "datetime", "nullable": False,
        "default_sql": {"postgresql": "now()"}}}}], parents=["c001"])
    for args in (("validate", "--dialect", "sqlite"), ("validate",)):
        done = project.cli(*args)
        assert "SF311" in done.stdout, (args, done.stdout, done.stderr)
    done = project.cli("validate", "--dialect", "postgresql")
    assert "SF311" not in done.stdout, done.stdout


@pytest.mark.postgresql
def test_an_enum_change_on_a_column_with_a_default_per_database(pg_url: str,
                                                                tmp_path: Path) -> None:
    """(From a review.) PostgreSQL replaces an enum type that loses a value around its
    columns, their defaults dropped and set again: it met the default per database as it is
    written, not PostgreSQL's, and stopped on an assertion."""
    from conftest import make_project

    p = make_project(tmp_path / "proj", pg_url)
    p.write("c001", [{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "st", "type": "enum(a,b,c,name=st_t)",
         "default_sql": {"postgresql": "'a'::st_t", "sqlite": "'a'"}}]}}])
    p.write("c002", [{"alter_column": {"table": "t", "name": "st",
                                       "type": "enum(a,b,name=st_t)"}}], parents=["c001"])
    for args in (("apply",), ("rollback", "base")):
        done = p.cli(*args)
        assert done.returncode == 0 and "Traceback" not in done.stderr, (args, done.stderr)
