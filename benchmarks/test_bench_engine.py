"""Benchmark: one 20-day :func:`contagion.simulate` at 10^3, 10^4, 10^5 institutions.

Systems (``CONTAGION_BENCH_FAMILY``, or ``--family`` in script mode):

- ``split`` (default): the bundled stylised market split among ``n`` institutions,
  :func:`contagion.synthetic.stylised_us_2025_params` with ``n_institutions=n`` (sector
  counts from :func:`contagion.synthetic.counts_for`, per-institution sizes scaled so each
  sector's total, and so the market, is the stylised system's) and
  ``exposures_per_fund=12``: about 10 exposures per institution, so 10^3 / 10^4 / 10^5
  institutions give about 10^4 / 10^5 / 10^6 exposures. The same economy at every size,
  so the scenarios stress it as they stress ``stylised_us_2025``.
- ``grown``: the generator's per-institution defaults at the same counts (seed 12345),
  as benchmarked before 2026-12: the market grows with the count (at 10^3 institutions
  six times the stylised market, 129,564 USD bn outstanding), and about half of the
  institutions default under ``basis_unwind``, so its timings include a default cascade
  the real market would not see.

Plus the bundled ``contagion.examples.stylised_us_2025()`` (~170 institutions). Each runs
under the bundled scenarios ``basis_unwind`` (20 days) and ``volatility_spike`` (bundled
with 10 days; extended here to 20 days, the volatility level holding at 2x). Building the
system is not timed (see ``test_bench_system.py``).

Recorded per case (pytest-benchmark ``extra_info``): institutions, exposures, days, rounds
(sum of the day loop's iterations), seconds per day, defaults, peak 10y yield change (bp),
and peak memory of one extra untimed run: the tracemalloc peak (Python and numpy
allocations) and the growth of the process's peak resident set size (``ru_maxrss``; 0 when
an earlier case had reached a higher peak).

``test_day_cost_scaling`` runs ``basis_unwind`` at five sizes (10^3 to 10^5 institutions)
and fits the log-log slope of seconds per day against nodes + edges (target: about 1).

Run with ``make bench``, or as a script, ``python benchmarks/test_bench_engine.py
[--repeat N] [--family split|grown] [sizes...]``, which runs each case in a fresh
subprocess (the best of ``N`` with ``--repeat``), prints a table of seconds and peak
memory, and the fitted exponent. The system and the scenario are built before the clock
starts; the timed run includes the first-call costs of a fresh process.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest

import contagion
from contagion import System, examples, scenarios
from contagion.synthetic import counts_for, generate_system, stylised_us_2025_params

SIZES = (1_000, 10_000, 100_000)
SCALING_SIZES = (1_000, 3_000, 10_000, 30_000, 100_000)
SCENARIOS = ("basis_unwind", "volatility_spike")
ROUNDS = {"stylised": 10, 1_000: 5, 3_000: 3, 10_000: 3, 30_000: 1, 100_000: 1}
DAYS = 20
EXPOSURES_PER_FUND = 12
SEED = 12345  # of the grown family; the split family keeps the stylised seed (2025)
FAMILIES = ("split", "grown")


def family() -> str:
    """The system family benchmarked: ``CONTAGION_BENCH_FAMILY``, default ``split``."""
    out = os.environ.get("CONTAGION_BENCH_FAMILY", "split")
    if out not in FAMILIES:
        raise SystemExit(f"CONTAGION_BENCH_FAMILY={out!r}: expected one of {FAMILIES}")
    return out


def system(size: int | str) -> System:
    """The benchmark system of ``size`` institutions, or ``"stylised"`` (cached, compiled)."""
    return _system(size, family())


@functools.cache
def _system(size: int | str, family: str) -> System:
    if size == "stylised":
        out = examples.stylised_us_2025()
    elif family == "split":
        params = stylised_us_2025_params(int(size))
        out = generate_system(**{**params, "exposures_per_fund": EXPOSURES_PER_FUND})
    else:
        out = generate_system(
            name=f"bench-{size}",
            seed=SEED,
            exposures_per_fund=EXPOSURES_PER_FUND,
            **counts_for(size),
        )
    out.compile()
    return out


@functools.cache
def scenario(name: str) -> contagion.Scenario:
    """A bundled scenario run for :data:`DAYS` days (shorter paths are padded)."""
    sc = scenarios.load(name)
    return type(sc).model_validate({**sc.model_dump(), "days": DAYS})


def run(size: int | str, name: str) -> contagion.Result:
    return contagion.simulate(system(size), scenario(name))


def _maxrss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes on macOS, else KiB


def describe(size: int | str, result: contagion.Result) -> dict[str, float]:
    sysm = system(size)
    return {
        "n_institutions": sysm.n_institutions,
        "n_exposures": sysm.n_exposures,
        "days": DAYS,
        "rounds": int(result.markets["iterations"].sum()),
        "defaults": int(result.summary["defaults_count"]),
        "peak_10y_bp": float(result.summary["peak_yield_change_10y_bp"]),
    }


def measure_memory(size: int | str, name: str) -> dict[str, float]:
    """Peak memory of one run (system already built): tracemalloc peak and ru_maxrss growth."""
    system(size)
    gc.collect()
    rss0 = _maxrss_mb()
    tracemalloc.start()
    try:
        run(size, name)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {"tracemalloc_peak_mb": peak / 2**20, "maxrss_growth_mb": _maxrss_mb() - rss0}


def _bench(benchmark, size: int | str, name: str) -> None:
    system(size)  # build outside the timing
    scenario(name)
    result = benchmark.pedantic(run, args=(size, name), rounds=ROUNDS[size], iterations=1)
    benchmark.extra_info.update(describe(size, result))
    benchmark.extra_info["seconds_per_day"] = benchmark.stats.stats.min / DAYS
    benchmark.extra_info.update(measure_memory(size, name))


@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize("n_institutions", SIZES)
def test_simulate_synthetic(benchmark, n_institutions: int, name: str) -> None:
    _bench(benchmark, n_institutions, name)


@pytest.mark.parametrize("name", SCENARIOS)
def test_simulate_stylised(benchmark, name: str) -> None:
    _bench(benchmark, "stylised", name)


def fit_exponent(sizes: list[float], seconds: list[float]) -> float:
    """Least-squares slope of log(seconds) on log(size)."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def scaling(sizes=SCALING_SIZES, name: str = "basis_unwind") -> dict[str, object]:
    """Best-of-k seconds per day (and per round) against nodes + edges, and the fit."""
    rows = []
    for n in sizes:
        sysm = system(n)
        best = np.inf
        for _ in range(ROUNDS[n]):
            t0 = time.perf_counter()
            result = run(n, name)
            best = min(best, time.perf_counter() - t0)
        d = describe(n, result)
        rows.append(
            {
                **d,
                "nodes_plus_edges": sysm.n_institutions + sysm.n_exposures,
                "seconds_per_day": best / DAYS,
                "seconds_per_round": best / d["rounds"],
            }
        )
    x = [r["nodes_plus_edges"] for r in rows]
    return {
        "rows": rows,
        "exponent_per_day": fit_exponent(x, [r["seconds_per_day"] for r in rows]),
        "exponent_per_round": fit_exponent(x, [r["seconds_per_round"] for r in rows]),
        "exponent_per_day_top3": fit_exponent(x[-3:], [r["seconds_per_day"] for r in rows][-3:]),
    }


def test_day_cost_scaling(benchmark) -> None:
    for n in SCALING_SIZES:
        system(n)
    out = benchmark.pedantic(scaling, rounds=1, iterations=1)
    benchmark.extra_info.update(out)


# --- script mode ----------------------------------------------------------------------------
def _one(size: int | str, name: str) -> dict[str, object]:
    """Time one run and measure its peak RSS above the built system (fresh process)."""
    system(size)  # inputs are built outside the timing, as in the pytest cases
    scenario(name)
    base = _maxrss_mb()
    try:
        t0 = time.perf_counter()
        result = run(size, name)
        seconds = time.perf_counter() - t0
    except contagion.InvariantError as exc:
        sysm = system(size)
        return {
            "n_institutions": sysm.n_institutions,
            "n_exposures": sysm.n_exposures,
            "error": str(exc),
        }
    return {
        **describe(size, result),
        "seconds": seconds,
        "peak_rss_mb": _maxrss_mb(),
        "peak_rss_above_system_mb": _maxrss_mb() - base,
    }


def main(argv: list[str]) -> None:
    if argv[:1] == ["--one"]:
        size = argv[1] if argv[1] == "stylised" else int(argv[1])
        print(json.dumps(_one(size, argv[2])))
        return
    if "--family" in argv:  # passed to the case subprocesses through the environment
        i = argv.index("--family")
        os.environ["CONTAGION_BENCH_FAMILY"] = argv[i + 1]
        argv = argv[:i] + argv[i + 2 :]
        family()
    repeat = 1
    if "--repeat" in argv:  # best of N fresh processes per case (for a noisy machine)
        i = argv.index("--repeat")
        repeat = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2 :]
    sizes = [int(a) for a in argv] or list(SCALING_SIZES)
    header = (
        f"{'system':>10} {'scenario':>16} {'institutions':>12} {'exposures':>10} "
        f"{'rounds':>6} {'defaults':>8} {'10y bp':>7} {'seconds':>8} {'ms/day':>8} "
        f"{'peak MB':>8} {'+MB':>8}"
    )
    print(f"family: {family()}")
    print(header)
    fit: dict[str, list[float]] = {"x": [], "y": []}
    for size in ["stylised", *sizes]:
        for name in SCENARIOS:
            runs = []
            for _ in range(repeat):
                out = subprocess.run(
                    [sys.executable, __file__, "--one", str(size), name],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            r = min(runs, key=lambda x: x.get("seconds", np.inf))
            lead = f"{size!s:>10} {name:>16} {r['n_institutions']:>12,} {r['n_exposures']:>10,}"
            if "error" in r:
                print(f"{lead}  raised InvariantError: {r['error']}")
                continue
            print(
                f"{lead} {r['rounds']:>6} {r['defaults']:>8} {r['peak_10y_bp']:>7.1f} "
                f"{r['seconds']:>8.3f} {1000 * r['seconds'] / DAYS:>8.2f} "
                f"{r['peak_rss_mb']:>8.0f} {r['peak_rss_above_system_mb']:>8.0f}"
            )
            if name == "basis_unwind" and size != "stylised":
                fit["x"].append(r["n_institutions"] + r["n_exposures"])
                fit["y"].append(r["seconds"] / DAYS)
    if len(fit["x"]) >= 2:
        print(
            f"log-log slope of seconds/day vs nodes+edges (basis_unwind, "
            f"{len(fit['x'])} sizes): {fit_exponent(fit['x'], fit['y']):.2f}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
