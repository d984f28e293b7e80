"""Keep freed memory in the process between chunks (glibc's ``mallopt``).

Each chunk of draws allocates and frees a few hundred numpy arrays of one to
ten megabytes.  With glibc's default settings such blocks are handed back to
the kernel when they are freed (``munmap``, or trimming the top of the heap),
so the next chunk faults the same pages in again: on the development machine
that was ~7,000 page faults and ~12 ms of a ~114 ms chunk of 500 PFP draws.
:func:`keep_freed_memory` raises the two thresholds so that blocks up to
:data:`MMAP_THRESHOLD_BYTES` come from the heap and up to
:data:`TRIM_THRESHOLD_BYTES` of free heap is kept for reuse.  Peak memory is
unchanged (the next chunk needs the same blocks again); results are unchanged
(it only changes where memory comes from).

It is process-wide and cannot be undone, so it is applied only in processes
that are sibmodel's own: the ``sibmodel`` command (:mod:`sibmodel.cli.commands`) and its
pool workers (:mod:`sibmodel.engine.execution`).  Not in a program that calls the library
(a notebook: call :func:`keep_freed_memory` there if wanted), nor in Dask's
workers, which Dask tunes itself (``MALLOC_TRIM_THRESHOLD_``).  Elsewhere than on
glibc (macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import sys

#: Blocks at most this large come from the heap, not from their own mapping [bytes]
#: (glibc's largest dynamic threshold on 64-bit systems).
MMAP_THRESHOLD_BYTES = 32 * 1024**2

#: Free memory at the top of the heap kept for reuse rather than returned [bytes].
TRIM_THRESHOLD_BYTES = 256 * 1024**2

# mallopt parameter numbers, from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Ask glibc's allocator to keep freed blocks for reuse (once per process).

    Returns
    -------
    bool
        Whether the settings are in effect (``False`` where the C library is not
        glibc or refuses them).
    """
    global _applied
    if _applied is None:
        _applied = _apply()
    return _applied


def _apply() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return False
    if not (hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt")):  # glibc only (not musl)
        return False
    mallopt = libc.mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) & bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
