"""The policy interface: a validated config, and a runtime object whose hooks return orders.

Every policy is data (a pydantic config, loadable from YAML, registered under its ``type``
with :func:`contagion.policies.registry.register`) with a **trigger** (from a day, or when a
market metric of the previous close crosses a threshold), a **size/budget** and a
**duration**. Its runtime object never moves an amount: each hook receives a read-only
:class:`PolicyView` of the run and returns orders (:mod:`contagion.orders`), which the
engine executes through the ledger and reports back as fills. The policy's own accounts
(what it spent, holds, lent) live in its record in the state (``view.mine``), so a run can be
saved and resumed. Usage is a list of typed :class:`UsageRecord`, costs a
:class:`PolicyCosts`. All hooks are no-ops by default:

=====================  ===========================================================
hook                   when, and what it returns
=====================  ===========================================================
``validate``           set-up: check the config against the system (InputError)
``setup``              set-up: :class:`~contagion.orders.OpenFacility` orders
``initial_record``     set-up: the policy's own record at t0 (the final topology)
``ex_ante``            set-up: requirements in force before the shock (an ex-ante
                       :class:`~contagion.orders.HaircutFloor`)
``on_day``             start of each day, after the trigger is evaluated: day orders
                       (haircut floor, IM multiplier, rate cap, recall a facility)
``loan_offer``         when dues are paid and dealers finance inventory: a standing
                       :class:`~contagion.orders.LoanOffer`
``leverage_exclusion`` when dealer room is measured: assets out of leverage exposure
``wants_to_trade``     a round: True to trade even when nobody else sells
``bid`` / ``issue``    market clearing: a :class:`~contagion.orders.Bid`; new par issued
``futures_order``      futures clearing: notional bought (+) or sold (-) per contract
``intercept_sales``    before planned sales reach the market: an
                       :class:`~contagion.orders.Interception`
``filled``             an order was executed: the :class:`~contagion.orders.Fill`
``on_day_end``         the close: usage records
``summary``/``costs``  the run's totals
=====================  ===========================================================
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from contagion.errors import InputError, Problem


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Trigger(_Frozen):
    """When a policy starts acting: from ``start_day`` (1 = the first simulated day), and,
    if ``metric`` is set, once that column of ``Result.markets`` at the previous close is
    above (or below) ``threshold``. Once triggered it acts for ``duration_days``."""

    start_day: int = Field(1, ge=1, le=3650)
    metric: str | None = Field(None, description="e.g. 'basis_widening_TY_bp'")
    threshold: float | None = Field(None, allow_inf_nan=False)
    above: bool = True

    @model_validator(mode="after")
    def _pair(self) -> Trigger:
        if (self.metric is None) != (self.threshold is None):
            raise ValueError("metric and threshold must be given together")
        return self


class PolicyConfig(_Frozen):
    """Fields every policy has."""

    name: str | None = Field(None, max_length=100, description="Label (defaults to type).")
    trigger: Trigger = Field(default_factory=Trigger)
    duration_days: int | None = Field(None, ge=1, le=3650, description="None: to the end.")

    @abstractmethod
    def build(self) -> Policy:
        """The runtime policy for this config (every concrete config defines it)."""


class UsageRecord(NamedTuple):
    """One line of a policy's usage (``Result.policy_usage``)."""

    day: int
    policy: str
    item: str
    institution: str
    value_usd_bn: float


@dataclass(frozen=True)
class PolicyCosts:
    """What a policy used, USD bn (the cost side of ``contagion.experiment.effectiveness``).

    ``budget_spent_usd_bn``: money spent on purchases; ``cash_lent_peak_usd_bn``: a
    facility's peak outstanding (what its limit caps, not the turnover). The central bank's
    balance-sheet growth is measured from its reserves, not reported by the policy.
    """

    budget_spent_usd_bn: float = 0.0
    cash_lent_peak_usd_bn: float = 0.0


class PolicyView:
    """What a policy sees of a run: the state read-only, its own record, and queries.

    Arrays of the state (``view.cash``, ``view.par``, ``view.repo_amount``, ...) are
    read-only views; scalars (``view.repo_rate_pct``, ``view.im_multiplier``, ...) are
    numbers. ``view.mine`` is the policy's own record (writable by it alone).
    """

    def __init__(self, sim, index: int) -> None:
        self._sim = sim
        self._index = index
        self._views: dict[str, tuple[int, np.ndarray]] = {}

    # --- the run ---------------------------------------------------------------------------
    @property
    def topo(self):
        return self._sim.ctx.topo

    @property
    def market(self):
        return self._sim.ctx.topo.cs.market

    @property
    def params(self):
        return self._sim.ctx.params

    @property
    def buckets(self) -> list[str]:
        return self._sim.ctx.buckets

    @property
    def days(self) -> int:
        """Days the scenario runs."""
        return self._sim.ctx.scenario.days

    @property
    def day(self) -> int:
        """The current day, 1-based (day 1 is the first simulated day)."""
        return self._sim.state.day + 1

    @property
    def n(self) -> int:
        return self._sim.ctx.topo.n

    @property
    def mine(self) -> dict[str, Any]:
        """The policy's own record in the state."""
        return self._sim.state.policy[self._index]

    def __getattr__(self, name: str):
        from contagion.state import State

        if name.startswith("_"):
            raise AttributeError(name)
        state = self.__dict__["_sim"].state
        if name in _ARRAY_FIELDS:
            arr = getattr(state, name)
            hit = self._views.get(name)
            if hit is None or hit[0] != id(arr):
                view = arr.view()
                view.flags.writeable = False
                hit = self._views[name] = (id(arr), view)
            return hit[1]
        if name in State.scalar_fields():
            return getattr(state, name)
        raise AttributeError(f"a policy view has no {name!r}")

    # --- queries ---------------------------------------------------------------------------
    def free_par(self) -> np.ndarray:
        """Unencumbered par per institution and bucket."""
        return _read_only(self._sim.ledger.free_par())

    def balance(self) -> tuple[np.ndarray, np.ndarray]:
        a, liab = self._sim.ledger.balance()
        return _read_only(a), _read_only(liab)

    def holdings_value(self) -> np.ndarray:
        return _read_only(self._sim.ledger.holdings_value())

    def repo_outstanding(self, edges: np.ndarray) -> float:
        """Cash outstanding on repo ``edges`` (USD bn)."""
        return float(self._sim.state.repo_amount[edges].sum())

    def metric(self, name: str) -> float:
        """A market metric (a column of ``Result.markets``) at the previous close."""
        return self._sim.close_metrics().get(name, np.nan)

    def central_bank(self) -> int:
        """Index of the central bank (InputError if the system has none)."""
        cb = self.topo.central_bank
        if cb is None:
            raise InputError(
                Problem("system", "type", "this policy needs a central_bank institution")
            )
        return cb

    def record(self, policy: str, item: str, value: float, institution: str = "") -> None:
        """Append a line to the policy's usage."""
        self.mine["usage"].append(UsageRecord(self.day, policy, item, institution, float(value)))


def _read_only(arr: np.ndarray) -> np.ndarray:
    view = arr.view()
    view.flags.writeable = False
    return view


def _array_fields() -> frozenset[str]:
    from contagion.state import State

    return frozenset(State.array_fields())


_ARRAY_FIELDS = _array_fields()


class Policy:
    """Runtime side of a policy: its config and set-up constants; hooks return orders."""

    def __init__(self, config: PolicyConfig) -> None:
        self.config = config
        self.name = config.name or getattr(config, "type", type(self).__name__)

    # --- set-up -----------------------------------------------------------------------------
    def validate(self, view: PolicyView) -> None:
        metric = self.config.trigger.metric
        if metric is not None:
            from contagion.recorder import metric_names

            names = metric_names(view.market)
            if metric not in names:
                raise InputError(
                    Problem(
                        f"policy '{self.name}'",
                        "trigger.metric",
                        f"unknown metric {metric!r}; allowed: {', '.join(names)}",
                    )
                )

    def setup(self, view: PolicyView) -> list:
        return []

    def ex_ante(self, view: PolicyView) -> list:
        """Requirements in force before the shock (e.g. an ex-ante haircut floor)."""
        return []

    def facility_opened(self, edges: np.ndarray) -> None:
        """The repo edges the :class:`~contagion.orders.OpenFacility` order opened."""
        self.edges = edges

    def initial_record(self, view: PolicyView) -> dict[str, Any]:
        return {"on": False, "triggered_day": 0, "usage": []}

    # --- a day --------------------------------------------------------------------------------
    def on_day(self, view: PolicyView) -> list:
        """Decide whether the policy acts today; return day orders."""
        self.update_trigger(view)
        return []

    def update_trigger(self, view: PolicyView) -> None:
        mine = view.mine
        day = view.day
        t = self.config.trigger
        if not mine["triggered_day"] and day >= t.start_day:
            fires = True
            if t.metric is not None:
                value = view.metric(t.metric)
                fires = bool(value > t.threshold if t.above else value < t.threshold)
            if fires:
                mine["triggered_day"] = day
        dur = self.config.duration_days
        start = mine["triggered_day"]
        mine["on"] = bool(start) and (dur is None or day < start + dur)

    def loan_offer(self, view: PolicyView):
        return None

    def leverage_exclusion(self, view: PolicyView, assets: np.ndarray):
        return None

    def wants_to_trade(self, view: PolicyView) -> bool:
        return False

    def bid(self, view: PolicyView, sold: np.ndarray):
        return None

    def issue(self, view: PolicyView):
        return None

    def futures_order(self, view: PolicyView, flow: np.ndarray):
        return None

    def intercept_sales(self, view: PolicyView, planned: np.ndarray):
        return None

    def filled(self, view: PolicyView, fill) -> None:
        return None

    def on_day_end(self, view: PolicyView) -> None:
        return None

    # --- reporting ------------------------------------------------------------------------------
    def record(self, view: PolicyView, item: str, value: float, institution: str = "") -> None:
        view.record(self.name, item, value, institution)

    def describe(self) -> dict[str, Any]:
        return self.config.model_dump(mode="json")

    def summary(self, record: dict[str, Any]) -> dict[str, float]:
        """Totals for ``Result.summary`` (keys ``policy_<name>_<item>``)."""
        return {}

    def costs(self, record: dict[str, Any]) -> PolicyCosts:
        return PolicyCosts()

    def bucket_index(self, view: PolicyView, buckets, field: str) -> np.ndarray:
        unknown = [b for b in buckets if b not in view.buckets]
        if unknown:
            raise InputError(
                Problem(
                    f"policy '{self.name}'",
                    field,
                    f"unknown bucket {unknown[0]!r}; allowed: {', '.join(view.buckets)}",
                )
            )
        return np.array([view.buckets.index(b) for b in buckets], dtype=np.int64)
