"""What the models leave to the database, read as create_all() builds it, so that a changeset,
the database it builds and a baseline of it agree: whether an integer key is numbered
(SERIAL, AUTO_INCREMENT: SQLAlchemy's `autoincrement="auto"`, which numbers the sole integer
key unless it has a foreign key, as a joined-inheritance child's, or a default of its own),
and the kind of a generated column whose `persisted` is not given."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from conftest import DIALECTS, Project, database_url, make_project, rows
from test_autogenerate import run_sql
from test_fidelity import _create_all, _driver, _round_trip, _second, models_project

INHERITANCE = """
    sa.Table("parent", metadata, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("child", metadata,
             sa.Column("id", sa.Integer, sa.ForeignKey("parent.id"), primary_key=True))
    # Numbered all the same, as the models say so.
    sa.Table("told", metadata, sa.Column("id", sa.Integer, sa.ForeignKey("parent.id"),
                                         primary_key=True, autoincrement=True))
    sa.Table("ignored", metadata, sa.Column("id", sa.Integer, sa.ForeignKey("parent.id"),
                                            primary_key=True, autoincrement="ignore_fk"))
"""


def adopted(p: Project, *then: tuple[str, ...]) -> str:
    """A --from-db baseline of the project's database, stamped, then `check` and `check
    --against-db` and `then` (each exit 0): the baseline's text."""
    for args in (("new", "--autogenerate", "--from-db", "-m", "baseline"), ("stamp", "heads"),
                 ("check",), ("check", "--against-db"), *then):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    return next(p.changesets.iterdir()).read_text(encoding="utf-8")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_key_that_is_a_foreign_key_is_not_numbered_unless_told(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """`check --against-db` stopped with "the numbering of column child.id changes" on the
    database schemaflow built and on create_all()'s, and `check` after a --from-db baseline
    did the same: the models' key was taken as numbered, the database's was not. Models →
    changeset → apply → check (--against-db), create_all() → check --against-db, and its
    baseline applied elsewhere → check --against-db, all with no difference."""
    p = _round_trip(tmp_path, dialect, request, {
        "common": (INHERITANCE, ["autoincrement: true"]), dialect: ("", [])})
    text = next(p.changesets.iterdir()).read_text(encoding="utf-8")
    assert text.count("autoincrement: true") == 2, text
    # Adopted: a baseline of that database, stamped, and the models checked against it.
    # (SQLite numbers every integer key and says of none whether it was told to: there the
    # baseline cannot know that `told` is, and a check against the models says so.)
    base = models_project(tmp_path / "adopt", INHERITANCE, p.url)
    if dialect == "sqlite":
        with (base.root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
            fh.write('[autogenerate]\nexclude_tables = ["told", "ignored"]\n')
    for args in (("new", "--autogenerate", "--from-db", "-m", "baseline"), ("stamp", "heads"),
                 ("check",)):
        done = base.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)


LEFT_TO_THE_DATABASE = """
    sa.Table("lines", metadata, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("a", sa.Integer), sa.Column("b", sa.Integer),
             sa.Column("total", sa.Integer, sa.Computed("a * b")))
"""


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_generated_column_of_the_databases_own_kind_builds_and_adopts(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """`Computed()` without `persisted` is written without `stored`: the database's own kind
    (STORED on PostgreSQL before 18, VIRTUAL elsewhere), as the schema says. apply refused it
    on PostgreSQL ('has only stored generated columns') while validate passed it, and a
    baseline of create_all()'s database (`stored: true` there) then differed from the models
    in check."""
    p = _round_trip(tmp_path, dialect, request, {
        "common": (LEFT_TO_THE_DATABASE, ["expression: a * b"]), dialect: ("", [])})
    assert "stored" not in next(p.changesets.iterdir()).read_text(encoding="utf-8")
    base = models_project(tmp_path / "adopt", LEFT_TO_THE_DATABASE, p.url)
    for args in (("new", "--autogenerate", "--from-db", "-m", "baseline"), ("stamp", "heads"),
                 ("check",)):
        done = base.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)


COMPOSITE = """
    sa.Table("items", metadata,
             sa.Column("order_id", sa.Integer, primary_key=True),
             sa.Column("n", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("qty", sa.Integer))
"""


@pytest.mark.parametrize("dialect", [d for d in DIALECTS if d != "sqlite"])
def test_a_numbered_column_in_a_key_of_several_builds_as_create_all_does(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """`autoincrement=True` on one column of a composite key: create_all() numbers it
    (SERIAL, AUTO_INCREMENT) and puts it first in the key. Autogenerate wrote a plain
    integer (rows inserted without it then failed), check --against-db saw no difference on
    MariaDB, and a baseline dropped AUTO_INCREMENT there (PostgreSQL's refused the sequence).
    Now the changeset numbers it, in create_all()'s key order, and each database agrees."""
    p = _round_trip(tmp_path, dialect, request, {
        "common": (COMPOSITE, ["autoincrement: true", "columns: [n, order_id]"]),
        dialect: ("", [])})
    engine = sa.create_engine(_driver(p.url))
    try:
        with engine.begin() as conn:
            for _ in range(2):
                conn.execute(sa.text("INSERT INTO items (order_id, qty) VALUES (7, 1)"))
            assert sorted(conn.execute(sa.text("SELECT n FROM items")).scalars()) == [1, 2]
    finally:
        engine.dispose()
    # The same table built unnumbered differs from the models, and says which column.
    plain = models_project(tmp_path / "plain", COMPOSITE, _second(request, dialect))
    run_sql(_driver(plain.url), "CREATE TABLE items (n integer NOT NULL, order_id integer "
            "NOT NULL, qty integer, PRIMARY KEY (n, order_id))")
    done = plain.cli("check", "--against-db")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "the numbering of column items.n changes (numbered on in what is wanted, off in " \
           "what exists)" in done.stderr, done.stderr


def test_a_numbered_column_is_refused_where_the_database_cannot_number_it(
        tmp_path: Path) -> None:
    """SQLite numbers only a sole INTEGER PRIMARY KEY (create_all() raises a CompileError),
    MySQL and MariaDB only a column that leads a key or an index (error 1075): validate
    says so (SF331) where apply used to fail on SQLAlchemy's error or the server's.
    `autoincrement: true` anywhere else than one integer key column, which SQLAlchemy
    ignores and every database then builds unnumbered, is an error of its own (SF109)."""
    p = models_project(tmp_path / "p", COMPOSITE)
    done = p.cli("new", "--autogenerate", "-m", "models")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "column 'items.n' is numbered (`autoincrement: true`) in a key of several " \
        "columns" in done.stderr, done.stderr
    assert list(p.changesets.iterdir()) == []

    def changeset(columns: str, extra: str = "") -> Project:
        q = make_project(tmp_path / f"q{len(list(tmp_path.iterdir()))}")
        (q.changesets / "0001_t.yaml").write_text(
            "schemaflow: 1\nid: '0001'\nparents: []\nmessage: t\noperations:\n"
            f"  - create_table:\n      name: t\n      columns:\n{columns}{extra}",
            encoding="utf-8")
        return q

    key = "        - {name: a, type: integer, primary_key: true}\n"
    numbered = "        - {name: b, type: integer, primary_key: true, autoincrement: true}\n"
    q = changeset(key + numbered)
    done = q.cli("validate")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "SF331" in done.stdout and "column 't.b' is numbered (`autoincrement: true`) in a " \
        "key of several columns" in done.stdout, done.stdout
    done = q.cli("apply")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "cannot be rendered for sqlite: sqlite numbers only a sole integer" in done.stderr
    assert rows(q.url, "SELECT name FROM sqlite_master WHERE name = 't'") == []
    done = q.cli("validate", "--dialect", "mysql")
    assert done.returncode == 1 and "column 't.b' is numbered (`autoincrement: true`) but " \
        "comes after a in the primary key" in done.stdout, done.stdout
    assert q.cli("validate", "--dialect", "postgresql").returncode == 0
    led = changeset(key + numbered, "      indexes:\n        - {name: ix_b, columns: [b]}\n")
    assert led.cli("validate", "--dialect", "mysql").returncode == 0
    for columns, named in [
        (key + "        - {name: b, type: integer, autoincrement: true}\n",
         "column 't.b' has `autoincrement: true` but is not in the primary key"),
        ("        - {name: a, type: string(10), primary_key: true, autoincrement: true}\n",
         "column 't.a' has `autoincrement: true`, but its type string(10) is no integer"),
        (key.replace("true}", "true, autoincrement: true}") + numbered,
         "table 't' numbers 2 columns of its primary key (a, b)"),
    ]:
        done = changeset(columns).cli("validate")
        assert done.returncode == 1, (columns, done.stdout)
        assert "changesets/0001_t.yaml:6:5: error SF109" in done.stdout, done.stdout
        assert named in done.stdout, done.stdout


@pytest.mark.mysql
def test_auto_increment_outside_the_key_is_refused_by_a_baseline(
        tmp_path: Path, mysql_url: str) -> None:
    """MariaDB numbers a column outside the primary key when an index leads with it; the
    format cannot say so, and a baseline wrote a plain column (exit 0)."""
    run_sql(_driver(mysql_url), "CREATE TABLE t (id integer PRIMARY KEY, "
            "n integer NOT NULL AUTO_INCREMENT, KEY (n))")
    p = models_project(tmp_path / "p", "", mysql_url)
    done = p.cli("new", "--autogenerate", "--from-db", "-m", "baseline")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "column t.n: AUTO_INCREMENT outside the primary key" in done.stderr, done.stderr
    assert list(p.changesets.iterdir()) == []


NUMBERED = """
    sa.Table("orders", metadata, sa.Column("id", sa.{id_type}, primary_key=True),
             sa.Column("note", sa.String({width}), comment="shown"))
    sa.Table("order_lines", metadata,
             sa.Column("n", sa.{id_type}, primary_key=True, autoincrement=True),
             sa.Column("order_id", sa.Integer, primary_key=True),
             sa.Column("qty", sa.Integer, nullable=False, server_default="1"))
"""


@pytest.mark.mysql
def test_a_numbered_key_changed_on_mysql_stays_numbered(tmp_path: Path, mysql_url: str) -> None:
    """MySQL's MODIFY COLUMN restates the whole column: a numbered key whose type changed was
    restated without AUTO_INCREMENT, so `apply` left it unnumbered (rows inserted without a
    key then failed) while the changesets and the models say numbered; `check --against-db`
    stopped on it. Models → apply, models changed (wider keys) → autogenerate → apply: the
    keys still number the rows, and the database matches the models and the changesets."""
    p = models_project(tmp_path, NUMBERED.format(id_type="Integer", width=20), mysql_url)
    models = p.root / "fidelity_models.py"
    args: tuple[str, ...]
    for args in (("new", "--autogenerate", "-m", "models"), ("apply",)):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    text = models.read_text(encoding="utf-8")
    # Every key column wider (orders.id, order_lines.n and .order_id), and the note.
    models.write_text(text.replace("sa.Integer, primary_key=True",
                                   "sa.BigInteger, primary_key=True")
                      .replace("sa.String(20)", "sa.String(40)"), encoding="utf-8")
    for args in (("new", "--autogenerate", "-m", "wider"), ("apply",), ("check",),
                 ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    changed = next(t for t in (f.read_text(encoding="utf-8") for f in p.changesets.iterdir())
                   if "message: wider" in t)
    assert changed.count("alter_column") == 4, changed
    engine = sa.create_engine(_driver(p.url))
    try:
        with engine.begin() as conn:
            for _ in range(2):
                conn.execute(sa.text("INSERT INTO orders (note) VALUES ('a')"))
                conn.execute(sa.text("INSERT INTO order_lines (order_id) VALUES (7)"))
            assert sorted(conn.execute(sa.text("SELECT id FROM orders")).scalars()) == [1, 2]
            assert sorted(conn.execute(sa.text("SELECT n FROM order_lines")).scalars()) \
                == [1, 2]
            ddl = conn.execute(sa.text("SHOW CREATE TABLE orders")).one()[1]
        assert "COMMENT 'shown'" in ddl, ddl
    finally:
        engine.dispose()
    # Rolled back, the keys are integers again, and still numbered.
    done = p.cli("rollback", "-1")
    assert done.returncode == 0, (done.stdout, done.stderr)
    models.write_text(text, encoding="utf-8")
    done = p.cli("check", "--against-db")
    assert done.returncode == 0, (done.stdout, done.stderr)


def _sequence_types(url: str) -> dict[str, str]:
    engine = sa.create_engine(_driver(url))
    try:
        with engine.connect() as conn:
            return {r[0]: r[1] for r in conn.execute(sa.text(
                "SELECT sequencename, data_type FROM pg_sequences"))}
    finally:
        engine.dispose()


@pytest.mark.postgresql
def test_a_serial_key_widened_on_postgresql_is_numbered_as_wide(
        tmp_path: Path, pg_url: str, request: pytest.FixtureRequest) -> None:
    """A SERIAL column's sequence keeps the integer type it was made with: a key widened to
    bigint by alter_column still stopped at 2,147,483,647, where create_all()'s BIGSERIAL
    goes on (nothing compared said so). Models → apply, keys widened → autogenerate → apply:
    each sequence has create_all()'s type; a row takes a number past the integer range;
    rolled back, the sequences are integers again."""
    p = models_project(tmp_path / "p", NUMBERED.format(id_type="Integer", width=20), pg_url)
    models = p.root / "fidelity_models.py"
    args: tuple[str, ...]
    for args in (("new", "--autogenerate", "-m", "models"), ("apply",)):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    narrow = _sequence_types(p.url)
    assert narrow == {"orders_id_seq": "integer", "order_lines_n_seq": "integer"}, narrow
    text = models.read_text(encoding="utf-8")
    models.write_text(text.replace("sa.Integer, primary_key=True",
                                   "sa.BigInteger, primary_key=True"), encoding="utf-8")
    for args in (("new", "--autogenerate", "-m", "wider"), ("apply",), ("check",),
                 ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    anchor = _second(request, "postgresql")
    _create_all(models, anchor, "postgresql")
    assert _sequence_types(p.url) == _sequence_types(anchor) == {
        "orders_id_seq": "bigint", "order_lines_n_seq": "bigint"}
    engine = sa.create_engine(_driver(p.url))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT setval('orders_id_seq', 3000000000)"))
            conn.execute(sa.text("INSERT INTO orders (note) VALUES ('a')"))
            assert conn.execute(sa.text("SELECT id FROM orders")).scalar() == 3000000001
            conn.execute(sa.text("DELETE FROM orders"))
            conn.execute(sa.text("SELECT setval('orders_id_seq', 1)"))
    finally:
        engine.dispose()
    done = p.cli("rollback", "-1")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert _sequence_types(p.url) == narrow


@pytest.mark.parametrize("dialect", [d for d in DIALECTS if d != "sqlite"])
def test_keys_that_are_foreign_keys_keep_their_numbering_through_a_change(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """A key that is also a foreign key is numbered only when told (create_all()'s rule).
    Restating one (MySQL's MODIFY) or asking whether it is numbered (PostgreSQL's sequence
    type) once looked at a copy of its table without its foreign keys, and numbered the
    joined-inheritance child's key. Every key widened (PostgreSQL) or commented (MySQL), then
    rolled back: the database matches the models each time."""
    url = request.getfixturevalue("pg_url" if dialect == "postgresql" else "mysql_url")
    p = models_project(tmp_path / "p", INHERITANCE, url)
    models = p.root / "fidelity_models.py"
    args: tuple[str, ...]
    for args in (("new", "--autogenerate", "-m", "v1"), ("apply",)):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    v1 = models.read_text(encoding="utf-8")
    # (MySQL cannot widen a key and the foreign key to it, error 1833: a comment on each
    # key there, which MODIFY restates as a whole.)
    models.write_text(v1.replace("sa.Integer", "sa.BigInteger") if dialect == "postgresql"
                      else v1.replace("primary_key=True", 'primary_key=True, comment="k"'),
                      encoding="utf-8")
    for args in (("new", "--autogenerate", "-m", "v2"), ("apply",), ("check",),
                 ("check", "--against-db"), ("rollback", "-1")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    models.write_text(v1, encoding="utf-8")
    done = p.cli("check", "--against-db")
    assert done.returncode == 0, (done.stdout, done.stderr)


@pytest.mark.postgresql
def test_a_serial_key_made_a_string_loses_its_numbering(tmp_path: Path, pg_url: str) -> None:
    """A SERIAL key changed to a string kept its sequence and its nextval() default, which
    create_all() of the models does not have: check --against-db refused the sequence.
    Now the numbering goes with the integer type, as it came with it."""
    p = models_project(tmp_path / "p", 'sa.Table("t", metadata, sa.Column("id", sa.Integer, '
                       'primary_key=True))\n', pg_url)
    models = p.root / "fidelity_models.py"
    args: tuple[str, ...]
    for args in (("new", "--autogenerate", "-m", "v1"), ("apply",)):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    models.write_text(models.read_text(encoding="utf-8").replace("sa.Integer", "sa.String(36)"),
                      encoding="utf-8")
    for args in (("new", "--autogenerate", "-m", "v2"), ("apply",), ("check",),
                 ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    assert _sequence_types(p.url) == {}


IDENTITY = """
    sa.Table("things", metadata,
             sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
             sa.Column("name", sa.String(50)))
"""


@pytest.mark.parametrize("dialect", DIALECTS)
def test_an_identity_key_adopts_where_the_database_has_no_identity_columns(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """`Identity()` on a key, on a database without identity columns, is its autoincrement
    key, as create_all() builds it; a baseline of that database cannot hold an identity, and
    `check` stopped with "the identity of column things.id changes" (exit 2, privacyIDEA's
    models on MariaDB). Now: baseline, stamp, check, all exit 0; on PostgreSQL the baseline
    reads the identity itself."""
    url = database_url(tmp_path, dialect, request)
    p = models_project(tmp_path / "adopt", IDENTITY, url)
    _create_all(p.root / "fidelity_models.py", url, dialect)
    baseline = adopted(p)
    assert ("identity" in baseline) == (dialect == "postgresql"), baseline


@pytest.mark.parametrize("dialect", DIALECTS)
def test_an_identity_written_in_the_history_is_the_models_numbered_key_where_alike(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """The other way round: a history whose key is `identity: {}` and models with a plain
    numbered key are alike where the database has no identity columns; on PostgreSQL they
    are not (an identity against a SERIAL), and `check` says so. A key the history does not
    number (`autoincrement: false`) is no identity's anywhere: still a difference."""
    p = models_project(tmp_path / "p", """
        sa.Table("things", metadata, sa.Column("id", sa.BigInteger, primary_key=True))
    """, database_url(tmp_path, dialect, request))
    column = {"name": "id", "type": "bigint", "primary_key": True, "identity": {}}
    p.write("c1", [{"create_table": {"name": "things", "columns": [column]}}])
    done = p.cli("check")
    assert done.returncode == (2 if dialect == "postgresql" else 0), (done.stdout, done.stderr)
    if dialect == "postgresql":
        assert "the identity of column things.id changes" in done.stderr, done.stderr
    # Models with the identity, a history whose key is not numbered: differs everywhere.
    p = models_project(tmp_path / "q", IDENTITY, database_url(tmp_path, dialect, request))
    unnumbered = {"name": "id", "type": "bigint", "primary_key": True, "autoincrement": False}
    p.write("c1", [{"create_table": {"name": "things", "columns": [
        unnumbered, {"name": "name", "type": "string(50)"}]}}])
    done = p.cli("check")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "things.id" in done.stderr and "Traceback" not in done.stderr, done.stderr


NOW6 = """
    from sqlalchemy.ext.compiler import compiles

    class now6(sa.sql.expression.FunctionElement):  # (Dagster's current timestamp)
        type = sa.DateTime()
        inherit_cache = True

    @compiles(now6, "mysql")
    def _now6_mysql(element, compiler, **kw):
        return "CURRENT_TIMESTAMP(6)"

    @compiles(now6)
    def _now6(element, compiler, **kw):
        return "CURRENT_TIMESTAMP"

    sa.Table("runs", metadata, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("created", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"),
                       server_default=now6()))
"""


@pytest.mark.mysql
def test_a_baseline_writes_the_models_default_where_the_database_holds_it_otherwise(
        tmp_path: Path, mysql_url: str) -> None:
    """MariaDB gives `CURRENT_TIMESTAMP` on a DATETIME(6) back as current_timestamp(6). A
    baseline wrote that, so `check` reported a change of default that is none, and SQLite
    refused the baseline (`DEFAULT (current_timestamp(6))`). Now the baseline has the models'
    CURRENT_TIMESTAMP: check exits 0 and the baseline builds on SQLite (Dagster's tables)."""
    p = models_project(tmp_path / "adopt", NOW6, mysql_url)
    _create_all(p.root / "fidelity_models.py", mysql_url, "mysql")
    baseline = adopted(p, ("apply", "--url", f"sqlite:///{tmp_path / 'elsewhere.db'}"))
    assert "default_sql: CURRENT_TIMESTAMP\n" in baseline, baseline


@pytest.mark.postgresql
def test_a_baseline_writes_the_models_interval_default(tmp_path: Path, pg_url: str) -> None:
    """PostgreSQL gives an interval's default '0' back as '00:00:00': a baseline wrote that,
    and `check` straight after adopting reported `alter_column ... (default=0)` (Prefect's
    total_run_time). Now the baseline keeps the models' '0'."""
    p = models_project(tmp_path / "adopt", """
        sa.Table("run", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("total", sa.Interval, nullable=False, server_default="0"))
    """, pg_url)
    _create_all(p.root / "fidelity_models.py", pg_url, "postgresql")
    assert "default: '0'" in adopted(p)


PREFIXED_AND_PARTIAL = """
    t = sa.Table("events", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("key", sa.Text), sa.Column("step", sa.String(100)))
    sa.Index("ix_events_key", t.c.key, mysql_length=64)
    sa.Index("ix_events_step", t.c.step, postgresql_where=t.c.step.isnot(None))
"""


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_baseline_writes_the_models_indexes_where_the_database_holds_them_alike(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """A baseline wrote each index as the database holds it: SQLite's without the models'
    `mysql_length` (a baseline that MySQL refuses: TEXT indexed whole), PostgreSQL's
    condition for every database (partial on SQLite too). `check` then found a drop and a
    create of each such index straight after adopting (Dagster's 24 indexes). Now the
    baseline writes the models' index where this database holds both alike."""
    url = database_url(tmp_path, dialect, request)
    p = models_project(tmp_path / "adopt", PREFIXED_AND_PARTIAL, url)
    _create_all(p.root / "fidelity_models.py", url, dialect)
    baseline = adopted(p)
    assert "length: 64" in baseline, baseline
    assert "where_dialects: [postgresql]" in baseline, baseline


@pytest.mark.mysql
def test_a_current_time_default_builds_at_the_columns_precision(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Dagster's timestamps: CURRENT_TIMESTAMP on a DATETIME(6) is written once, as
    `default_sql: CURRENT_TIMESTAMP`; schemaflow sent `DATETIME(6) DEFAULT CURRENT_TIMESTAMP`,
    which MySQL refuses (ERROR 1067: the precision must be the column's throughout). It now
    sends CURRENT_TIMESTAMP(6) there, as create_all() does; MariaDB holds the same."""
    p = _round_trip(tmp_path, "mysql", request, {
        "common": (NOW6, ["default_sql: CURRENT_TIMESTAMP"]), "mysql": ("", [])})
    for dialect in ("mysql", "mariadb"):
        done = p.cli("apply", "--sql", "--dialect", dialect, "--url", "")
        assert done.returncode == 0, done.stderr
        assert "created DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6)" in done.stdout, done.stdout
    held = rows(p.url, "SELECT column_default FROM information_schema.columns "
                       "WHERE table_schema = database() AND column_name = 'created'")
    assert [str(r[0]).lower() for r in held] == ["current_timestamp(6)"], held


@pytest.mark.mysql
def test_a_text_key_without_a_length_is_mariadbs_longest_prefix(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """An index on a TEXT column that names no prefix: MariaDB builds it with InnoDB's
    longest (768 characters of utf8mb4) and gives that back, and `check --against-db`
    reported the index dropped and created again for ever, on the database schemaflow built
    and on create_all()'s; a baseline of it differed from the models in `check`."""
    models = """
        t = sa.Table("steps", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("body", sa.Text),
                     sa.Column("note", sa.Text(collation="utf8mb3_general_ci")),
                     sa.Column("label", sa.String(1000)), sa.Column("tag", mysql.TINYTEXT),
                     sa.Column("data", sa.JSON))
        for name in ("body", "note", "label", "tag", "data"):
            sa.Index(f"ix_steps_{name}", t.c[name])
    """
    p = _round_trip(tmp_path, "mysql", request, {"common": (models, []), "mysql": ("", [])})
    lengths = rows(p.url, "SELECT column_name, sub_part FROM information_schema.statistics "
                          "WHERE table_schema = database() AND table_name = 'steps' "
                          "AND index_name <> 'PRIMARY' ORDER BY column_name")
    assert [(str(c), int(n)) for c, n in lengths] == [
        ("body", 768), ("data", 768), ("label", 768), ("note", 1024), ("tag", 255)], lengths
    base = models_project(tmp_path / "adopt", models, _second(request, "mysql"))
    _create_all(base.root / "fidelity_models.py", base.url, "mysql")
    assert "length" not in adopted(base)


@pytest.mark.mysql
def test_a_mariadb_baseline_writes_unique_keys_as_the_models_do(
        tmp_path: Path, mysql_url: str) -> None:
    """A unique index of the models became a unique constraint in a MariaDB baseline, which
    SQLite then built without its name (ZenML's). The baseline now writes it as the models
    do. The index InnoDB made for a foreign key is still written, named after its column,
    so that the baseline rebuilds the same names there, scoped to MySQL and MariaDB
    (test_index_names)."""
    p = models_project(tmp_path / "adopt", """
        sa.Table("masters", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("code", sa.String(20)), sa.Index("ix_code", "code", unique=True))
        sa.Table("a", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("masterid", sa.Integer, sa.ForeignKey("masters.id")))
    """, mysql_url)
    _create_all(p.root / "fidelity_models.py", mysql_url, "mysql")
    elsewhere = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    baseline = adopted(p, ("apply", "--url", elsewhere))
    created = yaml.safe_load(baseline)["operations"]
    assert [t["create_table"].get("indexes") for t in created] == [
        [{"name": "ix_code", "columns": ["code"], "unique": True}],
        [{"name": "masterid", "columns": ["masterid"], "dialects": ["mysql"]}]], baseline
    assert "unique:" not in baseline.replace("unique: true", ""), baseline
    assert rows(elsewhere, "SELECT name FROM sqlite_master WHERE type = 'index' "
                           "AND tbl_name = 'masters' AND sql IS NOT NULL") == [("ix_code",)]


@pytest.mark.postgresql
def test_a_baseline_keeps_the_databases_default_with_the_databases_type(
        tmp_path: Path, pg_url: str) -> None:
    """(From a review.) Where the database's type is not the models', the baseline keeps
    the database's type and so its default: the models' '0.00' on an integer column
    refused validate (SF120) and failed on PostgreSQL."""
    p = models_project(tmp_path / "adopt", """
        sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("flag", sa.Numeric(10, 2), server_default="0.00"))
    """, pg_url)
    run_sql(pg_url, "CREATE TABLE t (id integer PRIMARY KEY, flag integer DEFAULT 0)")
    done = p.cli("new", "--autogenerate", "--from-db", "-m", "baseline")
    assert done.returncode == 0, done.stderr
    baseline = next(p.changesets.iterdir()).read_text(encoding="utf-8")
    assert "{name: flag, type: integer, default: 0}" in baseline, baseline
    done = p.cli("validate", "--dialect", "postgresql")
    assert done.returncode == 0, done.stdout
