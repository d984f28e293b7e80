"""Benchmark of the report: ``sibmodel run`` with the report against the same run without it.

Run by hand (never in the test suite; the machine is shared, so repeat when it is quiet):

    .venv/bin/python benchmarks/bench_report.py                      # 2,000 draws, 3 rounds
    .venv/bin/python benchmarks/bench_report.py --rounds 5 --variant= --variant=--svg "--variant=--figures none"

Each round runs the real command line in a child process, timed from start to exit
(imports included), once with ``--no-report`` and once per variant (default: the
report as ``sibmodel run`` writes it), alternating so that a change in the machine's
load falls on both; a first run fills numba's cache.  The ratio is the median wall time
of a variant over the median of ``--no-report``.

Then, in this process, each figure of the last run's report is built, drawn as PNG and
(for comparison) as SVG from the saved run folder, and timed [s of CPU]: where the
report's time goes.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def time_run(scenario: str, draws: int, seed: int, out: Path, extra: list[str]) -> float:
    """Wall time of one ``sibmodel run`` in a child process [s]."""
    exe = str(Path(sys.executable).with_name("sibmodel"))
    cmd = [
        exe,
        "run",
        scenario,
        "--draws",
        str(draws),
        "--seed",
        str(seed),
        "--quiet",
        "--overwrite",
        "--out",
        str(out),
        *extra,
    ]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True)
    return time.perf_counter() - t0


def figure_costs(run_dir: Path) -> list[tuple[str, float, float, float]]:
    """Per figure of the report: CPU seconds to build it, to draw it as PNG and as SVG [s]."""
    from sibmodel.report import figures as F
    from sibmodel.results.rundir import load_run

    run = load_run(run_dir)
    rows = []
    with F.report_style():
        F.to_png(F.capital_drawn(run))  # fonts loaded: every row below is warm
        for stem, (_section, _title, fn) in F.RUN_FIGURES.items():
            t0 = time.process_time()
            fig = fn(run)
            t1 = time.process_time()
            if fig is None:
                rows.append((stem, t1 - t0, 0.0, 0.0))
                continue
            F.to_png(fig)
            t2 = time.process_time()
            F.to_svg(fig)
            rows.append((stem, t1 - t0, t2 - t1, time.process_time() - t2))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="scenarios/pfp.yaml")
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--variant",
        action="append",
        default=None,
        help="options of a report variant, repeatable: --variant= (the default report), --variant=--svg, "
        '"--variant=--figures none"',
    )
    a = ap.parse_args()
    variants = [shlex.split(v) for v in (a.variant or [""])]
    print(
        f"scenario {a.scenario}   draws {a.draws}   rounds {a.rounds}   load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    walls: dict[str, list[float]] = {"--no-report": [], **{" ".join(v) or "(report, default)": [] for v in variants}}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        time_run(a.scenario, 200, a.seed, out, ["--no-report"])  # numba's cache filled: timings are warm
        for _ in range(a.rounds):
            walls["--no-report"].append(time_run(a.scenario, a.draws, a.seed, out, ["--no-report"]))
            for v in variants:
                walls[" ".join(v) or "(report, default)"].append(time_run(a.scenario, a.draws, a.seed, out, v))
        costs = figure_costs(out)
    base = statistics.median(walls["--no-report"])
    print("\n| run | wall [s], median | rounds [s] | against --no-report |")
    print("|---|---:|---|---:|")
    for label, w in walls.items():
        med = statistics.median(w)
        print(f"| `{label}` | {med:.2f} | {', '.join(f'{x:.2f}' for x in w)} | {med / base:.2f}x |")
    print("\n| figure | build [s CPU] | PNG [s CPU] | SVG [s CPU] |")
    print("|---|---:|---:|---:|")
    for stem, b, p, sv in costs:
        print(f"| {stem} | {b:.3f} | {p:.3f} | {sv:.3f} |")
    tb, tp, ts = (sum(r[k] for r in costs) for k in (1, 2, 3))
    print(f"| all | {tb:.2f} | {tp:.2f} | {ts:.2f} |")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
