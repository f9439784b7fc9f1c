"""The market the system trades in: Treasury tenor buckets, futures, swaps, repo, volatility.

Prices are per 100 of face value. A bucket's price responds to its yield through modified
duration ``D`` (years) and convexity ``C`` (years^2)::

    P(y) = P_0 * (1 - D * dy + 0.5 * C * dy^2),   dy = y - y_0 in decimal

The cash-futures basis of a contract mapped to bucket ``b`` with conversion factor ``CF`` is::

    basis_points_price = P_b - CF * F          (price points per 100 face)
    basis_bp           = basis_points_price / (D_b * P_b / 100)    (yield basis points)

so a basis of 0.1 price points on a 10y bond with D = 8.5 is about 1.2 bp.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

FiniteFloat = Annotated[
    float, Field(allow_inf_nan=False, strict=False), BeforeValidator(lambda v: _no_bool(v))
]


def _no_bool(v: Any) -> Any:
    """A YAML ``true`` is not a volatility of 1: booleans are not numbers here."""
    if isinstance(v, bool):
        raise ValueError("must be a number, not a boolean")
    return v


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bucket(_Frozen):
    """A Treasury tenor bucket (e.g. the 10-year sector)."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_]+$", description="e.g. '10y'")
    maturity_years: FiniteFloat = Field(gt=0, description="Representative maturity, years.")
    outstanding_usd_bn: FiniteFloat = Field(ge=0, le=1e9, description="Par outstanding, USD bn.")
    yield_pct: FiniteFloat = Field(ge=-5, le=50, description="Yield, percent.")
    modified_duration_years: FiniteFloat = Field(gt=0, le=40, description="Years.")
    convexity_years2: FiniteFloat = Field(default=0.0, ge=0, description="Years squared.")
    price: FiniteFloat = Field(default=100.0, gt=0, le=1e4, description="Per 100 face.")


class FuturesContract(_Frozen):
    """A Treasury futures contract delivering into one bucket (e.g. TY into 10y)."""

    code: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_]+$", description="e.g. 'TY'")
    bucket: str = Field(description="Bucket of the cheapest-to-deliver bond.")
    conversion_factor: FiniteFloat = Field(gt=0, le=2)
    price: FiniteFloat = Field(gt=0, le=1e4, description="Futures price per 100 face.")
    initial_margin_frac: FiniteFloat = Field(
        gt=0, lt=1, description="CCP initial margin rate at the base volatility, fraction."
    )
    open_interest_usd_bn: FiniteFloat = Field(default=0.0, ge=0, description="Notional.")


class Market(_Frozen):
    """Market state at the start of a simulation.

    ``volatility_index`` is a MOVE-like index level (bp of normalized yield volatility);
    IM rates in ``futures`` apply at this level. Rates are in percent.
    """

    buckets: list[Bucket] = Field(min_length=1)
    futures: list[FuturesContract] = Field(default_factory=list)
    swap_rates_pct: dict[str, FiniteFloat] = Field(
        default_factory=dict, description="Par swap rate per bucket (SOFR OIS), percent."
    )
    repo_rate_pct: FiniteFloat = Field(ge=-5, le=100, description="GC repo rate, percent.")
    on_rrp_rate_pct: FiniteFloat = Field(ge=-5, le=100, description="Fed ON RRP rate.")
    policy_rate_pct: FiniteFloat = Field(
        ge=-5, le=100, description="Top of the policy (fed funds target) range, percent."
    )
    policy_range_lower_pct: FiniteFloat | None = Field(
        None,
        ge=-5,
        le=100,
        description="Bottom of the target range, percent (None: 25 bp below the top).",
    )
    iorb_pct: FiniteFloat | None = Field(
        None,
        ge=-5,
        le=100,
        description="Interest on reserve balances, percent (None: 10 bp below the top of the "
        "range, as in 2025; IOER was 15 bp below it in 2019-20).",
    )
    srf_min_bid_pct: FiniteFloat | None = Field(
        None,
        ge=-5,
        le=100,
        description="Standing Repo Facility minimum bid rate, percent (None: the top of the "
        "range, its setting since 2021; fact base 2.28).",
    )
    discount_rate_pct: FiniteFloat | None = Field(
        None,
        ge=-5,
        le=100,
        description="Primary credit rate, percent (None: the top of the range).",
    )
    bank_reserves_usd_bn: FiniteFloat | None = Field(
        None,
        ge=0,
        le=1e6,
        description="Banks' reserve balances at the central bank, USD bn (None: reserves not "
        "modelled, so banks supply no repo cash).",
    )
    bank_assets_usd_bn: FiniteFloat | None = Field(
        None,
        gt=0,
        le=1e7,
        description="Total assets of the banking system, USD bn (scales the reserve-scarcity "
        "threshold; needed with bank_reserves_usd_bn).",
    )
    volatility_index: FiniteFloat = Field(gt=0, le=10000, description="MOVE-like level.")

    @model_validator(mode="after")
    def _check_references(self) -> Market:
        names = [b.name for b in self.buckets]
        if len(set(names)) != len(names):
            raise ValueError(f"bucket names must be unique, got {names}")
        codes = [f.code for f in self.futures]
        if len(set(codes)) != len(codes):
            raise ValueError(f"futures codes must be unique, got {codes}")
        for f in self.futures:
            if f.bucket not in names:
                raise ValueError(
                    f"futures '{f.code}': unknown bucket '{f.bucket}' (allowed: {names})"
                )
        for b in self.swap_rates_pct:
            if b not in names:
                raise ValueError(f"swap_rates_pct: unknown bucket '{b}' (allowed: {names})")
        lower, upper = self.range_lower_pct, self.policy_rate_pct
        if lower > upper:
            raise ValueError(
                f"policy_range_lower_pct {lower} is above the top of the range {upper}"
            )
        if not lower <= self.iorb_rate_pct <= upper:
            raise ValueError(f"iorb_pct {self.iorb_rate_pct} is outside the range {lower}-{upper}")
        if self.on_rrp_rate_pct > upper:
            raise ValueError(f"on_rrp_rate_pct {self.on_rrp_rate_pct} is above the range's top")
        if (self.bank_reserves_usd_bn is None) != (self.bank_assets_usd_bn is None):
            raise ValueError("bank_reserves_usd_bn and bank_assets_usd_bn go together")
        return self

    # --- the administered rates, defaults filled in ------------------------------------------
    @property
    def range_lower_pct(self) -> float:
        lower = self.policy_range_lower_pct
        return self.policy_rate_pct - 0.25 if lower is None else lower

    @property
    def iorb_rate_pct(self) -> float:
        return self.policy_rate_pct - 0.10 if self.iorb_pct is None else self.iorb_pct

    @property
    def srf_rate_pct(self) -> float:
        return self.policy_rate_pct if self.srf_min_bid_pct is None else self.srf_min_bid_pct

    @property
    def primary_credit_rate_pct(self) -> float:
        d = self.discount_rate_pct
        return self.policy_rate_pct if d is None else d

    @property
    def bucket_names(self) -> list[str]:
        return [b.name for b in self.buckets]

    @property
    def futures_codes(self) -> list[str]:
        return [f.code for f in self.futures]

    def swap_rates_array(self) -> np.ndarray:
        """Swap rate per bucket in bucket order; a bucket without a swap rate uses its yield."""
        return np.array([self.swap_rates_pct.get(b.name, b.yield_pct) for b in self.buckets])
