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

from contagion.errors import InputError, Problem, text_problem
from contagion.policies import registry
from contagion.policies.base import Policy, PolicyConfig, PolicyCosts, Trigger, UsageRecord
from contagion.policies.facilities import StandingRepoConfig
from contagion.policies.purchases import BasisFacilityConfig, QEConfig, SovereignFundConfig
from contagion.policies.rates import PolicyRateConfig
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

    problems = [
        Problem("policy", f, "must be a number, not a boolean")
        for f in coerced_booleans(doc, config.model_dump())
    ]
    if problems:
        raise InputError(problems, source)
    return check_config(config, source=source)


def check_config(config: PolicyConfig, *, source: str | None = None) -> PolicyConfig:
    """The checks beyond the config model (:func:`_amount_problems`), for configs built in
    Python as well as loaded from files; returns ``config``."""
    problems = _amount_problems(config.model_dump(), ())
    if problems:
        raise InputError(problems, source)
    return config


#: Largest number anywhere in a policy config (a budget, a schedule entry, a price limit,
#: a threshold): the bound on table amounts, :data:`contagion.validation.MAX_AMOUNT_USD_BN`.
MAX_POLICY_NUMBER = 1e9


def _amount_problems(value: Any, path: tuple[str, ...]) -> list[Problem]:
    """Numbers nested in schedules and price limits: finite, at most
    :data:`MAX_POLICY_NUMBER` in size; amounts (``_usd_bn``) >= 0; text (names, bucket
    keys) free of control and format characters.

    The config models leave some nested numbers (``schedule_usd_bn``, ``max_price``)
    unbounded; a NaN, an infinity, a negative purchase or a number near the float limit
    would otherwise reach the engine (and overflow there).
    """
    field = ".".join(path) or "(policy)"
    if isinstance(value, dict):
        problems = [
            Problem("policy", f"{field}.{k}", f"key {reason}")
            for k in value
            if isinstance(k, str) and (reason := text_problem(k))
        ]
        return problems + [
            p for k, v in value.items() for p in _amount_problems(v, (*path, str(k)))
        ]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in _amount_problems(v, (*path, str(i)))]
    if isinstance(value, str):
        reason = text_problem(value)
        return [Problem("policy", field, reason)] if reason else []
    if isinstance(value, bool) or not isinstance(value, int | float):
        return []
    if not math.isfinite(value):
        return [Problem("policy", field, f"must be a finite number, got {value}")]
    if abs(value) > MAX_POLICY_NUMBER:
        return [Problem("policy", field, f"must be at most {MAX_POLICY_NUMBER:g} in size")]
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
    "PolicyRateConfig",
    "QEConfig",
    "SLRReliefConfig",
    "SovereignFundConfig",
    "StandingRepoConfig",
    "Trigger",
    "UsageRecord",
    "build",
    "check_config",
    "load_policy",
    "policy_from_dict",
    "registry",
]
