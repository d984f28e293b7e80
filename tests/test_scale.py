"""Scale-out and run control: Dask gives the same bits, progress, Ctrl-C, streamed outputs."""

from __future__ import annotations

import hashlib
import io
import json
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from support import PFP

from sibmodel.cli.commands import main
from sibmodel.cli.progress import progress_bar
from sibmodel.engine.run import simulate
from sibmodel.results.run import DrawStore


def content_hash(path) -> str:
    """Hash of a Parquet file's content (values, dtypes, column names), not of its bytes."""
    df = pd.read_parquet(path)
    h = hashlib.sha256(pd.util.hash_pandas_object(df, index=True).values.tobytes())
    h.update(repr(list(zip(df.columns, map(str, df.dtypes)))).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def in_process_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    res = CliRunner().invoke(
        main,
        [
            "run",
            PFP,
            "--draws",
            "120",
            "--seed",
            "5",
            "--chunk-size",
            "30",
            "--out",
            str(out),
            "--quiet",
            "--no-report",
            "--workers",
            "1",
        ],
    )
    assert res.exit_code == 0, res.output
    return out


def test_dask_local_cluster_gives_identical_draws(pfp, in_process_run, tmp_path):
    """Two Dask worker processes on loopback: draws.parquet has the same content as in process."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, processes=True
    ) as cluster:
        address = cluster.scheduler_address
        res = CliRunner().invoke(
            main,
            [
                "run",
                PFP,
                "--draws",
                "120",
                "--seed",
                "5",
                "--chunk-size",
                "30",
                "--out",
                str(tmp_path / "dask"),
                "--quiet",
                "--no-report",
                "--scheduler",
                address,
            ],
        )
        assert res.exit_code == 0, res.output
        with distributed.Client(address) as client:
            assert len(client.nthreads()) == 2
    assert content_hash(tmp_path / "dask" / "draws.parquet") == content_hash(in_process_run / "draws.parquet")
    a = json.loads((tmp_path / "dask" / "summary.json").read_text())
    b = json.loads((in_process_run / "summary.json").read_text())
    assert a["investor"] == b["investor"]
    assert a["meta"]["scheduler"] == address


def test_unreachable_scheduler_is_a_one_line_error(monkeypatch, tmp_path):
    pytest.importorskip("distributed")
    monkeypatch.setattr("sibmodel.engine.execution.CONNECT_TIMEOUT_S", 0.5)
    res = CliRunner().invoke(
        main, ["run", PFP, "--draws", "10", "--out", str(tmp_path / "r"), "--scheduler", "tcp://127.0.0.1:9"]
    )
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach a Dask scheduler"), res.output
    assert "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == []


def test_interrupt_leaves_no_folder(monkeypatch, tmp_path):
    """Ctrl-C mid-run: exit code 130, a one-line message, no run folder and no spool left behind."""
    import sibmodel.engine.chunk as engine

    real = engine.run_chunk
    calls = {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "run_chunk", interrupted)
    res = CliRunner().invoke(
        main, ["run", PFP, "--draws", "100", "--chunk-size", "20", "--seed", "1", "--out", str(tmp_path / "r")]
    )
    assert res.exit_code == 130
    assert res.output.strip().splitlines() == ["interrupted: stopped, nothing was written"]
    assert list(tmp_path.iterdir()) == []


def test_interrupt_while_writing_leaves_no_folder(monkeypatch, tmp_path):
    """An interrupt while the folder is written leaves neither the folder nor its temporary."""
    import sibmodel.results.run as results

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(results, "_link_or_copy", boom)
    res = CliRunner().invoke(main, ["run", PFP, "--draws", "20", "--seed", "1", "--out", str(tmp_path / "r")])
    assert res.exit_code == 130
    assert [p.name for p in tmp_path.iterdir()] == []


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal(monkeypatch):
    monkeypatch.setattr("sibmodel.cli.progress.DELAY_S", 0.0)
    pipe = io.StringIO()
    with progress_bar(100, stream=pipe) as update:
        update(50)
        update(100)
    assert pipe.getvalue() == ""
    tty = _Tty()
    with progress_bar(100, stream=tty, enabled=False) as update:
        update(100)
    assert tty.getvalue() == ""
    tty = _Tty()
    with progress_bar(100, stream=tty) as update:
        update(40)
        time.sleep(0.3)  # tqdm redraws at most every 0.1 s
        update(100)
    text = tty.getvalue()
    assert "100/100" in text and "draw/s" in text and "<00:00" in text  # done, rate, time left


def test_streamed_draws_match_in_memory_and_have_row_groups(pfp, tmp_path):
    """Spooled row group by row group (small groups forced): same table as gathered in memory."""
    res = simulate(pfp, draws=90, seed=3, chunk_size=20)
    store = DrawStore.create(tmp_path, row_group_draws=40)
    for lo in range(0, 90, 20):
        sl = slice(lo, lo + 20)
        store.add(
            {k: v.to_numpy()[sl] for k, v in res.draws.drop(columns="draw").items()},
            {k: v[sl] for k, v in res.series.items()},
        )
    store.close()
    f = pq.ParquetFile(store.draws_path)
    assert f.num_row_groups == 3  # flushed at >= 40 buffered draws: 40, 40, then 10 on close
    back = f.read().to_pandas()
    pd.testing.assert_frame_equal(back, res.draws)
    for name, arr in store.series_arrays().items():
        np.testing.assert_array_equal(arr, res.series[name])
    store.discard()


def test_cashflow_bands_and_summary_read_column_by_column(pfp):
    """Bands from the spool (one quarter at a time) equal numpy on the whole array."""
    res = simulate(pfp, draws=60, seed=4, chunk_size=25)
    cf = res.cashflows  # computed from the store, one column at a time
    net = res.series["investor_net_cashflow_gbp"]
    np.testing.assert_allclose(cf["investor_net_cashflow_gbp_p50"], np.percentile(net, 50, axis=0), rtol=1e-12)
    np.testing.assert_allclose(
        cf["investor_cumulative_net_cashflow_gbp_p5"], np.percentile(np.cumsum(net, axis=1), 5, axis=0), rtol=1e-12
    )
    np.testing.assert_allclose(
        cf["outcome_payments_gbp_mean"], res.series["outcome_payments_gbp"].mean(axis=0), rtol=1e-12
    )
    s = res.summary()
    assert s["contract"]["outcome_payments_gbp"]["p95"] == pytest.approx(
        np.percentile(res.draws["outcome_payments_gbp"], 95), rel=1e-15
    )
    assert s["meta"]["percentile_method"].startswith("exact")


def test_summary_subsamples_beyond_the_exact_limit(pfp, monkeypatch):
    """Past EXACT_LIMIT_DRAWS a column is read as every k-th draw, and the method says so."""
    import sibmodel.results.run as results

    monkeypatch.setattr(results, "EXACT_LIMIT_DRAWS", 40)
    res = simulate(pfp, draws=100, seed=6, chunk_size=30)
    res.store.row_group_draws = 7  # irrelevant once written; the file has its own row groups
    s = res.summary()
    x = res.draws["outcome_payments_gbp"].to_numpy()[::3]  # k = ceil(100 / 40) = 3
    assert s["contract"]["outcome_payments_gbp"]["p50"] == pytest.approx(np.percentile(x, 50), rel=1e-15)
    assert s["contract"]["outcome_payments_gbp"]["mean"] == pytest.approx(x.mean(), rel=1e-15)
    assert (
        s["meta"]["percentile_method"].startswith("subsample: ") and "every 3-th draw" in s["meta"]["percentile_method"]
    )


def test_store_reads_every_kth_draw_across_row_groups(tmp_path):
    store = DrawStore.create(tmp_path, row_group_draws=10)
    for lo in range(0, 95, 19):
        n = min(19, 95 - lo)
        store.add({"x": np.arange(lo, lo + n, dtype=float)}, {"s": np.zeros((n, 2))})
    store.close()
    np.testing.assert_array_equal(store.column("x", every=4), np.arange(0, 95, 4))
    np.testing.assert_array_equal(store.column("x"), np.arange(95))
    store.discard()


def test_default_path_does_not_import_dask():
    """In process and on local processes, Dask is never imported (it is an optional extra)."""
    import subprocess
    import sys

    code = (
        "import sys; from sibmodel import load_scenario; from sibmodel.engine.run import simulate; "
        f"s = load_scenario({PFP!r}); simulate(s, draws=20, seed=1, chunk_size=10, workers=2).summary(); "
        "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
