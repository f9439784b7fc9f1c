"""Step 4 of a round: pay what is due, then plan the liquidity waterfall.

Each institution pays what it owes (repo calls and maturing repo, VM, IM, CCP assessments,
redemptions) pro rata from its cash; standing facilities first lend to eligible institutions
whose cash falls short. What it cannot pay it raises, in this order
(:data:`contagion.mechanisms.deleveraging.STEPS` says who may take which step): asset
managers sell other assets alongside Treasuries (Treasuries preferred); free (unencumbered)
bonds are first financed in repo with the lenders the holder already has (what a rally frees
from cover, or bonds never pledged), then sold; dealers and MMFs recall loans (ON RRP first,
then private repo); MMFs let
other assets run off for what recalls leave; leveraged holders unwind, selling the cash bond
and buying back the hedge together, which releases haircut and IM (the equations are in
:mod:`contagion.mechanisms.deleveraging`). Voluntary de-leveraging toward the volatility-
dependent leverage target, the scenario's exogenous sales (which policies may intercept)
and the liquidation of defaulters' estates are planned in the same step.

A pay round, for payer ``i`` with cash ``c_i`` and dues ``D_i``::

    f_i = min(1, max(c_i, 0) / D_i)   (1 for central banks and CCPs)

and each due of ``i`` is paid in the share ``f_i``; ``(1 - f_i) D_i`` is still owed.
"""

from __future__ import annotations

import numpy as np

from contagion.mechanisms import deleveraging as dl
from contagion.mechanisms import sponsored
from contagion.sums import rowdot

PAY_WRITES = (
    "repo_amount",
    "repo_recall",
    "repo_margin",
    "cash",
    "im_posted",
    "vm_due",
    "im_due",
    "assess_due",
    "redemption_due",
    "guarantee_due",
    "capital_flows",
    "external_cash_in",
)
PLAN_WRITES = (
    "other_assets",
    "cash",
    "external_cash_in",
    "repo_recall",
    "to_liquidate",
    "repo_amount",  # loans that replace intercepted sales (orders.Interception)
)


def _borrow_against_free(s, topo, ledger, need: np.ndarray, free_value: np.ndarray) -> np.ndarray:
    """Leveraged holders (those that may unwind) raise cash by repo on their unencumbered
    bonds (those a rally has freed from cover, or never pledged) from the lenders they
    already borrow from, before selling anything: on each live edge, at its haircut, the
    edge's share (by amount) of the free value of its borrower's bonds in its bucket; lenders
    lend from their cash only, and not on edges they are recalling or rationing.
    ``free_value``: (n, n_buckets) unencumbered bonds at market; returns USD bn drawn per
    institution."""
    r = topo.repo
    asking = need > 0
    if not asking.any():
        return np.zeros_like(need)
    # the live edges, in edge order (few: the market repo of the leveraged holders that
    # ask); every other edge would draw +0.0, which adds nothing to the sums below
    e = np.flatnonzero(asking[r.borrower] & topo.leveraged_market_repo)
    e = e[
        ~s.repo_unsecured[e]
        & (s.repo_recall[e] <= 0)
        & (s.repo_rationed[e] <= 0)
        & (s.repo_amount[e] > 0)
        & ~s.defaulted[r.lender[e]]
        & ~topo.ficc[r.lender[e]]  # FICC never lends its own cash
    ]
    if not len(e):
        return np.zeros_like(need)
    n = len(need)
    borrower, lender = r.borrower[e], r.lender[e]
    amount = s.repo_amount[e]
    cell = topo.collateral_cell[e]  # borrower * n_buckets + bucket
    in_cell = np.bincount(cell, amount, minlength=free_value.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(in_cell[cell] > 0, amount / in_cell[cell], 0.0)
    cap = free_value.ravel()[cell] * share * (1.0 - s.repo_haircut[e])
    total = np.bincount(borrower, cap, minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        take = np.where(total > 0, np.minimum(need, total) / total, 0.0)
    x = cap * take[borrower]
    asked = np.bincount(lender, x, minlength=n)
    cash = np.maximum(s.cash, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(asked > cash, cash / asked, 1.0)
    x = x * scale[lender]
    if not x.any():
        return np.zeros_like(need)
    drawn = np.zeros_like(s.repo_amount)
    drawn[e] = x
    ledger.extend_repo(drawn)
    return topo.by_borrower(drawn)


def dues(state, topo, ledger) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(repo due per edge, margin due per margined edge, total owed per institution)."""
    s = state
    repo_due = ledger.repo_due()
    m_due = s.vm_due + s.im_due + s.assess_due
    owed = topo.by_borrower(repo_due) + topo.by_source(m_due) + s.redemption_due
    if topo.has_ficc:  # guarantees owed to FICC (mechanisms.sponsored)
        owed = owed + s.guarantee_due
    return repo_due, m_due, owed


def owed(state, topo, ledger) -> np.ndarray:
    """Everything each institution must pay now (repo, VM, IM, assessments, redemptions)."""
    return dues(state, topo, ledger)[2]


def pay_step(state, ctx, ledger, day, desk) -> np.ndarray:
    """Pay dues from cash (pro rata across a payer's dues); returns what is still owed."""
    s, topo = state, ctx.topo
    sponsored.match_recalls(s, topo)  # FICC's lenders' recalls pass to its members
    if desk:
        desk.lend_on_shortfalls(s, topo, ledger, lambda: owed(s, topo, ledger))
    repo_due, m_due, owe = dues(s, topo, ledger)
    if not owe.any():
        return owe  # nothing due: a quiet round
    day.books_changed = True
    # over: a subnormal due makes cash / owed overflow to inf, which min(1, .) maps to 1
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        frac = np.where(owe > 0, np.minimum(1.0, np.maximum(s.cash, 0.0) / owe), 1.0)
    frac = np.where(topo.unlimited, 1.0, frac)
    if topo.has_ficc:  # FICC pays only what its members pay it (sponsored.pass_up)
        frac = np.where(topo.ficc, 0.0, frac)
    ledger.pay_dues(repo_due, m_due, frac)
    day.log.redemptions_paid += ledger.pay_redemptions(frac)
    if topo.has_ficc:
        if s.guarantee_due.any():
            ledger.pay_guarantees(frac)
        sponsored.pass_up(s, topo, ledger, dues_first=True)
        return np.where(topo.ficc, 0.0, owe * (1.0 - frac))
    return owe * (1.0 - frac)


def plan_step(state, ctx, ledger, day, desk, still_owed: np.ndarray):
    """Sales (par per institution and bucket), unwind shares, futures cuts; recalls set.

    Returns ``(sell, phi, close)``: par to sell (n x buckets), the share of its leveraged
    book each institution unwinds, and the share of each future and swap closed.
    """
    s, topo, p = state, ctx.topo, ctx.params
    n = topo.n
    log = day.log
    first = day.first
    tol = p.tolerance_usd_bn
    need = np.where(topo.unlimited | s.defaulted, 0.0, still_owed)
    need = np.where(need > tol, need, 0.0)
    if not (first or need.any() or s.to_liquidate.any()):
        nothing = np.zeros(n)
        return np.zeros_like(s.par), nothing, np.zeros_like(s.notional)
    price = s.price / 100.0
    if need.any():
        free = ledger.free_par()
        free_value = rowdot(free, price)
        # 0. funds sell other assets alongside Treasuries (Treasuries preferred)
        need = _sell_other_assets(s, ctx, ledger, day, need, free_value)
        # 0'. leveraged holders borrow more from their repo lenders against free bonds
        drawn = _borrow_against_free(s, topo, ledger, need, free * price)
        if drawn.any():
            need = np.maximum(need - drawn, 0.0)
            free = ledger.free_par()
            free_value = rowdot(free, price)
        # 1. sell free bonds
        cap = np.where(topo.can["sell_free"], free_value, 0.0)
        frac_free, need = dl.split_need(need, cap)
        sell = free * frac_free[:, None]
        # 2. recall loans (dealers, MMFs): ON RRP first, then private repo
        need = _recall(s, topo, need)
        # 2'. MMFs: other assets for the rest
        if need.any():
            need = _sell_other_assets(s, ctx, ledger, day, need, np.zeros(n), "sell_other_last")
    else:  # nothing owed (first round or estates to liquidate): steps 0-3 do nothing
        sell = np.zeros_like(s.par)
    # 3. unwind
    if need.any():
        held = s.par - free * frac_free[:, None]
        repo_due = ledger.repo_due()
        scalable = topo.by_source(s.im_due) + topo.by_borrower(repo_due)
        u_yield = rowdot(held, price) - ledger.repo_borrowed() + ledger.im_posted_by() + scalable
        phi_need = np.where(topo.can["unwind"], dl.unwind_share(need, u_yield), 0.0)
    else:  # phi = need / U = 0
        phi_need = np.zeros(n)
    phi_vol = np.zeros(n)
    if first and ctx.channels.deleveraging:
        a, liab = ledger.balance()
        funding = dl.funding_factor(
            s.funding_spread_rise_pct,
            dl.equity_share(s.ref.leverage0),
            dl.repo_haircut_by_borrower(s, topo) - s.ref.haircut0,
            semi_elasticity=p.leverage_funding_semi_elasticity_per_pct,
            margin_elasticity=p.leverage_haircut_elasticity,
        )
        phi_vol = dl.leverage_target_share(
            a,
            a - liab,
            ledger.repo_borrowed(),
            s.ref.leverage0,
            s.vol / topo.cs.market.volatility_index,
            topo.behaviour("leverage_vol_elasticity"),
            topo.behaviour("deleveraging_speed_frac"),
            topo.behaviour("max_leverage_ratio"),
            band=p.leverage_band_frac,
            funding=funding,
        )
        phi_vol = np.where(topo.mask["hedge_fund"] & ~s.defaulted, phi_vol, 0.0)
    phi = np.clip(phi_need + phi_vol, 0.0, 1.0)
    phi = np.where(phi > 1e-12, phi, 0.0)
    remaining = s.par - sell
    unwind_sell = remaining * phi[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        forced_part = np.where(phi > 0, phi_need / np.maximum(phi_need + phi_vol, 1e-300), 0.0)
    forced_part = np.clip(forced_part, 0.0, 1.0)
    uv = rowdot(unwind_sell, price)
    log.forced_sales += rowdot(sell, price) + uv * forced_part
    log.voluntary_sales += uv * (1 - forced_part)
    sell = sell + unwind_sell
    # liquidation of defaulted estates and seized collateral
    liq = s.to_liquidate
    log.liquidation_sales += rowdot(liq, price)
    sell = sell + liq
    s.to_liquidate[:] = 0.0
    if first:
        # the Treasury's net new issuance settles in the first round (sold from outside)
        value = ctx.treasury_issuance_usd_bn[day.t]
        day.issuance = value / (s.price / 100.0) if value.any() else None
        exo = _exogenous_sales(s, ctx, day.t)
        if desk and exo.any():
            exo = desk.intercept(s, ledger, exo)
        log.exogenous_sales += rowdot(exo, price)
        sell = sell + exo
    sell = np.minimum(sell, s.par)
    # futures: unwinds close phi of every position; asset managers cut longs
    close = phi[topo.m_source]
    if first and ctx.channels.redemptions:
        am = topo.am_margined
        src = topo.m_source[am]
        cut = topo.behaviour("futures_cut_frac")[src] * s.redemption_share[src]
        was = close[am]
        close[am] = np.where(s.notional[am] > 0, np.maximum(was, cut), was)
    return sell, phi, np.clip(close, 0.0, 1.0)


def _sell_other_assets(s, ctx, ledger, day, need, treasury_value, step: str = "sell_other"):
    """Asset managers meet part of a need by selling other assets to outside buyers at
    book value, in proportion to holdings with Treasuries weighted by the preference;
    MMFs (``sell_other_last``) let their other assets (bills, placements) run off for
    what recalls did not cover."""
    can = ctx.topo.can[step]
    if not (can & (need > 0)).any():
        return need  # no one who owes can take this step: nothing is sold
    other = np.where(can & ~s.defaulted, s.other_assets, 0.0)
    pref = ctx.params.treasury_sale_preference
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(other > 0, other / (other + pref * np.maximum(treasury_value, 0.0)), 0.0)
    sold = np.minimum(need * share, other)
    if sold.any():
        day.raised_cash = True  # the next round pays with it (the day loops on)
        ledger.sell_other_assets(sold)
        need = np.maximum(need - sold, 0.0)
    return need


def _recall(s, topo, need: np.ndarray) -> np.ndarray:
    """Lenders recall loans for what they still need: central-bank facilities (ON RRP)
    first, then private repo, pro rata across their open loans."""
    r = topo.repo
    if not (topo.can["recall"] & (need > 0)).any():
        return need  # nothing to raise, or no one who owes has lent: no recall
    lenders = topo.lender_can_recall & ~s.repo_unsecured
    open_amt = np.where(lenders, np.maximum(s.repo_amount - s.repo_recall, 0.0), 0.0)
    for part in (topo.cb_edges, topo.market_edges):
        avail = topo.by_lender(np.where(part, open_amt, 0.0))
        frac, need = dl.split_need(need, avail)
        if frac.any():
            s.repo_recall += np.where(part, open_amt * frac[r.lender], 0.0)
    return need


def _exogenous_sales(s, ctx, t: int) -> np.ndarray:
    """The scenario's sales by 'other' sellers, pro rata to their holdings (par)."""
    out = np.zeros_like(s.par)
    value = ctx.exogenous_sales_usd_bn[t]
    if not value.any():
        return out
    holders = np.where(ctx.topo.mask["other"][:, None] & ~s.defaulted[:, None], s.par, 0.0)
    tot = holders.sum(axis=0)
    want_par = value / (s.price / 100.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(tot > 0, np.minimum(1.0, want_par / tot), 0.0)
    return holders * frac
