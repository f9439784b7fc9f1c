"""Funding and policy rates (contagion.mechanisms.repo_market, policy_rates, carry; the SRF).

Closed forms on the hand-checkable toy (module docstring of contagion.examples): money funds
lend 165 in private repo, hold 30 of cash and 50 at the ON RRP, NAV 245; GC 4.30%, ON RRP
4.25%, top of the range (the SRF rate) 4.50%, IORB 4.40%. Then the calibrated system under
funding stresses, and the September 2019 episode.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import contagion as c
from contagion.engine import Simulation
from contagion.mechanisms import deleveraging as dl
from contagion.mechanisms import repo_market as rm
from contagion.policies import QEConfig, SovereignFundConfig, StandingRepoConfig

# money funds' overnight book in the toy: cash 30 + ON RRP 50 + private repo 165
TOY_BOOK, TOY_NAV, TOY_DEMAND = 245.0, 245.0, 165.0


def toy_capacity(params: c.ModelParams, book: float = TOY_BOOK, nav: float = TOY_NAV) -> float:
    return book + params.mmf_reallocation_frac * nav


def toy_gc(x: float, x0: float, params: c.ModelParams, on_rrp: float = 4.25) -> float:
    """r(x) = r_RRP + s0 ((1 - x0) / (1 - x))^eta, s0 = 4.30 - 4.25."""
    eta = params.repo_rate_convexity
    return on_rrp + 0.05 * ((1 - x0) / (1 - min(x, params.funding_utilisation_cap_frac))) ** eta


@pytest.fixture(scope="module")
def toy() -> c.System:
    return c.examples.toy_basis_trade()


# --- closed forms -----------------------------------------------------------------------------
def test_toy_market_starts_on_its_curve(toy):
    p = c.ModelParams()
    sim = Simulation(toy, c.Scenario(days=1))
    ref = sim.state.ref
    assert ref.repo_demand0 == pytest.approx(TOY_DEMAND, rel=1e-12)
    assert ref.repo_supply0 == pytest.approx(toy_capacity(p), rel=1e-12)  # 245 + 0.02 * 245
    res = sim.run()
    assert res.markets["repo_rate_pct"].iloc[0] == pytest.approx(4.30, abs=1e-12)


def test_pullback_moves_gc_up_the_convex_curve(toy):
    """A pullback w takes supply away: x = D / ((1 - w) K); GC = r(x) (toy closed form)."""
    p = c.ModelParams()
    x0 = TOY_DEMAND / toy_capacity(p)
    for w in (0.1, 0.25):
        res = c.simulate(toy, c.Scenario(days=1, mmf_repo_pullback_frac=[w]))
        gc = res.markets["repo_rate_pct"].iloc[1]
        d = res.markets["repo_demand_usd_bn"].iloc[1]  # 165 plus a day's accrued interest
        x = d / ((1 - w) * toy_capacity(p))
        assert gc == pytest.approx(toy_gc(x, x0, p), rel=1e-3), w


def test_convexity_near_exhaustion():
    kw = {"on_rrp_pct": 4.25, "spread0_pct": 0.05, "convexity": 1.5, "cap": 0.99}
    x0 = 0.66
    steps = [rm.repo_rate(x + 0.05, x0, **kw) - rm.repo_rate(x, x0, **kw)
             for x in (0.60, 0.75, 0.85, 0.90)]  # fmt: skip
    assert all(b > a for a, b in itertools.pairwise(steps))  # steeper near the top
    # closed form at x = 0.98: 4.25 + 0.05 (0.34 / 0.02)^1.5 = 4.25 + 0.05 * 70.09 = 7.7546
    assert rm.repo_rate(0.98, x0, **kw) == pytest.approx(4.25 + 0.05 * 17.0**1.5, rel=1e-12)
    # flat beyond the cap, finite at any x
    assert rm.repo_rate(5.0, x0, **kw) == rm.repo_rate(0.99, x0, **kw)
    # the supply curve inverts the rate curve
    for x in (0.3, 0.66, 0.9, 0.97):
        r = rm.repo_rate(x, x0, **kw)
        assert rm.mmf_supply(r, 1000.0, x0, **kw) == pytest.approx(1000.0 * x, rel=1e-9)


def test_demand_beyond_every_lender_is_rationed_at_the_top_of_the_curves():
    """Supply 80 (MMFs) + 10 (banks) + 5 (facility) < demand 120: GC is the lowest rate at
    which every lender lends all it can (given), and 25 is rationed."""

    def mmf(r: float) -> float:
        return min(80.0, max(0.0, (r - 4.0) * 200.0))

    mmf.floor = 4.0  # type: ignore[attr-defined]

    def bank(r: float) -> float:
        return 10.0 if r >= 4.6 else 0.0

    rate, m, b, f, unmet = rm.clear(120.0, mmf, bank, 4.5, 5.0, 50.0, saturation_pct=4.8)
    assert (rate, m, b, f, unmet) == (4.8, 80.0, 10.0, 5.0, 25.0)
    # without a saturation rate the bound applies
    assert rm.clear(120.0, mmf, bank, 4.5, 5.0, 50.0)[0] == 50.0


def test_on_rrp_floor(toy):
    """Government-fund inflows add cash to the overnight book; GC falls toward the ON RRP
    rate but never below it (x -> 0 gives r_RRP + s0 (1 - x0)^eta > r_RRP)."""
    p = c.ModelParams()
    x0 = TOY_DEMAND / toy_capacity(p)
    for inflow in (0.1, 1.0):
        res = c.simulate(toy, c.Scenario(days=1, government_mmf_inflow_frac=[inflow]))
        m = res.markets.iloc[1]
        assert m["repo_rate_pct"] >= m["on_rrp_rate_pct"]
        # closed form: the inflow of inflow * NAV joins the book (and the NAV)
        k = toy_capacity(p, TOY_BOOK + inflow * TOY_NAV, TOY_NAV * (1 + inflow))
        x = m["repo_demand_usd_bn"] / k
        assert m["repo_rate_pct"] == pytest.approx(toy_gc(x, x0, p), rel=1e-3), inflow
    floor = rm.repo_rate(0.0, x0, on_rrp_pct=4.25, spread0_pct=0.05, convexity=1.5, cap=0.99)
    assert floor == pytest.approx(4.25 + 0.05 * (1 - x0) ** 1.5, rel=1e-12)


def test_srf_ceiling_closed_form(toy):
    """With a centrally cleared SRF (no balance-sheet limit) of ample size, GC stops at its
    cost c = 4.50% + spread; the facility supplies D - S_M(c)."""
    w = 0.6
    sc = c.Scenario(days=1, mmf_repo_pullback_frac=[w])
    free = c.simulate(toy, sc).markets.iloc[1]
    assert free["repo_rate_pct"] > 4.60
    srf = StandingRepoConfig(aggregate_limit_usd_bn=1000, min_bid_spread_bp=5,
                             central_clearing=True, eligible=["dealer"])  # fmt: skip
    capped = c.simulate(toy, sc, [srf]).markets.iloc[1]
    cost = 4.50 + 0.05
    assert capped["repo_rate_pct"] == pytest.approx(cost, abs=1e-12)
    p = c.ModelParams()
    x0 = TOY_DEMAND / toy_capacity(p)
    kw = {"on_rrp_pct": 4.25, "spread0_pct": 0.05, "convexity": p.repo_rate_convexity,
          "cap": p.funding_utilisation_cap_frac}  # fmt: skip
    mmf = rm.mmf_supply(cost, (1 - w) * toy_capacity(p), x0, **kw)
    assert capped["repo_supply_facilities_usd_bn"] == pytest.approx(
        capped["repo_demand_usd_bn"] - mmf, rel=1e-3
    )
    assert capped["repo_rate_eligible_pct"] == pytest.approx(cost, abs=1e-12)
    # hedge funds pay GC plus their spread: the cap passes through to them
    assert capped["hedge_fund_repo_rate_pct"] < free["hedge_fund_repo_rate_pct"]


def test_rate_cut_passes_through_to_gc_and_iorb(toy):
    res = c.simulate(toy, c.Scenario(days=2, policy_rate_change_bp=[-25.0]))
    m = res.markets
    for col, start in (
        ("iorb_pct", 4.40),
        ("on_rrp_rate_pct", 4.25),
        ("srf_rate_pct", 4.50),
        ("policy_range_upper_pct", 4.50),
        ("policy_range_lower_pct", 4.25),
    ):
        assert m[col].iloc[0] == pytest.approx(start, abs=1e-12), col
        assert m[col].iloc[1] == pytest.approx(start - 0.25, abs=1e-12), col  # fmt: skip
    # GC follows its floor (same utilisation, up to a day's accrued interest)
    assert m["repo_rate_pct"].iloc[1] == pytest.approx(4.30 - 0.25, abs=1e-4)
    # a cut moves every rate alike, so hedge funds' funding over IORB does not rise
    assert res.summary["voluntary_sales_total_usd_bn"] == 0.0


def test_policy_rate_tool_cuts_once_and_stops_at_zero(toy):
    cut = c.policies.PolicyRateConfig(change_bp=-50, trigger={"start_day": 2})
    m = c.simulate(toy, c.Scenario(days=4), [cut]).markets
    assert list(m["iorb_pct"].round(12)) == [4.40, 4.40, 3.90, 3.90, 3.90]
    # a cut larger than the room left takes the bottom of the range to zero, not below
    big = c.policies.PolicyRateConfig(change_bp=-500)
    res = c.simulate(toy, c.Scenario(days=2), [big])
    assert res.markets["policy_range_lower_pct"].iloc[-1] == pytest.approx(0.0, abs=1e-12)
    assert res.summary["policy_policy_rate_rate_change_bp"] == pytest.approx(-425.0)


def test_rate_path_below_zero_is_an_input_error(toy):
    with pytest.raises(c.InputError) as err:
        c.simulate(toy, c.Scenario(days=2, policy_rate_change_bp=[-300.0, -200.0]))
    text = str(err.value)
    assert "policy_rate_change_bp.1" in text and "below zero" in text


def test_equity_share_and_funding_factor_closed_forms():
    np.testing.assert_allclose(dl.equity_share(np.array([20.0, 0.0, -5.0])), [0.05, 0.0, 0.0])
    # a zero-haircut fund at leverage 20 whose haircut rises to 2%: (5 / 7)^1 = 0.714
    f = dl.funding_factor(0.0, np.array([0.05]), np.array([0.02]), semi_elasticity=0.2,
                          margin_elasticity=1.0)  # fmt: skip
    assert f[0] == pytest.approx(5.0 / 7.0, rel=1e-12)
    # a 1-point funding rise at e_f = 0.2 with no haircut change: exp(-0.2)
    f = dl.funding_factor(1.0, np.array([0.05]), np.array([0.0]), semi_elasticity=0.2,
                          margin_elasticity=1.0)  # fmt: skip
    assert f[0] == pytest.approx(math.exp(-0.2), rel=1e-12)


def test_funding_spread_is_smoothed_over_the_horizon(toy):
    """ds_t = (1 - 1/H) ds_t-1 + (1/H) max(GC - IORB - (GC_0 - IORB_0), 0)."""
    sc = c.Scenario(days=2, mmf_repo_pullback_frac=[0.5, 0.0]).with_params(
        leverage_funding_horizon_days=10.0
    )
    sim = Simulation(toy, sc)
    sim.run_day()
    s = sim.state
    rise = s.repo_rate_pct - s.iorb_pct - (4.30 - 4.40)
    assert s.funding_spread_rise_pct == pytest.approx(0.1 * rise, rel=1e-12)


# --- the calibrated system --------------------------------------------------------------------
@pytest.fixture(scope="module")
def calibrated():
    system = c.examples.calibrated_us_2025()
    return system, c.examples.model_params(system)


def _run(calibrated, policies=(), **paths):
    system, params = calibrated
    days = max([10, *(len(v) for v in paths.values())])
    sc = c.Scenario(name="funding", days=days, **paths).with_params(**params)
    return c.simulate(system, sc, list(policies))


# money funds pull 15% of their overnight capacity for three days (about USD 340 bn on the
# calibrated system: more than banks' spare reserves can replace; a fifth, ~450 bn, is also
# beyond what the dealers' fitted balance-sheet room lets them take from a 500 bn SRF)
PULLBACK = {"mmf_repo_pullback_frac": [0.15, 0.15, 0.15]}


def test_funding_stress_with_and_without_the_srf(calibrated):
    system, _ = calibrated
    cap = system.market.srf_rate_pct
    free = _run(calibrated, **PULLBACK)
    assert free.summary["peak_repo_rate_pct"] > cap + 0.25  # the squeeze breaks the ceiling
    srf = _run(calibrated, [StandingRepoConfig(aggregate_limit_usd_bn=500)], **PULLBACK)
    m = srf.markets
    assert srf.summary["policy_srf_peak_take_up_usd_bn"] > 0
    # capped near the SRF rate while eligible dealers have balance sheet to lend on
    room = m["repo_supply_facilities_usd_bn"] < m["repo_facility_capacity_usd_bn"] * (1 - 1e-9)
    assert (m.loc[room, "repo_rate_pct"] <= cap + 1e-9).all()
    assert srf.summary["peak_repo_rate_pct"] < free.summary["peak_repo_rate_pct"]
    assert m["hedge_fund_repo_rate_pct"].max() < free.markets["hedge_fund_repo_rate_pct"].max()


def test_government_inflows_dampen_a_prime_run(calibrated):
    run = {"prime_mmf_outflow_frac": [0.1, 0.1, 0.1]}
    prime_only = _run(calibrated, **run)
    both = _run(calibrated, **run, government_mmf_inflow_frac=[0.05, 0.05, 0.05])
    assert prime_only.summary["peak_repo_rate_pct"] > calibrated[0].market.repo_rate_pct
    assert both.summary["peak_repo_rate_pct"] < prime_only.summary["peak_repo_rate_pct"]
    gc_both, gc_prime = both.markets["repo_rate_pct"], prime_only.markets["repo_rate_pct"]
    assert (gc_both.iloc[1:4] <= gc_prime.iloc[1:4] + 1e-12).all()


def test_a_repo_spike_shrinks_hedge_fund_positions(calibrated):
    """The funding response of leverage: with it, hedge funds sell more in a repo squeeze
    than with the funding and haircut elasticities at zero."""
    system, params = calibrated
    sc = c.Scenario(name="squeeze", days=15, mmf_repo_pullback_frac=[0.6] * 10)
    on = c.simulate(system, sc.with_params(**params))
    off = c.simulate(system, sc.with_params(**params, leverage_funding_semi_elasticity_per_pct=0.0,
                                            leverage_haircut_elasticity=0.0))  # fmt: skip
    assert on.summary["peak_repo_rate_pct"] > system.market.iorb_rate_pct + 0.5
    sold = "voluntary_sales_hedge_fund_usd_bn"
    assert on.summary.get(sold, 0.0) > off.summary.get(sold, 0.0) + 1.0
    hf = on.institutions.query("type == 'hedge_fund'").groupby("day")["assets_usd_bn"].sum()
    assert hf.iloc[-1] < hf.iloc[0]


def test_qe_eases_funding_more_than_an_equal_sovereign_fund(calibrated):
    """The same scheduled purchases (USD 100 bn a day for three days from the day the money
    funds pull back) in a funding stress: QE's land as reserves and GC is lower; the fund's
    are paid with investors' cash and create none."""
    schedule = {"schedule_usd_bn": {"10y": [100.0, 100.0, 100.0]}, "budget_usd_bn": 300}
    qe = _run(calibrated, [QEConfig(**schedule)], **PULLBACK)
    swf = _run(calibrated, [SovereignFundConfig(**schedule)], **PULLBACK)
    spent = qe.summary["policy_cost_budget_spent_usd_bn"]  # value paid at settlement prices
    assert spent >= 300.0 - 1e-6
    res_qe, res_swf = qe.markets["bank_reserves_usd_bn"], swf.markets["bank_reserves_usd_bn"]
    drawn = {k: r.markets["on_rrp_usd_bn"].iloc[0] - r.markets["on_rrp_usd_bn"].iloc[-1]
             for k, r in (("qe", qe), ("swf", swf))}  # fmt: skip
    own = res_qe.iloc[-1] - res_swf.iloc[-1] - (drawn["qe"] - drawn["swf"])
    assert own == pytest.approx(spent, rel=0.01)
    # (banks lend reserves only while GC pays their balance-sheet cost over IORB: with QE's
    # reserves GC falls below that on days 2-3, so they may lend less than under the fund;
    # where both sit at the money funds' floor near the ON RRP rate, QE's GC may be higher
    # by a rounding-size amount: 0.001 bp at the 2026-12-07 fit, so the day-by-day check
    # allows 0.01 bp = 1e-4 percentage points)
    gc_qe, gc_swf = qe.markets["repo_rate_pct"].iloc[1:4], swf.markets["repo_rate_pct"].iloc[1:4]
    assert (gc_qe <= gc_swf + 1e-4).all() and gc_qe.sum() < gc_swf.sum()


# --- September 2019 ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sept_2019():
    from calibration.episodes import counterfactual_srf_2019, episode

    runs = {
        "actual": episode("sept_2019", params="fitted"),
        "no_fed": episode("sept_2019", params="fitted", with_fed=False),
        "srf": counterfactual_srf_2019(params="fitted"),
    }
    return {k: c.simulate(*v) for k, v in runs.items()}


def test_sept_2019_runs_from_its_inputs(sept_2019):
    from calibration.episodes import close_before, day_of

    m = sept_2019["actual"].markets
    k = day_of("sept_2019", "2019-09-16")
    # the tax date drains reserves by the two-day drain (taxes plus the settlement), less
    # what money funds draw from the ON RRP to pay their redemptions (that adds reserves)
    drop = m["bank_reserves_usd_bn"].iloc[k - 1] - m["bank_reserves_usd_bn"].iloc[k]
    drawn = m["on_rrp_usd_bn"].iloc[k - 1] - m["on_rrp_usd_bn"].iloc[k]
    assert drawn > 0
    assert drop + drawn == pytest.approx(120.0, abs=0.5)
    # the spike: SOFR of Sep 17 (close of Sep 16) well above the top of the range
    assert m["repo_rate_pct"].iloc[close_before("sept_2019", "2019-09-17")] > 2.5
    # the cut took effect on Sep 19
    assert m["iorb_pct"].iloc[close_before("sept_2019", "2019-09-19")] == pytest.approx(1.85)
    # no price shock from the settlement: it was priced at auction
    assert abs(m["yield_change_10y_bp"].iloc[k]) < 5.0


def test_sept_2019_srf_counterfactual_caps_the_spike(sept_2019):
    from calibration.episodes import close_before

    k = close_before("sept_2019", "2019-09-17")
    without = sept_2019["no_fed"].markets["repo_rate_pct"].iloc[k]
    with_srf = sept_2019["srf"].markets["repo_rate_pct"].iloc[k]
    assert with_srf <= 2.25 + 1e-9 < without  # the top of the range then
    assert sept_2019["srf"].summary["policy_srf_peak_take_up_usd_bn"] > 0


def test_sept_2019_is_scored_by_the_fit():
    from calibration import fit as F

    ev = F.evaluate(F.fitted_params())
    table = ev.table()
    sept = table[table["episode"] == "sept_2019"]
    assert len(sept) >= 6 and np.isfinite(sept["model"]).all()
    assert (sept["weight"] > 0).sum() >= 6  # SOFR path and take-up are fitted
