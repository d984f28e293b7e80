"""Hash every scenario's outputs at a fixed seed: the proof that a refactor moved no number.

Runs each scenario under ``scenarios/`` (stresses and Essex included) for a fixed number of
draws and seed, and hashes the *contents* of what a run folder's Parquet files hold: the
per-draw table (``draws``), the cash-flow bands (``cashflows``) and the mean occupancy
(``occupancy``), column by column (name, dtype and raw bytes), so that file metadata (the
writer's version, timestamps) cannot hide or fake a change.

Usage::

    python benchmarks/output_hashes.py --write hashes.json      # before the change
    python benchmarks/output_hashes.py --check hashes.json      # after: exit 1 if any hash moved

The default (600 draws, seed 7, chunks of 500) spans two chunks, so chunking is covered.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def frame_hash(df: pd.DataFrame) -> str:
    """SHA-256 of a frame's columns: names, dtypes and values (object columns as their text)."""
    h = hashlib.sha256()
    for name in df.columns:
        col = df[name]
        h.update(str(name).encode())
        h.update(str(col.dtype).encode())
        values = col.to_numpy()
        if values.dtype == object:
            h.update("\x1f".join(map(str, values)).encode())
        else:
            h.update(np.ascontiguousarray(values).tobytes())
    return h.hexdigest()


def scenario_hashes(path: Path, draws: int, seed: int, chunk_size: int) -> dict[str, str]:
    from sibmodel import load_scenario, simulate

    r = simulate(load_scenario(str(path)), draws=draws, seed=seed, chunk_size=chunk_size)
    try:
        return {
            "draws": frame_hash(r.draws),
            "cashflows": frame_hash(r.cashflows),
            "occupancy": frame_hash(r.occupancy),
        }
    finally:
        r.discard()


def all_hashes(draws: int, seed: int, chunk_size: int) -> dict:
    out = {}
    for path in sorted((ROOT / "scenarios").rglob("*.yaml")):
        if "boroughs" in path.relative_to(ROOT / "scenarios").parts:
            continue  # borough blocks for `join --borough-file`, not scenarios
        out[str(path.relative_to(ROOT))] = scenario_hashes(path, draws, seed, chunk_size)
    return {"draws": draws, "seed": seed, "chunk_size": chunk_size, "scenarios": out}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", metavar="FILE", help="write the hashes to FILE")
    group.add_argument("--check", metavar="FILE", help="compare with the hashes in FILE; exit 1 if any differs")
    ap.add_argument("--draws", type=int, default=600)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--chunk-size", type=int, default=500)
    args = ap.parse_args(argv)
    if args.check:
        want = json.loads(Path(args.check).read_text())
        got = all_hashes(want["draws"], want["seed"], want["chunk_size"])
        bad = [
            (name, part)
            for name, parts in want["scenarios"].items()
            for part, h in parts.items()
            if got["scenarios"].get(name, {}).get(part) != h
        ]
        bad += [(name, "(new scenario)") for name in got["scenarios"] if name not in want["scenarios"]]
        for name, part in bad:
            print(f"moved: {name} {part}")
        print("identical" if not bad else f"{len(bad)} output(s) moved")
        return 1 if bad else 0
    Path(args.write).write_text(json.dumps(all_hashes(args.draws, args.seed, args.chunk_size), indent=2) + "\n")
    print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
