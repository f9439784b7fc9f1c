"""The repo market: rate from funding demand versus MMF cash supply.

MMFs can lend in private repo up to a share of their NAV, less as volatility rises::

    S_t = sum_m NAV_m * c * (1 - w_t) / (1 + a * max(0, vol_t / vol_0 - 1))

(``w_t``: the scenario's MMF pullback from private repo), plus a share ``theta`` of the
reserves dealers hold beyond their starting level (so QE's new reserves add supply)

Demand D_t is private repo lent by MMFs plus their new financing of dealer inventory. The
general-collateral rate is convex in utilisation x = D / S (the September 2019 spike; Afonso
et al. 2020, "Reserves and the September 2019 repo rate spike")::

    r_t = r_rrp + s_0 * ((1 - x_0) / (1 - min(x_t, x_cap)))^eta,   s_0 = max(r_0 - r_rrp, 1bp)

A market that starts saturated (x_0 >= x_cap, e.g. MMF repo but no MMF capacity) has its
reference at the cap, so the rate moves from its observed level; one whose supply vanishes
later prices at the cap. ON RRP is the MMFs' outside option (the floor r_rrp). When demand
exceeds supply the MMFs ration: they recall the excess on their overnight lending the next
day.
"""

from __future__ import annotations

import numpy as np


def mmf_capacity(
    nav: np.ndarray, *, capacity_frac: float, vol_ratio: float, sensitivity: float
) -> float:
    """Private repo lending capacity of the MMF sector, USD bn."""
    return float(
        np.clip(nav, 0.0, None).sum() * capacity_frac / (1 + sensitivity * max(0.0, vol_ratio - 1))
    )


def funding_utilisation(demand: float, supply: float) -> float:
    """x = D / S: infinite when MMF financing is demanded but there is no supply, 0 when
    there is neither (a market with no MMF repo)."""
    if supply > 0:
        with np.errstate(over="ignore"):
            return float(np.float64(demand) / supply)
    return np.inf if demand > 0 else 0.0


def repo_rate(
    x: float, x0: float, *, on_rrp_pct: float, spread0_pct: float, convexity: float, cap: float
) -> float:
    """GC repo rate, percent."""
    x0 = min(x0, cap)
    return on_rrp_pct + spread0_pct * ((1.0 - x0) / (1.0 - min(max(x, 0.0), cap))) ** convexity


# --- steps -----------------------------------------------------------------------------------
INTEREST_WRITES = ("repo_amount", "pnl", "pool_borrowed", "pool_lent")
RATE_WRITES = ("repo_rate_pct", "repo_rationed")
FINANCE_WRITES = ("cash", "pool_lent", "pool_borrowed", "repo_amount")


def interest_step(state, ctx, ledger, day) -> None:
    """Repo interest accrues onto the loans at each edge's rate (the market rate plus the
    edge's spread, capped for borrowers a facility serves; facilities at their own rate),
    and on the MMF financing pool at the market rate."""
    s, topo = state, ctx.topo
    r = topo.repo
    days = ctx.params.day_count_days
    market_rate = np.where(
        s.rate_cap_eligible[r.borrower], min(s.repo_rate_pct, s.rate_cap_pct), s.repo_rate_pct
    )
    rate = np.where(topo.cb_edges, r.rate_pct, market_rate + topo.repo_spread_pct)
    interest = np.where(s.repo_unsecured, 0.0, s.repo_amount * rate / 100.0 / days)
    ledger.accrue_interest(interest, s.repo_rate_pct / 100.0 / days)


def demand_supply(state, ctx, ledger) -> tuple[float, float]:
    """(demand D, supply S) of MMF repo funding, USD bn (see the module docstring)."""
    s, topo, p = state, ctx.topo, ctx.params
    mmf = topo.mask["mmf"]
    demand = float(s.repo_amount[topo.mmf_private_idx].sum() + s.pool_lent.sum())
    nav = ledger.tracked_equity(mmf)
    supply = mmf_capacity(
        nav,
        capacity_frac=p.mmf_repo_capacity_frac,
        vol_ratio=s.vol / topo.cs.market.volatility_index,
        sensitivity=p.mmf_appetite_vol_sensitivity,
    )
    # banks lend part of the reserves they hold beyond their starting level (QE's new
    # reserves reach the repo market this way; the sovereign fund's purchases create none)
    dealer = topo.mask["dealer"]
    excess = np.maximum(s.cash - s.ref.cash0, 0.0)[dealer & ~s.defaulted].sum()
    supply = supply * (1.0 - s.pullback) + p.dealer_reserve_lending_frac * excess
    return demand, supply


def pool_available(state, ctx, ledger, weights: np.ndarray) -> np.ndarray:
    """New MMF financing each dealer could get: spare MMF capacity pro rata to ``weights``."""
    from contagion.mechanisms.price_impact import allocate

    s = state
    if not ctx.channels.repo_market:
        return np.zeros(ctx.topo.n)
    demand, supply = demand_supply(s, ctx, ledger)
    mmf_cash = float(np.maximum(s.cash[ctx.topo.mask["mmf"]], 0.0).sum())
    return allocate(min(max(0.0, supply - demand), mmf_cash), weights)


def finance_dealers(state, ctx, ledger, day, desk, cost: np.ndarray, bought: np.ndarray):
    """Dealers pay for inventory with new MMF financing (at 1 - pool haircut), then
    standing facilities (against the bonds bought), then cash."""
    from contagion.mechanisms.price_impact import allocate

    s = state
    if not cost.any():
        return
    mmf_plan = day.pool_plan - day.facility_plan
    want = cost * (1.0 - ctx.params.pool_haircut_frac)
    borrow = np.minimum(mmf_plan, want)
    mmf_cash = np.where(ctx.topo.mask["mmf"], np.maximum(s.cash, 0.0), 0.0)
    total = float(borrow.sum())
    if total > mmf_cash.sum():  # never lend cash the MMFs do not have
        borrow *= mmf_cash.sum() / total
        total = float(borrow.sum())
    if total > 0:
        ledger.pool_finance(allocate(total, mmf_cash), borrow)
    rest = np.maximum(np.minimum(day.facility_plan, want - borrow), 0.0)
    if rest.any() and desk:
        desk.finance_inventory(s, ctx.topo, ledger, rest, bought)
    ledger.pay_cash(cost)


def rate_step(state, ctx, ledger, day) -> None:
    """The GC rate from funding utilisation; MMFs ration the excess when demand exceeds
    supply (recalled the next day)."""
    s, p, topo = state, ctx.params, ctx.topo
    demand, supply = demand_supply(s, ctx, ledger)
    if not (ctx.channels.repo_market and (supply > 0 or demand > 0)):
        return
    x = funding_utilisation(demand, supply)
    x0 = funding_utilisation(s.ref.repo_demand0, s.ref.repo_supply0)
    rate = repo_rate(
        x,
        x0,
        on_rrp_pct=topo.cs.market.on_rrp_rate_pct,
        spread0_pct=s.ref.spread0_pct,
        convexity=p.repo_rate_convexity,
        cap=p.funding_utilisation_cap_frac,
    )
    s.repo_rate_pct = min(rate, p.max_repo_rate_pct)
    if x > 1.0 and ctx.channels.funding_runs:
        mmf_on = topo.mmf_private & ~s.repo_unsecured
        excess = demand - supply
        tot = float(s.repo_amount[mmf_on].sum())
        if tot > 0:
            s.repo_rationed[:] = np.where(mmf_on, s.repo_amount * min(1.0, excess / tot), 0.0)
