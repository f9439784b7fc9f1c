"""Package metadata: licence, citation, changelog, typing marker, and a version from git."""

from __future__ import annotations

import re
import shutil
import subprocess
from importlib.metadata import metadata
from pathlib import Path

import pytest
import yaml

import contagion

REPO = Path(__file__).resolve().parents[1]
# PEP 440 public version with an optional local segment (hatch-vcs: 0.1.1.dev68+gHASH)
PEP440 = re.compile(
    r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[a-z0-9]+(\.[a-z0-9]+)*)?$"
)


def test_version_is_pep440_and_not_a_hand_typed_constant():
    assert PEP440.match(contagion.__version__), contagion.__version__
    assert contagion.__version__ != "0+unknown", "not built from git: pip install ."
    text = (REPO / "contagion" / "_version.py").read_text()
    assert not re.search(r"__version__ = ['\"]\d+\.\d", text), "a hand-typed version"


def _git(*args: str) -> str | None:
    if shutil.which("git") is None:
        return None
    proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30)
    return proc.stdout.strip() if proc.returncode == 0 else None


def test_version_names_the_commit():
    """Every commit has its own version: the installed one names HEAD (``+gHASH``) unless
    HEAD is exactly a tag."""
    head = _git("rev-parse", "HEAD")
    if head is None:
        pytest.skip("not a git checkout (an sdist carries its version in PKG-INFO)")
    if _git("describe", "--tags", "--exact-match") is not None:
        pytest.skip("HEAD is a tagged release")
    local = contagion.__version__.partition("+")[2]
    commit = re.search(r"(?:^|\.)g([0-9a-f]{7,})", local)
    assert commit, f"{contagion.__version__} does not name a commit"
    assert head.startswith(commit.group(1)), (
        f"version {contagion.__version__} is stale (HEAD is {head[:9]}): reinstall "
        "(`make test` does: pip install .)"
    )


def test_distribution_metadata():
    meta = metadata("basis-contagion")
    assert meta["Version"] == contagion.__version__
    assert meta["License-Expression"] == "MIT"
    classifiers = meta.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers
    assert any(c.startswith("Programming Language :: Python :: 3.11") for c in classifiers)


def test_licence_citation_changelog_and_typed_marker_ship():
    assert "MIT License" in (REPO / "LICENSE").read_text()
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["license"] == "MIT"
    assert cff["title"] and cff["authors"]
    assert (REPO / "CHANGELOG.md").read_text().startswith("# Changelog")
    assert (Path(contagion.__file__).parent / "py.typed").is_file()
