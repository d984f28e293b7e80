"""The arm without therapy from the baseline: a tabulated map from baseline time at home to a risk factor.

A scenario with a ``baseline:`` block states what would happen without the
therapy as an uncertain input of its own: the expected share of tracked weeks
at home (``baseline.time_at_home_share``).  The care model and each
intervention's ``effect`` then describe the *treated* arm, as observed or
planned; the arm without therapy is the same care pathway with its entry and
re-entry hazards multiplied by a factor ``m`` (the *counterfactual risk
factor*), the one factor at which the exact cohort model
(:func:`sibmodel.model.calibrate.expected_figures`, every other input at its central
value) gives the baseline share.  The therapy's effect is implied:
``hazard_ratio / m`` per intervention, reported per draw.

The map from share to ``m`` is strictly decreasing.  It is tabulated once per
scenario on a grid of ``ln m`` and inverted by monotone (PCHIP) interpolation
of ``ln m`` against the share; a share outside the range the pathway can reach
(everyone at home, or everyone in care from the first week and placements as
long as they are) is clamped to the nearest reachable share, and such draws
are counted (``baseline_clamped``).

Only the arm without therapy moves with the baseline: the treated arm, and so
payments and everything the investor sees, stay the same bit for bit
(:func:`sibmodel.model.pathways.simulate_arms` gives the treated arm its own random numbers).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel
from scipy.interpolate import PchipInterpolator

from sibmodel.scenario.quantities import Spec
from sibmodel.scenario.schema import Borough, Contract, Intervention, Placement, Scenario, iter_quantities

#: Grid of ln(counterfactual risk factor) on which the map is tabulated [ln ratio]:
#: from 1/8,000 (almost nobody enters care) to 1,100 (everybody enters at once).
LOG_FACTOR_GRID = np.linspace(-9.0, 7.0, 193)


@dataclass(frozen=True)
class BaselineMap:
    """Expected time at home without therapy as a function of the counterfactual risk factor.

    Parameters
    ----------
    log_factor : ndarray, shape (G,)
        Grid of ``ln m``, increasing [ln ratio].
    share : ndarray, shape (G,)
        Expected share of tracked weeks at home without therapy at each grid point,
        strictly decreasing [share].
    """

    log_factor: np.ndarray
    share: np.ndarray

    @functools.cached_property
    def _inverse(self) -> PchipInterpolator:
        return PchipInterpolator(self.share[::-1], self.log_factor[::-1])

    @property
    def reachable(self) -> tuple[float, float]:
        """Lowest and highest baseline share the pathway can reach on the grid [share]."""
        return float(self.share[-1]), float(self.share[0])

    def factor(self, baseline_share) -> tuple[np.ndarray, np.ndarray]:
        """The counterfactual risk factor for each baseline share.

        Parameters
        ----------
        baseline_share : array_like
            Expected share of tracked weeks at home without therapy [share].

        Returns
        -------
        factor : ndarray
            Multiplier of the entry and re-entry hazards without therapy [ratio].
        clamped : ndarray of bool
            Where the share lay outside :attr:`reachable` and was clamped to it.
        """
        b = np.asarray(baseline_share, dtype=float)
        lo, hi = self.reachable
        clamped = (b < lo) | (b > hi)
        return np.exp(self._inverse(np.clip(b, lo, hi))), clamped


def _central_values(s: Scenario) -> dict[str, float]:
    from sibmodel.model.calibrate import center

    return {path: center(spec) for path, spec in iter_quantities(s)}


def tabulate(s: Scenario, log_factor: np.ndarray = LOG_FACTOR_GRID) -> BaselineMap:
    """Tabulate the baseline map of a scenario on the exact cohort model.

    Parameters
    ----------
    s : Scenario
    log_factor : ndarray, shape (G,)
        Grid of ``ln m`` [ln ratio], increasing.

    Returns
    -------
    BaselineMap
        Grid points where the share no longer changes (to floating point) are dropped,
        so that the share is strictly decreasing.
    """
    from sibmodel.model.calibrate import expected_figures

    share = expected_figures(s, _central_values(s), np.exp(log_factor)).time_at_home_counterfactual_scaled
    keep = np.concatenate([[True], share[1:] < np.minimum.accumulate(share)[:-1]])  # below every earlier point
    return BaselineMap(np.asarray(log_factor, dtype=float)[keep], share[keep])


#: Fields the map's numbers do not depend on, by model (nor any ``source``): the treated arm's effect (the
#: map is the arm without therapy, which ``calibrate.expected_figures`` computes apart from the treated arm),
#: costs, prices and money terms, the baseline itself (the map is what inverts it) and the run settings. Everything
#: else, new fields included, is in the key: a field missing here costs a recomputation, never a stale map
#: (``tests/test_counterfactual.py`` changes every field named here and checks the map is the same bit for bit).
_NOT_READ: dict[type, frozenset[str]] = {
    Scenario: frozenset({"metadata", "discounting", "investment", "correlations", "observed", "baseline", "sampling"}),
    Contract: frozenset({"tariffs", "caps", "topup", "payment_lag_quarters"}),
    Borough: frozenset({"weekly_care_cost_gbp"}),
    Intervention: frozenset({"description", "effect", "completion", "delivery"}),
    Placement: frozenset({"weekly_cost_gbp"}),
}


def _map_inputs(node):
    """``node`` as plain data, each quantity as its central value (the only part of it the map reads)."""
    from sibmodel.model.calibrate import center

    if isinstance(node, Spec):
        return center(node)
    if isinstance(node, BaseModel):
        skip = _NOT_READ.get(type(node), frozenset()) | {"source"}
        return {k: _map_inputs(getattr(node, k)) for k in type(node).model_fields if k not in skip}
    if isinstance(node, dict):
        return {k: _map_inputs(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_map_inputs(v) for v in node]
    return node


def map_key(s: Scenario) -> str:
    """An exact key of every input of ``s`` the map depends on: equal keys give the same map bit for bit.

    JSON text in document order (the order the cohort model sums in); floats are written by ``repr``,
    which gives back the same double, so two keys are equal only if every input is (``-0.0`` included).
    """
    return json.dumps(_map_inputs(s), default=str)


@dataclass(frozen=True)
class _MapInputs:
    """A scenario compared and hashed by :func:`map_key` alone."""

    key: str
    scenario: Scenario = field(compare=False)


# 32 maps: a tornado over every input of the care model (9 for PFP, 18 variants) keeps its central map; each
# entry is ~200 points and the scenario (~20 kB pickled for PFP): a few megabytes at most
@functools.lru_cache(maxsize=32)
def _tabulated(inputs: _MapInputs) -> BaselineMap:
    return tabulate(inputs.scenario)


def baseline_map(s: Scenario) -> BaselineMap:
    """The scenario's baseline map (see :func:`tabulate`), tabulated once per process and distinct map inputs.

    Scenario variants that change nothing the map depends on (:func:`map_key`: costs, prices, the payment
    lag, hazard ratios, the baseline itself, the spread of an input around its central value, sources)
    share one table; a change to any input it reads (a central value of the care model, starts, the
    calendar, the tracking window) tabulates afresh.  Each process keeps its own least-recently-used
    cache (:func:`_tabulated`, 32 maps); a hit returns the very map a fresh tabulation would give.
    """
    return _tabulated(_MapInputs(map_key(s), s))
