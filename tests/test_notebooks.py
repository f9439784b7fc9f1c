"""The notebooks: paired with their jupytext scripts, stripped of outputs, and they run."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
DOCS_EXT = Path(__file__).resolve().parents[1] / "docs" / "_ext"
SCRIPTS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def test_there_are_three_notebooks():
    assert [p.stem for p in SCRIPTS] == ["01_graph", "02_episode", "03_policy_experiment"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_notebook_is_paired_and_stripped(script: Path):
    ipynb = script.with_suffix(".ipynb")
    assert ipynb.is_file(), f"run: jupytext --sync {script.name}"
    nb = nbformat.read(ipynb, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), (
        f"{ipynb.name} has outputs; strip them (jupytext --to ipynb {script.name})"
    )
    text = jupytext.read(script)
    assert [(c.cell_type, c.source) for c in text.cells] == [
        (c.cell_type, c.source) for c in nb.cells
    ], f"{ipynb.name} and {script.name} differ; run: jupytext --sync {script.name}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_notebook_runs(script: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # no deprecation warning from jupyter
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(script.with_suffix(".ipynb"), as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute(env={**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning:contagion"})
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]  # fmt: skip
    assert not errors
    assert any(o.get("data", {}).get("image/svg+xml") for c in nb.cells if c.cell_type == "code"
               for o in c.outputs)  # fmt: skip
    _keep_for_the_docs(nb, script.with_suffix(".ipynb"))


def _keep_for_the_docs(nb, ipynb: Path) -> None:
    """The documentation renders this executed copy (make test: tests, then docs), so the
    notebooks run once per `make test`."""
    spec = importlib.util.spec_from_file_location("notebook_cache", DOCS_EXT / "notebook_cache.py")
    if spec is None or spec.loader is None or not DOCS_EXT.is_dir():
        return  # an sdist without docs
    cache = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cache)
    cache.store(nb, ipynb)
