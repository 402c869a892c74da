"""thio.lock: the home's writer lock names its holder, bounds the wait, and dies with its
holder (a holder killed with SIGKILL, not asked to stop)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from thio.errors import ThioError
from thio.lock import LOCK_FILE, lock_holder, writer_lock

REPO = Path(__file__).resolve().parents[2]
HOLDER = """
import sys, time
sys.path.insert(0, {repo!r})
from pathlib import Path
from thio.lock import writer_lock
with writer_lock(Path({home!r}), holder="run-A"):
    print("held", flush=True)
    time.sleep(600)
"""


def _holder(home: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER.format(repo=str(REPO), home=str(home))],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_waiting_writer_names_the_holder_and_gives_up_in_time(tmp_path):
    home = tmp_path / "home"
    holder = _holder(home)
    try:
        named = lock_holder(home)
        assert (named.run_id, named.pid) == ("run-A", holder.pid)
        said: list[str] = []
        with (
            pytest.raises(ThioError) as refused,
            writer_lock(home, holder="run-B", wait_seconds=1.0, on_wait=said.append),
        ):
            pytest.fail("the lock was taken while another process held it")
        assert said == [f"waiting for {named.describe()} to finish writing {home}"]
        assert str(refused.value) == (
            f"{home}: the warehouse is still being written by {named.describe()} after 1 s; "
            "nothing was published (run the round again once it is done)"
        )
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_leaves_no_lock(tmp_path):
    home = tmp_path / "home"
    holder = _holder(home)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    # the kernel dropped the lock with the process: taken at once, no waiting
    said: list[str] = []
    with writer_lock(home, holder="run-B", wait_seconds=30.0, on_wait=said.append):
        assert lock_holder(home).run_id == "run-B"
    assert said == []
    # released: the file names nobody
    assert lock_holder(home) is None and (home / LOCK_FILE).read_text() == ""


def test_the_lock_is_reentrant_in_a_thread_and_exclusive_across_threads(tmp_path):
    import threading

    home = tmp_path / "home"
    with writer_lock(home, holder="outer"), writer_lock(home, holder="inner"):
        # the inner block took no second lock: the file still names the outer holder
        assert lock_holder(home).run_id == "outer"
        outcome: list[str] = []

        def other_thread() -> None:
            try:
                with writer_lock(home, holder="thread", wait_seconds=0.5):
                    outcome.append("taken")
            except ThioError:
                outcome.append("refused")

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert outcome == ["refused"]
    assert lock_holder(home) is None
