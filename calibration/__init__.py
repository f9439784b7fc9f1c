"""Calibration data for contagion: dated snapshots of public aggregates and episode paths,
the granular system builder, the episode scenarios and the fitted parameters.

Values carry their unit in the name suffix (``_usd_bn`` USD billions, ``_frac`` fraction,
``_pct`` percent, ``_bp`` basis points); see :mod:`calibration.snapshot`.

* :func:`build_system` (:mod:`calibration.build`): a validated system from a vintage.
* :func:`episode` (:mod:`calibration.episodes`): (system, scenario, policies) of
  ``"march_2020"`` (fit) or ``"april_2025"`` (out of sample).
* :func:`fitted_params` (:mod:`calibration.fit`): the shipped fitted parameters;
  :func:`calibrated_system` and :func:`scenario_params` apply them to the ``latest`` vintage.
"""

from __future__ import annotations

from typing import Any

from calibration.build import build_system
from calibration.episodes import counterfactual_no_fed, episode
from calibration.fit import fitted_params, load_fitted
from calibration.snapshot import (
    Snapshot,
    SnapshotError,
    available_episodes,
    available_vintages,
    load_episode,
    load_snapshot,
)


def calibrated_system(vintage: str = "latest", seed: int = 0, **kwargs: Any):
    """The ``latest`` (by default) system with the fitted institution-level parameters and
    dealer capacity applied (:func:`calibration.episodes.apply_params`).

    Model-level parameters live in the scenario: use :func:`scenario_params`.
    """
    from calibration.episodes import FITTED_NAMES, apply_params
    from contagion.scenario import Scenario

    system = build_system(vintage, seed=seed, **kwargs)
    params = {k: v for k, v in fitted_params().items() if FITTED_NAMES[k] != "model"}
    system, _ = apply_params(system, Scenario(), params)
    return system


def scenario_params(**overrides: float):
    """:class:`contagion.ModelParams` with the fitted model-level parameters (and overrides).

    Use as ``Scenario(..., params=calibration.scenario_params())`` or
    ``scenario.model_copy(update={"params": calibration.scenario_params()})``.
    """
    from calibration.episodes import FITTED_NAMES
    from contagion.scenario import ModelParams

    fitted = {k: v for k, v in fitted_params().items() if FITTED_NAMES[k] == "model"}
    return ModelParams.model_validate({**ModelParams().model_dump(), **fitted, **overrides})


__all__ = [
    "Snapshot",
    "SnapshotError",
    "available_episodes",
    "available_vintages",
    "build_system",
    "calibrated_system",
    "counterfactual_no_fed",
    "episode",
    "fitted_params",
    "load_episode",
    "load_fitted",
    "load_snapshot",
    "scenario_params",
]
