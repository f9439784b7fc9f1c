"""The ledger: the only code that moves cash, par and edge amounts.

Every transfer of a run goes through a :class:`Ledger` method, each of which keeps the books
double-entry: what one institution pays another receives, what leaves the system is booked
as a flow with the outside world (``State.external_cash_in``, ``State.external_par_out``),
and what changes equity is booked in a P&L channel (``State.pnl``). Mechanisms decide *what*
moves (a margin call, a sale, a default's close-out); the ledger moves it. The invariants
of :mod:`contagion.testing` then hold after every step.

Reads of the books (balance sheets, sums of edge amounts by node, free collateral) are here
too, because the ledger knows when they go stale: sums over edges are cached between moves
of the edge array they depend on, balance sheets between any two moves (or a repricing,
:meth:`repriced`), and the closing balance sheets of a day are computed once (:meth:`freeze`)
and shared by the recorder, the invariants and the next day's lenders.
On large systems payments touch only the edges with something due (the dense or sparse
choice is the ledger's, :data:`SPARSE_MIN_EDGES`); the arithmetic and the order of every
sum are the same either way.

Balance sheet of institution ``i`` (USD bn; prices per 100 face)::

    assets_i      = cash + sum_b par_ib P_b / 100 + other assets + MMF pool lent
                    + repo lent + IM posted + unsecured claims + VM and assessments receivable
    liabilities_i = other liabilities + MMF pool borrowed + repo borrowed + IM held
                    + unsecured debts + VM and assessments payable + guarantees owed to FICC

(FICC's assets include the guarantees owed to it: :mod:`contagion.mechanisms.sponsored`.)

:class:`DebugLedger` keeps the amount arrays read-only outside its methods, so code that
moves an amount without the ledger fails at the line that does it (``Simulation(debug=True)``).
"""

from __future__ import annotations

import numpy as np

from contagion.state import PNL, State
from contagion.sums import dot, rowdot, zeroed
from contagion.topology import Topology

#: From this many repo plus margined edges on, payments and unwind repayments touch only
#: the edges with something due; below it whole-array arithmetic is faster.
SPARSE_MIN_EDGES = 300_000

# name -> (incidence, per-edge values) of the cached sums
_EDGE_SUMS = {
    "repo_lent": ("lender", "repo_amount"),
    "repo_borrowed": ("borrower", "repo_amount"),
    "im_posted_by": ("source", "im_posted"),
    "im_held": ("target", "im_posted"),
    "unsecured_claims": ("creditor", "unsec_amount"),
    "unsecured_debts": ("debtor", "unsec_amount"),
    "dues_receivable": ("target", "dues"),  # unpaid VM and assessments
    "dues_payable": ("source", "dues"),
    "abs_notional": ("source", "abs_notional"),
}
# the sums in the balance sheet: assets, then liabilities
_BALANCE_SUMS = (
    "repo_lent",
    "im_posted_by",
    "unsecured_claims",
    "dues_receivable",
    "repo_borrowed",
    "im_held",
    "unsecured_debts",
    "dues_payable",
)
# edge array -> the cached values that depend on it
_SUMS_OF = {
    "repo_amount": ("repo_lent", "repo_borrowed"),
    "im_posted": ("im_posted_by", "im_held"),
    "dues": ("dues", "dues_receivable", "dues_payable"),  # vm_due and assess_due
    "notional": ("abs_notional",),
    "unsec_amount": ("unsecured_claims", "unsecured_debts"),
}
#: State arrays only the ledger writes (read-only elsewhere in debug mode).
AMOUNTS = (
    "cash",
    "par",
    "other_assets",
    "other_liabilities",
    "pool_borrowed",
    "pool_lent",
    "capital_flows",
    "pnl",
    "repo_amount",
    "notional",
    "im_posted",
    "vm_due",
    "im_due",
    "assess_due",
    "ext_notional",
    "unsec_amount",
    "guarantee_due",
    "external_par_out",
    "par_issued",
)


class Ledger:
    """Moves amounts in ``state`` (indexed by ``topo``) and reads the books.

    Parameters
    ----------
    state : State
        Mutated in place (arrays are never rebound, so read-only views stay current).
    topo : Topology
    """

    def __init__(self, state: State, topo: Topology) -> None:
        self.s = state
        self.topo = topo
        self._cache: dict[str, np.ndarray] = {}
        self._closing: tuple[np.ndarray, np.ndarray] | None = None
        self._sheet: tuple[np.ndarray, np.ndarray] | None = None  # until the next move
        self.dense = len(state.repo_amount) + len(state.notional) < SPARSE_MIN_EDGES

    # --- caches -----------------------------------------------------------------------------
    def moved(self, *arrays: str) -> None:
        """Edge amounts changed: drop the cached sums over ``arrays`` ("repo_amount",
        "im_posted", "dues", "notional", "unsec_amount"), or all of them."""
        self._sheet = None
        cache = self._cache
        if not cache:
            return
        if not arrays:
            cache.clear()
            return
        for name in arrays:
            for key in _SUMS_OF[name]:
                cache.pop(key, None)

    def freeze(self) -> None:
        """Compute the day's closing balance sheets once; reads share them until ``thaw``."""
        self._closing = None
        self._closing = self.balance()

    def thaw(self) -> None:
        """The books are about to change: drop the closing balance sheets and cached sums."""
        self._closing = None
        self._sheet = None
        self._cache.clear()

    def repriced(self) -> None:
        """Prices changed (``State.price``, which no move writes): drop the balance sheets."""
        self._sheet = None

    def edge_sum(self, key: str) -> np.ndarray:
        """One sum over edges by node (see ``_EDGE_SUMS``), cached until its edges move."""
        cache = self._cache
        out = cache.get(key)
        if out is not None:
            return out
        s = self.s
        inc, values = _EDGE_SUMS[key]
        if values == "dues":  # (the same vector for both sides)
            x = cache.get("dues")
            if x is None:
                x = cache["dues"] = s.vm_due + s.assess_due
        elif values == "abs_notional":
            x = np.abs(s.notional)
        else:
            x = getattr(s, values)
        out = cache[key] = self.topo.inc[inc] @ x
        return out

    def check_cache(self) -> str | None:
        """Name of a cached sum that differs from a fresh one (None: all fresh)."""
        s = self.s
        for key, out in list(self._cache.items()):
            if key == "dues":
                fresh = s.vm_due + s.assess_due
            else:
                inc, values = _EDGE_SUMS[key]
                x = (
                    s.vm_due + s.assess_due
                    if values == "dues"
                    else np.abs(s.notional)
                    if values == "abs_notional"
                    else getattr(s, values)
                )
                fresh = self.topo.inc[inc] @ x
            if not np.array_equal(out, fresh):
                return key
        for name, kept in (
            ("closing balance sheets", self._closing),
            ("balance sheets", self._sheet),
        ):
            if kept is None:
                continue
            closing, sheet, self._closing, self._sheet = self._closing, self._sheet, None, None
            a, liab = self.balance()
            self._closing, self._sheet = closing, sheet
            if not (np.array_equal(a, kept[0]) and np.array_equal(liab, kept[1])):
                return name
        return None

    # --- reads ------------------------------------------------------------------------------
    def holdings_value(self) -> np.ndarray:
        s = self.s
        return rowdot(s.par, s.price / 100.0)

    def balance(self) -> tuple[np.ndarray, np.ndarray]:
        """(assets, liabilities) per institution at current prices, USD bn."""
        if self._closing is not None:
            return self._closing
        if self._sheet is not None:
            return self._sheet
        cache = self._cache
        try:  # all eight cached: no calls
            sums = [cache[k] for k in _BALANCE_SUMS]
        except KeyError:
            sums = [self.edge_sum(k) for k in _BALANCE_SUMS]
        lent, im_out, claims, receivable, borrowed, im_in, debts, payable = sums
        s = self.s
        assets = (
            s.cash
            + self.holdings_value()
            + s.other_assets
            + s.pool_lent
            + lent
            + im_out
            + claims
            + receivable
        )
        liabilities = s.other_liabilities + s.pool_borrowed + borrowed + im_in + debts + payable
        if self.topo.has_ficc:  # guarantees owed to FICC (mechanisms.sponsored)
            liabilities = liabilities + s.guarantee_due
            assets = assets + np.where(self.topo.ficc_first, s.guarantee_due.sum(), 0.0)
        assets.flags.writeable = liabilities.flags.writeable = False  # shared until a move
        self._sheet = (assets, liabilities)
        return self._sheet

    def equity(self) -> np.ndarray:
        a, liab = self.balance()
        return a - liab

    def pnl_total(self, which: np.ndarray | None = None) -> np.ndarray:
        """Accumulated P&L over all channels (of the institutions ``which`` selects)."""
        # the channels added in order onto +0.0 (a reduction over the rows of a C-ordered
        # array; a column selection would be F-ordered and summed pairwise)
        total = np.add.reduce(np.ascontiguousarray(self.s.pnl), axis=0)
        return total if which is None else total[which]

    def tracked_equity(self, which: np.ndarray | None = None) -> np.ndarray:
        """Initial equity plus accumulated P&L by channel minus capital paid out (of the
        institutions selected by the mask or index ``which``, if given)."""
        s, ref = self.s, self.s.ref
        if which is None:
            return ref.equity0 + self.pnl_total() - s.capital_flows
        return ref.equity0[which] + self.pnl_total(which) - s.capital_flows[which]

    def loss_frac(self) -> np.ndarray:
        """Share of initial equity lost (0 when no loss; capital flows excluded)."""
        loss = -self.pnl_total()
        eq0 = self.s.ref.equity0
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(eq0 > 0, np.maximum(loss / eq0, 0.0), 0.0)

    def leverage(self) -> np.ndarray:
        a, liab = self.balance()
        e = a - liab
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(e > 0, a / e, np.inf)

    def repo_borrowed(self) -> np.ndarray:
        return self.edge_sum("repo_borrowed")

    def im_posted_by(self) -> np.ndarray:
        return self.edge_sum("im_posted_by")

    def pledged_value(self) -> tuple[np.ndarray, np.ndarray]:
        """Collateral value needed (as borrower) and received (as lender), (n, n_buckets).

        Value needed on an edge is amount / (1 - haircut); a lender may re-pledge what it
        receives (dealers' matched book), so both are in market value.
        """
        s, inc = self.s, self.topo.inc
        n, nb = s.par.shape
        v = zeroed(s.repo_amount / (1.0 - s.repo_haircut), s.repo_unsecured)
        need = (inc["borrower_bucket"] @ v).reshape(n, nb)
        got = (inc["lender_bucket"] @ v).reshape(n, nb)
        return need, got

    def free_par(self) -> np.ndarray:
        """Unencumbered par per institution and bucket (own holdings not pledged)."""
        s = self.s
        need, got = self.pledged_value()
        own_pledged = np.maximum(need - got, 0.0) / (s.price / 100.0)
        return np.maximum(s.par - own_pledged, 0.0)

    def ccp_books(self) -> np.ndarray:
        """Each CCP's net (row, instrument) book: members' notional plus the external side."""
        return self.s.ext_notional + self.topo.per_book(self.s.notional)

    def repo_due(self) -> np.ndarray:
        """What each secured repo edge's borrower must pay now: recalls and margin."""
        s = self.s
        return zeroed(np.minimum(s.repo_amount, s.repo_recall + s.repo_margin), s.repo_unsecured)

    # --- moves: funding costs ---------------------------------------------------------------
    def accrue_interest(self, interest: np.ndarray, pool_rate: float) -> None:
        """Repo interest accrues onto the loans (per edge, USD bn); the dealers' MMF pool
        at ``pool_rate`` per day (a fraction). No cash moves until repaid."""
        s, t = self.s, self.topo
        s.repo_amount += interest
        self.moved("repo_amount")
        s.pnl[PNL["funding_cost"]] -= t.by_borrower(interest)
        s.pnl[PNL["funding_cost"]] += t.by_lender(interest)
        s.pnl[PNL["funding_cost"]] -= s.pool_borrowed * pool_rate
        s.pnl[PNL["funding_cost"]] += s.pool_lent * pool_rate
        s.pool_borrowed *= 1 + pool_rate
        s.pool_lent *= 1 + pool_rate

    # --- moves: marking and margin --------------------------------------------------------
    def book_bond_pnl(self, fundamental: np.ndarray | None, fire_sale: np.ndarray) -> None:
        """Mark-to-market P&L of cash bonds, by channel (USD bn per institution)."""
        s = self.s
        if fundamental is not None:
            s.pnl[PNL["bond_fundamental"]] += fundamental
        s.pnl[PNL["fire_sale"]] += fire_sale

    def settle_vm(
        self, vm: np.ndarray, external_vm: np.ndarray, channel: str = "variation_margin"
    ) -> np.ndarray:
        """Variation margin (or swap coupons, ``channel="swap_carry"``): gains paid in cash by
        the CCP (target) to the member (source), losses called from the member (``vm_due``);
        the CCP's external side settles with the outside world. Returns what each source owes
        (USD bn)."""
        s, t = self.s, self.topo
        gain = np.maximum(vm, 0.0)
        loss = np.maximum(-vm, 0.0)
        s.cash += t.by_source(gain)
        s.cash -= t.by_target(gain)
        s.vm_due += loss
        self.moved("dues")
        row = PNL[channel]
        s.pnl[row] += t.by_source(vm)
        s.pnl[row] -= t.by_target(vm)
        ccp_ext = np.bincount(t.ccp_rows, external_vm, minlength=t.n)
        s.cash -= ccp_ext
        s.pnl[row] -= ccp_ext
        s.external_cash_in -= float(external_vm.sum())
        return t.by_source(loss)

    def receive_coupons(self, income: np.ndarray) -> None:
        """Holders receive coupons (USD bn each) from the Treasury, outside the system."""
        s = self.s
        s.cash += income
        s.pnl[PNL["coupon_income"]] += income
        s.external_cash_in += float(income.sum())

    def receive_capital(self, inflow: np.ndarray) -> None:
        """Funds receive new investors' cash from outside the system (capital, not P&L)."""
        s = self.s
        s.cash += inflow
        s.capital_flows -= inflow
        s.external_cash_in += float(inflow.sum())

    def call_im(self, call: np.ndarray) -> None:
        """Initial margin called (per margined edge, USD bn): due, paid with other dues."""
        self.s.im_due += call

    def release_im(self, release: np.ndarray) -> None:
        """Initial margin returned by the CCP to the member (per margined edge, USD bn)."""
        s, t = self.s, self.topo
        s.im_posted -= release
        self.moved("im_posted")
        s.cash += t.by_source(release)
        s.cash -= t.by_target(release)

    # --- moves: payments --------------------------------------------------------------------
    def pay_dues(self, repo_due: np.ndarray, m_due: np.ndarray, frac: np.ndarray) -> None:
        """Each payer pays ``frac`` of its repo and margin dues (per institution, in [0, 1]):
        repo repayments reduce the loan (and its recall and margin call), IM due is posted,
        VM and assessments go to the CCP."""
        s, t = self.s, self.topo
        r = t.repo
        if self.dense:
            paid = repo_due * frac[r.borrower]
            s.repo_amount -= paid
            self.moved("repo_amount")
            np.maximum(s.repo_recall - paid, 0.0, out=s.repo_recall)
            np.maximum(s.repo_margin - paid, 0.0, out=s.repo_margin)
            s.cash -= t.by_borrower(paid)
            s.cash += t.by_lender(paid)
            if m_due.any():
                f = frac[t.m_source]
                s.im_posted += s.im_due * f
                keep = 1.0 - f
                s.vm_due *= keep
                s.im_due *= keep
                s.assess_due *= keep
                self.moved("im_posted", "dues")
                m_paid = m_due * f
                s.cash -= t.by_source(m_paid)
                s.cash += t.by_target(m_paid)
            return
        n = t.n
        e = np.flatnonzero(repo_due)  # dues are >= 0: the other edges do not move
        if len(e):
            paid = repo_due[e] * frac[r.borrower[e]]
            s.repo_amount[e] -= paid
            self.moved("repo_amount")
            s.repo_recall[e] = np.maximum(s.repo_recall[e] - paid, 0.0)
            s.repo_margin[e] = np.maximum(s.repo_margin[e] - paid, 0.0)
            s.cash -= np.bincount(r.borrower[e], paid, minlength=n)
            s.cash += np.bincount(r.lender[e], paid, minlength=n)
        k = np.flatnonzero(m_due)
        if len(k):
            src = t.m_source[k]
            f = frac[src]
            s.im_posted[k] += s.im_due[k] * f
            keep = 1.0 - f
            s.vm_due[k] *= keep
            s.im_due[k] *= keep
            s.assess_due[k] *= keep
            self.moved("im_posted", "dues")
            m_paid = m_due[k] * f
            s.cash -= np.bincount(src, m_paid, minlength=n)
            s.cash += np.bincount(t.m_target[k], m_paid, minlength=n)

    def pay_redemptions(self, frac: np.ndarray) -> np.ndarray:
        """Funds pay ``frac`` of the redemptions due; the cash leaves the system as capital
        paid out (not a loss). Returns what each paid."""
        s = self.s
        red = s.redemption_due * frac
        s.redemption_due -= red
        s.cash -= red
        s.capital_flows += red
        s.external_cash_in -= float(red.sum())
        return red

    def repay_repo_plain(self, due: np.ndarray) -> None:
        """Borrowers repay ``due`` on each repo edge from cash (no recall bookkeeping)."""
        s, t = self.s, self.topo
        s.repo_amount -= due
        self.moved("repo_amount")
        s.cash -= t.by_borrower(due)
        s.cash += t.by_lender(due)

    # --- moves: other assets ----------------------------------------------------------------
    def sell_other_assets(self, sold: np.ndarray) -> None:
        """Other assets sold to buyers outside the system at book value (USD bn each)."""
        s = self.s
        s.other_assets -= sold
        s.cash += sold
        s.external_cash_in += float(sold.sum())

    def buy_other_assets_from_outside(self, amount: np.ndarray) -> None:
        """Institutions pay cash to outside sellers for other assets at book value."""
        s = self.s
        s.cash -= amount
        s.other_assets += amount
        s.external_cash_in -= float(amount.sum())

    # --- moves: facility loans --------------------------------------------------------------
    def extend_repo(self, amount: np.ndarray) -> None:
        """Lenders lend ``amount`` more on each repo edge (per edge, USD bn) against the
        borrower's unencumbered collateral in the edge's bucket."""
        s, t = self.s, self.topo
        s.repo_amount += amount
        self.moved("repo_amount")
        s.cash += t.by_borrower(amount)
        s.cash -= t.by_lender(amount)

    def lend_on_edges(self, edges: np.ndarray, amount: np.ndarray, lender: int) -> None:
        """``lender`` lends ``amount`` on repo ``edges`` (e.g. a standing facility's)."""
        s, r, n = self.s, self.topo.repo, self.topo.n
        s.repo_amount[edges] += amount
        self.moved("repo_amount")
        s.cash += np.bincount(r.borrower[edges], amount, minlength=n)
        s.cash[lender] -= amount.sum()

    # --- moves: the cash market ---------------------------------------------------------------
    def sell_bonds(self, sell: np.ndarray, price_frac: np.ndarray) -> None:
        """Sellers deliver ``sell`` (par, n x buckets) and receive its value in cash."""
        s = self.s
        s.par -= sell
        s.cash += rowdot(sell, price_frac)

    def issue_outside(self, par: np.ndarray, price_frac: np.ndarray) -> None:
        """The Treasury issues ``par`` (per bucket) into the market from outside; its buyers'
        cash leaves the system."""
        s = self.s
        s.par_issued += par
        s.external_cash_in -= dot(par, price_frac)

    def receive_bonds(self, par: np.ndarray) -> None:
        """Buyers receive ``par`` (n x buckets); they pay with :meth:`pay_cash`."""
        self.s.par += par

    def pay_cash(self, amount: np.ndarray) -> None:
        """Institutions pay ``amount`` of cash to sellers already credited (a settlement)."""
        self.s.cash -= amount

    def outside_buys(self, par: np.ndarray, price_frac: np.ndarray) -> None:
        """Investors outside the system buy ``par`` (per bucket): bonds leave, cash enters."""
        s = self.s
        s.external_par_out += par
        s.external_cash_in += dot(par, price_frac)

    def pool_finance(self, lend: np.ndarray, borrow: np.ndarray) -> None:
        """MMFs lend ``lend`` to the dealers' inventory-financing pool, dealers borrow
        ``borrow`` from it (equal totals), USD bn per institution."""
        s = self.s
        s.cash -= lend
        s.pool_lent += lend
        s.cash += borrow
        s.pool_borrowed += borrow

    def repay_pool(self, repay: np.ndarray) -> None:
        """Dealers repay ``repay`` (USD bn per institution, at most what each owes) of their
        inventory-financing pool debt; the money funds that lent to the pool get the cash
        back pro rata to their pool loans."""
        s = self.s
        total = float(repay.sum())
        lent = float(s.pool_lent.sum())
        if total <= 0 or lent <= 0:
            return
        if total > lent:  # never repay more than the money funds have lent to the pool
            repay = repay * (lent / total)
            total = lent
        back = s.pool_lent * (total / lent)
        s.cash -= repay
        s.pool_borrowed -= repay
        s.cash += back
        s.pool_lent -= back

    def central_bank_buys(self, cb: int, par: np.ndarray, cost: float) -> None:
        """The central bank buys ``par`` (per bucket) paying with new reserves."""
        s = self.s
        s.cash[cb] -= cost
        s.par[cb] += par

    def outside_fund_buys(self, par: np.ndarray, cost: float) -> None:
        """A fund outside the system buys ``par`` for ``cost``: bonds leave, cash enters."""
        s = self.s
        s.external_par_out += par
        s.external_cash_in += cost

    # --- moves: unwinds ---------------------------------------------------------------------
    def repay_unwound_repo(self, phi: np.ndarray) -> None:
        """Borrowers repay the share ``phi`` of their secured loans they unwound, as far as
        their cash allows (pro rata across their loans)."""
        s, t = self.s, self.topo
        r, n = t.repo, t.n
        if self.dense:
            want = zeroed(s.repo_amount * phi[r.borrower], s.repo_unsecured)
            want_tot = t.by_borrower(want)
            with np.errstate(divide="ignore", invalid="ignore"):
                f = np.where(want_tot > 0, np.minimum(1.0, np.maximum(s.cash, 0.0) / want_tot), 0.0)
            rep = want * f[r.borrower]
            s.repo_amount -= rep
            self.moved("repo_amount")
            np.maximum(np.minimum(s.repo_recall, s.repo_amount), 0.0, out=s.repo_recall)
            s.cash -= t.by_borrower(rep)
            s.cash += t.by_lender(rep)
            return
        e = np.flatnonzero((phi[r.borrower] > 0) & ~s.repo_unsecured)
        borrower = r.borrower[e]
        want = s.repo_amount[e] * phi[borrower]
        want_tot = np.bincount(borrower, want, minlength=n)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(want_tot > 0, np.minimum(1.0, np.maximum(s.cash, 0.0) / want_tot), 0.0)
        rep = want * f[borrower]
        s.repo_amount[e] -= rep
        self.moved("repo_amount")
        np.maximum(np.minimum(s.repo_recall, s.repo_amount), 0.0, out=s.repo_recall)
        s.cash -= np.bincount(borrower, rep, minlength=n)
        s.cash += np.bincount(r.lender[e], rep, minlength=n)

    def close_margined(self, close: np.ndarray) -> np.ndarray:
        """Close the share ``close`` of each future and swap with the CCP's external side:
        IM on the closed part is released and its call lapses. Returns the order flow
        (notional bought, + for buying back a short)."""
        s, t = self.s, self.topo
        flow = -s.notional * close
        rel = s.im_posted * close
        s.im_posted -= rel
        self.moved("im_posted")
        s.im_due *= 1.0 - close  # the closed share's IM call lapses with it
        s.cash += t.by_source(rel)
        s.cash -= t.by_target(rel)
        s.ext_notional += t.per_book(-flow)
        s.notional *= 1.0 - close
        self.moved("notional")
        return flow

    def unwind_to_outside(self, phi: np.ndarray, price_frac: np.ndarray) -> float:
        """Ex ante deleveraging at unchanged prices: holders sell the share ``phi`` of their
        bonds to investors outside the system, repay that share of every repo loan and
        close that share of their futures and swaps. Returns the value sold (USD bn)."""
        s, t = self.s, self.topo
        r = t.repo
        sold = s.par * phi[:, None]
        s.par -= sold
        value = rowdot(sold, price_frac)
        s.cash += value
        s.external_par_out += sold.sum(axis=0)
        s.external_cash_in += float(value.sum())
        rep = s.repo_amount * phi[r.borrower]
        s.repo_amount -= rep
        self.moved("repo_amount")
        s.cash -= t.by_borrower(rep)
        s.cash += t.by_lender(rep)
        close = phi[t.m_source]
        rel = s.im_posted * close
        s.im_posted -= rel
        self.moved("im_posted")
        s.cash += t.by_source(rel)
        s.cash -= t.by_target(rel)
        key = np.searchsorted(t.ccp_rows, t.m_target)
        col = np.where(t.is_swap, t.n_futures + t.m_instrument, t.m_instrument)
        np.add.at(s.ext_notional, (key, col), s.notional * close)
        s.notional *= 1.0 - close
        self.moved("notional")
        return float(value.sum())

    # --- moves: defaults ---------------------------------------------------------------------
    def seize_collateral(self, edges: np.ndarray, seized: np.ndarray, price_frac: np.ndarray):
        """Lenders on repo ``edges`` take ``seized`` par of the defaulted borrower's
        collateral in the loan's bucket; the loan shrinks by its value and what is left is
        an unsecured deficiency claim."""
        s, r = self.s, self.topo.repo
        b = r.bucket[edges]
        np.subtract.at(s.par, (r.borrower[edges], b), seized)
        np.add.at(s.par, (r.lender[edges], b), seized)
        s.repo_amount[edges] -= seized * price_frac[b]
        s.repo_amount[edges] = np.where(s.repo_amount[edges] > 1e-12, s.repo_amount[edges], 0.0)
        self.moved("repo_amount")
        s.repo_unsecured[edges] = True
        s.repo_recall[edges] = 0.0
        s.repo_margin[edges] = 0.0

    def ccp_close_out(
        self, edges: np.ndarray, cost: np.ndarray, uncovered: np.ndarray, returned: np.ndarray
    ) -> None:
        """A defaulted member's futures and swaps on ``edges`` are closed by the CCP: the
        defaulter's IM covers unpaid VM and assessments and the close-out ``cost`` (paid
        outside), the rest is ``returned`` to the estate, the ``uncovered`` loss falls on
        the CCP; the positions pass to the CCP's external side."""
        s, t = self.s, self.topo
        n = t.n
        src, tgt = t.m_source[edges], t.m_target[edges]
        s.cash += np.bincount(src, returned, minlength=n)
        s.cash -= np.bincount(tgt, returned + cost, minlength=n)
        s.external_cash_in -= float(cost.sum())
        s.pnl[PNL["default_losses"]] -= np.bincount(src, cost, minlength=n)
        s.pnl[PNL["shortfall_passed_on"]] += np.bincount(src, uncovered, minlength=n)
        s.pnl[PNL["default_losses"]] -= np.bincount(tgt, uncovered, minlength=n)
        s.im_posted[edges] = 0.0
        s.vm_due[edges] = 0.0
        s.im_due[edges] = 0.0
        s.assess_due[edges] = 0.0
        closed = np.zeros_like(s.notional)
        closed[edges] = s.notional[edges]
        s.ext_notional += t.per_book(closed)  # the outside side takes them over
        s.notional[edges] = 0.0
        self.moved()

    def assess(self, ccp: int, assessment: np.ndarray) -> None:
        """A CCP assesses surviving members (per margined edge, USD bn): a loss to each,
        a receivable of the CCP."""
        s, t = self.s, self.topo
        s.assess_due += assessment
        self.moved()
        s.pnl[PNL["default_losses"]] -= t.by_source(assessment)
        s.pnl[PNL["default_losses"]][ccp] += assessment.sum()

    def charge_guarantee(self, charge: np.ndarray) -> None:
        """Guarantors (a sponsored member's sponsor, surviving dealers) owe FICC ``charge``
        (per institution, USD bn) for its sponsored-repo deficiency: a default loss to each,
        FICC's recovery, paid in the pay rounds (:meth:`pay_guarantees`)."""
        s = self.s
        total = float(charge.sum())
        s.guarantee_due += charge
        s.pnl[PNL["default_losses"]] -= charge
        s.pnl[PNL["default_losses"]][self.topo.ficc_first] += total
        self._sheet = None

    def pay_guarantees(self, frac: np.ndarray) -> None:
        """Guarantors pay ``frac`` (per institution) of what they owe FICC, in cash."""
        s = self.s
        paid = s.guarantee_due * frac
        s.guarantee_due -= paid
        s.cash -= paid
        s.cash[self.topo.ficc_first] += float(paid.sum())
        self._sheet = None

    def write_off_guarantees(self, settled: np.ndarray) -> None:
        """Settled estates' guarantees (paid or written off by :meth:`settle_claims`)."""
        self.s.guarantee_due[settled] = 0.0
        self._sheet = None

    def estates_sell_other_assets(self, estates: np.ndarray) -> None:
        """Defaulted estates sell their other assets to outside buyers at book value."""
        s = self.s
        s.cash[estates] += s.other_assets[estates]
        s.external_cash_in += float(s.other_assets[estates].sum())
        s.other_assets[estates] = 0.0

    def settle_claims(self, debtor, creditor, amount, recovery) -> None:
        """Creditors of settled estates receive ``recovery`` of each claim in cash; the rest
        is their loss and the debtor's shortfall passed on."""
        s, n = self.s, self.topo.n
        got = amount * recovery
        lost = amount - got
        s.cash -= np.bincount(debtor, got, minlength=n)
        s.cash += np.bincount(creditor, got, minlength=n)
        s.pnl[PNL["default_losses"]] -= np.bincount(creditor, lost, minlength=n)
        s.pnl[PNL["shortfall_passed_on"]] += np.bincount(debtor, lost, minlength=n)

    def write_off_unsecured(self, settled: np.ndarray) -> None:
        """Unsecured edges of settled estates are gone (paid or written off)."""
        self.s.unsec_amount[settled] = 0.0
        self.moved("unsec_amount")

    def write_off_repo(self, edges: np.ndarray, settled: np.ndarray) -> None:
        self.s.repo_amount[edges] = np.where(settled, 0.0, self.s.repo_amount[edges])
        self.moved("repo_amount")

    def settle_pool(self, settled: np.ndarray, recovery: np.ndarray) -> None:
        """Estates' debts to the MMF financing pool: recoveries shared pro rata to what
        each MMF lent, the rest a loss to them."""
        s = self.s
        owed_pool = np.where(settled, s.pool_borrowed, 0.0)
        if not owed_pool.any():
            return
        got = owed_pool * recovery
        lent = s.pool_lent
        w = lent / lent.sum() if lent.sum() > 0 else lent
        s.cash -= got
        s.cash += got.sum() * w
        s.pnl[PNL["default_losses"]] -= (owed_pool - got).sum() * w
        s.pnl[PNL["shortfall_passed_on"]] += owed_pool - got
        s.pool_lent[:] = np.maximum(lent - owed_pool.sum() * w, 0.0)
        s.pool_borrowed[:] = np.where(settled, 0.0, s.pool_borrowed)

    def settle_outside_debts(self, settled: np.ndarray, recovery: np.ndarray) -> None:
        """Estates pay their other liabilities (owed outside the system) ``recovery`` of
        each; the unpaid rest is a loss outside the system."""
        s = self.s
        ext_owed = np.where(settled, s.other_liabilities, 0.0)
        got = ext_owed * recovery
        s.cash -= got
        s.external_cash_in -= float(got.sum())
        s.pnl[PNL["shortfall_passed_on"]] += ext_owed - got
        s.loss_outside += float((ext_owed - got).sum())
        s.other_liabilities[:] = np.where(settled, 0.0, s.other_liabilities)
        self.moved()


#: The ledger's methods that move amounts (the others only read).
MOVES = (
    "accrue_interest", "book_bond_pnl", "settle_vm", "receive_coupons", "receive_capital",
    "call_im", "release_im", "pay_dues", "pay_redemptions", "repay_repo_plain",
    "sell_other_assets", "buy_other_assets_from_outside",
    "extend_repo", "lend_on_edges", "sell_bonds", "issue_outside", "receive_bonds", "pay_cash",
    "outside_buys",
    "pool_finance", "repay_pool", "central_bank_buys", "outside_fund_buys", "repay_unwound_repo",
    "close_margined", "unwind_to_outside", "seize_collateral", "ccp_close_out", "assess",
    "charge_guarantee", "pay_guarantees", "write_off_guarantees",
    "estates_sell_other_assets", "settle_claims", "write_off_unsecured", "write_off_repo",
    "settle_pool", "settle_outside_debts",
)  # fmt: skip


class DebugLedger(Ledger):
    """A :class:`Ledger` that keeps the amount arrays (:data:`AMOUNTS`) read-only outside
    its own moves, so any other code that writes one raises ``ValueError`` where it does."""

    def __init__(self, state: State, topo: Topology) -> None:
        super().__init__(state, topo)
        self._lock(True)

    def _lock(self, locked: bool) -> None:
        for name in AMOUNTS:
            getattr(self.s, name).flags.writeable = not locked


def _unlocked(name: str):
    move = getattr(Ledger, name)

    def method(self, *args, **kwargs):
        self._lock(False)
        try:
            return move(self, *args, **kwargs)
        finally:
            self._lock(True)

    method.__name__ = name
    method.__doc__ = move.__doc__
    return method


def _moving(name: str):
    move = getattr(Ledger, name)

    def method(self, *args, **kwargs):
        self._sheet = None
        try:
            return move(self, *args, **kwargs)
        finally:
            self._sheet = None  # (also what a read within the move computed)

    method.__name__ = name
    method.__doc__ = move.__doc__
    return method


for _name in MOVES:
    setattr(Ledger, _name, _moving(_name))
    setattr(DebugLedger, _name, _unlocked(_name))
