"""Per-draw history by borough and quarter: what a contract manager records, re-simulated.

A run keeps no borough x quarter history per draw.  Draw ``I`` of a run is re-simulated
instead, alone: its random numbers are counters of (entropy, draw, borough, person, spell,
purpose), so :func:`sibmodel.engine.chunk.run_draws` gives it bit for bit as in the full run,
and :func:`stage_history` reads the draw's starts, weeks out of care and outcome payments per
borough and quarter from its ``People``, ``Arms`` and ``Payments``.  The same stage gives the
histories of a whole prior sample on request (:func:`run_draws_with_history`, used by
``sibmodel update``); a normal run never computes them.

Quarters are the model's 13-week quarters from the programme start; each is labelled
``YYYY-Qn`` by the calendar quarter holding its middle day (:func:`quarter_labels`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sibmodel.contract.payments import Payments
from sibmodel.engine import chunk as ch
from sibmodel.model.referrals import QUARTER_WEEKS, Calendar, People, borough_active_weeks
from sibmodel.model.tally import HOME, spell_quarter_weeks
from sibmodel.outputs import OUTCOME_PAYMENTS_GBP, STARTS, WEEKS_OUT_OF_CARE
from sibmodel.scenario.schema import Scenario

#: The series of a history, in the order of :attr:`History.values` (actuals file columns).
SERIES = (STARTS, WEEKS_OUT_OF_CARE, OUTCOME_PAYMENTS_GBP)


@dataclass(frozen=True)
class History:
    """Per draw, borough and quarter of achievement: starts, weeks out of care, outcome payments.

    Parameters
    ----------
    values : ndarray, shape (D, 3, B, Q)
        ``[:, 0]`` starts [young people], ``[:, 1]`` weeks out of care with therapy within
        the tracking windows [weeks], ``[:, 2]`` outcome payments for the quarter's outcomes,
        after caps, top-up included [GBP] (before the payment lag).
    topup : ndarray, shape (D, B, Q)
        The central top-up's part of the payments [GBP].
    """

    values: np.ndarray
    topup: np.ndarray


def stage_history(s: Scenario, people: People, arms: ch.Arms, pay: Payments, n_draws: int) -> History:
    """The chunk's history per draw x borough x quarter (see :class:`History`).

    Parameters
    ----------
    s : Scenario
    people : People
        Who started when (draw, borough, start quarter).
    arms : Arms
        Both arms; the treated arm's home spells within each tracking window are the
        weeks out of care (as the per-draw ``weeks_out_of_care``).
    pay : Payments
        ``achieved`` is by quarter of achievement (``contract.outcome_payments_gbp`` summed).
    n_draws : int
    """
    n_b, n_q = len(s.boroughs), Calendar.of(s).n_quarters
    key_db = people.draw * n_b + people.borough
    starts = np.bincount(key_db * n_q + people.quarter, minlength=n_draws * n_b * n_q).reshape(n_draws, n_b, n_q)
    weeks = spell_quarter_weeks(
        arms.treated,
        HOME,
        key_db,
        people.referral_week.astype(np.int64),
        n_draws * n_b,
        n_q,
        window=(arms.window_start, arms.window_end),
    ).reshape(n_draws, n_b, n_q)
    values = np.stack([starts.astype(float), weeks, pay.achieved], axis=1)
    return History(values, pay.topup_achieved)


def run_draws_with_history(
    s: Scenario, entropy, draw_ids, n_total: int, chunk_index: int = 0
) -> tuple[ch.ChunkResult, History]:
    """:func:`sibmodel.engine.chunk.run_draws` and the draws' :class:`History`, on the same random numbers.

    Parameters
    ----------
    s : Scenario
    entropy : int or tuple of int
        The run's root entropy.
    draw_ids : sequence of int
        Draw indices within the run, each in ``[0, n_total)``.
    n_total : int
        Draws in the run.
    chunk_index : int
        Recorded in the result.
    """
    draw_ids = np.asarray(draw_ids, dtype=np.int64)
    captured = {}

    def keep(people, arms, pay):
        captured["history"] = stage_history(s, people, arms, pay, len(draw_ids))

    result = ch.run_draws(s, entropy, draw_ids, n_total, chunk_index, on_payments=keep)
    return result, captured["history"]


def quarter_labels(s: Scenario) -> list[str]:
    """``YYYY-Qn`` of each model quarter: the calendar quarter holding its middle day.

    Raises
    ------
    ValueError
        Two model quarters would share a label (a 13-week quarter drifts against the
        calendar by about 1.25 days a year; only contracts of several decades reach this).
    """
    start = s.timeline.programme_start
    labels = []
    for q in range(Calendar.of(s).n_quarters):
        mid = start + dt.timedelta(days=7 * (q * QUARTER_WEEKS) + 45)
        labels.append(f"{mid.year}-Q{(mid.month - 1) // 3 + 1}")
    if len(set(labels)) != len(labels):
        raise ValueError(
            "two model quarters fall in the same calendar quarter; the contract is too long to label quarters "
            "as YYYY-Qn"
        )
    return labels


def first_quarter(s: Scenario) -> np.ndarray:
    """The model quarter each borough joins in (its first referral week), shape (B,)."""
    return borough_active_weeks(s)[:, 0] // QUARTER_WEEKS


def history_frame(s: Scenario, values: np.ndarray, through: int) -> pd.DataFrame:
    """One draw's history as the actuals table, quarters ``0 .. through``.

    Parameters
    ----------
    values : ndarray, shape (3, B, Q)
        One draw of :attr:`History.values`.
    through : int
        Last model quarter written (inclusive).

    Returns
    -------
    DataFrame
        ``quarter``, ``borough``, ``starts``, ``weeks_out_of_care``, ``outcome_payments_gbp``:
        a row for every borough in every quarter from the one it joins to ``through``.
    """
    labels, first = quarter_labels(s), first_quarter(s)
    rows = []
    for q in range(through + 1):
        for bi, name in enumerate(s.boroughs):
            if q >= first[bi]:
                rows.append(
                    (
                        labels[q],
                        name,
                        int(round(values[0, bi, q])),
                        int(round(values[1, bi, q])),
                        float(values[2, bi, q]),
                    )
                )
    return pd.DataFrame(rows, columns=["quarter", "borough", *SERIES])


def draw_history(s: Scenario, entropy, draw_index: int, n_draws_total: int) -> History:
    """Re-simulate draw ``draw_index`` of a run, alone, and return its history.

    Every random number is a function of (entropy, draw index, borough, person, spell, purpose)
    and the inputs of (entropy, draw index, run size) (:mod:`sibmodel.model.philox`), so the draw
    simulated alone is the draw of the full run, bit for bit, whatever the run's chunk size.

    Parameters
    ----------
    s : Scenario
        The run's resolved scenario.
    entropy : int or tuple
        The run's root entropy (``meta.seed_entropy``).
    draw_index : int
        0-based row of ``draws.parquet``.
    n_draws_total : int
        The run's draws (the Latin hypercube's strata).

    Returns
    -------
    History
        With one draw (leading axis of length 1).
    """
    if not 0 <= draw_index < n_draws_total:
        raise IndexError(f"draw {draw_index} is not in a run of {n_draws_total} draws")
    _, hist = run_draws_with_history(s, entropy, [draw_index], n_draws_total)
    return hist
