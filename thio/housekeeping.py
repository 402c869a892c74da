"""Scratch files of finished runs: ``<home>/work/<run_id>/`` and the audit copy of a run
that published no version of its own (``<home>/reports/<round>/run-<run_id>/``: the Data
Docs of a blocked or unchanged run, each a full static site) are removed once the run is
on record and newer runs have followed it; the checks stay in meta.validation_results.

A run's work folder holds its raw and accepted parquet files, its compute database and
marts: hundreds of MB for a national round, and nothing reads them once the run is
recorded (``thio verify`` and ``thio quarantine`` read the archived inputs again when the
folder is gone). Kept: the newest folders (a re-run or an auditor may still look), every
folder of a **held** run (``thio release`` publishes from it), and every folder of a run
not on record yet (it may be running now, in another process).
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

# How many finished runs keep their work folder (the newest by start time).
KEEP_WORK_FOLDERS = 10
# Runs whose work folder is never removed: a held run's staged files are what a release
# publishes.
KEPT_STATUSES = ("held",)


def remove_finished_work(home: Path, runs: list[tuple[str, str, datetime]]) -> list[str]:
    """Remove the work folders of finished runs beyond the newest KEEP_WORK_FOLDERS;
    ``runs`` are meta.runs' (run_id, status, started_at). Returns the run ids removed."""
    work = Path(home) / "work"
    reports = Path(home) / "reports"
    finished = sorted(
        (row for row in runs if row[1] not in KEPT_STATUSES),
        key=lambda row: row[2],
        reverse=True,
    )
    removed = []
    for run_id, _, _ in finished[KEEP_WORK_FOLDERS:]:
        # run ids are ours (a flow run's uuid or thio.runinfo.new_run_id), never a path
        folders = [work / run_id, *reports.glob(f"*/run-{run_id}")]
        found = [folder for folder in folders if folder.is_dir()]
        for folder in found:
            shutil.rmtree(folder, ignore_errors=True)
        if found:
            removed.append(run_id)
    return removed
