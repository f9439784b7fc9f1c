"""Sphinx configuration of the contagion documentation (``make docs``).

Sphinx rather than MkDocs: the docstrings are numpydoc with Sphinx roles (``:func:``,
``:class:``, ``:mod:``), which autodoc and napoleon render as they are, and myst-nb renders
the notebooks and Markdown pages. Reference pages are generated from the code
(``_ext/contagion_docs.py``); notebooks are rendered from their executed copies
(``_ext/notebook_cache.py``: the test suite's, or executed here if none is current).
The build runs with warnings as errors (``-W``) and needs no network.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

import contagion

project = "contagion"
author = "The basis-contagion developers"
copyright = "2026, The basis-contagion developers"
release = contagion.__version__
version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "contagion_docs",
]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "_generated/*.md"]
root_doc = "index"

# --- autodoc and numpydoc docstrings ---------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options: dict[str, object] = {}
autodoc_mock_imports: list[str] = []
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_preprocess_types = False
add_module_names = False

# --- notebooks and Markdown ------------------------------------------------------------------
nb_execution_mode = "off"  # rendered from executed copies (see the module docstring)
nb_output_stderr = "remove"  # progress lines and warnings of the kernel
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]  # generated pages start below the page title

# --- output ----------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"contagion {release}"
html_static_path: list[str] = []
