"""Benchmark of ``sibmodel run``: wall time, draws per second, peak memory, ratio to the RNG floor.

Run by hand (never in the test suite; the machine is shared, so repeat when it is quiet):

    .venv/bin/python benchmarks/bench_engine.py --draws 10000 100000 [--workers 2]
    .venv/bin/python benchmarks/bench_engine.py --scenario benchmarks/synthetic_4100.yaml --draws 10000

Each run is the real command line, ``sibmodel run SCENARIO --draws N --quiet
--no-report`` (all outputs except figures and the report), in a child process
timed from start to exit (imports included).  Peak RSS is sampled every 0.2 s
with psutil (it comes with the dev extra's Dask): the largest single process
(its ``VmHWM``, the kernel's own peak, on Linux), and the largest *sum* over the
child and all its worker processes.  Not
``wait4``'s ``ru_maxrss``: Linux carries the parent's own peak into a child
across fork and exec, so after the first row it reported this script's memory
(the random-number count runs 2,000 draws in process), not the run's.

The *RNG floor* is the time numpy's default generator needs, in this process,
to produce as many uniforms as the run consumes (parameter uniforms, referral
counts, three per start, cohort spreads, three per person per spell in the
kernel; :func:`count_random_numbers`), counted on the first 2,000 draws and
scaled to the run, then generated in blocks of ten million.  The engine draws
its numbers from Philox counters instead, but a run cannot be faster than
producing that many uniforms.
"""

from __future__ import annotations

import argparse
import inspect
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sibmodel import load_scenario  # noqa: E402
from sibmodel.engine.run import simulate  # noqa: E402


def count_random_numbers(s, draws: int, seed: int) -> float:
    """Uniforms one run of ``draws`` consumes (counted on up to 2,000 draws, then scaled).

    Every number is a Philox counter (:mod:`sibmodel.model.philox`); the compiled loops that
    use them are wrapped to count: one uniform per uncertain input and draw (two with Latin
    hypercube sampling), two normals per cohort and draw for the cohort spread, one per
    referral cell (two where the count is negative binomial), three per start (its
    intervention, week and completion) and three per person and spell in the kernel (one Philox
    counter per spell number a person reaches in some arm: the most spells of its arms).
    """
    import sibmodel.model.fused as fused
    import sibmodel.model.referrals as referrals
    from sibmodel.model.referrals import Calendar
    from sibmodel.scenario.schema import iter_quantities

    sample = min(draws, 2000)
    counter = {"n": 0}
    real_people, real_counts, real_expand = fused._people, referrals._referral_counts, referrals._expand

    at_sp_person = list(inspect.signature(real_people.py_func).parameters).index("sp_person")

    def people(*args):
        n_spells = real_people(*args)
        n_arms, n = args[0].shape
        if n_spells[-1] == n:  # not a run whose spell buffers were too short (it runs again)
            sp_person = args[at_sp_person]
            per_arm = [np.bincount(sp_person[a, : n_spells[a]], minlength=n) for a in range(n_arms)]
            counter["n"] += 3 * int(np.max(per_arm, axis=0).sum())
        return n_spells

    def counts(keys, draw_ids, mu, disp):
        counter["n"] += mu.size + int(np.isfinite(disp).sum()) * mu.shape[0] * mu.shape[2]
        return real_counts(keys, draw_ids, mu, disp)

    def expand(totals, *args):
        counter["n"] += 3 * int(totals.sum())
        return real_expand(totals, *args)

    fused._people, referrals._referral_counts, referrals._expand = people, counts, expand
    try:
        simulate(s, draws=sample, seed=seed)
    finally:
        fused._people, referrals._referral_counts, referrals._expand = real_people, real_counts, real_expand
    n_uncertain = sum(1 for _, spec in iter_quantities(s) if not spec.is_fixed)
    per_input = 2 if s.sampling.method == "lhs" else 1
    cohorts = len(s.boroughs) * len(s.interventions) * Calendar.of(s).n_referral_quarters
    counter["n"] += sample * (per_input * n_uncertain + 2 * cohorts)
    return counter["n"] * draws / sample


def rng_floor_s(n_numbers: float) -> float:
    """Seconds numpy's default generator needs for ``n_numbers`` uniforms [s]."""
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    left = int(n_numbers)
    while left > 0:
        m = min(left, 10_000_000)
        rng.random(m)
        left -= m
    return time.perf_counter() - t0


def _high_water_mark(pid: int, rss: int) -> int:
    """A process's peak resident set so far (``VmHWM``, Linux) [bytes]; its current one elsewhere."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return rss


class _TreeRss:
    """Largest RSS of a process and its descendants, one by one and summed, sampled in a thread [MB]."""

    def __init__(self, pid: int, every_s: float = 0.2):
        import threading

        self.peak_mb = self.peak_single_mb = float("nan")
        self._stop = threading.Event()
        try:
            import psutil
        except ImportError:
            return
        self.peak_mb = self.peak_single_mb = 0.0

        def sample():
            try:
                root = psutil.Process(pid)
                while not self._stop.is_set():
                    total = 0
                    for proc in [root, *root.children(recursive=True)]:
                        try:
                            rss = proc.memory_info().rss
                        except psutil.Error:
                            continue
                        total += rss
                        self.peak_single_mb = max(self.peak_single_mb, _high_water_mark(proc.pid, rss) / 2**20)
                    self.peak_mb = max(self.peak_mb, total / 2**20)
                    self._stop.wait(every_s)
            except psutil.Error:
                pass

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()

    def stop(self) -> tuple[float, float]:
        """Peak RSS of the largest single process and of the whole tree [MB]."""
        self._stop.set()
        return self.peak_single_mb, self.peak_mb


def run_command(scenario: str, draws: int, seed: int, workers: int, out: Path) -> list[str]:
    """The command the benchmarks time: ``sibmodel run SCENARIO --quiet --no-report`` into ``out``."""
    exe = str(Path(sys.executable).with_name("sibmodel"))
    return [exe, "run", scenario, "--draws", str(draws), "--seed", str(seed), "--quiet", "--no-report"] + [
        "--out", str(out), "--workers", str(workers)
    ]  # fmt: skip


def run_cli(
    scenario: str, draws: int, seed: int, workers: int, scheduler: str | None
) -> tuple[float, float, float, int]:
    """Wall time [s], peak RSS of the largest process and of the whole tree [MB], and starts."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = run_command(scenario, draws, seed, workers, out)
        if scheduler:
            cmd += ["--scheduler", scheduler]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT)
        tree = _TreeRss(proc.pid)
        proc.wait()
        wall = time.perf_counter() - t0
        single_mb, tree_mb = tree.stop()
        if proc.returncode != 0:
            raise SystemExit(f"sibmodel run failed with exit code {proc.returncode}")
        import json

        starts = json.loads((out / "summary.json").read_text())["outcomes"]["starts"]["mean"]
    return wall, single_mb, tree_mb, starts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="scenarios/pfp.yaml")
    ap.add_argument("--draws", type=int, nargs="+", default=[10_000])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--scheduler", default=None)
    ap.add_argument("--seed", type=int, default=12345)
    a = ap.parse_args()
    s = load_scenario(ROOT / a.scenario if not Path(a.scenario).is_absolute() else a.scenario)
    print(
        f"scenario {a.scenario}   workers {a.workers}   scheduler {a.scheduler or '-'}   load average "
        f"{os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'draws':>10} {'starts/draw':>11} {'wall s':>8} {'draws/s':>9} {'max RSS MB':>10} {'tree RSS MB':>11} "
        f"{'RNG floor s':>11} {'ratio':>6}"
    )
    for draws in a.draws:
        wall, rss, tree_mb, starts = run_cli(a.scenario, draws, a.seed, a.workers, a.scheduler)
        floor = rng_floor_s(count_random_numbers(s, draws, a.seed))
        print(
            f"{draws:>10,} {starts:>11,.0f} {wall:>8.2f} {draws / wall:>9,.0f} {rss:>10,.0f} {tree_mb:>11,.0f} "
            f"{floor:>11.3f} {wall / floor:>5.0f}x",
            flush=True,
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
