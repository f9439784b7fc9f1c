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
* :func:`fr2004_to_model_buckets` maps the FR 2004 nominal-coupon maturity buckets
  (``PDPOSGSC-<bucket>``) to the model's remaining-maturity buckets.
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
    "FR2004_COUPON_BUCKETS",
    "FR2004_SHARE_BELOW_15Y",
    "fr2004_to_model_buckets",
    "load_fr2004_csv",
    "load_fr2004_json",
    "load_nyfed_reference_rates",
]

#: FR 2004 nominal-coupon buckets (``PDPOSGSC-<bucket>``, years of remaining maturity) and
#: the model bucket each lies in. The 11-21y bucket (from 2022) and the >11y bucket (to
#: 2021) straddle the model's 15y edge between ``10y`` and ``30y``
#: (:data:`FR2004_SHARE_BELOW_15Y`).
FR2004_COUPON_BUCKETS = {
    "L2": "2y",  # <= 2y
    "G2L3": "2y",  # (2, 3]
    "G3L6": "5y",  # (3, 6]
    "G6L7": "5y",  # (6, 7]
    "G7L11": "10y",  # (7, 11]
    "G11L21": None,  # (11, 21]: split (FR2004_SHARE_BELOW_15Y)
    "G21": "30y",  # > 21y
    "G11": None,  # > 11y, reported until 2021 instead of G11L21 and G21: split
}
#: Assumption (uniform maturity): the share of a straddling FR 2004 bucket's net position
#: that lies at or below 15 years (model bucket ``10y``; the rest goes to ``30y``) is the
#: share of its remaining-maturity range below 15 years: 11-21y -> 4/10; >11y (to 2021,
#: maturities up to 30 years) -> 4/19. Not published: FR 2004 has no 15y edge.
FR2004_SHARE_BELOW_15Y = {"G11L21": 4 / 10, "G11": 4 / 19}

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


def fr2004_to_model_buckets(positions: dict[str, float]) -> dict[str, float]:
    """Dealers' FR 2004 coupon positions by FR 2004 bucket -> the model's buckets.

    ``positions`` maps bucket names of :data:`FR2004_COUPON_BUCKETS` (``L2``, ``G2L3``,
    ``G3L6``, ``G6L7``, ``G7L11`` and either ``G11L21`` and ``G21`` or, before 2022,
    ``G11``) to amounts in any one unit; the result maps ``2y``, ``5y``, ``10y``, ``30y``
    to amounts in that unit and adds up to the input. ``2y`` = L2 + G2L3, ``5y`` = G3L6 +
    G6L7, ``10y`` = G7L11 + the share :data:`FR2004_SHARE_BELOW_15Y` of the straddling
    bucket, ``30y`` = G21 + the rest of it (an assumption: positions uniform in maturity).

    Examples
    --------
    >>> fr2004_to_model_buckets({"L2": 10.0, "G2L3": 5.0, "G3L6": 20.0, "G6L7": 4.0,
    ...                          "G7L11": 3.0, "G11L21": 10.0, "G21": 8.0})
    {'2y': 15.0, '5y': 24.0, '10y': 7.0, '30y': 14.0}
    """
    unknown = set(positions) - set(FR2004_COUPON_BUCKETS)
    if unknown:
        raise ValueError(
            f"unknown FR 2004 coupon buckets {sorted(unknown)}; "
            f"expected {sorted(FR2004_COUPON_BUCKETS)}"
        )
    new, old = {"G11L21", "G21"}, {"G11"}
    above = set(positions) & (new | old)
    if above not in (new, old):
        raise ValueError(
            f"FR 2004 coupons above 11y must be G11L21 and G21 (from 2022) or G11 (to 2021), "
            f"got {sorted(above)}"
        )
    missing = {"L2", "G2L3", "G3L6", "G6L7", "G7L11"} - set(positions)
    if missing:
        raise ValueError(f"FR 2004 coupon buckets missing: {sorted(missing)}")
    out = dict.fromkeys(("2y", "5y", "10y", "30y"), 0.0)
    for key, amount in positions.items():
        bucket = FR2004_COUPON_BUCKETS[key]
        if bucket is None:
            below = FR2004_SHARE_BELOW_15Y[key] * amount
            out["10y"] += below
            out["30y"] += amount - below
        else:
            out[bucket] += amount
    return out
