"""The package version: from git at build time (hatch-vcs), never typed by hand.

``pip install .`` (and ``make run``/``make test``, which reinstall) writes
``contagion/_scm_version.py`` from the git history: the last tag plus the commits since it,
so every commit has its own version (``0.1.1.devN+gHASH`` before the first tag; a ``.dYYYYMMDD``
suffix marks uncommitted changes). An installed copy without that file falls back to the
installed distribution's metadata, and a bare source tree to ``0+unknown``.
"""

from __future__ import annotations

try:
    from contagion._scm_version import __version__
except ImportError:  # pragma: no cover - a source tree never built or installed
    from importlib.metadata import PackageNotFoundError, version

    try:
        __version__ = version("basis-contagion")
    except PackageNotFoundError:
        __version__ = "0+unknown"

__all__ = ["__version__"]
