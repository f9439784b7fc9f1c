"""Federal Reserve Bank of New York: reference rates and FR 2004 primary-dealer statistics.

* Reference rates (SOFR, TGCR, BGCR, EFFR, OBFR), the CSV of the Markets Data API
  (``markets.newyorkfed.org/api/rates/.../search.csv``) and of the rate pages' download:
  ``Effective Date,Rate Type,Rate (%),1st Percentile (%),25th Percentile (%),75th Percentile
  (%),99th Percentile (%),Volume ($Billions),...``, dates ``MM/DD/YYYY``. Tidy series:
  the rate type (``SOFR``) in percent, ``<TYPE>_p1`` ... ``_p99`` percentiles and
  ``<TYPE>_volume`` in USD bn.
* FR 2004 primary-dealer statistics, the CSV of the Markets Data API
  (``markets.newyorkfed.org/api/pd/get/<keyid>.csv``): ``As Of Date,Time Series,Value
  (millions)`` with an optional ``Series Break`` column, ISO dates; and the same API's
  JSON (``{"pd": {"timeseries": [{"asofdate", "keyid", "value"}]}}``). Tidy series: the
  key id (``PDPOSGST-TOT``, dealers' net positions in Treasuries excluding TIPS) in USD mn.
  Suppressed cells (``*``) are dropped.
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

__all__ = ["load_fr2004_csv", "load_fr2004_json", "load_nyfed_reference_rates"]

_RATES_LAYOUT = "NY Fed reference-rate CSV layout (Effective Date, Rate Type, Rate (%), ...)"
_RATE_EXTRAS = {
    "1st Percentile (%)": ("_p1", "pct"),
    "25th Percentile (%)": ("_p25", "pct"),
    "75th Percentile (%)": ("_p75", "pct"),
    "99th Percentile (%)": ("_p99", "pct"),
    "Volume ($Billions)": ("_volume", "USD bn"),
}
_PD_LAYOUT = "NY Fed FR 2004 CSV layout (As Of Date, Time Series, Value (millions))"
_RATE_TYPES = {"SOFR", "TGCR", "BGCR", "EFFR", "OBFR", "SOFRAI"}


def _csv_rows(path: str | Path, what: str) -> tuple[str, list[str], list[dict]]:
    name, text = read_text(path, what)
    reader = csv.DictReader(io.StringIO(text))
    header = [c.strip() for c in (reader.fieldnames or [])]
    rows = [{(k or "").strip(): v for k, v in r.items()} for r in reader]
    return name, header, rows


def load_nyfed_reference_rates(path: str | Path) -> pd.DataFrame:
    """Rates, percentiles and volumes of a NY Fed reference-rate CSV, tidy.

    Examples
    --------
    >>> import io
    >>> text = ("Effective Date,Rate Type,Rate (%),Volume ($Billions)\\n"
    ...         "09/17/2019,SOFR,5.25,1280\\n")
    >>> load_nyfed_reference_rates(io.StringIO(text))[["series", "value", "unit"]].values.tolist()
    [['SOFR', 5.25, 'pct'], ['SOFR_volume', 1280.0, 'USD bn']]
    """
    name, header, rows = _csv_rows(path, "NY Fed reference rate")
    require_columns(name, header, ("Effective Date", "Rate Type", "Rate (%)"), _RATES_LAYOUT)
    records = []
    for i, row in enumerate(rows, start=2):
        kind = (row.get("Rate Type") or "").strip()
        if kind not in _RATE_TYPES:
            raise SourceError(
                f"{name}: row {i}, column 'Rate Type': {kind!r} is not one of {sorted(_RATE_TYPES)}"
            )
        date = parse_date(row["Effective Date"], name, "Effective Date", "%m/%d/%Y")
        records.append((kind, date, parse_number(row["Rate (%)"], name, "Rate (%)", str(i)), "pct"))
        for col, (suffix, unit) in _RATE_EXTRAS.items():
            if col in row:
                value = parse_number(row[col], name, col, str(i))
                records.append((kind + suffix, date, value, unit))
    return tidy(records, name)


def load_fr2004_csv(path: str | Path) -> pd.DataFrame:
    """FR 2004 primary-dealer series of a NY Fed Markets API CSV, tidy (USD mn).

    Examples
    --------
    >>> import io
    >>> text = "As Of Date,Time Series,Value (millions)\\n2020-02-26,PDPOSGST-TOT,*\\n"
    >>> len(load_fr2004_csv(io.StringIO(text)))  # suppressed cells are dropped
    0
    """
    name, header, rows = _csv_rows(path, "FR 2004")
    require_columns(name, header, ("As Of Date", "Time Series", "Value (millions)"), _PD_LAYOUT)
    records = []
    for i, row in enumerate(rows, start=2):
        date = parse_date(row["As Of Date"], name, "As Of Date", "%Y-%m-%d")
        value = parse_number(row["Value (millions)"], name, "Value (millions)", str(i))
        records.append((row["Time Series"].strip(), date, value, "USD mn"))
    return tidy(records, name)


def load_fr2004_json(path: str | Path) -> pd.DataFrame:
    """FR 2004 series of a NY Fed Markets API JSON (``{"pd": {"timeseries": [...]}}``), tidy.

    Examples
    --------
    >>> import io
    >>> doc = '{"pd": {"timeseries": [{"asofdate": "2020-02-26", "keyid": "PDPOSGST-TOT", '
    >>> doc += '"value": "123"}]}}'
    >>> float(load_fr2004_json(io.StringIO(doc)).value.iloc[0])
    123.0
    """
    name, text = read_text(path, "FR 2004 JSON")
    try:
        doc = json.loads(text)
        series = doc["pd"]["timeseries"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SourceError(
            f"{name}: field 'pd.timeseries' not found ({exc!r}); expected the NY Fed Markets "
            "API primary-dealer JSON layout {'pd': {'timeseries': [{asofdate, keyid, value}]}}"
        ) from None
    records = []
    for i, rec in enumerate(series):
        for key in ("asofdate", "keyid", "value"):
            if key not in rec:
                raise SourceError(f"{name}: record {i}: field {key!r} missing")
        date = parse_date(rec["asofdate"], name, "asofdate", "%Y-%m-%d")
        value = parse_number(rec["value"], name, "value", str(i))
        records.append((str(rec["keyid"]).strip(), date, value, "USD mn"))
    return tidy(records, name)
