"""sibmodel: a Monte Carlo financial model of a social impact bond."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .exceptions import ScenarioError
from .scenario import load_scenario
from .schema import Scenario

try:
    __version__ = version("sibmodel")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"



def simulate(scenario, draws: int = 2000, seed: int | None = None, **kwargs):
    """Simulate a scenario; see :func:`sibmodel.engine.simulate`."""
    from .engine import simulate as _simulate

    return _simulate(scenario, draws=draws, seed=seed, **kwargs)


__all__ = ["Scenario", "ScenarioError", "load_scenario", "simulate", "__version__"]
