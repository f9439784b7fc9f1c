"""The repo market: rate from funding demand versus MMF cash supply.

MMFs can lend in private repo up to a share of their NAV, less as volatility rises::

    S_t = sum_m NAV_m * c * (1 - w_t) / (1 + a * max(0, vol_t / vol_0 - 1))

(``w_t``: the scenario's MMF pullback from private repo), plus a share ``theta`` of the
reserves dealers hold beyond their starting level (so QE's new reserves add supply)

Demand D_t is private repo lent by MMFs plus their new financing of dealer inventory. The
general-collateral rate is convex in utilisation x = D / S (the September 2019 spike; Afonso
et al. 2020, "Reserves and the September 2019 repo rate spike")::

    r_t = r_rrp + s_0 * ((1 - x_0) / (1 - min(x_t, x_cap)))^eta,   s_0 = max(r_0 - r_rrp, 1bp)

A market that starts saturated (x_0 >= x_cap, e.g. MMF repo but no MMF capacity) has its
reference at the cap, so the rate moves from its observed level; one whose supply vanishes
later prices at the cap. ON RRP is the MMFs' outside option (the floor r_rrp). When demand
exceeds supply the MMFs ration: they recall the excess on their overnight lending the next
day.
"""

from __future__ import annotations

import numpy as np


def mmf_capacity(
    nav: np.ndarray, *, capacity_frac: float, vol_ratio: float, sensitivity: float
) -> float:
    """Private repo lending capacity of the MMF sector, USD bn."""
    return float(
        np.clip(nav, 0.0, None).sum() * capacity_frac / (1 + sensitivity * max(0.0, vol_ratio - 1))
    )


def funding_utilisation(demand: float, supply: float) -> float:
    """x = D / S: infinite when MMF financing is demanded but there is no supply, 0 when
    there is neither (a market with no MMF repo)."""
    if supply > 0:
        with np.errstate(over="ignore"):
            return float(np.float64(demand) / supply)
    return np.inf if demand > 0 else 0.0


def repo_rate(
    x: float, x0: float, *, on_rrp_pct: float, spread0_pct: float, convexity: float, cap: float
) -> float:
    """GC repo rate, percent."""
    x0 = min(x0, cap)
    return on_rrp_pct + spread0_pct * ((1.0 - x0) / (1.0 - min(max(x, 0.0), cap))) ** convexity
