"""Synthetic systems of any size: a heavy-tailed basis-trade network, built with numpy only.

:func:`generate_tables` draws the two input tables and a market; :func:`generate_system`
validates them into a :class:`~contagion.System`. Everything is vectorised (no Python loop
over institutions or exposures), so 10^5 institutions and ~10^6 exposures build in seconds.
One seed gives one system (``np.random.default_rng(seed)``; the global RNG is never used).

What is generated (amounts in USD bn, Treasuries at par, prices per 100 face):

* **Hedge funds** with truncated-Pareto sizes (tail exponent ``size_tail_alpha``). Each
  fund's long cash book is split between three strategies, then across tenor buckets:

  - *cash-futures basis*: long the bucket's bonds, short its futures contract with face
    ``par x CF`` (the conversion-factor hedge ratio: a future moves like ``P / CF``, so
    ``par x CF`` of futures face matches the bond's price risk), IM ``face x IM rate``;
  - *swap spread*: long the bucket's bonds, pay fixed on a swap of the same tenor with the
    swap CCP (notional = the bonds' market value), only for a share of the funds;
  - *other relative value*: long bonds, financed in repo, not hedged in the model.

  Sector totals per (strategy, bucket) are exact (individual books are rescaled), so the
  aggregates do not depend on the draw; only their distribution across funds does.
  Every bucket a fund holds is financed in repo from ``exposures_per_fund - n_contracts``
  lenders (at least one per bucket): dealers (bilateral; a share ``zero_haircut_share`` at
  zero haircut, the rest at 1-3%) or MMFs (sponsored). Each fund borrows as much as its
  drawn balance-sheet leverage asks for, capped at 99% of its collateral. Cash and margin
  are funded by equity.
* **Dealers** (log-normal sizes) run a matched book: they lend to the funds, hold an
  inventory, and re-pledge a share ``repledge_frac`` of their own and received collateral
  per bucket to MMFs in tri-party repo at a 2% haircut (so validation passes by
  construction). They hold unsecured claims on each other. Equity is a drawn share of
  total assets (the supplementary leverage ratio, ``dealer_slr_range_frac``).
* **MMFs** (log-normal sizes) lend to the dealers and, sponsored, to funds, place a share
  ``on_rrp_share`` of their private repo at the Fed's ON RRP, and hold the rest of their
  assets as cash and bills (other assets). Shares are equity: no liabilities.
* **Futures by trader category.** Per contract, the positions of the CFTC TFF categories
  are fixed multiples of the funds' (leveraged funds') shorts (:data:`FUTURES_LONG_RATIO`,
  :data:`FUTURES_SHORT_RATIO`: the ratios of the 2025-03-25 report, placeholders), which
  add up: the longs equal the shorts (the open interest). Hedge funds also hold the
  leveraged-fund longs (pro rata to their other-RV bonds); each dealer is net long or net
  short a contract; the other reportables and non-reportables are the other holders
  "insurers_pensions" and "households_other" (or the last other holder). A category whose
  sector is empty is left out and the asset managers' longs are the remaining longs.
* **Asset managers** (log-normal sizes) hold the asset-manager futures longs and shorts,
  receive fixed on the swaps the funds pay, and hold cash Treasuries. Unlevered.
* **Two CCPs**: one clearing Treasury futures, one clearing swaps. Each holds the IM
  posted to it as cash plus own funds (``ccp_own_funds_frac`` of the IM).
* **FICC** (with sponsored repo; the last institution, ``ccp_ficc``): sponsored repo is
  novated to it, each sponsored trade two legs MMF -> FICC and FICC -> fund
  (:func:`route_through_ficc`); its equity is :data:`FICC_OWN_RESOURCES_FRAC` of its book,
  in cash (an assumption; :mod:`contagion.mechanisms.sponsored` for its rules).
* **The central bank** holds Treasuries (at least enough to collateralise the ON RRP),
  MBS (other assets), and issues reserves and currency (other liabilities); equity is
  its capital (45).
* **Other holders** (foreign official, foreign private, banks, insurers and pension funds,
  households): cash Treasuries, unlevered.

The market has buckets 2y/5y/10y/30y and contracts TU/FV/TY/US. A bucket's outstanding
amount is ``max(base, holdings / 0.8)``, so it grows with the system and modelled holders
never hold more than 80% of a bucket.

Assumptions. Every number in the module constants and in the parameter defaults is a
stylised placeholder (roughly 2025 magnitudes, see ``calibration_facts.md`` sections
1-2), not calibrated: yields, durations, convexities, prices, conversion factors, the
basis in price points, IM rates, swap spreads, the rates, outstanding amounts, the Fed's
holdings, strategy and bucket shares, haircuts, leverage, sizes. Amounts are rounded to
1e-6 USD bn (USD 1,000); borrowed amounts are rounded down so collateral always covers.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contagion.schema import BEHAVIOUR_COLUMNS, INSTITUTION_SPEC, holdings_column
from contagion.sums import dot, rowdot
from contagion.system import System

# --- market (assumptions; 2025-like placeholders) -------------------------------------------
BUCKETS: tuple[str, ...] = ("2y", "5y", "10y", "30y")
MATURITY_YEARS = np.array([2.0, 5.0, 10.0, 30.0])
YIELD_PCT = np.array([3.90, 3.95, 4.35, 4.85])
MODIFIED_DURATION_YEARS = np.array([1.9, 4.5, 8.1, 16.5])
CONVEXITY_YEARS2 = np.array([4.6, 24.0, 78.0, 360.0])
PRICE = np.array([99.95, 99.70, 98.90, 96.50])  # per 100 face
BASE_OUTSTANDING_USD_BN = np.array([6000.0, 6000.0, 4300.0, 3900.0])  # nominal coupons
MAX_HELD_SHARE = 0.8  # modelled holders hold at most this share of a bucket
FUTURES_CODES: tuple[str, ...] = ("TU", "FV", "TY", "US")  # contract k delivers bucket k
CONVERSION_FACTOR = np.array([0.938, 0.881, 0.833, 0.721])
BASIS_PRICE_POINTS = np.array([0.02, 0.04, 0.08, 0.20])  # P - CF x F, a few ticks
FUTURES_IM_FRAC = np.array([0.007, 0.012, 0.018, 0.035])  # at MOVE 100
SWAP_SPREAD_PCT = np.array([-0.20, -0.35, -0.50, -0.85])  # swap rate - yield
SWAP_IM_FRAC = np.array([0.006, 0.012, 0.020, 0.040])
REPO_RATE_PCT = 4.30
ON_RRP_RATE_PCT = 4.25
POLICY_RATE_PCT = 4.50
VOLATILITY_INDEX = 100.0
# bank reserves (H.4.1 WRESBAL, 3,312.6-3,450.9 USD bn on Wednesdays of March 2025: the raw
# extract calibration/data/raw/fred/WRESBAL_2025.csv) and total assets of commercial banks
# (H.8; an assumption of 23,500: the level was 22,605 at end-2021 in the FRED series
# TLAACBW027SBOG and grew a few percent a year since)
BANK_RESERVES_USD_BN = 3300.0
BANK_ASSETS_USD_BN = 23500.0

# --- portfolio shapes (assumptions) ---------------------------------------------------------
# Par weights across buckets, per hedge-fund strategy: basis concentrated in 5y.
BASIS_BUCKET_WEIGHTS = np.array([0.22, 0.43, 0.23, 0.12])
SWAP_SPREAD_BUCKET_WEIGHTS = np.array([0.15, 0.30, 0.30, 0.25])
OTHER_RV_BUCKET_WEIGHTS = np.array([0.30, 0.30, 0.25, 0.15])
DEALER_BUCKET_WEIGHTS = np.array([0.35, 0.30, 0.20, 0.15])
AM_BUCKET_WEIGHTS = np.array([0.15, 0.25, 0.30, 0.30])
OTHER_BUCKET_WEIGHTS = np.array([0.40, 0.25, 0.20, 0.15])
FED_HOLDINGS_PAR_USD_BN = np.array([900.0, 1100.0, 800.0, 1100.0])  # SOMA coupons
FED_OTHER_ASSETS_USD_BN = 2200.0  # MBS and other assets
FED_CAPITAL_USD_BN = 45.0  # paid-in capital and surplus
TRIPARTY_HAIRCUT_FRAC = 0.02
TRIPARTY_RATE_PCT = REPO_RATE_PCT - 0.02
HF_TENOR_DAYS = np.array([1.0, 7.0, 30.0, 90.0])
HF_TENOR_PROB = np.array([0.6, 0.15, 0.15, 0.10])
DEALER_CASH_FRAC = 0.08  # reserves, share of total assets
MMF_CASH_FRAC = 0.01
AM_CASH_FRAC = 0.02
OTHER_CASH_FRAC = 0.02
#: Futures positions by CFTC TFF trader category, per contract, as multiples of the hedge
#: funds' (leveraged funds') shorts: the category totals of the TFF report of 2025-03-25
#: (calibration/data/2025-03: LF shorts 1,149, LF longs 201, AM longs 1,387 / shorts 400,
#: dealer longs 88 / shorts 261, other reportables 194 / 123, non-reportables 200 / 137
#: USD bn face) divided by the LF shorts and rounded so that longs and shorts add up to the
#: same open interest (1.801). Placeholders: the stylised system applies the aggregate
#: ratios to every contract. Holders: hedge funds (LF longs, pro rata to their other-RV
#: bonds), asset managers, dealers (each net long or net short a contract), and the other
#: holders "insurers_pensions" (other reportables) and "households_other" (non-reportables).
FUTURES_LONG_RATIO = {
    "lev_money": 0.175,
    "asset_mgr": 1.207,
    "dealer": 0.077,
    "other_rept": 0.169,
    "nonrept": 0.173,
}
FUTURES_SHORT_RATIO = {
    "lev_money": 1.0,
    "asset_mgr": 0.348,
    "dealer": 0.227,
    "other_rept": 0.107,
    "nonrept": 0.119,
}
OTHER_HOLDER_NAMES = (
    ("foreign_official", "Foreign official holders (FIMA)"),
    ("foreign_private", "Foreign private holders"),
    ("banks", "Banks' securities portfolios"),
    ("insurers_pensions", "Insurers and pension funds"),
    ("households_other", "Households and other holders"),
)

DECIMALS = 6  # amounts rounded to 1e-6 USD bn
_UNIT = 10.0**DECIMALS
GENERATOR = "contagion.synthetic.generate_system"


def _round(x: np.ndarray) -> np.ndarray:
    return np.round(x, DECIMALS)


def _floor(x: np.ndarray) -> np.ndarray:
    return np.floor(x * _UNIT) / _UNIT


def _ceil(x: np.ndarray) -> np.ndarray:
    return np.ceil(x * _UNIT) / _UNIT


def _truncated_pareto(rng: np.random.Generator, n: int, alpha: float, max_ratio: float):
    """Pareto(alpha) draws with minimum 1, truncated at ``max_ratio`` (inverse CDF)."""
    u = rng.random(n)
    return (1.0 - u * (1.0 - max_ratio**-alpha)) ** (-1.0 / alpha)


def _group_shares(weights: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Each weight divided by the sum of the weights of its group."""
    total = np.bincount(group, weights, minlength=n_groups)
    return weights / total[group]


def market_dict(
    outstanding_usd_bn: np.ndarray | None = None,
    open_interest=None,
    *,
    yield_pct: np.ndarray = YIELD_PCT,
    duration_years: np.ndarray = MODIFIED_DURATION_YEARS,
    convexity_years2: np.ndarray = CONVEXITY_YEARS2,
    price: np.ndarray = PRICE,
    futures_im_frac: np.ndarray = FUTURES_IM_FRAC,
    repo_rate_pct: float = REPO_RATE_PCT,
    on_rrp_rate_pct: float = ON_RRP_RATE_PCT,
    policy_rate_pct: float = POLICY_RATE_PCT,
    volatility_index: float = VOLATILITY_INDEX,
    bank_reserves_usd_bn: float | None = BANK_RESERVES_USD_BN,
    bank_assets_usd_bn: float | None = BANK_ASSETS_USD_BN,
    iorb_pct: float | None = None,
) -> dict:
    """The market as a document: the synthetic one by default (the module constants), or
    any other vintage's numbers by keyword (``calibration.build`` passes a snapshot's).

    Parameters
    ----------
    outstanding_usd_bn : array of 4 floats, optional
        Par outstanding per bucket, USD bn (default the 2025-like base amounts).
    open_interest : array of 4 floats, optional
        Futures open interest per contract, USD bn face (default 0).
    yield_pct, duration_years, convexity_years2, price : arrays of 4 floats
        Per bucket: yield (percent), modified duration (years), convexity (years^2) and
        price per 100 face; futures prices follow from the price, the basis and the
        conversion factor.
    futures_im_frac : array of 4 floats
        Initial margin rate per contract at the market's volatility index.
    repo_rate_pct, on_rrp_rate_pct, policy_rate_pct, volatility_index : float
        GC repo, ON RRP and policy rates (percent); MOVE-like index level (bp).
    bank_reserves_usd_bn, bank_assets_usd_bn : float or None
        Banks' reserves and total assets (USD bn); None leaves reserves out of the model.
    iorb_pct : float or None
        Interest on reserve balances (percent; None: 10 bp below the policy rate).

    Examples
    --------
    >>> m = market_dict()
    >>> [f["code"] for f in m["futures"]]
    ['TU', 'FV', 'TY', 'US']
    """
    out = BASE_OUTSTANDING_USD_BN if outstanding_usd_bn is None else outstanding_usd_bn
    oi = np.zeros(len(FUTURES_CODES)) if open_interest is None else open_interest
    fut_price = _round((price - BASIS_PRICE_POINTS) / CONVERSION_FACTOR)
    return {
        "buckets": [
            {
                "name": b,
                "maturity_years": float(MATURITY_YEARS[k]),
                "outstanding_usd_bn": float(out[k]),
                "yield_pct": float(yield_pct[k]),
                "modified_duration_years": float(duration_years[k]),
                "convexity_years2": float(convexity_years2[k]),
                "price": float(price[k]),
            }
            for k, b in enumerate(BUCKETS)
        ],
        "futures": [
            {
                "code": c,
                "bucket": BUCKETS[k],
                "conversion_factor": float(CONVERSION_FACTOR[k]),
                "price": float(fut_price[k]),
                "initial_margin_frac": float(futures_im_frac[k]),
                "open_interest_usd_bn": float(oi[k]),
            }
            for k, c in enumerate(FUTURES_CODES)
        ],
        "swap_rates_pct": {
            b: float(np.round(yield_pct[k] + SWAP_SPREAD_PCT[k], 4)) for k, b in enumerate(BUCKETS)
        },
        "repo_rate_pct": repo_rate_pct,
        "on_rrp_rate_pct": on_rrp_rate_pct,
        "policy_rate_pct": policy_rate_pct,
        "volatility_index": volatility_index,
        **({} if iorb_pct is None else {"iorb_pct": iorb_pct}),
        **(
            {}
            if bank_reserves_usd_bn is None
            else {
                "bank_reserves_usd_bn": bank_reserves_usd_bn,
                "bank_assets_usd_bn": bank_assets_usd_bn,
            }
        ),
    }


def _ids(prefix: str, n: int) -> np.ndarray:
    width = max(3, len(str(max(n - 1, 0))))
    return (prefix + pd.Series(np.arange(n)).astype(str).str.zfill(width)).to_numpy(object)


class _Edges:
    """Collects blocks of exposures as arrays; :meth:`frame` builds the table once."""

    def __init__(self) -> None:
        self.blocks: list[tuple[str, str, dict[str, np.ndarray]]] = []

    def add(self, kind: str, prefix: str, mask: np.ndarray | None = None, **cols) -> None:
        if mask is not None:
            cols = {k: (v[mask] if isinstance(v, np.ndarray) else v) for k, v in cols.items()}
        n = len(cols["source"])
        if n:
            full = {k: (v if isinstance(v, np.ndarray) else np.full(n, v)) for k, v in cols.items()}
            self.blocks.append((kind, prefix, full))

    def frame(self, inst_ids: np.ndarray) -> pd.DataFrame:
        float_cols = (
            "amount_usd_bn",
            "haircut_frac",
            "rate_pct",
            "tenor_days",
            "notional_usd_bn",
            "initial_margin_usd_bn",
        )
        str_cols = ("collateral_bucket", "segment", "futures_contract", "swap_tenor")
        if not self.blocks:
            return pd.DataFrame(columns=["id", "kind", "source", "target"])
        sizes = np.array([len(b[2]["source"]) for b in self.blocks])
        out: dict[str, Any] = {}
        prefixes = np.repeat(np.array([p for _, p, _ in self.blocks], dtype=object), sizes)
        starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
        counter = np.arange(sizes.sum()) - starts
        out["id"] = (pd.Series(prefixes) + pd.Series(counter).astype(str)).to_numpy(object)
        out["kind"] = np.repeat(np.array([k for k, _, _ in self.blocks], dtype=object), sizes)
        for end in ("source", "target"):
            idx = np.concatenate([b[2][end] for b in self.blocks])
            out[end] = inst_ids[idx]
        for c in float_cols:
            out[c] = np.concatenate(
                [b[2].get(c, np.full(len(b[2]["source"]), np.nan)) for b in self.blocks]
            ).astype(np.float64)
        for c in str_cols:
            out[c] = np.concatenate(
                [
                    np.asarray(b[2].get(c, np.full(len(b[2]["source"]), "")), dtype=object)
                    for b in self.blocks
                ]
            )
        # object dtype: pandas would otherwise convert every string column to arrow strings
        return pd.DataFrame({k: pd.Series(v, dtype=v.dtype) for k, v in out.items()})


def _check_counts(counts: Mapping[str, int], **kw: Any) -> None:
    for name, n in counts.items():
        if int(n) != n or n < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {n!r}")
    if counts["n_hedge_funds"] > 0:
        if counts["n_dealers"] + counts["n_mmfs"] == 0:
            raise ValueError(
                "hedge funds need repo lenders: n_dealers + n_mmfs must be > 0 "
                "when n_hedge_funds > 0"
            )
        if counts["n_asset_managers"] == 0 and (kw["basis_share"] > 0 or kw["swap_share"] > 0):
            raise ValueError(
                "the futures shorts and pay-fixed swaps of hedge funds need asset managers on "
                "the other side: n_asset_managers must be > 0 when n_hedge_funds > 0 "
                "(or set basis_share = swap_spread_share = 0)"
            )
    if kw["exposures_per_fund"] < 1:
        raise ValueError(f"exposures_per_fund must be >= 1, got {kw['exposures_per_fund']}")
    if not kw["size_tail_alpha"] > 0:
        raise ValueError(f"size_tail_alpha must be > 0, got {kw['size_tail_alpha']}")
    if not (kw["basis_share"] >= 0 and kw["swap_share"] >= 0):
        raise ValueError("basis_share and swap_spread_share must be >= 0")
    if kw["basis_share"] + kw["swap_share"] > 1:
        raise ValueError(
            "basis_share + swap_spread_share must be <= 1 (the rest is other relative value)"
        )
    for name in ("sponsored_share", "zero_haircut_share", "repledge_frac", "swap_spread_fund_frac"):
        if not 0 <= kw[name] <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {kw[name]}")


def dealer_matched_book(
    dealer: np.ndarray,
    bucket: np.ndarray,
    amount: np.ndarray,
    haircut: np.ndarray,
    from_dealer: np.ndarray,
    n_dealers: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Collateral value received per dealer and bucket (amount / (1 - haircut), n_dealers x
    buckets) and reverse repo lent per dealer (USD bn), over the repo edges ``from_dealer``
    (``dealer``: their lender's dealer index, one per such edge)."""
    nb = len(BUCKETS)
    received = np.bincount(
        dealer * nb + bucket[from_dealer],
        amount[from_dealer] / (1.0 - haircut[from_dealer]),
        minlength=n_dealers * nb,
    ).reshape(n_dealers, nb)
    return received, np.bincount(dealer, amount[from_dealer], minlength=n_dealers)


def _split_over(total: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Split ``total`` (per column) over rows pro rata to ``weight`` (rows, or rows x
    columns), rounded to 1e-6 with the residual on the largest row (column sums exact)."""
    weight = np.asarray(weight, dtype=float)
    if not len(weight):
        return np.zeros((0, len(total)))
    w = np.broadcast_to(weight[:, None] if weight.ndim == 1 else weight, (len(weight), len(total)))
    alloc = _round(total * w / np.maximum(w.sum(axis=0), 1e-300))
    top = np.argmax(alloc, axis=0)
    cols = np.arange(len(total))
    alloc[top, cols] = _round(alloc[top, cols] + _round(total) - alloc.sum(axis=0))
    return alloc


def cleared_positions(
    edges: _Edges,
    kind: str,
    prefix: str,
    amount: np.ndarray,
    im_frac: np.ndarray,
    *,
    first: int,
    ccp: int,
    short: bool = False,
) -> np.ndarray:
    """Add one cleared futures or swap position per positive cell of ``amount`` (rows:
    institutions ``first``...; columns: futures contracts or swap buckets; USD bn face or
    notional, negative in the table when ``short``) against ``ccp``, with IM ``amount x
    im_frac``; returns the IM posted per cell (0 where there is no position)."""
    im = _round(amount * im_frac)
    ok = amount > 0
    src, col = np.nonzero(ok)
    column, labels = (
        ("futures_contract", FUTURES_CODES) if kind == "futures" else ("swap_tenor", BUCKETS)
    )
    edges.add(
        kind,
        prefix,
        source=first + src,
        target=np.full(len(src), ccp),
        **{column: np.array(labels, dtype=object)[col]},
        notional_usd_bn=-amount[ok] if short else amount[ok],
        initial_margin_usd_bn=im[ok],
    )
    return im * ok


def asset_manager_derivatives(
    edges: _Edges,
    rng: np.random.Generator,
    futures_total: np.ndarray,
    swap_total: np.ndarray,
    futures_im_frac: np.ndarray,
    *,
    n_managers: int,
    first: int,
    ccp_futures: int,
    ccp_swaps: int,
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """The asset managers' futures longs and receive-fixed swaps: the other side of the
    basis and swap-spread trades.

    ``futures_total`` (notional per contract) and ``swap_total`` (per bucket), USD bn, are
    split across ``n_managers`` managers (institution indices ``first``...) by a lognormal
    size weight times a gamma draw per instrument, rounded with the residual on the largest.
    Adds the edges; returns (size weights summing to 1, IM posted per manager, futures IM
    and swap IM held by the CCPs; USD bn).
    """
    na = n_managers
    aw = np.exp(1.0 * rng.standard_normal(na))
    aw /= aw.sum()

    def allocate(total: np.ndarray) -> np.ndarray:
        w = aw[:, None] * rng.gamma(2.0, size=(na, len(total)))
        alloc = _round(total * w / w.sum(axis=0))
        top = np.argmax(alloc, axis=0)  # put the rounding residual on the largest
        cols = np.arange(len(total))
        alloc[top, cols] = _round(alloc[top, cols] + total - alloc.sum(axis=0))
        return alloc

    # futures longs per contract, then receive-fixed swaps per bucket
    fut_im = cleared_positions(edges, "futures", "fut-am-", allocate(futures_total),
                               futures_im_frac, first=first, ccp=ccp_futures)  # fmt: skip
    swap_im = cleared_positions(edges, "swap", "swap-am-", allocate(swap_total), SWAP_IM_FRAC,
                                first=first, ccp=ccp_swaps)  # fmt: skip
    return aw, fut_im.sum(axis=1) + swap_im.sum(axis=1), fut_im.sum(), swap_im.sum()


SECTOR_TYPES = ("hedge_fund", "dealer", "mmf", "asset_manager", "ccp", "central_bank", "other")

#: FICC's institution id and name (the last row of a generated system with sponsored repo).
FICC_ID, FICC_NAME = "ccp_ficc", "FICC (sponsored repo)"
#: FICC's own resources for its sponsored book (its equity, held as cash), as a share of the
#: book. An assumption, range 0.01-0.05: FICC's prefunded default resources are margin-like
#: (a 3-day 99% VaR per member, a few percent of Treasury positions) and are attributed here
#: to its sponsored book pro rata; DTCC's CPMI-IOSCO quantitative disclosures (4.3,
#: pre-funded default resources) were not found as a file. Only the losses a sponsor does not
#: pay reach them (contagion.mechanisms.sponsored).
FICC_OWN_RESOURCES_FRAC = 0.02


def route_through_ficc(
    inst: pd.DataFrame,
    exposures: pd.DataFrame,
    *,
    own_resources_frac: float = FICC_OWN_RESOURCES_FRAC,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Novate sponsored repo to FICC: every sponsored edge lender -> member becomes two legs,
    lender -> FICC (id ``<edge id>-ficc``, appended after the other exposures) and FICC ->
    member (the edge's id), with the edge's amount, bucket, haircut, rate and tenor; FICC is
    appended as the last institution (:data:`FICC_ID`, type ``ccp``) holding
    ``own_resources_frac`` of its book in cash as its equity. Tables without sponsored repo
    are returned as they are. Every other balance is unchanged (the lender's loan now faces
    FICC, the member's borrowing comes from FICC)."""
    if exposures.empty or "segment" not in exposures.columns:
        return inst, exposures
    spon = ((exposures["kind"] == "repo") & (exposures["segment"] == "sponsored")).to_numpy()
    if not spon.any():
        return inst, exposures
    up = exposures.loc[spon].copy()
    up["id"] = up["id"].astype(str) + "-ficc"
    up["target"] = FICC_ID
    exp = exposures.copy()
    exp.loc[spon, "source"] = FICC_ID
    exp = pd.concat([exp, up], ignore_index=True)
    book = float(up["amount_usd_bn"].sum())
    row: dict[str, Any] = {}
    for col in inst.columns:
        kind = inst[col].dtype.kind
        row[col] = 0.0 if col.endswith("_usd_bn") else ("" if kind == "O" else np.nan)
    row.update(
        id=FICC_ID, name=FICC_NAME, type="ccp", cash_usd_bn=_round(own_resources_frac * book)
    )
    if "fund_id" in inst.columns:
        row["fund_id"] = FICC_ID
    if "equity_usd_bn" in inst.columns:
        row["equity_usd_bn"] = row["cash_usd_bn"]
    out = pd.concat([inst, pd.DataFrame([row], columns=inst.columns)], ignore_index=True)
    return out, exp


def sector_offsets(counts: tuple[int, int, int, int, int]) -> tuple[int, ...]:
    """Row layout of a generated system from its counts (hedge funds, dealers, MMFs, asset
    managers, other holders), sectors in :data:`SECTOR_TYPES` order: the first dealer, MMF
    and asset manager, the futures CCP, the swap CCP, the central bank, the first other
    holder, and the number of institutions."""
    nh, nd, nm, na, no = counts
    o_dl = nh
    o_mmf = o_dl + nd
    o_am = o_mmf + nm
    i_ccp_fut = o_am + na
    return (
        o_dl,
        o_mmf,
        o_am,
        i_ccp_fut,
        i_ccp_fut + 1,
        i_ccp_fut + 2,
        i_ccp_fut + 3,
        i_ccp_fut + 3 + no,
    )


def institutions_table(
    ids: np.ndarray,
    names: np.ndarray,
    counts: tuple[int, int, int, int, int],
    cash: np.ndarray,
    other_assets: np.ndarray,
    other_liab: np.ndarray,
    holdings: np.ndarray,
) -> pd.DataFrame:
    """The institutions table of a generated system, sectors in :data:`SECTOR_TYPES` order.

    ``counts``: hedge funds, dealers, MMFs, asset managers and other holders; the two CCPs
    (futures, swaps) and the central bank sit between the asset managers and the others and
    are named here. Balances in USD bn, ``holdings`` par per bucket (n x buckets).
    """
    nh, nd, nm, na, no = counts
    i_ccp = sector_offsets(counts)[3]
    names = np.array(names, dtype=object)  # (a copy: the caller's labels stay as they were)
    names[i_ccp : i_ccp + 3] = ["Treasury futures CCP", "Interest-rate swap CCP", "Federal Reserve"]
    types = np.repeat(np.array(SECTOR_TYPES, dtype=object), [nh, nd, nm, na, 2, 1, no])
    inst = pd.DataFrame(
        {
            "id": pd.Series(ids, dtype=object),
            "name": pd.Series(names, dtype=object),
            "type": pd.Series(types, dtype=object),
            "cash_usd_bn": cash,
            "other_assets_usd_bn": other_assets,
            "other_liabilities_usd_bn": other_liab,
        }
    )
    for b, name in enumerate(BUCKETS):
        inst[holdings_column(name)] = holdings[:, b]
    return inst


def generate_tables(
    *,
    n_hedge_funds: int = 100,
    n_dealers: int = 25,
    n_mmfs: int = 20,
    n_asset_managers: int = 20,
    n_other: int = 5,
    exposures_per_fund: int = 8,
    lenders_per_dealer_bucket: int = 3,
    interdealer_per_dealer: int = 4,
    size_tail_alpha: float = 1.2,
    size_max_ratio: float = 100.0,
    hf_mean_long_par_usd_bn: float = 21.5,
    basis_share: float = 0.6,
    swap_spread_share: float = 0.14,
    swap_spread_fund_frac: float = 0.4,
    hf_leverage_median_ratio: float = 20.0,
    sponsored_share: float = 0.15,
    zero_haircut_share: float = 0.7,
    dealer_inventory_mean_par_usd_bn: float = 14.0,
    dealer_total_assets_mean_usd_bn: float = 400.0,
    dealer_slr_range_frac: tuple[float, float] = (0.052, 0.065),
    repledge_frac: float = 0.85,
    interdealer_frac: float = 0.01,
    mmf_assets_mean_usd_bn: float = 330.0,
    on_rrp_share: float = 0.08,
    am_aum_mean_usd_bn: float = 600.0,
    am_treasury_mean_par_usd_bn: float = 75.0,
    other_holdings_mean_par_usd_bn: float = 1400.0,
    ccp_own_funds_frac: float = 0.15,
    seed: int | np.random.Generator | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Draw the institutions and exposures tables and the market of a synthetic system.

    Parameters
    ----------
    n_hedge_funds, n_dealers, n_mmfs, n_asset_managers, n_other : int
        Institutions per sector. Two CCPs and one central bank are always added.
    exposures_per_fund : int
        Repo and futures exposures per hedge fund: the fund shorts one futures contract per
        bucket and borrows from ``max(n_buckets, exposures_per_fund - n_contracts)`` repo
        lenders, spread round-robin over the buckets; swap-spread funds add up to one swap
        per bucket. With 4 buckets, 12 gives 2 lenders per bucket (~13.6 edges per fund).
    lenders_per_dealer_bucket : int
        MMFs lending to each dealer per collateral bucket (tri-party).
    interdealer_per_dealer : int
        Unsecured interdealer claims held by each dealer (needs >= 2 dealers).
    size_tail_alpha : float
        Pareto tail exponent of hedge-fund sizes (smaller = heavier tail).
    size_max_ratio : float
        Largest / smallest hedge-fund size before rescaling (truncation of the Pareto).
    hf_mean_long_par_usd_bn : float
        Mean long cash Treasury book per hedge fund, USD bn par (sector total = mean x n).
    basis_share, swap_spread_share : float
        Shares of the sector's long book in basis trades and swap-spread trades, fractions
        (the rest is other relative value).
    swap_spread_fund_frac : float
        Share of hedge funds that run swap-spread trades, fraction.
    hf_leverage_median_ratio : float
        Median drawn target leverage (total assets / equity) of hedge funds, ratio;
        log-normal, sigma 0.45, clipped to [5, 60]; repo is capped at 99% of collateral.
    sponsored_share : float
        Share of hedge-fund repo edges lent by MMFs (sponsored) rather than dealers.
    zero_haircut_share : float
        Share of hedge-fund repo edges at zero haircut; the others draw 1-3%.
    dealer_inventory_mean_par_usd_bn : float
        Mean own Treasury inventory per dealer, USD bn par.
    dealer_total_assets_mean_usd_bn : float
        Mean total assets per dealer (incl. loans and other assets), USD bn.
    dealer_slr_range_frac : (float, float)
        Range of dealers' equity / total assets (their SLR), fractions, drawn uniformly.
    repledge_frac : float
        Share of a dealer's own plus received collateral value (per bucket) re-pledged to
        MMFs in tri-party repo at a 2% haircut.
    interdealer_frac : float
        Unsecured interdealer claims of a dealer, share of its base total assets.
    mmf_assets_mean_usd_bn : float
        Mean total assets per MMF, USD bn (raised where repo lending needs more).
    on_rrp_share : float
        ON RRP placements as a share of MMFs' private repo lending, fraction.
    am_aum_mean_usd_bn, am_treasury_mean_par_usd_bn : float
        Mean assets under management and cash Treasury holdings (par) per asset manager.
    other_holdings_mean_par_usd_bn : float
        Mean Treasury holdings (par) per other holder (geometric weights 1, 0.6, 0.36...).
    ccp_own_funds_frac : float
        CCP own funds (skin in the game, default fund) as a share of the IM it holds.
    seed : int, numpy Generator or None
        Seed of ``np.random.default_rng``; one seed gives one system.

    Returns
    -------
    institutions : DataFrame
        Schema columns plus ``ust_<bucket>_par_usd_bn``; equity is left to be derived.
    exposures : DataFrame
        Repo, futures, swap and unsecured exposures.
    market : dict
        A market document (see :func:`market_dict`), outstanding scaled to the holdings.

    Raises
    ------
    ValueError
        For negative counts, shares outside [0, 1], or hedge funds without repo lenders or
        without asset managers to take the other side of their futures and swaps.

    Examples
    --------
    >>> inst, exp, market = generate_tables(n_hedge_funds=5, n_dealers=2, n_mmfs=2,
    ...                                     n_asset_managers=2, n_other=1, seed=1)
    >>> len(inst)  # with FICC (the sponsored repo's central counterparty) last
    16
    """
    counts = {
        "n_hedge_funds": n_hedge_funds,
        "n_dealers": n_dealers,
        "n_mmfs": n_mmfs,
        "n_asset_managers": n_asset_managers,
        "n_other": n_other,
    }
    _check_counts(
        counts,
        basis_share=basis_share,
        swap_share=swap_spread_share,
        exposures_per_fund=exposures_per_fund,
        size_tail_alpha=size_tail_alpha,
        sponsored_share=sponsored_share,
        zero_haircut_share=zero_haircut_share,
        repledge_frac=repledge_frac,
        swap_spread_fund_frac=swap_spread_fund_frac,
    )
    rng = np.random.default_rng(seed)
    nh, nd, nm, na, no = (int(n) for n in counts.values())
    nb, nc = len(BUCKETS), len(FUTURES_CODES)
    pv = PRICE / 100.0  # market value per unit par

    # --- institution index layout ---------------------------------------------------------
    o_hf = 0
    o_dl, o_mmf, o_am, i_ccp_fut, i_ccp_swap, i_fed, o_oth, n = sector_offsets((nh, nd, nm, na, no))
    holdings = np.zeros((n, nb))
    cash = np.zeros(n)
    other_assets = np.zeros(n)
    other_liab = np.zeros(n)
    edges = _Edges()

    # --- hedge funds: sizes, strategies, books --------------------------------------------
    size = _truncated_pareto(rng, nh, size_tail_alpha, size_max_ratio)
    strat = rng.dirichlet(3.0 * np.array([0.6, 0.14, 0.26]), size=nh) if nh else np.zeros((0, 3))
    runs_swaps = rng.random(nh) < swap_spread_fund_frac
    strat[~runs_swaps, 1] = 0.0
    strat /= np.maximum(strat.sum(axis=1, keepdims=True), 1e-300)
    weights = np.stack([BASIS_BUCKET_WEIGHTS, SWAP_SPREAD_BUCKET_WEIGHTS, OTHER_RV_BUCKET_WEIGHTS])
    mix = rng.gamma(4.0 * np.broadcast_to(weights, (nh, 3, nb)))
    mix /= np.maximum(mix.sum(axis=2, keepdims=True), 1e-300)
    book = size[:, None, None] * strat[:, :, None] * mix  # (fund, strategy, bucket), raw
    total_long = hf_mean_long_par_usd_bn * nh
    target = total_long * np.array([basis_share, swap_spread_share, 0.0])[:, None] * weights
    target[2] = total_long * (1.0 - basis_share - swap_spread_share) * weights[2]
    raw = book.sum(axis=0)
    book *= np.divide(target, raw, out=np.zeros_like(raw), where=raw > 0)[None]
    basis_par = _round(book[:, 0])
    swap_par = _round(book[:, 1])
    hf_par = _round(book.sum(axis=1))
    holdings[o_hf:o_dl] = hf_par
    hf_value_b = hf_par * pv
    hf_value = hf_value_b.sum(axis=1)
    hf_rows = np.arange(nh)

    # futures shorts (one per fund and contract) against the futures CCP
    fut_face = _round(basis_par * CONVERSION_FACTOR)  # contract k delivers bucket k
    fut_im = cleared_positions(edges, "futures", "fut-hf-", fut_face, FUTURES_IM_FRAC,
                               first=o_hf, ccp=i_ccp_fut, short=True)  # fmt: skip
    # the other TFF categories (FUTURES_LONG_RATIO, FUTURES_SHORT_RATIO) of each contract;
    # a category whose sector is empty is left out, and the asset managers' longs are then
    # the remaining longs, so that open interest still adds up
    lf_short = fut_face.sum(axis=0)
    present = {"lev_money": nh > 0, "asset_mgr": na > 0, "dealer": nd > 0,
               "other_rept": no > 0, "nonrept": no > 0}  # fmt: skip
    cat_long = {c: _round(r * lf_short * present[c]) for c, r in FUTURES_LONG_RATIO.items()}
    cat_short = {c: _round(r * lf_short * present[c]) for c, r in FUTURES_SHORT_RATIO.items()}
    cat_short["lev_money"] = lf_short
    cat_long["asset_mgr"] = _round(
        sum(cat_short.values()) - sum(v for c, v in cat_long.items() if c != "asset_mgr")
    )
    hf_long = _split_over(cat_long["lev_money"], book[:, 2])  # by the funds' other RV
    fut_im = fut_im + cleared_positions(edges, "futures", "fut-hfl-", hf_long, FUTURES_IM_FRAC,
                                        first=o_hf, ccp=i_ccp_fut)  # fmt: skip
    # pay-fixed swaps of swap-spread funds against the swap CCP
    swap_notional = _round(swap_par * pv)
    swap_im = cleared_positions(edges, "swap", "swap-hf-", swap_notional, SWAP_IM_FRAC,
                                first=o_hf, ccp=i_ccp_swap, short=True)  # fmt: skip
    hf_im = fut_im.sum(axis=1) + swap_im.sum(axis=1)
    hf_cash = _round(rng.uniform(0.003, 0.02, nh) * hf_value)
    cash[o_hf:o_dl] = hf_cash
    hf_assets = hf_value + hf_cash + hf_im
    leverage = np.clip(hf_leverage_median_ratio * np.exp(0.45 * rng.standard_normal(nh)), 5, 60)
    repo_target = hf_assets * (1.0 - 1.0 / leverage)

    # repo edges: k per fund, round-robin over buckets, split by gamma weights
    k = max(nb, exposures_per_fund - nc)
    e_fund = np.repeat(hf_rows, k)
    e_bucket = np.tile(np.arange(k) % nb, nh)
    n_e = len(e_fund)
    split = _group_shares(rng.gamma(2.0, size=n_e), e_fund * nb + e_bucket, nh * nb)
    haircut = np.where(
        rng.random(n_e) < zero_haircut_share, 0.0, np.round(rng.uniform(0.01, 0.03, n_e), 4)
    )
    capacity = split * hf_value_b[e_fund, e_bucket] * (1.0 - haircut)  # borrow all collateral
    cap_fund = np.bincount(e_fund, capacity, minlength=nh)
    phi = np.minimum(np.divide(repo_target, cap_fund, out=np.zeros(nh), where=cap_fund > 0), 0.99)
    amount = _floor(phi[e_fund] * capacity)
    sponsored_p = 1.0 if nd == 0 else (sponsored_share if nm > 0 else 0.0)
    sponsored = rng.random(n_e) < sponsored_p
    dealer_w = np.exp(0.8 * rng.standard_normal(nd))
    mmf_w = np.exp(1.0 * rng.standard_normal(nm))
    lender = np.empty(n_e, dtype=np.int64)
    ns = int(sponsored.sum())
    if ns:
        lender[sponsored] = o_mmf + rng.choice(nm, size=ns, p=mmf_w / mmf_w.sum())
    if n_e - ns:
        lender[~sponsored] = o_dl + rng.choice(nd, size=n_e - ns, p=dealer_w / dealer_w.sum())
    spread = np.where(sponsored, 0.05, np.round(rng.uniform(0.05, 0.20, n_e), 3))
    tenor = np.where(
        sponsored,
        np.where(rng.random(n_e) < 0.8, 1.0, 30.0),
        rng.choice(HF_TENOR_DAYS, size=n_e, p=HF_TENOR_PROB),
    )
    ok = amount > 0
    edges.add(
        "repo",
        "repo-hf-",
        mask=ok,
        source=lender,
        target=o_hf + e_fund,
        amount_usd_bn=amount,
        collateral_bucket=np.array(BUCKETS, dtype=object)[e_bucket],
        haircut_frac=haircut,
        rate_pct=np.round(REPO_RATE_PCT + spread, 4),
        tenor_days=tenor,
        segment=np.where(sponsored, "sponsored", "bilateral").astype(object),
    )
    amount = np.where(ok, amount, 0.0)

    # --- dealers: inventory, matched book, tri-party funding, interdealer claims ----------
    dw = dealer_w / dealer_w.sum() if nd else dealer_w
    d_rows = np.arange(nd)
    inventory = _round(dealer_inventory_mean_par_usd_bn * nd * dw[:, None] * DEALER_BUCKET_WEIGHTS)
    holdings[o_dl:o_mmf] = inventory
    own_value = inventory * pv
    from_dealer = ~sponsored & ok
    d_idx = lender[from_dealer] - o_dl
    received, reverse_repo = dealer_matched_book(d_idx, e_bucket, amount, haircut, from_dealer, nd)
    ta_base = dealer_total_assets_mean_usd_bn * nd * dw
    unsec_claims = np.zeros(nd)
    unsec_debts = np.zeros(nd)
    if nd >= 2 and interdealer_per_dealer > 0:
        u_src = np.repeat(d_rows, interdealer_per_dealer)
        u_dst = (u_src + rng.integers(1, nd, size=len(u_src))) % nd
        u_amt = _round(
            interdealer_frac
            * ta_base[u_src]
            * rng.uniform(0.5, 1.5, len(u_src))
            / interdealer_per_dealer
        )
        u_ok = u_amt > 0
        edges.add(
            "unsecured",
            "unsec-dl-",
            mask=u_ok,
            source=o_dl + u_src,
            target=o_dl + u_dst,
            amount_usd_bn=u_amt,
        )
        unsec_claims = np.bincount(u_src[u_ok], u_amt[u_ok], minlength=nd)
        unsec_debts = np.bincount(u_dst[u_ok], u_amt[u_ok], minlength=nd)
    # tri-party re-pledge to MMFs: per (dealer, bucket), m lenders
    borrow_db = repledge_frac * (1.0 - TRIPARTY_HAIRCUT_FRAC) * (received + own_value)
    dealer_borrowed = np.zeros(nd)
    mmf_lent = np.zeros(nm)
    if nm and nd and lenders_per_dealer_bucket > 0:
        m = lenders_per_dealer_bucket
        t_group = np.repeat(np.arange(nd * nb), m)
        t_split = _group_shares(rng.gamma(2.0, size=len(t_group)), t_group, nd * nb)
        t_amt = _floor(borrow_db.ravel()[t_group] * t_split)
        t_lender = rng.choice(nm, size=len(t_group), p=mmf_w / mmf_w.sum())
        t_ok = t_amt > 0
        edges.add(
            "repo",
            "repo-tri-",
            mask=t_ok,
            source=o_mmf + t_lender,
            target=o_dl + t_group // nb,
            amount_usd_bn=t_amt,
            collateral_bucket=np.array(BUCKETS, dtype=object)[t_group % nb],
            haircut_frac=TRIPARTY_HAIRCUT_FRAC,
            rate_pct=TRIPARTY_RATE_PCT,
            tenor_days=1.0,
            segment="triparty",
        )
        dealer_borrowed = np.bincount(t_group[t_ok] // nb, t_amt[t_ok], minlength=nd)
        mmf_lent += np.bincount(t_lender[t_ok], t_amt[t_ok], minlength=nm)
    # futures: the TFF dealer category; a dealer is net long or net short a contract: of
    # the dealers, round(nd x longs / (longs + shorts)) (at least one of each side when
    # nd > 1) are long, taken in a rotating order per contract (no random draw, so the
    # other draws of the system stay as they were); longs (shorts) split by dealer size
    d_im = np.zeros(nd)
    if nd:
        d_long, d_short = cat_long["dealer"], cat_short["dealer"]
        n_long = np.round(nd * d_long / np.maximum(d_long + d_short, 1e-12))
        n_long = np.clip(n_long, min(1, nd - 1), max(nd - 1, 1))
        is_long = (np.arange(nd)[:, None] + np.arange(nc)[None, :]) % nd < n_long[None, :]
        d_fut_im = cleared_positions(
            edges, "futures", "fut-dl-", _split_over(d_long, dw[:, None] * is_long),
            FUTURES_IM_FRAC, first=o_dl, ccp=i_ccp_fut,
        ) + cleared_positions(
            edges, "futures", "fut-dls-", _split_over(d_short, dw[:, None] * ~is_long),
            FUTURES_IM_FRAC, first=o_dl, ccp=i_ccp_fut, short=True,
        )  # fmt: skip
        fut_im = fut_im.sum() + d_fut_im.sum()  # held by the CCP
        d_im = d_fut_im.sum(axis=1)
    non_other = own_value.sum(axis=1) + reverse_repo + unsec_claims + d_im
    d_ta = np.maximum(ta_base, non_other / 0.6)
    d_cash = _round(DEALER_CASH_FRAC * d_ta)
    cash[o_dl:o_mmf] = d_cash
    other_assets[o_dl:o_mmf] = np.maximum(_round(d_ta - d_cash - non_other), 0.0)
    slr = rng.uniform(dealer_slr_range_frac[0], dealer_slr_range_frac[1], nd)
    d_assets = d_cash + other_assets[o_dl:o_mmf] + non_other
    other_liab[o_dl:o_mmf] = np.maximum(
        _round(d_assets * (1.0 - slr) - dealer_borrowed - unsec_debts), 0.0
    )

    # --- MMFs: sponsored lending, ON RRP, bills --------------------------------------------
    if nm:
        spon = sponsored & ok
        mmf_lent += np.bincount(lender[spon] - o_mmf, amount[spon], minlength=nm)
        mw = mmf_w / mmf_w.sum()
        on_rrp = _round(on_rrp_share * mmf_lent.sum() * mw)
        rrp_bucket = np.arange(nm) % nb
        has_r = on_rrp > 0
        edges.add(
            "repo",
            "onrrp-",
            mask=has_r,
            source=o_mmf + np.arange(nm),
            target=np.full(nm, i_fed),
            amount_usd_bn=on_rrp,
            collateral_bucket=np.array(BUCKETS, dtype=object)[rrp_bucket],
            haircut_frac=0.0,
            rate_pct=ON_RRP_RATE_PCT,
            tenor_days=1.0,
            segment="central_bank",
        )
        repo_assets = mmf_lent + on_rrp
        m_ta = np.maximum(mmf_assets_mean_usd_bn * nm * mw, repo_assets / 0.7)
        m_cash = _round(MMF_CASH_FRAC * m_ta)
        cash[o_mmf:o_am] = m_cash
        other_assets[o_mmf:o_am] = np.maximum(_round(m_ta - m_cash - repo_assets), 0.0)
        rrp_need = np.bincount(rrp_bucket, on_rrp, minlength=nb)  # collateral value, 0 haircut
    else:
        rrp_need = np.zeros(nb)

    # --- asset managers: futures longs, receive-fixed swaps, cash Treasuries ----------------
    fut_total = sum(cat_long.values())  # open interest per contract (= the shorts)
    swap_total = (swap_notional * (swap_notional > 0)).sum(axis=0)  # per bucket
    am_im = np.zeros(na)
    if na:
        aw, am_im, am_fut_im, am_swap_im = asset_manager_derivatives(
            edges, rng, cat_long["asset_mgr"], swap_total, FUTURES_IM_FRAC, n_managers=na,
            first=o_am, ccp_futures=i_ccp_fut, ccp_swaps=i_ccp_swap,
        )  # fmt: skip
        am_short_im = cleared_positions(
            edges, "futures", "fut-ams-", _split_over(cat_short["asset_mgr"], aw),
            FUTURES_IM_FRAC, first=o_am, ccp=i_ccp_fut, short=True,
        )  # fmt: skip
        am_im = am_im + am_short_im.sum(axis=1)
        am_fut_im += am_short_im.sum()
        am_par = _round(am_treasury_mean_par_usd_bn * na * aw[:, None] * AM_BUCKET_WEIGHTS)
        holdings[o_am:i_ccp_fut] = am_par
        aum = am_aum_mean_usd_bn * na * aw
        a_cash = _round(AM_CASH_FRAC * aum)
        cash[o_am:i_ccp_fut] = a_cash
        other_assets[o_am:i_ccp_fut] = np.maximum(
            _round(aum - a_cash - rowdot(am_par, pv) - am_im), 0.0
        )
        fut_im_held = np.sum(fut_im) + am_fut_im
        swap_im_held = swap_im.sum() + am_swap_im
    else:
        fut_im_held, swap_im_held = np.sum(fut_im), 0.0

    # --- the central bank, other holders, CCPs ---------------------------------------------
    fed_par = np.maximum(FED_HOLDINGS_PAR_USD_BN, _ceil(1.05 * rrp_need / pv))
    holdings[i_fed] = fed_par
    other_assets[i_fed] = FED_OTHER_ASSETS_USD_BN
    other_liab[i_fed] = _round(
        dot(fed_par, pv) + FED_OTHER_ASSETS_USD_BN - rrp_need.sum() - FED_CAPITAL_USD_BN
    )
    if no:
        ow = 0.6 ** np.arange(no)
        ow /= ow.sum()
        mixo = rng.dirichlet(20.0 * OTHER_BUCKET_WEIGHTS, size=no)
        o_par = _round(other_holdings_mean_par_usd_bn * no * ow[:, None] * mixo)
        holdings[o_oth:] = o_par
        cash[o_oth:] = _round(OTHER_CASH_FRAC * rowdot(o_par, pv))
        # other reportable and non-reportable futures traders, with one IM of cash
        for cat, j in (("other_rept", min(3, no - 1)), ("nonrept", min(4, no - 1))):
            im = cleared_positions(
                edges, "futures", f"fut-{cat.replace('_', '')}-l-", cat_long[cat][None, :],
                FUTURES_IM_FRAC, first=o_oth + j, ccp=i_ccp_fut,
            ) + cleared_positions(
                edges, "futures", f"fut-{cat.replace('_', '')}-s-", cat_short[cat][None, :],
                FUTURES_IM_FRAC, first=o_oth + j, ccp=i_ccp_fut, short=True,
            )  # fmt: skip
            cash[o_oth + j] = _round(cash[o_oth + j] + im.sum())
            fut_im_held += im.sum()
    cash[i_ccp_fut] = _round(np.float64(fut_im_held * (1.0 + ccp_own_funds_frac)))
    cash[i_ccp_swap] = _round(np.float64(swap_im_held * (1.0 + ccp_own_funds_frac)))

    # --- tables ------------------------------------------------------------------------------
    ids = np.concatenate(
        [
            _ids("hf-", nh),
            _ids("dealer-", nd),
            _ids("mmf-", nm),
            _ids("am-", na),
            np.array(["ccp_futures", "ccp_swaps", "fed"], dtype=object),
            np.array([OTHER_HOLDER_NAMES[j][0] for j in range(min(no, 5))], dtype=object),
            _ids("other-", no)[5:],
        ]
    )
    names = np.full(n, "", dtype=object)
    names[o_oth : o_oth + min(no, 5)] = [OTHER_HOLDER_NAMES[j][1] for j in range(min(no, 5))]
    inst = institutions_table(
        ids, names, (nh, nd, nm, na, no), cash, other_assets, other_liab, holdings
    )
    total = holdings.sum(axis=0)
    outstanding = np.maximum(BASE_OUTSTANDING_USD_BN, np.ceil(total / MAX_HELD_SHARE))
    market = market_dict(outstanding, open_interest=_round(fut_total))
    inst, exp = route_through_ficc(inst, edges.frame(ids))
    return inst, exp, market


def _table_defaults() -> dict[str, Any]:
    sig = inspect.signature(generate_tables)
    return {k: p.default for k, p in sig.parameters.items() if k != "seed"}


def generate_system(
    *,
    name: str = "synthetic",
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    seed: int | np.random.Generator | None = None,
    **params: Any,
) -> System:
    """A validated synthetic :class:`~contagion.System` (see the module docstring).

    Parameters
    ----------
    name, description : str
        Labels of the system (a default description names the generator and seed).
    metadata : mapping, optional
        Extra provenance merged into the system's metadata; the generator, its parameters
        and the seed are recorded under ``metadata["generator"]``.
    seed : int, numpy Generator or None
        Seed of ``np.random.default_rng``; an int makes the system reproducible.
    **params
        Keyword arguments of :func:`generate_tables` (counts, sizes, shares), e.g.
        ``n_hedge_funds=100, n_dealers=25, n_mmfs=20, n_asset_managers=20, n_other=5,
        exposures_per_fund=8, size_tail_alpha=1.2, swap_spread_share=0.14``.

    Returns
    -------
    System
        Validated (balance sheets, collateral, outstanding) and compiled.

    Examples
    --------
    >>> s = generate_system(n_hedge_funds=10, n_dealers=3, n_mmfs=2, n_asset_managers=2,
    ...                     n_other=1, seed=0)
    >>> s.n_institutions
    22
    >>> s.equals(generate_system(n_hedge_funds=10, n_dealers=3, n_mmfs=2,
    ...                          n_asset_managers=2, n_other=1, seed=0))
    True
    """
    inst, exp, market = generate_tables(seed=seed, **params)
    effective = {**_table_defaults(), **params}
    recorded = {k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(effective.items())}
    seed_note = seed if isinstance(seed, int) else None
    meta = dict(metadata or {})
    meta["generator"] = {"function": GENERATOR, "params": recorded, "seed": seed_note}
    if description is None:
        description = f"Synthetic system from {GENERATOR} (seed {seed_note})."
    return System(inst, exp, market, name=name, description=description, metadata=meta)


STYLISED_US_2025_PATH = Path(__file__).parent / "data" / "systems" / "stylised_us_2025.yaml"


# Per-institution mean sizes of generate_tables, by the sector count they are a mean over:
# a sector's total is count x mean exactly (the drawn weights are normalised), so dividing
# the means by the change in count splits the same sector among more institutions.
SECTOR_SIZE_PARAMS: dict[str, tuple[str, ...]] = {
    "n_hedge_funds": ("hf_mean_long_par_usd_bn",),
    "n_dealers": ("dealer_inventory_mean_par_usd_bn", "dealer_total_assets_mean_usd_bn"),
    "n_mmfs": ("mmf_assets_mean_usd_bn",),
    "n_asset_managers": ("am_aum_mean_usd_bn", "am_treasury_mean_par_usd_bn"),
    "n_other": ("other_holdings_mean_par_usd_bn",),
}


def with_counts(params: Mapping[str, Any], counts: Mapping[str, int]) -> dict[str, Any]:
    """``params`` of :func:`generate_system` with new sector ``counts`` and the same sector
    totals: each per-institution mean size is scaled by old count / new count (a sector
    with no institutions before or after keeps its means).

    Examples
    --------
    >>> p = with_counts(stylised_us_2025_params(), {"n_hedge_funds": 1000})
    >>> p["n_hedge_funds"] * p["hf_mean_long_par_usd_bn"]  # 100 funds x 21.5 before
    2150.0
    """
    out = {**_table_defaults(), **params}
    for count, new in counts.items():
        if count not in SECTOR_SIZE_PARAMS:
            raise ValueError(f"unknown sector count {count!r}; one of {list(SECTOR_SIZE_PARAMS)}")
        old = out[count]
        out[count] = new
        if old > 0 and new > 0:
            for size in SECTOR_SIZE_PARAMS[count]:
                out[size] = out[size] * old / new
    return out


def stylised_us_2025_params(n_institutions: int | None = None) -> dict[str, Any]:
    """Keyword arguments of :func:`generate_system` that produce the bundled
    ``stylised_us_2025`` system (:func:`contagion.examples.stylised_us_2025`), or with
    ``n_institutions`` the same market split among about that many institutions.

    About 100 hedge funds (heavy-tailed, ~2,150 USD bn par of Treasury longs, ~2,000 of
    repo, ~1,100 of futures shorts concentrated in 5y), 25 primary dealers (SLR 5.2-6.5%),
    20 MMFs, 20 asset managers, two CCPs, the Fed and five other holders. The numbers are
    stylised placeholders until the calibration replaces them.

    With ``n_institutions`` the sector counts are :func:`counts_for` (half hedge funds, 5%
    dealers, ...) and the per-institution sizes shrink so every sector's total, and so
    the market, stays that of the bundled system (:func:`with_counts`): a granular copy of
    the same economy, for scaling studies and benchmarks. ``counts_for(n)`` passed to
    :func:`generate_system` alone keeps the per-institution sizes, so the market grows
    with the count: at 1,000 institutions 129,564 USD bn outstanding, six times the
    stylised market and over four times the US Treasury market, and about half of the
    institutions default under ``basis_unwind``.

    Examples
    --------
    >>> stylised_us_2025_params()["seed"]
    2025
    >>> p = stylised_us_2025_params(1000)
    >>> p["n_hedge_funds"], p["n_dealers"], p["n_dealers"] * p["dealer_inventory_mean_par_usd_bn"]
    (500, 50, 350.0)
    """
    base = _stylised_us_2025_base()
    if n_institutions is None:
        return base
    out = with_counts(base, counts_for(n_institutions))
    out["name"] = f"stylised_us_2025_x{int(n_institutions)}"
    out["description"] = (
        f"The stylised_us_2025 market split among about {int(n_institutions)} institutions "
        "(contagion.synthetic.stylised_us_2025_params): the same sector totals, smaller "
        "institutions. Generated by contagion.synthetic.generate_system; placeholder numbers."
    )
    return out


def _stylised_us_2025_base() -> dict[str, Any]:
    return {
        "name": "stylised_us_2025",
        "description": (
            "A stylised US Treasury basis-trade system of realistic size and 2025 aggregates: "
            "about 100 heavy-tailed hedge funds (cash-futures basis, swap-spread and other "
            "relative-value trades), 25 primary dealers running matched-book repo, 20 MMFs "
            "lending to dealers and funds and at the ON RRP, 20 asset managers (most of the "
            "futures longs), a futures CCP, a swap CCP, the Fed and five other holders. "
            "Generated by contagion.synthetic.generate_system; placeholder numbers."
        ),
        "metadata": {
            "status": "placeholder",
            "note": "numbers are stylised placeholders until the calibration issue replaces them",
        },
        "seed": 2025,
        "n_hedge_funds": 100,
        "n_dealers": 25,
        "n_mmfs": 20,
        "n_asset_managers": 20,
        "n_other": 5,
        "exposures_per_fund": 8,
        "lenders_per_dealer_bucket": 3,
        "interdealer_per_dealer": 4,
        "size_tail_alpha": 1.2,
        "size_max_ratio": 100.0,
        "hf_mean_long_par_usd_bn": 21.5,
        "basis_share": 0.6,
        "swap_spread_share": 0.14,
        "swap_spread_fund_frac": 0.4,
        "hf_leverage_median_ratio": 20.0,
        "sponsored_share": 0.15,
        "zero_haircut_share": 0.7,
        "dealer_inventory_mean_par_usd_bn": 14.0,
        "dealer_total_assets_mean_usd_bn": 400.0,
        "dealer_slr_range_frac": (0.052, 0.065),
        "repledge_frac": 0.85,
        "interdealer_frac": 0.01,
        "mmf_assets_mean_usd_bn": 330.0,
        "on_rrp_share": 0.08,
        "am_aum_mean_usd_bn": 600.0,
        "am_treasury_mean_par_usd_bn": 75.0,
        "other_holdings_mean_par_usd_bn": 1400.0,
        "ccp_own_funds_frac": 0.15,
    }


def write_stylised_us_2025(path: str | Path | None = None) -> System:
    """Regenerate the bundled ``stylised_us_2025`` system and save it as YAML.

    The document is :func:`contagion.io.to_dict` of the system (what
    :func:`contagion.io.save_system` writes), less the behavioural parameters that equal
    their schema default for the institution's type: like the toy system, the bundled
    file then follows the documented defaults when they change, and regenerating it
    stays equal to the file. Run this after changing the generator or the schema defaults.

    Parameters
    ----------
    path : path, optional
        Where to write (default: the bundled file in ``contagion/data/systems``).
    """
    import yaml

    from contagion.io import atomic_write_text, to_dict

    system = generate_system(**stylised_us_2025_params())
    doc = to_dict(system)
    for rec in doc["institutions"]:
        for col in BEHAVIOUR_COLUMNS:
            if col in rec and rec[col] == INSTITUTION_SPEC[col].default_for(rec["type"]):
                del rec[col]
    text = yaml.safe_dump(doc, sort_keys=False)
    atomic_write_text(STYLISED_US_2025_PATH if path is None else path, text)
    return system


def counts_for(n_institutions: int) -> dict[str, int]:
    """Sector counts for a system of about ``n_institutions`` (benchmarks, scaling).

    Shares: 50% hedge funds, 5% dealers, 10% MMFs, 30% asset managers, the rest other
    holders (at least one of each of the first four). Four rows are left for the two CCPs,
    the central bank and FICC (added when there is sponsored repo).

    Examples
    --------
    >>> counts_for(1000)
    {'n_hedge_funds': 500, 'n_dealers': 50, 'n_mmfs': 100, 'n_asset_managers': 300, 'n_other': 46}
    """
    n = max(int(n_institutions) - 4, 4)  # 2 CCPs, the central bank and FICC are added
    out = {
        "n_hedge_funds": max(1, round(0.5 * n_institutions)),
        "n_dealers": max(1, round(0.05 * n_institutions)),
        "n_mmfs": max(1, round(0.10 * n_institutions)),
        "n_asset_managers": max(1, round(0.30 * n_institutions)),
    }
    out["n_other"] = max(0, n - sum(out.values()))
    return out
