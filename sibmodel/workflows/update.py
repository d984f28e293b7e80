"""Re-forecast a live contract from its actuals (``sibmodel update``).

Method (written up in ``docs/design-notes.md``): approximate Bayesian computation on a few
aggregates, by importance weighting of a prior sample, then resampling.

1. A prior sample of whole draws is simulated with each draw's history by borough and quarter
   (:func:`sibmodel.engine.history.run_draws_with_history`, only on request).
2. Each draw is summarised through the last observed quarter ``T`` by :data:`STATISTICS`
   (cumulative starts, weeks out of care and payments, and weeks out of care in quarter ``T``:
   the state of the young people still tracked), whitened by the prior sample's covariance.
3. A draw's weight is a Gaussian kernel of its distance to the actuals' statistics; the
   bandwidth is the smallest that keeps the effective sample size at :func:`target_ess`.
4. ``draws`` posterior draws are resampled (systematic resampling) and the observed past is
   carried as observed: each resampled draw keeps only its future (quarters after ``T``);
   its payments for quarters up to ``T`` are the actuals', its caps and top-up are re-applied
   from the observed amounts, and every figure that depends on payments (the investor's
   cash flows, each borough's payments and net savings) is recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sibmodel.contract.payments import cap_in_time_order, in_arrears
from sibmodel.engine.chunk import DEFAULT_CHUNK_SIZE, year_offset
from sibmodel.engine.history import History, quarter_labels, run_draws_with_history
from sibmodel.engine.run import chunk_sizes
from sibmodel.model import finance
from sibmodel.model.philox import key_of, uniform_pairs
from sibmodel.outputs import (
    BOROUGH_PAID_GBP,
    CAPITAL_OUTSTANDING_GBP,
    CARE_COSTS_AVOIDED_GBP,
    COMMISSIONER_CARE_COSTS_AVOIDED_GBP,
    COMMISSIONER_NET_SAVINGS_GBP,
    COMMISSIONER_OUTCOME_PAYMENTS_GBP,
    COST_PER_FAMILY_GBP,
    DELIVERY_COSTS_GBP,
    DRAW,
    INVESTOR_NET_CASHFLOW_GBP,
    NET_SAVINGS_GBP,
    OUTCOME_PAYMENTS_GBP,
    STARTS,
    TOPUP_PAID_GBP,
    TRACKED_WEEKS,
    WEEKS_OUT_OF_CARE,
    WEEKS_OUT_OF_CARE_PER_START,
)
from sibmodel.workflows.actuals import Actuals, ActualsError
from sibmodel.workflows.baseline import input_per_draw

#: The aggregates the posterior is conditioned on, through the last observed quarter.
STATISTICS = (
    "starts, cumulative",
    "weeks out of care, cumulative",
    "outcome payments, cumulative [GBP]",
    "weeks out of care in the last observed quarter",
)

#: Below this effective sample size even at the widest bandwidth, ``update`` refuses (exit code 2) [draws].
MIN_ESS = 50

#: Widest kernel bandwidth, in prior standard deviations of the whitened statistics.
MAX_BANDWIDTH = 3.0

METHOD = (
    "ABC importance sampling: Gaussian kernel on whitened aggregates (cumulative starts, weeks out of care and "
    "payments, and weeks out of care in the last observed quarter), bandwidth set for the target effective sample "
    "size, systematic resampling; observed past carried as observed, caps and top-up re-applied"
)


def target_ess(n_prior: int) -> float:
    """Effective sample size the bandwidth is chosen for [draws].

    A fifth of the prior sample, at least :data:`MIN_ESS`.
    """
    return max(float(MIN_ESS), n_prior / 5.0)


@dataclass
class PriorSample:
    """A prior sample with each draw's history (everything a posterior is resampled from).

    ``columns`` per-draw figures (M rows), ``series`` quarterly series (M, Qc), ``history`` the
    :class:`~sibmodel.engine.history.History` of every draw, ``occupancy_sum`` weekly occupancy
    summed over draws, ``meta`` the run's metadata.
    """

    columns: pd.DataFrame
    series: dict
    history: History
    occupancy_sum: dict
    meta: dict

    @property
    def n_draws(self) -> int:
        return len(self.columns)


def simulate_prior(s, draws: int, seed: int | None, chunk_size: int = DEFAULT_CHUNK_SIZE) -> PriorSample:
    """Simulate ``draws`` prior draws in this process, with their histories (the same draws as ``simulate``)."""
    import time

    from sibmodel.results.run import OccupancySum, run_meta

    t0 = time.perf_counter()
    entropy = np.random.SeedSequence(seed).entropy
    cols, series, values, topup, occ = [], {}, [], [], OccupancySum()
    first = 0
    for k, n in enumerate(chunk_sizes(draws, chunk_size)):
        res, hist = run_draws_with_history(s, entropy, np.arange(first, first + n), draws, k)
        first += n
        cols.append(pd.DataFrame(res.columns))
        for name, arr in res.series.items():
            series.setdefault(name, []).append(arr)
        values.append(hist.values)
        topup.append(hist.topup)
        occ.add(res.occupancy_sum)
    frame = pd.concat(cols, ignore_index=True)
    frame.insert(0, DRAW, np.arange(draws, dtype=np.int64))
    meta = run_meta(
        s, draws, entropy=entropy, seed=seed, chunk_size=chunk_size, elapsed_s=time.perf_counter() - t0, workers=1
    )
    return PriorSample(
        frame,
        {k: np.concatenate(v) for k, v in series.items()},
        History(np.concatenate(values), np.concatenate(topup)),
        occ.total,
        meta,
    )


def statistics(values: np.ndarray, through: int) -> np.ndarray:
    """:data:`STATISTICS` of histories ``values`` (..., 3, B, Q) through quarter ``through``, shape (..., 4)."""
    past = values[..., : through + 1].sum(axis=(-2, -1))  # (..., 3)
    last = values[..., 1, :, through].sum(axis=-1)
    return np.concatenate([past, last[..., None]], axis=-1)


def _whiten(prior_stats: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prior and observed statistics in coordinates where the prior sample's covariance is the identity
    (directions with no prior variance, such as payments exactly proportional to weeks, are dropped)."""
    mean = prior_stats.mean(axis=0)
    sd = prior_stats.std(axis=0)
    keep = sd > 0
    z = (prior_stats[:, keep] - mean[keep]) / sd[keep]
    zo = (observed[keep] - mean[keep]) / sd[keep]
    if z.shape[1] == 0:
        return z, zo
    w, v = np.linalg.eigh(np.cov(z, rowvar=False).reshape(z.shape[1], z.shape[1]))
    ok = w > 1e-8 * w.max()
    basis = v[:, ok] / np.sqrt(w[ok])
    return z @ basis, zo @ basis


def ess(weights: np.ndarray) -> float:
    """Effective sample size ``(sum w)^2 / sum w^2`` [draws]."""
    return float(weights.sum() ** 2 / np.square(weights).sum())


def kernel_weights(prior_stats: np.ndarray, observed: np.ndarray, target: float) -> tuple[np.ndarray, float, float]:
    """Normalised ABC weights, the bandwidth and the effective sample size.

    The bandwidth ``h`` [prior standard deviations] is the smallest in ``(0, MAX_BANDWIDTH]`` with
    ESS >= ``target`` (bisection on ``log h``; ESS grows with ``h``).

    Raises
    ------
    ActualsError
        Even at :data:`MAX_BANDWIDTH` the ESS is below :data:`MIN_ESS`: the actuals are far from
        anything the scenario produces.
    """
    z, zo = _whiten(prior_stats, observed)
    d2 = np.square(z - zo).sum(axis=1)

    def weights_at(h):
        logw = -0.5 * d2 / h**2
        w = np.exp(logw - logw.max())
        return w / w.sum()

    lo, hi = np.log(1e-3), np.log(MAX_BANDWIDTH)
    if ess(weights_at(np.exp(hi))) < target:
        h = MAX_BANDWIDTH
    else:
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if ess(weights_at(np.exp(mid))) < target else (lo, mid)
        h = float(np.exp(hi))
    w = weights_at(h)
    e = ess(w)
    if e < MIN_ESS:
        raise ActualsError.one(
            f"the actuals are far from anything the scenario produces: effective sample size {e:.0f} of "
            f"{len(w)} prior draws "
            f"at the widest bandwidth (at least {MIN_ESS} needed); check the file, or the scenario's assumptions",
            path="",
        )
    return w, h, e


def systematic_resample(weights: np.ndarray, n: int, offset: float) -> np.ndarray:
    """``n`` indices drawn in proportion to ``weights`` by systematic resampling (sorted).

    ``offset`` is the one uniform in [0, 1) that places the ``n`` evenly spaced positions."""
    positions = (offset + np.arange(n)) / n
    return np.minimum(np.searchsorted(np.cumsum(weights), positions), len(weights) - 1)


def condition(prior: PriorSample, actuals: Actuals, draws: int) -> tuple[np.ndarray, float, float, np.ndarray]:
    """Weights of the prior draws given the actuals, the bandwidth, the ESS, and ``draws`` resampled prior draws."""
    t = actuals.through
    w, h, e = kernel_weights(
        statistics(prior.history.values, t), statistics(actuals.values, t), target_ess(prior.n_draws)
    )
    offset = float(uniform_pairs(key_of(int(prior.meta["seed_entropy"]), "update:resample"), 0)[0])
    idx = systematic_resample(w, draws, offset)
    return w, h, e, idx


def _spliced_history(s, prior: PriorSample, idx: np.ndarray, actuals: Actuals) -> tuple[np.ndarray, np.ndarray]:
    """Resampled histories with the observed past in place of each draw's own, shape (N, 3, B, Q), and the
    payments' top-up (N, B, Q) [GBP].  The future's payments are capped again against the observed past
    (per-borough cap, then the total cap: what the past used is no longer available) and the top-up is
    re-applied to the whole series in time order, as the contract does."""
    from sibmodel.contract.payments import share_capped_total

    t = actuals.through
    hist = prior.history.values[idx].copy()
    hist[:, :, :, : t + 1] = actuals.values[None, :, :, : t + 1]
    past_paid = actuals.values[2, :, : t + 1].sum(axis=1)  # (B,)
    future = hist[:, 2, :, t + 1 :]
    caps = s.contract.caps
    if caps.per_borough_gbp is not None:
        future = cap_in_time_order(
            future, np.broadcast_to(np.maximum(caps.per_borough_gbp - past_paid, 0.0), future.shape[:2])
        )
    if caps.total_gbp is not None:
        future = share_capped_total(future, max(caps.total_gbp - past_paid.sum(), 0.0))
    hist[:, 2, :, t + 1 :] = future
    tu = s.contract.topup
    return hist, share_capped_total(hist[:, 2] * tu.share, tu.max_gbp)


def posterior_draws(s, prior: PriorSample, idx: np.ndarray, actuals: Actuals) -> tuple[pd.DataFrame, dict, np.ndarray]:
    """The posterior's per-draw table and series: the resampled prior draws, with the observed past
    carried as observed and every payment-dependent figure recomputed; and the spliced histories."""
    hist, topup = _spliced_history(s, prior, idx, actuals)
    frame = prior.columns.iloc[idx].reset_index(drop=True)
    frame[DRAW] = np.arange(len(idx), dtype=np.int64)
    lag = s.contract.payment_lag_quarters
    paid, topup_paid = in_arrears(hist[:, 2], lag), in_arrears(topup, lag)
    n_cash = paid.shape[2]
    starts = hist[:, 0].sum(axis=2)  # (N, B)
    weeks = hist[:, 1].sum(axis=(1, 2))
    frame[STARTS] = starts.sum(axis=1)
    frame[WEEKS_OUT_OF_CARE] = frame["weeks_home_treated"] = weeks
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["time_at_home_share_treated"] = np.where(frame[TRACKED_WEEKS] > 0, weeks / frame[TRACKED_WEEKS], np.nan)
        frame[WEEKS_OUT_OF_CARE_PER_START] = np.where(frame[STARTS] > 0, weeks / frame[STARTS], np.nan)
    frame[OUTCOME_PAYMENTS_GBP] = paid.sum(axis=(1, 2))
    frame[TOPUP_PAID_GBP] = topup_paid.sum(axis=(1, 2))
    frame[BOROUGH_PAID_GBP] = frame[OUTCOME_PAYMENTS_GBP] - frame[TOPUP_PAID_GBP]
    with np.errstate(invalid="ignore", divide="ignore"):
        frame[COST_PER_FAMILY_GBP] = np.where(frame[STARTS] > 0, frame[OUTCOME_PAYMENTS_GBP] / frame[STARTS], np.nan)
    disc = s.discounting
    schedule = (
        None
        if disc.declining_schedule is None
        else [(st.from_year, st.real_rate_annual) for st in disc.declining_schedule]
    )
    paid_disc = (
        (paid - topup_paid) * finance.discount_factors(n_cash, disc.real_rate_annual, schedule, year_offset(s))
    ).sum(axis=2)
    for bi, bn in enumerate(s.boroughs):
        pre = f"borough.{bn}."
        frame[pre + STARTS] = starts[:, bi]
        frame[pre + OUTCOME_PAYMENTS_GBP] = paid_disc[:, bi]
        frame[pre + NET_SAVINGS_GBP] = frame[pre + CARE_COSTS_AVOIDED_GBP] - paid_disc[:, bi]
    frame[COMMISSIONER_OUTCOME_PAYMENTS_GBP] = paid_disc.sum(axis=1)
    frame[COMMISSIONER_NET_SAVINGS_GBP] = (
        frame[COMMISSIONER_CARE_COSTS_AVOIDED_GBP] - frame[COMMISSIONER_OUTCOME_PAYMENTS_GBP]
    )
    costs = prior.series[DELIVERY_COSTS_GBP][idx]
    dist = s.investment.distribution
    inv = finance.investor_waterfall(
        paid.sum(axis=1),
        costs,
        input_per_draw(s, frame, "investment.commitment_gbp"),
        dist.policy,
        dist.return_cap_multiple,
        dist.surplus_share_to_investor,
    )
    for name, value in inv.columns().items():
        frame["investor_" + name] = value
    series = {
        OUTCOME_PAYMENTS_GBP: paid.sum(axis=1),
        DELIVERY_COSTS_GBP: costs,
        INVESTOR_NET_CASHFLOW_GBP: inv.net_cashflow,
        CAPITAL_OUTSTANDING_GBP: inv.capital_outstanding,
    }
    return frame, series, hist


def _bands(cumulative: np.ndarray) -> dict:
    """5th, 50th and 95th percentiles over draws of (N, Q) values, per quarter."""
    p5, p50, p95 = np.percentile(cumulative, [5, 50, 95], axis=0)
    return {"p5": p5.tolist(), "p50": p50.tolist(), "p95": p95.tolist()}


@dataclass
class Update:
    """A re-forecast: the prior and posterior runs and how one was made from the other.

    ``weights`` the prior draws' normalised weights, ``indices`` the prior draw behind each
    posterior draw, ``bandwidth`` the kernel's [prior standard deviations], ``ess`` the
    effective sample size [draws], ``fan`` cumulative outcome payments by quarter of
    achievement (prior and posterior bands, the observed values) [GBP].
    """

    prior: object
    posterior: object
    actuals: Actuals
    weights: np.ndarray
    indices: np.ndarray
    bandwidth: float
    ess: float
    fan: dict

    def record(self) -> dict:
        """What ``update.json`` holds."""
        s = self.posterior.scenario
        return {
            "observed_through": self.actuals.through_label(s),
            "n_rows": self.actuals.n_rows,
            "actuals_file": self.actuals.source,
            "method": METHOD,
            "statistics": list(STATISTICS),
            "effective_sample_size": self.ess,
            "prior_draws": int(len(self.weights)),
            "posterior_draws": int(len(self.indices)),
            "distinct_prior_draws": int(len(np.unique(self.indices))),
            "target_effective_sample_size": target_ess(len(self.weights)),
            "min_effective_sample_size": MIN_ESS,
            "bandwidth_sd": self.bandwidth,
            "observed": {
                STARTS: float(self.actuals.values[0].sum()),
                WEEKS_OUT_OF_CARE: float(self.actuals.values[1].sum()),
                OUTCOME_PAYMENTS_GBP: float(self.actuals.values[2].sum()),
            },
            "fan": self.fan,
            "prior": self.prior.summary(),
            "posterior": self.posterior.summary(),
        }


def update(
    s,
    actuals: Actuals,
    draws: int = 2000,
    seed: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    prior: PriorSample | None = None,
) -> Update:
    """Condition ``s`` on ``actuals`` and re-forecast the rest of the contract (see the module docstring).

    Parameters
    ----------
    s : Scenario
    actuals : Actuals
        From :func:`sibmodel.workflows.actuals.read_actuals`.
    draws : int
        Prior draws simulated, and posterior draws resampled.
    seed : int, optional
        Root seed (``None``: fresh entropy, recorded).
    chunk_size : int
    prior : PriorSample, optional
        A prior sample already simulated for ``s`` (reused by the calibration study).

    Returns
    -------
    Update
    """
    from sibmodel.results.run import Results

    if prior is None:
        prior = simulate_prior(s, draws, seed, chunk_size)
    t = actuals.through
    w, h, e, idx = condition(prior, actuals, draws)
    frame, series, hist = posterior_draws(s, prior, idx, actuals)
    occ = {arm: o / prior.n_draws for arm, o in prior.occupancy_sum.items()}
    prior_run = Results(s, draws=prior.columns, series=prior.series, meta=dict(prior.meta), occupancy_mean=occ)
    meta = {
        **prior.meta,
        "draws": int(draws),
        "update": {"observed_through": actuals.through_label(s), "prior_draws": prior.n_draws},
    }
    post_run = Results(s, draws=frame, series=series, meta=meta, occupancy_mean=occ)
    observed = np.cumsum(actuals.values[2].sum(axis=0))[: t + 1]
    fan = {
        "quarters": quarter_labels(s),
        "prior": _bands(np.cumsum(prior.history.values[:, 2].sum(axis=1), axis=1)),
        "posterior": _bands(np.cumsum(hist[:, 2].sum(axis=1), axis=1)),
        "observed": observed.tolist(),
    }
    return Update(prior_run, post_run, actuals, w, idx, h, e, fan)


def calibration_study(
    s, n_truths: int, through: int, draws: int, seed: int, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> pd.DataFrame:
    """Simulation-based calibration: ``n_truths`` draws of the model are taken as the truth, their actuals
    through quarter ``through`` are conditioned on, and the posterior's 90% interval of total outcome
    payments is set against the truth's total.

    The prior sample (``draws`` draws, ``seed``) is shared by every truth; the truths come from seed
    ``seed + 1`` (a different stream, so no truth is in the prior sample).

    Returns
    -------
    DataFrame
        One row per truth: ``truth_gbp``, the prior's and the posterior's ``p5``/``p95`` [GBP],
        ``covered`` (the truth in the posterior's 5-95% interval), ``width_ratio``
        (posterior over prior 90% width) and ``ess`` [draws].
    """
    prior = simulate_prior(s, draws, seed, chunk_size)
    truths = simulate_prior(s, n_truths, seed + 1, chunk_size)
    prior_p5, prior_p95 = np.percentile(prior.columns[OUTCOME_PAYMENTS_GBP], [5, 95])
    rows = []
    for i in range(n_truths):
        values = truths.history.values[i].copy()
        values[:, :, through + 1 :] = 0.0
        act = Actuals(values, through, 0, f"truth {i}")
        _, _, e, idx = condition(prior, act, draws)
        frame, _, _ = posterior_draws(s, prior, idx, act)
        p5, p95 = np.percentile(frame[OUTCOME_PAYMENTS_GBP], [5, 95])
        truth = float(truths.columns[OUTCOME_PAYMENTS_GBP].iloc[i])
        rows.append(
            {
                "truth_gbp": truth,
                "prior_p5": prior_p5,
                "prior_p95": prior_p95,
                "p5": p5,
                "p95": p95,
                "covered": bool(p5 <= truth <= p95),
                "width_ratio": (p95 - p5) / (prior_p95 - prior_p5),
                "ess": e,
            }
        )
    return pd.DataFrame(rows)
