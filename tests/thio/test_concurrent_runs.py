"""Two writers on one home take turns; a run killed while publishing changes nothing.

Each run is a separate process, as two workers or a worker and a manual `thio run` would be:
the turn-taking test runs two real `thio run` processes (the flow, its warehouse slot and
the home's file lock); the others run ingest → validate → compute → publish (the functions
the flow's tasks wrap).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from tests.thio.test_publish import run_round
from thio.lock import lock_holder

REPO = Path(__file__).resolve().parents[2]
CHILD = """
import sys, time
from pathlib import Path
sys.path.insert(0, {repo!r})
from tests.thio.test_publish import run_round
if {pause!r}:
    import thio.publish as publish
    original = publish._rebuild_cross_round
    def stalled(con):
        original(con)  # the new version is written into the build file, not yet swapped in
        Path({pause!r}).write_text("publishing")
        time.sleep(120)
    publish._rebuild_cross_round = stalled
report = run_round(Path({home!r}), [Path({folder!r})])
print(report["publication"]["status"], report["publication"]["version"])
"""


# Bounded waits: two `thio run` processes on two shared cores take a minute or two.
WAIT_SECONDS = 600
# `thio run` whose publish stalls holding the home's lock, its new version written into the
# build file, until the test creates the go file.
STALLED_CLI = """
import sys, time
from pathlib import Path
sys.path.insert(0, {repo!r})
import thio.publish as publish
original = publish._rebuild_cross_round
def stalled(con):
    original(con)
    Path({publishing!r}).write_text("publishing")
    deadline = time.monotonic() + {wait!r}
    while not Path({go!r}).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
publish._rebuild_cross_round = stalled
from thio.cli import cli
cli(["run", "--home", {home!r}, "--round", "2023Q1", {folder!r}], prog_name="thio")
"""
# A plain `thio run`, its Prefect logs (the slot's "waiting for ...") on the console.
PLAIN_CLI = """
from thio.cli import cli
cli(["run", "--verbose", "--home", {home!r}, "--round", "2023Q1", {folder!r}], prog_name="thio")
"""


def _child(home: Path, folder: Path, pause: Path | None = None) -> subprocess.Popen:
    code = CHILD.format(repo=str(REPO), home=str(home), folder=str(folder),
                        pause=str(pause) if pause else "")  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _inputs(tmp_path: Path, worked_example: Path) -> tuple[Path, Path]:
    first = tmp_path / "first" / "csv"
    shutil.copytree(worked_example / "csv", first)
    second = tmp_path / "second" / "csv"
    shutil.copytree(worked_example / "csv", second)
    sota = second / "sota.csv"
    sota.write_text(
        sota.read_text().replace("F001,T,T1,T.op_complexity,E1,5", "F001,T,T1,T.op_complexity,E1,9")
    )
    return first, second


def _cli_env(tmp_path: Path) -> dict[str, str]:
    # as a field office runs `thio run`: no Prefect server configured, so each run starts a
    # temporary one on the home's own Prefect database; HOME is the test's, not the user's
    env = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
    env["HOME"] = str(tmp_path / "user")
    return env


def _thio_run(tmp_path: Path, code: str, log: Path) -> subprocess.Popen:
    with open(log, "w") as handle:
        return subprocess.Popen(
            [sys.executable, "-c", code], cwd=REPO, env=_cli_env(tmp_path), stdout=handle,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def _wait_for(what: str, found, children: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not found():
        for child, log in zip(children, logs, strict=False):
            assert child.poll() is None, f"{what}: a run ended first: {log.read_text()}"
        assert time.monotonic() < deadline, f"{what}: not within {WAIT_SECONDS} s"
        time.sleep(0.05)


def test_two_runs_of_a_round_at_once_take_turns(tmp_path, worked_example):
    """Two real `thio run` processes (Prefect flow, warehouse slot, file lock) on one home,
    made to overlap: the first stalls inside publish holding the lock until the test lets it
    go, and is let go only once the second is seen waiting for it."""
    home = tmp_path / "home"
    first, second = _inputs(tmp_path, worked_example)
    publishing, go = tmp_path / "publishing", tmp_path / "go"
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    holder = _thio_run(
        tmp_path,
        STALLED_CLI.format(
            repo=str(REPO), home=str(home), folder=str(first), publishing=str(publishing),
            go=str(go), wait=WAIT_SECONDS,
        ),
        logs[0],
    )  # fmt: skip
    children = [holder]
    try:
        _wait_for("the first run inside publish", publishing.exists, children, logs)
        named = lock_holder(home)
        assert named is not None and named.pid == holder.pid

        children.append(
            _thio_run(tmp_path, PLAIN_CLI.format(home=str(home), folder=str(second)), logs[1])
        )
        waiting = f"waiting for run {named.run_id} (pid {holder.pid} on "
        _wait_for("the second run waiting", lambda: waiting in logs[1].read_text(), children, logs)
        assert not go.exists() and holder.poll() is None  # still holding: they overlapped
        go.write_text("go")
        for child in children:
            child.wait(timeout=WAIT_SECONDS)
    finally:
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
    outputs = [log.read_text() for log in logs]
    assert [child.returncode for child in children] == [0, 0], outputs
    statuses = [
        [line for line in output.splitlines() if line.startswith("round ")][-1]
        for output in outputs
    ]
    assert statuses == [
        "round 2023Q1: version 1, 3 firms, published",
        "round 2023Q1: version 2, 3 firms, published",
    ]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute(
            "select version, status, n_firms from meta.publications order by version"
        ).fetchall() == [(1, "published", 3), (2, "published", 3)]
        # version 1 is the run the second waited for
        first_version = "select run_id from meta.publications where version = 1"
        assert con.execute(first_version).fetchone() == (named.run_id,)
        assert con.execute("select count(*) from marts.firm_tcc").fetchone() == (6,)
        assert con.execute("select count(*) from meta.runs").fetchone() == (2,)
        assert con.execute("select distinct version from latest.firm_tcc").fetchall() == [(2,)]
    assert not (tmp_path / "user" / ".prefect").exists()


def test_the_same_inputs_twice_at_once_make_one_version(tmp_path, worked_example):
    home = tmp_path / "home"
    first, _ = _inputs(tmp_path, worked_example)
    children = [_child(home, first), _child(home, first)]
    outputs = sorted(child.communicate(timeout=300)[0].split() for child in children)
    assert outputs == [["published", "1"], ["unchanged", "1"]]


def test_a_run_killed_while_publishing_leaves_the_warehouse_as_it_was(tmp_path, worked_example):
    home = tmp_path / "home"
    first, second = _inputs(tmp_path, worked_example)
    assert run_round(home, [first])["publication"]["version"] == 1
    published = home / "warehouse.duckdb"
    before = hashlib.sha256(published.read_bytes()).hexdigest()

    marker = tmp_path / "publishing"
    child = _child(home, second, pause=marker)
    deadline = time.monotonic() + 240
    while not marker.exists():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    assert hashlib.sha256(published.read_bytes()).hexdigest() == before
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("select version from meta.publications").fetchall() == [(1,)]
    assert list((home / ".build").glob("warehouse-*.duckdb"))  # the killed run's half build

    report = run_round(home, [second])
    assert (report["publication"]["status"], report["publication"]["version"]) == ("published", 2)
    assert not [path.name for path in (home / ".build").iterdir() if path.name.endswith(".duckdb")]
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute(
            "select version, status from meta.publications order by version"
        ).fetchall() == [(1, "published"), (2, "published")]
