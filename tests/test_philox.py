"""The counter-based generator (sibmodel.model.philox): Philox4x32-10 against Random123's known answers,
uniformity, independence of neighbouring counters and keys, the keyed permutation, Poisson and gamma."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from scipy import stats

from sibmodel.model import philox

#: Random123's known-answer vectors for philox4x32 with 10 rounds (D. E. Shaw Research, Random123 1.09,
#: tests/kat_vectors): counter (4 words), key (2 words), output (4 words).
KAT_PHILOX4X32_10 = [
    (
        (0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x00000000, 0x00000000),
        (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8),
    ),
    (
        (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF),
        (0xFFFFFFFF, 0xFFFFFFFF),
        (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD),
    ),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize(("counter", "key", "expected"), KAT_PHILOX4X32_10)
def test_philox4x32_10_matches_random123_known_answers(counter, key, expected):
    assert tuple(int(w) for w in philox.words(key, np.array([counter]))[0]) == expected


def test_doubles_and_singles_are_uniform():
    """Kolmogorov-Smirnov against U(0, 1) for the 53-bit doubles and the 32-bit singles of consecutive counters."""
    key = philox.key_of(12345, "test")
    u = philox.uniform_pairs(key, np.arange(200_000))
    for row in u:
        assert stats.kstest(row, "uniform").pvalue > 1e-3
    w = philox.words(
        key, np.stack([np.arange(100_000), np.zeros(100_000), np.zeros(100_000), np.ones(100_000)], axis=1)
    )
    for j in range(4):
        assert stats.kstest((w[:, j].astype(float) + 0.5) / 2**32, "uniform").pvalue > 1e-3
    assert u.min() > 0.0 and u.max() < 1.0


def test_neighbouring_counters_and_keys_are_uncorrelated():
    """Counters one apart in each word, and keys one apart (and keys of neighbouring purposes and boroughs):
    the correlation of their uniforms is within 5 standard errors (1/sqrt(n)) of zero."""
    n = 100_000
    base = np.stack([np.arange(n), np.full(n, 7), np.full(n, 3), np.zeros(n)], axis=1)
    key = philox.key_of(1, "pathways", "Bexley")
    u0 = philox.words(key, base)[:, 0] / 2**32
    bound = 5 / np.sqrt(n)
    for word in range(4):
        step = base.copy()
        step[:, word] += 1
        u1 = philox.words(key, step)[:, 0] / 2**32
        assert abs(np.corrcoef(u0, u1)[0, 1]) < bound, word
    for other in (
        (key[0] + 1, key[1]),
        (key[0], key[1] + 1),
        philox.key_of(1, "pathways", "Merton"),
        philox.key_of(2, "pathways", "Bexley"),
    ):
        u1 = philox.words(other, base)[:, 0] / 2**32
        assert abs(np.corrcoef(u0, u1)[0, 1]) < bound, other
    # the four words of one output are uncorrelated with each other
    w = philox.words(key, base) / 2**32
    c = np.corrcoef(w.T)
    assert np.all(np.abs(c[np.triu_indices(4, 1)]) < bound)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 1000, 4097])
def test_permute_is_a_bijection_of_the_range(n):
    key = philox.key_of(3, "lhs:x")
    image = philox.permute(key, np.arange(n), n)
    assert sorted(image.tolist()) == list(range(n))
    if n >= 64:  # not the identity, and another key gives another permutation
        assert (image != np.arange(n)).mean() > 0.9
        assert not np.array_equal(image, philox.permute(philox.key_of(4, "lhs:x"), np.arange(n), n))


@njit
def _poissons(k0, k1, lam, n):
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        out[i] = philox.poisson_variate(k0, k1, i, 0, 0, lam)
    return out


@njit
def _gammas(k0, k1, shape, n):
    out = np.empty(n)
    for i in range(n):
        out[i] = philox.gamma_variate(k0, k1, i, 0, 1, shape)
    return out


@pytest.mark.parametrize("lam", [0.3, 4.0, 9.99, 10.0, 37.5, 900.0])
def test_poisson_variates_follow_the_poisson_distribution(lam):
    """Inversion below 10, PTRS above: a chi-square test against scipy's Poisson pmf (cells with 5+ expected)."""
    k0, k1 = philox.key_of(9, "referrals", "Newham")
    n = 60_000
    x = _poissons(np.uint64(k0), np.uint64(k1), lam, n)
    lo, hi = int(stats.poisson.ppf(1e-4, lam)), int(stats.poisson.ppf(1 - 1e-4, lam))
    edges = np.arange(lo, hi + 2)
    obs = np.array([(x < lo).sum(), *np.histogram(x, bins=edges)[0], (x > hi).sum()])
    p = np.array([stats.poisson.cdf(lo - 1, lam), *stats.poisson.pmf(edges[:-1], lam), stats.poisson.sf(hi, lam)])
    exp = p * n
    keep = exp >= 5
    obs = np.append(obs[keep], obs[~keep].sum())
    exp = np.append(exp[keep], exp[~keep].sum())
    if exp[-1] < 5:
        obs, exp = obs[:-1], exp[:-1]
    assert stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue > 1e-4


@pytest.mark.parametrize("shape", [0.4, 1.0, 2.0, 8.0, 50.0])
def test_gamma_variates_follow_the_gamma_distribution(shape):
    k0, k1 = philox.key_of(9, "referrals", "Sutton")
    x = _gammas(np.uint64(k0), np.uint64(k1), shape, 50_000)
    assert stats.kstest(x, "gamma", args=(shape,)).pvalue > 1e-3
