"""The SQL splitter against tricky inputs, per database syntax."""

from __future__ import annotations

import pytest

from schemaflow.dialects import by_name
from schemaflow.sqlsplit import SqlSyntax, split_sql

PG = by_name("postgresql").sql_syntax
MY = by_name("mysql").sql_syntax
LITE = by_name("sqlite").sql_syntax


@pytest.mark.parametrize(("syntax", "text", "expected"), [
    (SqlSyntax(), "CREATE TABLE a (x int); INSERT INTO a VALUES (1);\n-- done\n",
     ["CREATE TABLE a (x int)", "INSERT INTO a VALUES (1)"]),
    (SqlSyntax(), "SELECT 1", ["SELECT 1"]),
    (SqlSyntax(), " ;; \n-- only a comment;\n/* and; another */ ;", []),
    (SqlSyntax(), "SELECT 'a;b', 'it''s;', \"c;d\", `e;f`; SELECT 2",
     ["SELECT 'a;b', 'it''s;', \"c;d\", `e;f`", "SELECT 2"]),
    (SqlSyntax(), "SELECT 1 /* x; y */ + 1; SELECT 2 -- z;\n; SELECT 3",
     ["SELECT 1 /* x; y */ + 1", "SELECT 2 -- z;", "SELECT 3"]),
    (SqlSyntax(), "SELECT 'unterminated; SELECT 2", ["SELECT 'unterminated; SELECT 2"]),
    # PostgreSQL: dollar quoting, E'' strings, nested comments, BEGIN ATOMIC bodies.
    (PG, "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ "
         "LANGUAGE plpgsql; SELECT $$a;b$$",
     ["CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ "
      "LANGUAGE plpgsql", "SELECT $$a;b$$"]),
    (PG, "SELECT $a$ $$; $a$; SELECT a$b; SELECT $1",
     ["SELECT $a$ $$; $a$", "SELECT a$b", "SELECT $1"]),
    (PG, "SELECT E'it\\'s;'; SELECT 'c:\\'; SELECT 4",
     ["SELECT E'it\\'s;'", "SELECT 'c:\\'", "SELECT 4"]),
    (PG, "/* a /* nested; */ still; */ SELECT 1; SELECT 2",
     ["/* a /* nested; */ still; */ SELECT 1", "SELECT 2"]),
    (PG, "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; "
         "SELECT 2; END; SELECT 3",
     ["CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END",
      "SELECT 3"]),
    (PG, "BEGIN; UPDATE t SET x = 1; COMMIT",
     ["BEGIN", "UPDATE t SET x = 1", "COMMIT"]),
    # MySQL: backslash escapes, # comments, "-- " needs a space, routines, DELIMITER.
    (MY, "INSERT INTO t VALUES ('it\\'s; fine', \"a\\\";\"); SELECT 1 # c;\n; "
         "SELECT 5--1;\nSELECT 6",
     ["INSERT INTO t VALUES ('it\\'s; fine', \"a\\\";\")", "SELECT 1 # c;", "SELECT 5--1",
      "SELECT 6"]),
    (MY, "CREATE DEFINER=root@localhost PROCEDURE p() BEGIN DECLARE x INT DEFAULT 0; "
         "WHILE x < 3 DO SET x = x + 1; END WHILE; IF x > 1 THEN SELECT IF(x, 1, 2); "
         "END IF; CASE x WHEN 1 THEN SELECT 1; ELSE SELECT 2; END CASE; "
         "DROP TABLE IF EXISTS z; END; SELECT 8",
     ["CREATE DEFINER=root@localhost PROCEDURE p() BEGIN DECLARE x INT DEFAULT 0; "
      "WHILE x < 3 DO SET x = x + 1; END WHILE; IF x > 1 THEN SELECT IF(x, 1, 2); "
      "END IF; CASE x WHEN 1 THEN SELECT 1; ELSE SELECT 2; END CASE; "
      "DROP TABLE IF EXISTS z; END", "SELECT 8"]),
    (MY, "DELIMITER //\nCREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW\nBEGIN\n"
         "  SET NEW.x = 1; SET NEW.y = 2;\nEND//\nDELIMITER ;\nSELECT 7;",
     ["CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW\nBEGIN\n"
      "  SET NEW.x = 1; SET NEW.y = 2;\nEND", "SELECT 7"]),
    # SQLite: trigger bodies, CASE ... END inside them, [bracketed] names.
    (LITE, "CREATE TRIGGER IF NOT EXISTS tr AFTER INSERT ON t BEGIN UPDATE t SET x = CASE "
           "WHEN 1 THEN 2 ELSE 3 END; INSERT INTO u VALUES (1); END; SELECT [a;b] FROM t",
     ["CREATE TRIGGER IF NOT EXISTS tr AFTER INSERT ON t BEGIN UPDATE t SET x = CASE "
      "WHEN 1 THEN 2 ELSE 3 END; INSERT INTO u VALUES (1); END", "SELECT [a;b] FROM t"]),
    # Words that only look like blocks outside a routine.
    (SqlSyntax(), "CREATE TABLE event (begin int); SELECT CASE WHEN 1 THEN 2 END; SELECT 9",
     ["CREATE TABLE event (begin int)", "SELECT CASE WHEN 1 THEN 2 END", "SELECT 9"]),
])
def test_split(syntax: SqlSyntax, text: str, expected: list[str]) -> None:
    assert split_sql(text, syntax) == expected


def test_split_without_a_statement_separator_is_the_identity() -> None:
    text = "UPDATE users SET bio = '' WHERE bio IS NULL"
    for syntax in (PG, MY, LITE):
        assert split_sql(text, syntax) == [text]
