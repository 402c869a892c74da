"""The auditors' commands: lineage, trace, verify, diff and retract on real publications.

Expected rows are read off the worked example's CSV files by eye (file, sheet, row number
and cell values), never from the code under test.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from tests.thio.test_publish import run_round
from thio.audit import (
    archive_problem,
    diff_lines,
    lineage_lines,
    trace_lines,
    verify_publication,
)
from thio.catalog import SCHEMA_VERSION
from thio.cli import cli
from thio.errors import ThioError
from thio.retraction import retract_version
from thio.sample import generate_rounds, write_workbook


@pytest.fixture
def two_versions(tmp_path, worked_example) -> Path:
    """The worked example as version 1, then with F001's first T score 5 → 9 as version 2."""
    folder = tmp_path / "inputs" / "csv"
    shutil.copytree(worked_example / "csv", folder)
    home = tmp_path / "home"
    assert run_round(home, [folder])["publication"]["version"] == 1
    sota = folder / "sota.csv"
    sota.write_text(
        sota.read_text().replace("F001,T,T1,T.op_complexity,E1,5", "F001,T,T1,T.op_complexity,E1,9")
    )
    assert run_round(home, [folder])["publication"]["version"] == 2
    return home


def _cli(*args: str):
    return CliRunner().invoke(cli, list(args))


def _line(lines: list[str], label: str) -> str:
    """The one line of a verify report that starts with ``label``."""
    (found,) = [line for line in lines if line.startswith(label)]
    return found


def test_verify_recomputes_each_version_from_the_archive(two_versions):
    for version in (1, 2):
        ok, lines = verify_publication(two_versions, "2023Q1", version)
        assert ok, lines
        assert lines[-1] == "verified"
        assert _line(lines, "published rows ").endswith(" match")
        assert _line(lines, "recomputed ").endswith(" match")
        assert _line(lines, "methodology archive ").endswith(" match")
        # one view per mart (5) and per cross-round mart (2): thio.catalog
        assert _line(lines, "latest views ") == "latest views        7 views match"
    result = _cli("verify", "--home", str(two_versions), "--round", "2023Q1")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("round 2023Q1 version 2: recorded content sha256 ")


def test_verify_fails_on_a_changed_published_row(two_versions):
    with duckdb.connect(str(two_versions / "warehouse.duckdb")) as con:
        con.execute(
            "update marts.firm_tcc set tcc = tcc + 0.001 where version = 1 and firm_id = 'F002'"
        )
    ok, lines = verify_publication(two_versions, "2023Q1", 1)
    assert not ok
    assert "DIFFER: the published rows were changed" in _line(lines, "published rows ")
    assert lines[-2] == "first difference: marts.firm_tcc (firm_id=F002): differs in tcc"
    result = _cli("verify", "--home", str(two_versions), "--round", "2023Q1", "--version", "1")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == "NOT verified"
    # version 2 was not touched
    assert verify_publication(two_versions, "2023Q1", 2)[0]


def test_verify_fails_on_a_changed_raw_file(two_versions):
    with duckdb.connect(str(two_versions / "warehouse.duckdb"), read_only=True) as con:
        sha256 = con.execute(
            "select sha256 from meta.input_files where file_name = 'csv/items.csv' limit 1"
        ).fetchone()[0]
    archived = two_versions / "raw" / "2023Q1" / f"{sha256}.csv"
    archived.write_text(
        archived.read_text().replace(
            "F001,T,T1,mesin jahit manual,1,1,3", "F001,T,T1,mesin jahit manual,1,1,9"
        )
    )
    ok, lines = verify_publication(two_versions, "2023Q1", 1)
    assert not ok
    assert _line(lines, "recomputed ").startswith(
        f"recomputed          not possible: csv/items.csv: archived copy {sha256}.csv was "
        "changed after the run"
    )


def test_trace_names_the_rows_a_firm_came_from(two_versions):
    lines = trace_lines(two_versions, "2023Q1", "F001", 1)
    assert lines[0] == "firm F001, round 2023Q1 version 1"
    assert lines[1] == "  TCC 0.341549  class fair  level semi_modern  priority I,T,O,H"
    assert (
        "  betas       T 0.467296  H 0.277181  I 0.160088  O 0.095435  source firm_ahp  CR 0.011475"
        in lines
    )
    assert "  T: contribution 0.311111, sota 0.525000, ll_min 1, ul_max 4, 2 items" in lines
    assert any(
        line.startswith("  AHP firm F001 R1: CR 0.011475 (consistent, used)") for line in lines
    )
    # csv/items.csv line 2 and csv/sota.csv line 2 of the worked example, by eye
    assert (
        "    csv/items.csv, sheet items, row 2: component=T, item_id=T1, "
        "item_name=mesin jahit manual, weight=1, ll=1, ul=3"
    ) in lines
    assert (
        "    csv/sota.csv, sheet sota, row 2: component=T, item_id=T1, "
        "criterion=T.op_complexity, rater=E1, score=5"
    ) in lines
    assert sum(line.startswith("    csv/sota.csv, sheet sota") for line in lines) == 24
    assert sum(line.startswith("    csv/ahp.csv, sheet ahp") for line in lines) == 6
    # version 2 reads the changed file: its archived copy holds the 9
    assert (
        "    csv/sota.csv, sheet sota, row 2: component=T, item_id=T1, "
        "criterion=T.op_complexity, rater=E1, score=9"
    ) in trace_lines(two_versions, "2023Q1", "F001")
    with pytest.raises(ThioError, match="firm F999 is not in round 2023Q1 version 2"):
        trace_lines(two_versions, "2023Q1", "F999")


def test_diff_lists_the_changed_firm(two_versions):
    lines = diff_lines(two_versions, "2023Q1", 1, 2)
    assert lines[0] == "round 2023Q1: version 1 -> 2: 0 added, 0 removed, 1 changed, 2 unchanged"
    # T of F001: item T1 mean 6.0 → 6.8, c = (1 + 0.68 * 2) / 9; T = (c + 3 * 0.333333) / 4
    assert lines[1].startswith("  ~ F001: TCC 0.341549 -> ")
    result = _cli(
        "diff", "--home", str(two_versions), "--round", "2023Q1", "--from", "1", "--to", "3"
    )
    assert result.exit_code == 1
    assert result.output == "error: round 2023Q1 has no version 3\n"


def test_lineage_reconciles_the_files(two_versions):
    lines = lineage_lines(two_versions, "2023Q1", 1)
    assert lines[0].startswith("round 2023Q1 version 1: 3 firms, published ")
    assert lines[0].endswith("(first version)")
    with duckdb.connect(str(two_versions / "warehouse.duckdb"), read_only=True) as con:
        sha, method = con.execute(
            "select content_sha256, methodology_sha256 from meta.publications where version = 1"
        ).fetchone()
    assert lines[1] == f"content sha256      {sha}"
    assert lines[2] == f"methodology sha256  {method}"
    assert (two_versions / "methodology" / f"{method}.yaml").exists()
    sota = [line for line in lines if line.startswith("  csv/sota.csv  sha256 ")]
    assert len(sota) == 1 and sota[0].endswith("72 rows read = 72 accepted + 0 quarantined")
    assert "input files (4):" in lines


def test_retraction_moves_latest_back(two_versions):
    result = retract_version(two_versions, "2023Q1", 2, "  wrong\nsota file ")
    assert result == {"round_id": "2023Q1", "retracted": 2, "current_version": 1}
    with duckdb.connect(str(two_versions / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select distinct version from latest.firm_tcc").fetchall() == [(1,)]
        assert con.execute(
            "select status, retract_reason from meta.publications order by version"
        ).fetchall() == [("published", None), ("retracted", "wrong sota file")]
        # the retracted version stays queryable
        assert con.execute("select count(*) from marts.firm_tcc where version = 2").fetchone() == (
            3,
        )
    assert lineage_lines(two_versions, "2023Q1", 2)[0].startswith(
        "round 2023Q1 version 2 (retracted "
    )
    again = _cli("retract", "--home", str(two_versions), "--round", "2023Q1", "--version", "2",
                 "--reason", "twice")  # fmt: skip
    assert again.exit_code == 1
    assert again.output == "error: round 2023Q1 version 2 is already retracted\n"
    last = _cli("retract", "--home", str(two_versions), "--round", "2023Q1", "--version", "1",
                "--reason", "all wrong")  # fmt: skip
    assert last.exit_code == 0
    assert (
        last.output
        == "round 2023Q1: version 1 retracted; latest.* now shows no published version\n"
    )
    with duckdb.connect(str(two_versions / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from latest.firm_tcc").fetchone() == (0,)
    missing = _cli("retract", "--home", str(two_versions), "--round", "2023Q1", "--version", "1")
    assert missing.exit_code == 2 and "--reason" in missing.output


def test_verify_passes_on_every_round_of_a_small_demo(tmp_path):
    home = tmp_path / "home"
    round_ids = ("2024Q1", "2024Q2", "2024Q3")
    for round_id, sheets in zip(round_ids, generate_rounds(40, round_ids), strict=True):
        workbook = tmp_path / f"survey_{round_id}.xlsx"
        write_workbook(sheets, workbook)
        assert run_round(home, [workbook], round_id)["publication"]["status"] == "published"
    for round_id in round_ids:
        ok, lines = verify_publication(home, round_id)
        assert ok, lines


def _published(home: Path, query: str) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(query).fetchall()


def test_verify_fails_on_a_rewritten_latest_view_and_a_later_publication_restores_it(
    two_versions, worked_example
):
    with duckdb.connect(str(two_versions / "warehouse.duckdb")) as con:
        # every version instead of the current one: version 1's rows come back
        con.execute("create or replace view latest.firm_tcc as select * from marts.firm_tcc")
    assert _published(two_versions, "select count(*) from latest.firm_tcc") == [(6,)]
    ok, lines = verify_publication(two_versions, "2023Q1")
    assert not ok
    assert _line(lines, "latest views ") == (
        "latest views        latest.firm_tcc DIFFERS from what publish makes: "
        "its definition was rewritten"
    )
    assert _line(lines, "published rows ").endswith(" match")  # the marts are untouched
    assert lines[-1] == "NOT verified"
    result = _cli("verify", "--home", str(two_versions), "--round", "2023Q1")
    assert result.exit_code == 1 and "latest.firm_tcc DIFFERS" in result.output

    # a re-run of version 2's inputs publishes nothing new, yet the write restores the view
    folder = two_versions.parent / "inputs" / "csv"
    assert run_round(two_versions, [folder])["publication"]["status"] == "unchanged"
    assert _published(two_versions, "select count(*) from latest.firm_tcc") == [(3,)]
    ok, lines = verify_publication(two_versions, "2023Q1")
    assert ok, lines


def test_verify_fails_on_an_edited_methodology_archive(two_versions):
    (method,) = {
        row[0]
        for row in _published(two_versions, "select methodology_sha256 from meta.publications")
    }
    archived = two_versions / "methodology" / f"{method}.yaml"
    edited = archived.read_bytes() + b"# edited after the run\n"
    archived.write_bytes(edited)
    ok, lines = verify_publication(two_versions, "2023Q1", 1)
    assert not ok
    assert _line(lines, "methodology archive ") == (
        f"methodology archive methodology/{method}.yaml was changed after the run "
        f"(its sha256 is now {hashlib.sha256(edited).hexdigest()})"
    )
    assert _line(lines, "recomputed ") == (
        "recomputed          not possible: an archived file is missing or changed"
    )
    assert lines[-1] == "NOT verified"
    result = _cli("verify", "--home", str(two_versions), "--round", "2023Q1", "--version", "1")
    assert result.exit_code == 1
    assert f"methodology/{method}.yaml was changed after the run" in result.output


def test_an_edited_mapping_archive_is_refused(tmp_path):
    written = b"mapping: edited\n"
    sha256 = hashlib.sha256(b"mapping: as the run read it\n").hexdigest()
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / f"{sha256}.yaml").write_bytes(written)
    assert archive_problem(tmp_path, "mapping", sha256) == (
        f"mappings/{sha256}.yaml was changed after the run "
        f"(its sha256 is now {hashlib.sha256(written).hexdigest()})"
    )
    missing = hashlib.sha256(b"never archived").hexdigest()
    assert archive_problem(tmp_path, "mapping", missing) == (
        f"mappings/{missing}.yaml is not archived"
    )


def test_a_warehouse_of_a_newer_schema_version_is_refused(two_versions, worked_example):
    assert _published(two_versions, "select schema_version from meta.schema_version") == [
        (SCHEMA_VERSION,)
    ]
    with duckdb.connect(str(two_versions / "warehouse.duckdb")) as con:
        con.execute("update meta.schema_version set schema_version = ?", [SCHEMA_VERSION + 1])
    before = (two_versions / "warehouse.duckdb").read_bytes()
    message = (
        f"the warehouse has schema version {SCHEMA_VERSION + 1}, newer than this thio's "
        f"{SCHEMA_VERSION}: upgrade thio to write or verify it"
    )
    with pytest.raises(ThioError) as refused:
        verify_publication(two_versions, "2023Q1")
    assert str(refused.value) == message
    result = _cli("verify", "--home", str(two_versions), "--round", "2023Q1")
    assert (result.exit_code, result.output) == (1, f"error: {message}\n")
    with pytest.raises(ThioError) as refused:
        run_round(two_versions, [worked_example / "c01_worked_example.xlsx"])
    assert str(refused.value) == message
    assert (two_versions / "warehouse.duckdb").read_bytes() == before


def test_a_warehouse_from_before_schema_versions_gains_one(two_versions, worked_example):
    with duckdb.connect(str(two_versions / "warehouse.duckdb")) as con:
        con.execute("drop table meta.schema_version")
    folder = two_versions.parent / "inputs" / "csv"
    assert run_round(two_versions, [folder])["publication"]["status"] == "unchanged"
    assert _published(two_versions, "select schema_version from meta.schema_version") == [
        (SCHEMA_VERSION,)
    ]
    assert verify_publication(two_versions, "2023Q1")[0]
