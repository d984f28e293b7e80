"""The investor's workflows: stress suite, tornado, reverse stress test, goal seek.

Every comparison runs on the same seed and draws, so each input keeps its own
draws (common random numbers, see :mod:`sibmodel.workflows.levers`), and each
young person (draw, borough, quarter, index) keeps its own pathway numbers
(:mod:`sibmodel.model.philox`): a variant that changes *how many* young people
start adds or removes people, and the others keep what they do.

Investor figures are those of :meth:`sibmodel.results.run.Results.summary`:
median IRR is over the draws where an IRR exists (a total loss has none and
is counted in ``p_total_loss``); P(loss) is P(money multiple < 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize

from sibmodel.engine.run import DEFAULT_CHUNK_SIZE, simulate
from sibmodel.model.finance import p_loss
from sibmodel.model.sampling import ppf
from sibmodel.outputs import (
    COMMISSIONER_NET_SAVINGS_GBP,
    INVESTOR_CAPITAL_DRAWN_PEAK_GBP,
    INVESTOR_COMMITMENT_EXCEEDED,
    INVESTOR_IRR_ANNUAL,
    INVESTOR_MOIC,
)
from sibmodel.scenario.load import as_scenario, load_scenario
from sibmodel.scenario.schema import Scenario
from sibmodel.workflows.levers import (
    REVERSE_STRESS_LEVERS,
    WorkflowError,
    get_lever,
    hold_inputs,
    uncertain_inputs,
)

#: Columns of the stress table, with their meaning and unit.
STRESS_COLUMNS = {
    "irr_p50": "median investor IRR [1/year]",
    "p_loss": "P(money multiple < 1) [probability]",
    "p_commitment_exceeded": "P(capital needed exceeds the commitment) [probability]",
    "capital_drawn_peak_p95_gbp": "95th percentile of peak capital drawn [GBP]",
    "moic_p5": "5th percentile of the money multiple [ratio]",
    "moic_p50": "median money multiple [ratio]",
    "commissioner_net_savings_p50_gbp": "median net savings of all boroughs, discounted [GBP]",
}


@dataclass(frozen=True)
class RunSettings:
    """How each scenario variant is simulated: the same for every variant.

    Parameters
    ----------
    draws : int
        Monte Carlo draws per variant.
    seed : int
        Root seed shared by every variant (common random numbers).
    chunk_size : int
        Draws per chunk (memory and scheduling only; results do not depend on it).
    workers : int
        Local processes (does not change results).
    """

    draws: int = 1000
    seed: int = 1
    chunk_size: int = DEFAULT_CHUNK_SIZE
    workers: int = 1

    def run(self, s: Scenario):
        """Simulate ``s`` (a :class:`Scenario` or the path of its file) with these settings."""
        return simulate(
            as_scenario(s), draws=self.draws, seed=self.seed, chunk_size=self.chunk_size, workers=self.workers
        )


def _finite(x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return x[np.isfinite(x)]


def _pct(x, q: float) -> float:
    x = _finite(x)
    return float(np.percentile(x, q)) if x.size else float("nan")


#: Figures computed straight from the per-draw table, each as :meth:`Results.summary` defines it
#: (percentiles over finite values, P(loss) = P(money multiple < 1) over finite multiples).
FAST_FIGURES = {
    "investor.irr.p50": lambda d: _pct(d[INVESTOR_IRR_ANNUAL], 50),
    "investor.irr.p5": lambda d: _pct(d[INVESTOR_IRR_ANNUAL], 5),
    "investor.moic.p50": lambda d: _pct(d[INVESTOR_MOIC], 50),
    "investor.moic.p5": lambda d: _pct(d[INVESTOR_MOIC], 5),
    "investor.p_loss": lambda d: p_loss(d[INVESTOR_MOIC]),
    "investor.p_commitment_exceeded": lambda d: float(np.mean(d[INVESTOR_COMMITMENT_EXCEEDED])),
    "investor.capital_drawn_peak_gbp.p95": lambda d: _pct(d[INVESTOR_CAPITAL_DRAWN_PEAK_GBP], 95),
    "commissioner.total.net_savings_gbp.p50": lambda d: _pct(d[COMMISSIONER_NET_SAVINGS_GBP], 50),
    "commissioner.total.p_net_positive": lambda d: float(np.mean(d[COMMISSIONER_NET_SAVINGS_GBP].to_numpy(float) > 0)),
}


def investor_metrics(draws: pd.DataFrame) -> dict:
    """The stress-table figures (see :data:`STRESS_COLUMNS`) of one run's per-draw table (``Results.draws``)."""
    f = FAST_FIGURES
    return {
        "irr_p50": f["investor.irr.p50"](draws),
        "p_loss": f["investor.p_loss"](draws),
        "p_commitment_exceeded": f["investor.p_commitment_exceeded"](draws),
        "capital_drawn_peak_p95_gbp": f["investor.capital_drawn_peak_gbp.p95"](draws),
        "moic_p5": f["investor.moic.p5"](draws),
        "moic_p50": f["investor.moic.p50"](draws),
        "commissioner_net_savings_p50_gbp": f["commissioner.total.net_savings_gbp.p50"](draws),
    }


def summary_figure(summary: dict, key: str) -> float:
    """A number in a run's summary by dotted key, e.g. ``investor.p_loss`` or ``investor.irr.p50``.

    Raises
    ------
    WorkflowError
        If the key does not name a number, listing what is there.
    """
    node = summary
    for i, part in enumerate(key.split(".")):
        if not isinstance(node, dict) or part not in node:
            here = ".".join(key.split(".")[:i])
            options = sorted(node) if isinstance(node, dict) else []
            raise WorkflowError.one(
                f"not a figure of the summary; allowed at {here or 'the top'}: {', '.join(map(str, options))}",
                path="--for",
                given=key,
            )
        node = node[part]
    if isinstance(node, dict):
        raise WorkflowError.one(f"names a block, not a number; pick one of: {', '.join(node)}", path="--for", given=key)
    if not isinstance(node, (int, float)):
        raise WorkflowError.one("does not name a number", path="--for", given=key)
    return float(node)


# --------------------------------------------------------------------------- stress suite
def stress_scenarios(suite_dir: str | Path) -> list[Path]:
    """The ``*.yaml`` files of a suite folder, sorted by name."""
    d = Path(suite_dir)
    if not d.is_dir():
        raise WorkflowError.one("the stress suite must be a folder of scenario files", path="--suite", given=str(d))
    files = sorted(d.glob("*.yaml")) + sorted(d.glob("*.yml"))
    if not files:
        raise WorkflowError.one("no *.yaml scenario files in the stress suite folder", path="--suite", given=str(d))
    return files


def stress_suite(base: Scenario, stresses: dict[str, Scenario], settings: RunSettings, progress=None) -> pd.DataFrame:
    """Run the base and every stress scenario on common random numbers.

    Parameters
    ----------
    base : Scenario or path-like
        The base case.
    stresses : dict of label -> Scenario
        Stress scenarios, e.g. loaded from ``scenarios/stress/*.yaml``.
    settings : RunSettings
    progress : callable, optional
        Called with a short message before each run.

    Returns
    -------
    pandas.DataFrame
        One row per scenario (``base`` first): ``scenario``, ``name`` and the
        :data:`STRESS_COLUMNS`, plus ``irr_p50_change`` and ``p_loss_change``
        against the base [same units].
    """
    base = as_scenario(base)
    rows = []
    for label, s in {"base": base, **stresses}.items():
        if progress:
            progress(f"stress suite: {label}")
        rows.append({"scenario": label, "name": s.metadata.name, **investor_metrics(settings.run(s).draws)})
    table = pd.DataFrame(rows)
    table["irr_p50_change"] = table["irr_p50"] - table.loc[0, "irr_p50"]
    table["p_loss_change"] = table["p_loss"] - table.loc[0, "p_loss"]
    return table


def load_stress_suite(suite_dir: str | Path, overrides=()) -> dict[str, Scenario]:
    """Load every scenario of a suite folder (with the same ``--set`` overrides), keyed by file stem."""
    return {p.stem: load_scenario(p, overrides) for p in stress_scenarios(suite_dir)}


def stresses_not_extending(base_path: str | Path, suite_dir: str | Path) -> list[str]:
    """Stress files whose ``extends:`` chain does not reach ``base_path``.

    Their rows differ from the base in more than the stress itself (each stress
    file names the scenario it changes), so the command warns about them.
    """
    from sibmodel.scenario.load import load_yaml

    target = Path(base_path).resolve()
    out = []
    for path in stress_scenarios(suite_dir):
        p, seen = path.resolve(), set()
        while p not in seen and p != target:
            seen.add(p)
            parent = load_yaml(p).get("extends")
            if not isinstance(parent, str):
                break
            p = (p.parent / parent).resolve()
        if p != target:
            out.append(path.name)
    return out


# --------------------------------------------------------------------------- tornado
#: The tornado table's columns per input, in order (:func:`tornado` adds swings and base values after them).
TORNADO_COLUMNS = (
    "input",
    "low_value",
    "high_value",
    "irr_p50_low",
    "irr_p50_high",
    "p_loss_low",
    "p_loss_high",
    "net_savings_p50_low",
    "net_savings_p50_high",
)


def tornado(
    s: Scenario,
    settings: RunSettings,
    low_q: float = 0.10,
    high_q: float = 0.90,
    inputs: list[str] | None = None,
    progress=None,
) -> pd.DataFrame:
    """One-way sensitivity: each uncertain input held at its p10, then its p90, everything else drawn.

    Parameters
    ----------
    s : Scenario or path-like
    settings : RunSettings
    low_q, high_q : float
        Quantiles the input is held at [probability].
    inputs : list of str, optional
        Dotted paths of the uncertain inputs to vary; default: every one.
    progress : callable, optional
        Called with a short message before each input.

    Returns
    -------
    pandas.DataFrame
        One row per uncertain input, sorted by the swing in median IRR (largest
        first): ``input``, ``low_value``/``high_value`` [input's unit],
        ``irr_p50_low``/``irr_p50_high`` [1/year], ``p_loss_low``/``p_loss_high``
        [probability], the boroughs' side ``net_savings_p50_low``/``net_savings_p50_high``
        (all boroughs' median discounted net savings [GBP]), ``irr_swing``,
        ``p_loss_swing`` and ``net_savings_swing`` (absolute differences), and
        ``irr_p50_base``/``p_loss_base``/``net_savings_p50_base`` of the run with every
        input drawn.  An input the investor does not depend on (the baseline: time at
        home without therapy) swings the boroughs' side only.

    Notes
    -----
    Correlations that involve the held input are dropped for that run: its
    partners are drawn from their own distributions.
    """
    s = as_scenario(s)
    if not 0 < low_q < high_q < 1:
        raise WorkflowError.one("need 0 < low quantile < high quantile < 1", path="tornado", given=(low_q, high_q))
    specs = uncertain_inputs(s)
    unknown = [p for p in (inputs or []) if p not in specs]
    if unknown:
        raise WorkflowError.one(
            f"not an uncertain input of this scenario; allowed: {', '.join(specs)}", path="tornado", given=unknown
        )
    base = investor_metrics(settings.run(s).draws)
    rows = []
    for path, spec in specs.items():
        if inputs is not None and path not in inputs:
            continue
        if progress:
            progress(f"tornado: {path}")
        lo, hi = (float(v) for v in ppf(spec, np.array([low_q, high_q])))
        m_lo = investor_metrics(settings.run(hold_inputs(s, {path: lo}, f"tornado: held at p{low_q * 100:g}")).draws)
        m_hi = investor_metrics(settings.run(hold_inputs(s, {path: hi}, f"tornado: held at p{high_q * 100:g}")).draws)
        rows.append(
            {
                "input": path,
                "low_value": lo,
                "high_value": hi,
                "irr_p50_low": m_lo["irr_p50"],
                "irr_p50_high": m_hi["irr_p50"],
                "p_loss_low": m_lo["p_loss"],
                "p_loss_high": m_hi["p_loss"],
                "net_savings_p50_low": m_lo["commissioner_net_savings_p50_gbp"],
                "net_savings_p50_high": m_hi["commissioner_net_savings_p50_gbp"],
            }
        )
    table = pd.DataFrame(rows, columns=list(TORNADO_COLUMNS))
    table["irr_swing"] = (table["irr_p50_high"] - table["irr_p50_low"]).abs()
    table["p_loss_swing"] = (table["p_loss_high"] - table["p_loss_low"]).abs()
    table["net_savings_swing"] = (table["net_savings_p50_high"] - table["net_savings_p50_low"]).abs()
    table["irr_p50_base"] = base["irr_p50"]
    table["p_loss_base"] = base["p_loss"]
    table["net_savings_p50_base"] = base["commissioner_net_savings_p50_gbp"]
    return table.sort_values("irr_swing", ascending=False, kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- reverse stress and goal seek
@dataclass
class _Evaluator:
    """Runs a lever's variants on common random numbers and remembers what each run gave.

    Only the per-draw table is kept (and the summary, for a figure not in
    :data:`FAST_FIGURES`), so a run's spool on disk is freed as soon as it is read.
    """

    s: Scenario
    lever_name: str
    settings: RunSettings
    cache: dict = field(default_factory=dict)

    def __post_init__(self):
        self.lever = get_lever(self.lever_name, self.s)

    def run(self, value: float, with_summary: bool = False) -> tuple:
        """``(draws, summary or None)`` at one lever value; a value is simulated once."""
        key = round(float(value), 12)
        if key not in self.cache or (with_summary and self.cache[key][1] is None):
            res = self.settings.run(self.lever.scenario(self.s, value))
            self.cache[key] = (res.draws, res.summary() if with_summary else None)
        return self.cache[key]

    def figure(self, value: float, key: str) -> float:
        if key in FAST_FIGURES:
            return FAST_FIGURES[key](self.run(value)[0])
        return summary_figure(self.run(value, with_summary=True)[1], key)


@dataclass(frozen=True)
class Root:
    """Where a figure reaches its target as one lever moves.

    Parameters
    ----------
    lever, label, unit : str
        The lever (see :mod:`sibmodel.workflows.levers`).
    figure : str
        Summary key, e.g. ``investor.irr.p50``.
    target : float
        Target value of the figure.
    value : float
        Lever value at which the target is reached (NaN if not reached in ``bracket``).
    ci_low, ci_high : float
        95% Monte Carlo interval of ``value`` (NaN where not estimated).
    achieved : float
        The figure re-run at ``value``.
    base_figure : float
        The figure at the lever's base value.
    bracket : tuple of float
        Range searched.
    natural : str
        The inputs at ``value``, in the scenario's units.
    note : str
        How it was found, or why not.
    """

    lever: str
    label: str
    unit: str
    figure: str
    target: float
    value: float
    ci_low: float
    ci_high: float
    achieved: float
    base_figure: float
    bracket: tuple
    natural: str
    note: str

    def as_row(self) -> dict:
        return {
            k: getattr(self, k)
            for k in (
                "lever",
                "label",
                "unit",
                "figure",
                "target",
                "value",
                "ci_low",
                "ci_high",
                "achieved",
                "base_figure",
                "natural",
                "note",
            )
        }


def _standard_error(ev: _Evaluator, value: float, key: str) -> float:
    """Monte Carlo standard error of a figure at one lever value [figure's unit].

    A probability ``p`` over ``n`` draws: ``sqrt(p (1 - p) / n)``.  The median
    IRR: bootstrap over draws (200 resamples, fixed seed).
    """
    draws = ev.run(value)[0]
    if key == "investor.p_loss":
        p = FAST_FIGURES[key](draws)
        n = int(np.isfinite(draws[INVESTOR_MOIC].to_numpy(float)).sum())
        return math.sqrt(max(p * (1 - p), 1.0 / max(n, 1)) / max(n, 1))
    if key == "investor.irr.p50":
        x = draws[INVESTOR_IRR_ANNUAL].to_numpy(float)
        x = x[np.isfinite(x)]
        rng = np.random.default_rng(0)
        boots = np.median(x[rng.integers(0, x.size, size=(200, x.size))], axis=1)
        return float(np.std(boots, ddof=1))
    return float("nan")


def solve_lever(
    s: Scenario,
    lever_name: str,
    key: str,
    target: float,
    settings: RunSettings,
    bracket: tuple[float, float] | None = None,
    xtol_rel: float = 1e-3,
    evaluator: _Evaluator | None = None,
) -> Root:
    """Find the lever value at which a summary figure reaches a target.

    Continuous levers use :func:`scipy.optimize.brentq` on ``figure(value) -
    target``; every evaluation runs the variant on the same seed (common random
    numbers), so the function is deterministic.  The search starts from the
    lever's base value and goes towards whichever end of ``bracket`` changes
    the sign.  Integer levers (the payment lag) are scanned one step at a time
    from the base and the first value that reaches the target is reported.

    Parameters
    ----------
    s : Scenario
    lever_name : str
        See :data:`sibmodel.workflows.levers.LEVERS`.
    key : str
        Summary figure, e.g. ``investor.irr.p50`` or ``investor.p_loss``.
    target : float
        Target value of the figure.
    settings : RunSettings
    bracket : tuple of float, optional
        Range to search; default: the lever's own.
    xtol_rel : float
        Tolerance on the lever value, relative to the bracket width.

    Returns
    -------
    Root
        With a 95% Monte Carlo interval for continuous levers when the figure is
        ``investor.irr.p50`` or ``investor.p_loss``: standard error of the figure at
        the root divided by the slope there (central difference on common random
        numbers over 5% of the root's value).
    """
    ev = evaluator or _Evaluator(s, lever_name, settings)
    lever = ev.lever
    lo, hi = bracket or lever.bracket
    if not lo < hi:
        raise WorkflowError.one("the bracket needs low < high", path=f"lever {lever_name}", given=(lo, hi))
    base = lever.base
    f_base = ev.figure(base, key)
    common = {
        "lever": lever.name,
        "label": lever.label,
        "unit": lever.unit,
        "figure": key,
        "target": target,
        "base_figure": f_base,
        "bracket": (lo, hi),
    }

    def natural(v: float) -> str:
        return lever.natural(lever.scenario(s, v), v) if np.isfinite(v) else ""

    if lever.integer:
        return _scan_whole_values(ev, key, target, (lo, hi), f_base, common, natural)
    ends = _sign_change(ev, key, target, (lo, hi), f_base)
    if ends is None:
        ends_text = f"{ev.figure(lo, key):.4g} at {lo:g} and {ev.figure(hi, key):.4g} at {hi:g}"
        return Root(
            **common,
            value=float("nan"),
            ci_low=float("nan"),
            ci_high=float("nan"),
            achieved=float("nan"),
            natural="",
            note=f"not reached in [{lo:g}, {hi:g}] {lever.unit}: the figure is {f_base:.4g} at the base, {ends_text}",
        )
    root, note = _brent_root(ev, key, target, ends, (lo, hi), xtol_rel, settings.draws)
    achieved = ev.figure(root, key)
    ci_low, ci_high = _root_interval(ev, key, root, (lo, hi), xtol_rel)
    return Root(
        **common, value=float(root), ci_low=ci_low, ci_high=ci_high, achieved=achieved, natural=natural(root), note=note
    )


def _scan_whole_values(
    ev: _Evaluator, key: str, target: float, bracket: tuple[float, float], f_base: float, common: dict, natural
) -> Root:
    """:func:`solve_lever` for an integer lever: the first whole value from the base, up then down, that
    reaches the target."""
    lo, hi = bracket
    base = ev.lever.base
    start = int(round(base))
    sign0 = np.sign(f_base - target)
    if sign0 == 0:
        return Root(
            **common,
            value=base,
            ci_low=base,
            ci_high=base,
            achieved=f_base,
            natural=natural(base),
            note="reached at the base value",
        )
    for step in (1, -1):
        prev = f_base
        v = start + step
        while lo <= v <= hi:
            fv = ev.figure(v, key)
            if np.sign(fv - target) != sign0:
                note = (
                    f"first whole value reaching the target scanning {'up' if step > 0 else 'down'} from "
                    f"{start}; at {v - step} the figure is {prev:.4g}"
                )
                return Root(
                    **common,
                    value=float(v),
                    ci_low=float("nan"),
                    ci_high=float("nan"),
                    achieved=fv,
                    natural=natural(v),
                    note=note,
                )
            prev = fv
            v += step
    return Root(
        **common,
        value=float("nan"),
        ci_low=float("nan"),
        ci_high=float("nan"),
        achieved=float("nan"),
        natural="",
        note=f"not reached for whole values in [{lo:g}, {hi:g}]",
    )


def _sign_change(
    ev: _Evaluator, key: str, target: float, bracket: tuple[float, float], f_base: float
) -> tuple[float, float] | None:
    """An interval ``(a, b)`` from the lever's base to an end of ``bracket`` where ``figure - target`` changes sign
    (``(base, base)`` when the base meets the target), or None."""
    base = ev.lever.base
    g_base = f_base - target
    if g_base == 0:
        return base, base
    for end in bracket:
        g_end = ev.figure(end, key) - target
        if np.isfinite(g_end) and np.sign(g_end) != np.sign(g_base):
            return (end, base) if end < base else (base, end)
    return None


def _brent_root(
    ev: _Evaluator,
    key: str,
    target: float,
    ends: tuple[float, float],
    bracket: tuple[float, float],
    xtol_rel: float,
    n_draws: int,
) -> tuple[float, str]:
    """The root of ``figure - target`` in ``ends`` by :func:`scipy.optimize.brentq`, and a note on how it was found."""
    a, b = ends
    lo, hi = bracket
    note = f"brentq on common random numbers in [{a:g}, {b:g}]"
    if a == b:
        return a, note

    def g(v: float) -> float:
        return ev.figure(v, key) - target

    root = optimize.brentq(g, a, b, xtol=xtol_rel * (hi - lo), rtol=1e-10, maxiter=60)
    # brentq stops within xtol of the sign change; a step function (a probability over
    # draws) may jump there, so keep whichever neighbour is closest to the target
    step = xtol_rel * (hi - lo)
    near = [v for v in (root - step, root, root + step) if lo <= v <= hi]
    root = min(near, key=lambda v: abs(g(v)))
    f_near = [ev.figure(v, key) for v in near]
    note += f"; the figure is {f_near[0]:.4g} at {near[0]:.6g} and {f_near[-1]:.4g} at {near[-1]:.6g}"
    if abs(f_near[-1] - f_near[0]) > 4.0 / n_draws and key.rsplit(".", 1)[-1].startswith("p_"):
        note += " (a jump: many draws cross together, e.g. where a cap binds; the target cannot be met more closely)"
    return root, note


def _root_interval(
    ev: _Evaluator, key: str, root: float, bracket: tuple[float, float], xtol_rel: float
) -> tuple[float, float]:
    """95% Monte Carlo interval of a root: the figure's standard error there over its slope (NaN when there is none)."""
    lo, hi = bracket
    se = _standard_error(ev, root, key)
    if not np.isfinite(se):
        return float("nan"), float("nan")
    # slope of the figure around the root, by a central difference over 5% of the value
    h = 0.05 * max(abs(root), xtol_rel * (hi - lo))
    v1, v2 = max(lo, root - h), min(hi, root + h)
    slope = (ev.figure(v2, key) - ev.figure(v1, key)) / (v2 - v1)
    if slope != 0 and np.isfinite(slope):
        half = 1.96 * se / abs(slope)
        return max(lo, root - half), min(hi, root + half)
    return float("nan"), float("nan")


def reverse_stress(
    s: Scenario, settings: RunSettings, levers=REVERSE_STRESS_LEVERS, p_loss_target: float = 0.5, progress=None
) -> pd.DataFrame:
    """What has to go wrong for investors to lose money.

    For each lever: the value at which the median IRR reaches 0, and the value
    at which P(loss) reaches ``p_loss_target``, each with a 95% Monte Carlo
    interval.  For a conventional investment (outflows first, then inflows)
    IRR < 0 exactly when the money multiple is below 1, so the two roots
    coincide at ``p_loss_target = 0.5`` up to Monte Carlo error (the median IRR
    leaves out total losses).  ``progress``, if given, is called with a short
    message before each lever.

    Returns
    -------
    pandas.DataFrame
        One row per lever and figure (see :class:`Root`).
    """
    s = as_scenario(s)
    if not 0 < p_loss_target < 1:
        raise WorkflowError.one("P(loss) target must lie in (0, 1)", path="--p-loss", given=p_loss_target)
    rows = []
    for name in levers:
        if progress:
            progress(f"reverse stress: {name}")
        ev = _Evaluator(s, name, settings)
        rows.append(solve_lever(s, name, "investor.irr.p50", 0.0, settings, evaluator=ev).as_row())
        rows.append(solve_lever(s, name, "investor.p_loss", p_loss_target, settings, evaluator=ev).as_row())
    return pd.DataFrame(rows)


def goal_seek(s: Scenario, lever_name: str, key: str, target: float, settings: RunSettings, bracket=None) -> Root:
    """Find the contract term (``tariff``, ``cap``, ``commitment`` or any lever) that meets a target.

    Raises
    ------
    WorkflowError
        If the target is not reached within the bracket, saying what range the figure covers.
    """
    s = as_scenario(s)
    root = solve_lever(s, lever_name, key, target, settings, bracket=bracket)
    if not np.isfinite(root.value):
        raise WorkflowError.one(
            f"cannot meet {key}={target:g} by moving the {root.label}: {root.note}", path="--solve", given=lever_name
        )
    return root
