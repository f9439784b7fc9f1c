"""Policies: plug-ins behind one small interface (see :mod:`contagion.policies.base`).

One module per tool or family of tools (purchases, the Standing Repo Facility,
regulation, ...); ``contagion policies`` and :func:`registry.policy_types` list what is
bundled. Every module of this package is imported here, and every tool registers itself
(:func:`contagion.policies.registry.register`); the registry serves the YAML ``type:``
lookup, experiment files and ``contagion policies``. Configs are validated pydantic
models; :func:`policy_from_dict` and :func:`load_policy` build them from documents with clear
errors, and ``config.build()`` gives the runtime object that :func:`contagion.simulate`
takes.
"""

from __future__ import annotations

import importlib
import math
import os
import pkgutil
from typing import Any

from pydantic import ValidationError

from contagion.errors import InputError, Problem
from contagion.policies import registry
from contagion.policies.base import Policy, PolicyConfig, PolicyCosts, Trigger, UsageRecord
from contagion.policies.facilities import StandingRepoConfig
from contagion.policies.purchases import BasisFacilityConfig, QEConfig, SovereignFundConfig
from contagion.policies.regulation import (
    APCMarginConfig,
    CentralClearingConfig,
    MinimumHaircutConfig,
    SLRReliefConfig,
)

# every tool module registers its config on import: a new tool is a new module, nothing else
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")


def __getattr__(name: str) -> Any:
    if name == "POLICY_TYPES":  # the registered types (a tool may register later)
        return registry.policy_types()
    raise AttributeError(name)


def policy_from_dict(doc: Any, *, source: str | None = None) -> PolicyConfig:
    """Validate one policy document (``type`` picks the tool) with clear errors."""
    types = registry.policy_types()
    if isinstance(doc, dict) and doc.get("type") not in types:
        raise InputError(
            Problem(
                "policy",
                "type",
                f"unknown policy type {doc.get('type')!r}; allowed: {', '.join(types)}",
            ),
            source,
        )
    try:
        config = registry.adapter().validate_python(doc)
    except ValidationError as err:
        raise InputError.from_validation(err, "policy", source, skip=1, empty="(policy)") from None
    from contagion.validation import coerced_booleans

    dumped = config.model_dump()
    problems = [
        Problem("policy", f, "must be a number, not a boolean")
        for f in coerced_booleans(doc, dumped)
    ]
    problems += _amount_problems(dumped, ())
    if problems:
        raise InputError(problems, source)
    return config


def _amount_problems(value: Any, path: tuple[str, ...]) -> list[Problem]:
    """Numbers nested in schedules and price limits: finite; amounts (``_usd_bn``) >= 0.

    The config models leave some nested numbers (``schedule_usd_bn``, ``max_price``)
    unbounded; a NaN, an infinity or a negative purchase would otherwise reach the engine.
    """
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _amount_problems(v, (*path, str(k)))]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in _amount_problems(v, (*path, str(i)))]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return []
    field = ".".join(path)
    if not math.isfinite(value):
        return [Problem("policy", field, f"must be a finite number, got {value}")]
    if value < 0 and any(part.endswith("_usd_bn") for part in path):
        return [Problem("policy", field, f"must be >= 0 (USD bn), got {value}")]
    if value <= 0 and path[:1] == ("max_price",):
        return [Problem("policy", field, f"must be > 0 (per 100 face), got {value}")]
    return []


def load_policy(path: str | os.PathLike) -> PolicyConfig:
    """Load a policy config from YAML or JSON."""
    from contagion.io import read_document

    return policy_from_dict(read_document(path), source=str(path))


def build(policies) -> tuple[Policy, ...]:
    """Runtime policies from configs (or already-built policies)."""
    return tuple(p.build() if isinstance(p, PolicyConfig) else p for p in policies)


__all__ = [
    "POLICY_TYPES",
    "APCMarginConfig",
    "BasisFacilityConfig",
    "CentralClearingConfig",
    "MinimumHaircutConfig",
    "Policy",
    "PolicyConfig",
    "PolicyCosts",
    "QEConfig",
    "SLRReliefConfig",
    "SovereignFundConfig",
    "StandingRepoConfig",
    "Trigger",
    "UsageRecord",
    "build",
    "load_policy",
    "policy_from_dict",
    "registry",
]
