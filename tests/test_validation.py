"""Validation figures: value to government by the published method, and the per-start figures.

Hand-worked cases on tiny scenarios, and the PFP reconstruction of the published value to
government (Bridges Outcomes Partnerships, Positive Families Partnership project page: GBP 19.7m;
30,533 weeks out of care x GBP 646, the PSSRU 2017 foster care cost, = GBP 19.72m).
"""

from __future__ import annotations

import numpy as np
import pytest
from support import PFP

from sibmodel import load_scenario
from sibmodel.engine.run import simulate
from sibmodel.report.tables import validation_table
from sibmodel.scenario.load import validate_data


def tiny(**timeline) -> dict:
    """One borough, one therapy of 18 weeks, every start in week 0 (referrals close on the second day)."""
    return {
        "metadata": {"name": "tiny", "price_year": 2020},
        "timeline": {
            "programme_start": "2020-01-06",
            "referrals_close": "2020-01-07",
            "contract_end": "2021-01-04",
            **timeline,
        },
        "discounting": {"real_rate_annual": 0.0},
        "boroughs": {
            "A": {
                "join_date": "2020-01-06",
                "starts": {"per_quarter": 130, "ramp_up_quarters": 0},
                "intervention_mix": {"MST": 1.0},
            },
        },
        "interventions": {
            "MST": {
                "therapy_weeks": 18,
                "effect": {"hazard_ratio": 0.5},
                "delivery": {
                    "team_cost_per_quarter_gbp": 1000,
                    "team_capacity_families_per_quarter": 1000,
                    "variable_cost_per_family_gbp": 0,
                },
            }
        },
        "care": {
            "entry": {"prob": 0.5, "horizon_weeks": 52, "placement_mix": {"foster": 0.5, "residential": 0.5}},
            "reentry": {"prob": 0.3, "horizon_weeks": 52},
            "placements": {
                "foster": {"mean_duration_weeks": 20, "breakdown_share": 0.3, "weekly_cost_gbp": 646},
                "residential": {"mean_duration_weeks": 20, "breakdown_share": 0.3, "weekly_cost_gbp": 3000},
            },
        },
        "contract": {
            "tracking": {"length_weeks": 104, "starts_at": "therapy_end"},
            "tariffs": [{"metric": "weekly_out_of_care", "payment_per_week_gbp": 1}],
            "payment_lag_quarters": 0,
        },
        "investment": {"commitment_gbp": 1000000},
    }


def test_tracked_weeks_per_start_cut_at_contract_end():
    """Every start is in week 0; the contract ends after week 52 (2021-01-04 is week 52, so 53 weeks).

    Hand arithmetic: tracking runs from the end of therapy (week 18) for 104 weeks, cut at week 53:
    53 - 18 = 35 tracked weeks for every start.
    """
    r = simulate(validate_data(tiny()), draws=20, seed=1)
    d = r.draws
    assert (d["starts"] > 0).all()
    np.testing.assert_array_equal(d["tracked_weeks_per_start"], 35.0)
    np.testing.assert_array_equal(d["tracked_weeks"], 35.0 * d["starts"])
    np.testing.assert_allclose(d["weeks_out_of_care_per_start"], d["weeks_out_of_care"] / d["starts"], rtol=1e-15)
    assert (d["weeks_out_of_care_per_start"] <= 35.0).all()
    s = r.summary()
    assert s["outcomes"]["tracked_weeks_per_start"]["p50"] == 35.0
    assert s["policy"]["weeks_out_of_care_per_start"]["p50"] == pytest.approx(
        np.median(d["weeks_out_of_care"] / d["starts"])
    )


def test_tracked_weeks_per_start_full_window():
    """With the contract ending long after (2025-01-06, week 261), every start gets its 104 weeks."""
    r = simulate(validate_data(tiny(contract_end="2025-01-06")), draws=10, seed=2)
    np.testing.assert_array_equal(r.draws["tracked_weeks_per_start"], 104.0)


def test_published_method_prices_weeks_out_of_care_at_the_cheapest_placement_per_borough():
    """Value to government by the published method = sum over boroughs of weeks out of care
    x that borough's cheapest weekly cost.

    With a tariff of GBP 1 a week, no cap, no top-up, no lag and no discounting, a borough's
    outcome payments are its weeks out of care, so the hand sum is
    646 x weeks(A) + 500 x weeks(B): B's residential care (GBP 500, set here) is cheaper than its foster care.
    """
    data = tiny()
    data["boroughs"]["B"] = {**data["boroughs"]["A"], "weekly_care_cost_gbp": {"residential": 500}}
    r = simulate(validate_data(data), draws=20, seed=3)
    d = r.draws
    weeks_a, weeks_b = d["borough.A.outcome_payments_gbp"], d["borough.B.outcome_payments_gbp"]
    np.testing.assert_array_equal(weeks_a + weeks_b, d["weeks_out_of_care"])
    np.testing.assert_array_equal(d["government_value_published_method_gbp"], 646 * weeks_a + 500 * weeks_b)


def test_pfp_published_method_is_weeks_times_646_per_draw():
    """PFP: every placement costs at least foster care's GBP 646 (PSSRU 2017), so the figure is weeks x 646 exactly."""
    r = simulate(load_scenario(PFP), draws=40, seed=5)
    d = r.draws
    np.testing.assert_array_equal(d["government_value_published_method_gbp"], d["weeks_out_of_care"] * 646.0)
    assert 30533 * 646 == pytest.approx(19.7e6, rel=0.002)  # the published GBP 19.7m, to three figures


def test_kind_is_required_and_checked():
    data = tiny()
    data["observed"] = {"starts": {"figure": "outcomes.starts", "value": 10, "source": "x"}}
    with pytest.raises(Exception, match="observed.starts.kind"):
        validate_data(data)
    data["observed"]["starts"]["kind"] = "check"
    with pytest.raises(Exception, match="observed.starts.kind"):
        validate_data(data)
    data["observed"]["starts"] = {"figure": "outcomes.starts", "value": 10, "calibration_target": True, "source": "x"}
    with pytest.raises(Exception, match="calibration_target"):
        validate_data(data)


def test_validation_tables_show_the_kind():
    data = tiny()
    data["observed"] = {
        "starts": {"figure": "outcomes.starts", "value": 10, "kind": "input", "source": "x"},
        "tracked": {
            "figure": "outcomes.tracked_weeks_per_start",
            "value": 35,
            "kind": "derived",
            "note": "hand",
            "source": "x",
        },
    }
    rows = simulate(validate_data(data), draws=10, seed=4).summary()["validation"]
    assert [r["kind"] for r in rows] == ["input", "derived"]
    assert rows[1]["note"] == "hand" and rows[1]["p50"] == 35.0 and rows[1]["inside_p5_p95"]
    md = validation_table(rows, markdown=True).splitlines()
    assert md[0].endswith("| kind |") and md[2].endswith("| input |") and md[3].endswith("| derived |")
    text = validation_table(rows)
    assert "kind" in text.splitlines()[1] and text.splitlines()[3].split()[-1] == "derived"


def test_report_validation_section_shows_kind_and_note():
    from sibmodel.report.html import _validation_section

    data = tiny()
    data["observed"] = {
        "tracked": {
            "figure": "outcomes.tracked_weeks_per_start",
            "value": 35,
            "kind": "derived",
            "note": "53 - 18 weeks",
            "source": "hand",
        }
    }
    html = _validation_section(simulate(validate_data(data), draws=10, seed=4).summary()["validation"])
    assert "<td>derived</td>" in html and "<td>53 - 18 weeks</td>" in html and "why this kind" in html
