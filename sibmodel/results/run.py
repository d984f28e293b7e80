"""Results of a run: per-draw table, quarterly bands, summary, and the run folder.

``Results.draws`` is a tidy pandas frame with one row per draw;
``Results.cashflows`` holds, per cash quarter, the mean and 5/50/95% bands of
each quarterly series.  :meth:`Results.summary` gives every headline figure as
``{mean, sd, p5, p50, p95}`` (probabilities as plain numbers), with exact
percentiles over all draws.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import typing
import weakref
from pathlib import Path

import numpy as np
import pandas as pd

from sibmodel.model.finance import p_never_repaid, risk_metrics, stats_block
from sibmodel.model.referrals import QUARTER_WEEKS
from sibmodel.outputs import (
    ARMS,
    BASELINE_CLAMPED,
    BASELINE_GAP_PAYMENTS_GBP,
    CARE_COSTS_AVOIDED_GBP,
    CARE_COSTS_COUNTERFACTUAL_GBP,
    CARE_COSTS_TREATED_GBP,
    COMMISSIONER_PREFIX,
    DRAW,
    IMPLIED_HAZARD_RATIO_PREFIX,
    INVESTOR_CAPITAL_DRAWN_CUMULATIVE_GBP,
    INVESTOR_COMMITMENT_EXCEEDED,
    INVESTOR_CUMULATIVE_NET_CASHFLOW_GBP,
    INVESTOR_IRR_ANNUAL,
    INVESTOR_MOIC,
    INVESTOR_NET_CASHFLOW_GBP,
    INVESTOR_PAYBACK_QUARTER,
    INVESTOR_TOTAL_LOSS,
    NET_SAVINGS_GBP,
    OUTCOME_PAYMENTS_GBP,
    OUTPUTS,
    STARTS,
    TIME_AT_HOME_SHARE,
    UNCAPPED_PAYMENTS_GBP,
    borough_prefix,
    observed_values,
)
from sibmodel.scenario.load import scenario_hash, scenario_to_data
from sibmodel.scenario.schema import Scenario
from sibmodel.version import __version__

BANDS = (5, 50, 95)

#: Draws per Parquet row group in ``draws.parquet`` [draws].
ROW_GROUP_DRAWS = 65_536

#: How summary and cash-flow percentiles are computed (recorded in the run's metadata).
PERCENTILE_METHOD = (
    "exact: numpy.percentile (linear interpolation) over all finite draws, "
    "reading one column at a time from draws.parquet (8 bytes per draw per column in memory)"
)

#: Above this many draws a whole column is not read into memory (400 MB a float column);
#: summary figures then come from every k-th draw instead [draws].
EXACT_LIMIT_DRAWS = 50_000_000


def percentile_method(n_draws: int) -> str:
    """How the summary's figures are computed for a run of ``n_draws`` (recorded in its metadata)."""
    if n_draws <= EXACT_LIMIT_DRAWS:
        return PERCENTILE_METHOD
    k = -(-n_draws // EXACT_LIMIT_DRAWS)
    return (
        f"subsample: mean, sd, percentiles and probabilities over every {k}-th draw "
        f"({-(-n_draws // k):,} of {n_draws:,} draws; draws are independent, so this is a simple "
        "random sample whose Monte Carlo error is that of a run of that size), read row group by "
        "row group from draws.parquet; numpy.percentile (linear interpolation)"
    )


class DrawStore:
    """Per-draw columns and quarterly series, spooled to Parquet row group by row group.

    Chunks are added in chunk order; rows are buffered until ``row_group_draws``
    are waiting and then written as one row group, so memory is bounded by the
    buffer whatever the number of draws.  Two files live in ``folder``:
    ``draws.parquet`` (the run's per-draw table, copied into the run folder as it
    is) and ``series.parquet`` (one column per series and cash quarter, named
    ``<series>|<quarter>``, read back one column at a time for the bands).

    Parameters
    ----------
    folder : Path
        A private folder; removed by :meth:`discard` or when the owning
        :class:`Results` is garbage-collected.
    row_group_draws : int
        Draws per Parquet row group [draws].
    """

    def __init__(self, folder: Path, row_group_draws: int = ROW_GROUP_DRAWS):
        self.folder = Path(folder)
        self.row_group_draws = int(row_group_draws)
        self.n_draws = 0
        self.series_quarters: dict[str, int] = {}
        self._buffers: dict[str, list] = {"draws": [], "series": []}
        self._buffered = 0
        self._writers: dict = {}
        self._files: dict = {}
        self._readers: dict = {}
        self.closed = False

    @classmethod
    def create(cls, spool_dir: str | os.PathLike | None = None, **kwargs) -> DrawStore:
        """A store in a new hidden folder under ``spool_dir`` (default: the system temporary folder)."""
        from sibmodel.results.folders import make_temporary

        return cls(make_temporary(tempfile.gettempdir() if spool_dir is None else spool_dir, "spool"), **kwargs)

    @property
    def draws_path(self) -> Path:
        return self.folder / "draws.parquet"

    @property
    def series_path(self) -> Path:
        return self.folder / "series.parquet"

    def add(self, columns: dict, series: dict) -> None:
        """Append one chunk: ``columns`` of shape (D,) and ``series`` of shape (D, Qc)."""
        import pyarrow as pa

        n = len(next(iter(columns.values())))
        draws = {DRAW: np.arange(self.n_draws, self.n_draws + n, dtype=np.int64), **columns}
        self._buffers["draws"].append(pa.table(draws))
        flat = {}
        for name, arr in series.items():
            self.series_quarters.setdefault(name, arr.shape[1])
            for q in range(arr.shape[1]):
                flat[f"{name}|{q}"] = np.ascontiguousarray(arr[:, q])
        self._buffers["series"].append(pa.table(flat))
        self.n_draws += n
        self._buffered += n
        if self._buffered >= self.row_group_draws:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        for kind, path in (("draws", self.draws_path), ("series", self.series_path)):
            tables = self._buffers[kind]
            if not tables:
                continue
            if kind not in self._writers:
                self._files[kind] = path
                self._writers[kind] = pq.ParquetWriter(path, tables[0].schema)
            writer = self._writers[kind]
            table = pa.concat_tables([t if t.schema.equals(writer.schema) else t.cast(writer.schema) for t in tables])
            writer.write_table(table, row_group_size=max(1, table.num_rows))
            self._buffers[kind] = []
        self._buffered = 0

    def close(self) -> None:
        """Write what is buffered and close the files."""
        if self.closed:
            return
        self._flush()
        for w in self._writers.values():
            w.close()
        self._writers = {}
        self.closed = True

    def discard(self) -> None:
        """Close and delete everything (a failed or interrupted run)."""
        for w in self._writers.values():
            try:
                w.close()
            except Exception:  # pragma: no cover - best effort on the way out
                pass
        self._writers = {}
        self._close_readers()
        self.closed = True
        shutil.rmtree(self.folder, ignore_errors=True)

    # -------------------------------------------------------------- reading
    def _reader(self, path: Path):
        """The Parquet reader of one of the store's files, opened once (its footer, which
        names every column, is parsed once, not per column read; reads are single-threaded:
        one column at a time, and threads only make Arrow's memory pool hold more)."""
        if path not in self._readers:
            import pyarrow.parquet as pq

            self._readers[path] = pq.ParquetFile(path)
        return self._readers[path]

    def _close_readers(self) -> None:
        for r in self._readers.values():
            r.close()
        self._readers = {}

    def column(self, name: str, every: int = 1) -> np.ndarray:
        """One per-draw column: whole (8 bytes x draws for a float column), or every ``every``-th draw."""
        f = self._reader(self.draws_path)
        if every == 1:
            return f.read(columns=[name], use_threads=False).column(0).to_numpy()
        parts, first = [], 0
        for g in range(f.num_row_groups):
            x = f.read_row_group(g, columns=[name], use_threads=False).column(0).to_numpy()
            parts.append(x[(-first) % every :: every])
            first += x.size
        return np.concatenate(parts)

    def column_names(self) -> list[str]:
        return list(self._reader(self.draws_path).schema_arrow.names)

    def series_column(self, name: str, quarter: int) -> np.ndarray:
        """One series in one cash quarter over all draws [GBP]."""
        return (
            self._reader(self.series_path).read(columns=[f"{name}|{quarter}"], use_threads=False).column(0).to_numpy()
        )

    def draws_frame(self) -> pd.DataFrame:
        import pyarrow.parquet as pq

        return pq.read_table(self.draws_path).to_pandas()

    def series_arrays(self) -> dict:
        import pyarrow.parquet as pq

        table = pq.read_table(self.series_path)
        return {
            name: np.column_stack([table.column(f"{name}|{q}").to_numpy() for q in range(n_q)])
            for name, n_q in self.series_quarters.items()
        }


class _Columns:
    """Column access to the per-draw table without loading it: ``d[name]`` is a pandas Series."""

    def __init__(self, store: DrawStore):
        self._store = store

    def __getitem__(self, name: str) -> pd.Series:
        return pd.Series(self._store.column(name, self.every), name=name)

    @property
    def every(self) -> int:
        """Read every k-th draw: 1 up to :data:`EXACT_LIMIT_DRAWS` (see :func:`percentile_method`)."""
        return -(-self._store.n_draws // EXACT_LIMIT_DRAWS)

    def __len__(self) -> int:
        return -(-self._store.n_draws // self.every)

    def __contains__(self, name: str) -> bool:
        return name in self._store.column_names()


@typing.runtime_checkable
class DrawColumns(typing.Protocol):
    """A run's per-draw table, read a column at a time: ``d[name]`` is a pandas Series
    (a :class:`pandas.DataFrame`, or a saved run's :class:`sibmodel.results.rundir.ParquetColumns`)."""

    def __getitem__(self, name: str) -> pd.Series: ...

    def __len__(self) -> int: ...

    def __contains__(self, name: str) -> bool: ...


@typing.runtime_checkable
class RunLike(typing.Protocol):
    """What a run offers its readers (figures, reports, compare), fresh (:class:`Results`) or saved
    (:class:`sibmodel.results.rundir.SavedRun`, from :func:`sibmodel.results.rundir.load_run`).

    For the same run both give equal summaries (a figure that is not defined is NaN in both;
    settings in ``meta`` that were not given are None in both) and the same manifest keys.
    """

    #: The resolved scenario the run simulated.
    scenario: Scenario

    @property
    def draws(self) -> DrawColumns:
        """One row per draw, read a column at a time (``draws["investor_moic"]``)."""

    @property
    def cashflows(self) -> pd.DataFrame:
        """Per cash quarter: mean and 5/50/95% bands of each quarterly series [GBP]."""

    @property
    def occupancy(self) -> pd.DataFrame:
        """Mean number of young people in each state per borough and calendar week, both arms."""

    @property
    def manifest(self) -> dict:
        """The provenance of the run (``manifest.json``): seed, draws, scenario hash, versions."""

    def summary(self) -> dict:
        """Every headline figure, as ``summary.json`` holds them."""


class Results:
    """Everything a run produced.

    Large runs keep their per-draw table on disk (a :class:`DrawStore`) and load
    it only when :attr:`draws` or :attr:`series` is asked for; :meth:`summary`,
    :attr:`cashflows` and :meth:`to_dir` read it one column at a time, so a run
    of a million draws never holds its whole table in memory.

    Parameters
    ----------
    scenario : Scenario
    draws : pandas.DataFrame, optional
        One row per draw (or give ``store``).
    series : dict of str -> ndarray (draws, quarters), optional
        Quarterly series per draw [GBP].
    meta : dict
        Seed entropy, draws, hash, version, timings.
    occupancy_mean : dict of arm -> ndarray (B, W, S)
        Mean weekly occupancy by borough, week and state [young people].
    store : DrawStore, optional
        Spooled per-draw table and series (instead of ``draws`` and ``series``).
    """

    def __init__(
        self,
        scenario: Scenario,
        draws: pd.DataFrame | None = None,
        series: dict | None = None,
        meta: dict | None = None,
        occupancy_mean: dict | None = None,
        *,
        store: DrawStore | None = None,
    ):
        if store is None and draws is None:
            raise ValueError("give draws or store")
        self.scenario = scenario
        self._draws = draws
        self._series = series
        self._summary = None
        self.meta = dict(meta or {})
        self.occupancy_mean = dict(occupancy_mean or {})
        self.store = store
        if store is not None:
            weakref.finalize(self, shutil.rmtree, str(store.folder), True)

    @property
    def draws(self) -> pd.DataFrame:
        """One row per draw (loaded from the store on first use)."""
        if self._draws is None:
            self._draws = self.store.draws_frame()
        return self._draws

    @property
    def series(self) -> dict:
        """Quarterly series per draw, shape (draws, cash quarters) [GBP] (loaded on first use)."""
        if self._series is None:
            self._series = self.store.series_arrays()
        return self._series

    def discard(self) -> None:
        """Delete the spool on disk now (after :meth:`to_dir`, or to give up a run); loaded frames stay."""
        if self.store is not None:
            self.store.discard()

    @property
    def n_draws(self) -> int:
        return self.store.n_draws if self._draws is None else len(self._draws)

    def _columns(self):
        """The per-draw table if loaded, else column-at-a-time access to the store."""
        return self._draws if self._draws is not None else _Columns(self.store)

    # ------------------------------------------------------------------ frames
    def _series_columns(self, name: str):
        """Each cash quarter of one series, one at a time (with the number of quarters)."""
        if self._series is not None or self.store is None:
            arr = self.series[name]
            return arr.shape[1], (arr[:, q] for q in range(arr.shape[1]))
        n_q = self.store.series_quarters[name]
        return n_q, (self.store.series_column(name, q) for q in range(n_q))

    def _series_names(self) -> list[str]:
        if self._series is not None or self.store is None:
            return list(self.series)
        return list(self.store.series_quarters)

    @property
    def cashflows(self) -> pd.DataFrame:
        """Per cash quarter: mean and 5/50/95% bands of each quarterly series [GBP].

        Exact: each quarter's values over all draws are read (one quarter at a time)
        and passed to ``numpy.percentile`` (linear interpolation).
        """
        start = self.scenario.timeline.programme_start
        rows = {}
        names = self._series_names()
        n_q, _ = self._series_columns(names[0])
        rows["quarter"] = np.arange(n_q)
        rows["quarter_end"] = [
            str(start + dt.timedelta(weeks=QUARTER_WEEKS * (q + 1)) - dt.timedelta(days=1)) for q in range(n_q)
        ]

        def bands(label, columns):
            stats = np.array([[x.mean(), *np.percentile(x, BANDS)] for x in columns])
            rows[f"{label}_mean"] = stats[:, 0]
            for j, p in enumerate(BANDS):
                rows[f"{label}_p{p}"] = stats[:, 1 + j]

        for name in names:
            bands(name, self._series_columns(name)[1])
            if name == INVESTOR_NET_CASHFLOW_GBP:
                bands(INVESTOR_CUMULATIVE_NET_CASHFLOW_GBP, _running_sum(self._series_columns(name)[1]))
                # capital drawn to date: the waterfall draws only when the SPV's cash is
                # negative, leaving nothing to distribute that quarter, so draws = max(-net, 0)
                drawn = (np.maximum(-x, 0.0) for x in self._series_columns(name)[1])
                bands(INVESTOR_CAPITAL_DRAWN_CUMULATIVE_GBP, _running_sum(drawn))
        return pd.DataFrame(rows)

    @property
    def occupancy(self) -> pd.DataFrame:
        """Mean number of young people in each state per borough and calendar week, both arms (long format)."""
        states = ["home_never_in_care", "home_after_care"] + [f"in_{k}" for k in self.scenario.care.placements]
        frames = []
        for arm, occ in self.occupancy_mean.items():
            b, w, k = np.meshgrid(
                np.arange(occ.shape[0]), np.arange(occ.shape[1]), np.arange(occ.shape[2]), indexing="ij"
            )
            frames.append(
                pd.DataFrame(
                    {
                        "arm": arm,
                        "borough": np.array(list(self.scenario.boroughs))[b.ravel()],
                        "week": w.ravel(),
                        "state": np.array(states)[k.ravel()],
                        "mean_count": occ.ravel(),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    # ------------------------------------------------------------------ summary
    def summary(self) -> dict:
        """Every headline figure; see the README for the keys (computed once, a copy each call)."""
        import copy

        if self._summary is None:
            self._summary = self._compute_summary()
        return copy.deepcopy(self._summary)

    def _compute_summary(self) -> dict:
        d = self._columns()
        s = self.scenario

        def st(col):
            return stats_block(d[col].to_numpy(dtype=float))

        def prob(mask):
            return float(np.mean(mask))

        risk = risk_metrics(d[INVESTOR_MOIC].to_numpy(float), d[INVESTOR_IRR_ANNUAL].to_numpy(float))
        out = {
            "outcomes": {
                "care_share": {arm: stats_block(1 - d[TIME_AT_HOME_SHARE[arm]].to_numpy(float)) for arm in ARMS}
            },
            "contract": {"p_total_cap_binding": prob(d[UNCAPPED_PAYMENTS_GBP] > d[OUTCOME_PAYMENTS_GBP] + 0.5)},
            "investor": {
                "commitment_gbp": float(s.investment.commitment_gbp.mean()),
                "p_commitment_exceeded": prob(d[INVESTOR_COMMITMENT_EXCEEDED]),
                "p_total_loss": prob(d[INVESTOR_TOTAL_LOSS]),
                "p_never_repaid": p_never_repaid(
                    d[INVESTOR_PAYBACK_QUARTER].to_numpy(float), d[INVESTOR_MOIC].to_numpy(float)
                ),
                **risk,
            },
            "commissioner": {
                "discount_rate_real_annual": s.discounting.real_rate_annual,
                "price_year": s.metadata.price_year,
                "total": self._commissioner_block(COMMISSIONER_PREFIX),
                "boroughs": {name: self._commissioner_block(borough_prefix(name)) for name in s.boroughs},
            },
            "government": {},
            "policy": {},
            "meta": dict(self.meta),
        }
        # every registered column the run wrote, at its summary path (the commissioners' totals are above)
        gap_paid = any(t.metric == "care_days_saved" for t in s.contract.tariffs)
        for o in OUTPUTS:
            if o.summary is None or o.key not in d or o.key.startswith(COMMISSIONER_PREFIX):
                continue
            if o.key == BASELINE_GAP_PAYMENTS_GBP and not gap_paid:
                continue  # meaningful only for a contract paying against a contractual baseline (care days saved)
            if o.summary.startswith("baseline.") and s.baseline is None:
                continue
            *parents, leaf = o.summary.split(".")
            node = out
            for key in parents:
                node = node.setdefault(key, {})
            node[leaf] = st(o.key)
        if s.baseline is not None:
            out["baseline"]["implied_hazard_ratio"] = {
                name: st(IMPLIED_HAZARD_RATIO_PREFIX + name) for name in s.interventions
            }
            out["baseline"]["share_of_draws_clamped"] = prob(d[BASELINE_CLAMPED] > 0)
        out["validation"] = self.validation(out)
        out["warnings"] = self.warnings()
        return out

    def warnings(self) -> list[str]:
        """What a reader of the run must know: no starts at all, payments due after the contract end."""
        from sibmodel.model.referrals import Calendar

        found = []
        d = self._columns()
        if not np.any(d[STARTS].to_numpy(float) > 0):
            found.append(
                "no young person starts in any draw (every borough's expected starts are zero): outcome, payment and "
                "care figures are zero, shares and ratios are undefined (null)"
            )
        n_contract_q = Calendar.of(self.scenario).n_quarters
        n_q, quarters = self._series_columns(OUTCOME_PAYMENTS_GBP)
        means = np.array([x.mean() for x in quarters]) if n_q else np.zeros(0)
        late, total = float(means[n_contract_q:].sum()), float(means.sum())
        if late > 0:
            lag = self.scenario.contract.payment_lag_quarters
            found.append(
                f"outcome payments of GBP {late:,.0f} on average ({late / total:.1%} of all) "
                "fall due after the contract end "
                f"({self.scenario.timeline.contract_end}), "
                f"paid {lag} quarter(s) in arrears (contract.payment_lag_quarters)"
            )
        return found

    def _commissioner_block(self, prefix: str) -> dict:
        d = self._columns()
        paid = d[prefix + OUTCOME_PAYMENTS_GBP].to_numpy(float)
        avoided = d[prefix + CARE_COSTS_AVOIDED_GBP].to_numpy(float)
        net = d[prefix + NET_SAVINGS_GBP].to_numpy(float)
        bcr = np.divide(avoided, paid, out=np.full(len(d), np.nan), where=paid > 0)
        block = {
            OUTCOME_PAYMENTS_GBP: stats_block(paid),
            CARE_COSTS_TREATED_GBP: stats_block(d[prefix + CARE_COSTS_TREATED_GBP].to_numpy(float)),
            CARE_COSTS_COUNTERFACTUAL_GBP: stats_block(d[prefix + CARE_COSTS_COUNTERFACTUAL_GBP].to_numpy(float)),
            CARE_COSTS_AVOIDED_GBP: stats_block(avoided),
            NET_SAVINGS_GBP: stats_block(net),
            "benefit_cost_ratio": stats_block(bcr),
            "p_net_positive": float(np.mean(net > 0)),
        }
        if prefix != COMMISSIONER_PREFIX:
            block[STARTS] = stats_block(d[prefix + STARTS].to_numpy(float))
        return block

    def validation(self, summary: dict) -> list[dict]:
        """The scenario's ``observed:`` figures against the model's distribution."""
        out = []
        for label, obs in self.scenario.observed.items():
            x = observed_values(obs.figure, self._columns())
            x = x[np.isfinite(x)]
            p5, p50, p95 = np.percentile(x, BANDS) if x.size else (np.nan,) * 3
            pct = float(np.mean(x < obs.value) + 0.5 * np.mean(x == obs.value)) * 100 if x.size else float("nan")
            out.append(
                {
                    "label": label,
                    "figure": obs.figure,
                    "observed": obs.value,
                    "p5": float(p5),
                    "p50": float(p50),
                    "p95": float(p95),
                    "percentile_of_observed": pct,
                    "inside_p5_p95": bool(p5 <= obs.value <= p95),
                    "kind": obs.kind,
                    "note": obs.note,
                    "source": obs.source,
                }
            )
        return out

    # ------------------------------------------------------------------ writing
    @property
    def manifest(self) -> dict:
        """What ``manifest.json`` holds: the run's metadata, the provenance every output folder
        has (:func:`sibmodel.results.manifest.build_manifest`: command line, seed, draws, scenario
        hash, overrides, versions, ``written_at``: now, UTC) and the resolved scenario -- the same
        keys as a saved run's ``manifest``."""
        from sibmodel.results.manifest import build_manifest

        m = self.meta
        provenance = build_manifest(
            m.get("command") or "run",
            seed=m.get("seed"),
            seed_entropy=m.get("seed_entropy"),
            draws=m.get("draws"),
            scenario_hashes={
                m.get("scenario_file") or self.scenario.metadata.name: m.get("scenario_hash")
                or scenario_hash(self.scenario)
            },
            overrides=m.get("overrides") or (),
            command_line=m.get("command_line"),
            chunk_size=m.get("chunk_size"),
            workers=m.get("workers"),
            scheduler=m.get("scheduler"),
        )
        return {**m, **provenance, "scenario": scenario_to_data(self.scenario)}

    def to_dir(self, path: str | os.PathLike, extra_writers=(), *, overwrite: bool = False) -> Path:
        """Write the run folder atomically: a hidden staging folder swapped into place.

        Files: ``summary.json``, ``draws.parquet``, ``cashflows.parquet``,
        ``occupancy.parquet`` (mean weekly occupancy by borough and state), ``manifest.json``,
        the marker :data:`sibmodel.results.folders.MARKER_FILE`, plus whatever ``extra_writers``
        (callables taking the staging folder and the results) add.

        Parameters
        ----------
        path : path
            The run folder: new, empty, or (with ``overwrite``) an earlier sibmodel output.
        extra_writers : iterable of callable
        overwrite : bool
            Replace an earlier sibmodel output at ``path`` (once the new one is complete).

        Raises
        ------
        OutputError
            ``path`` cannot be written without destroying something (see
            :func:`sibmodel.results.folders.check_target`), or is being written by another process.
        """
        from sibmodel.results.folders import output_folder

        with output_folder(path, command=self.meta.get("command") or "run", overwrite=overwrite) as out:
            tmp = out.staging
            summary = self.summary()
            (tmp / "summary.json").write_text(json.dumps(jsonable(summary), indent=2, allow_nan=True))
            if self.store is not None:
                _link_or_copy(self.store.draws_path, tmp / "draws.parquet")
            else:
                self.draws.to_parquet(tmp / "draws.parquet", index=False)
            self.cashflows.to_parquet(tmp / "cashflows.parquet", index=False)
            self.occupancy.to_parquet(tmp / "occupancy.parquet", index=False)
            (tmp / "manifest.json").write_text(json.dumps(jsonable(self.manifest), indent=2))
            for writer in extra_writers:
                writer(tmp, self)
        return out.target


def _running_sum(columns):
    """Cumulative sum over quarters of columns given one quarter at a time."""
    total = None
    for x in columns:
        total = x.astype(float, copy=True) if total is None else total + x
        yield total


def _link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (same file system, instant) or copy it."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


class OccupancySum:
    """Running sum of each chunk's weekly occupancy (integer counts, so order does not matter)."""

    def __init__(self):
        self.total: dict = {}

    def add(self, occupancy_sum: dict) -> None:
        for arm, occ in occupancy_sum.items():
            self.total[arm] = occ.copy() if arm not in self.total else self.total[arm] + occ

    def mean(self, n_draws: int) -> dict:
        """Mean over draws [young people]."""
        return {arm: occ / max(n_draws, 1) for arm, occ in self.total.items()}


def run_meta(s: Scenario, n_draws: int, *, entropy, seed, chunk_size, elapsed_s, workers, scheduler=None) -> dict:
    """The run's metadata, kept in ``summary.json`` and ``manifest.json``
    (``workers``: the processes that ran chunks; ``None`` on a remote Dask cluster, whose own)."""
    return {
        "seed": seed,
        "seed_entropy": str(entropy),
        "draws": int(n_draws),
        "chunk_size": int(chunk_size),
        "workers": None if workers is None else int(workers),
        "scheduler": scheduler,
        "scenario_hash": scenario_hash(s),
        "version": __version__,
        "elapsed_s": round(float(elapsed_s), 3),
        "percentile_method": percentile_method(n_draws),
    }


def jsonable(obj):
    """``obj`` with numpy numbers as Python ones and NaN or infinite numbers as None (JSON has no NaN); keys as text."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return None if not np.isfinite(v) else v
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
