"""The Examples sections of the docstrings run and print what they show (networkx's
``--doctest-modules``), over every module of the installed ``contagion`` and
``calibration`` packages (the ones the suite tests, rather than the source tree)."""

from __future__ import annotations

import doctest
import importlib
import io
import pkgutil

import pytest

import calibration
import contagion

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module_names() -> list[str]:
    names = []
    for package in (contagion, calibration):
        names.append(package.__name__)
        prefix = package.__name__ + "."
        for info in pkgutil.walk_packages(package.__path__, prefix):
            if not info.name.endswith("__main__"):  # importing it would run the CLI
                names.append(info.name)
    return sorted(names)


MODULES = _module_names()


def _examples(name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(name)
    return [t for t in doctest.DocTestFinder().find(module, name) if t.examples]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = io.StringIO()
    for test in _examples(name):
        runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()


def test_the_packages_have_examples() -> None:
    # A finder that found nothing (a renamed package, a walk that stopped at the top
    # level) would pass every case above vacuously.
    assert len(MODULES) > 20
    with_examples = [name for name in MODULES if _examples(name)]
    assert {"contagion.synthetic", "contagion.clearing"} <= set(with_examples)
