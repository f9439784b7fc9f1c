"""The compiled array view of a system: what the engine runs on.

Institutions get integer ids ``0..n-1`` in table order; every per-institution quantity is
a numpy array indexed by that id, and each exposure kind is a set of parallel edge arrays
(COO form: source index, target index, attributes). Categorical fields (bucket, contract,
segment) are integer codes into the market's lists. Build once with
:meth:`contagion.System.compile`; relabel results with :meth:`CompiledSystem.relabel`.

Balance sheet of institution ``i`` (all USD bn; prices per 100 face)::

    assets_i      = cash_i + sum_b par_ib * P_b / 100 + other_assets_i
                    + repo lent_i + margin posted_i + unsecured claims_i
    liabilities_i = repo borrowed_i + margin held_i + unsecured debts_i + other_liabilities_i
    equity_i      = assets_i - liabilities_i

Futures and swaps are settled to market daily (variation margin), so they carry no
balance-sheet value beyond the initial margin posted (an asset of the poster, a liability
of the holder, which keeps it as cash).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from contagion.schema import INSTITUTION_TYPES, REPO_SEGMENTS
from contagion.sums import rowdot

if TYPE_CHECKING:
    from contagion.topology import Topology

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class RepoArrays:
    """Repo edges: ``lender`` lends ``amount_usd_bn`` cash to ``borrower`` against collateral."""

    ids: NDArray[np.object_]
    lender: I64
    borrower: I64
    amount_usd_bn: F64
    bucket: I64
    haircut_frac: F64
    rate_pct: F64
    tenor_days: F64
    segment: I64  # codes into contagion.schema.REPO_SEGMENTS

    def collateral_par_usd_bn(self, price: F64) -> F64:
        """Par of collateral pledged on each edge: amount / (1 - haircut) / (P / 100)."""
        return self.amount_usd_bn / (1.0 - self.haircut_frac) / (price[self.bucket] / 100.0)


@dataclass(frozen=True)
class MarginedArrays:
    """Futures or swap edges: ``source`` holds a signed notional against ``target``.

    For futures ``instrument`` indexes the market's futures contracts; for swaps it indexes
    the tenor buckets.
    """

    ids: NDArray[np.object_]
    source: I64
    target: I64
    instrument: I64
    notional_usd_bn: F64
    initial_margin_usd_bn: F64


@dataclass(frozen=True)
class UnsecuredArrays:
    """Unsecured claims: ``debtor`` owes ``creditor`` ``amount_usd_bn``."""

    ids: NDArray[np.object_]
    creditor: I64
    debtor: I64
    amount_usd_bn: F64


@dataclass(frozen=True)
class MarketArrays:
    """Market state as arrays in bucket / contract order (see :mod:`contagion.market`)."""

    bucket_names: tuple[str, ...]
    maturity_years: F64
    outstanding_usd_bn: F64
    yield_pct: F64
    modified_duration_years: F64
    convexity_years2: F64
    price: F64
    futures_codes: tuple[str, ...]
    futures_bucket: I64
    conversion_factor: F64
    futures_price: F64
    initial_margin_frac: F64
    swap_rate_pct: F64
    repo_rate_pct: float
    on_rrp_rate_pct: float
    policy_rate_pct: float  # top of the target range
    range_lower_pct: float
    iorb_pct: float
    srf_rate_pct: float  # SRF minimum bid
    discount_rate_pct: float
    bank_reserves_usd_bn: float  # NaN: not modelled
    bank_assets_usd_bn: float  # NaN: not modelled
    volatility_index: float


@dataclass(frozen=True)
class CompiledSystem:
    """Arrays of a validated system, indexed by integer institution id."""

    ids: NDArray[np.object_]
    names: NDArray[np.object_]
    type_code: NDArray[np.int8]  # codes into contagion.schema.INSTITUTION_TYPES
    strategy: NDArray[np.object_]  # hedge-fund strategy tag per institution ("" if none)
    fund_id: NDArray[np.object_]  # parent fund (the institution's own id unless a book)
    cash_usd_bn: F64
    other_assets_usd_bn: F64
    other_liabilities_usd_bn: F64
    holdings_par_usd_bn: F64  # shape (n, n_buckets)
    behaviour: dict[str, F64]
    repo: RepoArrays
    futures: MarginedArrays
    swaps: MarginedArrays
    unsecured: UnsecuredArrays
    market: MarketArrays
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def topology(self) -> Topology:
        """The run structure of this system without facility edges, built once and shared
        by its runs (everything in it is read-only; a run whose policies open facility
        edges builds its own)."""
        from contagion.topology import Topology

        return Topology(self, self.repo)

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "topology"}  # rebuilt lazily

    @property
    def n_institutions(self) -> int:
        return len(self.ids)

    @property
    def n_exposures(self) -> int:
        return (
            len(self.repo.ids)
            + len(self.futures.ids)
            + len(self.swaps.ids)
            + len(self.unsecured.ids)
        )

    def index_of(self, institution_id: str) -> int:
        """Integer id of an institution."""
        if not self._index:
            self._index.update({k: i for i, k in enumerate(self.ids)})
        return self._index[institution_id]

    def mask(self, inst_type: str) -> NDArray[np.bool_]:
        """Boolean mask of the institutions of one type."""
        return self.type_code == INSTITUTION_TYPES.index(inst_type)

    def relabel(self, values: np.ndarray, name: str | None = None) -> pd.Series:
        """A per-institution array as a Series indexed by institution id."""
        return pd.Series(values, index=pd.Index(self.ids, name="institution"), name=name)

    def repo_matrix(self) -> sp.csr_array:
        """Repo cash lent as a sparse matrix, ``[lender, borrower]`` (USD bn, summed)."""
        n = self.n_institutions
        r = self.repo
        return sp.csr_array((r.amount_usd_bn, (r.lender, r.borrower)), shape=(n, n))

    def balance_sheet(self) -> tuple[F64, F64]:
        """(assets, liabilities) per institution, USD bn, at the initial market prices."""
        return balance_sheet(
            n=self.n_institutions,
            cash=self.cash_usd_bn,
            holdings_value=rowdot(self.holdings_par_usd_bn, self.market.price / 100.0),
            other_assets=self.other_assets_usd_bn,
            other_liabilities=self.other_liabilities_usd_bn,
            repo=(self.repo.lender, self.repo.borrower, self.repo.amount_usd_bn),
            margin=_margin_triplet(self.futures, self.swaps),
            unsecured=(
                self.unsecured.creditor,
                self.unsecured.debtor,
                self.unsecured.amount_usd_bn,
            ),
        )

    def equity(self) -> F64:
        """Equity per institution, USD bn (assets - liabilities)."""
        a, liab = self.balance_sheet()
        return a - liab


def _margin_triplet(futures: MarginedArrays, swaps: MarginedArrays) -> tuple[I64, I64, F64]:
    return (
        np.concatenate([futures.source, swaps.source]),
        np.concatenate([futures.target, swaps.target]),
        np.concatenate([futures.initial_margin_usd_bn, swaps.initial_margin_usd_bn]),
    )


def balance_sheet(
    *,
    n: int,
    cash: F64,
    holdings_value: F64,
    other_assets: F64,
    other_liabilities: F64,
    repo: tuple[I64, I64, F64],
    margin: tuple[I64, I64, F64],
    unsecured: tuple[I64, I64, F64],
) -> tuple[F64, F64]:
    """Assets and liabilities per institution (USD bn); each edge triplet is (from, to, amount).

    ``repo`` is (lender, borrower, cash), ``margin`` (poster, holder, IM) and ``unsecured``
    (creditor, debtor, amount): the first end holds the asset, the second the liability.
    One ``bincount`` per side, linear in nodes + edges.
    """
    assets = cash + holdings_value + other_assets
    liabilities = other_liabilities.copy()
    for src, dst, amt in (repo, margin, unsecured):
        assets = assets + np.bincount(src, weights=amt, minlength=n)
        liabilities = liabilities + np.bincount(dst, weights=amt, minlength=n)
    return assets, liabilities


def segment_code(name: str) -> int:
    return REPO_SEGMENTS.index(name)
