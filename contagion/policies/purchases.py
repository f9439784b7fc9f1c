"""Outright purchases: QE, sovereign wealth fund, and the central bank's basis facility.

All three buy cash Treasuries through one :class:`Purchases` engine: a daily schedule
(USD bn market value per bucket) and/or a reactive share of each round's sales, capped by a
budget and optional price limits, bought at the clearing price and netted from sales before
price impact (a :class:`~contagion.orders.Bid`). They differ in who pays and what that does
to the system:

* **QE** (:class:`QEConfig`): the central bank pays with newly created reserves (its cash
  falls below zero: the reserves it issued), so cash enters the system; the bonds go on its
  balance sheet. Reports bought and balance-sheet growth.
* **Sovereign fund** (:class:`SovereignFundConfig`): a fund outside the system pays; it
  creates no reserves. Funded from existing assets, it sells other assets to long-only
  investors (asset managers and other holders: their cash falls as much as it spends); by
  new issuance, the Treasury sells new bonds of ``issuance_bucket`` into the same market
  (extra supply). Reports spend, holdings and mark-to-market P&L.
* **Basis facility** (:class:`BasisFacilityConfig`): the central bank buys cash bonds with
  new reserves and sells the matching futures (par x conversion factor), taking the other
  side of the basis trade; its futures leg is a position of the CCP's outside side, kept in
  the facility's record.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from contagion.errors import InputError, Problem
from contagion.orders import Bid
from contagion.policies.base import Policy, PolicyConfig, PolicyCosts, PolicyView
from contagion.policies.registry import register
from contagion.sums import dot

NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
PositivePrice = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class PurchaseFields(PolicyConfig):
    schedule_usd_bn: dict[str, list[NonNegative]] = Field(
        default_factory=dict,
        description="Purchases per bucket per active day (USD bn market value); day 0 of the "
        "list is the first active day.",
    )
    reactive_share: float = Field(
        0.0, ge=0, le=1, description="Share of each round's sales bought, per bucket."
    )
    buckets: list[str] | None = Field(None, description="Buckets for reactive buying (all).")
    budget_usd_bn: float = Field(gt=0, allow_inf_nan=False, description="Total spend cap.")
    max_price: dict[str, PositivePrice] = Field(
        default_factory=dict, description="Do not buy a bucket priced above this (per 100)."
    )


class Purchases(Policy):
    """Shared purchase mechanics (see module docstring)."""

    payer: ClassVar[str] = "central_bank"

    def validate(self, view: PolicyView) -> None:
        super().validate(view)
        cfg = self.config
        nb = len(view.buckets)
        self.schedule = np.zeros((view.days, nb))
        for b, path in cfg.schedule_usd_bn.items():
            j = self.bucket_index(view, [b], f"schedule_usd_bn.{b}")[0]
            self.schedule[: len(path), j] = path[: view.days]
        self.reactive = np.zeros(nb)
        chosen = cfg.buckets if cfg.buckets is not None else view.buckets
        self.reactive[self.bucket_index(view, chosen, "buckets")] = cfg.reactive_share
        self.max_price = np.full(nb, np.inf)
        for b, v in cfg.max_price.items():
            self.max_price[self.bucket_index(view, [b], f"max_price.{b}")[0]] = v
        if self.payer == "central_bank":
            self.cb = view.central_bank()

    def initial_record(self, view: PolicyView) -> dict[str, Any]:
        nb = len(view.buckets)
        return {
            **super().initial_record(view),
            "spent": 0.0,
            "cost_basis": 0.0,
            "holdings": np.zeros(nb),
            "pending": np.zeros(nb),
            "scheduled_today": np.zeros(nb),
        }

    def on_day(self, view: PolicyView) -> list:
        self.update_trigger(view)
        mine = view.mine
        mine["scheduled_today"][:] = 0.0
        if mine["on"]:
            k = view.day - mine["triggered_day"]
            if k < len(self.schedule):
                mine["scheduled_today"][:] = self.schedule[k]
        return []

    def wants_to_trade(self, view: PolicyView) -> bool:
        mine = view.mine
        return mine["on"] and bool(mine["scheduled_today"].any())

    def bid(self, view: PolicyView, sold: np.ndarray) -> Bid | None:
        mine = view.mine
        mine["pending"][:] = 0.0
        if not mine["on"]:
            return None
        price = view.price / 100.0
        want = mine["scheduled_today"] / price + self.reactive * sold
        mine["scheduled_today"][:] = 0.0
        want = np.where(view.price <= self.max_price, want, 0.0)
        room = max(0.0, self.config.budget_usd_bn - mine["spent"])
        value = dot(want, price)
        if value > room:
            want = want * (room / value)
        mine["pending"][:] = want
        return Bid(par=want, payer=self.payer, investors=self.investors(view))

    def investors(self, view: PolicyView) -> np.ndarray | None:
        return None

    def filled(self, view: PolicyView, fill) -> None:
        mine = view.mine
        cost = fill.cost_usd_bn
        mine["spent"] += cost
        mine["cost_basis"] += cost
        mine["holdings"] += fill.par
        self.record(view, "bought", cost)
        mine["pending"][:] = 0.0

    def mtm_usd_bn(self, view: PolicyView) -> float:
        mine = view.mine
        return dot(mine["holdings"], view.price / 100.0) - mine["cost_basis"]

    def summary(self, record: dict[str, Any]) -> dict[str, float]:
        return {f"policy_{self.name}_spent_usd_bn": record["spent"]}

    def costs(self, record: dict[str, Any]) -> PolicyCosts:
        return PolicyCosts(budget_spent_usd_bn=record["spent"])


@register
class QEConfig(PurchaseFields):
    """Central-bank outright purchases paid with new reserves."""

    tool: ClassVar[str] = "central-bank outright purchases with new reserves"
    type: Literal["qe"] = "qe"

    def build(self) -> Policy:
        return QE(self)


class QE(Purchases):
    def on_day_end(self, view: PolicyView) -> None:
        mine = view.mine
        if mine["on"]:
            self.record(view, "balance_sheet_growth", mine["spent"])

    def summary(self, record: dict[str, Any]) -> dict[str, float]:
        return {
            f"policy_{self.name}_bought_usd_bn": record["spent"],
            f"policy_{self.name}_balance_sheet_growth_usd_bn": record["spent"],
        }


@register
class SovereignFundConfig(PurchaseFields):
    """A sovereign wealth fund's purchases; creates no reserves."""

    tool: ClassVar[str] = "sovereign wealth fund purchases (existing assets or new debt)"
    type: Literal["swf"] = "swf"
    funding: Literal["existing_assets", "new_issuance"] = "existing_assets"
    issuance_bucket: str | None = Field(
        None, description="Bucket of the new debt (new_issuance); default: the bucket bought."
    )

    def build(self) -> Policy:
        return SovereignFund(self)


class SovereignFund(Purchases):
    payer: ClassVar[str] = "outside"
    INVESTORS = ("asset_manager", "other", "sovereign_fund")  # long-only buyers of its assets

    def validate(self, view: PolicyView) -> None:
        super().validate(view)
        cfg = self.config
        self.issue_into = (
            None
            if cfg.issuance_bucket is None
            else int(self.bucket_index(view, [cfg.issuance_bucket], "issuance_bucket")[0])
        )
        self.investor_mask = np.isin(view.topo.type_name, self.INVESTORS)

    def initial_record(self, view: PolicyView) -> dict[str, Any]:
        return {**super().initial_record(view), "issued": np.zeros(len(view.buckets))}

    def investors(self, view: PolicyView) -> np.ndarray | None:
        # funded from existing assets, it sold other assets to investors: their cash pays
        return self.investor_mask if self.config.funding == "existing_assets" else None

    def issue(self, view: PolicyView) -> np.ndarray | None:
        """New issuance worth this round's purchases (same bucket unless one is given)."""
        mine = view.mine
        pending = mine["pending"]
        if self.config.funding != "new_issuance" or not pending.any():
            return None
        price = view.price / 100.0
        value = pending * price
        out = np.zeros(len(view.buckets))
        if self.issue_into is None:
            out = pending.copy()
        else:
            out[self.issue_into] = value.sum() / price[self.issue_into]
        mine["issued"] += out
        return out

    def on_day_end(self, view: PolicyView) -> None:
        mine = view.mine
        if mine["on"]:
            self.record(view, "holdings_par", float(mine["holdings"].sum()))
            self.record(view, "mtm_pnl", self.mtm_usd_bn(view))

    def summary(self, record: dict[str, Any]) -> dict[str, float]:
        return {
            f"policy_{self.name}_spent_usd_bn": record["spent"],
            f"policy_{self.name}_holdings_par_usd_bn": float(record["holdings"].sum()),
            f"policy_{self.name}_issued_par_usd_bn": float(record["issued"].sum()),
        }


@register
class BasisFacilityConfig(PolicyConfig):
    """Central-bank basis purchases: buy cash bonds, sell the matching futures."""

    tool: ClassVar[str] = "central bank buys cash bonds and sells the matching futures"
    type: Literal["basis_facility"] = "basis_facility"
    contracts: list[str] | None = Field(None, description="Futures contracts (all).")
    reactive_share: float = Field(0.5, gt=0, le=1, description="Share of sales bought.")
    budget_usd_bn: float = Field(gt=0, allow_inf_nan=False)

    def build(self) -> Policy:
        return BasisFacility(self)


class BasisFacility(Purchases):
    def validate(self, view: PolicyView) -> None:
        Policy.validate(self, view)
        m = view.market
        codes = self.config.contracts or list(m.futures_codes)
        unknown = [c for c in codes if c not in m.futures_codes]
        if unknown:
            raise InputError(
                Problem(
                    f"policy '{self.name}'",
                    "contracts",
                    f"unknown contract {unknown[0]!r}; allowed: {', '.join(m.futures_codes)}",
                )
            )
        self.cb = view.central_bank()
        nb = len(view.buckets)
        self.contract_idx = np.array([m.futures_codes.index(c) for c in codes], np.int64)
        self.reactive = np.zeros(nb)
        self.reactive[m.futures_bucket[self.contract_idx]] = self.config.reactive_share
        self.schedule = np.zeros((view.days, nb))
        self.max_price = np.full(nb, np.inf)
        # contracts cleared by some CCP (the futures leg is booked on its external side)
        topo = view.topo
        fut = ~topo.is_swap
        self.cleared = {int(c) for c in self.contract_idx if (fut & (topo.m_instrument == c)).any()}

    def initial_record(self, view: PolicyView) -> dict[str, Any]:
        nf = len(view.market.futures_codes)
        return {**super().initial_record(view), "futures_short": np.zeros(nf)}

    def futures_order(self, view: PolicyView, flow: np.ndarray) -> np.ndarray | None:
        """Sell futures against the bonds bought this round (par x conversion factor)."""
        pending = view.mine["pending"]
        if not pending.any():
            return None
        m = view.market
        out = np.zeros_like(flow)
        for c in self.contract_idx:
            if c in self.cleared:
                out[c] = -pending[m.futures_bucket[c]] * m.conversion_factor[c]
        return out

    def filled(self, view: PolicyView, fill) -> None:
        super().filled(view, fill)
        m = view.market
        # the facility takes the place of the outside seller the buyers would have met: a
        # transfer within the CCP's outside side, kept in this record
        for c in self.contract_idx:
            if c in self.cleared:
                view.mine["futures_short"][c] += (
                    fill.par[m.futures_bucket[c]] * m.conversion_factor[c]
                )

    def summary(self, record: dict[str, Any]) -> dict[str, float]:
        return {
            f"policy_{self.name}_bought_usd_bn": record["spent"],
            f"policy_{self.name}_futures_sold_usd_bn": float(record["futures_short"].sum()),
        }
