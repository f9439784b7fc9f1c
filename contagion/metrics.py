r"""Network systemic-risk metrics: DebtRank and the fire-sale loss-spiral gain.

DebtRank propagates distress along claims (below); :func:`loss_spiral_gain` measures the
price channel: how much a round of leveraged holders' sales begets through the prices it
moves once dealers are full (its own section at the end of this docstring).

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

Loss-spiral gain
----------------
The fire-sale vulnerability of Greenwood, Landier and Thesmar (2015, "Vulnerable banks",
*JFE* 115(3)) on this model's price impact: leveraged holders that target their leverage
sell ``L - 1`` times what they lose, and their sales move the prices of what they hold.
Once dealers are full (utilisation at its cap ``u_cap``), a USD bn of net sales in bucket
``b`` moves its yield by (:mod:`contagion.mechanisms.price_impact`)

.. math:: m_b = \lambda_P s_b + \frac{k_b}{1 + k_b \beta}, \qquad
          k_b = \lambda_T s_b g(u_{cap})

(bp per USD bn). Holder ``i`` loses, per bp of cash-yield impact in bucket ``b``,

.. math:: e_{ib} = 10^{-4} D_b \left(V_{ib} + \theta F_{ib}\right)

(USD bn per bp): ``V`` its bonds' value, ``F`` its futures' signed notional at their price
on that bucket (futures follow a share ``theta`` of the cash impact; swap rates do not
follow it, so a pay-fixed swap hedges none of it). Restoring leverage ``L_i = A_i / E_i``
after a loss ``l_i`` takes sales of ``(L_i - 1) l_i``, spread over buckets as its holdings
``w_ib = V_ib / sum_b V_ib``. One round maps sales ``x`` to ``x' = M x`` with

.. math:: M_{ji} = (L_j - 1)^+ \sum_b e_{jb}\, m_b\, w_{ib},

and the gain is the spectral radius ``rho(M)`` (computed as that of the bucket-by-bucket
``diag(m) W^T diag(L - 1) E``, which has the same non-zero eigenvalues). Above 1 each
round begets more than itself: the spiral runs until a bound binds or the positions run
out, and the level of a stress is set by that bound, not by its shock. It is a
first-order, start-of-stress measure: margins, haircuts, redemptions and the transient
part's decay are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from contagion.clearing import _as_float_vector, _validate_matrix
from contagion.schema import INSTITUTION_TYPES

if TYPE_CHECKING:
    from contagion.scenario import ModelParams
    from contagion.system import System

__all__ = ["DebtRankResult", "LossSpiral", "debtrank", "loss_spiral_gain", "spiral_gain"]


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


# --- loss-spiral gain ------------------------------------------------------------------------
@dataclass(frozen=True)
class LossSpiral:
    """Outcome of :func:`loss_spiral_gain`.

    Attributes
    ----------
    gain : float
        ``rho(M)``, dimensionless: above 1 the spiral feeds itself.
    marginal_impact_bp_per_usd_bn : dict[str, float]
        ``m_b`` per bucket once dealers are full, bp per USD bn.
    by_institution : pandas.DataFrame
        The holders counted: ``type``, ``strategy``, ``leverage_ratio`` (A / E) and
        ``exposure_usd_bn_per_bp`` (``sum_b e_ib``), indexed by institution id.
    """

    gain: float
    marginal_impact_bp_per_usd_bn: dict[str, float]
    by_institution: Any


def spiral_gain(
    leverage: np.ndarray,
    exposure: np.ndarray,
    weights: np.ndarray,
    marginal_impact: np.ndarray,
) -> float:
    """``rho(M)``, ``M = diag((L - 1)^+) e diag(m) w^T`` (see the module docstring).

    ``leverage`` (n,), ``exposure`` (n, B) USD bn per bp, ``weights`` (n, B) rows summing to
    1 (or 0 for a holder that sells nothing), ``marginal_impact`` (B,) bp per USD bn.

    Examples
    --------
    >>> # one fund at 5x, USD 100 bn of 10-year duration (0.1 USD bn per bp), 2.5 bp per bn
    >>> spiral_gain(np.array([5.0]), np.array([[0.1]]), np.array([[1.0]]), np.array([2.5]))
    1.0
    """
    lev = np.maximum(np.asarray(leverage, dtype=float) - 1.0, 0.0)
    e = np.asarray(exposure, dtype=float)
    w = np.asarray(weights, dtype=float)
    m = np.asarray(marginal_impact, dtype=float)
    small = (m[:, None] * w.T) @ (lev[:, None] * e)  # (B, B): same non-zero spectrum as M
    return float(np.max(np.abs(np.linalg.eigvals(small)))) if small.size else 0.0


def loss_spiral_gain(
    system: System,
    params: ModelParams | None = None,
    *,
    types: tuple[str, ...] = ("hedge_fund",),
) -> LossSpiral:
    """The loss-spiral gain of ``system``'s leveraged holders at the start of a stress.

    Parameters
    ----------
    system : contagion.System
    params : contagion.ModelParams, optional
        Impact parameters (``impact_bp_per_usd_bn``, ``impact_permanent_bp_per_usd_bn``,
        ``impact_convexity``, ``utilisation_cap_frac``, ``outside_demand_usd_bn_per_bp``,
        ``impact_duration_elasticity``, ``impact_reference_duration_years``,
        ``futures_pass_through_frac``); default ``ModelParams()``. For the calibrated
        system pass ``Scenario(...).with_params(**contagion.examples.model_params(system))
        .params`` or a scenario's ``params``.
    types : institution types that target their leverage (default hedge funds).
    """
    import pandas as pd

    from contagion.mechanisms.price_impact import duration_scale, impact_factor
    from contagion.scenario import ModelParams
    from contagion.sums import rowdot

    p = ModelParams() if params is None else params
    cs = system.compile()
    mk = cs.market
    dur = mk.modified_duration_years
    s_b = duration_scale(
        dur,
        elasticity=p.impact_duration_elasticity,
        reference_years=p.impact_reference_duration_years,
    )
    g = impact_factor(
        p.utilisation_cap_frac, convexity=p.impact_convexity, cap=p.utilisation_cap_frac
    )
    k = p.impact_bp_per_usd_bn * s_b * g
    m = p.impact_permanent_bp_per_usd_bn * s_b + k / (1.0 + k * p.outside_demand_usd_bn_per_bp)

    value = cs.holdings_par_usd_bn * (mk.price / 100.0)
    fut = np.zeros_like(value)
    f = cs.futures
    if len(f.ids):
        bucket = mk.futures_bucket[f.instrument]
        np.add.at(
            fut, (f.source, bucket), f.notional_usd_bn * mk.futures_price[f.instrument] / 100.0
        )
    exposure = 1e-4 * dur[None, :] * (value + p.futures_pass_through_frac * fut)
    assets, liabilities = cs.balance_sheet()
    equity = assets - liabilities
    with np.errstate(divide="ignore", invalid="ignore"):
        leverage = np.where(equity > 0, assets / equity, 0.0)
        total = value.sum(axis=1)
        weights = np.where(total[:, None] > 0, value / total[:, None], 0.0)
    keep = np.zeros(cs.n_institutions, dtype=bool)
    for t in types:
        keep |= cs.mask(t)
    gain = spiral_gain(leverage[keep], exposure[keep], weights[keep], m)
    table = pd.DataFrame(
        {
            "type": [INSTITUTION_TYPES[c] for c in cs.type_code[keep]],
            "strategy": cs.strategy[keep],
            "leverage_ratio": leverage[keep],
            "exposure_usd_bn_per_bp": rowdot(exposure[keep], np.ones(len(dur))),
        },
        index=pd.Index(cs.ids[keep], name="institution"),
    )
    return LossSpiral(gain, dict(zip(mk.bucket_names, m.tolist(), strict=True)), table)
