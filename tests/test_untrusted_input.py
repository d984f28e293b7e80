"""Untrusted text and unreachable schedulers (issue 14, items 6 and 7).

- ``extends:`` reads only regular ``.yaml``/``.yml`` files and never echoes another file's content.
- Nothing the CLI prints carries control characters from a scenario (terminal escape codes).
- Every CSV cell that begins with ``= + - @``, a tab or a carriage return is prefixed with a
  single quote, as the OWASP "CSV Injection" page advises.
- A ``--scheduler`` that is not a Dask scheduler (an HTTP server, a silent listener, a garbage
  replier; local sockets served by threads here) is a one-line exit-2 error within the stated
  10 s, and leaves nothing behind.
"""

from __future__ import annotations

import csv
import http.server
import socket
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from support import PFP, ROOT, invoke

from sibmodel.engine import execution as parallel
from sibmodel.exceptions import SchedulerError
from sibmodel.safe_text import FORMULA_PREFIXES, csv_cell, terminal_text, write_csv

SECRET = "root:$6$c2VjcmV0LXNhbHQ$notARealHashButPrivate:19000:0:99999:7:::"

#: Set the window title (OSC 0 ... BEL), turn text red (CSI 31 m), one-byte CSI, backspace, CR.
ESCAPES = "\x1b]0;pwned\x07\x1b[31m\x9b2J\x08\r"


# --------------------------------------------------------------------------- extends
@pytest.mark.parametrize("name", ["shadow", "shadow.txt", "shadow.json"])
def test_extends_refuses_a_file_that_is_not_yaml_and_does_not_echo_it(tmp_path, name):
    (tmp_path / name).write_text(SECRET + "\nsecond: line\n")
    child = tmp_path / "child.yaml"
    child.write_text(f"extends: {name}\n")
    res = invoke("validate", str(child))
    assert res.exit_code == 2
    assert "must name a scenario file ending in .yaml or .yml" in res.output
    assert "c2VjcmV0" not in res.output and "second" not in res.output


def test_extends_etc_shadow_prints_none_of_its_lines(tmp_path):
    child = tmp_path / "child.yaml"
    child.write_text("extends: /etc/shadow\n")
    res = invoke("validate", str(child))
    assert res.exit_code == 2 and "ending in .yaml or .yml" in res.output
    assert "root:" not in res.output


@pytest.mark.parametrize(
    "content",
    [
        SECRET + "\n",  # the trailing colon makes it a one-key mapping: "not a scenario file"
        SECRET.replace(":::", "") + "\n",  # a plain string: "the top level must be a mapping"
        "- " + SECRET.replace(":::", "") + "\n",  # a list
        "metadata: 1\n" + SECRET + "\n",  # scenario blocks and a foreign key
        "metadata: 1\nsecret: " + SECRET + "\n",  # a YAML error
    ],
)
def test_a_foreign_yaml_file_is_not_echoed(tmp_path, content):
    (tmp_path / "foreign.yaml").write_text(content)
    child = tmp_path / "child.yaml"
    child.write_text("extends: foreign.yaml\n")
    res = invoke("validate", str(child))
    assert res.exit_code == 2, res.output
    assert "c2VjcmV0" not in res.output and "notAReal" not in res.output, res.output


def test_extends_a_device_or_folder_is_refused(tmp_path):
    (tmp_path / "dir.yaml").mkdir()
    child = tmp_path / "child.yaml"
    child.write_text("extends: dir.yaml\n")
    assert "is a directory" in invoke("validate", str(child)).output
    if Path("/dev/null").exists():
        (tmp_path / "null.yaml").symlink_to("/dev/null")
        child.write_text("extends: null.yaml\n")
        res = invoke("validate", str(child))
        assert res.exit_code == 2 and "is not a regular file" in res.output


# --------------------------------------------------------------------------- terminal
def test_terminal_text_removes_controls_but_keeps_layout():
    assert terminal_text("a\tb\nc" + ESCAPES + "d") == "a\tb\nc]0;pwned[31m2Jd"
    assert terminal_text("£ é ü") == "£ é ü"


def test_escape_codes_in_a_scenario_never_reach_the_terminal(tmp_path):
    evil = tmp_path / "evil.yaml"
    evil.write_text(
        f'extends: {PFP}\nmetadata:\n  name: "Evil{ESCAPES.encode("unicode_escape").decode()}"\n  price_year: 2017\n'
    )
    res = invoke("validate", str(evil))
    assert res.exit_code == 0, res.output
    assert "Evil]0;pwned" in res.output
    assert not any(ch in res.output for ch in "\x1b\x07\x9b\x08\r")
    # an error message that quotes a value with escape codes
    res = invoke("validate", PFP, "--set", 'metadata.name=""', "--set", "boroughs.Bexley\x1b[31m.x=1")
    assert res.exit_code == 2 and "\x1b" not in res.output


def test_output_through_the_filter_keeps_click_working(tmp_path):
    """--json output (json escapes controls itself) is still valid JSON through the filter."""
    import json

    res = invoke("validate", PFP, "--json")
    assert res.exit_code == 0
    assert json.loads(res.output)["metadata"]["name"]


# --------------------------------------------------------------------------- CSV
@pytest.mark.parametrize("prefix", FORMULA_PREFIXES)
def test_csv_cell_neutralises_each_formula_prefix(prefix):
    """OWASP, "CSV Injection": cells starting with = + - @ tab or CR are prefixed with a quote."""
    cell = csv_cell(prefix + 'HYPERLINK("http://x")')
    if prefix == "\r":  # the carriage return is a control character: removed, and what follows is checked
        assert cell == 'HYPERLINK("http://x")'
    else:
        assert cell == "'" + prefix + 'HYPERLINK("http://x")'


def test_csv_cell_leaves_numbers_and_plain_text():
    assert csv_cell(-1.5) == -1.5
    assert csv_cell("Bexley") == "Bexley"
    assert csv_cell("\x1b=cmd") == "'=cmd"  # an escape cannot hide a formula


def test_write_csv_quotes_text_cells_and_headers(tmp_path):
    df = pd.DataFrame({"scenario": ["=1+2", "@SUM(A1)", "-cmd", "ok"], "=head": [-1.0, 2.0, 3.0, 4.0]})
    write_csv(df, tmp_path / "x.csv")
    rows = list(csv.reader(open(tmp_path / "x.csv", newline="")))
    assert rows[0] == ["scenario", "'=head"]
    assert [r[0] for r in rows[1:]] == ["'=1+2", "'@SUM(A1)", "'-cmd", "ok"]
    assert [float(r[1]) for r in rows[1:]] == [-1.0, 2.0, 3.0, 4.0]  # numbers stay numbers


def test_compare_csv_holds_no_formula(tmp_path):
    """A scenario named =HYPERLINK(...) was written into compare.csv as a formula."""
    evil = tmp_path / "evil.yaml"
    evil.write_text(
        f'extends: {PFP}\nmetadata:\n  name: "=HYPERLINK(\\"http://example.invalid\\")"\n  price_year: 2017\n'
    )
    out = tmp_path / "cmp"
    res = invoke("compare", str(evil), PFP, "--draws", "4", "--seed", "1", "--workers", "1", "--out", str(out))
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(open(out / "compare.csv", newline="")))
    names = {r["scenario"] for r in rows}
    assert '\'=HYPERLINK("http://example.invalid")' in names
    assert not any(v.startswith(FORMULA_PREFIXES) and not _is_number(v) for r in rows for v in r.values())


def _is_number(text: str) -> bool:
    """A plain number such as -0.5 is data, not a formula (a spreadsheet reads it as a number)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_every_csv_write_goes_through_write_csv():
    """One helper for every CSV sibmodel writes: no other to_csv call in the package."""
    sources = {p.name: p.read_text() for p in (ROOT / "sibmodel").glob("*.py")}
    assert [name for name, text in sources.items() if ".to_csv(" in text] == ["safe_text.py"]


# --------------------------------------------------------------------------- Dask
def _http_server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.server_address[1]


def _listener(reply: bytes | None):
    """A TCP listener that says nothing (``reply=None``) or sends ``reply`` and keeps the socket open."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    conns = []

    def serve():
        while True:
            try:
                c, _ = sock.accept()
            except OSError:
                return
            conns.append(c)
            if reply is not None:
                try:
                    c.sendall(reply)
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    return sock, sock.getsockname()[1]


SERVERS = {
    "http": lambda: _http_server(),
    "silent": lambda: _listener(None),
    # a length of 2**62 bytes: Dask's client tried to allocate it ("Unable to allocate 3.07 EiB")
    "garbage": lambda: _listener((2**62).to_bytes(8, "little") + b"garbage" * 10),
    "short-garbage": lambda: _listener(b"\x05\x00\x00\x00\x00\x00\x00\x00hello"),
}


@pytest.mark.parametrize("kind", list(SERVERS))
def test_a_non_scheduler_is_refused_within_the_limit(kind):
    pytest.importorskip("distributed")
    server, port = SERVERS[kind]()
    try:
        t0 = time.monotonic()
        with pytest.raises(SchedulerError, match="cannot reach a Dask scheduler"):
            parallel._connect(f"tcp://127.0.0.1:{port}", 1)
        assert time.monotonic() - t0 <= parallel.CONNECT_TIMEOUT_S + 1.0
    finally:
        (server.shutdown() if hasattr(server, "shutdown") and kind == "http" else None)
        server.close() if hasattr(server, "close") else server.server_close()


def test_run_at_an_http_server_is_one_line_and_leaves_nothing(monkeypatch, tmp_path):
    pytest.importorskip("distributed")
    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT_S", 2.0)
    srv, port = _http_server()
    try:
        parent = tmp_path / "parent"
        parent.mkdir()
        t0 = time.monotonic()
        res = invoke(
            "run", PFP, "--draws", "5", "--out", str(parent / "r"), "--quiet", "--scheduler", f"tcp://127.0.0.1:{port}"
        )
        assert time.monotonic() - t0 < 2.0 + 10
        assert res.exit_code == 2, res.output
        lines = [ln for ln in res.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: cannot reach a Dask scheduler"), res.output
        assert list(parent.iterdir()) == []
    finally:
        srv.shutdown()
        srv.server_close()
