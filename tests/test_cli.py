"""The command line: every command through CliRunner, good and bad input, exit codes."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner
from undrawn import figures_not_drawn

import contagion
from contagion import cli
from contagion.cli import app

runner = CliRunner()
# figures built, not drawn: the report's figures are tested in test_report.py and the
# browser test; the main job below draws its own (tests/undrawn.py)
pytestmark = pytest.mark.undrawn_figures


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def fragile_scenario(path: Path, **changes) -> Path:
    """basis_unwind with a steep price impact, so the toy system has defaults."""
    doc = contagion.scenarios.load("basis_unwind").model_dump(mode="json")
    doc["params"]["impact_bp_per_usd_bn"] = 0.3
    doc.update(name="fragile unwind", **changes)
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("inputs")
    qe = d / "qe.yaml"
    qe.write_text("type: qe\nname: qe_small\nreactive_share: 0.5\nbudget_usd_bn: 50\n")
    slr = d / "slr.yaml"
    slr.write_text("type: slr_relief\n")
    return {"scenario": fragile_scenario(d / "fragile.yaml"), "qe": qe, "slr": slr, "dir": d}


@pytest.fixture(scope="module")
def toy_run(files, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("run") / "report"
    with figures_not_drawn():  # like the module's tests, so re-renders agree
        r = invoke("run", files["scenario"], "--system", "toy_basis_trade", "--policy",
                   files["qe"], "--policy", files["slr"], "--draws", "2", "--out", out,
                   "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    return out, json.loads(r.stdout)


def assert_input_error(r, *needles: str) -> None:
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    for n in needles:
        assert n in r.output, r.output


def test_run_writes_a_report_with_one_arm_per_policy_file(toy_run):
    out, doc = toy_run
    assert list(doc["arms"]) == ["no_action", "qe_small", "slr"]  # name, else file stem
    assert doc["arms"]["no_action"]["defaults"] >= 1  # the fragile scenario bites
    assert doc["arms"]["qe_small"]["budget_spent_usd_bn"] > 0
    assert (out / "report.html").is_file() and (out / "report.md").is_file()
    folders = sorted(p.name for p in (out / "arms").iterdir())
    assert folders == ["00-no_action", "01-qe_small", "02-slr"]
    for f in folders:
        assert (out / "arms" / f / "markets.parquet").is_file()
        assert (out / "arms" / f / "markets.csv").is_file()
    metrics = pd.read_csv(out / "metrics.csv", index_col="arm")
    assert metrics.loc["qe_small", "peak_yield_bp"] == pytest.approx(
        doc["arms"]["qe_small"]["peak_yield_bp"]
    )
    assert (out / "effectiveness.parquet").is_file()


def test_run_prints_a_summary_table(files, tmp_path):
    r = invoke("run", files["scenario"], "--system", "toy_basis_trade", "--policy", files["qe"],
               "--draws", "2", "--out", tmp_path / "r")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "QE (USD" in r.stdout and "No action" in r.stdout  # labels, not ids
    assert "of 2 draws" in r.stdout and "Package defaults" in r.stdout
    assert "Report:" in r.stdout


@pytest.mark.drawn_figures  # the main job end to end, figures of the calibrated system drawn
def test_main_job_without_arguments(tmp_path):
    out = tmp_path / "main"
    r = invoke("run", "--out", out, "--json", "--draws", "2")  # 64 by default: kept short here
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["parameters"]["set"] == "fitted" and doc["parameters"]["draws"] == 2
    assert doc["parameters"]["sampling"] == "sobol"
    arms = doc["arms"]
    assert {"no_action", "qe_500bn", "srf_central_clearing", "swf_500bn", "slr_relief"} <= set(arms)
    assert any("basis_facility" in a for a in arms)
    # the SRF stands in every arm (its lending is no arm's cost), the SRF arm clears it
    assert [p["type"] for p in doc["parameters"]["standing"]] == ["srf"]
    assert arms["no_action"]["cash_lent_usd_bn"] >= 0
    assert arms["no_action"]["cost_cash_lent_usd_bn"] == 0
    # comparable sizes: every purchase tool spends at most its USD 500 bn budget
    for a in ("qe_500bn", "swf_500bn"):
        assert 0 < arms[a]["budget_spent_usd_bn"] <= 500 + 1e-6
    meta = json.loads((out / "arms" / "00-no_action" / "metadata.json").read_text())
    assert [p["name"] for p in meta["config"]["policies"]] == ["srf"]
    assert "Standing facilities." in (out / "report.md").read_text()
    assert meta["config"]["system"]["name"] == "calibrated_us_2025"
    assert meta["config"]["scenario"]["name"] == "basis_unwind"
    # the calibrated system runs with its fitted model parameters
    fitted = contagion.examples.model_params(contagion.examples.calibrated_us_2025())
    params = meta["config"]["scenario"]["params"]
    assert all(params[k] == pytest.approx(v) for k, v in fitted.items())


def test_refuses_to_overwrite_unless_asked(files, tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = ("run", files["scenario"], "--system", "toy_basis_trade", "--out", out, "--quiet",
            "--draws", "0")  # fmt: skip
    assert_input_error(invoke(*args), "--overwrite", str(out))
    assert not (out / "report.html").exists()
    # --overwrite replaces a report folder whole: a folder of other files is never replaced
    assert_input_error(invoke(*args, "--overwrite"), "not a contagion report", str(out))
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    (out / "keep.txt").unlink()
    assert invoke(*args).exit_code == 0  # an empty folder needs no --overwrite
    (out / "arms" / "99-stale").mkdir()
    r = invoke(*args, "--overwrite")
    assert r.exit_code == 0, r.output
    assert r.stdout == ""  # --quiet
    assert (out / "report.html").is_file() and not (out / "arms" / "99-stale").exists()


def test_scenario_with_negative_days_names_the_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ndays: -1\n")
    assert_input_error(invoke("run", bad, "--system", "toy_basis_trade", "--out", tmp_path / "o"),
                       "days", str(bad))  # fmt: skip
    assert not (tmp_path / "o" / "report.html").exists()


def test_policy_with_unknown_type_names_the_field(files, tmp_path):
    bad = tmp_path / "pol.yaml"
    bad.write_text("type: helicopter_money\nbudget_usd_bn: 10\n")
    r = invoke("run", files["scenario"], "--system", "toy_basis_trade", "--policy", bad,
               "--out", tmp_path / "o")  # fmt: skip
    assert_input_error(r, "type", "helicopter_money", str(bad))


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    assert_input_error(invoke("run", missing, "--out", tmp_path / "o"), "not found", str(missing))


def test_non_yaml_files(tmp_path):
    binary = tmp_path / "image.yaml"
    binary.write_bytes(bytes(range(256)))
    assert_input_error(invoke("run", binary, "--out", tmp_path / "o"), "UTF-8", str(binary))
    broken = tmp_path / "broken.yaml"
    broken.write_text("days: [1, 2\nname: x\n")
    assert_input_error(invoke("run", broken, "--out", tmp_path / "o"), "line", str(broken))
    prose = tmp_path / "prose.yaml"
    prose.write_text("just some words\n")
    assert_input_error(invoke("run", prose, "--out", tmp_path / "o"), str(prose))


def test_unknown_bundled_system_lists_the_available_ones(tmp_path):
    r = invoke("run", "--system", "no_such_system", "--out", tmp_path / "o")
    assert_input_error(r, "no_such_system")


def test_experiment_file_with_draws(files, tmp_path):
    exp = files["dir"] / "exp.yaml"
    exp.write_text(
        "system: toy_basis_trade\nscenario: fragile.yaml\nseed: 7\ndraws: 1\n"
        "arms:\n  qe:\n    - {type: qe, reactive_share: 0.5, budget_usd_bn: 50}\n"
    )
    out = tmp_path / "exp"
    r = invoke("experiment", exp, "--draws", "2", "--out", out, "--json")
    assert r.exit_code == 0, r.output
    assert set(json.loads(r.stdout)["arms"]) == {"no_action", "qe"}
    draws = pd.read_csv(out / "draws.csv")
    assert sorted(draws["draw"].unique()) == [0, 1]  # --draws overrides the file's 1
    assert json.loads((out / "experiment.json").read_text())["seed"] == 7
    assert 'id="uncertainty"' in (out / "report.html").read_text(encoding="utf-8")


def test_experiment_with_a_bad_arm_names_the_arm_and_field(tmp_path):
    exp = tmp_path / "exp.yaml"
    exp.write_text("arms:\n  big_qe:\n    - {type: qe, budget_usd_bn: -5}\n")
    assert_input_error(invoke("experiment", exp, "--out", tmp_path / "o"), "big_qe",
                       "budget_usd_bn")  # fmt: skip


def test_report_rerenders_the_same_html(toy_run):
    out, _ = toy_run
    before = (out / "report.html").read_bytes()
    (out / "report.html").unlink()
    r = invoke("report", out)
    assert r.exit_code == 0, r.output
    assert (out / "report.html").read_bytes() == before


def test_report_on_a_folder_without_results(tmp_path):
    assert_input_error(invoke("report", tmp_path), "experiment.json")
    assert_input_error(invoke("report", tmp_path / "absent"), "not a directory")


def test_system_summary_json():
    r = invoke("system", "summary", "toy_basis_trade", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["n_institutions"] == 11
    assert doc["hedge_fund.repo_borrowed_usd_bn"] == pytest.approx(169.0)
    table = invoke("system", "summary", "toy_basis_trade")
    assert table.exit_code == 0 and "n_institutions" in table.stdout


@pytest.mark.parametrize("fmt", ["graphml", "json", "yaml", "csv"])
def test_system_export_round_trips(tmp_path, fmt):
    path = tmp_path / ("toy" if fmt == "csv" else f"toy.{fmt}")
    r = invoke("system", "export", "toy_basis_trade", "--format", fmt, "--out", path)
    assert r.exit_code == 0, r.output
    back = contagion.load_system(path)
    toy = contagion.examples.toy_basis_trade()
    assert back.n_institutions == toy.n_institutions and back.n_exposures == toy.n_exposures
    again = invoke("system", "export", "toy_basis_trade", "--format", fmt, "--out", path)
    assert_input_error(again, "--overwrite")
    assert invoke("system", "export", "toy_basis_trade", "--format", "xlsx").exit_code == 2


def test_system_validate(tmp_path):
    good = tmp_path / "toy.yaml"
    contagion.save_system(contagion.examples.toy_basis_trade(), good)
    r = invoke("system", "validate", good)
    assert r.exit_code == 0 and "valid" in r.stdout
    doc = yaml.safe_load(good.read_text())
    doc["institutions"][0]["cash_usd_bn"] = "lots"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    assert_input_error(invoke("system", "validate", bad), "cash_usd_bn", str(bad))


@pytest.mark.parametrize(
    ("edit", "needles"),
    [
        # a swap-spread fund tagged as a basis book: it has no futures short
        (lambda d: d["institutions"][2].update(strategy="basis"),
         ("institutions row 2 (id 'hf_gamma')", "field 'strategy'", "short futures")),
        # the asset manager's TY long cut to 90 against the 100 short
        (lambda d: next(e for e in d["exposures"] if e["id"] == "fut_am_ty").update(
            notional_usd_bn=90.0),
         ("futures_contract 'TY' at ccp 'ccp'", "field 'notional_usd_bn'", "longs 90")),
        # FICC borrows 15 from the money fund but lends 20 to hf_gamma: not a matched book
        (lambda d: next(e for e in d["exposures"] if e["id"] == "repo_gamma_cash").update(
            amount_usd_bn=15.0),
         ("sponsored repo of ccp 'ccp_ficc', institutions row 9", "field 'amount_usd_bn'",
          "borrows 15.000000 and lends 20.000000")),
        # a CCP borrowing in tri-party repo
        (lambda d: next(e for e in d["exposures"] if e["id"] == "repo_gamma_cash").update(
            segment="triparty"),
         ("id 'repo_gamma_cash'", "field 'target'", "only in the sponsored segment")),
    ],
)  # fmt: skip
def test_system_validate_rejects_inconsistent_positions(tmp_path, edit, needles):
    doc = contagion.io.to_dict(contagion.examples.toy_basis_trade())
    edit(doc)
    bad = tmp_path / "positions.yaml"
    bad.write_text(yaml.safe_dump(doc))
    assert_input_error(invoke("system", "validate", bad), str(bad), *needles)


def test_version():
    r = invoke("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"contagion {contagion.__version__}"


@pytest.mark.parametrize("command", ["scenarios", "systems", "policies"])
def test_listings_as_json(command):
    r = invoke(command, "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert rows and all(isinstance(row, dict) for row in rows)
    if command == "systems":
        toy = next(row for row in rows if row["system"] == "toy_basis_trade")
        assert toy["institutions"] == 11 and isinstance(toy["institutions"], int)
    if command == "policies":
        assert {row["type"] for row in rows} == set(contagion.policies.POLICY_TYPES)
        assert all(isinstance(row["settings"], list) for row in rows)


def test_json_keeps_integers_integers(toy_run):
    r = invoke("system", "summary", "toy_basis_trade", "--json")
    doc = json.loads(r.stdout)
    assert doc["n_institutions"] == 11 and isinstance(doc["n_institutions"], int)
    assert isinstance(doc["hedge_fund.n"], int)
    assert isinstance(doc["hedge_fund.equity_usd_bn"], float)
    _, run_doc = toy_run
    assert all(isinstance(arm["defaults"], int) for arm in run_doc["arms"].values())


@pytest.mark.parametrize("fmt", ["yaml", "json", "graphml"])
def test_system_export_to_standard_output(fmt, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = invoke("system", "export", "toy_basis_trade", "--format", fmt, "-o", "-")
    assert r.exit_code == 0, r.output
    assert not list(tmp_path.iterdir())  # no file named "-" or "-.json"
    (tmp_path / f"s.{fmt}").write_text(r.stdout, encoding="utf-8")
    back = contagion.load_system(tmp_path / f"s.{fmt}")
    assert back.equals(contagion.examples.toy_basis_trade())
    assert_input_error(
        invoke("system", "export", "toy_basis_trade", "--format", "csv", "-o", "-"), "folder"
    )


def test_run_seed_sets_the_draws_and_progress_is_a_line_per_chunk(files, tmp_path, monkeypatch):
    finished = []  # the experiment result, without writing a report (that is tested above)
    monkeypatch.setattr(cli, "_finish", lambda result, *a, **k: finished.append(result))
    r = invoke("run", files["scenario"], "--system", "toy_basis_trade", "--policy", files["qe"],
               "--draws", "2", "--seed", "11", "--out", tmp_path / "a")  # fmt: skip
    assert r.exit_code == 0, r.output
    from contagion.experiment import experiment

    (result,) = finished
    arms = {"no_action": [], "qe_small": [contagion.policies.load_policy(files["qe"])]}
    system = contagion.examples.toy_basis_trade()
    # run draws as the main job does (its sampling, Sobol' since the report branch)
    sampling = cli._default_experiment().sampling
    expected = experiment(system, contagion.load_scenario(files["scenario"]), arms, draws=2,
                          rng=11, sampling=sampling).draws  # fmt: skip
    pd.testing.assert_frame_equal(result.draws, expected)
    # off a terminal (CliRunner): the arms counted right, then one line per finished chunk
    assert "Simulating 2 arms (no_action, qe_small) with 2 parameter draws" in r.stderr
    assert "Parameter draws: 1/2 (50%)" in r.stderr and "Parameter draws: 2/2 (100%)" in r.stderr


def test_experiment_counts_no_action_among_the_arms(tmp_path):
    exp = tmp_path / "e.yaml"
    exp.write_text("system: toy_basis_trade\nscenario: volatility_spike\narms:\n  slr: "
                   "[{type: slr_relief}]\n")  # fmt: skip
    r = invoke("experiment", exp, "--out", tmp_path / "o")
    assert r.exit_code == 0, r.output
    assert "Simulating 2 arms (no_action, slr)" in r.stderr


def test_command_summaries_are_one_whole_sentence():
    """The listing shows each command's first paragraph: one line, a whole sentence (a
    summary wrapped in the docstring was printed with its line break, mid-sentence)."""
    import typer.main

    group = typer.main.get_command(app)
    commands = dict(group.commands)
    commands.update({f"system {k}": v for k, v in group.commands["system"].commands.items()})
    for name, command in commands.items():
        summary = (command.help or "").strip().split("\n\n")[0]
        assert summary.endswith(".") and "\n" not in summary, (name, summary)


def test_listings():
    r = invoke("scenarios")
    assert r.exit_code == 0 and "basis_unwind" in r.stdout and "volatility_spike" in r.stdout
    r = invoke("systems")
    assert r.exit_code == 0 and "toy_basis_trade" in r.stdout and "stylised_us_2025" in r.stdout
    r = invoke("policies")
    assert r.exit_code == 0
    for kind in contagion.policies.POLICY_TYPES:
        assert kind in r.stdout


def test_calibrate_without_a_fit_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "calibration.fit", types.ModuleType("calibration.fit"))
    assert_input_error(invoke("calibrate"), "calibration fit not available in this version")


def test_calibrate_calls_fit_main_with_its_options(monkeypatch, tmp_path):
    seen = []

    def main(out_dir=None, episode="march_2020", quick=False, progress=None):
        if episode != "march_2020":
            raise ValueError(f"{episode!r} is not a fit episode")
        seen.append((out_dir, episode, quick))
        for n in range(1, 13):  # as calibration.fit reports its evaluations
            progress(n, "screen" if n < 11 else "local search 1/1", 10.0 / n)
        return Path(out_dir) / "calibration_report.md"

    fit = types.ModuleType("calibration.fit")
    fit.main = main
    monkeypatch.setitem(sys.modules, "calibration.fit", fit)
    r = invoke("calibrate", "--out", tmp_path, "--quick")
    assert r.exit_code == 0, r.output
    assert seen == [(tmp_path, "march_2020", True)]
    assert "calibration_report.md" in r.stdout
    # off a terminal: a line every 10 evaluations and at each new stage
    lines = [x for x in r.stderr.splitlines() if x.startswith("Calibrating:")]
    assert [x.split(",")[0:2] for x in lines] == [
        ["Calibrating: 1 evaluations", " screen"],
        ["Calibrating: 10 evaluations", " screen"],
        ["Calibrating: 11 evaluations", " local search 1/1"],
    ]
    assert "best objective 0.9091" in lines[-1]
    assert_input_error(invoke("calibrate", "--episode", "april_2025"), "--episode", "april_2025")


def test_internal_error_is_one_line_with_a_logged_traceback(monkeypatch, tmp_path):
    def boom(spec):
        raise RuntimeError("engine exploded\nsecond line")

    monkeypatch.setattr(cli, "_system", boom)
    r = invoke("system", "summary", "toy_basis_trade")
    assert r.exit_code == 1
    assert "Traceback" not in r.output
    assert "RuntimeError: engine exploded" in r.stderr
    assert "second line" not in r.stderr
    log = Path(r.stderr.split("traceback in ")[1].split(";")[0])
    assert "engine exploded" in log.read_text()
    log.unlink()
    r = invoke("system", "summary", "toy_basis_trade", "--debug")
    assert isinstance(r.exception, RuntimeError)


def test_run_with_a_scenario_without_shock_paths(tmp_path):
    # a scenario that sets no path at all still renders (its shock table is empty)
    calm = tmp_path / "calm.yaml"
    calm.write_text("name: calm\ndays: 2\n")
    r = invoke("run", calm, "--system", "toy_basis_trade", "--out", tmp_path / "o", "--quiet",
               "--draws", "0")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "calm" in (tmp_path / "o" / "report.html").read_text("utf-8")


def test_an_extra_csv_column_is_a_warning_not_an_error(tmp_path):
    folder = contagion.to_csv(contagion.examples.toy_basis_trade(), tmp_path / "csv")
    inst = pd.read_csv(folder / "institutions.csv")
    inst.assign(lei="549300EXAMPLE").to_csv(folder / "institutions.csv", index=False)
    r = invoke("system", "validate", folder)
    assert r.exit_code == 0, r.output
    assert "warning: institutions: unknown column 'lei' kept as given" in r.stderr
