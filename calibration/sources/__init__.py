"""Loaders for official public-data formats, the shipped raw extracts and their provenance.

One small function per official format, each returning *tidy* rows (``series, date,
value, unit, source``; :data:`TIDY_COLUMNS`) and rejecting a file whose layout is not the
official one with a :class:`SourceError` naming the file, the column and the layout:

============================  =========================================================
:func:`load_cftc_tff`         CFTC Traders in Financial Futures, futures-only text file
:func:`load_cftc_tff_socrata` the same report from the CFTC public-reporting (Socrata) API
:func:`load_fred_csv`         FRED CSV download (``observation_date``/``DATE`` + series)
:func:`load_alfred_csv`       ALFRED vintage download (``<SERIES>_<YYYYMMDD>`` columns)
:func:`load_nyfed_reference_rates`  NY Fed SOFR/TGCR/BGCR/EFFR/OBFR CSV
:func:`load_fr2004_csv`       NY Fed FR 2004 primary-dealer statistics (CSV; also JSON)
:func:`fr2004_to_model_buckets`  FR 2004 coupon maturity buckets -> the model's buckets
:func:`load_fed_ddp`          Fed Board Data Download Program CSV (H.4.1, H.15, Z.1)
:func:`load_ofr_csv`          OFR Hedge Fund / Short-term Funding Monitor CSV (also API JSON)
:func:`load_mspd_summary`     Treasury MSPD Table 1 (Fiscal Data CSV)
:func:`mspd_maturity_buckets` Treasury MSPD Table 3: nominal coupons by remaining maturity
============================  =========================================================

The shipped extracts live in ``calibration/data/raw/`` (:func:`raw_path`,
:func:`load_raw`, :func:`verify_provenance`); :func:`calibration.download` fetches the
same files from the publishers.
"""

from __future__ import annotations

from calibration.sources._base import TIDY_COLUMNS, SourceError
from calibration.sources.cftc import (
    TFF_CATEGORIES,
    TREASURY_CONTRACTS,
    load_cftc_tff,
    load_cftc_tff_socrata,
    treasury_face_value_usd_bn,
)
from calibration.sources.fed_board import load_fed_ddp
from calibration.sources.fred import FRED_UNITS, load_alfred_csv, load_fred_csv
from calibration.sources.nyfed import (
    fr2004_to_model_buckets,
    load_fr2004_csv,
    load_fr2004_json,
    load_nyfed_reference_rates,
)
from calibration.sources.ofr import load_ofr_csv, load_ofr_timeseries
from calibration.sources.raw import (
    OUTCOME_SERIES,
    PROVENANCE_COLUMNS,
    WITHHELD_FROM,
    cut_extract,
    load_provenance,
    load_raw,
    raw_path,
    raw_root,
    verify_provenance,
)
from calibration.sources.treasury import load_mspd_summary, mspd_maturity_buckets

__all__ = [
    "FRED_UNITS",
    "OUTCOME_SERIES",
    "PROVENANCE_COLUMNS",
    "TFF_CATEGORIES",
    "TIDY_COLUMNS",
    "TREASURY_CONTRACTS",
    "WITHHELD_FROM",
    "SourceError",
    "cut_extract",
    "fr2004_to_model_buckets",
    "load_alfred_csv",
    "load_cftc_tff",
    "load_cftc_tff_socrata",
    "load_fed_ddp",
    "load_fr2004_csv",
    "load_fr2004_json",
    "load_fred_csv",
    "load_mspd_summary",
    "load_nyfed_reference_rates",
    "load_ofr_csv",
    "load_ofr_timeseries",
    "load_provenance",
    "load_raw",
    "mspd_maturity_buckets",
    "raw_path",
    "raw_root",
    "treasury_face_value_usd_bn",
    "verify_provenance",
]
