"""Paths and helpers shared by the tests (fixtures are in ``conftest.py``).

Every path is absolute, built from this file's location, so the suite passes from any working
directory (``cd /tmp && python -m pytest /path/to/repo/tests``).
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from sibmodel.cli.commands import main
from sibmodel.model.calibrate import center
from sibmodel.scenario.paths import set_path
from sibmodel.scenario.quantities import Fixed
from sibmodel.scenario.schema import Scenario, iter_quantities

#: The repository's root folder.
ROOT = Path(__file__).resolve().parents[1]
#: The folder of shipped scenarios.
SCENARIOS = ROOT / "scenarios"


def scenario_files() -> list[Path]:
    """Every shipped scenario file (``scenarios/**/*.yaml``), not the borough blocks of
    ``scenarios/boroughs/`` (files for ``sibmodel join --borough-file``, not scenarios)."""
    return sorted(p for p in SCENARIOS.rglob("*.yaml") if "boroughs" not in p.relative_to(SCENARIOS).parts)


def scenario_file(relative: str) -> str:
    """Absolute path (as text) of a shipped scenario, e.g. ``scenario_file("essex/essex_mst.yaml")``."""
    return str(SCENARIOS / relative)


#: The Positive Families Partnership scenario (as a path, and as text for APIs and the CLI).
PFP_PATH = SCENARIOS / "pfp.yaml"
PFP = str(PFP_PATH)


def invoke(*args):
    """Run the ``sibmodel`` CLI in-process (arguments as text) and return click's result."""
    return CliRunner().invoke(main, [str(a) for a in args])


def centers(s: Scenario) -> dict[str, float]:
    """Each quantity's central value (:func:`sibmodel.model.calibrate.center`) by dotted path."""
    return {p: center(sp) for p, sp in iter_quantities(s)}


def all_fixed(s: Scenario) -> Scenario:
    """A copy of scenario ``s`` with every quantity fixed at its central value (source kept)."""
    data = s.model_dump(by_alias=True)
    for path, spec in iter_quantities(s):
        set_path(data, path, Fixed(value=center(spec), source=spec.source))
    return Scenario.model_validate(data)
