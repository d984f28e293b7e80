"""``manifest.json``: the provenance of every output folder, from one builder.

Every command that writes a folder (``run``, ``compare``, ``stress``, ``join``, ``baseline``,
``sensitivity``) writes ``manifest.json`` beside its results: the command line, the seed and
its entropy, the draws, the hash of each scenario, the ``--set`` overrides, and the versions
of sibmodel, Python and every dependency.  A run folder's manifest also holds the run's
metadata and the resolved scenario (:attr:`sibmodel.results.run.Results.manifest`), so that
``sibmodel report`` can rebuild the report from it; a rebuild is recorded under
``report_rebuilds``.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from sibmodel.results.folders import replace_file
from sibmodel.version import __version__

#: The file every output folder holds.
MANIFEST_FILE = "manifest.json"

#: Dependencies whose versions are recorded when the installed package's metadata cannot be
#: read (running from a source tree); otherwise the metadata's list is used.
FALLBACK_DEPENDENCIES = (
    "numpy",
    "scipy",
    "pandas",
    "matplotlib",
    "click",
    "PyYAML",
    "pydantic",
    "pyarrow",
    "tqdm",
    "numba",
    "dask",
    "SALib",
)
#: Optional extras whose dependencies change results or run them (recorded when installed).
RECORDED_EXTRAS = ("dask", "sensitivity")


def _dependencies() -> list[str]:
    """The distribution names sibmodel depends on (its runtime requirements and the recorded extras)."""
    try:
        requirements = importlib.metadata.requires("sibmodel") or []
    except importlib.metadata.PackageNotFoundError:
        return list(FALLBACK_DEPENDENCIES)
    names = []
    for req in requirements:
        name, _, marker = req.partition(";")
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
        if extra is None or extra.group(1) in RECORDED_EXTRAS:
            names.append(re.match(r"[A-Za-z0-9_.-]+", name.strip()).group(0))
    return list(dict.fromkeys(names))


def versions() -> dict[str, str | None]:
    """sibmodel's, Python's and each dependency's version (None: not installed)."""
    out: dict[str, str | None] = {"sibmodel": __version__, "python": platform.python_version()}
    for name in _dependencies():
        try:
            out[name.lower()] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name.lower()] = None
    return out


def now_utc() -> str:
    """The time now, UTC, to the second (ISO 8601)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def build_manifest(
    command: str,
    *,
    seed: int | None,
    seed_entropy: int | str | None,
    draws: int | None,
    scenario_hashes: Mapping[str, str],
    overrides: Iterable[str] = (),
    command_line: Iterable[str] | None = None,
    **settings,
) -> dict:
    """The provenance of an output folder.

    Parameters
    ----------
    command : str
        The sibmodel command (``run``, ``stress``, ...).
    seed : int or None
        The root seed (None: a run given no ``--seed``; its entropy is then the record).
    seed_entropy : int or str or None
        The root entropy of the random streams (for a given seed, the seed itself).
    draws : int or None
        Monte Carlo draws per run [draws].
    scenario_hashes : mapping of str -> str
        SHA-256 of each resolved scenario (:func:`sibmodel.scenario.load.scenario_hash`),
        by the file (or name) it came from.
    overrides : iterable of str
        The ``--set PATH=VALUE`` overrides, in order.
    command_line : iterable of str, optional
        The command as typed (``["sibmodel", "run", ...]``); None from the Python API.
    **settings
        Further settings of the command (e.g. ``n_base``), recorded as given.

    Returns
    -------
    dict
        ``command``, ``command_line``, ``seed``, ``seed_entropy`` (text: it can exceed 64 bits),
        ``draws``, ``scenario_hashes``, ``overrides``, ``versions``, ``written_at`` and ``settings``.
    """
    return {
        "command": command,
        "command_line": None if command_line is None else [str(a) for a in command_line],
        "seed": seed,
        "seed_entropy": None if seed_entropy is None else str(seed_entropy),
        "draws": draws,
        "scenario_hashes": dict(scenario_hashes),
        "overrides": list(overrides),
        "settings": dict(settings),
        "versions": versions(),
        "written_at": now_utc(),
    }


def _plain(obj):
    """A numpy scalar as the Python number it holds (for ``json.dumps``)."""
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def write_manifest(folder: str | os.PathLike, manifest: Mapping) -> Path:
    """Write ``manifest`` as :data:`MANIFEST_FILE` in ``folder`` (atomically); returns its path."""
    return replace_file(folder, MANIFEST_FILE, json.dumps(dict(manifest), indent=2, default=_plain) + "\n")


def manifest_writer(manifest: Mapping):
    """A ``before_marker`` for :func:`sibmodel.results.folders.output_folder` that writes ``manifest``."""
    return lambda staging: write_manifest(staging, manifest)
