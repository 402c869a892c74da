"""The inbox: survey exports dropped into ``<home>/inbox/<round_id>/`` during the quarter.

A data team (or a sync job) drops workbooks, CSV files, ODK zips or folders of CSV files into
the round's inbox folder. The inbox flow looks every few minutes:

1. **Pending entries** are the files and folders directly in ``inbox/<round_id>/`` except
   hidden ones, Office lock files (``~$...``), partial downloads (``.part``, ``.tmp``,
   ``.crdownload``) and the ``processed/`` and ``rejected/`` folders. A folder name that is not
   a round id is ignored with a warning (it never becomes part of a path we build).
2. **Settled:** an entry whose size or modification time changes between two looks a few
   seconds apart is still being copied; it waits for the next look.
3. **Duplicates:** a file whose bytes (sha256) equal a file already processed for the round is
   not run again; it is removed from the inbox and reported.
4. **One run per round** over the round's whole input set: every entry already in
   ``processed/`` plus the new ones (a new entry replaces a processed one of the same name:
   that is how a corrected export is sent again).
5. **Filing** after the run: an entry whose every file was rejected goes to ``rejected/`` with
   ``<name>.why.txt`` beside it giving the reasons. When the round was published (or was
   unchanged) the others go to ``processed/`` (their bytes are archived under
   ``raw/<round_id>/<sha256>.<ext>`` by the run itself). When the round published nothing,
   they go where a person will look, each with a ``.why.txt``: ``held/`` (warning
   expectations failed: release the run with ``thio release`` or send the files again with
   ``force_warnings``) or ``blocked/`` (a blocking check failed, or the round lacks a
   sheet): running them again every few minutes would only fail again. When the run stops
   on an error, nothing is moved, so the next look tries again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

from thio.contract import ROUND_ID_PATTERN
from thio.errors import ThioError
from thio.report import file_problem, outcome_message

INBOX_DIR = "inbox"
PROCESSED_DIR = "processed"
REJECTED_DIR = "rejected"
HELD_DIR = "held"
BLOCKED_DIR = "blocked"
# Folders of a round's inbox that hold filed exports, never new ones.
FILED_DIRS = (PROCESSED_DIR, REJECTED_DIR, HELD_DIR, BLOCKED_DIR)
# Where the exports of a round that published nothing go, by the run's status.
UNPUBLISHED_DIRS = {"held": HELD_DIR, "blocked": BLOCKED_DIR, "rejected": BLOCKED_DIR}
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".download")


def inbox_path(home: Path) -> Path:
    """``<home>/inbox``."""
    return Path(home) / INBOX_DIR


def _is_candidate(path: Path) -> bool:
    name = path.name
    if name.startswith((".", "~$")) or name.lower().endswith(PARTIAL_SUFFIXES):
        return False
    if path.is_dir():
        return name not in FILED_DIRS
    return path.is_file()


def pending_entries(home: Path) -> tuple[dict[str, list[Path]], list[str]]:
    """New entries per round folder of the inbox, and warnings about folders ignored."""
    root = inbox_path(home)
    pending: dict[str, list[Path]] = {}
    warnings: list[str] = []
    if not root.is_dir():
        return pending, warnings
    for folder in sorted(root.iterdir(), key=lambda item: item.name):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        if not ROUND_ID_PATTERN.fullmatch(folder.name):
            warnings.append(
                f"inbox: folder {folder.name!r} is not a round id (YYYYQn or YYYY); ignored"
            )
            continue
        entries = [path for path in sorted(folder.iterdir()) if _is_candidate(path)]
        if entries:
            pending[folder.name] = entries
    return pending, warnings


def _look(path: Path) -> tuple[int, int]:
    """(bytes, latest modification) of a file, or of the files directly in a folder."""
    if path.is_dir():
        stats = [child.stat() for child in path.iterdir() if child.is_file()]
        return sum(stat.st_size for stat in stats), max((s.st_mtime_ns for s in stats), default=0)
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def settled_entries(
    entries: dict[str, list[Path]], wait_seconds: float
) -> tuple[dict[str, list[Path]], list[Path]]:
    """The entries that did not change between two looks ``wait_seconds`` apart, per round,
    and those still changing (being copied in)."""
    everything = [path for paths in entries.values() for path in paths]
    if not everything:
        return {}, []
    first = {path: _look(path) for path in everything}
    time.sleep(wait_seconds)
    ready: dict[str, list[Path]] = {}
    settling: list[Path] = []
    for round_id, paths in entries.items():
        for path in paths:
            try:
                same = path.exists() and _look(path) == first[path]
            except OSError:
                same = False
            if same:
                ready.setdefault(round_id, []).append(path)
            else:
                settling.append(path)
    return ready, settling


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _processed_hashes(folder: Path) -> dict[str, str]:
    hashes: dict[str, str] = {}
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.is_file():
                hashes[_sha256(path)] = path.name
    return hashes


def plan_round(home: Path, round_id: str, new: list[Path]) -> dict[str, Any]:
    """The run of one round: its inputs (processed entries plus the new ones, a new entry
    replacing a processed one of the same name), the new entries, and the new files that
    are exact copies of a processed file (dropped, not run)."""
    if not ROUND_ID_PATTERN.fullmatch(round_id):
        raise ThioError(f"inbox: {round_id!r} is not a round id")
    folder = inbox_path(home) / round_id
    processed_dir = folder / PROCESSED_DIR
    known = _processed_hashes(processed_dir)
    fresh: list[Path] = []
    duplicates: list[dict[str, str]] = []
    for path in new:
        if path.is_file() and (same := known.get(_sha256(path))) is not None:
            duplicates.append({"entry": str(path), "same_as": same})
        else:
            fresh.append(path)
    replaced = {path.name for path in fresh}
    kept = []
    if processed_dir.is_dir():
        kept = [
            path
            for path in sorted(processed_dir.iterdir())
            if _is_candidate(path) and path.name not in replaced
        ]
    return {
        "round_id": round_id,
        "inputs": [str(path) for path in [*kept, *fresh]],
        "new": [str(path) for path in fresh],
        "duplicates": duplicates,
    }


def round_input_set(home: Path, round_id: str) -> list[str]:
    """Every export of the round: the processed ones and those waiting in the inbox (a
    waiting one replacing a processed one of the same name); rejected ones are not."""
    folder = inbox_path(home) / round_id
    waiting = (
        [path for path in sorted(folder.iterdir()) if _is_candidate(path)]
        if folder.is_dir()
        else []
    )
    return plan_round(home, round_id, waiting)["inputs"]


def drop_duplicates(plan: dict[str, Any]) -> list[str]:
    """Remove the duplicate entries of a plan from the inbox; one line per entry."""
    lines = []
    for duplicate in plan["duplicates"]:
        path = Path(duplicate["entry"])
        path.unlink(missing_ok=True)
        lines.append(
            f"{plan['round_id']}: {path.name}: same bytes as processed/{duplicate['same_as']}; "
            "not run again"
        )
    return lines


def _files_of(entry: Path, report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's file rows that came from an inbox entry (a file, or a folder's files)."""
    name = entry.name
    return [
        row
        for row in report.get("files", [])
        if row["file_name"] == name or row["file_name"].startswith(f"{name}/")
    ]


def _why_unpublished(report: dict[str, Any], entry: str) -> str:
    """The .why.txt of an export whose round published nothing: the outcome, what to do,
    and the problems the run found."""
    status = report["publication"]["status"]
    lines = [outcome_message(report), ""]
    if status == "held":
        lines.append(
            f"To publish the round as it was computed: thio release --round {report['round_id']}"
            f' --run {report["run_id"]} --reason "..." (or approve the paused flow run in '
            f"Prefect); to run it again regardless of the warnings, move {entry} back into the "
            "inbox and run the deployment with force_warnings."
        )
    else:
        lines.append(f"Correct the export and drop it into the inbox again as {entry}.")
    problems = report.get("messages") or []
    if problems:
        lines += ["", "Problems found:", *problems]
    return "\n".join(lines) + "\n"


def file_entries(plan: dict[str, Any], report: dict[str, Any]) -> list[str]:
    """Move the plan's new entries to ``processed/``, to ``rejected/`` (every file of the
    entry refused) or, when the round published nothing, to ``held/`` or ``blocked/``, each
    of the last three with a ``<name>.why.txt``; one line per entry."""
    status = report["publication"]["status"]
    unpublished = UNPUBLISHED_DIRS.get(status)
    lines = []
    for name in plan["new"]:
        entry = Path(name)
        if not entry.exists():
            continue
        round_folder = entry.parent  # new entries lie directly in inbox/<round_id>/
        rows = _files_of(entry, report)
        rejected = bool(rows) and all(row["status"] == "rejected" for row in rows)
        folder = REJECTED_DIR if rejected else (unpublished or PROCESSED_DIR)
        target_dir = round_folder / folder
        target_dir.mkdir(exist_ok=True)
        target = target_dir / entry.name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        os.replace(entry, target)
        why = target_dir / f"{entry.name}.why.txt"
        if rejected:
            text = "\n".join(f"{row['file_name']}: {file_problem(row)}" for row in rows) + "\n"
            why.write_text(text, encoding="utf-8")
            lines.append(
                f"{plan['round_id']}: {entry.name}: rejected (see rejected/{entry.name}.why.txt)"
            )
        elif unpublished:
            why.write_text(_why_unpublished(report, entry.name), encoding="utf-8")
            lines.append(
                f"{plan['round_id']}: {entry.name}: {status}, nothing published "
                f"(see {folder}/{entry.name}.why.txt)"
            )
        else:
            lines.append(f"{plan['round_id']}: {entry.name}: processed")
    return lines
