"""The unwind engine: closed forms, zero shock, channel switches, the spiral, monotonicity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import contagion as c

QUIET = {  # every channel off except the ones a closed-form test needs
    "haircuts": False,
    "funding_runs": False,
    "deleveraging": False,
    "redemptions": False,
    "price_impact": False,
    "futures_impact": False,
    "repo_market": False,
}


def tiny_basis(cash_hf: float, haircut: float = 0.0) -> c.System:
    """One 10y basis trade: hf long 100 par financed by dealer repo, short 100 TY (IM 2).

    Zero rates (no interest accrues), zero convexity, conversion factor 1, all prices 100.
    """
    market = {
        "buckets": [
            {
                "name": "10y",
                "maturity_years": 10,
                "outstanding_usd_bn": 1000,
                "yield_pct": 0.0,
                "modified_duration_years": 8.0,
            }
        ],
        "futures": [
            {
                "code": "TY",
                "bucket": "10y",
                "conversion_factor": 1.0,
                "price": 100.0,
                "initial_margin_frac": 0.02,
            }
        ],
        "repo_rate_pct": 0.0,
        "on_rrp_rate_pct": 0.0,
        "policy_rate_pct": 0.0,
        "volatility_index": 100,
    }
    loan = 100 * (1 - haircut)
    inst = pd.DataFrame(
        [
            {"id": "hf", "type": "hedge_fund", "cash_usd_bn": cash_hf, "ust_10y_par_usd_bn": 100},
            {
                "id": "dealer",
                "type": "dealer",
                "cash_usd_bn": 50,
                "other_liabilities_usd_bn": 40 + loan,
            },
            {"id": "am", "type": "asset_manager", "cash_usd_bn": 10},
            {"id": "ccp", "type": "ccp", "cash_usd_bn": 5},
            {"id": "seller", "type": "other", "cash_usd_bn": 0, "ust_10y_par_usd_bn": 100},
        ]
    )
    exp = pd.DataFrame(
        [
            {
                "kind": "repo",
                "source": "dealer",
                "target": "hf",
                "amount_usd_bn": loan,
                "collateral_bucket": "10y",
                "haircut_frac": haircut,
            },
            {
                "kind": "futures",
                "source": "hf",
                "target": "ccp",
                "futures_contract": "TY",
                "notional_usd_bn": -100,
                "initial_margin_usd_bn": 2,
            },
            {
                "kind": "futures",
                "source": "am",
                "target": "ccp",
                "futures_contract": "TY",
                "notional_usd_bn": 100,
                "initial_margin_usd_bn": 2,
            },
        ]
    )
    num = [col for col in inst.columns if col.endswith("_usd_bn")]
    inst[num] = inst[num].fillna(0.0)
    return c.System(inst, exp, market, name="tiny_basis")


def hf_row(result: c.Result, day: int = 1) -> pd.Series:
    inst = result.institutions
    return inst[(inst["day"] == day) & (inst["institution"] == "hf")].iloc[0]


def im_shock(**params) -> c.Scenario:
    """Volatility x1.5 with IM elasticity 1: the IM requirement goes from 2 to 3."""
    return c.Scenario(
        name="im",
        days=1,
        volatility_multiplier=[1.5],
        channels=c.Channels(**QUIET),
        params=c.ModelParams(im_vol_elasticity=1.0, **params),
    )


def test_im_call_paid_from_cash_needs_no_sale():
    # IM 2 -> 3: a call of 1, and the fund has 1.5 in cash: it pays, keeps 0.5, sells nothing.
    res = c.simulate(tiny_basis(cash_hf=1.5), im_shock())
    row = hf_row(res)
    assert row["sales_usd_bn"] == 0.0
    assert row["cash_usd_bn"] == pytest.approx(0.5, abs=1e-12)
    assert row["im_posted_usd_bn"] == pytest.approx(3.0, abs=1e-12)
    assert res.summary["forced_sales_total_usd_bn"] == 0.0


def test_im_call_beyond_cash_forces_the_exact_unwind():
    # Call 1, cash 0.4: after paying 0.4 the need is 0.6 (an IM due, which scales with the
    # position). Unwinding phi raises phi * (V - L + IM posted) = phi * (100 - 100 + 2.4)
    # and leaves (1 - phi) * 0.6 due, so phi * 3 = 0.6 and phi = 0.2: sell 20 par, buy back
    # 20 of the TY short. Check: the remaining requirement 0.8 * 100 * 0.02 * 1.5 = 2.4 equals
    # the 2 + 0.4 posted, and the cash is all used.
    res = c.simulate(tiny_basis(cash_hf=0.4), im_shock())
    row = hf_row(res)
    assert row["sales_usd_bn"] == pytest.approx(20.0, rel=1e-12)
    assert row["treasury_value_usd_bn"] == pytest.approx(80.0, rel=1e-12)
    assert row["repo_borrowed_usd_bn"] == pytest.approx(80.0, rel=1e-12)
    assert row["im_posted_usd_bn"] == pytest.approx(2.4, rel=1e-12)
    assert row["cash_usd_bn"] == pytest.approx(0.0, abs=1e-12)
    assert not row["defaulted"]
    assert res.summary["forced_sales_hedge_fund_usd_bn"] == pytest.approx(20.0, rel=1e-12)


def tiny_with_mmf() -> c.System:
    """tiny_basis plus an MMF holding only 100 of other assets (no cash, no repo)."""
    base = tiny_basis(cash_hf=1.0)
    inst = base.institutions.drop(columns=["equity_usd_bn"])
    mmf = {col: 0.0 for col in inst.columns if col.endswith("_usd_bn")}
    mmf.update(id="mmf", type="mmf", name="mmf", other_assets_usd_bn=100.0)
    # blank behaviour columns take the MMF defaults
    inst = pd.concat([inst, pd.DataFrame([mmf])], ignore_index=True)
    return c.System(inst, base.exposures, base.market, name="tiny_with_mmf")


def test_mmf_outflow_beyond_cash_runs_off_other_assets_not_a_default():
    # The MMF faces a 10% outflow: 10 due. Round 1 it cannot pay and lets 10 of other
    # assets run off; round 2 pays. It does not default for liquidity.
    sc = c.Scenario(
        name="outflow",
        days=1,
        mmf_outflow_frac=[0.1],
        channels=c.Channels(**{**QUIET, "redemptions": True}),
    )
    res = c.simulate(tiny_with_mmf(), sc)
    inst1 = res.institutions
    row = inst1[(inst1["day"] == 1) & (inst1["institution"] == "mmf")].iloc[0]
    assert not row["defaulted"]
    assert row["equity_usd_bn"] == pytest.approx(90.0, rel=1e-12)
    assert row["cash_usd_bn"] == pytest.approx(0.0, abs=1e-9)
    assert res.summary["defaults_count"] == 0


def test_unpaid_redemptions_are_carried_to_the_next_day():
    # One round a day: day 1 owes 10, raises 10 but cannot pay it yet; day 2 owes 10
    # carried + 10% of 100 = 20, pays 10 and raises 10; day 3 pays the last 10. Both days'
    # outflows are paid: equity 100 - 20 = 80 (dropping day 1's due would leave 90).
    sc = c.Scenario(
        name="outflow",
        days=3,
        mmf_outflow_frac=[0.1, 0.1, 0.0],
        channels=c.Channels(**{**QUIET, "redemptions": True}),
        params=c.ModelParams(max_iterations=1),
    )
    res = c.simulate(tiny_with_mmf(), sc)
    inst = res.institutions
    mmf = inst[inst["institution"] == "mmf"].set_index("day")
    assert mmf.loc[3, "equity_usd_bn"] == pytest.approx(80.0, rel=1e-12)
    red = res.events[(res.events["event"] == "redemption") & (res.events["institution"] == "mmf")]
    assert red["amount_usd_bn"].sum() == pytest.approx(20.0, rel=1e-12)


def test_haircut_increase_forces_the_exact_unwind():
    # Loan 98 at a 2% haircut on 100 par; the scenario adds 3 points: 5%. The loan may be at
    # most 0.95 * 100 = 95, so the call is 3. Cash 1 pays 1; need 2 (scalable). With IM 2
    # posted, U = V - L + IM + D_s = 100 - 97 + 2 + 2 = 7 and phi = 2/7: sell 200/7 par.
    sc = c.Scenario(
        name="haircut",
        days=1,
        haircut_addon_frac=[0.03],
        channels=c.Channels(**{**QUIET, "haircuts": True}),
        params=c.ModelParams(
            haircut_vol_sensitivity_frac=0.0,
            haircut_loss_sensitivity_frac=0.0,
            haircut_leverage_sensitivity_frac=0.0,
        ),
    )
    res = c.simulate(tiny_basis(cash_hf=1.0, haircut=0.02), sc)
    row = hf_row(res)
    assert row["sales_usd_bn"] == pytest.approx(200 / 7, rel=1e-12)
    # what is left satisfies the 5% haircut exactly: loan = 0.95 * bonds
    assert row["repo_borrowed_usd_bn"] == pytest.approx(0.95 * row["treasury_value_usd_bn"])


def test_single_seller_with_linear_impact():
    # The 'other' seller sells 10 USD bn of 10y on day 1; no dealer room is used (kappa = 0
    # makes g = 1), lambda = 0.5 bp per USD bn of transient impact and no permanent part:
    # dy = 0.5 * 10 = 5 bp, and with D = 8, C = 0
    # the price is 100 * (1 - 8 * 0.0005) = 99.6. The 10 par sold at 99.6 brings 9.96.
    sc = c.Scenario(
        name="sale",
        days=1,
        exogenous_sales_usd_bn={"10y": [10.0]},
        channels=c.Channels(**{**QUIET, "price_impact": True}),
        params=c.ModelParams(
            impact_bp_per_usd_bn=0.5, impact_convexity=0.0, impact_permanent_bp_per_usd_bn=0.0
        ),
    )
    res = c.simulate(tiny_basis(cash_hf=1.0), sc)
    assert res.markets.loc[1, "yield_change_10y_bp"] == pytest.approx(5.0, rel=1e-12)
    assert res.markets.loc[1, "price_10y"] == pytest.approx(99.6, rel=1e-12)
    inst = res.institutions
    seller = inst[(inst["day"] == 1) & (inst["institution"] == "seller")].iloc[0]
    assert seller["cash_usd_bn"] == pytest.approx(9.96, rel=1e-12)
    assert res.summary["exogenous_sales_total_usd_bn"] == pytest.approx(10.0, rel=1e-12)


@pytest.mark.parametrize(
    ("epsilon", "d_ref", "dy"),
    [(0.0, 4.0, 5.0), (1.0, 8.0, 5.0), (1.0, 4.0, 10.0), (2.0, 16.0, 1.25)],
)
def test_impact_scales_with_duration(epsilon, d_ref, dy):
    # The same 10 USD bn sale of the 10y (D = 8): dy = 0.5 * (8 / D_ref)^epsilon * 10 bp,
    # e.g. epsilon 1, D_ref 4: 0.5 * 2 * 10 = 10 bp; epsilon 2, D_ref 16: 0.5 * 0.25 * 10.
    sc = c.Scenario(
        name="sale",
        days=1,
        exogenous_sales_usd_bn={"10y": [10.0]},
        channels=c.Channels(**{**QUIET, "price_impact": True}),
        params=c.ModelParams(impact_bp_per_usd_bn=0.5, impact_convexity=0.0,
                             impact_permanent_bp_per_usd_bn=0.0,
                             impact_duration_elasticity=epsilon,
                             impact_reference_duration_years=d_ref),
    )  # fmt: skip
    m = c.simulate(tiny_basis(cash_hf=1.0), sc).markets
    assert m.loc[1, "yield_change_10y_bp"] == pytest.approx(dy, rel=1e-12)


@pytest.mark.parametrize("theta", [0.0, 0.6, 1.0])
def test_futures_pass_through_of_cash_impact(theta):
    # The same 10 USD bn sale (dy = 5 bp on the 10y, as above) with no futures order flow:
    # the TY implied yield follows theta * 5 bp, so the basis widens by (1 - theta) * 5 bp.
    sc = c.Scenario(
        name="sale",
        days=1,
        exogenous_sales_usd_bn={"10y": [10.0]},
        channels=c.Channels(**{**QUIET, "price_impact": True}),
        params=c.ModelParams(
            impact_bp_per_usd_bn=0.5,
            impact_convexity=0.0,
            impact_permanent_bp_per_usd_bn=0.0,
            futures_pass_through_frac=theta,
        ),
    )
    m = c.simulate(tiny_basis(cash_hf=1.0), sc).markets
    assert m.loc[1, "futures_impact_TY_bp"] == pytest.approx(5.0 * theta, rel=1e-12)
    assert m.loc[1, "basis_widening_TY_bp"] == pytest.approx(5.0 * (1 - theta), abs=1e-12)


def test_zero_shock_changes_nothing_but_accrued_interest(toy_system):
    res = c.simulate(toy_system, c.Scenario(name="calm", days=5))
    m = res.markets
    for b in ("2y", "5y", "10y", "30y"):
        assert (m[f"yield_change_{b}_bp"] == 0).all()
    assert (m["basis_widening_TY_bp"] == 0).all()
    # interest accrues onto loans and MMF NAV alike, so funding utilisation barely moves
    # (under 0.1 bp in five days)
    assert m["repo_rate_pct"].to_numpy() == pytest.approx(4.3, abs=1e-3)
    s = res.summary
    assert s["forced_sales_total_usd_bn"] == 0 and s["voluntary_sales_total_usd_bn"] == 0
    assert s["defaults_count"] == 0
    # the only equity changes are repo interest, which nets to zero across the system
    for ch in ("variation_margin", "bond_fundamental", "fire_sale", "default_losses"):
        assert s[f"equity_loss_{ch}_usd_bn"] == 0
    assert s["equity_loss_funding_cost_usd_bn"] == pytest.approx(0.0, abs=1e-9)


@pytest.fixture(scope="module")
def toy_system():
    return c.examples.toy_basis_trade()


@pytest.fixture(scope="module")
def stress():
    return c.scenarios.load("basis_unwind")


CHANNEL_EFFECTS = {
    "variation_margin": lambda r: r.summary["equity_loss_variation_margin_usd_bn"],
    "initial_margin": lambda r: (r.events["event"] == "initial_margin_call").sum(),
    "haircuts": lambda r: (r.events["event"] == "repo_margin_call").sum(),
    "deleveraging": lambda r: r.summary["voluntary_sales_total_usd_bn"],
    "redemptions": lambda r: (r.events["event"] == "redemption").sum(),
    "price_impact": lambda r: r.markets["impact_10y_bp"].abs().max(),
    "futures_impact": lambda r: r.markets["futures_impact_TY_bp"].abs().max(),
    "repo_market": lambda r: r.markets["repo_rate_pct"].max() - 4.3,
}


@pytest.mark.parametrize("channel", sorted(CHANNEL_EFFECTS))
def test_each_channel_switch_turns_its_channel_off(toy_system, stress, channel):
    effect = CHANNEL_EFFECTS[channel]
    on = c.simulate(toy_system, stress)
    off = c.simulate(toy_system, stress.with_channels(**{channel: False}))
    assert effect(on) > 1e-9
    assert effect(off) == pytest.approx(0.0, abs=1e-12)


def test_funding_runs_and_defaults_switch_off():
    # A fragile toy: hf_alpha with less cash and strict lenders, so that it is run on and
    # defaults under the stress; each switch removes its own effect.
    sc = c.scenarios.load("basis_unwind").with_params(impact_bp_per_usd_bn=0.3)
    sys_ = c.examples.toy_basis_trade()
    on = c.simulate(sys_, sc)
    assert on.summary["defaults_count"] >= 1
    off = c.simulate(sys_, sc.with_channels(defaults=False))
    assert off.summary["defaults_count"] == 0
    runs_off = c.simulate(sys_, sc.with_channels(funding_runs=False))
    assert (runs_off.events["event"] == "repo_not_rolled").sum() == 0


def test_volatility_spike_widens_the_basis_and_lifts_repo(toy_system):
    res = c.simulate(toy_system, c.scenarios.load("volatility_spike"))
    m = res.markets
    # cash cheapens (positive impact on the 10y yield), futures richen relative to cash
    assert m["impact_10y_bp"].max() > 0
    assert res.summary["peak_basis_widening_TY_bp"] > 1.0
    assert res.summary["peak_repo_rate_pct"] > 4.3
    # without price impact the spiral is broken: no widening and fewer forced sales
    calm = c.simulate(
        toy_system,
        c.scenarios.load("volatility_spike").with_channels(
            price_impact=False, futures_impact=False
        ),
    )
    assert calm.summary["peak_basis_widening_TY_bp"] == pytest.approx(0.0, abs=1e-9)
    assert calm.summary["forced_sales_total_usd_bn"] < res.summary["forced_sales_total_usd_bn"]


@pytest.mark.parametrize(
    "make",
    [
        lambda k, days: c.Scenario(name="v", days=days, volatility_multiplier=[k]),
        lambda k, days: c.Scenario(
            name="r", days=days, rate_shock_bp={"10y": [20 * k], "30y": [30 * k]}
        ),
    ],
    ids=["volatility", "rate"],
)
def test_larger_shocks_give_weakly_larger_sales_and_losses(toy_system, make):
    # Sales are measured in par (a value measure falls with prices) over five days; losses
    # over the first day. Over several days total losses need not be monotone: a bigger
    # first-day unwind shrinks dealers' matched books (freeing balance sheet) and repo
    # demand, which can soften later rounds of the spiral.
    prev_par = prev_loss = -np.inf
    for k in (1.2, 1.6, 2.2, 3.0, 4.0):
        par = c.simulate(toy_system, make(k, 5)).flows["par_usd_bn"].sum()
        loss = c.simulate(toy_system, make(k, 1)).summary["equity_loss_total_usd_bn"]
        assert par >= prev_par - 1e-9
        assert loss >= prev_loss - 1e-9
        prev_par, prev_loss = par, loss


def test_same_seed_same_result(toy_system, stress):
    a = c.simulate(toy_system, stress, rng=7)
    b = c.simulate(toy_system, stress, rng=7)
    assert a.equals(b)


def test_loss_attribution_adds_up(toy_system, stress):
    from contagion.schema import INSTITUTION_TYPES
    from contagion.state import PNL_CHANNELS

    s = c.simulate(toy_system, stress).summary
    by_channel = sum(s[f"equity_loss_{ch}_usd_bn"] for ch in PNL_CHANNELS)
    by_sector = sum(s[f"equity_loss_{t}_usd_bn"] for t in INSTITUTION_TYPES)
    assert by_channel == pytest.approx(s["equity_loss_total_usd_bn"], rel=1e-12)
    assert by_sector == pytest.approx(s["equity_loss_total_usd_bn"], rel=1e-9, abs=1e-9)


def test_result_round_trips_through_parquet(tmp_path, toy_system, stress):
    res = c.simulate(toy_system, stress, rng=3)
    back = c.Result.load(res.save(tmp_path / "run"))
    assert back.equals(res)
    assert back.config["seed"] == 3
    assert back.config["version"] == c.__version__


# --- realised volatility fed back into the index (mechanisms.volatility) --------------------
def test_realised_volatility_index_decays_on_a_calm_run(toy_system):
    # no yield moves: var_t = 0.94^t * var_0, so R_t = V0 * 0.94^(t / 2); the index follows
    # the (flat) scenario path whatever the weight, since R_t <= V0
    sc = c.Scenario(name="calm", days=5).with_params(realised_vol_weight_frac=1.0)
    m = c.simulate(toy_system, sc).markets
    v0 = toy_system.market.volatility_index
    want = v0 * 0.94 ** (np.arange(6) / 2)
    assert m["realised_volatility_index"].to_numpy() == pytest.approx(want, rel=1e-12)
    assert (m["volatility_index"] == v0).all()


def test_realised_volatility_feeds_the_index_and_the_spiral(toy_system, stress):
    base = c.simulate(toy_system, stress)
    fed = c.simulate(toy_system, stress.with_params(realised_vol_weight_frac=1.0))
    path = toy_system.market.volatility_index * np.r_[1.0, stress.path("volatility_multiplier")]
    v = fed.markets["volatility_index"].to_numpy()
    assert (v >= path - 1e-12).all()
    assert (v > path + 1.0).any()  # the stress moves yields by more than the index implies
    # yesterday's realised volatility sets today's index: V_t = path_t + max(0, R_{t-1} - V0)
    r = fed.markets["realised_volatility_index"].to_numpy()
    v0 = toy_system.market.volatility_index
    assert v[1:] == pytest.approx(path[1:] + np.maximum(r[:-1] - v0, 0.0), rel=1e-12)
    # a higher index raises IM and haircuts: weakly more forced sales and IM calls
    s0, s1 = base.summary, fed.summary
    assert s1["forced_sales_total_usd_bn"] >= s0["forced_sales_total_usd_bn"] - 1e-9
    im = "initial_margin_call"
    assert (fed.events["event"] == im).sum() >= (base.events["event"] == im).sum()
    assert fed.markets["im_multiplier"].max() > base.markets["im_multiplier"].max()


def test_realised_volatility_channel_switch(toy_system, stress):
    fed = stress.with_params(realised_vol_weight_frac=1.0)
    off = c.simulate(toy_system, fed.with_channels(realised_volatility=False))
    base = c.simulate(toy_system, stress)
    for name in ("markets", "institutions", "events", "flows"):
        pd.testing.assert_frame_equal(getattr(off, name), getattr(base, name))
