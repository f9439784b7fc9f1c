"""Exceptions raised by contagion.

Two families matter to users:

* :class:`InputError` (a ``ValueError``): the input (a table, a YAML/JSON file, a graph, a
  config) is invalid. Its message names the source (file or table), the location (row,
  institution or exposure id) and the field, and says what is allowed. Every problem found
  is listed, not only the first, up to :data:`MAX_PROBLEMS_SHOWN`.
* :class:`InvariantError` (a ``RuntimeError``): an accounting invariant failed during a
  simulation. It names the invariant, the institution and the day. This is a bug in a
  mechanism or a policy, never a user error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_PROBLEMS_SHOWN = 20


class ContagionError(Exception):
    """Base class of every error raised on purpose by contagion."""


@dataclass(frozen=True)
class Problem:
    """One validation problem: where it is, which field, and why it is wrong."""

    location: str
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.location}, " if self.location else ""
        return f"{where}field '{self.field}': {self.reason}"


class InputError(ContagionError, ValueError):
    """Invalid user input; ``problems`` lists every problem found, ``source`` names the file."""

    def __init__(self, problems: list[Problem] | Problem, source: str | None = None):
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        self.source = source
        super().__init__(self._message())

    @property
    def field(self) -> str | None:
        """The field of the first problem (for callers that report one)."""
        return self.problems[0].field if self.problems else None

    @classmethod
    def from_validation(
        cls,
        err: Any,
        location: str,
        source: str | None = None,
        *,
        prefix: tuple[str, ...] = (),
        skip: int = 0,
        empty: str = "(top level)",
    ) -> InputError:
        """Convert a pydantic ``ValidationError``: one problem per error, field = its path.

        ``prefix`` is prepended to each path and its first ``skip`` parts dropped (e.g. the
        discriminator tag of a union).
        """
        problems = []
        for e in err.errors():
            parts = [*prefix, *(str(x) for x in e["loc"][skip:])]
            problems.append(Problem(location, ".".join(parts) or empty, e["msg"]))
        return cls(problems, source)

    def with_source(self, source: str) -> InputError:
        """The same problems, attributed to ``source`` (a file path or table name)."""
        return InputError(self.problems, source=source)

    def _message(self) -> str:
        head = f"{self.source}: " if self.source else ""
        if len(self.problems) == 1:
            return f"{head}{self.problems[0]}"
        shown = self.problems[:MAX_PROBLEMS_SHOWN]
        lines = [f"{head}{len(self.problems)} problems:"]
        lines += [f"  - {p}" for p in shown]
        if len(self.problems) > len(shown):
            lines.append(f"  ... and {len(self.problems) - len(shown)} more")
        return "\n".join(lines)


class InvariantError(ContagionError, RuntimeError):
    """An accounting invariant failed: names the invariant, the institution and the day."""

    def __init__(self, invariant: str, institution: str | None, day: int | None, detail: str):
        self.invariant = invariant
        self.institution = institution
        self.day = day
        self.detail = detail
        who = f" at institution '{institution}'" if institution is not None else ""
        when = f" on day {day}" if day is not None else ""
        super().__init__(f"invariant '{invariant}' violated{who}{when}: {detail}")


class InputWarning(UserWarning):
    """Input that is used but worth a look, e.g. an unknown column kept as it is."""
