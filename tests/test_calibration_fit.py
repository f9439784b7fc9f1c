"""The fitted parameter file, the objective at the shipped parameters, and the fit itself."""

from __future__ import annotations

import math

import numpy as np
import pytest

import calibration
from calibration import fit as F
from calibration.build import build_targets
from calibration.episodes import FITTED_NAMES
from contagion import ModelParams

# Moments the shipped fit must reproduce within their stated tolerance (|residual| <= 1,
# i.e. |model - fact| <= scale / weight): the 10y on Mar 12, 13, 18, 19 and 30 (DGS10
# closes) and over Mar 9-19, the 30y's worst two days, market depth on Mar 31 and Apr 6,
# the basis (direction and size), the hedge funds' gross, short and average de-leveraging
# and "no collapse" (9b.1-9b.4), haircuts, the dealers' absorption to Mar 11 and Mar 18
# (FR 2004) and the Fed's repo take-up (9b.7), asset managers' sales (inside the published
# range, 9b.5); September 2019's spike (SOFR on Sep 17), SOFR after the cut and the first
# operation's take-up (2.19, 4.36). Missed (see calibration_report.md): the first day of
# the rise (Mar 10) comes too late; on Apr 8 the 10y is below its Mar 9 level against +23
# bp, the 30y falls below it once the Fed buys (reported, not fitted) and the dealers
# still hold their March inventory (+6 against -18 USD bn: they sold to the Fed); the 30y
# rises too fast Mar 10-13; bid-ask peaks too high; the hedge funds' net cash sales are a
# little too large (21% of holdings against 16%), their Treasury repo falls too fast in
# March (-16% of Form PF's all-collateral repo against -6%), their TY shorts fall too
# little by Mar 17 (-15% against -23%: at the edge of its tolerance, so not pinned here)
# and their March return is -1% against -7%; SOFR's rise on Sep 16 (before the
# drain) and its level on Sep 18 are missed. Every weighted moment is bounded loosely
# below.
WITHIN_TOLERANCE = (
    "10y rise since Mar 9, 03-12",
    "10y rise since Mar 9, 03-13",
    "10y rise since Mar 9, 03-18",
    "10y rise since Mar 9, 03-19",
    "10y rise since Mar 9, 03-30",
    "10y change Mar 9-19 (BSIC)",
    "30y price, worst 2-day change",
    "depth / normal, Mar 31 (1/g(u))",
    "depth / normal, Apr 6 (1/g(u))",
    "basis direction Mar 11 (TY widening > 0)",
    "peak basis widening, TY (vintage prior)",
    "HF gross exposure change, March",
    "HF short derivatives change, March",
    "HF repo change, March-April",
    "HF long exposure change to Apr 30",
    "HF short exposure change to Apr 30",
    "average HF exposure change, March",
    "HF bilateral haircut change, March",
    "dealers' net coupon positions, change to 03-11",
    "dealers' net coupon positions, change to 03-18",
    "Fed term repo take-up, Mar 12 + 13",
    "asset-manager Treasury sales, March",
    "hedge-fund defaults (de-lever, do not collapse)",
    "SOFR 09-17 (Sep 2019)",
    "SOFR 09-19 (Sep 2019)",
    "SOFR 09-20 (Sep 2019)",
    "Fed repo take-up, Sep 17 2019",
)
MAX_ABS_RESIDUAL = 10.0  # every weighted moment within 10 tolerance scales


@pytest.fixture(scope="module")
def shipped():
    return F.load_fitted()


@pytest.fixture(scope="module")
def evaluation(shipped):
    return F.evaluate(
        F.fitted_params(), seed=shipped["seed"], n_hedge_funds=shipped["n_hedge_funds"]
    )


def test_shipped_file_is_valid(shipped):
    assert set(shipped["parameters"]) == set(FITTED_NAMES)
    assert shipped["episode"] == "march_2020" and shipped["vintage"] == "2020-02"
    assert shipped["episodes"] == ["march_2020", "sept_2019"]
    # the version that produced the fit (it changes with every commit; the fit does not)
    assert isinstance(shipped["package_version"], str) and shipped["package_version"]
    assert not shipped["quick"]
    for name, rec in shipped["parameters"].items():
        assert rec["low"] <= rec["estimate"] <= rec["high"], name
        assert rec["std_error"] >= 0
        p = next(p for p in F.PARAMETERS if p.name == name)
        assert (rec["low"], rec["high"]) == (p.low, p.high)


def test_objective_at_shipped_params_equals_stored(shipped, evaluation):
    assert evaluation.objective == pytest.approx(shipped["objective"], rel=1e-6)


def test_fit_reproduces_targets_within_stated_tolerance(evaluation):
    table = evaluation.table().set_index("target")
    for name in WITHIN_TOLERANCE:
        assert abs(table.loc[name, "residual"]) <= 1.0, (name, table.loc[name].to_dict())
    weighted = table[table["weight"] > 0]
    assert (weighted["residual"].abs() <= MAX_ABS_RESIDUAL).all(), weighted["residual"]


def test_helpers_apply_fitted_params():
    fitted = calibration.fitted_params()
    mp = calibration.scenario_params()
    assert isinstance(mp, ModelParams)
    assert mp.impact_bp_per_usd_bn == fitted["impact_bp_per_usd_bn"]
    system = calibration.calibrated_system(n_hedge_funds=80)
    inst = system.institutions
    hf = inst[inst["type"] == "hedge_fund"]
    assert np.allclose(hf["leverage_vol_elasticity"], fitted["leverage_vol_elasticity"])
    assert system.metadata["vintage"] == "latest"
    # The capacity is fitted on 2020-02 and carried to "latest" by the ratio of the priors;
    # the metadata says so, with the numbers, so a report's provenance can be checked by hand.
    cap = system.metadata["dealer_capacity_usd_bn"]
    ratio = build_targets("latest")["dealer_capacity"] / build_targets("2020-02")["dealer_capacity"]
    assert cap == pytest.approx(fitted["dealer_capacity_usd_bn"] * ratio)
    derivation = system.metadata["dealer_capacity_derivation"]
    assert f"{fitted['dealer_capacity_usd_bn']:.1f} USD bn fitted on the 2020-02" in derivation
    assert derivation.endswith(f"= {cap:.1f} USD bn")


def test_load_fitted_rejects_bad_files(tmp_path, shipped):
    import yaml

    bad = dict(shipped)
    bad["parameters"] = {k: v for k, v in shipped["parameters"].items() if k != "impact_convexity"}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ValueError, match="exactly"):
        F.load_fitted(path)


def test_quick_main_writes_report_and_file(tmp_path):
    report = F.main(out_dir=tmp_path, quick=True)
    assert report.name == F.REPORT_FILE
    text = report.read_text()
    assert "QUICK" in text and "April 2025" in text and "Counterfactual" in text
    assert "Late-2025 funding: out of sample" in text and "## Builder seeds" in text
    doc = F.load_fitted(tmp_path / F.PARAMS_FILE)
    assert doc["quick"] is True
    assert math.isfinite(doc["objective"])
    with pytest.raises(ValueError, match="march_2020"):
        F.main(out_dir=tmp_path, episode="april_2025")


@pytest.mark.slow
def test_full_fit_reproduces_shipped_file(tmp_path, shipped):
    F.main(out_dir=tmp_path)
    new = F.load_fitted(tmp_path / F.PARAMS_FILE)
    assert new["objective"] == pytest.approx(shipped["objective"], rel=1e-6)
    for name, rec in shipped["parameters"].items():
        span = rec["high"] - rec["low"]
        assert new["parameters"][name]["estimate"] == pytest.approx(
            rec["estimate"], abs=1e-4 * span
        ), name


def test_reported_moments_stay_outside_the_fit():
    # DGS30 closes: 0.99 (Mar 9), 1.77 (Mar 18), 1.31 (Mar 30), 1.37 (Apr 8): +78, +32, +38;
    # then SOFR on the report dates (FRED)
    assert [t.target for t in F.REPORTED[:3]] == [78.0, 32.0, 38.0]
    assert [t.name for t in F.REPORTED[3:]] == [
        f"SOFR {d[5:]} (Mar 2020)" for d in F.SOFR_REPORT_DATES
    ]
    assert all(t.weight == 0.0 for t in F.REPORTED)
    assert not {t.name for t in F.REPORTED} & {t.name for t in F.TARGETS}
    table = F.reported(calibration.fitted_params())
    assert np.isfinite(table["model"]).all()
    assert (table["error"] == table["model"] - table["fact"]).all()


# --- out of sample: prediction ranges and the reasons for a quiet prediction ----------------
def test_parameter_draws_stay_in_the_fit_uncertainty_box() -> None:
    stats = {
        "a": {"estimate": 1.0, "std_error": 0.1, "low": 0.0, "high": 2.0},
        "b": {"estimate": 0.05, "std_error": 1.0, "low": 0.0, "high": 0.1},  # clipped
    }
    draws = F.parameter_draws(stats, 8)
    assert len(draws) == 8 and draws == F.parameter_draws(stats, 8)  # deterministic
    a = np.array([d["a"] for d in draws])
    b = np.array([d["b"] for d in draws])
    assert a.min() >= 0.8 and a.max() <= 1.2 and a.std() > 0.05
    assert b.min() >= 0.0 and b.max() <= 0.1


def test_why_quiet_names_the_missing_inputs_only_when_nothing_moved() -> None:
    import contagion as c

    toy = c.examples.toy_basis_trade()
    calm = c.Scenario(name="calm", days=3, volatility_multiplier=[1.2, 1.2])
    reasons = F.why_quiet(c.simulate(toy, calm), calm)
    assert len(reasons) == 3
    assert "In the inputs: volatility path." in reasons[0]
    assert "rate (fundamental) path" in reasons[0].split("Not in them:")[1]
    sale = c.Scenario(name="sale", days=3, exogenous_sales_usd_bn={"10y": [200.0]})
    assert F.why_quiet(c.simulate(toy, sale), sale) == []


# --- identification: re-fits over builder seeds ----------------------------------------------
def test_seed_refits_find_each_seeds_optimum_and_intervals_cover_them() -> None:
    # a closed form: the residual vector z - z*(seed) has its optimum at z*(seed)
    k = len(F.PARAMETERS)
    z_star = {1: np.full(k, 0.4), 2: np.full(k, 0.6)}
    refits = F.seed_refits(np.full(k, 0.5), seeds=(1, 2), max_nfev=20,
                           residuals=lambda z, seed: z - z_star[seed])  # fmt: skip
    assert list(refits["seed"]) == [1, 2]
    for seed, row in zip((1, 2), refits.to_dict("records"), strict=True):
        want = F._params_from_z(z_star[seed])
        for name, value in want.items():
            assert row[name] == pytest.approx(value, rel=1e-5, abs=1e-9), (seed, name)
        assert row["objective"] == pytest.approx(0.0, abs=1e-10)
    stats = {p.name: {"estimate": F._params_from_z(np.full(k, 0.5))[p.name], "std_error": 0.0}
             for p in F.PARAMETERS}  # fmt: skip
    table = F.seed_intervals(stats, refits)
    lo, hi = F._params_from_z(z_star[1]), F._params_from_z(z_star[2])
    for row in table.to_dict("records"):
        name = row["parameter"]
        assert row["seed low"] == pytest.approx(min(lo[name], hi[name]), rel=1e-5, abs=1e-9)
        assert row["seed high"] == pytest.approx(max(lo[name], hi[name]), rel=1e-5, abs=1e-9)
        assert row["seed sd > std error"] == "yes"  # any spread beats a zero std error


def test_quick_report_says_the_seeds_were_not_refitted() -> None:
    assert "Not re-fitted (a quick fit)" in F._seed_text({"seed": 0})


def test_late_2025_prediction_names_why_the_srf_lent_nothing() -> None:
    table, reasons = F.out_of_sample(calibration.fitted_params(), None, 0, name="late_2025")
    assert list(table["metric"]) == list(F.OUT_OF_SAMPLE["late_2025"])
    row = dict(zip(table["metric"], table["model"], strict=True))
    if row["policy_srf_peak_take_up_usd_bn"] + row["policy_srf_limit_removed_peak_take_up_usd_bn"]:
        assert reasons == []
    else:
        assert len(reasons) == 3
        assert "scarcity threshold" in reasons[0] and "SRF's minimum bid" in reasons[1]
        assert "year-end" in reasons[2]


def test_outside_demand_prior_is_the_published_log_normal():
    """Outside demand's prior is informative (log-normal, median 0.8 USD bn per bp a bucket,
    90% in 0.25-2.5); the other parameters keep the weak prior of PRIOR_SCALE of their
    range. A value one log-std from the median costs exactly 1 in the objective."""
    p = next(p for p in F.PARAMETERS if p.name == "outside_demand_usd_bn_per_bp")
    assert p.log and p.start == F.OUTSIDE_DEMAND_PRIOR_MEDIAN == 0.8
    sd = F.OUTSIDE_DEMAND_PRIOR_SD_LOG
    assert math.exp(-1.645 * sd) * 0.8 == pytest.approx(0.8 / math.sqrt(10.0))
    assert math.exp(1.645 * sd) * 0.8 == pytest.approx(0.8 * math.sqrt(10.0))
    one_sd = p.start * math.exp(sd)
    assert (p.to_z(one_sd) - p.to_z(p.start)) / p.prior_scale == pytest.approx(1.0)
    assert all(q.prior_scale == F.PRIOR_SCALE for q in F.PARAMETERS if q is not p)


def test_the_repo_rate_follows_the_march_2020_cuts():
    """Issue 21: SOFR following the cuts. The model's GC at the close before each date
    against FRED's SOFR (shipped extract): within 25 bp before the cut of Mar 15 and once
    the Fed had settled the market; on Mar 16-17 SOFR printed 0.26% and 0.54% above the
    new range's floor, which the model (one rate a day at the floor) misses: reported."""
    rep = F.reported(F.fitted_params()).set_index("moment")
    for date in ("03-02", "03-04", "03-10", "03-18", "03-24", "04-08"):
        row = rep.loc[f"SOFR {date} (Mar 2020)"]
        assert abs(row["error"]) <= 0.25, (date, row.to_dict())
    assert rep.loc["SOFR 03-02 (Mar 2020)", "fact"] == 1.59  # FRED SOFR, 2020-03-02
    assert rep.loc["SOFR 03-24 (Mar 2020)", "model"] < 0.25  # at the floor after the cut


def test_parameter_draws_include_the_named_assumptions_over_their_ranges() -> None:
    """Out-of-sample ranges draw the named assumptions too (as the main job's draws do):
    the reserve-scarcity threshold over 8-12% of bank assets, next to the fitted boxes."""
    stats = {"a": {"estimate": 1.0, "std_error": 0.1, "low": 0.0, "high": 2.0}}
    ranges = {"reserve_scarcity_frac": ModelParams.assumption_ranges()["reserve_scarcity_frac"]}
    draws = F.parameter_draws(stats, 16, assumptions=ranges)
    r = np.array([d["reserve_scarcity_frac"] for d in draws])
    assert r.min() >= 0.08 and r.max() <= 0.12 and r.max() - r.min() > 0.03
    assert all(0.8 <= d["a"] <= 1.2 for d in draws)


def test_the_fit_also_starts_from_the_shipped_estimate(shipped):
    """A refit searches locally from the shipped estimate too (a model change moves the
    optimum a little; a fresh screen need not find the old basin)."""
    z = F._previous_z()
    assert z is not None and ((z >= 0) & (z <= 1)).all()
    back = F._params_from_z(z)
    for name, rec in shipped["parameters"].items():
        assert back[name] == pytest.approx(rec["estimate"], rel=1e-9, abs=1e-12), name


def test_a_range_target_scores_the_distance_outside_the_range() -> None:
    """Inside a published range the residual is 0; outside, the distance to the nearer end
    over the scale (asset-manager sales: ICI 101 to Z.1 ~260, scale 80)."""
    t = next(t for t in F.TARGETS if t.name == "asset-manager Treasury sales, March")
    assert t.kind == "range" and (t.target, t.high) == (101.0, 260.0)
    assert F._residual(t, 180.0) == 0.0 and F._residual(t, 101.0) == 0.0
    assert F._residual(t, 61.0) == pytest.approx(-0.5)  # 40 below 101, scale 80
    assert F._residual(t, 300.0) == pytest.approx(0.5)  # 40 above 260
    assert F._fact(t) == "101-260" and F._error(t, 61.0) == pytest.approx(-40.0)
