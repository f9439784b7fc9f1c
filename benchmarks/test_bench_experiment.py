"""Benchmark: a 10,000-draw, 4-arm policy experiment with 1 and 2 workers.

The experiment: the bundled calibrated system ``calibrated_us_2025`` under the bundled
``basis_unwind`` scenario (20 days) with its fitted model parameters, arms no action, QE,
the Standing Repo Facility and sovereign-fund purchases (USD 500 bn each, as in the default
experiment), parameters drawn from the fit's ranges as the main job draws them
(:func:`contagion.examples.model_params_uncertainty`: each estimate +/- 2 std errors,
seeded). Draws run through :func:`contagion.simulate_summary` (no result frames). 1 worker is the
in-process serial backend; 2 workers are two local joblib processes (the default
``contagion experiment --workers 2`` path). Target (issue 7): under 2 minutes on 2 cores.

Recorded per case (pytest-benchmark ``extra_info``): draws, arms, runs (draws x arms, plus
one point run per arm), seconds, draws per second, runs per second, and the peak resident
memory of the whole process tree (this process plus its worker processes, sampled every
0.1 s with psutil) and of this process alone.

The full 10,000 draws take tens of minutes on 2 cores, so the number of draws can be set
with the environment variable ``CONTAGION_BENCH_DRAWS`` (pytest) or ``--draws N`` (script).
Script mode runs each worker count in a fresh subprocess and prints a table with the
throughput extrapolated to 10,000 draws::

    .venv/bin/python benchmarks/test_bench_experiment.py --draws 300
    .venv/bin/python benchmarks/test_bench_experiment.py --draws 300 --workers 1 2 --system NAME
    CONTAGION_BENCH_DRAWS=300 .venv/bin/python -m pytest benchmarks/test_bench_experiment.py \\
        -p no:randomly --benchmark-only -q
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time

import pytest

import contagion
from contagion import examples, scenarios
from contagion.experiment import experiment
from contagion.policies import QEConfig, SovereignFundConfig, StandingRepoConfig

DRAWS = 10_000
WORKERS = (1, 2)
SYSTEM = "calibrated_us_2025"
SCENARIO = "basis_unwind"
SEED = 2025
ARMS = {
    "qe_500bn": [QEConfig(name="qe", reactive_share=0.5, budget_usd_bn=500)],
    "srf_500bn": [StandingRepoConfig(name="srf", aggregate_limit_usd_bn=500)],
    "swf_500bn": [SovereignFundConfig(name="swf", reactive_share=0.5, budget_usd_bn=500)],
}  # plus no_action: 4 arms


def draws_from_env() -> int:
    return int(os.environ.get("CONTAGION_BENCH_DRAWS", DRAWS))


class PeakMemory:
    """Peak RSS of this process plus its descendants, sampled in a thread (MB), and the CPU
    seconds the descendants used (last sample per process; workers outlive the run)."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peak_tree_mb = 0.0
        self.child_cpu: dict[int, float] = {}
        self._cpu0: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                    if p.pid != me.pid:
                        t = p.cpu_times()
                        cpu = t.user + t.system
                        self._cpu0.setdefault(p.pid, cpu)  # (reused workers: from here)
                        self.child_cpu[p.pid] = cpu - self._cpu0[p.pid]
                except psutil.Error:  # a worker that just exited
                    pass
            self.peak_tree_mb = max(self.peak_tree_mb, total / 2**20)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _maxrss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def run(draws: int, workers: int, system: str = SYSTEM) -> dict[str, float]:
    """One experiment; its timing, throughput and peak memory."""
    sysm = examples.load_bundled(system)
    sysm.compile()
    sc = scenarios.load(SCENARIO).with_params(**examples.model_params(sysm))
    with PeakMemory() as mem:
        t0, c0 = time.perf_counter(), time.process_time()
        ex = experiment(sysm, sc, ARMS, draws=draws, rng=SEED, workers=workers,
                        uncertainty=examples.model_params_uncertainty(sysm))  # fmt: skip
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    cpu += sum(mem.child_cpu.values())
    arms = len(ex.metrics)
    assert ex.draws["draw"].nunique() == draws
    return {
        "system": system,
        "n_institutions": sysm.n_institutions,
        "draws": draws,
        "arms": arms,
        "workers": workers,
        "runs": draws * arms + arms,
        "seconds": seconds,
        "draws_per_s": draws / seconds,
        "runs_per_s": (draws * arms + arms) / seconds,
        "cpu_seconds": cpu,  # this process and its workers: robust to other load
        "cpu_ms_per_run": 1000 * cpu / (draws * arms + arms),
        "peak_rss_tree_mb": mem.peak_tree_mb,
        "peak_rss_self_mb": _maxrss_mb(),
    }


@pytest.mark.parametrize("workers", WORKERS)
def test_experiment_draws(benchmark, workers: int) -> None:
    out = benchmark.pedantic(run, args=(draws_from_env(), workers), rounds=1, iterations=1)
    benchmark.extra_info.update(out)


# --- script mode ----------------------------------------------------------------------------
def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="Time a many-draw, 4-arm experiment.")
    parser.add_argument("--draws", type=int, default=DRAWS, help="parameter draws")
    parser.add_argument("--workers", type=int, nargs="+", default=list(WORKERS))
    parser.add_argument("--system", default=SYSTEM, help="bundled system name")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:  # a single case in this (fresh) process
        print(json.dumps(run(args.draws, args.workers[0], args.system)))
        return
    print(
        f"{args.draws} draws x 4 arms, {args.system} under {SCENARIO}, contagion "
        f"{contagion.__version__}, {os.cpu_count()} CPUs"
    )
    print(
        f"{'workers':>7} {'runs':>7} {'seconds':>8} {'draws/s':>8} {'runs/s':>7} "
        f"{'CPU ms/run':>10} {'10k draws (est.)':>22} {'peak MB (tree)':>14} {'(self)':>7}"
    )
    for w in args.workers:
        cmd = [sys.executable, __file__, "--one", "--draws", str(args.draws), "--workers",
               str(w), "--system", args.system]  # fmt: skip
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True)
                       .stdout.strip().splitlines()[-1])  # fmt: skip
        est = DRAWS / r["draws_per_s"]
        print(
            f"{w:>7} {r['runs']:>7,} {r['seconds']:>8.1f} {r['draws_per_s']:>8.2f} "
            f"{r['runs_per_s']:>7.1f} {r['cpu_ms_per_run']:>10.1f} "
            f"{f'{est:.0f} s ({est / 60:.1f} min)':>22} {r['peak_rss_tree_mb']:>14.0f} "
            f"{r['peak_rss_self_mb']:>7.0f}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
