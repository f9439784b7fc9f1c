"""Liquidity waterfall, unwinds, leverage targeting and redemptions.

An institution that owes more than its cash raises the rest, in order (each step only
for the types that can take it, see :data:`STEPS`):

0. asset managers sell other assets alongside Treasuries, pro rata to holdings with
   Treasuries weighted ``p`` times (the dash for cash: Treasuries are sold first in
   stress); the other assets go to outside buyers at book value, so a share
   ``O / (O + p T)`` of the need is met outside the Treasury market;
1. sell unencumbered bonds (pro rata across buckets);
2. recall repo it has lent (lenders: dealers and MMFs; ON RRP first for MMFs);
3. **unwind** a share ``phi`` of its leveraged book (hedge funds, dealers, and the ``other``
   holders, whose futures groups, the CFTC's other-reportable and non-reportable traders,
   close positions to release margin rather than default as one): sell ``phi`` of every
   bond it holds, repay ``phi`` of its repo, buy back ``phi`` of its futures shorts (sell
   ``phi`` of longs) and close ``phi`` of its swaps. An unwind releases the haircut and
   the initial margin, and the dues that scale with the position (IM calls, repo margin
   and recalls, ``D_s``) shrink by ``phi`` too, so the smallest unwind that covers a need
   is exact::

       phi (V_i - L_i + IM_i) >= (1 - phi) D_s,i + D_f,i
       =>  phi_i = min(1, need_i / U_i),   U_i = V_i - L_i + IM_i + D_s,i

   with V the value of the bonds still held, L the repo borrowed, IM the initial margin
   posted and ``need = D_s + D_f`` (D_f: VM and other fixed dues). With a zero haircut the
   bond sale only repays the loan; the cash comes from the released IM.

Voluntary deleveraging (hedge funds) toward a target leverage that falls with volatility,
with the cost of funding and with margins, and the hard cap, measured as assets / equity. An
unwind of ``phi`` lowers assets by ``phi * repo`` (the released cash is kept), so::

    L*_i,t = L_i,0 (vol_0 / vol_t)^eps_i  exp(-e_f ds_t)  (m_i,0 / m_i,t)^e_m
    phi_i  = max(k_i * (A_i - (1 + band) L*_i E_i), A_i - Lmax_i E_i)^+ / repo_i

``ds_t``: how far repo funding has risen over the policy rate since the start, ``max((GC_t -
IORB_t) - (GC_0 - IORB_0), 0)`` in percentage points, averaged over the funds' holding
horizon (:func:`contagion.mechanisms.repo_market.rate_step`): a lasting repo squeeze turns
leveraged trades' carry against them, a one-day spike barely, and a policy cut that moves
every rate alike not at all. ``m_i`` is the
fund's equity per unit of assets, its margin: at the start ``m_i,0 = 1 / L_i,0`` (the
haircuts, initial margins and the buffer it chose), and ``m_i,t = m_i,0 + max(h_i,t -
h_i,0, 0)`` with ``h_i`` its average haircut on market repo, so a haircut rise needs that
much more equity per unit of position and lowers the target (leverage proportional to
1 / margin when ``e_m = 1``, as in margin-constrained arbitrage: Brunnermeier and Pedersen
2009). A zero-haircut fund whose haircut goes to 2% at leverage 20 (m = 5%) thus targets
5/7 of its leverage. ``e_f`` and ``e_m`` are
``ModelParams.leverage_funding_semi_elasticity_per_pct`` and ``leverage_haircut_elasticity``.
A fund rebalances only once leverage drifts more than ``band`` above its target, so accrued
interest alone does not make it sell. Rationing acts through recalls: a loan its lender will
not roll is due and the waterfall above pays it.

Redemptions (asset managers, MMFs): a share of NAV per day equal to the scenario's
exogenous rate plus ``sensitivity * max(0, -daily return)``; prime money funds also lose the
scenario's prime outflows (in proportion to their prime share), government funds receive its
flight-to-safety inflows as new capital from outside.
"""

from __future__ import annotations

import numpy as np

from contagion.mechanisms import sponsored
from contagion.sums import rowdot

STEPS = {
    "hedge_fund": ("sell_free", "unwind"),
    "dealer": ("sell_free", "recall", "unwind"),
    "mmf": ("recall", "sell_other_last"),
    "asset_manager": ("sell_other", "sell_free"),
    "other": ("sell_free", "unwind"),
    "sovereign_fund": ("sell_free",),
    "ccp": (),
    "central_bank": (),
}


def split_need(need: np.ndarray, capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Use ``capacity`` against ``need``: (fraction of capacity used, need left), USD bn."""
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(capacity > 0, np.minimum(1.0, need / capacity), 0.0)
    return frac, np.maximum(need - frac * capacity, 0.0)


def unwind_share(need: np.ndarray, unwind_yield: np.ndarray) -> np.ndarray:
    """phi = min(1, need / U); an institution with U <= 0 and a need unwinds everything."""
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.where(unwind_yield > 0, need / unwind_yield, np.where(need > 0, 1.0, 0.0))
    return np.clip(phi, 0.0, 1.0)


def leverage_target_share(
    assets: np.ndarray,
    equity: np.ndarray,
    repo: np.ndarray,
    leverage0: np.ndarray,
    vol_ratio: float,
    elasticity: np.ndarray,
    speed: np.ndarray,
    max_leverage: np.ndarray,
    band: float = 0.0,
    funding: float | np.ndarray = 1.0,
) -> np.ndarray:
    """Unwind share phi for voluntary deleveraging and the hard leverage cap.

    ``funding``: the factor of the target from funding conditions (:func:`funding_factor`;
    1 leaves the volatility rule alone).
    """
    target = leverage0 * vol_ratio ** (-elasticity) * funding * (1.0 + band)
    voluntary = speed * np.maximum(assets - target * equity, 0.0)
    forced = np.maximum(assets - max_leverage * equity, 0.0)
    excess = np.where(equity > 0, np.maximum(voluntary, forced), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.where(repo > 0, excess / repo, 0.0)
    return np.clip(phi, 0.0, 1.0)


def funding_factor(
    spread_rise_pct: float,
    margin0: np.ndarray,
    haircut_rise: np.ndarray,
    *,
    semi_elasticity: float,
    margin_elasticity: float,
) -> np.ndarray:
    """exp(-e_f max(ds, 0)) (m_0 / (m_0 + max(dh, 0)))^e_m: the target leverage's response
    to funding; ``margin0`` = 1 / L_0 (equity per unit of assets), ``haircut_rise`` dh."""
    margin = margin0 + np.maximum(haircut_rise, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(margin > 0, margin0 / margin, 1.0)
    return np.exp(-semi_elasticity * max(spread_rise_pct, 0.0)) * ratio**margin_elasticity


def equity_share(leverage: np.ndarray) -> np.ndarray:
    """1 / leverage where leverage > 0, else 0 (equity per unit of assets)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(leverage > 0, 1.0 / leverage, 0.0)


def redemption_share(
    exogenous: float, daily_return: np.ndarray, sensitivity: np.ndarray
) -> np.ndarray:
    """Share of NAV redeemed today (flow-performance: losses bring outflows)."""
    return np.clip(exogenous + sensitivity * np.maximum(-daily_return, 0.0), 0.0, 1.0)


# --- steps -----------------------------------------------------------------------------------
REDEMPTIONS_WRITES = (
    "redemption_due",
    "redemption_share",
    "inflow_share",
    "cash",
    "capital_flows",
    "external_cash_in",
)
RETURNS_WRITES = ("last_return", "nav_prev")


def redemptions_step(state, ctx, ledger, day) -> None:
    """Redemptions fall due: yesterday's unpaid ones plus today's share of NAV (asset
    managers and MMFs; the scenario's rate plus flow-performance on yesterday's return)."""
    s, topo = state, ctx.topo
    carried = np.where(s.defaulted, 0.0, s.redemption_due)
    s.redemption_due[:] = carried
    s.redemption_share[:] = 0.0
    s.inflow_share[:] = 0.0
    if not ctx.channels.redemptions:
        return
    nav = ledger.tracked_equity()
    ret = s.last_return
    sens = topo.behaviour("redemption_sensitivity_ratio")
    share = np.zeros(topo.n)
    am, mmf = topo.mask["asset_manager"], topo.mask["mmf"]
    t = day.t
    prime = topo.behaviour("mmf_prime_share_frac")[mmf]
    share[am] = redemption_share(float(ctx.path("am_redemption_frac")[t]), ret[am], sens[am])
    mmf_out = float(ctx.path("mmf_outflow_frac")[t])
    prime_out = float(ctx.path("prime_mmf_outflow_frac")[t])
    share[mmf] = redemption_share(mmf_out + prime_out * prime, ret[mmf], sens[mmf])
    share[s.defaulted] = 0.0
    s.redemption_share[:] = share
    s.redemption_due[:] = carried + share * np.maximum(nav, 0.0)
    inflow = float(ctx.path("government_mmf_inflow_frac")[t])
    s.inflow_share[:] = 0.0
    if inflow:
        s.inflow_share[mmf] = inflow * (1.0 - prime)
        s.inflow_share[s.defaulted] = 0.0
        received = s.inflow_share * np.maximum(nav, 0.0)
        ledger.receive_capital(received)
        day.log.subscriptions_received += received


def returns_step(state, ctx, ledger, day) -> None:
    """The day's return on NAV, net of capital paid out and received today (tomorrow's flows
    follow it)."""
    s = state
    nav = ledger.tracked_equity()
    with np.errstate(divide="ignore", invalid="ignore"):
        net_out = day.log.redemptions_paid - day.log.subscriptions_received
        s.last_return[:] = np.where(s.nav_prev > 0, (nav + net_out) / s.nav_prev - 1.0, 0.0)
    s.nav_prev[:] = nav


EX_ANTE_WRITES = ("repo_haircut", "repo_amount", "cash", "par", "im_posted", "notional",
                  "ext_notional", "external_par_out", "external_cash_in")  # fmt: skip
EX_ANTE_PASSES = 5  # passes of pay-then-unwind; each pass's unwind frees cash for the next


def ex_ante_step(state, ctx, ledger, floor: np.ndarray) -> float:
    """Borrowers meet a haircut floor that is in force before the shock, at t0 prices.

    Each pass: the repo margin the floor calls is paid from cash, pro rata; what cash
    cannot pay is raised by unwinding (:func:`unwind_share` of the need over the unwind
    yield ``U = V - L + IM + need``), the bonds sold to investors outside the system
    without price impact. Returns the value sold (USD bn).
    """
    from contagion.mechanisms.haircuts import repo_margin_due

    s, topo = state, ctx.topo
    r = topo.repo
    s.repo_haircut[:] = np.maximum(s.repo_haircut, floor)
    sold = 0.0
    for _ in range(EX_ANTE_PASSES):
        _, got = ledger.pledged_value()
        available = s.par * (s.price / 100.0) + got
        due = repo_margin_due(
            s.repo_amount, s.repo_haircut, r.borrower, r.bucket, ~s.repo_unsecured, available
        )
        owed = topo.by_borrower(due)
        pay = np.minimum(owed, np.maximum(s.cash, 0.0))
        pay = np.where(topo.ficc, 0.0, pay)  # FICC pays what its members pay (below)
        frac = np.where(owed > 0, pay / np.maximum(owed, 1e-300), 0.0)
        ledger.repay_repo_plain(due * frac[r.borrower])
        need_left = owed - pay
        price = s.price / 100.0
        u = rowdot(s.par, price) - ledger.repo_borrowed() + ledger.im_posted_by() + need_left
        phi = np.where(topo.can["unwind"], unwind_share(need_left, u), 0.0)
        if not (phi > 1e-12).any():
            break
        sold += ledger.unwind_to_outside(phi, price)
    sponsored.pass_up(s, topo, ledger)
    return sold


def repo_haircut_by_borrower(state, topo) -> np.ndarray:
    """Each institution's average haircut on its secured market repo (fraction; 0 without
    any)."""
    s = state
    on = ~s.repo_unsecured & ~topo.cb_edges
    amount = np.where(on, s.repo_amount, 0.0)
    total = topo.by_borrower(amount)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(total > 0, topo.by_borrower(amount * s.repo_haircut) / total, 0.0)
    return h
