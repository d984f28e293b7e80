"""The users' workflows: stress suite, tornado, reverse stress, goal seek, join, baseline, CLI.

The model is being calibrated, so no test pins a model output: each checks a
direction, an identity or that a solved value meets its target when re-run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from support import PFP, SCENARIOS, scenario_file

from sibmodel import load_scenario
from sibmodel.cli.commands import main
from sibmodel.scenario.load import resolve, validate_data
from sibmodel.workflows.baseline import policy_baseline
from sibmodel.workflows.join import candidate_block, join_analysis, with_borough, without_borough
from sibmodel.workflows.levers import (
    LEVERS,
    WorkflowError,
    get_lever,
    hold_inputs,
    odds_spec,
    power_spec,
    scale_spec,
)
from sibmodel.workflows.stress import (
    STRESS_COLUMNS,
    RunSettings,
    goal_seek,
    load_stress_suite,
    solve_lever,
    stress_suite,
    summary_figure,
    tornado,
)

SETTINGS = RunSettings(draws=150, seed=11, chunk_size=150)


# --------------------------------------------------------------------------- levers
def test_scale_power_odds_specs_are_exact_per_draw():
    from sibmodel.model.sampling import ppf
    from sibmodel.scenario.quantities import Beta, LogNormal, Triangular

    u = np.array([0.1, 0.5, 0.9])
    ln = {"dist": "lognormal", "median": 0.2, "sigma": 0.25}
    np.testing.assert_allclose(ppf(LogNormal(**scale_spec(ln, 1.5)), u), 1.5 * ppf(LogNormal(**ln), u), rtol=1e-12)
    np.testing.assert_allclose(ppf(LogNormal(**power_spec(ln, 0.5)), u), ppf(LogNormal(**ln), u) ** 0.5, rtol=1e-12)
    tri = {"dist": "triangular", "low": 26, "mode": 40, "high": 60}
    np.testing.assert_allclose(ppf(Triangular(**scale_spec(tri, 2.0)), u), 2 * ppf(Triangular(**tri), u), rtol=1e-12)
    # odds x 3 on a beta: the mean's odds triple, the concentration is kept
    b = Beta(**odds_spec({"dist": "beta", "mean": 0.5, "sd": 0.05}, 3.0))
    a_, b_ = b.shape_params()
    assert a_ / (a_ + b_) == pytest.approx(0.75)
    assert a_ + b_ == pytest.approx(0.25 / 0.0025 - 1)
    assert odds_spec({"dist": "fixed", "value": 0.5}, 3.0)["value"] == pytest.approx(0.75)


def test_lever_at_base_is_the_scenario_and_moves_inputs(pfp):
    for name in LEVERS:
        lever = get_lever(name, pfp)
        if name == "cap" and pfp.contract.caps.total_gbp is None:
            continue
        assert lever.scenario(pfp, lever.base) is pfp
    moved = get_lever("referrals").scenario(pfp, 0.5)
    assert moved.referrals.volume_multiplier.mean() == pytest.approx(0.5 * pfp.referrals.volume_multiplier.mean())
    with pytest.raises(WorkflowError, match="unknown lever"):
        get_lever("weather")


def test_hold_inputs_keeps_other_draws(pfp):
    """Holding one input leaves every other input's draws unchanged (common random numbers)."""
    path = "care.entry.prob"
    base = SETTINGS.run(pfp).draws
    held = SETTINGS.run(hold_inputs(pfp, {path: 0.8})).draws
    assert "input:" + path not in held
    for col in [c for c in base if c.startswith("input:") and c != "input:" + path]:
        np.testing.assert_array_equal(base[col].to_numpy(), held[col].to_numpy())


# --------------------------------------------------------------------------- stress suite
#: Expected direction of each stress scenario against the base: -1 lower, +1 higher, 0 unchanged.
EXPECTED = {
    "referrals_minus30": {"irr_p50": -1, "moic_p50": -1},
    "effect_halved": {"irr_p50": -1, "moic_p50": -1, "commissioner_net_savings_p50_gbp": -1},
    "delivery_costs_plus25": {"irr_p50": -1, "moic_p50": -1, "capital_drawn_peak_p95_gbp": +1},
    # the same payments arrive later: more capital for the same profit or loss, so the multiple moves towards 1
    # (lower when the investor gains, higher when it loses) and the IRR towards 0 (a loss spread over a longer
    # time is a smaller annual rate); P(loss) is unchanged
    "payments_year_late": {
        "irr_p50": ("towards", 0.0),
        "capital_drawn_peak_p95_gbp": +1,
        "moic_p50": ("towards", 1.0),
        "p_loss": 0,
    },
    "borough_leaves": {"irr_p50": -1, "moic_p50": -1},
    # the top-up only changes who pays: the investor receives the same, the boroughs pay more
    "no_topup": {"irr_p50": 0, "p_loss": 0, "moic_p50": 0, "commissioner_net_savings_p50_gbp": -1},
}


@pytest.fixture(scope="module")
def suite(pfp):
    return stress_suite(pfp, load_stress_suite(scenario_file("stress")), SETTINGS)


def test_stress_table_has_every_scenario_and_column(suite):
    assert list(suite["scenario"])[0] == "base"
    assert set(EXPECTED) <= set(suite["scenario"])
    for col in STRESS_COLUMNS:
        assert col in suite
    assert suite["p_loss"].between(0, 1).all()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_stress_moves_investor_metrics_in_the_expected_direction(suite, name):
    base = suite.iloc[0]
    row = suite[suite["scenario"] == name].iloc[0]
    for col, sign in EXPECTED[name].items():
        if isinstance(sign, tuple):
            assert abs(row[col] - sign[1]) < abs(base[col] - sign[1]), col
        elif sign == 0:
            assert row[col] == pytest.approx(base[col], rel=1e-12, abs=1e-12), col
        elif sign < 0:
            assert row[col] < base[col], col
        else:
            assert row[col] > base[col], col
    if name != "no_topup":
        assert row["p_loss"] >= base["p_loss"]  # an adverse stress never makes a loss less likely


def test_stress_suite_is_reproducible(pfp, suite):
    again = stress_suite(pfp, {"effect_halved": load_scenario(scenario_file("stress/effect_halved.yaml"))}, SETTINGS)
    pd.testing.assert_series_equal(
        again.iloc[1][list(STRESS_COLUMNS)],
        suite[suite["scenario"] == "effect_halved"].iloc[0][list(STRESS_COLUMNS)],
        check_names=False,
    )


# --------------------------------------------------------------------------- tornado
def test_tornado_ordering_is_stable_across_seeds(pfp):
    """Inputs whose swings differ by a factor of 3 or more keep their order with another seed."""
    inputs = [
        "referrals.volume_multiplier",
        "interventions.FFT.effect.hazard_ratio",
        "care.entry.prob",
        "care.reentry.prob",
    ]
    a = tornado(pfp, RunSettings(draws=150, seed=1, chunk_size=150), inputs=inputs)
    b = tornado(pfp, RunSettings(draws=150, seed=2, chunk_size=150), inputs=inputs).set_index("input")
    assert set(a["input"]) == set(inputs)
    assert list(a["input"]) == sorted(a["input"], key=lambda p: -a.set_index("input").loc[p, "irr_swing"])
    swing = a.set_index("input")["irr_swing"]
    checked = 0
    for big in swing.index:
        for small in swing.index:
            if swing[big] > 3 * swing[small] and swing[big] > 0.01:
                assert b.loc[big, "irr_swing"] > b.loc[small, "irr_swing"], (big, small)
                checked += 1
    assert checked > 0
    # referral volume: more referrals, higher median IRR
    row = a.set_index("input").loc["referrals.volume_multiplier"]
    assert row["irr_p50_high"] > row["irr_p50_low"]


def test_tornado_shows_the_baseline_deciding_the_boroughs_not_the_investor(pfp):
    """The baseline is its own input: held at its p10 or p90 it leaves the investor's IRR and P(loss)
    exactly as they were (payments follow the treated arm) and moves the boroughs' net savings more
    than the effect does; less time at home without therapy (p10) means more saved."""
    inputs = ["baseline.time_at_home_share", "interventions.FFT.effect.hazard_ratio"]
    t = tornado(pfp, RunSettings(draws=150, seed=1, chunk_size=150), inputs=inputs).set_index("input")
    row = t.loc["baseline.time_at_home_share"]
    assert row["irr_p50_low"] == row["irr_p50_high"] and row["p_loss_low"] == row["p_loss_high"]
    assert row["net_savings_p50_low"] > row["net_savings_p50_high"]
    assert row["net_savings_swing"] > t.loc["interventions.FFT.effect.hazard_ratio", "net_savings_swing"]


# --------------------------------------------------------------------------- reverse stress and goal seek
def test_reverse_stress_root_gives_median_irr_zero_when_rerun(pfp):
    settings = RunSettings(draws=150, seed=5, chunk_size=150)
    root = solve_lever(pfp, "delivery_cost", "investor.irr.p50", 0.0, settings)
    assert np.isfinite(root.value), root.note
    rerun = settings.run(get_lever("delivery_cost").scenario(pfp, root.value)).summary()
    assert summary_figure(rerun, "investor.irr.p50") == pytest.approx(0.0, abs=2e-3)
    assert root.ci_low <= root.value <= root.ci_high
    # delivery costs are adverse: the root is above plan exactly when the base median IRR is positive
    assert (root.value > 1.0) == (root.base_figure > 0)


def test_reverse_stress_integer_lever_and_unreachable_target(pfp):
    settings = RunSettings(draws=100, seed=5, chunk_size=100)
    lag = solve_lever(pfp, "payment_lag", "investor.irr.p50", 10.0, settings, bracket=(0, 3))
    assert np.isnan(lag.value) and "not reached" in lag.note
    far = solve_lever(pfp, "referrals", "investor.p_loss", 1.5, settings)
    assert np.isnan(far.value) and "not reached" in far.note


def test_goal_seek_tariff_meets_target_when_rerun(pfp):
    settings = RunSettings(draws=150, seed=3, chunk_size=150)
    root = goal_seek(pfp, "tariff", "investor.p_loss", 0.10, settings)
    lever = get_lever("tariff")
    rerun = settings.run(lever.scenario(pfp, root.value)).summary()
    assert root.achieved == summary_figure(rerun, "investor.p_loss")
    # P(loss) is a step function over draws (several draws can cross at once, e.g. where a cap
    # binds): the solved tariff is where it crosses 0.10, so a little either side brackets it
    step = 2e-3 * (root.bracket[1] - root.bracket[0])
    below = summary_figure(settings.run(lever.scenario(pfp, root.value - step)).summary(), "investor.p_loss")
    above = summary_figure(settings.run(lever.scenario(pfp, root.value + step)).summary(), "investor.p_loss")
    assert above <= 0.10 <= below, (below, root.achieved, above)
    # raising the tariff lowers P(loss): the solved factor is above 1 exactly when the base is riskier
    assert (root.value > 1.0) == (root.base_figure > 0.10)


def test_goal_seek_on_any_summary_figure(pfp):
    """A figure outside FAST_FIGURES goes through summary(): the boroughs' median benefit-cost ratio down by a fifth."""
    settings = RunSettings(draws=60, seed=4, chunk_size=60)
    key = "commissioner.total.benefit_cost_ratio.p50"
    base = summary_figure(settings.run(pfp).summary(), key)
    root = goal_seek(pfp, "tariff", key, 0.8 * base, settings)
    assert root.value > 1.0  # a higher tariff lowers the ratio of care costs avoided to payments
    assert root.achieved == pytest.approx(0.8 * base, rel=0.02)


def test_goal_seek_out_of_reach_and_bad_figure(pfp):
    settings = RunSettings(draws=50, seed=3, chunk_size=50)
    with pytest.raises(WorkflowError, match="cannot meet"):
        goal_seek(pfp, "tariff", "investor.p_loss", 1.5, settings)
    with pytest.raises(WorkflowError, match="not a figure"):
        goal_seek(pfp, "tariff", "investor.nonsense", 0.1, settings)


# --------------------------------------------------------------------------- join
def test_join_with_zero_referrals_changes_nothing(pfp):
    """A borough with no referrals changes no other figure, bit for bit: every borough's random numbers have
    their own key (sibmodel.model.philox), so the other boroughs keep their draws."""
    block = candidate_block(pfp, "Croydon", starts_per_quarter=0.0)
    joined = with_borough(pfp, "Croydon", block)
    assert "Croydon" in joined.interventions["FFT"].delivery.teams["Family Psychology Mutual FFT"].boroughs
    r0, r1 = SETTINGS.run(pfp).draws, SETTINGS.run(joined).draws
    for col in r0:
        np.testing.assert_allclose(r1[col].to_numpy(float), r0[col].to_numpy(float), rtol=1e-12, atol=1e-6, err_msg=col)
    for col in ("starts", "outcome_payments_gbp", "care_costs_avoided_gbp", "net_savings_gbp"):
        assert (r1[f"borough.Croydon.{col}"] == 0).all()


def test_join_candidate_placement_mix_drives_its_care_costs(pfp):
    """The same candidate with a residential-heavy placement mix avoids more care cost than with
    a foster-only one (children's homes cost ~5x foster care, [DfE-PQ-49075] against [PSSRU-2017]),
    on common random numbers."""
    out = {}
    for label, mix in (("foster", {"foster": 1.0}), ("residential", {"foster": 0.2, "residential": 0.8})):
        r = join_analysis(pfp, "Croydon", SETTINGS, starts_per_quarter=3.0, placement_mix=mix, break_even=False)
        out[label] = r.candidate["care_costs_avoided_gbp"]["p50"]
    assert out["residential"] > 2 * out["foster"] > 0


def test_join_with_care_costs_far_above_tariff_saves_money(pfp):
    """Care costs 100x the tariff per week: avoiding care saves far more than the payments."""
    tariff = pfp.contract.tariffs[0].payment_per_week_gbp.mean()
    block = candidate_block(
        pfp, "Croydon", starts_per_quarter=3.0, weekly_care_cost_gbp={k: 100 * tariff for k in pfp.care.placements}
    )
    data = without_borough(with_borough(pfp, "Croydon", block), "Croydon")
    assert set(data.boroughs) == set(pfp.boroughs)
    joined = with_borough(pfp, "Croydon", block)
    assert all(
        joined.boroughs["Croydon"].weekly_care_cost_gbp[k].mean() == pytest.approx(100 * tariff)
        for k in pfp.care.placements
    )
    r = join_analysis(joined, "Croydon", SETTINGS, break_even=False)
    assert r.candidate["net_savings_gbp"]["p50"] > 0
    assert r.candidate["p_net_positive"] > 0.9
    assert r.candidate["outcome_payments_gbp"]["p50"] > 0
    assert len(r.investor) == 2 and set(r.others["borough"]) == set(pfp.boroughs)


def test_join_break_even_care_cost_gives_zero_median_net_saving(pfp):
    settings = RunSettings(draws=100, seed=2, chunk_size=100)
    r = join_analysis(pfp, "Croydon", settings, starts_per_quarter=2.0)
    assert np.isfinite(r.break_even_care_cost_factor), r.notes
    # re-run at the break-even costs: the candidate's median net saving is about zero
    from sibmodel.workflows.join import _scale_care_costs

    block = candidate_block(pfp, "Croydon", starts_per_quarter=2.0)
    rerun = settings.run(
        _scale_care_costs(with_borough(pfp, "Croydon", block), "Croydon", r.break_even_care_cost_factor)
    )
    net = np.median(rerun.draws["borough.Croydon.net_savings_gbp"])
    paid = np.median(rerun.draws["borough.Croydon.outcome_payments_gbp"])
    assert abs(net) < 0.01 * paid


def test_join_of_an_existing_borough_keeps_its_own_team(pfp):
    """Merton's MST team is SWLSTG [PFP-launch-2018]: with vs without Merton
    keeps it there, not in the first borough's team."""
    r = join_analysis(pfp, "Merton", RunSettings(draws=30, seed=1, chunk_size=30), break_even=False)
    assert "Merton" not in set(r.others["borough"])
    block = candidate_block(pfp, "Merton")
    again = with_borough(pfp, "Merton", block)
    assert again == pfp


def test_join_errors(pfp):
    with pytest.raises(WorkflowError, match="not in the scenario"):
        without_borough(pfp, "Atlantis")
    with pytest.raises(WorkflowError, match="unknown borough"):
        candidate_block(pfp, "Croydon", like="Atlantis")


# --------------------------------------------------------------------------- baseline
def test_baseline_tables_and_identities(pfp):
    res = SETTINGS.run(pfp)
    t = policy_baseline(res)
    out = t["outcomes"].set_index("figure")
    assert out.loc["time at home, without therapy", "reference"] == pytest.approx(0.35)  # [BOP-PFP], pfp.yaml observed
    assert out.loc["time at home, with therapy", "reference"] == pytest.approx(0.894)
    assert out.loc["time at home, with therapy", "p50"] > out.loc["time at home, without therapy", "p50"]
    buy = t["purchase"].set_index("purchase")
    # fee for service: delivery cost net of the SPV's fees, the same in every draw when costs are fixed
    fs = buy.loc["fee for service"]
    assert fs["public_cost_p5_gbp"] <= fs["public_cost_p50_gbp"] <= fs["public_cost_p95_gbp"]
    assert buy.loc["outcomes contract", "public_cost_p50_gbp"] > 0
    # undiscounted fee-for-service cost + fees = the SPV's delivery costs, draw by draw
    from sibmodel.workflows.baseline import fee_series

    fees = fee_series(pfp, res.draws, res.series["delivery_costs_gbp"].shape[1]).sum(axis=1)
    assert (fees > 0).all() and (fees < res.draws["delivery_costs_gbp"]).all()


def test_baseline_reference_from_a_published_care_share():
    """Essex publishes care shares (10.8% vs 55%, INDIGO-POJ-0130): time at home 89.2% vs 45%."""
    from sibmodel.workflows.baseline import home_share_reference

    essex = load_scenario(scenario_file("essex/essex_mst.yaml"))
    assert home_share_reference(essex, "counterfactual")[0] == pytest.approx(0.45)
    assert home_share_reference(essex, "treated")[0] == pytest.approx(0.892)
    bare = validate_data({**resolve(PFP), "observed": {}})
    assert np.isnan(home_share_reference(bare, "counterfactual")[0])


# --------------------------------------------------------------------------- CLI
def test_cli_workflows_write_tables_and_charts(tmp_path):
    runner = CliRunner()
    r = runner.invoke(main, ["baseline", PFP, "--draws", "50", "--seed", "1", "--out", str(tmp_path / "b")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "b" / "baseline_outcomes.csv").exists() and (tmp_path / "b" / "baseline.png").exists()
    r = runner.invoke(
        main,
        [
            "join",
            PFP,
            "--borough",
            "Croydon",
            "--starts-per-quarter",
            "2",
            "--join",
            "2019-01-01",
            "--care-cost",
            "foster=710",
            "--entry-odds-ratio",
            "1.2",
            "--placement-mix",
            "foster=0.6",
            "--placement-mix",
            "residential=0.4",
            "--no-break-even",
            "--draws",
            "50",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "j"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "j" / "join.png").exists()
    r = runner.invoke(main, ["stress", PFP, "--draws", "50", "--seed", "1", "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    table = pd.read_csv(tmp_path / "s" / "stress.csv")
    assert table["scenario"].iloc[0] == "base" and (tmp_path / "s" / "stress.png").exists()
    r = runner.invoke(main, ["sensitivity", PFP, "--n-base", "2", "--replicates", "1", "--out", str(tmp_path / "g")])
    assert r.exit_code == 0, r.output
    indices = pd.read_csv(tmp_path / "g" / "sobol.csv")
    assert set(indices["output"]) == {"investor_irr", "net_savings"} and (tmp_path / "g" / "sobol.png").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["stress", PFP, "--suite", "no/such/folder"], "stress suite must be a folder"),
        (["stress", PFP, "--no-suite", "--solve", "tariff"], "give both --solve"),
        (
            ["stress", PFP, "--no-suite", "--solve", "weather", "--for", "investor.p_loss=0.1", "--draws", "10"],
            "unknown lever",
        ),
        (
            ["stress", PFP, "--no-suite", "--solve", "tariff", "--for", "investor.p_loss=lots", "--draws", "10"],
            "FIGURE=VALUE",
        ),
        (["join", PFP, "--borough", "Croydon", "--like", "Atlantis"], "unknown borough"),
        (["join", PFP, "--borough", "Croydon", "--join", "2030-01-01", "--draws", "10"], "join_date"),
        (["join", PFP, "--borough", "Croydon", "--care-cost", "foster", "--draws", "10"], "PLACEMENT=GBP_PER_WEEK"),
        (
            ["join", PFP, "--borough", "Croydon", "--care-cost", "castle=900", "--draws", "10", "--no-break-even"],
            "unknown placement type",
        ),
        (["join", PFP, "--borough", "Croydon", "--placement-mix", "foster", "--draws", "10"], "PLACEMENT=SHARE"),
        (
            ["join", PFP, "--borough", "Croydon", "--placement-mix", "foster=0.5", "--draws", "10", "--no-break-even"],
            "placement_mix",
        ),
        (["sensitivity", PFP, "--n-base", "100"], "power of 2"),
        (["baseline", "no/such.yaml"], "file not found"),
    ],
)
def test_cli_workflow_errors_exit_2_without_traceback(args, message, tmp_path):
    r = CliRunner().invoke(main, [*args, "--out", str(tmp_path)])
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "Traceback" not in r.output


def test_fast_figures_agree_with_the_summary(pfp):
    """The figures the workflows compute from the per-draw table are those of summary.json."""
    from sibmodel.workflows.stress import FAST_FIGURES

    res = SETTINGS.run(pfp)
    summary = res.summary()
    assert FAST_FIGURES
    for key, fn in FAST_FIGURES.items():
        # every figure is defined at this seed: no NaN, which would equal a NaN from a broken reader
        assert fn(res.draws) == pytest.approx(summary_figure(summary, key), rel=1e-12), key


def test_stress_files_that_do_not_extend_the_base_are_named():
    from sibmodel.workflows.stress import stresses_not_extending

    assert stresses_not_extending(PFP, scenario_file("stress")) == []
    assert set(stresses_not_extending(scenario_file("pfp_launch.yaml"), scenario_file("stress"))) == {
        p.name for p in (SCENARIOS / "stress").glob("*.yaml")
    }
