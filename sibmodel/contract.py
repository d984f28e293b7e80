"""The outcomes contract: tariffs, caps, top-up and payment lag -> payments by quarter.

Inputs are per-person arrays from the kernel for one chunk of draws; outputs
are per draw x borough x quarter.  Quarters are 13-week model quarters from
the programme start; outcomes achieved in quarter ``q`` are paid at the end of
quarter ``q + payment_lag_quarters`` (quarterly in arrears).

Order of operations (documented because it matters for who pays what):

1. person-level amounts per quarter for the per-person metrics (weekly
   out-of-care, engagement, milestone), truncated in time order at the
   per-young-person cap; weekly out-of-care pays the weeks at home in the
   tracking window, those after a return from care only when the tariff's
   ``pay_weeks_after_return_from_care`` is true (the default);
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

from .hazards import FIRST_PLACEMENT, HOME_AFTER
from .pathways import ArmOutcomes
from .referrals import QUARTER_WEEKS, People
from .schema import CareDaysSaved, Engagement, Milestone, Scenario, WeeklyOutOfCare
from .tally import CARE, HOME, HOME_BEFORE_CARE, quarter_weeks, spell_quarter_weeks


def split_by_quarter(key: np.ndarray, start: np.ndarray, end: np.ndarray, weight: np.ndarray, n_keys: int, n_quarters: int) -> np.ndarray:
    """Sum ``weight x weeks`` of intervals ``[start, end)`` (calendar weeks) into quarters.

    Parameters
    ----------
    key : ndarray of int
        Row each interval belongs to (person, or draw x borough).
    start, end : ndarray of int
        Interval bounds [calendar weeks].
    weight : ndarray or float
        Amount per week [e.g. GBP/week, or 1 to count weeks].
    n_keys, n_quarters : int
        Output shape.

    Returns
    -------
    ndarray, shape (n_keys, n_quarters)
        Weighted weeks in each quarter; weeks at or after ``n_quarters * 13`` are dropped.
    """
    start = np.asarray(start, dtype=np.int64)
    end = np.minimum(np.asarray(end, dtype=np.int64), n_quarters * QUARTER_WEEKS)
    weight = np.broadcast_to(np.asarray(weight, dtype=float), start.shape)
    ok = end > start
    key, start, end, weight = key[ok], start[ok], end[ok], weight[ok]
    if start.size == 0:
        return np.zeros((n_keys, n_quarters))
    q = start // QUARTER_WEEKS
    idx_parts, val_parts = [], []
    while start.size:  # a spell spans a few quarters: loop over that, never over people
        hi = np.minimum(end, (q + 1) * QUARTER_WEEKS)
        idx_parts.append(key * n_quarters + q)
        val_parts.append((hi - start) * weight)
        more = end > hi
        key, start, end, weight, q = key[more], hi[more], end[more], weight[more], q[more] + 1
    out = np.bincount(np.concatenate(idx_parts), weights=np.concatenate(val_parts), minlength=n_keys * n_quarters)
    return out.reshape(n_keys, n_quarters)


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
    cum = np.cumsum(amounts, axis=-1)
    capped = np.minimum(cum, np.asarray(cap)[..., None] if np.ndim(cap) else cap)
    return np.diff(capped, axis=-1, prepend=0.0)


def share_capped_total(amounts: np.ndarray, cap: float | None) -> np.ndarray:
    """Apply a cap to the sum over axis 1 (boroughs) of (D, B, Q) amounts, in time order.

    In the quarter where the cap binds, what is left is shared in proportion to
    each borough's amount.
    """
    if cap is None:
        return amounts
    total = amounts.sum(axis=1)  # (D, Q)
    allowed = cap_in_time_order(total, cap)
    ratio = np.divide(allowed, total, out=np.zeros_like(total), where=total > 0)
    return amounts * ratio[:, None, :]


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


def person_tracking(s: Scenario, people: People, therapy_weeks: np.ndarray, contract_end_week: int) -> tuple[np.ndarray, np.ndarray]:
    """Tracking window of each person in weeks since referral: (start, end).

    The window starts at referral or at the end of therapy, lasts the contract's
    tracking length and is cut at the contract end (never shorter than zero).
    """
    tr = s.contract.tracking
    ws = np.zeros(people.n, dtype=np.int64) if tr.starts_at == "referral" else therapy_weeks[people.intervention].astype(np.int64)
    we = np.minimum(ws + tr.length_weeks, contract_end_week - people.referral_week)
    we = np.maximum(we, ws)
    return ws, we


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
    n = people.n
    n_b = len(s.boroughs)
    d = people.draw
    ref = people.referral_week.astype(np.int64)
    caps = s.contract.caps
    # Without a per-person cap, per-person amounts are never needed: they are summed
    # straight into draw x borough rows (weeks counted exactly, then priced).  With one,
    # each person's quarters are kept so the cap can be applied in time order.
    by_person = caps.per_young_person_gbp is not None
    n_keys = n_draws * n_b
    per_person = np.zeros((n if by_person else n_keys, n_quarters))
    saved = np.zeros((n_keys, n_quarters))
    baseline_gap = np.zeros(n_draws)
    key_db = d * n_b + people.borough
    row_of = np.arange(n) if by_person else key_db  # the row a person's amounts go to
    sp = treated.spells
    for i, tariff in enumerate(s.contract.tariffs):
        base = f"contract.tariffs.{i}"
        if isinstance(tariff, WeeklyOutOfCare):
            price = params[f"{base}.payment_per_week_gbp"]
            # paid at home; after a return from care (HOME_AFTER) only if the contract says so
            paid_states = HOME if tariff.pay_weeks_after_return_from_care else HOME_BEFORE_CARE
            if by_person:
                home = sp.state < (FIRST_PLACEMENT if tariff.pay_weeks_after_return_from_care else HOME_AFTER)
                p = sp.person[home]
                lo = np.maximum(sp.start[home], window_start[p]) + ref[p]
                hi = np.minimum(sp.end[home], window_end[p]) + ref[p]
                per_person += split_by_quarter(p, lo, hi, price[d[p]], n, n_quarters)
            else:
                weeks = spell_quarter_weeks(treated, paid_states, key_db, ref, n_keys, n_quarters, window=(window_start, window_end))
                per_person += weeks * np.repeat(price, n_b)[:, None]
        elif isinstance(tariff, Engagement):
            price = params[f"{base}.payment_gbp"]
            week = ref + tariff.after_therapy_weeks
            ok = week < n_quarters * QUARTER_WEEKS
            np.add.at(per_person, (row_of[ok], week[ok] // QUARTER_WEEKS), price[d[ok]])
        elif isinstance(tariff, Milestone):
            price = params[f"{base}.payment_gbp"]
            at = window_start + tariff.at_week  # weeks since referral
            home = sp.state < FIRST_PLACEMENT
            hit = home & (sp.start <= at[sp.person]) & (at[sp.person] < sp.end) & (at[sp.person] < window_end[sp.person])
            p = sp.person[hit]
            q = (ref[p] + at[p]) // QUARTER_WEEKS
            ok = q < n_quarters
            np.add.at(per_person, (row_of[p[ok]], q[ok]), price[d[p[ok]]])
        elif isinstance(tariff, CareDaysSaved):
            share = params[f"{base}.baseline_care_share"]
            paid_share = params[f"{base}.share_of_placement_cost"]
            if tariff.reference_weekly_care_cost_gbp is not None:
                cost = np.broadcast_to(params[f"{base}.reference_weekly_care_cost_gbp"][:, None], (n_draws, n_b))
            else:
                cost = reference_weekly_cost
            tracked = quarter_weeks(key_db, window_start + ref, window_end + ref, n_keys, n_quarters)
            care_weeks = spell_quarter_weeks(treated, CARE, key_db, ref, n_keys, n_quarters, window=(window_start, window_end))
            baseline_weeks = share.repeat(n_b)[:, None] * tracked
            weeks_saved = baseline_weeks - care_weeks
            if tariff.floor_at_zero:
                weeks_saved = np.maximum(weeks_saved, 0.0)
            price_per_week = (cost.reshape(-1) * paid_share.repeat(n_b))[:, None]  # (D x B, 1) [GBP/week]
            saved += weeks_saved * price_per_week
            if counterfactual is not None:
                cf_weeks = spell_quarter_weeks(counterfactual, CARE, key_db, ref, n_keys, n_quarters, window=(window_start, window_end))
                baseline_gap += ((baseline_weeks - cf_weeks) * price_per_week).reshape(n_draws, -1).sum(axis=1)
    if by_person:
        uncapped = np.bincount(d, weights=per_person.sum(axis=1), minlength=n_draws)
        per_person = cap_in_time_order(per_person, caps.per_young_person_gbp)
        achieved = np.zeros((n_keys, n_quarters))
        for q in range(n_quarters):  # Q ~ 20-40 bincounts; people are never looped over
            achieved[:, q] = np.bincount(key_db, weights=per_person[:, q], minlength=n_keys)
    else:
        uncapped = per_person.reshape(n_draws, n_b * n_quarters).sum(axis=1)
        achieved = per_person
    uncapped = uncapped + saved.reshape(n_draws, n_b, n_quarters).sum(axis=(1, 2))
    achieved += saved
    achieved = cap_in_time_order(achieved, caps.per_borough_gbp).reshape(n_draws, n_b, n_quarters)
    achieved = share_capped_total(achieved, caps.total_gbp)
    tu = s.contract.topup
    topup_uncapped = achieved * tu.share
    topup = share_capped_total(topup_uncapped, tu.max_gbp)
    lag = s.contract.payment_lag_quarters
    paid = np.zeros((n_draws, n_b, n_quarters + lag))
    paid[:, :, lag:] = achieved
    topup_paid = np.zeros_like(paid)
    topup_paid[:, :, lag:] = topup
    return Payments(achieved, topup, paid, topup_paid, uncapped, baseline_gap)
