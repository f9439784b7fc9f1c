"""Bond prices from yields: the duration-convexity expansion, kept positive and monotone.

A bucket's price after a yield change ``dy`` (decimal; ``dy_bp * 1e-4``) from its initial
yield, with modified duration ``D`` (years) and convexity ``C`` (years^2)::

    P(dy) = P0 (1 - D dy + C dy^2 / 2)                          for dy <= dy_s
    P(dy) = P(dy_s) exp(-s (dy - dy_s)),  s = -P'(dy_s) / P(dy_s)  beyond it
    dy_s  = min(D / C, 1 / D) / 2

The polynomial is exact to second order near the initial yield; it turns up at ``D / C``
and, with ``C = 0``, reaches zero at ``1 / D``, so beyond ``dy_s`` the price continues
smoothly (value and slope match) with the local semi-elasticity ``s``: positive and
decreasing for any shock. A floor of ``MIN_PRICE_FRAC`` of the initial price keeps collateral
arithmetic finite (``Result.summary["price_floor_hit_days"]`` counts the days it binds).
Futures use the same curve with their deliverable bucket's duration and convexity.
"""

from __future__ import annotations

import numpy as np

MIN_PRICE_FRAC = 1e-9  # floor on price / initial price


def price_from_yield(p0, duration, convexity, dy_bp):
    """Price per 100 face after a yield change ``dy_bp`` (bp) (see the module docstring).

    Examples
    --------
    >>> float(price_from_yield(100.0, 8.0, 0.0, 10.0))  # 10 bp on duration 8: -0.8%
    99.2
    """
    d = np.asarray(duration, dtype=np.float64)
    c = np.asarray(convexity, dtype=np.float64)
    dy = np.asarray(dy_bp, dtype=np.float64) * 1e-4
    with np.errstate(divide="ignore"):
        dy_s = 0.5 * np.minimum(np.where(c > 0, d / c, np.inf), 1.0 / d)
    inner = np.minimum(dy, dy_s)
    poly = 1.0 - d * inner + 0.5 * c * inner * inner
    slope = (d - c * dy_s) / (1.0 - d * dy_s + 0.5 * c * dy_s * dy_s)
    with np.errstate(under="ignore"):
        tail = np.exp(-slope * np.maximum(dy - dy_s, 0.0))
    # a bond is never worth nothing: the floor keeps collateral arithmetic finite
    return p0 * np.maximum(poly * tail, MIN_PRICE_FRAC)


class PriceCurve:
    """:func:`price_from_yield` for fixed bonds, with the yield-independent terms computed once
    (the same arithmetic, so the same prices to the last bit)."""

    __slots__ = ("c", "d", "dy_s", "half_c", "p0", "slope")

    def __init__(self, p0, duration, convexity) -> None:
        self.p0 = p0
        self.d = d = np.asarray(duration, dtype=np.float64)
        self.c = c = np.asarray(convexity, dtype=np.float64)
        with np.errstate(divide="ignore"):
            self.dy_s = dy_s = 0.5 * np.minimum(np.where(c > 0, d / c, np.inf), 1.0 / d)
        self.half_c = 0.5 * c
        self.slope = (d - c * dy_s) / (1.0 - d * dy_s + 0.5 * c * dy_s * dy_s)

    def __call__(self, dy_bp) -> np.ndarray:
        dy = np.asarray(dy_bp, dtype=np.float64) * 1e-4
        inner = np.minimum(dy, self.dy_s)
        poly = 1.0 - self.d * inner + self.half_c * inner * inner
        with np.errstate(under="ignore"):
            tail = np.exp(-self.slope * np.maximum(dy - self.dy_s, 0.0))
        return self.p0 * np.maximum(poly * tail, MIN_PRICE_FRAC)


def set_prices(state, topo) -> None:
    """Cash and futures prices from the fundamental shock plus price impact (in place)."""
    s = state
    fb = topo.cs.market.futures_bucket
    s.price[:] = topo.cash_curve(s.y_fund_bp + s.impact_bp)
    s.fut_price[:] = topo.futures_curve(s.y_fund_bp[fb] + s.fut_impact_bp)
