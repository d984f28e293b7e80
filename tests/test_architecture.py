"""The architecture issue's checks: layers without import cycles, short functions, only public
scipy, and one registry of outputs that covers every column a run writes."""

from __future__ import annotations

import ast
import re

import pytest
from support import ROOT, scenario_file

from sibmodel import load_scenario, outputs
from sibmodel.engine.run import simulate

PKG = ROOT / "sibmodel"
MAX_FUNCTION_LINES = 100


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        out[name] = ast.parse(path.read_text(), filename=str(path))
    return out


def _imports(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    """Modules of the package that ``name`` imports anywhere (function-level imports included)."""
    package = (
        name
        if (PKG / name.replace("sibmodel.", "").replace(".", "/") / "__init__.py").exists()
        else name.rpartition(".")[0]
    )
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                cand = f"{base}.{alias.name}"
                found.add(cand if cand in known else base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in known and m != name}


def test_no_import_cycles_counting_function_level_imports():
    mods = _modules()
    known = set(mods)
    graph = {m: _imports(m, tree, known) - {"sibmodel"} for m, tree in mods.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(m, stack):
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n) :] + [n])
            elif n not in state:
                visit(n, stack + [n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_layers_are_subpackages():
    subpackages = [p.parent.name for p in PKG.glob("*/__init__.py")]
    assert len(subpackages) >= 5, subpackages


def test_no_function_over_100_lines():
    long = []
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if (
                isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
            ):
                long.append(f"{name}.{node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert long == []


def test_only_public_scipy():
    private = re.compile(r"\._ppf\b|\._argcheck\b|\bscipy(\.\w+)*\._[a-z]\w*")  # scipy.__version__ is public
    hits = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in PKG.rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if private.search(line)
    ]
    assert hits == []


@pytest.mark.parametrize("name", ["pfp.yaml", "essex/essex_mst.yaml"])
def test_every_column_a_run_writes_is_in_the_outputs_registry(name):
    """PFP (baseline block, ten boroughs) and Essex (completion, care days saved): every per-draw
    column is defined in sibmodel/outputs.py, and every registered summary path of a column the run
    wrote exists in summary.json (the baseline-gap payments are summarised for care-days-saved
    contracts only, where they mean something)."""
    r = simulate(load_scenario(scenario_file(name)), draws=20, seed=1, chunk_size=20)
    try:
        columns = list(r.draws.columns)
        assert [c for c in columns if not outputs.is_registered(c)] == []
        summary = r.summary()
        for c in columns:
            path = outputs.BY_KEY[c].summary if c in outputs.BY_KEY else None
            if path is None or (c == "baseline_gap_payments_gbp" and name == "pfp.yaml"):
                continue
            node = summary
            for key in path.split("."):
                assert key in node, (c, path)
                node = node[key]
    finally:
        r.discard()


def test_observable_figures_come_from_the_registry():
    from sibmodel.scenario.schema import OBSERVABLE_FIGURES

    assert set(OBSERVABLE_FIGURES) == set(outputs.OBSERVABLE)
    for figure, (column, _) in outputs.OBSERVABLE.items():
        assert column in outputs.BY_KEY, figure


#: String literals equal to an output name that are something else in that module, with the reason.
NOT_OUTPUT_NAMES = {
    ("sibmodel.workflows.join", "starts"): "the borough block's `starts:` field of the scenario, not the column",
    ("sibmodel.model.referrals", "starts"): "the Philox purpose keying the starts' random numbers, not the column",
    ("sibmodel.cli.progress", "draw"): "tqdm's unit name in the progress bar, not the column",
    ("sibmodel.cli.reforecast", "draw"): "the click parameter of `actuals --draw`, not the column",
}


def _registered_names() -> set[str]:
    """Every name sibmodel/outputs.py registers: columns, borough figures, series, summary paths, observable figures."""
    names = set(outputs.BY_KEY) | set(outputs.BOROUGH_FIGURES) | set(outputs.OBSERVABLE)
    names |= {o.summary for o in outputs.OUTPUTS if o.summary}
    names |= {v for k, v in vars(outputs).items() if k.isupper() and isinstance(v, str) and not k.endswith("PREFIX")}
    return names


def _string_literals(tree: ast.Module) -> set[str]:
    """String constants of a module, docstrings left out (prose may name a column)."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    }


def test_no_output_name_is_typed_as_a_string_in_two_modules():
    """Issue 15: every module names an output by its constant in sibmodel/outputs.py (or looks it up there),
    so an output is renamed or added in one place."""
    names = _registered_names()
    assert {"starts", "investor_moic", "investor.irr", "outcomes.care_share.treated"} <= names  # the scan sees them
    where: dict[str, list[str]] = {}
    for module, tree in _modules().items():
        if module == "sibmodel.outputs":
            continue
        for literal in _string_literals(tree) & names:
            if (module, literal) not in NOT_OUTPUT_NAMES:
                where.setdefault(literal, []).append(module)
    assert {name: sorted(mods) for name, mods in where.items() if len(mods) > 1} == {}


def test_the_output_name_scan_finds_a_name_typed_twice():
    """The scan above is not vacuous: two modules typing a registered name are caught."""
    a, b = (
        ast.parse('x = d["investor_moic"]'),
        ast.parse('def f(d):\n    """investor_moic"""\n    return d["investor_moic"]'),
    )
    assert "investor_moic" in _string_literals(a) & _string_literals(b) & _registered_names()
    assert "investor_moic" not in _string_literals(ast.parse('def f():\n    """investor_moic"""'))


def test_summary_paths_in_the_registry_lead_to_the_blocks_the_summary_builds():
    """outputs.summary_block walks the registered path; the commissioners' totals and the observable figures agree."""
    summary = {"commissioner": {"total": {"net_savings_gbp": {"p50": 1.0}}}, "investor": {"irr": {"p50": 0.1}}}
    assert outputs.summary_block(summary, outputs.COMMISSIONER_NET_SAVINGS_GBP) == {"p50": 1.0}
    assert outputs.summary_block(summary, outputs.INVESTOR_IRR_ANNUAL) == {"p50": 0.1}
    assert not outputs.has_summary_block(summary, outputs.GOVERNMENT_VALUE_GBP)
    assert outputs.OBSERVABLE["outcomes.care_share.treated"] == (outputs.TIME_AT_HOME_SHARE["treated"], True)
    with pytest.raises(KeyError):
        outputs.summary_path(outputs.DELIVERY_COSTS_GBP)  # a column without a summary block
