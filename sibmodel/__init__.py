"""sibmodel: a Monte Carlo financial model of a social impact bond."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sibmodel.exceptions import ScenarioError

if TYPE_CHECKING:
    from sibmodel.scenario.load import load_scenario
    from sibmodel.scenario.schema import Scenario

from sibmodel.version import __version__


def __getattr__(name: str):
    # Scenario and load_scenario are imported on first use, so that `sibmodel --help`
    # (which imports this package for __version__) does not build the pydantic schema.
    if name == "Scenario":
        from sibmodel.scenario.schema import Scenario

        return Scenario
    if name == "load_scenario":
        from sibmodel.scenario.load import load_scenario

        return load_scenario
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def simulate(scenario, draws: int = 2000, seed: int | None = None, **kwargs):
    """Simulate a scenario.

    Parameters
    ----------
    scenario : Scenario or path-like
        A scenario, or the path of its YAML file (read with :func:`load_scenario`).
    draws : int
        Monte Carlo draws.
    seed : int, optional
        Root seed; ``None`` draws fresh entropy, recorded in the results.
    **kwargs
        ``chunk_size``, ``workers``, ``progress``, ``scheduler``, ``spool_dir``: see
        :func:`sibmodel.engine.run.simulate`.

    Returns
    -------
    sibmodel.results.run.Results
    """
    from sibmodel.engine.run import simulate as _simulate
    from sibmodel.scenario.load import as_scenario

    return _simulate(as_scenario(scenario), draws=draws, seed=seed, **kwargs)


__all__ = ["Scenario", "ScenarioError", "load_scenario", "simulate", "__version__"]
