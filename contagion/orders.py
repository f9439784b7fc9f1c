"""Policies' orders, and the desk that executes them through the ledger.

A policy never moves an amount itself. Its hooks (:class:`contagion.policies.base.Policy`)
see a read-only view of the state and return orders; the engine's :class:`PolicyDesk`
executes them with the :class:`~contagion.ledger.Ledger` and reports each fill back to the
policy (which keeps its own accounts, usage and costs). Order types:

==========================  ======================================================
order                       executed as
==========================  ======================================================
:class:`OpenFacility`       set-up: repo edges (zero amount) from a lender to
                            eligible borrowers, one per bucket
:class:`HaircutFloor`       repo haircuts floored per edge (ex ante: before the
                            shock, borrowers meet it by deleveraging at t0 prices)
:class:`IMMultiplier`       the CCPs' IM multiplier set for the day
:class:`PolicyRateChange`   the policy rates move together (bp)
:class:`RecallFacility`     the facility's loans are called
:class:`LoanOffer`          standing lending: eligible institutions borrow what
                            they cannot pay and refinance recalled repo, against free
                            and released collateral, dealers finance inventory, within
                            the limit; a market facility caps the GC rate at its cost
:class:`Bid`                purchases per bucket at the clearing price, netted from
                            sales before price impact; paid with new reserves or
                            by a fund outside the system
:class:`Interception`       planned sales cancelled and replaced by a loan on the
                            policy's facility edges
==========================  ======================================================

Policies also answer queries (leverage-ratio exclusions, new issuance, futures sales, whether
they trade today); see the hook table in :mod:`contagion.policies.base`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from contagion.mechanisms import facilities as fa
from contagion.mechanisms.haircuts import CENTRAL_BANK
from contagion.sums import dot
from contagion.topology import append_repo_edges

# --- order types ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenFacility:
    """Repo edges from ``lender`` to each of ``borrowers`` in every bucket (set-up only)."""

    lender: int
    borrowers: np.ndarray  # institution indices
    haircut_frac: float
    rate_pct: float
    label: str  # edge ids are "<label>:<institution>:<bucket>"


@dataclass(frozen=True)
class HaircutFloor:
    """Minimum haircut per repo edge (fraction); ``ex_ante``: in force before the shock."""

    floor_frac: np.ndarray
    ex_ante: bool = False


@dataclass(frozen=True)
class IMMultiplier:
    """The CCPs' initial-margin multiplier for the day (replaces the computed one)."""

    value: float


@dataclass(frozen=True)
class PolicyRateChange:
    """The policy rates (target range, IORB, ON RRP, SRF minimum bid, discount rate) move
    together by ``change_bp``."""

    change_bp: float


@dataclass(frozen=True)
class RecallFacility:
    """The loans on ``edges`` are called (the facility closes)."""

    edges: np.ndarray


@dataclass(frozen=True)
class LoanOffer:
    """A standing facility's terms for its next loans (:mod:`contagion.mechanisms.facilities`)."""

    lender: int
    edges: np.ndarray  # the facility's repo edges (one per borrower and bucket)
    haircut_frac: float
    eligible: np.ndarray  # bool per institution
    limit_left_usd_bn: float
    min_shortfall_usd_bn: float = 0.0
    finances_inventory: bool = True
    #: a market facility: eligible dealers borrow at ``cost_pct`` (rate plus stigma) and lend
    #: on while the market pays more, which caps the GC rate (contagion.mechanisms.repo_market)
    cost_pct: float = np.inf
    centrally_cleared: bool = False  # facility trades netted: no balance-sheet room used


@dataclass(frozen=True)
class Bid:
    """Purchases of ``par`` per bucket this round, paid by ``payer``."""

    par: np.ndarray
    payer: Literal["central_bank", "outside"]
    #: with ``payer="outside"``: institutions whose cash pays the outside fund for other
    #: assets it sells them (a fund financed from existing assets); None: nobody's
    investors: np.ndarray | None = None


@dataclass(frozen=True)
class Interception:
    """Planned sales cancelled (par, n x buckets) and loans made instead on facility
    ``edges`` from ``lender`` (USD bn per edge)."""

    cancel_par: np.ndarray
    lender: int
    edges: np.ndarray
    amount: np.ndarray


@dataclass(frozen=True)
class Fill:
    """What was executed of a policy's order (USD bn)."""

    par: np.ndarray | None = None  # bonds bought per bucket
    cost_usd_bn: float = 0.0
    loans: np.ndarray | None = None  # per institution
    edge_amounts: np.ndarray | None = None  # per facility edge
    purpose: str = ""  # "shortfall", "inventory" or "interception"


# --- the desk -------------------------------------------------------------------------------


class PolicyDesk:
    """The policies of a run and the execution of their orders (engine side)."""

    def __init__(self, policies, views) -> None:
        self.policies = tuple(policies)
        self.views = tuple(views)
        self.pending: dict[int, Bid] = {}

    def __bool__(self) -> bool:
        return bool(self.policies)

    def pairs(self):
        return zip(self.policies, self.views, strict=True)

    # --- set-up ---------------------------------------------------------------------------
    def set_up(self, cs, buckets: list[str]):
        """Validate each policy against the system and open its facilities' repo edges;
        returns the repo edges of the run (the system's, then the facilities')."""
        repo = cs.repo
        for pol, view in self.pairs():
            pol.validate(view)
            for order in pol.setup(view):
                if not isinstance(order, OpenFacility):
                    raise TypeError(f"not a set-up order: {order!r}")
                repo, edges = open_facility(repo, order, cs, buckets)
                pol.facility_opened(edges)
        return repo

    def initial_records(self) -> list[dict]:
        return [pol.initial_record(view) for pol, view in self.pairs()]

    def ex_ante(self, state, ctx, ledger) -> None:
        """Requirements in force before the shock: borrowers meet them at t0 prices."""
        from contagion.mechanisms.deleveraging import ex_ante_step

        for pol, view in self.pairs():
            for order in pol.ex_ante(view):
                if not (isinstance(order, HaircutFloor) and order.ex_ante):
                    raise TypeError(f"not an ex-ante order: {order!r}")
                sold = ex_ante_step(state, ctx, ledger, order.floor_frac)
                pol.filled(view, Fill(cost_usd_bn=sold, purpose="ex_ante"))

    # --- start of day ---------------------------------------------------------------------
    def start_day(self, state, ledger) -> None:
        """Each policy decides whether it acts today; its day orders are executed."""
        for pol, view in self.pairs():
            for order in pol.on_day(view) or ():
                self.execute_day_order(order, state, ledger)

    @staticmethod
    def execute_day_order(order, state, ledger) -> None:
        if isinstance(order, RecallFacility):
            state.repo_recall[order.edges] = state.repo_amount[order.edges]
        elif isinstance(order, PolicyRateChange):
            from contagion.mechanisms.policy_rates import shift

            shift(state, order.change_bp)
        elif isinstance(order, HaircutFloor):
            np.maximum(state.haircut_floor, order.floor_frac, out=state.haircut_floor)
        elif isinstance(order, IMMultiplier):
            state.im_multiplier = float(order.value)
        else:
            raise TypeError(f"not a day order: {order!r}")

    # --- queries --------------------------------------------------------------------------
    def wants_to_trade(self) -> bool:
        return any(pol.wants_to_trade(view) for pol, view in self.pairs())

    def leverage_exclusion(self, n: int, assets: np.ndarray) -> np.ndarray:
        """Assets policies exclude from leverage exposure, per institution (USD bn)."""
        relief = np.zeros(n)
        for pol, view in self.pairs():
            out = pol.leverage_exclusion(view, assets)
            if out is not None:
                relief = relief + out
        return np.clip(relief, 0.0, assets)

    def loan_offers(self) -> list[tuple[int, LoanOffer]]:
        out = []
        for i, (pol, view) in enumerate(self.pairs()):
            offer = pol.loan_offer(view)
            if offer is not None:
                out.append((i, offer))
        return out

    # --- standing facilities --------------------------------------------------------------
    def lend_on_shortfalls(self, state, topo, ledger, owed) -> None:
        """Standing facilities lend to eligible institutions whose cash falls short of what
        they owe, and refinance eligible dealers' recalled repo while the market pays more
        than the facility's cost, before anyone sells (``facilities.loans_for_shortfall``)."""
        for i, offer in self.loan_offers():
            shortfall = owed() - np.maximum(state.cash, 0.0)
            made = fa.loans_for_shortfall(state, topo, ledger, offer, shortfall)
            if made is not None:
                loans, x = made
                ledger.lend_on_edges(offer.edges, x, offer.lender)
                pol, view = self.policies[i], self.views[i]
                pol.filled(view, Fill(loans=loans, edge_amounts=x, purpose="shortfall"))

    def facility_supply(self, state, ctx, ledger):
        """(cost %, capacity USD bn, eligible borrowers) of the market facilities open today:
        the cheapest one's cost caps the GC rate; capacities add up, each within its eligible
        dealers' balance-sheet room unless its trades are centrally cleared."""
        cost, capacity, eligible = np.inf, 0.0, None
        for _, offer in self.loan_offers():
            if not np.isfinite(offer.cost_pct) or offer.limit_left_usd_bn <= 0:
                continue
            cap = fa.market_capacity(state, ctx, ledger, offer, self)
            if cap <= 0:
                continue
            cost = min(cost, offer.cost_pct)
            capacity += cap
            eligible = offer.eligible if eligible is None else eligible | offer.eligible
        return cost, capacity, eligible

    def inventory_capacity(self, state, topo, room: np.ndarray) -> np.ndarray:
        """New inventory financing the facilities could give each dealer (USD bn)."""
        cap = np.zeros(topo.n)
        self._inventory_offers = []
        for i, offer in self.loan_offers():
            if offer.finances_inventory:
                self._inventory_offers.append((i, offer))
                cap = cap + fa.inventory_capacity(state, topo, offer, room)
        return cap

    def inventory_haircut(self, topo) -> np.ndarray:
        """The largest haircut among the facilities each dealer may finance inventory at
        (fraction; 0 where none), set by :meth:`inventory_capacity`: the share of a
        purchase the dealer must pay from its own cash when a facility finances it."""
        h = np.zeros(topo.n)
        for _, offer in getattr(self, "_inventory_offers", ()):
            h = np.where(offer.eligible, np.maximum(h, offer.haircut_frac), h)
        return h

    def finance_inventory(self, state, topo, ledger, rest: np.ndarray, bought) -> None:
        """Facilities lend against the bonds dealers just bought, up to ``rest`` each."""
        for i, offer in getattr(self, "_inventory_offers", ()):
            lent, x = fa.inventory_loans(state, topo, offer, rest, bought)
            if lent is None:
                continue
            ledger.lend_on_edges(offer.edges, x, offer.lender)
            pol, view = self.policies[i], self.views[i]
            pol.filled(view, Fill(loans=lent, edge_amounts=x, purpose="inventory"))
            rest = rest - lent

    # --- the cash and futures markets -----------------------------------------------------
    def bids(self, nb: int, sold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(par bid, par newly issued) per bucket this round; bids are kept for settlement."""
        bids = np.zeros(nb)
        supply = np.zeros(nb)
        self.pending = {}
        for i, (pol, view) in enumerate(self.pairs()):
            bid = pol.bid(view, sold)
            if bid is not None:
                self.pending[i] = bid
                bids += bid.par
            issued = pol.issue(view)
            if issued is not None:
                supply += issued
        return bids, supply

    def futures_orders(self, flow: np.ndarray) -> np.ndarray:
        for pol, view in self.pairs():
            out = pol.futures_order(view, flow)
            if out is not None:
                flow = flow + out
        return flow

    def settle_bids(self, state, topo, ledger, price_frac: np.ndarray, bought: np.ndarray):
        """Pay for what the policies bought this round; adds the par to ``bought``."""
        for i, bid in self.pending.items():
            par = bid.par
            if not par.any():
                continue
            cost = dot(par, price_frac)
            if bid.payer == "central_bank":
                ledger.central_bank_buys(topo.central_bank, par, cost)
            else:
                ledger.outside_fund_buys(par, cost)
                if bid.investors is not None:
                    cash = np.where(
                        bid.investors & ~state.defaulted, np.maximum(state.cash, 0.0), 0.0
                    )
                    tot = cash.sum()
                    drain = cash * min(1.0, cost / tot) if tot > 0 else cash
                    ledger.buy_other_assets_from_outside(drain)
            pol, view = self.policies[i], self.views[i]
            pol.filled(view, Fill(par=par, cost_usd_bn=cost))
            bought += par
        self.pending = {}

    # --- sales ----------------------------------------------------------------------------
    def intercept(self, state, ledger, planned: np.ndarray) -> np.ndarray:
        """Planned sales after policies intercepted some (par, n x buckets)."""
        for pol, view in self.pairs():
            order = pol.intercept_sales(view, planned)
            if order is None:
                continue
            cancel = np.minimum(order.cancel_par, planned)
            planned = planned - cancel
            if order.amount.any():
                ledger.lend_on_edges(order.edges, order.amount, order.lender)
            pol.filled(
                view,
                Fill(par=cancel.sum(axis=0), edge_amounts=order.amount, purpose="interception"),
            )
        return planned

    # --- end of day -----------------------------------------------------------------------
    def end_day(self) -> None:
        for pol, view in self.pairs():
            pol.on_day_end(view)


def open_facility(repo, order: OpenFacility, cs, buckets: list[str]):
    """``repo`` with the facility's edges (one per borrower and bucket) and their indices."""
    nb = len(buckets)
    borrower = np.repeat(order.borrowers, nb)
    bucket = np.tile(np.arange(nb), len(order.borrowers))
    ids = [f"{order.label}:{cs.ids[i]}:{buckets[b]}" for i, b in zip(borrower, bucket, strict=True)]
    k = len(borrower)
    start = len(repo.ids)
    repo = append_repo_edges(
        repo,
        lender=np.full(k, order.lender),
        borrower=borrower,
        bucket=bucket,
        haircut=np.full(k, order.haircut_frac),
        rate_pct=np.full(k, order.rate_pct),
        segment=CENTRAL_BANK,
        ids=ids,
    )
    return repo, np.arange(start, start + k)
