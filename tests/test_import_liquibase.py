"""`schemaflow import liquibase CHANGELOG` and `stamp --from-liquibase`, on a changelog written
here (XML including a YAML file and a formatted-SQL file) and a database left as Liquibase
leaves one (the changeSets run, and DATABASECHANGELOG with Liquibase's columns and rows).
Liquibase itself (Java) is not installed: the schema its changeSets build is given as the
DDL it runs, and compared with what the imported changesets build."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from conftest import Project, make_project, reflect, rows

from schemaflow.importers.liquibase import liquibase_id
from schemaflow.importers.liquibase_columns import type_of

ROOT = """<?xml version="1.0" encoding="UTF-8"?>
<databaseChangeLog xmlns="http://www.liquibase.org/xml/ns/dbchangelog"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="http://www.liquibase.org/xml/ns/dbchangelog
        http://www.liquibase.org/xml/ns/dbchangelog/dbchangelog-4.20.xsd">
  <changeSet id="1" author="alice">
    <comment>users and orders</comment>
    <createTable tableName="users">
      <column name="id" type="INT" autoIncrement="true">
        <constraints primaryKey="true" nullable="false"/>
      </column>
      <column name="name" type="VARCHAR(100)"><constraints nullable="false"/></column>
      <column name="email" type="VARCHAR(200)"/>
      <column name="status" type="VARCHAR(20)" defaultValue="new"/>
    </createTable>
    <createTable tableName="orders">
      <column name="id" type="INT"><constraints primaryKey="true"/></column>
      <column name="user_id" type="INT"/>
      <column name="total" type="DECIMAL(10, 2)"/>
      <column name="note" type="VARCHAR(100)"/>
    </createTable>
    <rollback>
      <dropTable tableName="orders"/>
      <dropTable tableName="users"/>
    </rollback>
  </changeSet>
  <changeSet id="2" author="alice">
    <addForeignKeyConstraint constraintName="fk_orders_user" baseTableName="orders"
        baseColumnNames="user_id" referencedTableName="users" referencedColumnNames="id"
        onDelete="CASCADE"/>
    <createIndex indexName="ix_orders_user" tableName="orders">
      <column name="user_id"/>
    </createIndex>
    <addUniqueConstraint constraintName="uq_users_email" tableName="users"
        columnNames="email"/>
  </changeSet>
  <include file="changes/more.yaml" relativeToChangelogFile="true"/>
  <include file="changes/data.sql" relativeToChangelogFile="true"/>
  <changeSet id="seq" author="carol">
    <createSequence sequenceName="order_numbers"/>
  </changeSet>
</databaseChangeLog>
"""

MORE = """databaseChangeLog:
  - changeSet:
      id: 3
      author: bob
      changes:
        - addColumn:
            tableName: users
            columns:
              - column: {name: age, type: int}
        - renameColumn:
            tableName: orders
            oldColumnName: note
            newColumnName: remark
            columnDataType: varchar(100)
        - modifyDataType: {tableName: users, columnName: status, newDataType: varchar(40)}
        - addNotNullConstraint: {tableName: orders, columnName: total,
                                 columnDataType: "decimal(10,2)"}
        - addDefaultValue: {tableName: orders, columnName: total, defaultValueNumeric: 0}
  - changeSet:
      id: 4
      author: bob
      changes:
        - createTable:
            tableName: scratch
            columns:
              - column: {name: id, type: int}
              - column: {name: code, type: varchar(10), defaultValue: x,
                         constraints: {nullable: false}}
              - column: {name: user_id, type: int}
        - addPrimaryKey: {tableName: scratch, columnNames: id, constraintName: pk_scratch}
        - addUniqueConstraint: {tableName: scratch, columnNames: code,
                                constraintName: uq_scratch_code}
        - createIndex:
            tableName: scratch
            indexName: ix_scratch_user
            columns: [{column: {name: user_id}}]
        - addForeignKeyConstraint: {constraintName: fk_scratch_user, baseTableName: scratch,
                                    baseColumnNames: user_id, referencedTableName: users,
                                    referencedColumnNames: id}
        - insert:
            tableName: scratch
            columns:
              - column: {name: id, valueNumeric: 1}
              - column: {name: code, value: first}
        - loadData:
            tableName: scratch
            file: data/scratch.csv
            relativeToChangelogFile: true
            columns: [{column: {name: id, type: NUMERIC}}, {column: {header: extra, type: skip}}]
  - changeSet:
      id: 5
      author: bob
      changes:
        - dropForeignKeyConstraint: {baseTableName: scratch, constraintName: fk_scratch_user}
        - dropIndex: {tableName: scratch, indexName: ix_scratch_user}
        - dropUniqueConstraint: {tableName: scratch, constraintName: uq_scratch_code}
        - dropNotNullConstraint: {tableName: scratch, columnName: code,
                                  columnDataType: varchar(10)}
        - dropDefaultValue: {tableName: scratch, columnName: code}
        - dropColumn: {tableName: scratch, columnName: user_id}
        - renameTable: {oldTableName: scratch, newTableName: archive}
  - changeSet:
      id: 6
      author: bob
      changes:
        - createTable:
            tableName: gone
            columns: [{column: {name: id, type: int}}]
        - dropTable: {tableName: gone}
        - sql:
            sql: CREATE VIEW user_names AS SELECT name FROM users
        - sqlFile: {path: sql/age_index.sql, relativeToChangelogFile: true}
      rollback:
        - sql:
            sql: DROP VIEW user_names
        - sqlFile: {path: changes/sql/drop_age_index.sql}
"""

DATA = """--liquibase formatted sql

--changeset bob:sql-1
INSERT INTO users (name, email) VALUES ('ann', 'ann@example.com');
INSERT INTO users (name, email) VALUES ('semi;colon', NULL);
--rollback DELETE FROM users WHERE name IN ('ann', 'semi;colon');

--changeset bob:sql-pg dbms:postgresql
CREATE INDEX ix_users_lower_name ON users (lower(name));
--rollback DROP INDEX ix_users_lower_name;

--changeset bob:sql-ctx context:test
INSERT INTO users (name) VALUES ('test user');
"""

# What Liquibase's changeSets build, as DDL: the imported changesets must build the same.
EXPECTED = """
CREATE TABLE users (id {serial} NOT NULL, name VARCHAR(100) NOT NULL, email VARCHAR(200),
    status VARCHAR(40) DEFAULT 'new', age INTEGER, CONSTRAINT pk_users PRIMARY KEY (id),
    CONSTRAINT uq_users_email UNIQUE (email));
CREATE TABLE orders (id INTEGER NOT NULL, user_id INTEGER, total NUMERIC(10, 2) NOT NULL
    DEFAULT 0, remark VARCHAR(100), CONSTRAINT pk_orders PRIMARY KEY (id),
    CONSTRAINT fk_orders_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE);
CREATE INDEX ix_orders_user ON orders (user_id);
CREATE TABLE archive (id INTEGER NOT NULL, code VARCHAR(10), CONSTRAINT pk_scratch
    PRIMARY KEY (id));
CREATE VIEW user_names AS SELECT name FROM users;
CREATE INDEX ix_users_age ON users (age)
"""

DATABASECHANGELOG = """CREATE TABLE DATABASECHANGELOG (ID VARCHAR(255) NOT NULL,
    AUTHOR VARCHAR(255) NOT NULL, FILENAME VARCHAR(255) NOT NULL,
    DATEEXECUTED TIMESTAMP NOT NULL, ORDEREXECUTED INT NOT NULL, EXECTYPE VARCHAR(10) NOT NULL,
    MD5SUM VARCHAR(35), DESCRIPTION VARCHAR(255), COMMENTS VARCHAR(255), TAG VARCHAR(255),
    LIQUIBASE VARCHAR(20), CONTEXTS VARCHAR(255), LABELS VARCHAR(255),
    DEPLOYMENT_ID VARCHAR(10))"""
LOCK = """CREATE TABLE DATABASECHANGELOGLOCK (ID INT NOT NULL, LOCKED BOOLEAN NOT NULL,
    LOCKGRANTED TIMESTAMP, LOCKEDBY VARCHAR(255), CONSTRAINT PK_DATABASECHANGELOGLOCK
    PRIMARY KEY (ID))"""
# (id, author, file as Liquibase records it when run with --changelog-file=db/changelog.xml)
RAN = [("1", "alice", "db/changelog.xml"), ("2", "alice", "db/changelog.xml"),
       ("3", "bob", "db/changes/more.yaml"), ("4", "bob", "db/changes/more.yaml"),
       ("5", "bob", "db/changes/more.yaml"), ("6", "bob", "db/changes/more.yaml"),
       ("sql-1", "bob", "db/changes/data.sql"), ("sql-ctx", "bob", "db/changes/data.sql"),
       ("seq", "carol", "db/changelog.xml")]


@pytest.fixture
def changelog(tmp_path: Path) -> Path:
    root = tmp_path / "db"
    (root / "changes").mkdir(parents=True)
    (root / "changes" / "more.yaml").write_text(MORE)
    (root / "changes" / "data.sql").write_text(DATA)
    (root / "changes" / "sql").mkdir()
    (root / "changes" / "data").mkdir()
    (root / "changes" / "data" / "scratch.csv").write_text(
        'id,code,user_id,extra\n# a comment line\n2,"sec,ond",NULL,ignored\n')
    (root / "changes" / "sql" / "age_index.sql").write_text(
        "-- read by sqlFile\nCREATE INDEX ix_users_age ON users (age);\n")
    (root / "changes" / "sql" / "drop_age_index.sql").write_text("DROP INDEX ix_users_age;\n")
    (root / "changelog.xml").write_text(ROOT)
    return root / "changelog.xml"


def _docs(p: Project) -> dict[str, dict[str, Any]]:
    out = {}
    for f in sorted(p.changesets.iterdir()):
        doc = yaml.safe_load(f.read_text())
        out[doc["id"]] = doc
    return out


def test_import_liquibase_changelog(project: Project, changelog: Path) -> None:
    done = project.cli("import", "liquibase", str(changelog))
    assert done.returncode == 1, done.stderr
    assert "imported 10 Liquibase changeSets" in done.stderr
    # The untranslatable parts, each naming its changeSet, and nothing else.
    assert "2 parts need a hand" in done.stderr, done.stderr
    assert "sql-ctx by bob (changes/data.sql): the changeSet runs only in context" in done.stderr
    assert "seq by carol (changelog.xml): change type createSequence" in done.stderr
    docs = _docs(project)
    ids = [liquibase_id("1", "alice", "changelog.xml"), liquibase_id("2", "alice", "changelog.xml")]
    ids += [liquibase_id(str(n), "bob", "changes/more.yaml") for n in range(3, 7)]
    ids += [liquibase_id(i, "bob", "changes/data.sql") for i in ("sql-1", "sql-pg", "sql-ctx")]
    ids.append(liquibase_id("seq", "carol", "changelog.xml"))
    assert ids[0].startswith("lb_1_") and len(set(ids)) == 10
    assert set(docs) == set(ids)
    assert [docs[i]["parents"] for i in ids] == [[]] + [[i] for i in ids[:-1]]
    one, six = docs[ids[0]], docs[ids[5]]
    assert one["message"] == "users and orders" and one["author"] == "alice"
    assert "rollback" not in one  # the rollback block is the automatic inverse
    assert six["operations"][-1] == {"sql": {"up": "-- read by sqlFile\nCREATE INDEX "
                                             "ix_users_age ON users (age)"}}
    assert six["rollback"] == [{"sql": {"up": "DROP VIEW user_names"}},
                               {"sql": {"up": "DROP INDEX ix_users_age"}}]
    assert docs[ids[3]]["operations"][-1] == {"insert_rows": {"table": "scratch", "rows": [
        {"id": 2, "code": "sec,ond", "user_id": None}]}}
    assert [next(iter(op)) for op in docs[ids[4]]["operations"]] == [
        "drop_constraint", "drop_index", "drop_constraint", "alter_column", "alter_column",
        "drop_column", "rename_table"]
    pg_only = docs[ids[7]]["operations"][0]["sql"]
    assert pg_only["dialects"] == ["postgresql"]
    todo = docs[ids[8]]["operations"][0]["sql"]["up"]
    assert "TODO(schemaflow import)" in todo[0] and "sql-ctx" in todo[0]
    assert "TODO(schemaflow import)" in docs[ids[9]]["operations"][0]["sql"]["up"][0]
    valid = project.cli("validate")
    assert valid.returncode == 0, valid.stdout + valid.stderr


def _expected(url: str, reset: bool) -> dict[str, object]:
    """The schema EXPECTED builds at `url` (emptied first when `reset`)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        if reset:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        serial = "SERIAL" if reset else "INTEGER"  # autoIncrement="true"
        for statement in EXPECTED.format(serial=serial).split(";"):
            conn.exec_driver_sql(statement)
    engine.dispose()
    return reflect(url)


@pytest.mark.parametrize("server", ["sqlite", pytest.param("postgresql",
                                                           marks=pytest.mark.postgresql)])
def test_apply_builds_liquibase_schema(request: pytest.FixtureRequest, tmp_path: Path,
                                       changelog: Path, server: str) -> None:
    sqlite = server == "sqlite"
    url = f"sqlite:///{tmp_path / 'app.db'}" if sqlite else request.getfixturevalue("pg_url")
    p = make_project(tmp_path / "proj", url)
    assert p.cli("import", "liquibase", str(changelog)).returncode == 1
    assert p.cli("apply").returncode == 1  # (its notes: SF016)
    assert len(p.accept_import_notes()) == 2
    applied = p.cli("apply")
    assert applied.returncode == 0, applied.stderr
    assert rows(url, "SELECT name FROM users ORDER BY id") == [
        ("ann",), ("semi;colon",), ("test user",)]
    assert rows(url, "SELECT id, code FROM archive ORDER BY id") == [(1, "first"),
                                                                     (2, "sec,ond")]
    assert rows(url, "SELECT count(*) FROM user_names") == [(3,)]
    if not sqlite:  # the dbms: postgresql changeSet ran here only
        assert rows(url, "SELECT count(*) FROM pg_indexes WHERE indexname = "
                         "'ix_users_lower_name'") == [(1,)]
    built = reflect(url)
    if not sqlite:
        indexes = built["users"]["indexes"]
        built["users"]["indexes"] = [i for i in indexes if i[0] != "ix_users_lower_name"]
    # Rolling back stops at the changeSet Liquibase could not roll back either (a `sql`
    # without a rollback block), before doing anything.
    back = p.cli("rollback", "base")
    assert back.returncode == 2, back.stderr
    assert liquibase_id("sql-ctx", "bob", "changes/data.sql") in back.stderr, back.stderr
    assert reflect(url) == built or not sqlite
    expected = _expected(f"sqlite:///{tmp_path / 'expected.db'}" if sqlite else url,
                         reset=not sqlite)
    assert built == expected


def _liquibase_migrated(url: str, p: Project,
                        ran: list[tuple[str, str, str, str]] | None = None,
                        target: str | None = None) -> None:
    """The database as Liquibase leaves it: its changeSets run (here by the imported
    changesets, up to `target`), DATABASECHANGELOG and its lock table with the rows `ran`
    (id, author, file, exectype), and no schemaflow version table."""
    assert p.cli("apply", *([target] if target else [])).returncode == 0
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE schemaflow_version")
        conn.exec_driver_sql(DATABASECHANGELOG)
        conn.exec_driver_sql(LOCK)
        conn.exec_driver_sql("INSERT INTO DATABASECHANGELOGLOCK VALUES (1, FALSE, NULL, NULL)")
        for order, (cs_id, author, file, kind) in enumerate(
                ran or [(*r, "EXECUTED") for r in RAN], 1):
            conn.execute(sa.text(
                "INSERT INTO DATABASECHANGELOG (ID, AUTHOR, FILENAME, DATEEXECUTED, "
                "ORDEREXECUTED, EXECTYPE, MD5SUM, DESCRIPTION, LIQUIBASE, DEPLOYMENT_ID) "
                "VALUES (:i, :a, :f, CURRENT_TIMESTAMP, :o, :t, '9:0123', 'sql', '4.20.0', "
                "'0000000001')"), {"i": cs_id, "a": author, "f": file, "o": order,
                                   "t": kind})
    engine.dispose()


@pytest.mark.parametrize("server", ["sqlite", pytest.param("pg_url",
                                                           marks=pytest.mark.postgresql),
                                    pytest.param("mysql_url", marks=pytest.mark.mysql)])
def test_stamp_from_liquibase(request: pytest.FixtureRequest, tmp_path: Path,
                              changelog: Path, server: str) -> None:
    """On MariaDB, DATABASECHANGELOG keeps its upper-case name."""
    url = (f"sqlite:///{tmp_path / 'app.db'}" if server == "sqlite"
           else request.getfixturevalue(server))
    p = make_project(tmp_path / "proj", url)
    assert p.cli("import", "liquibase", str(changelog)).returncode == 1
    p.accept_import_notes()
    _liquibase_migrated(url, p)
    refused = p.cli("apply")
    assert refused.returncode == 2 and "stamp --from-liquibase" in refused.stderr
    assert "migrated by liquibase" in refused.stderr
    stamped = p.cli("stamp", "--from-liquibase")
    assert stamped.returncode == 0, stamped.stderr
    status = yaml.safe_load(p.cli("status", "--format", "json").stdout)
    assert status["pending"] == []
    # The next changeset applies normally.
    head = liquibase_id("seq", "carol", "changelog.xml")
    p.write("next_one", [{"add_column": {"table": "users", "column": {
        "name": "nickname", "type": "string(20)"}}}], parents=[head])
    applied = p.cli("apply")
    assert applied.returncode == 0, applied.stderr
    assert "nickname" in reflect(url)["users"]["columns"]
    assert rows(url, "SELECT count(*) FROM DATABASECHANGELOG") == [(len(RAN),)]


def test_json_changelog_include_all(project: Project, tmp_path: Path) -> None:
    """A JSON root changelog whose includeAll takes a folder's changelogs in path order;
    logicalFilePath replaces the file in the identity."""
    root = tmp_path / "lb"
    (root / "all" / "b").mkdir(parents=True)
    (root / "master.json").write_text(json.dumps({"databaseChangeLog": [
        {"includeAll": {"path": "all/", "relativeToChangelogFile": True}},
        {"changeSet": {"id": "last", "author": "x", "runOnChange": True,
                       "changes": [{"dropColumn": {"tableName": "t", "columnName": "c"}}]}}]}))
    (root / "all" / "a.yaml").write_text(
        "databaseChangeLog:\n  - changeSet:\n      id: t\n      author: x\n"
        "      logicalFilePath: shared/t.yaml\n      changes:\n        - createTable:\n"
        "            tableName: t\n            columns:\n              - column: {name: id, "
        "type: bigint, autoIncrement: true, constraints: {primaryKey: true}}\n")
    (root / "all" / "b" / "c.json").write_text(json.dumps({"databaseChangeLog": [
        {"changeSet": {"id": "c", "author": "x", "changes": [{"addColumn": {
            "tableName": "t", "columns": [{"column": {
                "name": "c", "type": "timestamp", "defaultValueComputed": "CURRENT_TIMESTAMP",
                "constraints": {"nullable": False}}}]}}]}}]}))
    (root / "all" / "notes.txt").write_text("not a changelog")
    done = project.cli("import", "liquibase", str(root / "master.json"))
    assert done.returncode == 1, done.stderr
    assert "last by x (master.json): the changeSet runs again when it changes" in done.stderr
    docs = _docs(project)
    t, c, last = (liquibase_id("t", "x", "shared/t.yaml"), liquibase_id("c", "x", "all/b/c.json"),
                  liquibase_id("last", "x", "master.json"))
    assert [docs[i]["parents"] for i in (t, c, last)] == [[], [t], [c]]
    assert docs[c]["operations"] == [{"add_column": {"table": "t", "column": {
        "name": "c", "type": "datetime", "nullable": False,
        "default_sql": "CURRENT_TIMESTAMP"}}}]
    assert docs[last]["operations"][1] == {"drop_column": {"table": "t", "name": "c"}}
    assert project.cli("validate").returncode == 0


def test_stamp_from_liquibase_part_way(tmp_path: Path, changelog: Path) -> None:
    """A database Liquibase took to changeSet 4 (5 failed): stamp, then apply the rest."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    p = make_project(tmp_path / "proj", url)
    assert p.cli("import", "liquibase", str(changelog)).returncode == 1
    p.accept_import_notes()
    four = liquibase_id("4", "bob", "changes/more.yaml")
    ran = [(i, a, f"classpath:{f}", "EXECUTED") for i, a, f in RAN[:4]]
    _liquibase_migrated(url, p, [*ran, ("5", "bob", "db/changes/more.yaml", "FAILED")], four)
    assert p.cli("stamp", "--from-liquibase").returncode == 0
    pending = yaml.safe_load(p.cli("status", "--format", "json").stdout)["pending"]
    assert pending[0]["id"] == liquibase_id("5", "bob", "changes/more.yaml")
    assert len(pending) == 6
    applied = p.cli("apply")
    assert applied.returncode == 0, applied.stderr
    assert "archive" in reflect(url) and "scratch" not in reflect(url)


def test_stamp_unknown_changeset(tmp_path: Path, changelog: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    p = make_project(tmp_path / "proj", url)
    assert p.cli("import", "liquibase", str(changelog)).returncode == 1
    p.accept_import_notes()
    _liquibase_migrated(url, p, [("1", "alice", "db/changelog.xml", "EXECUTED"),
                                 ("99", "zed", "db/changelog.xml", "EXECUTED")])
    done = p.cli("stamp", "--from-liquibase")
    assert done.returncode == 2 and "lists db/changelog.xml::99::zed" in done.stderr, done.stderr


def test_untranslatable_parts_are_listed(project: Project, tmp_path: Path) -> None:
    path = tmp_path / "changelog.yaml"
    path.write_text("""databaseChangeLog:
  - property: {name: tbl, value: things}
  - changeSet:
      id: a
      author: x
      changes:
        - createTable:
            tableName: ${tbl}
            columns: [{column: {name: id, type: int}}]
  - changeSet:
      id: b
      author: x
      preConditions: [{tableExists: {tableName: things}}]
      changes:
        - addColumn:
            tableName: things
            columns: [{column: {name: n, type: int, afterColumn: id}}]
        - createIndex: {tableName: things, indexName: ix_n, where: n > 0,
                        columns: [{column: {name: n}}]}
        - createView: {viewName: v, selectQuery: select 1}
""")
    done = project.cli("import", "liquibase", str(path))
    assert done.returncode == 1, done.stderr
    lines = [line.strip() for line in done.stderr.splitlines()[2:]]
    assert lines == [
        "a by x (changelog.yaml): it uses changelog properties (${...}), which the import "
        "does not substitute: the text is kept as written",
        "b by x (changelog.yaml): the changeSet has preconditions (preConditions: "
        "[{'tableExists': {'tableName': 'things'}}]); schemaflow runs each changeset once, "
        "everywhere",
        "b by x (changelog.yaml): column things.n has attributes schemaflow cannot express: "
        "afterColumn",
        "b by x (changelog.yaml): createIndex has attributes or elements schemaflow cannot "
        "express: where",
        "b by x (changelog.yaml): change type createView has no schemaflow translation",
        "property (changelog.yaml): changelog-level property: not imported; check it by hand",
        "apply and rollback refuse to run a changeset that still holds a TODO note (SF016): "
        "translate each, or delete it where nothing needs doing",
    ], done.stderr
    assert "5 parts need a hand" not in done.stderr and "6 parts need a hand" in done.stderr


def test_include_from_the_search_path(project: Project, tmp_path: Path) -> None:
    """An include written from the classpath root, above the root changelog's folder, is
    found there and keeps the path it was given as its file (Liquibase records it so)."""
    resources = tmp_path / "src" / "main" / "resources"
    (resources / "db" / "changelog").mkdir(parents=True)
    (resources / "db" / "shared").mkdir()
    (resources / "db" / "changelog" / "master.yaml").write_text(
        "databaseChangeLog:\n  - include: {file: classpath:db/shared/common.yaml}\n")
    (resources / "db" / "shared" / "common.yaml").write_text(
        "databaseChangeLog:\n  - include: {file: more.sql, relativeToChangelogFile: true}\n")
    (resources / "db" / "shared" / "more.sql").write_text(
        "--liquibase formatted sql\n--changeset a:1\nCREATE TABLE t (id int);\n"
        "--rollback DROP TABLE t;\n")
    done = project.cli("import", "liquibase", str(resources / "db/changelog/master.yaml"))
    assert done.returncode == 0, done.stderr
    assert list(_docs(project)) == [liquibase_id("1", "a", "db/shared/more.sql")]


@pytest.mark.parametrize(("text", "spec"), [
    ("VARCHAR(100)", "string(100)"), ("DECIMAL(10, 2)", "numeric(10,2)"), ("INT(11)", "integer"),
    ("java.sql.Types.BIGINT", "bigint"), ("CLOB", "text"), ("TIMESTAMP", "datetime"),
    ("TIMESTAMP WITH TIME ZONE", "datetime(timezone=true)"), ("timestamptz",
                                                              "datetime(timezone=true)"),
    ("timestamp without time zone", "datetime"), ("BOOLEAN", "boolean")])
def test_liquibase_types(text: str, spec: str) -> None:
    assert str(type_of(text)) == spec


BAD = [
    ("missing.xml", None, "no such changelog file"),
    ("bad.xml", "<databaseChangeLog><changeSet id='1' author='a'>", "XML syntax error"),
    ("dtd.xml", '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]>'
                "<databaseChangeLog>&e;</databaseChangeLog>", "DTD or entities"),
    ("other.xml", "<project/>", "the root element is <project>"),
    ("bad.yaml", "databaseChangeLog:\n  - changeSet: [1\n", "YAML syntax error"),
    ("noid.yaml", "databaseChangeLog:\n  - changeSet: {author: a, changes: []}\n",
     "lacks its id or author"),
    ("inc.yaml", "databaseChangeLog:\n  - include: {file: nowhere.yaml}\n",
     "included nowhere.yaml does not exist"),
    ("loop.yaml", "databaseChangeLog:\n  - include: {file: loop.yaml}\n",
     "the changelog includes itself"),
    ("plain.sql", "CREATE TABLE t (id int);\n", "not a formatted SQL changelog"),
    ("bad.json", '{"databaseChangeLog": [{"changeSet": {"id": 1}', "JSON syntax error"),
]


@pytest.mark.parametrize(("name", "text", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_changelog(project: Project, tmp_path: Path, name: str, text: str | None,
                       message: str) -> None:
    path = tmp_path / "in" / name
    path.parent.mkdir(exist_ok=True)
    if text is not None:
        path.write_text(text)
    done = project.cli("import", "liquibase", str(path))
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and name in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not any(project.changesets.iterdir()) if project.changesets.exists() else True
