"""The volatility index: the scenario's path, plus realised volatility fed back.

The index is MOVE-like: bp of annualised normal volatility of Treasury yields. On day t::

    V_t = V_0 * (m_t + w * max(0, R_{t-1} - V_0) / V_0)

``m_t``: the scenario's ``volatility_multiplier`` path; ``w`` (``realised_vol_weight_frac``):
the share of realised volatility above the starting level that passes into the index (0,
the default: the path alone). ``R`` is a realised volatility index, the MOVE-weighted mean
over buckets of exponentially weighted volatilities of daily yield changes (RiskMetrics;
J.P. Morgan/Reuters, RiskMetrics Technical Document, 4th ed., 1996, decay 0.94 for daily
data)::

    sigma2_{b,t} = lambda * sigma2_{b,t-1} + (1 - lambda) * dy_{b,t}^2     (bp^2 per day)
    R_t = sum_b w_b * sqrt(252 * sigma2_{b,t})                                (bp per year)

with ``dy`` the day's change of the cash yield (fundamental plus impact). The variances
start at ``V_0^2 / 252``, so ``R_0 = V_0`` and nothing feeds back until yields move more
than the index implied. ``w_b`` are the MOVE index's tenor weights (2y 0.2, 5y 0.2, 10y
0.4, 30y 0.2; ICE BofA MOVE Index rules) over the buckets that carry those names,
renormalised; equal weights if none does. Yesterday's realised volatility sets today's
index: CCPs and lenders act on the close. The feedback closes the loop fire sale ->
realised volatility -> IM and haircuts -> more sales.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from contagion.sums import dot

TRADING_DAYS_PER_YEAR = 252
MOVE_TENOR_WEIGHTS = {"2y": 0.2, "5y": 0.2, "10y": 0.4, "30y": 0.2}


def tenor_weights(bucket_names: Sequence[str]) -> np.ndarray:
    """Weights of the buckets in the realised index (sum to 1; see the module docstring)."""
    w = np.array([MOVE_TENOR_WEIGHTS.get(b, 0.0) for b in bucket_names], dtype=np.float64)
    if not w.any():
        w = np.ones(len(bucket_names))
    return w / w.sum()


def ewma_variance(variance: np.ndarray, dy_bp: np.ndarray, decay: float) -> np.ndarray:
    """Next day's variance per bucket, bp^2 per day: lambda * var + (1 - lambda) * dy^2."""
    return decay * variance + (1.0 - decay) * np.square(dy_bp)


def realised_index(variance: np.ndarray, weights: np.ndarray) -> float:
    """The realised volatility index, bp per year: sum_b w_b * sqrt(252 * var_b)."""
    return dot(weights, np.sqrt(TRADING_DAYS_PER_YEAR * variance))


def volatility_multiplier(
    path_multiplier: float, realised: float, vol0: float, *, weight: float
) -> float:
    """Today's index over its starting level V_0: m_t + w * max(0, R - V_0) / V_0.

    Exactly ``path_multiplier`` when nothing feeds back (``w = 0`` or ``R <= V_0``).
    """
    excess = weight * max(0.0, realised - vol0)
    return path_multiplier + excess / vol0 if excess > 0 else path_multiplier


# --- steps -----------------------------------------------------------------------------------
REALISED_WRITES = ("realised_var", "realised_vol", "close_yield_bp")


def initial(state, ctx) -> None:
    """Realised variances start at the index's level: ``R_0 = V_0``, nothing feeds back."""
    vol0 = ctx.topo.cs.market.volatility_index
    state.realised_var[:] = vol0**2 / TRADING_DAYS_PER_YEAR
    state.realised_vol = realised_index(state.realised_var, ctx.vol_tenor_weights)
    state.close_yield_bp[:] = state.y_fund_bp + state.impact_bp


def realised_step(state, ctx, day) -> None:
    """Update the EWMA variances with the day's yield moves (they feed tomorrow's index)."""
    s = state
    y = s.y_fund_bp + s.impact_bp
    s.realised_var[:] = ewma_variance(
        s.realised_var, y - s.close_yield_bp, ctx.params.realised_vol_decay_frac
    )
    s.realised_vol = realised_index(s.realised_var, ctx.vol_tenor_weights)
    s.close_yield_bp[:] = y
