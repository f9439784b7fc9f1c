"""The recorder's frames on the toy system under the bundled stress (``basis_unwind``).

Column names follow the conventions of :mod:`contagion.recorder`; the checks tie the frames
to each other (flows vs sales vs holdings, events vs the institutions frame vs the summary)
and day 0 to the system's initial market.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import contagion as c
from contagion.schema import INSTITUTION_TYPES
from contagion.state import PNL_CHANNELS

SALE_EVENTS = {
    "forced_sale": "forced_sales",
    "voluntary_sale": "voluntary_sales",
    "liquidation_sale": "liquidation_sales",
    "exogenous_sale": "exogenous_sales",
    "distribution_sale": "distributed_sales",
}
BUCKET_COLUMNS = (
    "yield_{}_pct",
    "yield_change_{}_bp",
    "price_{}",
    "impact_{}_bp",
    "swap_rate_{}_pct",
    "swap_spread_{}_bp",
    "swap_spread_change_{}_bp",
)
CONTRACT_COLUMNS = (
    "futures_price_{}",
    "futures_impact_{}_bp",
    "basis_{}_pts",
    "basis_{}_bp",
    "basis_widening_{}_bp",
)
MARKET_COLUMNS = (
    "repo_rate_pct",
    "volatility_index",
    "realised_volatility_index",
    "im_multiplier",
    "dealer_utilisation_frac",
    "hedge_fund_haircut_frac",
    "cb_reserves_created_usd_bn",
    "iterations",
    "iteration_bound_hit",
)
INSTITUTION_COLUMNS = (
    "day",
    "institution",
    "type",
    "equity_usd_bn",
    "cash_usd_bn",
    "assets_usd_bn",
    "leverage_ratio",
    "treasury_value_usd_bn",
    "repo_borrowed_usd_bn",
    "im_posted_usd_bn",
    "sales_usd_bn",
    "defaulted",
)
TOY_EQUITY = c.examples.TOY_EQUITY_USD_BN  # the toy's stated equity (its docstring)


@pytest.fixture(scope="module")
def system() -> c.System:
    return c.examples.toy_basis_trade()


@pytest.fixture(scope="module", params=["bundled", "fragile"])
def scenario(request) -> c.Scenario:
    """``basis_unwind`` as bundled, and with stronger price impact so that funds default."""
    sc = c.scenarios.load("basis_unwind")
    return sc if request.param == "bundled" else sc.with_params(impact_bp_per_usd_bn=0.3)


@pytest.fixture(scope="module")
def res(system, scenario) -> c.Result:
    return c.simulate(system, scenario)


def text(col: pd.Series) -> pd.Series:
    """A label column as plain strings (whether stored as str or categorical)."""
    return col.astype(str)


def inst_at(res: c.Result, day: int) -> pd.DataFrame:
    i = res.institutions
    return (
        i[i["day"] == day]
        .assign(institution=lambda f: text(f["institution"]))
        .set_index("institution")
    )


# --- markets -----------------------------------------------------------------------------------
def test_markets_has_the_documented_columns(res, system, scenario):
    m = res.markets
    mk = system.market
    want = [f.format(b) for b in mk.bucket_names for f in BUCKET_COLUMNS]
    want += [f.format(k) for k in mk.futures_codes for f in CONTRACT_COLUMNS]
    want += MARKET_COLUMNS
    assert set(want) <= set(m.columns), sorted(set(want) - set(m.columns))
    assert m.index.name == "day"
    assert m.index.tolist() == list(range(scenario.days + 1))
    assert m["iteration_bound_hit"].dtype == bool


def test_day_zero_is_the_initial_market(res, system):
    m0 = res.markets.loc[0]
    mk = system.market
    for b in mk.buckets:
        assert m0[f"yield_{b.name}_pct"] == b.yield_pct
        assert m0[f"yield_change_{b.name}_bp"] == 0.0
        assert m0[f"price_{b.name}"] == b.price
        assert m0[f"impact_{b.name}_bp"] == 0.0
        swap = mk.swap_rates_pct.get(b.name, b.yield_pct)
        assert m0[f"swap_rate_{b.name}_pct"] == swap
        assert m0[f"swap_spread_{b.name}_bp"] == pytest.approx((swap - b.yield_pct) * 100)
        assert m0[f"swap_spread_change_{b.name}_bp"] == 0.0
    dur = {b.name: b.modified_duration_years for b in mk.buckets}
    for f in mk.futures:
        assert m0[f"futures_price_{f.code}"] == f.price
        assert m0[f"futures_impact_{f.code}_bp"] == 0.0
        # toy: basis = 100 - 1 x 99.9 = 0.1 points; in bp 0.1 / (D x 100 x 1e-4)
        assert m0[f"basis_{f.code}_pts"] == pytest.approx(0.1, abs=1e-12)
        assert m0[f"basis_{f.code}_bp"] == pytest.approx(0.1 / (dur[f.bucket] * 100 * 1e-4))
        assert m0[f"basis_widening_{f.code}_bp"] == 0.0
    assert m0["repo_rate_pct"] == mk.repo_rate_pct
    assert m0["volatility_index"] == mk.volatility_index
    assert m0["im_multiplier"] == 1.0
    assert m0["dealer_utilisation_frac"] == 0.0
    assert m0["cb_reserves_created_usd_bn"] == 0.0
    assert m0["iterations"] == 0
    assert not m0["iteration_bound_hit"]


def test_market_columns_follow_the_documented_conventions(res, system):
    m = res.markets
    mk = system.market
    buckets = {b.name: b for b in mk.buckets}
    for b in mk.buckets:
        y = m[f"yield_{b.name}_pct"]
        np.testing.assert_allclose(m[f"yield_change_{b.name}_bp"], (y - b.yield_pct) * 100)
        spread = (m[f"swap_rate_{b.name}_pct"] - y) * 100
        np.testing.assert_allclose(m[f"swap_spread_{b.name}_bp"], spread, atol=1e-9)
        np.testing.assert_allclose(
            m[f"swap_spread_change_{b.name}_bp"], spread - spread.iloc[0], atol=1e-9
        )
    for f in mk.futures:
        b = buckets[f.bucket]
        p, fut = m[f"price_{f.bucket}"], m[f"futures_price_{f.code}"]
        pts = p - f.conversion_factor * fut
        np.testing.assert_allclose(m[f"basis_{f.code}_pts"], pts, atol=1e-12)
        # widening: cash impact minus futures impact (yield space); level: initial minus it
        widening = m[f"impact_{f.bucket}_bp"] - m[f"futures_impact_{f.code}_bp"]
        np.testing.assert_allclose(m[f"basis_widening_{f.code}_bp"], widening, atol=1e-9)
        bp0 = pts.iloc[0] / (b.modified_duration_years * p.iloc[0] * 1e-4)
        np.testing.assert_allclose(m[f"basis_{f.code}_bp"], bp0 - widening, atol=1e-9)
        # to first order it agrees with the price-based conversion (small widenings)
        bp = pts / (b.modified_duration_years * p * 1e-4)
        small = widening.abs() < 20
        np.testing.assert_allclose(m.loc[small, f"basis_{f.code}_bp"], bp[small], atol=1.0)


def test_volatility_follows_the_scenario(res, system, scenario):
    vol = res.markets["volatility_index"].iloc[1:].to_numpy()
    want = system.market.volatility_index * scenario.path("volatility_multiplier")
    np.testing.assert_allclose(vol, want, rtol=1e-12)


# --- institutions ---------------------------------------------------------------------------
def test_institutions_one_row_per_day_and_institution(res, system, scenario):
    inst = res.institutions
    assert set(INSTITUTION_COLUMNS) <= set(inst.columns)
    assert len(inst) == (scenario.days + 1) * system.n_institutions
    assert not inst.duplicated(["day", "institution"]).any()
    ids = sorted(system.institutions["id"])
    for _, day in inst.groupby("day"):
        assert sorted(text(day["institution"])) == ids
    assert inst["defaulted"].dtype == bool
    assert set(text(inst["type"])) <= set(INSTITUTION_TYPES)


def test_day_zero_balance_sheets_are_the_toys(res):
    d0 = inst_at(res, 0)
    for who, equity in TOY_EQUITY.items():
        assert d0.loc[who, "equity_usd_bn"] == pytest.approx(equity, abs=1e-9), who
    hf = d0.loc["hf_alpha"]
    # 100 par of 10y at 100 + 1 cash + 2 IM = 103; repo 100; leverage 103 / 3
    assert hf["assets_usd_bn"] == pytest.approx(103.0)
    assert hf["leverage_ratio"] == pytest.approx(103 / 3)
    assert hf["treasury_value_usd_bn"] == pytest.approx(100.0)
    assert hf["repo_borrowed_usd_bn"] == pytest.approx(100.0)
    assert hf["im_posted_usd_bn"] == pytest.approx(2.0)
    assert (d0["sales_usd_bn"] == 0).all()
    assert not d0["defaulted"].any()
    assert np.isnan(d0.loc["fed", "leverage_ratio"])  # zero equity: no leverage ratio


def test_defaulted_flag_is_absorbing(res):
    inst = res.institutions.assign(institution=lambda f: text(f["institution"]))
    for _, rows in inst.sort_values("day").groupby("institution"):
        flags = rows["defaulted"].to_numpy()
        assert (np.diff(flags.astype(int)) >= 0).all()


# --- events -----------------------------------------------------------------------------------
def test_events_columns_and_kinds(res):
    ev = res.events
    assert {"day", "institution", "type", "event", "amount_usd_bn", "cause"} <= set(ev.columns)
    known = {
        "variation_margin_call",
        "initial_margin_call",
        "repo_margin_call",
        "repo_not_rolled",
        "redemption",
        "default",
        *SALE_EVENTS,
    }
    assert set(text(ev["event"])) <= known
    assert (ev["day"] >= 1).all()
    assert (ev["amount_usd_bn"] > 0).all()


def test_defaults_have_a_cause_and_match_the_flag(res):
    ev = res.events.assign(
        event=lambda f: text(f["event"]), institution=lambda f: text(f["institution"])
    )
    dfl = ev[ev["event"] == "default"]
    assert (text(ev.loc[ev["event"] != "default", "cause"]) == "").all()
    assert set(text(dfl["cause"])) <= {"insolvency", "liquidity", "clearing"}
    assert not dfl["institution"].duplicated().any()  # one default per institution
    last = inst_at(res, int(res.institutions["day"].max()))
    assert set(dfl["institution"]) == set(last.index[last["defaulted"]])
    for _, e in dfl.iterrows():
        before, on = inst_at(res, e["day"] - 1), inst_at(res, e["day"])
        assert not before.loc[e["institution"], "defaulted"]
        assert on.loc[e["institution"], "defaulted"]
    assert res.summary["defaults_count"] == len(dfl)


def test_the_fragile_stress_makes_defaults_on_the_toy(system):
    # with 0.3 bp per USD bn of impact, hf_alpha (leverage 34, zero haircut) goes under,
    # so the default checks above are exercised
    sc = c.scenarios.load("basis_unwind").with_params(impact_bp_per_usd_bn=0.3)
    ev = c.simulate(system, sc).events
    dfl = ev[text(ev["event"]) == "default"]
    assert "hf_alpha" in set(text(dfl["institution"]))
    assert (text(dfl["cause"]) != "").all()


def test_sale_events_match_institutions_and_summary(res):
    ev = res.events.assign(
        event=lambda f: text(f["event"]), institution=lambda f: text(f["institution"])
    )
    sales = ev[ev["event"].isin(list(SALE_EVENTS))]
    per = sales.groupby(["day", "institution"])["amount_usd_bn"].sum()
    inst = res.institutions.assign(institution=lambda f: text(f["institution"]))
    inst = inst[inst["day"] > 0].set_index(["day", "institution"])["sales_usd_bn"]
    # events drop amounts below 1e-9; everything else is the same numbers
    joined = pd.concat([per.rename("events"), inst.rename("frame")], axis=1).fillna(0.0)
    np.testing.assert_allclose(joined["events"], joined["frame"], rtol=1e-12, atol=4e-9)
    for event, kind in SALE_EVENTS.items():
        total = sales.loc[sales["event"] == event, "amount_usd_bn"].sum()
        assert total == pytest.approx(res.summary[f"{kind}_total_usd_bn"], rel=1e-12, abs=1e-8)
    assert res.summary["fire_sale_volume_usd_bn"] == pytest.approx(
        res.summary["forced_sales_total_usd_bn"] + res.summary["liquidation_sales_total_usd_bn"]
    )


# --- flows -----------------------------------------------------------------------------------
def test_flows_columns(res, system):
    fl = res.flows
    assert {"day", "seller", "seller_type", "bucket", "buyer", "par_usd_bn"} <= set(fl.columns)
    assert not fl.empty
    assert set(text(fl["buyer"])) <= {"dealers", "outside", "policy"}
    assert set(text(fl["bucket"])) <= set(system.market.bucket_names)
    assert (fl["par_usd_bn"] > 0).all()


def test_flows_sellers_are_the_institutions_with_sale_events(res):
    fl = res.flows.assign(seller=lambda f: text(f["seller"]))
    ev = res.events.assign(
        event=lambda f: text(f["event"]), institution=lambda f: text(f["institution"])
    )
    sold = ev[ev["event"].isin(list(SALE_EVENTS))]
    with_events = set(zip(sold["day"], sold["institution"], strict=True))
    par = fl.groupby(["day", "seller"], observed=True)["par_usd_bn"].sum()
    for key in par[par > 1e-6].index:
        assert key in with_events, key
    value = sold.groupby(["day", "institution"])["amount_usd_bn"].sum()
    for key in value[value > 1e-6].index:
        assert key in par.index, key


def test_holdings_of_pure_sellers_fall_by_their_flows(res, system):
    # The foreign official holder and the asset manager only ever sell (they lend no repo,
    # so never seize collateral, and never buy): their par per bucket is the initial par
    # minus the cumulative par of their flows, and their Treasury value each day is that
    # par at the day's prices.
    hold = system.institutions.set_index("id")
    buckets = system.market.bucket_names
    fl = res.flows.assign(seller=lambda f: text(f["seller"]), bucket=lambda f: text(f["bucket"]))
    for who in ("foreign_official", "am_pension"):
        par0 = np.array([hold.loc[who].get(f"ust_{b}_par_usd_bn", 0.0) for b in buckets])
        mine = fl[fl["seller"] == who]
        for day in res.markets.index:
            sold = mine[mine["day"] <= day].groupby("bucket")["par_usd_bn"].sum()
            par = par0 - sold.reindex(buckets, fill_value=0.0).to_numpy()
            prices = res.markets.loc[day, [f"price_{b}" for b in buckets]].to_numpy(float)
            value = inst_at(res, day).loc[who, "treasury_value_usd_bn"]
            assert value == pytest.approx(par @ prices / 100, rel=1e-12, abs=1e-9), (who, day)
    # and they did sell under the stress
    assert set(fl["seller"]) >= {"foreign_official", "am_pension"}


def test_flows_split_each_sale_across_buyers(res):
    # With no policies, dealers and outside investors buy all that is sold: per day and
    # bucket, every seller's par is split with the same buyer shares.
    fl = res.flows.assign(
        seller=lambda f: text(f["seller"]),
        bucket=lambda f: text(f["bucket"]),
        buyer=lambda f: text(f["buyer"]),
    )
    assert (fl["buyer"] != "policy").all()
    tab = fl.pivot_table(
        index=["day", "bucket", "seller"], columns="buyer", values="par_usd_bn", aggfunc="sum"
    ).fillna(0.0)
    total = tab.sum(axis=1)
    for (_day, _bucket), grp in tab.groupby(level=[0, 1]):
        shares = grp.div(total.loc[grp.index], axis=0)
        big = total.loc[grp.index] > 1e-6
        np.testing.assert_allclose(
            shares[big].to_numpy(),
            np.broadcast_to(shares[big].iloc[0], shares[big].shape),
            rtol=1e-9,
            atol=1e-9,
        )


def test_exogenous_sales_flow_as_par_at_the_planning_price(res, scenario, system):
    # The foreign official holder (type 'other') only sells what the scenario tells it to.
    # On day 1 the sales are planned at the price after the fundamental shock, before any
    # impact: par = value / (P / 100) with P = P0 (1 - D dy + C dy^2 / 2).
    from contagion.mechanisms.prices import price_from_yield

    fl = res.flows.assign(seller=lambda f: text(f["seller"]), bucket=lambda f: text(f["bucket"]))
    day1 = fl[(fl["day"] == 1) & (fl["seller"] == "foreign_official")]
    par = day1.groupby("bucket")["par_usd_bn"].sum()
    buckets = {b.name: b for b in system.market.buckets}
    for name, path in scenario.exogenous_sales_usd_bn.items():
        b = buckets[name]
        dy = scenario.rate_shock_bp.get(name, [0.0])[0]
        price = price_from_yield(b.price, b.modified_duration_years, b.convexity_years2, dy)
        assert par[name] == pytest.approx(path[0] / (price / 100), rel=1e-12), name
    ev = res.events.assign(
        event=lambda f: text(f["event"]), institution=lambda f: text(f["institution"])
    )
    exo = ev[(ev["event"] == "exogenous_sale") & (ev["day"] == 1)]
    assert set(exo["institution"]) == {"foreign_official"}
    want = sum(p[0] for p in scenario.exogenous_sales_usd_bn.values() if p)
    assert exo["amount_usd_bn"].sum() == pytest.approx(want, rel=1e-12)


# --- summary ---------------------------------------------------------------------------------
def test_summary_has_the_documented_keys(res, system):
    sm = res.summary
    mk = system.market
    keys = [
        "peak_repo_rate_pct",
        "dealer_peak_utilisation_frac",
        "fire_sale_volume_usd_bn",
        "defaults_count",
        "defaults_assets_usd_bn",
        "equity_loss_total_usd_bn",
        "loss_outside_system_usd_bn",
        "cb_reserves_created_usd_bn",
        "iterations_max",
        "iteration_bound_hit_days",
    ]
    for b in mk.bucket_names:
        keys += [
            f"peak_yield_change_{b}_bp",
            f"end_yield_change_{b}_bp",
            f"peak_swap_spread_change_{b}_bp",
        ]
    keys += [f"peak_basis_widening_{k}_bp" for k in mk.futures_codes]
    keys += [f"{kind}_total_usd_bn" for kind in SALE_EVENTS.values()]
    keys += [f"defaults_{t}_count" for t in INSTITUTION_TYPES]
    keys += [f"equity_loss_{ch}_usd_bn" for ch in PNL_CHANNELS]
    keys += [f"equity_loss_{t}_usd_bn" for t in INSTITUTION_TYPES]
    missing = [k for k in keys if k not in sm]
    assert not missing, missing
    assert all(isinstance(v, float) for v in sm.values())


def test_summary_agrees_with_the_frames(res):
    sm, m = res.summary, res.markets
    assert sm["peak_repo_rate_pct"] == m["repo_rate_pct"].max()
    assert sm["dealer_peak_utilisation_frac"] == m["dealer_peak_utilisation_frac"].max()
    assert (m["dealer_peak_utilisation_frac"] >= m["dealer_utilisation_frac"]).all()
    assert sm["iterations_max"] == m["iterations"].max()
    assert sm["iteration_bound_hit_days"] == m["iteration_bound_hit"].sum()
    for k in (col for col in m.columns if col.startswith("basis_widening_")):
        code = k[len("basis_widening_") : -len("_bp")]
        assert sm[f"peak_basis_widening_{code}_bp"] == m[k].max()
    for k in (col for col in m.columns if col.startswith("yield_change_")):
        b = k[len("yield_change_") : -len("_bp")]
        assert sm[f"end_yield_change_{b}_bp"] == m[k].iloc[-1]
        assert abs(sm[f"peak_yield_change_{b}_bp"]) == m[k].abs().max()
    by_channel = sum(sm[f"equity_loss_{ch}_usd_bn"] for ch in PNL_CHANNELS)
    assert by_channel == pytest.approx(sm["equity_loss_total_usd_bn"], rel=1e-12)
    d = res.institutions
    e0 = d.loc[d["day"] == 0, "equity_usd_bn"].sum()
    e1 = d.loc[d["day"] == d["day"].max(), "equity_usd_bn"].sum()
    redeemed = res.events.loc[text(res.events["event"]) == "redemption", "amount_usd_bn"].sum()
    assert e1 - e0 == pytest.approx(-sm["equity_loss_total_usd_bn"] - redeemed, abs=1e-6)


def test_simulate_summary_is_the_results_summary(res, system, scenario):
    """The summary-only path (many-draw experiments) skips the frames, not the run."""
    assert c.simulate_summary(system, scenario) == res.summary


def test_simulate_summary_with_a_policy_is_the_results_summary(system, scenario):
    qe = [c.policies.QEConfig(name="qe", reactive_share=0.5, budget_usd_bn=100)]
    assert c.simulate_summary(system, scenario, qe) == c.simulate(system, scenario, qe).summary


def test_a_summary_only_recorder_builds_no_frames(system, scenario):
    from contagion.engine import Simulation
    from contagion.recorder import Recorder

    rec = Recorder(Simulation(system, scenario), institutions=False)
    rec.record_initial()
    assert rec.inst == {}
    with pytest.raises(RuntimeError, match="summary"):
        rec.result()


def test_results_and_summary_by_strategy_book(system):
    """Hedge-fund books carry their strategy into Result.institutions, and the summary
    aggregates sales, defaults and equity losses by strategy (only strategies present)."""
    inst, exp = system.to_tables()
    shorts = set(exp.loc[(exp["kind"] == "futures") & (exp["notional_usd_bn"] < 0), "source"])
    hf = inst["type"] == "hedge_fund"
    inst["strategy"] = np.where(hf, np.where(inst["id"].isin(shorts), "basis", "directional"), "")
    inst = inst.drop(columns=["equity_usd_bn"])
    tagged = c.System(inst, exp, system.market, name=system.name)
    sc = c.scenarios.load("basis_unwind").with_params(impact_bp_per_usd_bn=0.3)
    res = c.simulate(tagged, sc)
    d, sm = res.institutions, res.summary
    assert set(d["strategy"].astype(str)) == set(inst["strategy"])
    last = d[d["day"] == d["day"].max()]
    present = sorted(set(inst["strategy"]) - {""})
    assert present and not any("strategy_relative_value" in k for k in sm)
    for tag in present:
        mine = last[last["strategy"] == tag]
        assert sm[f"defaults_strategy_{tag}_count"] == mine["defaulted"].sum()
        sold = d.loc[d["strategy"] == tag, "sales_usd_bn"].sum()
        by_kind = sum(sm[f"{k}_strategy_{tag}_usd_bn"] for k in SALE_EVENTS.values())
        assert by_kind == pytest.approx(sold, abs=1e-9)
    hf_loss = sum(sm[f"equity_loss_strategy_{tag}_usd_bn"] for tag in present)
    assert hf_loss == pytest.approx(sm["equity_loss_hedge_fund_usd_bn"], rel=1e-12)
