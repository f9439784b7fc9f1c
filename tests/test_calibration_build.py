"""The granular system built from a snapshot: aggregates, determinism, capacity."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from calibration.build import (
    TRIPARTY_TREASURY_SHARE,
    build_system,
    build_tables,
    build_targets,
    measure_aggregates,
    network_checks,
    with_dealer_capacity,
)
from calibration.snapshot import load_snapshot

VINTAGES = ["2020-02", "2025-03", "latest"]
N_HF = 100  # small builds keep the tests fast; aggregates do not depend on the count
# Tolerances: amounts are rounded to 1e-6 USD bn per exposure (a few thousand exposures),
# so USD-bn totals match within 1e-3; shares are exact up to the bisection (1e-6).
ABS_USD_BN = 1e-3
ABS_SHARE = 1e-5


@pytest.fixture(scope="module", params=VINTAGES)
def built(request):
    v = request.param
    system = build_system(v, seed=3, n_hedge_funds=N_HF)
    return v, system, measure_aggregates(system), build_targets(v)


def test_aggregates_match_snapshot(built):
    _v, _system, got, want = built
    for key in ("hf_holdings", "hf_repo", "hf_sponsored_repo", "swap_notional", "triparty",
                "dealer_inventory", "dealer_capacity", "mmf_assets", "govt_mmf_assets",
                "on_rrp", "fed_total_assets"):  # fmt: skip
        assert got[key] == pytest.approx(want[key], abs=ABS_USD_BN), key
    for key in ("hf_zero_haircut_share", "top50_gross_share", "top50_repo_share"):
        assert got[key] == pytest.approx(want[key], abs=ABS_SHARE), key
    # the 50 largest funds run at the Form PF gross-to-net leverage (GAV / NAV) in all
    assert got["hf_top50_gav_nav"] == pytest.approx(want["hf_gav_nav"], abs=1e-3)
    for key in ("lf_short", "am_long", "open_interest", "outstanding"):
        np.testing.assert_allclose(got[key], want[key], atol=ABS_USD_BN, err_msg=key)
    np.testing.assert_allclose(got["futures_net"], 0.0, atol=ABS_USD_BN)
    assert got["n_dealers"] == want["n_dealers"]
    assert got["n_hedge_funds"] == N_HF
    assert np.all(got["held_share"] <= 1.0)


def test_snapshot_values_are_used_directly(built):
    v, _, _got, want = built
    snap = load_snapshot(v)
    # maturity-matched RV pairs are flat within a bucket: netted where the row exists
    matched = snap.value("hf_maturity_matched_rv_usd_bn") if v == "latest" else 0.0
    assert want["hf_holdings"] == snap.value("hf_ust_holdings_usd_bn") - matched
    assert want["hf_matched_rv_netted"] == matched
    # the model's tri-party repo is the Treasury share of the all-collateral volume
    gcf = "triparty_gcf_repo_usd_bn"
    tri = snap.value("triparty_noncleared_repo_usd_bn") + (
        snap.value(gcf) if gcf in set(snap.table["quantity"]) else 0.0
    )
    assert want["triparty"] == pytest.approx(TRIPARTY_TREASURY_SHARE * tri)
    assert want["top50_repo_share"] == snap.value("top50_share_repo_frac")
    # modelled repo is Treasury-collateralised: Form PF repo capped by collateral
    assert want["hf_repo"] <= snap.value("hf_repo_borrowing_usd_bn")


def test_market_from_snapshot(built):
    _v, system, _, want = built
    m = system.market
    assert m.volatility_index == want["move"]
    assert [b.yield_pct for b in m.buckets] == list(want["yield_pct"])
    assert [f.initial_margin_frac for f in m.futures] == list(want["im_frac"])
    assert m.repo_rate_pct == want["repo_rate_pct"]


def test_leverage_distribution_is_heavy_tailed(built):
    _, system, got, _ = built
    # top funds run far more repo leverage than the median fund (published: up to 50x)
    assert got["hf_repo_leverage_top50_median"] > 1.5 * got["hf_repo_leverage_median"]
    assert 5.0 < got["hf_repo_leverage_top50_median"] < 100.0
    inst = system.institutions
    assert (inst.loc[inst["type"] != "central_bank", "equity_usd_bn"] >= -1e-6).all()


def test_deterministic_per_seed():
    a = build_tables("2020-02", seed=7, n_hedge_funds=N_HF)
    b = build_tables("2020-02", seed=7, n_hedge_funds=N_HF)
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    assert a[2] == b[2]
    c = build_tables("2020-02", seed=8, n_hedge_funds=N_HF)
    assert not a[0]["cash_usd_bn"].equals(c[0]["cash_usd_bn"])
    s1 = build_system("2020-02", seed=8, n_hedge_funds=N_HF)
    s2 = build_system("2020-02", seed=7, n_hedge_funds=N_HF)
    assert measure_aggregates(s1)["hf_repo"] == pytest.approx(measure_aggregates(s2)["hf_repo"])


def test_with_dealer_capacity():
    s = build_system("2020-02", seed=1, n_hedge_funds=N_HF)
    s2 = with_dealer_capacity(s, 222.0)
    assert measure_aggregates(s2)["dealer_capacity"] == pytest.approx(222.0, abs=1e-6)
    np.testing.assert_allclose(s2.institutions["equity_usd_bn"], s.institutions["equity_usd_bn"])
    s3 = with_dealer_capacity(s2, 100.0, derivation="by hand")
    assert s3.metadata["dealer_capacity_derivation"] == "by hand"
    # a later rescaling without a derivation must not keep the stale one
    assert "dealer_capacity_derivation" not in with_dealer_capacity(s3, 90.0).metadata


def test_needs_enough_funds():
    with pytest.raises(ValueError, match="n_hedge_funds"):
        build_tables("2020-02", n_hedge_funds=10)


def test_futures_positions_are_the_tff_categories(built):
    """Every futures position is a TFF category's: dealers hold exactly the dealer
    category (no residual), and per contract the longs equal the shorts and the market's
    open interest."""
    _v, system, got, want = built
    by_cat = got["futures_by_category"]
    for cat in ("lev_money", "asset_mgr", "dealer", "other_rept", "nonrept"):
        for side in ("long", "short"):
            np.testing.assert_allclose(by_cat[f"{cat}_{side}"], want[f"futures_{side}"][cat],
                                       atol=ABS_USD_BN, err_msg=f"{cat} {side}")  # fmt: skip
    longs = sum(by_cat[f"{c}_long"] for c in want["futures_long"])
    shorts = sum(by_cat[f"{c}_short"] for c in want["futures_short"])
    np.testing.assert_allclose(longs, shorts, atol=ABS_USD_BN)
    oi = np.array([f.open_interest_usd_bn for f in system.market.futures])
    np.testing.assert_allclose(longs, oi, atol=ABS_USD_BN)
    exp = system.exposures
    fut = exp[exp["kind"] == "futures"]
    types = system.institutions.set_index("id")["type"]
    dealer = fut[fut["source"].map(types) == "dealer"]
    # a dealer is one trader: net long or net short a contract, never both
    sides = np.sign(dealer["notional_usd_bn"]).groupby(
        [dealer["source"], dealer["futures_contract"]]).nunique()  # fmt: skip
    assert (sides == 1).all()


def test_futures_rows_that_do_not_add_up_are_rejected():
    snap = load_snapshot("2020-02")
    table = snap.table.copy()
    row = table["quantity"] == "futures_dealer_short_10y_usd_bn"
    table.loc[row, "value"] += 5.0
    bad = dataclasses.replace(snap, table=table)
    with pytest.raises(ValueError, match=r"do not add up.*10y \-5\.0000"):
        build_targets(bad)
    with pytest.raises(ValueError, match="futures_dealer_long_2y_usd_bn"):
        build_targets(
            dataclasses.replace(
                snap, table=table[table["quantity"] != "futures_dealer_long_2y_usd_bn"]
            )
        )


def test_hedge_funds_are_strategy_books(built):
    """A fund is one institution per strategy book, sharing its fund_id; each book carries
    its strategy's instruments and its own repo, cash and positive equity."""
    _v, system, got, want = built
    inst, exp = system.institutions, system.exposures
    hf = inst[inst["type"] == "hedge_fund"].set_index("id")
    assert got["n_hedge_funds"] == N_HF < got["n_hedge_fund_books"] == len(hf)
    assert set(hf["strategy"]) == {"basis", "swap_spread", "relative_value", "directional"}
    assert (hf.index.str.rsplit("-", n=1).str[0] == hf["fund_id"]).all()
    assert (hf.groupby("fund_id")["strategy"].nunique() == hf.groupby("fund_id").size()).all()
    assert (hf["equity_usd_bn"] > 0).all()
    par = hf[[f"ust_{b}_par_usd_bn" for b in ("2y", "5y", "10y", "30y")]].sum(axis=1)
    books = exp[exp["source"].isin(hf.index) | exp["target"].isin(hf.index)]
    kinds = (
        books.assign(
            book=np.where(books["kind"] == "repo", books["target"], books["source"]),
            sign=np.sign(books["notional_usd_bn"].fillna(0.0)),
        )
        .groupby("book")[["kind", "sign"]]
        .agg(lambda x: set(x))
    )
    strat = hf["strategy"]
    for book, rec in kinds.iterrows():
        if strat[book] == "basis":
            assert rec["kind"] >= {"futures", "repo"} and "swap" not in rec["kind"]
            assert par[book] > 0
        elif strat[book] == "swap_spread":
            assert rec["kind"] >= {"swap"} and "futures" not in rec["kind"]
        elif strat[book] == "directional":
            assert rec["kind"] == {"futures"} and rec["sign"] == {1.0}
            assert par[book] == 0
    # basis books hold the basis trade, swap-spread books the swap notional
    assert par[strat == "basis"].sum() == pytest.approx(want["basis_par"], abs=ABS_USD_BN)
    assert par[strat == "swap_spread"].sum() == pytest.approx(want["swap_notional"],
                                                               abs=ABS_USD_BN)  # fmt: skip


def test_triparty_target_beyond_dealer_collateral_fails_loudly():
    """The builder hits the tri-party target or says why not; it never caps it silently."""
    snap = load_snapshot("2020-02")
    table = snap.table.copy()
    table.loc[table["quantity"] == "triparty_noncleared_repo_usd_bn", "value"] = 20_000.0
    bad = dataclasses.replace(snap, table=table)
    with pytest.raises(ValueError, match=r"Treasury tri-party repo .* exceeds what dealers"):
        build_tables(bad, n_hedge_funds=N_HF)


def test_network_checks_hit_what_is_built_to_and_report_the_rest():
    """Built-to rows equal their targets; the CFTC concentration rows are reported, within
    a factor of two of the data on both vintages (2020-02 TY: built 0.28, CFTC 0.255)."""
    checks = network_checks(("2020-02",))
    built_to = checks[checks["kind"] == "built to"]
    assert len(built_to) == 2
    for r in built_to.itertuples():
        assert r.built == pytest.approx(float(r.data), abs=0.05), r.check
    conc = checks[checks["kind"] == "not built to"]
    assert set(conc["check"].str[-2:]) == {"TU", "FV", "TY", "US"}
    for r in conc.itertuples():
        data = [float(x.split()[1]) for x in r.data.split(" / ")]
        assert 0.5 * min(data) <= r.built <= 2.0 * max(data), (r.check, r.built, r.data)
