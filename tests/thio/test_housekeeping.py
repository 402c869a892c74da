"""thio.housekeeping: which finished runs lose their work folder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from thio.housekeeping import KEEP_WORK_FOLDERS, remove_finished_work


def test_old_finished_runs_go_held_and_unrecorded_runs_stay(tmp_path):
    start = datetime(2024, 1, 1, tzinfo=UTC)
    statuses = ["published", "unchanged", "blocked", "rejected", "released"]
    # run-00 is the oldest; 14 finished runs, then a held one older than all of them
    runs = [
        (f"run-{number:02d}", statuses[number % 5], start + timedelta(hours=number))
        for number in range(14)
    ]
    runs.append(("run-held", "held", start - timedelta(days=30)))
    for run_id, _, _ in runs:
        (tmp_path / "work" / run_id / "marts").mkdir(parents=True)
        # the Data Docs a run that published no version of its own keeps under its id
        (tmp_path / "reports" / "2024Q1" / f"run-{run_id}" / "validation").mkdir(parents=True)
    (tmp_path / "reports" / "2024Q1" / "v1" / "validation").mkdir(parents=True)
    (tmp_path / "work" / "running-now").mkdir()  # not on record: maybe running elsewhere
    (tmp_path / "work" / "backfill-1234").mkdir()

    removed = remove_finished_work(tmp_path, runs)

    assert KEEP_WORK_FOLDERS == 10
    # 14 finished runs, the newest 10 kept: run-00 .. run-03 go
    assert removed == ["run-03", "run-02", "run-01", "run-00"]
    assert sorted(path.name for path in (tmp_path / "work").iterdir()) == [
        "backfill-1234",
        *[f"run-{number:02d}" for number in range(4, 14)],
        "run-held",
        "running-now",
    ]
    assert sorted(path.name for path in (tmp_path / "reports" / "2024Q1").iterdir()) == [
        *[f"run-run-{number:02d}" for number in range(4, 14)],
        "run-run-held",
        "v1",
    ]


def test_a_home_without_work_folders_is_fine(tmp_path):
    assert remove_finished_work(tmp_path, [("a", "published", datetime.now(UTC))]) == []
