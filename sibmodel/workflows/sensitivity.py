"""Global sensitivity: first-order and total Sobol indices with SALib.

:func:`sobol_indices` is the plain method on any vectorised function of
uniforms (tested on the Ishigami function against its published indices).
:func:`scenario_sobol` applies it to a scenario's uncertain inputs, for the
investor's IRR and the boroughs' total net savings.

**How the model is evaluated.**  SALib's Sobol' design (Saltelli's scheme,
``N (G + 2)`` rows for ``G`` groups, no second-order terms) gives a vector of
uniforms per row.  Each uniform goes through its input's inverse CDF (the same
:func:`sibmodel.model.sampling.ppf` the engine uses), every uncertain input is
held at that value, and the scenario is simulated for ``replicates`` draws on
one seed.  The output of a row is the mean over those draws: an estimate of
the expected IRR (net savings) given the inputs, averaging over the intrinsic
randomness of referrals and care pathways.  Because every row uses the same
seed, that intrinsic randomness is the same in every row (common random
numbers), so the function analysed is deterministic and the indices share out
the variance of the conditional mean between the inputs.  The intrinsic
variance itself is not attributed to any input.  A draw whose IRR does not
exist (a total loss) counts as -100% [1/year].

**Correlated inputs.**  Sobol indices assume independent inputs, and so does
SALib.  Here SALib samples *independent* uniforms; the scenario's Gaussian
copula (:func:`sibmodel.model.sampling.correlate_uniforms`) is applied to them
before the inverse CDFs, exactly as in a run.  Inputs joined by correlations
(directly or through others) form one *group* (SALib's ``groups``), and the
indices are reported per group.  Groups are independent of each other, so a
group's first-order and total indices are well defined -- they measure the
group as a whole.  They do not split a group's share between its members:
with the symmetric-root copula each member depends on every independent
uniform of its group, so per-member indices of the uniforms would mean
"the independent source nearest that input", not the input.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from sibmodel.engine.run import simulate
from sibmodel.model.sampling import U_EPS, correlate_uniforms, ppf
from sibmodel.outputs import (
    COMMISSIONER_NET_SAVINGS_GBP,
    INVESTOR_IRR_ANNUAL,
)
from sibmodel.scenario.load import as_scenario
from sibmodel.scenario.schema import Scenario
from sibmodel.workflows.levers import WorkflowError, hold_inputs, uncertain_inputs

#: Outputs of :func:`scenario_sobol`: name -> (draws column, meaning and unit).
SOBOL_OUTPUTS = {
    "investor_irr": (INVESTOR_IRR_ANNUAL, "investor IRR [1/year], mean over replicate draws"),
    "net_savings": (
        COMMISSIONER_NET_SAVINGS_GBP,
        "all boroughs' net savings [GBP, discounted], mean over replicate draws",
    ),
}


def sobol_indices(
    names: list[str],
    model: Callable[[np.ndarray], np.ndarray],
    n_base: int,
    seed: int,
    groups: list[str] | None = None,
    output_names: list[str] | None = None,
    num_resamples: int = 100,
) -> pd.DataFrame:
    """First-order and total Sobol indices of a function of independent uniforms.

    Parameters
    ----------
    names : list of str
        One name per variable; each variable is uniform on (0, 1).
    model : callable
        Maps an array of uniforms, shape (n, len(names)), to outputs, shape (n,)
        or (n, k).
    n_base : int
        SALib's base sample size N (a power of 2); the model is evaluated on
        ``N (G + 2)`` rows, ``G`` the number of groups (or variables).
    seed : int
        Seed of the scrambled Sobol' sequence and of the bootstrap.
    groups : list of str, optional
        Group of each variable (SALib ``groups``); indices are then per group.
    output_names : list of str, optional
        Names of the model's outputs (default ``y0, y1, ...``).
    num_resamples : int
        Bootstrap resamples for the confidence intervals.

    Returns
    -------
    pandas.DataFrame
        One row per output and variable (or group): ``output``, ``input``,
        ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` (half-widths of 95% bootstrap
        intervals).
    """
    try:
        from SALib.analyze import sobol as sobol_analyze
        from SALib.sample import sobol as sobol_sample
    except ImportError:
        raise WorkflowError.one(
            "Sobol indices need SALib: pip install 'sibmodel[sensitivity]'", path="--method", given="sobol"
        ) from None

    if n_base < 2 or n_base & (n_base - 1):
        raise WorkflowError.one(
            "the Sobol base sample must be a power of 2 (e.g. 64, 128, 256)", path="--n-base", given=n_base
        )
    problem = {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}
    if groups is not None:
        problem["groups"] = list(groups)
    x = sobol_sample.sample(problem, n_base, calc_second_order=False, scramble=True, seed=seed)
    y = np.asarray(model(np.clip(x, U_EPS, 1 - U_EPS)), dtype=float)
    y = y.reshape(len(x), -1)
    labels = output_names or [f"y{j}" for j in range(y.shape[1])]
    rows = []
    for j, label in enumerate(labels):
        res = sobol_analyze.analyze(
            problem, y[:, j], calc_second_order=False, num_resamples=num_resamples, conf_level=0.95, seed=seed
        )
        keys = list(dict.fromkeys(groups)) if groups is not None else list(names)
        for k, name in enumerate(keys):
            rows.append(
                {
                    "output": label,
                    "input": name,
                    "S1": res["S1"][k],
                    "S1_conf": res["S1_conf"][k],
                    "ST": res["ST"][k],
                    "ST_conf": res["ST_conf"][k],
                }
            )
    return pd.DataFrame(rows)


def input_groups(s: Scenario, paths: list[str]) -> list[str] | None:
    """Group label of each input: inputs linked by correlations share one (``a + b``); None if no correlations."""
    if not s.correlations:
        return None
    parent = {p: p for p in paths}

    def find(p):
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    for c in s.correlations:
        a, b = c.inputs
        if a in parent and b in parent:
            parent[find(a)] = find(b)
    members: dict[str, list[str]] = {}
    for p in paths:
        members.setdefault(find(p), []).append(p)
    return [" + ".join(members[find(p)]) for p in paths]


#: Blocks of design points per pool worker in :func:`scenario_sobol` [count].
SOBOL_BLOCKS_PER_WORKER = 8


def _evaluate_points(s: Scenario, paths: list[str], values: np.ndarray, replicates: int, seed: int) -> np.ndarray:
    """Outputs at design points, shape (n, 2): mean IRR [1/year] and mean net savings [GBP] over ``replicates`` draws.

    ``values`` has one row per point and one column per input of ``paths`` (in each input's unit).
    A draw whose IRR does not exist (a total loss) counts as -100%.
    """
    irr_col, savings_col = (col for col, _ in SOBOL_OUTPUTS.values())
    out = np.empty((len(values), 2))
    for i, row in enumerate(values):
        held = hold_inputs(s, dict(zip(paths, map(float, row))), "Sobol design point")
        d = simulate(held, draws=replicates, seed=seed).draws
        irr = d[irr_col].to_numpy(float)
        out[i, 0] = np.where(np.isfinite(irr), irr, -1.0).mean()
        out[i, 1] = d[savings_col].to_numpy(float).mean()
    return out


def scenario_sobol(
    s: Scenario, n_base: int = 128, replicates: int = 4, seed: int = 1, num_resamples: int = 100, workers: int = 1
) -> pd.DataFrame:
    """Sobol indices of the investor's IRR and the boroughs' total net savings.

    Parameters
    ----------
    s : Scenario or path-like
    n_base : int
        SALib base sample size (power of 2); the scenario is simulated
        ``n_base (G + 2)`` times.
    replicates : int
        Draws per simulation, averaged (same seed in every row).
    seed : int
        Seed of the Sobol' sequence, the bootstrap and the simulations.
    num_resamples : int
        Bootstrap resamples.
    workers : int
        Local processes sharing the design points (results do not change).

    Returns
    -------
    pandas.DataFrame
        See :func:`sobol_indices`; ``output`` is ``investor_irr`` or ``net_savings``.
    """
    s = as_scenario(s)
    specs = uncertain_inputs(s)
    if not specs:
        raise WorkflowError.one("the scenario has no uncertain inputs to analyse", path="scenario")
    paths = list(specs)
    corr = [(c.inputs[0], c.inputs[1], c.rank_corr) for c in s.correlations]
    groups = input_groups(s, paths)

    def model(u: np.ndarray) -> np.ndarray:
        uc = correlate_uniforms({p: u[:, j] for j, p in enumerate(paths)}, corr)
        values = np.column_stack([ppf(specs[p], uc[p]) for p in paths])
        from sibmodel.engine.run import chunk_memory_bytes
        from sibmodel.scenario.limits import cap_workers

        n_workers = cap_workers(
            workers, len(values), chunk_memory_bytes(s, replicates)
        )  # no more than points, or than fit
        if n_workers <= 1:
            return _evaluate_points(s, paths, values, replicates, seed)
        from sibmodel.engine.execution import process_pool

        # several blocks a worker (each point is independent of its block): on Ctrl-C the workers,
        # which leave it to this process, finish one block each and the rest are cancelled
        blocks = np.array_split(values, min(len(values), SOBOL_BLOCKS_PER_WORKER * n_workers))
        pool = process_pool(n_workers)
        try:
            return np.vstack(list(pool.map(_evaluate_points, *zip(*[(s, paths, b, replicates, seed) for b in blocks]))))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    return sobol_indices(
        paths, model, n_base, seed, groups=groups, output_names=list(SOBOL_OUTPUTS), num_resamples=num_resamples
    )
