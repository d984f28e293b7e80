"""How many worker processes a run starts when none are given, and what it records.

Cores and memory come from the operating system (affinity, ``/proc/meminfo``) and
from a container's cgroup limits, read here from a fake ``/sys/fs/cgroup``; the
memory estimate of a chunk process is checked against the peak resident set the
kernel measured (``VmHWM``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from support import PFP, ROOT

import sibmodel.engine.execution as parallel
from sibmodel import load_scenario
from sibmodel.cli.commands import main
from sibmodel.engine.run import BYTES_PER_PERSON, chunk_memory_bytes

SYNTHETIC = str(ROOT / "benchmarks" / "synthetic_4100.yaml")
GB = 1024**3


def test_run_without_workers_uses_the_default_and_gives_the_in_process_output(tmp_path, monkeypatch):
    """Without --workers, `run` starts default_workers() processes; the draws are those of one process."""
    common = ["run", PFP, "--draws", "120", "--seed", "5", "--chunk-size", "30", "--quiet", "--no-report"]
    res = CliRunner().invoke(main, [*common, "--out", str(tmp_path / "one"), "--workers", "1"])
    assert res.exit_code == 0, res.output
    monkeypatch.setattr(parallel, "default_workers", lambda memory_per_worker_bytes=None: 3)
    res = CliRunner().invoke(main, [*common, "--out", str(tmp_path / "auto")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "auto" / "summary.json").read_text())["meta"]["workers"] == 3
    assert json.loads((tmp_path / "one" / "summary.json").read_text())["meta"]["workers"] == 1
    assert (tmp_path / "auto" / "draws.parquet").read_bytes() == (tmp_path / "one" / "draws.parquet").read_bytes()


def test_default_workers_counts_the_usable_cores(monkeypatch):
    monkeypatch.setattr(parallel, "_cgroup_cpu_limit", lambda: None)
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert parallel.usable_cores() == max(1, expected)
    if parallel.pool_context() is not None:
        assert parallel.default_workers() == parallel.usable_cores()  # no memory estimate: one per core


def test_default_workers_fit_in_the_available_memory(monkeypatch):
    monkeypatch.setattr(parallel, "pool_context", lambda: object())
    monkeypatch.setattr(parallel, "usable_cores", lambda: 8)
    monkeypatch.setattr(parallel, "available_memory_bytes", lambda: 4 * GB)
    assert parallel.default_workers(None) == 8
    assert parallel.default_workers(GB // 4) == 8  # 11 would fit beside the parent; capped by the cores
    assert parallel.default_workers(GB) == 2  # floor(0.8 x 4 GB / 1 GB) = 3 processes, one of them the parent
    assert parallel.default_workers(64 * GB) == 1  # never fewer than one
    monkeypatch.setattr(parallel, "available_memory_bytes", lambda: None)
    assert parallel.default_workers(64 * GB) == 8  # memory unknown: cores only


def test_one_worker_where_workers_would_not_be_forked(monkeypatch):
    """macOS and Windows start workers by spawn (a second of imports each): one process by default."""
    monkeypatch.setattr(parallel, "pool_context", lambda: None)
    monkeypatch.setattr(parallel, "usable_cores", lambda: 8)
    assert parallel.default_workers(None) == 1


def _fake_cgroup(monkeypatch, files: dict[str, str]) -> None:
    monkeypatch.setattr(parallel, "_read", lambda path: files.get(path))


@pytest.mark.parametrize(
    ("files", "cpus"),
    [
        ({"/sys/fs/cgroup/cpu.max": "150000 100000"}, 1.5),  # v2, docker --cpus 1.5
        ({"/sys/fs/cgroup/cpu.max": "max 100000"}, None),  # v2, no quota
        (
            {"/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "200000", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000"},
            2.0,
        ),  # v1
        (
            {"/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000"},
            None,
        ),  # v1, none
        ({}, None),  # no cgroup files
        ({"/sys/fs/cgroup/cpu.max": "garbage"}, None),
    ],
)
def test_cgroup_cpu_quota(monkeypatch, files, cpus):
    _fake_cgroup(monkeypatch, files)
    assert parallel._cgroup_cpu_limit() == cpus


def test_cpu_quota_caps_the_cores_rounded_up(monkeypatch):
    _fake_cgroup(monkeypatch, {"/sys/fs/cgroup/cpu.max": "150000 100000"})
    if hasattr(os, "sched_getaffinity"):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    else:  # pragma: no cover
        monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert parallel.usable_cores() == 2


@pytest.mark.parametrize(
    ("files", "headroom"),
    [
        ({"/sys/fs/cgroup/memory.max": str(4 * GB), "/sys/fs/cgroup/memory.current": str(GB)}, 3 * GB),  # v2
        ({"/sys/fs/cgroup/memory.max": "max", "/sys/fs/cgroup/memory.current": str(GB)}, None),  # v2, no limit
        (
            {
                "/sys/fs/cgroup/memory/memory.limit_in_bytes": str(2 * GB),
                "/sys/fs/cgroup/memory/memory.usage_in_bytes": str(GB // 2),
            },
            GB + GB // 2,
        ),  # v1
        (
            {
                "/sys/fs/cgroup/memory/memory.limit_in_bytes": str(2**63 - 4096),
                "/sys/fs/cgroup/memory/memory.usage_in_bytes": "1",
            },
            None,
        ),  # v1, none
        (
            {"/sys/fs/cgroup/memory.max": str(GB), "/sys/fs/cgroup/memory.current": str(2 * GB)},
            0,
        ),  # over its limit already
    ],
)
def test_cgroup_memory_headroom(monkeypatch, files, headroom):
    _fake_cgroup(monkeypatch, files)
    assert parallel._cgroup_memory_headroom() == headroom


def test_memory_limit_of_the_container_caps_the_available_memory(monkeypatch):
    meminfo = (
        "MemTotal:       268435456 kB\nMemFree:        1000 kB\nMemAvailable:   209715200 kB\n"  # 200 GiB on the host
    )
    files = {
        "/proc/meminfo": meminfo,
        "/sys/fs/cgroup/memory.max": str(4 * GB),
        "/sys/fs/cgroup/memory.current": str(GB),
    }
    _fake_cgroup(monkeypatch, files)
    assert parallel.available_memory_bytes() == 3 * GB
    del files["/sys/fs/cgroup/memory.max"]
    assert parallel.available_memory_bytes() == 200 * GB


def test_available_memory_is_read_where_the_platform_tells():
    avail = parallel.available_memory_bytes()
    if avail is None:
        pytest.skip("this platform does not report available memory")
    assert 0 < avail < 2**50


@pytest.mark.parametrize(
    ("workers", "chunks", "scheduler", "used"),
    [
        (1, 10, None, 1),
        (4, 1, None, 1),
        (4, 2, None, 2),
        (4, 10, None, 4),
        (3, 10, "local", 3),
        (3, 10, "tcp://h:8786", None),
    ],
)
def test_processes_recorded(workers, chunks, scheduler, used):
    assert parallel.processes_used(workers, chunks, scheduler) == used


# VmHWM, the peak resident set of this program (getrusage's ru_maxrss would include the
# test process's own peak, which the child inherits across fork and exec)
_PEAK_OF_ONE_CHUNK = """
import sys
import numpy as np
from sibmodel.engine.allocator import keep_freed_memory
from sibmodel.engine.chunk import run_chunk
from sibmodel.scenario.load import load_scenario
keep_freed_memory()
n = int(sys.argv[2])
chunk = run_chunk(load_scenario(sys.argv[1]), np.random.SeedSequence(3).entropy, 0, 0, n, n)
with open("/proc/self/status") as f:
    peak = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
print(peak, int(chunk.columns["starts"].sum()))
"""


def _peak_and_people(path: str, chunk: int) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_OF_ONE_CHUNK, path, str(chunk)], capture_output=True, text=True, check=True
    )
    peak, people = out.stdout.split()[-2:]
    return int(peak), int(people)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize(("path", "small", "large"), [(PFP, 50, 250), (SYNTHETIC, 20, 100)])
def test_chunk_memory_estimate_covers_measured_chunks(path, small, large):
    """The estimate behind the default number of workers against the peak resident set the
    kernel measured in a process running one chunk: above it at two chunk sizes, not wildly
    so, and the memory each extra young person takes below the estimate's per-person term."""
    s = load_scenario(path)
    (peak_small, people_small), (peak_large, people_large) = (
        _peak_and_people(path, small),
        _peak_and_people(path, large),
    )
    for chunk, peak in ((small, peak_small), (large, peak_large)):
        estimate = chunk_memory_bytes(s, chunk)
        assert peak <= estimate <= 3 * peak
    assert (peak_large - peak_small) / (people_large - people_small) <= BYTES_PER_PERSON
