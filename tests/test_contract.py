"""Contract payments: a hand-worked case, and the quarter-splitting helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support import PFP, scenario_file

from sibmodel.contract.payments import cap_in_time_order, compute_payments
from sibmodel.model.hazards import FIRST_PLACEMENT, HOME_AFTER, HOME_NEVER
from sibmodel.model.pathways import ArmOutcomes, Spells
from sibmodel.model.referrals import People
from sibmodel.scenario.load import apply_overrides, resolve, validate_data


def _scenario(*sets):
    return validate_data(apply_overrides(resolve(PFP), list(sets)), PFP)


def _two_people():
    """Two young people with known paths (weeks since referral).

    A (borough 0, referred in week 0): home 0-19, foster 20-29, home 30-103.
    B (borough 1, referred in week 10): home for the whole window 0-103.
    """
    people = People(
        draw=np.array([0, 0]),
        borough=np.array([0, 1]),
        intervention=np.array([0, 0]),
        quarter=np.array([0, 0]),
        cohort=np.array([0, 1]),
        referral_week=np.array([0, 10]),
        counts=np.zeros((1, 2, 1, 1), dtype=int),
    )
    return people, _arm_in_foster_care(0, 20, 30)


def _arm_in_foster_care(person: int, start: int, end: int) -> ArmOutcomes:
    """Two people over weeks 0-104: ``person`` in foster care in weeks [start, end) and home
    otherwise (home before care, then home after care); the other at home throughout."""
    other = 1 - person
    spells = Spells(
        person=np.array([person, person, person, other]),
        state=np.array([HOME_NEVER, FIRST_PLACEMENT, HOME_AFTER, HOME_NEVER], dtype=np.int8),
        start=np.array([0, start, end, 0], dtype=np.int32),
        end=np.array([start, end, 104, 104], dtype=np.int32),
    )
    in_care = np.zeros((2, 3), dtype=int)
    in_care[person, 0] = end - start
    return ArmOutcomes(
        weeks_home=104 - in_care.sum(axis=1),
        weeks_in_placement=in_care,
        entered_care=np.arange(2) == person,
        n_placements=(np.arange(2) == person).astype(int),
        n_breakdowns=np.zeros(2, int),
        spells=spells,
    )


def test_hand_worked_contract():
    """Weekly tariff GBP 100, per-person cap GBP 5,000, total cap GBP 9,000, top-up 15% up to GBP 1,000, lag 2.

    Worked by hand (13-week quarters, calendar week = referral week + week since referral):

    A's 94 home weeks by quarter: q0 13, q1 7 (weeks 13-19), q2 9 (30-38), q3..q7 13 each.
    At GBP 100/week: 1300, 700, 900, 1300, 1300 ... ; the per-person cap of 5,000 is
    reached in q4 (1300+700+900+1300 = 4200, so q4 pays 800, later quarters 0).
    B is at home in calendar weeks 10-113: q0 3 weeks (300), then 1300 a quarter;
    300 + 3 x 1300 = 4200 by q3, q4 pays 800; B is also capped at 5,000.
    Totals by quarter: q0 1600, q1 2000, q2 2200, q3 2600 (cumulative 8400), q4 1600.
    The total cap of 9,000 leaves 600 in q4, shared 300/300 (A and B each had 800).
    Top-up 15%: q0 240, q1 300, q2 330 (cumulative 870); q3 would be 390 but only 130
    is left of the 1,000, shared 65/65; nothing after.  Paid two quarters later.
    """
    s = _scenario(
        "contract.tariffs=[{metric: weekly_out_of_care, payment_per_week_gbp: 100}]",
        "contract.caps={per_young_person_gbp: 5000, total_gbp: 9000}",
        "contract.topup={share: 0.15, max_gbp: 1000}",
        "contract.payment_lag_quarters=2",
    )
    people, arm = _two_people()
    pay = compute_payments(
        s,
        people,
        arm,
        np.array([0, 0]),
        np.array([104, 104]),
        {"contract.tariffs.0.payment_per_week_gbp": np.array([100.0])},
        np.zeros((1, 10)),
        1,
        10,
    )
    a = [1300, 700, 900, 1300, 300, 0, 0, 0, 0, 0]
    b = [300, 1300, 1300, 1300, 300, 0, 0, 0, 0, 0]
    np.testing.assert_allclose(pay.achieved[0, 0], a)
    np.testing.assert_allclose(pay.achieved[0, 1], b)
    np.testing.assert_allclose(pay.achieved[0, 2:].sum(), 0.0)
    assert pay.achieved.sum() == 9000
    topup_a = [195, 105, 135, 65, 0, 0, 0, 0, 0, 0]
    topup_b = [45, 195, 195, 65, 0, 0, 0, 0, 0, 0]
    np.testing.assert_allclose(pay.topup_achieved[0, 0], topup_a)
    np.testing.assert_allclose(pay.topup_achieved[0, 1], topup_b)
    assert pay.topup_paid.sum() == 1000
    # lag: paid two quarters after being achieved
    np.testing.assert_allclose(pay.paid[0, 0, :2], 0.0)
    np.testing.assert_allclose(pay.paid[0, 0, 2:], a)
    np.testing.assert_allclose(pay.borough_paid[0, 1, 2:], np.array(b) - np.array(topup_b))
    # what would have been paid with no cap: A 94 + B 104 weeks at GBP 100 in the 10 quarters
    assert pay.uncapped_total[0] == (94 + 104) * 100


@pytest.mark.parametrize("per_person_cap", [None, 1_000_000])
@pytest.mark.parametrize("pay_after_return", [True, False])
def test_weeks_after_a_return_from_care_are_paid_only_if_the_contract_says_so(pay_after_return, per_person_cap):
    """The contract switch ``pay_weeks_after_return_from_care``, worked by hand at GBP 100 a week, no caps binding.

    A is at home 0-19, in care 20-29 and home again 30-103 (weeks since referral, window 0-104).
    Paid after a return: A's 20 + 74 = 94 weeks (q0 13, q1 7, q2 9, q3..q7 13 each).  Not paid:
    only A's 20 weeks before care (q0 13, q1 7).  B never enters care: 104 weeks either way.
    Both code paths are checked: weeks summed straight into boroughs (no per-person cap) and
    person by person (a per-person cap that does not bind).
    """
    caps = "contract.caps={}" if per_person_cap is None else f"contract.caps={{per_young_person_gbp: {per_person_cap}}}"
    s = _scenario(
        f"contract.tariffs=[{{metric: weekly_out_of_care, "
        f"payment_per_week_gbp: 100, pay_weeks_after_return_from_care: {str(pay_after_return).lower()}}}]",
        caps,
        "contract.topup={share: 0}",
        "contract.payment_lag_quarters=0",
    )
    people, arm = _two_people()
    pay = compute_payments(
        s,
        people,
        arm,
        np.array([0, 0]),
        np.array([104, 104]),
        {"contract.tariffs.0.payment_per_week_gbp": np.array([100.0])},
        np.zeros((1, 10)),
        1,
        10,
    )
    a = [1300, 700, 900, 1300, 1300, 1300, 1300, 1300, 0, 0] if pay_after_return else [1300, 700] + [0] * 8
    np.testing.assert_allclose(pay.achieved[0, 0], a)
    assert pay.achieved[0, 1].sum() == 104 * 100
    assert pay.uncapped_total[0] == ((94 if pay_after_return else 20) + 104) * 100


def test_engagement_and_milestone():
    """Engagement GBP 1,000 after 4 weeks of therapy; milestone GBP 2,000 if at home at week 26.

    A is at home at week 26? No: A is in foster care in weeks 20-29.  B is at home.
    So both get engagement (A in week 4 -> q0; B in week 14 -> q1) and only B the
    milestone (week 10 + 26 = 36 -> q2).
    """
    s = _scenario(
        "contract.tariffs=[{metric: engagement, payment_gbp: 1000, after_therapy_weeks: 4}, "
        "{metric: milestone, payment_gbp: 2000, at_week: 26}]",
        "contract.caps={}",
        "contract.topup={share: 0}",
        "contract.payment_lag_quarters=0",
    )
    people, arm = _two_people()
    pay = compute_payments(
        s,
        people,
        arm,
        np.array([0, 0]),
        np.array([104, 104]),
        {"contract.tariffs.0.payment_gbp": np.array([1000.0]), "contract.tariffs.1.payment_gbp": np.array([2000.0])},
        np.zeros((1, 10)),
        1,
        10,
    )
    np.testing.assert_allclose(pay.achieved[0, 0], [1000, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(pay.achieved[0, 1], [0, 1000, 2000, 0, 0, 0, 0, 0, 0, 0])


def test_care_days_saved_essex_design():
    """Baseline 50% of tracked weeks in care, 40% of a GBP 1,000 weekly cost, floored per borough-quarter.

    A (borough 0), q1 (weeks 13-25): tracked 13, in care 6 (20-25): saved 6.5 - 6 = 0.5 weeks
    -> GBP 200.  q2 (26-38): tracked 13, care 4 (26-29): saved 2.5 -> GBP 1,000.
    q0: tracked 13, care 0: saved 6.5 -> GBP 2,600.
    Without the floor nothing changes for A (no quarter is negative); a baseline of 0.1
    makes q1 negative (1.3 - 6 = -4.7 -> -1,880) and the floor sets it to 0.
    """
    base = [
        "contract.caps={}",
        "contract.topup={share: 0}",
        "contract.payment_lag_quarters=0",
    ]
    people, arm = _two_people()
    for share, floor, q1 in ((0.5, True, 200.0), (0.1, True, 0.0), (0.1, False, -1880.0)):
        s = _scenario(
            f"contract.tariffs=[{{metric: care_days_saved, baseline_care_share: {share}, share_of_placement_cost: 0.4, "
            f"reference_weekly_care_cost_gbp: 1000, floor_at_zero: {str(floor).lower()}}}]",
            *base,
        )
        params = {
            "contract.tariffs.0.baseline_care_share": np.array([share]),
            "contract.tariffs.0.share_of_placement_cost": np.array([0.4]),
            "contract.tariffs.0.reference_weekly_care_cost_gbp": np.array([1000.0]),
        }
        pay = compute_payments(s, people, arm, np.array([0, 0]), np.array([104, 104]), params, np.zeros((1, 10)), 1, 10)
        np.testing.assert_allclose(pay.achieved[0, 0, 1], q1, atol=1e-9)
        np.testing.assert_allclose(pay.achieved[0, 0, 0], share * 13 * 400, atol=1e-9)


def test_quarter_weeks_conserves_weeks():
    """Inside the horizon (30 quarters = 390 weeks; every interval ends by week 259) no week is lost."""
    from sibmodel.model.tally import quarter_weeks

    rng = np.random.default_rng(0)
    start = rng.integers(0, 200, 1000)
    end = start + rng.integers(0, 60, 1000)
    key = rng.integers(0, 7, 1000)
    out = quarter_weeks(key, start, end, 7, 30)
    np.testing.assert_array_equal(out.sum(axis=1), np.bincount(key, weights=end - start, minlength=7))


def test_cap_in_time_order():
    x = np.array([[3.0, 4.0, 5.0, 6.0]])
    np.testing.assert_allclose(cap_in_time_order(x, 10.0), [[3, 4, 3, 0]])
    np.testing.assert_allclose(cap_in_time_order(x, None), x)


def test_baseline_gap_payments_hand_worked():
    """The part of care-days-saved payments that pays for the gap between the contract's baseline
    and the counterfactual: price x (baseline share x tracked weeks - counterfactual care weeks).

    Price: 40% of GBP 1,000 = GBP 400 a week.  Both young people are tracked 104 weeks (all inside
    the 10 quarters), 208 weeks in all.  Without therapy A is in care weeks 10-59 (50 weeks), B never.
    Baseline 50%: 104 - 50 = 54 weeks -> GBP 21,600 paid for care the therapy did not avoid.
    Baseline 20%: 41.6 - 50 = -8.4 weeks -> GBP -3,360 (the contract underpays).
    The payments themselves do not depend on the counterfactual arm.
    """
    people, arm = _two_people()
    cf = _arm_in_foster_care(0, 10, 60)
    for share, gap in ((0.5, 21_600.0), (0.2, -3_360.0)):
        s = _scenario(
            f"contract.tariffs=[{{metric: care_days_saved, baseline_care_share: {share}, share_of_placement_cost: 0.4, "
            "reference_weekly_care_cost_gbp: 1000}]",
            "contract.caps={}",
            "contract.topup={share: 0}",
            "contract.payment_lag_quarters=0",
        )
        params = {
            "contract.tariffs.0.baseline_care_share": np.array([share]),
            "contract.tariffs.0.share_of_placement_cost": np.array([0.4]),
            "contract.tariffs.0.reference_weekly_care_cost_gbp": np.array([1000.0]),
        }
        args = (s, people, arm, np.array([0, 0]), np.array([104, 104]), params, np.zeros((1, 10)), 1, 10)
        with_cf, without = compute_payments(*args, counterfactual=cf), compute_payments(*args)
        np.testing.assert_allclose(with_cf.baseline_gap, [gap], atol=1e-9)
        np.testing.assert_array_equal(without.baseline_gap, [0.0])
        np.testing.assert_array_equal(with_cf.paid, without.paid)


def test_quarter_weeks_matches_a_week_by_week_count():
    """The compiled quarter split equals a brute-force count, week by week."""
    from sibmodel.model.tally import quarter_weeks

    rng = np.random.default_rng(1)
    start = rng.integers(0, 420, 3000)
    end = start + rng.integers(-5, 120, 3000)  # some empty or reversed intervals, some past the horizon
    key = rng.integers(0, 11, 3000)
    fast = quarter_weeks(key, start, end, 11, 30)
    brute = np.zeros((11, 30))
    for k, s0, e0 in zip(key, start, end):
        for w in range(s0, min(e0, 30 * 13)):
            brute[k, w // 13] += 1
    np.testing.assert_array_equal(fast, brute)


def test_payments_without_per_person_cap_match_the_per_person_path():
    """Summing straight into boroughs (no per-person cap) gives what the per-person path gives
    with a cap too high to bind."""
    people, arm = _two_people()
    params = {"contract.tariffs.0.payment_per_week_gbp": np.array([123.0])}
    out = []
    for caps in ("contract.caps={total_gbp: 15000}", "contract.caps={per_young_person_gbp: 1e12, total_gbp: 15000}"):
        s = _scenario(
            "contract.tariffs=[{metric: weekly_out_of_care, payment_per_week_gbp: 123}]",
            caps,
            "contract.topup={share: 0.2, max_gbp: 2000}",
        )
        out.append(
            compute_payments(s, people, arm, np.array([0, 0]), np.array([104, 104]), params, np.zeros((1, 10)), 1, 10)
        )
    np.testing.assert_allclose(out[0].achieved, out[1].achieved, rtol=1e-12)
    np.testing.assert_allclose(out[0].topup_paid, out[1].topup_paid, rtol=1e-12)
    assert out[0].uncapped_total[0] == out[1].uncapped_total[0] == (94 + 104) * 123


def test_pfp_contract_switch_both_variants_run_and_pay_less_for_weeks_after_care():
    """PFP with and without payment for weeks at home after a return from care, same seed.

    Only payments move: the pathways (common random numbers) are the same.  The amount is
    checked against a count made by a different code path: with tracking from referral the
    weekly occupancy (difference arrays over all spells) covers exactly the tracking
    windows, so the mean over draws of what the switch removes (before caps) is
    GBP 213 x the mean weeks in state ``home_after_care`` of the treated arm.
    """
    from sibmodel import load_scenario
    from sibmodel.engine.run import simulate

    on = load_scenario(PFP, ["contract.tracking.starts_at=referral"])
    off = load_scenario(
        PFP, ["contract.tracking.starts_at=referral", "contract.tariffs.0.pay_weeks_after_return_from_care=false"]
    )
    assert on.contract.tariffs[0].pay_weeks_after_return_from_care is True  # the default: as before
    r_on, r_off = (simulate(s, draws=60, seed=3, chunk_size=30) for s in (on, off))
    for col in ("starts", "weeks_out_of_care", "care_cost_treated_gbp", "government_value_gbp"):
        np.testing.assert_array_equal(r_on.draws[col].to_numpy(), r_off.draws[col].to_numpy())
    removed = r_on.draws["uncapped_payments_gbp"] - r_off.draws["uncapped_payments_gbp"]
    assert (removed > 0).all()
    assert (r_off.draws["outcome_payments_gbp"] <= r_on.draws["outcome_payments_gbp"]).all()
    occ = r_on.occupancy
    after = occ[(occ.arm == "treated") & (occ.state == "home_after_care")]["mean_count"].sum()
    assert removed.mean() == pytest.approx(213 * after, rel=1e-9)


def test_essex_baseline_gap_is_the_price_of_the_contract_baseline_minus_the_counterfactual_care():
    """Essex (one borough, fixed costs): per draw, the payments for the baseline's gap are
    ``price x (0.55 x tracked weeks - counterfactual care weeks)``, with the price 25% of the entry-mix
    weekly cost, worked by hand: 0.7 x 600 + 0.27 x 3,000 + 0.03 x 4,038 = GBP 1,351.14 a week
    (scenarios/essex/essex_mst.yaml), so GBP 337.785 a week.

    In the stress where the true care share without MST is 40% (15 points under the contract's 55%),
    every payment is the same, draw by draw (common random numbers: the treated arm does not depend
    on the baseline), and the gap is about 15% of the tracked weeks at that price; as run, about 0.
    """
    from sibmodel import load_scenario
    from sibmodel.engine.run import simulate

    runs = {
        name: simulate(load_scenario(scenario_file(f"essex/{name}.yaml")), draws=60, seed=2, chunk_size=30)
        for name in ("essex_mst", "true_baseline_below_contract")
    }
    gap_share = {}
    for name, r in runs.items():
        d = r.draws
        cf_care_weeks = d["tracked_weeks"] - d["weeks_home_counterfactual"]
        np.testing.assert_allclose(
            d["baseline_gap_payments_gbp"], 337.785 * (0.55 * d["tracked_weeks"] - cf_care_weeks), rtol=1e-9
        )
        assert r.summary()["contract"]["baseline_gap_payments_gbp"]["p50"] == pytest.approx(
            np.median(d["baseline_gap_payments_gbp"])
        )
        gap_share[name] = d["baseline_gap_payments_gbp"].sum() / (337.785 * d["tracked_weeks"].sum())
    base, stress = runs["essex_mst"].draws, runs["true_baseline_below_contract"].draws
    for col in ("outcome_payments_gbp", "weeks_out_of_care", "investor_moic"):
        assert stress[col].equals(base[col]), col
    # the map from baseline to counterfactual is solved at central inputs; pooled over draws it lands near them
    assert gap_share["true_baseline_below_contract"] == pytest.approx(0.15, abs=0.02)
    assert gap_share["essex_mst"] == pytest.approx(0.0, abs=0.02)


# --------------------------------------------------------------------------- the metrics registry
def _tariff_cases():
    """One tariff of each metric, with its drawn inputs, for the two young people of ``_two_people``."""
    return {
        "weekly_out_of_care": (
            "{metric: weekly_out_of_care, payment_per_week_gbp: 100}",
            {"payment_per_week_gbp": 100.0},
        ),
        "engagement": ("{metric: engagement, payment_gbp: 1000, after_therapy_weeks: 4}", {"payment_gbp": 1000.0}),
        "milestone": ("{metric: milestone, payment_gbp: 2000, at_week: 26}", {"payment_gbp": 2000.0}),
        "care_days_saved": (
            "{metric: care_days_saved, baseline_care_share: 0.5, "
            "share_of_placement_cost: 0.4, reference_weekly_care_cost_gbp: 1000}",
            {"baseline_care_share": 0.5, "share_of_placement_cost": 0.4, "reference_weekly_care_cost_gbp": 1000.0},
        ),
    }


def test_every_metric_in_the_schema_is_registered_and_documented():
    """The ``Tariff`` union of the schema, the registry and the scenario format's list of metrics agree."""
    from typing import get_args

    from sibmodel.contract.metrics import METRICS
    from sibmodel.scenario.schema import Tariff

    models = get_args(get_args(Tariff)[0])
    by_name = {get_args(m.model_fields["metric"].annotation)[0]: m for m in models}
    assert set(by_name) == set(METRICS) == set(_tariff_cases())
    for name, metric in METRICS.items():
        assert metric.name == name and metric.model is by_name[name]
        assert metric.price_fields and set(metric.price_fields) <= set(metric.model.model_fields)
    doc = (Path(__file__).resolve().parents[1] / "docs" / "scenario-format.md").read_text()
    row = next(line for line in doc.splitlines() if line.startswith("| `contract.tariffs[].metric`"))
    assert all(f"`{name}`" in row for name in METRICS), row


@pytest.mark.parametrize("name", sorted(_tariff_cases()))
def test_payments_are_proportional_to_each_metrics_price_fields(name):
    """What the ``tariff`` lever relies on: with no cap, scaling a metric's price fields by 2.5 scales
    every payment by 2.5 (the hand-worked amounts of the tests above, e.g. 198 weeks x GBP 100)."""
    from sibmodel.contract.metrics import METRICS, tariff_price_paths

    yaml, values = _tariff_cases()[name]
    s = _scenario(
        f"contract.tariffs=[{yaml}]", "contract.caps={}", "contract.topup={share: 0}", "contract.payment_lag_quarters=0"
    )
    assert tariff_price_paths(s) == [f"contract.tariffs.0.{f}" for f in METRICS[name].price_fields]
    people, arm = _two_people()
    pays = []
    for factor in (1.0, 2.5):
        params = {
            f"contract.tariffs.0.{k}": np.array([v * (factor if k in METRICS[name].price_fields else 1.0)])
            for k, v in values.items()
        }
        pays.append(
            compute_payments(s, people, arm, np.array([0, 0]), np.array([104, 104]), params, np.zeros((1, 10)), 1, 10)
        )
    assert pays[0].uncapped_total[0] > 0
    np.testing.assert_allclose(pays[1].achieved, 2.5 * pays[0].achieved, rtol=1e-12)
    np.testing.assert_allclose(pays[1].uncapped_total, 2.5 * pays[0].uncapped_total, rtol=1e-12)


def test_tracking_window_hand_worked():
    """104-week windows; weeks from referral to the contract end: 200, 50 and 5.

    From referral: (0, 104), (0, 50), (0, 5).  From the end of 20 weeks of therapy:
    (20, 124), (20, 50), and (20, 20) when the contract ends before therapy does (never negative).
    Without a cut the window is the whole length: (20, 124).
    """
    from sibmodel.model.referrals import tracking_window
    from sibmodel.scenario.schema import Tracking

    left = np.array([200, 50, 5])
    start, end = tracking_window(Tracking(length_weeks=104, starts_at="referral"), np.array([20, 20, 20]), left)
    np.testing.assert_array_equal(start, [0, 0, 0])
    np.testing.assert_array_equal(end, [104, 50, 5])
    after = Tracking(length_weeks=104, starts_at="therapy_end")
    start, end = tracking_window(after, np.array([20, 20, 20]), left)
    np.testing.assert_array_equal(start, [20, 20, 20])
    np.testing.assert_array_equal(end, [124, 50, 20])
    assert tuple(map(int, tracking_window(after, 20))) == (20, 124)


def test_stress_solve_tariff_on_essex(tmp_path):
    """``stress --solve tariff`` on Essex moves the care-days-saved tariff's price: its share of the
    placement cost.  Checked without the lever: the scenario with that share set to 0.25 x the solved
    factor by ``--set`` gives the P(loss) the goal seek reports.  The lever stops at a factor of
    1 / 0.25 = 4, where the share reaches 1."""
    import pandas as pd
    from click.testing import CliRunner

    from sibmodel import load_scenario
    from sibmodel.cli.commands import main
    from sibmodel.workflows.levers import get_lever
    from sibmodel.workflows.stress import RunSettings, summary_figure

    essex = str(Path(__file__).resolve().parents[1] / "scenarios" / "essex" / "essex_mst.yaml")
    assert load_scenario(essex).contract.tariffs[0].share_of_placement_cost.value == 0.25
    assert get_lever("tariff", load_scenario(essex)).bracket[1] == pytest.approx(4.0, rel=1e-9)
    assert get_lever("tariff", load_scenario(PFP)).bracket == (0.05, 10.0)
    r = CliRunner().invoke(
        main,
        [
            "stress",
            essex,
            "--no-suite",
            "--solve",
            "tariff",
            "--for",
            "investor.p_loss=0.5",
            "--draws",
            "100",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "s"),
        ],
    )
    assert r.exit_code == 0, r.output
    row = pd.read_csv(tmp_path / "s" / "goal_seek.csv").iloc[0]
    assert 0.05 < row["value"] < 1.0  # the base loses less often than half the time: the tariff comes down
    assert row["natural"].startswith("contract.tariffs.0.share_of_placement_cost median")
    moved = load_scenario(essex, [f"contract.tariffs.0.share_of_placement_cost={0.25 * float(row['value'])!r}"])
    rerun = RunSettings(draws=100, seed=1).run(moved).summary()
    assert summary_figure(rerun, "investor.p_loss") == row["achieved"]
