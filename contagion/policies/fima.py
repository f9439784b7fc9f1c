"""The FIMA repo facility: foreign official holders repo Treasuries instead of selling them.

The Federal Reserve's FIMA repo facility (announced 2020-03-31, standing since 2021-07-28)
lends dollars overnight to foreign central banks and monetary authorities against their
Treasuries held at the New York Fed, at a rate above the policy rate (IOER + 25 bp in 2020;
fact base 4.56), up to a limit per counterparty (USD 60 bn in the standing facility). A
holder that needs dollars borrows instead of selling, so the bonds stay off the market.

Here the facility intercepts the sales that eligible holders (institutions of type
``other``, the foreign official sector, by default) plan in a round (the scenario's
exogenous sales), before they reach the market (an :class:`~contagion.orders.Interception`).
Holder ``i`` planning to sell par ``q_ib`` at price ``P_b`` wants the cash ``v_ib = q_ib
P_b / 100``; it borrows instead, against collateral it keeps, at the facility haircut ``h``::

    L_ib = min(v_ib, free_par_ib P_b / 100 (1 - h))    scaled so sum_b L_ib is within the
                                                       counterparty's limit left, then the
                                                       facility's aggregate limit left

and cancels the sale of ``L_ib / (P_b / 100)`` par; the rest is still sold. Loans are on the
facility's own repo edges (one per eligible holder and bucket; lender: the central bank;
segment ``central_bank``), accrue interest at the facility rate, roll while the facility is
on and are called when it ends (the holder then repays from cash or by selling). The rate,
haircut and limits are assumptions with the defaults below (sources in the field docs).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from contagion.orders import Interception, OpenFacility, RecallFacility
from contagion.policies.base import Policy, PolicyConfig, PolicyCosts, PolicyView
from contagion.policies.registry import register
from contagion.schema import INSTITUTION_TYPES


@register
class FIMARepoConfig(PolicyConfig):
    """FIMA repo: foreign official holders repo Treasuries with the central bank."""

    tool: ClassVar[str] = "FIMA repo: foreign official holders borrow instead of selling"
    type: Literal["fima_repo"] = "fima_repo"
    rate_spread_bp: float = Field(
        25.0,
        ge=-500,
        le=500,
        allow_inf_nan=False,
        description="Facility rate = policy rate + this, bp (IOER + 25 bp in 2020, fact base "
        "4.56).",
    )
    haircut_frac: float = Field(
        0.02,
        ge=0,
        lt=1,
        description="Haircut on collateral, fraction (an assumption: not published; the "
        "tri-party Treasury median, fact base 1.72).",
    )
    per_counterparty_limit_usd_bn: float = Field(
        60.0,
        gt=0,
        allow_inf_nan=False,
        description="Limit per counterparty, USD bn (the standing facility's, fact base 4.56).",
    )
    aggregate_limit_usd_bn: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="Limit on total lending (None: none)."
    )
    eligible: list[Literal[INSTITUTION_TYPES]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["other"],
        description="Eligible holder types (the foreign official sector is 'other').",
    )

    def build(self) -> Policy:
        return FIMARepo(self)


class FIMARepo(Policy):
    def validate(self, view: PolicyView) -> None:
        super().validate(view)
        cfg = self.config
        self.cb = view.central_bank()
        self.rate_pct = view.market.policy_rate_pct + cfg.rate_spread_bp / 100.0
        self.eligible = np.isin(view.topo.type_name, cfg.eligible) & (np.arange(view.n) != self.cb)

    def setup(self, view: PolicyView) -> list:
        return [
            OpenFacility(
                lender=self.cb,
                borrowers=np.flatnonzero(self.eligible),
                haircut_frac=self.config.haircut_frac,
                rate_pct=self.rate_pct,
                label="fima",
            )
        ]

    def initial_record(self, view: PolicyView) -> dict[str, Any]:
        return {**super().initial_record(view), "peak": 0.0, "lent_total": 0.0, "avoided": 0.0}

    def on_day(self, view: PolicyView) -> list:
        was_on = view.mine["on"]
        self.update_trigger(view)
        if was_on and not view.mine["on"]:  # the facility closes: its loans are called
            return [RecallFacility(self.edges)]
        return []

    def intercept_sales(self, view: PolicyView, planned: np.ndarray) -> Interception | None:
        if not view.mine["on"]:
            return None
        cfg = self.config
        topo = view.topo
        r = topo.repo
        e = self.edges
        holder, bucket = r.borrower[e], r.bucket[e]
        price = view.price / 100.0
        wanted = planned[holder, bucket] * price[bucket]  # the cash each sale was to raise
        if not wanted.any():
            return None
        free = view.free_par()[holder, bucket] * price[bucket] * (1.0 - cfg.haircut_frac)
        loan = np.minimum(wanted, free)
        # the counterparty's limit left, then the facility's
        out_by = np.bincount(holder, view.repo_amount[e], minlength=view.n)
        want_by = np.bincount(holder, loan, minlength=view.n)
        room_by = np.maximum(cfg.per_counterparty_limit_usd_bn - out_by, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(want_by > 0, np.minimum(1.0, room_by / want_by), 0.0)
        loan = loan * scale[holder]
        if cfg.aggregate_limit_usd_bn is not None:
            room = max(cfg.aggregate_limit_usd_bn - float(view.repo_amount[e].sum()), 0.0)
            total = float(loan.sum())
            if total > room:
                loan = loan * (room / total)
        if not loan.any():
            return None
        cancel = np.zeros_like(planned)
        np.add.at(cancel, (holder, bucket), loan / price[bucket])
        return Interception(cancel_par=cancel, lender=self.cb, edges=e, amount=loan)

    def filled(self, view: PolicyView, fill) -> None:
        mine = view.mine
        lent = float(fill.edge_amounts.sum())
        mine["lent_total"] += lent
        mine["avoided"] += float(np.add.reduce(fill.par * (view.price / 100.0)))
        holder = view.topo.repo.borrower[self.edges]
        by = np.bincount(holder, fill.edge_amounts, minlength=view.n)
        ids = view.topo.cs.ids
        for i in np.flatnonzero(by > 0):
            self.record(view, "take_up", by[i], ids[i])

    def on_day_end(self, view: PolicyView) -> None:
        mine = view.mine
        out = view.repo_outstanding(self.edges)
        mine["peak"] = max(mine["peak"], out)
        if mine["on"] or out > 0:
            self.record(view, "outstanding", out)

    def summary(self, record: dict[str, Any]) -> dict[str, float]:
        return {
            f"policy_{self.name}_peak_take_up_usd_bn": record["peak"],
            f"policy_{self.name}_lent_usd_bn": record["lent_total"],
            f"policy_{self.name}_sales_avoided_usd_bn": record["avoided"],
        }

    def costs(self, record: dict[str, Any]) -> PolicyCosts:
        return PolicyCosts(cash_lent_peak_usd_bn=record["peak"])
