"""Benchmark: generate + validate + compile a synthetic system at 10^3, 10^4, 10^5 institutions.

Each case draws a system with :func:`contagion.synthetic.generate_tables` (sector counts
from :func:`contagion.synthetic.counts_for`, ``exposures_per_fund=12``: about 10 exposures
per institution, so 10^5 institutions give about 10^6 exposures) and builds a
:class:`contagion.System` from it (validation and the compiled array view included).

Recorded per case (pytest-benchmark ``extra_info``): institutions, exposures, and peak
memory of one extra untimed run, as the tracemalloc peak (Python and numpy allocations)
and the growth of the process's peak resident set size (``ru_maxrss``; 0 when an earlier
case had already reached a higher peak).

Run with ``make bench`` (``python -m pytest benchmarks -p no:randomly --benchmark-only``),
or as a script, ``python benchmarks/test_bench_system.py [sizes...]``, which runs each
size in a fresh subprocess and prints a table of seconds and peak memory.
"""

from __future__ import annotations

import gc
import json
import resource
import subprocess
import sys
import time
import tracemalloc

import pytest

from contagion import System
from contagion.synthetic import counts_for, generate_tables

SIZES = (1_000, 10_000, 100_000)
ROUNDS = {1_000: 5, 10_000: 3, 100_000: 1}
EXPOSURES_PER_FUND = 12
SEED = 12345


def build(n_institutions: int) -> System:
    """Generate the tables and construct (validate, compile) the system."""
    inst, exp, market = generate_tables(
        **counts_for(n_institutions), exposures_per_fund=EXPOSURES_PER_FUND, seed=SEED
    )
    system = System(inst, exp, market, name=f"bench-{n_institutions}")
    system.compile()
    return system


def _maxrss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes on macOS, else KiB


def measure_memory(n_institutions: int) -> dict[str, float]:
    """Peak memory of one build: tracemalloc peak and ru_maxrss growth, MB."""
    gc.collect()
    rss0 = _maxrss_mb()
    tracemalloc.start()
    try:
        system = build(n_institutions)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {
        "n_institutions": system.n_institutions,
        "n_exposures": system.n_exposures,
        "tracemalloc_peak_mb": peak / 2**20,
        "maxrss_growth_mb": _maxrss_mb() - rss0,
    }


@pytest.mark.parametrize("n_institutions", SIZES)
def test_build_system(benchmark, n_institutions: int) -> None:
    system = benchmark.pedantic(
        build, args=(n_institutions,), rounds=ROUNDS[n_institutions], iterations=1
    )
    assert system.n_institutions == n_institutions
    benchmark.extra_info.update(measure_memory(n_institutions))


# --- script mode ----------------------------------------------------------------------------
def _one(n_institutions: int) -> dict[str, float]:
    """Time one build and measure its peak RSS above the post-import baseline (fresh process)."""
    base = _maxrss_mb()
    t0 = time.perf_counter()
    system = build(n_institutions)
    seconds = time.perf_counter() - t0
    return {
        "n_institutions": system.n_institutions,
        "n_exposures": system.n_exposures,
        "seconds": seconds,
        "peak_rss_mb": _maxrss_mb(),
        "peak_rss_above_imports_mb": _maxrss_mb() - base,
    }


def main(argv: list[str]) -> None:
    if argv[:1] == ["--one"]:
        print(json.dumps(_one(int(argv[1]))))
        return
    sizes = [int(a) for a in argv] or list(SIZES)
    header = f"{'institutions':>12} {'exposures':>10} {'seconds':>8} {'peak MB':>8} {'+MB':>8}"
    print(header)
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n)],
            check=True,
            capture_output=True,
            text=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{r['n_institutions']:>12,} {r['n_exposures']:>10,} {r['seconds']:>8.2f} "
            f"{r['peak_rss_mb']:>8.0f} {r['peak_rss_above_imports_mb']:>8.0f}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
