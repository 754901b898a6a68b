"""Sphinx configuration of the skdropout documentation.

Build (no Makefile needed, warnings are errors)::

    .venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html

No network is used: intersphinx links to scikit-learn, numpy, scipy, torch and skorch
through the local inventories in ``docs/_intersphinx/`` (written by
``docs/make_intersphinx.py``, which lists the names these docs refer to); a reference to
one of those projects that is not in its inventory fails the nitpicky build.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))          # the checkout, for a build without install
os.environ.setdefault("MPLBACKEND", "Agg")

import skdropout  # noqa: E402

project = "skdropout"
author = "skdropout developers"
copyright = "2026, skdropout developers"
release = version = skdropout.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "numpydoc",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "generated/*.examples", "**/.ipynb_checkpoints"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"

# -- autodoc / autosummary / numpydoc --------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True}
autodoc_typehints = "none"            # numpydoc's Parameters section documents the types
autodoc_member_order = "bysource"
autodoc_mock_imports: list[str] = []  # torch and skorch are installed in the docs env
numpydoc_show_class_members = False   # the class template lists members itself
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_use_plots = False

# -- intersphinx: local inventories only (see docs/make_intersphinx.py) -------------------
_INV = str(DOCS / "_intersphinx" / "{}.inv")
intersphinx_mapping = {
    "sklearn": ("https://scikit-learn.org/stable/", _INV.format("sklearn")),
    "numpy": ("https://numpy.org/doc/stable/", _INV.format("numpy")),
    "scipy": ("https://docs.scipy.org/doc/scipy/", _INV.format("scipy")),
    "torch": ("https://docs.pytorch.org/docs/stable/", _INV.format("torch")),
    "skorch": ("https://skorch.readthedocs.io/en/stable/", _INV.format("skorch")),
}

# Every cross-reference must resolve: a broken :func:/:class: reference fails the -W build.
# Only names from packages without an inventory here are exempt.
nitpicky = True
# References in library docstrings to helpers that are not part of the public API (their
# owners are asked to write them as plain literals; remove an entry once that is done).
nitpick_ignore = [
    ("py:func", "lam_max"),            # skdropout.linear.irls_path
    ("py:func", "start_policy"),       # skdropout.linear.irls_path
    ("py:func", "vardrop_kl"),         # skdropout.nn.VarDropLayer
]
nitpick_ignore_regex = [
    (r"py:.*", r"(joblib|matplotlib|pandas)(\..*)?"),
    (r"py:.*", r"(.*\.)?_[A-Za-z]\w*(\..*)?"),  # private helpers/modules are not documented
    (r"py:obj", r"\w+_"),          # fitted attributes listed by numpydoc's Attributes section
    (r"py:.*", r"(typing|collections\.abc|pathlib|os)\..*"),
    (r"py:.*", r"(int|float|str|bool|dict|list|tuple|callable|None|Any|object|array|"
               r"array-like|optional|ndarray|Tensor)"),
]

# -- sphinx-gallery: examples/ becomes auto_examples/ -----------------------------------
# Each examples/**/plot_*.py runs at build time (seconds each on one core); its page gets
# the figures, a thumbnail, a .py and an .ipynb download. Objects of skdropout used in an
# example get an "Examples using ..." section on their API page (the minigallery in the
# autosummary templates, fed from backreferences_dir).
extensions.append("sphinx_gallery.gen_gallery")
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "sphinx_gallery.sorting.FileNameSortKey",
    "doc_module": ("skdropout",),
    "backreferences_dir": "generated/backreferences",
    # name objects by the public module the API pages use (skdropout.linear.IRLSRegressor),
    # not by the shortest import path (skdropout.IRLSRegressor)
    "prefer_full_module": {r"^skdropout\.(datasets|linear|nn|penalties|plotting)\."},
    "reference_url": {"skdropout": None},
    "download_all_examples": True,
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 1,
    "abort_on_example_error": False,      # run them all, then fail the build on any error
}

# -- HTML --------------------------------------------------------------------------------
html_theme = "alabaster"
html_static_path = ["_static"]
html_title = f"skdropout {release}"
html_theme_options = {
    "description": "Adaptive dropout and reweighted regularisation are duals",
    "fixed_sidebar": True,
}
pygments_style = "sphinx"

# -- docstrings written with paper-style plain-text formulas -----------------------------
# Library docstrings write formulas in plain text (``Omega(w) = |w|``, ``coef_``), which
# reStructuredText would read as substitution references (|w|, ||w||_p) or link targets
# (coef_). Outside inline literals and roles, this escapes every "|" and every trailing "_"
# of a word so the text shows as written; roles, references and math are left alone.
_LITERAL = re.compile(r"(``.+?``|:[\w:]+:`[^`]+`|`[^`]+`_?)")
_PIPE = re.compile(r"(?<!\\)\|")
_TARGET = re.compile(r"(?<=[A-Za-z0-9])_(?=(?:\s|[,.;:)\]]|$))")


def _escape_plain(text: str) -> str:
    parts = _LITERAL.split(text)
    for i in range(0, len(parts), 2):                   # even indices: outside literals
        parts[i] = _TARGET.sub(r"\\_", _PIPE.sub(r"\\|", parts[i]))
    return "".join(parts)


_VERBATIM = (".. math::", ".. code-block::", ".. code::", ".. highlight::")


def _escape_docstring(app, what, name, obj, options, lines):  # noqa: ANN001
    in_block = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(">>>") or stripped.startswith("..."):
            continue                                    # doctest lines are literal blocks
        if in_block:
            if stripped and not line.startswith(" " * (block_indent + 1)):
                in_block = False
            else:
                continue
        if stripped.startswith(_VERBATIM) or (stripped.endswith("::")
                                              and not stripped.startswith("..")):
            in_block = True                             # math, code and literal blocks
            block_indent = len(line) - len(line.lstrip())
            if stripped.startswith(".."):
                continue
        lines[i] = _escape_plain(line)


def _foreign_bases() -> list[type]:
    bases = []
    for mod, attr in (("sklearn.base", "BaseEstimator"), ("skorch", "NeuralNet"),
                      ("torch.nn", "Module")):
        try:
            bases.append(getattr(__import__(mod, fromlist=[attr]), attr))
        except ImportError:
            pass
    return bases


def _skip_foreign_members(app, what, name, obj, skip, options):  # noqa: ANN001
    """Members a class gets from scikit-learn, skorch or torch (``set_fit_request``,
    ``forward``...) are documented there, with references to their own docs that cannot
    resolve here: skip those defined there, and overrides that only inherit their docs."""
    if what != "class":
        return None
    module = getattr(obj, "__module__", None) or ""
    if module and not module.startswith("skdropout"):
        return True
    own_doc = getattr(obj, "__doc__", None) if callable(obj) else "property"
    if not own_doc and any(hasattr(base, name) for base in _foreign_bases()):
        return True
    return None


def setup(app):  # noqa: ANN001
    app.connect("autodoc-process-docstring", _escape_docstring, priority=600)
    app.connect("autodoc-skip-member", _skip_foreign_members)  # after numpydoc (500)
