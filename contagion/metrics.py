r"""Network systemic-risk metrics: DebtRank.

Model
-----
Battiston, S., Puliga, M., Kaushik, R., Tasca, P. and Caldarelli, G. (2012),
"DebtRank: Too Central to Fail? Financial Networks, the FED and Systemic Risk",
*Scientific Reports* 2:541.

``A[i, j] >= 0`` is the exposure of lender ``i`` to borrower ``j`` and ``E[i] > 0`` is
``i``'s capital (equity). The impact of ``j``'s distress on ``i`` is

.. math:: W_{ij} = \min\left(1, A_{ij} / E_i\right).

Each node has a distress level :math:`h_i \in [0, 1]` (fraction of capital lost) and a
state in {Undistressed, Distressed, Inactive}. Initially nodes with
:math:`h_i(0) > 0` are Distressed, the rest Undistressed. Then, for :math:`t \ge 1`,

.. math::

    h_i(t) = \min\Big(1,\; h_i(t-1) + \sum_{j:\, s_j(t-1) = D} W_{ij}\, h_j(t-1)\Big),

and a node that was Distressed at :math:`t-1` becomes Inactive, an Undistressed node
with :math:`h_i(t) > 0` becomes Distressed, other states are unchanged. So each node
propagates its distress exactly once (no reverberation along cycles). The process stops
when no node is Distressed. DebtRank is the additional value-weighted distress

.. math:: R = \sum_i h_i(T)\, v_i - \sum_i h_i(0)\, v_i,

with relative economic values :math:`v_i \ge 0`, :math:`\sum_i v_i = 1` (by default
:math:`v_i = E_i / \sum_k E_k`).

Units
-----
``exposures`` and ``capital`` in USD billions; ``h``, ``W``, ``v`` and ``R`` are
dimensionless.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from contagion.clearing import _as_float_vector, _validate_matrix

__all__ = ["DebtRankResult", "debtrank"]


@dataclass(frozen=True)
class DebtRankResult:
    """Outcome of a DebtRank propagation.

    Attributes
    ----------
    h : numpy.ndarray
        Final distress levels ``h_i(T)`` in ``[0, 1]``, shape ``(n,)``.
    debtrank : float
        ``R = sum_i v_i h_i(T) - sum_i v_i h_i(0)`` (dimensionless, in ``[0, 1]``).
    rounds : int
        Number of propagation steps performed ``T``.
    converged : bool
        ``True`` if the process ended with no Distressed node (``False`` only if it was
        truncated by ``max_rounds``).
    """

    h: np.ndarray
    debtrank: float
    rounds: int
    converged: bool


def _vector(x: Any, name: str, n: int) -> np.ndarray:
    return _as_float_vector(x, name, n, matrix="exposures", nonnegative=False)


def debtrank(
    exposures: Any,
    capital: Any,
    initial_distress: Any,
    *,
    value_weights: Any = None,
    max_rounds: int | None = None,
) -> DebtRankResult:
    """Original DebtRank (Battiston et al., 2012) of an initial distress scenario.

    Parameters
    ----------
    exposures : array_like or scipy.sparse matrix/array, shape (n, n)
        ``exposures[i, j]`` is the exposure of lender ``i`` to borrower ``j``
        (USD bn). Non-negative, finite, zero diagonal.
    capital : array_like, shape (n,)
        Capital (equity) of each node (USD bn); must be strictly positive.
    initial_distress : array_like, shape (n,)
        Initial distress ``h(0)`` in ``[0, 1]`` (1 = default).
    value_weights : array_like, shape (n,), optional
        Relative economic values ``v`` (non-negative, positive sum); normalised to sum
        to 1. Defaults to ``capital / capital.sum()``.
    max_rounds : int, optional
        Maximum number of propagation steps; defaults to ``n`` (always enough: each
        node is Distressed during at most one step). If the limit stops the process
        early, ``converged`` is ``False``.

    Returns
    -------
    DebtRankResult
        Final distress ``h``, ``debtrank`` R, ``rounds`` and ``converged``.

    Raises
    ------
    ValueError
        On a non-square / non-finite / negative / nonzero-diagonal ``exposures``, a
        length mismatch, ``capital <= 0``, ``initial_distress`` outside ``[0, 1]``,
        invalid ``value_weights`` or ``max_rounds < 0``.

    Notes
    -----
    Each step is one sparse matrix-vector product ``W @ (h * distressed)``, so the
    cost is ``O(nnz)`` per step. The original DebtRank is *not* monotone in the
    initial distress in general: an initially (slightly) distressed node propagates
    its small distress at step 1 and is then Inactive, so distress it receives later
    is not passed on. It is monotone for increases that keep the set of initially
    distressed nodes fixed.

    Examples
    --------
    Bank 0 holds 5 of bank 1's debt (capital 10, so ``W[0, 1] = 0.5``); bank 1 holds
    20 of bank 2's debt (capital 10, ``W[1, 2] = 1``); bank 2 defaults:

    >>> import numpy as np
    >>> A = np.array([[0.0, 5.0, 0.0], [0.0, 0.0, 20.0], [0.0, 0.0, 0.0]])
    >>> res = debtrank(A, [10.0, 10.0, 20.0], [0.0, 0.0, 1.0])
    >>> res.h.tolist()
    [0.5, 1.0, 1.0]
    >>> float(res.debtrank), res.rounds
    (0.375, 3)
    """
    A = _validate_matrix(exposures, "exposures")
    n = A.shape[0]
    cap = _vector(capital, "capital", n)
    if np.any(cap <= 0):
        raise ValueError("capital must be strictly positive for every node")
    h0 = _vector(initial_distress, "initial_distress", n)
    if np.any((h0 < 0) | (h0 > 1)):
        raise ValueError("initial_distress must lie in [0, 1]")
    if value_weights is None:
        v = cap / cap.sum()
    else:
        v = _vector(value_weights, "value_weights", n)
        if np.any(v < 0):
            raise ValueError("value_weights must be non-negative")
        if v.sum() <= 0:
            raise ValueError("value_weights must have a positive sum")
        v = v / v.sum()
    if max_rounds is None:
        max_rounds = n
    if int(max_rounds) != max_rounds or max_rounds < 0:
        raise ValueError(f"max_rounds must be a non-negative integer, got {max_rounds!r}")

    if sp.issparse(A):
        W: Any = A.copy()  # a scipy sparse array (scipy has no type information)
        W.data /= np.repeat(cap, np.diff(W.indptr))
        np.minimum(W.data, 1.0, out=W.data)
    else:
        W = np.minimum(A / cap[:, None], 1.0)

    h = h0.copy()
    distressed = h > 0
    inactive = np.zeros(n, dtype=bool)
    rounds = 0
    while distressed.any() and rounds < max_rounds:
        rounds += 1
        h_new = np.minimum(1.0, h + W @ np.where(distressed, h, 0.0))
        inactive |= distressed
        distressed = (h_new > 0) & ~inactive
        h = h_new

    R = float(v @ h - v @ h0)
    h.setflags(write=False)
    return DebtRankResult(h=h, debtrank=R, rounds=rounds, converged=not distressed.any())
