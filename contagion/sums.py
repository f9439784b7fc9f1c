"""Sums in a fixed order, so that results do not depend on the BLAS kernel of the machine.

``matrix @ vector`` on float arrays calls BLAS (``dgemv``, ``ddot``), whose kernels differ by
CPU type and add in different orders, so the last bits of a value such as a portfolio's
mark-to-market differed between machines. These helpers multiply elementwise (each product
is exact IEEE arithmetic) and add the products with numpy's ``add.reduce``, which never calls
BLAS: for fewer than 8 terms (tenor buckets, futures contracts) it adds them left to right,
from the first (onto +0.0); beyond, numpy's pairwise summation, whose order depends only on
the length.
The compiled engine adds in the same order.

Examples
--------
>>> import numpy as np
>>> rowdot(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0.5, 0.25])).tolist()
[1.0, 2.5]
>>> dot(np.array([1.0, 2.0]), np.array([0.5, 0.25]))
1.0
"""

from __future__ import annotations

import numpy as np

#: Terms from which numpy's ``add.reduce`` sums pairwise (below: left to right).
_PAIRWISE_MIN = 8


def rowdot(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``matrix @ vector`` for a 2-D matrix, each row's products added in a fixed order.

    Exactly ``np.add.reduce(matrix * vector, axis=1)``. For fewer than 8 columns that
    reduction adds each row's products left to right onto +0.0, one row at a time; the
    products laid out column after column (a C-ordered (columns, rows) array) and reduced
    over the columns add whole columns in the same order onto +0.0 (``initial``), the same
    floats in two numpy calls.
    """
    k = matrix.shape[1] if matrix.ndim == 2 else 0
    if not 0 < k < _PAIRWISE_MIN or np.ndim(vector) > 1:
        return np.add.reduce(matrix * vector, axis=1)
    products = np.multiply(matrix.T, np.reshape(vector, (-1, 1)), order="C")
    return np.add.reduce(products, axis=0, initial=0.0)


def zeroed(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``np.where(mask, 0.0, values)`` for a float array the caller owns (a temporary).

    The entries under ``mask`` are set to +0.0 in place and ``values`` is returned: the same
    floats as the select, which copies every element (on edge arrays ~10x the cost of
    writing the few masked ones).
    """
    values[mask] = 0.0
    return values


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """``a @ b`` for two vectors, the products added in a fixed order."""
    return float(np.add.reduce(a * b))
