"""Vectorised validation and normalisation of the input tables against :mod:`contagion.schema`.

Each function returns the normalised table (every schema column present, defaults filled,
dtypes fixed, inapplicable exposure fields set to their neutral value) or raises
:class:`~contagion.errors.InputError` listing every problem with its row, id and field.
Checks are column-wise numpy passes; messages are only built for the offending rows.
Amounts (``*_usd_bn``) must be finite and at most :data:`MAX_AMOUNT_USD_BN` in size.

Roles of the exposures (:func:`normalise_exposures`): a futures exposure targets a CCP; a
CCP is never the member side of a future or swap; a ``central_bank``-segment repo has a
central bank at one end; a CCP borrows in repo only in the ``sponsored`` segment (FICC's
matched book, :mod:`contagion.mechanisms.sponsored`), at most one CCP does so, and its
sponsored borrowing equals its sponsored lending within :data:`MATCHED_BOOK_TOL_USD_BN` per
leg plus :data:`FUTURES_TOL_REL` of the book.

:func:`check_positions` checks the position table as a whole, once both tables are valid:

* **Strategy tags against instruments.** A ``basis`` book must hold cash Treasuries and be
  short futures; a ``swap_spread`` book must hold cash Treasuries and pay fixed on a swap
  (the two legs that define the trade, DESIGN.md 7.4). ``relative_value`` and
  ``directional`` books may hold any instruments.
* **Futures open interest adds up.** Every futures long faces a short at its CCP: for each
  (CCP, contract) the members' longs must equal their shorts, so that the CCP's book is flat
  and variation margin is zero-sum through it (the ``vm_zero_sum`` invariant of
  :mod:`contagion.testing` starts from that book); this the model requires. A market
  ``open_interest_usd_bn`` above zero is the contract's outright open interest (spreading
  positions, long and short the same contract in two delivery months, are flat in a market
  with one contract per bucket and are left out) and must equal the members' longs; zero
  (the default) means not stated. Tolerance of both: :data:`FUTURES_TOL_PER_POSITION_USD_BN`
  per position in the contract (amounts are commonly rounded to 1e-6 USD bn) plus
  :data:`FUTURES_TOL_REL` of the longs.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from contagion.errors import (
    MAX_PROBLEMS_SHOWN,
    InputError,
    InputWarning,
    Problem,
    printable,
    text_problem,
)
from contagion.market import Market
from contagion.schema import (
    EXPOSURE_COLUMNS,
    INSTITUTION_COLUMNS,
    INSTITUTION_SPEC,
    Column,
    holdings_column,
)

EQUITY_COLUMN = "equity_usd_bn"
# Any table amount beyond this (USD 10^18) is a data error; it also keeps sums of amounts
# far from float overflow (1e308) in the balance-sheet checks and the engine.
MAX_AMOUNT_USD_BN = 1e9
#: Tolerance of the futures checks of :func:`check_positions`: USD bn per position in the
#: contract (rounding of each amount) plus a relative part of the longs.
FUTURES_TOL_PER_POSITION_USD_BN = 1e-6
FUTURES_TOL_REL = 1e-9
#: Tolerance of FICC's matched-book check: USD bn per sponsored leg (rounding of each
#: amount) plus :data:`FUTURES_TOL_REL` of the book.
MATCHED_BOOK_TOL_USD_BN = 1e-6


def _where(table: str, ids: pd.Series, rows: Iterable[int]) -> list[str]:
    return [f"{table} row {r} (id '{ids.iloc[r]}')" for r in rows]


def _flag(problems, table, ids, mask, field, reason_of) -> None:
    """Add one problem per offending row (up to the display limit)."""
    rows = np.flatnonzero(np.asarray(mask))
    for r in rows[:MAX_PROBLEMS_SHOWN]:
        problems.append(Problem(f"{table} row {r} (id '{ids.iloc[r]}')", field, reason_of(r)))
    if len(rows) > MAX_PROBLEMS_SHOWN:
        problems.append(
            Problem(f"{table}", field, f"{len(rows) - MAX_PROBLEMS_SHOWN} more rows like these")
        )


def _as_float(
    problems: list[Problem], table: str, ids: pd.Series, values: pd.Series, col: str
) -> np.ndarray:
    """Coerce to float64, flagging entries that are not numbers (strings, bools, ...)."""
    if pd.api.types.is_bool_dtype(values):
        _flag(problems, table, ids, np.ones(len(values), bool), col, lambda r: "must be a number")
        return np.zeros(len(values))
    if values.dtype == object or pd.api.types.is_complex_dtype(values):
        # booleans, complex numbers and bytes would convert silently (True -> 1.0) or warn
        values = values.astype(object)
        odd = values.map(_not_a_real_number).to_numpy(dtype=bool)
        if odd.any():
            vals = values.to_numpy()
            _flag(problems, table, ids, odd, col, lambda r: f"must be a number, got {vals[r]!r}")
            values = values.where(~odd, None)
    try:
        numeric = pd.to_numeric(values, errors="coerce")
    except OverflowError:  # a Python int beyond the float range (e.g. 10**400 from YAML)
        numeric = pd.to_numeric(values.map(_clip_huge_int), errors="coerce")
    bad = numeric.isna() & values.notna()
    if bad.any():
        vals = values.to_numpy()
        _flag(problems, table, ids, bad, col, lambda r: f"must be a number, got {vals[r]!r}")
    return numeric.to_numpy(dtype=np.float64, na_value=np.nan)


def _not_a_real_number(v) -> bool:
    return isinstance(v, bool | np.bool_ | complex | np.complexfloating | bytes)


def _clip_huge_int(v):
    """Integers too large for a float become +-inf (then flagged as not finite)."""
    if isinstance(v, int) and not isinstance(v, bool):
        try:
            float(v)
        except OverflowError:
            return float("inf") if v > 0 else float("-inf")
    return v


def coerced_booleans(raw, validated, path: tuple[str, ...] = ()) -> list[str]:
    """Paths where a boolean in a raw document became a number or text after validation.

    pydantic's lax mode turns ``true`` into ``1.0``; a boolean where a number goes is a
    wrong type in every contagion document (compare the ``model_dump`` of the result).
    """
    if isinstance(raw, bool):
        return [] if isinstance(validated, bool) else [".".join(path) or "(top level)"]
    if isinstance(raw, Mapping) and isinstance(validated, Mapping):
        return [
            p
            for k, v in raw.items()
            if isinstance(k, str) and k in validated
            for p in coerced_booleans(v, validated[k], (*path, k))
        ]
    if isinstance(raw, list | tuple) and isinstance(validated, list | tuple):
        if len(raw) == len(validated):
            return [
                p
                for i, (r, v) in enumerate(zip(raw, validated, strict=True))
                for p in coerced_booleans(r, v, (*path, str(i)))
            ]
    return []


def _check_bounds(problems, table, ids, x: np.ndarray, spec: Column, active: np.ndarray) -> None:
    with np.errstate(invalid="ignore"):
        nonfinite = active & ~np.isfinite(x)
        _flag(
            problems,
            table,
            ids,
            nonfinite,
            spec.name,
            lambda r: f"must be a finite number, got {x[r]}",
        )
        ok = active & np.isfinite(x)
        if spec.name.endswith("_usd_bn"):
            _flag(
                problems,
                table,
                ids,
                ok & (np.abs(x) > MAX_AMOUNT_USD_BN),
                spec.name,
                lambda r: f"|amount| must be <= {MAX_AMOUNT_USD_BN:g} USD bn, got {x[r]:g}",
            )
            ok = ok & (np.abs(x) <= MAX_AMOUNT_USD_BN)
        if spec.min is not None:
            _flag(
                problems,
                table,
                ids,
                ok & (x < spec.min),
                spec.name,
                lambda r: f"must be >= {spec.min} ({spec.unit}), got {x[r]}",
            )
        if spec.max is not None:
            over = x >= spec.max if spec.max_exclusive else x > spec.max
            op = "<" if spec.max_exclusive else "<="
            _flag(
                problems,
                table,
                ids,
                ok & over,
                spec.name,
                lambda r: f"must be {op} {spec.max} ({spec.unit}), got {x[r]}",
            )


def _string_column(values: pd.Series) -> pd.Series:
    # map(str), not astype(str): numpy would decode bytes (UnicodeDecodeError)
    return values.astype(object).where(values.notna(), "").map(str).astype(object)


def _check_text(problems, table: str, ids: pd.Series, values: pd.Series, field: str) -> None:
    """Ids and names may not hold control or format characters (they break CSV and XML
    round trips and can rewrite a terminal; :data:`contagion.errors.UNSAFE_CATEGORIES`)."""
    reasons = values.map(text_problem)
    bad = reasons.notna().to_numpy(dtype=bool)
    shown = ids.map(printable)
    _flag(problems, table, shown, bad, field, lambda r: reasons.iloc[r])


def _check_unique_ids(problems, table: str, ids: pd.Series) -> None:
    dup = ids.duplicated(keep=False).to_numpy()
    empty = (ids == "").to_numpy()
    _flag(problems, table, ids, empty, "id", lambda r: "must be a non-empty string")
    first = {}
    for r in np.flatnonzero(dup & ~empty)[:MAX_PROBLEMS_SHOWN]:
        key = ids.iloc[r]
        if key in first:
            problems.append(
                Problem(
                    f"{table} row {r} (id '{key}')",
                    "id",
                    f"duplicate id (also in row {first[key]})",
                )
            )
        else:
            first[key] = r


def _unknown_columns(table: str, df: pd.DataFrame, known: set[str], hint: str) -> list[str]:
    """Columns the schema does not know: kept as they are, with an :class:`InputWarning`
    (an identifier such as ``lei`` travels with the table; a typo gets noticed)."""
    extra = [c for c in df.columns if str(c) not in known]
    if extra:
        warnings.warn(
            f"{table}: unknown column{'s' if len(extra) > 1 else ''} "
            f"{', '.join(repr(str(c)) for c in extra)} kept as given, not used by the model "
            f"(the model's columns: {hint})",
            InputWarning,
            stacklevel=4,
        )
    return extra


def _keep(out: pd.DataFrame, df: pd.DataFrame, extra: list) -> pd.DataFrame:
    """The normalised table with the unknown columns appended as given."""
    for c in extra:
        out[str(c)] = df[c].to_numpy()
    return out


def normalise_institutions(df: pd.DataFrame, market: Market) -> pd.DataFrame:
    """Validate the ``institutions`` table and return it with defaults filled."""
    table = "institutions"
    if not isinstance(df, pd.DataFrame):
        raise InputError(Problem(table, "institutions", "must be a pandas DataFrame"))
    df = df.reset_index(drop=True)
    hold_cols = [holdings_column(b) for b in market.bucket_names]
    known = {c.name for c in INSTITUTION_COLUMNS} | set(hold_cols) | {EQUITY_COLUMN}
    extra = _unknown_columns(
        table,
        df,
        known,
        "the schema columns (contagion.schema_table()) and " + ", ".join(hold_cols),
    )
    problems: list[Problem] = []
    for c in ("id", "type"):
        if c not in df.columns:
            problems.append(Problem(table, c, "required column is missing"))
    if problems:
        raise InputError(problems)
    out = pd.DataFrame(index=df.index)
    ids = _string_column(df["id"])
    out["id"] = ids
    _check_unique_ids(problems, table, ids)
    _check_text(problems, table, ids, ids, "id")
    if "name" in df.columns:
        _check_text(problems, table, ids, _string_column(df["name"]), "name")
    types = _string_column(df["type"])
    spec = INSTITUTION_SPEC["type"]
    bad_type = ~types.isin(spec.allowed).to_numpy()
    _flag(
        problems,
        table,
        ids,
        bad_type,
        "type",
        lambda r: f"unknown type {types.iloc[r]!r}; allowed: {', '.join(spec.allowed)}",
    )
    if problems:
        raise InputError(problems)
    name = _string_column(df["name"]) if "name" in df.columns else ids
    out["name"] = name.where(name != "", ids)
    out["type"] = types
    out["strategy"], out["fund_id"] = _strategy_and_fund(problems, table, ids, df, types)
    type_arr = types.to_numpy()
    everyone = np.ones(len(df), bool)
    for c in (c for c in INSTITUTION_COLUMNS if c.dtype == "float"):
        x = _fill(problems, table, ids, df, c, type_arr)
        _check_bounds(problems, table, ids, x, c, everyone)
        out[c.name] = x
    for hc in hold_cols:
        x = _as_float(problems, table, ids, df[hc], hc) if hc in df.columns else np.zeros(len(df))
        hspec = Column(hc, "float", "USD bn par", "", default=0.0, min=0.0)
        _check_bounds(problems, table, ids, x, hspec, everyone)
        out[hc] = x
    if EQUITY_COLUMN in df.columns:
        eq = _as_float(problems, table, ids, df[EQUITY_COLUMN], EQUITY_COLUMN)
        espec = Column(EQUITY_COLUMN, "float", "USD bn", "", min=None)
        given = ~df[EQUITY_COLUMN].isna().to_numpy()  # blank equity = derive it
        _check_bounds(problems, table, ids, eq, espec, given)
        out[EQUITY_COLUMN] = eq
    if problems:
        raise InputError(problems)
    return _keep(out, df, extra)


def _strategy_and_fund(
    problems: list[Problem], table: str, ids: pd.Series, df: pd.DataFrame, types: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """``strategy`` and ``fund_id`` of every institution (blank fund_id: its own id).

    A strategy tag is one of :data:`contagion.schema.STRATEGIES` and only a hedge fund has
    one; only hedge funds share a fund: another type's ``fund_id`` is its own id, and a
    ``fund_id`` that is the id of another institution must name a book of that same fund.
    """
    blank = pd.Series([""] * len(df), dtype=object)
    strategy = _string_column(df["strategy"]) if "strategy" in df.columns else blank
    spec = INSTITUTION_SPEC["strategy"]
    allowed = ", ".join(a for a in spec.allowed if a)
    _flag(problems, table, ids, ~strategy.isin(spec.allowed).to_numpy(), "strategy",
          lambda r: f"unknown strategy {strategy.iloc[r]!r}; allowed: {allowed} (or "
          "blank)")  # fmt: skip
    hf = (types == "hedge_fund").to_numpy()
    _flag(problems, table, ids, (strategy != "").to_numpy() & ~hf, "strategy",
          lambda r: f"only a hedge_fund book has a strategy; a {types.iloc[r]} has none "
          "(leave it blank)")  # fmt: skip
    fund = _string_column(df["fund_id"]) if "fund_id" in df.columns else blank
    _check_text(problems, table, ids, fund, "fund_id")
    fund = fund.where(fund != "", ids)
    own = (fund == ids).to_numpy()
    _flag(problems, table, ids, ~own & ~hf, "fund_id",
          lambda r: f"only hedge-fund books share a fund; a {types.iloc[r]}'s fund_id must be "
          "blank or its own id")  # fmt: skip
    row_of = pd.Series(np.arange(len(ids)), index=ids.to_numpy())
    row_of = row_of[~row_of.index.duplicated()]
    other = row_of.reindex(fund.to_numpy()).to_numpy()  # row of the institution so named
    named = ~own & hf & ~np.isnan(other)
    j = np.where(named, other, 0).astype(np.int64)
    clash = named & ((fund.to_numpy()[j] != fund.to_numpy()) | ~hf[j])
    _flag(problems, table, ids, clash, "fund_id",
          lambda r: f"{fund.iloc[r]!r} is the id of institution row {j[r]} (a "
          f"{types.iloc[j[r]]} in fund {fund.iloc[j[r]]!r}), not a book of that fund")  # fmt: skip
    return strategy, fund


def _fill(problems, table, ids, df, c: Column, type_arr: np.ndarray) -> np.ndarray:
    """The column as float64 with defaults filled.

    An absent column takes its default. Inside a present column a blank (NaN) means "the
    type default" only for behavioural parameters (per-type defaults); a blank balance-sheet
    amount is an error, never a silent zero.
    """
    n = len(df)
    if c.name not in df.columns:
        if isinstance(c.default, dict):
            return pd.Series(type_arr).map(c.default_for).to_numpy(float)
        return np.full(n, float(c.default))
    x = _as_float(problems, table, ids, df[c.name], c.name)
    if isinstance(c.default, dict):
        blank = np.isnan(x) & df[c.name].isna().to_numpy()
        if blank.any():
            defaults = pd.Series(type_arr).map(c.default_for).to_numpy(float)
            x = np.where(blank, defaults, x)
    return x


def normalise_exposures(
    df: pd.DataFrame, institutions: pd.DataFrame, market: Market
) -> pd.DataFrame:
    """Validate the ``exposures`` table against the institutions and the market."""
    table = "exposures"
    if not isinstance(df, pd.DataFrame):
        raise InputError(Problem(table, "exposures", "must be a pandas DataFrame"))
    df = df.reset_index(drop=True)
    known = {c.name for c in EXPOSURE_COLUMNS}
    extra = _unknown_columns(table, df, known, ", ".join(sorted(known)))
    problems: list[Problem] = []
    for c in ("kind", "source", "target"):
        if c not in df.columns:
            problems.append(Problem(table, c, "required column is missing"))
    if problems:
        raise InputError(problems)
    n = len(df)
    kind = _string_column(df["kind"])
    ids = _string_column(df["id"]) if "id" in df.columns else pd.Series([""] * n, dtype=object)
    auto = (ids == "").to_numpy()
    if auto.any():
        ids = ids.where(~auto, kind + "-" + pd.Series(np.arange(n)).astype(str))
    out = pd.DataFrame({"id": ids, "kind": kind})
    _check_unique_ids(problems, table, ids)
    _check_text(problems, table, ids, ids, "id")
    kspec = EXPOSURE_COLUMNS[1]
    _flag(
        problems,
        table,
        ids,
        ~kind.isin(kspec.allowed).to_numpy(),
        "kind",
        lambda r: f"unknown kind {kind.iloc[r]!r}; allowed: {', '.join(kspec.allowed)}",
    )
    type_of = pd.Series(institutions["type"].to_numpy(), index=institutions["id"].to_numpy())
    for end in ("source", "target"):
        v = _string_column(df[end])
        out[end] = v
        _flag(
            problems,
            table,
            ids,
            ~v.isin(type_of.index).to_numpy(),
            end,
            lambda r, v=v: f"unknown institution {v.iloc[r]!r}",
        )
    _flag(
        problems,
        table,
        ids,
        (out["source"] == out["target"]).to_numpy(),
        "target",
        lambda r: "an exposure cannot link an institution to itself",
    )
    if problems:
        raise InputError(problems)
    kinds = kind.to_numpy()
    for c in EXPOSURE_COLUMNS[4:]:
        active = np.isin(kinds, c.kinds) if c.kinds else np.ones(n, bool)
        if c.dtype == "float":
            if c.name in df.columns:
                x = _as_float(problems, table, ids, df[c.name], c.name)
            elif c.default is None:
                if active.any():
                    needed = ", ".join(c.kinds or ())
                    problems.append(
                        Problem(table, c.name, f"required column is missing ({needed})")
                    )
                x = np.zeros(n)
            else:
                x = np.full(n, float(c.default))
            if c.name == "rate_pct":  # blank = the market repo rate (documented)
                x = np.where(np.isnan(x), market.repo_rate_pct, x)
            _check_bounds(problems, table, ids, x, c, active)
            out[c.name] = np.where(active, x, c.neutral)
        else:
            s = _string_column(df[c.name]) if c.name in df.columns else pd.Series([""] * n)
            if c.default is not None:
                s = s.where(s != "", c.default)
            allowed = _allowed_values(c, market)
            _flag(
                problems,
                table,
                ids,
                active & ~s.isin(allowed).to_numpy(),
                c.name,
                lambda r, s=s, allowed=allowed: (
                    f"unknown value {s.iloc[r]!r}; allowed: {', '.join(allowed)}"
                    if s.iloc[r]
                    else f"required for {kinds[r]} exposures; allowed: {', '.join(allowed)}"
                ),
            )
            out[c.name] = s.where(active, c.neutral).to_numpy(dtype=object)
    if problems:
        raise InputError(problems)
    _check_roles(problems, table, ids, out, type_of)
    if problems:
        raise InputError(problems)
    return _keep(out, df, extra)


def _allowed_values(c: Column, market: Market) -> list[str]:
    if c.allowed is not None:
        return list(c.allowed)
    if c.name in ("collateral_bucket", "swap_tenor"):
        return market.bucket_names
    if c.name == "futures_contract":
        return market.futures_codes
    raise AssertionError(c.name)


def _check_roles(problems, table, ids, out: pd.DataFrame, type_of: pd.Series) -> None:
    """Who may stand at each end of each kind of exposure."""
    kinds = out["kind"].to_numpy()
    src_type = type_of.reindex(out["source"]).to_numpy()
    tgt_type = type_of.reindex(out["target"]).to_numpy()
    fut = kinds == "futures"
    _flag(
        problems,
        table,
        ids,
        fut & (tgt_type != "ccp"),
        "target",
        lambda r: f"a futures exposure's target must be a ccp, got a {tgt_type[r]}",
    )
    _flag(
        problems,
        table,
        ids,
        (fut | (kinds == "swap")) & (src_type == "ccp"),
        "source",
        lambda r: "a ccp cannot be the member side of a futures or swap exposure",
    )
    _flag(
        problems,
        table,
        ids,
        (kinds == "futures") & (out["notional_usd_bn"].to_numpy() == 0)
        | (kinds == "swap") & (out["notional_usd_bn"].to_numpy() == 0),
        "notional_usd_bn",
        lambda r: "must be non-zero (signed: + long / receive fixed, - short / pay fixed)",
    )
    cb_seg = (kinds == "repo") & (out["segment"].to_numpy() == "central_bank")
    _flag(
        problems,
        table,
        ids,
        cb_seg & (src_type != "central_bank") & (tgt_type != "central_bank"),
        "segment",
        lambda r: "a central_bank-segment repo needs a central_bank as lender or borrower",
    )
    segment = out["segment"].to_numpy()
    _flag(
        problems,
        table,
        ids,
        (kinds == "repo") & (tgt_type == "ccp") & (segment != "sponsored"),
        "target",
        lambda r: (
            "a ccp borrows in repo only in the sponsored segment (FICC's matched book: "
            "lender -> ccp and ccp -> sponsored member, both segment 'sponsored')"
        ),
    )
    _check_matched_book(problems, out, type_of)


def _check_matched_book(problems: list[Problem], out: pd.DataFrame, type_of: pd.Series) -> None:
    """A CCP that borrows in sponsored repo (FICC) lends on exactly what it borrows: its
    sponsored borrowing and lending sum to the same amount (within
    :data:`MATCHED_BOOK_TOL_USD_BN` per leg plus :data:`FUTURES_TOL_REL` of the book)."""
    spon = (out["kind"].to_numpy() == "repo") & (out["segment"].to_numpy() == "sponsored")
    if not spon.any():
        return
    amount = out["amount_usd_bn"].to_numpy(dtype=np.float64)
    source, target = out["source"].to_numpy(), out["target"].to_numpy()
    ccps = sorted(set(target[spon & (type_of.reindex(target).to_numpy() == "ccp")]))
    rows_of = {k: i for i, k in enumerate(type_of.index)}
    if len(ccps) > 1:
        problems.append(
            Problem(
                "institutions rows " + ", ".join(str(rows_of[k]) for k in ccps),
                "type",
                f"{len(ccps)} ccps borrow in sponsored repo ({', '.join(ccps)}); one FICC per "
                "system takes the sponsored members' guarantees",
            )
        )
    for ccp in ccps:
        up, down = spon & (target == ccp), spon & (source == ccp)
        borrowed, lent = float(amount[up].sum()), float(amount[down].sum())
        legs = int(up.sum() + down.sum())
        tol = MATCHED_BOOK_TOL_USD_BN * legs + FUTURES_TOL_REL * max(borrowed, lent)
        if abs(borrowed - lent) <= tol:
            continue
        rows = np.flatnonzero(up | down)
        shown = ", ".join(str(r) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
        problems.append(
            Problem(
                f"exposures rows {shown} (sponsored repo of ccp '{ccp}', institutions row "
                f"{rows_of[ccp]})",
                "amount_usd_bn",
                f"the ccp borrows {borrowed:.6f} and lends {lent:.6f} USD bn in sponsored "
                f"repo (gap {borrowed - lent:+.6f}, tolerance {tol:.1e}): FICC's book is "
                "matched, every sponsored trade is a leg lender -> ccp and a leg ccp -> "
                "member of the same amount",
            )
        )


def check_positions(institutions: pd.DataFrame, exposures: pd.DataFrame, market: Market) -> None:
    """Strategy tags against instruments and futures open interest (see the module doc).

    Takes the normalised tables (:func:`normalise_institutions`, :func:`normalise_exposures`)
    and raises :class:`InputError` listing every problem: the institutions row and field
    ``strategy`` for a tag its instruments contradict; the futures exposure rows of a
    contract and field ``notional_usd_bn`` for longs that do not match shorts; the market
    contract and field ``open_interest_usd_bn`` for a stated open interest the longs miss.
    """
    problems: list[Problem] = []
    ids = institutions["id"]
    strategy = institutions["strategy"].to_numpy()
    holds = np.zeros(len(institutions), bool)
    for b in market.bucket_names:
        holds |= institutions[holdings_column(b)].to_numpy(dtype=np.float64) > 0
    kind = exposures["kind"].to_numpy()
    notional = exposures["notional_usd_bn"].to_numpy(dtype=np.float64)
    source = exposures["source"].to_numpy()
    short_futures = set(source[(kind == "futures") & (notional < 0)])
    pay_fixed = set(source[(kind == "swap") & (notional < 0)])
    has_short = ids.isin(short_futures).to_numpy()
    has_pay = ids.isin(pay_fixed).to_numpy()
    basis, swap = strategy == "basis", strategy == "swap_spread"
    table = "institutions"
    _flag(problems, table, ids, (basis | swap) & ~holds, "strategy",
          lambda r: f"a {strategy[r]!r} book is long cash Treasuries; it holds none")  # fmt: skip
    _flag(problems, table, ids, basis & ~has_short, "strategy",
          lambda r: "a 'basis' book is short futures against its bonds; it has no futures "
          "exposure with a negative notional_usd_bn")  # fmt: skip
    _flag(problems, table, ids, swap & ~has_pay, "strategy",
          lambda r: "a 'swap_spread' book pays fixed on a swap against its bonds; it has no "
          "swap exposure with a negative notional_usd_bn")  # fmt: skip
    _check_open_interest(problems, exposures, market)
    if problems:
        raise InputError(problems)


def _check_open_interest(problems: list[Problem], exposures: pd.DataFrame, market: Market) -> None:
    fut = exposures[exposures["kind"] == "futures"]
    if fut.empty:
        return
    n = fut["notional_usd_bn"].to_numpy(dtype=np.float64)
    frame = pd.DataFrame(
        {
            "ccp": fut["target"].to_numpy(),
            "contract": fut["futures_contract"].to_numpy(),
            "long": np.where(n > 0, n, 0.0),
            "short": np.where(n < 0, -n, 0.0),
            "count": 1,
        },
        index=fut.index,
    )
    books = frame.groupby(["ccp", "contract"], sort=True)[["long", "short", "count"]].sum()
    for (ccp, contract), rec in books.iterrows():
        tol = FUTURES_TOL_PER_POSITION_USD_BN * rec["count"] + FUTURES_TOL_REL * rec["long"]
        gap = rec["long"] - rec["short"]
        if abs(gap) <= tol:
            continue
        rows = frame.index[(frame["ccp"] == ccp) & (frame["contract"] == contract)]
        shown = ", ".join(str(r) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
        problems.append(
            Problem(
                f"exposures rows {shown} (futures_contract '{contract}' at ccp '{ccp}', "
                f"{len(rows)} positions)",
                "notional_usd_bn",
                f"longs {rec['long']:.6f} and shorts {rec['short']:.6f} USD bn face do not "
                f"match (net {gap:+.6f}, tolerance {tol:.1e}): every futures long faces a "
                "short at its CCP, whose book must be flat",
            )
        )
    by_contract = frame.groupby("contract")[["long", "count"]].sum()
    for f in market.futures:
        if f.open_interest_usd_bn <= 0:
            continue
        longs = float(by_contract["long"].get(f.code, 0.0))
        count = int(by_contract["count"].get(f.code, 0))
        tol = FUTURES_TOL_PER_POSITION_USD_BN * max(count, 1) + FUTURES_TOL_REL * longs
        if abs(longs - f.open_interest_usd_bn) > tol:
            problems.append(
                Problem(
                    f"market futures '{f.code}'",
                    "open_interest_usd_bn",
                    f"{f.open_interest_usd_bn:.6f} USD bn, but the members' longs add up to "
                    f"{longs:.6f} (tolerance {tol:.1e}); state the outright open interest "
                    "(spreads excluded) or 0 for not stated",
                )
            )
