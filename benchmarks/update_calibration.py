"""Simulation-based calibration of ``sibmodel update`` at a larger size than the test suite's.

For each "observed through" quarter: ``--truths`` draws of the scenario (seed + 1) are taken as the truth;
each truth's actuals through that quarter are conditioned on, with a prior sample of ``--draws`` draws
(seed), and the posterior's 5-95% interval of total outcome payments is set against the truth's total.
Prints coverage (nominal 90%) with its binomial 95% interval, the median ratio of posterior to prior
interval width, and the effective sample size.

    .venv/bin/python benchmarks/update_calibration.py --truths 200 --draws 2000 \
        --through 2018-Q1 2019-Q2 2020-Q2 2021-Q2 2022-Q2
"""

from __future__ import annotations

import argparse
import time

from scipy import stats

import sibmodel
from sibmodel.engine.history import quarter_labels
from sibmodel.workflows.update import calibration_study


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="scenarios/pfp.yaml")
    ap.add_argument("--truths", type=int, default=200)
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=101)
    ap.add_argument("--through", nargs="+", default=["2020-Q2"])
    args = ap.parse_args()
    s = sibmodel.load_scenario(args.scenario)
    labels = quarter_labels(s)
    print(f"{args.scenario}: {args.truths} truths, {args.draws} prior draws, seed {args.seed}")
    print("| observed through | coverage of the 90% interval (95% CI) | median width ratio | ESS min / median | time |")
    print("|---|---|---|---|---|")
    for through in args.through:
        t0 = time.perf_counter()
        study = calibration_study(s, args.truths, labels.index(through), args.draws, args.seed)
        k, n = int(study["covered"].sum()), len(study)
        ci = stats.binomtest(k, n).proportion_ci(0.95)
        print(
            f"| {through} | {k / n:.1%} ({ci.low:.1%} to {ci.high:.1%}) | {study['width_ratio'].median():.2f} | "
            f"{study['ess'].min():.0f} / {study['ess'].median():.0f} | {time.perf_counter() - t0:.0f} s |",
            flush=True,
        )


if __name__ == "__main__":
    main()
