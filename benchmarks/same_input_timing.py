"""Time one warm ``simulate_summary`` of a saved system file, for comparing engine versions
on the same input (benchmarks/PROFILE.md, "the same input files").

Written to run under old and new trees alike (``PYTHONPATH=<tree> python
benchmarks/same_input_timing.py FILE SCENARIO``): it reads the file with
``contagion.io.from_dict`` (``load_system`` of later versions refuses files over 64 MB) and
uses only APIs both versions have. ``SCENARIO`` is a bundled scenario name or ``calm`` (20
days without any shock). Prints: seconds, the 10y peak (bp) and the defaults.
"""

from __future__ import annotations

import json
import sys
import time

import contagion as c
from contagion import scenarios
from contagion.io import from_dict
from contagion.scenario import Scenario


def main(path: str, scenario: str) -> None:
    with open(path, encoding="utf-8") as f:
        system = from_dict(json.load(f))
    system.compile()
    sc = Scenario(name="calm", days=20) if scenario == "calm" else scenarios.load(scenario)
    c.simulate_summary(system, Scenario(name="warm-up", days=1))
    t = time.perf_counter()
    out = c.simulate_summary(system, sc)
    seconds = time.perf_counter() - t
    print(f"{seconds:.3f} s, 10y peak {out['peak_yield_change_10y_bp']:.2f} bp, "
          f"defaults {out['defaults_count']:.0f}")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "calm")
