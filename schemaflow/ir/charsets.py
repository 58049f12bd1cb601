"""MySQL's and MariaDB's character sets and collations by name, as a table's default
(`create_table`'s `mysql_charset` and `mysql_collate`) names them: what the format checks,
and the one spelling each is compared in."""

from __future__ import annotations

from .parts import IRError

# The character sets MySQL (5.7, 8) and MariaDB build; every collation of one is named after
# it (`latin1_swedish_ci`), `binary` is both.
CHARSETS = frozenset((
    "armscii8", "ascii", "big5", "binary", "cp1250", "cp1251", "cp1256", "cp1257", "cp850",
    "cp852", "cp866", "cp932", "dec8", "eucjpms", "euckr", "gb18030", "gb2312", "gbk",
    "geostd8", "greek", "hebrew", "hp8", "keybcs2", "koi8r", "koi8u", "latin1", "latin2",
    "latin5", "latin7", "macce", "macroman", "sjis", "swe7", "tis620", "ucs2", "ujis",
    "utf16", "utf16le", "utf32", "utf8", "utf8mb3", "utf8mb4"))


def normal_charset(name: str) -> str:
    """A character set's name as the server gives it back: lower case, `utf8` as the
    `utf8mb3` it is (MySQL 8.0.30 and MariaDB 10.6 on say so)."""
    name = name.lower()
    return "utf8mb3" if name == "utf8" else name


def normal_collation(name: str) -> str:
    """A collation's name as the server gives it back (`utf8_bin` is `utf8mb3_bin`)."""
    name = name.lower()
    return "utf8mb3" + name[4:] if name.startswith("utf8_") else name


def charset_of(collation: str) -> str | None:
    """The character set a collation belongs to, by its name; None where its name does not
    say (MariaDB's `uca1400_ai_ci`, which serves several)."""
    name = normal_collation(collation)
    if name == "binary":
        return name
    head = name.split("_", 1)[0]
    return head if head in CHARSETS else None


def full_collation(collate: str, charset: str | None) -> str:
    """A collation's full name, as the server gives it back: one that names no character set
    (MariaDB's `uca1400_ai_ci`) is that of `charset`, where given."""
    name = normal_collation(collate)
    if charset and charset_of(name) is None:
        return f"{normal_charset(charset)}_{name}"
    return name


def table_charset(charset: str | None, collate: str | None) -> tuple[str | None, str | None]:
    """A table's default character set and collation in the server's spelling, the character
    set told by the collation where only that is given."""
    c = normal_charset(charset) if charset else None
    if collate:
        return c or charset_of(collate), full_collation(collate, c)
    return c, None


def check_charset(charset: str | None, collate: str | None) -> None:
    """Refuse a character set MySQL and MariaDB do not have, and a collation of another
    character set than the one given with it (the server refuses both, at apply)."""
    if charset is not None and charset.lower() not in CHARSETS:
        raise IRError(f"mysql_charset {charset!r} is no character set of MySQL or MariaDB "
                      f"(e.g. utf8mb4, utf8mb3, latin1)")
    if collate is not None and not collate.replace("_", "").isalnum():
        raise IRError(f"mysql_collate {collate!r} is no collation name")
    if charset is not None and collate is not None:
        of = charset_of(collate)
        if of is not None and of != normal_charset(charset):
            raise IRError(f"mysql_collate {collate!r} is a collation of {of}, not of "
                          f"mysql_charset {charset!r}")
