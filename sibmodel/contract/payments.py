"""The outcomes contract: tariffs, caps, top-up and payment lag -> payments by quarter.

Inputs are per-person arrays from the kernel for one chunk of draws; outputs
are per draw x borough x quarter.  Quarters are 13-week model quarters from
the programme start; outcomes achieved in quarter ``q`` are paid at the end of
quarter ``q + payment_lag_quarters`` (quarterly in arrears).

Each tariff is paid by its metric (:data:`sibmodel.contract.metrics.METRICS`, where
what each metric pays for is described).  Order of operations (documented
because it matters for who pays what):

1. person-level amounts per quarter for the per-person metrics (weekly
   out-of-care, engagement, milestone), truncated in time order at the
   per-young-person cap;
2. care days saved, computed per borough and quarter (the Essex design:
   ``baseline_share x tracked weeks - observed care weeks``, optionally floored
   at zero per borough-quarter), added to the borough's quarter;
3. the per-borough cap, in time order;
4. the total cap, in time order; in the quarter where it binds, the remainder
   is shared between boroughs in proportion to what they would have been paid;
5. the central top-up pays ``share`` of each payment until its maximum is
   reached (in time order, shared in proportion within the binding quarter);
   the borough pays the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sibmodel.contract.metrics import METRICS, Earned, PaymentInputs
from sibmodel.model.pathways import ArmOutcomes
from sibmodel.model.referrals import People
from sibmodel.scenario.schema import Scenario


def cap_in_time_order(amounts: np.ndarray, cap: np.ndarray | float | None) -> np.ndarray:
    """Truncate amounts along the last axis (quarters) once their running total reaches ``cap``.

    Parameters
    ----------
    amounts : ndarray, shape (..., Q)
        Amounts per quarter [GBP], non-negative.
    cap : float, ndarray broadcastable to (...,), or None
        The cap [GBP]; ``None`` for no cap.
    """
    if cap is None:
        return amounts
    cap_b = np.asarray(cap, dtype=float)[..., None] if np.ndim(cap) else float(cap)
    cum = np.cumsum(amounts, axis=-1)
    before = np.zeros_like(cum)  # the running total before each quarter
    before[..., 1:] = cum[..., :-1]
    # a quarter the cap does not reach is kept as it is, bit for bit (no cumulative sum and difference);
    # the quarter where it binds pays what is left, later quarters nothing
    return np.where(cum <= cap_b, amounts, np.maximum(cap_b - before, 0.0))


def share_capped_total(amounts: np.ndarray, cap: float | None) -> np.ndarray:
    """Apply a cap to the sum over axis 1 (boroughs) of (D, B, Q) amounts, in time order.

    In the quarter where the cap binds, what is left is shared in proportion to
    each borough's amount.
    """
    if cap is None:
        return amounts
    total = amounts.sum(axis=1)  # (D, Q)
    allowed = cap_in_time_order(total, cap)
    binds = allowed != total  # where the cap does not bind, every borough keeps its amount, bit for bit
    if not binds.any():
        return amounts
    ratio = np.divide(allowed, total, out=np.zeros_like(total), where=total > 0)
    return np.where(binds[:, None, :], amounts * ratio[:, None, :], amounts)


@dataclass(frozen=True)
class Payments:
    """Outcome payments of one chunk, by the quarter they are achieved and by cash quarter.

    Parameters
    ----------
    achieved : ndarray, shape (D, B, Q)
        Payments earned per quarter of achievement, after caps [GBP].
    topup_achieved : ndarray, shape (D, B, Q)
        The top-up's part of ``achieved`` [GBP].
    paid : ndarray, shape (D, B, Qc)
        Payments by cash quarter (after the lag) [GBP]; ``Qc = Q + lag``.
    topup_paid : ndarray, shape (D, B, Qc)
        Top-up part by cash quarter [GBP].
    uncapped_total : ndarray, shape (D,)
        What would have been paid without any cap (per person, borough or total) [GBP].
    baseline_gap : ndarray, shape (D,)
        Of the care-days-saved payments, the part that pays for the gap between the
        contract's baseline and the counterfactual arm: the tariff's price of
        ``baseline_care_share x tracked weeks - counterfactual care weeks``, before caps
        and floor [GBP].  Positive when the counterfactual spends less time in care than
        the contract assumes (payments for care days the therapy did not cause); zero
        without a care-days-saved tariff or without the counterfactual arm.
    """

    achieved: np.ndarray
    topup_achieved: np.ndarray
    paid: np.ndarray
    topup_paid: np.ndarray
    uncapped_total: np.ndarray
    baseline_gap: np.ndarray

    @property
    def borough_paid(self) -> np.ndarray:
        """Borough share by cash quarter, shape (D, B, Qc) [GBP]."""
        return self.paid - self.topup_paid


def compute_payments(
    s: Scenario,
    people: People,
    treated: ArmOutcomes,
    window_start: np.ndarray,
    window_end: np.ndarray,
    params: dict[str, np.ndarray],
    reference_weekly_cost: np.ndarray,
    n_draws: int,
    n_quarters: int,
    counterfactual: ArmOutcomes | None = None,
) -> Payments:
    """Outcome payments for one chunk of draws.

    Parameters
    ----------
    s : Scenario
    people : People
    treated : ArmOutcomes
        The treated arm (payments are for what happened with therapy).
    window_start, window_end : ndarray of int, shape (N,)
        Tracking windows [weeks since referral].
    params : dict of path -> ndarray (D,)
        Drawn inputs (tariff amounts may be uncertain).
    reference_weekly_cost : ndarray, shape (D, B)
        Weekly placement cost used by care-days-saved tariffs when the
        contract gives none [GBP/week].
    n_draws, n_quarters : int
        Output shape (quarters of achievement).
    counterfactual : ArmOutcomes, optional
        The arm without therapy; used only for :attr:`Payments.baseline_gap`.
    """
    caps = s.contract.caps
    # Without a per-person cap, per-person amounts are never needed: they are summed
    # straight into draw x borough rows (weeks counted exactly, then priced).  With one,
    # each person's quarters are kept so the cap can be applied in time order.
    inputs = PaymentInputs(
        people,
        treated,
        counterfactual,
        window_start,
        window_end,
        reference_weekly_cost,
        n_draws,
        len(s.boroughs),
        n_quarters,
        by_person=caps.per_young_person_gbp is not None,
    )
    earned = earn(s, params, inputs)
    achieved, uncapped = _capped_per_person(earned, inputs, caps.per_young_person_gbp)
    achieved = cap_in_time_order(achieved, caps.per_borough_gbp).reshape(n_draws, inputs.n_boroughs, n_quarters)
    achieved = share_capped_total(achieved, caps.total_gbp)
    tu = s.contract.topup
    topup = share_capped_total(achieved * tu.share, tu.max_gbp)
    lag = s.contract.payment_lag_quarters
    return Payments(achieved, topup, in_arrears(achieved, lag), in_arrears(topup, lag), uncapped, earned.baseline_gap)


def earn(s: Scenario, params: dict[str, np.ndarray], inputs: PaymentInputs) -> Earned:
    """What each tariff earns, before caps: every tariff paid by its metric
    (:data:`sibmodel.contract.metrics.METRICS`)."""
    earned = Earned.zeros(inputs)
    for i, tariff in enumerate(s.contract.tariffs):
        base = f"contract.tariffs.{i}."
        drawn = {path[len(base) :]: values for path, values in params.items() if path.startswith(base)}
        METRICS[tariff.metric].pay(tariff, drawn, inputs, earned)
    return earned


def _capped_per_person(earned: Earned, inputs: PaymentInputs, cap: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-person amounts after the per-young-person cap, plus the per-borough ones, by draw x borough.

    Returns
    -------
    achieved : ndarray, shape (D x B, Q)
        [GBP].
    uncapped : ndarray, shape (D,)
        What would have been paid without any cap [GBP].
    """
    n_draws, n_keys, n_quarters = inputs.n_draws, inputs.n_keys, inputs.n_quarters
    per_person = earned.per_person
    if inputs.by_person:
        uncapped = np.bincount(inputs.people.draw, weights=per_person.sum(axis=1), minlength=n_draws)
        per_person = cap_in_time_order(per_person, cap)
        achieved = np.zeros((n_keys, n_quarters))
        key_db = inputs.key_db
        for q in range(n_quarters):  # Q ~ 20-40 bincounts; people are never looped over
            achieved[:, q] = np.bincount(key_db, weights=per_person[:, q], minlength=n_keys)
    else:
        uncapped = per_person.reshape(n_draws, -1).sum(axis=1)
        achieved = per_person
    uncapped = uncapped + earned.per_borough.reshape(n_draws, inputs.n_boroughs, n_quarters).sum(axis=(1, 2))
    achieved += earned.per_borough
    return achieved, uncapped


def in_arrears(achieved: np.ndarray, lag: int) -> np.ndarray:
    """Amounts by cash quarter: those achieved in quarter ``q`` paid in ``q + lag``, shape (D, B, Q + lag)."""
    paid = np.zeros(achieved.shape[:2] + (achieved.shape[2] + lag,))
    paid[:, :, lag:] = achieved
    return paid
