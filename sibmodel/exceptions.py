"""Exceptions raised by sibmodel.

Every error a user can cause with their input is a :class:`ScenarioError` (a
``ValueError``), carrying one :class:`Issue` per problem so that all problems
are reported at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Problems listed in one error message; the rest are counted ("... and N more").
MAX_SHOWN_ISSUES = 50


@dataclass(frozen=True)
class Issue:
    """One problem found in a scenario.

    Parameters
    ----------
    file : str or None
        The scenario file the problem was found in (``None`` for in-memory input).
    path : str
        Dotted path of the field, e.g. ``boroughs.Bexley.starts.per_quarter``;
        empty for the whole document.
    message : str
        What is wrong and what is allowed.
    given : object, optional
        The value that was given, when there was one.
    has_given : bool, keyword-only
        Whether ``given`` holds a value to show (``None`` may be the value given).
    """

    file: str | None
    path: str
    message: str
    given: object = None
    has_given: bool = field(default=False, kw_only=True)

    def __str__(self) -> str:
        where = self.file or "<scenario>"
        if self.path:
            where += f": {self.path}"
        text = f"{where}: {self.message}"
        if self.has_given:
            text += f" (given: {short_text(self.given)})"
        return text


def short_text(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to at most ``limit`` characters (ending ``...`` when cut), for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class SibmodelError(Exception):
    """Base class of every sibmodel error."""


class ScenarioError(SibmodelError, ValueError):
    """The scenario (file, overrides or in-memory data) is not valid.

    Parameters
    ----------
    issues : list of Issue
        Every problem found, in document order.
    """

    def __init__(self, issues: list[Issue]):
        self.issues = list(issues)
        super().__init__(self._text())

    def __reduce__(self):
        # rebuilt from its issues, not from its message, when it comes back from a worker process
        return (type(self), (self.issues,))

    #: Heading of the message.
    what = "in the scenario"

    def _text(self) -> str:
        n = len(self.issues)
        head = f"{n} problem{'s' if n != 1 else ''} {self.what}:"
        lines = [head] + [f"  - {issue}" for issue in self.issues[:MAX_SHOWN_ISSUES]]
        if n > MAX_SHOWN_ISSUES:
            lines.append(f"  ... and {n - MAX_SHOWN_ISSUES:,} more")
        return "\n".join(lines)

    @classmethod
    def one(cls, message: str, *, file: str | None = None, path: str = "", **given) -> ScenarioError:
        """Build an error holding a single issue."""
        if "given" in given:
            return cls([Issue(file, path, message, given["given"], has_given=True)])
        return cls([Issue(file, path, message)])


class CorrelationError(ScenarioError):
    """A rank-correlation matrix is not symmetric, unit-diagonal or positive semi-definite."""


class SchedulerError(SibmodelError):
    """A Dask scheduler cannot be reached, or Dask is not installed."""


class RunFolderError(SibmodelError):
    """A folder given as a saved run is not one (missing or unreadable files)."""
