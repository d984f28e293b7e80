"""Charts of the three users' workflows (stress, tornado, reverse stress, Sobol, join, baseline).

Each function takes the table a workflow returns and gives a matplotlib
``Figure`` built without pyplot (no global state, no window, any backend);
``save`` writes it as PNG.  In a notebook, ``display(fig)`` shows it.  The run report's figures are in
:mod:`sibmodel.report.figures`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from sibmodel.report.figures import prob_text

_PCT = PercentFormatter(1.0, decimals=None)
_GBP_M = FuncFormatter(lambda x, _: f"£{x / 1e6:,.1f}m")


def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (folders created)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=120, bbox_inches="tight")
    return p


def stress_chart(table: pd.DataFrame) -> Figure:
    """Median IRR and P(loss) of the base and each stress scenario
    (from :func:`sibmodel.workflows.stress.stress_suite`)."""
    fig = Figure(figsize=(11, 0.45 * len(table) + 1.5))
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(table))[::-1]
    colours = ["#4c72b0" if s == "base" else "#c44e52" for s in table["scenario"]]
    ax1.barh(y, table["irr_p50"], color=colours)
    ax1.axvline(0, color="k", lw=0.8)
    ax1.axvline(table["irr_p50"].iloc[0], color="#4c72b0", ls="--", lw=0.8)
    ax1.set_yticks(y, table["scenario"])
    ax1.xaxis.set_major_formatter(_PCT)
    ax1.set_xlabel("median investor IRR [per year]")
    ax2.barh(y, table["p_loss"], color=colours)
    ax2.axvline(table["p_loss"].iloc[0], color="#4c72b0", ls="--", lw=0.8)
    ax2.set_xlim(0, 1)
    ax2.xaxis.set_major_formatter(_PCT)
    ax2.set_xlabel("P(loss): money multiple below 1")
    fig.suptitle("Stress suite (common random numbers; dashed: base case)")
    fig.tight_layout()
    return fig


def tornado_chart(table: pd.DataFrame, top: int = 12) -> Figure:
    """Swing in median IRR, in P(loss) and in the boroughs' median net savings as each input goes from
    its p10 to its p90 (from :func:`sibmodel.workflows.stress.tornado`); inputs ordered by the IRR swing, then
    the net-savings swing, so an input that decides the boroughs' answer but not the investor's (the
    baseline) is shown too."""
    t = table.sort_values(["irr_swing", "net_savings_swing"], ascending=False, kind="stable")
    t = pd.concat([t.head(top), t.nlargest(3, "net_savings_swing")]).drop_duplicates("input")
    t = t.iloc[::-1]
    fig = Figure(figsize=(16, 0.45 * len(t) + 1.5))
    ax1, ax2, ax3 = fig.subplots(1, 3, sharey=True)
    y = np.arange(len(t))
    for ax, lo, hi, base, fmt, label in (
        (ax1, "irr_p50_low", "irr_p50_high", "irr_p50_base", _PCT, "median investor IRR [per year]"),
        (ax2, "p_loss_low", "p_loss_high", "p_loss_base", _PCT, "P(loss)"),
        (
            ax3,
            "net_savings_p50_low",
            "net_savings_p50_high",
            "net_savings_p50_base",
            _GBP_M,
            "boroughs' median net savings [£, discounted]",
        ),
    ):
        b = float(t[base].iloc[0]) if len(t) else 0.0
        ax.barh(y, t[lo] - b, left=b, color="#c44e52", label="input at p10")
        ax.barh(y, t[hi] - b, left=b, color="#4c72b0", alpha=0.8, label="input at p90")
        ax.axvline(b, color="k", lw=0.8)
        ax.xaxis.set_major_formatter(fmt)
        ax.set_xlabel(label)
    ax1.set_yticks(y, t["input"])
    ax1.legend(loc="lower right", fontsize=8)
    fig.suptitle("Tornado: each input held at its p10 / p90, everything else drawn")
    fig.tight_layout()
    return fig


def reverse_stress_chart(table: pd.DataFrame) -> Figure:
    """Lever values at which the median IRR reaches 0 and P(loss) its target, with 95% Monte Carlo intervals."""
    levers = list(dict.fromkeys(table["lever"]))
    fig = Figure(figsize=(2.6 * len(levers) + 1, 3.2))
    axes = fig.subplots(1, len(levers), squeeze=False)
    for ax, name in zip(axes[0], levers):
        sub = table[table["lever"] == name].reset_index(drop=True)
        for i, row in sub.iterrows():
            if np.isfinite(row["value"]):
                err = None
                if np.isfinite(row["ci_low"]):
                    err = [[row["value"] - row["ci_low"]], [row["ci_high"] - row["value"]]]
                ax.errorbar([i], [row["value"]], yerr=err, fmt="o", capsize=4, color="#c44e52")
            else:
                ax.text(
                    i, 0.5, "not\nreached", ha="center", va="center", transform=ax.get_xaxis_transform(), fontsize=8
                )
        base = 1.0 if sub["unit"].iloc[0] == "x plan" else None
        if base is not None:
            ax.axhline(base, color="k", lw=0.8, ls="--")
        ax.set_xticks(
            range(len(sub)),
            [
                f.replace("investor.", "").replace("irr.p50", "IRR p50=0").replace("p_loss", f"P(loss)={t:g}")
                for f, t in zip(sub["figure"], sub["target"])
            ],
            fontsize=8,
        )
        ax.set_xlim(-0.6, len(sub) - 0.4)
        ax.set_title(sub["label"].iloc[0], fontsize=9)
        ax.set_ylabel(sub["unit"].iloc[0])
    fig.suptitle("Reverse stress: what has to go wrong for investors to lose money (dashed: plan)")
    fig.tight_layout()
    return fig


def sobol_chart(indices: pd.DataFrame) -> Figure:
    """First-order and total Sobol indices per input, one panel per output
    (from :func:`sibmodel.workflows.sensitivity.scenario_sobol`)."""
    outputs = list(dict.fromkeys(indices["output"]))
    fig = Figure(figsize=(6 * len(outputs), 0.4 * indices["input"].nunique() + 1.8))
    axes = fig.subplots(1, len(outputs), squeeze=False, sharey=True)
    for ax, out in zip(axes[0], outputs):
        sub = indices[indices["output"] == out].iloc[::-1]
        y = np.arange(len(sub))
        ax.barh(y + 0.2, sub["ST"], height=0.4, xerr=sub["ST_conf"], color="#4c72b0", label="total (ST)")
        ax.barh(y - 0.2, sub["S1"], height=0.4, xerr=sub["S1_conf"], color="#dd8452", label="first order (S1)")
        ax.set_yticks(y, sub["input"])
        ax.set_xlim(left=min(0.0, float(np.nanmin(sub["S1"])) - 0.05))
        ax.set_title(out)
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle("Sobol indices (SALib; bars: 95% bootstrap intervals)")
    fig.tight_layout()
    return fig


def join_chart(result) -> Figure:
    """The candidate's net savings distribution and the investor's figures without and with it
    (from :func:`sibmodel.workflows.join.join_analysis`)."""
    fig = Figure(figsize=(11, 3.6))
    ax1, ax2 = fig.subplots(1, 2)
    x = result.net_savings_draws_gbp
    ax1.hist(x[np.isfinite(x)], bins=40, color="#4c72b0")
    ax1.axvline(0, color="k", lw=0.8)
    ax1.xaxis.set_major_formatter(_GBP_M)
    ax1.set_xlabel(f"{result.borough}: net savings [GBP, discounted]")
    ax1.set_ylabel("draws")
    ax1.set_title(f"P(coming out ahead) = {prob_text(result.candidate['p_net_positive'])}")
    inv = result.investor
    pos = np.arange(len(inv))
    ax2.bar(pos - 0.2, inv["irr_p50"], width=0.4, color="#4c72b0", label="median IRR")
    ax2b = ax2.twinx()
    ax2b.bar(pos + 0.2, inv["p_loss"], width=0.4, color="#c44e52", label="P(loss)")
    ax2.set_xticks(pos, inv["case"])
    ax2.yaxis.set_major_formatter(_PCT)
    ax2b.yaxis.set_major_formatter(_PCT)
    ax2b.set_ylim(0, 1)
    ax2.set_ylabel("median investor IRR [per year]")
    ax2b.set_ylabel("P(loss)")
    ax2.axhline(0, color="k", lw=0.8)
    ax2.set_title("Investor, without and with the borough")
    handles = ax2.get_legend_handles_labels()[0] + ax2b.get_legend_handles_labels()[0]
    ax2.legend(handles, [h.get_label() for h in handles], loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def baseline_chart(tables: dict) -> Figure:
    """Time at home against the baseline, and the public's cost and net saving by way of purchase
    (from :func:`sibmodel.workflows.baseline.policy_baseline`)."""
    out, buy = tables["outcomes"], tables["purchase"]
    fig = Figure(figsize=(11, 3.8))
    ax1, ax2 = fig.subplots(1, 2)
    rows = out[out["figure"].isin(["time at home, with therapy", "time at home, without therapy"])]
    pos = np.arange(len(rows))
    ax1.bar(
        pos,
        rows["p50"],
        yerr=[rows["p50"] - rows["p5"], rows["p95"] - rows["p50"]],
        capsize=5,
        color=["#4c72b0", "#999999"],
    )
    for i, (_, r) in enumerate(rows.iterrows()):
        if np.isfinite(r["reference"]):
            ax1.plot([i - 0.4, i + 0.4], [r["reference"]] * 2, color="#c44e52", lw=2)
    ax1.set_xticks(pos, ["with therapy", "without"])
    ax1.set_ylim(0, 1)
    ax1.yaxis.set_major_formatter(_PCT)
    ax1.set_ylabel("share of tracked weeks at home")
    ax1.set_title("Time at home (bars: median, 5-95%; red: published)")
    pos = np.arange(len(buy))
    for off, stem, colour, label in (
        (-0.2, "public_cost", "#dd8452", "cost to the public"),
        (0.2, "public_net_saving", "#55a868", "public net saving"),
    ):
        p50, p5, p95 = buy[f"{stem}_p50_gbp"], buy[f"{stem}_p5_gbp"], buy[f"{stem}_p95_gbp"]
        ax2.bar(pos + off, p50, width=0.4, yerr=[p50 - p5, p95 - p50], capsize=5, color=colour, label=label)
    ax2.set_xticks(pos, buy["purchase"])
    ax2.yaxis.set_major_formatter(_GBP_M)
    ax2.axhline(0, color="k", lw=0.8)
    ax2.set_title("Outcomes contract vs fee for service (discounted)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def baseline_decides_chart(sweep) -> Figure:
    """Net savings against the baseline held fixed, with each borough's break-even
    (from :func:`sibmodel.workflows.baseline_sweep.sweep`)."""
    from sibmodel.report.figures import draw_baseline_decides

    fig = Figure(figsize=(12, 5))
    all_ns = sweep.net_savings("all")
    bands = tuple(np.percentile(all_ns, q, axis=1) for q in (5, 50, 95))
    borough_p50 = {n: np.median(sweep.net_savings(n), axis=1) for n in sweep.boroughs}
    break_even = {
        who: float(np.nanmedian(v)) if np.isfinite(v).any() else np.nan for who, v in sweep.break_even.items()
    }
    draw_baseline_decides(fig, sweep.grid, bands, borough_p50, break_even, sweep.price_year)
    fig.tight_layout()
    return fig
