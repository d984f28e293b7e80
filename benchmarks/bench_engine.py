"""Engine benchmark: draws per second, peak memory, and the ratio to the RNG floor.

Run by hand (never in the test suite):

    .venv/bin/python benchmarks/bench_engine.py [--draws 10000] [--scenario scenarios/pfp.yaml] [--workers 1]

The *RNG floor* is the time numpy's default generator needs, in this process,
to produce as many uniforms as the run consumed (parameter draws, referral
counts and weeks, cohort spreads and three per person per spell in the kernel,
counted by wrapping the generators).  The engine can never be faster than that.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sibmodel import (
    load_scenario,  # noqa: E402
    pathways,  # noqa: E402
)
from sibmodel.engine import simulate  # noqa: E402


def count_kernel_uniforms(s, draws: int, seed: int) -> int:
    """Uniforms the kernel draws, counted by wrapping ``Generator.random`` in the kernel's module."""
    counted = {"n": 0}
    original = pathways.simulate_arms

    def wrapped(*args, **kwargs):
        rng = args[-1] if len(args) >= 12 else kwargs["rng"]

        class Counting:
            def random(self, size):
                counted["n"] += int(np.prod(size))
                return rng.random(size)

        args = list(args)
        args[-1] = Counting()
        return original(*args, **kwargs)

    import sibmodel.engine as eng

    eng.simulate_arms = wrapped
    try:
        simulate(s, draws=draws, seed=seed)
    finally:
        eng.simulate_arms = original
    return counted["n"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="scenarios/pfp.yaml")
    ap.add_argument("--draws", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=12345)
    a = ap.parse_args()
    s = load_scenario(a.scenario)

    simulate(s, draws=50, seed=a.seed)  # warm-up (imports, caches)
    t0 = time.perf_counter()
    res = simulate(s, draws=a.draws, seed=a.seed, workers=a.workers)
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if a.workers > 1:
        peak_mb += resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    n_uniforms = count_kernel_uniforms(s, min(a.draws, 2000), a.seed) * a.draws / min(a.draws, 2000)
    rng = np.random.default_rng(0)
    t1 = time.perf_counter()
    left = int(n_uniforms)
    while left > 0:
        m = min(left, 10_000_000)
        rng.random(m)
        left -= m
    floor = time.perf_counter() - t1

    people = res.draws["starts"].sum()
    print(f"scenario            {a.scenario}")
    print(f"draws               {a.draws:,}   workers {a.workers}")
    print(f"young people        {people:,.0f} ({people / a.draws:,.0f} per draw), two arms each")
    print(f"wall time           {wall:.2f} s")
    print(f"draws per second    {a.draws / wall:,.0f}")
    print(f"peak RSS            {peak_mb:,.0f} MB")
    print(f"kernel uniforms     {n_uniforms:,.0f} (estimated from the first {min(a.draws, 2000):,} draws)")
    print(f"RNG floor           {floor:.2f} s")
    print(f"ratio to RNG floor  {wall / floor:.1f}x")


if __name__ == "__main__":
    main()
