"""Fidelity to real models: a construct either round-trips, or is refused loudly.

Refused means what a user sees: `new --autogenerate` and `check` exit 2 with one message
naming the table and the column or index and the construct, no traceback, no file written.
Round-trips means: models → autogenerate → apply gives a database that `check --against-db`
finds equal to the models, on SQLite, PostgreSQL and MariaDB, and a database built by
`metadata.create_all()` from the same models is equal to them too.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from conftest import DIALECTS, Project, live_collations, make_project, rows

from schemaflow.state import ck_name

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
    ("index storage options", """
        t = sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("body", sa.Text))
        sa.Index("ix_docs_body", t.c.body, postgresql_with={"fillfactor": 70})
     """, ["index ix_docs_body on docs", "postgresql_with"]),
    ("full-text index", """
        t = sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("title", sa.String(500)))
        sa.Index("ix_docs_title", t.c.title, mysql_prefix="FULLTEXT")
     """, ["index ix_docs_title on docs", "mysql_prefix"]),
    ("a different condition per database", """
        t = sa.Table("posts", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("published", sa.Boolean))
        sa.Index("ix_posts_published", t.c.id, postgresql_where=t.c.published,
                 sqlite_where=t.c.id > 0)
     """, ["index ix_posts_published on posts", "a different condition per database"]),
    ("identity option", """
        sa.Table("lines", metadata, sa.Column("id", sa.Integer, sa.Identity(order=True),
                                              primary_key=True))
     """, ["column lines.id", "identity options order"]),
    ("a collation on MySQL only", """
        sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("title", sa.String(50).with_variant(
                     sa.String(50, collation="utf8mb4_bin"), "mysql").with_variant(
                     sa.String(50), "mariadb")))
     """, ["column docs.title", "on MySQL but none on MariaDB"]),
    ("collation of an array element", """
        sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("tags", postgresql.ARRAY(sa.String(5, collation="C"))))
     """, ["column docs.tags", "the collation 'C'"]),
    ("array of enums", """
        sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("tags", postgresql.ARRAY(sa.Enum("a", "b", name="tag"))))
     """, ["column docs.tags", "arrays of enums"]),
    ("conditional constraint", """
        sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("code", sa.String(10)),
                 sa.UniqueConstraint("code", name="uq_docs_code").ddl_if(dialect="postgresql"))
     """, ["constraint uq_docs_code on docs", "ddl_if", "postgresql only"]),
    ("foreign key match", """
        sa.Table("a", metadata, sa.Column("id", sa.Integer, primary_key=True))
        sa.Table("b", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("a_id", sa.Integer, sa.ForeignKey("a.id", match="FULL")))
     """, ["foreign key", "on b", "match='FULL'"]),
    ("constraint comment", """
        sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("n", sa.Integer), sa.CheckConstraint("n > 0", name="ck_docs_n",
                                                                comment="positive"))
     """, ["constraint ck_docs_n on docs", "'comment': 'positive'"]),
    # Sequences are written (tests/test_sequences.py), but not options the format lacks.
    ("sequence option of a column", """
        sa.Table("task", metadata, sa.Column("id", sa.Integer,
                                             sa.Sequence("task_id_sequence", order=True),
                                             primary_key=True))
     """, ["column task.id", "the sequence options {'order': True}"]),
    ("sequence option of the metadata", """
        sa.Sequence("ticket_numbers", metadata=metadata, data_type=sa.SmallInteger)
        sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True))
     """, ["sequence 'ticket_numbers'", "the sequence options {'data_type'"]),
    # privacyIDEA's INCREMENT BY 0 on MariaDB: create_all() builds the override's sequence.
    ("sequence built by a @compiles override", """
        from sqlalchemy.ext.compiler import compiles
        from sqlalchemy.schema import CreateSequence

        @compiles(CreateSequence, "mysql")
        @compiles(CreateSequence, "mariadb")
        def _galera(element, compiler, **kw):
            return compiler.visit_create_sequence(element, **kw) + " INCREMENT BY 0"

        sa.Table("task", metadata, sa.Column("id", sa.Integer, sa.Sequence("task_seq"),
                                             primary_key=True))
     """, ["column task.id", "a @compiles override of CREATE SEQUENCE", "on mysql"]),
    ("SQLite WITHOUT ROWID", """
        sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sqlite_with_rowid=False)
     """, ["table docs", "sqlite_with_rowid"]),
    ("MySQL column character set", """
        sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("code", mysql.VARCHAR(10, charset="latin1")))
     """, ["column docs.code", "charset='latin1'"]),
    ("MySQL character set on MariaDB alone", """
        sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 mysql_engine="InnoDB", mariadb_charset="utf8")
     """, ["table docs", "mariadb_charset='utf8' where mysql_charset is None"]),
]


def test_sqlite_options_at_their_defaults_are_no_options(tmp_path: Path) -> None:
    """`sqlite_autoincrement=False` and `sqlite_with_rowid=True` are SQLAlchemy's defaults,
    the table without them: read, not refused as AUTOINCREMENT and WITHOUT ROWID are."""
    p = models_project(tmp_path / "proj", """
        sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sqlite_autoincrement=False, sqlite_with_rowid=True)
     """)
    for args in (("new", "--autogenerate", "-m", "models"), ("apply",), ("check",),
                 ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    (create,) = rows(p.url, "SELECT sql FROM sqlite_master WHERE name = 'docs'")[0]
    assert "AUTOINCREMENT" not in create and "WITHOUT ROWID" not in create


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
    sa.Index("ix_items_new", t.c.id, postgresql_where=sa.text("status = 'new'"))
"""


@pytest.mark.parametrize("dialect", DIALECTS)
def test_what_the_format_holds_round_trips(tmp_path: Path, dialect: str,
                                           request: pytest.FixtureRequest) -> None:
    if dialect == "sqlite":
        urls = [f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"]
    else:
        fixture = "pg_url" if dialect == "postgresql" else "mysql_url"
        urls = [request.getfixturevalue(fixture), _second(request, dialect)]
    # MariaDB has no partial indexes: create_all() builds both whole there, as apply does.
    p = models_project(tmp_path / "proj", SUPPORTED, urls[0])
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
    _create_all(p.root / "fidelity_models.py", urls[1], dialect)
    done = p.cli("--url", urls[1], "check", "--against-db")
    assert done.returncode == 0, (done.stdout, done.stderr)


def _driver(url: str) -> str:
    for plain, full in (("postgresql://", "postgresql+psycopg://"),
                        ("mysql://", "mysql+pymysql://"),
                        ("mariadb://", "mariadb+pymysql://")):
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


def users_project(tmp_path: Path, url: str) -> Project:
    """A project whose models hold one table, users (id)."""
    return models_project(tmp_path / "proj", 'sa.Table("users", metadata, '
                          'sa.Column("id", sa.Integer, primary_key=True))\n', url)


def refused_from_db(p: Project) -> list[str]:
    """A baseline from the database and a check against it, each refused (exit 2, no
    traceback, "cannot express yet"): their messages."""
    said = []
    for args in (("new", "--autogenerate", "--from-db", "-m", "baseline"),
                 ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert "cannot express yet" in done.stderr
        said.append(done.stderr)
    return said


@pytest.mark.postgresql
def test_a_database_construct_the_format_lacks_is_refused(tmp_path: Path, pg_url: str) -> None:
    engine = sa.create_engine(_driver(pg_url))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE users (id integer PRIMARY KEY, email text, "
                                 "n integer REFERENCES users (id) MATCH FULL)")
            conn.exec_driver_sql("CREATE UNIQUE INDEX ix_users_email ON users (lower(email)) "
                                 "WITH (fillfactor = 70)")
    finally:
        engine.dispose()
    p = users_project(tmp_path, pg_url)
    for stderr in refused_from_db(p):
        assert "on users: match 'FULL'" in stderr
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE users DROP COLUMN n")
    engine.dispose()
    done = p.cli("new", "--autogenerate", "--from-db", "-m", "baseline")
    assert done.returncode == 2
    assert "index ix_users_email on users: the options {'postgresql_with'" in done.stderr
    assert list(p.changesets.iterdir()) == []
    with engine.begin() as conn:  # the expression itself is expressible
        conn.exec_driver_sql("DROP INDEX ix_users_email")
        conn.exec_driver_sql("CREATE UNIQUE INDEX ix_users_email ON users (lower(email))")
    engine.dispose()
    done = p.cli("new", "--autogenerate", "--from-db", "-m", "baseline")
    assert done.returncode == 0, done.stderr
    assert "expression: lower(email)" in next(p.changesets.iterdir()).read_text()


@pytest.mark.postgresql
def test_a_serials_own_sequence_is_the_key_and_another_sequence_is_a_default(
        tmp_path: Path, pg_url: str) -> None:
    """A SERIAL's own sequence (named as PostgreSQL names it, cut to 63 bytes on long names)
    is the integer key's numbering; `nextval()` of any other sequence is a default of its
    own, kept: it was dropped like a serial's, and the baseline lost the column's default.
    (The sequence itself is refused unless left out: tests/test_db_objects.py.)"""
    long_table, long_column = "t" * 40, "c" * 30
    engine = sa.create_engine(_driver(pg_url))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE SEQUENCE tickets")
            conn.exec_driver_sql("CREATE TABLE users (id serial PRIMARY KEY, "
                                 "ticket integer DEFAULT nextval('tickets'))")
            conn.exec_driver_sql(f"CREATE TABLE {long_table} ({long_column} serial PRIMARY KEY)")
            own = conn.exec_driver_sql(
                f"SELECT pg_get_serial_sequence('{long_table}', '{long_column}')").scalar()
    finally:
        engine.dispose()
    assert own is not None and len(own.split(".")[-1]) <= 63
    p = users_project(tmp_path, pg_url)
    with (p.root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
        fh.write('[autogenerate]\nexclude_tables = ["tickets"]\n')
    done = p.cli("new", "--autogenerate", "--from-db", "-m", "baseline")
    assert done.returncode == 0, done.stderr
    doc = yaml.safe_load(next(p.changesets.iterdir()).read_text(encoding="utf-8"))
    tables = {op["create_table"]["name"]: op["create_table"]["columns"]
              for op in doc["operations"] if "create_table" in op}
    assert tables["users"][1] == {"name": "ticket", "type": "integer",
                                  "default_sql": "nextval('tickets'::regclass)"}
    assert "default_sql" not in tables["users"][0]
    assert [c["name"] for c in tables[long_table]] == [long_column]
    assert "default_sql" not in tables[long_table][0]


# Constraints whose options the Inspector reports in `dialect_options` or `comment`.
CONSTRAINTS = [
    ("UNIQUE NULLS NOT DISTINCT (email)", "unique constraint c on users",
     "'postgresql_nulls_not_distinct': True"),
    ("UNIQUE (email) INCLUDE (id)", "unique constraint c on users", "'postgresql_include': ['id']"),
    ("CHECK (id > 0) NOT VALID", "check constraint c on users", "'not_valid': True"),
]


@pytest.mark.postgresql
@pytest.mark.parametrize(("clause", "where", "option"), CONSTRAINTS)
def test_a_constraint_option_the_format_lacks_is_refused(tmp_path: Path, pg_url: str,
                                                         clause: str, where: str,
                                                         option: str) -> None:
    engine = sa.create_engine(_driver(pg_url))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE users (id integer PRIMARY KEY, email text)")
        conn.exec_driver_sql(f"ALTER TABLE users ADD CONSTRAINT c {clause}")
    p = users_project(tmp_path, pg_url)
    for stderr in refused_from_db(p):
        assert f"{where}: the options {{" in stderr and option in stderr, stderr
    assert list(p.changesets.iterdir()) == []
    with engine.begin() as conn:  # COMMENT ON CONSTRAINT: a comment the format has no place for
        conn.exec_driver_sql("ALTER TABLE users DROP CONSTRAINT c")
        conn.exec_driver_sql("ALTER TABLE users ADD CONSTRAINT c UNIQUE (email)")
        conn.exec_driver_sql("COMMENT ON CONSTRAINT c ON users IS 'one per person'")
    done = p.cli("new", "--autogenerate", "--from-db", "-m", "baseline")
    assert done.returncode == 2, done.stderr
    assert "unique constraint c on users: the options {'comment': 'one per person'}" in done.stderr
    with engine.begin() as conn:
        conn.exec_driver_sql("COMMENT ON CONSTRAINT c ON users IS NULL")
    engine.dispose()
    done = p.cli("new", "--autogenerate", "--from-db", "-m", "baseline")
    assert done.returncode == 0, done.stderr
    assert "name: c" in next(p.changesets.iterdir()).read_text()


# Index key parts and options, per database: (models, what the changeset must say).
INDEXES = {
    "common": ("""
        t = sa.Table("events", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("email", sa.String(300)), sa.Column("name", sa.String(50)),
                     sa.Column("created_at", sa.DateTime))
        sa.Index("ix_events_created", t.c.created_at.desc(), t.c.id)
    """, ["{name: created_at, order: desc}"]),
    "sqlite": ("""
        sa.Index("ix_events_lower_email", sa.func.lower(t.c.email), unique=True,
                 sqlite_where=t.c.name.is_not(None), postgresql_where=t.c.name.is_not(None))
    """, ["{expression: lower(email)}"]),
    "postgresql": ("""
        sa.Index("ix_events_lower_email", sa.func.lower(t.c.email), unique=True)
        sa.Index("ix_events_email_ops", t.c.email, postgresql_ops={"email": "text_pattern_ops"},
                 postgresql_include=["name"])
        sa.Index("ix_events_name_hash", t.c.name, postgresql_using="hash")
        sa.Index("ix_events_created_nl", t.c.created_at.desc().nulls_last())
    """, ["{expression: lower(email)}", "opclass: text_pattern_ops", "include: [name]",
          "using: hash", "nulls: last"]),
    "mysql": ("""
        sa.Index("ix_events_email", t.c.email, t.c.name, mysql_length={"email": 20})
    """, ["{name: email, length: 20}"]),
}


# Generated columns, per database: (models, what the changeset must say).
GENERATED = {
    "common": ("""
        t = sa.Table("order_lines", metadata, sa.Column("id", sa.Integer, sa.Identity(),
                                                  primary_key=True),
                     sa.Column("qty", sa.Integer), sa.Column("price", sa.Integer),
                     sa.Column("total", sa.Integer, sa.Computed("qty * price", persisted=True)))
    """, ["computed: {expression: qty * price, stored: true}", "identity: {}"]),
    "sqlite": ("""
        sa.Table("halves", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("qty", sa.Integer), sa.Column("half", sa.Integer,
                                                         sa.Computed("qty + 2")))
    """, ["computed: {expression: qty + 2}"]),
    "postgresql": ("""
        sa.Table("orders", metadata, sa.Column(
            "id", sa.BigInteger, sa.Identity(always=True, start=100, increment=5),
            primary_key=True), sa.Column("at", postgresql.TIMESTAMP(precision=3)),
            sa.Column("at_tz", postgresql.TIME(timezone=True, precision=0)),
            sa.Column("tags", postgresql.ARRAY(sa.Text)),
            sa.Column("grid", sa.ARRAY(sa.Numeric(10, 2), dimensions=2)))
        # A UNIQUE on the primary key: CREATE TABLE would drop it without a word.
        sa.Table("codes", metadata, sa.Column("code", sa.String(10), primary_key=True,
                                              unique=True))
    """, ["identity: {always: true, start: 100, increment: 5}", "type: datetime(3)",
          "time(0,timezone=true)", "type: array(text)",
          "type: 'array(numeric(10,2),dimensions=2)'"]),
    "mysql": ("""
        sa.Table("halves", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("qty", sa.Integer), sa.Column("half", sa.Integer,
                                                         sa.Computed("qty + 2")),
                 sa.Column("at", mysql.DATETIME(fsp=3)))
    """, ["computed: {expression: qty + 2}", "type: datetime(3)"]),
}


# CHECK constraints as real models have them, per database: (models, what the changeset must
# say). Unnamed ones are left to the server to name (matched to them by meaning); a type's own
# CHECK (create_constraint=True) exists where create_all() creates it.
CHECKS = {
    "common": ("""
        sa.Table(
            "jobs", metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("state", sa.Enum("new", "done", native_enum=False,
                                       create_constraint=True)),
            sa.Column("kind", sa.Enum("a", "bb", native_enum=False, create_constraint=True,
                                      name="ck_jobs_kind")),
            sa.Column("label", sa.Enum("x", "y", native_enum=False, length=20)),
            sa.Column("mood", sa.Enum("up", "down", name="mood", create_constraint=True)),
            sa.Column("done", sa.Boolean(create_constraint=True)),
            sa.Column("n", sa.Integer),
            sa.CheckConstraint("id=1"),
            sa.CheckConstraint(sa.column("n").in_([1, 2])),
            sa.CheckConstraint("n > 0 AND lower(kind) <> 'zz' OR n IS NULL"),
        )
    """, ["type: 'enum(new,done,native=false)'", "type: 'enum(x,y,native=false,length=20)'",
          "dialects: [mysql, sqlite]", "dialects: [sqlite]", "name: ck_jobs_kind"]),
    "sqlite": ("", []),
    "postgresql": ("", []),
    "mysql": ("", []),
}
# A type's CHECK named by the naming convention, as create_all() names it.
CONVENTION_CHECKS = {
    "common": ("""
        metadata.naming_convention = {"ix": "ix_%(column_0_label)s",
                                      "ck": "ck_%(table_name)s_%(column_0_name)s"}
        sa.Table("tasks", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("state", sa.Enum("open", "shut", native_enum=False,
                                            create_constraint=True)),
                 sa.Column("flag", sa.Boolean(create_constraint=True)),
                 sa.Column("n", sa.Integer), sa.CheckConstraint("n > 0"))
    """, ["name: ck_tasks_state", "name: ck_tasks_flag", "name: ck_tasks_"]),
    "sqlite": ("", []),
    "postgresql": ("", []),
    "mysql": ("", []),
}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_checks_round_trip(tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """Checks written, unnamed, named by a convention, and added by types (non-native enums,
    booleans), as the index test; a value added to a non-native enum is exactly the change of
    its CHECK (the column stays as long as it was)."""
    p = _round_trip(tmp_path, dialect, request, CHECKS)
    models = p.root / "fidelity_models.py"
    models.write_text(models.read_text().replace('"new", "done"', '"new", "done", "gone"'))
    made = p.cli("new", "--autogenerate", "-m", "gone")
    assert made.returncode == 0, made.stderr
    written = [op for op in yaml.safe_load((p.root / made.stdout.strip()).read_text())["operations"]
               if "sql" not in op]  # PostgreSQL's lock_timeout first
    old, new = "state IN ('new', 'done')", "state IN ('new', 'done', 'gone')"
    assert written == [
        {"drop_constraint": {"name": ck_name("jobs", old), "table": "jobs", "type": "check"}},
        {"create_check_constraint": {"name": ck_name("jobs", new), "table": "jobs",
                                     "expression": new}}], written
    for args in (("validate",), ("apply",), ("check",), ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    engine = sa.create_engine(_driver(p.url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO jobs (id, state) VALUES (1, 'gone')")
        with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
            conn.exec_driver_sql("UPDATE jobs SET state = 'lost'")
    finally:
        engine.dispose()


RULED_CHECKS = {
    "common": ("""
        sa.Table("radius", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("options", sa.JSON),
                 sa.CheckConstraint("options IS JSON", name="ck_radius_json",
                                    _create_rule=lambda c: c.dialect.name == "oracle"),
                 sa.CheckConstraint("id > 0", name="ck_radius_pg",
                                    _create_rule=lambda c: c.dialect.name == "postgresql"))
    """, ["{expression: id > 0, name: ck_radius_pg, dialects: [postgresql]}"]),
    "sqlite": ("", []),
    "postgresql": ("", []),
    "mysql": ("", []),
}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_checks_built_on_some_databases_round_trip(tmp_path: Path, dialect: str,
                                                   request: pytest.FixtureRequest) -> None:
    """privacyIDEA's `CheckConstraint(..., _create_rule=...)`, the mechanism SQLAlchemy's
    own type CHECKs use: create_all() builds it where the rule says. It was written for
    every database, and Oracle's `IS JSON` failed at apply on all three."""
    p = _round_trip(tmp_path, dialect, request, RULED_CHECKS)
    assert "IS JSON" not in next(p.changesets.iterdir()).read_text(encoding="utf-8")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_checks_named_by_a_convention_round_trip(tmp_path: Path, dialect: str,
                                                 request: pytest.FixtureRequest) -> None:
    _round_trip(tmp_path, dialect, request, CONVENTION_CHECKS)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_index_key_parts_and_options_round_trip(tmp_path: Path, dialect: str,
                                                request: pytest.FixtureRequest) -> None:
    """models → autogenerate → apply equals the models; a create_all() database equals them;
    its --from-db baseline rebuilds a database equal to them; a changed ordering is found."""
    p = _round_trip(tmp_path, dialect, request, INDEXES)
    models = p.root / "fidelity_models.py"
    models.write_text(models.read_text().replace("t.c.created_at.desc(), t.c.id",
                                                 "t.c.created_at, t.c.id"))
    done = p.cli("check")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "ix_events_created" in done.stdout


# MySQL's own type options (UNSIGNED keys and the foreign keys to them, ZEROFILL) were read
# as the plain type and built signed; JSONB(none_as_null=True) was refused though its DDL is
# JSONB's. Elsewhere a MySQL type is its generic type, as create_all() builds it.
DIALECT_OPTIONS = {
    "common": ("""
        sa.Table("parent", metadata,
                 sa.Column("id", mysql.INTEGER(unsigned=True), primary_key=True),
                 sa.Column("n", mysql.BIGINT(zerofill=True)), mysql_engine="InnoDB")
        sa.Table("child", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("parent_id", mysql.INTEGER(unsigned=True),
                           sa.ForeignKey("parent.id")))
    """, ["variants: {mysql: sql(INTEGER UNSIGNED)}",
          "variants: {mysql: sql(BIGINT UNSIGNED ZEROFILL)}"]),
    "sqlite": ("", []),
    "postgresql": ("""
        sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("data", postgresql.JSONB(none_as_null=True)))
    """, ["type: postgresql.jsonb"]),
    "mysql": ("", []),
}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_dialect_type_options_round_trip(tmp_path: Path, dialect: str,
                                         request: pytest.FixtureRequest) -> None:
    p = _round_trip(tmp_path, dialect, request, DIALECT_OPTIONS)
    if dialect == "mysql":
        with sa.create_engine(_driver(p.url)).connect() as conn:
            text = conn.exec_driver_sql("SHOW CREATE TABLE parent").one()[1].lower()
        assert re.search(r"`id` int(\(10\))? unsigned not null auto_increment", text), text


@pytest.mark.parametrize("dialect", DIALECTS)
def test_generated_columns_round_trip(tmp_path: Path, dialect: str,
                                      request: pytest.FixtureRequest) -> None:
    """Computed and identity columns, as the index test; a changed expression is a drop
    and an add of the column (its values are computed: nothing of its own is lost)."""
    p = _round_trip(tmp_path, dialect, request, GENERATED)
    models = p.root / "fidelity_models.py"
    models.write_text(models.read_text().replace('"qty * price"', '"qty * price * 2"'))
    done = p.cli("new", "--autogenerate", "-m", "double")
    assert done.returncode == 0, done.stderr
    for args in (("apply",), ("check",), ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    assert rows(p.url, "SELECT count(*) FROM order_lines") == [(0,)]


def _round_trip(tmp_path: Path, dialect: str, request: pytest.FixtureRequest,
                cases: dict[str, tuple[str, list[str]]], mariadb: bool = False) -> Project:
    """Models → autogenerate → validate → apply → check (--against-db) on `dialect`; the
    same against a create_all() database, and a --from-db baseline of that database applied
    to a third one. Returns the models project. `mariadb`: the MySQL server's URLs name it
    MariaDB (mariadb://), for what only MariaDB has."""
    if dialect == "sqlite":
        urls = [f"sqlite:///{tmp_path / n}.db" for n in "abc"]
    else:
        fixture = "pg_url" if dialect == "postgresql" else "mysql_url"
        urls = [request.getfixturevalue(fixture), _second(request, dialect),
                _second(request, dialect)]
        if mariadb:
            urls = [re.sub(r"^mysql(\+\w+)?://", r"mariadb\1://", u) for u in urls]
    body = textwrap.dedent(cases["common"][0]) + textwrap.dedent(cases[dialect][0])
    p = models_project(tmp_path / "proj", body, urls[0])
    made = p.cli("new", "--autogenerate", "-m", "models")
    assert made.returncode == 0, made.stderr
    text = next(p.changesets.iterdir()).read_text(encoding="utf-8")
    for part in cases["common"][1] + cases[dialect][1]:
        assert part in text, (part, text)
    for args in (("validate",), ("apply",), ("check",), ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    _create_all(p.root / "fidelity_models.py", urls[1], dialect)
    created_equals_models(p, tmp_path / "base", urls[1], urls[2])
    return p


def created_equals_models(p: Project, base_root: Path, created: str, empty: str) -> None:
    """The database `created` (built by create_all() from p's models) is equal to the models,
    and its --from-db baseline (a project at `base_root`) applied to the database `empty`
    rebuilds a schema equal to them too."""
    done = p.cli("--url", created, "check", "--against-db")
    assert done.returncode == 0, (done.stdout, done.stderr)
    base = make_project(base_root, created)
    done = base.cli("new", "--autogenerate", "--from-db", "-m", "baseline")
    assert done.returncode == 0, done.stderr
    for command in (["validate"], ["--url", empty, "apply"]):
        done = base.cli(*command)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    done = p.cli("--url", empty, "check", "--against-db")
    assert done.returncode == 0, (done.stdout, done.stderr)


def _create_all(models: Path, url: str, dialect: str) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"fm_{dialect}_{models.parent.name}", models)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    engine = sa.create_engine(_driver(url))
    try:
        module.metadata.create_all(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize(("models", "message"), [
    ("""
        t = sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("body", sa.Text))
        sa.Index("ix_docs_body", t.c.body.desc().nulls_last())
     """, "sqlite has no NULLS FIRST/LAST in indexes: index 'ix_docs_body' on 'docs'"),
    ("""
        sa.Table("docs", metadata, sa.Column("id", sa.Integer, sa.Identity(always=True),
                                             primary_key=True))
     """, "sqlite has no identity columns, only autoincrement keys: column 'docs.id' has "
          "identity options (always)"),
], ids=["index nulls", "identity always"])
def test_models_asking_for_what_the_database_lacks_are_refused(tmp_path: Path, models: str,
                                                              message: str) -> None:
    p = models_project(tmp_path / "proj", models)
    done = p.cli("new", "--autogenerate", "-m", "models")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert message in done.stderr
    assert list(p.changesets.iterdir()) == []


@pytest.mark.parametrize(("models", "config", "message"), [
    ("""
        sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Index("ix_t_empty"))
     """, "", "index ix_t_empty on t: it has no column or expression"),
    ("""
        sa.Table("parent", metadata, sa.Column("id", sa.Integer, primary_key=True))
        sa.Table("child", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("pid", sa.ForeignKey("parent.id")))
     """, '[autogenerate]\nexclude_tables = ["parent"]\n',
     "foreign key 'fk_child_pid_parent' references the table 'parent'"),
], ids=["index without columns", "foreign key to a table left out"])
def test_models_that_make_no_buildable_changeset_are_refused(tmp_path: Path, models: str,
                                                             config: str, message: str) -> None:
    """Found on MLflow's models (an Index with no column) and with exclude_tables: a
    changeset its own validate refuses, or a traceback, before."""
    p = models_project(tmp_path / "proj", models)
    with (p.root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
        fh.write(config)
    for args in (("new", "--autogenerate", "-m", "models"), ("check",)):
        done = p.cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr
        assert message in done.stderr, done.stderr
        assert list(p.changesets.iterdir()) == []


def test_a_boolean_server_default_written_as_a_digit_is_false_or_true(tmp_path: Path) -> None:
    """`sa.Column(sa.Boolean, server_default="0")`, as many models write it (MLflow's): the
    changeset held default: '0', which its own validate refused (SF120)."""
    p = models_project(tmp_path / "proj", """
        sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("off", sa.Boolean, server_default="0", nullable=False),
                 sa.Column("on", sa.Boolean, server_default="1"))
    """)
    assert p.cli("new", "--autogenerate", "-m", "models").returncode == 0
    doc = yaml.safe_load(next(p.changesets.iterdir()).read_text(encoding="utf-8"))
    columns = doc["operations"][0]["create_table"]["columns"]
    assert [c.get("default") for c in columns] == [None, False, True]
    for args in (("validate",), ("apply",), ("check",), ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_index_prefix_lengths_are_compared_where_the_database_keeps_them(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """`mysql_length` (Buildbot's and Dagster's models): SQLite and PostgreSQL index whole
    columns, and MySQL gives a prefix that covers the whole column back without one; check
    --against-db reported each such index as dropped and created again, on every run."""
    url = None if dialect == "sqlite" else request.getfixturevalue(
        "pg_url" if dialect == "postgresql" else "mysql_url")
    p = models_project(tmp_path / "proj", """
        t = sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("path", sa.Text, nullable=False), sa.Column("k", sa.String(32)))
        sa.Index("ix_t_path", t.c.id, t.c.path, mysql_length={"path": 255})
        sa.Index("ix_t_k", t.c.k, mysql_length=32)
        sa.Index("ix_t_k_path", t.c.k, t.c.path, mysql_length={"k": 16, "path": 10})
    """, url)
    for args in (("new", "--autogenerate", "-m", "models"), ("apply",),
                 ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    if dialect == "mysql":  # a prefix shorter than the column is still compared
        with sa.create_engine(_driver(p.url)).begin() as conn:
            conn.exec_driver_sql("DROP INDEX ix_t_k_path ON t")
            conn.exec_driver_sql("CREATE INDEX ix_t_k_path ON t (k(20), path(10))")
        done = p.cli("check", "--against-db")
        assert done.returncode == 1 and "ix_t_k_path" in done.stdout, done.stdout


@pytest.mark.mysql
def test_sized_blobs_and_texts_are_the_types_mysql_picks(tmp_path: Path, mysql_url: str) -> None:
    """`LargeBinary(65536)` (Buildbot's logchunks.content) is built as BLOB(65536), which the
    server makes a MEDIUMBLOB: check --against-db reported it as changed on every run."""
    p = models_project(tmp_path / "proj", """
        sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("tiny", sa.LargeBinary(100)), sa.Column("mid", sa.LargeBinary(1000)),
                 sa.Column("medium", sa.LargeBinary(65536)),
                 sa.Column("long", sa.LargeBinary(20000000)), sa.Column("whole", sa.LargeBinary),
                 sa.Column("fixed", sa.BINARY(16)), sa.Column("t1", sa.Text(100)),
                 sa.Column("t2", sa.Text(70000)), sa.Column("t3", sa.Text(20000000)))
    """, mysql_url)
    for args in (("new", "--autogenerate", "-m", "models"), ("apply",),
                 ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    with sa.create_engine(_driver(p.url)).begin() as conn:  # a real change is still found
        conn.exec_driver_sql("ALTER TABLE t MODIFY medium LONGBLOB")
    done = p.cli("check", "--against-db")
    assert done.returncode == 1 and "t.medium" in done.stdout, done.stdout


@pytest.mark.mysql
def test_current_timestamp_at_the_columns_precision_is_the_same_default(
        tmp_path: Path, mysql_url: str) -> None:
    """Dagster's DATETIME(6) columns with DEFAULT CURRENT_TIMESTAMP: MariaDB gives the default
    back as current_timestamp(6), which check --against-db reported as changed every run."""
    p = models_project(tmp_path / "proj", """
        from sqlalchemy.dialects import mysql
        sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("c", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"),
                           server_default=sa.text("CURRENT_TIMESTAMP")),
                 sa.Column("d", sa.DateTime, server_default=sa.text("CURRENT_TIMESTAMP")))
    """, mysql_url)
    for args in (("new", "--autogenerate", "-m", "models"), ("apply",),
                 ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    with sa.create_engine(_driver(p.url)).begin() as conn:  # another precision differs
        conn.exec_driver_sql("ALTER TABLE t MODIFY c DATETIME(6) DEFAULT CURRENT_TIMESTAMP(3)")
    done = p.cli("check", "--against-db")
    assert done.returncode == 1 and "t.c" in done.stdout, done.stdout


@pytest.mark.parametrize("dialect", DIALECTS)
def test_timestamp_is_built_as_timestamp_where_it_is_not_datetime(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """`sa.TIMESTAMP` (Dagster's models) is its own type on MySQL and MariaDB (stored in
    UTC, 1970-2038), which create_all() builds; it was written as `datetime` and built as
    DATETIME there, and check found nothing. Elsewhere it is the datetime it always was."""
    url = None if dialect == "sqlite" else request.getfixturevalue(
        "pg_url" if dialect == "postgresql" else "mysql_url")
    p = models_project(tmp_path / "proj", """
        sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("ts", sa.TIMESTAMP), sa.Column("dt", sa.DateTime))
    """, url)
    for args in (("new", "--autogenerate", "-m", "models"), ("apply",),
                 ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    doc = yaml.safe_load(next(p.changesets.iterdir()).read_text(encoding="utf-8"))
    ts = doc["operations"][0]["create_table"]["columns"][1]
    assert ts == {"name": "ts", "type": "datetime", "variants": {"mysql": "mysql.timestamp"}}
    if dialect == "mysql":
        with sa.create_engine(_driver(p.url)).connect() as conn:
            text = conn.exec_driver_sql("SHOW CREATE TABLE t").one()[1].lower()
        assert "`ts` timestamp" in text and "`dt` datetime" in text, text


def test_an_optional_sequence_and_the_innodb_engine_build_what_they_say(
        tmp_path: Path) -> None:
    """What create_all() builds without them: an `optional=True` sequence (the database's own
    numbering where it has one) and MySQL's default engine are not refused."""
    p = models_project(tmp_path / "proj", """
        sa.Table("docs", metadata, sa.Column("id", sa.Integer, sa.Sequence("d", optional=True),
                                             primary_key=True), mysql_engine="InnoDB")
    """)
    for args in (("new", "--autogenerate", "-m", "models"), ("apply",), ("check",)):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)


def test_a_user_defined_type_without_get_col_spec_is_read_per_database(tmp_path: Path) -> None:
    """sqlalchemy-utils' LtreeType: a UserDefinedType built by a visit method added to
    PostgreSQL's type compiler (no `get_col_spec()`). It was a traceback; it is read as each
    database's compiler builds it, and refused, naming the column and the database, where
    create_all() cannot build it."""
    p = models_project(tmp_path / "proj", """
        from sqlalchemy.dialects.postgresql.base import PGTypeCompiler

        class Ltree(sa.types.UserDefinedType):
            __visit_name__ = "LTREE"
            cache_ok = True

        PGTypeCompiler.visit_LTREE = lambda self, type_, **kw: "LTREE"
        sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("path", Ltree()))
    """)
    done = p.cli("new", "--autogenerate", "-m", "models")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "column t.path" in done.stderr, done.stderr
    assert "cannot be compiled for sqlite" in done.stderr, done.stderr


# Type overrides by `@compiles`, as projects register them globally (Dagster's microsecond
# DATETIME and TIMESTAMP on MySQL); create_all() runs in a process of its own, so that the
# overrides of sa.DateTime stay out of the tests' process.
COMPILES = """
    from sqlalchemy.ext.compiler import compiles

    @compiles(sa.DateTime, "mysql")
    def _datetime_mysql(element, compiler, **kw):
        return "DATETIME(6)"

    @compiles(sa.TIMESTAMP, "mysql")
    def _timestamp_mysql(element, compiler, **kw):
        return "TIMESTAMP(6)"

    class Code(sa.types.TypeEngine):
        cache_ok = True

    @compiles(Code)
    def _code(element, compiler, **kw):
        return "VARCHAR(30)"

    @compiles(Code, "postgresql")
    def _code_postgresql(element, compiler, **kw):
        return "CHAR(8)"

    @compiles(sa.Text, "sqlite")
    def _text_sqlite(element, compiler, **kw):
        return "TEXT"

    class LongText(sa.Text):
        cache_ok = True

    @compiles(LongText, "mysql")
    def _longtext_mysql(element, compiler, **kw):
        return "LONGTEXT"

    sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("at", sa.DateTime), sa.Column("ts", sa.TIMESTAMP),
             sa.Column("code", Code()), sa.Column("body", sa.Text),
             sa.Column("doc", LongText))
"""


@pytest.mark.parametrize("dialect", DIALECTS)
def test_compiles_overrides_of_types_are_built_as_create_all_builds_them(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """A type a `@compiles` override compiles is what that override builds, on the databases
    it builds it on: the type of the format that builds the same text (`DATETIME(6)` is
    datetime(6)), else that text (`sql(TIMESTAMP(6))`). It was read as the type it overrides:
    Dagster's DATETIME(6) was built as DATETIME, and check found nothing."""
    import subprocess
    import sys

    if dialect == "sqlite":
        url, created = (f"sqlite:///{tmp_path / n}.db" for n in "ab")
    else:
        url = request.getfixturevalue("pg_url" if dialect == "postgresql" else "mysql_url")
        created = _second(request, dialect)
    p = models_project(tmp_path / "proj", COMPILES, url)
    for args in (("new", "--autogenerate", "-m", "models"), ("validate",), ("apply",),
                 ("check",), ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    doc = yaml.safe_load(next(p.changesets.iterdir()).read_text(encoding="utf-8"))
    assert doc["operations"][0]["create_table"]["columns"][1:] == [
        {"name": "at", "type": "datetime", "variants": {"mysql": "datetime(6)"}},
        {"name": "ts", "type": "datetime", "variants": {"mysql": "sql(TIMESTAMP(6))"}},
        {"name": "code", "type": "string(30)", "variants": {"postgresql": "char(8)"}},
        {"name": "body", "type": "text"},
        # (Dagster's LongText: the format's own MySQL type, which is what MySQL gives back;
        # `sql(LONGTEXT)` never matched it, and check found a difference for ever.)
        {"name": "doc", "type": "text", "variants": {"mysql": "mysql.longtext"}}]
    made = subprocess.run(
        [sys.executable, "-c", "import sqlalchemy as sa, fidelity_models as m; "
         f"m.metadata.create_all(sa.create_engine({_driver(created)!r}))"],
        cwd=p.root, capture_output=True, text=True, check=False)
    assert made.returncode == 0, made.stderr
    done = p.cli("--url", created, "check", "--against-db")
    assert done.returncode == 0, (done.stdout, done.stderr)
    if dialect == "mysql":
        for where in (url, created):
            with sa.create_engine(_driver(where)).connect() as conn:
                text = conn.exec_driver_sql("SHOW CREATE TABLE t").one()[1].lower()
            assert "`at` datetime(6)" in text and "`ts` timestamp(6)" in text, text


def test_a_database_type_read_from_an_override_keeps_its_arguments_as_written() -> None:
    """(From a review.) The database's own type name was tried with the whole text in lower
    case: an override building SET('Red','Green') was read as mysql.set(red,green)."""
    from sqlalchemy.dialects.mysql.base import MySQLDialect

    from schemaflow.dialects.coltypes import _from_ddl

    assert str(_from_ddl("SET('Red','Green')", MySQLDialect())) in (
        "mysql.set(Red,Green)", "sql(SET('Red','Green'))")
    assert str(_from_ddl("LONGTEXT", MySQLDialect())) == "mysql.longtext"


def test_a_compiles_override_that_fails_is_refused(tmp_path: Path) -> None:
    """An override create_all() cannot build on one of the databases is refused, naming the
    column and the database (no traceback, nothing written)."""
    p = models_project(tmp_path / "proj", """
        from sqlalchemy.ext.compiler import compiles

        class Vector(sa.types.TypeEngine):
            cache_ok = True

        @compiles(Vector, "postgresql")
        def _vector(element, compiler, **kw):
            return "VECTOR(3)"

        sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("v", Vector()))
    """)
    done = p.cli("new", "--autogenerate", "-m", "models")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "column t.v" in done.stderr and "cannot be compiled for" in done.stderr
    assert list(p.changesets.iterdir()) == []


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_baseline_of_a_create_all_database_writes_the_models_types(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """Adopting a database (fastapi-users' models, tried by a helper): the --from-db baseline
    held the database's own types (uuid on PostgreSQL, char(36) on MariaDB), the models their
    variants, and `check` reported differences straight after the README's adopt steps. A
    column the models give as the database holds it is written as the models write it; one
    that differs keeps the database's type, and check finds it."""
    url = None if dialect == "sqlite" else request.getfixturevalue(
        "pg_url" if dialect == "postgresql" else "mysql_url")
    models = """
        import uuid

        class GUID(sa.types.TypeDecorator):
            impl = sa.CHAR(36)
            cache_ok = True

            def load_dialect_impl(self, dialect):
                if dialect.name == "postgresql":
                    return dialect.type_descriptor(postgresql.UUID())
                return dialect.type_descriptor(sa.CHAR(36))

        sa.Table("acct", metadata, sa.Column("id", GUID(), primary_key=True),
                 sa.Column("at", sa.TIMESTAMP(timezone=True)),
                 sa.Column("name", sa.String(20)))
    """
    p = models_project(tmp_path / "proj", models, url)
    _create_all(p.root / "fidelity_models.py", p.url, dialect)
    (p.root / "fidelity_models.py").write_text(
        HEADER + textwrap.dedent(models).replace("sa.String(20)", "sa.String(30)"),
        encoding="utf-8")
    done = p.cli("new", "--autogenerate", "--from-db", "-m", "baseline")
    assert done.returncode == 0, done.stderr
    doc = yaml.safe_load(next(p.changesets.iterdir()).read_text(encoding="utf-8"))
    columns = doc["operations"][0]["create_table"]["columns"]
    assert columns[0]["type"] == "char(36)" and columns[0]["variants"] == {"postgresql": "uuid"}
    assert columns[1]["variants"] == {"mysql": "mysql.timestamp"}
    assert columns[2]["type"] == "string(20)"  # the database's: the models differ
    for args in (("validate",), ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == (0 if args == ("validate",) else 1), (args, done.stdout)
    done = p.cli("check")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "acct.name" in done.stdout and "acct.id" not in done.stdout, done.stdout
    assert "acct.at" not in done.stdout, done.stdout


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_key_the_database_does_not_number_is_a_difference(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """celery's tables in a database whose integer keys have no SERIAL or AUTO_INCREMENT
    passed check --against-db, and inserts without an id failed; models changed to
    `autoincrement=False` after their changeset found "no changes". Both are now said, by
    name (SQLite numbers every integer key: no difference there)."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}" if dialect == "sqlite" else \
        request.getfixturevalue("pg_url" if dialect == "postgresql" else "mysql_url")
    p = models_project(tmp_path / "proj", """
        sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True))
    """, url)
    engine = sa.create_engine(_driver(url))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (id integer NOT NULL PRIMARY KEY)")
    finally:
        engine.dispose()
    done = p.cli("check", "--against-db")
    if dialect == "sqlite":
        assert done.returncode == 0, (done.stdout, done.stderr)
    else:
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "the numbering of column t.id changes" in done.stderr, done.stderr
    assert p.cli("new", "--autogenerate", "-m", "models").returncode == 0
    models = p.root / "fidelity_models.py"
    models.write_text(models.read_text().replace("primary_key=True)", "primary_key=True, "
                                                 "autoincrement=False)"), encoding="utf-8")
    done = p.cli("check")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "the numbering of column t.id changes" in done.stderr, done.stderr


def test_tables_left_out_by_the_configuration(tmp_path: Path) -> None:
    """`[autogenerate] exclude_tables` / `include_tables` (glob patterns) leave tables out of
    autogenerate, check and the --from-db baseline, on both sides of the comparison."""
    p = models_project(tmp_path / "proj", """
        sa.Table("users", metadata, sa.Column("id", sa.Integer, primary_key=True))
        sa.Table("celery_taskmeta", metadata, sa.Column("id", sa.Integer, primary_key=True))
    """)
    with (p.root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
        fh.write('[autogenerate]\nexclude_tables = ["celery_*"]\n')
    done = p.cli("new", "--autogenerate", "-m", "models")
    assert done.returncode == 0, done.stderr
    text = next(p.changesets.iterdir()).read_text(encoding="utf-8")
    assert "users" in text and "celery" not in text
    assert p.cli("apply").returncode == 0
    with sa.create_engine(p.url).begin() as conn:  # another tool's table in the database
        conn.exec_driver_sql("CREATE TABLE celery_taskmeta (id integer PRIMARY KEY)")
    for args in (("check",), ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    base = make_project(tmp_path / "base", p.url)
    with (base.root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
        fh.write('[autogenerate]\ninclude_tables = ["celery_*"]\n')
    done = base.cli("new", "--autogenerate", "--from-db", "-m", "baseline")
    assert done.returncode == 0, done.stderr
    text = next(base.changesets.iterdir()).read_text(encoding="utf-8")
    assert "celery_taskmeta" in text and "users" not in text
    with (base.root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
        fh.write('exclude_tabels = ["x"]\n')
    done = base.cli("check")
    assert done.returncode == 2 and "unknown key 'autogenerate.exclude_tabels'" in done.stderr


@pytest.mark.postgresql
def test_tables_in_other_schemas_are_read(tmp_path: Path, pg_url: str,
                                          request: pytest.FixtureRequest) -> None:
    """Models in a non-default schema: check --against-db reads the schemas the models name,
    --from-db the ones `[autogenerate] schemas` names."""
    second = _second(request, "postgresql")
    for url in (pg_url, second):
        engine = sa.create_engine(_driver(url))
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE SCHEMA billing")
        engine.dispose()
    p = models_project(tmp_path / "proj", """
        sa.Table("customers", metadata, sa.Column("id", sa.Integer, primary_key=True))
        sa.Table("invoices", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id")),
                 schema="billing")
    """, pg_url)
    assert p.cli("new", "--autogenerate", "-m", "models").returncode == 0
    for args in (("apply",), ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    _create_all(p.root / "fidelity_models.py", second, "schemas")
    done = p.cli("--url", second, "check", "--against-db")
    assert done.returncode == 0, (done.stdout, done.stderr)
    base = make_project(tmp_path / "base", second)
    with (base.root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
        fh.write('[autogenerate]\nschemas = ["billing"]\n')
    assert base.cli("new", "--autogenerate", "--from-db", "-m", "baseline").returncode == 0
    text = next(base.changesets.iterdir()).read_text(encoding="utf-8")
    assert "schema: billing" in text and "customers" in text


def test_a_sqlite_expression_index_with_a_comma_in_a_literal_is_read_whole(
        tmp_path: Path) -> None:
    p = models_project(tmp_path / "proj", """
        sa.Table("users", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("email", sa.String(50)))
    """)
    with sa.create_engine(p.url).begin() as conn:
        conn.exec_driver_sql("CREATE TABLE users (id integer PRIMARY KEY, email varchar(50))")
        conn.exec_driver_sql("CREATE INDEX ix_odd ON users (coalesce(email, ','), "
                             "lower(email) DESC)")
    done = p.cli("new", "--autogenerate", "--from-db", "-m", "baseline")
    assert done.returncode == 0, done.stderr
    doc = yaml.safe_load(next(p.changesets.iterdir()).read_text(encoding="utf-8"))
    (index,) = doc["operations"][0]["create_table"]["indexes"]
    assert index["columns"] == [{"expression": "coalesce(email, ',')"},
                                {"expression": "lower(email)", "order": "desc"}]


# Types per database: variants, types written as SQL, collations, sized binaries.
TYPES = {
    "common": ("""
        class Point(sa.types.UserDefinedType):
            cache_ok = True

            def get_col_spec(self, **kw):
                return "POINT"

        sa.Table(
            "docs", metadata,
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                      primary_key=True),
            sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
            sa.Column("body", sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")),
            sa.Column("place", Point()),
            # What create_all() builds: INTERVAL on PostgreSQL, a DATETIME elsewhere.
            sa.Column("every", sa.Interval()),
        )
    """, ["variants: {postgresql: postgresql.interval}", "type: bigint",
          "variants: {sqlite: integer}", "variants: {mysql: mysql.mediumtext}",
          "variants: {postgresql: postgresql.jsonb}", "type: sql(POINT)"]),
    "sqlite": ("""
        sa.Table("keys", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("name", sa.String(50, collation="NOCASE")),
                 sa.Column("digest", sa.BINARY(16)), sa.Column("token", sa.VARBINARY(8)))
    """, ["collation: NOCASE", "type: 'binary(16,fixed=true)'", "type: varbinary(8)"]),
    "postgresql": ("""
        sa.Table("keys", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("name", sa.String(50, collation="C")),
                 sa.Column("notes", sa.Text(collation="C")))
    """, ["collation: C"]),
    "mysql": ("""
        sa.Table("keys", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("name", sa.String(50, collation="utf8mb4_bin")),
                 sa.Column("digest", sa.BINARY(16)), sa.Column("token", sa.VARBINARY(8)))
    """, ["collation: utf8mb4_bin", "type: 'binary(16,fixed=true)'", "type: varbinary(8)"]),
}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_type_variants_sql_types_and_collations_round_trip(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """Variants, types written as SQL, collations and sized binaries as the index test; a
    changed variant and a changed collation are each found as an alter_column of the type."""
    p = _round_trip(tmp_path, dialect, request, TYPES)
    with sa.create_engine(_driver(p.url)).begin() as conn:  # the key generates its values
        conn.exec_driver_sql("INSERT INTO docs (body) VALUES ('x')")
    models = p.root / "fidelity_models.py"
    text = models.read_text()
    changed = text.replace('postgresql.JSONB(), "postgresql"', 'sa.Text(), "postgresql"')
    collation = {"sqlite": "NOCASE", "postgresql": "C", "mysql": "utf8mb4_bin"}[dialect]
    changed = changed.replace(f'sa.String(50, collation="{collation}")', "sa.String(50)")
    models.write_text(changed)
    done = p.cli("new", "--autogenerate", "-m", "changed")
    assert done.returncode == 0, done.stderr
    (path,) = [f for f in p.changesets.iterdir() if "changed" in f.name]
    ops = yaml.safe_load(path.read_text(encoding="utf-8"))["operations"]
    altered = {op["alter_column"]["name"]: op["alter_column"] for op in ops
               if "alter_column" in op}
    assert altered["data"] == {"table": "docs", "name": "data", "type": "json",
                               "variants": {"postgresql": "text"}}
    assert altered["name"] == {"table": "keys", "name": "name", "type": "string(50)"}
    for args in (("validate",), ("apply",), ("check",), ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)


# A collation per database (Airflow's ids: utf8mb3_bin on MySQL only, the default elsewhere).
COLLATIONS = {
    "common": ("""
        sa.Table(
            "words", metadata, sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("word", sa.String(50)
                      .with_variant(sa.String(50, collation="C"), "postgresql")
                      .with_variant(sa.String(50, collation="utf8mb4_bin"), "mysql")
                      .with_variant(sa.String(50, collation="NOCASE"), "sqlite")),
            sa.Column("dag_id", sa.String(250).with_variant(
                sa.String(250, collation="utf8mb3_bin"), "mysql")),
            sa.Column("note", sa.Text(collation="C").with_variant(sa.Text(), "mysql", "sqlite")),
        )
    """, ["collation: {mysql: utf8mb4_bin, postgresql: C, sqlite: NOCASE}",
          "collation: {mysql: utf8mb3_bin}", "collation: {postgresql: C}"]),
    "sqlite": ("", []), "postgresql": ("", []), "mysql": ("", []),
}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_collation_per_database_round_trips(tmp_path: Path, dialect: str,
                                              request: pytest.FixtureRequest) -> None:
    """`with_variant` of a type with another collation is a collation per database: each
    database builds its own (as create_all() does), `check` finds none missing, and a
    collation changed on one database is an alter_column that changes it there only."""
    p = _round_trip(tmp_path, dialect, request, COLLATIONS)
    assert live_collations(p.url, dialect) == {
        "sqlite": {"word": "NOCASE", "dag_id": None, "note": None},
        "postgresql": {"word": "C", "dag_id": None, "note": "C"},
        "mysql": {"word": "utf8mb4_bin", "dag_id": "utf8mb3_bin", "note": None},
    }[dialect]
    models = p.root / "fidelity_models.py"
    models.write_text(models.read_text().replace('collation="utf8mb3_bin"',
                                                 'collation="utf8mb4_bin"'))
    done = p.cli("new", "--autogenerate", "-m", "changed")
    assert done.returncode == 0, done.stderr
    (path,) = [f for f in p.changesets.iterdir() if "changed" in f.name]
    ops = yaml.safe_load(path.read_text(encoding="utf-8"))["operations"]
    # (PostgreSQL's ALTER TYPE under a lock timeout, a `sql` operation before it)
    assert [op for op in ops if "sql" not in op] == [{"alter_column": {
        "table": "words", "name": "dag_id", "type": "string(250)",
        "collation": {"mysql": "utf8mb4_bin"}}}]
    for args in (("validate",), ("apply",), ("check",), ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    if dialect == "mysql":
        assert live_collations(p.url, dialect)["dag_id"] == "utf8mb4_bin"
    done = p.cli("rollback", "-1")
    assert done.returncode == 0, done.stderr
    assert live_collations(p.url, dialect)["dag_id"] == ("utf8mb3_bin" if dialect == "mysql"
                                                      else None)


@pytest.mark.parametrize(("column", "alter", "message"), [
    ({"variants": {"oracle": "json"}}, None, "variants"),
    ({"variants": {"postgresql": "jsonb"}}, None, "unknown type 'jsonb'"),
    ({}, {"collation": "C"}, "collation"),
    ({"collation": "C", "type": "integer"}, None, "the type integer takes no collation"),
    ({"variants": {"sqlite": "postgresql.jsonb"}}, None,
     "the type postgresql.jsonb is postgresql's; this database is sqlite"),
], ids=["unknown database", "dialect type without prefix", "collation without type",
        "collation of an integer", "variant of another database"])
def test_a_bad_variant_or_collation_is_refused_by_name(
        project: Project, column: dict[str, object], alter: dict[str, object] | None,
        message: str) -> None:
    col = {"name": "data", "type": "json", **column}
    project.write("c1", [{"create_table": {"name": "docs", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}, col]}}])
    if alter is not None:
        project.write("c2", [{"alter_column": {"table": "docs", "name": "data", **alter}}],
                      parents=["c1"])
    for args in (("validate",), ("apply",)):
        done = project.cli(*args)
        assert done.returncode in (1, 2), (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        assert message in done.stdout + done.stderr, (args, done.stdout, done.stderr)
    assert rows(project.url, "SELECT count(*) FROM sqlite_master WHERE name = 'docs'") == [(0,)]


@pytest.mark.postgresql
def test_a_type_change_keeps_the_collation_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    """alter_column's collation goes with its type, but PostgreSQL's ALTER TYPE was written
    without COLLATE: a string widened lost its collation, and a collation-only change did
    nothing, with exit 0 (`check --against-db` saw it). Widened, then given a collation, then
    rolled back twice: the column's collation is the models' each time."""
    p = models_project(tmp_path / "p", 'sa.Table("t", metadata, sa.Column("id", sa.Integer, '
                       'primary_key=True), sa.Column("a", sa.String(10, collation="C")), '
                       'sa.Column("b", sa.String(10)))\n', pg_url)
    models = p.root / "fidelity_models.py"

    def collations() -> dict[str, str | None]:
        engine = sa.create_engine(_driver(pg_url))
        try:
            with engine.connect() as conn:
                return dict(conn.execute(sa.text(
                    "SELECT column_name, collation_name FROM information_schema.columns "
                    "WHERE table_name = 't' AND column_name IN ('a', 'b')")).all())
        finally:
            engine.dispose()

    args: tuple[str, ...]
    for args in (("new", "--autogenerate", "-m", "v1"), ("apply",)):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    v1 = models.read_text(encoding="utf-8")
    models.write_text(v1.replace('String(10, collation="C")', 'String(40, collation="C")')
                      .replace('"b", sa.String(10)', '"b", sa.String(10, collation="C")'),
                      encoding="utf-8")
    for args in (("new", "--autogenerate", "-m", "v2"), ("apply",), ("check",),
                 ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    assert collations() == {"a": "C", "b": "C"}
    done = p.cli("rollback", "-1")
    assert done.returncode == 0, done.stderr
    assert collations() == {"a": "C", "b": None}
