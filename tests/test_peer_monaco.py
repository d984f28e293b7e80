"""The monaco peer of the benchmarks (benchmarks/peer_monaco.py) is the same model as sibmodel.

monaco is not a dependency of sibmodel: without it the test is skipped. The check is the one
the benchmark prints, at few cases: the peer, written independently from the scenario's
description (referrals, weekly entry and re-entry hazards, placements, the weekly tariff and
the total cap), gives the same mean outcome payments per start as the engine, within
Monte Carlo error. It cannot pass by construction: the two share no simulation code, and the
peer's mean moves with the tariff (checked below), the effect and the care model.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from support import PFP

from sibmodel import load_scenario, simulate
from sibmodel.scenario.load import apply_overrides, resolve, validate_data

pytest.importorskip("monaco", reason="monaco is not installed (only the benchmarks use it: `pip install monaco`)")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import peer_monaco  # noqa: E402


def test_peer_pays_the_same_per_start_as_sibmodel_within_monte_carlo_error():
    s = load_scenario(PFP)
    pay, starts, _wall_s, _cpu_s = peer_monaco.run_peer(s, cases=60, seed=3)
    d = simulate(s, draws=400, seed=4).draws
    peer, peer_se = peer_monaco.per_start(pay, starts)
    ours, our_se = peer_monaco.per_start(d["outcome_payments_gbp"].to_numpy(float), d["starts"].to_numpy(float))
    assert abs(peer - ours) < 4 * np.hypot(peer_se, our_se), (peer, peer_se, ours, our_se)
    assert starts.mean() == pytest.approx(d["starts"].mean(), rel=0.15)  # ~410 expected starts each


def test_peer_case_pays_the_tariff_for_every_paid_week():
    """Hand-worked: with (almost) nobody entering care (entry probability 1e-9) every tracked week is at home and paid;
    at the central inputs one case's payment is then the tariff x the tracked weeks it counts."""
    data = apply_overrides(resolve(PFP), ["care.entry.prob=0.000000001", "contract.caps.total_gbp=null"])
    s = validate_data(data, PFP)
    plan = peer_monaco.peer_plan(s)
    specs = peer_monaco.quantities(s)
    x = {k: float(specs[p].mean()) for k, p in peer_monaco.input_names(s).items()}
    payments, n, paid_weeks = peer_monaco.simulate_case(plan, x, np.random.default_rng(0))
    assert payments == pytest.approx(213.0 * paid_weeks)
    # every start is tracked from the end of therapy for 104 weeks, cut at the contract end: at most 104 x starts
    assert 0 < paid_weeks <= 104 * n
    assert paid_weeks / n == pytest.approx(82.0, abs=6.0)  # ~82 tracked weeks per start (README, "Validation")
