"""The plan: what a run's chunks need that depends only on the scenario and the seed, computed once per run.

:func:`Plan.of` compiles a scenario and a root entropy into numbers: the quantities to
sample and the Philox keys of their uniforms, the calendar, the keys of every per-borough
purpose (referrals, starts, cohort spread, pathways), the placement mixes and escalation,
the entry-hazard shape and the discount factors.  :mod:`sibmodel.engine.execution` builds
it once per run and ships it with each chunk to the worker processes or the Dask cluster
(it pickles: a frozen dataclass of the scenario, numbers and arrays); without one,
:func:`sibmodel.engine.chunk.run_draws` builds its own.  The plan holds no random numbers,
only where they come from, so results do not depend on whether it was shared.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from sibmodel.model import finance
from sibmodel.model.hazards import escalation_matrix, horizon_weight, placement_mixes
from sibmodel.model.philox import key_of, keys_of
from sibmodel.model.referrals import Calendar, starts_keys
from sibmodel.scenario.schema import Scenario, iter_quantities

#: The per-borough purposes of a chunk's random numbers besides the referrals' (:mod:`sibmodel.model.philox`).
BOROUGH_PURPOSES = ("cohort_spread", "pathways", "pathways:counterfactual")


def year_offset(s: Scenario) -> float:
    """Years from the start of the price year to the programme start [years]."""
    start = s.timeline.programme_start
    return (start - dt.date(s.metadata.price_year, 1, 1)).days / 365.25


@dataclass(frozen=True)
class Plan:
    """A scenario compiled for its chunks (see the module docstring).

    Parameters
    ----------
    scenario : Scenario
    entropy : int or tuple of int
        The run's root entropy.
    specs : dict of path -> quantity
        Every quantity of the scenario (:func:`sibmodel.scenario.schema.iter_quantities`).
    correlations : list of (str, str, float)
        Rank correlations between inputs.
    input_keys : dict of path -> ((int, int), (int, int))
        Philox keys of each uncertain input's uniforms and of its Latin hypercube permutation.
    calendar : Calendar
    starts_keys : (ndarray, ndarray) of uint64, each shape (B, 2)
        Philox keys per borough of the referrals (:func:`sibmodel.model.referrals.starts_keys`).
    borough_keys : dict of purpose -> ndarray of uint64, shape (B, 2)
        Philox keys per borough of each of :data:`BOROUGH_PURPOSES`.
    shape_steps : list of (int, float) or None
        The entry hazard's shape ``(from_week, relative_hazard)``.
    entry_horizon_weight : float
        Cumulative relative entry hazard over the entry horizon [weeks].
    escalation : ndarray, shape (K, K)
        Next placement after a breakdown [share].
    mix_by_borough, remix_by_borough : ndarray, shape (B, K)
        Placement mix on entry and re-entry per borough [share].
    mix_per_borough : bool
        Whether some borough has its own placement mix.
    therapy_weeks : ndarray of int, shape (I,)
        Therapy length per intervention [weeks].
    discount_factors : ndarray, shape (Qc,)
        Discount factor per cash quarter to the price year [ratio].
    """

    scenario: Scenario
    entropy: object
    specs: dict
    correlations: list
    input_keys: dict
    calendar: Calendar
    starts_keys: tuple
    borough_keys: dict
    shape_steps: list | None
    entry_horizon_weight: float
    escalation: np.ndarray
    mix_by_borough: np.ndarray
    remix_by_borough: np.ndarray
    mix_per_borough: bool
    therapy_weeks: np.ndarray
    discount_factors: np.ndarray

    @classmethod
    def of(cls, s: Scenario, entropy) -> Plan:
        """Compile ``s`` under the root ``entropy``."""
        specs = dict(iter_quantities(s))
        bnames = list(s.boroughs)
        shape = s.care.entry.shape
        steps = None if shape is None else [(st.from_week, st.relative_hazard) for st in shape]
        mix, remix = placement_mixes(s)
        cal = Calendar.of(s)
        disc = s.discounting
        schedule = (
            None
            if disc.declining_schedule is None
            else [(st.from_year, st.real_rate_annual) for st in disc.declining_schedule]
        )
        n_cash_quarters = cal.n_quarters + s.contract.payment_lag_quarters
        return cls(
            scenario=s,
            entropy=entropy,
            specs=specs,
            correlations=[(c.inputs[0], c.inputs[1], c.rank_corr) for c in s.correlations],
            input_keys={
                path: (key_of(entropy, "param:" + path), key_of(entropy, "lhs:" + path))
                for path, spec in specs.items()
                if not spec.is_fixed
            },
            calendar=cal,
            starts_keys=starts_keys(entropy, bnames),
            borough_keys={purpose: keys_of(entropy, purpose, bnames) for purpose in BOROUGH_PURPOSES},
            shape_steps=steps,
            entry_horizon_weight=horizon_weight(steps, s.care.entry.horizon_weeks),
            escalation=escalation_matrix(s),
            mix_by_borough=mix,
            remix_by_borough=remix,
            mix_per_borough=any(bo.placement_mix is not None for bo in s.boroughs.values()),
            therapy_weeks=np.array([iv.therapy_weeks for iv in s.interventions.values()]),
            discount_factors=finance.discount_factors(n_cash_quarters, disc.real_rate_annual, schedule, year_offset(s)),
        )
