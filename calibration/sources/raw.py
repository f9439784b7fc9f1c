"""Shipped raw extracts of official files and their provenance record.

``calibration/data/raw/<source>/<file>`` holds *small extracts* of official files: the
publisher's own header and only the rows this project needs (Treasury contracts, the
dates around each vintage and episode), byte for byte as in the file they were cut from.
``calibration/data/raw/PROVENANCE.csv`` has one row per extract (:data:`PROVENANCE_COLUMNS`):
the official URL, the public mirror it was taken from (repository, commit, path), the
retrieval date, the sha256 of the mirrored original and of the extract, the filter applied
(``windows``: ``start:end`` date ranges, ISO, inclusive) and a licence note.

:func:`verify_provenance` checks that every file under ``raw/`` is listed, every listed
file exists and its sha256 matches. :func:`cut_extract` applies a row's filter to an
original file, so the same extract can be cut from a fresh download
(:func:`calibration.download`).

Out-of-sample rule: for April 2025 (from 2025-04-01) and late-2025 funding (from
2025-09-01) the extracts hold *inputs* only (policy rates, reserves, ON RRP balances, the
Fed's balance sheet, volatility, positions dated before the episode). Outcome series
(Treasury yields, SOFR and other repo rates, EFFR) stop on 2025-03-31; the check is
:data:`OUTCOME_SERIES` / :data:`WITHHELD_FROM`, enforced by :func:`verify_provenance`.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from importlib import resources
from pathlib import Path

import pandas as pd

from calibration.sources._base import SourceError
from calibration.sources.cftc import TREASURY_CONTRACTS, load_cftc_tff
from calibration.sources.fred import load_fred_csv

__all__ = [
    "OUTCOME_SERIES",
    "PROVENANCE_COLUMNS",
    "WITHHELD_FROM",
    "cut_extract",
    "load_provenance",
    "load_raw",
    "raw_path",
    "raw_root",
    "sha256_bytes",
    "verify_provenance",
]

PROVENANCE_COLUMNS = (
    "file", "format", "series", "unit", "windows", "official_url", "mirror_repo",
    "mirror_commit", "mirror_path", "retrieved", "sha256_original", "sha256_extract",
    "filter", "licence",
)  # fmt: skip
FORMATS = frozenset({"cftc_tff", "fred"})
_REQUIRED = (
    "unit", "official_url", "mirror_repo", "mirror_commit", "mirror_path", "retrieved",
    "sha256_original", "sha256_extract", "filter", "licence",
)  # fmt: skip
#: Series whose values after :data:`WITHHELD_FROM` are validation outcomes, never shipped.
OUTCOME_SERIES = frozenset({"DGS2", "DGS5", "DGS10", "DGS30", "SOFR", "EFFR", "DFF", "TGCR"})
WITHHELD_FROM = dt.date(2025, 4, 1)


def raw_root() -> Path:
    """Folder of the shipped raw extracts (``calibration/data/raw``)."""
    return Path(str(resources.files("calibration") / "data" / "raw"))


def raw_path(file: str) -> Path:
    """Path of one shipped extract, e.g. ``raw_path("fred/DGS10_2019-2025.csv")``."""
    return raw_root() / file


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _windows(text: str, where: str) -> list[tuple[dt.date, dt.date]]:
    out = []
    for part in text.split(";"):
        try:
            start, end = (dt.date.fromisoformat(x) for x in part.split(":"))
        except ValueError:
            raise SourceError(
                f"{where}: field 'windows': {part!r} is not 'YYYY-MM-DD:YYYY-MM-DD'"
            ) from None
        if end < start:
            raise SourceError(f"{where}: field 'windows': {part!r} ends before it starts")
        out.append((start, end))
    return out


def load_provenance(path: str | Path | None = None) -> pd.DataFrame:
    """The provenance table (every column a string), validated for layout."""
    path = Path(path) if path is not None else raw_root() / "PROVENANCE.csv"
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError) as exc:
        raise SourceError(f"{path}: cannot read provenance ({exc})") from exc
    if tuple(frame.columns) != PROVENANCE_COLUMNS:
        raise SourceError(f"{path}: columns must be {list(PROVENANCE_COLUMNS)}")
    for rec in frame.to_dict("records"):
        where = f"{path}: row {rec['file']!r}"
        if rec["format"] not in FORMATS:
            fmt = rec["format"]
            raise SourceError(f"{where}: field 'format': {fmt!r} not in {sorted(FORMATS)}")
        for field in _REQUIRED:
            if not rec[field]:
                raise SourceError(f"{where}: field {field!r} is empty")
        _windows(rec["windows"], where)
        dt.date.fromisoformat(rec["retrieved"])
    dups = frame.loc[frame["file"].duplicated(), "file"]
    if len(dups):
        raise SourceError(f"{path}: row {dups.iloc[0]!r}: duplicate file")
    return frame


def cut_extract(fmt: str, original: bytes, windows: str) -> bytes:
    """The extract of an official file: its header and the rows inside ``windows``.

    ``fmt`` is ``"cftc_tff"`` (rows of the Treasury contracts of
    :data:`~calibration.sources.cftc.TREASURY_CONTRACTS` whose report date is in a window)
    or ``"fred"`` (rows whose observation date is in a window). Kept lines are copied byte
    for byte, so the extract of a file is reproducible from it.

    Examples
    --------
    >>> text = b"observation_date,DGS10\\n2019-12-31,1.92\\n2020-03-09,0.54\\n"
    >>> cut_extract("fred", text, "2020-01-01:2020-04-30")
    b'observation_date,DGS10\\n2020-03-09,0.54\\n'
    """
    spans = _windows(windows, "cut_extract")
    lines = original.decode("utf-8-sig").splitlines(keepends=True)
    if not lines:
        raise SourceError("cut_extract: empty original file")
    kept = [lines[0]]
    for line in lines[1:]:
        if not line.strip():
            continue
        fields = next(csv.reader(io.StringIO(line)))
        if fmt == "cftc_tff":
            if fields[3].strip() not in TREASURY_CONTRACTS:
                continue
            date = dt.date.fromisoformat(fields[2].strip())
        elif fmt == "fred":
            date = dt.date.fromisoformat(fields[0].strip())
        else:
            raise SourceError(f"cut_extract: unknown format {fmt!r}")
        if any(start <= date <= end for start, end in spans):
            kept.append(line)
    return "".join(kept).encode("utf-8")


def verify_provenance(root: str | Path | None = None) -> pd.DataFrame:
    """Check the raw folder against its provenance record; return the record.

    Raises :class:`SourceError` if a file under ``raw/`` (other than ``PROVENANCE.csv``,
    ``README.md`` and ``COMPARISON.md``) is not listed, a listed file is missing, its sha256
    differs from ``sha256_extract``, or an outcome series holds a value in a withheld window.
    """
    root = Path(root) if root is not None else raw_root()
    prov = load_provenance(root / "PROVENANCE.csv")
    listed = set(prov["file"])
    skip = {"PROVENANCE.csv", "README.md", "COMPARISON.md"}
    present = {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.name not in skip and "__pycache__" not in p.parts
    }
    for file in sorted(present - listed):
        raise SourceError(f"{root / file}: not listed in {root / 'PROVENANCE.csv'}")
    for rec in prov.to_dict("records"):
        path = root / rec["file"]
        if not path.is_file():
            raise SourceError(f"{root / 'PROVENANCE.csv'}: row {rec['file']!r}: file not found")
        digest = sha256_bytes(path.read_bytes())
        if digest != rec["sha256_extract"]:
            raise SourceError(
                f"{path}: sha256 {digest} differs from the provenance record "
                f"{rec['sha256_extract']}"
            )
        if rec["series"] in OUTCOME_SERIES:
            for _start, end in _windows(rec["windows"], str(path)):
                if end >= WITHHELD_FROM:
                    raise SourceError(
                        f"{path}: outcome series {rec['series']} extends to {end}, into the "
                        f"out-of-sample windows (withheld from {WITHHELD_FROM})"
                    )
    return prov


def load_raw(file: str, root: str | Path | None = None) -> pd.DataFrame:
    """Tidy rows of one shipped extract, read with its format's loader and unit.

    ``source`` is set to ``raw/<file>``.

    Examples
    --------
    >>> rows = load_raw("fred/WRESBAL_2019-2020.csv")
    >>> rows.unit.iloc[0]
    'USD bn'
    """
    root = Path(root) if root is not None else raw_root()
    prov = load_provenance(root / "PROVENANCE.csv").set_index("file")
    if file not in prov.index:
        raise SourceError(f"{file!r} is not a shipped raw extract; see {root / 'PROVENANCE.csv'}")
    rec = prov.loc[file]
    path = root / file
    if rec["format"] == "cftc_tff":
        frame = load_cftc_tff(path)
    else:
        frame = load_fred_csv(path, units={rec["series"]: rec["unit"]})
    return frame.assign(source=f"raw/{file}")
