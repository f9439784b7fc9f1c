"""Sobol' sensitivity: SALib wiring against closed forms, then the engine end to end (shape,
an ignored parameter, determinism, serial vs joblib), the config, the report and the CLI."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import contagion as c
from contagion.cli import app
from contagion.experiment import BASELINE, experiment, load_experiment, run_experiment
from contagion.policies import QEConfig
from contagion.report import figures as rf
from contagion.report import load_saved, render, save_experiment
from contagion.sensitivity import COLUMNS, CONSTANT, sensitivity, sobol_design, sobol_indices

# --- the SALib wiring on model functions ----------------------------------------------------


def test_linear_model_matches_the_closed_form():
    # y = sum_i a_i x_i with independent x_i ~ U(0, 1): Var(y) = sum_i a_i^2 Var(x_i) and
    # Var(x_i) = 1/12 for all i, so the share of x_i alone is
    #   S1_i = a_i^2 (1/12) / sum_j a_j^2 (1/12) = a_i^2 / sum_j a_j^2;
    # the model is additive (no interactions), so ST_i = S1_i.
    a = np.array([1.0, 2.0, 3.0, 0.0])
    names = ["x1", "x2", "x3", "x4"]

    def model(points):
        x = np.array([[p[n] for n in names] for p in points])
        return x @ a

    table = sobol_indices(model, dict.fromkeys(names, (0.0, 1.0, "uniform")), base_samples=1024,
                          rng=1)  # fmt: skip
    expected = a**2 / (a**2).sum()
    assert list(table["parameter"]) == names and set(table["metric"]) == {"y"}
    np.testing.assert_allclose(table["S1"], expected, atol=0.03)
    np.testing.assert_allclose(table["ST"], expected, atol=0.03)
    # x4 is never read: its points differ from A only in x4, so both estimators are exactly 0
    assert table.loc[3, "ST"] == 0.0 and table.loc[3, "S1"] == 0.0
    assert (table[["S1_conf", "ST_conf"]] >= 0).all().all()


def test_ishigami_function_matches_the_closed_form():
    # f = sin x1 + a sin^2 x2 + b x3^4 sin x1, x_i ~ U(-pi, pi) (Ishigami and Homma 1990):
    #   V1 = (1 + b pi^4 / 5)^2 / 2, V2 = a^2 / 8, V3 = 0,
    #   V13 = b^2 pi^8 (1/18 - 1/50) = 8 b^2 pi^8 / 225, V = V1 + V2 + V13;
    #   S1 = (V1, V2, 0) / V, ST = (V1 + V13, V2, V13) / V.
    a, b = 7.0, 0.1
    v1 = 0.5 * (1 + b * np.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = 8 * b**2 * np.pi**8 / 225
    v = v1 + v2 + v13
    names = ["x1", "x2", "x3"]

    def model(points):
        x = np.array([[p[n] for n in names] for p in points])
        return {"f": np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2
                + b * x[:, 2] ** 4 * np.sin(x[:, 0])}  # fmt: skip

    unc = dict.fromkeys(names, (-np.pi, np.pi, "uniform"))
    table = sobol_indices(model, unc, base_samples=2048, rng=5)
    np.testing.assert_allclose(table["S1"], [v1 / v, v2 / v, 0.0], atol=0.03)
    np.testing.assert_allclose(table["ST"], [(v1 + v13) / v, v2 / v, v13 / v], atol=0.03)
    # the closed form itself (published values)
    assert (v1 / v, v2 / v, v13 / v) == pytest.approx((0.3139, 0.4424, 0.2437), abs=1e-4)


def test_indices_do_not_depend_on_the_scale_of_the_inputs():
    # a parameter drawn log-uniformly is mapped through its ppf: y = log(x1) + log(x2) with
    # x_i log-uniform is linear in the unit-cube coordinates, with weights log(hi/lo)
    unc = {"x1": (1.0, np.e, "loguniform"), "x2": (1.0, np.e**3, "loguniform")}
    table = sobol_indices(
        lambda ps: [np.log(p["x1"]) + np.log(p["x2"]) for p in ps], unc, base_samples=512, rng=2
    )
    np.testing.assert_allclose(table["S1"], [0.1, 0.9], atol=0.03)  # 1 : 9 = 1^2 : 3^2


def test_a_constant_metric_reports_zero_with_a_note_never_nan():
    unc = dict.fromkeys(["x1", "x2"], (0.0, 1.0, "uniform"))
    table = sobol_indices(lambda ps: {"flat": [4.0] * len(ps), "x": [p["x1"] for p in ps]},
                          unc, base_samples=16, rng=0)  # fmt: skip
    flat = table[table["metric"] == "flat"]
    assert (flat[["S1", "S1_conf", "ST", "ST_conf"]] == 0.0).all().all()
    assert (flat["note"] == CONSTANT).all()
    assert not table[COLUMNS[3:7]].isna().any().any()
    assert (table.loc[table["metric"] == "x", "note"] == "").all()


def test_design_is_seeded_and_has_n_times_k_plus_2_points():
    unc = dict.fromkeys(["x1", "x2", "x3"], (0.0, 1.0, "uniform"))
    unit, params = sobol_design(unc, 16, rng=9, model_params=False)
    assert unit.shape == (16 * 5, 3) and len(params) == 80
    again, _ = sobol_design(unc, 16, rng=9, model_params=False)
    np.testing.assert_array_equal(unit, again)
    assert not np.array_equal(unit, sobol_design(unc, 16, rng=10, model_params=False)[0])


@pytest.mark.parametrize("n", [0, 1, 3, 12, 100, True, 8.0])
def test_base_samples_must_be_a_power_of_two(n):
    unc = dict.fromkeys(["x1", "x2"], (0.0, 1.0, "uniform"))
    with pytest.raises(c.InputError) as err:
        sobol_indices(lambda ps: [0.0] * len(ps), unc, base_samples=n)
    assert err.value.field == "base_samples"


def test_fewer_than_two_uncertain_parameters_is_an_input_error():
    with pytest.raises(c.InputError, match="at least 2 uncertain parameters") as err:
        sobol_indices(lambda ps: [0.0] * len(ps), {"x1": (0, 1, "uniform")}, base_samples=8)
    assert err.value.field == "uncertainty"


# --- end to end on the toy system -----------------------------------------------------------
ARMS = {"qe": [QEConfig(reactive_share=0.5, budget_usd_bn=50)]}  # plus no_action
UNCERTAINTY = {
    "impact_bp_per_usd_bn": (0.005, 0.02, "loguniform"),
    "haircut_vol_sensitivity_frac": (0.005, 0.02, "loguniform"),
    # read only by the futures market, switched off below: must get a zero total index
    "futures_impact_bp_per_usd_bn": (0.01, 0.04, "loguniform"),
}
N, SEED = 8, 3


@pytest.fixture(scope="module")
def inputs():
    scenario = c.scenarios.load("volatility_spike").with_channels(futures_impact=False)
    return c.examples.toy_basis_trade(), scenario


def run(inputs, **options):
    return sensitivity(*inputs, ARMS, base_samples=N, uncertainty=UNCERTAINTY, rng=SEED,
                       **options)  # fmt: skip


@pytest.fixture(scope="module")
def table(inputs):
    return run(inputs)


def test_table_shape_and_design(table):
    assert list(table.columns) == COLUMNS
    assert len(table) == 2 * 3 * 3  # arms x metrics x parameters
    assert list(dict.fromkeys(table["arm"])) == [BASELINE, "qe"]
    assert list(dict.fromkeys(table["metric"])) == ["peak_yield_bp", "fire_sale_usd_bn",
                                                    "defaults"]  # fmt: skip
    assert list(dict.fromkeys(table["parameter"])) == list(UNCERTAINTY)
    assert table.attrs["points"] == N * (3 + 2) and table.attrs["runs"] == 2 * N * 5
    assert not table[COLUMNS[3:7]].isna().any().any()


def test_an_ignored_parameter_gets_a_zero_total_index(table):
    ignored = table[table["parameter"] == "futures_impact_bp_per_usd_bn"]
    assert ignored["ST"].abs().max() < 1e-9 and ignored["S1"].abs().max() < 1e-9
    # the cash price-impact parameter does drive the peak yield change, in both arms
    impact = table[(table["parameter"] == "impact_bp_per_usd_bn")
                   & (table["metric"] == "peak_yield_bp")]  # fmt: skip
    assert (impact["ST"] > 0.1).all()
    # no institution defaults on the toy under this stress: constant, reported as 0
    defaults = table[table["metric"] == "defaults"]
    assert (defaults["ST"] == 0).all() and (defaults["note"] == CONSTANT).all()


def test_same_seed_same_table_and_serial_equals_joblib(inputs, table):
    pd.testing.assert_frame_equal(run(inputs, chunk_size=7), table)
    pd.testing.assert_frame_equal(run(inputs, workers=2), table)


def test_every_arm_runs_at_the_same_parameter_points(inputs):
    _, params = sobol_design(UNCERTAINTY, 2, rng=SEED)
    ex = experiment(*inputs, ARMS, parameters=params)
    p = ex.draws[ex.draws["metric"].str.startswith("param:")]
    wide = p.pivot_table(index=["draw", "metric"], columns="arm", values="value")
    assert (wide[BASELINE] == wide["qe"]).all()
    got = wide[BASELINE].unstack("metric").rename(columns=lambda m: m.removeprefix("param:"))
    expected = pd.DataFrame(params)
    pd.testing.assert_frame_equal(got[expected.columns].reset_index(drop=True), expected,
                                  check_names=False)  # fmt: skip


def test_bad_metric_is_an_input_error(inputs):
    with pytest.raises(c.InputError) as err:
        sensitivity(*inputs, ARMS, base_samples=2, uncertainty=UNCERTAINTY, metrics=["vibes"])
    assert err.value.field == "metrics"


# --- configuration --------------------------------------------------------------------------
def write(tmp_path, doc) -> str:
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return str(path)


TOY = {"system": "toy_basis_trade", "scenario": "volatility_spike", "seed": 4,
       "arms": {"no_action": []}}  # fmt: skip
TWO = {k: list(v) for k, v in list(UNCERTAINTY.items())[:2]}


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ({"sensitivity": {"base_samples": 12}}, "sensitivity.base_samples", "power of 2"),
        ({"sensitivity": {"metrics": ["vibes"]}}, "sensitivity.metrics", "unknown vibes"),
        ({"sensitivity": {"method": "morris"}}, "sensitivity.method", "sobol"),
        (
            {"sensitivity": {}, "uncertainty": {"impact_convexity": [0.5, 1.5, "uniform"]}},
            "uncertainty",
            "at least 2",
        ),
        ({"sampling": "halton"}, "sampling", "random"),
    ],
)
def test_config_errors_name_the_field(tmp_path, extra, field, words):
    with pytest.raises(c.InputError, match=words) as err:
        load_experiment(write(tmp_path, {**TOY, **extra}))
    assert err.value.field == field


def test_run_experiment_attaches_the_indices(tmp_path):
    doc = {**TOY, "uncertainty": TWO, "sensitivity": {"base_samples": 2, "metrics": ["defaults",
           "peak_yield_bp"]}}  # fmt: skip
    config = load_experiment(write(tmp_path, doc))
    assert config.sensitivity.base_samples == 2 and config.sampling == "random"
    ex = run_experiment(config, base_dir=tmp_path)
    assert ex.sensitivity is not None and len(ex.sensitivity) == 2 * 2  # metrics x parameters
    assert set(ex.sensitivity["arm"]) == {BASELINE}


# --- report and command line ----------------------------------------------------------------
def test_report_pieces_show_every_index_and_the_notes(table):
    titles = render.sensitivity_titles("10y")
    tables = render.sensitivity_tables(table, titles)
    titles_shown = [t["title"] for t in tables]
    assert titles_shown == ["peak 10y yield change (bp)", "fire-sale volume (USD bn)",
                            "number of defaults"]  # fmt: skip
    first = tables[0]["table"]
    assert first["columns"] == ["parameter", "no_action: S1", "no_action: ST", "qe: S1", "qe: ST"]
    assert [r[0] for r in first["rows"]] == list(UNCERTAINTY)
    assert all(re.fullmatch(r"-?\d+\.\d\d ± \d+\.\d\d", v) for r in first["rows"] for v in r[1:])
    assert render.sensitivity_notes(table, titles) == [
        f"number of defaults under no_action, qe: {CONSTANT}."
    ]
    findings = " ".join(render.sensitivity_findings(table, titles))
    assert "number of defaults is the same at every parameter point" in findings
    svg = rf.to_svg(rf.sensitivity_bars(table, titles))
    assert svg == rf.to_svg(rf.sensitivity_bars(table, titles))  # deterministic


def test_a_report_without_indices_drops_stale_ones(inputs, table, tmp_path):
    import dataclasses

    res = experiment(*inputs, ARMS)
    save_experiment(dataclasses.replace(res, sensitivity=table), inputs[0], tmp_path, seed=SEED)
    saved = load_saved(tmp_path)
    pd.testing.assert_frame_equal(saved.sensitivity, table, check_like=False, check_flags=False)
    assert saved.info["sensitivity"]["base_samples"] == N
    save_experiment(res, inputs[0], tmp_path)  # overwritten by a run without indices
    assert not (tmp_path / "sensitivity.csv").exists()
    assert load_saved(tmp_path).sensitivity is None


@pytest.mark.undrawn_figures  # the chart itself is drawn in the test above (tests/undrawn.py)
def test_cli_experiment_writes_the_indices_and_the_report_section(tmp_path):
    doc = {**TOY, "uncertainty": TWO, "sampling": "sobol", "draws": 2,
           "arms": {"qe": [{"type": "qe", "reactive_share": 0.5, "budget_usd_bn": 50}]},
           "sensitivity": {"base_samples": 4}}  # fmt: skip
    exp, out, ckpt = write(tmp_path, doc), tmp_path / "out", tmp_path / "ckpt"
    r = CliRunner().invoke(app, ["experiment", exp, "--out", str(out), "--checkpoint",
                                 str(ckpt), "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["sensitivity"] == str(out / "sensitivity.csv")
    table = pd.read_csv(out / "sensitivity.csv", keep_default_na=False)
    assert list(table.columns) == COLUMNS
    assert len(table) == 2 * 3 * 2  # arms x default metrics x parameters
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sensitivity.parquet"), table,
                                  check_dtype=False)  # fmt: skip
    assert list((ckpt / "sensitivity").glob("draws-*.parquet"))
    assert json.loads((out / "experiment.json").read_text())["sensitivity"]["base_samples"] == 4
    # the report: a section with a table and an inline chart, in HTML and Markdown
    html = (out / "report.html").read_text(encoding="utf-8")
    section = html.split('<section id="sensitivity">')[1].split("</section>")[0]
    assert '<a href="#sensitivity">' in html
    assert re.search(r'<img alt="Sobol sensitivity[^"]*" src="data:image/svg\+xml;base64,',
                     section)  # fmt: skip
    assert all(name in section for name in TWO) and "No action: ST" in section
    assert "nan" not in section.lower()
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## Sensitivity" in md and "(figures/sensitivity.svg)" in md
    assert (out / "figures" / "sensitivity.svg").exists()
    # and it re-renders from the saved results alone, byte for byte
    before = (out / "report.html").read_bytes(), (out / "report.md").read_bytes()
    (out / "report.html").unlink()
    r = CliRunner().invoke(app, ["report", str(out)])
    assert r.exit_code == 0, r.output
    assert ((out / "report.html").read_bytes(), (out / "report.md").read_bytes()) == before


def test_cli_rejects_base_samples_that_are_not_a_power_of_two(tmp_path):
    exp = write(tmp_path, {**TOY, "sensitivity": {"base_samples": 10}})
    r = CliRunner().invoke(app, ["experiment", exp, "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "sensitivity.base_samples" in r.output
    assert "power of 2" in r.output and "Traceback" not in r.output
