"""Episode scenarios from data, the counterfactual, and golden episode regressions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import calibration
import contagion
from calibration.episodes import close_before, day_of, episode_calendar
from calibration.snapshot import load_episode
from contagion import simulate

GOLDEN = Path(__file__).parent / "data" / "golden_episodes.csv"
GOLDEN_METRICS = (
    "peak_yield_change_10y_bp",
    "end_yield_change_10y_bp",
    "peak_yield_change_30y_bp",
    "peak_basis_widening_TY_bp",
    "dealer_peak_utilisation_frac",
    "voluntary_sales_hedge_fund_usd_bn",
    "forced_sales_total_usd_bn",
    "exogenous_sales_total_usd_bn",
    "defaults_count",
    "equity_loss_total_usd_bn",
    "peak_repo_rate_pct",
)
CASES = {
    "sept_2019": dict(name="sept_2019"),
    "march_2020": dict(name="march_2020"),
    "april_2025": dict(name="april_2025"),
    "late_2025": dict(name="late_2025"),
}


def _run(case: str) -> dict[str, float]:
    system, scenario, policies = calibration.episode(**CASES[case])
    return simulate(system, scenario, policies).summary


def golden_frame() -> pd.DataFrame:
    """Regenerate the golden table (run this module as a script to rewrite the file)."""
    rows = []
    for case in CASES:
        s = _run(case)
        for m in GOLDEN_METRICS:
            rows.append({"episode": case, "metric": m, "value": float(s.get(m, 0.0))})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def march():
    return calibration.episode("march_2020")


def test_march_scenario_from_inputs(march):
    system, scenario, policies = march
    ep = load_episode("march_2020")
    inputs = ep[ep["role"] == "input"]
    assert scenario.days == len(episode_calendar("march_2020"))
    vol = scenario.path("volatility_multiplier") * system.market.volatility_index
    peak = inputs.loc[inputs["variable"] == "move_index_level", "value"].max()
    assert vol.max() == pytest.approx(peak)
    assert vol.argmax() + 1 == day_of("march_2020", "2020-03-16")  # VIX record day
    foreign = inputs.loc[inputs["variable"] == "foreign_net_sales_ust_usd_bn", "value"].sum()
    total = sum(sum(v) for v in scenario.exogenous_sales_usd_bn.values())
    assert total == pytest.approx(foreign, rel=1e-6)
    kinds = {p.type for p in policies}
    assert kinds == {"qe", "srf", "slr_relief"}
    qe = next(p for p in policies if p.type == "qe")
    bought = sum(sum(v) for v in qe.schedule_usd_bn.values())
    assert 775 < bought < 2000  # 775 bn in Mar 15-31 (row 4.47) plus April's pace
    # the rate cuts are fundamental shocks on their days, largest at the short end
    cut_day = day_of("march_2020", "2020-03-15")
    assert scenario.rate_shock_bp["2y"][cut_day - 1] < scenario.rate_shock_bp["30y"][cut_day - 1]
    # and move the administered rates at the close before they take effect: -50 effective
    # Mar 4 (close of Mar 3), -100 effective Mon Mar 16 (close of Fri Mar 13)
    path = scenario.path("policy_rate_change_bp")
    assert path[close_before("march_2020", "2020-03-04") - 1] == -50.0
    assert path[close_before("march_2020", "2020-03-16") - 1] == -100.0
    assert path.sum() == -150.0
    # money-fund flows by type: prime outflows on prime funds' NAV, government inflows
    mmf = system.institutions[system.institutions["type"] == "mmf"]
    nav = system.compile().equity()[(system.institutions["type"] == "mmf").to_numpy()]
    prime_nav = float((nav * mmf["mmf_prime_share_frac"].to_numpy()).sum())
    govt_nav = float((nav * (1 - mmf["mmf_prime_share_frac"].to_numpy())).sum())
    flows = inputs.set_index("variable")["value"]
    out = float(scenario.path("prime_mmf_outflow_frac").sum() * prime_nav)
    inflow = float(scenario.path("government_mmf_inflow_frac").sum() * govt_nav)
    assert out == pytest.approx(-flows["prime_mmf_flow_usd_bn"], rel=1e-5)
    assert inflow == pytest.approx(flows["govt_mmf_flow_usd_bn"], rel=1e-5)
    assert not scenario.path("mmf_outflow_frac").any()
    # the repo operations bid at IOER (fact base 4.36-4.37)
    srf = next(p for p in policies if p.type == "srf")
    m = system.market
    assert srf.min_bid_spread_bp == pytest.approx((m.iorb_rate_pct - m.srf_rate_pct) * 100)


def test_march_fund_redemptions_sell_the_input_treasuries():
    """Redemptions are sized by inverting the waterfall (cash first, then Treasuries at the
    sale preference among other assets): without endogenous redemptions the asset managers
    sell the ICI figure of the input rows by Mar 31, to within the drift of prices and
    margin flows over the month (they sold about 30 of its 101 when the sizing left the
    funds' cash out)."""
    params = dict(calibration.fitted_params(), redemption_sensitivity_ratio=0.0)
    system, scenario, policies = calibration.episode("march_2020", params=params)
    r = simulate(system, scenario, policies=policies)
    f = r.flows
    march = (f["seller_type"] == "asset_manager") & (f["day"] <= day_of("march_2020", "2020-03-31"))
    sold = f.loc[march, "par_usd_bn"].sum()
    ep = load_episode("march_2020")
    target = ep.loc[ep["variable"] == "bond_mutual_fund_ust_sales_usd_bn", "value"].sum()
    assert sold == pytest.approx(target, rel=0.1)


def test_sept_2019_scenario_from_inputs():
    system, scenario, policies = calibration.episode("sept_2019")
    assert system.metadata["vintage"] == "2019-08"
    k = day_of("sept_2019", "2019-09-16")
    issued = {b: p[k - 1] for b, p in scenario.treasury_issuance_usd_bn.items() if any(p)}
    # USD 54 bn settled, split like the week's auctions 38 : 24 : 16 (3y -> the 2y bucket)
    assert sum(issued.values()) == pytest.approx(54.0)
    assert issued["2y"] == pytest.approx(54.0 * 38 / 78)
    assert issued["10y"] == pytest.approx(54.0 * 24 / 78)
    # the rest of the two-day reserve drain of 120 is the taxes into the Treasury's account
    assert scenario.path("tga_change_usd_bn")[k - 1] == pytest.approx(120.0 - 54.0)
    assert (
        scenario.path("policy_rate_change_bp")[close_before("sept_2019", "2019-09-19") - 1] == -25
    )
    names = [p.name for p in policies]
    assert names == ["fed_repo_operations", "fed_repo_operations_added"]
    assert policies[0].trigger.start_day == day_of("sept_2019", "2019-09-17")
    assert policies[0].aggregate_limit_usd_bn == 75.0
    assert policies[1].aggregate_limit_usd_bn == 160.0 - 75.0
    assert policies[1].trigger.start_day == day_of("sept_2019", "2019-09-26")


def test_april_2025_uses_inputs_only():
    ep = load_episode("april_2025")
    assert set(ep["role"]) == {"input"}
    system, scenario, policies = calibration.episode("april_2025")
    assert system.metadata["vintage"] == "2025-03"
    assert scenario.exogenous_sales_usd_bn == {}
    assert [p.type for p in policies] == ["srf"]
    vol = scenario.path("volatility_multiplier") * system.market.volatility_index
    assert vol.max() == pytest.approx(137.0)


def test_late_2025_funding_from_inputs_only():
    ep = load_episode("late_2025")
    assert set(ep["role"]) == {"input"}
    system, scenario, policies = calibration.episode("late_2025")
    assert system.metadata["vintage"] == "latest"
    # reserves: the vintage's level on day 1, then the dated levels (linear in calendar
    # days): what is drained by the mid-January row is the vintage's level less 2,880
    drain = scenario.path("tga_change_usd_bn")
    cal = episode_calendar("late_2025")
    assert drain[0] == 0.0
    k_dec15 = day_of("late_2025", "2025-12-15")
    assert drain[:k_dec15].sum() == pytest.approx(system.market.bank_reserves_usd_bn - 2830.0)
    assert cal[-1] >= pd.Timestamp("2026-01-15")
    assert drain.sum() == pytest.approx(system.market.bank_reserves_usd_bn - 2880.0, abs=1e-5)
    # the December cut moves the policy corridor the next business day
    cut = scenario.path("policy_rate_change_bp")
    assert cut.sum() == -25.0 and cut[close_before("late_2025", "2025-12-11") - 1] == -25.0
    # the SRF at the vintage's USD 500 bn, then no aggregate limit from the day after Dec 10
    assert policies[0].aggregate_limit_usd_bn == 500.0
    assert policies[1].trigger.start_day == day_of("late_2025", "2025-12-11")
    assert policies[1].aggregate_limit_usd_bn >= system.compile().holdings_par_usd_bn.sum()


def test_counterfactual_has_no_fed():
    _system, scenario, policies = calibration.counterfactual_no_fed()
    assert policies == []
    assert scenario.rate_shock_bp == {}
    assert not scenario.path("policy_rate_change_bp").any()


def test_unknown_episode():
    with pytest.raises(KeyError, match="march_2020"):
        calibration.episode("june_2026")


# Golden summary values: see the comment block of tests/data/golden_episodes.csv for the
# derivation of the tolerance.
def _golden() -> pd.DataFrame:
    return pd.read_csv(GOLDEN, comment="#")


@pytest.mark.parametrize("case", list(CASES))
def test_golden_episode(case):
    golden = _golden()
    golden = golden[golden["episode"] == case]
    assert len(golden) == len(GOLDEN_METRICS)
    s = _run(case)
    for rec in golden.itertuples():
        got = float(s.get(rec.metric, 0.0))
        tol = rec.abs_tol + rec.rel_tol * abs(rec.value)
        assert math.isclose(got, rec.value, abs_tol=tol), (case, rec.metric, got, rec.value)


def test_fed_lowers_march_stress():
    # Without the Fed's actions the same episode is at least as stressed. Only the direction
    # is tested: the no-Fed levels depend on how far past the data the impact function is
    # pushed (g(u) saturates at (1 - 0.9)^-kappa; see the fit report's counterfactual).
    with_fed = _run("march_2020")
    system, scenario, policies = calibration.episode(name="march_2020", with_fed=False)
    without = contagion.simulate(system, scenario, policies).summary
    assert without["peak_yield_change_10y_bp"] >= with_fed["peak_yield_change_10y_bp"] - 1e-9
    assert without["defaults_count"] >= with_fed["defaults_count"]
    assert np.isfinite(list(without.values())).all()


if __name__ == "__main__":  # regenerate the golden file (after a deliberate change)
    frame = golden_frame()
    print(frame.to_string())
    header = [line for line in GOLDEN.read_text().splitlines() if line.startswith("#")]
    frame["abs_tol"], frame["rel_tol"] = 0.01, 0.001
    body = frame.to_csv(index=False, float_format="%.17g", lineterminator="\n")
    GOLDEN.write_text("\n".join(header) + "\n" + body)


def _swap_rows(levels: dict[str, float], buckets=("2y", "5y", "10y", "30y")) -> pd.DataFrame:
    """Input rows ``usd_swap_rate_<b>_pct`` at the given dates, the same level in every bucket."""
    return pd.DataFrame(
        [
            {"date": pd.Timestamp(d).date(), "variable": f"usd_swap_rate_{b}_pct",
             "value": v, "role": "input"}
            for d, v in levels.items() for b in buckets
        ],
        columns=["date", "variable", "value", "role"],
    )  # fmt: skip


def test_benchmark_shock_is_the_swap_rate_change_interpolated_in_time():
    from calibration.episodes import benchmark_shock_bp

    # Fri Feb 28 1.00%, Wed Mar 4 1.10%, Mon Mar 9 0.60%: by calendar days Mar 2 is 3/5 of
    # the way to Mar 4 (1.06), Mar 3 4/5 (1.08); Mar 5-6 step down by 0.1 a day, Mar 9 too
    ep = _swap_rows({"2020-02-28": 1.00, "2020-03-04": 1.10, "2020-03-09": 0.60})
    shock = benchmark_shock_bp("march_2020", ep)
    assert shock.shape == (len(episode_calendar("march_2020")), 4)
    np.testing.assert_allclose(shock[:6, 2], [6.0, 2.0, 2.0, -10.0, -10.0, -30.0], atol=1e-9)
    np.testing.assert_allclose(shock[6:], 0.0, atol=1e-12)  # held after the last row
    # the path adds up to the last level less the pre-shock one, in every bucket
    np.testing.assert_allclose(shock.sum(axis=0), -40.0, atol=1e-9)


def test_benchmark_shock_absent_or_incomplete():
    from calibration.episodes import benchmark_shock_bp

    assert benchmark_shock_bp("march_2020", _swap_rows({})) is None
    with pytest.raises(ValueError, match="missing"):
        benchmark_shock_bp("march_2020", _swap_rows({"2020-02-28": 1.0}, ("10y", "30y")))
    with pytest.raises(ValueError, match="before 2020-03-02"):
        benchmark_shock_bp("march_2020", _swap_rows({"2020-03-04": 1.0}))
