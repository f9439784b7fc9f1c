"""Bundled example systems, shipped as package data (no download).

* :func:`toy_basis_trade`: eleven institutions, every number hand-checkable. Amounts in USD bn
  (Treasuries at par; all prices start at 100, so par = market value)::

    ============  ===========================================================  ======  ========
    institution   position                                                     equity  leverage
    ============  ===========================================================  ======  ========
    hf_alpha      10y 100, cash 1, TY short 100 (IM 2), repo 100 @ 0% (dealer_a)   3.00    34.3
    hf_beta       5y 50, cash 1, FV short 50 (IM 0.75), repo 49 @ 2% (dealer_b)    2.75    18.8
    hf_gamma      30y 20, cash 0.6, pays fixed 30y swap 20 (IM 0.4), repo 20 @ 0%  1.00    21.0
                  (sponsored, from ccp_ficc; sponsor dealer_a, the largest dealer)
    dealer_a      cash 20, 2y 30, 10y 20, other 50; reverse repo 100; repo 100 @   12.00   18.3
                  2% from mmf_gov; other liabilities 108
    dealer_b      cash 10, 5y 20, other 30; reverse repo 49; repo 45 @ 2%; other   8.00    13.6
                  liabilities 56
    mmf_gov       cash 30; lends 100 + 45 tri-party, 20 sponsored (to ccp_ficc),    245.00   1.0
                  50 ON RRP
    am_pension    cash 20, 10y 100, 30y 50; TY long 100, FV long 50, receives        173.15   1.0
                  fixed 30y swap 20 (IM 2 + 0.75 + 0.4)
    ccp           holds IM 6.3 as cash plus 1 of its own                          1.00    7.3
    ccp_ficc      FICC: borrows 20 sponsored from mmf_gov, lends 20 to hf_gamma;   0.50   41.0
                  cash 0.5 of its own (a matched book)
    fed           5y 100, 10y 200; ON RRP 50, reserves and currency 250            0.00     -
    foreign_off.  cash 10, 10y 200, 30y 50                                        260.00   1.0
    ============  ===========================================================  ======  ========

  Futures: conversion factor 1, price 99.9, so every basis is 0.1 price points.
* :func:`stylised_us_2025`: a system of realistic size and aggregates (see its docstring).
* :func:`calibrated_us_2025`: the calibrated system of the main job: the latest public-data
  vintage built by :mod:`calibration` with the parameters fitted to March 2020; its fitted
  model-level parameters (price impact, margins, ...) are in its metadata
  (:func:`model_params`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from contagion.io import from_dict
from contagion.system import System

if TYPE_CHECKING:
    from contagion.scenario import ModelParams, Scenario


class FitCarrier(Protocol):
    """What the parameter helpers read of a system: its name and metadata (a
    :class:`~contagion.System`, or the system recorded in a saved run's config)."""

    @property
    def name(self) -> str: ...

    @property
    def metadata(self) -> Mapping[str, Any]: ...


BUNDLED = ("toy_basis_trade", "stylised_us_2025", "calibrated_us_2025")
#: The toy's equity by institution, USD bn: the equity column of the table above, stated
#: independently of the YAML so tests can check the loaded system against it.
TOY_EQUITY_USD_BN = {
    "hf_alpha": 3.0,
    "hf_beta": 2.75,
    "hf_gamma": 1.0,
    "dealer_a": 12.0,
    "dealer_b": 8.0,
    "mmf_gov": 245.0,
    "am_pension": 173.15,
    "ccp": 1.0,
    "fed": 0.0,
    "foreign_official": 260.0,
}


@cache
def _document(name: str) -> dict:
    folder = files("contagion") / "data" / "systems"
    if (folder / f"{name}.json").is_file():  # large systems: JSON parses ~50x faster
        return json.loads((folder / f"{name}.json").read_text("utf-8"))
    return yaml.safe_load((folder / f"{name}.yaml").read_text("utf-8"))


def load_bundled(name: str) -> System:
    """A bundled system by name (see :data:`BUNDLED`)."""
    if name not in BUNDLED:
        from contagion.errors import InputError, Problem

        raise InputError(
            Problem(
                "system",
                "name",
                f"unknown bundled system {name!r}; available: {', '.join(BUNDLED)}",
            )
        )
    return from_dict(_document(name), source=f"bundled:{name}")


def toy_basis_trade() -> System:
    """The eleven-institution hand-checkable basis-trade system (module docstring).

    Examples
    --------
    >>> toy_basis_trade().n_institutions
    11
    """
    return load_bundled("toy_basis_trade")


def stylised_us_2025() -> System:
    """A stylised US Treasury system of realistic size (placeholder numbers until calibrated).

    Examples
    --------
    >>> stylised_us_2025().n_institutions > 100
    True
    """
    return load_bundled("stylised_us_2025")


def calibrated_us_2025() -> System:
    """The calibrated US Treasury system (latest vintage, parameters fitted to March 2020).

    Run it with its fitted model parameters: ``scenario.with_params(**model_params(system))``.

    Examples
    --------
    >>> calibrated_us_2025().metadata["calibrated"]
    True
    """
    return load_bundled("calibrated_us_2025")


def model_params(system: FitCarrier) -> dict[str, float]:
    """The model-level parameters a system was calibrated with (``metadata.model_params``),
    for :meth:`contagion.Scenario.with_params`; empty for an uncalibrated system."""
    raw = system.metadata.get("model_params") or {}
    return {str(k): float(v) for k, v in raw.items()}


def model_params_uncertainty(system: FitCarrier) -> dict[str, tuple[float, float, str]] | None:
    """Draw ranges of the calibrated parameters (``metadata.model_params_uncertainty``: the
    fit's estimate +/- 2 std errors) for :func:`contagion.experiment.experiment`; None for an
    uncalibrated system (experiments then use ``DEFAULT_UNCERTAINTY``)."""
    raw = system.metadata.get("model_params_uncertainty")
    if not raw:
        return None
    return {str(k): (float(v[0]), float(v[1]), str(v[2])) for k, v in raw.items()}


#: Where a model parameter's value came from (see :func:`parameter_origins`).
ORIGINS = ("fitted", "scenario", "experiment", "default")


def fit_description(system: FitCarrier) -> str | None:
    """One line on what a system's parameters were fitted to (``metadata.fit_episode``,
    ``fit_date``), or None for a system that carries no fitted parameters."""
    if not model_params(system):
        return None
    meta = system.metadata
    episode = str(meta.get("fit_episode") or "an unnamed episode").replace("_", " ")
    text = f"fitted to the {episode} episode"
    if meta.get("fit_date"):
        text += f" (fit of {meta['fit_date']})"
    return text + f", carried by system {system.name!r}"


def scenario_set_params(scenario: Scenario) -> set[str]:
    """Model parameters a scenario sets itself: given explicitly and different from the
    package default (a scenario that went through ``with_params`` marks every field as set,
    so the value decides)."""
    from contagion.scenario import ModelParams

    default = ModelParams()
    p = scenario.params
    return {k for k in p.model_fields_set if getattr(p, k) != getattr(default, k)}


def with_fitted_params(scenario: Scenario, system: System, *, strict: bool = True) -> Scenario:
    """``scenario`` with the fitted model parameters of ``system`` (the explicit helper for
    :func:`contagion.simulate`; :func:`contagion.experiment.experiment` applies them itself).

    A parameter the scenario sets itself (:func:`scenario_set_params`) keeps the
    scenario's value. ``strict``: a system without fitted parameters is an
    :class:`~contagion.InputError`; otherwise ``scenario`` comes back unchanged.

    Examples
    --------
    >>> import contagion as c
    >>> system = c.examples.calibrated_us_2025()
    >>> sc = with_fitted_params(c.scenarios.load("basis_unwind"), system)
    >>> sc.params.impact_bp_per_usd_bn == model_params(system)["impact_bp_per_usd_bn"]
    True
    """
    fitted = model_params(system)
    if not fitted:
        if not strict:
            return scenario
        from contagion.errors import InputError, Problem

        raise InputError(
            Problem(
                "system",
                "metadata.model_params",
                f"system {system.name!r} carries no fitted parameters (run it with the "
                "package defaults, or calibrate it first)",
            )
        )
    own = scenario_set_params(scenario)
    return scenario.with_params(**{k: v for k, v in fitted.items() if k not in own})


def parameter_origins(
    params: ModelParams,
    system: FitCarrier,
    *,
    fitted_used: bool,
    overrides: Collection[str] = (),
    scenario_own: Collection[str] = (),
) -> dict[str, str]:
    """Per model parameter, where its value came from: ``experiment`` (an override),
    ``scenario`` (the scenario's own value), ``fitted`` (the system's fit) or ``default``
    (the package default of :class:`contagion.ModelParams`)."""
    from contagion.scenario import ModelParams

    fitted = model_params(system) if fitted_used else {}
    default = ModelParams()
    out = {}
    for k in ModelParams.model_fields:
        v = getattr(params, k)
        if k in overrides:
            out[k] = "experiment"
        elif k in fitted and v == fitted[k]:
            out[k] = "fitted"
        elif k in scenario_own or v != getattr(default, k):
            out[k] = "scenario"
        else:
            out[k] = "default"
    return out


def describe_parameters(params: ModelParams, system: FitCarrier) -> dict[str, Any]:
    """What parameter set a run used, read from its values alone (for a
    :class:`~contagion.Result`): ``set`` is ``fitted`` when every fitted parameter of the
    system has its fitted value, ``defaults`` when every parameter has the package default,
    else ``mixed``; with the values, their origins and a one-line description."""
    fitted = model_params(system)
    values = params.model_dump()
    if fitted and all(values.get(k) == v for k, v in fitted.items()):
        origins = parameter_origins(params, system, fitted_used=True)
    else:
        origins = parameter_origins(params, system, fitted_used=False)
    used = set(origins.values())
    name = (
        "fitted"
        if "fitted" in used and fitted and all(origins[k] == "fitted" for k in fitted)
        else "defaults"
        if used == {"default"}
        else "mixed"
    )
    return {
        "set": name,
        "description": parameter_set_text(name, system, origins),
        "values": values,
        "origin": origins,
    }


def parameter_set_text(name: str, system: FitCarrier, origins: dict[str, str]) -> str:
    """One sentence naming a parameter set and what differs from it."""
    others = sorted(k for k, o in origins.items() if o in ("scenario", "experiment"))
    if name == "fitted":
        text = f"Fitted parameters: {fit_description(system)}"
    elif name == "defaults":
        text = "Package defaults (contagion.ModelParams): no fitted parameters applied"
        if model_params(system):
            text += f" although system {system.name!r} carries a fit"
    else:
        text = "Mixed parameters: neither the system's fit nor the package defaults throughout"
    if others:
        text += "; set by the scenario or experiment: " + ", ".join(others)
    return text + "."
