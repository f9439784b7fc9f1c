"""Price impact in the cash and futures markets, and dealer balance-sheet capacity.

Cash market, bucket b (yields in bp; sales net of policy and other bids, USD bn value)::

    dy_b = lambda * (D_b / D_ref)^epsilon * q_b * g(u),   g(u) = (1 - min(u, u_cap))^(-kappa)

Outside value investors (pensions, insurers, foreign private, unlevered relative value)
buy ``beta`` USD bn per bp of cheapening (``outside_demand_usd_bn_per_bp``), so an increment
clears at ``dy_b = k q_b / (1 + k beta)`` with ``k = lambda (D_b / D_ref)^epsilon g(u)``:
linear (Kyle) while dealers have room, bounded by ``q_b / beta`` when they are full.

``lambda`` is the impact of a USD bn of a bond of the reference duration ``D_ref`` (years,
about a 10y note's); ``epsilon`` scales it by bucket: with epsilon = 1 the yield impact per
dollar grows in proportion to duration, as bid-ask spreads in yield terms did across
tenors in March 2020 (5y : 10y : 30y about 0.27 : 0.36 : 0.78 bp from 0.4/32, 1/32 and
5/32 of price at durations ~4.7, 8.7 and 20; Fleming & Ruela via the fact base, row
4.10); epsilon = 0 treats every bucket alike.

where ``u`` is dealer utilisation after absorbing the sales. Dealer d's room is its
leverage-ratio headroom (``E_d / slr_d`` x (1 + capacity shock) minus its assets), and
``u = 1 - sum_d room_d / sum_d room_d,0``. Dealers buy what they can fund (own cash plus new
financing from MMFs) within their room; the rest goes to outside investors at the impacted
price. With kappa = 0 the impact is linear (Kyle); as dealers fill up, each dollar sold
moves yields more (Duffie 2020, "Still the world's safe haven?"; He, Nagel & Song 2022).

Futures, contract c on bucket b(c) (yield-equivalent bp; net buying in USD bn notional)::

    dy^F_c = -lambda_F * Q_c + theta * dy_b(c)

so short covering (buying) richens futures and long liquidation cheapens them, and the
futures follow a share ``theta`` (``futures_pass_through_frac``) of the cash-market impact
of their deliverable bucket: unconstrained arbitrageurs and the delivery link keep futures
close to cash, so the basis widens by ``(1 - theta) dy_b - dy^F`` flow terms rather than by
the whole cash move (theta = 0: futures move only with their own order flow). Swap rates
take only the fundamental shock, so the cash impact moves swap spreads one for one. The
cash-futures basis and the swap spreads are therefore endogenous.
"""

from __future__ import annotations

import numpy as np


def impact_factor(utilisation: float, *, convexity: float, cap: float) -> float:
    """g(u) = (1 - min(u, cap))^-kappa (dimensionless, >= 1)."""
    return float((1.0 - min(max(utilisation, 0.0), cap)) ** (-convexity))


def duration_scale(
    duration_years: np.ndarray, *, elasticity: float, reference_years: float
) -> np.ndarray:
    """(D_b / D_ref)^epsilon per bucket (dimensionless; 1 everywhere when epsilon = 0)."""
    if elasticity == 0:
        return np.ones_like(duration_years, dtype=float)
    return (np.maximum(duration_years, 0.0) / reference_years) ** elasticity


def cash_impact_bp(
    net_sales_value: np.ndarray,
    *,
    lam: float | np.ndarray,
    g: float,
    outside_demand: float = 0.0,
) -> np.ndarray:
    """Yield impact per bucket, bp (positive = yields up = prices down).

    ``k q / (1 + k beta)`` with ``k = lam g``: value investors outside the dealers buy
    ``beta`` USD bn per bp of cheapening, so however full the dealers, a USD bn moves
    yields by at most ``1 / beta`` bp (``beta = 0``: ``k q``).
    """
    k = lam * g
    if outside_demand:
        k = k / (1.0 + k * outside_demand)
    return k * net_sales_value


def futures_impact_bp(net_buying: np.ndarray, *, lam: float) -> np.ndarray:
    """Implied-yield impact per contract, bp (buying lowers the implied yield)."""
    return -lam * net_buying


def allocate(total: float, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` pro rata to non-negative ``weights`` (capped at the weights)."""
    s = weights.sum()
    if s <= 0 or total <= 0:
        return np.zeros_like(weights)
    return weights * min(1.0, total / s)


# --- step ------------------------------------------------------------------------------------
CLEAR_WRITES = ("impact_bp", "fut_impact_bp", "utilisation", "peak_utilisation")


def clear_step(state, ctx, ledger, day, desk, sell: np.ndarray, close: np.ndarray):
    """Clear the cash and futures markets for this round's sales and closes.

    Policies' bids and new issuance net against sales; dealers absorb what they can fund
    (own cash plus new MMF and facility financing) within their room; impact moves the cash
    yields and, through order flow and pass-through, the futures. Returns the value each
    dealer absorbs (USD bn) and sets the round's financing plan on ``day``. Prices are set
    by the caller (:func:`contagion.mechanisms.prices.set_prices`).
    """
    from contagion.mechanisms import dealers
    from contagion.mechanisms import repo_market as rm

    s, topo, p = state, ctx.topo, ctx.params
    nb = topo.n_buckets
    price0 = s.price / 100.0
    sold = sell.sum(axis=0)
    if desk:
        bids, supply = desk.bids(nb, sold)
    else:
        bids, supply = np.zeros(nb), np.zeros(nb)
    day.policy_bids, day.policy_supply = bids, supply
    q_par = sold + supply - bids
    q_value = q_par * price0
    # dealers' room and funding
    live_dealer = topo.mask["dealer"] & ~s.defaulted
    room = np.where(live_dealer, dealers.room(s, ctx, ledger, desk), 0.0)
    pool_d = rm.pool_available(s, ctx, ledger, room)
    facility_d = desk.inventory_capacity(s, topo, room) if desk else np.zeros(topo.n)
    day.facility_plan = facility_d
    pool_d = pool_d + facility_d
    cash = np.maximum(s.cash, 0.0)
    # buying V needs max(h V, V - pool) of own cash (h: the financing haircut)
    h = p.pool_haircut_frac
    with np.errstate(divide="ignore", over="ignore"):
        cash_limit = np.where(pool_d > 0, cash / h if h > 0 else np.inf, cash)
    buy_cap = np.minimum(room, np.minimum(cash + pool_d, cash_limit))
    day.pool_plan = pool_d
    total_q = float(np.maximum(q_value, 0.0).sum())
    absorbed_value = allocate(total_q, buy_cap)
    room_after = float((room - absorbed_value).sum())
    u = dealers.utilisation(room_after, s.ref.room_ref)
    s.utilisation = u
    s.peak_utilisation = max(s.peak_utilisation, u)
    if ctx.channels.price_impact:
        g = impact_factor(u, convexity=p.impact_convexity, cap=p.utilisation_cap_frac)
        dy = cash_impact_bp(
            q_value,
            lam=p.impact_bp_per_usd_bn * ctx.impact_duration_scale,
            g=g,
            outside_demand=p.outside_demand_usd_bn_per_bp,
        )
        s.impact_bp += dy
        if p.futures_pass_through_frac and topo.n_futures:
            s.fut_impact_bp += p.futures_pass_through_frac * dy[topo.cs.market.futures_bucket]
    # futures order flow: closing a short is buying
    if ctx.channels.futures_impact and topo.n_futures:
        flow = -s.notional * close
        fut_flow = np.bincount(
            np.where(topo.is_swap, 0, topo.m_instrument),
            np.where(topo.is_swap, 0.0, flow),
            minlength=topo.n_futures,
        )
        if desk:
            fut_flow = desk.futures_orders(fut_flow)
        s.fut_impact_bp += futures_impact_bp(fut_flow, lam=p.futures_impact_bp_per_usd_bn)
    return absorbed_value
