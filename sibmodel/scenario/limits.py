"""Limits that keep every command's memory, disk and time bounded, whatever its input.

A scenario file is read only if it is a regular file of at most
:data:`MAX_SCENARIO_BYTES`; its YAML may hold at most :data:`MAX_YAML_NODES`
nodes, counting each alias (``*anchor``) as the whole subtree it stands for,
nested at most :data:`MAX_NESTING_DEPTH` deep, and an ``extends:`` chain may be
at most :data:`MAX_EXTENDS_DEPTH` files long.  An error lists its first
:data:`MAX_SHOWN_ISSUES` problems.  A run's draws are checked against the disk
they would fill and the memory they would take before any is simulated
(:func:`check_run_size`), and worker processes are capped by the memory each
needs (:func:`cap_workers`).  Each limit is far above what a real scenario or run
needs (the PFP scenario is 11 kB, about 900 nodes, 7 levels deep).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from sibmodel.exceptions import (
    MAX_SHOWN_ISSUES as MAX_SHOWN_ISSUES,  # defined beside the errors that use it (no import cycle)
)
from sibmodel.exceptions import Issue, ScenarioError

#: Largest magnitude of a number in a scenario (money, counts, ratios) [unit of the field]:
#: GBP 1e12 is a trillion pounds, so sums over young people, weeks and draws stay finite.
MAX_MAGNITUDE = 1e12

#: Largest scenario (or ``--borough-file``) file read [bytes].
MAX_SCENARIO_BYTES = 1024**2

#: Most YAML nodes in one document, aliases counted as the subtree they repeat [count].
MAX_YAML_NODES = 100_000

#: Deepest nesting of mappings and lists in a YAML document [levels].
MAX_NESTING_DEPTH = 32

#: Longest chain of ``extends:`` (the file itself and the files it extends) [files].
MAX_EXTENDS_DEPTH = 16


#: Disk a draw takes in ``draws.parquet`` and the spool, at least [bytes/column/draw]:
#: 8-byte floats, compressed by Parquet at most about 4-fold (measured on PFP: 6-7 bytes).
MIN_DISK_BYTES_PER_VALUE = 2.0


class ResourceError(ScenarioError):
    """A request that cannot fit in this machine's memory or disk (exit code 2 from the CLI)."""

    what = "with the request"


def total_memory_bytes() -> int | None:
    """Physical memory of the machine, or the cgroup memory limit if lower [bytes].

    ``None`` where the platform tells neither.
    """
    total = None
    try:
        total = int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - Windows
        pass
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
            limit = int(text)
        except (OSError, ValueError):
            continue
        if limit < 2**60:
            total = limit if total is None else min(total, limit)
    return total


def _gb(n: float) -> str:
    return f"{n / 1024**3:,.1f} GB"


def run_disk_bytes(n_columns: int, draws: int) -> float:
    """Disk the per-draw table of a run takes, at least [bytes]: it is written twice
    (the spool and, unless hard-linked, the run folder), so this counts it once."""
    return MIN_DISK_BYTES_PER_VALUE * n_columns * float(draws)


def check_run_size(draws: int, chunk_size: int, chunk_bytes: int, n_columns: int, spool_dir=None) -> None:
    """Refuse, before anything is simulated, a run that cannot fit in memory or on disk.

    Parameters
    ----------
    draws : int
        Monte Carlo draws asked for [draws].
    chunk_size : int
        Draws per chunk [draws].
    chunk_bytes : int
        Peak memory of one process running a chunk (:func:`sibmodel.engine.run.chunk_memory_bytes`) [bytes].
    n_columns : int
        Values stored per draw (per-draw columns plus quarterly series) [count].
    spool_dir : path, optional
        Where the per-draw spool is written (default: the system temporary folder).

    Raises
    ------
    ResourceError
        One chunk needs more memory than the machine has, or the draws need more
        disk than is free where they are written.
    """
    issues = []
    memory = total_memory_bytes()
    if memory is not None and chunk_bytes > memory:
        issues.append(
            Issue(
                "--chunk-size",
                "",
                f"one chunk of {chunk_size:,} draws needs about {_gb(chunk_bytes)} of memory and this machine has "
                f"{_gb(memory)}: lower --chunk-size, or the scenario's starts",
                chunk_size,
                has_given=True,
            )
        )
    # the chunk list itself and a column of the summary (at most 50 M draws are read at once)
    if memory is not None and 16.0 * draws / chunk_size + 8.0 * min(draws, 50_000_000) > memory:
        issues.append(
            Issue(
                "--draws", "", f"more draws than fit in this machine's {_gb(memory)} of memory", draws, has_given=True
            )
        )
    where = Path(spool_dir) if spool_dir is not None else Path(tempfile.gettempdir())
    probe = where
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        free = None
    need = run_disk_bytes(n_columns, draws)
    if free is not None and need > free:
        issues.append(
            Issue(
                "--draws",
                "",
                f"{draws:,} draws need at least {_gb(need)} of disk ({n_columns} values per draw) and {probe} has "
                f"{_gb(free)} free",
                draws,
                has_given=True,
            )
        )
    if issues:
        raise ResourceError(issues)


def cap_workers(workers: int, n_chunks: int, chunk_bytes: int) -> int:
    """``workers``, but no more than there are chunks, nor than fit in the machine's memory.

    Parameters
    ----------
    workers : int
        Worker processes asked for [count].
    n_chunks : int
        Chunks to run [count].
    chunk_bytes : int
        Peak memory of one worker [bytes].

    Returns
    -------
    int
        At least 1.
    """
    n = min(workers, max(1, n_chunks))
    memory = total_memory_bytes()
    if memory is not None and chunk_bytes > 0:
        n = min(n, max(1, memory // chunk_bytes - 1))  # the parent process counts as one more
    return max(1, n)
