"""Every ``sibmodel`` command shown in the README runs (issue 17 item 8: the README cannot drift).

The commands are read from the README itself, so a command added to it is tested without any change
here. How they are found and rewritten:

- **Found** in the README's ```` ```bash ````, ```` ```console ````, ```` ```sh ```` and
  ```` ```shell ```` blocks. A line ending in ``\\`` continues on the next; ``# ...`` comments
  and comment lines are dropped; in a console block only lines starting with the ``$`` prompt
  count. A line is split at ``&&`` and ``;``, and every part whose program is ``sibmodel``
  (``.venv/bin/sibmodel``, ``sibmodel``) or ``python -m sibmodel`` is a command; the rest
  (``python3 -m venv``, ``pip install``, ``pytest``) is set-up and not run.
- **Rewritten** only so that it is quick and writes nowhere but a temporary folder:

  - ``--draws N`` becomes ``--draws 50`` (:data:`SMALL_DRAWS`; or the command's own minimum, e.g.
    ``update``'s 100) when N is larger, and a command that takes ``--draws`` but shows none gets
    it too (every default is 1,000 or more);
  - a command that takes ``--seed`` but shows none gets ``--seed 1``, so that a failure
    reproduces (the README leaves the seed out to show that it is then printed; at 50 draws the
    goal seek ``--solve tariff --for investor.p_loss=0.10`` — five draws — is met on most seeds,
    not on all: with a total cap some draws lose at any tariff);
  - every ``run`` after the README's first gets ``--no-report``, unless it shows a report option
    (``--figures``, ``--svg``): the first ``run`` and
    ``sibmodel report`` exercise the report, the later ``run`` commands are about something else
    (a stress scenario, ``--set``, workers, the validation table) and the report is most of a
    small run's time;
  - an absolute ``--out`` or ``--write`` path is moved into the temporary folder (relative ones
    already land there);
  - a ``--scheduler`` other than ``local`` names a cluster that is not there: the command is
    not run, and only its arguments are parsed (click accepts every option and value), since no
    test may connect to an address outside this machine.

  Nothing else changes: a seed given, ``--set``, ``--workers``, ``--overwrite``, the scenario paths.
- **Run** in the README's order, in-process through click's ``CliRunner`` (as the console script
  would run them, without a new interpreter each time), in one temporary folder whose
  ``scenarios/`` holds a symbolic link to each entry of the repository's ``scenarios/``. The
  folder itself is real, so ``calibrate --write scenarios/my_calibrated.yaml`` writes into the
  temporary folder and never into the repository (checked). A command that needs what an
  earlier one made (``report runs/pfp`` after ``run scenarios/pfp.yaml``) finds it there.
- **Checked**: exit code 0; a command with an ``--out`` option wrote (or replaced) a sibmodel
  output folder (``.sibmodel-output.json``) with a ``manifest.json``; a ``run`` without
  ``--no-report`` wrote ``report.html``; ``report RUN_DIR`` rewrote ``RUN_DIR/report.html``;
  ``--write FILE`` wrote FILE. Every command is run even after one fails, and the failure names
  each failing command with its README line, the arguments run, the exit code and the output.
"""

from __future__ import annotations

import os
import re
import shlex
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import click
from click.testing import CliRunner
from support import ROOT, SCENARIOS

from sibmodel.cli.commands import main

README = ROOT / "README.md"
#: The draws every command is run at (at most).
SMALL_DRAWS = 50
#: The marker a sibmodel output folder holds (sibmodel/results/folders.py).
MARKER = ".sibmodel-output.json"
SHELL_BLOCKS = ("bash", "console", "sh", "shell")
SEPARATORS = ("&&", ";", "||")


@dataclass
class ReadmeCommand:
    """One ``sibmodel`` command of the README: where it is, as written, and its arguments."""

    line: int  # README line number (1-based) where the command starts
    text: str  # the command as written (continuations joined, comment dropped)
    args: list[str]  # the arguments after the program (``sibmodel`` or ``python -m sibmodel``)

    @property
    def subcommand(self) -> str | None:
        """The sub-command's name (``run``, ``compare``...), or None (``sibmodel --help``)."""
        rest = [a for a in self.args if a != "--debug"]
        return rest[0] if rest and not rest[0].startswith("-") else None


def _shell_lines(text: str) -> list[tuple[int, str]]:
    """(line number, logical line) for every command line of the shell blocks in ``text``."""
    out = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        kind = fence.group(1)
        i += 1
        pending, start = "", 0
        while i < len(lines) and not lines[i].startswith("```"):
            raw = lines[i]
            i += 1
            if kind not in SHELL_BLOCKS:
                continue
            if not pending:
                if kind == "console":
                    if not raw.startswith("$ "):
                        continue  # printed output, not a command
                    raw = raw[2:]
                start = i  # 1-based number of the line just read
            if raw.rstrip().endswith("\\"):
                pending += raw.rstrip()[:-1] + " "
                continue
            line = (pending + raw).strip()
            pending = ""
            if line and not line.startswith("#"):
                out.append((start, line))
        i += 1  # the closing fence
    return out


def _program_args(tokens: list[str]) -> list[str] | None:
    """The arguments after ``sibmodel`` or ``python -m sibmodel``; None for any other program."""
    if not tokens:
        return None
    if os.path.basename(tokens[0]) == "sibmodel":
        return tokens[1:]
    if re.fullmatch(r"python[\d.]*", os.path.basename(tokens[0])) and tokens[1:3] == ["-m", "sibmodel"]:
        return tokens[3:]
    return None


def readme_commands(text: str | None = None) -> list[ReadmeCommand]:
    """Every ``sibmodel`` command in the README's shell blocks, in order (see the module docstring)."""
    text = README.read_text(encoding="utf-8") if text is None else text
    found = []
    for number, line in _shell_lines(text):
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        part: list[str] = []
        for token in [*lexer, ";"]:
            if token in SEPARATORS:
                args = _program_args(part)
                if args is not None:
                    found.append(ReadmeCommand(number, shlex.join(part), args))
                part = []
            else:
                part.append(token)
    return found


def _options(subcommand: str | None) -> set[str]:
    """The option names the sub-command takes (``--draws``, ``--out``...)."""
    if subcommand is None:
        return set()
    with click.Context(main) as ctx:
        command = main.get_command(ctx, subcommand)
    assert command is not None, f"the README shows `sibmodel {subcommand}`, which is not a command"
    return {name for p in command.params for name in p.opts}


def _param(subcommand: str, option: str) -> click.Parameter:
    """The click parameter behind ``option`` of the sub-command."""
    with click.Context(main) as ctx:
        command = main.get_command(ctx, subcommand)
    return next(p for p in command.params if option in p.opts)


def _small_draws(subcommand: str) -> int:
    """:data:`SMALL_DRAWS`, or the command's own minimum when it allows no fewer (``update``: 100)."""
    low = getattr(_param(subcommand, "--draws").type, "min", None)
    return max(SMALL_DRAWS, low or 0)


def _out_is_a_file(subcommand: str) -> bool:
    """Whether ``--out`` names a file (``actuals``), not an output folder."""
    kind = _param(subcommand, "--out").type
    return isinstance(kind, click.Path) and not kind.dir_okay


def _value_index(args: list[str], option: str) -> int | None:
    """Index of ``option``'s value in ``args`` (``--opt VALUE``), or None when not given."""
    for i, a in enumerate(args[:-1]):
        if a == option:
            return i + 1
    return None


def rewrite(command: ReadmeCommand, tmp: Path, first_run: bool) -> list[str] | None:
    """The arguments to run for ``command`` (module docstring); None when it must not run (a remote cluster)."""
    args = list(command.args)
    # --opt=VALUE is --opt VALUE to click; split it so that one rule handles both
    args = [p for a in args for p in (a.split("=", 1) if re.match(r"^--[\w-]+=", a) else [a])]
    options = _options(command.subcommand)
    if "--draws" in options:
        at = _value_index(args, "--draws")
        small = _small_draws(command.subcommand)
        if at is None:
            args += ["--draws", str(small)]
        elif int(args[at]) > small:
            args[at] = str(small)
    if "--seed" in options and "--seed" not in args:
        args += ["--seed", "1"]
    about_the_report = {"--no-report", "--figures", "--svg"} & set(args)
    if command.subcommand == "run" and not first_run and not about_the_report:
        args.append("--no-report")
    for option in ("--out", "--write"):
        at = _value_index(args, option)
        if at is not None and os.path.isabs(args[at]):
            args[at] = str(tmp / f"out-{command.line}-{Path(args[at]).name}")
    at = _value_index(args, "--scheduler")
    if at is not None and args[at] != "local":
        return None
    return args


def _snapshot(folder: Path) -> dict[Path, int]:
    """Every file under ``folder`` (not following the scenario links) with its modification time."""
    out = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not (Path(root) / d).is_symlink()]
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                out[path] = path.stat().st_mtime_ns
    return out


def _expected_output_problems(command: ReadmeCommand, args: list[str], before: dict, after: dict) -> list[str]:
    """What the command should have written and did not (module docstring, "Checked")."""
    written = {p for p, t in after.items() if before.get(p) != t}
    problems = []
    options = _options(command.subcommand)
    if "--out" in options and _out_is_a_file(command.subcommand):
        out_file = Path(args[_value_index(args, "--out")])
        if not any(p.name == out_file.name for p in written):
            problems.append(f"--out {out_file} was not written")
    elif "--out" in options:
        folders = [p.parent for p in written if p.name == MARKER]
        if not folders:
            problems.append("no sibmodel output folder (.sibmodel-output.json) was written")
        problems += [f"{f} has no manifest.json" for f in folders if not (f / "manifest.json").is_file()]
        if command.subcommand == "run" and "--no-report" not in args:
            problems += [f"{f} has no report.html" for f in folders if not (f / "report.html").is_file()]
    if command.subcommand == "report":
        run_dir = Path(args[args.index("report") + 1]).resolve()
        if not any(p.name == "report.html" and p.resolve().parent == run_dir for p in written):
            problems.append(f"{run_dir / 'report.html'} was not rewritten")
    at = _value_index(args, "--write")
    if at is not None and not Path(args[at]).is_file():
        problems.append(f"--write {args[at]} was not written")
    return problems


def _scenarios_listing() -> set[str]:
    return {str(p.relative_to(SCENARIOS)) for p in SCENARIOS.rglob("*")}


def test_readme_commands_are_found():
    """The extractor sees the README's commands (a regex gone wrong must not pass on no commands)."""
    commands = readme_commands()
    subcommands = {c.subcommand for c in commands}
    assert {
        "run",
        "validate",
        "report",
        "compare",
        "schema",
        "stress",
        "join",
        "baseline",
        "calibrate",
        "validation",
    } <= subcommands, subcommands
    assert any(c.args == ["--help"] for c in commands)
    # the set-up in the README's first blocks is not a command; its sibmodel part is
    assert not any("pip" in c.args or "pytest" in c.args for c in commands)
    calibrate = next(c for c in commands if c.subcommand == "calibrate")
    assert "--write" in calibrate.args and "--target" in calibrate.args  # continuation lines joined


def test_extraction_and_rewrite_rules(tmp_path):
    """The rules of the module docstring, on a README written for the purpose."""
    text = "\n".join(
        [
            "```bash",
            "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/sibmodel run a.yaml",
            ".venv/bin/sibmodel run b.yaml --draws 100000 --out /abs/where   # a comment",
            "# a comment line",
            "python -m sibmodel compare a.yaml \\",
            "    b.yaml --draws=20 --seed 1",
            ".venv/bin/sibmodel run c.yaml --scheduler tcp://host:8786",
            "sibmodel schema; sibmodel validate 'my file.yaml'",
            "```",
            "```console",
            "$ sibmodel stress a.yaml",
            "sibmodel run printed-output.yaml",
            "```",
            "```python",
            "sibmodel.simulate('x')",
            "```",
        ]
    )
    commands = readme_commands(text)
    assert [(c.line, c.args) for c in commands] == [
        (2, ["run", "a.yaml"]),
        (3, ["run", "b.yaml", "--draws", "100000", "--out", "/abs/where"]),
        (5, ["compare", "a.yaml", "b.yaml", "--draws=20", "--seed", "1"]),
        (7, ["run", "c.yaml", "--scheduler", "tcp://host:8786"]),
        (8, ["schema"]),
        (8, ["validate", "my file.yaml"]),
        (11, ["stress", "a.yaml"]),
    ]
    first, second, compare, remote, schema, _, stress = commands
    assert rewrite(first, tmp_path, first_run=True) == ["run", "a.yaml", "--draws", "50", "--seed", "1"]
    assert rewrite(second, tmp_path, first_run=False) == [
        "run",
        "b.yaml",
        "--draws",
        "50",
        "--out",
        str(tmp_path / "out-3-where"),
        "--seed",
        "1",
        "--no-report",
    ]
    assert rewrite(compare, tmp_path, first_run=False) == [
        "compare",
        "a.yaml",
        "b.yaml",
        "--draws",
        "20",
        "--seed",
        "1",
    ]
    assert rewrite(remote, tmp_path, first_run=False) is None
    assert rewrite(schema, tmp_path, first_run=False) == ["schema"]
    assert rewrite(stress, tmp_path, first_run=False) == ["stress", "a.yaml", "--draws", "50", "--seed", "1"]


def run_commands(commands: list[ReadmeCommand], folder: Path) -> tuple[list[str], list[tuple[float, str]]]:
    """Run ``commands`` in order in ``folder`` (the current folder): (failures, (seconds, command) timings)."""
    failures, timings, first_run = [], [], True
    for command in commands:
        args = rewrite(command, folder, first_run)
        where = f"README.md line {command.line}: {command.text}"
        if args is None:  # a remote cluster: only check that click accepts the arguments
            with click.Context(main) as ctx:
                sub = main.get_command(ctx, command.subcommand)
            try:
                sub.make_context(command.subcommand, command.args[command.args.index(command.subcommand) + 1 :])
            except click.ClickException as exc:
                failures.append(f"{where}\n  arguments not accepted: {exc.format_message()}")
            continue
        if command.subcommand == "run":
            first_run = False
        before = _snapshot(folder)
        start = time.perf_counter()
        result = CliRunner().invoke(main, args)
        timings.append((time.perf_counter() - start, command.text))
        problems = [] if result.exit_code == 0 else [f"exit code {result.exit_code}"]
        if not problems:
            problems = _expected_output_problems(command, args, before, _snapshot(folder))
        if problems:
            crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
            trace = "".join(traceback.format_exception(*result.exc_info)) if crashed else ""
            failures.append(
                f"{where}\n  ran: sibmodel {shlex.join(args)}\n  "
                + "; ".join(problems)
                + f"\n  output:\n{result.output[-3000:]}"
                + (f"\n  traceback:\n{trace}" if trace else "")
            )
    return failures, timings


def _clean_folder(tmp_path: Path, monkeypatch) -> None:
    """``tmp_path`` as the current folder, its ``scenarios/`` a real folder of links to the shipped entries."""
    (tmp_path / "scenarios").mkdir()
    for entry in SCENARIOS.iterdir():
        (tmp_path / "scenarios" / entry.name).symlink_to(entry)
    monkeypatch.chdir(tmp_path)


def test_a_failing_command_is_named(tmp_path, monkeypatch):
    """The check can fail, and says which command failed and what it printed."""
    _clean_folder(tmp_path, monkeypatch)
    text = "```bash\nsibmodel schema\nsibmodel validate scenarios/no_such_file.yaml\nsibmodel report runs/none\n```\n"
    failures, _ = run_commands(readme_commands(text), tmp_path)
    assert len(failures) == 2
    assert failures[0].startswith("README.md line 3: sibmodel validate scenarios/no_such_file.yaml")
    assert "exit code 2" in failures[0] and "no_such_file.yaml" in failures[0].split("output:")[1]
    assert failures[1].startswith("README.md line 4: sibmodel report runs/none")


def test_readme_commands_run(tmp_path, monkeypatch):
    """Every README command, rewritten as the module docstring says, exits 0 and writes its outputs."""
    _clean_folder(tmp_path, monkeypatch)
    shipped = _scenarios_listing()
    failures, timings = run_commands(readme_commands(), tmp_path)
    for seconds, text in timings:  # shown with `pytest -rP` (or -s): where the time goes
        print(f"{seconds:6.1f} s  {text}")
    assert _scenarios_listing() == shipped, "a README command wrote into the repository's scenarios/"
    slowest = ", ".join(f"{t:.1f} s {c[:60]}" for t, c in sorted(timings, reverse=True)[:3])
    assert not failures, f"{len(failures)} README command(s) failed (slowest: {slowest}):\n\n" + "\n\n".join(failures)
