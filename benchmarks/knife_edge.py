"""Knife-edge scan: does a small change in a shock give a proportionate change in the result?

Runs a stress at a ladder of severities (``Scenario.scaled``: every shock path times the
factor, volatility as its excess over 1) and reports, per step, the 10y peak, the basis
and swap-spread peaks, hedge-fund sales, defaults and which model bounds bite. A step whose
10y response per unit of scale exceeds ``JUMP_RATIO`` times the scan's median slope is a
jump; the scan names what happened across it: new defaults (a default cascade, by type) or
fewer, a bound that starts or stops binding, hedge-fund sales growing far faster than the
shock (their de-leveraging), or nothing it can name (an unexplained cliff, a defect).

Usage (on demand, not in CI)::

    .venv/bin/python benchmarks/knife_edge.py                    # main job system and stress
    .venv/bin/python benchmarks/knife_edge.py --episode april_2025 --scales 0.5 1 1.5 2 2.5
    .venv/bin/python benchmarks/knife_edge.py --write            # also writes KNIFE_EDGE.md
    .venv/bin/python benchmarks/knife_edge.py --parameter outside_demand_usd_bn_per_bp \
        --values 0.32 1 2 4 8                                      # the full stress, a model
                                                                   # parameter scanned instead

A parameter scan runs the unscaled stress at each value of one ``ModelParams`` field (the
others as the case sets them): how much of a result one poorly identified parameter
decides, read with the same jump diagnosis.

A parameter scan also gives the hedge funds' loss-spiral gain at each value
(``contagion.metrics.loss_spiral_gain``, a start-of-stress closed form): where it crosses 1
is where the stress starts to run to a bound.

A knock-out table (``--knockouts``) runs the unscaled stress once as it is, then once with
each of its shock paths removed and once with each mechanism (``Scenario.channels``)
switched off, one at a time: which single piece the level rests on. A cascade whose peak
survives every single knock-out is over-determined (several channels each suffice), and
then no single tool that works on one channel can move it. ``--episode march_2020_no_fed``
is the March 2020 replay without the Federal Reserve's actions (no purchases, facilities
or cuts: ``calibration.episodes.counterfactual_no_fed``), the model's own answer to what
the same shocks did on the 2020 system without intervention::

    .venv/bin/python benchmarks/knife_edge.py --knockouts --write
    .venv/bin/python benchmarks/knife_edge.py --episode march_2020_no_fed --scales 1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import contagion as c  # noqa: E402
from contagion.recorder import BOUNDS  # noqa: E402
from contagion.schema import INSTITUTION_TYPES  # noqa: E402

JUMP_RATIO = 3.0  # a step steeper than 3x the scan's median slope is a jump
#: A change of dealers' peak utilisation this large between two rows names them as the cause
#: (the impact factor g(u) = (1 - u)^-kappa is convex in it).
UTIL_STEP = 0.1
#: Hedge-fund sales falling by this share between two rows are named as a cause.
SALES_DROP = 0.1
DEFAULT_SCALES = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)


#: Shock paths of a scenario and the value that removes each (as ``Scenario.scaled`` at 0).
NEUTRAL_SHOCKS = {
    "volatility_multiplier": (1.0,),
    "rate_shock_bp": {},
    "swap_spread_shock_bp": {},
    "exogenous_sales_usd_bn": {},
    "am_redemption_frac": (0.0,),
    "mmf_outflow_frac": (0.0,),
    "prime_mmf_outflow_frac": (0.0,),
    "mmf_repo_pullback_frac": (0.0,),
    "haircut_addon_frac": (0.0,),
    "initial_margin_addon_frac": (0.0,),
    "futures_margin_addon_frac": (0.0,),
    "dealer_capacity_shock_frac": (0.0,),
}


def _case(episode: str | None):
    if episode == "march_2020_no_fed":
        from calibration.episodes import counterfactual_no_fed

        system, scenario, policies = counterfactual_no_fed()
        return system, scenario, policies, "calibration.episodes.counterfactual_no_fed()"
    if episode:
        import calibration

        system, scenario, policies = calibration.episode(episode)
        return system, scenario, policies, f"calibration.episode({episode!r})"
    from contagion.experiment import default_experiment

    system = c.examples.calibrated_us_2025()
    scenario = c.scenarios.load("basis_unwind").with_params(**c.examples.model_params(system))
    # the main job's no action: its standing facilities (the SRF) in force
    standing = list(default_experiment().standing)
    label = "calibrated_us_2025 under basis_unwind (the main job's no action: the standing SRF)"
    return system, scenario, standing, label


def scan(system, scenario, policies, scales) -> pd.DataFrame:
    """One row per severity: headline outcomes and the bounds that bind."""
    return pd.DataFrame(
        [_row("scale", f, c.simulate_summary(system, scenario.scaled(f), policies)) for f in scales]
    )


def scan_parameter(system, scenario, policies, name: str, values) -> pd.DataFrame:
    """One row per value of the model parameter ``name`` (the stress unscaled), with the
    hedge funds' loss-spiral gain at that value (``contagion.metrics.loss_spiral_gain``:
    above 1 the spiral beyond full dealers feeds itself)."""
    rows = []
    for v in values:
        sc = scenario.with_params(**{name: v})
        row = _row(name, v, c.simulate_summary(system, sc, policies))
        row["spiral_gain"] = c.metrics.loss_spiral_gain(system, sc.params).gain
        rows.append(row)
    return pd.DataFrame(rows)


def knockouts(system, scenario, policies) -> pd.DataFrame:
    """The unscaled stress, then with one shock path removed or one channel off at a time
    (only the shocks the stress sets and the channels it has on)."""
    runs = [("nothing", scenario)]
    dump = scenario.model_dump()
    for field, neutral in NEUTRAL_SHOCKS.items():
        value = getattr(scenario, field)
        if any(value.values()) if isinstance(value, dict) else value != neutral:
            removed = scenario.model_validate({**dump, field: neutral, "name": scenario.name})
            runs.append((f"shock {field}", removed))
    for channel, on in scenario.channels.model_dump().items():
        if on:
            runs.append((f"channel {channel}", scenario.with_channels(**{channel: False})))
    df = pd.DataFrame(
        [_row("removed", what, c.simulate_summary(system, sc, policies)) for what, sc in runs]
    )
    df["change_10y_bp"] = df["peak_10y_bp"] - df["peak_10y_bp"].iloc[0]
    return df


def _row(x_name: str, x, s: dict) -> dict:
    """Headline outcomes of one run (``s``: its summary) at ``x`` of the scanned column."""
    row = {
        x_name: x,
        "peak_10y_bp": s["peak_yield_change_10y_bp"],
        "peak_basis_TY_bp": s.get("peak_basis_widening_TY_bp", np.nan),
        "peak_swap_spread_10y_bp": s.get("peak_swap_spread_change_10y_bp", np.nan),
        "hf_sales_usd_bn": s.get("voluntary_sales_hedge_fund_usd_bn", 0.0)
        + s.get("forced_sales_hedge_fund_usd_bn", 0.0),
        "defaults": s["defaults_count"],
        "dealer_peak_util": s.get("dealer_peak_utilisation_frac", np.nan),
        "bounds": ", ".join(k.removesuffix("_days") for k in BOUNDS if s.get(k, 0) > 0),
    }
    for t in INSTITUTION_TYPES:
        row[f"defaults_{t}"] = s.get(f"defaults_{t}_count", 0.0)
    return row


def diagnose(frame: pd.DataFrame) -> pd.DataFrame:
    """Mark jumps and name what explains them (the first column is the scanned one)."""
    df = frame.copy()
    slope = df["peak_10y_bp"].diff() / df[df.columns[0]].diff()
    med = float(np.nanmedian(np.abs(slope.iloc[1:]))) if len(df) > 2 else np.nan
    verdict = [""]
    for i in range(1, len(df)):
        prev, cur = df.iloc[i - 1], df.iloc[i]
        if not (med > 0 and abs(slope.iloc[i]) > JUMP_RATIO * med):
            verdict.append("smooth")
            continue
        why = []
        new = {t: cur[f"defaults_{t}"] - prev[f"defaults_{t}"] for t in INSTITUTION_TYPES}
        new = {t: int(v) for t, v in new.items() if v > 0}
        if new:
            why.append("default cascade: " + ", ".join(f"{v} {t}" for t, v in new.items()))
        x0, x1 = float(prev[df.columns[0]]), float(cur[df.columns[0]])
        s0, s1 = float(prev["hf_sales_usd_bn"]), float(cur["hf_sales_usd_bn"])
        if x0 > 0 and s0 > 0 and s1 / s0 > JUMP_RATIO * x1 / x0:  # sales outgrow the shock
            why.append(f"hedge-fund sales jump: {s0:.0f} -> {s1:.0f} USD bn (de-leveraging)")
        elif s0 > 0 and s1 < (1.0 - SALES_DROP) * s0:
            why.append(f"hedge-fund sales fall: {s0:.0f} -> {s1:.0f} USD bn")
        if df.columns[0] == "outside_demand_usd_bn_per_bp" and x0 > 0 and x1 > 0:
            # once dealers are full a USD bn moves a bucket at most 1 / beta bp
            why.append(f"impact per USD bn beyond the dealers, 1/beta: {1 / x0:.2f} -> "
                       f"{1 / x1:.2f} bp")  # fmt: skip
        u0, u1 = float(prev["dealer_peak_util"]), float(cur["dealer_peak_util"])
        if abs(u1 - u0) >= UTIL_STEP:  # the impact is convex in dealers' utilisation
            how = "fill up" if u1 > u0 else "are less full"
            why.append(f"dealers {how}: peak utilisation {u0:.2f} -> {u1:.2f}")
        was = set(filter(None, str(prev["bounds"]).split(", ")))
        now = set(filter(None, str(cur["bounds"]).split(", ")))
        if now - was:
            why.append("bound starts to bind: " + ", ".join(sorted(now - was)))
        if was - now:
            why.append("bound stops binding: " + ", ".join(sorted(was - now)))
        fewer = {t: int(-v) for t in INSTITUTION_TYPES
                 if (v := cur[f"defaults_{t}"] - prev[f"defaults_{t}"]) < 0}  # fmt: skip
        if fewer:
            why.append("fewer defaults: " + ", ".join(f"{v} {t}" for t, v in fewer.items()))
        verdict.append("JUMP (" + ("; ".join(why) if why else "UNEXPLAINED") + ")")
    df["slope_bp_per_unit_scale"] = slope  # per unit of the scanned column (first)
    df["verdict"] = verdict
    return df


def _markdown(df: pd.DataFrame) -> str:
    def cell(v) -> str:
        return (
            f"{v:.3g}"
            if isinstance(v, float) and abs(v) < 10
            else (f"{v:.1f}" if isinstance(v, float) else str(v))
        )

    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episode", default=None, help="an episode instead of the main job")
    ap.add_argument("--scales", type=float, nargs="+", default=list(DEFAULT_SCALES))
    ap.add_argument("--parameter", default=None, help="scan this ModelParams field instead")
    ap.add_argument("--values", type=float, nargs="+", default=None, help="its values")
    ap.add_argument("--knockouts", action="store_true",
                    help="remove one shock path or channel at a time instead")  # fmt: skip
    ap.add_argument("--write", action="store_true", help="write benchmarks/KNIFE_EDGE.md")
    args = ap.parse_args(argv)
    system, scenario, policies, label = _case(args.episode)
    if args.knockouts:
        df = knockouts(system, scenario, policies)
        cols = ["removed", "peak_10y_bp", "change_10y_bp", "hf_sales_usd_bn",
                "dealer_peak_util", "defaults", "bounds"]  # fmt: skip
        return _report(f"{label}, one piece removed at a time", _markdown(df[cols]), args)
    if args.parameter:
        if not args.values:
            ap.error("--parameter needs --values")
        x = args.parameter
        df = diagnose(scan_parameter(system, scenario, policies, x, sorted(args.values)))
        label += f", {x} scanned"
    else:
        x = "scale"
        df = diagnose(scan(system, scenario, policies, sorted(args.scales)))
    cols = [x, "peak_10y_bp", "peak_basis_TY_bp", "peak_swap_spread_10y_bp",
            "hf_sales_usd_bn", "dealer_peak_util", "defaults", "bounds", "verdict"]  # fmt: skip
    if "spiral_gain" in df:
        cols.insert(1, "spiral_gain")
    status = _report(label, _markdown(df[cols]), args)
    return 1 if df["verdict"].str.contains("UNEXPLAINED").any() else status


def _report(label: str, table: str, args) -> int:
    """Print the table; with ``--write`` append it to KNIFE_EDGE.md with its command."""
    print(label)
    print(table)
    if args.write:
        out = ROOT / "benchmarks" / "KNIFE_EDGE.md"
        text = out.read_text() if out.exists() else "# Knife-edge scans\n"
        text += f"\n## {label}\n\n`{' '.join(sys.argv)}`\n\n{table}\n"
        out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
