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

and its cost as the central bank's balance sheet used (reserves created), cash lent by
facilities (peak outstanding) and budget spent, each beyond no action; ``*_per_100bn``
scales each reduction by the intervention size (the largest of the three costs) in units of
USD 100 bn.

**Standing facilities.** ``standing`` lists policies in force in every arm, no action
included: the facilities that exist at the system's date whatever the authorities decide in
the stress (for a 2025 system the Standing Repo Facility: minimum bid at the top of the
target range, USD 500 bn aggregate limit, primary dealers; fact base 2.27-2.32). No action
then means no discretionary action. An arm holding a policy of the same name as a standing
one runs that policy instead (the same facility on other terms, e.g. centrally cleared).
Costs are measured beyond no action, so the standing facilities' own lending is not
charged to the arms.

**Which parameters.** A system that carries fitted parameters (``metadata.model_params``,
e.g. ``calibrated_us_2025``) runs with them unless told otherwise: ``parameter_set="auto"``
(the default) takes the fit where there is one and the package defaults elsewhere,
``"fitted"`` insists on the fit (an error without one), ``"defaults"`` is the explicit
opt-out. Draws then come from the fit's ranges (estimate +/- 2 standard errors) or
:data:`DEFAULT_UNCERTAINTY`. :func:`resolve_parameters` does this for every entry point
and returns a record of the set used, each value and where it came from, which every
:class:`ExperimentResult` carries (``parameters``) and every report prints.
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
from typing import TYPE_CHECKING, Any, Literal

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

from contagion.errors import MAX_PROBLEMS_SHOWN, InputError, Problem, text_problem
from contagion.policies import PolicyConfig, policy_from_dict
from contagion.result import Result
from contagion.scenario import ModelParams, Scenario, range_problems
from contagion.system import System

if TYPE_CHECKING:
    import xarray
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

# A seed: an int, a SeedSequence, or None (fresh entropy)
Seed = int | np.integer | np.random.SeedSequence | None

BASELINE = "no_action"
MIN_SIZE_USD_BN = 10.0  # below this an intervention has no meaningful per-100bn ratio
#: Most parameter draws (or explicit parameter points, e.g. a Sobol' design) in one
#: experiment: each runs in every arm and adds (metrics + parameters) rows per arm.
MAX_DRAWS = 100_000
#: Longest arm name, characters (arm names label folders, tables and figures).
MAX_ARM_NAME = 100
#: Largest seed: numpy's SeedSequence takes any non-negative integer; 128 bits suffice.
MAX_SEED = 2**128 - 1

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
    # the named assumptions of the funding mechanisms (ModelParams.assumption_ranges)
    **ModelParams.assumption_ranges(),
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
    # costs beyond no action: what a standing facility does there is no arm's intervention
    for cost, col in (
        ("cost_balance_sheet_usd_bn", "reserves_created_usd_bn"),
        ("cost_cash_lent_usd_bn", "cash_lent_usd_bn"),
        ("cost_budget_spent_usd_bn", "budget_spent_usd_bn"),
    ):
        out[cost] = (metrics[col] - base[col]).clip(lower=0.0)
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
    if rng is None:
        return np.random.SeedSequence(None)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if not 0 <= int(rng) <= MAX_SEED:
            raise InputError(
                Problem("experiment", "seed", f"must be between 0 and 2**128 - 1, got {rng}")
            )
        return np.random.SeedSequence(int(rng))
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
    if model_params:  # names, ranges and the parameters' own bounds
        problems = range_problems(
            {k: list(v) if isinstance(v, tuple) else v for k, v in uncertainty.items()},
            location="uncertainty",
            field="",
        )
        if problems:
            raise InputError(problems)
        return
    for name, spec in uncertainty.items():
        if not isinstance(spec, list | tuple) or len(spec) != 3:
            raise InputError(Problem("uncertainty", name, "must be (low, high, kind)"))
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


PARAMETER_SETS = ("auto", "fitted", "defaults")
RANGES_FIT = "the fit's ranges (estimate +/- 2 standard errors, metadata.model_params_uncertainty)"
RANGES_DEFAULT = "contagion.experiment.DEFAULT_UNCERTAINTY (assumed plausible ranges)"
RANGES_GIVEN = "the experiment's own uncertainty ranges"


@dataclass(frozen=True)
class ResolvedParameters:
    """The model parameters an experiment runs with (see :func:`resolve_parameters`).

    ``scenario``: the scenario carrying them; ``uncertainty``: the draw ranges (None only
    where no parameter is left to draw); ``record``: a JSON-able description (set used,
    every value, its origin, the draw ranges and their source).
    """

    scenario: Scenario
    uncertainty: dict[str, tuple[float, float, str]] | None
    record: dict[str, Any]


def resolve_parameters(
    system: System,
    scenario: Scenario,
    parameter_set: str = "auto",
    model_params: Mapping[str, float] | None = None,
    uncertainty: Mapping[str, tuple[float, float, str]] | None = None,
) -> ResolvedParameters:
    """The parameters of an experiment, for every entry point.

    ``parameter_set``: ``"auto"`` takes the system's fitted parameters when it carries
    any (:func:`contagion.examples.model_params`) and the package defaults otherwise;
    ``"fitted"`` requires them; ``"defaults"`` does not apply them. A parameter the
    scenario sets itself keeps the scenario's value
    (:func:`contagion.examples.scenario_set_params`). ``model_params`` overrides single
    values; with ``parameter_set="fitted"`` an override that contradicts a fitted value is
    an :class:`~contagion.InputError` naming ``model_params.<name>`` (asking for the fit
    and for another value at once is ambiguous). Draw ranges: ``uncertainty`` if given;
    else the fit's ranges with the fitted set, :data:`DEFAULT_UNCERTAINTY` otherwise;
    parameters the scenario or an override fixes are then held fixed (not drawn).
    Idempotent: resolving the resolved scenario again gives the same parameters.
    """
    from contagion import examples

    if parameter_set not in PARAMETER_SETS:
        raise InputError(
            Problem(
                "experiment",
                "parameter_set",
                f"use one of {', '.join(PARAMETER_SETS)}, got {parameter_set!r}",
            )
        )
    fitted = examples.model_params(system)
    if parameter_set == "fitted" and not fitted:
        raise InputError(
            Problem(
                "experiment",
                "parameter_set",
                f"'fitted' asks for the fitted parameters of system {system.name!r}, which "
                "carries none in metadata.model_params (use 'defaults' or 'auto')",
            )
        )
    overrides = {str(k): float(v) for k, v in (model_params or {}).items()}
    if parameter_set == "fitted":
        for k, v in overrides.items():
            if k in fitted and v != fitted[k]:
                raise InputError(
                    Problem(
                        "experiment",
                        f"model_params.{k}",
                        f"{v:g} contradicts the fitted value {fitted[k]:g} of system "
                        f"{system.name!r} that parameter_set 'fitted' asks for: drop the "
                        "override, or use parameter_set 'auto' or 'defaults' to override",
                    )
                )
    use_fit = bool(fitted) and parameter_set != "defaults"
    own = examples.scenario_set_params(scenario) - set(overrides)
    if use_fit:
        scenario = examples.with_fitted_params(scenario, system)
    if overrides:
        scenario = scenario.with_params(**overrides)
    origin = examples.parameter_origins(
        scenario.params, system, fitted_used=use_fit, overrides=overrides, scenario_own=own
    )
    fixed = sorted(k for k, o in origin.items() if o in ("scenario", "experiment"))
    if uncertainty is not None:
        ranges: dict[str, tuple[float, float, str]] | None = dict(uncertainty)
        source, held = RANGES_GIVEN, []
    else:
        fit_ranges = examples.model_params_uncertainty(system) if use_fit else None
        base = fit_ranges or DEFAULT_UNCERTAINTY
        source = RANGES_FIT if fit_ranges else RANGES_DEFAULT
        held = [k for k in fixed if k in base]
        ranges = {k: v for k, v in base.items() if k not in held}
    name = "fitted" if use_fit else "defaults"
    record = {
        "requested": parameter_set,
        "set": name,
        "description": examples.parameter_set_text(name, system, origin),
        "fit": examples.fit_description(system) if use_fit else None,
        "system": system.name,
        "values": scenario.params.model_dump(mode="json"),
        "origin": origin,
        "overrides": overrides,
        "draw_ranges": None
        if ranges is None
        else {k: [float(v[0]), float(v[1]), str(v[2])] for k, v in ranges.items()},
        "draw_ranges_source": source,
        "held_fixed": held,
    }
    return ResolvedParameters(scenario, ranges, record)


#: Daily paths kept per draw (the fan charts; :meth:`ExperimentResult.to_xarray`).
PATHS = {
    "yield_change_bp": "change of the headline yield (10y, or the longest bucket) since day 0",
    "basis_widening_bp": "widest basis widening over the futures contracts",
    "repo_rate_pct": "GC repo rate at the close",
    "dealer_peak_utilisation_frac": "dealers' highest balance-sheet utilisation in the day",
    "fire_sales_cum_usd_bn": "forced plus liquidation sales, cumulative",
}
#: Headline metrics whose paired difference to no action is a reduction (positive: better).
REDUCTIONS = ("peak_yield_bp", "peak_basis_bp", "fire_sale_usd_bn", "defaults", "losses_usd_bn")


def paired_frame(draws: pd.DataFrame) -> pd.DataFrame:
    """Wide (arm, draw) x metric frame of the draws' headline metrics, with the paired
    reductions against the same draw's ``no_action`` (``reduction_<metric>``, positive:
    better) for the metrics of :data:`REDUCTIONS`."""
    rows = draws[~draws["metric"].astype(str).str.startswith("param:")]
    wide = rows.pivot_table(index=["arm", "draw"], columns="metric", values="value", sort=False)
    wide.columns.name = None
    if BASELINE in wide.index.get_level_values("arm"):
        base = wide.xs(BASELINE, level="arm")
        for m in REDUCTIONS:
            if m in wide:
                wide[f"reduction_{m}"] = (
                    base[m].reindex(wide.index, level="draw").to_numpy() - wide[m].to_numpy()
                )
    return wide


def _quantile_name(q: float) -> str:
    return f"p{100 * q:g}"


@dataclass(frozen=True)
class ExperimentResult:
    """Output of :func:`experiment`.

    ``metrics``: arm x headline metric (the central run with the resolved parameters);
    ``effectiveness``: arm x reduction/cost vs ``no_action`` (central run); ``draws``: long
    frame (arm, draw, metric, value) when parameters were drawn; ``results``: the
    central-run Result of each arm; ``scenarios``: the scenario each arm ran (identical
    shocks by construction); ``sensitivity``: Sobol' indices
    (:func:`contagion.sensitivity.sensitivity`), if run; ``parameters``: which parameter
    set ran, every value and its origin, and the draw ranges
    (:func:`resolve_parameters`); ``paths``: long frame (arm, draw, day, metric, value) of
    the daily :data:`PATHS` of every draw (empty without draws).

    Bands and rank robustness come from :meth:`summary` and :meth:`prob_better`, an N-D
    view from :meth:`to_xarray`, figures from :meth:`plot`.
    """

    metrics: pd.DataFrame
    effectiveness: pd.DataFrame
    draws: pd.DataFrame
    results: dict[str, Result]
    scenarios: dict[str, Scenario] = field(repr=False)
    sensitivity: pd.DataFrame | None = field(default=None, repr=False)
    parameters: dict[str, Any] = field(default_factory=dict, repr=False)
    paths: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def n_draws(self) -> int:
        """Number of parameter draws (0: the central run only)."""
        return int(self.draws["draw"].nunique()) if len(self.draws) else 0

    def to_frame(self) -> pd.DataFrame:
        """Tidy arm x metric frame of the **central run**: headline metrics joined with
        effectiveness and cost. Across the draws: :meth:`summary`."""
        return self.metrics.join(self.effectiveness)

    def summary(self, quantiles: Sequence[float] = (0.1, 0.5, 0.9)) -> pd.DataFrame:
        """Quantiles across the draws of every headline metric and paired reduction.

        Returns a frame indexed by (arm, metric) with columns ``central`` (the central
        run), one column per quantile (``p10``, ``p50``, ``p90`` by default; NaN without
        draws) and ``draws`` (their number). Reductions are paired: each draw's arm against
        the same draw's no action, so their quantiles are of the policy effect itself.

        Examples
        --------
        >>> import contagion as c
        >>> from contagion.policies import QEConfig
        >>> ex = c.experiment.experiment(c.examples.toy_basis_trade(),
        ...     c.scenarios.load("basis_unwind"), {"qe": [QEConfig(budget_usd_bn=20)]},
        ...     draws=4, rng=1)
        >>> ex.summary().loc[("qe", "reduction_peak_yield_bp")].index.tolist()
        ['central', 'p10', 'p50', 'p90', 'draws']
        """
        qs = [float(q) for q in quantiles]
        if any(not 0 <= q <= 1 for q in qs):
            raise InputError(Problem("summary", "quantiles", "each must be between 0 and 1"))
        central = self.to_frame()
        keep = [*HEADLINE, *(f"reduction_{m}" for m in REDUCTIONS)]
        central = central[[c for c in keep if c in central]]
        central = central.stack().rename("central").to_frame()
        central.index.names = ["arm", "metric"]
        n = self.n_draws
        if n:
            wide = paired_frame(self.draws)
            q = wide.groupby(level="arm", sort=False).quantile(qs)
            q.index.names = ["arm", "quantile"]
            q = q.stack().unstack("quantile")
            q.columns = [_quantile_name(x) for x in q.columns]
            q.index.names = ["arm", "metric"]
            out = central.join(q, how="left")
        else:
            out = central.assign(**{_quantile_name(x): np.nan for x in qs})
        out["draws"] = n
        return out

    def prob_better(
        self, metric: str = "peak_yield_bp", *, tolerance: float = 1e-9
    ) -> pd.DataFrame:
        """Rank robustness: the share of draws in which the row arm does better (a lower
        ``metric``) than the column arm, by more than ``tolerance``.

        The row arm beats no action in ``out.loc[arm, "no_action"]`` of the draws; ties
        count as not better, so ``p(a, b) + p(b, a) <= 1``. ``out.attrs["draws"]`` is the
        number of draws (0: an empty frame).
        """
        if metric not in HEADLINE:
            raise InputError(Problem("prob_better", "metric", f"use one of {', '.join(HEADLINE)}"))
        arms = list(self.metrics.index)
        n = self.n_draws
        out = pd.DataFrame(np.nan, index=pd.Index(arms, name="arm"), columns=arms)
        if n:
            wide = self.draws[self.draws["metric"] == metric].pivot(
                index="draw", columns="arm", values="value"
            )
            for a in arms:
                for b in arms:
                    if a != b and a in wide and b in wide:
                        out.loc[a, b] = float((wide[a] < wide[b] - tolerance).mean())
        out.attrs = {"draws": n, "metric": metric}
        return out

    def to_xarray(self) -> xarray.Dataset:
        """The draws as an ``xarray.Dataset`` (needs the ``xarray`` extra).

        Dimensions ``arm`` x ``draw`` for each headline metric, ``arm`` x ``draw`` x
        ``day`` for each kept daily path (:data:`PATHS`), ``draw`` for each drawn
        parameter (``param_<name>``); ``central_<metric>`` holds the central run per arm.
        ``attrs["parameter_set"]`` names the set used; ``attrs["parameters"]`` is its
        record as JSON.
        """
        try:
            import xarray as xr
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError(
                "ExperimentResult.to_xarray needs xarray: pip install 'basis-contagion[xarray]'"
            ) from None
        arms = list(self.metrics.index)
        data: dict[str, Any] = {}
        coords: dict[str, Any] = {"arm": arms}
        for m in HEADLINE:
            data[f"central_{m}"] = ("arm", self.metrics[m].reindex(arms).to_numpy(dtype=float))
        if self.n_draws:
            draws = sorted(self.draws["draw"].unique())
            coords["draw"] = draws
            cube = self.draws.pivot_table(
                index=["arm", "draw"], columns="metric", values="value", sort=False
            )
            full = pd.MultiIndex.from_product([arms, draws], names=["arm", "draw"])
            cube = cube.reindex(full)
            for m in cube.columns:
                values = cube[m].to_numpy(dtype=float).reshape(len(arms), len(draws))
                if str(m).startswith("param:"):
                    data["param_" + str(m).removeprefix("param:")] = ("draw", values[0])
                else:
                    data[str(m)] = (("arm", "draw"), values)
            if self.paths is not None and len(self.paths):
                days = sorted(self.paths["day"].unique())
                coords["day"] = days
                for m, sub in self.paths.groupby("metric", sort=False):
                    grid = sub.pivot_table(
                        index=["arm", "draw"], columns="day", values="value", sort=False
                    ).reindex(index=full, columns=days)
                    data[f"path_{m}"] = (
                        ("arm", "draw", "day"),
                        grid.to_numpy(dtype=float).reshape(len(arms), len(draws), len(days)),
                    )
        attrs = {
            "parameter_set": str(self.parameters.get("set", "")),
            "parameters": json.dumps(self.parameters, sort_keys=True, default=str),
            "draws": self.n_draws,
        }
        return xr.Dataset(data, coords=coords, attrs=attrs)

    def plot(self, kind: str = "fan", **options: Any) -> Figure:
        """A figure of the experiment (a matplotlib ``Figure``, no pyplot state).

        ``kind``: ``"fan"`` median and p10-p90 band over time of the kept daily paths per
        arm (needs draws); ``"bands"`` median and p10-p90 of headline metrics per arm;
        ``"paths"`` the central run's market paths; ``"cost_benefit"`` intervention size
        against reductions. ``options`` go to the figure function of
        :mod:`contagion.report.figures`.
        """
        from contagion.report import figures, labels

        names = labels.arm_labels(self.results)
        if kind == "fan":
            if self.paths is None or not len(self.paths):
                raise InputError(Problem("plot", "kind", "'fan' needs parameter draws"))
            return figures.fan_chart(self.paths, labels=names, **options)
        if kind == "bands":
            if not self.n_draws:
                raise InputError(Problem("plot", "kind", "'bands' needs parameter draws"))
            return figures.draw_bands(
                self.draws, labels.band_metrics(self.results), labels=names, **options
            )
        if kind == "paths":
            return figures.time_paths(
                {a: r.markets for a, r in self.results.items()},
                labels.market_panels(next(iter(self.results.values())).summary),
                "",
                labels=names,
                **options,
            )
        if kind == "cost_benefit":
            from contagion.report.render import intervention_size

            return figures.cost_benefit(
                self.effectiveness, intervention_size(self.effectiveness), labels=names
            )
        raise InputError(Problem("plot", "kind", "use one of fan, bands, paths, cost_benefit"))


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
    parameter_set: str = "auto",
    model_params: Mapping[str, float] | None = None,
    keep_paths: bool = True,
    standing: Sequence[PolicyConfig | Mapping[str, Any]] | None = None,
) -> ExperimentResult:
    """Run paired policy arms on the same shocks (and parameter draws).

    Parameters
    ----------
    system : System
    scenario : Scenario
    arms : mapping of arm name to a list of policy configs (or their dicts)
    draws : int
        Number of parameter draws (0: only the central run).
    rng : int, SeedSequence or None
        Seed of the parameter draws; draw ``d`` uses child ``d`` whatever the backend.
    uncertainty : mapping name -> (low, high, "uniform" | "loguniform"), optional
        Ranges of :class:`~contagion.ModelParams` to draw (default: the fit's ranges for
        fitted parameters, else :data:`DEFAULT_UNCERTAINTY`; see :func:`resolve_parameters`).
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
    parameter_set : "auto", "fitted" or "defaults"
        Which model parameters (:func:`resolve_parameters`): ``auto`` (default) the
        system's fitted ones where it carries any, ``defaults`` the package defaults.
    model_params : mapping name -> value, optional
        Single parameters overridden for every arm (held fixed across draws).
    keep_paths : bool
        Keep the daily :data:`PATHS` of every draw (``ExperimentResult.paths``).
    standing : list of policy configs (or their dicts), optional
        Policies in force in every arm, no action included (the system's standing
        facilities; see the module docstring): each named, names distinct; an arm's policy
        of the same name replaces it in that arm. Recorded in ``parameters["standing"]``.
    """
    from contagion import backends
    from contagion.engine import simulate
    from contagion.progress import resolve

    policies = check_arms(arms)  # names checked, policies validated, no_action first
    standing = check_standing(standing)
    arms = with_standing(policies, standing)
    if isinstance(draws, bool) or not isinstance(draws, numbers.Integral):
        raise InputError(Problem("experiment", "draws", "must be a whole number"))
    if not 0 <= draws <= MAX_DRAWS:
        raise InputError(Problem("experiment", "draws", f"must be between 0 and {MAX_DRAWS:,}"))
    if parameters is not None and len(parameters) > MAX_DRAWS:
        raise InputError(
            Problem("experiment", "parameters", f"at most {MAX_DRAWS:,} parameter points")
        )
    resolved = resolve_parameters(system, scenario, parameter_set, model_params, uncertainty)
    scenario, uncertainty = resolved.scenario, resolved.uncertainty
    # everything checked before the first run: nothing fails after the point runs
    if sampling not in SAMPLING:
        raise InputError(Problem("experiment", "sampling", f"use one of {', '.join(SAMPLING)}"))
    if parameters is not None:
        parameters = _checked_points(parameters)
        draws, sampling = len(parameters), "explicit"
    elif draws:
        check_uncertainty(DEFAULT_UNCERTAINTY if uncertainty is None else dict(uncertainty))
        _seed_sequence(rng)
    executor = backends.make_executor(backend, workers, scheduler)
    check_compatible(system, scenario, arms)
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
    if draws:
        long = _draws(
            backends, executor, system, scenario, arms, draws, rng, uncertainty,
            checkpoint_dir, progress, chunk_size, sampling, parameters, keep_paths,
        )  # fmt: skip
    draws_frame, paths = backends.split_paths(long)
    record = dict(resolved.record)
    record["draws"] = int(draws)
    record["sampling"] = sampling
    record["standing"] = [p.model_dump(mode="json") for p in standing]
    if parameters is not None:  # an explicit design (e.g. Sobol' indices) set the draws
        record["draw_ranges_source"] = "explicit parameter points"
    return ExperimentResult(
        metrics, effectiveness(metrics), draws_frame, results, scenarios,
        parameters=record, paths=paths,
    )  # fmt: skip


def _checked_points(parameters: Sequence[Mapping[str, float]]) -> list[dict[str, float]]:
    """Explicit parameter points as floats, each within its parameter's bounds."""
    from contagion.scenario import parameter_problems

    out, problems = [], []
    for i, point in enumerate(parameters):
        if not isinstance(point, Mapping):
            raise InputError(Problem("experiment", f"parameters.{i}", "must be a mapping"))
        problems += parameter_problems(dict(point), location="experiment", field=f"parameters.{i}")
        if problems:
            raise InputError(problems[:MAX_PROBLEMS_SHOWN])
        out.append({str(k): float(v) for k, v in point.items()})
    return out


def _draws(
    backends: Any, executor: Any, system: System, scenario: Scenario,
    arms: Mapping[str, Sequence[PolicyConfig]], draws: int, rng: Seed,
    uncertainty: Mapping[str, tuple[float, float, str]] | None,
    checkpoint_dir: str | os.PathLike | None, progress: Callable[[int, int], object] | None,
    size: int | None, sampling: str = "random",
    parameters: Sequence[Mapping[str, float]] | None = None, keep_paths: bool = False,
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
        if keep_paths:  # chunks with daily paths differ from chunks without
            key = {"key": key, "paths": list(PATHS)}
    params = (
        parameters if parameters is not None else draw_parameters(draws, uncertainty, rng, sampling)
    )
    if size is None:  # sized to the executor's threads (a large cluster: smaller chunks)
        size = backends.chunk_size(draws, executor.slots())
    chunks = backends.plan(params, size)
    work = backends.Work(system, scenario, arms, keep_paths)
    if checkpoint is None:
        return _run_chunks(executor, work, chunks, {}, None, progress, draws)
    checkpoint.open(
        backends.config_hash(system, scenario, arms, key, draws, uncertainty, size),
        draws=draws, chunk_size=size, **meta,
    )  # fmt: skip
    try:  # the directory stays locked while the sweep writes to it
        done: dict[int, list] = {}
        for chunk in chunks:
            found = checkpoint.load(chunk, list(arms))
            if found is not None:
                done[chunk.first] = found
        return _run_chunks(executor, work, chunks, done, checkpoint, progress, draws)
    finally:
        checkpoint.close()


def _run_chunks(
    executor: Any, work: Any, chunks: Sequence[Any], done: dict[int, list], checkpoint: Any,
    progress: Callable[[int, int], object] | None, draws: int,
) -> list:  # fmt: skip
    """Run the chunks not ``done`` (saving each to ``checkpoint``); every row in order."""
    by_first = {c.first: c for c in chunks}
    finished = sum(by_first[f].last - f + 1 for f in done)
    if progress is not None:
        progress(finished, draws)
    todo = [c for c in chunks if c.first not in done]
    size = max((c.last - c.first + 1 for c in chunks), default=0)
    log.info(
        "%d draws of %d arms in %d chunks of up to %d on %s (%d already in the checkpoint)",
        draws, len(work.arms), len(chunks), size, type(executor).__name__, finished,
    )  # fmt: skip
    if todo:
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
    from contagion.policies import check_config

    try:
        return check_config(p) if isinstance(p, PolicyConfig) else policy_from_dict(p)
    except InputError as err:
        raise InputError(
            [Problem(f"arm '{arm}'", q.field, q.reason) for q in err.problems]
        ) from None


def arm_name_problem(name: Any) -> str | None:
    """Why ``name`` cannot name an arm (None if it can)."""
    if not isinstance(name, str) or not name:
        return "arm names must be non-empty strings"
    if len(name) > MAX_ARM_NAME:
        return f"arm names have at most {MAX_ARM_NAME} characters"
    return text_problem(name)


def check_arms(
    arms: Mapping[str, Sequence[PolicyConfig | Mapping[str, Any]]],
) -> dict[str, list[PolicyConfig]]:
    """The arms with policies validated and ``no_action`` first (added if missing).

    :class:`~contagion.InputError` for a name that is not a safe non-empty string
    (:func:`contagion.errors.text_problem`) and for a ``no_action`` arm holding a policy
    (the baseline every arm is compared with acts by definition not at all).
    """
    if not isinstance(arms, Mapping):
        raise InputError(Problem("experiment", "arms", "must be a mapping of name to policies"))
    problems = [
        Problem("experiment", "arms", f"{name!r}: {reason}")
        for name in arms
        if (reason := arm_name_problem(name))
    ]
    if problems:
        raise InputError(problems)
    out = {name: [_policy(p, name) for p in pols] for name, pols in arms.items()}
    if out.get(BASELINE):
        raise InputError(
            Problem(
                f"arm '{BASELINE}'",
                "(policies)",
                f"'{BASELINE}' is the baseline every arm is compared with and must hold no "
                "policy; give this arm another name",
            )
        )
    if BASELINE not in out:
        out = {BASELINE: [], **out}
    return out


def _policy_name(p: PolicyConfig) -> str:
    """What names a policy within an arm: its ``name``, else its ``type``."""
    return p.name or str(getattr(p, "type", type(p).__name__))


def check_standing(
    standing: Sequence[PolicyConfig | Mapping[str, Any]] | None,
) -> list[PolicyConfig]:
    """Standing policies validated (:class:`~contagion.InputError` naming ``standing`` and
    the entry): a list of policies with distinct names."""
    if standing is None:
        return []
    if isinstance(standing, str | bytes | Mapping) or not isinstance(standing, Sequence):
        raise InputError(Problem("experiment", "standing", "must be a list of policies"))
    out = []
    for i, p in enumerate(standing):
        try:
            out.append(_policy(p, "standing"))
        except InputError as err:
            raise InputError(
                [Problem("standing", f"{i}.{q.field}", q.reason) for q in err.problems]
            ) from None
    names = [_policy_name(p) for p in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(
            Problem(
                "experiment",
                "standing",
                f"names must be distinct (an arm replaces a standing policy by name): "
                f"{', '.join(dup)} given twice",
            )
        )
    return out


def with_standing(
    arms: Mapping[str, Sequence[PolicyConfig]], standing: Sequence[PolicyConfig]
) -> dict[str, list[PolicyConfig]]:
    """Every arm with the standing policies in force first, except those it replaces by
    holding a policy of the same name (no action: the standing policies alone)."""
    out = {}
    for arm, pols in arms.items():
        own = {_policy_name(p) for p in pols}
        out[arm] = [p for p in standing if _policy_name(p) not in own] + list(pols)
    return out


def check_compatible(
    system: System,
    scenario: Scenario,
    arms: Mapping[str, Sequence[PolicyConfig]],
    *,
    system_source: str | None = None,
    scenario_source: str | None = None,
    arm_sources: Mapping[str, str | None] | None = None,
) -> None:
    """Check the scenario and every policy against the system before anything runs.

    The engine's own checks run (the scenario's bucket keys, each policy's buckets,
    contracts, trigger metric and need for a central bank: everything setting up a
    :class:`contagion.engine.Simulation` validates), one component at a time, so the
    :class:`~contagion.InputError` names the file it comes from: ``scenario_source`` for
    the scenario, ``arm_sources[arm]`` for a policy (the policy file, or the experiment
    file holding the arm), ``system_source`` otherwise.
    """
    from contagion.engine import Simulation

    arm_sources = arm_sources or {}
    system_label = system_source or repr(system.name)
    try:
        buckets = list(system.market.bucket_names)
        for name in ("rate_shock_bp", "exogenous_sales_usd_bn"):
            scenario.bucket_paths(name, buckets)  # unknown buckets
        Simulation(system, scenario, ())
    except InputError as err:
        raise InputError(err.problems, scenario_source or err.source) from None
    seen: set[int] = set()
    for arm, pols in arms.items():
        for pol in pols:
            if id(pol) in seen:
                continue
            seen.add(id(pol))
            try:
                Simulation(system, scenario, [pol])
            except InputError as err:
                label = pol.name or getattr(pol, "type", type(pol).__name__)
                where = f"arm '{arm}', policy '{label}'"
                problems = [
                    Problem(
                        where,
                        q.field,
                        q.reason + (f" (system {system_label})" if q.location == "system" else ""),
                    )
                    for q in err.problems
                ]
                raise InputError(problems, arm_sources.get(arm) or system_source) from None


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
    standing: list[SerializeAsAny[PolicyConfig]] = Field(
        default_factory=list,
        description="Policies in force in every arm, no action included (the system's "
        "standing facilities); an arm's policy of the same name replaces one.",
    )
    draws: int = Field(0, ge=0, le=MAX_DRAWS)
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    uncertainty: dict[str, tuple[float, float, str]] | None = None
    sampling: Literal["random", "sobol", "lhs"] = "random"
    sensitivity: SensitivityConfig | None = None
    parameter_set: Literal["auto", "fitted", "defaults"] = Field(
        "auto",
        description="Which model parameters every arm runs with: 'auto' the system's fitted "
        "ones where it carries any (metadata.model_params, e.g. calibrated_us_2025), else the "
        "package defaults; 'fitted' requires them; 'defaults' does not apply them.",
    )
    model_params: Literal["system", "fitted"] | dict[str, float] | None = Field(
        None,
        description="A mapping overrides single parameters for every arm (held fixed across "
        "draws); 'system' (or 'fitted') is the older spelling of parameter_set: fitted.",
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

    @field_validator("standing", mode="before")
    @classmethod
    def _standing_policies(cls, standing: Any) -> Any:
        """Each standing policy validated by its registered ``type``; names distinct."""
        if not isinstance(standing, list):
            return standing
        return check_standing(standing)

    @field_validator("arms")
    @classmethod
    def _arm_names(cls, arms: dict[str, list]) -> dict[str, list]:
        for name, pols in arms.items():
            reason = arm_name_problem(name)
            if reason:
                raise ValueError(f"{name!r}: {reason}")
            if name == BASELINE and pols:
                raise ValueError(
                    f"'{BASELINE}' is the baseline every arm is compared with and must hold "
                    "no policy; give this arm another name"
                )
        return arms

    @field_validator("system", "scenario")
    @classmethod
    def _safe_path(cls, v: str) -> str:
        reason = text_problem(v)
        if reason:
            raise ValueError(reason)
        return v


def config_parameters(config: ExperimentConfig) -> tuple[str, dict[str, float] | None]:
    """``(parameter_set, overrides)`` of an experiment file, for :func:`resolve_parameters`
    (``model_params: system`` is ``parameter_set: fitted``; naming it together with
    ``parameter_set: defaults`` is an :class:`~contagion.InputError`)."""
    legacy = config.model_params in ("system", "fitted")
    if legacy and config.parameter_set == "defaults":
        raise InputError(
            Problem(
                "experiment",
                "parameter_set",
                f"'defaults' contradicts model_params: {config.model_params} (the fitted "
                "parameters); keep one of them",
            )
        )
    pset = "fitted" if legacy else config.parameter_set
    overrides = dict(config.model_params) if isinstance(config.model_params, dict) else None
    return pset, overrides


def resolve_config(
    config: ExperimentConfig, system: System, scenario: Scenario
) -> ResolvedParameters:
    """:func:`resolve_parameters` for an experiment file (its parameter set, overrides and
    ``uncertainty``)."""
    pset, overrides = config_parameters(config)
    return resolve_parameters(system, scenario, pset, overrides, config.uncertainty)


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
        if isinstance(doc, Mapping) and "standing" in doc:
            check_standing(doc["standing"])  # clear errors naming the entry and field
        if isinstance(doc, Mapping) and isinstance(doc.get("draws"), bool):
            raise InputError(Problem("experiment", "draws", "must be a whole number"))
        config = ExperimentConfig.model_validate(doc)
        experiment_inputs(config, Path(path).parent)  # paths may not leave the directory
        config_parameters(config)  # a contradiction is an error now
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

            unc = check_design(config.uncertainty, config.sensitivity.base_samples)
            points = config.sensitivity.base_samples * (len(unc) + 2)
            if points > MAX_DRAWS:
                raise InputError(
                    Problem(
                        "experiment",
                        "sensitivity.base_samples",
                        f"{config.sensitivity.base_samples} base samples for {len(unc)} "
                        f"parameters make {points:,} points, more than {MAX_DRAWS:,}",
                    )
                )
    except ValidationError as err:
        raise InputError.from_validation(err, "experiment", str(path)) from None
    except InputError as err:
        raise err.with_source(str(path)) from None
    return config


def default_experiment() -> ExperimentConfig:
    """The main job's experiment (the bundled ``data/experiments/default.yaml``): what
    ``contagion run`` runs with no arguments, its standing facilities included."""
    from importlib.resources import as_file, files

    with as_file(files("contagion") / "data" / "experiments" / "default.yaml") as path:
        return load_experiment(path)


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
    sys_file = (
        None
        if config.system in examples.BUNDLED
        else config_path(base, config.system, field="system")
    )
    sc_file = (
        None
        if config.scenario in scenarios.available()
        else config_path(base, config.scenario, field="scenario")
    )
    system = examples.load_bundled(config.system) if sys_file is None else load_system(sys_file)
    scenario = scenarios.load(config.scenario) if sc_file is None else load_scenario(sc_file)
    pset, overrides = config_parameters(config)
    resolved = resolve_config(config, system, scenario)
    check_compatible(  # errors name the scenario or system file
        system, resolved.scenario, with_standing(check_arms(config.arms), config.standing),
        system_source=None if sys_file is None else str(sys_file),
        scenario_source=None if sc_file is None else str(sc_file),
    )  # fmt: skip
    result = experiment(
        system,
        scenario,
        config.arms,
        draws=config.draws,
        rng=config.seed,
        uncertainty=config.uncertainty,
        sampling=config.sampling,
        parameter_set=pset,
        model_params=overrides,
        standing=config.standing,
        **options,
    )
    if config.sensitivity is None:
        return result
    from contagion.sensitivity import run_sensitivity

    return run_sensitivity(config, system, scenario, result, **options)
