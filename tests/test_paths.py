"""Dotted paths (sibmodel/scenario/paths.py): the one walk used by --set, levers, calibration and saved runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from sibmodel.scenario.paths import PathError, get_path, set_path


def test_get_and_set_through_mappings_and_lists():
    doc = {"contract": {"tariffs": [{"payment_gbp": 1.0}, {"payment_gbp": 2.0}]}}
    assert get_path(doc, "contract.tariffs.1.payment_gbp") == 2.0
    set_path(doc, "contract.tariffs.0.payment_gbp", 5.0)
    assert doc["contract"]["tariffs"][0]["payment_gbp"] == 5.0


def test_create_makes_missing_and_null_mappings():
    doc = {"a": None}
    set_path(doc, "a.b.c", 1, create=True)
    set_path(doc, "x.y", 2, create=True)
    assert doc == {"a": {"b": {"c": 1}}, "x": {"y": 2}}


@pytest.mark.parametrize("path, where, given", [("l.-1", "l.-1", "-1"), ("l.2", "l.2", "2"), ("l.x.y", "l.x", "x")])
def test_list_index_must_be_a_whole_number_in_range(path, where, given):
    doc = {"l": [{"y": 0}, {"y": 1}]}
    with pytest.raises(PathError) as err:
        set_path(doc, path, 0)
    assert (err.value.path, err.value.given) == (where, given)
    assert "allowed 0 to 1" in err.value.message


def test_cannot_set_inside_a_number():
    doc = {"a": 3}
    with pytest.raises(PathError) as err:
        set_path(doc, "a.b.c", 1, create=True)
    assert err.value.path == "a" and "not a mapping" in err.value.message


def test_get_reads_model_attributes():
    from sibmodel import load_scenario

    s = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "pfp.yaml")
    assert get_path(s, "contract.payment_lag_quarters") == s.contract.payment_lag_quarters
    with pytest.raises(PathError):
        get_path(s, "contract.no_such_field")
