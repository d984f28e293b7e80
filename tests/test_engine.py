"""Engine: reproducibility, worker independence, accounting identities, outputs."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from support import PFP

from sibmodel import load_scenario
from sibmodel.cli.commands import main
from sibmodel.engine.run import simulate
from sibmodel.scenario.load import apply_overrides, resolve, validate_data


@pytest.fixture(scope="module")
def run(pfp):
    return simulate(pfp, draws=120, seed=7, chunk_size=50)


def _hash(df: pd.DataFrame) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(df, index=True).values.tobytes()).hexdigest()


def test_same_seed_same_bits(pfp, run):
    again = simulate(pfp, draws=120, seed=7, chunk_size=50)
    assert _hash(run.draws) == _hash(again.draws)


def test_different_seed_differs(pfp, run):
    other = simulate(pfp, draws=120, seed=8, chunk_size=50)
    assert _hash(run.draws) != _hash(other.draws)


def test_workers_do_not_change_output(pfp, run):
    two = simulate(pfp, draws=120, seed=7, chunk_size=50, workers=2)
    assert _hash(run.draws) == _hash(two.draws)


def test_unrelated_input_leaves_draws_unchanged(pfp, run):
    """Each input has its own named stream: making another input uncertain changes nothing else."""
    data = apply_overrides(
        resolve(PFP), ["investment.fees.evaluation_fee_gbp={dist: uniform, low: 50000, high: 150000}"]
    )
    s2 = validate_data(data, PFP)
    r2 = simulate(s2, draws=120, seed=7, chunk_size=50)
    for col in [
        "input:care.entry.prob",
        "input:interventions.MST.effect.hazard_ratio",
        "starts",
        "weeks_out_of_care",
        "outcome_payments_gbp",
    ]:
        np.testing.assert_array_equal(run.draws[col].to_numpy(), r2.draws[col].to_numpy())
    assert "input:investment.fees.evaluation_fee_gbp" in r2.draws


def test_accounting_identities(run):
    d = run.draws
    # payments = borough paid + top-up, on every draw
    np.testing.assert_allclose(
        d["outcome_payments_gbp"], d["borough_paid_gbp"] + d["topup_paid_gbp"], rtol=1e-12, atol=1e-6
    )
    # investor cash = payments - costs (over the life), every draw
    net = run.series["investor_net_cashflow_gbp"].sum(axis=1) + d["investor_surplus_returned_gbp"].to_numpy()
    np.testing.assert_allclose(net, d["outcome_payments_gbp"] - d["delivery_costs_gbp"], rtol=1e-9, atol=1e-3)
    # distributions never exceed what came in: cumulative distributions <= cumulative income - costs + drawn
    inc = np.cumsum(run.series["outcome_payments_gbp"] - run.series["delivery_costs_gbp"], axis=1)
    cum_net = np.cumsum(run.series["investor_net_cashflow_gbp"], axis=1)
    assert np.all(cum_net <= inc + 1e-6)
    # the sum over boroughs equals the total (discounted commissioner payments)
    names = list(run.scenario.boroughs)
    total = sum(d[f"borough.{n}.outcome_payments_gbp"] for n in names)
    np.testing.assert_allclose(total, d["commissioner_outcome_payments_gbp"], rtol=1e-12)
    starts = sum(d[f"borough.{n}.starts"] for n in names)
    np.testing.assert_array_equal(starts, d["starts"])
    # care costs in each arm: avoided = counterfactual - treated, per borough and in total;
    # boroughs add up; discounting to 2018 only shrinks (flows are all after the price-year start)
    for arm in ("treated", "counterfactual"):
        by_b = sum(d[f"borough.{n}.care_costs_{arm}_gbp"] for n in names)
        np.testing.assert_allclose(by_b, d[f"commissioner_care_costs_{arm}_gbp"], rtol=1e-12)
        assert (d[f"commissioner_care_costs_{arm}_gbp"] <= d[f"care_cost_{arm}_gbp"] + 1e-6).all()
    for n in names:
        np.testing.assert_allclose(
            d[f"borough.{n}.care_costs_avoided_gbp"],
            d[f"borough.{n}.care_costs_counterfactual_gbp"] - d[f"borough.{n}.care_costs_treated_gbp"],
            rtol=1e-12,
            atol=1e-6,
        )
    blk = run.summary()["commissioner"]["total"]
    assert {
        "care_costs_treated_gbp",
        "care_costs_counterfactual_gbp",
        "care_costs_avoided_gbp",
        "benefit_cost_ratio",
    } <= set(blk)
    # caps and top-up maximum hold
    assert (d["outcome_payments_gbp"] <= 10_000_000 + 1e-6).all()
    assert (d["topup_paid_gbp"] <= 1_500_000 + 1e-6).all()
    # conservation of time: home share is a share
    assert d["time_at_home_share_treated"].between(0, 1).all()


def test_cap_binds_when_tariff_is_huge(pfp):
    data = apply_overrides(resolve(PFP), ["contract.tariffs.0.payment_per_week_gbp=5000"])
    r = simulate(validate_data(data, PFP), draws=20, seed=1)
    np.testing.assert_allclose(r.draws["outcome_payments_gbp"], 10_000_000, rtol=1e-9)
    np.testing.assert_allclose(r.draws["topup_paid_gbp"], 1_500_000, rtol=1e-9)
    assert r.summary()["contract"]["p_total_cap_binding"] == 1.0


def test_hazard_ratio_one_gives_equal_arms(pfp):
    """Common random numbers: with no effect the two arms are identical draw by draw (without a
    baseline block the care model itself is the arm without therapy)."""
    data = apply_overrides(
        resolve(PFP), ["interventions.MST.effect.hazard_ratio=1", "interventions.FFT.effect.hazard_ratio=1"]
    )
    data.pop("baseline")
    r = simulate(validate_data(data, PFP), draws=30, seed=3)
    np.testing.assert_array_equal(r.draws["weeks_home_treated"], r.draws["weeks_home_counterfactual"])
    np.testing.assert_allclose(r.draws["government_value_gbp"], 0.0, atol=1e-6)


def _column_of(path: str) -> str:
    from sibmodel import outputs

    return next(o.key for o in outputs.OUTPUTS if o.summary == path)


def test_summary_keys_and_parquet_consistency(run, tmp_path):
    out = run.to_dir(tmp_path / "run")
    summary = json.loads((out / "summary.json").read_text())
    for path in [
        "outcomes.starts",
        "outcomes.weeks_out_of_care",
        "outcomes.time_at_home_share.treated",
        "outcomes.time_at_home_share.counterfactual",
        "contract.outcome_payments_gbp",
        "contract.borough_paid_gbp",
        "contract.topup_paid_gbp",
        "investor.capital_drawn_peak_gbp",
        "investor.irr",
        "investor.moic",
        "commissioner.total.outcome_payments_gbp",
        "commissioner.total.care_costs_avoided_gbp",
        "commissioner.total.net_savings_gbp",
        "government.value_gbp",
    ]:
        node = summary
        for part in path.split("."):
            node = node[part]
        assert set(node) == {"mean", "sd", "p5", "p50", "p95", "n"}, path
        assert node["n"] == int(np.isfinite(pd.read_parquet(out / "draws.parquet")[_column_of(path)]).sum()), path
    for p in ["investor.p_commitment_exceeded", "investor.p_loss", "commissioner.total.p_net_positive"]:
        a, b = p.rsplit(".", 1)
        node = summary
        for part in a.split("."):
            node = node[part]
        assert 0.0 <= node[b] <= 1.0
    assert set(summary["meta"]) >= {"seed_entropy", "draws", "scenario_hash", "version"}
    assert set(summary["commissioner"]["boroughs"]) == set(run.scenario.boroughs)
    draws = pd.read_parquet(out / "draws.parquet")
    assert summary["contract"]["outcome_payments_gbp"]["mean"] == pytest.approx(draws["outcome_payments_gbp"].mean())
    assert summary["investor"]["moic"]["p50"] == pytest.approx(np.nanmedian(draws["investor_moic"]))
    assert summary["investor"]["p_loss"] == pytest.approx(np.mean(draws["investor_moic"].dropna() < 1))
    assert len(summary["validation"]) == len(run.scenario.observed)
    cf = pd.read_parquet(out / "cashflows.parquet")
    assert {"quarter", "investor_net_cashflow_gbp_p5", "capital_outstanding_gbp_p95"} <= set(cf.columns)


def test_cli_run_writes_folder_and_json(tmp_path):
    runner = CliRunner()
    res = runner.invoke(
        main, ["run", PFP, "--draws", "40", "--seed", "2", "--out", str(tmp_path / "r"), "--json", "--no-report"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["meta"]["draws"] == 40
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [
        ".sibmodel-output.json",
        "cashflows.parquet",
        "draws.parquet",
        "manifest.json",
        "occupancy.parquet",
        "summary.json",
    ]


def test_cli_run_bad_input_leaves_nothing(tmp_path):
    res = CliRunner().invoke(
        main, ["run", PFP, "--draws", "10", "--set", "care.entry.prob=2", "--out", str(tmp_path / "r")]
    )
    assert res.exit_code == 2
    assert "care.entry.prob" in res.output
    assert not (tmp_path / "r").exists()
    assert list(tmp_path.iterdir()) == []


def test_weekly_occupancy_matches_person_totals():
    """Summing the weekly occupancy over weeks gives person-weeks.

    Occupancy counts every spell from referral to the window end; with tracking from
    referral (set here: pfp.yaml tracks from the end of therapy) that equals the tracked
    weeks, so person-weeks per draw = tracked weeks, and home weeks = weeks at home.
    """
    s = load_scenario(PFP, ["contract.tracking.starts_at=referral"])
    run = simulate(s, draws=60, seed=7, chunk_size=30)
    occ = run.occupancy
    per_arm = occ.groupby("arm")["mean_count"].sum()
    tracked = run.draws["tracked_weeks"].mean()
    assert per_arm["treated"] == pytest.approx(tracked, rel=1e-9)
    assert per_arm["counterfactual"] == pytest.approx(tracked, rel=1e-9)
    home = occ[occ.state.str.startswith("home")].groupby("arm")["mean_count"].sum()
    assert home["treated"] == pytest.approx(run.draws["weeks_home_treated"].mean(), rel=1e-9)


def _without(df: pd.DataFrame, *cols) -> pd.DataFrame:
    return df.drop(columns=[c for c in cols if c in df])


@pytest.mark.parametrize(
    "completion",
    ["{share: 1.0}", "{share: 0.7, noncompleter_effect_share: 1.0}"],
    ids=["everyone-completes", "non-completers-as-completers"],
)
def test_completion_that_changes_no_one_changes_no_bit(pfp, run, completion):
    """A completion share of 1, or non-completers with the completers' full effect, simulate
    everyone as before: the same draws to the bit (the completion stream is new, so no other
    stream moves), plus the completion share column."""
    s = load_scenario(PFP, [f"interventions.MST.completion={completion}", f"interventions.FFT.completion={completion}"])
    r = simulate(s, draws=120, seed=7, chunk_size=50)
    assert _hash(_without(r.draws, "completion_share")) == _hash(run.draws)
    assert "completion_share" not in run.draws and "completion_share" not in run.summary()["outcomes"]
    share = r.draws["completion_share"]
    assert (share == 1.0).all() if completion == "{share: 1.0}" else 0.6 < share.mean() < 0.8
    assert r.summary()["outcomes"]["completion_share"]["p50"] == pytest.approx(share.median())


def test_non_completers_without_effect_spend_less_time_at_home(pfp, run):
    """Completion 50% with no effect for non-completers: time at home with therapy falls, starts do
    not move, and the completion share is binomial around 50% (within 4 standard errors).  (The arm
    without therapy shares uniforms with the treated arm while both run, so it moves by noise.)"""
    s = load_scenario(PFP, ["interventions.MST.completion={share: 0.5}", "interventions.FFT.completion={share: 0.5}"])
    r = simulate(s, draws=120, seed=7, chunk_size=50)
    assert r.draws["time_at_home_share_treated"].mean() < run.draws["time_at_home_share_treated"].mean() - 0.1
    np.testing.assert_array_equal(r.draws["starts"].to_numpy(), run.draws["starts"].to_numpy())
    done = (r.draws["completion_share"] * r.draws["starts"]).sum()
    n = r.draws["starts"].sum()
    assert abs(done / n - 0.5) < 4 * np.sqrt(0.25 / n)
