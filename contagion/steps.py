"""The steps of a day: each mechanism's step function and the state fields it may write.

:mod:`contagion.engine` sequences these steps; in debug mode
(:class:`contagion.testing.StepChecker`) every step is checked against its declared writes,
the invariants and the ledger's caches. A step's function, equations and sources live in
its mechanism module.
"""

from __future__ import annotations

from contagion.mechanisms import (
    carry,
    dealers,
    deleveraging,
    haircuts,
    margin,
    policy_rates,
    price_impact,
    settlement,
    shocks,
    volatility,
    waterfall,
)
from contagion.mechanisms import defaults as dfl
from contagion.mechanisms import repo_market as rm

#: What the policies' day orders may write (contagion.orders.PolicyDesk.start_day).
POLICY_DAY_WRITES = ("repo_recall", "haircut_floor", "im_multiplier", *policy_rates.FIELDS)

#: Every step of a day: name -> (function, State fields it may write). The policies'
#: steps write what their orders execute (see :mod:`contagion.orders`).
STEPS: dict[str, tuple] = {
    "shocks": (shocks.step, shocks.WRITES),
    "distribution": (dealers.distribution_step, dealers.DISTRIBUTION_WRITES),
    "policy_rates": (policy_rates.step, policy_rates.WRITES),
    "day_start": (dealers.day_start_step, ("peak_utilisation",)),
    "interest": (rm.interest_step, rm.INTEREST_WRITES),
    "carry": (carry.step, carry.WRITES),
    "im_multiplier": (margin.im_multiplier_step, margin.IM_MULTIPLIER_WRITES),
    "haircuts": (haircuts.haircut_step, haircuts.HAIRCUT_WRITES),
    "runs": (haircuts.runs_step, haircuts.RUNS_WRITES),
    "redemptions": (deleveraging.redemptions_step, deleveraging.REDEMPTIONS_WRITES),
    "mark": (margin.mark_step, margin.MARK_WRITES),
    "requirements": (margin.requirements_step, margin.REQUIREMENTS_WRITES),
    "pay": (waterfall.pay_step, waterfall.PAY_WRITES),
    "defaults": (dfl.default_step, dfl.DEFAULT_WRITES),
    "plan": (waterfall.plan_step, waterfall.PLAN_WRITES),
    "clear": (price_impact.clear_step, price_impact.CLEAR_WRITES),
    "settle": (settlement.step, settlement.WRITES),
    "clearing": (dfl.clearing_step, dfl.CLEARING_WRITES),
    "utilisation": (dealers.utilisation_step, dealers.UTILISATION_WRITES),
    "repo_rate": (rm.rate_step, rm.RATE_WRITES),
    "realised_volatility": (volatility.realised_step, volatility.REALISED_WRITES),
    "returns": (deleveraging.returns_step, deleveraging.RETURNS_WRITES),
}
