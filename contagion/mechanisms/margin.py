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
    multiplier: float,
) -> np.ndarray:
    """Required IM minus IM posted and already called, USD bn (> 0: call, < 0: release)."""
    return np.abs(notional) * im_base_rate * multiplier - im_posted - im_due
