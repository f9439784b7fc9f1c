"""Dealers' balance-sheet capacity: the room they have to absorb sales, and how full it is.

Dealer ``d``'s room is its leverage-ratio headroom, the exposure its equity ``E_d`` supports
at the minimum ratio ``slr_d`` (scaled by the day's capacity shock ``k``) minus its leverage
exposure (assets ``A_d`` less what policies exclude, e.g. SLR relief)::

    room_d = max(E_d / slr_d (1 + k) - (A_d - excluded_d), 0)
    u      = 1 - sum_d room_d / sum_d room_d,0          (market-wide utilisation, in [0, 1])

``room_d,0`` is the room at the start of the run. Clearing the cash market
(:mod:`contagion.mechanisms.price_impact`) uses the room to decide what dealers absorb and
``u`` to scale price impact; the repo market uses the room to split dealers' financing.
"""

from __future__ import annotations

import numpy as np

UTILISATION_WRITES = ("utilisation", "peak_utilisation")


def dealer_room(
    equity: np.ndarray, assets: np.ndarray, slr_frac: np.ndarray, capacity_shock: float
) -> np.ndarray:
    """Leverage-ratio headroom per dealer, USD bn (0 where slr is 0 or equity <= 0).

    Examples
    --------
    >>> float(dealer_room(np.array([10.0]), np.array([150.0]), np.array([0.05]), 0.0)[0])
    50.0
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        cap = np.where(slr_frac > 0, np.maximum(equity, 0.0) / slr_frac, 0.0)
    return np.maximum(cap * (1.0 + capacity_shock) - assets, 0.0)


def utilisation(room: float, room_ref: float) -> float:
    """Market-wide dealer utilisation u in [0, 1]."""
    if room_ref <= 0:
        return 1.0
    return float(np.clip(1.0 - room / room_ref, 0.0, 1.0))


def room(state, ctx, ledger, desk) -> np.ndarray:
    """Each institution's leverage-ratio room today (USD bn; meaningful for dealers)."""
    a, liab = ledger.balance()
    excluded = desk.leverage_exclusion(ctx.topo.n, a)
    return dealer_room(
        a - liab,
        a - excluded,
        ctx.topo.behaviour("leverage_ratio_min_frac"),
        state.capacity_shock,
    )


def day_start_step(state) -> None:
    """A new day: its peak utilisation starts from zero."""
    state.peak_utilisation = 0.0


def utilisation_step(state, ctx, ledger, day, desk) -> None:
    """Utilisation at the close from the live dealers' room."""
    s = state
    live = ctx.topo.mask["dealer"] & ~s.defaulted
    s.utilisation = utilisation(float(room(s, ctx, ledger, desk)[live].sum()), s.ref.room_ref)
    s.peak_utilisation = max(s.peak_utilisation, s.utilisation)
