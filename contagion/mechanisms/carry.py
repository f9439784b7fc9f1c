"""Carry: coupons on cash bonds, the futures' carry drift, the swaps' floating leg.

Each simulated day, with ``d`` the money-market day count (``ModelParams.day_count_days``)::

    coupon_i  = sum_b par_ib c_b / 100 / d                c_b: the bucket's coupon
    dF_c      = P_b,0 (c_b - r_0) / 100 / d / CF_c        futures' carry drift (points)
    swap_e    = N_e (s_b,0 - r_t) / 100 / d               to the fixed receiver (N > 0)

``c_b`` is the bucket's yield at the start (its bonds trade near par), ``r_0`` and ``r_t``
the GC repo rate at the start and today, ``s_b,0`` the starting swap rate, ``CF`` the
conversion factor. Coupons come from the Treasury (outside the system); the futures' drift
moves their price toward cash at the starting carry, so shorts pay it as variation margin
(the hedge leg's carry); the swaps' fixed-for-floating payments pass through the CCP like VM,
the floating leg at the GC rate (a SOFR proxy).

With repo funding at ``r_t + spread``, a basis trade (long bond, short futures) then earns
``r_0 - r_t - spread`` per unit a day and a swap-spread trade (long bond, pay fixed)
``c - s_0 - spread``: a repo spike turns the basis trade's carry negative, while the swap
spread trade keeps its carry (its floating leg rises with repo). The net basis a trade earns
at delivery is not modelled within the horizon.
"""

from __future__ import annotations

import numpy as np

from contagion.sums import rowdot

WRITES = ("cash", "pnl", "external_cash_in", "fut_carry_pts", "vm_due")


def futures_drift_pts(
    price: np.ndarray,
    coupon_pct: np.ndarray,
    repo_rate0_pct: float,
    conversion_factor: np.ndarray,
    day_count: float,
) -> np.ndarray:
    """Daily carry drift of each futures price, price points (> 0 when coupons pay more than
    repo costs); per contract, from its deliverable bucket's price and coupon."""
    return price * (coupon_pct - repo_rate0_pct) / 100.0 / day_count / conversion_factor


def swap_carry(
    notional: np.ndarray, fixed_pct: np.ndarray, floating_pct: float, day_count: float
) -> np.ndarray:
    """Daily fixed-minus-floating payment to each swap's fixed receiver, USD bn."""
    return notional * (fixed_pct - floating_pct) / 100.0 / day_count


def step(state, ctx, ledger, day) -> None:
    """Coupons paid, futures prices drift by their carry, swap coupons exchanged."""
    if not ctx.channels.carry:
        return
    s, topo, p = state, ctx.topo, ctx.params
    m = topo.cs.market
    days = p.day_count_days
    # coupons: each bucket's yield at the start (its bonds trade near par)
    ledger.receive_coupons(rowdot(s.par, m.yield_pct) / 100.0 / days)
    if topo.n_futures:
        s.fut_carry_pts += ctx.futures_drift_pts
    k = topo.n_futures_edges
    if len(s.notional) > k:
        swaps = slice(k, None)
        fixed = m.swap_rate_pct[topo.m_instrument[swaps]]
        flows = np.zeros(len(s.notional))
        flows[swaps] = swap_carry(s.notional[swaps], fixed, s.repo_rate_pct, days)
        ext = s.ext_notional[:, topo.n_futures :]
        ext_flows = rowdot(ext, (m.swap_rate_pct - s.repo_rate_pct) / 100.0 / days)
        if flows.any() or ext_flows.any():
            day.log.vm_paid += ledger.settle_vm(flows, ext_flows, channel="swap_carry")
