"""Federal Reserve Board Data Download Program (DDP) CSV, e.g. the H.4.1 release.

Layout (``FRB_H41.csv`` from ``federalreserve.gov/datadownload``): five or six header rows
with a label in the first column and one cell per series, then one row per date::

    "Series Description", <description>, ...
    "Unit:", "Currency", ...
    "Multiplier:", "1000000", ...
    "Currency:", "USD", ...
    "Unique Identifier: ", "H41/H41/RESPPAG_N.WW", ...
    "Time Period", "RESPPAG_N.WW", ...
    2016-02-03, 11037, ...

Tidy series: the code of the ``Time Period`` row (``WRESBAL`` is ``WRESBAL`` on FRED but
``RESPPLLOPNWW_N.WW``-style codes here). Currency series are converted to USD mn with the
multiplier (``value x multiplier / 1e6``); other units keep the DDP unit name.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from calibration.sources._base import SourceError, parse_date, parse_number, read_text, tidy

__all__ = ["load_fed_ddp"]

_LAYOUT = (
    "Federal Reserve Data Download Program CSV layout (rows 'Series Description', 'Unit:', "
    "'Multiplier:', 'Currency:', 'Unique Identifier:', 'Time Period', then dated rows)"
)
_META = ("Series Description", "Unit:", "Multiplier:", "Currency:", "Unique Identifier:")


def load_fed_ddp(path: str | Path) -> pd.DataFrame:
    """Observations of a Fed Board DDP CSV (H.4.1, H.15, Z.1 ...), tidy.

    Examples
    --------
    >>> import io
    >>> text = ('"Series Description","Reserve balances: Wednesday level"\\n'
    ...         '"Unit:","Currency"\\n"Multiplier:","1000000"\\n"Currency:","USD"\\n'
    ...         '"Unique Identifier: ","H41/H41/WRESBAL_N.WW"\\n"Time Period","WRESBAL_N.WW"\\n'
    ...         '2020-02-26,1701234\\n')
    >>> load_fed_ddp(io.StringIO(text))[["series", "value", "unit"]].values.tolist()
    [['WRESBAL_N.WW', 1701234.0, 'USD mn']]
    """
    name, text = read_text(path, "Fed DDP")
    rows = list(csv.reader(io.StringIO(text)))
    labels = {}
    start = None
    for i, row in enumerate(rows):
        if not row:
            continue
        label = row[0].strip()
        if label == "Time Period":
            labels["Time Period"] = row
            start = i + 1
            break
        labels[label] = row
    missing = [m for m in (*_META[:3], "Time Period") if m not in labels]
    if start is None or missing:
        raise SourceError(f"{name}: row {missing[0] if missing else 'Time Period'!r} not found; "
                          f"expected the {_LAYOUT}")  # fmt: skip
    codes = [c.strip() for c in labels["Time Period"][1:]]
    units = [u.strip() for u in labels["Unit:"][1:]]
    mults = [parse_number(m, name, "Multiplier:", "header") for m in labels["Multiplier:"][1:]]
    if not (len(codes) == len(units) == len(mults)):
        raise SourceError(f"{name}: header rows have different numbers of series; {_LAYOUT}")
    records = []
    for i, row in enumerate(rows[start:], start=start + 1):
        if not row or not "".join(row).strip():
            continue
        if len(row) != len(codes) + 1:
            raise SourceError(f"{name}: row {i} has {len(row)} fields, expected {len(codes) + 1}")
        date = parse_date(row[0], name, "Time Period", "%Y-%m-%d")
        for code, unit, mult, cell in zip(codes, units, mults, row[1:], strict=True):
            value = parse_number(cell, name, code, str(i))
            if unit == "Currency":
                records.append((code, date, value * mult / 1e6, "USD mn"))
            else:
                records.append((code, date, value * (mult if mult == mult else 1.0), unit))
    return tidy(records, name)
