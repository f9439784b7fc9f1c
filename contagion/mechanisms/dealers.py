"""Dealers' intermediation capacity: the tightest of three limits, and how full it is.

Dealer ``d``'s room to absorb sales (USD bn of bonds; the value-at-risk limit counts them in
10y-duration equivalents) is the smallest of:

* **leverage ratio** (SLR): the exposure its equity ``E_d`` supports at the minimum ratio
  ``slr_d`` minus its leverage exposure (assets ``A_d`` less what policies exclude: SLR
  relief loosens this limit only), plus the day's capacity shock ``k`` (the scenario's
  ``dealer_capacity_shock_frac``) times the room it started with, ``R_SLR_d,0``::

      room_SLR_d = max(E_d / slr_d - (A_d - excluded_d) + k R_SLR_d,0, 0)

* **value at risk** of its rate position: with ``DV01_d`` its net sensitivity (cash bonds,
  futures and swaps, USD bn per bp; long duration positive), the daily yield volatility
  ``sigma_t = V_t / sqrt(252)`` bp (the MOVE index is an annualised normal volatility in
  bp) and the 99% one-day quantile ``z = 2.326`` (the Basel market-risk standard), the desk
  may run at most ``DV01 <= L_d / (z sigma_t)``, so::

      room_VaR_d = max(M_d (sigma_0 / sigma_t) - DV01_d + k R_VaR_d,0 D_ref 1e-4, 0) / (D_ref 1e-4)
      M_d        = max(DV01_d,0, 0) + r room_SLR_d,0 D_ref 1e-4

  ``M_d`` (the DV01 the limit allows at the starting volatility) gives each desk a VaR
  room of ``r`` times its starting leverage-ratio room (``ModelParams.var_room_ratio``), in
  USD bn of a bond of the reference duration ``D_ref`` (about a 10y note's): the room
  shrinks as volatility rises (Cochran et al. 2024: VaR limits have bound more often than
  the SLR since 2022, and desks near them sold more Treasuries in 2020; fact base 6.17);

* an **internal limit** on inventory: Treasuries worth at most ``(1 + h) I_d,0`` (its
  starting inventory ``I_d,0``; ``h room_SLR_d,0`` when it starts with none;
  ``ModelParams.dealer_internal_headroom_frac``; fact base 4.34)::

      room_int_d = max(K_d - I_d + k R_int_d,0, 0)

The capacity shock ``k`` is a share of the **room** each limit left at the start (``k =
-0.1``: a tenth of the room gone, as the scenario field says), not of the limit itself: the
limit of a dealer with USD 10 tn of leverage exposure and USD 0.5 tn of room is twenty times
its room, so scaling the limit by ``1 + k`` took ``-k`` times the whole balance sheet and
emptied the room at ``k = -0.05``.

``room_d = min(room_SLR_d, room_VaR_d D_ref / D_mix, room_int_d)`` with ``D_mix`` the
duration of what is being absorbed (the reference duration at the close). Utilisation,
market-wide and per limit ``c``::

    u   = 1 - sum_d room_d / sum_d room_d,0        u_c = 1 - sum_d room_c,d / sum_d room_c,d,0

**Distribution.** Dealers do not hold what they absorb for good: the slow-moving capital
whose arrival makes the transient impact decay (Duffie 2010; the auction cycle of Lou, Yan
and Zhang 2013, where prices fall before an auction and recover within days as dealers
place the new supply) buys from them each day the same share ``delta``
(``impact_decay_frac``) of the inventory they took on beyond their starting book, at the
day's prices, and the proceeds repay their inventory financing::

    sold_d,b = delta max(par_d,b - par_d,b,0, 0)        (live dealers; par)
    repay_d  = min(pool_d, sum_b sold_d,b P_b / 100)

so the room the stress used comes back at the rate the dislocation fades. Where policies
buy more of a bucket than is sold in a round, dealers sell the excess first (pro rata to it,
at most all of it) into the bids (``sell_into_bids``): in March 2020 dealers sold to the
Fed, most where they were nearest their limits (Cochran et al. 2024, fact base 6.17)::

    sold_d,b = min(1, N_b / sum_d' x_d',b) x_d,b,   x_d,b = max(par_d,b - par_d,b,0, 0)

with ``N_b`` the policies' net buying (par); the proceeds repay pool financing as above.

Clearing the cash market (:mod:`contagion.mechanisms.price_impact`) uses the room to decide
what dealers absorb and ``u`` to scale price impact; the repo market uses the room to split
dealers' financing and to limit what a standing facility can pass on. ``Result.markets``
reports ``u_c`` for each limit and how many dealers each one binds.
"""

from __future__ import annotations

import math

import numpy as np

from contagion.sums import rowdot

#: The three limits, in the order of the per-limit arrays.
CONSTRAINTS = ("slr", "var", "internal")
VAR_Z = 2.326  # 99% one-sided standard normal quantile (Basel one-day 99% VaR)
TRADING_DAYS = 252.0  # annualisation of the MOVE index
UTILISATION_WRITES = (
    "utilisation",
    "peak_utilisation",
    "utilisation_by_limit",
    "binding_by_limit",
)


# --- kernels ----------------------------------------------------------------------------------
def dealer_room(
    equity: np.ndarray,
    assets: np.ndarray,
    slr_frac: np.ndarray,
    capacity_shock: float = 0.0,
    room0: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Leverage-ratio headroom per dealer, USD bn (0 where slr is 0 or equity <= 0):
    ``max(E / slr - A + k R0, 0)`` with ``R0`` the headroom at the start.

    Examples
    --------
    >>> float(dealer_room(np.array([10.0]), np.array([150.0]), np.array([0.05]))[0])
    50.0
    >>> # a tenth of the starting room of 50 gone: 45, not (200 x 0.9 - 150) = 30
    >>> float(dealer_room(np.array([10.0]), np.array([150.0]), np.array([0.05]), -0.1,
    ...                   np.array([50.0]))[0])
    45.0
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        cap = np.where(slr_frac > 0, np.maximum(equity, 0.0) / slr_frac, 0.0)
    if capacity_shock:
        return np.maximum(cap - assets + capacity_shock * room0, 0.0)
    return np.maximum(cap - assets, 0.0)


def daily_vol_bp(volatility_index: float) -> float:
    """Daily yield volatility, bp, from a MOVE-like index (annualised normal vol in bp)."""
    return volatility_index / math.sqrt(TRADING_DAYS)


def var_room(
    dv01: np.ndarray,
    dv01_limit0: np.ndarray,
    *,
    vol_ratio: float,
    reference_duration_years: float,
    capacity_shock: float = 0.0,
    room0: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Room under the VaR limit per dealer, USD bn of bonds of the reference duration:
    ``max(M (sigma_0 / sigma) - DV01 + k R0 D_ref 1e-4, 0) / (D_ref 1e-4)`` with ``R0`` the
    room at the start (same unit).

    Examples
    --------
    >>> # limit DV01 0.1 USD bn/bp at the start, DV01 0.05 now, volatility doubled:
    >>> # room 0.1 / 2 - 0.05 = 0: a desk at its limit
    >>> float(var_room(np.array([0.05]), np.array([0.1]), vol_ratio=2.0,
    ...                reference_duration_years=8.0)[0])
    0.0
    """
    scale = reference_duration_years * 1e-4
    allowed = dv01_limit0 / max(vol_ratio, 1e-12)
    if capacity_shock:
        allowed = allowed + capacity_shock * room0 * scale
    return np.maximum(allowed - dv01, 0.0) / scale


def internal_room(
    inventory: np.ndarray,
    limit0: np.ndarray,
    capacity_shock: float = 0.0,
    room0: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Room under the internal inventory limit per dealer, USD bn: ``max(K - I + k R0, 0)``
    with ``R0`` the room at the start."""
    if capacity_shock:
        return np.maximum(limit0 - inventory + capacity_shock * room0, 0.0)
    return np.maximum(limit0 - inventory, 0.0)


def utilisation(room: float, room_ref: float) -> float:
    """Market-wide dealer utilisation u in [0, 1]."""
    if room_ref <= 0:
        return 1.0
    return min(max(float(1.0 - room / room_ref), 0.0), 1.0)  # (NaN stays NaN, as np.clip)


# --- state-level helpers ----------------------------------------------------------------------
def net_dv01(state, topo) -> np.ndarray:
    """Each institution's net rate sensitivity, USD bn per bp (long duration positive): cash
    bonds at their price, futures at theirs on the deliverable bucket's duration, swaps
    (receive fixed positive) on their bucket's duration."""
    dur = topo.cs.market.modified_duration_years
    cash = rowdot(state.par * (state.price / 100.0), dur) * 1e-4
    if not len(state.notional):
        return cash
    nf = topo.n_futures_edges  # margined edges: the futures, then the swaps
    per_unit = np.empty(len(state.notional))
    per_unit[nf:] = topo.m_duration[nf:]
    if nf:
        per_unit[:nf] = (state.fut_price[topo.m_instrument[:nf]] / 100.0) * topo.m_duration[:nf]
    return cash + topo.by_source(state.notional * per_unit) * 1e-4


def dealers_dv01(state, topo) -> np.ndarray:
    """:func:`net_dv01` of the dealers (``topo.dealers``): the same values, each summed over
    the same terms in the same order, without the other institutions' books."""
    rows = topo.dealers
    dur = topo.cs.market.modified_duration_years
    cash = rowdot(state.par[rows] * (state.price / 100.0), dur) * 1e-4
    edges, source = topo.dealer_margined
    if not len(edges):
        return cash
    per_unit = topo.m_duration[edges]
    fut = edges < topo.n_futures_edges
    instrument = topo.m_instrument[edges[fut]]
    per_unit[fut] = (state.fut_price[instrument] / 100.0) * per_unit[fut]
    dv01 = np.bincount(source, state.notional[edges] * per_unit, minlength=len(rows))
    return cash + dv01 * 1e-4


def inventory_value(state) -> np.ndarray:
    """Each institution's Treasuries at their price, USD bn."""
    return rowdot(state.par, state.price / 100.0)


def limits_at_start(state, ctx, slr_room0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the DV01 each desk's VaR limit allows at the starting volatility, its internal
    inventory limit), per institution (dealers only; zero elsewhere)."""
    p, topo = ctx.params, ctx.topo
    dealer = topo.mask["dealer"]
    d_ref = p.impact_reference_duration_years
    dv01 = net_dv01(state, topo)
    m = np.maximum(dv01, 0.0) + p.var_room_ratio * slr_room0 * d_ref * 1e-4
    inv = inventory_value(state)
    h = p.dealer_internal_headroom_frac
    k = np.where(inv > 0, (1.0 + h) * inv, h * slr_room0)
    return np.where(dealer, m, 0.0), np.where(dealer, k, 0.0)


def rooms(state, ctx, ledger, desk, duration_years: float | None = None) -> np.ndarray:
    """Room per limit (3 x n: leverage ratio, VaR, internal), USD bn of bonds of duration
    ``duration_years`` (default: the reference duration)."""
    s, topo, p = state, ctx.topo, ctx.params
    a, liab = ledger.balance()
    excluded = desk.leverage_exclusion(topo.n, a) if desk else np.zeros(topo.n)
    k, room0 = s.capacity_shock, s.ref.room0_by_limit
    slr = dealer_room(
        a - liab, a - excluded, topo.behaviour("leverage_ratio_min_frac"), k, room0[0]
    )
    # the VaR and internal limits are dealers' desks' limits; elsewhere only the first counts
    d = topo.dealers
    var = np.full(topo.n, np.inf)
    d_ref = p.impact_reference_duration_years
    var[d] = var_room(
        dealers_dv01(s, topo),
        s.ref.dv01_limit0[d],
        vol_ratio=s.vol / topo.cs.market.volatility_index,
        reference_duration_years=d_ref,
        capacity_shock=k,
        room0=room0[1, d],
    )
    if duration_years is not None and duration_years > 0:
        var[d] = var[d] * (d_ref / duration_years)
    internal = np.full(topo.n, np.inf)
    inventory = rowdot(s.par[d], s.price / 100.0)  # (inventory_value of the dealers)
    internal[d] = internal_room(inventory, s.ref.inventory_limit0[d], k, room0[2, d])
    return np.array((slr, var, internal))


def room(state, ctx, ledger, desk, duration_years: float | None = None) -> np.ndarray:
    """Each institution's room today, the tightest of its limits (USD bn; meaningful for
    dealers)."""
    return rooms(state, ctx, ledger, desk, duration_years).min(axis=0)


def distributed_par(par: np.ndarray, par0: np.ndarray, delta: float) -> np.ndarray:
    """Par each holder passes to outside investors today: ``delta max(par - par0, 0)``.

    Examples
    --------
    >>> distributed_par(np.array([[30.0, 5.0]]), np.array([[10.0, 8.0]]), 0.25).tolist()
    [[5.0, 0.0]]
    """
    return delta * np.maximum(par - par0, 0.0)


# --- steps -----------------------------------------------------------------------------------
DISTRIBUTION_WRITES = ("par", "cash", "external_par_out", "external_cash_in", "pool_borrowed",
                       "pool_lent")  # fmt: skip


def into_bids_par(excess: np.ndarray, net_buying: np.ndarray) -> np.ndarray:
    """Par each dealer sells into policies' net bids: the bucket's net buying split pro rata
    to the dealers' excess inventory, at most all of it.

    Examples
    --------
    >>> into_bids_par(np.array([[30.0, 0.0], [10.0, 4.0]]), np.array([20.0, 10.0])).tolist()
    [[15.0, 0.0], [5.0, 4.0]]
    """
    total = excess.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total > 0, np.minimum(net_buying, total) / total, 0.0)
    return excess * share[None, :]


def sell_into_bids(state, ctx, ledger, day, net_buying: np.ndarray) -> None:
    """Live dealers sell the inventory they absorbed beyond their starting book into the
    policies' net bids (par per bucket ``net_buying``), at the round's price, before the
    round clears: the buyer relieves the dealers first (in March 2020 dealers sold to the
    Fed, most where they were nearest their limits; Cochran et al. 2024, fact base 6.17),
    so the purchase's impact is priced at the dealers' utilisation after their sale."""
    s, topo = state, ctx.topo
    if not (net_buying > 0).any():
        return
    live = topo.mask["dealer"] & ~s.defaulted
    excess = np.where(live[:, None], np.maximum(s.par - s.ref.par0, 0.0), 0.0)
    sold = into_bids_par(excess, np.maximum(net_buying, 0.0))
    if sold.any():
        _sell_to_outside(state, ledger, day, sold)


def distribution_step(state, ctx, ledger, day) -> None:
    """Slow-moving capital buys the share ``delta`` of the inventory live dealers absorbed
    beyond their starting book at today's prices; the proceeds repay their pool financing."""
    s, topo, p = state, ctx.topo, ctx.params
    delta = p.impact_decay_frac
    if delta <= 0 or not ctx.channels.price_impact:
        return
    live = topo.mask["dealer"] & ~s.defaulted
    sold = np.where(live[:, None], distributed_par(s.par, s.ref.par0, delta), 0.0)
    if sold.any():
        _sell_to_outside(state, ledger, day, sold)


def _sell_to_outside(state, ledger, day, sold: np.ndarray) -> None:
    """Dealers sell ``sold`` (n x buckets par) outside the system at the current prices; the
    proceeds repay their pool financing."""
    s = state
    price_frac = s.price / 100.0
    proceeds = rowdot(sold, price_frac)
    by_bucket = sold.sum(axis=0)
    ledger.sell_bonds(sold, price_frac)
    ledger.outside_buys(by_bucket, price_frac)
    day.log.sales_by_bucket += sold  # in Result.flows: dealers' sales bought outside
    day.log.bought_outside += by_bucket
    day.log.distributed_sales += proceeds
    ledger.repay_pool(np.minimum(np.maximum(s.pool_borrowed, 0.0), proceeds))


def day_start_step(state) -> None:
    """A new day: its peak utilisation starts from zero."""
    state.peak_utilisation = 0.0


def utilisation_step(state, ctx, ledger, day, desk) -> None:
    """Utilisation at the close from the live dealers' room, overall and per limit, and how
    many dealers each limit binds."""
    s = state
    live = ctx.topo.mask["dealer"] & ~s.defaulted
    by = rooms(s, ctx, ledger, desk)[:, live]
    tight = by.min(axis=0)
    s.utilisation = utilisation(float(tight.sum()), s.ref.room_ref)
    s.peak_utilisation = max(s.peak_utilisation, s.utilisation)
    for c in range(len(CONSTRAINTS)):
        s.utilisation_by_limit[c] = utilisation(float(by[c].sum()), s.ref.room_ref_by_limit[c])
    binding = by.argmin(axis=0) if by.shape[1] else np.zeros(0, dtype=np.int64)
    s.binding_by_limit[:] = np.bincount(binding, minlength=len(CONSTRAINTS))
