"""Reading a saved run folder back: the frames, the summary, the manifest and the scenario.

A run folder (see :meth:`sibmodel.results.run.Results.to_dir`) holds everything a
report needs: ``summary.json``, ``draws.parquet``, ``cashflows.parquet`` and
``manifest.json``, whose ``scenario`` entry is the resolved scenario.
:func:`load_run` returns a :class:`SavedRun` with the same ``.draws``,
``.cashflows``, ``.summary()`` and ``.scenario`` as a
:class:`~sibmodel.results.run.Results`, so figures and reports take either.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sibmodel.exceptions import RunFolderError, ScenarioError, short_text
from sibmodel.scenario.paths import get_path
from sibmodel.scenario.schema import Scenario

#: Largest ``summary.json`` or ``manifest.json`` read back [bytes] (a run's are tens of kilobytes).
MAX_JSON_BYTES = 64 * 1024**2

REQUIRED_FILES = ("summary.json", "manifest.json", "draws.parquet", "cashflows.parquet")


class ParquetColumns:
    """Read-only, column-at-a-time view of a Parquet table: ``d[name]`` is a pandas Series.

    Only the columns asked for are read (and kept), so a figure of a run with a
    million draws holds a few columns, not the whole per-draw table.

    Parameters
    ----------
    path : Path
        The Parquet file.
    """

    def __init__(self, path: Path):
        import pyarrow.parquet as pq

        self.path = Path(path)
        meta = pq.ParquetFile(self.path).metadata
        self.columns = list(meta.schema.names)
        self._n = meta.num_rows
        self._cache: dict[str, pd.Series] = {}

    def __getitem__(self, name: str) -> pd.Series:
        import pyarrow.parquet as pq

        if name not in self._cache:
            if name not in self.columns:
                raise KeyError(name)
            self._cache[name] = pd.Series(pq.read_table(self.path, columns=[name]).column(0).to_numpy(), name=name)
        return self._cache[name]

    def __len__(self) -> int:
        return self._n

    def __contains__(self, name: str) -> bool:
        return name in self.columns

    def to_frame(self) -> pd.DataFrame:
        """The whole table in memory."""
        return pd.read_parquet(self.path)


@dataclass
class SavedRun:
    """A run read back from its folder.

    Parameters
    ----------
    path : Path
        The run folder.
    scenario : Scenario
        The resolved scenario, rebuilt from ``manifest.json``.
    draws : ParquetColumns
        One row per draw (``draws.parquet``), read a column at a time; ``.to_frame()`` loads it whole.
    cashflows : pandas.DataFrame
        Per cash quarter: mean and 5/50/95% bands [GBP] (``cashflows.parquet``).
    summary_data : dict
        ``summary.json`` (NaN stored as null is read back as NaN).
    manifest : dict
        ``manifest.json``.
    """

    path: Path
    scenario: Scenario
    draws: ParquetColumns
    cashflows: pd.DataFrame
    summary_data: dict
    manifest: dict

    def summary(self) -> dict:
        """The saved summary (as :meth:`Results.summary` returned it)."""
        return self.summary_data

    @functools.cached_property
    def occupancy(self) -> pd.DataFrame:
        """Mean weekly occupancy by arm, borough and state (``occupancy.parquet``; empty if the folder has none)."""
        file = self.path / "occupancy.parquet"
        if not file.is_file():
            return pd.DataFrame()
        try:
            return pd.read_parquet(file)
        except (OSError, ValueError) as exc:
            raise RunFolderError(f"{file}: cannot read it: {exc}") from None


def _nan_for_none(obj, key: str | None = None):
    """``summary.json`` as :meth:`Results.summary` gave it: null is NaN where a number was not defined
    (JSON has no NaN), but stays None in ``meta`` (settings: null means not given) and in text entries."""
    if isinstance(obj, dict):
        return {k: (v if k == "meta" and key is None else _nan_for_none(v, k)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_nan_for_none(v, key) for v in obj]
    return float("nan") if obj is None and key not in _TEXT_KEYS else obj


#: Entries of ``summary.json`` that hold text; every other leaf is a number, true/false or null.
_TEXT_KEYS = {"label", "figure", "source", "kind", "note"}


def _text_where_number(obj, path: str = ""):
    """The dotted path of the first text (or other non-number) where ``summary.json`` holds numbers, else ``None``."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if path == "" and k in ("meta", "warnings"):
                continue
            found = _text_where_number(v, f"{path}.{k}" if path else str(k))
            if found is not None:
                return found
        return None
    if isinstance(obj, list):
        for i, v in enumerate(obj):
            found = _text_where_number(v, f"{path}.{i}")
            if found is not None:
                return found
        return None
    if isinstance(obj, str):
        return None if path.rsplit(".", 1)[-1] in _TEXT_KEYS else path
    return None if obj is None or isinstance(obj, (bool, int, float)) else path


def read_summary(folder: str | os.PathLike) -> dict:
    """``summary.json`` of a run folder, checked: a mapping whose figures are numbers (null for NaN).

    Raises
    ------
    RunFolderError
        The file is missing, not JSON, or holds text (or anything else) where a number belongs.
    """
    path = Path(folder) / "summary.json"
    if not path.is_file():
        raise RunFolderError(f"{folder}: not a run folder: summary.json is missing (make one with `sibmodel run`)")
    summary = _read_json(path)
    if not isinstance(summary, dict) or not isinstance(summary.get("meta"), dict):
        raise RunFolderError(f"{path}: not a sibmodel summary (no 'meta' entry)")
    bad = _text_where_number(summary)
    if bad is not None:
        raise RunFolderError(
            f"{path}: {bad}: a number is expected, "
            f"given {short_text(get_path(summary, bad))}: the file was changed after the run"
        )
    return summary


def _read_json(path: Path):
    """A JSON file of a run folder, read only if it is a regular file of at most :data:`MAX_JSON_BYTES`."""
    try:
        if not path.is_file():
            raise RunFolderError(f"{path}: not a regular file")
        with open(path, "rb") as f:
            raw = f.read(MAX_JSON_BYTES + 1)
        if len(raw) > MAX_JSON_BYTES:
            raise RunFolderError(f"{path}: larger than {MAX_JSON_BYTES:,} bytes, not a file written by sibmodel")
        return json.loads(raw)
    except (OSError, ValueError, RecursionError) as exc:
        raise RunFolderError(f"{path}: cannot read it: {exc}") from None


def _check_numeric_columns(path: Path, allowed_text: tuple[str, ...] = ()) -> None:
    """Every column of a Parquet file is numeric or true/false (bar ``allowed_text``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise RunFolderError(f"{path}: cannot read it: {exc}") from None
    for field in schema:
        if field.name in allowed_text:
            continue
        if not (pa.types.is_integer(field.type) or pa.types.is_floating(field.type) or pa.types.is_boolean(field.type)):
            raise RunFolderError(
                f"{path}: column {field.name!r} holds {field.type}, "
                "a number is expected: the file was changed after the run"
            )


def load_run(path: str | os.PathLike) -> SavedRun:
    """Read a run folder written by ``sibmodel run``.

    Raises
    ------
    RunFolderError
        When ``path`` is not a folder, lacks one of :data:`REQUIRED_FILES`, or a
        file cannot be read; the message names the folder and what is wrong.
    """
    from sibmodel.scenario.load import validate_data

    folder = Path(path)
    if not folder.is_dir():
        raise RunFolderError(f"{folder}: not a folder (expected a run folder written by `sibmodel run`)")
    missing = [f for f in REQUIRED_FILES if not (folder / f).is_file()]
    if missing:
        raise RunFolderError(f"{folder}: not a run folder; missing {', '.join(missing)} (written by `sibmodel run`)")
    summary = read_summary(folder)
    _check_numeric_columns(folder / "draws.parquet")
    _check_numeric_columns(folder / "cashflows.parquet", allowed_text=("quarter_end",))
    manifest = _read_json(folder / "manifest.json")
    try:
        draws = ParquetColumns(folder / "draws.parquet")
        cashflows = pd.read_parquet(folder / "cashflows.parquet")
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"{folder}: cannot read the run: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("scenario"), dict):
        raise RunFolderError(
            f"{folder}/manifest.json: no resolved 'scenario' entry (was the run written by an older sibmodel?)"
        )
    try:
        scenario = validate_data(manifest["scenario"], str(folder / "manifest.json"))
    except ScenarioError as exc:
        raise RunFolderError(f"{folder}/manifest.json: the saved scenario is not valid:\n{exc}") from exc
    return SavedRun(folder, scenario, draws, cashflows, _nan_for_none(summary), manifest)
