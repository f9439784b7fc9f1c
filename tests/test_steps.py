"""Contract suite over every step of the engine and every policy, on random small systems.

In the style of scikit-learn's ``parametrize_with_checks``: each run is made with
``Simulation(debug=True)``, whose :class:`contagion.testing.StepChecker` checks after every
step that the accounting invariants hold, that no cached sum of the ledger is stale and
that the step wrote only the state fields it declares (``contagion.engine.STEPS``); the
ledger keeps every amount array read-only outside its own methods. On top:

* each step is deterministic: two runs give the same state after every step;
* each policy switched off (never triggered) equals no action bit for bit;
* a run saved after any day resumes bit for bit;
* the recorder only observes: a run without it ends in the same state;
* the waterfall and default resolution run alone on a hand-checkable system.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import contagion as c
from contagion.engine import STEPS, Simulation
from contagion.mechanisms import waterfall
from contagion.policies import registry
from contagion.policies.fima import FIMARepoConfig
from contagion.synthetic import BUCKETS, generate_system

#: One acting configuration per registered policy type (a new tool must add its own).
POLICY_EXAMPLES = {
    "qe": lambda: c.policies.QEConfig(
        reactive_share=0.4, budget_usd_bn=80, schedule_usd_bn={"10y": [5, 5]}
    ),
    "srf": lambda: c.policies.StandingRepoConfig(
        eligible=["dealer", "hedge_fund"], aggregate_limit_usd_bn=60, stigma_premium_bp=5
    ),
    "swf": lambda: c.policies.SovereignFundConfig(
        reactive_share=0.3, budget_usd_bn=40, funding="new_issuance", issuance_bucket="2y"
    ),
    "basis_facility": lambda: c.policies.BasisFacilityConfig(reactive_share=0.3, budget_usd_bn=40),
    "slr_relief": lambda: c.policies.SLRReliefConfig(trigger={"start_day": 2}),
    "min_haircut": lambda: c.policies.MinimumHaircutConfig(floor_frac=0.03),
    "central_clearing": lambda: c.policies.CentralClearingConfig(netting_frac=0.5),
    "apc_margin": lambda: c.policies.APCMarginConfig(max_daily_increase_frac=0.05),
    "fima_repo": lambda: FIMARepoConfig(per_counterparty_limit_usd_bn=20),
}
SEEDS = range(16)  # random systems, scenarios and policy mixes (the CI size)


def test_every_registered_policy_has_an_example():
    assert set(POLICY_EXAMPLES) == set(registry.policy_types())


def random_case(seed: int):
    """A small random system, a random scenario and a random mix of policies."""
    rng = np.random.default_rng(seed)
    system = generate_system(
        n_hedge_funds=int(rng.integers(1, 7)),
        n_dealers=int(rng.integers(1, 4)),
        n_mmfs=int(rng.integers(0, 3)),
        n_asset_managers=int(rng.integers(1, 3)),
        n_other=int(rng.integers(0, 3)),
        exposures_per_fund=int(rng.integers(5, 9)),
        seed=int(rng.integers(2**32)),
    )
    days = int(rng.integers(2, 7))

    def path(lo, hi):
        return [float(x) for x in rng.uniform(lo, hi, int(rng.integers(0, days + 1)))]

    channels = {k: bool(rng.random() > 0.15) for k in c.Channels.model_fields}
    scenario = c.Scenario(
        name=f"random{seed}",
        days=days,
        volatility_multiplier=path(1.0, 4.0),
        rate_shock_bp={b: path(-50.0, 150.0) for b in BUCKETS if rng.random() < 0.6},
        exogenous_sales_usd_bn={b: path(0.0, 80.0) for b in BUCKETS if rng.random() < 0.4},
        am_redemption_frac=path(0.0, 0.05),
        mmf_outflow_frac=path(0.0, 0.05),
        haircut_addon_frac=path(0.0, 0.05),
        initial_margin_addon_frac=path(0.0, 0.5),
        mmf_repo_pullback_frac=path(0.0, 0.6),
        dealer_capacity_shock_frac=path(-0.5, 0.2),
        channels=channels,
    ).with_params(
        impact_bp_per_usd_bn=float(rng.uniform(0.005, 0.3)),
        impact_decay_frac=float(rng.uniform(0.0, 0.3)),
        realised_vol_weight_frac=float(rng.uniform(0.0, 1.0)),
        futures_pass_through_frac=float(rng.uniform(0.0, 1.0)),
        outside_demand_usd_bn_per_bp=float(rng.uniform(0.0, 5.0)),
    )
    kinds = [k for k in POLICY_EXAMPLES if rng.random() < 0.35]
    return system, scenario, [POLICY_EXAMPLES[k]() for k in kinds]


def test_every_step_keeps_the_contract():
    """Random systems, scenarios and policy mixes; every step checked, every step reached."""
    seen: set[str] = set()
    for seed in SEEDS:
        system, scenario, policies = random_case(seed)
        sim = Simulation(system, scenario, policies, debug=True)
        try:  # the checker raises on a broken invariant, a stale sum or an undeclared write
            res = sim.run()
        except Exception as err:
            raise AssertionError(f"random case {seed}: {err}") from err
        seen.update(name for name, _ in sim.checker.digests)
        assert len(res.markets) == scenario.days + 1
        # deterministic step by step: a second run passes through the same states
        again = Simulation(system, scenario, policies, debug=True)
        again.run()
        assert again.checker.digests == sim.checker.digests, f"random case {seed}"
    missing = set(STEPS) - seen
    assert missing <= {"clearing"}, sorted(missing)  # (clearing needs a defaulted estate)


FRAMES = ("markets", "institutions", "events", "flows")


@pytest.mark.parametrize("kind", sorted(POLICY_EXAMPLES))
@pytest.mark.parametrize("seed", [1, 2])
def test_a_policy_switched_off_equals_no_action(kind, seed):
    system, scenario, _ = random_case(seed)
    off = POLICY_EXAMPLES[kind]().model_copy(update={"trigger": c.policies.Trigger(start_day=999)})
    base = c.simulate(system, scenario)
    res = c.simulate(system, scenario, [off])
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(res, name), getattr(base, name), check_exact=True)
    assert res.policy_usage.empty
    assert {k: v for k, v in res.summary.items() if k in base.summary} == base.summary


@pytest.mark.parametrize("split", [1, 4])
def test_a_saved_run_resumes_bit_for_bit(tmp_path, split):
    system = c.examples.stylised_us_2025()
    scenario = c.scenarios.load("basis_unwind").model_copy(update={"days": 8})
    policies = [POLICY_EXAMPLES["qe"](), POLICY_EXAMPLES["srf"](), POLICY_EXAMPLES["fima_repo"]()]
    whole = Simulation(system, scenario, policies)
    full = whole.run()
    first = Simulation(system, scenario, policies)
    first.run(days=split)
    first.save(tmp_path / "state.npz")
    second = Simulation.resume(system, scenario, policies, tmp_path / "state.npz")
    assert second.state.day == split
    rest = second.run()
    assert second.state.equals(whole.state)
    pd.testing.assert_frame_equal(
        rest.markets, full.markets.loc[split + 1 :], check_exact=True, check_freq=False
    )


def test_the_recorder_only_observes():
    system = c.examples.stylised_us_2025()
    scenario = c.scenarios.load("basis_unwind")
    # a metric trigger reads the previous close from the state, not from the recorder
    qe = c.policies.QEConfig(
        reactive_share=0.5,
        budget_usd_bn=100,
        trigger={"metric": "yield_change_10y_bp", "threshold": 20.0},
    )
    recorded = Simulation(system, scenario, [qe])
    res = recorded.run()
    assert not res.policy_usage.empty  # the trigger fired
    bare = Simulation(system, scenario, [qe])
    for _ in range(scenario.days):
        bare.run_day()
    assert bare.state.equals(recorded.state)


# --- the waterfall and default resolution alone -------------------------------------------
def _toy_day():
    from contagion.context import Day, DayLog

    sim = Simulation(c.examples.toy_basis_trade(), c.Scenario(days=1))
    topo, L = sim.ctx.topo, sim.ledger
    L.thaw()
    day = Day(0, DayLog.empty(topo.n, topo.n_buckets), L.leverage(), L.loss_frac())
    return sim, day


def test_pay_step_pays_pro_rata_from_cash():
    # hf_alpha owes a VM call of 2 with cash 1 and IM posted 2: it pays half of every due
    sim, day = _toy_day()
    s, topo, L = sim.state, sim.ctx.topo, sim.ledger
    i = topo.cs.index_of("hf_alpha")
    e = int(np.flatnonzero(topo.m_source == i)[0])
    vm = np.zeros(len(s.notional))
    vm[e] = -2.0  # hf_alpha's short lost 2 on the futures: called as VM
    L.settle_vm(vm, np.zeros(len(topo.ccp_rows)))
    cash0 = s.cash[i]
    still = waterfall.pay_step(s, sim.ctx, L, day, sim.desk)
    assert cash0 == 1.0
    assert s.cash[i] == pytest.approx(0.0)
    assert s.vm_due[e] == pytest.approx(1.0)
    assert still[i] == pytest.approx(1.0)
    from contagion.testing import check_invariants

    check_invariants(sim)


def test_plan_step_unwinds_what_cash_cannot_pay():
    # hf_alpha still owes 1 with no free bonds: it unwinds phi = need / U of its book,
    # U = V - L + IM + scalable dues = 100 - 100 + 2 + 0 = 2, so phi = 1 / 2
    sim, day = _toy_day()
    s, topo, L = sim.state, sim.ctx.topo, sim.ledger
    i = topo.cs.index_of("hf_alpha")
    owed = np.zeros(topo.n)
    owed[i] = 1.0
    day.first = False
    sell, phi, close = waterfall.plan_step(s, sim.ctx, L, day, sim.desk, owed)
    assert phi[i] == pytest.approx(0.5)
    assert sell[i].sum() == pytest.approx(50.0)  # half of its 10y 100
    assert close[topo.m_source == i] == pytest.approx(0.5)


def test_default_step_resolves_an_insolvent_fund():
    # hf_alpha's equity (3) is wiped out by a 4-point fall of its 10y bonds; it defaults,
    # its lender seizes the collateral and its futures are closed out by the CCP
    from contagion.mechanisms import defaults as dfl
    from contagion.mechanisms import prices

    sim, day = _toy_day()
    s, topo, L = sim.state, sim.ctx.topo, sim.ledger
    i = topo.cs.index_of("hf_alpha")
    s.impact_bp[topo.cs.market.bucket_names.index("10y")] += 60.0  # ~ -4.8 points
    prices.set_prices(s, topo)
    from contagion.mechanisms import margin

    margin.mark_to_market(s, sim.ctx, L, day)
    assert L.equity()[i] < 0
    assert dfl.default_step(s, sim.ctx, L, day, np.zeros(topo.n))
    assert s.defaulted[i] and day.log.defaults[0]["cause"][0] == "insolvency"
    assert s.par[i].sum() == pytest.approx(0.0, abs=1e-9)  # seized or to be liquidated
    assert (s.notional[topo.m_source == i] == 0).all()
