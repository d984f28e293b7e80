"""The stress scenarios say what they claim relative to pfp.yaml (so they cannot drift from it).

A stress file repeats a base value times a factor (YAML cannot compute); these tests recompute
the factor from the base scenario, so a recalibration of pfp.yaml that is not carried into the
stress files fails here.
"""

from __future__ import annotations

import math

import pytest
from support import PFP, scenario_file

from sibmodel import load_scenario
from sibmodel.model.calibrate import center

BASE = load_scenario(PFP)


def _stress(name):
    return load_scenario(scenario_file(f"stress/{name}.yaml"))


def test_effect_halved_is_half_the_log_hazard_ratio():
    s = _stress("effect_halved")
    for iv in ("MST", "FFT"):
        base = center(BASE.interventions[iv].effect.hazard_ratio)
        got = center(s.interventions[iv].effect.hazard_ratio)
        assert math.log(got) == pytest.approx(0.5 * math.log(base), rel=2e-3), iv


def _scaled_by(got, base, factor):
    """``got`` is ``base`` with its centre times ``factor`` and the same shape (spread on the log scale)."""
    assert center(got) == pytest.approx(factor * center(base))
    assert type(got) is type(base)
    if hasattr(base, "log_params"):
        assert got.log_params()[1] == pytest.approx(base.log_params()[1])


def test_delivery_costs_plus25():
    s = _stress("delivery_costs_plus25")
    for iv in ("MST", "FFT"):
        b, t = BASE.interventions[iv].delivery, s.interventions[iv].delivery
        _scaled_by(t.team_cost_per_quarter_gbp, b.team_cost_per_quarter_gbp, 1.25)
        _scaled_by(t.variable_cost_per_family_gbp, b.variable_cost_per_family_gbp, 1.25)
        for name, team in b.teams.items():
            if team.cost_per_quarter_gbp is not None:
                _scaled_by(t.teams[name].cost_per_quarter_gbp, team.cost_per_quarter_gbp, 1.25)


def test_referrals_minus30():
    s = _stress("referrals_minus30")
    assert center(s.referrals.volume_multiplier) == pytest.approx(0.7 * center(BASE.referrals.volume_multiplier))


def test_payments_year_late_and_no_topup():
    assert _stress("payments_year_late").contract.payment_lag_quarters == BASE.contract.payment_lag_quarters + 4
    assert _stress("no_topup").contract.topup.share == 0.0


def test_borough_leaves_after_a_year():
    s = _stress("borough_leaves")
    b = s.boroughs["Newham"]
    assert (b.leave_date - b.join_date).days == 365


def test_no_effect_pays_the_investor_but_saves_nothing():
    """No effect (START): value to government about zero, boroughs' net savings about minus their
    (discounted) payments, and the investor's draws exactly as in the base case (payments depend
    only on the treated arm, which the baseline does not move)."""
    from sibmodel.engine.run import simulate

    base = simulate(BASE, draws=200, seed=8, chunk_size=100).draws
    s = _stress("no_effect")
    assert center(s.baseline.time_at_home_share) == 0.894
    d = simulate(s, draws=200, seed=8, chunk_size=100).draws
    assert abs(d["government_value_gbp"].median()) < 0.05 * base["government_value_gbp"].median()
    paid = d["commissioner_outcome_payments_gbp"].median()
    assert d["commissioner_net_savings_gbp"].median() == pytest.approx(-paid, rel=0.1)
    for col in ("investor_moic", "outcome_payments_gbp", "weeks_out_of_care"):
        assert d[col].equals(base[col]), col


def test_pay_only_before_care_changes_only_the_contract_switch():
    s = _stress("pay_only_before_care")
    assert len(s.contract.tariffs) == len(BASE.contract.tariffs) == 1
    base, got = BASE.contract.tariffs[0], s.contract.tariffs[0]
    assert base.pay_weeks_after_return_from_care and not got.pay_weeks_after_return_from_care
    assert center(got.payment_per_week_gbp) == center(base.payment_per_week_gbp)
