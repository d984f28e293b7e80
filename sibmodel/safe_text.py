"""Text from scenarios, made safe for where it is written: terminals and CSV files.

A scenario is untrusted input: its names and sources may hold terminal escape
codes (which can recolour a terminal, move its cursor or set its window title)
or start with ``=`` (which a spreadsheet opening a CSV file runs as a formula).

- :func:`terminal_text` removes control characters; :func:`filtered_output`
  applies it to everything a command writes to stdout and stderr.
- :func:`write_csv` writes every CSV file sibmodel makes, with text cells that
  begin with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return prefixed with
  a single quote, as the OWASP "CSV Injection" page advises.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys

#: C0 controls but tab and newline, DEL, and the C1 controls (0x9b is a one-byte CSI).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")

#: First characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def terminal_text(text: str) -> str:
    """``text`` without control characters (escape codes, bell, backspace, carriage return),
    keeping tabs and newlines."""
    return _CONTROL.sub("", text)


class _FilteredStream(io.TextIOBase):
    """A text stream that writes :func:`terminal_text` of what it is given to ``stream``."""

    def __init__(self, stream):
        self.unfiltered = stream

    def write(self, text):
        if not isinstance(text, str):  # click probes for a binary stream with b""
            raise TypeError("a text stream")
        self.unfiltered.write(terminal_text(text))
        return len(text)

    def flush(self):
        self.unfiltered.flush()

    def isatty(self):
        return self.unfiltered.isatty()

    def fileno(self):
        return self.unfiltered.fileno()

    def writable(self):
        return True

    @property
    def encoding(self):
        return getattr(self.unfiltered, "encoding", "utf-8")

    @property
    def errors(self):
        return getattr(self.unfiltered, "errors", "strict")


@contextlib.contextmanager
def filtered_output():
    """Within the block, ``sys.stdout`` and ``sys.stderr`` drop control characters.

    A progress bar (which needs the carriage return) writes to the stream's
    ``unfiltered`` attribute (see :mod:`sibmodel.cli.progress`).
    """
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _FilteredStream(sys.stdout), _FilteredStream(sys.stderr)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        sys.stdout, sys.stderr = saved


def csv_cell(value):
    """``value``, with a single quote in front if it is text a spreadsheet would run as a formula,
    and without terminal escape codes (:func:`terminal_text`; tabs and newlines are kept)."""
    if not isinstance(value, str):
        return value
    value = terminal_text(value)  # first, so that "\x1b=..." cannot hide a formula
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def write_csv(frame, path: str | os.PathLike) -> None:
    """Write a pandas DataFrame as CSV (no index), its text cells and headers made safe by :func:`csv_cell`.

    Numbers stay numbers (a negative number is not text and keeps its minus sign).
    """
    safe = frame.rename(columns=lambda c: csv_cell(c) if isinstance(c, str) else c)
    for name in safe.columns:
        column = safe[name]
        if column.dtype == object or str(column.dtype) in ("string", "str", "category"):
            safe[name] = column.map(csv_cell)
    safe.to_csv(path, index=False)
