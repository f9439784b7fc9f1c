"""Where a file named inside a config may be: one rule, applied wherever a config names a file.

**Rule.** A *relative* path written in a config file (today: an experiment's ``system`` and
``scenario``) is resolved against the directory of that config file and must stay inside
it once ``..`` and symbolic links are resolved; otherwise :class:`~contagion.InputError`
names the config file, the field and the reason. For a CSV system folder the rule applies
to every file that loading it reads (:data:`contagion.io.CSV_FILES`), so a link inside
the folder to a file elsewhere is refused too. An *absolute* path is the user's explicit
choice and is allowed. Paths typed on the command line or passed to the Python API are the
caller's own choice and are not restricted. Scenario and policy files name no other files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from contagion.errors import InputError, Problem


def config_path(
    base_dir: str | os.PathLike,
    name: str,
    *,
    field: str,
    source: str | None = None,
    location: str = "experiment",
) -> Path:
    """The file ``name`` that a config in ``base_dir`` refers to, checked against the rule.

    Returns ``base_dir / name`` (or ``name`` itself when absolute). Raises
    :class:`~contagion.InputError` (``location``, ``field``; ``source``: the config file) when
    a relative ``name`` resolves outside ``base_dir`` or cannot be resolved at all.
    """
    path = Path(name)
    if path.is_absolute():
        return path
    try:
        root = Path(base_dir).resolve()
        target = (root / path).resolve()
    except (OSError, RuntimeError, ValueError) as err:  # a symlink loop, a NUL byte
        raise InputError(
            Problem(location, field, f"path {name!r} cannot be resolved ({err})"), source
        ) from None
    if not target.is_relative_to(root):
        raise InputError(
            Problem(
                location,
                field,
                f"relative path {name!r} resolves to {target}, outside the config's directory "
                f"{root}; write an absolute path to use a file elsewhere",
            ),
            source,
        )
    if target.is_dir():  # a CSV system folder: each file it holds must stay inside too
        from contagion.io import CSV_FILES

        for member in CSV_FILES:
            try:
                inner = (target / member).resolve()
            except (OSError, RuntimeError) as err:
                raise InputError(
                    Problem(location, field, f"{name}/{member} cannot be resolved ({err})"),
                    source,
                ) from None
            if not inner.is_relative_to(root):
                raise InputError(
                    Problem(
                        location,
                        field,
                        f"{name}/{member} resolves to {inner}, outside the config's directory "
                        f"{root} (a symbolic link); write an absolute path to use a folder "
                        "elsewhere",
                    ),
                    source,
                )
    return Path(base_dir) / path


def experiment_inputs(
    config: Any, base_dir: str | os.PathLike, *, source: str | None = None
) -> tuple[Path | None, Path | None]:
    """The system and scenario files an experiment config names, checked by
    :func:`config_path` (``None`` for a bundled name)."""
    from contagion import examples, scenarios

    system = (
        None
        if config.system in examples.BUNDLED
        else config_path(base_dir, config.system, field="system", source=source)
    )
    scenario = (
        None
        if config.scenario in scenarios.available()
        else config_path(base_dir, config.scenario, field="scenario", source=source)
    )
    return system, scenario
