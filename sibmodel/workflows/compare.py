"""Comparing scenarios on common random numbers: ``sibmodel compare A.yaml B.yaml ...``.

Every scenario is simulated with the same seed and draws.  Every random number
is a pure function of (seed, draw, borough, person, purpose) (see
:mod:`sibmodel.model.philox`), so draw *i* of every scenario sees the same
inputs, referrals and pathways wherever the scenarios agree: a difference
between two scenarios, taken draw by draw, is the effect of what differs
between them, not Monte Carlo noise (:data:`PAIRING`).  Comparing a scenario
with itself gives differences of exactly zero.

For each headline figure the table gives, per scenario, the median and 5-95%
range over draws and, against the first scenario, the per-draw (paired)
difference: its median, 5-95% range, mean and P(difference > 0).  For a
probability (the share of draws where something happens) the difference is the
difference in shares and its interval a 90% Monte Carlo confidence interval of
that paired difference.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sibmodel.model.finance import loss_indicator
from sibmodel.outputs import (
    COMMISSIONER_NET_SAVINGS_GBP,
    COST_PER_FAMILY_GBP,
    GOVERNMENT_VALUE_GBP,
    INVESTOR_CAPITAL_DRAWN_PEAK_GBP,
    INVESTOR_COMMITMENT_EXCEEDED,
    INVESTOR_IRR_ANNUAL,
    INVESTOR_MOIC,
    OUTCOME_PAYMENTS_GBP,
    STARTS,
    TIME_AT_HOME_SHARE,
    WEEKS_OUT_OF_CARE,
)
from sibmodel.report.tables import format_diff, format_level
from sibmodel.safe_text import write_csv

Z90 = 1.6448536269514722  # standard normal 95th percentile: a two-sided 90% interval


@dataclass(frozen=True)
class Metric:
    """One headline figure of a comparison.

    Parameters
    ----------
    key : str
        Identifier (stable, for JSON).
    label : str
        Readable label with unit.
    kind : {"gbp", "share", "ratio", "count", "prob"}
        How to format it; ``prob`` is a per-draw indicator whose mean is a probability.
    values : callable
        ``draws DataFrame -> ndarray (D,)`` of per-draw values (NaN where undefined).
    display_unit, display_scale : str, float
        Unit and factor for figures (e.g. ``"GBP m"``, ``1e-6``).
    """

    key: str
    label: str
    kind: str
    values: Callable[[pd.DataFrame], np.ndarray]
    display_unit: str
    display_scale: float


def _col(name: str):
    return lambda d: d[name].to_numpy(dtype=float)


METRICS: tuple[Metric, ...] = (
    Metric(STARTS, "starts [young people]", "count", _col(STARTS), "young people", 1.0),
    Metric(
        "time_at_home_treated",
        "time at home with therapy [share]",
        "share",
        _col(TIME_AT_HOME_SHARE["treated"]),
        "percentage points",
        100.0,
    ),
    Metric(WEEKS_OUT_OF_CARE, "weeks out of care [weeks]", "count", _col(WEEKS_OUT_OF_CARE), "weeks", 1.0),
    Metric(OUTCOME_PAYMENTS_GBP, "outcome payments [GBP]", "gbp", _col(OUTCOME_PAYMENTS_GBP), "\u00a3m", 1e-6),
    Metric(INVESTOR_MOIC, "money multiple [x]", "ratio", _col(INVESTOR_MOIC), "x", 1.0),
    Metric(INVESTOR_IRR_ANNUAL, "IRR [a year]", "share", _col(INVESTOR_IRR_ANNUAL), "percentage points", 100.0),
    Metric(
        INVESTOR_CAPITAL_DRAWN_PEAK_GBP,
        "peak capital drawn [GBP]",
        "gbp",
        _col(INVESTOR_CAPITAL_DRAWN_PEAK_GBP),
        "\u00a3m",
        1e-6,
    ),
    Metric(
        "p_loss",
        "P(loss: multiple < 1)",
        "prob",
        lambda d: loss_indicator(d[INVESTOR_MOIC]),
        "percentage points",
        100.0,
    ),
    Metric(
        "p_commitment_exceeded",
        "P(commitment exceeded)",
        "prob",
        lambda d: d[INVESTOR_COMMITMENT_EXCEEDED].to_numpy(dtype=float),
        "percentage points",
        100.0,
    ),
    Metric(
        COMMISSIONER_NET_SAVINGS_GBP,
        "commissioners' net savings [GBP, discounted]",
        "gbp",
        _col(COMMISSIONER_NET_SAVINGS_GBP),
        "\u00a3m",
        1e-6,
    ),
    Metric(
        "p_commissioners_ahead",
        "P(commissioners ahead)",
        "prob",
        lambda d: (d[COMMISSIONER_NET_SAVINGS_GBP].to_numpy(float) > 0).astype(float),
        "percentage points",
        100.0,
    ),
    Metric(GOVERNMENT_VALUE_GBP, "value to government [GBP]", "gbp", _col(GOVERNMENT_VALUE_GBP), "\u00a3m", 1e-6),
    Metric(COST_PER_FAMILY_GBP, "outcome payments per start [GBP]", "gbp", _col(COST_PER_FAMILY_GBP), "\u00a3k", 1e-3),
)


def paired_stats(a: np.ndarray, b: np.ndarray, kind: str) -> dict:
    """Per-draw differences ``b - a`` summarised.

    Parameters
    ----------
    a, b : ndarray (D,)
        Per-draw values of the same figure in two runs on common random numbers
        [unit of the figure]; NaN where undefined (such draws are left out of
        both, keeping the pairs).
    kind : str
        ``"prob"`` for indicators: the interval is then a 90% Monte Carlo
        confidence interval of the mean difference; otherwise the 5th and 95th
        percentiles of the per-draw differences.

    Returns
    -------
    dict
        ``diff_mean``, ``diff_p5``, ``diff_p50``, ``diff_p95``,
        ``p_diff_positive`` and ``n_pairs``.
    """
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    if a.shape != b.shape:
        raise ValueError(f"paired draws must have the same shape, got {a.shape} and {b.shape}")
    ok = np.isfinite(a) & np.isfinite(b)
    diff = b[ok] - a[ok]
    n = int(diff.size)
    if n == 0:
        nan = float("nan")
        return {
            "diff_mean": nan,
            "diff_p5": nan,
            "diff_p50": nan,
            "diff_p95": nan,
            "p_diff_positive": nan,
            "n_pairs": 0,
        }
    mean = float(diff.mean())
    if kind == "prob":
        se = float(diff.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
        lo, mid, hi = mean - Z90 * se, mean, mean + Z90 * se
    else:
        lo, mid, hi = (float(v) for v in np.percentile(diff, [5, 50, 95]))
    return {
        "diff_mean": mean,
        "diff_p5": lo,
        "diff_p50": mid,
        "diff_p95": hi,
        "p_diff_positive": float(np.mean(diff > 0)),
        "n_pairs": n,
    }


def _level(x: np.ndarray, kind: str) -> dict:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {"mean": np.nan, "p5": np.nan, "p50": np.nan, "p95": np.nan}
    if kind == "prob":
        m = float(x.mean())
        return {"mean": m, "p5": m, "p50": m, "p95": m}
    p5, p50, p95 = np.percentile(x, [5, 50, 95])
    return {"mean": float(x.mean()), "p5": float(p5), "p50": float(p50), "p95": float(p95)}


def compare_table(runs: Sequence, metrics: Sequence[Metric] = METRICS) -> pd.DataFrame:
    """Headline figures of each run and paired differences from the first.

    Parameters
    ----------
    runs : sequence of Results or SavedRun
        Runs with the same number of draws, on the same seed and chunk size.

    Returns
    -------
    pandas.DataFrame
        One row per figure and scenario: ``key``, ``label``, ``kind``,
        ``scenario_index``, ``scenario``, ``mean``, ``p5``, ``p50``, ``p95`` and
        the :func:`paired_stats` columns (zero for the first scenario).
    """
    if len(runs) < 1:
        raise ValueError("compare needs at least one run")
    n = {len(r.draws) for r in runs}
    if len(n) != 1:
        raise ValueError(f"runs to compare must have the same number of draws, got {sorted(n)}")
    rows = []
    for m in metrics:
        base = m.values(runs[0].draws)
        for i, r in enumerate(runs):
            x = m.values(r.draws)
            rows.append(
                {
                    "key": m.key,
                    "label": m.label,
                    "kind": m.kind,
                    "scenario_index": i,
                    "scenario": r.scenario.metadata.name,
                    **_level(x, m.kind),
                    **paired_stats(base, x, m.kind),
                    "display_unit": m.display_unit,
                    "display_scale": m.display_scale,
                }
            )
    return pd.DataFrame(rows)


@dataclass
class Comparison:
    """Runs on common random numbers and their comparison table.

    Parameters
    ----------
    runs : list of Results
    paths : list of str
        The scenario files, as given.
    table : pandas.DataFrame
        :func:`compare_table` of ``runs``.
    """

    runs: list
    paths: list
    table: pd.DataFrame = field(default=None)

    def __post_init__(self):
        if self.table is None:
            self.table = compare_table(self.runs)

    def figures(self):
        """``(stem, title, Figure)`` for each overlay figure."""
        from sibmodel.report import figures as F

        return [
            ("compare_distributions", "Distributions of the headline figures", F.compare_distributions(self.runs)),
            ("compare_cashflows", "Investor cumulative net cashflow", F.compare_cashflows(self.runs)),
            (
                "compare_differences",
                "Paired differences from the first scenario",
                F.compare_differences(self.table, self.runs),
            ),
        ]


def run_comparison(scenarios: Sequence, paths: Sequence[str], draws: int, seed: int, **simulate_kwargs) -> Comparison:
    """Simulate every scenario on the same seed and compare them.

    Parameters
    ----------
    scenarios : sequence of Scenario
    paths : sequence of str
        Where each came from (shown in the report).
    draws : int
        Monte Carlo draws per scenario.
    seed : int
        The one root seed every scenario is run with (common random numbers).
    **simulate_kwargs
        Passed to :func:`sibmodel.engine.run.simulate` (e.g. ``chunk_size``, ``workers``).
    """
    from sibmodel.engine.run import simulate

    if seed is None:
        raise ValueError("compare needs an explicit seed so that every scenario uses the same random numbers")
    runs = [simulate(s, draws=draws, seed=seed, **simulate_kwargs) for s in scenarios]
    return Comparison(runs, list(paths))


def format_table(table: pd.DataFrame) -> str:
    """The comparison as plain text: per figure, each scenario's median [p5, p95] and the paired difference.

    Differences of shares and probabilities are in percentage points (pp).
    """
    first = table[table["key"] == table["key"].iloc[0]]
    lines = ["Scenarios (common random numbers; differences are paired, draw by draw, against #0):"]
    lines += [f"  #{int(r['scenario_index'])} {r['scenario']}" for _, r in first.iterrows()]
    lines.append("")
    lines.append(
        f"  {'figure':<46} {'#':>2} {'median':>10} {'p5':>10} {'p95':>10}   {'diff median':>11} {'diff 5-95%':>24}"
    )
    for key in dict.fromkeys(table["key"]):
        for _, r in table[table["key"] == key].iterrows():
            kind = r["kind"]
            label = r["label"] if r["scenario_index"] == 0 else ""
            band = ("", "") if kind == "prob" else (format_level(kind, r["p5"]), format_level(kind, r["p95"]))
            text = (
                f"  {label:<46} {int(r['scenario_index']):>2} {format_level(kind, r['p50']):>10} "
                f"{band[0]:>10} {band[1]:>10}"
            )
            if r["scenario_index"] > 0:
                text += (
                    f"   {format_diff(kind, r['diff_p50']):>11} "
                    f"{format_diff(kind, r['diff_p5']) + ' to ' + format_diff(kind, r['diff_p95']):>24}"
                )
            lines.append(text.rstrip())
    lines.append("")
    lines.append("  For P(...) rows the interval is a 90% Monte Carlo confidence interval of the paired difference.")
    lines.append(f"  {PAIRING}")
    return "\n".join(lines)


#: What pairs the runs of a comparison (printed under the table and stored in ``compare.json``).
PAIRING = (
    "Paired draws: every random number is a function of the seed, the draw, the borough and the young person, so "
    "a change touches only what it changes. A borough the change does not concern keeps its referrals and care "
    "pathways; its figures can move only through what boroughs share: team capacity, the total cap and top-up "
    "limit, and the programme-wide baseline of the arm without therapy."
)


def write_comparison(
    comparison: Comparison,
    out_dir: str | os.PathLike,
    *,
    overwrite: bool = False,
    numbered: bool = False,
    command_line=None,
    svg: bool = False,
) -> Path:
    """Write the comparison folder atomically (see :func:`sibmodel.results.folders.output_folder`).

    Files: ``compare.html`` (self-contained report), ``compare.json`` and
    ``compare.csv`` (the table), ``figures/`` (PNG of each overlay; SVG too if ``svg``), ``manifest.json``
    (:func:`sibmodel.results.manifest.build_manifest`; ``command_line`` as typed, if any).
    ``overwrite`` replaces an earlier sibmodel output at ``out_dir``; ``numbered``
    writes to ``<out_dir>-2``, ``-3``, ... instead when ``out_dir`` is taken.
    Returns the folder written.
    """
    from sibmodel.report.html import COMPARE_FILE, build_compare_report
    from sibmodel.results.folders import output_folder
    from sibmodel.results.manifest import build_manifest, manifest_writer

    first = comparison.runs[0].summary()["meta"]
    manifest = build_manifest(
        "compare",
        seed=first.get("seed"),
        seed_entropy=first.get("seed_entropy"),
        draws=first.get("draws"),
        scenario_hashes={
            p: r.summary()["meta"].get("scenario_hash") for r, p in zip(comparison.runs, comparison.paths)
        },
        command_line=command_line,
        chunk_size=first.get("chunk_size"),
    )
    with output_folder(
        out_dir, command="compare", overwrite=overwrite, numbered=numbered, before_marker=manifest_writer(manifest)
    ) as out:
        tmp = out.staging
        (tmp / COMPARE_FILE).write_text(build_compare_report(comparison, tmp / "figures", svg=svg), encoding="utf-8")
        records = json.loads(comparison.table.to_json(orient="records"))
        meta = comparison.runs[0].summary()["meta"]
        doc = {
            "scenarios": [
                {"name": r.scenario.metadata.name, "file": p, "scenario_hash": r.summary()["meta"].get("scenario_hash")}
                for r, p in zip(comparison.runs, comparison.paths)
            ],
            "draws": meta.get("draws"),
            "seed": meta.get("seed"),
            "chunk_size": meta.get("chunk_size"),
            "version": meta.get("version"),
            "pairing": PAIRING,
            "table": records,
        }
        (tmp / "compare.json").write_text(json.dumps(doc, indent=2))
        write_csv(comparison.table, tmp / "compare.csv")
    return out.target
