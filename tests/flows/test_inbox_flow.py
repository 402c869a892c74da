"""The inbox flow under the Prefect test server: exports dropped in, published, filed."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from flows.survey_round_inbox import survey_round_inbox
from tests.fixtures.rounds import good_round, write_xlsx

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _split(round_: dict, firms: set[str]) -> dict:
    return {
        sheet: [row for row in rows if row["firm_id"] in firms] for sheet, rows in round_.items()
    }


def _publications(home: Path) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(
            "select version, n_firms, input_files from meta.publications order by version"
        ).fetchall()


def test_inbox_publishes_the_round_and_files_each_export(tmp_path):
    home = tmp_path / "home"
    inbox = home / "inbox" / "2023Q1"
    inbox.mkdir(parents=True)
    round_ = good_round(4)
    write_xlsx(_split(round_, {"F001", "F002"}), inbox / "north.xlsx")
    write_xlsx(_split(round_, {"F003", "F004"}), inbox / "south.xlsx")
    (inbox / "broken.xlsx").write_bytes(b"")

    lines = survey_round_inbox(home=str(home), settle_seconds=0.2)
    assert lines == [
        "2023Q1: broken.xlsx: rejected (see rejected/broken.xlsx.why.txt)",
        "2023Q1: north.xlsx: processed",
        "2023Q1: south.xlsx: processed",
    ]
    assert _publications(home) == [(1, 4, 2)]
    assert sorted(path.name for path in (inbox / "processed").iterdir()) == [
        "north.xlsx",
        "south.xlsx",
    ]
    why = (inbox / "rejected" / "broken.xlsx.why.txt").read_text()
    assert why.startswith("broken.xlsx: ") and "empty" in why
    assert len(list((home / "raw" / "2023Q1").iterdir())) == 3  # every file archived

    # nothing new: nothing runs
    assert survey_round_inbox(home=str(home), settle_seconds=0.2) == []
    # the same bytes again under another name: dropped, not run
    shutil.copyfile(inbox / "processed" / "south.xlsx", inbox / "south (copy).xlsx")
    assert survey_round_inbox(home=str(home), settle_seconds=0.2) == []
    assert not (inbox / "south (copy).xlsx").exists()
    assert _publications(home) == [(1, 4, 2)]

    # a corrected north.xlsx replaces the processed one; the round is run over both regions
    for row in round_["sota"]:
        if row["firm_id"] == "F001":
            row["score"] = "9"
    write_xlsx(_split(round_, {"F001", "F002"}), inbox / "north.xlsx")
    assert survey_round_inbox(home=str(home), settle_seconds=0.2) == [
        "2023Q1: north.xlsx: processed"
    ]
    assert _publications(home) == [(1, 4, 2), (2, 4, 2)]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        # every score 9 with ll 2, ul 4: each component (2 + 1.8) / 9, so TCC = 3.8 / 9
        tcc = con.execute("select tcc from latest.firm_tcc where firm_id = 'F001'").fetchone()[0]
    assert tcc == pytest.approx(3.8 / 9, abs=1e-9)


def test_an_empty_inbox_does_nothing(tmp_path):
    assert survey_round_inbox(home=str(tmp_path / "home"), settle_seconds=30) == []
