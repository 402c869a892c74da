"""thio.inbox: which exports are pending, settled, duplicated, and where they are filed."""

from __future__ import annotations

from pathlib import Path

from thio import inbox
from thio.inbox import file_entries, pending_entries, plan_round, round_input_set, settled_entries


def _drop(home: Path, round_id: str, name: str, content: bytes = b"bytes") -> Path:
    path = home / "inbox" / round_id / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_pending_skips_what_is_not_an_export(tmp_path):
    _drop(tmp_path, "2024Q1", "a.xlsx")
    _drop(tmp_path, "2024Q1", "~$a.xlsx")  # Excel's lock file
    _drop(tmp_path, "2024Q1", ".hidden.csv")
    _drop(tmp_path, "2024Q1", "b.xlsx.part")  # a download in progress
    _drop(tmp_path, "2024Q1", "processed/old.xlsx")
    _drop(tmp_path, "2024Q1", "rejected/bad.xlsx")
    _drop(tmp_path, "2024Q1", "region-b/firms.csv")
    _drop(tmp_path, "Q1 2024", "c.xlsx")
    pending, warnings = pending_entries(tmp_path)
    assert {round_id: [p.name for p in paths] for round_id, paths in pending.items()} == {
        "2024Q1": ["a.xlsx", "region-b"]
    }
    assert warnings == ["inbox: folder 'Q1 2024' is not a round id (YYYYQn or YYYY); ignored"]
    assert pending_entries(tmp_path / "nowhere") == ({}, [])


def test_an_entry_still_growing_is_not_settled(tmp_path, monkeypatch):
    done = _drop(tmp_path, "2024Q1", "done.xlsx")
    growing = _drop(tmp_path, "2024Q1", "growing.xlsx")
    monkeypatch.setattr(inbox.time, "sleep", lambda seconds: growing.write_bytes(b"more bytes"))
    ready, settling = settled_entries({"2024Q1": [done, growing]}, 1.0)
    assert ready == {"2024Q1": [done]}
    assert settling == [growing]


def test_nothing_pending_returns_at_once(monkeypatch):
    monkeypatch.setattr(inbox.time, "sleep", lambda seconds: (_ for _ in ()).throw(AssertionError))
    assert settled_entries({}, 60.0) == ({}, [])


def test_plan_replaces_by_name_and_drops_exact_copies(tmp_path):
    _drop(tmp_path, "2024Q1", "processed/north.xlsx", b"north v1")
    _drop(tmp_path, "2024Q1", "processed/south.xlsx", b"south")
    north = _drop(tmp_path, "2024Q1", "north.xlsx", b"north v2")
    copy = _drop(tmp_path, "2024Q1", "south (1).xlsx", b"south")
    plan = plan_round(tmp_path, "2024Q1", [north, copy])
    folder = tmp_path / "inbox" / "2024Q1"
    assert plan["inputs"] == [str(folder / "processed" / "south.xlsx"), str(north)]
    assert plan["new"] == [str(north)]
    assert plan["duplicates"] == [{"entry": str(copy), "same_as": "south.xlsx"}]
    assert inbox.drop_duplicates(plan) == [
        "2024Q1: south (1).xlsx: same bytes as processed/south.xlsx; not run again"
    ]
    assert not copy.exists()
    assert round_input_set(tmp_path, "2024Q1") == plan["inputs"]


def test_filing_moves_rejected_entries_with_the_reason(tmp_path):
    good = _drop(tmp_path, "2024Q1", "good.xlsx")
    bad = _drop(tmp_path, "2024Q1", "bad.xlsx")
    folder = _drop(tmp_path, "2024Q1", "region-b/firms.csv").parent
    _drop(tmp_path, "2024Q1", "processed/good.xlsx", b"older")
    plan = {"round_id": "2024Q1", "new": [str(good), str(bad), str(folder)]}
    report = {
        "files": [
            {"file_name": "good.xlsx", "status": "read", "message": None},
            {
                "file_name": "bad.xlsx",
                "status": "rejected",
                "message": "bad.xlsx: the file is empty (0 bytes)",
            },
            {"file_name": "region-b/firms.csv", "status": "read", "message": None},
        ],
        "publication": {"status": "published"},
    }
    assert file_entries(plan, report) == [
        "2024Q1: good.xlsx: processed",
        "2024Q1: bad.xlsx: rejected (see rejected/bad.xlsx.why.txt)",
        "2024Q1: region-b: processed",
    ]
    base = tmp_path / "inbox" / "2024Q1"
    assert (base / "processed" / "good.xlsx").read_bytes() == b"bytes"  # replaced the older
    assert (base / "processed" / "region-b" / "firms.csv").exists()
    assert (base / "rejected" / "bad.xlsx.why.txt").read_text() == (
        "bad.xlsx: the file is empty (0 bytes)\n"
    )
    assert sorted(path.name for path in base.iterdir()) == ["processed", "rejected"]
