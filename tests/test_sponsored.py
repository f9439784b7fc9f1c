"""Sponsored repo through FICC (contagion.mechanisms.sponsored): closed forms on tiny systems.

Every system here has zero rates (no interest accrues), zero convexity and prices at 100, so
each number can be checked by hand. A 50 bp rise of the 10y yield with duration 8 moves the
10y price to ``p`` (read from the run), and a fund holding 102 par against a 100 loan from
FICC is insolvent with a collateral shortfall of ``100 - 1.02 p``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_engine import QUIET

import contagion as c
from contagion.engine import Simulation
from contagion.mechanisms import sponsored

MARKET = {
    "buckets": [
        {"name": "2y", "maturity_years": 2, "outstanding_usd_bn": 1000, "yield_pct": 0.0,
         "modified_duration_years": 1.9},
        {"name": "10y", "maturity_years": 10, "outstanding_usd_bn": 1000, "yield_pct": 0.0,
         "modified_duration_years": 8.0},
    ],
    "futures": [],
    "repo_rate_pct": 0.0,
    "on_rrp_rate_pct": 0.0,
    "policy_rate_pct": 0.0,
    "volatility_index": 100,
}  # fmt: skip


def system(inst: list[dict], exp: list[dict], name: str = "sponsored") -> c.System:
    df = pd.DataFrame(inst)
    num = [col for col in df.columns if col.endswith("_usd_bn")]
    df[num] = df[num].fillna(0.0)
    e = pd.DataFrame(exp)
    e["kind"] = "repo"
    e["haircut_frac"] = 0.0
    e["segment"] = e.get("segment", pd.Series(["sponsored"] * len(e))).fillna("sponsored")
    return c.System(df, e, MARKET, name=name)


def leg(source: str, target: str, amount: float, bucket: str = "10y", **kw) -> dict:
    return {"source": source, "target": target, "amount_usd_bn": amount,
            "collateral_bucket": bucket, **kw}  # fmt: skip


def shock_10y(days: int = 1, **channels) -> c.Scenario:
    return c.Scenario(
        name="10y up 50 bp",
        days=days,
        rate_shock_bp={"10y": [50.0] + [0.0] * (days - 1)},
        channels=c.Channels(**{**QUIET, **channels}),
    )


def run(sys: c.System, sc: c.Scenario) -> Simulation:
    sim = Simulation(sys, sc, debug=True)  # every step checked: invariants, declared writes
    sim.record()
    return sim


def equity_change(sim: Simulation) -> pd.Series:
    s = sim.state
    return pd.Series(sim.ledger.equity() - s.ref.equity0, index=sim.ctx.topo.cs.ids)


def legs(sim: Simulation) -> pd.Series:
    r = sim.ctx.topo.repo
    ids = sim.ctx.topo.cs.ids
    keys = [
        f"{ids[a]}->{ids[b]}@{k}" for a, b, k in zip(r.lender, r.borrower, r.bucket, strict=True)
    ]
    return pd.Series(sim.state.repo_amount, index=keys)


def price_10y(sim: Simulation) -> float:
    return float(sim.state.price[1]) / 100.0


def test_sponsor_is_the_largest_bilateral_dealer_else_the_largest_dealer():
    sys = system(
        [
            {"id": "hf1", "type": "hedge_fund", "ust_10y_par_usd_bn": 20, "ust_2y_par_usd_bn": 9},
            {"id": "hf2", "type": "hedge_fund", "ust_10y_par_usd_bn": 20},
            {"id": "small", "type": "dealer", "cash_usd_bn": 10},
            {"id": "mid", "type": "dealer", "cash_usd_bn": 20},
            {"id": "big", "type": "dealer", "cash_usd_bn": 100},
            {"id": "mmf", "type": "mmf", "cash_usd_bn": 0},
            {"id": "ficc", "type": "ccp", "cash_usd_bn": 1},
        ],
        [
            leg("mmf", "ficc", 20), leg("ficc", "hf1", 10), leg("ficc", "hf2", 10),
            # hf1 borrows bilaterally 3 + 2 from small and 4 from mid: small (5) sponsors it
            leg("small", "hf1", 3, "2y", segment="bilateral"),
            leg("small", "hf1", 2, "2y", segment="bilateral"),
            leg("mid", "hf1", 4, "2y", segment="bilateral"),
        ],
    )  # fmt: skip
    topo = sys.compile().topology
    ids = list(topo.cs.ids)
    sponsor = topo.sponsor
    assert ids[sponsor[ids.index("hf1")]] == "small"
    assert ids[sponsor[ids.index("hf2")]] == "big"  # no bilateral dealer: the largest
    assert (sponsor[[ids.index(k) for k in ("small", "mmf", "ficc")]] == -1).all()
    np.testing.assert_array_equal(sponsored.sponsors(topo), sponsor)


def one_fund(*, sponsor_defaults: bool) -> c.System:
    """hf1: 102 10y par against 100 from FICC (equity 2); 10 2y par against 10 bilateral from
    dealer_a, its sponsor. hf2: 50 2y par against 48 from FICC and 1 from dealer_b (equity 1).
    The money fund lends FICC 100 (10y) and 48 (2y). FICC's own resources: 1 in cash.
    dealer_a has equity 10, or holds 100 10y par on equity 2 when ``sponsor_defaults`` (the
    shock takes 4 of it)."""
    a_bonds = 100.0 if sponsor_defaults else 0.0
    a_equity = 2.0 if sponsor_defaults else 10.0
    return system(
        [
            {"id": "hf1", "type": "hedge_fund", "ust_10y_par_usd_bn": 102,
             "ust_2y_par_usd_bn": 10},
            {"id": "hf2", "type": "hedge_fund", "ust_2y_par_usd_bn": 50},
            {"id": "dealer_a", "type": "dealer", "cash_usd_bn": 30, "ust_10y_par_usd_bn": a_bonds,
             "other_liabilities_usd_bn": 40 - a_equity + a_bonds},
            {"id": "dealer_b", "type": "dealer", "cash_usd_bn": 20,
             "other_liabilities_usd_bn": 15},
            {"id": "mmf", "type": "mmf", "cash_usd_bn": 0},
            {"id": "ccp_ficc", "type": "ccp", "cash_usd_bn": 1},
        ],
        [
            leg("mmf", "ccp_ficc", 100), leg("ccp_ficc", "hf1", 100),
            leg("mmf", "ccp_ficc", 48, "2y"), leg("ccp_ficc", "hf2", 48, "2y"),
            leg("dealer_a", "hf1", 10, "2y", segment="bilateral"),
            leg("dealer_b", "hf2", 1, "2y", segment="bilateral"),
        ],
    )  # fmt: skip


def test_sponsored_default_shortfall_falls_on_the_sponsor_not_the_money_fund():
    # hf1 is insolvent: 1.02 p + 10 < 110. FICC seizes its 102 10y par (worth 102 p, less
    # than the loan) and sells it; the estate has nothing else for FICC (its 2y bonds are
    # dealer_a's collateral), so FICC writes off D = 100 - 102 p, which dealer_a, hf1's
    # sponsor (its only bilateral dealer), pays. The money fund's 10y leg is repaid in full.
    sim = run(one_fund(sponsor_defaults=False), shock_10y())
    p = price_10y(sim)
    shortfall = 100.0 - 102.0 * p
    assert 1.0 < shortfall < 3.0
    s, ids = sim.state, list(sim.ctx.topo.cs.ids)
    assert s.defaulted[ids.index("hf1")] and not s.defaulted[ids.index("dealer_a")]
    d = equity_change(sim)
    assert d["dealer_a"] == pytest.approx(-shortfall, abs=1e-9)
    assert d["dealer_b"] == pytest.approx(0.0, abs=1e-12)
    assert d["mmf"] == pytest.approx(0.0, abs=1e-12)
    assert d["ccp_ficc"] == pytest.approx(0.0, abs=1e-9)
    book = legs(sim)
    assert book["mmf->ccp_ficc@1"] == pytest.approx(0.0, abs=1e-9)  # repaid: 102 p + D
    assert book["ccp_ficc->hf1@1"] == 0.0
    assert book["mmf->ccp_ficc@0"] == book["ccp_ficc->hf2@0"] == 48.0
    assert s.cash[ids.index("mmf")] == pytest.approx(100.0, abs=1e-9)
    assert s.cash[ids.index("ccp_ficc")] == pytest.approx(1.0, abs=1e-9)  # its resources


def test_defaulted_sponsor_leaves_it_to_ficc_then_the_surviving_dealers():
    # The same shock makes dealer_a (100 10y par on equity 2) insolvent too. FICC's own 1
    # takes the first part of D; the rest, D - 1, is mutualised over the surviving dealers
    # pro rata to their sponsored guarantees: dealer_b (hf2's 48) pays all of it.
    sim = run(one_fund(sponsor_defaults=True), shock_10y())
    p = price_10y(sim)
    shortfall = 100.0 - 102.0 * p
    s, ids = sim.state, list(sim.ctx.topo.cs.ids)
    assert s.defaulted[ids.index("hf1")] and s.defaulted[ids.index("dealer_a")]
    d = equity_change(sim)
    assert d["ccp_ficc"] == pytest.approx(-1.0, abs=1e-9)  # its resources are used up
    assert d["dealer_b"] == pytest.approx(-(shortfall - 1.0), abs=1e-9)
    assert d["mmf"] == pytest.approx(0.0, abs=1e-12)
    book = legs(sim)
    assert book["mmf->ccp_ficc@1"] == pytest.approx(0.0, abs=1e-9)
    assert s.cash[ids.index("mmf")] == pytest.approx(100.0, abs=1e-9)
    assert s.cash[ids.index("ccp_ficc")] == pytest.approx(0.0, abs=1e-9)


def two_members() -> c.System:
    """The money fund lends FICC 100; FICC lends 60 to hf1 and 40 to hf2, who hold cash."""
    return system(
        [
            {"id": "hf1", "type": "hedge_fund", "cash_usd_bn": 30, "ust_10y_par_usd_bn": 62},
            {"id": "hf2", "type": "hedge_fund", "cash_usd_bn": 20, "ust_10y_par_usd_bn": 41},
            {"id": "dealer", "type": "dealer", "cash_usd_bn": 10},
            {"id": "mmf", "type": "mmf", "cash_usd_bn": 0},
            {"id": "ccp_ficc", "type": "ccp", "cash_usd_bn": 0.5},
        ],
        [leg("mmf", "ccp_ficc", 100), leg("ccp_ficc", "hf1", 60), leg("ccp_ficc", "hf2", 40)],
    )


def test_money_fund_pullback_cuts_ficc_loans_by_the_same_total():
    # A 10% outflow from the money fund (NAV 100, no cash): on day 1 it recalls X = 10 from
    # FICC (its only loan), due at the next pay round, day 2's first, as a direct edge's
    # recall was. Then FICC recalls 10 from its members pro rata (6 and 4), they pay from
    # cash, and FICC passes the 10 up the same round: 90 = 54 + 36.
    sc = c.Scenario(
        name="outflow",
        days=2,
        mmf_outflow_frac=[0.1, 0.0],
        channels=c.Channels(**{**QUIET, "redemptions": True}),
    )
    sim = Simulation(two_members(), sc, debug=True)
    sim.record(1)
    s, topo, ids = sim.state, sim.ctx.topo, list(sim.ctx.topo.cs.ids)
    assert s.repo_recall[topo.ficc_up].sum() == pytest.approx(10.0, rel=1e-12)
    sim.record(1)
    book = legs(sim)
    assert book["mmf->ccp_ficc@1"] == pytest.approx(90.0, rel=1e-12)
    assert book["ccp_ficc->hf1@1"] == pytest.approx(54.0, rel=1e-12)
    assert book["ccp_ficc->hf2@1"] == pytest.approx(36.0, rel=1e-12)
    assert s.cash[ids.index("hf1")] == pytest.approx(24.0, rel=1e-12)
    assert s.cash[ids.index("ccp_ficc")] == pytest.approx(0.5, abs=1e-12)  # its own cash only
    assert equity_change(sim).abs().max() == pytest.approx(0.0, abs=1e-9)


def test_match_recalls_passes_a_recall_down_pro_rata():
    sim = Simulation(two_members(), c.Scenario(name="quiet", days=1, channels=c.Channels(**QUIET)))
    s, topo = sim.state, sim.ctx.topo
    up = np.flatnonzero(topo.ficc_up)
    s.repo_recall[up] = 25.0
    sponsored.match_recalls(s, topo)
    down = np.flatnonzero(topo.ficc_down)
    np.testing.assert_allclose(s.repo_recall[down], [15.0, 10.0], rtol=1e-12)
    sponsored.match_recalls(s, topo)  # already matched: nothing more
    np.testing.assert_allclose(s.repo_recall[down], [15.0, 10.0], rtol=1e-12)


def test_matched_book_holds_every_day_of_a_stressed_calibrated_run():
    # the main job's system and stress with its fitted parameters: hundreds of funds
    # default, money funds pull back; FICC's book stays matched and it never lends its cash
    from contagion import examples
    from contagion.testing import check_invariants

    system = examples.calibrated_us_2025()
    sc = c.scenarios.load("basis_unwind").with_params(**examples.model_params(system))
    sim = Simulation(system, sc)
    topo = sim.ctx.topo
    assert topo.has_ficc and topo.repo.amount_usd_bn[topo.ficc_up].sum() > 100.0
    f = np.flatnonzero(topo.ficc)
    start = sim.state.repo_amount[topo.ficc_up].sum()
    while sim.state.day < sc.days:
        sim.run_day()
        check_invariants(sim)
        s = sim.state
        borrowed = s.repo_amount[topo.ficc_up].sum()
        lent = s.repo_amount[topo.ficc_down].sum()
        assert borrowed == pytest.approx(lent, rel=1e-9, abs=1e-6), s.day
        assert (s.cash[f] <= np.maximum(sim.ledger.equity()[f], 0.0) + 1e-6).all()
    assert s.defaulted.sum() > 10  # a stressed run
    assert borrowed < 0.9 * start  # the sponsored book shrank through the pass-through
