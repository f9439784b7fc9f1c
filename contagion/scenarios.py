"""Bundled scenarios, shipped as package data.

* ``volatility_spike``: the volatility index doubles over three days, no rate shock.
* ``basis_unwind``: a severe stress: a volatility spike with a long-end rate shock, margin
  hikes, haircut add-ons, exogenous selling, redemptions and a dealer-capacity shock.
"""

from __future__ import annotations

from importlib.abc import Traversable
from importlib.resources import files

import yaml

from contagion.errors import InputError, Problem
from contagion.scenario import Scenario, scenario_from_dict


def _dir() -> Traversable:
    return files("contagion") / "data" / "scenarios"


def available() -> list[str]:
    """Names of the bundled scenarios.

    Examples
    --------
    >>> "basis_unwind" in available()
    True
    """
    return sorted(p.name[:-5] for p in _dir().iterdir() if p.name.endswith(".yaml"))


def load(name: str) -> Scenario:
    """A bundled scenario by name."""
    if name not in available():
        raise InputError(
            Problem(
                "scenario",
                "name",
                f"unknown scenario {name!r}; available: {', '.join(available())}",
            )
        )
    doc = yaml.safe_load((_dir() / f"{name}.yaml").read_text("utf-8"))
    return scenario_from_dict(doc, source=f"bundled:{name}")
