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
        Its unit: ``young people``, ``weeks``, ``share``, ``GBP``, ``GBP, discounted``,
        ``ratio``, ``per year``, ``quarter``, ``flag``.
    summary : str or None
        Dotted path of its block in ``summary.json``, if it has one.
    """

    key: str
    label: str
    unit: str
    summary: str | None = None


def _arm(stem: str, label: str, unit: str, summary: str | None) -> tuple[Output, Output]:
    return tuple(
        Output(f"{stem}_{arm}", f"{label}, {words}", unit, None if summary is None else f"{summary}.{arm}")
        for arm, words in (("treated", "with therapy"), ("counterfactual", "without therapy"))
    )


OUTPUTS: tuple[Output, ...] = (
    Output("draw", "draw index", "count"),
    # outcomes (policy)
    Output("starts", "starts", "young people", "outcomes.starts"),
    Output("tracked_weeks", "tracked weeks, all starts", "weeks", "outcomes.tracked_weeks"),
    *_arm("weeks_home", "weeks at home, tracked", "weeks", None),
    *_arm("time_at_home_share", "time at home", "share", "outcomes.time_at_home_share"),
    *_arm("entered_care_share", "entered care", "share", "outcomes.entered_care_share"),
    *_arm("placements", "placements started", "count", "outcomes.placements"),
    *_arm("breakdowns", "placement breakdowns", "count", "outcomes.breakdowns"),
    Output("weeks_out_of_care", "weeks out of care (treated)", "weeks", "outcomes.weeks_out_of_care"),
    Output("tracked_weeks_per_start", "tracked weeks per start", "weeks", "outcomes.tracked_weeks_per_start"),
    Output("weeks_out_of_care_per_start", "weeks out of care per start", "weeks", "policy.weeks_out_of_care_per_start"),
    Output("completion_share", "share of starts completing therapy", "share", "outcomes.completion_share"),
    # contract
    Output("outcome_payments_gbp", "outcome payments", "GBP", "contract.outcome_payments_gbp"),
    Output("uncapped_payments_gbp", "outcome payments before caps", "GBP", "contract.uncapped_payments_gbp"),
    Output("baseline_gap_payments_gbp", "payments resting on the contractual baseline's gap", "GBP", "contract.baseline_gap_payments_gbp"),
    Output("topup_paid_gbp", "paid by the top-up", "GBP", "contract.topup_paid_gbp"),
    Output("borough_paid_gbp", "paid by boroughs", "GBP", "contract.borough_paid_gbp"),
    Output("delivery_costs_gbp", "delivery costs and fees", "GBP"),
    Output("cost_per_family_gbp", "outcome payments per start", "GBP", "policy.cost_per_family_gbp"),
    # care and government
    Output("care_cost_treated_gbp", "care costs, with therapy", "GBP"),
    Output("care_cost_counterfactual_gbp", "care costs, without therapy", "GBP"),
    Output("government_value_gbp", "value to government (care costs avoided)", "GBP", "government.value_gbp"),
    Output("government_value_discounted_gbp", "value to government, discounted", "GBP, discounted", "government.value_discounted_gbp"),
    Output("government_value_published_method_gbp", "value to government, published method (reconstruction)", "GBP",
           "government.value_published_method_gbp"),
    # commissioners (discounted)
    Output("commissioner_outcome_payments_gbp", "outcome payments (net of top-up)", "GBP, discounted", "commissioner.total.outcome_payments_gbp"),
    Output("commissioner_care_costs_treated_gbp", "care costs, with therapy", "GBP, discounted", "commissioner.total.care_costs_treated_gbp"),
    Output("commissioner_care_costs_counterfactual_gbp", "care costs, without therapy", "GBP, discounted",
           "commissioner.total.care_costs_counterfactual_gbp"),
    Output("commissioner_care_costs_avoided_gbp", "care costs avoided", "GBP, discounted", "commissioner.total.care_costs_avoided_gbp"),
    Output("commissioner_net_savings_gbp", "commissioners' net savings", "GBP, discounted", "commissioner.total.net_savings_gbp"),
    # investor
    Output("investor_capital_drawn_total_gbp", "capital drawn, total", "GBP", "investor.capital_drawn_total_gbp"),
    Output("investor_capital_drawn_peak_gbp", "peak capital drawn", "GBP", "investor.capital_drawn_peak_gbp"),
    Output("investor_commitment_exceeded", "commitment exceeded", "flag"),
    Output("investor_excess_over_commitment_gbp", "capital needed beyond the commitment", "GBP", "investor.excess_over_commitment_gbp"),
    Output("investor_first_exceeded_quarter", "first quarter the commitment is exceeded (-1: never)", "quarter"),
    Output("investor_distributions_total_gbp", "distributions received", "GBP", "investor.distributions_gbp"),
    Output("investor_surplus_returned_gbp", "surplus returned above the return cap", "GBP"),
    Output("investor_moic", "money multiple", "ratio", "investor.moic"),
    Output("investor_irr_annual", "IRR", "per year", "investor.irr"),
    Output("investor_total_loss", "total loss (no IRR)", "flag"),
    Output("investor_payback_quarter", "payback quarter (-1: never)", "quarter", "investor.payback_quarter"),
    # the baseline (scenarios with a baseline: block)
    Output("baseline_time_at_home_share", "baseline drawn: time at home without therapy", "share", "baseline.time_at_home_share"),
    Output("baseline_clamped", "baseline outside the reachable range, clamped", "flag"),
    Output("counterfactual_risk_factor", "counterfactual risk factor", "ratio", "baseline.counterfactual_risk_factor"),
)

#: Outputs by column name.
BY_KEY: dict[str, Output] = {o.key: o for o in OUTPUTS}

#: What each borough's columns ``borough.<name>.<what>`` hold (money discounted to the price year).
BOROUGH_FIGURES: dict[str, Output] = {
    o.key: o
    for o in (
        Output("starts", "starts", "young people"),
        Output("outcome_payments_gbp", "outcome payments", "GBP, discounted"),
        Output("care_costs_treated_gbp", "care costs, with therapy", "GBP, discounted"),
        Output("care_costs_counterfactual_gbp", "care costs, without therapy", "GBP, discounted"),
        Output("care_costs_avoided_gbp", "care costs avoided", "GBP, discounted"),
        Output("net_savings_gbp", "net savings", "GBP, discounted"),
    )
}

#: Prefixes of the per-draw columns named after an input or an intervention.
INPUT_PREFIX = "input:"
IMPLIED_HAZARD_RATIO_PREFIX = "implied_hazard_ratio:"


def borough_column(borough: str, what: str) -> str:
    """The column of a borough's figure, e.g. ``borough.Bexley.net_savings_gbp``."""
    if what not in BOROUGH_FIGURES:
        raise KeyError(f"{what!r} is not a borough figure; allowed: {', '.join(BOROUGH_FIGURES)}")
    return f"borough.{borough}.{what}"


def is_registered(column: str) -> bool:
    """Whether a per-draw column is defined here (listed, or one of the named families)."""
    if column in BY_KEY or column.startswith((INPUT_PREFIX, IMPLIED_HAZARD_RATIO_PREFIX)):
        return True
    head, _, what = column.rpartition(".")
    return head.startswith("borough.") and what in BOROUGH_FIGURES


#: Published figures an ``observed:`` entry can name -> (per-draw column, whether the figure is ``1 -`` it).
OBSERVABLE: dict[str, tuple[str, bool]] = {
    "outcomes.starts": ("starts", False),
    "outcomes.weeks_out_of_care": ("weeks_out_of_care", False),
    "outcomes.tracked_weeks_per_start": ("tracked_weeks_per_start", False),
    "policy.weeks_out_of_care_per_start": ("weeks_out_of_care_per_start", False),
    "outcomes.time_at_home_share.treated": ("time_at_home_share_treated", False),
    "outcomes.time_at_home_share.counterfactual": ("time_at_home_share_counterfactual", False),
    "contract.outcome_payments_gbp": ("outcome_payments_gbp", False),
    "government.value_gbp": ("government_value_gbp", False),
    "government.value_published_method_gbp": ("government_value_published_method_gbp", False),
    "outcomes.care_share.treated": ("time_at_home_share_treated", True),
    "outcomes.care_share.counterfactual": ("time_at_home_share_counterfactual", True),
}

#: The published figures of time at home of each arm, directly or as ``1 -`` the share in care.
TIME_AT_HOME_FIGURES: dict[str, tuple[str, str]] = {
    arm: (f"outcomes.time_at_home_share.{arm}", f"outcomes.care_share.{arm}") for arm in ("treated", "counterfactual")
}


def observed_values(figure: str, draws) -> np.ndarray:
    """Per-draw values of a published figure (``OBSERVABLE``), from a table of draws."""
    column, complement = OBSERVABLE[figure]
    x = np.asarray(draws[column], dtype=float)
    return 1.0 - x if complement else x
