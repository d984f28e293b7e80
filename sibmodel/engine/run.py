"""``simulate(scenario, draws, seed)``: a run, chunk by chunk, reduced as the chunks arrive.

Draws are processed in fixed-size chunks (:mod:`sibmodel.engine.chunk` simulates one);
every random number of draw ``i`` is a function of the run's root entropy, ``i`` and
the run's size (:mod:`sibmodel.model.philox`), so the output does not depend on the
chunk size, on how many workers run the chunks or in what order (:mod:`sibmodel.engine.execution` runs them in this
process, on local processes or on Dask).  Each chunk is reduced to per-draw
figures appended to a Parquet spool on disk (:class:`sibmodel.results.run.DrawStore`),
so memory stays bounded as draws grow.
"""

from __future__ import annotations

import time

import numpy as np

from sibmodel.engine.chunk import (  # noqa: F401  (re-exported: the engine's public names before chunk.py was split off)
    BYTES_PER_PERSON,
    DEFAULT_CHUNK_SIZE,
    PROCESS_BASE_BYTES,
    ChunkResult,
    chunk_memory_bytes,
    run_chunk,
    values_per_draw,
    year_offset,
)
from sibmodel.engine.execution import iter_chunks, processes_used
from sibmodel.scenario.limits import cap_workers, check_run_size
from sibmodel.scenario.schema import Scenario


def chunk_sizes(draws: int, chunk_size: int) -> list[int]:
    """Sizes of the fixed chunks draws are split into (the last may be smaller)."""
    if draws < 1:
        raise ValueError("draws must be at least 1")
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    full, rest = divmod(draws, chunk_size)
    return [chunk_size] * full + ([rest] if rest else [])


def simulate(
    s: Scenario,
    draws: int = 2000,
    seed: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    workers: int = 1,
    progress=None,
    scheduler: str | None = None,
    spool_dir=None,
):
    """Simulate a scenario.

    Chunks are reduced as they arrive (in chunk order): per-draw figures are
    appended to a Parquet spool row group by row group and occupancy is summed,
    so memory does not grow with ``draws``.

    Parameters
    ----------
    s : Scenario
        A validated scenario (never a path: I/O happens at the edges).
    draws : int
        Monte Carlo draws.
    seed : int, optional
        Root seed; ``None`` draws fresh entropy, recorded in the results.
    chunk_size : int
        Draws per chunk (memory and scheduling only: results do not depend on it,
        nor on ``workers`` or ``scheduler``).
    workers : int
        Local processes (or, with ``scheduler="local"``, Dask worker processes);
        output is identical for any number.
    progress : callable, optional
        Called with the number of draws finished after each chunk.
    scheduler : str, optional
        Run the chunks on Dask: ``"local"`` starts a ``LocalCluster`` for the run;
        an address such as ``"tcp://host:8786"`` uses a running cluster (whose
        workers must have sibmodel installed).  Needs ``pip install 'sibmodel[dask]'``.
    spool_dir : path, optional
        Where the per-draw spool folder is made (hidden, removed with the
        Results); the CLI puts it next to the run folder so the final
        ``draws.parquet`` is a hard link, not a copy.

    Returns
    -------
    Results

    Raises
    ------
    SchedulerError
        ``scheduler`` cannot be reached, or Dask is not installed.
    """
    from sibmodel.results.run import DrawStore, OccupancySum, Results, run_meta

    if draws < 1 or chunk_size < 1:
        chunk_sizes(draws, chunk_size)  # raises ValueError with what is wrong
    chunk_bytes = chunk_memory_bytes(s, min(chunk_size, draws))
    check_run_size(draws, min(chunk_size, draws), chunk_bytes, values_per_draw(s), spool_dir)
    root = np.random.SeedSequence(seed)
    entropy = root.entropy
    sizes = chunk_sizes(draws, chunk_size)
    if scheduler is None or scheduler == "local":  # the same output for any number of workers
        workers = cap_workers(workers, len(sizes), chunk_bytes)
    t0 = time.perf_counter()
    store = DrawStore.create(spool_dir)
    occ = OccupancySum()
    done = 0
    try:
        for chunk in iter_chunks(s, entropy, sizes, workers, scheduler):
            store.add(chunk.columns, chunk.series)
            occ.add(chunk.occupancy_sum)
            done += sizes[chunk.index]
            if progress:
                progress(done)
        store.close()
    except BaseException:
        store.discard()
        raise
    elapsed = time.perf_counter() - t0
    meta = run_meta(
        s,
        store.n_draws,
        entropy=entropy,
        seed=seed,
        chunk_size=chunk_size,
        elapsed_s=elapsed,
        workers=processes_used(workers, len(sizes), scheduler),
        scheduler=scheduler,
    )
    return Results(s, meta=meta, occupancy_mean=occ.mean(store.n_draws), store=store)
