"""Ends what a killed ``thio run`` leaves behind: its temporary Prefect server.

``thio run`` without a configured server starts a temporary Prefect API server as a child
process and stops it when it exits. Killed outright (``kill -9``, the OOM killer), the run
cannot stop it: the server would run on, orphaned, holding a few hundred MB. So the run
starts this watchdog in a session of its own (``python -m thio.watchdog PID``): while the
run lives, the watchdog notes its descendant processes; once the run is gone, it ends those
still alive (SIGTERM, then SIGKILL after a grace period) and exits itself.

Linux only (it reads /proc); elsewhere it is not started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PROC = Path("/proc")
# How often the watchdog looks at the run.
POLL_SECONDS = 0.5
# How long the run's leftovers get to stop after SIGTERM before SIGKILL.
GRACE_SECONDS = 10.0


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a process, None when there is none."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # the command name is in parentheses and may hold spaces: split after its last ")"
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[19])


def _alive(pid: int, started: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[2] == started and stat[0] not in ("Z", "X")


def descendants(pid: int) -> dict[int, int]:
    """The living descendants of ``pid``: {pid: start time}."""
    parents: dict[int, list[tuple[int, int]]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is not None and stat[0] not in ("Z", "X"):
            parents.setdefault(stat[1], []).append((int(entry.name), stat[2]))
    found: dict[int, int] = {}
    todo = [pid]
    while todo:
        for child, started in parents.get(todo.pop(), []):
            if child not in found:
                found[child] = started
                todo.append(child)
    return found


def watch(pid: int, started: int) -> None:
    """Note ``pid``'s descendants while it lives; end those left when it is gone."""
    known: dict[int, int] = {}
    while _alive(pid, started):
        known.update(descendants(pid))
        known.pop(os.getpid(), None)  # the watchdog is the run's child too
        time.sleep(POLL_SECONDS)
    left = {child: start for child, start in known.items() if _alive(child, start)}
    for child in left:
        _signal(child, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while left and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        left = {child: start for child, start in left.items() if _alive(child, start)}
    for child in left:
        _signal(child, signal.SIGKILL)


def _signal(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, number)


def start_watchdog() -> subprocess.Popen | None:
    """Watch this process from a process of its own session (not stopped with this one's
    process group); None where there is no /proc."""
    own = _stat(os.getpid())
    if own is None:
        return None
    return subprocess.Popen(
        [sys.executable, "-m", "thio.watchdog", str(os.getpid()), str(own[2])],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


if __name__ == "__main__":
    watch(int(sys.argv[1]), int(sys.argv[2]))
