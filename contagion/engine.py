"""The unwind engine: sequences the mechanisms' steps, one simulated day after another.

Each day (the steps live in :mod:`contagion.mechanisms`; their equations in the docstrings)::

    1. shocks.step              the scenario's shocks; transient impact decays
       repo_market.interest     repo interest accrues onto the loans
    2. margin.im_multiplier     the CCPs' IM multiplier from volatility
       policies                 decide whether they act today (day orders)
       haircuts.haircut         repo haircuts from yesterday's close
       haircuts.runs            lenders refuse to roll to weak borrowers; MMF rationing
       deleveraging.redemptions redemptions fall due
    3. margin.mark              prices from today's yields; bond P&L and VM
       margin.requirements      IM calls and releases; repo margin calls
    rounds, until nothing changes (at most ``max_iterations``):
       4. waterfall.pay         pay what is due (standing facilities lend first)
          defaults.default      flag and resolve new defaults
          waterfall.plan        sales, unwinds, futures cuts, recalls
       5-6. price_impact.clear  policies' bids netted; dealers absorb; impact; then
            margin.mark_to_market at the new prices (positions as before the trades)
       7. settlement.step       trades settle; repo repaid; futures and swaps closed
          margin.requirements   on the positions after the trades
       8. defaults.clearing     when a round is quiet: Eisenberg-Noe on estates' debts
    9. dealers.utilisation, repo_market.rate, policies' end of day,
       volatility.realised, deleveraging.returns; the books are frozen for the close.

Policy bids come after sales are planned but before the market clears, and the repo rate is
set once a day at the close (it enters through interest, which accrues daily). A
:class:`Simulation` holds the :class:`~contagion.state.State`, the run's
:class:`~contagion.context.Context` and the :class:`~contagion.ledger.Ledger`; it can stop
after any day and resume from a saved state (:meth:`Simulation.save`, :meth:`Simulation.resume`).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from contagion.context import Context, Day, DayLog
from contagion.ledger import DebugLedger, Ledger
from contagion.mechanisms import dealers, deleveraging, policy_rates, volatility, waterfall
from contagion.mechanisms import repo_market as rm
from contagion.orders import PolicyDesk
from contagion.policies import build
from contagion.policies.base import PolicyView
from contagion.recorder import Recorder, market_row
from contagion.scenario import Scenario
from contagion.state import References, State
from contagion.steps import POLICY_DAY_WRITES, STEPS
from contagion.sums import dot
from contagion.system import System
from contagion.testing import check_invariants
from contagion.topology import Topology


class Simulation:
    """One run: a system, a scenario and policies, advanced one day at a time.

    Parameters
    ----------
    system : System
    scenario : Scenario
    policies : sequence of policy configs or runtime policies (:mod:`contagion.policies`)
    debug : bool
        The ledger makes amount arrays read-only outside its methods (see
        :class:`~contagion.ledger.Ledger`).
    """

    def __init__(self, system: System, scenario: Scenario, policies=(), *, debug=False, seed=None):
        self.system = system
        self.seed = seed
        self.checker = None
        self.policies = build(policies)
        cs = system.compile()
        policy_rates.check_path(scenario, system.market)
        self.state = None  # set below; policy views read it once it exists
        self.ctx = Context(cs.topology, scenario)
        views = [PolicyView(self, i) for i in range(len(self.policies))]
        self.desk = PolicyDesk(self.policies, views)
        repo = self.desk.set_up(cs, self.ctx.buckets)  # validated; facilities' edges opened
        self.ctx = Context(cs.topology if repo is cs.repo else Topology(cs, repo), scenario)
        self.state = State.initial(self.ctx.topo)
        self.ledger = (DebugLedger if debug else Ledger)(self.state, self.ctx.topo)
        self._steps = {
            **STEPS,
            "policies": (self.desk.start_day, POLICY_DAY_WRITES),
            "policies_close": (self.desk.end_day, ()),
        }
        self._set_up()
        if debug:
            from contagion.testing import StepChecker

            self.checker = StepChecker(self)

    def _set_up(self) -> None:
        s, ctx, ledger, topo = self.state, self.ctx, self.ledger, self.ctx.topo
        a, liab = ledger.balance()
        s.ref = References(
            equity0=a - liab, assets0=a, cash0=s.cash.copy(), leverage0=np.zeros(topo.n),
            room_ref=0.0, room_ref_by_limit=np.zeros(3), room0_by_limit=np.zeros((3, topo.n)),
            dv01_limit0=np.zeros(topo.n),
            inventory_limit0=np.zeros(topo.n), par0=np.zeros((topo.n, topo.n_buckets)),
            repo_demand0=0.0, repo_supply0=0.0,
            spread0_pct=0.0,
            book0=np.zeros(topo.book_shape), par_total0=np.zeros(topo.n_buckets),
            cash_total0=0.0, cb_cash0=0.0, insolvency_floor=-1e-7 * np.maximum(1.0, np.abs(a)),
            haircut0=np.zeros(topo.n), repo_spread_iorb0_pct=0.0,
        )  # fmt: skip
        s.policy = self.desk.initial_records()
        self.desk.ex_ante(s, ctx, ledger)  # requirements in force before the shock
        lev0 = ledger.leverage()
        a, liab = ledger.balance()
        slr = topo.behaviour("leverage_ratio_min_frac")
        m = topo.cs.market
        slr_room0 = dealers.dealer_room(a - liab, a, slr, 0.0)
        dv01_limit0, inventory_limit0 = dealers.limits_at_start(s, ctx, slr_room0)
        s.ref = dataclasses.replace(
            s.ref, dv01_limit0=dv01_limit0, inventory_limit0=inventory_limit0
        )
        # the rooms at the start, before any policy's exclusion (the utilisation baseline and
        # what the scenario's capacity shock takes a share of)
        by_all = dealers.rooms(s, ctx, ledger, None)
        by = by_all[:, topo.mask["dealer"]]
        s.ref = dataclasses.replace(
            s.ref,
            room0_by_limit=np.where(topo.mask["dealer"][None, :], by_all, 0.0),
            leverage0=np.where(np.isfinite(lev0), lev0, 0.0),
            room_ref=float(by.min(axis=0).sum()),
            room_ref_by_limit=by.sum(axis=1),
            spread0_pct=max(m.repo_rate_pct - m.on_rrp_rate_pct, 0.01),
            haircut0=deleveraging.repo_haircut_by_borrower(s, topo),
            repo_spread_iorb0_pct=m.repo_rate_pct - m.iorb_pct,
        )
        s.nav_prev[:] = ledger.tracked_equity()
        demand0, supply0 = rm.demand_supply(s, ctx, ledger)
        s.repo_demand_usd_bn, s.mmf_supply_usd_bn = demand0, min(demand0, supply0)
        s.repo_unmet_usd_bn = max(demand0 - supply0, 0.0)
        s.ref = dataclasses.replace(
            s.ref,
            repo_demand0=demand0,
            repo_supply0=supply0,
            book0=ledger.ccp_books(),
            par_total0=s.par.sum(axis=0) + s.external_par_out,
            par0=s.par.copy(),
            cash_total0=float(s.cash.sum()) - s.external_cash_in,
            cb_cash0=float(s.cash[topo.mask["central_bank"]].sum()),
        )
        volatility.initial(s, ctx)
        ledger.freeze()
        self._metric_triggers = any(p.config.trigger.metric for p in self.policies)
        self._close_row: dict | None = None

    # --- a day ----------------------------------------------------------------------------
    def close_metrics(self) -> dict[str, float]:
        """The market metrics of the previous close (what metric triggers read)."""
        if self._close_row is None:
            self._close_row = market_row(self.state, self.ctx, self.state.day)
        return self._close_row

    def run_day(self) -> DayLog:
        """Steps 1-9 of the next day; rounds 4-8 repeat until nothing changes (bounded)."""
        s, ctx, L, desk, p = self.state, self.ctx, self.ledger, self.desk, self.ctx.params
        do, topo = self._do, ctx.topo
        self._close_row = None  # the previous close's metrics, computed before anything moves
        if self._metric_triggers:
            self.close_metrics()
        day = Day(s.day, DayLog.empty(topo.n, topo.n_buckets), L.leverage(), L.loss_frac())
        L.thaw()  # from here on the day changes the books
        do("shocks", s, ctx, day)
        do("distribution", s, ctx, L, day)
        do("policy_rates", s, ctx, day)
        do("day_start", s)
        do("interest", s, ctx, L, day)
        do("carry", s, ctx, L, day)
        do("im_multiplier", s, ctx, day)
        if desk:
            do("policies", s, L)
        do("haircuts", s, ctx, day)
        do("runs", s, ctx, L, day)
        do("redemptions", s, ctx, L, day)
        do("mark", s, ctx, L, day)
        do("requirements", s, ctx, L, day)
        day_sales = 0.0
        k = 0
        while k < p.max_iterations:
            k += 1
            owed = do("pay", s, ctx, L, day, desk)
            new_defaults = do("defaults", s, ctx, L, day, owed)
            if new_defaults:
                owed = do("pay", s, ctx, L, day, desk)
            day.raised_cash = False
            sell, phi, close = do("plan", s, ctx, L, day, desk, owed)
            day.first = False
            active = (
                sell.sum() > p.tolerance_usd_bn
                or phi.any()
                or close.any()
                or day.issuance is not None
                or s.closeout_fut_flow.any()
                or s.closeout_swap_flow.any()
                or (desk and desk.wants_to_trade())
            )
            if active:
                absorbed = do("clear", s, ctx, L, day, desk, sell, close)
                do("mark", s, ctx, L, day)  # positions still as before the trades
                do("settle", s, ctx, L, day, desk, sell, phi, close, absorbed)
                do("requirements", s, ctx, L, day)  # on the positions after the trades
                day.books_changed = True
                traded = dot(day.sold, s.price) / 100.0  # (sell summed by the clearing)
                day_sales += traded
                converged = traded <= p.convergence_frac * day_sales
                if converged and not do("defaults", s, ctx, L, day, waterfall.owed(s, topo, L)):
                    break  # the spiral has converged: what little is still due is paid tomorrow
                continue  # the next round pays, checks defaults and plans again
            if new_defaults or day.raised_cash or do("clearing", s, ctx, L, day):
                continue  # estates to liquidate, cash raised to pay, or clearing losses
            break
        day.log.iterations = k
        day.log.bound_hit = k >= p.max_iterations
        # 9. the close
        do("utilisation", s, ctx, L, day, desk)
        do("repo_rate", s, ctx, L, day, desk)
        if desk:
            do("policies_close")
        do("realised_volatility", s, ctx, day)
        do("returns", s, ctx, L, day)
        s.iterations = day.log.iterations
        s.day += 1
        L.freeze()  # the closing books, shared by the invariants, the recorder and tomorrow
        return day.log

    def _do(self, name: str, *args):
        """Run step ``name`` (``steps.STEPS``); in debug mode check it (``StepChecker``)."""
        fn, writes = self._steps[name]
        if self.checker is None:
            return fn(*args)
        return self.checker.run(name, fn, writes, args)

    def record(self, days: int | None = None, *, institutions: bool = True) -> Recorder:
        """Run ``days`` more days (all that are left by default), checking the invariants
        every day; returns the :class:`~contagion.recorder.Recorder` of those days (its
        ``result()`` is a :class:`contagion.Result`, its ``summary()`` the headline)."""
        rec = Recorder(self, institutions=institutions)
        if self.state.day == 0:
            rec.record_initial()
        last = (
            self.ctx.scenario.days
            if days is None
            else min(self.state.day + days, self.ctx.scenario.days)
        )
        while self.state.day < last:
            log = self.run_day()
            check_invariants(self, day=self.state.day)
            rec.record_day(log)
        return rec

    def run(self, days: int | None = None):
        """Run ``days`` more days (all by default) and return their :class:`contagion.Result`."""
        return self.record(days).result()

    # --- save and resume ------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Save the state after the last completed day (:meth:`State.save`)."""
        self.state.save(path)

    @classmethod
    def resume(cls, system: System, scenario: Scenario, policies, path, **kwargs) -> Simulation:
        """A simulation of the same inputs continued from a saved state."""
        sim = cls(system, scenario, policies, **kwargs)
        loaded = State.load(path)
        for name in State.array_fields():
            getattr(sim.state, name)[...] = getattr(loaded, name)
        for name in State.scalar_fields():
            setattr(sim.state, name, getattr(loaded, name))
        sim.state.policy[:] = loaded.policy
        sim.state.ref = loaded.ref
        sim.ledger.thaw()
        sim.ledger.freeze()
        return sim


def _run(system: System, scenario: Scenario, policies, rng, *, institutions: bool) -> Recorder:
    sim = Simulation(system, scenario, policies, seed=rng if isinstance(rng, int) else None)
    return sim.record(institutions=institutions)


def simulate(system: System, scenario: Scenario, policies=(), *, rng=None):
    """Run ``scenario`` on ``system`` with ``policies``; returns a :class:`contagion.Result`.

    Parameters
    ----------
    system : System
    scenario : Scenario
    policies : sequence of policy configs (see :mod:`contagion.policies`)
    rng : int or None
        The seed recorded with the result (the engine itself is deterministic).
    """
    return _run(system, scenario, policies, rng, institutions=True).result()


def simulate_summary(
    system: System, scenario: Scenario, policies=(), *, rng=None
) -> dict[str, float]:
    """``simulate(...).summary`` without building the result frames (for many draws).

    The same run, invariant checks included; only the per-institution snapshots, the
    events and the flows are not collected.
    """
    return _run(system, scenario, policies, rng, institutions=False).summary()
