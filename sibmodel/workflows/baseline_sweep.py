"""What the baseline decides: the baseline held fixed at several values, on common random numbers.

Policy staff and boroughs ask "what if, without the therapy, these young people
had spent X of their time at home?".  :func:`sweep` runs the scenario with
``baseline.time_at_home_share`` fixed at each value asked for and on a grid
(every run on the same seed, so draw *i* of each run has the same referrals,
inputs and treated arm: only the arm without therapy moves, see
:mod:`sibmodel.model.counterfactual`), and reports at each value asked for:

* value to government (care costs avoided, undiscounted) and the commissioners'
  net savings (discounted), as 5th/50th/95th percentiles over draws;
* the investor's money multiple (the same at every baseline: payments depend
  only on the treated arm);
* each borough's chance of coming out ahead and its median net saving.

The **break-even baseline** of a borough (or of all boroughs together) in a draw
is the baseline at which its discounted net saving is zero.  Net savings fall
as the baseline rises; per draw they are known at the grid points and the root
is found by linear interpolation between the last point above zero and the
first at or below it (the first such crossing from the low end).  A draw whose
net saving is at or below zero at the lowest grid point gets that point, and one
still above zero at the highest gets the highest point, so every percentile is
a finite number; the shares of draws at either end are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sibmodel.model.finance import stats_block
from sibmodel.outputs import (
    COMMISSIONER_NET_SAVINGS_GBP,
    GOVERNMENT_VALUE_GBP,
    INVESTOR_MOIC,
    NET_SAVINGS_GBP,
    borough_column,
)
from sibmodel.results.stats import first_crossing
from sibmodel.scenario.load import as_scenario
from sibmodel.scenario.quantities import Fixed
from sibmodel.scenario.schema import Baseline, Scenario

#: Baselines simulated for the break-even solve, besides those asked for [share].
DEFAULT_GRID = tuple(np.round(np.arange(0.05, 0.951, 0.05), 3))

#: Reported percentiles, in the order of the keys of every percentile block.
PCT_KEYS = ("p5", "p50", "p95")


def _pblock(x: np.ndarray) -> dict:
    """``{p5, p50, p95}`` of the finite values of ``x`` (:func:`sibmodel.model.finance.stats_block`);
    None when there are none."""
    block = stats_block(x)
    return {k: None if np.isnan(block[k]) else block[k] for k in PCT_KEYS}


def with_fixed_baseline(s: Scenario, share: float) -> Scenario:
    """A copy of ``s`` whose baseline time at home is fixed at ``share`` (a ``baseline:`` block is added if missing)."""
    fixed = Fixed(value=float(share), source=f"Held fixed at {share:g} by `sibmodel baseline --baselines`.")
    if s.baseline is None:
        return s.model_copy(update={"baseline": Baseline(time_at_home_share=fixed)})
    return s.model_copy(update={"baseline": s.baseline.model_copy(update={"time_at_home_share": fixed})})


@dataclass
class BaselineSweep:
    """The result of :func:`sweep`.

    Parameters
    ----------
    baselines : list of float
        The baselines asked for, in the order asked [share].
    grid : ndarray, shape (G,)
        Every baseline simulated, increasing [share].
    columns : dict of str -> ndarray (G, D)
        Per-draw figures at each grid point: ``government_value_gbp``,
        ``commissioner_net_savings_gbp``, ``investor_moic`` and
        ``borough.<name>.net_savings_gbp``.
    boroughs : list of str
    break_even : dict of str -> ndarray (D,)
        Break-even baseline per draw, for ``all`` and each borough [share].
    at_low_end, at_high_end : dict of str -> float
        Share of draws whose break-even is clamped to the lowest / highest grid point.
    price_year : int
        Year the net savings are discounted to.
    """

    baselines: list
    grid: np.ndarray
    columns: dict
    boroughs: list
    price_year: int
    break_even: dict = field(default_factory=dict)
    at_low_end: dict = field(default_factory=dict)
    at_high_end: dict = field(default_factory=dict)

    def net_savings(self, who: str) -> np.ndarray:
        """Discounted net savings per grid point and draw, shape (G, D), of ``all`` or a borough [GBP]."""
        return self.columns[COMMISSIONER_NET_SAVINGS_GBP if who == "all" else borough_column(who, NET_SAVINGS_GBP)]

    def to_json(self) -> dict:
        """``baseline.json``: ``by_baseline`` (one entry per baseline asked for) and ``break_even_baseline``."""
        by = []
        for b in self.baselines:
            g = int(np.flatnonzero(np.isclose(self.grid, b, rtol=0, atol=1e-12))[0])
            by.append(
                {
                    "time_at_home_counterfactual": float(b),
                    GOVERNMENT_VALUE_GBP: _pblock(self.columns[GOVERNMENT_VALUE_GBP][g]),
                    COMMISSIONER_NET_SAVINGS_GBP: _pblock(self.columns[COMMISSIONER_NET_SAVINGS_GBP][g]),
                    INVESTOR_MOIC: _pblock(self.columns[INVESTOR_MOIC][g]),
                    "boroughs": {
                        name: {
                            "p_ahead": float(np.mean(self.net_savings(name)[g] > 0)),
                            "net_savings_gbp_p50": float(np.median(self.net_savings(name)[g])),
                        }
                        for name in self.boroughs
                    },
                }
            )
        return {"by_baseline": by, "break_even_baseline": {who: _pblock(v) for who, v in self.break_even.items()}}

    def break_even_table(self):
        """One row per borough (and ``all``): break-even baseline percentiles
        and the shares clamped at the grid's ends."""
        import pandas as pd

        rows = []
        for who, v in self.break_even.items():
            b = _pblock(v)
            rows.append(
                {
                    "who": who,
                    **{f"break_even_{k}": b[k] for k in PCT_KEYS},
                    "share_below_grid": self.at_low_end[who],
                    "share_above_grid": self.at_high_end[who],
                }
            )
        return pd.DataFrame(rows)

    def by_baseline_table(self):
        """One row per baseline asked for: the headline figures (medians, P(ahead) of the least-favoured borough)."""
        import pandas as pd

        rows = []
        for entry in self.to_json()["by_baseline"]:
            least = min(entry["boroughs"].items(), key=lambda kv: kv[1]["p_ahead"])
            rows.append(
                {
                    "baseline": entry["time_at_home_counterfactual"],
                    "government_value_p50_gbp": entry[GOVERNMENT_VALUE_GBP]["p50"],
                    "commissioner_net_savings_p50_gbp": entry[COMMISSIONER_NET_SAVINGS_GBP]["p50"],
                    "investor_moic_p50": entry[INVESTOR_MOIC]["p50"],
                    "least_favoured_borough": least[0],
                    "least_p_ahead": least[1]["p_ahead"],
                }
            )
        return pd.DataFrame(rows)


def sweep(s: Scenario, baselines, settings, grid=DEFAULT_GRID, progress=None) -> BaselineSweep:
    """Run ``s`` with its baseline fixed at each of ``baselines`` and of ``grid``, on one seed.

    Parameters
    ----------
    s : Scenario or path-like
    baselines : sequence of float
        Baselines to report [share], each in (0, 1).
    settings : sibmodel.workflows.stress.RunSettings
        Draws, seed, chunk size and workers, the same for every run.
    grid : sequence of float
        Further baselines for the break-even solve [share].
    progress : callable, optional
        Called with a message before each run.

    Returns
    -------
    BaselineSweep
    """
    s = as_scenario(s)
    baselines = [float(b) for b in baselines]
    values = np.unique(np.round(np.concatenate([np.asarray(grid, float), baselines]), 12))
    names = list(s.boroughs)
    wanted = [GOVERNMENT_VALUE_GBP, COMMISSIONER_NET_SAVINGS_GBP, INVESTOR_MOIC] + [
        borough_column(n, NET_SAVINGS_GBP) for n in names
    ]
    per_run = []
    for k, b in enumerate(values):
        if progress:
            progress(f"baseline {b:g} ({k + 1} of {len(values)})")
        r = settings.run(with_fixed_baseline(s, b))
        try:
            per_run.append({c: r.draws[c].to_numpy(dtype=float) for c in wanted})
        finally:
            r.discard()
    columns = {c: np.stack([pr[c] for pr in per_run]) for c in wanted}
    out = BaselineSweep(baselines, values, columns, names, s.metadata.price_year)
    for who in ["all", *names]:
        root, low, high = first_crossing(values, out.net_savings(who))
        out.break_even[who] = root
        out.at_low_end[who] = float(np.mean(low))
        out.at_high_end[who] = float(np.mean(high))
    return out
