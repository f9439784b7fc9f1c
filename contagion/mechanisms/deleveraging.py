"""Liquidity waterfall, unwinds, leverage targeting and redemptions.

An institution that owes more than its cash raises the rest, in order (each step only
for the types that can take it, see :data:`STEPS`):

0. asset managers sell other assets alongside Treasuries, pro rata to holdings with
   Treasuries weighted ``p`` times (the dash for cash: Treasuries are sold first in
   stress); the other assets go to outside buyers at book value, so a share
   ``O / (O + p T)`` of the need is met outside the Treasury market;
1. sell unencumbered bonds (pro rata across buckets);
2. recall repo it has lent (lenders: dealers and MMFs; ON RRP first for MMFs);
3. **unwind** a share ``phi`` of its leveraged book: sell ``phi`` of every bond it holds,
   repay ``phi`` of its repo, buy back ``phi`` of its futures shorts (sell ``phi`` of longs)
   and close ``phi`` of its swaps. An unwind releases the haircut and the initial margin,
   and the dues that scale with the position (IM calls, repo margin and recalls, ``D_s``)
   shrink by ``phi`` too, so the smallest unwind that covers a need is exact::

       phi (V_i - L_i + IM_i) >= (1 - phi) D_s,i + D_f,i
       =>  phi_i = min(1, need_i / U_i),   U_i = V_i - L_i + IM_i + D_s,i

   with V the value of the bonds still held, L the repo borrowed, IM the initial margin
   posted and ``need = D_s + D_f`` (D_f: VM and other fixed dues). With a zero haircut the
   bond sale only repays the loan; the cash comes from the released IM.

Voluntary deleveraging (hedge funds) toward a volatility-dependent target leverage, and the
hard cap, measured as assets / equity. An unwind of ``phi`` lowers assets by ``phi * repo``
(the released cash is kept), so::

    L*_i,t = L_i,0 * (vol_0 / vol_t)^eps_i
    phi_i  = max(k_i * (A_i - (1 + band) L*_i E_i), A_i - Lmax_i E_i)^+ / repo_i

(a fund rebalances only once leverage drifts more than ``band`` above its target, so
accrued interest alone does not make it sell).

Redemptions (asset managers, MMFs): a share of NAV per day equal to the scenario's
exogenous rate plus ``sensitivity * max(0, -daily return)``.
"""

from __future__ import annotations

import numpy as np

STEPS = {
    "hedge_fund": ("sell_free", "unwind"),
    "dealer": ("sell_free", "recall", "unwind"),
    "mmf": ("recall", "sell_other_last"),
    "asset_manager": ("sell_other", "sell_free"),
    "other": ("sell_free",),
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
) -> np.ndarray:
    """Unwind share phi for voluntary deleveraging and the hard leverage cap."""
    target = leverage0 * vol_ratio ** (-elasticity) * (1.0 + band)
    voluntary = speed * np.maximum(assets - target * equity, 0.0)
    forced = np.maximum(assets - max_leverage * equity, 0.0)
    excess = np.where(equity > 0, np.maximum(voluntary, forced), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.where(repo > 0, excess / repo, 0.0)
    return np.clip(phi, 0.0, 1.0)


def redemption_share(
    exogenous: float, daily_return: np.ndarray, sensitivity: np.ndarray
) -> np.ndarray:
    """Share of NAV redeemed today (flow-performance: losses bring outflows)."""
    return np.clip(exogenous + sensitivity * np.clip(-daily_return, 0.0, None), 0.0, 1.0)
