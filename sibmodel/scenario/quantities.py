"""Uncertain numbers in a scenario: a plain value or a distribution.

Every numeric assumption in a scenario is a *quantity*: either a plain number
(``0.35``), a sourced value (``{value: 0.35, source: "..."}``) or a
distribution (``{dist: beta, mean: 0.35, sd: 0.05, source: "..."}``).  This
module holds the schema of those specs and checks their parameters; sampling
(mapping uniforms through each spec's ppf) lives in
:mod:`sibmodel.model.sampling`.

scipy.stats (0.3 s to import) is imported only by :meth:`scipy_form`: loading and
checking a scenario do not need it: the mean of an untruncated spec is its closed
form, and the tail mass of a normal or log-normal comes from :func:`scipy.special.ndtr`
(both tested against scipy.stats' public ``mean``, ``cdf`` and ``sf`` to a stated tolerance).

Supported distributions and their parameters:

===========  =====================================================
``fixed``    ``value``
``beta``     ``mean`` and ``sd``, or ``alpha`` and ``beta``; optional ``low``/``high`` (scaled beta)
``normal``   ``mean``, ``sd`` (truncated to the field's allowed range)
``lognormal`` ``median`` and ``sigma``, or ``mean`` and ``sd``
``triangular`` ``low``, ``mode``, ``high``
``pert``     ``low``, ``mode``, ``high`` (beta-PERT, lambda = 4)
``uniform``  ``low``, ``high``
===========  =====================================================
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from sibmodel.scenario.limits import MAX_MAGNITUDE

#: Most probability mass a field's range may cut off an unbounded distribution.
MAX_TRUNCATED_MASS = 0.01

#: Mass above :data:`~sibmodel.scenario.limits.MAX_MAGNITUDE` below which a distribution is left
#: untruncated (its values stay far from overflow in any run) [probability].
NEGLIGIBLE_MASS = 1e-12


class _Spec(BaseModel):
    # allow_inf_nan=False: an infinite or NaN parameter is never a valid assumption
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    source: str | None = Field(None, description="Where the figure comes from, or how it was estimated.")
    #: Truncation range for distributions with unbounded support; set by the field, not by the user.
    bounds: tuple[float, float] | None = Field(None, exclude=True, description="internal")

    @property
    def is_fixed(self) -> bool:
        return False

    def support(self) -> tuple[float, float]:
        raise NotImplementedError

    def mean(self) -> float:
        """Mean of the (possibly truncated) distribution, in the unit of the field."""
        if self.bounds is None:
            return self._untruncated_mean()
        lo, hi = self.bounds
        s_lo, s_hi = self.support()
        if s_lo >= lo and s_hi <= hi:
            return self._untruncated_mean()
        f = self.frozen()
        if self.mass_outside(lo, hi) == 0.0:  # no mass is cut off (to double precision): nothing to correct
            return self._untruncated_mean()
        # integrate only where the distribution has mass: a field's range can reach 1e12, far beyond
        # any quadrature's reach (over [0, 1e12] scipy's expect lost ~6% of a normal(750, 50)'s mean)
        lb, ub = max(lo, float(f.ppf(1e-15))), min(hi, float(f.isf(1e-15)))
        return float(f.expect(lb=lb, ub=ub, conditional=True))

    def _untruncated_mean(self) -> float:
        """Mean of the untruncated distribution by its closed form [unit of the field]
        (``frozen().mean()`` to within 1e-12 relative: tests/test_distributions.py)."""
        raise NotImplementedError

    def mass_outside(self, lo: float, hi: float) -> float:
        """Probability mass of the untruncated distribution outside [lo, hi]."""
        f = self.frozen()
        return float(f.cdf(lo) + f.sf(hi))

    def scipy_form(self) -> tuple:  # pragma: no cover - every subclass overrides
        """``(dist, shapes, loc, scale)``: the scipy distribution and its parameters (the one definition)."""
        raise NotImplementedError

    def frozen(self):
        """The scipy frozen distribution, ``dist(*shapes, loc=loc, scale=scale)`` of :meth:`scipy_form`."""
        dist, shapes, loc, scale = self.scipy_form()
        return dist(*shapes, loc=loc, scale=scale)

    def describe(self) -> str:
        params = self.model_dump(exclude={"source", "dist", "bounds"}, exclude_none=True)
        inner = ", ".join(f"{k}={_fmt(v)}" for k, v in params.items())
        return f"{self.dist}({inner})"


def _fmt(v: float) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


class Fixed(_Spec):
    """A known value."""

    dist: Literal["fixed"] = "fixed"
    value: float = Field(description="The value, in the unit of the field.")

    @property
    def is_fixed(self) -> bool:
        return True

    def support(self):
        return (self.value, self.value)

    def mean(self) -> float:
        return float(self.value)

    def scipy_form(self) -> tuple:
        from scipy import stats

        return stats.uniform, (), self.value, 0.0

    def describe(self) -> str:
        return _fmt(float(self.value))


class Beta(_Spec):
    """Beta distribution on [low, high] (default [0, 1]), by mean/sd or alpha/beta."""

    dist: Literal["beta"]
    mean_: float | None = Field(None, alias="mean")
    sd: float | None = None
    alpha: float | None = None
    beta: float | None = None
    low: float = 0.0
    high: float = 1.0
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _check(self):
        if self.high <= self.low:
            raise ValueError(f"beta needs low < high; given low={self.low}, high={self.high}")
        by_moments = self.mean_ is not None or self.sd is not None
        by_shape = self.alpha is not None or self.beta is not None
        if by_moments == by_shape:
            raise ValueError("beta needs either mean and sd, or alpha and beta (not both)")
        if by_moments:
            if self.mean_ is None or self.sd is None:
                raise ValueError("beta needs both mean and sd")
            m = (self.mean_ - self.low) / (self.high - self.low)
            s = self.sd / (self.high - self.low)
            if not 0.0 < m < 1.0:
                raise ValueError(
                    f"beta mean must lie strictly inside ({self.low:g}, {self.high:g}); given {self.mean_}"
                )
            if not 0.0 < s * s < m * (1.0 - m):
                limit = math.sqrt(m * (1 - m)) * (self.high - self.low)
                raise ValueError(
                    f"beta sd must be > 0 and < sqrt(mean*(1-mean)) = {limit:.4g} "
                    f"for mean {self.mean_}; given {self.sd}"
                )
        else:
            if self.alpha is None or self.beta is None:
                raise ValueError("beta needs both alpha and beta")
            if self.alpha <= 0 or self.beta <= 0:
                raise ValueError(f"beta alpha and beta must be > 0; given alpha={self.alpha}, beta={self.beta}")
        return self

    def shape_params(self) -> tuple[float, float]:
        if self.alpha is not None:
            return float(self.alpha), float(self.beta)
        m = (self.mean_ - self.low) / (self.high - self.low)
        s = self.sd / (self.high - self.low)
        k = m * (1 - m) / (s * s) - 1.0
        return m * k, (1 - m) * k

    def support(self):
        return (self.low, self.high)

    def scipy_form(self) -> tuple:
        from scipy import stats

        return stats.beta, self.shape_params(), self.low, self.high - self.low

    def _untruncated_mean(self) -> float:
        a, b = self.shape_params()
        return a / (a + b) * (self.high - self.low) + self.low

    def describe(self) -> str:
        a, b = self.shape_params()
        return f"beta(mean={_fmt(self.mean())}, alpha={a:.4g}, beta={b:.4g})"


class Normal(_Spec):
    """Normal distribution, truncated to the allowed range of its field."""

    dist: Literal["normal"]
    mean_: float = Field(alias="mean")
    sd: float = Field(gt=0)
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def support(self):
        return (-math.inf, math.inf)

    def scipy_form(self) -> tuple:
        from scipy import stats

        return stats.norm, (), self.mean_, self.sd

    def _untruncated_mean(self) -> float:
        return float(self.mean_)

    def mass_outside(self, lo: float, hi: float) -> float:
        from scipy.special import ndtr  # the standard normal cdf

        # P(X < lo) + P(X > hi) = Phi((lo - mean) / sd) + Phi(-(hi - mean) / sd)

        return float(ndtr((lo - self.mean_) / self.sd) + ndtr(-((hi - self.mean_) / self.sd)))

    def describe(self) -> str:
        return f"normal(mean={_fmt(self.mean_)}, sd={_fmt(self.sd)})"


class LogNormal(_Spec):
    """Log-normal distribution, by median and sigma (of the log) or by mean and sd."""

    dist: Literal["lognormal"]
    median: float | None = Field(None, gt=0)
    sigma: float | None = Field(None, gt=0)
    mean_: float | None = Field(None, alias="mean", gt=0)
    sd: float | None = Field(None, gt=0)
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _check(self):
        a = self.median is not None and self.sigma is not None
        b = self.mean_ is not None and self.sd is not None
        if a == b or (self.median is None) != (self.sigma is None) or (self.mean_ is None) != (self.sd is None):
            raise ValueError("lognormal needs either median and sigma, or mean and sd (all > 0)")
        return self

    def log_params(self) -> tuple[float, float]:
        if self.median is not None:
            return math.log(self.median), float(self.sigma)
        s2 = math.log1p((self.sd / self.mean_) ** 2)
        return math.log(self.mean_) - s2 / 2, math.sqrt(s2)

    def support(self):
        return (0.0, math.inf)

    def describe(self) -> str:
        mu, s = self.log_params()
        return f"lognormal(median={math.exp(mu):.6g}, sigma={s:.4g})"

    def scipy_form(self) -> tuple:
        from scipy import stats

        mu, s = self.log_params()
        return stats.lognorm, (s,), 0, math.exp(mu)

    def _untruncated_mean(self) -> float:
        import numpy as np  # np.exp keeps the figure earlier versions gave; math.exp may differ in the last bit

        mu, s = self.log_params()
        return float(np.sqrt(np.exp(s * s))) * math.exp(mu)  # E[X] = median * sqrt(exp(sigma^2))

    def mass_outside(self, lo: float, hi: float) -> float:
        # P(X < x) = Phi(ln(x / median) / sigma), 0 at x <= 0 and 1 at x = inf
        import numpy as np
        from scipy.special import ndtr

        mu, s = self.log_params()
        scale = math.exp(mu)

        def below(x: float) -> float:
            z = x / scale
            return 0.0 if z <= 0.0 else 1.0 if z == math.inf else float(ndtr(np.log(z) / s))

        def above(x: float) -> float:
            z = x / scale
            return 1.0 if z <= 0.0 else 0.0 if z == math.inf else float(ndtr(-(np.log(z) / s)))

        return below(lo) + above(hi)


class Triangular(_Spec):
    """Triangular distribution on [low, high] with its mode."""

    dist: Literal["triangular"]
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _check(self):
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError(
                f"{self.dist} needs low <= mode <= high and low < high; "
                f"given low={self.low}, mode={self.mode}, high={self.high}"
            )
        return self

    def support(self):
        return (self.low, self.high)

    def scipy_form(self) -> tuple:
        from scipy import stats

        w = self.high - self.low
        return stats.triang, ((self.mode - self.low) / w,), self.low, w

    def _untruncated_mean(self) -> float:
        w = self.high - self.low
        return ((self.mode - self.low) / w + 1.0) / 3.0 * w + self.low


class Pert(Triangular):
    """Beta-PERT distribution on [low, high] with its mode (lambda = 4)."""

    dist: Literal["pert"]

    def _shape_params(self) -> tuple[float, float]:
        w = self.high - self.low
        return 1 + 4 * (self.mode - self.low) / w, 1 + 4 * (self.high - self.mode) / w

    def scipy_form(self) -> tuple:
        from scipy import stats

        return stats.beta, self._shape_params(), self.low, self.high - self.low

    def _untruncated_mean(self) -> float:
        a, b = self._shape_params()
        return a / (a + b) * (self.high - self.low) + self.low


class Uniform(_Spec):
    """Uniform distribution on [low, high]."""

    dist: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _check(self):
        if not self.low < self.high:
            raise ValueError(f"uniform needs low < high; given low={self.low}, high={self.high}")
        return self

    def support(self):
        return (self.low, self.high)

    def scipy_form(self) -> tuple:
        from scipy import stats

        return stats.uniform, (), self.low, self.high - self.low

    def _untruncated_mean(self) -> float:
        return 0.5 * (self.high - self.low) + self.low


DIST_NAMES = ("fixed", "beta", "normal", "lognormal", "triangular", "pert", "uniform")

_Dist = Annotated[
    Fixed | Beta | Normal | LogNormal | Triangular | Pert | Uniform,
    Field(discriminator="dist"),
]


def _coerce(value: Any) -> Any:
    """Plain numbers and ``{value: x, source: s}`` become ``fixed`` specs."""
    if isinstance(value, bool):
        raise ValueError(
            "expected a number, {value: ..., source: ...} or a distribution {dist: ..., ...}, not true/false"
        )
    if isinstance(value, (int, float)):
        return {"dist": "fixed", "value": value}
    if isinstance(value, dict) and "dist" not in value and "value" in value:
        return {"dist": "fixed", **value}
    if isinstance(value, dict) and "dist" in value and value["dist"] not in DIST_NAMES:
        raise ValueError(f"unknown distribution {value['dist']!r}; allowed: {', '.join(DIST_NAMES)}")
    if isinstance(value, dict) and "bounds" in value:
        raise ValueError("bounds is not a scenario key: the truncation range comes from the field's allowed range")
    if isinstance(value, dict) and "dist" not in value:
        raise ValueError(f"a distribution needs dist: (one of {', '.join(DIST_NAMES)}); a known value needs value:")
    if not isinstance(value, (dict, BaseModel)):
        hint = ""
        if isinstance(value, str):
            try:
                float(value)
                hint = " (YAML reads 4.5e6 as text: write 4500000 or 4.5e+6)"
            except ValueError:
                pass
        raise ValueError(
            f"expected a number, {{value: ..., source: ...}} or a distribution {{dist: ..., ...}}, "
            f"not {type(value).__name__}{hint}"
        )
    return value


def _within(lo: float, hi: float, lo_open: bool, hi_open: bool, integer: bool = False):
    """Build the check that a spec's support lies inside the field's range."""

    def rng() -> str:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        return f"{left}{_fmt(float(lo))}, {_fmt(float(hi))}{right}"

    def inside(x: float) -> bool:
        if math.isnan(x):
            return False
        low_ok = x > lo if lo_open else x >= lo
        high_ok = x < hi if hi_open else x <= hi
        return low_ok and high_ok

    def check(spec: _Spec) -> _Spec:
        if isinstance(spec, Fixed):
            v = spec.value
            if not inside(v):
                raise ValueError(f"value must lie in {rng()}")
            if integer and v != int(v):
                raise ValueError("value must be a whole number")
            return spec
        s_lo, s_hi = spec.support()
        if s_lo >= lo and s_hi <= hi:
            # a continuous distribution may touch an open bound: it has zero mass there
            return spec
        if isinstance(spec, (Normal, LogNormal)):
            if isinstance(spec, Normal) and not (lo < spec.mean_ < hi):
                raise ValueError(f"normal mean must lie in {rng()}; given {spec.mean_}")
            outside = spec.mass_outside(lo, hi)
            if s_lo >= lo and hi == MAX_MAGNITUDE and outside < NEGLIGIBLE_MASS:
                return spec  # the ceiling on magnitudes cuts off nothing that a run could draw: no truncation
            if outside > MAX_TRUNCATED_MASS:
                raise ValueError(
                    f"{spec.dist} spread is not feasible: "
                    f"{outside:.1%} of the mass falls outside the allowed range {rng()} "
                    f"(at most {MAX_TRUNCATED_MASS:.0%}); reduce the sd/sigma"
                )
            return spec.model_copy(update={"bounds": (max(float(lo), s_lo), min(float(hi), s_hi))})
        raise ValueError(
            f"{spec.dist} support [{_fmt(float(s_lo))}, {_fmt(float(s_hi))}] must lie in the allowed range {rng()}"
        )

    return check


def quantity(
    lo: float = -math.inf,
    hi: float = math.inf,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    integer: bool = False,
):
    """Annotated type for an uncertain number whose values must lie in a range.

    Parameters
    ----------
    lo, hi : float
        Allowed range of the field.
    lo_open, hi_open : bool
        Whether the bound itself is excluded.
    integer : bool
        Whether a fixed value must be a whole number.
    """
    return Annotated[
        _Dist,
        BeforeValidator(_coerce),
        AfterValidator(_within(lo, hi, lo_open, hi_open, integer)),
    ]


# Ready-made ranges used across the schema.
Probability = quantity(0.0, 1.0)
OpenProbability = quantity(0.0, 1.0, lo_open=True, hi_open=True)
# no number above MAX_MAGNITUDE: sums of a trillion pounds over young people, weeks and draws stay finite
NonNegative = quantity(0.0, MAX_MAGNITUDE)
Positive = quantity(0.0, MAX_MAGNITUDE, lo_open=True)
Share = quantity(0.0, 1.0)

Spec = Fixed | Beta | Normal | LogNormal | Triangular | Pert | Uniform
