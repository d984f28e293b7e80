"""A progress bar on stderr for long runs: draws done, rate and time left.

tqdm draws it (a runtime dependency: a small, pure-Python package that gets
rate estimates, terminal widths and redraw throttling right).  The bar appears
only after about a second, so short runs print nothing, and never when stderr
is not a terminal (pipes, CI, logs) or when the caller asks for quiet.
"""

from __future__ import annotations

import contextlib
import sys

#: Seconds a run must last before the bar appears [s].
DELAY_S = 1.0


@contextlib.contextmanager
def progress_bar(total_draws: int, enabled: bool = True, stream=None):
    """Yield a callback ``progress(draws_done)`` that updates a bar on ``stream``.

    Parameters
    ----------
    total_draws : int
        Draws in the run [draws].
    enabled : bool
        ``False`` (e.g. ``--quiet``) gives a callback that does nothing.
    stream : file, optional
        Where to draw (default ``sys.stderr``); nothing is drawn unless it is a terminal.

    Yields
    ------
    callable
        ``progress(draws_done)`` with the cumulative number of draws finished.
    """
    stream = sys.stderr if stream is None else stream
    stream = getattr(stream, "unfiltered", stream)  # the bar needs its carriage returns (safe_text.filtered_output)
    isatty = getattr(stream, "isatty", None)
    if not enabled or not (isatty and isatty()):
        yield lambda done: None
        return
    from tqdm import tqdm

    bar = tqdm(
        total=total_draws, unit="draw", unit_scale=True, file=stream, delay=DELAY_S, dynamic_ncols=True, leave=False
    )
    state = {"done": 0}

    def update(done: int) -> None:
        bar.update(done - state["done"])
        state["done"] = done

    try:
        yield update
    finally:
        bar.close()
