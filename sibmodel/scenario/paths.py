"""Dotted paths into scenario documents and models: ``boroughs.Bexley.starts.per_quarter``.

One walk, used everywhere a field is named by a dotted path: ``--set`` overrides
(:func:`sibmodel.scenario.load.apply_overrides`), the levers and held inputs of the
workflows, calibration, figures read from a saved run's ``summary.json`` and a
scenario's fees.  A part names a key of a mapping, an attribute of a model, or an
index of a list: a whole number from 0 to the list's length less one (negative
indices, which would count from the end, are refused).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class PathError(LookupError):
    """A dotted path that does not lead where it should.

    Parameters
    ----------
    path : str
        The dotted path up to where the walk stopped (empty for the top).
    message : str
        What is wrong and what is allowed.
    given : str, optional
        The part of the path that was refused, when one was.
    """

    def __init__(self, path: str, message: str, given: str | None = None):
        super().__init__(f"{path or '<top>'}: {message}")
        self.path, self.message, self.given = path, message, given


def split_path(path: str) -> list[str]:
    """The parts of a dotted path: ``"a.b.0"`` -> ``["a", "b", "0"]``."""
    return path.split(".")


def list_index(key: str, node: list | tuple) -> int | None:
    """``key`` as an index of ``node``: a whole number from 0 to ``len(node) - 1``, else ``None``."""
    if not (key.isascii() and key.isdigit()):
        return None
    index = int(key)
    return index if index < len(node) else None


def index_allowed(node: list | tuple) -> str:
    """What a valid index of ``node`` is, for error messages."""
    return (
        f"not a valid index of a list of {len(node)}: allowed 0 to {len(node) - 1}"
        if node
        else "the list is empty: no index is valid"
    )


def _child(node: Any, keys: list[str], depth: int, *, create: bool = False) -> Any:
    """The child of ``node`` named by ``keys[depth]`` (``keys[:depth]`` led to ``node``)."""
    key = keys[depth]
    if isinstance(node, (list, tuple)):
        index = list_index(key, node)
        if index is None:
            raise PathError(".".join(keys[: depth + 1]), index_allowed(node), key)
        return node[index]
    if isinstance(node, Mapping):
        if create and node.get(key) is None:
            node[key] = {}
        if key not in node:
            raise PathError(".".join(keys[: depth + 1]), "no such key", key)
        return node[key]
    if create or not hasattr(node, key):
        raise PathError(
            ".".join(keys[:depth]), "is not a mapping, cannot set a key inside it" if create else "has no such field"
        )
    return getattr(node, key)


def get_path(root: Any, path: str | list[str]) -> Any:
    """The node at a dotted path of nested mappings, lists and models.

    Raises
    ------
    PathError
        If a part names nothing.
    """
    keys = split_path(path) if isinstance(path, str) else list(path)
    node = root
    for depth in range(len(keys)):
        node = _child(node, keys, depth)
    return node


def set_path(root: dict | list, path: str | list[str], value: Any, *, create: bool = False) -> None:
    """Set the node at a dotted path of nested mappings and lists, in place.

    Parameters
    ----------
    root : dict or list
        The document, changed in place.
    path : str or list of str
        Dotted path (or its parts) of the node to set.
    value : object
        The new value.
    create : bool
        Make missing (or null) mappings on the way, as ``--set`` does.

    Raises
    ------
    PathError
        If a part names nothing, or the node above the last part is not a mapping or list.
    """
    keys = split_path(path) if isinstance(path, str) else list(path)
    node = root
    for depth in range(len(keys) - 1):
        node = _child(node, keys, depth, create=create)
    last = keys[-1]
    if isinstance(node, list):
        index = list_index(last, node)
        if index is None:
            raise PathError(".".join(keys), index_allowed(node), last)
        node[index] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise PathError(".".join(keys[:-1]), "is not a mapping, cannot set a key inside it")
