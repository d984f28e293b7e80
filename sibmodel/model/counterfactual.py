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
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PchipInterpolator

from sibmodel.scenario.schema import Scenario, iter_quantities

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


_CACHE: dict[str, BaselineMap] = {}
_CACHE_SIZE = 16


def baseline_map(s: Scenario) -> BaselineMap:
    """The scenario's baseline map, tabulated once per process and scenario (see :func:`tabulate`).

    The map does not depend on the baseline itself, so scenarios that differ only in
    ``baseline:`` share one table.
    """
    key = s.model_copy(update={"baseline": None}).model_dump_json()
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = tabulate(s)
    return _CACHE[key]
