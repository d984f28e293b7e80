"""The compiled pathway kernel against the previous vectorised numpy kernel, bit for bit.

Reference: tests/vectorised_kernel.py, the pure-numpy kernel sibmodel shipped
before the kernel was compiled (same uniforms, same order).  Every output of
every arm (per-person counts and the spell list, in order) must be identical,
on the shared pathway cases and on heterogeneous inputs that exercise every
branch: per-person scales (zero included), several table rows, a placement that
always ends (q = 1) or never does (q = 0), breakdown shares of 0 and 1,
per-person placement mixes, tracking windows that start late or are empty.
The distributional correctness of the kernel is tested in test_pathways.py
(exact cohort model, week-by-week reference simulation).
"""

from __future__ import annotations

import numpy as np
import pytest
from pathway_cases import CASES, N_WEEKS
from vectorised_kernel import simulate_arms_vectorised

from sibmodel.model.pathways import HazardTables, simulate_arms


def _assert_same(new, old):
    assert len(new) == len(old)
    for a, (x, y) in enumerate(zip(new, old)):
        for field in ("weeks_home", "weeks_in_placement", "entered_care", "n_placements", "n_breakdowns"):
            np.testing.assert_array_equal(getattr(x, field), getattr(y, field), err_msg=f"arm {a} {field}")
        for field in ("person", "state", "start", "end"):
            np.testing.assert_array_equal(
                getattr(x.spells, field), getattr(y.spells, field), err_msg=f"arm {a} spells.{field}"
            )


#: simulate_arms's keyword-only inputs after the tables, in the order of the reference kernel's positional ones
ARM_INPUTS = (
    "rows",
    "entry_scale",
    "reentry_scale",
    "end_prob",
    "breakdown_share",
    "escalation",
    "entry_mix",
    "reentry_mix",
    "window_start",
    "window_end",
)


def _both(*args, seed):
    new = simulate_arms(args[0], **dict(zip(ARM_INPUTS, args[1:], strict=True)), rng=np.random.default_rng(seed))
    old = simulate_arms_vectorised(*args, np.random.default_rng(seed))
    return new, old


@pytest.mark.parametrize("name", list(CASES))
def test_shared_cases_bit_for_bit(name):
    par = CASES[name]()
    n = 20_000
    tables = HazardTables.from_profiles(
        np.stack([par.entry_hazard, par.entry_hazard * 0.4]), np.stack([par.reentry_hazard, par.reentry_hazard * 0.4])
    )
    ones = np.ones(n)
    args = (
        tables,
        [np.ones(n, np.int64), np.zeros(n, np.int64)],  # treated (row 1), counterfactual (row 0)
        ones,
        ones,
        np.broadcast_to(par.end_prob, (n, par.n_placements)),
        np.broadcast_to(par.breakdown_share, (n, par.n_placements)),
        par.escalation,
        par.entry_mix,
        par.reentry_mix,
        np.full(n, 10, np.int64),
        np.full(n, 104, np.int64),
    )
    _assert_same(*_both(*args, seed=3))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("mix_per_person", [False, True])
def test_heterogeneous_inputs_bit_for_bit(seed, mix_per_person):
    g = np.random.default_rng(100 + seed)
    n, k, rows = 30_000, 3, 7
    entry = g.uniform(0.0, 0.05, (rows, N_WEEKS))
    entry[2] = 0.0  # a row with no hazard at all
    reentry = g.uniform(0.0, 0.02, (rows, N_WEEKS))
    tables = HazardTables.from_profiles(entry, reentry)
    entry_scale = g.lognormal(0.0, 0.5, n)
    entry_scale[g.random(n) < 0.05] = 0.0
    reentry_scale = g.lognormal(0.0, 0.5, n)
    reentry_scale[g.random(n) < 0.05] = 0.0
    end_prob = g.uniform(0.01, 0.3, (n, k))
    end_prob[g.random(n) < 0.03, 0] = 1.0  # a placement that always ends after one week
    end_prob[g.random(n) < 0.03, 1] = 0.0  # one that never ends
    breakdown = g.uniform(0.0, 0.6, (n, k))
    breakdown[g.random(n) < 0.05, 2] = 0.0
    breakdown[g.random(n) < 0.05, 2] = 1.0
    escalation = np.array([[0.5, 0.3, 0.2], [0.1, 0.9, 0.0], [0.0, 0.0, 1.0]])
    if mix_per_person:
        entry_mix = g.dirichlet([2.0, 1.0, 0.5], n)
        reentry_mix = g.dirichlet([1.0, 1.0, 1.0], n)
    else:
        entry_mix, reentry_mix = np.array([0.7, 0.2, 0.1]), np.array([0.5, 0.5, 0.0])
    window_start = g.integers(0, 30, n)
    window_end = np.minimum(window_start + g.integers(0, 100, n), N_WEEKS)  # some empty windows
    arm_rows = [g.integers(0, rows, n), np.zeros(n, np.int64), np.full(n, 2, np.int64)]
    args = (
        tables,
        arm_rows,
        entry_scale,
        reentry_scale,
        end_prob,
        breakdown,
        escalation,
        entry_mix,
        reentry_mix,
        window_start,
        window_end,
    )
    _assert_same(*_both(*args, seed=seed))


def test_flat_stretches_and_short_tables_bit_for_bit():
    """Hazard profiles with weeks of no hazard (repeated table values, where the search must
    return the first of them), a single jump, and tables shorter than the search's guess window."""
    g = np.random.default_rng(7)
    n, k = 20_000, 2
    for n_weeks in (2, 40):
        entry = g.uniform(0.0, 0.3, (4, n_weeks))
        entry[0, : n_weeks // 3] = 0.0
        entry[1, n_weeks // 4 : n_weeks // 2] = 0.0
        entry[2] = 0.0
        entry[2, n_weeks // 2] = 2.0  # one jump: everybody who leaves home leaves that week
        entry[3, g.random(n_weeks) < 0.6] = 0.0
        reentry = np.where(g.random((4, n_weeks)) < 0.5, 0.0, g.uniform(0.0, 0.1, (4, n_weeks)))
        tables = HazardTables.from_profiles(entry, reentry)
        ones = np.ones(n)
        args = (
            tables,
            [g.integers(0, 4, n), np.zeros(n, np.int64)],
            g.lognormal(0.0, 0.5, n),
            ones,
            np.full((n, k), 0.2),
            np.full((n, k), 0.3),
            np.array([[0.5, 0.5], [0.0, 1.0]]),
            np.array([0.6, 0.4]),
            np.array([0.5, 0.5]),
            np.zeros(n, np.int64),
            np.full(n, n_weeks, np.int64),
        )
        _assert_same(*_both(*args, seed=n_weeks))
