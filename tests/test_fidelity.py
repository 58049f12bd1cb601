"""Fidelity to real models: a construct either round-trips, or is refused loudly.

Refused means what a user sees: `new --autogenerate` and `check` exit 2 with one message
naming the table and the column or index and the construct, no traceback, no file written.
Round-trips means: models → autogenerate → apply gives a database that `check --against-db`
finds equal to the models, on SQLite, PostgreSQL and MariaDB, and a database built by
`metadata.create_all()` from the same models is equal to them too.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from conftest import Project, make_project, rows

DIALECTS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgresql),
    pytest.param("mysql", marks=pytest.mark.mysql),
]

HEADER = """\
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

metadata = sa.MetaData()
"""


def models_project(root: Path, body: str, url: str | None = None) -> Project:
    """A project whose models module is HEADER + `body`."""
    p = make_project(root, url)
    (root / "fidelity_models.py").write_text(HEADER + textwrap.dedent(body), encoding="utf-8")
    with (root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
        fh.write('models = "fidelity_models:metadata"\n')
    return p


# (id, models, what the message must name)
REFUSED = [
    ("expression index", """
        t = sa.Table("users", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("email", sa.String(100)))
        sa.Index("ix_users_lower_email", sa.func.lower(t.c.email), unique=True)
     """, ["index ix_users_lower_email on users", "lower(email)"]),
    ("descending index", """
        t = sa.Table("events", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("created_at", sa.DateTime))
        sa.Index("ix_events_created", t.c.created_at.desc())
     """, ["index ix_events_created on events", "created_at DESC"]),
    ("index method", """
        t = sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("body", sa.Text))
        sa.Index("ix_docs_body", t.c.body, postgresql_using="gin")
     """, ["index ix_docs_body on docs", "postgresql_using"]),
    ("prefix length", """
        t = sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("title", sa.String(500)))
        sa.Index("ix_docs_title", t.c.title, mysql_length=100)
     """, ["index ix_docs_title on docs", "mysql_length"]),
    ("condition for one database", """
        t = sa.Table("posts", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("published", sa.Boolean))
        sa.Index("ix_posts_published", t.c.id, postgresql_where=t.c.published)
     """, ["index ix_posts_published on posts", "some databases only"]),
    ("computed column", """
        sa.Table("lines", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("qty", sa.Integer), sa.Column("double_qty", sa.Integer,
                                                         sa.Computed("qty * 2")))
     """, ["column lines.double_qty", "generated column", "qty * 2"]),
    ("identity column", """
        sa.Table("lines", metadata, sa.Column("id", sa.Integer, sa.Identity(always=True),
                                              primary_key=True))
     """, ["column lines.id", "identity"]),
    ("type variant", """
        sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")))
     """, ["column docs.data", "with_variant"]),
    ("collation", """
        sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("title", sa.String(50, collation="C")))
     """, ["column docs.title", "collation"]),
    ("array", """
        sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("tags", postgresql.ARRAY(sa.Text)))
     """, ["column docs.tags", "ARRAY"]),
    ("interval", """
        sa.Table("jobs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("every", sa.Interval))
     """, ["column jobs.every", "Interval"]),
    ("timestamp precision", """
        sa.Table("jobs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("at", postgresql.TIMESTAMP(precision=3)))
     """, ["column jobs.at", "precision"]),
    ("non-native enum", """
        sa.Table("jobs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("state", sa.Enum("new", "done", native_enum=False)))
     """, ["column jobs.state", "native_enum=False"]),
    ("boolean check", """
        sa.Table("jobs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("done", sa.Boolean(create_constraint=True)))
     """, ["column jobs.done", "create_constraint=True"]),
    ("foreign key match", """
        sa.Table("a", metadata, sa.Column("id", sa.Integer, primary_key=True))
        sa.Table("b", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("a_id", sa.Integer, sa.ForeignKey("a.id", match="FULL")))
     """, ["foreign key", "on b", "match='FULL'"]),
]


@pytest.mark.parametrize(("models", "named"), [pytest.param(m, n, id=i) for i, m, n in REFUSED])
def test_a_construct_the_format_lacks_is_refused_loudly(tmp_path: Path, models: str,
                                                         named: list[str]) -> None:
    p = models_project(tmp_path / "proj", models)
    for args in (("new", "--autogenerate", "-m", "models"), ("check",)):
        done = p.cli(*args)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert "cannot express yet" in done.stderr
        for part in named:
            assert part in done.stderr, (part, done.stderr)
    assert list(p.changesets.iterdir()) == []
    assert not (p.root / "app.db").exists()


SUPPORTED = """
    class Lower(sa.types.TypeDecorator):
        impl = sa.String
        cache_ok = True

    sa.Table("alembic_version", metadata,
             sa.Column("version_num", sa.String(32), primary_key=True))
    sa.Table(
        "version_info", metadata,
        sa.Column("version_info_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("schema_version", sa.Integer),
        sa.CheckConstraint("version_info_id = 1", name="ck_one_row"),
    )
    t = sa.Table(
        "items", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", Lower(40), nullable=False),
        sa.Column("notes", sa.UnicodeText),
        sa.Column("blob", sa.PickleType),
        sa.Column("ratio", sa.Double),
        sa.Column("score", sa.Float(precision=53)),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.CheckConstraint(sa.column("status").in_(["new", "done"]), name="ck_items_status"),
    )
    sa.Index("ix_items_live", t.c.status, postgresql_where=sa.text("archived = false"),
             sqlite_where=sa.text("archived = false"))
"""


@pytest.mark.parametrize("dialect", DIALECTS)
def test_what_the_format_holds_round_trips(tmp_path: Path, dialect: str,
                                           request: pytest.FixtureRequest) -> None:
    if dialect == "sqlite":
        urls = [f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"]
    else:
        fixture = "pg_url" if dialect == "postgresql" else "mysql_url"
        urls = [request.getfixturevalue(fixture), _second(request, dialect)]
    if dialect == "mysql":
        # MariaDB has no partial indexes: the models say so with an index of their own.
        body = SUPPORTED.replace('postgresql_where=sa.text("archived = false"),\n'
                                 '             sqlite_where=sa.text("archived = false")', "")
    else:
        body = SUPPORTED
    p = models_project(tmp_path / "proj", body, urls[0])
    made = p.cli("new", "--autogenerate", "-m", "models")
    assert made.returncode == 0, made.stderr
    text = next(p.changesets.iterdir()).read_text(encoding="utf-8")
    assert "alembic_version" not in text  # another tool's bookkeeping is never modelled
    assert "autoincrement: false" in text
    checks = [c for op in yaml.safe_load(text)["operations"]
              for c in op["create_table"].get("checks", [])]
    assert {"expression": "status IN ('new', 'done')", "name": "ck_items_status"} in checks
    for args in (("validate",), ("apply",), ("check",), ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    # A key without autoincrement next to a CHECK on it (Optuna's table): MariaDB refuses
    # the pair when AUTO_INCREMENT is added anyway.
    assert rows(urls[0], "SELECT count(*) FROM version_info") == [(0,)]

    # A database that metadata.create_all() built from the same models is equal to them.
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"fm_{dialect}", p.root / "fidelity_models.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    created = sa.create_engine(_driver(urls[1]))
    try:
        module.metadata.create_all(created)
    finally:
        created.dispose()
    done = p.cli("--url", urls[1], "check", "--against-db")
    assert done.returncode == 0, (done.stdout, done.stderr)


def _driver(url: str) -> str:
    for plain, full in (("postgresql://", "postgresql+psycopg://"),
                        ("mysql://", "mysql+pymysql://")):
        if url.startswith(plain):
            return full + url[len(plain):]
    return url


def _second(request: pytest.FixtureRequest, dialect: str) -> str:
    """A second fresh database on the same server (dropped after the test)."""
    from conftest import MYSQL_URL, POSTGRES_URL, _server_database

    gen = _server_database(POSTGRES_URL if dialect == "postgresql" else MYSQL_URL,
                           "PostgreSQL" if dialect == "postgresql" else "MySQL")
    url = next(gen)
    request.addfinalizer(lambda: next(gen, None))
    return url


@pytest.mark.postgresql
def test_a_database_construct_the_format_lacks_is_refused(tmp_path: Path, pg_url: str) -> None:
    engine = sa.create_engine(_driver(pg_url))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE users (id integer PRIMARY KEY, email text, "
                                 "n integer GENERATED ALWAYS AS (id * 2) STORED)")
            conn.exec_driver_sql("CREATE UNIQUE INDEX ix_users_email ON users (lower(email))")
    finally:
        engine.dispose()
    p = models_project(tmp_path / "proj", 'sa.Table("users", metadata, '
                       'sa.Column("id", sa.Integer, primary_key=True))\n', pg_url)
    for args in (("new", "--autogenerate", "--from-db", "-m", "baseline"),
                 ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert "cannot express yet" in done.stderr
        assert "column users.n: a generated column" in done.stderr
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE users DROP COLUMN n")
    engine.dispose()
    done = p.cli("new", "--autogenerate", "--from-db", "-m", "baseline")
    assert done.returncode == 2
    assert "index ix_users_email on users: an expression (lower(email))" in done.stderr
    assert list(p.changesets.iterdir()) == []
