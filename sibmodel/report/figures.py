"""Figures for the three users: investors, boroughs and policy staff, plus validation.

Every function takes a run -- a :class:`~sibmodel.results.run.Results` or a saved
run folder read by :func:`sibmodel.results.rundir.load_run` (anything with ``.draws``,
``.cashflows``, ``.summary()`` and ``.scenario``) -- and returns a
:class:`matplotlib.figure.Figure`.  Figures are built with the object-oriented
API only: nothing here imports :mod:`matplotlib.pyplot`, so no figure is
registered with a GUI, nothing is ever shown, and the functions are safe in a
server, a test or a notebook (where a returned Figure displays itself).

Axis labels carry units in brackets; each figure carries a caption naming its
source (model version, scenario, hash, draws, seed; the published source of any
observed figure marked).  :func:`caption_of` returns that caption, e.g. for an
HTML ``<figcaption>``.  Money is shown in millions or thousands of pounds at the
prices of the scenario's price year (undiscounted unless the label says
discounted).
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from sibmodel.outputs import (
    BASELINE_TIME_AT_HOME_SHARE,
    BY_KEY,
    COMMISSIONER_NET_SAVINGS_GBP,
    INVESTOR_CAPITAL_DRAWN_CUMULATIVE_GBP,
    INVESTOR_CUMULATIVE_NET_CASHFLOW_GBP,
    INVESTOR_IRR_ANNUAL,
    INVESTOR_MOIC,
    OBSERVABLE,
    OUTCOME_PAYMENTS_GBP,
    STARTS,
    TIME_AT_HOME_FIGURES,
    TIME_AT_HOME_SHARE,
    WEEKS_HOME,
    WEEKS_OUT_OF_CARE,
    summary_path,
)
from sibmodel.report.tables import kind_label, seed_text

CAPTION_GID = "sibmodel-caption"
#: boxplot's keyword for horizontal boxes (``vert`` is deprecated from Matplotlib 3.10).
_HORIZONTAL = (
    {"orientation": "horizontal"}
    if tuple(int(p) for p in matplotlib.__version__.split(".")[:2]) >= (3, 10)
    else {"vert": False}
)
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f")
TREATED, COUNTERFACTUAL = "#1f77b4", "#d62728"
OBSERVED = "#111111"


# --------------------------------------------------------------------------- helpers
def _plain(text: str) -> str:
    """Text from a scenario, drawn as it is: ``$`` would otherwise start Matplotlib mathtext."""
    return str(text).replace("$", r"\$")


def _figure(width_in: float, height_in: float, caption: str) -> Figure:
    """A figure with constrained layout and ``caption`` wrapped along the bottom."""
    lines = textwrap.wrap(caption, width=int(width_in * 15)) or [""]
    caption_in = 0.17 * len(lines) + 0.1
    fig = Figure(figsize=(width_in, height_in + caption_in), dpi=100)
    bottom = caption_in / (height_in + caption_in)
    fig.set_layout_engine(ConstrainedLayoutEngine(rect=(0, bottom, 1, 1 - bottom)))
    fig.text(
        0.01, 0.01, _plain("\n".join(lines)), ha="left", va="bottom", fontsize=7.5, color="#444444", gid=CAPTION_GID
    )
    fig.sibmodel_caption = caption
    return fig


def caption_of(fig: Figure) -> str:
    """The caption (source line) a figure of this module was made with."""
    return getattr(fig, "sibmodel_caption", "")


def _meta(run) -> dict:
    return run.summary().get("meta", {})


def run_label(run) -> str:
    """The scenario's name, as shown in legends."""
    return run.scenario.metadata.name


def source_line(run) -> str:
    """Where a figure's numbers come from: model, scenario, hash, draws, seed."""
    m = _meta(run)
    return (
        f"Source: sibmodel {m.get('version', '?')} Monte Carlo, scenario \u201c{run_label(run)}\u201d "
        f"(hash {str(m.get('scenario_hash', '?'))[:12]}), {m.get('draws', len(run.draws))} draws, {seed_text(m)}."
    )


def prob_text(p: float) -> str:
    """A probability as a percentage that never rounds to a certainty it is not ("<1%", ">99%")."""
    if p != p:
        return "n/a"
    if 0 < p < 0.005:
        return "<1%"
    if 0.995 <= p < 1:
        return ">99%"
    return f"{p:.0%}"


def _finite(x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return x[np.isfinite(x)]


def _quarter_dates(cashflows: pd.DataFrame) -> pd.DatetimeIndex:
    return pd.to_datetime(cashflows["quarter_end"])


def _fan(ax, x, cf: pd.DataFrame, name: str, scale: float, colour: str, label: str) -> None:
    """Shade the 5-95% band of ``name`` and draw its median and mean."""
    ax.fill_between(
        x,
        cf[f"{name}_p5"] / scale,
        cf[f"{name}_p95"] / scale,
        color=colour,
        alpha=0.2,
        lw=0,
        label=f"{label}: 5\u201395% of draws",
    )
    ax.plot(x, cf[f"{name}_p50"] / scale, color=colour, lw=2, label=f"{label}: median")
    ax.plot(x, cf[f"{name}_mean"] / scale, color=colour, lw=1, ls="--", label=f"{label}: mean")


def observed_value(scenario, figure: str) -> tuple[float, str] | None:
    """The scenario's published value for a summary figure, and its source, if it has one.

    Parameters
    ----------
    scenario : Scenario
    figure : str
        A dotted summary figure, e.g. ``outcomes.time_at_home_share.treated``.

    Returns
    -------
    (value, source) or None
    """
    for obs in scenario.observed.values():
        if obs.figure == figure:
            return float(obs.value), obs.source
    return None


def observed_time_at_home(scenario, arm: str) -> tuple[float, str, bool] | None:
    """Published share of tracked time at home for ``arm`` [1], its source, and whether it was derived.

    A scenario may publish the time at home or the share of time in care; the
    latter is converted (at home = 1 - in care) and flagged as derived.
    """
    home, care = TIME_AT_HOME_FIGURES[arm]
    found = observed_value(scenario, home)
    if found is not None:
        return found[0], found[1], False
    found = observed_value(scenario, care)
    return None if found is None else (1.0 - found[0], found[1], True)


def _observed_sources(pairs) -> str:
    srcs = []
    for p in pairs:
        if p is not None and p[1] not in srcs:
            srcs.append(p[1])
    return (" Published values: " + " ".join(srcs)) if srcs else ""


# --------------------------------------------------------------------------- investors
def investor_returns(run) -> Figure:
    """Histograms of the money multiple and the annual IRR, with the chance of a loss marked.

    Left: money multiple (distributions / capital drawn) [x], with the break-even
    multiple 1.0 and P(multiple < 1).  Right: IRR [% a year], with 0% and
    P(IRR < 0); draws with no IRR (no sign change: total loss) are counted in
    the title.
    """
    d = run.draws
    inv = run.summary()["investor"]
    fig = _figure(
        10,
        4,
        source_line(run)
        + " Money multiple = distributions received / capital drawn; IRR annualised from quarterly flows.",
    )
    ax1, ax2 = fig.subplots(1, 2)
    moic = _finite(d[INVESTOR_MOIC])
    ax1.hist(moic, bins=40, color=TREATED, alpha=0.8)
    ax1.axvspan(min(moic.min(initial=1.0), 0.0), 1.0, color=COUNTERFACTUAL, alpha=0.08)
    ax1.axvline(1.0, color=COUNTERFACTUAL, lw=1.5, label="break-even (1.0x)")
    ax1.set_xlabel("money multiple [x]")
    ax1.set_ylabel("draws [count]")
    ax1.set_title(f"Money multiple: P(loss) = {prob_text(inv['p_loss'])}")
    ax1.legend(loc="upper right", fontsize=8)
    irr = d[INVESTOR_IRR_ANNUAL].to_numpy(float)
    ok = _finite(irr) * 100
    ax2.hist(ok, bins=40, color=TREATED, alpha=0.8)
    ax2.axvline(0.0, color=COUNTERFACTUAL, lw=1.5, label="0% a year")
    ax2.set_xlabel("IRR [% a year]")
    ax2.set_ylabel("draws [count]")
    n_nan = int(np.sum(~np.isfinite(irr)))
    extra = f"; {n_nan} draws without an IRR" if n_nan else ""
    ax2.set_title(f"IRR: P(IRR < 0) = {prob_text(inv['p_irr_negative'])}{extra}")
    ax2.legend(loc="upper right", fontsize=8)
    return fig


def _quarterly(run, caption: str, ylabel: str, title: str):
    """A figure with one axes of quarterly values: (figure, axes, quarter-end dates, cashflows)."""
    cf = run.cashflows
    fig = _figure(8, 4, source_line(run) + " " + caption)
    ax = fig.subplots()
    ax.set_xlabel("quarter ending [date]")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return fig, ax, _quarter_dates(cf), cf


def capital_drawn(run) -> Figure:
    """Fan chart of capital drawn to date [GBP m] by quarter, with the commitment as a line."""
    inv = run.summary()["investor"]
    fig, ax, x, cf = _quarterly(
        run,
        "Commitment from the scenario's investment block; P(commitment exceeded) = "
        f"{inv['p_commitment_exceeded']:.1%}.",
        "capital drawn to date [\u00a3m]",
        "Investor capital drawn over time",
    )
    _fan(ax, x, cf, INVESTOR_CAPITAL_DRAWN_CUMULATIVE_GBP, 1e6, TREATED, "capital drawn")
    ax.axhline(
        inv["commitment_gbp"] / 1e6,
        color=COUNTERFACTUAL,
        lw=1.5,
        label=f"commitment \u00a3{inv['commitment_gbp'] / 1e6:,.2f}m",
    )
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def cumulative_cashflow(run) -> Figure:
    """Fan chart of the investor's cumulative net cashflow [GBP m] by quarter."""
    fig, ax, x, cf = _quarterly(
        run,
        "Net cashflow = distributions received - capital drawn, undiscounted.",
        "cumulative net cashflow to investor [\u00a3m]",
        "Investor cumulative net cashflow",
    )
    _fan(ax, x, cf, INVESTOR_CUMULATIVE_NET_CASHFLOW_GBP, 1e6, TREATED, "cumulative net cashflow")
    ax.axhline(0.0, color="#333333", lw=1)
    ax.legend(loc="lower left", fontsize=8)
    return fig


def outcome_payments(run) -> Figure:
    """Outcome payments received by quarter [GBP k]: mean with the 5-95% range, and delivery costs."""
    fig, ax, x, cf = _quarterly(
        run,
        "Payments fall due quarterly in arrears after the contract's payment lag; undiscounted.",
        "per quarter [\u00a3k]",
        "Outcome payments by quarter",
    )
    mean = cf["outcome_payments_gbp_mean"] / 1e3
    err = np.vstack([mean - cf["outcome_payments_gbp_p5"] / 1e3, cf["outcome_payments_gbp_p95"] / 1e3 - mean]).clip(
        min=0
    )
    ax.bar(x, mean, width=70, color=TREATED, alpha=0.8, label="outcome payments: mean")
    ax.errorbar(x, mean, yerr=err, fmt="none", ecolor="#333333", lw=0.8, capsize=2, label="5\u201395% of draws")
    ax.plot(x, cf["delivery_costs_gbp_mean"] / 1e3, color=COUNTERFACTUAL, lw=1.5, label="delivery costs and fees: mean")
    ax.legend(loc="upper left", fontsize=8)
    return fig


# --------------------------------------------------------------------------- boroughs
def borough_net_savings(run) -> Figure:
    """Net savings per borough [GBP k, discounted] as box plots, with break-even and P(ahead).

    Net savings = care costs avoided - outcome payments made, discounted to the
    price year.  Boxes: 25-75%; whiskers: 5-95% of draws.
    """
    s = run.summary()
    com = s["commissioner"]
    names = list(com["boroughs"])
    data = [_finite(run.draws[f"borough.{n}.net_savings_gbp"]) / 1e3 for n in names]
    height = 1.0 + 0.42 * len(names)
    fig = _figure(
        9,
        height,
        source_line(run) + f" Care costs avoided (counterfactual - treated) minus outcome payments, discounted at "
        f"{com['discount_rate_real_annual']:.1%} real to {com['price_year']} prices. Boxes 25\u201375%, "
        "whiskers 5\u201395% of draws.",
    )
    ax = fig.subplots()
    pos = np.arange(len(names))[::-1]
    ax.boxplot(
        data,
        positions=pos,
        **_HORIZONTAL,
        whis=(5, 95),
        showfliers=False,
        widths=0.6,
        patch_artist=True,
        boxprops={"facecolor": "#cfe0f1", "edgecolor": TREATED},
        medianprops={"color": TREATED},
    )
    ax.axvline(0.0, color=COUNTERFACTUAL, lw=1.5, label="break-even (net savings 0)")
    ax.set_yticks(pos, [_plain(n) for n in names])
    right = ax.secondary_yaxis("right")
    right.set_yticks(pos, [f"P(ahead) {prob_text(com['boroughs'][n]['p_net_positive'])}" for n in names])
    right.tick_params(length=0)
    ax.set_xlabel(f"net savings per borough [\u00a3k, discounted to {com['price_year']}]")
    ax.set_title("Borough net savings and the chance of coming out ahead")
    ax.legend(loc="lower right", fontsize=8)
    return fig


# --------------------------------------------------------------------------- policy
def time_at_home(run) -> Figure:
    """Share of tracked time at home, with therapy and without (counterfactual) [%], with published values."""
    d = run.draws
    obs = {arm: observed_time_at_home(run.scenario, arm) for arm in ("treated", "counterfactual")}
    fig = _figure(
        8, 4, source_line(run) + " Both arms simulated on common random numbers." + _observed_sources(obs.values())
    )
    ax = fig.subplots()
    for arm, colour, label in (
        ("treated", TREATED, "with therapy"),
        ("counterfactual", COUNTERFACTUAL, "without (counterfactual)"),
    ):
        x = _finite(d[f"time_at_home_share_{arm}"]) * 100
        ax.hist(x, bins=30, color=colour, alpha=0.55, label=f"{label}: median {np.median(x):.1f}%" if x.size else label)
        if obs[arm] is not None:
            v, _src, derived = obs[arm]
            note = f" (100% - {100 - v * 100:.1f}% in care)" if derived else ""
            ax.axvline(v * 100, color=colour, lw=2, ls="--", label=f"published {label}: {v * 100:.1f}%{note}")
    ax.set_xlabel("share of tracked time at home [%]")
    ax.set_ylabel("draws [count]")
    ax.set_xlim(0, 100)
    ax.set_title("Time at home with and without therapy")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def weeks_out_of_care(run) -> Figure:
    """Weeks out of care over the tracking windows, with therapy and without [weeks, all starts]."""
    d = run.draws
    obs = observed_value(run.scenario, summary_path(WEEKS_OUT_OF_CARE))
    fig = _figure(
        8,
        4,
        source_line(run)
        + " Weeks at home within each young person's tracking window, summed over all starts."
        + _observed_sources([obs]),
    )
    ax = fig.subplots()
    for col, colour, label in (
        (WEEKS_HOME["treated"], TREATED, "with therapy"),
        (WEEKS_HOME["counterfactual"], COUNTERFACTUAL, "without (counterfactual)"),
    ):
        x = _finite(d[col])
        ax.hist(x, bins=30, color=colour, alpha=0.55, label=f"{label}: median {np.median(x):,.0f}" if x.size else label)
    if obs is not None:
        ax.axvline(obs[0], color=OBSERVED, lw=2, ls="--", label=f"published, with therapy: {obs[0]:,.0f}")
    ax.set_xlabel("weeks out of care, all starts [weeks]")
    ax.set_ylabel("draws [count]")
    ax.set_title("Weeks out of care")
    ax.legend(loc="upper left", fontsize=8)
    return fig


# --------------------------------------------------------------------------- what the baseline decides
def draw_baseline_decides(
    fig: Figure, x: np.ndarray, all_bands: tuple, borough_p50: dict, break_even: dict, price_year
) -> None:
    """Net savings against the baseline, in two panels of ``fig``: all boroughs' median and 5-95% band
    with their break-even; each borough's median with its break-even marked on the zero line.

    Parameters
    ----------
    x : ndarray, shape (G,)
        Baselines [share].
    all_bands : (p5, p50, p95), each ndarray (G,)
        All boroughs' net savings [GBP, discounted].
    borough_p50 : dict of name -> ndarray (G,)
        Each borough's median net saving [GBP, discounted].
    break_even : dict of name -> float
        Break-even baseline of ``all`` and of each borough [share] (NaN: not marked).
    price_year : int or str
        Year the money is discounted to.
    """
    ax1, ax2 = fig.subplots(1, 2)
    xp = np.asarray(x, float) * 100
    p5, p50, p95 = (np.asarray(v, float) / 1e6 for v in all_bands)
    ax1.fill_between(xp, p5, p95, color=TREATED, alpha=0.15, label="5\u201395% of draws")
    ax1.plot(xp, p50, color=TREATED, lw=2.2, label="median")
    be_all = break_even.get("all", np.nan)
    if np.isfinite(be_all):
        ax1.axvline(be_all * 100, color=COUNTERFACTUAL, ls="--", lw=1.5, label=f"break-even: {be_all:.0%}")
    ax1.set_ylabel(f"net savings [\u00a3m, discounted to {price_year}]")
    ax1.set_title("All boroughs")
    for k, (name, y) in enumerate(borough_p50.items()):
        colour = COLOURS[k % len(COLOURS)]
        style = "-" if k < len(COLOURS) else "--"
        be = break_even.get(name, np.nan)
        label = _plain(name) + (f" ({be:.0%})" if np.isfinite(be) else "")
        ax2.plot(xp, np.asarray(y, float) / 1e3, color=colour, ls=style, lw=1.2, label=label)
        if np.isfinite(be):
            ax2.plot([be * 100], [0.0], marker="|", ms=16, mew=2, color=colour)
    ax2.set_ylabel(f"median net savings [\u00a3k, discounted to {price_year}]")
    ax2.set_title("Each borough (tick and %: its break-even baseline)")
    for ax in (ax1, ax2):
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_xlabel("time at home without therapy, the baseline [% of tracked weeks]")
        ax.legend(loc="upper right", fontsize=7)


def baseline_decides(run) -> Figure | None:
    """Net savings against the baseline drawn in each draw, with the break-even baselines.

    From one run: draws are grouped into ten bins of the baseline drawn (deciles); the
    medians per bin are joined and a break-even is where a median first falls to zero.
    None when the scenario has no uncertain baseline (``sibmodel baseline --baselines``
    holds it fixed at chosen values instead).
    """
    from sibmodel.results.stats import first_crossing

    d = run.draws
    if BASELINE_TIME_AT_HOME_SHARE not in d or np.ptp(_finite(d[BASELINE_TIME_AT_HOME_SHARE])) == 0:
        return None
    com = run.summary()["commissioner"]
    b = d[BASELINE_TIME_AT_HOME_SHARE].to_numpy(float)
    if not (d[STARTS].to_numpy(float) > 0).any():
        return None  # nobody started: nothing was saved or paid at any baseline
    edges = np.quantile(b, np.linspace(0, 1, 11))
    bin_of = np.clip(np.searchsorted(edges, b, side="right") - 1, 0, 9)
    used = [k for k in range(10) if (bin_of == k).any()]  # tied baselines can leave a bin empty
    centres = np.array([np.median(b[bin_of == k]) for k in used])

    def per_bin(col, q):
        v = d[col].to_numpy(float)
        return np.array([np.percentile(v[bin_of == k], q) for k in used])

    allc = COMMISSIONER_NET_SAVINGS_GBP
    bands = tuple(per_bin(allc, q) for q in (5, 50, 95))
    borough_p50 = {n: per_bin(f"borough.{n}.net_savings_gbp", 50) for n in com["boroughs"]}
    curves = {"all": bands[1], **borough_p50}
    break_even = {}
    for name, y in curves.items():
        root, below, above = first_crossing(centres, y[:, None])
        break_even[name] = float(root[0]) if not (below[0] or above[0]) else np.nan
    fig = _figure(
        11,
        4.6,
        source_line(run)
        + " Draws grouped into ten bins of the baseline drawn (time at home without therapy); lines join the "
        "bins' medians of net savings (care costs avoided minus outcome payments, discounted). A break-even "
        "outside the "
        "range drawn is not marked; `sibmodel baseline --baselines` solves it per draw.",
    )
    draw_baseline_decides(fig, centres, bands, borough_p50, break_even, com["price_year"])
    return fig


# --------------------------------------------------------------------------- validation
#: How a validation figure is drawn, by its column's unit in the outputs registry: (axis unit, scale).
_UNITS = {"share": ("%", 100.0), "GBP": ("\u00a3m", 1e-6)}


def _unit(figure: str) -> tuple[str, float]:
    if figure not in OBSERVABLE:
        return ("", 1.0)
    unit = BY_KEY[OBSERVABLE[figure][0]].unit
    return _UNITS.get(unit, (unit, 1.0))


def validation(run) -> Figure | None:
    """Each observed figure against the model's 5-95% range and median; ``None`` without ``observed:``."""
    rows = run.summary().get("validation") or []
    if not rows:
        return None
    srcs = sorted({r["source"] for r in rows})
    fig = _figure(
        9,
        0.4 + 0.85 * len(rows),
        source_line(run)
        + " Published values: "
        + " ".join(srcs)
        + " Only a figure of kind 'independent' is a check no input was set from; a red diamond lies outside "
        "the model's 5\u201395%.",
    )
    axes = np.atleast_1d(fig.subplots(len(rows), 1))
    for ax, r in zip(axes, rows):
        unit, k = _unit(r["figure"])
        model = [r["p5"], r["p50"], r["p95"]]
        if np.all(np.isfinite(model)):
            ax.hlines(0, r["p5"] * k, r["p95"] * k, color=TREATED, lw=8, alpha=0.35, label="model 5\u201395%")
            ax.plot([r["p50"] * k], [0], "|", color=TREATED, ms=16, mew=2, label="model median")
        else:  # e.g. shares of a run without starts: an empty state, not NaN axis limits
            model = []
            ax.text(
                0.5,
                0.5,
                "no model value (no draw defines this figure)",
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=8,
            )
        colour = OBSERVED if r["inside_p5_p95"] else COUNTERFACTUAL
        ax.plot([r["observed"] * k], [0], "D", color=colour, ms=7, label="published")
        lo = min([*model, r["observed"]]) * k
        hi = max([*model, r["observed"]]) * k
        pad = 0.08 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.1
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_yticks([])
        tag = f" ({kind_label(r)})"
        ax.set_ylabel(_plain(r["label"]) + tag, rotation=0, ha="right", va="center", fontsize=8)
        ax.set_xlabel(f"{r['figure']} [{unit}]", fontsize=8)
        ax.tick_params(labelsize=8)
    axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, 1.9), ncol=3, fontsize=8, frameon=False)
    axes[0].set_title("Published results against the model's range", pad=22)
    return fig


# --------------------------------------------------------------------------- overlays (compare)
def _labels(runs: Sequence) -> list[str]:
    return [_plain(f"#{i} {run_label(r)}") for i, r in enumerate(runs)]


def _compare_caption(runs: Sequence) -> str:
    m = _meta(runs[0])
    return (
        f"Source: sibmodel {m.get('version', '?')}; {len(runs)} scenarios each run with {m.get('draws', '?')} "
        "draws on the same "
        f"{seed_text(m)} (common random numbers): "
        + "; ".join(
            f"#{i} \u201c{run_label(r)}\u201d (hash {str(_meta(r).get('scenario_hash', '?'))[:12]})"
            for i, r in enumerate(runs)
        )
        + "."
    )


def _ecdf(ax, x, colour, label) -> None:
    x = np.sort(_finite(x))
    if x.size:
        ax.step(x, np.arange(1, x.size + 1) / x.size * 100, where="post", color=colour, lw=1.8, label=label)


def compare_distributions(runs: Sequence) -> Figure:
    """Overlaid distributions (cumulative, % of draws) of the headline figures of several runs.

    Panels: money multiple [x], commissioners' net savings [GBP m, discounted],
    time at home with therapy [%], outcome payments [GBP m].
    """
    fig = _figure(
        10,
        7,
        _compare_caption(runs)
        + " Curves are empirical cumulative distributions: a curve further right means larger values.",
    )
    axes = fig.subplots(2, 2).ravel()
    panels = [
        (INVESTOR_MOIC, 1.0, "money multiple [x]", 1.0),
        (COMMISSIONER_NET_SAVINGS_GBP, 1e-6, "commissioners' net savings [\u00a3m, discounted]", 0.0),
        (TIME_AT_HOME_SHARE["treated"], 100.0, "time at home with therapy [%]", None),
        (OUTCOME_PAYMENTS_GBP, 1e-6, "outcome payments [\u00a3m]", None),
    ]
    for ax, (col, k, xlabel, ref) in zip(axes, panels):
        for i, (r, label) in enumerate(zip(runs, _labels(runs))):
            _ecdf(ax, r.draws[col].to_numpy(float) * k, COLOURS[i % len(COLOURS)], label)
        if ref is not None:
            ax.axvline(ref, color="#333333", lw=1, ls=":")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("draws at or below [%]")
        ax.set_ylim(0, 100)
    axes[0].legend(loc="lower right", fontsize=8)
    return fig


def compare_cashflows(runs: Sequence) -> Figure:
    """Overlaid fans of the investor's cumulative net cashflow [GBP m] for several runs."""
    fig = _figure(8, 4.5, _compare_caption(runs) + " Bands: 5\u201395% of draws; lines: medians.")
    ax = fig.subplots()
    for i, (r, label) in enumerate(zip(runs, _labels(runs))):
        cf = r.cashflows
        x = _quarter_dates(cf)
        colour = COLOURS[i % len(COLOURS)]
        ax.fill_between(
            x,
            cf["investor_cumulative_net_cashflow_gbp_p5"] / 1e6,
            cf["investor_cumulative_net_cashflow_gbp_p95"] / 1e6,
            color=colour,
            alpha=0.15,
            lw=0,
        )
        ax.plot(x, cf["investor_cumulative_net_cashflow_gbp_p50"] / 1e6, color=colour, lw=2, label=f"{label}: median")
    ax.axhline(0.0, color="#333333", lw=1)
    ax.set_xlabel("quarter ending [date]")
    ax.set_ylabel("cumulative net cashflow to investor [\u00a3m]")
    ax.set_title("Investor cumulative net cashflow")
    ax.legend(loc="lower left", fontsize=8)
    return fig


def compare_differences(table: pd.DataFrame, runs: Sequence) -> Figure:
    """Paired differences from the first scenario: median and 5-95% interval per figure.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`sibmodel.workflows.compare.compare_table` output (rows per figure and scenario).
    runs : sequence of runs
    """
    rows = table[table["scenario_index"] > 0]
    figures = list(dict.fromkeys(rows["label"]))
    fig = _figure(
        10,
        0.6 + 0.7 * max(len(figures), 1),
        _compare_caption(runs)
        + " Differences are taken draw by draw (paired); bars span the 5\u201395% of the per-draw differences "
        "(for probabilities: a 90% Monte Carlo confidence interval), dots are medians.",
    )
    axes = np.atleast_1d(fig.subplots(len(figures), 1)) if figures else [fig.subplots()]
    for ax, label in zip(axes, figures):
        sub = rows[rows["label"] == label]
        for j, (_, r) in enumerate(sub.iterrows()):
            colour = COLOURS[int(r["scenario_index"]) % len(COLOURS)]
            y = -j
            ax.hlines(
                y, r["diff_p5"] * r["display_scale"], r["diff_p95"] * r["display_scale"], color=colour, lw=6, alpha=0.4
            )
            ax.plot(
                [r["diff_p50"] * r["display_scale"]],
                [y],
                "o",
                color=colour,
                label=_plain(f"#{int(r['scenario_index'])} {r['scenario']}"),
            )
        ax.axvline(0.0, color="#333333", lw=1)
        ax.set_yticks([])
        ax.set_ylim(-len(sub) + 0.4, 0.6)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
        ax.set_xlabel(f"difference from #0 [{sub['display_unit'].iloc[0]}]", fontsize=8)
        ax.tick_params(labelsize=8)
    if figures:
        axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, 2.2), ncol=3, fontsize=8, frameon=False)
    return fig


# --------------------------------------------------------------------------- output
#: The figures of one run, by file stem: (user section, title, function).
RUN_FIGURES = {
    "investor_returns": ("investors", "Money multiple and IRR", investor_returns),
    "capital_drawn": ("investors", "Capital drawn against the commitment", capital_drawn),
    "cumulative_cashflow": ("investors", "Cumulative net cashflow", cumulative_cashflow),
    "outcome_payments": ("investors", "Outcome payments by quarter", outcome_payments),
    "borough_net_savings": ("boroughs", "Net savings per borough", borough_net_savings),
    "time_at_home": ("policy", "Time at home", time_at_home),
    "weeks_out_of_care": ("policy", "Weeks out of care", weeks_out_of_care),
    "baseline_decides": ("policy", "What the baseline decides", baseline_decides),
    "validation": ("validation", "Published results against the model", validation),
}


#: ``--figures`` words besides the names of :data:`RUN_FIGURES`: every figure, or none (the report's tables only).
ALL_FIGURES, NO_FIGURES = "all", "none"

#: Resolution of the PNG figures (the report embeds them at this size) [dots per inch].
PNG_DPI = 110

#: The Matplotlib settings of every report figure, set once per report by :func:`report_style`.
#: ``svg.hashsalt`` makes the SVG element ids the same on every run; ``svg.fonttype`` "path"
#: keeps text as outlines, so an SVG renders the same without the fonts.
STYLE = {"savefig.dpi": PNG_DPI, "savefig.format": "png", "svg.fonttype": "path", "svg.hashsalt": "sibmodel"}


def report_style():
    """A context manager that applies :data:`STYLE` (around a whole report, not per figure)."""
    return matplotlib.rc_context(STYLE)


def figure_names(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """The run figures chosen by ``--figures`` (comma-separated names, ``all`` or ``none``), in report order.

    Parameters
    ----------
    text : str, sequence of str or None
        ``"investor_returns,time_at_home"``, ``"all"`` (or None: every figure),
        ``"none"`` (no figure), or a sequence of names (empty: no figure).

    Returns
    -------
    tuple of str
        Names of :data:`RUN_FIGURES`, in the report's order.

    Raises
    ------
    ScenarioError
        A name that is not a figure, listing the names allowed (exit code 2 from the command line).
    """
    from sibmodel.exceptions import ScenarioError

    if text is None:
        return tuple(RUN_FIGURES)
    if isinstance(text, str):
        items = [t.strip() for t in text.split(",") if t.strip()]
        if items in ([ALL_FIGURES], [NO_FIGURES]):
            return tuple(RUN_FIGURES) if items == [ALL_FIGURES] else ()
    else:
        items = list(text)
    bad = [t for t in items if t not in RUN_FIGURES]
    if bad or (isinstance(text, str) and not items):
        what = (
            f"{', '.join(map(repr, bad))} {'is not a figure' if len(bad) == 1 else 'are not figures'} of the report"
            if bad
            else "no figure named"
        )
        allowed = f"a comma-separated list of {', '.join(RUN_FIGURES)}; or {ALL_FIGURES} or {NO_FIGURES} alone"
        raise ScenarioError.one(f"{what}; allowed: {allowed}", file="--figures", given=text)
    return tuple(name for name in RUN_FIGURES if name in items)


def to_png(fig: Figure, dpi: int = PNG_DPI) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def to_svg(fig: Figure) -> bytes:
    """The figure as SVG bytes (text kept as paths: renders the same without the fonts)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="svg")
    return buf.getvalue()


# --------------------------------------------------------------------------- monitoring a live contract
def update_fan(record: dict) -> Figure:
    """Fan chart of cumulative outcome payments [GBP m] by quarter of achievement: the forecast before the
    actuals (prior) and after (posterior), 5-95% bands and medians, with the actuals marked.

    Parameters
    ----------
    record : dict
        ``update.json`` of a ``sibmodel update`` run folder.
    """
    fan = record["fan"]
    quarters = fan["quarters"]
    x = np.arange(len(quarters))
    fig = _figure(
        8.0,
        3.6,
        "Outcome payments for each quarter's outcomes (top-up included), cumulative, undiscounted; "
        f"bands: 5-95% of draws. Actuals through {record['observed_through']} ({record['actuals_file']}); "
        f"posterior from {record['prior_draws']} prior draws, effective sample size "
        f"{record['effective_sample_size']:.0f}.",
    )
    ax = fig.add_subplot()
    for name, colour, label in (
        ("prior", COUNTERFACTUAL, "before the actuals (prior)"),
        ("posterior", TREATED, "after (posterior)"),
    ):
        band = fan[name]
        ax.fill_between(x, np.asarray(band["p5"]) / 1e6, np.asarray(band["p95"]) / 1e6, color=colour, alpha=0.2, lw=0)
        ax.plot(x, np.asarray(band["p50"]) / 1e6, color=colour, lw=1.5, label=f"{label}: median, 5\u201395%")
    observed = np.asarray(fan["observed"]) / 1e6
    ax.plot(x[: len(observed)], observed, "o", color="#111111", ms=3.5, label="actuals")
    ax.axvline(len(observed) - 0.5, color="#777777", lw=0.8, ls="--")
    step = max(1, len(quarters) // 12)
    ax.set_xticks(x[::step], [quarters[i] for i in range(0, len(quarters), step)], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("cumulative outcome payments [\u00a3m]")
    ax.set_title("Re-forecast from actuals: cumulative outcome payments")
    ax.legend(loc="upper left", fontsize=8)
    return fig
