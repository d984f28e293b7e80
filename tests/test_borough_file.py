"""``sibmodel join --borough-file``: every documented value form, and the shipped example.

docs/scenario-format.md ("Quantities") documents three forms for a quantity: a plain number,
a sourced value ``{value: ..., source: ...}`` and a distribution ``{dist: ..., ...}``. A plain
number in a borough file used to crash the break-even search (``levers.scale_spec``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from support import PFP, SCENARIOS, invoke

from sibmodel.model.sampling import ppf
from sibmodel.scenario.schema import iter_quantities
from sibmodel.workflows.join import _scale_care_costs, candidate_block, with_borough

CROYDON = SCENARIOS / "boroughs" / "croydon.yaml"

#: Each documented form of a weekly foster cost [GBP/week] and its mean by the closed form of
#: its distribution (triangular (a+m+b)/3; PERT (a+4m+b)/6; lognormal median*exp(sigma^2/2)).
FORMS = {
    "plain number": (800, 800.0),
    "sourced value": ({"value": 800, "source": "test"}, 800.0),
    "fixed": ({"dist": "fixed", "value": 800, "source": "test"}, 800.0),
    "normal": ({"dist": "normal", "mean": 750, "sd": 50, "source": "test"}, 750.0),
    "lognormal median": ({"dist": "lognormal", "median": 700, "sigma": 0.2, "source": "test"}, 700 * math.exp(0.02)),
    "lognormal mean": ({"dist": "lognormal", "mean": 750, "sd": 100, "source": "test"}, 750.0),
    "triangular": ({"dist": "triangular", "low": 600, "mode": 700, "high": 900, "source": "test"}, 2200 / 3),
    "pert": ({"dist": "pert", "low": 600, "mode": 700, "high": 900, "source": "test"}, 4300 / 6),
    "uniform": ({"dist": "uniform", "low": 646, "high": 759, "source": "test"}, 702.5),
    "beta": ({"dist": "beta", "mean": 750, "sd": 50, "low": 600, "high": 900, "source": "test"}, 750.0),
}


def _borough_file(tmp_path, block: dict):
    path = tmp_path / "borough.yaml"
    path.write_text(yaml.safe_dump(block))
    return path


@pytest.mark.parametrize("form", FORMS, ids=list(FORMS))
def test_every_value_form_is_read_and_scaled(pfp, tmp_path, form):
    """The break-even care cost scales the candidate's costs: doubled, the mean doubles and so
    does every quantile (the same uniform gives twice the value), whatever the form."""
    spec, mean = FORMS[form]
    path = _borough_file(tmp_path, {"weekly_care_cost_gbp": {"foster": spec}, "starts": {"per_quarter": 3}})
    joined = with_borough(pfp, "Croydon", candidate_block(pfp, "Croydon", borough_file=path))
    cost = joined.boroughs["Croydon"].weekly_care_cost_gbp["foster"]
    u = (np.arange(200_000) + 0.5) / 200_000  # midpoint rule: the mean is the integral of the quantile function
    assert ppf(cost, u).mean() == pytest.approx(mean, rel=1e-3)
    assert joined.boroughs["Croydon"].starts.per_quarter.mean() == 3
    doubled = _scale_care_costs(joined, "Croydon", 2.0).boroughs["Croydon"].weekly_care_cost_gbp
    np.testing.assert_allclose(ppf(doubled["foster"], u), 2 * ppf(cost, u), rtol=1e-9)
    # types the file does not give are the scenario's costs, doubled too (PSSRU 2017: GBP 646 foster; DfE: ~GBP 3,000)
    assert doubled["residential"].mean() == pytest.approx(2 * pfp.care.placements["residential"].weekly_cost_gbp.mean())


def test_plain_numbers_in_a_borough_file_run_the_join_command(tmp_path):
    """The case of issue 17: `weekly_care_cost_gbp: {foster: 800}` with the break-even searches."""
    path = _borough_file(
        tmp_path,
        {
            "weekly_care_cost_gbp": {"foster": 800},
            "entry_odds_ratio": 1.2,
            "starts": {"per_quarter": 2},
            "join_date": "2019-10-01",
        },
    )
    r = invoke(
        "join",
        PFP,
        "--borough",
        "Croydon",
        "--borough-file",
        path,
        "--draws",
        "20",
        "--seed",
        "1",
        "--out",
        tmp_path / "j",
    )
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output and "Break-even care cost" in r.output
    assert (tmp_path / "j" / "join_candidate.csv").exists()


def test_a_bad_value_names_the_borough_file(tmp_path):
    path = _borough_file(tmp_path, {"weekly_care_cost_gbp": {"foster": "a lot"}})
    r = invoke(
        "join",
        PFP,
        "--borough",
        "Croydon",
        "--borough-file",
        path,
        "--no-break-even",
        "--draws",
        "10",
        "--out",
        tmp_path / "j",
    )
    assert r.exit_code == 2, r.output
    assert (
        str(path) in r.output and "boroughs.Croydon.weekly_care_cost_gbp.foster" in r.output and "'a lot'" in r.output
    )
    assert "Traceback" not in r.output and not (tmp_path / "j").exists()


def test_the_shipped_croydon_file_is_sourced_and_runs(pfp, tmp_path):
    """scenarios/boroughs/croydon.yaml, the README's example: every value it gives has a source."""
    block = yaml.safe_load(CROYDON.read_text())
    joined = with_borough(
        pfp, "Croydon", candidate_block(pfp, "Croydon", borough_file=CROYDON, like="Sutton"), "Sutton"
    )
    given = [(p, spec) for p, spec in iter_quantities(joined) if p.startswith("boroughs.Croydon.")]
    assert len(given) >= 4
    assert all(spec.source and spec.source.strip() for _, spec in given), [p for p, s in given if not s.source]
    assert block["source"].strip() and block["starts"]["source"].strip()
    # the values are the file's: uniform GBP 646-759 foster (PSSRU 2017 to Valuing Care 2018)
    assert joined.boroughs["Croydon"].weekly_care_cost_gbp["foster"].mean() == pytest.approx((646 + 759) / 2)
    assert joined.boroughs["Croydon"].join_date.isoformat() == str(block["join_date"])
    r = invoke(
        "join",
        PFP,
        "--borough",
        "Croydon",
        "--borough-file",
        CROYDON,
        "--like",
        "Sutton",
        "--no-break-even",
        "--draws",
        "20",
        "--seed",
        "1",
        "--out",
        tmp_path / "j",
    )
    assert r.exit_code == 0, r.output
