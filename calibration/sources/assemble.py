"""Rebuild snapshot rows from the shipped raw extracts: :func:`build_snapshot`.

For a vintage (``2019-08``, ``2020-02``, ``2025-03``, ``latest``) or any ISO date ``as_of``,
each quantity the raw extracts can give is computed from them by code; every other row is
carried from the nearest shipped vintage as a hand-typed row (``origin`` ``manual``) with
the reason no machine-readable source is used in ``note``. The result is validated by the
snapshot validator (:func:`calibration.snapshot.parse_aggregates`, built layout), so a row
without a source or dated after ``as_of`` is an error.

Rules (``calibration/data/raw/COMPARISON.md`` shows their effect row by row):

* **No look-ahead.** Only observations dated on or before ``as_of`` are read. A carried row
  dated after ``as_of`` is left out (listed in :attr:`SnapshotBuild.excluded`), unless it
  has a range (quality ``?`` or ``assumption``): then it becomes an ``assumption`` dated
  ``as_of`` with that range, and its note says so.
* **Point-in-time series** (Treasury yields ``DGS*``; policy rates ``DFEDTARU``/``DFEDTARL``,
  ``IORB``, ``RRPONTSYAWARD``; Wednesday levels ``WRESBAL``, ``WALCL``) take the last
  observation on or before ``as_of``, at most :data:`MAX_AGE_DAYS` old; a Wednesday level
  that falls on a quarter-end is skipped for the Wednesday before.
* **Funding rates and balances** with month- and quarter-end spikes (``SOFR``, ``DFF``
  (EFFR), ``RRPONTSYD``) are averaged over the weekdays of the :data:`AVERAGE_DAYS`
  calendar days ending on ``as_of``, leaving out the last business day of each month:
  ``level = mean(x_d : as_of - 27 <= d <= as_of, d a weekday, d not a month-end)``.
* **Futures positions** (CFTC TFF, Tuesday positions of the last report on or before
  ``as_of``) in USD bn of face value: ``contracts x face / 1e9`` with face USD 200k (TU)
  or 100k (FV, TY, UXY, US, WN), summed by bucket, for every trader category (dealer,
  asset manager, leveraged funds, other reportables, non-reportables; long and short), so
  the categories' longs and shorts of a contract add up to the same outright open interest.
  A report more than ``MAX_AGE_DAYS["tff"]`` days old is used only when the extracts hold
  no later one, up to ``MAX_AGE_DAYS["tff_nearest"]`` days (``latest``: the 2025-03-25
  report), and every row it gives says so in its note.
* **Out of sample.** Outcome series (yields, SOFR, EFFR) are not shipped from 2025-04-01
  on (:data:`calibration.sources.raw.WITHHELD_FROM`), so for a later ``as_of`` those rows
  stay hand-typed and say so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.snapshot import (
    BUILT_COLUMNS,
    MANUAL,
    Snapshot,
    available_vintages,
    load_snapshot,
    parse_aggregates,
)
from calibration.sources.cftc import TREASURY_CONTRACTS
from calibration.sources.raw import WITHHELD_FROM, load_provenance, load_raw, raw_root

__all__ = [
    "AVERAGE_DAYS",
    "MAX_AGE_DAYS",
    "VINTAGE_DATES",
    "SnapshotBuild",
    "build_snapshot",
    "build_snapshot_rows",
    "manual_reason",
]

#: Reference dates of the vintages :func:`build_snapshot` knows by name.
VINTAGE_DATES = {
    "2019-08": dt.date(2019, 8, 31),
    "2020-02": dt.date(2020, 2, 29),
    "2025-03": dt.date(2025, 3, 31),
    "latest": dt.date(2025, 11, 30),
}
#: Oldest observation (days before ``as_of``) a point-in-time row may use, by kind.
MAX_AGE_DAYS = {"daily": 7, "weekly": 21, "tff": 10, "tff_nearest": 270, "policy": 31}
#: Calendar days of the averaging window of funding rates and balances.
AVERAGE_DAYS = 28
BUCKETS = ("2y", "5y", "10y", "30y")
_TICKER_CODE = {t: code for code, (t, _, _) in TREASURY_CONTRACTS.items()}

_FRED_TITLES = {
    "DGS2": "2-Year Treasury Constant Maturity Rate (DGS2), daily",
    "DGS5": "5-Year Treasury Constant Maturity Rate (DGS5), daily",
    "DGS10": "10-Year Treasury Constant Maturity Rate (DGS10), daily",
    "DGS30": "30-Year Treasury Constant Maturity Rate (DGS30), daily",
    "SOFR": "Secured Overnight Financing Rate (SOFR), daily",
    "DFF": "Federal Funds Effective Rate (DFF), daily",
    "RRPONTSYD": "Overnight Reverse Repurchase Agreements: Treasury Securities Sold by the "
    "Federal Reserve (RRPONTSYD), daily",
    "RRPONTSYAWARD": "Overnight Reverse Repurchase Agreements: Award Rate (RRPONTSYAWARD)",
    "WRESBAL": "Reserve Balances with Federal Reserve Banks: Wednesday Level (WRESBAL), H.4.1",
    "WALCL": "Assets: Total Assets: Wednesday Level (WALCL), H.4.1",
    "IORB": "Interest Rate on Reserve Balances (IORB)",
    "DFEDTARU": "Federal Funds Target Range - Upper Limit (DFEDTARU)",
    "DFEDTARL": "Federal Funds Target Range - Lower Limit (DFEDTARL)",
}
_FRB = "Board of Governors of the Federal Reserve System"
_NYF = "Federal Reserve Bank of New York"
_FRED_PUBLISHERS = {
    "DGS2": f"{_FRB} (H.15) via FRED",
    "DGS5": f"{_FRB} (H.15) via FRED",
    "DGS10": f"{_FRB} (H.15) via FRED",
    "DGS30": f"{_FRB} (H.15) via FRED",
    "SOFR": f"{_NYF} via FRED",
    "DFF": f"{_NYF} (H.15) via FRED",
    "RRPONTSYD": f"{_NYF} via FRED",
    "RRPONTSYAWARD": f"{_NYF} via FRED",
    "WRESBAL": f"{_FRB} (H.4.1) via FRED",
    "WALCL": f"{_FRB} (H.4.1) via FRED",
    "IORB": f"{_FRB} via FRED",
    "DFEDTARU": f"{_FRB} via FRED",
    "DFEDTARL": f"{_FRB} via FRED",
}
#: Context rows of the fact base for new quantities (the validator wants fact ids).
_NEW_FACTS = {"futures_": "1.38;1.39;1.41", "effr_": "2.21;4.40"}

#: (pattern, reason) for rows kept hand-typed: why no machine-readable source is used.
_MANUAL_REASONS = (
    (r"^basis_trade_size|^swap_spread_trade", "a model concept (cash-leg size of a trade) "
     "estimated in research notes, not an official series"),
    (r"^triparty_treasury_haircut", "OFR bilateral/tri-party margin studies publish it as "
     "text, not as a data file"),
    (r"^triparty_|^repo_market_gross|^ficc_cleared|^nccbr_", "repo volumes by segment come "
     "from the OFR Short-term Funding Monitor and a FEDS Note panel; no STFM file was found "
     "in a public mirror (load_ofr_csv reads one)"),
    (r"^(govt_|prime_)?mmf_", "the ICI weekly MMF series is published as a spreadsheet that "
     "was not found in any public mirror; official totals (FSR, OFR) are text tables"),
    (r"^move_index", "the ICE BofA MOVE index is proprietary; no public file"),
    (r"^ust_outstanding", "MSPD Table 1/3 (Fiscal Data) files were not found in a public "
     "mirror; load_mspd_summary and mspd_maturity_buckets read them (calibration.download)"),
    (r"^ust_modified_duration", "a computed model quantity, not a published statistic"),
    (r"^ust_cash_volume", "TRACE aggregate volumes (FINRA) were not found as a file"),
    (r"^futures_initial_margin", "CME margins are published in clearing advisories (web "
     "pages, PDFs), not as a data file"),
    (r"^primary_dealer_count", "the NY Fed primary-dealer list is a web page"),
    (r"^slr_", "a regulatory parameter (rule text)"),
    (r"^srf_aggregate", "facility terms from FOMC and NY Fed statements (text)"),
    (r"^dealer_ust_inventory", "no official FR 2004 file in a public mirror: the values are "
     "the NY Fed API's as cached (pickled) by a public repository, copied with provenance in "
     "the row's note; load_fr2004_csv reads the official CSV (calibration.download('fr2004', "
     "...))"),
    (r"^dealer_ust_capacity|^basis_stress|^hf_repo_haircut_positive", "a model prior "
     "(assumption), not a published statistic"),
    (r"^basis_trade_return", "read off a FEDS Note chart; no data file"),
    (r"^iorb_pct", "IOER (before 2021-07-29) was not found as a FRED file in a public mirror; "
     "rate from the Fed's Regulation D notices (text)"),
    (r"^hf_sponsored", "DTCC/FICC sponsored-repo volumes were not found as a file"),
    (r"^hf_|^top50_", "Form PF aggregates are published as text and charts (FEDS Notes, OFR "
     "Hedge Fund Monitor); no OFR Hedge Fund Monitor file was found in a public mirror "
     "(load_ofr_csv reads one)"),
)  # fmt: skip


def manual_reason(quantity: str) -> str:
    """Why ``quantity`` has no machine-readable source here (for a ``manual`` row's note)."""
    for pattern, reason in _MANUAL_REASONS:
        if re.search(pattern, quantity):
            return reason
    if re.search(r"futures_", quantity):
        return "no CFTC TFF file for these dates was found in a public mirror"
    return "no machine-readable source was found for it"


@dataclasses.dataclass(frozen=True)
class SnapshotBuild:
    """Rows of a built snapshot and what was left out.

    Attributes
    ----------
    as_of : datetime.date
    vintage : str
        The vintage name, or ``built-<as_of>`` for another date.
    base : str
        The shipped vintage whose hand-typed rows were carried.
    rows : pandas.DataFrame
        Strings in the :data:`calibration.snapshot.BUILT_COLUMNS` layout.
    excluded : pandas.DataFrame
        ``quantity``, ``reason``: base rows not carried (dated after ``as_of``).
    """

    as_of: dt.date
    vintage: str
    base: str
    rows: pd.DataFrame
    excluded: pd.DataFrame


class _Text:
    """A CSV held in memory with the ``read_text`` of a file, for the snapshot validator."""

    def __init__(self, name: str, text: str) -> None:
        self._name, self._text = name, text

    def read_text(self, encoding: str = "utf-8") -> str:
        return self._text

    def __str__(self) -> str:
        return self._name


@functools.lru_cache(maxsize=4)
def _raw(root: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    prov = load_provenance(Path(root) / "PROVENANCE.csv")
    frames = [load_raw(f, root) for f in prov["file"]]
    data = pd.concat(frames, ignore_index=True)
    return data, prov.set_index("file")


class _Reader:
    """Series lookups on the loaded extracts, never past ``as_of``."""

    def __init__(self, root: Path, as_of: dt.date) -> None:
        self.data, self.prov = _raw(str(root))
        self.as_of = as_of

    def url(self, source: str) -> str:
        return str(self.prov.loc[source.removeprefix("raw/"), "official_url"])

    def series(self, name: str) -> pd.DataFrame:
        frame = self.data[(self.data["series"] == name) & (self.data["date"] <= self.as_of)]
        return frame.sort_values("date").drop_duplicates("date", keep="last")

    def last(self, name: str, kind: str, skip_quarter_end: bool = False) -> pd.Series | None:
        frame = self.series(name)
        if skip_quarter_end:
            frame = frame[~frame["date"].map(_is_quarter_end)]
        if frame.empty:
            return None
        row = frame.iloc[-1]
        if (self.as_of - row["date"]).days > MAX_AGE_DAYS[kind]:
            return None
        return row

    def mean(self, name: str) -> tuple[float, pd.DataFrame] | None:
        frame = self.series(name)
        if frame.empty or (self.as_of - frame["date"].iloc[-1]).days > MAX_AGE_DAYS["weekly"]:
            return None
        start = self.as_of - dt.timedelta(days=AVERAGE_DAYS - 1)
        frame = frame[(frame["date"] >= start) & frame["date"].map(lambda d: d.weekday() < 5)]
        frame = frame[~frame["date"].map(_is_month_end)]
        if frame.empty:
            return None
        return float(frame["value"].mean()), frame


def _is_month_end(day: dt.date) -> bool:
    """Last weekday of its month (holidays aside)."""
    nxt = day + dt.timedelta(days=1)
    while nxt.weekday() >= 5:
        nxt += dt.timedelta(days=1)
    return nxt.month != day.month


def _is_quarter_end(day: dt.date) -> bool:
    return day.month in (3, 6, 9, 12) and _is_month_end(day)


def _usd_bn(value: float, unit: str) -> float:
    return {"USD bn": value, "USD mn": value / 1e3}[unit]


def _fmt(value: float, digits: int = 4) -> str:
    return f"{round(float(value), digits):.{digits}f}".rstrip("0").rstrip(".")


def _row(quantity: str, value: float, unit: str, as_of: dt.date, title: str, publisher: str,
         url: str, quality: str, note: str, origin: str, digits: int = 4) -> dict:  # fmt: skip
    return {
        "quantity": quantity, "value": _fmt(value, digits), "unit": unit,
        "as_of": as_of.isoformat(), "source_title": title, "source_publisher": publisher,
        "source_url": url, "fact_ids": "", "quality": quality, "low": "", "high": "",
        "note": note, "origin": origin,
    }  # fmt: skip


def _fred_rows(r: _Reader) -> list[dict]:
    rows = []

    def point(quantity, series, kind, unit, digits=2, convert=None, skip_qe=False, what=""):
        obs = r.last(series, kind, skip_quarter_end=skip_qe)
        if obs is None:
            return None
        value = convert(obs["value"], obs["unit"]) if convert else obs["value"]
        note = (
            f"FRED {series} on {obs['date']} = {obs['value']:,.10g} ({obs['unit']}){what}; last "
            f"observation on or before {r.as_of}; read by calibration.sources.load_fred_csv "
            f"from {obs['source']}."
        )
        quality = "derived" if convert else "ok"
        row = _row(quantity, value, unit, obs["date"], f"{_FRED_TITLES[series]}, FRED CSV",
                   _FRED_PUBLISHERS[series], r.url(obs["source"]), quality, note,
                   obs["source"], digits)  # fmt: skip
        rows.append(row)
        return obs

    def average(quantity, series, unit, digits=4, convert=None):
        got = r.mean(series)
        if got is None:
            return
        value, frame = got
        if convert:
            value = convert(value, frame["unit"].iloc[0])
        first, last = frame["date"].iloc[0], frame["date"].iloc[-1]
        note = (
            f"Mean of FRED {series} over the {len(frame)} weekdays from {first} to {last} "
            f"(the {AVERAGE_DAYS} days to {r.as_of}, month-end and quarter-end prints left "
            f"out; range {frame['value'].min():g}-{frame['value'].max():g} "
            f"{frame['unit'].iloc[0]}); read by calibration.sources.load_fred_csv from "
            f"{', '.join(frame['source'].unique())}."
        )
        rows.append(_row(quantity, value, unit, last, f"{_FRED_TITLES[series]}, FRED CSV",
                         _FRED_PUBLISHERS[series], r.url(frame["source"].iloc[-1]), "derived",
                         note, frame["source"].iloc[-1], digits))  # fmt: skip

    for tenor in BUCKETS:
        point(f"yield_{tenor}_pct", f"DGS{tenor[:-1]}", "daily", "pct")
    average("sofr_pct", "SOFR", "pct")
    average("effr_pct", "DFF", "pct")
    average("on_rrp_usd_bn", "RRPONTSYD", "USD bn", 3, _usd_bn)
    wed = ", a Wednesday level (a quarter-end Wednesday is skipped), converted to USD bn"
    point("bank_reserves_usd_bn", "WRESBAL", "weekly", "USD bn", 3, _usd_bn, True, wed)
    point("fed_total_assets_usd_bn", "WALCL", "weekly", "USD bn", 3, _usd_bn, True, wed)
    step = " (a policy rate: it changes only by an FOMC or Board decision)"
    point("iorb_pct", "IORB", "policy", "pct", what=step)
    upper = point("fed_funds_target_upper_pct", "DFEDTARU", "policy", "pct", what=step)
    lower = point("fed_funds_target_lower_pct", "DFEDTARL", "policy", "pct", what=step)
    if upper is not None:
        srf = dict(rows[[x["quantity"] for x in rows].index("fed_funds_target_upper_pct")])
        exists = r.as_of >= dt.date(2021, 7, 28)
        srf.update(quantity="srf_min_bid_rate_pct", quality="derived", note=(
            "SRF minimum bid rate = top of the FF target range (NY Fed Standing Repo FAQ, row "
            "2.28)" + ("" if exists else "; counterfactual: no SRF before 2021-07-28 (2.27)")
            + f"; FRED DFEDTARU on {upper['date']} = {upper['value']:g}, read from "
            f"{upper['source']}."))  # fmt: skip
        rows.append(srf)
        if lower is None:
            low = dict(srf)
            low.update(quantity="fed_funds_target_lower_pct", quality="derived",
                       value=_fmt(upper["value"] - 0.25, 2), note=(
                           f"Top of the range (FRED DFEDTARU {upper['value']:g} on "
                           f"{upper['date']}, {upper['source']}) minus the 0.25 range width; "
                           "DFEDTARL is not in the shipped extracts for this date."))  # fmt: skip
            rows.append(low)
    award = point("on_rrp_rate_pct", "RRPONTSYAWARD", "policy", "pct", what=step)
    if award is None and upper is not None and r.as_of >= dt.date(2024, 12, 19):
        rrp = dict(rows[[x["quantity"] for x in rows].index("fed_funds_target_lower_pct")])
        rrp.update(
            quantity="on_rrp_rate_pct",
            quality="derived",
            note=(
                "ON RRP offering rate at the bottom of the FF range since the 2024-12-18 FOMC "
                "technical adjustment (row 2.38: 3.75 at 3.75-4.00); bottom = " + rrp["note"]
            ),
        )
        rows.append(rrp)
    return rows


def _tff_rows(r: _Reader) -> list[dict]:
    tff = r.data[r.data["series"].str.startswith("tff_") & (r.data["date"] <= r.as_of)]
    if tff.empty:
        return []
    date = tff["date"].max()
    age = (r.as_of - date).days
    if age > MAX_AGE_DAYS["tff_nearest"]:
        return []
    tff = tff[tff["date"] == date]
    source = tff["source"].iloc[0]
    by = tff.set_index("series")["value"]
    title = "Traders in Financial Futures, futures only (FinFutYY.txt), Treasury contracts"
    publisher = "Commodity Futures Trading Commission"
    rows = []
    read = f"read by calibration.sources.load_cftc_tff from {source}"
    if age > MAX_AGE_DAYS["tff"]:
        read += (
            f"; the nearest available report: {age} days before {r.as_of}, no later TFF "
            "report is in the shipped extracts, so positions are those of that date"
        )

    def add(quantity: str, column: str, cat_side: str, buckets=BUCKETS) -> None:
        parts, total = [], 0.0
        for code, (ticker, bucket, face) in TREASURY_CONTRACTS.items():
            if bucket not in buckets:
                continue
            n = by.get(f"tff_{code}_{cat_side}")
            if n is None or np.isnan(n):
                return
            total += n * face / 1e9
            parts.append(f"{ticker} {n:,.0f} x {face / 1e3:.0f}k")
        note = (f"CFTC TFF report of {date} (Tuesday positions), {column}: "
                f"{' + '.join(parts)} = {total:,.4f} USD bn face; {read}.")  # fmt: skip
        rows.append(_row(quantity, total, "USD bn", date, title, publisher, r.url(source),
                         "derived", note, source))  # fmt: skip

    columns = {
        ("lev_money", "short"): ("lf_futures_short_{b}_usd_bn", "Lev_Money_Positions_Short_All"),
        ("asset_mgr", "long"): ("am_futures_long_{b}_usd_bn", "Asset_Mgr_Positions_Long_All"),
    }
    for cat in ("dealer", "asset_mgr", "lev_money", "other_rept", "nonrept"):
        for side in ("long", "short"):
            name, column = columns.get(
                (cat, side),
                (f"futures_{cat}_{side}_{{b}}_usd_bn",
                 f"{_TEXT_PREFIX[cat]}_Positions_{side.title()}_All"),
            )  # fmt: skip
            for bucket in BUCKETS:
                add(name.format(b=bucket), column, f"{cat}_{side}", (bucket,))
    add("lf_futures_short_total_usd_bn", "Lev_Money_Positions_Short_All", "lev_money_short")
    for bucket in BUCKETS:
        add(f"futures_open_interest_{bucket}_usd_bn", "Open_Interest_All", "open_interest",
            (bucket,))  # fmt: skip
    for ticker, code in _TICKER_CODE.items():
        share = by.get(f"tff_{code}_top8_gross_short")
        if share is None or np.isnan(share):
            continue
        note = (f"CFTC TFF report of {date}, {ticker} ({code}) Conc_Gross_LE_8_TDR_Short_All = "
                f"{share:g}% of open interest held short by the 8 largest traders (all "
                f"categories); {read}.")  # fmt: skip
        rows.append(_row(f"futures_top8_short_share_{ticker.lower()}_frac", share / 100, "frac",
                         date, title, publisher, r.url(source), "ok", note, source, 3))  # fmt: skip
    return rows


_TEXT_PREFIX = {
    "dealer": "Dealer",
    "asset_mgr": "Asset_Mgr",
    "lev_money": "Lev_Money",
    "other_rept": "Other_Rept",
    "nonrept": "NonRept",
}

#: Hand-typed rows for the 2019-08 vintage that no shipped vintage carries.
_ROWS_2019_08 = (
    {
        "quantity": "iorb_pct", "value": "2.1", "unit": "pct", "as_of": "2019-08-01",
        "source_title": "Fed funds range and IOER around the September 2019 repo spike (CNBC "
        "2019-09-20); first repo operation of 2019-09-17 (Derivatives & Repo Report)",
        "source_publisher": "CNBC / Derivatives & Repo Report",
        "source_url": "https://www.cnbc.com/2019/09/20/fed-repo-new-york-fed-to-conduct-"
        "operations-until-mid-october.html", "fact_ids": "2.21;4.36", "quality": "?",
        "low": "2.05", "high": "2.15",
        "note": "Manual: the FRED series IOER (to 2021-07-28) was not found in a public "
        "mirror. IOER 2.10 from 2019-08-01 (after the July 31 cut) to the 2019-09-18 cut to "
        "1.80 (row 2.21); the 2019-09-17 repo minimum bid of 2.10 (4.36) matches it.",
        "origin": MANUAL,
    },
)  # fmt: skip
#: Quantities computed from the raw extracts where these cover the date.
_FROM_RAW = frozenset(
    {"bank_reserves_usd_bn", "fed_total_assets_usd_bn", "on_rrp_usd_bn", "on_rrp_rate_pct",
     "fed_funds_target_upper_pct", "fed_funds_target_lower_pct", "srf_min_bid_rate_pct",
     "lf_futures_short_total_usd_bn"}
    | {f"{p}_{b}_usd_bn" for p in ("lf_futures_short", "am_futures_long") for b in BUCKETS}
)  # fmt: skip
#: Regime rows of a later vintage that hold on an earlier date too (carried with a note).
_REGIME_ROWS = frozenset(
    {"slr_requirement_frac", "slr_bank_subsidiary_requirement_frac", "srf_aggregate_limit_usd_bn",
     "triparty_treasury_haircut_frac"}
)  # fmt: skip


def _base_vintage(as_of: dt.date) -> str:
    shipped = {v: load_snapshot(v).as_of for v in available_vintages()}
    before = [v for v, d in shipped.items() if d <= as_of]
    if before:
        return max(before, key=lambda v: shipped[v])
    return min(shipped, key=lambda v: shipped[v])


def _manual_rows(base: Snapshot, as_of: dt.date, sourced: set[str]) -> tuple[list, list]:
    rows, excluded = [], []
    for rec in base.table.to_dict("records"):
        qty = rec["quantity"]
        if qty in sourced:
            continue
        row = {k: ("" if pd.isna(rec[k]) else str(rec[k])) for k in BUILT_COLUMNS[:-1]}
        row["value"] = _fmt(rec["value"], 6)
        row["low"] = "" if pd.isna(rec["low"]) else _fmt(rec["low"], 6)
        row["high"] = "" if pd.isna(rec["high"]) else _fmt(rec["high"], 6)
        row_date = rec["as_of"]
        carried_back = base.as_of > as_of
        reason = manual_reason(qty)
        withheld = qty.startswith(("yield_", "sofr_")) and as_of >= WITHHELD_FROM
        if withheld:
            reason = (
                "outcome series withheld from the raw extracts from "
                f"{WITHHELD_FROM} (out-of-sample rule); the shipped value is kept"
            )
        elif qty in _FROM_RAW:
            reason = f"no shipped raw extract covers {as_of} for it ({manual_reason(qty)})"
        if carried_back and row_date > as_of:
            if rec["quality"] == "assumption" and row_date == base.as_of:
                row["as_of"] = as_of.isoformat()
                reason = f"an assumption of vintage {base.vintage}, carried back; {reason}"
            elif qty in _REGIME_ROWS:
                row["as_of"] = as_of.isoformat()
                reason = f"a rule in force on {as_of} as on {row_date} (vintage {base.vintage})"
            else:
                excluded.append({"quantity": qty, "reason": f"dated {row_date}, after {as_of}"})
                continue
        elif row_date > as_of and rec["quality"] in {"?", "assumption"}:
            row.update(as_of=as_of.isoformat(), quality="assumption", source_url="")
            reason = (f"the shipped value is dated {row_date}, after {as_of} (look-ahead); kept "
                      f"as an assumption with its range {row['low']}-{row['high']} until a "
                      f"source dated by {as_of} replaces it")  # fmt: skip
        elif row_date > as_of:
            excluded.append({"quantity": qty, "reason": f"dated {row_date}, after {as_of} "
                             "(look-ahead in the shipped vintage)"})  # fmt: skip
            continue
        row["note"] = f"Manual: {reason}. {row['note']}".strip()
        row["origin"] = MANUAL
        rows.append(row)
    return rows, excluded


def build_snapshot_rows(as_of: str | dt.date, raw: str | Path | None = None) -> SnapshotBuild:
    """Snapshot rows for a vintage name or an ISO date, from the raw extracts.

    Parameters
    ----------
    as_of : str or datetime.date
        ``"2019-08"``, ``"2020-02"``, ``"2025-03"``, ``"latest"`` (:data:`VINTAGE_DATES`) or
        a date; rows are never dated after it.
    raw : path, optional
        Folder of raw extracts with its ``PROVENANCE.csv`` (default: the shipped one).
    """
    if isinstance(as_of, str) and as_of in VINTAGE_DATES:
        vintage, date = as_of, VINTAGE_DATES[as_of]
    else:
        date = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of))
        vintage = f"built-{date.isoformat()}"
    root = Path(raw) if raw is not None else raw_root()
    reader = _Reader(root, date)
    sourced = _fred_rows(reader) + _tff_rows(reader)
    base_name = vintage if vintage in available_vintages() else _base_vintage(date)
    base = load_snapshot(base_name)
    for row in sourced:
        shipped = base.table.loc[base.table["quantity"] == row["quantity"], "fact_ids"]
        if len(shipped) and shipped.iloc[0]:
            row["fact_ids"] = shipped.iloc[0]
        else:
            prefix = next((p for p in _NEW_FACTS if row["quantity"].startswith(p)), None)
            row["fact_ids"] = _NEW_FACTS.get(prefix, "10.6")
    names = {row["quantity"] for row in sourced}
    extra = [dict(r) for r in _ROWS_2019_08] if vintage == "2019-08" else []
    names |= {r["quantity"] for r in extra}
    manual, excluded = _manual_rows(base, date, names)
    rows = pd.DataFrame(sourced + extra + manual, columns=list(BUILT_COLUMNS))
    excluded = pd.DataFrame(excluded, columns=["quantity", "reason"])
    return SnapshotBuild(as_of=date, vintage=vintage, base=base_name, rows=rows, excluded=excluded)


def build_snapshot(as_of: str | dt.date, raw: str | Path | None = None) -> Snapshot:
    """A validated snapshot rebuilt from the raw extracts (see :func:`build_snapshot_rows`).

    Every row carries ``origin``: the raw extract it was computed from, or ``manual`` with
    the reason in ``note``. The result can be passed to :func:`calibration.build_system`
    or written with :func:`calibration.snapshot.write_snapshot`.

    Examples
    --------
    >>> snap = build_snapshot("2020-02")
    >>> row = snap.row("lf_futures_short_10y_usd_bn")
    >>> float(row["value"]), row["as_of"], row["origin"]
    (137.292, datetime.date(2020, 2, 25), 'raw/cftc_tff/FinFut20_treasury.txt')
    >>> snap.row("sofr_pct")["quality"], snap.row("mmf_assets_usd_bn")["origin"]
    ('derived', 'manual')
    """
    built = build_snapshot_rows(as_of, raw)
    text = built.rows.to_csv(index=False, lineterminator="\n")
    table = parse_aggregates(_Text(f"build_snapshot({built.vintage})", text), as_of=built.as_of)
    description = (
        f"Rebuilt on demand from the raw public extracts (calibration.build_snapshot) for "
        f"{built.as_of}; hand-typed rows carried from vintage {built.base}."
    )
    return Snapshot(vintage=built.vintage, as_of=built.as_of, description=description, table=table)
