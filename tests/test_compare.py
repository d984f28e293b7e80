"""`sibmodel compare`: common random numbers, paired differences, the compare folder and CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from support import PFP, scenario_file

from sibmodel import load_scenario
from sibmodel.cli.commands import main
from sibmodel.workflows.compare import (
    METRICS,
    compare_table,
    format_table,
    paired_stats,
    run_comparison,
    write_comparison,
)

HALVED = scenario_file("stress/effect_halved.yaml")
DIFF_COLUMNS = ["diff_mean", "diff_p5", "diff_p50", "diff_p95"]


@pytest.fixture(scope="module")
def pfp_vs_halved():
    return run_comparison([load_scenario(PFP), load_scenario(HALVED)], [PFP, HALVED], draws=60, seed=5, chunk_size=30)


def test_a_scenario_compared_with_itself_differs_by_exactly_zero():
    s = load_scenario(PFP)
    comp = run_comparison([s, s], [PFP, PFP], draws=30, seed=9, chunk_size=15)
    t = comp.table
    assert set(t["key"]) == {m.key for m in METRICS}
    second = t[t["scenario_index"] == 1]
    # every figure is defined in every draw at this seed: all 30 pairs kept, every difference exactly 0
    # (NaN compares unequal to 0, so a figure that went missing fails here)
    assert (second["n_pairs"] == 30).all()
    values = second[DIFF_COLUMNS].to_numpy(float)
    assert np.all(values == 0.0)
    assert (second["p_diff_positive"] == 0).all()
    # and the levels are identical
    first = t[t["scenario_index"] == 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(first[["p5", "p50", "p95"]], second[["p5", "p50", "p95"]].reset_index(drop=True))


def test_effect_halved_moves_every_figure_the_expected_way(pfp_vs_halved):
    t = pfp_vs_halved.table.set_index(["key", "scenario_index"])

    def d(key, col="diff_p50"):
        return t.loc[(key, 1), col]

    # the same referrals (common random numbers): starts identical draw by draw
    assert d("starts", "diff_p5") == 0 and d("starts", "diff_p95") == 0
    # a weaker effect: less time at home, fewer weeks out of care, smaller payments and returns
    assert d("time_at_home_treated", "diff_p95") < 0
    assert d("weeks_out_of_care", "diff_p95") < 0
    assert d("outcome_payments_gbp", "diff_p95") < 0
    assert d("investor_moic") < 0
    assert d("p_loss", "diff_mean") > 0
    assert d("commissioner_net_savings_gbp") < 0
    assert d("government_value_gbp") < 0


def test_paired_stats_by_hand():
    a = np.array([1.0, 2.0, np.nan, 4.0, 5.0])
    b = np.array([2.0, 2.0, 3.0, 3.0, np.nan])
    s = paired_stats(a, b, "count")
    # pairs kept: (1,2), (2,2), (4,3): differences +1, 0, -1
    assert s["n_pairs"] == 3
    assert s["diff_mean"] == pytest.approx(0.0)
    assert s["diff_p50"] == pytest.approx(0.0)
    assert s["diff_p5"] == pytest.approx(np.percentile([1, 0, -1], 5))
    assert s["p_diff_positive"] == pytest.approx(1 / 3)
    # indicators: a 90% confidence interval of the mean paired difference
    ia, ib = np.array([0, 0, 1, 1.0]), np.array([1, 0, 1, 1.0])
    p = paired_stats(ia, ib, "prob")
    diff = ib - ia
    se = diff.std(ddof=1) / 2
    assert p["diff_mean"] == pytest.approx(0.25)
    assert p["diff_p5"] == pytest.approx(0.25 - 1.6448536269514722 * se)
    assert p["diff_p95"] == pytest.approx(0.25 + 1.6448536269514722 * se)
    with pytest.raises(ValueError):
        paired_stats(np.zeros(3), np.zeros(4), "count")


def test_compare_table_refuses_runs_of_different_sizes():
    s = load_scenario(PFP)
    from sibmodel.engine.run import simulate

    with pytest.raises(ValueError, match="same number of draws"):
        compare_table([simulate(s, draws=10, seed=1, chunk_size=10), simulate(s, draws=12, seed=1, chunk_size=12)])


def test_format_table_names_scenarios_and_differences(pfp_vs_halved):
    text = format_table(pfp_vs_halved.table)
    assert "#0 Positive Families Partnership" in text
    assert "#1 PFP stress: effect halved" in text
    assert "pp" in text  # differences of shares in percentage points
    for m in METRICS:
        assert m.label in text


def test_compare_folder(pfp_vs_halved, tmp_path):
    out = write_comparison(pfp_vs_halved, tmp_path / "cmp")
    names = sorted(p.name for p in out.iterdir())
    assert names == [".sibmodel-output.json", "compare.csv", "compare.html", "compare.json", "figures", "manifest.json"]
    figs = sorted(p.name for p in (out / "figures").iterdir())
    assert figs == sorted(f"{s}.png" for s in ("compare_distributions", "compare_cashflows", "compare_differences"))
    with_svg = write_comparison(pfp_vs_halved, tmp_path / "cmp-svg", svg=True)  # SVG only when asked for
    assert sorted(p.name for p in (with_svg / "figures").iterdir()) == sorted(
        figs + [f.replace(".png", ".svg") for f in figs]
    )
    doc = json.loads((out / "compare.json").read_text())
    assert doc["seed"] == 5 and doc["draws"] == 60
    assert [s["file"] for s in doc["scenarios"]] == [PFP, HALVED]
    assert len(doc["table"]) == 2 * len(METRICS)
    html = (out / "compare.html").read_text()
    assert "<script" not in html.lower() and html.count("data:image/png;base64,") == 3
    assert "PFP stress: effect halved" in html


def test_compare_figures_have_units(pfp_vs_halved):
    figures = list(pfp_vs_halved.figures())
    assert len(figures) == 3
    for stem, _title, fig in figures:
        assert fig.axes, stem
        for ax in fig.axes:
            assert "[" in ax.get_xlabel(), (stem, ax.get_xlabel())


def test_cli_compare(tmp_path):
    res = CliRunner().invoke(
        main, ["compare", PFP, PFP, "--draws", "10", "--seed", "3", "--chunk-size", "10", "--out", str(tmp_path / "c")]
    )
    assert res.exit_code == 0, res.output
    assert "seed 3" in res.output and "±0" in res.output
    assert (tmp_path / "c" / "compare.html").is_file()


def test_cli_compare_bad_input_exits_2(tmp_path):
    runner = CliRunner()
    one = runner.invoke(main, ["compare", PFP, "--draws", "10", "--out", str(tmp_path / "c")])
    assert one.exit_code == 2 and "two or more" in one.output
    bad = runner.invoke(main, ["compare", PFP, "no/such.yaml", "--draws", "10", "--out", str(tmp_path / "c")])
    assert bad.exit_code == 2 and "no/such.yaml" in bad.output
    assert not (tmp_path / "c").exists()
