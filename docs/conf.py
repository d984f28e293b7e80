"""Sphinx configuration: the API reference from the numpydoc docstrings, and the Markdown docs.

Build (as `.ci/run` does, warnings as errors)::

    .venv/bin/sphinx-build -W --keep-going -b html docs /tmp/sibmodel-docs

The setup follows the scientific-Python convention (pvlib, xarray, SALib): autosummary stubs
generated at build time into ``docs/generated/`` (git-ignored), numpydoc for the docstrings,
pydata-sphinx-theme. The Markdown pages (scenario format, design notes, nomenclature) are read
by myst-parser so that they stay plain Markdown, readable on the repository and checked by
``tests/test_docs.py``.
"""

from __future__ import annotations

import sibmodel

project = "sibmodel"
author = "sibmodel contributors"
copyright = "sibmodel contributors"
release = version = sibmodel.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "generated/*.md"]

# -- API reference -------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {
    "member-order": "bysource",
    # pydantic's own class attributes, on every scenario block
    "exclude-members": "model_config, model_fields, model_computed_fields",
}
# type hints stay in the signature; the numpydoc "Parameters" sections carry the units
autodoc_typehints = "signature"

# numpydoc: class pages list their members through the autosummary class template, not numpydoc's
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- Markdown (myst-parser) ----------------------------------------------------------------
myst_heading_anchors = 3  # the docs link to their own sections as [..](#a-heading)

# -- HTML ----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sibmodel {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_show_sourcelink = False


def _pydantic_signature(app, what, name, obj, options, signature, return_annotation):
    """A scenario block (a pydantic model) is built from YAML, and a protocol is not called: no signature.

    Its generated signature lists every field with its full annotation (hundreds of characters);
    the fields are documented in scenario-format.md.
    """
    from pydantic import BaseModel

    if (
        what == "class"
        and isinstance(obj, type)
        and (issubclass(obj, BaseModel) or getattr(obj, "_is_protocol", False))
    ):
        return "", None
    return None


def setup(app):
    app.connect("autodoc-process-signature", _pydantic_signature)
