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

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

MAX_PROBLEMS_SHOWN = 20

#: Unicode categories refused in every id and name, and escaped wherever text is printed:
#: control characters (Cc: C0, DEL, C1 such as U+0085 and U+009B), format characters (Cf:
#: the bidirectional controls U+202A-U+202E, U+2066-U+2069, zero-width characters), lone
#: surrogates (Cs: not encodable as UTF-8) and line / paragraph separators (Zl, Zp).
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SAFE_ASCII = re.compile(r"[ -~]*")


def unsafe_characters(text: str, *, allow: str = "") -> list[str]:
    """The characters of ``text`` in :data:`UNSAFE_CATEGORIES` (except those in ``allow``),
    each once, in order of appearance."""
    if _SAFE_ASCII.fullmatch(text):  # the common case: printable ASCII
        return []
    seen: dict[str, None] = {}
    for ch in text:
        if ch not in allow and unicodedata.category(ch) in UNSAFE_CATEGORIES:
            seen[ch] = None
    return list(seen)


def text_problem(text: str, *, allow: str = "") -> str | None:
    """Why ``text`` may not be an id or a name (None if it may), naming the characters."""
    bad = unsafe_characters(text, allow=allow)
    if not bad:
        return None
    shown = ", ".join(f"U+{ord(c):04X}" for c in bad[:5])
    return f"must not contain control characters or format characters (found {shown})"


def printable(text: str) -> str:
    """``text`` safe for a terminal: characters of :data:`UNSAFE_CATEGORIES` other than a
    newline or a tab are written as Python escapes (``\\x1b``, ``\\u202e``)."""
    if not unsafe_characters(text, allow="\n\t"):
        return text
    return "".join(
        c if c in "\n\t" or unicodedata.category(c) not in UNSAFE_CATEGORIES else ascii(c)[1:-1]
        for c in text
    )


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

    def __reduce__(self) -> tuple[type[InputError], tuple[list[Problem], str | None]]:
        # pickled in worker processes: rebuild from the problems, not from the message
        # (the default would pass the message string as ``problems``)
        return (type(self), (self.problems, self.source))

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

    def __reduce__(self) -> tuple[type[InvariantError], tuple[str, str | None, int | None, str]]:
        return (type(self), (self.invariant, self.institution, self.day, self.detail))


class InputWarning(UserWarning):
    """Input that is used but worth a look, e.g. an unknown column kept as it is."""
