"""``thio run`` over every entry of tests/fixtures/bad/: the exit code and the exact lines of
manifest.json, never a traceback; then what the warehouse holds for a few of them."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from tests.fixtures.bad.make_fixtures import KEEP, PATH_CHARACTERS_NAME, make_all
from thio.cli import cli

pytestmark = pytest.mark.usefixtures("prefect_harness")

BAD = Path(__file__).resolve().parents[1] / "fixtures" / "bad"
MANIFEST = json.loads((BAD / "manifest.json").read_text())
FIXTURES = {entry["input"]: entry for entry in MANIFEST["fixtures"]}


def run(home: Path, name: str):
    """``thio run`` of one fixture into its own home; (exit code, output lines)."""
    args = ["run", "--home", str(home), "--round", MANIFEST["round_id"], str(BAD / name)]
    result = CliRunner().invoke(cli, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output.splitlines()


def published(home: Path, query: str, *parameters):
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(query, list(parameters)).fetchall()


def test_the_manifest_lists_every_fixture_and_the_readme_documents_each(tmp_path):
    on_disk = sorted(entry.name for entry in BAD.iterdir() if entry.name not in KEEP)
    assert sorted(FIXTURES) == on_disk
    readme = (BAD / "README.md").read_text()
    for name in FIXTURES:
        assert f"`{name}" in readme, name
    # the generator writes the same entries (their bytes are compared on one machine only:
    # zlib's output may differ between builds)
    assert make_all(tmp_path / "again") == on_disk


def check_duplicate_rows(home: Path) -> None:
    """Per file and sheet: rows_read = accepted + quarantined + duplicate, stored."""
    files = published(
        home,
        "select file_name, rows_read, rows_accepted, rows_quarantined, rows_duplicate "
        "from meta.input_files order by file_name",
    )
    assert files == [
        ("duplicate_rows/ahp.csv", 12, 12, 0, 0),
        ("duplicate_rows/firms.csv", 2, 2, 0, 0),
        ("duplicate_rows/items.csv", 9, 8, 0, 1),
        ("duplicate_rows/sota.csv", 40, 38, 0, 2),
    ]
    sheets = published(
        home,
        "select sheet, rows_read, rows_accepted, rows_quarantined, rows_duplicate "
        "from meta.input_sheets where rows_read <> rows_accepted + rows_quarantined "
        "+ rows_duplicate or rows_duplicate > 0 order by sheet",
    )
    assert sheets == [("items", 9, 8, 0, 1), ("sota", 40, 38, 0, 2)]


def check_error_cells(home: Path) -> None:
    """The original value of each quarantined cell is kept verbatim."""
    rows = published(
        home,
        "select sheet, row_number, column_name, value, rule from meta.quarantine "
        "where rule in ('error_cell', 'no_cached_value') order by sheet",
    )
    assert rows == [("firms", 2, "workers", "#DIV/0!", "error_cell"),
                    ("sota", 3, "score", "#N/A", "error_cell")]  # fmt: skip
    (identity,) = published(
        home,
        "select count(*) filter (where rows_read = rows_accepted + rows_quarantined "
        "+ rows_duplicate), count(*) from meta.input_sheets",
    )
    assert identity == (4, 4)
    assert published(home, "select firm_id from latest.firm_tcc where firm_id = 'F001'") == []


def check_conflicting_firm(home: Path) -> None:
    rows = published(
        home,
        "select file_name, rows_read, rows_accepted, rows_quarantined, rows_duplicate "
        "from meta.input_files order by file_name",
    )
    assert rows == [("conflicting_firm/east.xlsx", 630, 600, 30, 0),
                    ("conflicting_firm/west.xlsx", 30, 0, 1, 29)]  # fmt: skip


def check_sql_and_formula_text(home: Path) -> None:
    """Text that looks like SQL or a formula is published verbatim, never executed."""
    names = published(home, "select firm_id, firm_name from latest.firm_tcc order by firm_id")
    assert names == [
        ("F001", "Robert'); DROP TABLE meta.runs; --"),
        ("F002", '=HYPERLINK("http://example.com","klik")'),
    ]
    assert published(home, "select count(*) from meta.runs") == [(1,)]


def check_path_characters(home: Path) -> None:
    """A file name with path characters is data only: the archive is named by sha256."""
    ((file_name, sha256),) = published(home, "select file_name, sha256 from meta.input_files")
    assert file_name == f"path_characters/{PATH_CHARACTERS_NAME}"
    archived = [path.relative_to(home) for path in (home / "raw").rglob("*") if path.is_file()]
    assert archived == [Path("raw") / "2023Q1" / f"{sha256}.xlsx"]
    assert not any("evil" in path.name for path in home.rglob("*"))


def check_same_file_twice(home: Path) -> None:
    """The same bytes are read once, in a run and when the round is run again."""
    exit_code, lines = run(home, "same_file_twice")
    assert exit_code == 0
    assert lines[-1] == "round 2023Q1: version 1, 2 firms, unchanged"
    statuses = published(
        home, "select status, rows_read from meta.input_files order by run_id, file_name"
    )
    assert statuses == [("read", 60), ("rejected", 0)] * 2
    assert len(list((home / "raw" / "2023Q1").iterdir())) == 1  # one archived copy


CHECKS = {
    "duplicate_rows": check_duplicate_rows,
    "error_cells.xlsx": check_error_cells,
    "conflicting_firm": check_conflicting_firm,
    "sql_and_formula_text": check_sql_and_formula_text,
    "path_characters": check_path_characters,
    "same_file_twice": check_same_file_twice,
}


def _param(name: str):
    # The rejected inputs (about 1 s each) and the ones whose warehouse rows are checked run
    # in `make test`; the other published rounds (about 3 s each, their outcomes checked
    # through ingest and validation in test_ingest.py) in `make test-all`.
    fast = FIXTURES[name]["exit_code"] != 0 or name in CHECKS
    return pytest.param(name, marks=() if fast else pytest.mark.slow)


@pytest.mark.parametrize("name", [_param(name) for name in sorted(FIXTURES)])
def test_thio_run_over_each_bad_fixture(tmp_path, name):
    expected = FIXTURES[name]
    home = tmp_path / "home"
    exit_code, lines = run(home, name)
    assert not any("Traceback" in line for line in lines)
    assert exit_code == expected["exit_code"], lines
    assert lines[-1] == expected["output"][-1]
    # every line of the manifest, in order (other features may add lines of their own,
    # such as the audit report's path)
    remaining = iter(lines)
    for want in expected["output"]:
        assert any(_matches(line, want) for line in remaining), (want, lines)
    if name in CHECKS:
        CHECKS[name](home)


def _matches(line: str, want: str) -> bool:
    return line.startswith(want[:-3]) if want.endswith("...") else line == want
