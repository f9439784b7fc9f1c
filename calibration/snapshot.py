"""Dated snapshots of public aggregates and episode paths, shipped as package data.

Layout under ``calibration/data/``::

    <vintage>/manifest.yaml      vintage, as_of, description, tables
    <vintage>/aggregates.csv     one row per quantity (see AGGREGATE_COLUMNS)
    episodes/<name>.csv          dated scenario inputs and fit targets (see EPISODE_COLUMNS)

Units follow the name suffix (``UNIT_SUFFIXES``): ``_usd_bn`` USD billions,
``_usd_bn_per_day`` USD billions per day, ``_frac`` a fraction in [0, 1], ``_pct`` percent,
``_bp`` basis points, ``_ratio`` a ratio, ``_count`` a count, ``_level`` an index level,
``_years`` years, ``_flag`` a 0/1 event marker, ``_sign`` a direction (+1/-1).

Every file is validated on load; a problem raises :class:`SnapshotError` naming the file,
the row (quantity or date/variable), the field and the reason.

A snapshot built from the raw public extracts (:func:`calibration.build_snapshot`) carries
one more column, ``origin`` (:data:`BUILT_COLUMNS`): ``raw/<source>/<file>`` for a row read
from a shipped extract by code, or ``manual`` for a hand-typed row, whose ``note`` must give
the reason no machine-readable source is used. In such a file a row without an origin is an
error, and so is a row dated after the snapshot's ``as_of`` (no look-ahead). Any file in
either layout can be loaded with :func:`parse_aggregates` or :func:`load_snapshot` given a
path, and passed to :func:`calibration.build_system`.

Examples
--------
>>> snap = load_snapshot("2020-02")
>>> snap.value("hf_repo_borrowing_usd_bn")
1465.0
>>> "april_2025" in available_episodes()
True
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import math
import re
from collections.abc import Callable
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import pandas as pd
import yaml

__all__ = [
    "AGGREGATE_COLUMNS",
    "BUILT_COLUMNS",
    "EPISODE_COLUMNS",
    "MANUAL",
    "OUT_OF_SAMPLE_EPISODES",
    "QUALITY_FLAGS",
    "UNIT_SUFFIXES",
    "Snapshot",
    "SnapshotError",
    "available_episodes",
    "available_vintages",
    "load_episode",
    "load_snapshot",
    "parse_aggregates",
    "write_snapshot",
]

AGGREGATE_COLUMNS = (
    "quantity", "value", "unit", "as_of", "source_title", "source_publisher", "source_url",
    "fact_ids", "quality", "low", "high", "note",
)  # fmt: skip
#: Layout of a built snapshot: the aggregates columns and the row's origin.
BUILT_COLUMNS = (*AGGREGATE_COLUMNS, "origin")
#: ``origin`` of a hand-typed row (no machine-readable source); its ``note`` says why.
MANUAL = "manual"
EPISODE_COLUMNS = (
    "date", "variable", "value", "unit", "role", "source_title", "source_url", "fact_ids",
    "quality", "note",
)  # fmt: skip
QUALITY_FLAGS = frozenset({"ok", "2nd", "?", "derived", "assumption"})
ROLES = frozenset({"input", "target"})
#: Name suffix -> required ``unit`` value. The longest matching suffix wins.
UNIT_SUFFIXES = {
    "_usd_bn": "USD bn",
    "_usd_bn_per_day": "USD bn/day",
    "_frac": "frac",
    "_pct": "pct",
    "_bp": "bp",
    "_ratio": "ratio",
    "_count": "count",
    "_level": "index",
    "_years": "years",
    "_flag": "flag",
    "_sign": "sign",
}
#: Episodes whose outcomes are withheld for validation: they may hold ``input`` rows only.
OUT_OF_SAMPLE_EPISODES = frozenset({"april_2025", "late_2025"})

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FACT_IDS = re.compile(r"^\d+\.\d+(;\d+\.\d+)*$")
_RANGED = frozenset({"assumption", "?"})
_NEEDS_NOTE = frozenset({"assumption", "?", "derived"})

Source = Traversable | Path


class SnapshotError(ValueError):
    """A calibration data file is missing or invalid."""


def _fail(file: str, row: str, field: str, reason: str) -> SnapshotError:
    return SnapshotError(f"{file}: row {row!r}, field {field!r}: {reason}")


def _data_root() -> Traversable:
    return resources.files("calibration") / "data"


def expected_unit(name: str) -> str | None:
    """Unit implied by the suffix of ``name`` (e.g. ``'USD bn'``), or None if no suffix is known."""
    matches = [s for s in UNIT_SUFFIXES if name.endswith(s)]
    return UNIT_SUFFIXES[max(matches, key=len)] if matches else None


def _read_csv(
    source: Source, columns: tuple[str, ...], alternative: tuple[str, ...] | None = None
) -> tuple[str, pd.DataFrame]:
    name = str(source)
    try:
        text = source.read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as exc:
        raise SnapshotError(f"{name}: cannot read file ({exc})") from exc
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    if alternative is not None and tuple(frame.columns) == alternative:
        columns = alternative
    if tuple(frame.columns) != columns:
        missing = sorted(set(columns) - set(frame.columns))
        extra = sorted(set(frame.columns) - set(columns))
        raise SnapshotError(
            f"{name}: columns must be exactly {list(columns)} in order; "
            f"missing {missing}, unexpected {extra}"
        )
    if frame.empty:
        raise SnapshotError(f"{name}: no rows")
    return name, frame.apply(lambda col: col.str.strip())


def _number(text: str, fail: Callable[[str, str], SnapshotError], field: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise fail(field, f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise fail(field, f"must be finite, got {text!r}")
    return value


def _date(text: str, fail: Callable[[str, str], SnapshotError], field: str) -> dt.date:
    try:
        if not _DATE.match(text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise fail(field, f"not an ISO date YYYY-MM-DD: {text!r}") from None


def _check_common(
    rec: dict[str, str], key: str, fail: Callable[[str, str], SnapshotError]
) -> float:
    """Checks shared by aggregates and episodes; returns the parsed value."""
    if not _NAME.match(rec[key]):
        raise fail(key, "must be snake_case ([a-z][a-z0-9_]*)")
    value = _number(rec["value"], fail, "value")
    unit = expected_unit(rec[key])
    if unit is None:
        raise fail(key, f"no known unit suffix (one of {sorted(UNIT_SUFFIXES)})")
    if rec["unit"] != unit:
        raise fail("unit", f"suffix of {rec[key]!r} implies {unit!r}, got {rec['unit']!r}")
    if rec["quality"] not in QUALITY_FLAGS:
        raise fail("quality", f"{rec['quality']!r} not in {sorted(QUALITY_FLAGS)}")
    if rec["quality"] == "assumption":
        if rec["source_url"]:
            raise fail("source_url", "assumption rows cite no source; put context in note")
    elif not rec["source_title"]:
        raise fail("source_title", "missing source for a non-assumption row")
    if rec["source_url"] and not rec["source_url"].startswith(("http://", "https://")):
        raise fail("source_url", f"not an http(s) URL: {rec['source_url']!r}")
    if rec["fact_ids"] and not _FACT_IDS.match(rec["fact_ids"]):
        raise fail("fact_ids", f"expected ids like '1.4' or '1.1;1.3', got {rec['fact_ids']!r}")
    if rec["quality"] != "assumption" and not rec["fact_ids"]:
        raise fail("fact_ids", "non-assumption rows must name the fact-base rows used")
    if rec["quality"] in _NEEDS_NOTE and not rec["note"]:
        raise fail("note", f"{rec['quality']!r} rows must explain the value in note")
    if rec[key].endswith("_frac") and not 0.0 <= value <= 1.0:
        raise fail("value", f"_frac quantity must lie in [0, 1], got {value}")
    return value


def parse_aggregates(source: Source | str, as_of: dt.date | None = None) -> pd.DataFrame:
    """Read and validate one aggregates file; values, low and high as floats, as_of as dates.

    Parameters
    ----------
    source : path or Traversable
        A CSV in the ``aggregates.csv`` layout (:data:`AGGREGATE_COLUMNS`) or the built
        layout with an ``origin`` column (:data:`BUILT_COLUMNS`).
    as_of : datetime.date, optional
        The snapshot date. In the built layout a row dated after it is an error (no
        look-ahead); the shipped vintages predate that rule (some rows are dated after
        their vintage and say so in ``note``) and are not checked.

    Raises
    ------
    SnapshotError
        Naming the file, the row (quantity), the field and the reason.
    """
    if isinstance(source, str):
        source = Path(source)
    name, frame = _read_csv(source, AGGREGATE_COLUMNS, BUILT_COLUMNS)
    built = "origin" in frame.columns
    values, lows, highs, dates, seen = [], [], [], [], set()
    for rec in frame.to_dict("records"):
        qty = rec["quantity"] or "<empty>"

        def fail(field: str, reason: str, qty: str = qty) -> SnapshotError:
            return _fail(name, qty, field, reason)

        if qty in seen:
            raise fail("quantity", "duplicate quantity")
        seen.add(qty)
        value = _check_common(rec, "quantity", fail)
        if rec["quality"] != "assumption" and not rec["source_publisher"]:
            raise fail("source_publisher", "missing source for a non-assumption row")
        dates.append(_date(rec["as_of"], fail, "as_of"))
        if built and as_of is not None and dates[-1] > as_of:
            raise fail("as_of", f"{dates[-1]} is after the snapshot date {as_of} (look-ahead)")
        if built:
            _check_origin(rec, fail)
        low = high = math.nan
        if rec["quality"] in _RANGED:
            for field in ("low", "high"):
                if not rec[field]:
                    raise fail(field, f"required for {rec['quality']!r} rows")
            low, high = _number(rec["low"], fail, "low"), _number(rec["high"], fail, "high")
            if not low <= value <= high:
                raise fail("low", f"need low <= value <= high, got {low} <= {value} <= {high}")
            if qty.endswith("_frac") and not 0.0 <= low <= high <= 1.0:
                raise fail("high", "_frac range must lie in [0, 1]")
        elif rec["low"] or rec["high"]:
            raise fail(
                "low", f"ranges are only for assumption and '?' rows, not {rec['quality']!r}"
            )
        values.append(value)
        lows.append(low)
        highs.append(high)
    return frame.assign(value=values, low=lows, high=highs, as_of=dates)


def _check_origin(rec: dict[str, str], fail: Callable[[str, str], SnapshotError]) -> None:
    origin = rec["origin"]
    if not origin:
        raise fail("origin", f"a row without a source: give 'raw/<source>/<file>' or {MANUAL!r}")
    if origin == MANUAL:
        if not rec["note"]:
            raise fail("note", "manual rows must say why no machine-readable source is used")
    elif not origin.startswith("raw/"):
        raise fail("origin", f"{origin!r} is neither {MANUAL!r} nor a raw extract 'raw/...'")


#: Private alias kept for callers of the former private name.
_parse_aggregates = parse_aggregates


def _parse_episode(source: Source, episode: str | None = None) -> pd.DataFrame:
    """Read and validate one episode CSV (``episode`` enables the out-of-sample rule)."""
    name, frame = _read_csv(source, EPISODE_COLUMNS)
    episode = episode or Path(str(source)).stem
    values, dates, seen = [], [], set()
    for rec in frame.to_dict("records"):
        label = f"{rec['date']} {rec['variable']}"

        def fail(field: str, reason: str, label: str = label) -> SnapshotError:
            return _fail(name, label, field, reason)

        if label in seen:
            raise fail("variable", "duplicate (date, variable)")
        seen.add(label)
        values.append(_check_common(rec, "variable", fail))
        dates.append(_date(rec["date"], fail, "date"))
        if rec["role"] not in ROLES:
            raise fail("role", f"{rec['role']!r} not in {sorted(ROLES)}")
        if rec["role"] == "target" and episode in OUT_OF_SAMPLE_EPISODES:
            raise fail("role", f"{episode!r} is out-of-sample: its outcomes must not be stored")
    return frame.assign(value=values, date=dates).sort_values(["date", "variable"], kind="stable")


@dataclasses.dataclass(frozen=True, eq=False)
class Snapshot:
    """One dated vintage of aggregates.

    Attributes
    ----------
    vintage : str
        Directory name, e.g. ``"2020-02"``.
    as_of : datetime.date
        Reference date of the vintage (rows may carry older ``as_of`` dates).
    description : str
        What the vintage represents.
    table : pandas.DataFrame
        ``aggregates.csv`` with ``value``, ``low``, ``high`` as floats (NaN where no range)
        and ``as_of`` as ``datetime.date``; ``quantity`` is unique.
    """

    vintage: str
    as_of: dt.date
    description: str
    table: pd.DataFrame

    def __str__(self) -> str:
        """The vintage name (so a snapshot reads as its vintage in names and messages)."""
        return self.vintage

    def row(self, quantity: str) -> pd.Series:
        """The full row of ``quantity`` (value in the unit of its suffix)."""
        hits = self.table.index[self.table["quantity"] == quantity]
        if len(hits) == 0:
            raise KeyError(f"{quantity!r} not in snapshot {self.vintage!r}")
        return self.table.loc[hits[0]]

    def value(self, quantity: str) -> float:
        """Value of ``quantity`` in the unit of its suffix (USD bn, frac, pct, bp, ...)."""
        return float(self.row(quantity)["value"])

    def assumptions(self) -> pd.DataFrame:
        """Assumption rows with their plausible ranges (``low`` <= ``value`` <= ``high``)."""
        cols = ["quantity", "value", "unit", "low", "high", "fact_ids", "note"]
        return self.table.loc[self.table["quality"] == "assumption", cols].reset_index(drop=True)


def available_vintages() -> list[str]:
    """Vintages shipped with the package, sorted (e.g. ``['2020-02', '2025-03', 'latest']``)."""
    root = _data_root()
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "manifest.yaml").is_file())


def available_episodes() -> list[str]:
    """Episode names shipped with the package, e.g. ``['april_2025', 'march_2020', ...]``."""
    root = _data_root() / "episodes"
    return sorted(p.name[:-4] for p in root.iterdir() if p.name.endswith(".csv"))


def _parse_manifest(source: Source, vintage: str) -> tuple[dt.date, str, list[str]]:
    name = str(source)
    try:
        meta = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SnapshotError(f"{name}: cannot read manifest ({exc})") from exc
    if not isinstance(meta, dict):
        raise SnapshotError(f"{name}: manifest must be a mapping")
    missing = {"vintage", "as_of", "description", "tables"} - set(meta)
    if missing:
        raise SnapshotError(f"{name}: missing keys {sorted(missing)}")
    if str(meta["vintage"]) != vintage:
        raise SnapshotError(f"{name}: field 'vintage' is {meta['vintage']!r}, expected {vintage!r}")
    as_of = meta["as_of"]
    if not isinstance(as_of, dt.date):
        as_of = _date(str(as_of), lambda f, r: SnapshotError(f"{name}: field {f!r}: {r}"), "as_of")
    tables = meta["tables"]
    if not isinstance(tables, list) or "aggregates.csv" not in tables:
        raise SnapshotError(f"{name}: field 'tables' must be a list including 'aggregates.csv'")
    return as_of, str(meta["description"]).strip(), tables


def load_snapshot(vintage: str | Path | Snapshot, as_of: dt.date | str | None = None) -> Snapshot:
    """Load and validate one vintage, or a user's snapshot file or folder.

    Parameters
    ----------
    vintage : str, Path or Snapshot
        A shipped vintage (:func:`available_vintages`), or the path of a folder holding
        ``manifest.yaml`` and ``aggregates.csv`` (as :func:`write_snapshot` writes), or of
        one aggregates CSV (either layout; see :func:`parse_aggregates`). A
        :class:`Snapshot` is returned as it is, so that code taking a vintage name
        (:func:`calibration.build_system`) also takes a loaded or built snapshot.
    as_of : date or ISO str, optional
        For a CSV path: the snapshot date (default: the latest row date); rows dated after
        it are rejected.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = write_snapshot(load_snapshot("2020-02"), pathlib.Path(tempfile.mkdtemp()) / "s")
    >>> load_snapshot(folder).value("hf_repo_borrowing_usd_bn")
    1465.0
    """
    if isinstance(vintage, Snapshot):
        return vintage
    vintages = available_vintages()
    if isinstance(vintage, Path) or (isinstance(vintage, str) and vintage not in vintages):
        path = Path(vintage)
        if path.is_dir():
            return _load_folder(path)
        if path.is_file():
            return _load_csv(path, as_of)
        raise SnapshotError(
            f"unknown vintage {str(vintage)!r}; available: {vintages}, or a path to a "
            "snapshot folder or aggregates CSV"
        )
    folder = _data_root() / vintage
    as_of, description, tables = _parse_manifest(folder / "manifest.yaml", vintage)
    for table in tables:
        if not (folder / table).is_file():
            raise SnapshotError(f"{folder / 'manifest.yaml'}: listed table {table!r} not found")
    frame = parse_aggregates(folder / "aggregates.csv")
    return Snapshot(vintage=vintage, as_of=as_of, description=description, table=frame)


def _load_folder(folder: Path) -> Snapshot:
    manifest = folder / "manifest.yaml"
    try:
        meta = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SnapshotError(f"{manifest}: cannot read manifest ({exc})") from exc
    vintage = str(meta.get("vintage", "")) if isinstance(meta, dict) else ""
    as_of, description, _ = _parse_manifest(manifest, vintage)
    frame = parse_aggregates(folder / "aggregates.csv", as_of=as_of)
    return Snapshot(vintage=vintage, as_of=as_of, description=description, table=frame)


def _load_csv(path: Path, as_of: dt.date | str | None) -> Snapshot:
    if isinstance(as_of, str):
        as_of = _date(as_of, lambda f, r: SnapshotError(f"as_of: {r}"), "as_of")
    frame = parse_aggregates(path, as_of=as_of)
    as_of = as_of or max(frame["as_of"])
    description = f"Snapshot read from {path}"
    return Snapshot(vintage=path.stem, as_of=as_of, description=description, table=frame)


def write_snapshot(snapshot: Snapshot, folder: str | Path) -> Path:
    """Write ``manifest.yaml`` and ``aggregates.csv`` of ``snapshot`` into ``folder``.

    The table keeps its columns (the ``origin`` column of a built snapshot included);
    :func:`load_snapshot` reads the folder back. Returns the folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    table = snapshot.table.copy()
    columns = BUILT_COLUMNS if "origin" in table.columns else AGGREGATE_COLUMNS
    table["as_of"] = table["as_of"].astype(str)
    for col in ("low", "high"):
        table[col] = table[col].map(lambda x: "" if pd.isna(x) else f"{x:g}")
    table["value"] = table["value"].map(lambda x: f"{x:.10g}")
    table.loc[:, list(columns)].to_csv(folder / "aggregates.csv", index=False, lineterminator="\n")
    meta = {
        "vintage": snapshot.vintage,
        "as_of": snapshot.as_of.isoformat(),
        "description": snapshot.description,
        "tables": ["aggregates.csv"],
    }
    (folder / "manifest.yaml").write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
    return folder


def load_episode(name: str) -> pd.DataFrame:
    """Load and validate one episode (``date``, ``variable``, ``value``, ``unit``, ``role``, ...).

    ``role`` is ``input`` (scenario driver) or ``target`` (stylized fact to fit); the
    out-of-sample episodes in :data:`OUT_OF_SAMPLE_EPISODES` hold inputs only.
    """
    names = available_episodes()
    if name not in names:
        raise SnapshotError(f"unknown episode {name!r}; available: {names}")
    return _parse_episode(_data_root() / "episodes" / f"{name}.csv", name).reset_index(drop=True)
