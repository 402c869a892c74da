"""A run of a survey round: its record, working folder and reconciliation of counts."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from thio.contract import check_round_id
from thio.errors import ThioError
from thio.memory import reuse_freed_memory
from thio.methodology import load_methodology
from thio.runinfo import code_version, new_run_id, package_versions

# Where the data home is when a deployment's ``home`` parameter is not given: the worker's
# environment (or the work pool's job variables) names it, so prefect.yaml needs no edit.
HOME_VARIABLE = "THIO_HOME"
DEFAULT_HOME = "thio-data"
# The quarterly schedule's timezone in prefect.yaml; a run that cannot read its deployment's
# schedule derives its quarter here.
DEFAULT_SCHEDULE_TIMEZONE = "Asia/Jakarta"


def resolve_home(home: str | Path | None) -> str:
    """The data home: the given one, else ``$THIO_HOME``, else ``./thio-data``."""
    if home:
        return str(home)
    return os.environ.get(HOME_VARIABLE) or DEFAULT_HOME


def schedule_zone(timezone: str | None) -> ZoneInfo:
    """The IANA timezone a schedule fires in (the default when None)."""
    name = timezone or DEFAULT_SCHEDULE_TIMEZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ThioError(f"schedule timezone {name!r} is not an IANA timezone name") from None


def quarter_before(moment: datetime, timezone: str | None = None) -> str:
    """The round id of the quarter that ended before ``moment`` on the calendar of the
    schedule's ``timezone`` (default Asia/Jakarta): Prefect hands a flow run its scheduled
    time in UTC, and 06:00 on 1 April in Jakarta is 23:00 on 31 March in UTC, which must
    still give Q1, not Q4 of the year before. A naive ``moment`` is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(schedule_zone(timezone))
    quarter = (local.month - 1) // 3 + 1
    year = local.year
    if quarter == 1:
        return f"{year - 1}Q4"
    return f"{year}Q{quarter - 1}"


def resolve_inputs(round_id: str, inputs: list[str] | None, home: str) -> list[str]:
    """The given inputs, or the round's inbox set: every export already processed from
    <home>/inbox/<round_id>/ plus those waiting there (thio.inbox)."""
    if inputs:
        return list(inputs)
    from thio.inbox import round_input_set

    inbox = Path(home) / "inbox" / check_round_id(round_id)
    if not inbox.is_dir():
        raise ThioError(f"no inputs given and no inbox folder {inbox}")
    return round_input_set(Path(home), round_id)


def start_run(
    round_id: str | None,
    inputs: list[str] | None,
    home: str | None,
    methodology: str | None,
    flow_run_id: str | None = None,
    flow_name: str | None = None,
    scheduled: datetime | None = None,
    mapping: str | None = None,
    timezone: str | None = None,
) -> dict[str, Any]:
    """Check a run's parameters and create its working folder; returns the run record.

    A null ``round_id`` is the quarter before ``scheduled`` (a scheduled run) in the
    schedule's ``timezone``; null ``inputs`` are the files in the round's inbox folder under
    ``home`` (null: ``$THIO_HOME`` or ./thio-data). The process then
    keeps the memory it frees for reuse (thio.memory): a run's steps allocate and drop
    column-sized buffers over and over.
    """
    reuse_freed_memory()
    home = resolve_home(home)
    if not round_id:
        round_id = quarter_before(scheduled or datetime.now(UTC), timezone)
    round_id = check_round_id(round_id)
    inputs = resolve_inputs(round_id, inputs, home)
    if not inputs:
        raise ThioError("no input given: name at least one workbook (.xlsx) or CSV folder")
    for name in inputs:
        if not Path(name).exists():
            raise ThioError(f"{name}: no such file or folder")
    loaded = load_methodology(methodology)
    mapping_sha256 = None
    if mapping is not None:
        try:
            mapping_sha256 = hashlib.sha256(Path(mapping).read_bytes()).hexdigest()
        except OSError as exc:
            name = Path(mapping).name
            raise ThioError(f"mapping file {name}: cannot be read ({exc.strerror})") from None
    run_id = flow_run_id or new_run_id()
    home_path = Path(home).resolve()
    archive_methodology(home_path, loaded.raw, loaded.sha256)
    work_dir = home_path / "work" / run_id
    work_dir.mkdir(parents=True, exist_ok=True)
    return {
        "run_id": run_id,
        "flow_run_id": flow_run_id,
        "flow_name": flow_name,
        "round_id": round_id,
        "home": str(home_path),
        "work_dir": str(work_dir),
        "inputs": [str(Path(name).resolve()) for name in inputs],
        "methodology_path": str(loaded.path.resolve()),
        "methodology_sha256": loaded.sha256,
        "started_at": datetime.now(UTC).isoformat(),
        "parameters": {
            "round_id": round_id,
            "inputs": list(inputs),
            "scheduled": scheduled.isoformat() if scheduled else None,
            "timezone": timezone,
            "home": str(home),
            "methodology": methodology,
            "mapping": mapping,
            "mapping_sha256": mapping_sha256,
        },
        "code_version": code_version(),
        "package_versions": package_versions(),
        "status": "running",
    }


def warehouse_key(home: str | Path) -> str:
    """A name for the data home (its resolved path, hashed): the key of its Prefect global
    concurrency limit, so runs writing the same warehouse take turns."""
    digest = hashlib.sha256(str(Path(home).resolve()).encode()).hexdigest()[:16]
    return f"thio-warehouse-{digest}"


def methodology_archive(home: Path, sha256: str) -> Path:
    """Where the methodology file of that sha256 is kept: <home>/methodology/<sha256>.yaml."""
    return Path(home) / "methodology" / f"{sha256}.yaml"


def archive_methodology(home: Path, raw: bytes, sha256: str) -> Path:
    """Keep the run's methodology bytes by their hash (written once, never changed), so that
    every publication's method can be read back and re-run (thio verify)."""
    target = methodology_archive(home, sha256)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(raw)
        os.replace(partial, target)
    return target


def run_methodology(run: dict[str, Any]):
    """Load the run's methodology again, refusing a file changed since the run started."""
    loaded = load_methodology(run["methodology_path"])
    if loaded.sha256 != run["methodology_sha256"]:
        raise ThioError(f"methodology file {loaded.path.name} changed while the run was going on")
    return loaded
