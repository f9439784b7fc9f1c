"""Policy experiments: paired counterfactual arms on the same shocks and parameter draws.

:func:`experiment` runs every arm (a list of policies; ``no_action`` is the empty list and
is added if missing) on the same scenario. With ``draws > 0`` it also draws uncertain model
parameters (:data:`DEFAULT_UNCERTAINTY`, or the caller's ranges) once per draw from a seeded
``numpy.random.SeedSequence``; every arm of a draw uses the same parameters, so arms are
paired and their differences are policy effects, not noise.

Effectiveness of an arm is measured against ``no_action`` (positive = better)::

    reduction_peak_yield_bp        peak change of the 10y yield (or the longest bucket)
    reduction_peak_basis_bp        peak basis widening over contracts
    reduction_fire_sale_usd_bn     forced plus liquidation sales
    reduction_defaults             number of defaults
    reduction_losses_usd_bn        equity losses outside the central bank

and its cost as the central bank's balance sheet used (reserves created beyond no action),
cash lent by facilities and budget spent; ``*_per_100bn`` scales each reduction by the
intervention size (the largest of the three costs) in units of USD 100 bn.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contagion.errors import InputError, Problem
from contagion.policies import AnyPolicy, PolicyConfig, policy_from_dict
from contagion.result import Result
from contagion.scenario import ModelParams, Scenario
from contagion.system import System

BASELINE = "no_action"
MIN_SIZE_USD_BN = 10.0  # below this an intervention has no meaningful per-100bn ratio

# Plausible ranges (assumptions) of the free parameters; log-uniform for scale parameters.
DEFAULT_UNCERTAINTY: dict[str, tuple[float, float, str]] = {
    "impact_bp_per_usd_bn": (0.005, 0.02, "loguniform"),
    "impact_convexity": (0.5, 1.5, "uniform"),
    "futures_impact_bp_per_usd_bn": (0.01, 0.04, "loguniform"),
    "im_vol_elasticity": (0.25, 1.0, "uniform"),
    "haircut_vol_sensitivity_frac": (0.005, 0.02, "loguniform"),
    "repo_rate_convexity": (1.0, 2.0, "uniform"),
    "mmf_appetite_vol_sensitivity": (0.1, 0.6, "uniform"),
    "treasury_sale_preference": (1.0, 5.0, "uniform"),
}

HEADLINE = (
    "peak_yield_bp",
    "peak_basis_bp",
    "fire_sale_usd_bn",
    "defaults",
    "losses_usd_bn",
    "peak_repo_rate_pct",
    "peak_repo_rate_eligible_pct",
    "dealer_peak_utilisation_frac",
    "reserves_created_usd_bn",
    "cash_lent_usd_bn",
    "budget_spent_usd_bn",
)


def headline(summary: Mapping[str, float]) -> dict[str, float]:
    """The headline metrics of one run from its ``Result.summary``."""
    yields = [k for k in summary if k.startswith("peak_yield_change_")]
    key = "peak_yield_change_10y_bp" if "peak_yield_change_10y_bp" in summary else yields[-1]
    basis = [v for k, v in summary.items() if k.startswith("peak_basis_widening_")]
    lent = sum(
        v for k, v in summary.items() if k.startswith("policy_") and k.endswith("_lent_usd_bn")
    )
    spent = sum(
        v
        for k, v in summary.items()
        if k.startswith("policy_") and (k.endswith("_spent_usd_bn") or k.endswith("_bought_usd_bn"))
    )
    return {
        "peak_yield_bp": summary[key],
        "peak_basis_bp": max(basis) if basis else 0.0,
        "fire_sale_usd_bn": summary["fire_sale_volume_usd_bn"],
        "defaults": summary["defaults_count"],
        # private-sector losses: the central bank's own mark-to-market is a cost of its
        # policy, not a loss the system bears
        "losses_usd_bn": summary["equity_loss_total_usd_bn"]
        - summary.get("equity_loss_central_bank_usd_bn", 0.0),
        "peak_repo_rate_pct": summary["peak_repo_rate_pct"],
        "peak_repo_rate_eligible_pct": summary["peak_repo_rate_eligible_pct"],
        "dealer_peak_utilisation_frac": summary["dealer_peak_utilisation_frac"],
        "reserves_created_usd_bn": summary["cb_reserves_created_usd_bn"],
        "cash_lent_usd_bn": lent,
        "budget_spent_usd_bn": spent,
    }


def effectiveness(metrics: pd.DataFrame) -> pd.DataFrame:
    """Reductions and costs of each arm relative to ``no_action`` (rows: arms)."""
    base = metrics.loc[BASELINE]
    out = pd.DataFrame(index=metrics.index)
    for name, col in (
        ("peak_yield_bp", "peak_yield_bp"),
        ("peak_basis_bp", "peak_basis_bp"),
        ("fire_sale_usd_bn", "fire_sale_usd_bn"),
        ("defaults", "defaults"),
        ("losses_usd_bn", "losses_usd_bn"),
    ):
        out[f"reduction_{name}"] = base[col] - metrics[col]
    out["cost_balance_sheet_usd_bn"] = (
        metrics["reserves_created_usd_bn"] - base["reserves_created_usd_bn"]
    ).clip(lower=0.0)
    out["cost_cash_lent_usd_bn"] = metrics["cash_lent_usd_bn"]
    out["cost_budget_spent_usd_bn"] = metrics["budget_spent_usd_bn"]
    size = out[["cost_balance_sheet_usd_bn", "cost_cash_lent_usd_bn", "cost_budget_spent_usd_bn"]]
    scale = size.max(axis=1) / 100.0
    # tools with no real size (SLR relief: only reserve noise) get no per-100bn figure
    scale = scale.where(scale >= MIN_SIZE_USD_BN / 100.0, 0.0)
    for col in [c for c in out.columns if c.startswith("reduction_")]:
        out[f"{col}_per_100bn"] = np.where(
            scale > 0, out[col] / scale.where(scale > 0, 1.0), np.nan
        )
    return out


def draw_parameters(
    n: int, uncertainty: Mapping[str, tuple[float, float, str]] | None, rng
) -> list[dict[str, float]]:
    """``n`` parameter draws; draw ``d`` uses child ``d`` of the seed (order-independent)."""
    unc = DEFAULT_UNCERTAINTY if uncertainty is None else dict(uncertainty)
    fields = ModelParams.model_fields
    for name, spec in unc.items():
        if name not in fields:
            raise InputError(
                Problem(
                    "uncertainty", name, f"unknown model parameter; allowed: {', '.join(fields)}"
                )
            )
        lo, hi, kind = spec
        if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi) or kind not in (
            "uniform",
            "loguniform",
        ):
            raise InputError(
                Problem(
                    "uncertainty",
                    name,
                    "needs finite low <= high and a kind of 'uniform' or 'loguniform'",
                )
            )
        if kind == "loguniform" and lo <= 0:
            raise InputError(Problem("uncertainty", name, "loguniform needs low > 0"))
    seed = (
        rng
        if isinstance(rng, np.random.SeedSequence)
        else np.random.SeedSequence(rng if isinstance(rng, int | None) else None)
    )
    out = []
    for child in seed.spawn(n):
        g = np.random.default_rng(child)
        d = {}
        for name, (lo, hi, kind) in unc.items():
            u = g.random()
            d[name] = (
                float(np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo))))
                if kind == "loguniform"
                else float(lo + u * (hi - lo))
            )
        out.append(d)
    return out


@dataclass(frozen=True)
class ExperimentResult:
    """Output of :func:`experiment`.

    ``metrics``: arm x headline metric (the point run with the scenario's parameters);
    ``effectiveness``: arm x reduction/cost vs ``no_action``; ``draws``: long frame (arm,
    draw, metric, value) when parameters were drawn; ``results``: the point-run Result of
    each arm; ``scenarios``: the scenario each arm ran (identical shocks by construction).
    """

    metrics: pd.DataFrame
    effectiveness: pd.DataFrame
    draws: pd.DataFrame
    results: dict[str, Result]
    scenarios: dict[str, Scenario] = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        """Tidy arm x metric frame: headline metrics joined with effectiveness and cost."""
        return self.metrics.join(self.effectiveness)


def experiment(
    system: System,
    scenario: Scenario,
    arms: Mapping[str, Sequence[PolicyConfig | Mapping[str, Any]]],
    *,
    draws: int = 0,
    rng=None,
    uncertainty: Mapping[str, tuple[float, float, str]] | None = None,
) -> ExperimentResult:
    """Run paired policy arms on the same shocks (and parameter draws).

    Parameters
    ----------
    system : System
    scenario : Scenario
    arms : mapping of arm name to a list of policy configs (or their dicts)
    draws : int
        Number of parameter draws (0: only the point run).
    rng : int, SeedSequence or None
        Seed of the parameter draws.
    uncertainty : mapping name -> (low, high, "uniform" | "loguniform"), optional
        Ranges of :class:`~contagion.ModelParams` to draw (default :data:`DEFAULT_UNCERTAINTY`).
    """
    from contagion.engine import simulate

    arms = {name: [_policy(p, name) for p in pols] for name, pols in arms.items()}
    if BASELINE not in arms:
        arms = {BASELINE: [], **arms}
    results, rows, scenarios = {}, {}, {}
    for name, pols in arms.items():
        res = simulate(system, scenario, pols)
        results[name] = res
        rows[name] = headline(res.summary)
        scenarios[name] = scenario
    metrics = pd.DataFrame.from_dict(rows, orient="index")[list(HEADLINE)]
    metrics.index.name = "arm"
    long = []
    for d, params in enumerate(draw_parameters(draws, uncertainty, rng) if draws else []):
        sc = scenario.with_params(**params)
        for name, pols in arms.items():
            h = headline(simulate(system, sc, pols).summary)
            long += [{"arm": name, "draw": d, "metric": k, "value": v} for k, v in h.items()]
            long += [
                {"arm": name, "draw": d, "metric": f"param:{k}", "value": v}
                for k, v in params.items()
            ]
    draws_frame = pd.DataFrame(long, columns=["arm", "draw", "metric", "value"])
    return ExperimentResult(metrics, effectiveness(metrics), draws_frame, results, scenarios)


def _policy(p, arm: str) -> PolicyConfig:
    if isinstance(p, PolicyConfig):
        return p
    try:
        return policy_from_dict(p)
    except InputError as err:
        raise InputError(
            [Problem(f"arm '{arm}'", q.field, q.reason) for q in err.problems]
        ) from None


class ExperimentConfig(BaseModel):
    """An experiment declared in YAML: system and scenario (bundled name or file), arms."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str = Field("stylised_us_2025", description="Bundled system name or file path.")
    scenario: str = Field("basis_unwind", description="Bundled scenario name or file path.")
    arms: dict[str, list[AnyPolicy]] = Field(min_length=1)
    draws: int = Field(0, ge=0, le=1_000_000)
    seed: int | None = None
    uncertainty: dict[str, tuple[float, float, str]] | None = None


def load_experiment(path: str | os.PathLike) -> ExperimentConfig:
    """Load and validate an experiment file (policy errors name the arm and field)."""
    from contagion.io import read_document

    doc = read_document(path)
    if isinstance(doc, Mapping) and isinstance(doc.get("arms"), Mapping):
        for arm, pols in doc["arms"].items():
            for p in pols or []:
                _policy(p, arm)  # clear errors naming the arm
    try:
        return ExperimentConfig.model_validate(doc)
    except ValidationError as err:
        raise InputError.from_validation(err, "experiment", str(path)) from None


def run_experiment(
    config: ExperimentConfig, *, base_dir: str | os.PathLike = "."
) -> ExperimentResult:
    """Resolve a config's system and scenario (bundled names or paths) and run it."""
    from pathlib import Path

    from contagion import examples, scenarios
    from contagion.io import load_system
    from contagion.scenario import load_scenario

    base = Path(base_dir)
    system = (
        examples.load_bundled(config.system)
        if config.system in examples.BUNDLED
        else load_system(base / config.system)
    )
    scenario = (
        scenarios.load(config.scenario)
        if config.scenario in scenarios.available()
        else load_scenario(base / config.scenario)
    )
    return experiment(
        system,
        scenario,
        config.arms,
        draws=config.draws,
        rng=config.seed,
        uncertainty=config.uncertainty,
    )
