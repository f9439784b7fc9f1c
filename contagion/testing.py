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


def check_invariants(sim, day: int | None = None) -> None:
    """Raise :class:`InvariantError` if an accounting invariant fails for a simulation.

    ``sim`` is a :class:`contagion.engine.Simulation` (anything with ``state``, ``ctx`` and
    ``ledger``); ``day`` labels the error (the state's day if not given).
    """
    s, topo, ledger = sim.state, sim.ctx.topo, sim.ledger
    ref = s.ref
    day = s.day if day is None else day
    ids = topo.cs.ids
    for name in ("cash", "par", "repo_amount", "notional", "im_posted", "vm_due", "pool_lent"):
        arr = getattr(s, name)
        if np.isfinite(arr).all():
            continue
        bad = ~np.isfinite(arr)
        if bad.any():
            i = np.argwhere(bad)[0]
            who = ids[i[0]] if arr.shape[:1] == (s.n,) else None
            raise InvariantError("finite", who, day, f"{name} has a non-finite value")
    par0 = ref.par_total0 + s.par_issued
    par_now = s.par.sum(axis=0) + s.external_par_out
    diff = np.abs(par_now - par0)
    if (diff > _tol(par0)).any():
        b = int(np.argmax(diff))
        raise InvariantError(
            "par_conserved",
            None,
            day,
            f"bucket {topo.cs.market.bucket_names[b]}: {par_now[b]:.9f} vs {par0[b]:.9f} "
            "USD bn par",
        )
    cash_now = s.cash.sum() - s.external_cash_in
    if abs(cash_now - ref.cash_total0) > _tol(np.abs(s.cash).sum()):
        raise InvariantError(
            "cash_conserved",
            None,
            day,
            f"cash net of outside flows {cash_now:.9f} vs initial {ref.cash_total0:.9f} USD bn",
        )
    book = ledger.ccp_books()
    bdiff = np.abs(book - ref.book0)
    if (bdiff > _tol(np.abs(ref.book0) + 1.0)).any():
        c = int(np.argwhere(bdiff > _tol(np.abs(ref.book0) + 1.0))[0][0])
        raise InvariantError(
            "vm_zero_sum", ids[topo.ccp_rows[c]], day, "the CCP's book is no longer flat"
        )
    a, liab = ledger.balance()
    tracked = ledger.tracked_equity()
    gap = np.abs((a - liab) - tracked)
    bad = gap > _tol(a + liab) * 10
    if bad.any():
        i = int(np.argmax(np.where(bad, gap, -1)))
        raise InvariantError(
            "balance_sheet",
            ids[i],
            day,
            f"equity from the balance sheet {a[i] - liab[i]:.9f} differs from tracked equity "
            f"{tracked[i]:.9f} USD bn",
        )
    if (s.par < -ATOL_USD_BN).any():
        i = int(np.argwhere(s.par < -ATOL_USD_BN)[0][0])
        raise InvariantError("non_negative", ids[i], day, "negative Treasury holdings")
    neg = (s.cash < -_tol(a)) & ~topo.unlimited
    if neg.any():
        i = int(np.argmax(neg))
        raise InvariantError("non_negative", ids[i], day, f"negative cash {s.cash[i]:.9f}")


def assert_invariants(sim) -> None:
    """Assert the invariants hold for a live simulation (a convenience for users' tests)."""
    check_invariants(sim)


class StepChecker:
    """Checks every step of a :class:`contagion.engine.Simulation` run with ``debug=True``.

    After each step: no cached sum of the ledger is stale, the accounting invariants hold
    (an error names the step), and the step changed only the state fields it declares
    (``contagion.steps.STEPS``; the policies' own records are theirs). A digest of the
    state after each step is kept in ``digests``, so two runs can be compared step by step
    (determinism).
    """

    def __init__(self, sim) -> None:
        from contagion.state import State

        self.sim = sim
        self.fields = (*State.array_fields(), *State.scalar_fields())
        self.digests: list[tuple[str, str]] = []
        self.steps_run = 0

    def run(self, name: str, fn, writes, args):
        sim = self.sim
        before = {f: _value(getattr(sim.state, f)) for f in self.fields}
        out = fn(*args)
        s = sim.state
        label = f"{s.day + 1}, after step {name!r}"
        stale = sim.ledger.check_cache()
        if stale is not None:
            raise InvariantError("ledger_cache", None, label, f"cached {stale} is stale")
        check_invariants(sim, day=label)  # type: ignore[arg-type]
        changed = [f for f in self.fields if not _same(before[f], getattr(s, f))]
        undeclared = sorted(set(changed) - set(writes))
        if undeclared:
            raise InvariantError(
                "declared_writes", None, label, f"wrote {', '.join(undeclared)} (undeclared)"
            )
        self.digests.append((name, digest(s)))
        self.steps_run += 1
        return out


def _value(x):
    return x.copy() if isinstance(x, np.ndarray) else x


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    return a == b or (a != a and b != b)


def digest(state) -> str:
    """A hash of every array and scalar of a state (bit-exact)."""
    import hashlib

    h = hashlib.sha256()
    for f in (*state.array_fields(), *state.scalar_fields()):
        v = getattr(state, f)
        h.update(f.encode())
        h.update(
            np.ascontiguousarray(v).tobytes() if isinstance(v, np.ndarray) else repr(v).encode()
        )
    return h.hexdigest()
