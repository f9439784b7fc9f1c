"""Reports of policy experiments: saved data plus one self-contained HTML page and Markdown.

:func:`write_report` saves an :class:`~contagion.experiment.ExperimentResult` with the
system it ran on into a directory and renders the report from those saved files;
:func:`render_report` re-renders it later from the directory alone (no simulation), and
gives the same HTML byte for byte. Layout of a report directory::

    report.html          self-contained (figures inline, no external CSS/JS/fonts)
    report.md            the same content as Markdown; figures in figures/*.svg
    experiment.json      arms (name, folder, policies), draws, seed, package version
    metrics.parquet/.csv            arm x headline metric (point run)
    effectiveness.parquet/.csv      arm x reduction and cost vs no_action
    draws.parquet/.csv              arm x draw x metric (parameter draws; may be empty)
    sensitivity.parquet/.csv        arm x metric x parameter Sobol' indices (only when run;
                                    the design is described in experiment.json)
    system/              the system (institutions.csv, exposures.csv, system.yaml)
    arms/NN-<arm>/       each arm's Result.save(..., csv=True)

Arm folders are numbered and sanitised (``arms/01-qe_500bn``); ``experiment.json`` maps
them back to the arm names, which may contain any characters.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from contagion._version import __version__
from contagion.errors import InputError, Problem
from contagion.experiment import ExperimentResult
from contagion.io import atomic_write_text, load_system, to_csv
from contagion.result import Result
from contagion.system import System

FORMAT_VERSION = 1
TABLES = ("metrics", "effectiveness", "draws")
SENSITIVITY = "sensitivity"  # optional table: Sobol' indices


@dataclass(frozen=True)
class SavedExperiment:
    """An experiment read back from a report directory (see :func:`load_saved`)."""

    metrics: pd.DataFrame
    effectiveness: pd.DataFrame
    draws: pd.DataFrame
    results: dict[str, Result]
    system: System
    info: dict[str, Any]
    sensitivity: pd.DataFrame | None = None


def arm_folder(index: int, name: str) -> str:
    """A safe, unique folder name for an arm (``NN-`` prefix, sanitised name)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "arm"
    return f"{index:02d}-{slug[:40]}"


def prepare_directory(out: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Create ``out``; refuse an existing non-empty directory unless ``overwrite``."""
    d = Path(out)
    if d.exists() and not d.is_dir():
        raise InputError(Problem("output", "--out", "exists and is not a directory"), str(d))
    if d.is_dir() and any(d.iterdir()) and not overwrite:
        raise InputError(
            Problem("output", "--out", "directory exists and is not empty; pass --overwrite"),
            str(d),
        )
    d.mkdir(parents=True, exist_ok=True)
    return d


def save_experiment(
    result: ExperimentResult,
    system: System,
    out: str | os.PathLike,
    *,
    draws: int = 0,
    seed: int | None = None,
    title: str | None = None,
) -> Path:
    """Write the data of an experiment (not the report) into ``out``; returns the folder."""
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    arms = []
    for i, (name, res) in enumerate(result.results.items()):
        folder = f"arms/{arm_folder(i, name)}"
        res.save(d / folder, csv=True)
        arms.append({"name": name, "folder": folder, "policies": res.config["policies"]})
    for name in TABLES:
        frame = getattr(result, name)
        tmp = d / f".{name}.parquet.tmp"
        frame.to_parquet(tmp)
        os.replace(tmp, d / f"{name}.parquet")
        named = any(n is not None for n in frame.index.names)  # else a row counter
        atomic_write_text(d / f"{name}.csv", frame.to_csv(index=named))
    to_csv(system, d / "system")
    info = {
        "format_version": FORMAT_VERSION,
        "title": title or "Policy experiment",
        "arms": arms,
        "draws": int(draws),
        "seed": seed,
        "version": __version__,
    }
    sens = getattr(result, "sensitivity", None)
    if sens is not None:
        info["sensitivity"] = json.loads(json.dumps(sens.attrs, default=str))
        frame = sens.reset_index(drop=True)
        frame.attrs = {}
        tmp = d / f".{SENSITIVITY}.parquet.tmp"
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, d / f"{SENSITIVITY}.parquet")
        atomic_write_text(d / f"{SENSITIVITY}.csv", frame.to_csv(index=False))
    else:  # an overwritten report must not show an earlier run's indices
        for ext in ("parquet", "csv"):
            (d / f"{SENSITIVITY}.{ext}").unlink(missing_ok=True)
    atomic_write_text(d / "experiment.json", json.dumps(info, indent=1, sort_keys=True))
    return d


def load_saved(directory: str | os.PathLike) -> SavedExperiment:
    """Read a directory written by :func:`save_experiment` (clear errors if incomplete)."""
    d = Path(directory)
    if not d.is_dir():
        raise InputError(Problem("result directory", "(path)", "not a directory"), str(d))
    needed = ["experiment.json", *(f"{t}.parquet" for t in TABLES), "system/system.yaml"]
    missing = [n for n in needed if not (d / n).exists()]
    if missing:
        raise InputError(
            Problem(
                "result directory",
                "(files)",
                f"missing {', '.join(missing)}; is this a folder written by 'contagion run'?",
            ),
            str(d),
        )
    try:
        info = json.loads((d / "experiment.json").read_text(encoding="utf-8"))
        arms = {a["name"]: a["folder"] for a in info["arms"]}
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise InputError(
            Problem("experiment.json", "arms", f"unreadable ({err})"), str(d / "experiment.json")
        ) from None
    results = {}
    for name, folder in arms.items():
        path = (d / folder).resolve()
        if not path.is_relative_to(d.resolve()):
            raise InputError(
                Problem("experiment.json", "arms.folder", f"{folder!r} is outside the report"),
                str(d / "experiment.json"),
            )
        results[name] = Result.load(path)
    tables = {t: pd.read_parquet(d / f"{t}.parquet") for t in TABLES}
    sens = None
    if info.get("sensitivity") is not None:
        path = d / f"{SENSITIVITY}.parquet"
        if not path.exists():
            raise InputError(Problem("result directory", "(files)", f"missing {path.name}"), str(d))
        sens = pd.read_parquet(path)
    return SavedExperiment(
        **tables, results=results, system=load_system(d / "system"), info=info, sensitivity=sens
    )


def write_report(
    result: ExperimentResult,
    system: System,
    out: str | os.PathLike,
    *,
    draws: int = 0,
    seed: int | None = None,
    title: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Save an experiment into ``out`` and render its report; returns ``report.html``."""
    from contagion.report.render import render_report

    d = prepare_directory(out, overwrite=overwrite)
    save_experiment(result, system, d, draws=draws, seed=seed, title=title)
    return render_report(d)


def render_report(directory: str | os.PathLike) -> Path:
    """Re-render ``report.html`` and ``report.md`` from a saved directory (no simulation)."""
    from contagion.report.render import render_report as _render

    return _render(directory)


__all__ = [
    "SavedExperiment",
    "arm_folder",
    "load_saved",
    "prepare_directory",
    "render_report",
    "save_experiment",
    "write_report",
]
