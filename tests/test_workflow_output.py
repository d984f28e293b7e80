"""Issue 17 item 3: the workflows print tables formatted like `run` and `compare` -- money as £ with
separators, shares as percentages, no NaN cells ("–" instead), every line within 100 columns."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from support import invoke, scenario_file

from sibmodel.report.tables import LINE_WIDTH, format_cell, render_table

MONEY = re.compile(r"-?£[\d,]+(\.\d\d)?m?\b")
RAW_MONEY = re.compile(r"(?<![£\d,.])\d{5,}(\.\d+)?(?![\d%])")  # an unformatted amount such as 1234567.8


def _check(output: str, money: bool) -> None:
    assert "Traceback" not in output
    assert not re.search(r"\bnan\b", output, flags=re.IGNORECASE), output
    long = [line for line in output.splitlines() if len(line) > LINE_WIDTH]
    assert long == [], long
    if money:
        assert MONEY.search(output), output
    assert not RAW_MONEY.search(output), RAW_MONEY.search(output)


CASES = {
    "stress": (["stress", "{pfp}", "--draws", "30", "--seed", "1"], True),
    "join": (
        [
            "join",
            "{pfp}",
            "--borough",
            "Croydon",
            "--starts-per-quarter",
            "2",
            "--no-break-even",
            "--draws",
            "30",
            "--seed",
            "1",
        ],
        True,
    ),
    "baseline": (["baseline", "{pfp}", "--draws", "30", "--seed", "1", "--baselines", "0.35,0.8"], True),
    "sensitivity": (["sensitivity", "{pfp}", "--n-base", "4", "--replicates", "2", "--seed", "1"], False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_workflow_tables_are_readable(name, tmp_path):
    args, money = CASES[name]
    res = invoke(*[a.format(pfp=scenario_file("pfp.yaml")) for a in args], "--out", tmp_path / name)
    assert res.exit_code == 0, res.output
    _check(res.output, money)


def test_calibrate_prints_percentages_within_the_width():
    res = invoke(
        "calibrate",
        scenario_file("pfp.yaml"),
        "--target",
        "time_at_home.treated=0.894",
        "--param",
        "interventions.*.effect.hazard_ratio",
    )
    assert res.exit_code in (0, 1), res.output
    assert "89.40%" in res.output  # the target, as a percentage
    _check(res.output, money=False)


def test_render_table_by_hand():
    """Kinds from column names; NaN as "–"; a wide table split into parts that repeat the first column."""
    df = pd.DataFrame(
        {
            "who": ["a", "b"],
            "net_savings_p50_gbp": [1234567.0, float("nan")],
            "p_loss": [0.25, 1.0],
            "starts": [12.4, 3.0],
            **{f"x{i}_gbp": [1e3, 2e3] for i in range(12)},
        }
    )
    text = render_table(df)
    assert "£1.23m" in text and "–" in text and "25.0%" in text and "100.0%" in text and " 12 " in text + " "
    assert "£1,000" in text
    assert all(len(line) <= LINE_WIDTH for line in text.splitlines())
    assert sum(line.startswith("who") for line in text.splitlines()) >= 2  # split, the first column repeated
    assert format_cell("gbp", None) == "–" and format_cell("share", float("nan")) == "–"
