"""Fault injection: `thio run` killed with SIGKILL (no chance to clean up) while it holds the
home's warehouse lock and Prefect slot, inside publish. Nothing of the killed run may stay
alive (its temporary Prefect server included), and the next run of the same home must
publish without waiting for the dead run's slot or lock.

The runs are real `thio run` processes with no Prefect server configured, as a field office
runs them; HOME is the test's, so nothing touches the user's ~/.prefect.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.fixtures.rounds import worked_example_csv

REPO = Path(__file__).resolve().parents[2]
THIO = str(Path(sys.executable).parent / "thio")
WAIT_SECONDS = 600


def _env(tmp_path: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
    env["HOME"] = str(tmp_path / "user")
    return env


def _processes() -> list[tuple[int, list[str], list[bytes]]]:
    """Living processes: (pid, /proc stat fields after the command name, command line)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if fields[0] not in ("Z", "X"):
            found.append((int(entry.name), fields, command))
    return found


def _session_processes(session: int) -> list[int]:
    """Living processes of a session (the killed run's: its temporary server)."""
    return [pid for pid, fields, _ in _processes() if int(fields[3]) == session]


def _watchdogs_of(pid: int) -> list[int]:
    return [
        found
        for found, _, command in _processes()
        if b"thio.watchdog" in command and str(pid).encode() in command
    ]


def _wait_until(what: str, found) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not found():
        assert time.monotonic() < deadline, f"{what}: not within {WAIT_SECONDS} s"
        time.sleep(0.01)


def _moments(home: Path) -> dict:
    """When to kill: each step's first trace on disk. The build copy exists only while
    the run holds the warehouse lock and the Prefect slot (inside publish)."""
    build = home / ".build"
    return {
        "ingest": lambda: any((home / "raw").glob("*/*")),
        "compute": lambda: any((home / "work").glob("*/compute.duckdb")),
        "audit": lambda: any((home / "reports").glob("*/run-*/validation")),
        "publish": lambda: build.is_dir() and any(build.glob("warehouse-*.duckdb")),
    }


def _kill_and_run_again(tmp_path: Path, worked_example: Path, moment: str) -> str:
    home = tmp_path / "home"
    inputs = worked_example_csv(worked_example, tmp_path / "csv")
    args = [THIO, "run", "--home", str(home), "--round", "2023Q1", str(inputs)]
    output = tmp_path / "killed.log"
    with open(output, "w") as handle:
        killed = subprocess.Popen(
            args, cwd=REPO, env=_env(tmp_path), stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    reached = _moments(home)[moment]

    def there() -> bool:
        assert killed.poll() is None, f"the run ended before {moment}: " + output.read_text()
        return reached()

    _wait_until(f"the run at {moment}", there)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    # the watchdog ends the killed run's temporary server, then itself
    _wait_until(
        "the killed run's processes gone",
        lambda: not _session_processes(killed.pid) and not _watchdogs_of(killed.pid),
    )

    again = subprocess.run(
        [*args, "--verbose"], cwd=REPO, env=_env(tmp_path), capture_output=True, text=True,
        timeout=WAIT_SECONDS,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    status = [line for line in again.stdout.splitlines() if line.startswith("round ")][-1]
    # killed before its swap (the usual case) the dead run published nothing: this run
    # publishes version 1; killed after it, version 1 is there and this run finds it equal
    assert status in (
        "round 2023Q1: version 1, 3 firms, published",
        "round 2023Q1: version 1, 3 firms, unchanged",
    )
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select version, n_firms from meta.publications").fetchall() == [(1, 3)]
    assert (home / ".prefect" / "prefect.db").exists()
    assert not (tmp_path / "user" / ".prefect" / "prefect.db").exists()
    assert not list((home / ".build").glob("warehouse-*.duckdb"))
    return again.stderr + again.stdout


def test_a_run_killed_inside_publish_leaves_nothing_that_stops_the_next(tmp_path, worked_example):
    output = _kill_and_run_again(tmp_path, worked_example, "publish")
    # the dead run's Prefect slot, on the home's own Prefect database, was given back
    assert "was held by a run that is gone; freed" in output


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["ingest", "compute", "audit"])
def test_a_run_killed_at_each_step_leaves_nothing_that_stops_the_next(
    tmp_path, worked_example, moment
):
    _kill_and_run_again(tmp_path, worked_example, moment)
