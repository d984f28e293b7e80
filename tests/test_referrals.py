"""Referrals: expected starts, join/leave dates, ramp-up, team capacity, cohorts."""

from __future__ import annotations

import numpy as np
import pytest
from support import PFP, scenario_file

from sibmodel.model.referrals import (
    QUARTER_WEEKS,
    Calendar,
    People,
    _binomial,
    borough_active_weeks,
    draw_starts,
    expected_starts,
    expected_starts_profile,
    team_groups,
)
from sibmodel.model.sampling import sample_inputs, stream
from sibmodel.scenario.load import apply_overrides, resolve, validate_data
from sibmodel.scenario.schema import iter_quantities


def _load(*sets):
    return validate_data(apply_overrides(resolve(PFP), list(sets)), PFP)


def _people(s, n=2000, seed=1):
    p = sample_inputs(dict(iter_quantities(s)), [], n, seed, 0)
    return p, draw_starts(s, p, stream(seed, 0, "referrals"), stream(seed, 0, "weeks"))


def test_total_mode_hits_expected_total():
    """starts.total is spread over the active quarters so that its expectation is the total."""
    s = _load("referrals.volume_multiplier=1", "boroughs.Bexley.starts={total: 80, ramp_up_quarters: 3}")
    p, _ = _people(s, 10)
    assert expected_starts(s, p)[0, 0].sum() == pytest.approx(80.0, rel=1e-12)


def test_poisson_mean_and_variance():
    """Without dispersion, starts per borough-quarter are Poisson: mean = variance (within 5 SE)."""
    s = _load("referrals.volume_multiplier=1", "boroughs.Bexley.starts={per_quarter: 3.0}",
              "interventions.MST.delivery.team_capacity_families_per_quarter=null")
    p, ppl = _people(s, 20000)
    x = ppl.counts[:, 0].sum(axis=1)[:, 10]  # Bexley, quarter 10: a full active quarter
    assert abs(x.mean() - 3.0) < 5 * np.sqrt(3.0 / x.size)
    assert abs(x.var() - 3.0) < 5 * 3.0 * np.sqrt(2 / x.size) + 0.05


def test_negative_binomial_variance():
    """Gamma-Poisson with size k: variance = mu + mu^2 / k."""
    s = _load("referrals.volume_multiplier=1", "boroughs.Bexley.starts={per_quarter: 3.0, dispersion: 2}",
              "interventions.MST.delivery.team_capacity_families_per_quarter=null")
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


# --- the same draws as the plain numpy version -----------------------------------------------


def _draw_starts_reference(s, params, rng_counts, rng_weeks):
    """draw_starts as first written (one numpy call per step over every cell), kept as the reference:
    gamma(k, 1.0), Poisson, sequential binomials over all cells, a hypergeometric per team member over
    every draw x quarter, then np.repeat / np.unravel_index and the weeks."""
    mu = expected_starts(s, params)
    n_d, n_b, n_q = mu.shape
    disp = np.array([b.starts.dispersion if b.starts.dispersion is not None else np.inf for b in s.boroughs.values()])
    lam = mu.copy()
    nb = np.isfinite(disp)
    if nb.any():
        k = disp[nb][None, :, None]
        lam[:, nb, :] = rng_counts.gamma(k, 1.0, size=mu[:, nb, :].shape) * mu[:, nb, :] / k
    total = rng_counts.poisson(lam)
    inames = list(s.interventions)
    n_i = len(inames)
    mix = np.array([[b.intervention_mix.get(i, 0.0) for i in inames] for b in s.boroughs.values()])
    counts = np.zeros((n_d, n_b, n_i, n_q), dtype=np.int64)
    remaining = total.copy()
    left = np.ones(n_b)
    for ii in range(n_i):
        p = np.clip(np.divide(mix[:, ii], left, out=np.zeros(n_b), where=left > 1e-12), 0.0, 1.0)
        x = rng_counts.binomial(remaining, p[None, :, None])
        counts[:, :, ii, :] = x
        remaining = remaining - x
        left = left - mix[:, ii]
    for ii, members, cap, _ in team_groups(s):
        if cap is None:
            continue
        sub = counts[:, members, ii, :]
        cap_i = int(np.floor(cap))
        tot = sub.sum(axis=1)
        if not (tot > cap_i).any():
            continue
        kept = np.zeros_like(sub)
        pool = tot.copy()
        want = np.minimum(tot, cap_i)
        for j in range(len(members)):
            good = sub[:, j, :]
            take = rng_counts.hypergeometric(good, pool - good, want)
            kept[:, j, :] = take
            pool = pool - good
            want = want - take
        counts[:, members, ii, :] = kept
    flat = counts.ravel()
    idx = np.repeat(np.arange(flat.size), flat)
    d, b, i, q = np.unravel_index(idx, counts.shape)
    active = borough_active_weeks(s)
    lo = np.maximum(q * QUARTER_WEEKS, active[b, 0])
    hi = np.maximum(np.minimum((q + 1) * QUARTER_WEEKS, active[b, 1]), lo + 1)
    week = lo + np.floor(rng_weeks.random(idx.size) * (hi - lo)).astype(np.int64)
    return People(d, b, i, q, (b * n_i + i) * n_q + q, week, counts)


@pytest.mark.parametrize(
    "sets",
    [
        [],
        ["boroughs.Bexley.intervention_mix={MST: 0.3, FFT: 0.7}", "boroughs.Newham.intervention_mix={MST: 0.1, FFT: 0.9}"],
        ["boroughs.Bexley.intervention_mix={FFT: 0.6, MST: 0.4}", "boroughs.Newham.starts.dispersion=null"],
        # over capacity most of the time, with samples of 10 or more (numpy's other hypergeometric method)
        ["referrals.volume_multiplier=4", "interventions.MST.delivery.teams.Family Action MST.capacity_families_per_quarter=2",
         "interventions.FFT.delivery.teams.Family Psychology Mutual FFT.capacity_families_per_quarter=12.5"],
        ["referrals.volume_multiplier=0.3", "boroughs.Newham.leave_date=2019-02-01"],
        ["interventions.FFT.delivery.teams.Family Psychology Mutual FFT.capacity_families_per_quarter=1000"],  # never over capacity
        ["referrals.volume_multiplier=0.0001"],  # hardly any starts, often none in a chunk
    ],
)
def test_draw_starts_bit_identical_to_reference(sets):
    """Every start, week and count, and the state of both streams afterwards, as the plain numpy version."""
    s = _load(*sets)
    for seed, n in ((1, 500), (2, 37), (3, 1)):
        params = sample_inputs(dict(iter_quantities(s)), [], n, seed, 0)
        streams = [(stream(seed, 0, "referrals"), stream(seed, 0, "weeks")) for _ in range(2)]
        ours = draw_starts(s, params, *streams[0])
        ref = _draw_starts_reference(s, params, *streams[1])
        for field in ("draw", "borough", "intervention", "quarter", "cohort", "referral_week", "counts"):
            a, b = getattr(ours, field), getattr(ref, field)
            assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), field
        for r_ours, r_ref in zip(streams[0], streams[1]):
            assert r_ours.bit_generator.state == r_ref.bit_generator.state


def test_draw_starts_bit_identical_on_a_single_intervention_scenario():
    s = validate_data(resolve(scenario_file("essex/essex_mst.yaml")), scenario_file("essex/essex_mst.yaml"))
    params = sample_inputs(dict(iter_quantities(s)), [], 300, 5, 2)
    ours = draw_starts(s, params, stream(5, 2, "r"), stream(5, 2, "w"))
    ref = _draw_starts_reference(s, params, stream(5, 2, "r"), stream(5, 2, "w"))
    assert ours.referral_week.tobytes() == ref.referral_week.tobytes()
    assert ours.counts.tobytes() == ref.counts.tobytes() and ours.cohort.tobytes() == ref.cohort.tobytes()


@pytest.mark.parametrize("buffered", [False, True])
def test_binomial_shortcut_same_values_and_stream_state(buffered):
    """Probabilities of only 0 and 1 skip the draws: the values and the generator's state afterwards
    (including PCG64's buffered 32-bit half) equal numpy's binomial; other probabilities use numpy."""
    rng = np.random.default_rng(11)
    for p in ([0.0, 1.0, 1.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [0.5, 1.0, 0.0], [0.3, 0.7, 0.999]):
        p = np.array(p)
        n = rng.poisson(rng.random((40, 3, 7)) * 3)
        a, b = np.random.default_rng(7), np.random.default_rng(7)
        if buffered:
            a.integers(0, 10), b.integers(0, 10)  # leaves half of a 64-bit output buffered
        ours = _binomial(a, n, p)
        ref = b.binomial(n, p[None, :, None])
        assert ours.dtype == ref.dtype and ours.tobytes() == ref.tobytes()
        assert a.bit_generator.state == b.bit_generator.state
        assert a.random() == b.random() and a.integers(0, 2**40) == b.integers(0, 2**40)
