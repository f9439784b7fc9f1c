"""Descriptive views checked by hand on the toy system (arithmetic in the comments)."""

from __future__ import annotations

import pandas as pd
import pytest

from contagion import System, views


@pytest.fixture(scope="module")
def agg(toy: System) -> pd.DataFrame:
    return views.sector_aggregates(toy)


def test_sector_aggregates_by_hand(agg: pd.DataFrame) -> None:
    hf, dl = agg.loc["hedge_fund"], agg.loc["dealer"]
    assert hf["n_institutions"] == 3
    # hedge-fund repo borrowed 100 + 49 + 20 = 169
    assert hf["repo_borrowed_usd_bn"] == pytest.approx(169.0)
    # dealer repo lent 100 (to hf_alpha) + 49 (to hf_beta) = 149; borrowed 100 + 45 = 145
    assert dl["repo_lent_usd_bn"] == pytest.approx(149.0)
    assert dl["repo_borrowed_usd_bn"] == pytest.approx(145.0)
    # mmf lends 100 + 45 tri-party + 20 sponsored + 50 ON RRP = 215
    assert agg.loc["mmf", "repo_lent_usd_bn"] == pytest.approx(215.0)
    # futures short 100 (TY) + 50 (FV) = 150 = asset-manager long 100 + 50
    assert hf["futures_short_usd_bn"] == pytest.approx(150.0)
    assert agg.loc["asset_manager", "futures_long_usd_bn"] == pytest.approx(150.0)
    # IM posted by hedge funds 2 + 0.75 + 0.4 = 3.15
    assert hf["initial_margin_posted_usd_bn"] == pytest.approx(3.15)
    # hedge-fund treasuries 100 + 50 + 20 = 170; assets 103 + 51.75 + 21 = 175.75
    assert hf["treasury_par_usd_bn"] == pytest.approx(170.0)
    assert hf["assets_usd_bn"] == pytest.approx(175.75)
    # equity 3 + 2.75 + 1 = 6.75; sector leverage 175.75 / 6.75 = 26.04
    assert hf["equity_usd_bn"] == pytest.approx(6.75)
    assert hf["leverage_ratio"] == pytest.approx(175.75 / 6.75)
    # hf_gamma pays fixed 20 on the 30y (D = 16): DV01 = -20 x 16 x 1e-4 = -0.032
    assert hf["swap_pay_fixed_usd_bn"] == pytest.approx(20.0)
    assert hf["swap_dv01_usd_bn_per_bp"] == pytest.approx(-0.032)
    # the fed has zero equity: leverage undefined
    assert pd.isna(agg.loc["central_bank", "leverage_ratio"])
    assert list(agg.index) == [
        "hedge_fund", "dealer", "mmf", "asset_manager", "ccp", "central_bank", "other",
    ]  # fmt: skip


def test_institution_metrics_leverage(toy: System) -> None:
    per = views.institution_metrics(toy)
    # hf_alpha: assets 100 + 1 + 2 = 103, equity 3 -> 103 / 3
    assert per.loc["hf_alpha", "leverage_ratio"] == pytest.approx(103 / 3)
    # dealer_a: 220 / 12
    assert per.loc["dealer_a", "leverage_ratio"] == pytest.approx(220 / 12)
    assert per.loc["ccp", "liabilities_usd_bn"] == pytest.approx(6.3)
    assert per.index.name == "institution"
    assert list(per.index) == list(toy.institutions["id"])


def test_leverage_distribution_quantiles(toy: System) -> None:
    lev = views.leverage_distribution(toy)
    # sorted hedge-fund leverage: beta 51.75 / 2.75 = 18.82, gamma 21 / 1 = 21, alpha 34.33
    beta, gamma, alpha = 51.75 / 2.75, 21.0, 103 / 3
    assert lev["q50"] == pytest.approx(gamma)
    assert lev["q25"] == pytest.approx(beta + 0.5 * (gamma - beta))  # linear interpolation
    assert lev["q90"] == pytest.approx(gamma + 0.8 * (alpha - gamma))
    assert lev["mean"] == pytest.approx((alpha + beta + gamma) / 3)
    assert lev["asset_weighted"] == pytest.approx(175.75 / 6.75)
    assert list(lev.index[:5]) == ["q10", "q25", "q50", "q75", "q90"]
    assert views.leverage_distribution(toy, "dealer", quantiles=(0.5,))["q50"] == pytest.approx(
        (220 / 12 + 109 / 8) / 2
    )


def test_concentration_by_hand(toy: System) -> None:
    conc = views.concentration(toy, top=(1, 2, 5))
    # hedge-fund repo borrowed 100, 49, 20 of 169
    assert conc["top1_share_frac"] == pytest.approx(100 / 169)
    assert conc["top2_share_frac"] == pytest.approx(149 / 169)
    assert conc["top5_share_frac"] == pytest.approx(1.0)
    # HHI = (100^2 + 49^2 + 20^2) / 169^2 = 12801 / 28561
    assert conc["hhi"] == pytest.approx(12801 / 28561)
    assert (conc["n"], conc["total_usd_bn"]) == (3.0, pytest.approx(169.0))


def test_concentration_of_an_empty_metric(toy: System) -> None:
    conc = views.concentration(toy, "repo_lent_usd_bn", "hedge_fund", top=(1,))
    assert (conc["top1_share_frac"], conc["hhi"], conc["total_usd_bn"]) == (0.0, 0.0, 0.0)


def test_summary_keys(toy: System) -> None:
    s = views.summary(toy)
    assert (s["name"], s["n_institutions"], s["n_exposures"]) == ("toy_basis_trade", 11, 13)
    assert s["hedge_fund.n"] == 3
    assert s["hedge_fund.repo_borrowed_usd_bn"] == pytest.approx(169.0)
    assert s["dealer.repo_lent_usd_bn"] == pytest.approx(149.0)
    assert s["asset_manager.futures_long_usd_bn"] == pytest.approx(150.0)
    assert s["hedge_fund.leverage_median_ratio"] == pytest.approx(21.0)
    assert s["hedge_fund.leverage_asset_weighted_ratio"] == pytest.approx(175.75 / 6.75)
    assert s["hedge_fund.repo_top5_share_frac"] == pytest.approx(1.0)
    assert "hedge_fund.repo_lent_usd_bn" not in s  # zero totals are left out
    assert all(isinstance(k, str) for k in s)
