"""Mutable simulation state: the compiled system's arrays plus what evolves during a run.

The engine owns one :class:`State`; mechanisms read it and return flows, the engine applies
them. Futures and swaps are held together as *margined* edges (``is_swap`` tells them apart)
so variation and initial margin are one vectorised pass. Positions closed into the market
leave the other side with an *external* counterparty at the same CCP (``ext_notional``), so
each CCP's book stays flat and VM stays zero-sum.

Equity is tracked twice: derived from the balance sheet, and accumulated from the P&L by
channel (``pnl``). :mod:`contagion.testing` checks that the two agree every round; the
channel totals are the loss attribution of the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from contagion.compiled import CompiledSystem
from contagion.schema import INSTITUTION_TYPES, REPO_SEGMENTS

try:  # the kernel behind ``csr_array @ vector``, without scipy's per-call dispatch (~8 us)
    from scipy.sparse._sparsetools import csr_matvec as _csr_matvec
except ImportError:  # pragma: no cover - private scipy API; bincount instead
    _csr_matvec = None

MIN_PRICE_FRAC = 1e-9  # floor on price / initial price

PNL_CHANNELS = (
    "variation_margin",  # futures and swaps marked to market (paid as VM)
    "bond_fundamental",  # cash bonds marked to the fundamental rate shock
    "fire_sale",  # cash bonds marked to the price impact of sales (and its decay)
    "funding_cost",  # repo interest accrued (paid by borrowers, earned by lenders)
    "default_losses",  # creditors' losses: CCP close-out and assessments, clearing losses
    "shortfall_passed_on",  # a defaulter's unpaid debts (its loss beyond equity, borne by
    # its creditors and so counted in their default_losses): a negative loss
)

TYPE = {t: i for i, t in enumerate(INSTITUTION_TYPES)}
SEGMENT = {s: i for i, s in enumerate(REPO_SEGMENTS)}


def price_from_yield(p0, duration, convexity, dy_bp):
    """Price per 100 face after a yield change ``dy_bp`` (bp): positive and monotone.

    Near the initial yield it is the duration-convexity expansion
    ``P = P0 (1 - D dy + C dy^2 / 2)`` (exact to second order). That polynomial turns up
    at ``dy = D / C`` and, with ``C = 0``, reaches zero at ``dy = 1 / D``, so beyond
    ``dy_s = min(D / C, 1 / D) / 2`` the price continues smoothly (value and slope match) as
    ``P(dy_s) exp(-s (dy - dy_s))`` with ``s = -P'(dy_s) / P(dy_s)``, the local semi-
    elasticity: positive and decreasing for any shock.
    """
    d = np.asarray(duration, dtype=np.float64)
    c = np.asarray(convexity, dtype=np.float64)
    dy = np.asarray(dy_bp, dtype=np.float64) * 1e-4
    with np.errstate(divide="ignore"):
        dy_s = 0.5 * np.minimum(np.where(c > 0, d / c, np.inf), 1.0 / d)
    inner = np.minimum(dy, dy_s)
    poly = 1.0 - d * inner + 0.5 * c * inner * inner
    slope = (d - c * dy_s) / (1.0 - d * dy_s + 0.5 * c * dy_s * dy_s)
    with np.errstate(under="ignore"):
        tail = np.exp(-slope * np.maximum(dy - dy_s, 0.0))
    # a bond is never worth nothing: the floor keeps collateral arithmetic finite
    return p0 * np.maximum(poly * tail, MIN_PRICE_FRAC)


# name -> (incidence, per-edge values) of the cached sums of State._edge_sum
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
# the sums in State.balance: assets, then liabilities
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


class PriceCurve:
    """:func:`price_from_yield` for fixed bonds, with the yield-independent terms computed once
    (the same arithmetic, so the same prices to the last bit)."""

    __slots__ = ("c", "d", "dy_s", "half_c", "p0", "slope")

    def __init__(self, p0, duration, convexity) -> None:
        self.p0 = p0
        self.d = d = np.asarray(duration, dtype=np.float64)
        self.c = c = np.asarray(convexity, dtype=np.float64)
        with np.errstate(divide="ignore"):
            self.dy_s = dy_s = 0.5 * np.minimum(np.where(c > 0, d / c, np.inf), 1.0 / d)
        self.half_c = 0.5 * c
        self.slope = (d - c * dy_s) / (1.0 - d * dy_s + 0.5 * c * dy_s * dy_s)

    def __call__(self, dy_bp) -> np.ndarray:
        dy = np.asarray(dy_bp, dtype=np.float64) * 1e-4
        inner = np.minimum(dy, self.dy_s)
        poly = 1.0 - self.d * inner + self.half_c * inner * inner
        with np.errstate(under="ignore"):
            tail = np.exp(-self.slope * np.maximum(dy - self.dy_s, 0.0))
        return self.p0 * np.maximum(poly * tail, MIN_PRICE_FRAC)


class Incidence:
    """Sums a per-edge array by node: ``(inc @ x)[i] = sum of x[e] over edges e of node i``.

    Exactly ``np.bincount(idx, x, minlength=n)`` (each node's edges added in edge order).
    Edges grouped by node (a few sorted runs, e.g. repo by borrower) are summed from a CSR
    incidence matrix, several times faster there; scattered ones with ``bincount``, which
    beats the CSR gather. The CSR kernel is called directly (scipy's dispatch costs ~8 us,
    the whole sum on a small system). An all-zero ``x`` is not summed at all.
    """

    __slots__ = ("csr", "data", "idx", "indices", "indptr", "k", "n")

    MAX_RUNS = 16  # sorted runs of ``idx`` up to which the CSR kernel is used
    SMALL = 20_000  # edges below which it is used anyway (call overhead dominates)

    def __init__(self, idx: np.ndarray, n: int) -> None:
        idx = np.asarray(idx, dtype=np.int64)
        k = len(idx)
        self.n, self.k, self.idx = n, k, idx
        runs = 1 + int(np.count_nonzero(idx[1:] < idx[:-1])) if k else 1
        self.csr = _csr_matvec is not None and (k < self.SMALL or runs <= self.MAX_RUNS)
        if self.csr:  # CSR of (idx[e], e): row i lists its edges in increasing order
            itype = np.int32 if max(n, k) < 2**31 - 1 else np.int64
            self.indices = np.argsort(idx, kind="stable").astype(itype)
            self.indptr = np.zeros(n + 1, itype)
            np.cumsum(np.bincount(idx, minlength=n), out=self.indptr[1:])
            self.data = np.ones(k)

    @property
    def matrix(self) -> sp.csr_array:
        """The incidence as a scipy CSR array (n x edges)."""
        k = self.k
        return sp.csr_array((np.ones(k), (self.idx, np.arange(k))), shape=(self.n, k))

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        if x.__class__ is not np.ndarray or x.dtype != np.float64 or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x, dtype=np.float64)
        if x.shape != (self.k,):
            raise ValueError(f"sum over edges: expected shape ({self.k},), got {x.shape}")
        if self.k >= self.SMALL and not x.any():  # (on small sets the check costs more)
            return np.zeros(self.n)
        if not self.csr:
            return np.bincount(self.idx, x, minlength=self.n)
        y = np.zeros(self.n)
        _csr_matvec(
            self.n, self.k, self.indptr, self.indices, self.data,
            x, y,
        )  # fmt: skip
        return y


@dataclass
class State:
    """Arrays of a running simulation (USD bn, par for Treasuries, prices per 100)."""

    cs: CompiledSystem
    day: int = 0
    # institutions
    cash: np.ndarray = field(init=False)
    par: np.ndarray = field(init=False)
    other_assets: np.ndarray = field(init=False)
    other_liabilities: np.ndarray = field(init=False)
    pool_borrowed: np.ndarray = field(init=False)  # dealers' inventory financing from MMFs
    pool_lent: np.ndarray = field(init=False)
    defaulted: np.ndarray = field(init=False)
    default_day: np.ndarray = field(init=False)
    equity0: np.ndarray = field(init=False)
    assets0: np.ndarray = field(init=False)
    pnl: dict[str, np.ndarray] = field(init=False)
    capital_flows: np.ndarray = field(init=False)  # redemptions paid out (not a loss)
    # repo edges
    repo_amount: np.ndarray = field(init=False)
    repo_haircut: np.ndarray = field(init=False)
    repo_recall: np.ndarray = field(init=False)  # amount the lender will not roll (due)
    repo_unsecured: np.ndarray = field(init=False)  # collateral gone: a deficiency claim
    repo_spread_pct: np.ndarray = field(init=False)  # edge rate - market rate at t0
    # margined edges (futures then swaps)
    m_source: np.ndarray = field(init=False)
    m_target: np.ndarray = field(init=False)
    m_instrument: np.ndarray = field(init=False)  # contract index, or bucket index for swaps
    is_swap: np.ndarray = field(init=False)
    notional: np.ndarray = field(init=False)
    notional0: np.ndarray = field(init=False)
    im_posted: np.ndarray = field(init=False)
    im_base_rate: np.ndarray = field(init=False)  # IM posted / |notional| at t0
    vm_due: np.ndarray = field(init=False)
    im_due: np.ndarray = field(init=False)
    assess_due: np.ndarray = field(init=False)
    ext_notional: np.ndarray = field(init=False)  # (n_ccp_rows, n_futures + n_buckets)
    # unsecured edges
    unsec_amount: np.ndarray = field(init=False)
    # market
    y_fund_bp: np.ndarray = field(init=False)  # cumulative fundamental shock per bucket
    impact_bp: np.ndarray = field(init=False)  # cumulative cash price impact per bucket
    fut_impact_bp: np.ndarray = field(init=False)  # cumulative futures impact per contract
    price: np.ndarray = field(init=False)
    fut_price: np.ndarray = field(init=False)
    marked_price: np.ndarray = field(init=False)
    marked_fund_price: np.ndarray = field(init=False)
    marked_fut_price: np.ndarray = field(init=False)
    marked_swap_bp: np.ndarray = field(init=False)
    repo_rate_pct: float = 0.0
    vol: float = 0.0
    vol_multiplier: float = 1.0
    im_multiplier: float = 1.0
    headroom_ref: float = 0.0
    # flows leaving or entering the system (declared)
    external_cash_in: float = 0.0
    external_par_out: np.ndarray = field(init=False)
    cb_injection: float = 0.0

    def __post_init__(self) -> None:
        cs = self.cs
        n, nb = cs.holdings_par_usd_bn.shape
        m = cs.market
        self.cash = cs.cash_usd_bn.copy()
        self.par = cs.holdings_par_usd_bn.copy()
        self.other_assets = cs.other_assets_usd_bn.copy()
        self.other_liabilities = cs.other_liabilities_usd_bn.copy()
        self.pool_borrowed = np.zeros(n)
        self.pool_lent = np.zeros(n)
        self.defaulted = np.zeros(n, bool)
        self.default_day = np.full(n, -1, np.int64)
        self.capital_flows = np.zeros(n)
        self.pnl = {c: np.zeros(n) for c in PNL_CHANNELS}
        self.repo = cs.repo  # topology; policies may append facility edges (add_repo_edges)
        r = self.repo
        self.repo_amount = r.amount_usd_bn.copy()
        self.repo_haircut = r.haircut_frac.copy()
        self.repo_recall = np.zeros(len(r.ids))
        self.repo_unsecured = np.zeros(len(r.ids), bool)
        self.repo_spread_pct = r.rate_pct - m.repo_rate_pct
        f, s = cs.futures, cs.swaps
        self.m_source = np.concatenate([f.source, s.source])
        self.m_target = np.concatenate([f.target, s.target])
        self.m_instrument = np.concatenate([f.instrument, s.instrument])
        self.is_swap = np.concatenate([np.zeros(len(f.ids), bool), np.ones(len(s.ids), bool)])
        self.notional = np.concatenate([f.notional_usd_bn, s.notional_usd_bn])
        self.notional0 = self.notional.copy()
        self.im_posted = np.concatenate([f.initial_margin_usd_bn, s.initial_margin_usd_bn])
        with np.errstate(divide="ignore", invalid="ignore"):
            self.im_base_rate = np.where(
                self.notional != 0, self.im_posted / np.abs(self.notional), 0.0
            )
        k = len(self.notional)
        self.vm_due = np.zeros(k)
        self.im_due = np.zeros(k)
        self.assess_due = np.zeros(k)
        self.ccp_rows = np.unique(self.m_target)
        self.ext_notional = np.zeros((len(self.ccp_rows), len(m.futures_codes) + nb))
        self.unsec_amount = cs.unsecured.amount_usd_bn.copy()
        self.y_fund_bp = np.zeros(nb)
        self.impact_bp = np.zeros(nb)
        self.fut_impact_bp = np.zeros(len(m.futures_codes))
        self.price = m.price.copy()
        self.fut_price = m.futures_price.copy()
        self.marked_price = self.price.copy()
        self.marked_fund_price = self.price.copy()
        self.marked_fut_price = self.fut_price.copy()
        self.marked_swap_bp = np.zeros(nb)
        self.repo_rate_pct = m.repo_rate_pct
        self.vol = m.volatility_index
        self.external_par_out = np.zeros(nb)
        self._build_incidence()
        a, liab = self.balance()
        self.assets0 = a
        self.equity0 = a - liab

    # --- sums over edges (sparse incidence: one pass each, faster than bincount) --------
    def _build_incidence(self) -> None:
        n, r, u = self.n, self.repo, self.cs.unsecured
        nb = self.par.shape[1]
        self._inc = {
            "borrower": Incidence(r.borrower, n),
            "lender": Incidence(r.lender, n),
            "source": Incidence(self.m_source, n),
            "target": Incidence(self.m_target, n),
            "creditor": Incidence(u.creditor, n),
            "debtor": Incidence(u.debtor, n),
            # (institution, bucket) cells of repo collateral, flattened
            "borrower_bucket": Incidence(r.borrower * nb + r.bucket, n * nb),
            "lender_bucket": Incidence(r.lender * nb + r.bucket, n * nb),
        }

    def by_borrower(self, x: np.ndarray) -> np.ndarray:
        """Sum a per-repo-edge array by borrower (``bincount(borrower, x)``)."""
        return self._inc["borrower"] @ x

    def by_lender(self, x: np.ndarray) -> np.ndarray:
        return self._inc["lender"] @ x

    def by_source(self, x: np.ndarray) -> np.ndarray:
        """Sum a per-margined-edge array by source (member or party)."""
        return self._inc["source"] @ x

    def by_target(self, x: np.ndarray) -> np.ndarray:
        return self._inc["target"] @ x

    # --- derived quantities -----------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.cash)  # = cs.n_institutions

    def type_mask(self, name: str) -> np.ndarray:
        return self.cs.type_code == TYPE[name]

    def holdings_value(self) -> np.ndarray:
        return self.par @ (self.price / 100.0)

    closing: tuple[np.ndarray, np.ndarray] | None = None

    def freeze(self) -> None:
        """Compute the day's closing balance sheets once; reads share them until ``thaw``."""
        self.closing = None
        self.closing = self.balance()

    def thaw(self) -> None:
        """The state is about to change: drop the closing balance sheets."""
        self.closing = None
        self.edges_moved()

    # Sums over edges that enter the balance sheet, cached between book moves while the
    # engine runs: ``edge_cache`` is None (no caching: every read recomputes) unless the
    # engine sets it to a dict, and then it must call :meth:`edges_moved` whenever
    # repo_amount, im_posted, vm_due, assess_due, unsec_amount or notional change.
    edge_cache: dict | None = None

    def edges_moved(self, *arrays: str) -> None:
        """Edge amounts changed: drop the cached sums over ``arrays`` ("repo_amount",
        "im_posted", "dues", "notional", "unsec_amount"), or all of them (no-op when
        caching is off)."""
        cache = self.edge_cache
        if not cache:
            return
        if not arrays:
            cache.clear()
            return
        for name in arrays:
            for key in _SUMS_OF[name]:
                cache.pop(key, None)

    def _edge_sum(self, key: str) -> np.ndarray:
        """One sum over edges by node (see ``_EDGE_SUMS``), cached when enabled."""
        cache = self.edge_cache
        if cache is not None:
            out = cache.get(key)
            if out is not None:
                return out
        inc, values = _EDGE_SUMS[key]
        if values == "dues":  # (the same vector for both sides)
            x = cache.get("dues") if cache is not None else None
            if x is None:
                x = self.vm_due + self.assess_due
                if cache is not None:
                    cache["dues"] = x
        elif values == "abs_notional":
            x = np.abs(self.notional)
        else:
            x = getattr(self, values)
        out = self._inc[inc] @ x
        if cache is not None:
            cache[key] = out
        return out

    def balance(self) -> tuple[np.ndarray, np.ndarray]:
        """(assets, liabilities) per institution at current prices, USD bn.

        The layout of :func:`contagion.compiled.balance_sheet`, plus unpaid VM and CCP
        assessments (receivables of the target, debts of the source) and MMF financing.
        """
        if self.closing is not None:
            return self.closing
        cache = self.edge_cache
        try:  # all eight cached: no calls
            sums = [cache[k] for k in _BALANCE_SUMS]  # type: ignore[index]
        except (KeyError, TypeError):
            sums = [self._edge_sum(k) for k in _BALANCE_SUMS]
        lent, im_out, claims, receivable, borrowed, im_in, debts, payable = sums
        assets = (
            self.cash
            + self.holdings_value()
            + self.other_assets
            + self.pool_lent
            + lent
            + im_out
            + claims
            + receivable
        )
        liabilities = (
            self.other_liabilities + self.pool_borrowed + borrowed + im_in + debts + payable
        )
        return assets, liabilities

    def equity(self) -> np.ndarray:
        a, liab = self.balance()
        return a - liab

    def tracked_equity(self, which: np.ndarray | None = None) -> np.ndarray:
        """Initial equity plus accumulated P&L by channel minus capital paid out (of the
        institutions selected by the mask or index ``which``, if given)."""
        if which is None:
            return self.equity0 + sum(self.pnl.values()) - self.capital_flows
        pnl = sum(v[which] for v in self.pnl.values())
        return self.equity0[which] + pnl - self.capital_flows[which]

    def repo_borrowed(self) -> np.ndarray:
        return self._edge_sum("repo_borrowed")

    def im_posted_by(self) -> np.ndarray:
        return self._edge_sum("im_posted_by")

    def pledged_value(self) -> tuple[np.ndarray, np.ndarray]:
        """Collateral value needed (as borrower) and received (as lender), (n, n_buckets).

        Value needed on an edge is amount / (1 - haircut); a lender may re-pledge what it
        receives (dealers' matched book), so both are in market value.
        """
        n, nb = self.par.shape
        v = np.where(self.repo_unsecured, 0.0, self.repo_amount / (1.0 - self.repo_haircut))
        need = (self._inc["borrower_bucket"] @ v).reshape(n, nb)
        got = (self._inc["lender_bucket"] @ v).reshape(n, nb)
        return need, got

    def free_par(self) -> np.ndarray:
        """Unencumbered par per institution and bucket (own holdings not pledged)."""
        need, got = self.pledged_value()
        own_pledged = np.maximum(need - got, 0.0) / (self.price / 100.0)
        return np.maximum(self.par - own_pledged, 0.0)

    def leverage(self) -> np.ndarray:
        a, liab = self.balance()
        e = a - liab
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(e > 0, a / e, np.inf)

    def add_repo_edges(
        self, lender, borrower, bucket, haircut, rate_pct, segment: int, ids
    ) -> np.ndarray:
        """Append repo edges with zero amount (e.g. a standing facility); returns their index.

        Must be called before the first day. Amounts, haircuts and recalls grow with them.
        """
        from contagion.compiled import RepoArrays

        k = len(lender)
        r = self.repo
        start = len(r.ids)
        self.repo = RepoArrays(
            ids=np.concatenate([r.ids, np.asarray(ids, dtype=object)]),
            lender=np.concatenate([r.lender, lender]).astype(np.int64),
            borrower=np.concatenate([r.borrower, borrower]).astype(np.int64),
            amount_usd_bn=np.concatenate([r.amount_usd_bn, np.zeros(k)]),
            bucket=np.concatenate([r.bucket, bucket]).astype(np.int64),
            haircut_frac=np.concatenate([r.haircut_frac, haircut]),
            rate_pct=np.concatenate([r.rate_pct, rate_pct]),
            tenor_days=np.concatenate([r.tenor_days, np.ones(k)]),
            segment=np.concatenate([r.segment, np.full(k, segment)]).astype(np.int64),
        )
        self.repo_amount = np.concatenate([self.repo_amount, np.zeros(k)])
        self.repo_haircut = np.concatenate([self.repo_haircut, haircut])
        self.repo_recall = np.concatenate([self.repo_recall, np.zeros(k)])
        self.repo_unsecured = np.concatenate([self.repo_unsecured, np.zeros(k, bool)])
        self.repo_spread_pct = np.concatenate(
            [self.repo_spread_pct, rate_pct - self.cs.market.repo_rate_pct]
        )
        self._build_incidence()
        return np.arange(start, start + k)

    def loss_frac(self) -> np.ndarray:
        """Share of initial equity lost (0 when no loss; capital flows excluded)."""
        loss = -(sum(self.pnl.values()))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.equity0 > 0, np.maximum(loss / self.equity0, 0.0), 0.0)
