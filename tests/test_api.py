"""The Python API: ``sibmodel.simulate`` and the workflows take a scenario or the path of its file (issue 17)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from support import PFP

import sibmodel
from sibmodel.exceptions import ScenarioError
from sibmodel.scenario.load import as_scenario
from sibmodel.workflows.join import join_analysis
from sibmodel.workflows.stress import RunSettings, stress_suite


def test_simulate_takes_a_path_a_path_object_or_a_scenario(pfp):
    """The same seed gives the same draws, bit for bit, whichever form the scenario is given in."""
    by_text = sibmodel.simulate(PFP, draws=50, seed=1)
    by_path = sibmodel.simulate(Path(PFP), draws=50, seed=1)
    by_scenario = sibmodel.simulate(pfp, draws=50, seed=1)
    pd.testing.assert_frame_equal(by_text.draws, by_scenario.draws)
    pd.testing.assert_frame_equal(by_path.draws, by_scenario.draws)
    assert by_text.summary()["meta"]["scenario_hash"] == by_scenario.summary()["meta"]["scenario_hash"]


def test_simulate_refuses_what_is_not_a_scenario(tmp_path):
    with pytest.raises(TypeError, match="expected a Scenario or the path of a scenario file, not int"):
        sibmodel.simulate(42, draws=10)
    with pytest.raises(ScenarioError, match="not found"):
        sibmodel.simulate(tmp_path / "missing.yaml", draws=10)


def test_as_scenario_returns_a_scenario_unchanged(pfp):
    assert as_scenario(pfp) is pfp
    assert as_scenario(PFP) == pfp


def test_workflows_take_a_path(pfp):
    """A workflow given the path runs exactly what it runs given the loaded scenario (common random numbers)."""
    settings = RunSettings(draws=20, seed=3, chunk_size=20)
    pd.testing.assert_frame_equal(settings.run(PFP).draws, settings.run(pfp).draws)
    pd.testing.assert_frame_equal(stress_suite(PFP, {}, settings), stress_suite(pfp, {}, settings))
    a = join_analysis(PFP, "Croydon", settings, starts_per_quarter=2.0, break_even=False)
    b = join_analysis(pfp, "Croydon", settings, starts_per_quarter=2.0, break_even=False)
    pd.testing.assert_frame_equal(a.investor, b.investor)
