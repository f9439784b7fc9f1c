"""The reference runs: a fixed set of simulations whose every frame must not change when
the engine is restructured (only when the economics change on purpose, in a commit that
says by how much and why).

Usage (on demand, outside the test suite)::

    .venv/bin/python benchmarks/reference_runs.py save DIR      # pickle every frame
    .venv/bin/python benchmarks/reference_runs.py compare DIR   # bit-for-bit against DIR
    .venv/bin/python benchmarks/reference_runs.py compare DIR --rtol 1e-9   # and the largest change
    .venv/bin/python benchmarks/reference_runs.py headlines benchmarks/reference_headlines.csv

``headlines`` writes each run's headline summary values (:data:`HEADLINES`) to a CSV kept in
the repository: the pickles are too large to commit, so this file is the pin a reviewer sees
move when results change on purpose (re-written in a commit of its own).

``compare`` prints, per run, ``identical`` or the frames and columns that differ with the
largest absolute and relative change, and exits 1 if any run differs (beyond ``--rtol``).
The cases cover the calibrated system under every arm of the main job, the toy, stylised
and a 1e3 synthetic system under both bundled scenarios, every policy type on the stylised
system (with metric triggers, schedules and durations), and the March 2020 and April 2025
episodes with their policies.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the working tree's package

import contagion as c
from contagion import examples, scenarios
from contagion.experiment import default_experiment, with_standing
from contagion.policies import (
    APCMarginConfig,
    BasisFacilityConfig,
    CentralClearingConfig,
    MinimumHaircutConfig,
    QEConfig,
    SLRReliefConfig,
    SovereignFundConfig,
    StandingRepoConfig,
)

FRAMES = ("markets", "institutions", "events", "flows", "policy_usage")


def _calibrated(arm: str) -> Callable[[], c.Result]:
    def run() -> c.Result:
        config = default_experiment()
        system = examples.calibrated_us_2025()
        sc = scenarios.load("basis_unwind").with_params(**examples.model_params(system))
        # the arm as the main job runs it: the standing facilities in force beside it
        pols = with_standing({arm: config.arms[arm]}, config.standing)[arm]
        return c.simulate(system, sc, pols)

    return run


def _on(system_name: str, scenario: str, policies=()) -> Callable[[], c.Result]:
    def run() -> c.Result:
        if system_name == "split_1e3":
            from contagion.synthetic import generate_system, stylised_us_2025_params

            system = generate_system(**stylised_us_2025_params(1000))
        else:
            system = examples.load_bundled(system_name)
        return c.simulate(system, scenarios.load(scenario), list(policies))

    return run


def _episode(name: str) -> Callable[[], c.Result]:
    def run() -> c.Result:
        import calibration

        system, sc, pols = calibration.episode(name)
        return c.simulate(system, sc, pols)

    return run


def _fragile() -> c.Result:
    """The toy with 0.3 bp per USD bn of impact: hf_alpha defaults (collateral seizure,
    CCP close-out, clearing)."""
    sc = scenarios.load("basis_unwind").with_params(impact_bp_per_usd_bn=0.3)
    return c.simulate(examples.toy_basis_trade(), sc)


def _worst() -> c.Result:
    """+500 bp on five days running with volatility x10: dealers and hedge funds default."""
    system = examples.stylised_us_2025()
    names = list(system.market.bucket_names)
    sc = c.Scenario(
        name="worst",
        days=5,
        rate_shock_bp={b: [500.0] * 5 for b in names},
        volatility_multiplier=[10.0],
    )
    return c.simulate(system, sc, [StandingRepoConfig(eligible=["dealer", "hedge_fund"])])


CASES: dict[str, Callable[[], c.Result]] = {
    **{
        f"calibrated_{arm}": _calibrated(arm)
        for arm in (
            "no_action",
            "qe_500bn",
            "srf_central_clearing",
            "swf_500bn",
            "slr_relief",
            "basis_facility_500bn",
        )
    },
    "toy_basis_unwind": _on("toy_basis_trade", "basis_unwind"),
    "toy_volatility_spike": _on("toy_basis_trade", "volatility_spike"),
    "stylised_basis_unwind": _on("stylised_us_2025", "basis_unwind"),
    "stylised_volatility_spike": _on("stylised_us_2025", "volatility_spike"),
    "split1e3_basis_unwind": _on("split_1e3", "basis_unwind"),
    "split1e3_volatility_spike": _on("split_1e3", "volatility_spike"),
    "stylised_regulation": _on(
        "stylised_us_2025",
        "basis_unwind",
        [SLRReliefConfig(trigger={"start_day": 3}), CentralClearingConfig(netting_frac=0.4)],
    ),
    "stylised_min_haircut_apc": _on(
        "stylised_us_2025",
        "basis_unwind",
        [MinimumHaircutConfig(floor_frac=0.03), APCMarginConfig(max_daily_increase_frac=0.05)],
    ),
    "stylised_min_haircut_triggered": _on(
        "stylised_us_2025",
        "volatility_spike",
        [MinimumHaircutConfig(floor_frac=0.05, ex_ante=False, trigger={"start_day": 2})],
    ),
    "stylised_srf_hedge_funds": _on(
        "stylised_us_2025",
        "basis_unwind",
        [
            StandingRepoConfig(
                eligible=["dealer", "hedge_fund"],
                aggregate_limit_usd_bn=300,
                stigma_premium_bp=10,
                central_clearing=True,
                duration_days=6,
            )
        ],
    ),
    "stylised_qe_triggered": _on(
        "stylised_us_2025",
        "basis_unwind",
        [
            QEConfig(
                trigger={"metric": "yield_change_10y_bp", "threshold": 20.0},
                schedule_usd_bn={"10y": [20, 20, 10], "30y": [10, 10]},
                reactive_share=0.3,
                budget_usd_bn=200,
                duration_days=8,
                max_price={"30y": 99.0},
            )
        ],
    ),
    "stylised_swf_issuance_basis": _on(
        "stylised_us_2025",
        "basis_unwind",
        [
            SovereignFundConfig(
                reactive_share=0.4, budget_usd_bn=150, funding="new_issuance", issuance_bucket="2y"
            ),
            BasisFacilityConfig(reactive_share=0.3, budget_usd_bn=100, contracts=["TY", "FV"]),
        ],
    ),
    "toy_fragile_defaults": _fragile,
    "stylised_worst_defaults": _worst,
    "march_2020": _episode("march_2020"),
    "april_2025": _episode("april_2025"),
}


#: Summary keys written by ``headlines`` (those a run has; others are left empty).
HEADLINES = (
    "peak_yield_change_10y_bp",
    "peak_yield_change_30y_bp",
    "peak_basis_widening_TY_bp",
    "peak_repo_rate_pct",
    "fire_sale_volume_usd_bn",
    "forced_sales_total_usd_bn",
    "equity_loss_total_usd_bn",
    "defaults_count",
    "impact_bound_hit_days",
)


def headlines(path: Path) -> None:
    rows = {name: {k: run().summary.get(k) for k in HEADLINES} for name, run in CASES.items()}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "run"
    frame.to_csv(path, float_format="%.6g")
    print(f"wrote {path} ({len(frame)} runs)")


def frames(result: c.Result) -> dict[str, object]:
    out: dict[str, object] = {k: getattr(result, k) for k in FRAMES}
    out["summary"] = dict(result.summary)
    return out


def save(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, run in CASES.items():
        t0 = time.perf_counter()
        res = frames(run())
        (folder / f"{name}.pkl").write_bytes(pickle.dumps(res))
        print(f"{name}: saved ({time.perf_counter() - t0:.2f} s)")


def _largest(a: pd.DataFrame, b: pd.DataFrame) -> str:
    num = [col for col in a.columns if pd.api.types.is_float_dtype(a[col])]
    worst, where = 0.0, ""
    rel = 0.0
    for col in num:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if x.shape != y.shape:
            return f"shape {x.shape} vs {y.shape}"
        d = np.abs(x - y)
        d = np.where(np.isnan(x) & np.isnan(y), 0.0, d)
        if d.size and np.nanmax(d) > worst:
            worst = float(np.nanmax(d))
            k = int(np.nanargmax(d))
            rel = worst / max(abs(float(x[k])), 1e-300)
            where = str(col)
    return f"largest |change| {worst:.3g} (relative {rel:.3g}) in {where}"


def compare(folder: Path, rtol: float = 0.0) -> int:
    bad = 0
    for name, run in CASES.items():
        path = folder / f"{name}.pkl"
        if not path.exists():
            print(f"{name}: no reference")
            bad += 1
            continue
        ref = pickle.loads(path.read_bytes())
        new = frames(run())
        diffs = []
        for k in FRAMES:
            a, b = ref[k], new[k]
            if a.equals(b) and list(a.dtypes) == list(b.dtypes):
                continue
            if a.shape != b.shape or list(a.columns) != list(b.columns):
                diffs.append(f"{k}: shape/columns {a.shape} vs {b.shape}")
                continue
            detail = _largest(a, b)
            within = False
            if rtol > 0:
                try:
                    pd.testing.assert_frame_equal(a, b, rtol=rtol, atol=1e-12)
                    within = True
                except AssertionError:
                    pass
            diffs.append(f"{k}: {detail}{' (within rtol)' if within else ''}")
            bad += 0 if within else 1
        sa, sb = ref["summary"], new["summary"]
        added = sorted(set(sb) - set(sa))
        if added:  # new outputs are not changed results
            print(f"{name}: summary adds {', '.join(added)}")
            sb = {k: v for k, v in sb.items() if k in sa}
        if sa != sb:
            keys = sorted(set(sa) ^ set(sb))
            if keys:
                diffs.append(f"summary keys missing: {keys[:5]}")
                bad += 1
            else:
                worst = max(sa, key=lambda key: abs(sa[key] - sb[key]) if sa[key] == sa[key] else 0)
                d = abs(sa[worst] - sb[worst])
                ok = rtol > 0 and d <= rtol * max(abs(sa[worst]), 1.0)
                diffs.append(f"summary: {worst} {sa[worst]!r} -> {sb[worst]!r}")
                bad += 0 if ok else 1
        print(f"{name}: {'identical' if not diffs else '; '.join(diffs)}")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=("save", "compare", "headlines"))
    ap.add_argument("folder", type=Path, help="pickle folder (save, compare) or CSV (headlines)")
    ap.add_argument("--rtol", type=float, default=0.0)
    ap.add_argument("-k", default=None, help="only the cases whose name contains this")
    args = ap.parse_args(argv)
    if args.k:
        for name in [n for n in CASES if args.k not in n]:
            del CASES[name]
    if args.action == "save":
        save(args.folder)
        return 0
    if args.action == "headlines":
        headlines(args.folder)
        return 0
    return compare(args.folder, args.rtol)


if __name__ == "__main__":
    sys.exit(main())
