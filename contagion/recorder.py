"""Turns a run into a :class:`~contagion.result.Result`: tidy frames and summary metrics.

Recording is columnar: each day appends a few arrays; frames are built once at the end.
Basis conventions (price points per 100 face and yield bp)::

    basis_pts_c        = P_b - CF_c * F_c
    basis_widening_bp  = impact_b - impact^F_c    (> 0: cash cheapened against futures)
    basis_bp_c         = basis_pts_c,0 / (D_b P_b,0 1e-4) - basis_widening_bp

The widening is the spread between the cash and the futures-implied yield moves (both
take the same fundamental shock), so it stays exact in yield space however far prices
fall; the level in bp starts from the initial basis converted at the initial price.
    swap_spread_bp_b   = (s_b - y_b) * 100

Numerical bounds: ``Result.summary`` counts, for each bound in :data:`BOUNDS`, the simulated
days (1..days) on whose close it binds, and ``bounds_hit_count`` how many distinct bounds
bound at least once (0: no clamp shaped the result).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from contagion.mechanisms import policy_rates
from contagion.mechanisms.margin import swap_rate_change_bp
from contagion.mechanisms.prices import MIN_PRICE_FRAC
from contagion.schema import INSTITUTION_TYPES, STRATEGIES
from contagion.state import PNL, PNL_CHANNELS

SALE_KINDS = (
    "forced_sales",
    "voluntary_sales",
    "liquidation_sales",
    "exogenous_sales",
    "distributed_sales",
)
EVENT_NAMES = {
    "vm_paid": "variation_margin_call",
    "im_called": "initial_margin_call",
    "repo_margin_called": "repo_margin_call",
    "repo_recalled": "repo_not_rolled",
    "forced_sales": "forced_sale",
    "voluntary_sales": "voluntary_sale",
    "liquidation_sales": "liquidation_sale",
    "exogenous_sales": "exogenous_sale",
    "distributed_sales": "distribution_sale",
    "redemptions_paid": "redemption",
    "subscriptions_received": "subscription",
}

# Summary key -> the bound it counts (days at the close of which it binds; floats).
BOUNDS = {
    "iteration_bound_hit_days": "the within-day rounds reached ModelParams.max_iterations "
    "(the fixed point was cut off; what is still due is paid the next day)",
    "repo_rate_cap_hit_days": "the GC repo rate is at its ceiling ModelParams.max_repo_rate_pct",
    "funding_utilisation_cap_hit_days": "MMF funding utilisation x = demand / supply reached "
    "ModelParams.funding_utilisation_cap_frac (the repo-rate curve is flat beyond it; no "
    "supply at all with demand counts too)",
    "dealer_utilisation_cap_hit_days": "the day's peak dealer utilisation u (any clearing "
    "round or the close) reached "
    "ModelParams.utilisation_cap_frac (the impact factor g(u) stops growing; with price "
    "impact on)",
    "dealer_room_exhausted_days": "dealers have no leverage room left (u = 1, the clip of "
    "price_impact.utilisation; also when no dealer had room to start with)",
    "haircut_cap_hit_days": "a live repo haircut is at ModelParams.max_haircut_frac",
    "price_floor_hit_days": "a cash bond or futures price is at the floor of "
    "mechanisms.prices.price_from_yield (MIN_PRICE_FRAC x its initial price)",
    "impact_bound_hit_days": "the cumulative cash, futures or swap impact of a bucket reached "
    "ModelParams.max_impact_bp (either direction)",
}
#: Dealers' limits (mechanisms.dealers.CONSTRAINTS) as they appear in column names.
DEALER_LIMIT_COLUMNS = tuple(f"dealer_utilisation_{c}_frac" for c in ("slr", "var", "internal"))
DEALER_BINDING_COLUMNS = tuple(f"dealers_bound_by_{c}_count" for c in ("slr", "var", "internal"))


#: Policy-rate columns of ``Result.markets`` (percent) and the state fields they show.
POLICY_RATE_COLUMNS = (
    "policy_range_lower_pct",
    "policy_range_upper_pct",
    "iorb_pct",
    "on_rrp_rate_pct",
    "srf_rate_pct",
    "discount_rate_pct",
)
_POLICY_RATE_FIELDS = policy_rates.FIELDS  # the State fields, in the columns' order
#: Who supplied the repo market's cash at the last close (USD bn; mechanisms.repo_market).
REPO_SUPPLY_COLUMNS = (
    "repo_demand_usd_bn",
    "repo_supply_mmf_usd_bn",
    "repo_supply_banks_usd_bn",
    "repo_supply_facilities_usd_bn",
    "repo_facility_capacity_usd_bn",  # what facilities could lend at their cost (room)
    "repo_unmet_usd_bn",
)
_REPO_SUPPLY_FIELDS = (
    "repo_demand_usd_bn",
    "mmf_supply_usd_bn",
    "bank_supply_usd_bn",
    "facility_supply_usd_bn",
    "facility_capacity_usd_bn",
    "repo_unmet_usd_bn",
)


def metric_names(market) -> list[str]:
    """Columns of ``Result.markets`` for a market (valid policy trigger metrics)."""
    names = []
    for b in market.bucket_names:
        names += [
            f"yield_{b}_pct",
            f"yield_change_{b}_bp",
            f"price_{b}",
            f"impact_{b}_bp",
            f"impact_permanent_{b}_bp",
            f"swap_impact_{b}_bp",
            f"swap_rate_{b}_pct",
            f"swap_spread_{b}_bp",
            f"swap_spread_change_{b}_bp",
        ]
    for c in market.futures_codes:
        names += [
            f"futures_price_{c}",
            f"futures_impact_{c}_bp",
            f"basis_{c}_pts",
            f"basis_{c}_bp",
            f"basis_widening_{c}_bp",
        ]
    return [
        *names,
        "repo_rate_pct",
        "repo_rate_eligible_pct",
        "hedge_fund_repo_rate_pct",
        *POLICY_RATE_COLUMNS,
        "bank_reserves_usd_bn",
        "on_rrp_usd_bn",
        *REPO_SUPPLY_COLUMNS,
        "volatility_index",
        "realised_volatility_index",
        "im_multiplier",
        "dealer_utilisation_frac",
        "dealer_peak_utilisation_frac",
        *DEALER_LIMIT_COLUMNS,
        *DEALER_BINDING_COLUMNS,
        "hedge_fund_haircut_frac",
        "cb_reserves_created_usd_bn",
        "iterations",
        "iteration_bound_hit",
    ]


def _text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as ``str`` so frames round-trip through parquet with the same dtypes."""
    for c in frame.columns:
        if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c]):
            frame[c] = frame[c].astype(str)
    return frame


def _ints(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts).astype(np.int64, copy=False) if parts else np.zeros(0, np.int64)


def _frame(columns: dict) -> pd.DataFrame:
    """A frame of these columns; a list of arrays is one column, concatenated. The float
    columns are concatenated into one 2-D block the frame takes over as is (no copies)."""
    floats = [k for k, v in columns.items() if isinstance(v, list) and v and v[0].dtype.kind == "f"]
    if floats:
        rows = sum(len(a) for a in columns[floats[0]])
        block = np.empty((len(floats), rows))
        for j, k in enumerate(floats):
            np.concatenate(columns[k], out=block[j])
        frame = pd.DataFrame(block.T, columns=floats, copy=False)
    else:
        frame = pd.DataFrame()
    for pos, (k, v) in enumerate(columns.items()):
        if k not in floats:
            frame.insert(pos, k, np.concatenate(v) if isinstance(v, list) else v)
    return frame


def _strings(labels: np.ndarray, codes: np.ndarray) -> pd.Series:
    """``labels[codes]`` as a ``str`` column, taken in Arrow (no Python string per row)."""
    dtype = pd.Series([""]).astype(str).dtype
    try:
        import pyarrow as pa

        values = pa.array([str(x) for x in labels], pa.large_string()).take(pa.array(codes))
        out = pd.Series(values, dtype=dtype)
    except (ImportError, TypeError, ValueError):  # pragma: no cover - without pyarrow
        return pd.Series(pd.Categorical.from_codes(codes, categories=labels)).astype(str)
    return out


_DTYPES: dict = {}  # labels -> CategoricalDtype (see _category_dtype)


def _category_dtype(labels) -> pd.CategoricalDtype:
    """The categorical dtype of ``labels`` as ``str`` categories, built once per label set
    (an array of ids is keyed by identity, so it must not be changed in place)."""
    key = id(labels) if isinstance(labels, np.ndarray) else tuple(labels)
    hit = _DTYPES.get(key)
    if hit is not None and (hit[0] is labels or not isinstance(labels, np.ndarray)):
        return hit[1]
    if len(_DTYPES) > 256:
        _DTYPES.clear()
    dtype = pd.CategoricalDtype(pd.Index(np.asarray(labels, dtype=object).astype(str)))
    _DTYPES[key] = (labels, dtype)
    return dtype


@functools.cache
def _empty_template(cols: tuple[str, ...], numeric: tuple[str, ...]) -> pd.DataFrame:
    return _text(_empty(list(cols), numeric))


def _empty_text(cols: tuple[str, ...], numeric: tuple[str, ...]) -> pd.DataFrame:
    """``_text(_empty(cols, numeric))``, built once (a copy each time)."""
    return _empty_template(cols, numeric).copy()


def _empty(cols: list[str], numeric: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=np.float64 if c in numeric else object) for c in cols})


def market_row(state, ctx, day: int) -> dict[str, float]:
    """One row of ``Result.markets`` computed from the state alone (the recorder writes
    them; policies' metric triggers read the previous close's)."""
    s, topo = state, ctx.topo
    m = topo.cs.market
    row: dict[str, float] = {"day": day}
    y = m.yield_pct + (s.y_fund_bp + s.impact_bp) / 100.0
    swap = m.swap_rate_pct + swap_rate_change_bp(s) / 100.0
    spread0 = (m.swap_rate_pct - m.yield_pct) * 100
    for j, b in enumerate(m.bucket_names):
        row[f"yield_{b}_pct"] = y[j]
        row[f"yield_change_{b}_bp"] = (y[j] - m.yield_pct[j]) * 100
        row[f"price_{b}"] = s.price[j]
        row[f"impact_{b}_bp"] = s.impact_bp[j]
        row[f"impact_permanent_{b}_bp"] = s.impact_perm_bp[j]
        row[f"swap_impact_{b}_bp"] = s.swap_impact_bp[j]
        row[f"swap_rate_{b}_pct"] = swap[j]
        row[f"swap_spread_{b}_bp"] = (swap[j] - y[j]) * 100
        row[f"swap_spread_change_{b}_bp"] = (swap[j] - y[j]) * 100 - spread0[j]
    fb = m.futures_bucket
    pts = s.price[fb] - m.conversion_factor * s.fut_price
    widening = s.impact_bp[fb] - s.fut_impact_bp
    bp = ctx.basis0_bp - widening
    for k, c in enumerate(m.futures_codes):
        row[f"futures_price_{c}"] = s.fut_price[k]
        row[f"futures_impact_{c}_bp"] = s.fut_impact_bp[k]
        row[f"basis_{c}_pts"] = pts[k]
        row[f"basis_{c}_bp"] = bp[k]
        row[f"basis_widening_{c}_bp"] = widening[k]
    row["repo_rate_pct"] = s.repo_rate_pct
    # eligible dealers pay at most the facility's cost while it has room; once it is
    # exhausted (it supplied all it could) they pay the market rate like everyone else
    room = s.facility_supply_usd_bn < s.facility_capacity_usd_bn * (1.0 - 1e-9)
    row["repo_rate_eligible_pct"] = (
        min(s.repo_rate_pct, s.facility_cost_pct) if room else s.repo_rate_pct
    )
    hf = topo.hedge_fund_private_repo  # their market repo: facilities set their own terms
    amt = s.repo_amount[hf]
    tot = float(amt.sum())
    row["hedge_fund_repo_rate_pct"] = (
        s.repo_rate_pct + float((topo.repo_spread_pct[hf] * amt).sum()) / tot
        if tot > 0
        else s.repo_rate_pct
    )
    for col, name in zip(POLICY_RATE_COLUMNS, _POLICY_RATE_FIELDS, strict=True):
        row[col] = getattr(s, name)
    from contagion.mechanisms.repo_market import reserves

    row["bank_reserves_usd_bn"] = reserves(s, ctx)
    row["on_rrp_usd_bn"] = float(s.repo_amount[topo.mmf_rrp_idx].sum())
    for col, name in zip(REPO_SUPPLY_COLUMNS, _REPO_SUPPLY_FIELDS, strict=True):
        row[col] = getattr(s, name)
    row["volatility_index"] = s.vol
    row["realised_volatility_index"] = s.realised_vol
    row["im_multiplier"] = s.im_multiplier if day else 1.0
    row["dealer_utilisation_frac"] = s.utilisation
    row["dealer_peak_utilisation_frac"] = s.peak_utilisation
    for j, col in enumerate(DEALER_LIMIT_COLUMNS):
        row[col] = s.utilisation_by_limit[j]
    for j, col in enumerate(DEALER_BINDING_COLUMNS):
        row[col] = int(s.binding_by_limit[j])
    row["hedge_fund_haircut_frac"] = (
        float((s.repo_haircut[hf] * amt).sum() / tot) if tot > 0 else 0.0
    )
    row["cb_reserves_created_usd_bn"] = s.ref.cb_cash0 - float(
        s.cash[topo.mask["central_bank"]].sum()
    )
    row["iterations"] = s.iterations if day else 0
    row["iteration_bound_hit"] = bool(day and s.iterations >= ctx.params.max_iterations)
    return row


class Recorder:
    """Observes a :class:`contagion.engine.Simulation` (never changes it).

    ``institutions=False`` keeps only what :meth:`summary` needs (the market rows and the
    day logs), not the per-institution snapshots of :attr:`Result.institutions`.
    """

    def __init__(self, sim, *, institutions: bool = True) -> None:
        self.sim = sim
        self.keep_institutions = institutions
        self.market_rows: list[dict[str, float]] = []
        self.inst: dict[str, list[np.ndarray]] = {}
        self.logs = []
        self.bound_rows: list[dict[str, bool]] = []  # days 1.., keys of BOUNDS but the first

    def _snapshot(self, day: int, log=None) -> None:
        self.market_rows.append(market_row(self.sim.state, self.sim.ctx, day))
        if self.keep_institutions:
            self._snapshot_institutions(log)

    def _snapshot_institutions(self, log) -> None:
        sim = self.sim
        s, topo, ledger = sim.state, sim.ctx.topo, sim.ledger
        a, liab = ledger.balance()
        eq = a - liab
        with np.errstate(divide="ignore", invalid="ignore"):
            lev = np.where(eq > 0, a / eq, np.nan)
        cols = {
            "equity_usd_bn": eq,
            "cash_usd_bn": s.cash.copy(),
            "assets_usd_bn": a,
            "leverage_ratio": lev,
            "treasury_value_usd_bn": ledger.holdings_value(),
            "repo_borrowed_usd_bn": ledger.repo_borrowed(),
            "im_posted_usd_bn": ledger.im_posted_by(),
            "futures_net_usd_bn": topo.by_source(np.where(topo.is_swap, 0.0, s.notional)),
            "swap_net_usd_bn": topo.by_source(np.where(topo.is_swap, s.notional, 0.0)),
            "sales_usd_bn": (sum(getattr(log, k) for k in SALE_KINDS) if log else np.zeros(s.n)),
            "defaulted": s.defaulted.copy(),
        }
        for k, v in cols.items():
            self.inst.setdefault(k, []).append(v)

    def record_initial(self) -> None:
        self._snapshot(0)

    def record_day(self, log) -> None:
        self.logs.append(log)
        self._snapshot(self.sim.state.day, log)
        self.bound_rows.append(self._bounds())

    def _bounds(self) -> dict[str, bool]:
        """Which bounds of :data:`BOUNDS` bind at today's close (read from the frozen state)."""
        from contagion.mechanisms import repo_market

        sim = self.sim
        s, ctx = sim.state, sim.ctx
        p, ch, m = ctx.params, ctx.channels, ctx.topo.cs.market
        # what the close priced the repo rate on
        demand, supply = repo_market.demand_supply(s, ctx, sim.ledger)
        floor = 1.0 + 1e-9
        live = (s.repo_amount > p.tolerance_usd_bn) & ~s.repo_unsecured
        return {
            "repo_rate_cap_hit_days": s.repo_rate_pct >= p.max_repo_rate_pct,
            "funding_utilisation_cap_hit_days": bool(ch.repo_market)
            and demand > 0
            and demand >= p.funding_utilisation_cap_frac * supply,
            "dealer_utilisation_cap_hit_days": bool(ch.price_impact)
            and s.peak_utilisation >= p.utilisation_cap_frac,
            "dealer_room_exhausted_days": s.peak_utilisation >= 1.0,
            "haircut_cap_hit_days": bool((live & (s.repo_haircut >= p.max_haircut_frac)).any()),
            "price_floor_hit_days": bool(
                (s.price <= m.price * MIN_PRICE_FRAC * floor).any()
                or (s.fut_price <= m.futures_price * MIN_PRICE_FRAC * floor).any()
            ),
            "impact_bound_hit_days": bool(s.impact_bound_hit),
        }

    def paths(self) -> dict[str, np.ndarray]:
        """Daily paths of a few key metrics, days 0.. (kept in either mode; the fan charts
        of :mod:`contagion.report` and :data:`contagion.experiment.PATHS`): the headline
        yield change (10y, or the longest bucket), the widest basis widening, the repo rate,
        the dealers' daily peak utilisation and cumulative fire sales (forced plus
        liquidation, USD bn). Read from what was recorded; never changes the run."""
        m = self.sim.ctx.topo.cs.market
        rows = self.market_rows
        names = list(m.bucket_names)
        y = "10y" if "10y" in names else names[-1]
        widening = [f"basis_widening_{c}_bp" for c in m.futures_codes]
        sales = [0.0] + [
            float(log.forced_sales.sum() + log.liquidation_sales.sum()) for log in self.logs
        ]
        first = int(rows[0]["day"]) if rows else 0
        if first:  # a recorder that started after day 0: no sales before its first day
            sales = sales[1:]
        return {
            "yield_change_bp": np.array([r[f"yield_change_{y}_bp"] for r in rows]),
            "basis_widening_bp": np.array(
                [max((r[k] for k in widening), default=0.0) for r in rows]
            ),
            "repo_rate_pct": np.array([r["repo_rate_pct"] for r in rows]),
            "dealer_peak_utilisation_frac": np.array(
                [r["dealer_peak_utilisation_frac"] for r in rows]
            ),
            "fire_sales_cum_usd_bn": np.cumsum(sales[: len(rows)]),
        }

    # --- frames -------------------------------------------------------------------------
    def summary(self) -> dict[str, float]:
        """The headline metrics of :attr:`Result.summary`, without building the frames."""
        return self._summary()

    def result(self):
        from contagion.result import Result

        sim = self.sim
        s, cs = sim.state, sim.ctx.topo.cs
        if not self.keep_institutions:
            raise RuntimeError("this Recorder kept no institution snapshots: use summary()")
        markets = pd.DataFrame(self.market_rows).set_index("day")
        days = np.arange(len(self.market_rows))
        n = s.n
        institutions = _frame(
            {
                "day": np.repeat(days, n),
                "institution": self._categorical(np.tile(np.arange(n), len(days)), cs.ids),
                "type": self._categorical(
                    np.tile(cs.type_code.astype(np.int64), len(days)), INSTITUTION_TYPES
                ),
                "strategy": self._categorical(
                    np.tile(_strategy_codes(cs.strategy), len(days)), ("", *STRATEGIES)
                ),
                **self.inst,
            }
        )
        usage = [tuple(row) for rec in s.policy for row in rec["usage"]]
        cols = ["day", "policy", "item", "institution", "value_usd_bn"]
        policy_usage = (
            _text(pd.DataFrame(usage, columns=cols))
            if usage
            else _empty_text(tuple(cols), ("day", "value_usd_bn"))
        )
        return Result(
            markets=markets,
            policy_usage=policy_usage,
            institutions=institutions,
            events=self._events(),
            flows=self._flows(),
            summary=self._summary(),
            config=self._config(),
        )

    def _categorical(self, idx: np.ndarray, labels) -> pd.Categorical:
        """Labels of integer codes as a categorical (cheap to build, store and compare)."""
        if not len(idx):  # parquet keeps no categories for an empty column
            return pd.Categorical.from_codes(idx, categories=pd.Index([], dtype=str))
        return pd.Categorical.from_codes(idx, dtype=_category_dtype(labels), validate=False)

    def _events(self) -> pd.DataFrame:
        """One row per institution, day and event kind with a non-zero amount; built once."""
        cs = self.sim.ctx.topo.cs
        kinds = [*EVENT_NAMES, "default"]
        n_kinds = len(EVENT_NAMES)
        # defaults by day: one dict of arrays per round with new defaults
        by_day: dict[int, list[dict]] = {}
        for log in self.logs:
            for dfl in log.defaults:
                for d in np.unique(dfl["day"]):
                    on = dfl["day"] == d
                    by_day.setdefault(int(d), []).append({k: v[on] for k, v in dfl.items()})
        causes = [dfl["cause"] for parts in by_day.values() for dfl in parts]
        labels = np.unique(np.concatenate([np.array([""]), *causes]).astype(str))
        # rows by day, event kind and institution (codes: the order of the categories); each
        # day's events come kind after kind, its defaults (the last kind) by institution
        days, who, kind, amount, cause = [], [], [], [], []
        for d in sorted(set(range(1, len(self.logs) + 1)) | set(by_day)):
            if d <= len(self.logs):
                log = self.logs[d - 1]
                x = np.stack([getattr(log, attr) for attr in EVENT_NAMES])  # (kinds, n)
                k, idx = np.nonzero(x > 1e-9)  # kind-major, each kind by institution
                days.append(np.full(len(idx), d))
                who.append(idx)
                kind.append(k)
                amount.append(x[k, idx])
                cause.append(np.zeros(len(idx), np.int64))  # "": no cause
            if d in by_day:
                parts = by_day[d]
                idx = np.concatenate([dfl["index"] for dfl in parts])
                first = np.argsort(idx, kind="stable")
                days.append(np.full(len(idx), d))
                who.append(idx[first])
                kind.append(np.full(len(idx), n_kinds))
                amount.append(np.concatenate([dfl["assets_usd_bn"] for dfl in parts])[first])
                text = np.concatenate([dfl["cause"] for dfl in parts]).astype(str)[first]
                cause.append(np.searchsorted(labels, text))
        who_a = _ints(who)
        return pd.DataFrame(
            {
                "day": _ints(days),
                "institution": self._categorical(who_a, cs.ids),
                "type": self._categorical(cs.type_code[who_a].astype(np.int64), INSTITUTION_TYPES),
                "event": self._categorical(
                    _ints(kind), tuple(EVENT_NAMES.get(k, k) for k in kinds)
                ),
                "amount_usd_bn": np.concatenate(amount) if amount else np.zeros(0),
                "cause": _strings(labels, _ints(cause)),
            }
        )

    def _flows(self) -> pd.DataFrame:
        """Par sold per seller and bucket, split across buyer sectors pro rata by day."""
        cs = self.sim.ctx.topo.cs
        buckets = tuple(cs.market.bucket_names)
        buyers = ("dealers", "outside", "policy")
        days, seller, bucket, buyer, par = [], [], [], [], []
        for d, log in enumerate(self.logs, start=1):
            sold = log.sales_by_bucket
            tot = sold.sum(axis=0)
            i, b = np.nonzero(sold > 1e-9)
            if not len(i):
                continue
            amounts = np.stack(
                (log.absorbed_by_dealers.sum(axis=0), log.bought_outside, log.policy_bought)
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(tot > 0, np.clip(amounts / tot, 0.0, 1.0), 0.0)
            p = sold[i, b] * share[:, b]  # (buyers, cells)
            k, j = np.nonzero(p > 1e-12)  # buyer-major, as one buyer after the other
            days.append(np.full(len(j), d))
            seller.append(i[j])
            bucket.append(b[j])
            buyer.append(k)
            par.append(p[k, j])
        who = _ints(seller)
        return pd.DataFrame(
            {
                "day": _ints(days),
                "seller": self._categorical(who, cs.ids),
                "seller_type": self._categorical(
                    cs.type_code[who].astype(np.int64), INSTITUTION_TYPES
                ),
                "bucket": self._categorical(_ints(bucket), buckets),
                "buyer": self._categorical(_ints(buyer), buyers),
                "par_usd_bn": np.concatenate(par) if par else np.zeros(0),
            }
        )

    def _summary(self) -> dict[str, float]:
        sim = self.sim
        s, mask = sim.state, sim.ctx.topo.mask
        rows = self.market_rows

        def col(key: str) -> np.ndarray:  # a column of Result.markets, day 0 on
            return np.array([row[key] for row in rows])

        def peak(key: str) -> float:  # the frame's max(): NaN-skipping
            return float(np.fmax.reduce(col(key)))

        m = sim.ctx.topo.cs.market
        out: dict[str, float] = {}
        for b in m.bucket_names:
            ch = col(f"yield_change_{b}_bp")
            out[f"peak_yield_change_{b}_bp"] = float(ch[np.abs(ch).argmax()])
            out[f"end_yield_change_{b}_bp"] = float(ch[-1])
            sp = col(f"swap_spread_change_{b}_bp")
            out[f"peak_swap_spread_change_{b}_bp"] = float(sp[np.abs(sp).argmax()])
        for c in m.futures_codes:
            out[f"peak_basis_widening_{c}_bp"] = peak(f"basis_widening_{c}_bp")
        out["peak_repo_rate_pct"] = peak("repo_rate_pct")
        out["peak_repo_rate_eligible_pct"] = peak("repo_rate_eligible_pct")
        out["dealer_peak_utilisation_frac"] = peak("dealer_peak_utilisation_frac")
        for col_name in DEALER_LIMIT_COLUMNS:
            out[col_name.replace("dealer_", "dealer_peak_", 1)] = peak(col_name)
        for col_name in DEALER_BINDING_COLUMNS:  # dealer-days bound by each limit
            out[col_name.replace("_count", "_dealer_days")] = float(col(col_name)[1:].sum())
        for kind in SALE_KINDS:
            total = (
                np.sum([getattr(log, kind) for log in self.logs], axis=0)
                if self.logs
                else np.zeros(s.n)
            )
            for t in INSTITUTION_TYPES:
                v = float(total[mask[t]].sum())
                if v:
                    out[f"{kind}_{t}_usd_bn"] = v
            out[f"{kind}_total_usd_bn"] = float(total.sum())
        out["fire_sale_volume_usd_bn"] = (
            out["forced_sales_total_usd_bn"] + out["liquidation_sales_total_usd_bn"]
        )
        out["defaults_count"] = float(s.defaulted.sum())
        out["defaults_assets_usd_bn"] = float(s.ref.assets0[s.defaulted].sum())
        for t in INSTITUTION_TYPES:
            out[f"defaults_{t}_count"] = float((s.defaulted & mask[t]).sum())
        total_loss = 0.0
        for ch in PNL_CHANNELS:
            v = -float(s.pnl[PNL[ch]].sum())
            out[f"equity_loss_{ch}_usd_bn"] = v
            total_loss += v
        out["equity_loss_total_usd_bn"] = total_loss
        pnl = sim.ledger.pnl_total()
        for t in INSTITUTION_TYPES:
            out[f"equity_loss_{t}_usd_bn"] = -float(pnl[mask[t]].sum())
        # hedge-fund strategy books (only the strategies the system has)
        strategy = sim.ctx.topo.cs.strategy
        for tag in STRATEGIES:
            book = strategy == tag
            if not book.any():
                continue
            out[f"defaults_strategy_{tag}_count"] = float((s.defaulted & book).sum())
            out[f"equity_loss_strategy_{tag}_usd_bn"] = -float(pnl[book].sum())
            for kind in SALE_KINDS:
                total = np.sum([getattr(log, kind)[book] for log in self.logs])
                out[f"{kind}_strategy_{tag}_usd_bn"] = float(total)
        out["loss_outside_system_usd_bn"] = float(s.loss_outside)
        out["cb_reserves_created_usd_bn"] = float(rows[-1]["cb_reserves_created_usd_bn"])
        budget, lent = 0.0, 0.0
        for pol, rec in zip(sim.policies, s.policy, strict=True):
            out.update({k: float(v) for k, v in pol.summary(rec).items()})
            costs = pol.costs(rec)
            budget += costs.budget_spent_usd_bn
            lent += costs.cash_lent_peak_usd_bn
        # the policies' typed costs (contagion.policies.base.PolicyCosts), summed
        out["policy_cost_budget_spent_usd_bn"] = budget
        out["policy_cost_cash_lent_peak_usd_bn"] = lent
        out["iterations_max"] = peak("iterations")
        out["iteration_bound_hit_days"] = float(col("iteration_bound_hit").sum())
        for key in list(BOUNDS)[1:]:
            out[key] = float(sum(bool(row[key]) for row in self.bound_rows))
        out["bounds_hit_count"] = float(sum(out[key] > 0 for key in BOUNDS))
        return out

    def _config(self) -> dict:
        from contagion._version import __version__

        sim = self.sim
        return {
            "scenario": sim.ctx.scenario.model_dump(mode="json"),
            "system": {
                "name": sim.system.name,
                "n_institutions": sim.system.n_institutions,
                "n_exposures": sim.system.n_exposures,
                "metadata": sim.system.metadata,
            },
            "policies": [p.describe() for p in sim.policies],
            "seed": sim.seed,
            "version": __version__,
        }


def _strategy_codes(strategy: np.ndarray) -> np.ndarray:
    """Codes of the strategy tags into ``("", *STRATEGIES)`` (0: no strategy)."""
    return pd.Categorical(strategy, categories=("", *STRATEGIES)).codes.astype(np.int64)
