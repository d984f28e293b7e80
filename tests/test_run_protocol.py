"""A fresh run (Results) and the same run read back from its folder (load_run) are one kind of thing:
both satisfy sibmodel.results.run.RunLike and give the same summary, manifest, cash flows and occupancy."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sibmodel import load_scenario
from sibmodel.engine.run import simulate
from sibmodel.results.run import Results, RunLike
from sibmodel.results.rundir import SavedRun, load_run

ROOT = Path(__file__).resolve().parents[1]


def _same(a, b, path="summary"):
    """Equal, key by key, with NaN equal to NaN and the same Python types (None stays None)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}.{i}")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), (path, b)
    else:
        assert a == b and type(a) is type(b), (path, a, b)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    # no seed: meta.seed is None (not given); Essex's validation rows have notes that are None; with
    # no outcome payments every IRR is undefined, so the IRR figures are NaN
    s = load_scenario(ROOT / "scenarios" / "essex" / "essex_mst.yaml", ["contract.tariffs.0.share_of_placement_cost=0"])
    fresh = simulate(s, draws=120, seed=None)
    saved = load_run(fresh.to_dir(tmp_path_factory.mktemp("run") / "run"))
    return fresh, saved


def test_both_satisfy_the_protocol(both):
    fresh, saved = both
    assert isinstance(fresh, Results) and isinstance(saved, SavedRun)
    assert isinstance(fresh, RunLike) and isinstance(saved, RunLike)


def test_equal_summaries_nan_and_none_round_trip(both):
    fresh, saved = both
    summary = fresh.summary()
    assert summary["meta"]["seed"] is None and any(row.get("note", 0) is None for row in summary["validation"])
    assert math.isnan(summary["investor"]["irr"]["p50"])
    _same(fresh.summary(), saved.summary())


def test_manifest_is_a_dict_on_both(both):
    fresh, saved = both
    assert isinstance(fresh.manifest, dict) and isinstance(saved.manifest, dict)
    assert set(fresh.manifest) == set(saved.manifest)
    for key in set(fresh.manifest) - {"written_at"}:  # written_at: when it was asked for
        assert fresh.manifest[key] == saved.manifest[key], key


def test_same_tables(both):
    fresh, saved = both
    pd.testing.assert_frame_equal(fresh.cashflows, saved.cashflows)
    pd.testing.assert_frame_equal(fresh.occupancy, saved.occupancy)
    assert len(fresh.draws) == len(saved.draws) == 120
    for col in ("investor_moic", "outcome_payments_gbp"):
        np.testing.assert_array_equal(fresh.draws[col].to_numpy(), saved.draws[col].to_numpy())
