"""Treasury Monthly Statement of the Public Debt (MSPD), Fiscal Data CSV downloads.

* Table 1, Summary of Treasury Securities Outstanding (``mspd_table_1``):
  ``Record Date,Security Type Description,Security Class Description,Debt Held by the
  Public (in Millions),Intragovernmental Holdings (in Millions),Total Public Debt
  Outstanding (in Millions),...``. Tidy series ``mspd_<type>_<class>_<measure>`` in USD mn,
  e.g. ``mspd_marketable_total_marketable_total``. The Fiscal Data API's CSV output, which
  uses field names (``record_date``, ``debt_held_public_mil_amt`` ...), is read too.
* Table 3, Detail of Marketable Treasury Securities Outstanding (``mspd_table_3_market``):
  one row per security (``Security Class 2 Description`` is the CUSIP) with ``Maturity
  Date`` and ``Outstanding Amount (in Millions)``. :func:`mspd_maturity_buckets` sums the
  outstanding nominal coupons (class 1 ``Notes`` and ``Bonds``; bills, TIPS and FRNs are
  left out) by remaining maturity ``(maturity - record date) / 365.25`` years into the
  model's buckets ``2y`` (<= 3y), ``5y`` (3-7y], ``10y`` (7-15y], ``30y`` (> 15y).
  Subtotal rows (class 2 not a 9-character CUSIP) are dropped so that nothing is counted
  twice.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd

from calibration.sources._base import (
    parse_date,
    parse_number,
    read_text,
    require_columns,
    tidy,
)

__all__ = ["MATURITY_EDGES_YEARS", "load_mspd_summary", "mspd_maturity_buckets"]

#: Upper edges (years of remaining maturity) of the 2y, 5y and 10y buckets; 30y is above.
MATURITY_EDGES_YEARS = (3.0, 7.0, 15.0)
_SUMMARY_LAYOUT = "Fiscal Data MSPD Table 1 CSV layout"
_SUMMARY_MEASURES = {
    "Debt Held by the Public (in Millions)": "public",
    "Intragovernmental Holdings (in Millions)": "intragov",
    "Total Public Debt Outstanding (in Millions)": "total",
}
#: Fiscal Data API field names of Table 1 (``format=csv`` API output) -> download labels.
_SUMMARY_FIELDS = {
    "record_date": "Record Date",
    "security_type_desc": "Security Type Description",
    "security_class_desc": "Security Class Description",
    "debt_held_public_mil_amt": "Debt Held by the Public (in Millions)",
    "intragov_hold_mil_amt": "Intragovernmental Holdings (in Millions)",
    "total_mil_amt": "Total Public Debt Outstanding (in Millions)",
}
_DETAIL_LAYOUT = "Fiscal Data MSPD Table 3 (marketable detail) CSV layout"
_DETAIL_REQUIRED = (
    "Record Date",
    "Security Class 1 Description",
    "Security Class 2 Description",
    "Maturity Date",
    "Outstanding Amount (in Millions)",
)
_CUSIP = re.compile(r"^[0-9A-Z]{9}$")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")


def _rows(
    path: str | Path, what: str, aliases: dict[str, str] | None = None
) -> tuple[str, list[str], list[dict]]:
    name, text = read_text(path, what)
    reader = csv.DictReader(io.StringIO(text))
    aliases = aliases or {}

    def label(col: str | None) -> str:
        col = (col or "").strip()
        return aliases.get(col, col)

    header = [label(c) for c in (reader.fieldnames or [])]
    return name, header, [{label(k): v for k, v in r.items()} for r in reader]


def load_mspd_summary(path: str | Path) -> pd.DataFrame:
    """MSPD Table 1 (summary by security type and class), tidy, USD mn.

    Examples
    --------
    >>> import io
    >>> text = ("Record Date,Security Type Description,Security Class Description,"
    ...         "Debt Held by the Public (in Millions),Intragovernmental Holdings (in Millions),"
    ...         "Total Public Debt Outstanding (in Millions)\\n"
    ...         "2020-02-29,Marketable,Notes,9800000.5,1000.0,9801000.5\\n")
    >>> load_mspd_summary(io.StringIO(text)).series.str.removeprefix("mspd_marketable_").tolist()
    ['notes_intragov', 'notes_public', 'notes_total']
    """
    name, header, rows = _rows(path, "MSPD summary", _SUMMARY_FIELDS)
    required = ("Record Date", "Security Type Description", "Security Class Description")
    require_columns(name, header, (*required, *_SUMMARY_MEASURES), _SUMMARY_LAYOUT)
    records = []
    for i, row in enumerate(rows, start=2):
        date = parse_date(row["Record Date"], name, "Record Date", "%Y-%m-%d")
        stem = f"mspd_{_slug(row['Security Type Description'])}"
        stem += f"_{_slug(row['Security Class Description'])}"
        for col, measure in _SUMMARY_MEASURES.items():
            value = parse_number(row[col], name, col, str(i))
            records.append((f"{stem}_{measure}", date, value, "USD mn"))
    return tidy(records, name)


def mspd_maturity_buckets(path: str | Path) -> pd.DataFrame:
    """Outstanding nominal notes and bonds by remaining-maturity bucket, tidy (USD mn).

    Series ``mspd_nominal_coupons_<bucket>`` for ``2y``, ``5y``, ``10y``, ``30y`` and
    ``mspd_nominal_coupons_total``; one date per record date in the file.

    Examples
    --------
    >>> import io
    >>> text = ("Record Date,Security Type Description,Security Class 1 Description,"
    ...         "Security Class 2 Description,Maturity Date,Outstanding Amount (in Millions)\\n"
    ...         "2020-02-29,Marketable,Notes,912828XX1,2022-02-28,100\\n"
    ...         "2020-02-29,Marketable,Bonds,912810XX1,2050-02-15,50\\n"
    ...         "2020-02-29,Marketable,Notes,Total Notes,,150\\n")
    >>> mspd_maturity_buckets(io.StringIO(text)).set_index("series")["value"].to_dict()
    {'mspd_nominal_coupons_10y': 0.0, 'mspd_nominal_coupons_2y': 100.0, \
'mspd_nominal_coupons_30y': 50.0, 'mspd_nominal_coupons_5y': 0.0, \
'mspd_nominal_coupons_total': 150.0}
    """
    name, header, rows = _rows(path, "MSPD detail")
    require_columns(name, header, _DETAIL_REQUIRED, _DETAIL_LAYOUT)
    sums: dict = {}
    for i, row in enumerate(rows, start=2):
        if row["Security Class 1 Description"].strip() not in {"Notes", "Bonds"}:
            continue
        if not _CUSIP.match(row["Security Class 2 Description"].strip()):
            continue
        date = parse_date(row["Record Date"], name, "Record Date", "%Y-%m-%d")
        maturity = parse_date(row["Maturity Date"], name, "Maturity Date", "%Y-%m-%d")
        col = "Outstanding Amount (in Millions)"
        amount = parse_number(row[col], name, col, str(i))
        years = (maturity - date).days / 365.25
        bucket = "30y"
        for edge, label in zip(MATURITY_EDGES_YEARS, ("2y", "5y", "10y"), strict=True):
            if years <= edge:
                bucket = label
                break
        per_date = sums.setdefault(date, dict.fromkeys(("2y", "5y", "10y", "30y"), 0.0))
        per_date[bucket] += amount
    records = []
    for date, buckets in sums.items():
        for bucket, value in buckets.items():
            records.append((f"mspd_nominal_coupons_{bucket}", date, value, "USD mn"))
        records.append(("mspd_nominal_coupons_total", date, sum(buckets.values()), "USD mn"))
    return tidy(records, name)
