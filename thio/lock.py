"""The home's single-writer lock: the one thing that decides who writes the warehouse.

An exclusive ``flock`` on ``<home>/.warehouse.lock``. The kernel drops it when its holder's
process ends, however it ends (``kill -9`` included), so it can never outlive its holder
and a killed run never wedges the home. The holder writes who it is into the file (run,
pid, host, since when): a writer that has to wait says whom it waits for, and gives up
after a bounded time with a message naming the holder.

The lock is re-entrant within a thread (the publish task holds it around the publication,
which takes it again); two threads or two processes take turns.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from thio.errors import ThioError

LOCK_FILE = ".warehouse.lock"
# How long a writer waits for the home's lock before it gives up (nothing is published;
# the run can be repeated). A publication takes seconds; an hour means something is wrong.
LOCK_WAIT_SECONDS = 3600.0
# How often a waiting writer tries the lock again.
LOCK_POLL_SECONDS = 0.2

_held = threading.local()


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or last held) a home's lock, as it wrote itself into the lock file."""

    run_id: str | None
    pid: int | None
    host: str | None
    since: str | None

    def describe(self) -> str:
        return (
            f"run {self.run_id or '(unknown)'} (pid {self.pid} on {self.host}, since {self.since})"
        )


def lock_holder(home: Path) -> LockHolder | None:
    """The holder the home's lock file names; None when it names nobody."""
    try:
        text = (Path(home) / LOCK_FILE).read_text(encoding="utf-8")
        fields = json.loads(text) if text.strip() else None
    except (OSError, ValueError):
        return None
    if not isinstance(fields, dict):
        return None
    return LockHolder(
        fields.get("run_id"), fields.get("pid"), fields.get("host"), fields.get("since")
    )


def _try_lock(handle) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def writer_lock(
    home: Path,
    holder: str | None = None,
    wait_seconds: float = LOCK_WAIT_SECONDS,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the home's single-writer lock for the block. ``holder`` (a run id) is written
    into the lock file; a writer that must wait calls ``on_wait`` once with whom it waits
    for, and raises ThioError after ``wait_seconds``."""
    home = Path(home)
    key = str(home.resolve())
    depths: dict[str, int] = _held.__dict__.setdefault("depths", {})
    if depths.get(key):
        depths[key] += 1
        try:
            yield
        finally:
            depths[key] -= 1
        return
    home.mkdir(parents=True, exist_ok=True)
    with open(home / LOCK_FILE, "a+", encoding="utf-8") as handle:
        if not _try_lock(handle):
            waiting_for = lock_holder(home)
            who = waiting_for.describe() if waiting_for else "another writer"
            if on_wait is not None:
                on_wait(f"waiting for {who} to finish writing {home}")
            deadline = time.monotonic() + wait_seconds
            while not _try_lock(handle):
                if time.monotonic() > deadline:
                    raise ThioError(
                        f"{home}: the warehouse is still being written by {who} after "
                        f"{wait_seconds:.0f} s; nothing was published (run the round again "
                        "once it is done)"
                    )
                time.sleep(LOCK_POLL_SECONDS)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(
                json.dumps(
                    {
                        "run_id": holder,
                        "pid": os.getpid(),
                        "host": socket.gethostname(),
                        "since": datetime.now(UTC).isoformat(timespec="seconds"),
                    }
                )
            )
            handle.flush()
            depths[key] = 1
            try:
                yield
            finally:
                depths[key] = 0
                handle.seek(0)
                handle.truncate()
                handle.flush()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
