"""Shared pieces of the official-format loaders: the tidy layout and the layout errors.

Every loader returns a *tidy* frame, one row per observation, with the columns of
:data:`TIDY_COLUMNS`:

``series``  the publisher's series id (``DGS10``, ``SOFR``, ``tff_043602_lev_money_short``)
``date``    observation date (``datetime.date``)
``value``   float, in ``unit``
``unit``    the publisher's unit (``pct``, ``USD mn``, ``USD bn``, ``contracts``, ``index``)
``source``  the file the row was read from

A file whose layout is not the official one raises :class:`SourceError` naming the file,
the column and the expected layout. Missing observations (FRED's ``.`` or an empty cell)
are dropped, never read as zero.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from calibration.snapshot import SnapshotError

__all__ = ["TIDY_COLUMNS", "SourceError", "read_text", "require_columns", "tidy"]

TIDY_COLUMNS = ("series", "date", "value", "unit", "source")


class SourceError(SnapshotError):
    """A public-data file is missing, unreadable or not in its official layout."""


def read_text(path: str | Path | io.StringIO, what: str) -> tuple[str, str]:
    """``(name, text)`` of a file; a :class:`SourceError` if it cannot be read as UTF-8."""
    if isinstance(path, io.StringIO):
        return "<memory>", path.getvalue()
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise SourceError(f"{name}: cannot read {what} file ({exc})") from exc
    try:
        return name, raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{name}: not a UTF-8 text file ({exc})") from exc


def require_columns(
    name: str, columns: Sequence[str], required: Iterable[str], layout: str
) -> None:
    """Raise a :class:`SourceError` naming the first missing column and the expected layout."""
    have = {str(c).strip() for c in columns}
    for col in required:
        if col not in have:
            raise SourceError(
                f"{name}: column {col!r} not found; expected the {layout} "
                f"(columns include {list(required)}); got {list(columns)[:8]}"
                + ("..." if len(columns) > 8 else "")
            )


def parse_number(text: object, name: str, column: str, row: str) -> float:
    """Float of one cell; NaN for the publishers' missing markers (``.``, empty, ``ND``)."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return math.nan
    s = str(text).strip().replace(",", "")
    if s in {"", ".", "ND", "NA", "NaN", "nan", "n.a.", "*"}:
        return math.nan
    try:
        return float(s)
    except ValueError:
        raise SourceError(f"{name}: row {row}, column {column!r}: not a number: {text!r}") from None


def parse_date(text: object, name: str, column: str, fmt: str) -> dt.date:
    """Date of one cell in format ``fmt`` (strptime); a :class:`SourceError` otherwise."""
    s = str(text).strip()
    try:
        return dt.datetime.strptime(s, fmt).date()
    except ValueError:
        raise SourceError(
            f"{name}: column {column!r}: {s!r} is not a date in the official format {fmt!r}"
        ) from None


def tidy(records: list[tuple[str, dt.date, float, str]], source: str) -> pd.DataFrame:
    """Tidy frame from ``(series, date, value, unit)`` records; NaN values are dropped."""
    frame = pd.DataFrame(records, columns=list(TIDY_COLUMNS[:4]))
    frame["source"] = source
    frame = frame[frame["value"].notna()]
    return frame.sort_values(["series", "date"], kind="stable").reset_index(drop=True)
