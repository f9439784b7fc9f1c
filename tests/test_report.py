"""Reports: rendered from saved results, deterministic, escaped, complete, self-contained."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import contagion
from contagion.errors import InputError
from contagion.experiment import experiment
from contagion.policies import QEConfig, SLRReliefConfig
from contagion.report import arm_folder, load_saved, render_report, write_report
from contagion.report import figures as rf
from contagion.report.render import defaults_by_arm, defaults_by_day, side_effects, verdict

HOSTILE = "<script>alert(1)</script> \"quoted\" & 'single'"
SECTIONS = ("summary", "scenario", "paths", "contagion", "losses", "effectiveness",
            "provenance", "configuration")  # fmt: skip


def hostile_system() -> contagion.System:
    toy = contagion.examples.toy_basis_trade()
    inst = toy.institutions.copy()
    inst.loc[inst["id"] == "hf_alpha", "name"] = HOSTILE
    return contagion.System(
        inst, toy.exposures, toy.market, name="toy_hostile",
        description=f"toy with a hostile name {HOSTILE}",
        metadata={"status": "test", "sources": [HOSTILE], "vintage": "2025-03"},
    )  # fmt: skip


def fragile_scenario(name: str = "fragile") -> contagion.Scenario:
    sc = contagion.scenarios.load("basis_unwind").with_params(impact_bp_per_usd_bn=0.3)
    return sc.model_copy(update={"name": name, "description": f"desc {HOSTILE}"})


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    system = hostile_system()
    arms = {
        HOSTILE: [QEConfig(name="qe", reactive_share=0.5, budget_usd_bn=50)],
        "slr": [SLRReliefConfig()],
    }
    res = experiment(system, fragile_scenario(HOSTILE), arms, draws=2, rng=3)
    out = tmp_path_factory.mktemp("rep") / "report"
    write_report(res, system, out, draws=2, seed=3)
    return out


@pytest.fixture(scope="module")
def html(report_dir) -> str:
    return (report_dir / "report.html").read_text(encoding="utf-8")


def test_rerender_from_saved_files_is_identical(report_dir):
    html1 = (report_dir / "report.html").read_bytes()
    md1 = (report_dir / "report.md").read_bytes()
    (report_dir / "report.html").unlink()
    path = render_report(report_dir)
    assert path == report_dir / "report.html"
    assert path.read_bytes() == html1
    assert (report_dir / "report.md").read_bytes() == md1


def test_hostile_strings_are_escaped(html, report_dir):
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the name is shown, escaped
    assert "&#34;quoted&#34;" in html or "&quot;quoted&quot;" in html
    md = (report_dir / "report.md").read_text(encoding="utf-8")
    assert "<script>" not in md
    # the JSON blocks of the Markdown are valid JSON, not HTML entities
    blocks = re.findall(r"```json\n(.*?)\n```", md, flags=re.S)
    assert blocks and all("&#34;" not in b for b in blocks)
    meta = json.loads(blocks[0])
    assert meta["sources"] == [HOSTILE]
    # the hostile arm got a safe folder and keeps its name in experiment.json
    saved = load_saved(report_dir)
    assert HOSTILE in saved.results
    assert all(re.fullmatch(r"arms/\d\d-[A-Za-z0-9_.-]+", a["folder"])
               for a in saved.info["arms"])  # fmt: skip


def test_all_sections_present(html):
    for s in (*SECTIONS, "uncertainty"):
        assert f'<section id="{s}">' in html, s
    for heading in ("Executive summary", "Time paths", "The contagion path",
                    "Calibration provenance", "Configuration"):  # fmt: skip
        assert heading in html
    assert "2025-03" in html  # the data vintage from the metadata
    assert contagion.__version__ in html
    # the sign conventions of the basis and swap-spread paths are stated with the figures
    assert "positive when cash Treasuries cheapen against futures" in html
    assert "fall when Treasuries cheapen against swaps" in html


def test_figures_are_embedded_and_nothing_is_fetched(html):
    imgs = re.findall(r'<img [^>]*src="([^"]+)"', html)
    assert len(imgs) >= 10
    assert all(src.startswith("data:image/svg+xml;base64,") for src in imgs)
    svg = base64.b64decode(imgs[0].split(",", 1)[1]).decode("utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert not re.search(r'(src|href)="(?!data:|#)', html)
    for banned in ("<link", "@import", "url(", "http://", "https://"):
        assert banned not in html


def test_defaults_are_listed_with_day_and_cause(report_dir, html):
    saved = load_saved(report_dir)
    ev = saved.results["no_action"].events
    dflt = ev[ev["event"] == "default"]
    assert len(dflt) >= 1
    first = dflt.iloc[0]
    section = html.split('<section id="contagion">')[1].split("</section>")[0]
    assert first["institution"] in section and first["cause"] in section
    assert "No institution defaulted" not in section


def test_defaults_by_day_count_causes_and_strategy_books():
    """Two insolvent directional books on day 2, one illiquid relative-value book and a
    dealer on day 3: one row per (arm, day), causes and strategies counted, assets summed."""

    class R:
        events = pd.DataFrame({
            "day": [2, 2, 3, 3], "event": ["default"] * 4,
            "institution": ["hf-1-dir", "hf-2-dir", "hf-1-rv", "dl-0"],
            "type": ["hedge_fund", "hedge_fund", "hedge_fund", "dealer"],
            "cause": ["insolvency", "insolvency", "liquidity", "insolvency"],
            "amount_usd_bn": [1.0, 2.0, 3.0, 40.0],
        })  # fmt: skip
        institutions = pd.DataFrame({
            "day": [0, 0, 0, 0, 1],
            "institution": ["hf-1-dir", "hf-2-dir", "hf-1-rv", "dl-0", "dl-0"],
            "strategy": ["directional", "directional", "relative_value", "", ""],
        })  # fmt: skip

    t = defaults_by_day({"no_action": R()})
    assert t.loc[("no_action", 2), "defaults"] == 2
    assert t.loc[("no_action", 2), "insolvency"] == 2 and t.loc[("no_action", 2), "liquidity"] == 0
    assert t.loc[("no_action", 2), "directional books"] == 2
    assert t.loc[("no_action", 3), "relative-value books"] == 1
    assert t.loc[("no_action", 3), "assets (USD bn)"] == pytest.approx(43.0)
    assert t.loc[("no_action", 3), "defaults"] == 2  # the dealer counts, in no book column
    assert defaults_by_day({"no_action": type("E", (), {"events": R.events.iloc[:0]})()}).empty


def test_a_long_default_list_is_cut_to_the_largest_with_a_pointer(report_dir, monkeypatch):
    """Over DEFAULT_LIST_MAX defaults the report lists the largest DEFAULTS_SHOWN by assets
    and says where the full list is (each arm's events file)."""
    import contagion.report.render as R

    saved = load_saved(report_dir)
    n = sum(int((r.events["event"] == "default").sum()) for r in saved.results.values())
    monkeypatch.setattr(R, "DEFAULT_LIST_MAX", 0)
    monkeypatch.setattr(R, "DEFAULTS_SHOWN", 1)
    ctx = R.build_context(saved)
    assert ctx["n_defaults"] == n and len(ctx["defaults"]) == 1
    biggest = max(
        float(a) for r in saved.results.values()
        for a in r.events.loc[r.events["event"] == "default", "amount_usd_bn"]
    )  # fmt: skip
    assert ctx["defaults"][0]["assets_usd_bn"] == biggest
    assert ctx["defaults_by_day"]["rows"]  # the by-day table is there


def test_defaults_are_summarised_per_arm(report_dir):
    # the per-arm row counts the arm's default events: as many as the events frame has,
    # first on the earliest default day, assets the sum of the defaulters' assets
    saved = load_saved(report_dir)
    table = defaults_by_arm(saved.results)
    for arm, r in saved.results.items():
        dflt = r.events[r.events["event"] == "default"]
        assert table.loc[arm, "defaults"] == len(dflt)
        assert table.loc[arm, "assets (USD bn)"] == pytest.approx(dflt["amount_usd_bn"].sum())
        if len(dflt):
            assert table.loc[arm, "first day"] == dflt["day"].min()
            sectors = [c for c in table.columns if c in set(dflt["type"].astype(str))]
            assert table.loc[arm, sectors].sum() == len(dflt)


def test_side_effects_name_what_an_arm_makes_worse():
    metrics = pd.DataFrame(
        {"peak_repo_rate_pct": [6.9, 12.1, 7.0], "defaults": [5.0, 0, 5],
         "losses_usd_bn": [2682.0, 700, 2683.1]},
        index=pd.Index(["no_action", "slr", "srf"], name="arm"),
    )  # fmt: skip
    # slr: repo rate +5.2 pp > 0.25; srf: +0.1 pp and +1.1 bn of 2,682 (< 0.5% = 13.4 bn)
    # are noise
    assert side_effects(metrics, ["slr", "srf"]) == [
        "slr raised the peak repo rate to 12.1% (6.9% without action)"
    ]


def test_loss_tables_say_they_include_the_central_bank(report_dir, html):
    section = html.split('<section id="losses">')[1].split("</section>")[0]
    assert "include the central bank" in section
    assert "excl. central bank" in html.split('<section id="summary">')[1]


def test_summary_table_numbers_match_the_metrics(report_dir, html):
    m = pd.read_parquet(report_dir / "metrics.parquet")
    summary = html.split('<section id="summary">')[1].split("</section>")[0]
    assert f"central run {m.loc['no_action', 'peak_yield_bp']:,.1f}" in summary
    # with draws the table shows median [p10–p90] of the draws
    d = pd.read_parquet(report_dir / "draws.parquet")
    v = d[(d["arm"] == "no_action") & (d["metric"] == "fire_sale_usd_bn")]["value"]
    lo, med, hi = np.quantile(v, [0.1, 0.5, 0.9])
    assert f"{med:,.1f} [{lo:,.1f}–{hi:,.1f}]" in summary
    assert "2 parameter draws" in summary


def test_missing_results_are_an_input_error(tmp_path):
    with pytest.raises(InputError, match=r"experiment\.json"):
        render_report(tmp_path)


def test_arm_folder_is_safe():
    assert arm_folder(3, "../../etc/passwd") == "03-etc_passwd"
    assert arm_folder(0, "<>") == "00-arm"
    assert arm_folder(1, "qe_500bn") == "01-qe_500bn"


def test_verdict_ranks_by_reduction_per_100bn_and_sets_free_tools_apart():
    metrics = pd.DataFrame(
        {"peak_yield_bp": [60.0, 40.0, 50.0, 30.0], "peak_basis_bp": [10.0, 5, 6, 4],
         "fire_sale_usd_bn": [500.0, 300, 400, 200], "defaults": [2.0, 1, 2, 0],
         "losses_usd_bn": [100.0, 80, 90, 70]},
        index=pd.Index(["no_action", "big", "small", "free"], name="arm"),
    )  # fmt: skip
    eff = pd.DataFrame(index=metrics.index)
    for c in ("peak_yield_bp", "fire_sale_usd_bn", "peak_basis_bp"):
        eff[f"reduction_{c}"] = metrics.loc["no_action", c] - metrics[c]
    eff["cost_balance_sheet_usd_bn"] = [0.0, 400.0, 50.0, 1.0]
    eff["cost_cash_lent_usd_bn"] = 0.0
    eff["cost_budget_spent_usd_bn"] = 0.0
    eff["reduction_peak_yield_bp_per_100bn"] = eff["reduction_peak_yield_bp"] / (
        eff["cost_balance_sheet_usd_bn"].replace(0, np.nan) / 100
    )
    text = " ".join(verdict(metrics, eff, pd.DataFrame(columns=["arm", "metric"]), "10y"))
    # small: 10 bp for 50 bn = 20 bp per 100 bn beats big: 20 bp for 400 bn = 5
    assert "Per USD 100 bn deployed (central run), small reduced the peak 10y yield" in text
    assert "free (30.0 bp, central run)" in text  # no balance sheet: absolute only
    assert "largest reduction of the peak 10y yield change is free's (30.0 bp" in text
    assert "2 institutions default without action" in text


def test_verdict_crowns_no_tool_when_none_reduced_the_peak():
    """At the impact bound every arm's central peak is the same: no tool 'reduced most'."""
    metrics = pd.DataFrame(
        {"peak_yield_bp": [338.0, 338.0, 338.0], "peak_basis_bp": [22.0, 22, 22],
         "fire_sale_usd_bn": [1300.0, 1200, 1250], "defaults": [300.0, 250, 260],
         "losses_usd_bn": [1800.0, 1700, 1750]},
        index=pd.Index(["no_action", "qe", "swf"], name="arm"),
    )  # fmt: skip
    eff = pd.DataFrame(index=metrics.index)
    for c in ("peak_yield_bp", "fire_sale_usd_bn", "peak_basis_bp"):
        eff[f"reduction_{c}"] = metrics.loc["no_action", c] - metrics[c]
    eff["cost_balance_sheet_usd_bn"] = [0.0, 500.0, 500.0]
    eff["cost_cash_lent_usd_bn"] = 0.0
    eff["cost_budget_spent_usd_bn"] = 0.0
    eff["reduction_peak_yield_bp_per_100bn"] = eff["reduction_peak_yield_bp"] / (
        eff["cost_balance_sheet_usd_bn"].replace(0, np.nan) / 100
    )
    text = " ".join(verdict(metrics, eff, pd.DataFrame(columns=["arm", "metric"]), "10y"))
    assert "reduced the peak 10y yield change most" not in text
    assert "no tool reduced the peak 10y yield change" in text
    assert "qe (0.00 bp per USD 100 bn for USD 500 bn)" in text


def test_svg_is_deterministic():
    markets = {"no_action": pd.DataFrame({"x": [0.0, 1.0, 3.0]}), HOSTILE: pd.DataFrame(
        {"x": [0.0, 0.5, 1.0]})}  # fmt: skip
    a = rf.to_svg(rf.time_paths(markets, [("x", "x")], "bp"))
    b = rf.to_svg(rf.time_paths(markets, [("x", "x")], "bp"))
    assert a == b
    assert "<script" not in a  # labels are drawn as paths, not text


def test_the_levels_caveat_names_the_impact_bound_when_it_bit():
    from contagion.report.explain import Evidence, level_caveat

    bit = level_caveat(Evidence(peak_yield_bp=338.0, bounds={"impact_bound_hit_days": 3}), {}, 20)
    assert "reached its bound (ModelParams.max_impact_bp) on 3 days" in bit
    calm = level_caveat(Evidence(peak_yield_bp=5.0, bounds={"impact_bound_hit_days": 0}), {}, 20)
    assert "reached its bound" not in calm


def test_the_no_action_level_is_set_against_documented_episodes(report_dir):
    """The executive summary shows the no-action peak above the shipped episodes (each with
    its source), largest first; the episodes file is data with its sources."""
    from contagion.report.history import COLUMNS, yield_episodes

    eps = yield_episodes()
    assert tuple(eps.columns) == COLUMNS and len(eps) >= 4
    assert eps["move_bp"].is_monotonic_decreasing
    assert set(eps["read"]) <= {"original", "relay"} and eps["source"].str.len().min() > 20
    assert 64.0 in set(eps["move_bp"])  # the US 10y, Mar 9-18 2020 (BIS WP 966)
    md = (report_dir / "report.md").read_text(encoding="utf-8")
    summary = md.split("## Executive summary")[1].split("### Why each arm")[0]
    assert "this report: no action, peak" in summary and "BIS Working Paper 966" in summary
    assert summary.index("this report: no action") < summary.index("Dash for cash")


def test_the_levels_caveat_reads_the_loss_spiral_gain():
    from contagion.report.explain import Evidence, level_caveat, spiral_sentence

    base = Evidence(peak_yield_bp=338.0, bounds={})
    runs = level_caveat(base, {}, 20, spiral_gain=1.95)
    assert "loss-spiral gain (contagion.metrics.loss_spiral_gain) is 1.95" in runs
    assert "runs until a bound binds" in runs
    damped = spiral_sentence(0.8)
    assert damped is not None and "1 / (1 - gain) = 5.0" in damped
    assert spiral_sentence(0.0) is None and spiral_sentence(None) is None
    assert "loss-spiral" not in level_caveat(base, {}, 20)
