"""Default resolution: CCP waterfall and the inputs of Eisenberg-Noe clearing.

CCP waterfall on a defaulted member's edge e (USD bn)::

    loss_e    = unpaid VM_e + c * IM requirement_e        (close-out cost, c = close-out share)
    covered_e = min(loss_e, IM posted_e)                  (1. the defaulter's IM)
    returned  = IM posted_e - covered_e                   (back to the defaulter's estate)
    the rest  -> the CCP's own resources (2. skin in the game and default fund, its equity)
    and when the CCP's equity turns negative -> assessments on surviving members pro rata
    to their IM (3. mutualised loss).

Repo: lenders seize the defaulter's collateral up to the loan's value and sell it; any
deficiency stays as an unsecured claim. Unsecured claims (original unsecured exposures,
repo deficiencies, MMF financing of dealers, other liabilities owed outside the system) are
cleared with :func:`contagion.clearing.eisenberg_noe`.
"""

from __future__ import annotations

import numpy as np


def close_out(
    unpaid_vm: np.ndarray, im_requirement: np.ndarray, im_posted: np.ndarray, cost_frac: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(close-out cost, covered by IM, uncovered loss, IM returned), per edge, USD bn."""
    cost = cost_frac * im_requirement
    loss = unpaid_vm + cost
    covered = np.minimum(loss, im_posted)
    return cost, covered, loss - covered, im_posted - covered


def mutualise(shortfall: float, member_im: np.ndarray) -> np.ndarray:
    """Assessment per member edge, pro rata to IM posted (USD bn)."""
    total = member_im.sum()
    if shortfall <= 0 or total <= 0:
        return np.zeros_like(member_im)
    return shortfall * member_im / total
