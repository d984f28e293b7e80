"""The assumption log: every number a scenario assumes, its distribution and its source.

The Aqua Book [Aqua-Book-2015] asks for "a log of data, assumptions and decisions"; this module
builds it from a validated :class:`~sibmodel.scenario.schema.Scenario`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from sibmodel.scenario.quantities import Spec
from sibmodel.scenario.schema import Scenario, iter_quantities


@dataclass(frozen=True)
class Assumption:
    """One numeric assumption.

    Parameters
    ----------
    path : str
        Dotted path in the scenario.
    distribution : str
        Readable form, e.g. ``beta(mean=0.75, alpha=55.5, beta=18.5)`` or ``646``.
    spec : Spec
        The quantity itself.
    uncertain : bool
        Whether it is drawn per Monte Carlo draw.
    source : str
        The spec's own source, else the nearest enclosing block's; ``"(no source given)"`` if none.
    """

    path: str
    distribution: str
    spec: Spec = field(repr=False)
    uncertain: bool
    source: str

    @property
    def mean(self) -> float:
        """Mean of the distribution [unit of the field] (computed when asked for: a truncated
        spec's mean is a numerical integral, which ``sibmodel validate`` does not need)."""
        return self.spec.mean()


NO_SOURCE = "(no source given)"


def _block_source(scenario: Scenario, path: str) -> str | None:
    """Source of the nearest enclosing block of ``path`` that has one."""
    node = scenario
    found = None
    for part in path.split(".")[:-1]:
        if isinstance(node, BaseModel):
            node = getattr(node, part, None)
        elif isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, (list, tuple)):
            node = node[int(part)]
        if isinstance(node, BaseModel) and getattr(node, "source", None):
            found = node.source
    return found


def assumption_log(scenario: Scenario, *, uncertain_only: bool = False) -> list[Assumption]:
    """Every numeric assumption of the scenario, in document order."""
    out = []
    for path, spec in iter_quantities(scenario):
        if uncertain_only and spec.is_fixed:
            continue
        source = spec.source or _block_source(scenario, path) or NO_SOURCE
        out.append(Assumption(path, spec.describe(), spec, not spec.is_fixed, " ".join(source.split())))
    return out


def resolved_summary(scenario: Scenario) -> list[str]:
    """A few lines describing the resolved scenario."""
    t = scenario.timeline
    c = scenario.contract
    lines = [
        f"Scenario: {scenario.metadata.name}",
        f"  programme {t.programme_start} .. referrals close {t.referrals_close} .. contract end {t.contract_end}",
        f"  boroughs ({len(scenario.boroughs)}): "
        + ", ".join(
            f"{name} (from {b.join_date}{', leaves ' + str(b.leave_date) if b.leave_date else ''})"
            for name, b in scenario.boroughs.items()
        ),
        "  interventions: "
        + ", ".join(
            f"{name} ({iv.therapy_weeks} wk, {len(iv.delivery.teams)} team{'s' if len(iv.delivery.teams) != 1 else ''})"
            for name, iv in scenario.interventions.items()
        ),
        f"  placements: {', '.join(scenario.care.placements)}",
        f"  tracking: {c.tracking.length_weeks} weeks from {c.tracking.starts_at.replace('_', ' ')}; "
        f"tariffs: {', '.join(tf.metric for tf in c.tariffs)}; payment lag {c.payment_lag_quarters} quarter(s)",
        "  caps: "
        + (
            ", ".join(
                f"{k.replace('_gbp', '').replace('_', ' ')} GBP {v:,.0f}"
                for k, v in c.caps.model_dump(exclude={"source"}).items()
                if v is not None
            )
            or "none"
        ),
        f"  top-up: {c.topup.share:.0%} of each payment"
        + (f", up to GBP {c.topup.max_gbp:,.0f}" if c.topup.max_gbp is not None else ""),
        f"  investment: commitment GBP {scenario.investment.commitment_gbp.mean():,.0f}; "
        f"distribution {scenario.investment.distribution.policy}",
        f"  discounting: {scenario.discounting.real_rate_annual:.1%} real to {scenario.metadata.price_year}",
        f"  observed figures to validate against: {len(scenario.observed)}",
    ]
    return lines
