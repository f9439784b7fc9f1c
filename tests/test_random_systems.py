"""The seeded random-system suite: random systems under random scenarios and policy arms.

Each seed is one case of :mod:`random_cases` (a synthetic system, a scenario with every
shock path, channel and model parameter drawn within its validated bounds, a quarter of the
numbers at or next to a bound, and one to three arms of one or two random policies). Every
arm runs through :func:`contagion.simulate_summary`, which checks the accounting invariants
after every simulated day (:mod:`contagion.testing`); the summary must be finite. Any
exception is a failure: an ``InvariantError`` is an engine bug, anything else an internal
error on valid input.

Size: :data:`CI_CASES` seeds in CI (about 40 s on one core); under the hypothesis ``soak``
profile as many seeds as that profile's examples, or ``CONTAGION_RANDOM_SYSTEMS=N``::

    CONTAGION_HYPOTHESIS_PROFILE=soak .venv/bin/python -m pytest tests/test_random_systems.py
    CONTAGION_RANDOM_SYSTEMS=20000 .venv/bin/python -m pytest tests/test_random_systems.py

One case is reproduced by ``.venv/bin/python tests/random_cases.py SEED``.
"""

from __future__ import annotations

import os

import pytest
import random_cases
from hypothesis import settings

CI_CASES = 400

#: Seeds (within the CI range) on which the engine fails today: reproduced and described in
#: the engine-failure notes, fixed in the engine files. Strict xfail: a fixed seed turns
#: this suite red until it is removed from the list.
KNOWN_ENGINE_FAILURES: dict[int, str] = {}


def _cases() -> int:
    if os.environ.get("CONTAGION_RANDOM_SYSTEMS"):
        return int(os.environ["CONTAGION_RANDOM_SYSTEMS"])
    return max(CI_CASES, settings().max_examples)


def _seeds():
    for seed in range(_cases()):
        marks = (
            [pytest.mark.xfail(strict=True, reason=KNOWN_ENGINE_FAILURES[seed])]
            if seed in KNOWN_ENGINE_FAILURES
            else []
        )
        yield pytest.param(seed, id=str(seed), marks=marks)


@pytest.mark.parametrize("seed", list(_seeds()))
def test_random_case_runs_with_every_invariant(seed: int) -> None:
    random_cases.run(seed)


def test_the_suite_is_large_enough_and_reproducible() -> None:
    assert _cases() >= CI_CASES
    assert set(KNOWN_ENGINE_FAILURES) <= set(range(CI_CASES))
    a, b = random_cases.describe(7), random_cases.describe(7)
    assert a == b and a != random_cases.describe(8)
