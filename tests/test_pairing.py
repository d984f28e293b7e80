"""Pairing (issue 16): a draw's numbers depend on the seed, its index and the run's size only.

Chunks, workers and the other boroughs do not move them; only the couplings the model has
(shared team capacity, the caps and the top-up limit, and the baseline of the arm without
therapy, which is set for the whole programme) do.  Every check compares two runs of the
model with each other, never with a stored number.
"""

from __future__ import annotations

import numpy as np
import pytest
from support import PFP
from test_referrals import LIFT_CAPACITY, without_borough

from sibmodel.engine.chunk import run_draws
from sibmodel.engine.run import simulate
from sibmodel.scenario.load import apply_overrides, resolve, validate_data
from sibmodel.scenario.schema import iter_quantities

#: No total cap and no top-up limit.
NO_CAPS = ["contract.caps.total_gbp=null", "contract.topup.max_gbp=null"]


def _pfp(*sets):
    return validate_data(apply_overrides(resolve(PFP), list(sets)), PFP)


def _entropy(seed: int):
    return np.random.SeedSequence(seed).entropy


def _borough_columns(cols: dict, boroughs) -> list[str]:
    return [c for c in cols if c.startswith("borough.") and c.split(".")[1] in boroughs]


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("method", ["random", "lhs"])
def test_chunk_size_does_not_change_draws(method):
    """Chunk sizes 100 and 250 (and one chunk) give the same draws.parquet content, bit for bit, with plain
    and Latin hypercube sampling (the hypercube is over the whole run)."""
    s = _pfp(f"sampling.method={method}")
    frames = [simulate(s, draws=500, seed=8, chunk_size=c).draws for c in (100, 250, 500)]
    for other in frames[1:]:
        assert list(other.columns) == list(frames[0].columns)
        for c in frames[0].columns:
            assert _same(frames[0][c].to_numpy(), other[c].to_numpy()), c


def test_one_draw_alone_is_the_same_as_in_the_full_run():
    """run_draws of a few draw indices gives those rows of the full run, bit for bit (what a re-forecast
    of one draw needs)."""
    s = _pfp()
    full = run_draws(s, _entropy(2), np.arange(120), 120)
    picked = [117, 3, 64]
    part = run_draws(s, _entropy(2), picked, 120)
    for c, v in full.columns.items():
        assert _same(v[picked], part.columns[c]), c
    for c, v in full.series.items():
        assert _same(v[picked], part.series[c]), c


def test_lhs_stratifies_over_the_whole_run():
    """Latin hypercube over a run of n draws: each input has exactly one draw in each of the n strata,
    whatever the chunks (the uniforms come back through the input's ppf: here a uniform distribution)."""
    s = _pfp("sampling.method=lhs")
    n = 400
    cols = simulate(s, draws=n, seed=3, chunk_size=150).draws
    spec = dict(iter_quantities(s))
    path = "referrals.volume_multiplier"
    dist, shapes, loc, scale = spec[path].scipy_form()
    u = dist.cdf(cols["input:" + path].to_numpy(), *shapes, loc=loc, scale=scale)
    strata = np.floor(u * n).astype(int)
    assert sorted(strata.tolist()) == list(range(n))


def test_removing_a_borough_leaves_the_others_bit_identical_when_nothing_couples_them():
    """PFP with team capacities lifted, no total cap, no top-up limit and no baseline block: removing
    Haringey leaves every other borough's per-borough columns bit-identical.  With the baseline block (the
    arm without therapy scaled to a programme-wide share), the treated side still is; only the arm without
    therapy moves, through the programme's baseline factor."""
    for with_baseline in (False, True):
        sets = LIFT_CAPACITY + NO_CAPS + ([] if with_baseline else ["baseline=null"])
        full = run_draws(_pfp(*sets), _entropy(4), np.arange(80), 80)
        less_s = without_borough(apply_overrides(resolve(PFP), sets), "Haringey")
        less = run_draws(less_s, _entropy(4), np.arange(80), 80)
        cols = _borough_columns(less.columns, set(less_s.boroughs))
        assert len(cols) == 6 * 9
        differ = {c for c in cols if not _same(full.columns[c], less.columns[c])}
        if with_baseline:
            assert differ and all(c.endswith(("counterfactual_gbp", "avoided_gbp", "net_savings_gbp")) for c in differ)
        else:
            assert differ == set()


def test_a_joining_borough_moves_the_others_only_through_capacity_and_caps():
    """Haringey joining with referrals: the others are bit-identical where no capacity or cap binds; with
    PFP's team capacities they differ (a shared FFT team); with capacities lifted but a total cap at the
    median uncapped payment, exactly the draws where the cap binds (with or without Haringey) differ, the others not."""

    def run(sets, seed=6, n=80):
        with_h = run_draws(_pfp(*sets, "baseline=null"), _entropy(seed), np.arange(n), n)
        without = run_draws(
            without_borough(apply_overrides(resolve(PFP), [*sets, "baseline=null"]), "Haringey"),
            _entropy(seed),
            np.arange(n),
            n,
        )
        return with_h, without

    others = [b for b in _pfp().boroughs if b != "Haringey"]
    a, b = run(NO_CAPS + LIFT_CAPACITY)
    cap = float(np.median(a.columns["uncapped_payments_gbp"]))  # binds in about half the draws
    assert all(_same(a.columns[c], b.columns[c]) for c in _borough_columns(b.columns, others))
    a, b = run(NO_CAPS)  # PFP's capacities
    assert not all(_same(a.columns[c], b.columns[c]) for c in _borough_columns(b.columns, others))
    a, b = run(LIFT_CAPACITY + [f"contract.caps.total_gbp={cap}", "contract.topup.max_gbp=null"])
    binds = (a.columns["uncapped_payments_gbp"] > cap) | (b.columns["uncapped_payments_gbp"] > cap)
    assert 0 < binds.sum() < binds.size
    paid = [c for c in _borough_columns(b.columns, others) if c.endswith("outcome_payments_gbp")]
    for c in paid:
        assert _same(a.columns[c][~binds], b.columns[c][~binds]), c
    assert any(not np.array_equal(a.columns[c][binds], b.columns[c][binds]) for c in paid)


def test_join_reports_other_boroughs_unchanged_when_nothing_couples_them():
    """`join` with team capacities lifted, no caps and no baseline block: every other borough is identical in
    every draw, and the note says what could move them; with PFP's capacities the shared FFT team moves some."""
    from sibmodel.workflows.join import join_analysis
    from sibmodel.workflows.stress import RunSettings

    settings = RunSettings(draws=60, seed=2, chunk_size=25)
    free = _pfp(*LIFT_CAPACITY, *NO_CAPS, "baseline=null")
    r = join_analysis(free, "Croydon", settings, starts_per_quarter=3.0, break_even=False)
    assert (r.others["draws_identical_share"] == 1.0).all()
    assert (
        r.notes[0].startswith("Paired runs")
        and f"{len(free.boroughs)} of {len(free.boroughs)} other boroughs are identical" in r.notes[0]
    )
    coupled = join_analysis(
        _pfp(*NO_CAPS, "baseline=null"), "Croydon", settings, starts_per_quarter=3.0, break_even=False
    )
    assert (coupled.others["draws_identical_share"] < 1.0).any() and "differ in up to" in coupled.notes[0]


def test_compare_states_the_pairing_in_text_and_json(tmp_path):
    from sibmodel.workflows.compare import PAIRING, format_table, run_comparison, write_comparison

    s = _pfp()
    cmp = run_comparison([s, _pfp("contract.payment_lag_quarters=3")], ["a.yaml", "b.yaml"], draws=30, seed=1)
    assert PAIRING in format_table(cmp.table)
    out = write_comparison(cmp, tmp_path / "cmp")
    assert __import__("json").loads((out / "compare.json").read_text())["pairing"] == PAIRING
