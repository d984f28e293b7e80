"""The allocator settings of sibmodel's own processes (sibmodel/engine/allocator.py).

Checked against glibc's own account of its heap, ``mallinfo2`` (glibc >= 2.33),
in fresh child processes (the settings are process-wide and glibc adapts its
thresholds to what a process has freed before): with the settings, a first
10 MB block comes from the heap and stays there when freed; without them it
gets its own mapping, returned to the kernel on free.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

_PROBE = textwrap.dedent(
    """
    import ctypes, sys
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "mallinfo2"):
        print("no-mallinfo2")
        sys.exit()

    class Info(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in
                    "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

    libc.mallinfo2.restype = Info
    import numpy as np
    from sibmodel.engine.allocator import keep_freed_memory

    applied = keep_freed_memory() if sys.argv[1] == "apply" else None
    a = np.ones(10_000_000 // 8)  # the process's first 10 MB block, through malloc
    mapped = libc.mallinfo2().hblkhd
    del a
    print(applied, mapped, libc.mallinfo2().fordblks, keep_freed_memory() if applied else None)
    """
)


def _probe(mode: str) -> list[str]:
    return subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True
    ).stdout.split()


@pytest.mark.skipif(not GLIBC, reason="the settings are glibc's")
def test_freed_blocks_stay_in_the_heap_only_with_the_settings():
    without, with_ = _probe("leave"), _probe("apply")
    if without == ["no-mallinfo2"]:
        pytest.skip("glibc older than 2.33 (no mallinfo2)")
    _, mapped, _, _ = without
    assert int(mapped) >= 10_000_000  # glibc's default: a block this large gets its own mapping
    applied, mapped, free_after, again = with_
    assert applied == "True" and again == "True"  # applied, and remembered
    assert int(mapped) < 10_000_000  # with the settings it comes from the heap...
    assert int(free_after) >= 10_000_000  # ...and is kept there once freed


@pytest.mark.skipif(GLIBC, reason="on glibc the settings apply (test above)")
def test_nothing_happens_elsewhere():
    from sibmodel.engine.allocator import _apply

    assert _apply() is False
