"""The policy view: outcomes against the baseline, value to government, and who carries the risk.

``policy_baseline`` turns one run into the figures policy staff ask for, each
with its median and 5-95% range over draws:

* time at home (share of tracked weeks) with therapy and without, against the
  published figures in the scenario's ``observed:`` block (PFP: 89.4% and the
  35% expected without intervention [BOP-PFP]; a published care share ``c``
  counts as time at home ``1 - c``, e.g. Essex's 55% comparison group);
* weeks out of care with therapy, without, and the difference;
* value to government: gross care costs avoided [GBP, undiscounted and
  discounted to the price year]; and the published method as reconstructed
  (weeks out of care with therapy x the cheapest placement's weekly cost,
  PFP: 30,533 x GBP 646 [PSSRU-2017] = GBP 19.72m against the published GBP 19.7m [BOP-PFP]);
* the cost to the public purse per family under the outcomes contract against
  a fee-for-service purchase of the same therapy.

**Outcomes contract.** The public purse (boroughs and the central top-up) pays
the outcome payments; the investor pays for delivery and carries the risk that
the therapy does not work.  **Fee for service.** The commissioners buy the same
teams and per-family work directly: they pay the delivery cost (team costs and
per-family costs; not the SPV's management fee, set-up cost or evaluation) in
every draw, whatever the outcomes, and carry the outcome risk themselves.
Both are compared against the same care costs avoided, so the public's net
saving and its spread show who carries the risk.  Assumptions: fee-for-service
delivery costs the same as the SIB's delivery; no procurement or performance
management costs are added to either; the central top-up (PFP: the National
Lottery Community Fund's Commissioning Better Outcomes fund [GO-Lab-INDIGO-PFP]) is
counted as public money, like the boroughs' share.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sibmodel.engine.run import year_offset
from sibmodel.model.finance import add_fees, discount_factors, stats_block
from sibmodel.model.referrals import Calendar
from sibmodel.outputs import (
    BY_KEY,
    DELIVERY_COSTS_GBP,
    GOVERNMENT_VALUE_DISCOUNTED_GBP,
    GOVERNMENT_VALUE_GBP,
    GOVERNMENT_VALUE_PUBLISHED_METHOD_GBP,
    INPUT_PREFIX,
    OUTCOME_PAYMENTS_GBP,
    STARTS,
    TIME_AT_HOME_SHARE,
    WEEKS_HOME,
    WEEKS_OUT_OF_CARE,
    summary_path,
)
from sibmodel.report.figures import observed_time_at_home
from sibmodel.scenario.paths import get_path
from sibmodel.scenario.schema import Scenario


def input_per_draw(s: Scenario, draws: pd.DataFrame, path: str) -> np.ndarray:
    """Per-draw value of a scenario input: its ``input:`` column when uncertain, else its fixed value
    [the field's unit]."""
    col = INPUT_PREFIX + path
    if col in draws:
        return draws[col].to_numpy(float)
    return np.full(len(draws), float(get_path(s, path).mean()))


def fee_series(s: Scenario, draws: pd.DataFrame, n_cash_quarters: int) -> np.ndarray:
    """The SPV's fees by cash quarter per draw, shape (D, Qc) [GBP]:
    management fee while the contract runs, set-up in quarter 0, evaluation in the last contract quarter."""
    n_q = Calendar.of(s).n_quarters
    return add_fees(np.zeros((len(draws), n_cash_quarters)), n_q, lambda path: input_per_draw(s, draws, path))


def home_share_reference(s: Scenario, arm: str) -> tuple[float, str]:
    """The published share of time at home for one arm (``treated`` or ``counterfactual``) [share], and its source.

    From the scenario's ``observed:`` block: ``outcomes.time_at_home_share.<arm>``,
    or ``1 -`` ``outcomes.care_share.<arm>``; NaN and ``""`` when neither is given.
    """
    found = observed_time_at_home(s, arm)
    if found is None:
        return float("nan"), ""
    value, source, from_care_share = found
    return value, (f"{source} (time at home = 1 - care share {1 - value:g})" if from_care_share else source)


def _row(figure: str, unit: str, x: np.ndarray, reference: float = float("nan"), reference_source: str = "") -> dict:
    b = stats_block(np.asarray(x, float))
    return {
        "figure": figure,
        "unit": unit,
        "p50": b["p50"],
        "p5": b["p5"],
        "p95": b["p95"],
        "mean": b["mean"],
        "reference": reference,
        "reference_source": reference_source,
    }


def policy_baseline(results) -> dict[str, pd.DataFrame]:
    """The policy tables of one run.

    Parameters
    ----------
    results : Results
        A run of the scenario (:func:`sibmodel.simulate`).

    Returns
    -------
    dict of str -> pandas.DataFrame
        ``outcomes``: time at home, weeks out of care, value to government (one
        row per figure: ``p50``, ``p5``, ``p95``, ``mean``, ``reference``,
        ``reference_source``).  ``purchase``: one row per way of buying the
        therapy (``outcomes contract``, ``fee for service``) with the cost to the
        public purse, cost per family, the public's net saving [GBP, discounted]
        and P(the public comes out ahead), plus who carries the outcome risk.
    """
    return {"outcomes": _outcomes_table(results), "purchase": _purchase_table(results)}


def _outcomes_table(results) -> pd.DataFrame:
    """The ``outcomes`` table of :func:`policy_baseline`: one row per figure, with its published reference."""
    s, d = results.scenario, results.draws
    observed = {o.figure: o for o in s.observed.values()}
    weeks_obs = observed.get(summary_path(WEEKS_OUT_OF_CARE))
    gov_obs = observed.get(summary_path(GOVERNMENT_VALUE_GBP))
    gov_published_obs = observed.get(summary_path(GOVERNMENT_VALUE_PUBLISHED_METHOD_GBP))

    def obs(o):
        return (float(o.value), o.source) if o is not None else (float("nan"), "")

    return pd.DataFrame(
        [
            _row(
                "time at home, with therapy",
                "share of tracked weeks",
                d[TIME_AT_HOME_SHARE["treated"]],
                *home_share_reference(s, "treated"),
            ),
            _row(
                "time at home, without therapy",
                "share of tracked weeks",
                d[TIME_AT_HOME_SHARE["counterfactual"]],
                *home_share_reference(s, "counterfactual"),
            ),
            _row(
                "time at home, difference",
                "share of tracked weeks",
                d[TIME_AT_HOME_SHARE["treated"]] - d[TIME_AT_HOME_SHARE["counterfactual"]],
            ),
            _row("weeks out of care, with therapy", "weeks", d[WEEKS_HOME["treated"]], *obs(weeks_obs)),
            _row("weeks out of care, without therapy", "weeks", d[WEEKS_HOME["counterfactual"]]),
            _row("weeks out of care gained", "weeks", d[WEEKS_HOME["treated"]] - d[WEEKS_HOME["counterfactual"]]),
            _row("value to government (care costs avoided)", "GBP", d[GOVERNMENT_VALUE_GBP], *obs(gov_obs)),
            _row(
                "value to government, discounted",
                f"GBP {s.metadata.price_year} prices, discounted",
                d[GOVERNMENT_VALUE_DISCOUNTED_GBP],
            ),
            _row(
                "value to government, published method (reconstruction)",
                "GBP: weeks out of care x cheapest weekly cost",
                d[GOVERNMENT_VALUE_PUBLISHED_METHOD_GBP],
                *obs(gov_published_obs),
            ),
            _row(BY_KEY[STARTS].label, BY_KEY[STARTS].unit, d[STARTS]),
        ]
    )


def _purchase_table(results) -> pd.DataFrame:
    """The ``purchase`` table of :func:`policy_baseline`: one row per way of buying the therapy."""
    s, d = results.scenario, results.draws
    # cost to the public purse, discounted to the price year
    outcome_q = results.series[OUTCOME_PAYMENTS_GBP]
    n_qc = outcome_q.shape[1]
    ds = s.discounting
    schedule = (
        None if ds.declining_schedule is None else [(st.from_year, st.real_rate_annual) for st in ds.declining_schedule]
    )
    df = discount_factors(n_qc, ds.real_rate_annual, schedule, year_offset(s))
    delivery_q = results.series[DELIVERY_COSTS_GBP] - fee_series(s, d, n_qc)
    avoided = d[GOVERNMENT_VALUE_DISCOUNTED_GBP].to_numpy(float)
    starts = d[STARTS].to_numpy(float)
    rows = []
    for label, cost_q, risk in (
        ("outcomes contract", outcome_q, "investor carries delivery cost; the public pays only for weeks out of care"),
        ("fee for service", delivery_q, "the public pays for delivery whatever the outcomes"),
    ):
        cost = (cost_q * df).sum(axis=1)
        cost_undisc = cost_q.sum(axis=1)
        per_family = np.divide(cost_undisc, starts, out=np.full(len(d), np.nan), where=starts > 0)
        net = avoided - cost
        cb, pf, nb = stats_block(cost), stats_block(per_family), stats_block(net)
        rows.append(
            {
                "purchase": label,
                "public_cost_p50_gbp": cb["p50"],
                "public_cost_p5_gbp": cb["p5"],
                "public_cost_p95_gbp": cb["p95"],
                "cost_per_family_p50_gbp": pf["p50"],
                "cost_per_family_p5_gbp": pf["p5"],
                "cost_per_family_p95_gbp": pf["p95"],
                "public_net_saving_p50_gbp": nb["p50"],
                "public_net_saving_p5_gbp": nb["p5"],
                "public_net_saving_p95_gbp": nb["p95"],
                "p_public_ahead": float(np.mean(net > 0)),
                "who_carries_outcome_risk": risk,
            }
        )
    return pd.DataFrame(rows)
