"""Tasks of the backfill flow: restore a round's archived inputs, clear them afterwards."""

import shutil
import uuid
from pathlib import Path

from prefect import task

from thio.audit import publication_inputs, restore_inputs
from thio.contract import check_round_id
from thio.runs import resolve_home


@task(name="restore-inputs")
def restore_round_inputs(home: str | None, round_id: str) -> dict:
    """The input files of the round's current published version, restored from the archive
    (raw/<round_id>/<sha256>.<ext>, each checked against its sha256) under their original
    names into a working folder of the home, and the archived mapping file they were read
    with: {"inputs": [...], "mapping": path or None}."""
    round_id = check_round_id(round_id)
    home = resolve_home(home)
    target = Path(home) / "work" / f"backfill-{uuid.uuid4().hex}"
    files, mapping = publication_inputs(Path(home), round_id)
    inputs = restore_inputs(Path(home), round_id, files, target, True, mapping is not None)
    return {"inputs": [str(path) for path in inputs], "mapping": str(mapping) if mapping else None}


@task(name="clear-restored")
def clear_restored(home: str | None, inputs: list[str]) -> None:
    """Delete the working folder restore_round_inputs made (never anything else)."""
    work = (Path(resolve_home(home)) / "work").resolve()
    for name in inputs:
        folder = Path(name).resolve()
        while folder.parent != work and folder != folder.parent:
            folder = folder.parent
        if folder.parent == work and folder.name.startswith("backfill-"):
            shutil.rmtree(folder, ignore_errors=True)
