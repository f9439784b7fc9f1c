"""ExperimentResult across draws: quantiles, paired reductions, rank robustness, the N-D
view and the figures; readable labels in the report."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

import contagion as c
from contagion.experiment import BASELINE, PATHS, experiment
from contagion.policies import QEConfig, SLRReliefConfig
from contagion.report import labels

DRAWS = 4


@pytest.fixture(scope="module")
def ex():
    arms = {"qe": [QEConfig(name="qe", reactive_share=0.5, budget_usd_bn=25)],
            "slr": [SLRReliefConfig()]}  # fmt: skip
    return experiment(c.examples.toy_basis_trade(), c.scenarios.load("basis_unwind"), arms,
                      draws=DRAWS, rng=7, sampling="sobol")  # fmt: skip


def _values(ex, arm, metric):
    d = ex.draws
    return d[(d["arm"] == arm) & (d["metric"] == metric)].sort_values("draw")["value"].to_numpy()


def test_summary_gives_quantiles_of_the_draws_and_paired_reductions(ex):
    s = ex.summary(quantiles=(0.1, 0.5, 0.9))
    assert list(s.columns) == ["central", "p10", "p50", "p90", "draws"]
    assert (s["draws"] == DRAWS).all()
    v = _values(ex, "qe", "peak_yield_bp")
    assert s.loc[("qe", "peak_yield_bp"), "p50"] == pytest.approx(np.quantile(v, 0.5))
    assert s.loc[("qe", "peak_yield_bp"), "central"] == ex.metrics.loc["qe", "peak_yield_bp"]
    paired = _values(ex, BASELINE, "peak_yield_bp") - v
    assert s.loc[("qe", "reduction_peak_yield_bp"), "p90"] == pytest.approx(
        np.quantile(paired, 0.9)
    )
    assert s.loc[(BASELINE, "reduction_peak_yield_bp"), "p50"] == 0.0
    wide = ex.summary(quantiles=[0.05, 0.95])
    assert {"p5", "p95"} <= set(wide.columns)
    with pytest.raises(c.InputError):
        ex.summary(quantiles=[1.5])


def test_summary_without_draws_keeps_the_central_run_and_no_bands():
    ex0 = experiment(c.examples.toy_basis_trade(), c.scenarios.load("basis_unwind"), {})
    s = ex0.summary()
    assert (s["draws"] == 0).all() and s["p50"].isna().all() and s["central"].notna().all()
    assert ex0.paths is not None and ex0.paths.empty
    assert ex0.prob_better().attrs["draws"] == 0


def test_prob_better_counts_paired_wins(ex):
    p = ex.prob_better("peak_yield_bp")
    assert p.attrs["draws"] == DRAWS
    wins = np.mean(_values(ex, "slr", "peak_yield_bp") < _values(ex, BASELINE, "peak_yield_bp"))
    assert p.loc["slr", BASELINE] == pytest.approx(wins)
    for a in p.index:
        for b in p.columns:
            if a != b:
                assert p.loc[a, b] + p.loc[b, a] <= 1 + 1e-12
    with pytest.raises(c.InputError):
        ex.prob_better("no_such_metric")


def test_paths_are_kept_per_draw_and_day(ex):
    days = c.scenarios.load("basis_unwind").days
    assert set(ex.paths["metric"]) == set(PATHS)
    assert len(ex.paths) == 3 * DRAWS * (days + 1) * len(PATHS)
    # a path's peak is the summary's peak: the yield path and the headline metric agree
    one = ex.paths[(ex.paths["arm"] == "qe") & (ex.paths["draw"] == 0)]
    y = one[one["metric"] == "yield_change_bp"]["value"]
    assert y.abs().max() == pytest.approx(abs(_values(ex, "qe", "peak_yield_bp")[0]))


def test_to_xarray_is_draw_by_day_by_metric(ex):
    pytest.importorskip("xarray")
    ds = ex.to_xarray()
    assert ds["path_yield_change_bp"].dims == ("arm", "draw", "day")
    assert ds.sizes["draw"] == DRAWS and ds.sizes["arm"] == 3
    assert ds["peak_yield_bp"].dims == ("arm", "draw")
    assert ds["param_impact_bp_per_usd_bn"].dims == ("draw",)
    assert float(ds["peak_yield_bp"].sel(arm="qe", draw=0)) == _values(ex, "qe", "peak_yield_bp")[0]
    assert ds.attrs["parameter_set"] == "defaults"


def test_plots_are_figures(ex):
    for kind in ("fan", "bands", "paths", "cost_benefit"):
        assert isinstance(ex.plot(kind), Figure)
    with pytest.raises(c.InputError):
        ex.plot("pie")
    res = ex.results[BASELINE]
    assert isinstance(res.plot(), Figure)
    assert isinstance(res.plot(["repo_rate_pct"]), Figure)
    with pytest.raises(c.InputError, match="not columns"):
        res.plot(["no_such_column"])


def test_labels_are_readable_and_derived():
    assert labels.channel("fire_sale") == "price-impact mark-to-market"
    assert labels.channel("new_channel_x") == "new channel x"  # new channels slot in
    assert labels.metric("reduction_peak_yield_bp_per_100bn", "10y").startswith("10y yield")
    assert labels.arm_label("no_action", []) == "No action"
    assert labels.arm_label("x", [{"type": "qe", "budget_usd_bn": 500}]) == "QE (USD 500 bn)"
    assert labels.arm_label("x", [{"type": "srf", "aggregate_limit_usd_bn": 500}]) == (
        "Standing Repo Facility (USD 500 bn limit)"
    )
    system = c.examples.calibrated_us_2025()
    other = labels.sector_labels(system.institutions)["other"]
    names = system.institutions.query("type == 'other'")["name"].tolist()
    assert other.startswith("other holders (") and names[0] in other


def test_report_explains_with_labels_not_ids(tmp_path):
    from contagion.policies import StandingRepoConfig
    from contagion.report import write_report

    system = c.examples.toy_basis_trade()
    arms = {"srf_50bn": [StandingRepoConfig(aggregate_limit_usd_bn=50)]}
    # money funds pulling back their repo take GC past the facility's rate: it lends
    stress = c.scenarios.load("basis_unwind")
    funding = stress.model_copy(update={"mmf_repo_pullback_frac": (0.0, 0.5, 0.6, 0.6, 0.4)})
    ex = experiment(system, funding, arms)
    html = write_report(ex, system, tmp_path / "r").read_text(encoding="utf-8")
    summary = html.split('<section id="summary">')[1].split("</section>")[0]
    assert "Standing Repo Facility (USD 50 bn limit)" in summary
    assert "srf_50bn" not in summary  # the id stays in the data files and the configuration
    assert "How to read the levels" in summary and "Why each arm did what it did" in summary
    # the reason comes from the facility's usage, its borrowers named by their take-up
    assert "lent up to USD 43 bn to dealers" in summary
    # the repo market: policy corridor, GC, who lent and the facility's take-up per arm
    from contagion.report.render import money_market_table

    money = money_market_table(ex.results)
    srf = ex.results["srf_50bn"].markets
    take_up = money.loc["srf_50bn", "facility take-up, peak (USD bn)"]
    assert take_up == srf["repo_supply_facilities_usd_bn"].max() > 1.0
    assert money.loc[BASELINE, "facility take-up, peak (USD bn)"] == 0.0
    assert money.loc[BASELINE, "GC repo, peak (%)"] > money.loc[BASELINE, "SRF rate, low (%)"]
    assert "The repo market" in html and "facility take-up, peak (USD bn)" in html
    # without the funding strain GC stays below the facility's rate, and the report says so
    calm = write_report(experiment(system, stress, arms), system, tmp_path / "calm")
    calm_text = calm.read_text(encoding="utf-8")
    assert "lent nothing, as the market repo rate" in calm_text
    assert "never reached the facility" in calm_text
    assert "price-impact mark-to-market" in html
    assert "Package defaults" in html  # the toy carries no fit: the report says so
    assert "No parameter draws" in summary
    config = html.split('<section id="configuration">')[1]
    assert "<details>" in config and "srf_50bn" in config
    # a standing facility lends in no action too: an arm's lending is read against it, and
    # the arm is named by what it adds
    qe = {"qe": [c.policies.QEConfig(budget_usd_bn=20, reactive_share=1)]}
    standing = [StandingRepoConfig(name="srf", aggregate_limit_usd_bn=50)]
    both = experiment(system, funding, qe, standing=standing)
    text = write_report(both, system, tmp_path / "standing").read_text(encoding="utf-8")
    summary = text.split('<section id="summary">')[1].split("</section>")[0]
    assert "lent up to USD 39 bn (USD 43 bn without action) to dealers" in summary
    assert "<b>Standing facilities.</b>" in summary and "QE (USD 20 bn)</td>" in summary
