"""The README's Python examples run as written (from a scratch directory)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_the_readme_has_python_examples():
    assert BLOCKS


@pytest.mark.parametrize("k", range(len(BLOCKS)))
def test_readme_python_block_runs(k, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write their outputs to relative paths
    exec(compile(BLOCKS[k], f"README.md python block {k + 1}", "exec"), {})
