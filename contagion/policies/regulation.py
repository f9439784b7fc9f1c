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

from typing import Literal

import numpy as np
from pydantic import Field

from contagion.mechanisms import deleveraging as dl
from contagion.mechanisms import haircuts as hc
from contagion.policies.base import Policy, PolicyConfig
from contagion.schema import REPO_SEGMENTS


class SLRReliefConfig(PolicyConfig):
    type: Literal["slr_relief"] = "slr_relief"
    exclude_treasuries: bool = True
    exclude_reserves: bool = True

    def build(self) -> Policy:
        return SLRRelief(self)


class SLRRelief(Policy):
    def exposure_relief(self, run, assets: np.ndarray) -> np.ndarray:
        s = run.s
        out = np.zeros(s.n)
        if not self.on:
            return out
        if self.config.exclude_treasuries:
            out += s.holdings_value()
        if self.config.exclude_reserves:
            out += np.maximum(s.cash, 0.0)
        return np.where(run.is_dealer, out, 0.0)

    def end_day(self, run, log) -> None:
        if self.on:
            a, _ = run.s.balance()
            self.record(run, "exposure_excluded", float(self.exposure_relief(run, a).sum()))


class MinimumHaircutConfig(PolicyConfig):
    type: Literal["min_haircut"] = "min_haircut"
    floor_frac: float = Field(0.02, gt=0, lt=1)
    segments: list[Literal[REPO_SEGMENTS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["bilateral", "sponsored", "triparty"]
    )
    ex_ante: bool = True

    def build(self) -> Policy:
        return MinimumHaircut(self)


class MinimumHaircut(Policy):
    def start(self, run) -> None:
        super().start(run)
        s = run.s
        seg = np.isin(s.repo.segment, [REPO_SEGMENTS.index(x) for x in self.config.segments])
        self.floor = np.where(seg, self.config.floor_frac, 0.0)
        self.delevered = 0.0
        if self.ex_ante:
            self._apply_before_the_shock(run)

    @property
    def ex_ante(self) -> bool:
        """In force before the shock: ex ante and triggered from the first day."""
        return (
            self.config.ex_ante
            and self.config.trigger.start_day == 1
            and (self.config.trigger.metric is None)
        )

    def _apply_before_the_shock(self, run) -> None:
        """Meet the floor at t0 prices: cash first, then scale the leveraged book down and pay
        what is left from the cash that released (a few passes settle it exactly)."""
        run.s.repo_haircut = np.maximum(run.s.repo_haircut, self.floor)
        for _ in range(5):
            if not self._settle_once(run):
                break

    def _settle_once(self, run) -> bool:
        s = run.s
        r = s.repo
        _, got = s.pledged_value()
        available = s.par * (s.price / 100.0) + got
        due = hc.repo_margin_due(
            s.repo_amount, s.repo_haircut, r.borrower, r.bucket, ~s.repo_unsecured, available
        )
        owed = s.by_borrower(due)
        pay = np.minimum(owed, np.maximum(s.cash, 0.0))
        frac = np.where(owed > 0, pay / np.maximum(owed, 1e-300), 0.0)
        paid = due * frac[r.borrower]
        s.repo_amount -= paid
        s.cash -= s.by_borrower(paid)
        s.cash += s.by_lender(paid)
        need_left = owed - pay
        price = s.price / 100.0
        u = s.par @ price - s.repo_borrowed() + s.im_posted_by() + need_left
        phi = np.where(run.can["unwind"], dl.unwind_share(need_left, u), 0.0)
        if not (phi > 1e-12).any():
            return False
        sold = s.par * phi[:, None]
        s.par -= sold
        value = sold @ price
        s.cash += value
        s.external_par_out += sold.sum(axis=0)
        s.external_cash_in += float(value.sum())
        rep = s.repo_amount * phi[r.borrower]
        s.repo_amount -= rep
        s.cash -= s.by_borrower(rep)
        s.cash += s.by_lender(rep)
        close = phi[s.m_source]
        rel = s.im_posted * close
        s.im_posted -= rel
        s.cash += s.by_source(rel)
        s.cash -= s.by_target(rel)
        key = np.searchsorted(s.ccp_rows, s.m_target)
        n_fut = len(s.cs.market.futures_codes)
        col = np.where(s.is_swap, n_fut + s.m_instrument, s.m_instrument)
        np.add.at(s.ext_notional, (key, col), s.notional * close)
        s.notional = s.notional * (1.0 - close)
        self.delevered += float(value.sum())
        return True

    def adjust(self, run) -> None:
        super().adjust(run)
        if self.on or self.ex_ante:
            run.haircut_floor = np.maximum(run.haircut_floor, self.floor)

    def summary(self) -> dict[str, float]:
        return {f"policy_{self.name}_ex_ante_sales_usd_bn": self.delevered}


class CentralClearingConfig(PolicyConfig):
    type: Literal["central_clearing"] = "central_clearing"
    netting_frac: float = Field(0.5, ge=0, le=1)

    def build(self) -> Policy:
        return CentralClearing(self)


class CentralClearing(Policy):
    def exposure_relief(self, run, assets: np.ndarray) -> np.ndarray:
        s = run.s
        if not self.on:
            return np.zeros(s.n)
        r = s.repo
        private = r.segment != hc.CENTRAL_BANK
        lent = s.by_lender(np.where(private, s.repo_amount, 0.0))
        borrowed = s.by_borrower(np.where(private, s.repo_amount, 0.0))
        return np.where(run.is_dealer, self.config.netting_frac * np.minimum(lent, borrowed), 0.0)

    def end_day(self, run, log) -> None:
        if self.on:
            a, _ = run.s.balance()
            self.record(run, "exposure_netted", float(self.exposure_relief(run, a).sum()))


class APCMarginConfig(PolicyConfig):
    type: Literal["apc_margin"] = "apc_margin"
    max_daily_increase_frac: float = Field(0.1, ge=0, le=10)
    cap_multiplier: float | None = Field(None, ge=1, allow_inf_nan=False)

    def build(self) -> Policy:
        return APCMargin(self)


class APCMargin(Policy):
    def start(self, run) -> None:
        super().start(run)
        self.previous = 1.0
        self.absorbed = 0.0

    def adjust(self, run) -> None:
        super().adjust(run)
        s = run.s
        if self.on:
            m = min(s.im_multiplier, self.previous * (1 + self.config.max_daily_increase_frac))
            if self.config.cap_multiplier is not None:
                m = min(m, self.config.cap_multiplier)
            if m < s.im_multiplier:
                self.record(run, "im_multiplier_cut", s.im_multiplier - m)
            s.im_multiplier = m
        self.previous = s.im_multiplier
