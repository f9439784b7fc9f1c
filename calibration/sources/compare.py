"""The comparison report ``calibration/data/raw/COMPARISON.md``: shipped rows against sources.

For every row of the shipped ``2020-02``, ``2025-03`` and ``latest`` aggregates: the shipped
value, what :func:`calibration.build_snapshot` makes of it from the raw extracts (value,
date, file), the difference and a disposition (*replace from source X*, *keep manual
because ...*, or *drop: dated after the vintage*). The report also checks the known
problems listed in issue 21 with the numbers the sources give, and lists what was searched
for and not found.

Regenerate with ``python -m calibration.sources.compare`` (writes the shipped file);
``tests/test_calibration_sources.py`` checks that the shipped file is current.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from calibration.snapshot import MANUAL, load_snapshot
from calibration.sources.assemble import VINTAGE_DATES, build_snapshot_rows
from calibration.sources.cftc import treasury_face_value_usd_bn
from calibration.sources.raw import load_raw, raw_root

__all__ = ["comparison_report", "write_comparison"]

COMPARED = ("2020-02", "2025-03", "latest")
BUCKETS = ("2y", "5y", "10y", "30y")


def _num(x: float) -> str:
    if pd.isna(x):
        return ""
    return f"{x:,.4f}".rstrip("0").rstrip(".")


def _shipped_vs_built(vintage: str) -> tuple[str, pd.DataFrame]:
    shipped = load_snapshot(vintage).table
    built = build_snapshot_rows(vintage)
    rows = built.rows.set_index("quantity")
    excluded = built.excluded.set_index("quantity")["reason"]
    lines = [
        "| quantity | shipped (as_of, quality) | from sources (date; file) | difference | "
        "disposition |",
        "| --- | --- | --- | --- | --- |",
    ]
    counts = {"replace": 0, "manual": 0, "drop": 0}
    for rec in shipped.to_dict("records"):
        qty = rec["quantity"]
        old = f"{_num(rec['value'])} ({rec['as_of']}, {rec['quality']})"
        if qty in excluded.index:
            counts["drop"] += 1
            lines.append(f"| `{qty}` | {old} | - | - | drop: {excluded[qty]} |")
            continue
        new = rows.loc[qty]
        if new["origin"] == MANUAL:
            counts["manual"] += 1
            reason = new["note"].removeprefix("Manual: ").split(". ")[0]
            lines.append(f"| `{qty}` | {old} | - | - | keep manual: {reason} |")
            continue
        counts["replace"] += 1
        value = float(new["value"])
        diff = value - rec["value"]
        rel = f" ({diff / rec['value']:+.1%})" if rec["value"] else ""
        file = new["origin"].removeprefix("raw/")
        lines.append(
            f"| `{qty}` | {old} | {_num(value)} ({new['as_of']}; `{file}`) | "
            f"{_num(diff)}{rel} | replace from `{file}` ({new['quality']}) |"
        )
    added = sorted(set(rows.index) - set(shipped["quantity"]))
    summary = (
        f"{len(shipped)} shipped rows: {counts['replace']} replaced from a raw extract, "
        f"{counts['manual']} kept hand-typed (`manual`), {counts['drop']} dropped (dated after "
        f"{VINTAGE_DATES[vintage]}). The build adds {len(added)} rows the shipped file does "
        f"not have: {', '.join(f'`{a}`' for a in added) or 'none'}."
    )
    return summary + "\n\n" + "\n".join(lines) + "\n", built.rows


def _tff_face(file: str, date: str) -> pd.DataFrame:
    face = treasury_face_value_usd_bn(load_raw(file))
    return face[face["date"].astype(str) == date]


def _pick(face: pd.DataFrame, category: str, side: str) -> dict[str, float]:
    sel = face[(face["category"] == category) & (face["side"] == side)]
    return dict(zip(sel["bucket"], sel["value_usd_bn"], strict=True))


def _known_problems() -> str:
    s20, s25 = load_snapshot("2020-02"), load_snapshot("2025-03")
    b20, b25 = build_snapshot_rows("2020-02"), build_snapshot_rows("2025-03")
    r25 = b25.rows.set_index("quantity")
    feb = _tff_face("cftc_tff/FinFut20_treasury.txt", "2020-02-25")
    dec = _tff_face("cftc_tff/FinFut19_treasury.txt", "2019-12-31")
    am, lf = _pick(feb, "asset_mgr", "long"), _pick(feb, "lev_money", "short")
    lf_dec = _pick(dec, "lev_money", "short")
    ship_am = {b: s20.value(f"am_futures_long_{b}_usd_bn") for b in BUCKETS}
    ship_lf = {b: s20.value(f"lf_futures_short_{b}_usd_bn") for b in BUCKETS}
    buckets = {b: s20.value(f"ust_outstanding_{b}_usd_bn") for b in BUCKETS}
    scale = s20.value("ust_outstanding_marketable_usd_bn") / 17000.0

    def tenors(d: dict) -> str:
        return ", ".join(f"{b} {_num(d[b])}" for b in BUCKETS) + f" (total {_num(sum(d.values()))})"

    out = ["## Known problems of issue 21, checked against the sources", ""]
    out.append(
        "1. **Asset-manager futures longs set equal to leveraged-fund shorts (2020-02).** "
        f"Shipped AM longs {tenors(ship_am)} = shipped LF shorts. CFTC TFF of 2020-02-25: "
        f"AM longs {tenors(am)}; LF shorts {tenors(lf)}. Disposition: replace both from "
        "`cftc_tff/FinFut20_treasury.txt`; AM longs are not the mirror of LF shorts (dealers, "
        "other reportables and non-reportables hold the rest; the build adds those rows)."
    )
    out.append(
        "2. **Dealer inventory 200 with no source.** Still hand-typed (`assumption` in "
        "2020-02, 350 in latest): no FR 2004 file was found (below). `load_fr2004_csv` reads "
        "the NY Fed `PDPOSGST-TOT` series once downloaded (`calibration.download('fr2004', "
        "series='PDPOSGST-TOT', ...)`)."
    )
    out.append(
        "3. **2020-02 MMF split 3,650 / 2,550 / 970 vs ICI ~3,630 / 2,705 / 795.** Not "
        "checkable here: no ICI weekly file and no relay of the week ended 2020-02-26 was "
        "found. Keep manual; main should take the ICI weekly figures from the spreadsheet "
        "(as `2nd` if read from a relay)."
    )
    out.append(
        "4. **Maturity buckets not rescaled to the verified total (2020-02).** Shipped buckets "
        f"{tenors(buckets)} were computed on 17,000; the verified marketable total is "
        f"{_num(s20.value('ust_outstanding_marketable_usd_bn'))} (Z.1, 2019Q4). Rescaled by "
        f"{scale:.4f}: "
        + ", ".join(f"{b} {_num(v * scale)}" for b, v in buckets.items())
        + ". MSPD Table 3 would give the buckets directly (`mspd_maturity_buckets`); no file "
        "was found, so the rows stay hand-typed and main should at least rescale them."
    )
    zero = b20.rows.set_index("quantity").loc["hf_repo_zero_haircut_share_frac"]
    out.append(
        "5. **Dec-2022 zero-haircut share carried back to 2020.** The shipped 2020-02 row "
        "(0.74, dated 2022-12-31, Form PF) post-dates the vintage. The build keeps the value "
        f"only as an `{zero['quality']}` dated {zero['as_of']} with its range "
        f"{zero['low']}-{zero['high']} (low end: OFR 42% of all client repo, 1.71): no 2020 "
        "Form PF figure is public."
    )
    out.append(
        "6. **Leveraged-fund shorts read off a chart.** Shipped 2020-02 LF shorts "
        f"{tenors(ship_lf)} (chart reading, 2019 peak, 40/30/20/10 split). CFTC TFF: "
        f"2019-12-31 {tenors(lf_dec)}; 2020-02-25 {tenors(lf)}. Replace from the TFF file "
        "(`lf_futures_short_*`, `Lev_Money_Positions_Short_All`, outright shorts; spreading "
        "positions are in the file but not added)."
    )
    out.append(
        "7. **Sponsored repo 22 months stale.** `hf_sponsored_repo_borrowing_usd_bn` is dated "
        f"{s20.row('hf_sponsored_repo_borrowing_usd_bn')['as_of']} in 2020-02 and "
        f"{s25.row('hf_sponsored_repo_borrowing_usd_bn')['as_of']} in 2025-03 (22 months "
        "before). No DTCC/FICC sponsored-volume file was found: kept manual, stale."
    )
    out.append(
        "8. **Quarter-end prints used as levels (2025-03).** Shipped `sofr_pct` "
        f"{_num(s25.value('sofr_pct'))} and `on_rrp_usd_bn` {_num(s25.value('on_rrp_usd_bn'))} "
        f"are the 2025-03-31 quarter-end prints. Built: SOFR {r25.loc['sofr_pct', 'value']} and "
        f"ON RRP {r25.loc['on_rrp_usd_bn', 'value']} (means over the weekdays of the 28 days to "
        "2025-03-31, month- and quarter-ends left out). The same rule sets 2020-02 SOFR, EFFR "
        "and ON RRP; Wednesday levels (WRESBAL, WALCL) skip a quarter-end Wednesday."
    )
    late = []
    for vintage in COMPARED:
        snap = load_snapshot(vintage)
        build = build_snapshot_rows(vintage)
        dropped = set(build.excluded["quantity"])
        origin = build.rows.set_index("quantity")["origin"]
        for rec in snap.table[snap.table["as_of"] > snap.as_of].to_dict("records"):
            fate = "dropped" if rec["quantity"] in dropped else "kept as a ranged assumption"
            if origin.get(rec["quantity"], MANUAL) != MANUAL:
                fate = f"replaced from `{origin[rec['quantity']].removeprefix('raw/')}`"
            late.append(f"{vintage} `{rec['quantity']}` (dated {rec['as_of']}; {fate})")
    out.append(
        "9. **A 2025-03 row averaging all of 2025 (look-ahead).** It is "
        "`ust_cash_volume_usd_bn_per_day` (the 2025 average, dated 2025-12-31); the build drops "
        "it. All shipped rows dated after their vintage: " + "; ".join(late) + ". A row without "
        "a range is dropped, one with a range (`?`, `assumption`) becomes an assumption dated "
        "on the vintage. Rows interpolated with later data (2025-03 `hf_ust_*` between Dec "
        "2022 and Sep 2025; 2025-03 MMF shares from 2025Q2) are dated on or before the vintage "
        "but use later information: main should re-date or replace them."
    )
    return "\n".join(out) + "\n"


def comparison_report() -> str:
    """The text of ``COMPARISON.md`` (deterministic: only shipped files are read)."""
    parts = [
        "# Shipped snapshot rows against the raw public extracts\n",
        "Generated by `calibration.sources.compare` from the shipped aggregates and the raw "
        "extracts listed in `PROVENANCE.csv` (regenerate: `python -m "
        "calibration.sources.compare`). *From sources* is what `calibration.build_snapshot(v)` "
        "computes; *difference* is sources minus shipped. Dispositions: **replace** (the row "
        "is read from the named extract by code), **keep manual** (no machine-readable source "
        "here; the reason), **drop** (dated after the vintage: look-ahead).\n",
        _known_problems(),
    ]
    for vintage in COMPARED:
        table, _ = _shipped_vs_built(vintage)
        parts.append(f"## Vintage `{vintage}` (as of {VINTAGE_DATES[vintage]})\n\n{table}")
    b19 = build_snapshot_rows("2019-08")
    n_raw = int((b19.rows["origin"] != MANUAL).sum())
    parts.append(
        "## Vintage `2019-08` (new, for the September 2019 repo episode)\n\n"
        f"`build_snapshot('2019-08')` gives {len(b19.rows)} rows: {n_raw} from the raw "
        f"extracts (TFF of 2019-08-27, FRED to 2019-08-30), {len(b19.rows) - n_raw} hand-typed "
        "(assumptions and rules of 2020-02 carried back, and IOER). Not carried because "
        "their 2020-02 value is dated after 2019-08-31 (main must hand-type Aug-2019 values, "
        "e.g. Form PF 2019Q2): " + ", ".join(f"`{q}`" for q in b19.excluded["quantity"]) + ".\n"
    )
    parts.append(
        "## Sources searched for and not found; the risk-free benchmark\n\n"
        "See `README.md` in this folder: what was searched, what was not found (and so stays "
        "hand-typed), and the documented proxy for a risk-free benchmark.\n"
    )
    return "\n".join(parts)


def write_comparison(path: str | Path | None = None) -> Path:
    """Write :func:`comparison_report` to ``path`` (default: the shipped COMPARISON.md)."""
    path = Path(path) if path is not None else raw_root() / "COMPARISON.md"
    path.write_text(comparison_report(), encoding="utf-8")
    return path


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    print(write_comparison(sys.argv[1] if len(sys.argv) > 1 else None))
