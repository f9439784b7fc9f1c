"""Lower bound on the per-draw cost of batching parameter draws: D stacked copies, one run.

Would running D parameter draws as one vectorised simulation make a 20-day run of the
bundled calibrated system (``calibrated_us_2025`` under ``basis_unwind`` with its fitted
model parameters) much cheaper per draw? The engine's per-round cost is a fixed part
(Python and numpy-call overhead) plus a per-element part (institutions + exposures).
Batching amortises the first but keeps the second. This script measures what is left.

It builds the disjoint union of D copies of the system as one :class:`contagion.System`:
every row of the two tidy tables (``System.to_tables``: institutions, and the long
exposures table holding repo, futures, swap and unsecured rows) is repeated with its id
suffixed ``__k`` (exposure ``source`` / ``target`` likewise), while the market (buckets,
futures contracts, rates, volatility) is kept once. Built like
``contagion.synthetic.generate_system``: ``System(institutions, exposures, market)``, which
validates balance sheets, collateral and outstanding amounts and compiles the arrays.

**The copies share one market.** That is not what a real batch would be (each draw its
own prices, parameters and paths); this measures the engine's cost per element, i.e. the
best a leading draw axis could do, not a correct batched simulation. To keep each copy
behaving like the original (same prices, same number of within-day rounds), aggregate
USD quantities are scaled by D: the market's ``outstanding_usd_bn`` and
``open_interest_usd_bn`` (outstanding is needed for validation; neither enters the
engine), and in the scenario the per-USD-bn price impacts (``impact_bp_per_usd_bn``,
``futures_impact_bp_per_usd_bn``: / D), the outside demand per bp (* D) and the
exogenous sales (* D). Dealer room, MMF repo capacity and utilisations are sums over
institutions or ratios of such sums, so they scale by themselves. With identical copies
this is exact up to rounding and summation order; ``--raw`` skips the scenario scaling
(the copies then face a D-times deeper fire sale). The table reports total rounds and
the 10y peak yield change so any drift from D=1 is visible.

Run::

    .venv/bin/python benchmarks/batching_bound.py [--copies 1 4 16 64 256] [--repeat 3]

Each D: one untimed warm run, then the best of ``--repeat`` timed runs. D=256 (95k
institutions, 1.2M exposures) takes about a minute in all; larger D scale linearly.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

import contagion
from contagion import examples, scenarios
from contagion.market import Market
from contagion.scenario import Scenario

COPIES = (1, 4, 16, 64, 256)
DRAWS, ARMS, CORES = 10_000, 4, 2


def stack(system: contagion.System, d: int) -> contagion.System:
    """Disjoint union of ``d`` copies of ``system`` sharing one market (module docstring)."""
    inst, exp = system.to_tables()
    insts, exps = [], []
    for k in range(d):
        i = inst.copy()
        i["id"] = i["id"].astype(str) + f"__{k}"
        i["name"] = i["name"].astype(str) + f"__{k}"
        e = exp.copy()
        for col in ("id", "source", "target"):
            e[col] = e[col].astype(str) + f"__{k}"
        insts.append(i)
        exps.append(e)
    doc = system.market.model_dump()
    for b in doc["buckets"]:
        b["outstanding_usd_bn"] *= d
    for f in doc["futures"]:
        f["open_interest_usd_bn"] *= d
    return contagion.System(
        pd.concat(insts, ignore_index=True),
        pd.concat(exps, ignore_index=True),
        Market.model_validate(doc),
        name=f"{system.name}_x{d}",
        metadata={"copies": d},
    )


def scaled(scenario: Scenario, d: int) -> Scenario:
    """The scenario with its aggregate USD quantities scaled for ``d`` copies."""
    p = scenario.params
    doc = scenario.model_dump()
    doc["params"].update(
        impact_bp_per_usd_bn=p.impact_bp_per_usd_bn / d,
        futures_impact_bp_per_usd_bn=p.futures_impact_bp_per_usd_bn / d,
        outside_demand_usd_bn_per_bp=p.outside_demand_usd_bn_per_bp * d,
    )
    doc["exogenous_sales_usd_bn"] = {
        b: [v * d for v in path] for b, path in scenario.exogenous_sales_usd_bn.items()
    }
    return Scenario.model_validate(doc)


def measure(stacked: contagion.System, scenario: Scenario, d: int, repeat: int) -> dict:
    result = contagion.simulate(stacked, scenario)  # warm-up and rounds, untimed
    best = float("inf")
    for _ in range(repeat):  # timed as experiment draws run: no result frames
        t0 = time.perf_counter()
        contagion.simulate_summary(stacked, scenario)
        best = min(best, time.perf_counter() - t0)
    rounds = int(result.markets["iterations"].sum())
    summary = result.summary
    return {
        "D": d,
        "institutions": stacked.n_institutions,
        "exposures": stacked.n_exposures,
        "rounds": rounds,
        "dy10y_bp": summary["peak_yield_change_10y_bp"],
        "defaults/D": summary["defaults_count"] / d,
        "seconds": best,
        "ms/round": 1e3 * best / rounds,
        "ms/draw": 1e3 * best / d,
        "ms/draw/round": 1e3 * best / d / rounds,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", type=int, nargs="+", default=list(COPIES))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--raw", action="store_true", help="do not scale the scenario by D")
    args = ap.parse_args(argv)
    system = examples.calibrated_us_2025()
    base = scenarios.load("basis_unwind").with_params(**examples.model_params(system))
    rows = []
    for d in args.copies:
        scenario = base if args.raw else scaled(base, d)
        t0 = time.perf_counter()
        stacked = stack(system, d)
        build = time.perf_counter() - t0
        rows.append(measure(stacked, scenario, d, args.repeat))
        print(f"D={d}: built in {build:.2f} s, run {rows[-1]['seconds']:.3f} s", flush=True)
    table = pd.DataFrame(rows).set_index("D")
    one = measure(system, base, 1, args.repeat)  # the original system, not stacked
    fmt = {
        "dy10y_bp": "{:.3f}".format,
        "defaults/D": "{:.2f}".format,
        "seconds": "{:.3f}".format,
        "ms/round": "{:.2f}".format,
        "ms/draw": "{:.3f}".format,
        "ms/draw/round": "{:.4f}".format,
    }
    print()
    print(table.to_string(formatters=fmt))
    print(
        f"\nOriginal system (not stacked): {one['rounds']} rounds, {one['dy10y_bp']:.3f} bp, "
        f"{one['ms/draw']:.2f} ms per draw, {one['ms/draw/round']:.4f} ms per draw per round"
    )
    best = table["ms/draw"].min()
    d_best = int(table["ms/draw"].idxmin())
    hours = DRAWS * ARMS * best / 1e3 / CORES / 3600
    print(
        f"{DRAWS:,} draws x {ARMS} arms = {DRAWS * ARMS:,} runs on {CORES} cores at the best "
        f"{best:.3f} ms/draw (D={d_best}): {DRAWS * ARMS:,} x {best:.3f} ms / {CORES} = "
        f"{DRAWS * ARMS * best / 1e3 / CORES:.1f} s ({hours:.2f} h); unbatched (D=1): "
        f"{DRAWS * ARMS * one['ms/draw'] / 1e3 / CORES:.1f} s"
    )


if __name__ == "__main__":
    main()
