"""Fetch the official public files from their publishers, for users with internet.

``calibration.download(source, dest, ...)`` downloads one official file with the standard
library (``urllib``: a timeout, a size cap, ``http``/``https`` only), writes it into
``dest`` and records its sha256, URL and retrieval time. ``source`` is either

* a publisher key of :data:`OFFICIAL_URLS` with the parameters its URL needs
  (``download("fred", "data", series="DGS10")``,
  ``download("cftc_tff", "data", year=2025)``: the CFTC zip, unpacked to its text file), or
* the name of a shipped extract in ``calibration/data/raw/PROVENANCE.csv``
  (``download("fred/DGS10_2019-2025.csv", "data")``): the official URL of that row is
  fetched and the same extract is cut from it (:func:`calibration.sources.cut_extract`), so
  a user can check the shipped extract against the publisher's file
  (:attr:`Download.matches_shipped`).

Errors (HTTP failure, unreachable host, timeout, a file over the size cap, a zip without
the expected text file) raise :class:`DownloadError` naming the URL and the reason, and
nothing is written. From the shell, ``python -m calibration download SOURCE DEST [...]``
prints the error and exits with status 2 (no traceback).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import io
import os
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from calibration.sources._base import SourceError
from calibration.sources.raw import cut_extract, load_provenance, sha256_bytes

__all__ = ["OFFICIAL_URLS", "Download", "DownloadError", "download", "main"]

#: Official URL templates by publisher key; ``{...}`` fields are download() keywords.
OFFICIAL_URLS = {
    "cftc_tff": "https://www.cftc.gov/files/dea/history/fut_fin_txt_{year}.zip",
    "fred": "https://fred.stlouisfed.org/graph/fredgraph.csv?id={series}",
    "nyfed_rates": (
        "https://markets.newyorkfed.org/api/rates/all/search.csv?startDate={start}&endDate={end}"
    ),
    "fr2004": "https://markets.newyorkfed.org/api/pd/get/{series}.json",
    "mspd_summary": (
        "https://api.fiscaldata.treasury.gov/services/api/fiscal_service/v1/debt/mspd/"
        "mspd_table_1?format=csv&filter=record_date:eq:{date}&page[size]=10000"
    ),
    "ofr": "https://data.financialresearch.gov/v1/series/timeseries?mnemonic={series}",
}
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_BYTES = 200 * 2**20
_CHUNK = 2**16


class DownloadError(SourceError):
    """A download failed (HTTP error, unreachable, timeout, too large, unexpected content)."""


@dataclasses.dataclass(frozen=True)
class Download:
    """What :func:`download` wrote.

    Attributes
    ----------
    path : Path
        The official file as fetched (a CFTC zip: its text file).
    url : str
    sha256 : str
        Of the bytes written to ``path``.
    size_bytes : int
    retrieved : str
        UTC time of the download, ISO 8601.
    extract : Path or None
        The extract cut from it, when ``source`` named a shipped extract.
    matches_shipped : bool or None
        Whether that extract's sha256 equals the shipped one (the publisher may have
        revised the data since).
    """

    path: Path
    url: str
    sha256: str
    size_bytes: int
    retrieved: str
    extract: Path | None = None
    matches_shipped: bool | None = None


def _fetch(url: str, timeout_s: float, max_bytes: int) -> bytes:
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in {"http", "https"}:
        raise DownloadError(f"{url}: only http(s) URLs are fetched, not {scheme!r}")
    request = urllib.request.Request(url, headers={"User-Agent": "basis-contagion calibration"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise DownloadError(f"{url}: {int(length):,} bytes exceeds the cap {max_bytes:,}")
            buf = io.BytesIO()
            while chunk := response.read(_CHUNK):
                buf.write(chunk)
                if buf.tell() > max_bytes:
                    raise DownloadError(f"{url}: more than the cap of {max_bytes:,} bytes")
            return buf.getvalue()
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DownloadError(f"{url}: cannot reach the server ({exc.reason})") from None
    except TimeoutError:
        raise DownloadError(f"{url}: no answer within {timeout_s:g} s") from None


def _unzip_text(url: str, data: bytes) -> tuple[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise DownloadError(f"{url}: not a zip archive") from None
    members = [n for n in archive.namelist() if n.lower().endswith(".txt")]
    if len(members) != 1:
        raise DownloadError(f"{url}: expected one .txt file in the archive, found {members}")
    return Path(members[0]).name, archive.read(members[0])


def _write(dest: Path, name: str, data: bytes) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / name
    fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def download(
    source: str,
    dest: str | Path,
    *,
    url: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_bytes: int = DEFAULT_MAX_BYTES,
    **params: object,
) -> Download:
    """Download one official file into ``dest`` (see the module docstring).

    Parameters
    ----------
    source : str
        A key of :data:`OFFICIAL_URLS` or a file listed in the raw ``PROVENANCE.csv``.
    dest : path
        Output folder (created); nothing is written elsewhere.
    url : str, optional
        Fetch this URL instead of the official one (a mirror, or a local test server).
    timeout_s : float
        Seconds to wait for the server.
    max_bytes : int
        Size cap; a larger file is an error.
    **params
        Fields of the URL template (``series``, ``year``, ``date``, ``start``, ``end``).

    Examples
    --------
    >>> download("nope", "out")
    Traceback (most recent call last):
    ...
    calibration.download.DownloadError: unknown source 'nope': give one of ['cftc_tff', \
'fr2004', 'fred', 'mspd_summary', 'nyfed_rates', 'ofr'] or a file of PROVENANCE.csv
    """
    dest = Path(dest)
    prov = load_provenance().set_index("file")
    shipped = prov.loc[source] if source in prov.index else None
    if shipped is not None:
        official = str(shipped["official_url"])
        fmt = str(shipped["format"])
    elif source in OFFICIAL_URLS:
        try:
            official = OFFICIAL_URLS[source].format(**params)
        except KeyError as exc:
            raise DownloadError(f"source {source!r} needs the parameter {exc.args[0]!r}") from None
        fmt = source
    else:
        raise DownloadError(
            f"unknown source {source!r}: give one of {sorted(OFFICIAL_URLS)} or a file of "
            "PROVENANCE.csv"
        )
    target = url or official
    data = _fetch(target, timeout_s, max_bytes)
    retrieved = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    name = Path(urllib.parse.urlsplit(official).path).name or "download"
    if fmt == "cftc_tff":
        name, data = _unzip_text(target, data)
    elif source in OFFICIAL_URLS and "series" in params:
        name = f"{params['series']}{Path(name).suffix or '.csv'}"
    extract = matches = None
    if shipped is not None:
        try:
            cut = cut_extract(fmt, data, str(shipped["windows"]))
        except (SourceError, ValueError, IndexError, UnicodeDecodeError) as exc:
            raise DownloadError(f"{target}: not in the layout of {source} ({exc})") from None
        matches = sha256_bytes(cut) == shipped["sha256_extract"]
        extract = _write(dest / "extract", Path(source).name, cut)
        name = f"original_{Path(source).name}" if fmt == "fred" else name
    path = _write(dest, name, data)
    return Download(path, target, sha256_bytes(data), len(data), retrieved, extract, matches)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m calibration download SOURCE DEST [--series ...]``."""
    parser = argparse.ArgumentParser(
        prog="python -m calibration download", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("source", help="publisher key or a file of raw/PROVENANCE.csv")
    parser.add_argument("dest", help="output folder")
    for key in ("series", "year", "date", "start", "end", "url"):
        parser.add_argument(f"--{key}")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S)
    parser.add_argument("--max-mb", type=float, default=DEFAULT_MAX_BYTES / 2**20)
    args = parser.parse_args(argv)
    params = {k: getattr(args, k) for k in ("series", "year", "date", "start", "end")}
    params = {k: v for k, v in params.items() if v is not None}
    try:
        got = download(args.source, args.dest, url=args.url, timeout_s=args.timeout,
                       max_bytes=int(args.max_mb * 2**20), **params)  # fmt: skip
    except SourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{got.path}  sha256 {got.sha256}  {got.size_bytes:,} bytes  from {got.url}")
    if got.extract is not None:
        state = "matches" if got.matches_shipped else "differs from"
        print(f"{got.extract}  extract {state} the shipped one")
    return 0
