"""thio.memory: a run's process keeps freed memory for reuse."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_a_run_process_allocates_arrow_memory_from_the_system_heap():
    """In a fresh process (the settings are process-wide): Arrow starts on its bundled
    pool and is on the system allocator once a run starts (on glibc; elsewhere nothing
    changes); a second call changes nothing."""
    script = textwrap.dedent(
        """
        import pyarrow as pa
        from thio.memory import reuse_freed_memory
        before = pa.default_memory_pool().backend_name
        first, second = reuse_freed_memory(), reuse_freed_memory()
        after = pa.default_memory_pool().backend_name
        data = pa.array(range(1_000_000))  # allocated from the system pool, readable
        print(before, first, second, after, data[999_999].as_py())
        """
    )
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert output[0] in ("mimalloc", "jemalloc")
    if sys.platform.startswith("linux"):  # glibc: the settings apply
        assert output[1:] == ["True", "True", "system", "999999"]
    else:  # no mallopt: nothing is changed
        assert output[1:] == ["False", "False", output[0], "999999"]
