"""Price impact in the cash and futures markets, and dealer balance-sheet capacity.

Cash market, bucket b (yields in bp; sales net of policy and other bids, USD bn value)::

    dy_b = lambda * q_b * g(u),        g(u) = (1 - min(u, u_cap))^(-kappa)

where ``u`` is dealer utilisation after absorbing the sales. Dealer d's room is its
leverage-ratio headroom (``E_d / slr_d`` x (1 + capacity shock) minus its assets), and
``u = 1 - sum_d room_d / sum_d room_d,0``. Dealers buy what they can fund (own cash plus new
financing from MMFs) within their room; the rest goes to outside investors at the impacted
price. With kappa = 0 the impact is linear (Kyle); as dealers fill up, each dollar sold
moves yields more (Duffie 2020, "Still the world's safe haven?"; He, Nagel & Song 2022).

Futures, contract c (yield-equivalent bp; net buying in USD bn notional)::

    dy^F_c = -lambda_F * Q_c

so short covering (buying) richens futures and long liquidation cheapens them. Swap rates
take only the fundamental shock, so the cash impact moves swap spreads one for one. The
cash-futures basis and the swap spreads are therefore endogenous.
"""

from __future__ import annotations

import numpy as np


def impact_factor(utilisation: float, *, convexity: float, cap: float) -> float:
    """g(u) = (1 - min(u, cap))^-kappa (dimensionless, >= 1)."""
    return float((1.0 - min(max(utilisation, 0.0), cap)) ** (-convexity))


def cash_impact_bp(net_sales_value: np.ndarray, *, lam: float, g: float) -> np.ndarray:
    """Yield impact per bucket, bp (positive = yields up = prices down)."""
    return lam * net_sales_value * g


def futures_impact_bp(net_buying: np.ndarray, *, lam: float) -> np.ndarray:
    """Implied-yield impact per contract, bp (buying lowers the implied yield)."""
    return -lam * net_buying


def dealer_room(
    equity: np.ndarray, assets: np.ndarray, slr_frac: np.ndarray, capacity_shock: float
) -> np.ndarray:
    """Leverage-ratio headroom per dealer, USD bn (0 where slr is 0 or equity <= 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        cap = np.where(slr_frac > 0, np.maximum(equity, 0.0) / slr_frac, 0.0)
    return np.maximum(cap * (1.0 + capacity_shock) - assets, 0.0)


def utilisation(room: float, room_ref: float) -> float:
    """Market-wide dealer utilisation u in [0, 1]."""
    if room_ref <= 0:
        return 1.0
    return float(np.clip(1.0 - room / room_ref, 0.0, 1.0))


def allocate(total: float, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` pro rata to non-negative ``weights`` (capped at the weights)."""
    s = weights.sum()
    if s <= 0 or total <= 0:
        return np.zeros_like(weights)
    return weights * min(1.0, total / s)
