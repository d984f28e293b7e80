"""Sobol indices (SALib) on the Ishigami function, input groups, and the scenario wrapper."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support import PFP

from sibmodel import load_scenario
from sibmodel.scenario.load import apply_overrides, resolve, validate_data
from sibmodel.workflows.levers import WorkflowError
from sibmodel.workflows.sensitivity import input_groups, scenario_sobol, sobol_indices

# Ishigami & Homma (1990), a = 7, b = 0.1, x_i ~ U(-pi, pi).  Analytic indices as published
# in Saltelli et al., "Global Sensitivity Analysis: The Primer" (2008), and SALib's test suite:
# S1 = 0.3139, 0.4424, 0; ST = 0.5576, 0.4424, 0.2437.
ISHIGAMI_S1 = [0.3139, 0.4424, 0.0]
ISHIGAMI_ST = [0.5576, 0.4424, 0.2437]


def ishigami(u: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    x = -np.pi + 2 * np.pi * u
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_ishigami_reproduces_the_published_indices():
    res = sobol_indices(["x1", "x2", "x3"], ishigami, n_base=2**13, seed=1)
    np.testing.assert_allclose(res["S1"], ISHIGAMI_S1, atol=0.02)
    np.testing.assert_allclose(res["ST"], ISHIGAMI_ST, atol=0.02)
    assert (res["S1_conf"] > 0).all()


def test_base_sample_must_be_a_power_of_two():
    with pytest.raises(WorkflowError, match="power of 2"):
        sobol_indices(["x1", "x2", "x3"], ishigami, n_base=100, seed=1)


def test_correlated_inputs_form_one_group():
    data = apply_overrides(
        resolve(PFP), ["correlations=[{inputs: [care.entry.prob, care.reentry.prob], rank_corr: 0.5}]"]
    )
    s = validate_data(data)
    paths = ["care.entry.prob", "care.reentry.prob", "referrals.volume_multiplier"]
    groups = input_groups(s, paths)
    assert groups[0] == groups[1] != groups[2]
    assert input_groups(load_scenario(PFP), paths) is None


def test_scenario_sobol_small_run_is_sane():
    """A tiny design: indices exist for every input and output; referral volume, the effect, entry to
    care or the largest delivery cost (the FFT team's, ~GBP 3m over the contract, lognormal sigma 0.3:
    a spread of ~GBP 1m, as large as that of the payments) leads for the IRR."""
    s = load_scenario(PFP)
    res = scenario_sobol(s, n_base=4, replicates=1, seed=3, num_resamples=20)
    n_inputs = res["input"].nunique()
    assert len(res) == 2 * n_inputs and set(res["output"]) == {"investor_irr", "net_savings"}
    assert np.isfinite(res[["S1", "ST"]].to_numpy()).all()
    irr = res[res["output"] == "investor_irr"].set_index("input")
    assert irr["ST"].idxmax() in {
        "referrals.volume_multiplier",
        "interventions.FFT.effect.hazard_ratio",
        "care.entry.prob",
        "interventions.FFT.delivery.teams.Family Psychology Mutual FFT.cost_per_quarter_gbp",
    }
    # worker processes share the design points; the indices do not change
    two = scenario_sobol(s, n_base=4, replicates=1, seed=3, num_resamples=20, workers=2)
    pd.testing.assert_frame_equal(res, two)


def test_scenario_sobol_reports_correlated_inputs_as_one_group():
    data = apply_overrides(
        resolve(PFP), ["correlations=[{inputs: [care.entry.prob, care.reentry.prob], rank_corr: 0.5}]"]
    )
    s = validate_data(data)
    res = scenario_sobol(s, n_base=2, replicates=1, seed=1, num_resamples=10)
    names = set(res["input"])
    assert "care.entry.prob + care.reentry.prob" in names
    assert "care.entry.prob" not in names and "care.reentry.prob" not in names
