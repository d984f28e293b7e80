"""Outcome metrics: what a tariff pays for, one definition each, registered in :data:`METRICS`.

A metric is one :class:`Metric`: its schema model (the scenario's
``contract.tariffs[].metric`` picks it), how it pays (a function that adds one
chunk's amounts to the rows of :class:`Earned`) and its price fields (the
quantities the ``tariff`` lever of :mod:`sibmodel.workflows.levers` scales; payments are
proportional to them before caps and floors).

Adding a metric: its model in the ``Tariff`` union of :mod:`sibmodel.scenario.schema`, its
pay function and entry here, its rows in ``docs/scenario-format.md``.  The
tests check that every model in the union is registered.

How each metric pays (weeks since referral; ``ref`` is the referral week, so
calendar week = ``ref`` + week since referral; quarters are 13-week model quarters):

- ``weekly_out_of_care`` (PFP): the tariff for each week at home inside the
  tracking window; weeks after a return from care only when
  ``pay_weeks_after_return_from_care`` is true.  Weeks are counted exactly per
  row and quarter, then priced.
- ``engagement``: once per start, in the quarter of week ``after_therapy_weeks``.
- ``milestone``: once per young person at home at week ``at_week`` of the window
  (and still inside it).
- ``care_days_saved`` (Essex): per borough and quarter, ``baseline_care_share x
  tracked weeks - weeks in care``, optionally floored at zero, priced at
  ``share_of_placement_cost`` of a weekly placement cost.  It is not a per-person
  amount: the per-young-person cap does not apply to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from sibmodel.model.hazards import FIRST_PLACEMENT
from sibmodel.model.pathways import ArmOutcomes
from sibmodel.model.referrals import QUARTER_WEEKS, People
from sibmodel.model.tally import CARE, HOME, HOME_BEFORE_CARE, quarter_weeks, spell_quarter_weeks
from sibmodel.scenario.schema import CareDaysSaved, Engagement, Milestone, Scenario, WeeklyOutOfCare


@dataclass(frozen=True)
class PaymentInputs:
    """What a metric's pay function reads for one chunk of draws.

    Parameters
    ----------
    people : People
    treated : ArmOutcomes
        The treated arm (payments are for what happened with therapy).
    counterfactual : ArmOutcomes or None
        The arm without therapy, for :attr:`Earned.baseline_gap` only.
    window_start, window_end : ndarray of int, shape (N,)
        Tracking windows [weeks since referral].
    reference_weekly_cost : ndarray, shape (D, B)
        Weekly placement cost care-days-saved tariffs use when the contract gives none [GBP/week].
    n_draws, n_boroughs, n_quarters : int
        Output shape (quarters of achievement).
    by_person : bool
        Whether per-person amounts are kept a row per person (for a per-person cap)
        rather than summed straight into draw x borough rows.
    """

    people: People
    treated: ArmOutcomes
    counterfactual: ArmOutcomes | None
    window_start: np.ndarray
    window_end: np.ndarray
    reference_weekly_cost: np.ndarray
    n_draws: int
    n_boroughs: int
    n_quarters: int
    by_person: bool

    @property
    def ref(self) -> np.ndarray:
        """Referral week of each person [weeks from programme start] (int64)."""
        return self.people.referral_week.astype(np.int64)

    @property
    def n_keys(self) -> int:
        """Number of draw x borough rows."""
        return self.n_draws * self.n_boroughs

    @property
    def key_db(self) -> np.ndarray:
        """Draw x borough row of each person."""
        return self.people.draw * self.n_boroughs + self.people.borough

    @property
    def n_rows(self) -> int:
        """Rows of :attr:`Earned.per_person`: people, or draw x borough."""
        return self.people.n if self.by_person else self.n_keys

    @property
    def row_of(self) -> np.ndarray:
        """The row of :attr:`Earned.per_person` each person's amounts go to."""
        return np.arange(self.people.n) if self.by_person else self.key_db

    @property
    def window(self) -> tuple[np.ndarray, np.ndarray]:
        """Tracking windows (start, end) [weeks since referral]."""
        return self.window_start, self.window_end


@dataclass(frozen=True)
class Earned:
    """What the tariffs earn in one chunk, before caps (arrays filled in place by the metrics).

    Parameters
    ----------
    per_person : ndarray, shape (rows, Q)
        Amounts subject to the per-young-person cap, a row per person or per draw x
        borough (:attr:`PaymentInputs.row_of`), by quarter of achievement [GBP].
    per_borough : ndarray, shape (D x B, Q)
        Amounts per draw x borough that no per-person cap applies to [GBP].
    baseline_gap : ndarray, shape (D,)
        See :attr:`sibmodel.contract.payments.Payments.baseline_gap` [GBP].
    """

    per_person: np.ndarray
    per_borough: np.ndarray
    baseline_gap: np.ndarray

    @classmethod
    def zeros(cls, inputs: PaymentInputs) -> Earned:
        return cls(
            np.zeros((inputs.n_rows, inputs.n_quarters)),
            np.zeros((inputs.n_keys, inputs.n_quarters)),
            np.zeros(inputs.n_draws),
        )


#: A metric's pay function: ``pay(tariff, drawn, inputs, earned)`` adds the tariff's
#: amounts to ``earned``; ``drawn`` maps each of the tariff's quantity fields to its
#: draws, shape (D,).
PayFunction = Callable[[BaseModel, dict[str, np.ndarray], PaymentInputs, Earned], None]


@dataclass(frozen=True)
class Metric:
    """One outcome metric.

    Parameters
    ----------
    name : str
        The ``metric:`` key in a scenario.
    model : type
        Its schema model (a member of :data:`sibmodel.scenario.schema.Tariff`).
    pay : PayFunction
        How it pays.
    price_fields : tuple of str
        The quantity fields payments are proportional to, before caps and floors:
        what the ``tariff`` lever scales.
    """

    name: str
    model: type[BaseModel]
    pay: PayFunction
    price_fields: tuple[str, ...]


def _per_row(price: np.ndarray, inputs: PaymentInputs) -> np.ndarray:
    """A price per draw, shape (D,), as one per row of :attr:`Earned.per_person`."""
    return price[inputs.people.draw] if inputs.by_person else np.repeat(price, inputs.n_boroughs)


def pay_weekly_out_of_care(
    tariff: WeeklyOutOfCare, drawn: dict[str, np.ndarray], inputs: PaymentInputs, earned: Earned
) -> None:
    """The tariff for each week at home in the tracking window (weeks counted exactly, then priced)."""
    # paid at home; after a return from care (HOME_AFTER) only if the contract says so
    paid_states = HOME if tariff.pay_weeks_after_return_from_care else HOME_BEFORE_CARE
    weeks = spell_quarter_weeks(
        inputs.treated, paid_states, inputs.row_of, inputs.ref, inputs.n_rows, inputs.n_quarters, window=inputs.window
    )
    earned.per_person[...] += weeks * _per_row(drawn["payment_per_week_gbp"], inputs)[:, None]


def pay_engagement(tariff: Engagement, drawn: dict[str, np.ndarray], inputs: PaymentInputs, earned: Earned) -> None:
    """The tariff once per start, in the quarter of week ``after_therapy_weeks``."""
    d = inputs.people.draw
    week = inputs.ref + tariff.after_therapy_weeks
    ok = week < inputs.n_quarters * QUARTER_WEEKS
    np.add.at(earned.per_person, (inputs.row_of[ok], week[ok] // QUARTER_WEEKS), drawn["payment_gbp"][d[ok]])


def pay_milestone(tariff: Milestone, drawn: dict[str, np.ndarray], inputs: PaymentInputs, earned: Earned) -> None:
    """The tariff once per young person at home at week ``at_week`` of the tracking window."""
    d, ref, sp = inputs.people.draw, inputs.ref, inputs.treated.spells
    at = inputs.window_start + tariff.at_week  # weeks since referral
    home = sp.state < FIRST_PLACEMENT
    hit = home & (sp.start <= at[sp.person]) & (at[sp.person] < sp.end) & (at[sp.person] < inputs.window_end[sp.person])
    p = sp.person[hit]
    q = (ref[p] + at[p]) // QUARTER_WEEKS
    ok = q < inputs.n_quarters
    np.add.at(earned.per_person, (inputs.row_of[p[ok]], q[ok]), drawn["payment_gbp"][d[p[ok]]])


def pay_care_days_saved(
    tariff: CareDaysSaved, drawn: dict[str, np.ndarray], inputs: PaymentInputs, earned: Earned
) -> None:
    """Care weeks saved against the baseline share, per borough and quarter, at a share of the placement cost.

    Also adds to :attr:`Earned.baseline_gap` when the counterfactual arm is given.
    """
    n_draws, n_b, n_q, n_keys = inputs.n_draws, inputs.n_boroughs, inputs.n_quarters, inputs.n_keys
    key_db, ref = inputs.key_db, inputs.ref
    share, paid_share = drawn["baseline_care_share"], drawn["share_of_placement_cost"]
    if tariff.reference_weekly_care_cost_gbp is not None:
        cost = np.broadcast_to(drawn["reference_weekly_care_cost_gbp"][:, None], (n_draws, n_b))
    else:
        cost = inputs.reference_weekly_cost
    tracked = quarter_weeks(key_db, inputs.window_start + ref, inputs.window_end + ref, n_keys, n_q)
    care_weeks = spell_quarter_weeks(inputs.treated, CARE, key_db, ref, n_keys, n_q, window=inputs.window)
    baseline_weeks = share.repeat(n_b)[:, None] * tracked
    weeks_saved = baseline_weeks - care_weeks
    if tariff.floor_at_zero:
        weeks_saved = np.maximum(weeks_saved, 0.0)
    price_per_week = (cost.reshape(-1) * paid_share.repeat(n_b))[:, None]  # (D x B, 1) [GBP/week]
    earned.per_borough[...] += weeks_saved * price_per_week
    if inputs.counterfactual is not None:
        cf_weeks = spell_quarter_weeks(inputs.counterfactual, CARE, key_db, ref, n_keys, n_q, window=inputs.window)
        earned.baseline_gap[...] += ((baseline_weeks - cf_weeks) * price_per_week).reshape(n_draws, -1).sum(axis=1)


#: Every outcome metric, by its ``metric:`` key.
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("weekly_out_of_care", WeeklyOutOfCare, pay_weekly_out_of_care, ("payment_per_week_gbp",)),
        Metric("engagement", Engagement, pay_engagement, ("payment_gbp",)),
        Metric("milestone", Milestone, pay_milestone, ("payment_gbp",)),
        # the price is the share of the placement cost paid, not the weekly cost (a fact about
        # care, often the borough's own); a share cannot pass 1, so neither can the lever move it there
        Metric("care_days_saved", CareDaysSaved, pay_care_days_saved, ("share_of_placement_cost",)),
    )
}


def tariff_price_paths(s: Scenario) -> list[str]:
    """Dotted paths of every tariff's price fields in a scenario (``contract.tariffs.0.payment_per_week_gbp``, ...)."""
    return [
        f"contract.tariffs.{i}.{name}"
        for i, tariff in enumerate(s.contract.tariffs)
        for name in METRICS[tariff.metric].price_fields
        if getattr(tariff, name) is not None
    ]
