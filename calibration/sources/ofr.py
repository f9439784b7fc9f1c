"""Office of Financial Research monitors: Hedge Fund Monitor and Short-term Funding Monitor.

Both monitors are served by the OFR data API (``data.financialresearch.gov/v1``); a series
is named by a *mnemonic* (``REPO-TRI_TV_TOT-P``: tri-party repo volume, preliminary;
Hedge Fund Monitor mnemonics start ``FPF-``, Form PF aggregates). Two layouts are read:

* ``/v1/series/timeseries?mnemonic=...``: a bare JSON array ``[[date, value], ...]``
  (the file does not name its series, so the caller gives the mnemonic);
* the CSV the monitors' download button and ``/v1/series/...&format=csv``-style exports
  give: a ``date`` column and one column per mnemonic.

Units differ by series (USD, percent, ratio); the caller states them (default
``"OFR units"``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pandas as pd

from calibration.sources._base import SourceError, parse_date, parse_number, read_text, tidy

__all__ = ["load_ofr_csv", "load_ofr_timeseries"]

_MNEMONIC = re.compile(r"^[A-Z0-9][A-Z0-9_\-]*$")
_CSV_LAYOUT = "OFR monitor CSV layout (date, then one column per mnemonic)"


def load_ofr_timeseries(path: str | Path, mnemonic: str, unit: str = "OFR units") -> pd.DataFrame:
    """One OFR API series (``[[date, value], ...]`` JSON), tidy.

    Examples
    --------
    >>> import io
    >>> doc = '[["2020-02-28", 1.5e12], ["2020-03-02", null]]'
    >>> load_ofr_timeseries(io.StringIO(doc), "REPO-TRI_TV_TOT-P", "USD").value.tolist()
    [1500000000000.0]
    """
    name, text = read_text(path, "OFR API")
    if not _MNEMONIC.match(mnemonic):
        raise SourceError(f"{name}: {mnemonic!r} is not an OFR mnemonic")
    try:
        pairs = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{name}: not valid JSON ({exc})") from exc
    if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
        raise SourceError(
            f"{name}: expected the OFR API timeseries layout [[date, value], ...] for {mnemonic}"
        )
    records = []
    for d, v in pairs:
        date = parse_date(d, name, "date", "%Y-%m-%d")
        records.append((mnemonic, date, parse_number(v, name, mnemonic, str(d)), unit))
    return tidy(records, name)


def load_ofr_csv(path: str | Path, units: dict[str, str] | str | None = None) -> pd.DataFrame:
    """An OFR monitor CSV (``date,<MNEMONIC>,...``), tidy.

    Examples
    --------
    >>> import io
    >>> text = "date,FPF-ALLQHF_REPO_SUM\\n2020-03-31,1.4e12\\n"
    >>> load_ofr_csv(io.StringIO(text), "USD")[["series", "value"]].values.tolist()
    [['FPF-ALLQHF_REPO_SUM', 1400000000000.0]]
    """
    name, text = read_text(path, "OFR monitor CSV")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or rows[0][0].strip().lower() != "date":
        first = rows[0][0] if rows and rows[0] else ""
        raise SourceError(f"{name}: column {first!r} should be 'date'; expected the {_CSV_LAYOUT}")
    header = [c.strip() for c in rows[0]]
    for col in header[1:]:
        if not _MNEMONIC.match(col):
            raise SourceError(f"{name}: column {col!r} is not an OFR mnemonic; {_CSV_LAYOUT}")
    if isinstance(units, str):
        units = dict.fromkeys(header[1:], units)
    units = units or {}
    records = []
    for i, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) != len(header):
            raise SourceError(f"{name}: row {i} has {len(row)} fields, header has {len(header)}")
        date = parse_date(row[0], name, "date", "%Y-%m-%d")
        for col, cell in zip(header[1:], row[1:], strict=True):
            records.append((col, date, parse_number(cell, name, col, str(i)),
                            units.get(col, "OFR units")))  # fmt: skip
    return tidy(records, name)
