"""Tests for the bundled example systems (contagion.examples)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import assert_documents_close

from contagion import System
from contagion.examples import BUNDLED, load_bundled, stylised_us_2025, toy_basis_trade
from contagion.synthetic import (
    FUTURES_LONG_RATIO,
    STYLISED_US_2025_PATH,
    generate_system,
    stylised_us_2025_params,
)
from contagion.views import concentration, institution_metrics, sector_aggregates


@pytest.fixture(scope="module")
def stylised() -> System:
    return stylised_us_2025()


@pytest.fixture(scope="module")
def stylised_sectors(stylised: System) -> pd.DataFrame:
    return sector_aggregates(stylised)


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_systems_load(name: str) -> None:
    system = load_bundled(name)
    assert isinstance(system, System)
    assert system.name == name
    assert system.n_exposures > 0


# --- toy: the figures of the table in the contagion.examples docstring ---------------------
@pytest.mark.parametrize(
    ("institution", "equity", "leverage"),
    [
        ("hf_alpha", 3.00, 34.3),
        ("hf_beta", 2.75, 18.8),
        ("hf_gamma", 1.00, 21.0),
        ("dealer_a", 12.00, 18.3),
        ("dealer_b", 8.00, 13.6),
        ("mmf_gov", 245.00, 1.0),
        ("am_pension", 173.15, 1.0),
        ("ccp", 1.00, 7.3),
        ("foreign_official", 260.00, 1.0),
    ],
)
def test_toy_documented_equity_and_leverage(
    toy: System, institution: str, equity: float, leverage: float
) -> None:
    row = institution_metrics(toy).loc[institution]
    assert row["equity_usd_bn"] == pytest.approx(equity, abs=1e-9)
    assert row["leverage_ratio"] == pytest.approx(leverage, abs=0.05)


def test_toy_documented_positions(toy: System) -> None:
    per = institution_metrics(toy)
    assert per.loc["fed", "equity_usd_bn"] == pytest.approx(0.0, abs=1e-9)
    assert np.isnan(per.loc["fed", "leverage_ratio"])  # no leverage for zero equity
    assert per.loc["hf_alpha", "repo_borrowed_usd_bn"] == 100
    assert per.loc["hf_alpha", "futures_short_usd_bn"] == 100
    assert per.loc["hf_alpha", "initial_margin_posted_usd_bn"] == 2
    assert per.loc["hf_beta", "repo_borrowed_usd_bn"] == 49
    assert per.loc["hf_gamma", "swap_pay_fixed_usd_bn"] == 20
    assert per.loc["mmf_gov", "repo_lent_usd_bn"] == 100 + 45 + 20 + 50
    assert per.loc["am_pension", "initial_margin_posted_usd_bn"] == pytest.approx(3.15)
    assert per.loc["ccp", "cash_usd_bn"] == pytest.approx(7.3)
    assert per.loc["dealer_a", "repo_lent_usd_bn"] == 100
    assert per.loc["dealer_a", "assets_usd_bn"] == pytest.approx(220.0)
    # Futures: CF 1 and price 99.9, so every basis is 0.1 price points.
    m = toy.compile().market
    basis = m.price[m.futures_bucket] - m.conversion_factor * m.futures_price
    np.testing.assert_allclose(basis, 0.1, atol=1e-12)
    assert toy_basis_trade().n_institutions == 11
    # FICC's matched book: borrows 20 from mmf_gov, lends 20 to hf_gamma; equity 0.5
    assert per.loc["ccp_ficc", "repo_borrowed_usd_bn"] == 20
    assert per.loc["ccp_ficc", "repo_lent_usd_bn"] == 20
    assert per.loc["ccp_ficc", "equity_usd_bn"] == pytest.approx(0.5)
    assert per.loc["hf_gamma", "repo_borrowed_usd_bn"] == 20


# --- stylised US 2025 -----------------------------------------------------------------------
def test_stylised_regenerates_exactly(stylised: System) -> None:
    assert generate_system(**stylised_us_2025_params()).equals(stylised), (
        "the bundled stylised_us_2025.yaml is stale: regenerate it with "
        "contagion.synthetic.write_stylised_us_2025()"
    )


def test_stylised_is_marked_placeholder_and_small(stylised: System) -> None:
    assert stylised.metadata["status"] == "placeholder"
    gen = stylised.metadata["generator"]
    assert gen["function"] == "contagion.synthetic.generate_system"
    assert gen["seed"] == stylised_us_2025_params()["seed"]
    assert STYLISED_US_2025_PATH.stat().st_size < 1_000_000
    assert 150 <= stylised.n_institutions <= 300


def test_stylised_hedge_fund_aggregates(stylised: System, stylised_sectors) -> None:
    hf = stylised_sectors.loc["hedge_fund"]
    assert hf["n_institutions"] >= 100
    assert 2000 <= hf["treasury_par_usd_bn"] <= 2400
    assert 1800 <= hf["repo_borrowed_usd_bn"] <= 2200
    assert 1000 <= hf["futures_short_usd_bn"] <= 1300
    assert 200 <= hf["swap_pay_fixed_usd_bn"] <= 400
    conc = concentration(stylised, top=(50,))
    assert 0.80 <= conc["top50_share_frac"] <= 0.90
    # Futures shorts are concentrated in the 5y contract (FV).
    f = stylised.compile().futures
    shorts = np.bincount(f.instrument, np.clip(-f.notional_usd_bn, 0, None), minlength=4)
    assert stylised.market.futures_codes[int(np.argmax(shorts))] == "FV"


def test_stylised_funding_and_dealer_aggregates(stylised: System, stylised_sectors) -> None:
    mmf = stylised_sectors.loc["mmf"]
    assert 1500 <= mmf["repo_lent_usd_bn"] <= 3000
    assert 5000 <= mmf["assets_usd_bn"] <= 8000
    cb = stylised_sectors.loc["central_bank"]
    assert 50 <= cb["repo_borrowed_usd_bn"] <= 500  # ON RRP
    dl = stylised_sectors.loc["dealer"]
    assert dl["n_institutions"] == 25
    assert 0.05 <= dl["equity_usd_bn"] / dl["assets_usd_bn"] <= 0.065  # SLR-like
    assert 250 <= dl["treasury_par_usd_bn"] <= 450  # primary dealer inventories
    am = stylised_sectors.loc["asset_manager"]
    hf = stylised_sectors.loc["hedge_fund"]
    # futures by TFF category: asset managers' longs are 1.207 x the funds' shorts
    # (contagion.synthetic.FUTURES_LONG_RATIO, the 2025-03-25 report's ratio)
    assert am["futures_long_usd_bn"] == pytest.approx(
        FUTURES_LONG_RATIO["asset_mgr"] * hf["futures_short_usd_bn"], abs=1e-4
    )
    held = stylised.compile().holdings_par_usd_bn.sum(axis=0)
    assert (held <= stylised.compile().market.outstanding_usd_bn).all()


def test_write_stylised_round_trips(tmp_path) -> None:
    from contagion.io import load_system
    from contagion.synthetic import write_stylised_us_2025

    path = tmp_path / "stylised.yaml"
    written = write_stylised_us_2025(path)
    import yaml

    assert load_system(path).equals(written)
    assert_documents_close(
        yaml.safe_load(path.read_text("utf-8")),
        yaml.safe_load(STYLISED_US_2025_PATH.read_text("utf-8")),
    )


# --- the calibrated system of the main job -----------------------------------------------------
def test_calibrated_system_is_the_latest_vintage_with_fitted_parameters() -> None:
    import calibration
    from contagion.examples import calibrated_us_2025, model_params

    system = calibrated_us_2025()
    meta = system.metadata
    assert meta["calibrated"] is True and meta["vintage"] == "latest"
    from calibration.episodes import FIXED_MODEL_PARAMS

    fitted = {**calibration.fitted_params(), **FIXED_MODEL_PARAMS}
    params = model_params(system)
    assert params == {k: fitted[k] for k in params}
    assert params.keys() >= FIXED_MODEL_PARAMS.keys()
    assert {"impact_bp_per_usd_bn", "futures_pass_through_frac"} <= set(params)
    hf = system.institutions[system.institutions["type"] == "hedge_fund"]
    assert np.allclose(hf["leverage_vol_elasticity"], fitted["leverage_vol_elasticity"])
    # every model parameter it carries is a valid ModelParams value
    import contagion as c

    c.Scenario().with_params(**params)


def test_bundled_calibrated_file_is_what_the_builder_writes(tmp_path) -> None:
    import json

    import calibration

    path = calibration.write_bundled_calibrated(tmp_path / "c.json")
    shipped = json.loads(
        (STYLISED_US_2025_PATH.parent / "calibrated_us_2025.json").read_text("utf-8")
    )
    assert_documents_close(json.loads(path.read_text("utf-8")), shipped)


def test_model_params_of_an_uncalibrated_system_is_empty(stylised: System) -> None:
    from contagion.examples import model_params

    assert model_params(stylised) == {}


def test_calibrated_draw_ranges_bracket_the_estimates() -> None:
    from contagion.examples import calibrated_us_2025, model_params, model_params_uncertainty
    from contagion.scenario import ModelParams

    system = calibrated_us_2025()
    ranges = model_params_uncertainty(system)
    params = model_params(system)
    assumed = ModelParams.assumption_ranges()
    # fitted parameters: the estimate +/- 2 std errors; named assumptions: their stated range
    assert ranges and set(ranges) <= set(params) | set(assumed)
    assert set(assumed) <= set(ranges)
    fields = ModelParams.model_fields
    for name, (lo, hi, dist) in ranges.items():
        assert lo < hi and dist == "uniform"
        assert name in fields
        if name in params:
            assert lo <= params[name] <= hi, name
        else:
            assert (lo, hi, dist) == assumed[name], name
            assert lo <= ModelParams().model_dump()[name] <= hi, name  # the default inside


def test_uncalibrated_system_has_no_draw_ranges(stylised: System) -> None:
    from contagion.examples import model_params_uncertainty

    assert model_params_uncertainty(stylised) is None
