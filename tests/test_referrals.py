"""Referrals: expected starts, join/leave dates, ramp-up, team capacity, cohorts."""

from __future__ import annotations

import numpy as np
import pytest
from support import PFP

from sibmodel.model.referrals import (
    QUARTER_WEEKS,
    Calendar,
    draw_starts,
    expected_starts,
    expected_starts_profile,
)
from sibmodel.model.sampling import sample_inputs
from sibmodel.scenario.load import apply_overrides, resolve, validate_data
from sibmodel.scenario.schema import iter_quantities


def without_borough(data: dict, name: str):
    """A resolved scenario's data without one borough (and without it in any team), validated."""
    del data["boroughs"][name]
    for iv in data["interventions"].values():
        for team in (iv["delivery"].get("teams") or {}).values():
            team["boroughs"] = [b for b in team["boroughs"] if b != name]
    return validate_data(data, PFP)


def _load(*sets):
    return validate_data(apply_overrides(resolve(PFP), list(sets)), PFP)


#: PFP's team capacities lifted far above any quarter's starts.
LIFT_CAPACITY = [
    "interventions.MST.delivery.team_capacity_families_per_quarter=100000",
    "interventions.FFT.delivery.team_capacity_families_per_quarter=100000",
    "interventions.FFT.delivery.teams.Family Psychology Mutual FFT.capacity_families_per_quarter=100000",
]


def _people(s, n=2000, seed=1):
    p = sample_inputs(dict(iter_quantities(s)), [], n, n, seed)
    return p, draw_starts(s, p, np.arange(n), seed)


def test_total_mode_hits_expected_total():
    """starts.total is spread over the active quarters so that its expectation is the total."""
    s = _load("referrals.volume_multiplier=1", "boroughs.Bexley.starts={total: 80, ramp_up_quarters: 3}")
    p, _ = _people(s, 10)
    assert expected_starts(s, p)[0, 0].sum() == pytest.approx(80.0, rel=1e-12)


def test_poisson_mean_and_variance():
    """Without dispersion, starts per borough-quarter are Poisson: mean = variance (within 5 SE)."""
    s = _load(
        "referrals.volume_multiplier=1",
        "boroughs.Bexley.starts={per_quarter: 3.0}",
        "interventions.MST.delivery.team_capacity_families_per_quarter=null",
    )
    p, ppl = _people(s, 20000)
    x = ppl.counts[:, 0].sum(axis=1)[:, 10]  # Bexley, quarter 10: a full active quarter
    assert abs(x.mean() - 3.0) < 5 * np.sqrt(3.0 / x.size)
    assert abs(x.var() - 3.0) < 5 * 3.0 * np.sqrt(2 / x.size) + 0.05


def test_negative_binomial_variance():
    """Gamma-Poisson with size k: variance = mu + mu^2 / k."""
    s = _load(
        "referrals.volume_multiplier=1",
        "boroughs.Bexley.starts={per_quarter: 3.0, dispersion: 2}",
        "interventions.MST.delivery.team_capacity_families_per_quarter=null",
    )
    _, ppl = _people(s, 40000)
    x = ppl.counts[:, 0].sum(axis=1)[:, 10]
    assert abs(x.var() - (3 + 9 / 2)) < 0.35


def test_join_leave_and_ramp():
    s = _load("boroughs.Newham.leave_date=2019-02-01")
    prof = expected_starts_profile(s)
    names = list(s.boroughs)
    cal = Calendar.of(s)
    newham = prof[names.index("Newham")]
    leave_week = (s.boroughs["Newham"].leave_date - s.timeline.programme_start).days // 7
    assert newham[leave_week // QUARTER_WEEKS + 1 :].sum() == 0
    hay = prof[names.index("Haringey")]
    join_q = ((s.boroughs["Haringey"].join_date - s.timeline.programme_start).days // 7) // QUARTER_WEEKS
    assert hay[:join_q].sum() == 0
    assert hay[join_q + 3 :].max() == 1.0 and hay[join_q + 1] < 1.0  # two-quarter ramp-up
    assert prof.shape == (10, cal.n_referral_quarters)


def test_people_respect_dates_and_capacity():
    s = _load("interventions.MST.delivery.teams.Family Action MST.capacity_families_per_quarter=2")
    _, ppl = _people(s, 500)
    names = list(s.boroughs)
    fa = [names.index(b) for b in ("Newham", "Tower Hamlets", "Bexley")]
    mst = list(s.interventions).index("MST")
    assert ppl.counts[:, fa, mst, :].sum(axis=1).max() <= 2
    for bi, b in enumerate(s.boroughs.values()):
        w = ppl.referral_week[ppl.borough == bi]
        assert (w >= (b.join_date - s.timeline.programme_start).days // 7).all()
    assert (ppl.referral_week < Calendar.of(s).referral_end_week).all()
    assert (ppl.referral_week // QUARTER_WEEKS == ppl.quarter).all()
    # intervention mix: the later boroughs are FFT only
    late = names.index("Haringey")
    assert ppl.counts[:, late, mst].sum() == 0


# --- counter-based draws: distributions, and each borough's starts its own ---------------------------------


def test_intervention_mix_is_multinomial():
    """Each start picks its intervention by the borough's mix: Bexley at MST 0.3 / FFT 0.7 gives a binomial
    share of MST starts (within 5 SE of 0.3)."""
    s = _load("boroughs.Bexley.intervention_mix={MST: 0.3, FFT: 0.7}", *LIFT_CAPACITY)
    _, ppl = _people(s, 3000)
    bex = list(s.boroughs).index("Bexley")
    n = ppl.counts[:, bex].sum()
    share = ppl.counts[:, bex, list(s.interventions).index("MST")].sum() / n
    assert abs(share - 0.3) < 5 * np.sqrt(0.3 * 0.7 / n)


def test_capacity_keeps_a_uniform_subset_and_moves_nobody_else():
    """Over capacity, the kept starts are a uniformly random subset of the team's starts (the multivariate
    hypergeometric draw): each member borough keeps, on average, capacity x its share of the cell's starts.
    The kept people are the same people (draw, quarter, index) as without the capacity, and a cell
    within capacity is untouched."""
    team = "interventions.MST.delivery.teams.Family Action MST.capacity_families_per_quarter"
    s_cap = _load("referrals.volume_multiplier=3", f"{team}=4")
    s_free = _load("referrals.volume_multiplier=3", f"{team}=100000")
    _, capped = _people(s_cap, 800)
    _, free = _people(s_free, 800)
    names = list(s_cap.boroughs)
    fa = [names.index(b) for b in ("Newham", "Tower Hamlets", "Bexley")]
    mst = list(s_cap.interventions).index("MST")
    before = free.counts[:, fa, mst, :]  # (D, 3, Q)
    after = capped.counts[:, fa, mst, :]
    tot = before.sum(axis=1)
    over = tot > 4
    assert over.mean() > 0.3
    expected = 4 * before / np.maximum(tot, 1)[:, None, :]  # hypergeometric mean per member
    for j in range(3):
        got, exp = after[:, j][over].sum(), expected[:, j][over].sum()
        assert abs(got - exp) < 5 * np.sqrt(exp) + 1
    assert np.array_equal(after.transpose(0, 2, 1)[~over], before.transpose(0, 2, 1)[~over])
    ident = lambda p: set(zip(p.draw_id.tolist(), p.borough.tolist(), p.quarter.tolist(), p.index.tolist()))  # noqa: E731
    assert ident(capped) < ident(free)


def test_a_boroughs_starts_do_not_depend_on_the_other_boroughs():
    """Removing a borough leaves every other borough's starts, weeks and completion uniforms the same (no
    team capacity binding): each borough's numbers come from its own key."""
    full = _load(*LIFT_CAPACITY)
    less = without_borough(apply_overrides(resolve(PFP), LIFT_CAPACITY), "Haringey")
    _, a = _people(full, 200)
    _, b = _people(less, 200)
    names_a, names_b = list(full.boroughs), list(less.boroughs)
    for bn in names_b:
        ia, ib = a.borough == names_a.index(bn), b.borough == names_b.index(bn)
        for field in ("draw_id", "intervention", "quarter", "index", "referral_week", "completion_u"):
            assert np.array_equal(getattr(a, field)[ia], getattr(b, field)[ib]), (bn, field)
