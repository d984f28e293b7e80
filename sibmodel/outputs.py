"""The registry of sibmodel's outputs: every per-draw column, defined once.

The bottom layer of the package (it imports nothing from sibmodel): the chunk
(:mod:`sibmodel.engine.chunk`) writes these columns into ``draws.parquet``; the
summary, validation, comparisons, stress tests, tables and figures read them.
Each :class:`Output` says what a column is (label), in what unit, and which
``summary.json`` block summarises it, if one does.

Three families of columns are named by pattern rather than listed:
``borough.<name>.<what>`` (:data:`BOROUGH_FIGURES`), ``input:<dotted path>``
(every uncertain input, as drawn) and ``implied_hazard_ratio:<intervention>``.

:data:`OBSERVABLE` maps the published figures a scenario's ``observed:`` block can
name to the per-draw values they are compared with (validation), once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Output:
    """One per-draw column.

    Parameters
    ----------
    key : str
        Column name in ``draws.parquet``.
    label : str
        What it is, for tables and figures.
    unit : str
        Its unit: ``young people``, ``weeks``, ``weeks per start``, ``share``, ``GBP``, ``GBP, discounted``,
        ``ratio``, ``per year``, ``quarter``, ``flag``.
    summary : str or None
        Dotted path of its block in ``summary.json``, if it has one.
    """

    key: str
    label: str
    unit: str
    summary: str | None = None


ARMS: tuple[str, str] = ("treated", "counterfactual")

# One constant per column: every module that writes or reads a column names it by its constant.
DRAW = "draw"
# outcomes (policy)
STARTS = "starts"
TRACKED_WEEKS = "tracked_weeks"
WEEKS_HOME: dict[str, str] = {arm: f"weeks_home_{arm}" for arm in ARMS}
TIME_AT_HOME_SHARE: dict[str, str] = {arm: f"time_at_home_share_{arm}" for arm in ARMS}
ENTERED_CARE_SHARE: dict[str, str] = {arm: f"entered_care_share_{arm}" for arm in ARMS}
PLACEMENTS: dict[str, str] = {arm: f"placements_{arm}" for arm in ARMS}
BREAKDOWNS: dict[str, str] = {arm: f"breakdowns_{arm}" for arm in ARMS}
WEEKS_OUT_OF_CARE = "weeks_out_of_care"
TRACKED_WEEKS_PER_START = "tracked_weeks_per_start"
WEEKS_OUT_OF_CARE_PER_START = "weeks_out_of_care_per_start"
COMPLETION_SHARE = "completion_share"
# contract
OUTCOME_PAYMENTS_GBP = "outcome_payments_gbp"
UNCAPPED_PAYMENTS_GBP = "uncapped_payments_gbp"
BASELINE_GAP_PAYMENTS_GBP = "baseline_gap_payments_gbp"
TOPUP_PAID_GBP = "topup_paid_gbp"
BOROUGH_PAID_GBP = "borough_paid_gbp"
DELIVERY_COSTS_GBP = "delivery_costs_gbp"
COST_PER_FAMILY_GBP = "cost_per_family_gbp"
# care and government
CARE_COST_TREATED_GBP = "care_cost_treated_gbp"
CARE_COST_COUNTERFACTUAL_GBP = "care_cost_counterfactual_gbp"
GOVERNMENT_VALUE_GBP = "government_value_gbp"
GOVERNMENT_VALUE_DISCOUNTED_GBP = "government_value_discounted_gbp"
GOVERNMENT_VALUE_PUBLISHED_METHOD_GBP = "government_value_published_method_gbp"
# a commissioner's figures (discounted): the all-boroughs columns are ``commissioner_<figure>``,
# a borough's ``borough.<name>.<figure>`` (:func:`borough_column`)
CARE_COSTS_TREATED_GBP = "care_costs_treated_gbp"
CARE_COSTS_COUNTERFACTUAL_GBP = "care_costs_counterfactual_gbp"
CARE_COSTS_AVOIDED_GBP = "care_costs_avoided_gbp"
NET_SAVINGS_GBP = "net_savings_gbp"
COMMISSIONER_PREFIX = "commissioner_"
COMMISSIONER_OUTCOME_PAYMENTS_GBP = COMMISSIONER_PREFIX + OUTCOME_PAYMENTS_GBP
COMMISSIONER_CARE_COSTS_TREATED_GBP = COMMISSIONER_PREFIX + CARE_COSTS_TREATED_GBP
COMMISSIONER_CARE_COSTS_COUNTERFACTUAL_GBP = COMMISSIONER_PREFIX + CARE_COSTS_COUNTERFACTUAL_GBP
COMMISSIONER_CARE_COSTS_AVOIDED_GBP = COMMISSIONER_PREFIX + CARE_COSTS_AVOIDED_GBP
COMMISSIONER_NET_SAVINGS_GBP = COMMISSIONER_PREFIX + NET_SAVINGS_GBP
# investor
INVESTOR_PREFIX = "investor_"
INVESTOR_CAPITAL_DRAWN_TOTAL_GBP = "investor_capital_drawn_total_gbp"
INVESTOR_CAPITAL_DRAWN_PEAK_GBP = "investor_capital_drawn_peak_gbp"
INVESTOR_COMMITMENT_EXCEEDED = "investor_commitment_exceeded"
INVESTOR_EXCESS_OVER_COMMITMENT_GBP = "investor_excess_over_commitment_gbp"
INVESTOR_FIRST_EXCEEDED_QUARTER = "investor_first_exceeded_quarter"
INVESTOR_DISTRIBUTIONS_TOTAL_GBP = "investor_distributions_total_gbp"
INVESTOR_SURPLUS_RETURNED_GBP = "investor_surplus_returned_gbp"
INVESTOR_MOIC = "investor_moic"
INVESTOR_IRR_ANNUAL = "investor_irr_annual"
INVESTOR_TOTAL_LOSS = "investor_total_loss"
INVESTOR_PAYBACK_QUARTER = "investor_payback_quarter"
# the baseline (scenarios with a baseline: block)
BASELINE_TIME_AT_HOME_SHARE = "baseline_time_at_home_share"
BASELINE_CLAMPED = "baseline_clamped"
COUNTERFACTUAL_RISK_FACTOR = "counterfactual_risk_factor"


# Quarterly series (``series.parquet``: ``<name>`` per quarter) and the cash-flow bands built from them
# (``cashflows.parquet``). Outcome payments and delivery costs are also series, by their column's name.
INVESTOR_NET_CASHFLOW_GBP = "investor_net_cashflow_gbp"
CAPITAL_OUTSTANDING_GBP = "capital_outstanding_gbp"
INVESTOR_CUMULATIVE_NET_CASHFLOW_GBP = "investor_cumulative_net_cashflow_gbp"
INVESTOR_CAPITAL_DRAWN_CUMULATIVE_GBP = "investor_capital_drawn_cumulative_gbp"


def _arm(columns: dict[str, str], label: str, unit: str, summary: str | None) -> tuple[Output, Output]:
    return tuple(
        Output(columns[arm], f"{label}, {words}", unit, None if summary is None else f"{summary}.{arm}")
        for arm, words in zip(ARMS, ("with therapy", "without therapy"))
    )


OUTPUTS: tuple[Output, ...] = (
    Output(DRAW, "draw index", "count"),
    # outcomes (policy)
    Output(STARTS, "starts", "young people", "outcomes.starts"),
    Output(TRACKED_WEEKS, "tracked weeks, all starts", "weeks", "outcomes.tracked_weeks"),
    *_arm(WEEKS_HOME, "weeks at home, tracked", "weeks", None),
    *_arm(TIME_AT_HOME_SHARE, "time at home", "share", "outcomes.time_at_home_share"),
    *_arm(ENTERED_CARE_SHARE, "entered care", "share", "outcomes.entered_care_share"),
    *_arm(PLACEMENTS, "placements started", "count", "outcomes.placements"),
    *_arm(BREAKDOWNS, "placement breakdowns", "count", "outcomes.breakdowns"),
    Output(WEEKS_OUT_OF_CARE, "weeks out of care (treated)", "weeks", "outcomes.weeks_out_of_care"),
    Output(TRACKED_WEEKS_PER_START, "tracked weeks per start", "weeks per start", "outcomes.tracked_weeks_per_start"),
    Output(
        WEEKS_OUT_OF_CARE_PER_START,
        "weeks out of care per start",
        "weeks per start",
        "policy.weeks_out_of_care_per_start",
    ),
    Output(COMPLETION_SHARE, "share of starts completing therapy", "share", "outcomes.completion_share"),
    # contract
    Output(OUTCOME_PAYMENTS_GBP, "outcome payments", "GBP", "contract.outcome_payments_gbp"),
    Output(UNCAPPED_PAYMENTS_GBP, "outcome payments before caps", "GBP", "contract.uncapped_payments_gbp"),
    Output(
        BASELINE_GAP_PAYMENTS_GBP,
        "payments resting on the contractual baseline's gap",
        "GBP",
        "contract.baseline_gap_payments_gbp",
    ),
    Output(TOPUP_PAID_GBP, "paid by the top-up", "GBP", "contract.topup_paid_gbp"),
    Output(BOROUGH_PAID_GBP, "paid by boroughs", "GBP", "contract.borough_paid_gbp"),
    Output(DELIVERY_COSTS_GBP, "delivery costs and fees", "GBP"),
    Output(COST_PER_FAMILY_GBP, "outcome payments per start", "GBP", "policy.cost_per_family_gbp"),
    # care and government
    Output(CARE_COST_TREATED_GBP, "care costs, with therapy", "GBP"),
    Output(CARE_COST_COUNTERFACTUAL_GBP, "care costs, without therapy", "GBP"),
    Output(GOVERNMENT_VALUE_GBP, "value to government (care costs avoided)", "GBP", "government.value_gbp"),
    Output(
        GOVERNMENT_VALUE_DISCOUNTED_GBP,
        "value to government, discounted",
        "GBP, discounted",
        "government.value_discounted_gbp",
    ),
    Output(
        GOVERNMENT_VALUE_PUBLISHED_METHOD_GBP,
        "value to government, published method (reconstruction)",
        "GBP",
        "government.value_published_method_gbp",
    ),
    # commissioners (discounted)
    Output(
        COMMISSIONER_OUTCOME_PAYMENTS_GBP,
        "outcome payments (net of top-up)",
        "GBP, discounted",
        "commissioner.total.outcome_payments_gbp",
    ),
    Output(
        COMMISSIONER_CARE_COSTS_TREATED_GBP,
        "care costs, with therapy",
        "GBP, discounted",
        "commissioner.total.care_costs_treated_gbp",
    ),
    Output(
        COMMISSIONER_CARE_COSTS_COUNTERFACTUAL_GBP,
        "care costs, without therapy",
        "GBP, discounted",
        "commissioner.total.care_costs_counterfactual_gbp",
    ),
    Output(
        COMMISSIONER_CARE_COSTS_AVOIDED_GBP,
        "care costs avoided",
        "GBP, discounted",
        "commissioner.total.care_costs_avoided_gbp",
    ),
    Output(
        COMMISSIONER_NET_SAVINGS_GBP,
        "commissioners' net savings",
        "GBP, discounted",
        "commissioner.total.net_savings_gbp",
    ),
    # investor
    Output(INVESTOR_CAPITAL_DRAWN_TOTAL_GBP, "capital drawn, total", "GBP", "investor.capital_drawn_total_gbp"),
    Output(INVESTOR_CAPITAL_DRAWN_PEAK_GBP, "peak capital drawn", "GBP", "investor.capital_drawn_peak_gbp"),
    Output(INVESTOR_COMMITMENT_EXCEEDED, "commitment exceeded", "flag"),
    Output(
        INVESTOR_EXCESS_OVER_COMMITMENT_GBP,
        "capital needed beyond the commitment",
        "GBP",
        "investor.excess_over_commitment_gbp",
    ),
    Output(INVESTOR_FIRST_EXCEEDED_QUARTER, "first quarter the commitment is exceeded (NaN: never)", "quarter"),
    Output(INVESTOR_DISTRIBUTIONS_TOTAL_GBP, "distributions received", "GBP", "investor.distributions_gbp"),
    Output(INVESTOR_SURPLUS_RETURNED_GBP, "surplus returned above the return cap", "GBP"),
    Output(INVESTOR_MOIC, "money multiple", "ratio", "investor.moic"),
    Output(INVESTOR_IRR_ANNUAL, "IRR", "per year", "investor.irr"),
    Output(INVESTOR_TOTAL_LOSS, "total loss (no IRR)", "flag"),
    Output(INVESTOR_PAYBACK_QUARTER, "payback quarter (NaN: never repaid)", "quarter", "investor.payback_quarter"),
    # the baseline (scenarios with a baseline: block)
    Output(
        BASELINE_TIME_AT_HOME_SHARE,
        "baseline drawn: time at home without therapy",
        "share",
        "baseline.time_at_home_share",
    ),
    Output(BASELINE_CLAMPED, "baseline outside the reachable range, clamped", "flag"),
    Output(COUNTERFACTUAL_RISK_FACTOR, "counterfactual risk factor", "ratio", "baseline.counterfactual_risk_factor"),
)

#: Outputs by column name.
BY_KEY: dict[str, Output] = {o.key: o for o in OUTPUTS}

#: What each borough's columns ``borough.<name>.<what>`` hold (money discounted to the price year).
BOROUGH_FIGURES: dict[str, Output] = {
    o.key: o
    for o in (
        Output(STARTS, "starts", "young people"),
        Output(OUTCOME_PAYMENTS_GBP, "outcome payments", "GBP, discounted"),
        Output(CARE_COSTS_TREATED_GBP, "care costs, with therapy", "GBP, discounted"),
        Output(CARE_COSTS_COUNTERFACTUAL_GBP, "care costs, without therapy", "GBP, discounted"),
        Output(CARE_COSTS_AVOIDED_GBP, "care costs avoided", "GBP, discounted"),
        Output(NET_SAVINGS_GBP, "net savings", "GBP, discounted"),
    )
}

#: Prefixes of the per-draw columns named after an input or an intervention.
INPUT_PREFIX = "input:"
IMPLIED_HAZARD_RATIO_PREFIX = "implied_hazard_ratio:"


def borough_prefix(borough: str) -> str:
    """What a borough's columns begin with: ``borough.<name>.`` (a figure of :data:`BOROUGH_FIGURES` follows)."""
    return f"borough.{borough}."


def borough_column(borough: str, what: str) -> str:
    """The column of a borough's figure, e.g. ``borough.Bexley.net_savings_gbp``."""
    if what not in BOROUGH_FIGURES:
        raise KeyError(f"{what!r} is not a borough figure; allowed: {', '.join(BOROUGH_FIGURES)}")
    return borough_prefix(borough) + what


def is_registered(column: str) -> bool:
    """Whether a per-draw column is defined here (listed, or one of the named families)."""
    if column in BY_KEY or column.startswith((INPUT_PREFIX, IMPLIED_HAZARD_RATIO_PREFIX)):
        return True
    head, _, what = column.rpartition(".")
    return head.startswith("borough.") and what in BOROUGH_FIGURES


def summary_path(column: str) -> str:
    """Dotted path of a column's block in ``summary.json``, e.g. ``investor.irr`` for ``investor_irr_annual``."""
    path = BY_KEY[column].summary
    if path is None:
        raise KeyError(f"{column!r} has no block in summary.json")
    return path


def summary_block(summary: dict, column: str):
    """A column's block (``mean``, ``p5``, ..., ``p95``) in a run's summary (:meth:`Results.summary`)."""
    node = summary
    for key in summary_path(column).split("."):
        node = node[key]
    return node


def has_summary_block(summary: dict, column: str) -> bool:
    """Whether a run's summary has a column's block (some are written only for some scenarios)."""
    node = summary
    for key in summary_path(column).split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


#: Published figures an ``observed:`` entry can name -> (per-draw column, whether the figure is ``1 -`` it).
#: A figure is named by its column's summary path; the shares in care are ``1 -`` time at home.
OBSERVABLE: dict[str, tuple[str, bool]] = {
    **{
        summary_path(c): (c, False)
        for c in (
            STARTS,
            WEEKS_OUT_OF_CARE,
            TRACKED_WEEKS_PER_START,
            WEEKS_OUT_OF_CARE_PER_START,
            TIME_AT_HOME_SHARE["treated"],
            TIME_AT_HOME_SHARE["counterfactual"],
            OUTCOME_PAYMENTS_GBP,
            GOVERNMENT_VALUE_GBP,
            GOVERNMENT_VALUE_PUBLISHED_METHOD_GBP,
        )
    },
    **{f"outcomes.care_share.{arm}": (TIME_AT_HOME_SHARE[arm], True) for arm in ARMS},
}

#: The published figures of time at home of each arm, directly or as ``1 -`` the share in care.
TIME_AT_HOME_FIGURES: dict[str, tuple[str, str]] = {
    arm: (summary_path(TIME_AT_HOME_SHARE[arm]), f"outcomes.care_share.{arm}") for arm in ARMS
}


def observed_values(figure: str, draws) -> np.ndarray:
    """Per-draw values of a published figure (``OBSERVABLE``), from a table of draws."""
    column, complement = OBSERVABLE[figure]
    x = np.asarray(draws[column], dtype=float)
    return 1.0 - x if complement else x
