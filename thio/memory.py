"""How a run's process allocates memory: freed memory is kept for reuse, not handed back.

A round's big sheets are handled as columns of millions of values, and each step makes
and drops column-sized buffers (Arrow arrays, numpy codes and masks) many times over. By
default glibc serves every allocation above 32 MiB with a fresh ``mmap`` and unmaps it when
freed, and Arrow's mimalloc pool returns freed pages to the system after a few
milliseconds: every new buffer then costs a first-touch page fault per 4 KiB page, which the
kernel zero-fills. On the machines measured (2-core VMs) that was a third of the ingest and
validation time (docs/BENCHMARKS.md). :func:`reuse_freed_memory` makes the process keep what
it frees (up to ``_TRIM_THRESHOLD`` at the top of its heap) so that the next buffer of the
same size reuses those pages. DuckDB has its own allocator and is not affected.

The cost: the process's resident memory stays at its peak until it ends. A run's process
(``thio run``, a Prefect flow run) ends with the run; the peak itself does not grow.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import pyarrow as pa

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
# freed memory above this much at the heap's top is still given back (mallopt takes an int)
_TRIM_THRESHOLD = 2**31 - 1

_applied = False


def reuse_freed_memory() -> bool:
    """Make this process keep freed memory for reuse (glibc's heap for large blocks, Arrow
    on the system allocator). Idempotent; True when the settings are in force, False on a
    platform without glibc's ``mallopt`` (nothing is changed there)."""
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # large blocks from the heap, not from mmap (which unmaps them on free), and the heap
    # kept when its top is freed; each call returns 1 on success
    if not (mallopt(_M_MMAP_MAX, 0) and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)):
        return False
    # Arrow's default pool (mimalloc) gives freed pages back on its own; the system pool
    # allocates from the heap configured above
    pa.set_memory_pool(pa.system_memory_pool())
    _applied = True
    return True
