"""Executed copies of the notebooks, shared by the test suite and the documentation.

``tests/test_notebooks.py`` executes every notebook (that is its test) and stores the
result here; the documentation renders the stored copy, so ``make test`` (tests, then
docs) executes each notebook once. A copy is used only if it was made from the same
notebook text by the same ``contagion`` version (the version changes with every commit);
otherwise ``make docs`` executes the notebook itself.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CACHE = ROOT / "docs" / "_build" / "executed"
KEY = "contagion_docs_key"
TIMEOUT_S = 300


def source_key(ipynb: Path) -> str:
    """Hash of the notebook text and the installed contagion version."""
    import contagion

    digest = hashlib.sha256(ipynb.read_bytes())
    digest.update(contagion.__version__.encode())
    return digest.hexdigest()


def store(nb: Any, ipynb: Path) -> Path:
    """Keep an executed notebook for the documentation."""
    import nbformat

    CACHE.mkdir(parents=True, exist_ok=True)
    nb.metadata[KEY] = source_key(ipynb)
    out = CACHE / ipynb.name
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, out)
    return out


def cached(ipynb: Path) -> Path | None:
    """The stored executed copy of ``ipynb``, if it is current."""
    import nbformat

    out = CACHE / ipynb.name
    if not out.is_file():
        return None
    nb = nbformat.read(out, as_version=4)
    return out if nb.metadata.get(KEY) == source_key(ipynb) else None


def execute(ipynb: Path, env: dict[str, str] | None = None) -> Any:
    """Run a notebook in a scratch folder (as the tests do) and return it with outputs."""
    import nbclient
    import nbformat

    nb = nbformat.read(ipynb, as_version=4)
    with tempfile.TemporaryDirectory() as scratch:
        client = nbclient.NotebookClient(
            nb, timeout=TIMEOUT_S, kernel_name="python3",
            resources={"metadata": {"path": scratch}},
        )  # fmt: skip
        client.execute(env={**os.environ, "MPLBACKEND": "Agg", **(env or {})})
    return nb


def executed(ipynb: Path) -> Path:
    """The current executed copy, executing the notebook if there is none."""
    return cached(ipynb) or store(execute(ipynb), ipynb)
