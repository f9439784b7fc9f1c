"""Shared fixtures and helpers: the toy system, its tables, and a random-system builder."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import pandas as pd
import pytest
from hypothesis import HealthCheck, settings
from undrawn import figures_not_drawn

from contagion import Market, System
from contagion.examples import toy_basis_trade

# Hypothesis profiles. "ci" (the default) is what `make test` runs: 25 examples per property,
# so the merged suite fits its time budget (10 minutes on 2 cores); "full" is the earlier CI
# size (50); "soak" is the long run on demand, thousands of examples and no deadline:
#   .venv/bin/python -m pytest tests/test_engine_properties.py --hypothesis-profile=soak
#   CONTAGION_HYPOTHESIS_PROFILE=full .venv/bin/python -m pytest -q
# (the option wins over the variable; HYPOTHESIS_PROFILE is still read as a fallback).
# Tests that need more than the profile's default in CI ask for it (profile_examples).
CI_EXAMPLES = 25
SOAK_EXAMPLES = 5000
settings.register_profile("ci", max_examples=CI_EXAMPLES, deadline=None)
settings.register_profile("full", max_examples=50, deadline=None)
settings.register_profile("dev", max_examples=10, deadline=None)
settings.register_profile(
    "soak",
    max_examples=SOAK_EXAMPLES,
    deadline=None,
    print_blob=True,  # a failure prints the @reproduce_failure blob
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(
    os.environ.get("CONTAGION_HYPOTHESIS_PROFILE") or os.environ.get("HYPOTHESIS_PROFILE", "ci")
)


def assert_documents_close(got, want, *, rel: float = 1e-12, path: str = "") -> None:
    """Parsed YAML/JSON documents equal in structure and text, floats to ``rel``.

    Generated files are compared this way, not byte for byte: their floats come from
    matrix products and sums whose last bit depends on the CPU's BLAS kernel (the shipped
    files were written on one machine; a test on another may differ by an ulp).
    """
    where = path or "<root>"
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), f"{where}: keys differ"
        for k in want:
            assert_documents_close(got[k], want[k], rel=rel, path=f"{path}/{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: lengths differ"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_documents_close(g, w, rel=rel, path=f"{path}[{i}]")
    elif isinstance(want, float) and not isinstance(got, bool) and isinstance(got, int | float):
        assert math.isclose(got, want, rel_tol=rel, abs_tol=rel), f"{where}: {got!r} != {want!r}"
    else:
        assert type(got) is type(want) and got == want, f"{where}: {got!r} != {want!r}"


def profile_examples(ci: int) -> int:
    """``max_examples`` for a test that needs more than the profile's default in CI:
    ``ci`` under the CI profile, the profile's own (larger) number under soak."""
    return max(ci, settings().max_examples)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "undrawn_figures: report figures built but not drawn (tests/undrawn.py)"
    )
    config.addinivalue_line(
        "markers", "drawn_figures: draw the report figures in a module marked undrawn_figures"
    )


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


@pytest.fixture(autouse=True)
def _undrawn_figures(request):
    """Report figures not drawn in tests marked ``undrawn_figures`` (see ``undrawn.py``)."""
    node = request.node
    if node.get_closest_marker("undrawn_figures") and not node.get_closest_marker("drawn_figures"):
        with figures_not_drawn():
            yield
    else:
        yield


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def toy() -> System:
    """The bundled eleven-institution toy system (immutable, so shared by the session)."""
    return toy_basis_trade()


def toy_institutions() -> pd.DataFrame:
    """A fresh copy of the toy institutions table (safe to edit)."""
    return toy_basis_trade().institutions


def toy_exposures() -> pd.DataFrame:
    """A fresh copy of the toy exposures table (safe to edit)."""
    return toy_basis_trade().exposures


def toy_market() -> Market:
    return toy_basis_trade().market


def row(df: pd.DataFrame, id_: str) -> int:
    """Row label of the record with id ``id_``."""
    return int(df.index[df["id"] == id_][0])


# --- random valid systems ----------------------------------------------------------------
SMALL_MARKET = {
    "buckets": [
        {"name": "2y", "maturity_years": 2, "outstanding_usd_bn": 1e7, "yield_pct": 4.0,
         "modified_duration_years": 1.9},
        {"name": "10y", "maturity_years": 10, "outstanding_usd_bn": 1e7, "yield_pct": 4.3,
         "modified_duration_years": 8.0, "price": 97.5},
    ],
    "futures": [
        {"code": "TU", "bucket": "2y", "conversion_factor": 1.0, "price": 99.9,
         "initial_margin_frac": 0.01},
        {"code": "TY", "bucket": "10y", "conversion_factor": 0.9, "price": 108.0,
         "initial_margin_frac": 0.02},
    ],
    "repo_rate_pct": 4.3,
    "on_rrp_rate_pct": 4.25,
    "policy_rate_pct": 4.5,
    "volatility_index": 100,
}  # fmt: skip

# One hedge fund: (bucket index, par held, cash, haircut, share of capacity borrowed, IM).
HedgeFund = tuple[int, float, float, float, float, float]


def basis_tables(
    funds: Sequence[HedgeFund], unsecured: float = 0.0, fund_name: str = "Fund"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tables of a valid basis-trade system built from drawn numbers.

    Each fund holds ``par`` of one bucket, borrows ``share`` of the most its collateral
    supports at its haircut from dealer ``d<i % 2>``, and shorts the bucket's future
    (IM posted to the CCP); the asset manager holds the longs. Balance sheets balance by
    construction (equity is derived), nobody starts insolvent, collateral suffices.
    """
    buckets, codes = ("2y", "10y"), ("TU", "TY")
    price = {"2y": 1.0, "10y": 0.975}
    inst = [
        {"id": "d0", "type": "dealer", "cash_usd_bn": 5000.0},
        {"id": "d1", "type": "dealer", "cash_usd_bn": 5000.0, "ust_2y_par_usd_bn": 10.0},
        {"id": "am", "type": "asset_manager", "cash_usd_bn": 100.0},
        {"id": "mmf", "type": "mmf", "cash_usd_bn": 50.0},
    ]
    exp: list[dict] = []
    total_im = 0.0
    for i, (b, par, cash, haircut, share, im) in enumerate(funds):
        bucket = buckets[b]
        hf = f"hf{i}"
        inst.append(
            {"id": hf, "name": f"{fund_name} {i}", "type": "hedge_fund", "cash_usd_bn": cash,
             f"ust_{bucket}_par_usd_bn": par}
        )  # fmt: skip
        amount = par * price[bucket] * (1.0 - haircut) * share
        exp.append(
            {"id": f"repo{i}", "kind": "repo", "source": f"d{i % 2}", "target": hf,
             "amount_usd_bn": amount, "collateral_bucket": bucket, "haircut_frac": haircut}
        )  # fmt: skip
        for src, sign in ((hf, -1.0), ("am", 1.0)):
            exp.append(
                {"id": f"fut{i}_{src}", "kind": "futures", "source": src, "target": "ccp",
                 "futures_contract": codes[b], "notional_usd_bn": sign * (par + 1.0),
                 "initial_margin_usd_bn": im}
            )  # fmt: skip
            total_im += im
    inst.append({"id": "ccp", "type": "ccp", "cash_usd_bn": total_im + 1.0})
    exp.append(
        {"id": "loan", "kind": "unsecured", "source": "mmf", "target": "d0",
         "amount_usd_bn": unsecured}
    )  # fmt: skip
    inst_df = pd.DataFrame(inst)
    holdings = [f"ust_{b}_par_usd_bn" for b in buckets]
    inst_df[holdings] = inst_df.reindex(columns=holdings).fillna(0.0)
    return inst_df, pd.DataFrame(exp)


def basis_system(funds: Sequence[HedgeFund], unsecured: float = 0.0, **kwargs) -> System:
    """A :class:`System` from :func:`basis_tables` (kwargs go to the constructor)."""
    inst, exp = basis_tables(funds, unsecured=unsecured)
    return System(inst, exp, SMALL_MARKET, **kwargs)
