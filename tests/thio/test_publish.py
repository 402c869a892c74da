"""Publishing: atomic swap, readers never blocked, immutable versions, canonical content hash.

These call the library functions the flow's tasks wrap, without Prefect.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.fixtures.compute import materialise_marts
from thio import publish
from thio.ingest import ingest_inputs
from thio.rounds import publish_run
from thio.runs import run_methodology, start_run
from thio.validation import validate_round
from thio.warehouse import build_compute_db

REPO = Path(__file__).resolve().parents[2]


def run_round(
    home: Path, inputs: list[Path], round_id: str = "2023Q1", nudge_tcc: float = 0.0
) -> dict:
    """ingest → validate → compute → publish, as the flow composes them; ``nudge_tcc`` is
    added to every computed TCC before publishing (floating-point noise or a real change)."""
    run = start_run(round_id, [str(path) for path in inputs], str(home), None)
    work_dir = Path(run["work_dir"])
    ingest = ingest_inputs(inputs, round_id, home, work_dir)
    validation = validate_round(work_dir, round_id, run_methodology(run))
    compute = build_compute_db(
        work_dir / "accepted", run_methodology(run), work_dir / "compute.duckdb", round_id
    )
    if nudge_tcc:
        with duckdb.connect(compute["db_path"]) as con:
            materialise_marts(con)
            con.execute("update marts.firm_tcc set tcc = tcc + ?", [nudge_tcc])
    return publish_run(run, ingest, validation, compute)


@pytest.fixture
def csv_round(tmp_path, worked_example) -> Path:
    folder = tmp_path / "inputs" / "csv"
    shutil.copytree(worked_example / "csv", folder)
    return folder


def _bump_f001(folder: Path) -> None:
    sota = folder / "sota.csv"
    text = sota.read_text()
    sota.write_text(
        text.replace("F001,T,T1,T.op_complexity,E1,5", "F001,T,T1,T.op_complexity,E1,9")
    )


def _count(con: duckdb.DuckDBPyConnection, query: str) -> int:
    return con.execute(query).fetchone()[0]


def test_a_reader_keeps_its_version_while_the_next_is_published(tmp_path, csv_round):
    home = tmp_path / "home"
    assert run_round(home, [csv_round])["publication"]["version"] == 1
    reader = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        _bump_f001(csv_round)
        second = run_round(home, [csv_round])["publication"]
        assert (second["version"], second["status"]) == (2, "published")
        # the open reader still sees the file it opened: one whole version, no error
        assert _count(reader, "select count(*) from meta.publications") == 1
        assert _count(reader, "select count(*) from marts.firm_tcc") == 3
    finally:
        reader.close()
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as fresh:
        assert _count(fresh, "select count(*) from meta.publications") == 2
        assert _count(fresh, "select count(*) from marts.firm_tcc") == 6
        assert _count(fresh, "select count(*) from latest.firm_tcc") == 3
        assert _count(fresh, "select max(version) from latest.firm_tcc") == 2
    with duckdb.connect(str(home / "warehouse.previous.duckdb"), read_only=True) as previous:
        assert _count(previous, "select count(*) from meta.publications") == 1
    assert not list((home / ".build").iterdir())


@pytest.mark.parametrize(
    "failing",
    [
        "_append_marts",
        # the hash runs on its own cursors while the rows are appended: its failure still
        # fails the publication, and the build is removed only after its threads are done
        "_text_digest",
    ],
)
def test_a_failed_publish_leaves_the_warehouse_as_it_was(tmp_path, csv_round, monkeypatch, failing):
    home = tmp_path / "home"
    run_round(home, [csv_round])
    before = hashlib.sha256((home / "warehouse.duckdb").read_bytes()).hexdigest()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(publish, failing, broken)
    _bump_f001(csv_round)
    with pytest.raises(OSError, match="disk full"):
        run_round(home, [csv_round])
    assert hashlib.sha256((home / "warehouse.duckdb").read_bytes()).hexdigest() == before
    assert not list((home / ".build").iterdir())
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert _count(con, "select count(*) from meta.publications") == 1
        assert _count(con, "select max(version) from marts.firm_tcc") == 1


def test_row_order_does_not_change_the_content_hash(tmp_path, csv_round):
    home = tmp_path / "home"
    first = run_round(home, [csv_round])["publication"]
    sota = csv_round / "sota.csv"
    header, *rows = sota.read_text().splitlines()
    sota.write_text("\n".join([header, *reversed(rows)]) + "\n")
    # in a home of its own the hash is computed, not taken over from an equal version
    fresh = run_round(tmp_path / "other", [csv_round])["publication"]
    assert fresh["status"] == "published"
    assert fresh["content_sha256"] == first["content_sha256"]
    again = run_round(home, [csv_round])["publication"]
    assert again["status"] == "unchanged"
    assert again["content_sha256"] == first["content_sha256"]


def test_every_published_table_and_column_has_a_comment(tmp_path, csv_round):
    home = tmp_path / "home"
    run_round(home, [csv_round])
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        missing_tables = con.execute(
            "select schema_name || '.' || table_name from duckdb_tables() "
            "where schema_name in ('meta', 'marts') and comment is null"
        ).fetchall()
        missing_columns = con.execute(
            "select schema_name || '.' || table_name || '.' || column_name from duckdb_columns() "
            "where schema_name in ('meta', 'marts', 'latest') and comment is null"
        ).fetchall()
        views = con.execute(
            "select view_name from duckdb_views() where schema_name = 'latest' order by 1"
        ).fetchall()
    assert missing_tables == []
    assert missing_columns == []
    assert [name for (name,) in views] == [
        "ahp_matrices",
        "firm_component",
        "firm_tcc",
        "program_effect",
        "program_firms",
        "round_change",
        "tcc_by_group",
    ]


def test_meta_records_the_run_the_files_and_the_methodology(tmp_path, csv_round):
    home = tmp_path / "home"
    report = run_round(home, [csv_round])
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        publication = con.execute(
            "select run_id, methodology_sha256, input_files, n_firms from meta.publications"
        ).fetchone()
        files = con.execute(
            "select file_name, rows_read, rows_accepted, rows_quarantined from meta.input_files "
            "order by file_name"
        ).fetchall()
        run_status = con.execute("select status from meta.runs").fetchone()[0]
        sheets = con.execute(
            "select file_name, sheet, rows_read from meta.input_sheets order by file_name"
        ).fetchall()
    methodology_sha = hashlib.sha256(
        (Path(__file__).resolve().parents[2] / "methodology.yaml").read_bytes()
    ).hexdigest()
    assert publication == (report["run_id"], methodology_sha, 4, 3)
    assert files == [
        ("csv/ahp.csv", 30, 30, 0),
        ("csv/firms.csv", 3, 3, 0),
        ("csv/items.csv", 15, 15, 0),
        ("csv/sota.csv", 72, 72, 0),
    ]
    assert run_status == "published"
    assert sheets == [
        ("csv/ahp.csv", "ahp", 30),
        ("csv/firms.csv", "firms", 3),
        ("csv/items.csv", "items", 15),
        ("csv/sota.csv", "sota", 72),
    ]


def test_last_bit_noise_is_the_same_result_but_a_real_change_is_not(tmp_path, csv_round):
    home = tmp_path / "home"
    first = run_round(home, [csv_round])["publication"]
    # 5e-10 moves the 10th decimal the hash rounds to, but stays within the tolerance
    noisy = run_round(home, [csv_round], nudge_tcc=5e-10)["publication"]
    assert (noisy["status"], noisy["version"]) == ("unchanged", 1)
    assert noisy["content_sha256"] == first["content_sha256"]
    changed = run_round(home, [csv_round], nudge_tcc=1e-6)["publication"]
    assert (changed["status"], changed["version"]) == ("published", 2)


def test_the_sql_checks_of_the_round_are_recorded(tmp_path, csv_round):
    home = tmp_path / "home"
    run_round(home, [csv_round])
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        checks = con.execute(
            "select check_name, success, unexpected_count from meta.validation_results "
            "where suite = 'warehouse' order by check_name"
        ).fetchall()
    names = sorted(path.stem for path in (REPO / "warehouse" / "checks").glob("*.sql"))
    assert [name for name, _, _ in checks] == names
    assert all(success and count == 0 for _, success, count in checks)


def test_a_warehouse_of_an_earlier_release_gains_the_new_columns(tmp_path, csv_round):
    home = tmp_path / "home"
    run_round(home, [csv_round])
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        # as published before marts.firm_tcc had survey_date
        con.execute("drop view latest.firm_tcc")
        con.execute("alter table marts.firm_tcc drop column survey_date")
    _bump_f001(csv_round)
    assert run_round(home, [csv_round])["publication"]["version"] == 2
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select version, survey_date from marts.firm_tcc where firm_id = 'F001' order by 1"
        ).fetchall()
        latest = con.execute(
            "select survey_date from latest.firm_tcc where firm_id = 'F001'"
        ).fetchall()
        comment = con.execute(
            "select comment from duckdb_columns() where schema_name = 'latest' "
            "and table_name = 'firm_tcc' and column_name = 'survey_date'"
        ).fetchone()[0]
    # version 1 was published without the column; version 2 has the survey date of the file
    assert [(version, str(day) if day else None) for version, day in rows] == [
        (1, None),
        (2, "2023-01-11"),
    ]
    assert [str(day) for (day,) in latest] == ["2023-01-11"]
    assert comment == "Date the firm was surveyed in this round."
