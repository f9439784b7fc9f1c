"""The Standing Repo Facility: central-bank repo lending to eligible counterparties.

The facility lends cash overnight against Treasuries at its minimum bid rate
(``policy_rate + spread``) plus a stigma premium, with a haircut, up to an aggregate limit.
Each eligible institution gets one facility repo edge per bucket (lender: the central bank,
segment ``central_bank``), so collateral, margin, interest and default handling are the
engine's own. An eligible institution whose cash falls short of what it owes borrows, before
it sells anything, as much as its free collateral allows (``(1 - h) x`` value), once the
shortfall exceeds the stigma threshold, and eligible dealers can fund the inventory they
buy from sellers here (against those bonds) once MMF financing runs out. Loans roll while
the facility is on and are called when it ends.

It caps the repo rate only for those who can reach it: while take-up is below the limit
(below 95% of it at the start of a day; a nearly exhausted facility no longer caps),
eligible borrowers pay at most ``rate + stigma premium``; ineligible ones (hedge funds, by
default) pay the market rate. With ``central_clearing`` dealers net facility trades, so
their facility borrowing does not use leverage-ratio room.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from contagion.mechanisms.haircuts import CENTRAL_BANK
from contagion.policies.base import Policy, PolicyConfig
from contagion.schema import INSTITUTION_TYPES

EXHAUSTED_FRAC = 0.95  # near its limit the facility can no longer cap the rate


class StandingRepoConfig(PolicyConfig):
    """Standing Repo Facility settings (rates in percent, spreads in bp)."""

    type: Literal["srf"] = "srf"
    min_bid_spread_bp: float = Field(
        0.0, ge=-500, le=500, allow_inf_nan=False, description="Rate = policy rate + this."
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
    def start(self, run) -> None:
        super().start(run)
        cfg = self.config
        s = run.s
        cb = self.central_bank(run)
        self.rate_pct = s.cs.market.policy_rate_pct + cfg.min_bid_spread_bp / 100.0
        self.cost_rate_pct = self.rate_pct + cfg.stigma_premium_bp / 100.0
        self.eligible = np.isin(run.type_name, cfg.eligible) & (np.arange(s.n) != cb)
        who = np.flatnonzero(self.eligible)
        nb = len(run.buckets)
        borrower = np.repeat(who, nb)
        bucket = np.tile(np.arange(nb), len(who))
        ids = [f"srf:{s.cs.ids[i]}:{run.buckets[b]}" for i, b in zip(borrower, bucket, strict=True)]
        self.edges = s.add_repo_edges(
            lender=np.full(len(borrower), cb),
            borrower=borrower,
            bucket=bucket,
            haircut=np.full(len(borrower), cfg.haircut_frac),
            rate_pct=np.full(len(borrower), self.cost_rate_pct),
            segment=CENTRAL_BANK,
            ids=ids,
        )
        self.peak = 0.0
        self.lent_total = 0.0

    def outstanding(self, run) -> float:
        return float(run.s.repo_amount[self.edges].sum())

    def adjust(self, run) -> None:
        was_on = self.on
        super().adjust(run)
        s = run.s
        if was_on and not self.on:  # the facility closes: its loans are called
            s.repo_recall[self.edges] = s.repo_amount[self.edges]
        if self.on and self.outstanding(run) < EXHAUSTED_FRAC * self.config.aggregate_limit_usd_bn:
            run.rate_cap = self.cost_rate_pct
            run.rate_cap_eligible = run.rate_cap_eligible | self.eligible
        else:
            run.rate_cap = np.inf

    def lend(self, run, shortfall: np.ndarray) -> None:
        if not self.on:
            return
        s = run.s
        cfg = self.config
        room = cfg.aggregate_limit_usd_bn - self.outstanding(run)
        want = np.where(
            self.eligible & ~s.defaulted & (shortfall > max(cfg.stigma_threshold_usd_bn, 1e-12)),
            shortfall,
            0.0,
        )
        if room <= 0 or not want.any():
            return
        free_value = s.free_par() * (s.price / 100.0) * (1.0 - cfg.haircut_frac)
        r = s.repo
        e = self.edges
        cap_e = free_value[r.borrower[e], r.bucket[e]]
        cap = np.bincount(r.borrower[e], cap_e, minlength=s.n)
        loan = np.minimum(want, cap)
        total = loan.sum()
        if total <= 0:
            return
        loan *= min(1.0, room / total)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(cap[r.borrower[e]] > 0, cap_e / cap[r.borrower[e]], 0.0)
        x = loan[r.borrower[e]] * share
        s.repo_amount[e] += x
        s.cash += np.bincount(r.borrower[e], x, minlength=s.n)
        s.cash[r.lender[e[0]]] -= x.sum()
        self.lent_total += float(x.sum())
        for i in np.flatnonzero(loan > 0):
            self.record(run, "take_up", loan[i], s.cs.ids[i])

    def financing_capacity(self, run, room: np.ndarray) -> np.ndarray:
        """Eligible dealers may fund new inventory here, within the remaining limit."""
        s = run.s
        room_left = self.config.aggregate_limit_usd_bn - self.outstanding(run)
        if not self.on or room_left <= 0:
            return np.zeros(s.n)
        w = np.where(self.eligible & run.is_dealer & ~s.defaulted, room, 0.0)
        total = w.sum()
        return w * (room_left / total) if total > 0 else w

    def finance(self, run, amount: np.ndarray, bought: np.ndarray) -> np.ndarray:
        """Lend against the bonds just bought (at the facility haircut), pro rata by bucket."""
        s = run.s
        r = s.repo
        e = self.edges
        value = bought * (s.price / 100.0)
        cap = value.sum(axis=1) * (1.0 - self.config.haircut_frac)
        lent = np.where(self.eligible, np.minimum(amount, cap), 0.0)
        if not lent.any():
            return np.zeros(s.n)
        tot = value.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(tot[:, None] > 0, value / tot[:, None], 0.0)
        x = lent[r.borrower[e]] * share[r.borrower[e], r.bucket[e]]
        s.repo_amount[e] += x
        s.cash += np.bincount(r.borrower[e], x, minlength=s.n)
        s.cash[r.lender[e[0]]] -= x.sum()
        self.lent_total += float(x.sum())
        for i in np.flatnonzero(lent > 0):
            self.record(run, "inventory_financing", lent[i], s.cs.ids[i])
        return lent

    def exposure_relief(self, run, assets: np.ndarray) -> np.ndarray:
        if not self.config.central_clearing:
            return np.zeros(run.s.n)
        r, s = run.s.repo, run.s
        return np.bincount(r.borrower[self.edges], s.repo_amount[self.edges], minlength=s.n)

    def end_day(self, run, log) -> None:
        out = self.outstanding(run)
        self.peak = max(self.peak, out)
        if self.on or out > 0:
            self.record(run, "outstanding", out)

    def summary(self) -> dict[str, float]:
        return {
            f"policy_{self.name}_peak_take_up_usd_bn": self.peak,
            f"policy_{self.name}_lent_usd_bn": self.lent_total,
        }
