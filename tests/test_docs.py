"""The documentation's examples are valid input, and its generated pages cover the code."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

import contagion

DOCS = Path(__file__).resolve().parents[1] / "docs"
pytestmark = pytest.mark.skipif(not DOCS.is_dir(), reason="no docs folder (an sdist)")


def _yaml_blocks(page: str) -> list[str]:
    text = (DOCS / page).read_text(encoding="utf-8")
    return re.findall(r"```yaml\n(.*?)```", text, flags=re.S)


def test_system_yaml_example_is_a_valid_market():
    (block,) = _yaml_blocks("inputs.md")
    doc = yaml.safe_load(block)
    market = contagion.Market.model_validate(doc["market"])
    assert market.bucket_names == ["2y", "10y"]
    assert set(doc) == {"name", "description", "metadata", "market"}


def test_generated_pages_name_every_column_and_field():
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import contagion_docs
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    for table in ("institutions", "exposures"):
        page = contagion_docs.schema_page(table)
        for column in contagion.schema_table(table).index:
            assert f"`{column}`" in page, column
    page = contagion_docs.model_page(contagion.ModelParams)
    for field in contagion.ModelParams.model_fields:
        assert f"`{field}`" in page, field
    cli = contagion_docs.cli_page()
    for command in ("run", "experiment", "calibrate", "system export", "scenarios"):
        assert f"contagion {command}`" in cli, command
    assert "--seed" in cli and "--version" in cli
    assert "…" not in cli and "write..." not in cli  # whole first sentences in listings


def test_the_loss_spiral_example_runs():
    """The model page's loss-spiral example runs as written and finds the main job's
    spiral explosive at the fitted parameters (README: 1.95)."""
    text = (DOCS / "model.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    scope: dict = {}
    exec(compile(block, "docs/model.md", "exec"), scope)  # our own page
    assert scope["spiral"].gain > 1.0
    assert set(scope["by_book"].index) >= {"basis", "swap_spread", "relative_value"}
