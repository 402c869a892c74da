"""Two writers on one home take turns; a run killed while publishing changes nothing.

Each run is a separate process running ingest → validate → compute → publish (the functions
the flow's tasks wrap), as two workers or a worker and a manual `thio run` would.
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


def test_two_runs_of_a_round_at_once_take_turns(tmp_path, worked_example):
    home = tmp_path / "home"
    first, second = _inputs(tmp_path, worked_example)
    children = [_child(home, first), _child(home, second)]
    outputs = [child.communicate(timeout=300) for child in children]
    assert [child.returncode for child in children] == [0, 0], outputs
    results = sorted(out.split() for out, _ in outputs)
    # different inputs: whichever came second is version 2 of the round
    assert results == [["published", "1"], ["published", "2"]]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute(
            "select version, status, n_firms from meta.publications order by version"
        ).fetchall() == [(1, "published", 3), (2, "published", 3)]
        assert con.execute("select count(*) from marts.firm_tcc").fetchone() == (6,)
        assert con.execute("select count(*) from meta.runs").fetchone() == (2,)
        assert con.execute("select distinct version from latest.firm_tcc").fetchall() == [(2,)]


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
