"""Hostile input through the command line (issue 23): exit 2, one message naming the file
and the field, no traceback, nothing written, nothing hangs.

Classes of the issue, in order: internal errors on bad input (1), hangs and unbounded
reads (2), worker errors and late range checks (6), the experiment path rule (7),
terminal injection (9), CSV formula injection (10), errors naming the file (11) and
unchecked values (12); then the YAML alias limit by size, the size of a Sobol' design and
the pyarrow floor.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import contagion as c
from contagion.cli import app
from contagion.errors import InputError, InvariantError, Problem, printable
from contagion.experiment import experiment, load_experiment
from contagion.files import read_bytes
from contagion.io import csv_text

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
# hostile input, not figures, is under test: figures built but not drawn (tests/undrawn.py)
pytestmark = pytest.mark.undrawn_figures
TOY = c.to_dict(c.examples.toy_basis_trade())
QUICK = {"name": "quick", "days": 2, "rate_shock_bp": {"10y": [40.0]}}


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_input_error(r, path, *needles: str) -> None:
    """Exit 2, no traceback, the file named once at the start of the message."""
    out = r.output
    assert r.exit_code == 2, out
    assert "Traceback" not in out and "internal error" not in out, out
    assert out.startswith("error: "), out
    assert str(path) in out, out
    for n in needles:
        assert n in out, out


def write(path: Path, doc, fmt: str | None = None) -> Path:
    fmt = fmt or path.suffix.lstrip(".")
    text = json.dumps(doc) if fmt == "json" else yaml.safe_dump(doc, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def toy_with(**changes) -> dict:
    doc = json.loads(json.dumps(TOY))
    for key, value in changes.items():
        target = doc
        *parents, last = key.split("__")
        for p in parents:
            target = target[int(p)] if isinstance(target, list) else target[p]
        target[last] = value
    return doc


def nothing_written(tmp_path: Path, *allowed: str) -> None:
    extra = sorted(p.name for p in tmp_path.iterdir() if p.name not in allowed)
    assert extra == [], extra


# --- 1. internal errors for bad input ---------------------------------------------------------
@pytest.mark.parametrize(
    ("meta", "field"),
    [
        ({"model_params": "fast"}, "metadata.model_params"),
        ({"model_params": [1, 2]}, "metadata.model_params"),
        ({"model_params": {"impact_convexity": "steep"}}, "metadata.model_params.impact_convexity"),
        ({"model_params": {"impact_convexity": 50.0}}, "metadata.model_params.impact_convexity"),
        ({"model_params": {"no_such": 1.0}}, "metadata.model_params.no_such"),
        ({"model_params_uncertainty": "wide"}, "metadata.model_params_uncertainty"),
        (
            {"model_params_uncertainty": {"impact_convexity": [0.5]}},
            "metadata.model_params_uncertainty.impact_convexity",
        ),
        (
            {"model_params_uncertainty": {"impact_convexity": [0.5, 50, "uniform"]}},
            "metadata.model_params_uncertainty.impact_convexity",
        ),
        (
            {"model_params_uncertainty": {"max_iterations": [10, 20, "uniform"]}},
            "metadata.model_params_uncertainty.max_iterations",
        ),
    ],
)
def test_bad_calibrated_parameters_in_a_system_file(tmp_path, meta, field):
    path = write(tmp_path / "sys.yaml", toy_with(metadata=meta))
    assert_input_error(invoke("system", "validate", path), path, field)
    out = tmp_path / "out"
    assert_input_error(invoke("run", "--system", path, "--out", out, "--draws", "2"), path, field)
    assert not out.exists()  # a folder made for the run and left empty is removed


@pytest.mark.parametrize(
    "change",
    [
        {"institutions__0__id": "hf\ud800"},
        {"institutions__0__name": "Fund \udfff"},
        {"name": "sys\ud800"},
        {"metadata": {"note\udc00": 1}},
    ],
    ids=["id", "name", "system-name", "metadata-key"],
)
def test_lone_surrogates_are_refused(tmp_path, change):
    path = tmp_path / "sys.json"
    path.write_text(json.dumps(toy_with(**change)), encoding="utf-8")  # \ud800 escapes
    assert_input_error(invoke("system", "validate", path), path, "surrogate")


def _graphml(tmp_path: Path, graph_attrs: dict | None = None, huge_int: int | None = None) -> Path:
    g = c.to_networkx(c.examples.toy_basis_trade())
    g.graph["market"] = json.dumps(g.graph["market"])
    g.graph["metadata"] = json.dumps(g.graph["metadata"])
    g.graph.update(graph_attrs or {})
    if huge_int is not None:  # cash as integers (GraphML type long), one of them huge
        for node, attrs in g.nodes(data=True):
            attrs["cash_usd_bn"] = huge_int if node == "hf_alpha" else round(attrs["cash_usd_bn"])
            attrs.pop("equity_usd_bn", None)
    path = tmp_path / "sys.graphml"
    nx.write_graphml(g, path)
    if huge_int == SENTINEL:  # too long for networkx to write: spliced into the text
        text = path.read_text(encoding="utf-8").replace(str(SENTINEL), "9" * 5000)
        path.write_text(text, encoding="utf-8")
    return path


SENTINEL = 987654321987


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"huge_int": SENTINEL}, "graphml"),  # beyond Python's 4,300-digit int limit
        ({"huge_int": 10**400}, "cash_usd_bn"),  # an int beyond the float range
        ({"graph_attrs": {"metadata": "[" * 100_000 + "]" * 100_000}}, "metadata"),
        ({"graph_attrs": {"metadata": '{"a": 1, "a": 2}'}}, "metadata.a"),
        ({"graph_attrs": {"market": '{"repo_rate_pct": 1, "repo_rate_pct": 2}'}}, "market"),
    ],
    ids=["5000-digits", "10**400", "deep-json", "dup-metadata-key", "dup-market-key"],
)
def test_graphml_with_giant_numbers_deep_or_duplicated_json(tmp_path, kwargs, needle):
    path = _graphml(tmp_path, **kwargs)
    assert_input_error(invoke("system", "validate", path), path, needle)


def test_a_symlink_loop_is_an_input_error(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.symlink_to(b)
    b.symlink_to(a)
    assert_input_error(invoke("system", "validate", a), a, "symbolic links")
    assert_input_error(invoke("run", a, "--out", tmp_path / "o"), a)
    assert_input_error(invoke("experiment", a, "--out", tmp_path / "o"), a)
    nothing_written(tmp_path, "a.yaml", "b.yaml")


@pytest.mark.parametrize(
    ("kind", "doc", "field"),
    [
        ("scenario", {**QUICK, "rate_shock_bp": {"10y": [1.7e308]}}, "rate_shock_bp"),
        ("scenario", {**QUICK, "rate_shock_bp": {"10y": [-10_001.0]}}, "rate_shock_bp"),
        ("scenario", {**QUICK, "exogenous_sales_usd_bn": {"10y": [1e300]}}, "exogenous_sales"),
        ("policy", {"type": "qe", "budget_usd_bn": 1e300}, "budget_usd_bn"),
        (
            "policy",
            {"type": "qe", "budget_usd_bn": 10, "schedule_usd_bn": {"10y": [1.7e308]}},
            "schedule_usd_bn.10y.0",
        ),
        ("policy", {"type": "qe", "budget_usd_bn": 10, "max_price": {"10y": 1e300}}, "max_price"),
        ("policy", {"type": "srf", "aggregate_limit_usd_bn": 1e308}, "aggregate_limit_usd_bn"),
        ("policy", {"type": "apc_margin", "cap_multiplier": 1e300}, "cap_multiplier"),
    ],
)
def test_huge_finite_values_are_refused_at_load(tmp_path, kind, doc, field):
    path = write(tmp_path / f"{kind}.yaml", doc)
    args = [path] if kind == "scenario" else ["--policy", path]
    r = invoke("run", *args, "--system", "toy_basis_trade", "--out", tmp_path / "o")
    assert_input_error(r, path, field)
    nothing_written(tmp_path, path.name)


# --- 2. hangs and unbounded reads ----------------------------------------------------------
def _cli(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """The CLI in a child process, so a hang fails the test instead of blocking it."""
    code = "import sys; from contagion.cli import app; sys.argv[0] = 'contagion'; app()"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize(
    "command",
    [
        ["system", "validate", "{f}"],
        ["run", "{f}", "--out", "{o}"],
        ["run", "--policy", "{f}", "--out", "{o}"],
        ["run", "--system", "{f}", "--out", "{o}"],
        ["experiment", "{f}", "--out", "{o}"],
    ],
    ids=["system", "scenario", "policy", "run-system", "experiment"],
)
def test_a_named_pipe_is_refused_without_blocking(tmp_path, command):
    fifo = tmp_path / "input.yaml"
    os.mkfifo(fifo)
    args = [a.format(f=fifo, o=tmp_path / "o") for a in command]
    start = time.perf_counter()
    r = _cli(*args)
    assert r.returncode == 2, r.stderr
    assert "named pipe" in r.stderr and str(fifo) in r.stderr and "Traceback" not in r.stderr
    assert time.perf_counter() - start < 60
    nothing_written(tmp_path, "input.yaml")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_devices_are_refused_directly_and_named_in_an_experiment(tmp_path, device):
    r = invoke("system", "validate", device)
    assert_input_error(r, device, "character device")
    exp = write(tmp_path / "exp.yaml", {"system": device, "arms": {"qe": []}})
    assert_input_error(invoke("experiment", exp, "--out", tmp_path / "o"), device, "device")
    exp = write(tmp_path / "exp.yaml", {"scenario": device, "arms": {"qe": []}})
    assert_input_error(invoke("experiment", exp, "--out", tmp_path / "o"), device, "device")
    nothing_written(tmp_path, "exp.yaml")


def test_reads_are_bounded_by_bytes_read(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a" * 1001)
    with pytest.raises(InputError, match="larger than the limit of 1,000 bytes"):
        read_bytes(path, limit=1000)
    assert read_bytes(path, limit=1001) == b"a" * 1001
    with pytest.raises(InputError, match="a directory"):
        read_bytes(tmp_path)


# --- 6. worker errors and late range checks ----------------------------------------------------
def test_errors_survive_pickling_to_and_from_workers():
    err = InputError([Problem("policy 'x'", "contracts", "unknown"), Problem("a", "b", "c")], "f")
    back = pickle.loads(pickle.dumps(err))
    assert back.problems == err.problems and back.source == "f" and str(back) == str(err)
    inv = InvariantError("balance_sheet", "hf", 3, "off by 1")
    assert str(pickle.loads(pickle.dumps(inv))) == str(inv)


def test_an_input_error_raised_in_a_worker_arrives_whole(toy):
    from contagion import backends
    from contagion.policies import BasisFacilityConfig

    bad = BasisFacilityConfig(budget_usd_bn=10, contracts=["ZZ"])  # unknown contract
    work = backends.Work(toy, c.Scenario(days=1), {"bf": [bad]})
    chunks = backends.plan([{}, {}], 1)
    with pytest.raises(InputError) as info:
        list(backends.JoblibExecutor(2).run(work, chunks))
    assert len(info.value.problems) == 1
    assert info.value.field == "contracts" and "'ZZ'" in str(info.value)


def test_out_of_bounds_ranges_fail_at_load_naming_the_file(tmp_path, monkeypatch):
    exp = write(
        tmp_path / "exp.yaml",
        {"system": "toy_basis_trade", "arms": {"qe": []}, "draws": 2,
         "uncertainty": {"impact_convexity": [0.5, 50, "uniform"]}},
    )  # fmt: skip
    with pytest.raises(InputError) as info:
        load_experiment(exp)
    assert str(exp) in str(info.value) and "uncertainty" in str(info.value)
    runs = []
    monkeypatch.setattr("contagion.engine.simulate", lambda *a, **k: runs.append(1))
    with pytest.raises(InputError, match="impact_convexity"):  # before any run
        experiment(c.examples.toy_basis_trade(), c.Scenario(days=1), {}, draws=2,
                   uncertainty={"impact_convexity": (0.5, 50.0, "uniform")})  # fmt: skip
    with pytest.raises(InputError, match=r"parameters\.1\.impact_convexity"):
        experiment(c.examples.toy_basis_trade(), c.Scenario(days=1), {},
                   parameters=[{"impact_convexity": 1.0}, {"impact_convexity": 50.0}])  # fmt: skip
    assert runs == []


# --- 7. the experiment path rule ----------------------------------------------------------------
def test_a_csv_folder_with_a_file_linking_outside_is_refused(tmp_path):
    outside = tmp_path / "outside"
    c.to_csv(c.examples.toy_basis_trade(), outside)
    exp_dir = tmp_path / "exp"
    folder = exp_dir / "sys"
    c.to_csv(c.examples.toy_basis_trade(), folder)
    (folder / "institutions.csv").unlink()
    (folder / "institutions.csv").symlink_to(outside / "institutions.csv")
    exp = write(exp_dir / "exp.yaml", {"system": "sys", "arms": {"qe": []}})
    assert_input_error(invoke("experiment", exp, "--out", tmp_path / "o"), exp, "system",
                       "institutions.csv")  # fmt: skip
    with pytest.raises(InputError, match="outside"):
        load_experiment(exp)
    (folder / "institutions.csv").unlink()  # a plain file inside is fine
    c.to_csv(c.examples.toy_basis_trade(), folder)
    assert load_experiment(exp).system == "sys"


# --- 9. terminal injection ----------------------------------------------------------------------
BAD_TEXT = ["x\x1b[31m", "x\x00", "x\u0085", "x\u009b31m", "x\u202e", "x\u2028", "x\u200b"]


@pytest.mark.parametrize("text", BAD_TEXT, ids=ascii)
def test_control_and_format_characters_are_refused_in_every_name(tmp_path, text):
    cases = [
        ("system", toy_with(institutions__0__id=text), "id"),
        ("system", toy_with(institutions__0__name=text), "name"),
        ("system", toy_with(name=text), "name"),
        ("scenario", {**QUICK, "name": text}, "name"),
        ("scenario", {**QUICK, "rate_shock_bp": {text: [1.0]}}, "rate_shock_bp"),
        ("policy", {"type": "qe", "budget_usd_bn": 5, "name": text}, "name"),
        ("policy", {"type": "qe", "budget_usd_bn": 5, "schedule_usd_bn": {text: [1]}}, "schedule"),
        ("experiment", {"arms": {text: []}}, "arms"),
    ]
    for i, (kind, doc, field) in enumerate(cases):
        path = write(tmp_path / f"{kind}{i}.json", doc)
        args = {
            "system": ["system", "validate", path],
            "scenario": ["run", path, "--system", "toy_basis_trade"],
            "policy": ["run", "--system", "toy_basis_trade", "--policy", path],
            "experiment": ["experiment", path],
        }[kind]
        r = invoke(*args, "--out", tmp_path / "o") if kind != "system" else invoke(*args)
        assert_input_error(r, path, field)
        # printed escaped: no raw control or format character reaches the terminal
        assert printable(r.output) == r.output, ascii(r.output)
    nothing_written(tmp_path, *(p.name for p in tmp_path.iterdir() if p.suffix == ".json"))


def test_printable_escapes_what_a_terminal_would_obey():
    assert printable("a\x1b[2Jb\u009b\u202ec\nd\te") == "a\\x1b[2Jb\\x9b\\u202ec\nd\te"
    assert printable("plain Ünïcödé") == "plain Ünïcödé"


# --- 10. CSV formula injection ----------------------------------------------------------------
def test_formula_like_cells_are_neutralised_and_round_trip(tmp_path):
    frame = pd.DataFrame(
        {"name": ["=HYPERLINK(1)", "+1", "-cmd", "@SUM(A1)", "'quoted", "ok", "\tx"],
         "value": [-1.5, 2.0, -3.0, 4.0, 5.0, 6.0, 7.0]},
        index=pd.Index(["=a", "b", "c", "d", "e", "f", "g"], name="arm"),
    )  # fmt: skip
    text = csv_text(frame)
    back = pd.read_csv(pd.io.common.StringIO(text), index_col=0, keep_default_na=False)
    cells = [*back["name"], *back.index]
    assert all(not str(v).startswith(("=", "+", "-", "@", "\t")) for v in cells)
    assert back["value"].tolist() == frame["value"].tolist()  # numbers stay numbers
    toy = c.examples.toy_basis_trade()
    inst = toy.institutions
    names = ["=cmd|'/c calc'!A1", "+ABC", "-Fund", "@risk", "'apostrophe"]
    inst.loc[: len(names) - 1, "name"] = names
    system = c.System(inst, toy.exposures, toy.market)
    c.to_csv(system, tmp_path / "csv")
    raw = (tmp_path / "csv" / "institutions.csv").read_text(encoding="utf-8")
    assert "\n=cmd" not in raw and ",=cmd" not in raw and ",'=cmd" in raw
    assert c.load_system(tmp_path / "csv").institutions["name"].tolist()[:5] == names


def test_report_csvs_neutralise_arm_policy_and_institution_names(tmp_path):
    policy = write(tmp_path / "p.yaml", {"type": "qe", "budget_usd_bn": 5, "name": "=qe()"})
    scen = write(tmp_path / "s.yaml", QUICK)
    out = tmp_path / "out"
    # with draws: draws.csv and paths.csv name the arm too
    r = invoke("run", scen, "--system", "toy_basis_trade", "--policy", policy, "--draws", "2",
               "--out", out, "-q")  # fmt: skip
    assert r.exit_code == 0, r.output
    for path in out.rglob("*.csv"):
        for line in path.read_text(encoding="utf-8").splitlines():
            assert not re.search(r"(^|,)[=+@]", line), (path, line)
    assert "'=qe()" in (out / "metrics.csv").read_text(encoding="utf-8")


# --- 11. errors that name the file ----------------------------------------------------------
def test_checks_against_the_system_name_the_file(tmp_path):
    scen = write(tmp_path / "s.yaml", {**QUICK, "rate_shock_bp": {"7y": [10.0]}})
    r = invoke("run", scen, "--system", "toy_basis_trade", "--out", tmp_path / "o")
    assert_input_error(r, scen, "rate_shock_bp.7y", "unknown bucket")
    cases = [
        ({"type": "qe", "budget_usd_bn": 5, "schedule_usd_bn": {"7y": [1.0]}}, "schedule_usd_bn"),
        ({"type": "qe", "budget_usd_bn": 5, "max_price": {"7y": 101.0}}, "max_price"),
        ({"type": "basis_facility", "budget_usd_bn": 5, "contracts": ["ZZ"]}, "contracts"),
        ({"type": "qe", "budget_usd_bn": 5, "trigger": {"metric": "nope", "threshold": 1}},
         "trigger.metric"),
        ({"type": "swf", "budget_usd_bn": 5, "funding": "new_issuance", "issuance_bucket": "7y"},
         "issuance_bucket"),
    ]  # fmt: skip
    for i, (doc, field) in enumerate(cases):
        pol = write(tmp_path / f"p{i}.yaml", doc)
        r = invoke("run", "--system", "toy_basis_trade", "--policy", pol, "--out", tmp_path / "o")
        assert_input_error(r, pol, field)
    # a policy needing a central bank, on a system without one
    doc = toy_with()
    doc["institutions"] = [
        {k: v for k, v in i.items() if k != "equity_usd_bn"}
        for i in doc["institutions"]
        if i["type"] != "central_bank"
    ]
    doc["exposures"] = [e for e in doc["exposures"] if "fed" not in (e["source"], e["target"])]
    no_cb = write(tmp_path / "no_cb.yaml", doc)
    assert invoke("system", "validate", no_cb).exit_code == 0
    pol = write(tmp_path / "qe.yaml", {"type": "qe", "budget_usd_bn": 5})
    r = invoke("run", "--system", no_cb, "--policy", pol, "--out", tmp_path / "o")
    assert_input_error(r, pol, "central_bank", "no_cb")
    # inline in an experiment: the experiment file is named, with the arm
    exp = write(tmp_path / "exp.yaml", {"system": "toy_basis_trade", "arms": {"bf": [cases[2][0]]}})
    assert_input_error(invoke("experiment", exp, "--out", tmp_path / "o"), exp, "arm 'bf'")
    assert not (tmp_path / "o").exists()


# --- 12. unchecked values -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "key"),
    [("{0x10: 1, 16: 2}", "16"), ("{yes: 1, true: 2}", "true"), ("{1: a, 1.0: b}", "1.0"),
     ("{~: 1, null: 2}", "null"), ("a: 1\nb: 2\na: 3\n", "a")],
)  # fmt: skip
def test_yaml_keys_equal_after_construction_are_duplicates(tmp_path, text, key):
    path = tmp_path / "doc.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="duplicate key") as info:
        c.io.read_document(path)
    assert str(path) in str(info.value) and info.value.field == key


def test_yaml_merge_keys_may_still_be_overridden(tmp_path):
    path = tmp_path / "doc.yaml"
    path.write_text("base: &b {x: 1, y: 2}\nuse: {<<: *b, x: 3}\n", encoding="utf-8")
    assert c.io.read_document(path)["use"] == {"x": 3, "y": 2}


@pytest.mark.parametrize("seed", [-1, 2**128, "seven"])
def test_seeds_are_checked_at_load(tmp_path, seed):
    exp = write(tmp_path / "exp.yaml", {"arms": {"qe": []}, "seed": seed})
    assert_input_error(invoke("experiment", exp, "--out", tmp_path / "o"), exp, "seed")
    with pytest.raises(InputError, match="seed"):
        experiment(c.examples.toy_basis_trade(), c.Scenario(days=1), {}, draws=1, rng=-1)


def test_a_no_action_arm_holding_a_policy_is_refused(tmp_path):
    exp = write(tmp_path / "exp.yaml",
                {"arms": {"no_action": [{"type": "qe", "budget_usd_bn": 5}]}})  # fmt: skip
    assert_input_error(invoke("experiment", exp, "--out", tmp_path / "o"), exp, "no_action")
    with pytest.raises(InputError, match="baseline"):
        experiment(c.examples.toy_basis_trade(), c.Scenario(days=1),
                   {"no_action": [{"type": "srf"}]})  # fmt: skip


# --- also: alias expansion by size, the Sobol' design size, the pyarrow floor ---------------
def test_yaml_alias_expansion_is_measured_in_characters(tmp_path):
    big = "x" * 1_000_000
    path = tmp_path / "scenario.yaml"
    path.write_text(f"name: &s {big}\ndescription: [{', '.join(['*s'] * 200)}]\n")
    start = time.perf_counter()
    with pytest.raises(InputError, match="aliases"):
        c.load_scenario(path)
    assert time.perf_counter() - start < 10


def test_a_sobol_design_beyond_the_limit_is_refused(tmp_path):
    from contagion.experiment import DEFAULT_UNCERTAINTY

    doc = {"arms": {"qe": []}, "sensitivity": {"base_samples": 65536}}
    exp = write(tmp_path / "exp.yaml", doc)
    points = 65536 * (len(DEFAULT_UNCERTAINTY) + 2)  # Saltelli: N (k + 2)
    assert_input_error(invoke("experiment", exp, "--out", tmp_path / "o"), exp,
                       "sensitivity.base_samples", f"{points:,} points")  # fmt: skip
    exp = write(tmp_path / "exp.yaml", {"arms": {"qe": []}, "draws": 10**6})
    assert_input_error(invoke("experiment", exp, "--out", tmp_path / "o"), exp, "draws")


def test_pyarrow_floor_excludes_the_vulnerable_versions():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (spec,) = [d for d in deps if d.startswith("pyarrow")]
    floor = tuple(int(x) for x in re.search(r">=([\d.]+)", spec).group(1).split("."))
    assert floor >= (14, 0, 1)  # CVE-2023-47248: arbitrary code in 0.14.0 to 14.0.0
    import pyarrow

    assert tuple(int(x) for x in pyarrow.__version__.split(".")[:3]) >= (14, 0, 1)


def test_a_csv_row_with_too_many_fields_is_one_plain_error(tmp_path):
    """pandas' tokenizer message ('Error tokenizing data. C error: Expected 14 fields...')
    is reworded: one 'error:' in the CLI's line, naming the file and the line (found by
    tests/test_fuzz_cli.py::test_fuzz_report_on_a_damaged_folder)."""
    folder = c.io.to_csv(c.examples.toy_basis_trade(), tmp_path / "sys")
    path = folder / "exposures.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2] + ",extra"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        c.io.from_csv(folder)
    text = str(err.value)
    assert "exposures.csv" in text and "line 3" in text and "not a valid CSV table" in text
    assert "error:" not in text.lower()
    r = CliRunner().invoke(app, ["system", "validate", str(folder)])
    assert r.exit_code == 2 and r.output.count("error: ") == 1, r.output
