"""The read-only commands on a damaged warehouse (issue 12, item 7): a garbage or truncated
warehouse.duckdb is one line "error: ..." and exit 1, never a traceback; ``thio map`` of a
warehouse holding NULL, NaN or infinite values prints "-" for them."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from thio.cli import cli

ROUND = "2024Q1"
READ_ONLY_COMMANDS = [
    ("map",),
    ("lineage", "--round", ROUND),
    ("trace", "--round", ROUND, "--firm", "BTG-10-0001"),
    ("diff", "--round", ROUND, "--from", "1", "--to", "2"),
    ("quarantine", "--round", ROUND),
    ("verify", "--round", ROUND),
]


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _odd_warehouse(path: Path, filler_rows: int = 0) -> None:
    """A warehouse whose latest.tcc_by_group holds NULL, NaN and infinite values (what a
    damaged or older warehouse may hold), and ``filler_rows`` rows of a table written
    after it (so that a truncated copy loses blocks the catalogue points to)."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema latest")
        con.execute(
            "create table latest.tcc_by_group as select * from (values "
            "('sector', '10', 1, '2024Q1', 5, 'nan'::double, null, null), "
            "('sector', '31', 1, '2024Q1', null, 'inf'::double, 'good', 'I,T,H,O'), "
            "('all', null, 1, '2024Q1', 7, 0.5, 'fair', 'T,H,I,O')) "
            "t(group_type, sector_code, version, round_id, n_firms, tcc_mean, tcc_mean_class, "
            "priority)"
        )
        con.execute(
            "create table latest.firm_tcc as select * from (values "
            "('2024Q1', '10', 'Makanan'), ('2024Q1', '31', null)) "
            "t(round_id, sector_code, sector_name)"
        )
        if filler_rows:
            con.execute(
                "create table latest.filler as select range as i, md5(range::varchar) as s "
                f"from range({filler_rows})"
            )


def test_map_prints_a_dash_for_null_nan_and_infinite_values(tmp_path):
    _odd_warehouse(tmp_path / "warehouse.duckdb")
    result = _run("map", "--home", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Technometric map, round 2024Q1 (version 1)",
        "sector       firms  mean TCC  class  first priority",
        "-----------  -----  --------  -----  ---------------------------",
        "10 Makanan   5      -         -      -",
        "31           -      -         good   I (infoware (information))",
        "all sectors  7      0.500     fair   T (technoware (facilities))",
    ]


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(64 * 1024))


def _truncated(path: Path) -> None:
    _odd_warehouse(path, filler_rows=200_000)
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 4)


@pytest.mark.parametrize("damage", [_garbage, _truncated], ids=["garbage", "truncated"])
@pytest.mark.parametrize("command", READ_ONLY_COMMANDS, ids=lambda command: command[0])
def test_a_damaged_warehouse_is_one_line_and_exit_1(tmp_path, damage, command):
    damage(tmp_path / "warehouse.duckdb")
    result = _run(*command, "--home", str(tmp_path))
    assert result.exit_code == 1, result.output
    (line,) = result.output.splitlines()
    assert line.startswith("error: ")
    assert "Traceback" not in result.output
    assert "Traceback" in (tmp_path / "logs" / "thio.log").read_text()
