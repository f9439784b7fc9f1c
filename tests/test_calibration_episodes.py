"""Episode scenarios from data, the counterfactual, and golden episode regressions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import calibration
import contagion
from calibration.episodes import day_of, episode_calendar
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
    "march_2020": dict(name="march_2020"),
    "april_2025": dict(name="april_2025"),
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


def test_april_2025_uses_inputs_only():
    ep = load_episode("april_2025")
    assert set(ep["role"]) == {"input"}
    system, scenario, policies = calibration.episode("april_2025")
    assert system.metadata["vintage"] == "2025-03"
    assert scenario.exogenous_sales_usd_bn == {}
    assert [p.type for p in policies] == ["srf"]
    vol = scenario.path("volatility_multiplier") * system.market.volatility_index
    assert vol.max() == pytest.approx(137.0)


def test_counterfactual_has_no_fed():
    _system, scenario, policies = calibration.counterfactual_no_fed()
    assert policies == []
    assert scenario.rate_shock_bp == {}


def test_unknown_episode():
    with pytest.raises(KeyError, match="sept_2019"):
        calibration.episode("sept_2019")


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
