"""Standing central-bank lending facilities: who borrows how much, against what.

A facility (the Standing Repo Facility, FIMA repo) lends overnight against Treasuries on its
own repo edges (one per eligible borrower and bucket, lender: the central bank), at its
haircut ``h``, up to an aggregate limit ``L`` (what is left of it, ``L_left``).

**Shortfalls.** An eligible institution ``i`` that owes more than its cash (shortfall
``S_i``, above the stigma threshold ``S_min``) borrows before it sells anything, as much as
its free collateral allows::

    cap_i  = sum_b free_par_ib P_b / 100 (1 - h)
    loan_i = min(S_i, cap_i) * min(1, L_left / sum_j min(S_j, cap_j))

spread over its buckets in proportion to the free collateral in each.

**Dealers' inventory.** Eligible dealers can fund the bonds they buy from sellers here once
MMF financing runs out: the capacity is the remaining limit split in proportion to their
balance-sheet room, and each loan is at most ``(1 - h)`` times the value bought, spread over
buckets in proportion to the value bought in each.
"""

from __future__ import annotations

import numpy as np


def loans_for_shortfall(state, topo, ledger, offer, shortfall: np.ndarray):
    """(loan per institution, amount per facility edge), or None if nobody borrows."""
    s = state
    room = offer.limit_left_usd_bn
    want = np.where(
        offer.eligible & ~s.defaulted & (shortfall > max(offer.min_shortfall_usd_bn, 1e-12)),
        shortfall,
        0.0,
    )
    if room <= 0 or not want.any():
        return None
    free_value = ledger.free_par() * (s.price / 100.0) * (1.0 - offer.haircut_frac)
    r = topo.repo
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
