"""Calibration: solve chosen inputs so that the exact cohort model meets published targets.

The targets are programme-level expectations computed with the exact cohort
model (:mod:`sibmodel.model.cohort_model`) at the central value of every input:
each cohort (borough x intervention x start quarter) is weighted by its
expected starts, starts are placed mid-way through their quarter's active
weeks, the tracking window is the contract's, and the cohort spread is
integrated by Gauss-Hermite quadrature (entry and breakdown logit shifts).
This is the expectation of the model at its central inputs, not the Monte
Carlo mean over input uncertainty; the two differ by the curvature of the
model over the input distributions (reported by ``sibmodel run``'s validation).

A parameter is a dotted path to a quantity, or a pattern with ``*`` matching
several (``interventions.*.effect.hazard_ratio``), which are then moved by
one common factor.  What moves is the distribution's central value: the value
of a fixed input, the mean of a beta or normal, the median of a log-normal,
and the whole of a triangular, PERT or uniform (scaled about zero).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import math
from dataclasses import dataclass

import numpy as np
from pydantic import ValidationError
from scipy import optimize

from sibmodel.exceptions import Issue, ScenarioError
from sibmodel.model.cohort_model import expected_occupancy, home_occupancy_scaled
from sibmodel.model.hazards import (
    FIRST_PLACEMENT,
    PathwayParams,
    completion_params,
    effect_profile,
    escalation_matrix,
    hazard_scale,
    horizon_weight,
    placement_mixes,
    shape_profile,
    shift_logit,
)
from sibmodel.model.referrals import (
    QUARTER_WEEKS,
    Calendar,
    borough_active_weeks,
    expected_starts_profile,
    tracking_window,
)
from sibmodel.scenario.paths import set_path
from sibmodel.scenario.quantities import (
    Beta,
    Fixed,
    LogNormal,
    Normal,
    Pert,
    Spec,
    Triangular,
    Uniform,
)
from sibmodel.scenario.schema import Scenario, iter_quantities

TARGETS = {
    "time_at_home.treated": "share of tracked weeks at home, with therapy",
    "time_at_home.counterfactual": "share of tracked weeks at home, without therapy",
    "care_share.treated": "share of tracked weeks in care, with therapy",
    "care_share.counterfactual": "share of tracked weeks in care, without therapy",
}
GH_NODES = 5


def center(spec: Spec) -> float:
    """The central value calibration moves (see the module docstring)."""
    if isinstance(spec, Fixed):
        return float(spec.value)
    if isinstance(spec, (Beta, Normal)):
        return float(spec.mean())
    if isinstance(spec, LogNormal):
        return math.exp(spec.log_params()[0])
    return float(spec.mean())


def with_center(spec: Spec, value: float) -> Spec:
    """A copy of ``spec`` whose central value is ``value`` (shape kept as far as possible)."""
    if isinstance(spec, Fixed):
        return spec.model_copy(update={"value": float(value)})
    if isinstance(spec, Beta):
        a, b = spec.shape_params()
        k = a + b
        m = (value - spec.low) / (spec.high - spec.low)
        return spec.model_copy(update={"alpha": m * k, "beta": (1 - m) * k, "mean_": None, "sd": None})
    if isinstance(spec, Normal):
        return spec.model_copy(update={"mean_": float(value)})
    if isinstance(spec, LogNormal):
        _, s = spec.log_params()
        return spec.model_copy(update={"median": float(value), "sigma": s, "mean_": None, "sd": None})
    if isinstance(spec, (Triangular, Pert, Uniform)):
        f = value / center(spec)
        upd = {"low": spec.low * f, "high": spec.high * f}
        if isinstance(spec, Triangular):
            upd["mode"] = spec.mode * f
        return spec.model_copy(update=upd)
    raise TypeError(type(spec))


def _field_range(spec: Spec) -> tuple[float, float]:
    if spec.bounds is not None:
        return spec.bounds
    return (-np.inf, np.inf)


@dataclass
class ExpectedFigures:
    """Programme-level expectations from the exact cohort model."""

    time_at_home_treated: float
    time_at_home_counterfactual: float
    #: Time at home without therapy with the home hazards scaled by each of ``cf_factors`` [share].
    time_at_home_counterfactual_scaled: np.ndarray | None = None

    def get(self, name: str) -> float:
        arm = name.split(".")[1]
        home = self.time_at_home_treated if arm == "treated" else self.time_at_home_counterfactual
        return home if name.startswith("time_at_home") else 1.0 - home


def _shared_pathway_inputs(s: Scenario, values: dict[str, float]) -> tuple:
    """The pathway inputs every borough and intervention shares, at the given central input values.

    Returns
    -------
    t_max : int
        The longest tracking window [weeks].
    shape : ndarray, shape (t_max,)
        Relative entry hazard by week since referral [ratio].
    weight : float
        The entry shape's cumulative relative hazard over the entry horizon [weeks].
    end_prob : ndarray, shape (K,)
        Weekly probability that a placement of each type ends [1/week].
    brk0 : ndarray, shape (K,)
        Central breakdown share of each placement type [share], kept inside (0, 1).
    esc : ndarray, shape (K, K)
        Next placement type after a breakdown [share].
    """
    pnames = list(s.care.placements)
    steps = None if s.care.entry.shape is None else [(x.from_week, x.relative_hazard) for x in s.care.entry.shape]
    t_max = int(
        tracking_window(s.contract.tracking, max(iv.therapy_weeks for iv in s.interventions.values()))[1]
    )  # the longest window
    shape = shape_profile(steps, t_max)
    weight = horizon_weight(steps, s.care.entry.horizon_weeks)
    end_prob = np.array([1.0 / values[f"care.placements.{k}.mean_duration_weeks"] for k in pnames])
    brk0 = np.clip(np.array([values[f"care.placements.{k}.breakdown_share"] for k in pnames]), 1e-9, 1 - 1e-9)
    return t_max, shape, weight, end_prob, brk0, escalation_matrix(s)


def expected_figures(s: Scenario, values: dict[str, float], cf_factors: np.ndarray | None = None) -> ExpectedFigures:
    """Expected time-at-home shares of the whole programme at the given central input values.

    Parameters
    ----------
    s : Scenario
    values : dict of path -> float
        Central value of every quantity.
    cf_factors : ndarray, shape (F,), optional
        Also compute the share without therapy with the entry and re-entry hazards
        multiplied by each factor [ratio] (:mod:`sibmodel.model.counterfactual`).
    """
    cal = Calendar.of(s)
    t_max, shape, weight, end_prob, brk0, esc = _shared_pathway_inputs(s, values)
    mixes = placement_mixes(s)  # (B, K) entry and re-entry mixes per borough
    z, w = np.polynomial.hermite_e.hermegauss(GH_NODES)
    w = w / w.sum()
    spread = s.care.cohort_spread
    prof = expected_starts_profile(s)
    mult = values["referrals.volume_multiplier"]
    active = borough_active_weeks(s)
    home_w = {"treated": 0.0, "counterfactual": 0.0}
    if cf_factors is not None:
        home_w["scaled"] = np.zeros(len(cf_factors))
    tracked_w = 0.0
    cache: dict = {}
    for bi, (bname, b) in enumerate(s.boroughs.items()):
        rate = values.get(f"boroughs.{bname}.starts.per_quarter")
        if rate is None:
            tot = values[f"boroughs.{bname}.starts.total"]
            rate = tot / prof[bi].sum() if prof[bi].sum() > 0 else 0.0
        odds = values[f"boroughs.{bname}.entry_odds_ratio"]
        for iname, iv in s.interventions.items():
            share = b.intervention_mix.get(iname, 0.0)
            if share == 0:
                continue
            hr = values[f"interventions.{iname}.effect.hazard_ratio"]
            eff = effect_profile(hr, iv.therapy_weeks, iv.effect.fade_weeks, t_max)
            # the treated arm mixes completers and non-completers by the completion share
            ii = list(s.interventions).index(iname)
            done, nc_share = (float(x[ii]) for x in completion_params(s, values))
            treated_kinds = [(eff, done)]
            if done < 1.0:
                treated_kinds.append(
                    (effect_profile(hr**nc_share, iv.therapy_weeks, iv.effect.fade_weeks, t_max), 1.0 - done)
                )
            emix, rmix = mixes[0][bi], mixes[1][bi]
            key = (odds, iname, tuple(emix), tuple(rmix))
            if key not in cache:
                occ = {"treated": np.zeros(t_max), "counterfactual": np.zeros(t_max)}
                if cf_factors is not None:
                    occ["scaled"] = np.zeros((len(cf_factors), t_max))
                for ze, we_ in zip(z, w):
                    for zb, wb in zip(z, w):
                        shift = math.log(odds) + spread.entry_logit_sd * ze
                        pe = float(shift_logit(values["care.entry.prob"], shift))
                        pr = float(shift_logit(np.clip(values["care.reentry.prob"], 1e-12, 1 - 1e-12), shift))
                        se = float(hazard_scale(pe, weight))
                        sr = float(hazard_scale(min(pr, 1 - 1e-12), float(s.care.reentry.horizon_weeks)))
                        brk = shift_logit(brk0, spread.breakdown_logit_sd * zb)
                        kinds = [("treated", e, c) for e, c in treated_kinds] + [
                            ("counterfactual", np.ones(t_max), 1.0)
                        ]
                        for arm, e, c in kinds:  # the arm without therapy last: `pp` is used below
                            pp = PathwayParams(se * shape * e, sr * e, end_prob, brk, esc, emix, rmix)
                            o = expected_occupancy(pp, t_max)
                            home = o[:, :FIRST_PLACEMENT].sum(axis=1)
                            occ[arm] += we_ * wb * (home if c == 1.0 else c * home)
                        if cf_factors is not None:
                            occ["scaled"] += we_ * wb * home_occupancy_scaled(pp, cf_factors, t_max)
                cache[key] = {
                    arm: np.concatenate([np.zeros(v.shape[:-1] + (1,)), np.cumsum(v, axis=-1)], axis=-1)
                    for arm, v in occ.items()
                }
            cum = cache[key]
            for q in range(cal.n_referral_quarters):
                n = rate * mult * prof[bi, q] * share
                if n <= 0:
                    continue
                lo = max(q * QUARTER_WEEKS, active[bi, 0])
                hi = min((q + 1) * QUARTER_WEEKS, active[bi, 1])
                ref = (lo + hi - 1) // 2
                ws, we = (
                    int(w) for w in tracking_window(s.contract.tracking, iv.therapy_weeks, cal.contract_end_week - ref)
                )
                tracked_w += n * (we - ws)
                for arm in home_w:
                    home_w[arm] = home_w[arm] + n * (cum[arm][..., we] - cum[arm][..., ws])
    if tracked_w <= 0:
        raise ScenarioError([Issue(None, "boroughs", "no expected starts: nothing to calibrate")])
    scaled = home_w["scaled"] / tracked_w if cf_factors is not None else None
    return ExpectedFigures(home_w["treated"] / tracked_w, home_w["counterfactual"] / tracked_w, scaled)


@dataclass
class CalibrationResult:
    """What calibration did.

    Parameters
    ----------
    scenario : Scenario
        The calibrated scenario.
    moved : list of (path, old_center, new_center)
    achieved : dict of target -> (target value, achieved value)
    success : bool
    message : str
    """

    scenario: Scenario
    moved: list
    achieved: dict
    success: bool
    message: str


def resolve_params(s: Scenario, patterns: list[str]) -> list[list[str]]:
    """Expand each ``--param`` pattern to the quantity paths it moves (one group per pattern)."""
    paths = [p for p, _ in iter_quantities(s)]
    groups, issues = [], []
    for pat in patterns:
        hit = [p for p in paths if fnmatch.fnmatchcase(p, pat)]
        if not hit:
            import difflib

            close = difflib.get_close_matches(pat, paths, n=1)
            issues.append(
                Issue(
                    "--param",
                    pat,
                    "matches no input of the scenario" + (f"; did you mean {close[0]!r}?" if close else ""),
                )
            )
        groups.append(hit)
    if issues:
        raise ScenarioError(issues)
    return groups


def calibrate(s: Scenario, targets: dict[str, float], params: list[str]) -> CalibrationResult:
    """Move the central values of ``params`` so that the expected figures meet ``targets``.

    Each parameter group is moved by a common factor ``exp(x)`` (so values keep
    their sign and ratios); ``scipy.optimize.least_squares`` solves for ``x``
    within each input's allowed range.
    """
    bad = [
        Issue("--target", k, f"unknown target; allowed: {', '.join(TARGETS)}", k, has_given=True)
        for k in targets
        if k not in TARGETS
    ]
    bad += [
        Issue("--target", k, "a share of tracked weeks: a number strictly between 0 and 1", v, has_given=True)
        for k, v in targets.items()
        if k in TARGETS and not (isinstance(v, (int, float)) and math.isfinite(v) and 0.0 < v < 1.0)
    ]
    if bad:
        raise ScenarioError(bad)
    groups = resolve_params(s, params)
    specs = dict(iter_quantities(s))
    base = {p: center(sp) for p, sp in specs.items()}
    lo, hi = [], []
    for g in groups:
        l_, h_ = -5.0, 5.0
        for p in g:
            a, b = _field_range(specs[p])
            c = base[p]
            # a triangular, PERT or uniform input is scaled whole: its support must stay allowed
            whole = isinstance(specs[p], (Triangular, Pert, Uniform))
            top, bottom = (specs[p].high, specs[p].low) if whole else (c, c)
            if c > 0:
                if b < np.inf and top > 0:
                    h_ = min(h_, math.log(b / top) - 1e-9)
                if a > 0 and bottom > 0:
                    l_ = max(l_, math.log(a / bottom) + 1e-9)
        lo.append(l_)
        hi.append(h_)

    def values_at(x):
        v = dict(base)
        for g, xi in zip(groups, x):
            for p in g:
                v[p] = base[p] * math.exp(xi)
        return v

    names = list(targets)

    def resid(x):
        f = expected_figures(s, values_at(x))
        return np.array([f.get(n) - targets[n] for n in names])

    sol = optimize.least_squares(resid, np.zeros(len(groups)), bounds=(lo, hi), xtol=1e-10, ftol=1e-12, gtol=1e-12)
    final = values_at(sol.x)
    fig = expected_figures(s, final)
    data = s.model_dump(by_alias=True)
    moved = []
    stamp = dt.date.today().isoformat()
    for g in groups:
        for p in g:
            new_spec = with_center(specs[p], final[p])
            note = (
                f"Calibrated by sibmodel calibrate ({stamp}) to "
                + ", ".join(f"{n}={targets[n]:g}" for n in names)
                + f" on the exact cohort model; central value moved from {base[p]:.6g} to {final[p]:.6g}."
            )
            src = (specs[p].source + " " if specs[p].source else "") + note
            new_spec = new_spec.model_copy(update={"source": src})
            set_path(data, p, new_spec)
            moved.append((p, base[p], final[p]))
    try:
        new = Scenario.model_validate(data)
    except ValidationError as err:
        from sibmodel.scenario.load import pydantic_issues

        hint = (
            "meeting the targets would move this input out of its allowed range; they cannot be met by moving "
            + ", ".join(params)
            + " alone: change other inputs or name other --param. Detail: "
        )
        raise ScenarioError(
            [Issue("calibrate", i.path, hint + i.message, i.given) for i in pydantic_issues(err, data, None)]
        ) from None
    achieved = {n: (targets[n], fig.get(n)) for n in names}
    ok = bool(sol.success) and all(abs(a - t) < 1e-4 for t, a in achieved.values())
    return CalibrationResult(new, moved, achieved, ok, str(sol.message))


DEFAULT_PARAMS = {
    "counterfactual": "care.entry.prob",
    "treated": "interventions.*.effect.hazard_ratio",
}


def default_params(targets: dict[str, float]) -> list[str]:
    """Inputs moved when none are named: entry probability for the counterfactual, hazard ratios for the treated arm."""
    out = []
    for arm in ("counterfactual", "treated"):
        if any(t.endswith(arm) for t in targets):
            out.append(DEFAULT_PARAMS[arm])
    return out


def _in_parent_form(spec: Spec, parent) -> dict | None:
    """``spec`` written with the parameters its parent gives (mean/sd, alpha/beta, median/sigma, ...).

    A child scenario's mapping is merged key by key onto its parent's (``extends:``), so the calibrated
    input must give every parameter the parent gives, and no other, to replace it without ``null``
    lines.  None if it cannot: a parent distribution of another kind.
    """
    d = spec.model_dump(by_alias=True, exclude_none=True, mode="json")
    if not isinstance(parent, dict):
        return d  # a plain number in the parent: a mapping replaces it whole
    if parent.get("dist", "fixed") != d["dist"]:
        return None
    values = dict(d)
    if isinstance(spec, Beta):
        a, b = spec.shape_params()
        width = spec.high - spec.low
        values |= {
            "alpha": a,
            "beta": b,
            "mean": spec.low + width * a / (a + b),
            "sd": width * math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1))),
        }
    elif isinstance(spec, LogNormal):
        mu, sigma = spec.log_params()
        mean = math.exp(mu + sigma**2 / 2)
        values |= {"median": math.exp(mu), "sigma": sigma, "mean": mean, "sd": mean * math.sqrt(math.expm1(sigma**2))}
    given = [k for k in parent if k not in ("dist", "source")]
    if not set(given) <= set(values):
        return None
    out = {"dist": d["dist"]} if "dist" in parent else {}
    out |= {k: values[k] for k in given}
    if spec.source:
        out["source"] = spec.source
    return out


def _calibrated_metadata(result: CalibrationResult, original_path: str) -> dict:
    """``metadata.name`` and ``description`` of a calibrated scenario: what it was calibrated to, from what."""
    import os

    meta = result.scenario.metadata
    targets = ", ".join(f"{n}={t:g}" for n, (t, _) in result.achieved.items())
    name = f"{meta.name} (calibrated: {targets})"
    if len(name) > 200:  # the schema's limit for metadata.name
        name = f"{meta.name[: 200 - len(' (calibrated)')]} (calibrated)"
    moved = "; ".join(f"{p} {old:.6g} -> {new:.6g}" for p, old, new in result.moved)
    achieved = ", ".join(f"{n}={t:g} (achieved {a:.6g})" for n, (t, a) in result.achieved.items())
    description = (
        f"{os.path.basename(original_path)} calibrated by sibmodel calibrate ({dt.date.today().isoformat()}) "
        "on the exact cohort "
        f"model to {achieved}, moving {moved}." + (f" {meta.description}" if meta.description else "")
    )
    return {"name": name, "description": description}


def calibrated_yaml(
    result: CalibrationResult, original_path: str, write_path: str, overrides: list[str] | tuple[str, ...] = ()
) -> str:
    """YAML text of a scenario that ``extends:`` the original and overrides the calibrated inputs.

    The file is clean: ``extends:`` is relative to the written file's folder, ``metadata`` names what
    it was calibrated to, and each calibrated input is written with the parameters the original gives
    it, so there is no ``null`` line.  ``--set`` overrides the calibration ran with are written too,
    so that the file reproduces the calibrated scenario.  Inputs inside lists (e.g. a tariff) cannot
    be overridden by ``extends:``, nor a distribution the original gives in another kind; then the
    whole resolved scenario is written instead.
    """
    import os

    import yaml

    from sibmodel.scenario.load import apply_overrides, resolve, scenario_to_data
    from sibmodel.scenario.paths import PathError, get_path

    specs = dict(iter_quantities(result.scenario))
    paths = [p for p, _, _ in result.moved]
    header = (
        "# Written by `sibmodel calibrate`: "
        + ", ".join(f"{n}={t:g} (achieved {a:.6g})" for n, (t, a) in result.achieved.items())
        + "\n"
    )
    metadata = _calibrated_metadata(result, original_path)
    parent = resolve(original_path)  # what the written file extends (and merges onto)

    def parent_node(path: str):
        try:
            return get_path(parent, path)
        except PathError:  # not in the file: the field's default
            return None

    forms = {p: _in_parent_form(specs[p], parent_node(p)) for p in paths}
    set_paths = [o.partition("=")[0].strip() for o in overrides]
    if any(part.isdigit() for p in paths + set_paths for part in p.split(".")) or None in forms.values():
        data = scenario_to_data(result.scenario)
        data["metadata"] |= metadata
        return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    try:
        extends = os.path.relpath(os.path.abspath(original_path), os.path.dirname(os.path.abspath(write_path)))
    except ValueError:  # on another drive (Windows): no relative path exists
        extends = os.path.abspath(original_path)
    doc: dict = {"extends": extends, "metadata": metadata}
    doc = apply_overrides(doc, overrides)  # the --set values, as the loader read them
    for p in paths:
        set_path(doc, p, forms[p], create=True)
    return header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
