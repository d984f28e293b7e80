"""The scenario format documentation covers every field of the schema.

``docs/scenario-format.md`` documents each field in a table row that starts
with its dotted path in backticks, e.g. ``| `boroughs.<name>.join_date` |``.
Mapping keys chosen by the user are written ``<...>`` (any placeholder name),
list items ``[]``.  Distribution specs are documented as
``| `<dist>.<parameter>` |``, e.g. ``| `beta.mean` |``.
"""

from __future__ import annotations

import re
import types
import typing

import pytest
from pydantic import BaseModel
from support import ROOT

from sibmodel.scenario import quantities as uncertain
from sibmodel.scenario.schema import Scenario

DOCS = ROOT / "docs"
FORMAT = DOCS / "scenario-format.md"


def _members(tp) -> list:
    """The non-None members of a (possibly Annotated, Optional or union) type."""
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        out = []
        for arg in typing.get_args(tp):
            out.extend(_members(arg))
        return out
    return [] if tp is type(None) else [tp]


def _is_model(tp) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _is_spec(tp) -> bool:
    return _is_model(tp) and issubclass(tp, uncertain._Spec)


def schema_paths(model: type[BaseModel] = Scenario, prefix: str = "") -> set[str]:
    """Every documented path of ``model``'s fields, by alias, with ``<>`` and ``[]`` placeholders."""
    paths = set()
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"
        paths.add(path)
        for tp in _members(field.annotation):
            origin, args = typing.get_origin(tp), typing.get_args(tp)
            if origin is dict:
                for inner in _members(args[1]):
                    if _is_model(inner) and not _is_spec(inner):
                        paths |= schema_paths(inner, f"{path}.<>.")
            elif origin is list:
                for inner in _members(args[0]):
                    if _is_model(inner) and not _is_spec(inner):
                        paths |= schema_paths(inner, f"{path}[].")
            elif _is_model(tp) and not _is_spec(tp):
                paths |= schema_paths(tp, f"{path}.")
    return paths


SPECS = [
    uncertain.Fixed,
    uncertain.Beta,
    uncertain.Normal,
    uncertain.LogNormal,
    uncertain.Triangular,
    uncertain.Pert,
    uncertain.Uniform,
]


def spec_paths() -> set[str]:
    """``<dist>.<parameter>`` for every parameter of every distribution spec."""
    out = set()
    for spec in SPECS:
        dist = typing.get_args(spec.model_fields["dist"].annotation)[0]
        for name, field in spec.model_fields.items():
            if field.exclude:
                continue  # internal (set by the field, never by the user)
            key = field.alias or name
            # dist and source are common to every spec: documented once as `<dist>.dist`, `<dist>.source`
            out.add(f"<>.{key}" if key in ("dist", "source") else f"{dist}.{key}")
    return out


def documented_paths() -> set[str]:
    """Paths in the first cell of every table row of scenario-format.md, placeholders normalised."""
    rows = re.findall(r"^\|\s*`([^`]+)`", FORMAT.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {re.sub(r"<[^>]*>", "<>", row) for row in rows}


def test_walker_finds_known_fields():
    # guards the walker itself: a sample of fields the schema is known to have (schema.py)
    paths = schema_paths()
    assert {
        "metadata.price_year",
        "boroughs.<>.join_date",
        "boroughs.<>.starts.per_quarter",
        "interventions.<>.delivery.teams.<>.provider",
        "care.entry.shape[].from_week",
        "contract.tariffs[].payment_per_week_gbp",
        "contract.tariffs[].baseline_care_share",
        "observed.<>.figure",
    } <= paths
    assert len(paths) > 100
    assert {"beta.mean", "lognormal.sigma", "pert.mode", "fixed.value"} <= spec_paths()


@pytest.mark.parametrize("kind", ["schema", "distributions"])
def test_every_field_is_documented(kind):
    expected = schema_paths() if kind == "schema" else spec_paths()
    missing = sorted(expected - documented_paths())
    assert not missing, f"fields missing from {FORMAT.name}: {missing}"


def test_documented_fields_exist():
    # a row for a field that no longer exists misleads as much as a missing one
    stale = sorted(documented_paths() - schema_paths() - spec_paths())
    assert not stale, f"rows in {FORMAT.name} for fields the schema does not have: {stale}"


def test_nomenclature_names_the_conventions():
    text = (DOCS / "nomenclature.md").read_text(encoding="utf-8")
    for term in ("_gbp", "_weeks", "_quarters", "horizon_weeks", "13 weeks", "prob"):
        assert term in text


def test_complete_example_in_the_docs_validates(tmp_path):
    from sibmodel.scenario.load import load_scenario

    text = FORMAT.read_text(encoding="utf-8")
    section = text.split("## A complete short scenario", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, flags=re.DOTALL).group(1)
    path = tmp_path / "example.yaml"
    path.write_text(example, encoding="utf-8")
    s = load_scenario(path)
    assert list(s.boroughs) == ["Bexley", "Sutton"]
