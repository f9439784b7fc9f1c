"""Results are data: tidy frames plus a flat summary and the configuration that made them.

``Result.save(directory)`` writes each frame as parquet (and CSV when asked, with
formula-like text neutralised, :func:`contagion.io.csv_text`) and ``metadata.json``
(summary, config with the scenario, policies, seed and package version). The folder is
written beside its place and swapped in whole under a lock
(:class:`contagion.files.OutputDirectory`): files of an earlier result never survive
beside the new ones, a failed or killed save leaves the previous folder as it was, and a
non-empty folder that holds no result (no ``metadata.json``) is refused, never replaced.
``Result.load`` reads them back with bounded reads of regular files only and refuses a
damaged folder (unreadable parquet, a summary that is not finite numbers) with an
:class:`~contagion.InputError` naming the file.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from contagion.errors import InputError, Problem
from contagion.files import MAX_DATA_BYTES, read_bytes, read_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FRAMES = ("markets", "institutions", "events", "flows", "policy_usage")
META = "metadata.json"


@dataclass(frozen=True)
class _RecordedSystem:
    """The system as a run's config records it: enough to say which parameters it used."""

    name: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class Result:
    """Output of :func:`contagion.simulate`.

    Attributes
    ----------
    markets : DataFrame, index ``day`` (0 = before the shock)
        Yields, prices, cumulative changes per bucket (``_pct``, ``_bp``); futures prices;
        basis per contract in price points and bp and its widening; swap rates and spreads;
        repo rate; volatility index; dealer utilisation; within-day iterations.

        Sign conventions: the basis of contract ``c`` on bucket ``b`` is cash minus
        conversion-factor-adjusted futures, ``basis_{c}_pts = P_b - CF_c F_c`` (price
        points per 100 face); ``basis_widening_{c}_bp`` is the cash yield's impact minus
        the futures-implied yield's impact, so it is **positive when cash cheapens against
        futures** (the basis trade loses: long cash, short futures); ``basis_{c}_bp`` is the
        initial basis in yield terms minus the widening. Swap spreads are swap rate minus
        Treasury yield, ``swap_spread_{b}_bp = (s_b - y_b) 100``: **more negative when
        Treasuries cheapen against swaps** (the swap-spread trade, long Treasuries and
        paying fixed, loses). Yield changes are positive when yields rise (prices fall).
    institutions : DataFrame, long (``day``, ``institution``)
        Type and hedge-fund strategy book (``strategy``, "" if none); equity, cash, assets,
        leverage, Treasury value, repo borrowed, IM posted, net futures
        and swap notional (signed), sales (USD bn) and the default flag.
    events : DataFrame
        Margin calls, repo not rolled, sales by kind, redemptions, defaults with cause.
    flows : DataFrame
        Par sold by seller, bucket and buyer sector (dealers, outside, policy) per day.
    policy_usage : DataFrame
        Each policy's daily usage and cost (day, policy, item, institution, USD bn).
    summary : dict
        Headline metrics (see README); equity losses by channel add up to the total.
    config : dict
        Scenario, system identity, policies, seed and package version.
    """

    markets: pd.DataFrame
    institutions: pd.DataFrame
    events: pd.DataFrame
    flows: pd.DataFrame
    policy_usage: pd.DataFrame
    summary: dict[str, float]
    config: dict[str, Any]

    def save(self, directory: str | os.PathLike, *, csv: bool = False) -> Path:
        """Write the frames (parquet, optionally CSV) and ``metadata.json`` into a folder,
        replacing it whole (module docstring); returns the folder."""
        from contagion.files import OutputDirectory, foreign_entries

        d = Path(directory)
        out = OutputDirectory(d, option="directory")
        with out:
            owned = {META, *(f"{n}.{ext}" for n in FRAMES for ext in ("parquet", "csv"))}
            foreign = foreign_entries(out.path, owned)
            if foreign or (any(out.path.iterdir()) and not (out.path / META).is_file()):
                shown = ", ".join(foreign[:5]) or "no " + META
                raise InputError(
                    Problem(
                        "result directory",
                        "(files)",
                        f"is not empty and not a saved result ({shown}); refusing to replace "
                        "it: choose a new or empty folder",
                    ),
                    str(d),
                )
            with out.staging() as new:
                self.write(new, csv=csv)
        return d

    def write(self, directory: str | os.PathLike, *, csv: bool = False) -> Path:
        """Write the files into an existing, empty folder (no lock, no swap: for a folder
        being staged, such as an arm of a report); :meth:`save` is the safe entry point."""
        from contagion.files import atomic_write_with
        from contagion.io import atomic_write_text, csv_text

        d = Path(directory)
        for name in FRAMES:
            frame = getattr(self, name)
            atomic_write_with(d / f"{name}.parquet", frame.to_parquet)
            if csv:
                # an index without a name is a row counter: no unnamed first column
                named = any(n is not None for n in frame.index.names)
                atomic_write_text(d / f"{name}.csv", csv_text(frame, index=named))
        meta = {"summary": self.summary, "config": self.config}
        atomic_write_text(d / META, json.dumps(meta, indent=1, sort_keys=True))
        return d

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Result:
        """Read a result written by :meth:`save`."""
        d = Path(directory)
        missing = [f"{n}.parquet" for n in FRAMES if not (d / f"{n}.parquet").exists()]
        if not (d / META).exists():
            missing.append(META)
        if missing:
            raise InputError(
                Problem("result directory", "(files)", f"missing {', '.join(missing)}"), str(d)
            )
        summary, config = read_metadata(d / META)
        frames = {n: _restore(read_parquet(d / f"{n}.parquet")) for n in FRAMES}
        return cls(**frames, summary=summary, config=config)

    def parameter_set(self) -> dict[str, Any]:
        """Which model parameters this run used, read from its config: ``set`` (``fitted``,
        ``defaults`` or ``mixed``), a one-line ``description`` (fitted on what, or package
        defaults), every ``values`` entry and its ``origin``
        (:func:`contagion.examples.describe_parameters`)."""
        from contagion.examples import describe_parameters
        from contagion.scenario import ModelParams

        system = self.config.get("system", {})
        recorded = _RecordedSystem(str(system.get("name", "?")), system.get("metadata") or {})
        params = ModelParams.model_validate(self.config["scenario"].get("params") or {})
        return describe_parameters(params, recorded)

    def plot(
        self, columns: Sequence[str] | None = None, *, label: str = "run", ncols: int = 3
    ) -> Figure:
        """Daily market paths of this run as a matplotlib ``Figure`` (no pyplot state).

        ``columns``: columns of :attr:`markets` (default: the headline yield change, each
        contract's basis widening, the repo rate and the dealers' daily peak utilisation).
        """
        from contagion.report import figures, labels

        if columns is None:
            panels = labels.market_panels(self.summary)
        else:
            missing = [c for c in columns if c not in self.markets]
            if missing:
                raise InputError(
                    Problem("plot", "columns", f"not columns of Result.markets: {missing}")
                )
            panels = [(c, labels.readable(c)) for c in columns]
        return figures.time_paths({label: self.markets}, panels, "", ncols=ncols)

    def equals(self, other: Result) -> bool:
        """Identical frames, summary and config."""
        return (
            all(getattr(self, n).equals(getattr(other, n)) for n in FRAMES)
            and self.summary == other.summary
            and self.config == other.config
        )


def read_parquet(path: str | os.PathLike) -> pd.DataFrame:
    """A parquet file as a frame: a regular file, bounded read, any damage an InputError."""
    import pyarrow.parquet as pq

    data = read_bytes(path, limit=MAX_DATA_BYTES)
    try:
        # strings are decoded lazily: a damaged byte in a text column would only fail when
        # the column is used, so check the whole table (UTF-8 included) here
        pq.read_table(io.BytesIO(data)).validate(full=True)
        return pd.read_parquet(io.BytesIO(data))
    except Exception as err:  # pyarrow raises many types (ArrowInvalid, OSError, KeyError..)
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(
            Problem("file", "(parquet)", f"not a readable parquet file: {first}"), str(path)
        ) from None


def read_json(path: str | os.PathLike) -> Any:
    """A JSON file (bounded read, duplicate keys refused) with errors naming the file."""
    from contagion.io import parse_json_field

    return parse_json_field(read_text(path), location="file", field="(json)", source=str(path))


def read_metadata(path: Path) -> tuple[dict[str, float], dict[str, Any]]:
    """``summary`` (finite numbers by name) and ``config`` (a mapping) of ``metadata.json``."""
    meta = read_json(path)
    problems = []
    if not isinstance(meta, dict):
        raise InputError(Problem("metadata", "(top level)", "must be a mapping"), str(path))
    summary, config = meta.get("summary"), meta.get("config")
    if not isinstance(summary, dict) or not summary:
        problems.append(Problem("metadata", "summary", "must be a non-empty mapping"))
    else:
        problems += [
            Problem("metadata", f"summary.{k}", f"must be a finite number, got {v!r}")
            for k, v in summary.items()
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)
        ]
    if not isinstance(config, dict):
        problems.append(Problem("metadata", "config", "must be a mapping"))
    if problems:
        raise InputError(problems, str(path))
    assert isinstance(summary, dict) and isinstance(config, dict)  # (checked above)
    return {str(k): float(v) for k, v in summary.items()}, config


def _restore(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet drops the (string) categories of an empty categorical column; put them back."""
    for col in frame.columns:
        dtype = frame[col].dtype
        if isinstance(dtype, pd.CategoricalDtype) and len(dtype.categories) == 0:
            frame[col] = pd.Categorical([], categories=pd.Index([], dtype=str))
    return frame
