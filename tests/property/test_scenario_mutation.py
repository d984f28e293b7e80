"""Property: any mutation of a valid scenario validates or raises ScenarioError.

A user can put anything in a YAML file.  Whatever they write, the loader must
either accept it or explain what is wrong through a
:class:`~sibmodel.exceptions.ScenarioError` (which the CLI turns into exit
code 2); any other exception would reach the user as a traceback.

The starting point is the resolved ``scenarios/pfp.yaml``.  Each example
applies one to three mutations: replace a node (leaf or subtree) with a random
JSON-like value or a random distribution spec, delete a key, add a key, or
append to a list.
"""

from __future__ import annotations

import copy
import datetime as dt
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import PFP

from sibmodel.exceptions import ScenarioError
from sibmodel.scenario.assumptions import assumption_log
from sibmodel.scenario.load import resolve, scenario_hash, validate_data
from sibmodel.scenario.quantities import DIST_NAMES

BASE = resolve(PFP)

# Key names worth trying: real field names (in the wrong place, or doubled) and typos of them.
FIELD_NAMES = sorted(
    {
        "dist",
        "value",
        "mean",
        "sd",
        "alpha",
        "beta",
        "low",
        "mode",
        "high",
        "median",
        "sigma",
        "source",
        "bounds",
        "extends",
        "metric",
        "join_date",
        "leave_date",
        "prob",
        "horizon_weeks",
        "placement_mix",
        "per_quarter",
        "total",
        "teams",
        "boroughs",
        "payment_lag_quarter",
        "weekly_cost_gbp",
        "from_week",
        "relative_hazard",
        "figure",
        "inputs",
        "rank_corr",
    }
)

numbers = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6),
    st.integers(),  # unbounded: huge integers too
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-2, max_value=2),
    st.sampled_from([0, 1, -1, 0.5, 1e-300, 1e300, 10**400]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    numbers,
    st.text(max_size=12),
    st.sampled_from(["", "2018-02-01", "1.5e6", "nan", "MST", "Bexley", "foster", "beta"]),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31)),
)
keys = st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=8), st.integers(-3, 3))
json_like = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)),
    max_leaves=12,
)
dist_specs = st.builds(
    lambda name, params: {"dist": name, **params},
    st.sampled_from(DIST_NAMES + ("gamma",)),
    st.dictionaries(
        st.sampled_from(["value", "mean", "sd", "alpha", "beta", "low", "mode", "high", "median", "sigma", "source"]),
        numbers,
        max_size=4,
    ),
)
values = st.one_of(json_like, dist_specs)


def _paths(node, prefix=()):
    """Every path (tuple of keys/indices) to a node of the document, the root included."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _get(doc, path):
    for k in path:
        doc = doc[k]
    return doc


@st.composite
def mutated_documents(draw):
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(doc))
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "replace", "delete", "add", "append"]))
        if not path:  # the root: replace the whole document, or add a top-level key
            if op == "replace":
                doc = draw(json_like)
                if not isinstance(doc, dict):
                    return doc
            else:
                doc[draw(keys)] = draw(values)
            continue
        parent = _get(doc, path[:-1])
        node = parent[path[-1]]
        if op == "replace":
            parent[path[-1]] = draw(values)
        elif op == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif op == "delete":
            parent.pop(path[-1])
        elif op == "add" and isinstance(node, dict):
            node[draw(keys)] = draw(values)
        elif op == "append" and isinstance(node, list):
            node.append(draw(st.one_of(values, st.just(copy.deepcopy(node[0])) if node else values)))
        else:
            parent[path[-1]] = draw(values)
    return doc


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_documents())
def test_any_mutation_validates_or_raises_scenario_error(doc):
    try:
        scenario = validate_data(doc, "mutated.yaml")
    except ScenarioError as exc:
        assert exc.issues, "a ScenarioError must carry at least one issue"
        for issue in exc.issues:
            assert issue.message
            assert str(issue).startswith("mutated.yaml")
        return
    # a scenario that validates can be summarised and hashed, as `sibmodel validate` does
    log = assumption_log(scenario)
    assert all(math.isfinite(a.mean) for a in log), [a for a in log if not math.isfinite(a.mean)]
    assert len(scenario_hash(scenario)) == 64


def test_the_unmutated_document_validates():
    # the property above is only meaningful if its starting point is valid
    validate_data(copy.deepcopy(BASE), "pfp.yaml")
