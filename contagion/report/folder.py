"""A report folder on disk: written whole under a lock, read back with every file checked.

Writing (:func:`write_folder`): the experiment's data and report go into a staging folder
beside the target and are swapped in whole (:class:`contagion.files.OutputDirectory`), so a
folder never mixes two runs (stale arm folders, new parquet beside old metadata) and a
second process writing to the same folder fails at once. An existing folder is replaced
only when it is empty or holds a report (``experiment.json``) and nothing but report output
(:data:`REPORT_ENTRIES`); any other non-empty folder is refused, so replacing a folder never
deletes a file that a run did not write.

Reading (:func:`load_saved`): every file is read with a bounded read of a regular file
(:func:`contagion.files.read_bytes`); a folder that was damaged or edited by hand
(unreadable, truncated or empty parquet or JSON, a missing column, arm or baseline row,
duplicate or unsafe arm names, summaries that are not finite numbers) gives an
:class:`~contagion.InputError` naming the file and the field, never an internal error.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contagion._version import __version__
from contagion.errors import InputError, Problem, text_problem
from contagion.experiment import BASELINE, HEADLINE, ExperimentResult, arm_name_problem
from contagion.files import OutputDirectory, foreign_entries
from contagion.io import atomic_write_text, csv_text, load_system, to_csv
from contagion.result import Result, read_json, read_parquet
from contagion.system import System

FORMAT_VERSION = 1
TABLES = ("metrics", "effectiveness", "draws")
SENSITIVITY = "sensitivity"  # optional table: Sobol' indices
PATHS = "paths"  # optional table: daily paths of the draws (the fan charts)
INFO = "experiment.json"
DRAW_COLUMNS = ("arm", "draw", "metric", "value")
PATH_COLUMNS = ("arm", "draw", "day", "metric", "value")
SENSITIVITY_COLUMNS = ("arm", "metric", "parameter", "S1", "S1_conf", "ST", "ST_conf", "note")
#: Columns of each arm's frames that the report reads (markets: per bucket and contract).
FRAME_COLUMNS = {
    "institutions": ("day", "institution", "type", "equity_usd_bn", "assets_usd_bn", "defaulted"),
    "events": ("day", "institution", "type", "event", "amount_usd_bn", "cause"),
}
_REDUCED = ("peak_yield_bp", "peak_basis_bp", "fire_sale_usd_bn", "defaults", "losses_usd_bn")
#: Columns of ``effectiveness`` (:func:`contagion.experiment.effectiveness`); the per-100bn
#: ratios are NaN for arms without a meaningful size, every other one must be finite.
EFFECTIVENESS_COLUMNS = (
    *(f"reduction_{m}" for m in _REDUCED),
    "cost_balance_sheet_usd_bn",
    "cost_cash_lent_usd_bn",
    "cost_budget_spent_usd_bn",
    *(f"reduction_{m}_per_100bn" for m in _REDUCED),
)
#: What a report folder holds (:func:`save_experiment`, :func:`write_folder`): replacing
#: a folder that holds anything else is refused.
REPORT_ENTRIES = {
    INFO, "report.html", "report.md", "figures", "arms", "system",
    *(f"{t}.{ext}" for t in (*TABLES, SENSITIVITY, PATHS) for ext in ("parquet", "csv")),
}  # fmt: skip
MARKET_COLUMNS = (
    "repo_rate_pct",
    "repo_rate_eligible_pct",
    "dealer_peak_utilisation_frac",
    "volatility_index",
)


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
    paths: pd.DataFrame | None = None


# --- writing -------------------------------------------------------------------------------
def arm_folder(index: int, name: str) -> str:
    """A safe, unique folder name for an arm (``NN-`` prefix, sanitised name)."""
    import re

    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "arm"
    return f"{index:02d}-{slug[:40]}"


def _refuse(path: Path, reason: str) -> InputError:
    return InputError(Problem("output", "--out", reason), str(path))


def open_output(out: str | os.PathLike, *, overwrite: bool = False) -> OutputDirectory:
    """Lock the folder a report will be written to (creating it), after checking it may be
    written: a new or empty folder, or with ``overwrite`` one that holds a report."""
    d = Path(out)
    if d.exists() and not d.is_dir():
        raise _refuse(d, "exists and is not a directory")
    target = OutputDirectory(d).acquire()
    try:
        if any(target.path.iterdir()):
            if not overwrite:
                raise _refuse(d, "directory exists and is not empty; pass --overwrite")
            if not (target.path / INFO).is_file():
                raise _refuse(
                    d,
                    f"is not empty and holds no {INFO} (not a contagion report); --overwrite "
                    "replaces a report folder whole, so choose a new or empty folder",
                )
            foreign = foreign_entries(target.path, REPORT_ENTRIES)
            if foreign:
                shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
                raise _refuse(
                    d,
                    f"holds files that are not part of a report ({shown}); --overwrite "
                    "replaces the folder whole, so move them or choose another folder",
                )
    except BaseException:
        target.release()
        raise
    return target


def prepare_directory(out: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Check that ``out`` may be written (see :func:`open_output`) and create it."""
    target = open_output(out, overwrite=overwrite)
    target.release()
    return Path(out)


def _write_parquet(path: Path, frame: pd.DataFrame, **kwargs: Any) -> None:
    from contagion.files import atomic_write_with

    atomic_write_with(path, lambda tmp: frame.to_parquet(tmp, **kwargs))


def save_experiment(
    result: ExperimentResult,
    system: System,
    out: str | os.PathLike,
    *,
    draws: int = 0,
    seed: int | None = None,
    title: str | None = None,
) -> Path:
    """Write the data of an experiment (not the report) into the folder ``out``, replacing
    it whole (a new or empty folder, or one that holds a report; module docstring)."""
    target = open_output(out, overwrite=True)
    try:
        with target.staging() as new:
            _write_data(result, system, new, draws=draws, seed=seed, title=title)
    finally:
        target.release()
    return Path(out)


def _write_data(
    result: ExperimentResult,
    system: System,
    d: Path,
    *,
    draws: int = 0,
    seed: int | None = None,
    title: str | None = None,
) -> None:
    """The data files of an experiment, written into the fresh folder ``d``."""
    arms = []
    for i, (name, res) in enumerate(result.results.items()):
        folder = f"arms/{arm_folder(i, name)}"
        (d / folder).mkdir(parents=True)
        res.write(d / folder, csv=True)
        arms.append({"name": name, "folder": folder, "policies": res.config["policies"]})
    for name in TABLES:
        frame = getattr(result, name)
        _write_parquet(d / f"{name}.parquet", frame)
        named = any(n is not None for n in frame.index.names)  # else a row counter
        atomic_write_text(d / f"{name}.csv", csv_text(frame, index=named))
    to_csv(system, d / "system")
    info = {
        "format_version": FORMAT_VERSION,
        "title": title or "Policy experiment",
        "arms": arms,
        "draws": int(draws),
        "seed": seed,
        "version": __version__,
        "parameters": json.loads(
            json.dumps(getattr(result, "parameters", None) or {}, default=str)
        ),
    }
    paths = getattr(result, "paths", None)
    if paths is not None and len(paths):  # (a fresh folder: no earlier run's paths)
        _write_parquet(d / f"{PATHS}.parquet", paths, index=False)
        atomic_write_text(d / f"{PATHS}.csv", csv_text(paths, index=False))
    sens = getattr(result, "sensitivity", None)
    if sens is not None:
        info["sensitivity"] = json.loads(json.dumps(sens.attrs, default=str))
        frame = sens.reset_index(drop=True)
        frame.attrs = {}
        _write_parquet(d / f"{SENSITIVITY}.parquet", frame, index=False)
        atomic_write_text(d / f"{SENSITIVITY}.csv", csv_text(frame, index=False))
    atomic_write_text(d / INFO, json.dumps(info, indent=1, sort_keys=True))


def write_folder(
    result: ExperimentResult,
    system: System,
    out: str | os.PathLike | OutputDirectory,
    *,
    overwrite: bool = False,
    **options: Any,
) -> Path:
    """Save and render into a staging folder and swap it in at ``out`` (module docstring).

    ``out`` may be an :class:`~contagion.files.OutputDirectory` already locked by the
    caller (the CLI locks before simulating); it is released when this returns.
    """
    from contagion.report.render import render_into

    target = out if isinstance(out, OutputDirectory) else open_output(out, overwrite=overwrite)
    try:
        with target.staging() as new:
            _write_data(result, system, new, **options)
            render_into(new)
    finally:
        target.release()
    return target.path / "report.html"


# --- reading -------------------------------------------------------------------------------
class _ArmInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    folder: str
    policies: list[dict[str, Any]]


class _SensitivityInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")

    parameters: dict[str, tuple[float, float, str]] = Field(default_factory=dict)
    base_samples: int | None = None
    points: int | None = None
    runs: int | None = None
    num_resamples: int | None = None
    conf_level: float | None = None


class _ParametersInfo(BaseModel):
    """The parameter record of ``experiment.json``
    (:func:`contagion.experiment.resolve_parameters`): the fields the report reads, typed."""

    model_config = ConfigDict(extra="ignore")

    description: str = ""
    values: dict[str, float | int | bool | str | None] = Field(default_factory=dict)
    origin: dict[str, str] = Field(default_factory=dict)
    draw_ranges: dict[str, tuple[float, float, str]] | None = None
    draw_ranges_source: str = ""
    held_fixed: list[str] = Field(default_factory=list)
    sampling: str = ""
    standing: list[dict[str, Any]] = Field(default_factory=list)


class _Info(BaseModel):
    """The layout of ``experiment.json`` (see :func:`save_experiment`)."""

    model_config = ConfigDict(extra="forbid")

    format_version: int
    title: str
    arms: list[_ArmInfo] = Field(min_length=1)
    draws: int = Field(ge=0)
    seed: int | None
    version: str
    sensitivity: _SensitivityInfo | None = None
    parameters: _ParametersInfo | None = None  # absent in reports saved before it existed


def _read_info(d: Path) -> dict[str, Any]:
    path = d / INFO
    raw = read_json(path)
    try:
        info = _Info.model_validate(raw)
    except ValidationError as err:
        raise InputError.from_validation(err, INFO, str(path)) from None
    problems = []
    if info.format_version != FORMAT_VERSION:
        problems.append(
            Problem(INFO, "format_version", f"{info.format_version}; this reads {FORMAT_VERSION}")
        )
    reason = text_problem(info.title)
    if reason:
        problems.append(Problem(INFO, "title", reason))
    if info.parameters is not None:
        reason = text_problem(info.parameters.description, allow="\n")
        if reason:
            problems.append(Problem(INFO, "parameters.description", reason))
    names = [a.name for a in info.arms]
    for i, name in enumerate(names):
        reason = arm_name_problem(name)
        if reason:
            problems.append(Problem(INFO, f"arms.{i}.name", reason))
        elif name in names[:i]:
            problems.append(Problem(INFO, f"arms.{i}.name", f"duplicate arm name {name!r}"))
    if BASELINE not in names:
        problems.append(Problem(INFO, "arms", f"no '{BASELINE}' arm (the baseline)"))
    root = d.resolve()
    folders = [a.folder for a in info.arms]
    for i, folder in enumerate(folders):
        if not (d / folder).resolve().is_relative_to(root) or (d / folder).resolve() == root:
            problems.append(Problem(INFO, f"arms.{i}.folder", f"{folder!r} is outside the report"))
        elif folder in folders[:i]:
            problems.append(Problem(INFO, f"arms.{i}.folder", f"{folder!r} is listed twice"))
    if problems:
        raise InputError(problems, str(path))
    return raw  # as written (validated): the report shows it


def _columns(frame: pd.DataFrame, needed, numeric, path: Path, where: str) -> list[Problem]:
    """Needed columns present; numeric ones numbers (finite where ``numeric[c]`` is True)."""
    problems = [Problem(where, c, "column is missing") for c in needed if c not in frame.columns]
    for c, finite in numeric.items():
        if c not in frame.columns or frame.empty:  # an empty column has no dtype to check
            continue
        col = frame[c]
        if not (pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)):
            problems.append(Problem(where, c, f"must hold numbers, got {col.dtype}"))
        elif finite and not np.isfinite(col.to_numpy(dtype=float)).all():
            problems.append(Problem(where, c, "must hold finite numbers (NaN or infinity found)"))
    return problems


def _check_arm_table(frame: pd.DataFrame, names: list[str], path: Path) -> list[Problem]:
    where = path.name
    index = [str(i) for i in frame.index]
    problems = []
    if len(set(index)) != len(index):
        problems.append(Problem(where, "arm", "an arm has more than one row"))
    if set(index) != set(names):
        missing = sorted(set(names) - set(index))
        extra = sorted(set(index) - set(names))
        parts = ([f"missing rows {missing}"] if missing else []) + (
            [f"rows of unknown arms {extra}"] if extra else []
        )
        problems.append(Problem(where, "arm", "; ".join(parts) + f" (arms: {names})"))
    return problems


def _check_tables(tables: dict[str, pd.DataFrame], names: list[str], d: Path) -> None:
    metrics, eff, draws = tables["metrics"], tables["effectiveness"], tables["draws"]
    for name, frame, needed, numeric in (
        ("metrics", metrics, HEADLINE, dict.fromkeys(HEADLINE, True)),
        (
            "effectiveness",
            eff,
            [c for c in EFFECTIVENESS_COLUMNS if not c.endswith("_per_100bn")],
            {c: not c.endswith("_per_100bn") for c in EFFECTIVENESS_COLUMNS},
        ),
    ):
        path = d / f"{name}.parquet"
        problems = _check_arm_table(frame, names, path)
        problems += _columns(frame, needed, numeric, path, path.name)
        if problems:
            raise InputError(problems, str(path))
    path = d / "draws.parquet"
    problems = _columns(draws, DRAW_COLUMNS, {"draw": True, "value": True}, path, path.name)
    if not problems and len(draws):
        unknown = sorted(set(draws["arm"].astype(str)) - set(names))
        if unknown:
            problems.append(Problem(path.name, "arm", f"rows of unknown arms {unknown}"))
        elif BASELINE not in set(draws["arm"].astype(str)):
            problems.append(Problem(path.name, "arm", f"no '{BASELINE}' rows"))
        elif draws.duplicated(["arm", "draw", "metric"]).any():
            problems.append(Problem(path.name, "metric", "a (arm, draw, metric) appears twice"))
        elif "peak_yield_bp" not in set(draws["metric"].astype(str)):
            problems.append(Problem(path.name, "metric", "no 'peak_yield_bp' rows"))
    if problems:
        raise InputError(problems, str(path))


def _check_result(res: Result, system: System, folder: Path) -> None:
    """The columns of an arm's frames that the report reads, and its scenario."""
    from contagion.scenario import scenario_from_dict

    market = system.market
    problems = []
    needed = [
        *(f"yield_change_{b}_bp" for b in market.bucket_names),
        *(f"swap_spread_change_{b}_bp" for b in market.bucket_names),
        *(f"basis_widening_{c}_bp" for c in market.futures_codes),
        *MARKET_COLUMNS,
    ]
    path = folder / "markets.parquet"
    problems = _columns(res.markets, needed, dict.fromkeys(needed, False), path, path.name)
    index = res.markets.index
    if not len(index) or not pd.api.types.is_integer_dtype(index) or index.min() < 0:
        problems.append(Problem(path.name, "day", "must index the days 0, 1, ... (integers)"))
    if problems:
        raise InputError(problems, str(path))
    for name, cols in FRAME_COLUMNS.items():
        path = folder / f"{name}.parquet"
        frame = getattr(res, name)
        numeric = {c: True for c in cols if c in ("day", "equity_usd_bn", "assets_usd_bn")}
        if name == "events":
            numeric["amount_usd_bn"] = False
        problems = _columns(frame, cols, numeric, path, path.name)
        if name == "institutions" and not problems and frame.empty:
            problems.append(Problem(path.name, "(rows)", "no rows"))
        if problems:
            raise InputError(problems, str(path))
    meta = folder / "metadata.json"
    if not isinstance(res.config.get("scenario"), dict):
        raise InputError(Problem("metadata", "config.scenario", "must be a mapping"), str(meta))
    try:
        scenario_from_dict(res.config["scenario"])
    except InputError as err:
        raise InputError(
            [Problem("metadata", f"config.scenario.{q.field}", q.reason) for q in err.problems],
            str(meta),
        ) from None
    if not any(k.startswith("peak_yield_change_") for k in res.summary):
        raise InputError(
            Problem("metadata", "summary", "no peak_yield_change_<bucket>_bp entry"), str(meta)
        )


def _check_sensitivity(frame: pd.DataFrame, names: list[str], path: Path) -> None:
    numeric = {c: False for c in ("S1", "S1_conf", "ST", "ST_conf")}
    problems = _columns(frame, SENSITIVITY_COLUMNS, numeric, path, path.name)
    if not problems:
        unknown = sorted(set(frame["arm"].astype(str)) - set(names))
        if unknown:
            problems.append(Problem(path.name, "arm", f"rows of unknown arms {unknown}"))
    if problems:
        raise InputError(problems, str(path))


def _check_paths(frame: pd.DataFrame, names: list[str], path: Path) -> None:
    numeric = {"draw": True, "day": True, "value": False}
    problems = _columns(frame, PATH_COLUMNS, numeric, path, path.name)
    if not problems and len(frame):
        unknown = sorted(set(frame["arm"].astype(str)) - set(names))
        if unknown:
            problems.append(Problem(path.name, "arm", f"rows of unknown arms {unknown}"))
        elif (frame["day"] < 0).any():
            problems.append(Problem(path.name, "day", "days are 0, 1, ..."))
        elif frame.duplicated(["arm", "draw", "day", "metric"]).any():
            problems.append(Problem(path.name, "metric", "an (arm, draw, day, metric) twice"))
    if problems:
        raise InputError(problems, str(path))


def load_saved(directory: str | os.PathLike) -> SavedExperiment:
    """Read a directory written by :func:`save_experiment`, checking every file (module
    docstring); :class:`~contagion.InputError` names the file and the field."""
    d = Path(directory)
    if not d.is_dir():
        raise InputError(Problem("result directory", "(path)", "not a directory"), str(d))
    needed = [INFO, *(f"{t}.parquet" for t in TABLES), "system/system.yaml"]
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
    info = _read_info(d)
    names = [a["name"] for a in info["arms"]]
    system = load_system(d / "system")
    results = {}
    for arm in info["arms"]:
        folder = d / arm["folder"]
        res = Result.load(folder)
        _check_result(res, system, folder)
        results[arm["name"]] = res
    tables = {t: read_parquet(d / f"{t}.parquet") for t in TABLES}
    _check_tables(tables, names, d)
    tables["metrics"].index = tables["metrics"].index.astype(str)
    tables["effectiveness"].index = tables["effectiveness"].index.astype(str)
    sens = None
    if info.get("sensitivity") is not None:
        path = d / f"{SENSITIVITY}.parquet"
        if not path.exists():
            raise InputError(Problem("result directory", "(files)", f"missing {path.name}"), str(d))
        sens = read_parquet(path)
        _check_sensitivity(sens, names, path)
    paths = None
    if (d / f"{PATHS}.parquet").exists():
        path = d / f"{PATHS}.parquet"
        paths = read_parquet(path)
        _check_paths(paths, names, path)
    return SavedExperiment(
        **tables, results=results, system=system, info=info, sensitivity=sens, paths=paths
    )
