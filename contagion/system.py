"""The system: a typed multiplex network of institutions and exposures, and its market.

A :class:`System` is built from two tidy tables (``institutions``, one long ``exposures``)
and a :class:`~contagion.market.Market`, validated on construction, and immutable. The
engine never touches the tables or a graph: it runs on :meth:`System.compile`, an array
view built once. Conversions to and from YAML/JSON, CSV, networkx, GraphML and node-link
JSON live in :mod:`contagion.io`; descriptive views in :mod:`contagion.views`.

Validation beyond the per-column schema (all problems are reported together):

* every balance sheet balances: a given ``equity_usd_bn`` must equal assets - liabilities
  within ``BALANCE_TOLERANCE_USD_BN`` + ``BALANCE_TOLERANCE_REL`` x assets;
* no institution but the central bank starts with negative equity;
* a borrower's repo is covered by collateral: for each borrower and bucket,
  sum(amount / (1 - haircut)) <= market value of its holdings plus collateral it has
  received in reverse repo (which dealers may re-pledge);
* holdings of each bucket do not exceed the bucket's outstanding amount;
* strategy tags match the books' instruments and futures open interest adds up per CCP
  and contract (:func:`contagion.validation.check_positions`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from contagion.compiled import (
    CompiledSystem,
    MarginedArrays,
    MarketArrays,
    RepoArrays,
    UnsecuredArrays,
)
from contagion.errors import MAX_PROBLEMS_SHOWN, InputError, Problem, text_problem
from contagion.market import Market
from contagion.schema import (
    BEHAVIOUR_COLUMNS,
    INSTITUTION_TYPES,
    REPO_SEGMENTS,
    holdings_column,
)
from contagion.validation import (
    EQUITY_COLUMN,
    check_positions,
    normalise_exposures,
    normalise_institutions,
)

BALANCE_TOLERANCE_USD_BN = 1e-6
BALANCE_TOLERANCE_REL = 1e-9
COLLATERAL_TOLERANCE_REL = 1e-9


class System:
    """A validated, immutable system of institutions, exposures and a market.

    Parameters
    ----------
    institutions : DataFrame
        One row per institution; columns in :func:`contagion.schema_table` ("institutions")
        plus ``ust_<bucket>_par_usd_bn`` per market bucket and, optionally,
        ``equity_usd_bn`` (checked against the balance sheet; derived when absent).
    exposures : DataFrame
        One row per exposure; columns in :func:`contagion.schema_table` ("exposures").
    market : Market or mapping
        The market (validated by :class:`contagion.Market`).
    name, description : str
        Labels carried into exports and reports.
    metadata : mapping
        Free-form provenance (data vintage, sources, placeholder flags); must be JSON-able.
    source : str, optional
        The file the system was read from, used in error messages.

    Raises
    ------
    InputError
        Naming the source, the row / institution / exposure and the field of every problem.
    """

    def __init__(
        self,
        institutions: pd.DataFrame,
        exposures: pd.DataFrame,
        market: Market | Mapping[str, Any],
        *,
        name: str = "system",
        description: str = "",
        metadata: Mapping[str, Any] | None = None,
        source: str | None = None,
    ) -> None:
        try:
            if not isinstance(market, Market):
                market = _validate_market(market)
            inst, exp = _normalise_tables(institutions, exposures, market)
            compiled = _compile(inst, exp, market)
            equity = _check_accounts(inst, compiled)
            check_positions(inst, exp, market)
        except InputError as err:
            if source:
                raise err.with_source(source) from None
            raise
        _check_labels(name, description, metadata, source)
        inst[EQUITY_COLUMN] = equity
        self._institutions = inst
        self._exposures = exp
        self._compiled = compiled
        self.market: Market = market
        self.name = str(name)
        self.description = str(description)
        self.metadata: dict[str, Any] = dict(metadata or {})

    # --- construction ------------------------------------------------------------------
    @classmethod
    def from_tables(
        cls,
        institutions: pd.DataFrame,
        exposures: pd.DataFrame,
        market: Market | Mapping[str, Any],
        **kwargs: Any,
    ) -> System:
        """Build from the two tidy tables and a market (same as the constructor)."""
        return cls(institutions, exposures, market, **kwargs)

    # --- views -------------------------------------------------------------------------
    @property
    def institutions(self) -> pd.DataFrame:
        """The normalised institutions table (a copy), with ``equity_usd_bn`` derived."""
        return self._institutions.copy()

    @property
    def exposures(self) -> pd.DataFrame:
        """The normalised exposures table (a copy)."""
        return self._exposures.copy()

    def to_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(institutions, exposures), normalised copies."""
        return self.institutions, self.exposures

    def compile(self) -> CompiledSystem:
        """The array view for the engine (built once at construction)."""
        return self._compiled

    @property
    def n_institutions(self) -> int:
        return len(self._institutions)

    @property
    def n_exposures(self) -> int:
        return len(self._exposures)

    @cached_property
    def _equal_key(self) -> tuple:
        return (
            self.name,
            self.description,
            repr(sorted(self.metadata.items())),
            self.market.model_dump_json(),
        )

    def equals(self, other: System) -> bool:
        """True when both systems have identical tables, market, name and metadata."""
        return (
            isinstance(other, System)
            and self._equal_key == other._equal_key
            and self._institutions.equals(other._institutions)
            and self._exposures.equals(other._exposures)
        )

    def __repr__(self) -> str:
        counts = self._institutions["type"].value_counts()
        parts = ", ".join(f"{counts[t]} {t}" for t in INSTITUTION_TYPES if t in counts)
        return (
            f"<System {self.name!r}: {self.n_institutions} institutions ({parts}); "
            f"{self.n_exposures} exposures>"
        )

    def summary(self) -> pd.DataFrame:
        """Per-sector aggregates (see :func:`contagion.views.sector_aggregates`)."""
        from contagion.views import sector_aggregates

        return sector_aggregates(self)


def _normalise_tables(
    institutions: pd.DataFrame, exposures: pd.DataFrame, market: Market
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both tables validated, every problem of both reported together: when the
    institutions fail, the exposures are still checked against their ids and types."""
    try:
        inst = normalise_institutions(institutions, market)
    except InputError as err:
        stand_in = _ids_and_types(institutions)
        if stand_in is None:
            raise
        try:
            normalise_exposures(exposures, stand_in, market)
        except InputError as more:
            raise InputError([*err.problems, *more.problems]) from None
        raise
    return inst, normalise_exposures(exposures, inst, market)


def _ids_and_types(institutions: Any) -> pd.DataFrame | None:
    """The ``id`` and ``type`` columns as text (to check exposures against), if present."""
    if not isinstance(institutions, pd.DataFrame) or not {"id", "type"} <= set(
        institutions.columns
    ):
        return None
    try:  # best effort: any cell that is not text is shown by the institutions' problems
        table = {c: [str(v) for v in institutions[c]] for c in ("id", "type")}
    except Exception:
        return None
    return pd.DataFrame(table).drop_duplicates("id")


def _check_labels(name: Any, description: Any, metadata: Any, source: str | None) -> None:
    """Name and description are safe strings (market names are checked by their pattern,
    :mod:`contagion.market`); metadata must survive a JSON save, and its calibrated parameters
    (``model_params``, ``model_params_uncertainty``) must be valid for
    :class:`~contagion.ModelParams`."""
    import json

    from contagion.scenario import parameter_problems, range_problems

    problems = [
        Problem("system", field, "must be a string")
        for field, value in (("name", name), ("description", description))
        if not isinstance(value, str)
    ]
    for field, value, allow in (("name", name, ""), ("description", description, "\n\t")):
        reason = text_problem(value, allow=allow) if isinstance(value, str) else None
        if reason:
            problems.append(Problem("system", field, reason))
    meta = metadata or {}
    try:
        json.dumps(dict(meta), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as err:
        problems.append(Problem("system", "metadata", f"must be plain JSON data ({err})"))
    else:
        if meta.get("model_params") is not None:
            problems += parameter_problems(
                meta["model_params"], location="system", field="metadata.model_params"
            )
        if meta.get("model_params_uncertainty") is not None:
            problems += range_problems(
                meta["model_params_uncertainty"],
                location="system",
                field="metadata.model_params_uncertainty",
            )
    if problems:
        raise InputError(problems, source)


def _validate_market(market: Mapping[str, Any]) -> Market:
    from pydantic import ValidationError

    try:
        return Market.model_validate(market)
    except ValidationError as err:
        raise InputError.from_validation(err, "market", empty="market") from None


def _compile(inst: pd.DataFrame, exp: pd.DataFrame, market: Market) -> CompiledSystem:
    ids = inst["id"].to_numpy(dtype=object)
    index = pd.Index(ids)
    buckets = pd.Index(market.bucket_names)
    codes = pd.Index(market.futures_codes)
    kind = exp["kind"].to_numpy()
    src = index.get_indexer(exp["source"])
    tgt = index.get_indexer(exp["target"])
    eids = exp["id"].to_numpy(dtype=object)

    def col(name: str, rows: np.ndarray) -> np.ndarray:
        return exp[name].to_numpy(dtype=np.float64)[rows]

    r = np.flatnonzero(kind == "repo")
    repo = RepoArrays(
        ids=eids[r],
        lender=src[r].astype(np.int64),
        borrower=tgt[r].astype(np.int64),
        amount_usd_bn=col("amount_usd_bn", r),
        bucket=buckets.get_indexer(exp["collateral_bucket"].to_numpy()[r]).astype(np.int64),
        haircut_frac=col("haircut_frac", r),
        rate_pct=col("rate_pct", r),
        tenor_days=col("tenor_days", r),
        segment=pd.Index(REPO_SEGMENTS).get_indexer(exp["segment"].to_numpy()[r]).astype(np.int64),
    )

    def margined(k: str, instrument_col: str, lookup: pd.Index) -> MarginedArrays:
        rows = np.flatnonzero(kind == k)
        return MarginedArrays(
            ids=eids[rows],
            source=src[rows].astype(np.int64),
            target=tgt[rows].astype(np.int64),
            instrument=lookup.get_indexer(exp[instrument_col].to_numpy()[rows]).astype(np.int64),
            notional_usd_bn=col("notional_usd_bn", rows),
            initial_margin_usd_bn=col("initial_margin_usd_bn", rows),
        )

    u = np.flatnonzero(kind == "unsecured")
    m = market
    fut_bucket = buckets.get_indexer([f.bucket for f in m.futures]).astype(np.int64)
    market_arrays = MarketArrays(
        bucket_names=tuple(m.bucket_names),
        maturity_years=np.array([b.maturity_years for b in m.buckets]),
        outstanding_usd_bn=np.array([b.outstanding_usd_bn for b in m.buckets]),
        yield_pct=np.array([b.yield_pct for b in m.buckets]),
        modified_duration_years=np.array([b.modified_duration_years for b in m.buckets]),
        convexity_years2=np.array([b.convexity_years2 for b in m.buckets]),
        price=np.array([b.price for b in m.buckets]),
        futures_codes=tuple(m.futures_codes),
        futures_bucket=fut_bucket,
        conversion_factor=np.array([f.conversion_factor for f in m.futures]),
        futures_price=np.array([f.price for f in m.futures]),
        initial_margin_frac=np.array([f.initial_margin_frac for f in m.futures]),
        swap_rate_pct=m.swap_rates_array(),
        repo_rate_pct=m.repo_rate_pct,
        on_rrp_rate_pct=m.on_rrp_rate_pct,
        policy_rate_pct=m.policy_rate_pct,
        range_lower_pct=m.range_lower_pct,
        iorb_pct=m.iorb_rate_pct,
        srf_rate_pct=m.srf_rate_pct,
        discount_rate_pct=m.primary_credit_rate_pct,
        bank_reserves_usd_bn=np.nan if m.bank_reserves_usd_bn is None else m.bank_reserves_usd_bn,
        bank_assets_usd_bn=np.nan if m.bank_assets_usd_bn is None else m.bank_assets_usd_bn,
        volatility_index=m.volatility_index,
    )
    return CompiledSystem(
        ids=ids,
        names=inst["name"].to_numpy(dtype=object),
        type_code=pd.Categorical(inst["type"], categories=INSTITUTION_TYPES).codes.astype(np.int8),
        strategy=inst["strategy"].to_numpy(dtype=object),
        fund_id=inst["fund_id"].to_numpy(dtype=object),
        cash_usd_bn=inst["cash_usd_bn"].to_numpy(dtype=np.float64),
        other_assets_usd_bn=inst["other_assets_usd_bn"].to_numpy(dtype=np.float64),
        other_liabilities_usd_bn=inst["other_liabilities_usd_bn"].to_numpy(dtype=np.float64),
        holdings_par_usd_bn=inst[[holdings_column(b) for b in m.bucket_names]].to_numpy(
            dtype=np.float64
        ),
        behaviour={c: inst[c].to_numpy(dtype=np.float64) for c in BEHAVIOUR_COLUMNS},
        repo=repo,
        futures=margined("futures", "futures_contract", codes),
        swaps=margined("swap", "swap_tenor", buckets),
        unsecured=UnsecuredArrays(
            ids=eids[u],
            creditor=src[u].astype(np.int64),
            debtor=tgt[u].astype(np.int64),
            amount_usd_bn=col("amount_usd_bn", u),
        ),
        market=market_arrays,
    )


def _check_accounts(inst: pd.DataFrame, cs: CompiledSystem) -> np.ndarray:
    """Balance-sheet, collateral and outstanding checks; returns derived equity."""
    problems: list[Problem] = []
    ids = cs.ids
    assets, liabilities = cs.balance_sheet()
    equity = assets - liabilities
    is_cb = cs.mask("central_bank")

    def flag(mask: np.ndarray, field: str, reason: Callable[[int], str]) -> None:
        rows = np.flatnonzero(mask)
        for i in rows[:MAX_PROBLEMS_SHOWN]:
            problems.append(Problem(f"institution '{ids[i]}'", field, reason(i)))
        if len(rows) > MAX_PROBLEMS_SHOWN:
            extra = len(rows) - MAX_PROBLEMS_SHOWN
            problems.append(Problem("institutions", field, f"{extra} more like these"))

    if EQUITY_COLUMN in inst.columns:
        given = inst[EQUITY_COLUMN].to_numpy(dtype=np.float64)
        tol = BALANCE_TOLERANCE_USD_BN + BALANCE_TOLERANCE_REL * np.abs(assets)
        flag(
            ~np.isnan(given) & (np.abs(given - equity) > tol),
            EQUITY_COLUMN,
            lambda i: (
                f"balance sheet does not balance: assets {assets[i]:.6f} - liabilities "
                f"{liabilities[i]:.6f} = {equity[i]:.6f}, but equity is {given[i]:.6f} "
                f"(tolerance {tol[i]:.2e} USD bn)"
            ),
        )
    flag(
        (equity < -BALANCE_TOLERANCE_USD_BN) & ~is_cb,
        EQUITY_COLUMN,
        lambda i: f"starts insolvent: equity {equity[i]:.6f} USD bn < 0",
    )
    # Collateral: pledged value per (borrower, bucket) <= holdings + collateral received.
    n, nb = cs.holdings_par_usd_bn.shape
    r = cs.repo
    price = cs.market.price
    pledged_value = r.amount_usd_bn / (1.0 - r.haircut_frac)
    pledged = np.bincount(r.borrower * nb + r.bucket, pledged_value, minlength=n * nb)
    received = np.bincount(r.lender * nb + r.bucket, pledged_value, minlength=n * nb)
    available = (cs.holdings_par_usd_bn * (price / 100.0)).ravel() + received
    short = pledged > available * (1 + COLLATERAL_TOLERANCE_REL) + BALANCE_TOLERANCE_USD_BN
    for k in np.flatnonzero(short)[:MAX_PROBLEMS_SHOWN]:
        i, b = divmod(int(k), nb)
        problems.append(
            Problem(
                f"institution '{ids[i]}'",
                holdings_column(cs.market.bucket_names[b]),
                f"repo borrowing against {cs.market.bucket_names[b]} collateral needs "
                f"{pledged[k]:.6f} USD bn of collateral value at its haircuts, but it "
                f"holds or has received only {available[k]:.6f}",
            )
        )
    total = cs.holdings_par_usd_bn.sum(axis=0)
    out = cs.market.outstanding_usd_bn
    for b in np.flatnonzero(total > out * (1 + COLLATERAL_TOLERANCE_REL) + 1e-9):
        problems.append(
            Problem(
                f"market bucket '{cs.market.bucket_names[b]}'",
                "outstanding_usd_bn",
                f"institutions hold {total[b]:.6f} USD bn par, more than the "
                f"{out[b]:.6f} outstanding",
            )
        )
    if problems:
        raise InputError(problems)
    return equity
