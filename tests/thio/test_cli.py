"""The thio command line: exit codes, one line per file and per publication, no traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tests.fixtures.rounds import worked_example_csv
from thio.cli import cli

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_run_prints_each_file_and_the_publication(tmp_path, worked_example):
    home = tmp_path / "home"
    csv_folder = str(worked_example / "csv")
    result = _run("run", "--home", str(home), "--round", "2023Q1", csv_folder)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    # ahp has 30 rows, firms 3, items 15, sota 72: every row accepted
    assert "csv/ahp.csv: 30 rows read, 30 accepted, 0 quarantined" in lines
    assert "csv/firms.csv: 3 rows read, 3 accepted, 0 quarantined" in lines
    assert "csv/items.csv: 15 rows read, 15 accepted, 0 quarantined" in lines
    assert "csv/sota.csv: 72 rows read, 72 accepted, 0 quarantined" in lines
    assert lines[-1] == "round 2023Q1: version 1, 3 firms, published"
    again = _run("run", "--home", str(home), "--round", "2023Q1", csv_folder)
    assert again.exit_code == 0
    assert again.output.strip().splitlines()[-1] == "round 2023Q1: version 1, 3 firms, unchanged"


def test_a_bad_round_id_is_a_usage_error(tmp_path, worked_example):
    result = _run("run", "--home", str(tmp_path), "--round", "../2023", str(worked_example / "csv"))
    assert result.exit_code == 2
    assert "YYYYQn" in result.output
    assert not (tmp_path / "raw").exists()


def test_an_unreadable_file_is_rejected_in_one_line(tmp_path):
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    result = _run("run", "--home", str(tmp_path / "home"), "--round", "2023Q1", str(empty))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.startswith("empty.xlsx: rejected: ")
    assert result.output.strip().splitlines()[-1] == "round 2023Q1: version -, 0 firms, rejected"


def test_a_round_over_the_quarantine_threshold_publishes_nothing(tmp_path, worked_example):
    # F002's only humanware item is quarantined, F002 is excluded, and 1 of 3 firms (33 %)
    # is over the 5 % threshold.
    folder = worked_example_csv(worked_example, tmp_path / "csv", blocked=True)
    home = tmp_path / "home"
    result = _run("run", "--home", str(home), "--round", "2023Q1", str(folder))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    # the excluded firm's rows of every sheet are quarantined with it (5 items, 24 scores,
    # 12 judgments), so nothing of F002 is half-used
    assert "csv/firms.csv: 3 rows read, 2 accepted, 1 quarantined" in lines
    assert "csv/items.csv: 15 rows read, 10 accepted, 5 quarantined" in lines
    assert "csv/sota.csv: 72 rows read, 48 accepted, 24 quarantined" in lines
    assert "csv/ahp.csv: 30 rows read, 18 accepted, 12 quarantined" in lines
    assert "csv/items.csv, sheet items, row 9, column ul: 12 is outside 1..9" in lines
    assert "40 more rows quarantined because their firm or item was excluded" in lines
    assert any(line.startswith("round blocked: ") for line in lines)
    assert lines[-1] == "round 2023Q1: version -, 0 firms, blocked"


def test_template_writes_a_workbook(tmp_path):
    out = tmp_path / "blank.xlsx"
    result = _run("template", str(out))
    assert result.exit_code == 0
    assert out.stat().st_size > 0
    assert _run("template", str(tmp_path / "blank.csv")).exit_code == 2


def test_an_unexpected_error_is_one_line_and_logged(tmp_path, worked_example, monkeypatch):
    import tasks.compute

    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(tasks.compute, "build_compute_db", broken)
    home = tmp_path / "home"
    result = _run("run", "--home", str(home), "--round", "2023Q1", str(worked_example / "csv"))
    assert result.exit_code == 1
    log = home / "logs" / "thio.log"
    assert result.output.strip().splitlines() == [
        f"error: RuntimeError: simulated failure (details in {log.resolve()})"
    ]
    assert "Traceback" in log.read_text()
    assert not (home / "warehouse.duckdb").exists()


def test_a_broken_methodology_file_is_reported_before_the_flow_starts(tmp_path, worked_example):
    broken = tmp_path / "method.yaml"
    broken.write_text("components: [\n")
    home = tmp_path / "home"
    args = ("run", "--home", str(home), "--round", "2023Q1", "--methodology", str(broken))
    result = _run(*args, str(worked_example / "csv"))
    assert result.exit_code == 1
    assert result.output.strip() == "error: methodology file method.yaml: not valid YAML at line 2"
    assert not (home / "raw").exists()
