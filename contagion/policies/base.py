"""The policy interface: a validated config plus a runtime object with a few engine hooks.

Every policy is data (a pydantic config, loadable from YAML) with a **trigger** (from a day,
or when a market metric of the previous close crosses a threshold), a **size/budget** and a
**duration**, and it reports its daily usage and cost. The engine calls these hooks, all
no-ops by default, so adding a policy never touches the engine:

=================  ====================================================================
hook               when and what
=================  ====================================================================
``start``          once, before day 1: validate against the system, add facility edges
``adjust``         start of each day: decide whether it acts today; change risk settings
                   (haircut floor, IM multiplier)
``exposure_relief`` when dealer room is measured: assets excluded from leverage exposure
``lend``           before dues are paid: standing facilities lend against collateral
``financing_*``    market clearing: facilities fund dealers' new inventory
``bid``/``settle`` market clearing: par bought per bucket (netted before price impact)
``supply``         market clearing: new par issued (sold by the Treasury)
``futures_flow``   futures clearing: notional bought (+) or sold (-) per contract
``end_day``        record usage; set the repo-rate cap for eligible borrowers
=================  ====================================================================
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from contagion.errors import InputError, Problem


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Trigger(_Frozen):
    """When a policy starts acting: from ``start_day`` (1 = the first simulated day), and,
    if ``metric`` is set, once that column of ``Result.markets`` at the previous close is
    above (or below) ``threshold``. Once triggered it acts for ``duration_days``."""

    start_day: int = Field(1, ge=1, le=3650)
    metric: str | None = Field(None, description="e.g. 'basis_widening_TY_bp'")
    threshold: float | None = Field(None, allow_inf_nan=False)
    above: bool = True

    @model_validator(mode="after")
    def _pair(self) -> Trigger:
        if (self.metric is None) != (self.threshold is None):
            raise ValueError("metric and threshold must be given together")
        return self


#: Policy hooks that only read the run (bids, supply, capacities, relief, orders): they
#: must leave the State's arrays unchanged (see ``Run._each_policy_query``).
QUERY_HOOKS = (
    "bid", "supply", "financing_capacity", "futures_flow", "exposure_relief", "has_order"
)  # fmt: skip


class PolicyConfig(_Frozen):
    """Fields every policy has."""

    name: str | None = Field(None, max_length=100, description="Label (defaults to type).")
    trigger: Trigger = Field(default_factory=Trigger)
    duration_days: int | None = Field(None, ge=1, le=3650, description="None: to the end.")

    @abstractmethod
    def build(self) -> Policy:
        """The runtime policy for this config (every concrete config defines it)."""


class Policy:
    """Runtime side of a policy: hooks (no-ops here), trigger state and a usage log."""

    def __init__(self, config: PolicyConfig) -> None:
        self.config = config
        self.name = config.name or getattr(config, "type", type(self).__name__)
        self.on = False
        self.triggered_day: int | None = None
        self.usage: list[dict[str, Any]] = []

    # --- lifecycle ------------------------------------------------------------------------
    def start(self, run) -> None:
        metric = self.config.trigger.metric
        if metric is not None:
            from contagion.recorder import metric_names

            names = metric_names(run.s.cs.market)
            if metric not in names:
                raise InputError(
                    Problem(
                        f"policy '{self.name}'",
                        "trigger.metric",
                        f"unknown metric {metric!r}; allowed: {', '.join(names)}",
                    )
                )

    def adjust(self, run) -> None:
        """Decide whether the policy acts today (called at the start of every day)."""
        day = run.s.day + 1
        t = self.config.trigger
        if self.triggered_day is None and day >= t.start_day:
            fires = True
            if t.metric is not None:
                value = run.metrics.get(t.metric, np.nan)
                fires = bool(value > t.threshold if t.above else value < t.threshold)
            if fires:
                self.triggered_day = day
        dur = self.config.duration_days
        self.on = self.triggered_day is not None and (dur is None or day < self.triggered_day + dur)

    # --- hooks (no-ops) ---------------------------------------------------------------------
    # The query hooks (QUERY_HOOKS) must not change the run's books (State arrays): the
    # engine keeps its cached sums over edges across them. The others may move anything.
    def exposure_relief(self, run, assets: np.ndarray) -> np.ndarray:
        return np.zeros(run.s.n)

    def lend(self, run, shortfall: np.ndarray) -> None:
        return None

    def financing_capacity(self, run, room: np.ndarray) -> np.ndarray:
        """New inventory financing the policy could give each institution (USD bn)."""
        return np.zeros(run.s.n)

    def finance(self, run, amount: np.ndarray, bought: np.ndarray) -> np.ndarray:
        """Lend ``amount`` against the bonds ``bought`` (n x buckets par); returns lent."""
        return np.zeros(run.s.n)

    def bid(self, run, sold: np.ndarray) -> np.ndarray:
        return np.zeros(len(run.buckets))

    def supply(self, run) -> np.ndarray:
        return np.zeros(len(run.buckets))

    def settle(self, run, sold: np.ndarray, price: np.ndarray) -> np.ndarray:
        return np.zeros(len(run.buckets))

    def futures_flow(self, run, flow: np.ndarray) -> np.ndarray:
        return np.zeros_like(flow)

    def has_order(self, run) -> bool:
        """True if the policy wants to trade today even when nobody else sells."""
        return False

    def end_day(self, run, log) -> None:
        return None

    # --- reporting -----------------------------------------------------------------------------
    def record(self, run, item: str, value: float, institution: str = "") -> None:
        self.usage.append(
            {
                "day": run.s.day + 1,
                "policy": self.name,
                "item": item,
                "institution": institution,
                "value_usd_bn": float(value),
            }
        )

    def describe(self) -> dict[str, Any]:
        return self.config.model_dump(mode="json")

    def summary(self) -> dict[str, float]:
        """Totals for ``Result.summary`` (keys ``policy_<name>_<item>``)."""
        return {}

    @staticmethod
    def central_bank(run) -> int:
        idx = np.flatnonzero(run.mask["central_bank"])
        if not len(idx):
            raise InputError(
                Problem("system", "type", "this policy needs a central_bank institution")
            )
        return int(idx[0])

    def bucket_index(self, run, buckets, field: str) -> np.ndarray:
        unknown = [b for b in buckets if b not in run.buckets]
        if unknown:
            raise InputError(
                Problem(
                    f"policy '{self.name}'",
                    field,
                    f"unknown bucket {unknown[0]!r}; allowed: {', '.join(run.buckets)}",
                )
            )
        return np.array([run.buckets.index(b) for b in buckets], dtype=np.int64)
