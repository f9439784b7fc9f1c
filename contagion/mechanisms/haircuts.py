"""Repo haircuts, repo margin calls and funding runs.

Haircut on repo edge e from lender l to borrower i, on day t::

    h_e,t = clip(h_e,0 + pass_seg * h_mkt,t + a_t + w_seg * addon_i,t, 0, h_max)
    h_mkt,t   = s_vol * max(0, vol_t / vol_0 - 1)                       (market-wide)
    addon_i,t = s_lev * max(0, L_i,t / L_i,0 - 1) + s_loss * loss_i,t     (weak borrower)

``pass_seg`` is 1 for bilateral and sponsored repo and ``triparty_haircut_pass_through`` for
tri-party (whose haircuts are sticky near 2%); the lender-specific add-on applies to
bilateral and sponsored repo only (``w_seg``); central-bank facilities keep their haircut.

Repo margin: a borrower must hold collateral worth sum_e A_e / (1 - h_e) in each bucket b,
from its own bonds plus collateral it received (which dealers re-pledge). When the value
falls short by SF_ib, it repays cash pro rata on its edges of that bucket::

    due_e = A_e * SF_ib / sum_{e' in (i, b)} A_e' / (1 - h_e')

Funding run: on a day an edge matures, its lender refuses to roll it (the whole amount
becomes due) when the borrower's leverage exceeds the lender's tolerance, when the borrower
has lost more than the lender's tolerated share of its equity, or when it has defaulted.
"""

from __future__ import annotations

import numpy as np

from contagion.sums import zeroed

BILATERAL, TRIPARTY, SPONSORED, CENTRAL_BANK = 0, 1, 2, 3


def haircuts(
    h0: np.ndarray,
    segment: np.ndarray,
    borrower_addon: np.ndarray,
    *,
    market_addon: float,
    scenario_addon: float,
    triparty_pass_through: float,
    max_haircut: float,
) -> np.ndarray:
    """Haircut per repo edge (fraction)."""
    pass_seg = np.where(segment == TRIPARTY, triparty_pass_through, 1.0)
    weak = np.where((segment == BILATERAL) | (segment == SPONSORED), borrower_addon, 0.0)
    h = h0 + pass_seg * (market_addon + scenario_addon) + weak
    h = np.where(segment == CENTRAL_BANK, h0, h)
    return np.clip(h, 0.0, max_haircut)


def borrower_addon(
    leverage_ratio: np.ndarray,
    leverage0_ratio: np.ndarray,
    loss_frac: np.ndarray,
    *,
    leverage_sensitivity: float,
    loss_sensitivity: float,
) -> np.ndarray:
    """Lender add-on for weak borrowers, per institution (fraction)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(
            np.isfinite(leverage_ratio) & (leverage0_ratio > 0),
            leverage_ratio / leverage0_ratio - 1.0,
            0.0,
        )
    return leverage_sensitivity * np.maximum(rel, 0.0) + loss_sensitivity * loss_frac


def repo_margin_due(
    amount: np.ndarray,
    haircut: np.ndarray,
    borrower: np.ndarray,
    bucket: np.ndarray,
    secured: np.ndarray,
    available_value: np.ndarray,
    need: np.ndarray | None = None,
    key: np.ndarray | None = None,
) -> np.ndarray:
    """Cash each borrower must repay on each edge to restore collateral cover, USD bn.

    ``available_value`` is (n, n_buckets): own bonds plus collateral received, at market.
    ``need``, if given, is the collateral value required per (borrower, bucket), the same
    shape (as from :meth:`contagion.state.State.pledged_value`); otherwise computed here.
    ``key``, if given, is ``borrower * n_buckets + bucket`` per edge.
    """
    nb = available_value.shape[1]
    if key is None:
        key = borrower * nb + bucket
    if need is None:
        need_e = zeroed(amount / (1.0 - haircut), ~secured)
        need = np.bincount(key, need_e, minlength=available_value.size)
    else:
        need = need.ravel()
    short = np.maximum(need - available_value.ravel(), 0.0)
    if not short.any():
        return np.zeros_like(amount, dtype=np.float64)  # every cover holds: nothing due
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(need > 0, short / need, 0.0)
    return zeroed(amount * frac[key], ~secured)


def refuse_to_roll(
    maturing: np.ndarray,
    borrower_leverage: np.ndarray,
    borrower_loss: np.ndarray,
    borrower_defaulted: np.ndarray,
    lender_max_leverage: np.ndarray,
    lender_max_loss: np.ndarray,
) -> np.ndarray:
    """Mask of maturing edges whose lender refuses to roll (a funding run)."""
    return maturing & (
        (borrower_leverage > lender_max_leverage)
        | (borrower_loss > lender_max_loss)
        | borrower_defaulted
    )


def maturing_today(
    tenor_days: np.ndarray, day: int, segment: np.ndarray, *, period: np.ndarray | None = None
) -> np.ndarray:
    """Edges maturing (and so up for rolling) on ``day``: overnight every day, a term repo
    every ``ceil(tenor)`` days; central-bank facilities are not run on. ``period``: the
    edges' :func:`roll_period`, if already computed."""
    if period is None:
        period = roll_period(tenor_days, segment)
    return (day + 1) % period == 0


def roll_period(tenor_days: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Days between rolls per edge, ``ceil(tenor)`` (at least 1); 2**62 for central-bank
    facilities, which never come up for rolling in a simulation."""
    period = np.maximum(np.ceil(tenor_days), 1.0).astype(np.int64)
    return np.where(segment != CENTRAL_BANK, period, np.int64(2**62))


# --- steps -----------------------------------------------------------------------------------
HAIRCUT_WRITES = ("repo_haircut",)
RUNS_WRITES = ("repo_recall", "repo_rationed")
REPO_MARGIN_WRITES = ("repo_margin",)


def haircut_step(state, ctx, day) -> None:
    """Today's haircut on every repo edge (market-wide and weak-borrower add-ons, the
    policies' floors), from yesterday's close."""
    if not ctx.channels.haircuts:
        return
    s, p, topo = state, ctx.params, ctx.topo
    r = topo.repo
    addon = borrower_addon(
        day.close_leverage,
        s.ref.leverage0,
        day.close_loss,
        leverage_sensitivity=p.haircut_leverage_sensitivity_frac,
        loss_sensitivity=p.haircut_loss_sensitivity_frac,
    )
    if topo.has_ficc:  # FICC's leverage and losses are no signal to its lenders
        addon = np.where(topo.ficc, 0.0, addon)
    h = haircuts(
        r.haircut_frac,
        r.segment,
        addon[r.borrower],
        market_addon=p.haircut_vol_sensitivity_frac * max(0.0, s.vol_multiplier - 1.0),
        scenario_addon=float(ctx.path("haircut_addon_frac")[day.t]),
        triparty_pass_through=p.triparty_haircut_pass_through_frac,
        max_haircut=p.max_haircut_frac,
    )
    s.repo_haircut[:] = np.maximum(h, s.haircut_floor)


def runs_step(state, ctx, ledger, day) -> None:
    """Lenders refuse to roll maturing repo to weak borrowers (runs); MMFs recall what
    they rationed at the last close."""
    s, topo = state, ctx.topo
    r = topo.repo
    if ctx.channels.funding_runs:
        maturing = maturing_today(r.tenor_days, day.t, r.segment, period=topo.roll_period)
        maturing &= ~s.repo_unsecured
        runs = refuse_to_roll(
            maturing,
            day.close_leverage[r.borrower],
            day.close_loss[r.borrower],
            s.defaulted[r.borrower],
            topo.lender_max_leverage,
            topo.lender_max_loss,
        )
        day.log.repo_recalled += topo.by_borrower(np.where(runs, s.repo_amount, 0.0))
        s.repo_recall[:] = np.where(runs, s.repo_amount, s.repo_recall)
    rationed = np.minimum(s.repo_rationed, s.repo_amount)
    np.maximum(s.repo_recall, rationed, out=s.repo_recall)
    s.repo_rationed[:] = 0.0


def repo_margin_step(state, ctx, ledger, day) -> None:
    """Repo margin calls: what each borrower owes to restore collateral cover."""
    s, topo = state, ctx.topo
    r = topo.repo
    if ctx.channels.haircuts and not ledger.dense:
        _repo_margin_sparse(s, topo, ledger, day)
        return
    if ctx.channels.haircuts:
        need, got = ledger.pledged_value()
        available = s.par * (s.price / 100.0) + got
        due = repo_margin_due(
            s.repo_amount,
            s.repo_haircut,
            r.borrower,
            r.bucket,
            ~s.repo_unsecured,
            available,
            need=need,
            key=topo.collateral_cell,
        )
    else:
        due = np.zeros_like(s.repo_amount)
    new = np.maximum(due - s.repo_margin, 0.0)
    day.log.repo_margin_called += topo.by_borrower(new)
    s.repo_margin[:] = due


def _repo_margin_sparse(s, topo, ledger, day) -> None:
    """:func:`repo_margin_step` on a large system: the same arithmetic on the edges of the
    (borrower, bucket) cells whose cover falls short, in edge order; every other edge's
    call is zero (as ``repo_margin_due`` gives it: its amount times a zero share)."""
    r = topo.repo
    need, got = ledger.pledged_value()
    need = need.ravel()
    short = np.maximum(need - (s.par * (s.price / 100.0) + got).ravel(), 0.0)
    cells = np.flatnonzero(short)
    e = topo.repo_edges_of_cells(cells)
    frac = np.zeros_like(short)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac[cells] = np.where(need[cells] > 0, short[cells] / need[cells], 0.0)
    due = zeroed(s.repo_amount[e] * frac[topo.collateral_cell[e]], s.repo_unsecured[e])
    new = np.maximum(due - s.repo_margin[e], 0.0)
    day.log.repo_margin_called += np.bincount(r.borrower[e], new, minlength=topo.n)
    s.repo_margin[:] = 0.0
    s.repo_margin[e] = due
