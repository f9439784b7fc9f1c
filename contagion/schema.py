"""Schema of the input tables: one spec per column, with dtype, unit, default and bounds.

The two tidy input tables are ``institutions`` (one row per institution) and ``exposures``
(one long table of every bilateral exposure, its ``kind`` saying which fields apply). The
specs below are the single source of truth: validation, defaults, the JSON/YAML record
models and :func:`schema_table` (the documentation) are all generated from them.

Units are in the column names: ``_usd_bn`` (USD billions), ``_frac`` (fraction), ``_pct``
(percent), ``_bp`` (basis points), ``_days`` (days), ``_ratio`` (dimensionless ratio).
Treasury holdings are **par (face) amounts**, one column per tenor bucket of the market,
named ``ust_<bucket>_par_usd_bn``; market value is par x price / 100.

Sign conventions: futures ``notional_usd_bn`` is positive for a long, negative for a short;
swap ``notional_usd_bn`` is positive when the party *receives* fixed (long duration, like a
bond) and negative when it *pays* fixed (the hedge in a swap-spread trade). The initial
margin on a futures or swap exposure is posted by ``source`` to ``target``; the target
holds it as cash and owes it back (a liability).

Hedge-fund strategy books: a fund that runs several strategies is one institution per
strategy book (as multi-strategy funds allocate capital to pods with their own limits), each
with its own cash, repo, margin and equity, so its own P&L, margin calls and leverage limit.
``strategy`` tags the book (:data:`STRATEGIES`; blank for an untagged fund and for every
other type) and ``fund_id`` names the parent fund that the books of one fund share (blank:
the institution's own id). A ``basis`` book is long cash and short futures, a
``swap_spread`` book long cash and paying fixed on a swap; :mod:`contagion.validation`
rejects a tag its instruments contradict.

Behavioural parameters are **assumptions** with documented defaults per institution type;
calibration replaces them and sensitivity analysis varies them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pandas as pd


class InstitutionType(StrEnum):
    """Sector of an institution (the node type of the graph)."""

    HEDGE_FUND = "hedge_fund"
    DEALER = "dealer"
    MMF = "mmf"
    ASSET_MANAGER = "asset_manager"
    CCP = "ccp"
    CENTRAL_BANK = "central_bank"
    SOVEREIGN_FUND = "sovereign_fund"
    OTHER = "other"


class ExposureKind(StrEnum):
    """Kind of an exposure (the edge type of the multigraph)."""

    REPO = "repo"  # source = cash lender, target = borrower (who posts collateral)
    FUTURES = "futures"  # source = clearing member, target = CCP
    SWAP = "swap"  # source = party, target = CCP or bilateral counterparty
    UNSECURED = "unsecured"  # source = creditor, target = debtor


class RepoSegment(StrEnum):
    """Segment of a repo trade."""

    BILATERAL = "bilateral"  # non-centrally-cleared bilateral (NCCBR)
    TRIPARTY = "triparty"
    SPONSORED = "sponsored"  # sponsored / centrally cleared at FICC
    CENTRAL_BANK = "central_bank"  # a central-bank facility (SRF, ON RRP)


class Strategy(StrEnum):
    """Strategy of a hedge-fund book (Form PF decomposition, fact base rows 1.29-1.31)."""

    BASIS = "basis"  # long cash, short futures, repo-financed (cash-futures basis trade)
    SWAP_SPREAD = "swap_spread"  # long cash, pay fixed on a swap, repo-financed
    RELATIVE_VALUE = "relative_value"  # other relative value: maturity-matched, curve trades
    DIRECTIONAL = "directional"  # outright duration positions (cash and futures)


INSTITUTION_TYPES: tuple[str, ...] = tuple(t.value for t in InstitutionType)
STRATEGIES: tuple[str, ...] = tuple(s.value for s in Strategy)
EXPOSURE_KINDS: tuple[str, ...] = tuple(k.value for k in ExposureKind)
REPO_SEGMENTS: tuple[str, ...] = tuple(s.value for s in RepoSegment)


@dataclass(frozen=True)
class Column:
    """Spec of one input column.

    ``default`` is ``None`` for a required column, a scalar, or a mapping from institution
    type to value (the key ``"*"`` covers types not listed). ``kinds`` (exposures only) lists
    the exposure kinds that use the column; for other kinds it is filled with its neutral
    value and ignored.
    """

    name: str
    dtype: str  # "str", "float" or "category"
    unit: str
    description: str
    default: float | str | dict[str, float] | None = None
    min: float | None = None
    max: float | None = None
    max_exclusive: bool = False
    allowed: tuple[str, ...] | None = None
    kinds: tuple[str, ...] | None = None
    neutral: float | str = field(default=0.0)

    def default_for(self, inst_type: str) -> float | str | None:
        if isinstance(self.default, dict):
            return self.default.get(inst_type, self.default.get("*"))
        return self.default


HF, DL, AM, MMF = "hedge_fund", "dealer", "asset_manager", "mmf"

INSTITUTION_COLUMNS: tuple[Column, ...] = (
    Column("id", "str", "", "Unique institution identifier."),
    Column("name", "str", "", "Display name (defaults to id).", default=""),
    Column("type", "category", "", "Sector.", allowed=INSTITUTION_TYPES),
    Column(
        "strategy",
        "category",
        "",
        "Strategy of a hedge-fund book: basis (long cash, short futures), swap_spread (long "
        "cash, pay fixed), relative_value (other relative value) or directional; blank for an "
        "untagged fund and for every other type.",
        default="",
        allowed=("", *STRATEGIES),
    ),
    Column(
        "fund_id",
        "str",
        "",
        "The parent fund of a hedge-fund strategy book: the books of one fund share it "
        "(blank: the institution's own id). Only hedge funds share a fund.",
        default="",
    ),
    Column(
        "cash_usd_bn",
        "float",
        "USD bn",
        "Cash and central-bank reserves held.",
        default=0.0,
        min=0.0,
    ),
    Column(
        "other_assets_usd_bn",
        "float",
        "USD bn",
        "Assets outside the modelled markets (loans, equities, ...), held at book value.",
        default=0.0,
        min=0.0,
    ),
    Column(
        "other_liabilities_usd_bn",
        "float",
        "USD bn",
        "Liabilities outside the modelled exposures (deposits, long-term debt, reserves "
        "issued by a central bank). Fund shares are equity, not liabilities.",
        default=0.0,
        min=0.0,
    ),
    # --- behavioural parameters (assumptions; documented defaults per type) ---
    Column(
        "max_leverage_ratio",
        "float",
        "ratio",
        "Hard cap on balance-sheet leverage (total assets / equity). Above it the "
        "institution must sell (forced deleveraging). Used by hedge funds and asset managers.",
        default={HF: 100.0, AM: 3.0, "*": 1000.0},
        min=1.0,
    ),
    Column(
        "leverage_vol_elasticity",
        "float",
        "ratio",
        "Elasticity of target leverage to volatility: target = initial leverage x "
        "(vol_0 / vol)^elasticity. Used by hedge funds.",
        default={HF: 0.5, "*": 0.0},
        min=0.0,
        max=10.0,
    ),
    Column(
        "deleveraging_speed_frac",
        "float",
        "frac/day",
        "Share of the gap to target leverage closed per day by voluntary sales. Used by "
        "hedge funds.",
        default={HF: 0.25, "*": 0.0},
        min=0.0,
        max=1.0,
    ),
    Column(
        "leverage_ratio_min_frac",
        "float",
        "frac",
        "Minimum leverage ratio (equity / leverage exposure, e.g. the SLR). Sets a dealer's "
        "balance-sheet capacity. Used by dealers.",
        default={DL: 0.05, "*": 0.0},
        min=0.0,
        max=1.0,
        max_exclusive=True,
    ),
    Column(
        "redemption_sensitivity_ratio",
        "float",
        "ratio",
        "Flow-performance sensitivity: extra redemptions (share of NAV) per unit of "
        "cumulative return loss. Used by asset managers and MMFs.",
        default={AM: 2.0, MMF: 1.0, "*": 0.0},
        min=0.0,
        max=100.0,
    ),
    Column(
        "futures_cut_frac",
        "float",
        "frac",
        "Share of a redemption met by cutting futures longs pro rata (the rest from cash "
        "and cash bonds). Used by asset managers.",
        default={AM: 0.5, "*": 0.0},
        min=0.0,
        max=1.0,
    ),
    Column(
        "lender_max_borrower_leverage_ratio",
        "float",
        "ratio",
        "A lender refuses to roll repo to a borrower whose leverage exceeds this (a "
        "funding run). Used by repo lenders.",
        default={DL: 150.0, MMF: 120.0, "*": 1000.0},
        min=1.0,
    ),
    Column(
        "mmf_prime_share_frac",
        "float",
        "frac",
        "Share of a money-market fund's assets in prime (non-government) funds: 0 for a "
        "government fund, 1 for a prime fund. Prime funds face the scenario's prime outflows "
        "in stress, government funds receive its flight-to-safety inflows (SEC staff and "
        "Crane Data for March 2020: prime -134 to -160 USD bn, government +790 to +838, fact "
        "base 4.31-4.32). Used by MMFs.",
        default={MMF: 0.0, "*": 0.0},
        min=0.0,
        max=1.0,
    ),
    Column(
        "lender_max_borrower_loss_frac",
        "float",
        "frac",
        "A lender refuses to roll repo to a borrower that has lost more than this share of "
        "its initial equity. Used by repo lenders.",
        default={DL: 0.6, MMF: 0.4, "*": 1.0},
        min=0.0,
        max=1.0,
    ),
)

EXPOSURE_COLUMNS: tuple[Column, ...] = (
    Column("id", "str", "", "Unique exposure identifier (defaults to '<kind>-<row>').", ""),
    Column("kind", "category", "", "Exposure kind.", allowed=EXPOSURE_KINDS),
    Column(
        "source",
        "str",
        "",
        "Repo: cash lender. Futures: clearing member. Swap: party. Unsecured: creditor.",
    ),
    Column(
        "target",
        "str",
        "",
        "Repo: borrower. Futures: CCP. Swap: CCP or counterparty. Unsecured: debtor.",
    ),
    Column(
        "amount_usd_bn",
        "float",
        "USD bn",
        "Cash lent (repo) or amount owed (unsecured).",
        default=None,
        min=0.0,
        kinds=("repo", "unsecured"),
    ),
    Column(
        "collateral_bucket",
        "str",
        "",
        "Tenor bucket of the Treasury collateral (repo).",
        default=None,
        kinds=("repo",),
        neutral="",
    ),
    Column(
        "haircut_frac",
        "float",
        "frac",
        "Haircut: collateral market value = amount / (1 - haircut) (repo).",
        default=0.0,
        min=0.0,
        max=1.0,
        max_exclusive=True,
        kinds=("repo",),
    ),
    Column(
        "rate_pct",
        "float",
        "percent",
        "Repo rate (defaults to the market repo rate).",
        default=float("nan"),
        min=-5.0,
        max=100.0,
        kinds=("repo",),
    ),
    Column(
        "tenor_days",
        "float",
        "days",
        "Remaining term of the repo; 1 = overnight (repo).",
        default=1.0,
        min=1.0,
        max=3650.0,
        kinds=("repo",),
    ),
    Column(
        "segment",
        "category",
        "",
        "Repo segment.",
        default="bilateral",
        allowed=REPO_SEGMENTS,
        kinds=("repo",),
        neutral="",
    ),
    Column(
        "futures_contract",
        "str",
        "",
        "Futures contract code, one of the market's contracts (futures).",
        default=None,
        kinds=("futures",),
        neutral="",
    ),
    Column(
        "swap_tenor",
        "str",
        "",
        "Tenor bucket of the swap (swap).",
        default=None,
        kinds=("swap",),
        neutral="",
    ),
    Column(
        "notional_usd_bn",
        "float",
        "USD bn",
        "Signed notional: futures + long / - short; swap + receive fixed / - pay fixed.",
        default=None,
        kinds=("futures", "swap"),
    ),
    Column(
        "initial_margin_usd_bn",
        "float",
        "USD bn",
        "Initial margin posted by source to target (futures, swap).",
        default=0.0,
        min=0.0,
        kinds=("futures", "swap"),
    ),
)


def holdings_column(bucket: str) -> str:
    """Name of the par-holdings column of a tenor bucket, e.g. ``ust_10y_par_usd_bn``."""
    return f"ust_{bucket}_par_usd_bn"


#: Balance-sheet amounts of the institutions table (the holdings columns aside).
BALANCE_COLUMNS: tuple[str, ...] = (
    "cash_usd_bn",
    "other_assets_usd_bn",
    "other_liabilities_usd_bn",
)
#: Behavioural parameters: every numeric column that is not a balance-sheet amount.
BEHAVIOUR_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in INSTITUTION_COLUMNS if c.dtype == "float" and c.name not in BALANCE_COLUMNS
)
INSTITUTION_SPEC = {c.name: c for c in INSTITUTION_COLUMNS}
EXPOSURE_SPEC = {c.name: c for c in EXPOSURE_COLUMNS}


def schema_table(table: str = "institutions") -> pd.DataFrame:
    """The schema of an input table as a DataFrame (column, dtype, unit, default, bounds).

    Examples
    --------
    >>> schema_table("exposures").loc["haircut_frac", "unit"]
    'frac'
    """
    cols = INSTITUTION_COLUMNS if table == "institutions" else EXPOSURE_COLUMNS
    rows = [
        {
            "column": c.name,
            "dtype": c.dtype,
            "unit": c.unit,
            "default": "required" if c.default is None else c.default,
            "min": c.min,
            "max": c.max,
            "allowed": ", ".join(c.allowed) if c.allowed else "",
            "kinds": ", ".join(c.kinds) if c.kinds else "all",
            "description": c.description,
        }
        for c in cols
    ]
    return pd.DataFrame(rows).set_index("column")
