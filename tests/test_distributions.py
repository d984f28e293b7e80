"""Uncertain inputs: ppf mapping, truncation, copula correlation, LHS, inputs per draw index."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter
from scipy import stats
from support import PFP

from sibmodel.exceptions import CorrelationError, ScenarioError
from sibmodel.model.sampling import (
    correlation_matrix,
    input_uniforms,
    ppf,
    sample_inputs,
    spearman_to_pearson,
    uniforms,
    validate_correlation,
)
from sibmodel.scenario.load import apply_overrides, resolve, validate_data
from sibmodel.scenario.quantities import OpenProbability, quantity


def spec(data, typ=quantity()):
    return TypeAdapter(typ).validate_python(data)


@pytest.mark.parametrize(
    "data, mean",
    [
        ({"dist": "beta", "mean": 0.3, "sd": 0.1}, 0.3),
        ({"dist": "triangular", "low": 1, "mode": 2, "high": 6}, 3.0),  # (a+b+c)/3
        ({"dist": "pert", "low": 0, "mode": 3, "high": 6}, 3.0),  # (a+4m+b)/6
        ({"dist": "uniform", "low": 2, "high": 4}, 3.0),
        ({"dist": "lognormal", "median": 1.0, "sigma": 0.5}, np.exp(0.125)),  # exp(mu + s^2/2)
        ({"dist": "normal", "mean": 5, "sd": 2}, 5.0),
    ],
)
def test_ppf_sample_means_match_closed_forms(data, mean):
    """Sample means of 200k ppf-mapped uniforms within 5 standard errors of the closed-form mean."""
    s = spec(data)
    x = ppf(s, uniforms(np.random.default_rng(1), 200_000))
    se = x.std() / np.sqrt(x.size)
    assert abs(x.mean() - mean) < 5 * se
    assert s.mean() == pytest.approx(mean, rel=1e-6)


def _random_specs(rng, n):
    """Specs of every type with random parameters, some truncated to a field's range."""
    out = []
    for i in range(n):
        kind = i % 8
        lo = float(rng.uniform(-5, 5))
        w = float(rng.uniform(0.01, 100))
        if kind == 0:
            m = float(rng.uniform(0.01, 0.99))
            out.append(spec({"dist": "beta", "mean": m, "sd": float(rng.uniform(0.01, 0.99) * np.sqrt(m * (1 - m)))}))
        elif kind == 1:
            out.append(
                spec(
                    {
                        "dist": "beta",
                        "alpha": float(rng.uniform(0.2, 80)),
                        "beta": float(rng.uniform(0.2, 80)),
                        "low": lo,
                        "high": lo + w,
                    }
                )
            )
        elif kind == 2:
            out.append(spec({"dist": "pert", "low": lo, "mode": lo + float(rng.uniform(0, 1)) * w, "high": lo + w}))
        elif kind == 3:
            mode = lo + [0.0, 1.0, float(rng.uniform(0, 1))][i % 3] * w  # modes at either end, too
            out.append(spec({"dist": "triangular", "low": lo, "mode": mode, "high": lo + w}))
        elif kind == 4:
            out.append(spec({"dist": "uniform", "low": lo, "high": lo + w}))
        elif kind == 5:
            out.append(spec({"dist": "normal", "mean": lo, "sd": w}))
            out.append(
                spec({"dist": "normal", "mean": 0.5, "sd": float(rng.uniform(0.01, 0.18))}, quantity(0.0, 1.0))
            )  # truncated
        elif kind == 6:
            out.append(
                spec(
                    {
                        "dist": "lognormal",
                        "median": float(rng.uniform(0.01, 10)),
                        "sigma": float(rng.uniform(0.01, 1.5)),
                    }
                )
            )
            out.append(
                spec({"dist": "lognormal", "median": 1.0, "sigma": float(rng.uniform(0.05, 0.3))}, quantity(0.0, 3.0))
            )
        else:
            out.append(
                spec({"dist": "lognormal", "mean": float(rng.uniform(0.01, 10)), "sd": float(rng.uniform(0.01, 5))})
            )
    return out


def _ppf_by_frozen(s, u):
    """The definition: truncate and invert with ``s.frozen()``."""
    f = s.frozen()
    if s.bounds is not None:
        f_lo, f_hi = f.cdf(s.bounds[0]), f.cdf(s.bounds[1])
        if f_lo > 0 or f_hi < 1:
            u = f_lo + u * (f_hi - f_lo)
    return f.ppf(u)


@pytest.mark.filterwarnings("ignore:Error in function boost")  # extreme beta shapes at u near 1, in both paths
def test_ppf_bit_identical_to_frozen_distribution():
    """ppf calls scipy's public ``ppf`` with the parameters of ``scipy_form`` (no frozen object): the
    same operations as ``frozen().ppf`` with the same truncation, hence the same bits, on every type of
    spec and on uniforms at or outside 0 and 1, NaN and float32 input."""
    rng = np.random.default_rng(4)
    specs = _random_specs(rng, 240)
    assert sum(s.bounds is not None for s in specs) >= 40
    edge = np.array([0.0, 1.0, np.nan, -0.5, 1.5, 1e-300, 1 - 2**-53, 0.5])
    for s in specs:
        for u in (
            uniforms(rng, 300),
            rng.random(1000),
            edge,
            np.concatenate([rng.random(5), edge]),
            rng.random((3, 4)),
        ):
            assert ppf(s, u).tobytes() == _ppf_by_frozen(s, u).tobytes()
        u32 = rng.random(20).astype(np.float32)
        np.testing.assert_array_equal(ppf(s, u32), _ppf_by_frozen(s, u32))


def test_truncated_lognormal_stays_in_range():
    s = spec({"dist": "lognormal", "median": 0.5, "sigma": 0.9}, quantity(0, 5, lo_open=True))
    x = ppf(s, uniforms(np.random.default_rng(2), 100_000))
    assert x.max() <= 5.0 and x.min() > 0


def test_infeasible_normal_for_probability_rejected():
    with pytest.raises(Exception, match="not feasible"):
        spec({"dist": "normal", "mean": 0.5, "sd": 0.5}, OpenProbability)


def test_copula_gives_requested_rank_correlation():
    """A Gaussian copula with Pearson 2 sin(pi rho/6) reproduces Spearman rho (Kruskal 1958)."""
    specs = {
        "a": spec({"dist": "beta", "mean": 0.4, "sd": 0.1}),
        "b": spec({"dist": "lognormal", "median": 1, "sigma": 0.3}),
        "c": spec({"dist": "uniform", "low": 0, "high": 1}),
    }
    x = sample_inputs(specs, [("a", "b", 0.6), ("a", "c", -0.3)], 40_000, 40_000, 99)
    rho_ab = stats.spearmanr(x["a"], x["b"]).statistic
    rho_ac = stats.spearmanr(x["a"], x["c"]).statistic
    # SE of Spearman's rho ~ (1 - rho^2) / sqrt(n): 0.003 here; allow 5 SE
    assert rho_ab == pytest.approx(0.6, abs=5 * (1 - 0.36) / np.sqrt(40_000))
    assert rho_ac == pytest.approx(-0.3, abs=5 * (1 - 0.09) / np.sqrt(40_000))


def test_correlation_matrix_validation():
    names, m = correlation_matrix([("a", "b", 0.9), ("b", "c", 0.9), ("a", "c", -0.9)])
    with pytest.raises(CorrelationError, match="not jointly possible"):
        validate_correlation(m, names)
    with pytest.raises(CorrelationError, match="symmetric"):
        validate_correlation(np.array([[1, 0.2], [0.1, 1]]), ["a", "b"])
    with pytest.raises(CorrelationError, match="unit diagonal"):
        validate_correlation(np.array([[2, 0.2], [0.2, 1]]), ["a", "b"])
    assert spearman_to_pearson(1.0) == pytest.approx(1.0)


def test_impossible_correlations_in_scenario_are_scenario_errors():
    data = apply_overrides(
        resolve(PFP),
        [
            "correlations=[{inputs: [care.entry.prob, care.reentry.prob], rank_corr: 0.95},"
            " {inputs: [care.reentry.prob, care.placements.foster.breakdown_share], rank_corr: 0.95},"
            " {inputs: [care.entry.prob, care.placements.foster.breakdown_share], rank_corr: -0.95}]"
        ],
    )
    s = validate_data(data, PFP)
    from sibmodel.engine.run import simulate

    with pytest.raises(ScenarioError):
        simulate(s, draws=5, seed=1)


def test_correlation_to_unknown_input_rejected():
    data = apply_overrides(
        resolve(PFP), ["correlations=[{inputs: [care.entry.prb, care.reentry.prob], rank_corr: 0.5}]"]
    )
    with pytest.raises(ScenarioError, match="did you mean 'care.entry.prob'"):
        validate_data(data, PFP)


def test_lhs_is_stratified():
    u = uniforms(np.random.default_rng(0), 1000, "lhs")
    counts = np.bincount((u * 1000).astype(int), minlength=1000)
    assert (counts == 1).all()


def test_input_uniforms_are_a_function_of_seed_path_and_draw():
    """An input's uniform in a draw does not depend on which other draws are asked for, nor their order;
    another path, seed or draw gives another number."""
    draws = np.array([7, 3, 900, 4])
    a1 = input_uniforms(5, "x", draws, 1000)
    a2 = input_uniforms(5, "x", np.arange(1000), 1000)[draws]
    np.testing.assert_array_equal(a1, a2)
    for other in (
        input_uniforms(5, "z", draws, 1000),
        input_uniforms(6, "x", draws, 1000),
        input_uniforms(5, "x", draws + 1000, 2000),
    ):
        assert not np.isin(a1, other).any()
    lhs = input_uniforms(5, "x", np.arange(1000), 1000, "lhs")
    assert (np.bincount((lhs * 1000).astype(int), minlength=1000) == 1).all()  # one draw per stratum
    np.testing.assert_array_equal(input_uniforms(5, "x", draws, 1000, "lhs"), lhs[draws])


def test_closed_form_means_and_tail_masses_match_scipy():
    """Reference: scipy.stats' public ``mean``, ``cdf`` and ``sf``.  The untruncated means (closed
    forms) and the mass outside a range (``scipy.special.ndtr`` for normal and log-normal) are
    computed without scipy.stats (start-up time); they agree to 1e-12 relative (means) and 1e-15
    absolute plus 1e-12 relative (masses, which are probabilities)."""
    rng = np.random.default_rng(11)
    for s in _random_specs(rng, 300):
        f = s.frozen()
        assert s._untruncated_mean() == pytest.approx(f.mean(), rel=1e-12, abs=1e-300), s
        lo, hi = sorted(f.ppf(rng.uniform(0.001, 0.999, 2)))
        assert s.mass_outside(lo, hi) == pytest.approx(float(f.cdf(lo) + f.sf(hi)), rel=1e-12, abs=1e-15), s


def test_tail_masses_and_means_by_hand():
    """Hand-worked cases: a standard normal has 5.00% outside +-1.95996 (two-sided 95% point,
    Abramowitz and Stegun, Handbook of Mathematical Functions, table 26.5); a log-normal with
    median 1 and sigma 1 has mean exp(1/2) and half its mass below its median."""
    z975 = 1.959963984540054
    assert spec({"dist": "normal", "mean": 0, "sd": 1}).mass_outside(-z975, z975) == pytest.approx(0.05, rel=1e-12)
    ln = spec({"dist": "lognormal", "median": 1.0, "sigma": 1.0})
    assert ln.mean() == pytest.approx(np.exp(0.5), rel=1e-15)
    assert ln.mass_outside(1.0, np.inf) == pytest.approx(0.5, rel=1e-15)
    assert ln.mass_outside(0.0, np.inf) == 0.0


def test_truncated_normal_ppf_against_scipy_special():
    """A normal truncated to its field's range inverts Phi(a) + u (Phi(b) - Phi(a)) with
    ``scipy.special.ndtri`` (the public inverse normal cdf), to 1e-12 relative."""
    from scipy.special import ndtr, ndtri

    s = spec({"dist": "normal", "mean": 0.5, "sd": 0.15}, quantity(0.0, 1.0))
    assert s.bounds == (0.0, 1.0)
    u = uniforms(np.random.default_rng(8), 1000)
    a, b = ndtr((0.0 - 0.5) / 0.15), ndtr((1.0 - 0.5) / 0.15)
    np.testing.assert_allclose(ppf(s, u), 0.5 + 0.15 * ndtri(a + u * (b - a)), rtol=1e-12)


def test_truncated_mean_on_a_field_reaching_1e12():
    """A field allowed up to 1e12 (every number is) must not throw the mean off: scipy's expect over
    [0, 1e12] gave 707 for a normal(750, 50); the mean is 750 when no mass is cut off, and the
    truncated normal's closed form (scipy.stats.truncnorm) when some is."""
    import scipy.stats as st
    from pydantic import TypeAdapter

    from sibmodel.scenario.quantities import quantity

    field = TypeAdapter(quantity(0.0, 1e12))
    assert field.validate_python({"dist": "normal", "mean": 750, "sd": 50}).mean() == pytest.approx(750.0, rel=1e-12)
    assert field.validate_python({"dist": "lognormal", "median": 700, "sigma": 0.2}).mean() == pytest.approx(
        700 * np.exp(0.02), rel=1e-12
    )
    cut = field.validate_python({"dist": "normal", "mean": 1.0, "sd": 0.42})  # ~0.9% of the mass below 0
    assert cut.mean() == pytest.approx(st.truncnorm(-1.0 / 0.42, np.inf, loc=1.0, scale=0.42).mean(), rel=1e-9)
