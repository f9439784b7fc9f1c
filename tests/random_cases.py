"""Seeded random cases for the random-system suite: a system, a scenario and policy arms.

One seed gives one case (``numpy.random.default_rng(seed)``; nothing else is random), so a
failure is reproduced by its seed alone::

    .venv/bin/python tests/random_cases.py 123      # runs case 123, prints what it is

Systems come from :func:`contagion.synthetic.generate_system` with small random sector
counts and random generator parameters. Scenarios draw every shock path, channel switch and
model parameter within its validated bounds; a share of draws sits at or near a bound (the
"extreme" draws of hostile testing: impact convexity near 10, utilisation caps near 1,
dealer capacity shocks of -100% to +1000%, rate shocks up to the per-day bound). Arms hold
one or two random policies of every type, with valid random settings (schedules, price
limits, triggers on real market metrics).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import annotated_types as at
import numpy as np

import contagion as c
from contagion.policies import POLICY_TYPES, policy_from_dict
from contagion.recorder import metric_names
from contagion.scenario import scenario_from_dict
from contagion.synthetic import generate_system

MAX_DAYS = 8
EXTREME_SHARE = 0.25  # share of numbers drawn at or next to a bound
# practical ranges for parameters without a useful upper (or lower) bound
UPPER = {"impact_bp_per_usd_bn": 2.0, "futures_impact_bp_per_usd_bn": 1.0, "max_iterations": 60}
RANGE = {"tolerance_usd_bn": (1e-9, 1e-4), "day_count_days": (250.0, 366.0)}


def _bounds(metadata) -> tuple[float | None, float | None, bool, bool]:
    lo = hi = None
    lo_open = hi_open = False
    for m in metadata:
        if isinstance(m, at.Ge):
            lo = m.ge
        elif isinstance(m, at.Gt):
            lo, lo_open = m.gt, True
        elif isinstance(m, at.Le):
            hi = m.le
        elif isinstance(m, at.Lt):
            hi, hi_open = m.lt, True
    return lo, hi, lo_open, hi_open


def _number(rng: np.random.Generator, lo: float, hi: float, lo_open: bool, hi_open: bool) -> float:
    """Uniform in [lo, hi], or (EXTREME_SHARE) at a bound or a hair inside an open one."""
    if rng.random() < EXTREME_SHARE:
        end, open_ = (lo, lo_open) if rng.random() < 0.5 else (hi, hi_open)
        if open_:
            inside = 1.0 if end == lo else -1.0
            end = end + inside * max(abs(end), 1.0) * 10.0 ** -rng.integers(3, 10)
        return float(end)
    return float(rng.uniform(lo, hi))


def model_params(rng: np.random.Generator) -> dict[str, Any]:
    """Random values for a random subset of :class:`contagion.ModelParams` (the rest default)."""
    out: dict[str, Any] = {}
    for name, field in c.ModelParams.model_fields.items():
        if rng.random() < 0.5:
            continue
        lo, hi, lo_open, hi_open = _bounds(field.metadata)
        if name in RANGE:
            (lo, hi), lo_open, hi_open = RANGE[name], False, False
        hi = UPPER.get(name, hi)
        if field.annotation is int:
            out[name] = int(rng.integers(int(lo) + lo_open, int(hi) - hi_open + 1))
        else:
            out[name] = _number(rng, lo, hi, lo_open, hi_open)
    return out


# shock paths: the ranges hostile testing used, wider than the engine property tests'
PATHS = {
    "volatility_multiplier": (0.5, 10.0),
    "am_redemption_frac": (0.0, 0.5),
    "mmf_outflow_frac": (0.0, 0.5),
    "dealer_capacity_shock_frac": (-1.0, 10.0),
    "mmf_repo_pullback_frac": (0.0, 0.99),
    "haircut_addon_frac": (0.0, 0.5),
    "initial_margin_addon_frac": (0.0, 5.0),
}
BUCKET_PATHS = {"rate_shock_bp": (-500.0, 500.0), "exogenous_sales_usd_bn": (0.0, 500.0)}


def scenario(rng: np.random.Generator, buckets: list[str]) -> c.Scenario:
    days = int(rng.integers(1, MAX_DAYS + 1))
    doc: dict[str, Any] = {"name": "random", "days": days}
    for name, (lo, hi) in PATHS.items():
        if rng.random() < 0.5:
            n = int(rng.integers(1, days + 1))
            doc[name] = [_number(rng, lo, hi, False, False) for _ in range(n)]
    for name, (lo, hi) in BUCKET_PATHS.items():
        chosen = [b for b in buckets if rng.random() < 0.4]
        doc[name] = {
            b: [_number(rng, lo, hi, False, False) for _ in range(int(rng.integers(1, days + 1)))]
            for b in chosen
        }
    doc["channels"] = {k: bool(rng.random() < 0.85) for k in c.Channels.model_fields}
    doc["params"] = model_params(rng)
    return scenario_from_dict(doc)


def _trigger(rng: np.random.Generator, market, days: int) -> dict[str, Any]:
    t: dict[str, Any] = {"start_day": int(rng.integers(1, days + 1))}
    if rng.random() < 0.3:
        names = metric_names(market)
        t.update(metric=str(rng.choice(names)), threshold=float(rng.normal(0, 20)))
        t["above"] = bool(rng.random() < 0.7)
    return t


def policy(rng: np.random.Generator, kind: str, system: c.System, days: int) -> dict[str, Any]:
    """A valid random config of policy type ``kind`` for ``system``."""
    m = system.market
    buckets, codes = list(m.bucket_names), list(m.futures_codes)

    def some(items: list[str]) -> list[str]:
        k = int(rng.integers(1, len(items) + 1))
        return [str(x) for x in rng.choice(items, size=k, replace=False)]

    budget = float(10.0 ** rng.uniform(0, 4 if rng.random() > EXTREME_SHARE else 9))
    doc: dict[str, Any] = {"type": kind, "trigger": _trigger(rng, m, days)}
    if rng.random() < 0.3:
        doc["duration_days"] = int(rng.integers(1, days + 1))
    if kind in ("qe", "swf"):
        doc.update(budget_usd_bn=budget, reactive_share=float(rng.uniform(0, 1)))
        if rng.random() < 0.5:
            doc["schedule_usd_bn"] = {
                b: [
                    float(10.0 ** rng.uniform(-1, 3)) for _ in range(int(rng.integers(1, days + 1)))
                ]
                for b in some(buckets)
            }
        if rng.random() < 0.3:
            doc["buckets"] = some(buckets)
        if rng.random() < 0.3:
            doc["max_price"] = {b: float(rng.uniform(80, 120)) for b in some(buckets)}
        if kind == "swf" and rng.random() < 0.5:
            doc["funding"] = "new_issuance"
            if rng.random() < 0.5:
                doc["issuance_bucket"] = str(rng.choice(buckets))
    elif kind == "basis_facility":
        doc.update(budget_usd_bn=budget, reactive_share=float(rng.uniform(0.01, 1)))
        if rng.random() < 0.5:
            doc["contracts"] = some(codes)
    elif kind == "srf":
        doc.update(
            aggregate_limit_usd_bn=budget,
            min_bid_spread_bp=float(rng.uniform(-50, 100)),
            haircut_frac=float(rng.uniform(0, 0.2)),
            eligible=some(["dealer", "hedge_fund", "mmf", "asset_manager"]),
            stigma_premium_bp=float(rng.uniform(0, 50)),
        )
    elif kind == "min_haircut":
        doc.update(
            floor_frac=float(rng.uniform(0.001, 0.3)),
            segments=some(["bilateral", "sponsored", "triparty"]),
            ex_ante=bool(rng.random() < 0.5),
        )
    elif kind == "fima_repo":
        doc.update(
            rate_spread_bp=float(rng.uniform(-50, 100)),
            haircut_frac=float(rng.uniform(0, 0.2)),
            per_counterparty_limit_usd_bn=budget,
            eligible=some(["other", "asset_manager", "mmf"]),
        )
        if rng.random() < 0.5:
            doc["aggregate_limit_usd_bn"] = float(10.0 ** rng.uniform(0, 4))
    elif kind == "central_clearing":
        doc["netting_frac"] = float(rng.uniform(0, 1))
    elif kind == "apc_margin":
        doc["max_daily_increase_frac"] = float(rng.uniform(0, 1))
        if rng.random() < 0.5:
            doc["cap_multiplier"] = float(rng.uniform(1, 5))
    return doc


def case(seed: int) -> tuple[c.System, c.Scenario, dict[str, list]]:
    """The system, scenario and arms of random case ``seed``."""
    rng = np.random.default_rng(seed)
    spec = {
        "n_hedge_funds": int(rng.integers(1, 7)),
        "n_dealers": int(rng.integers(1, 4)),
        "n_mmfs": int(rng.integers(0, 3)),
        "n_asset_managers": int(rng.integers(1, 3)),
        "n_other": int(rng.integers(0, 3)),
        "exposures_per_fund": int(rng.integers(5, 9)),
        "zero_haircut_share": float(rng.uniform(0, 1)),
        "hf_leverage_median_ratio": float(rng.uniform(5, 40)),
        "sponsored_share": float(rng.uniform(0, 0.5)),
        "seed": int(rng.integers(2**32)),
    }
    system = generate_system(**spec)
    sc = scenario(rng, list(system.market.bucket_names))
    arms: dict[str, list] = {}
    for i in range(int(rng.integers(1, 4))):
        kinds = rng.choice(POLICY_TYPES, size=int(rng.integers(1, 3)), replace=False)
        arms[f"arm{i}"] = [policy_from_dict(policy(rng, str(k), system, sc.days)) for k in kinds]
    return system, sc, arms


def describe(seed: int) -> str:
    system, sc, arms = case(seed)
    lines = [f"case {seed}: {system!r}", f"scenario: {sc.model_dump_json(exclude_defaults=True)}"]
    for name, pols in arms.items():
        docs = [{"type": p.type, **p.model_dump(mode="json", exclude_defaults=True)} for p in pols]
        lines.append(f"{name}: {json.dumps(docs)}")
    return "\n".join(lines)


def run(seed: int) -> None:
    """Every arm of case ``seed`` (no action first); the engine checks its invariants daily."""
    system, sc, arms = case(seed)
    for name, pols in {"no_action": [], **arms}.items():
        try:
            summary = c.simulate_summary(system, sc, pols)
        except Exception as err:
            err.add_note(f"random case {seed}, arm {name}")
            raise
        bad = [k for k, v in summary.items() if not np.isfinite(v)]
        assert not bad, f"case {seed}, arm {name}: non-finite summary values {bad}"


if __name__ == "__main__":  # pragma: no cover - reproduction from the command line
    for arg in sys.argv[1:]:
        print(describe(int(arg)))
        run(int(arg))
        print("ok")
