"""A full or read-only disk is an error message, not a traceback: exit code 2, one line, nothing
left behind (the spool and the staging folder are removed)."""

from __future__ import annotations

import errno

import pytest
from support import PFP, invoke

from sibmodel.results import run as results_run


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EDQUOT])
def test_a_disk_error_while_spooling_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, code):
    """pyarrow raises OSError with the system's errno when a write fails (seen: 'Error writing bytes
    to file ... No space left on device' on a full tmpfs); the spool's flush is where it happens."""

    def full(self):
        raise OSError(code, "Error writing bytes to file")

    monkeypatch.setattr(results_run.DrawStore, "_flush", full)
    res = invoke("run", PFP, "--draws", "20", "--seed", "1", "--out", str(tmp_path / "r"), "--quiet", "--no-report")
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert lines == [f"error: {__import__('os').strerror(code)}; nothing was written"]
    assert "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == []
