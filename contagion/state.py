"""Run state: every quantity that changes during a simulation, as flat typed arrays.

:class:`State` holds the books (cash, Treasuries at par, other assets and liabilities, P&L by
channel), every edge amount (repo cash lent and its terms, futures and swap notionals, margin
posted and due, unsecured claims), the market (fundamental yield shock, price impact, prices
and the prices last marked at), the funding market, the volatility index and the state of
the policies of the run. The structure it is indexed by (who lends to whom) is in
:class:`contagion.topology.Topology`, which does not change. A run can stop after any day
and resume from a saved state bit for bit (:meth:`State.save`, :meth:`State.load`).

Only :class:`contagion.ledger.Ledger` moves cash, par and edge amounts; mechanisms set
prices, terms (haircuts, recalls) and amounts due. Positions closed into the market leave
the other side with an *external* counterparty at the same CCP (``ext_notional``), so each
CCP's book stays flat and VM stays zero-sum.

Equity is tracked twice: derived from the balance sheet, and accumulated from the P&L by
channel (``pnl``, one row per :data:`PNL_CHANNELS`). :mod:`contagion.testing` checks that
the two agree; the channel totals are the loss attribution of the result.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from contagion.topology import Topology

PNL_CHANNELS = (
    "variation_margin",  # futures and swaps marked to market (paid as VM)
    "bond_fundamental",  # cash bonds marked to the fundamental rate shock
    "fire_sale",  # cash bonds marked to the price impact of sales (and its decay)
    "funding_cost",  # repo interest accrued (paid by borrowers, earned by lenders)
    "coupon_income",  # coupons on Treasuries held (paid by the Treasury, outside the system)
    "swap_carry",  # swaps' fixed-minus-floating payments
    "default_losses",  # creditors' losses: CCP close-out and assessments, clearing losses
    "shortfall_passed_on",  # a defaulter's unpaid debts (its loss beyond equity, borne by
    # its creditors and so counted in their default_losses): a negative loss
)
#: Row of each channel in ``State.pnl``.
PNL = {name: i for i, name in enumerate(PNL_CHANNELS)}

F64 = np.ndarray


@dataclass(frozen=True, eq=False)
class References:
    """Levels fixed at the start of a run (after policies' ex-ante measures), USD bn.

    They scale the run's rules (leverage targets, dealer utilisation, the repo-rate curve)
    and are the baselines of the conservation invariants.
    """

    equity0: F64  # per institution, at t0 before ex-ante measures
    assets0: F64
    cash0: F64  # per institution, at t0 before ex-ante measures
    leverage0: F64  # assets / equity at the start (0 where equity <= 0)
    room_ref: float  # dealers' total room (the tightest of their limits) at the start
    room_ref_by_limit: F64  # (3) dealers' total room under each limit at the start
    room0_by_limit: F64  # (3, n) each dealer's room under each limit at the start (0 elsewhere)
    dv01_limit0: F64  # the DV01 each dealer's VaR limit allows at the starting volatility
    inventory_limit0: F64  # each dealer's internal Treasury inventory limit (USD bn)
    par0: F64  # (n, nb) Treasuries held at the start (after ex-ante measures), par
    repo_demand0: float  # MMF repo lent plus MMF inventory financing at the start
    repo_supply0: float  # MMF repo capacity at the start
    spread0_pct: float  # GC repo rate minus the ON RRP rate at the start (>= 1 bp)
    book0: F64  # each CCP's (row, instrument) book at the start
    par_total0: F64  # par per bucket held plus par already sold outside
    cash_total0: float  # total cash minus net cash received from outside
    cb_cash0: float  # central banks' cash at the start (reserves created = cb_cash0 - cash)
    insolvency_floor: F64  # equity below this is insolvency (a tolerance on assets0)
    haircut0: F64  # each borrower's average market-repo haircut at the start (leverage target)
    repo_spread_iorb0_pct: float  # GC minus IORB at the start


@dataclass(eq=False)
class State:
    """Arrays of a running simulation (USD bn, par for Treasuries, prices per 100).

    Shapes: ``n`` institutions, ``nb`` buckets, ``nf`` futures contracts, ``k_repo``,
    ``k_margined`` and ``k_unsecured`` edges (see :class:`~contagion.topology.Topology`).
    """

    day: int  # days simulated so far
    # --- institutions (n) ----------------------------------------------------------------
    cash: F64
    par: F64  # (n, nb) Treasuries held, par
    other_assets: F64
    other_liabilities: F64
    pool_borrowed: F64  # dealers' inventory financing from the MMF pool
    pool_lent: F64  # MMFs' lending to that pool
    capital_flows: F64  # redemptions paid out (not a loss)
    defaulted: np.ndarray  # bool
    default_day: np.ndarray  # int64, -1 if not defaulted
    pnl: F64  # (n_channels, n) P&L by channel
    redemption_due: F64  # redemptions owed (unpaid ones carry to the next day)
    guarantee_due: F64  # owed to FICC for its sponsored-repo deficiencies (sponsors, dealers)
    redemption_share: F64  # today's redemptions as a share of NAV
    inflow_share: F64  # today's inflows as a share of NAV (government MMFs)
    to_liquidate: F64  # (n, nb) par to be sold for defaulted estates and seized collateral
    nav_prev: F64  # tracked equity at the previous close
    last_return: F64  # the previous day's return on NAV
    # --- repo edges (k_repo) -------------------------------------------------------------
    repo_amount: F64  # cash lent, interest accrued
    repo_haircut: F64
    repo_recall: F64  # amount the lender will not roll (due now)
    repo_margin: F64  # margin due to restore collateral cover
    repo_rationed: F64  # MMF rationing decided at the close, recalled the next day
    repo_unsecured: np.ndarray  # bool: collateral gone, a deficiency claim
    haircut_floor: F64  # minimum haircut set by policies
    # --- margined edges (k_margined): futures, then swaps ----------------------------------
    notional: F64  # signed, + long (futures) / receives fixed (swaps)
    im_posted: F64
    vm_due: F64
    im_due: F64
    assess_due: F64  # CCP assessments owed
    ext_notional: F64  # (n_ccp_rows, nf + nb): the CCPs' external side
    # --- unsecured edges ------------------------------------------------------------------
    unsec_amount: F64
    # --- market ---------------------------------------------------------------------------
    y_fund_bp: F64  # (nb) cumulative fundamental shock
    impact_bp: F64  # (nb) cumulative cash price impact, permanent plus transient
    impact_perm_bp: F64  # (nb) of which permanent (stock effect)
    fut_impact_bp: F64  # (nf) futures impact: pass-through of the cash impact plus own flow
    fut_flow_bp: F64  # (nf) futures impact of their own order flow (transient)
    swap_shock_bp: F64  # (nb) the scenario's cumulative swap-spread shock
    swap_impact_bp: F64  # (nb) swap-rate impact of swap order flow (transient)
    closeout_fut_flow: F64  # (nf) futures bought back by CCPs closing out defaulters
    closeout_swap_flow: F64  # (nb) fixed received by CCPs closing out defaulters' swaps
    price: F64  # (nb)
    fut_price: F64  # (nf)
    fut_carry_pts: F64  # (nf) cumulative carry drift of the futures price, points
    marked_price: F64  # prices at the last mark to market
    marked_fund_price: F64
    marked_fut_price: F64
    marked_swap_bp: F64  # fundamental shock at the last swap mark
    fund_marked_bp: F64  # fundamental shock at the last fundamental mark (NaN: never)
    external_par_out: F64  # (nb) par sold to buyers outside the system
    par_issued: F64  # (nb) par issued by policies
    realised_var: F64  # (nb) EWMA variance of daily yield moves, bp^2 per day
    close_yield_bp: F64  # (nb) the last close's yield change
    # --- scalars --------------------------------------------------------------------------
    repo_rate_pct: float
    vol: float  # volatility index level
    vol_multiplier: float
    im_multiplier: float
    futures_margin_addon: float  # today's futures-exchange margin add-on (fraction)
    impact_bound_hit: bool  # the impact bound bit today
    external_cash_in: float  # net cash received from outside the system
    loss_outside: float  # estates' unpaid debts to creditors outside the system
    utilisation: float  # dealer utilisation at the last clearing (or the close)
    peak_utilisation: float  # the day's highest utilisation
    utilisation_by_limit: F64  # (3) utilisation under each limit at the close
    binding_by_limit: np.ndarray  # (3) live dealers each limit binds at the close
    realised_vol: float  # realised volatility index
    capacity_shock: float  # today's dealer-capacity shock
    pullback: float  # today's MMF pullback from private repo
    iterations: int  # within-day rounds of the last day
    # --- policy rates (percent) and reserves ------------------------------------------------
    range_lower_pct: float  # target range
    range_upper_pct: float
    iorb_pct: float
    on_rrp_pct: float
    srf_rate_pct: float  # SRF minimum bid
    discount_rate_pct: float
    tga_drain_usd_bn: float  # cumulative rise of the Treasury's account (drains reserves)
    # --- the repo market at the last close (USD bn; contagion.mechanisms.repo_market) -------
    repo_demand_usd_bn: float  # private repo funding demanded of money funds
    mmf_supply_usd_bn: float  # what MMFs supply at the GC rate
    bank_supply_usd_bn: float  # what banks supply at the GC rate from spare reserves
    facility_supply_usd_bn: float  # what standing facilities supply at their cost
    repo_unmet_usd_bn: float  # demand no one supplies (rationed)
    facility_cost_pct: float  # the cheapest open facility's cost to eligible dealers (inf: none)
    facility_capacity_usd_bn: float  # what the open facilities could lend at that cost
    funding_spread_rise_pct: float  # smoothed rise of GC over IORB since the start (leverage)
    # --- the policies' own state, one record per policy of the run --------------------------
    policy: list[dict[str, Any]] = field(default_factory=list)
    ref: References | None = None

    # --- construction -----------------------------------------------------------------------
    @classmethod
    def initial(cls, topo: Topology) -> State:
        """The state at t0 of a compiled system (references are set by the engine)."""
        cs = topo.cs
        m = cs.market
        n, nb, nf = topo.n, topo.n_buckets, topo.n_futures
        r = topo.repo
        k = len(topo.m_source)
        f, s = cs.futures, cs.swaps
        return cls(
            day=0,
            cash=cs.cash_usd_bn.copy(),
            par=cs.holdings_par_usd_bn.copy(),
            other_assets=cs.other_assets_usd_bn.copy(),
            other_liabilities=cs.other_liabilities_usd_bn.copy(),
            pool_borrowed=np.zeros(n),
            pool_lent=np.zeros(n),
            capital_flows=np.zeros(n),
            defaulted=np.zeros(n, bool),
            default_day=np.full(n, -1, np.int64),
            pnl=np.zeros((len(PNL_CHANNELS), n)),
            redemption_due=np.zeros(n),
            guarantee_due=np.zeros(n),
            redemption_share=np.zeros(n),
            inflow_share=np.zeros(n),
            to_liquidate=np.zeros((n, nb)),
            nav_prev=np.zeros(n),
            last_return=np.zeros(n),
            repo_amount=r.amount_usd_bn.copy(),
            repo_haircut=r.haircut_frac.copy(),
            repo_recall=np.zeros(len(r.ids)),
            repo_margin=np.zeros(len(r.ids)),
            repo_rationed=np.zeros(len(r.ids)),
            repo_unsecured=np.zeros(len(r.ids), bool),
            haircut_floor=np.zeros(len(r.ids)),
            notional=np.concatenate([f.notional_usd_bn, s.notional_usd_bn]),
            im_posted=np.concatenate([f.initial_margin_usd_bn, s.initial_margin_usd_bn]),
            vm_due=np.zeros(k),
            im_due=np.zeros(k),
            assess_due=np.zeros(k),
            ext_notional=np.zeros(topo.book_shape),
            unsec_amount=cs.unsecured.amount_usd_bn.copy(),
            y_fund_bp=np.zeros(nb),
            impact_bp=np.zeros(nb),
            impact_perm_bp=np.zeros(nb),
            fut_impact_bp=np.zeros(nf),
            fut_flow_bp=np.zeros(nf),
            swap_shock_bp=np.zeros(nb),
            swap_impact_bp=np.zeros(nb),
            closeout_fut_flow=np.zeros(nf),
            closeout_swap_flow=np.zeros(nb),
            price=m.price.copy(),
            fut_price=m.futures_price.copy(),
            fut_carry_pts=np.zeros(nf),
            marked_price=m.price.copy(),
            marked_fund_price=m.price.copy(),
            marked_fut_price=m.futures_price.copy(),
            marked_swap_bp=np.zeros(nb),
            fund_marked_bp=np.full(nb, np.nan),
            external_par_out=np.zeros(nb),
            par_issued=np.zeros(nb),
            realised_var=np.zeros(nb),
            close_yield_bp=np.zeros(nb),
            repo_rate_pct=float(m.repo_rate_pct),
            vol=float(m.volatility_index),
            vol_multiplier=1.0,
            im_multiplier=1.0,
            futures_margin_addon=0.0,
            impact_bound_hit=False,
            external_cash_in=0.0,
            loss_outside=0.0,
            utilisation=0.0,
            peak_utilisation=0.0,
            utilisation_by_limit=np.zeros(3),
            binding_by_limit=np.zeros(3, dtype=np.int64),
            realised_vol=float(m.volatility_index),
            capacity_shock=0.0,
            pullback=0.0,
            iterations=0,
            range_lower_pct=float(m.range_lower_pct),
            range_upper_pct=float(m.policy_rate_pct),
            iorb_pct=float(m.iorb_pct),
            on_rrp_pct=float(m.on_rrp_rate_pct),
            srf_rate_pct=float(m.srf_rate_pct),
            discount_rate_pct=float(m.discount_rate_pct),
            tga_drain_usd_bn=0.0,
            repo_demand_usd_bn=0.0,
            mmf_supply_usd_bn=0.0,
            bank_supply_usd_bn=0.0,
            facility_supply_usd_bn=0.0,
            repo_unmet_usd_bn=0.0,
            facility_cost_pct=np.inf,
            facility_capacity_usd_bn=0.0,
            funding_spread_rise_pct=0.0,
        )

    # --- introspection ----------------------------------------------------------------------
    @classmethod
    def array_fields(cls) -> tuple[str, ...]:
        """Names of the array fields (everything that moves, but the scalars)."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.type in ("F64", "np.ndarray"))

    @classmethod
    def scalar_fields(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if f.type in ("int", "float", "bool"))

    @property
    def n(self) -> int:
        return len(self.cash)

    def copy(self) -> State:
        """A deep copy (arrays copied; policy records copied one level down)."""
        out = dataclasses.replace(self)
        for name in self.array_fields():
            setattr(out, name, getattr(self, name).copy())
        out.policy = [_copy_record(rec) for rec in self.policy]
        return out

    def equals(self, other: State) -> bool:
        """Bit-for-bit equality of every array, scalar and policy record (NaN == NaN)."""
        for name in self.array_fields():
            a, b = getattr(self, name), getattr(other, name)
            if a.shape != b.shape or not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
                return False
        for name in self.scalar_fields():
            a, b = getattr(self, name), getattr(other, name)
            if not (a == b or (a != a and b != b)):
                return False
        return _records_equal(self.policy, other.policy)

    # --- save and load ----------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the state to ``path`` (a ``.npz`` archive: arrays bit for bit; scalars,
        references and policy records alongside, no pickled objects)."""
        arrays = {f"a/{name}": getattr(self, name) for name in self.array_fields()}
        if self.ref is not None:
            for f in dataclasses.fields(References):
                v = getattr(self.ref, f.name)
                arrays[f"r/{f.name}"] = np.asarray(v)
        meta: dict[str, Any] = {
            "scalars": {name: _float_repr(getattr(self, name)) for name in self.scalar_fields()},
            "policy": [],
        }
        for i, rec in enumerate(self.policy):
            plain = {}
            for key, value in rec.items():
                if isinstance(value, np.ndarray):
                    arrays[f"p/{i}/{key}"] = value
                    plain[key] = {"array": True}
                else:
                    plain[key] = {"value": _plain(value)}
            meta["policy"].append(plain)
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> State:
        """Read a state written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode("utf-8"))
            kwargs: dict[str, Any] = {name: z[f"a/{name}"].copy() for name in cls.array_fields()}
            for name, v in meta["scalars"].items():
                if isinstance(v, bool):
                    kwargs[name] = v
                else:
                    kwargs[name] = int(v) if name in ("day", "iterations") else float(v)
            ref = None
            if "r/equity0" in z:
                vals = {}
                for f in dataclasses.fields(References):
                    v = z[f"r/{f.name}"]
                    vals[f.name] = float(v) if f.type == "float" else v.copy()
                ref = References(**vals)
            policy = []
            for i, plain in enumerate(meta["policy"]):
                rec = {}
                for key, spec in plain.items():
                    rec[key] = z[f"p/{i}/{key}"].copy() if spec.get("array") else spec["value"]
                policy.append(rec)
        return cls(**kwargs, policy=policy, ref=ref)


def _float_repr(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        return repr(float(v))  # exact: Python's repr round-trips every float
    return v


def _plain(value: Any) -> Any:
    """A JSON-able copy of a policy record value (tuples become lists)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _copy_record(rec: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in rec.items():
        if isinstance(value, np.ndarray):
            out[key] = value.copy()
        elif isinstance(value, list):
            out[key] = list(value)
        else:
            out[key] = value
    return out


def _records_equal(a: list[dict], b: list[dict]) -> bool:
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b, strict=True):
        if ra.keys() != rb.keys():
            return False
        for key in ra:
            x, y = ra[key], rb[key]
            if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
                if not np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True):
                    return False
            elif _plain(x) != _plain(y):
                return False
    return True
