"""CFTC Traders in Financial Futures (TFF), futures only: positions by trader category.

Two official layouts are read:

* the comma-delimited text file of the CFTC's historical compressed archive
  (``fin_fut_txt_YYYY.zip`` holding ``FinFutYY.txt``; header
  ``Market_and_Exchange_Names, As_of_Date_In_Form_YYMMDD, Report_Date_as_YYYY-MM-DD,
  CFTC_Contract_Market_Code, Open_Interest_All, Dealer_Positions_Long_All, ...``),
  :func:`load_cftc_tff`;
* the public-reporting (Socrata) export of the same report, dataset ``gpe5-46if``, as
  JSON or CSV with lower-case field names, :func:`load_cftc_tff_socrata`.

Each row of the report is one contract on one Tuesday ("as of" date). The tidy series are
``tff_<code>_<category>_<side>`` in contracts, where ``category`` is ``dealer``,
``asset_mgr``, ``lev_money``, ``other_rept`` or ``nonrept`` and ``side`` is ``long``,
``short`` or ``spread`` (spreading: equal long and short positions of one trader;
non-reportables have none), plus ``tff_<code>_open_interest`` and the concentration
ratios ``tff_<code>_top4_gross_long`` / ``..._short`` and ``top8`` (percent of open
interest held by the 4 or 8 largest traders, all categories together).

Face value: a contract's face is USD 200,000 for the 2-year note (TU) and USD 100,000 for
the 5-year (FV), 10-year (TY), ultra 10-year (UXY), bond (US) and ultra bond (WN) (CBOT
contract specifications), so ``face_usd_bn = contracts x face_usd / 1e9``
(:func:`treasury_face_value_usd_bn`). Buckets follow ``calibration/data/README.md``:
``2y`` = TU, ``5y`` = FV, ``10y`` = TY + UXY, ``30y`` = US + WN.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd

from calibration.sources._base import (
    SourceError,
    parse_date,
    parse_number,
    read_text,
    require_columns,
    tidy,
)

__all__ = [
    "TFF_CATEGORIES",
    "TREASURY_CONTRACTS",
    "load_cftc_tff",
    "load_cftc_tff_socrata",
    "treasury_face_value_usd_bn",
]

#: CFTC contract market code -> (ticker, model bucket, face value per contract in USD).
#: Codes checked in the 2019, 2020, 2025 and 2026 files shipped under data/raw/cftc_tff.
TREASURY_CONTRACTS = {
    "042601": ("TU", "2y", 200_000.0),
    "044601": ("FV", "5y", 100_000.0),
    "043602": ("TY", "10y", 100_000.0),
    "043607": ("UXY", "10y", 100_000.0),
    "020601": ("US", "30y", 100_000.0),
    "020604": ("WN", "30y", 100_000.0),
}
TFF_CATEGORIES = ("dealer", "asset_mgr", "lev_money", "other_rept", "nonrept")

_TEXT_LAYOUT = "CFTC TFF futures-only text layout (FinFutYY.txt)"
_TEXT_KEYS = (
    "Market_and_Exchange_Names",
    "As_of_Date_In_Form_YYMMDD",
    "Report_Date_as_YYYY-MM-DD",
    "CFTC_Contract_Market_Code",
    "Open_Interest_All",
)
#: (category, side) -> column of the text layout.
_TEXT_POSITIONS = {
    (cat, side): f"{prefix}_Positions_{side.title()}_All"
    for cat, prefix in [
        ("dealer", "Dealer"),
        ("asset_mgr", "Asset_Mgr"),
        ("lev_money", "Lev_Money"),
        ("other_rept", "Other_Rept"),
        ("nonrept", "NonRept"),
    ]
    for side in ("long", "short", "spread")
    if not (cat == "nonrept" and side == "spread")
}
_TEXT_CONC = {
    f"top{n}_gross_{side}": f"Conc_Gross_LE_{n}_TDR_{side.title()}_All"
    for n in (4, 8)
    for side in ("long", "short")
}

_SOCRATA_LAYOUT = "CFTC public-reporting TFF futures-only layout (dataset gpe5-46if)"
_SOCRATA_KEYS = ("report_date_as_yyyy_mm_dd", "cftc_contract_market_code", "open_interest_all")


def _socrata_field(cat: str, side: str) -> tuple[str, ...]:
    """Accepted Socrata field names: the export drops ``_all`` on some categories."""
    base = f"{cat}_positions_{side}"
    return (f"{base}_all", base)


def _records(name: str, rows: list[dict], fields: dict, date_of, code_of) -> list:
    out = []
    for i, row in enumerate(rows, start=2):
        code = code_of(row)
        if code not in TREASURY_CONTRACTS:
            continue
        date = date_of(row)
        label = f"{i} ({code} {date})"
        for suffix, cols in fields.items():
            col = next((c for c in cols if c in row), None)
            if col is None:
                continue
            value = parse_number(row[col], name, col, label)
            out.append((f"tff_{code}_{suffix}", date, value, _unit(suffix)))
    return out


def _unit(suffix: str) -> str:
    return "pct of open interest" if suffix.startswith("top") else "contracts"


def load_cftc_tff(path: str | Path) -> pd.DataFrame:
    """Treasury-futures rows of a TFF futures-only text file (``FinFutYY.txt``), tidy.

    Parameters
    ----------
    path : str or Path
        The comma-delimited text file as published (or an extract keeping its header).

    Returns
    -------
    pandas.DataFrame
        Columns ``series, date, value, unit, source``; positions in contracts, the
        concentration ratios in percent of open interest. Only the contracts of
        :data:`TREASURY_CONTRACTS` are kept.

    Raises
    ------
    SourceError
        The file is not in the official layout (a required column missing, a date or a
        number unreadable, a futures-and-options row); the message names file and column.

    Examples
    --------
    >>> from calibration.sources import raw_path
    >>> tff = load_cftc_tff(raw_path("cftc_tff/FinFut20_treasury.txt"))
    >>> row = tff[(tff.series == "tff_043602_lev_money_short")]
    >>> int(row[row.date.astype(str) == "2020-02-25"].value.iloc[0])
    1162678
    """
    name, text = read_text(path, "CFTC TFF")
    reader = csv.DictReader(io.StringIO(text))
    header = [c.strip() for c in (reader.fieldnames or [])]
    required = (*_TEXT_KEYS, *_TEXT_POSITIONS.values())
    require_columns(name, header, required, _TEXT_LAYOUT)
    rows = []
    for row in reader:
        row = {k.strip(): v for k, v in row.items() if k is not None}
        if row.get("FutOnly_or_Combined", "FutOnly").strip() not in {"FutOnly", ""}:
            raise SourceError(
                f"{name}: column 'FutOnly_or_Combined' is {row['FutOnly_or_Combined']!r}; "
                f"expected 'FutOnly' (the futures-only report)"
            )
        rows.append(row)
    fields = {"open_interest": ("Open_Interest_All",)}
    fields |= {f"{c}_{s}": (col,) for (c, s), col in _TEXT_POSITIONS.items()}
    fields |= {k: (v,) for k, v in _TEXT_CONC.items() if v in header}

    def date_of(row: dict):
        return parse_date(row["Report_Date_as_YYYY-MM-DD"], name, "Report_Date_as_YYYY-MM-DD",
                          "%Y-%m-%d")  # fmt: skip

    def code_of(row: dict) -> str:
        return row["CFTC_Contract_Market_Code"].strip()

    return tidy(_records(name, rows, fields, date_of, code_of), name)


def load_cftc_tff_socrata(path: str | Path) -> pd.DataFrame:
    """Treasury-futures rows of a public-reporting (Socrata) TFF export, JSON or CSV, tidy.

    Same output as :func:`load_cftc_tff`. The report date is the
    ``report_date_as_yyyy_mm_dd`` field (``2020-02-25T00:00:00.000`` or ``2020-02-25``).

    Examples
    --------
    >>> import io, json
    >>> rows = [{"report_date_as_yyyy_mm_dd": "2020-02-25T00:00:00.000",
    ...          "cftc_contract_market_code": "042601", "open_interest_all": "10",
    ...          "lev_money_positions_short": "4"}]
    >>> p = __import__("pathlib").Path(__import__("tempfile").mkdtemp()) / "tff.json"
    >>> _ = p.write_text(json.dumps(rows))
    >>> load_cftc_tff_socrata(p).set_index("series")["value"].to_dict()
    {'tff_042601_lev_money_short': 4.0, 'tff_042601_open_interest': 10.0}
    """
    name, text = read_text(path, "CFTC TFF (public reporting)")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SourceError(f"{name}: not valid JSON ({exc})") from exc
        if not all(isinstance(r, dict) for r in rows):
            raise SourceError(f"{name}: expected a JSON array of records ({_SOCRATA_LAYOUT})")
        header = sorted({k for r in rows for k in r})
    else:
        reader = csv.DictReader(io.StringIO(text))
        header = [c.strip() for c in (reader.fieldnames or [])]
        rows = [{k.strip(): v for k, v in r.items() if k is not None} for r in reader]
    require_columns(name, header, _SOCRATA_KEYS, _SOCRATA_LAYOUT)
    fields = {"open_interest": ("open_interest_all",)}
    for cat in TFF_CATEGORIES:
        for side in ("long", "short", "spread"):
            fields[f"{cat}_{side}"] = _socrata_field(cat, side)
    if not any(c in header for cols in list(fields.values())[1:] for c in cols):
        raise SourceError(
            f"{name}: no position column (e.g. 'lev_money_positions_short') found; "
            f"expected the {_SOCRATA_LAYOUT}"
        )

    def date_of(row: dict):
        text = str(row["report_date_as_yyyy_mm_dd"])[:10]
        return parse_date(text, name, "report_date_as_yyyy_mm_dd", "%Y-%m-%d")

    def code_of(row: dict) -> str:
        return str(row["cftc_contract_market_code"]).strip()

    return tidy(_records(name, rows, fields, date_of, code_of), name)


def treasury_face_value_usd_bn(tff: pd.DataFrame) -> pd.DataFrame:
    """Positions by model bucket in USD bn of face value, from a tidy TFF frame.

    Returns one row per (date, bucket, category, side) with ``value_usd_bn`` and the
    contracts it sums (``contracts``: e.g. ``"TY+UXY"``). Concentration ratios are left out
    (a ratio of two contracts cannot be added).

    Examples
    --------
    >>> from calibration.sources import raw_path
    >>> tff = load_cftc_tff(raw_path("cftc_tff/FinFut20_treasury.txt"))
    >>> face = treasury_face_value_usd_bn(tff)
    >>> sel = face[(face.bucket == "10y") & (face.category == "lev_money")
    ...            & (face.side == "short") & (face.date.astype(str) == "2020-02-25")]
    >>> round(float(sel.value_usd_bn.iloc[0]), 3)
    137.292
    """
    parts = tff["series"].str.extract(r"^tff_(\d{6})_(.+)$")
    frame = tff.assign(code=parts[0], rest=parts[1])
    frame = frame[frame["unit"] == "contracts"].copy()
    meta = frame["code"].map(TREASURY_CONTRACTS)
    frame["ticker"] = meta.str[0]
    frame["bucket"] = meta.str[1]
    frame["value_usd_bn"] = frame["value"] * meta.str[2] / 1e9
    split = frame["rest"].str.rsplit("_", n=1)
    is_oi = frame["rest"] == "open_interest"
    frame["category"] = split.str[0].where(~is_oi, "all")
    frame["side"] = split.str[1].where(~is_oi, "open_interest")
    out = (
        frame.groupby(["date", "bucket", "category", "side"], sort=True)
        .agg(value_usd_bn=("value_usd_bn", "sum"), contracts=("ticker", "+".join))
        .reset_index()
    )
    return out
