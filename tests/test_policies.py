"""Policies: off equals no action, each tool acts through its intended channel, validation."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import pytest

import contagion as c
from contagion.engine import Simulation
from contagion.policies import (
    POLICY_TYPES,
    APCMarginConfig,
    BasisFacilityConfig,
    CentralClearingConfig,
    MinimumHaircutConfig,
    Policy,
    PolicyConfig,
    QEConfig,
    SLRReliefConfig,
    SovereignFundConfig,
    StandingRepoConfig,
    Trigger,
    policy_from_dict,
)
from contagion.policies.fima import FIMARepoConfig
from contagion.policies.rates import PolicyRateConfig

FRAMES = ("markets", "institutions", "events", "flows")


@pytest.fixture(scope="module")
def stylised():
    return c.examples.stylised_us_2025()


@pytest.fixture(scope="module")
def stress():
    return c.scenarios.load("basis_unwind")


@pytest.fixture(scope="module")
def baseline(stylised, stress):
    return c.simulate(stylised, stress)


@pytest.fixture(scope="module")
def funding_stress(stress):
    """basis_unwind with money funds pulling back up to 40% of their overnight lending for
    a few days: enough to take GC past the top of the range for the SRF tests."""
    return stress.model_copy(update={"mmf_repo_pullback_frac": (0.0, 0.3, 0.4, 0.4, 0.3, 0.2, 0.1)})


NEVER = Trigger(start_day=999)
EVERY_POLICY_OFF = [
    QEConfig(reactive_share=0.5, budget_usd_bn=100, trigger=NEVER),
    StandingRepoConfig(trigger=NEVER, eligible=["dealer", "hedge_fund"]),
    SovereignFundConfig(reactive_share=0.5, budget_usd_bn=100, trigger=NEVER),
    SovereignFundConfig(
        reactive_share=0.5, budget_usd_bn=100, trigger=NEVER, funding="new_issuance"
    ),
    SLRReliefConfig(trigger=NEVER),
    MinimumHaircutConfig(trigger=NEVER),
    CentralClearingConfig(trigger=NEVER),
    APCMarginConfig(trigger=NEVER),
    BasisFacilityConfig(budget_usd_bn=100, trigger=NEVER),
    FIMARepoConfig(trigger=NEVER),
    PolicyRateConfig(trigger=NEVER),
]


def test_every_policy_type_is_covered():
    assert {p.type for p in EVERY_POLICY_OFF} == set(POLICY_TYPES)


@pytest.mark.parametrize("policy", EVERY_POLICY_OFF, ids=lambda p: p.type)
def test_policy_off_equals_no_action_bit_for_bit(stylised, stress, baseline, policy):
    res = c.simulate(stylised, stress, [policy])
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(res, name), getattr(baseline, name))
    core = {k: v for k, v in res.summary.items() if not k.startswith("policy_")}
    assert core == {k: v for k, v in baseline.summary.items() if not k.startswith("policy_")}
    assert res.summary["policy_cost_budget_spent_usd_bn"] == 0.0
    assert res.summary["policy_cost_cash_lent_peak_usd_bn"] == 0.0
    assert res.policy_usage.empty


EVERY_POLICY_ON = [p.model_copy(update={"trigger": Trigger()}) for p in EVERY_POLICY_OFF]


@pytest.mark.parametrize("policy", EVERY_POLICY_ON, ids=lambda p: p.type)
def test_acting_policies_move_books_only_through_orders(stylised, stress, policy):
    """Every step of a run with an acting policy is checked (contagion.testing.StepChecker):
    invariants, fresh cached sums, and only the declared state fields written; amounts are
    read-only outside the ledger, so a policy that wrote one would fail here."""
    sim = Simulation(stylised, stress, [policy], debug=True)
    res = sim.run()
    assert sim.checker.steps_run > 100
    # (tools whose effect is a rule or a rate, not an amount, record none)
    assert not res.policy_usage.empty or policy.type in {
        "min_haircut",
        "central_clearing",
        "policy_rate",
    }


def test_a_policy_view_is_read_only(stylised, stress):
    """Hooks see the state through read-only views: writing to one raises."""

    class Writer(Policy):
        def on_day(self, view):
            view.cash[0] = 1e9  # not allowed: moves go through orders and the ledger
            return []

    class WriterConfig(PolicyConfig):
        type: Literal["writer"] = "writer"

        def build(self) -> Policy:
            return Writer(self)

    with pytest.raises(ValueError, match="read-only"):
        c.simulate(stylised, stress, [WriterConfig()])


def tiny_market_seller(sales: float):
    """A single 'other' seller and a central bank; linear impact, no dealers."""
    market = {
        "buckets": [
            {
                "name": "10y",
                "maturity_years": 10,
                "outstanding_usd_bn": 1000,
                "yield_pct": 4.0,
                "modified_duration_years": 8.0,
            }
        ],
        "repo_rate_pct": 4.0,
        "on_rrp_rate_pct": 4.0,
        "policy_rate_pct": 4.0,
        "volatility_index": 100,
    }
    inst = pd.DataFrame(
        {
            "id": ["seller", "fed"],
            "type": ["other", "central_bank"],
            "cash_usd_bn": [0.0, 0.0],
            "ust_10y_par_usd_bn": [100.0, 0.0],
        }
    )
    exp = pd.DataFrame(columns=["kind", "source", "target"])
    sc = c.Scenario(
        name="sale",
        days=1,
        exogenous_sales_usd_bn={"10y": [sales]},
        # transient impact only (no stock effect), so the closed forms below stay simple
        params=c.ModelParams(
            impact_bp_per_usd_bn=0.5, impact_convexity=0.0, impact_permanent_bp_per_usd_bn=0.0
        ),
    )
    return c.System(inst, exp, market), sc


def test_qe_buying_the_exact_net_sales_removes_their_price_impact():
    # 10 USD bn sold: without QE the 10y rises 0.5 * 10 = 5 bp; QE buying all of it
    # (reactive share 1) leaves no net sales, so no impact, and the seller is paid in full.
    system, sc = tiny_market_seller(10.0)
    without = c.simulate(system, sc)
    assert without.markets.loc[1, "yield_change_10y_bp"] == pytest.approx(5.0)
    with_qe = c.simulate(system, sc, [QEConfig(reactive_share=1.0, budget_usd_bn=100)])
    assert with_qe.markets.loc[1, "yield_change_10y_bp"] == pytest.approx(0.0, abs=1e-12)
    assert with_qe.summary["policy_qe_bought_usd_bn"] == pytest.approx(10.0)
    # paid with new reserves: the central bank's cash falls by what it bought
    assert with_qe.summary["cb_reserves_created_usd_bn"] == pytest.approx(10.0)


def test_qe_budget_and_price_limit_bind():
    system, sc = tiny_market_seller(10.0)
    capped = c.simulate(system, sc, [QEConfig(reactive_share=1.0, budget_usd_bn=4.0)])
    # the budget is spent at the bid price (100); settled at the post-impact price it is
    # a little less: 4 par at 100 - 8 * 0.03 = 99.76
    assert capped.summary["policy_qe_bought_usd_bn"] == pytest.approx(4 * 0.9976)
    # impact of the 6 not bought: 0.5 * 6 = 3 bp
    assert capped.markets.loc[1, "yield_change_10y_bp"] == pytest.approx(3.0)
    limited = c.simulate(
        system, sc, [QEConfig(reactive_share=1.0, budget_usd_bn=100, max_price={"10y": 99.0})]
    )
    assert limited.summary["policy_qe_bought_usd_bn"] == 0.0


def test_srf_caps_the_repo_rate_for_eligible_borrowers_only(stylised, funding_stress):
    stress = funding_stress
    baseline = c.simulate(stylised, stress)
    cap = stylised.market.srf_rate_pct  # minimum bid (top of the range), no stigma
    assert baseline.summary["peak_repo_rate_pct"] > cap  # the pullback strains funding
    # a limit the stress does not exhaust (the 95% rule is tested below)
    res = c.simulate(stylised, stress, [StandingRepoConfig(aggregate_limit_usd_bn=5000)])
    m = res.markets
    assert res.summary["policy_srf_peak_take_up_usd_bn"] < 0.95 * 5000
    out = res.policy_usage.query("item == 'outstanding'")["value_usd_bn"]
    assert out.max() < 0.95 * 5000
    # while eligible dealers have balance sheet to take more, GC stays at the cap; on days
    # their room is used up the facility can lend no more and GC rises past it
    room = m["repo_supply_facilities_usd_bn"] < m["repo_facility_capacity_usd_bn"] * (1 - 1e-9)
    assert room.iloc[1:].any()
    assert (m.loc[room, "repo_rate_pct"] <= cap + 1e-9).all()
    assert (m.loc[room, "repo_rate_eligible_pct"] <= cap + 1e-9).all()
    full = ~room & (m["repo_rate_pct"] > cap + 1e-9)
    assert (m.loc[full, "repo_rate_eligible_pct"] == m.loc[full, "repo_rate_pct"]).all()
    # hedge funds, ineligible, pay GC plus their spread
    assert (m["hedge_fund_repo_rate_pct"] >= m["repo_rate_pct"] - 1e-12).all()
    assert res.summary["peak_repo_rate_pct"] < baseline.summary["peak_repo_rate_pct"]
    # with central clearing the facility needs no dealer balance sheet: GC never passes it
    cleared = c.simulate(
        stylised, stress, [StandingRepoConfig(aggregate_limit_usd_bn=5000, central_clearing=True)]
    ).markets
    assert (cleared["repo_rate_pct"].iloc[1:] <= cap + 1e-9).all()
    takers = res.policy_usage.query("item in ['take_up', 'inventory_financing']")
    types = stylised.institutions.set_index("id")["type"]
    assert set(types[takers["institution"]]) == {"dealer"}


def test_srf_stigma_raises_the_cap(stylised, funding_stress):
    res = c.simulate(stylised, funding_stress, [StandingRepoConfig(stigma_premium_bp=5)])
    cap = stylised.market.srf_rate_pct + 0.05
    m = res.markets
    room = m["repo_supply_facilities_usd_bn"] < m["repo_facility_capacity_usd_bn"] * (1 - 1e-9)
    assert room.iloc[1:].any()
    assert (m.loc[room, "repo_rate_eligible_pct"] <= cap + 1e-12).all()
    # it binds: GC reaches the stigma-raised cost on some day with room to spare
    assert (m.loc[room, "repo_rate_pct"] > cap - 1e-6).any()


def test_srf_cap_stops_binding_at_the_limit(stylised, funding_stress):
    res = c.simulate(stylised, funding_stress, [StandingRepoConfig(aggregate_limit_usd_bn=20)])
    m = res.markets
    out = res.policy_usage.query("item == 'outstanding'").set_index("day")["value_usd_bn"]
    assert out.max() == pytest.approx(20.0, rel=1e-3)
    # on a day the facility has nothing left to lend, eligible dealers pay the market rate,
    # which passes the cap
    exhausted = m["repo_facility_capacity_usd_bn"] <= m["repo_supply_facilities_usd_bn"] + 1e-9
    days = m.index[exhausted & (m.index > 0)]
    assert len(days)
    pd.testing.assert_series_equal(
        m.loc[days, "repo_rate_eligible_pct"], m.loc[days, "repo_rate_pct"], check_names=False
    )
    assert m.loc[days, "repo_rate_eligible_pct"].max() > stylised.market.srf_rate_pct


def test_srf_does_not_lend_to_ineligible_hedge_funds(stylised, stress):
    only_funds = c.simulate(stylised, stress, [StandingRepoConfig(eligible=["hedge_fund"])])
    usage = only_funds.policy_usage
    lent_to = set(usage.loc[usage["institution"] != "", "institution"])
    types = stylised.institutions.set_index("id")["type"]
    assert lent_to <= set(types[types == "hedge_fund"].index)
    dealers_only = c.simulate(stylised, stress, [StandingRepoConfig()])
    lent_to = set(dealers_only.policy_usage.query("institution != ''")["institution"])
    assert not lent_to & set(types[types == "hedge_fund"].index)


def test_srf_central_clearing_caps_gc_where_dealers_are_out_of_balance_sheet():
    """The SRF caps GC at its cost only while eligible dealers have balance-sheet room to
    lend its cash on; cleared trades are netted, so the cap holds when they have none
    (DESIGN 7.1; mechanisms.repo_market). The main job's stress fills the dealers."""
    from contagion import examples, scenarios

    system = examples.calibrated_us_2025()
    sc = scenarios.load("basis_unwind").with_params(**examples.model_params(system))
    terms = {"aggregate_limit_usd_bn": 500, "stigma_premium_bp": 5}
    plain = c.simulate(system, sc, [StandingRepoConfig(**terms)])
    cleared = c.simulate(system, sc, [StandingRepoConfig(**terms, central_clearing=True)])
    cost = plain.markets["srf_rate_pct"].min() + 0.05  # minimum bid plus the stigma premium
    assert plain.summary["dealer_room_exhausted_days"] > 0
    assert plain.summary["peak_repo_rate_pct"] > cost + 0.05  # dealers cannot lend it on
    assert cleared.summary["peak_repo_rate_pct"] == pytest.approx(cost, abs=1e-9)


def test_swf_financed_by_same_bucket_issuance_does_less(stylised, stress, baseline):
    buy = {"reactive_share": 0.5, "budget_usd_bn": 300, "buckets": ["10y"]}
    assets = c.simulate(stylised, stress, [SovereignFundConfig(**buy)]).summary
    issued = c.simulate(
        stylised,
        stress,
        [SovereignFundConfig(**buy, funding="new_issuance", issuance_bucket="10y")],
    ).summary
    base = baseline.summary["peak_yield_change_10y_bp"]
    assert assets["peak_yield_change_10y_bp"] < issued["peak_yield_change_10y_bp"] <= base + 1e-9
    assert issued["policy_swf_issued_par_usd_bn"] > 0


def test_qe_relieves_funding_and_swf_does_not(stylised, stress, baseline):
    size = {"reactive_share": 0.5, "budget_usd_bn": 300}
    qe_res = c.simulate(stylised, stress, [QEConfig(**size)])
    swf_res = c.simulate(stylised, stress, [SovereignFundConfig(**size)])
    qe, swf = qe_res.summary, swf_res.summary
    base = baseline.summary["cb_reserves_created_usd_bn"]
    # QE creates reserves worth its purchases; the fund creates none (its buyers pay). Money
    # funds' ON RRP drawdowns create reserves too and differ between the runs: net them out
    drawn = {k: r.markets["on_rrp_usd_bn"].iloc[0] - r.markets["on_rrp_usd_bn"].iloc[-1]
             for k, r in (("qe", qe_res), ("swf", swf_res), ("base", baseline))}  # fmt: skip
    own_qe = qe["cb_reserves_created_usd_bn"] - base - (drawn["qe"] - drawn["base"])
    assert own_qe == pytest.approx(qe["policy_qe_bought_usd_bn"], rel=0.01)
    # (up to the central bank's interest on ON RRP balances drawn on other days: 0.1% of the
    # purchases at most)
    own_swf = swf["cb_reserves_created_usd_bn"] - base - (drawn["swf"] - drawn["base"])
    assert abs(own_swf) <= 1e-3 * size["budget_usd_bn"]
    # the reserves stay in the banking system (how much banks lend of them, and GC, also
    # depend on how much leverage each purchase keeps alive: tests/test_funding.py compares
    # them for the same scheduled purchases in a funding stress)
    gap = qe_res.markets["bank_reserves_usd_bn"] - swf_res.markets["bank_reserves_usd_bn"]
    assert gap.iloc[-1] > 0.9 * qe["policy_cost_budget_spent_usd_bn"]


# dealers bound by the leverage ratio alone: their VaR and internal limits out of the way
SLR_BOUND = {"var_room_ratio": 20.0, "dealer_internal_headroom_frac": 20.0}


def test_slr_relief_frees_dealer_room_when_the_leverage_ratio_binds(stylised, stress):
    sc = stress.with_params(**SLR_BOUND)
    base = c.simulate(stylised, sc)
    res = c.simulate(stylised, sc, [SLRReliefConfig()])
    for key in ("dealer_peak_utilisation_frac", "dealer_peak_utilisation_slr_frac"):
        assert res.summary[key] < base.summary[key], key
    assert res.summary["peak_yield_change_10y_bp"] < base.summary["peak_yield_change_10y_bp"]


def test_slr_relief_does_little_for_var_bound_dealers(stylised, stress):
    """Relief loosens the leverage ratio only: dealers held back by their VaR limits (tight
    here, with volatility doubling) absorb no more, so yields barely move."""
    sc = stress.with_params(var_room_ratio=0.3, dealer_internal_headroom_frac=20.0)
    base = c.simulate(stylised, sc)
    res = c.simulate(stylised, sc, [SLRReliefConfig()])
    assert base.summary["dealers_bound_by_var_dealer_days"] > 0
    assert (
        res.summary["dealer_peak_utilisation_slr_frac"]
        <= (base.summary["dealer_peak_utilisation_slr_frac"])
    )
    assert res.summary["dealer_peak_utilisation_var_frac"] == pytest.approx(
        base.summary["dealer_peak_utilisation_var_frac"], abs=0.02
    )
    relief = base.summary["peak_yield_change_10y_bp"] - res.summary["peak_yield_change_10y_bp"]
    free = c.simulate(stylised, stress.with_params(**SLR_BOUND), [SLRReliefConfig()])
    free_base = c.simulate(stylised, stress.with_params(**SLR_BOUND))
    relief_when_slr_binds = (
        free_base.summary["peak_yield_change_10y_bp"] - free.summary["peak_yield_change_10y_bp"]
    )
    assert relief < 0.5 * relief_when_slr_binds


def test_minimum_haircut_is_in_force_before_the_shock(stylised):
    calm = c.Scenario(name="calm", days=1)
    res = c.simulate(stylised, calm, [MinimumHaircutConfig(floor_frac=0.03)])
    # funds met the floor on day 0 from cash or by scaling down: less leverage, no stress sales
    base = c.simulate(stylised, calm)
    inst, b = res.institutions, base.institutions
    hf = (inst["type"] == "hedge_fund") & (inst["day"] == 0)
    assert inst.loc[hf, "repo_borrowed_usd_bn"].sum() < b.loc[hf, "repo_borrowed_usd_bn"].sum()
    assert res.markets.loc[0, "hedge_fund_haircut_frac"] >= 0.03 - 1e-12
    # funds left with no spare cash still owe the first day's repo interest (a carry cost),
    # a small sale next to the ex ante deleveraging
    ex_ante = res.summary["policy_min_haircut_ex_ante_sales_usd_bn"]
    assert ex_ante > 0
    assert res.summary["forced_sales_total_usd_bn"] < 0.05 * ex_ante


def test_central_clearing_nets_dealer_repo(stylised, stress):
    sc = stress.with_params(**SLR_BOUND)
    base = c.simulate(stylised, sc)
    res = c.simulate(stylised, sc, [CentralClearingConfig(netting_frac=0.5)])
    # netting frees leverage exposure: the leverage ratio fills more slowly (both reach it
    # in this stress) and yields rise less
    u, u0 = res.markets["dealer_utilisation_slr_frac"], base.markets["dealer_utilisation_slr_frac"]
    assert (u.iloc[:4] <= u0.iloc[:4] + 1e-12).all() and u.sum() < u0.sum()
    assert res.summary["peak_yield_change_10y_bp"] < base.summary["peak_yield_change_10y_bp"]
    assert (res.policy_usage["item"] == "exposure_netted").any()


def test_apc_margin_caps_daily_im_increases(stylised, stress, baseline):
    res = c.simulate(stylised, stress, [APCMarginConfig(max_daily_increase_frac=0.1)])
    im = res.markets["im_multiplier"].to_numpy()
    assert (im[1:] <= np.maximum(im[:-1], 1.0) * 1.1 + 1e-12).all()
    assert im.max() < baseline.markets["im_multiplier"].max()
    calls = res.events.query("event == 'initial_margin_call'")["amount_usd_bn"].sum()
    base_calls = baseline.events.query("event == 'initial_margin_call'")["amount_usd_bn"].sum()
    assert calls < base_calls


def test_basis_facility_sells_futures_against_its_purchases(stylised, stress, baseline):
    res = c.simulate(stylised, stress, [BasisFacilityConfig(budget_usd_bn=300)])
    s = res.summary
    assert s["policy_basis_facility_futures_sold_usd_bn"] > 0
    assert s["peak_basis_widening_FV_bp"] < baseline.summary["peak_basis_widening_FV_bp"]
    assert s["cb_reserves_created_usd_bn"] > baseline.summary["cb_reserves_created_usd_bn"]


def test_metric_trigger_waits_for_the_threshold(stylised, stress, baseline):
    widening = baseline.markets["basis_widening_FV_bp"]
    first = int(widening.gt(20).idxmax())  # first day (close) with widening above 20 bp
    trig = Trigger(metric="basis_widening_FV_bp", threshold=20)
    res = c.simulate(
        stylised, stress, [QEConfig(reactive_share=0.5, budget_usd_bn=300, trigger=trig)]
    )
    bought_days = res.policy_usage.query("item == 'bought'")["day"]
    assert bought_days.min() == first + 1  # acts the day after the close that crossed it


def test_duration_limits_the_active_days(stylised, stress):
    res = c.simulate(
        stylised, stress, [QEConfig(reactive_share=0.5, budget_usd_bn=300, duration_days=2)]
    )
    assert set(res.policy_usage.query("item == 'bought'")["day"]) <= {1, 2}


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"type": "helicopter"}, "type"),
        ({"type": "qe", "budget_usd_bn": -5}, "budget_usd_bn"),
        ({"type": "qe"}, "budget_usd_bn"),
        ({"type": "srf", "eligible": ["pension"]}, "eligible.0"),
        ({"type": "qe", "budget_usd_bn": 1, "colour": "red"}, "colour"),
        ({"type": "qe", "budget_usd_bn": 1, "trigger": {"metric": "x"}}, "trigger"),
    ],
)
def test_invalid_policy_configs_name_the_field(doc, field):
    with pytest.raises(c.InputError) as err:
        policy_from_dict(doc)
    assert err.value.problems[0].field == field


def test_unknown_trigger_metric_is_rejected_at_start(stylised, stress):
    bad = QEConfig(budget_usd_bn=1, trigger=Trigger(metric="basis_of_everything", threshold=1))
    with pytest.raises(c.InputError, match="unknown metric") as err:
        c.simulate(stylised, stress, [bad])
    assert err.value.problems[0].field == "trigger.metric"


def test_unknown_bucket_in_a_schedule_is_rejected(stylised, stress):
    with pytest.raises(c.InputError, match="unknown bucket"):
        c.simulate(stylised, stress, [QEConfig(budget_usd_bn=1, schedule_usd_bn={"7y": [1]})])


# --- FIMA repo: foreign official holders borrow instead of selling ---------------------------
def test_fima_repo_is_a_plug_in():
    """The facility is one module that uses only the policy interface and the orders."""
    import ast
    from pathlib import Path

    import contagion.policies.fima as fima

    tree = ast.parse(Path(fima.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {
        "__future__", "typing", "numpy", "pydantic", "contagion.orders",
        "contagion.policies.base", "contagion.policies.registry", "contagion.schema",
    }  # fmt: skip
    assert "fima_repo" in POLICY_TYPES


def test_fima_repo_replaces_foreign_official_sales_with_loans():
    # the toy's foreign official sector (type other) sells 10y 10, 15, 15, ... and 30y 5, 8,
    # 8, ... in basis_unwind; with the facility it borrows instead, up to USD 60 bn
    from contagion.policies.fima import FIMARepoConfig

    toy, sc = c.examples.toy_basis_trade(), c.scenarios.load("basis_unwind")
    base = c.simulate(toy, sc)
    res = c.simulate(toy, sc, [FIMARepoConfig()])
    sm, sm0 = res.summary, base.summary
    avoided = sm["policy_fima_repo_sales_avoided_usd_bn"]
    assert 59.0 < avoided <= 60.0 + 1e-9  # the per-counterparty limit binds
    # what it did not sell it borrowed (the loans = the cash the sales were to raise)
    assert sm["policy_fima_repo_lent_usd_bn"] == pytest.approx(avoided, rel=1e-12)
    assert sm["exogenous_sales_total_usd_bn"] == pytest.approx(
        sm0["exogenous_sales_total_usd_bn"] - avoided, rel=1e-9
    )
    assert sm["peak_yield_change_10y_bp"] < sm0["peak_yield_change_10y_bp"]
    assert sm["policy_cost_cash_lent_peak_usd_bn"] == sm["policy_fima_repo_peak_take_up_usd_bn"]
    inst = res.institutions
    last = inst[(inst["day"] == sc.days) & (inst["institution"] == "foreign_official")]
    last0 = base.institutions
    last0 = last0[(last0["day"] == sc.days) & (last0["institution"] == "foreign_official")]
    # it kept its bonds and owes the central bank the loans plus interest
    assert last["treasury_value_usd_bn"].iloc[0] > last0["treasury_value_usd_bn"].iloc[0]
    assert last["repo_borrowed_usd_bn"].iloc[0] >= sm["policy_fima_repo_lent_usd_bn"]


def test_fima_repo_first_day_loan_is_the_sale_it_replaces():
    # day 1: 10 of 10y and 5 of 30y planned at price ~100 (market value): loans 10 and 5
    from contagion.policies.fima import FIMARepoConfig

    toy = c.examples.toy_basis_trade()
    sc = c.Scenario(days=1, exogenous_sales_usd_bn={"10y": [10.0], "30y": [5.0]})
    res = c.simulate(toy, sc, [FIMARepoConfig(haircut_frac=0.05)])
    take = res.policy_usage[res.policy_usage["item"] == "take_up"]
    assert take["value_usd_bn"].sum() == pytest.approx(15.0)
    assert res.summary["exogenous_sales_total_usd_bn"] == pytest.approx(0.0, abs=1e-9)
    assert res.summary["peak_yield_change_10y_bp"] == 0.0  # nothing reached the market


def test_fima_repo_limits_and_close():
    from contagion.policies.fima import FIMARepoConfig

    toy, sc = c.examples.toy_basis_trade(), c.scenarios.load("basis_unwind")
    capped = c.simulate(toy, sc, [FIMARepoConfig(aggregate_limit_usd_bn=20.0)])
    # new loans stop once 20 is outstanding (interest accrued counts as outstanding)
    assert 19.99 < capped.summary["policy_fima_repo_lent_usd_bn"] <= 20.0
    # open for three days: the loans are called on day 4 and repaid from the cash they raised
    brief = c.simulate(toy, sc, [FIMARepoConfig(duration_days=3)])
    out = brief.policy_usage[brief.policy_usage["item"] == "outstanding"].set_index("day")
    assert out.loc[3, "value_usd_bn"] == pytest.approx(60.0)
    inst = brief.institutions
    holder = inst[inst["institution"] == "foreign_official"].set_index("day")
    assert holder.loc[4, "repo_borrowed_usd_bn"] == pytest.approx(0.0, abs=1e-9)
