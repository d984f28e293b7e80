"""The scenario schema: every block of a social impact bond, as pydantic v2 models.

All models forbid unknown keys and are frozen.  Numbers that are assumptions are
*quantities* (:mod:`sibmodel.scenario.quantities`): a plain value or a distribution, each
able to carry a ``source:``.  Units are in the field names (``_gbp``,
``_weeks``, ``_quarters``, ``prob`` over a stated ``horizon_weeks``).

Cross-field rules (borough names in teams, placement names in the escalation
matrix, dates in order, ...) are checked by :func:`cross_check`, which returns
every problem at once.

Loading YAML (``extends:``, ``--set`` overrides, duplicate keys) is in
:mod:`sibmodel.scenario.load`.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from sibmodel.exceptions import Issue
from sibmodel.outputs import OBSERVABLE
from sibmodel.scenario.limits import MAX_MAGNITUDE
from sibmodel.scenario.quantities import (
    NonNegative,
    OpenProbability,
    Positive,
    Probability,
    Share,
    Spec,
    quantity,
)

SHARE_TOLERANCE = 1e-6

#: Most expected starts a borough may have in a quarter [young people/quarter]: more than
#: all the children looked after in England at any one time (about 83,000 in 2023, Department
#: for Education, "Children looked after in England including adoptions").
MAX_STARTS_PER_QUARTER = 100_000
StartsPerQuarter = quantity(0.0, MAX_STARTS_PER_QUARTER)
#: Most expected starts a borough may have over the whole programme [young people]
#: (the quarterly limit over 50 years).
StartsTotal = quantity(0.0, MAX_STARTS_PER_QUARTER * 200)

#: Dates a scenario may use (the price year's range) and the longest contract [years].
EARLIEST_DATE = dt.date(1990, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)
MAX_CONTRACT_YEARS = 50


class Model(BaseModel):
    """Base of every scenario block: unknown keys are errors; objects are immutable."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, validate_default=True, allow_inf_nan=False
    )


Name = Annotated[str, Field(min_length=1, max_length=200)]


# --------------------------------------------------------------------------- metadata
class Metadata(Model):
    """What the scenario is."""

    name: Name = Field(description="Short name of the scenario, shown in reports.")
    description: str = Field("", description="What the scenario represents and why.")
    currency: Literal["GBP"] = Field("GBP", description="Currency of every money field (only GBP).")
    price_year: int = Field(
        strict=True,
        ge=1990,
        le=2100,
        description="Year whose prices all money is expressed in, and the year discounting is to [year].",
    )


class Timeline(Model):
    """The three dates that bound the programme."""

    programme_start: dt.date = Field(description="First day of service; week 0 and quarter 0 of the model [date].")
    referrals_close: dt.date = Field(description="Last day a young person can start therapy [date].")
    contract_end: dt.date = Field(
        description=(
            "Last day of the contract; tracking windows are cut here and nothing is paid for later weeks [date]."
        )
    )
    source: str | None = Field(None, description="Where the dates come from.")


class RateStep(Model):
    """One step of a declining discount-rate schedule."""

    from_year: int = Field(
        strict=True, ge=0, description="Years after the price year from which this rate applies [years]."
    )
    real_rate_annual: float = Field(ge=0, le=0.2, description="Real discount rate from that year on [1/year].")


class Discounting(Model):
    """How money at different dates is made comparable (HM Treasury Green Book)."""

    real_rate_annual: float = Field(
        0.035, ge=0, le=0.2, description="Real annual discount rate [1/year]; Green Book default 3.5%."
    )
    declining_schedule: list[RateStep] | None = Field(
        None,
        description=(
            "Optional Green Book style declining schedule; the first step must start at year 0 and "
            "overrides real_rate_annual."
        ),
    )
    source: str | None = Field(
        "HM Treasury Green Book (2022), real discount rate 3.5% for years 0-30.", description="Source of the rate."
    )


# --------------------------------------------------------------------------- referrals
class Referrals(Model):
    """Programme-wide referral assumptions."""

    volume_multiplier: quantity(0.0, 10.0) = Field(
        1.0, description="Multiplies every borough's expected starts [ratio]; 0.7 = referrals 30% below plan."
    )
    quarter_weeks: Literal[13] = Field(13, description="Length of a model quarter [weeks] (52-week model year).")


class Starts(Model):
    """A borough's expected starts: per quarter or a total over its active quarters."""

    per_quarter: StartsPerQuarter | None = Field(
        None, description="Expected starts in each full active quarter [young people/quarter]; at most 100,000."
    )
    total: StartsTotal | None = Field(
        None,
        description=(
            "Expected starts over the borough's whole active period [young people]; "
            "spread evenly over its quarters; at most 20,000,000."
        ),
    )
    ramp_up_quarters: int = Field(
        0,
        strict=True,
        ge=0,
        le=40,
        description="Quarters over which starts ramp up linearly to the full rate after joining [quarters].",
    )
    dispersion: float | None = Field(
        None,
        gt=0,
        le=MAX_MAGNITUDE,
        description="Negative-binomial size k (variance = mean + mean^2/k) [1]; omit for Poisson starts.",
    )
    source: str | None = Field(None, description="Where the referral volumes come from.")


class Borough(Model):
    """A commissioning borough: when it takes part, how many it refers, what care costs it."""

    join_date: dt.date = Field(description="First day the borough can refer [date].")
    leave_date: dt.date | None = Field(
        None, description="Day the borough stops referring, if before referrals close [date]."
    )
    starts: Starts = Field(description="Expected starts.")
    intervention_mix: dict[Name, float] = Field(
        description="Share of starts receiving each intervention [share]; keys are intervention names, values sum to 1."
    )
    weekly_care_cost_gbp: dict[Name, NonNegative] = Field(
        default_factory=dict,
        description=(
            "The borough's own weekly cost per placement type [GBP/week]; "
            "missing types use care.placements.<type>.weekly_cost_gbp."
        ),
    )
    entry_odds_ratio: Positive = Field(
        1.0,
        description="Local modifier: multiplies the odds of entering care (and of re-entry) in this borough [ratio].",
    )
    placement_mix: dict[Name, float] | None = Field(
        None,
        description=(
            "The borough's own first placement type on entering care [share]; sums to 1. Also used on re-entry "
            "unless care.reentry.placement_mix is given. Default: care.entry.placement_mix."
        ),
    )
    source: str | None = Field(None, description="Where the borough's facts come from.")


# --------------------------------------------------------------------------- interventions
class Effect(Model):
    """The therapy's effect on the care-entry and re-entry hazards."""

    hazard_ratio: quantity(0.0, 5.0, lo_open=True) = Field(
        description=(
            "Multiplies the entry and re-entry hazards during therapy and after [ratio]; "
            "< 1 keeps young people at home."
        )
    )
    fade_weeks: int | None = Field(
        None,
        strict=True,
        ge=0,
        le=520,
        description=(
            "Weeks after therapy ends over which the hazard ratio returns linearly to 1 [weeks]; "
            "omit for an effect that lasts."
        ),
    )


class Completion(Model):
    """How many starts complete the course of therapy, and what the others get from it."""

    share: Share = Field(description="Share of starts who complete the course of therapy [share]; Essex: 335 of 388.")
    noncompleter_effect_share: Share = Field(
        0.0,
        description=(
            "Share of the log hazard ratio that a young person who does not complete gets [share]: their hazard "
            "ratio is hazard_ratio ** noncompleter_effect_share; 0 = no effect, 1 = the completers' effect."
        ),
    )
    source: str | None = Field(None, description="Where the completion share and the non-completers' effect come from.")


class Team(Model):
    """A delivery team: a provider serving some boroughs with one intervention."""

    provider: Name = Field(description="Organisation delivering the team.")
    boroughs: list[Name] = Field(min_length=1, description="Boroughs the team serves.")
    cost_per_quarter_gbp: NonNegative | None = Field(
        None, description="Fixed cost of the team per quarter while it runs [GBP/quarter]; default: the intervention's."
    )
    capacity_families_per_quarter: float | None = Field(
        None,
        gt=0,
        le=MAX_MAGNITUDE,
        description="Most starts the team can take in a quarter [families/quarter]; default: the intervention's.",
    )
    source: str | None = None


class Delivery(Model):
    """What delivering an intervention costs the investor."""

    team_cost_per_quarter_gbp: NonNegative = Field(
        0.0, description="Fixed cost of one team per quarter while it runs [GBP/quarter]."
    )
    team_capacity_families_per_quarter: float | None = Field(
        None,
        gt=0,
        le=MAX_MAGNITUDE,
        description="Most starts one team can take in a quarter [families/quarter]; omit for no cap.",
    )
    variable_cost_per_family_gbp: NonNegative = Field(
        0.0, description="Cost per start on top of team costs [GBP/family]."
    )
    teams: dict[Name, Team] = Field(
        default_factory=dict,
        description=(
            "Teams by name; a team runs from its first borough's join until its boroughs stop referring "
            "plus the therapy length."
        ),
    )


class Intervention(Model):
    """A therapy (MST, FFT, ...)."""

    description: str = Field("", description="What the intervention is.")
    therapy_weeks: int = Field(strict=True, ge=1, le=104, description="Length of a course of therapy [weeks].")
    effect: Effect
    completion: Completion | None = Field(
        None, description="Share completing the therapy and the non-completers' effect; omit for everyone completing."
    )
    delivery: Delivery = Field(default_factory=Delivery)


# --------------------------------------------------------------------------- care model
class ShapeStep(Model):
    """A step of a piecewise-constant relative hazard in weeks since referral."""

    from_week: int = Field(
        strict=True, ge=0, description="Weeks since referral from which this relative hazard applies [weeks]."
    )
    relative_hazard: float = Field(ge=0, le=MAX_MAGNITUDE, description="Hazard relative to the other steps [ratio].")


class Entry(Model):
    """Entering care from home, without therapy."""

    prob: OpenProbability = Field(
        description="Probability of entering care within horizon_weeks of referral without therapy [probability]."
    )
    horizon_weeks: int = Field(
        strict=True, ge=1, le=1040, description="Horizon the entry probability is stated over [weeks]."
    )
    shape: list[ShapeStep] | None = Field(
        None,
        description=(
            "Optional piecewise-constant shape of the entry hazard in weeks since referral; first step from week 0."
        ),
    )
    placement_mix: dict[Name, float] = Field(description="First placement type on entering care [share]; sums to 1.")
    source: str | None = None


class Reentry(Model):
    """Returning to care after reunification, without therapy (constant hazard)."""

    prob: Probability = Field(
        description="Probability of re-entering care within horizon_weeks of going home [probability]."
    )
    horizon_weeks: int = Field(
        strict=True, ge=1, le=1040, description="Horizon the re-entry probability is stated over [weeks]."
    )
    placement_mix: dict[Name, float] | None = Field(
        None, description="Placement type on re-entry [share]; default: the entry mix."
    )
    source: str | None = None


class Placement(Model):
    """A placement type (foster, residential, secure, ...)."""

    mean_duration_weeks: quantity(1.0, 1040.0) = Field(
        description="Mean length of one placement of this type [weeks] (geometric, constant weekly ending hazard)."
    )
    breakdown_share: Probability = Field(
        description=(
            "Share of placement endings that are breakdowns (moves to another placement) "
            "rather than reunification [share]."
        )
    )
    weekly_cost_gbp: NonNegative = Field(description="Default weekly cost of a placement of this type [GBP/week].")
    source: str | None = None


class CohortSpread(Model):
    """How much cohorts (borough x intervention x start quarter) differ within a draw."""

    entry_logit_sd: float = Field(
        0.0, ge=0, le=5, description="SD of each cohort's entry and re-entry probabilities on the logit scale [logit]."
    )
    breakdown_logit_sd: float = Field(
        0.0, ge=0, le=5, description="SD of each cohort's breakdown shares on the logit scale [logit]."
    )
    source: str | None = None


class CareModel(Model):
    """The care pathway without therapy."""

    entry: Entry
    reentry: Reentry
    placements: dict[Name, Placement] = Field(min_length=1, description="Placement types by name.")
    escalation: dict[Name, dict[Name, float]] = Field(
        default_factory=dict,
        description=(
            "Where a breakdown of each placement type leads [share]; each row sums to 1. Missing rows: same type again."
        ),
    )
    cohort_spread: CohortSpread = Field(default_factory=CohortSpread)


# --------------------------------------------------------------------------- contract
class Tracking(Model):
    """The window over which outcomes are counted for each young person."""

    length_weeks: int = Field(
        strict=True, ge=1, le=1040, description="Length of the tracking window [weeks]; PFP: 104 (two years)."
    )
    starts_at: Literal["referral", "therapy_end"] = Field(
        "referral", description="Where the window starts: at referral or at the end of therapy."
    )


class WeeklyOutOfCare(Model):
    """Payment for each full week at home within the tracking window (PFP)."""

    metric: Literal["weekly_out_of_care"]
    payment_per_week_gbp: NonNegative = Field(description="Paid for each full week out of care [GBP/week].")
    pay_weeks_after_return_from_care: bool = Field(
        True,
        description=(
            "Whether weeks at home after a return from care (reunification) are paid; false = only the weeks "
            "before a young person's first entry to care are paid."
        ),
    )


class Engagement(Model):
    """Payment once a young person has engaged with therapy."""

    metric: Literal["engagement"]
    payment_gbp: NonNegative = Field(description="Paid once per start [GBP].")
    after_therapy_weeks: int = Field(
        0, strict=True, ge=0, le=104, description="Weeks of therapy after which it is paid; 0 = at start [weeks]."
    )


class Milestone(Model):
    """Payment if the young person is not in care at a given week."""

    metric: Literal["milestone"]
    payment_gbp: NonNegative = Field(description="Paid once per young person at home at the milestone [GBP].")
    at_week: int = Field(
        strict=True,
        ge=1,
        le=1040,
        description="Weeks after the tracking start at which the young person must be at home [weeks].",
    )


class CareDaysSaved(Model):
    """Payment for care time saved against a baseline care share (Essex design)."""

    metric: Literal["care_days_saved"]
    baseline_care_share: Share = Field(
        description="Share of tracked time the comparison group spent in care [share]; Essex: 0.55."
    )
    share_of_placement_cost: Share = Field(description="Share of the placement cost saved that is paid [share].")
    reference_weekly_care_cost_gbp: NonNegative | None = Field(
        None,
        description=(
            "Weekly placement cost the saving is valued at [GBP/week]; "
            "default: the borough's foster-weighted entry-mix cost."
        ),
    )
    floor_at_zero: bool = Field(
        True, description="Whether a quarter with negative savings pays zero rather than clawing back."
    )


Tariff = Annotated[WeeklyOutOfCare | Engagement | Milestone | CareDaysSaved, Field(discriminator="metric")]


class Caps(Model):
    """Most that can be paid; payments stop, in time order, once a cap is reached."""

    per_young_person_gbp: float | None = Field(
        None, gt=0, le=MAX_MAGNITUDE, description="Most paid for one young person [GBP]."
    )
    per_borough_gbp: float | None = Field(
        None, gt=0, le=MAX_MAGNITUDE, description="Most paid by (and for) one borough [GBP]."
    )
    total_gbp: float | None = Field(
        None, gt=0, le=MAX_MAGNITUDE, description="Most paid over the whole contract [GBP]; PFP: 10,000,000."
    )
    source: str | None = None


class TopUp(Model):
    """A central fund paying a share of each outcome payment."""

    share: float = Field(0.0, ge=0, le=1, description="Share of each outcome payment paid by the central fund [share].")
    max_gbp: float | None = Field(
        None, ge=0, le=MAX_MAGNITUDE, description="Most the central fund pays in total [GBP]; omit for no limit."
    )
    funder: str = Field("", description="Who pays the top-up.")
    source: str | None = None


class Contract(Model):
    """The outcomes contract."""

    tracking: Tracking
    tariffs: list[Tariff] = Field(min_length=1, description="Outcome metrics and their prices.")
    caps: Caps = Field(default_factory=Caps)
    topup: TopUp = Field(default_factory=TopUp)
    payment_lag_quarters: int = Field(
        1,
        strict=True,
        ge=0,
        le=40,
        description="Quarters between the end of the quarter an outcome is achieved and its payment [quarters].",
    )
    source: str | None = None


# --------------------------------------------------------------------------- investment
class Fees(Model):
    """Costs of the special purpose vehicle besides delivery."""

    management_fee_per_quarter_gbp: NonNegative = Field(
        0.0, description="Performance management fee while the contract runs [GBP/quarter]."
    )
    evaluation_fee_gbp: NonNegative = Field(0.0, description="Evaluation cost, paid in the last quarter [GBP].")
    setup_cost_gbp: NonNegative = Field(0.0, description="One-off set-up cost in quarter 0 [GBP].")
    source: str | None = None


class DistributionPolicy(Model):
    """How surplus cash goes back to the investor."""

    policy: Literal["quarterly_after_repayment", "at_end"] = Field(
        "at_end", description="Distribute surplus each quarter once capital is repaid, or all at the end."
    )
    return_cap_multiple: float | None = Field(
        None,
        gt=0,
        le=MAX_MAGNITUDE,
        description="Most the investor receives as a multiple of capital drawn [ratio]; omit for no cap.",
    )
    surplus_share_to_investor: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Share of the surplus above the return cap that still goes to the investor [share].",
    )


class Investment(Model):
    """The social investor's commitment and terms."""

    investor: str = Field("", description="Who invests.")
    commitment_gbp: NonNegative = Field(description="Capital committed to fund delivery ahead of payments [GBP].")
    fees: Fees = Field(default_factory=Fees)
    distribution: DistributionPolicy = Field(default_factory=DistributionPolicy)
    source: str | None = None


# --------------------------------------------------------------------------- correlation, observed
class Correlation(Model):
    """A rank correlation between two uncertain inputs (Gaussian copula)."""

    inputs: tuple[str, str] = Field(description="Dotted paths of two uncertain inputs.")
    rank_corr: float = Field(ge=-1, le=1, description="Spearman rank correlation [1].")
    source: str | None = None


#: Published figures an ``observed:`` entry can name (the outputs registry maps each to its per-draw values).
OBSERVABLE_FIGURES = tuple(OBSERVABLE)

#: What a published figure can show about the model (``observed.<label>.kind``).
VALIDATION_KINDS = ("calibration_target", "input", "derived", "independent")


class Observed(Model):
    """A published result the model is compared with, and what the comparison can show."""

    figure: Literal[OBSERVABLE_FIGURES] = Field(description="Summary figure it corresponds to.")
    value: float = Field(
        ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE, description="The published value, in the unit of the figure."
    )
    kind: Literal[VALIDATION_KINDS] = Field(
        description=(
            "What matching it shows: `calibration_target` (inputs were solved to meet it), `input` (the model's "
            "figure is set by an input), `derived` (it follows arithmetically from other compared figures) or "
            "`independent` (no input was set from it or from figures it follows from: a genuine check)."
        )
    )
    note: str | None = Field(None, description="Why the figure has this kind: which inputs or figures set it.")
    source: str = Field(min_length=1, description="Where it was published.")


# --------------------------------------------------------------------------- baseline
class Baseline(Model):
    """What happens without the therapy (deadweight), as an uncertain input of its own.

    With this block the care model and each intervention's ``effect`` describe the
    *treated* arm (what payments depend on); the arm without therapy is the same care
    pathway with its entry and re-entry hazards scaled by a factor chosen so that its
    expected share of tracked weeks at home equals ``time_at_home_share``
    (:mod:`sibmodel.model.counterfactual`).  The therapy's effect is then implied, not assumed.
    """

    time_at_home_share: OpenProbability = Field(
        description=(
            "Expected share of tracked weeks the young people would spend at home without the therapy "
            "(programme level, over the contract's tracking windows) [share]."
        )
    )
    source: str | None = Field(None, description="Where the baseline and its spread come from.")


class Sampling(Model):
    """How uncertain inputs are sampled."""

    method: Literal["random", "lhs"] = Field(
        "random", description="Plain Monte Carlo or Latin hypercube (per chunk of draws)."
    )


class Scenario(Model):
    """A whole social impact bond scenario."""

    metadata: Metadata
    timeline: Timeline
    discounting: Discounting = Field(default_factory=Discounting)
    referrals: Referrals = Field(default_factory=Referrals)
    boroughs: dict[Name, Borough] = Field(min_length=1, description="Commissioning boroughs by name.")
    interventions: dict[Name, Intervention] = Field(min_length=1, description="Interventions by name.")
    care: CareModel
    contract: Contract
    investment: Investment
    correlations: list[Correlation] = Field(default_factory=list)
    observed: dict[Name, Observed] = Field(
        default_factory=dict, description="Published results to validate against, by label."
    )
    baseline: Baseline | None = Field(
        None,
        description=(
            "The outcome without therapy as an uncertain input (deadweight); "
            "omitted: the care model itself is the arm without therapy."
        ),
    )
    sampling: Sampling = Field(default_factory=Sampling)


# --------------------------------------------------------------------------- cross checks
def iter_quantities(obj: BaseModel, prefix: str = ""):
    """Yield ``(dotted_path, spec)`` for every quantity in a model tree, in document order."""
    for name in type(obj).model_fields:
        value = getattr(obj, name)
        yield from _walk(value, f"{prefix}{name}")


def _walk(value, path: str):
    if isinstance(value, Spec):
        yield path, value
    elif isinstance(value, BaseModel):
        yield from iter_quantities(value, path + ".")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}.{i}")


def _check_shares(issues: list[Issue], file, path: str, shares: dict[str, float], allowed: set[str], what: str):
    for key, share in shares.items():
        if key not in allowed:
            issues.append(
                Issue(
                    file, f"{path}.{key}", f"unknown {what}; allowed: {', '.join(sorted(allowed))}", key, has_given=True
                )
            )
        if not (0.0 <= share <= 1.0) or math.isnan(share):
            issues.append(Issue(file, f"{path}.{key}", "a share must lie in [0, 1]", share, has_given=True))
    total = sum(shares.values())
    if shares and abs(total - 1.0) > SHARE_TOLERANCE:
        issues.append(Issue(file, path, f"shares must sum to 1; they sum to {total:.6g}", shares, has_given=True))
    if not shares:
        issues.append(Issue(file, path, f"at least one {what} is needed"))


def cross_check(s: Scenario, file: str | None = None) -> list[Issue]:
    """Check the rules that span several fields.

    Parameters
    ----------
    s : Scenario
        A scenario that passed field validation.
    file : str, optional
        File name to put in each issue.

    Returns
    -------
    list of Issue
        Every problem found (empty when the scenario is consistent).
    """
    issues: list[Issue] = []
    _check_timeline(issues, s, file)
    _check_boroughs(issues, s, file)
    _check_teams(issues, s, file)
    _check_care(issues, s, file)
    _check_money_terms(issues, s, file)
    _check_correlations(issues, s, file)
    return issues


def _check_timeline(issues: list[Issue], s: Scenario, file: str | None) -> None:
    """Dates inside the allowed range, in order, and a contract of at most MAX_CONTRACT_YEARS."""
    t = s.timeline
    dates = {f"timeline.{k}": getattr(t, k) for k in ("programme_start", "referrals_close", "contract_end")}
    for bname, b in s.boroughs.items():
        dates[f"boroughs.{bname}.join_date"] = b.join_date
        if b.leave_date is not None:
            dates[f"boroughs.{bname}.leave_date"] = b.leave_date
    for path, date in dates.items():
        if not EARLIEST_DATE <= date <= LATEST_DATE:
            issues.append(Issue(file, path, f"must lie in [{EARLIEST_DATE}, {LATEST_DATE}]", str(date), has_given=True))
    years = (t.contract_end - t.programme_start).days / 365.25
    if years > MAX_CONTRACT_YEARS:
        issues.append(
            Issue(
                file,
                "timeline.contract_end",
                f"at most {MAX_CONTRACT_YEARS} years after programme_start ({t.programme_start}); this is {years:.0f}",
                str(t.contract_end),
                has_given=True,
            )
        )
    if not t.programme_start < t.referrals_close:
        issues.append(
            Issue(
                file,
                "timeline.referrals_close",
                f"must be after programme_start ({t.programme_start})",
                str(t.referrals_close),
                has_given=True,
            )
        )
    if not t.referrals_close <= t.contract_end:
        issues.append(
            Issue(
                file,
                "timeline.contract_end",
                f"must be on or after referrals_close ({t.referrals_close})",
                str(t.contract_end),
                has_given=True,
            )
        )


def _check_boroughs(issues: list[Issue], s: Scenario, file: str | None) -> None:
    """Each borough: join and leave dates, one way of giving starts, mixes and care costs of known kinds."""
    t = s.timeline
    placements = set(s.care.placements)
    interventions = set(s.interventions)
    for name, b in s.boroughs.items():
        p = f"boroughs.{name}"
        if not t.programme_start <= b.join_date < t.referrals_close:
            issues.append(
                Issue(
                    file,
                    f"{p}.join_date",
                    f"must lie in [programme_start {t.programme_start}, referrals_close {t.referrals_close})",
                    str(b.join_date),
                    has_given=True,
                )
            )
        if b.leave_date is not None and not b.join_date < b.leave_date:
            issues.append(
                Issue(
                    file,
                    f"{p}.leave_date",
                    f"must be after join_date ({b.join_date})",
                    str(b.leave_date),
                    has_given=True,
                )
            )
        if (b.starts.per_quarter is None) == (b.starts.total is None):
            issues.append(Issue(file, f"{p}.starts", "give exactly one of per_quarter and total"))
        _check_shares(issues, file, f"{p}.intervention_mix", b.intervention_mix, interventions, "intervention")
        if b.placement_mix is not None:
            _check_shares(issues, file, f"{p}.placement_mix", b.placement_mix, placements, "placement type")
        for k in b.weekly_care_cost_gbp:
            if k not in placements:
                issues.append(
                    Issue(
                        file,
                        f"{p}.weekly_care_cost_gbp.{k}",
                        f"unknown placement type; allowed: {', '.join(sorted(placements))}",
                        k,
                        has_given=True,
                    )
                )


def _check_teams(issues: list[Issue], s: Scenario, file: str | None) -> None:
    """Delivery teams: known boroughs, each served by one team, and a team wherever an intervention is used."""
    for iname, iv in s.interventions.items():
        served: dict[str, str] = {}
        for tname, team in iv.delivery.teams.items():
            for j, bname in enumerate(team.boroughs):
                tp = f"interventions.{iname}.delivery.teams.{tname}.boroughs.{j}"
                if bname not in s.boroughs:
                    issues.append(
                        Issue(file, tp, f"unknown borough; allowed: {', '.join(s.boroughs)}", bname, has_given=True)
                    )
                elif bname in served:
                    issues.append(
                        Issue(
                            file,
                            tp,
                            f"borough already served by team {served[bname]!r} of {iname}",
                            bname,
                            has_given=True,
                        )
                    )
                else:
                    served[bname] = tname
        for bname, b in s.boroughs.items():
            if b.intervention_mix.get(iname, 0.0) > 0 and iv.delivery.teams and bname not in served:
                issues.append(
                    Issue(
                        file,
                        f"interventions.{iname}.delivery.teams",
                        f"no team delivers {iname} in {bname}, whose intervention_mix gives it a share",
                    )
                )


def _check_care(issues: list[Issue], s: Scenario, file: str | None) -> None:
    """Placement mixes, escalation rows and the entry hazard's shape."""
    placements = set(s.care.placements)
    c = s.care
    _check_shares(issues, file, "care.entry.placement_mix", c.entry.placement_mix, placements, "placement type")
    if c.reentry.placement_mix is not None:
        _check_shares(issues, file, "care.reentry.placement_mix", c.reentry.placement_mix, placements, "placement type")
    for src, row in c.escalation.items():
        if src not in placements:
            issues.append(
                Issue(
                    file,
                    f"care.escalation.{src}",
                    f"unknown placement type; allowed: {', '.join(sorted(placements))}",
                    src,
                    has_given=True,
                )
            )
        _check_shares(issues, file, f"care.escalation.{src}", row, placements, "placement type")
    if c.entry.shape is not None:
        weeks = [step.from_week for step in c.entry.shape]
        if not weeks or weeks[0] != 0:
            issues.append(
                Issue(
                    file,
                    "care.entry.shape.0.from_week",
                    "the first step must start at week 0",
                    weeks[:1],
                    has_given=True,
                )
            )
        if any(b <= a for a, b in zip(weeks, weeks[1:])):
            issues.append(Issue(file, "care.entry.shape", "from_week must increase strictly", weeks, has_given=True))
        if all(step.relative_hazard == 0 for step in c.entry.shape):
            issues.append(Issue(file, "care.entry.shape", "at least one relative_hazard must be > 0"))


def _check_money_terms(issues: list[Issue], s: Scenario, file: str | None) -> None:
    """The declining discount schedule, one tariff per metric and the top-up."""
    ds = s.discounting.declining_schedule
    if ds is not None:
        years = [step.from_year for step in ds]
        if not years or years[0] != 0:
            issues.append(
                Issue(
                    file,
                    "discounting.declining_schedule.0.from_year",
                    "the first step must start at year 0",
                    years[:1],
                    has_given=True,
                )
            )
        if any(b <= a for a, b in zip(years, years[1:])):
            issues.append(
                Issue(file, "discounting.declining_schedule", "from_year must increase strictly", years, has_given=True)
            )
    kinds = [tariff.metric for tariff in s.contract.tariffs]
    for k in set(kinds):
        if kinds.count(k) > 1:
            issues.append(
                Issue(
                    file,
                    "contract.tariffs",
                    f"metric {k!r} appears {kinds.count(k)} times; give each metric once",
                    kinds,
                    has_given=True,
                )
            )
    tu = s.contract.topup
    if tu.share > 0 and tu.max_gbp == 0:
        issues.append(
            Issue(
                file, "contract.topup.max_gbp", "is 0 while share > 0; set share to 0 for no top-up", 0, has_given=True
            )
        )


def _check_correlations(issues: list[Issue], s: Scenario, file: str | None) -> None:
    """Correlations: between known, uncertain, distinct inputs, each pair once."""
    quantities = dict(iter_quantities(s))
    seen_pairs: set[frozenset] = set()
    for i, corr in enumerate(s.correlations):
        cp = f"correlations.{i}"
        a, b = corr.inputs
        for j, path in enumerate(corr.inputs):
            if path not in quantities:
                close = _closest(path, quantities)
                hint = f"; did you mean {close!r}?" if close else ""
                issues.append(
                    Issue(
                        file, f"{cp}.inputs.{j}", f"not an uncertain input of this scenario{hint}", path, has_given=True
                    )
                )
            elif quantities[path].is_fixed:
                issues.append(
                    Issue(
                        file,
                        f"{cp}.inputs.{j}",
                        "is a fixed value; only a distribution can be correlated",
                        path,
                        has_given=True,
                    )
                )
        if a == b:
            issues.append(
                Issue(
                    file, f"{cp}.inputs", "an input cannot be correlated with itself", list(corr.inputs), has_given=True
                )
            )
        pair = frozenset((a, b))
        if pair in seen_pairs:
            issues.append(
                Issue(file, f"{cp}.inputs", "this pair is already correlated above", list(corr.inputs), has_given=True)
            )
        seen_pairs.add(pair)


def _closest(word: str, candidates) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None
