"""Step 8 of the day: defaults, collateral seizure, the CCP waterfall and clearing.

An institution defaults when its equity is exhausted (insolvency) or when it owes what it
cannot pay and has nothing left to sell (Treasuries or other assets), recall or unwind
(liquidity). Resolution, all vectorised over the new defaulters:

1. its repo lenders seize collateral up to each loan's value and sell it; a deficiency
   stays on the repo edge as an unsecured claim;
2. repo it lent is terminated: its borrowers repay the estate;
3. the estate sells everything it holds; redemptions are suspended;
4. its futures and swaps are closed by the CCP: the defaulter's IM covers unpaid VM,
   unpaid assessments and the close-out cost, the CCP's own resources the rest, and when
   those run out surviving members are assessed pro rata to their IM
   (:mod:`contagion.mechanisms.defaults`);
5. its other assets go to outside buyers at book value.

When a day's rounds are quiet, unsecured claims on estates (original unsecured exposures,
repo deficiencies, MMF inventory financing, other liabilities owed outside) are cleared
with :func:`contagion.clearing.eisenberg_noe`; creditors' losses hit their equity the same
day. Losses borne by creditors are booked in ``default_losses``; what an estate does not
pay is booked as ``shortfall_passed_on`` on its own books, so the attribution adds up.

The methods run on :class:`contagion.engine.Run` (this class is one of its bases).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from contagion.clearing import eisenberg_noe
from contagion.mechanisms import defaults as df_

if TYPE_CHECKING:
    from contagion.engine import DayLog


class DefaultResolution:
    """Step 8 of :class:`contagion.engine.Run`: flag, resolve and clear defaults."""

    def defaults(self, still_owed: np.ndarray, log: DayLog, *, clearing_defaults=None) -> bool:
        """Flag and resolve new defaults; returns True if any."""
        if not self.ch.defaults:
            return False
        s = self.s
        tol = max(self.p.tolerance_usd_bn, 1e-9)
        if not (self.books_changed or clearing_defaults is not None or still_owed.any()):
            return False  # nothing moved since the last check: no new default possible
        self.books_changed = False
        a, liab = s.balance()
        equity = a - liab
        floor = self.__dict__.get("_insolvency_floor")
        if floor is None:  # (assets0 is fixed)
            floor = self._insolvency_floor = -1e-7 * np.maximum(1.0, np.abs(s.assets0))
        insolvent = equity < floor
        # illiquid: owes, and has nothing to sell, recall or unwind (each test only when
        # someone is still a candidate)
        illiquid = still_owed > tol
        if illiquid.any():
            illiquid &= ~(s.par.sum(axis=1) > tol)  # nothing to sell
        if illiquid.any():  # nor other assets it may sell (the proceeds pay next round)
            can_sell = self.can["sell_other"] | self.can["sell_other_last"]
            illiquid &= ~((s.other_assets > tol) & can_sell)
        if illiquid.any():
            has_lending = s.by_lender(
                np.where(s.repo_unsecured, 0.0, s.repo_amount - s.repo_recall)
            )
            illiquid &= ~((has_lending > tol) & self.can["recall"])
        if illiquid.any():
            has_futures = s._edge_sum("abs_notional") > tol
            illiquid &= ~(has_futures & self.can["unwind"])
        new = self.defaultable & ~s.defaulted & (insolvent | illiquid)
        if clearing_defaults is not None:
            new |= self.defaultable & ~s.defaulted & clearing_defaults
        if not new.any():
            return False
        idx = np.flatnonzero(new)
        cause = np.where(insolvent[idx], "insolvency", "liquidity").astype(object)
        if clearing_defaults is not None:
            cause = np.where(clearing_defaults[idx], "clearing", cause)
        log.defaults.append(
            {
                "day": np.full(len(idx), s.day + 1),
                "index": idx,
                "cause": cause,
                "assets_usd_bn": s.assets0[idx],
                "equity_usd_bn": equity[idx],
            }
        )
        s.defaulted |= new
        s.default_day[new] = s.day + 1
        self._resolve(new)
        return True

    def _resolve(self, new: np.ndarray) -> None:
        s, n = self.s, self.s.n
        s.edges_moved()
        r = s.repo
        price = s.price / 100.0
        nb = s.par.shape[1]
        # 1. lenders seize collateral from the defaulted borrower, up to the loan's value
        e = np.flatnonzero(new[r.borrower] & ~s.repo_unsecured & (s.repo_amount > 0))
        if len(e):
            need_par = s.repo_amount[e] / (1.0 - s.repo_haircut[e]) / price[r.bucket[e]]
            key = r.borrower[e] * nb + r.bucket[e]
            tot = np.bincount(key, need_par, minlength=n * nb)
            own = s.par.ravel()
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(tot[key] > 0, need_par / tot[key], 0.0)
            seized = np.minimum(own[key] * share, s.repo_amount[e] / price[r.bucket[e]])
            np.subtract.at(s.par, (r.borrower[e], r.bucket[e]), seized)
            np.add.at(s.par, (r.lender[e], r.bucket[e]), seized)
            np.add.at(self.to_liquidate, (r.lender[e], r.bucket[e]), seized)
            s.repo_amount[e] -= seized * price[r.bucket[e]]
            s.repo_amount[e] = np.where(s.repo_amount[e] > 1e-12, s.repo_amount[e], 0.0)
            s.repo_unsecured[e] = True
            s.repo_recall[e] = 0.0
            self.repo_margin[e] = 0.0
        # 2. a defaulted lender's loans are terminated: borrowers repay to the estate
        lent = new[r.lender] & ~s.repo_unsecured
        s.repo_recall = np.where(lent, s.repo_amount, s.repo_recall)
        # 3. the estate sells everything it still holds; redemptions are suspended
        self.to_liquidate[new] += s.par[new]
        self.redemption_due[new] = 0.0
        # 4. CCP waterfall on the defaulter's futures and swaps
        k = np.flatnonzero(new[s.m_source] & ((s.notional != 0) | (s.vm_due > 0)))
        if len(k):
            req = np.abs(s.notional[k]) * s.im_base_rate[k] * s.im_multiplier
            # unpaid VM and unpaid assessments are the CCP's receivables from the defaulter
            cost, _, uncovered, returned = df_.close_out(
                s.vm_due[k] + s.assess_due[k], req, s.im_posted[k], self.p.ccp_close_out_cost_frac
            )
            src, tgt = s.m_source[k], s.m_target[k]
            # IM covers unpaid VM (a receivable of the CCP) and the close-out cost (paid out)
            s.cash += np.bincount(src, returned, minlength=n)
            s.cash -= np.bincount(tgt, returned + cost, minlength=n)
            s.external_cash_in -= float(cost.sum())
            s.pnl["default_losses"] -= np.bincount(src, cost, minlength=n)
            s.pnl["shortfall_passed_on"] += np.bincount(src, uncovered, minlength=n)
            s.pnl["default_losses"] -= np.bincount(tgt, uncovered, minlength=n)
            s.im_posted[k] = 0.0
            s.vm_due[k] = 0.0
            s.im_due[k] = 0.0
            s.assess_due[k] = 0.0
            closed = np.zeros_like(s.notional)
            closed[k] = s.notional[k]
            s.ext_notional += self._per_book(closed)  # the outside side takes them over
            s.notional[k] = 0.0
            s.edges_moved()
            self._mutualise()
        s.edges_moved()
        # 5. the estate sells its other (illiquid) assets to outside buyers at book value
        s.cash[new] += s.other_assets[new]
        s.external_cash_in += float(s.other_assets[new].sum())
        s.other_assets[new] = 0.0

    def _mutualise(self) -> None:
        """Assess surviving members when a CCP's own resources are exhausted."""
        s = self.s
        eq = s.equity()
        for c in s.ccp_rows:
            if eq[c] >= 0:
                continue
            members = (s.m_target == c) & ~s.defaulted[s.m_source]
            add = df_.mutualise(-eq[c], np.where(members, s.im_posted, 0.0))
            s.assess_due += add
            s.edges_moved()
            s.pnl["default_losses"] -= s.by_source(add)
            s.pnl["default_losses"][c] += add.sum()

    def clearing(self, log: DayLog) -> bool:
        """Clear the unsecured debts of defaulted estates (Eisenberg-Noe); True if any paid.

        Only estates pay now: a solvent institution's unsecured debts are not due, so an
        estate's claims on solvent debtors stay on its books (collected at maturity) and its
        clearing value is its cash. Losses then hit creditors' equity the same day, and the
        insolvency check of the next round catches any creditor they push under.
        """
        import scipy.sparse as sp

        s, n = self.s, self.s.n
        r, u = s.repo, s.cs.unsecured
        if not s.defaulted.any():
            return False
        d = s.defaulted
        ur = s.repo_unsecured & (s.repo_amount > 0) & d[r.borrower]
        sink, pool = n, n + 1  # creditors outside the system; the MMFs' financing pool
        est = np.flatnonzero(d)
        pool_debtors = np.flatnonzero((s.pool_borrowed > 0) & d)
        on_u = d[u.debtor]
        rows = np.concatenate([u.debtor[on_u], r.borrower[ur], pool_debtors, est])
        cols = np.concatenate(
            [
                u.creditor[on_u],
                r.lender[ur],
                np.full(len(pool_debtors), pool),
                np.full(len(est), sink),
            ]
        )
        vals = np.concatenate(
            [
                s.unsec_amount[on_u],
                s.repo_amount[ur],
                s.pool_borrowed[pool_debtors],
                s.other_liabilities[est],
            ]
        )
        if not (vals > 0).any():
            return False
        liabilities = sp.csr_array((vals, (rows, cols)), shape=(n + 2, n + 2))
        liabilities.sum_duplicates()
        ext = np.concatenate([np.where(d, np.maximum(s.cash, 0.0), 0.0), [0.0, 0.0]])
        res = eisenberg_noe(liabilities, ext)
        self._settle_claims(d, res.recovery_rate[:n], ur)
        return True

    def _settle_claims(self, settle, rec, ur) -> None:
        """Pay creditors of settled estates their recovery in cash; write off the rest."""
        s, n = self.s, self.s.n
        self.books_changed = True
        s.edges_moved()
        r, u = s.repo, s.cs.unsecured

        def pay(debtor, creditor, amount):
            on = settle[debtor]
            amt = np.where(on, amount, 0.0)
            got = amt * rec[debtor]
            lost = amt - got
            s.cash -= np.bincount(debtor, got, minlength=n)
            s.cash += np.bincount(creditor, got, minlength=n)
            s.pnl["default_losses"] -= np.bincount(creditor, lost, minlength=n)
            s.pnl["shortfall_passed_on"] += np.bincount(debtor, lost, minlength=n)
            return on

        on = pay(u.debtor, u.creditor, s.unsec_amount)
        s.unsec_amount = np.where(on, 0.0, s.unsec_amount)
        idx = np.flatnonzero(ur)
        on = pay(r.borrower[idx], r.lender[idx], s.repo_amount[idx])
        s.repo_amount[idx] = np.where(on, 0.0, s.repo_amount[idx])
        # the MMFs' financing pool: recoveries shared pro rata to what each MMF lent
        owed_pool = np.where(settle, s.pool_borrowed, 0.0)
        if owed_pool.any():
            got = owed_pool * rec
            lent = s.pool_lent
            w = lent / lent.sum() if lent.sum() > 0 else lent
            s.cash -= got
            s.cash += got.sum() * w
            s.pnl["default_losses"] -= (owed_pool - got).sum() * w
            s.pnl["shortfall_passed_on"] += owed_pool - got
            s.pool_lent = np.maximum(lent - owed_pool.sum() * w, 0.0)
            s.pool_borrowed = np.where(settle, 0.0, s.pool_borrowed)
        ext_owed = np.where(settle, s.other_liabilities, 0.0)
        got = ext_owed * rec
        s.cash -= got
        s.external_cash_in -= float(got.sum())
        s.pnl["shortfall_passed_on"] += ext_owed - got
        self.loss_outside += float((ext_owed - got).sum())
        s.other_liabilities = np.where(settle, 0.0, s.other_liabilities)
        s.edges_moved()
