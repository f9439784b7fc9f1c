"""What stays fixed during a run: the network's structure, index maps and derived masks.

:class:`Topology` is built once per run from a :class:`~contagion.compiled.CompiledSystem`
plus the repo edges that policies open at set-up (standing facilities): edge endpoints,
incidence operators that sum per-edge arrays by node, institution-type masks and the steps
of the liquidity waterfall each type may take, and constants of the repo topology. Nothing
here changes during a run; everything that does lives in :class:`contagion.state.State`.
Compiled code later receives these arrays once per system and reuses them across draws.

Margined edges are the futures followed by the swaps (``is_swap`` tells them apart), so
variation and initial margin are one vectorised pass over one set of arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from contagion.compiled import CompiledSystem, RepoArrays
from contagion.mechanisms import deleveraging as dl
from contagion.mechanisms.haircuts import CENTRAL_BANK, SPONSORED, roll_period
from contagion.mechanisms.prices import PriceCurve
from contagion.schema import INSTITUTION_TYPES

try:  # the kernel behind ``csr_array @ vector``, without scipy's per-call dispatch (~8 us)
    from scipy.sparse._sparsetools import csr_matvec as _csr_matvec
except ImportError:  # pragma: no cover - private scipy API; bincount instead
    _csr_matvec = None

_FLOAT64 = np.dtype(np.float64)
#: Institution types that can default (CCPs and central banks never do).
DEFAULTABLE = ("hedge_fund", "dealer", "mmf", "asset_manager", "other", "sovereign_fund")
#: Types that pay before they collect (their cash may go negative: a central bank's is the
#: reserves it created, a CCP's the VM it passes on the same day).
UNLIMITED_CASH = ("central_bank", "ccp")
#: Waterfall steps (see :data:`contagion.mechanisms.deleveraging.STEPS`).
WATERFALL_STEPS = ("sell_other", "sell_free", "recall", "sell_other_last", "unwind")


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
        if x.__class__ is not np.ndarray or x.dtype is not _FLOAT64 or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 1 or len(x) != self.k:
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


def append_repo_edges(
    repo: RepoArrays, lender, borrower, bucket, haircut, rate_pct, segment: int, ids
) -> RepoArrays:
    """``repo`` with edges of zero amount appended (e.g. a standing facility's)."""
    k = len(lender)
    return RepoArrays(
        ids=np.concatenate([repo.ids, np.asarray(ids, dtype=object)]),
        lender=np.concatenate([repo.lender, lender]).astype(np.int64),
        borrower=np.concatenate([repo.borrower, borrower]).astype(np.int64),
        amount_usd_bn=np.concatenate([repo.amount_usd_bn, np.zeros(k)]),
        bucket=np.concatenate([repo.bucket, bucket]).astype(np.int64),
        haircut_frac=np.concatenate([repo.haircut_frac, haircut]),
        rate_pct=np.concatenate([repo.rate_pct, rate_pct]),
        tenor_days=np.concatenate([repo.tenor_days, np.ones(k)]),
        segment=np.concatenate([repo.segment, np.full(k, segment)]).astype(np.int64),
    )


@dataclass(frozen=True, eq=False)
class Topology:
    """Structure of a run: a compiled system plus the facility edges policies opened.

    Per-edge and per-institution index arrays, incidence operators and masks; all read-only
    by convention (they are shared by every step and never written).
    """

    cs: CompiledSystem
    repo: RepoArrays  # the system's repo edges, then facility edges (zero amount at t0)

    # --- sizes -----------------------------------------------------------------------------
    @cached_property
    def n(self) -> int:
        return self.cs.n_institutions

    @cached_property
    def n_buckets(self) -> int:
        return len(self.cs.market.bucket_names)

    @cached_property
    def n_futures(self) -> int:
        return len(self.cs.market.futures_codes)

    # --- margined edges: futures, then swaps ---------------------------------------------
    @cached_property
    def m_source(self) -> np.ndarray:
        return np.concatenate([self.cs.futures.source, self.cs.swaps.source])

    @cached_property
    def m_target(self) -> np.ndarray:
        return np.concatenate([self.cs.futures.target, self.cs.swaps.target])

    @cached_property
    def m_instrument(self) -> np.ndarray:
        """Contract index (futures) or bucket index (swaps) per margined edge."""
        return np.concatenate([self.cs.futures.instrument, self.cs.swaps.instrument])

    @cached_property
    def is_swap(self) -> np.ndarray:
        f, s = self.cs.futures, self.cs.swaps
        return np.concatenate([np.zeros(len(f.ids), bool), np.ones(len(s.ids), bool)])

    @cached_property
    def m_duration(self) -> np.ndarray:
        """Modified duration per margined edge: the deliverable bucket's (futures), the
        swap's bucket's (swaps)."""
        m = self.cs.market
        bucket = np.where(self.is_swap, self.m_instrument, 0)
        if self.n_futures:
            fut = ~self.is_swap
            bucket[fut] = m.futures_bucket[self.m_instrument[fut]]
        return m.modified_duration_years[bucket]

    @cached_property
    def n_futures_edges(self) -> int:
        return len(self.cs.futures.ids)

    @cached_property
    def ccp_rows(self) -> np.ndarray:
        """Institutions that are the target of a margined edge (the CCP books), sorted."""
        return np.unique(self.m_target)

    @cached_property
    def book_key(self) -> np.ndarray:
        """Cell of each margined edge in the (CCP row, instrument) books, flattened."""
        ccp_key = np.searchsorted(self.ccp_rows, self.m_target)
        col = np.where(self.is_swap, self.n_futures + self.m_instrument, self.m_instrument)
        return ccp_key * (self.n_futures + self.n_buckets) + col

    @cached_property
    def book_shape(self) -> tuple[int, int]:
        return (len(self.ccp_rows), self.n_futures + self.n_buckets)

    def per_book(self, values: np.ndarray) -> np.ndarray:
        """Sum a per-margined-edge array into (CCP row, instrument) cells."""
        rows, cols = self.book_shape
        return np.bincount(self.book_key, values, minlength=rows * cols).reshape(rows, cols)

    @cached_property
    def im_base_rate(self) -> np.ndarray:
        """IM posted / |notional| at t0 per margined edge (the IM rate at base volatility)."""
        f, s = self.cs.futures, self.cs.swaps
        notional = np.concatenate([f.notional_usd_bn, s.notional_usd_bn])
        im = np.concatenate([f.initial_margin_usd_bn, s.initial_margin_usd_bn])
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(notional != 0, im / np.abs(notional), 0.0)

    # --- institutions ----------------------------------------------------------------------
    @cached_property
    def type_name(self) -> np.ndarray:
        return np.array(INSTITUTION_TYPES, dtype=object)[self.cs.type_code]

    @cached_property
    def mask(self) -> dict[str, np.ndarray]:
        """Boolean mask of each institution type."""
        return {t: self.cs.type_code == i for i, t in enumerate(INSTITUTION_TYPES)}

    @cached_property
    def dealers(self) -> np.ndarray:
        """The dealers' rows (indices, in order)."""
        return np.flatnonzero(self.mask["dealer"])

    @cached_property
    def dealer_margined(self) -> tuple[np.ndarray, np.ndarray]:
        """The dealers' futures and swaps: (margined edges, in edge order; each one's source
        as a position in :attr:`dealers`)."""
        edges = np.flatnonzero(self.mask["dealer"][self.m_source])
        return edges, np.searchsorted(self.dealers, self.m_source[edges])

    @cached_property
    def can(self) -> dict[str, np.ndarray]:
        """Who may take each step of the liquidity waterfall (deleveraging.STEPS)."""
        names = self.type_name
        return {
            step: np.isin(names, [t for t, steps in dl.STEPS.items() if step in steps])
            for step in WATERFALL_STEPS
        }

    @cached_property
    def defaultable(self) -> np.ndarray:
        return np.isin(self.type_name, DEFAULTABLE)

    @cached_property
    def unlimited(self) -> np.ndarray:
        return np.isin(self.type_name, UNLIMITED_CASH)

    @cached_property
    def central_bank(self) -> int | None:
        """Index of the (first) central bank, or None."""
        idx = np.flatnonzero(self.mask["central_bank"])
        return int(idx[0]) if len(idx) else None

    def behaviour(self, column: str) -> np.ndarray:
        """A behavioural column of the institutions table, per institution."""
        return self.cs.behaviour[column]

    # --- sums over edges by node -----------------------------------------------------------
    @cached_property
    def inc(self) -> dict[str, Incidence]:
        n, r, u, nb = self.n, self.repo, self.cs.unsecured, self.n_buckets
        return {
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
        return self.inc["borrower"] @ x

    def by_lender(self, x: np.ndarray) -> np.ndarray:
        return self.inc["lender"] @ x

    def by_source(self, x: np.ndarray) -> np.ndarray:
        """Sum a per-margined-edge array by source (member or party)."""
        return self.inc["source"] @ x

    def by_target(self, x: np.ndarray) -> np.ndarray:
        return self.inc["target"] @ x

    # --- constants of the repo topology ----------------------------------------------------
    @cached_property
    def cb_edges(self) -> np.ndarray:
        """Repo edges of central-bank facilities (mask)."""
        return self.repo.segment == CENTRAL_BANK

    @cached_property
    def market_edges(self) -> np.ndarray:
        """Repo edges not of a central-bank facility (mask)."""
        return ~self.cb_edges

    @cached_property
    def leveraged_market_repo(self) -> np.ndarray:
        """Market repo (not a facility's) borrowed by those that may unwind (mask)."""
        return self.can["unwind"][self.repo.borrower] & self.market_edges

    @cached_property
    def mmf_private(self) -> np.ndarray:
        """Private repo lent by money-market funds (mask: MMF lender, not a facility)."""
        return self.mask["mmf"][self.repo.lender] & ~self.cb_edges

    @cached_property
    def mmf_rrp_idx(self) -> np.ndarray:
        """MMFs' placements at the central bank (ON RRP): facility edges an MMF lends on."""
        return np.flatnonzero(self.mask["mmf"][self.repo.lender] & self.cb_edges)

    @cached_property
    def hedge_fund_private_repo(self) -> np.ndarray:
        """Repo borrowed by hedge funds in the market (mask: not from a facility)."""
        return self.mask["hedge_fund"][self.repo.borrower] & ~self.cb_edges

    @cached_property
    def mmf_private_idx(self) -> np.ndarray:
        return np.flatnonzero(self.mmf_private)

    @cached_property
    def repo_spread_pct(self) -> np.ndarray:
        """Each repo edge's rate minus the market repo rate at t0 (kept as rates move)."""
        return self.repo.rate_pct - self.cs.market.repo_rate_pct

    @cached_property
    def roll_period(self) -> np.ndarray:
        return roll_period(self.repo.tenor_days, self.repo.segment)

    @cached_property
    def lender_max_leverage(self) -> np.ndarray:
        """Per edge: the borrower leverage its lender tolerates (see :meth:`_run_tolerance`)."""
        return self._run_tolerance("lender_max_borrower_leverage_ratio")

    @cached_property
    def lender_max_loss(self) -> np.ndarray:
        return self._run_tolerance("lender_max_borrower_loss_frac")

    def _run_tolerance(self, column: str) -> np.ndarray:
        """A lender's tolerance per repo edge. FICC (a CCP borrowing in sponsored repo) is
        never run on for its own leverage or losses (it passes flows through); on the legs
        it lends, its cash lenders' tolerance applies (the amount-weighted mean of theirs,
        capped by its own), so its members are run on as the direct sponsored edges were."""
        r = self.repo
        tol = self.behaviour(column)
        by_edge = tol[r.lender]
        if not self.has_ficc:
            return by_edge
        up = self.ficc_up
        w = np.bincount(r.borrower[up], r.amount_usd_bn[up], minlength=self.n)
        wt = np.bincount(r.borrower[up], r.amount_usd_bn[up] * tol[r.lender[up]], minlength=self.n)
        with np.errstate(divide="ignore", invalid="ignore"):
            lenders = np.where(w > 0, wt / w, tol)
        ficc_tol = np.minimum(tol, lenders)
        by_edge = np.where(self.ficc_down, ficc_tol[r.lender], by_edge)
        return np.where(up, np.inf, by_edge)

    # --- FICC: sponsored repo novated to a CCP (mechanisms.sponsored) -----------------------
    @cached_property
    def ficc(self) -> np.ndarray:
        """CCPs that borrow in sponsored repo (FICC): a matched book of sponsored legs (mask
        over institutions)."""
        r = self.repo
        out = np.zeros(self.n, bool)
        out[r.borrower[(r.segment == SPONSORED) & self.mask["ccp"][r.borrower]]] = True
        return out

    @cached_property
    def ficc_up(self) -> np.ndarray:
        """Sponsored legs a CCP borrows on (cash lender -> FICC) (mask over repo edges)."""
        r = self.repo
        return (r.segment == SPONSORED) & self.ficc[r.borrower]

    @cached_property
    def ficc_down(self) -> np.ndarray:
        """Sponsored legs a CCP lends on (FICC -> sponsored member) (mask over repo edges)."""
        r = self.repo
        return (r.segment == SPONSORED) & self.ficc[r.lender]

    @cached_property
    def ficc_cells(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell of every repo edge as (borrower, bucket) and as (lender, bucket):
        ``institution * n_buckets + bucket`` (FICC's books per bucket are matched)."""
        r, nb = self.repo, self.n_buckets
        return r.borrower * nb + r.bucket, r.lender * nb + r.bucket

    @cached_property
    def has_ficc(self) -> bool:
        return bool(self.ficc.any())

    @cached_property
    def ficc_first(self) -> np.ndarray:
        """The FICC that guarantees are owed to (mask over institutions; validation allows
        one CCP borrowing in sponsored repo per system)."""
        out = np.zeros(self.n, bool)
        idx = np.flatnonzero(self.ficc)
        if len(idx):
            out[idx[0]] = True
        return out

    @cached_property
    def sponsor(self) -> np.ndarray:
        """Each institution's sponsoring member at FICC (index; -1 if it borrows nothing from
        FICC): :func:`contagion.mechanisms.sponsored.sponsors`."""
        from contagion.mechanisms.sponsored import sponsors

        return sponsors(self)

    @cached_property
    def collateral_cell(self) -> np.ndarray:
        """``borrower * n_buckets + bucket`` per repo edge."""
        return self.repo.borrower * self.n_buckets + self.repo.bucket

    @cached_property
    def _cell_runs(self) -> tuple[np.ndarray, np.ndarray]:
        """Repo edges sorted by collateral cell (stable), and where each cell's run starts."""
        cells = self.n * self.n_buckets
        order = np.argsort(self.collateral_cell, kind="stable")
        start = np.zeros(cells + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.collateral_cell, minlength=cells), out=start[1:])
        return order, start

    def repo_edges_of_cells(self, cells: np.ndarray) -> np.ndarray:
        """The repo edges whose collateral cell is one of ``cells``, in edge order."""
        order, start = self._cell_runs
        first, count = start[cells], start[cells + 1] - start[cells]
        offset = np.cumsum(count) - count  # where each cell's edges go in the output
        pos = np.repeat(first - offset, count) + np.arange(int(count.sum()))
        return np.sort(order[pos])

    @cached_property
    def lender_can_recall(self) -> np.ndarray:
        return self.can["recall"][self.repo.lender]

    @cached_property
    def am_margined(self) -> np.ndarray:
        """Asset managers' futures and swaps (indices of margined edges)."""
        return np.flatnonzero(self.mask["asset_manager"][self.m_source])

    # --- prices ----------------------------------------------------------------------------
    @cached_property
    def cash_curve(self) -> PriceCurve:
        m = self.cs.market
        return PriceCurve(m.price, m.modified_duration_years, m.convexity_years2)

    @cached_property
    def futures_curve(self) -> PriceCurve:
        m = self.cs.market
        fb = m.futures_bucket
        return PriceCurve(m.futures_price, m.modified_duration_years[fb], m.convexity_years2[fb])
