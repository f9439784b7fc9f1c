"""Accounting invariants, public so users can assert them in their own tests.

Checked after every simulated day by :func:`contagion.simulate` (a violation raises
:class:`~contagion.InvariantError` naming the invariant, the institution and the day):

* ``par_conserved``: for each bucket, par held in the system plus par sold outside (minus
  par issued by policies) equals the initial par;
* ``cash_conserved``: total cash (the central bank's may be negative: reserves it created)
  minus the net cash received from outside the system equals initial cash;
* ``vm_zero_sum``: each CCP's book (members plus the external side) stays as flat as it
  started, so variation margin sums to zero through it;
* ``balance_sheet``: each institution's equity from its balance sheet equals its initial
  equity plus its P&L by channel minus capital paid out (the attribution adds up);
* ``finite``, ``non_negative``: no NaN/inf; no negative holdings, notional-free IM or cash
  (except the central bank and CCPs, which pay first and collect after).
"""

from __future__ import annotations

import numpy as np

from contagion.errors import InvariantError

ATOL_USD_BN = 1e-6
RTOL = 1e-9


def _tol(scale) -> np.ndarray:
    return ATOL_USD_BN + RTOL * np.abs(scale)


def check_invariants(run, day: int | None = None) -> None:
    """Raise :class:`InvariantError` if an accounting invariant fails for ``run``'s state."""
    s = run.s
    ids = s.cs.ids
    for name in ("cash", "par", "repo_amount", "notional", "im_posted", "vm_due", "pool_lent"):
        arr = getattr(s, name)
        if np.isfinite(arr).all():
            continue
        bad = ~np.isfinite(arr)
        if bad.any():
            i = np.argwhere(bad)[0]
            who = ids[i[0]] if arr.shape[:1] == (s.n,) else None
            raise InvariantError("finite", who, day, f"{name} has a non-finite value")
    par0 = run.par_total0 + s.par_issued
    par_now = s.par.sum(axis=0) + s.external_par_out
    diff = np.abs(par_now - par0)
    if (diff > _tol(par0)).any():
        b = int(np.argmax(diff))
        raise InvariantError(
            "par_conserved",
            None,
            day,
            f"bucket {s.cs.market.bucket_names[b]}: {par_now[b]:.9f} vs {par0[b]:.9f} USD bn par",
        )
    cash_now = s.cash.sum() - s.external_cash_in
    if abs(cash_now - run.cash_total0) > _tol(np.abs(s.cash).sum()):
        raise InvariantError(
            "cash_conserved",
            None,
            day,
            f"cash net of outside flows {cash_now:.9f} vs initial {run.cash_total0:.9f} USD bn",
        )
    book = run._ccp_book()
    bdiff = np.abs(book - run.book0)
    if (bdiff > _tol(np.abs(run.book0) + 1.0)).any():
        c = int(np.argwhere(bdiff > _tol(np.abs(run.book0) + 1.0))[0][0])
        raise InvariantError(
            "vm_zero_sum", ids[s.ccp_rows[c]], day, "the CCP's book is no longer flat"
        )
    a, liab = s.balance()
    gap = np.abs((a - liab) - s.tracked_equity())
    bad = gap > _tol(a + liab) * 10
    if bad.any():
        i = int(np.argmax(np.where(bad, gap, -1)))
        raise InvariantError(
            "balance_sheet",
            ids[i],
            day,
            f"equity from the balance sheet {a[i] - liab[i]:.9f} differs from tracked equity "
            f"{s.tracked_equity()[i]:.9f} USD bn",
        )
    if (s.par < -ATOL_USD_BN).any():
        i = int(np.argwhere(s.par < -ATOL_USD_BN)[0][0])
        raise InvariantError("non_negative", ids[i], day, "negative Treasury holdings")
    neg = (s.cash < -_tol(a)) & ~run.unlimited
    if neg.any():
        i = int(np.argmax(neg))
        raise InvariantError("non_negative", ids[i], day, f"negative cash {s.cash[i]:.9f}")


def assert_invariants(result_or_run) -> None:
    """Assert the invariants hold (for a live run) — a convenience for users' tests."""
    check_invariants(result_or_run)
