"""Figures, the HTML report and `sibmodel report`: labels with units, escaping, run folder, browser."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure
from support import PFP, scenario_file

from sibmodel import load_scenario
from sibmodel.cli.commands import main
from sibmodel.engine.run import simulate
from sibmodel.exceptions import RunFolderError
from sibmodel.report import figures as F
from sibmodel.report.html import _validation_section, run_folder_writer
from sibmodel.results.rundir import load_run
from sibmodel.scenario.load import apply_overrides, resolve, validate_data

HOSTILE = "<script>alert(1)</script>"
DRAWS = 40


@pytest.fixture(autouse=True)
def no_show(monkeypatch):
    """Any call of pyplot.show fails the test."""
    import matplotlib.pyplot as plt

    def show(*args, **kwargs):  # pragma: no cover - must never run
        raise AssertionError("plt.show() was called")

    monkeypatch.setattr(plt, "show", show)


@pytest.fixture(scope="module")
def run():
    return simulate(load_scenario(PFP), draws=DRAWS, seed=11, chunk_size=20)


@pytest.fixture(scope="module")
def run_dir(run, tmp_path_factory):
    return run.to_dir(tmp_path_factory.mktemp("runs") / "pfp", extra_writers=(run_folder_writer,))


@pytest.fixture(scope="module")
def saved(run_dir):
    return load_run(run_dir)


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory):
    data = apply_overrides(
        resolve(PFP),
        [
            f"metadata.name={json.dumps(HOSTILE)}",
            f"metadata.description={json.dumps('<b>bold</b> & <img src=x onerror=alert(2)>')}",
        ],
    )
    s = validate_data(data, PFP)
    res = simulate(s, draws=20, seed=3, chunk_size=20)
    return res.to_dir(tmp_path_factory.mktemp("runs") / "hostile", extra_writers=(run_folder_writer,))


def _texts(fig: Figure) -> str:
    out = []
    for ax in fig.axes:
        out += [ax.get_xlabel(), ax.get_ylabel(), ax.get_title()]
        out += [t.get_text() for t in ax.get_yticklabels()]
        leg = ax.get_legend()
        if leg is not None:
            out += [t.get_text() for t in leg.get_texts()]
        for child in ax.get_children():
            if hasattr(child, "get_yticklabels") and child is not ax:
                out += [t.get_text() for t in child.get_yticklabels()]
    return "\n".join(out)


# --------------------------------------------------------------------------- figures
@pytest.mark.parametrize("stem", list(F.RUN_FIGURES))
@pytest.mark.parametrize("source", ["results", "saved"])
def test_every_figure_is_a_figure_with_units_and_a_caption(stem, source, run, saved):
    import matplotlib.pyplot as plt

    fig = F.RUN_FIGURES[stem][2](run if source == "results" else saved)
    assert isinstance(fig, Figure)
    assert plt.get_fignums() == [], "figures must not be registered with pyplot"
    assert fig.axes, f"{stem}: no axes"
    for ax in fig.axes:
        x, y = ax.get_xlabel(), ax.get_ylabel()
        assert "[" in x and "]" in x, f"{stem}: x label missing or without a unit: {x!r}"
        if stem == "borough_net_savings":  # one bar per borough: the y axis names boroughs on its ticks
            assert y == "" and all(t.get_text() for t in ax.get_yticklabels()), f"{stem}: unnamed bars"
        elif stem == "validation":  # each panel's y label names the published figure, which has no unit
            assert y, f"{stem}: panel without a y label"
        else:
            assert "[" in y and "]" in y, f"{stem}: y label missing or without a unit: {y!r}"
    caption = F.caption_of(fig)
    assert caption.startswith("Source: sibmodel") and "draws" in caption
    png = F.to_png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_prob_text_never_rounds_to_certainty():
    assert [F.prob_text(p) for p in (0.0, 0.004, 0.3, 0.996, 1.0)] == ["0%", "<1%", "30%", ">99%", "100%"]
    assert F.prob_text(float("nan")) == "n/a"


def test_figure_labels(run):
    fig = F.investor_returns(run)
    xl = [ax.get_xlabel() for ax in fig.axes]
    assert xl == ["money multiple [x]", "IRR [% a year]"]
    assert all(ax.get_ylabel() == "draws [count]" for ax in fig.axes)
    p_loss = run.summary()["investor"]["p_loss"]
    assert f"P(loss) = {F.prob_text(p_loss)}" in fig.axes[0].get_title()
    assert any(abs(line.get_xdata()[0] - 1.0) < 1e-12 for line in fig.axes[0].get_lines())

    fig = F.capital_drawn(run)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "capital drawn to date [£m]"
    commitment_m = run.summary()["investor"]["commitment_gbp"] / 1e6
    assert any(np.allclose(line.get_ydata(), commitment_m) for line in ax.get_lines())

    assert "[£m]" in F.cumulative_cashflow(run).axes[0].get_ylabel()
    assert "[£k]" in F.outcome_payments(run).axes[0].get_ylabel()
    assert F.weeks_out_of_care(run).axes[0].get_xlabel() == "weeks out of care, all starts [weeks]"


def test_borough_figure_names_every_borough_with_its_chance_of_coming_out_ahead(run):
    fig = F.borough_net_savings(run)
    text = _texts(fig)
    com = run.summary()["commissioner"]["boroughs"]
    for name in com:
        assert name in text
    assert text.count("P(ahead)") == len(com)
    assert "break-even" in text
    assert "[£k, discounted to 2018]" in fig.axes[0].get_xlabel()


def test_time_at_home_marks_published_values_when_the_scenario_has_them(run):
    text = _texts(F.time_at_home(run))
    obs = {o.figure: o.value for o in run.scenario.observed.values()}
    t = obs["outcomes.time_at_home_share.treated"] * 100
    c = obs["outcomes.time_at_home_share.counterfactual"] * 100
    assert f"published with therapy: {t:.1f}%" in text
    assert f"published without (counterfactual): {c:.1f}%" in text


def test_time_at_home_converts_published_care_shares():
    """Essex publishes the share of time in care; the figure marks 100% minus it, and says so."""
    res = simulate(load_scenario(scenario_file("essex/essex_mst.yaml")), draws=10, seed=1, chunk_size=10)
    care = {o.figure: o.value for o in res.scenario.observed.values()}
    text = _texts(F.time_at_home(res))
    for arm, label in (("treated", "with therapy"), ("counterfactual", "without (counterfactual)")):
        c = care[f"outcomes.care_share.{arm}"] * 100
        assert f"published {label}: {100 - c:.1f}% (100% - {c:.1f}% in care)" in text


def test_figures_without_observed_figures(run):
    data = apply_overrides(resolve(PFP), ["observed={}"])
    s = validate_data(data, PFP)
    res = simulate(s, draws=10, seed=1, chunk_size=10)
    assert F.validation(res) is None
    assert "published" not in _texts(F.time_at_home(res))
    assert "no <code>observed:</code> figures" in _validation_section(res.summary()["validation"])


def test_validation_figure_has_one_row_per_observed_figure(run):
    fig = F.validation(run)
    assert len(fig.axes) == len(run.scenario.observed) > 0
    assert all("[" in ax.get_xlabel() for ax in fig.axes)


def test_capital_drawn_band_ends_at_the_total_drawn(run):
    cf = run.cashflows
    total = run.draws["investor_capital_drawn_total_gbp"].to_numpy(float)
    assert cf["investor_capital_drawn_cumulative_gbp_p50"].iloc[-1] == pytest.approx(np.percentile(total, 50))
    assert cf["investor_capital_drawn_cumulative_gbp_mean"].iloc[-1] == pytest.approx(total.mean())
    assert (np.diff(cf["investor_capital_drawn_cumulative_gbp_mean"]) >= -1e-9).all()


def test_figures_module_never_imports_pyplot():
    src = Path(F.__file__).read_text()
    assert "pyplot" not in src.replace("matplotlib.pyplot`", "")
    assert matplotlib.get_backend()  # whatever it is, figures do not depend on it


# --------------------------------------------------------------------------- report
def test_run_folder_has_report_and_figures(run_dir):
    html = (run_dir / "report.html").read_text()
    for sid in ("investors", "boroughs", "policy", "validation", "assumptions", "manifest"):
        assert f'<section id="{sid}">' in html
    names = sorted(p.name for p in (run_dir / "figures").iterdir())
    assert names == sorted(f"{s}.png" for s in F.RUN_FIGURES), "PNG only: SVG is written on request (--svg)"
    assert html.count('<img src="data:image/png;base64,') == len(F.RUN_FIGURES)
    # self-contained: no external URL anywhere in an attribute, no script
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower()
    assert "Content-Security-Policy" in html


def test_report_has_manifest_assumptions_and_validation(run_dir, run):
    html = (run_dir / "report.html").read_text()
    meta = json.loads((run_dir / "manifest.json").read_text())
    assert meta["scenario_hash"] in html
    assert f"<td>{meta['seed']}</td>" in html
    assert meta["versions"]["numpy"] in html
    # every assumption path and a known source appear
    assert "care.placements.foster.weekly_cost_gbp" in html
    assert "PSSRU Unit Costs" in html
    for row in run.summary()["validation"]:
        assert row["label"] in html


def test_hostile_scenario_text_is_escaped(hostile_dir):
    html = (hostile_dir / "report.html").read_text()
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "<b>bold</b>" not in html
    assert "<script" not in html.lower()


def test_dollar_signs_in_scenario_text_are_drawn_as_they_are(tmp_path):
    name = "Cost $x^{2}$ in $ and \\frac"
    data = apply_overrides(resolve(PFP), [f"metadata.name={json.dumps(name)}", 'boroughs.Bexley.source="$$"'])
    res = simulate(validate_data(data, PFP), draws=10, seed=1, chunk_size=10)
    for _section, _title, fn in F.RUN_FIGURES.values():
        fig = fn(res)
        F.to_png(fig)  # mathtext would fail or eat the dollars
        assert name in F.caption_of(fig)
    text = F.investor_returns(res).texts[0].get_text()
    assert "\\$x^{2}\\$" in text


def test_an_older_run_folder_without_a_figure_s_data_still_reports(run_dir, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    cf = pd.read_parquet(old / "cashflows.parquet")
    cf.drop(columns=[c for c in cf.columns if c.startswith("investor_capital_drawn_cumulative")]).to_parquet(
        old / "cashflows.parquet"
    )
    res = CliRunner().invoke(main, ["report", str(old)])
    assert res.exit_code == 0, res.output
    html = (old / "report.html").read_text()
    assert "Capital drawn against the commitment: not available" in html
    assert html.count("data:image/png;base64,") == len(F.RUN_FIGURES) - 1


def test_cli_report_regenerates_from_the_saved_run(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "report.html").unlink()
    shutil.rmtree(copy / "figures")
    res = CliRunner().invoke(main, ["report", str(copy)])
    assert res.exit_code == 0, res.output
    assert (copy / "report.html").is_file()
    assert sorted(p.name for p in (copy / "figures").iterdir()) == sorted(
        p.name for p in (run_dir / "figures").iterdir()
    )
    # the same content, apart from nothing: built from the same saved files
    assert (copy / "report.html").read_text() == (run_dir / "report.html").read_text()
    assert [p.name for p in copy.iterdir() if p.name.startswith(".")] == [".sibmodel-output.json"], (
        "no temporary files left behind"
    )


@pytest.mark.parametrize("make", ["missing", "empty", "partial", "bad_json"])
def test_cli_report_on_a_folder_that_is_not_a_run_exits_2(make, tmp_path, run_dir):
    import shutil

    target = tmp_path / "x"
    if make == "empty":
        target.mkdir()
    elif make == "partial":
        target.mkdir()
        (target / "summary.json").write_text("{}")
    elif make == "bad_json":
        shutil.copytree(run_dir, target)
        (target / "manifest.json").write_text("{not json")
    res = CliRunner().invoke(main, ["report", str(target)])
    assert res.exit_code == 2, res.output
    assert "error:" in res.output and str(target) in res.output
    assert "Traceback" not in res.output
    with pytest.raises(RunFolderError):
        load_run(target)


def test_cli_run_writes_report_unless_no_report(tmp_path):
    runner = CliRunner()
    res = runner.invoke(
        main,
        ["run", PFP, "--draws", "20", "--seed", "4", "--chunk-size", "20", "--out", str(tmp_path / "a"), "--quiet"],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "a" / "report.html").is_file() and (tmp_path / "a" / "figures").is_dir()
    res = runner.invoke(
        main,
        [
            "run",
            PFP,
            "--draws",
            "20",
            "--seed",
            "4",
            "--chunk-size",
            "20",
            "--out",
            str(tmp_path / "b"),
            "--quiet",
            "--no-report",
        ],
    )
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "b" / "report.html").exists() and not (tmp_path / "b" / "figures").exists()


def _figure_stems(folder: Path) -> dict[str, list[str]]:
    """File names in ``folder/figures`` by extension, without it."""
    out: dict[str, list[str]] = {}
    for p in sorted((folder / "figures").iterdir()):
        out.setdefault(p.suffix, []).append(p.stem)
    return out


def test_cli_figures_choose_the_report_s_figures_and_svg_is_on_request(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    runner = CliRunner()
    res = runner.invoke(main, ["report", str(copy), "--figures", "time_at_home, investor_returns", "--svg"])
    assert res.exit_code == 0, res.output
    # report order, whatever the order given; an SVG beside each PNG; nothing left of the earlier figures
    assert _figure_stems(copy) == {
        ".png": ["investor_returns", "time_at_home"],
        ".svg": ["investor_returns", "time_at_home"],
    }
    html = (copy / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2
    assert html.index('id="fig-investor_returns"') < html.index('id="fig-time_at_home"')
    assert (copy / "figures" / "time_at_home.svg").read_bytes().lstrip().startswith(b"<?xml")
    res = runner.invoke(main, ["report", str(copy), "--figures", "none"])
    assert res.exit_code == 0, res.output
    assert not any((copy / "figures").iterdir()) and "data:image/png" not in (copy / "report.html").read_text()
    assert '<section id="investors">' in (copy / "report.html").read_text(), "the tables stay"
    res = runner.invoke(main, ["report", str(copy), "--figures", "all"])
    assert res.exit_code == 0, res.output
    assert _figure_stems(copy) == {".png": sorted(F.RUN_FIGURES)}
    assert (copy / "report.html").read_text() == (run_dir / "report.html").read_text()


@pytest.mark.parametrize("given", ["investor_return", "all,validation", "none,time_at_home", ","])
def test_cli_figures_unknown_name_exits_2_listing_the_names_allowed(given, run_dir, tmp_path):
    before = sorted(p.name for p in (run_dir / "figures").iterdir())
    for args in (["report", str(run_dir)], ["run", PFP, "--draws", "5", "--out", str(tmp_path / "r")]):
        res = CliRunner().invoke(main, [*args, "--figures", given])
        assert res.exit_code == 2, res.output
        assert "--figures" in res.output and repr(given) in res.output
        assert all(name in res.output for name in F.RUN_FIGURES) and "all or none alone" in res.output
        assert "Traceback" not in res.output
    assert not (tmp_path / "r").exists()
    assert sorted(p.name for p in (run_dir / "figures").iterdir()) == before


def test_cli_no_report_with_figures_or_svg_exits_2(tmp_path):
    for extra in (["--figures", "none"], ["--svg"]):
        res = CliRunner().invoke(
            main, ["run", PFP, "--draws", "5", "--out", str(tmp_path / "r"), "--no-report", *extra]
        )
        assert res.exit_code == 2 and "--no-report" in res.output, res.output
    assert not (tmp_path / "r").exists()


def test_report_settings_are_set_up_once_per_report(saved, monkeypatch):
    """The Matplotlib settings are entered once around the whole report, not once per figure."""
    from sibmodel.report import html

    entered = []
    real = F.report_style

    def counting():
        entered.append(1)
        return real()

    monkeypatch.setattr(F, "report_style", counting)
    page = html.build_report(saved, figures=["capital_drawn", "time_at_home", "weeks_out_of_care"])
    assert len(entered) == 1 and page.count("data:image/png;base64,") == 3
    assert set(F.STYLE) <= set(matplotlib.rcParams)


def test_figures_help_names_every_figure():
    """The option's help is written out (no Matplotlib import for --help); it must list RUN_FIGURES exactly."""
    from sibmodel.cli.options import figures_option

    @figures_option
    def f(figures):  # pragma: no cover - only its option is read
        pass

    help_text = f.__click_params__[0].help
    listed = help_text[help_text.index("(") + 1 : help_text.index(")")].split(", ")
    assert listed == list(F.RUN_FIGURES)
    assert F.figure_names(()) == () and F.figure_names(None) == F.figure_names("all") == tuple(F.RUN_FIGURES)


def test_a_failing_report_leaves_no_run_folder(tmp_path, monkeypatch):
    """The report is written inside the run folder's atomic write: if it fails, nothing is left."""
    import sibmodel.report.html as report

    def boom(*a, **k):
        raise RuntimeError("figure failed")

    monkeypatch.setattr(report, "build_report", boom)
    res = simulate(load_scenario(PFP), draws=10, seed=1, chunk_size=10)
    with pytest.raises(RuntimeError):
        res.to_dir(tmp_path / "r", extra_writers=(run_folder_writer,))
    assert not (tmp_path / "r").exists()
    assert [p for p in tmp_path.iterdir() if not p.name.startswith(".sibmodel-spool")] == []


# --------------------------------------------------------------------------- browser
def _chromium_or_skip():
    from browser import find_chromium

    binary = find_chromium()
    if binary is None:
        msg = (
            "no Chromium binary found (chromium, chromium-browser, google-chrome; or SIBMODEL_CHROMIUM): "
            "install Debian's chromium to run the browser test"
        )
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the browser test, but " + msg)
        pytest.skip(msg)
    return binary


def _check_page(b, path: Path, sections: list[str]) -> None:
    from PIL import Image

    b.console_errors.clear()
    b.exceptions.clear()
    b.requests.clear()
    b.open(path.resolve().as_uri())
    assert b.console_errors == [], b.console_errors
    assert b.exceptions == [], b.exceptions
    external = [u for u in b.requests if not (u.startswith("data:") or u.startswith("file:"))]
    assert external == [], f"the report fetched {external}"
    images = b.evaluate("Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])")
    assert images, "no images"
    for alt, complete, w, h in images:
        assert complete and w > 0 and h > 0, f"image {alt!r} did not load"
    present = b.evaluate("Array.from(document.querySelectorAll('section > h2')).map(h => h.parentElement.id)")
    assert present == sections
    assert b.evaluate("document.scripts.length") == 0
    png = b.screenshot()
    img = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    assert img.shape[0] > 100 and img.shape[1] > 100
    assert (img < 200).mean() > 0.01, "screenshot is blank"
    assert img.std() > 10, "screenshot is blank"


def test_reports_in_headless_chromium(run_dir, hostile_dir, tmp_path):
    binary = _chromium_or_skip()
    from browser import Browser

    from sibmodel.workflows.compare import run_comparison, write_comparison

    s = load_scenario(PFP)
    comp_dir = write_comparison(run_comparison([s, s], [PFP, PFP], draws=10, seed=1, chunk_size=10), tmp_path / "cmp")
    run_sections = ["investors", "boroughs", "policy", "validation", "assumptions", "manifest"]
    with Browser(binary) as b:
        _check_page(b, run_dir / "report.html", run_sections)
        _check_page(b, hostile_dir / "report.html", run_sections)
        # the hostile name shows as text: in the title and the heading, and nothing ran
        assert b.evaluate("document.title") == f"sibmodel report: {HOSTILE}"
        assert b.evaluate("document.querySelector('h1').textContent") == HOSTILE
        _check_page(b, comp_dir / "compare.html", ["scenarios", "headline", "figures", "manifest"])


def test_saved_run_reads_columns_lazily(saved, run):
    assert len(saved.draws) == DRAWS
    assert "investor_moic" in saved.draws
    pd.testing.assert_series_equal(saved.draws["investor_moic"], run.draws["investor_moic"], check_names=False)
    assert saved.scenario.metadata.name == run.scenario.metadata.name


def test_run_without_seed_reports_fresh_entropy_not_nan(tmp_path):
    """A run without --seed records seed null; the report says so (it once printed 'seed nan')."""
    from click.testing import CliRunner

    from sibmodel.cli.commands import main

    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["run", PFP, "--draws", "30", "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    html = (out / "report.html").read_text()
    assert "none (fresh entropy)" in html
    assert "seed nan" not in html and "<td>nan" not in html
    assert "seed entropy " in html


def test_report_carries_its_own_caveats(run_dir, run):
    """Issue 17 item 10: the report says, not only the README, that the boroughs' and policy figures depend on the
    assumed baseline (with the baseline drawn), and that the published value to government is weeks out of care x the
    cheapest placement's weekly cost (in pfp.yaml foster care, GBP 646 a week [PSSRU-2017]), not care costs avoided."""
    import html as html_lib

    from sibmodel.report.tables import format_percent

    text = " ".join(html_lib.unescape((run_dir / "report.html").read_text()).split())
    assert "Read first: what the baseline decides." in text
    assert "net savings, and value to government, depend on the baseline" in text
    assert "Outcome payments and every investor figure do not depend on it" in text
    b = run.summary()["baseline"]["time_at_home_share"]
    assert f"median {format_percent(b['p50'])}" in text
    assert "sibmodel baseline SCENARIO --baselines" in text
    assert "Read first: what the published value to government measures." in text
    assert (
        "weeks out of care with therapy × the weekly cost of the cheapest placement (here foster, £646 a week" in text
    )
    assert "It is not care costs avoided" in text
