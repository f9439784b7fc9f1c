"""Sponsored repo through FICC: a matched book that passes flows through, and its guarantees.

Sponsored repo is novated to FICC (DTCC's Fixed Income Clearing Corporation, a ``ccp``
institution that borrows in the ``sponsored`` segment). Every sponsored trade is two legs
in the same collateral bucket at the same rate: the sponsored cash lender (an MMF) lends to
FICC, and FICC lends to the sponsored member (a hedge fund). FICC's book is matched, per
FICC ``f`` and bucket ``b`` (USD bn)::

    B_fb = sum of the legs f borrows on (MMF -> f)   =   L_fb = sum of the legs f lends on

(:func:`contagion.validation.normalise_exposures` checks it on the input, summed over
buckets; the builders make it hold per bucket). FICC never funds anything from its own
cash; its own resources (equity, held as cash: the prefunded default resources) only
absorb default losses. The rules, applied by the steps that move repo:

**Recalls pass down** (:func:`match_recalls`, at the start of every pay round). What FICC's
lenders demand in a cell (recalls and margin calls on its borrowing legs, ``R^up_fb``),
beyond what is already in transit ``T_fb = max(B_fb - L_fb, 0)`` and what its borrowers
already owe (``R^down_fb``), is recalled from its borrowers pro rata to their open loans::

    x_fb     = max(R^up_fb - T_fb - R^down_fb, 0)
    recall_e += open_e min(1, x_fb / sum_{e' in fb} open_e')          (e a leg f lends on)

so a money fund's pullback of X on its FICC leg (a funding run, rationing at the close,
``mmf_repo_pullback_frac``, a recall to pay redemptions, a defaulted lender's terminated
loans) cuts FICC's loans to its members by X in total, due in the same pay round the
direct edge's recall was.

**Cash passes up** (:func:`pass_up`, after every move that can pay FICC: the pay rounds,
settlement, clearing, ex-ante deleveraging). FICC repays its lenders, per cell, what it
holds beyond its own resources::

    P_f  = clip(cash_f - max(equity_f, 0), 0, sum_b T_fb)
    P_fb = P_f T_fb / sum_b T_fb

In a pay round (its members paid their recalls and margin calls) first on the legs with
something due, pro rata to their dues, then pro rata to the open amounts; otherwise (an
unwind's repayment, collateral sales, recoveries) pro rata to the legs' amounts, their
recalls kept up to the amount, as a direct edge's recall stayed due when its borrower
repaid part of the loan. FICC pays nothing in the ordinary pay rounds (its pay share is 0),
so the matched book closes every day: a member's repayment shrinks the money fund's leg the
same round.

**Haircuts and interest.** The legs FICC lends on take the sponsored edges' haircuts (the
market add-on and the weak-borrower add-on of :mod:`contagion.mechanisms.haircuts`); FICC's
own add-on as a borrower is zero (its leverage and losses are not a signal to its lenders,
and its legs are never run on: :attr:`contagion.topology.Topology.lender_max_leverage`).
Both legs of a trade accrue at the edge's rate (the member pays the rate it paid before,
the money fund earns it), so FICC's net interest is zero; no spread is modelled.

**Defaults** (:func:`charge_deficiency`, in :func:`contagion.mechanisms.defaults.clearing_step`).
When a member defaults, FICC seizes and sells the collateral on its legs as any repo lender
does; the deficiency stays as FICC's unsecured claim on the estate and is cleared with the
others (Eisenberg-Noe). What FICC writes off, ``D``, is charged in this order:

1. the member's **sponsor** owes ``D`` (if it has not defaulted);
2. otherwise FICC's own resources (its equity) take it;
3. when FICC's equity turns negative, the surviving dealers are assessed the shortfall pro
   rata to their sponsored guarantees (:func:`contagion.mechanisms.defaults.mutualise`,
   each dealer's weight the FICC loans of the members it sponsors).

A charge is a default loss to the guarantor and a receivable of FICC the day it is made
(``State.guarantee_due``); guarantors pay it in the pay rounds like any due (raising cash by
the liquidity waterfall, defaulting if they cannot), and an estate's unpaid guarantee is
cleared with its other unsecured debts, the loss back on FICC (then step 3 again). The
money fund lending to FICC loses nothing unless FICC fails: its leg is repaid from the
collateral's proceeds and these payments. Only when no surviving dealer is left to assess
does FICC's equity stay negative and its lenders' legs stay partly unpaid. One FICC per
system (validation).

**Sponsor rule** (an assumption; FICC's sponsorship lists are not public per fund): a
member's sponsor is the dealer that lends it the most in bilateral repo at the start (its
repo dealer / prime broker, who in practice is its sponsoring member); a member with no
bilateral dealer repo is sponsored by the largest dealer by total assets. Derived from the
graph (:func:`sponsors`), so no input column is needed.

Sources: DTCC, "Sponsored Service" (FICC Government Securities Division rulebook, Rule 3A:
sponsoring members guarantee their sponsored members' obligations to FICC); DTCC FICC
CPMI-IOSCO quantitative disclosures (the prefunded clearing fund; the calibration's FICC
row records the figure used).
"""

from __future__ import annotations

import numpy as np

from contagion.mechanisms.haircuts import BILATERAL

#: Steps that call :func:`pass_up` also write these (through ``Ledger.pay_dues``).
WRITES = ("repo_amount", "repo_recall", "repo_margin", "cash")


def sponsors(topo) -> np.ndarray:
    """Each institution's sponsor (index; -1 if it borrows nothing from FICC): the dealer
    lending it the most in bilateral repo at the start (ties: the lower index), else the
    largest dealer by total assets; -1 also when the system has no dealer."""
    r, n = topo.repo, topo.n
    out = np.full(n, -1, dtype=np.int64)
    if not topo.has_ficc:
        return out
    members = np.unique(r.borrower[topo.ficc_down])
    dealer = topo.mask["dealer"]
    if not len(members) or not dealer.any():
        return out
    assets, _ = topo.cs.balance_sheet()
    d = np.flatnonzero(dealer)
    out[members] = d[np.argmax(assets[d])]
    is_member = np.zeros(n, bool)
    is_member[members] = True
    bil = (r.segment == BILATERAL) & dealer[r.lender] & is_member[r.borrower]
    if not bil.any():
        return out
    key = r.borrower[bil].astype(np.int64) * n + r.lender[bil]
    pairs, inv = np.unique(key, return_inverse=True)
    amount = np.bincount(inv, r.amount_usd_bn[bil])
    keep = amount > 0
    b, lend, amount = pairs[keep] // n, pairs[keep] % n, amount[keep]
    order = np.lexsort((lend, -amount, b))
    b, lend = b[order], lend[order]
    first = np.r_[True, b[1:] != b[:-1]] if len(b) else np.zeros(0, bool)
    out[b[first]] = lend[first]
    return out


def _cells(s, topo):
    """(key of the legs FICC borrows on, key of the legs it lends on, B, L) per cell
    ``institution * n_buckets + bucket``."""
    size = topo.n * topo.n_buckets
    up, down = topo.ficc_up, topo.ficc_down
    key_up, key_dn = topo.ficc_cells
    b = np.bincount(key_up[up], s.repo_amount[up], minlength=size)
    lent = np.bincount(key_dn[down], s.repo_amount[down], minlength=size)
    return key_up, key_dn, b, lent


def _due(s) -> np.ndarray:
    """What each secured edge's borrower owes now (recalls and margin), USD bn."""
    due = np.minimum(s.repo_amount, s.repo_recall + s.repo_margin)
    return np.where(s.repo_unsecured, 0.0, due)


def match_recalls(state, topo) -> None:
    """Pass FICC's lenders' recalls and margin calls down to its borrowers (module doc)."""
    if not topo.has_ficc:
        return
    s, r = state, topo.repo
    up, down = topo.ficc_up, topo.ficc_down
    size = topo.n * topo.n_buckets
    key_up, key_dn, b, lent = _cells(s, topo)
    due = _due(s)
    r_up = np.bincount(key_up[up], due[up], minlength=size)
    if not r_up.any():
        return
    r_dn = np.bincount(key_dn[down], due[down], minlength=size)
    want = r_up - np.maximum(b - lent, 0.0) - r_dn
    if not (want > 1e-12).any():
        return
    live = down & ~s.repo_unsecured & ~s.defaulted[r.borrower]
    open_e = np.where(live, np.maximum(s.repo_amount - due, 0.0), 0.0)
    total = np.bincount(key_dn[down], open_e[down], minlength=size)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where((want > 1e-12) & (total > 0), np.minimum(1.0, want / total), 0.0)
    s.repo_recall += np.where(down, open_e * frac[key_dn], 0.0)


def pass_up(state, topo, ledger, *, dues_first: bool = False) -> None:
    """FICC repays its lenders the cash it holds beyond its own resources (module doc):
    ``dues_first`` (cash its members paid on their dues, in the pay rounds) to the legs with
    something due first; otherwise (repayments from unwinds, collateral sales, recoveries)
    pro rata to the legs' amounts, their recalls kept (up to the amount), as a direct
    edge's recall stayed due when its borrower repaid part of the loan."""
    if not topo.has_ficc:
        return
    s = state
    up = topo.ficc_up
    nb, size = topo.n_buckets, topo.n * topo.n_buckets
    key_up, _, b, lent = _cells(s, topo)
    transit = np.maximum(b - lent, 0.0)
    if not (transit > 1e-12).any():
        return
    equity = ledger.equity()
    f = np.flatnonzero(topo.ficc)
    per_f = transit.reshape(topo.n, nb).sum(axis=1)
    pay_f = np.zeros(topo.n)
    pay_f[f] = np.clip(s.cash[f] - np.maximum(equity[f], 0.0), 0.0, per_f[f])
    if not (pay_f > 1e-12).any():
        return
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(per_f > 0, pay_f / per_f, 0.0)
    cell_pay = transit * np.repeat(scale, nb)
    if not dues_first:
        amount = np.where(up, s.repo_amount, 0.0)
        total = np.bincount(key_up[up], amount[up], minlength=size)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(total > 0, np.minimum(1.0, cell_pay / total), 0.0)
        ledger.repay_repo_plain(amount * frac[key_up])
        np.minimum(s.repo_recall, s.repo_amount, out=s.repo_recall)
        np.minimum(s.repo_margin, s.repo_amount, out=s.repo_margin)
        return
    due = np.where(up, _due(s), 0.0)
    owed = np.bincount(key_up[up], due[up], minlength=size)
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.where(owed > 0, np.minimum(1.0, cell_pay / owed), 0.0)
    pay = due * first[key_up]
    rest = np.maximum(cell_pay - owed, 0.0)
    open_e = np.where(up & ~s.repo_unsecured, np.maximum(s.repo_amount - due, 0.0), 0.0)
    total = np.bincount(key_up[up], open_e[up], minlength=size)
    with np.errstate(divide="ignore", invalid="ignore"):
        second = np.where(total > 0, np.minimum(1.0, rest / total), 0.0)
    pay = np.where(up, pay + open_e * second[key_up], 0.0)
    ledger.pay_dues(pay, np.zeros_like(s.vm_due), np.ones(topo.n))


def guarantees(state, topo, ficc: int | None = None) -> np.ndarray:
    """Each dealer's sponsored guarantee (USD bn): FICC's (``ficc``'s, if given) secured
    loans to the members it sponsors now (the loans at the start if none are left)."""
    s, r = state, topo.repo
    down = topo.ficc_down if ficc is None else topo.ficc_down & (r.lender == ficc)
    sponsor = topo.sponsor[r.borrower]
    on = down & (sponsor >= 0)
    live = np.where(on & ~s.repo_unsecured, s.repo_amount, 0.0)
    if not live.any():
        live = np.where(on, r.amount_usd_bn, 0.0)
    return np.bincount(np.where(on, sponsor, 0), live, minlength=topo.n)


def charge_deficiency(state, topo, ledger, lost: np.ndarray, *, tol: float = 1e-9) -> np.ndarray:
    """Charge FICC's write-offs ``lost`` (per repo edge, USD bn) to the members' sponsors,
    then, when its own resources are exhausted (equity below ``-tol``), to the surviving
    dealers pro rata to their guarantees (module doc); returns each institution's charge
    (USD bn), owed to FICC (``State.guarantee_due``) and paid in the pay rounds."""
    s, r = state, topo.repo
    charged = np.zeros(topo.n)
    if not topo.has_ficc:
        return charged
    f = int(np.flatnonzero(topo.ficc_first)[0])
    alive_dealer = topo.mask["dealer"] & ~s.defaulted
    on = topo.ficc_down & (lost > 0)
    if on.any():
        sponsor = topo.sponsor[r.borrower[on]]
        has = sponsor >= 0
        owed = np.bincount(sponsor[has], lost[on][has], minlength=topo.n)
        charge = np.where(alive_dealer, owed, 0.0)
        if charge.any():
            ledger.charge_guarantee(charge)
            charged += charge
    short = -float(ledger.equity()[f])
    if short > tol:
        from contagion.mechanisms.defaults import mutualise

        assess = mutualise(short, np.where(alive_dealer, guarantees(s, topo, f), 0.0))
        if assess.any():
            ledger.charge_guarantee(assess)
            charged += assess
    return charged
