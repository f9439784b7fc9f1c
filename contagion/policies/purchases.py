"""Outright purchases: QE, sovereign wealth fund, and the central bank's basis facility.

All three buy cash Treasuries through one :class:`Purchases` engine: a daily schedule
(USD bn market value per bucket) and/or a reactive share of each round's sales, capped by a
budget and optional price limits, bought at the clearing price and netted from sales before
price impact. They differ in who pays and what that does to the system:

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
  the facility's ledger.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from contagion.policies.base import Policy, PolicyConfig

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

    def start(self, run) -> None:
        super().start(run)
        cfg = self.config
        nb = len(run.buckets)
        self.schedule = np.zeros((run.sc.days, nb))
        for b, path in cfg.schedule_usd_bn.items():
            j = self.bucket_index(run, [b], f"schedule_usd_bn.{b}")[0]
            self.schedule[: len(path), j] = path[: run.sc.days]
        self.reactive = np.zeros(nb)
        chosen = cfg.buckets if cfg.buckets is not None else run.buckets
        self.reactive[self.bucket_index(run, chosen, "buckets")] = cfg.reactive_share
        self.max_price = np.full(nb, np.inf)
        for b, v in cfg.max_price.items():
            self.max_price[self.bucket_index(run, [b], f"max_price.{b}")[0]] = v
        self.spent = 0.0
        self.holdings = np.zeros(nb)
        self.cost_basis = 0.0
        self.pending = np.zeros(nb)
        self.scheduled_today = np.zeros(nb)

    def adjust(self, run) -> None:
        super().adjust(run)
        self.scheduled_today = np.zeros(len(run.buckets))
        if self.on:
            k = run.s.day + 1 - self.triggered_day
            if k < len(self.schedule):
                self.scheduled_today = self.schedule[k].copy()

    def has_order(self, run) -> bool:
        return self.on and bool(self.scheduled_today.any())

    def bid(self, run, sold: np.ndarray) -> np.ndarray:
        self.pending = np.zeros(len(run.buckets))
        if not self.on:
            return self.pending
        price = run.s.price / 100.0
        want = self.scheduled_today / price + self.reactive * sold
        self.scheduled_today = np.zeros_like(self.scheduled_today)
        want = np.where(run.s.price <= self.max_price, want, 0.0)
        room = max(0.0, self.config.budget_usd_bn - self.spent)
        value = float(want @ price)
        if value > room:
            want = want * (room / value)
        self.pending = want
        return want

    def settle(self, run, sold: np.ndarray, price: np.ndarray) -> np.ndarray:
        par = self.pending
        if not par.any():
            return np.zeros_like(par)
        cost = float(par @ price)
        self.spent += cost
        self.cost_basis += cost
        self.holdings += par
        self.pay(run, par, cost)
        self.record(run, "bought", cost)
        self.pending = np.zeros_like(par)
        return par

    def pay(self, run, par: np.ndarray, cost: float) -> None:
        """The central bank buys with new reserves (QE and the basis facility)."""
        s = run.s
        cb = self.central_bank(run)
        s.cash[cb] -= cost
        s.par[cb] += par

    def mtm_usd_bn(self, run) -> float:
        return float(self.holdings @ (run.s.price / 100.0)) - self.cost_basis

    def summary(self) -> dict[str, float]:
        return {f"policy_{self.name}_spent_usd_bn": self.spent}


class QEConfig(PurchaseFields):
    """Central-bank outright purchases paid with new reserves."""

    type: Literal["qe"] = "qe"

    def build(self) -> Policy:
        return QE(self)


class QE(Purchases):
    def start(self, run) -> None:
        super().start(run)
        self.central_bank(run)

    def end_day(self, run, log) -> None:
        if self.on:
            self.record(run, "balance_sheet_growth", self.spent)

    def summary(self) -> dict[str, float]:
        return {
            f"policy_{self.name}_bought_usd_bn": self.spent,
            f"policy_{self.name}_balance_sheet_growth_usd_bn": self.spent,
        }


class SovereignFundConfig(PurchaseFields):
    """A sovereign wealth fund's purchases; creates no reserves."""

    type: Literal["swf"] = "swf"
    funding: Literal["existing_assets", "new_issuance"] = "existing_assets"
    issuance_bucket: str | None = Field(
        None, description="Bucket of the new debt (new_issuance); default: the bucket bought."
    )

    def build(self) -> Policy:
        return SovereignFund(self)


class SovereignFund(Purchases):
    INVESTORS = ("asset_manager", "other", "sovereign_fund")  # long-only buyers of its assets

    def start(self, run) -> None:
        super().start(run)
        cfg = self.config
        self.issue_into = (
            None
            if cfg.issuance_bucket is None
            else int(self.bucket_index(run, [cfg.issuance_bucket], "issuance_bucket")[0])
        )
        self.issued = np.zeros(len(run.buckets))
        self.investors = np.isin(run.type_name, self.INVESTORS)

    def supply(self, run) -> np.ndarray:
        """New issuance worth this round's purchases (same bucket unless one is given)."""
        out = np.zeros(len(run.buckets))
        if self.config.funding != "new_issuance" or not self.pending.any():
            return out
        price = run.s.price / 100.0
        value = self.pending * price
        if self.issue_into is None:
            out = self.pending.copy()
        else:
            out[self.issue_into] = value.sum() / price[self.issue_into]
        self.issued += out
        return out

    def pay(self, run, par: np.ndarray, cost: float) -> None:
        s = run.s
        # the fund sits outside the system: bonds leave, its cash comes in
        s.external_par_out += par
        s.external_cash_in += cost
        if self.config.funding == "existing_assets":
            # it sold other assets to investors: their cash pays for its purchases
            cash = np.where(self.investors & ~s.defaulted, np.maximum(s.cash, 0.0), 0.0)
            total = cash.sum()
            drain = cash * min(1.0, cost / total) if total > 0 else cash
            s.cash -= drain
            s.other_assets += drain
            s.external_cash_in -= float(drain.sum())

    def end_day(self, run, log) -> None:
        if self.on:
            self.record(run, "holdings_par", float(self.holdings.sum()))
            self.record(run, "mtm_pnl", self.mtm_usd_bn(run))

    def summary(self) -> dict[str, float]:
        return {
            f"policy_{self.name}_spent_usd_bn": self.spent,
            f"policy_{self.name}_holdings_par_usd_bn": float(self.holdings.sum()),
            f"policy_{self.name}_issued_par_usd_bn": float(self.issued.sum()),
        }


class BasisFacilityConfig(PolicyConfig):
    """Central-bank basis purchases: buy cash bonds, sell the matching futures."""

    type: Literal["basis_facility"] = "basis_facility"
    contracts: list[str] | None = Field(None, description="Futures contracts (all).")
    reactive_share: float = Field(0.5, gt=0, le=1, description="Share of sales bought.")
    budget_usd_bn: float = Field(gt=0, allow_inf_nan=False)

    def build(self) -> Policy:
        return BasisFacility(self)


class BasisFacility(Purchases):
    def start(self, run) -> None:
        Policy.start(self, run)
        m = run.s.cs.market
        codes = self.config.contracts or list(m.futures_codes)
        unknown = [c for c in codes if c not in m.futures_codes]
        if unknown:
            from contagion.errors import InputError, Problem

            raise InputError(
                Problem(
                    f"policy '{self.name}'",
                    "contracts",
                    f"unknown contract {unknown[0]!r}; allowed: {', '.join(m.futures_codes)}",
                )
            )
        self.central_bank(run)
        nb = len(run.buckets)
        self.contract_idx = np.array([m.futures_codes.index(c) for c in codes], np.int64)
        self.reactive = np.zeros(nb)
        self.reactive[m.futures_bucket[self.contract_idx]] = self.config.reactive_share
        self.schedule = np.zeros((run.sc.days, nb))
        self.max_price = np.full(nb, np.inf)
        self.spent = self.cost_basis = 0.0
        self.holdings = np.zeros(nb)
        self.pending = np.zeros(nb)
        self.scheduled_today = np.zeros(nb)
        self.futures_short = np.zeros(len(m.futures_codes))
        # the CCP row clearing each contract (for booking the futures leg)
        s = run.s
        fut = ~s.is_swap
        self.ccp_row = np.full(len(m.futures_codes), -1)
        for c in self.contract_idx:
            on = fut & (s.m_instrument == c)
            if on.any():
                self.ccp_row[c] = run.ccp_key[np.flatnonzero(on)[0]]

    def futures_flow(self, run, flow: np.ndarray) -> np.ndarray:
        """Sell futures against the bonds bought this round (par x conversion factor)."""
        out = np.zeros_like(flow)
        if not self.pending.any():
            return out
        m = run.s.cs.market
        for c in self.contract_idx:
            if self.ccp_row[c] < 0:
                continue
            out[c] = -self.pending[m.futures_bucket[c]] * m.conversion_factor[c]
        return out

    def settle(self, run, sold: np.ndarray, price: np.ndarray) -> np.ndarray:
        par = self.pending.copy()
        got = super().settle(run, sold, price)
        if par.any():
            m = run.s.cs.market
            for c in self.contract_idx:
                if self.ccp_row[c] < 0:
                    continue
                # the facility takes the place of the outside seller the buyers would have
                # met: a transfer within the CCP's outside side, kept in this ledger
                self.futures_short[c] += par[m.futures_bucket[c]] * m.conversion_factor[c]
        return got

    def summary(self) -> dict[str, float]:
        return {
            f"policy_{self.name}_bought_usd_bn": self.spent,
            f"policy_{self.name}_futures_sold_usd_bn": float(self.futures_short.sum()),
        }
