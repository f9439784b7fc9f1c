"""Step 4 of the day: pay what is due, then plan the liquidity waterfall.

Each institution pays what it owes (repo calls and maturing repo, VM, IM, CCP assessments,
redemptions) pro rata from its cash. What it cannot pay it raises, in this order
(:data:`contagion.mechanisms.deleveraging.STEPS` says who may take which step): asset
managers sell other assets alongside Treasuries (Treasuries preferred); free (unencumbered)
bonds are sold; dealers and MMFs recall loans (ON RRP first, then private repo); MMFs let
other assets run off for what recalls leave; leveraged holders unwind, selling the cash bond
and buying back the hedge together, which releases haircut and IM. Voluntary de-leveraging
toward the volatility-dependent leverage target, the scenario's exogenous sales and the
liquidation of defaulters' estates are planned in the same step.

The methods run on :class:`contagion.engine.Run` (this class is one of its bases).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from contagion.mechanisms import deleveraging as dl
from contagion.mechanisms import haircuts as hc

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine import DayLog


class LiquidityWaterfall:
    """Step 4 of :class:`contagion.engine.Run`: payments and the liquidity waterfall."""

    # --- step 4: pay what is due --------------------------------------------------------------
    def owed(self) -> np.ndarray:
        """Everything each institution must pay now (repo, VM, IM, assessments, redemptions)."""
        s, _n = self.s, self.s.n
        repo_due = np.where(
            s.repo_unsecured, 0.0, np.minimum(s.repo_amount, s.repo_recall + self.repo_margin)
        )
        m_due = s.vm_due + s.im_due + s.assess_due
        return s.by_borrower(repo_due) + s.by_source(m_due) + self.redemption_due

    def pay(self, log: DayLog) -> np.ndarray:
        """Pay dues from cash (pro rata across a payer's dues); returns what is still owed.

        Standing facilities (policies' ``lend``) first lend to eligible institutions whose
        cash falls short.
        """
        s = self.s
        r = s.repo
        for pol in self._each_policy():
            pol.lend(self, self.owed() - np.maximum(s.cash, 0.0))
        repo_due = np.where(
            s.repo_unsecured, 0.0, np.minimum(s.repo_amount, s.repo_recall + self.repo_margin)
        )
        m_due = s.vm_due + s.im_due + s.assess_due
        owed = s.by_borrower(repo_due) + s.by_source(m_due) + self.redemption_due
        if not owed.any():
            return owed  # nothing due: a quiet round
        self.books_changed = True
        # over: a subnormal due makes cash / owed overflow to inf, which min(1, .) maps to 1
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            frac = np.where(owed > 0, np.minimum(1.0, np.maximum(s.cash, 0.0) / owed), 1.0)
        frac = np.where(self.unlimited, 1.0, frac)
        if len(repo_due) + len(m_due) < self.SPARSE_MIN_EDGES:  # small: whole arrays
            paid = repo_due * frac[r.borrower]
            s.repo_amount -= paid
            s.edges_moved("repo_amount")
            s.repo_recall = np.maximum(s.repo_recall - paid, 0.0)
            self.repo_margin = np.maximum(self.repo_margin - paid, 0.0)
            s.cash -= s.by_borrower(paid)
            s.cash += s.by_lender(paid)
            if m_due.any():
                f = frac[s.m_source]
                s.im_posted += s.im_due * f
                keep = 1.0 - f
                s.vm_due *= keep
                s.im_due *= keep
                s.assess_due *= keep
                s.edges_moved("im_posted", "dues")
                m_paid = m_due * f
                s.cash -= s.by_source(m_paid)
                s.cash += s.by_target(m_paid)
        else:
            self._pay_sparse(repo_due, m_due, frac)
        # redemptions leave the system
        red = self.redemption_due * frac
        self.redemption_due -= red
        s.cash -= red
        s.capital_flows += red
        s.external_cash_in -= float(red.sum())
        log.redemptions_paid += red
        return owed * (1.0 - frac)

    SPARSE_MIN_EDGES = 300_000  # from here on pay and settle touch only the active edges

    def _pay_sparse(self, repo_due: np.ndarray, m_due: np.ndarray, frac: np.ndarray) -> None:
        """``pay`` on large systems: only edges with something due (dues are >= 0, so the
        others do not move); the same arithmetic and order of sums as on whole arrays."""
        s, n = self.s, self.s.n
        r = s.repo
        e = np.flatnonzero(repo_due)
        if len(e):
            paid = repo_due[e] * frac[r.borrower[e]]
            s.repo_amount[e] -= paid
            s.edges_moved("repo_amount")
            s.repo_recall[e] = np.maximum(s.repo_recall[e] - paid, 0.0)
            self.repo_margin[e] = np.maximum(self.repo_margin[e] - paid, 0.0)
            s.cash -= np.bincount(r.borrower[e], paid, minlength=n)
            s.cash += np.bincount(r.lender[e], paid, minlength=n)
        k = np.flatnonzero(m_due)
        if len(k):
            src = s.m_source[k]
            f = frac[src]
            s.im_posted[k] += s.im_due[k] * f
            keep = 1.0 - f
            s.vm_due[k] *= keep
            s.im_due[k] *= keep
            s.assess_due[k] *= keep
            s.edges_moved("im_posted", "dues")
            m_paid = m_due[k] * f
            s.cash -= np.bincount(src, m_paid, minlength=n)
            s.cash += np.bincount(s.m_target[k], m_paid, minlength=n)

    # --- step 4: plan sales ---------------------------------------------------------------
    def plan(self, still_owed: np.ndarray, first: bool, log: DayLog):
        """Sales (par per institution and bucket), unwind shares, futures cuts and recalls."""
        s, n = self.s, self.s.n
        tol = self.p.tolerance_usd_bn
        need = np.where(self.unlimited | s.defaulted, 0.0, still_owed)
        need = np.where(need > tol, need, 0.0)
        if not (first or need.any() or self.to_liquidate.any()):
            nothing = np.zeros(n)
            return np.zeros_like(s.par), nothing, np.zeros_like(s.notional)
        price = s.price / 100.0
        if need.any():
            free = s.free_par()
            free_value = free @ price
            # 0. funds sell other assets alongside Treasuries (Treasuries preferred)
            need = self._sell_other_assets(need, free_value)
            # 1. sell free bonds
            cap = np.where(self.can["sell_free"], free_value, 0.0)
            frac_free, need = dl.split_need(need, cap)
            sell = free * frac_free[:, None]
            # 2. recall loans (dealers, MMFs): ON RRP first, then private repo
            need = self._recall(need)
            # 2'. MMFs: other assets for the rest
            if need.any():
                need = self._sell_other_assets(need, np.zeros(n), "sell_other_last")
        else:  # nothing owed (first round or estates to liquidate): steps 0-3 do nothing
            sell = np.zeros_like(s.par)
        # 3. unwind
        if need.any():
            held = s.par - free * frac_free[:, None]
            repo_due = np.where(
                s.repo_unsecured, 0.0, np.minimum(s.repo_amount, s.repo_recall + self.repo_margin)
            )
            scalable = s.by_source(s.im_due) + s.by_borrower(repo_due)
            u_yield = held @ price - s.repo_borrowed() + s.im_posted_by() + scalable
            phi_need = np.where(self.can["unwind"], dl.unwind_share(need, u_yield), 0.0)
        else:  # phi = need / U = 0
            phi_need = np.zeros(n)
        phi_vol = np.zeros(n)
        if first and self.ch.deleveraging:
            a, liab = s.balance()
            beh = s.cs.behaviour
            phi_vol = dl.leverage_target_share(
                a,
                a - liab,
                s.repo_borrowed(),
                self.leverage0,
                s.vol / s.cs.market.volatility_index,
                beh["leverage_vol_elasticity"],
                beh["deleveraging_speed_frac"],
                beh["max_leverage_ratio"],
                band=self.p.leverage_band_frac,
            )
            phi_vol = np.where(self.mask["hedge_fund"] & ~s.defaulted, phi_vol, 0.0)
        phi = np.clip(phi_need + phi_vol, 0.0, 1.0)
        phi = np.where(phi > 1e-12, phi, 0.0)
        remaining = s.par - sell
        unwind_sell = remaining * phi[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            forced_part = np.where(phi > 0, phi_need / np.maximum(phi_need + phi_vol, 1e-300), 0.0)
        forced_part = np.clip(forced_part, 0.0, 1.0)
        uv = unwind_sell @ price
        log.forced_sales += sell @ price + uv * forced_part
        log.voluntary_sales += uv * (1 - forced_part)
        sell = sell + unwind_sell
        # liquidation of defaulted estates and seized collateral
        liq = self.to_liquidate
        log.liquidation_sales += liq @ price
        sell = sell + liq
        self.to_liquidate = np.zeros_like(liq)
        if first:
            exo = self._exogenous_sales()
            log.exogenous_sales += exo @ price
            sell = sell + exo
        sell = np.minimum(sell, s.par)
        # futures: unwinds close phi of every position; asset managers cut longs
        close = phi[s.m_source]
        if first and self.ch.redemptions:
            am = self.__dict__.get("_am_edges")  # asset managers' futures and swaps
            if am is None:
                am = self._am_edges = np.flatnonzero(self.mask["asset_manager"][s.m_source])
            src = s.m_source[am]
            cut = s.cs.behaviour["futures_cut_frac"][src] * self.redemption_share[src]
            was = close[am]
            close[am] = np.where(s.notional[am] > 0, np.maximum(was, cut), was)
        return sell, phi, np.clip(close, 0.0, 1.0)

    def _sell_other_assets(
        self, need: np.ndarray, treasury_value: np.ndarray, step: str = "sell_other"
    ) -> np.ndarray:
        """Asset managers meet part of a need by selling other assets to outside buyers at
        book value, in proportion to holdings with Treasuries weighted by the preference;
        MMFs (``sell_other_last``) let their other assets (bills, placements) run off for
        what recalls did not cover."""
        s = self.s
        if not (self.can[step] & (need > 0)).any():
            return need  # no one who owes can take this step: nothing is sold
        other = np.where(self.can[step] & ~s.defaulted, s.other_assets, 0.0)
        pref = self.p.treasury_sale_preference
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(
                other > 0, other / (other + pref * np.maximum(treasury_value, 0.0)), 0.0
            )
        sold = np.minimum(need * share, other)
        if sold.any():
            self.raised_cash = True  # the next round pays with it (run_day loops on)
            s.other_assets -= sold
            s.cash += sold
            s.external_cash_in += float(sold.sum())
            need = np.maximum(need - sold, 0.0)
            # the cash pays what is owed in the next round
        return need

    def _recall(self, need: np.ndarray) -> np.ndarray:
        s = self.s
        r = s.repo
        if not (self.can["recall"] & (need > 0)).any():
            return need  # nothing to raise, or no one who owes has lent: no recall
        can = self._topology("can_recall", lambda: self.can["recall"][r.lender])
        lenders = can & ~s.repo_unsecured
        open_amt = np.where(lenders, np.maximum(s.repo_amount - s.repo_recall, 0.0), 0.0)
        cb = self._topology("cb", lambda: r.segment == hc.CENTRAL_BANK)
        for part in (cb, ~cb):
            avail = s.by_lender(np.where(part, open_amt, 0.0))
            frac, need = dl.split_need(need, avail)
            if frac.any():
                s.repo_recall += np.where(part, open_amt * frac[r.lender], 0.0)
        return need

    def _exogenous_sales(self) -> np.ndarray:
        """The scenario's sales by 'other' sellers, pro rata to their holdings (par)."""
        s = self.s
        out = np.zeros_like(s.par)
        value = self.exo_sales[s.day]
        if not value.any():
            return out
        holders = np.where(self.mask["other"][:, None] & ~s.defaulted[:, None], s.par, 0.0)
        tot = holders.sum(axis=0)
        want_par = value / (s.price / 100.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(tot > 0, np.minimum(1.0, want_par / tot), 0.0)
        return holders * frac
