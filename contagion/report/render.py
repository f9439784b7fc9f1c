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
from contagion.metrics import loss_spiral_gain
from contagion.recorder import POLICY_RATE_COLUMNS, REPO_SUPPLY_COLUMNS
from contagion.report import figures
from contagion.report.folder import SavedExperiment, load_saved
from contagion.report.history import history_table
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
    ("dealer_peak_utilisation_frac", "Peak dealer utilisation within the day (%)"),
    ("size_usd_bn", "Intervention size (USD bn)"),
    ("reduction_peak_yield_bp_per_100bn", "{y} yield reduction per USD 100 bn (bp)"),
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


def summary_table(
    metrics: pd.DataFrame,
    eff: pd.DataFrame,
    y: str = "10y",
    *,
    draws: pd.DataFrame | None = None,
    names: dict[str, str] | None = None,
) -> pd.DataFrame:
    """The executive-summary table: arm x headline numbers with readable column names.

    With ``draws`` each metric is "median [p10–p90]" across them, the reduction is paired
    (each draw against the same draw's no action) and a column counts the draws in which
    the arm beats no action; without, the central run's values. ``names``: arm labels.
    """
    size = intervention_size(eff)
    summ = metrics.join(eff).assign(size_usd_bn=size)
    summ["dealer_peak_utilisation_frac"] *= 100
    summ.loc[size < MIN_SIZE_USD_BN, "reduction_peak_yield_bp_per_100bn"] = np.nan
    summ = summ[[c for c, _ in SUMMARY_COLUMNS]]
    summ.columns = [t.format(y=y) for _, t in SUMMARY_COLUMNS]
    if draws is not None and len(draws):
        from contagion.experiment import paired_frame
        from contagion.report.explain import fmt_share

        wide = paired_frame(draws)
        n = int(wide.index.get_level_values("draw").nunique())
        out = summ.astype(object)
        for col, title in SUMMARY_COLUMNS[:7]:
            for arm in summ.index:
                if arm in wide.index.get_level_values("arm") and col in wide:
                    v = wide.xs(arm, level="arm")[col].to_numpy(dtype=float)
                    v = v * (100 if col == "dealer_peak_utilisation_frac" else 1)
                    out.loc[arm, title.format(y=y)] = band(v, 0 if col == "defaults" else 1)
        red = f"Paired {y} reduction (bp)"
        beats = "Beats no action (peak yield)"
        out.insert(1, red, "–")
        out.insert(2, beats, "–")
        base = wide.xs(BASELINE, level="arm")["peak_yield_bp"] if BASELINE in summ.index else None
        for arm in summ.index:
            if arm == BASELINE or base is None or arm not in wide.index.get_level_values("arm"):
                continue
            sub = wide.xs(arm, level="arm")
            out.loc[arm, red] = band(sub["reduction_peak_yield_bp"].to_numpy(dtype=float))
            k = int((sub["peak_yield_bp"] < base.reindex(sub.index) - 1e-9).sum())
            out.loc[arm, beats] = fmt_share(k, n)
        summ = out
    if names:
        summ.index = [names.get(a, a) for a in summ.index]
    summ.index.name = "arm"
    return summ


def band(v, digits: int = 1) -> str:
    """ "median [p10–p90]" of some values."""
    lo, med, hi = np.quantile(np.asarray(v, dtype=float), [0.1, 0.5, 0.9])
    return f"{fmt(med, digits)} [{fmt(lo, digits)}–{fmt(hi, digits)}]"


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
    days = scenario.days  # the whole horizon (paths are padded: levels hold, flows are 0)
    del length
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


def verdict(
    metrics: pd.DataFrame,
    eff: pd.DataFrame,
    draws: pd.DataFrame,
    y: str,
    names: dict[str, str] | None = None,
) -> list[str]:
    """Plain-language findings generated from the numbers: medians and p10-p90 bands and
    paired reductions when draws ran (each share of draws printed with the count), the
    central run otherwise. ``names``: arm labels."""
    from contagion.experiment import paired_frame
    from contagion.report.explain import fmt_share

    names = names or {}
    nm = lambda a: names.get(a, a)  # noqa: E731
    base = metrics.loc[BASELINE]
    size = intervention_size(eff)
    arms = [a for a in eff.index if a != BASELINE]
    wide = paired_frame(draws) if len(draws) else None
    n = int(wide.index.get_level_values("draw").nunique()) if wide is not None else 0

    def spread(arm: str, col: str, digits: int = 1) -> str:
        central = fmt(metrics.loc[arm, col] if col in metrics else eff.loc[arm, col], digits)
        if wide is None or col not in wide:
            return central
        v = wide.xs(arm, level="arm")[col].to_numpy(dtype=float)
        return f"a median of {band(v, digits)} (central run {central})"

    out = [
        f"Without intervention the peak {y} yield change is {spread(BASELINE, 'peak_yield_bp')}"
        f" bp, the peak basis widening {spread(BASELINE, 'peak_basis_bp')} bp, fire sales "
        f"{spread(BASELINE, 'fire_sale_usd_bn', 0)} USD bn and equity losses outside the "
        f"central bank {spread(BASELINE, 'losses_usd_bn', 0)} USD bn."
        + (
            f" Across {n} parameter draws, shown as median [p10–p90]; a paired reduction is "
            "the draw-by-draw difference to no action with the same parameters."
            if n
            else ""
        )
    ]
    if wide is not None:  # (draws ran: n > 0)
        d = wide.xs(BASELINE, level="arm")["defaults"]
        if (d > 0).any():
            out.append(
                f"Defaults without action: {band(d.to_numpy(), 0)}; some institution "
                f"defaults in {fmt_share(int((d > 0).sum()), n)}."
            )
        else:
            out.append(f"Without action no institution defaults in any of the {n} draws.")
    elif base["defaults"]:
        out.append(f"{_count(base['defaults'], 'institution')} default without action.")
    if not arms:
        return out
    red = eff["reduction_peak_yield_bp"]
    if wide is not None:
        basey = wide.xs(BASELINE, level="arm")["peak_yield_bp"]
        med = {
            a: float(np.median(wide.xs(a, level="arm")["reduction_peak_yield_bp"])) for a in arms
        }
        for a in sorted(arms, key=lambda a: -med[a]):
            sub = wide.xs(a, level="arm")
            k = int((sub["peak_yield_bp"] < basey.reindex(sub.index) - 1e-9).sum())
            r = sub["reduction_peak_yield_bp"].to_numpy(dtype=float)
            verb = "cuts" if med[a] >= 0 else "raises"
            out.append(
                f"{nm(a)} {verb} the peak {y} yield change by "
                f"{band(r if med[a] >= 0 else -r)} bp (paired) and beats no action in "
                f"{fmt_share(k, n)}."
            )
        peaks = wide["peak_yield_bp"].unstack("arm")[arms]
        best = peaks.idxmin(axis=1)
        top = best.value_counts()
        winner = str(top.index[0])
        rivals = [b for b in arms if b != winner]
        if rivals:
            each = "; ".join(
                f"{nm(b)} in {fmt_share(int((peaks[winner] < peaks[b] - 1e-9).sum()), n)}"
                for b in rivals
            )
            out.append(
                f"Rank robustness: {nm(winner)} has the lowest peak {y} yield change of all "
                f"tools in {fmt_share(int(top.iloc[0]), n)}; it beats {each}."
            )
    else:
        best = max(arms, key=lambda a: red[a])
        out.append(
            f"The largest reduction of the peak {y} yield change is {nm(best)}'s "
            f"({fmt(red[best])} bp, central run without parameter draws)."
        )
    sized = [a for a in arms if size[a] >= MIN_SIZE_USD_BN]
    if sized:
        ranked = sorted(sized, key=lambda a: -eff.loc[a, "reduction_peak_yield_bp_per_100bn"])
        parts = [
            f"{nm(a)} ({fmt(eff.loc[a, 'reduction_peak_yield_bp_per_100bn'], 2)} bp per "
            f"USD 100 bn for USD {fmt(size[a], 0)} bn)"
            for a in ranked
        ]
        if eff.loc[ranked[0], "reduction_peak_yield_bp_per_100bn"] > NO_EFFECT_BP:
            out.append(
                f"Per USD 100 bn deployed (central run), {nm(ranked[0])} reduced the peak {y} "
                "yield change most: " + "; then ".join(parts) + "."
            )
        else:  # nothing to rank: say so rather than crown a tool for a zero
            out.append(
                f"Per USD 100 bn deployed (central run), no tool reduced the peak {y} yield "
                "change: "
                + "; ".join(parts)
                + ". Compare the tools by "
                + ("the paired draws above." if wide is not None else "their other metrics.")
            )
    free = [a for a in arms if size[a] < MIN_SIZE_USD_BN]
    if free:
        out.append(
            f"Using little or no balance sheet or budget (under USD {fmt(MIN_SIZE_USD_BN, 0)}"
            " bn): " + "; ".join(f"{nm(a)} ({fmt(red[a])} bp, central run)" for a in free) + "."
        )
    harm = side_effects(metrics, arms, names)
    if harm:
        out.append("Side effects (central run): " + "; ".join(harm) + ".")
    return out


#: A reduction per USD 100 bn at or below this (bp) is no reduction: nothing to rank.
NO_EFFECT_BP = 0.005


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


def side_effects(
    metrics: pd.DataFrame, arms: list[str], names: dict[str, str] | None = None
) -> list[str]:
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
            out.append(f"{(names or {}).get(arm, arm)} raised " + ", ".join(worse))
    return out


#: Up to this many defaults (all arms) the report lists every one; beyond it, the largest
#: ``DEFAULTS_SHOWN`` by assets and a table by day (the full list is in each arm's events).
DEFAULT_LIST_MAX = 40
DEFAULTS_SHOWN = 20
#: Hedge-fund book strategies as the by-day table names them (schema.STRATEGIES).
STRATEGY_LABELS = {
    "basis": "basis books",
    "swap_spread": "swap-spread books",
    "relative_value": "relative-value books",
    "directional": "directional books",
}


def defaults_by_day(results: dict[str, Any]) -> pd.DataFrame:
    """(arm, day) x (defaults, by cause, assets of the defaulters in USD bn, hedge-fund
    books by strategy): when and why institutions defaulted, one row per day with any."""
    rows = []
    for arm, r in results.items():
        ev = r.events[r.events["event"] == "default"]
        if not len(ev):
            continue
        inst = r.institutions
        strategy = {}
        if "strategy" in inst:
            first = inst.drop_duplicates("institution")
            strategy = dict(zip(first["institution"], first["strategy"].astype(str), strict=True))
        for day, d in ev.groupby("day"):
            row = {"arm": arm, "day": int(day), "defaults": len(d)}
            row.update(d["cause"].astype(str).value_counts().to_dict())
            row["assets (USD bn)"] = float(d["amount_usd_bn"].sum())
            hf = d[d["type"].astype(str) == "hedge_fund"]["institution"].map(strategy)
            row.update({STRATEGY_LABELS[k]: v for k, v in hf.value_counts().items()
                        if k in STRATEGY_LABELS})  # fmt: skip
            rows.append(row)
    if not rows:
        return pd.DataFrame()
    out = pd.DataFrame(rows).set_index(["arm", "day"])
    causes = [c for c in ("insolvency", "liquidity", "clearing") if c in out]
    books = [c for c in STRATEGY_LABELS.values() if c in out]
    out = out[["defaults", *causes, "assets (USD bn)", *books]]
    out[causes + books] = out[causes + books].fillna(0).astype(int)
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


def money_market_table(results: dict[str, Any]) -> pd.DataFrame:
    """Arm x the repo market's story (central run): the policy corridor, the GC rate's peak,
    who lent the cash (money funds, banks, the facilities) and the facilities' take-up.

    Columns (percent or USD bn): top of the target range on day 0 and at the end, SRF
    minimum bid rate (lowest), peak GC repo rate, the largest shortfall of money-fund
    repo against day 0, peak bank repo lending, peak facility take-up (SRF and FIMA lending
    to the repo market, ``repo_supply_facilities_usd_bn``), peak unmet repo demand.
    """
    rows = {}
    for arm, r in results.items():
        m = r.markets
        if "repo_rate_pct" not in m or not len(m):
            continue
        col = m.reindex(columns=[*POLICY_RATE_COLUMNS, *REPO_SUPPLY_COLUMNS])  # NaN if absent
        mmf = col["repo_supply_mmf_usd_bn"]
        rows[arm] = {
            "range top, day 0 (%)": float(col["policy_range_upper_pct"].iloc[0]),
            "range top, end (%)": float(col["policy_range_upper_pct"].iloc[-1]),
            "SRF rate, low (%)": float(col["srf_rate_pct"].min()),
            "GC repo, peak (%)": float(m["repo_rate_pct"].max()),
            "money-fund repo, largest fall (USD bn)": float(max(0.0, mmf.iloc[0] - mmf.min())),
            "bank repo, peak (USD bn)": float(col["repo_supply_banks_usd_bn"].max()),
            "facility take-up, peak (USD bn)": float(col["repo_supply_facilities_usd_bn"].max()),
            "unmet demand, peak (USD bn)": float(col["repo_unmet_usd_bn"].max()),
        }
    out = pd.DataFrame.from_dict(rows, "index")
    out.index.name = "arm"
    return out


def draw_table(draws: pd.DataFrame, y: str, names: dict[str, str] | None = None) -> pd.DataFrame:
    """Arm x metric: "median [p10–p90]" across draws, with the paired reductions (each
    draw's arm against the same draw's no action). For the numbers themselves use
    :meth:`contagion.experiment.ExperimentResult.summary`."""
    from contagion.experiment import paired_frame

    wide = paired_frame(draws)
    cols = {
        "peak_yield_bp": f"peak {y} yield change (bp)",
        "reduction_peak_yield_bp": f"paired {y} reduction (bp)",
        "peak_basis_bp": "peak basis widening (bp)",
        "reduction_peak_basis_bp": "paired basis reduction (bp)",
        "fire_sale_usd_bn": "fire sales (USD bn)",
        "reduction_fire_sale_usd_bn": "paired fire-sale reduction (USD bn)",
        "defaults": "defaults",
        "losses_usd_bn": "losses (USD bn)",
    }
    cols = {k: v for k, v in cols.items() if k in wide}
    out = wide.groupby(level="arm", sort=False)[list(cols)].agg(
        lambda v: band(v.to_numpy(dtype=float), 0 if v.name == "defaults" else 1)
    )
    out = out.rename(columns=cols)
    if names:
        out.index = [names.get(a, a) for a in out.index]
    n = int(wide.index.get_level_values("draw").nunique())
    out.index.name = f"arm: median [p10–p90] of {n} draws"
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


def parameter_table(record: dict[str, Any]) -> pd.DataFrame:
    """Parameter x (value used, origin, draw range) from an experiment's parameter record."""
    values = record.get("values") or {}
    origin = record.get("origin") or {}
    ranges = record.get("draw_ranges") or {}
    rows = {}
    for k, v in values.items():
        r = ranges.get(k)
        rows[k] = {
            "value used": f"{v:.6g}" if isinstance(v, float) else str(v),
            "origin": origin.get(k, ""),
            "drawn over": f"{r[0]:.4g} to {r[1]:.4g} ({r[2]})" if r else "–",
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "parameter"
    if len(out):  # what was fitted or set first, then what was drawn, then the defaults
        rank = out["origin"].map({"fitted": 0, "experiment": 1, "scenario": 2}).fillna(3)
        drawn = (out["drawn over"] == "–").astype(int)
        out = out.assign(_r=rank, _d=drawn).sort_values(["_r", "_d"], kind="stable")
        out = out.drop(columns=["_r", "_d"])
    return out


def parameter_record(saved: SavedExperiment) -> dict[str, Any]:
    """The parameter record of a saved experiment; reports saved before it existed get
    one read from the central run's values (:meth:`contagion.Result.parameter_set`)."""
    rec = saved.info.get("parameters") or {}
    if rec.get("values"):
        return rec
    first = next(iter(saved.results.values()))
    return {**first.parameter_set(), "draw_ranges": None, "draw_ranges_source": "not recorded"}


def build_context(saved: SavedExperiment) -> dict[str, Any]:
    """Everything the templates show, computed from the saved experiment."""
    from contagion.report import explain
    from contagion.report import labels as lab

    res = saved.results
    first = next(iter(res.values()))
    scenario = scenario_from_dict(first.config["scenario"])
    y = yield_label(first.summary)
    eff, metrics = saved.effectiveness, saved.metrics
    standing = (saved.info.get("parameters") or {}).get("standing") or []
    names_arm = lab.arm_labels(res, standing)
    nm = lambda a: names_arm.get(a, a)  # noqa: E731
    inst_table = saved.system.institutions
    sector_names = lab.sector_labels(inst_table)
    sec = lambda t: sector_names.get(t, lab.sector(t))  # noqa: E731
    types = dict(zip(inst_table["id"].astype(str), inst_table["type"].astype(str), strict=True))
    size = intervention_size(eff)
    summ = summary_table(metrics, eff, y, draws=saved.draws, names=names_arm)
    names = inst_table.set_index("id")["name"].astype(str)
    base = res.get(BASELINE, first)
    stress = institution_stress(base, names)
    evidence, reasons = explain.explain(res, types, sector_names)
    n_draws = int(saved.draws["draw"].nunique()) if len(saved.draws) else 0
    record = parameter_record(saved)
    defaults = []
    for arm, r in res.items():
        ev = r.events[r.events["event"] == "default"]
        for e in ev.itertuples():
            defaults.append(
                {
                    "arm": nm(arm),
                    "day": int(e.day),
                    "id": e.institution,
                    "name": names.get(e.institution, ""),
                    "type": sec(str(e.type)),
                    "cause": e.cause,
                    "assets": fmt(e.amount_usd_bn),
                    "assets_usd_bn": float(e.amount_usd_bn),
                }
            )
    n_defaults = len(defaults)
    if n_defaults > DEFAULT_LIST_MAX:  # the largest; the rest are in each arm's events
        defaults = sorted(defaults, key=lambda d: -d["assets_usd_bn"])[:DEFAULTS_SHOWN]
    by_day = defaults_by_day(res)
    if len(by_day):
        by_day = by_day.rename(index=nm, level="arm").reset_index(level="day")
    top = stress.dropna(subset=["loss_share"])
    top = top.sort_values(["loss_share", "equity_loss_usd_bn"], ascending=False).head(12)
    money = money_market_table(res)
    money.index = [nm(a) for a in money.index]
    money.index.name = "arm"
    by_arm = defaults_by_arm(res)
    by_arm.index = [nm(a) for a in by_arm.index]
    by_arm.index.name = "arm"
    by_arm = by_arm.rename(columns={t: sec(t) for t in INSTITUTION_TYPES})
    loss_c, loss_s = loss_tables({a: r.summary for a, r in res.items()})
    loss_c = loss_c.rename(columns=lab.channel, index=nm)
    loss_s = loss_s.rename(columns=sec, index=nm)
    eff_show = eff.drop(index=BASELINE, errors="ignore").assign(size_usd_bn=size)
    eff_show.loc[size < MIN_SIZE_USD_BN, [c for c in eff.columns if c.endswith("_per_100bn")]] = (
        np.nan
    )
    eff_show = eff_show.rename(index=nm, columns=lambda c: lab.metric(c, y))
    why = pd.DataFrame(
        {
            "effect and reason": {nm(a): reasons[a] for a in res},
            "central bank own mark-to-market loss (USD bn)": {
                nm(a): evidence[a].cb_mtm_loss_usd_bn for a in res
            },
            "bounds that bit (days)": {nm(a): explain.bounds_text(evidence[a]) for a in res},
        }
    )
    why.index.name = "arm (central run)"
    gain = loss_spiral_gain(saved.system, scenario.params).gain
    caveat = explain.level_caveat(
        evidence[BASELINE], saved.system.metadata, scenario.days, spiral_gain=gain
    )
    history = None
    if BASELINE in metrics.index:
        move = summ.loc[nm(BASELINE)].iloc[0]  # the peak yield cell, as the summary shows it
        label = f"this report: no action, peak {y} change" + (
            " (median [p10–p90] of the draws)" if n_draws else " (central run)"
        )
        history = _table(history_table(str(move), label, scenario.days), {})
    notes = [n for n in [explain.utilisation_note(base.markets)] if n]
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
                "label": nm(a["name"]),
                "folder": a["folder"],
                "policies": json.dumps(a["policies"], indent=1, sort_keys=True),
            }
            for a in saved.info["arms"]
        ],
        "caveat": caveat,
        "standing": (
            f"In force in every arm, no action included (standing facilities of the "
            f"system's date): {lab.standing_text(standing)}. No action means no "
            "discretionary action; costs are counted beyond no action."
            if standing
            else ""
        ),
        "parameters": {
            "description": record.get("description", ""),
            "draws": n_draws,
            "sampling": record.get("sampling", ""),
            "ranges_source": record.get("draw_ranges_source", ""),
            "held_fixed": ", ".join(record.get("held_fixed") or []),
            "table": _table(parameter_table(record)),
        },
        "draws_line": (
            f"{n_draws} parameter draws ({record.get('sampling') or 'sampled'}) over "
            f"{record.get('draw_ranges_source', 'the parameter ranges')}; each band is the "
            "median [p10–p90] across them."
            if n_draws
            else "No parameter draws: every number is the central run (a point estimate)."
        ),
        "summary": _table(summ, {summ.columns[5 if n_draws else 3]: 0}),
        "why": _table(why),
        "notes": notes,
        "verdict": verdict(metrics, eff, saved.draws, y, names_arm),
        "stress": stress,
        "size": size,
        "loss_channel": loss_c,
        "loss_sector": loss_s,
        "defaults": defaults,
        "n_defaults": n_defaults,
        "history": history,
        "defaults_by_day": (
            _table(by_day, {c: 1 if c == "assets (USD bn)" else 0 for c in by_day.columns})
            if len(by_day)
            else None
        ),
        "money_market": _table(money, {c: 2 for c in money.columns if "(%)" in c}),
        "defaults_by_arm": _table(by_arm, {c: 0 for c in by_arm.columns if c != "assets (USD bn)"}),
        # the institutions' names are worth a column only where some differ from the ids
        "show_names": any(d["name"] not in ("", d["id"]) for d in defaults),
        "cb_loss_usd_bn": fmt(base.summary.get("equity_loss_central_bank_usd_bn", 0.0)),
        "sector_path": _table(
            sector_path(base).assign(sector=lambda f: f["sector"].map(sec)).set_index("sector")
            if len(base.events)
            else sector_path(base),
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
                "type": sec(r["type"]),
                "equity": fmt(r["equity_usd_bn"]),
                "loss": fmt(r["equity_loss_usd_bn"]),
                "share": fmt(100 * r["loss_share"], 0),
                "default_day": fmt(r["default_day"], 0),
            }
            for i, r in top.iterrows()
        ],
        "loss_channel_table": _table(loss_c.assign(total=loss_c.sum(axis=1))),
        "loss_sector_table": _table(loss_s.assign(total=loss_s.sum(axis=1))),
        "effectiveness": _table(eff_show.T.rename_axis("metric (central run)")),
        "metadata": json.dumps(saved.system.metadata, indent=1, sort_keys=True, default=str),
        "provenance": {
            k: saved.system.metadata.get(k)
            for k in (
                "status",
                "vintage",
                "data_vintage",
                "fit_episode",
                "fit_date",
                "sources",
                "note",
            )
            if saved.system.metadata.get(k) is not None
        },
        "info": json.dumps(saved.info, indent=1, sort_keys=True),
        "scenario_config": json.dumps(first.config["scenario"], indent=1, sort_keys=True),
        "seed": saved.info.get("seed"),
        "version": saved.info.get("version"),
        "engine_version": first.config.get("version"),
        "arm_labels": names_arm,
        "sector_labels": sector_names,
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
        ctx["draws_table"] = _table(draw_table(saved.draws, y, names_arm), {})
        wide = saved.draws[saved.draws["metric"] == "peak_yield_bp"].pivot(
            index="draw", columns="arm", values="value"
        )
        arms = [a for a in metrics.index if a in wide]
        ctx["rank_table"] = _table(explain.probability_table(wide, arms, names_arm))
    sens = saved.sensitivity
    if sens is not None and len(sens):
        titles = sensitivity_titles(y)
        info = saved.info.get("sensitivity") or {}
        shown_sens = sens.assign(arm=sens["arm"].map(nm))
        ctx["sensitivity_titles"] = titles
        ctx["sensitivity"] = {
            "design": sensitivity_design(info, sens),
            "ranges": [
                f"{name}: {fmt(lo, 4)} to {fmt(hi, 4)} ({kind})"
                for name in dict.fromkeys(sens["parameter"])
                if name in (info.get("parameters") or {})
                for lo, hi, kind in [info["parameters"][name]]
            ],
            "findings": sensitivity_findings(shown_sens, titles),
            "notes": sensitivity_notes(shown_sens, titles),
            "tables": sensitivity_tables(shown_sens, titles),
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
