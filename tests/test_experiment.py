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
    headline,
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
    # the SRF relieves funding, not balance sheet: under basis_unwind on the stylised system
    # GC closes below its minimum bid and what it lends finances dealers' inventory once the
    # money funds' pool is used up, while their room is what binds, so it changes no
    # headline (the report's reason says so); then the dealers must have been out of room
    srf = main_experiment.results["srf"]
    if not better["srf"]:
        assert srf.markets["repo_rate_pct"].iloc[1:].max() < srf.markets["srf_rate_pct"].min()
        assert srf.summary["dealer_room_exhausted_days"] > 0
        del better["srf"]
    assert all(better.values()), better
    eff = main_experiment.effectiveness
    assert eff.loc["qe", "cost_balance_sheet_usd_bn"] > 0
    assert eff.loc["srf", "cost_cash_lent_usd_bn"] >= 0
    assert eff.loc["swf", "cost_budget_spent_usd_bn"] == pytest.approx(500.0)
    # a fund creates no reserves (up to the central bank's interest on ON RRP balances,
    # which money funds draw down on slightly different days: USD millions)
    assert eff.loc["swf", "cost_balance_sheet_usd_bn"] == pytest.approx(0.0, abs=0.05)
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


def test_costs_count_only_what_an_arm_adds_beyond_no_action():
    # no action's own lending and spending (standing facilities) is no arm's cost: the arm
    # lent 120 where no action lent 40, spent nothing more, created 30 more reserves
    metrics = pd.DataFrame(
        {
            "peak_yield_bp": [50.0, 45.0],
            "peak_basis_bp": [20.0, 20.0],
            "fire_sale_usd_bn": [300.0, 300.0],
            "defaults": [2.0, 2.0],
            "losses_usd_bn": [100.0, 100.0],
            "reserves_created_usd_bn": [40.0, 70.0],
            "cash_lent_usd_bn": [40.0, 120.0],
            "budget_spent_usd_bn": [5.0, 5.0],
        },
        index=[BASELINE, "cleared"],
    )
    eff = effectiveness(metrics)
    assert eff.loc["cleared", "cost_cash_lent_usd_bn"] == 80.0
    assert eff.loc["cleared", "cost_budget_spent_usd_bn"] == 0.0
    assert eff.loc["cleared", "cost_balance_sheet_usd_bn"] == 30.0
    assert eff.loc[BASELINE, ["cost_cash_lent_usd_bn", "cost_budget_spent_usd_bn"]].eq(0).all()
    # 5 bp less for a size of max(30, 80, 0) = 80 bn: 6.25 bp per USD 100 bn
    assert eff.loc["cleared", "reduction_peak_yield_bp_per_100bn"] == pytest.approx(6.25)


def test_standing_policies_are_in_force_in_every_arm_and_replaced_by_name():
    from contagion.report.labels import arm_labels

    toy = c.examples.toy_basis_trade()
    sc = c.scenarios.load("volatility_spike")
    standing = [StandingRepoConfig(name="srf", aggregate_limit_usd_bn=50, stigma_premium_bp=5)]
    cleared = StandingRepoConfig(name="srf", aggregate_limit_usd_bn=50, central_clearing=True)
    arms = {"qe": [QEConfig(reactive_share=1, budget_usd_bn=20)], "cleared": [cleared]}
    ex = experiment(toy, sc, arms, standing=standing)
    pols = {a: r.config["policies"] for a, r in ex.results.items()}
    assert [p["name"] for p in pols[BASELINE]] == ["srf"]  # no action: the standing SRF
    assert [p["type"] for p in pols["qe"]] == ["srf", "qe"]  # in force beside the arm's QE
    # the arm's SRF of the same name replaces the standing one (one facility, cleared)
    assert len(pols["cleared"]) == 1 and pols["cleared"][0]["central_clearing"] is True
    assert pols[BASELINE][0]["central_clearing"] is False
    assert ex.parameters["standing"] == [standing[0].model_dump(mode="json")]
    # reports name arms by what they add: no action stays "No action"
    labels = arm_labels(ex.results, ex.parameters["standing"])
    assert labels == {
        BASELINE: "No action",
        "qe": "QE (USD 20 bn)",
        "cleared": "Standing Repo Facility, centrally cleared (USD 50 bn limit)",
    }
    # without standing policies nothing changes: no action holds no policy
    plain = experiment(toy, sc, arms)
    assert plain.results[BASELINE].config["policies"] == []
    assert plain.parameters["standing"] == []


@pytest.mark.parametrize(
    ("standing", "field", "words"),
    [
        ([{"type": "helicopter"}], "0.type", "unknown policy type"),
        ([{"type": "srf", "aggregate_limit_usd_bn": -5}], "0.aggregate_limit_usd_bn", "greater"),
        ([{"type": "srf"}, {"type": "srf"}], "standing", "given twice"),
        ({"type": "srf"}, "standing", "list of policies"),
    ],
)
def test_standing_policies_are_validated_naming_the_entry(tmp_path, standing, field, words):
    doc = {"arms": {"qe": [{"type": "qe", "budget_usd_bn": 5}]}, "standing": standing}
    with pytest.raises(c.InputError, match=words) as err:
        load_experiment(write(tmp_path, doc))
    assert err.value.problems[0].field == field
    assert err.value.source == write(tmp_path, doc)


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


# --- model parameters of a calibrated system -------------------------------------------------
def _with_metadata(system, **metadata):
    return c.System(
        system.institutions.drop(columns=["equity_usd_bn"]),
        system.exposures,
        system.market,
        name=system.name,
        metadata={**system.metadata, **metadata},
    )


def _with_params(system, **params):
    return _with_metadata(system, model_params=params)


def test_model_params_from_the_system_fill_what_the_scenario_leaves_unset():
    from contagion.experiment import resolve_parameters

    toy = _with_params(c.examples.toy_basis_trade(), impact_bp_per_usd_bn=0.3, impact_convexity=0.7)
    sc = c.Scenario(name="s", days=1, params=c.ModelParams(impact_convexity=2.0))
    out = resolve_parameters(toy, sc)  # auto: the system carries a fit
    assert out.scenario.params.impact_bp_per_usd_bn == 0.3  # from the system
    assert out.scenario.params.impact_convexity == 2.0  # the scenario set it itself
    assert out.record["set"] == "fitted"
    assert out.record["origin"]["impact_bp_per_usd_bn"] == "fitted"
    assert out.record["origin"]["impact_convexity"] == "scenario"
    assert out.record["origin"]["impact_decay_frac"] == "default"
    # the opt-out keeps the scenario as it is
    assert resolve_parameters(toy, sc, "defaults").scenario == sc
    over = resolve_parameters(toy, sc, model_params={"impact_decay_frac": 0.1})
    assert over.scenario.params.impact_decay_frac == 0.1
    assert over.record["origin"]["impact_decay_frac"] == "experiment"
    # resolving again changes nothing
    again = resolve_parameters(toy, out.scenario)
    assert again.scenario == out.scenario and again.record["origin"] == out.record["origin"]


def test_fitted_parameters_without_a_fit_are_a_clear_error():
    from contagion.experiment import resolve_parameters

    with pytest.raises(c.InputError, match="carries none") as err:
        resolve_parameters(c.examples.toy_basis_trade(), c.Scenario(), "fitted")
    assert err.value.problems[0].field == "parameter_set"
    with pytest.raises(c.InputError) as err:
        resolve_parameters(c.examples.toy_basis_trade(), c.Scenario(), "calibrated")
    assert err.value.problems[0].field == "parameter_set"


def test_fitted_set_and_a_conflicting_override_is_an_error_naming_the_field():
    from contagion.experiment import resolve_parameters

    toy = _with_params(c.examples.toy_basis_trade(), impact_bp_per_usd_bn=0.3)
    with pytest.raises(c.InputError, match="contradicts the fitted value") as err:
        resolve_parameters(toy, c.Scenario(), "fitted", {"impact_bp_per_usd_bn": 0.05})
    assert err.value.problems[0].field == "model_params.impact_bp_per_usd_bn"
    # the same value, or a parameter the fit does not set, is no conflict
    ok = resolve_parameters(toy, c.Scenario(), "fitted", {"impact_bp_per_usd_bn": 0.3})
    assert ok.record["set"] == "fitted"
    ok = resolve_parameters(toy, c.Scenario(), "fitted", {"impact_decay_frac": 0.1})
    assert ok.scenario.params.impact_decay_frac == 0.1


def test_experiment_file_naming_fit_and_conflicting_params_exits_2(tmp_path):
    from typer.testing import CliRunner

    from contagion.cli import app

    doc = {
        "system": "calibrated_us_2025",
        "parameter_set": "fitted",
        "model_params": {"impact_bp_per_usd_bn": 0.01},
        "arms": {"no_action": []},
    }
    path = write(tmp_path, doc)
    r = CliRunner().invoke(app, ["experiment", str(path), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2, r.output
    assert "model_params.impact_bp_per_usd_bn" in r.output and str(path) in r.output
    assert not (tmp_path / "o" / "report.html").exists()
    doc = {"model_params": "system", "parameter_set": "defaults", "arms": {"no_action": []}}
    with pytest.raises(c.InputError) as err:
        load_experiment(write(tmp_path, doc))
    assert err.value.problems[0].field == "parameter_set"


def test_every_entry_point_gets_the_fit_by_default_and_can_opt_out():
    """experiment() and sensitivity() on a system with a fit use it and draw around it;
    the record says so; parameter_set='defaults' opts out."""
    from contagion.sensitivity import sensitivity

    fitted = {"impact_bp_per_usd_bn": 0.02, "impact_convexity": 1.2}
    toy = _with_metadata(
        c.examples.toy_basis_trade(),
        model_params=fitted,
        model_params_uncertainty={
            "impact_bp_per_usd_bn": [0.015, 0.025, "uniform"],
            "impact_convexity": [1.1, 1.3, "uniform"],
        },
        fit_episode="march_2020",
    )
    sc = c.scenarios.load("basis_unwind")
    ex = experiment(toy, sc, {}, draws=3, rng=1)
    params = ex.results[BASELINE].config["scenario"]["params"]
    assert params["impact_bp_per_usd_bn"] == 0.02 and params["impact_convexity"] == 1.2
    assert ex.parameters["set"] == "fitted" and "march 2020" in ex.parameters["description"]
    drawn = ex.draws[ex.draws["metric"] == "param:impact_bp_per_usd_bn"]["value"]
    assert drawn.between(0.015, 0.025).all()  # the fit's ranges, not DEFAULT_UNCERTAINTY
    assert set(ex.parameters["draw_ranges"]) == set(fitted)
    assert ex.results[BASELINE].parameter_set()["set"] == "fitted"
    off = experiment(toy, sc, {}, parameter_set="defaults")
    assert off.results[BASELINE].config["scenario"]["params"]["impact_bp_per_usd_bn"] == 0.01
    assert off.parameters["set"] == "defaults"
    assert off.results[BASELINE].parameter_set()["set"] == "defaults"
    table = sensitivity(toy, sc, {}, base_samples=2, rng=1, num_resamples=10)
    assert set(table["parameter"]) == set(fitted)
    assert table.attrs["parameter_set"] == "fitted"
    # the explicit helper for simulate
    run = c.simulate(toy, c.examples.with_fitted_params(sc, toy))
    assert run.parameter_set()["set"] == "fitted"
    with pytest.raises(c.InputError, match="no fitted parameters"):
        c.examples.with_fitted_params(sc, c.examples.toy_basis_trade())


def test_scenario_parameters_are_held_fixed_in_default_draws():
    sc = c.scenarios.load("basis_unwind").with_params(impact_bp_per_usd_bn=0.3)
    ex = experiment(c.examples.toy_basis_trade(), sc, {}, draws=2, rng=1)
    assert "param:impact_bp_per_usd_bn" not in set(ex.draws["metric"])
    assert ex.parameters["held_fixed"] == ["impact_bp_per_usd_bn"]
    assert ex.parameters["origin"]["impact_bp_per_usd_bn"] == "scenario"


def test_experiment_file_model_params_are_validated(tmp_path):
    doc = {"arms": {"no_action": []}, "model_params": {"impact_bp_per_usd_bn": -1}}
    with pytest.raises(c.InputError) as err:
        load_experiment(write(tmp_path, doc))
    assert err.value.problems[0].field == "model_params.impact_bp_per_usd_bn"
    doc["model_params"] = {"no_such_parameter": 1.0}
    with pytest.raises(c.InputError, match="no_such_parameter"):
        load_experiment(write(tmp_path, doc))


def test_default_experiment_runs_the_calibrated_system_with_its_parameters():
    from importlib.resources import files

    from contagion.experiment import default_experiment

    config = default_experiment()
    assert config == load_experiment(files("contagion") / "data" / "experiments" / "default.yaml")
    assert config.system == "calibrated_us_2025" and config.parameter_set == "fitted"
    # uncertainty by default: enough Sobol' draws for stable p10/p90, a balanced design
    assert config.draws >= 64 and config.sampling == "sobol"
    assert config.draws & (config.draws - 1) == 0


# --- sampling: random, Sobol', Latin hypercube ------------------------------------------------
UNC3 = {
    "impact_bp_per_usd_bn": (0.005, 0.02, "loguniform"),
    "impact_convexity": (0.5, 1.5, "uniform"),
    "repo_rate_convexity": (1.0, 1.0, "uniform"),  # a point range: that constant
}


@pytest.mark.parametrize("sampling", ["random", "sobol", "lhs"])
def test_draws_of_every_sampling_respect_ranges_and_are_seeded(sampling):
    from contagion.experiment import unit_points

    draws = draw_parameters(16, UNC3, 3, sampling)
    frame = pd.DataFrame(draws)
    for name, (lo, hi, _) in UNC3.items():
        assert frame[name].between(lo, hi).all(), name
    assert (frame["repo_rate_convexity"] == 1.0).all()
    assert draws == draw_parameters(16, UNC3, 3, sampling)
    assert draws != draw_parameters(16, UNC3, 4, sampling)
    unit = unit_points(16, 3, 3, sampling)
    assert unit.shape == (16, 3) and ((unit >= 0) & (unit < 1)).all()


def test_lhs_hits_every_stratum_once_and_sobol_is_a_prefix():
    from contagion.experiment import unit_points

    lhs = unit_points(10, 3, 1, "lhs")
    for j in range(3):
        assert sorted(np.floor(lhs[:, j] * 10).astype(int)) == list(range(10))
    sobol = unit_points(16, 3, 1, "sobol")
    np.testing.assert_array_equal(unit_points(8, 3, 1, "sobol"), sobol[:8])
    # a power-of-2 Sobol' design is balanced: each half of each axis holds half the points
    assert ((sobol < 0.5).sum(axis=0) == 8).all()


def test_random_sampling_is_unchanged_child_d_per_draw():
    # the ppf of the uniform and log-uniform ranges gives the same numbers as before
    lo, hi = UNC3["impact_bp_per_usd_bn"][:2]
    children = np.random.SeedSequence(9).spawn(5)
    legacy = [
        float(np.exp(np.log(lo) + np.random.default_rng(ch).random() * (np.log(hi) - np.log(lo))))
        for ch in children
    ]
    got = [d["impact_bp_per_usd_bn"] for d in draw_parameters(5, UNC3, 9)]
    assert got == legacy


def test_unknown_sampling_is_an_input_error_naming_the_field():
    with pytest.raises(c.InputError) as err:
        draw_parameters(2, UNC3, 0, "halton")
    assert err.value.field == "sampling"
    with pytest.raises(c.InputError) as err:
        experiment(c.examples.toy_basis_trade(), c.Scenario(days=1), {}, draws=1, sampling="x")
    assert err.value.field == "sampling"


def test_sobol_draws_are_identical_serial_and_in_processes(tmp_path):
    toy, sc = c.examples.toy_basis_trade(), c.scenarios.load("volatility_spike")
    options = {"draws": 2, "rng": 5, "sampling": "sobol", "uncertainty": UNC3}
    serial = experiment(toy, sc, {}, **options, checkpoint_dir=tmp_path / "ck").draws
    pd.testing.assert_frame_equal(experiment(toy, sc, {}, **options, workers=2).draws, serial)
    # a checkpoint of Sobol' draws is not resumed as random draws
    with pytest.raises(c.InputError, match="different experiment"):
        experiment(toy, sc, {}, **{**options, "sampling": "random"}, checkpoint_dir=tmp_path / "ck")


def test_draws_on_a_calibrated_system_stay_in_its_fitted_ranges(tmp_path, monkeypatch):
    # model_params: system without an uncertainty block draws around the fitted values, not
    # from DEFAULT_UNCERTAINTY (centred on the uncalibrated defaults)
    import contagion.experiment as cx
    from contagion.examples import model_params_uncertainty
    from contagion.io import save_system

    system = _with_metadata(
        c.examples.toy_basis_trade(),
        model_params={"impact_bp_per_usd_bn": 0.3},
        model_params_uncertainty={"impact_bp_per_usd_bn": [0.2, 0.4, "uniform"],
                                  "impact_convexity": [1.0, 1.5, "uniform"]},
    )  # fmt: skip
    save_system(system, tmp_path / "toy_calibrated.yaml")
    doc = {"system": "toy_calibrated.yaml", "scenario": "volatility_spike",
           "arms": {"no_action": []}, "model_params": "system", "draws": 2}  # fmt: skip
    config = load_experiment(write(tmp_path, doc))
    sc = c.scenarios.load("volatility_spike")
    assert cx.resolve_config(config, system, sc).uncertainty == model_params_uncertainty(system)
    # without model_params the fit applies all the same (auto); 'defaults' opts out
    auto = config.model_copy(update={"model_params": None})
    assert cx.resolve_config(auto, system, sc).uncertainty == model_params_uncertainty(system)
    off = auto.model_copy(update={"parameter_set": "defaults"})
    assert cx.resolve_config(off, system, sc).uncertainty == cx.DEFAULT_UNCERTAINTY
    ex = run_experiment(config, base_dir=tmp_path)
    assert ex.results[BASELINE].config["scenario"]["params"]["impact_bp_per_usd_bn"] == 0.3
    drawn = ex.draws[ex.draws["metric"] == "param:impact_bp_per_usd_bn"]["value"]
    assert len(drawn) and drawn.between(0.2, 0.4).all()
    del monkeypatch


def test_a_facility_is_sized_by_its_peak_outstanding_not_its_turnover():
    # lent 550 in all, of which some was repaid and lent again; at most 480 was out at once
    # (the limit caps that): the facility's cash-lent cost is 480, a typed record of the
    # policy (PolicyCosts), summed into the summary and read by the headline
    srf = c.policies.StandingRepoConfig(name="srf").build()
    costs = srf.costs({"peak": 480.0, "lent_total": 550.0})
    assert costs.cash_lent_peak_usd_bn == 480.0 and costs.budget_spent_usd_bn == 0.0
    summary = {
        "peak_yield_change_10y_bp": 50.0,
        "fire_sale_volume_usd_bn": 100.0,
        "defaults_count": 0.0,
        "equity_loss_total_usd_bn": 10.0,
        "peak_repo_rate_pct": 5.0,
        "peak_repo_rate_eligible_pct": 4.6,
        "dealer_peak_utilisation_frac": 1.0,
        "cb_reserves_created_usd_bn": 0.0,
        "policy_srf_peak_take_up_usd_bn": 480.0,
        "policy_srf_lent_usd_bn": 550.0,
        "policy_cost_cash_lent_peak_usd_bn": costs.cash_lent_peak_usd_bn,
        "policy_cost_budget_spent_usd_bn": costs.budget_spent_usd_bn,
    }
    assert headline(summary)["cash_lent_usd_bn"] == 480.0


def test_progress_true_writes_a_line_per_chunk_and_logs(capsys, caplog):
    """``progress=True`` (notebooks, logs): a line per finished chunk on standard error."""
    import logging

    import contagion as c
    from contagion.experiment import experiment

    with caplog.at_level(logging.DEBUG, logger="contagion"):
        experiment(c.examples.toy_basis_trade(), c.scenarios.load("volatility_spike"),
                   {"slr": [{"type": "slr_relief"}]}, draws=4, rng=1, chunk_size=2,
                   progress=True)  # fmt: skip
    lines = capsys.readouterr().err.strip().splitlines()
    assert [x.split(" (")[0] for x in lines] == ["Draws: 2/4", "Draws: 4/4"]
    assert "about" in lines[0] and "left" in lines[0] and "left" not in lines[1]
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("4 draws of 2 arms in 2 chunks") for m in messages)
    assert any(m.startswith("finished draws-2-3.parquet") for m in messages)
