"""Results of a run: per-draw table, quarterly bands, summary, and the run folder.

``Results.draws`` is a tidy pandas frame with one row per draw;
``Results.cashflows`` holds, per cash quarter, the mean and 5/50/95% bands of
each quarterly series.  :meth:`Results.summary` gives every headline figure as
``{mean, sd, p5, p50, p95}`` (probabilities as plain numbers), with exact
percentiles over all draws.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .finance import risk_metrics, stats_block
from .referrals import QUARTER_WEEKS
from .scenario import scenario_hash, scenario_to_data
from .schema import Scenario

BANDS = (5, 50, 95)


@dataclass
class Results:
    """Everything a run produced.

    Parameters
    ----------
    scenario : Scenario
    draws : pandas.DataFrame
        One row per draw.
    series : dict of str -> ndarray (draws, quarters)
        Quarterly series per draw [GBP].
    meta : dict
        Seed entropy, draws, hash, version, timings.
    """

    scenario: Scenario
    draws: pd.DataFrame
    series: dict
    meta: dict = field(default_factory=dict)
    occupancy_mean: dict = field(default_factory=dict)

    @classmethod
    def from_chunks(cls, s: Scenario, chunks: list, *, entropy, seed, chunk_size, elapsed_s, workers) -> Results:
        chunks = sorted(chunks, key=lambda c: c.index)
        columns = {k: np.concatenate([c.columns[k] for c in chunks]) for k in chunks[0].columns}
        series = {k: np.concatenate([c.series[k] for c in chunks]) for k in chunks[0].series}
        draws = pd.DataFrame(columns)
        draws.insert(0, "draw", np.arange(len(draws)))
        meta = {
            "seed": seed,
            "seed_entropy": str(entropy),
            "draws": int(len(draws)),
            "chunk_size": int(chunk_size),
            "workers": int(workers),
            "scenario_hash": scenario_hash(s),
            "version": __version__,
            "elapsed_s": round(float(elapsed_s), 3),
        }
        occ = {arm: sum(c.occupancy_sum[arm] for c in chunks) / max(len(draws), 1) for arm in chunks[0].occupancy_sum}
        return cls(s, draws, series, meta, occ)

    # ------------------------------------------------------------------ frames
    @property
    def cashflows(self) -> pd.DataFrame:
        """Per cash quarter: mean and 5/50/95% bands of each quarterly series [GBP]."""
        start = self.scenario.timeline.programme_start
        rows = {}
        n_q = next(iter(self.series.values())).shape[1]
        rows["quarter"] = np.arange(n_q)
        rows["quarter_end"] = [str(start + dt.timedelta(weeks=QUARTER_WEEKS * (q + 1)) - dt.timedelta(days=1)) for q in range(n_q)]
        for name, arr in self.series.items():
            rows[f"{name}_mean"] = arr.mean(axis=0)
            for p, v in zip(BANDS, np.percentile(arr, BANDS, axis=0)):
                rows[f"{name}_p{p}"] = v
            if name == "investor_net_cashflow_gbp":
                cum = np.cumsum(arr, axis=1)
                rows["investor_cumulative_net_cashflow_gbp_mean"] = cum.mean(axis=0)
                for p, v in zip(BANDS, np.percentile(cum, BANDS, axis=0)):
                    rows[f"investor_cumulative_net_cashflow_gbp_p{p}"] = v
        return pd.DataFrame(rows)

    @property
    def occupancy(self) -> pd.DataFrame:
        """Mean number of young people in each state per borough and calendar week, both arms (long format)."""
        states = ["home_never_in_care", "home_after_care"] + [f"in_{k}" for k in self.scenario.care.placements]
        frames = []
        for arm, occ in self.occupancy_mean.items():
            b, w, k = np.meshgrid(np.arange(occ.shape[0]), np.arange(occ.shape[1]), np.arange(occ.shape[2]), indexing="ij")
            frames.append(pd.DataFrame({
                "arm": arm,
                "borough": np.array(list(self.scenario.boroughs))[b.ravel()],
                "week": w.ravel(),
                "state": np.array(states)[k.ravel()],
                "mean_count": occ.ravel(),
            }))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    # ------------------------------------------------------------------ summary
    def summary(self) -> dict:
        """Every headline figure; see the README for the keys."""
        d = self.draws
        s = self.scenario

        def st(col):
            return stats_block(d[col].to_numpy(dtype=float))

        def prob(mask):
            return float(np.mean(mask))

        risk = risk_metrics(d["investor_moic"].to_numpy(float), d["investor_irr_annual"].to_numpy(float))
        out = {
            "outcomes": {
                "starts": st("starts"),
                "weeks_out_of_care": st("weeks_out_of_care"),
                "tracked_weeks": st("tracked_weeks"),
                "time_at_home_share": {"treated": st("time_at_home_share_treated"), "counterfactual": st("time_at_home_share_counterfactual")},
                "care_share": {
                    "treated": stats_block(1 - d["time_at_home_share_treated"].to_numpy(float)),
                    "counterfactual": stats_block(1 - d["time_at_home_share_counterfactual"].to_numpy(float)),
                },
                "entered_care_share": {"treated": st("entered_care_share_treated"), "counterfactual": st("entered_care_share_counterfactual")},
                "placements": {"treated": st("placements_treated"), "counterfactual": st("placements_counterfactual")},
                "breakdowns": {"treated": st("breakdowns_treated"), "counterfactual": st("breakdowns_counterfactual")},
            },
            "contract": {
                "outcome_payments_gbp": st("outcome_payments_gbp"),
                "borough_paid_gbp": st("borough_paid_gbp"),
                "topup_paid_gbp": st("topup_paid_gbp"),
                "uncapped_payments_gbp": st("uncapped_payments_gbp"),
                "p_total_cap_binding": prob(d["uncapped_payments_gbp"] > d["outcome_payments_gbp"] + 0.5),
            },
            "investor": {
                "commitment_gbp": float(s.investment.commitment_gbp.mean()),
                "capital_drawn_peak_gbp": st("investor_capital_drawn_peak_gbp"),
                "capital_drawn_total_gbp": st("investor_capital_drawn_total_gbp"),
                "p_commitment_exceeded": prob(d["investor_commitment_exceeded"]),
                "excess_over_commitment_gbp": st("investor_excess_over_commitment_gbp"),
                "distributions_gbp": st("investor_distributions_total_gbp"),
                "irr": st("investor_irr_annual"),
                "p_total_loss": prob(d["investor_total_loss"]),
                "moic": st("investor_moic"),
                "payback_quarter": st("investor_payback_quarter"),
                **risk,
            },
            "commissioner": {
                "discount_rate_real_annual": s.discounting.real_rate_annual,
                "price_year": s.metadata.price_year,
                "total": self._commissioner_block("commissioner_"),
                "boroughs": {name: self._commissioner_block(f"borough.{name}.") for name in s.boroughs},
            },
            "government": {"value_gbp": st("government_value_gbp"), "value_discounted_gbp": st("government_value_discounted_gbp")},
            "policy": {
                "cost_per_family_gbp": st("cost_per_family_gbp"),
                "weeks_out_of_care_per_start": stats_block(
                    np.divide(d["weeks_out_of_care"].to_numpy(float), d["starts"].to_numpy(float), out=np.full(len(d), np.nan), where=d["starts"].to_numpy() > 0)
                ),
            },
            "meta": dict(self.meta),
        }
        out["validation"] = self.validation(out)
        return out

    def _commissioner_block(self, prefix: str) -> dict:
        d = self.draws
        paid = d[prefix + "outcome_payments_gbp"].to_numpy(float)
        avoided = d[prefix + "care_costs_avoided_gbp"].to_numpy(float)
        net = d[prefix + "net_savings_gbp"].to_numpy(float)
        bcr = np.divide(avoided, paid, out=np.full(len(d), np.nan), where=paid > 0)
        block = {
            "outcome_payments_gbp": stats_block(paid),
            "care_costs_avoided_gbp": stats_block(avoided),
            "net_savings_gbp": stats_block(net),
            "benefit_cost_ratio": stats_block(bcr),
            "p_net_positive": float(np.mean(net > 0)),
        }
        if prefix.startswith("borough."):
            block["starts"] = stats_block(d[prefix + "starts"].to_numpy(float))
        return block

    def validation(self, summary: dict) -> list[dict]:
        """The scenario's ``observed:`` figures against the model's distribution."""
        out = []
        for label, obs in self.scenario.observed.items():
            col = _observed_column(obs.figure)
            x = col(self.draws)
            x = x[np.isfinite(x)]
            p5, p50, p95 = np.percentile(x, BANDS) if x.size else (np.nan,) * 3
            pct = float(np.mean(x < obs.value) + 0.5 * np.mean(x == obs.value)) * 100 if x.size else float("nan")
            out.append(
                {
                    "label": label,
                    "figure": obs.figure,
                    "observed": obs.value,
                    "p5": float(p5),
                    "p50": float(p50),
                    "p95": float(p95),
                    "percentile_of_observed": pct,
                    "inside_p5_p95": bool(p5 <= obs.value <= p95),
                    "calibration_target": obs.calibration_target,
                    "source": obs.source,
                }
            )
        return out

    # ------------------------------------------------------------------ writing
    def manifest(self) -> dict:
        import numpy
        import pydantic
        import scipy

        return {
            **self.meta,
            "scenario": scenario_to_data(self.scenario),
            "versions": {
                "sibmodel": __version__,
                "python": platform.python_version(),
                "numpy": numpy.__version__,
                "scipy": scipy.__version__,
                "pandas": pd.__version__,
                "pydantic": pydantic.__version__,
            },
            "written_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }

    def to_dir(self, path: str | os.PathLike, extra_writers=()) -> Path:
        """Write the run folder atomically: a temporary folder renamed into place.

        Files: ``summary.json``, ``draws.parquet``, ``cashflows.parquet``,
        ``occupancy.parquet`` (mean weekly occupancy by borough and state), ``manifest.json``, plus whatever ``extra_writers`` (callables taking the
        temporary folder) add.  An existing folder at ``path`` is replaced only
        once the new one is complete.
        """
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            summary = self.summary()
            (tmp / "summary.json").write_text(json.dumps(_jsonable(summary), indent=2, allow_nan=True))
            self.draws.to_parquet(tmp / "draws.parquet", index=False)
            self.cashflows.to_parquet(tmp / "cashflows.parquet", index=False)
            self.occupancy.to_parquet(tmp / "occupancy.parquet", index=False)
            (tmp / "manifest.json").write_text(json.dumps(_jsonable(self.manifest()), indent=2))
            for writer in extra_writers:
                writer(tmp, self)
            if target.exists():
                old = target.with_name(f".{target.name}.old")
                if old.exists():
                    shutil.rmtree(old)
                target.rename(old)
                tmp.rename(target)
                shutil.rmtree(old)
            else:
                tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target


def _observed_column(figure: str):
    cols = {
        "outcomes.starts": "starts",
        "outcomes.weeks_out_of_care": "weeks_out_of_care",
        "outcomes.time_at_home_share.treated": "time_at_home_share_treated",
        "outcomes.time_at_home_share.counterfactual": "time_at_home_share_counterfactual",
        "contract.outcome_payments_gbp": "outcome_payments_gbp",
        "government.value_gbp": "government_value_gbp",
    }
    if figure in cols:
        return lambda d: d[cols[figure]].to_numpy(float)
    arm = figure.rsplit(".", 1)[1]
    return lambda d: 1.0 - d[f"time_at_home_share_{arm}"].to_numpy(float)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return None if not np.isfinite(v) else v
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
