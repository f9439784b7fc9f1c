"""What a step reads besides the state: the run's constants, and the day's flows.

:class:`Context` bundles what is fixed for a run: the :class:`~contagion.topology.Topology`,
the model parameters and channel switches, the scenario's paths as arrays and constants
derived from them. :class:`DayLog` collects what happened on a day (margin calls, sales by
kind, who bought, defaults), written by the steps and read by the recorder. :class:`Day`
carries values one step hands to the next within a day; it does not outlive the day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from contagion.mechanisms import price_impact as pi
from contagion.mechanisms import volatility as vo
from contagion.scenario import Channels, ModelParams, Scenario
from contagion.topology import Topology


@dataclass(frozen=True, eq=False)
class Context:
    """Constants of one run (read-only by convention)."""

    topo: Topology
    scenario: Scenario

    @property
    def params(self) -> ModelParams:
        return self.scenario.params

    @property
    def channels(self) -> Channels:
        return self.scenario.channels

    @cached_property
    def buckets(self) -> list[str]:
        return list(self.topo.cs.market.bucket_names)

    @cached_property
    def rate_shock_bp(self) -> np.ndarray:
        """(days, buckets) fundamental yield change, bp."""
        return self.scenario.bucket_paths("rate_shock_bp", self.buckets)

    @cached_property
    def swap_spread_shock_bp(self) -> np.ndarray:
        """(days, buckets) change of swap rates alone, bp."""
        return self.scenario.bucket_paths("swap_spread_shock_bp", self.buckets)

    @cached_property
    def exogenous_sales_usd_bn(self) -> np.ndarray:
        """(days, buckets) sales by 'other' sellers, USD bn market value."""
        return self.scenario.bucket_paths("exogenous_sales_usd_bn", self.buckets)

    @cached_property
    def treasury_issuance_usd_bn(self) -> np.ndarray:
        """(days, buckets) net new Treasury supply settling, USD bn market value."""
        return self.scenario.bucket_paths("treasury_issuance_usd_bn", self.buckets)

    @cached_property
    def _paths(self) -> dict[str, np.ndarray]:
        return {}

    def path(self, name: str) -> np.ndarray:
        """The scenario's scalar path ``name`` padded to its days (built once per run)."""
        out = self._paths.get(name)
        if out is None:
            out = self._paths[name] = self.scenario.path(name)
        return out

    @cached_property
    def impact_duration_scale(self) -> np.ndarray:
        """(D_b / D_ref)^epsilon: yield impact per USD bn by bucket (price_impact)."""
        p = self.params
        return pi.duration_scale(
            self.topo.cs.market.modified_duration_years,
            elasticity=p.impact_duration_elasticity,
            reference_years=p.impact_reference_duration_years,
        )

    @cached_property
    def vol_tenor_weights(self) -> np.ndarray:
        return vo.tenor_weights(self.buckets)

    @cached_property
    def futures_drift_pts(self) -> np.ndarray:
        """Daily carry drift of each futures price (mechanisms.carry), price points."""
        from contagion.mechanisms.carry import futures_drift_pts

        m = self.topo.cs.market
        fb = m.futures_bucket
        return futures_drift_pts(
            m.price[fb],
            m.yield_pct[fb],
            m.repo_rate_pct,
            m.conversion_factor,
            self.params.day_count_days,
        )

    @cached_property
    def basis0_bp(self) -> np.ndarray:
        """Initial basis per contract in yield bp (price points at the initial prices)."""
        m = self.topo.cs.market
        fb = m.futures_bucket
        pts = m.price[fb] - m.conversion_factor * m.futures_price
        return pts / (m.modified_duration_years[fb] * m.price[fb] * 1e-4)


@dataclass
class DayLog:
    """What happened on one day (per-institution arrays, USD bn)."""

    vm_paid: np.ndarray
    im_called: np.ndarray
    repo_margin_called: np.ndarray
    repo_recalled: np.ndarray
    forced_sales: np.ndarray
    voluntary_sales: np.ndarray
    exogenous_sales: np.ndarray
    liquidation_sales: np.ndarray
    redemptions_paid: np.ndarray
    subscriptions_received: np.ndarray  # new investors' cash into funds (government MMFs)
    distributed_sales: np.ndarray  # dealers' absorbed inventory bought by outside capital
    sales_by_bucket: np.ndarray  # (n, n_buckets) par sold
    absorbed_by_dealers: np.ndarray  # (n, n_buckets) par bought by dealers
    bought_outside: np.ndarray  # (n_buckets,) par bought outside the system
    policy_bought: np.ndarray  # (n_buckets,) par bought by policies
    iterations: int = 0
    bound_hit: bool = False
    defaults: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def empty(cls, n: int, n_buckets: int) -> DayLog:
        return cls(
            *(np.zeros(n) for _ in range(11)),
            sales_by_bucket=np.zeros((n, n_buckets)),
            absorbed_by_dealers=np.zeros((n, n_buckets)),
            bought_outside=np.zeros(n_buckets),
            policy_bought=np.zeros(n_buckets),
        )


@dataclass
class Day:
    """Values handed from step to step within one day (none outlives the day)."""

    t: int  # day index, 0-based
    log: DayLog
    close_leverage: np.ndarray  # leverage at the previous close (lenders act on it)
    close_loss: np.ndarray  # share of equity lost at the previous close
    first: bool = True  # the first round of the day (voluntary and exogenous sales)
    books_changed: bool = True  # something that can move equity happened since the check
    raised_cash: bool = False  # a round sold other assets: the next round pays with it
    # market clearing of the current round (set by price_impact.clear_step)
    sold: np.ndarray | None = None  # par sold per bucket (the plan's sales summed)
    pool_plan: np.ndarray | None = None  # new MMF plus facility financing per dealer
    facility_plan: np.ndarray | None = None  # of which standing facilities
    policy_bids: np.ndarray | None = None  # par per bucket
    policy_supply: np.ndarray | None = None
    issuance: np.ndarray | None = None  # par the Treasury issues this round (scenario)
    awards: np.ndarray | None = None  # (n, buckets) par of it awarded to dealers
    orders: dict[str, Any] = field(default_factory=dict)  # the policies' orders this round
