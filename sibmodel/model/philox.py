"""Counter-based random numbers: Philox4x32-10, keyed by (seed, purpose, borough).

Every random number of a run is a pure function of where it is used, not of the
order it is drawn in (Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as
easy as 1, 2, 3", SC11, 2011; the Random123 library of D. E. Shaw Research):

* the **key** (two 32-bit words) is derived from the root seed (once per run), the
  purpose (``"pathways"``, ``"param:care.entry.prob"``, ...) and, for the per-person
  purposes, the borough's *name* (:func:`key_of`, by numpy's ``SeedSequence``);
* the **counter** (four 32-bit words) carries the draw index within the whole run,
  then what the purpose needs: (quarter, person index within the borough's quarter,
  spell), (cohort, 0, 0), (attempt, ...) and so on.

A young person's uniforms therefore depend only on (seed, draw, borough, quarter,
person index, spell, purpose): not on the chunk, the worker, the other boroughs,
nor on how many numbers anything else drew.  :func:`philox4x32` is checked bit for
bit against Random123's known-answer vectors (``tests/test_philox.py``).

A uniform double takes 53 bits from two words (as numpy's ``random()`` does from
64 bits); a 32-bit uniform ``(w + 0.5) / 2**32`` is used where 2**-32 resolution is
plenty (a placement type, a breakdown, a week within a quarter).
"""

from __future__ import annotations

import math
import zlib

import numpy as np
from numba import njit

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_MASK = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)

#: Rounds of the Philox network (Random123's default and recommendation for 4x32).
ROUNDS = 10


@njit(cache=True, nogil=True, inline="always")
def philox4x32(k0, k1, c0, c1, c2, c3):  # pragma: no cover - compiled; covered by tests/test_philox.py
    """Philox4x32-10 of the counter ``(c0, c1, c2, c3)`` under the key ``(k0, k1)``.

    Every argument and result is a 32-bit word held in a ``uint64``.

    Returns
    -------
    tuple of 4 uint64
        The four output words.
    """
    k0 = np.uint64(k0) & _MASK
    k1 = np.uint64(k1) & _MASK
    x0 = np.uint64(c0) & _MASK
    x1 = np.uint64(c1) & _MASK
    x2 = np.uint64(c2) & _MASK
    x3 = np.uint64(c3) & _MASK
    for r in range(ROUNDS):
        if r > 0:  # the key schedule: bumped before every round but the first
            k0 = (k0 + _W0) & _MASK
            k1 = (k1 + _W1) & _MASK
        p0 = _M0 * x0
        p1 = _M1 * x2
        y0 = (p1 >> _S32) ^ x1 ^ k0
        y2 = (p0 >> _S32) ^ x3 ^ k1
        x0, x1, x2, x3 = y0, p1 & _MASK, y2, p0 & _MASK
    return x0, x1, x2, x3


@njit(cache=True, nogil=True, inline="always")
def double_of(hi, lo):  # pragma: no cover - compiled
    """A uniform double in (0, 1) from two 32-bit words: 53 bits, as numpy's ``random()``, shifted
    half a step off 0 (``(m + 0.5) / 2**53``), so ``-ln U`` is finite."""
    m = (np.uint64(hi) >> np.uint64(5)) * np.uint64(67108864) + (np.uint64(lo) >> np.uint64(6))
    return (np.float64(m) + 0.5) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True, inline="always")
def single_of(w):  # pragma: no cover - compiled
    """A uniform in (0, 1) from one 32-bit word: ``(w + 0.5) / 2**32``."""
    return (np.float64(np.uint64(w)) + 0.5) * (1.0 / 4294967296.0)


def key_of(entropy, purpose: str, borough: str = "") -> tuple[int, int]:
    """The Philox key of one purpose (and borough) under the run's root entropy.

    ``SeedSequence(entropy, spawn_key=(crc32(purpose), crc32(borough)))`` hashes them
    into two 32-bit words; a borough is named, not numbered, so its numbers do not
    depend on which other boroughs the scenario has.

    Parameters
    ----------
    entropy : int or sequence of int
        The run's root entropy (``numpy.random.SeedSequence(seed).entropy``).
    purpose : str
        What the numbers are for.
    borough : str
        The borough's name, or ``""`` for numbers that belong to a whole draw.
    """
    spawn = (zlib.crc32(purpose.encode("utf-8")), zlib.crc32(borough.encode("utf-8")))
    k = np.random.SeedSequence(entropy, spawn_key=spawn).generate_state(2, np.uint32)
    return int(k[0]), int(k[1])


def keys_of(entropy, purpose: str, boroughs) -> np.ndarray:
    """Keys of one purpose for each borough, shape (B, 2) uint64 (see :func:`key_of`)."""
    return np.array([key_of(entropy, purpose, b) for b in boroughs], dtype=np.uint64).reshape(-1, 2)


@njit(cache=True, nogil=True)
def _uniforms(k0, k1, c0, c1, c2, c3):  # pragma: no cover - compiled
    n = c0.size
    out = np.empty((2, n))
    for i in range(n):
        w0, w1, w2, w3 = philox4x32(k0, k1, c0[i], c1[i], c2[i], c3[i])
        out[0, i] = double_of(w0, w1)
        out[1, i] = double_of(w2, w3)
    return out


def uniform_pairs(key: tuple[int, int], c0, c1=0, c2=0, c3=0) -> np.ndarray:
    """Two uniform doubles in (0, 1) for each counter ``(c0, c1, c2, c3)`` (broadcast), shape (2, ...).

    Parameters
    ----------
    key : (int, int)
        From :func:`key_of`.
    c0, c1, c2, c3 : int or ndarray of int
        Counter words (each taken modulo 2**32).
    """
    arrs = np.broadcast_arrays(*(np.asarray(c, dtype=np.int64) for c in (c0, c1, c2, c3)))
    shape = arrs[0].shape
    flat = [np.ascontiguousarray(a.reshape(-1)).astype(np.uint64) for a in arrs]
    return _uniforms(np.uint64(key[0]), np.uint64(key[1]), *flat).reshape((2, *shape))


@njit(cache=True, nogil=True)
def _words(k0, k1, c0, c1, c2, c3):  # pragma: no cover - compiled
    out = np.empty((c0.size, 4), dtype=np.uint32)
    for i in range(c0.size):
        w = philox4x32(k0, k1, c0[i], c1[i], c2[i], c3[i])
        for j in range(4):
            out[i, j] = np.uint32(w[j])
    return out


def words(key: tuple[int, int], counters: np.ndarray) -> np.ndarray:
    """Raw Philox4x32-10 output for counters of shape (N, 4), shape (N, 4) uint32 (for tests and checks)."""
    c = np.ascontiguousarray(np.asarray(counters, dtype=np.uint64).reshape(-1, 4))
    return _words(np.uint64(key[0]), np.uint64(key[1]), c[:, 0].copy(), c[:, 1].copy(), c[:, 2].copy(), c[:, 3].copy())


# --- a keyed permutation of [0, n): the Latin hypercube's strata over the whole run ------------------------------


@njit(cache=True, nogil=True)
def _permute_one(k0, k1, x, n, half_bits):  # pragma: no cover - compiled
    """A bijection of [0, n): a 4-round Feistel network on ``2 * half_bits`` bits (round function Philox),
    walked until the image falls inside [0, n) (cycle walking keeps it a bijection)."""
    mask = (np.uint64(1) << np.uint64(half_bits)) - np.uint64(1)
    y = np.uint64(x)
    while True:
        left = y >> np.uint64(half_bits)
        right = y & mask
        for r in range(4):
            f = philox4x32(k0, k1, right, np.uint64(r), np.uint64(0), np.uint64(0))[0] & mask
            left, right = right, left ^ f
        y = (left << np.uint64(half_bits)) | right
        if y < np.uint64(n):
            return np.int64(y)


@njit(cache=True, nogil=True)
def _permute(k0, k1, x, n, half_bits):  # pragma: no cover - compiled
    out = np.empty(x.size, dtype=np.int64)
    for i in range(x.size):
        out[i] = _permute_one(k0, k1, x[i], n, half_bits)
    return out


def permute(key: tuple[int, int], index: np.ndarray, n: int) -> np.ndarray:
    """The keyed pseudo-random permutation of ``[0, n)`` evaluated at ``index`` (each in [0, n)).

    A pure function of (key, index, n): the image of one index needs no other, so a
    draw's Latin hypercube stratum is known from its own index and the run's size.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    half_bits = max(1, math.ceil(math.log2(n) / 2)) if n > 1 else 1
    x = np.ascontiguousarray(index, dtype=np.int64)
    return _permute(np.uint64(key[0]), np.uint64(key[1]), x, np.int64(n), half_bits)


# --- Poisson and gamma variates from counters ------------------------------------------------------------------


@njit(cache=True, nogil=True)
def gamma_variate(k0, k1, c0, c1, c2, shape):  # pragma: no cover - compiled
    """A standard gamma variate of ``shape`` > 0 (Marsaglia and Tsang, 2000), attempt ``a`` from counter
    ``(c0, c1, c2, a)``; for ``shape < 1`` the gamma of ``shape + 1`` times ``U ** (1 / shape)``."""
    boost = 1.0
    alpha = shape
    if shape < 1.0:
        w = philox4x32(k0, k1, c0, c1, c2, np.uint64(0xFFFFFFFF))
        boost = double_of(w[0], w[1]) ** (1.0 / shape)
        alpha = shape + 1.0
    d = alpha - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    for a in range(1 << 20):
        w = philox4x32(k0, k1, c0, c1, c2, np.uint64(a))
        u1 = double_of(w[0], w[1])
        u2 = single_of(w[2])
        u3 = single_of(w[3])
        z = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)  # Box-Muller
        v = 1.0 + c * z
        if v <= 0.0:
            continue
        v = v * v * v
        if math.log(u3) < 0.5 * z * z + d - d * v + d * math.log(v):
            return d * v * boost
    return d * boost  # not reached (acceptance is above 95% per attempt)


@njit(cache=True, nogil=True)
def poisson_variate(k0, k1, c0, c1, c2, lam):  # pragma: no cover - compiled
    """A Poisson variate of mean ``lam`` >= 0: inversion below 10, else Hormann's PTRS (1993, as numpy's
    ``random_poisson_ptrs``), attempt ``a`` from counter ``(c0, c1, c2, a)``."""
    if not lam > 0.0:
        return 0
    if lam < 10.0:
        w = philox4x32(k0, k1, c0, c1, c2, np.uint64(0))
        u = double_of(w[0], w[1])
        p = math.exp(-lam)
        f = p
        k = 0
        while u > f and k < 1000:
            k += 1
            p *= lam / k
            f += p
        return k
    slam = math.sqrt(lam)
    loglam = math.log(lam)
    b = 0.931 + 2.53 * slam
    a_ = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)
    for att in range(1 << 20):
        w = philox4x32(k0, k1, c0, c1, c2, np.uint64(att))
        u = double_of(w[0], w[1]) - 0.5
        v = double_of(w[2], w[3])
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a_ / us + b) * u + lam + 0.43)
        if us >= 0.07 and v <= vr:
            return np.int64(k)
        if k < 0 or (us < 0.013 and v > us):
            continue
        if math.log(v) + math.log(invalpha) - math.log(a_ / (us * us) + b) <= -lam + k * loglam - math.lgamma(k + 1.0):
            return np.int64(k)
    return np.int64(lam)  # not reached
