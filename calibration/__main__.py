"""``python -m calibration download SOURCE DEST [...]``: fetch an official public file.

See :mod:`calibration.download`; errors print one line and exit with status 2.
"""

from __future__ import annotations

import sys

from calibration.download import main


def _run(argv: list[str]) -> int:
    if not argv or argv[0] != "download":
        print("usage: python -m calibration download SOURCE DEST [options]", file=sys.stderr)
        return 2
    return main(argv[1:])


if __name__ == "__main__":
    sys.exit(_run(sys.argv[1:]))
