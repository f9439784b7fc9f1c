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
    paths.parquet/.csv              arm x draw x day x metric daily paths of the draws
                                    (only when draws ran; the fan charts)
    system/              the system (institutions.csv, exposures.csv, system.yaml)
    arms/NN-<arm>/       each arm's Result.save(..., csv=True)

``experiment.json`` also records the parameter set the arms ran with (``parameters``:
fitted or package defaults, every value and its origin, the draw ranges).

Arm folders are numbered and sanitised (``arms/01-qe_500bn``); ``experiment.json`` maps
them back to the arm names (safe text: no control or format characters). The folder is
written whole and locked while it is written, and read back with every file checked
(:mod:`contagion.report.folder`); CSV cells a spreadsheet would evaluate are neutralised
(:func:`contagion.io.csv_text`).
"""

from __future__ import annotations

import os
from pathlib import Path

from contagion.experiment import ExperimentResult
from contagion.files import OutputDirectory
from contagion.report.folder import (
    FORMAT_VERSION,
    PATHS,
    SENSITIVITY,
    TABLES,
    SavedExperiment,
    arm_folder,
    load_saved,
    open_output,
    prepare_directory,
    save_experiment,
    write_folder,
)
from contagion.system import System


def write_report(
    result: ExperimentResult,
    system: System,
    out: str | os.PathLike | OutputDirectory,
    *,
    draws: int = 0,
    seed: int | None = None,
    title: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Save an experiment and render its report into ``out``, replacing the folder whole
    (:func:`contagion.report.folder.write_folder`); returns ``report.html``.

    Raises :class:`~contagion.InputError` if ``out`` is a non-empty folder and not
    ``overwrite``, a non-empty folder that holds no report, or locked by another process.
    """
    return write_folder(
        result, system, out, overwrite=overwrite, draws=draws, seed=seed, title=title
    )


def render_report(directory: str | os.PathLike) -> Path:
    """Re-render ``report.html`` and ``report.md`` from a saved directory (no simulation)."""
    from contagion.report.render import render_report as _render

    return _render(directory)


__all__ = [
    "FORMAT_VERSION",
    "PATHS",
    "SENSITIVITY",
    "TABLES",
    "SavedExperiment",
    "arm_folder",
    "load_saved",
    "open_output",
    "prepare_directory",
    "render_report",
    "save_experiment",
    "write_report",
]
