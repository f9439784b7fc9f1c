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


MAX_WIDTH_IN = 11.5  # about 1100 px: fits a notebook or docs column without clipping
PANEL_HEIGHT_IN = 2.7  # per row of small multiples: readable titles and tick labels


def _figure(width: float, height: float) -> Figure:
    with mpl.rc_context(STYLE):
        return Figure(figsize=(min(width, MAX_WIDTH_IN), height), layout="constrained")


def to_svg(fig: Figure) -> str:
    """The figure as SVG text, byte-identical for identical figures; it scales down to
    its container (``max-width: 100%``) instead of being clipped."""
    buf = io.StringIO()
    with mpl.rc_context(STYLE):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue().replace("<svg ", '<svg style="max-width: 100%; height: auto" ', 1)


class Svg:
    """A figure as SVG for notebooks (``_repr_svg_``) and files (:meth:`save`)."""

    def __init__(self, fig: Figure) -> None:
        self.text = to_svg(fig)

    def _repr_svg_(self) -> str:
        return self.text

    def save(self, path) -> None:
        from pathlib import Path

        Path(path).write_text(self.text, encoding="utf-8")


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


def _on_top(arms: Sequence[str]) -> list[str]:
    """Arms in drawing order: no action last, so it is drawn over an identical arm."""
    return [a for a in arms if a != BASELINE] + [a for a in arms if a == BASELINE]


def _line(ax, x, y, arm: str, colour: str, label: str) -> None:
    if arm == BASELINE:  # dashed on top: an arm that matches it shows through the gaps
        ax.plot(x, y, "--", color=colour, label=label, lw=1.8, zorder=5)
    else:
        ax.plot(x, y, "-", color=colour, label=label, lw=1.6, zorder=3)


def _legend_in_order(fig: Figure, ax, arms: Sequence[str], labels: Mapping[str, str]) -> None:
    handles, names = ax.get_legend_handles_labels()
    by_label = dict(zip(names, handles, strict=True))
    order = [labels.get(a, a) for a in arms if labels.get(a, a) in by_label]
    if order:
        fig.legend([by_label[n] for n in order], order, loc="outside upper center",
                   ncol=min(3, len(order)), frameon=False)  # fmt: skip


def time_paths(
    markets: Mapping[str, pd.DataFrame],
    panels: Sequence[tuple[str, str]],
    ylabel: str,
    *,
    ncols: int = 3,
    scale: float = 1.0,
    labels: Mapping[str, str] | None = None,
    days: int | None = None,
) -> Figure:
    """Small multiples of market columns by day, one line per arm (no action on top).

    ``panels``: (column of ``Result.markets``, panel title); ``scale`` multiplies values
    (e.g. 100 to show a fraction in percent); ``labels``: arm -> legend label; ``days``:
    the x axis runs to this day (default: the last recorded).
    """
    arms = list(markets)
    labels = dict(labels or {})
    colours = arm_colours(arms)
    n = len(panels)
    cols = max(1, min(ncols, n))
    fig = _figure(3.8 * cols, PANEL_HEIGHT_IN * int(np.ceil(n / cols)) + 0.8)
    axes = _grid(fig, n, cols)
    for ax, (col, title) in zip(axes, panels, strict=True):
        for a in _on_top(arms):
            m = markets[a]
            if col in m:
                _line(ax, m.index, m[col] * scale, a, colours[a], labels.get(a, a))
        ax.set_title(title)
        ax.set_xlabel("day")
        ax.set_ylabel(ylabel)
        if days is not None:
            ax.set_xlim(0, days)
    _legend_in_order(fig, axes[0], arms, labels)
    return fig


def fan_chart(
    paths: pd.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    metrics: Sequence[tuple[str, str]] | None = None,
    quantiles: tuple[float, float] = (0.1, 0.9),
    y: str = "10y",
    ncols: int = 3,
) -> Figure:
    """Median and p10-p90 band over time of the kept daily paths, per arm.

    ``paths``: long frame (arm, draw, day, metric, value) of
    :attr:`contagion.experiment.ExperimentResult.paths`; ``metrics``: (metric, title)
    panels (default: every kept path). No action is drawn last (dashed, on top).
    """
    from contagion.report import labels as names

    labels = dict(labels or {})
    arms = list(dict.fromkeys(paths["arm"]))
    colours = arm_colours(arms)
    if metrics is None:
        metrics = [(m, names.path(m, y)) for m in dict.fromkeys(paths["metric"])]
    n = len(metrics)
    cols = max(1, min(ncols, n))
    fig = _figure(3.8 * cols, PANEL_HEIGHT_IN * int(np.ceil(n / cols)) + 0.9)
    axes = _grid(fig, n, cols)
    lo_q, hi_q = quantiles
    for ax, (metric, title) in zip(axes, metrics, strict=True):
        sub = paths[paths["metric"] == metric]
        for a in _on_top(arms):
            grid = sub[sub["arm"] == a].pivot_table(index="day", columns="draw", values="value")
            if grid.empty:
                continue
            v = grid.to_numpy(dtype=float)
            lo, med, hi = (np.quantile(v, q, axis=1) for q in (lo_q, 0.5, hi_q))
            ax.fill_between(grid.index, lo, hi, color=colours[a], alpha=0.15, lw=0,
                            zorder=4 if a == BASELINE else 2)  # fmt: skip
            _line(ax, grid.index, med, a, colours[a], labels.get(a, a))
        ax.set_title(title)
        ax.set_xlabel("day")
        if len(sub):
            ax.set_xlim(sub["day"].min(), sub["day"].max())
    _legend_in_order(fig, axes[0], arms, labels)
    n_draws = paths["draw"].nunique()
    fig.supxlabel(
        f"lines: median; bands: p{100 * lo_q:g}-p{100 * hi_q:g} across {n_draws} draws",
        fontsize=9, color="#555555",
    )  # fmt: skip
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


def sales_by_sector(
    cum: Mapping[str, pd.DataFrame],
    *,
    labels: Mapping[str, str] | None = None,
    sectors: Mapping[str, str] | None = None,
    ncols: int = 3,
) -> Figure:
    """Cumulative forced sales by selling sector, arms overlaid (no action on top).

    ``labels``: arm -> legend label; ``sectors``: sector -> panel title.
    """
    arms = list(cum)
    labels, sectors = dict(labels or {}), dict(sectors or {})
    colours = arm_colours(arms)
    present = [s for s in SECTOR_ORDER if any(s in c.columns for c in cum.values())]
    present += sorted({s for c in cum.values() for s in c.columns} - set(SECTOR_ORDER))
    if not present:
        return _message("no forced sales in any arm")
    cols = max(1, min(ncols, len(present)))
    rows = int(np.ceil(len(present) / cols))
    fig = _figure(3.8 * cols, PANEL_HEIGHT_IN * rows + 0.8)
    axes = _grid(fig, len(present), cols)
    for ax, s in zip(axes, present, strict=True):
        for a in _on_top(arms):
            if s in cum[a]:
                _line(ax, cum[a].index, cum[a][s], a, colours[a], labels.get(a, a))
        ax.set_title(_wrap(sectors.get(s, s.replace("_", " ")), 42), fontsize=10)
        ax.set_xlabel("day")
        ax.set_ylabel("USD bn, cumulative")
        ax.set_xlim(0, max(int(c.index.max()) for c in cum.values()))
    _legend_in_order(fig, axes[0], arms, labels)
    return fig


def _message(text: str) -> Figure:
    """A small figure that only says ``text`` (a panel with nothing to draw)."""
    fig = _figure(6, 1.5)
    ax = fig.subplots()
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center")
    return fig


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text


SCENARIO_GROUPS = (
    ("Fundamental rate shock, cumulative (bp)", "rate_shock_bp:"),
    ("Exogenous sales (USD bn per day)", "exogenous_sales_usd_bn:"),
)


def scenario_paths(paths: pd.DataFrame, *, ncols: int = 3) -> Figure:
    """The scenario's shock paths (columns of :func:`render.scenario_table`) over the whole
    horizon: the bucket paths grouped in one panel each, then one panel per scalar path
    (its own axis: a 0.2% add-on and a 50% pullback never share a scale)."""
    panels: list[tuple[str, list[str], bool]] = []
    for title, key in SCENARIO_GROUPS:
        cols = [c for c in paths.columns if c.startswith(key)]
        if cols:
            panels.append((title, cols, key == "rate_shock_bp:"))
    for c in paths.columns:
        if ":" not in c:
            unit = " (%)" if c.endswith("_frac") else ""
            panels.append((c.removesuffix("_frac").replace("_", " ") + unit, [c], False))
    if not panels:
        return _message("the scenario has no shock paths")
    n_cols = max(1, min(ncols, len(panels)))
    fig = _figure(3.8 * n_cols, PANEL_HEIGHT_IN * int(np.ceil(len(panels) / n_cols)) + 0.3)
    axes = _grid(fig, len(panels), n_cols)
    last = int(paths.index.max()) if len(paths) else 1
    for ax, (title, cols_, cumulative) in zip(axes, panels, strict=True):
        for c in cols_:
            y = paths[c].cumsum() if cumulative else paths[c]
            if c.endswith("_frac"):
                y = y * 100
            label = c.split(":", 1)[-1]
            ax.plot(paths.index, y, label=label, marker="." if len(paths) < 40 else None)
        ax.set_title(_wrap(title, 40), fontsize=10)
        ax.set_xlabel("day")
        ax.set_xlim(1, max(last, 2))
        if len(cols_) > 1:
            ax.legend(frameon=False, fontsize=8, ncol=2)
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
    fig = _figure(MAX_WIDTH_IN, 2 * (1.2 + 0.42 * len(by_channel.index) + 1.2))
    ax1, ax2 = fig.subplots(2, 1)
    _hbar_stack(ax1, by_channel, "By channel")
    _hbar_stack(ax2, by_sector, "By sector")
    return fig


def cost_benefit(
    eff: pd.DataFrame, size: pd.Series, *, labels: Mapping[str, str] | None = None
) -> Figure:
    """Intervention size versus reductions (peak yield, basis, fire sales), per arm; every
    point is labelled, and arms that land on the same spot share one label."""
    labels = dict(labels or {})
    panels = [
        ("reduction_peak_yield_bp", "Peak yield reduction (bp)"),
        ("reduction_peak_basis_bp", "Peak basis-widening reduction (bp)"),
        ("reduction_fire_sale_usd_bn", "Fire-sale reduction (USD bn)"),
    ]
    arms = [a for a in eff.index if a != BASELINE] or list(eff.index)
    colours = arm_colours(list(eff.index))
    fig = _figure(MAX_WIDTH_IN, 2 * PANEL_HEIGHT_IN + 1.4)
    axes = _grid(fig, len(panels), 2)
    xs = size.reindex(arms).to_numpy(dtype=float)
    xspan = max(float(np.nanmax(xs) - np.nanmin(xs)) if len(xs) else 0.0, 1.0)
    for ax, (col, title) in zip(axes, panels, strict=True):
        ys = eff.loc[arms, col].to_numpy(dtype=float)
        yspan = max(float(np.nanmax(ys) - np.nanmin(ys)) if len(ys) else 0.0, 1e-9)
        groups: dict[tuple[int, int], list[str]] = {}
        for arm, x, y in zip(arms, xs, ys, strict=True):
            ax.scatter(x, y, s=60, color=colours[arm], edgecolor="white", zorder=3,
                       label=labels.get(arm, arm))  # fmt: skip
            key = (round(40 * x / xspan), round(40 * y / yspan))
            groups.setdefault(key, []).append(arm)
        for k, members in enumerate(groups.values()):
            x, y = size[members[0]], eff.loc[members[0], col]
            text = _wrap("; ".join(labels.get(a, a) for a in members), 28)
            ax.annotate(text, (x, y), xytext=(6, 6 if k % 2 == 0 else -14),
                        textcoords="offset points", fontsize=8, color="#333333")  # fmt: skip
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel("intervention size, USD bn")
        ax.set_title(title)
        ax.margins(x=0.25, y=0.2)
    _legend_in_order(fig, axes[0], arms, labels)
    return fig


def draw_bands(
    draws: pd.DataFrame,
    metrics: Sequence[tuple[str, str]],
    *,
    labels: Mapping[str, str] | None = None,
) -> Figure:
    """Median and 10-90% range across parameter draws of headline metrics, per arm."""
    arms = list(dict.fromkeys(draws["arm"]))
    labels = dict(labels or {})
    colours = arm_colours(arms)
    rows = int(np.ceil(len(metrics) / 2))
    fig = _figure(MAX_WIDTH_IN, rows * (1.0 + 0.34 * len(arms)) + 0.6)
    axes = _grid(fig, len(metrics), 2)
    for ax, (metric, title) in zip(axes, metrics, strict=True):
        sub = draws[draws["metric"] == metric]
        for k, arm in enumerate(arms):
            v = sub.loc[sub["arm"] == arm, "value"].to_numpy(dtype=float)
            if not len(v):
                continue
            lo, med, hi = np.quantile(v, [0.1, 0.5, 0.9])
            ax.plot([lo, hi], [k, k], color=colours[arm], lw=4, alpha=0.5, solid_capstyle="butt")
            ax.plot([med], [k], "o", color=colours[arm])
        ax.set_yticks(range(len(arms)), [labels.get(a, a) for a in arms])
        ax.invert_yaxis()
        ax.set_title(title)
    n = draws["draw"].nunique()
    fig.supxlabel(f"dots: median; bars: p10-p90 across {n} draws", fontsize=9, color="#555555")
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
    from contagion.report import labels as lab

    res = saved.results
    names = ctx.get("arm_labels") or lab.arm_labels(res)
    sectors = ctx.get("sector_labels") or {}
    mk = {a: r.markets for a, r in res.items()}
    market = saved.system.market
    b, c = list(market.bucket_names), list(market.futures_codes)
    days = int(next(iter(mk.values())).index.max())
    stress = ctx["stress"]
    y = ctx["y"]

    def paths(panels, ylabel="bp", **kw):
        return time_paths(mk, panels, ylabel, labels=names, days=days, **kw)

    specs = {
        "scenario": ("The scenario's shock paths", scenario_paths(scen_paths)),
        "yields": (
            "Yield change by bucket (central run)",
            paths([(f"yield_change_{x}_bp", f"{x} yield") for x in b], ncols=2),
        ),
        "basis": (
            "Basis widening by contract (central run)",
            paths([(f"basis_widening_{x}_bp", f"{x} basis") for x in c], ncols=2),
        ),
        "swaps": (
            "Swap spread change by bucket (central run)",
            paths([(f"swap_spread_change_{x}_bp", f"{x} swap spread") for x in b], ncols=2),
        ),
        "funding": (
            "Repo rate, dealer utilisation and volatility (central run)",
            paths(
                [
                    ("repo_rate_pct", "repo rate (%)"),
                    ("repo_rate_eligible_pct", "repo rate, facility-eligible (%)"),
                    ("dealer_peak_utilisation_frac", "dealer utilisation, daily peak (share)"),
                    ("volatility_index", "volatility index"),
                ],
                "",
                ncols=2,
            ),
        ),
        "money_market": (
            "The repo market: rates against the policy corridor, and who lent (central run)",
            paths(
                [
                    ("repo_rate_pct", "GC repo rate (%)"),
                    ("policy_range_upper_pct", "top of the target range (%)"),
                    ("srf_rate_pct", "SRF minimum bid rate (%)"),
                    ("on_rrp_rate_pct", "ON RRP rate (%)"),
                    ("repo_supply_mmf_usd_bn", "repo lent by money funds (USD bn)"),
                    ("repo_supply_banks_usd_bn", "repo lent by banks (USD bn)"),
                    ("repo_supply_facilities_usd_bn", "facility take-up: SRF and FIMA (USD bn)"),
                    ("repo_unmet_usd_bn", "repo demand left unmet (USD bn)"),
                ],
                "",
                ncols=2,
            ),
        ),
        "sales": (
            "Cumulative forced sales by sector (central run)",
            sales_by_sector(
                cumulative_sales({a: r.events for a, r in res.items()}, days),
                labels=names,
                sectors=sectors,
            ),
        ),
        "network": (
            "The system coloured by stress (no action, central run)",
            network(
                to_networkx(saved.system),
                stress["loss_share"],
                stress["default_day"].notna(),
                stress["assets_usd_bn"],
            ),
        ),
        "losses": (
            "Equity losses by channel and by sector (central run)",
            losses(ctx["loss_channel"], ctx["loss_sector"]),
        ),
        "cost_benefit": (
            "Cost versus benefit (central run)",
            cost_benefit(saved.effectiveness, ctx["size"], labels=names),
        ),
    }
    if getattr(saved, "paths", None) is not None and len(saved.paths):
        specs["fan"] = (
            "Main paths across the parameter draws: median and p10-p90 band per arm",
            fan_chart(saved.paths, labels=names, y=y),
        )
    if len(saved.draws):
        specs["draws"] = (
            "Uncertainty across parameter draws",
            draw_bands(saved.draws, lab.band_metrics(res), labels=names),
        )
    if getattr(saved, "sensitivity", None) is not None and len(saved.sensitivity):
        sens = saved.sensitivity.assign(arm=saved.sensitivity["arm"].map(lambda a: names.get(a, a)))
        specs["sensitivity"] = (
            "Sobol sensitivity indices by metric (total ST light, first-order S1 dark)",
            sensitivity_bars(sens, ctx.get("sensitivity_titles")),
        )
    out = {}
    for key, (title, fig) in specs.items():
        svg = to_svg(fig)
        out[key] = {"title": title, "uri": data_uri(svg), "svg": svg, "file": f"figures/{key}.svg"}
    return out
