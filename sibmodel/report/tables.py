"""Plain-text tables of a run's headline figures, for the terminal and the README."""

from __future__ import annotations

from sibmodel.outputs import (
    BASELINE_GAP_PAYMENTS_GBP,
    BASELINE_TIME_AT_HOME_SHARE,
    BOROUGH_PAID_GBP,
    BY_KEY,
    COMMISSIONER_CARE_COSTS_AVOIDED_GBP,
    COMMISSIONER_NET_SAVINGS_GBP,
    COMMISSIONER_OUTCOME_PAYMENTS_GBP,
    GOVERNMENT_VALUE_GBP,
    GOVERNMENT_VALUE_PUBLISHED_METHOD_GBP,
    INVESTOR_CAPITAL_DRAWN_PEAK_GBP,
    INVESTOR_IRR_ANNUAL,
    INVESTOR_MOIC,
    INVESTOR_PAYBACK_QUARTER,
    NET_SAVINGS_GBP,
    OUTCOME_PAYMENTS_GBP,
    STARTS,
    TIME_AT_HOME_SHARE,
    TOPUP_PAID_GBP,
    WEEKS_OUT_OF_CARE,
    has_summary_block,
    summary_block,
)


def format_money(x: float | None) -> str:
    """An amount [GBP] for tables: ``£1.23m`` from £100,000 up, else ``£12,345``; a loss as ``-£0.27m``;
    ``n/a`` for None or NaN."""
    if x is None or x != x:
        return "n/a"
    sign = "-" if x < 0 and (round(abs(x) / 1e4) if abs(x) >= 1e5 else round(abs(x))) else ""
    return f"{sign}£{abs(x) / 1e6:,.2f}m" if abs(x) >= 1e5 else f"{sign}£{abs(x):,.0f}"


def format_percent(x: float | None) -> str:
    """A share [0-1] as a percentage with one decimal (``12.3%``); ``n/a`` for None or NaN."""
    return "n/a" if x is None or x != x else f"{x:.1%}"


def format_number(x: float | None) -> str:
    """A number for tables: whole with thousands separators from 100 up, else 3 significant figures;
    ``n/a`` for None or NaN."""
    return "n/a" if x is None or x != x else f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.3g}"


def _pctile(x: float | None, unit: str = "") -> str:
    return "n/a" if x is None or x != x else f"{x:.0f}{unit}"


FORMATS = {"gbp": format_money, "share": format_percent, "count": format_number, "ratio": format_number}


def format_level(kind: str, x: float) -> str:
    """A figure's value as text: money, share, probability, ratio or count."""
    if kind in ("share", "prob"):
        return format_percent(x)
    if kind == "gbp":
        return format_money(x)
    if kind == "ratio":
        return "n/a" if x != x else f"{x:,.2f}"
    return format_number(x)


def format_diff(kind: str, x: float) -> str:
    """A difference as signed text; shares and probabilities in percentage points (pp)."""
    if x != x:
        return "n/a"
    if kind in ("share", "prob"):
        return f"{x * 100:+.1f} pp"
    return ("-" if x < 0 else "+" if x > 0 else "\u00b1") + format_level(kind, abs(x))


def _row(label: str, block: dict, kind: str) -> str:
    f = FORMATS[kind]
    return f"  {label:<44} {f(block['p50']):>12} {f(block['p5']):>12} {f(block['p95']):>12}"


def _baseline_rows(summary: dict) -> list[str]:
    """The baseline drawn and the effect it implies, when the scenario has a ``baseline:`` block."""
    b = summary.get("baseline")
    if b is None:
        return []
    rows = [_row("  baseline drawn (an assumption)", summary_block(summary, BASELINE_TIME_AT_HOME_SHARE), "share")]
    rows += [
        _row(f"  implied hazard ratio, {name}", block, "ratio") for name, block in b["implied_hazard_ratio"].items()
    ]
    return rows


def _payback_rows(summary: dict) -> list[str]:
    """P(never repaid), and the payback quarter over the draws repaid (``n``): no "never" inside the statistics."""
    inv = summary["investor"]
    if "p_never_repaid" not in inv:  # runs saved before it was reported
        return []
    block = summary_block(summary, INVESTOR_PAYBACK_QUARTER)
    line = f"  P(never repaid) {format_percent(inv['p_never_repaid'])}"
    if block.get("n"):
        line += f"   payback quarter {format_number(block['p50'])} (median of the {block['n']:,} draws repaid)"
    return [line]


def given_seed(meta: dict):
    """The seed the user gave, or None (a run without --seed may come back from a saved folder as NaN)."""
    seed = meta.get("seed")
    if seed is None or (isinstance(seed, float) and seed != seed):
        return None
    return int(seed)


def seed_text(meta: dict) -> str:
    """``seed 1`` for a run given a seed; ``seed entropy N`` for one that drew fresh entropy."""
    seed = given_seed(meta)
    return f"seed {seed}" if seed is not None else f"seed entropy {meta.get('seed_entropy', '?')}"


def headline_table(summary: dict) -> str:
    """Median and 5-95% range of the figures each user looks at first."""
    inv, com = summary["investor"], summary["commissioner"]

    def row(label: str, column: str, kind: str) -> str:
        return _row(label, summary_block(summary, column), kind)

    head = f"  {'':<44} {'median':>12} {'p5':>12} {'p95':>12}"
    lines = [
        f"{summary['meta'].get('draws', '?')} draws, {seed_text(summary['meta'])}",
        "",
        "Outcomes (policy)",
        head,
        row(BY_KEY[STARTS].label, STARTS, "count"),
        row("weeks out of care (treated)", WEEKS_OUT_OF_CARE, "count"),
        row("time at home, with therapy", TIME_AT_HOME_SHARE["treated"], "share"),
        row("time at home, without therapy", TIME_AT_HOME_SHARE["counterfactual"], "share"),
        *_baseline_rows(summary),
        "",
        "Contract",
        head,
        row("outcome payments", OUTCOME_PAYMENTS_GBP, "gbp"),
        row("  paid by boroughs", BOROUGH_PAID_GBP, "gbp"),
        row("  paid by the top-up", TOPUP_PAID_GBP, "gbp"),
        *(
            [row("  for the baseline's gap (before caps)", BASELINE_GAP_PAYMENTS_GBP, "gbp")]
            if has_summary_block(summary, BASELINE_GAP_PAYMENTS_GBP)
            else []
        ),
        "",
        "Investor",
        head,
        row("IRR (annual)", INVESTOR_IRR_ANNUAL, "share"),
        row("money multiple", INVESTOR_MOIC, "ratio"),
        row("peak capital drawn", INVESTOR_CAPITAL_DRAWN_PEAK_GBP, "gbp"),
        f"  P(loss) {format_percent(inv['p_loss'])}   "
        f"P(commitment of {format_money(inv['commitment_gbp'])} exceeded) "
        f"{format_percent(inv['p_commitment_exceeded'])}",
        *_payback_rows(summary),
        "",
        f"Commissioners (discounted at {com['discount_rate_real_annual']:.1%} to {com['price_year']})",
        head,
        row("outcome payments (net of top-up)", COMMISSIONER_OUTCOME_PAYMENTS_GBP, "gbp"),
        row("care costs avoided", COMMISSIONER_CARE_COSTS_AVOIDED_GBP, "gbp"),
        row("net savings", COMMISSIONER_NET_SAVINGS_GBP, "gbp"),
        f"  P(net savings > 0) {format_percent(com['total']['p_net_positive'])}",
    ]
    for name, blk in com["boroughs"].items():
        lines.append(
            f"    {name:<28} net savings median {format_money(blk[NET_SAVINGS_GBP]['p50']):>10}  "
            f"P(ahead) {format_percent(blk['p_net_positive'])}"
        )
    lines += ["", "Government", head, row("value (gross care costs avoided)", GOVERNMENT_VALUE_GBP, "gbp")]
    if has_summary_block(summary, GOVERNMENT_VALUE_PUBLISHED_METHOD_GBP):  # absent from runs saved before it was added
        lines.append(row("value, published method (reconstruction)", GOVERNMENT_VALUE_PUBLISHED_METHOD_GBP, "gbp"))
    if summary.get("validation"):
        lines += ["", validation_table(summary["validation"])]
    if summary.get("warnings"):
        lines += ["", "Warnings"] + [f"  - {w}" for w in summary["warnings"]]
    return "\n".join(lines)


def kind_label(row: dict) -> str:
    """A validation row's kind as words (``calibration_target`` -> ``calibration target``).

    A row saved by a version before kinds had only a ``calibration_target`` flag; its
    other rows were never classified, and are shown so.
    """
    kind = row.get("kind") or ("calibration_target" if row.get("calibration_target") else "unclassified")
    return kind.replace("_", " ")


def validation_table(rows: list[dict], markdown: bool = False) -> str:
    """Observed figures against the model's 5/50/95%, the observed value's percentile and each row's kind.

    The kind says what a match can show (``sibmodel.scenario.schema.VALIDATION_KINDS``): only an
    ``independent`` row is a check that no input was set from.
    """

    def fmt(fig: str, x: float) -> str:
        if "share" in fig:
            return format_percent(x)
        if fig.endswith("_gbp"):
            return format_money(x)
        return format_number(x)

    if markdown:
        out = [
            "| figure | observed | model p5 | model p50 | model p95 | percentile of observed | inside 5-95% | kind |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            out.append(
                f"| {r['figure']} | {fmt(r['figure'], r['observed'])} | "
                f"{fmt(r['figure'], r['p5'])} | {fmt(r['figure'], r['p50'])} | "
                f"{fmt(r['figure'], r['p95'])} | "
                f"{_pctile(r['percentile_of_observed'])} | {'yes' if r['inside_p5_p95'] else 'NO'} | {kind_label(r)} |"
            )
        return "\n".join(out)
    width = max([len(r["figure"]) for r in rows] + [6])
    out = [
        "Validation against published results (kind: what a match shows; "
        "only 'independent' is a check no input was set from)",
        f"  {'figure':<{width}} {'observed':>10} {'p5':>10} {'p50':>10} {'p95':>10} {'pctile':>7}  kind",
    ]
    for r in rows:
        mark = "" if r["inside_p5_p95"] else "  <- outside 5-95%"
        out.append(
            f"  {r['figure']:<{width}} {fmt(r['figure'], r['observed']):>10} {fmt(r['figure'], r['p5']):>10} "
            f"{fmt(r['figure'], r['p50']):>10} "
            f"{fmt(r['figure'], r['p95']):>10} "
            f"{_pctile(r['percentile_of_observed'], '%'):>7}  {kind_label(r):<18}{mark}".rstrip()
        )
    return "\n".join(out)


#: The headline figures ``update`` sets before and after: (label, dotted path in summary.json, kind).
UPDATE_FIGURES = (
    ("Outcome payments, total", "contract.outcome_payments_gbp", "gbp"),
    ("Investor money multiple", "investor.moic", "ratio"),
    ("Investor IRR (annual)", "investor.irr", "share"),
    ("Investor P(loss)", "investor.p_loss", "prob"),
    ("P(capital needed exceeds the commitment)", "investor.p_commitment_exceeded", "prob"),
    ("Commissioners' net savings (discounted)", "commissioner.total.net_savings_gbp", "gbp"),
)


def _at(summary: dict, path: str):
    block = summary
    for part in path.split("."):
        block = block.get(part) if isinstance(block, dict) else None
    return block


def _level_with_band(block, kind: str) -> str:
    if isinstance(block, dict):
        return (
            f"{format_level(kind, block['p50'])} "
            f"({format_level(kind, block['p5'])} to {format_level(kind, block['p95'])})"
        )
    return format_level(kind, float("nan") if block is None else block)


def update_rows(record: dict) -> list[tuple[str, str, str]]:
    """Headline figures before (prior) and after (posterior) an update, as text: (figure, prior, posterior);
    medians with 5-95% ranges, probabilities as shares; each borough's net saving and P(ahead).

    Parameters
    ----------
    record : dict
        ``update.json`` (:meth:`sibmodel.workflows.update.Update.record`).
    """
    prior, post = record["prior"], record["posterior"]
    figures = list(UPDATE_FIGURES)
    for name in post.get("commissioner", {}).get("boroughs") or {}:
        base = f"commissioner.boroughs.{name}"
        figures += [
            (f"{name}: net saving (discounted)", f"{base}.net_savings_gbp", "gbp"),
            (f"{name}: P(net saving > 0)", f"{base}.p_net_positive", "prob"),
        ]
    return [
        (label, _level_with_band(_at(prior, path), kind), _level_with_band(_at(post, path), kind))
        for label, path, kind in figures
    ]


def update_table(record: dict) -> str:
    """:func:`update_rows` as a terminal table."""
    rows = [("figure", "before (prior)", "after (posterior)"), *update_rows(record)]
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"  {a:<{width[0]}}  {b:>{width[1]}}  {c:>{width[2]}}" for a, b, c in rows)


# --------------------------------------------------------------------------- workflow tables
#: Width of every printed line [characters].
LINE_WIDTH = 100

#: How a cell is written, by kind: money, share (as a percentage), whole count, ratio, text.
CELL_FORMATS = {
    "gbp": format_money,
    "share": format_percent,
    "count": lambda x: f"{x:,.0f}",
    "ratio": format_number,
    "number": format_number,
}


def column_kind(name: str) -> str:
    """The kind of a workflow-table column from its name: ``*gbp*`` money; ``p_*``, ``*share*``, ``*irr*``,
    ``baseline`` and ``break_even_*`` (baselines) shares; ``*starts*`` young people; else a plain number
    (money multiples, Sobol indices, input values)."""
    n = name.lower()
    if "gbp" in n:
        return "gbp"
    if n.startswith(("p_", "least_p_", "break_even_")) or n == "baseline" or "share" in n or "irr" in n:
        return "share"
    if "starts" in n:
        return "count"
    return "number"


def kind_of_unit(unit: str) -> str:
    """The kind of a row from its unit text (``GBP ...``, ``share ...``, ``young people``, ``weeks``, ...)."""
    u = unit.lower()
    if u.startswith("gbp") or u.startswith("£"):
        return "gbp"
    if u.startswith(("share", "probability")):
        return "share"
    if u in ("young people", "weeks", "count"):
        return "count"
    return "number"


def format_cell(kind: str, x) -> str:
    """One cell: numbers by kind, "–" where there is no number (None, NaN), text as it is."""
    if x is None or (isinstance(x, float) and x != x):
        return "\u2013"
    if isinstance(x, (bool, str)) or kind == "text":
        return str(x)
    try:
        value = float(x)
    except (TypeError, ValueError):
        return str(x)
    return "\u2013" if value != value else CELL_FORMATS.get(kind, format_number)(value)


def render_table(df, columns=None, *, kinds=None, row_kind=None, width: int = LINE_WIDTH) -> str:
    """A data frame as a plain-text table within ``width`` columns.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    columns : list of str, optional
        Columns to show, in order (default all).
    kinds : dict, optional
        Kind of a column (``gbp``, ``share``, ``count``, ``ratio``, ``number``, ``text``); by default from its
        name (:func:`column_kind`), text for columns of text.
    row_kind : callable, optional
        ``row -> kind`` for tables whose rows have different units (it overrides the numeric columns).
    width : int
        The widest line [characters]. A table wider than this is printed in parts, each repeating the
        first column; a cell longer than the width is cut with an ellipsis.

    Returns
    -------
    str
    """
    columns = list(columns) if columns is not None else list(df.columns)
    kinds = dict(kinds or {})
    numeric = {c: df[c].dtype.kind in "fiub" for c in columns}
    for c in columns:
        kinds.setdefault(c, column_kind(c) if numeric[c] and df[c].dtype.kind != "b" else "text")
    cells = {c: [] for c in columns}
    for _, row in df[columns].iterrows():
        rk = row_kind(row) if row_kind is not None else None
        for c in columns:
            kind = rk if rk is not None and numeric[c] else kinds[c]
            text = format_cell(kind, row[c])
            cells[c].append(text if len(text) <= width - 40 else text[: width - 41] + "\u2026")
    first, rest = columns[0], columns[1:]
    widths = {c: max([len(c)] + [len(t) for t in cells[c]]) for c in columns}
    room = max(width - widths[first] - 2, 8)  # a column printed beside the first is cut to fit
    for c in rest:
        if widths[c] > room:
            cells[c] = [t if len(t) <= room else t[: room - 1] + "\u2026" for t in cells[c]]
            widths[c] = room
    parts, part, used = [], [], widths[first]
    for c in rest:
        if part and used + 2 + widths[c] > width:
            parts.append(part)
            part, used = [], widths[first]
        part.append(c)
        used += 2 + widths[c]
    parts.append(part)
    blocks = []
    for part in parts:
        cols = [first, *part]

        def line(values, cols=cols):
            return "  ".join(
                v.ljust(widths[c]) if kinds[c] == "text" else v.rjust(widths[c]) for c, v in zip(cols, values)
            ).rstrip()

        rows = [line(cols)] + [line([cells[c][i] for c in cols]) for i in range(len(df))]
        blocks.append("\n".join(rows))
    return "\n\n".join(blocks)


def wrap_text(text: str, width: int = LINE_WIDTH) -> str:
    """Printed prose within ``width`` columns, each line's indent kept (continuations indented two more)."""
    import textwrap

    out = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        out.append(
            textwrap.fill(
                line.strip(),
                width=width,
                initial_indent=indent,
                subsequent_indent=indent + "  ",
                break_long_words=True,
                break_on_hyphens=False,
            )
        )
    return "\n".join(out)
