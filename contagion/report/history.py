"""The no-action level against history: the largest documented multi-day rises of sovereign
yields under forced selling, and a published stress scenario, with their sources.

The episodes are data, not results: ``contagion/data/history/yield_episodes.csv`` (episode,
market, move in bp, horizon, whether the figure was read in the issuer's own text or in a
relay, source). The report sets the model's no-action peak next to them so that a reader
can see whether the level is a plausible tail or beyond the record; the model's own number
is never compared with a threshold here.
"""

from __future__ import annotations

from importlib.resources import files

import pandas as pd

#: Columns of the episodes file, in order.
COLUMNS = ("episode", "market", "move_bp", "horizon", "read", "source")


def yield_episodes() -> pd.DataFrame:
    """The shipped episodes (largest move first); ``ValueError`` naming the file if its
    columns are not :data:`COLUMNS` or a move is not a number."""
    path = files("contagion") / "data" / "history" / "yield_episodes.csv"
    with path.open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh)
    if tuple(df.columns) != COLUMNS:
        raise ValueError(f"{path}: columns {list(df.columns)}, expected {list(COLUMNS)}")
    moves = pd.to_numeric(df["move_bp"], errors="coerce")
    if moves.isna().any():
        raise ValueError(f"{path}: move_bp must be numbers (bp)")
    return df.assign(move_bp=moves).sort_values("move_bp", ascending=False, ignore_index=True)


def history_table(model_move: str, model_label: str, horizon_days: int) -> pd.DataFrame:
    """The model's no-action peak (``model_move``: already formatted, e.g. a median with its
    p10-p90) above the documented episodes, one row each."""
    eps = yield_episodes()
    rows = [
        {
            "episode": model_label,
            "market": "model",
            "move (bp)": model_move,
            "horizon": f"{horizon_days} days",
            "source": "this report",
        }
    ]
    for r in eps.itertuples(index=False):
        rows.append(
            {
                "episode": r.episode,
                "market": r.market,
                "move (bp)": f"+{r.move_bp:g}",
                "horizon": r.horizon,
                "source": f"{r.source} ({r.read})",
            }
        )
    return pd.DataFrame(rows).set_index("episode")
