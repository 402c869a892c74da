"""The content hash of a publication (docs/ARCHITECTURE.md, "Content hash"): the rule as an
auditor applies it, with nothing but Python's hashlib and decimal, gives the hash thio
records in meta.publications."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import pytest

from tests.thio.test_publish import csv_round, run_round  # noqa: F401 (fixture)
from thio import publish
from thio.catalog import MART_TABLES, Table


def _text(value, kind: str) -> str:
    """A value as the rule writes it."""
    if value is None:
        return ""
    if kind == "double":
        assert math.isfinite(value) and abs(value) < 1e18
        scaled = Decimal(value * 1e10)  # the double product x * 1e10, exactly
        return str(int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _digest_of_lines(lines: list[str]) -> str:
    return hashlib.sha256("".join(f"{line}\n" for line in sorted(lines)).encode()).hexdigest()


def audited_hash(con: duckdb.DuckDBPyConnection, tables: tuple[Table, ...], where: str) -> str:
    summary = ""
    for entry in tables:
        columns = [(name, kind) for name, kind, _ in entry.columns if name != "version"]
        rows = con.execute(
            f"select {', '.join(name for name, _ in columns)} from {entry.qualified} {where}"
        ).fetchall()
        kinds = [kind for _, kind in columns]
        lines = ["|".join([entry.name, *map(_text, row, kinds)]) for row in rows]
        summary += f"{entry.name}:{_digest_of_lines(lines)}\n"
    return hashlib.sha256(summary.encode()).hexdigest()


def test_an_auditor_recomputes_the_published_hash(tmp_path, csv_round):  # noqa: F811
    home = tmp_path / "home"
    report = run_round(home, [csv_round])["publication"]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        (recorded,) = con.execute(
            "select content_sha256 from meta.publications where round_id = ? and version = ?",
            [report["round_id"], report["version"]],
        ).fetchone()
        where = f"where round_id = '{report['round_id']}' and version = {report['version']}"
        assert audited_hash(con, MART_TABLES, where) == recorded == report["content_sha256"]


TINY = Table(
    "marts",
    "tiny",
    "A mart of every kind of value.",
    ("round_id", "version", "name"),
    (
        ("round_id", "varchar", ""),
        ("version", "integer", ""),
        ("name", "varchar", ""),
        ("n", "bigint", ""),
        ("x", "double", ""),
        ("flag", "boolean", ""),
        ("day", "date", ""),
    ),
)


def test_doubles_enter_rounded_to_ten_decimals_half_away_from_zero(monkeypatch):
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.tiny (round_id varchar, version integer, name varchar, n bigint, "
        "x double, flag boolean, day date)"
    )
    rows = [
        ("b", 7, 0.30000000000000004, True, dt.date(2024, 1, 31)),  # noise below 1e-10
        ("a", None, 2.5e-10, False, None),  # x * 1e10 = 2.5 exactly: away from zero
        ("c", -3, -2.5e-10, None, None),
        ("é", 0, None, None, None),  # UTF-8 sorts after ASCII
        ("d", 1, 1e-11, None, None),
    ]
    for name, n, x, flag, day in rows:
        con.execute(
            "insert into marts.tiny values ('2024Q1', 1, ?, ?, ?, ?, ?)", [name, n, x, flag, day]
        )
    monkeypatch.setattr(publish, "MART_TABLES", (TINY,))
    lines = [
        "tiny|2024Q1|a||3|false|",
        "tiny|2024Q1|b|7|3000000000|true|2024-01-31",
        "tiny|2024Q1|c|-3|-3||",
        "tiny|2024Q1|d|1|0||",
        "tiny|2024Q1|é|0|||",
    ]
    text = "".join(f"{line}\n" for line in lines)  # already in byte order
    summary = f"tiny:{hashlib.sha256(text.encode()).hexdigest()}\n"
    expected = hashlib.sha256(summary.encode()).hexdigest()
    assert publish.content_sha256(con, "marts") == expected
    assert audited_hash(con, (TINY,), "") == expected


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_the_hash_does_not_depend_on_threads_or_row_order(monkeypatch, threads):
    con = duckdb.connect()
    con.execute(f"set threads = {threads}")
    con.execute("create schema marts")
    con.execute(
        "create table marts.tiny as select '2024Q1' as round_id, 1 as version, "
        "'n' || (range * 7919 % 5000) as name, range as n, range / 7.0 as x, "
        "range % 2 = 0 as flag, date '2024-01-01' + cast(range % 300 as integer) as day "
        "from range(5000)"
    )
    monkeypatch.setattr(publish, "MART_TABLES", (TINY,))
    first = publish.content_sha256(con, "marts")
    con.execute("create table marts.shuffled as select * from marts.tiny order by random()")
    con.execute("drop table marts.tiny")
    con.execute("alter table marts.shuffled rename to tiny")
    assert publish.content_sha256(con, "marts") == first == audited_hash(con, (TINY,), "")
