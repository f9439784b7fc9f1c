"""Calibration data for contagion: dated snapshots of public aggregates and episode paths,
the granular system builder, the episode scenarios and the fitted parameters.

Values carry their unit in the name suffix (``_usd_bn`` USD billions, ``_frac`` fraction,
``_pct`` percent, ``_bp`` basis points); see :mod:`calibration.snapshot`.

* :func:`build_system` (:mod:`calibration.build`): a validated system from a vintage.
* :func:`episode` (:mod:`calibration.episodes`): (system, scenario, policies) of
  ``"march_2020"`` (fit) or ``"april_2025"`` (out of sample).
* :func:`fitted_params` (:mod:`calibration.fit`): the shipped fitted parameters;
  :func:`calibrated_system` and :func:`scenario_params` apply them to the ``latest`` vintage.
* :mod:`calibration.sources`: loaders for the official public-data formats (CFTC TFF,
  FRED/ALFRED, NY Fed, FR 2004, Fed DDP, OFR, MSPD), the shipped raw extracts and their
  provenance; :func:`build_snapshot` rebuilds a vintage's rows from those extracts and
  :func:`download` fetches the same official files (``python -m calibration download``).
* :func:`load_snapshot` also reads a user's snapshot folder or CSV (:func:`parse_aggregates`).
"""

from __future__ import annotations

from typing import Any

from calibration import sources
from calibration.build import build_system
from calibration.download import download
from calibration.episodes import counterfactual_no_fed, episode
from calibration.fit import fitted_params, load_fitted
from calibration.snapshot import (
    Snapshot,
    SnapshotError,
    available_episodes,
    available_vintages,
    load_episode,
    load_snapshot,
    parse_aggregates,
    write_snapshot,
)
from calibration.sources.assemble import build_snapshot


def calibrated_system(
    vintage: str = "latest", seed: int = 0, params_file: Any = None, **kwargs: Any
):
    """The ``latest`` (by default) system with the fitted institution-level parameters and
    dealer capacity applied (:func:`calibration.episodes.apply_params`).

    Model-level parameters live in the scenario: use :func:`scenario_params`.
    """
    from calibration.episodes import FITTED_NAMES, apply_params
    from contagion.scenario import Scenario

    system = build_system(vintage, seed=seed, **kwargs)
    fitted = fitted_params(params_file)
    params = {k: v for k, v in fitted.items() if FITTED_NAMES[k] != "model"}
    system, _ = apply_params(system, Scenario(), params)
    return system


#: Name of the bundled calibrated system (``contagion.examples.calibrated_us_2025``).
CALIBRATED_NAME = "calibrated_us_2025"


def bundled_calibrated_document(seed: int = 0, params_file: Any = None) -> dict:
    """The bundled calibrated system as a document (``contagion.io.to_dict``): the
    ``latest`` vintage with the fitted parameters, and the fitted model-level parameters in
    ``metadata.model_params`` so that runs on it can use them
    (``contagion.examples.model_params``; ``model_params: system`` in an experiment)."""
    from calibration.episodes import FITTED_NAMES, FIXED_MODEL_PARAMS
    from contagion.io import to_dict

    system = calibrated_system("latest", seed=seed, params_file=params_file)
    fitted = load_fitted(params_file)
    doc = to_dict(system)
    doc["name"] = CALIBRATED_NAME
    doc["description"] = (
        "US Treasury system built from the latest public-data vintage "
        f"({system.metadata.get('as_of')}) by calibration.build_system(seed={seed}), with the "
        f"parameters fitted to March 2020 on {fitted['fit_date']} (calibration.fit)."
    )
    doc["metadata"] = {
        **doc.get("metadata", {}),
        "calibrated": True,
        "fit_date": fitted["fit_date"],
        "fit_episode": fitted["episode"],
        "model_params_uncertainty": calibrated_uncertainty(params_file),
        "model_params": {
            **FIXED_MODEL_PARAMS,
            **{
                k: float(v)
                for k, v in fitted_params(params_file).items()
                if FITTED_NAMES[k] == "model"
            },
        },
    }
    return doc


def calibrated_uncertainty(params_file: Any = None, width: float = 2.0) -> dict:
    """Draw ranges of the fitted model-level parameters for experiments on the calibrated
    system: estimate +/- ``width`` std errors (Gauss-Newton, ``calibration.fit``) inside the
    parameter's bounds, uniform; ``{name: [low, high, "uniform"]}``. Parameters whose range
    would be empty are left out. The named assumptions that are not fitted
    (``ModelParams.assumption_ranges``) are drawn over their stated ranges."""
    from calibration.episodes import FITTED_NAMES
    from calibration.fit import uncertainty_box
    from contagion.scenario import ModelParams

    out = {}
    for name, rec in load_fitted(params_file)["parameters"].items():
        if FITTED_NAMES[name] != "model":
            continue
        lo, hi = uncertainty_box(rec, width)
        if hi > lo:
            out[name] = [lo, hi, "uniform"]
    for name, (lo, hi, dist) in ModelParams.assumption_ranges().items():
        out.setdefault(name, [lo, hi, dist])
    return out


def write_bundled_calibrated(path: Any = None, seed: int = 0, params_file: Any = None):
    """Write the calibrated system from a fitted-parameter file (default: the shipped one) to
    ``path`` (default: the bundled package data file) as JSON, one record per line (a
    YAML file of this size takes seconds to parse; JSON milliseconds, and it stays diffable).
    """
    import json
    from pathlib import Path

    from contagion.io import atomic_write_text

    if path is None:
        path = Path(__file__).parents[1] / "contagion" / "data" / "systems"
        path = path / f"{CALIBRATED_NAME}.json"
    doc = bundled_calibrated_document(seed, params_file)
    parts = []
    for key, value in doc.items():
        if isinstance(value, list):
            rows = ",\n".join(json.dumps(r, sort_keys=True) for r in value)
            parts.append(f"{json.dumps(key)}: [\n{rows}\n]")
        else:
            parts.append(f"{json.dumps(key)}: {json.dumps(value, indent=1, sort_keys=True)}")
    atomic_write_text(path, "{\n" + ",\n".join(parts) + "\n}\n")
    return Path(path)


def scenario_params(**overrides: float):
    """:class:`contagion.ModelParams` with the fitted model-level parameters (and overrides).

    Use as ``Scenario(..., params=calibration.scenario_params())`` or
    ``scenario.model_copy(update={"params": calibration.scenario_params()})``.
    """
    from calibration.episodes import FITTED_NAMES, FIXED_MODEL_PARAMS
    from contagion.scenario import ModelParams

    fitted = {k: v for k, v in fitted_params().items() if FITTED_NAMES[k] == "model"}
    return ModelParams.model_validate(
        {**ModelParams().model_dump(), **FIXED_MODEL_PARAMS, **fitted, **overrides}
    )


__all__ = [
    "CALIBRATED_NAME",
    "Snapshot",
    "SnapshotError",
    "available_episodes",
    "available_vintages",
    "build_snapshot",
    "build_system",
    "bundled_calibrated_document",
    "calibrated_system",
    "calibrated_uncertainty",
    "counterfactual_no_fed",
    "download",
    "episode",
    "fitted_params",
    "load_episode",
    "load_fitted",
    "load_snapshot",
    "parse_aggregates",
    "scenario_params",
    "sources",
    "write_bundled_calibrated",
    "write_snapshot",
]
