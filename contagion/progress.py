"""Progress of long runs as plain lines: for logs, CI, pipes and notebooks.

A terminal gets a live bar from the command line (``rich``); everywhere else a live bar
shows nothing until the end, so :class:`ProgressLines` writes one line per update (one per
finished chunk of draws)::

    Parameter draws: 150/1000 (15%), 42 s elapsed, about 3.9 min left

``experiment(..., progress=True)`` and ``sensitivity(..., progress=True)`` use it on
standard error; every update is also logged at DEBUG on the ``contagion`` logger.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], object]


def _duration(seconds: float) -> str:
    """``42 s``, ``3.9 min``, ``1.5 h``.

    >>> _duration(42.4), _duration(234), _duration(5400)
    ('42 s', '3.9 min', '1.5 h')
    """
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class ProgressLines:
    """A ``progress(done, total)`` callback writing a line per call to ``stream``.

    Parameters
    ----------
    label : str
        What is counted, e.g. ``"Parameter draws"``.
    stream : text stream, optional
        Where the lines go (default: ``sys.stderr`` at the time of each call).
    clock : callable, optional
        Seconds (default ``time.monotonic``); for tests.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> p = ProgressLines("Parameter draws", stream=out, clock=iter([0.0, 10.0]).__next__)
    >>> p(0, 4); p(2, 4)
    >>> print(out.getvalue().strip())
    Parameter draws: 2/4 (50%), 10 s elapsed, about 10 s left
    """

    def __init__(
        self,
        label: str,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.stream = stream
        self.clock = clock
        self.start = clock()
        self.first: int | None = None  # done at the first call (resumed from a checkpoint)

    def line(self, done: int, total: int) -> str:
        elapsed = self.clock() - self.start
        pct = 100.0 * done / total if total else 100.0
        text = f"{self.label}: {done}/{total} ({pct:.0f}%), {_duration(elapsed)} elapsed"
        fresh = done - (self.first or 0)
        if 0 < fresh and done < total:
            text += f", about {_duration(elapsed / fresh * (total - done))} left"
        return text

    def __call__(self, done: int, total: int) -> None:
        if self.first is None:
            self.first = done
            if done == 0:  # nothing to say before the first chunk finishes
                return
            text = f"{self.label}: {done}/{total} already in the checkpoint"
        else:
            text = self.line(done, total)
        log.debug(text)
        print(text, file=self.stream or sys.stderr, flush=True)


def resolve(progress: ProgressCallback | bool | None, label: str) -> ProgressCallback | None:
    """``True``: :class:`ProgressLines` on standard error; a callable as is; else None."""
    if progress is True:
        return ProgressLines(label)
    if progress is None or progress is False:
        return None
    return progress
