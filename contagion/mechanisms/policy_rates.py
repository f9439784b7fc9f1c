"""The central bank's administered rates, moved by the scenario and by policies.

The state holds the target range ``[L, U]``, interest on reserve balances (IORB), the ON RRP
offering rate, the Standing Repo Facility's minimum bid and the discount (primary credit)
rate, in percent, starting from the system's market (``contagion.market.Market``). A change
of ``dp`` bp (the scenario's ``policy_rate_change_bp`` on a day, or a policy's
:class:`~contagion.orders.PolicyRateChange`) moves them together::

    L, U, IORB, r_RRP, r_SRF, r_DW  +=  dp / 100

as the FOMC's decisions did (March 3 and 15, 2020: -50 and -100 bp, fact base 4.40).
Money-market rates follow through :mod:`contagion.mechanisms.repo_market` (the ON RRP rate
is the GC curve's floor, IORB the banks' reference, the SRF minimum bid the ceiling), and
facilities' repo edges accrue at rates that move with them.

The bottom of the range may not go below zero: a path that takes it there is an input error
(:func:`check_path`), as the Federal Reserve has not set a negative range.
"""

from __future__ import annotations

import numpy as np

from contagion.errors import InputError, Problem

WRITES = (
    "range_lower_pct",
    "range_upper_pct",
    "iorb_pct",
    "on_rrp_pct",
    "srf_rate_pct",
    "discount_rate_pct",
    "tga_drain_usd_bn",
)
FIELDS = WRITES[:-1]


def shift(state, change_bp: float) -> None:
    """Move every administered rate by ``change_bp`` (bp)."""
    if change_bp == 0.0:
        return
    d = change_bp / 100.0
    for name in FIELDS:
        setattr(state, name, getattr(state, name) + d)


def step(state, ctx, day) -> None:
    """The day's policy-rate change and the Treasury account's change (scenario paths)."""
    shift(state, float(ctx.path("policy_rate_change_bp")[day.t]))
    state.tga_drain_usd_bn += float(ctx.path("tga_change_usd_bn")[day.t])


def check_path(scenario, market) -> None:
    """InputError if the scenario's policy-rate path takes the range below zero."""
    path = scenario.path("policy_rate_change_bp")
    if not path.any():
        return
    lower = market.range_lower_pct + np.cumsum(path) / 100.0
    bad = np.flatnonzero(lower < -1e-9)
    if len(bad):
        k = int(bad[0])
        raise InputError(
            Problem(
                f"scenario '{scenario.name}'",
                f"policy_rate_change_bp.{k}",
                f"takes the bottom of the target range to {lower[k]:.2f}% on day {k + 1}; "
                f"it starts at {market.range_lower_pct:.2f}% and may not go below zero",
            )
        )
