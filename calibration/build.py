"""Build a granular :class:`contagion.System` from a dated snapshot of public aggregates.

:func:`build_system` turns one vintage (``calibration.load_snapshot``) into hundreds of hedge
funds, ~25 primary dealers, MMFs, asset managers, two CCPs, the Fed and the other holders,
reusing the vectorised approach and helpers of :mod:`contagion.synthetic` (truncated-Pareto
sizes, gamma splits, the edge collector, rounding to 1e-6 USD bn). One ``seed`` gives one
system; the sector aggregates listed in :func:`build_targets` are hit **exactly** (up to the
1e-6 rounding) whatever the seed, only their distribution across institutions changes.

Units: amounts in USD bn (Treasuries at par; every bucket is priced at par, 100 per 100
face, because the snapshot's durations are par-bond durations), rates in percent, shares
as fractions, volatility as a MOVE index level.

How the snapshot maps to the network (row names of ``aggregates.csv``):

* **Market.** Buckets 2y/5y/10y/30y with ``ust_outstanding_<b>``, ``yield_<b>_pct``,
  ``ust_modified_duration_<b>_years``; convexity is the par-bond convexity at that yield.
  Futures TU/FV/TY/US with CME IM rates ``futures_initial_margin_<b>_frac``; open interest
  is the *outright* open interest of the vintage's CFTC Traders in Financial Futures report:
  the sum of the trader categories' longs, which equals the sum of their shorts (the
  report's ``Open_Interest_All``, ``futures_open_interest_<b>``, also counts spreading
  positions, long and short one contract in two delivery months, which are flat in a
  market with one contract per bucket). Repo rate ``sofr_pct``, ON RRP rate,
  policy rate = ``srf_min_bid_rate_pct`` (top of the FF range), ``move_index_level``.
* **Hedge funds** (``n_hedge_funds``, default 300). Cash Treasury holdings =
  ``hf_ust_holdings`` less the maturity-matched relative-value trades
  ``hf_maturity_matched_rv`` where the vintage has the row (Form PF, Monin 2026: long an
  off-the-run, short an on-the-run of the same maturity; flat within a maturity bucket, so
  the pair is netted: neither leg nor the repo financing the long leg is modelled), split
  into the cash-futures basis (``basis_trade_size``, placed across buckets in proportion
  to the leveraged-fund futures shorts: the futures leg sits
  where the CFTC shorts are), swap-spread trades (``swap_spread_trade_size``, paying fixed
  at the swap CCP) and other relative value (the rest). Futures shorts per bucket =
  ``lf_futures_short_<b>``: the basis funds short ``par x CF``, the rest (non-basis shorts,
  conflict 10.1) is spread over other-RV books, as are the leveraged-fund futures longs
  ``futures_lev_money_long_<b>``. Fund sizes are truncated-Pareto draws
  raised to a power chosen so that the 50 largest funds by gross exposure (longs + futures
  shorts + swap notional) hold exactly ``top50_share_gross_ust_exposure``.
  **Strategy books.** Each fund is one institution per strategy it runs (``strategy``,
  shared ``fund_id``; ids ``hf-007-basis`` / ``-swap`` / ``-rv`` / ``-dir``), each with its
  own cash, repo, IM and so equity: ``basis`` (its basis bonds, short futures ``par x
  CF``), ``swap_spread`` (its swap-spread bonds, paying fixed), ``relative_value`` (other
  RV bonds and the non-basis futures shorts) and ``directional`` (the leveraged-fund
  futures longs; assumption: the TFF does not split LF longs by strategy, anywhere from 0
  to all of them could be curve-trade legs of RV books). The sizes come from the fact base
  (``basis_trade_size``, ``swap_spread_trade_size`` of Form PF, the rest of
  ``hf_ust_holdings`` is other RV); a fund's cash buffer and each of its repo edges are
  split over its books holding that bucket pro rata to their bonds (assumption: pods are
  financed like their fund), and a directional (futures-only) book has the equity of a fund
  at the Form PF gross-to-net leverage of the large funds, ``face / hf_leverage_top50_gav_nav``
  (a snapshot assumption with its range), held as its IM and cash. The equity of the
  other books (haircuts, IM, a cash buffer) is then lifted by one factor for every fund,
  held as cash, until the 50 largest funds run at that same GAV / NAV in all (before, the
  builder's top 50 ran at about 10x in 2020 and 15x in 2025 against Form PF's ~7x).
  Concentration and repo targets are per fund (summed over its books).
  Repo: the model's repo is Treasury-collateralised, so the modelled HF repo is
  ``min(hf_repo_borrowing, MAX_REPO_TO_COLLATERAL x holdings)`` (Form PF counts repo on all
  collateral: 1,465 > 1,080 of UST holdings in Feb 2020); the top 50 borrow exactly
  ``top50_share_repo``; ``hf_repo_zero_haircut_share`` of the amount is at zero haircut,
  the rest at ``hf_repo_haircut_positive_typical``; ``hf_sponsored_repo_borrowing`` is
  sponsored (lent by MMFs through FICC), the rest bilateral from dealers.
* **FICC** (``ccp_ficc``, the last institution): every sponsored trade is two legs, MMF ->
  FICC and FICC -> fund, same amount, bucket, haircut and rate
  (:func:`contagion.synthetic.route_through_ficc`); FICC's own resources (its equity, in
  cash) are ``contagion.synthetic.FICC_OWN_RESOURCES_FRAC`` (2%, an assumption with range
  1-5%) of its sponsored book; DTCC's quantitative disclosures of FICC's prefunded
  resources were not found as a file. A fund's sponsor is derived from the graph
  (:mod:`contagion.mechanisms.sponsored`).
* **Dealers** (``primary_dealer_count``): UST inventory by bucket
  ``dealer_ust_inventory_<b>`` (FR 2004 net coupon positions by maturity, mapped to the
  model's buckets by :func:`calibration.sources.fr2004_to_model_buckets`; they must add up to
  ``dealer_ust_inventory``), each dealer holding its size weight times each bucket, matched
  book (reverse repo to funds, tri-party repo from MMFs up to the tri-party volume),
  leverage-ratio requirement ``slr_requirement``, equity set so that their summed
  leverage-ratio headroom equals ``dealer_capacity_usd_bn`` (the prior
  ``dealer_ust_capacity``; a fitted parameter). Their futures are the TFF dealer/intermediary
  category, ``futures_dealer_long_<b>`` and ``futures_dealer_short_<b>``, split across
  dealers by size.
* **MMFs**: total ``mmf_assets`` (government and prime funds named apart), lending in
  sponsored repo, tri-party repo and ``on_rrp`` at the Fed; the rest in bills.
* **Asset managers** hold the TFF asset-manager futures longs ``am_futures_long_<b>`` and
  shorts ``futures_asset_mgr_short_<b>``, receive fixed on the funds' swaps, and hold a
  share of the cash Treasuries.
* **The Fed**: total assets ``fed_total_assets`` (UST coupons + other), ON RRP and reserves
  ``bank_reserves`` as liabilities.
* **Other holders**: foreign official, foreign private, banks, insurers and pensions,
  households: the rest of each bucket (a share stays outside the system).
* **Other futures traders**: the TFF other-reportable and non-reportable categories are a
  holder group of their own, two institutions of type ``other`` (``futures_other_rept``,
  ``futures_nonrept``) holding their category's longs and shorts
  (``futures_other_rept_<side>_<b>``, ``futures_nonrept_<side>_<b>``), funded by equity.

Futures positions by contract are the TFF categories exactly: per bucket the longs of all
categories equal their shorts and the market's open interest (no residual is assigned to
anyone; a vintage whose rows do not add up is an error). A category's amount is split over
its institutions with the rounding residual on the largest, so each category total is hit
to 1e-6 USD bn. Where one institution stands for many traders of a category (an asset
manager, an other-trader group) it holds the category's longs and shorts as two positions.

Numbers that are not in the snapshot are module constants, each with its source or the
note that it is a modelling assumption (most are the documented placeholders of
:mod:`contagion.synthetic`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from calibration.snapshot import Snapshot, load_snapshot
from contagion import synthetic as syn
from contagion.mechanisms.dealers import dealer_room
from contagion.schema import holdings_column
from contagion.system import System

__all__ = [
    "BUCKETS",
    "MAX_REPO_TO_COLLATERAL",
    "build_system",
    "build_tables",
    "build_targets",
    "measure_aggregates",
    "network_checks",
    "with_dealer_capacity",
]

BUCKETS = syn.BUCKETS  # 2y, 5y, 10y, 30y (README: TU, FV, TY+UXY, US+WN)
FUTURES_CODES = syn.FUTURES_CODES
MATURITY_YEARS = syn.MATURITY_YEARS
# Conversion factors and the cash-futures basis in price points are not in the fact base:
# the documented placeholders of contagion.synthetic.
CONVERSION_FACTOR = syn.CONVERSION_FACTOR
BASIS_PRICE_POINTS = syn.BASIS_PRICE_POINTS
SWAP_SPREAD_PCT = syn.SWAP_SPREAD_PCT  # swap rate - yield per bucket (synthetic placeholder)
SWAP_IM_FRAC = syn.SWAP_IM_FRAC  # swap CCP IM rate per bucket (synthetic placeholder)
# Bucket weights of the strategies other than the basis trade and of the Fed's coupons:
# synthetic placeholders (the fact base has no maturity split of them). Dealer inventories
# are split by the snapshot's FR 2004 bucket rows (DEALER_INVENTORY_ROWS), not by weights.
SWAP_SPREAD_BUCKET_WEIGHTS = syn.SWAP_SPREAD_BUCKET_WEIGHTS
OTHER_RV_BUCKET_WEIGHTS = syn.OTHER_RV_BUCKET_WEIGHTS
FED_BUCKET_WEIGHTS = syn.FED_HOLDINGS_PAR_USD_BN / syn.FED_HOLDINGS_PAR_USD_BN.sum()
# SOMA coupons as a share of Fed assets: synthetic placeholder (3,900 of 6,100).
FED_UST_SHARE = syn.FED_HOLDINGS_PAR_USD_BN.sum() / (
    syn.FED_HOLDINGS_PAR_USD_BN.sum() + syn.FED_OTHER_ASSETS_USD_BN
)
FED_CAPITAL_USD_BN = syn.FED_CAPITAL_USD_BN
# Assumption (README conflict notes): Form PF repo is on all collateral; the model's repo is
# against Treasuries, so HF Treasury books are financed at most at 90% of collateral value
# (a 10% equity + cash + IM cushion on average; the top funds run thinner, see the builder).
MAX_REPO_TO_COLLATERAL = 0.9
#: Snapshot row of maturity-matched relative-value trades (netted within buckets).
MATCHED_RV_ROW = "hf_maturity_matched_rv_usd_bn"
MAX_PHI = 0.98  # no fund borrows more than 98% of its collateral value (positive haircut 2%)
HF_CASH_RANGE_FRAC = (0.003, 0.02)  # cash buffer / holdings value (synthetic's draw)
HF_SIZE_TAIL_ALPHA = 1.2  # Pareto exponent of raw sizes (synthetic default)
HF_SIZE_MAX_RATIO = 1000.0  # truncation of the raw Pareto (wide: the power fit shapes it)
SWAP_SPREAD_FUND_FRAC = 0.4  # share of funds running swap-spread trades (synthetic default)
REPO_EDGES_PER_FUND = 8  # two lenders per bucket
# Dealers: total assets and cash are not in the fact base (synthetic placeholders).
DEALER_TOTAL_ASSETS_MEAN_USD_BN = 400.0
DEALER_CASH_FRAC = syn.DEALER_CASH_FRAC
REPLEDGE_FRAC = 0.85  # share of dealers' collateral re-pledged in tri-party (synthetic)
#: Treasuries' share of tri-party repo collateral (frac of value). The snapshot's tri-party
#: volumes (fact base 2.2-2.4) are on all collateral; the model's tri-party repo is against
#: Treasuries, so its target is this share of them. Named assumption, range 0.40-0.54, from
#: the NY Fed tri-party statistics (collateral value by asset class, 7th business day of the
#: month, Fed trades included): 31.7% on 2012-08-09 (NY Fed "Tri-Party Repo Margin and GCF
#: Repo Statistics" page), "roughly 40 percent" in 2013-14 (Copeland, Davis, LeSueur and
#: Martin, Liberty Street Economics, 2014-07), 47.6% on 2016-09-12 and about 49-52% in 2017
#: (as relayed by the Derivatives & Repo Report), 54.3% "recent data" in SIFMA's US Repo
#: Market Fact Sheet 2017. No share after 2017 was found in a public copy; the official
#: files (NY Fed tpr_factsheet.xlsx, OFR REPO-TRI_TV_T-P / _TOT-P) would replace it.
TRIPARTY_TREASURY_SHARE = 0.47
#: Its plausible range (the evidence above), for sensitivity analysis of the share.
TRIPARTY_TREASURY_SHARE_RANGE = (0.40, 0.54)
INTERDEALER_FRAC = 0.01
INTERDEALER_PER_DEALER = 4
LENDERS_PER_DEALER_BUCKET = 3
MMF_CASH_FRAC = syn.MMF_CASH_FRAC
MAX_MMF_REPO_SHARE = 0.7  # private repo lending / NAV per MMF at build (synthetic: 70%)
AM_CASH_FRAC = syn.AM_CASH_FRAC
OTHER_CASH_FRAC = syn.OTHER_CASH_FRAC
# Asset managers hold 12.5% of AUM in Treasuries (synthetic: 75 of 600 per manager).
AM_TREASURY_SHARE_OF_AUM = 75.0 / 600.0
CCP_OWN_FUNDS_FRAC = 0.15  # synthetic default
# Of each bucket's outstanding not held by funds, dealers and the Fed: a share stays outside
# the modelled system (retail, state and local, ...), the rest is split across the holders
# below. Assumption, not in the fact base (TIC / Z.1 orders of magnitude).
UNMODELLED_SHARE = 0.10
HOLDER_SHARES = {
    "asset_managers": 0.20,
    "foreign_official": 0.25,
    "foreign_private": 0.15,
    "banks": 0.15,
    "insurers_pensions": 0.10,
    "households_other": 0.15,
}
OTHER_HOLDERS = (
    ("foreign_official", "Foreign official holders (FIMA)"),
    ("foreign_private", "Foreign private holders"),
    ("banks", "Banks' securities portfolios"),
    ("insurers_pensions", "Insurers and pension funds"),
    ("households_other", "Households and other holders"),
)
#: Strategy books of a hedge fund: (id suffix, strategy tag of contagion.schema.STRATEGIES).
HF_BOOK_SLOTS = (
    ("basis", "basis"),
    ("swap", "swap_spread"),
    ("rv", "relative_value"),
    ("dir", "directional"),
)
#: The TFF other-reportable and non-reportable categories: institutions of type ``other``.
FUTURES_HOLDERS = (
    ("futures_other_rept", "Other reportable futures traders (CFTC TFF)"),
    ("futures_nonrept", "Non-reportable futures traders (CFTC TFF)"),
)
#: TFF categories (snapshot row stems) and the model sector holding each.
TFF_ROWS = {
    "lev_money": ("futures_lev_money_long_{b}_usd_bn", "lf_futures_short_{b}_usd_bn"),
    "asset_mgr": ("am_futures_long_{b}_usd_bn", "futures_asset_mgr_short_{b}_usd_bn"),
    "dealer": ("futures_dealer_long_{b}_usd_bn", "futures_dealer_short_{b}_usd_bn"),
    "other_rept": ("futures_other_rept_long_{b}_usd_bn", "futures_other_rept_short_{b}_usd_bn"),
    "nonrept": ("futures_nonrept_long_{b}_usd_bn", "futures_nonrept_short_{b}_usd_bn"),
}
#: Largest gap between the categories' longs and shorts of a bucket accepted as rounding of
#: the snapshot rows (USD bn; TFF rows are exact to 1e-4, one contract of USD 100k face).
FUTURES_ROUNDING_USD_BN = 1e-3
#: Snapshot rows of the dealers' UST inventory per bucket (FR 2004, ``{b}`` in BUCKETS).
DEALER_INVENTORY_ROWS = "dealer_ust_inventory_{b}_usd_bn"
#: Largest gap between the bucket rows' sum and ``dealer_ust_inventory_usd_bn`` accepted as
#: rounding (USD bn; four rows rounded to USD 1 mn).
DEALER_BUCKET_ROUNDING_USD_BN = 2e-3
DEFAULTS = {"n_hedge_funds": 300, "n_mmfs": 20, "n_asset_managers": 20}

_round, _floor = syn._round, syn._floor


def _par_convexity(yield_pct: np.ndarray, maturity: np.ndarray) -> np.ndarray:
    """Convexity (years^2) of a par bond with annual coupons at its yield (computed)."""
    out = []
    for y, m in zip(yield_pct / 100.0, maturity, strict=True):
        t = np.arange(1, round(m) + 1, dtype=float)
        cf = np.full_like(t, y)
        cf[-1] += 1.0
        df = (1 + y) ** -t
        price = (cf * df).sum()
        out.append(float((cf * df * t * (t + 1)).sum() / (price * (1 + y) ** 2)))
    return np.round(np.array(out), 2)


def build_targets(vintage: str | Snapshot, dealer_capacity_usd_bn: float | None = None) -> dict:
    """The aggregates the built system must match (USD bn unless the name says otherwise).

    Keys: ``hf_holdings_par`` (per bucket array and total), ``hf_repo``, ``hf_sponsored_repo``,
    ``hf_zero_haircut_share``, ``top50_gross_share``, ``top50_repo_share``,
    ``basis_par``, ``swap_notional``, ``lf_short`` / ``am_long`` / ``open_interest`` (per
    bucket, face; open interest outright), ``futures_long`` / ``futures_short`` (TFF
    category -> per bucket face), ``dealer_inventory`` (and ``dealer_inventory_by_bucket``,
    FR 2004), ``dealer_capacity``, ``mmf_assets``,
    ``govt_mmf_assets``, ``prime_mmf_assets``, ``on_rrp``, ``fed_total_assets``,
    ``bank_reserves``, ``outstanding`` (per bucket), ``n_dealers``.
    """
    snap = vintage if isinstance(vintage, Snapshot) else load_snapshot(vintage)
    v, q = snap.value, set(snap.table["quantity"])
    long, short = _futures_categories(snap)
    lf, am = short["lev_money"], long["asset_mgr"]
    oi = sum(long.values())
    # maturity-matched relative value (long off-the-run, short on-the-run of the same
    # maturity; Monin 2026, fact base 1.31) is flat within a maturity bucket: the model nets
    # the pair (its long leg and the repo financing it are not modelled) where the row exists
    matched = v(MATCHED_RV_ROW) if MATCHED_RV_ROW in q else 0.0
    holdings = v("hf_ust_holdings_usd_bn") - matched
    tri_all = v("triparty_noncleared_repo_usd_bn") + (
        v("triparty_gcf_repo_usd_bn") if "triparty_gcf_repo_usd_bn" in q else 0.0
    )  # all collateral, all lenders (fact base 2.2-2.4)
    return {
        "vintage": snap.vintage,
        "hf_holdings": holdings,
        "hf_holdings_form_pf": v("hf_ust_holdings_usd_bn"),
        "hf_matched_rv_netted": matched,
        "hf_repo": min(v("hf_repo_borrowing_usd_bn"), MAX_REPO_TO_COLLATERAL * holdings),
        "hf_repo_form_pf": v("hf_repo_borrowing_usd_bn"),
        "hf_sponsored_repo": v("hf_sponsored_repo_borrowing_usd_bn"),
        "hf_zero_haircut_share": v("hf_repo_zero_haircut_share_frac"),
        "hf_positive_haircut": v("hf_repo_haircut_positive_typical_frac"),
        "top50_gross_share": v("top50_share_gross_ust_exposure_frac"),
        "top50_repo_share": v("top50_share_repo_frac"),
        "hf_gav_nav": v("hf_leverage_top50_gav_nav_ratio"),
        "basis_par": v("basis_trade_size_usd_bn"),
        "swap_notional": v("swap_spread_trade_size_usd_bn"),
        "lf_short": lf,
        "am_long": am,
        "open_interest": oi,
        "futures_long": long,
        "futures_short": short,
        "dealer_inventory": v("dealer_ust_inventory_usd_bn"),
        "dealer_inventory_by_bucket": _dealer_inventory_by_bucket(snap),
        "dealer_capacity": (
            v("dealer_ust_capacity_usd_bn")
            if dealer_capacity_usd_bn is None
            else float(dealer_capacity_usd_bn)
        ),
        "n_dealers": round(v("primary_dealer_count")),
        "slr": v("slr_requirement_frac"),
        "mmf_assets": v("mmf_assets_usd_bn"),
        "govt_mmf_assets": v("govt_mmf_assets_usd_bn"),
        "prime_mmf_assets": v("prime_mmf_assets_usd_bn"),
        "on_rrp": v("on_rrp_usd_bn"),
        "triparty_all_collateral": tri_all,
        "triparty": TRIPARTY_TREASURY_SHARE * tri_all,
        "triparty_haircut": v("triparty_treasury_haircut_frac"),
        "fed_total_assets": v("fed_total_assets_usd_bn"),
        "bank_reserves": v("bank_reserves_usd_bn"),
        "bank_assets": v("bank_assets_usd_bn"),
        "iorb_pct": v("iorb_pct"),
        "outstanding": np.array([v(f"ust_outstanding_{b}_usd_bn") for b in BUCKETS]),
        "yield_pct": np.array([v(f"yield_{b}_pct") for b in BUCKETS]),
        "duration": np.array([v(f"ust_modified_duration_{b}_years") for b in BUCKETS]),
        "im_frac": np.array([v(f"futures_initial_margin_{b}_frac") for b in BUCKETS]),
        "repo_rate_pct": v("sofr_pct"),
        "on_rrp_rate_pct": v("on_rrp_rate_pct"),
        "policy_rate_pct": v("srf_min_bid_rate_pct"),
        "move": v("move_index_level"),
    }


def _require_rows(snap: Snapshot, names: list[str], what: str, hint: str) -> None:
    """ValueError naming the vintage and the first missing rows of ``names``, if any
    (``what``: the sentence's subject and verb, ``hint``: how to add them)."""
    q = set(snap.table["quantity"])
    missing = [n for n in names if n not in q]
    if missing:
        more = ", ..." if len(missing) > 4 else ""
        raise ValueError(f"vintage {snap.vintage}: {what} ({', '.join(missing[:4])}{more}); {hint}")


def _futures_categories(snap: Snapshot) -> tuple[dict, dict]:
    """TFF futures longs and shorts by category (:data:`TFF_ROWS`), per bucket, USD bn face.

    Raises ValueError when a row is missing or when a bucket's longs and shorts differ by
    more than :data:`FUTURES_ROUNDING_USD_BN` (the rows are not from one report).
    """
    names = [r.format(b=b) for rows in TFF_ROWS.values() for r in rows for b in BUCKETS]
    _require_rows(
        snap, names, "futures positions by TFF category are missing",
        "add them from the CFTC TFF extracts with calibration.build_snapshot",
    )  # fmt: skip
    long = {c: np.array([snap.value(r.format(b=b)) for b in BUCKETS]) for c, (r, _) in
            TFF_ROWS.items()}  # fmt: skip
    short = {c: np.array([snap.value(r.format(b=b)) for b in BUCKETS]) for c, (_, r) in
             TFF_ROWS.items()}  # fmt: skip
    gap = sum(long.values()) - sum(short.values())
    if np.any(np.abs(gap) > FUTURES_ROUNDING_USD_BN):
        bad = ", ".join(f"{b} {g:+.4f}" for b, g in zip(BUCKETS, gap, strict=True))
        raise ValueError(
            f"vintage {snap.vintage}: futures longs and shorts of the TFF categories do not "
            f"add up (longs - shorts, USD bn: {bad}); take all categories from one report"
        )
    return long, short


def _dealer_inventory_by_bucket(snap: Snapshot) -> np.ndarray:
    """Dealers' UST inventory per bucket, USD bn (:data:`DEALER_INVENTORY_ROWS`).

    Raises ValueError naming the vintage and the quantity when a bucket row is missing, when
    a bucket is negative (dealers net short: the model holds long inventory only) or when the
    rows do not add up to ``dealer_ust_inventory_usd_bn`` within
    :data:`DEALER_BUCKET_ROUNDING_USD_BN`.
    """
    names = [DEALER_INVENTORY_ROWS.format(b=b) for b in BUCKETS]
    _require_rows(snap, names, "the dealers' inventory by bucket is missing",
                  "add the FR 2004 bucket rows (see calibration.sources.fr2004_to_model_buckets "
                  "and calibration/data/README.md)")  # fmt: skip
    by_bucket = np.array([snap.value(n) for n in names])
    negative = [n for n, x in zip(names, by_bucket, strict=True) if x < 0]
    if negative:
        raise ValueError(
            f"vintage {snap.vintage}: negative dealer inventory in {', '.join(negative)}; the "
            "model holds long inventory only"
        )
    total = snap.value("dealer_ust_inventory_usd_bn")
    if abs(by_bucket.sum() - total) > DEALER_BUCKET_ROUNDING_USD_BN:
        raise ValueError(
            f"vintage {snap.vintage}: {' + '.join(names)} = {by_bucket.sum():.3f} does not add "
            f"up to dealer_ust_inventory_usd_bn = {total:.3f}"
        )
    return by_bucket


def _allocate(total: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Split ``total`` (per column) over rows in proportion to ``weight`` (rows x columns),
    rounded to 1e-6 with the residual on the largest row, so column sums are ``total``."""
    weight = np.asarray(weight, dtype=float)
    w = np.broadcast_to(weight[:, None] if weight.ndim == 1 else weight, (len(weight), len(total)))
    alloc = _round(total * w / w.sum(axis=0))
    top = np.argmax(alloc, axis=0)
    cols = np.arange(len(total))
    alloc[top, cols] = _round(alloc[top, cols] + _round(total) - alloc.sum(axis=0))
    return alloc


def _book_ids(fund_ids: np.ndarray, bk_fund: np.ndarray, bk_slot: np.ndarray) -> np.ndarray:
    suffix = np.array([k for k, _ in HF_BOOK_SLOTS], dtype=object)[bk_slot]
    return (pd.Series(fund_ids[bk_fund]) + "-" + pd.Series(suffix)).to_numpy(object)


def _book_strategy(
    slot: np.ndarray, par: np.ndarray, short: np.ndarray, swap: np.ndarray
) -> np.ndarray:
    """Strategy tag per book: its slot's, unless rounding left a basis (swap-spread) book
    without its bonds or its futures short (pay-fixed swap): then ``relative_value``."""
    tag = np.array([s for _, s in HF_BOOK_SLOTS], dtype=object)[slot]
    has_par = par.sum(axis=1) > 0
    tag[(slot == 0) & ~(has_par & (short.sum(axis=1) > 0))] = "relative_value"
    tag[(slot == 1) & ~(has_par & (swap.sum(axis=1) > 0))] = "relative_value"
    return tag


def _split_repo(
    e_fund: np.ndarray,
    e_bucket: np.ndarray,
    amount: np.ndarray,
    slot_par: np.ndarray,
    book_of: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split fund-level repo edges over the fund's books holding the edge's bucket, pro rata
    to their par; pieces are rounded down to 1e-6 with the residual on the largest piece.
    Returns (row of the input edge, book index, amount) per piece."""
    n_cash = 3  # basis, swap-spread and relative-value books hold bonds
    w = slot_par[e_fund, :n_cash, e_bucket]  # (edges, 3)
    share = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-300)
    piece = _floor(amount[:, None] * share)
    top = np.argmax(w, axis=1)
    rows = np.arange(len(amount))
    piece[rows, top] = _round(amount - piece.sum(axis=1) + piece[rows, top])
    keep = piece > 0
    r, k = np.nonzero(keep)
    return r, book_of[e_fund[r], k], piece[r, k]


def _market(t: dict) -> dict:
    return syn.market_dict(
        t["outstanding"],
        t["open_interest"],
        yield_pct=t["yield_pct"],
        duration_years=t["duration"],
        convexity_years2=_par_convexity(t["yield_pct"], MATURITY_YEARS),
        price=np.full(len(BUCKETS), 100.0),  # par bonds at the vintage's yields
        futures_im_frac=t["im_frac"],
        repo_rate_pct=t["repo_rate_pct"],
        on_rrp_rate_pct=t["on_rrp_rate_pct"],
        policy_rate_pct=t["policy_rate_pct"],
        volatility_index=t["move"],
        bank_reserves_usd_bn=t["bank_reserves"],
        bank_assets_usd_bn=t["bank_assets"],
        iorb_pct=t["iorb_pct"],
    )


def _split_by_share(
    amount: np.ndarray, key: np.ndarray, share: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flag edges so that flagged amounts are exactly ``share`` of the total.

    Edges are taken in ``key`` order; the edge crossing the threshold is split in two.
    Returns (row index into the input, amount, flag) of the new edge list.
    """
    order = np.argsort(key, kind="stable")
    cum = np.cumsum(amount[order])
    goal = share * cum[-1] if len(cum) else 0.0
    k = int(np.searchsorted(cum, goal, side="left")) if len(cum) else 0
    flag = np.zeros(len(amount), bool)
    flag[order[:k]] = True
    rows, amt = np.arange(len(amount)), amount.copy()
    if k < len(order):
        j = order[k]
        before = cum[k - 1] if k else 0.0
        part = _round(goal - before)
        if 0 < part < amount[j]:
            amt[j] = _round(amount[j] - part)
            rows = np.append(rows, j)
            amt = np.append(amt, part)
            flag = np.append(flag, True)
    return rows, amt, flag


def _rebalance(
    lender: np.ndarray, amount: np.ndarray, base: np.ndarray, cap: np.ndarray
) -> np.ndarray:
    """Move the largest edges of over-capacity lenders to the least-loaded ones (USD bn)."""
    lender = lender.copy()
    load = base + np.bincount(lender, amount, minlength=len(cap))
    for _ in range(10 * len(lender)):
        ratio = load / cap
        worst = int(np.argmax(ratio))
        if ratio[worst] <= 1.0:
            return lender
        mine = np.flatnonzero(lender == worst)
        if not len(mine):
            break
        e = mine[np.argmax(amount[mine])]
        best = int(np.argmax(cap - load))
        if load[best] + amount[e] > cap[best]:
            break
        load[worst] -= amount[e]
        load[best] += amount[e]
        lender[e] = best
    raise ValueError("MMFs cannot fund the repo assigned to them; use more MMFs")


def _equity_uplift(
    assets: np.ndarray, repo: np.ndarray, top: np.ndarray, lifted: np.ndarray, gav_nav: float
) -> np.ndarray:
    """Cash (USD bn, funded by equity) to add to each hedge-fund book so that the top
    funds' books together run at ``gav_nav``: gross assets over net assets
    ``(A + x) / (E + x) = L*`` gives ``x = (A - L* E) / (L* - 1)`` over the top funds' books;
    it goes to the ``lifted`` books in proportion to their equity ``E = A - repo``, with the
    same factor for every fund. Nothing is added where the top books already run at or
    below ``L*``.

    Examples
    --------
    >>> # a top book: assets 100 on equity 5 (20x); target 8x: x = (100 - 40) / 7 = 8.57
    >>> _equity_uplift(np.array([100.0, 50.0]), np.array([95.0, 40.0]),
    ...                np.array([True, False]), np.array([True, True]), 8.0).round(2).tolist()
    [8.57, 17.14]
    """
    equity = np.maximum(assets - repo, 0.0)
    a_top, e_top = assets[top].sum(), equity[top].sum()
    need = (a_top - gav_nav * e_top) / (gav_nav - 1.0)
    base = equity[top & lifted].sum()
    if need <= 0 or base <= 0:
        return np.zeros_like(assets)
    return np.where(lifted, equity * (need / base), 0.0)


def _top_share(x: np.ndarray, k: int = 50) -> float:
    return float(np.sort(x)[::-1][:k].sum() / x.sum())


def build_tables(
    vintage: str | Snapshot,
    *,
    seed: int = 0,
    n_hedge_funds: int = DEFAULTS["n_hedge_funds"],
    n_mmfs: int = DEFAULTS["n_mmfs"],
    n_asset_managers: int = DEFAULTS["n_asset_managers"],
    dealer_capacity_usd_bn: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict, dict]:
    """(institutions, exposures, market document, targets) of a vintage; see the module doc.

    Parameters
    ----------
    vintage : str or Snapshot
        ``"2020-02"``, ``"2025-03"`` or ``"latest"``.
    seed : int
        Seed of ``np.random.default_rng``.
    n_hedge_funds, n_mmfs, n_asset_managers : int
        Counts (at least 60 hedge funds so the top-50 concentration is meaningful).
    dealer_capacity_usd_bn : float, optional
        Dealers' summed leverage-ratio headroom, USD bn (default: the snapshot prior).
    """
    t = build_targets(vintage, dealer_capacity_usd_bn)
    if n_hedge_funds < 60:
        raise ValueError(f"n_hedge_funds must be >= 60 (top-50 concentration), got {n_hedge_funds}")
    if n_mmfs < 2 or n_asset_managers < 1:
        raise ValueError("need n_mmfs >= 2 (government and prime) and n_asset_managers >= 1")
    rng = np.random.default_rng(seed)
    nh, nd, nm, na = n_hedge_funds, t["n_dealers"], n_mmfs, n_asset_managers
    no = len(OTHER_HOLDERS) + len(FUTURES_HOLDERS)
    nb = len(BUCKETS)
    edges = syn._Edges()
    cf = CONVERSION_FACTOR

    # --- MMF sizes (needed to pick repo lenders) ------------------------------------------
    gov_share = t["govt_mmf_assets"] / (t["govt_mmf_assets"] + t["prime_mmf_assets"])
    n_gov = int(np.clip(round(nm * gov_share), 1, nm - 1))
    is_gov = np.arange(nm) < n_gov
    size_w = np.exp(1.0 * rng.standard_normal(nm))
    nav = np.where(
        is_gov,
        t["govt_mmf_assets"] * size_w / size_w[is_gov].sum(),
        t["prime_mmf_assets"] * size_w / size_w[~is_gov].sum(),
    )
    other_mmf = max(t["mmf_assets"] - t["govt_mmf_assets"] - t["prime_mmf_assets"], 0.0)
    nav = nav + other_mmf * np.where(is_gov, 0.0, size_w) / size_w[~is_gov].sum()

    # --- hedge-fund books: strategy cells, sizes, concentration ------------------------------
    lf = t["lf_short"]
    basis_w = lf / lf.sum()
    basis_cells = t["basis_par"] * basis_w
    swap_cells = t["swap_notional"] * SWAP_SPREAD_BUCKET_WEIGHTS  # par = notional at 100
    other_total = t["hf_holdings"] - t["basis_par"] - t["swap_notional"]
    if other_total < 0:
        raise ValueError("basis + swap-spread trades exceed hedge-fund holdings")
    other_cells = other_total * OTHER_RV_BUCKET_WEIGHTS
    basis_fut = np.minimum(basis_cells * cf, lf)  # face of the basis funds' shorts
    nonbasis_fut = lf - basis_fut
    lf_long = t["futures_long"]["lev_money"]
    cells = np.stack([basis_cells, swap_cells, other_cells])  # (3, nb) par
    raw_size = syn._truncated_pareto(rng, nh, HF_SIZE_TAIL_ALPHA, HF_SIZE_MAX_RATIO)
    strat = rng.dirichlet(3.0 * np.array([0.6, 0.14, 0.26]), size=nh)
    strat[rng.random(nh) >= SWAP_SPREAD_FUND_FRAC, 1] = 0.0
    strat[:, 2] = np.maximum(strat[:, 2], 0.05)  # everyone runs some other RV (non-basis)
    strat /= strat.sum(axis=1, keepdims=True)
    weights = np.stack([basis_w, SWAP_SPREAD_BUCKET_WEIGHTS, OTHER_RV_BUCKET_WEIGHTS])  # (3, nb)
    mix = rng.gamma(4.0 * np.broadcast_to(np.maximum(weights, 1e-3), (nh, 3, nb)))
    mix /= mix.sum(axis=2, keepdims=True)

    def books(power: float) -> tuple[np.ndarray, ...]:
        size = raw_size**power
        book = size[:, None, None] * strat[:, :, None] * mix
        tot = book.sum(axis=0)
        book = book * np.divide(cells, tot, out=np.zeros_like(tot), where=tot > 0)[None]
        fut_b = (
            book[:, 0]
            * cf
            * np.divide(basis_fut, basis_cells * cf, out=np.zeros(nb), where=basis_cells > 0)
        )
        share_o = np.divide(book[:, 2], other_cells, out=np.zeros_like(book[:, 2]),
                            where=other_cells > 0)  # fmt: skip
        fut_o = share_o * nonbasis_fut  # non-basis shorts: relative-value books
        fut_long = share_o * lf_long  # leveraged-fund longs: directional books
        gross = (book.sum(axis=(1, 2)) + fut_b.sum(axis=1) + fut_o.sum(axis=1)
                 + fut_long.sum(axis=1) + book[:, 1].sum(axis=1))  # fmt: skip
        return book, (fut_b, fut_o, fut_long), gross, size

    lo, hi = 0.05, 8.0
    for _ in range(80):  # top-50 share of gross exposure rises with the power
        mid = 0.5 * (lo + hi)
        if _top_share(books(mid)[2]) < t["top50_gross_share"]:
            lo = mid
        else:
            hi = mid
    book, (fut_b, fut_o, fut_long), gross, _ = books(0.5 * (lo + hi))
    # strategy books: per fund one institution per strategy it runs (HF_BOOK_SLOTS)
    slot_par = _round(np.stack([book[:, 0], book[:, 1], book[:, 2], np.zeros((nh, nb))], 1))
    slot_short = _round(np.stack([fut_b, np.zeros((nh, nb)), fut_o, np.zeros((nh, nb))], 1))
    slot_long = np.zeros((nh, len(HF_BOOK_SLOTS), nb))
    slot_long[:, 3] = _round(fut_long)
    slot_swap = np.zeros((nh, len(HF_BOOK_SLOTS), nb))
    slot_swap[:, 1] = _round(book[:, 1])  # notional = the bonds' value at par
    used = (slot_par + slot_short + slot_long + slot_swap).sum(axis=2) > 0
    bk_fund, bk_slot = np.nonzero(used)  # books in fund order
    nbk = len(bk_fund)
    book_of = np.full((nh, len(HF_BOOK_SLOTS)), -1)
    book_of[bk_fund, bk_slot] = np.arange(nbk)
    o_dl, o_mmf, o_am, i_ccp_fut, i_ccp_swap, i_fed, o_oth, n = syn.sector_offsets(
        (nbk, nd, nm, na, no)
    )
    holdings = np.zeros((n, nb))
    cash, other_assets, other_liab = np.zeros(n), np.zeros(n), np.zeros(n)
    holdings[:nbk] = slot_par[bk_fund, bk_slot]
    hf_par = slot_par.sum(axis=1)  # per fund
    value_b = hf_par  # price 100: value = par
    fut_im = syn.cleared_positions(edges, "futures", "fut-hf-", slot_short[bk_fund, bk_slot],
                                   t["im_frac"], first=0, ccp=i_ccp_fut, short=True)  # fmt: skip
    fut_im = fut_im + syn.cleared_positions(
        edges, "futures", "fut-hfl-", slot_long[bk_fund, bk_slot], t["im_frac"], first=0,
        ccp=i_ccp_fut,
    )  # fmt: skip
    swap_im = syn.cleared_positions(edges, "swap", "swap-hf-", slot_swap[bk_fund, bk_slot],
                                    SWAP_IM_FRAC, first=0, ccp=i_ccp_swap, short=True)  # fmt: skip
    hf_im = fut_im.sum(axis=1) + swap_im.sum(axis=1)
    # a fund's cash buffer is split over its cash books by holdings; a directional (futures)
    # book's equity is its face / GAV-to-NAV leverage, held as IM and cash
    fund_cash = rng.uniform(*HF_CASH_RANGE_FRAC, nh) * value_b.sum(axis=1)
    bk_par = holdings[:nbk].sum(axis=1)
    dir_equity = slot_long[bk_fund, bk_slot].sum(axis=1) / t["hf_gav_nav"]
    cash[:nbk] = _round(
        np.where(bk_slot == 3, np.maximum(dir_equity - hf_im, 0.0),
                 fund_cash[bk_fund] * bk_par / np.maximum(value_b.sum(axis=1)[bk_fund], 1e-12))
    )  # fmt: skip

    # --- hedge-fund repo: exact total, top-50 share, zero-haircut and sponsored shares ------
    top = np.zeros(nh, bool)
    top[np.argsort(gross)[::-1][:50]] = True
    k = REPO_EDGES_PER_FUND
    e_fund = np.repeat(np.arange(nh), k)
    e_bucket = np.tile(np.arange(k) % nb, nh)
    split = syn._group_shares(rng.gamma(2.0, size=len(e_fund)), e_fund * nb + e_bucket, nh * nb)
    cap_e = split * value_b[e_fund, e_bucket]
    cap_top = cap_e[top[e_fund]].sum()
    cap_rest = cap_e[~top[e_fund]].sum()
    r_total = t["hf_repo"]
    phi_top = t["top50_repo_share"] * r_total / cap_top
    phi_rest = (1.0 - t["top50_repo_share"]) * r_total / cap_rest
    if max(phi_top, phi_rest) > MAX_PHI:
        raise ValueError(
            f"repo {r_total:.1f} with top-50 share {t['top50_repo_share']} needs "
            f"{max(phi_top, phi_rest):.3f} of collateral value (> {MAX_PHI})"
        )
    amount = cap_e * np.where(top[e_fund], phi_top, phi_rest)
    amount = _round(amount)
    amount[-1] = _round(amount[-1] + r_total - amount.sum())  # rounding residual
    rows, amount, sponsored = _split_by_share(
        amount, rng.random(len(amount)), t["hf_sponsored_repo"] / r_total
    )
    e_fund, e_bucket = e_fund[rows], e_bucket[rows]
    rows, amount, zero = _split_by_share(
        amount, rng.random(len(amount)), t["hf_zero_haircut_share"]
    )
    e_fund, e_bucket, sponsored = e_fund[rows], e_bucket[rows], sponsored[rows]
    haircut = np.where(zero, 0.0, t["hf_positive_haircut"])
    n_e = len(amount)
    dealer_w = np.exp(0.8 * rng.standard_normal(nd))
    dw = dealer_w / dealer_w.sum()
    mmf_w = nav / nav.sum()  # MMFs lend in proportion to their size
    lender = np.where(
        sponsored,
        o_mmf + rng.choice(nm, size=n_e, p=mmf_w / mmf_w.sum()),
        o_dl + rng.choice(nd, size=n_e, p=dw),
    )
    spread = np.where(sponsored, 0.05, np.round(rng.uniform(0.05, 0.20, n_e), 3))
    tenor = np.where(
        sponsored,
        np.where(rng.random(n_e) < 0.8, 1.0, 30.0),
        rng.choice(syn.HF_TENOR_DAYS, size=n_e, p=syn.HF_TENOR_PROB),
    )
    ok = amount > 0
    spon_rows = np.flatnonzero(sponsored)
    lender[spon_rows] = o_mmf + _rebalance(
        lender[spon_rows] - o_mmf, amount[spon_rows], np.zeros(nm), 0.5 * MAX_MMF_REPO_SHARE * nav
    )
    # each fund-level repo edge is split over the fund's books holding that bucket, in
    # proportion to their bonds (a book's repo is covered by its own collateral)
    rows, e_book, amount = _split_repo(e_fund, e_bucket, amount, slot_par, book_of)
    lender, e_bucket, haircut, spread = lender[rows], e_bucket[rows], haircut[rows], spread[rows]
    tenor, sponsored = tenor[rows], sponsored[rows]
    ok = amount > 0
    edges.add(
        "repo", "repo-hf-", mask=ok, source=lender, target=e_book, amount_usd_bn=amount,
        collateral_bucket=np.array(BUCKETS, dtype=object)[e_bucket], haircut_frac=haircut,
        rate_pct=np.round(t["repo_rate_pct"] + spread, 4), tenor_days=tenor,
        segment=np.where(sponsored, "sponsored", "bilateral").astype(object),
    )  # fmt: skip
    amount = np.where(ok, amount, 0.0)
    # equity: the 50 largest funds run at the Form PF gross-to-net leverage (GAV / NAV,
    # ``hf_leverage_top50_gav_nav``) in all: their cash books' equity (haircuts, IM and the
    # cash buffer above) is lifted by one factor for every fund, held as cash, so the
    # cross-section of leverage is kept (``_equity_uplift``)
    cash[:nbk] += _round(_equity_uplift(
        holdings[:nbk].sum(axis=1) + cash[:nbk] + hf_im,
        np.bincount(e_book, amount, minlength=nbk),
        top[bk_fund], bk_slot != 3, t["hf_gav_nav"],
    ))  # fmt: skip

    # --- dealers ----------------------------------------------------------------------------
    # each dealer holds its size weight of each bucket's FR 2004 inventory (rounding residual
    # on the largest, so the dealers hold the bucket rows exactly)
    inventory = _allocate(t["dealer_inventory_by_bucket"], dw)
    holdings[o_dl:o_mmf] = inventory
    from_dealer = ~sponsored & ok
    d_idx = lender[from_dealer] - o_dl
    received, reverse_repo = syn.dealer_matched_book(d_idx, e_bucket, amount, haircut,
                                                     from_dealer, nd)  # fmt: skip
    # futures: the TFF dealer/intermediary category. A dealer is a trader of the report, net
    # long or net short a contract: it is long with probability longs / (longs + shorts),
    # and the category's longs (shorts) are split over the long (short) dealers by size.
    d_long, d_short = t["futures_long"]["dealer"], t["futures_short"]["dealer"]
    is_long = rng.random((nd, nb)) < d_long / np.maximum(d_long + d_short, 1e-12)
    smallest = int(np.argmin(dw))
    is_long[smallest, is_long.all(axis=0)] = False  # someone on each side of each contract
    is_long[smallest, ~is_long.any(axis=0)] = True
    d_fut_im = syn.cleared_positions(
        edges, "futures", "fut-dl-", _allocate(d_long, dw[:, None] * is_long), t["im_frac"],
        first=o_dl, ccp=i_ccp_fut,
    ) + syn.cleared_positions(
        edges, "futures", "fut-dls-", _allocate(d_short, dw[:, None] * ~is_long),
        t["im_frac"], first=o_dl, ccp=i_ccp_fut, short=True,
    )  # fmt: skip
    d_im = d_fut_im.sum(axis=1)
    ta_base = DEALER_TOTAL_ASSETS_MEAN_USD_BN * nd * dw
    u_src = np.repeat(np.arange(nd), INTERDEALER_PER_DEALER)
    u_dst = (u_src + rng.integers(1, nd, size=len(u_src))) % nd
    u_amt = _round(
        INTERDEALER_FRAC * ta_base[u_src] * rng.uniform(0.5, 1.5, len(u_src))
        / INTERDEALER_PER_DEALER
    )  # fmt: skip
    edges.add("unsecured", "unsec-dl-", source=o_dl + u_src, target=o_dl + u_dst,
              amount_usd_bn=u_amt)  # fmt: skip
    unsec_claims = np.bincount(u_src, u_amt, minlength=nd)
    unsec_debts = np.bincount(u_dst, u_amt, minlength=nd)
    # tri-party: dealers re-pledge collateral to MMFs, exactly the Treasury tri-party volume
    coll = REPLEDGE_FRAC * (1.0 - t["triparty_haircut"]) * (received + inventory)
    if t["triparty"] > coll.sum():
        raise ValueError(
            f"vintage {t['vintage']}: Treasury tri-party repo {t['triparty']:.1f} USD bn "
            f"({TRIPARTY_TREASURY_SHARE} x {t['triparty_all_collateral']:.1f}) exceeds what "
            f"dealers can pledge, {coll.sum():.1f} USD bn ({REPLEDGE_FRAC} x (1 - haircut) x "
            "(reverse repo collateral + inventory))"
        )
    borrow_db = coll * (t["triparty"] / coll.sum())
    m = LENDERS_PER_DEALER_BUCKET
    t_group = np.repeat(np.arange(nd * nb), m)
    t_split = syn._group_shares(rng.gamma(2.0, size=len(t_group)), t_group, nd * nb)
    t_amt = _floor(borrow_db.ravel()[t_group] * t_split)
    t_lender = rng.choice(nm, size=len(t_group), p=mmf_w / mmf_w.sum())
    # rebalance: no MMF lends more than MAX_MMF_REPO_SHARE of its NAV in private repo
    spon0 = sponsored & ok
    base = np.bincount(lender[spon0] - o_mmf, amount[spon0], minlength=nm)
    t_lender = _rebalance(t_lender, t_amt, base, MAX_MMF_REPO_SHARE * nav)
    t_ok = t_amt > 0
    edges.add(
        "repo", "repo-tri-", mask=t_ok, source=o_mmf + t_lender, target=o_dl + t_group // nb,
        amount_usd_bn=t_amt, collateral_bucket=np.array(BUCKETS, dtype=object)[t_group % nb],
        haircut_frac=t["triparty_haircut"], rate_pct=round(t["repo_rate_pct"] - 0.02, 4),
        tenor_days=1.0, segment="triparty",
    )  # fmt: skip
    dealer_borrowed = np.bincount(t_group[t_ok] // nb, t_amt[t_ok], minlength=nd)
    mmf_lent = np.bincount(t_lender[t_ok], t_amt[t_ok], minlength=nm).astype(float)
    non_other = inventory.sum(axis=1) + reverse_repo + unsec_claims + d_im
    d_ta = np.maximum(ta_base, non_other / 0.6)
    d_cash = _round(DEALER_CASH_FRAC * d_ta)
    cash[o_dl:o_mmf] = d_cash
    other_assets[o_dl:o_mmf] = np.maximum(_round(d_ta - d_cash - non_other), 0.0)
    d_assets = d_cash + other_assets[o_dl:o_mmf] + non_other
    # equity so that headroom E / slr - A sums to the capacity (per dealer pro rata to size)
    equity_d = t["slr"] * (d_assets + t["dealer_capacity"] * dw)
    other_liab[o_dl:o_mmf] = _round(d_assets - equity_d - dealer_borrowed - unsec_debts)

    # --- MMFs ---------------------------------------------------------------------------------
    spon = sponsored & ok
    mmf_lent += np.bincount(lender[spon] - o_mmf, amount[spon], minlength=nm)
    on_rrp = _round(t["on_rrp"] * nav / nav.sum())
    rrp_bucket = np.arange(nm) % nb
    edges.add(
        "repo", "onrrp-", mask=on_rrp > 0, source=o_mmf + np.arange(nm),
        target=np.full(nm, i_fed), amount_usd_bn=on_rrp,
        collateral_bucket=np.array(BUCKETS, dtype=object)[rrp_bucket], haircut_frac=0.0,
        rate_pct=t["on_rrp_rate_pct"], tenor_days=1.0, segment="central_bank",
    )  # fmt: skip
    repo_assets = mmf_lent + on_rrp
    m_cash = _round(MMF_CASH_FRAC * nav)
    if np.any(nav - m_cash - repo_assets < 0):
        raise ValueError(f"an MMF lends more in repo than its assets: {nav} {repo_assets}")
    cash[o_mmf:o_am] = m_cash
    other_assets[o_mmf:o_am] = _round(nav - m_cash - repo_assets)
    rrp_need = np.bincount(rrp_bucket, on_rrp, minlength=nb)

    # --- the Fed ------------------------------------------------------------------------------
    fed_par = _round(t["fed_total_assets"] * FED_UST_SHARE * FED_BUCKET_WEIGHTS)
    fed_par = np.maximum(fed_par, syn._ceil(1.05 * rrp_need))
    holdings[i_fed] = fed_par
    other_assets[i_fed] = _round(t["fed_total_assets"] - fed_par.sum())
    other_liab[i_fed] = _round(t["fed_total_assets"] - rrp_need.sum() - FED_CAPITAL_USD_BN)

    # --- the rest of each bucket: asset managers and other holders ---------------------------
    held = holdings.sum(axis=0)
    resid = t["outstanding"] * (1.0 - UNMODELLED_SHARE) - held
    if np.any(resid < 0):
        bad = [BUCKETS[j] for j in np.flatnonzero(resid < 0)]
        raise ValueError(f"funds, dealers and the Fed hold more than the outstanding in {bad}")
    swap_total = slot_swap[:, 1].sum(axis=0)
    aw, am_im, am_fut_im, am_swap_im = syn.asset_manager_derivatives(
        edges, rng, t["am_long"], swap_total, t["im_frac"], n_managers=na,
        first=o_am, ccp_futures=i_ccp_fut, ccp_swaps=i_ccp_swap,
    )  # fmt: skip
    am_short_im = syn.cleared_positions(
        edges, "futures", "fut-ams-", _allocate(t["futures_short"]["asset_mgr"], aw),
        t["im_frac"], first=o_am, ccp=i_ccp_fut, short=True,
    )  # fmt: skip
    am_im = am_im + am_short_im.sum(axis=1)
    am_fut_im += am_short_im.sum()
    am_par = _round(HOLDER_SHARES["asset_managers"] * resid[None, :] * aw[:, None])
    holdings[o_am:i_ccp_fut] = am_par
    aum = am_par.sum(axis=1) / AM_TREASURY_SHARE_OF_AUM
    a_cash = _round(AM_CASH_FRAC * aum)
    cash[o_am:i_ccp_fut] = a_cash
    other_assets[o_am:i_ccp_fut] = np.maximum(_round(aum - a_cash - am_par.sum(1) - am_im), 0.0)
    # other holders of cash Treasuries
    for j, (key, _) in enumerate(OTHER_HOLDERS):
        holdings[o_oth + j] = _round(HOLDER_SHARES[key] * resid)
        cash[o_oth + j] = _round(OTHER_CASH_FRAC * holdings[o_oth + j].sum())
    # other reportable and non-reportable futures traders: their category's longs and
    # shorts; cash of one IM as a variation-margin buffer, both funded by equity
    e_im = np.zeros(0)
    for j, cat in enumerate(("other_rept", "nonrept")):
        i = o_oth + len(OTHER_HOLDERS) + j
        im = syn.cleared_positions(
            edges, "futures", f"fut-{cat.replace('_', '')}-l-",
            _round(t["futures_long"][cat])[None, :], t["im_frac"], first=i, ccp=i_ccp_fut,
        ) + syn.cleared_positions(
            edges, "futures", f"fut-{cat.replace('_', '')}-s-",
            _round(t["futures_short"][cat])[None, :], t["im_frac"], first=i, ccp=i_ccp_fut,
            short=True,
        )  # fmt: skip
        cash[i] = _round(im.sum())
        e_im = np.append(e_im, im.sum())

    # --- CCPs ---------------------------------------------------------------------------------
    fut_im_held = fut_im.sum() + d_fut_im.sum() + am_fut_im
    fut_im_held += e_im.sum()
    swap_im_held = swap_im.sum() + am_swap_im
    cash[i_ccp_fut] = _round(fut_im_held * (1.0 + CCP_OWN_FUNDS_FRAC))
    cash[i_ccp_swap] = _round(swap_im_held * (1.0 + CCP_OWN_FUNDS_FRAC))
    # the hedge funds' IM is paid from their equity (cash was drawn on top of it)
    del hf_im

    # --- tables ---------------------------------------------------------------------------
    gov_names = np.where(is_gov, "Government MMF", "Prime and other MMF").astype(object)
    ids = np.concatenate(
        [
            _book_ids(syn._ids("hf-", nh), bk_fund, bk_slot),
            syn._ids("dealer-", nd),
            syn._ids("mmf-", nm),
            syn._ids("am-", na),
            np.array(["ccp_futures", "ccp_swaps", "fed"], dtype=object),
            np.array([k for k, _ in OTHER_HOLDERS + FUTURES_HOLDERS], dtype=object),
        ]
    )
    names = np.full(n, "", dtype=object)
    names[o_mmf:o_am] = gov_names
    names[o_oth:] = [nm_ for _, nm_ in OTHER_HOLDERS + FUTURES_HOLDERS]
    names[:nbk] = [f"Hedge fund {f}, {HF_BOOK_SLOTS[k][1]} book" for f, k in
                   zip(syn._ids("hf-", nh)[bk_fund], bk_slot, strict=True)]  # fmt: skip
    inst = syn.institutions_table(
        ids, names, (nbk, nd, nm, na, no), cash, other_assets, other_liab, holdings
    )
    strategy = np.full(n, "", dtype=object)
    strategy[:nbk] = _book_strategy(
        bk_slot,
        slot_par[bk_fund, bk_slot],
        slot_short[bk_fund, bk_slot],
        slot_swap[bk_fund, bk_slot],
    )
    fund_id = ids.copy()
    fund_id[:nbk] = syn._ids("hf-", nh)[bk_fund]
    inst.insert(3, "strategy", strategy)
    inst.insert(4, "fund_id", fund_id)
    inst.insert(6, "leverage_ratio_min_frac", np.nan)  # behaviour ahead of the holdings
    inst.loc[o_dl : o_mmf - 1, "leverage_ratio_min_frac"] = t["slr"]
    inst.insert(7, "mmf_prime_share_frac", np.nan)
    inst.loc[o_mmf : o_am - 1, "mmf_prime_share_frac"] = np.where(is_gov, 0.0, 1.0)
    # sponsored repo is novated to FICC: MMF -> FICC and FICC -> fund legs
    inst, exp = syn.route_through_ficc(inst, edges.frame(ids))
    # HF cash must also pay their IM: lift cash so that equity stays positive
    return inst, exp, _market(t), t


def _fill_behaviour(inst: pd.DataFrame) -> pd.DataFrame:
    from contagion.schema import BEHAVIOUR_COLUMNS, INSTITUTION_SPEC

    for col in BEHAVIOUR_COLUMNS:
        default = inst["type"].map(lambda ty, c=col: INSTITUTION_SPEC[c].default_for(ty))
        inst[col] = inst[col].fillna(default) if col in inst.columns else default
    return inst


@lru_cache(maxsize=16)
def _cached(vintage: str, seed: int, nh: int, nm: int, na: int, cap: float | None):
    inst, exp, market, t = build_tables(
        vintage, seed=seed, n_hedge_funds=nh, n_mmfs=nm, n_asset_managers=na,
        dealer_capacity_usd_bn=cap,
    )  # fmt: skip
    inst = _fill_behaviour(inst)
    snap = load_snapshot(vintage)
    meta = {
        "builder": "calibration.build.build_system",
        "vintage": vintage,
        "as_of": snap.as_of.isoformat(),
        "seed": seed,
        "counts": {"n_hedge_funds": nh, "n_mmfs": nm, "n_asset_managers": na},
        "dealer_capacity_usd_bn": t["dealer_capacity"],
        "hf_repo_modelled_usd_bn": t["hf_repo"],
        "hf_repo_form_pf_usd_bn": t["hf_repo_form_pf"],
        "assumptions": int((snap.table["quality"] == "assumption").sum()),
    }
    system = System(
        inst, exp, market, name=f"us_treasury_{vintage}",
        description=(
            f"Granular US Treasury system built from the {vintage} calibration snapshot "
            f"(as of {snap.as_of}), seed {seed}; see calibration.build."
        ),
        metadata=meta,
    )  # fmt: skip
    return system


def build_system(
    vintage: str,
    seed: int = 0,
    *,
    n_hedge_funds: int = DEFAULTS["n_hedge_funds"],
    n_mmfs: int = DEFAULTS["n_mmfs"],
    n_asset_managers: int = DEFAULTS["n_asset_managers"],
    dealer_capacity_usd_bn: float | None = None,
) -> System:
    """A validated :class:`~contagion.System` of a snapshot vintage (deterministic per seed).

    Parameters
    ----------
    vintage : str
        ``"2020-02"``, ``"2025-03"`` or ``"latest"``.
    seed : int
        One seed gives one system; aggregates do not depend on it.
    n_hedge_funds, n_mmfs, n_asset_managers : int
        Counts (defaults 300, 20, 20); dealers are ``primary_dealer_count``.
    dealer_capacity_usd_bn : float, optional
        Summed dealer leverage-ratio headroom, USD bn (default: the snapshot prior
        ``dealer_ust_capacity_usd_bn``; calibration fits it).

    Examples
    --------
    >>> s = build_system("2020-02", seed=1, n_hedge_funds=80)
    >>> round(measure_aggregates(s)["hf_holdings"], 3)
    1080.0
    """
    cap = None if dealer_capacity_usd_bn is None else float(dealer_capacity_usd_bn)
    return _cached(vintage, int(seed), int(n_hedge_funds), int(n_mmfs), int(n_asset_managers),
                   cap)  # fmt: skip


def with_dealer_capacity(
    system: System, capacity_usd_bn: float, derivation: str | None = None
) -> System:
    """A copy of ``system`` whose dealers' summed leverage-ratio headroom is ``capacity``.

    Equity is unchanged; each dealer's leverage-ratio requirement becomes
    ``E_d / (A_d + K x w_d)`` with ``w_d`` its share of the current headroom. USD bn.
    ``derivation``, if given, says where the capacity comes from; it is kept in the
    metadata as ``dealer_capacity_derivation`` (shown in a report's metadata block).
    """
    inst, exp = system.to_tables()
    cs = system.compile()
    a, liab = cs.balance_sheet()
    is_d = (inst["type"] == "dealer").to_numpy()
    slr = inst["leverage_ratio_min_frac"].to_numpy(dtype=float)
    room = dealer_room(a - liab, a, slr, 0.0)
    w = room[is_d] / room[is_d].sum()
    new = slr.copy()
    new[is_d] = (a - liab)[is_d] / (a[is_d] + capacity_usd_bn * w)
    inst["leverage_ratio_min_frac"] = new
    inst = inst.drop(columns=["equity_usd_bn"])
    meta = {**system.metadata, "dealer_capacity_usd_bn": float(capacity_usd_bn)}
    meta.pop("dealer_capacity_derivation", None)
    if derivation is not None:
        meta["dealer_capacity_derivation"] = derivation
    return System(inst, exp, system.market, name=system.name,
                  description=system.description, metadata=meta)  # fmt: skip


#: TFF contracts of each built futures contract (the model has one per bucket).
TFF_CONTRACTS = {"TU": ("TU",), "FV": ("FV",), "TY": ("TY", "UXY"), "US": ("US", "WN")}


def network_checks(vintages: tuple[str, ...] = ("2020-02", "latest"), seed: int = 0
                   ) -> pd.DataFrame:  # fmt: skip
    """The built systems against data: what they were built to (a check that the builder
    hits it) and what they were not built to (a validation, misses shown as they are).

    Rows per vintage: the 50 largest funds' GAV / NAV against Form PF's
    (``hf_leverage_top50_gav_nav``), the Treasury tri-party repo against its target, and per
    futures contract the 8 largest traders' shorts as a share of open interest against the
    CFTC TFF concentration ratio (``Conc_Gross_LE_8_TDR_Short_All``; for the 10y and 30y
    buckets the report's two contracts each, TY / UXY and US / WN).
    """
    rows = []
    for v in vintages:
        got, want = measure_aggregates(build_system(v, seed)), build_targets(v)
        snap = load_snapshot(v)
        q = set(snap.table["quantity"])
        rows.append(
            (
                v,
                "top-50 hedge funds' GAV / NAV",
                "built to",
                got["hf_top50_gav_nav"],
                f"{want['hf_gav_nav']:g}",
                "hf_leverage_top50_gav_nav (Form PF, 1.62)",
            )
        )
        rows.append((v, "tri-party repo against Treasuries, USD bn", "built to", got["triparty"],
                     f"{want['triparty']:.1f}",
                     f"{TRIPARTY_TREASURY_SHARE} x triparty_* (all collateral)"))  # fmt: skip
        for code, tff in TFF_CONTRACTS.items():
            names = [f"futures_top8_short_share_{c.lower()}_frac" for c in tff]
            if not all(n in q for n in names):
                continue
            data = " / ".join(f"{c} {snap.value(n):.3f}" for c, n in zip(tff, names, strict=True))
            rows.append((v, f"top-8 traders' shorts / open interest, {code}", "not built to",
                         got["futures_top8_short_share"][code], data,
                         "CFTC TFF Conc_Gross_LE_8_TDR_Short_All"))  # fmt: skip
    return pd.DataFrame(rows, columns=["vintage", "check", "kind", "built", "data", "source"])


def measure_aggregates(system: System) -> dict[str, Any]:
    """Aggregates of a built system, in the units and keys of :func:`build_targets`."""
    inst, exp = system.to_tables()
    cs = system.compile()
    ty = inst["type"].to_numpy()
    hf = ty == "hedge_fund"
    par = inst[[holdings_column(b) for b in BUCKETS]].to_numpy(float)
    ids_hf = set(inst["id"][hf])
    repo = exp[exp["kind"] == "repo"]
    hf_repo = repo[repo["target"].isin(ids_hf)]
    fut = exp[exp["kind"] == "futures"]
    swp = exp[exp["kind"] == "swap"]
    by_type = dict(zip(inst["id"], inst["type"], strict=True))
    fut_t = fut.assign(t=fut["source"].map(by_type))
    code_bucket = {c: BUCKETS[k] for k, c in enumerate(FUTURES_CODES)}

    def per_bucket(frame: pd.DataFrame, sign: float) -> np.ndarray:
        s = frame.groupby(frame["futures_contract"].map(code_bucket))["notional_usd_bn"].sum()
        return np.array([sign * s.get(b, 0.0) for b in BUCKETS])

    longs, shorts = fut[fut["notional_usd_bn"] > 0], fut[fut["notional_usd_bn"] < 0]
    group = fut_t["t"].where(~fut_t["source"].isin([k for k, _ in FUTURES_HOLDERS]), "other")
    category = {"lev_money": "hedge_fund", "asset_mgr": "asset_manager", "dealer": "dealer"}
    by_cat = {}
    for side, frame, sign in (("long", longs, 1.0), ("short", shorts, -1.0)):
        for cat, sector in category.items():
            by_cat[f"{cat}_{side}"] = per_bucket(frame[group.loc[frame.index] == sector], sign)
        for key, _ in FUTURES_HOLDERS:
            cat = key.removeprefix("futures_")
            by_cat[f"{cat}_{side}"] = per_bucket(frame[frame["source"] == key], sign)

    # per fund: a fund's strategy books share its fund_id
    fund_of = dict(zip(inst["id"], inst["fund_id"], strict=True))
    gross = pd.Series(par[hf].sum(axis=1), index=inst["id"][hf].to_numpy())
    short = pd.concat([fut, swp])
    short = short[short["source"].isin(ids_hf)]
    gross = gross.add(short["notional_usd_bn"].abs().groupby(short["source"]).sum(),
                      fill_value=0.0)  # fmt: skip
    gross = gross.groupby(gross.index.map(fund_of)).sum()
    repo_by = hf_repo.groupby(hf_repo["target"].map(fund_of))["amount_usd_bn"].sum()
    a, liab = cs.balance_sheet()
    is_d = ty == "dealer"
    room = dealer_room(a - liab, a, inst["leverage_ratio_min_frac"].to_numpy(float), 0.0)
    mmf = ty == "mmf"
    names = inst["name"].to_numpy()
    eq = a - liab
    fund_eq = pd.Series(eq[hf], index=inst["fund_id"][hf].to_numpy()).groupby(level=0).sum()
    fund_assets = pd.Series(a[hf], index=inst["fund_id"][hf].to_numpy()).groupby(level=0).sum()
    lev = (repo_by / fund_eq).dropna()
    top_ids = gross.sort_values(ascending=False).index[:50]
    fed = ty == "central_bank"
    # futures concentration as the CFTC measures it: the 8 largest traders' shorts over open
    # interest per contract (a fund's books are one trader; the TFF other-reportable and
    # non-reportable groups stand for many traders and are left out of the ranking)
    trader = fut["source"].map(fund_of)
    traders = fut[~fut["source"].isin([k for k, _ in FUTURES_HOLDERS])]
    top8 = {}
    for code in FUTURES_CODES:
        f = traders[traders["futures_contract"] == code]
        oi = fut.loc[fut["futures_contract"] == code, "notional_usd_bn"].clip(lower=0).sum()
        shorts = (-f["notional_usd_bn"].clip(upper=0)).groupby(trader.loc[f.index]).sum()
        top8[code] = float(shorts.nlargest(8).sum() / oi) if oi > 0 else float("nan")
    return {
        "futures_top8_short_share": top8,
        "triparty": float(repo.loc[repo["segment"] == "triparty", "amount_usd_bn"].sum()),
        "hf_holdings": float(par[hf].sum()),
        "hf_holdings_by_bucket": par[hf].sum(axis=0),
        "hf_repo": float(hf_repo["amount_usd_bn"].sum()),
        "hf_sponsored_repo": float(
            hf_repo.loc[hf_repo["segment"] == "sponsored", "amount_usd_bn"].sum()
        ),
        "hf_zero_haircut_share": float(
            hf_repo.loc[hf_repo["haircut_frac"] == 0, "amount_usd_bn"].sum()
            / hf_repo["amount_usd_bn"].sum()
        ),
        "top50_gross_share": float(
            gross.sort_values(ascending=False).iloc[:50].sum() / gross.sum()
        ),
        "top50_repo_share": float(repo_by.reindex(top_ids).fillna(0).sum() / repo_by.sum()),
        "swap_notional": float(-swp.loc[swp["source"].isin(ids_hf), "notional_usd_bn"].sum()),
        "lf_short": by_cat["lev_money_short"],
        "am_long": by_cat["asset_mgr_long"],
        "open_interest": per_bucket(longs, 1.0),
        "futures_by_category": by_cat,
        "futures_net": per_bucket(fut, 1.0),
        "dealer_inventory": float(par[is_d].sum()),
        "dealer_inventory_by_bucket": par[is_d].sum(axis=0),
        "dealer_capacity": float(room[is_d].sum()),
        "n_dealers": int(is_d.sum()),
        "n_hedge_funds": int(inst["fund_id"][hf].nunique()),
        "n_hedge_fund_books": int(hf.sum()),
        "mmf_assets": float(a[mmf].sum()),
        "govt_mmf_assets": float(a[mmf & (names == "Government MMF")].sum()),
        "on_rrp": float(repo.loc[repo["segment"] == "central_bank", "amount_usd_bn"].sum()),
        "fed_total_assets": float(a[fed].sum()),
        "outstanding": np.array([b.outstanding_usd_bn for b in system.market.buckets]),
        "held_share": par.sum(axis=0)
        / np.array([b.outstanding_usd_bn for b in system.market.buckets]),
        "hf_repo_leverage_median": float(lev.median()),
        "hf_repo_leverage_top50_median": float(lev.reindex(top_ids).median()),
        "hf_equity": float(eq[hf].sum()),
        "hf_top50_gav_nav": float(
            fund_assets.reindex(top_ids).sum() / fund_eq.reindex(top_ids).sum()
        ),
    }
