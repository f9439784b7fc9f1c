"""Tests for contagion.synthetic: determinism, validity, netting, heavy tails, scaling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contagion import System
from contagion.synthetic import (
    BUCKETS,
    FUTURES_CODES,
    FUTURES_LONG_RATIO,
    FUTURES_SHORT_RATIO,
    counts_for,
    generate_system,
    generate_tables,
    market_dict,
    stylised_us_2025_params,
    with_counts,
)
from contagion.views import concentration, institution_metrics

SMALL = {
    "n_hedge_funds": 30,
    "n_dealers": 5,
    "n_mmfs": 4,
    "n_asset_managers": 4,
    "n_other": 2,
}


@pytest.fixture(scope="module")
def small() -> System:
    return generate_system(**SMALL, seed=42)


def test_same_seed_gives_equal_systems(small: System) -> None:
    assert small.equals(generate_system(**SMALL, seed=42))
    a = generate_system(**SMALL, seed=np.random.default_rng(7))
    b = generate_system(**SMALL, seed=np.random.default_rng(7))
    assert a.equals(b)


def test_different_seeds_differ(small: System) -> None:
    other = generate_system(**SMALL, seed=43)
    assert not small.equals(other)
    assert not small.exposures.equals(other.exposures)


def test_global_rng_is_untouched() -> None:
    # The legacy global RNG on purpose: generating must not draw from it.
    np.random.seed(0)  # noqa: NPY002
    before = np.random.random()  # noqa: NPY002
    np.random.seed(0)  # noqa: NPY002
    generate_tables(**SMALL, seed=1)
    assert np.random.random() == before  # noqa: NPY002


def test_metadata_records_generator_and_seed(small: System) -> None:
    gen = small.metadata["generator"]
    assert gen["function"] == "contagion.synthetic.generate_system"
    assert gen["seed"] == 42
    assert gen["params"]["n_hedge_funds"] == 30
    assert gen["params"]["dealer_slr_range_frac"] == [0.052, 0.065]  # JSON-able (a list)


def test_balance_sheets_are_valid(small: System) -> None:
    # Construction validated collateral and outstanding; check the rest by hand.
    per = institution_metrics(small)
    not_cb = per["type"] != "central_bank"
    assert (per.loc[not_cb, "equity_usd_bn"] > 0).all()
    cs = small.compile()
    held = cs.holdings_par_usd_bn.sum(axis=0)
    assert (held <= cs.market.outstanding_usd_bn).all()
    assert (cs.repo.amount_usd_bn > 0).all()
    # Hedge funds are levered but below their cap; dealers sit just above the 5% SLR.
    hf = per[per["type"] == "hedge_fund"]
    assert (hf["leverage_ratio"] > 1).all() and (hf["leverage_ratio"] < 100).all()
    dl = per[per["type"] == "dealer"]
    slr = dl["equity_usd_bn"] / dl["assets_usd_bn"]
    assert slr.between(0.05, 0.07).all()


def test_futures_and_swaps_net_to_zero(small: System) -> None:
    cs = small.compile()
    f, s = cs.futures, cs.swaps
    net_fut = np.bincount(f.instrument, f.notional_usd_bn, minlength=len(FUTURES_CODES))
    net_swap = np.bincount(s.instrument, s.notional_usd_bn, minlength=len(BUCKETS))
    np.testing.assert_allclose(net_fut, 0.0, atol=1e-9)
    np.testing.assert_allclose(net_swap, 0.0, atol=1e-9)
    types = small.institutions["type"].to_numpy()
    assert set(types[f.target]) == {"ccp"}
    # positions by TFF category: multiples of the hedge funds' shorts per contract
    n, src = f.notional_usd_bn, types[f.source]

    def side(sector: str, sign: int) -> np.ndarray:
        mine = (src == sector) & (np.sign(n) == sign)
        return np.bincount(f.instrument[mine], np.abs(n[mine]), minlength=len(FUTURES_CODES))

    lf_short = side("hedge_fund", -1)
    assert (lf_short > 0).all()
    for sector, cat in (("hedge_fund", "lev_money"), ("dealer", "dealer")):
        np.testing.assert_allclose(side(sector, 1), FUTURES_LONG_RATIO[cat] * lf_short, atol=1e-5)
    for sector, cat in (("asset_manager", "asset_mgr"), ("dealer", "dealer")):
        np.testing.assert_allclose(side(sector, -1), FUTURES_SHORT_RATIO[cat] * lf_short, atol=1e-5)
    np.testing.assert_allclose(side("asset_manager", 1), FUTURES_LONG_RATIO["asset_mgr"] * lf_short,
                               atol=1e-4)  # fmt: skip
    np.testing.assert_allclose(side("other", 1), (FUTURES_LONG_RATIO["other_rept"]
                               + FUTURES_LONG_RATIO["nonrept"]) * lf_short, atol=1e-5)  # fmt: skip
    # Open interest in the market is the long notional per contract.
    oi = np.array([c.open_interest_usd_bn for c in small.market.futures])
    longs = np.bincount(f.instrument, np.clip(f.notional_usd_bn, 0, None), minlength=len(oi))
    np.testing.assert_allclose(oi, longs, atol=1e-5)


def test_basis_hedge_and_margin_follow_the_market(small: System) -> None:
    cs = small.compile()
    m = cs.market
    basis = m.price[m.futures_bucket] - m.conversion_factor * m.futures_price
    assert ((basis > 0) & (basis < 0.5)).all()  # a few price ticks, cash cheap to futures
    f = cs.futures
    np.testing.assert_allclose(
        f.initial_margin_usd_bn,
        np.abs(f.notional_usd_bn) * m.initial_margin_frac[f.instrument],
        atol=1e-6,
    )
    assert (m.swap_rate_pct < m.yield_pct).all()  # negative swap spreads


def test_repo_segments_and_on_rrp(small: System) -> None:
    exp = small.exposures
    repo = exp[exp["kind"] == "repo"]
    assert set(repo["segment"]) == {"bilateral", "sponsored", "triparty", "central_bank"}
    onrrp = repo[repo["segment"] == "central_bank"]
    assert (onrrp["target"] == "fed").all()
    assert (onrrp["rate_pct"] == small.market.on_rrp_rate_pct).all()
    hf_repo = repo[repo["target"].str.startswith("hf-")]
    assert (hf_repo["haircut_frac"] == 0).mean() > 0.5
    assert hf_repo["haircut_frac"].max() <= 0.03


def test_heavy_tail_concentrates_repo() -> None:
    kw = {**SMALL, "n_hedge_funds": 200}
    heavy = concentration(generate_system(**kw, size_tail_alpha=1.2, seed=5), top=(10,))
    light = concentration(generate_system(**kw, size_tail_alpha=8.0, seed=5), top=(10,))
    uniform = 10 / 200
    assert heavy["top10_share_frac"] > 3 * uniform
    assert heavy["top10_share_frac"] > light["top10_share_frac"]


def test_sector_totals_do_not_depend_on_the_draw() -> None:
    a = institution_metrics(generate_system(**SMALL, seed=1))
    b = institution_metrics(generate_system(**SMALL, seed=2))
    for per in (a, b):
        total = per.loc[per["type"] == "hedge_fund", "treasury_par_usd_bn"].sum()
        assert total == pytest.approx(30 * 21.5, rel=1e-6)


def test_counts_scale() -> None:
    s1 = generate_system(**SMALL, seed=0)
    s2 = generate_system(**{k: 2 * v for k, v in SMALL.items()}, seed=0)
    # + the futures and swap CCPs, the central bank and FICC (sponsored repo)
    assert s1.n_institutions == sum(SMALL.values()) + 4
    assert s2.n_institutions == 2 * sum(SMALL.values()) + 4
    assert 1.6 < s2.n_exposures / s1.n_exposures < 2.4
    more = generate_system(**SMALL, exposures_per_fund=12, seed=0)
    hf_repo = [
        (s.exposures["kind"] == "repo") & s.exposures["target"].str.startswith("hf-")
        for s in (s1, more)
    ]
    assert hf_repo[0].sum() == 30 * 4  # one lender per bucket
    assert hf_repo[1].sum() == 30 * 8  # two lenders per bucket
    counts = counts_for(1000)
    assert sum(counts.values()) + 4 == 1000


def test_stylised_market_split_among_more_institutions_keeps_sector_totals() -> None:
    # generate_tables normalises each sector's drawn weights, so a sector's Treasury par
    # is count x mean exactly (to the 1e-6 rounding of each amount): 100 funds x 21.5 =
    # 2,150 USD bn, 25 dealers x 14 = 350, 5 others x 1,400 = 7,000. Splitting among
    # counts_for(600) (300 funds, 30 dealers, ...) with means scaled by old / new count
    # must give the same totals and the same market (open interest is a sum of
    # rounded positions, so equal to rounding).
    base = generate_system(**stylised_us_2025_params())
    split = generate_system(**stylised_us_2025_params(600))
    assert split.n_institutions == 600
    assert split.name == "stylised_us_2025_x600"
    cols = ["treasury_par_usd_bn", "futures_short_usd_bn", "swap_pay_fixed_usd_bn"]
    totals = [institution_metrics(s).groupby("type")[cols].sum() for s in (base, split)]
    pd.testing.assert_frame_equal(totals[0], totals[1], rtol=1e-6)
    assert totals[1].loc["hedge_fund", "treasury_par_usd_bn"] == pytest.approx(2150.0)
    assert totals[1].loc["other", "treasury_par_usd_bn"] == pytest.approx(7000.0)
    assert split.market.buckets == base.market.buckets  # same outstanding, yields, prices
    open_interest = [[f.open_interest_usd_bn for f in s.market.futures] for s in (base, split)]
    np.testing.assert_allclose(open_interest[1], open_interest[0], rtol=1e-6)  # sums of rounded


def test_with_counts_scales_means_and_rejects_unknown_counts() -> None:
    p = with_counts({"n_dealers": 10, "dealer_total_assets_mean_usd_bn": 300.0}, {"n_dealers": 40})
    assert p["n_dealers"] == 40
    assert p["dealer_total_assets_mean_usd_bn"] == pytest.approx(75.0)  # 10 x 300 / 40
    empty = with_counts({"n_other": 0, "other_holdings_mean_par_usd_bn": 9.0}, {"n_other": 3})
    assert empty["other_holdings_mean_par_usd_bn"] == 9.0  # no total to keep: means stay
    with pytest.raises(ValueError, match="unknown sector count 'n_ccps'"):
        with_counts({}, {"n_ccps": 3})


@pytest.mark.parametrize(
    "override",
    [
        {"n_hedge_funds": 0},
        {"n_dealers": 0},
        {"n_mmfs": 0},
        {"n_other": 0},
        {"n_dealers": 1},
        {"n_hedge_funds": 1, "n_dealers": 1, "n_mmfs": 1, "n_asset_managers": 1},
        {"n_hedge_funds": 0, "n_dealers": 0, "n_mmfs": 0, "n_asset_managers": 0, "n_other": 0},
        {"swap_spread_share": 0.0, "basis_share": 1.0},
    ],
)
def test_edge_cases_build_valid_systems(override: dict) -> None:
    s = generate_system(**{**SMALL, **override}, seed=3)
    sponsored = (s.exposures["segment"] == "sponsored").any()  # then FICC is the last row
    assert sponsored == (s.institutions["id"].iloc[-1] == "ccp_ficc")
    fixed = 3 + int(sponsored)  # two CCPs and the central bank, FICC with sponsored repo
    assert s.n_institutions == sum({**SMALL, **override}.get(k, 0) for k in SMALL) + fixed
    if override.get("n_hedge_funds", 1) == 0:
        assert (s.exposures["kind"] != "futures").all()
    if override.get("n_dealers") == 0:
        hf_repo = s.exposures[s.exposures["target"].str.startswith("hf-")]
        assert (hf_repo["segment"] == "sponsored").all()


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"n_asset_managers": 0}, "asset managers"),
        ({"n_dealers": 0, "n_mmfs": 0}, "repo lenders"),
        ({"n_hedge_funds": -1}, "non-negative"),
        ({"n_dealers": 2.5}, "non-negative integer"),
        ({"basis_share": 0.9, "swap_spread_share": 0.2}, "<= 1"),
        ({"sponsored_share": 1.5}, r"\[0, 1\]"),
        ({"exposures_per_fund": 0}, "exposures_per_fund"),
    ],
)
def test_bad_arguments_raise_clear_errors(override: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        generate_tables(**{**SMALL, **override}, seed=0)


def test_tables_are_plain_frames_and_market_is_valid() -> None:
    inst, exp, market = generate_tables(**SMALL, seed=0)
    assert isinstance(inst, pd.DataFrame) and isinstance(exp, pd.DataFrame)
    assert "equity_usd_bn" not in inst.columns  # derived by System
    assert exp["id"].is_unique and inst["id"].is_unique
    assert [b["name"] for b in market["buckets"]] == list(BUCKETS)
    base = market_dict()
    assert all(
        b["outstanding_usd_bn"] >= b0["outstanding_usd_bn"]
        for b, b0 in zip(market["buckets"], base["buckets"], strict=True)
    )
    System(inst, exp, market)  # the tables validate as they are
