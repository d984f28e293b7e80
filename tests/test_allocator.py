"""The allocator settings of the chunk processes (sibmodel/allocator.py).

Checked against glibc's own account of its heap, ``mallinfo2`` (glibc >= 2.33):
with the settings, a freed 10 MB numpy array stays in the heap for the next
chunk instead of being unmapped.  Run in a child process, because the settings
are process-wide.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

from sibmodel.allocator import keep_freed_memory

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

_PROBE = textwrap.dedent(
    """
    import ctypes, sys
    import numpy as np
    from sibmodel.allocator import keep_freed_memory

    class Info(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in
                    "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = Info

    def freed_block_kept():
        a = np.ones(10_000_000 // 8)  # 10 MB through malloc
        mapped = libc.mallinfo2().hblkhd
        del a
        return mapped, libc.mallinfo2().fordblks

    mapped_before, _ = freed_block_kept()
    applied = keep_freed_memory()
    mapped_after, free_after = freed_block_kept()
    print(mapped_before, applied, mapped_after, free_after, keep_freed_memory())
    """
)


@pytest.mark.skipif(not GLIBC, reason="the settings are glibc's")
def test_freed_blocks_stay_in_the_heap():
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True).stdout.split()
    mapped_before, applied, mapped_after, free_after, again = int(out[0]), out[1], int(out[2]), int(out[3]), out[4]
    assert mapped_before >= 10_000_000  # glibc's default: a 10 MB block gets its own mapping
    assert applied == "True" and again == "True"  # applied once, then remembered
    assert mapped_after < 10_000_000  # now it comes from the heap...
    assert free_after >= 10_000_000  # ...and is kept there once freed


def test_applied_exactly_where_the_c_library_is_glibc():
    assert keep_freed_memory() is GLIBC  # and a no-op returning False elsewhere (macOS, musl)
