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
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from contagion.schema import INSTITUTION_TYPES
from contagion.state import PNL_CHANNELS

SALE_KINDS = ("forced_sales", "voluntary_sales", "liquidation_sales", "exogenous_sales")
EVENT_NAMES = {
    "vm_paid": "variation_margin_call",
    "im_called": "initial_margin_call",
    "repo_margin_called": "repo_margin_call",
    "repo_recalled": "repo_not_rolled",
    "forced_sales": "forced_sale",
    "voluntary_sales": "voluntary_sale",
    "liquidation_sales": "liquidation_sale",
    "exogenous_sales": "exogenous_sale",
    "redemptions_paid": "redemption",
}


def metric_names(market) -> list[str]:
    """Columns of ``Result.markets`` for a market (valid policy trigger metrics)."""
    names = []
    for b in market.bucket_names:
        names += [
            f"yield_{b}_pct",
            f"yield_change_{b}_bp",
            f"price_{b}",
            f"impact_{b}_bp",
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
        "volatility_index",
        "im_multiplier",
        "dealer_utilisation_frac",
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
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def _empty(cols: list[str], numeric: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=np.float64 if c in numeric else object) for c in cols})


class Recorder:
    """Collects per-day state from a :class:`contagion.engine.Run`."""

    def __init__(self, run) -> None:
        self.run = run
        self.market_rows: list[dict[str, float]] = []
        self.inst: dict[str, list[np.ndarray]] = {}
        self.logs = []
        m = run.s.cs.market
        self.basis0 = self._basis(run.s)[1]
        self.yield0 = m.yield_pct.copy()
        self.spread0 = (m.swap_rate_pct - m.yield_pct) * 100

    def _basis(self, s):
        """(basis in price points, basis in bp, widening in bp) per contract."""
        m = s.cs.market
        fb = m.futures_bucket
        pts = s.price[fb] - m.conversion_factor * s.fut_price
        widening = s.impact_bp[fb] - s.fut_impact_bp
        if not hasattr(self, "basis0"):  # the initial level, converted at initial prices
            return pts, pts / (m.modified_duration_years[fb] * s.price[fb] * 1e-4), widening
        return pts, self.basis0 - widening, widening

    def _snapshot(self, day: int, log=None) -> None:
        run, s = self.run, self.run.s
        m = s.cs.market
        row: dict[str, float] = {"day": day}
        y = m.yield_pct + (s.y_fund_bp + s.impact_bp) / 100.0
        swap = m.swap_rate_pct + s.y_fund_bp / 100.0
        for j, b in enumerate(m.bucket_names):
            row[f"yield_{b}_pct"] = y[j]
            row[f"yield_change_{b}_bp"] = (y[j] - self.yield0[j]) * 100
            row[f"price_{b}"] = s.price[j]
            row[f"impact_{b}_bp"] = s.impact_bp[j]
            row[f"swap_rate_{b}_pct"] = swap[j]
            row[f"swap_spread_{b}_bp"] = (swap[j] - y[j]) * 100
            row[f"swap_spread_change_{b}_bp"] = (swap[j] - y[j]) * 100 - self.spread0[j]
        pts, bp, widening = self._basis(s)
        for k, c in enumerate(m.futures_codes):
            row[f"futures_price_{c}"] = s.fut_price[k]
            row[f"futures_impact_{c}_bp"] = s.fut_impact_bp[k]
            row[f"basis_{c}_pts"] = pts[k]
            row[f"basis_{c}_bp"] = bp[k]
            row[f"basis_widening_{c}_bp"] = widening[k]
        row["repo_rate_pct"] = s.repo_rate_pct
        row["repo_rate_eligible_pct"] = min(s.repo_rate_pct, run.rate_cap)
        row["volatility_index"] = s.vol
        row["im_multiplier"] = s.im_multiplier if day else 1.0
        row["dealer_utilisation_frac"] = run.utilisation
        hf = run.mask["hedge_fund"][s.repo.borrower]
        amt = s.repo_amount[hf]
        row["hedge_fund_haircut_frac"] = (
            float((s.repo_haircut[hf] * amt).sum() / amt.sum()) if amt.sum() > 0 else 0.0
        )
        row["cb_reserves_created_usd_bn"] = run.cash_cb0 - float(
            s.cash[run.mask["central_bank"]].sum()
        )
        row["iterations"] = log.iterations if log else 0
        row["iteration_bound_hit"] = bool(log.bound_hit) if log else False
        self.market_rows.append(row)
        run.metrics = row
        a, liab = s.balance()
        eq = a - liab
        with np.errstate(divide="ignore", invalid="ignore"):
            lev = np.where(eq > 0, a / eq, np.nan)
        cols = {
            "equity_usd_bn": eq,
            "cash_usd_bn": s.cash.copy(),
            "assets_usd_bn": a,
            "leverage_ratio": lev,
            "treasury_value_usd_bn": s.holdings_value(),
            "repo_borrowed_usd_bn": s.repo_borrowed(),
            "im_posted_usd_bn": s.im_posted_by(),
            "futures_net_usd_bn": s.by_source(np.where(s.is_swap, 0.0, s.notional)),
            "swap_net_usd_bn": s.by_source(np.where(s.is_swap, s.notional, 0.0)),
            "sales_usd_bn": (sum(getattr(log, k) for k in SALE_KINDS) if log else np.zeros(s.n)),
            "defaulted": s.defaulted.copy(),
        }
        for k, v in cols.items():
            self.inst.setdefault(k, []).append(v)

    def record_initial(self) -> None:
        self.run.cash_cb0 = float(self.run.s.cash[self.run.mask["central_bank"]].sum())
        self._snapshot(0)

    def record_day(self, log) -> None:
        self.logs.append(log)
        self._snapshot(self.run.s.day + 1, log)

    # --- frames -------------------------------------------------------------------------
    def result(self):
        from contagion.result import Result

        run = self.run
        s = run.s
        markets = pd.DataFrame(self.market_rows).set_index("day")
        days = np.arange(len(self.market_rows))
        n = s.n
        institutions = pd.DataFrame(
            {
                "day": np.repeat(days, n),
                "institution": self._categorical(np.tile(np.arange(n), len(days)), s.cs.ids),
                "type": self._categorical(
                    np.tile(s.cs.type_code.astype(np.int64), len(days)), INSTITUTION_TYPES
                ),
                **{k: np.concatenate(v) for k, v in self.inst.items()},
            }
        )
        usage = [row for pol in run.policies for row in pol.usage]
        cols = ["day", "policy", "item", "institution", "value_usd_bn"]
        policy_usage = (
            pd.DataFrame(usage, columns=cols) if usage else _empty(cols, ("day", "value_usd_bn"))
        )
        return Result(
            markets=markets,
            policy_usage=_text(policy_usage),
            institutions=institutions,
            events=self._events(),
            flows=self._flows(),
            summary=self._summary(markets),
            config=self._config(),
        )

    def _categorical(self, idx: np.ndarray, labels) -> pd.Categorical:
        """Labels of integer codes as a categorical (cheap to build, store and compare)."""
        if not len(idx):  # parquet keeps no categories for an empty column
            return pd.Categorical.from_codes(idx, categories=pd.Index([], dtype=str))
        labels = pd.Index(np.asarray(labels, dtype=object).astype(str))
        return pd.Categorical.from_codes(idx, categories=labels)

    def _events(self) -> pd.DataFrame:
        """One row per institution, day and event kind with a non-zero amount; built once."""
        s = self.run.s
        kinds = [*EVENT_NAMES, "default"]
        days, who, kind, amount = [], [], [], []
        for d, log in enumerate(self.logs, start=1):
            for k, attr in enumerate(EVENT_NAMES):
                x = getattr(log, attr)
                idx = np.flatnonzero(x > 1e-9)
                days.append(np.full(len(idx), d))
                who.append(idx)
                kind.append(np.full(len(idx), k))
                amount.append(x[idx])
        cause = [np.full(sum(len(w) for w in who), "", dtype=object)]
        for log in self.logs:
            for dfl in log.defaults:  # one dict of arrays per round with new defaults
                days.append(dfl["day"])
                who.append(dfl["index"])
                kind.append(np.full(len(dfl["index"]), len(EVENT_NAMES)))
                amount.append(dfl["assets_usd_bn"])
                cause.append(dfl["cause"])
        who_a = np.concatenate(who) if who else np.zeros(0, np.int64)
        out = pd.DataFrame(
            {
                "day": np.concatenate(days).astype(np.int64) if days else np.zeros(0, np.int64),
                "institution": self._categorical(who_a, s.cs.ids),
                "type": self._categorical(
                    s.cs.type_code[who_a].astype(np.int64), INSTITUTION_TYPES
                ),
                "event": self._categorical(
                    np.concatenate(kind).astype(np.int64) if kind else np.zeros(0, np.int64),
                    [EVENT_NAMES.get(k, k) for k in kinds],
                ),
                "amount_usd_bn": np.concatenate(amount) if amount else np.zeros(0),
                "cause": np.concatenate(cause).astype(str),
            }
        )
        return out.sort_values(["day", "event", "institution"], kind="stable").reset_index(
            drop=True
        )

    def _flows(self) -> pd.DataFrame:
        """Par sold per seller and bucket, split across buyer sectors pro rata by day."""
        s = self.run.s
        buckets = list(s.cs.market.bucket_names)
        buyers = ("dealers", "outside", "policy")
        days, seller, bucket, buyer, par = [], [], [], [], []
        for d, log in enumerate(self.logs, start=1):
            sold = log.sales_by_bucket
            tot = sold.sum(axis=0)
            i, b = np.nonzero(sold > 1e-9)
            if not len(i):
                continue
            amounts = (log.absorbed_by_dealers.sum(axis=0), log.bought_outside, log.policy_bought)
            for k, amount in enumerate(amounts):
                with np.errstate(divide="ignore", invalid="ignore"):
                    share = np.where(tot > 0, np.clip(amount / tot, 0.0, 1.0), 0.0)
                p = sold[i, b] * share[b]
                keep = p > 1e-12
                days.append(np.full(keep.sum(), d))
                seller.append(i[keep])
                bucket.append(b[keep])
                buyer.append(np.full(keep.sum(), k))
                par.append(p[keep])
        who = _ints(seller)
        return pd.DataFrame(
            {
                "day": _ints(days),
                "seller": self._categorical(who, s.cs.ids),
                "seller_type": self._categorical(
                    s.cs.type_code[who].astype(np.int64), INSTITUTION_TYPES
                ),
                "bucket": self._categorical(_ints(bucket), buckets),
                "buyer": self._categorical(_ints(buyer), buyers),
                "par_usd_bn": np.concatenate(par) if par else np.zeros(0),
            }
        )

    def _summary(self, markets: pd.DataFrame) -> dict[str, float]:
        run, s = self.run, self.run.s
        m = s.cs.market
        out: dict[str, float] = {}
        for b in m.bucket_names:
            ch = markets[f"yield_change_{b}_bp"]
            out[f"peak_yield_change_{b}_bp"] = float(ch.iloc[ch.abs().to_numpy().argmax()])
            out[f"end_yield_change_{b}_bp"] = float(ch.iloc[-1])
            sp = markets[f"swap_spread_change_{b}_bp"]
            out[f"peak_swap_spread_change_{b}_bp"] = float(sp.iloc[sp.abs().to_numpy().argmax()])
        for c in m.futures_codes:
            out[f"peak_basis_widening_{c}_bp"] = float(markets[f"basis_widening_{c}_bp"].max())
        out["peak_repo_rate_pct"] = float(markets["repo_rate_pct"].max())
        out["peak_repo_rate_eligible_pct"] = float(markets["repo_rate_eligible_pct"].max())
        out["dealer_peak_utilisation_frac"] = float(markets["dealer_utilisation_frac"].max())
        for kind in SALE_KINDS:
            total = (
                np.sum([getattr(log, kind) for log in self.logs], axis=0)
                if self.logs
                else np.zeros(s.n)
            )
            for t in INSTITUTION_TYPES:
                v = float(total[run.mask[t]].sum())
                if v:
                    out[f"{kind}_{t}_usd_bn"] = v
            out[f"{kind}_total_usd_bn"] = float(total.sum())
        out["fire_sale_volume_usd_bn"] = (
            out["forced_sales_total_usd_bn"] + out["liquidation_sales_total_usd_bn"]
        )
        out["defaults_count"] = float(s.defaulted.sum())
        out["defaults_assets_usd_bn"] = float(s.assets0[s.defaulted].sum())
        for t in INSTITUTION_TYPES:
            out[f"defaults_{t}_count"] = float((s.defaulted & run.mask[t]).sum())
        total_loss = 0.0
        for ch in PNL_CHANNELS:
            v = -float(s.pnl[ch].sum())
            out[f"equity_loss_{ch}_usd_bn"] = v
            total_loss += v
        out["equity_loss_total_usd_bn"] = total_loss
        pnl = sum(s.pnl.values())
        for t in INSTITUTION_TYPES:
            out[f"equity_loss_{t}_usd_bn"] = -float(pnl[run.mask[t]].sum())
        out["loss_outside_system_usd_bn"] = float(run.loss_outside)
        out["cb_reserves_created_usd_bn"] = float(markets["cb_reserves_created_usd_bn"].iloc[-1])
        for pol in run.policies:
            out.update({k: float(v) for k, v in pol.summary().items()})
        out["iterations_max"] = float(markets["iterations"].max())
        out["iteration_bound_hit_days"] = float(markets["iteration_bound_hit"].sum())
        return out

    def _config(self) -> dict:
        from contagion._version import __version__

        run = self.run
        return {
            "scenario": run.sc.model_dump(mode="json"),
            "system": {
                "name": run.system.name,
                "n_institutions": run.system.n_institutions,
                "n_exposures": run.system.n_exposures,
                "metadata": run.system.metadata,
            },
            "policies": [p.describe() for p in run.policies],
            "seed": run.seed,
            "version": __version__,
        }
