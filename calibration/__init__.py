"""Calibration data for contagion: dated snapshots of public aggregates and episode paths.

Values carry their unit in the name suffix (``_usd_bn`` USD billions, ``_frac`` fraction,
``_pct`` percent, ``_bp`` basis points); see :mod:`calibration.snapshot`.
"""

from calibration.snapshot import (
    Snapshot,
    SnapshotError,
    available_episodes,
    available_vintages,
    load_episode,
    load_snapshot,
)

__all__ = [
    "Snapshot",
    "SnapshotError",
    "available_episodes",
    "available_vintages",
    "load_episode",
    "load_snapshot",
]
