"""Output folders and checkpoints under hostile conditions (issue 23).

Classes of the issue: tampered result folders given to ``contagion report`` (1, 12), a calm
scenario's report (3), writing through a symbolic link (8), corrupted checkpoint chunks
(13), a run killed during ``--overwrite`` (14) and two runs into one ``--out`` (15).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner
from undrawn import figures_not_drawn

import contagion as c
from contagion.backends import CheckpointWarning
from contagion.cli import app
from contagion.experiment import experiment
from contagion.files import OutputDirectory
from contagion.report import load_saved, write_report

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
# folders, not figures, are under test: figures built but not drawn (tests/undrawn.py),
# except for the calm scenario below and in the child processes
pytestmark = pytest.mark.undrawn_figures
QUICK = {"name": "quick", "days": 3, "rate_shock_bp": {"10y": [40.0, 20.0]}}


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_input_error(r, *needles: str) -> None:
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and "internal error" not in r.output, r.output
    for n in needles:
        assert n in r.output, r.output


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("inputs")
    scen = d / "quick.yaml"
    scen.write_text(yaml.safe_dump(QUICK), encoding="utf-8")
    qe = d / "qe.yaml"
    qe.write_text("type: qe\nname: qe\nreactive_share: 0.5\nbudget_usd_bn: 50\n")
    return {"scenario": scen, "qe": qe, "dir": d}


def run_args(inputs, out: Path, *extra: str) -> list:
    # the central run only unless a test asks for draws: the folders are under test here,
    # and run's default is the main job's 64 draws
    draws = [] if "--draws" in extra else ["--draws", "0"]
    return ["run", inputs["scenario"], "--system", "toy_basis_trade", "--policy", inputs["qe"],
            "--out", out, "--quiet", *draws, *extra]  # fmt: skip


@pytest.fixture(scope="module")
def report(inputs, tmp_path_factory) -> Path:
    """A complete report folder with parameter draws (copied before each tampering)."""
    out = tmp_path_factory.mktemp("rep") / "report"
    with figures_not_drawn():  # like the module's tests, so re-renders agree
        r = invoke(*run_args(inputs, out, "--draws", "2"))
    assert r.exit_code == 0, r.output
    return out


def copy_of(report: Path, tmp_path: Path) -> Path:
    d = tmp_path / "copy"
    shutil.copytree(report, d, symlinks=True)
    return d


# --- 1 and 12: tampered result folders ------------------------------------------------------
def _rewrite_parquet(path: Path, change) -> None:
    frame = pd.read_parquet(path)
    change(frame).to_parquet(path)


def _edit_json(path: Path, change) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")


def _set(doc, *keys_value):
    *keys, last, value = keys_value
    for k in keys:
        doc = doc[k]
    doc[last] = value


ARM = "arms/00-no_action"
TAMPERING = {
    "garbage parquet": ("metrics.parquet", lambda p: p.write_bytes(b"PAR1 not parquet PAR1")),
    "truncated parquet": ("draws.parquet", lambda p: p.write_bytes(p.read_bytes()[:100])),
    "empty parquet": (f"{ARM}/markets.parquet", lambda p: p.write_bytes(b"")),
    "parquet is a folder": ("effectiveness.parquet", lambda p: (p.unlink(), p.mkdir())),
    "invalid json": ("experiment.json", lambda p: p.write_text("{arms: [", encoding="utf-8")),
    "truncated json": (f"{ARM}/metadata.json", lambda p: p.write_bytes(p.read_bytes()[:50])),
    "empty json": ("experiment.json", lambda p: p.write_bytes(b"")),
    "missing column": (
        "metrics.parquet",
        lambda p: _rewrite_parquet(p, lambda f: f.drop(columns="peak_yield_bp")),
    ),
    "missing market column": (
        f"{ARM}/markets.parquet",
        lambda p: _rewrite_parquet(p, lambda f: f.drop(columns="repo_rate_pct")),
    ),
    "missing events column": (
        f"{ARM}/events.parquet",
        lambda p: _rewrite_parquet(p, lambda f: f.drop(columns="event")),
    ),
    "text where numbers go": (
        "metrics.parquet",
        lambda p: _rewrite_parquet(p, lambda f: f.assign(defaults="many")),
    ),
    "missing baseline row": (
        "effectiveness.parquet",
        lambda p: _rewrite_parquet(p, lambda f: f.drop(index="no_action")),
    ),
    "nan metric": (
        "metrics.parquet",
        lambda p: _rewrite_parquet(p, lambda f: f.assign(fire_sale_usd_bn=float("nan"))),
    ),
    "empty arm list": ("experiment.json", lambda p: _edit_json(p, lambda d: _set(d, "arms", []))),
    "duplicate arm names": (
        "experiment.json",
        lambda p: _edit_json(p, lambda d: _set(d, "arms", 1, "name", "no_action")),
    ),
    "unsafe arm name": (
        "experiment.json",
        lambda p: _edit_json(p, lambda d: _set(d, "arms", 1, "name", "qe\x1b[2J")),
    ),
    "arm folder outside": (
        "experiment.json",
        lambda p: _edit_json(p, lambda d: _set(d, "arms", 1, "folder", "../../elsewhere")),
    ),
    "arms not a list": ("experiment.json", lambda p: _edit_json(p, lambda d: _set(d, "arms", 7))),
    "nan summary": (
        f"{ARM}/metadata.json",
        lambda p: p.write_text(
            p.read_text(encoding="utf-8").replace('"defaults_count": 0.0', '"defaults_count": NaN'),
            encoding="utf-8",
        ),
    ),
    "summary text": (
        f"{ARM}/metadata.json",
        lambda p: _edit_json(p, lambda d: _set(d, "summary", "defaults_count", "none")),
    ),
    "bad scenario": (
        f"{ARM}/metadata.json",
        lambda p: _edit_json(p, lambda d: _set(d, "config", "scenario", "days", -3)),
    ),
    "named pipe": ("draws.parquet", lambda p: (p.unlink(), os.mkfifo(p))),
    # what the report branch added to a folder: the draws' daily paths, the parameter record
    "missing path column": (
        "paths.parquet",
        lambda p: _rewrite_parquet(p, lambda f: f.drop(columns="day")),
    ),
    "paths of an unknown arm": (
        "paths.parquet",
        lambda p: _rewrite_parquet(p, lambda f: f.assign(arm="ghost")),
    ),
    "draw ranges not ranges": (
        "experiment.json",
        lambda p: _edit_json(p, lambda d: _set(d, "parameters", "draw_ranges", "wide")),
    ),
    "unsafe parameter description": (
        "experiment.json",
        lambda p: _edit_json(p, lambda d: _set(d, "parameters", "description", "fit\x1b[2J")),
    ),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_a_tampered_result_folder_is_an_input_error(report, tmp_path, case):
    rel, tamper = TAMPERING[case]
    if case == "named pipe" and not hasattr(os, "mkfifo"):
        pytest.skip("named pipes are POSIX")
    d = copy_of(report, tmp_path)
    tamper(d / rel)
    html = (d / "report.html").read_bytes()
    r = invoke("report", d)
    assert_input_error(r, Path(rel).name)
    assert (d / "report.html").read_bytes() == html  # the old report is left as it was


def test_the_intact_copy_renders_identically(report, tmp_path):
    d = copy_of(report, tmp_path)
    html = (d / "report.html").read_bytes()
    r = invoke("report", d)
    assert r.exit_code == 0, r.output
    assert (d / "report.html").read_bytes() == html


# --- 3. a calm scenario ------------------------------------------------------------------------
@pytest.mark.drawn_figures  # issue 23 class 3: a calm baseline's figures are drawn too
def test_a_calm_scenario_reports(inputs, tmp_path):
    calm = inputs["dir"] / "calm.yaml"
    calm.write_text("name: calm\ndays: 2\nchannels: {haircuts: false}\n", encoding="utf-8")
    out = tmp_path / "calm"
    # with draws: the fan charts of a calm run render too
    r = invoke("run", calm, "--system", "toy_basis_trade", "--draws", "2", "--out", out, "--quiet")
    assert r.exit_code == 0, r.output
    saved = load_saved(out)
    assert not saved.results["no_action"].summary["defaults_count"]
    md = (out / "report.md").read_text(encoding="utf-8")
    # the sector table is there, with its columns and no rows
    assert "| sector | called | first_call_day |" in md


# --- 8. nothing written through a symbolic link --------------------------------------------------
def test_report_does_not_write_through_a_figures_link(report, tmp_path):
    d = copy_of(report, tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "mine.txt").write_text("keep")
    shutil.rmtree(d / "figures")
    (d / "figures").symlink_to(outside, target_is_directory=True)
    (d / "report.md").unlink()
    (d / "report.md").symlink_to(outside / "mine.txt")
    r = invoke("report", d)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in outside.iterdir()) == ["mine.txt"]
    assert (outside / "mine.txt").read_text() == "keep"
    assert (d / "figures").is_dir() and not (d / "figures").is_symlink()
    assert list((d / "figures").glob("*.svg")) and not (d / "report.md").is_symlink()
    assert not [p for p in d.iterdir() if p.name.startswith(".")]


# --- 13. corrupted checkpoints ------------------------------------------------------------
def test_a_corrupted_checkpoint_chunk_is_recomputed_never_used(toy, tmp_path):
    sc = c.Scenario(name="cp", days=2, rate_shock_bp={"10y": [30.0]})
    options = {"draws": 2, "rng": 5, "chunk_size": 1}
    reference = experiment(toy, sc, {}, **options).draws
    ckpt = tmp_path / "ckpt"
    experiment(toy, sc, {}, **options, checkpoint_dir=ckpt)
    (chunk,) = ckpt.glob("draws-0-0.*.parquet")
    data = chunk.read_bytes()
    # flip one bit at offsets spread over the file: data pages, footer, column names
    for offset in sorted({len(data) * k // 7 for k in range(7)} | {len(data) - 9}):
        flipped = bytearray(data)
        flipped[offset] ^= 0x10
        for p in ckpt.glob("draws-0-0.*.parquet"):
            p.unlink()
        chunk.write_bytes(bytes(flipped))
        with pytest.warns(CheckpointWarning, match="damaged"):
            again = experiment(toy, sc, {}, **options, checkpoint_dir=ckpt).draws
        pd.testing.assert_frame_equal(again, reference)
        # the recomputed chunk replaced the damaged one
        (chunk,) = ckpt.glob("draws-0-0.*.parquet")
        assert chunk.read_bytes() == data
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an intact checkpoint resumes silently
        pd.testing.assert_frame_equal(
            experiment(toy, sc, {}, **options, checkpoint_dir=ckpt).draws, reference
        )


def test_temp_files_of_a_killed_sweep_are_removed_on_resume(toy, tmp_path):
    ckpt = tmp_path / "ckpt"
    experiment(toy, c.Scenario(days=1), {}, draws=1, rng=1, checkpoint_dir=ckpt)
    (ckpt / ".draws-0-0.parquet.abc.tmp").write_bytes(b"")  # SIGKILL during a write
    experiment(toy, c.Scenario(days=1), {}, draws=1, rng=1, checkpoint_dir=ckpt)
    assert not list(ckpt.glob(".*"))


def test_a_checkpoint_in_use_is_refused(toy, tmp_path):
    ckpt = tmp_path / "ckpt"
    with OutputDirectory(ckpt, option="--checkpoint"):
        with pytest.raises(c.InputError, match="another contagion process"):
            experiment(toy, c.Scenario(days=1), {}, draws=1, rng=1, checkpoint_dir=ckpt)


# --- 14. a run killed during --overwrite -----------------------------------------------------
def test_a_failed_overwrite_leaves_the_previous_report(report, tmp_path, monkeypatch):
    d = copy_of(report, tmp_path)
    before = {p.relative_to(d): p.read_bytes() for p in d.rglob("*") if p.is_file()}
    saved = load_saved(d)
    result = experiment(c.examples.toy_basis_trade(), c.Scenario(days=1), {"slr": []})

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("contagion.report.render.render_into", boom)
    with pytest.raises(OSError, match="No space"):
        write_report(result, saved.system, d, overwrite=True)
    after = {p.relative_to(d): p.read_bytes() for p in d.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir()] == ["copy"]  # no staging folder left


def test_an_overwrite_leaves_no_stale_arm_folder(inputs, report, tmp_path):
    d = copy_of(report, tmp_path)
    (d / "arms" / "07-stale").mkdir()
    (d / "arms" / "07-stale" / "markets.parquet").write_bytes(b"old")
    r = invoke(*run_args(inputs, d, "--overwrite"))
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (d / "arms").iterdir()) == ["00-no_action", "01-qe"]
    assert not [p for p in d.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]
    assert list(load_saved(d).results) == ["no_action", "qe"]


def test_overwrite_never_deletes_files_that_are_not_report_output(inputs, report, tmp_path):
    d = copy_of(report, tmp_path)
    (d / "notes.txt").write_text("mine")
    r = invoke(*run_args(inputs, d, "--overwrite"))
    assert_input_error(r, "not part of a report", "notes.txt")
    assert (d / "notes.txt").read_text() == "mine" and (d / "report.html").is_file()
    res = c.Result.load(d / "arms" / "00-no_action")
    (d / "arms" / "00-no_action" / "mine.txt").write_text("mine")
    with pytest.raises(c.InputError, match=r"mine\.txt"):
        res.save(d / "arms" / "00-no_action")


def _child(*args: str) -> subprocess.Popen:
    code = "import sys; from contagion.cli import app; sys.argv[0] = 'contagion'; app()"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_during_overwrite_leaves_the_old_report_or_the_new(inputs, report, tmp_path):
    d = copy_of(report, tmp_path)
    info = (d / "experiment.json").read_bytes()
    child = _child(*run_args(inputs, d, "--overwrite", "--draws", "2"))
    deadline = time.monotonic() + 120
    staged = []
    while time.monotonic() < deadline and child.poll() is None and not staged:
        staged = list(tmp_path.glob(".copy.staging-*"))
        time.sleep(0.005)
    assert staged, "the child never started writing"
    time.sleep(0.02)  # somewhere inside the write
    child.send_signal(signal.SIGKILL)
    child.communicate()
    saved = load_saved(d)  # the previous report, whole (the swap never happened)...
    assert (d / "experiment.json").read_bytes() == info or list(saved.results) == [
        "no_action",
        "qe",
    ]
    assert invoke("report", d).exit_code == 0
    r = invoke(*run_args(inputs, d, "--overwrite"))  # ...and the next run cleans up
    assert r.exit_code == 0, r.output
    assert not list(tmp_path.glob(".copy.staging-*"))


# --- 15. two runs into one --out ----------------------------------------------------------
def test_a_second_run_into_a_locked_out_fails_at_once(inputs, tmp_path):
    out = tmp_path / "out"
    with OutputDirectory(out):  # another process's run holds the folder
        start = time.perf_counter()
        r = invoke(*run_args(inputs, out))
        assert_input_error(r, "another contagion process", str(out))
        assert time.perf_counter() - start < 30
        assert list(out.iterdir()) == []
    assert invoke(*run_args(inputs, out)).exit_code == 0  # free again


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs processes sharing a folder")
def test_two_concurrent_runs_one_wins_one_refused(inputs, tmp_path):
    out = tmp_path / "out"
    children = [_child(*run_args(inputs, out, "--draws", "2")) for _ in range(2)]
    errors = [ch.communicate(timeout=300)[1].decode() for ch in children]
    codes = sorted(ch.returncode for ch in children)
    if codes == [0, 0]:  # the runs did not overlap after all: both complete, one after the other
        pass
    else:
        assert codes == [0, 2], errors
        assert any("another contagion process" in e for e in errors), errors
    saved = load_saved(out)
    assert sorted(saved.results) == ["no_action", "qe"]
    assert sorted(p.name for p in (out / "arms").iterdir()) == ["00-no_action", "01-qe"]
    frame = pd.read_parquet(io.BytesIO((out / "draws.parquet").read_bytes()))
    assert set(frame["arm"]) == {"no_action", "qe"}


@pytest.mark.parametrize("atomic", [True, False], ids=["exchange", "two-renames"])
def test_swap_replaces_a_folder_whole_with_or_without_rename_exchange(
    tmp_path, monkeypatch, atomic
):
    from contagion import files

    if not atomic:
        monkeypatch.setattr(files, "_EXCHANGE", None)
    elif files._EXCHANGE is None:
        pytest.skip("no renameat2 here")
    target = tmp_path / "out"
    (target / "arms" / "99-stale").mkdir(parents=True)
    with OutputDirectory(target).staging() as new:
        (new / "report.html").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["report.html"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # nothing left beside it
    link = tmp_path / "link"
    link.symlink_to(target)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "figures").symlink_to(elsewhere)
    files.swap_in(Path(files.tempfile.mkdtemp(dir=tmp_path)), tmp_path / "figures")
    assert (tmp_path / "figures").is_dir() and not (tmp_path / "figures").is_symlink()
    assert elsewhere.is_dir() and (target / "report.html").read_text() == "new"
