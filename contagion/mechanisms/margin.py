"""Variation and initial margin on futures and swaps, through the CCP (or counterparty).

Variation margin on margined edge e (gain to the ``source``, paid by the ``target``)::

    futures: VM_e = N_e * (F_c,t - F_c,marked) / 100
    swaps:   VM_e = -N_e * D_b * (s_b,t - s_b,marked) / 10_000     (s in bp; N > 0 receives fixed)

The target pays exactly what the source gains, so VM is zero-sum on every edge; a CCP whose
book is flat (members plus the external side net to zero per instrument) has zero net VM.

Initial margin requirement (a documented functional form, CME SPAN-like in spirit)::

    IM_e = |N_e| * im0_e * m_t,    m_t = max(1, (vol_t / vol_0)^beta / (1 + b)) * (1 + a_t)

where ``im0_e`` is the edge's initial IM rate (posted / |notional| at t0), ``beta`` the
volatility elasticity, ``b`` an anti-procyclicality buffer (the first ``b`` of the increase
is pre-funded) and ``a_t`` a discretionary hike from the scenario. An optional cap on the
daily increase of ``m`` is the anti-procyclical-margin policy.
"""

from __future__ import annotations

import numpy as np

from contagion.mechanisms import haircuts
from contagion.mechanisms.prices import set_prices
from contagion.sums import rowdot


def im_multiplier(
    vol_ratio: float, *, elasticity: float, apc_buffer_frac: float, addon_frac: float
) -> float:
    """IM multiplier m_t (dimensionless, >= 1 without an add-on)."""
    return max(1.0, vol_ratio**elasticity / (1.0 + apc_buffer_frac)) * (1.0 + addon_frac)


def variation_margin(
    notional: np.ndarray,
    is_swap: np.ndarray,
    instrument: np.ndarray,
    d_fut_price: np.ndarray,
    d_swap_bp: np.ndarray,
    duration: np.ndarray,
    *,
    n_futures: int | None = None,
) -> np.ndarray:
    """VM gain to the source of each margined edge, USD bn (negative: the source pays).

    ``n_futures``: when the edges are the futures followed by the swaps (as in
    :class:`contagion.state.State`), their number; each kind is then computed on its own
    slice, and skipped when its price change is zero everywhere.
    """
    if n_futures is not None:
        out = np.zeros(len(notional))
        f, w = slice(0, n_futures), slice(n_futures, None)
        if len(d_fut_price) and d_fut_price.any():
            out[f] = notional[f] * d_fut_price[instrument[f]] / 100.0
        if d_swap_bp.any():
            out[w] = -notional[w] * duration[instrument[w]] * d_swap_bp[instrument[w]] * 1e-4
        return out
    fut = np.where(is_swap, 0, instrument)
    swp = np.where(is_swap, instrument, 0)
    vm_fut = notional * d_fut_price[fut] / 100.0 if len(d_fut_price) else 0.0 * notional
    vm_swp = -notional * duration[swp] * d_swap_bp[swp] * 1e-4
    return np.where(is_swap, vm_swp, vm_fut)


def initial_margin_gap(
    notional: np.ndarray,
    im_base_rate: np.ndarray,
    im_posted: np.ndarray,
    im_due: np.ndarray,
    multiplier: float | np.ndarray,
) -> np.ndarray:
    """Required IM minus IM posted and already called, USD bn (> 0: call, < 0: release)."""
    return np.abs(notional) * im_base_rate * multiplier - im_posted - im_due


# --- steps -----------------------------------------------------------------------------------
#: State fields each step writes (checked by the step contract tests).
IM_MULTIPLIER_WRITES = ("im_multiplier", "futures_margin_addon")
MARK_WRITES = (
    "price",
    "fut_price",
    "marked_price",
    "marked_fund_price",
    "fund_marked_bp",
    "marked_fut_price",
    "marked_swap_bp",
    "pnl",
    "cash",
    "vm_due",
    "external_cash_in",
)
REQUIREMENTS_WRITES = ("im_due", "im_posted", "cash", "repo_margin")


def im_multiplier_step(state, ctx, day) -> None:
    """The day's IM multiplier from the volatility index and the scenario's add-on, and the
    futures exchanges' own add-on (``futures_margin_addon_frac``: futures IM only)."""
    p = ctx.params
    state.futures_margin_addon = float(ctx.path("futures_margin_addon_frac")[day.t])
    state.im_multiplier = im_multiplier(
        state.vol_multiplier,
        elasticity=p.im_vol_elasticity,
        apc_buffer_frac=p.im_apc_buffer_frac,
        addon_frac=float(ctx.path("initial_margin_addon_frac")[day.t]),
    )


def mark_step(state, ctx, ledger, day) -> None:
    """Prices from today's yields, then mark to market (bond P&L and VM)."""
    set_prices(state, ctx.topo)
    ledger.repriced()
    mark_to_market(state, ctx, ledger, day)


def mark_to_market(state, ctx, ledger, day) -> None:
    """Bond P&L by channel and VM through the CCPs for prices moved since the last mark."""
    s, topo = state, ctx.topo
    day.books_changed = True
    d_total = (s.price - s.marked_price) / 100.0
    if np.array_equal(s.fund_marked_bp, s.y_fund_bp):
        # no fundamental move since the last mark: nothing to book there
        ledger.book_bond_pnl(None, rowdot(s.par, d_total))
        s.marked_price[:] = s.price
    else:
        fund = topo.cash_curve(s.y_fund_bp)
        d_fund = (fund - s.marked_fund_price) / 100.0
        ledger.book_bond_pnl(rowdot(s.par, d_fund), rowdot(s.par, d_total - d_fund))
        s.marked_price[:] = s.price
        s.marked_fund_price[:] = fund
        s.fund_marked_bp[:] = s.y_fund_bp
    # variation margin (nothing to pay when no futures price or swap rate moved)
    d_fut = s.fut_price - s.marked_fut_price
    swap_level = swap_rate_change_bp(s)
    d_swap = swap_level - s.marked_swap_bp
    if ctx.channels.variation_margin and (d_fut.any() or d_swap.any()):
        m = topo.cs.market
        vm = variation_margin(
            s.notional,
            topo.is_swap,
            topo.m_instrument,
            d_fut,
            d_swap,
            m.modified_duration_years,
            n_futures=topo.n_futures_edges,
        )
        ext_vm = external_vm(
            s.ext_notional, d_fut, d_swap, m.modified_duration_years, topo.n_futures
        )
        s.marked_fut_price[:] = s.fut_price
        s.marked_swap_bp[:] = swap_level
        day.log.vm_paid += ledger.settle_vm(vm, ext_vm)
    elif ctx.channels.variation_margin:
        s.marked_fut_price[:] = s.fut_price
        s.marked_swap_bp[:] = swap_level


def swap_rate_change_bp(state) -> np.ndarray:
    """Each bucket's swap rate since the start, bp: the fundamental path, the scenario's
    swap-spread shock and the impact of swap order flow
    (:mod:`contagion.mechanisms.price_impact`)."""
    return state.y_fund_bp + state.swap_shock_bp + state.swap_impact_bp


def external_vm(
    ext_notional: np.ndarray,
    d_fut_price: np.ndarray,
    d_swap_bp: np.ndarray,
    duration: np.ndarray,
    n_futures: int,
) -> np.ndarray:
    """VM gain of each CCP's external side (paid by the CCP), USD bn per CCP row.

    ``ext_notional`` is (CCP rows, futures contracts then buckets): the external side's
    signed futures and swap notionals; gains follow the VM formulas of the module docstring.
    """
    if not ext_notional.size:
        return np.zeros(ext_notional.shape[0])
    fut = rowdot(ext_notional[:, :n_futures], d_fut_price / 100.0) if n_futures else 0.0
    swp = -rowdot(ext_notional[:, n_futures:], duration * d_swap_bp * 1e-4)
    return fut + swp


def requirements_step(state, ctx, ledger, day) -> None:
    """IM calls and releases at the day's multiplier; repo margin calls."""
    s, topo = state, ctx.topo
    if ctx.channels.initial_margin:
        multiplier = np.empty(len(s.notional))  # futures, then swaps
        multiplier[: topo.n_futures_edges] = s.im_multiplier * (1.0 + s.futures_margin_addon)
        multiplier[topo.n_futures_edges :] = s.im_multiplier * 1.0
        gap = initial_margin_gap(s.notional, topo.im_base_rate, s.im_posted, s.im_due, multiplier)
        call = np.maximum(gap, 0.0)
        ledger.call_im(call)
        release = np.minimum(np.maximum(-gap, 0.0), s.im_posted)
        ledger.release_im(release)
        day.log.im_called += topo.by_source(call)
    haircuts.repo_margin_step(state, ctx, ledger, day)
