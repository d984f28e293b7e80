"""Provenance: every command that writes a folder writes ``manifest.json`` (issue 17).

The manifest holds the command line, the seed and its entropy, the draws, the hash of each
scenario, the ``--set`` overrides and the versions of sibmodel, Python and every dependency
declared in pyproject.toml; the hash and versions are checked against independent sources
(the scenario loaded again with the same overrides, each library's own ``__version__``).
"""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pandas as pd
import pytest
from support import PFP, ROOT, invoke, scenario_file

from sibmodel import load_scenario, simulate
from sibmodel.results.folders import MARKER_FILE
from sibmodel.scenario.load import scenario_hash

LAG = "contract.payment_lag_quarters=2"
EFFECT_HALVED = scenario_file("stress/effect_halved.yaml")

#: Each command that writes a folder, with small draws, a seed and (where it has --set) an override.
COMMANDS = {
    "run": (["run", PFP, "--draws", "20", "--seed", "5", "--no-report", "--quiet", "--set", LAG], 20, [PFP]),
    "compare": (["compare", PFP, EFFECT_HALVED, "--draws", "20", "--seed", "5"], 20, [PFP, EFFECT_HALVED]),
    "stress": (["stress", PFP, "--draws", "20", "--seed", "5", "--set", LAG], 20, [PFP]),
    "join": (
        ["join", PFP, "--borough", "Croydon", "--no-break-even", "--draws", "20", "--seed", "5", "--set", LAG],
        20,
        [PFP],
    ),
    "baseline": (["baseline", PFP, "--draws", "20", "--seed", "5", "--set", LAG], 20, [PFP]),
    "sensitivity": (["sensitivity", PFP, "--n-base", "2", "--replicates", "1", "--seed", "5", "--set", LAG], 1, [PFP]),
}


def _declared_dependencies() -> list[str]:
    """The runtime dependencies named in pyproject.toml (read here, apart from the package)."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [re.match(r"[A-Za-z0-9_.-]+", req).group(0).lower() for req in project["dependencies"]]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_output_folder_has_a_manifest(tmp_path, command):
    args, draws, files = COMMANDS[command]
    out = tmp_path / command
    r = invoke(*args, "--out", out)
    assert r.exit_code == 0, r.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == command
    assert manifest["command_line"] == ["sibmodel", *args, "--out", str(out)]
    assert manifest["seed"] == 5 and manifest["seed_entropy"] == "5"  # SeedSequence(5).entropy is 5
    assert manifest["draws"] == draws
    overrides = [LAG] if "--set" in args else []
    assert manifest["overrides"] == overrides
    assert manifest["scenario_hashes"] == {f: scenario_hash(load_scenario(f, overrides)) for f in files}
    versions = manifest["versions"]
    assert versions["numpy"] == np.__version__ and versions["pandas"] == pd.__version__
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))
    assert set(_declared_dependencies()) <= set(versions), set(_declared_dependencies()) - set(versions)
    # sibmodel wrote it: it is in the marker's list, so --overwrite may replace it
    assert "manifest.json" in json.loads((out / MARKER_FILE).read_text())["files"]


def test_run_prints_the_seed_it_was_given(tmp_path):
    """`run --seed 1` prints "seed 1"; without --seed it prints the entropy it drew, and summary.json keeps it."""
    r = invoke("run", PFP, "--draws", "20", "--seed", "1", "--no-report", "--out", tmp_path / "a")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0] == "20 draws, seed 1"
    meta = json.loads((tmp_path / "a" / "summary.json").read_text())["meta"]
    assert meta["seed"] == 1 and meta["seed_entropy"] == "1"
    r = invoke("run", PFP, "--draws", "20", "--no-report", "--out", tmp_path / "b")
    meta = json.loads((tmp_path / "b" / "summary.json").read_text())["meta"]
    assert meta["seed"] is None
    assert r.output.splitlines()[0] == f"20 draws, seed entropy {meta['seed_entropy']}"
    assert json.loads((tmp_path / "b" / "manifest.json").read_text())["seed_entropy"] == meta["seed_entropy"]


def test_report_rebuild_is_recorded_and_keeps_the_run_provenance(tmp_path):
    out = tmp_path / "r"
    assert (
        invoke(
            "run", PFP, "--draws", "20", "--seed", "2", "--no-report", "--quiet", "--set", LAG, "--out", out
        ).exit_code
        == 0
    )
    before = json.loads((out / "manifest.json").read_text())
    for _ in range(2):
        r = invoke("report", out)
        assert r.exit_code == 0, r.output
    after = json.loads((out / "manifest.json").read_text())
    rebuilds = after.pop("report_rebuilds")
    assert after == before
    assert [b["command_line"] for b in rebuilds] == [["sibmodel", "report", str(out)]] * 2
    assert all(b["versions"]["numpy"] == np.__version__ for b in rebuilds)
    # the report's title names the overrides of the run it shows
    assert f"(--set {LAG})</h1>" in (out / "report.html").read_text()
    assert "manifest.json" in json.loads((out / MARKER_FILE).read_text())["files"]


def test_a_run_saved_from_python_has_the_same_manifest_keys(tmp_path):
    """From the Python API there is no command line: it is null, everything else is recorded."""
    res = simulate(PFP, draws=20, seed=4)
    folder = res.to_dir(tmp_path / "api")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["command_line"] is None and manifest["command"] == "run"
    assert manifest["seed"] == 4 and manifest["draws"] == 20 and manifest["overrides"] == []
    assert manifest["scenario_hashes"] == {res.scenario.metadata.name: scenario_hash(load_scenario(PFP))}
