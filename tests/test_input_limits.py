"""Bounded resources and bad values (issue 14, items 4, 5 and the minor list).

Each case was reproduced against the earlier code (a traceback, exit code 1, a
hang, gigabytes of memory); here each must be an input error: exit code 2, a
message naming the file, the dotted path, the value given and what is
allowed, no traceback, and in bounded time.  Limits are those of
:mod:`sibmodel.scenario.limits`; reference numbers come from ``scenarios/pfp.yaml``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from support import PFP, invoke

from sibmodel.cli.commands import main
from sibmodel.exceptions import ScenarioError
from sibmodel.scenario import limits
from sibmodel.scenario.load import load_scenario, resolve


def assert_input_error(res, *fragments: str) -> str:
    """Exit code 2, no traceback, and each fragment in the message."""
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    assert "Traceback" not in res.output
    for f in fragments:
        assert f in res.output, (f, res.output)
    return res.output


def sibmodel_subprocess(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sibmodel", *args], capture_output=True, text=True, timeout=timeout)


# --------------------------------------------------------------------------- 4. bounded resources
BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_alias_bomb_is_refused_in_under_a_second(tmp_path):
    """A few hundred bytes that expand to 9**9 (387 million) strings: refused while composing."""
    f = tmp_path / "bomb.yaml"
    f.write_text(BOMB)
    assert f.stat().st_size < 600
    t0 = time.perf_counter()
    res = invoke("validate", str(f))
    assert time.perf_counter() - t0 < 1.0
    assert_input_error(res, "bomb.yaml", f"more than {limits.MAX_YAML_NODES:,} values")


def test_recursive_alias_is_refused(tmp_path):
    f = tmp_path / "rec.yaml"
    f.write_text("a: &a [1, *a]\n")
    assert_input_error(invoke("validate", str(f)), "alias *a is used inside its own anchor")


def test_aliases_within_the_limit_still_work(tmp_path):
    """Anchors are a feature (pfp-style shared blocks): a document that reuses one is fine."""
    data = resolve(PFP)
    text = (
        "x-shared: &shared "
        + json.dumps(data["care"])
        + "\n"
        + yaml.safe_dump({k: v for k, v in data.items() if k != "care"})
        + "care: *shared\n"
    )
    f = tmp_path / "anchored.yaml"
    f.write_text(text)
    with pytest.raises(ScenarioError, match="x-shared"):  # the anchor's own key is unknown: the alias itself was read
        load_scenario(f)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_device_is_refused_at_once(device):
    """`validate /dev/zero` grew to 24 GB before; now a one-line error (a subprocess, so a hang would time out)."""
    if not Path(device).exists():
        pytest.skip(f"no {device}")
    t0 = time.perf_counter()
    p = sibmodel_subprocess("validate", device, timeout=30)
    assert p.returncode == 2, p.stderr
    assert "is not a regular file" in p.stderr and "Traceback" not in p.stderr
    assert time.perf_counter() - t0 < 30


def test_fifo_is_refused_without_blocking(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    p = sibmodel_subprocess("validate", str(fifo), timeout=30)
    assert p.returncode == 2 and "is not a regular file" in p.stderr, p.stderr


def test_file_size_limit(tmp_path):
    """A 45 MB file of unknown keys took 223 s and wrote 300 MB of errors: now refused from its size."""
    f = tmp_path / "huge.yaml"
    line = b"unknown_key_0000000: 1\n"
    with open(f, "wb") as out:
        out.write(line * (45 * 1024**2 // len(line)))
    t0 = time.perf_counter()
    res = invoke("validate", str(f))
    assert time.perf_counter() - t0 < 2.0
    out = assert_input_error(res, f"at most {limits.MAX_SCENARIO_BYTES:,} bytes")
    assert len(out) < 1000


def test_error_list_is_capped(tmp_path):
    """200 unknown keys: the first 50 are listed, then "and 150 more"."""
    data = resolve(PFP)
    data.update({f"unknown_{i:03d}": 1 for i in range(200)})
    f = tmp_path / "many.yaml"
    f.write_text(yaml.safe_dump(data))
    out = assert_input_error(invoke("validate", str(f)), "200 problems", "... and 150 more")
    assert sum(1 for line in out.splitlines() if line.startswith("  - ")) == limits.MAX_SHOWN_ISSUES
    with pytest.raises(ScenarioError) as err:
        load_scenario(f)
    assert len(err.value.issues) == 200  # the library keeps every issue


def test_unknown_keys_just_under_the_size_limit_are_refused_quickly(tmp_path):
    f = tmp_path / "mid.yaml"
    n = (limits.MAX_SCENARIO_BYTES - 100) // len("unknown_key_0000000: 1\n")
    f.write_text("".join(f"unknown_key_{i:07d}: 1\n" for i in range(n)))
    assert f.stat().st_size <= limits.MAX_SCENARIO_BYTES
    t0 = time.perf_counter()
    res = invoke("validate", str(f))
    assert time.perf_counter() - t0 < 10
    out = assert_input_error(res, "problems in the scenario", " more")
    assert len(out.splitlines()) == 1 + limits.MAX_SHOWN_ISSUES + 1  # heading, 50 problems, "and N more"


def test_nesting_depth_limit(tmp_path):
    """About 900 levels deep gave a RecursionError traceback."""
    f = tmp_path / "deep.yaml"
    f.write_text("a: " + "[" * 900 + "]" * 900 + "\n")
    assert_input_error(invoke("validate", str(f)), f"nested more than {limits.MAX_NESTING_DEPTH} levels deep")
    g = tmp_path / "deep_block.yaml"
    g.write_text("".join("  " * i + f"k{i}:\n" for i in range(900)))
    assert_input_error(invoke("validate", str(g)), "nested more than")


def test_long_dotted_set_path_is_refused():
    res = invoke("validate", PFP, "--set", ".".join(["a"] * 900) + "=1")
    assert_input_error(res, f"at most {limits.MAX_NESTING_DEPTH} parts")


def _chain(tmp_path: Path, n: int) -> Path:
    """``n`` files, each extending the next; the last extends pfp.yaml."""
    (tmp_path / f"c{n - 1}.yaml").write_text(f"extends: {PFP}\n")
    for i in range(n - 2, -1, -1):
        (tmp_path / f"c{i}.yaml").write_text(f"extends: c{i + 1}.yaml\n")
    return tmp_path / "c0.yaml"


def test_extends_chain_limit(tmp_path):
    """A chain of 1,500 files gave a RecursionError traceback; the limit's own length still works."""
    long = tmp_path / "long"
    long.mkdir()
    assert_input_error(invoke("validate", str(_chain(long, 1500))), f"longer than {limits.MAX_EXTENDS_DEPTH} files")
    ok = tmp_path / "ok"
    ok.mkdir()
    # MAX_EXTENDS_DEPTH files in all: MAX - 1 in the chain plus pfp.yaml
    assert load_scenario(_chain(ok, limits.MAX_EXTENDS_DEPTH - 1)).metadata.name == load_scenario(PFP).metadata.name


def test_self_symlink_is_an_input_error(tmp_path):
    link = tmp_path / "self.yaml"
    link.symlink_to(link)
    assert_input_error(invoke("validate", str(link)), "self.yaml", "cannot read the file")
    child = tmp_path / "child.yaml"
    child.write_text("extends: self.yaml\n")
    assert_input_error(invoke("validate", str(child)), "cannot read the file")


def test_impossible_draws_exit_2_at_once(tmp_path):
    """--draws 10**15 was a MemoryError: refused from the disk it needs, before any draw."""
    t0 = time.perf_counter()
    res = invoke("run", PFP, "--draws", str(10**15), "--out", str(tmp_path / "r"), "--quiet")
    assert time.perf_counter() - t0 < 20
    assert_input_error(res, "--draws", "of disk")
    assert not (tmp_path / "r").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_draws_checked_against_free_disk(monkeypatch, tmp_path):
    """The disk check: values per draw x draws x the least bytes a value takes, against what is free."""
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(limits.shutil, "disk_usage", lambda p: usage(10**9, 0, 10**6))
    n_values = 200
    fits = int(10**6 / (limits.MIN_DISK_BYTES_PER_VALUE * n_values))  # 2,500 draws fill 1 MB at 2 bytes a value
    limits.check_run_size(fits, 500, 10**6, n_values, tmp_path)
    with pytest.raises(limits.ResourceError, match="of disk"):
        limits.check_run_size(fits + 1, 500, 10**6, n_values, tmp_path)


def test_chunk_larger_than_memory_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(limits, "total_memory_bytes", lambda: 8 * 1024**3)
    with pytest.raises(limits.ResourceError, match="--chunk-size"):
        limits.check_run_size(1000, 500, 9 * 1024**3, 100, tmp_path)


def test_workers_capped_by_chunks_and_memory(monkeypatch):
    monkeypatch.setattr(limits, "total_memory_bytes", lambda: 4 * 1024**3)
    assert limits.cap_workers(1000, 3, 1) == 3  # no more workers than chunks
    assert limits.cap_workers(1000, 100, 1024**3) == 3  # 4 GB holds 4 processes of 1 GB, one of them the parent
    assert limits.cap_workers(2, 100, 1024**3) == 2
    assert limits.cap_workers(8, 100, 10 * 1024**3) == 1


def test_workers_1000_runs_with_no_more_processes_than_chunks(tmp_path):
    res = invoke(
        "run",
        PFP,
        "--draws",
        "6",
        "--chunk-size",
        "3",
        "--workers",
        "1000",
        "--seed",
        "1",
        "--out",
        str(tmp_path / "r"),
        "--quiet",
        "--no-report",
    )
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["meta"]["workers"] == 2


# --------------------------------------------------------------------------- 5. bad values
@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ("timeline.contract_end=2023-02-30", ["timeline.contract_end", "valid date", "2023-02-30"]),
        (
            "timeline.contract_end=9999-12-31",
            ["timeline.contract_end", "must lie in [1990-01-01, 2100-12-31]", "9999-12-31"],
        ),
        ("timeline.contract_end=2080-01-01", ["timeline.contract_end", "at most 50 years"]),
        (
            "boroughs.Bexley.starts.per_quarter=1.0e+9",
            ["boroughs.Bexley.starts.per_quarter", "[0, 100000]", "1000000000.0"],
        ),
        ("boroughs.Bexley.starts.per_quarter=1.0e+30", ["boroughs.Bexley.starts.per_quarter", "[0, 100000]", "1e+30"]),
        (
            "care.placements.foster.weekly_cost_gbp=1.0e+308",
            ["care.placements.foster.weekly_cost_gbp", "[0, 1e+12]", "1e+308"],
        ),
        ("contract.caps.total_gbp=1.0e+308", ["contract.caps.total_gbp", "less than or equal to 1000000000000"]),
        (
            "investment.commitment_gbp={dist: lognormal, median: 1000000, sigma: 30}",
            ["investment.commitment_gbp", "outside the allowed range"],
        ),
        ("contract.payment_lag_quarters=true", ["contract.payment_lag_quarters", "valid integer", "True"]),
        ("interventions.MST.therapy_weeks=true", ["interventions.MST.therapy_weeks", "valid integer"]),
        (
            "contract.tariffs.-1.payment_per_week_gbp=5",
            ["--set", "contract.tariffs.-1", "not a valid index", "allowed 0 to"],
        ),
    ],
)
def test_bad_values_are_input_errors(override, fragments):
    assert_input_error(invoke("validate", PFP, "--set", override), *fragments)


def test_negative_index_in_the_middle_of_a_path_is_refused():
    assert_input_error(invoke("validate", PFP, "--set", "care.entry.shape.-1.from_week=3"), "not a valid index")


def test_date_written_in_the_file_is_reported_at_its_path(tmp_path):
    f = tmp_path / "bad_date.yaml"
    f.write_text(f"extends: {PFP}\ntimeline:\n  contract_end: 2023-02-30\n")
    assert_input_error(invoke("validate", str(f)), "bad_date.yaml: timeline.contract_end", "'2023-02-30'")


def test_a_programme_with_no_starts_is_a_valid_run(tmp_path):
    """Zero referrals in every borough: exit 0, the outputs say so, the figures show empty states."""
    from sibmodel.report import figures as F
    from sibmodel.results.rundir import load_run

    out = tmp_path / "r"
    res = invoke("run", PFP, "--draws", "8", "--seed", "3", "--out", str(out), "--set", "referrals.volume_multiplier=0")
    assert res.exit_code == 0, res.output
    assert "no young person starts in any draw" in res.output
    summary = json.loads((out / "summary.json").read_text())
    assert any("no young person starts" in w for w in summary["warnings"])
    assert summary["outcomes"]["starts"]["p95"] == 0
    assert "no young person starts" in (out / "report.html").read_text()
    fig = F.validation(load_run(out))
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any("no model value" in t for t in texts)
    assert invoke("validation", str(out)).exit_code == 0


def test_payments_after_the_contract_end_are_a_warning(tmp_path):
    """PFP pays one quarter in arrears, so the last quarter's outcomes are paid after the contract end.

    Independent check: the warning's amount is the sum of the mean outcome payments in the
    cash quarters that end after ``timeline.contract_end`` (cashflows.parquet).
    """
    import pandas as pd

    out = tmp_path / "r"
    res = invoke("run", PFP, "--draws", "10", "--seed", "4", "--out", str(out), "--no-report")
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    [warning] = [w for w in summary["warnings"] if "after the contract end" in w]
    assert warning in res.output.replace("\n    ", " ") or "after the contract end" in res.output
    cf = pd.read_parquet(out / "cashflows.parquet")
    s = load_scenario(PFP)
    quarter_start = pd.to_datetime(cf["quarter_end"]) - pd.Timedelta(weeks=13) + pd.Timedelta(days=1)
    late = cf.loc[quarter_start > pd.Timestamp(s.timeline.contract_end), "outcome_payments_gbp_mean"].sum()
    assert late > 0
    assert f"GBP {late:,.0f}" in warning
    # no payment lag: nothing falls due after the end
    out0 = tmp_path / "r0"
    assert (
        invoke(
            "run",
            PFP,
            "--draws",
            "10",
            "--seed",
            "4",
            "--out",
            str(out0),
            "--no-report",
            "--quiet",
            "--set",
            "contract.payment_lag_quarters=0",
        ).exit_code
        == 0
    )
    assert not any("after the contract end" in w for w in json.loads((out0 / "summary.json").read_text())["warnings"])


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("saved") / "run"
    res = CliRunner().invoke(
        main, ["run", PFP, "--draws", "10", "--seed", "2", "--out", str(out), "--quiet", "--no-report"]
    )
    assert res.exit_code == 0, res.output
    return out


def _copy_with_text_numbers(saved_run: Path, tmp_path: Path) -> Path:
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(saved_run, bad)
    summary = json.loads((bad / "summary.json").read_text())
    summary["validation"][0]["p5"] = "abc"
    summary["investor"]["irr"]["p50"] = "0.05"
    (bad / "summary.json").write_text(json.dumps(summary))
    return bad


@pytest.mark.parametrize("command", ["report", "validation"])
def test_run_folder_whose_numbers_are_text(saved_run, tmp_path, command):
    bad = _copy_with_text_numbers(saved_run, tmp_path)
    assert_input_error(invoke(command, str(bad)), "summary.json", "a number is expected")


def test_run_folder_whose_parquet_numbers_are_text(saved_run, tmp_path):
    import shutil

    import pandas as pd

    bad = tmp_path / "bad"
    shutil.copytree(saved_run, bad)
    draws = pd.read_parquet(bad / "draws.parquet")
    draws["starts"] = draws["starts"].astype(str)
    draws.to_parquet(bad / "draws.parquet", index=False)
    assert_input_error(invoke("report", str(bad)), "draws.parquet", "'starts'")


def test_summary_that_is_not_json(saved_run, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(saved_run, bad)
    (bad / "summary.json").write_text("{not json")
    assert_input_error(invoke("validation", str(bad)), "summary.json", "cannot read it")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1.5", "0", "1", "-0.2"])
def test_calibrate_targets_checked_before_solving(monkeypatch, value):
    import sibmodel.model.calibrate as cal

    def no_solving(*a, **k):
        raise AssertionError("the solver ran before the targets were checked")

    monkeypatch.setattr(cal, "resolve_params", no_solving)
    res = invoke("calibrate", PFP, "--target", f"time_at_home.treated={value}")
    assert_input_error(res, "--target", "time_at_home.treated", "strictly between 0 and 1")


# --------------------------------------------------------------------------- minor
def test_stress_solve_with_a_bad_target_refused_before_running(monkeypatch, tmp_path):
    import sibmodel.workflows.stress as st

    monkeypatch.setattr(st, "stress_suite", lambda *a, **k: (_ for _ in ()).throw(AssertionError("ran the suite")))
    for target in ("investor.p_loss=abc", "investor.p_loss=nan"):
        res = invoke("stress", PFP, "--solve", "tariff", "--for", target, "--out", str(tmp_path / "s"))
        assert_input_error(res, "--for", "finite number")
    assert_input_error(
        invoke("stress", PFP, "--solve", "nolever", "--for", "investor.p_loss=0.1", "--out", str(tmp_path / "s")),
        "unknown lever",
    )
    assert not (tmp_path / "s").exists()


def test_join_checks_input_before_creating_out(tmp_path):
    out = tmp_path / "j"
    assert_input_error(
        invoke("join", PFP, "--borough", "Camden", "--care-cost", "foster=abc", "--out", str(out)), "--care-cost"
    )
    assert not out.exists()
    assert_input_error(
        invoke("join", PFP, "--borough", "Camden", "--like", "Nowhere", "--draws", "10", "--out", str(out))
    )
    assert not out.exists()


def test_run_folder_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        res = invoke("run", PFP, "--draws", "4", "--seed", "1", "--out", str(tmp_path / "r"), "--quiet", "--no-report")
        assert res.exit_code == 0, res.output
        assert (tmp_path / "r").stat().st_mode & 0o777 == 0o755
    finally:
        os.umask(old)
