"""Regulatory tools: SLR relief, minimum repo haircuts, central clearing, APC margin.

* **SLR relief** (as in April 2020): Treasuries and reserves are excluded from dealers'
  leverage exposure, so their room is ``E / slr - (A - Treasuries - cash)``.
* **Minimum haircuts**: a floor on repo haircuts in the chosen segments. Applied ex ante
  (the default), it is in force before the shock: borrowers meet the higher margin on day 0
  at unchanged prices, from cash or by scaling their leveraged book down (sold to outside
  investors without impact), so the system enters the stress less levered.
* **Mandatory central clearing** of cash and repo: dealers net cleared repo against reverse
  repo; a share ``netting_frac`` of the smaller leg leaves their leverage exposure.
* **Anti-procyclical margin**: CCPs may raise the IM multiplier by at most
  ``max_daily_increase_frac`` a day (and never above ``cap_multiplier``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from contagion.mechanisms import haircuts as hc
from contagion.orders import HaircutFloor, IMMultiplier
from contagion.policies.base import Policy, PolicyConfig, PolicyView
from contagion.policies.registry import register
from contagion.schema import REPO_SEGMENTS


@register
class SLRReliefConfig(PolicyConfig):
    """Treasuries and reserves out of dealers' leverage exposure."""

    tool: ClassVar[str] = "Treasuries and reserves out of dealers' leverage exposure"
    type: Literal["slr_relief"] = "slr_relief"
    exclude_treasuries: bool = True
    exclude_reserves: bool = True

    def build(self) -> Policy:
        return SLRRelief(self)


class SLRRelief(Policy):
    def leverage_exclusion(self, view: PolicyView, assets: np.ndarray) -> np.ndarray | None:
        out = np.zeros(view.n)
        if not view.mine["on"]:
            return out
        if self.config.exclude_treasuries:
            out += view.holdings_value()
        if self.config.exclude_reserves:
            out += np.maximum(view.cash, 0.0)
        return np.where(view.topo.mask["dealer"], out, 0.0)

    def on_day_end(self, view: PolicyView) -> None:
        if view.mine["on"]:
            a, _ = view.balance()
            self.record(view, "exposure_excluded", float(self.leverage_exclusion(view, a).sum()))


@register
class MinimumHaircutConfig(PolicyConfig):
    """Minimum repo haircuts (ex ante by default)."""

    tool: ClassVar[str] = "minimum repo haircuts (ex ante by default)"
    type: Literal["min_haircut"] = "min_haircut"
    floor_frac: float = Field(0.02, gt=0, lt=1)
    segments: list[Literal[REPO_SEGMENTS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["bilateral", "sponsored", "triparty"]
    )
    ex_ante: bool = True

    def build(self) -> Policy:
        return MinimumHaircut(self)


class MinimumHaircut(Policy):
    @property
    def in_force_ex_ante(self) -> bool:
        """In force before the shock: ex ante and triggered from the first day."""
        return (
            self.config.ex_ante
            and self.config.trigger.start_day == 1
            and (self.config.trigger.metric is None)
        )

    def initial_record(self, view: PolicyView) -> dict[str, Any]:
        segments = [REPO_SEGMENTS.index(x) for x in self.config.segments]
        self.floor = np.where(
            np.isin(view.topo.repo.segment, segments), self.config.floor_frac, 0.0
        )
        return {**super().initial_record(view), "delevered": 0.0}

    def ex_ante(self, view: PolicyView) -> list:
        return [HaircutFloor(self.floor, ex_ante=True)] if self.in_force_ex_ante else []

    def filled(self, view: PolicyView, fill) -> None:
        view.mine["delevered"] += fill.cost_usd_bn  # sold ex ante to meet the floor

    def on_day(self, view: PolicyView) -> list:
        self.update_trigger(view)
        if view.mine["on"] or self.in_force_ex_ante:
            return [HaircutFloor(self.floor)]
        return []

    def summary(self, record: dict[str, Any]) -> dict[str, float]:
        return {f"policy_{self.name}_ex_ante_sales_usd_bn": record["delevered"]}


@register
class CentralClearingConfig(PolicyConfig):
    """Mandatory central clearing: dealers net cleared repo."""

    tool: ClassVar[str] = "mandatory central clearing: dealers net cleared repo"
    type: Literal["central_clearing"] = "central_clearing"
    netting_frac: float = Field(0.5, ge=0, le=1)

    def build(self) -> Policy:
        return CentralClearing(self)


class CentralClearing(Policy):
    def leverage_exclusion(self, view: PolicyView, assets: np.ndarray) -> np.ndarray | None:
        if not view.mine["on"]:
            return np.zeros(view.n)
        topo = view.topo
        private = topo.repo.segment != hc.CENTRAL_BANK
        lent = topo.by_lender(np.where(private, view.repo_amount, 0.0))
        borrowed = topo.by_borrower(np.where(private, view.repo_amount, 0.0))
        return np.where(
            topo.mask["dealer"], self.config.netting_frac * np.minimum(lent, borrowed), 0.0
        )

    def on_day_end(self, view: PolicyView) -> None:
        if view.mine["on"]:
            a, _ = view.balance()
            self.record(view, "exposure_netted", float(self.leverage_exclusion(view, a).sum()))


@register
class APCMarginConfig(PolicyConfig):
    """Anti-procyclical margin: a cap on daily IM increases."""

    tool: ClassVar[str] = "anti-procyclical margin: cap on daily IM increases"
    type: Literal["apc_margin"] = "apc_margin"
    max_daily_increase_frac: float = Field(0.1, ge=0, le=10)
    cap_multiplier: float | None = Field(None, ge=1, allow_inf_nan=False)

    def build(self) -> Policy:
        return APCMargin(self)


class APCMargin(Policy):
    def initial_record(self, view: PolicyView) -> dict[str, Any]:
        return {**super().initial_record(view), "previous": 1.0}

    def on_day(self, view: PolicyView) -> list:
        self.update_trigger(view)
        mine = view.mine
        m = view.im_multiplier
        orders: list = []
        if mine["on"]:
            capped = min(m, mine["previous"] * (1 + self.config.max_daily_increase_frac))
            if self.config.cap_multiplier is not None:
                capped = min(capped, self.config.cap_multiplier)
            if capped < m:
                self.record(view, "im_multiplier_cut", m - capped)
            m = capped
            orders.append(IMMultiplier(m))
        mine["previous"] = m
        return orders
