"""Benchmark: Eisenberg-Noe clearing on random sparse networks of 10^2, 10^3, 10^4 nodes.

Each network has about 5 liabilities per node: every node owes 5 distinct random other
nodes lognormal amounts (``scipy.sparse.csr_array``, USD bn), and holds external assets of
a uniform 0-60% of its total obligations, so that a sizeable share defaults and the
fictitious default algorithm needs several rounds (and, above 256 defaulters, the GMRES
path of :func:`contagion.clearing._solve_defaulters`).

Recorded per case (pytest-benchmark ``extra_info``): nodes, edges, rounds of the
algorithm, defaulters, and peak memory of one extra untimed call, as the tracemalloc peak
(Python and numpy allocations; scipy's SuperLU/ARPACK buffers are not traced) and the
growth of ``ru_maxrss``.

Run with ``make bench``, or as a script, ``python benchmarks/test_bench_clearing.py
[sizes...]``, which runs each size in a fresh subprocess and prints a table.
"""

from __future__ import annotations

import gc
import json
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from contagion.clearing import eisenberg_noe

SIZES = (100, 1_000, 10_000)
ROUNDS = {100: 50, 1_000: 20, 10_000: 5}
EDGES_PER_NODE = 5
SEED = 12345


def network(n: int, seed: int = SEED) -> tuple[sp.csr_array, np.ndarray]:
    """A random sparse liability matrix (no self-loops) and external assets."""
    rng = np.random.default_rng(seed)
    k = min(EDGES_PER_NODE, n - 1)
    rows = np.repeat(np.arange(n), k)
    # k distinct non-self creditors per debtor: offsets 1..n-1 drawn without replacement
    offsets = np.argsort(rng.random((n, n - 1)), axis=1)[:, :k] + 1 if n <= 1_000 else None
    if offsets is None:  # large n: collisions are rare, drop them (sum_duplicates merges)
        offsets = rng.integers(1, n, size=(n, k))
    cols = (rows + offsets.ravel()) % n
    vals = rng.lognormal(mean=0.0, sigma=1.0, size=rows.size)
    liabilities = sp.csr_array((vals, (rows, cols)), shape=(n, n))
    liabilities.sum_duplicates()
    pbar = np.asarray(liabilities.sum(axis=1)).ravel()
    external = pbar * rng.uniform(0.0, 0.6, size=n)
    return liabilities, external


def _maxrss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes on macOS, else KiB


def describe(liabilities: sp.csr_array, res) -> dict[str, float]:
    return {
        "n_nodes": liabilities.shape[0],
        "n_edges": int(liabilities.nnz),
        "rounds": int(res.iterations),
        "defaulted": int(res.defaulted.sum()),
    }


def measure_memory(liabilities: sp.csr_array, external: np.ndarray) -> dict[str, float]:
    gc.collect()
    rss0 = _maxrss_mb()
    tracemalloc.start()
    try:
        eisenberg_noe(liabilities, external)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {"tracemalloc_peak_mb": peak / 2**20, "maxrss_growth_mb": _maxrss_mb() - rss0}


@pytest.mark.parametrize("n_nodes", SIZES)
def test_eisenberg_noe(benchmark, n_nodes: int) -> None:
    liabilities, external = network(n_nodes)
    res = benchmark.pedantic(
        eisenberg_noe, args=(liabilities, external), rounds=ROUNDS[n_nodes], iterations=1
    )
    assert res.payments.shape == (n_nodes,)
    benchmark.extra_info.update(describe(liabilities, res))
    benchmark.extra_info.update(measure_memory(liabilities, external))


# --- script mode ----------------------------------------------------------------------------
def _one(n: int) -> dict[str, float]:
    liabilities, external = network(n)
    base = _maxrss_mb()
    best = np.inf
    for _ in range(ROUNDS.get(n, 3)):
        t0 = time.perf_counter()
        res = eisenberg_noe(liabilities, external)
        best = min(best, time.perf_counter() - t0)
    return {
        **describe(liabilities, res),
        "seconds": best,
        "peak_rss_mb": _maxrss_mb(),
        "peak_rss_above_input_mb": _maxrss_mb() - base,
    }


def main(argv: list[str]) -> None:
    if argv[:1] == ["--one"]:
        print(json.dumps(_one(int(argv[1]))))
        return
    sizes = [int(a) for a in argv] or list(SIZES)
    print(
        f"{'nodes':>8} {'edges':>8} {'rounds':>6} {'defaulted':>9} {'ms (best)':>10} "
        f"{'peak MB':>8} {'+MB':>6}"
    )
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n)], check=True, capture_output=True, text=True
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{r['n_nodes']:>8,} {r['n_edges']:>8,} {r['rounds']:>6} {r['defaulted']:>9,} "
            f"{1000 * r['seconds']:>10.2f} {r['peak_rss_mb']:>8.0f} "
            f"{r['peak_rss_above_input_mb']:>6.0f}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
