"""Price impact in the cash, futures and swap markets.

Cash market, bucket b (yields in bp; net sales ``q_b``, USD bn value, after policies' bids
and issuance)::

    dP_b = lambda_P s_b q_b                                   permanent (a stock effect)
    dT_b = k_b q_b / (1 + k_b beta),  k_b = lambda_T s_b g(u)  transient, decays
    g(u) = (1 - min(u, u_cap))^(-kappa),   s_b = (D_b / D_ref)^epsilon
    impact_b = P_b + T_b,   |impact_b| <= I_max                (both directions)

The **permanent** part is the stock effect of supply measured by the Fed purchase
literature: about 30 bp for USD 300 bn (D'Amico and King 2013; 0.07-0.17 bp per USD bn
across their estimates, fact base 6.8), ``lambda_P`` (``impact_permanent_bp_per_usd_bn``).
The **transient** part is the dislocation dealers and outside investors demand for
absorbing the flow now: Kyle-linear while dealers have room, convex as they fill up
(Duffie 2020; He, Nagel and Song 2022), and price-elastic outside demand: value investors
(pensions, insurers, foreign private, unlevered relative value) buy ``beta`` USD bn per bp
of further cheapening (``outside_demand_usd_bn_per_bp``), so an increment clears at
``k q / (1 + k beta)``, at most ``q / beta`` however full the dealers; their demand is
bounded with the dislocation, at ``beta I_max``. The transient part decays each day by
``delta`` (``impact_decay_frac``; half-life ``ln 2 / -ln(1 - delta)`` days, fitted to how
yields came back after the Fed's purchases in March 2020) as slow-moving capital arrives
(Duffie 2010). Buying (QE) moves yields down by the same rules, so a purchase has a
permanent stock effect and a transient flow effect; ``I_max`` (``max_impact_bp``) bounds
the total impact either way and every day it binds is counted.

``lambda`` values are for a bond of the reference duration ``D_ref`` (years, about a 10y
note's); ``epsilon`` scales them by bucket: with epsilon = 1 the yield impact per dollar
grows in proportion to duration, as bid-ask spreads in yield terms did across tenors in
March 2020 (5y : 10y : 30y about 0.27 : 0.36 : 0.78 bp; Fleming & Ruela, fact base 4.10).

``u`` is dealer utilisation after the round's trades: after absorbing the sales, or, where
policies buy more than is sold, after the dealers have sold their excess inventory into the
bids (:func:`contagion.mechanisms.dealers.sell_into_bids`), so a purchase that relieves
full dealers moves yields at the liquidity of the market it leaves behind. Room is the
tightest of the leverage-ratio, value-at-risk and internal limits
(:mod:`contagion.mechanisms.dealers`). Dealers buy what they
can fund (own cash plus new financing from MMFs and facilities) within their room; the rest
goes to outside investors at the impacted price.

Futures, contract c on bucket b(c) (yield-equivalent bp; net buying ``Q_c`` in USD bn
notional: funds covering shorts, CCPs closing out defaulted members' positions, policies)::

    F_c      += -lambda_F Q_c                      own order flow (transient, decays)
    impact^F_c = theta impact_b(c) + F_c           bounded by I_max

so short covering richens futures and long liquidation cheapens them, and the futures follow
a share ``theta`` (``futures_pass_through_frac``) of the cash impact of their deliverable
bucket: arbitrageurs and the delivery link keep futures close to cash, so the basis widens
by ``(1 - theta) impact_b - F_c``. Basis sign convention (``Result.markets``): the basis is
cash minus conversion factor times futures, in price points and in yield bp; its widening
is positive when cash cheapens against futures.

Swaps, bucket b (bp; net receive-fixed flow ``R_b``, USD bn notional: funds closing
pay-fixed swaps receive fixed, CCP close-outs)::

    S_b += -lambda_S s_b R_b                       transient, decays, bounded by I_max
    swap rate_b = s_b,0 + fundamental path_b + swap-spread shock_b + S_b

Swap dealers take the other side of the flow; swap spreads (swap rate minus yield) result:
a swap-spread unwind (selling bonds, receiving fixed) widens them (more negative) from both
legs, a basis unwind moves them only through the cash leg.
"""

from __future__ import annotations

import numpy as np

from contagion.mechanisms import dealers
from contagion.sums import dot


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


def permanent_impact_bp(net_sales_value: np.ndarray, *, lam: float | np.ndarray) -> np.ndarray:
    """Permanent (stock-effect) yield impact per bucket, bp: ``lambda_P s_b q_b``."""
    return lam * net_sales_value


def futures_impact_bp(net_buying: np.ndarray, *, lam: float) -> np.ndarray:
    """Implied-yield impact per contract, bp (buying lowers the implied yield)."""
    return -lam * net_buying


def swap_impact_bp(receive_fixed: np.ndarray, *, lam: float | np.ndarray) -> np.ndarray:
    """Swap-rate impact per bucket, bp (receiving fixed lowers the swap rate)."""
    return -lam * receive_fixed


def bounded(impact: np.ndarray, bound: float) -> tuple[np.ndarray, bool]:
    """(impact clipped to [-bound, bound], whether the bound bit)."""
    hit = bool((np.abs(impact) > bound).any())
    return (np.clip(impact, -bound, bound) if hit else impact), hit


def allocate(total: float, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` pro rata to non-negative ``weights`` (capped at the weights)."""
    s = weights.sum()
    if s <= 0 or total <= 0:
        return np.zeros_like(weights)
    return weights * min(1.0, total / s)


# --- step ------------------------------------------------------------------------------------
CLEAR_WRITES = (
    "par",  # dealers' sales into policies' net bids
    "cash",
    "external_par_out",
    "external_cash_in",
    "pool_borrowed",
    "pool_lent",
    "impact_bp",
    "impact_perm_bp",
    "fut_impact_bp",
    "fut_flow_bp",
    "swap_impact_bp",
    "closeout_fut_flow",
    "closeout_swap_flow",
    "impact_bound_hit",
    "utilisation",
    "peak_utilisation",
)


def _auction_awards(ctx, day, price0, room, buy_cap) -> np.ndarray:
    """Value each dealer is awarded of the Treasury's issuance settling this round (USD bn):
    its share ``a`` of the issue pro rata to balance-sheet room (equally without any), within
    what it can fund; the par per bucket goes to ``day.awards``. Awards come before the
    day's market purchases (they were committed at auction)."""
    n = len(room)
    if day.issuance is None:
        return np.zeros(n)
    live = ctx.topo.mask["dealer"]
    value_b = day.issuance * price0
    total = float(value_b.sum())
    w = np.where(live, np.maximum(room, 0.0), 0.0)
    w = w / w.sum() if w.sum() > 0 else live / max(live.sum(), 1)
    awarded = np.minimum(ctx.params.dealer_auction_share_frac * total * w, buy_cap)
    awarded = np.maximum(awarded, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_value = np.where(price0 > 0, value_b / total / price0, 0.0) if total > 0 else value_b
    day.awards = awarded[:, None] * per_value[None, :]
    return awarded


def clear_step(state, ctx, ledger, day, desk, sell: np.ndarray, close: np.ndarray):
    """Clear the cash and futures markets for this round's sales and closes.

    Policies' bids and policies' new issuance net against sales (the Treasury's scheduled
    issuance settles without moving prices, :mod:`contagion.mechanisms.settlement`); dealers
    absorb what they can fund
    (own cash plus new MMF and facility financing) within their room; impact moves the cash
    yields and, through order flow and pass-through, the futures. Returns the value each
    dealer absorbs (USD bn) and sets the round's financing plan on ``day``. Prices are set
    by the caller (:func:`contagion.mechanisms.prices.set_prices`).
    """
    from contagion.mechanisms import repo_market as rm  # (it imports this module)

    s, topo, p = state, ctx.topo, ctx.params
    nb = topo.n_buckets
    price0 = s.price / 100.0
    day.sold = sold = sell.sum(axis=0)
    if desk:
        bids, supply = desk.bids(nb, sold)
    else:
        bids, supply = np.zeros(nb), np.zeros(nb)
    day.policy_bids, day.policy_supply = bids, supply
    q_par = sold + supply - bids
    q_value = q_par * price0
    # net buying relieves the dealers first: they sell their excess inventory into the bids
    dealers.sell_into_bids(s, ctx, ledger, day, -q_par)
    # dealers' room (the VaR limit counted in bonds of the duration being sold) and funding
    live_dealer = topo.mask["dealer"] & ~s.defaulted
    dur = topo.cs.market.modified_duration_years
    pos = np.maximum(q_value, 0.0)
    d_mix = float(dot(pos, dur) / pos.sum()) if pos.sum() > 0 else None
    room = np.where(live_dealer, dealers.room(s, ctx, ledger, desk, d_mix), 0.0)
    pool_d = rm.pool_available(s, ctx, ledger, room)
    facility_d = desk.inventory_capacity(s, topo, room) if desk else np.zeros(topo.n)
    day.facility_plan = facility_d
    pool_d = pool_d + facility_d
    cash = np.maximum(s.cash, 0.0)
    # buying V needs max(h V, V - pool) of own cash (h: the financing haircut, the larger of
    # the MMF pool's and any facility's that may finance the dealer)
    h = np.full(topo.n, p.pool_haircut_frac)
    if desk and facility_d.any():
        h = np.where(facility_d > 0, np.maximum(h, desk.inventory_haircut(topo)), h)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        cash_limit = np.where(pool_d > 0, np.where(h > 0, cash / h, np.inf), cash)
    buy_cap = np.minimum(room, np.minimum(cash + pool_d, cash_limit))
    day.pool_plan = pool_d
    awarded = _auction_awards(ctx, day, price0, room, buy_cap)
    buy_cap = buy_cap - awarded
    total_q = float(np.maximum(q_value, 0.0).sum())
    absorbed_value = allocate(total_q, buy_cap)
    room_after = float((room - absorbed_value - awarded).sum())
    u = dealers.utilisation(room_after, s.ref.room_ref)
    s.utilisation = u
    s.peak_utilisation = max(s.peak_utilisation, u)
    scale = ctx.impact_duration_scale
    bound = p.max_impact_bp
    if ctx.channels.price_impact:
        g = impact_factor(u, convexity=p.impact_convexity, cap=p.utilisation_cap_frac)
        d_perm = permanent_impact_bp(q_value, lam=p.impact_permanent_bp_per_usd_bn * scale)
        d_trans = cash_impact_bp(
            q_value,
            lam=p.impact_bp_per_usd_bn * scale,
            g=g,
            outside_demand=p.outside_demand_usd_bn_per_bp,
        )
        s.impact_perm_bp[:], hit_p = bounded(s.impact_perm_bp + d_perm, bound)
        s.impact_bp[:], hit = bounded(s.impact_bp + d_perm + d_trans, bound)
        s.impact_bound_hit |= hit or hit_p
    # order flow in the derivatives markets: closing a short is buying, closing a pay-fixed
    # swap is receiving fixed; CCPs' close-outs of defaulted members trade the same way
    flow = -s.notional * close
    fut, swap = slice(0, topo.n_futures_edges), slice(topo.n_futures_edges, None)
    if ctx.channels.futures_impact and topo.n_futures:
        fut_flow = np.bincount(
            topo.m_instrument[fut], flow[fut], minlength=topo.n_futures
        ) + s.closeout_fut_flow  # fmt: skip
        if desk:
            fut_flow = desk.futures_orders(fut_flow)
        s.fut_flow_bp += futures_impact_bp(fut_flow, lam=p.futures_impact_bp_per_usd_bn)
    if ctx.channels.swap_impact:
        s.swap_impact_bp += swap_impact_bp(
            np.bincount(topo.m_instrument[swap], flow[swap], minlength=topo.n_buckets)
            + s.closeout_swap_flow,
            lam=p.swap_impact_bp_per_usd_bn * scale,
        )  # fmt: skip
        s.swap_impact_bp[:], hit_s = bounded(s.swap_impact_bp, bound)
        s.impact_bound_hit |= hit_s
    s.closeout_fut_flow[:] = 0.0
    s.closeout_swap_flow[:] = 0.0
    futures_level(s, topo, p)
    return absorbed_value


def futures_level(state, topo, params) -> None:
    """impact^F_c = theta impact_b(c) + F_c, bounded (in place; counted when it binds)."""
    s = state
    if not topo.n_futures:
        return
    fb = topo.cs.market.futures_bucket
    level = params.futures_pass_through_frac * s.impact_bp[fb] + s.fut_flow_bp
    s.fut_impact_bp[:], hit = bounded(level, params.max_impact_bp)
    s.impact_bound_hit |= hit
