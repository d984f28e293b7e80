"""Fixtures shared by the test modules (plain paths and helpers are in ``support.py``)."""

from __future__ import annotations

import os

import pytest
from support import PFP, ROOT

from sibmodel import load_scenario

# hypothesis keeps its files in the repository's .hypothesis/ (git-ignored), not in whatever
# folder pytest was started from (read when it first writes, so setting it here is in time)
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(ROOT / ".hypothesis"))


@pytest.fixture(scope="session")
def pfp():
    """The Positive Families Partnership scenario, loaded once (a frozen model: tests do not change it)."""
    return load_scenario(PFP)
