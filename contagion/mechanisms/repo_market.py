"""The repo market: who supplies cash, at what GC rate, and who is rationed.

**Demand** ``D_t`` (USD bn): the private repo funding money funds provide, MMF private repo
outstanding (tri-party to dealers, sponsored to funds) plus the MMF pool that finances
dealers' new inventory.

**Supply** at a GC rate ``r`` (percent):

* money-market funds, on the inverse of a convex curve (the September 2019 spike; Afonso,
  Cipriani, Copeland, Kovner, La Spada and Martin 2020, "The Market Events of Mid-September
  2019")::

      r(x)   = r_RRP + s_0 ((1 - x_0) / (1 - min(x, x_cap)))^eta
      S_M(r) = K_t x(r),
      K_t    = (B_t + e sum_m NAV_m / (1 + a max(0, V_t / V_0 - 1))) (1 - w_t)

  ``B_t`` is the funds' overnight book: their cash, ON RRP placements and private repo
  (tri-party, sponsored and the dealer pool), what they can lend tonight; ``e`` the share of
  NAV they can add within days from maturing bills (``mmf_reallocation_frac``), an appetite
  that volatility damps (``a``: ``mmf_appetite_vol_sensitivity``; the overnight book of
  Treasury repo itself stays lendable, a stress shrinks it through the scenario's
  pullback ``w`` and redemptions). So a
  redemption paid from the overnight book or a pullback takes supply away one for one while
  demand stays, and a market whose funds have no ON RRP slack (2019, early 2020) starts
  close to the top of the curve, one with a large ON RRP (2021-24) far from it. ``x_0 =
  D_0 / K_0`` and ``s_0 = max(r_0 - r_RRP,0, 1 bp)`` so the market starts at its observed
  GC ``r_0``. ON RRP is their outside option: the curve's floor moves with the ON RRP rate;
  ``w_t`` is the scenario's pullback. MMFs lend at most ``K_t``;
  beyond ``x_cap`` the rate stops rising (``funding_utilisation_cap_frac``).
* banks, from reserves above a scarcity threshold, once GC pays their balance-sheet cost::

      S_B(r) = b max(R_t - f A, 0) clip((r - IORB_t - theta) / w, 0, 1),
      theta  = max(c, r_0 - IORB_0)

  ``R_t`` aggregate reserves (:func:`reserves`), ``A`` bank assets, ``f`` the scarcity share
  (reserves were about 8-9% of bank assets when they were scarce in 2019-20, fact base
  2.16-2.17), ``b`` the share banks lend, ``c`` their cost over IORB; ``theta`` keeps the
  starting market in equilibrium (banks are not lending more at ``r_0``).
* standing facilities (the SRF): ``Q_F`` at rates at or above their cost ``c_F`` (minimum
  bid plus stigma), ``Q_F`` = the remaining limit, within eligible dealers' balance-sheet
  room unless facility trades are centrally cleared (netted).

**Clearing.** The GC rate is the lowest rate at which supply meets demand::

    r_t = min{r >= r(0): S_M(r) + S_B(r) + Q_F 1[r >= c_F] >= D_t}   (at most max_repo_rate)

(when demand exceeds every lender's capacity, GC is the lowest rate at which all of them lend
all they can, the top of the curves, and the rest is rationed), so the SRF caps the market
rate at its cost while it has capacity, and every repo rate (the
edges' spreads are kept) and the pool follow the GC rate; facilities' own edges accrue at
their rates, which move with the policy rates. At ``r_t`` banks supply ``S_B(r_t)`` (they
take over part of the funding on the dealers' existing lines: a rate effect), facilities
``D - S_M - S_B`` up to ``Q_F``, and what no one supplies is rationed. MMFs recall the
facility's part from eligible dealers (who refinance it at the facility) and the unmet part
pro rata from all their overnight borrowers, the next day.

**Reserves** (the central bank's balance sheet): ``R_t = R_0 + (C_0 - C_t) - TGA_t``, with
``C`` the central bank's cash in the system (it falls by the reserves its purchases and loans
create, rises with ON RRP placements) and ``TGA`` the rise of the Treasury's account. QE adds
reserves, so bank supply; a sovereign fund's purchases create none.
"""

from __future__ import annotations

import math

import numpy as np

from contagion.mechanisms.price_impact import allocate
from contagion.sums import zeroed

#: Bisection steps of the clearing (the rate is bracketed in [floor, cap]).
CLEARING_STEPS = 80


# --- kernels ----------------------------------------------------------------------------------
def mmf_capacity(
    overnight_book: float,
    nav: np.ndarray,
    *,
    reallocation_frac: float,
    vol_ratio: float,
    sensitivity: float,
) -> float:
    """Private repo lending capacity of the MMF sector, USD bn: ``B + e sum NAV^+ / (1 +
    a max(0, V / V_0 - 1))``."""
    extra = reallocation_frac * float(np.maximum(nav, 0.0).sum())
    return max(overnight_book, 0.0) + extra / (1 + sensitivity * max(0.0, vol_ratio - 1))


def funding_utilisation(demand: float, supply: float) -> float:
    """x = D / S: infinite when MMF financing is demanded but there is no supply, 0 when
    there is neither (a market with no MMF repo)."""
    if supply > 0:
        with np.errstate(over="ignore"):
            return float(np.float64(demand) / supply)
    return np.inf if demand > 0 else 0.0


def repo_rate(
    x: float, x0: float, *, on_rrp_pct: float, spread0_pct: float, convexity: float, cap: float
) -> float:
    """GC repo rate on the MMF curve at utilisation ``x``, percent."""
    x0 = min(x0, cap)
    return on_rrp_pct + spread0_pct * ((1.0 - x0) / (1.0 - min(max(x, 0.0), cap))) ** convexity


def mmf_supply(
    rate_pct: float,
    capacity: float,
    x0: float,
    *,
    on_rrp_pct: float,
    spread0_pct: float,
    convexity: float,
    cap: float,
) -> float:
    """What MMFs lend at GC ``rate_pct`` (USD bn): ``K x(r)``, the inverse of :func:`repo_rate`;
    ``K`` at or above the curve's top (where the curve is flat)."""
    x0 = min(x0, cap)
    top = repo_rate(cap, x0, on_rrp_pct=on_rrp_pct, spread0_pct=spread0_pct,
                    convexity=convexity, cap=cap)  # fmt: skip
    if rate_pct >= top:
        return capacity
    excess = rate_pct - on_rrp_pct
    if excess <= 0.0:
        return 0.0
    if convexity == 0.0:  # a flat curve: all or nothing at r_RRP + s_0
        return capacity * cap if rate_pct >= on_rrp_pct + spread0_pct else 0.0
    x = 1.0 - (1.0 - x0) * (spread0_pct / excess) ** (1.0 / convexity)
    return capacity * min(max(x, 0.0), cap)


def bank_supply(
    rate_pct: float,
    reserves: float,
    *,
    bank_assets: float,
    iorb_pct: float,
    scarcity_frac: float,
    lending_frac: float,
    threshold_bp: float,
    ramp_bp: float,
) -> float:
    """What banks lend in repo from spare reserves at GC ``rate_pct`` (USD bn)."""
    spare = reserves - scarcity_frac * bank_assets
    if not (spare > 0.0) or lending_frac <= 0.0:
        return 0.0
    ramp = (rate_pct - iorb_pct - threshold_bp / 100.0) / (ramp_bp / 100.0)
    return lending_frac * spare * min(max(ramp, 0.0), 1.0)


def clear(demand: float, mmf, bank, facility_cost_pct: float, facility_capacity: float,
          max_rate_pct: float, saturation_pct: float | None = None,
          ) -> tuple[float, float, float, float, float]:  # fmt: skip
    """Clear the repo market: (GC rate %, MMF supply, bank supply, facility supply, unmet).

    ``mmf(r)`` and ``bank(r)`` are the supply curves (USD bn, non-decreasing in ``r``);
    ``saturation_pct`` the lowest rate at which every lender supplies all it can. When
    demand exceeds all supply, GC is that rate (at most ``max_rate_pct``) and the rest is
    rationed: no lender offers more at a higher rate.
    """
    floor = _rate_floor(mmf, max_rate_pct)

    def total(r: float) -> float:
        fac = facility_capacity if r >= facility_cost_pct else 0.0
        return mmf(r) + bank(r) + fac

    if total(floor) >= demand:
        rate = floor
    elif total(max_rate_pct) < demand:
        rate = max_rate_pct if saturation_pct is None else min(saturation_pct, max_rate_pct)
    else:
        lo, hi = floor, max_rate_pct
        for _ in range(CLEARING_STEPS):
            mid = 0.5 * (lo + hi)
            if total(mid) >= demand:
                hi = mid
            else:
                lo = mid
        rate = hi
        if (
            facility_capacity > 0
            and facility_cost_pct <= rate
            and total(facility_cost_pct) >= demand
        ):
            rate = facility_cost_pct  # the facility's cost is the cap (not a bisection point)
    b = bank(rate)
    m = min(mmf(rate), max(demand - b, 0.0))
    f = min(facility_capacity if rate >= facility_cost_pct else 0.0, max(demand - b - m, 0.0))
    return rate, m, b, f, max(demand - b - m - f, 0.0)


def _rate_floor(mmf, max_rate_pct: float) -> float:
    """The lowest rate on the MMF curve (``r(0)``), where it starts to supply."""
    return min(mmf.floor, max_rate_pct)


def reserves(state, ctx) -> float:
    """Aggregate bank reserves today, USD bn (NaN when the system does not model them)."""
    m = ctx.topo.cs.market
    r0 = m.bank_reserves_usd_bn
    if not math.isfinite(r0):
        return math.nan
    cb = ctx.topo.mask["central_bank"]
    created = state.ref.cb_cash0 - float(state.cash[cb].sum())
    return r0 + created - state.tga_drain_usd_bn


# --- steps -----------------------------------------------------------------------------------
INTEREST_WRITES = ("repo_amount", "pnl", "pool_borrowed", "pool_lent")
RATE_WRITES = (
    "repo_rate_pct",
    "repo_rationed",
    "repo_demand_usd_bn",
    "mmf_supply_usd_bn",
    "bank_supply_usd_bn",
    "facility_supply_usd_bn",
    "repo_unmet_usd_bn",
    "facility_cost_pct",
    "facility_capacity_usd_bn",
    "funding_spread_rise_pct",
)
FINANCE_WRITES = ("cash", "pool_lent", "pool_borrowed", "repo_amount")


def policy_shift_pct(state, ctx) -> float:
    """How far the policy rates have moved since the start, percentage points."""
    return state.range_upper_pct - ctx.topo.cs.market.policy_rate_pct


def interest_step(state, ctx, ledger, day) -> None:
    """Repo interest accrues onto the loans: market repo at the GC rate plus each edge's
    spread (kept from the start), facilities' edges at their own rate moved with the policy
    rates, the dealers' MMF pool at the GC rate (the funding leg of carry: off with the carry
    channel, like the coupons it pays for)."""
    if not ctx.channels.carry:
        return
    s, topo = state, ctx.topo
    r = topo.repo
    days = ctx.params.day_count_days
    facility_rate = r.rate_pct + policy_shift_pct(s, ctx)
    rate = np.where(topo.cb_edges, facility_rate, s.repo_rate_pct + topo.repo_spread_pct)
    interest = zeroed(s.repo_amount * rate / 100.0 / days, s.repo_unsecured)
    ledger.accrue_interest(interest, s.repo_rate_pct / 100.0 / days)


def demand_supply(state, ctx, ledger) -> tuple[float, float]:
    """(demand D, MMF capacity K) of private repo funding, USD bn."""
    s, topo, p = state, ctx.topo, ctx.params
    demand = float(s.repo_amount[topo.mmf_private_idx].sum() + s.pool_lent.sum())
    mmf = topo.mask["mmf"]
    nav = ledger.tracked_equity(mmf)
    book = (
        float(np.maximum(s.cash[mmf], 0.0).sum())
        + float(s.repo_amount[topo.mmf_rrp_idx].sum())
        + demand
    )
    capacity = mmf_capacity(
        book,
        nav,
        reallocation_frac=p.mmf_reallocation_frac,
        vol_ratio=s.vol / topo.cs.market.volatility_index,
        sensitivity=p.mmf_appetite_vol_sensitivity,
    )
    return demand, capacity * (1.0 - s.pullback)


class _MMFCurve:
    """The MMF supply curve of the day (callable in the GC rate)."""

    def __init__(self, state, ctx, capacity: float) -> None:
        p, ref = ctx.params, state.ref
        self.capacity = capacity
        self.kw = {
            "on_rrp_pct": state.on_rrp_pct,
            "spread0_pct": ref.spread0_pct,
            "convexity": p.repo_rate_convexity,
            "cap": p.funding_utilisation_cap_frac,
        }
        self.x0 = funding_utilisation(ref.repo_demand0, ref.repo_supply0)
        self.floor = repo_rate(0.0, self.x0, **self.kw)
        self.top = repo_rate(self.kw["cap"], self.x0, **self.kw)  # supply is K from here

    def __call__(self, rate_pct: float) -> float:
        return mmf_supply(rate_pct, self.capacity, self.x0, **self.kw)


def bank_curve(state, ctx):
    """Banks' supply curve of the day (None when reserves are not modelled or scarce)."""
    p, m = ctx.params, ctx.topo.cs.market
    reserve = reserves(state, ctx)
    if not (reserve > p.reserve_scarcity_frac * m.bank_assets_usd_bn):
        return None
    threshold = max(p.bank_balance_sheet_cost_bp, state.ref.repo_spread_iorb0_pct * 100.0)

    def curve(rate_pct: float) -> float:
        return bank_supply(
            rate_pct,
            reserve,
            bank_assets=m.bank_assets_usd_bn,
            iorb_pct=state.iorb_pct,
            scarcity_frac=p.reserve_scarcity_frac,
            lending_frac=p.bank_repo_lending_frac,
            threshold_bp=threshold,
            ramp_bp=p.bank_lending_ramp_bp,
        )

    curve.saturation_pct = (  # type: ignore[attr-defined]
        state.iorb_pct + (threshold + p.bank_lending_ramp_bp) / 100.0
    )
    return curve


def rate_step(state, ctx, ledger, day, desk) -> None:
    """The GC rate at the close from demand and the supply curves; MMFs ration what no one
    supplies (recalled the next day), and the facility's part from eligible dealers."""
    s, p, topo = state, ctx.params, ctx.topo
    demand, capacity = demand_supply(s, ctx, ledger)
    cost, fac_cap, eligible = desk.facility_supply(s, ctx, ledger) if desk else (np.inf, 0.0, None)
    s.facility_cost_pct, s.facility_capacity_usd_bn = cost, fac_cap
    s.repo_demand_usd_bn = demand
    if not (ctx.channels.repo_market and (capacity > 0 or demand > 0)):
        s.mmf_supply_usd_bn, s.bank_supply_usd_bn = demand, 0.0
        s.facility_supply_usd_bn = s.repo_unmet_usd_bn = 0.0
        _smooth_funding_spread(s, p)
        return
    mmf = _MMFCurve(s, ctx, capacity)
    bank = bank_curve(s, ctx)
    x = funding_utilisation(demand, capacity)
    closed = repo_rate(x, mmf.x0, **mmf.kw)  # the MMF curve alone
    if (bank is None or bank(closed) == 0.0) and (fac_cap <= 0 or closed <= cost):
        rate, m, b, f = closed, min(demand, capacity), 0.0, 0.0
        unmet = max(demand - capacity, 0.0)
    else:
        saturation = max(mmf.top, bank.saturation_pct if bank else -np.inf,
                         cost if fac_cap > 0 else -np.inf)  # fmt: skip
        rate, m, b, f, unmet = clear(
            demand, mmf, bank or (lambda r: 0.0), cost, fac_cap, p.max_repo_rate_pct, saturation
        )
    s.repo_rate_pct = min(rate, p.max_repo_rate_pct)
    s.mmf_supply_usd_bn, s.bank_supply_usd_bn = m, b
    s.facility_supply_usd_bn, s.repo_unmet_usd_bn = f, unmet
    if (f > 0 or unmet > 0) and ctx.channels.funding_runs:
        # over the money funds' own edges only, so that facility edges (zero until used)
        # do not change the order of the sums
        idx = topo.mmf_private_idx
        live = ~s.repo_unsecured[idx]
        amount = np.where(live, s.repo_amount[idx], 0.0)
        rationed = np.zeros_like(amount)
        if f > 0 and eligible is not None:
            on = live & eligible[topo.repo.borrower[idx]]
            tot = float(amount[on].sum())
            if tot > 0:
                rationed = np.where(on, amount * min(1.0, f / tot), 0.0)
        tot = float(amount.sum())
        if unmet > 0 and tot > 0:
            rationed = rationed + amount * min(1.0, unmet / tot)
        s.repo_rationed[:] = 0.0
        s.repo_rationed[idx] = np.minimum(rationed, amount)
    _smooth_funding_spread(s, p)


def _smooth_funding_spread(s, p) -> None:
    """The funding cost leveraged funds plan on: an exponential average, over their holding
    horizon ``H`` (``leverage_funding_horizon_days``), of how far GC has risen over IORB
    since the start, ``ds_t = (1 - 1/H) ds_t-1 + (1/H) max(GC_t - IORB_t - (GC_0 - IORB_0),
    0)``, percentage points: a one-day spike moves the expected carry of a position held for
    weeks by ``1/H`` of it."""
    rise = max(s.repo_rate_pct - s.iorb_pct - s.ref.repo_spread_iorb0_pct, 0.0)
    k = 1.0 / p.leverage_funding_horizon_days
    s.funding_spread_rise_pct = (1.0 - k) * s.funding_spread_rise_pct + k * rise


def pool_available(state, ctx, ledger, weights: np.ndarray) -> np.ndarray:
    """New MMF financing each dealer could get: spare MMF capacity (within what MMFs hold
    in cash and at ON RRP) pro rata to ``weights``."""
    s = state
    if not ctx.channels.repo_market:
        return np.zeros(ctx.topo.n)
    demand, capacity = demand_supply(s, ctx, ledger)
    mmf_cash = float(np.maximum(s.cash[ctx.topo.mask["mmf"]], 0.0).sum())
    mmf_cash += float(s.repo_amount[ctx.topo.mmf_rrp_idx].sum())
    return allocate(min(max(0.0, capacity - demand), mmf_cash), weights)


def finance_dealers(state, ctx, ledger, day, desk, cost: np.ndarray, bought: np.ndarray):
    """Dealers pay for inventory with new MMF financing (at 1 - pool haircut; MMFs draw on
    their ON RRP placements when their cash runs short), then standing facilities (against
    the bonds bought), then cash."""
    s, topo = state, ctx.topo
    if not cost.any():
        return
    mmf_plan = day.pool_plan - day.facility_plan
    want = cost * (1.0 - ctx.params.pool_haircut_frac)
    borrow = np.minimum(mmf_plan, want)
    rrp = topo.mmf_rrp_idx
    mmf_cash = np.where(topo.mask["mmf"], np.maximum(s.cash, 0.0), 0.0)
    placed = float(s.repo_amount[rrp].sum())
    total = float(borrow.sum())
    if total > mmf_cash.sum() + placed:  # never lend cash the MMFs do not have
        borrow *= (mmf_cash.sum() + placed) / total
        total = float(borrow.sum())
    short = total - float(mmf_cash.sum())
    if short > 0 and placed > 0:  # MMFs withdraw from ON RRP (reserves rise as they do)
        due = np.zeros_like(s.repo_amount)
        due[rrp] = s.repo_amount[rrp] * min(1.0, short / placed)
        ledger.repay_repo_plain(due)
        mmf_cash = np.where(topo.mask["mmf"], np.maximum(s.cash, 0.0), 0.0)
    if total > 0:
        ledger.pool_finance(allocate(total, mmf_cash), borrow)
    rest = np.maximum(np.minimum(day.facility_plan, want - borrow), 0.0)
    if rest.any() and desk:
        desk.finance_inventory(s, topo, ledger, rest, bought)
    ledger.pay_cash(cost)
