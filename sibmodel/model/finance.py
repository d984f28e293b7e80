"""Money over time: discounting, IRR, the investor waterfall and risk metrics.

Pure, vectorised numpy over draws.  Cashflows are by model quarter
``q = 0 .. Q-1`` (13 weeks each) and occur at the *end* of the quarter; arrays
are shaped ``(draws, quarters)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

#: Bracket of the quarterly IRR search [1/quarter].
IRR_LOW, IRR_HIGH = -0.9999, 10.0
#: Grid of quarterly rates scanned for sign changes of NPV, uniform in log(1 + r), with 0 on it.
IRR_GRID = np.unique(np.concatenate([np.expm1(np.linspace(np.log1p(IRR_LOW), np.log1p(IRR_HIGH), 400)), [0.0]]))


def discount_factors(
    n_quarters: int, real_rate_annual: float, declining_schedule=None, start_year_offset: float = 0.0
) -> np.ndarray:
    """Discount factors to the start of the price year for end-of-quarter flows.

    Parameters
    ----------
    n_quarters : int
        Number of quarters.
    real_rate_annual : float
        Real discount rate [1/year] (Green Book: 0.035).
    declining_schedule : list of (from_year, rate), optional
        Piecewise rates by years after the price-year start (Green Book: 3.5% for
        years 0-30, 3.0% from 31); overrides ``real_rate_annual``.
    start_year_offset : float
        Years from the start of the price year to the start of quarter 0 [years].

    Returns
    -------
    ndarray, shape (n_quarters,)
        ``1 / prod (1 + r_y)^dt`` over the years up to each flow [ratio].
    """
    t = start_year_offset + (np.arange(n_quarters) + 1) / 4.0  # years from price-year start
    steps = list(declining_schedule) if declining_schedule else [(0, real_rate_annual)]
    log_df = np.zeros(n_quarters)
    for i, (from_year, rate) in enumerate(steps):
        to_year = steps[i + 1][0] if i + 1 < len(steps) else np.inf
        years_in = np.clip(t, from_year, to_year) - from_year
        log_df -= years_in * np.log1p(rate)
    return np.exp(log_df)


def npv(rate: np.ndarray, flows: np.ndarray) -> np.ndarray:
    """Net present value at per-draw quarterly rates of (D, Q) flows (first flow undiscounted)."""
    q = np.arange(flows.shape[1])
    return (flows * (1.0 + rate[:, None]) ** (-q[None, :])).sum(axis=1)


@dataclass(frozen=True)
class IRR:
    """IRR of each draw.

    Parameters
    ----------
    quarterly : ndarray (D,)
        Quarterly IRR [1/quarter]; NaN where flows have no sign change.
    annual : ndarray (D,)
        ``(1 + quarterly)^4 - 1`` [1/year].
    total_loss : ndarray of bool (D,)
        Money went in and nothing ever came back.
    """

    quarterly: np.ndarray
    annual: np.ndarray
    total_loss: np.ndarray


def annualise(r_quarterly: np.ndarray) -> np.ndarray:
    """``(1 + r)^4 - 1``: a quarterly rate as an annual one."""
    return (1.0 + np.asarray(r_quarterly)) ** 4 - 1.0


def irr(flows: np.ndarray, tol: float = 1e-12, max_iter: int = 200) -> IRR:
    """Internal rate of return of each row of quarterly flows, by bisection.

    The root is searched in ``(-0.9999, 10)`` per quarter.  Rows with no sign
    change have no IRR (NaN); rows where money went in and nothing came back
    are also flagged ``total_loss`` (their IRR is -100%, reported as NaN plus the
    flag).  NPV(r) is evaluated on a grid over the bracket; among the grid
    intervals where it changes sign, the one nearest r = 0 is refined by
    bisection.  For the usual investor profile (money in, then money out) the
    root is unique; with several sign changes of the flows NPV may have several
    roots, and the one nearest zero is returned, as ``numpy_financial.irr``
    does (the tests compare the two on thousands of rows).

    The grid is scanned outwards from r = 0 and only until the nearest sign
    change (:func:`_irr_kernel`, compiled); every row is bisected the same
    number of times, until all rows are within ``tol``.  The result is the same,
    bit for bit, as evaluating NPV on the whole grid and bisecting all rows in
    numpy (kept in tests/test_finance.py as the reference).

    Parameters
    ----------
    flows : ndarray, shape (D, Q)
        Investor flows [GBP]; negative = paid in.
    """
    flows = np.atleast_2d(np.asarray(flows, dtype=float))
    n = flows.shape[0]
    has_neg = (flows < 0).any(axis=1)
    has_pos = (flows > 0).any(axis=1)
    valid = has_neg & has_pos
    total_loss = has_neg & ~has_pos
    out = np.full(n, np.nan)
    if valid.any():
        f_t = np.ascontiguousarray(flows[valid].T)  # (Q, m): one quarter's flows of every row side by side
        out[valid] = _irr_kernel(f_t, IRR_GRID, _IRR_SCAN, float(tol), int(max_iter))
    return IRR(out, annualise(out), total_loss)


def _grid_scan_order(grid: np.ndarray) -> np.ndarray:
    """Grid intervals ``[g_k, g_k+1]`` by distance to r = 0 (0 for those containing it), ties by ``k``."""
    g_lo, g_hi = grid[:-1], grid[1:]
    gap = np.where((g_lo <= 0) & (g_hi >= 0), 0.0, np.minimum(np.abs(g_lo), np.abs(g_hi)))
    return np.argsort(gap, kind="stable")


#: Order in which :func:`_irr_kernel` looks for the sign change nearest zero.
_IRR_SCAN = _grid_scan_order(IRR_GRID)


@njit(cache=True, error_model="numpy", nogil=True)
def _sign(x):  # pragma: no cover - compiled
    """``np.sign`` of a float: -1, 0, 1, or NaN for NaN."""
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    if x == 0.0:
        return 0.0
    return np.nan


@njit(cache=True, error_model="numpy", nogil=True)
def _irr_kernel(f_t, grid, scan, tol, max_iter):  # pragma: no cover - compiled; covered through irr
    """Quarterly IRR of each column of ``f_t`` (Q, m) that has money in and out; NaN where none is found.

    NPV times ``(1 + r)^(Q - 1)`` (the value at the last quarter, same sign as
    NPV for r > -1, free of the overflow of ``(1 + r)^-q`` near r = -1) is
    evaluated by Horner's rule in ``1 + r`` from 0.0.  The choices are those of
    a full grid scan: the interval nearest zero
    among those where ``sign(v_k) * sign(v_k+1) <= 0`` (interval 0 when there is
    none), then bisection of every row together until all satisfy
    ``hi - lo < tol (1 + |lo|)`` or ``max_iter`` is reached.
    """
    n_q, m = f_t.shape
    n_g = grid.size
    lo = np.empty(m)
    hi = np.empty(m)
    f_lo = np.empty(m)
    has = np.zeros(m, dtype=np.bool_)
    vals = np.empty(n_g)
    done = np.zeros(n_g, dtype=np.bool_)
    for r in range(m):
        done[:] = False
        k = 0
        for j in range(scan.size):
            kk = scan[j]
            for g in (kk, kk + 1):
                if not done[g]:
                    growth = 1.0 + grid[g]
                    v = 0.0
                    for q in range(n_q):
                        v = v * growth + f_t[q, r]
                    vals[g] = v
                    done[g] = True
            if _sign(vals[kk]) * _sign(vals[kk + 1]) <= 0.0:
                k = kk
                has[r] = True
                break
        # no sign change: k = 0, and the scan has evaluated every grid point
        lo[r] = grid[k]
        hi[r] = grid[k + 1]
        f_lo[r] = vals[k]
    f_mid = np.empty(m)
    mid = np.empty(m)
    for _ in range(max_iter):
        for r in range(m):
            mid[r] = 0.5 * (lo[r] + hi[r])
            f_mid[r] = 0.0
        for q in range(n_q):  # Horner's rule, vectorised over rows
            for r in range(m):
                f_mid[r] = f_mid[r] * (1.0 + mid[r]) + f_t[q, r]
        converged = True
        for r in range(m):
            if _sign(f_mid[r]) == _sign(f_lo[r]):
                lo[r] = mid[r]
                f_lo[r] = f_mid[r]
            else:
                hi[r] = mid[r]
            if not (hi[r] - lo[r] < tol * (1.0 + abs(lo[r]))):
                converged = False
        if converged:
            break
    out = np.empty(m)
    for r in range(m):
        out[r] = 0.5 * (lo[r] + hi[r]) if has[r] else np.nan
    return out


@dataclass(frozen=True)
class Waterfall:
    """The investor's position in every draw.

    Parameters
    ----------
    drawn : ndarray (D, Q)
        Capital drawn from the investor each quarter [GBP].
    distributions : ndarray (D, Q)
        Paid to the investor each quarter [GBP].
    net_cashflow : ndarray (D, Q)
        ``distributions - drawn`` [GBP].
    capital_outstanding : ndarray (D, Q)
        Cumulative drawn minus cumulative distributions, floored at 0 [GBP].
    surplus_returned : ndarray (D,)
        Surplus above the return cap not paid to the investor [GBP].
    commitment : ndarray (D,)
        Capital committed [GBP].
    """

    drawn: np.ndarray
    distributions: np.ndarray
    net_cashflow: np.ndarray
    capital_outstanding: np.ndarray
    surplus_returned: np.ndarray
    commitment: np.ndarray

    def columns(self) -> dict:
        """Per-draw figures (see :mod:`sibmodel.results.run`)."""
        total_drawn = self.drawn.sum(axis=1)
        cum_drawn = np.cumsum(self.drawn, axis=1)
        total_dist = self.distributions.sum(axis=1)
        exceeded = cum_drawn > self.commitment[:, None] + 1e-6
        any_exc = exceeded.any(axis=1)
        first = np.where(any_exc, np.argmax(exceeded, axis=1), np.nan)  # NaN: never exceeded
        cum_dist = np.cumsum(self.distributions, axis=1)
        repaid = (
            (cum_dist >= cum_drawn - 1e-6)
            & (cum_drawn > 0)
            & (np.arange(self.drawn.shape[1])[None, :] >= _last_draw(self.drawn)[:, None])
        )
        payback = np.where(repaid.any(axis=1), np.argmax(repaid, axis=1), np.nan)  # NaN: never repaid
        r = irr(self.net_cashflow)
        moic = np.divide(total_dist, total_drawn, out=np.full(total_drawn.shape, np.nan), where=total_drawn > 0)
        return {
            "capital_drawn_total_gbp": total_drawn,
            "capital_drawn_peak_gbp": self.capital_outstanding.max(axis=1),
            "commitment_exceeded": any_exc,
            "excess_over_commitment_gbp": np.maximum(cum_drawn[:, -1] - self.commitment, 0.0),
            "first_exceeded_quarter": first,
            "distributions_total_gbp": total_dist,
            "surplus_returned_gbp": self.surplus_returned,
            "moic": moic,
            "irr_annual": r.annual,
            "total_loss": r.total_loss,
            "payback_quarter": payback,
        }


def _last_draw(drawn: np.ndarray) -> np.ndarray:
    any_d = drawn > 0
    return np.where(any_d.any(axis=1), drawn.shape[1] - 1 - np.argmax(any_d[:, ::-1], axis=1), 0)


def investor_waterfall(
    income: np.ndarray,
    costs: np.ndarray,
    commitment,
    policy: str = "at_end",
    return_cap_multiple: float | None = None,
    surplus_share_to_investor: float = 1.0,
) -> Waterfall:
    """Run the special purpose vehicle's cash, quarter by quarter, for every draw.

    Each quarter the SPV's cash is ``cash + income - costs``.  A deficit is
    covered by drawing capital from the investor (bringing cash to zero).
    Drawing beyond the commitment is recorded (see :meth:`Waterfall.columns`)
    and still funded, so that the shortfall is visible, never absorbed.  Surplus
    cash is distributed each quarter under ``"quarterly_after_repayment"`` or
    held to the last quarter under ``"at_end"``.  With a return cap, the
    investor receives at most ``return_cap_multiple x capital drawn``, plus
    ``surplus_share_to_investor`` of anything above it; the rest is returned
    to the commissioners.

    Parameters
    ----------
    income : ndarray (D, Q)
        Outcome payments received [GBP].
    costs : ndarray (D, Q)
        Delivery costs and fees paid [GBP].
    commitment : float or ndarray (D,)
        Capital committed [GBP].
    policy : {"at_end", "quarterly_after_repayment"}
    return_cap_multiple : float, optional
    surplus_share_to_investor : float
    """
    income = np.asarray(income, float)
    costs = np.asarray(costs, float)
    n_d, n_q = income.shape
    commitment = np.broadcast_to(np.asarray(commitment, float), (n_d,)).copy()
    cash = np.zeros(n_d)
    drawn = np.zeros((n_d, n_q))
    dist = np.zeros((n_d, n_q))
    cum_drawn = np.zeros(n_d)
    cum_to_investor = np.zeros(n_d)
    surplus_returned = np.zeros(n_d)
    for q in range(n_q):  # a recursion over ~20-60 quarters, vectorised over draws
        cash = cash + income[:, q] - costs[:, q]
        need = np.maximum(-cash, 0.0)
        drawn[:, q] = need
        cum_drawn += need
        cash = cash + need
        if policy == "quarterly_after_repayment" or q == n_q - 1:
            avail = cash
            if return_cap_multiple is not None:
                room = np.maximum(return_cap_multiple * cum_drawn - cum_to_investor, 0.0)
                within = np.minimum(avail, room)
                above = avail - within
                to_inv = within + surplus_share_to_investor * above
                surplus_returned += (1.0 - surplus_share_to_investor) * above
            else:
                to_inv = avail
            dist[:, q] = to_inv
            cum_to_investor += to_inv
            cash = np.zeros(n_d)
    net = dist - drawn
    outstanding = np.maximum(np.cumsum(drawn, axis=1) - np.cumsum(dist, axis=1), 0.0)
    return Waterfall(drawn, dist, net, outstanding, surplus_returned, commitment)


def stats_block(x: np.ndarray) -> dict:
    """``{mean, sd, p5, p50, p95, n}`` of the finite values of ``x``.

    Percentiles are exact over all draws (numpy's default linear interpolation).
    Draws where the figure is not defined are NaN (an IRR that does not exist, a
    payback that never comes) and are left out: the statistics are over the ``n``
    draws where it is defined, and all-NaN gives NaNs with ``n`` 0. No sentinel
    value enters a statistic; how often a figure is undefined is reported beside it
    (``p_total_loss``, ``p_never_repaid``).
    """
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {
            "mean": float("nan"),
            "sd": float("nan"),
            "p5": float("nan"),
            "p50": float("nan"),
            "p95": float("nan"),
            "n": 0,
        }
    p5, p50, p95 = np.percentile(x, [5, 50, 95])
    return {
        "mean": float(x.mean()),
        "sd": float(x.std(ddof=1)) if x.size > 1 else 0.0,
        "p5": float(p5),
        "p50": float(p50),
        "p95": float(p95),
        "n": int(x.size),
    }


def p_never_repaid(payback_quarter: np.ndarray, moic: np.ndarray) -> float:
    """P(never repaid): the share of draws that drew capital (money multiple defined) whose distributions
    never reach the capital drawn (payback quarter NaN) [probability]; NaN if no draw drew capital.

    A draw repaid after its last drawdown has distributed at least what it drew, so this equals
    P(money multiple < 1) but for multiples within a rounding tolerance (1e-6 GBP) of 1.
    """
    m = np.isfinite(np.asarray(moic, dtype=float))
    never = ~np.isfinite(np.asarray(payback_quarter, dtype=float))
    return float(np.mean(never[m])) if m.any() else float("nan")


def add_fees(costs: np.ndarray, n_contract_quarters: int, fee) -> np.ndarray:
    """Add the SPV's fees to costs by cash quarter, in place: the management fee in every contract
    quarter, the set-up cost in quarter 0, the evaluation fee in the last contract quarter.

    Parameters
    ----------
    costs : ndarray, shape (D, Qc)
        Costs per draw and cash quarter [GBP], changed in place.
    n_contract_quarters : int
        Quarters the contract runs [quarters].
    fee : callable
        ``fee(path) -> ndarray (D,)``: a fee per draw [GBP] by its scenario path,
        ``investment.fees.management_fee_per_quarter_gbp`` [GBP/quarter],
        ``investment.fees.setup_cost_gbp`` or ``investment.fees.evaluation_fee_gbp`` [GBP].

    Returns
    -------
    ndarray
        ``costs``.
    """
    costs[:, :n_contract_quarters] += fee("investment.fees.management_fee_per_quarter_gbp")[:, None]
    costs[:, 0] += fee("investment.fees.setup_cost_gbp")
    costs[:, n_contract_quarters - 1] += fee("investment.fees.evaluation_fee_gbp")
    return costs


def loss_indicator(moic: np.ndarray) -> np.ndarray:
    """Per draw: 1.0 where the money multiple is below 1 (a loss), 0.0 where it is not,
    NaN where it is undefined (nothing drawn)."""
    m = np.asarray(moic, dtype=float)
    return np.where(np.isfinite(m), (m < 1.0).astype(float), np.nan)


def p_loss(moic: np.ndarray) -> float:
    """P(loss) = P(money multiple < 1) over the draws where the multiple is defined [probability]; NaN if none is."""
    m = np.asarray(moic, dtype=float)
    m = m[np.isfinite(m)]
    return float(np.mean(m < 1.0)) if m.size else float("nan")


def risk_metrics(moic: np.ndarray, irr_annual: np.ndarray | None = None) -> dict:
    """Probability of loss, expected loss, 5% VaR and expected shortfall of the money multiple.

    Draws where nothing was drawn (multiple NaN) are left out.

    Returns
    -------
    dict
        ``p_loss`` = P(multiple < 1); ``expected_loss_share`` = E[max(0, 1 - multiple)]
        [share of capital]; ``moic_var5`` = 5th percentile of the multiple;
        ``moic_es5`` = mean multiple at or below it; ``p_irr_negative``.
    """
    m = np.asarray(moic, float)
    m = m[np.isfinite(m)]
    if m.size == 0:
        return {
            "p_loss": float("nan"),
            "expected_loss_share": float("nan"),
            "moic_var5": float("nan"),
            "moic_es5": float("nan"),
        }
    var5 = float(np.percentile(m, 5))
    out = {
        "p_loss": p_loss(m),
        "expected_loss_share": float(np.mean(np.maximum(0.0, 1.0 - m))),
        "moic_var5": var5,
        "moic_es5": float(m[m <= var5].mean()),
    }
    if irr_annual is not None:
        # over the draws that drew capital; among them a missing IRR is a total loss (-100%), so negative
        r = np.asarray(irr_annual, float)[np.isfinite(np.asarray(moic, float))]
        out["p_irr_negative"] = float(np.mean(~(r >= 0)))
    return out
