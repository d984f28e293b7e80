"""The three users' notebooks execute without error at a small draw count, and are stored without outputs."""

from __future__ import annotations

import nbformat
import pytest
from support import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: Draws per run inside the notebooks during tests (they read SIBMODEL_NOTEBOOK_DRAWS).
TEST_DRAWS = "40"


def test_the_three_notebooks_exist():
    names = {p.name for p in NOTEBOOKS}
    assert {"investor_stress_test.ipynb", "borough_join_decision.ipynb", "policy_baseline.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear outputs before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("SIBMODEL_NOTEBOOK_DRAWS", TEST_DRAWS)
    nb = nbformat.read(path, as_version=4)
    # the kernel inherits this environment; it runs in notebooks/ as a user's would
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # the charts are shown as pictures, not as a Figure's text repr
    assert any("image/png" in o.get("data", {}) for o in outputs)
