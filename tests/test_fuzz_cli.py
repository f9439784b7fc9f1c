"""Hypothesis over every CLI entry point: mutated files in, exit 0 or 2 out, never 1.

Each test writes a randomly mutated document (:func:`fuzzing.mutated`) or a randomly
damaged result folder and runs the command through typer's ``CliRunner`` in a fresh
directory. Whatever the input: the exit code is 0 or 2, never 1 (an internal error); on 2
the message is one ``error: <file>: ...`` naming an input (after any ``warning:`` lines,
e.g. an unknown column kept, which issue 24 made a warning), with no traceback; the output
holds no raw control or format character; nothing is written but the ``--out`` folder.

Figures are built (every figure function runs on the data) but not drawn: matplotlib's
layout and SVG writing take seconds per report and are covered by ``test_report.py``; here
the time goes to inputs. Sizes: a handful of examples per command in CI (the whole module
takes about a minute), the ``soak`` profile's examples on demand::

    CONTAGION_HYPOTHESIS_PROFILE=soak .venv/bin/python -m pytest tests/test_fuzz_cli.py
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from fuzzing import POLICIES, mutated
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner
from undrawn import figures_not_drawn

import contagion as c
from contagion.cli import app
from contagion.errors import InputWarning, printable

runner = CliRunner()
TOY: dict[str, Any] = c.to_dict(c.examples.toy_basis_trade())
QUICK: dict[str, Any] = {
    "name": "quick", "days": 2, "rate_shock_bp": {"10y": [40.0, 10.0]},
    "volatility_multiplier": [1.5], "exogenous_sales_usd_bn": {"30y": [5.0]},
    "params": {"impact_bp_per_usd_bn": 0.05},
}  # fmt: skip
EXPERIMENT: dict[str, Any] = {
    "system": "toy_basis_trade", "scenario": "quick.yaml", "draws": 1, "seed": 3,
    "arms": {"qe": [POLICIES[0]], "srf": [POLICIES[1]]},
    "uncertainty": {"impact_convexity": [0.5, 1.5, "uniform"]},
}  # fmt: skip
MAX_DAYS = 4  # longer scenarios that load are cut to this (time budget, not validity)


# figures built but not drawn (module docstring; tests/undrawn.py)
pytestmark = pytest.mark.undrawn_figures


def cli_settings(ci: int):
    return settings(
        max_examples=max(ci, settings().max_examples if settings().max_examples > 50 else 0),
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
    )


def check(r, workdir: Path, allowed: set[str]) -> None:
    """The contract of every command on any input (module docstring)."""
    out = r.output
    assert r.exit_code in (0, 2), f"exit {r.exit_code}: {out}\n{r.exception!r}"
    assert "Traceback" not in out and "internal error" not in out, out
    assert printable(out) == out, ascii(out)
    if r.exit_code == 2:  # one error, after any input warnings (an unknown column kept)
        before, found, _ = out.partition("error: ")
        assert found and (not before or before.startswith("warning: ")), out
        assert "error: " not in _, out
    written = {p.name for p in workdir.iterdir()} - allowed
    assert written <= {"out"}, written


def fresh(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def dump(path: Path, doc: Any, fmt: str) -> bool:
    """Write ``doc`` as YAML or JSON; False if it cannot be written in that format."""
    try:
        text = yaml.safe_dump(doc) if fmt == "yaml" else json.dumps(doc, allow_nan=True)
    except (ValueError, TypeError, yaml.YAMLError, UnicodeEncodeError):
        return False
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return True


def short(doc: Any) -> Any:
    """A scenario document whose days (if a number) are at most MAX_DAYS."""
    if isinstance(doc, dict) and isinstance(doc.get("days"), int | float):
        if not isinstance(doc["days"], bool) and doc["days"] > MAX_DAYS:
            doc = {**doc, "days": MAX_DAYS}
    return doc


def damage(path: Path, data) -> None:
    """Truncate ``path``, flip one of its bits or splice random bytes into it."""
    raw = path.read_bytes()
    how = data.draw(st.sampled_from(["none", "truncate", "flip", "splice"]), label="damage")
    at = data.draw(st.integers(0, max(len(raw) - 1, 0)), label="at")
    if how == "truncate":
        path.write_bytes(raw[:at])
    elif how == "flip" and raw:
        path.write_bytes(raw[:at] + bytes([raw[at] ^ (1 << data.draw(st.integers(0, 7)))]) +
                         raw[at + 1 :])  # fmt: skip
    elif how == "splice":
        path.write_bytes(raw[:at] + data.draw(st.binary(max_size=40)) + raw[at:])


@cli_settings(15)
@given(doc=mutated(TOY), fmt=st.sampled_from(["yaml", "json", "graphml", "csv"]),
       command=st.sampled_from(["validate", "summary", "export"]), data=st.data())  # fmt: skip
def test_fuzz_system_commands(tmp_path_factory, monkeypatch, doc, fmt, command, data):
    d = fresh(tmp_path_factory)
    monkeypatch.chdir(d)
    if fmt in ("graphml", "csv"):  # formats written from a valid system, then damaged
        try:
            with warnings.catch_warnings():  # an unknown column kept: the CLI warns, below
                warnings.simplefilter("ignore", InputWarning)
                system = c.from_dict(doc)
        except c.InputError:
            return
        path = d / ("sys.graphml" if fmt == "graphml" else "sys")
        (c.to_graphml if fmt == "graphml" else c.to_csv)(system, path)
        files = [path] if fmt == "graphml" else sorted(path.iterdir())
        damage(data.draw(st.sampled_from(files), label="file"), data)
    else:
        path = d / f"sys.{fmt}"
        if not dump(path, doc, fmt):
            return
    args = ["system", command, str(path)]
    if command == "export":
        args += ["--format", "json", "--out", str(d / "out.json")]
    r = runner.invoke(app, args)
    check(r, d, {path.name, "out.json"})


@cli_settings(12)
@given(doc=mutated(QUICK), fmt=st.sampled_from(["yaml", "json"]))
def test_fuzz_run_scenario(tmp_path_factory, monkeypatch, doc, fmt):
    d = fresh(tmp_path_factory)
    monkeypatch.chdir(d)
    path = d / f"scenario.{fmt}"
    if not dump(path, short(doc), fmt):
        return
    # two draws: the draw path runs on the mutated scenario too (not the main job's 64)
    r = runner.invoke(app, ["run", str(path), "--system", "toy_basis_trade", "--draws", "2",
                            "--out", "out", "-q"])  # fmt: skip
    check(r, d, {path.name})


@cli_settings(12)
@given(doc=st.sampled_from(POLICIES).flatmap(mutated), fmt=st.sampled_from(["yaml", "json"]))
def test_fuzz_run_policy(tmp_path_factory, monkeypatch, doc, fmt):
    d = fresh(tmp_path_factory)
    monkeypatch.chdir(d)
    dump(d / "quick.yaml", QUICK, "yaml")
    path = d / f"policy.{fmt}"
    if not dump(path, doc, fmt):
        return
    r = runner.invoke(app, ["run", "quick.yaml", "--system", "toy_basis_trade", "--policy",
                            str(path), "--draws", "2", "--out", "out", "-q"])  # fmt: skip
    check(r, d, {path.name, "quick.yaml"})


@cli_settings(12)
@given(doc=mutated(EXPERIMENT), fmt=st.sampled_from(["yaml", "json"]))
def test_fuzz_experiment(tmp_path_factory, monkeypatch, doc, fmt):
    d = fresh(tmp_path_factory)
    monkeypatch.chdir(d)
    dump(d / "quick.yaml", QUICK, "yaml")
    if isinstance(doc, dict) and isinstance(doc.get("draws"), int) and doc["draws"] > 2:
        doc = {**doc, "draws": 2}  # larger sweeps are valid, only slow
    if isinstance(doc, dict) and "sensitivity" in doc:
        doc = {k: v for k, v in doc.items() if k != "sensitivity"}
    path = d / f"exp.{fmt}"
    if not dump(path, doc, fmt):
        return
    r = runner.invoke(app, ["experiment", str(path), "--out", "out", "-q"])
    check(r, d, {path.name, "quick.yaml"})


# --- contagion report on damaged folders ------------------------------------------------------
@pytest.fixture(scope="module")
def saved_report(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("saved")
    dump(d / "quick.yaml", QUICK, "yaml")
    pol = d / "qe.yaml"
    dump(pol, POLICIES[0], "yaml")
    out = d / "report"
    args = ["run", d / "quick.yaml", "--system", "toy_basis_trade", "--policy", pol,
            "--draws", "2", "--out", out, "-q"]  # fmt: skip
    with figures_not_drawn():
        r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return out


DAMAGE = ("truncate", "flip", "replace", "json")


@cli_settings(10)
@given(data=st.data())
def test_fuzz_report_on_a_damaged_folder(saved_report, tmp_path_factory, data):
    d = fresh(tmp_path_factory)
    folder = d / "out"
    shutil.copytree(saved_report, folder)
    files = sorted(  # what `contagion report` reads: data files and the system's CSV folder
        p for p in folder.rglob("*")
        if p.is_file() and (p.suffix in (".parquet", ".json", ".yaml") or p.parent.name == "system")
    )  # fmt: skip
    target = data.draw(st.sampled_from(files), label="file")
    how = data.draw(st.sampled_from(DAMAGE), label="damage")
    raw = target.read_bytes()
    if how == "truncate":
        target.write_bytes(raw[: data.draw(st.integers(0, max(len(raw) - 1, 0)))])
    elif how == "flip":
        at = data.draw(st.integers(0, len(raw) - 1))
        bit = data.draw(st.integers(0, 7))
        target.write_bytes(raw[:at] + bytes([raw[at] ^ (1 << bit)]) + raw[at + 1 :])
    elif how == "replace":
        target.write_bytes(data.draw(st.binary(max_size=200)))
    elif target.suffix == ".json":
        doc = json.loads(raw)
        if not dump(target, data.draw(mutated(doc, max_mutations=2)), "json"):
            return
    r = runner.invoke(app, ["report", str(folder)])
    check(r, d, set())
