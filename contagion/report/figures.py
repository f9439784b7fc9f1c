"""Figures of a report: matplotlib ``Figure`` objects (no pyplot, no global state).

Every function returns a :class:`matplotlib.figure.Figure` built under :data:`STYLE`;
:func:`to_svg` serialises one deterministically (fixed ``svg.hashsalt``, no date) and
:func:`data_uri` wraps the SVG as a base64 ``data:`` URI for an ``<img>`` tag, so text
inside figures (arm or institution names) never reaches the HTML as markup and the page
needs nothing from the internet. Figures are small multiples with one shared legend;
arms keep the same colour in every figure (``no_action`` is black).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from contagion.experiment import BASELINE

STYLE: Any = {  # matplotlib types rc keys as literals; a dict[str, ...] does not match
    "svg.hashsalt": "contagion-report",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.6,
    "figure.dpi": 100,
}
SALES = ("forced_sale", "liquidation_sale")
SECTOR_ORDER = (
    "hedge_fund", "mmf", "asset_manager", "other", "sovereign_fund", "dealer", "ccp",
    "central_bank",
)  # fmt: skip
EDGE_COLOURS = {"repo": "#1f77b4", "futures": "#7f7f7f", "swap": "#9467bd", "unsecured": "#8c564b"}


def _figure(width: float, height: float) -> Figure:
    with mpl.rc_context(STYLE):
        return Figure(figsize=(width, height), layout="constrained")


def to_svg(fig: Figure) -> str:
    """The figure as SVG text, byte-identical for identical figures."""
    buf = io.StringIO()
    with mpl.rc_context(STYLE):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def data_uri(svg: str) -> str:
    """An SVG as a ``data:image/svg+xml;base64,...`` URI (inert inside ``<img>``)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def arm_colours(arms: Sequence[str]) -> dict[str, str]:
    """A stable colour per arm (``no_action`` black, others from tab10 in order)."""
    tab10 = mpl.colormaps["tab10"]
    colours = [tab10(i) for i in range(tab10.N)]  # RGBA tuples
    palette = [mpl.colors.to_hex(c) for c in colours if c[:3] != (0.5,) * 3]
    out, k = {}, 0
    for a in arms:
        if a == BASELINE:
            out[a] = "#000000"
        else:
            out[a] = palette[k % len(palette)]
            k += 1
    return out


def _grid(fig: Figure, n: int, ncols: int):
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return axes[:n]


def _legend(fig: Figure, axes, ncol: int = 4) -> None:
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside upper center", ncol=min(ncol, len(labels)),
                   frameon=False)  # fmt: skip


def time_paths(
    markets: Mapping[str, pd.DataFrame],
    panels: Sequence[tuple[str, str]],
    ylabel: str,
    *,
    ncols: int = 4,
    scale: float = 1.0,
) -> Figure:
    """Small multiples of market columns by day, one line per arm.

    ``panels``: (column of ``Result.markets``, panel title); ``scale`` multiplies values
    (e.g. 100 to show a fraction in percent).
    """
    arms = list(markets)
    colours = arm_colours(arms)
    n = len(panels)
    cols = max(1, min(ncols, n))
    fig = _figure(min(3.4 * cols, 14), 2.7 * int(np.ceil(n / cols)) + 0.5)
    axes = _grid(fig, n, ncols)
    for ax, (col, title) in zip(axes, panels, strict=True):
        for a in arms:
            m = markets[a]
            if col in m:
                style = "--" if a == BASELINE else "-"
                ax.plot(m.index, m[col] * scale, style, color=colours[a], label=a)
        ax.set_title(title)
        ax.set_xlabel("day")
        ax.set_ylabel(ylabel)
    _legend(fig, axes)
    return fig


def cumulative_sales(events: Mapping[str, pd.DataFrame], days: int) -> dict[str, pd.DataFrame]:
    """Per arm: day x sector cumulative forced plus liquidation sales (USD bn)."""
    out = {}
    for arm, ev in events.items():
        sales = ev[ev["event"].isin(SALES)]
        table = sales.pivot_table(
            index="day", columns="type", values="amount_usd_bn", aggfunc="sum", observed=True
        )
        table = table.reindex(range(days + 1)).fillna(0.0).cumsum()
        table.columns = [str(c) for c in table.columns]
        out[arm] = table
    return out


def sales_by_sector(cum: Mapping[str, pd.DataFrame]) -> Figure:
    """Cumulative forced sales by selling sector, arms overlaid."""
    arms = list(cum)
    colours = arm_colours(arms)
    sectors = [s for s in SECTOR_ORDER if any(s in c.columns for c in cum.values())]
    if not sectors:
        fig = _figure(6, 1.5)
        ax = fig.subplots()
        ax.axis("off")
        ax.text(0.5, 0.5, "no forced sales in any arm", ha="center", va="center")
        return fig
    fig = _figure(min(3.6 * len(sectors), 14), 3.3)
    axes = _grid(fig, len(sectors), 4)
    for ax, s in zip(axes, sectors, strict=True):
        for a in arms:
            if s in cum[a]:
                ax.plot(cum[a].index, cum[a][s], "--" if a == BASELINE else "-",
                        color=colours[a], label=a)  # fmt: skip
        ax.set_title(s.replace("_", " "))
        ax.set_xlabel("day")
        ax.set_ylabel("USD bn, cumulative")
    _legend(fig, axes)
    return fig


def scenario_paths(paths: pd.DataFrame) -> Figure:
    """The scenario's shock paths (columns of :func:`render.scenario_table`) by day."""
    groups = [
        ("Fundamental rate shock, cumulative (bp)", "rate_shock_bp:", True),
        ("Exogenous sales (USD bn per day)", "exogenous_sales_usd_bn:", False),
        ("Volatility multiplier", "volatility_multiplier", False),
        ("Add-ons and shocks (%)", "_frac", False),
    ]
    fig = _figure(14, 3.9)
    axes = _grid(fig, len(groups), 4)
    for ax, (title, key, cumulative) in zip(axes, groups, strict=True):
        cols = [c for c in paths.columns if (key in c if ":" in key else c.endswith(key))]
        if key == "volatility_multiplier":
            cols = [key] if key in paths else []
        for c in cols:
            y = paths[c].cumsum() if cumulative else paths[c]
            if key == "_frac":
                y = y * 100
            label = c.split(":", 1)[-1].replace("_frac", "")
            ax.plot(paths.index, y, label=label, marker="." if len(paths) < 40 else None)
        ax.set_title(title)
        ax.set_xlabel("day")
        if len(cols) > 1:
            ax.legend(frameon=False, fontsize=8, loc="upper center", ncol=2,
                      bbox_to_anchor=(0.5, -0.22))  # fmt: skip
    return fig


def _hbar_stack(ax, table: pd.DataFrame, title: str) -> None:
    cmap = mpl.colormaps["tab10"]
    y = np.arange(len(table.index))
    pos = np.zeros(len(y))
    neg = np.zeros(len(y))
    for k, col in enumerate(table.columns):
        v = table[col].to_numpy(dtype=float)
        left = np.where(v >= 0, pos, neg)
        ax.barh(y, v, left=left, color=cmap(k % 10), label=col.replace("_", " "), height=0.65)
        pos += np.clip(v, 0, None)
        neg += np.clip(v, None, 0)
    ax.scatter(pos + neg, y, marker="|", color="black", s=200, zorder=3, label="net total")
    ax.set_yticks(y, [str(i) for i in table.index])
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("equity loss, USD bn (negative = gain)")
    ax.set_title(title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3, frameon=False)


def losses(by_channel: pd.DataFrame, by_sector: pd.DataFrame) -> Figure:
    """Stacked horizontal bars of equity losses per arm, by channel and by sector."""
    fig = _figure(14, 1.2 + 0.45 * len(by_channel.index) + 1.4)
    ax1, ax2 = fig.subplots(1, 2)
    _hbar_stack(ax1, by_channel, "By channel")
    _hbar_stack(ax2, by_sector, "By sector")
    return fig


def cost_benefit(eff: pd.DataFrame, size: pd.Series) -> Figure:
    """Intervention size versus reductions (peak 10y yield, basis, fire sales), per arm."""
    panels = [
        ("reduction_peak_yield_bp", "Peak yield reduction (bp)"),
        ("reduction_peak_basis_bp", "Peak basis-widening reduction (bp)"),
        ("reduction_fire_sale_usd_bn", "Fire-sale reduction (USD bn)"),
    ]
    colours = arm_colours(list(eff.index))
    fig = _figure(14, 3.8)
    axes = _grid(fig, len(panels), 3)
    for ax, (col, title) in zip(axes, panels, strict=True):
        for arm in eff.index:
            ax.scatter(size[arm], eff.loc[arm, col], s=60, color=colours[arm], label=arm,
                       edgecolor="white", zorder=3)  # fmt: skip
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel("intervention size, USD bn")
        ax.set_title(title)
    _legend(fig, axes)
    return fig


def draw_bands(draws: pd.DataFrame, metrics: Sequence[tuple[str, str]]) -> Figure:
    """Median and 10-90% range across parameter draws of headline metrics, per arm."""
    arms = list(dict.fromkeys(draws["arm"]))
    colours = arm_colours(arms)
    fig = _figure(14, 1.0 + 0.38 * len(arms) + 1.2)
    axes = _grid(fig, len(metrics), 4)
    for ax, (metric, title) in zip(axes, metrics, strict=True):
        sub = draws[draws["metric"] == metric]
        for k, arm in enumerate(arms):
            v = sub.loc[sub["arm"] == arm, "value"].to_numpy(dtype=float)
            if not len(v):
                continue
            lo, med, hi = np.quantile(v, [0.1, 0.5, 0.9])
            ax.plot([lo, hi], [k, k], color=colours[arm], lw=4, alpha=0.5, solid_capstyle="butt")
            ax.plot([med], [k], "o", color=colours[arm])
        ax.set_yticks(range(len(arms)), arms if ax is axes[0] else [""] * len(arms))
        ax.invert_yaxis()
        ax.set_title(title)
    return fig


def sensitivity_bars(table: pd.DataFrame, titles: Mapping[str, str] | None = None) -> Figure:
    """Sobol' indices per parameter, one panel per metric, arms side by side.

    ``table``: the tidy frame of :func:`contagion.sensitivity.sensitivity`. Per arm and
    parameter a light bar is the total index ST (whisker: its confidence half-width) and a
    dark inner bar the first-order index S1; the gap between them is interactions.
    """
    from matplotlib.patches import Patch

    titles = titles or {}
    metrics = list(dict.fromkeys(table["metric"]))
    arms = list(dict.fromkeys(table["arm"]))
    params = list(dict.fromkeys(table["parameter"]))
    colours = arm_colours(arms)
    slot = 0.84 / len(arms)
    ncols = min(3, len(metrics))
    rows = int(np.ceil(len(metrics) / ncols))
    fig = _figure(14 if ncols > 1 else 7.5, rows * (0.9 + 0.13 * len(params) * len(arms)) + 0.9)
    axes = _grid(fig, len(metrics), ncols)
    base = np.arange(len(params), dtype=float)
    for k, (ax, metric) in enumerate(zip(axes, metrics, strict=True)):
        sub = table[table["metric"] == metric]
        for i, arm in enumerate(arms):
            s = sub[sub["arm"] == arm].set_index("parameter").reindex(params)
            y = base - 0.42 + slot * (i + 0.5)
            colour = colours[arm]
            ax.barh(y, s["ST"].fillna(0.0), height=0.92 * slot, facecolor=mpl.colors.to_rgba(
                colour, 0.25), edgecolor=colour, linewidth=0.8, xerr=s["ST_conf"].fillna(0.0),
                error_kw={"lw": 0.8, "ecolor": colour})  # fmt: skip
            ax.barh(y, s["S1"].fillna(0.0), height=0.45 * slot, color=colour)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(base, params if k % ncols == 0 else [""] * len(params))
        ax.set_ylim(len(params) - 0.5, -0.5)
        ax.set_xlabel("Sobol index (share of variance)")
        ax.set_title(titles.get(metric, metric))
        constant = sub["note"].astype(str).str.startswith("constant")
        if len(sub) and constant.all():
            ax.set_xlim(0, 1)
            ax.text(0.5, 0.5, "constant in every arm:\nno variance to apportion",
                    transform=ax.transAxes, ha="center", va="center", color="#555555")  # fmt: skip
    handles = [Patch(color=colours[a], label=a) for a in arms] + [
        Patch(facecolor="#e4e4e4", edgecolor="#444444", label="total ST (whisker: interval)"),
        Patch(facecolor="#444444", label="first-order S1"),
    ]
    fig.legend(handles=handles, loc="outside upper center", ncol=min(len(handles), 5),
               frameon=False)  # fmt: skip
    return fig


def _sector_layout(types: pd.Series, size: pd.Series) -> dict[str, tuple[float, float]]:
    """Positions by sector: leaf sectors on an outer ring, dealers inside, hubs centred."""
    pos: dict[str, tuple[float, float]] = {}
    order = lambda ids: sorted(ids, key=lambda i: (-size[i], i))  # noqa: E731
    hubs = order(types.index[types.isin(["ccp", "central_bank"])])
    for k, i in enumerate(hubs):
        a = 2 * np.pi * k / max(len(hubs), 1) + np.pi / 2
        r = 0.12 if len(hubs) > 1 else 0.0
        pos[i] = (r * np.cos(a), r * np.sin(a))
    dealers = order(types.index[types == "dealer"])
    for k, i in enumerate(dealers):
        a = 2 * np.pi * k / max(len(dealers), 1) + np.pi / 2
        pos[i] = (0.45 * np.cos(a), 0.45 * np.sin(a))
    leaves = [s for s in SECTOR_ORDER[:5] if (types == s).any()]
    leaves += sorted(set(types) - set(SECTOR_ORDER))
    counts = np.array([(types == s).sum() for s in leaves], dtype=float)
    gap = 0.25
    width = np.maximum(counts, 3)
    span = (2 * np.pi - gap * len(leaves)) * width / width.sum() if len(leaves) else []
    start = np.pi / 2
    for s, w in zip(leaves, span, strict=True):
        ids = order(types.index[types == s])
        angles = start + w * (np.arange(len(ids)) + 0.5) / len(ids)
        for i, a in zip(ids, angles, strict=True):
            pos[i] = (np.cos(a), np.sin(a))
        pos[f"__label__{s}"] = (1.2 * np.cos(start + w / 2), 1.2 * np.sin(start + w / 2))
        start += w + gap
    return pos


def network(graph, stress: pd.Series, defaulted: pd.Series, assets: pd.Series) -> Figure:
    """The system's graph laid out by sector, nodes coloured by equity loss share.

    ``graph``: :func:`contagion.to_networkx` of the system; ``stress``: equity loss share
    per institution in [0, 1] (NaN: not at risk, drawn grey); ``defaulted``: bool per
    institution; ``assets``: initial total assets (node area).
    """
    types = pd.Series({n: str(d.get("type", "other")) for n, d in graph.nodes(data=True)})
    size = assets.reindex(types.index).fillna(0.0).clip(lower=0.0)
    pos = _sector_layout(types, size)
    fig = _figure(10, 8.6)
    ax = fig.subplots()
    ax.set_aspect("equal")
    ax.axis("off")
    kinds: dict[str, list] = {}
    for u, v, d in graph.edges(data=True):
        if u in pos and v in pos and u != v:
            kinds.setdefault(str(d.get("kind", "other")), []).append([pos[u], pos[v]])
    for kind, segs in sorted(kinds.items()):
        ax.add_collection(LineCollection(segs, colors=EDGE_COLOURS.get(kind, "#bbbbbb"),
                                         linewidths=0.5, alpha=0.18, zorder=1))  # fmt: skip
        ax.plot([], [], color=EDGE_COLOURS.get(kind, "#bbbbbb"), lw=2, label=f"{kind} exposure")
    ids = list(types.index)
    xy = np.array([pos[i] for i in ids])
    area = 12 + 380 * np.sqrt(size.to_numpy() / max(float(size.max()), 1e-12))
    share = stress.reindex(ids).clip(0, 1).to_numpy()
    na = ~np.isfinite(share)
    sc = ax.scatter(xy[~na, 0], xy[~na, 1], s=area[~na], c=share[~na], cmap="YlOrRd", vmin=0,
                    vmax=1, edgecolors="#444444", linewidths=0.4, zorder=2)  # fmt: skip
    if na.any():
        ax.scatter(xy[na, 0], xy[na, 1], s=area[na], color="#cccccc", edgecolors="#444444",
                   linewidths=0.4, zorder=2, label="not at risk (central bank)")  # fmt: skip
    dead = defaulted.reindex(ids).fillna(False).to_numpy(dtype=bool)
    if dead.any():
        ax.scatter(xy[dead, 0], xy[dead, 1], s=area[dead] + 40, facecolors="none",
                   edgecolors="black", linewidths=1.8, zorder=3, label="defaulted")  # fmt: skip
    for key, (x, y) in pos.items():
        if key.startswith("__label__"):
            s = key.removeprefix("__label__")
            ax.text(x, y, f"{s.replace('_', ' ')}\n({(types == s).sum()})", ha="center",
                    va="center", fontsize=11, fontweight="bold")  # fmt: skip
    if (types == "dealer").any():
        ax.text(0, 0.57, f"dealers ({(types == 'dealer').sum()})", ha="center", fontsize=11,
                fontweight="bold")  # fmt: skip
    if types.isin(["ccp", "central_bank"]).any():
        ax.text(0, -0.26, "CCPs and\ncentral bank", ha="center", va="top", fontsize=10)
    ax.set_xlim(-1.45, 1.45)
    ax.set_ylim(-1.4, 1.4)
    fig.colorbar(sc, ax=ax, shrink=0.55, pad=0.01, label="equity loss, share of initial equity")
    ax.legend(loc="upper left", frameon=False, fontsize=9)
    return fig


def report_figures(saved, ctx: dict, scen_paths: pd.DataFrame) -> dict[str, Any]:
    """Every figure of the report as SVG (title, data URI, SVG text, file name)."""
    from contagion.io import to_networkx

    res = saved.results
    mk = {a: r.markets for a, r in res.items()}
    market = saved.system.market
    b, c = list(market.bucket_names), list(market.futures_codes)
    days = int(next(iter(mk.values())).index.max())
    stress = ctx["stress"]
    specs = {
        "scenario": ("The scenario's shock paths", scenario_paths(scen_paths)),
        "yields": (
            "Yield change by bucket",
            time_paths(mk, [(f"yield_change_{x}_bp", f"{x} yield") for x in b], "bp"),
        ),
        "basis": (
            "Basis widening by contract",
            time_paths(mk, [(f"basis_widening_{x}_bp", f"{x} basis") for x in c], "bp"),
        ),
        "swaps": (
            "Swap spread change by bucket",
            time_paths(mk, [(f"swap_spread_change_{x}_bp", f"{x} swap spread") for x in b], "bp"),
        ),
        "funding": (
            "Repo rate, dealer utilisation and volatility",
            time_paths(
                mk,
                [
                    ("repo_rate_pct", "repo rate (%)"),
                    ("repo_rate_eligible_pct", "repo rate, facility-eligible (%)"),
                    ("dealer_peak_utilisation_frac", "dealer utilisation, daily peak (share)"),
                    ("volatility_index", "volatility index"),
                ],
                "",
                ncols=4,
            ),
        ),
        "sales": (
            "Cumulative forced sales by sector",
            sales_by_sector(cumulative_sales({a: r.events for a, r in res.items()}, days)),
        ),
        "network": (
            "The system coloured by stress (no action)",
            network(
                to_networkx(saved.system),
                stress["loss_share"],
                stress["default_day"].notna(),
                stress["assets_usd_bn"],
            ),
        ),
        "losses": (
            "Equity losses by channel and by sector",
            losses(ctx["loss_channel"], ctx["loss_sector"]),
        ),
        "cost_benefit": ("Cost versus benefit", cost_benefit(saved.effectiveness, ctx["size"])),
    }
    if len(saved.draws):
        specs["draws"] = (
            "Uncertainty across parameter draws",
            draw_bands(
                saved.draws,
                [
                    ("peak_yield_bp", f"peak {ctx['y']} yield (bp)"),
                    ("peak_basis_bp", "peak basis (bp)"),
                    ("fire_sale_usd_bn", "fire sales (USD bn)"),
                    ("losses_usd_bn", "losses (USD bn)"),
                ],
            ),
        )
    if getattr(saved, "sensitivity", None) is not None and len(saved.sensitivity):
        specs["sensitivity"] = (
            "Sobol sensitivity indices by metric (total ST light, first-order S1 dark)",
            sensitivity_bars(saved.sensitivity, ctx.get("sensitivity_titles")),
        )
    out = {}
    for key, (title, fig) in specs.items():
        svg = to_svg(fig)
        out[key] = {"title": title, "uri": data_uri(svg), "svg": svg, "file": f"figures/{key}.svg"}
    return out
