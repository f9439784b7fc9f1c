"""Explanations derived from a run: why each arm did what it did, in one line.

Nothing here is written for today's numbers: every sentence is chosen and filled from the
saved results, so the text follows the model when its economics change. For each arm the
evidence (:func:`evidence`) is read from its :class:`~contagion.Result`:

* what the tool did: bought (``policy_usage`` item ``bought``), lent (the peak of
  ``outstanding``, against no action's where standing facilities lend there too, with the
  sectors of the borrowers named by the take-up rows), reserves created;
* the constraint that bound: the summary's bound counters (``*_hit_days``,
  :data:`contagion.recorder.BOUNDS`), chiefly dealers out of balance sheet;
* who absorbed the sales (``flows`` by buyer: dealers, outside demand, policy) and who
  supplied or withheld cash (repo borrowed by sector from day 0 to its low, ``repo not
  rolled`` events, facility lending);
* what forced the sales (``events``: margin and haircut calls, repo not rolled,
  redemptions) and which P&L channel carried the loss.

:func:`reason` compares an arm's evidence with no action's and keeps the differences
that matter (thresholds below), so an arm that changes nothing is told why: e.g. a
facility that lent while dealers stayed out of balance sheet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from contagion.experiment import BASELINE
from contagion.report import labels as L

NOISE_BP = 0.5  # a peak-yield change below this is "no change"
NOISE_USD_BN = 1.0
NOISE_REL = 0.02  # relative change below which an amount is "unchanged"
NOISE_RATE_PP = 0.25  # percentage points of repo rate
CALL_KINDS = {
    "variation_margin_call": "variation margin calls",
    "initial_margin_call": "initial margin calls",
    "repo_margin_call": "repo margin and haircut calls",
    "repo_not_rolled": "repo not rolled",
    "redemption": "redemptions",
}
SALE_EVENTS = ("forced_sale", "liquidation_sale")


@dataclass
class Evidence:
    """What one arm's results say (amounts in USD bn)."""

    peak_yield_bp: float
    bought_usd_bn: float = 0.0
    lent_peak_usd_bn: float = 0.0
    borrowers: dict[str, float] = field(default_factory=dict)  # sector -> USD bn borrowed
    reserves_usd_bn: float = 0.0
    absorbed: dict[str, float] = field(default_factory=dict)  # buyer -> par bought
    calls: dict[str, float] = field(default_factory=dict)  # call kind -> amount
    sales_by_sector: dict[str, float] = field(default_factory=dict)
    repo_change: dict[str, float] = field(default_factory=dict)  # sector -> low - day 0
    channels: dict[str, float] = field(default_factory=dict)
    bounds: dict[str, float] = field(default_factory=dict)  # counter -> days
    repo_rate_pct: float = 0.0
    lends: bool = False  # the arm has a lending facility (usage item ``outstanding``)
    lenders: tuple[str, ...] = ()  # the lending policies' types (``policy_usage.policy``)
    facility_rate_pct: float = float("nan")  # lowest SRF minimum bid rate of the run
    cb_mtm_loss_usd_bn: float = 0.0
    defaults: float = 0.0


def _usage(r, item: str) -> pd.DataFrame:
    u = r.policy_usage
    return u[u["item"].astype(str) == item] if len(u) else u


def evidence(result, types: Mapping[str, str]) -> Evidence:
    """The evidence of one arm (``types``: institution id -> sector)."""
    s = result.summary
    ev = Evidence(peak_yield_bp=_headline_yield(s))
    bought = _usage(result, "bought")
    ev.bought_usd_bn = float(bought["value_usd_bn"].sum()) if len(bought) else 0.0
    out = _usage(result, "outstanding")
    ev.lends = bool(len(out))
    ev.lenders = tuple(sorted(set(out["policy"].astype(str)))) if len(out) else ()
    m = result.markets
    if "srf_rate_pct" in m and len(m):
        ev.facility_rate_pct = float(m["srf_rate_pct"].min())
    if len(out):
        by_day = out.groupby("day")["value_usd_bn"].sum()
        ev.lent_peak_usd_bn = float(by_day.max())
        # who borrowed: the lending policies' rows that name an institution (take-up and
        # inventory financing; ``outstanding`` is the facility's total and names nobody)
        u = result.policy_usage
        ids = u["institution"].astype(str)
        lent = u[u["policy"].astype(str).isin(ev.lenders) & ids.isin(set(types))]
        total = lent.groupby(lent["institution"].astype(str).map(types))["value_usd_bn"].sum()
        ev.borrowers = total[total > NOISE_USD_BN].to_dict()
    ev.lent_peak_usd_bn = max(ev.lent_peak_usd_bn, s.get("policy_cost_cash_lent_peak_usd_bn", 0))
    ev.reserves_usd_bn = float(s.get("cb_reserves_created_usd_bn", 0.0))
    if len(result.flows):
        ev.absorbed = result.flows.groupby("buyer", observed=True)["par_usd_bn"].sum().to_dict()
    e = result.events
    if len(e):
        kinds = e["event"].astype(str)
        for k in CALL_KINDS:
            v = float(e.loc[kinds == k, "amount_usd_bn"].sum())
            if v > 0:
                ev.calls[k] = v
        sales = e[kinds.isin(SALE_EVENTS)]
        ev.sales_by_sector = (
            sales.groupby(sales["type"].astype(str))["amount_usd_bn"].sum().to_dict()
        )
    inst = result.institutions
    if len(inst) and "repo_borrowed_usd_bn" in inst:
        by = inst.groupby([inst["type"].astype(str), "day"])["repo_borrowed_usd_bn"].sum()
        for t in by.index.get_level_values(0).unique():
            path = by.loc[t]
            ev.repo_change[t] = float(path.min() - path.iloc[0])
    ev.channels = {
        k.removeprefix("equity_loss_").removesuffix("_usd_bn"): v
        for k, v in s.items()
        if k.startswith("equity_loss_") and k.endswith("_usd_bn")
    }
    from contagion.recorder import BOUNDS

    ev.bounds = {k: float(s.get(k, 0.0)) for k in BOUNDS}
    ev.repo_rate_pct = float(s.get("peak_repo_rate_pct", 0.0))
    ev.cb_mtm_loss_usd_bn = float(s.get("equity_loss_central_bank_usd_bn", 0.0))
    ev.defaults = float(s.get("defaults_count", 0.0))
    return ev


def _headline_yield(summary: Mapping[str, float]) -> float:
    return float(summary.get(f"peak_yield_change_{L.headline_bucket(summary)}_bp", 0.0))


def _bn(x: float) -> str:
    return f"USD {x:,.0f} bn"


def _changed(a: float, b: float, abs_tol: float = NOISE_USD_BN) -> bool:
    return abs(a - b) > max(abs_tol, NOISE_REL * max(abs(a), abs(b)))


def loss_channels(ev: Evidence, sectors: Mapping[str, str]) -> dict[str, float]:
    """The P&L channels of an arm (USD bn; :data:`contagion.state.PNL_CHANNELS`)."""
    from contagion.state import PNL_CHANNELS

    return {k: v for k, v in ev.channels.items() if k in PNL_CHANNELS}


def dominant_channel(ev: Evidence, sectors: Mapping[str, str]) -> tuple[str, float, float]:
    """(channel, loss, share of the gross losses) of the largest loss channel."""
    ch = {k: v for k, v in loss_channels(ev, sectors).items() if v > 0}
    if not ch:
        return "", 0.0, 0.0
    k = max(ch, key=lambda c: ch[c])
    return k, ch[k], ch[k] / sum(ch.values())


def bounds_text(ev: Evidence) -> str:
    """The bounds that bit, with their days ("none" if none)."""
    hit = [f"{L.bound(k)} ({v:.0f} d)" for k, v in ev.bounds.items() if v > 0]
    return "; ".join(hit) if hit else "none"


def _what_forced(ev: Evidence, sectors: Mapping[str, str]) -> str:
    """The largest cause of forced selling and the sector that sold most."""
    parts = []
    if ev.calls:
        k = max(ev.calls, key=lambda c: ev.calls[c])
        parts.append(f"{CALL_KINDS[k]} ({_bn(ev.calls[k])})")
    if ev.sales_by_sector:
        t = max(ev.sales_by_sector, key=lambda c: ev.sales_by_sector[c])
        parts.append(f"{sectors.get(t, L.sector(t))} sold most ({_bn(ev.sales_by_sector[t])})")
    return "; ".join(parts)


def baseline_reason(ev: Evidence, sectors: Mapping[str, str]) -> str:
    """What drove the no-action run."""
    parts = []
    forced = _what_forced(ev, sectors)
    if forced:
        parts.append(f"largest call: {forced}")
    room = ev.bounds.get("dealer_room_exhausted_days", 0)
    if room:
        parts.append(f"dealers were out of balance sheet on {room:.0f} days")
    withheld = {t: v for t, v in ev.repo_change.items() if v < -NOISE_USD_BN}
    if withheld:
        t = min(withheld, key=lambda c: withheld[c])
        parts.append(
            f"repo lenders withdrew {_bn(-withheld[t])} from {sectors.get(t, L.sector(t))}"
        )
    ch, v, share = dominant_channel(ev, sectors)
    if ch:
        parts.append(f"the largest loss channel was {L.channel(ch)} ({_bn(v)}, {share:.0%})")
    return "; ".join(parts) + "." if parts else "No stress reached the system."


def reason(ev: Evidence, base: Evidence, sectors: Mapping[str, str]) -> str:
    """One line on why an arm changed the outcome (or did not), against no action."""
    cut = base.peak_yield_bp - ev.peak_yield_bp
    did = []
    if ev.bought_usd_bn > NOISE_USD_BN:
        did.append(f"bought {_bn(ev.bought_usd_bn)} of bonds")
    if ev.lent_peak_usd_bn > NOISE_USD_BN:
        who = sorted(ev.borrowers, key=lambda t: -ev.borrowers[t])
        to = f" to {', '.join(sectors.get(t, L.sector(t)) for t in who)}" if who else ""
        than = (  # a standing facility lends without action too
            f" ({_bn(base.lent_peak_usd_bn)} without action)"
            if base.lent_peak_usd_bn > NOISE_USD_BN
            else ""
        )
        did.append(f"lent up to {_bn(ev.lent_peak_usd_bn)}{than}{to}")
    elif ev.lends:
        did.append(_why_no_take_up(ev))
    why = []
    d_room = ev.bounds.get("dealer_room_exhausted_days", 0)
    b_room = base.bounds.get("dealer_room_exhausted_days", 0)
    if d_room != b_room:
        why.append(
            f"dealers were out of balance sheet on {d_room:.0f} days ({b_room:.0f} without action)"
        )
    dealers, b_dealers = ev.absorbed.get("dealers", 0.0), base.absorbed.get("dealers", 0.0)
    if _changed(dealers, b_dealers):
        why.append(f"dealers absorbed {_bn(dealers)} of sales ({_bn(b_dealers)} without action)")
    calls, b_calls = sum(ev.calls.values()), sum(base.calls.values())
    if _changed(calls, b_calls):
        why.append(f"calls and redemptions came to {_bn(calls)} ({_bn(b_calls)} without action)")
    if abs(ev.repo_rate_pct - base.repo_rate_pct) > NOISE_RATE_PP:
        rate = f"the repo rate peaked at {ev.repo_rate_pct:.1f}% ({base.repo_rate_pct:.1f}%)"
        if ev.repo_rate_pct > base.repo_rate_pct and dealers > b_dealers:
            rate += ", as dealers financed the extra inventory in repo"
        why.append(rate)
    if abs(cut) <= NOISE_BP:
        head = "no change in the peak"
        if ev.lent_peak_usd_bn > NOISE_USD_BN and d_room and d_room == b_room:
            why.append(
                "the binding constraint was dealers' balance sheet (out of room on "
                f"{d_room:.0f} days either way), which cheaper funding does not relieve"
            )
        forced = {t for t, v in base.sales_by_sector.items() if v > NOISE_USD_BN}
        reached = set(ev.borrowers)
        if reached and forced and not reached & forced:
            names = ", ".join(sectors.get(t, L.sector(t)) for t in sorted(forced))
            why.append(f"the forced sellers ({names}) had no access to the cash")
    else:
        head = f"peak {'cut' if cut > 0 else 'raised'} by {abs(cut):,.1f} bp"
    text = head
    if did:
        text += ": it " + " and ".join(did)
    if why:
        text += "; " + "; ".join(why)
    return text + "."


def _why_no_take_up(ev: Evidence) -> str:
    """Why a lending facility lent nothing: its rate or its borrowers' cash."""
    srf_only = ev.lenders == ("srf",)  # the SRF's rate is the one in Result.markets
    if srf_only and np.isfinite(ev.facility_rate_pct) and ev.repo_rate_pct < ev.facility_rate_pct:
        return (
            f"lent nothing, as the market repo rate (peak {ev.repo_rate_pct:.2f}%) never "
            f"reached the facility's minimum bid rate ({ev.facility_rate_pct:.2f}%)"
        )
    return "lent nothing, as no eligible borrower was short of cash it could pledge"


def explain(results: Mapping[str, Any], types: Mapping[str, str], sectors: Mapping[str, str]):
    """Per arm: evidence and the one-line reason (no action: what drove the run)."""
    ev = {a: evidence(r, types) for a, r in results.items()}
    base = ev.get(BASELINE)
    out = {}
    for a, e in ev.items():
        if a == BASELINE or base is None:
            out[a] = baseline_reason(e, sectors)
        else:
            out[a] = reason(e, base, sectors)
    return ev, out


def utilisation_note(markets: pd.DataFrame) -> str | None:
    """Why the peak dealer utilisation and the closing series can differ, from the data."""
    if "dealer_peak_utilisation_frac" not in markets or "dealer_utilisation_frac" not in markets:
        return None
    peak = markets["dealer_peak_utilisation_frac"].iloc[1:]
    close = markets["dealer_utilisation_frac"].iloc[1:]
    if not len(peak) or peak.max() <= close.max() + 0.05:
        return None
    days = [int(d) for d in peak.index[peak >= peak.max() - 1e-9]]
    span = f"day {days[0]}" if len(days) == 1 else f"days {days[0]}-{days[-1]}"
    return (
        f"Dealer utilisation is measured within the day's clearing rounds: without action it "
        f"peaked at {peak.max():.0%} on {span}, while at the close it was at most "
        f"{close.max():.0%} (the closing series in the data files); the tables show the peak."
    )


def spiral_sentence(gain: float | None) -> str | None:
    """What the leveraged holders' loss-spiral gain (``contagion.metrics.loss_spiral_gain``)
    says about the levels; None without leveraged holders."""
    if gain is None or not np.isfinite(gain) or gain <= 0:
        return None
    head = (
        f"At the central parameters the leveraged holders' loss-spiral gain "
        f"(contagion.metrics.loss_spiral_gain) is {gain:.2f}: once dealers are full, "
    )
    if gain >= 1.0:
        return head + (
            "each round of their sales begets more than itself through the prices it moves, "
            "so the stress runs until a bound binds or the positions run out; the level then "
            "reflects the bound and the outside-demand parameter more than the shock."
        )
    return head + (
        f"the spiral multiplies a first round of their sales by about 1 / (1 - gain) = "
        f"{1.0 / (1.0 - gain):.1f}."
    )


def level_caveat(
    base: Evidence, system_meta: Mapping[str, Any], n_days: int, spiral_gain: float | None = None
) -> str:
    """How to read the levels, from the run (bounds that bit), the system's fit and, when
    given, the leveraged holders' loss-spiral gain."""
    parts = [
        "Read the comparison between arms as the result: every arm runs on the same shocks "
        "and parameters, so differences are policy effects; check the levels against the "
        "documented episodes below before reading them as a plausible tail."
    ]
    if system_meta.get("fit_episode"):
        parts.append(
            f"The parameters were fitted to the {str(system_meta['fit_episode']).replace('_', ' ')}"
            " episode; where this scenario goes beyond it the impact function is extrapolated."
        )
    room = base.bounds.get("dealer_room_exhausted_days", 0)
    cap = base.bounds.get("dealer_utilisation_cap_hit_days", 0)
    if room or cap:
        parts.append(
            f"Without action dealers ran out of balance sheet on {room:.0f} of {n_days} days and "
            f"the price-impact factor was at its cap on {cap:.0f}: the levels there depend on "
            "the convexity and outside-demand parameters more than on anything the fit pins down."
        )
    bound = base.bounds.get("impact_bound_hit_days", 0)
    if bound:
        parts.append(
            f"The price impact reached its bound (ModelParams.max_impact_bp) on {bound:.0f} "
            "days: a peak there is the bound plus the fundamental shock, not a model outcome, "
            "and arms that reach it too cannot be ranked by it (compare their other metrics "
            "and the draws)."
        )
    spiral = spiral_sentence(spiral_gain)
    if spiral:
        parts.append(spiral)
    return " ".join(parts)


def fmt_share(k: int, n: int) -> str:
    """A share of draws, always with the count: "58 of 64 draws (91%)"."""
    return f"{k} of {n} draws ({100 * k / n:.0f}%)" if n else "no draws"


def probability_table(wide: pd.DataFrame, arms: list[str], names: Mapping[str, str]):
    """Arm x arm: in how many draws the row arm has a lower value than the column arm."""
    n = len(wide)
    rows = {}
    for a in arms:
        rows[names.get(a, a)] = {
            names.get(b, b): (
                "–" if a == b else fmt_share(int((wide[a] < wide[b] - 1e-9).sum()), n)
            )
            for b in arms
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "row beats column in"
    return out


def quantiles(v: np.ndarray, qs=(0.1, 0.5, 0.9)) -> tuple[float, ...]:
    return tuple(float(x) for x in np.quantile(np.asarray(v, dtype=float), qs))
