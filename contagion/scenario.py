"""Scenarios: validated, frozen configs of daily shock paths, channel switches and parameters.

A :class:`Scenario` is data (loadable from YAML with :func:`load_scenario`). Paths are lists
indexed by simulated day ``0..days-1``; a shorter list is padded, *levels* (volatility
multiplier, haircut and IM add-ons, dealer-capacity shock) with their last value and
*flows* (rate shocks, redemptions, exogenous sales) with zeros.

Every model parameter in :class:`ModelParams` is an **assumption** with a documented default
and unit, exposed for calibration and sensitivity analysis. Equations use them as stated in
the docstrings of the mechanism modules (:mod:`contagion.mechanisms`).
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from contagion.errors import InputError, Problem, text_problem

Finite = Annotated[float, Field(allow_inf_nan=False)]
MAX_DAYS = 3650
#: Largest fundamental yield change in one day, bp (100 percentage points; the extreme
#: tests use 500). Bounded so that later arithmetic (prices, P&L) stays far from overflow.
MAX_RATE_SHOCK_BP = 10_000.0
#: Largest exogenous sale in one day and bucket, USD bn (the bound on table amounts,
#: :data:`contagion.validation.MAX_AMOUNT_USD_BN`).
MAX_SALES_USD_BN = 1e9
RateShock = Annotated[
    float, Field(ge=-MAX_RATE_SHOCK_BP, le=MAX_RATE_SHOCK_BP, allow_inf_nan=False)
]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FrozenDict(dict):
    """A read-only ``dict``: the per-bucket paths of a frozen :class:`Scenario`.

    Every mutator raises ``TypeError`` (so a path cannot be swapped after validation, e.g.
    past the length check). Still a ``dict``, so equality with plain dicts, pydantic dumping,
    JSON and YAML round trips work; hashable by content; pickles as its items.
    """

    __slots__ = ()

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a frozen Scenario's per-bucket paths are read-only")

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self),))

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict) -> FrozenDict:
        return self


class Channels(_Frozen):
    """Switches: each mechanism can be turned off to isolate its contribution."""

    variation_margin: bool = True
    initial_margin: bool = True
    haircuts: bool = True
    funding_runs: bool = True
    deleveraging: bool = True
    redemptions: bool = True
    price_impact: bool = True
    futures_impact: bool = True
    swap_impact: bool = True
    repo_market: bool = True
    carry: bool = True  # coupons, repo interest, futures carry drift, swap coupons
    defaults: bool = True
    realised_volatility: bool = True


class ModelParams(_Frozen):
    """Model parameters (assumptions; calibration fits the free ones). Units in names."""

    # price impact (contagion.mechanisms.price_impact)
    impact_bp_per_usd_bn: Finite = Field(
        0.01,
        ge=0,
        le=10.0,
        description="Transient cash yield impact per USD bn of net sales at zero dealer "
        "utilisation, bp (lambda_T in dT = lambda_T * q * g(u)); it decays at "
        "impact_decay_frac a day.",
    )
    impact_permanent_bp_per_usd_bn: Finite = Field(
        0.1,
        ge=0,
        le=10.0,
        description="Permanent cash yield impact per USD bn of net sales (a stock effect of "
        "supply), bp: about 30 bp for USD 300 bn of purchases (D'Amico and King 2013, fact "
        "base 6.8; 0.07-0.17 bp per USD bn across its estimates).",
    )
    max_impact_bp: Finite = Field(
        300.0,
        gt=0,
        le=5000,
        description="Bound on the cumulative impact per bucket (cash, futures, swaps), "
        "either direction, bp; where it binds is counted (impact_bound_hit_days). "
        "Assumption: several times the largest Treasury dislocations on record (the 10y "
        "Treasury-OIS spread moved tens of bp in March 2020), so it only catches runaways.",
        json_schema_extra={"assumption_range": [150.0, 600.0]},
    )
    swap_impact_bp_per_usd_bn: Finite = Field(
        0.05,
        ge=0,
        le=10.0,
        description="Swap-rate impact per USD bn of net receive-fixed flow (10y-duration "
        "equivalent) on swap dealers, bp; transient like the cash impact. Assumption: half "
        "the cash market's stock effect (the swap market is deeper and has no supply).",
        json_schema_extra={"assumption_range": [0.01, 0.2]},
    )
    impact_convexity: Finite = Field(
        1.0, ge=0, le=10, description="kappa in g(u) = (1 - u)^-kappa, dimensionless."
    )
    utilisation_cap_frac: Finite = Field(
        0.9, gt=0, lt=1, description="Utilisation at which g(u) stops growing, fraction."
    )
    impact_decay_frac: Finite = Field(
        0.05,
        ge=0,
        le=1,
        description="Share of the transient cash, futures and swap impact that reverts "
        "each day (half-life ln 2 / -ln(1 - decay) days), fraction per day; the permanent "
        "cash impact stays. Default: a half-life of about two weeks (slow-moving capital "
        "returns within weeks, Duffie 2010); fitted to March 2020.",
    )
    futures_impact_bp_per_usd_bn: Finite = Field(
        0.02,
        ge=0,
        le=10.0,
        description="Futures implied-yield impact per USD bn of net futures "
        "buying, bp (buying lowers the implied yield: futures richen).",
    )
    outside_demand_usd_bn_per_bp: Finite = Field(
        0.0,
        ge=0,
        le=1000,
        description="beta: what value investors outside the dealers buy per bp of cash "
        "cheapening, USD bn per bp; bounds the impact at 1 / beta bp per USD bn however "
        "full the dealers (0: no such buyers).",
    )
    impact_duration_elasticity: Finite = Field(
        0.0,
        ge=0,
        le=3,
        description="epsilon in lambda * (D_b / D_ref)^epsilon: how the yield impact per "
        "USD bn grows with the bucket's modified duration, dimensionless (0: all buckets "
        "alike; 1: in proportion to duration, as March 2020 bid-ask spreads by tenor).",
    )
    impact_reference_duration_years: Finite = Field(
        8.0,
        gt=0,
        le=50,
        description="D_ref: the modified duration at which lambda applies as stated, years "
        "(about a 10y note's).",
    )
    futures_pass_through_frac: Finite = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of each cash-market yield impact that the futures implied "
        "yield of the contract's bucket follows (arbitrage by unconstrained traders and "
        "the delivery link), fraction; 0: futures move only with futures order flow, "
        "1: the basis never widens from cash sales.",
    )
    # volatility index (contagion.mechanisms.volatility)
    realised_vol_weight_frac: Finite = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of realised yield volatility above the starting index level "
        "that feeds the next day's volatility index (0: the scenario path alone; an "
        "assumption, off by default because calibrated episodes feed the observed MOVE "
        "path), fraction.",
    )
    realised_vol_decay_frac: Finite = Field(
        0.94,
        ge=0,
        lt=1,
        description="lambda of the EWMA variance of daily yield changes behind realised "
        "volatility (RiskMetrics 1996 daily decay 0.94), fraction per day.",
    )
    # margins (contagion.mechanisms.margin)
    im_vol_elasticity: Finite = Field(
        0.5,
        ge=0,
        le=5,
        description="beta in IM rate = IM_0 * (vol / vol_0)^beta. Below 1: "
        "Treasury futures margins did not rise in proportion to volatility in March 2020 "
        "(Chicago Fed Letter 2022, fact base 3.5).",
    )
    im_apc_buffer_frac: Finite = Field(
        0.0,
        ge=0,
        le=5,
        description="Anti-procyclicality buffer: the first buffer share of "
        "the volatility-driven IM increase is absorbed (IM_0 already includes it), fraction.",
    )
    # haircuts and funding (contagion.mechanisms.haircuts)
    haircut_vol_sensitivity_frac: Finite = Field(
        0.01,
        ge=0,
        le=1,
        description="Market-wide haircut add-on per unit of relative "
        "volatility rise, h_mkt = s * max(0, vol / vol_0 - 1), fraction.",
    )
    triparty_haircut_pass_through_frac: Finite = Field(
        0.25,
        ge=0,
        le=1,
        description="Share of the market-wide add-on applied in tri-party "
        "(tri-party haircuts are sticky near 2%), fraction.",
    )
    haircut_leverage_sensitivity_frac: Finite = Field(
        0.005,
        ge=0,
        le=1,
        description="Lender add-on for weak borrowers per unit of leverage "
        "above its initial level, relative (L / L_0 - 1), fraction.",
    )
    haircut_loss_sensitivity_frac: Finite = Field(
        0.1, ge=0, le=1, description="Lender add-on per unit of borrower equity loss share."
    )
    max_haircut_frac: Finite = Field(0.5, gt=0, lt=1, description="Cap on any haircut.")
    # repo market (contagion.mechanisms.repo_market)
    repo_rate_convexity: Finite = Field(
        1.5, ge=0, le=10, description="eta in r = r_rrp + s_0 * ((1 - x_0) / (1 - x))^eta."
    )
    max_repo_rate_pct: Finite = Field(
        50.0,
        gt=0,
        le=1000,
        description="Ceiling on the GC repo rate, percent (September "
        "2019 peaked near 10% intraday).",
    )
    funding_utilisation_cap_frac: Finite = Field(
        0.99, gt=0, lt=1, description="Funding utilisation x where the rate curve is capped."
    )
    mmf_appetite_vol_sensitivity: Finite = Field(
        0.3,
        ge=0,
        le=10,
        description="What money funds would move into repo beyond their overnight book falls "
        "as 1 / (1 + a * max(0, vol / vol_0 - 1)), a dimensionless.",
    )
    reserve_scarcity_frac: Finite = Field(
        0.10,
        gt=0,
        le=1,
        description="Reserves below this share of bank assets are scarce: banks lend none of "
        "them in repo (reserves were about 8% of bank assets in September 2019 and 9% in "
        "January 2020, fact base 2.16-2.17), fraction.",
        json_schema_extra={"assumption_range": [0.08, 0.12]},
    )
    bank_repo_lending_frac: Finite = Field(
        0.25,
        ge=0,
        le=1,
        description="Share of reserves above the scarcity threshold that banks lend in repo "
        "once GC pays their full balance-sheet cost and ramp over IORB, fraction.",
        json_schema_extra={"assumption_range": [0.1, 0.5]},
    )
    bank_balance_sheet_cost_bp: Finite = Field(
        10.0,
        ge=0,
        le=500,
        description="GC minus IORB at which banks start lending reserves in repo (their "
        "balance-sheet cost), bp; SOFR traded 8-30 bp over IORB in late 2025 with little "
        "bank arbitrage (fact base 2.22-2.25).",
        json_schema_extra={"assumption_range": [5.0, 25.0]},
    )
    bank_lending_ramp_bp: Finite = Field(
        25.0,
        gt=0,
        le=1000,
        description="Further spread over that cost at which banks lend their full share, bp.",
        json_schema_extra={"assumption_range": [10.0, 50.0]},
    )
    mmf_reallocation_frac: Finite = Field(
        0.02,
        ge=0,
        le=1,
        description="Share of their NAV money funds can move into repo within days (maturing "
        "bills), on top of their overnight book of cash, ON RRP and private repo, fraction "
        "(money funds must hold at least 10% of assets in daily liquid assets, 2019 rules).",
    )
    pool_haircut_frac: Finite = Field(
        0.02, ge=0, lt=1, description="Haircut on dealers' new inventory financing from MMFs."
    )
    dealer_auction_share_frac: Finite = Field(
        0.37,
        ge=0,
        le=1,
        description="Share of the Treasury's scheduled issuance dealers take and finance "
        "(assumption 0.2-0.5: dealers needed USD 20 bn of funding for the USD 54 bn settled "
        "on 2019-09-16, PIMCO via Crane Data; primary dealers' award share of coupon "
        "auctions is of that order).",
        json_schema_extra={"assumption_range": [0.2, 0.5]},
    )
    # deleveraging (contagion.mechanisms.deleveraging)
    leverage_funding_semi_elasticity_per_pct: Finite = Field(
        0.2,
        ge=0,
        le=5,
        description="Hedge funds' target leverage falls by exp(-e * dr) when their repo rate "
        "is dr percentage points above its start (carry turns against leveraged trades), per "
        "percent.",
        json_schema_extra={"assumption_range": [0.05, 0.5]},
    )
    leverage_funding_horizon_days: Finite = Field(
        20.0,
        ge=1,
        le=250,
        description="Holding horizon over which hedge funds average the rise in repo funding "
        "costs when setting their leverage (a one-day spike counts 1/H of itself), business "
        "days; basis trades are held for weeks to months and partly term-funded.",
        json_schema_extra={"assumption_range": [5.0, 60.0]},
    )
    leverage_haircut_elasticity: Finite = Field(
        0.5,
        ge=0,
        le=2,
        description="Hedge funds' target leverage scales with (m_0 / m)^e, m their equity per "
        "unit of assets (1 / L_0 at the start) plus the rise of their repo haircut: higher "
        "haircuts mean less leverage (1: leverage proportional to 1 / margin, Brunnermeier and "
        "Pedersen 2009), dimensionless.",
        json_schema_extra={"assumption_range": [0.25, 1.0]},
    )
    treasury_sale_preference: Finite = Field(
        3.0,
        ge=0,
        le=1000,
        description="Asset managers sell Treasuries this many times "
        "their portfolio weight when meeting redemptions (dash for cash), ratio.",
    )
    # dealer capacity (contagion.mechanisms.dealers)
    var_room_ratio: Finite = Field(
        1.0,
        gt=0,
        le=20,
        description="Dealers' room under their value-at-risk limits at the start, as a "
        "multiple of their leverage-ratio room (both in 10y-equivalent USD bn). Assumption: "
        "since 2022 VaR limits bind more often than the SLR, and desks near their VaR limits "
        "sold more Treasuries in 2020 (Cochran et al. 2024, fact base 6.17).",
        json_schema_extra={"assumption_range": [0.5, 2.0]},
    )
    dealer_internal_headroom_frac: Finite = Field(
        1.0,
        ge=0,
        le=20,
        description="Internal inventory limit: a dealer holds at most (1 + h) times its "
        "starting Treasury inventory (h times its starting leverage-ratio room when it starts "
        "with none), fraction. Assumption: primary dealers' Treasury holdings 'ballooned' in "
        "March 2020 and grew 3.5-fold from mid-2022 to 2024 (fact base 4.34).",
        json_schema_extra={"assumption_range": [0.5, 3.0]},
    )
    leverage_band_frac: Finite = Field(
        0.05,
        ge=0,
        le=1,
        description="Funds rebalance only when leverage exceeds the target "
        "by more than this share, fraction.",
    )
    # defaults (contagion.mechanisms.defaults)
    ccp_close_out_cost_frac: Finite = Field(
        0.25,
        ge=0,
        le=5,
        description="CCP close-out cost of a defaulter's positions as a "
        "share of their current IM requirement, fraction.",
    )
    # engine
    max_iterations: int = Field(50, ge=1, le=10_000, description="Within-day rounds, bound.")
    convergence_frac: Finite = Field(
        1e-4,
        ge=0,
        le=1,
        description="The within-day spiral stops once a round's sales fall "
        "below this share of the day's sales so far (dues left over are paid the next day).",
    )
    tolerance_usd_bn: Finite = Field(
        1e-6, gt=0, le=1.0, description="Sales, dues and payments below this are zero, USD bn."
    )
    day_count_days: Finite = Field(360.0, gt=0, le=366.0, description="Money-market day count.")

    @classmethod
    def assumption_ranges(cls) -> dict[str, tuple[float, float, str]]:
        """Named assumptions (parameters neither fitted nor taken from data) with their
        plausible ranges, ``{name: (low, high, "uniform")}``, for sensitivity analysis
        (the ``assumption_range`` of each field)."""
        out = {}
        for name, f in cls.model_fields.items():
            extra = f.json_schema_extra
            bounds = extra.get("assumption_range") if isinstance(extra, dict) else None
            if isinstance(bounds, list):
                lo, hi = (float(b) for b in bounds)  # type: ignore[arg-type]
                out[name] = (lo, hi, "uniform")
        return out


_LEVEL_PATHS = {
    "volatility_multiplier",
    "mmf_repo_pullback_frac",
    "haircut_addon_frac",
    "initial_margin_addon_frac",
    "futures_margin_addon_frac",
    "dealer_capacity_shock_frac",
}


class Scenario(_Frozen):
    """Daily shock paths (index = day), channel switches and model parameters.

    Examples
    --------
    >>> s = Scenario(name="vol", days=5, volatility_multiplier=[1.33, 1.67, 2.0])
    >>> s.path("volatility_multiplier").tolist()
    [1.33, 1.67, 2.0, 2.0, 2.0]
    """

    name: str = Field("scenario", min_length=1, max_length=200)
    description: str = Field("", max_length=10_000)
    days: int = Field(20, ge=1, le=MAX_DAYS)
    rate_shock_bp: dict[str, tuple[RateShock, ...]] = Field(
        default_factory=FrozenDict,
        description="Fundamental yield change per bucket and day, bp. "
        "Moves cash yields, futures and swap rates alike.",
    )
    volatility_multiplier: tuple[
        Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)], ...
    ] = Field(default_factory=tuple, description="Volatility index / its initial level.")
    am_redemption_frac: tuple[Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)], ...] = (
        Field(
            default_factory=tuple, description="Exogenous asset-manager redemptions, share of NAV."
        )
    )
    mmf_outflow_frac: tuple[Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)], ...] = Field(
        default_factory=tuple, description="Exogenous MMF outflows, share of NAV per day."
    )
    treasury_issuance_usd_bn: dict[
        str, tuple[Annotated[float, Field(ge=0, le=5000, allow_inf_nan=False)], ...]
    ] = Field(
        default_factory=FrozenDict,
        description="Net new Treasury supply settling per bucket and day (coupon "
        "settlements), USD bn market value: sold into the market by the Treasury, its cash "
        "goes to the Treasury's account and drains reserves.",
    )
    exogenous_sales_usd_bn: dict[
        str, tuple[Annotated[float, Field(ge=0, le=MAX_SALES_USD_BN, allow_inf_nan=False)], ...]
    ] = Field(
        default_factory=FrozenDict,
        description="Sales by 'other' sellers per bucket and day, "
        "USD bn market value (spread pro rata to their holdings).",
    )
    policy_rate_change_bp: tuple[
        Annotated[float, Field(ge=-500, le=500, allow_inf_nan=False)], ...
    ] = Field(
        default_factory=tuple,
        description="Change of the policy rates by day, bp: the target range, IORB, ON RRP, "
        "the SRF minimum bid and the discount rate move together (a cut is negative).",
    )
    tga_change_usd_bn: tuple[
        Annotated[float, Field(ge=-5000, le=5000, allow_inf_nan=False)], ...
    ] = Field(
        default_factory=tuple,
        description="Increase of the Treasury's cash at the central bank by day, USD bn: it "
        "drains bank reserves (tax dates, debt settlement; September 2019), negative adds.",
    )
    prime_mmf_outflow_frac: tuple[Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)], ...] = (
        Field(
            default_factory=tuple,
            description="Outflows from prime money-market funds, share of their NAV per day.",
        )
    )
    government_mmf_inflow_frac: tuple[
        Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)], ...
    ] = Field(
        default_factory=tuple,
        description="Inflows into government money-market funds (flight to safety), share of "
        "their NAV per day; the cash comes from outside the system.",
    )
    dealer_capacity_shock_frac: tuple[
        Annotated[float, Field(ge=-1, le=10, allow_inf_nan=False)], ...
    ] = Field(
        default_factory=tuple,
        description="Change of dealers' room as a share of the room each limit left at the "
        "start (-0.2 = a fifth of the room gone).",
    )
    mmf_repo_pullback_frac: tuple[Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)], ...] = (
        Field(
            default_factory=tuple,
            description="Share of MMF private repo lending capacity "
            "withdrawn (MMFs shift to T-bills and the Fed), fraction.",
        )
    )
    haircut_addon_frac: tuple[Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)], ...] = (
        Field(default_factory=tuple, description="Exogenous market-wide haircut add-on, fraction.")
    )
    initial_margin_addon_frac: tuple[
        Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)], ...
    ] = Field(
        default_factory=tuple,
        description="Discretionary CCP margin hike: IM rates x (1 + addon), fraction.",
    )
    futures_margin_addon_frac: tuple[
        Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)], ...
    ] = Field(
        default_factory=tuple,
        description="Futures exchanges' own margin hike on top: futures IM rates x (1 + "
        "addon) (swap IM unchanged), fraction (a level held after its last value).",
    )
    swap_spread_shock_bp: dict[str, tuple[Finite, ...]] = Field(
        default_factory=FrozenDict,
        description="Change of swap rates alone per bucket and day, bp (a swap-spread "
        "shock: negative values widen swap spreads, hitting pay-fixed swap-spread trades); "
        "cash yields and futures do not move with it.",
    )
    channels: Channels = Field(default_factory=Channels)
    params: ModelParams = Field(default_factory=ModelParams)

    @field_validator("days", mode="before")
    @classmethod
    def _no_bool_days(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError("must be a whole number of days, not a boolean")
        return v

    @field_validator("name", mode="after")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        reason = text_problem(v)
        if reason:
            raise ValueError(reason)
        return v

    @field_validator("description", mode="after")
    @classmethod
    def _safe_description(cls, v: str) -> str:
        reason = text_problem(v, allow="\n\t")
        if reason:
            raise ValueError(reason)
        return v

    @field_validator(
        "rate_shock_bp",
        "swap_spread_shock_bp",
        "exogenous_sales_usd_bn",
        "treasury_issuance_usd_bn",
        mode="after",
    )
    @classmethod
    def _read_only_paths(cls, v: dict) -> FrozenDict:
        for key in v:
            reason = text_problem(key) or (None if len(key) <= 100 else "longer than 100")
            if reason:
                raise ValueError(f"bucket key {key!r}: {reason}")
        return FrozenDict(v)

    @model_validator(mode="after")
    def _check_lengths(self) -> Scenario:
        for name in (
            "volatility_multiplier",
            "am_redemption_frac",
            "mmf_outflow_frac",
            "prime_mmf_outflow_frac",
            "government_mmf_inflow_frac",
            "policy_rate_change_bp",
            "tga_change_usd_bn",
            "dealer_capacity_shock_frac",
            "mmf_repo_pullback_frac",
            "haircut_addon_frac",
            "initial_margin_addon_frac",
            "futures_margin_addon_frac",
        ):
            if len(getattr(self, name)) > self.days:
                raise ValueError(f"{name}: {len(getattr(self, name))} values for {self.days} days")
        for name in ("rate_shock_bp", "swap_spread_shock_bp", "exogenous_sales_usd_bn",
                     "treasury_issuance_usd_bn"):  # fmt: skip
            for bucket, path in getattr(self, name).items():
                if len(path) > self.days:
                    raise ValueError(f"{name}.{bucket}: {len(path)} values for {self.days} days")
        return self

    def path(self, name: str) -> np.ndarray:
        """A scalar path padded to ``days`` (levels hold their last value, flows pad 0)."""
        values = list(getattr(self, name))
        neutral = 1.0 if name == "volatility_multiplier" else 0.0
        fill = values[-1] if (values and name in _LEVEL_PATHS) else neutral
        return np.array(values + [fill] * (self.days - len(values)), dtype=np.float64)

    def bucket_paths(self, name: str, buckets: list[str]) -> np.ndarray:
        """A per-bucket flow path as an array (days, n_buckets); unknown buckets raise."""
        table = getattr(self, name)
        unknown = sorted(set(table) - set(buckets))
        if unknown:
            raise InputError(
                Problem(
                    f"scenario '{self.name}'",
                    f"{name}.{unknown[0]}",
                    f"unknown bucket; the system's buckets are {', '.join(buckets)}",
                )
            )
        out = np.zeros((self.days, len(buckets)))
        for j, b in enumerate(buckets):
            vals = table.get(b, [])
            out[: len(vals), j] = vals
        return out

    def for_system(self, system: Any) -> Scenario:
        """This scenario on a system with other tenor buckets.

        A scenario's per-bucket paths name buckets (``10y``); a system with other buckets
        (say ``3y``, ``7y``, ``20y``) cannot run it as is. Buckets the system has keep their
        paths, and a scenario whose buckets all exist in the system is returned as is
        (a bucket it leaves out has no shock, as the author meant). Otherwise each bucket's
        maturity is read from its name (``6m``,
        ``10y``, ``20Y``) and the system's from :attr:`Bucket.maturity_years`:

        - ``rate_shock_bp`` (a yield change): each system bucket without a path gets the
          linear interpolation in maturity of the scenario's buckets, day by day, held
          flat beyond the shortest and longest;
        - ``exogenous_sales_usd_bn`` (an amount): each scenario bucket the system lacks
          hands its sales to the system bucket nearest in maturity, so the total sold each
          day is unchanged.

        Scenario paths name no futures contract (futures follow their bucket), so the
        buckets are all there is to adapt. The description records what was mapped.

        Parameters
        ----------
        system : System or Market
            The system (or its market) to run on.

        Returns
        -------
        Scenario
            A new scenario; ``self`` when nothing needs adapting.

        Raises
        ------
        InputError
            A scenario bucket the system lacks whose name gives no maturity.

        Examples
        --------
        >>> from contagion.market import Bucket, Market
        >>> b = lambda n, m: Bucket(name=n, maturity_years=m, outstanding_usd_bn=100,
        ...                         yield_pct=4, modified_duration_years=m / 2)
        >>> market = Market(buckets=[b("5y", 5), b("7y", 7), b("20y", 20)], repo_rate_pct=4.3,
        ...                 on_rrp_rate_pct=4.25, policy_rate_pct=4.5, volatility_index=100)
        >>> s = Scenario(days=2, rate_shock_bp={"5y": [4, 2], "10y": [10, 6]},
        ...              exogenous_sales_usd_bn={"10y": [3.0]})
        >>> t = s.for_system(market)
        >>> {k: list(v) for k, v in t.rate_shock_bp.items()}
        {'5y': [4.0, 2.0], '7y': [6.4, 3.6], '20y': [10.0, 6.0]}
        >>> dict(t.exogenous_sales_usd_bn)
        {'7y': (3.0,)}
        """
        market = getattr(system, "market", system)
        target = {b.name: float(b.maturity_years) for b in market.buckets}
        update: dict[str, Any] = {}
        notes: list[str] = []
        for field in ("rate_shock_bp", "exogenous_sales_usd_bn"):
            table = dict(getattr(self, field))
            if set(table) <= set(target):  # every bucket named exists: nothing to map
                continue
            years = {b: _bucket_years(b, self.name, field) for b in table if b not in target}
            years.update({b: target[b] for b in table if b in target})
            if field == "rate_shock_bp":
                new, note = _interpolated(table, years, target, self.days)
            else:
                new, note = _reallocated(table, years, target, self.days)
            update[field] = FrozenDict(new)
            notes.append(f"{field}: {note}")
        if not update:
            return self
        text = f"Adapted to the buckets of {getattr(system, 'name', 'the system')!s}: " + (
            "; ".join(notes) + "."
        )
        update["description"] = (self.description + " " + text).strip()[:10_000]
        return self.model_validate({**self.model_dump(), **update})

    def with_params(self, **changes: Any) -> Scenario:
        """A copy with some model parameters changed (validated; InputError names the field)."""
        return self.model_copy(
            update={"params": _validated(ModelParams, self.params, changes, "params")}
        )

    def scaled(self, factor: float) -> Scenario:
        """The same stress at ``factor`` times its severity: every shock path is multiplied
        by ``factor`` (volatility as its excess over 1: ``1 + factor (m - 1)``; fractions
        clipped to their bounds). Policy-rate changes, the Treasury's account and issuance
        are not shocks and stay as they are. Used to scan a stress for cliffs
        (``benchmarks/knife_edge.py``)."""
        if not (factor >= 0 and np.isfinite(factor)):
            raise InputError(Problem("scenario", "scaled", f"factor must be >= 0, got {factor}"))
        f = float(factor)

        def frac(path: tuple[float, ...], hi: float = 1.0) -> tuple[float, ...]:
            return tuple(float(min(max(x * f, 0.0), hi)) for x in path)

        update: dict[str, Any] = {
            "volatility_multiplier": tuple(max(1.0 + f * (x - 1.0), 1e-6)
                                           for x in self.volatility_multiplier),
            "am_redemption_frac": frac(self.am_redemption_frac),
            "mmf_outflow_frac": frac(self.mmf_outflow_frac),
            "prime_mmf_outflow_frac": frac(self.prime_mmf_outflow_frac),
            "mmf_repo_pullback_frac": frac(self.mmf_repo_pullback_frac, 0.999),
            "haircut_addon_frac": frac(self.haircut_addon_frac),
            "initial_margin_addon_frac": frac(self.initial_margin_addon_frac, 10.0),
            "futures_margin_addon_frac": frac(self.futures_margin_addon_frac, 10.0),
            "dealer_capacity_shock_frac": tuple(
                float(min(max(x * f, -1.0), 1.0)) for x in self.dealer_capacity_shock_frac
            ),
        }  # fmt: skip
        for name in ("rate_shock_bp", "swap_spread_shock_bp", "exogenous_sales_usd_bn"):
            update[name] = FrozenDict(
                {b: tuple(float(x * f) for x in p) for b, p in getattr(self, name).items()}
            )
        return self.model_validate({**self.model_dump(), **update, "name": self.name})

    def with_channels(self, **changes: bool) -> Scenario:
        """A copy with some channels switched (validated)."""
        return self.model_copy(
            update={"channels": _validated(Channels, self.channels, changes, "channels")}
        )


_TENOR = re.compile(r"^(\d+(?:\.\d+)?)\s*([ymw])$", re.IGNORECASE)
_TENOR_YEARS = {"y": 1.0, "m": 1.0 / 12.0, "w": 7.0 / 365.0}


def _bucket_years(bucket: str, scenario: str, field: str) -> float:
    """A bucket's maturity from its name: ``10y`` -> 10, ``6m`` -> 0.5, ``4w``."""
    m = _TENOR.match(bucket.strip())
    if m is None:
        raise InputError(
            Problem(
                f"scenario '{scenario}'",
                f"{field}.{bucket}",
                "the system has no such bucket and its name gives no maturity (like 10y or "
                "6m) to map it to the system's buckets by; rename it or give the paths per "
                "system bucket",
            )
        )
    return float(m.group(1)) * _TENOR_YEARS[m.group(2).lower()]


def _interpolated(
    table: dict[str, tuple[float, ...]], years: dict[str, float], target: dict[str, float],
    days: int,
) -> tuple[dict[str, tuple[float, ...]], str]:  # fmt: skip
    """Rate shocks on the target buckets: linear in maturity, flat beyond the ends."""
    source = sorted(table, key=lambda b: years[b])
    x = np.array([years[b] for b in source])
    length = max(len(table[b]) for b in source)
    paths = np.zeros((len(source), length))
    for i, b in enumerate(source):
        paths[i, : len(table[b])] = table[b]
    out, made = {}, []
    for name, t in target.items():
        if name in table:
            out[name] = tuple(float(v) for v in table[name])
            continue
        out[name] = tuple(float(np.interp(t, x, paths[:, d])) for d in range(length))
        made.append(name)
    dropped = [b for b in source if b not in target]
    note = f"{', '.join(made) or 'no bucket'} interpolated in maturity from {', '.join(source)}"
    if dropped:
        note += f" ({', '.join(dropped)} not in the system)"
    return out, note


def _reallocated(
    table: dict[str, tuple[float, ...]], years: dict[str, float], target: dict[str, float],
    days: int,
) -> tuple[dict[str, tuple[float, ...]], str]:  # fmt: skip
    """Sales of buckets the system lacks go to its bucket nearest in maturity (the total
    each day is kept)."""
    out: dict[str, list[float]] = {b: list(v) for b, v in table.items() if b in target}
    moves = []
    for b, path in table.items():
        if b in target:
            continue
        to = min(target, key=lambda n: (abs(target[n] - years[b]), target[n]))
        have = out.setdefault(to, [])
        have.extend([0.0] * (len(path) - len(have)))
        for d, v in enumerate(path):
            have[d] += float(v)
        moves.append(f"{b} to {to}")
    ordered = {n: tuple(out[n]) for n in target if n in out}
    return ordered, "sales of " + ", ".join(moves) + " (nearest maturity)"


def _validated(model: Any, current: BaseModel, changes: dict, where: str) -> Any:
    try:
        return model.model_validate({**current.model_dump(), **changes})
    except ValidationError as err:
        raise InputError.from_validation(err, "scenario", prefix=(where,)) from None


def parameter_problems(values: Any, *, location: str, field: str) -> list[Problem]:
    """Problems of a mapping ``{ModelParams field: value}`` (unknown names, values that are
    not numbers or lie outside the field's bounds), each naming ``field.<name>``."""
    if not isinstance(values, dict):
        return [Problem(location, field, f"must be a mapping, got {type(values).__name__}")]
    fields = ModelParams.model_fields
    problems = []
    for name, value in values.items():
        where = f"{field}.{name}"
        if name not in fields:
            problems.append(
                Problem(location, where, f"unknown model parameter; allowed: {', '.join(fields)}")
            )
        elif isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(Problem(location, where, f"must be a number, got {value!r}"))
        else:
            problems += _bound_problems(name, value, location, where)
    return problems


def _bound_problems(name: str, value: float, location: str, where: str) -> list[Problem]:
    try:
        ModelParams.model_validate({name: value})
    except ValidationError as err:
        return [Problem(location, where, e["msg"]) for e in err.errors()]
    except OverflowError:  # an int beyond the float range
        return [Problem(location, where, "must be a finite number")]
    return []


RANGE_KINDS = ("uniform", "loguniform")


def range_problems(ranges: Any, *, location: str, field: str) -> list[Problem]:
    """Problems of draw ranges ``{ModelParams field: [low, high, kind]}``: known names,
    finite ``low <= high`` both within the parameter's bounds, a kind of ``uniform`` or
    ``loguniform`` (then ``low > 0``); integer parameters cannot be drawn. Each problem's
    field is ``field.<name>`` (``<name>`` when ``field`` is empty)."""
    if not isinstance(ranges, dict):
        return [Problem(location, field, f"must be a mapping, got {type(ranges).__name__}")]
    fields = ModelParams.model_fields
    problems = []
    for name, spec in ranges.items():
        where = f"{field}.{name}" if field else str(name)
        if name not in fields:
            problems.append(
                Problem(location, where, f"unknown model parameter; allowed: {', '.join(fields)}")
            )
            continue
        if not isinstance(spec, list | tuple) or len(spec) != 3:
            problems.append(Problem(location, where, "must be [low, high, kind]"))
            continue
        lo, hi, kind = spec
        if kind not in RANGE_KINDS:
            problems.append(
                Problem(location, where, f"kind must be one of {', '.join(RANGE_KINDS)}")
            )
        ends = [(lo, "low"), (hi, "high")]
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v, _ in ends):
            problems.append(Problem(location, where, "low and high must be numbers"))
            continue
        if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
            problems.append(Problem(location, where, "needs finite low <= high"))
            continue
        if kind == "loguniform" and lo <= 0:
            problems.append(Problem(location, where, "loguniform needs low > 0"))
        if fields[name].annotation is int and lo != hi:
            problems.append(Problem(location, where, "a whole-number parameter cannot be drawn"))
        for value, end in ends:
            problems += [
                Problem(location, where, f"{end} {value}: {q.reason}")
                for q in _bound_problems(name, value, location, where)
            ]
    return problems


def scenario_from_dict(doc: Any, *, source: str | None = None) -> Scenario:
    """Validate a scenario document with clear errors naming the field."""
    from contagion.validation import coerced_booleans

    try:
        scenario = Scenario.model_validate(doc)
    except ValidationError as err:
        raise InputError.from_validation(err, "scenario", source) from None
    bools = coerced_booleans(doc, scenario.model_dump())
    if bools:
        raise InputError(
            [Problem("scenario", f, "must be a number, not a boolean") for f in bools], source
        )
    return scenario


def load_scenario(path: str | os.PathLike) -> Scenario:
    """Load a scenario from YAML (``safe_load``) or JSON."""
    from contagion.io import read_document

    return scenario_from_dict(read_document(path), source=str(path))
