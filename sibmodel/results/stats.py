"""Statistics over draws that several layers use: where a per-draw curve first crosses zero."""

from __future__ import annotations

import numpy as np


def first_crossing(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each column of ``y`` first falls to zero or below, by linear interpolation in ``x``.

    Parameters
    ----------
    x : ndarray, shape (G,)
        Increasing grid.
    y : ndarray, shape (G, D)
        Values at the grid points, one column per draw.

    Returns
    -------
    root : ndarray, shape (D,)
        The crossing, clamped to ``[x[0], x[-1]]``; NaN where a column is zero everywhere
        (nothing at stake, e.g. a borough with no starts in that draw).
    below, above : ndarray of bool, shape (D,)
        Columns already at or below zero at ``x[0]``, and columns above zero everywhere.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    at_or_below = y <= 0
    reached = at_or_below.any(axis=0)
    j = np.argmax(at_or_below, axis=0)  # first grid point at or below zero
    below = reached & (j == 0)
    above = ~reached
    root = np.where(above, x[-1], x[0])
    mid = reached & (j > 0)
    jm = j[mid]
    cols = np.nonzero(mid)[0]
    y0, y1 = y[jm - 1, cols], y[jm, cols]
    root[mid] = x[jm - 1] + (x[jm] - x[jm - 1]) * y0 / (y0 - y1)
    root[np.all(y == 0, axis=0)] = np.nan
    return root, below, above
