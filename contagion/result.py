"""Results are data: tidy frames plus a flat summary and the configuration that made them.

``Result.save(directory)`` writes each frame as parquet (and CSV when asked) and
``metadata.json`` (summary, config with the scenario, policies, seed and package version);
every file is written atomically (temp file + rename). ``Result.load`` reads them back.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from contagion.errors import InputError, Problem

FRAMES = ("markets", "institutions", "events", "flows", "policy_usage")


@dataclass(frozen=True)
class Result:
    """Output of :func:`contagion.simulate`.

    Attributes
    ----------
    markets : DataFrame, index ``day`` (0 = before the shock)
        Yields, prices, cumulative changes per bucket (``_pct``, ``_bp``); futures prices;
        basis per contract in price points and bp and its widening; swap rates and spreads;
        repo rate; volatility index; dealer utilisation; within-day iterations.
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
        """Write the frames (parquet, optionally CSV) and ``metadata.json`` into a folder."""
        from contagion.io import atomic_write_text

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        for name in FRAMES:
            frame = getattr(self, name)
            tmp = d / f".{name}.parquet.tmp"
            try:
                frame.to_parquet(tmp)
                os.replace(tmp, d / f"{name}.parquet")
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            if csv:
                atomic_write_text(d / f"{name}.csv", frame.to_csv())
        meta = {"summary": self.summary, "config": self.config}
        atomic_write_text(d / "metadata.json", json.dumps(meta, indent=1, sort_keys=True))
        return d

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Result:
        """Read a result written by :meth:`save`."""
        d = Path(directory)
        missing = [f"{n}.parquet" for n in FRAMES if not (d / f"{n}.parquet").exists()]
        if not (d / "metadata.json").exists():
            missing.append("metadata.json")
        if missing:
            raise InputError(
                Problem("result directory", "(files)", f"missing {', '.join(missing)}"), str(d)
            )
        meta = json.loads((d / "metadata.json").read_text(encoding="utf-8"))
        frames = {n: _restore(pd.read_parquet(d / f"{n}.parquet")) for n in FRAMES}
        return cls(**frames, summary=meta["summary"], config=meta["config"])

    def equals(self, other: Result) -> bool:
        """Identical frames, summary and config."""
        return (
            all(getattr(self, n).equals(getattr(other, n)) for n in FRAMES)
            and self.summary == other.summary
            and self.config == other.config
        )


def _restore(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet drops the (string) categories of an empty categorical column; put them back."""
    for col in frame.columns:
        dtype = frame[col].dtype
        if isinstance(dtype, pd.CategoricalDtype) and len(dtype.categories) == 0:
            frame[col] = pd.Categorical([], categories=pd.Index([], dtype=str))
    return frame
