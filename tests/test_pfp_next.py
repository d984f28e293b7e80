"""scenarios/pfp_next.yaml, a programme of PFP's design starting in April 2027, and `sibmodel join` on it.

The scenario's claims are checked against pfp.yaml by hand arithmetic: every money figure is pfp.yaml's
times one price factor, 1.28 (ONS CPIH annual averages, 2024 / 2017, about 132.6 / 103.6; the index
values are the scenario's stated assumption), rounded to the pound; the timeline and the boroughs' join
dates keep PFP's intervals in whole months. That one common factor leaves every ratio unchanged is a
property of the model, tested by scaling all money by 2.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from support import PFP, invoke, scenario_file

from sibmodel import load_scenario
from sibmodel.engine.run import simulate
from sibmodel.workflows.join import candidate_block, with_borough

PFP_NEXT = scenario_file("pfp_next.yaml")
#: ONS CPIH annual average 2024 / 2017 (2015 = 100), as the scenario states it.
PRICE_FACTOR = 1.28


@pytest.fixture(scope="module")
def both():
    return load_scenario(PFP), load_scenario(PFP_NEXT)


def _money(s) -> dict[str, float]:
    """Every money figure of a PFP-shaped scenario [GBP, GBP/week or GBP/quarter], by name."""
    out = {f"weekly_cost_gbp.{k}": float(p.weekly_cost_gbp.value) for k, p in s.care.placements.items()}
    out["tariff_per_week"] = float(s.contract.tariffs[0].payment_per_week_gbp.value)
    out["cap_total"] = float(s.contract.caps.total_gbp)
    out["commitment"] = float(s.investment.commitment_gbp.value)
    fees = s.investment.fees
    out |= {
        "management_fee": fees.management_fee_per_quarter_gbp.value,
        "evaluation_fee": fees.evaluation_fee_gbp.value,
        "setup_cost": fees.setup_cost_gbp.value,
    }
    for name, iv in s.interventions.items():
        out[f"{name}.team_cost_median"] = float(iv.delivery.team_cost_per_quarter_gbp.median)
        out[f"{name}.variable_cost_median"] = float(iv.delivery.variable_cost_per_family_gbp.median)
        for tname, team in iv.delivery.teams.items():
            if team.cost_per_quarter_gbp is not None:
                out[f"{tname}.cost_median"] = float(team.cost_per_quarter_gbp.median)
    return out


def test_every_money_figure_is_pfps_times_the_price_index(both):
    pfp, nxt = both
    old, new = _money(pfp), _money(nxt)
    assert old.keys() == new.keys() and len(old) >= 12
    for key, value in old.items():
        assert new[key] == pytest.approx(round(value * PRICE_FACTOR), abs=0.5), key
    assert nxt.metadata.price_year == 2024


def test_no_top_up_and_no_published_figures(both):
    _, nxt = both
    assert nxt.contract.topup.share == 0 and nxt.contract.topup.max_gbp is None
    assert nxt.observed == {}


def _months(a: dt.date, b: dt.date) -> int:
    """Whole calendar months from the month of ``a`` to the month of ``b``, inclusive."""
    return (b.year - a.year) * 12 + b.month - a.month + 1


def test_timeline_starts_in_april_2027_with_pfps_durations(both):
    pfp, nxt = both
    t0, t1 = pfp.timeline, nxt.timeline
    assert t1.programme_start == dt.date(2027, 4, 1)
    # PFP: referrals Feb 2018 - Apr 2023 (63 months), results at Aug 2023 (67 months)
    assert _months(t0.programme_start, t0.referrals_close) == _months(t1.programme_start, t1.referrals_close) == 63
    assert _months(t0.programme_start, t0.contract_end) == _months(t1.programme_start, t1.contract_end) == 67


def test_boroughs_join_at_pfps_intervals(both):
    pfp, nxt = both
    assert list(nxt.boroughs) == list(pfp.boroughs) and len(nxt.boroughs) == 10
    for name in pfp.boroughs:
        assert _months(pfp.timeline.programme_start, pfp.boroughs[name].join_date) == _months(
            nxt.timeline.programme_start, nxt.boroughs[name].join_date
        ), name
        assert nxt.boroughs[name].starts == pfp.boroughs[name].starts


def test_one_price_factor_moves_no_ratio_or_probability(both):
    """The scenario's claim: scaling every money figure by one factor (here 2) leaves the investor's
    multiple and each borough's benefit-cost ratio unchanged draw by draw, and doubles the pounds."""
    _, nxt = both
    sets = [
        f"care.placements.{k}.weekly_cost_gbp={2 * p.weekly_cost_gbp.value}" for k, p in nxt.care.placements.items()
    ]
    sets += [
        f"contract.tariffs.0.payment_per_week_gbp={2 * nxt.contract.tariffs[0].payment_per_week_gbp.value}",
        f"contract.caps.total_gbp={2 * nxt.contract.caps.total_gbp}",
        f"investment.commitment_gbp={2 * nxt.investment.commitment_gbp.value}",
        "investment.fees.management_fee_per_quarter_gbp="
        f"{2 * nxt.investment.fees.management_fee_per_quarter_gbp.value}",
        f"investment.fees.evaluation_fee_gbp={2 * nxt.investment.fees.evaluation_fee_gbp.value}",
        f"investment.fees.setup_cost_gbp={2 * nxt.investment.fees.setup_cost_gbp.value}",
    ]
    for name, iv in nxt.interventions.items():
        d = iv.delivery
        sets += [
            f"interventions.{name}.delivery.team_cost_per_quarter_gbp.median={2 * d.team_cost_per_quarter_gbp.median}",
            f"interventions.{name}.delivery.variable_cost_per_family_gbp.median="
            f"{2 * d.variable_cost_per_family_gbp.median}",
        ]
        sets += [
            f"interventions.{name}.delivery.teams.{t}.cost_per_quarter_gbp.median="
            f"{2 * team.cost_per_quarter_gbp.median}"
            for t, team in d.teams.items()
            if team.cost_per_quarter_gbp is not None
        ]
    doubled = load_scenario(PFP_NEXT, overrides=sets)
    assert _money(doubled) == {k: 2 * v for k, v in _money(nxt).items()}
    a, b = (simulate(x, draws=60, seed=3, chunk_size=60).draws for x in (nxt, doubled))
    np.testing.assert_allclose(b["investor_moic"], a["investor_moic"], rtol=1e-9)
    np.testing.assert_allclose(b["outcome_payments_gbp"], 2 * a["outcome_payments_gbp"], rtol=1e-9)
    for name in nxt.boroughs:
        np.testing.assert_allclose(
            b[f"borough.{name}.net_savings_gbp"], 2 * a[f"borough.{name}.net_savings_gbp"], rtol=1e-9, atol=1e-6
        )


def test_join_pfp_next_with_defaults(tmp_path):
    """Issue 17's acceptance command: exits 0, writes manifest.json with the seed, and prints what it
    assumed -- the join date copied from the first borough (Bexley, 2027-04-01 in pfp_next.yaml), its
    mix, its teams."""
    out = tmp_path / "join"
    r = invoke(
        "join", PFP_NEXT, "--borough", "Croydon", "--starts-per-quarter", 3, "--draws", 300, "--seed", 1, "--out", out
    )
    assert r.exit_code == 0, r.output
    assert json.loads((out / "manifest.json").read_text())["seed"] == 1
    text = " ".join(r.output.split())
    assert "join date: 2027-04-01 copied from Bexley (the first borough; --like chooses another)" in text
    assert "the scenario allows 2027-04-01 to before 2032-06-30" in text
    assert "expected starts: 3 a quarter given (--starts-per-quarter)" in text
    assert "intervention mix: MST 50%, FFT 50% copied from Bexley" in text
    assert "MST team: Family Action MST" in text and "FFT team: Family Psychology Mutual FFT" in text
    assert "weekly cost, foster [GBP]: 827 the scenario's care.placements.foster.weekly_cost_gbp" in text
    assert (out / "join_assumptions.csv").is_file()


def test_join_like_and_flags_are_named_as_their_origin(tmp_path):
    r = invoke(
        "join",
        PFP_NEXT,
        "--borough",
        "Croydon",
        "--like",
        "Haringey",
        "--join",
        "2029-01-01",
        "--care-cost",
        "foster=900",
        "--no-break-even",
        "--draws",
        20,
        "--seed",
        1,
        "--out",
        tmp_path / "j",
    )
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "join date: 2029-01-01 given (--join)" in text
    assert "intervention mix: FFT 100% copied from Haringey" in text  # Haringey is FFT only (pfp.yaml)
    assert "weekly cost, foster [GBP]: 900 given (--care-cost)" in text
    assert "MST team" not in text


def test_join_window_comes_from_the_scenario(both, tmp_path):
    """A 2030 join is inside pfp_next's referral window and outside pfp.yaml's (which closed 2023-04-30)."""
    pfp, nxt = both
    joined = with_borough(nxt, "Croydon", candidate_block(nxt, "Croydon", join_date=dt.date(2030, 1, 1)))
    assert joined.boroughs["Croydon"].join_date == dt.date(2030, 1, 1)
    r = invoke(
        "join",
        PFP,
        "--borough",
        "Croydon",
        "--join",
        "2030-01-01",
        "--no-break-even",
        "--draws",
        20,
        "--seed",
        1,
        "--out",
        tmp_path / "old",
    )
    assert r.exit_code == 2, r.output
    assert "boroughs.Croydon.join_date" in r.output and "referrals_close 2023-04-30" in r.output
    assert "Traceback" not in r.output
