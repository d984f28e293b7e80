"""The README's validation table is what the tool produces for the command the README gives."""

from __future__ import annotations

import re

from support import PFP, ROOT

from sibmodel import load_scenario
from sibmodel.engine.run import simulate
from sibmodel.report.tables import validation_table

README = ROOT / "README.md"
START, END = "<!-- validation:start -->", "<!-- validation:end -->"


def current_table() -> str:
    """The table for `sibmodel run scenarios/pfp.yaml --draws 2000 --seed 2018` (as the README says)."""
    r = simulate(load_scenario(PFP), draws=2000, seed=2018)
    return validation_table(r.summary()["validation"], markdown=True)


def test_readme_states_the_command():
    text = README.read_text()
    assert "sibmodel run scenarios/pfp.yaml --draws 2000 --seed 2018" in text
    assert "sibmodel validation runs/validation --markdown" in text


def test_readme_validation_table_is_current():
    text = README.read_text()
    block = re.search(re.escape(START) + r"\n(.*?)\n" + re.escape(END), text, re.S)
    assert block, "README has no validation block"
    assert block.group(1).strip() == current_table().strip(), (
        "README validation table is stale: regenerate it with `python tests/test_readme.py`"
    )


if __name__ == "__main__":  # regenerate the README block
    text = README.read_text()
    new = re.sub(
        re.escape(START) + r"\n.*?\n" + re.escape(END), lambda m: f"{START}\n{current_table()}\n{END}", text, flags=re.S
    )
    README.write_text(new)
    print("README validation table updated")


def readme_python_blocks() -> list[str]:
    """Every ```python block of the README."""
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.S | re.M)


def test_readme_python_api_block_runs(tmp_path, monkeypatch):
    """The README's "Python API" block, run as written from a clean folder holding only the scenarios."""
    blocks = readme_python_blocks()
    assert blocks and any("sibmodel.simulate(" in b for b in blocks)
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
    assert (tmp_path / "investor_returns.png").stat().st_size > 0
    assert (tmp_path / "runs" / "api-example" / "manifest.json").is_file()
