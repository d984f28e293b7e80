"""Loading scenarios: safe YAML, ``extends:`` inheritance, ``--set`` overrides, errors.

This is the only module that reads YAML.  Every problem found is collected and
raised as one :class:`~sibmodel.exceptions.ScenarioError`, each issue naming
the file, the dotted path, what was given and what is allowed.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import os
import stat
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sibmodel.exceptions import Issue, ScenarioError
from sibmodel.scenario.limits import (
    MAX_EXTENDS_DEPTH,
    MAX_NESTING_DEPTH,
    MAX_SCENARIO_BYTES,
    MAX_SHOWN_ISSUES,
    MAX_YAML_NODES,
)
from sibmodel.scenario.paths import PathError, set_path
from sibmodel.scenario.schema import Scenario, cross_check

__all__ = [
    "load_scenario",
    "load_yaml",
    "resolve",
    "apply_overrides",
    "validate_data",
    "scenario_hash",
    "scenario_to_data",
]


# --------------------------------------------------------------------------- safe YAML
class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys and bounds what a document may expand to.

    Nodes are counted as they are composed, an alias (``*anchor``) counting as the
    whole subtree it repeats, so an alias bomb ("billion laughs") is refused after
    :data:`~sibmodel.scenario.limits.MAX_YAML_NODES` nodes, before anything is built; nesting
    deeper than :data:`~sibmodel.scenario.limits.MAX_NESTING_DEPTH` and an alias inside its own
    anchor are refused too.
    """

    def compose_document(self):
        self._expanded_nodes = 0
        self._node_sizes: dict[int, int] = {}
        self._depth = 0
        return super().compose_document()

    def _count(self, n: int, mark) -> None:
        self._expanded_nodes += n
        if self._expanded_nodes > MAX_YAML_NODES:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"the document expands to more than {MAX_YAML_NODES:,} values "
                "(counting each alias as what it repeats); "
                "a scenario needs far fewer",
                mark,
            )

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)
            if node is not None:
                size = self._node_sizes.get(id(node))
                if size is None:
                    raise yaml.composer.ComposerError(
                        None,
                        None,
                        f"alias *{event.anchor} is used inside its own anchor (a recursive document)",
                        event.start_mark,
                    )
                self._count(size, event.start_mark)
            return super().compose_node(parent, index)
        mark = self.peek_event().start_mark
        self._depth += 1
        if self._depth > MAX_NESTING_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested more than {MAX_NESTING_DEPTH} levels deep (a scenario needs fewer than 10)", mark
            )
        before = self._expanded_nodes
        self._count(1, mark)
        node = super().compose_node(parent, index)
        self._depth -= 1
        self._node_sizes[id(node)] = self._expanded_nodes - before
        return node

    def construct_yaml_timestamp(self, node):
        """A date such as ``2023-02-30`` that does not exist stays text, so that the schema
        reports it at its path (with what is allowed) instead of the YAML reader failing."""
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            return self.construct_scalar(node)


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _StrictLoader.construct_yaml_timestamp)


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError as exc:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found an unhashable key", key_node.start_mark
            ) from exc
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r} (first given above; a duplicate would silently overwrite it)",
                key_node.start_mark,
            )
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _parse_yaml(text: str, file: str | None) -> Any:
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "unknown place"
        problem = exc.problem or str(exc)
        if "could not determine a constructor for the tag" in problem:
            problem += " (only plain YAML is allowed: tags such as !!python/... are refused)"
        raise ScenarioError([Issue(file, "", f"YAML error at {where}: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Issue(file, "", f"YAML error: {exc}")]) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # a value the reader cannot build
        raise ScenarioError([Issue(file, "", f"YAML error: cannot read a value: {exc}")]) from None


def load_yaml(path: str | os.PathLike) -> dict:
    """Read one YAML file safely; the top level must be a mapping.

    Parameters
    ----------
    path : path-like
        The file.

    Returns
    -------
    dict
        The parsed document.
    """
    p = Path(path)
    text = _read_scenario_text(p)
    data = _unshare(_parse_yaml(text, str(p)))
    if not isinstance(data, dict):
        # the value is not echoed: the file may be anything (extends: /etc/shadow)
        raise ScenarioError(
            [
                Issue(
                    str(p),
                    "",
                    f"the top level must be a mapping of blocks (metadata:, timeline:, ...), not {type(data).__name__}",
                )
            ]
        )
    return data


def _read_scenario_text(p: Path) -> str:
    """The text of a scenario file: a regular file (not a device, FIFO or folder) of at most
    :data:`~sibmodel.scenario.limits.MAX_SCENARIO_BYTES`, read without blocking and without reading more."""
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ScenarioError([Issue(str(p), "", "file not found")]) from None
    except IsADirectoryError:
        raise ScenarioError([Issue(str(p), "", "is a directory, not a scenario file")]) from None
    except OSError as exc:  # a symlink loop, no permission, ...
        raise ScenarioError([Issue(str(p), "", f"cannot read the file: {exc.strerror or exc}")]) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ScenarioError([Issue(str(p), "", "is a directory, not a scenario file")])
        if not stat.S_ISREG(st.st_mode):
            raise ScenarioError(
                [Issue(str(p), "", "is not a regular file (a device, FIFO or socket); a scenario must be a .yaml file")]
            )
        if st.st_size > MAX_SCENARIO_BYTES:
            raise ScenarioError(
                [
                    Issue(
                        str(p),
                        "",
                        f"is {st.st_size:,} bytes; a scenario file may be at most {MAX_SCENARIO_BYTES:,} bytes",
                    )
                ]
            )
        with os.fdopen(os.dup(fd), "rb") as f:
            raw = f.read(MAX_SCENARIO_BYTES + 1)
    except OSError as exc:
        raise ScenarioError([Issue(str(p), "", f"cannot read the file: {exc.strerror or exc}")]) from None
    finally:
        os.close(fd)
    if len(raw) > MAX_SCENARIO_BYTES:
        raise ScenarioError([Issue(str(p), "", f"a scenario file may be at most {MAX_SCENARIO_BYTES:,} bytes")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError([Issue(str(p), "", f"cannot read the file: not UTF-8 text (byte {exc.start})")]) from None


def _unshare(obj: Any) -> Any:
    """Rebuild containers so that YAML aliases (``*anchor``) become independent copies.

    Without this, ``--set boroughs.Bexley.x=1`` would also change every borough
    that reuses Bexley's anchor.
    """
    if isinstance(obj, dict):
        return {k: _unshare(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unshare(v) for v in obj]
    return obj


# --------------------------------------------------------------------------- extends and merge
def deep_merge(base: dict, override: dict) -> dict:
    """Merge ``override`` onto ``base``: mappings merge key by key, anything else replaces.

    A key set to ``null`` in the override removes the key, so the field takes
    its default (``None`` for optional fields); this is how a child scenario
    drops a borough, e.g. ``boroughs: {Haringey: null}``.
    """
    out = copy.deepcopy(base)
    for k, v in override.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def resolve(path: str | os.PathLike, _chain: tuple[Path, ...] = ()) -> dict:
    """Read a scenario file and everything it ``extends:``, merged into one document.

    ``extends:`` is resolved relative to the file that names it; chains are
    allowed up to :data:`~sibmodel.scenario.limits.MAX_EXTENDS_DEPTH` files, cycles are
    rejected, and only regular ``.yaml``/``.yml`` files are read (nothing of
    another file is echoed in an error).
    """
    try:
        p = Path(path).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop (RuntimeError before Python 3.13)
        raise ScenarioError([Issue(str(path), "", f"cannot read the file: {exc}")]) from None
    if p in _chain:
        cycle = " -> ".join(str(c) for c in (*_chain, p))
        raise ScenarioError([Issue(str(path), "extends", f"extends cycle: {cycle}")])
    if len(_chain) >= MAX_EXTENDS_DEPTH:
        raise ScenarioError(
            [Issue(str(_chain[-1]), "extends", f"the extends chain is longer than {MAX_EXTENDS_DEPTH} files")]
        )
    data = load_yaml(path)
    if _chain:  # a file reached through extends: must look like a scenario before any of it is shown
        blocks = {f.alias or n for n, f in Scenario.model_fields.items()} | {"extends"}
        foreign = [k for k in data if k not in blocks]
        if foreign:
            raise ScenarioError(
                [
                    Issue(
                        str(_chain[-1]),
                        "extends",
                        f"{path} is not a scenario file: {len(foreign)} of its top-level keys are not scenario blocks "
                        f"(allowed: {', '.join(sorted(blocks))}); validate it on its own to see them",
                    )
                ]
            )
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent:
        raise ScenarioError(
            [Issue(str(path), "extends", "must be the path of another scenario file", parent, has_given=True)]
        )
    parent_path = p.parent / parent
    if parent_path.suffix.lower() not in (".yaml", ".yml"):
        raise ScenarioError(
            [Issue(str(path), "extends", "must name a scenario file ending in .yaml or .yml", parent, has_given=True)]
        )
    return deep_merge(resolve(parent_path, (*_chain, p)), data)


def apply_overrides(data: dict, overrides: Iterable[str], file: str | None = None) -> dict:
    """Apply ``dotted.path=value`` overrides; each value is parsed as YAML (safely).

    Parameters
    ----------
    data : dict
        The resolved scenario document.
    overrides : iterable of str
        ``PATH=VALUE`` strings, e.g. ``contract.payment_lag_quarters=5``.
    file : str, optional
        Name used in error messages.
    """
    out = copy.deepcopy(data)
    issues: list[Issue] = []
    for item in overrides:
        if "=" not in item:
            issues.append(
                Issue("--set", "", "expected PATH=VALUE, e.g. contract.payment_lag_quarters=5", item, has_given=True)
            )
            continue
        path, _, raw = item.partition("=")
        path = path.strip()
        keys = path.split(".")
        if not path or any(not k for k in keys):
            issues.append(Issue("--set", path, "empty part in the dotted path", item, has_given=True))
            continue
        if len(keys) > MAX_NESTING_DEPTH:
            issues.append(
                Issue(
                    "--set",
                    "",
                    f"a dotted path of at most {MAX_NESTING_DEPTH} parts",
                    f"{len(keys)} parts",
                    has_given=True,
                )
            )
            continue
        try:
            value = _parse_yaml(raw, "--set") if raw.strip() else None
        except ScenarioError as exc:
            issues.extend(Issue("--set", path, i.message) for i in exc.issues)
            continue
        try:
            set_path(out, keys, value, create=True)
        except PathError as exc:
            issues.append(Issue("--set", exc.path, exc.message, exc.given, has_given=exc.given is not None))
    if issues:
        raise ScenarioError(issues)
    return out


# --------------------------------------------------------------------------- validation
def _strip_loc(data: Any, loc: tuple, kind: str = "") -> tuple[list[str], Any, bool]:
    """Align a pydantic error location with the input document.

    Union tags (``beta``, ``weekly_out_of_care``, ``function-after[...]``) that
    pydantic inserts are dropped, even when a tag is also a key of the data
    (a beta spec has a ``beta:`` key).  Returns the clean path, the value found
    there and whether a value was found.
    """
    path: list[str] = []
    node = data
    found = True
    tagged: set[int] = set()  # nodes whose union tag has been skipped
    for i, part in enumerate(loc):
        if (
            isinstance(node, dict)
            and id(node) not in tagged
            and isinstance(part, str)
            and any(node.get(tag) == part for tag in ("dist", "metric"))
        ):
            tagged.add(id(node))  # the tag pydantic puts before a tagged-union member's fields
            continue
        if isinstance(node, dict) and part in node:
            node = node[part]
            path.append(str(part))
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            path.append(str(part))
        elif (
            i == len(loc) - 1
            and kind in ("missing", "extra_forbidden")
            and isinstance(part, str)
            and isinstance(node, dict)
        ):
            path.append(part)  # a missing or forbidden key: name it
            found = False
        else:
            continue  # a union tag or validator name
    return path, node, found


def _field_type_at(path: list[str], data: Any):
    """The pydantic model class that holds the last key of ``path``, if it can be found."""
    cls: Any = Scenario
    node = data
    for key in path[:-1]:
        cls = _unwrap(cls, node)
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list):
            try:
                node = node[int(key)]
            except (ValueError, IndexError):
                return None
        if isinstance(cls, type) and issubclass(cls, BaseModel):
            field = _model_field(cls, key)
            if field is None:
                return None
            cls = field.annotation
        else:
            origin = typing.get_origin(cls)
            args = typing.get_args(cls)
            if origin is dict:
                cls = args[1]
            elif origin in (list, tuple):
                cls = args[0]
            else:
                return None
    cls = _unwrap(cls, node)
    return cls if isinstance(cls, type) and issubclass(cls, BaseModel) else None


def _model_field(cls: type[BaseModel], key: str):
    for name, field in cls.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _unwrap(tp: Any, node: Any) -> Any:
    """Strip Annotated/Optional and pick the member of a tagged union the data names."""
    for _ in range(10):
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            chosen = None
            for m in members:
                m2 = _unwrap(m, node)
                if isinstance(m2, type) and issubclass(m2, BaseModel) and isinstance(node, dict):
                    for tag in ("dist", "metric"):
                        f = m2.model_fields.get(tag)
                        if f is not None and node.get(tag) in typing.get_args(f.annotation):
                            chosen = m2
                if chosen is not None:
                    break
            if chosen is None:
                dict_like = [
                    m
                    for m in members
                    if typing.get_origin(m) in (dict, list) or (isinstance(m, type) and issubclass(m, BaseModel))
                ]
                chosen = dict_like[0] if len(dict_like) == 1 else (members[0] if len(members) == 1 else None)
            if chosen is None:
                return None
            tp = chosen
        else:
            return tp
    return tp


def _allowed_text(err: dict) -> str:
    kind = err["type"]
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return f"{msg} (allowed range)"
    if kind == "literal_error":
        return f"{msg}"
    return msg


def pydantic_issues(exc: ValidationError, data: dict, file: str | None) -> list[Issue]:
    """The errors of a pydantic validation of scenario ``data`` as :class:`Issue` s:
    dotted path, value given, what is allowed."""
    issues = []
    seen = set()
    for err in exc.errors(include_url=False):
        path, given, found = _strip_loc(data, tuple(err["loc"]), err["type"])
        dotted = ".".join(path)
        kind = err["type"]
        if kind == "extra_forbidden" and len(issues) >= MAX_SHOWN_ISSUES:
            issue = Issue(file, dotted, "unknown key")  # counted, not shown: no need to look up what is allowed
        elif kind == "extra_forbidden":
            owner = _field_type_at(path, data)
            allowed = sorted({f.alias or n for n, f in owner.model_fields.items() if not (f.exclude)}) if owner else []
            close = difflib.get_close_matches(path[-1], allowed, n=1, cutoff=0.6) if path else []
            msg = "unknown key"
            if close:
                msg += f"; did you mean {close[0]!r}?"
            if allowed:
                msg += f" (allowed here: {', '.join(allowed)})"
            issue = Issue(file, dotted, msg)
        elif kind == "missing":
            issue = Issue(file, dotted, "required field is missing")
        else:
            issue = Issue(file, dotted, _allowed_text(err), given, has_given=found)
        key = (issue.path, issue.message)
        if key not in seen:
            seen.add(key)
            issues.append(issue)
    return issues


def validate_data(data: Any, file: str | None = None) -> Scenario:
    """Validate a scenario document (already merged and overridden).

    Parameters
    ----------
    data : dict
        The document.
    file : str, optional
        Name of the file it came from, for error messages.

    Returns
    -------
    Scenario
        The validated, frozen scenario.

    Raises
    ------
    ScenarioError
        With every problem found.
    """
    if not isinstance(data, dict):
        raise ScenarioError(
            [Issue(file, "", f"the top level must be a mapping, not {type(data).__name__}", data, has_given=True)]
        )
    if "extends" in data:
        raise ScenarioError(
            [Issue(file, "extends", "extends is only allowed in a file; resolve it first (load_scenario does)")]
        )
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(pydantic_issues(exc, data, file)) from None
    except (TypeError, ValueError, ArithmeticError) as exc:  # defensive: never leak another exception type
        raise ScenarioError([Issue(file, "", f"invalid scenario: {exc}")]) from None
    issues = cross_check(scenario, file)
    if issues:
        raise ScenarioError(issues)
    return scenario


def load_scenario(path: str | os.PathLike, overrides: Iterable[str] = ()) -> Scenario:
    """Load, merge, override and validate a scenario file.

    Parameters
    ----------
    path : path-like
        The YAML file.
    overrides : iterable of str
        ``dotted.path=value`` strings, applied after ``extends:`` is resolved.

    Returns
    -------
    Scenario
    """
    data = resolve(path)
    data = apply_overrides(data, overrides, str(path))
    return validate_data(data, str(path))


def as_scenario(scenario: Scenario | str | os.PathLike) -> Scenario:
    """A scenario given as a :class:`Scenario` or as the path of its YAML file.

    Parameters
    ----------
    scenario : Scenario or path-like
        A validated scenario (returned as it is) or a file for :func:`load_scenario`.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        The file cannot be read or is not a valid scenario.
    TypeError
        ``scenario`` is neither.
    """
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, (str, os.PathLike)):
        return load_scenario(scenario)
    raise TypeError(f"expected a Scenario or the path of a scenario file, not {type(scenario).__name__}")


def scenario_to_data(scenario: Scenario) -> dict:
    """A JSON-ready dict of the resolved scenario (dates as ISO strings)."""
    return scenario.model_dump(mode="json", by_alias=True, exclude_none=True)


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario's canonical JSON: the same inputs give the same hash."""
    text = json.dumps(scenario_to_data(scenario), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
