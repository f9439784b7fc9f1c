"""The report in a real headless browser: it renders, shows every section and figure, and
logs no console error. Skipped, with the reason, where no Chromium is installed
(``make browser`` installs Debian's ``chromium`` where it can)."""

from __future__ import annotations

from pathlib import Path

import pytest

import contagion as c
from contagion.experiment import experiment
from contagion.policies import QEConfig, SLRReliefConfig
from contagion.report import write_report
from contagion.report.browser import BrowserError, check_report, find_browser

BROWSER = find_browser()
needs_browser = pytest.mark.skipif(
    BROWSER is None,
    reason="no headless browser (chromium, chromium-browser or google-chrome) on PATH; "
    "run `make browser` (Debian: apt-get install chromium) to enable this test",
)
SECTIONS = ["summary", "scenario", "paths", "contagion", "losses", "effectiveness",
            "uncertainty", "provenance", "configuration"]  # fmt: skip
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    system = c.examples.toy_basis_trade()
    arms = {"qe": [QEConfig(name="qe", reactive_share=0.5, budget_usd_bn=25)],
            "slr": [SLRReliefConfig()]}  # fmt: skip
    ex = experiment(system, c.scenarios.load("basis_unwind"), arms, draws=4, rng=1)
    out = tmp_path_factory.mktemp("browser") / "report"
    return write_report(ex, system, out, draws=4, seed=1)


@needs_browser
def test_report_renders_without_console_errors_and_with_every_section(report, tmp_path):
    seen = check_report(report, browser=BROWSER)
    assert seen.console_errors == []
    assert seen.sections == SECTIONS
    assert seen.broken_images == [] and seen.images >= 10  # every figure decoded
    assert seen.title.startswith("Policy experiment")
    assert seen.screenshot_png.startswith(PNG) and len(seen.screenshot_png) > 10_000
    (tmp_path / "report.png").write_bytes(seen.screenshot_png)


@needs_browser
def test_the_check_fails_on_console_errors_and_broken_images(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>bad</title></head><body>"
        '<section id="only"><img alt="missing" src="data:image/svg+xml;base64,bm90IGFuIHN2Zw==">'
        "</section><script>console.error('boom'); undefinedFunction();</script></body></html>",
        encoding="utf-8",
    )
    seen = check_report(page, browser=BROWSER)
    assert any("boom" in e for e in seen.console_errors)
    assert any("undefinedFunction" in e for e in seen.console_errors)
    assert seen.sections == ["only"] and seen.broken_images == ["missing"]


def test_a_missing_browser_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTAGION_BROWSER", str(tmp_path / "no-such-browser"))
    assert find_browser() is None
    with pytest.raises(BrowserError, match="make browser"):
        check_report(tmp_path / "x.html")
