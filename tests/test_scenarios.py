"""Every shipped scenario validates and runs; PFP meets its published figures (the validation table).

The published PFP figures (seed 004, DOMAIN.md) are checked against the model's 5-95% range.
Two of them, the time-at-home shares, are calibration targets (sibmodel calibrate; see the
sources in scenarios/pfp.yaml); the others are genuine checks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sibmodel import load_scenario
from sibmodel.engine import simulate
from sibmodel.schema import VALIDATION_KINDS

SCENARIOS = sorted(str(p) for p in Path("scenarios").rglob("*.yaml"))


def test_there_are_scenarios():
    assert "scenarios/pfp.yaml" in SCENARIOS and len(SCENARIOS) >= 9


@pytest.mark.parametrize("path", SCENARIOS)
def test_scenario_validates_and_runs(path):
    s = load_scenario(path)
    r = simulate(s, draws=40, seed=1, chunk_size=40)
    summ = r.summary()
    assert summ["outcomes"]["starts"]["p50"] > 0
    assert np.isfinite(r.draws["outcome_payments_gbp"]).all()
    for row in summ.get("validation", []):
        assert {"figure", "observed", "p5", "p50", "p95", "percentile_of_observed", "kind"} <= set(row)
        assert row["kind"] in VALIDATION_KINDS


@pytest.fixture(scope="module")
def pfp_validation():
    r = simulate(load_scenario("scenarios/pfp.yaml"), draws=1000, seed=20181, chunk_size=500)
    return {row["figure"]: row for row in r.summary()["validation"]}


@pytest.mark.parametrize(
    "figure",
    [
        "outcomes.starts",
        "outcomes.weeks_out_of_care",
        "contract.outcome_payments_gbp",
        "outcomes.time_at_home_share.treated",
        "outcomes.time_at_home_share.counterfactual",
    ],
)
def test_pfp_published_figure_inside_model_range(pfp_validation, figure):
    row = pfp_validation[figure]
    assert row["p5"] <= row["observed"] <= row["p95"], row


@pytest.mark.xfail(
    strict=True,
    reason=(
        "Known discrepancy, explained in README 'Validation': the published GBP 19.7m implies about "
        "GBP 1,060 per care week avoided over the tracked window; the model counts care avoided from referral "
        "and its placement mix gives about GBP 1,430 a week, so its value to government sits above it."
    ),
)
def test_pfp_value_to_government_inside_model_range(pfp_validation):
    row = pfp_validation["government.value_gbp"]
    assert row["p5"] <= row["observed"] <= row["p95"], row
