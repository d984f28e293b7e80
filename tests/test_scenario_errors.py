"""A catalogue of bad scenarios, and the loading features that must keep working.

Each bad case is checked twice: through the CLI (``sibmodel validate`` exits
with code 2 and prints no traceback) and through the library (the
:class:`~sibmodel.exceptions.ScenarioError` names the dotted path and says
what is wrong).  Bad cases are built by loading ``scenarios/pfp.yaml``,
changing one thing and writing the result to ``tmp_path``.

Reference values (join dates, costs, counts) come from ``scenarios/pfp.yaml``,
whose public sources are listed in docs/references.md.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from support import PFP_PATH, ROOT, invoke, scenario_files

from sibmodel import __version__
from sibmodel.exceptions import ScenarioError
from sibmodel.scenario.load import (
    apply_overrides,
    deep_merge,
    load_scenario,
    resolve,
    scenario_hash,
    validate_data,
)


# --------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def pfp_data() -> dict:
    """The resolved pfp.yaml document, read once."""
    return resolve(PFP_PATH)


@pytest.fixture
def pfp_doc(pfp_data) -> dict:
    """A deep copy of the resolved pfp.yaml document, safe to mutate."""
    return copy.deepcopy(pfp_data)


def dump(data: dict, path: Path) -> Path:
    """Write ``data`` as YAML to ``path`` and return the path."""
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def assert_bad_input(result, *fragments: str) -> str:
    """Assert exit code 2, no traceback, and that every fragment is in the output."""
    text = result.output  # click >= 8.2: stdout and stderr, interleaved
    assert result.exit_code == 2, text
    assert "Traceback" not in text
    # a click usage error would also exit 2: make sure this is our own error report
    assert "error:" in text
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in:\n{text}"
    return text


def issues_of(data: dict, file: str = "bad.yaml") -> list:
    """Validate ``data`` and return the issues of the ScenarioError it must raise."""
    with pytest.raises(ScenarioError) as info:
        validate_data(data, file)
    return info.value.issues


def issue_at(issues: list, path: str):
    """The single issue at dotted ``path`` (fails if there is none)."""
    found = [i for i in issues if i.path == path]
    assert found, f"no issue at {path!r}; issues: {[str(i) for i in issues]}"
    return found[0]


# --------------------------------------------------------------------------- field catalogue
def _set(*keys_and_value):
    """A mutation that sets ``data[k1][k2]... = value``."""
    *keys, value = keys_and_value

    def mutate(data: dict) -> None:
        node = data
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = copy.deepcopy(value)

    return mutate


# (id, mutation, dotted path, fragments of the message at that path)
FIELD_CASES = [
    (
        "wrong-type",
        _set("metadata", "price_year", "next year"),
        "metadata.price_year",
        ["valid integer", "'next year'"],
    ),
    (
        "wrong-type-quantity",
        _set("care", "placements", "foster", "weekly_cost_gbp", [646, 700]),
        "care.placements.foster.weekly_cost_gbp",
        ["number", "distribution"],
    ),
    (
        "probability-above-1",
        _set("care", "entry", "prob", 1.5),
        "care.entry.prob",
        ["must lie in (0, 1)", "1.5"],
    ),
    (
        "probability-negative",
        _set("care", "reentry", "prob", -0.1),
        "care.reentry.prob",
        ["must lie in [0, 1]", "-0.1"],
    ),
    (
        "negative-cost",
        _set("care", "placements", "foster", "weekly_cost_gbp", -646),
        "care.placements.foster.weekly_cost_gbp",
        ["must lie in [0,", "-646"],
    ),
    (
        "negative-commitment",
        _set("investment", "commitment_gbp", {"value": -4_500_000, "source": "typo"}),
        "investment.commitment_gbp",
        ["must lie in [0,"],
    ),
    (
        "unknown-key-did-you-mean",
        _set("contract", "payment_lag_quarter", 2),
        "contract.payment_lag_quarter",
        ["unknown key", "did you mean 'payment_lag_quarters'?"],
    ),
    (
        "unknown-key-in-borough",
        _set("boroughs", "Bexley", "join_dat", "2018-02-01"),
        "boroughs.Bexley.join_dat",
        ["unknown key", "did you mean 'join_date'?"],
    ),
    (
        "unknown-top-level-block",
        _set("contracts", {}),
        "contracts",
        ["unknown key", "did you mean 'contract'?"],
    ),
    (
        "empty-borough-mapping",
        _set("boroughs", {}),
        "boroughs",
        ["at least 1 item"],
    ),
    (
        "boroughs-as-list",
        _set("boroughs", ["Bexley", "Merton"]),
        "boroughs",
        ["valid dictionary"],
    ),
    (
        "missing-required-field",
        lambda d: d["timeline"].pop("contract_end"),
        "timeline.contract_end",
        ["required field is missing"],
    ),
    (
        "beta-mean-outside-0-1",
        _set("care", "entry", "prob", {"dist": "beta", "mean": 1.2, "sd": 0.05}),
        "care.entry.prob",
        ["beta mean must lie strictly inside (0, 1)", "1.2"],
    ),
    (
        "beta-sd-too-big",
        _set("care", "entry", "prob", {"dist": "beta", "mean": 0.75, "sd": 0.5}),
        "care.entry.prob",
        # sqrt(0.75 * 0.25) = 0.433: the largest sd a beta with mean 0.75 can have
        ["beta sd must be > 0 and < sqrt(mean*(1-mean)) = 0.433", "0.5"],
    ),
    (
        "beta-alpha-negative",
        _set("care", "reentry", "prob", {"dist": "beta", "alpha": -1, "beta": 2}),
        "care.reentry.prob",
        ["alpha and beta must be > 0"],
    ),
    (
        "triangular-low-above-high",
        _set(
            "care",
            "placements",
            "foster",
            "mean_duration_weeks",
            {"dist": "triangular", "low": 60, "mode": 40, "high": 26},
        ),
        "care.placements.foster.mean_duration_weeks",
        ["low <= mode <= high", "low=60"],
    ),
    (
        "normal-sd-infeasible-for-probability",
        _set("care", "entry", "prob", {"dist": "normal", "mean": 0.5, "sd": 0.4}),
        "care.entry.prob",
        ["not feasible", "outside the allowed range (0, 1)", "reduce the sd"],
    ),
    (
        "normal-missing-sd",
        _set("care", "entry", "prob", {"dist": "normal", "mean": 0.5}),
        "care.entry.prob.sd",
        ["required field is missing"],
    ),
    (
        "unknown-distribution",
        _set("care", "entry", "prob", {"dist": "gamma", "mean": 0.5}),
        "care.entry.prob",
        ["unknown distribution 'gamma'", "beta", "pert"],
    ),
    (
        "distribution-unknown-parameter",
        _set("care", "entry", "prob", {"dist": "beta", "mean": 0.5, "sdev": 0.1}),
        "care.entry.prob.sdev",
        ["unknown key", "did you mean 'sd'?"],
    ),
    (
        "infinite-cost",
        _set("care", "placements", "secure", "weekly_cost_gbp", float("inf")),
        "care.placements.secure.weekly_cost_gbp",
        ["finite"],
    ),
    (
        "intervention-mix-not-summing-to-1",
        _set("boroughs", "Haringey", "intervention_mix", {"FFT": 0.6}),
        "boroughs.Haringey.intervention_mix",
        ["shares must sum to 1", "0.6"],
    ),
    (
        "team-names-unknown-borough",
        _set("interventions", "MST", "delivery", "teams", "SWLSTG MST", "boroughs", ["Merton", "Suton"]),
        "interventions.MST.delivery.teams.SWLSTG MST.boroughs.1",
        ["unknown borough", "'Suton'"],
    ),
]


@pytest.mark.parametrize(("mutate", "path", "fragments"), [c[1:] for c in FIELD_CASES], ids=[c[0] for c in FIELD_CASES])
def test_bad_field_is_reported_with_path_and_reason(pfp_doc, tmp_path, mutate, path, fragments):
    mutate(pfp_doc)
    issue = issue_at(issues_of(pfp_doc), path)
    text = str(issue)
    assert text.startswith(f"bad.yaml: {path}: ")
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in {text!r}"

    result = invoke("validate", str(dump(pfp_doc, tmp_path / "bad.yaml")))
    assert_bad_input(result, f"{path}: ", *fragments)


# --------------------------------------------------------------------------- dates
@pytest.mark.parametrize(
    ("block", "field", "value", "path", "fragment"),
    [
        (
            "timeline",
            "contract_end",
            dt.date(2017, 1, 1),
            "timeline.contract_end",
            "must be on or after referrals_close (2023-04-30)",
        ),
        (
            "timeline",
            "referrals_close",
            dt.date(2017, 12, 31),
            "timeline.referrals_close",
            "must be after programme_start (2018-02-01)",
        ),
    ],
    ids=["contract-ends-before-referrals-close", "referrals-close-before-start"],
)
def test_dates_out_of_order(pfp_doc, tmp_path, block, field, value, path, fragment):
    pfp_doc[block][field] = value
    issue = issue_at(issues_of(pfp_doc), path)
    assert fragment in issue.message
    assert issue.given == str(value)
    assert_bad_input(invoke("validate", str(dump(pfp_doc, tmp_path / "bad.yaml"))), path, fragment)


def test_borough_leaving_before_it_joins(pfp_doc, tmp_path):
    # Haringey joined 2019-09-01 (pfp.yaml, [BOP-PFP])
    pfp_doc["boroughs"]["Haringey"]["leave_date"] = dt.date(2019, 1, 1)
    issue = issue_at(issues_of(pfp_doc), "boroughs.Haringey.leave_date")
    assert "must be after join_date (2019-09-01)" in issue.message
    assert_bad_input(invoke("validate", str(dump(pfp_doc, tmp_path / "bad.yaml"))), "boroughs.Haringey.leave_date")


def test_invalid_calendar_date(pfp_doc, tmp_path):
    pfp_doc["timeline"]["contract_end"] = "2023-02-30"
    issue = issue_at(issues_of(pfp_doc), "timeline.contract_end")
    assert "date" in issue.message
    assert issue.given == "2023-02-30"


# --------------------------------------------------------------------------- several at once
def test_several_problems_are_reported_at_once(pfp_doc, tmp_path):
    pfp_doc["metadata"]["price_year"] = "next year"
    pfp_doc["care"]["entry"]["prob"] = 1.5
    pfp_doc["care"]["placements"]["foster"]["weekly_cost_gbp"] = -646
    pfp_doc["contract"]["payment_lag_quarter"] = 2
    pfp_doc["interventions"]["MST"]["effect"]["hazard_ratio"] = {"dist": "beta", "mean": 1.2, "sd": 0.1}
    expected = [
        "metadata.price_year",
        "interventions.MST.effect.hazard_ratio",
        "care.entry.prob",
        "care.placements.foster.weekly_cost_gbp",
        "contract.payment_lag_quarter",
    ]
    issues = issues_of(pfp_doc)
    assert [i.path for i in issues] == expected  # all of them, in document order

    text = assert_bad_input(
        invoke("validate", str(dump(pfp_doc, tmp_path / "bad.yaml"))), "5 problems in the scenario", *expected
    )
    assert text.count("bad.yaml: ") == 5


def test_cross_checks_are_reported_at_once(pfp_doc):
    pfp_doc["timeline"]["contract_end"] = dt.date(2017, 1, 1)
    pfp_doc["boroughs"]["Haringey"]["intervention_mix"] = {"FFT": 0.6}
    pfp_doc["care"]["escalation"]["foster"] = {"foster": 0.5, "kinship": 0.5}
    paths = {i.path for i in issues_of(pfp_doc)}
    assert {
        "timeline.contract_end",
        "boroughs.Haringey.intervention_mix",
        "care.escalation.foster.kinship",
    } <= paths


# --------------------------------------------------------------------------- YAML-level problems
def test_duplicate_key(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(
        PFP_PATH.read_text().replace(
            "  payment_lag_quarters: 1\n", "  payment_lag_quarters: 1\n  payment_lag_quarters: 4\n"
        )
    )
    text = assert_bad_input(invoke("validate", str(path)), "dup.yaml", "duplicate key 'payment_lag_quarters'", "line ")
    line = next(i + 1 for i, s in enumerate(path.read_text().splitlines()) if "payment_lag_quarters: 4" in s)
    assert f"line {line}," in text
    with pytest.raises(ScenarioError, match="duplicate key 'payment_lag_quarters'"):
        load_scenario(path)


def test_duplicate_borough_names(tmp_path):
    # boroughs is a mapping name -> borough, so a repeated name is a duplicate YAML key
    text = PFP_PATH.read_text()
    haringey = text[text.index("  Haringey:\n") : text.index("\ninterventions:")]
    path = tmp_path / "dup_borough.yaml"
    path.write_text(text.replace(haringey, haringey + haringey.replace("2019-09-01", "2019-10-01")))
    assert_bad_input(invoke("validate", str(path)), "duplicate key 'Haringey'", "line ")
    with pytest.raises(ScenarioError, match="duplicate key 'Haringey'"):
        load_scenario(path)


def test_yaml_syntax_error_names_the_line(tmp_path):
    lines = PFP_PATH.read_text().splitlines()
    n = next(i for i, s in enumerate(lines) if s.startswith("  payment_lag_quarters:"))
    lines[n] = "  payment_lag_quarters: [1, 2"  # unclosed flow sequence
    path = tmp_path / "syntax.yaml"
    path.write_text("\n".join(lines) + "\n")
    text = assert_bad_input(invoke("validate", str(path)), "syntax.yaml", "YAML error at line ")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = info.value.issues[0].message
    # PyYAML reports an unclosed flow sequence where it notices it: on that line or the next
    reported = int(message.split("line ")[1].split(",")[0])
    assert reported in (n + 1, n + 2), message
    assert f"line {reported}" in text


def test_tab_indentation_is_a_yaml_error(tmp_path):
    path = tmp_path / "tabs.yaml"
    path.write_text("metadata:\n\tname: x\n")
    assert_bad_input(invoke("validate", str(path)), "YAML error at line 2")


@pytest.mark.parametrize(
    ("content", "kind"),
    [("- metadata\n- timeline\n", "list"), ("just a string\n", "str"), ("42\n", "int"), ("", "NoneType")],
    ids=["list", "string", "number", "empty-file"],
)
def test_non_mapping_top_level(tmp_path, content, kind):
    path = tmp_path / "top.yaml"
    path.write_text(content)
    assert_bad_input(invoke("validate", str(path)), "top.yaml", "the top level must be a mapping", f"not {kind}")


def test_python_tag_is_refused_without_side_effect(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(f"metadata: !!python/object/apply:os.system ['touch {marker}']\n")
    assert_bad_input(invoke("validate", str(path)), "evil.yaml", "tags such as !!python/... are refused", "line 1")
    with pytest.raises(ScenarioError, match="python/object/apply:os.system"):
        load_scenario(path)
    assert not marker.exists()


def test_python_tag_in_set_override_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    result = invoke(
        "validate", str(PFP_PATH), "--set", f"metadata.name=!!python/object/apply:os.system ['touch {marker}']"
    )
    assert_bad_input(result, "--set", "metadata.name", "refused")
    assert not marker.exists()


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.yaml"
    assert_bad_input(invoke("validate", str(path)), "nowhere.yaml", "file not found")
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(path)


def test_missing_parent_of_extends(tmp_path):
    path = tmp_path / "child.yaml"
    path.write_text("extends: parent.yaml\n")
    assert_bad_input(invoke("validate", str(path)), "parent.yaml", "file not found")


def test_extends_cycle(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\nmetadata: {name: a}\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nmetadata: {name: b}\n")
    text = assert_bad_input(invoke("validate", str(tmp_path / "a.yaml")), "extends cycle", "a.yaml -> ", "b.yaml -> ")
    assert text.count("a.yaml") >= 2  # the chain returns to a.yaml
    with pytest.raises(ScenarioError, match="extends cycle"):
        resolve(tmp_path / "a.yaml")


def test_extends_self(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: a.yaml\n")
    assert_bad_input(invoke("validate", str(tmp_path / "a.yaml")), "extends cycle")


def test_extends_must_be_a_path(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: [b.yaml]\n")
    assert_bad_input(
        invoke("validate", str(tmp_path / "a.yaml")), "extends", "must be the path of another scenario file"
    )


# --------------------------------------------------------------------------- --set problems
@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ("contract.payment_lag_quarters", ["expected PATH=VALUE"]),
        ("contract..payment_lag_quarters=2", ["empty part in the dotted path"]),
        ("=2", ["empty part in the dotted path"]),
        ("contract.payment_lag_quarters=[1, 2", ["--set", "contract.payment_lag_quarters", "YAML error"]),
        ("metadata.name.first=x", ["metadata.name", "is not a mapping"]),
        ("contract.tariffs.7.metric=engagement", ["contract.tariffs.7", "not a valid index of a list of 1"]),
    ],
    ids=["no-equals", "empty-part", "empty-path", "bad-yaml-value", "into-a-string", "list-index-out-of-range"],
)
def test_bad_set_syntax(override, fragments):
    assert_bad_input(invoke("validate", str(PFP_PATH), "--set", override), *fragments)


def test_set_value_is_validated_with_its_path():
    result = invoke("validate", str(PFP_PATH), "--set", "contract.payment_lag_quarters=-1")
    assert_bad_input(result, "contract.payment_lag_quarters", "greater than or equal to 0", "(given: -1)")


def test_set_unknown_key_suggests_the_right_one():
    result = invoke("validate", str(PFP_PATH), "--set", "contract.topup.shar=0.2")
    assert_bad_input(result, "contract.topup.shar", "did you mean 'share'?")


def test_bad_input_traceback_only_with_debug(pfp_doc, tmp_path):
    pfp_doc["care"]["entry"]["prob"] = 1.5
    path = dump(pfp_doc, tmp_path / "bad.yaml")
    assert_bad_input(invoke("validate", str(path)), "care.entry.prob")
    result = invoke("--debug", "validate", str(path))
    assert isinstance(result.exception, ScenarioError)


# --------------------------------------------------------------------------- what must work
def test_validate_pfp_prints_summary_and_assumption_log():
    result = invoke("validate", str(PFP_PATH))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Scenario: Positive Families Partnership (as delivered)" in out
    assert "boroughs (10)" in out  # ten boroughs [BOP-PFP]
    assert "Assumption log" in out
    # an uncertain input with its distribution and its source
    assert "~ care.entry.prob: beta(mean=" in out  # an uncertain input, shown with its distribution
    # a fixed input with its source: PSSRU Unit Costs 2017, foster care GBP 646 per week [PSSRU-2017]
    assert "= care.placements.foster.weekly_cost_gbp: 646" in out
    assert "source: PSSRU Unit Costs of Health and Social Care 2017" in out
    assert "OK: the scenario is valid." in out


def test_validate_json_is_the_resolved_scenario():
    result = invoke("validate", str(PFP_PATH), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["investment"]["commitment_gbp"]["value"] == 4_500_000  # Bridges GBP 4.5m [PFP-launch-2018]
    assert len(data["boroughs"]) == 10


def test_schema_command_prints_json_schema():
    result = invoke("schema")
    assert result.exit_code == 0, result.output
    schema = json.loads(result.output)
    assert schema["title"] == "Scenario"
    assert {"metadata", "timeline", "boroughs", "contract", "investment"} <= set(schema["properties"])
    assert "extends" not in schema["properties"]


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert __version__ in result.output
    assert "sibmodel" in result.output


def test_extends_deep_merges_nested_fields(tmp_path):
    (tmp_path / "base.yaml").write_text(PFP_PATH.read_text())
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "middle.yaml").write_text(
        "extends: ../base.yaml\n"
        "metadata: {name: middle}\n"
        "care:\n  placements:\n    foster:\n      weekly_cost_gbp: 700\n"
    )
    (tmp_path / "child.yaml").write_text(
        "extends: sub/middle.yaml\n"
        "boroughs:\n  Newham:\n    leave_date: 2019-02-01\n"
        "contract:\n  payment_lag_quarters: 5\n"
    )
    base = load_scenario(tmp_path / "base.yaml")
    s = load_scenario(tmp_path / "child.yaml")
    assert s.metadata.name == "middle"
    assert s.metadata.price_year == base.metadata.price_year  # sibling of an overridden field kept
    foster = s.care.placements["foster"]
    assert foster.weekly_cost_gbp.value == 700
    assert foster.mean_duration_weeks == base.care.placements["foster"].mean_duration_weeks
    assert foster.breakdown_share == base.care.placements["foster"].breakdown_share
    assert s.boroughs["Newham"].leave_date == dt.date(2019, 2, 1)
    assert s.boroughs["Newham"].join_date == dt.date(2018, 2, 1)  # pfp.yaml: launch borough
    assert s.boroughs["Newham"].starts == base.boroughs["Newham"].starts
    assert s.contract.payment_lag_quarters == 5
    assert s.contract.caps == base.contract.caps
    assert s.contract.tariffs == base.contract.tariffs
    assert list(s.boroughs) == list(base.boroughs)


def test_extends_null_removes_a_key(tmp_path):
    (tmp_path / "child.yaml").write_text(f"extends: {PFP_PATH}\nboroughs:\n  Haringey: null\n")
    # Haringey is still named by the FFT team, so the cross check must complain about it
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "child.yaml")
    assert any("unknown borough" in i.message and i.given == "Haringey" for i in info.value.issues)
    assert "Haringey" not in resolve(tmp_path / "child.yaml")["boroughs"]


def test_deep_merge_leaves_its_inputs_alone():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    override = {"a": {"b": 2}, "e": {"f": 3}}
    merged = deep_merge(base, override)
    assert merged == {"a": {"b": 2, "c": [1, 2]}, "d": 1, "e": {"f": 3}}
    merged["a"]["c"].append(3)
    merged["e"]["f"] = 4
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert override == {"a": {"b": 2}, "e": {"f": 3}}


def test_set_values_are_parsed_as_yaml():
    s = load_scenario(
        PFP_PATH,
        [
            "contract.payment_lag_quarters=3",
            "metadata.description='a string: with a colon'",
            "boroughs.Bexley.intervention_mix={MST: 0.7, FFT: 0.3}",
            "care.entry.prob={dist: beta, mean: 0.6, sd: 0.05, source: test}",
            "timeline.contract_end=2024-03-31",
            "contract.caps.per_borough_gbp=1.5e+6",
            "contract.tariffs.0.payment_per_week_gbp=275",
        ],
    )
    assert s.contract.payment_lag_quarters == 3
    assert s.metadata.description == "a string: with a colon"
    assert s.boroughs["Bexley"].intervention_mix == {"MST": 0.7, "FFT": 0.3}
    assert s.care.entry.prob.dist == "beta" and s.care.entry.prob.source == "test"
    assert s.timeline.contract_end == dt.date(2024, 3, 31)
    assert s.contract.caps.per_borough_gbp == 1_500_000
    # GBP 275 = GBP 10m / (350 x 104 weeks), the tariff at the cap
    # (estimate from [GO-Lab-INDIGO-PFP] and [PFP-launch-2018])
    assert s.contract.tariffs[0].payment_per_week_gbp.value == 275


def test_set_null_restores_the_default():
    s = load_scenario(PFP_PATH, ["contract.topup.max_gbp=null"])
    assert s.contract.topup.max_gbp is None
    assert s.contract.topup.share == 0.15  # sibling untouched (INDIGO: 15% top-up)


def test_set_on_an_anchored_borough_changes_only_that_borough():
    # pfp.yaml: Merton..Tower Hamlets alias Bexley (&launch_borough); five boroughs alias its starts
    data = resolve(PFP_PATH)
    assert data["boroughs"]["Merton"] == data["boroughs"]["Bexley"]
    s = load_scenario(
        PFP_PATH,
        [
            "boroughs.Bexley.starts.per_quarter=5",
            "boroughs.Bexley.entry_odds_ratio=1.3",
            "boroughs.Bexley.intervention_mix.MST=0.6",
            "boroughs.Bexley.intervention_mix.FFT=0.4",
        ],
    )
    assert s.boroughs["Bexley"].starts.per_quarter.value == 5
    assert s.boroughs["Bexley"].entry_odds_ratio.value == 1.3
    assert s.boroughs["Bexley"].intervention_mix == {"MST": 0.6, "FFT": 0.4}
    base_rate = load_scenario(PFP_PATH).boroughs["Bexley"].starts.per_quarter.value
    assert base_rate != 5
    for other in ("Merton", "Newham", "Sutton", "Tower Hamlets", "Haringey"):
        b = s.boroughs[other]
        assert b.starts.per_quarter.value == base_rate, other  # the anchored value, untouched
        assert b.entry_odds_ratio.value == 1.0, other
    assert s.boroughs["Merton"].intervention_mix == {"MST": 0.5, "FFT": 0.5}


def test_apply_overrides_does_not_change_its_input(pfp_doc):
    before = copy.deepcopy(pfp_doc)
    out = apply_overrides(pfp_doc, ["contract.payment_lag_quarters=9"])
    assert out["contract"]["payment_lag_quarters"] == 9
    assert pfp_doc == before


def test_scenario_hash_is_stable_and_sensitive():
    h1 = scenario_hash(load_scenario(PFP_PATH))
    h2 = scenario_hash(load_scenario(PFP_PATH))
    assert h1 == h2
    assert len(h1) == 64 and int(h1, 16) >= 0  # a SHA-256 hex digest
    changed = scenario_hash(load_scenario(PFP_PATH, ["contract.payment_lag_quarters=2"]))
    assert changed != h1
    # a source is part of the record of assumptions: changing it changes the hash too
    resourced = scenario_hash(load_scenario(PFP_PATH, ["contract.source=another"]))
    assert resourced != h1
    # setting a field to the value it already has does not
    assert scenario_hash(load_scenario(PFP_PATH, ["contract.payment_lag_quarters=1"])) == h1


def test_scenario_hash_ignores_yaml_layout(tmp_path):
    # the same document written without anchors, comments or key order gives the same hash
    data = resolve(PFP_PATH)
    path = tmp_path / "flat.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=True))
    assert scenario_hash(load_scenario(path)) == scenario_hash(load_scenario(PFP_PATH))


@pytest.mark.parametrize("path", scenario_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_bundled_scenarios_validate(path):
    result = invoke("validate", str(path))
    assert result.exit_code == 0, result.output


def test_errors_survive_the_trip_back_from_a_worker_process():
    """A scenario error raised in a pool worker is pickled back to the command: the same issues, the same text."""
    import pickle

    from sibmodel.exceptions import CorrelationError, Issue, ScenarioError
    from sibmodel.workflows.levers import WorkflowError

    issues = [
        Issue("a.yaml", "boroughs.Bexley.starts.per_quarter", "must be at least 0", -3, has_given=True),
        Issue(None, "", "whole document"),
    ]
    for cls in (ScenarioError, CorrelationError, WorkflowError):
        err = cls(issues)
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is cls
        assert back.issues == err.issues
        assert str(back) == str(err)
