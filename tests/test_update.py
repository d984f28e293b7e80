"""Monitoring a live contract: ``sibmodel actuals`` and ``sibmodel update`` (issue 18).

No number here is copied from a run: the history is checked against the run's own ``draws.parquet``
(an independent reduction of the same draw), the update against properties that hold for any random
streams (simulation-based calibration, Talts et al. 2018, "Validating Bayesian inference algorithms
with simulation-based calibration"; the exact ends of the contract; the actuals file's rules).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from support import PFP, invoke

import sibmodel
from sibmodel.engine.chunk import year_offset
from sibmodel.engine.history import draw_history, first_quarter, quarter_labels
from sibmodel.model import finance
from sibmodel.workflows.actuals import Actuals, read_actuals
from sibmodel.workflows.update import (
    MIN_ESS,
    calibration_study,
    posterior_draws,
    simulate_prior,
    target_ess,
    update,
)

#: Mid-contract for PFP (quarter 10 of 23), as the issue asks.
MID = "2020-Q2"


@pytest.fixture(scope="module")
def pfp():
    return sibmodel.load_scenario(PFP)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory, pfp):
    """A saved PFP run of 120 draws in chunks of 50 (three chunks, the last one short)."""
    folder = tmp_path_factory.mktemp("runs") / "pfp"
    res = sibmodel.simulate(pfp, draws=120, seed=7, chunk_size=50)
    res.to_dir(folder)
    res.discard()
    return folder


@pytest.fixture(scope="module")
def prior(pfp):
    return simulate_prior(pfp, 600, seed=21, chunk_size=200)


def _discounted_borough_share(s, hist) -> np.ndarray:
    """Each borough's own payments (top-up taken out), paid a lag later and discounted, as the engine does (B,)."""
    lag = s.contract.payment_lag_quarters
    n_q = hist.values.shape[-1]
    df = finance.discount_factors(n_q + lag, s.discounting.real_rate_annual, None, year_offset(s))
    return ((hist.values[0, 2] - hist.topup[0]) * df[lag : lag + n_q]).sum(axis=1)


@pytest.mark.parametrize("draw", [0, 49, 50, 119])
def test_history_is_the_draw_in_draws_parquet(saved_run, pfp, draw):
    """Re-simulating one draw gives the same per-borough starts, weeks out of care and payments as the
    run reduced into draws.parquet (the first and last draw of a chunk, and the short last chunk)."""
    manifest = json.loads((saved_run / "manifest.json").read_text())
    row = pd.read_parquet(saved_run / "draws.parquet").iloc[draw]
    hist = draw_history(pfp, int(manifest["seed_entropy"]), draw, manifest["draws"])
    v = hist.values[0]
    assert v[0].sum() == row["starts"]
    assert v[1].sum() == row["weeks_out_of_care"]
    assert v[2].sum() == pytest.approx(row["outcome_payments_gbp"], rel=1e-12)
    assert hist.topup.sum() == pytest.approx(row["topup_paid_gbp"], rel=1e-12)
    own = _discounted_borough_share(pfp, hist)
    for bi, name in enumerate(pfp.boroughs):
        assert v[0, bi].sum() == row[f"borough.{name}.starts"]
        assert own[bi] == pytest.approx(row[f"borough.{name}.outcome_payments_gbp"], rel=1e-12, abs=1e-6)


def test_actuals_command_round_trip(saved_run, pfp, tmp_path):
    """`sibmodel actuals` writes every active borough-quarter through --through, and update reads the same
    numbers back."""
    out = tmp_path / "actuals.csv"
    r = invoke("actuals", saved_run, "--draw", 63, "--through", MID, "--out", out)
    assert r.exit_code == 0, r.output
    t = quarter_labels(pfp).index(MID)
    first = first_quarter(pfp)
    frame = pd.read_csv(out, comment="#")
    assert list(frame.columns) == ["quarter", "borough", "starts", "weeks_out_of_care", "outcome_payments_gbp"]
    assert len(frame) == sum(t + 1 - f for f in first)
    act = read_actuals(pfp, out)
    manifest = json.loads((saved_run / "manifest.json").read_text())
    hist = draw_history(pfp, int(manifest["seed_entropy"]), 63, manifest["draws"]).values[0]
    assert act.through == t
    np.testing.assert_array_equal(act.values[:, :, : t + 1], hist[:, :, : t + 1])
    assert not act.values[:, :, t + 1 :].any()
    again = invoke("actuals", saved_run, "--draw", 63, "--through", MID, "--out", out)
    assert again.exit_code == 2 and "--overwrite" in again.output


def _bad(frame: pd.DataFrame, case: str) -> pd.DataFrame:
    f = frame.copy()
    if case == "unknown borough":
        f.loc[3, "borough"] = "Atlantis"
    elif case == "quarter outside the contract":
        f.loc[3, "quarter"] = "2031-Q1"
    elif case == "negative count":
        f.loc[3, "starts"] = -1
    elif case == "non-integer count":
        f["weeks_out_of_care"] = f["weeks_out_of_care"].astype(float)
        f.loc[3, "weeks_out_of_care"] = 2.5
    elif case == "duplicate row":
        f = pd.concat([f, f.iloc[[3]]])
    elif case == "missing column":
        f = f.drop(columns="weeks_out_of_care")
    elif case == "starts before join date":
        extra = f.iloc[[0]].copy()
        extra["borough"], extra["starts"] = "Haringey", 2  # Haringey joins 2019-09
        f = pd.concat([f, extra])
    elif case == "missing row":
        f = f.drop(index=5)
    return f


@pytest.mark.parametrize(
    "case, words",
    [
        ("unknown borough", "not a borough of the scenario"),
        ("quarter outside the contract", "a quarter of the contract"),
        ("negative count", "whole number >= 0"),
        ("non-integer count", "whole number >= 0"),
        ("duplicate row", "a second row"),
        ("missing column", "missing column(s) weeks_out_of_care"),
        ("starts before join date", "before its join date"),
        ("missing row", "missing:"),
        ("beyond --through", "after --through"),
    ],
)
def test_bad_actuals_exit_2(saved_run, tmp_path, case, words):
    good = tmp_path / "good.csv"
    assert invoke("actuals", saved_run, "--draw", 3, "--through", MID, "--out", good).exit_code == 0
    bad = tmp_path / "bad.csv"
    _bad(pd.read_csv(good, comment="#"), case).to_csv(bad, index=False)
    through = ["--through", "2019-Q4"] if case == "beyond --through" else []
    r = invoke("update", PFP, "--actuals", bad, *through, "--draws", 100, "--out", tmp_path / "out")
    assert r.exit_code == 2, r.output
    assert words in r.output and str(bad) in r.output
    assert "Traceback" not in r.output and not (tmp_path / "out").exists()


def test_calibration(pfp):
    """Simulation-based calibration at mid-contract: 24 truths drawn from the model (another seed than
    the prior), each conditioned on its own actuals through 2020-Q2.  The truth's total outcome payments
    fall in the posterior's 5-95% interval for at least 80% of them (nominal 90%), the median posterior
    interval is at most 0.8 of the prior's, and no update falls below the stated effective sample size."""
    study = calibration_study(pfp, n_truths=24, through=quarter_labels(pfp).index(MID), draws=1000, seed=31)
    coverage, ratio = study["covered"].mean(), study["width_ratio"].median()
    print(
        f"\nSBC (24 truths, 1000 draws): coverage {coverage:.0%}, median width ratio {ratio:.2f}, ESS min "
        f"{study['ess'].min():.0f}"
    )
    assert coverage >= 0.8
    assert ratio <= 0.8
    assert study["ess"].min() >= MIN_ESS


def _truth_actuals(prior_like, i: int, through: int) -> Actuals:
    values = prior_like.history.values[i].copy()
    values[:, :, through + 1 :] = 0.0
    return Actuals(values, through, 0, "truth")


def test_first_quarter_changes_almost_nothing(pfp, prior):
    """One quarter of actuals barely moves the forecast: PFP pays from the end of therapy, so the first
    quarter holds only its few starts (about 3.75 expected, ramp-up included), which say little about the
    referral volume. The posterior median of total payments stays within a fifth of the prior's 90% width
    of the prior median, and the width within 20% of the prior's (at mid-contract it is about half)."""
    truths = simulate_prior(pfp, 3, seed=22, chunk_size=200)
    p5, p50, p95 = np.percentile(prior.columns["outcome_payments_gbp"], [5, 50, 95])
    for i in range(3):
        upd = update(pfp, _truth_actuals(truths, i, 0), draws=600, prior=prior)
        q5, q50, q95 = np.percentile(upd.posterior.draws["outcome_payments_gbp"], [5, 50, 95])
        assert abs(q50 - p50) <= 0.2 * (p95 - p5)
        assert 0.8 <= (q95 - q5) / (p95 - p5) <= 1.2


def test_last_quarter_gives_the_observed_total(pfp, prior):
    """Actuals through the last quarter leave nothing to forecast: every posterior draw's total outcome
    payments (and starts, weeks out of care) is the observed total."""
    truths = simulate_prior(pfp, 2, seed=23, chunk_size=200)
    last = len(quarter_labels(pfp)) - 1
    for i in range(2):
        act = _truth_actuals(truths, i, last)
        upd = update(pfp, act, draws=600, prior=prior)
        post = upd.posterior.draws
        np.testing.assert_allclose(post["outcome_payments_gbp"], act.values[2].sum(), rtol=1e-12)
        np.testing.assert_allclose(
            post["outcome_payments_gbp"], truths.columns["outcome_payments_gbp"].iloc[i], rtol=1e-12
        )
        assert (post["starts"] == act.values[0].sum()).all()
        assert (post["weeks_out_of_care"] == act.values[1].sum()).all()


def test_posterior_keeps_the_observed_past(pfp, prior):
    """Payments up to the last observed quarter are the actuals in every posterior draw; the investor's
    figures are recomputed from them (a draw's cash flows sum to its distributions less capital drawn)."""
    truths = simulate_prior(pfp, 1, seed=24, chunk_size=200)
    t = quarter_labels(pfp).index(MID)
    act = _truth_actuals(truths, 0, t)
    idx = np.arange(prior.n_draws)
    frame, series, hist = posterior_draws(pfp, prior, idx, act)
    np.testing.assert_array_equal(
        hist[:, :, :, : t + 1], np.broadcast_to(act.values[:, :, : t + 1], hist[:, :, :, : t + 1].shape)
    )
    lag = pfp.contract.payment_lag_quarters
    np.testing.assert_allclose(
        series["outcome_payments_gbp"][:, lag : lag + t + 1],
        np.broadcast_to(act.values[2, :, : t + 1].sum(axis=0), (prior.n_draws, t + 1)),
    )
    np.testing.assert_allclose(
        series["investor_net_cashflow_gbp"].sum(axis=1),
        frame["investor_distributions_total_gbp"] - frame["investor_capital_drawn_total_gbp"],
        rtol=1e-9,
        atol=1e-3,
    )


def test_update_command_pfp_2000_draws(saved_run, tmp_path):
    """`sibmodel update scenarios/pfp.yaml --actuals ... --draws 2000` at mid-contract: a run folder whose
    summary.json has a run's keys, and update.json with the prior, the posterior and an ESS at its target."""
    act = tmp_path / "a.csv"
    assert invoke("actuals", saved_run, "--draw", 11, "--through", MID, "--out", act).exit_code == 0
    out = tmp_path / "up"
    r = invoke("update", PFP, "--actuals", act, "--draws", 2000, "--seed", 4, "--out", out, "--no-report")
    assert r.exit_code == 0, r.output
    record = json.loads((out / "update.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    run_summary = json.loads((saved_run / "summary.json").read_text())
    assert {"observed_through", "n_rows", "method", "effective_sample_size", "prior", "posterior"} <= set(record)
    assert record["observed_through"] == MID
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "update" and manifest["command_line"][1] == "update"
    assert json.loads((out / ".sibmodel-output.json").read_text())["command"] == "update"
    assert set(summary) == set(run_summary) == set(record["posterior"]) == set(record["prior"])
    assert record["effective_sample_size"] >= target_ess(2000) * 0.999
    assert record["posterior"]["contract"]["outcome_payments_gbp"] == summary["contract"]["outcome_payments_gbp"]
