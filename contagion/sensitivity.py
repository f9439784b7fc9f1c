"""Sobol' sensitivity indices of headline metrics to the uncertain parameters, per arm.

The design is Saltelli's (SALib): with ``base_samples`` N (a power of 2) and k uncertain
parameters, :func:`SALib.sample.sobol.sample` (scrambled Sobol', first and total order
only) gives N (k + 2) points of the unit cube, in blocks ``A, AB_1 .. AB_k, B`` per base
point. Each point is mapped through its parameter's ``ppf``
(:func:`contagion.experiment.unit_to_parameters`; an index depends on the inputs only
through their sigma-algebras, so analysing in the unit cube is exact) and runs in **every
arm** through :func:`contagion.experiment.experiment` (``parameters=``, any backend,
checkpoints), so the arms are compared on the same points. :func:`SALib.analyze.sobol.analyze`
then gives, per arm and metric, first-order ``S1`` and total ``ST`` indices with bootstrap
confidence half-widths (``S1_conf``, ``ST_conf``; seeded, so a table is reproducible).

Degenerate cases, never a silent NaN:

* a metric constant across the points (e.g. no defaults in any draw) has no variance to
  apportion: its indices are reported as 0 with a ``note``;
* fewer than 2 uncertain parameters, or ``base_samples`` not a power of 2:
  :class:`~contagion.InputError` naming the field.

Estimates from small N are noisy (an S1 can be slightly negative, or exceed its ST): read
them with their confidence half-widths. A parameter the run never reads gets exactly 0.

:func:`sobol_indices` runs the same wiring on any model function (tests check it against
closed forms); :func:`sensitivity` runs an experiment's arms.
"""

from __future__ import annotations

import dataclasses
import logging
import numbers
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contagion.errors import InputError, Problem
from contagion.experiment import (
    DEFAULT_UNCERTAINTY,
    HEADLINE,
    SENSITIVITY_METRICS,
    ExperimentConfig,
    ExperimentResult,
    Seed,
    SensitivityConfig,
    _seed_sequence,
    check_uncertainty,
    experiment,
    resolve_parameters,
    unit_to_parameters,
)
from contagion.scenario import Scenario
from contagion.system import System

log = logging.getLogger(__name__)

DEFAULT_METRICS = SENSITIVITY_METRICS
COLUMNS = ["arm", "metric", "parameter", "S1", "S1_conf", "ST", "ST_conf", "note"]
CONSTANT = "constant across the parameter points: no variance to apportion, indices set to 0"
ROUGH_CI = "few points differ: some bootstrap resamples were constant, intervals are rough"
NOT_FINITE = "non-finite values: indices not computed"
CONSTANT_TOL = 1e-12  # a spread below this share of the largest |value| is round-off

Uncertainty = Mapping[str, tuple[float, float, str]]

__all__ = [
    "COLUMNS",
    "DEFAULT_METRICS",
    "SensitivityConfig",
    "check_design",
    "run_sensitivity",
    "sensitivity",
    "sobol_analyze",
    "sobol_design",
    "sobol_indices",
]


def check_design(
    uncertainty: Uncertainty | None, base_samples: int, *, model_params: bool = True
) -> dict[str, tuple[float, float, str]]:
    """The uncertainty (default :data:`~contagion.experiment.DEFAULT_UNCERTAINTY`) after
    checking it and ``base_samples``; :class:`~contagion.InputError` naming the field."""
    unc = dict(DEFAULT_UNCERTAINTY if uncertainty is None else uncertainty)
    check_uncertainty(unc, model_params=model_params)
    if len(unc) < 2:
        raise InputError(
            Problem(
                "sensitivity",
                "uncertainty",
                f"needs at least 2 uncertain parameters, got {len(unc)}: with one, its share "
                "of the variance is 1 by definition (plot the metric against it instead)",
            )
        )
    if (
        isinstance(base_samples, bool)
        or not isinstance(base_samples, numbers.Integral)
        or base_samples < 2
        or base_samples & (base_samples - 1)
    ):
        raise InputError(
            Problem(
                "sensitivity",
                "base_samples",
                f"must be a power of 2 (e.g. 16, 64, 256), got {base_samples!r}",
            )
        )
    return unc


def _seeds(rng: Seed) -> tuple[int, int]:
    """Seeds of the design and of the bootstrap, from one seed (not consumed)."""
    state = _seed_sequence(rng).generate_state(2)
    # SALib treats a falsy analysis seed as "unseeded": keep it >= 1
    return int(state[0]), int(state[1]) + 1


def _problem(names: Sequence[str]) -> dict[str, Any]:
    return {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}


def sobol_design(
    uncertainty: Uncertainty | None,
    base_samples: int,
    rng: Seed = None,
    *,
    model_params: bool = True,
) -> tuple[np.ndarray, list[dict[str, float]]]:
    """The Saltelli points: unit-cube rows (N (k + 2) x k) and their parameter values."""
    from SALib.sample import sobol as salib_sample

    unc = check_design(uncertainty, base_samples, model_params=model_params)
    seed, _ = _seeds(rng)
    unit = salib_sample.sample(
        _problem(list(unc)), int(base_samples), calc_second_order=False, scramble=True, seed=seed
    )
    return unit, unit_to_parameters(unit, unc)


def _analyze_one(
    problem: dict[str, Any], y: np.ndarray, seed: int, num_resamples: int, conf_level: float
) -> Any:
    """(S1, S1_conf, ST, ST_conf) arrays and a note for one output vector."""
    from SALib.analyze import sobol as salib_analyze

    k = problem["num_vars"]
    if not np.isfinite(y).all():
        nan = np.full(k, np.nan)
        return (nan, nan, nan, nan), NOT_FINITE
    if np.ptp(y) <= CONSTANT_TOL * max(1.0, float(np.abs(y).max())):
        zero = np.zeros(k)
        return (zero, zero, zero, zero), CONSTANT
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        si = salib_analyze.analyze(
            problem, y, calc_second_order=False, num_resamples=num_resamples,
            conf_level=conf_level, seed=seed,
        )  # fmt: skip
    note = ""
    for w in caught:
        if "constant" in str(w.message).lower():
            note = ROUGH_CI
        else:  # anything else is not ours to hide
            warnings.warn(w.message, w.category, stacklevel=3)
    out = tuple(np.asarray(si[key], dtype=float) for key in ("S1", "S1_conf", "ST", "ST_conf"))
    if not all(np.isfinite(v).all() for v in out):
        note = (note + "; " if note else "") + "some estimates are not finite"
    return out, note


def sobol_analyze(
    outputs: Mapping[str, Sequence[float] | np.ndarray],
    names: Sequence[str],
    *,
    rng: Seed = None,
    num_resamples: int = 100,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Indices of each output (in the order of :func:`sobol_design`'s points).

    Returns a tidy frame: metric, parameter, S1, S1_conf, ST, ST_conf, note.
    """
    if len(names) < 2:
        raise InputError(Problem("sensitivity", "uncertainty", "needs at least 2 parameters"))
    if not 0 < conf_level < 1:
        raise InputError(Problem("sensitivity", "conf_level", "must be between 0 and 1"))
    if isinstance(num_resamples, bool) or int(num_resamples) != num_resamples or num_resamples < 2:
        raise InputError(Problem("sensitivity", "num_resamples", "must be a whole number >= 2"))
    problem = _problem(names)
    _, seed = _seeds(rng)
    rows = []
    for metric, values in outputs.items():
        y = np.asarray(values, dtype=float).ravel()
        if len(y) % (len(names) + 2) or not len(y):
            raise InputError(
                Problem(
                    "sensitivity",
                    metric,
                    f"{len(y)} values is not a multiple of k + 2 = {len(names) + 2} "
                    "(one per point of the Sobol' design)",
                )
            )
        (s1, s1c, st, stc), note = _analyze_one(problem, y, seed, int(num_resamples), conf_level)
        for j, name in enumerate(names):
            rows.append((metric, name, s1[j], s1c[j], st[j], stc[j], note))
    return pd.DataFrame(rows, columns=COLUMNS[1:]).astype({c: float for c in COLUMNS[3:7]})


def sobol_indices(
    model: Callable[[list[dict[str, float]]], Mapping[str, Sequence[float]] | Sequence[float]],
    uncertainty: Uncertainty,
    *,
    base_samples: int = 64,
    rng: Seed = None,
    num_resamples: int = 100,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Sobol' indices of any model: ``model(points)`` takes the list of parameter dicts and
    returns one value per point (metric ``"y"``) or a mapping metric -> values.

    ``uncertainty``: name -> (low, high, "uniform" | "loguniform"), any names.
    """
    unc = check_design(uncertainty, base_samples, model_params=False)
    _, params = sobol_design(unc, base_samples, rng, model_params=False)
    out = model(params)
    outputs = dict(out) if isinstance(out, Mapping) else {"y": out}
    return sobol_analyze(
        outputs, list(unc), rng=rng, num_resamples=num_resamples, conf_level=conf_level
    )


def sensitivity(
    system: System,
    scenario: Scenario,
    arms: Mapping[str, Sequence[Any]],
    *,
    base_samples: int = 64,
    metrics: Sequence[str] = DEFAULT_METRICS,
    uncertainty: Uncertainty | None = None,
    rng: Seed = None,
    num_resamples: int = 100,
    conf_level: float = 0.95,
    parameter_set: str = "auto",
    model_params: Mapping[str, float] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Sobol' indices of headline metrics per policy arm (``no_action`` added if missing).

    The parameters and the default ranges are those of
    :func:`~contagion.experiment.resolve_parameters`: on a system with fitted parameters
    the indices are taken around the fit, over its ranges (``parameter_set="defaults"``:
    the package defaults and :data:`~contagion.experiment.DEFAULT_UNCERTAINTY`).

    Every point of the design runs in every arm, on any backend: ``options`` go to
    :func:`~contagion.experiment.experiment` (``backend``, ``workers``, ``scheduler``,
    ``checkpoint_dir``, ``progress``, ``chunk_size``; ``progress=True`` writes a line per
    finished chunk to standard error). ``metrics``: headline metrics
    (:data:`~contagion.experiment.HEADLINE`; default peak 10y yield change, fire-sale
    volume, defaults). Returns the tidy frame (arm, metric, parameter, S1, S1_conf, ST,
    ST_conf, note); ``attrs`` describe the design (base samples, points, runs, parameters).
    """
    metrics = list(metrics)
    unknown = [m for m in metrics if m not in HEADLINE]
    if unknown or not metrics or len(set(metrics)) != len(metrics):
        raise InputError(
            Problem(
                "sensitivity",
                "metrics",
                f"a non-empty list of distinct headline metrics ({', '.join(HEADLINE)})",
            )
        )
    for bad in ("draws", "uncertainty", "sampling", "parameters"):
        if bad in options:
            raise InputError(Problem("sensitivity", bad, "is set by the Sobol' design"))
    resolved = resolve_parameters(system, scenario, parameter_set, model_params, uncertainty)
    unc = check_design(resolved.uncertainty, base_samples)
    _, params = sobol_design(unc, base_samples, rng)
    log.info(
        "Sobol' design: %d points (N = %d, %d parameters), each in %d arms",
        len(params), base_samples, len(unc), len(arms) + (0 if "no_action" in arms else 1),
    )  # fmt: skip
    ex = experiment(
        system, scenario, arms, parameters=params, rng=rng, parameter_set=parameter_set,
        model_params=model_params, keep_paths=False, **options,
    )  # fmt: skip
    wide = ex.draws[ex.draws["metric"].isin(metrics)].pivot(
        index="draw", columns=["arm", "metric"], values="value"
    )
    frames = []
    for arm in ex.metrics.index:
        table = sobol_analyze(
            {m: wide[(arm, m)].to_numpy() for m in metrics}, list(unc), rng=rng,
            num_resamples=num_resamples, conf_level=conf_level,
        )  # fmt: skip
        frames.append(table.assign(arm=arm))
    out = pd.concat(frames, ignore_index=True)[COLUMNS]
    out.attrs = {
        "method": "sobol",
        "base_samples": int(base_samples),
        "points": len(params),
        "runs": len(params) * len(ex.metrics.index),
        "parameters": {k: [float(v[0]), float(v[1]), v[2]] for k, v in unc.items()},
        "metrics": metrics,
        "num_resamples": int(num_resamples),
        "conf_level": float(conf_level),
        "parameter_set": resolved.record["set"],
    }
    return out


def run_sensitivity(
    config: ExperimentConfig,
    system: System,
    scenario: Scenario,
    result: ExperimentResult,
    **options: Any,
) -> ExperimentResult:
    """``result`` with the indices of ``config.sensitivity`` attached (same options as the
    experiment; a checkpoint goes to ``checkpoint_dir/sensitivity``; resuming one needs a
    ``seed``, since without one every run draws a new design)."""
    from contagion.experiment import config_parameters

    sens = config.sensitivity or SensitivityConfig()
    pset, overrides = config_parameters(config)
    if options.get("checkpoint_dir") is not None:
        options = {**options, "checkpoint_dir": Path(options["checkpoint_dir"]) / "sensitivity"}
    table = sensitivity(
        system, scenario, config.arms, base_samples=sens.base_samples, metrics=sens.metrics,
        uncertainty=config.uncertainty, rng=config.seed, num_resamples=sens.num_resamples,
        conf_level=sens.conf_level, parameter_set=pset, model_params=overrides,
        standing=config.standing, **options,
    )  # fmt: skip
    return dataclasses.replace(result, sensitivity=table)
