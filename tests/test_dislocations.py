"""Dislocations: permanent and transient impact, dealer limits, swaps, futures close-outs,
and strategies that unwind on their own (contagion.mechanisms.price_impact, dealers).

The toy (contagion.examples) has two basis funds (hf_alpha: 10y long, TY short; hf_beta: 5y
long, FV short) and a swap-spread fund (hf_gamma: 30y long, pays fixed on a 30y swap).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import contagion as c
from contagion.mechanisms import dealers
from contagion.mechanisms import price_impact as pi
from contagion.policies import QEConfig

ONE_BUCKET = {
    "buckets": [
        {"name": "10y", "maturity_years": 10, "outstanding_usd_bn": 5000, "yield_pct": 4.0,
         "modified_duration_years": 8.0}
    ],
    "repo_rate_pct": 4.0, "on_rrp_rate_pct": 3.9, "policy_rate_pct": 4.0,
    "volatility_index": 100,
}  # fmt: skip


def seller_and_dealer(*, dealer_par: float = 50.0, dealer_cash: float = 100.0) -> c.System:
    """An outside seller of 10y bonds and one dealer with room (SLR 5% on equity 20: 400 of
    exposure against 150 of assets) and cash to buy; a central bank."""
    inst = pd.DataFrame(
        {
            "id": ["seller", "dealer", "fed"],
            "type": ["other", "dealer", "central_bank"],
            "cash_usd_bn": [0.0, dealer_cash, 0.0],
            "ust_10y_par_usd_bn": [500.0, dealer_par, 0.0],
            "other_liabilities_usd_bn": [0.0, dealer_cash + dealer_par - 20.0, 0.0],
        }
    )
    exp = pd.DataFrame(columns=["kind", "source", "target"])
    return c.System(inst, exp, ONE_BUCKET)


# --- closed forms --------------------------------------------------------------------------------
def test_permanent_and_transient_impact_closed_form():
    """10 sold, dealers with room (u small, g ~ 1), no outside buyers: the yield moves by the
    permanent lambda_P q plus the transient lambda_T g(u) q; the next day the transient part
    has decayed by delta and the permanent part stays."""
    system = seller_and_dealer()
    params = c.ModelParams(
        impact_permanent_bp_per_usd_bn=0.1, impact_bp_per_usd_bn=0.2, impact_convexity=0.0,
        impact_decay_frac=0.25,
    )  # fmt: skip
    sc = c.Scenario(name="sale", days=2, exogenous_sales_usd_bn={"10y": [10.0]}, params=params)
    m = c.simulate(system, sc).markets
    assert m.loc[1, "impact_permanent_10y_bp"] == pytest.approx(1.0, rel=1e-12)
    assert m.loc[1, "impact_10y_bp"] == pytest.approx(1.0 + 2.0, rel=1e-12)
    assert m.loc[2, "impact_permanent_10y_bp"] == pytest.approx(1.0, rel=1e-12)
    assert m.loc[2, "impact_10y_bp"] == pytest.approx(1.0 + 2.0 * 0.75, rel=1e-12)


def test_outside_demand_bounds_the_impact_per_usd_bn():
    """dT = k q / (1 + k beta): however large k (dealers full), at most q / beta."""
    q = np.array([100.0])
    for g in (1.0, 1e3, 1e9):
        dt = pi.cash_impact_bp(q, lam=0.2, g=g, outside_demand=2.0)
        assert dt[0] <= 100.0 / 2.0 + 1e-9
    assert pi.cash_impact_bp(q, lam=0.2, g=1e12, outside_demand=2.0)[0] == pytest.approx(50.0)


def test_bounded_clips_both_ways():
    out, hit = pi.bounded(np.array([400.0, -400.0, 10.0]), 300.0)
    assert out.tolist() == [300.0, -300.0, 10.0] and hit
    out, hit = pi.bounded(np.array([10.0]), 300.0)
    assert out.tolist() == [10.0] and not hit


def test_var_room_shrinks_with_volatility_closed_form():
    # limit DV01 0.1 USD bn/bp at the start; the desk holds 0.04; D_ref = 8 years:
    # room = (0.1 / v - 0.04) / 8e-4: 75 at v = 1, 12.5 at v = 2, 0 at v = 2.5
    kw = {"reference_duration_years": 8.0}
    rooms = [float(dealers.var_room(np.array([0.04]), np.array([0.1]), vol_ratio=v, **kw)[0])
             for v in (1.0, 2.0, 2.5)]  # fmt: skip
    np.testing.assert_allclose(rooms, [75.0, 12.5, 0.0], atol=1e-9)
    assert dealers.daily_vol_bp(100.0) == pytest.approx(100.0 / math.sqrt(252.0))


def test_the_capacity_shock_takes_a_share_of_the_starting_room_closed_form():
    """k = -0.1 removes a tenth of the room each limit left at the start, not a tenth of
    the limit: SLR E/slr = 10,200 with assets 10,000 (room 200) keeps 180, where scaling the
    limit gave max(9,180 - 10,000, 0) = 0; VaR room 75 keeps 67.5; internal room 20 keeps 18."""
    slr = dealers.dealer_room(np.array([510.0]), np.array([10_000.0]), np.array([0.05]),
                              -0.1, np.array([200.0]))  # fmt: skip
    np.testing.assert_allclose(slr, [180.0])
    var = dealers.var_room(np.array([0.04]), np.array([0.1]), vol_ratio=1.0,
                           reference_duration_years=8.0, capacity_shock=-0.1,
                           room0=np.array([75.0]))  # fmt: skip
    np.testing.assert_allclose(var, [67.5])
    internal = dealers.internal_room(np.array([100.0]), np.array([120.0]), -0.1,
                                     np.array([20.0]))  # fmt: skip
    np.testing.assert_allclose(internal, [18.0])
    # a shock beyond the whole room empties it (never negative); a positive one adds room
    assert dealers.internal_room(np.array([100.0]), np.array([120.0]), -2.0, 20.0)[0] == 0.0
    np.testing.assert_allclose(dealers.internal_room(np.array([100.0]), np.array([120.0]),
                                                     0.5, 20.0), [30.0])  # fmt: skip


def test_a_five_percent_capacity_shock_leaves_most_of_the_room_on_the_calibrated_system():
    """basis_unwind's day-2 shock (-5%) on the calibrated dealers (about USD 9.6 tn of
    assets, 0.57 tn of leverage-ratio room): the leverage-ratio utilisation that morning is
    about 5%, not the 94% the old rule (limit x 0.95) gave before a single sale."""
    system = c.examples.calibrated_us_2025()
    sc = c.Scenario(name="capacity", days=2, dealer_capacity_shock_frac=[0.0, -0.05])
    m = c.simulate(system, sc.with_params(**c.examples.model_params(system))).markets
    assert m.loc[1, "dealer_utilisation_slr_frac"] < 0.01
    assert 0.04 < m.loc[2, "dealer_utilisation_slr_frac"] < 0.06


def test_the_tightest_limit_binds_and_is_reported():
    """One dealer: SLR room 250 (400 - 150); VaR room r x 250 at the start; internal limit
    (1 + h) x its 50 of inventory. With h = 0.2 the internal limit (room 10) binds first."""
    system = seller_and_dealer()
    params = c.ModelParams(var_room_ratio=1.0, dealer_internal_headroom_frac=0.2,
                           impact_convexity=1.0)  # fmt: skip
    sc = c.Scenario(name="sale", days=1, exogenous_sales_usd_bn={"10y": [30.0]}, params=params)
    res = c.simulate(system, sc)
    m = res.markets.loc[1]
    assert m["dealers_bound_by_internal_count"] == 1
    assert m["dealer_utilisation_internal_frac"] > 0.95  # its inventory is re-marked lower
    assert m["dealer_utilisation_slr_frac"] < 0.1
    # the dealer absorbed its internal room, 10 of value (par a little more, below 100)
    bought = res.flows.query("buyer == 'dealers'")["par_usd_bn"].sum()
    assert 10.0 <= bought <= 10.0 / (res.markets.loc[1, "price_10y"] / 100.0) + 1e-9


def test_dealers_sell_their_excess_inventory_into_a_purchase():
    """Day 1: dealers absorb 40 of a sale. Day 2: the central bank buys 30 with nobody
    selling: the dealer sells 30 of its excess into the bid (before the round clears), its
    utilisation falls, and the buy's transient impact is priced at that lower utilisation."""
    system = seller_and_dealer()
    params = c.ModelParams(impact_convexity=2.0, impact_decay_frac=0.0)
    sale = {"10y": [40.0]}
    qe = QEConfig(schedule_usd_bn={"10y": [0.0, 30.0]}, budget_usd_bn=100.0)
    sc = c.Scenario(name="sale then QE", days=2, exogenous_sales_usd_bn=sale, params=params)
    res = c.simulate(system, sc, [qe])
    m, inst = res.markets, res.institutions.set_index(["day", "institution"])
    value = inst["treasury_value_usd_bn"]
    assert value[(1, "dealer")] > value[(0, "dealer")] + 38.0  # it absorbed the sale (40 par)
    # it sold the central bank's 30 of value into the bid: the flows say so
    assert value[(1, "dealer")] - value[(2, "dealer")] == pytest.approx(30.0, rel=0.02)
    sold = res.flows.query("day == 2 and seller == 'dealer' and buyer == 'policy'")
    assert sold["par_usd_bn"].sum() * m.loc[1, "price_10y"] / 100.0 == pytest.approx(30.0)
    assert m.loc[2, "dealer_utilisation_frac"] < m.loc[1, "dealer_utilisation_frac"]
    # the buy moved yields down by less than the day-1 sale moved them up (per USD bn) and
    # by no more than at the day-1 utilisation
    up = m.loc[1, "impact_10y_bp"] / 40.0
    down = (m.loc[1, "impact_10y_bp"] - m.loc[2, "impact_10y_bp"]) / 30.0
    assert 0.0 < down < up


def test_no_liquidity_default_while_cash_covers_what_is_due():
    """The calibrated system's futures holder groups (type ``other``: no bonds to sell)
    met every margin call from cash in a calm-market sale; the default check after
    a converged round once counted gross dues as unpaid and defaulted them on the first VM
    call of a busy day."""
    system = c.examples.calibrated_us_2025()
    sc = c.Scenario(name="supply", days=5, exogenous_sales_usd_bn={"10y": [20.0] * 5}).with_params(
        **c.examples.model_params(system)
    )
    res = c.simulate(system, sc)
    ev = res.events
    calls = ev[ev["event"].isin(["variation_margin_call", "initial_margin_call"])]
    groups = ["futures_other_rept", "futures_nonrept"]
    assert not calls[calls["institution"].isin(groups)].empty  # they were called
    inst = res.institutions.set_index(["day", "institution"])
    for name in groups:
        for day, due in calls[calls["institution"] == name].groupby("day")["amount_usd_bn"]:
            assert inst.loc[(day - 1, name), "cash_usd_bn"] > due.sum()
    defaults = ev[(ev["event"] == "default") & ev["institution"].isin(groups)]
    assert defaults.empty


# --- calm-market supply against the literature -------------------------------------------------
def test_calm_market_supply_against_the_stock_effect_literature():
    """USD 100 bn of 10y sold over a week into the calibrated market: at the end of the week
    the permanent part is the stock effect, 0.07-0.17 bp per USD bn of a 10y-duration bond
    (D'Amico and King 2013, fact base 6.8: about 30 bp per USD 300 bn); the transient part
    decays, so two months later the move is within the stock-effect range."""
    system = c.examples.calibrated_us_2025()
    params = c.examples.model_params(system)
    sc = c.Scenario(name="supply", days=45, exogenous_sales_usd_bn={"10y": [20.0] * 5}).with_params(
        **params
    )
    m = c.simulate(system, sc).markets
    perm = m.loc[5, "impact_permanent_10y_bp"]
    value_sold = m.loc[1:5, "price_10y"].mean()  # about 100 of value (100 par x price / 100)
    dur = system.market.buckets[2].modified_duration_years
    scale = (
        dur / sc.params.impact_reference_duration_years
    ) ** sc.params.impact_duration_elasticity
    assert 0.07 * value_sold * scale <= perm <= 0.17 * value_sold * scale
    transient = m["impact_10y_bp"] - m["impact_permanent_10y_bp"]
    assert transient.iloc[-1] < 0.5 * transient.iloc[5]  # it decays
    assert m.loc[45, "yield_change_10y_bp"] <= 0.17 * value_sold * scale + transient.iloc[-1]


# --- swaps and strategies ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def toy():
    return c.examples.toy_basis_trade()


def _books(res):
    """Futures and swap notional per hedge fund by day (absolute, USD bn)."""
    inst = res.institutions
    return inst[inst["type"] == "hedge_fund"].pivot(
        index="day", columns="institution", values="assets_usd_bn"
    )


def test_a_swap_spread_unwind_without_a_basis_unwind(toy):
    """Swap rates fall against Treasuries (a swap-spread shock): the pay-fixed swap-spread
    fund loses, sells its bonds and receives fixed, so swap spreads widen (more negative)
    beyond the shock; the basis funds do not unwind and the basis barely moves."""
    sc = c.Scenario(name="swap spread", days=5, swap_spread_shock_bp={"30y": [-15.0, -15.0, -10.0]})
    res = c.simulate(toy, sc)
    m, books = res.markets, _books(res)
    assert books["hf_gamma"].iloc[-1] < 0.5 * books["hf_gamma"].iloc[0]
    for basis_fund in ("hf_alpha", "hf_beta"):
        assert books[basis_fund].iloc[-1] == pytest.approx(books[basis_fund].iloc[0], rel=1e-3)
    assert m["swap_spread_change_30y_bp"].iloc[-1] < -40.0  # the shock (-40) and more
    assert m["swap_impact_30y_bp"].min() < 0.0  # receiving fixed pushed swap rates down
    # the basis funds' contracts do not move; the 30y basis widens only with the 30y cash
    # the swap-spread fund sold
    for code in ("TY", "FV"):
        assert m[f"basis_widening_{code}_bp"].abs().max() < 1e-9


def test_a_basis_unwind_without_a_swap_spread_unwind(toy):
    """The futures exchange doubles margins: the basis funds raise cash by unwinding (sell
    cash, buy back futures), so the basis widens; the swap-spread fund keeps its swap."""
    sc = c.Scenario(name="basis", days=5, futures_margin_addon_frac=[1.0])
    res = c.simulate(toy, sc)
    m, books = res.markets, _books(res)
    assert books["hf_alpha"].iloc[-1] < 0.8 * books["hf_alpha"].iloc[0]
    assert books["hf_gamma"].iloc[-1] == pytest.approx(books["hf_gamma"].iloc[0], rel=1e-2)
    assert m["basis_widening_TY_bp"].max() > 0.5
    # no swap-spread unwind: at most the sliver of the asset manager's receive-fixed swap its
    # redemptions close
    assert m["swap_impact_30y_bp"].abs().max() < 0.01


def test_ccp_close_outs_trade_in_the_futures_market(toy):
    """A defaulted fund's TY short (100) is bought back by the CCP: futures richen on the
    flow by lambda_F x 100 = 0.02 x 100 = 2 bp of implied yield, as if the fund had covered
    the short itself (the toy's futures pass-through is 0)."""
    inst = toy.institutions.copy()
    inst.loc[inst["id"] == "hf_alpha", "other_liabilities_usd_bn"] = 2.95  # equity 0.05
    fragile = c.System(inst.drop(columns="equity_usd_bn"), toy.exposures, toy.market)
    sc = c.Scenario(name="volatile", days=2, volatility_multiplier=[3.0])
    res = c.simulate(fragile, sc)
    assert "hf_alpha" in set(res.events.query("event == 'default'")["institution"])
    assert res.markets["futures_impact_TY_bp"].iloc[1] == pytest.approx(-2.0, abs=1e-9)
    off = c.simulate(fragile, sc.with_channels(futures_impact=False))
    assert off.markets["futures_impact_TY_bp"].iloc[1] == 0.0


def test_dealers_distribute_what_they_absorbed_at_the_decay_rate():
    """A dealer that absorbed sales on day 1 passes the share delta of its extra inventory
    to outside investors each later day (closed form, in par with no further trades:
    excess_t = (1 - delta)^(t-1) excess_1)."""
    from test_engine import QUIET, tiny_basis

    delta = 0.2
    sc = c.Scenario(
        name="sale",
        days=4,
        exogenous_sales_usd_bn={"10y": [10.0]},
        channels=c.Channels(**{**QUIET, "price_impact": True}),
        params=c.ModelParams(impact_bp_per_usd_bn=0.5, impact_convexity=0.0,
                             impact_decay_frac=delta),
    )  # fmt: skip
    res = c.simulate(tiny_basis(cash_hf=1.0), sc)
    inst = res.institutions
    value = inst[inst["type"] == "dealer"].set_index("day")["treasury_value_usd_bn"]
    par = value / (res.markets["price_10y"] / 100.0)  # the tiny system holds only the 10y
    excess = par - par.loc[0]
    assert excess.loc[1] > 1.0  # the dealer bought on day 1
    for t in (2, 3, 4):
        assert excess.loc[t] == pytest.approx((1 - delta) ** (t - 1) * excess.loc[1], rel=1e-9)


def test_repaying_the_pool_moves_cash_back_to_its_lenders_and_keeps_equity():
    """``Ledger.repay_pool``: a dealer repays 6 of the 10 it owes the MMF pool; the money
    funds that lent get 6 back pro rata to their pool loans (3:1), nobody's equity moves and
    no cash is created; a repayment beyond what the pool lent is scaled down to it."""
    from contagion.engine import Simulation

    sim = Simulation(c.examples.stylised_us_2025(), c.Scenario(name="calm", days=1))
    s, ledger, topo = sim.state, sim.ledger, sim.ctx.topo
    ledger.thaw()
    d = int(np.flatnonzero(topo.mask["dealer"])[0])
    m1, m2 = np.flatnonzero(topo.mask["mmf"])[:2]
    lend, borrow = np.zeros(topo.n), np.zeros(topo.n)
    lend[[m1, m2]] = [7.5, 2.5]
    borrow[d] = 10.0
    ledger.pool_finance(lend, borrow)
    cash0, equity0 = s.cash.sum(), ledger.tracked_equity().copy()
    a, liab = ledger.balance()
    book0 = a - liab
    repay = np.zeros(topo.n)
    repay[d] = 6.0
    ledger.repay_pool(repay)
    assert s.pool_borrowed[d] == pytest.approx(4.0)
    assert s.pool_lent[[m1, m2]] == pytest.approx([3.0, 1.0])  # 7.5 - 4.5, 2.5 - 1.5
    assert s.cash.sum() == pytest.approx(cash0, abs=1e-9)
    a, liab = ledger.balance()
    np.testing.assert_allclose(a - liab, book0, atol=1e-9)
    np.testing.assert_allclose(ledger.tracked_equity(), equity0, atol=1e-9)
    repay[d] = 50.0  # more than the 4 still lent: only 4 is repaid
    ledger.repay_pool(repay)
    assert s.pool_lent.sum() == pytest.approx(0.0, abs=1e-9)
    assert s.pool_borrowed[d] == pytest.approx(0.0, abs=1e-9)
    assert s.cash.sum() == pytest.approx(cash0, abs=1e-9)


def test_futures_trader_groups_close_positions_instead_of_defaulting():
    """The CFTC's other-reportable and non-reportable groups (one institution each, for
    many traders) meet margin calls beyond their cash by closing futures, which releases
    initial margin (waterfall step 'unwind'), rather than defaulting as one: under
    basis_unwind their IM calls exceed their one-IM cash buffer on day 2."""
    system = c.examples.calibrated_us_2025()
    sc = c.scenarios.load("basis_unwind").with_params(**c.examples.model_params(system))
    res = c.simulate(system, sc)
    groups = ["futures_other_rept", "futures_nonrept"]
    ev = res.events
    assert ev[(ev["event"] == "default") & ev["institution"].isin(groups)].empty
    inst = res.institutions.set_index(["day", "institution"])
    calls = ev[ev["institution"].isin(groups) & ev["event"].str.endswith("margin_call")]
    for name in groups:
        due = calls[calls["institution"] == name].groupby("day")["amount_usd_bn"].sum()
        short_days = [d for d, v in due.items() if v > inst.loc[(d - 1, name), "cash_usd_bn"]]
        assert short_days, name  # the calls did exceed the cash they started the day with
        gross = inst.xs(name, level="institution")["im_posted_usd_bn"]
        assert gross.iloc[-1] < gross.loc[short_days[0] - 1]  # positions (and IM) were cut
