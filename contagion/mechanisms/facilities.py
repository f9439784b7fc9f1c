"""Standing central-bank lending facilities: who borrows how much, against what.

A facility (the Standing Repo Facility, FIMA repo) lends overnight against Treasuries on its
own repo edges (one per eligible borrower and bucket, lender: the central bank), at its
haircut ``h``, up to an aggregate limit ``L`` (what is left of it, ``L_left``).

**Shortfalls and refinancing.** An eligible institution ``i`` borrows before it sells
anything: what it owes beyond its cash (shortfall ``S_i``), and, for a market facility while
the GC rate is at or above the facility's cost (its rate plus stigma: it pays to keep cash
and lend on), the private repo its lenders recall today (``Rc_i``)::

    need_i = max(S_i, Rc_i) if GC >= cost else S_i       (only when need_i > S_min)
    cap_i  = sum_b (free_par_ib P_b / 100 + released_ib) (1 - h)
    loan_i = min(need_i, cap_i) * min(1, L_left / sum_j min(need_j, cap_j))

``released_ib``: the collateral value of the recalled loans in bucket ``b``
(``due / (1 - h_e)``), freed when they are repaid and pledged to the facility instead; the
loan is spread over buckets in proportion to that collateral.

**Dealers' inventory.** Eligible dealers can fund the bonds they buy from sellers here once
MMF financing runs out: the capacity is the remaining limit split in proportion to their
balance-sheet room, and each loan is at most ``(1 - h)`` times the value bought, spread over
buckets in proportion to the value bought in each.

**The market.** A market facility supplies the repo market up to ``L_left``, within its
eligible dealers' balance-sheet room unless its trades are centrally cleared (netted),
at its cost: :mod:`contagion.mechanisms.repo_market` caps the GC rate there.
"""

from __future__ import annotations

import numpy as np


def loans_for_shortfall(state, topo, ledger, offer, shortfall: np.ndarray):
    """(loan per institution, amount per facility edge), or None if nobody borrows."""
    s = state
    room = offer.limit_left_usd_bn
    r = topo.repo
    need = shortfall
    released = None
    if np.isfinite(offer.cost_pct) and s.repo_rate_pct >= offer.cost_pct:
        # recalled private repo (runs, rationing) of the eligible borrowers: refinanced here
        private = ~topo.cb_edges & ~s.repo_unsecured & offer.eligible[r.borrower]
        due = np.where(private, np.minimum(s.repo_amount, s.repo_recall), 0.0)
        if due.any():
            need = np.maximum(need, topo.by_borrower(due))
            with np.errstate(divide="ignore", invalid="ignore"):
                released = due / (1.0 - s.repo_haircut)
    want = np.where(
        offer.eligible & ~s.defaulted & (need > max(offer.min_shortfall_usd_bn, 1e-12)),
        need,
        0.0,
    )
    if room <= 0 or not want.any():
        return None
    n, nb = s.par.shape
    value = ledger.free_par() * (s.price / 100.0)
    if released is not None:
        value = value + (topo.inc["borrower_bucket"] @ released).reshape(n, nb)
    free_value = value * (1.0 - offer.haircut_frac)
    e = offer.edges
    b = r.borrower[e]
    cap_e = free_value[b, r.bucket[e]]
    cap = np.bincount(b, cap_e, minlength=topo.n)
    loan = np.minimum(want, cap)
    total = loan.sum()
    if total <= 0:
        return None
    loan *= min(1.0, room / total)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(cap[b] > 0, cap_e / cap[b], 0.0)
    return loan, loan[b] * share


def market_capacity(state, ctx, ledger, offer, desk) -> float:
    """What a market facility can supply the repo market today (USD bn): the remaining
    limit, within its eligible dealers' balance-sheet room unless centrally cleared."""
    from contagion.mechanisms import dealers

    cap = offer.limit_left_usd_bn
    if offer.centrally_cleared:
        return cap
    live = offer.eligible & ctx.topo.mask["dealer"] & ~state.defaulted
    if not live.any():
        return 0.0
    # on-lending repo uses balance sheet (leverage exposure), not rate risk or inventory
    room = dealers.rooms(state, ctx, ledger, desk)[0]
    return min(cap, float(room[live].sum()))


def inventory_capacity(state, topo, offer, room: np.ndarray) -> np.ndarray:
    """New inventory financing each eligible dealer could get (USD bn): the remaining limit
    in proportion to balance-sheet ``room``."""
    if offer.limit_left_usd_bn <= 0:
        return np.zeros(topo.n)
    w = np.where(offer.eligible & topo.mask["dealer"] & ~state.defaulted, room, 0.0)
    total = w.sum()
    return w * (offer.limit_left_usd_bn / total) if total > 0 else w


def inventory_loans(state, topo, offer, amount: np.ndarray, bought: np.ndarray):
    """(lent per institution, amount per facility edge) against the bonds ``bought``
    (n x buckets par) at the facility haircut, or (None, None) if nothing is lent."""
    r = topo.repo
    e = offer.edges
    value = bought * (state.price / 100.0)
    cap = value.sum(axis=1) * (1.0 - offer.haircut_frac)
    lent = np.where(offer.eligible, np.minimum(amount, cap), 0.0)
    if not lent.any():
        return None, None
    tot = value.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(tot[:, None] > 0, value / tot[:, None], 0.0)
    b = r.borrower[e]
    return lent, lent[b] * share[b, r.bucket[e]]
