"""The fused kernel and the plan (issue 16, item 2).

:func:`sibmodel.model.fused.simulate_arms_tallied` must give what the event-driven kernel
(:func:`sibmodel.model.pathways.simulate_arms` with Philox counters) gives, bit for bit, spells
in the same order, and care tallies equal to the separate passes of :mod:`sibmodel.model.tally`
over those spells.  The plan (:mod:`sibmodel.engine.plan`) must pickle, be built once per run,
and change no number.  Every check compares two computations with each other, never with a
stored number.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from support import PFP, scenario_file

from sibmodel import load_scenario
from sibmodel.engine import chunk as ch
from sibmodel.engine import execution
from sibmodel.engine.plan import Plan
from sibmodel.engine.run import simulate
from sibmodel.model import fused
from sibmodel.model.hazards import FIRST_PLACEMENT
from sibmodel.model.pathways import simulate_arms
from sibmodel.model.tally import CARE, occupancy_by_week, spell_quarter_weeks
from sibmodel.outputs import OUTCOME_PAYMENTS_GBP

OUTCOMES = ("weeks_home", "weeks_in_placement", "entered_care", "n_placements", "n_breakdowns")
SPELLS = ("person", "state", "start", "end")


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _kernel_call(s, monkeypatch, n_draws=40):
    """The arguments the engine gives the fused kernel in a chunk of ``s``."""
    seen = {}
    real = ch.simulate_arms_tallied

    def spy(tables, **kw):
        seen["args"] = (tables, kw)
        return real(tables, **kw)

    monkeypatch.setattr(ch, "simulate_arms_tallied", spy)
    ch.run_draws(s, np.random.SeedSequence(5).entropy, np.arange(n_draws), 1000)
    return seen["args"]


@pytest.mark.parametrize("scenario", [PFP, scenario_file("essex/essex_mst.yaml")])
def test_fused_kernel_is_the_event_driven_kernel_and_its_tallies(scenario, monkeypatch):
    """Outcomes and spells bit for bit as simulate_arms (counters), care weeks and occupancy as
    tally.spell_quarter_weeks and tally.occupancy_by_week over its spells (PFP: a placement mix
    per borough and a baseline; Essex: completers and non-completers)."""
    tables, kw = _kernel_call(load_scenario(scenario), monkeypatch)
    arms, tallies = fused.simulate_arms_tallied(tables, **kw)
    pw = dict(kw["pathway"])
    pw["end_prob"] = pw["end_prob"][pw.pop("end_prob_row")]  # per person, as simulate_arms takes it
    reference = simulate_arms(
        tables, rows=kw["rows"], window_start=kw["window_start"], window_end=kw["window_end"],
        counters=kw["counters"], **pw,
    )  # fmt: skip
    n_k = pw["end_prob"].shape[1]
    assert len(arms) == len(reference) == 2
    assert sum(a.spells.person.size for a in arms) > 1000  # a real test: many spells
    for a, (new, old) in enumerate(zip(arms, reference, strict=True)):
        for f in OUTCOMES:
            assert _same(getattr(new, f), getattr(old, f)), f
        # the same spells, person by person instead of spell number by spell number: the same once each is
        # sorted by (person, start) (a person's spells in one arm start at different weeks)
        new_order = np.lexsort((new.spells.start, new.spells.person))
        old_order = np.lexsort((old.spells.start, old.spells.person))
        assert not _same(new_order, old_order)  # the orders differ before the sort
        for f in SPELLS:  # the same values (person: int32 here, int64 there)
            x, y = getattr(new.spells, f)[new_order], getattr(old.spells, f)[old_order]
            assert _same(x.astype(np.int64), y.astype(np.int64)) if f == "person" else _same(x, y), f
        weeks = spell_quarter_weeks(
            old, CARE, kw["care_key"], kw["offset"], kw["n_keys"] * n_k, kw["n_quarters"], by_type=n_k
        )
        assert _same(tallies.care_weeks[a], weeks)
        assert weeks.sum() > 0
        occupancy = occupancy_by_week(
            old, kw["n_weeks"], FIRST_PLACEMENT + n_k, offset=kw["offset"], group=kw["group"], n_groups=kw["n_groups"]
        )
        assert _same(tallies.occupancy[a], occupancy)


def test_fused_kernel_grows_its_spell_buffers(monkeypatch):
    """Buffers of one spell per person overflow; the kernel runs again with more and gives the same."""
    tables, kw = _kernel_call(load_scenario(PFP), monkeypatch, n_draws=10)
    arms, tallies = fused.simulate_arms_tallied(tables, **kw)
    monkeypatch.setattr(fused, "_SPELLS_PER_PERSON", 1)
    arms_small, tallies_small = fused.simulate_arms_tallied(tables, **kw)
    assert arms[0].spells.person.size > kw["care_key"].size  # more spells than the first buffers hold
    for new, old in zip(arms_small, arms, strict=True):
        for f in SPELLS:
            assert _same(getattr(new.spells, f), getattr(old.spells, f))
    assert _same(tallies_small.care_weeks, tallies.care_weeks)
    assert _same(tallies_small.occupancy, tallies.occupancy)


def test_plan_pickles_and_changes_nothing():
    """A chunk run on an unpickled plan gives the same columns, series and occupancy, bit for bit, as one
    that builds its own."""
    s = load_scenario(PFP)
    entropy = np.random.SeedSequence(3).entropy
    plan = pickle.loads(pickle.dumps(Plan.of(s, entropy)))
    with_plan = ch.run_chunk(s, entropy, 1, 30, 30, 90, plan=plan)
    alone = ch.run_chunk(s, entropy, 1, 30, 30, 90)
    for part in ("columns", "series", "occupancy_sum"):
        a, b = getattr(with_plan, part), getattr(alone, part)
        assert list(a) == list(b)
        assert all(_same(a[k], b[k]) for k in a), part


def test_plan_is_built_once_per_run(monkeypatch):
    """Three chunks, one plan: iter_chunks compiles the scenario once and every chunk receives it."""
    built, received = [], []
    real_of, real_run = Plan.of.__func__, execution._run

    def of(cls, s, entropy):
        built.append(1)
        return real_of(cls, s, entropy)

    def run(plan, *args):
        received.append(id(plan))
        return real_run(plan, *args)

    monkeypatch.setattr(Plan, "of", classmethod(of))
    monkeypatch.setattr(execution, "_run", run)
    simulate(load_scenario(PFP), draws=30, seed=2, chunk_size=10, workers=1)
    assert len(built) == 1
    assert len(received) == 3 and len(set(received)) == 1


@pytest.mark.parametrize(
    "sets",
    [
        [],
        ["contract.tariffs=[{metric: milestone, payment_gbp: 2000.3, at_week: 26}]"],
        [
            "contract.tariffs=[{metric: milestone, payment_gbp: 2000.3, at_week: 26}]",
            "contract.caps.per_young_person_gbp=1e6",
        ],
    ],
)
def test_no_output_depends_on_the_order_of_the_spells(sets, monkeypatch):
    """The fused kernel gives the spells person by person, the event-driven kernel spell number by spell
    number: every column, series and occupancy must be the same, bit for bit, with the spells shuffled."""
    from dataclasses import replace

    from sibmodel.scenario.load import apply_overrides, resolve, validate_data

    s = validate_data(apply_overrides(resolve(PFP), sets), PFP)
    entropy = np.random.SeedSequence(9).entropy
    plain = ch.run_draws(s, entropy, np.arange(40), 40)
    real = ch.simulate_arms_tallied

    def shuffled(tables, **kw):
        arms, tallies = real(tables, **kw)
        out = []
        for a, arm in enumerate(arms):
            order = np.random.default_rng(a).permutation(arm.spells.person.size)
            sp = arm.spells
            out.append(replace(arm, spells=replace(sp, **{f: getattr(sp, f)[order] for f in SPELLS})))
        return out, tallies

    monkeypatch.setattr(ch, "simulate_arms_tallied", shuffled)
    other = ch.run_draws(s, entropy, np.arange(40), 40)
    assert plain.columns[OUTCOME_PAYMENTS_GBP].sum() > 0
    for part in ("columns", "series", "occupancy_sum"):
        a, b = getattr(plain, part), getattr(other, part)
        assert all(_same(a[k], b[k]) for k in a), part
