"""The unwind engine: one simulated day after another (DESIGN.md section 4).

Each day::

    1. scenario shocks: fundamental rate shock, volatility, capacity, haircut and IM add-ons;
       transient impact decays; repo interest accrues onto the loans
    2. risk parameters: IM multiplier, repo haircuts (market + weak-borrower add-on);
       lenders refuse to roll maturing repo to weak borrowers (runs); redemptions fall due
    3. mark to market: VM through the CCPs, IM calls and releases, repo margin calls
    repeat until nothing changes (at most ``max_iterations`` rounds):
       4. pay what is due from cash; plan the liquidity waterfall (sell free bonds, recall
          loans, unwind), voluntary deleveraging and exogenous sales (first round only)
       5. policy bids
       6. clear the cash market (dealers absorb what they can fund within their leverage
          room, the rest goes outside at the impacted price) and the futures market
       3'. mark to market at the new prices
       7. settle: sold collateral repays repo, closed futures and swaps release IM
       8. defaults: seize and sell collateral, CCP waterfall; when quiet, clear unsecured
          claims (Eisenberg-Noe) and loop again if that makes new defaults
    9. repo market: rate from MMF supply and demand, dealers' inventory financing, MMF
       rationing; realised volatility of the day's yield moves (it feeds tomorrow's
       volatility index, mechanisms.volatility); record; check the accounting invariants.

Deviations from DESIGN.md, and why: policy bids come after the sales are planned but before
the market clears (as in step 5), and the repo rate is set once a day at the end (step 7)
because it only enters through interest, which accrues daily.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from contagion.mechanisms import deleveraging as dl
from contagion.mechanisms import haircuts as hc
from contagion.mechanisms import margin as mg
from contagion.mechanisms import price_impact as pi
from contagion.mechanisms import repo_market as rm
from contagion.mechanisms import volatility as vo
from contagion.policies import build
from contagion.recorder import Recorder
from contagion.resolution import DefaultResolution
from contagion.scenario import Scenario
from contagion.schema import INSTITUTION_TYPES
from contagion.state import PriceCurve, State
from contagion.system import System
from contagion.testing import check_invariants
from contagion.waterfall import LiquidityWaterfall

DEFAULTABLE = ("hedge_fund", "dealer", "mmf", "asset_manager", "other", "sovereign_fund")
UNLIMITED_CASH = ("central_bank", "ccp")


@dataclass
class DayLog:
    """What happened on one day (per-institution arrays, USD bn)."""

    vm_paid: np.ndarray
    im_called: np.ndarray
    repo_margin_called: np.ndarray
    repo_recalled: np.ndarray
    forced_sales: np.ndarray
    voluntary_sales: np.ndarray
    exogenous_sales: np.ndarray
    liquidation_sales: np.ndarray
    redemptions_paid: np.ndarray
    sales_by_bucket: np.ndarray  # (n, n_buckets) par sold
    absorbed_by_dealers: np.ndarray  # (n, n_buckets) par bought by dealers
    bought_outside: np.ndarray  # (n_buckets,) par bought outside the system
    policy_bought: np.ndarray  # (n_buckets,) par bought by policies
    iterations: int = 0
    bound_hit: bool = False
    defaults: list[dict[str, Any]] = field(default_factory=list)


class Run(DefaultResolution, LiquidityWaterfall):
    """One simulation: a :class:`State`, a scenario and policies (use :func:`simulate`).

    Steps 1-3, 5-7 and 9 are methods here; step 4 (payments and the liquidity waterfall)
    comes from :class:`contagion.waterfall.LiquidityWaterfall` and step 8 (defaults) from
    :class:`contagion.resolution.DefaultResolution`.
    """

    def __init__(self, system: System, scenario: Scenario, policies=(), rng=None) -> None:
        self.system = system
        self.sc = scenario
        self.p = scenario.params
        self.ch = scenario.channels
        self.policies = tuple(policies)
        self.rng = rng
        self.s = State(system.compile())
        cs = self.s.cs
        self.buckets = list(cs.market.bucket_names)
        self.rate_shock = scenario.bucket_paths("rate_shock_bp", self.buckets)
        self.exo_sales = scenario.bucket_paths("exogenous_sales_usd_bn", self.buckets)
        self.type_name = np.array(INSTITUTION_TYPES, dtype=object)[cs.type_code]
        self.mask = {t: cs.type_code == i for i, t in enumerate(INSTITUTION_TYPES)}
        self.can = {
            step: np.isin(self.type_name, [t for t, steps in dl.STEPS.items() if step in steps])
            for step in ("sell_other", "sell_free", "recall", "sell_other_last", "unwind")
        }
        self.defaultable = np.isin(self.type_name, DEFAULTABLE)
        self.unlimited = np.isin(self.type_name, UNLIMITED_CASH)
        self.is_dealer = self.mask["dealer"]
        self.is_mmf = self.mask["mmf"]
        self.metrics: dict[str, float] = {}
        self.cash0 = self.s.cash.copy()
        self.pullback = 0.0
        self.rate_cap = np.inf  # repo rate cap for facility-eligible borrowers (SRF)
        self.rate_cap_eligible = np.zeros(self.s.n, bool)
        self.s.par_issued = np.zeros(len(self.buckets))
        self.ccp_key = np.searchsorted(self.s.ccp_rows, self.s.m_target)
        self.n_fut = len(cs.market.futures_codes)
        self.instr_col = np.where(
            self.s.is_swap, self.n_fut + self.s.m_instrument, self.s.m_instrument
        )
        for pol in self._each_policy():
            pol.start(self)
        s = self.s
        lev0 = s.leverage()
        self.leverage0 = np.where(np.isfinite(lev0), lev0, 0.0)
        self.slr = cs.behaviour["leverage_ratio_min_frac"]
        a, liab = s.balance()
        self.room_ref = float(pi.dealer_room(a - liab, a, self.slr, 0.0)[self.is_dealer].sum())
        # (D_b / D_ref)^epsilon: yield impact per USD bn by bucket (price_impact docstring)
        self.impact_duration_scale = pi.duration_scale(
            s.cs.market.modified_duration_years,
            elasticity=self.p.impact_duration_elasticity,
            reference_years=self.p.impact_reference_duration_years,
        )
        self.nav_prev = s.tracked_equity()
        self.last_return = np.zeros(s.n)
        self.repo_market0 = self._funding_utilisation()
        self.spread0 = max(cs.market.repo_rate_pct - cs.market.on_rrp_rate_pct, 0.01)
        self.capacity_shock = 0.0
        self.rationed = np.zeros(len(s.repo.ids))
        self.book0 = self._ccp_book()
        self.loss_outside = 0.0
        self.haircut_floor = 0.0  # policies (minimum haircuts) raise it
        self.books_changed = True  # set by anything that can move equity; read by defaults
        self.pool_plan = np.zeros(s.n)
        self.facility_plan = np.zeros(s.n)
        self.policy_bids = np.zeros(len(self.buckets))
        self.policy_supply = np.zeros(len(self.buckets))
        # conservation baselines (a policy may already have traded with outside, ex ante)
        self.par_total0 = s.par.sum(axis=0) + s.external_par_out
        self.cash_total0 = float(s.cash.sum()) - s.external_cash_in
        self.utilisation = 0.0
        self.peak_utilisation = 0.0  # the day's highest u, clearing rounds included
        self.raised_cash = False  # a round sold other assets: the next round pays
        self.repo_margin = np.zeros_like(s.repo_amount)
        self.redemption_due = np.zeros(s.n)
        self.redemption_share = np.zeros(s.n)
        self.to_liquidate = np.zeros_like(s.par)
        s.edge_cache = {}  # sums over edges cached between book moves (see State.balance)
        # realised volatility (mechanisms.volatility): EWMA variance of daily yield moves
        vol0 = cs.market.volatility_index
        self.vol_tenor_weights = vo.tenor_weights(self.buckets)
        self.realised_var = np.full(len(self.buckets), vol0**2 / vo.TRADING_DAYS_PER_YEAR)
        self.realised_vol = vo.realised_index(self.realised_var, self.vol_tenor_weights)
        self.close_yield_bp = s.y_fund_bp + s.impact_bp

    # --- helpers --------------------------------------------------------------------------
    def _each_policy(self):
        """The policies, each called with the edge-sum cache off (a policy may move any
        book); the cache is emptied afterwards. Nothing to do without policies."""
        return self._policy_calls() if self.policies else ()

    def _each_policy_query(self):
        """The policies, for a query hook (:data:`contagion.policies.base.QUERY_HOOKS`),
        which moves no book, so the cached edge sums stay valid."""
        return self.policies

    def _policy_calls(self):
        s = self.s
        cache, s.edge_cache = s.edge_cache, None
        try:
            yield from self.policies
        finally:
            if cache is not None:
                cache.clear()
            s.edge_cache = cache

    def _path(self, name: str) -> np.ndarray:
        """The scenario's scalar path ``name`` padded to its days (built once per run)."""
        paths = self.__dict__.setdefault("_paths", {})
        out = paths.get(name)
        if out is None:
            out = paths[name] = self.sc.path(name)
        return out

    def _topology(self, name: str, build):
        """A constant of the repo topology, built once (again if policies add edges)."""
        cache = self.__dict__.setdefault("_topo", {})
        hit = cache.get(name)
        if hit is None or hit[0] is not self.s.repo:
            hit = cache[name] = (self.s.repo, build())
        return hit[1]

    def _sold(self, sell: np.ndarray) -> np.ndarray:
        """Par sold per bucket, ``sell.sum(axis=0)``, summed once per round's sales."""
        hit = self.__dict__.get("_sold_memo")
        if hit is None or hit[0] is not sell:
            hit = self._sold_memo = (sell, sell.sum(axis=0))
        return hit[1]

    def _any_order(self) -> bool:
        for pol in self._each_policy_query():
            if pol.has_order(self):
                return True
        return False

    def _ccp_book(self) -> np.ndarray:
        s = self.s
        return s.ext_notional + self._per_book(s.notional)

    def _per_book(self, values: np.ndarray) -> np.ndarray:
        """Sum a per-margined-edge array into (CCP row, instrument) cells."""
        shape = self.s.ext_notional.shape
        key = self.__dict__.get("_book_key")
        if key is None:
            key = self._book_key = self.ccp_key * shape[1] + self.instr_col
        return np.bincount(key, values, minlength=shape[0] * shape[1]).reshape(shape)

    def _exposure_relief(self, assets: np.ndarray) -> np.ndarray:
        """Assets policies exclude from dealers' leverage exposure (SLR relief, netting)."""
        relief = np.zeros(self.s.n)
        for pol in self._each_policy_query():
            relief = relief + pol.exposure_relief(self, assets)
        return np.clip(relief, 0.0, assets)

    def _funding_utilisation(self) -> tuple[float, float]:
        s = self.s
        r = s.repo
        mmf_lend = self._topology(
            "mmf_lend",
            lambda: np.flatnonzero(self.is_mmf[r.lender] & (r.segment != hc.CENTRAL_BANK)),
        )
        demand = float(s.repo_amount[mmf_lend].sum() + s.pool_lent.sum())
        nav = s.tracked_equity(self.is_mmf)
        supply = rm.mmf_capacity(
            nav,
            capacity_frac=self.p.mmf_repo_capacity_frac,
            vol_ratio=s.vol / s.cs.market.volatility_index,
            sensitivity=self.p.mmf_appetite_vol_sensitivity,
        )
        # banks lend part of the reserves they hold beyond their starting level (QE's new
        # reserves reach the repo market this way; the sovereign fund's purchases create none)
        excess = np.maximum(s.cash - self.cash0, 0.0)[self.is_dealer & ~s.defaulted].sum()
        supply = supply * (1.0 - self.pullback) + self.p.dealer_reserve_lending_frac * excess
        return demand, supply

    def _price_curves(self) -> tuple[PriceCurve, PriceCurve]:
        """Cash and futures price curves (price_from_yield with the constants kept)."""
        curves = self.__dict__.get("_curves")
        if curves is None:
            m = self.s.cs.market
            fb = m.futures_bucket
            curves = self._curves = (
                PriceCurve(m.price, m.modified_duration_years, m.convexity_years2),
                PriceCurve(m.futures_price, m.modified_duration_years[fb], m.convexity_years2[fb]),
            )
        return curves

    def _set_prices(self) -> None:
        s = self.s
        cash, fut = self._price_curves()
        s.price = cash(s.y_fund_bp + s.impact_bp)
        s.fut_price = fut(s.y_fund_bp[s.cs.market.futures_bucket] + s.fut_impact_bp)

    def _fund_price(self) -> np.ndarray:
        return self._price_curves()[0](self.s.y_fund_bp)

    # --- step 3: mark to market -----------------------------------------------------------
    def mark(self, log: DayLog) -> None:
        """Mark to market and recompute margin requirements (step 3)."""
        self.mark_prices(log)
        self.mark_requirements(log)

    def mark_prices(self, log: DayLog) -> None:
        """Bond P&L by channel and VM through the CCPs for prices moved since the last mark."""
        s, n = self.s, self.s.n
        self.books_changed = True
        d_total = (s.price - s.marked_price) / 100.0
        marked_y = self.__dict__.get("_fund_marked_at")
        if marked_y is not None and np.array_equal(marked_y, s.y_fund_bp):
            # no fundamental move since the last mark: d_fund = 0, nothing to book there
            s.pnl["fire_sale"] += s.par @ d_total
            s.marked_price = s.price.copy()
        else:
            fund = self._fund_price()
            d_fund = (fund - s.marked_fund_price) / 100.0
            s.pnl["bond_fundamental"] += s.par @ d_fund
            s.pnl["fire_sale"] += s.par @ (d_total - d_fund)
            s.marked_price, s.marked_fund_price = s.price.copy(), fund
            self._fund_marked_at = s.y_fund_bp.copy()
        # variation margin (nothing to pay when no futures price or swap rate moved)
        d_fut = s.fut_price - s.marked_fut_price
        d_swap = s.y_fund_bp - s.marked_swap_bp
        if self.ch.variation_margin and (d_fut.any() or d_swap.any()):
            m = s.cs.market
            nfe = self.__dict__.get("_n_fut_edges")
            if nfe is None:  # futures edges first, then swaps (State's layout)
                nfe = int(np.count_nonzero(~s.is_swap))
                ordered = not s.is_swap[:nfe].any() and bool(s.is_swap[nfe:].all())
                nfe = self._n_fut_edges = nfe if ordered else -1
            vm = mg.variation_margin(
                s.notional,
                s.is_swap,
                s.m_instrument,
                d_fut,
                d_swap,
                m.modified_duration_years,
                n_futures=nfe if nfe >= 0 else None,
            )
            ext_vm = self._external_vm(d_fut, d_swap)
            s.marked_fut_price = s.fut_price.copy()
            s.marked_swap_bp = s.y_fund_bp.copy()
            gain = np.maximum(vm, 0.0)
            loss = np.maximum(-vm, 0.0)
            s.cash += s.by_source(gain)
            s.cash -= s.by_target(gain)
            s.vm_due += loss
            s.edges_moved("dues")
            s.pnl["variation_margin"] += s.by_source(vm)
            s.pnl["variation_margin"] -= s.by_target(vm)
            # the external side of each CCP book settles in cash with the outside world
            ccp_ext = np.bincount(s.ccp_rows, ext_vm, minlength=n)
            s.cash -= ccp_ext
            s.pnl["variation_margin"] -= ccp_ext
            s.external_cash_in -= float(ext_vm.sum())
            log.vm_paid += s.by_source(loss)
        elif self.ch.variation_margin:
            s.marked_fut_price = s.fut_price.copy()
            s.marked_swap_bp = s.y_fund_bp.copy()

    def mark_requirements(self, log: DayLog) -> None:
        """IM calls and releases at the current multiplier; repo margin calls."""
        s, _n = self.s, self.s.n
        if self.ch.initial_margin:
            gap = mg.initial_margin_gap(
                s.notional, s.im_base_rate, s.im_posted, s.im_due, s.im_multiplier
            )
            call = np.maximum(gap, 0.0)
            s.im_due += call
            release = np.minimum(np.maximum(-gap, 0.0), s.im_posted)
            s.im_posted -= release
            s.edges_moved("im_posted")
            s.cash += s.by_source(release)
            s.cash -= s.by_target(release)
            log.im_called += s.by_source(call)
        self._repo_margin(log)

    def _external_vm(self, d_fut: np.ndarray, d_swap: np.ndarray) -> np.ndarray:
        """VM gain of the external side at each CCP (paid by the CCP), USD bn per CCP row."""
        s, m = self.s, self.s.cs.market
        ext = s.ext_notional
        if not ext.size:
            return np.zeros(len(s.ccp_rows))
        fut = ext[:, : self.n_fut] @ (d_fut / 100.0) if self.n_fut else 0.0
        swp = -(ext[:, self.n_fut :] @ (m.modified_duration_years * d_swap * 1e-4))
        return fut + swp

    def _repo_margin(self, log: DayLog) -> None:
        s = self.s
        r = s.repo
        if self.ch.haircuts:
            need, got = s.pledged_value()
            available = s.par * (s.price / 100.0) + got
            due = hc.repo_margin_due(
                s.repo_amount,
                s.repo_haircut,
                r.borrower,
                r.bucket,
                ~s.repo_unsecured,
                available,
                need=need,
                key=self._topology("cell", lambda: r.borrower * need.shape[1] + r.bucket),
            )
        else:
            due = np.zeros_like(s.repo_amount)
        before = self.__dict__.get("repo_margin")
        new = np.maximum(due - (np.zeros_like(due) if before is None else before), 0.0)
        log.repo_margin_called += s.by_borrower(new)
        self.repo_margin = due

    # --- step 5-6: policies and market clearing ------------------------------------------------
    def clear(
        self, sell: np.ndarray, close: np.ndarray, log: DayLog
    ) -> tuple[np.ndarray, np.ndarray]:
        """Clear cash and futures markets; returns (par bought by dealers, futures flows)."""
        s = self.s
        price0 = s.price / 100.0
        sold = self._sold(sell)
        bids = np.zeros(len(self.buckets))
        supply = np.zeros(len(self.buckets))
        for pol in self._each_policy_query():
            bids += pol.bid(self, sold)
            supply += pol.supply(self)
        self.policy_bids, self.policy_supply = bids, supply
        q_par = sold + supply - bids
        q_value = q_par * price0
        # dealers' room and funding
        a, liab = s.balance()
        room = np.where(
            self.is_dealer & ~s.defaulted,
            pi.dealer_room(a - liab, a - self._exposure_relief(a), self.slr, self.capacity_shock),
            0.0,
        )
        pool_d = self._pool_available(room)
        facility_d = np.zeros(s.n)
        for pol in self._each_policy_query():
            facility_d = facility_d + pol.financing_capacity(self, room)
        self.facility_plan = facility_d
        pool_d = pool_d + facility_d
        cash = np.maximum(s.cash, 0.0)
        # buying V needs max(h V, V - pool) of own cash (h: the financing haircut)
        h = self.p.pool_haircut_frac
        with np.errstate(divide="ignore", over="ignore"):
            cash_limit = np.where(pool_d > 0, cash / h if h > 0 else np.inf, cash)
        buy_cap = np.minimum(room, np.minimum(cash + pool_d, cash_limit))
        self.pool_plan = pool_d
        total_q = float(np.maximum(q_value, 0.0).sum())
        absorbed_value = pi.allocate(total_q, buy_cap)
        room_after = float((room - absorbed_value).sum())
        u = pi.utilisation(room_after, self.room_ref)
        self.utilisation = u
        self.peak_utilisation = max(self.peak_utilisation, u)
        if self.ch.price_impact:
            g = pi.impact_factor(
                u, convexity=self.p.impact_convexity, cap=self.p.utilisation_cap_frac
            )
            dy = pi.cash_impact_bp(
                q_value,
                lam=self.p.impact_bp_per_usd_bn * self.impact_duration_scale,
                g=g,
                outside_demand=self.p.outside_demand_usd_bn_per_bp,
            )
            s.impact_bp += dy
            if self.p.futures_pass_through_frac and self.n_fut:
                s.fut_impact_bp += self.p.futures_pass_through_frac * dy[s.cs.market.futures_bucket]
        # futures order flow: closing a short is buying
        flow = -s.notional * close
        if self.ch.futures_impact and self.n_fut:
            fut_flow = np.bincount(
                np.where(s.is_swap, 0, s.m_instrument),
                np.where(s.is_swap, 0.0, flow),
                minlength=self.n_fut,
            )
            for pol in self._each_policy_query():
                fut_flow = fut_flow + pol.futures_flow(self, fut_flow)
            s.fut_impact_bp += pi.futures_impact_bp(
                fut_flow, lam=self.p.futures_impact_bp_per_usd_bn
            )
        self._set_prices()
        return absorbed_value, flow

    def settle(self, sell, phi, close, absorbed_value, flow, log: DayLog) -> None:
        """Transfer bonds and cash at the new prices; repay repo; close futures and swaps."""
        s, n = self.s, self.s.n
        price = s.price / 100.0
        sold = self._sold(sell)
        bids_par = self.policy_bids
        # sellers
        s.par -= sell
        proceeds = sell @ price
        s.cash += proceeds
        log.sales_by_bucket += sell
        # new issuance by policies (e.g. a debt-financed sovereign fund) is sold by the
        # Treasury, outside the system; policy bids are taken out first
        supply = self.policy_supply
        s.par_issued += supply
        s.external_cash_in -= float(supply @ price)
        q = sold + supply - bids_par
        q_par = np.maximum(q, 0.0)
        from_outside = np.maximum(-q, 0.0)  # policies bought more than was offered
        # buyers: dealers in proportion to what they absorb, then outside investors
        total_value = float(q_par @ price)
        dealer_share = np.zeros(n)
        if total_value > 0:
            scale = min(1.0, total_value / max(float(absorbed_value.sum()), 1e-300))
            dealer_share = absorbed_value * scale / total_value
        bought = dealer_share[:, None] * q_par[None, :]
        s.par += bought
        cost = bought @ price
        self._finance_dealers(cost, bought)
        log.absorbed_by_dealers += bought
        outside = q_par - bought.sum(axis=0) - from_outside
        s.external_par_out += outside
        s.external_cash_in += float(outside @ price)
        log.bought_outside += outside
        # policies pay for what they bought (after dealers have drawn their financing)
        for pol in self._each_policy():
            log.policy_bought += pol.settle(self, sold, price)
        # repay repo from the sale: phi of each loan, as far as the borrower's cash allows
        r = s.repo
        if not phi.any():  # no unwind: nothing to repay
            s.repo_recall = np.maximum(np.minimum(s.repo_recall, s.repo_amount), 0.0)
        elif len(s.repo_amount) + len(s.notional) < self.SPARSE_MIN_EDGES:  # whole arrays
            want = np.where(s.repo_unsecured, 0.0, s.repo_amount * phi[r.borrower])
            want_tot = s.by_borrower(want)
            with np.errstate(divide="ignore", invalid="ignore"):
                f = np.where(want_tot > 0, np.minimum(1.0, np.maximum(s.cash, 0.0) / want_tot), 0.0)
            rep = want * f[r.borrower]
            s.repo_amount -= rep
            s.edges_moved("repo_amount")
            s.repo_recall = np.maximum(np.minimum(s.repo_recall, s.repo_amount), 0.0)
            s.cash -= s.by_borrower(rep)
            s.cash += s.by_lender(rep)
        else:  # only the unwinders' secured loans (the others repay nothing)
            e = np.flatnonzero((phi[r.borrower] > 0) & ~s.repo_unsecured)
            borrower = r.borrower[e]
            want = s.repo_amount[e] * phi[borrower]
            want_tot = np.bincount(borrower, want, minlength=n)
            with np.errstate(divide="ignore", invalid="ignore"):
                f = np.where(want_tot > 0, np.minimum(1.0, np.maximum(s.cash, 0.0) / want_tot), 0.0)
            rep = want * f[borrower]
            s.repo_amount[e] -= rep
            s.edges_moved("repo_amount")
            s.repo_recall = np.maximum(np.minimum(s.repo_recall, s.repo_amount), 0.0)
            s.cash -= np.bincount(borrower, rep, minlength=n)
            s.cash += np.bincount(r.lender[e], rep, minlength=n)
        # close futures and swaps with the outside world; release IM on the closed part
        if close.any():
            rel = s.im_posted * close
            s.im_posted -= rel
            s.edges_moved("im_posted")
            s.im_due *= 1.0 - close  # the closed share's IM call lapses with it
            s.cash += s.by_source(rel)
            s.cash -= s.by_target(rel)
            s.ext_notional += self._per_book(-flow)
            s.notional = s.notional * (1.0 - close)
            s.edges_moved("notional")

    def _pool_available(self, weights: np.ndarray) -> np.ndarray:
        """New MMF financing each dealer could get: spare MMF capacity pro rata to room."""
        s = self.s
        if not self.ch.repo_market:
            return np.zeros(s.n)
        demand, supply = self._funding_utilisation()
        mmf_cash = float(np.maximum(s.cash[self.is_mmf], 0.0).sum())
        return pi.allocate(min(max(0.0, supply - demand), mmf_cash), weights)

    def _finance_dealers(self, cost: np.ndarray, bought: np.ndarray) -> None:
        """Dealers pay for inventory with new MMF financing (at 1 - pool haircut), then
        standing facilities (against the bonds bought), then cash."""
        s = self.s
        if not cost.any():
            return
        mmf_plan = self.pool_plan - self.facility_plan
        want = cost * (1.0 - self.p.pool_haircut_frac)
        borrow = np.minimum(mmf_plan, want)
        mmf_cash = np.where(self.is_mmf, np.maximum(s.cash, 0.0), 0.0)
        total = float(borrow.sum())
        if total > mmf_cash.sum():  # never lend cash the MMFs do not have
            borrow *= mmf_cash.sum() / total
            total = float(borrow.sum())
        if total > 0:
            lend = pi.allocate(total, mmf_cash)
            s.cash -= lend
            s.pool_lent += lend
            s.cash += borrow
            s.pool_borrowed += borrow
        rest = np.maximum(np.minimum(self.facility_plan, want - borrow), 0.0)
        if rest.any():
            for pol in self._each_policy():
                rest = rest - pol.finance(self, rest, bought)
        s.cash -= cost

    # --- the day ---------------------------------------------------------------------------
    def start_day(self, t: int) -> DayLog:
        s, n, p = self.s, self.s.n, self.p
        s.day = t
        self.peak_utilisation = 0.0
        nb = len(self.buckets)
        log = DayLog(
            *(np.zeros(n) for _ in range(9)),
            sales_by_bucket=np.zeros((n, nb)),
            absorbed_by_dealers=np.zeros((n, nb)),
            bought_outside=np.zeros(nb),
            policy_bought=np.zeros(nb),
        )
        m = s.cs.market
        # lenders and haircut setters act on yesterday's close (marked, consistent books)
        close_leverage = s.leverage()
        close_loss = s.loss_frac()
        s.thaw()  # from here on the day changes the books
        # 1. shocks
        s.y_fund_bp += self.rate_shock[t]
        s.impact_bp *= 1.0 - p.impact_decay_frac
        s.fut_impact_bp *= 1.0 - p.impact_decay_frac
        s.vol_multiplier = vo.volatility_multiplier(
            float(self._path("volatility_multiplier")[t]),
            self.realised_vol,
            m.volatility_index,
            weight=p.realised_vol_weight_frac if self.ch.realised_volatility else 0.0,
        )
        s.vol = m.volatility_index * s.vol_multiplier
        self.capacity_shock = float(self._path("dealer_capacity_shock_frac")[t])
        self.pullback = float(self._path("mmf_repo_pullback_frac")[t])
        self._set_prices()
        # interest accrues onto the loans (no cash moves until repaid)
        r = s.repo
        market_rate = np.where(
            self.rate_cap_eligible[r.borrower],
            min(s.repo_rate_pct, self.rate_cap),
            s.repo_rate_pct,
        )
        cb = self._topology("cb", lambda: r.segment == hc.CENTRAL_BANK)
        rate = np.where(cb, r.rate_pct, market_rate + s.repo_spread_pct)
        interest = np.where(s.repo_unsecured, 0.0, s.repo_amount * rate / 100.0 / p.day_count_days)
        s.repo_amount += interest
        s.edges_moved("repo_amount")
        s.pnl["funding_cost"] -= s.by_borrower(interest)
        s.pnl["funding_cost"] += s.by_lender(interest)
        pool_int = s.repo_rate_pct / 100.0 / p.day_count_days
        s.pnl["funding_cost"] -= s.pool_borrowed * pool_int
        s.pnl["funding_cost"] += s.pool_lent * pool_int
        s.pool_borrowed *= 1 + pool_int
        s.pool_lent *= 1 + pool_int
        # 2. risk parameters
        vol_ratio = s.vol_multiplier
        s.im_multiplier = mg.im_multiplier(
            vol_ratio,
            elasticity=p.im_vol_elasticity,
            apc_buffer_frac=p.im_apc_buffer_frac,
            addon_frac=float(self._path("initial_margin_addon_frac")[t]),
        )
        for pol in self._each_policy():
            pol.adjust(self)
        if self.ch.haircuts:
            addon = hc.borrower_addon(
                close_leverage,
                self.leverage0,
                close_loss,
                leverage_sensitivity=p.haircut_leverage_sensitivity_frac,
                loss_sensitivity=p.haircut_loss_sensitivity_frac,
            )
            h = hc.haircuts(
                r.haircut_frac,
                r.segment,
                addon[r.borrower],
                market_addon=p.haircut_vol_sensitivity_frac * max(0.0, vol_ratio - 1.0),
                scenario_addon=float(self._path("haircut_addon_frac")[t]),
                triparty_pass_through=p.triparty_haircut_pass_through_frac,
                max_haircut=p.max_haircut_frac,
            )
            s.repo_haircut = (
                np.maximum(h, self.haircut_floor) if hasattr(self, "haircut_floor") else h
            )
        if self.ch.funding_runs:
            lev = close_leverage
            beh = s.cs.behaviour
            period = self._topology("roll_period", lambda: hc._roll_period(r.tenor_days, r.segment))
            maturing = hc.maturing_today(r.tenor_days, t, r.segment, period=period)
            maturing &= ~s.repo_unsecured
            max_lev = self._topology(
                "lender_max_lev", lambda: beh["lender_max_borrower_leverage_ratio"][r.lender]
            )
            max_loss = self._topology(
                "lender_max_loss", lambda: beh["lender_max_borrower_loss_frac"][r.lender]
            )
            runs = hc.refuse_to_roll(
                maturing,
                lev[r.borrower],
                close_loss[r.borrower],
                s.defaulted[r.borrower],
                max_lev,
                max_loss,
            )
            log.repo_recalled += s.by_borrower(np.where(runs, s.repo_amount, 0.0))
            s.repo_recall = np.where(runs, s.repo_amount, s.repo_recall)
        rationed = np.minimum(self.rationed, s.repo_amount)
        s.repo_recall = np.maximum(s.repo_recall, rationed)
        self.rationed = np.zeros_like(self.rationed)
        # redemptions (what was not paid yesterday is still owed)
        carried = np.where(s.defaulted, 0.0, self.redemption_due)
        self.redemption_due = carried
        self.redemption_share = np.zeros(n)
        nav = s.tracked_equity()
        if self.ch.redemptions:
            ret = self.last_return  # yesterday's return drives today's flows
            sens = s.cs.behaviour["redemption_sensitivity_ratio"]
            share = np.zeros(n)
            am, mmf = self.mask["asset_manager"], self.is_mmf
            share[am] = dl.redemption_share(
                float(self._path("am_redemption_frac")[t]), ret[am], sens[am]
            )
            share[mmf] = dl.redemption_share(
                float(self._path("mmf_outflow_frac")[t]), ret[mmf], sens[mmf]
            )
            share[s.defaulted] = 0.0
            self.redemption_share = share
            self.redemption_due = carried + share * np.maximum(nav, 0.0)
        self.to_liquidate = getattr(self, "to_liquidate", np.zeros_like(s.par))
        return log

    def run_day(self, t: int) -> DayLog:
        """Steps 1-9 of one day; rounds 4-8 repeat until nothing changes (bounded)."""
        log = self.start_day(t)
        self.books_changed = True  # interest accrued, shocks applied
        p = self.p
        self.mark(log)
        first = True
        day_sales = 0.0
        k = 0
        while k < p.max_iterations:
            k += 1
            owed = self.pay(log)
            new_defaults = self.defaults(owed, log)
            if new_defaults:
                owed = self.pay(log)
            self.raised_cash = False
            sell, phi, close = self.plan(owed, first, log)
            first = False
            active = (
                sell.sum() > p.tolerance_usd_bn or phi.any() or close.any() or self._any_order()
            )
            if active:
                absorbed, flow = self.clear(sell, close, log)
                self.mark_prices(log)  # positions still as before the trades
                self.settle(sell, phi, close, absorbed, flow, log)
                self.mark_requirements(log)  # on the positions after the trades
                self.books_changed = True
                traded = float(self._sold(sell) @ self.s.price) / 100.0
                day_sales += traded
                converged = traded <= p.convergence_frac * day_sales
                if not (converged and not self.defaults(self.owed(), log)):
                    continue  # the next round pays, checks defaults and plans again
                # the spiral has converged: what little is still due is paid tomorrow
                break
            if new_defaults or self.raised_cash or self.clearing(log):
                continue  # estates to liquidate, cash raised to pay, or clearing losses
            break
        log.iterations = k
        log.bound_hit = k >= p.max_iterations
        self.end_day(log)
        return log

    def end_day(self, log: DayLog) -> None:
        """Step 9: repo rate, dealers' financing, MMF rationing, utilisation."""
        s, p = self.s, self.p
        a, liab = s.balance()
        room = pi.dealer_room(a - liab, a - self._exposure_relief(a), self.slr, self.capacity_shock)
        self.utilisation = pi.utilisation(
            float(room[self.is_dealer & ~s.defaulted].sum()), self.room_ref
        )
        self.peak_utilisation = max(self.peak_utilisation, self.utilisation)
        demand, supply = self._funding_utilisation()
        d0, s0 = self.repo_market0
        if self.ch.repo_market and (supply > 0 or demand > 0):
            x = rm.funding_utilisation(demand, supply)
            x0 = rm.funding_utilisation(d0, s0)
            s.repo_rate_pct = rm.repo_rate(
                x,
                x0,
                on_rrp_pct=s.cs.market.on_rrp_rate_pct,
                spread0_pct=self.spread0
                if s.cs.market.repo_rate_pct > s.cs.market.on_rrp_rate_pct
                else 0.01,
                convexity=p.repo_rate_convexity,
                cap=p.funding_utilisation_cap_frac,
            )
            s.repo_rate_pct = min(s.repo_rate_pct, p.max_repo_rate_pct)
            if x > 1.0 and self.ch.funding_runs:
                r = s.repo
                mmf_on = self.is_mmf[r.lender] & (r.segment != hc.CENTRAL_BANK) & ~s.repo_unsecured
                excess = demand - supply
                tot = float(s.repo_amount[mmf_on].sum())
                if tot > 0:
                    self.rationed = np.where(mmf_on, s.repo_amount * min(1.0, excess / tot), 0.0)
        for pol in self._each_policy():
            pol.end_day(self, log)
        y = s.y_fund_bp + s.impact_bp
        self.realised_var = vo.ewma_variance(
            self.realised_var, y - self.close_yield_bp, p.realised_vol_decay_frac
        )
        self.realised_vol = vo.realised_index(self.realised_var, self.vol_tenor_weights)
        self.close_yield_bp = y
        nav = s.tracked_equity()
        with np.errstate(divide="ignore", invalid="ignore"):
            # the day's return on NAV, net of capital paid out today
            paid = log.redemptions_paid
            self.last_return = np.where(self.nav_prev > 0, (nav + paid) / self.nav_prev - 1.0, 0.0)
        self.nav_prev = nav
        s.freeze()  # the closing books, shared by the invariants, the recorder and tomorrow


def _run(system: System, scenario: Scenario, policies, rng, *, institutions: bool) -> Recorder:
    run = Run(system, scenario, build(policies), np.random.default_rng(rng))
    run.seed = rng if isinstance(rng, int) else None
    rec = Recorder(run, institutions=institutions)
    rec.record_initial()
    for t in range(scenario.days):
        log = run.run_day(t)
        check_invariants(run, day=t + 1)
        rec.record_day(log)
    return rec


def simulate(system: System, scenario: Scenario, policies=(), *, rng=None):
    """Run ``scenario`` on ``system`` with ``policies``; returns a :class:`contagion.Result`.

    Parameters
    ----------
    system : System
    scenario : Scenario
    policies : sequence of policy objects (see :mod:`contagion.policies`)
    rng : numpy Generator, int or None
        Randomness for stochastic policies or parameters; the core engine is deterministic.
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
