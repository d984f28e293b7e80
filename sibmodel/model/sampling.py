"""Sampling uncertain inputs: uniforms per draw index, a Gaussian copula, ppf.

Each uncertain input's uniform in draw ``i`` is a pure function of (root seed,
its dotted path, ``i``) (:mod:`sibmodel.model.philox`), so adding an unrelated
input leaves existing draws unchanged, and a draw's inputs do not depend on the
chunk it runs in.  Correlated inputs are joined by a Gaussian copula on a
Spearman rank correlation matrix (converted to the normal scale by
``2 sin(pi rho / 6)``).  Latin hypercube sampling stratifies each input over the
whole run: draw ``i`` of ``n`` falls in stratum ``perm(i)`` of ``n``, ``perm`` a
permutation keyed by the seed and the input (:func:`sibmodel.model.philox.permute`).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from sibmodel.exceptions import CorrelationError, Issue
from sibmodel.model.philox import key_of, permute, uniform_pairs
from sibmodel.scenario.quantities import Fixed, Spec

#: Uniforms are kept this far from 0 and 1 so that every ppf is finite [probability].
U_EPS = 1e-12


def uniforms(rng: np.random.Generator, n: int, method: str = "random") -> np.ndarray:
    """``n`` uniforms in (0, 1), plain or Latin hypercube (one per stratum, shuffled)."""
    if method == "lhs":
        u = (rng.permutation(n) + rng.random(n)) / n
    elif method == "random":
        u = rng.random(n)
    else:
        raise ValueError(f"unknown sampling method {method!r}; allowed: random, lhs")
    return np.clip(u, U_EPS, 1.0 - U_EPS)


def ppf(spec: Spec, u: np.ndarray) -> np.ndarray:
    """Map uniforms through a spec's inverse CDF, truncated to its field's range.

    Parameters
    ----------
    spec : Spec
        The distribution.
    u : ndarray
        Uniforms in (0, 1).

    Returns
    -------
    ndarray
        Values in the unit of the field.
    """
    if isinstance(spec, Fixed):
        return np.full(u.shape, float(spec.value))
    dist, shapes, loc, scale = spec.scipy_form()
    if spec.bounds is not None:
        lo, hi = spec.bounds
        f_lo = dist.cdf(lo, *shapes, loc=loc, scale=scale)
        f_hi = dist.cdf(hi, *shapes, loc=loc, scale=scale)
        if f_lo > 0 or f_hi < 1:
            u = f_lo + u * (f_hi - f_lo)
    return dist.ppf(u, *shapes, loc=loc, scale=scale)


def spearman_to_pearson(rho_s: np.ndarray) -> np.ndarray:
    """Normal-scale correlation giving a Spearman rank correlation under a Gaussian copula."""
    return 2.0 * np.sin(np.pi * np.asarray(rho_s) / 6.0)


def validate_correlation(matrix: np.ndarray, names: list[str], tol: float = 1e-10) -> None:
    """Check a correlation matrix is symmetric, unit-diagonal and positive semi-definite.

    Raises
    ------
    CorrelationError
        Naming the inputs and what is wrong.
    """
    issues = []
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(names):
        raise CorrelationError(
            [Issue(None, "correlations", f"matrix must be square of size {len(names)}", m.shape, has_given=True)]
        )
    if not np.allclose(m, m.T, atol=tol):
        issues.append(Issue(None, "correlations", "rank-correlation matrix is not symmetric"))
    if not np.allclose(np.diag(m), 1.0, atol=tol):
        issues.append(
            Issue(
                None,
                "correlations",
                "rank-correlation matrix must have a unit diagonal",
                np.diag(m).tolist(),
                has_given=True,
            )
        )
    if np.any(np.abs(m) > 1 + tol):
        issues.append(Issue(None, "correlations", "correlations must lie in [-1, 1]"))
    if not issues:
        w = np.linalg.eigvalsh((m + m.T) / 2)
        if w.min() < -1e-9:
            issues.append(
                Issue(
                    None,
                    "correlations",
                    "the correlations between "
                    + ", ".join(names)
                    + " are not jointly possible (matrix not positive semi-definite; smallest eigenvalue "
                    f"{w.min():.3g}); weaken some of them",
                )
            )
    if issues:
        raise CorrelationError(issues)


def correlation_matrix(pairs: list[tuple[str, str, float]]) -> tuple[list[str], np.ndarray]:
    """Build the Spearman matrix over every input named in ``pairs`` (sorted by name)."""
    names = sorted({p for a, b, _ in pairs for p in (a, b)})
    index = {n: i for i, n in enumerate(names)}
    m = np.eye(len(names))
    for a, b, r in pairs:
        m[index[a], index[b]] = m[index[b], index[a]] = r
    return names, m


def correlate_uniforms(u: dict[str, np.ndarray], correlations: list[tuple[str, str, float]]) -> dict[str, np.ndarray]:
    """Join independent uniforms by the Gaussian copula of the given rank correlations.

    Parameters
    ----------
    u : dict of path -> ndarray
        Independent uniforms in (0, 1), one array per uncertain input.
    correlations : list of (path_a, path_b, spearman)
        Rank correlations [1]; inputs not named keep their uniforms.

    Returns
    -------
    dict of path -> ndarray
        Uniforms whose normal scores have the correlation ``2 sin(pi rho / 6)``:
        each correlated input's uniform is a function of every independent
        uniform in its group (symmetric square root of the correlation matrix).
    """
    if not correlations:
        return u
    out = dict(u)
    names, rank = correlation_matrix(correlations)
    validate_correlation(rank, names)
    normal_corr = spearman_to_pearson(rank)
    np.fill_diagonal(normal_corr, 1.0)
    w, v = np.linalg.eigh(normal_corr)
    root = v * np.sqrt(np.clip(w, 0.0, None))
    z = stats.norm.ppf(np.stack([u[n] for n in names]))  # (m, n_draws)
    # root @ v.T is a symmetric square root: zc has the target correlation.  Summed term by term (not
    # by a matrix product, whose blocking may depend on the number of draws), so each draw's values
    # depend on its own uniforms only, to the bit
    mix = root @ v.T
    zc = np.zeros_like(z)
    for j in range(len(names)):
        zc += mix[:, j : j + 1] * z[j]
    uc = np.clip(stats.norm.cdf(zc), U_EPS, 1 - U_EPS)
    for i, n in enumerate(names):
        out[n] = uc[i]
    return out


def input_uniforms(
    entropy, path: str, draws: np.ndarray, n_total: int, method: str = "random", keys: tuple | None = None
) -> np.ndarray:
    """One input's uniforms for the given draws, in (0, 1): a pure function of (seed, path, draw index[, run size]).

    Parameters
    ----------
    entropy : int or tuple
        Root entropy of the run.
    path : str
        The input's dotted path (its key).
    draws : ndarray of int
        Draw indices within the run.
    n_total : int
        Draws in the run (the Latin hypercube's strata).
    method : {"random", "lhs"}
        Plain uniforms, or one draw per stratum ``perm(i) / n_total`` with a uniform offset inside it.
    keys : ((int, int), (int, int)), optional
        The keys ``key_of(entropy, "param:" + path)`` and ``key_of(entropy, "lhs:" + path)``, when
        already known (:class:`sibmodel.engine.plan.Plan`).
    """
    if keys is None:
        keys = (key_of(entropy, "param:" + path), key_of(entropy, "lhs:" + path))
    u = uniform_pairs(keys[0], draws)
    if method == "lhs":
        u = (permute(keys[1], draws, n_total) + u[1]) / n_total
    elif method == "random":
        u = u[0]
    else:
        raise ValueError(f"unknown sampling method {method!r}; allowed: random, lhs")
    return np.clip(u, U_EPS, 1.0 - U_EPS)


def sample_inputs(
    specs: dict[str, Spec],
    correlations: list[tuple[str, str, float]],
    draws,
    n_total: int,
    entropy,
    method: str = "random",
    keys: dict | None = None,
) -> dict[str, np.ndarray]:
    """Draw every input for the given draws of a run.

    Parameters
    ----------
    specs : dict of path -> Spec
        Every quantity of the scenario (fixed ones give constant arrays).
    correlations : list of (path_a, path_b, spearman)
        Rank correlations between uncertain inputs.
    draws : int or ndarray of int
        Draw indices within the run (an int ``n``: draws ``0 .. n - 1``).
    n_total : int
        Draws in the whole run (Latin hypercube strata).
    entropy : int or tuple
        Root entropy of the run.
    method : {"random", "lhs"}
        Sampling design.
    keys : dict of path -> ((int, int), (int, int)), optional
        Each uncertain input's keys (see :func:`input_uniforms`), when already known.

    Returns
    -------
    dict of path -> ndarray, shape (len(draws),)
    """
    draws = np.arange(draws) if np.ndim(draws) == 0 else np.asarray(draws, dtype=np.int64)
    n_draws = draws.size
    u = {
        path: input_uniforms(entropy, path, draws, n_total, method, None if keys is None else keys[path])
        for path, spec in specs.items()
        if not spec.is_fixed
    }
    u = correlate_uniforms(u, correlations)
    out = {}
    for path, spec in specs.items():
        if spec.is_fixed:
            out[path] = np.full(n_draws, float(spec.value))
        else:
            out[path] = ppf(spec, u[path])
    return out
