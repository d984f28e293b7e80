"""The baseline as an uncertain input (sibmodel/model/counterfactual.py): the arm without therapy is the
care pathway with its home hazards scaled to meet the baseline; the treated arm never moves with it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support import PFP, all_fixed, centers

from sibmodel import load_scenario
from sibmodel.engine.run import simulate
from sibmodel.model.calibrate import center, expected_figures
from sibmodel.model.cohort_model import expected_occupancy, home_occupancy_scaled
from sibmodel.model.counterfactual import _tabulated, baseline_map, map_key, tabulate
from sibmodel.model.hazards import FIRST_PLACEMENT, PathwayParams
from sibmodel.model.pathways import HazardTables, simulate_arms
from sibmodel.scenario.paths import set_path
from sibmodel.scenario.schema import Scenario


def _pathway(n_weeks: int = 60) -> PathwayParams:
    t = np.arange(n_weeks)
    return PathwayParams(
        entry_hazard=0.05 * (1 + (t < 10)),
        reentry_hazard=np.full(n_weeks, 0.02),
        end_prob=np.array([1 / 30, 1 / 20]),
        breakdown_share=np.array([0.5, 0.4]),
        escalation=np.array([[0.6, 0.4], [0.2, 0.8]]),
        entry_mix=np.array([0.7, 0.3]),
        reentry_mix=np.array([0.5, 0.5]),
    )


def test_scaled_chains_equal_one_chain_per_factor():
    """Independent check: each batched chain equals expected_occupancy of the pathway whose home
    hazards are multiplied by the factor (the one-chain product of cohort_model)."""
    pp = _pathway()
    factors = np.array([0.0, 0.3, 1.0, 4.0])
    got = home_occupancy_scaled(pp, factors, 60)
    for f, row in zip(factors, got):
        scaled = PathwayParams(
            pp.entry_hazard * f,
            pp.reentry_hazard * f,
            pp.end_prob,
            pp.breakdown_share,
            pp.escalation,
            pp.entry_mix,
            pp.reentry_mix,
        )
        want = expected_occupancy(scaled, 60)[:, :FIRST_PLACEMENT].sum(axis=1)
        np.testing.assert_allclose(row, want, rtol=0, atol=1e-14)
    assert np.all(got[0] == 1.0)  # no hazard: always at home


def test_map_meets_the_baseline_on_the_cohort_model():
    """The factor the map gives for a share, put back into the exact cohort model, gives that share
    (PCHIP interpolation error under 1e-5); PFP's reference pathway (the 35% business-case projection
    it was calibrated to) has factor 1."""
    s = load_scenario(PFP)
    bmap = baseline_map(s)
    shares = np.array([0.2, 0.35, 0.45, 0.6, 0.8, 0.894, 0.95])
    factors, clamped = bmap.factor(shares)
    assert not clamped.any()
    direct = expected_figures(s, centers(s), factors).time_at_home_counterfactual_scaled
    np.testing.assert_allclose(direct, shares, atol=1e-5)
    reference = expected_figures(s, centers(s)).time_at_home_counterfactual
    assert bmap.factor(reference)[0] == pytest.approx(1.0, abs=1e-4)
    assert np.all(np.diff(factors) < 0)  # more time at home without therapy: less risk


def test_outside_the_reachable_range_is_clamped_and_counted():
    s = load_scenario(PFP)
    bmap = tabulate(s, np.linspace(-2.0, 2.0, 41))
    lo, hi = bmap.reachable
    f, clamped = bmap.factor([lo / 2, (lo + hi) / 2, (1 + hi) / 2])
    assert clamped.tolist() == [True, False, True]
    assert f[0] == pytest.approx(np.exp(2.0)) and f[2] == pytest.approx(np.exp(-2.0))


def test_moving_the_baseline_leaves_the_treated_arm_and_the_investor_unchanged():
    """Common random numbers: when only the baseline moves, every treated-arm figure, payment and
    investor figure is the same bit for bit; everything without therapy moves."""
    runs = {}
    for b in (0.35, 0.8):
        s = load_scenario(PFP, [f"baseline.time_at_home_share={b}"])
        runs[b] = simulate(s, draws=60, seed=11, chunk_size=30).draws
    a, z = runs[0.35], runs[0.8]
    for col in a.columns:
        if col.startswith(
            (
                "investor_",
                "outcome_payments",
                "topup",
                "borough_paid",
                "weeks_home_treated",
                "time_at_home_share_treated",
                "care_cost_treated",
            )
        ) or col.endswith(("outcome_payments_gbp", "care_costs_treated_gbp")):
            np.testing.assert_array_equal(a[col].to_numpy(), z[col].to_numpy(), err_msg=col)
    assert (a["commissioner_care_costs_avoided_gbp"] > z["commissioner_care_costs_avoided_gbp"]).mean() > 0.95
    assert a["time_at_home_share_counterfactual"].mean() < 0.4 < 0.75 < z["time_at_home_share_counterfactual"].mean()


def test_engine_meets_the_baseline_at_fixed_inputs():
    """At fixed inputs the engine's mean time at home without therapy equals the baseline within 5
    standard errors (the map is solved on the exact cohort model), and the implied hazard ratio is
    hazard_ratio / factor in every draw."""
    s = all_fixed(load_scenario(PFP, ["baseline.time_at_home_share=0.6"]))
    r = simulate(s, draws=300, seed=4, chunk_size=150)
    x = r.draws["time_at_home_share_counterfactual"].to_numpy()
    se = x.std(ddof=1) / np.sqrt(x.size)
    assert abs(x.mean() - 0.6) < 5 * se, (x.mean(), se)
    m = r.draws["counterfactual_risk_factor"].to_numpy()
    hr = center(s.interventions["MST"].effect.hazard_ratio)
    np.testing.assert_array_equal(r.draws["implied_hazard_ratio:MST"].to_numpy(), hr / m)
    summary = r.summary()["baseline"]
    assert summary["time_at_home_share"]["p50"] == 0.6 and summary["share_of_draws_clamped"] == 0.0


def test_kernel_first_arm_does_not_depend_on_the_other_arms():
    """simulate_arms with a second stream: the first arm's outcomes are the same whatever the other
    arm's hazards; without it (the earlier rule) they are not."""
    n, horizon = 400, 80
    rng = np.random.default_rng(0)
    scale = np.full(n, 0.03)
    end_prob = np.full((n, 2), 1 / 25)
    brk = np.full((n, 2), 0.5)
    esc = np.array([[0.5, 0.5], [0.5, 0.5]])
    mix = np.array([0.6, 0.4])
    ws, we = np.zeros(n, np.int64), rng.integers(20, horizon, n)

    def first_arm(cf_factor, second_stream):
        entry = np.vstack([np.full(horizon, 0.2), np.full(horizon, cf_factor)])
        tables = HazardTables.from_profiles(entry, entry)
        rows = [np.zeros(n, np.int64), np.ones(n, np.int64)]
        other = np.random.default_rng(2) if second_stream else None
        out = simulate_arms(
            tables,
            rows=rows,
            entry_scale=scale,
            reentry_scale=scale,
            end_prob=end_prob,
            breakdown_share=brk,
            escalation=esc,
            entry_mix=mix,
            reentry_mix=mix,
            window_start=ws,
            window_end=we,
            rng=np.random.default_rng(1),
            rng_other=other,
        )
        return pd.DataFrame({"home": out[0].weeks_home, "place": out[0].n_placements, "brk": out[0].n_breakdowns})

    pd.testing.assert_frame_equal(first_arm(1.0, True), first_arm(3.0, True))
    assert not first_arm(1.0, False).equals(first_arm(3.0, False))


def _variant(s: Scenario, changes: dict) -> Scenario:
    """A copy of ``s`` with each dotted path set to its value."""
    data = s.model_dump(by_alias=True)
    for path, value in changes.items():
        set_path(data, path, value, create=True)
    return Scenario.model_validate(data)


#: One change to every kind of field the map's key leaves out (counterfactual._NOT_READ, and sources).
_NOT_MAP_INPUTS = {
    "metadata.name": "renamed",
    "discounting.real_rate_annual": 0.05,
    "investment.commitment_gbp": {"value": 3e6},
    "correlations": [{"inputs": ("care.entry.prob", "care.reentry.prob"), "rank_corr": 0.5}],
    "baseline.time_at_home_share": {"value": 0.6},
    "sampling.method": "lhs",
    "contract.tariffs.0.payment_per_week_gbp": {"value": 300.0},
    "contract.caps.total_gbp": 5e6,
    "contract.topup.share": 0.3,
    "contract.payment_lag_quarters": 3,
    "boroughs.Bexley.weekly_care_cost_gbp": {"foster": 900.0},
    "interventions.MST.description": "changed",
    "interventions.MST.effect.hazard_ratio": {"dist": "lognormal", "median": 0.2, "sigma": 0.1},
    "interventions.FFT.effect.fade_weeks": 30,
    "interventions.FFT.completion": {"share": 0.8, "noncompleter_effect_share": 0.5},
    "interventions.MST.delivery.team_cost_per_quarter_gbp": {"value": 1.0},
    "care.placements.foster.weekly_cost_gbp": {"value": 1.0},
    "care.entry.source": "another source",
    # the spread of an input the map reads, its central value kept (a log-normal's median)
    "referrals.volume_multiplier": {"dist": "lognormal", "median": 1.0, "sigma": 0.4},
}


def test_map_cache_hits_only_when_no_input_of_the_map_changes(pfp):
    """Changing only fields the map does not depend on hits the cache, and a fresh tabulation of that
    variant (no cache) is the cached map bit for bit: the independent check that the fields left out of
    the key are not inputs of the map.  Changing an input of the care model misses and gives another map."""
    _tabulated.cache_clear()
    base = baseline_map(pfp)
    assert _tabulated.cache_info().misses == 1
    other = _variant(pfp, _NOT_MAP_INPUTS)
    assert map_key(other) == map_key(pfp)
    assert baseline_map(other) is base
    assert _tabulated.cache_info().hits == 1
    fresh = tabulate(other)
    np.testing.assert_array_equal(fresh.log_factor, base.log_factor)
    np.testing.assert_array_equal(fresh.share, base.share)

    changed = {
        "care.entry.prob": {"dist": "beta", "mean": 0.8, "sd": 0.05},
        "care.reentry.prob": {"dist": "beta", "mean": 0.3, "sd": 0.05},
        "care.placements.secure.mean_duration_weeks": {"dist": "triangular", "low": 20.0, "mode": 45.0, "high": 64.51},
        "care.placements.foster.breakdown_share": {"dist": "beta", "mean": 0.55, "sd": 0.05},
        "boroughs.Haringey.starts.per_quarter": {"value": 5.0},
        "interventions.MST.therapy_weeks": 26,  # moves every MST tracking window
    }
    for n, (path, value) in enumerate(changed.items(), start=2):
        v = _variant(pfp, {path: value})
        assert map_key(v) != map_key(pfp), path
        got = baseline_map(v)
        assert _tabulated.cache_info().misses == n, path
        assert not np.array_equal(got.share, base.share), path
    assert baseline_map(pfp) is base  # still held (least recently used goes first, 32 held)
    assert _tabulated.cache_info().misses == len(changed) + 1


def test_map_key_is_exact():
    """A change in the last bit of a central value, or in its sign at zero, is a different key."""
    s = load_scenario(PFP)
    x = center(s.care.entry.prob)
    nudged = _variant(s, {"care.entry.prob": {"value": float(np.nextafter(x, 1.0))}})
    same = _variant(s, {"care.entry.prob": {"value": x}})
    assert map_key(same) == map_key(s) != map_key(nudged)
    zero = _variant(s, {"care.cohort_spread.entry_logit_sd": 0.0})
    assert map_key(zero) != map_key(_variant(s, {"care.cohort_spread.entry_logit_sd": -0.0}))
