"""Step 1 of a day: the scenario's shocks for the day, and the decay of transient impact.

On day ``t`` (USD bn, bp, fractions)::

    y_fund_b   += rate_shock_b,t                     (fundamental yield path, per bucket)
    y_swap_b   += swap_spread_shock_b,t               (swap rates only: a swap-spread shock)
    T_b *= 1 - delta,  F_c *= 1 - delta,  S_b *= 1 - delta     (transient impact decays;
                                          the permanent cash impact P_b stays)
    vol_t       = V_0 * m_t (+ realised feedback, mechanisms.volatility)
    capacity shock and MMF pullback: the day's levels of their paths

``delta`` is ``ModelParams.impact_decay_frac``. Prices are set from the new yields when the
books are marked (:func:`contagion.mechanisms.margin.mark_step`).
"""

from __future__ import annotations

from contagion.mechanisms import volatility as vo
from contagion.mechanisms.price_impact import futures_level

#: State fields this step writes.
WRITES = (
    "y_fund_bp",
    "swap_shock_bp",
    "impact_bp",
    "fut_impact_bp",
    "fut_flow_bp",
    "swap_impact_bp",
    "impact_bound_hit",
    "vol_multiplier",
    "vol",
    "capacity_shock",
    "pullback",
)


def step(state, ctx, day) -> None:
    """Apply the scenario's shocks of day ``day.t``."""
    s, p, t = state, ctx.params, day.t
    m = ctx.topo.cs.market
    s.y_fund_bp += ctx.rate_shock_bp[t]
    s.swap_shock_bp += ctx.swap_spread_shock_bp[t]
    keep = 1.0 - p.impact_decay_frac
    s.impact_bp[:] = s.impact_perm_bp + (s.impact_bp - s.impact_perm_bp) * keep
    s.fut_flow_bp *= keep
    s.swap_impact_bp *= keep
    s.impact_bound_hit = False
    futures_level(s, ctx.topo, p)
    s.vol_multiplier = vo.volatility_multiplier(
        float(ctx.path("volatility_multiplier")[t]),
        s.realised_vol,
        m.volatility_index,
        weight=p.realised_vol_weight_frac if ctx.channels.realised_volatility else 0.0,
    )
    s.vol = m.volatility_index * s.vol_multiplier
    s.capacity_shock = float(ctx.path("dealer_capacity_shock_frac")[t])
    s.pullback = float(ctx.path("mmf_repo_pullback_frac")[t])
