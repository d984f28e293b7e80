"""The kernel's search of a cumulative hazard table against ``np.searchsorted``.

Reference: ``np.searchsorted(C, target, side="left")``, numpy's binary search,
which is by definition the smallest ``j`` with ``C[j] >= target`` on a
non-decreasing row ``C`` (and is independent of the kernel's code).  The kernel
(:func:`sibmodel.model.pathways._advance`) asks :func:`~sibmodel.model.pathways._bucket_guess`
first and, when the guess is not certain, the branch-free binary search
:func:`~sibmodel.model.pathways._bisect_first_at_least` it used before; the answer must
be the reference's for every target the kernel can search (``target <= C[-1]``,
or NaN: 0, as the binary search gives).

The tables are adversarial: long flat stretches (weeks with no hazard, at the
start, the middle and the end), rows that are all zero, a single jump, a row
that reaches infinity, huge (1e300) and tiny (1e-300, subnormal) scales,
widths below the guess window; the targets are every table value exactly, the
neighbouring floats (``np.nextafter``), the bucket bounds and their neighbours,
0, -0.0 and random values in range.  Rows that are not sorted (or hold NaN)
must never take the guess, so the kernel keeps the old binary search's answer
there.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from sibmodel.model.pathways import (
    _GUESS_WEEKS,
    _bisect_first_at_least,
    _bucket_guess,
    _bucket_index,
    _bucket_of,
)


@njit(cache=False)
def _search_all(tables, h, r, targets, bucket_start_week, buckets_per_hazard):  # pragma: no cover - compiled
    """The kernel's rule for each target: the bucket guess, else the binary search.

    Returns the answers [weeks] and whether each came from the guess.
    """
    weeks = np.empty(targets.size, np.int64)
    guessed = np.empty(targets.size, np.bool_)
    for i in range(targets.size):
        week, certain = _bucket_guess(tables, h, r, targets[i], bucket_start_week, buckets_per_hazard)
        if not certain:
            week = _bisect_first_at_least(tables, h, r, targets[i])
        weeks[i] = week
        guessed[i] = certain
    return weeks, guessed


def _profiles(width: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Weekly hazard profiles [ratio] of ``width - 1`` weeks, each an adversarial case."""
    n = width - 1
    base = rng.uniform(0.01, 0.3, n)
    flat = base.copy()
    for lo, hi in ((0, n // 5), (n // 3, n // 2), (n - n // 6, n)):
        flat[lo:hi] = 0.0  # no hazard at the start, the middle and the end: repeated table values
    sparse = np.where(rng.random(n) < 0.7, 0.0, base)  # mostly flat
    one_jump = np.zeros(n)
    one_jump[n // 2 :][:1] = 1.0
    steps = np.repeat(rng.uniform(0.0, 1.0, n // 10 + 1), 10)[:n]  # constant stretches of 10 weeks
    decaying = 0.5 ** np.arange(n)  # falls below the smallest normal float: many equal table values at the end
    out = [base, flat, sparse, np.zeros(n), one_jump, steps, decaying]
    out += [1e300 * base, 1e300 * flat, 1e-300 * base, 1e-300 * flat, 5e-324 * (rng.random(n) < 0.5)]
    with_inf = base.copy()
    with_inf[n // 2 :][:1] = np.inf  # the table reaches infinity: range without a finite size
    out.append(with_inf)
    return out


def _rows(width: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Cumulative hazard rows [weeks] of ``width`` entries from 0, one per profile of :func:`_profiles`."""
    out = []
    for profile in _profiles(width, rng):
        c = np.zeros(width)
        np.cumsum(profile, out=c[1:])  # as HazardTables builds it
        out.append(c)
    return out


def _targets(c: np.ndarray, bucket_bounds: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Targets [weeks] the kernel can search in row ``c``: at most ``c[-1]``, adversarial."""
    exact = np.concatenate([c, bucket_bounds, [0.0, -0.0]])
    t = np.concatenate([exact, np.nextafter(exact, -np.inf), np.nextafter(exact, np.inf)])
    finite_last = c[np.isfinite(c)][-1]
    t = np.concatenate(
        [t, rng.uniform(0.0, 1.0, 500) * finite_last, rng.uniform(0.0, 1.0, 50) * c[c > 0].min(initial=1.0)]
    )
    return t[t <= c[-1]]


def _check_row(c: np.ndarray, n_buckets: int, rng: np.random.Generator) -> np.ndarray:
    tables = np.ascontiguousarray(np.stack([np.zeros_like(c), c])[:, None, :])  # (2, 1, W): the kernel's layout, set 1
    start, per = _bucket_index(tables, n_buckets)
    spread = c[-1] - c[0]
    bounds = c[0] + np.arange(n_buckets) * spread / n_buckets if np.isfinite(spread) else np.zeros(0)
    targets = _targets(c, bounds, rng)
    weeks, guessed = _search_all(tables, 1, 0, targets, start, per)
    expected = np.searchsorted(c, targets, side="left")
    bad = np.flatnonzero(weeks != expected)
    assert bad.size == 0, (
        f"targets {targets[bad[:5]]!r}: {weeks[bad[:5]]} != {expected[bad[:5]]} (guessed {guessed[bad[:5]]})"
    )
    # the binary search alone agrees too (it is the fallback)
    _, bisect_only = _bucket_index(tables, n_buckets)
    bisect_only[:] = -1.0
    weeks_bisect, guessed_bisect = _search_all(tables, 1, 0, targets, start, bisect_only)
    assert not guessed_bisect.any()
    np.testing.assert_array_equal(weeks_bisect, expected)
    return guessed


@pytest.mark.parametrize("width", [1, 2, 3, _GUESS_WEEKS, _GUESS_WEEKS + 1, 13, 123])
@pytest.mark.parametrize("buckets_per_week", [None, 1, 4])
def test_search_is_searchsorted_left(width, buckets_per_week):
    """Guess else binary search, and the binary search alone, against the reference on every row."""
    rng = np.random.default_rng(width)
    guessed_any = []
    for c in _rows(width, rng):
        n_buckets = 1 if buckets_per_week is None else buckets_per_week * width
        guessed = _check_row(c, n_buckets, rng)
        if width < _GUESS_WEEKS:
            assert not guessed.any()  # rows shorter than the guess window: binary search only
        guessed_any.append(guessed.mean())
    if width >= 13 and buckets_per_week is not None:
        assert np.median(guessed_any) > 0.8  # the fast path is what answers, not the fallback


def test_nan_target_gives_week_zero_like_the_binary_search():
    c = np.concatenate([[0.0], np.cumsum(np.full(30, 0.1))])
    tables = np.ascontiguousarray(c[None, None, :])
    start, per = _bucket_index(tables, 31)
    weeks, _ = _search_all(tables, 0, 0, np.array([np.nan]), start, per)
    assert weeks[0] == 0 == _bisect_first_at_least(tables, 0, 0, np.nan)


@pytest.mark.parametrize("bad_value", [-0.5, np.nan])
def test_unsorted_rows_always_fall_back_to_the_binary_search(bad_value):
    rng = np.random.default_rng(5)
    profile = rng.uniform(0.0, 0.2, 40)
    profile[17] = bad_value  # a negative hazard or a NaN: the row is not non-decreasing
    c = np.zeros(41)
    np.cumsum(profile, out=c[1:])
    tables = np.ascontiguousarray(c[None, None, :])
    start, per = _bucket_index(tables, 41)
    assert per[0, 0] == -1.0
    targets = np.concatenate([c[np.isfinite(c)], rng.uniform(-0.5, 4.0, 200)])
    weeks, guessed = _search_all(tables, 0, 0, targets, start, per)
    assert not guessed.any()
    np.testing.assert_array_equal(weeks, [_bisect_first_at_least(tables, 0, 0, t) for t in targets])


@pytest.mark.parametrize("width", [_GUESS_WEEKS, 13, 123])
def test_any_bucket_start_gives_the_exact_answer(width):
    """The bucket starts are only hints: with random ones (wrong on either side) the answer stays exact."""
    rng = np.random.default_rng(1000 + width)
    for c in _rows(width, rng):
        tables = np.ascontiguousarray(c[None, None, :])
        start, per = _bucket_index(tables, width)
        random_start = rng.integers(0, width, start.shape).astype(start.dtype)
        targets = _targets(c, np.zeros(0), rng)
        weeks, _ = _search_all(tables, 0, 0, targets, random_start, per)
        np.testing.assert_array_equal(weeks, np.searchsorted(c, targets, side="left"))


@pytest.mark.parametrize("width", [13, 123])
def test_index_brackets_the_answer(width):
    """For a sorted row the answer lies between the start of the target's bucket and the next."""
    rng = np.random.default_rng(2000 + width)
    for c in _rows(width, rng):
        tables = np.ascontiguousarray(c[None, None, :])
        start, per = _bucket_index(tables, width)
        if per[0, 0] <= 0.0:
            continue  # flat or infinite: one bucket
        targets = _targets(c, np.zeros(0), rng)
        g = np.array([_bucket_of(t, c[0], per[0, 0], width - 1) for t in targets])
        upper = np.append(start[0, 0], width)[g + 1]
        answer = np.searchsorted(c, targets, side="left")
        assert np.all(start[0, 0, g] <= answer) and np.all(answer <= upper)
