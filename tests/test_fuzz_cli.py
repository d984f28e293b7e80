"""Fuzz: ``sibmodel run`` over mutated scenarios and command-line options (issue 14, item 8).

Whatever the scenario file and options hold, the command exits 0 or 2, prints
no traceback, and on failure leaves nothing in the output's parent folder.
Mutations replace one or two values of the resolved ``scenarios/pfp.yaml``
with hostile ones (the cases of issue 14: impossible dates, huge numbers,
true for a whole number, escape codes, formulas, distributions that overflow)
or add ``--set`` overrides; the options cover impossible draw counts,
``--workers 1000`` and tiny chunks.  Bounded: a few dozen examples of at most a
few draws each, and a per-example deadline.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support import PFP

from sibmodel.cli.commands import main
from sibmodel.scenario.load import resolve

BASE = resolve(PFP)


def _leaves(node, prefix=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, (*prefix, i))
    else:
        yield prefix


LEAVES = sorted(_leaves(BASE), key=str)

HOSTILE = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2,
    0.5,
    10**30,
    1.0e308,
    -1.0e308,
    1e13,
    1e-300,
    "",
    "nan",
    '=HYPERLINK("http://example.invalid")',
    "\x1b]0;title\x07\x1b[31m",
    "2023-02-30",
    "9999-12-31",
    dt.date(9999, 12, 31),
    dt.date(1900, 1, 1),
    [],
    {},
    [1, 2],
    {"dist": "lognormal", "median": 1, "sigma": 50},
    {"dist": "normal", "mean": 1e300, "sd": 1e300},
    {"dist": "uniform", "low": 0, "high": 1e308},
]
values = st.one_of(
    st.sampled_from(HOSTILE), st.floats(allow_nan=False, allow_infinity=False), st.integers(-(10**6), 10**6)
)

SET_OVERRIDES = [
    "timeline.contract_end=2023-02-30",
    "timeline.contract_end=9999-12-31",
    "contract.payment_lag_quarters=true",
    "boroughs.Bexley.starts.per_quarter=1.0e+30",
    "care.placements.foster.weekly_cost_gbp=1.0e+308",
    "referrals.volume_multiplier=0",
    "contract.tariffs.-1.payment_per_week_gbp=1",
    "a.b.c=1",
    "metadata.name==cmd",
    "contract.payment_lag_quarters=0",
]


@st.composite
def mutated_scenarios(draw):
    import copy

    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(0, 2))):
        path = draw(st.sampled_from(LEAVES))
        node = doc
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = draw(values)
    return doc


options = st.fixed_dictionaries(
    {
        "draws": st.sampled_from(["1", "3", str(10**15)]),
        "chunk": st.sampled_from([None, "1", "2"]),
        "workers": st.sampled_from([None, "1", "1000"]),
        "sets": st.lists(st.sampled_from(SET_OVERRIDES), max_size=2),
    }
)


@settings(
    max_examples=30,
    deadline=dt.timedelta(seconds=60),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(doc=mutated_scenarios(), opts=options)
def test_run_exits_0_or_2_and_leaves_nothing_on_failure(doc, opts):
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "fuzz.yaml"
        scenario.write_text(yaml.safe_dump(doc, allow_unicode=True))
        parent = Path(tmp) / "parent"
        parent.mkdir()
        args = [
            "run",
            str(scenario),
            "--draws",
            opts["draws"],
            "--seed",
            "1",
            "--out",
            str(parent / "r"),
            "--quiet",
            "--no-report",
        ]
        if opts["chunk"]:
            args += ["--chunk-size", opts["chunk"]]
        if opts["workers"]:
            args += ["--workers", opts["workers"]]
        for s in opts["sets"]:
            args += ["--set", s]
        res = CliRunner().invoke(main, args)
        event(f"exit code {res.exit_code}")
        assert res.exit_code in (0, 2), (res.exit_code, res.output, repr(res.exception))
        assert "Traceback" not in res.output
        assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
        assert "\x1b" not in res.output
        if res.exit_code == 2:
            assert res.output.startswith("error: ") or "Usage:" in res.output, res.output
            assert list(parent.iterdir()) == [], list(parent.iterdir())
        else:
            assert sorted(p.name for p in parent.iterdir()) == ["r"]
            assert (parent / "r" / "summary.json").is_file()
