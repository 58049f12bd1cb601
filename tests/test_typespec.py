"""Column types as users write them: parsing, canonical dumping, round trips and error messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemaflow.typespec import (
    TypeSpec,
    TypeSyntaxError,
    dump_type,
    is_native_enum,
    parse_type,
    stored_as,
)

# (as written in a changeset, parsed TypeSpec, canonical string)
CONTRACT_TYPES = [
    ("integer", TypeSpec("integer"), "integer"),
    ("bigint", TypeSpec("bigint"), "bigint"),
    ("smallint", TypeSpec("smallint"), "smallint"),
    ("string(50)", TypeSpec("string", (50,)), "string(50)"),
    ("string", TypeSpec("string"), "string"),
    ("varchar(50)", TypeSpec("string", (50,)), "string(50)"),
    ("text", TypeSpec("text"), "text"),
    ("boolean", TypeSpec("boolean"), "boolean"),
    ("date", TypeSpec("date"), "date"),
    ("datetime", TypeSpec("datetime"), "datetime"),
    ("datetime(timezone=true)", TypeSpec("datetime", (), (("timezone", "true"),)),
     "datetime(timezone=true)"),
    ("time", TypeSpec("time"), "time"),
    ("float", TypeSpec("float"), "float"),
    ("numeric(10,2)", TypeSpec("numeric", (10, 2)), "numeric(10,2)"),
    ("numeric(10, 2)", TypeSpec("numeric", (10, 2)), "numeric(10,2)"),
    ("json", TypeSpec("json"), "json"),
    ("uuid", TypeSpec("uuid"), "uuid"),
    ("binary", TypeSpec("binary"), "binary"),
    ("enum(a,b,c)", TypeSpec("enum", ("a", "b", "c")), "enum(a,b,c)"),
    ("enum(a,b, name=x)", TypeSpec("enum", ("a", "b"), (("name", "x"),)), "enum(a,b,name=x)"),
    ("postgresql.jsonb", TypeSpec("postgresql.jsonb"), "postgresql.jsonb"),
    ("mysql.mediumtext", TypeSpec("mysql.mediumtext"), "mysql.mediumtext"),
]


@pytest.mark.parametrize(("text", "spec", "canonical"), CONTRACT_TYPES,
                         ids=[t for t, _, _ in CONTRACT_TYPES])
def test_contract_types_parse_and_dump(text: str, spec: TypeSpec, canonical: str) -> None:
    parsed = parse_type(text)
    assert parsed == spec
    assert dump_type(parsed) == canonical
    assert str(parsed) == canonical
    assert parse_type(dump_type(parsed)) == parsed


def test_varchar_is_an_alias_of_string() -> None:
    assert parse_type("varchar(80)") == parse_type("string(80)")
    assert parse_type("varchar(80)").name == "string"


def test_names_are_case_insensitive_and_whitespace_is_ignored() -> None:
    assert parse_type("String(50)") == TypeSpec("string", (50,))
    assert parse_type("  INTEGER  ") == TypeSpec("integer")
    assert parse_type("numeric( 12 ,  4 )") == TypeSpec("numeric", (12, 4))
    assert parse_type("POSTGRESQL.JSONB") == TypeSpec("postgresql.jsonb")


def test_dialect_and_kwarg_accessors() -> None:
    assert parse_type("postgresql.jsonb").dialect == "postgresql"
    assert parse_type("mysql.mediumtext").dialect == "mysql"
    assert parse_type("json").dialect is None
    enum = parse_type("enum(draft, published, name=post_status)")
    assert enum.args == ("draft", "published")
    assert enum.kwarg("name") == "post_status"
    assert enum.kwarg("missing") is None
    assert enum.kwarg("missing", "dflt") == "dflt"
    assert parse_type("datetime(timezone=true)").kwarg("timezone") == "true"


def test_enum_values_that_need_quotes_round_trip() -> None:
    spec = parse_type("enum('in review', 'a,b', '1', \"x=y\")")
    assert spec.args == ("in review", "a,b", "1", "x=y")
    assert parse_type(dump_type(spec)) == spec


def test_enum_value_with_an_apostrophe_round_trips() -> None:
    # Written with double quotes, as the grammar allows; the dump must stay parseable.
    spec = parse_type('enum("it\'s", other)')
    assert spec.args == ("it's", "other")
    assert parse_type(dump_type(spec)) == spec


def test_timezone_flag_is_normalised() -> None:
    # The check accepts any casing of true/false, so `True` must mean the same as `true`
    # (the SQLAlchemy mapping compares against the lower-case value).
    assert parse_type("datetime(timezone=True)") == parse_type("datetime(timezone=true)")
    assert parse_type("time(timezone=FALSE)") == parse_type("time(timezone=false)")


# --- errors ------------------------------------------------------------------------------------


def _error(text: str) -> str:
    with pytest.raises(TypeSyntaxError) as info:
        parse_type(text)
    return str(info.value)


@pytest.mark.parametrize(("typo", "suggestion"), [
    ("strng", "string"),
    ("integr", "integer"),
    ("boolen", "boolean"),
    ("datetme", "datetime"),
    ("numerc", "numeric"),
])
def test_unknown_type_suggests_the_closest(typo: str, suggestion: str) -> None:
    assert _error(typo) == f"unknown type '{typo}' — did you mean '{suggestion}'?"


def test_unknown_type_without_a_close_match_has_no_suggestion() -> None:
    msg = _error("zzzzqqq")
    assert msg.startswith("unknown type 'zzzzqqq'")
    assert "did you mean" not in msg


@pytest.mark.parametrize(("text", "fragment"), [
    ("integer(5)", "integer takes no arguments"),
    ("boolean(1)", "boolean takes no arguments"),
    ("string(10,20)", "string takes at most 1 argument"),
    ("numeric(1,2,3)", "numeric takes at most 2 arguments"),
    ("string(abc)", "string takes whole-number arguments"),
    ("string(-5)", "string takes whole-number arguments"),
    ("datetime(timezone=maybe)", "timezone must be true or false"),
    ("string(collation=x)", "string has no option 'collation'"),
    ("enum(name=x, a)", "positional argument after keyword"),
    ("numeric(10,,2)", "empty argument"),
    ("sql()", "sql takes the type as SQL"),
    ("sql(a, b)", "sql takes the type as SQL"),
    ("binary(fixed=true)", "a fixed-length binary has a length"),
    ("binary(16, fixed=yes)", "fixed must be true or false"),
    ("varbinary", "varbinary takes at most 1 argument"),
])
def test_wrong_arguments(text: str, fragment: str) -> None:
    msg = _error(text)
    assert fragment in msg
    assert text in msg


@pytest.mark.parametrize("text", ["enum", "enum()", "enum(name=x)"])
def test_enum_without_values(text: str) -> None:
    assert "enum needs at least one value" in _error(text)


def test_enum_with_a_repeated_value() -> None:
    assert "enum has a repeated value" in _error("enum(a,b,a)")


def test_a_non_native_enum_is_the_varchar_it_is_stored_as() -> None:
    spec = parse_type("enum(new, done, native=False)")
    assert dump_type(spec) == "enum(new,done,native=false)"
    assert (is_native_enum(spec), stored_as(spec)) == (False, TypeSpec("string", (4,)))
    sized = parse_type("enum(new,done,native=false,length=20)")
    assert stored_as(sized) == TypeSpec("string", (20,))
    native = parse_type("enum(new,done,name=state)")
    assert (is_native_enum(native), stored_as(native)) == (True, native)


@pytest.mark.parametrize(("text", "fragment"), [
    ("enum(a,bb,native=false,length=1)", "length must be a whole number that holds the "
                                         "longest value (2)"),
    ("enum(a,native=false,name=x)", "a non-native enum (native=false) has no type name"),
    ("enum(a,length=3)", "length is for a non-native enum"),
    ("enum(a,native=maybe)", "native must be true or false"),
])
def test_wrong_enum_options(text: str, fragment: str) -> None:
    assert fragment in _error(text)


def test_bad_dialect_prefix() -> None:
    msg = _error("oracle.varchar2")
    assert "unknown dialect 'oracle'" in msg
    assert "postgresql.NAME" in msg


def test_unterminated_quote() -> None:
    assert "unterminated quote" in _error("enum('a, b)")


@pytest.mark.parametrize("text", ["", "string(", "1abc", "string(5) x", "a.b.c"])
def test_not_a_type(text: str) -> None:
    assert "is not a type" in _error(text)


# --- property ----------------------------------------------------------------------------------

_ident = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
_size = st.integers(min_value=0, max_value=100_000)
# Enum labels: anything printable but the single quote (a label may hold one kind of quote).
_label = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="'\n\r",
                           exclude_categories=("Cc", "Cs", "Zl", "Zp")),
    max_size=12,
)


def _plain(name: str) -> st.SearchStrategy[TypeSpec]:
    return st.just(TypeSpec(name))


def _sized(name: str, max_args: int) -> st.SearchStrategy[TypeSpec]:
    return st.lists(_size, max_size=max_args).map(lambda a: TypeSpec(name, tuple(a)))


_tz = st.one_of(st.just(()), st.sampled_from(["true", "false"]).map(lambda v: (("timezone", v),)))


def _temporal(name: str) -> st.SearchStrategy[TypeSpec]:
    return st.builds(lambda a, k: TypeSpec(name, tuple(a), k),
                     st.lists(st.integers(0, 6), max_size=1), _tz)


_enum = st.builds(
    lambda values, name: TypeSpec("enum", tuple(values), (("name", name),) if name else ()),
    st.lists(st.one_of(_label, st.integers(0, 999)), min_size=1, max_size=5,
             unique_by=lambda v: (type(v), v)),
    st.one_of(st.none(), _ident),
)
_dialect = st.builds(
    lambda prefix, name, args: TypeSpec(f"{prefix}.{name}", tuple(args)),
    st.sampled_from(["postgresql", "mysql", "sqlite"]), _ident, st.lists(_size, max_size=2),
)

TYPESPECS = st.one_of(
    *(_plain(n) for n in ("integer", "bigint", "smallint", "boolean", "date", "json", "uuid")),
    *(_sized(n, 1) for n in ("string", "text", "float", "binary")),
    _sized("numeric", 2),
    _temporal("datetime"),
    _temporal("time"),
    _enum,
    _dialect,
)


@given(TYPESPECS)
def test_parse_of_dump_is_identity(spec: TypeSpec) -> None:
    text = dump_type(spec)
    assert parse_type(text) == spec
    assert dump_type(parse_type(text)) == text


@pytest.mark.parametrize(("text", "canonical"), [
    ("sql(VECTOR(1536))", "sql(VECTOR(1536))"),
    ("SQL( geometry(Point, 4326) )", "sql(geometry(Point, 4326))"),
    ("sql('a, b')", "sql('a, b')"),
    ("binary(16, fixed=TRUE)", "binary(16,fixed=true)"),
    ("binary(16, fixed=false)", "binary(16)"),
    ("varbinary(8)", "varbinary(8)"),
])
def test_sql_and_sized_binary_types_have_one_spelling(text: str, canonical: str) -> None:
    spec = parse_type(text)
    assert dump_type(spec) == canonical
    assert parse_type(canonical) == spec
