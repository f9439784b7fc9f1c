"""Monetary policy: a change of the administered rates (an FOMC decision).

On the first day it acts (its trigger: a start day and, optionally, a market metric at the
previous close) the target range, IORB, the ON RRP rate, the SRF minimum bid and the discount
rate move together by ``change_bp`` (:class:`~contagion.orders.PolicyRateChange`,
:mod:`contagion.mechanisms.policy_rates`), once; money-market rates follow them. The bottom
of the range stops at zero (the Federal Reserve has not set a negative range): a cut larger
than the room left is cut short; ``Result.summary`` reports the change made
(``policy_<name>_rate_change_bp``) and ``Result.markets`` the rates.

March 2020 had two such decisions (-50 bp on March 3, -100 bp on March 15; fact base 4.40);
the episodes replay them as a scenario path (``Scenario.policy_rate_change_bp``), this tool
makes a cut a policy arm that can be triggered by the stress itself.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from contagion.orders import PolicyRateChange
from contagion.policies.base import Policy, PolicyConfig, PolicyView
from contagion.policies.registry import register


@register
class PolicyRateConfig(PolicyConfig):
    """A one-off change of the administered rates (bp; negative: a cut)."""

    tool: ClassVar[str] = "Policy-rate change (target range, IORB, ON RRP, SRF rate together)"
    type: Literal["policy_rate"] = "policy_rate"
    change_bp: float = Field(
        -50.0, ge=-500, le=500, allow_inf_nan=False, description="Change of every rate, bp."
    )

    def build(self) -> Policy:
        return PolicyRate(self)


class PolicyRate(Policy):
    def initial_record(self, view: PolicyView) -> dict[str, Any]:
        return {**super().initial_record(view), "done": False, "change_bp": 0.0}

    def on_day(self, view: PolicyView) -> list:
        self.update_trigger(view)
        mine = view.mine
        if not mine["on"] or mine["done"]:
            return []
        mine["done"] = True
        # the bottom of the range may not go below zero: a cut stops there
        change = max(self.config.change_bp, -100.0 * view.range_lower_pct)
        mine["change_bp"] = change
        return [PolicyRateChange(change_bp=change)] if change else []

    def summary(self, record: dict[str, Any]) -> dict[str, float]:
        return {f"policy_{self.name}_rate_change_bp": float(record["change_bp"])}
