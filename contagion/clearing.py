r"""Eisenberg-Noe clearing of an interbank liability network.

Model
-----
Eisenberg, L. and Noe, T. H. (2001), "Systemic Risk in Financial Systems",
*Management Science* 47(2), 236-249.

There are :math:`n` nodes. ``L[i, j] >= 0`` is the nominal amount node ``i`` owes node
``j`` and ``e[i] >= 0`` is node ``i``'s external (non-network) assets. Define

.. math::

    \bar p_i = \sum_j L_{ij}, \qquad
    \Pi_{ij} = L_{ij} / \bar p_i \quad (\Pi_{ij} = 0 \text{ if } \bar p_i = 0),

the total obligation vector and the relative liability matrix. A *clearing vector*
:math:`p` (total paid by each node) is a fixed point of the clearing map

.. math::

    p = \Phi(p) = \min\left(\bar p,\; e + \Pi^\top p\right)

(limited liability and absolute priority of debt; payments are pro rata). The
clearing vectors form a complete lattice; :func:`eisenberg_noe` returns the
**greatest** one, computed exactly (up to linear-solve round-off) with the
Eisenberg-Noe *fictitious default algorithm*. Clearing equity is

.. math::

    E = e + \Pi^\top p - p \;\ge\; 0 .

Units
-----
All amounts (``liabilities``, ``external_assets``, ``payments``, ``equity``) are in
USD billions; ``recovery_rate`` is dimensionless in ``[0, 1]``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = ["ClearingResult", "eisenberg_noe"]

# Relative tolerance used to classify a node as defaulting: node i defaults when its
# available funds fall short of its obligations by more than _RTOL * (1 + pbar_i).
_RTOL = 1e-12
# Sparse defaulters' systems up to this size are solved directly (spsolve); larger ones
# by GMRES to relative residual _KRYLOV_RTOL, with spsolve as fallback.
_DIRECT_MAX = 256
_KRYLOV_RTOL = 1e-14


@dataclass(frozen=True)
class ClearingResult:
    """Outcome of Eisenberg-Noe clearing (all amounts in USD bn).

    Attributes
    ----------
    payments : numpy.ndarray
        Greatest clearing vector ``p``: total amount paid by each node, shape ``(n,)``.
    defaulted : numpy.ndarray
        Boolean array, ``True`` where the node pays less than its total obligation
        ``pbar`` (beyond a relative tolerance of about ``1e-12``).
    recovery_rate : numpy.ndarray
        ``p / pbar`` (fraction of each node's obligations honoured), ``1`` where
        ``pbar == 0``.
    iterations : int
        Rounds of the fictitious default algorithm (evaluations of the default set,
        including the first one at ``p = pbar``); at most ``n``.
    equity : numpy.ndarray
        Clearing equity ``e + Pi^T p - p`` (non-negative), shape ``(n,)``.
    """

    payments: np.ndarray
    defaulted: np.ndarray
    recovery_rate: np.ndarray
    iterations: int
    equity: np.ndarray


def _as_float_vector(
    x: Any, name: str, n: int, *, matrix: str = "liabilities", nonnegative: bool = True
) -> np.ndarray:
    """A finite float64 vector of length ``n`` (the side of the ``matrix`` argument)."""
    try:
        v = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric vector: {exc}") from exc
    if v.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {v.shape}")
    if v.shape[0] != n:
        raise ValueError(
            f"{name} has length {v.shape[0]} but {matrix} is {n} x {n}: shape mismatch"
        )
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if nonnegative and np.any(v < 0):
        raise ValueError(f"{name} must be non-negative (found negative entries)")
    return v


def _validate_matrix(m: Any, name: str) -> np.ndarray | sp.csr_array:
    """Return ``m`` as float64 dense array or canonical CSR array after validation.

    Checks: two-dimensional, square, finite, non-negative, zero diagonal.
    """
    if sp.issparse(m):
        mat = sp.csr_array(m, dtype=np.float64)
        mat.sum_duplicates()
        values = mat.data
    else:
        try:
            mat = np.asarray(m, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be a numeric matrix: {exc}") from exc
        values = mat
    if mat.ndim != 2:
        raise ValueError(f"{name} must be two-dimensional, got shape {mat.shape}")
    if mat.shape[0] != mat.shape[1]:
        raise ValueError(f"{name} must be square, got shape {mat.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if np.any(values < 0):
        raise ValueError(f"{name} must be non-negative (found negative entries)")
    if np.any(mat.diagonal() != 0):
        raise ValueError(f"{name} must have a zero diagonal (no self-obligations)")
    return mat


def eisenberg_noe(
    liabilities: Any,
    external_assets: Any,
    *,
    max_iter: int | None = None,
) -> ClearingResult:
    """Greatest Eisenberg-Noe clearing vector by the fictitious default algorithm.

    Parameters
    ----------
    liabilities : array_like or scipy.sparse matrix/array, shape (n, n)
        ``liabilities[i, j]`` is the nominal amount node ``i`` owes node ``j``
        (USD bn). Non-negative, finite, zero diagonal.
    external_assets : array_like, shape (n,)
        External (non-network) assets of each node (USD bn). Non-negative, finite.
    max_iter : int, optional
        Maximum number of rounds of the algorithm; defaults to ``max(n, 1)``, which
        always suffices in exact arithmetic. A ``RuntimeError`` is raised if the
        default set has not stabilised within ``max_iter`` rounds.

    Returns
    -------
    ClearingResult
        Payments, default indicators, recovery rates, number of rounds and equity.

    Raises
    ------
    ValueError
        If an input is not square / has mismatched shape / has negative, NaN or
        infinite entries / has a nonzero diagonal, or ``max_iter < 1``.
    RuntimeError
        If the default set does not stabilise within ``max_iter`` rounds.
    numpy.linalg.LinAlgError
        If a defaulters' linear system is singular (cannot happen for valid input in
        exact arithmetic, since the defaulters of the greatest clearing vector never
        contain a closed set of nodes).

    Notes
    -----
    Start from ``p = pbar`` (everyone solvent). Each round, given the current default
    set ``D`` (solvent set ``S``), solvent nodes pay in full, ``p_S = pbar_S``, and
    defaulters pay everything they have,

    .. math:: (I - \\Pi_{DD}^\\top)\\, p_D = e_D + \\Pi_{SD}^\\top \\bar p_S,

    solved with :func:`numpy.linalg.solve` (dense input) or, for sparse input,
    :func:`scipy.sparse.linalg.spsolve` (up to 256 defaulters) or warm-started GMRES to
    a relative residual of ``1e-14`` with ``spsolve`` as fallback (direct LU fill-in
    makes large random networks slow). Nodes with
    ``e + Pi^T p < pbar`` are added to ``D``; the algorithm stops when ``D`` does not
    change. The default sets increase monotonically and are all contained in the
    default set of the greatest clearing vector, so at most ``n`` rounds are
    needed. Each round costs ``O(nnz)`` plus the linear solve.

    Examples
    --------
    Node 0 owes node 1 10; node 1 owes 5 to node 0 and 5 to node 2 (a sink):

    >>> import numpy as np
    >>> L = np.array([[0.0, 10.0, 0.0], [5.0, 0.0, 5.0], [0.0, 0.0, 0.0]])
    >>> res = eisenberg_noe(L, np.array([2.0, 1.0, 0.0]))
    >>> res.payments.round(12).tolist()
    [5.0, 6.0, 0.0]
    >>> res.defaulted.tolist()
    [True, True, False]
    >>> res.equity.round(12).tolist()
    [0.0, 0.0, 3.0]
    >>> res.iterations
    3
    """
    L = _validate_matrix(liabilities, "liabilities")
    n = L.shape[0]
    e = _as_float_vector(external_assets, "external_assets", n)
    if max_iter is None:
        max_iter = max(n, 1)
    if int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")

    is_sparse = sp.issparse(L)
    pbar = np.asarray(L.sum(axis=1), dtype=np.float64).ravel()
    inv_pbar = np.divide(1.0, pbar, out=np.zeros(n), where=pbar > 0)
    if is_sparse:
        # Row scaling of CSR data: each stored value divided by its row's pbar.
        pi: Any = L.copy()  # a scipy sparse array (scipy has no type information)
        pi.data *= np.repeat(inv_pbar, np.diff(pi.indptr))
        pi_t = sp.csr_array(pi.T)  # (Pi^T)[j, i] = Pi[i, j]; CSR for fast mat-vec
    else:
        pi_t = (L * inv_pbar[:, None]).T.copy()
    tol = _RTOL * (1.0 + pbar)

    defaulted = np.zeros(n, dtype=bool)
    p = pbar.copy()
    iterations = 0
    while True:
        if iterations >= max_iter:
            raise RuntimeError(
                f"eisenberg_noe: default set did not stabilise within max_iter={max_iter} rounds"
            )
        iterations += 1
        idx = np.flatnonzero(defaulted)
        if idx.size:
            p_prev = p
            p = np.where(defaulted, 0.0, pbar)
            rhs = e[idx] + (pi_t @ p)[idx]
            p[idx] = _solve_defaulters(pi_t, idx, rhs, p_prev[idx], is_sparse)
        available = e + pi_t @ p
        new_defaulted = defaulted | (available < pbar - tol)
        if np.array_equal(new_defaulted, defaulted):
            break
        defaulted = new_defaulted

    # Defaulters pay all they have (< pbar in exact arithmetic); clip round-off.
    payments = np.clip(p, 0.0, pbar)
    recovery = np.divide(payments, pbar, out=np.ones(n), where=pbar > 0)
    equity = np.maximum(e + pi_t @ payments - payments, 0.0)
    for arr in (payments, defaulted, recovery, equity):
        arr.setflags(write=False)
    return ClearingResult(
        payments=payments,
        defaulted=defaulted,
        recovery_rate=recovery,
        iterations=iterations,
        equity=equity,
    )


def _solve_defaulters(
    pi_t: np.ndarray | sp.csr_array,
    idx: np.ndarray,
    rhs: np.ndarray,
    x0: np.ndarray,
    is_sparse: bool,
) -> np.ndarray:
    """Solve ``(I - Pi_DD^T) x = rhs`` on the defaulter index set ``idx``.

    ``I - Pi_DD^T`` is a nonsingular M-matrix. Dense input: LAPACK solve. Sparse input:
    :func:`scipy.sparse.linalg.spsolve` (SuperLU) for up to ``_DIRECT_MAX`` defaulters;
    above that, GMRES warm-started at ``x0`` to a relative residual of ``1e-14``
    with iterative refinement down to a max-norm residual of ``1e-14 (1 + |rhs|_max)``
    (LU fill-in on large random networks makes the direct solve slow), falling back to
    ``spsolve`` if GMRES does not get there.
    """
    k = idx.size
    if not is_sparse:
        return np.linalg.solve(np.eye(k) - pi_t[np.ix_(idx, idx)], rhs)
    diag = np.arange(k)
    eye = sp.csr_array((np.ones(k), (diag, diag)), shape=(k, k))
    a = sp.csc_array(eye - pi_t[idx][:, idx])
    if k > _DIRECT_MAX:
        # GMRES plus up to three rounds of iterative refinement on the residual, so the
        # max-norm residual ends near round-off rather than at rtol * ||rhs||_2.
        target = _KRYLOV_RTOL * (1.0 + np.max(np.abs(rhs)))
        x = x0.copy()
        for _ in range(4):
            resid = rhs - a @ x
            if np.max(np.abs(resid)) <= target:
                return x
            dx, info = spla.gmres(
                a, resid, rtol=_KRYLOV_RTOL, atol=0.0, restart=min(k, 50), maxiter=200
            )
            if info != 0:
                break
            x += dx
        else:
            if np.max(np.abs(rhs - a @ x)) <= 100.0 * target:
                return x
    with warnings.catch_warnings():
        warnings.simplefilter("error", spla.MatrixRankWarning)
        try:
            x = spla.spsolve(a, rhs)
        except spla.MatrixRankWarning as exc:
            raise np.linalg.LinAlgError(
                "eisenberg_noe: singular defaulters' system (a closed set of defaulting nodes)"
            ) from exc
    return np.atleast_1d(np.asarray(x, dtype=np.float64))
