"""Public references (issue 17 item 6): sources are cited by a short key such as ``[BOP-PFP]``, and every
key cited in the scenarios, the docs, the README or the code is listed in docs/references.md with its
title, publisher, date and URL; no text cites an internal file name that a reader cannot look up."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support import ROOT

REFERENCES = ROOT / "docs" / "references.md"
#: A citation key: a capital letter, then letters and digits, at least one hyphen, in square brackets.
KEY = re.compile(r"\[([A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+)\]")
#: What issue 17's acceptance greps for (grep -rIiE "seed 00[0-4]|seeds 00[0-4]|DOMAIN\.md"), built in
#: pieces so that this file does not match it.
INTERNAL = re.compile("seeds? 00[0-4]|" + "DOMAIN" + r"\.md", re.IGNORECASE)


def _files(*tops: str) -> list:
    out = []
    for top in tops:
        path = ROOT / top
        out += (
            [path]
            if path.is_file()
            else sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix in (".py", ".md", ".yaml", ".yml", ".ipynb")
            )
        )
    return out


def _entries() -> dict[str, list[str]]:
    """The rows of the references table: key -> [title, publisher, date, URL]."""
    rows = {}
    for line in REFERENCES.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        m = KEY.fullmatch(cells[0]) if line.startswith("| [") else None
        if m:
            assert m.group(1) not in rows, f"{m.group(1)} listed twice"
            rows[m.group(1)] = cells[1:]
    return rows


def _cited(paths) -> dict[str, set[str]]:
    cited: dict[str, set[str]] = {}
    for path in paths:
        if path in (REFERENCES, Path(__file__).resolve()):
            continue
        for key in KEY.findall(path.read_text(encoding="utf-8", errors="replace")):
            cited.setdefault(key, set()).add(str(path.relative_to(ROOT)))
    return cited


def test_every_reference_has_title_publisher_date_and_url():
    rows = _entries()
    assert len(rows) >= 15
    for key, cells in rows.items():
        assert len(cells) == 4 and all(cells), key
        assert re.search(r"https?://", cells[3]), (key, cells[3])


def test_every_cited_key_is_listed():
    cited = _cited(_files("scenarios", "docs", "README.md", "sibmodel", "tests", "notebooks"))
    missing = {k: sorted(v) for k, v in cited.items() if k not in _entries()}
    assert not missing, f"keys cited but not in docs/references.md: {missing}"
    assert {"BOP-PFP", "GO-Lab-INDIGO-PFP", "PSSRU-2017", "START-2018", "ONS-CPIH"} <= set(cited)


def test_every_listed_key_is_cited_somewhere():
    cited = _cited(_files("scenarios", "docs", "README.md", "sibmodel"))
    assert not set(_entries()) - set(cited), "listed in docs/references.md but cited nowhere"


@pytest.mark.parametrize("top", ["scenarios", "sibmodel", "docs", "README.md", "tests", "notebooks"])
def test_no_internal_citations(top):
    hits = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in _files(top)
        for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if INTERNAL.search(line)
    ]
    assert not hits, hits
