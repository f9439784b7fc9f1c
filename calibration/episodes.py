"""Episode scenarios from data: (system, scenario, policies) for September 2019, March 2020
and April 2025.

:func:`episode` builds the pre-shock system from the episode's vintage
(:func:`calibration.build.build_system`) and turns the episode's ``input`` rows
(:func:`calibration.load_episode`) into a daily :class:`contagion.Scenario` and the policy
configs that replay what the Fed did. Targets (``role == "target"``) are never read here;
they are used only by :mod:`calibration.fit`. April 2025 is out of sample: its file holds
inputs only and the fitted parameters come from the fit episodes (March 2020 and the
September 2019 funding episode).

Day ``k`` of a simulation (1-based, ``Result.markets`` row ``k``) is the k-th US business
day from the episode's first day (weekends skipped; holidays are not removed, an assumption
worth at most one day of drift).

How the inputs become paths (units: MOVE index level, bp, USD bn, fractions of NAV):

* **Volatility**: the MOVE index, linearly interpolated between the dated ``move_index_level``
  rows; where the episode gives only a peak level without a day, the peak is put on the
  VIX record day (``vix_level``) and held for ``PEAK_HOLD_DAYS`` (assumption); after the
  last dated MOVE point it decays linearly toward ``DECAY_TO_SHARE`` of the way back to the
  pre-shock level by the last day (assumption: no MOVE row after the peak). April 2025 has
  a dated MOVE peak (Apr 8) and a VIX path afterwards: MOVE follows the VIX ratio.
* **Rate cuts** (``fed_funds_target_change_bp``): the policy-rate path
  (``Scenario.policy_rate_change_bp`` on the cut day: the target range, IORB, ON RRP, the
  SRF and discount rates move together and money-market rates follow them,
  :mod:`contagion.mechanisms.policy_rates`), and the expectations channel on bond yields: a
  fundamental yield shock on the cut day, bucket ``b`` moving by ``cut x min(1,
  CUT_HORIZON_YEARS / maturity_b)`` (assumption: a cut expected to last about a year moves
  a par yield by the share of its life it covers).
* **Risk-free benchmark** (``usd_swap_rate_<bucket>_pct`` rows, all four buckets and a
  pre-shock row): when an episode has them, the swap rates' daily changes are the
  fundamental path instead of the cuts' pass-through above (:func:`benchmark_shock_bp`;
  the no-Fed counterfactual takes the pass-through out of them). No shipped episode has
  them: no public swap or OIS rates for March 2020 were found.
* **Foreign sales** (``foreign_net_sales_ust``, March total): exogenous sales by the
  ``other`` holders, spread over the episode's stress days in proportion to excess
  volatility, split across buckets like their holdings.
* **Mutual-fund sales** (``bond_mutual_fund_ust_sales``): asset-manager redemptions sized so
  that, with the engine's dash-for-cash waterfall (redemptions paid from cash first, then
  Treasuries sold ``p`` times their weight among the other assets,
  ``ModelParams.treasury_sale_preference``), they sell that amount of Treasuries:
  ``cash + sales x (other + p x Treasuries) / (p x Treasuries)``.
* **MMF flows** (``prime_mmf_flow``, ``govt_mmf_flow``; March 2020): prime funds lose the
  prime outflow as a share of the prime funds' NAV and government funds receive the
  government inflow as a share of theirs (``Scenario.prime_mmf_outflow_frac``,
  ``government_mmf_inflow_frac``; a fund's prime share is ``mmf_prime_share_frac``),
  spread over the stress days like the other March flows.
* **September 2019** (a funding episode on the ``2019-08`` vintage; fact base 2.16-2.21,
  4.36-4.38): on the tax date (Sep 16) money funds lose the corporate-tax redemptions
  (``mmf_tax_redemptions_usd_bn``, all funds alike), the Treasury settles the coupon
  issuance auctioned the week before (``treasury_coupon_settlement_usd_bn``, split across
  buckets like the week's auctions, ``auction_size_*``: its buyers pay cash into the
  Treasury's account) and the Treasury's account also receives the taxes: the reserve drain
  over Sep 16-17 (``reserve_drain_usd_bn``) less the settlement, put on Sep 16
  (``Scenario.tga_change_usd_bn``). Volatility stays at the vintage's level (no MOVE input
  rows). The Fed's repo operations from Sep 17 are standing facilities for dealers at the
  offered amounts (two facilities whose limits add up once the Sep 26 enlargement starts)
  with the minimum bid as a spread to the SRF rate of the policy-rate state, whose top of
  range moves with the Sep 18 cut.
* **FIMA repo** (March 2020): not replayed. The foreign official sales are an input of
  observed March totals; a FIMA facility in the replay would let the same holders borrow
  instead and count the relief twice.
* **April 2025 fundamental rate shock: zero** (assumption, from inputs only). Its inputs
  pull both ways: the tariff announcement raises expected inflation and term premia, the
  equity drawdown (-12% in four days) and the VIX at 52 drive a flight to quality; the fact
  base gives no input that signs the net move, and taking it from the Treasury yield
  outcome is what the out-of-sample rule forbids. The model's April 2025 yield change is
  therefore the dislocation it generates from the volatility path and positions alone.
* **Policies as they happened** (``with_fed=True``): Treasury purchases (announcement,
  daily pace rows, reserve-management purchases) as one QE schedule split across buckets
  like the outstanding; the repo operations as a standing facility for dealers from the
  first offer date with the offered amounts as its limit; SLR relief from its flag date.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import numpy as np
import pandas as pd

from calibration.build import (
    BUCKETS,
    MATURITY_YEARS,
    build_system,
    build_targets,
    with_dealer_capacity,
)
from calibration.snapshot import load_episode, load_snapshot
from contagion.policies import QEConfig, SLRReliefConfig, StandingRepoConfig
from contagion.policies.base import Policy, PolicyConfig
from contagion.scenario import Scenario
from contagion.system import System

__all__ = [
    "EPISODES",
    "FITTED_NAMES",
    "FIXED_MODEL_PARAMS",
    "FIXED_MODEL_PARAMS_SOURCE",
    "Probe",
    "ProbeConfig",
    "apply_params",
    "close_before",
    "counterfactual_no_fed",
    "counterfactual_srf_2019",
    "episode",
    "episode_calendar",
]

#: Episode -> (vintage, first day, last day). April 2025 runs on the 2025-03 vintage.
EPISODES = {
    "sept_2019": ("2019-08", "2019-09-03", "2019-09-30"),
    "march_2020": ("2020-02", "2020-03-02", "2020-04-30"),
    "april_2025": ("2025-03", "2025-04-01", "2025-04-30"),
    "late_2025": ("latest", "2025-12-01", "2026-01-16"),
}
#: The episodes the parameters are fitted to (calibration.fit); the others are out of sample.
FIT_EPISODES = ("march_2020", "sept_2019")
FIT_VINTAGE = "2020-02"  # the vintage the parameters are fitted on
PEAK_HOLD_DAYS = 3  # assumption: MOVE stays at its March 2020 peak for three days
DECAY_TO_SHARE = 0.5  # assumption: by the last day MOVE has come half-way back
CUT_HORIZON_YEARS = 1.0  # assumption: see the module docstring
STRESS_START = {"march_2020": "2020-03-09"}  # dash-for-cash selling starts (fact base 9b.1)
STRESS_END = {"march_2020": "2020-03-31"}  # March totals (the input rows are March flows)

#: Fitted parameters: name -> where it lives. ``model``: :class:`contagion.ModelParams`;
#: ``hf``/``am``: institution behaviour columns; ``system``: a builder argument.
FITTED_NAMES: dict[str, str] = {
    "impact_bp_per_usd_bn": "model",
    "impact_convexity": "model",
    "impact_decay_frac": "model",
    "futures_pass_through_frac": "model",
    "outside_demand_usd_bn_per_bp": "model",
    "im_vol_elasticity": "model",
    "haircut_vol_sensitivity_frac": "model",
    "repo_rate_convexity": "model",
    "leverage_vol_elasticity": "hf",
    "redemption_sensitivity_ratio": "am",
    "dealer_capacity_usd_bn": "system",
    "mmf_reallocation_frac": "model",
}
#: Model parameters the calibration sets from data without fitting them (value, source):
#: the yield impact per USD bn grows in proportion to duration, as March 2020 bid-ask
#: spreads in yield terms did across tenors (fact base row 4.10; price_impact docstring).
FIXED_MODEL_PARAMS: dict[str, float] = {
    "impact_duration_elasticity": 1.0,
    "impact_permanent_bp_per_usd_bn": 0.1,
}
FIXED_MODEL_PARAMS_SOURCE = {
    "impact_duration_elasticity": "fact base 4.10 (Fleming & Ruela bid-ask by tenor, "
    "March 2020): 5y : 10y : 30y about 0.27 : 0.36 : 0.78 bp in yield, ~ duration",
    "impact_permanent_bp_per_usd_bn": "fact base 6.8 (D'Amico & King 2013): the stock effect "
    "of USD 300 bn of purchases about 30 bp (0.07-0.17 bp per USD bn across estimates)",
}
# MMF flow-performance sensitivity = this share of the asset managers' (schema defaults
# 1.0 and 2.0: the ratio is kept when the AM value is fitted).
MMF_TO_AM_REDEMPTION_SENSITIVITY = 0.5


class ProbeConfig(PolicyConfig):
    """A no-op policy that records hedge-fund positions every day (for the fit)."""

    type: Literal["probe"] = "probe"

    def build(self) -> Policy:
        return Probe(self)


class Probe(Policy):
    """Records, per day (index 0 = initial): HF long par per fund, HF short notional per
    fund (futures + swaps), HF repo per fund, HF futures shorts per contract, USD bn.

    It only reads the run (:class:`contagion.policies.base.PolicyView`); its arrays live in
    its record (``sim.state.policy[i]``, :func:`frames`).
    """

    def initial_record(self, view) -> dict:
        self.hf = np.flatnonzero(view.topo.mask["hedge_fund"])
        rows, nh, nf = view.days + 1, len(self.hf), len(view.market.futures_codes)
        rec = {
            **super().initial_record(view),
            "long": np.zeros((rows, nh)),
            "short": np.zeros((rows, nh)),
            "repo": np.zeros((rows, nh)),
            "fut": np.zeros((rows, nf)),
        }
        self._snap(view, rec, 0)
        return rec

    def _snap(self, view, rec, k: int) -> None:
        topo, n = view.topo, view.n
        rec["long"][k] = view.par[self.hf].sum(axis=1)
        neg = np.clip(-view.notional, 0.0, None)
        rec["short"][k] = np.bincount(topo.m_source, neg, minlength=n)[self.hf]
        rec["repo"][k] = np.bincount(topo.repo.borrower, view.repo_amount, minlength=n)[self.hf]
        is_hf = np.zeros(n, bool)
        is_hf[self.hf] = True
        m = ~topo.is_swap & is_hf[topo.m_source]
        rec["fut"][k] = np.bincount(
            topo.m_instrument[m], neg[m], minlength=len(view.market.futures_codes)
        )

    def on_day_end(self, view) -> None:
        self._snap(view, view.mine, view.day)


def frames(record: dict) -> dict[str, np.ndarray]:
    """A :class:`Probe`'s arrays (days + 1, n_hedge_funds) of long par, short notional and
    repo; futures by contract (days + 1, n_contracts). USD bn."""
    return {k: record[k] for k in ("long", "short", "repo", "fut")}


def episode_calendar(name: str) -> pd.DatetimeIndex:
    """Business days of the episode; position ``k - 1`` is simulated day ``k``."""
    _, start, end = EPISODES[name]
    return pd.bdate_range(start, end)


def day_of(name: str, date: str | dt.date) -> int:
    """Simulated day (1-based) of the first business day on or after ``date``."""
    cal = episode_calendar(name)
    k = int(cal.searchsorted(pd.Timestamp(date)))
    return min(k, len(cal) - 1) + 1


def close_before(name: str, date: str | dt.date | pd.Timestamp) -> int:
    """The simulated day whose close sets the overnight rates of business day ``date`` (on
    or after it): the day before it (at least day 1).

    Timing assumption: overnight repo trades early in the morning on the previous day's
    positions, so the model's GC at the close of day ``k`` (after the day's flows settle) is
    the rate of the overnight trades of day ``k + 1``; SOFR dated ``d`` is compared with the
    close of the business day before ``d``, and an administered rate effective on ``d`` is
    set at that close. The Fed's repo operation of Sep 17, 2019 (09:30, after most of the
    day's trading) thus first shows in SOFR of Sep 18.
    """
    return max(day_of(name, date) - 1, 1)


def _inputs(name: str) -> pd.DataFrame:
    ep = load_episode(name)
    return ep[ep["role"] == "input"]


def _rows(ep: pd.DataFrame, var: str) -> pd.DataFrame:
    return ep[ep["variable"] == var].sort_values("date")


def benchmark_shock_bp(name: str, ep: pd.DataFrame) -> np.ndarray | None:
    """Daily fundamental yield changes (bp, days x buckets) from the episode's dated USD swap
    rates (``usd_swap_rate_<bucket>_pct`` input rows), or None when it has none.

    The swap rate is the risk-free benchmark (no public OIS or SOFR swap file covers 2020,
    ``calibration/data/raw/README.md``; LIBOR swap rates are the documented proxy): its
    change from one business day to the next is the fundamental move, shared by cash,
    futures and swaps (``Scenario.rate_shock_bp``); the Treasury yield's move beyond it is
    the model's dislocation. Between dated rows the level is interpolated linearly in
    calendar time, after the last row it is held; the change of day 1 is measured from the
    last row before the episode's first day, which each bucket must have (the pre-shock
    level). Every bucket must have rows (a partial benchmark would mix two definitions of
    the fundamental).
    """
    cal = episode_calendar(name)
    rows = {b: _rows(ep, f"usd_swap_rate_{b}_pct") for b in BUCKETS}
    if all(r.empty for r in rows.values()):
        return None
    missing = [b for b, r in rows.items() if r.empty]
    if missing:
        raise ValueError(
            f"episode {name}: usd_swap_rate_<bucket>_pct rows for {missing} are missing "
            f"(the benchmark needs every bucket: {list(BUCKETS)})"
        )
    out = np.zeros((len(cal), len(BUCKETS)))
    for j, b in enumerate(BUCKETS):
        r = rows[b]
        level = pd.Series(r["value"].to_numpy(float), index=pd.to_datetime(r["date"]))
        before = level[level.index < cal[0]]
        if before.empty:
            raise ValueError(
                f"episode {name}: usd_swap_rate_{b}_pct needs a row dated before "
                f"{cal[0].date()} (the pre-shock level of the benchmark)"
            )
        grid = level.index.union(cal)
        path = level.reindex(grid).interpolate(method="time").ffill().loc[cal]
        out[:, j] = np.diff(np.concatenate([[before.iloc[-1]], path.to_numpy()])) * 100.0
    return out


def _vol_path(name: str, ep: pd.DataFrame, move0: float) -> np.ndarray:
    """MOVE level per simulated day / the vintage's MOVE (dimensionless; 1 throughout for an
    episode without MOVE rows: September 2019 was a funding event)."""
    cal = episode_calendar(name)
    n = len(cal)
    move = _rows(ep, "move_index_level")
    if move.empty:
        return np.ones(n)
    vix = _rows(ep, "vix_level")
    x, y = [], []
    for d, v in zip(move["date"], move["value"], strict=True):
        x.append(day_of(name, d) if pd.Timestamp(d) >= cal[0] else 0)
        y.append(float(v))
    if name == "march_2020":
        # the peak row carries a month-end date (day not given): place it on the VIX record
        peak_day = day_of(name, vix.loc[vix["value"].idxmax(), "date"])
        x[-1] = peak_day
        x.append(peak_day + PEAK_HOLD_DAYS)
        y.append(y[-1])
        x.append(n)
        y.append(y[0] + DECAY_TO_SHARE * (y[-1] - y[0]))
    else:
        # after the dated MOVE peak, MOVE follows the VIX ratio, then decays
        peak_day, peak = x[-1], y[-1]
        vix_at_peak = float(vix.loc[vix["date"] == move["date"].iloc[-1], "value"].iloc[0])
        for d, v in zip(vix["date"], vix["value"], strict=True):
            k = day_of(name, d)
            if k > peak_day:
                x.append(k)
                y.append(peak * float(v) / vix_at_peak)
        x.append(n)
        y.append(y[0] + DECAY_TO_SHARE * (y[-1] - y[0]))
    days = np.arange(1, n + 1)
    return np.interp(days, x, y) / move0


def _stress_weights(name: str, vol: np.ndarray) -> np.ndarray:
    """Weights over days (sum 1) for the month's flows: excess volatility in the window."""
    k0, k1 = day_of(name, STRESS_START[name]), day_of(name, STRESS_END[name])
    w = np.zeros(len(vol))
    w[k0 - 1 : k1] = np.clip(vol[k0 - 1 : k1] - 1.0, 1e-6, None)
    return w / w.sum()


def _march_policies(ep: pd.DataFrame, system: System) -> list[PolicyConfig]:
    name = "march_2020"
    cal = episode_calendar(name)
    n = len(cal)
    out_b = np.array([b.outstanding_usd_bn for b in system.market.buckets])
    split = out_b / out_b.sum()
    pace = np.zeros(n)
    # announcement to the first pace row: 775 bought Mar 15-31 (qe_ust_purchased_cum) minus
    # the paced days up to Mar 31, spread evenly (derived)
    ann = _rows(ep, "qe_ust_announced_usd_bn")
    rows = _rows(ep, "qe_ust_purchase_pace_usd_bn_per_day")
    start = day_of(name, ann["date"].iloc[0])
    first_pace = day_of(name, rows["date"].iloc[0])
    for d, v in zip(rows["date"], rows["value"], strict=True):
        pace[day_of(name, d) - 1 :] = float(v)
    cum = float(_rows(ep, "qe_ust_purchased_cum_usd_bn")["value"].iloc[0])
    end_march = day_of(name, "2020-03-31")
    paced = pace[first_pace - 1 : end_march].sum()
    pace[start - 1 : first_pace - 1] = max(cum - paced, 0.0) / max(first_pace - start, 1)
    # reserve-management purchases: a monthly amount from their start for a month
    rmp = _rows(ep, "fed_rmp_purchase_pace_usd_bn")
    if len(rmp):
        k = day_of(name, rmp["date"].iloc[0])
        month = min(22, n - k + 1)  # ~22 business days a month
        pace[k - 1 : k - 1 + month] += float(rmp["value"].iloc[0]) / 22.0
    first = int(np.flatnonzero(pace > 0)[0]) + 1
    sched = {b: [round(float(p * split[j]), 6) for p in pace[first - 1 :]]
             for j, b in enumerate(BUCKETS)}  # fmt: skip
    policies: list[PolicyConfig] = [
        QEConfig(
            name="fed_purchases",
            trigger={"start_day": first},
            schedule_usd_bn=sched,
            budget_usd_bn=float(pace.sum()) + 1.0,
        )
    ]
    # repo operations: term offers then daily ON offers; one facility, limit = the offers
    offered = float(_rows(ep, "fed_repo_offered_usd_bn")["value"].sum())
    on = _rows(ep, "fed_on_repo_offered_usd_bn")
    offered += float(on["value"].max()) if len(on) else 0.0
    k_repo = day_of(name, _rows(ep, "fed_repo_offered_usd_bn")["date"].iloc[0])
    policies.append(
        StandingRepoConfig(
            name="fed_repo_operations",
            trigger={"start_day": k_repo},
            aggregate_limit_usd_bn=offered,
            min_bid_spread_bp=_ioer_spread_bp(system),
            eligible=["dealer"],
        )
    )
    slr = _rows(ep, "slr_ust_exclusion_flag")
    if len(slr):
        policies.append(
            SLRReliefConfig(
                name="slr_relief", trigger={"start_day": day_of(name, slr["date"].iloc[0])}
            )
        )
    return policies


def _ioer_spread_bp(system: System) -> float:
    """The Fed's repo operations bid at IOER (2019: min bid 2.10 = IOER, then 1.80 = the new
    IOER; fact base 4.36-4.37; the same rule for March 2020 is an assumption): IORB less the
    top of the range at the vintage, bp, kept as the cuts move both."""
    m = system.market
    return (m.iorb_rate_pct - m.srf_rate_pct) * 100.0


def _sept_inputs(ep: pd.DataFrame, system: System, n: int) -> tuple[dict, list]:
    """September 2019: the tax date and coupon settlement (Sep 16), the repo operations."""
    name = "sept_2019"
    k = day_of(name, "2019-09-16")
    mmf = (system.institutions["type"] == "mmf").to_numpy()
    mmf_nav = float(system.compile().equity()[mmf].sum())
    redemptions = float(_rows(ep, "mmf_tax_redemptions_usd_bn")["value"].sum())
    outflow = np.zeros(n)
    outflow[k - 1] = redemptions / mmf_nav
    settled = float(_rows(ep, "treasury_coupon_settlement_usd_bn")["value"].sum())
    # the week's auctions by bucket of remaining maturity (3y -> the 2y bucket, <= 3y)
    sizes = {"2y": _rows(ep, "auction_size_3y_usd_bn"), "10y": _rows(ep, "auction_size_10y_usd_bn"),
             "30y": _rows(ep, "auction_size_30y_usd_bn")}  # fmt: skip
    total = sum(float(r["value"].sum()) for r in sizes.values())
    issuance = {}
    for b in BUCKETS:
        path = np.zeros(n)
        if b in sizes:
            path[k - 1] = settled * float(sizes[b]["value"].sum()) / total
        issuance[b] = [round(float(x), 6) for x in path]
    # the Treasury's account: the two-day reserve drain less what the settlement drains
    drain = float(_rows(ep, "reserve_drain_usd_bn")["value"].sum())
    tga = np.zeros(n)
    tga[k - 1] = drain - settled
    doc = {
        "mmf_outflow_frac": [round(float(x), 8) for x in outflow],
        "treasury_issuance_usd_bn": issuance,
        "tga_change_usd_bn": [round(float(x), 6) for x in tga],
    }
    offered = _rows(ep, "fed_repo_offered_usd_bn")
    spread = _ioer_spread_bp(system)
    start = day_of(name, offered["date"].iloc[0])
    first = float(offered["value"].iloc[0])
    policies: list[PolicyConfig] = [
        StandingRepoConfig(name="fed_repo_operations", trigger={"start_day": start},
                           aggregate_limit_usd_bn=first, min_bid_spread_bp=spread,
                           eligible=["dealer"])
    ]  # fmt: skip
    for d, v in zip(offered["date"], offered["value"], strict=True):
        extra = float(v) - first
        if extra > 0:  # an enlargement: a second facility whose limit adds to the first
            policies.append(
                StandingRepoConfig(name="fed_repo_operations_added",
                                   trigger={"start_day": day_of(name, d)},
                                   aggregate_limit_usd_bn=extra, min_bid_spread_bp=spread,
                                   eligible=["dealer"])
            )  # fmt: skip
            first = float(v)
    return doc, policies


def _april_policies(ep: pd.DataFrame, system: System) -> list[PolicyConfig]:
    lim = _rows(ep, "srf_aggregate_limit_usd_bn")
    rate = _rows(ep, "srf_min_bid_rate_pct")
    spread = (float(rate["value"].iloc[0]) - system.market.policy_rate_pct) * 100.0
    return [
        StandingRepoConfig(
            name="srf",
            aggregate_limit_usd_bn=float(lim["value"].iloc[0]),
            min_bid_spread_bp=spread,
            eligible=["dealer"],
        )
    ]


def _late_2025_inputs(ep: pd.DataFrame, system: System) -> tuple[dict, list]:
    """Late 2025: reserves drift with ON RRP near zero, the December cut (generic), the
    SRF's aggregate limit removed on Dec 10.

    Reserves: the vintage's level stands for the first day, then the dated levels after it
    (linear between them, flat after the last); the day's fall is a drain
    (``tga_change_usd_bn``; positive drains). The path already holds QT's end and the
    reserve management purchases of bills (outside the model's coupon buckets)."""
    name = "late_2025"
    cal = episode_calendar(name)
    rows = _rows(ep, "bank_reserves_usd_bn")
    after = rows[pd.to_datetime(rows["date"]) > cal[0]]
    x = np.array([0.0, *[(pd.Timestamp(d) - cal[0]).days for d in after["date"]]])
    y = np.array([system.market.bank_reserves_usd_bn, *after["value"].astype(float)])
    level = np.interp(np.asarray((cal - cal[0]).days, dtype=float), x, y)
    drain = -np.diff(level, prepend=level[0])
    doc = {"tga_change_usd_bn": [round(float(v), 6) for v in drain]}
    m = system.market
    spread = (m.srf_rate_pct - m.policy_rate_pct) * 100.0
    limit = load_snapshot(EPISODES[name][0]).value("srf_aggregate_limit_usd_bn")
    policies: list[PolicyConfig] = [
        StandingRepoConfig(name="srf", aggregate_limit_usd_bn=limit,
                           min_bid_spread_bp=spread, eligible=["dealer"])
    ]  # fmt: skip
    removed = _rows(ep, "srf_aggregate_limit_removed_flag")
    if len(removed):  # no aggregate limit: a second facility no lending can fill (every
        # Treasury in the system), from the day after the decision
        outstanding = float(system.compile().holdings_par_usd_bn.sum())
        start = day_of(name, pd.Timestamp(removed["date"].iloc[0]) + pd.Timedelta(days=1))
        policies.append(
            StandingRepoConfig(name="srf_limit_removed", trigger={"start_day": start},
                               aggregate_limit_usd_bn=outstanding, min_bid_spread_bp=spread,
                               eligible=["dealer"])
        )  # fmt: skip
    return doc, policies


def apply_params(
    system: System, scenario: Scenario, params: dict[str, float] | None
) -> tuple[System, Scenario]:
    """Put fitted parameters where they live (see :data:`FITTED_NAMES`); returns copies.

    ``redemption_sensitivity_ratio`` sets the asset managers' value and the MMFs' at
    :data:`MMF_TO_AM_REDEMPTION_SENSITIVITY` of it; ``dealer_capacity_usd_bn`` (USD bn,
    fitted on the 2020-02 vintage) rescales the dealers' leverage-ratio headroom
    (:func:`with_dealer_capacity`); on another vintage the fitted / prior ratio is applied
    to that vintage's prior ``dealer_ust_capacity_usd_bn``.
    """
    if not params:
        return system, scenario
    unknown = set(params) - set(FITTED_NAMES)
    if unknown:
        raise KeyError(f"unknown parameters {sorted(unknown)}; known: {sorted(FITTED_NAMES)}")
    model = {k: float(v) for k, v in params.items() if FITTED_NAMES[k] == "model"}
    if model:
        scenario = scenario.with_params(**model)
    if "dealer_capacity_usd_bn" in params:
        fitted = cap = float(params["dealer_capacity_usd_bn"])
        vintage = system.metadata.get("vintage", FIT_VINTAGE)
        derivation = None
        if vintage != FIT_VINTAGE:  # fitted on 2020: carry the ratio to the vintage's prior
            prior = build_targets(vintage)["dealer_capacity"]
            prior_fit = build_targets(FIT_VINTAGE)["dealer_capacity"]
            cap *= prior / prior_fit
            derivation = (
                f"{fitted:.1f} USD bn fitted on the {FIT_VINTAGE} vintage x "
                f"{prior:.1f} / {prior_fit:.1f} (the {vintage} / {FIT_VINTAGE} prior "
                f"dealer_ust_capacity_usd_bn) = {cap:.1f} USD bn"
            )
        system = with_dealer_capacity(system, cap, derivation)
    cols = {k: v for k, v in params.items() if FITTED_NAMES[k] in ("hf", "am")}
    if cols:
        inst, exp = system.to_tables()
        ty = inst["type"]
        if "leverage_vol_elasticity" in cols:
            inst.loc[ty == "hedge_fund", "leverage_vol_elasticity"] = cols[
                "leverage_vol_elasticity"
            ]
        if "redemption_sensitivity_ratio" in cols:
            r = float(cols["redemption_sensitivity_ratio"])
            inst.loc[ty == "asset_manager", "redemption_sensitivity_ratio"] = r
            inst.loc[ty == "mmf", "redemption_sensitivity_ratio"] = (
                MMF_TO_AM_REDEMPTION_SENSITIVITY * r
            )
        system = System(
            inst.drop(columns=["equity_usd_bn"]), exp, system.market, name=system.name,
            description=system.description, metadata={**system.metadata, "params": dict(params)},
        )  # fmt: skip
    return system, scenario


def _resolve_params(params: Any) -> dict[str, float] | None:
    if params == "fitted":
        from calibration.fit import fitted_params

        try:
            return fitted_params()
        except FileNotFoundError:
            return None
    return params


def episode(
    name: str,
    *,
    seed: int = 0,
    params: dict[str, float] | Literal["fitted"] | None = "fitted",
    with_fed: bool = True,
    probe: bool = False,
    n_hedge_funds: int = 300,
) -> tuple[System, Scenario, list]:
    """(system, scenario, policies) of an episode, from its vintage and ``input`` rows.

    Parameters
    ----------
    name : str
        ``"march_2020"``, ``"sept_2019"`` (fit episodes) or ``"april_2025"`` (out of sample).
    seed : int
        Builder seed.
    params : dict, "fitted" or None
        Parameter values (:data:`FITTED_NAMES`); ``"fitted"`` uses the shipped file
        (:func:`calibration.fitted_params`), None the model defaults.
    with_fed : bool
        March 2020 and September 2019: False drops the Fed's actions (purchases, repo
        operations, SLR relief and the rate cuts): the counterfactual.
    probe : bool
        Append a :class:`ProbeConfig` recorder (used by the fit).
    n_hedge_funds : int
        Hedge funds in the built system.
    """
    if name not in EPISODES:
        raise KeyError(f"episode {name!r} is not modelled; available: {sorted(EPISODES)}")
    vintage, _, _ = EPISODES[name]
    system = build_system(vintage, seed=seed, n_hedge_funds=n_hedge_funds)
    ep = _inputs(name)
    cal = episode_calendar(name)
    n = len(cal)
    move0 = system.market.volatility_index
    vol = _vol_path(name, ep, move0)
    doc: dict[str, Any] = {
        "name": name,
        "days": n,
        "description": f"{name} from the {vintage} vintage and its input rows "
        f"({cal[0].date()} to {cal[-1].date()}); calibration.episodes.",
        "volatility_multiplier": [round(float(v), 6) for v in vol],
    }
    cuts = _rows(ep, "fed_funds_target_change_bp")
    bench = benchmark_shock_bp(name, ep)
    shock = np.zeros((n, len(BUCKETS))) if bench is None else bench
    policy = np.zeros(n)
    passthrough = np.minimum(1.0, CUT_HORIZON_YEARS / MATURITY_YEARS)
    for d, v in zip(cuts["date"], cuts["value"], strict=True):
        k = day_of(name, d) - 1  # yields react on the day
        if bench is None and with_fed:
            shock[k] += float(v) * passthrough
        elif bench is not None and not with_fed:
            # the observed benchmark holds the cuts' expectations channel: take it out
            shock[k] -= float(v) * passthrough
        # administered rates take effect the next business day (a Sunday decision on
        # Monday): the close before sets them (see close_before)
        effective = pd.Timestamp(d) + pd.Timedelta(days=1)
        policy[close_before(name, effective) - 1] += float(v)
    if shock.any():
        doc["rate_shock_bp"] = {b: [round(float(x), 6) for x in shock[:, j]]
                                for j, b in enumerate(BUCKETS)}  # fmt: skip
    if with_fed and len(cuts):
        doc["policy_rate_change_bp"] = [round(float(x), 6) for x in policy]
    if name == "sept_2019":
        extra, policies = _sept_inputs(ep, system, n)
        doc.update(extra)
        if not with_fed:
            policies = []
    elif name == "march_2020":
        w = _stress_weights(name, vol)
        inst = system.institutions
        other = (inst["type"] == "other").to_numpy()
        par = inst[[f"ust_{b}_par_usd_bn" for b in BUCKETS]].to_numpy(float)
        o_split = par[other].sum(axis=0) / par[other].sum()
        foreign = float(_rows(ep, "foreign_net_sales_ust_usd_bn")["value"].sum())
        doc["exogenous_sales_usd_bn"] = {
            b: [round(float(foreign * o_split[j] * x), 6) for x in w] for j, b in enumerate(BUCKETS)
        }
        am = (inst["type"] == "asset_manager").to_numpy()
        ust = par[am].sum()  # par = value at 100
        oth = inst.loc[am, "other_assets_usd_bn"].sum()
        cash = float(inst.loc[am, "cash_usd_bn"].sum())
        nav = float(system.compile().equity()[am].sum())
        p = Scenario().params.treasury_sale_preference
        mf = float(_rows(ep, "bond_mutual_fund_ust_sales_usd_bn")["value"].sum())
        # the waterfall pays redemptions from cash first, then sells
        redemption = cash + mf * (oth + p * ust) / (p * ust)
        doc["am_redemption_frac"] = [round(float(redemption / nav * x), 8) for x in w]
        mmf = (inst["type"] == "mmf").to_numpy()
        nav_mmf = system.compile().equity()[mmf]
        prime_share = inst.loc[mmf, "mmf_prime_share_frac"].to_numpy(float)
        prime_nav = float((nav_mmf * prime_share).sum())
        govt_nav = float((nav_mmf * (1.0 - prime_share)).sum())
        prime = -float(_rows(ep, "prime_mmf_flow_usd_bn")["value"].sum())
        govt = float(_rows(ep, "govt_mmf_flow_usd_bn")["value"].sum())
        doc["prime_mmf_outflow_frac"] = [round(float(prime / prime_nav * x), 8) for x in w]
        doc["government_mmf_inflow_frac"] = [round(float(govt / govt_nav * x), 8) for x in w]
        policies = _march_policies(ep, system) if with_fed else []
    elif name == "late_2025":
        extra, policies = _late_2025_inputs(ep, system)
        doc.update(extra)
    else:
        policies = _april_policies(ep, system)
    scenario = Scenario.model_validate(doc).with_params(**FIXED_MODEL_PARAMS)
    system, scenario = apply_params(system, scenario, _resolve_params(params))
    if probe:
        policies = [*policies, ProbeConfig(name="probe")]
    return system, scenario, policies


def counterfactual_srf_2019(
    *, seed: int = 0, params: Any = "fitted", limit_usd_bn: float = 500.0
) -> tuple[System, Scenario, list]:
    """September 2019 with today's Standing Repo Facility in place from the first day
    instead of the repo operations improvised from Sep 17: dealers eligible, minimum bid at
    the top of the target range (its setting since 2021, fact base 2.28), ``limit_usd_bn``
    (the SRF's aggregate limit of USD 500 bn), no stigma; the rate cut is kept."""
    system, scenario, policies = episode("sept_2019", seed=seed, params=params)
    kept = [p for p in policies if not isinstance(p, StandingRepoConfig)]
    srf = StandingRepoConfig(name="srf", aggregate_limit_usd_bn=limit_usd_bn, eligible=["dealer"])
    return system, scenario, [*kept, srf]


def counterfactual_no_fed(
    *, seed: int = 0, params: Any = "fitted", probe: bool = False
) -> tuple[System, Scenario, list]:
    """March 2020 without the Fed: no purchases, repo operations, SLR relief or rate cuts."""
    return episode("march_2020", seed=seed, params=params, with_fed=False, probe=probe)
