"""Default resolution: CCP waterfall and the inputs of Eisenberg-Noe clearing.

CCP waterfall on a defaulted member's edge e (USD bn)::

    loss_e    = unpaid VM_e + c * IM requirement_e        (close-out cost, c = close-out share)
    covered_e = min(loss_e, IM posted_e)                  (1. the defaulter's IM)
    returned  = IM posted_e - covered_e                   (back to the defaulter's estate)
    the rest  -> the CCP's own resources (2. skin in the game and default fund, its equity)
    and when the CCP's equity turns negative -> assessments on surviving members pro rata
    to their IM (3. mutualised loss).

Repo: lenders seize the defaulter's collateral up to the loan's value and sell it; any
deficiency stays as an unsecured claim. FICC's write-offs on sponsored members are charged
to their sponsors, then FICC's own resources, then the surviving dealers pro rata to their
sponsored guarantees (:mod:`contagion.mechanisms.sponsored`). Unsecured claims (original
unsecured exposures, repo deficiencies, MMF financing of dealers, other liabilities owed
outside the system, guarantees owed to FICC) are cleared with
:func:`contagion.clearing.eisenberg_noe`.
"""

from __future__ import annotations

import numpy as np

from contagion.mechanisms import sponsored
from contagion.sums import zeroed


def close_out(
    unpaid_vm: np.ndarray, im_requirement: np.ndarray, im_posted: np.ndarray, cost_frac: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(close-out cost, covered by IM, uncovered loss, IM returned), per edge, USD bn."""
    cost = cost_frac * im_requirement
    loss = unpaid_vm + cost
    covered = np.minimum(loss, im_posted)
    return cost, covered, loss - covered, im_posted - covered


def mutualise(shortfall: float, member_im: np.ndarray) -> np.ndarray:
    """Assessment per member edge, pro rata to IM posted (USD bn)."""
    total = member_im.sum()
    if shortfall <= 0 or total <= 0:
        return np.zeros_like(member_im)
    return shortfall * member_im / total


# --- steps -----------------------------------------------------------------------------------
# An institution defaults when its equity is exhausted (insolvency) or when it owes what it
# cannot pay and has nothing left to sell (Treasuries or other assets), recall or unwind
# (liquidity). Resolution, all vectorised over the new defaulters:
#
# 1. its repo lenders seize collateral up to each loan's value and sell it; a deficiency
#    stays on the repo edge as an unsecured claim;
# 2. repo it lent is terminated: its borrowers repay the estate;
# 3. the estate sells everything it holds; redemptions are suspended;
# 4. its futures and swaps are closed by the CCP (close_out above; mutualise when the
#    CCP's own resources run out);
# 5. its other assets go to outside buyers at book value.
#
# When a day's rounds are quiet, unsecured claims on estates (original unsecured exposures,
# repo deficiencies, MMF inventory financing, other liabilities owed outside) are cleared
# with contagion.clearing.eisenberg_noe; creditors' losses hit their equity the same day.
# Losses borne by creditors are booked in ``default_losses``; what an estate does not pay
# is booked as ``shortfall_passed_on`` on its own books, so the attribution adds up.

DEFAULT_WRITES = (
    "defaulted",
    "default_day",
    "par",
    "to_liquidate",
    "repo_amount",
    "repo_unsecured",
    "repo_recall",
    "repo_margin",
    "redemption_due",
    "cash",
    "external_cash_in",
    "pnl",
    "im_posted",
    "vm_due",
    "im_due",
    "assess_due",
    "ext_notional",
    "notional",
    "other_assets",
    "closeout_fut_flow",
    "closeout_swap_flow",
)
CLEARING_WRITES = (
    "cash",
    "pnl",
    "unsec_amount",
    "repo_amount",
    "repo_recall",  # FICC passes recoveries up (sponsored.pass_up)
    "repo_margin",
    "guarantee_due",  # guarantees owed to FICC (sponsored.charge_deficiency)
    "pool_lent",
    "pool_borrowed",
    "other_liabilities",
    "external_cash_in",
    "loss_outside",
)


def default_step(state, ctx, ledger, day, still_owed, *, clearing_defaults=None) -> bool:
    """Flag and resolve new defaults; returns True if any."""
    if not ctx.channels.defaults:
        return False
    s, topo = state, ctx.topo
    tol = max(ctx.params.tolerance_usd_bn, 1e-9)
    if not (day.books_changed or clearing_defaults is not None or still_owed.any()):
        return False  # nothing moved since the last check: no new default possible
    day.books_changed = False
    a, liab = ledger.balance()
    equity = a - liab
    insolvent = equity < s.ref.insolvency_floor
    # illiquid: owes more than its cash, and has nothing to sell, recall or unwind (each
    # test only when someone is still a candidate). ``still_owed`` may be gross dues not yet
    # paid (the check after a converged round): cash on hand pays those next round.
    illiquid = still_owed - np.maximum(s.cash, 0.0) > tol
    if illiquid.any():
        illiquid &= ~(s.par.sum(axis=1) > tol)  # nothing to sell
    if illiquid.any():  # nor other assets it may sell (the proceeds pay next round)
        can_sell = topo.can["sell_other"] | topo.can["sell_other_last"]
        illiquid &= ~((s.other_assets > tol) & can_sell)
    if illiquid.any():
        has_lending = topo.by_lender(zeroed(s.repo_amount - s.repo_recall, s.repo_unsecured))
        illiquid &= ~((has_lending > tol) & topo.can["recall"])
    if illiquid.any():
        has_futures = ledger.edge_sum("abs_notional") > tol
        illiquid &= ~(has_futures & topo.can["unwind"])
    new = topo.defaultable & ~s.defaulted & (insolvent | illiquid)
    if clearing_defaults is not None:
        new |= topo.defaultable & ~s.defaulted & clearing_defaults
    if not new.any():
        return False
    idx = np.flatnonzero(new)
    cause = np.where(insolvent[idx], "insolvency", "liquidity").astype(object)
    if clearing_defaults is not None:
        cause = np.where(clearing_defaults[idx], "clearing", cause)
    day.log.defaults.append(
        {
            "day": np.full(len(idx), s.day + 1),
            "index": idx,
            "cause": cause,
            "assets_usd_bn": s.ref.assets0[idx],
            "equity_usd_bn": equity[idx],
        }
    )
    s.defaulted |= new
    s.default_day[new] = s.day + 1
    _resolve(s, ctx, ledger, new)
    return True


def _resolve(s, ctx, ledger, new: np.ndarray) -> None:
    topo, p = ctx.topo, ctx.params
    ledger.moved()
    r = topo.repo
    price = s.price / 100.0
    n, nb = s.par.shape
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
        np.add.at(s.to_liquidate, (r.lender[e], r.bucket[e]), seized)
        ledger.seize_collateral(e, seized, price)
    # 2. a defaulted lender's loans are terminated: borrowers repay to the estate
    lent = new[r.lender] & ~s.repo_unsecured
    s.repo_recall[:] = np.where(lent, s.repo_amount, s.repo_recall)
    # 3. the estate sells everything it still holds; redemptions are suspended
    s.to_liquidate[new] += s.par[new]
    s.redemption_due[new] = 0.0
    # 4. CCP waterfall on the defaulter's futures and swaps
    k = np.flatnonzero(new[topo.m_source] & ((s.notional != 0) | (s.vm_due > 0)))
    if len(k):
        req = np.abs(s.notional[k]) * topo.im_base_rate[k] * s.im_multiplier
        # unpaid VM and unpaid assessments are the CCP's receivables from the defaulter
        cost, _, uncovered, returned = close_out(
            s.vm_due[k] + s.assess_due[k], req, s.im_posted[k], p.ccp_close_out_cost_frac
        )
        # the CCP closes the positions out in the market: buying back shorts, receiving
        # fixed against pay-fixed swaps (order flow for the next clearing)
        flow = -s.notional[k]
        swap = topo.is_swap[k]
        inst = topo.m_instrument[k]
        if ctx.channels.futures_impact:
            np.add.at(s.closeout_fut_flow, inst[~swap], flow[~swap])
        if ctx.channels.swap_impact:
            np.add.at(s.closeout_swap_flow, inst[swap], flow[swap])
        ledger.ccp_close_out(k, cost, uncovered, returned)
        _mutualise(s, topo, ledger)
    ledger.moved()
    # 5. the estate sells its other (illiquid) assets to outside buyers at book value
    ledger.estates_sell_other_assets(new)


def _mutualise(s, topo, ledger) -> None:
    """Assess surviving members when a CCP's own resources are exhausted."""
    eq = ledger.equity()
    for c in topo.ccp_rows:
        if eq[c] >= 0:
            continue
        members = (topo.m_target == c) & ~s.defaulted[topo.m_source]
        ledger.assess(c, mutualise(-eq[c], np.where(members, s.im_posted, 0.0)))


def clearing_step(state, ctx, ledger, day) -> bool:
    """Clear the unsecured debts of defaulted estates (Eisenberg-Noe); True if any paid.

    Only estates pay now: a solvent institution's unsecured debts are not due, so an
    estate's claims on solvent debtors stay on its books (collected at maturity) and its
    clearing value is its cash. Losses then hit creditors' equity the same day, and the
    insolvency check of the next round catches any creditor they push under.
    """
    import scipy.sparse as sp

    from contagion.clearing import eisenberg_noe

    s, topo = state, ctx.topo
    n = topo.n
    r, u = topo.repo, topo.cs.unsecured
    if not s.defaulted.any():
        return False
    d = s.defaulted
    ur = s.repo_unsecured & (s.repo_amount > 0) & d[r.borrower]
    sink, pool = n, n + 1  # creditors outside the system; the MMFs' financing pool
    est = np.flatnonzero(d)
    pool_debtors = np.flatnonzero((s.pool_borrowed > 0) & d)
    on_u = d[u.debtor]
    # guarantees estates owe FICC (mechanisms.sponsored)
    g_debtors = np.flatnonzero((s.guarantee_due > 0) & d) if topo.has_ficc else est[:0]
    ficc = int(np.flatnonzero(topo.ficc_first)[0]) if len(g_debtors) else 0
    rows = np.concatenate([u.debtor[on_u], r.borrower[ur], pool_debtors, est, g_debtors])
    cols = np.concatenate(
        [
            u.creditor[on_u],
            r.lender[ur],
            np.full(len(pool_debtors), pool),
            np.full(len(est), sink),
            np.full(len(g_debtors), ficc),
        ]
    )
    vals = np.concatenate(
        [
            s.unsec_amount[on_u],
            s.repo_amount[ur],
            s.pool_borrowed[pool_debtors],
            s.other_liabilities[est],
            s.guarantee_due[g_debtors],
        ]
    )
    if not (vals > 0).any():
        return False
    liabilities = sp.csr_array((vals, (rows, cols)), shape=(n + 2, n + 2))
    liabilities.sum_duplicates()
    ext = np.concatenate([np.where(d, np.maximum(s.cash, 0.0), 0.0), [0.0, 0.0]])
    res = eisenberg_noe(liabilities, ext)
    _settle_claims(s, topo, ledger, day, d, res.recovery_rate[:n], ur)
    return True


def _settle_claims(s, topo, ledger, day, settle, rec, ur) -> None:
    """Pay creditors of settled estates their recovery in cash; write off the rest."""
    day.books_changed = True
    ledger.moved()
    r, u = topo.repo, topo.cs.unsecured
    on = settle[u.debtor]
    ledger.settle_claims(u.debtor, u.creditor, np.where(on, s.unsec_amount, 0.0), rec[u.debtor])
    ledger.write_off_unsecured(on)
    idx = np.flatnonzero(ur)
    debtor = r.borrower[idx]
    on = settle[debtor]
    claim = np.where(on, s.repo_amount[idx], 0.0)
    ledger.settle_claims(debtor, r.lender[idx], claim, rec[debtor])
    ledger.write_off_repo(idx, on)
    if topo.has_ficc:  # FICC's write-offs: sponsors, its resources, then the dealers
        g = np.flatnonzero(settle & (s.guarantee_due > 0))
        if len(g):  # estates' guarantees: recoveries to FICC, the rest its loss
            ficc = np.full(len(g), int(np.flatnonzero(topo.ficc_first)[0]))
            ledger.settle_claims(g, ficc, s.guarantee_due[g], rec[g])
            ledger.write_off_guarantees(g)
        lost = np.zeros_like(s.repo_amount)
        lost[idx] = claim * (1.0 - rec[debtor])
        sponsored.charge_deficiency(s, topo, ledger, lost)
        sponsored.pass_up(s, topo, ledger)
    # the MMFs' financing pool: recoveries shared pro rata to what each MMF lent
    ledger.settle_pool(settle, rec)
    ledger.settle_outside_debts(settle, rec)
