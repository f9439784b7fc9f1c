"""Experiments: paired arms, effectiveness and cost, parameter draws, YAML configs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

import contagion as c
from contagion.experiment import (
    BASELINE,
    draw_parameters,
    effectiveness,
    experiment,
    load_experiment,
    run_experiment,
)
from contagion.policies import QEConfig, SovereignFundConfig, StandingRepoConfig

ARMS = {
    "qe": [QEConfig(reactive_share=0.5, budget_usd_bn=500)],
    "srf": [StandingRepoConfig()],
    "swf": [SovereignFundConfig(reactive_share=0.5, budget_usd_bn=500)],
}


@pytest.fixture(scope="module")
def main_experiment():
    return experiment(c.examples.stylised_us_2025(), c.scenarios.load("basis_unwind"), ARMS)


def test_no_action_is_added_and_arms_share_the_same_shocks(main_experiment):
    ex = main_experiment
    assert list(ex.metrics.index) == [BASELINE, "qe", "srf", "swf"]
    base = ex.scenarios[BASELINE]
    for arm in ARMS:
        assert ex.scenarios[arm] == base
        # and the recorded configuration carries the same shock paths
        assert ex.results[arm].config["scenario"] == ex.results[BASELINE].config["scenario"]


def test_each_tool_improves_a_headline_metric_and_reports_its_cost(main_experiment):
    m = main_experiment.metrics
    better = {
        arm: [
            col
            for col in ("peak_yield_bp", "peak_basis_bp", "fire_sale_usd_bn", "losses_usd_bn",
                        "peak_repo_rate_eligible_pct")
            if m.loc[arm, col] < m.loc[BASELINE, col] - 1e-6
        ]
        for arm in ARMS
    }  # fmt: skip
    assert all(better.values()), better
    eff = main_experiment.effectiveness
    assert eff.loc["qe", "cost_balance_sheet_usd_bn"] > 0
    assert eff.loc["srf", "cost_cash_lent_usd_bn"] > 0
    assert eff.loc["swf", "cost_budget_spent_usd_bn"] == pytest.approx(500.0)
    # a fund creates no reserves
    assert eff.loc["swf", "cost_balance_sheet_usd_bn"] == pytest.approx(0.0, abs=1e-6)
    frame = main_experiment.to_frame()
    assert {"reduction_peak_yield_bp_per_100bn", "cost_budget_spent_usd_bn"} <= set(frame)


def test_effectiveness_arithmetic_on_a_hand_made_frame():
    metrics = pd.DataFrame(
        {
            "peak_yield_bp": [50.0, 40.0],
            "peak_basis_bp": [20.0, 10.0],
            "fire_sale_usd_bn": [300.0, 200.0],
            "defaults": [2.0, 0.0],
            "losses_usd_bn": [100.0, 80.0],
            "reserves_created_usd_bn": [10.0, 210.0],
            "cash_lent_usd_bn": [0.0, 0.0],
            "budget_spent_usd_bn": [0.0, 200.0],
        },
        index=[BASELINE, "qe"],
    )
    eff = effectiveness(metrics)
    # 10 bp less for a size of max(210 - 10, 0, 200) = 200 bn: 5 bp per USD 100 bn
    assert eff.loc["qe", "reduction_peak_yield_bp"] == 10.0
    assert eff.loc["qe", "cost_balance_sheet_usd_bn"] == 200.0
    assert eff.loc["qe", "reduction_peak_yield_bp_per_100bn"] == pytest.approx(5.0)
    assert np.isnan(eff.loc[BASELINE, "reduction_peak_yield_bp_per_100bn"])


def test_draws_are_paired_and_reproducible():
    toy = c.examples.toy_basis_trade()
    sc = c.scenarios.load("volatility_spike")
    arms = {"qe": [QEConfig(reactive_share=0.5, budget_usd_bn=50)]}
    a = experiment(toy, sc, arms, draws=3, rng=11)
    b = experiment(toy, sc, arms, draws=3, rng=11)
    pd.testing.assert_frame_equal(a.draws, b.draws)
    params = a.draws[a.draws["metric"].str.startswith("param:")]
    by_arm = params.pivot_table(index=["draw", "metric"], columns="arm", values="value")
    # every arm of a draw ran with the same parameters
    assert (by_arm[BASELINE] == by_arm["qe"]).all()
    assert a.draws["draw"].nunique() == 3


def test_parameter_draws_respect_their_ranges():
    draws = draw_parameters(50, {"impact_bp_per_usd_bn": (0.005, 0.02, "loguniform")}, 3)
    values = np.array([d["impact_bp_per_usd_bn"] for d in draws])
    assert ((values >= 0.005) & (values <= 0.02)).all()
    assert draws == draw_parameters(50, {"impact_bp_per_usd_bn": (0.005, 0.02, "loguniform")}, 3)


@pytest.mark.parametrize(
    ("uncertainty", "field"),
    [
        ({"not_a_param": (0, 1, "uniform")}, "not_a_param"),
        ({"impact_convexity": (2, 1, "uniform")}, "impact_convexity"),
        ({"impact_bp_per_usd_bn": (0, 1, "loguniform")}, "impact_bp_per_usd_bn"),
    ],
)
def test_bad_uncertainty_ranges_are_rejected(uncertainty, field):
    with pytest.raises(c.InputError) as err:
        draw_parameters(2, uncertainty, 0)
    assert err.value.problems[0].field == field


def write(tmp_path, doc) -> str:
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("arms", "field", "words"),
    [
        ({"bad": [{"type": "helicopter"}]}, "type", "unknown policy type"),
        ({"qe": [{"type": "qe", "budget_usd_bn": -1}]}, "budget_usd_bn", "greater than 0"),
        (
            {"qe": [{"type": "qe", "budget_usd_bn": 1, "trigger": {"metric": "x"}}]},
            "trigger",
            "together",
        ),
    ],
)
def test_experiment_files_are_validated_naming_arm_and_field(tmp_path, arms, field, words):
    with pytest.raises(c.InputError, match=words) as err:
        load_experiment(write(tmp_path, {"arms": arms}))
    assert err.value.problems[0].field == field
    assert next(iter(arms)) in err.value.problems[0].location


def test_experiment_file_with_an_unknown_trigger_metric_fails_at_run(tmp_path):
    doc = {
        "system": "toy_basis_trade",
        "scenario": "volatility_spike",
        "arms": {"qe": [{"type": "qe", "budget_usd_bn": 5, "trigger": {"metric": "vibes_bp",
                                                                        "threshold": 1}}]},
    }  # fmt: skip
    config = load_experiment(write(tmp_path, doc))
    with pytest.raises(c.InputError, match="unknown metric"):
        run_experiment(config, base_dir=tmp_path)


def test_experiment_file_runs(tmp_path):
    doc = {
        "system": "toy_basis_trade",
        "scenario": "volatility_spike",
        "arms": {"no_action": [], "qe": [{"type": "qe", "reactive_share": 1, "budget_usd_bn": 20}]},
        "draws": 2,
        "seed": 5,
    }
    ex = run_experiment(load_experiment(write(tmp_path, doc)), base_dir=tmp_path)
    assert ex.metrics.loc["qe", "fire_sale_usd_bn"] <= ex.metrics.loc[BASELINE, "fire_sale_usd_bn"]
    assert set(ex.draws["arm"]) == {BASELINE, "qe"}
