"""Running chunks of draws: in process or on local worker processes.

Every chunk seeds itself from ``(root entropy, chunk index)``, so the same
chunks give the same bits wherever and in whatever order they run; results
are always put back in chunk order.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

from .schema import Scenario


def _run(args):
    from .engine import run_chunk

    s, entropy, index, size = args
    return run_chunk(s, entropy, index, size)


def run_chunks(s: Scenario, entropy, sizes: list[int], workers: int = 1, progress=None) -> list:
    """Run every chunk and return their results in chunk order.

    Parameters
    ----------
    s : Scenario
    entropy : int
        Root entropy.
    sizes : list of int
        Draws per chunk.
    workers : int
        1 runs in this process; more uses a process pool.
    progress : callable, optional
        Called with the cumulative draws done after each chunk.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    jobs = [(s, entropy, k, n) for k, n in enumerate(sizes)]
    out = []
    done = 0
    if workers == 1 or len(jobs) == 1:
        for job in jobs:
            out.append(_run(job))
            done += job[3]
            if progress:
                progress(done)
        return out
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for res, job in zip(pool.map(_run, jobs), jobs):
            out.append(res)
            done += job[3]
            if progress:
                progress(done)
    return out
