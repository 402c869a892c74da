"""A full disk while publishing (issue 12, item 7): the publish step retries (docs/operations.md,
"retries twice ... on I/O errors") and the run then publishes, its console output the usual
lines, no traceback. The disk is a real small tmpfs where this process may mount one (root);
elsewhere the first attempt raises the error DuckDB raised on that tmpfs."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

import thio.publish
from tasks.publish import is_io_trouble
from thio.cli import cli
from thio.errors import ThioError

# The build file of the worked example's warehouse is several hundred KiB: it cannot fit.
FULL_SIZE = "64k"
FREED_SIZE = "64m"
# Room left on the filled disk: DuckDB creates the build file, then cannot write it all.
LEFT_ROOM = 64 * 1024
# The error DuckDB 2.0 raised when a build file's checkpoint met a full tmpfs.
DUCKDB_DISK_FULL = (
    'FATAL Error: Failed to create checkpoint because of error: Could not write file "/x/'
    'warehouse-1.duckdb": No space left on device'
)


def _mount(folder: Path, size: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def _remount(folder: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(folder)], check=True)


@pytest.fixture
def small_disk(tmp_path):
    """A folder on a tmpfs of FULL_SIZE (None where no tmpfs can be mounted)."""
    folder = tmp_path / "disk"
    mounted = _mount(folder, FULL_SIZE)
    yield folder if mounted else None
    if mounted:
        # lazily: the run's log handler keeps <home>/logs/thio.log open for the session
        subprocess.run(["umount", "--lazy", str(folder)], check=True)


def test_io_trouble_is_told_from_bad_input(small_disk):
    if small_disk is not None:
        with (
            duckdb.connect(str(small_disk / "full.duckdb")) as con,
            pytest.raises(duckdb.Error) as raised,
        ):
            con.execute("create table t as select range, md5(range::varchar) from range(100000)")
        full = raised.value
        assert os.strerror(errno.ENOSPC) in str(full)
    else:
        full = duckdb.FatalException(DUCKDB_DISK_FULL)
    assert is_io_trouble(full)
    assert is_io_trouble(duckdb.FatalException(DUCKDB_DISK_FULL))
    assert is_io_trouble(duckdb.TransactionException("Failed to commit: Disk quota exceeded"))
    assert is_io_trouble(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    assert is_io_trouble(duckdb.IOException("Could not read enough bytes"))
    assert not is_io_trouble(duckdb.ConstraintException("Duplicate key"))
    assert not is_io_trouble(ThioError("items.csv, sheet items, row 9: 12 is outside 1..9"))
    assert not is_io_trouble(ValueError("No space left on device"))


def _fill(folder: Path, leave: int) -> Path:
    """Fill the filesystem of ``folder`` up to ``leave`` bytes; the filler file."""
    filler = folder / "filler.bin"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    with open(filler, "r+b") as handle:
        handle.truncate(max(filler.stat().st_size - leave, 0))
    return filler


@pytest.mark.usefixtures("prefect_harness")
def test_a_full_disk_while_publishing_is_retried(tmp_path, small_disk, worked_example, monkeypatch):
    # the data home on the small disk (grown to hold the run), filled when publish starts
    home = tmp_path / "home"
    if small_disk is not None:
        _remount(small_disk, FREED_SIZE)
        home = small_disk / "home"
    attempts = []
    clear = thio.publish.remove_stale_builds

    def attempt(folder: Path) -> None:
        # every attempt of the publish step starts here, holding the writer lock
        attempts.append(folder)
        if small_disk is None:
            if len(attempts) == 1:
                raise duckdb.FatalException(DUCKDB_DISK_FULL)
        elif len(attempts) == 1:
            # room for the build file's first blocks, not for its checkpoint
            _fill(small_disk, leave=LEFT_ROOM)
        else:
            (small_disk / "filler.bin").unlink()  # the operator frees the disk
        clear(folder)

    monkeypatch.setattr(thio.publish, "remove_stale_builds", attempt)
    result = CliRunner().invoke(
        cli,
        ["run", "--home", str(home), "--round", "2023Q1", str(worked_example / "csv")],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert len(attempts) == 2
    lines = result.output.splitlines()
    assert "Traceback" not in result.output and "Logging error" not in result.output
    # the usual run summary: one line per file, the Data Docs, the publication
    assert len(lines) == 6, lines
    assert lines[-1] == "round 2023Q1: version 1, 3 firms, published"
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from latest.firm_tcc").fetchone() == (3,)
