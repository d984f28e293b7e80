"""Running chunks of draws: in process, on local worker processes, or on a Dask cluster.

Every random number of a draw is a pure function of (root entropy, draw index),
so the same draws give the same bits wherever, in whatever chunks and in whatever
order they run.
:func:`iter_chunks` always yields results in chunk order, keeping only a few
chunks in flight (a bounded window), so that memory does not grow with the
number of draws.

Dask is imported only when a scheduler is asked for: the default paths need
nothing beyond the standard library.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from sibmodel.exceptions import SchedulerError
from sibmodel.safe_text import terminal_text
from sibmodel.scenario.schema import Scenario

#: Seconds to wait for a Dask scheduler to answer before giving up [s].
CONNECT_TIMEOUT_S = 10.0

#: Chunks kept in flight per worker (the rest wait to be submitted) [count].
IN_FLIGHT_PER_WORKER = 2


def _run(plan, index: int, first: int, size: int, total: int):
    """Run one chunk of the run compiled into ``plan`` (:class:`sibmodel.engine.plan.Plan`)."""
    from sibmodel.engine.chunk import run_chunk

    return run_chunk(plan.scenario, plan.entropy, index, first, size, total, plan=plan)


def _chunk_args(sizes: list[int], k: int) -> tuple[int, int, int, int]:
    """``_run``'s arguments for chunk ``k``: its index, first draw, size and the run's draws (chunks of
    equal size but the last)."""
    return k, k * sizes[0], sizes[k], sum(sizes)


def _init_worker(parent_pid: int | None = None) -> None:  # pragma: no cover - runs in pool workers
    """Set up a pool worker: Ctrl-C, SIGTERM and SIGHUP (which may go to the whole process
    group) are left to the parent, which stops and shuts the pool down; the worker is killed
    when the parent dies, even by SIGKILL (:func:`die_with_parent`); freed memory is kept for
    the next chunk (allocator.py: the process is ours, unlike a caller's or a Dask cluster's)."""
    from sibmodel.engine.allocator import keep_freed_memory

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    die_with_parent(parent_pid)
    keep_freed_memory()


#: ``prctl`` option: the signal a process gets when its parent dies (Linux, <sys/prctl.h>).
PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int | None) -> bool:
    """Ask Linux to SIGKILL this process when its parent dies (``prctl(PR_SET_PDEATHSIG)``).

    Parameters
    ----------
    parent_pid : int, optional
        The parent's process id when it started this process: if the parent is already
        gone (this process was re-parented before the request), exit now.

    Returns
    -------
    bool
        Whether the request was made (``False`` off Linux: there a worker outlives a
        killed parent until its current chunk ends and it finds the pipe closed).
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        ok = libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (AttributeError, OSError):
        return False
    if ok and parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)
    return ok


def pool_context():
    """How pool workers are started: by fork where the platform has it (Linux).

    Forked workers inherit the imports and the compiled code, so a pool costs
    milliseconds, not the ~1 s of imports per worker of spawn or forkserver
    (Python 3.14's default on Linux).

    Returns
    -------
    multiprocessing context or None
        The fork context on Linux; ``None`` (the platform's default) elsewhere,
        e.g. macOS, where fork is unsafe, and Windows.
    """
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork") if "fork" in methods and sys.platform.startswith("linux") else None


@contextlib.contextmanager
def _sigint_ignored():
    """Ignore SIGINT while child processes are started (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _in_order(results: dict, next_index: int):
    """Pop the results that are ready in chunk order, starting at ``next_index``."""
    while next_index in results:
        yield results.pop(next_index)
        next_index += 1


def iter_chunks(s: Scenario, entropy, sizes: list[int], workers: int = 1, scheduler: str | None = None) -> Iterator:
    """Run every chunk and yield their results in chunk order.

    Parameters
    ----------
    s : Scenario
    entropy : int
        Root entropy.
    sizes : list of int
        Draws per chunk.
    workers : int
        Without a scheduler: 1 runs in this process, more uses a local process
        pool.  With ``scheduler="local"``: the number of Dask worker processes.
    scheduler : str, optional
        ``None`` (no Dask), ``"local"`` (a ``LocalCluster`` started for the run
        and closed after it) or the address of a running Dask scheduler, e.g.
        ``"tcp://10.0.0.5:8786"``.

    Yields
    ------
    ChunkResult
        One per chunk, in chunk order.

    Raises
    ------
    SchedulerError
        The scheduler cannot be reached or Dask is not installed.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    from sibmodel.engine.plan import Plan

    plan = Plan.of(s, entropy)  # once per run; every chunk, in whatever process, receives it
    if scheduler is not None:
        yield from _iter_dask(plan, sizes, workers, scheduler)
    elif (n_processes := processes_used(workers, len(sizes), None)) == 1:
        for k in range(len(sizes)):
            yield _run(plan, *_chunk_args(sizes, k))
    else:
        yield from _iter_pool(plan, sizes, n_processes)


def processes_used(workers: int, n_chunks: int, scheduler: str | None) -> int | None:
    """How many processes run the chunks [count]: what :func:`iter_chunks` starts and a run's metadata records.

    ``workers``, but one in process when there is one chunk or one worker, and no more
    local processes than chunks; ``None`` on a remote Dask cluster, which has its own.
    """
    if scheduler is None:
        return 1 if workers == 1 or n_chunks == 1 else min(workers, n_chunks)
    return workers if scheduler == "local" else None


def process_pool(workers: int) -> ProcessPoolExecutor:
    """sibmodel's local process pool: workers forked where the platform allows (:func:`pool_context`),
    that leave Ctrl-C and SIGTERM to this process and die with it (:func:`_init_worker`)."""
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=pool_context(), initializer=_init_worker, initargs=(os.getpid(),)
    )


def _iter_pool(plan, sizes: list[int], workers: int) -> Iterator:
    pool = process_pool(workers)
    pending: dict = {}
    ready: dict = {}
    submitted = nxt = 0
    window = IN_FLIGHT_PER_WORKER * workers
    try:
        while nxt < len(sizes):
            while submitted < len(sizes) and len(pending) + len(ready) < window:
                pending[pool.submit(_run, plan, *_chunk_args(sizes, submitted))] = submitted
                submitted += 1
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                ready[pending.pop(fut)] = fut.result()
            for res in _in_order(ready, nxt):
                nxt += 1
                yield res
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _connect(scheduler: str, workers: int):
    """A Dask client (and the LocalCluster it owns, or ``None``)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise SchedulerError("--scheduler needs Dask: pip install 'sibmodel[dask]' (or dask[distributed])") from exc
    if scheduler == "local":
        # Worker processes inherit SIGINT ignored (Python keeps an ignored SIGINT), so that
        # Ctrl-C reaches only this process, which then closes the cluster cleanly.
        with _sigint_ignored():
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        return Client(cluster), cluster
    address = scheduler if "://" in scheduler else f"tcp://{scheduler}"
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    _probe_scheduler(scheduler, address, deadline)
    try:
        client = Client(address, timeout=f"{max(1.0, deadline - time.monotonic()):.1f}s")
    except (OSError, TimeoutError, ValueError, MemoryError) as exc:
        raise _unreachable(scheduler, type(exc).__name__) from None
    return client, None


def _unreachable(scheduler: str, why: str) -> SchedulerError:
    return SchedulerError(
        f"cannot reach a Dask scheduler at {terminal_text(scheduler)!r} within {CONNECT_TIMEOUT_S:g} s ({why}); "
        "give an address such as tcp://host:8786, or 'local'"
    )


#: Largest first message (handshake) a Dask scheduler sends on a new connection [bytes].
MAX_HANDSHAKE_BYTES = 1024**2


def _probe_scheduler(scheduler: str, address: str, deadline: float) -> None:
    """Check, within ``deadline`` (``time.monotonic``), that a ``tcp://`` address is a Dask scheduler.

    A Dask scheduler speaks first: on a new connection it sends its handshake, an
    8-byte little-endian length and a msgpack message naming ``pickle-protocol``
    (distributed's ``Listener.on_connection`` and ``TCP.write``).  An HTTP server, a
    listener that says nothing, or one that sends something else is refused here, in
    bounded time and memory, before Dask's client would wait for minutes or try to
    allocate the length a garbage header claims.  Other schemes (``tls://``, ...) are
    left to Dask's own timeout.
    """
    import socket
    import struct

    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        if scheme != "tcp":
            return
        host, port = parse_host_port(location)
    except (ValueError, TypeError) as exc:
        raise _unreachable(scheduler, f"not an address: {exc}") from None

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no answer")
        return remaining

    def read_exactly(sock, n: int) -> bytes:
        parts, got = [], 0
        while got < n:
            sock.settimeout(left())
            part = sock.recv(min(n - got, 65536))
            if not part:
                raise ConnectionError("the connection was closed")
            parts.append(part)
            got += len(part)
        return b"".join(parts)

    try:
        with socket.create_connection((host, port), timeout=left()) as sock:
            (n,) = struct.unpack("<Q", read_exactly(sock, 8))
            if not 0 < n <= MAX_HANDSHAKE_BYTES:
                raise ValueError("not a Dask scheduler: its first message is not a Dask handshake")
            if b"pickle-protocol" not in read_exactly(sock, n):
                raise ValueError("not a Dask scheduler: its first message is not a Dask handshake")
    except TimeoutError:
        raise _unreachable(scheduler, "no answer") from None
    except OSError as exc:
        raise _unreachable(scheduler, str(exc) or type(exc).__name__) from None
    except ValueError as exc:
        raise _unreachable(scheduler, str(exc)) from None


def _iter_dask(plan, sizes: list[int], workers: int, scheduler: str) -> Iterator:
    from distributed import as_completed

    client, cluster = _connect(scheduler, workers)
    futures = []
    try:
        n_threads = max(1, sum(client.nthreads().values()))
        window = IN_FLIGHT_PER_WORKER * n_threads
        [plan_remote] = client.scatter([plan], broadcast=True)
        submitted = nxt = 0
        ready: dict = {}
        index_of: dict = {}

        def submit(k: int):
            fut = client.submit(_run, plan_remote, *_chunk_args(sizes, k), pure=False)
            index_of[fut.key] = k
            futures.append(fut)
            return fut

        queue = as_completed([submit(k) for k in range(min(window, len(sizes)))])
        submitted = min(window, len(sizes))
        for fut in queue:
            ready[index_of.pop(fut.key)] = fut.result()
            fut.release()
            for res in _in_order(ready, nxt):
                nxt += 1
                yield res
            while submitted < len(sizes) and len(index_of) + len(ready) < window:
                queue.add(submit(submitted))
                submitted += 1
    finally:
        for fut in futures:
            if not fut.done():
                fut.cancel()
        client.close()
        if cluster is not None:
            cluster.close()


#: Share of the available memory the default number of workers may plan to use [ratio].
MEMORY_SHARE = 0.8


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _cgroup_cpu_limit() -> float | None:
    """CPUs allowed by the cgroup's CPU quota (Docker ``--cpus``, Kubernetes limits) [cores],
    ``None`` without a quota (cgroup v2 ``cpu.max``, else v1 ``cpu.cfs_quota_us``)."""
    v2 = _read("/sys/fs/cgroup/cpu.max")
    try:
        if v2 is not None:
            quota, period = v2.split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        quota_v1 = _read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
        period_v1 = _read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
        if quota_v1 is not None and period_v1 is not None and int(quota_v1) > 0:
            return int(quota_v1) / int(period_v1)
    except (ValueError, ZeroDivisionError):
        pass
    return None


def _cgroup_memory_headroom() -> int | None:
    """Memory the cgroup may still use before its limit [bytes], ``None`` without a limit
    (cgroup v2 ``memory.max - memory.current``, else v1 ``limit_in_bytes - usage_in_bytes``)."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        limit, usage = _read(limit_file), _read(usage_file)
        if limit is None or usage is None or limit == "max":
            continue
        try:
            limit_bytes = int(limit)
            if limit_bytes >= 2**60:  # cgroup v1 "no limit" is a huge number
                continue
            return max(0, limit_bytes - int(usage))
        except ValueError:
            continue
    return None


def usable_cores() -> int:
    """Cores this process may use [count].

    The cores it may run on (``os.sched_getaffinity``: ``taskset``, cpusets) where the
    platform says, else ``os.cpu_count()``; no more than a container's CPU quota
    (cgroup ``cpu.max``, rounded up), which affinity does not show.

    Returns
    -------
    int
        At least 1.
    """
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        n = os.cpu_count() or 1
    quota = _cgroup_cpu_limit()
    if quota is not None:
        n = min(n, math.ceil(quota))
    return max(1, n)


def available_memory_bytes() -> int | None:
    """Memory available to new processes [bytes].

    ``MemAvailable`` of ``/proc/meminfo`` (Linux), else free physical pages
    (``os.sysconf``); no more than the container's headroom under its cgroup
    memory limit, which ``/proc/meminfo`` does not show.

    Returns
    -------
    int or None
        ``None`` where the platform tells neither.
    """
    available = None
    meminfo = _read("/proc/meminfo")
    if meminfo is not None:
        for line in meminfo.splitlines():
            if line.startswith("MemAvailable:"):
                try:
                    available = int(line.split()[1]) * 1024
                except (ValueError, IndexError):
                    pass
    if available is None:
        try:
            available = int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, ValueError, OSError):  # pragma: no cover - Windows
            available = None
    headroom = _cgroup_memory_headroom()
    if headroom is not None:
        available = headroom if available is None else min(available, headroom)
    return available


def default_workers(memory_per_worker_bytes: int | None = None) -> int:
    """Worker processes to start when none are given [count].

    One per usable core (:func:`usable_cores`) where pool workers are forked (Linux);
    one elsewhere (macOS, Windows), where each worker would first spend about a second
    importing.  When ``memory_per_worker_bytes`` is given
    (:func:`sibmodel.engine.run.chunk_memory_bytes`), no more than fit, beside the parent
    process (counted as one more), in :data:`MEMORY_SHARE` of the available memory
    (:func:`available_memory_bytes`): a large programme on a machine with many cores and
    little memory per core gets fewer workers, not an out-of-memory failure.

    Parameters
    ----------
    memory_per_worker_bytes : int, optional
        Peak memory of one process running chunks [bytes].

    Returns
    -------
    int
        At least 1.
    """
    if pool_context() is None:
        return 1
    n = usable_cores()
    available = available_memory_bytes()
    if memory_per_worker_bytes and available is not None:
        n = min(n, int(MEMORY_SHARE * available) // int(memory_per_worker_bytes) - 1)
    return max(1, n)


def workers_for(s: Scenario, chunk_size: int | None = None) -> int:
    """:func:`default_workers` for running scenario ``s`` in chunks of ``chunk_size`` draws.

    Parameters
    ----------
    s : Scenario
    chunk_size : int, optional
        Draws per chunk [draws] (default :data:`sibmodel.engine.run.DEFAULT_CHUNK_SIZE`).

    Returns
    -------
    int
        Worker processes [count].
    """
    from sibmodel.engine.chunk import DEFAULT_CHUNK_SIZE, chunk_memory_bytes

    return default_workers(chunk_memory_bytes(s, chunk_size or DEFAULT_CHUNK_SIZE))
