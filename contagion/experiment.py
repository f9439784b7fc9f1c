"""Policy experiments: paired counterfactual arms on the same shocks and parameter draws.

:func:`experiment` runs every arm (a list of policies; ``no_action`` is the empty list and
is added if missing) on the same scenario. With ``draws > 0`` it also draws uncertain model
parameters (:data:`DEFAULT_UNCERTAINTY`, or the caller's ranges) in the calling process,
whatever the backend: ``sampling="random"`` gives draw ``d`` child ``d`` of a seeded
``numpy.random.SeedSequence``; ``"sobol"`` (scrambled Sobol') and ``"lhs"`` (Latin
hypercube) take the rows of one seeded ``scipy.stats.qmc`` design. Unit-cube points are
mapped through each distribution's ``ppf`` (:func:`unit_to_parameters`). Every arm of a
draw uses the same parameters, so arms are paired and their differences are policy
effects, not noise. Sobol' sensitivity indices: :mod:`contagion.sensitivity`.

Effectiveness of an arm is measured against ``no_action`` (positive = better)::

    reduction_peak_yield_bp        peak change of the 10y yield (or the longest bucket)
    reduction_peak_basis_bp        peak basis widening over contracts
    reduction_fire_sale_usd_bn     forced plus liquidation sales
    reduction_defaults             number of defaults
    reduction_losses_usd_bn        equity losses outside the central bank

and its cost as the central bank's balance sheet used (reserves created beyond no action),
cash lent by facilities (peak outstanding) and budget spent; ``*_per_100bn`` scales each
reduction by the intervention size (the largest of the three costs) in units of USD 100 bn.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import numbers
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
)

from contagion.errors import InputError, Problem
from contagion.policies import PolicyConfig, policy_from_dict
from contagion.result import Result
from contagion.scenario import ModelParams, Scenario
from contagion.system import System

log = logging.getLogger(__name__)

# A seed: an int, a SeedSequence, or None (fresh entropy)
Seed = int | np.integer | np.random.SeedSequence | None

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
    # the policies' typed costs (contagion.policies.base.PolicyCosts): a facility's size is
    # its peak outstanding (what its limit caps), not the amount lent, which counts money
    # repaid and lent again
    lent = summary["policy_cost_cash_lent_peak_usd_bn"]
    spent = summary["policy_cost_budget_spent_usd_bn"]
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


def _seed_sequence(rng: Seed) -> np.random.SeedSequence:
    """A SeedSequence from an int (numpy ints too), a SeedSequence, or None (fresh entropy)."""
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if rng is None or isinstance(rng, numbers.Integral):
        return np.random.SeedSequence(None if rng is None else int(rng))
    raise InputError(
        Problem("experiment", "seed", f"must be an integer or None, got {type(rng).__name__}")
    )


SAMPLING = ("random", "sobol", "lhs")
KINDS = ("uniform", "loguniform")


def check_uncertainty(
    uncertainty: Mapping[str, tuple[float, float, str]], *, model_params: bool = True
) -> None:
    """Raise :class:`~contagion.InputError` naming the parameter if a range is invalid.

    ``model_params``: names must be fields of :class:`~contagion.ModelParams`.
    """
    fields = ModelParams.model_fields
    for name, spec in uncertainty.items():
        if model_params and name not in fields:
            raise InputError(
                Problem(
                    "uncertainty", name, f"unknown model parameter; allowed: {', '.join(fields)}"
                )
            )
        lo, hi, kind = spec
        if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi) or kind not in KINDS:
            raise InputError(
                Problem(
                    "uncertainty",
                    name,
                    "needs finite low <= high and a kind of 'uniform' or 'loguniform'",
                )
            )
        if kind == "loguniform" and lo <= 0:
            raise InputError(Problem("uncertainty", name, "loguniform needs low > 0"))


def _distribution(lo: float, hi: float, kind: str) -> Any:
    """The frozen ``scipy.stats`` distribution of one range."""
    from scipy import stats

    if kind == "loguniform":
        return stats.loguniform(lo, hi)
    return stats.uniform(loc=lo, scale=hi - lo)


def unit_to_parameters(
    points: np.ndarray, uncertainty: Mapping[str, tuple[float, float, str]]
) -> list[dict[str, float]]:
    """Map unit-cube points (rows; one column per parameter, in ``uncertainty`` order)
    through each distribution's ``ppf``; a range with ``low == high`` is that constant."""
    u = np.asarray(points, dtype=float).reshape(len(points), len(uncertainty))
    columns = {}
    for j, (name, (lo, hi, kind)) in enumerate(uncertainty.items()):
        if lo == hi:
            columns[name] = np.full(len(u), float(lo))
        else:
            columns[name] = np.clip(_distribution(lo, hi, kind).ppf(u[:, j]), lo, hi)
    return [{k: float(v[i]) for k, v in columns.items()} for i in range(len(u))]


def _qmc(engine: Any, d: int, seed: np.random.SeedSequence) -> Any:
    """A scrambled ``scipy.stats.qmc`` engine seeded from ``seed`` (``rng=`` or ``seed=``)."""
    gen = np.random.default_rng(seed)
    try:
        return engine(d=d, scramble=True, rng=gen)
    except TypeError:  # scipy < 1.15
        return engine(d=d, scramble=True, seed=gen)


def unit_points(n: int, d: int, rng: Seed, sampling: str = "random") -> np.ndarray:
    """``n`` x ``d`` points in the unit cube.

    ``random``: row ``r`` from child ``r`` of the seed (order-independent); ``sobol``: the
    first ``n`` points of a scrambled Sobol' sequence (balanced when ``n`` is a power of
    2; a prefix of a longer run with the same seed); ``lhs``: a Latin hypercube of ``n``.
    """
    from scipy.stats import qmc

    if sampling not in SAMPLING:
        raise InputError(Problem("experiment", "sampling", f"use one of {', '.join(SAMPLING)}"))
    seed = _seed_sequence(rng)
    if sampling == "random":
        out = np.empty((n, d))
        for r, child in enumerate(seed.spawn(n)):
            out[r] = np.random.default_rng(child).random(d)
        return out
    if n == 0 or d == 0:
        return np.empty((n, d))
    if sampling == "sobol":
        with warnings.catch_warnings():
            # documented: balance needs a power of 2; any n is allowed
            warnings.filterwarnings("ignore", "The balance properties", UserWarning)
            return _qmc(qmc.Sobol, d, seed).random(n)
    return _qmc(qmc.LatinHypercube, d, seed).random(n)


def draw_parameters(
    n: int,
    uncertainty: Mapping[str, tuple[float, float, str]] | None,
    rng: Seed,
    sampling: str = "random",
) -> list[dict[str, float]]:
    """``n`` parameter draws, computed here whatever the backend (see :func:`unit_points`)."""
    unc = DEFAULT_UNCERTAINTY if uncertainty is None else dict(uncertainty)
    check_uncertainty(unc)
    return unit_to_parameters(unit_points(n, len(unc), rng, sampling), unc)


@dataclass(frozen=True)
class ExperimentResult:
    """Output of :func:`experiment`.

    ``metrics``: arm x headline metric (the point run with the scenario's parameters);
    ``effectiveness``: arm x reduction/cost vs ``no_action``; ``draws``: long frame (arm,
    draw, metric, value) when parameters were drawn; ``results``: the point-run Result of
    each arm; ``scenarios``: the scenario each arm ran (identical shocks by construction);
    ``sensitivity``: Sobol' indices (:func:`contagion.sensitivity.sensitivity`), if run.
    """

    metrics: pd.DataFrame
    effectiveness: pd.DataFrame
    draws: pd.DataFrame
    results: dict[str, Result]
    scenarios: dict[str, Scenario] = field(repr=False)
    sensitivity: pd.DataFrame | None = field(default=None, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """Tidy arm x metric frame: headline metrics joined with effectiveness and cost."""
        return self.metrics.join(self.effectiveness)


def experiment(
    system: System,
    scenario: Scenario,
    arms: Mapping[str, Sequence[PolicyConfig | Mapping[str, Any]]],
    *,
    draws: int = 0,
    rng: Seed = None,
    uncertainty: Mapping[str, tuple[float, float, str]] | None = None,
    backend: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: Callable[[int, int], object] | bool | None = None,
    chunk_size: int | None = None,
    sampling: str = "random",
    parameters: Sequence[Mapping[str, float]] | None = None,
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
        Seed of the parameter draws; draw ``d`` uses child ``d`` whatever the backend.
    uncertainty : mapping name -> (low, high, "uniform" | "loguniform"), optional
        Ranges of :class:`~contagion.ModelParams` to draw (default :data:`DEFAULT_UNCERTAINTY`).
    backend : None, "serial", "processes" or "dask"
        Where the draws run (see :mod:`contagion.backends`); None: ``dask`` with a
        ``scheduler``, ``processes`` (joblib) with ``workers > 1``, else ``serial``.
    workers : int, optional
        Local worker processes (joblib, or a Dask LocalCluster on 127.0.0.1).
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``).
    checkpoint_dir : path, optional
        Write each finished chunk of draws there (parquet) and skip the chunks already
        there on a rerun of the same experiment; a directory of another experiment raises
        :class:`~contagion.InputError`. Without a seed, the first run's entropy is kept
        in the directory and reused.
    progress : callable(done, total) or bool, optional
        Called with the number of finished draws: once before the draws start (counting
        those found in the checkpoint) and after each chunk. ``True`` writes a line per
        finished chunk to standard error (:class:`contagion.progress.ProgressLines`: for
        notebooks and logs).
    chunk_size : int, optional
        Draws per task (default :func:`contagion.backends.chunk_size`).
    sampling : "random", "sobol" or "lhs"
        How the draws cover the parameter ranges (see :func:`unit_points`).
    parameters : list of {name: value}, optional
        Explicit draws (e.g. a Sobol' design of :mod:`contagion.sensitivity`): draw ``d``
        runs with ``parameters[d]``; ``draws``, ``rng``, ``uncertainty`` and ``sampling``
        are then not used.
    """
    from contagion import backends
    from contagion.engine import simulate
    from contagion.progress import resolve

    policies = {name: [_policy(p, name) for p in pols] for name, pols in arms.items()}
    if BASELINE not in policies:
        policies = {BASELINE: [], **policies}
    arms = policies
    executor = backends.make_executor(backend, workers, scheduler)
    progress = resolve(progress, "Parameter points" if parameters is not None else "Draws")
    results, rows, scenarios = {}, {}, {}
    t0 = time.monotonic()
    for name, pols in arms.items():
        log.debug("point run of arm %r (%d policies)", name, len(pols))
        res = simulate(system, scenario, pols)
        results[name] = res
        rows[name] = headline(res.summary)
        scenarios[name] = scenario
    metrics = pd.DataFrame.from_dict(rows, orient="index")[list(HEADLINE)]
    metrics.index.name = "arm"
    log.info(
        "%d arms %s on %s x %s in %.1f s", len(arms), ", ".join(arms), system.name,
        scenario.name, time.monotonic() - t0,
    )  # fmt: skip
    long: list[backends.Row] = []
    if sampling not in SAMPLING:
        raise InputError(Problem("experiment", "sampling", f"use one of {', '.join(SAMPLING)}"))
    if parameters is not None:
        parameters = [{str(k): float(v) for k, v in p.items()} for p in parameters]
        unknown = sorted({k for p in parameters for k in p} - set(ModelParams.model_fields))
        if unknown:
            raise InputError(
                Problem("experiment", "parameters", f"unknown model parameters {unknown}")
            )
        draws, sampling = len(parameters), "explicit"
    if draws:
        long = _draws(
            backends, executor, system, scenario, arms, draws, rng, uncertainty,
            checkpoint_dir, progress, chunk_size, sampling, parameters,
        )  # fmt: skip
    draws_frame = pd.DataFrame(long, columns=backends.COLUMNS)
    return ExperimentResult(metrics, effectiveness(metrics), draws_frame, results, scenarios)


def _draws(
    backends: Any, executor: Any, system: System, scenario: Scenario,
    arms: Mapping[str, Sequence[PolicyConfig]], draws: int, rng: Seed,
    uncertainty: Mapping[str, tuple[float, float, str]] | None,
    checkpoint_dir: str | os.PathLike | None, progress: Callable[[int, int], object] | None,
    size: int | None, sampling: str = "random",
    parameters: Sequence[Mapping[str, float]] | None = None,
) -> list:  # fmt: skip
    """The long rows of every draw, chunk by chunk, resuming from a checkpoint."""
    if size is not None and (isinstance(size, bool) or int(size) != size or size < 1):
        raise InputError(Problem("option", "chunk_size", "must be a whole number >= 1"))
    checkpoint = None
    meta: dict[str, Any] = {}
    if checkpoint_dir is not None:
        checkpoint = backends.Checkpoint(checkpoint_dir)
        if size is None:  # resume with the chunks of the first run, whatever the cluster
            kept = (checkpoint.read_meta() or {}).get("chunk_size")
            size = kept if isinstance(kept, int) and not isinstance(kept, bool) and kept else None
        key = backends.seed_key(rng)
        if key is None:  # unseeded: keep the first run's entropy so a rerun can resume
            old = checkpoint.read_meta()
            entropy = (old or {}).get("entropy") or str(np.random.SeedSequence().entropy)
            rng = np.random.SeedSequence(int(entropy))
            key, meta = "unseeded", {"entropy": entropy}
        if parameters is not None:  # the draws themselves identify the experiment
            text = json.dumps(parameters, sort_keys=True).encode()
            key, uncertainty = {"parameters": hashlib.sha256(text).hexdigest()}, None
        elif sampling != "random":  # (random keeps the hash it always had)
            key = {"seed": key, "sampling": sampling}
    params = (
        parameters if parameters is not None else draw_parameters(draws, uncertainty, rng, sampling)
    )
    if size is None:  # sized to the executor's threads (a large cluster: smaller chunks)
        size = backends.chunk_size(draws, executor.slots())
    chunks = backends.plan(params, size)
    done: dict[int, list] = {}
    if checkpoint is not None:
        checkpoint.open(
            backends.config_hash(system, scenario, arms, key, draws, uncertainty, size),
            draws=draws, chunk_size=size, **meta,
        )  # fmt: skip
        for chunk in chunks:
            found = checkpoint.load(chunk, list(arms))
            if found is not None:
                done[chunk.first] = found
    by_first = {c.first: c for c in chunks}
    finished = sum(by_first[f].last - f + 1 for f in done)
    if progress is not None:
        progress(finished, draws)
    todo = [c for c in chunks if c.first not in done]
    log.info(
        "%d draws of %d arms in %d chunks of up to %d on %s (%d already in the checkpoint)",
        draws, len(arms), len(chunks), size, type(executor).__name__, finished,
    )  # fmt: skip
    if todo:
        work = backends.Work(system, scenario, arms)
        # closed at once if interrupted: workers stop, a local cluster shuts down
        with contextlib.closing(executor.run(work, todo)) as finishing:
            for first, rows in finishing:
                if checkpoint is not None:
                    checkpoint.save(by_first[first], rows)
                done[first] = rows
                finished += by_first[first].last - first + 1
                log.debug("finished %s (%d/%d draws)", by_first[first].name, finished, draws)
                if progress is not None:
                    progress(finished, draws)
    return [row for c in chunks for row in done[c.first]]


def _policy(p: PolicyConfig | Mapping[str, Any], arm: str) -> PolicyConfig:
    if isinstance(p, PolicyConfig):
        return p
    try:
        return policy_from_dict(p)
    except InputError as err:
        raise InputError(
            [Problem(f"arm '{arm}'", q.field, q.reason) for q in err.problems]
        ) from None


SENSITIVITY_METRICS = ("peak_yield_bp", "fire_sale_usd_bn", "defaults")


class SensitivityConfig(BaseModel):
    """The ``sensitivity:`` block of an experiment: Sobol' indices of headline metrics.

    ``base_samples`` N (a power of 2) gives N (k + 2) parameter points for k uncertain
    parameters, each run in every arm (see :mod:`contagion.sensitivity`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["sobol"] = "sobol"
    base_samples: int = Field(64, ge=2, le=2**16, description="N, a power of 2.")
    metrics: tuple[str, ...] = Field(SENSITIVITY_METRICS, min_length=1)
    num_resamples: int = Field(100, ge=10, le=10_000, description="Bootstrap resamples.")
    conf_level: float = Field(0.95, gt=0, lt=1, description="Of the confidence intervals.")

    @field_validator("base_samples")
    @classmethod
    def _power_of_two(cls, n: int) -> int:
        if n & (n - 1):
            raise ValueError(f"must be a power of 2 (e.g. 16, 64, 256), got {n}")
        return n

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, metrics: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [m for m in metrics if m not in HEADLINE]
        if unknown:
            raise ValueError(f"unknown {', '.join(unknown)}; allowed: {', '.join(HEADLINE)}")
        if len(set(metrics)) != len(metrics):
            raise ValueError("lists a metric twice")
        return metrics


class ExperimentConfig(BaseModel):
    """An experiment declared in YAML: system and scenario (bundled name or file), arms."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str = Field("stylised_us_2025", description="Bundled system name or file path.")
    scenario: str = Field("basis_unwind", description="Bundled scenario name or file path.")
    arms: dict[str, list[SerializeAsAny[PolicyConfig]]] = Field(min_length=1)
    draws: int = Field(0, ge=0, le=1_000_000)
    seed: int | None = None
    uncertainty: dict[str, tuple[float, float, str]] | None = None
    sampling: Literal["random", "sobol", "lhs"] = "random"
    sensitivity: SensitivityConfig | None = None
    model_params: Literal["system"] | dict[str, float] | None = Field(
        None,
        description="Model parameters for every arm: 'system' takes the system's calibrated "
        "ones (metadata.model_params, e.g. calibrated_us_2025); a mapping overrides the "
        "scenario's; None keeps the scenario's.",
    )

    @field_validator("arms", mode="before")
    @classmethod
    def _registered_policies(cls, arms: Any) -> Any:
        """Each policy document validated by its registered ``type``."""
        if not isinstance(arms, Mapping):
            return arms
        return {
            arm: [_policy(p, arm) for p in pols] if isinstance(pols, list) else pols
            for arm, pols in arms.items()
        }


def with_model_params(
    scenario: Scenario, system: System, model_params: str | Mapping[str, float] | None
) -> Scenario:
    """``scenario`` with the model parameters an experiment asks for (see
    :attr:`ExperimentConfig.model_params`). With ``"system"`` the system's calibrated values
    fill in every parameter the scenario does not set itself (a scenario file's explicit
    ``params`` win); InputError if the system carries none."""
    if model_params is None:
        return scenario
    if model_params == "system":
        from contagion.examples import model_params as calibrated

        params = calibrated(system)
        if not params:
            raise InputError(
                Problem(
                    "experiment",
                    "model_params",
                    f"'system' asks for the calibrated parameters of system {system.name!r}, "
                    "which carries none in metadata.model_params",
                )
            )
        explicit = scenario.params.model_fields_set
        return scenario.with_params(**{k: v for k, v in params.items() if k not in explicit})
    if isinstance(model_params, str):
        raise InputError(
            Problem("experiment", "model_params", "use 'system' or a mapping of parameters")
        )
    return scenario.with_params(**dict(model_params))


def draw_ranges(
    config: ExperimentConfig, system: System
) -> dict[str, tuple[float, float, str]] | None:
    """The parameter ranges an experiment draws from: the config's ``uncertainty``; else,
    for ``model_params: system`` on a calibrated system, the fit's ranges around its
    estimates (:func:`contagion.examples.model_params_uncertainty`); else None
    (:data:`DEFAULT_UNCERTAINTY`, which is centred on the uncalibrated defaults)."""
    if config.uncertainty is not None:
        return config.uncertainty
    if config.model_params == "system":
        from contagion.examples import model_params_uncertainty

        return model_params_uncertainty(system)
    return None


def resolve_model_params(
    config: ExperimentConfig, system: System, scenario: Scenario
) -> tuple[ExperimentConfig, Scenario]:
    """The config's ``model_params`` applied to ``scenario`` (:func:`with_model_params`) and
    its draw ranges made explicit (:func:`draw_ranges`), for every entry point."""
    scenario = with_model_params(scenario, system, config.model_params)
    return config.model_copy(update={"uncertainty": draw_ranges(config, system)}), scenario


def load_experiment(path: str | os.PathLike) -> ExperimentConfig:
    """Load and validate an experiment file (policy errors name the arm and field).

    A relative ``system`` or ``scenario`` path must stay inside the file's directory
    (:mod:`contagion.paths`).
    """
    from pathlib import Path

    from contagion.io import read_document
    from contagion.paths import experiment_inputs

    doc = read_document(path)
    try:
        if isinstance(doc, Mapping) and isinstance(doc.get("arms"), Mapping):
            for arm, pols in doc["arms"].items():
                if isinstance(pols, list):  # anything else: pydantic names the arm below
                    for p in pols:
                        _policy(p, arm)  # clear errors naming the arm and field
        if isinstance(doc, Mapping) and isinstance(doc.get("draws"), bool):
            raise InputError(Problem("experiment", "draws", "must be a whole number"))
        config = ExperimentConfig.model_validate(doc)
        experiment_inputs(config, Path(path).parent)  # paths may not leave the directory
        if isinstance(config.model_params, dict):
            try:  # names and ranges checked now
                Scenario().with_params(**config.model_params)
            except InputError as err:
                raise InputError(
                    [
                        Problem("experiment", "model_params." + q.field.split(".")[-1], q.reason)
                        for q in err.problems
                    ]
                ) from None
        if config.uncertainty:
            draw_parameters(0, config.uncertainty, 0)  # check names and ranges now
        if config.sensitivity is not None:
            from contagion.sensitivity import check_design

            check_design(config.uncertainty, config.sensitivity.base_samples)
    except ValidationError as err:
        raise InputError.from_validation(err, "experiment", str(path)) from None
    except InputError as err:
        raise err.with_source(str(path)) from None
    return config


def run_experiment(
    config: ExperimentConfig, *, base_dir: str | os.PathLike = ".", **options: Any
) -> ExperimentResult:
    """Resolve a config's system and scenario (bundled names or paths) and run it.

    ``options`` go to :func:`experiment` (``backend``, ``workers``, ``scheduler``,
    ``checkpoint_dir``, ``progress``, ``chunk_size``). With a ``sensitivity`` block the
    Sobol' indices are computed too (:func:`contagion.sensitivity.run_sensitivity`, with the
    same options; its checkpoint in ``checkpoint_dir/sensitivity``) and attached.
    """
    from pathlib import Path

    from contagion import examples, scenarios
    from contagion.io import load_system
    from contagion.paths import config_path
    from contagion.scenario import load_scenario

    base = Path(base_dir)
    system = (
        examples.load_bundled(config.system)
        if config.system in examples.BUNDLED
        else load_system(config_path(base, config.system, field="system"))
    )
    scenario = (
        scenarios.load(config.scenario)
        if config.scenario in scenarios.available()
        else load_scenario(config_path(base, config.scenario, field="scenario"))
    )
    config, scenario = resolve_model_params(config, system, scenario)
    result = experiment(
        system,
        scenario,
        config.arms,
        draws=config.draws,
        rng=config.seed,
        uncertainty=config.uncertainty,
        sampling=config.sampling,
        **options,
    )
    if config.sensitivity is None:
        return result
    from contagion.sensitivity import run_sensitivity

    return run_sensitivity(config, system, scenario, result, **options)
