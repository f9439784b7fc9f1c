"""FRED and ALFRED CSV downloads (Federal Reserve Bank of St. Louis).

* FRED ``fredgraph.csv`` / series download: a date column, ``observation_date`` (current
  exports) or ``DATE`` (older exports), then one column per series id
  (``observation_date,DGS10``). Missing observations are ``.`` or empty and are dropped.
* ALFRED vintage download: ``observation_date`` then one column per vintage,
  ``<SERIES>_<YYYYMMDD>`` (the value as published on that real-time date);
  :func:`load_alfred_csv` adds a ``vintage`` column to the tidy frame.

Units are not in the file; they are the series' FRED units, given by the caller or taken
from :data:`FRED_UNITS` (e.g. ``WRESBAL`` is "Millions of U.S. Dollars" in current
exports but "Billions of U.S. Dollars" in exports made before FRED rescaled it, so a
shipped extract records its unit in ``PROVENANCE.csv``).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd

from calibration.sources._base import SourceError, parse_date, parse_number, read_text, tidy

__all__ = ["FRED_UNITS", "load_alfred_csv", "load_fred_csv"]

#: Units of the FRED series this project reads (as FRED states them today).
FRED_UNITS = {
    "DGS1MO": "pct", "DGS3MO": "pct", "DGS2": "pct", "DGS5": "pct", "DGS10": "pct",
    "DGS30": "pct", "SOFR": "pct", "IORB": "pct", "IOER": "pct", "EFFR": "pct", "DFF": "pct",
    "DFEDTARU": "pct", "DFEDTARL": "pct", "RRPONTSYAWARD": "pct", "RRPONTSYD": "USD bn",
    "WRESBAL": "USD mn", "WALCL": "USD mn", "WTREGEN": "USD mn", "VIXCLS": "index",
}  # fmt: skip

_DATE_COLUMNS = ("observation_date", "DATE")
_SERIES_ID = re.compile(r"^[A-Z0-9][A-Z0-9_]*$")
_VINTAGE = re.compile(r"^(?P<series>[A-Z0-9][A-Z0-9_]*?)_(?P<vintage>\d{8})$")
_LAYOUT = "FRED CSV layout (observation_date or DATE, then one column per series id)"


def _read(path: str | Path) -> tuple[str, list[str], list[list[str]]]:
    name, text = read_text(path, "FRED")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise SourceError(f"{name}: empty file; expected the {_LAYOUT}")
    header = [c.strip() for c in rows[0]]
    if header[0] not in _DATE_COLUMNS:
        raise SourceError(
            f"{name}: column {header[0]!r} is not a FRED date column; expected the {_LAYOUT}"
        )
    if len(header) < 2:
        raise SourceError(f"{name}: no series column; expected the {_LAYOUT}")
    return name, header, rows[1:]


def load_fred_csv(path: str | Path, units: dict[str, str] | str | None = None) -> pd.DataFrame:
    """Observations of a FRED CSV download, tidy.

    Parameters
    ----------
    path : str or Path
        ``observation_date,<SERIES>[,<SERIES>...]`` (or ``DATE,...``), ISO dates.
    units : dict or str, optional
        Unit per series id (or one unit for all); default :data:`FRED_UNITS`, and
        ``"FRED units"`` for a series not listed.

    Examples
    --------
    >>> from calibration.sources import raw_path
    >>> dgs = load_fred_csv(raw_path("fred/DGS10_2019-2025.csv"))
    >>> float(dgs.set_index("date").loc[__import__("datetime").date(2020, 3, 9), "value"])
    0.54
    """
    name, header, rows = _read(path)
    series = header[1:]
    for col in series:
        if not _SERIES_ID.match(col):
            raise SourceError(f"{name}: column {col!r} is not a FRED series id; expected {_LAYOUT}")
    if isinstance(units, str):
        units = dict.fromkeys(series, units)
    units = {**FRED_UNITS, **(units or {})}
    records = []
    for i, row in enumerate(rows, start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) != len(header):
            raise SourceError(f"{name}: row {i} has {len(row)} fields, header has {len(header)}")
        date = parse_date(row[0], name, header[0], "%Y-%m-%d")
        for col, cell in zip(series, row[1:], strict=True):
            value = parse_number(cell, name, col, str(i))
            records.append((col, date, value, units.get(col, "FRED units")))
    return tidy(records, name)


def load_alfred_csv(path: str | Path, units: dict[str, str] | str | None = None) -> pd.DataFrame:
    """Observations of an ALFRED vintage download, tidy with a ``vintage`` column.

    Columns after the date are ``<SERIES>_<YYYYMMDD>``: the series as published on that
    real-time date. ``vintage`` is that date; ``series`` the id without it.

    Examples
    --------
    >>> import io
    >>> text = "observation_date,DGS10_20200302,DGS10_20200303\\n2020-02-28,1.13,1.13\\n"
    >>> load_alfred_csv(io.StringIO(text))[["series", "vintage", "value"]].values.tolist()
    [['DGS10', datetime.date(2020, 3, 2), 1.13], ['DGS10', datetime.date(2020, 3, 3), 1.13]]
    """
    name, header, rows = _read(path)
    parsed = []
    for col in header[1:]:
        match = _VINTAGE.match(col)
        if not match:
            raise SourceError(
                f"{name}: column {col!r} is not an ALFRED vintage column; expected "
                f"'<SERIES>_<YYYYMMDD>' after {header[0]!r}"
            )
        vintage = parse_date(match["vintage"], name, col, "%Y%m%d")
        parsed.append((match["series"], vintage))
    if isinstance(units, str):
        units = {s: units for s, _ in parsed}
    units = {**FRED_UNITS, **(units or {})}
    records, vintages = [], []
    for i, row in enumerate(rows, start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) != len(header):
            raise SourceError(f"{name}: row {i} has {len(row)} fields, header has {len(header)}")
        date = parse_date(row[0], name, header[0], "%Y-%m-%d")
        for (series, vintage), cell in zip(parsed, row[1:], strict=True):
            value = parse_number(cell, name, f"{series}_{vintage:%Y%m%d}", str(i))
            records.append((series, date, value, units.get(series, "FRED units")))
            vintages.append(vintage)
    frame = pd.DataFrame(records, columns=["series", "date", "value", "unit"])
    frame["source"] = name
    frame["vintage"] = vintages
    frame = frame[frame["value"].notna()]
    return frame.sort_values(["series", "vintage", "date"], kind="stable").reset_index(drop=True)
