"""A deterministic workload: N changesets that look like a real project's history.

`generate(n, seed)` returns a `Workload`: a linear history of `n` changesets, each with one to
three operations drawn (with a seeded `random.Random`) from a realistic mix:

    create_table   (integer pk named pk_<t>, 2-4 typed columns, sometimes an index and an FK
                    to an earlier table)
    add_column     (nullable, so it is in place on SQLite)
    create_index
    rename_column
    alter_column   (type widening / nullable toggle: a table rebuild on SQLite, both in
                    schemaflow and in Alembic's batch mode)
    drop_column    (only nullable, un-indexed plain columns: every tool can add them back)
    insert_rows    (1-3 rows; every column given except foreign keys, which stay NULL)

Every changeset is reversible: schemaflow computes the inverse itself; the Alembic
`downgrade()` of each revision undoes the operations in reverse order. The same seed always
gives the same files, and the history of N changesets is the prefix of the one of M > N.

The workload is kept as data (`Changeset.ops`, the schemaflow operations as plain dicts, plus
the Alembic code lines of `upgrade()`/`downgrade()`) and written out by `write_schemaflow`
(YAML files + schemaflow.toml) and `alembic_env.write_project`. `expected_schema()` is the
tables/columns/indexes the whole history builds, which `run.py` checks every tool against.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# (schemaflow type, SQLAlchemy expression for Alembic); weights follow a typical app schema.
TYPES: list[tuple[str, str, int]] = [
    ("integer", "sa.Integer()", 4),
    ("bigint", "sa.BigInteger()", 1),
    ("string(50)", "sa.String(50)", 4),
    ("string(120)", "sa.String(120)", 2),
    ("text", "sa.Text()", 2),
    ("boolean", "sa.Boolean()", 2),
    ("datetime", "sa.DateTime()", 2),
    ("numeric(10,2)", "sa.Numeric(10, 2)", 1),
]
SA_TYPE = {t: sa for t, sa, _ in TYPES}
SA_TYPE["string(100)"] = "sa.String(100)"
SA_TYPE["string(240)"] = "sa.String(240)"
# alter_column type changes (widening, so the way back fits the data too)
WIDEN = {"string(50)": "string(100)", "string(120)": "string(240)", "integer": "bigint"}

# operation kind -> weight in the mix
MIX: dict[str, int] = {
    "create_table": 20,
    "add_column": 22,
    "create_index": 12,
    "rename_column": 8,
    "alter_column": 12,
    "drop_column": 8,
    "insert_rows": 18,
}


@dataclass
class Col:
    name: str
    type: str
    nullable: bool = True
    has_nulls: bool = False     # some row holds NULL here (so it can't become NOT NULL)
    fk: str | None = None       # referenced table
    pk: bool = False
    ever_not_null: bool = False  # was NOT NULL at some point (dropping it could not be undone:
    #                              the restored column is NULL in the existing rows)


@dataclass
class Tbl:
    name: str
    cols: dict[str, Col]
    indexes: dict[str, list[str]] = field(default_factory=dict)
    next_row: int = 1

    @property
    def has_rows(self) -> bool:
        return self.next_row > 1

    def indexed(self, col: str) -> bool:
        return any(col in cols for cols in self.indexes.values())

    def plain(self) -> list[Col]:
        """Data columns: not the pk, not a foreign key."""
        return [c for c in self.cols.values() if not c.pk and c.fk is None]


@dataclass
class Changeset:
    id: str
    parent: str | None
    message: str
    ops: list[dict[str, Any]]
    up: list[str]
    down: list[str]

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "_", self.message.lower()).strip("_")[:40]


@dataclass
class Workload:
    n: int
    seed: int
    changesets: list[Changeset]
    tables: dict[str, Tbl]

    def expected_schema(self) -> dict[str, dict[str, Any]]:
        """{table: {"columns": [...], "indexes": [...], "rows": n}} after the whole history."""
        return {t.name: {"columns": sorted(t.cols), "indexes": sorted(t.indexes),
                         "rows": t.next_row - 1}
                for t in self.tables.values()}


# --- generation --------------------------------------------------------------------------------


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.tables: dict[str, Tbl] = {}
        self.n_tables = 0
        self.n_cols = 0
        self.ids: set[str] = set()

    def new_id(self) -> str:
        while True:
            # first character a letter: an id never reads as a number in YAML
            cid = self.rng.choice("abcdef") + "".join(
                self.rng.choice("0123456789abcdef") for _ in range(11))
            if cid not in self.ids:
                self.ids.add(cid)
                return cid

    def col_name(self) -> str:
        self.n_cols += 1
        return f"c{self.n_cols}"

    def pick(self, candidates: Any) -> tuple[Tbl, Any] | None:
        """A random table with something `candidates(table)` offers, and one of those."""
        names = list(self.tables)
        for _ in range(8):
            t = self.tables[self.rng.choice(names)]
            found = candidates(t)
            if found:
                return t, self.rng.choice(found)
        return None

    def pick_type(self) -> str:
        return self.rng.choices([t for t, _, _ in TYPES], [w for _, _, w in TYPES])[0]

    # each op_* returns (schemaflow op, alembic upgrade lines, alembic downgrade lines, words)
    # or None when it does not apply to the current schema

    def op_create_table(self) -> tuple[dict[str, Any], list[str], list[str], str]:
        self.n_tables += 1
        name = f"t{self.n_tables:05d}"
        cols = [Col("id", "integer", nullable=False, pk=True)]
        for _ in range(self.rng.randint(2, 4)):
            ctype = self.pick_type()
            nullable = ctype == "datetime" or self.rng.random() < 0.6
            cols.append(Col(self.col_name(), ctype, nullable=nullable,
                            ever_not_null=not nullable))
        fks: list[dict[str, Any]] = []
        if self.tables and self.rng.random() < 0.35:
            ref = self.rng.choice(list(self.tables))
            fk_col = Col(f"{ref}_id", "integer", nullable=True, fk=ref)
            cols.append(fk_col)
            fks.append({"name": f"fk_{name}_{fk_col.name}_{ref}", "columns": [fk_col.name],
                        "references": {"table": ref, "columns": ["id"]}})
        indexes: dict[str, list[str]] = {}
        if self.rng.random() < 0.4:
            target = fks[0]["columns"][0] if fks else cols[1].name
            indexes[f"ix_{name}_{target}"] = [target]
        t = Tbl(name, {c.name: c for c in cols}, indexes)
        self.tables[name] = t

        sf_cols = []
        for c in cols:
            d: dict[str, Any] = {"name": c.name, "type": c.type}
            if c.pk:
                d["primary_key"] = True
            elif not c.nullable:
                d["nullable"] = False
            sf_cols.append(d)
        op: dict[str, Any] = {"name": name, "columns": sf_cols}
        if fks:
            op["foreign_keys"] = fks
        if indexes:
            op["indexes"] = [{"name": k, "columns": list(v)} for k, v in indexes.items()]

        args = [repr(name)]
        for c in cols:
            args.append(f"sa.Column({c.name!r}, {SA_TYPE[c.type]}, nullable={c.nullable})")
        args.append(f"sa.PrimaryKeyConstraint('id', name={'pk_' + name!r})")
        for fk in fks:
            args.append(f"sa.ForeignKeyConstraint({fk['columns']!r}, "
                        f"[{fk['references']['table'] + '.id'!r}], name={fk['name']!r})")
        up = ["op.create_table(" + ", ".join(args) + ")"]
        up += [f"op.create_index({k!r}, {name!r}, {v!r})" for k, v in indexes.items()]
        down = [f"op.drop_table({name!r})"]
        return {"create_table": op}, up, down, f"create table {name}"

    def op_add_column(self) -> tuple[dict[str, Any], list[str], list[str], str] | None:
        t = self.rng.choice(list(self.tables.values()))
        c = Col(self.col_name(), self.pick_type(), nullable=True, has_nulls=t.has_rows)
        t.cols[c.name] = c
        op = {"add_column": {"table": t.name, "column": {"name": c.name, "type": c.type}}}
        up = [f"op.add_column({t.name!r}, sa.Column({c.name!r}, {SA_TYPE[c.type]}, "
              f"nullable=True))"]
        down = [f"op.drop_column({t.name!r}, {c.name!r})"]
        return op, up, down, f"add {t.name}.{c.name}"

    def op_create_index(self) -> tuple[dict[str, Any], list[str], list[str], str] | None:
        picked = self.pick(lambda t: [c for c in t.cols.values()
                                      if not c.pk and not t.indexed(c.name) and c.type != "text"])
        if picked is None:
            return None
        t, c = picked
        name = f"ix_{t.name}_{c.name}"
        if name in t.indexes:
            return None
        t.indexes[name] = [c.name]
        op = {"create_index": {"name": name, "table": t.name, "columns": [c.name]}}
        up = [f"op.create_index({name!r}, {t.name!r}, [{c.name!r}])"]
        down = [f"op.drop_index({name!r}, table_name={t.name!r})"]
        return op, up, down, f"index {t.name}.{c.name}"

    def op_rename_column(self) -> tuple[dict[str, Any], list[str], list[str], str] | None:
        picked = self.pick(lambda t: t.plain())
        if picked is None:
            return None
        t, c = picked
        new = self.col_name()
        del t.cols[c.name]
        old = c.name
        c.name = new
        t.cols[new] = c
        for cols in t.indexes.values():
            cols[:] = [new if x == old else x for x in cols]
        op = {"rename_column": {"table": t.name, "name": old, "new_name": new}}
        up = [f"op.alter_column({t.name!r}, {old!r}, new_column_name={new!r})"]
        down = [f"op.alter_column({t.name!r}, {new!r}, new_column_name={old!r})"]
        return op, up, down, f"rename {t.name}.{old} to {new}"

    def op_alter_column(self) -> tuple[dict[str, Any], list[str], list[str], str] | None:
        def alterable(t: Tbl) -> list[tuple[Col, str]]:
            out = []
            for c in t.plain():
                if c.type in WIDEN:
                    out.append((c, "type"))
                if c.nullable and not c.has_nulls:
                    out.append((c, "not_null"))
                if not c.nullable:
                    out.append((c, "null"))
            return out

        picked = self.pick(alterable)
        if picked is None:
            return None
        t, (c, what) = picked
        sa_old = SA_TYPE[c.type]
        if what == "type":
            new_type = WIDEN[c.type]
            op = {"alter_column": {"table": t.name, "name": c.name, "type": new_type}}
            up_kw = f"type_={SA_TYPE[new_type]}, existing_type={sa_old}, " \
                    f"existing_nullable={c.nullable}"
            down_kw = f"type_={sa_old}, existing_type={SA_TYPE[new_type]}, " \
                      f"existing_nullable={c.nullable}"
            words = f"widen {t.name}.{c.name}"
            c.type = new_type
        else:
            nullable = what == "null"
            op = {"alter_column": {"table": t.name, "name": c.name, "nullable": nullable}}
            up_kw = f"nullable={nullable}, existing_type={sa_old}"
            down_kw = f"nullable={not nullable}, existing_type={sa_old}"
            words = f"{'allow' if nullable else 'require'} {t.name}.{c.name}"
            c.nullable = nullable
            c.ever_not_null = c.ever_not_null or not nullable
        # batch mode: what Alembic users must write for SQLite (plain ALTERs on PostgreSQL)
        up = [f"with op.batch_alter_table({t.name!r}) as batch_op:",
              f"    batch_op.alter_column({c.name!r}, {up_kw})"]
        down = [f"with op.batch_alter_table({t.name!r}) as batch_op:",
                f"    batch_op.alter_column({c.name!r}, {down_kw})"]
        return op, up, down, words

    def op_drop_column(self) -> tuple[dict[str, Any], list[str], list[str], str] | None:
        picked = self.pick(lambda t: [c for c in t.plain() if not c.ever_not_null
                                      and not t.indexed(c.name)] if len(t.cols) > 2 else [])
        if picked is None:
            return None
        t, c = picked
        del t.cols[c.name]
        op = {"drop_column": {"table": t.name, "name": c.name}}
        up = [f"op.drop_column({t.name!r}, {c.name!r})"]
        down = [f"op.add_column({t.name!r}, sa.Column({c.name!r}, {SA_TYPE[c.type]}, "
                f"nullable=True))"]
        return op, up, down, f"drop {t.name}.{c.name}"

    def value(self, c: Col, row: int) -> Any:
        if c.type in ("integer", "bigint"):
            return row * 7 + self.rng.randint(0, 6)
        if c.type.startswith("string"):
            return f"v{row}_{self.rng.randint(0, 999)}"
        if c.type == "text":
            return f"some text {row} {self.rng.randint(0, 99999)}"
        if c.type == "boolean":
            return self.rng.random() < 0.5
        if c.type == "datetime":
            return f"2024-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}T10:20:30"
        if c.type.startswith("numeric"):
            return self.rng.randint(0, 99999) / 100
        raise AssertionError(c.type)

    def op_insert_rows(self) -> tuple[dict[str, Any], list[str], list[str], str] | None:
        t = self.rng.choice(list(self.tables.values()))
        rows = []
        for _ in range(self.rng.randint(1, 3)):
            rid = t.next_row
            t.next_row += 1
            row: dict[str, Any] = {"id": rid}
            for c in t.cols.values():
                if c.pk:
                    continue
                if c.fk is not None:
                    c.has_nulls = True      # left NULL: no dependency on the parent's rows
                    continue
                row[c.name] = self.value(c, rid)
            rows.append(row)
        op = {"insert_rows": {"table": t.name, "rows": rows}}
        cols = ", ".join(f"sa.column({c.name!r}, {SA_TYPE[c.type]})"
                         for c in t.cols.values() if c.fk is None)
        py_rows = ", ".join("{" + ", ".join(f"{k!r}: {_py_value(t.cols[k], v)}"
                                            for k, v in r.items()) + "}" for r in rows)
        up = [f"op.bulk_insert(sa.table({t.name!r}, {cols}), [{py_rows}])"]
        ids = ", ".join(str(r["id"]) for r in rows)
        down = [f"op.execute('DELETE FROM {t.name} WHERE id IN ({ids})')"]
        return op, up, down, f"seed {t.name}"


def _py_value(c: Col, v: Any) -> str:
    if c.type == "datetime":
        return f"datetime.datetime.fromisoformat({v!r})"
    if c.type.startswith("numeric"):
        return f"decimal.Decimal({str(v)!r})"
    return repr(v)


def generate(n: int, seed: int = 20240601) -> Workload:
    """The first `n` changesets of the history of this seed."""
    g = _Gen(seed)
    out: list[Changeset] = []
    kinds = list(MIX)
    weights = [MIX[k] for k in kinds]
    parent: str | None = None
    for _ in range(n):
        n_ops = g.rng.choices([1, 2, 3], [70, 25, 5])[0]
        ops: list[dict[str, Any]] = []
        up: list[str] = []
        down: list[str] = []
        words: list[str] = []
        for _ in range(n_ops):
            kind = "create_table" if not g.tables else g.rng.choices(kinds, weights)[0]
            made = getattr(g, "op_" + kind)()
            if made is None:
                made = g.op_create_table()
            op, u, d, w = made
            ops.append(op)
            up += u
            down = d + down
            words.append(w)
        cid = g.new_id()
        out.append(Changeset(cid, parent, ", ".join(words), ops, up, down))
        parent = cid
    return Workload(n, seed, out, g.tables)


# --- writing the schemaflow project --------------------------------------------------------------


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return repr(v)
    s = str(v)
    if s.replace("_", "").isalnum() and not s[0].isdigit() and s.lower() not in (
            "true", "false", "null", "yes", "no", "on", "off"):
        return s
    return json.dumps(s)  # a JSON string is a YAML double-quoted scalar


def _flow(v: Any) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_flow(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_flow(x) for x in v) + "]"
    return _scalar(v)


def changeset_yaml(cs: Changeset) -> str:
    """The changeset as a hand-written-looking YAML file (block style, flow mappings)."""
    lines = [
        "schemaflow: 1",
        f"id: {cs.id}",
        f"parents: [{cs.parent}]" if cs.parent else "parents: []",
        f"message: {_scalar(cs.message)}",
        "operations:",
    ]
    for op in cs.ops:
        (kind, body), = op.items()
        lines.append(f"  - {kind}:")
        for key, value in body.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                lines.append(f"      {key}:")
                lines += [f"        - {_flow(item)}" for item in value]
            else:
                lines.append(f"      {key}: {_flow(value)}")
    return "\n".join(lines) + "\n"


def write_schemaflow(w: Workload, root: Path, url: str) -> Path:
    """A schemaflow project in `root`: schemaflow.toml (with `url`) and changesets/."""
    folder = root / "changesets"
    folder.mkdir(parents=True, exist_ok=True)
    set_schemaflow_url(root, url)
    for cs in w.changesets:
        (folder / f"{cs.id}_{cs.slug}.yaml").write_text(changeset_yaml(cs), encoding="utf-8")
    return root


def set_schemaflow_url(root: Path, url: str) -> None:
    """Point the project's schemaflow.toml at `url`."""
    (root / "schemaflow.toml").write_text(
        f'changesets = "changesets"\nurl = {json.dumps(url)}\n', encoding="utf-8")
