"""The package works from outside the source tree and ships its data files."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import contagion

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DATA = REPO / "contagion" / "data"


def test_import_from_outside_the_source_tree(tmp_path: Path) -> None:
    code = (
        "import contagion, calibration; contagion.examples.toy_basis_trade(); "
        "print(contagion.__file__)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    location = Path(proc.stdout.strip().splitlines()[-1]).resolve()
    assert location.name == "__init__.py"
    if location.is_relative_to(REPO / "contagion"):
        pytest.skip(
            "contagion is installed editable (imports resolve to the source tree), so the "
            "installed copy is not what was checked; run `pip install .` to check it"
        )
    assert (location.parent / "data" / "systems" / "toy_basis_trade.yaml").is_file()


@pytest.mark.skipif(importlib.util.find_spec("hatchling") is None, reason="needs hatchling")
def test_wheel_ships_every_data_file(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps",
         "--no-build-isolation", "-q", "-w", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "contagion/data/systems/toy_basis_trade.yaml" in names
    assert "calibration/__init__.py" in names
    data = {
        p.relative_to(REPO).as_posix()
        for p in PACKAGE_DATA.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert data, "no package data found"
    assert data <= names, f"missing from the wheel: {sorted(data - names)}"


def test_bundled_data_is_read_through_importlib_resources() -> None:
    from importlib.resources import files

    text = (files("contagion") / "data" / "systems" / "toy_basis_trade.yaml").read_text("utf-8")
    assert "toy_basis_trade" in text
    assert contagion.examples.toy_basis_trade().n_institutions == 11
