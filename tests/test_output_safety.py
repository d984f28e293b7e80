"""Outputs are never destroyed: ownership, --overwrite, locks, signals and clean-up (issue 14, items 1-3).

Each case reproduces one found in issue 14 ("Reliability"): a command pointed at a
folder it did not write, ``--out .``, a symbolic link, a scenario named ``..yaml``,
``run --set`` replacing ``runs/pfp``, two runs to one folder, SIGTERM / SIGHUP /
SIGKILL in the middle of a run, and a swap of run folders cut short.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from support import PFP, ROOT, invoke

from sibmodel.results import folders as outputs
from sibmodel.results.folders import MARKER_FILE, OutputError

SMALL = ["--draws", "20", "--seed", "1", "--chunk-size", "20", "--workers", "1"]


def tree(folder: Path) -> dict:
    """Every file under ``folder`` with its bytes (hidden ones included)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def thesis_folder(tmp_path: Path) -> Path:
    p = tmp_path / "p"
    p.mkdir()
    (p / "thesis.txt").write_text("three years of work\n")
    return p


# --------------------------------------------------------------------------- 1. folders sibmodel did not write
WRITERS = {
    "run": ["run", PFP, *SMALL, "--quiet"],
    "compare": ["compare", PFP, PFP, "--draws", "10", "--seed", "1", "--workers", "1"],
    "stress": ["stress", PFP, "--no-suite", "--tornado", "--draws", "10", "--seed", "1"],
    "join": ["join", PFP, "--borough", "Croydon", "--no-break-even", "--draws", "10", "--seed", "1"],
    "baseline": ["baseline", PFP, "--draws", "10", "--seed", "1"],
    "sensitivity": ["sensitivity", PFP, "--n-base", "2", "--replicates", "1"],
}


@pytest.mark.parametrize("command", list(WRITERS))
@pytest.mark.parametrize("overwrite", [False, True])
def test_a_folder_sibmodel_did_not_write_is_never_touched(command, overwrite, tmp_path):
    """Issue 14: `mkdir p && echo t > p/thesis.txt && sibmodel run ... --out p` deleted thesis.txt."""
    p = thesis_folder(tmp_path)
    before = tree(p)
    res = invoke(*WRITERS[command], "--out", p, *(["--overwrite"] if overwrite else []))
    assert res.exit_code == 2, res.output
    assert "sibmodel did not write" in res.output and "Traceback" not in res.output
    assert tree(p) == before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["p"], "nothing left beside it"


def test_report_writes_only_into_a_sibmodel_run_folder(tmp_path):
    p = thesis_folder(tmp_path)
    res = invoke("report", p)
    assert res.exit_code == 2, res.output
    assert "not a folder sibmodel wrote" in res.output
    assert tree(p) == {"thesis.txt": b"three years of work\n"}
    # in a run folder: a file of the user's among the figures is never replaced
    out = tmp_path / "r"
    assert invoke("run", PFP, *SMALL, "--quiet", "--out", out).exit_code == 0
    (out / "figures" / "my_plot.png").write_bytes(b"png")
    before = tree(out)
    res = invoke("report", out)
    assert res.exit_code == 2 and "figures/my_plot.png" in res.output
    assert tree(out) == before
    # and a file of the user's beside the report does not become sibmodel's by a report
    (out / "figures" / "my_plot.png").unlink()
    (out / "thesis.txt").write_text("mine")
    assert invoke("report", out).exit_code == 0, "report.html and figures/ are sibmodel's"
    assert "thesis.txt" not in json.loads((out / MARKER_FILE).read_text())["files"]
    assert outputs.foreign_entries(out) == ["thesis.txt"]


def test_calibrate_write_never_replaces_a_file_it_did_not_write(tmp_path):
    args = ["calibrate", PFP, "--target", "time_at_home.counterfactual=0.35", "--param", "care.entry.prob", "--write"]
    mine = tmp_path / "notes.yaml"
    mine.write_text("my own notes\n")
    for extra in ([], ["--overwrite"]):
        res = invoke(*args, mine, *extra)
        assert res.exit_code == 2, res.output
        assert "not written by sibmodel" in res.output
        assert mine.read_text() == "my own notes\n"
    out = tmp_path / "cal.yaml"
    assert invoke(*args, out).exit_code == 0
    first = out.read_text()
    res = invoke(*args, out)  # an earlier sibmodel file: only with --overwrite
    assert res.exit_code == 2 and "--overwrite" in res.output
    assert invoke(*args, out, "--overwrite").exit_code == 0
    assert out.read_text() == first  # the same calibration, written again
    assert sorted(x.name for x in tmp_path.iterdir()) == ["cal.yaml", "notes.yaml"]


def test_out_dot_is_refused(tmp_path, monkeypatch):
    """Issue 14: `--out .` gave a traceback (exit 1); here the current folder, even empty, is refused."""
    monkeypatch.chdir(tmp_path)
    res = invoke("run", PFP, *SMALL, "--out", ".")
    assert res.exit_code == 2 and "current folder" in res.output
    assert list(tmp_path.iterdir()) == []
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    res = invoke("run", PFP, *SMALL, "--out", "..")
    assert res.exit_code == 2 and "current folder" in res.output
    assert [p.name for p in tmp_path.rglob("*")] == ["a", "b"]


def test_out_at_a_symlink_is_refused(tmp_path):
    """Issue 14: `--out` at a symbolic link gave a traceback; the folder it points to is kept."""
    p = thesis_folder(tmp_path)
    (tmp_path / "link").symlink_to(p)
    res = invoke("run", PFP, *SMALL, "--out", tmp_path / "link", "--overwrite")
    assert res.exit_code == 2 and "symbolic link" in res.output
    assert (tmp_path / "link").is_symlink() and tree(p) == {"thesis.txt": b"three years of work\n"}


def test_out_at_a_file_is_refused(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    for args in (["run", PFP, *SMALL], WRITERS["baseline"]):
        res = invoke(*args, "--out", f, "--overwrite")
        assert res.exit_code == 2, res.output
        assert f.read_text() == "x"
    with pytest.raises(OutputError, match="not a folder"):
        outputs.check_target(f, overwrite=True)


def test_a_scenario_named_dot_dot_yaml_never_writes_runs_itself(tmp_path, monkeypatch):
    """Issue 14: a scenario file `..yaml` made the default output `runs/`, and every earlier run was deleted."""
    monkeypatch.chdir(tmp_path)
    assert invoke("run", PFP, *SMALL, "--quiet", "--out", "runs/earlier").exit_code == 0
    earlier = tree(tmp_path / "runs" / "earlier")
    shutil.copy(PFP, tmp_path / "..yaml")
    res = invoke("run", "..yaml", *SMALL)
    assert res.exit_code == 0, res.output
    assert tree(tmp_path / "runs" / "earlier") == earlier
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["earlier", "scenario"]
    assert outputs.safe_name(".") == outputs.safe_name("..") == "scenario"
    assert outputs.safe_name("../x/y") == "_x_y"


def test_an_out_path_through_dot_dot_keeps_its_own_temporaries(tmp_path, monkeypatch):
    """The clean-up must know this process's own spool however the folder is spelt (here ../b)."""
    (tmp_path / "a").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    res = invoke("run", PFP, *SMALL, "--quiet", "--out", "../b/r")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "b" / "r" / "draws.parquet").is_file()
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["r"]


def test_empty_existing_folder_is_fine(tmp_path):
    (tmp_path / "e").mkdir()
    res = invoke("run", PFP, *SMALL, "--quiet", "--no-report", "--out", tmp_path / "e")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "e" / "summary.json").is_file() and (tmp_path / "e" / MARKER_FILE).is_file()


# --------------------------------------------------------------------------- 1. --overwrite and default names
def test_replacing_an_earlier_output_needs_overwrite(tmp_path):
    out = tmp_path / "r"
    assert invoke("run", PFP, *SMALL, "--quiet", "--no-report", "--out", out).exit_code == 0
    first = tree(out)
    res = invoke("run", PFP, "--draws", "20", "--seed", "2", "--quiet", "--no-report", "--out", out)
    assert res.exit_code == 2 and "add --overwrite" in res.output
    assert tree(out) == first
    res = invoke("run", PFP, "--draws", "20", "--seed", "2", "--quiet", "--no-report", "--out", out, "--overwrite")
    assert res.exit_code == 0, res.output
    assert json.loads((out / "summary.json").read_text())["meta"]["seed"] == 2
    # a file the user put into the output is not sibmodel's: --overwrite refuses rather than delete it
    (out / "thesis.txt").write_text("mine")
    (out / "figures").mkdir()
    (out / "figures" / "my_plot.png").write_bytes(b"png")
    before = tree(out)
    res = invoke("run", PFP, *SMALL, "--quiet", "--no-report", "--out", out, "--overwrite")
    assert res.exit_code == 2 and "figures/my_plot.png, thesis.txt" in res.output
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_a_run_folder_of_an_earlier_version_is_recognised(tmp_path):
    """A run folder written before the marker existed (manifest.json with versions.sibmodel) can be replaced."""
    out = tmp_path / "r"
    assert invoke("run", PFP, *SMALL, "--quiet", "--out", out).exit_code == 0
    (out / MARKER_FILE).unlink()
    assert outputs.is_sibmodel_folder(out)
    assert invoke("run", PFP, *SMALL, "--quiet", "--out", out).exit_code == 2
    assert invoke("run", PFP, *SMALL, "--quiet", "--out", out, "--overwrite").exit_code == 0
    assert (out / MARKER_FILE).is_file()
    # ... but not one that only looks like it
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "manifest.json").write_text(json.dumps({"versions": {"python": "3"}}))
    assert not outputs.is_sibmodel_folder(fake)


def test_default_outputs_never_collide(tmp_path, monkeypatch):
    """Issue 14: `run --set ...` silently replaced runs/pfp/, and its report kept the base scenario's title."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(PFP, tmp_path / "pfp.yaml")
    base = ["run", "pfp.yaml", *SMALL, "--quiet"]
    assert invoke(*base).exit_code == 0
    first = tree(tmp_path / "runs" / "pfp")
    res = invoke(*base[:-1])  # the same command again: a new folder beside it, and it says so
    assert res.exit_code == 0, res.output
    assert "Wrote runs/pfp-2/" in res.output and "runs/pfp/ holds an earlier output and was kept" in res.output
    lag = "contract.payment_lag_quarters=3"
    assert invoke(*base, "--set", lag).exit_code == 0
    tag = outputs.overrides_tag([lag])
    assert tag.startswith("-set-") and len(tag) == 13
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["pfp", "pfp-2", f"pfp{tag}"]
    assert tree(tmp_path / "runs" / "pfp") == first
    html = (tmp_path / "runs" / f"pfp{tag}" / "report.html").read_text()
    assert f"(--set {lag})</h1>" in html
    manifest = json.loads((tmp_path / "runs" / f"pfp{tag}" / "manifest.json").read_text())
    assert manifest["overrides"] == [lag] and manifest["scenario"]["contract"]["payment_lag_quarters"] == 3
    # --overwrite replaces the default folder itself
    assert invoke(*base, "--overwrite").exit_code == 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["pfp", "pfp-2", f"pfp{tag}"]


def test_default_outputs_of_the_workflows_and_compare_never_collide(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(PFP, tmp_path / "pfp.yaml")
    for _ in range(2):
        assert invoke("baseline", "pfp.yaml", "--draws", "10", "--seed", "1").exit_code == 0
        assert (
            invoke("compare", "pfp.yaml", "pfp.yaml", "--draws", "10", "--seed", "1", "--workers", "1").exit_code == 0
        )
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "baseline-pfp",
        "baseline-pfp-2",
        "compare-pfp-vs-pfp",
        "compare-pfp-vs-pfp-2",
    ]


def test_help_says_how_default_outputs_are_named():
    for command in ("run", "stress", "baseline", "join", "sensitivity", "compare"):
        text = " ".join(invoke(command, "--help").output.split())
        assert "-2, -3, ..." in text and "--overwrite" in text, command


def test_printed_summary_is_the_runs_own(tmp_path, monkeypatch):
    """Issue 14: a run once printed another run's summary, because it re-read summary.json."""
    from sibmodel.results.run import Results

    real = Results.to_dir

    def and_then_someone_else_writes(self, path, *a, **k):
        out = real(self, path, *a, **k)
        (Path(path) / "summary.json").write_text(json.dumps({"meta": {"draws": -1}}))
        return out

    monkeypatch.setattr(Results, "to_dir", and_then_someone_else_writes)
    res = invoke("run", PFP, *SMALL, "--json", "--no-report", "--out", tmp_path / "r")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["meta"]["draws"] == 20


# --------------------------------------------------------------------------- 1/3. the swap
def test_a_failed_swap_puts_the_old_run_back(tmp_path, monkeypatch):
    """Without an atomic exchange, a failure between the two renames restores the old folder."""
    out = tmp_path / "r"
    assert invoke("run", PFP, *SMALL, "--quiet", "--no-report", "--out", out).exit_code == 0
    first = tree(out)
    monkeypatch.setattr(outputs, "_exchange", lambda a, b: False)
    real_rename = os.rename

    def second_rename_fails(src, dst):
        if Path(src).name.startswith(".sibmodel-new-") and Path(dst) == out:
            raise KeyboardInterrupt  # e.g. Ctrl-C just between the two renames
        return real_rename(src, dst)

    monkeypatch.setattr(outputs.os, "rename", second_rename_fails)
    res = invoke("run", PFP, "--draws", "20", "--seed", "9", "--quiet", "--no-report", "--out", out, "--overwrite")
    assert res.exit_code == 130
    assert tree(out) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_the_fallback_swap_replaces_the_old_run(tmp_path, monkeypatch):
    out = tmp_path / "r"
    assert invoke("run", PFP, *SMALL, "--quiet", "--no-report", "--out", out).exit_code == 0
    monkeypatch.setattr(outputs, "_exchange", lambda a, b: False)
    assert (
        invoke(
            "run", PFP, "--draws", "20", "--seed", "9", "--quiet", "--no-report", "--out", out, "--overwrite"
        ).exit_code
        == 0
    )
    assert json.loads((out / "summary.json").read_text())["meta"]["seed"] == 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_atomic_exchange_swaps_two_folders(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "x").write_text("b")
    if not outputs._exchange(a, b):
        pytest.skip("renameat2(RENAME_EXCHANGE) not available on this system or file system")
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_swap_cut_short_by_sigkill_is_restored_by_the_next_command(tmp_path):
    """Issue 14: an interrupt between the two renames left the old run only as `.run.old`, which the next run deleted.
    Here the state a SIGKILL between the renames leaves (old folder hidden, new one staged, no run folder)
    is put right by the next command that writes in the same folder."""
    out = tmp_path / "r"
    assert invoke("run", PFP, *SMALL, "--quiet", "--no-report", "--out", out).exit_code == 0
    first = tree(out)
    pid = dead_pid()
    host = outputs.HOST_TAG
    out.rename(tmp_path / f".sibmodel-old-{host}-{pid}-0123abcd.r")
    staged = tmp_path / f".sibmodel-new-{host}-{pid}-4567cdef.r"
    staged.mkdir()
    (staged / "summary.json").write_text("{half")
    (tmp_path / f".sibmodel-spool-{host}-{pid}-89abcdef").mkdir()
    other_host = (
        tmp_path / f".sibmodel-spool-000000-{pid}-89abcdef"
    )  # another machine's: its pids are not ours to judge
    other_host.mkdir()
    res = invoke("run", PFP, *SMALL, "--quiet", "--no-report", "--out", tmp_path / "other")
    assert res.exit_code == 0, res.output
    assert tree(out) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == [other_host.name, "other", "r"]


def test_temporaries_of_live_processes_are_left_alone(tmp_path):
    live = tmp_path / f".sibmodel-spool-{outputs.HOST_TAG}-{os.getppid()}-0123abcd"
    live.mkdir()
    mine_but_not_made_here = tmp_path / f".sibmodel-new-{outputs.HOST_TAG}-{os.getpid()}-0123abcd.x"
    mine_but_not_made_here.mkdir()  # a dead process that had this process's id
    made = outputs.make_temporary(tmp_path, "new", "y")
    outputs.clean_stale(tmp_path)
    assert live.exists() and made.exists() and not mine_but_not_made_here.exists()


# --------------------------------------------------------------------------- 2. locks
def test_a_second_command_on_a_locked_output_stops_at_once(tmp_path):
    out = tmp_path / "r"
    with outputs.claim(out):
        t0 = time.perf_counter()
        res = subprocess.run(
            [sys.executable, "-m", "sibmodel", "run", PFP, *SMALL, "--out", str(out)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
        assert res.returncode == 2, res.stderr
        assert "another sibmodel command is writing there" in res.stderr
        assert f"process {os.getpid()}" in res.stderr
        assert time.perf_counter() - t0 < 30
        # within one process the lock is re-entrant
        with outputs.claim(out):
            pass
    assert not out.exists() and list(tmp_path.iterdir()) == []  # the lock file goes with the lock


# --------------------------------------------------------------------------- 3. signals
def _start_slow_run(out: Path, tmp_path: Path) -> subprocess.Popen:
    """A run with two pool workers, slow enough to be stopped mid-way; returns once its workers are busy."""
    cmd = [
        sys.executable,
        "-m",
        "sibmodel",
        "run",
        PFP,
        "--draws",
        "50000",
        "--chunk-size",
        "200",
        "--workers",
        "2",
        "--seed",
        "1",
        "--out",
        str(out),
        "--quiet",
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be stopped: {proc.communicate()}")
        kids = psutil.Process(proc.pid).children()
        if len(kids) >= 2 and any(p.name.startswith(".sibmodel-spool-") for p in tmp_path.iterdir()):
            time.sleep(1.0)
            return proc
        time.sleep(0.2)
    proc.kill()
    pytest.fail("the run never started its workers")


def _gone(pids, timeout=10.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_like_ctrl_c(sig, tmp_path):
    """Issue 14: SIGTERM left two orphaned workers and hidden folders; SIGHUP left the hidden folders."""
    out = tmp_path / "r"
    proc = _start_slow_run(out, tmp_path)
    workers = [p.pid for p in psutil.Process(proc.pid).children()]
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert err.strip() == f"stopped by {signal.Signals(sig).name}: nothing was written"
    assert _gone(workers)
    assert list(tmp_path.iterdir()) == []


def test_sigkill_leaves_no_workers_and_the_next_run_cleans_up(tmp_path):
    """Issue 14: after SIGKILL hidden folders stayed and no later run cleaned them up."""
    out = tmp_path / "r"
    proc = _start_slow_run(out, tmp_path)
    workers = [p.pid for p in psutil.Process(proc.pid).children()]
    proc.kill()
    proc.communicate(timeout=30)
    assert _gone(workers), "pool workers outlived their killed parent"
    left = sorted(p.name for p in tmp_path.iterdir())
    assert not out.exists() and any(n.startswith(".sibmodel-spool-") for n in left), left
    res = invoke("run", PFP, *SMALL, "--quiet", "--no-report", "--out", out)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_an_ignored_hangup_stays_ignored():
    """Under nohup (SIGHUP ignored) a hangup must not stop a run: only signals left at their default are caught."""
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with outputs.stop_on_signals():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is outputs._raise_interrupted
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        with outputs.stop_on_signals():
            assert signal.getsignal(signal.SIGHUP) is outputs._raise_interrupted
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_workers_are_asked_to_die_with_their_parent():
    from sibmodel.engine.execution import die_with_parent

    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux only")
    code = (
        "import os, signal, ctypes, sys\n"
        "from sibmodel.engine.execution import die_with_parent\n"
        "assert die_with_parent(os.getppid())\n"
        "sig = ctypes.c_int()\n"
        "assert ctypes.CDLL(None).prctl(2, ctypes.byref(sig), 0, 0, 0) == 0\n"  # PR_GET_PDEATHSIG
        "print(sig.value)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 0, res.stderr
    assert int(res.stdout) == signal.SIGKILL
    assert die_with_parent is not None
