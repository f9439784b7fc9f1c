"""The Standing Repo Facility: central-bank repo lending to eligible counterparties.

The facility lends cash overnight against Treasuries at its minimum bid rate (the SRF rate of
the policy-rate state, which moves with the policy rates, plus ``min_bid_spread_bp``) plus a
stigma premium, with a haircut, up to an aggregate limit. Each eligible institution gets one
facility repo edge per bucket (lender: the central bank, segment ``central_bank``), so
collateral, margin, interest and default handling are the engine's own. It stands ready with a
:class:`~contagion.orders.LoanOffer` (:mod:`contagion.mechanisms.facilities`):

* it caps the market: eligible dealers borrow at its cost and lend on, to the market and to
  their clients, while the market pays more, so the GC rate (and every repo rate above it,
  hedge funds' included) stops at the cost while the facility has capacity: its remaining
  limit, within its eligible dealers' balance-sheet room unless its trades are centrally
  cleared (``central_clearing``: netted) (:mod:`contagion.mechanisms.repo_market`);
* it refinances: when money funds recall repo from eligible dealers while GC is at or above
  its cost, they borrow here instead (against the collateral the recalled loans release);
* eligible institutions whose cash falls short of what they owe borrow before they sell,
  once the shortfall exceeds the stigma threshold; eligible dealers fund new inventory here
  once MMF financing runs out.

Loans roll while the facility is on and are called when it ends.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from contagion.orders import LoanOffer, OpenFacility, RecallFacility
from contagion.policies.base import Policy, PolicyConfig, PolicyCosts, PolicyView
from contagion.policies.registry import register
from contagion.schema import INSTITUTION_TYPES


@register
class StandingRepoConfig(PolicyConfig):
    """Standing Repo Facility settings (rates in percent, spreads in bp)."""

    tool: ClassVar[str] = "Standing Repo Facility (eligible counterparties, limit, stigma)"
    type: Literal["srf"] = "srf"
    min_bid_spread_bp: float = Field(
        0.0,
        ge=-500,
        le=500,
        allow_inf_nan=False,
        description="Rate = the SRF minimum bid of the policy rates (the top of the target "
        "range by default) + this, bp.",
    )
    aggregate_limit_usd_bn: float = Field(500.0, gt=0, allow_inf_nan=False)
    haircut_frac: float = Field(0.02, ge=0, lt=1, description="Haircut on collateral.")
    eligible: list[Literal[INSTITUTION_TYPES]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["dealer"],
        description="Eligible counterparty types (dealers; add hedge_fund for sponsored access).",
    )
    stigma_premium_bp: float = Field(0.0, ge=0, le=1000, allow_inf_nan=False)
    stigma_threshold_usd_bn: float = Field(
        0.0, ge=0, allow_inf_nan=False, description="Shortfall below which nobody uses it."
    )
    central_clearing: bool = False

    def build(self) -> Policy:
        return StandingRepo(self)


class StandingRepo(Policy):
    def validate(self, view: PolicyView) -> None:
        super().validate(view)
        cfg = self.config
        self.cb = view.central_bank()
        self.eligible = np.isin(view.topo.type_name, cfg.eligible) & (np.arange(view.n) != self.cb)

    def cost_pct(self, srf_rate_pct: float) -> float:
        """What a borrower pays: the minimum bid plus the spread and the stigma premium."""
        cfg = self.config
        return srf_rate_pct + cfg.min_bid_spread_bp / 100.0 + cfg.stigma_premium_bp / 100.0

    def setup(self, view: PolicyView) -> list:
        return [
            OpenFacility(
                lender=self.cb,
                borrowers=np.flatnonzero(self.eligible),
                haircut_frac=self.config.haircut_frac,
                rate_pct=self.cost_pct(view.market.srf_rate_pct),
                label="srf",
            )
        ]

    def initial_record(self, view: PolicyView) -> dict[str, Any]:
        return {**super().initial_record(view), "peak": 0.0, "lent_total": 0.0}

    def on_day(self, view: PolicyView) -> list:
        was_on = view.mine["on"]
        self.update_trigger(view)
        if was_on and not view.mine["on"]:  # the facility closes: its loans are called
            return [RecallFacility(self.edges)]
        return []

    def loan_offer(self, view: PolicyView) -> LoanOffer | None:
        if not view.mine["on"]:
            return None
        cfg = self.config
        return LoanOffer(
            lender=self.cb,
            edges=self.edges,
            haircut_frac=cfg.haircut_frac,
            eligible=self.eligible,
            limit_left_usd_bn=self.limit_left(view),
            min_shortfall_usd_bn=cfg.stigma_threshold_usd_bn,
            cost_pct=self.cost_pct(view.srf_rate_pct),
            centrally_cleared=cfg.central_clearing,
        )

    def limit_left(self, view: PolicyView) -> float:
        """What the aggregate limit leaves, USD bn; a rounding residue of a limit lent in
        full (below 1e-9 of it) is none, so an exhausted facility reads as exhausted."""
        limit = self.config.aggregate_limit_usd_bn
        left = limit - view.repo_outstanding(self.edges)
        return left if left > 1e-9 * limit else 0.0

    def filled(self, view: PolicyView, fill) -> None:
        view.mine["lent_total"] += float(fill.edge_amounts.sum())
        item = "take_up" if fill.purpose == "shortfall" else "inventory_financing"
        ids = view.topo.cs.ids
        for i in np.flatnonzero(fill.loans > 0):
            self.record(view, item, fill.loans[i], ids[i])

    def leverage_exclusion(self, view: PolicyView, assets: np.ndarray) -> np.ndarray | None:
        if not self.config.central_clearing:
            return None
        borrower = view.topo.repo.borrower[self.edges]
        return np.bincount(borrower, view.repo_amount[self.edges], minlength=view.n)

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
        }

    def costs(self, record: dict[str, Any]) -> PolicyCosts:
        return PolicyCosts(cash_lent_peak_usd_bn=record["peak"])
