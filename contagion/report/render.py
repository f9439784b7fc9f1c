"""Render a saved experiment (see :mod:`contagion.report`) to HTML and Markdown.

Everything shown is computed from the saved files, so re-rendering gives the same bytes.
Text from users (arm, institution and scenario names, descriptions, metadata) is escaped by
Jinja2 autoescaping; figures are inline base64 SVG ``<img>`` data URIs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from contagion.errors import InputError, Problem
from contagion.experiment import BASELINE
from contagion.files import OutputDirectory, remove_stale_staging, swap_in
from contagion.io import atomic_write_text
from contagion.report import figures
from contagion.report.folder import SavedExperiment, load_saved
from contagion.scenario import scenario_from_dict
from contagion.schema import INSTITUTION_TYPES

MIN_SIZE_USD_BN = 10.0  # below this an arm's "per USD 100 bn" ratios are not meaningful
COST_COLUMNS = ("cost_balance_sheet_usd_bn", "cost_cash_lent_usd_bn", "cost_budget_spent_usd_bn")
CALLS = ("variation_margin_call", "initial_margin_call", "repo_margin_call", "repo_not_rolled")
SCALAR_PATHS = (
    "volatility_multiplier",
    "am_redemption_frac",
    "mmf_outflow_frac",
    "dealer_capacity_shock_frac",
    "mmf_repo_pullback_frac",
    "haircut_addon_frac",
    "initial_margin_addon_frac",
)
SUMMARY_COLUMNS = [
    ("peak_yield_bp", "Peak {y} yield change (bp)"),
    ("peak_basis_bp", "Peak basis widening (bp)"),
    ("fire_sale_usd_bn", "Fire sales (USD bn)"),
    ("defaults", "Defaults"),
    ("losses_usd_bn", "Equity losses excl. central bank (USD bn)"),
    ("peak_repo_rate_pct", "Peak repo rate (%)"),
    ("dealer_peak_utilisation_frac", "Peak dealer utilisation (%)"),
    ("size_usd_bn", "Intervention size (USD bn)"),
    ("reduction_peak_yield_bp_per_100bn", "Yield reduction per USD 100 bn (bp)"),
]


def fmt(x: Any, digits: int = 1) -> str:
    """A number for tables: thousands separators, fixed digits, an en dash for missing."""
    if x is None or isinstance(x, str):
        return "–" if x is None else x
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if not np.isfinite(x):
        return "–"
    text = f"{float(x):,.{digits}f}"
    return text.removeprefix("-") if not text.strip("-0.,") else text  # no "-0.0"


_JSON_FENCE_ESCAPES = str.maketrans(
    {"`": "\\u0060", "<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}
)


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("contagion.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["fmt"] = fmt
    env.tests["textual"] = lambda v: not re.fullmatch(r"[-–+±0-9.,\s\[\]]+", str(v))
    env.filters["md"] = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    # JSON inside a Markdown code fence: no HTML entities (a fence shows them literally);
    # the characters that could close the fence or read as HTML in a lax renderer are
    # written as JSON escapes, which keeps the JSON valid and equal
    env.filters["fence"] = lambda s: Markup(str(s).translate(_JSON_FENCE_ESCAPES))
    return env


def yield_label(summary: dict[str, float]) -> str:
    """Bucket of the headline yield metric (10y, or the longest bucket)."""
    if "peak_yield_change_10y_bp" in summary:
        return "10y"
    keys = [k for k in summary if k.startswith("peak_yield_change_")]
    return keys[-1].removeprefix("peak_yield_change_").removesuffix("_bp") if keys else "10y"


def intervention_size(eff: pd.DataFrame) -> pd.Series:
    """Size of each arm: the largest of balance sheet used, cash lent (peak outstanding)
    and budget spent."""
    return eff[list(COST_COLUMNS)].max(axis=1)


def summary_table(metrics: pd.DataFrame, eff: pd.DataFrame, y: str = "10y") -> pd.DataFrame:
    """The executive-summary table: arm x headline numbers with readable column names."""
    size = intervention_size(eff)
    summ = metrics.join(eff).assign(size_usd_bn=size)
    summ["dealer_peak_utilisation_frac"] *= 100
    summ.loc[size < MIN_SIZE_USD_BN, "reduction_peak_yield_bp_per_100bn"] = np.nan
    summ = summ[[c for c, _ in SUMMARY_COLUMNS]]
    summ.columns = [t.format(y=y) for _, t in SUMMARY_COLUMNS]
    return summ


def scenario_table(scenario, buckets: list[str]) -> pd.DataFrame:
    """Day x shock path (days 1..the longest path given); bucket paths as ``name:bucket``."""
    cols: dict[str, np.ndarray] = {}
    length = 1
    for name in ("rate_shock_bp", "exogenous_sales_usd_bn"):
        table = getattr(scenario, name)
        paths = scenario.bucket_paths(name, buckets)
        for j, bucket in enumerate(buckets):
            if bucket in table:
                length = max(length, len(table[bucket]))
                cols[f"{name}:{bucket}"] = paths[:, j]
    for name in SCALAR_PATHS:
        if getattr(scenario, name):
            length = max(length, len(getattr(scenario, name)))
            cols[name] = scenario.path(name)
    days = min(scenario.days, length + 1)
    out = pd.DataFrame({k: v[:days] for k, v in cols.items()}, index=range(1, days + 1))
    out.index.name = "day"
    return out


def loss_tables(summaries: dict[str, dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Arm x channel and arm x sector equity losses (USD bn) from the summaries."""
    rows_c, rows_s = {}, {}
    for arm, s in summaries.items():
        keys = [k for k in s if k.startswith("equity_loss_") and k.endswith("_usd_bn")]
        names = {k: k.removeprefix("equity_loss_").removesuffix("_usd_bn") for k in keys}
        rows_s[arm] = {n: s[k] for k, n in names.items() if n in INSTITUTION_TYPES}
        rows_c[arm] = {
            n: s[k] for k, n in names.items() if n not in INSTITUTION_TYPES and n != "total"
        }
    by_c, by_s = pd.DataFrame.from_dict(rows_c, "index"), pd.DataFrame.from_dict(rows_s, "index")
    by_s = by_s.loc[:, (by_s.abs() > 1e-9).any()]
    by_c = by_c.loc[:, (by_c.abs() > 1e-9).any()]
    return by_c.fillna(0.0), by_s.fillna(0.0)


def institution_stress(result, names: pd.Series) -> pd.DataFrame:
    """Per institution: initial equity and assets, final equity, loss share, default day."""
    inst = result.institutions.astype({"institution": str, "type": str})
    first = inst[inst["day"] == inst["day"].min()].set_index("institution")
    last = inst[inst["day"] == inst["day"].max()].set_index("institution")
    dead = inst[inst["defaulted"].astype(bool)].groupby("institution")["day"].min()
    e0 = first["equity_usd_bn"]
    loss = e0 - last["equity_usd_bn"].reindex(e0.index)
    share = (loss / e0.where(e0 > 0)).clip(0, 1).fillna(0.0)
    share[dead.index] = 1.0
    share[first["type"].astype(str) == "central_bank"] = np.nan  # never fails: not at risk
    out = pd.DataFrame(
        {
            "name": names.reindex(e0.index).fillna(""),
            "type": first["type"].astype(str),
            "assets_usd_bn": first["assets_usd_bn"],
            "equity_usd_bn": e0,
            "equity_loss_usd_bn": loss,
            "loss_share": share,
            "default_day": dead.reindex(e0.index),
        }
    )
    return out


SECTOR_PATH_COLUMNS = [
    "sector",
    "called",
    "first_call_day",
    "forced_sellers",
    "first_sale_day",
    "forced_sales_usd_bn",
    "defaults",
    "first_default_day",
]


def sector_path(result) -> pd.DataFrame:
    """How the stress reached each sector: calls, forced sales and defaults (counts, days)."""
    ev = result.events
    rows = []
    for t in [t for t in INSTITUTION_TYPES if (ev["type"] == t).any()]:
        e = ev[ev["type"] == t]
        calls, sales, dflt = (e[e["event"].isin(k)] for k in (CALLS, figures.SALES, ("default",)))
        rows.append(
            {
                "sector": t,
                "called": calls["institution"].nunique(),
                "first_call_day": calls["day"].min() if len(calls) else np.nan,
                "forced_sellers": sales["institution"].nunique(),
                "first_sale_day": sales["day"].min() if len(sales) else np.nan,
                "forced_sales_usd_bn": sales["amount_usd_bn"].sum(),
                "defaults": dflt["institution"].nunique(),
                "first_default_day": dflt["day"].min() if len(dflt) else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=SECTOR_PATH_COLUMNS)


def _count(n: float, noun: str) -> str:
    return f"{int(n)} {noun}{'' if int(n) == 1 else 's'}"


def verdict(metrics: pd.DataFrame, eff: pd.DataFrame, draws: pd.DataFrame, y: str) -> list[str]:
    """Plain-language findings generated from the numbers."""
    base = metrics.loc[BASELINE]
    size = intervention_size(eff)
    out = [
        f"Without intervention the {y} yield rises by up to {fmt(base['peak_yield_bp'])} bp, "
        f"the cash-futures basis widens by up to {fmt(base['peak_basis_bp'])} bp, forced "
        f"sales reach USD {fmt(base['fire_sale_usd_bn'], 0)} bn, "
        f"{_count(base['defaults'], 'institution')} default and equity losses outside the "
        f"central bank total USD {fmt(base['losses_usd_bn'], 0)} bn."
    ]
    arms = [a for a in eff.index if a != BASELINE]
    if not arms:
        return out
    red = eff["reduction_peak_yield_bp"]
    sized = [a for a in arms if size[a] >= MIN_SIZE_USD_BN]
    if sized:
        ranked = sorted(sized, key=lambda a: -eff.loc[a, "reduction_peak_yield_bp_per_100bn"])
        parts = [
            f"{a} ({fmt(eff.loc[a, 'reduction_peak_yield_bp_per_100bn'], 2)} bp per USD 100 bn; "
            f"{fmt(red[a])} bp in total for USD {fmt(size[a], 0)} bn)"
            for a in ranked
        ]
        out.append(
            f"Per USD 100 bn deployed, {ranked[0]} reduced the peak {y} dislocation most: "
            + "; then ".join(parts)
            + "."
        )
    free = [a for a in arms if size[a] < MIN_SIZE_USD_BN]
    if free:
        out.append(
            "Using little or no balance sheet or budget (under USD "
            f"{fmt(MIN_SIZE_USD_BN, 0)} bn): "
            + "; ".join(f"{a} reduced the peak by {fmt(red[a])} bp" for a in free)
            + "."
        )
    best = max(arms, key=lambda a: red[a])
    out.append(
        f"The largest absolute reduction of the peak {y} yield change is {best}'s "
        f"({fmt(red[best])} bp); the largest cut in fire sales is "
        f"{max(arms, key=lambda a: eff.loc[a, 'reduction_fire_sale_usd_bn'])}'s (USD "
        f"{fmt(eff['reduction_fire_sale_usd_bn'].max(), 0)} bn)."
    )
    worse = [a for a in arms if red[a] < -0.5]
    if worse:
        out.append(
            "Made the peak worse: "
            + ", ".join(f"{a} (+{fmt(-red[a])} bp)" for a in worse)
            + "; see the time paths for why."
        )
    harm = side_effects(metrics, arms)
    if harm:
        out.append("Side effects: " + "; ".join(harm) + ".")
    if metrics["defaults"].max() == 0:
        out.append("No institution defaulted in any arm.")
    else:
        fewest = min(arms, key=lambda a: metrics.loc[a, "defaults"])
        out.append(
            f"Defaults: {int(base['defaults'])} without action; fewest under {fewest} "
            f"({int(metrics.loc[fewest, 'defaults'])})."
        )
    if len(draws):
        wide = draws[draws["metric"] == "peak_yield_bp"].pivot(
            index="draw", columns="arm", values="value"
        )
        share = {a: float((wide[a] < wide[BASELINE]).mean()) for a in arms if a in wide}
        out.append(
            f"Across {len(wide)} parameter draws (paired with no action), the peak {y} yield "
            "change was lower in "
            + ", ".join(f"{fmt(100 * v, 0)}% of draws under {a}" for a, v in share.items())
            + "."
        )
    return out


# Headline metrics on which an arm can be worse than no action, with the margin below
# which a difference is read as noise: absolute (in the metric's unit: 0.25 percentage
# points of repo rate, a basis point, one default, USD 1 bn) or relative to no action
# (0.5%), whichever is larger.
SIDE_EFFECTS = (
    ("peak_repo_rate_pct", 0.25, "the peak repo rate to {v:.1f}% ({b:.1f}% without action)"),
    ("peak_basis_bp", 1.0, "the peak basis widening to {v:.1f} bp ({b:.1f} without action)"),
    ("defaults", 0.5, "defaults to {v:.0f} ({b:.0f} without action)"),
    ("fire_sale_usd_bn", 1.0, "fire sales to USD {v:,.0f} bn ({b:,.0f} without action)"),
    ("losses_usd_bn", 1.0, "equity losses to USD {v:,.0f} bn ({b:,.0f} without action)"),
)
SIDE_EFFECT_REL_FRAC = 0.005


def side_effects(metrics: pd.DataFrame, arms: list[str]) -> list[str]:
    """Per arm, the headline metrics it makes worse than no action by more than noise
    (:data:`SIDE_EFFECTS`), e.g. a leverage-ratio relief that lets dealers borrow more and
    so bids up the repo rate while it calms the cash market."""
    base = metrics.loc[BASELINE]
    out = []
    for arm in arms:
        worse = [
            text.format(v=metrics.loc[arm, col], b=base[col])
            for col, margin, text in SIDE_EFFECTS
            if col in metrics
            and metrics.loc[arm, col]
            > base[col] + max(margin, SIDE_EFFECT_REL_FRAC * abs(base[col]))
        ]
        if worse:
            out.append(f"{arm} raised " + ", ".join(worse))
    return out


def defaults_by_arm(results: dict[str, Any]) -> pd.DataFrame:
    """Arm x (defaults, first day, assets of the defaulters in USD bn, count by sector)."""
    rows = {}
    for arm, r in results.items():
        ev = r.events[r.events["event"] == "default"]
        sectors = ev["type"].astype(str).value_counts()
        rows[arm] = {
            "defaults": len(ev),
            "first day": ev["day"].min() if len(ev) else np.nan,
            "assets (USD bn)": float(ev["amount_usd_bn"].sum()),
            **{t: sectors[t] for t in INSTITUTION_TYPES if t in sectors},
        }
    out = pd.DataFrame.from_dict(rows, "index")
    sector_cols = [t for t in INSTITUTION_TYPES if t in out]
    out[sector_cols] = out[sector_cols].fillna(0)
    out.index.name = "arm"
    return out


def draw_table(draws: pd.DataFrame, y: str) -> pd.DataFrame:
    """Arm x metric: "median [p10, p90]" across draws, plus the paired yield reduction."""
    wide = draws.pivot_table(index=["arm", "draw"], columns="metric", values="value", sort=False)
    base = wide.xs(BASELINE, level="arm")["peak_yield_bp"]
    wide["reduction_peak_yield_bp"] = (
        base.reindex(wide.index, level="draw") - wide["peak_yield_bp"].to_numpy()
    )

    def band(v: pd.Series) -> str:
        lo, med, hi = np.quantile(v.to_numpy(dtype=float), [0.1, 0.5, 0.9])
        return f"{fmt(med)} [{fmt(lo)}, {fmt(hi)}]"

    cols = {
        "peak_yield_bp": f"peak {y} yield (bp)",
        "reduction_peak_yield_bp": f"paired {y} reduction (bp)",
        "peak_basis_bp": "peak basis (bp)",
        "fire_sale_usd_bn": "fire sales (USD bn)",
        "defaults": "defaults",
        "losses_usd_bn": "losses (USD bn)",
    }
    out = wide.groupby(level="arm", sort=False)[list(cols)].agg(band).rename(columns=cols)
    out.index.name = "arm: median [p10, p90]"
    return out


def sensitivity_titles(y: str = "10y") -> dict[str, str]:
    """Readable names of the headline metrics in the sensitivity section."""
    return {
        "peak_yield_bp": f"peak {y} yield change (bp)",
        "peak_basis_bp": "peak basis widening (bp)",
        "fire_sale_usd_bn": "fire-sale volume (USD bn)",
        "defaults": "number of defaults",
        "losses_usd_bn": "equity losses (USD bn)",
    }


def _index(value: float, conf: float) -> str:
    return f"{fmt(value, 2)} ± {fmt(conf, 2)}"


def sensitivity_tables(table: pd.DataFrame, titles: dict[str, str]) -> list[dict[str, Any]]:
    """Per metric: parameter x (arm S1, arm ST), each "index ± half-width"."""
    arms = list(dict.fromkeys(table["arm"]))
    out = []
    for metric in dict.fromkeys(table["metric"]):
        sub = table[table["metric"] == metric]
        cols: dict[str, pd.Series] = {}
        for arm in arms:
            s = sub[sub["arm"] == arm].set_index("parameter")
            cols[f"{arm}: S1"] = pd.Series(
                [_index(a, b) for a, b in zip(s["S1"], s["S1_conf"], strict=True)], s.index
            )
            cols[f"{arm}: ST"] = pd.Series(
                [_index(a, b) for a, b in zip(s["ST"], s["ST_conf"], strict=True)], s.index
            )
        frame = pd.DataFrame(cols)
        frame.index.name = "parameter"
        out.append({"title": titles.get(metric, metric), "table": _table(frame)})
    return out


def sensitivity_notes(table: pd.DataFrame, titles: dict[str, str]) -> list[str]:
    """One line per (metric, note), naming the arms it applies to."""
    noted = table[table["note"].astype(str) != ""]
    out = []
    for (metric, note), sub in noted.groupby(["metric", "note"], sort=False):
        arms = ", ".join(dict.fromkeys(sub["arm"]))
        out.append(f"{titles.get(metric, metric)} under {arms}: {note}.")
    return out


def sensitivity_findings(table: pd.DataFrame, titles: dict[str, str]) -> list[str]:
    """Which parameter drives each metric (largest total index), arm by arm."""
    out = []
    for metric in dict.fromkeys(table["metric"]):
        varies = ~table["note"].astype(str).str.startswith(("constant", "non-finite"))
        sub = table[(table["metric"] == metric) & varies]
        name = titles.get(metric, metric)
        if sub.empty:
            out.append(f"The {name} is the same at every parameter point in every arm.")
            continue
        top = sub.loc[sub.groupby("arm", sort=False)["ST"].idxmax()]
        params = list(dict.fromkeys(top["parameter"]))
        if len(params) == 1:
            lo, hi = top["ST"].min(), top["ST"].max()
            span = fmt(lo, 2) if fmt(lo, 2) == fmt(hi, 2) else f"{fmt(lo, 2)} to {fmt(hi, 2)}"
            out.append(
                f"The {name} is driven most by {params[0]} in every arm where it varies "
                f"(total index {span})."
            )
        else:
            each = [f"{r.parameter} under {r.arm} (ST {fmt(r.ST, 2)})" for r in top.itertuples()]
            out.append(f"The {name} is driven most by " + "; ".join(each) + ".")
    return out


def sensitivity_design(info: dict[str, Any], table: pd.DataFrame) -> str:
    """One sentence describing the Sobol' design from ``experiment.json``."""
    params = info.get("parameters") or {}
    k = len(params) or table["parameter"].nunique()
    n, points, runs = info.get("base_samples"), info.get("points"), info.get("runs")
    level = info.get("conf_level")
    parts = [f"Sobol indices of {k} uncertain parameters"]
    if n:
        parts.append(f"from a Saltelli design of base size {n} ({points} parameter points)")
    if runs:
        parts.append(f"each run in every arm ({runs} runs)")
    text = ", ".join(parts) + "."
    if level and info.get("num_resamples"):
        text += (
            f" ± gives the {fmt(100 * level, 0)}% bootstrap half-width "
            f"({info['num_resamples']} resamples)."
        )
    return text


def _table(df: pd.DataFrame, digits: dict[str, int] | None = None) -> dict[str, Any]:
    """Columns and formatted rows for the templates (index becomes the first column)."""
    digits = digits or {}
    rows = [
        [str(i)] + [fmt(v, digits.get(c, 1)) for c, v in zip(df.columns, r, strict=True)]
        for i, r in zip(df.index, df.itertuples(index=False), strict=True)
    ]
    return {"columns": [str(df.index.name or "")] + [str(c) for c in df.columns], "rows": rows}


def build_context(saved: SavedExperiment) -> dict[str, Any]:
    """Everything the templates show, computed from the saved experiment."""
    res = saved.results
    first = next(iter(res.values()))
    scenario = scenario_from_dict(first.config["scenario"])
    y = yield_label(first.summary)
    eff, metrics = saved.effectiveness, saved.metrics
    size = intervention_size(eff)
    summ = summary_table(metrics, eff, y)
    names = saved.system.institutions.set_index("id")["name"].astype(str)
    base = res.get(BASELINE, first)
    stress = institution_stress(base, names)
    defaults = []
    for arm, r in res.items():
        ev = r.events[r.events["event"] == "default"]
        for e in ev.itertuples():
            defaults.append(
                {
                    "arm": arm,
                    "day": int(e.day),
                    "id": e.institution,
                    "name": names.get(e.institution, ""),
                    "type": e.type,
                    "cause": e.cause,
                    "assets": fmt(e.amount_usd_bn),
                }
            )
    top = stress.dropna(subset=["loss_share"])
    top = top.sort_values(["loss_share", "equity_loss_usd_bn"], ascending=False).head(12)
    by_arm = defaults_by_arm(res)
    loss_c, loss_s = loss_tables({a: r.summary for a, r in res.items()})
    eff_show = eff.drop(index=BASELINE, errors="ignore").assign(size_usd_bn=size)
    eff_show.loc[size < MIN_SIZE_USD_BN, [c for c in eff.columns if c.endswith("_per_100bn")]] = (
        np.nan
    )
    ctx: dict[str, Any] = {
        "title": saved.info.get("title", "Policy experiment"),
        "y": y,
        "system": {
            "name": saved.system.name,
            "description": saved.system.description,
            "n": saved.system.n_institutions,
            "m": saved.system.n_exposures,
        },
        "scenario": {
            "name": scenario.name,
            "description": scenario.description,
            "days": scenario.days,
        },
        "arms": [
            {
                "name": a["name"],
                "folder": a["folder"],
                "policies": json.dumps(a["policies"], indent=1, sort_keys=True),
            }
            for a in saved.info["arms"]
        ],
        "summary": _table(summ, {summ.columns[3]: 0}),
        "verdict": verdict(metrics, eff, saved.draws, y),
        "stress": stress,
        "size": size,
        "loss_channel": loss_c,
        "loss_sector": loss_s,
        "defaults": defaults,
        "defaults_by_arm": _table(by_arm, {c: 0 for c in by_arm.columns if c != "assets (USD bn)"}),
        # the institutions' names are worth a column only where some differ from the ids
        "show_names": any(d["name"] not in ("", d["id"]) for d in defaults),
        "cb_loss_usd_bn": fmt(base.summary.get("equity_loss_central_bank_usd_bn", 0.0)),
        "sector_path": _table(
            sector_path(base).set_index("sector"),
            {
                "called": 0,
                "first_call_day": 0,
                "forced_sellers": 0,
                "first_sale_day": 0,
                "defaults": 0,
                "first_default_day": 0,
            },
        ),
        "top": [
            {
                "id": i,
                "name": r["name"],
                "type": r["type"],
                "equity": fmt(r["equity_usd_bn"]),
                "loss": fmt(r["equity_loss_usd_bn"]),
                "share": fmt(100 * r["loss_share"], 0),
                "default_day": fmt(r["default_day"], 0),
            }
            for i, r in top.iterrows()
        ],
        "loss_channel_table": _table(loss_c.assign(total=loss_c.sum(axis=1))),
        "loss_sector_table": _table(loss_s.assign(total=loss_s.sum(axis=1))),
        "effectiveness": _table(eff_show.T.rename_axis("metric")),
        "metadata": json.dumps(saved.system.metadata, indent=1, sort_keys=True, default=str),
        "provenance": {
            k: saved.system.metadata.get(k)
            for k in ("status", "vintage", "data_vintage", "sources", "note")
            if saved.system.metadata.get(k) is not None
        },
        "info": json.dumps(saved.info, indent=1, sort_keys=True),
        "scenario_config": json.dumps(first.config["scenario"], indent=1, sort_keys=True),
        "seed": saved.info.get("seed"),
        "version": saved.info.get("version"),
        "engine_version": first.config.get("version"),
    }
    scen_paths = scenario_table(scenario, list(saved.system.market.bucket_names))
    shown = scen_paths.T.rename_axis("path")
    # a scenario with no shock paths has an empty (non-string) index
    frac = shown.index.astype(str).str.endswith("_frac")
    shown.loc[frac] *= 100  # fractions shown in percent
    shown.index = [
        f"{i.removesuffix('_frac')} (%)" if f else i for i, f in zip(shown.index, frac, strict=True)
    ]
    ctx["scenario_table"] = _table(shown, dict.fromkeys(shown.columns, 2))
    ctx["scenario_table"]["columns"] = ["path"] + [f"d{d}" for d in scen_paths.index]
    if len(saved.draws):
        ctx["draws_table"] = _table(draw_table(saved.draws, y), {})
    sens = saved.sensitivity
    if sens is not None and len(sens):
        titles = sensitivity_titles(y)
        info = saved.info.get("sensitivity") or {}
        ctx["sensitivity_titles"] = titles
        ctx["sensitivity"] = {
            "design": sensitivity_design(info, sens),
            "ranges": [
                f"{name}: {fmt(lo, 4)} to {fmt(hi, 4)} ({kind})"
                for name in dict.fromkeys(sens["parameter"])
                if name in (info.get("parameters") or {})
                for lo, hi, kind in [info["parameters"][name]]
            ],
            "findings": sensitivity_findings(sens, titles),
            "notes": sensitivity_notes(sens, titles),
            "tables": sensitivity_tables(sens, titles),
        }
    ctx["figures"] = figures.report_figures(saved, ctx, scen_paths)
    return ctx


def _documents(d: Path) -> tuple[str, str, dict[str, Any]]:
    """The HTML, the Markdown and the figures of the report of a saved directory."""
    ctx = build_context(load_saved(d))
    env = _env()
    html = env.get_template("report.html.j2").render(**ctx)
    md = env.get_template("report.md.j2").render(**ctx)
    return html, md, ctx["figures"]


def _write_figures(folder: Path, figs: dict[str, Any]) -> None:
    for fig in figs.values():
        atomic_write_text(folder / Path(fig["file"]).name, fig["svg"])


def render_into(directory: str | os.PathLike) -> Path:
    """Render into a folder being staged (:func:`contagion.report.folder.write_folder`):
    a fresh folder nobody else writes, so no lock and no swap."""
    d = Path(directory)
    html, md, figs = _documents(d)
    (d / "figures").mkdir()
    _write_figures(d / "figures", figs)
    atomic_write_text(d / "report.md", md)
    atomic_write_text(d / "report.html", html)
    return d / "report.html"


def render_report(directory: str | os.PathLike) -> Path:
    """Render ``report.html``, ``report.md`` and ``figures/*.svg`` from a saved directory.

    The folder is locked while it is written (:class:`contagion.files.OutputDirectory`);
    the figures are written to a fresh folder inside it and swapped in for ``figures``
    (a symbolic link there is replaced, never written through), and each file is replaced
    atomically, so nothing is written outside the directory.
    """
    d = Path(directory)
    if not d.is_dir():
        raise InputError(Problem("result directory", "(path)", "not a directory"), str(d))
    with OutputDirectory(d, option="RESULT_DIR") as lock:
        root = lock.path
        remove_stale_staging(root / "figures")
        html, md, figs = _documents(root)
        new = Path(tempfile.mkdtemp(prefix=".figures.staging-", dir=root))
        try:
            _write_figures(new, figs)
            swap_in(new, root / "figures")
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
        atomic_write_text(root / "report.md", md)
        atomic_write_text(root / "report.html", html)
    return d / "report.html"
