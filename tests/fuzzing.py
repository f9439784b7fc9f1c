"""Hypothesis strategies shared by the fuzz tests: valid documents with random mutations.

:func:`mutated` drops keys, replaces values by odd ones (:data:`ODD_VALUES`: NaN, infinities,
huge and negative numbers, wrong types, control and format characters, formula-like text),
renames ids, adds keys and scales numbers, a few times over, starting from a valid
document, so most examples are near misses that exercise validation rather than parsing.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

POLICIES: list[dict[str, Any]] = [
    {"type": "qe", "budget_usd_bn": 500, "reactive_share": 0.5,
     "schedule_usd_bn": {"10y": [10.0, 20.0]}, "max_price": {"10y": 101.0},
     "trigger": {"start_day": 2, "metric": "basis_widening_TY_bp", "threshold": 5.0}},
    {"type": "srf", "aggregate_limit_usd_bn": 500, "eligible": ["dealer", "hedge_fund"],
     "min_bid_spread_bp": 0, "stigma_premium_bp": 5},
    {"type": "swf", "budget_usd_bn": 100, "funding": "new_issuance", "issuance_bucket": "30y"},
    {"type": "min_haircut", "floor_frac": 0.02, "segments": ["bilateral"]},
    {"type": "apc_margin", "max_daily_increase_frac": 0.1, "cap_multiplier": 2.0},
    {"type": "basis_facility", "budget_usd_bn": 500, "contracts": ["TY"]},
]  # fmt: skip

ODD_VALUES = st.one_of(
    st.sampled_from(
        [float("nan"), float("inf"), -float("inf"), 1e308, -1e308, 10**400, -(10**400),
         2**63, -1, -1.0, 0, True, False, None, "", "lots", "NaN", "1e309", [], {}, [1.0],
         {"a": 1}, "10y", "hf_alpha", "\x00", "é" * 3, "\x1b[2J", "\u0085", "\u202e",
         "=cmd()", "no_action"]
    ),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.text(max_size=8),
)  # fmt: skip


def _odd(draw) -> Any:
    """An odd value, copied: the lists and mappings of ODD_VALUES are shared objects, and a
    later mutation inside one would change what the strategy draws (a flaky strategy)."""
    return copy.deepcopy(draw(ODD_VALUES))


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys / indices) to a node of a JSON-like document."""
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _get(doc: Any, path: tuple) -> Any:
    for k in path:
        doc = doc[k]
    return doc


@st.composite
def mutated(draw, base: Any, max_mutations: int = 3) -> Any:
    """A copy of ``base`` with a few random mutations."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, max_mutations))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["drop", "replace", "replace", "rename", "extra", "scale"]))
        if not path:
            if op == "replace":
                return _odd(draw)
            continue
        parent, key = _get(doc, path[:-1]), path[-1]
        if op == "drop":
            del parent[key]
        elif op == "replace":
            parent[key] = _odd(draw)
        elif op == "rename" and isinstance(parent[key], str):
            parent[key] = draw(st.sampled_from(["", "nobody", "hf_alpha", "dealer_a", "ccp"]))
        elif op == "extra" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "id", "1", "type"]))] = _odd(draw)
        elif op == "scale" and isinstance(parent[key], int | float):
            factor = draw(st.sampled_from([-1, 0, 1e300, 1e-300, 10**400]))
            try:
                parent[key] = parent[key] * factor
            except OverflowError:  # float * 10**400
                parent[key] = 10**400
    return doc
