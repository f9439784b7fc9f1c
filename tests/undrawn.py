"""Report figures built but not drawn, for tests of what surrounds them.

Every figure function still runs on the data (:mod:`contagion.report.figures`); only the
last step, matplotlib's layout and SVG writing, is replaced by a fixed empty SVG. That step
takes about a second per figure and a report has a dozen, so a test that writes reports to
check inputs, folders, exit codes or the command line spends most of its time there. The
figures themselves, drawn, are tested in ``test_report.py``, ``test_report_browser.py``,
``test_experiment_api.py``, ``test_sensitivity.py`` and the notebooks.

A module opts in with ``pytestmark = pytest.mark.undrawn_figures`` (a test in it draws
again with ``@pytest.mark.drawn_figures``); a module-scoped fixture that writes a report
wraps itself in :func:`figures_not_drawn`, so its report and later re-renders agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

EMPTY_SVG = "<svg xmlns='http://www.w3.org/2000/svg'/>"


@contextmanager
def figures_not_drawn() -> Iterator[None]:
    """Within the block, report figures are built and closed, not drawn (module docstring)."""
    import matplotlib.pyplot as plt

    def to_svg(fig) -> str:
        plt.close(fig)
        return EMPTY_SVG

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("contagion.report.figures.to_svg", to_svg)
        yield
