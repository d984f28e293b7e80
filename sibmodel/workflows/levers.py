"""Scenario variants for the workflows: hold an input, or move a lever by a factor.

The stress, tornado, reverse-stress, goal-seek and Sobol workflows all run the
same scenario again with one thing changed, on the same seed.  Because every
uncertain input's uniform in a draw is a function of the seed, its path and
the draw (:func:`sibmodel.model.sampling.input_uniforms`), a variant that
changes one input leaves every other input's draws unchanged: the comparison
is on common random numbers.

Two kinds of change are offered:

* :func:`hold_inputs` replaces uncertain inputs by fixed values (the tornado
  and the Sobol analysis).  The scenario is copied without re-validation
  (values taken from an input's own distribution are always allowed), and
  correlations involving a held input are dropped, because a fixed value
  cannot be correlated.
* A :class:`Lever` moves a group of inputs by one number -- a factor on
  referral volume, on the log hazard ratio, on breakdown odds, on delivery
  costs, on tariffs, on the cap or the commitment, or the payment lag in
  quarters -- and re-validates the scenario.  Distributions keep their
  shape: with the same uniform, a draw's value moves monotonically with the
  lever (exactly in proportion for ``fixed``, ``lognormal`` by median,
  ``normal``, ``triangular``, ``pert``, ``uniform`` and scaled ``beta``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from sibmodel.contract.metrics import tariff_price_paths
from sibmodel.exceptions import Issue, ScenarioError
from sibmodel.scenario.load import scenario_to_data, validate_data
from sibmodel.scenario.paths import get_path, set_path
from sibmodel.scenario.quantities import Fixed
from sibmodel.scenario.schema import Scenario, iter_quantities


class WorkflowError(ScenarioError):
    """A workflow request that cannot be met (unknown lever, target out of reach, ...)."""

    def _text(self) -> str:
        return "\n".join(["cannot do what was asked:"] + [f"  - {issue}" for issue in self.issues])


def _fail(path: str, message: str, given=None) -> WorkflowError:
    if given is None:
        return WorkflowError([Issue(None, path, message)])
    return WorkflowError([Issue(None, path, message, given, has_given=True)])


# --------------------------------------------------------------------------- holding inputs
def _replace(obj, keys: list[str], new):
    """Copy of ``obj`` with the node at ``keys`` replaced (no validation)."""
    if not keys:
        return new
    key, rest = keys[0], keys[1:]
    if isinstance(obj, BaseModel):
        return obj.model_copy(update={key: _replace(getattr(obj, key), rest, new)})
    if isinstance(obj, dict):
        out = dict(obj)
        out[key] = _replace(obj[key], rest, new)
        return out
    if isinstance(obj, (list, tuple)):
        out = list(obj)
        out[int(key)] = _replace(obj[int(key)], rest, new)
        return type(obj)(out)
    raise KeyError(".".join(keys))


def uncertain_inputs(s: Scenario) -> dict:
    """Every uncertain (non-fixed) input of a scenario, ``{dotted path: spec}``, in document order."""
    return {path: spec for path, spec in iter_quantities(s) if not spec.is_fixed}


def hold_inputs(s: Scenario, values: dict[str, float], source: str = "held by a sensitivity workflow") -> Scenario:
    """Scenario with the given uncertain inputs fixed at the given values.

    Parameters
    ----------
    s : Scenario
    values : dict of dotted path -> float
        Values in each input's own unit; they should come from the input's
        distribution (e.g. its p10), which is always inside the field's range.
    source : str
        Recorded as the held value's source.

    Returns
    -------
    Scenario
        A copy; correlations that involve a held input are dropped.
    """
    known = dict(iter_quantities(s))
    out = s
    for path, value in values.items():
        if path not in known:
            raise _fail(path, "not an input of this scenario", path)
        out = _replace(out, path.split("."), Fixed(value=float(value), source=source))
    held = set(values)
    corr = [c for c in s.correlations if not held.intersection(c.inputs)]
    if len(corr) != len(s.correlations):
        out = out.model_copy(update={"correlations": corr})
    return out


# --------------------------------------------------------------------------- spec transforms
def scale_spec(spec: dict, factor: float) -> dict:
    """A quantity (as scenario data) with every value multiplied by ``factor``.

    Exact per draw for ``fixed``, ``normal``, ``lognormal``, ``triangular``,
    ``pert``, ``uniform`` and ``beta`` (its ``low``/``high`` are scaled): the
    same uniform gives ``factor`` times the value.
    """
    out = dict(spec)
    dist = out.get("dist", "fixed")
    if dist == "fixed":
        out["value"] = out["value"] * factor
    elif dist == "lognormal":
        if out.get("median") is not None:
            out["median"] = out["median"] * factor
        else:
            out["mean"], out["sd"] = out["mean"] * factor, out["sd"] * factor
    elif dist == "normal":
        out["mean"], out["sd"] = out["mean"] * factor, out["sd"] * factor
    elif dist in ("triangular", "pert"):
        out["low"], out["mode"], out["high"] = (out[k] * factor for k in ("low", "mode", "high"))
    elif dist == "uniform":
        out["low"], out["high"] = out["low"] * factor, out["high"] * factor
    elif dist == "beta":
        out["low"], out["high"] = out.get("low", 0.0) * factor, out.get("high", 1.0) * factor
        if "mean" in out and out["mean"] is not None:
            out["mean"], out["sd"] = out["mean"] * factor, out["sd"] * factor
    else:  # pragma: no cover - the schema admits no other distribution
        raise ValueError(f"cannot scale a {dist} distribution")
    return out


def power_spec(spec: dict, exponent: float) -> dict:
    """A positive ratio raised to ``exponent`` (the log is multiplied by it).

    Exact per draw for ``fixed`` and ``lognormal``: ``hr -> hr ** exponent``,
    i.e. median ``m -> m ** exponent`` and log-sd ``sigma -> sigma * exponent``.
    """
    out = dict(spec)
    dist = out.get("dist", "fixed")
    if dist == "fixed":
        out["value"] = out["value"] ** exponent
        return out
    if dist == "lognormal":
        if out.get("median") is not None:
            mu, sigma = math.log(out["median"]), out["sigma"]
        else:
            s2 = math.log1p((out["sd"] / out["mean"]) ** 2)
            mu, sigma = math.log(out["mean"]) - s2 / 2, math.sqrt(s2)
        if exponent == 0:
            return {"dist": "fixed", "value": 1.0, "source": out.get("source")}
        return {
            "dist": "lognormal",
            "median": math.exp(mu * exponent),
            "sigma": sigma * exponent,
            "source": out.get("source"),
        }
    raise ValueError(f"the effect lever needs a fixed or lognormal hazard ratio, not {dist}")


def odds_spec(spec: dict, factor: float) -> dict:
    """A probability whose odds are multiplied by ``factor``.

    ``fixed``: exact.  ``beta`` on [0, 1]: the mean's odds are multiplied by
    ``factor`` and the concentration ``alpha + beta`` is kept, so the spread
    stays comparable; with the same uniform a draw moves the same way.
    """
    out = dict(spec)
    dist = out.get("dist", "fixed")

    def shift(p: float) -> float:
        if p <= 0.0 or p >= 1.0:
            return p
        odds = p / (1 - p) * factor
        return odds / (1 + odds)

    if dist == "fixed":
        out["value"] = shift(out["value"])
        return out
    if dist == "beta" and out.get("low", 0.0) == 0.0 and out.get("high", 1.0) == 1.0:
        if out.get("alpha") is not None:
            a, b = out["alpha"], out["beta"]
        else:
            m, sd = out["mean"], out["sd"]
            k = m * (1 - m) / sd**2 - 1
            a, b = m * k, (1 - m) * k
        m_new = shift(a / (a + b))
        conc = a + b
        return {"dist": "beta", "alpha": m_new * conc, "beta": (1 - m_new) * conc, "source": out.get("source")}
    raise ValueError(f"the breakdown lever needs a fixed value or a beta on [0, 1], not {dist}")


# --------------------------------------------------------------------------- levers
@dataclass(frozen=True, kw_only=True)
class Lever:
    """One number that moves a group of scenario inputs together.

    Parameters
    ----------
    name : str
        Command-line name (``referrals``, ``effect``, ...).
    label : str
        What it is, for tables and charts.
    unit : str
        Unit of the lever's value (``"x plan"`` for factors, ``"quarters"``).
    base : float
        The value that leaves the scenario unchanged.
    bracket : tuple of float
        Range searched by the reverse stress test and goal seek.
    integer : bool
        Whether only whole values are meaningful (searched by scanning).
    adverse : int
        +1 if raising the value is bad for the investor, -1 if lowering it is.
    apply : callable (data, value) -> data
        Changes a scenario document.
    natural : callable (Scenario, value) -> str
        The lever's value in the scenario's own units, for reports.
    """

    name: str
    label: str
    unit: str
    base: float
    bracket: tuple[float, float]
    integer: bool
    adverse: int
    apply: Callable[[dict, float], dict]
    natural: Callable[[Scenario, float], str]

    def scenario(self, s: Scenario, value: float) -> Scenario:
        """The scenario with the lever set to ``value`` (validated)."""
        if value == self.base:
            return s
        data = self.apply(scenario_to_data(s), value)
        try:
            return validate_data(data, f"<{self.name}={value:g}>")
        except ScenarioError as exc:
            raise WorkflowError(
                [
                    Issue(None, f"lever {self.name}", f"the scenario is not valid at {self.name}={value:g}: {i}")
                    for i in exc.issues
                ]
            ) from None


#: Picks the dotted paths of the quantities a lever moves, in a scenario.
Select = Callable[[Scenario], list[str]]


def _where(predicate: Callable[[str], bool]) -> Select:
    """The quantities whose dotted path ``predicate`` accepts, in document order."""

    def select(s: Scenario) -> list[str]:
        return [p for p, _ in iter_quantities(s) if predicate(p)]

    return select


def _map_quantities(select: Select, transform: Callable[[dict, float], dict]):
    def apply(data: dict, value: float) -> dict:
        out = copy.deepcopy(data)
        for path in select(validate_data(data)):
            spec = get_path(out, path)
            spec = spec if isinstance(spec, dict) else {"dist": "fixed", "value": spec}
            try:
                set_path(out, path, transform(spec, value))
            except ValueError as exc:
                raise _fail(path, str(exc)) from None
        return out

    return apply


def _is_delivery_cost(p: str) -> bool:
    return (
        p.startswith("interventions.")
        and ".delivery." in p
        and (p.endswith("cost_per_quarter_gbp") or p.endswith("cost_per_family_gbp"))
    )


def _price_format(path: str) -> str:
    """Pounds for a price in GBP; a share (care days saved) as a number."""
    return "£{:,.2f}" if path.endswith("_gbp") else "{:.3g}"


def _median(spec) -> float:
    import numpy as np

    from sibmodel.model.sampling import ppf

    return float(ppf(spec, np.array([0.5]))[0])


def _describe_paths(select: Select, fmt: str | Callable[[str], str]) -> Callable[[Scenario, float], str]:
    """The lever's value as the median of each quantity it moves; ``fmt`` is a format, or gives one for a path."""

    def natural(s: Scenario, value: float) -> str:
        specs = dict(iter_quantities(s))
        return "; ".join(
            f"{path} median {(fmt if isinstance(fmt, str) else fmt(path)).format(_median(specs[path]))}"
            for path in select(s)
        )

    return natural


def _lag_apply(data: dict, value: float) -> dict:
    out = copy.deepcopy(data)
    out["contract"]["payment_lag_quarters"] = int(round(value))
    return out


def _cap_apply(data: dict, value: float) -> dict:
    out = copy.deepcopy(data)
    cap = out["contract"].get("caps", {}).get("total_gbp")
    if cap is None:
        raise _fail(
            "contract.caps.total_gbp",
            "the scenario has no total cap to move; set one first (--set contract.caps.total_gbp=...)",
        )
    out["contract"]["caps"]["total_gbp"] = cap * value
    return out


def _cap_natural(s: Scenario, value: float) -> str:
    cap = s.contract.caps.total_gbp
    return "no total cap" if cap is None else f"total cap £{cap:,.0f}"


LEVERS: dict[str, Lever] = {
    lever.name: lever
    for lever in (
        Lever(
            name="referrals",
            label="referral volume",
            unit="x plan",
            base=1.0,
            bracket=(0.05, 3.0),
            integer=False,
            adverse=-1,
            apply=_map_quantities(_where(lambda p: p == "referrals.volume_multiplier"), scale_spec),
            natural=_describe_paths(_where(lambda p: p == "referrals.volume_multiplier"), "{:.3g}"),
        ),
        Lever(
            name="effect",
            label="therapy effect (log hazard ratio)",
            unit="x plan",
            base=1.0,
            bracket=(0.02, 2.0),
            integer=False,
            adverse=-1,
            apply=_map_quantities(_where(lambda p: p.endswith(".effect.hazard_ratio")), power_spec),
            natural=_describe_paths(_where(lambda p: p.endswith(".effect.hazard_ratio")), "{:.3g}"),
        ),
        Lever(
            name="breakdown",
            label="placement breakdown (odds)",
            unit="x plan",
            base=1.0,
            bracket=(0.1, 10.0),
            integer=False,
            adverse=+1,
            apply=_map_quantities(
                _where(lambda p: p.startswith("care.placements.") and p.endswith(".breakdown_share")), odds_spec
            ),
            natural=_describe_paths(
                _where(lambda p: p.startswith("care.placements.") and p.endswith(".breakdown_share")), "{:.3f}"
            ),
        ),
        Lever(
            name="payment_lag",
            label="payment lag",
            unit="quarters",
            base=float("nan"),
            bracket=(0.0, 12.0),
            integer=True,
            adverse=+1,
            apply=_lag_apply,
            natural=lambda s, v: f"contract.payment_lag_quarters {s.contract.payment_lag_quarters}",
        ),
        Lever(
            name="delivery_cost",
            label="delivery cost",
            unit="x plan",
            base=1.0,
            bracket=(0.2, 5.0),
            integer=False,
            adverse=+1,
            apply=_map_quantities(_where(_is_delivery_cost), scale_spec),
            natural=_describe_paths(_where(_is_delivery_cost), "£{:,.0f}"),
        ),
        Lever(
            name="tariff",
            label="outcome tariffs",
            unit="x plan",
            base=1.0,
            bracket=(0.05, 10.0),
            integer=False,
            adverse=-1,
            apply=_map_quantities(tariff_price_paths, scale_spec),
            natural=_describe_paths(tariff_price_paths, _price_format),
        ),
        Lever(
            name="cap",
            label="total cap on outcome payments",
            unit="x plan",
            base=1.0,
            bracket=(0.05, 10.0),
            integer=False,
            adverse=-1,
            apply=_cap_apply,
            natural=_cap_natural,
        ),
        Lever(
            name="commitment",
            label="investor commitment",
            unit="x plan",
            base=1.0,
            bracket=(0.05, 10.0),
            integer=False,
            adverse=-1,
            apply=_map_quantities(_where(lambda p: p == "investment.commitment_gbp"), scale_spec),
            natural=_describe_paths(_where(lambda p: p == "investment.commitment_gbp"), "£{:,.0f}"),
        ),
    )
}

# : The levers of the reverse stress test (issue 8: referral volume, effect size, breakdown rate, payment lag, delivery
# cost).
REVERSE_STRESS_LEVERS = ("referrals", "effect", "breakdown", "payment_lag", "delivery_cost")


def _is_valid_at(lever: Lever, s: Scenario, value: float) -> bool:
    """Whether the scenario is valid with the lever at ``value`` (a lever that cannot apply at all still raises)."""
    data = lever.apply(scenario_to_data(s), value)
    try:
        validate_data(data)
    except ScenarioError:
        return False
    return True


def _top_of_valid_range(lever: Lever, s: Scenario, iterations: int = 40) -> float:
    """The largest lever value in [base, bracket top] at which the scenario is valid (bisection).

    Scaling a price up can take it out of its field's range -- the share of the placement
    cost a care-days-saved tariff pays cannot pass 1 -- so the search stops there.  Every
    lever moves its inputs monotonically, so the valid values form one interval around the base.
    """
    good, bad = lever.base, lever.bracket[1]
    if _is_valid_at(lever, s, bad):
        return bad
    for _ in range(iterations):  # to (top - base) / 2**40
        mid = 0.5 * (good + bad)
        good, bad = (mid, bad) if _is_valid_at(lever, s, mid) else (good, mid)
    return good


def get_lever(name: str, s: Scenario | None = None) -> Lever:
    """The lever called ``name``, fitted to scenario ``s`` when it is given.

    For ``payment_lag`` the base is the scenario's lag.  For a continuous lever the
    top of the bracket is brought down to the largest value at which ``s`` is still
    valid (e.g. a care-days-saved tariff's share of the placement cost reaching 1).

    Raises
    ------
    WorkflowError
        For an unknown name, listing the known ones.
    """
    if name not in LEVERS:
        raise _fail("lever", f"unknown lever; allowed: {', '.join(LEVERS)}", name)
    lever = LEVERS[name]
    if lever.integer and s is not None:
        lever = dataclasses.replace(lever, base=float(s.contract.payment_lag_quarters))
    elif s is not None:
        try:
            top = _top_of_valid_range(lever, s)
        except WorkflowError:  # the lever cannot move this scenario at all: said when it is run
            top = lever.bracket[1]
        if top < lever.bracket[1]:
            lever = dataclasses.replace(lever, bracket=(lever.bracket[0], top))
    return lever
