"""Retract a published version: it stays queryable, ``latest.*`` falls back to the previous one.

A retraction is a write like a publication: it takes the home's writer lock, changes a copy
of the warehouse in one transaction (the publication's status, when and why; the cross-round
marts, which read each round's current version), and swaps the copy in atomically, so that
readers never see it half done.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from thio.contract import check_round_id
from thio.errors import ThioError
from thio.publish import (
    PREVIOUS_FILE,
    _create_latest_views,
    _create_tables,
    _rebuild_cross_round,
    _swap_in,
    remove_stale_builds,
    warehouse_path,
    writer_lock,
)


def retract_version(home: Path, round_id: str, version: int, reason: str) -> dict[str, Any]:
    """Mark (round_id, version) retracted with ``reason``; returns the round's current
    published version afterwards (None when no version is left)."""
    home = Path(home)
    round_id = check_round_id(round_id)
    reason = " ".join(reason.split())
    if not reason:
        raise ThioError("give a reason for the retraction (--reason)")
    published = warehouse_path(home)
    if not published.exists():
        raise ThioError(f"{published}: no published warehouse yet")
    build_dir = home / ".build"
    build_dir.mkdir(parents=True, exist_ok=True)
    with writer_lock(home):
        remove_stale_builds(build_dir)
        build = build_dir / f"warehouse-retract-{uuid.uuid4().hex}.duckdb"
        shutil.copyfile(published, build)
        try:
            with duckdb.connect(str(build)) as con:
                con.execute("begin transaction")
                tables_changed = _create_tables(con)
                row = con.execute(
                    "select status from meta.publications where round_id = ? and version = ?",
                    [round_id, version],
                ).fetchone()
                if row is None:
                    raise ThioError(f"round {round_id} has no version {version}")
                if row[0] == "retracted":
                    raise ThioError(f"round {round_id} version {version} is already retracted")
                con.execute(
                    "update meta.publications set status = 'retracted', retracted_at = ?, "
                    "retract_reason = ? where round_id = ? and version = ?",
                    [datetime.now(UTC), reason, round_id, version],
                )
                _rebuild_cross_round(con)
                current = con.execute(
                    "select max(version) from meta.publications where round_id = ? "
                    "and status = 'published'",
                    [round_id],
                ).fetchone()[0]
                _create_latest_views(con, tables_changed)
                con.execute("commit")
                con.execute("checkpoint")
        except BaseException:
            build.unlink(missing_ok=True)
            raise
        _swap_in(build, published, home / PREVIOUS_FILE)
    return {"round_id": round_id, "retracted": version, "current_version": current}
