"""Sphinx configuration. Build (warnings are errors, no network):

    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python -m sphinx -W --keep-going -b doctest docs docs/_build/doctest
"""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(ROOT))  # document this checkout, installed or not

import sympy_series_inverse  # noqa: E402

project = "sympy_series_inverse"
author = "sympy_series_inverse contributors"
copyright = "the sympy_series_inverse contributors"
release = version = sympy_series_inverse.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "matplotlib.sphinxext.plot_directive",
    "sis_docs",
]

exclude_patterns = ["_build", ".gitignore"]
html_theme = "furo"
html_title = f"sympy_series_inverse {release}"
html_static_path = []
pygments_style = "sphinx"

# matplotlib's plot directive draws the figures of the plotting tutorial at build time.
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]
plot_rcparams = {"figure.figsize": (6.4, 4.0)}

# No intersphinx: the build must not touch the network.

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
# The neural modules need torch; their docs must build without it. Mock only what is
# missing: a mocked torch that is also installed would break the doctests that load the
# shipped bundles.
import importlib.util  # noqa: E402

autodoc_mock_imports = [m for m in ("torch", "safetensors", "tqdm") if importlib.util.find_spec(m) is None]
napoleon_google_docstring = True
napoleon_numpy_docstring = True

# Only ``.. doctest::`` / ``.. testcode::`` blocks in these pages are run. Plain ``>>>``
# blocks pulled in from docstrings are the package's own doctests, run by pytest
# (``--doctest-modules``) in their module's namespace.
doctest_test_doctest_blocks = ""
doctest_global_setup = """
import os, tempfile
"""


# -- docstring fixes applied at build time (the package's files are not edited here) ----
#
# ``1/|x|`` outside inline literals reads as a reST substitution reference: escape it
# (a no-op once every docstring is valid reST).

import re  # noqa: E402

_SUBSTITUTION = re.compile(r"(?<![\\|`])\|([A-Za-z0-9_]+)\|(?![|_`])")


def _escape_substitutions(lines):
    for i, line in enumerate(lines):
        parts = line.split("``")
        parts[::2] = [_SUBSTITUTION.sub(r"\\|\1\\|", p) for p in parts[::2]]
        lines[i] = "``".join(parts)


def _fix_docstring(app, what, name, obj, options, lines):
    if not name.startswith("sympy_series_inverse"):
        return
    _escape_substitutions(lines)


def setup(app):
    app.connect("autodoc-process-docstring", _fix_docstring)
