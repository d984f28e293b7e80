"""Contract actuals: the quarterly table a contract manager keeps, read and checked, or exported from a run.

The file is CSV with one row per borough and quarter: ``quarter`` (``YYYY-Qn``), ``borough``,
``starts``, ``weeks_out_of_care`` and ``outcome_payments_gbp`` (what was paid for that quarter's
outcomes, the central top-up included).  ``sibmodel actuals`` writes one simulated draw's history
in this form (:func:`export_actuals`); ``sibmodel update`` reads it (:func:`read_actuals`).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sibmodel.engine.history import (
    SERIES,
    draw_history,
    first_quarter,
    history_frame,
    quarter_labels,
)
from sibmodel.exceptions import Issue, ScenarioError
from sibmodel.outputs import OUTCOME_PAYMENTS_GBP, STARTS
from sibmodel.scenario.schema import Scenario

#: Columns of an actuals file, in order.
COLUMNS = ("quarter", "borough", *SERIES)

#: Largest actuals file read [bytes] (10 boroughs x 40 quarters is ~20 kB).
MAX_ACTUALS_BYTES = 16 * 1024**2

_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


class ActualsError(ScenarioError):
    """An actuals file (or the options naming its quarters) is not valid: exit code 2 from the CLI."""

    what = "in the actuals"


@dataclass(frozen=True)
class Actuals:
    """Observed history through a quarter.

    Parameters
    ----------
    values : ndarray, shape (3, B, Q)
        Starts, weeks out of care and outcome payments [young people, weeks, GBP] by borough
        and model quarter; zero after ``through`` and before each borough joins.
    through : int
        Last observed model quarter (0-based).
    n_rows : int
        Rows read.
    source : str
        The file.
    """

    values: np.ndarray
    through: int
    n_rows: int
    source: str

    def through_label(self, s: Scenario) -> str:
        """``YYYY-Qn`` of the last observed quarter."""
        return quarter_labels(s)[self.through]


def quarter_index(s: Scenario, label: str, *, file: str | None = None, path: str = "--through") -> int:
    """The model quarter (0-based) labelled ``label`` (``YYYY-Qn``); :class:`ActualsError` if the contract has none."""
    labels = quarter_labels(s)
    if not _QUARTER.match(str(label)):
        raise ActualsError.one("expected a quarter as YYYY-Qn, e.g. 2020-Q2", file=file, path=path, given=label)
    if label not in labels:
        raise ActualsError.one(
            f"not a quarter of the contract (allowed: {labels[0]} to {labels[-1]})", file=file, path=path, given=label
        )
    return labels.index(label)


def export_actuals(run_dir: str | os.PathLike, draw: int, through: str) -> pd.DataFrame:
    """One draw of a saved run, re-simulated, as an actuals table through quarter ``through``.

    Parameters
    ----------
    run_dir : path
        A run folder written by ``sibmodel run`` (its manifest holds the scenario, entropy and chunk size).
    draw : int
        0-based row of the run's ``draws.parquet``.
    through : str
        Last quarter written, ``YYYY-Qn``.

    Raises
    ------
    ActualsError
        ``draw`` is not in the run, or ``through`` is not a quarter of the contract.
    RunFolderError
        ``run_dir`` is not a saved run.
    """
    from sibmodel.results.rundir import load_run

    run = load_run(run_dir)
    meta = run.manifest
    n_draws = int(meta["draws"])
    if not 0 <= draw < n_draws:
        raise ActualsError.one(
            f"not a draw of the run (allowed: 0 to {n_draws - 1})", file=str(run_dir), path="--draw", given=draw
        )
    q = quarter_index(run.scenario, through)
    hist = draw_history(run.scenario, int(meta["seed_entropy"]), draw, n_draws)
    return history_frame(run.scenario, hist.values[0], q)


def _read_table(path: str) -> tuple[pd.DataFrame, int]:
    """The table as text cells, and the number of comment lines (``#``) before its header."""
    p = Path(path)
    if not p.is_file():
        raise ActualsError.one("not a regular file", file=path, path="")
    if p.stat().st_size > MAX_ACTUALS_BYTES:
        raise ActualsError.one(f"larger than {MAX_ACTUALS_BYTES // 1024**2} MiB", file=path, path="")
    skipped = 0
    with open(p, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.startswith("#"):
                break
            skipped += 1
    try:
        frame = pd.read_csv(p, dtype=str, keep_default_na=False, skipinitialspace=True, skiprows=skipped)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ActualsError.one(
            f"not a CSV table ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})", file=path, path=""
        ) from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ActualsError.one(
            f"missing column(s) {', '.join(missing)}; an actuals file has the columns {', '.join(COLUMNS)}",
            file=path,
            path="",
            given=list(frame.columns),
        )
    if frame.empty:
        raise ActualsError.one("no rows", file=path, path="")
    return frame, skipped


def _number(text: str, *, integer: bool) -> float | None:
    """The cell as a number (``None`` if it is not a finite non-negative number, or not whole where ``integer``)."""
    try:
        x = float(text)
    except ValueError:
        return None
    if not math.isfinite(x) or x < 0 or (integer and x != int(x)):
        return None
    return x


def _check_row(
    s: Scenario, row, labels: list[str], through: int | None, issues: list, where
) -> tuple[int, int, list] | None:
    """(quarter, borough, values) of one row, or None with its problems added to ``issues``."""
    ok = True
    q = labels.index(row.quarter) if row.quarter in labels else None
    if q is None:
        allowed = (
            f"a quarter of the contract, {labels[0]} to {labels[-1]}"
            if _QUARTER.match(row.quarter)
            else "YYYY-Qn, e.g. 2020-Q2"
        )
        issues.append(where("quarter", f"expected {allowed}", row.quarter))
        ok = False
    elif through is not None and q > through:
        issues.append(where("quarter", f"after --through {labels[through]}", row.quarter))
        ok = False
    bi = list(s.boroughs).index(row.borough) if row.borough in s.boroughs else None
    if bi is None:
        issues.append(
            where("borough", f"not a borough of the scenario (allowed: {', '.join(s.boroughs)})", row.borough)
        )
        ok = False
    values = []
    for name in SERIES:
        integer = name != OUTCOME_PAYMENTS_GBP
        x = _number(getattr(row, name), integer=integer)
        if x is None:
            issues.append(
                where(
                    name,
                    "expected a whole number >= 0" if integer else "expected a finite amount >= 0 [GBP]",
                    getattr(row, name),
                )
            )
            ok = False
        values.append(x)
    return (q, bi, values) if ok else None


def read_actuals(s: Scenario, path: str | os.PathLike, through: str | None = None) -> Actuals:
    """Read and check an actuals file against the scenario.

    Parameters
    ----------
    s : Scenario
    path : path
        CSV file with :data:`COLUMNS`.
    through : str, optional
        Last quarter observed, ``YYYY-Qn``; default: the latest quarter in the file.

    Raises
    ------
    ActualsError
        Every problem at once: missing columns, unknown boroughs, quarters outside the contract or
        after ``through``, negative or non-integer counts, duplicate rows, starts before a borough's
        join date, and missing rows (every borough from the quarter it joins to ``through``).
    """
    path = str(path)
    frame, skipped = _read_table(path)
    labels = quarter_labels(s)
    q_through = None if through is None else quarter_index(s, through)
    issues: list[Issue] = []
    first = first_quarter(s)
    bnames = list(s.boroughs)
    values = np.zeros((3, len(bnames), len(labels)))
    seen: dict[tuple[int, int], int] = {}
    for n, row in enumerate(frame.itertuples(index=False), start=2 + skipped):  # after the comments and the header

        def where(col, message, given, n=n):
            return Issue(path, f"line {n}: {col}", message, given, has_given=True)

        parsed = _check_row(s, row, labels, q_through, issues, where)
        if parsed is None:
            continue
        q, bi, vals = parsed
        if (q, bi) in seen:
            issues.append(
                where(
                    "quarter, borough",
                    f"a second row for {bnames[bi]} in {labels[q]} (the first is on line {seen[q, bi]})",
                    f"{labels[q]}, {bnames[bi]}",
                )
            )
            continue
        seen[q, bi] = n
        if q < first[bi] and any(vals):
            issues.append(
                where(
                    STARTS if vals[0] else "quarter",
                    f"{bnames[bi]} reports figures before its join date "
                    f"{s.boroughs[bnames[bi]].join_date} (its first quarter is {labels[first[bi]]})",
                    labels[q],
                )
            )
            continue
        values[:, bi, q] = vals
    last = q_through if q_through is not None else max((q for q, _ in seen), default=0)
    missing = [
        f"{bnames[b]} {labels[q]}"
        for q in range(last + 1)
        for b in range(len(bnames))
        if q >= first[b] and (q, b) not in seen
    ]
    if missing and not issues:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        issues.append(
            Issue(
                path,
                "rows",
                f"every borough needs a row for each quarter from the one it joins to {labels[last]}; missing: {shown}",
            )
        )
    if issues:
        raise ActualsError(issues)
    return Actuals(values, last, len(frame), path)
