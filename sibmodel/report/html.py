"""The HTML report of a run (``report.html``) and of a comparison (``compare.html``).

A report is one self-contained file: figures are embedded as base64 PNG, the
style sheet is inline, there is no script, and a Content-Security-Policy forbids
every fetch but ``data:`` images -- it opens offline and from e-mail. Every piece
of text that comes from a scenario (names, descriptions, sources, borough
names, labels) is HTML-escaped, so a scenario named ``<script>...`` shows as
text.

Sections: investors, boroughs, policy (one per user, see README "Who it is for"), validation
against published figures, the assumption log with sources, and the manifest
(seed, scenario hash, versions).  A run's report is built from the saved run
folder (:func:`sibmodel.results.rundir.load_run`), so ``sibmodel report RUN_DIR``
regenerates exactly what ``sibmodel run`` wrote.
"""

from __future__ import annotations

import base64
import html
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from sibmodel.outputs import (
    BASELINE_TIME_AT_HOME_SHARE,
    CARE_COSTS_AVOIDED_GBP,
    COST_PER_FAMILY_GBP,
    ENTERED_CARE_SHARE,
    GOVERNMENT_VALUE_GBP,
    GOVERNMENT_VALUE_PUBLISHED_METHOD_GBP,
    INVESTOR_CAPITAL_DRAWN_PEAK_GBP,
    INVESTOR_DISTRIBUTIONS_TOTAL_GBP,
    INVESTOR_IRR_ANNUAL,
    INVESTOR_MOIC,
    INVESTOR_PAYBACK_QUARTER,
    NET_SAVINGS_GBP,
    OUTCOME_PAYMENTS_GBP,
    STARTS,
    TIME_AT_HOME_SHARE,
    WEEKS_OUT_OF_CARE,
    WEEKS_OUT_OF_CARE_PER_START,
    has_summary_block,
    summary_block,
)
from sibmodel.report import figures as F
from sibmodel.report.tables import (
    format_diff,
    format_level,
    format_money,
    format_number,
    format_percent,
    given_seed,
    kind_label,
)
from sibmodel.results.rundir import load_run
from sibmodel.scenario.assumptions import assumption_log, resolved_summary

REPORT_FILE = "report.html"
FIGURES_DIR = "figures"
COMPARE_FILE = "compare.html"

#: No fetch of any kind except images embedded as data: URLs; no script at all.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0 auto;max-width:1100px;
  padding:0 1.5rem 3rem;color:#1a1a1a;line-height:1.45}
header{border-bottom:3px solid #1f77b4;margin-bottom:1rem}
h1{font-size:1.6rem;margin:1.2rem 0 .3rem}
h2{font-size:1.3rem;border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2.2rem}
nav a{margin-right:1rem}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.9rem;display:block;overflow-x:auto;max-width:100%}
th,td{border:1px solid #d0d0d0;padding:.25rem .5rem;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
thead th{background:#f1f5f9}
tr.outside td{background:#fdecea}
figure{margin:1.2rem 0}figure img{max-width:100%;height:auto;border:1px solid #e5e5e5}
figcaption{font-size:.8rem;color:#555}
.muted{color:#666;font-size:.85rem}
pre{background:#f6f6f6;padding:.6rem;white-space:pre-wrap;font-size:.8rem}
"""


def _e(value) -> str:
    """HTML-escape anything (quotes too)."""
    return html.escape(str(value), quote=True)


def _table(
    head: Sequence[str], rows: Iterable[Sequence], numeric: Iterable[int] = (), row_classes: Sequence[str] | None = None
) -> str:
    """An HTML table; every cell is escaped; the ``numeric`` columns are right-aligned."""
    num = set(numeric)
    th = "".join(f"<th{' class=n' if i in num else ''}>{_e(h)}</th>" for i, h in enumerate(head))
    body = []
    for j, row in enumerate(rows):
        cls = f' class="{_e(row_classes[j])}"' if row_classes and row_classes[j] else ""
        tds = "".join(f"<td{' class=n' if i in num else ''}>{_e(c)}</td>" for i, c in enumerate(row))
        body.append(f"<tr{cls}>{tds}</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _band(block: dict, fmt) -> list[str]:
    return [fmt(block["p50"]), fmt(block["p5"]), fmt(block["p95"]), fmt(block["mean"])]


BAND_HEAD = ["figure", "median", "p5", "p95", "mean"]


def _ratio(x) -> str:
    return "n/a" if x is None or x != x else f"{x:,.2f}"


def _figure_html(fig, title: str, stem: str, figure_dir: Path | None, svg: bool = False) -> str:
    """The figure drawn once as PNG, embedded; also written to ``figure_dir`` (and drawn as SVG if ``svg``)."""
    png = F.to_png(fig)
    if figure_dir is not None:
        (figure_dir / f"{stem}.png").write_bytes(png)
        if svg:
            (figure_dir / f"{stem}.svg").write_bytes(F.to_svg(fig))
    w, h = (int(round(v * F.PNG_DPI)) for v in fig.get_size_inches())
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure id="fig-{_e(stem)}"><img src="data:image/png;base64,{data}" alt="{_e(title)}" width="{w}" '
        f'height="{h}">'
        f"<figcaption><strong>{_e(title)}.</strong> {_e(F.caption_of(fig))}</figcaption></figure>"
    )


def _manifest(run) -> dict:
    m = getattr(run, "manifest", {})
    return m() if callable(m) else dict(m)


# --------------------------------------------------------------------------- sections of a run
def _investor_section(s: dict) -> str:
    inv, c = s["investor"], s["contract"]
    rows = [
        ["IRR [a year]", *_band(summary_block(s, INVESTOR_IRR_ANNUAL), format_percent)],
        ["money multiple [x]", *_band(summary_block(s, INVESTOR_MOIC), _ratio)],
        ["peak capital drawn [GBP]", *_band(summary_block(s, INVESTOR_CAPITAL_DRAWN_PEAK_GBP), format_money)],
        ["distributions received [GBP]", *_band(summary_block(s, INVESTOR_DISTRIBUTIONS_TOTAL_GBP), format_money)],
        ["outcome payments [GBP]", *_band(summary_block(s, OUTCOME_PAYMENTS_GBP), format_money)],
    ]
    probs = [
        ["commitment [GBP]", format_money(inv["commitment_gbp"])],
        ["P(loss): money multiple < 1", format_percent(inv["p_loss"])],
        ["P(commitment exceeded)", format_percent(inv["p_commitment_exceeded"])],
        ["P(total loss: no IRR)", format_percent(inv["p_total_loss"])],
        *([["P(never repaid)", format_percent(inv["p_never_repaid"])]] if "p_never_repaid" in inv else []),
        *(
            [[f"payback quarter, median over the {payback['n']:,} draws repaid", format_number(payback["p50"])]]
            if (payback := summary_block(s, INVESTOR_PAYBACK_QUARTER)).get("n")
            else []
        ),
        ["expected loss [share of capital]", format_percent(inv["expected_loss_share"])],
        ["money multiple, 5% value at risk [x]", _ratio(inv["moic_var5"])],
        ["P(total contract cap binding)", format_percent(c["p_total_cap_binding"])],
    ]
    return _table(BAND_HEAD, rows, numeric=range(1, 5)) + _table(["risk", "value"], probs, numeric=[1])


def _borough_section(s: dict) -> str:
    com = s["commissioner"]
    rows = []
    for name, b in list(com["boroughs"].items()) + [("All boroughs", com["total"])]:
        rows.append(
            [
                name,
                format_number((b[STARTS] if STARTS in b else summary_block(s, STARTS))["p50"]),
                format_money(b[OUTCOME_PAYMENTS_GBP]["p50"]),
                format_money(b[CARE_COSTS_AVOIDED_GBP]["p50"]),
                format_money(b[NET_SAVINGS_GBP]["p50"]),
                f"{format_money(b[NET_SAVINGS_GBP]['p5'])} to {format_money(b[NET_SAVINGS_GBP]['p95'])}",
                _ratio(b["benefit_cost_ratio"]["p50"]),
                format_percent(b["p_net_positive"]),
            ]
        )
    head = [
        "borough",
        "starts (median)",
        "outcome payments (median) [GBP]",
        "care costs avoided (median) [GBP]",
        "net savings (median) [GBP]",
        "net savings 5-95% [GBP]",
        "benefit-cost ratio (median)",
        "P(ahead)",
    ]
    rate = format_percent(com["discount_rate_real_annual"])
    note = (
        f'<p class="muted">Money discounted at {_e(rate)} real to {_e(com["price_year"])} prices; '
        "outcome payments are the boroughs' share (net of the central top-up).</p>"
    )
    return note + _table(head, rows, numeric=range(1, 8))


def _policy_section(s: dict) -> str:
    def band(column: str, fmt) -> list[str]:
        return _band(summary_block(s, column), fmt)

    rows = [
        ["starts [young people]", *band(STARTS, format_number)],
        ["time at home, with therapy [share of tracked time]", *band(TIME_AT_HOME_SHARE["treated"], format_percent)],
        [
            "time at home, without therapy [share of tracked time]",
            *band(TIME_AT_HOME_SHARE["counterfactual"], format_percent),
        ],
        ["weeks out of care, all starts [weeks]", *band(WEEKS_OUT_OF_CARE, format_number)],
        ["weeks out of care per start [weeks]", *band(WEEKS_OUT_OF_CARE_PER_START, format_number)],
        ["entered care, with therapy [share of starts]", *band(ENTERED_CARE_SHARE["treated"], format_percent)],
        [
            "entered care, without therapy [share of starts]",
            *band(ENTERED_CARE_SHARE["counterfactual"], format_percent),
        ],
        ["value to government: gross care costs avoided [GBP]", *band(GOVERNMENT_VALUE_GBP, format_money)],
        *(
            [
                [
                    "value to government, published method (a reconstruction: weeks out of care x the cheapest "
                    "placement's "
                    "weekly cost, PFP: foster) [GBP]",
                    *band(GOVERNMENT_VALUE_PUBLISHED_METHOD_GBP, format_money),
                ]
            ]
            if has_summary_block(s, GOVERNMENT_VALUE_PUBLISHED_METHOD_GBP)
            else []
        ),
        ["outcome payments per start [GBP]", *band(COST_PER_FAMILY_GBP, format_money)],
    ]
    return _table(BAND_HEAD, rows, numeric=range(1, 5))


def _baseline_note(s: dict) -> str:
    """What the baseline (time at home without therapy) is and what it decides, for the policy section."""
    b = s.get("baseline")
    if b is None:
        return (
            '<p class="muted">The scenario has no <code>baseline:</code> block: its care model is the arm without '
            "therapy, so time at home without therapy is a consequence of the care inputs, not an input of its own.</p>"
        )
    rows = [
        [
            "baseline input: time at home without therapy [share of tracked time]",
            *_band(summary_block(s, BASELINE_TIME_AT_HOME_SHARE), format_percent),
        ]
    ]
    rows += [
        [f"implied hazard ratio, {name} [ratio]", *_band(block, _ratio)]
        for name, block in b["implied_hazard_ratio"].items()
    ]
    clamped = b.get("share_of_draws_clamped", 0.0)
    note = (
        "<p><strong>What the baseline decides.</strong> Time at home without the therapy is an assumption, not an "
        "observation: the scenario draws it from its own distribution (<code>baseline:</code>), apart from the outcome "
        "with therapy. Outcome payments, and every investor figure, depend only on the outcome with therapy; "
        "care costs "
        "avoided, value to government and the boroughs' net savings depend on the baseline. The therapy's effect is "
        "implied by the two, per draw. The chart below shows net savings against the baseline drawn; "
        "<code>sibmodel baseline SCENARIO --baselines 0.35,0.5,0.65,0.8</code> holds it fixed and solves each "
        "borough's "
        "break-even baseline.</p>"
    )
    if clamped > 0:
        note += (
            f'<p class="muted">{_e(format_percent(clamped))} of draws asked for a baseline the care pathway '
            "cannot reach; they were clamped to the nearest reachable one.</p>"
        )
    return note + _table(BAND_HEAD, rows, numeric=range(1, 5))


def _caveats(s: dict, sc) -> str:
    """The two caveats a reader needs before any figure: what the baseline decides, and what the
    published value to government measures (shown at the top of the report)."""
    b = s.get("baseline")
    assumed = (
        f"drawn from its own distribution, median {format_percent(b['time_at_home_share']['p50'])} "
        f"(5-95%: {format_percent(b['time_at_home_share']['p5'])} to {format_percent(b['time_at_home_share']['p95'])})"
        if b
        else "set by the care inputs (the scenario has no <code>baseline:</code> block)"
    )
    cheapest, cost = min(((k, p.weekly_cost_gbp.mean()) for k, p in sc.care.placements.items()), key=lambda kv: kv[1])
    return (
        '<div class="caveats"><p><strong>Read first: what the baseline decides.</strong> The boroughs\' care '
        "costs avoided and "
        "net savings, and value to government, depend on the baseline: the time at home these young people "
        "would have had "
        f"without the therapy, which is assumed, not observed (here {assumed}). Outcome payments and every "
        "investor figure do "
        "not depend on it. This run does not solve each borough's break-even baseline (the baseline at which "
        "its net saving is "
        "zero); <code>sibmodel baseline SCENARIO --baselines 0.35,0.5,0.65,0.8</code> does.</p>"
        "<p><strong>Read first: what the published value to government measures.</strong> \u201cValue to "
        "government, published "
        "method\u201d is our reconstruction of a published figure: weeks out of care with therapy \u00d7 the "
        "weekly cost of the "
        f"cheapest placement (here {_e(cheapest)}, {_e(format_money(cost))} a week by default). It is not care "
        "costs avoided: no "
        "counterfactual is deducted, so it also counts the weeks young people would have spent at home without "
        "the therapy. "
        "Care costs avoided against the baseline are \u201cvalue to government: gross care costs "
        "avoided\u201d.</p></div>"
    )


def _validation_section(rows: list[dict]) -> str:
    if not rows:
        return '<p class="muted">The scenario has no <code>observed:</code> figures to validate against.</p>'

    def fmt(fig: str, x) -> str:
        return format_percent(x) if "share" in fig else format_money(x) if fig.endswith("_gbp") else format_number(x)

    body = [
        [
            r["label"],
            r["figure"],
            fmt(r["figure"], r["observed"]),
            fmt(r["figure"], r["p5"]),
            fmt(r["figure"], r["p50"]),
            fmt(r["figure"], r["p95"]),
            f"{r['percentile_of_observed']:.0f}"
            if r["percentile_of_observed"] == r["percentile_of_observed"]
            else "n/a",
            "yes" if r["inside_p5_p95"] else "NO",
            kind_label(r),
            r.get("note") or "",
            r["source"],
        ]
        for r in rows
    ]
    head = [
        "label",
        "figure",
        "observed",
        "model p5",
        "model p50",
        "model p95",
        "percentile of observed",
        "inside 5-95%",
        "kind",
        "why this kind",
        "source",
    ]
    note = (
        '<p class="muted">Kind says what a match can show: a <b>calibration target</b> was met by solving inputs; '
        "an <b>input</b> row's model figure is set by an input; a <b>derived</b> row follows arithmetically from other "
        "rows; only an <b>independent</b> row is a check that no input was set from.</p>"
    )
    return note + _table(
        head, body, numeric=range(2, 7), row_classes=["" if r["inside_p5_p95"] else "outside" for r in rows]
    )


def _assumption_section(scenario) -> str:
    rows = [["~" if a.uncertain else "=", a.path, a.distribution, a.source] for a in assumption_log(scenario)]
    return (
        '<p class="muted">Every number the scenario assumes, in document order. ~ drawn per Monte Carlo draw; = '
        "fixed.</p>" + _table(["", "path", "value or distribution", "source"], rows, numeric=())
    )


def _manifest_section(manifest: dict, meta: dict) -> str:
    keys = [
        ("seed", given_seed(meta)),
        ("seed entropy", meta.get("seed_entropy")),
        ("scenario hash (SHA-256)", meta.get("scenario_hash")),
        ("sibmodel version", meta.get("version")),
        ("draws", meta.get("draws")),
        ("chunk size", meta.get("chunk_size")),
        ("workers", meta.get("workers")),
        ("elapsed [s]", meta.get("elapsed_s")),
        ("written at (UTC)", manifest.get("written_at")),
    ]
    versions = manifest.get("versions") or {}
    rows = [[k, "none (fresh entropy)" if v is None and k == "seed" else v] for k, v in keys]
    rows += [[f"version of {k}", v] for k, v in versions.items()]
    return _table(["item", "value"], rows, numeric=()) + (
        '<p class="muted">The resolved scenario is saved in <code>manifest.json</code>; '
        "the same scenario hash, seed and chunk size give bit-identical draws.</p>"
    )


def _page(title: str, header_html: str, sections: list[tuple[str, str, str]]) -> str:
    nav = "".join(f'<a href="#{_e(sid)}">{_e(heading)}</a>' for sid, heading, _ in sections)
    body = "".join(
        f'<section id="{_e(sid)}"><h2>{_e(heading)}</h2>{content}</section>' for sid, heading, content in sections
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        f"<header>{header_html}<nav>{nav}</nav></header><main>{body}</main></body></html>\n"
    )


def _update_section(folder, figure_dir: Path | None, svg: bool = False) -> list[tuple[str, str, str]]:
    """For a folder written by ``sibmodel update`` (it holds ``update.json``): the re-forecast first, the fan
    chart of cumulative payments prior against posterior with the actuals marked, and the headline figures
    before and after.  Other runs: nothing."""
    from sibmodel.report.tables import update_rows

    path = None if folder is None else Path(folder) / "update.json"
    if path is None or not path.is_file():
        return []
    record = json.loads(path.read_text())
    ess = record["effective_sample_size"]
    text = (
        f"<p>Conditioned on the actuals in <code>{_e(record['actuals_file'])}</code> through "
        f"{_e(record['observed_through'])} "
        f"({_e(record['n_rows'])} rows). Method: {_e(record['method'])}. Effective sample size {ess:.0f} of "
        f"{_e(record['prior_draws'])} prior draws. Every other section of this report is the posterior; payments up to "
        f"{_e(record['observed_through'])} are the actuals, the rest is forecast.</p>"
    )
    table = _table(["figure", "before the actuals (prior)", "after (posterior)"], update_rows(record), numeric=(1, 2))
    return [
        (
            "update",
            "Re-forecast from actuals",
            text
            + _figure_html(F.update_fan(record), "Re-forecast from actuals", "update_fan", figure_dir, svg)
            + table,
        )
    ]


def build_report(run, figure_dir: str | os.PathLike | None = None, *, figures=None, svg: bool = False) -> str:
    """The HTML report of one run.

    Parameters
    ----------
    run : Results or SavedRun
        Anything with ``.scenario``, ``.draws``, ``.cashflows``, ``.summary()``.
    figure_dir : path, optional
        If given, each figure is also written there as PNG (and SVG if ``svg``).
    figures : str or sequence of str, optional
        The figures to draw (:func:`sibmodel.report.figures.figure_names`: names of
        ``RUN_FIGURES``, ``"all"`` or ``"none"``) [default: all].
    svg : bool
        Also write each figure as SVG (a second drawing of it) into ``figure_dir``.

    Returns
    -------
    str
        A complete, self-contained HTML document.
    """
    chosen = F.figure_names(figures)
    s = run.summary()
    sc = run.scenario
    fdir = Path(figure_dir) if figure_dir is not None else None
    if fdir is not None:
        fdir.mkdir(parents=True, exist_ok=True)
    figs: dict[str, list[str]] = {}
    with F.report_style():  # the figures' settings, once for the whole report
        for stem in chosen:
            section, title, fn = F.RUN_FIGURES[stem]
            try:
                fig = fn(run)
            except KeyError as exc:  # a run folder written before this figure's data was saved
                figs.setdefault(section, []).append(
                    f'<p class="muted">{_e(title)}: not available, the run lacks {_e(exc)} (re-run with this '
                    "version of sibmodel).</p>"
                )
                continue
            if fig is not None:
                figs.setdefault(section, []).append(_figure_html(fig, title, stem, fdir, svg))

    def with_figs(section: str, content: str) -> str:
        return content + "".join(figs.get(section, []))

    scenario_lines = resolved_summary(sc)[1:]
    # a run with --set overrides is not the named scenario: the title says what was changed
    overrides = list(s.get("meta", {}).get("overrides") or [])
    title = sc.metadata.name + (f" (--set {'; '.join(overrides)})" if overrides else "")
    header = f"<h1>{_e(title)}</h1>"
    if sc.metadata.description:
        header += f"<p>{_e(sc.metadata.description)}</p>"
    header += f"<pre>{_e(chr(10).join(line.strip() for line in scenario_lines))}</pre>"
    header += (
        f'<p class="muted">sibmodel report: {_e(s["meta"].get("draws"))} Monte Carlo draws. Ranges are the 5th to 95th '
        "percentiles over draws; money is undiscounted unless marked discounted.</p>"
    )
    header += _caveats(s, sc)
    for warning in s.get("warnings") or []:
        header += f'<p class="warning"><strong>Warning:</strong> {_e(warning)}</p>'
    sections = _update_section(getattr(run, "path", None), fdir, svg) + [
        ("investors", "Investors", with_figs("investors", _investor_section(s))),
        ("boroughs", "Boroughs", with_figs("boroughs", _borough_section(s))),
        ("policy", "Policy", with_figs("policy", _baseline_note(s) + _policy_section(s))),
        ("validation", "Validation", with_figs("validation", _validation_section(s.get("validation") or []))),
        ("assumptions", "Assumptions and sources", _assumption_section(sc)),
        ("manifest", "Manifest", _manifest_section(_manifest(run), s.get("meta", {}))),
    ]
    return _page(f"sibmodel report: {title}", header, sections)


def write_report(run, folder: str | os.PathLike, *, figures=None, svg: bool = False) -> Path:
    """Write ``report.html`` and ``figures/`` (PNG; SVG too if ``svg``) of ``run`` into ``folder``.

    ``figures`` chooses the figures as in :func:`build_report` [default: all]; ``figures/``
    then holds only those (it is replaced whole, so no figure of an earlier report is left).

    The report and the figures are first written into a hidden staging folder
    inside ``folder`` and then swapped into place
    (:func:`sibmodel.results.folders.swap_into_place`), so a failure leaves the previous
    report intact.
    """
    from sibmodel.results.folders import make_temporary, swap_into_place

    folder = Path(folder)
    tmp = make_temporary(folder, "new", "report")
    try:
        text = build_report(run, tmp / FIGURES_DIR, figures=figures, svg=svg)
        (tmp / REPORT_FILE).write_text(text, encoding="utf-8")
        swap_into_place(tmp / FIGURES_DIR, folder / FIGURES_DIR)
        swap_into_place(tmp / REPORT_FILE, folder / REPORT_FILE)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder / REPORT_FILE


def report_writer(figures=None, svg: bool = False):
    """A ``Results.to_dir`` extra writer: the report with ``figures`` (default all), PNG and, if ``svg``, SVG.

    The report is built from the files just saved in the folder, so ``sibmodel report``
    rebuilds the same page from them.
    """
    chosen = F.figure_names(figures)  # an unknown name fails before anything is written

    def writer(folder: Path, results) -> None:
        write_report(load_run(folder), folder, figures=chosen, svg=svg)

    return writer


def run_folder_writer(folder: Path, results) -> None:
    """``Results.to_dir`` extra writer: the report with every figure, as PNG (:func:`report_writer`)."""
    report_writer()(folder, results)


def regenerate(run_dir: str | os.PathLike, *, command_line=None, figures=None, svg: bool = False) -> Path:
    """Rebuild ``report.html`` and ``figures/`` of a saved run folder (``sibmodel report``).

    ``figures`` and ``svg`` as in :func:`build_report` [default: every figure, PNG only].

    Only in a folder sibmodel wrote (:func:`sibmodel.results.folders.is_sibmodel_folder`), and
    under its lock (a run writing it at the same time is an error).  The rebuild is added to
    the run's ``manifest.json`` under ``report_rebuilds`` (``command_line`` as typed, if any;
    the versions; when), the run's own provenance kept as it was.
    """
    from sibmodel.exceptions import RunFolderError
    from sibmodel.results.folders import (
        MARKER_FILE,
        claim,
        foreign_entries,
        is_sibmodel_folder,
        list_entries,
        write_marker,
    )

    def ours(p: str) -> bool:  # what the report replaces
        return p in (REPORT_FILE, FIGURES_DIR) or p.startswith(FIGURES_DIR + "/")

    with claim(run_dir, check=False) as folder:
        folder = Path(folder)
        if folder.is_symlink() or (folder.is_dir() and not is_sibmodel_folder(folder)):
            raise RunFolderError(
                f"{folder}: not a folder sibmodel wrote (no {MARKER_FILE}); the report is written only into a "
                "run folder"
            )
        if folder.is_dir() and (foreign := [p for p in foreign_entries(folder) if ours(p)]):
            raise RunFolderError(
                f"{folder}: {', '.join(foreign[:5])} not written by sibmodel; move them out first (the report "
                f"replaces {REPORT_FILE} and {FIGURES_DIR}/)"
            )
        run = load_run(folder)
        marker = json.loads((folder / MARKER_FILE).read_text()) if (folder / MARKER_FILE).is_file() else None
        path = write_report(run, folder, figures=figures, svg=svg)
        _record_rebuild(folder, command_line)
        if marker is not None:  # the report's files are sibmodel's; nothing else is added to the list
            write_marker(
                folder,
                marker.get("command", "run"),
                {p for p in marker.get("files", []) if not ours(p)} | {p for p in list_entries(folder) if ours(p)},
            )
    return path


def _record_rebuild(folder: Path, command_line) -> None:
    """Add this rebuild to the run folder's ``manifest.json`` (written beside, renamed in)."""
    from sibmodel.results.manifest import MANIFEST_FILE, now_utc, versions, write_manifest

    manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))  # load_run has read it
    rebuild = {
        "command_line": None if command_line is None else [str(a) for a in command_line],
        "versions": versions(),
        "written_at": now_utc(),
    }
    manifest["report_rebuilds"] = [*(manifest.get("report_rebuilds") or []), rebuild]
    write_manifest(folder, manifest)


# --------------------------------------------------------------------------- compare
def build_compare_report(comparison, figure_dir: str | os.PathLike | None = None, *, svg: bool = False) -> str:
    """The HTML report of a comparison (:class:`sibmodel.workflows.compare.Comparison`).

    Parameters
    ----------
    comparison : Comparison
    figure_dir : path, optional
        If given, each overlay figure is also written there as PNG (and SVG if ``svg``).
    svg : bool
        Also write each figure as SVG.
    """
    fdir = Path(figure_dir) if figure_dir is not None else None
    if fdir is not None:
        fdir.mkdir(parents=True, exist_ok=True)
    runs = comparison.runs
    table = comparison.table
    names = [F.run_label(r) for r in runs]
    m = runs[0].summary()["meta"]
    header = (
        f"<h1>Comparison of {len(runs)} scenarios</h1><p>Each scenario was run with {_e(m.get('draws'))} draws "
        "on the same seed "
        f"({_e(given_seed(m) if given_seed(m) is not None else m.get('seed_entropy'))}): common random numbers, so the "
        "differences below are paired draw by draw and reflect the scenarios, not sampling noise.</p>"
    )
    scen_rows = [
        [i, names[i], r.summary()["meta"].get("scenario_hash", ""), path]
        for i, (r, path) in enumerate(zip(runs, comparison.paths))
    ]
    scen = _table(["#", "scenario", "hash (SHA-256)", "file"], scen_rows, numeric=())
    head = ["figure", "#", "median", "p5", "p95", "difference from #0: median", "5-95%", "mean", "P(difference > 0)"]
    rows = []
    for _, r in table.iterrows():
        kind, first = r["kind"], int(r["scenario_index"]) == 0
        band = ("", "") if kind == "prob" else (format_level(kind, r["p5"]), format_level(kind, r["p95"]))
        rows.append(
            [
                r["label"] if first else "",
                f"#{int(r['scenario_index'])}",
                format_level(kind, r["p50"]),
                *band,
                "" if first else format_diff(kind, r["diff_p50"]),
                "" if first else f"{format_diff(kind, r['diff_p5'])} to {format_diff(kind, r['diff_p95'])}",
                "" if first else format_diff(kind, r["diff_mean"]),
                "" if first or kind == "prob" else format_percent(r["p_diff_positive"]),
            ]
        )
    note = (
        '<p class="muted">Differences are taken draw by draw against scenario #0 (paired); shares and '
        "probabilities differ in "
        "percentage points (pp). For a probability P(...) the value is the share of draws and the interval a "
        "90% Monte Carlo "
        "confidence interval of the paired difference.</p>"
    )
    with F.report_style():
        figs = "".join(_figure_html(fig, title, stem, fdir, svg) for stem, title, fig in comparison.figures())
    sections = [
        ("scenarios", "Scenarios", scen),
        ("headline", "Headline figures and differences", note + _table(head, rows, numeric=range(2, 9))),
        ("figures", "Figures", figs),
        (
            "manifest",
            "Manifest",
            _table(
                ["item", "value"],
                [
                    ["sibmodel version", m.get("version")],
                    ["draws", m.get("draws")],
                    ["seed", given_seed(m)],
                    ["seed entropy", m.get("seed_entropy")],
                    ["chunk size", m.get("chunk_size")],
                ],
                numeric=(),
            ),
        ),
    ]
    return _page("sibmodel comparison: " + " vs ".join(names), header, sections)
