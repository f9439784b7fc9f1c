"""Contract tests run over every mechanism function, plus hand-computed closed forms.

In the style of scikit-learn's ``parametrize_with_checks``: :data:`REGISTRY` lists each pure
function of :mod:`contagion.mechanisms` with a builder of its inputs for a shock of size
``k >= 0`` (``k = 0`` is "no shock"), the output expected without a shock, and the
direction in which each output component moves with ``k`` where the module docstring's
equations say so. :data:`CHECKS` are run on every entry:

* no shock => no change (the expected neutral output);
* outputs are finite, including for extreme shocks;
* calls are deterministic and do not mutate their inputs (the functions are pure);
* outputs are weakly monotone in the shock size, in the documented direction.

Closed-form values follow, each with its arithmetic in a comment.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from contagion.mechanisms import carry, dealers
from contagion.mechanisms import defaults as df_
from contagion.mechanisms import deleveraging as dl
from contagion.mechanisms import haircuts as hc
from contagion.mechanisms import margin as mg
from contagion.mechanisms import price_impact as pi
from contagion.mechanisms import repo_market as rm
from contagion.mechanisms import volatility as vo

A = np.array
BIL, TRI, SPON, CB = hc.BILATERAL, hc.TRIPARTY, hc.SPONSORED, hc.CENTRAL_BANK

# Shock sizes for the monotonicity and finiteness checks: from none to extreme.
SHOCKS = (0.0, 1e-9, 0.01, 0.1, 0.25, 0.5, 0.9, 1.0, 2.0, 5.0, 50.0, 1e6)


@dataclass(frozen=True)
class Mechanism:
    """One registry entry.

    ``shocked(k)`` builds the keyword arguments for a shock of size ``k``; ``zero()`` those
    of the no-shock input and ``expected_zero(kwargs)`` the output it must give. Outputs
    are normalised to a tuple of arrays; ``direction[j]`` is +1 (non-decreasing in ``k``),
    -1 (non-increasing) or 0 (no monotonicity claimed) for output component ``j``.
    """

    name: str
    func: Callable[..., Any]
    zero: Callable[[], dict[str, Any]]
    expected_zero: Callable[[dict[str, Any]], Any]
    shocked: Callable[[float], dict[str, Any]]
    direction: tuple[int, ...]


def outputs(value: Any) -> tuple[np.ndarray, ...]:
    """A mechanism's output as a tuple of float arrays."""
    parts = value if isinstance(value, tuple) else (value,)
    return tuple(np.asarray(p, dtype=np.float64) for p in parts)


# --- input builders --------------------------------------------------------------------------
@dataclass(frozen=True)
class _LinearCurve:
    """MMFs lend 100 at 4.30% and 400 more per point above it, up to 200 (at 4.55%)."""

    floor: float = 4.05

    def __call__(self, r: float) -> float:
        return float(np.clip(100.0 + 400.0 * (r - 4.3), 0.0, 200.0))


def _no_banks(r: float) -> float:
    return 0.0


def _vm(k: float) -> dict[str, Any]:
    # a long TY future and a receive-fixed 10y swap; futures prices fall by k points and swap
    # rates rise by 10 k bp: both edges lose more as k grows
    return {
        "notional": A([100.0, 20.0, -50.0]),
        "is_swap": A([False, True, False]),
        "instrument": A([0, 1, 0]),
        "d_fut_price": A([-k]),
        "d_swap_bp": A([0.0, 10.0 * k]),
        "duration": A([1.9, 8.0]),
    }


def _im_gap(k: float) -> dict[str, Any]:
    notional = A([-100.0, 50.0, 0.0])
    base = A([0.02, 0.015, 0.01])
    return {
        "notional": notional,
        "im_base_rate": base,
        "im_posted": np.abs(notional) * base,
        "im_due": np.zeros(3),
        "multiplier": 1.0 + k,
    }


H0 = A([0.0, 0.02, 0.02, 0.02, 0.05])
SEG = A([BIL, BIL, TRI, SPON, CB])


def _haircuts(k: float) -> dict[str, Any]:
    return {
        "h0": H0.copy(),
        "segment": SEG.copy(),
        "borrower_addon": np.zeros(5),
        "market_addon": 0.01 * k,
        "scenario_addon": 0.0,
        "triparty_pass_through": 0.25,
        "max_haircut": 0.5,
    }


def _borrower_addon(k: float) -> dict[str, Any]:
    lev0 = A([20.0, 10.0, 0.0, 5.0])
    return {
        "leverage_ratio": lev0 * (1.0 + k),
        "leverage0_ratio": lev0,
        "loss_frac": np.minimum(A([0.0, 0.1, 0.2, 0.3]) * k, 1.0),
        "leverage_sensitivity": 0.005,
        "loss_sensitivity": 0.1,
    }


def _repo_margin(k: float) -> dict[str, Any]:
    # borrower 0 pledges 10y (bucket 1) on two edges, borrower 1 pledges 2y (bucket 0);
    # collateral value falls by a share min(k, 1) of its starting value (which covers
    # exactly, 100 and 60 needed)
    return {
        "amount": A([49.0, 45.0, 57.0, 10.0]),
        "haircut": A([0.02, 0.1, 0.05, 0.0]),
        "borrower": A([0, 0, 1, 1]),
        "bucket": A([1, 1, 0, 0]),
        "secured": A([True, True, True, False]),
        "available_value": A([[5.0, 100.0], [60.0, 0.0]]) * (1.0 - min(k, 1.0)),
    }


def _refuse(k: float) -> dict[str, Any]:
    return {
        "maturing": A([True, True, False, True]),
        "borrower_leverage": A([10.0, 30.0, 60.0, 5.0]) * (1.0 + k),
        "borrower_loss": A([0.0, 0.05, 0.1, 0.0]) * (1.0 + k),
        "borrower_defaulted": A([False, False, False, False]),
        "lender_max_leverage": A([50.0, 50.0, 50.0, 50.0]),
        "lender_max_loss": A([0.5, 0.5, 0.5, 0.5]),
    }


def _split(k: float) -> dict[str, Any]:
    return {"need": A([1.0, 1.0, 1.0, 1.0]) * k, "capacity": A([10.0, 2.0, 0.0, 0.5])}


def _unwind(k: float) -> dict[str, Any]:
    return {"need": A([1.0, 1.0, 1.0, 0.5]) * k, "unwind_yield": A([3.0, 0.5, 0.0, -1.0])}


def _lev_target(k: float) -> dict[str, Any]:
    # assets 100, equity 5: leverage 20 = leverage0, so no excess at vol ratio 1
    return {
        "assets": A([100.0, 100.0, 50.0]),
        "equity": A([5.0, 5.0, -1.0]),
        "repo": A([90.0, 0.0, 40.0]),
        "leverage0": A([20.0, 20.0, 30.0]),
        "vol_ratio": 1.0 + k,
        "elasticity": A([1.0, 1.0, 1.0]),
        "speed": A([0.5, 0.5, 0.5]),
        "max_leverage": A([50.0, 50.0, 50.0]),
        "band": 0.0,
    }


def _redemption(k: float) -> dict[str, Any]:
    return {
        "exogenous": 0.0,
        "daily_return": A([0.0, 0.01, 0.0]) - A([1.0, 0.5, 0.1]) * k,
        "sensitivity": A([0.5, 2.0, 0.0]),
    }


def _repo_rate(k: float) -> dict[str, Any]:
    return {
        "x": 0.6 + k * 0.4,
        "x0": 0.6,
        "on_rrp_pct": 4.25,
        "spread0_pct": 0.05,
        "convexity": 1.5,
        "cap": 0.99,
    }


def _close_out(k: float) -> dict[str, Any]:
    return {
        "unpaid_vm": A([0.0, 1.0, 3.0]) * k,
        "im_requirement": A([4.0, 4.0, 0.0]) * (1.0 + k),
        "im_posted": A([2.0, 2.0, 2.0]),
        "cost_frac": 0.25 * min(k, 1.0),
    }


def _same(x: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda kw: x


REGISTRY: tuple[Mechanism, ...] = (
    Mechanism(
        "margin.im_multiplier",
        mg.im_multiplier,
        lambda: {"vol_ratio": 1.0, "elasticity": 1.3, "apc_buffer_frac": 0.0, "addon_frac": 0.0},
        _same(1.0),
        lambda k: {
            "vol_ratio": 1.0 + k,
            "elasticity": 1.3,
            "apc_buffer_frac": 0.2,
            "addon_frac": 0,
        },
        (+1,),
    ),
    Mechanism(
        "margin.variation_margin",
        mg.variation_margin,
        lambda: _vm(0.0),
        _same(np.zeros(3)),
        _vm,
        (0,),  # per edge: see test_variation_margin_monotone_per_edge
    ),
    Mechanism(
        "margin.initial_margin_gap",
        mg.initial_margin_gap,
        lambda: _im_gap(0.0),
        _same(np.zeros(3)),
        _im_gap,
        (+1,),
    ),
    Mechanism(
        "haircuts.haircuts",
        hc.haircuts,
        lambda: _haircuts(0.0),
        lambda kw: kw["h0"],
        _haircuts,
        (+1,),
    ),
    Mechanism(
        "haircuts.borrower_addon",
        hc.borrower_addon,
        lambda: _borrower_addon(0.0),
        _same(np.zeros(4)),
        _borrower_addon,
        (+1,),
    ),
    Mechanism(
        "haircuts.repo_margin_due",
        hc.repo_margin_due,
        lambda: _repo_margin(0.0),
        _same(np.zeros(4)),
        _repo_margin,
        (+1,),
    ),
    Mechanism(
        "haircuts.refuse_to_roll",
        hc.refuse_to_roll,
        lambda: _refuse(0.0),
        _same(np.zeros(4)),
        _refuse,
        (+1,),
    ),
    Mechanism(
        "deleveraging.split_need",
        dl.split_need,
        lambda: _split(0.0),
        _same((np.zeros(4), np.zeros(4))),
        _split,
        (+1, +1),
    ),
    Mechanism(
        "deleveraging.unwind_share",
        dl.unwind_share,
        lambda: _unwind(0.0),
        _same(np.zeros(4)),
        _unwind,
        (+1,),
    ),
    Mechanism(
        "deleveraging.leverage_target_share",
        dl.leverage_target_share,
        lambda: _lev_target(0.0),
        _same(np.zeros(3)),
        _lev_target,
        (+1,),
    ),
    Mechanism(
        "deleveraging.redemption_share",
        dl.redemption_share,
        lambda: _redemption(0.0),
        _same(np.zeros(3)),
        _redemption,
        (+1,),
    ),
    Mechanism(
        "price_impact.impact_factor",
        pi.impact_factor,
        lambda: {"utilisation": 0.0, "convexity": 2.0, "cap": 0.95},
        _same(1.0),
        lambda k: {"utilisation": min(k, 1.5), "convexity": 2.0, "cap": 0.95},
        (+1,),
    ),
    Mechanism(
        "price_impact.cash_impact_bp",
        pi.cash_impact_bp,
        lambda: {"net_sales_value": np.zeros(4), "lam": 0.05, "g": 3.0},
        _same(np.zeros(4)),
        lambda k: {"net_sales_value": A([1.0, 10.0, 0.0, 100.0]) * k, "lam": 0.05, "g": 3.0},
        (+1,),
    ),
    Mechanism(
        "price_impact.duration_scale",
        pi.duration_scale,
        lambda: {"duration_years": A([8.0, 10.0, 20.0]), "elasticity": 0.0, "reference_years": 8.0},
        _same(np.ones(3)),
        lambda k: {
            "duration_years": A([8.0, 10.0, 20.0]),
            "elasticity": min(k, 3.0),
            "reference_years": 8.0,
        },
        (+1,),
    ),
    Mechanism(
        "price_impact.futures_impact_bp",
        pi.futures_impact_bp,
        lambda: {"net_buying": np.zeros(2), "lam": 0.02},
        _same(np.zeros(2)),
        lambda k: {"net_buying": A([50.0, 1.0]) * k, "lam": 0.02},
        (-1,),
    ),
    Mechanism(
        "price_impact.permanent_impact_bp",
        pi.permanent_impact_bp,
        lambda: {"net_sales_value": np.zeros(2), "lam": A([0.1, 0.2])},
        _same(np.zeros(2)),
        lambda k: {"net_sales_value": A([100.0, 10.0]) * k, "lam": A([0.1, 0.2])},
        (+1,),
    ),
    Mechanism(
        "price_impact.swap_impact_bp",
        pi.swap_impact_bp,
        lambda: {"receive_fixed": np.zeros(2), "lam": 0.05},
        _same(np.zeros(2)),
        # receiving fixed (closing pay-fixed swaps) lowers swap rates
        lambda k: {"receive_fixed": A([40.0, 4.0]) * k, "lam": 0.05},
        (-1,),
    ),
    Mechanism(
        "price_impact.bounded",
        lambda impact, bound: pi.bounded(impact, bound)[0],
        lambda: {"impact": A([10.0, 20.0]), "bound": 300.0},
        _same(A([10.0, 20.0])),
        # impact grows; the bound caps it at 300 (the negative side: tests/test_prices.py)
        lambda k: {"impact": A([10.0, 20.0]) * (1.0 + 100.0 * k), "bound": 300.0},
        (+1,),
    ),
    Mechanism(
        "dealers.var_room",
        dealers.var_room,
        lambda: {
            "dv01": A([0.05, 0.0]),
            "dv01_limit0": A([0.1, 0.1]),
            "vol_ratio": 1.0,
            "capacity_shock": 0.0,
            "reference_duration_years": 8.0,
        },
        # (0.1 - 0.05) / 8e-4 = 62.5 and 0.1 / 8e-4 = 125 USD bn of 10y-equivalent bonds
        _same(A([62.5, 125.0])),
        # volatility rises: the limit allows less DV01, the room shrinks
        lambda k: {
            "dv01": A([0.05, 0.0]),
            "dv01_limit0": A([0.1, 0.1]),
            "vol_ratio": 1.0 + k,
            "capacity_shock": 0.0,
            "reference_duration_years": 8.0,
        },
        (-1,),
    ),
    Mechanism(
        "dealers.internal_room",
        dealers.internal_room,
        lambda: {"inventory": A([50.0, 0.0]), "limit0": A([100.0, 40.0]), "capacity_shock": 0.0},
        _same(A([50.0, 40.0])),
        lambda k: {
            "inventory": A([50.0, 0.0]) * (1 + k),
            "limit0": A([100.0, 40.0]),
            "capacity_shock": 0.0,
        },
        (-1,),
    ),
    Mechanism(
        "dealers.distributed_par",
        dealers.distributed_par,
        # no inventory beyond the starting book: nothing to distribute
        lambda: {"par": A([[10.0, 5.0]]), "par0": A([[10.0, 8.0]]), "delta": 0.1},
        _same(A([[0.0, 0.0]])),
        # the more a dealer absorbed, the more slow-moving capital takes off its hands
        lambda k: {"par": A([[10.0 + 100 * k, 5.0]]), "par0": A([[10.0, 8.0]]), "delta": 0.1},
        (1,),
    ),
    Mechanism(
        "dealers.into_bids_par",
        dealers.into_bids_par,
        # no policy buying: dealers sell nothing into bids
        lambda: {"excess": A([[30.0, 0.0], [10.0, 4.0]]), "net_buying": A([0.0, 0.0])},
        _same(A([[0.0, 0.0], [0.0, 0.0]])),
        # the more the policies buy, the more of their excess the dealers sell (up to all)
        lambda k: {"excess": A([[30.0, 0.0], [10.0, 4.0]]), "net_buying": A([20.0, 2.0]) * k},
        (1,),
    ),
    Mechanism(
        "dealers.daily_vol_bp",
        dealers.daily_vol_bp,
        lambda: {"volatility_index": 0.0},
        _same(0.0),
        # MOVE 100 is 100 / sqrt(252) = 6.3 bp a day
        lambda k: {"volatility_index": 100.0 * k},
        (+1,),
    ),
    Mechanism(
        "margin.external_vm",
        mg.external_vm,
        lambda: {
            "ext_notional": A([[100.0, -50.0, 20.0]]),  # long TY, short FV, receive 10y
            "d_fut_price": np.zeros(2),
            "d_swap_bp": np.zeros(1),
            "duration": A([8.0]),
            "n_futures": 2,
        },
        _same(np.zeros(1)),
        lambda k: {
            # TY and FV fall by k points, the swap rate rises 10 k bp: the long TY and the
            # receiver lose 100 k / 100 + 20 x 8 x 10 k 1e-4 = 1.16 k; the FV short gains 0.5 k
            "ext_notional": A([[100.0, -50.0, 20.0]]),
            "d_fut_price": A([-k, -k]),
            "d_swap_bp": A([10.0 * k]),
            "duration": A([8.0]),
            "n_futures": 2,
        },
        (-1,),
    ),
    Mechanism(
        "carry.swap_carry",
        carry.swap_carry,
        lambda: {
            "notional": A([100.0, 20.0]),
            "fixed_pct": A([4.0, 3.5]),
            "floating_pct": 0.0,
            "day_count": 360.0,
        },
        lambda kw: (kw["notional"] * kw["fixed_pct"] / 100.0 / 360.0,),
        # the floating rate rises by k points: the fixed receivers get less
        lambda k: {
            "notional": A([100.0, 20.0]),
            "fixed_pct": A([4.0, 3.5]),
            "floating_pct": k,
            "day_count": 360.0,
        },
        (-1,),
    ),
    Mechanism(
        "carry.futures_drift_pts",
        carry.futures_drift_pts,
        lambda: {
            "price": A([100.0, 99.0]),
            "coupon_pct": A([4.0, 4.5]),
            "repo_rate0_pct": 4.0,
            "conversion_factor": A([1.0, 0.9]),
            "day_count": 360.0,
        },
        lambda kw: (A([0.0, 99.0 * 0.5 / 100.0 / 360.0 / 0.9]),),
        # repo costs more: futures drift less (the cash bond's carry shrinks)
        lambda k: {
            "price": A([100.0, 99.0]),
            "coupon_pct": A([4.0, 4.5]),
            "repo_rate0_pct": 4.0 + k,
            "conversion_factor": A([1.0, 0.9]),
            "day_count": 360.0,
        },
        (-1,),
    ),
    Mechanism(
        "deleveraging.funding_factor",
        dl.funding_factor,
        lambda: {
            "spread_rise_pct": 0.0,
            "margin0": A([0.05, 0.1]),
            "haircut_rise": A([0.0, 0.0]),
            "semi_elasticity": 0.2,
            "margin_elasticity": 0.5,
        },
        _same(np.ones(2)),
        # repo over IORB rises k points and haircuts rise: the target leverage falls
        lambda k: {
            "spread_rise_pct": k,
            "margin0": A([0.05, 0.1]),
            "haircut_rise": A([0.01, 0.01]) * k,
            "semi_elasticity": 0.2,
            "margin_elasticity": 0.5,
        },
        (-1,),
    ),
    Mechanism(
        "repo_market.mmf_supply",
        rm.mmf_supply,
        lambda: {
            "rate_pct": 4.3,
            "capacity": 200.0,
            "x0": 0.5,
            "on_rrp_pct": 4.25,
            "spread0_pct": 0.05,
            "convexity": 1.5,
            "cap": 0.99,
        },
        _same(100.0),  # at the starting rate r_RRP + s_0 MMFs lend x_0 K = 100
        lambda k: {
            "rate_pct": 4.3 + k,
            "capacity": 200.0,
            "x0": 0.5,
            "on_rrp_pct": 4.25,
            "spread0_pct": 0.05,
            "convexity": 1.5,
            "cap": 0.99,
        },
        (+1,),
    ),
    Mechanism(
        "repo_market.bank_supply",
        rm.bank_supply,
        lambda: {
            "rate_pct": 4.5,
            "reserves": 3000.0,
            "bank_assets": 24000.0,
            "iorb_pct": 4.4,
            "scarcity_frac": 0.1,
            "lending_frac": 0.25,
            "threshold_bp": 10.0,
            "ramp_bp": 25.0,
        },
        _same(0.0),  # GC exactly at IORB + cost: banks do not lend yet
        lambda k: {
            "rate_pct": 4.5 + k,
            "reserves": 3000.0,
            "bank_assets": 24000.0,
            "iorb_pct": 4.4,
            "scarcity_frac": 0.1,
            "lending_frac": 0.25,
            "threshold_bp": 10.0,
            "ramp_bp": 25.0,
        },
        (+1,),
    ),
    Mechanism(
        "repo_market.clear",
        rm.clear,
        lambda: {
            "demand": 100.0,
            "mmf": _LinearCurve(),
            "bank": _no_banks,
            "facility_cost_pct": 4.55,
            "facility_capacity": 50.0,
            "max_rate_pct": 50.0,
        },
        _same((4.3, 100.0, 0.0, 0.0, 0.0)),  # demand met by MMFs at the starting rate
        # demand rises: the rate rises to the facility's cost, then the facility lends, then
        # the rate rises beyond it and the rest is unmet
        lambda k: {
            "demand": 100.0 * (1.0 + k),
            "mmf": _LinearCurve(),
            "bank": _no_banks,
            "facility_cost_pct": 4.55,
            "facility_capacity": 50.0,
            "max_rate_pct": 50.0,
        },
        (+1, +1, 0, +1, +1),
    ),
    Mechanism(
        "dealers.dealer_room",
        dealers.dealer_room,
        lambda: {
            "equity": A([10.0, 5.0]),
            "assets": A([150.0, 100.0]),
            "slr_frac": A([0.05, 0.05]),
            "capacity_shock": 0.0,
        },
        _same(A([50.0, 0.0])),  # 10 / 0.05 - 150 = 50; 5 / 0.05 - 100 = 0
        lambda k: {
            "equity": A([10.0, 5.0]),
            "assets": A([150.0, 100.0]),
            "slr_frac": A([0.05, 0.05]),
            "capacity_shock": -min(k, 1.0),
        },
        (-1,),
    ),
    Mechanism(
        "dealers.utilisation",
        dealers.utilisation,
        lambda: {"room": 80.0, "room_ref": 80.0},
        _same(0.0),
        lambda k: {"room": 80.0 * max(0.0, 1.0 - k), "room_ref": 80.0},
        (+1,),
    ),
    Mechanism(
        "price_impact.allocate",
        pi.allocate,
        lambda: {"total": 0.0, "weights": A([1.0, 2.0, 0.0])},
        _same(np.zeros(3)),
        lambda k: {"total": 2.0 * k, "weights": A([1.0, 2.0, 0.0])},
        (+1,),
    ),
    Mechanism(
        "repo_market.mmf_capacity",
        rm.mmf_capacity,
        lambda: {
            "overnight_book": 250.0,
            "nav": A([100.0, 200.0]),
            "reallocation_frac": 0.1,
            "vol_ratio": 1.0,
            "sensitivity": 0.3,
        },
        _same(280.0),  # 250 + 300 * 0.1 / 1
        lambda k: {
            "overnight_book": 250.0,
            "nav": A([100.0, 200.0]),
            "reallocation_frac": 0.1,
            "vol_ratio": 1.0 + k,
            "sensitivity": 0.3,
        },
        (-1,),
    ),
    Mechanism(
        "volatility.ewma_variance",
        vo.ewma_variance,
        lambda: {"variance": A([40.0, 10.0]), "dy_bp": A([0.0, 0.0]), "decay": 0.94},
        lambda kw: 0.94 * kw["variance"],  # no move: the variance decays
        lambda k: {"variance": A([40.0, 10.0]), "dy_bp": A([10.0, -5.0]) * k, "decay": 0.94},
        (+1,),
    ),
    Mechanism(
        "volatility.realised_index",
        vo.realised_index,
        lambda: {"variance": A([0.0, 0.0]), "weights": A([0.4, 0.6])},
        _same(0.0),
        lambda k: {"variance": A([40.0, 10.0]) * k, "weights": A([0.4, 0.6])},
        (+1,),
    ),
    Mechanism(
        "volatility.volatility_multiplier",
        vo.volatility_multiplier,
        lambda: {"path_multiplier": 1.5, "realised": 80.0, "vol0": 80.0, "weight": 0.5},
        _same(1.5),  # realised at the starting level: the path alone
        lambda k: {
            "path_multiplier": 1.5,
            "realised": 80.0 * (1 + k),
            "vol0": 80.0,
            "weight": 0.5,
        },
        (+1,),
    ),
    Mechanism(
        "repo_market.funding_utilisation",
        rm.funding_utilisation,
        lambda: {"demand": 0.0, "supply": 200.0},
        _same(0.0),  # no MMF financing demanded
        lambda k: {"demand": 100.0 * k, "supply": 200.0},
        (+1,),
    ),
    Mechanism(
        "repo_market.repo_rate",
        rm.repo_rate,
        lambda: _repo_rate(0.0),
        _same(4.30),  # r_rrp + s_0 at x = x0: 4.25 + 0.05
        _repo_rate,
        (+1,),
    ),
    Mechanism(
        "defaults.close_out",
        df_.close_out,
        lambda: _close_out(0.0),
        # zero VM and zero cost: nothing covered, the IM comes back unchanged
        lambda kw: (np.zeros(3), np.zeros(3), np.zeros(3), kw["im_posted"]),
        _close_out,
        (+1, +1, +1, -1),  # cost, covered, uncovered, returned
    ),
    Mechanism(
        "defaults.mutualise",
        df_.mutualise,
        lambda: {"shortfall": 0.0, "member_im": A([1.0, 2.0, 0.0])},
        _same(np.zeros(3)),
        lambda k: {"shortfall": 3.0 * k, "member_im": A([1.0, 2.0, 0.0])},
        (+1,),
    ),
)


# --- the checks ----------------------------------------------------------------------------
def check_no_shock_no_change(m: Mechanism) -> None:
    kw = m.zero()
    got, want = outputs(m.func(**kw)), outputs(m.expected_zero(kw))
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)


def check_shock_zero_is_no_shock(m: Mechanism) -> None:
    # the shocked builder at k = 0 is a no-shock input too
    got, want = outputs(m.func(**m.shocked(0.0))), outputs(m.expected_zero(m.shocked(0.0)))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)


def check_finite(m: Mechanism) -> None:
    for k in SHOCKS:
        for part in outputs(m.func(**m.shocked(k))):
            assert np.isfinite(part).all(), (m.name, k, part)


def check_deterministic_and_pure(m: Mechanism) -> None:
    for k in SHOCKS:
        kw = m.shocked(k)
        before = copy.deepcopy(kw)
        first = outputs(m.func(**kw))
        second = outputs(m.func(**kw))
        for a, b in zip(first, second, strict=True):
            np.testing.assert_array_equal(a, b)
        for name, value in before.items():  # inputs untouched
            np.testing.assert_array_equal(np.asarray(kw[name]), np.asarray(value), err_msg=name)


def check_monotone_in_shock(m: Mechanism) -> None:
    runs = [outputs(m.func(**m.shocked(k))) for k in SHOCKS]
    for j, sign in enumerate(m.direction):
        if not sign:
            continue
        path = np.stack([r[j] for r in runs])  # (shocks, ...)
        steps = sign * np.diff(path, axis=0)
        assert (steps >= -1e-12 * (1 + np.abs(path[1:]))).all(), (m.name, j, path)


CHECKS = (
    check_no_shock_no_change,
    check_shock_zero_is_no_shock,
    check_finite,
    check_deterministic_and_pure,
    check_monotone_in_shock,
)


@pytest.mark.parametrize(
    ("mechanism", "check"),
    [(m, c) for m in REGISTRY for c in CHECKS],
    ids=[f"{m.name}-{c.__name__}" for m in REGISTRY for c in CHECKS],
)
def test_mechanism_contract(mechanism: Mechanism, check) -> None:
    check(mechanism)


def test_registry_covers_every_public_mechanism_function() -> None:
    import importlib
    import inspect
    import pkgutil

    import contagion.mechanisms

    # (closed forms below and in test_engine_cache)
    covered = {m.name for m in REGISTRY} | {
        "haircuts.maturing_today",
        "haircuts.roll_period",
        "volatility.tenor_weights",
        "prices.price_from_yield",
        "policy_rates.check_path",  # an input check (tests/test_funding.py)
        "deleveraging.equity_share",  # 1 / leverage (tests/test_funding.py)
        "sponsored.sponsors",  # the sponsor rule (tests/test_sponsored.py)
    }
    found = set()
    for mod in [m.name for m in pkgutil.iter_modules(contagion.mechanisms.__path__)]:
        module = importlib.import_module(f"contagion.mechanisms.{mod}")
        for name, obj in inspect.getmembers(module, inspect.isfunction):
            if obj.__module__ != module.__name__ or name.startswith("_"):
                continue
            # steps and state-level helpers (first argument: the run's state) are checked by
            # the step contract suite (tests/test_steps.py), not here
            first = next(iter(inspect.signature(obj).parameters), "")
            if first != "state":
                found.add(f"{mod}.{name}")
    assert found <= covered, sorted(found - covered)


# --- monotonicity the registry cannot express as one direction -----------------------------
def test_external_vm_closed_form() -> None:
    # -1 point on both contracts, +10 bp on the swap: 100 x -1/100 + (-50) x -1/100
    # - 20 x 8 x 10 x 1e-4 = -1 + 0.5 - 0.16 = -0.66 USD bn
    ext = A([[100.0, -50.0, 20.0], [0.0, 0.0, 0.0]])
    got = mg.external_vm(ext, A([-1.0, -1.0]), A([10.0]), A([8.0]), 2)
    np.testing.assert_allclose(got, [-0.66, 0.0])


def test_variation_margin_monotone_per_edge() -> None:
    # long futures and receive-fixed swap lose as prices fall / rates rise; the short gains
    path = np.stack([mg.variation_margin(**_vm(k)) for k in SHOCKS])
    assert (np.diff(path[:, :2], axis=0) <= 0).all()
    assert (np.diff(path[:, 2], axis=0) >= 0).all()


def test_variation_margin_is_zero_sum_between_opposite_edges() -> None:
    vm = mg.variation_margin(
        A([-100.0, 100.0, -20.0, 20.0]),
        A([False, False, True, True]),
        A([0, 0, 0, 0]),
        A([0.37]),
        A([-4.0]),
        A([16.0]),
    )
    assert vm.sum() == pytest.approx(0.0, abs=1e-15)


def test_haircut_monotone_in_each_addon() -> None:
    for key in ("market_addon", "scenario_addon"):
        path = np.stack([hc.haircuts(**{**_haircuts(0.0), key: 0.02 * k}) for k in SHOCKS])
        assert (np.diff(path, axis=0) >= 0).all(), key
        assert (path[:, -1] == H0[-1]).all()  # the central bank keeps its haircut
    path = np.stack(
        [hc.haircuts(**{**_haircuts(0.0), "borrower_addon": np.full(5, 0.01 * k)}) for k in SHOCKS]
    )
    assert (np.diff(path, axis=0) >= 0).all()
    assert (path[:, 2] == H0[2]).all()  # tri-party: no lender-specific add-on


# --- closed forms ---------------------------------------------------------------------------
def test_im_multiplier_closed_form() -> None:
    # max(1, 2^1 / 1.25) = 1.6
    assert mg.im_multiplier(2.0, elasticity=1, apc_buffer_frac=0.25, addon_frac=0) == 1.6
    # the buffer absorbs a small rise: max(1, 1.1 / 1.25 = 0.88) = 1
    assert mg.im_multiplier(1.1, elasticity=1, apc_buffer_frac=0.25, addon_frac=0) == 1.0
    # max(1, 2^2 / 1) * (1 + 0.5) = 6
    assert mg.im_multiplier(2.0, elasticity=2, apc_buffer_frac=0, addon_frac=0.5) == 6.0
    # an add-on applies even without a volatility rise: 1 * 1.25
    assert mg.im_multiplier(1.0, elasticity=1, apc_buffer_frac=0, addon_frac=0.25) == 1.25


def test_variation_margin_closed_form() -> None:
    vm = mg.variation_margin(
        notional=A([-100.0, 100.0, 20.0]),
        is_swap=A([False, False, True]),
        instrument=A([0, 0, 1]),
        d_fut_price=A([0.5]),
        d_swap_bp=A([0.0, 10.0]),
        duration=A([8.0, 16.0]),
    )
    # short TY: -100 * 0.5 / 100 = -0.5; long TY: +0.5;
    # receive-fixed 30y swap: -20 * 16 * 10 * 1e-4 = -0.32
    np.testing.assert_allclose(vm, [-0.5, 0.5, -0.32], rtol=1e-12)


def test_variation_margin_without_futures_contracts() -> None:
    # a market with swaps only: an empty futures price vector
    vm = mg.variation_margin(A([10.0]), A([True]), A([0]), A([]), A([-5.0]), A([4.0]))
    # -10 * 4 * (-5) * 1e-4 = 0.02
    np.testing.assert_allclose(vm, [0.02], rtol=1e-12)


def test_initial_margin_gap_closed_form() -> None:
    gap = mg.initial_margin_gap(
        A([-100.0, 50.0]), A([0.02, 0.015]), A([2.0, 0.75]), A([0.5, 0.0]), 1.5
    )
    # 100 * 0.02 * 1.5 - 2 - 0.5 = 0.5 (call); 50 * 0.015 * 1.5 - 0.75 = 0.375
    np.testing.assert_allclose(gap, [0.5, 0.375], rtol=1e-12)
    # volatility back down with too much posted: a release (negative gap)
    # 100 * 0.02 * 1 - 3 - 0 = -1
    gap = mg.initial_margin_gap(A([-100.0]), A([0.02]), A([3.0]), A([0.0]), 1.0)
    np.testing.assert_allclose(gap, [-1.0])


def test_haircuts_closed_form() -> None:
    h = hc.haircuts(
        A([0.02, 0.02, 0.02, 0.05]),
        A([BIL, TRI, SPON, CB]),
        A([0.01, 0.01, 0.01, 0.01]),
        market_addon=0.04,
        scenario_addon=0.01,
        triparty_pass_through=0.25,
        max_haircut=0.5,
    )
    # bilateral: 0.02 + (0.04 + 0.01) + 0.01 = 0.08; tri-party: 0.02 + 0.25 * 0.05 = 0.0325;
    # sponsored like bilateral: 0.08; central bank keeps 0.05
    np.testing.assert_allclose(h, [0.08, 0.0325, 0.08, 0.05], rtol=1e-12)
    capped = hc.haircuts(
        A([0.02]),
        A([BIL]),
        A([0.3]),
        market_addon=0.3,
        scenario_addon=0.0,
        triparty_pass_through=0.25,
        max_haircut=0.5,
    )
    assert capped.tolist() == [0.5]  # 0.02 + 0.3 + 0.3 = 0.62 -> capped at 0.5


def test_borrower_addon_closed_form() -> None:
    a = hc.borrower_addon(
        A([30.0, np.inf, 10.0, 5.0]),
        A([20.0, 20.0, 20.0, 0.0]),
        A([0.2, 0.0, 0.0, 0.5]),
        leverage_sensitivity=0.005,
        loss_sensitivity=0.1,
    )
    # 0.005 * (30/20 - 1) + 0.1 * 0.2 = 0.0025 + 0.02 = 0.0225; infinite leverage (no
    # equity) gives no leverage add-on; deleveraged: 0; no initial leverage: 0.1 * 0.5
    np.testing.assert_allclose(a, [0.0225, 0.0, 0.0, 0.05], rtol=1e-12)


def test_repo_margin_due_two_edges() -> None:
    due = hc.repo_margin_due(
        amount=A([49.0, 45.0]),
        haircut=A([0.02, 0.1]),
        borrower=A([0, 0]),
        bucket=A([0, 0]),
        secured=A([True, True]),
        available_value=A([[90.0]]),
    )
    # need 49 / 0.98 + 45 / 0.9 = 50 + 50 = 100 of collateral, 90 available: short 10,
    # repaid pro rata: due_e = A_e * 10 / 100 -> 4.9 and 4.5
    np.testing.assert_allclose(due, [4.9, 4.5], rtol=1e-12)
    # check: after repaying, (49 - 4.9) / 0.98 + (45 - 4.5) / 0.9 = 45 + 45 = 90
    assert (49 - 4.9) / 0.98 + (45 - 4.5) / 0.9 == pytest.approx(90.0)


def test_repo_margin_due_buckets_borrowers_and_unsecured_edges() -> None:
    due = hc.repo_margin_due(**_repo_margin(0.5))
    # borrower 0, 10y: need 100, available 50 -> frac 0.5 -> 24.5 and 22.5;
    # borrower 1, 2y: need 57 / 0.95 = 60 (the unsecured edge does not count), available 30
    # -> frac 0.5 -> 28.5; the unsecured edge owes no margin
    np.testing.assert_allclose(due, [24.5, 22.5, 28.5, 0.0], rtol=1e-12)


def test_refuse_to_roll_truth_table() -> None:
    runs = hc.refuse_to_roll(
        maturing=A([True, True, True, True, False]),
        borrower_leverage=A([10.0, 60.0, 10.0, 10.0, 60.0]),
        borrower_loss=A([0.1, 0.0, 0.6, 0.0, 0.9]),
        borrower_defaulted=A([False, False, False, True, True]),
        lender_max_leverage=A([50.0] * 5),
        lender_max_loss=A([0.5] * 5),
    )
    # fine; too levered; lost too much; defaulted; not maturing (never run on)
    assert runs.tolist() == [False, True, True, True, False]


def test_maturing_today_closed_form() -> None:
    tenor = A([1.0, 7.0, 30.0, 0.5, 7.0, 0.0])
    seg = A([BIL, BIL, TRI, SPON, CB, BIL])
    # day 6 is the 7th day: overnight and sub-day tenors roll daily, the 7-day repo rolls
    # ((6 + 1) % 7 == 0), the 30-day does not, a central-bank facility is never run on
    assert hc.maturing_today(tenor, 6, seg).tolist() == [True, True, False, True, False, True]
    assert hc.maturing_today(tenor, 0, seg).tolist() == [True, False, False, True, False, True]
    assert hc.maturing_today(tenor, 29, seg).tolist() == [True, False, True, True, False, True]


def test_split_need_closed_form() -> None:
    frac, left = dl.split_need(A([5.0, 5.0, 5.0, 0.0, 5.0]), A([10.0, 5.0, 2.0, 3.0, 0.0]))
    # 5 of 10: half used, nothing left; 5 of 5: all; 5 of 2: all, 3 left; no need; no capacity
    np.testing.assert_allclose(frac, [0.5, 1.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(left, [0.0, 0.0, 3.0, 0.0, 5.0])


def test_unwind_share_closed_form() -> None:
    phi = dl.unwind_share(A([0.6, 10.0, 1.0, 0.0, 0.5, 0.0]), A([3.0, 5.0, 0.0, 0.0, -2.0, -2.0]))
    # 0.6 / 3 = 0.2 (the engine test's phi); 10 / 5 capped at 1; a need with U <= 0: all;
    # no need: 0
    np.testing.assert_allclose(phi, [0.2, 1.0, 1.0, 0.0, 1.0, 0.0], rtol=1e-12)


def test_leverage_target_share_closed_form() -> None:
    kw = _lev_target(1.0)  # vol ratio 2
    phi = dl.leverage_target_share(**kw)
    # target 20 * 2^-1 = 10; voluntary 0.5 * (100 - 10 * 5) = 25; cap 100 - 50 * 5 < 0;
    # phi = 25 / 90. No repo: 0. Negative equity: 0 (defaults handle it).
    np.testing.assert_allclose(phi, [25 / 90, 0.0, 0.0], rtol=1e-12)
    # with a 5% band: target 10.5, 0.5 * (100 - 52.5) = 23.75 -> 23.75 / 90
    phi = dl.leverage_target_share(**{**kw, "band": 0.05})
    assert phi[0] == pytest.approx(23.75 / 90, rel=1e-12)
    # the hard cap binds without voluntary speed: 100 - 15 * 5 = 25 -> 25 / 90
    phi = dl.leverage_target_share(
        **{**kw, "vol_ratio": 1.0, "speed": np.zeros(3), "max_leverage": np.full(3, 15.0)}
    )
    assert phi[0] == pytest.approx(25 / 90, rel=1e-12)


def test_redemption_share_closed_form() -> None:
    share = dl.redemption_share(0.01, A([-0.05, 0.02, -10.0]), A([0.5, 0.5, 1.0]))
    # 0.01 + 0.5 * 0.05 = 0.035; a gain adds nothing: 0.01; capped at 1
    np.testing.assert_allclose(share, [0.035, 0.01, 1.0], rtol=1e-12)


def test_impact_factor_closed_form() -> None:
    assert pi.impact_factor(0.5, convexity=1, cap=0.95) == pytest.approx(2.0)  # 1 / 0.5
    assert pi.impact_factor(0.5, convexity=2, cap=0.95) == pytest.approx(4.0)  # 0.5^-2
    assert pi.impact_factor(0.99, convexity=1, cap=0.95) == pytest.approx(20.0)  # 1 / 0.05
    assert pi.impact_factor(0.7, convexity=0, cap=0.95) == 1.0  # linear (Kyle)
    assert pi.impact_factor(-0.3, convexity=1, cap=0.95) == 1.0  # u clipped at 0


def test_price_impact_closed_forms() -> None:
    # 0.05 bp per USD bn * 10 * g 2 = 1 bp
    np.testing.assert_allclose(pi.cash_impact_bp(A([10.0, 0.0]), lam=0.05, g=2.0), [1.0, 0.0])
    # outside buyers of beta = 10 USD bn per bp: k = 0.05 * 2 = 0.1, 0.1 / (1 + 0.1 * 10) =
    # 0.05 bp per USD bn, so 10 sold move 0.5 bp; with dealers full (g huge) the impact
    # tends to q / beta = 1 bp
    np.testing.assert_allclose(
        pi.cash_impact_bp(A([10.0]), lam=0.05, g=2.0, outside_demand=10.0), [0.5]
    )
    np.testing.assert_allclose(
        pi.cash_impact_bp(A([10.0]), lam=0.05, g=1e9, outside_demand=10.0), [1.0], rtol=1e-6
    )
    # duration scaling: (D / 8)^1 for D = 2, 8, 20
    np.testing.assert_allclose(
        pi.duration_scale(A([2.0, 8.0, 20.0]), elasticity=1.0, reference_years=8.0),
        [0.25, 1.0, 2.5],
    )
    # buying 100 at 0.02 bp per USD bn lowers the implied yield by 2 bp
    np.testing.assert_allclose(pi.futures_impact_bp(A([100.0, -50.0]), lam=0.02), [-2.0, 1.0])
    room = dealers.dealer_room(
        A([10.0, 10.0, -1.0, 10.0]), A([150.0, 250.0, 10.0, 10.0]), A([0.05, 0.05, 0.05, 0.0]), 0
    )
    # 10 / 0.05 - 150 = 50; over the limit: 0; no equity: 0; no SLR constraint given: 0
    np.testing.assert_allclose(room, [50.0, 0.0, 0.0, 0.0])
    # a 10% capacity cut takes a tenth of the starting room of 50: 45 (not 200 * 0.9 - 150)
    cut = dealers.dealer_room(A([10.0]), A([150.0]), A([0.05]), -0.1, A([50.0]))
    assert cut[0] == pytest.approx(45.0)
    assert dealers.utilisation(25.0, 100.0) == 0.75
    assert dealers.utilisation(5.0, 0.0) == 1.0  # no room to begin with: full
    assert dealers.utilisation(150.0, 100.0) == 0.0  # more room than at the start
    # 30 pro rata to 10, 20, 30 (total 60): half of each; more than the weights: capped
    np.testing.assert_allclose(pi.allocate(30.0, A([10.0, 20.0, 30.0])), [5.0, 10.0, 15.0])
    np.testing.assert_allclose(pi.allocate(100.0, A([10.0, 20.0])), [10.0, 20.0])


def test_mmf_capacity_closed_form() -> None:
    cap = rm.mmf_capacity(
        240.0, A([100.0, 200.0, -50.0]), reallocation_frac=0.1, vol_ratio=2.0, sensitivity=0.5
    )
    # negative NAV counts as 0: 240 + 300 * 0.1 / (1 + 0.5 * (2 - 1)) = 240 + 20 = 260
    assert cap == pytest.approx(260.0, rel=1e-12)


def test_repo_rate_closed_form() -> None:
    kw = {"on_rrp_pct": 4.25, "spread0_pct": 0.05, "convexity": 1.5, "cap": 0.99}
    # x = x0: 4.25 + 0.05 = 4.30
    assert rm.repo_rate(0.5, 0.5, **kw) == pytest.approx(4.30, rel=1e-12)
    # x 0.5 -> 0.75: 4.25 + 0.05 * (0.5 / 0.25)^1.5 = 4.25 + 0.05 * 2.8284271 = 4.3914214
    assert rm.repo_rate(0.75, 0.5, **kw) == pytest.approx(4.25 + 0.05 * 2**1.5, rel=1e-12)
    assert rm.repo_rate(0.75, 0.5, **kw) == pytest.approx(4.3914214, abs=1e-7)
    # excess demand is capped at x = 0.99: 4.25 + 0.05 * (0.5 / 0.01)^1.5 = 21.9277
    assert rm.repo_rate(1.5, 0.5, **kw) == pytest.approx(4.25 + 0.05 * 50**1.5, rel=1e-12)
    # less demand than at the start: the rate falls toward the floor
    assert 4.25 < rm.repo_rate(0.0, 0.5, **kw) < 4.30
    # a market that starts saturated (x0 = inf -> cap) stays at its observed rate when still
    # saturated, 4.25 + 0.05 * (0.01 / 0.01)^1.5, and falls when supply appears
    assert rm.repo_rate(np.inf, np.inf, **kw) == pytest.approx(4.30, rel=1e-12)
    # x 0.5 with x0 at the cap: 4.25 + 0.05 * (0.01 / 0.5)^1.5 = 4.25 + 0.05 * 0.0028284
    assert rm.repo_rate(0.5, np.inf, **kw) == pytest.approx(4.25 + 0.05 * 0.02**1.5, rel=1e-12)


def test_move_tenor_weights() -> None:
    assert vo.tenor_weights(["2y", "5y", "10y", "30y"]).tolist() == [0.2, 0.2, 0.4, 0.2]
    assert vo.tenor_weights(["10y", "30y"]) == pytest.approx([2 / 3, 1 / 3])  # renormalised
    assert vo.tenor_weights(["3m", "1y"]).tolist() == [0.5, 0.5]  # no MOVE tenor: equal


def test_realised_volatility_closed_form() -> None:
    # V0 = 100 bp/yr: var0 = 100^2 / 252 = 39.6825 bp^2/day, so R0 = 100 (no feedback).
    var0 = np.full(1, 100.0**2 / 252)
    assert vo.realised_index(var0, np.ones(1)) == pytest.approx(100.0, rel=1e-12)
    assert vo.volatility_multiplier(2.0, 100.0, 100.0, weight=0.5) == 2.0  # exactly the path
    # a 20 bp day: var1 = 0.94 * 39.6825 + 0.06 * 20^2 = 37.3016 + 24 = 61.3016
    var1 = vo.ewma_variance(var0, np.full(1, 20.0), 0.94)
    assert var1[0] == pytest.approx(61.3016, abs=1e-4)
    # R1 = sqrt(252 * 61.3016) = sqrt(15448.0) = 124.290
    r1 = vo.realised_index(var1, np.ones(1))
    assert r1 == pytest.approx(124.290, abs=1e-3)
    # half of the 24.290 excess feeds the index: m = 2 + 0.5 * 24.290 / 100 = 2.12145
    assert vo.volatility_multiplier(2.0, r1, 100.0, weight=0.5) == pytest.approx(2.12145, abs=1e-5)
    # a calm day never lowers the index below the path
    assert vo.volatility_multiplier(2.0, 60.0, 100.0, weight=1.0) == 2.0


def test_funding_utilisation_without_supply() -> None:
    assert rm.funding_utilisation(50.0, 200.0) == 0.25
    assert rm.funding_utilisation(50.0, 0.0) == np.inf  # demand, no supply: saturated
    assert rm.funding_utilisation(0.0, 0.0) == 0.0  # no MMF repo at all
    assert rm.funding_utilisation(1e300, 1e-300) == np.inf  # (no overflow warning)


def test_close_out_closed_form() -> None:
    cost, covered, uncovered, returned = df_.close_out(
        A([1.0, 0.0, 3.0]), A([4.0, 4.0, 4.0]), A([2.0, 2.0, 2.0]), 0.25
    )
    # cost 0.25 * 4 = 1 each; loss = VM + cost = 2, 1, 4; IM 2 covers min(loss, 2)
    np.testing.assert_allclose(cost, [1.0, 1.0, 1.0])
    np.testing.assert_allclose(covered, [2.0, 1.0, 2.0])
    np.testing.assert_allclose(uncovered, [0.0, 0.0, 2.0])
    np.testing.assert_allclose(returned, [0.0, 1.0, 0.0])
    # the IM is split exactly between what covers the loss and what goes back
    np.testing.assert_allclose(covered + returned, [2.0, 2.0, 2.0])


def test_mutualise_closed_form() -> None:
    # 6 pro rata to IM 1, 2, 3 (total 6): 1, 2, 3
    np.testing.assert_allclose(df_.mutualise(6.0, A([1.0, 2.0, 3.0])), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(df_.mutualise(-1.0, A([1.0, 2.0])), [0.0, 0.0])
    np.testing.assert_allclose(df_.mutualise(5.0, A([0.0, 0.0])), [0.0, 0.0])
