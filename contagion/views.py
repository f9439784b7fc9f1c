"""Descriptive views of a system: sector aggregates, leverage, concentration, exposures.

All amounts in USD bn; Treasury values at the market's initial prices. Leverage is
balance-sheet leverage, total assets / equity (a ratio). Concentration is measured by the
share of the top-k institutions and the Herfindahl-Hirschman index (sum of squared
shares, in [0, 1]).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from contagion.schema import INSTITUTION_TYPES
from contagion.sums import rowdot
from contagion.system import System


def institution_metrics(system: System) -> pd.DataFrame:
    """One row per institution: balance sheet, repo, futures, swaps and leverage (USD bn)."""
    cs = system.compile()
    n = cs.n_institutions
    m = cs.market
    assets, liabilities = cs.balance_sheet()
    equity = assets - liabilities
    r, f, s = cs.repo, cs.futures, cs.swaps
    swap_dv01 = s.notional_usd_bn * m.modified_duration_years[s.instrument] * 1e-4
    with np.errstate(divide="ignore", invalid="ignore"):
        leverage = np.where(equity > 0, assets / equity, np.nan)
    out = pd.DataFrame(
        {
            "type": pd.Categorical.from_codes(cs.type_code, INSTITUTION_TYPES),
            "assets_usd_bn": assets,
            "liabilities_usd_bn": liabilities,
            "equity_usd_bn": equity,
            "leverage_ratio": leverage,
            "cash_usd_bn": cs.cash_usd_bn,
            "treasury_par_usd_bn": cs.holdings_par_usd_bn.sum(axis=1),
            "treasury_value_usd_bn": rowdot(cs.holdings_par_usd_bn, m.price / 100.0),
            "repo_borrowed_usd_bn": np.bincount(r.borrower, r.amount_usd_bn, minlength=n),
            "repo_lent_usd_bn": np.bincount(r.lender, r.amount_usd_bn, minlength=n),
            "futures_long_usd_bn": np.bincount(
                f.source, np.clip(f.notional_usd_bn, 0, None), minlength=n
            ),
            "futures_short_usd_bn": np.bincount(
                f.source, np.clip(-f.notional_usd_bn, 0, None), minlength=n
            ),
            "swap_receive_fixed_usd_bn": np.bincount(
                s.source, np.clip(s.notional_usd_bn, 0, None), minlength=n
            ),
            "swap_pay_fixed_usd_bn": np.bincount(
                s.source, np.clip(-s.notional_usd_bn, 0, None), minlength=n
            ),
            "swap_dv01_usd_bn_per_bp": np.bincount(s.source, swap_dv01, minlength=n),
            "initial_margin_posted_usd_bn": np.bincount(
                np.concatenate([f.source, s.source]),
                np.concatenate([f.initial_margin_usd_bn, s.initial_margin_usd_bn]),
                minlength=n,
            ),
        },
        index=pd.Index(cs.ids, name="institution"),
    )
    return out


def sector_aggregates(system: System) -> pd.DataFrame:
    """Per-sector totals (rows: institution types present) and aggregate leverage.

    Examples
    --------
    >>> from contagion.examples import toy_basis_trade
    >>> agg = sector_aggregates(toy_basis_trade())
    >>> float(agg.loc["hedge_fund", "repo_borrowed_usd_bn"])
    169.0
    """
    per = institution_metrics(system).drop(columns="leverage_ratio")
    agg = per.groupby("type", observed=True).sum(numeric_only=True)
    agg.insert(0, "n_institutions", per.groupby("type", observed=True).size())
    with np.errstate(divide="ignore", invalid="ignore"):
        agg["leverage_ratio"] = np.where(
            agg["equity_usd_bn"] > 0, agg["assets_usd_bn"] / agg["equity_usd_bn"], np.nan
        )
    agg.index = agg.index.astype(str)
    agg.index.name = "sector"
    return agg


def leverage_distribution(
    system: System,
    inst_type: str = "hedge_fund",
    quantiles: Sequence[float] = (0.1, 0.25, 0.5, 0.75, 0.9),
) -> pd.Series:
    """Quantiles of balance-sheet leverage (assets / equity) across one sector."""
    per = institution_metrics(system)
    lev = per.loc[per["type"] == inst_type, "leverage_ratio"].dropna()
    out = lev.quantile(list(quantiles))
    out.index = [f"q{round(q * 100):02d}" for q in quantiles]
    out["mean"] = lev.mean()
    out["asset_weighted"] = (
        per.loc[lev.index, "assets_usd_bn"].sum() / per.loc[lev.index, "equity_usd_bn"].sum()
        if len(lev)
        else np.nan
    )
    out.name = f"{inst_type}_leverage_ratio"
    return out


def concentration(
    system: System,
    metric: str = "repo_borrowed_usd_bn",
    inst_type: str = "hedge_fund",
    top: tuple[int, ...] = (5, 10, 50),
) -> pd.Series:
    """Top-k shares and HHI of one metric (a column of :func:`institution_metrics`)."""
    per = institution_metrics(system)
    x = np.sort(per.loc[per["type"] == inst_type, metric].to_numpy())[::-1]
    total = x.sum()
    share = x / total if total > 0 else np.zeros_like(x)
    out = {f"top{k}_share_frac": float(share[:k].sum()) for k in top}
    out["hhi"] = float((share**2).sum())
    out["n"] = float(len(x))
    out["total_usd_bn"] = float(total)
    return pd.Series(out, name=f"{inst_type}:{metric}")


def summary(system: System) -> dict[str, object]:
    """A flat mapping of headline descriptive figures (for terminals and reports)."""
    agg = sector_aggregates(system)
    out: dict[str, object] = {
        "name": system.name,
        "n_institutions": system.n_institutions,
        "n_exposures": system.n_exposures,
    }
    for sector, row in agg.iterrows():
        out[f"{sector}.n"] = int(row["n_institutions"])
        for col in (
            "treasury_par_usd_bn",
            "repo_borrowed_usd_bn",
            "repo_lent_usd_bn",
            "futures_short_usd_bn",
            "futures_long_usd_bn",
            "equity_usd_bn",
        ):
            if row[col]:
                out[f"{sector}.{col}"] = float(row[col])
    if (agg.index == "hedge_fund").any():
        lev = leverage_distribution(system)
        out["hedge_fund.leverage_median_ratio"] = float(lev["q50"])
        out["hedge_fund.leverage_asset_weighted_ratio"] = float(lev["asset_weighted"])
        conc = concentration(system)
        out["hedge_fund.repo_top5_share_frac"] = float(conc["top5_share_frac"])
    return out
