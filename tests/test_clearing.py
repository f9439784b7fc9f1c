"""Tests for contagion.clearing (Eisenberg-Noe greatest clearing vector)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import profile_examples
from hypothesis import given, settings
from hypothesis import strategies as st

import contagion.clearing as clearing_mod
from contagion.clearing import ClearingResult, eisenberg_noe


def picard_greatest(L: np.ndarray, e: np.ndarray, max_iter: int = 1_000_000) -> np.ndarray:
    """Brute force: p_{k+1} = min(pbar, e + Pi^T p_k) from p_0 = pbar.

    The clearing map is monotone and p_0 = pbar is the top of the lattice, so the
    iterates decrease monotonically to the greatest fixed point. Iterate until they
    stop changing in floating point.
    """
    pbar = L.sum(axis=1)
    pi = np.divide(L, pbar[:, None], out=np.zeros_like(L), where=pbar[:, None] > 0)
    p = pbar.copy()
    for _ in range(max_iter):
        p_new = np.minimum(pbar, e + pi.T @ p)
        if np.max(np.abs(p_new - p), initial=0.0) <= 1e-15 * (1.0 + pbar.max(initial=0.0)):
            return p_new
        p = p_new
    raise AssertionError("Picard iteration did not converge")


def clearing_map(L: np.ndarray, e: np.ndarray, p: np.ndarray) -> np.ndarray:
    pbar = L.sum(axis=1)
    pi = np.divide(L, pbar[:, None], out=np.zeros_like(L), where=pbar[:, None] > 0)
    return np.minimum(pbar, e + pi.T @ p)


def random_system(
    rng: np.random.Generator, n: int, density: float, e_scale: float
) -> tuple[np.ndarray, np.ndarray]:
    mask = rng.random((n, n)) < density
    np.fill_diagonal(mask, False)
    L = np.where(mask, rng.exponential(10.0, (n, n)), 0.0)
    e = rng.exponential(e_scale, n)
    return L, e


def assert_clearing_properties(L: np.ndarray, e: np.ndarray, res: ClearingResult) -> None:
    p = res.payments
    pbar = L.sum(axis=1)
    assert np.all(p >= 0)
    # (pbar may differ in the last ulp when L was summed in sparse storage order)
    assert np.all(p <= pbar * (1 + 1e-15))
    # Fixed point of the clearing map.
    np.testing.assert_allclose(clearing_map(L, e, p), p, rtol=0, atol=1e-10)
    # Conservation: every dollar paid is received by someone.
    pi = np.divide(L, pbar[:, None], out=np.zeros_like(L), where=pbar[:, None] > 0)
    received = pi.T @ p
    assert received.sum() == pytest.approx(p.sum(), rel=1e-12, abs=1e-12)
    # Equity identity and non-negativity.
    assert np.all(res.equity >= 0)
    np.testing.assert_allclose(res.equity, e + received - p, rtol=0, atol=1e-9)
    # Defaults and recovery are consistent with payments.
    np.testing.assert_array_equal(res.defaulted, p < pbar - 1e-9 * (1 + pbar))
    np.testing.assert_allclose(
        res.recovery_rate[pbar > 0], (p / np.where(pbar > 0, pbar, 1))[pbar > 0]
    )
    assert np.all(res.recovery_rate[pbar == 0] == 1.0)
    assert 1 <= res.iterations <= max(len(e), 1)


# --------------------------------------------------------------------------- closed form


def test_three_node_closed_form() -> None:
    # Node 0 owes node 1 10; node 1 owes 5 to node 0 and 5 to node 2 (sink, owes nothing).
    # e = (2, 1, 0), pbar = (10, 10, 0), Pi = [[0, 1, 0], [1/2, 0, 1/2], [0, 0, 0]].
    # Round 1 (p = pbar): node 0 has 2 + 10/2 = 7 < 10 -> defaults; node 1 has
    #   1 + 10 = 11 >= 10 -> solvent.
    # Round 2 (D = {0}): p0 = 2 + p1/2 = 2 + 5 = 7; node 1 now has 1 + 7 = 8 < 10 -> defaults.
    # Round 3 (D = {0, 1}): p0 = 2 + p1/2, p1 = 1 + p0  =>  p0 = 2.5 + p0/2  =>  p0 = 5,
    #   p1 = 6 (both < 10: default set unchanged, stop).
    # Node 2 receives p1/2 = 3, its equity; total paid 11 = received 3 + 5 + 3.
    L = np.array([[0.0, 10.0, 0.0], [5.0, 0.0, 5.0], [0.0, 0.0, 0.0]])
    e = np.array([2.0, 1.0, 0.0])
    res = eisenberg_noe(L, e)
    np.testing.assert_allclose(res.payments, [5.0, 6.0, 0.0], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(res.defaulted, [True, True, False])
    np.testing.assert_allclose(res.recovery_rate, [0.5, 0.6, 1.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.equity, [0.0, 0.0, 3.0], rtol=0, atol=1e-12)
    assert res.iterations == 3
    assert_clearing_properties(L, e, res)


def test_cycle_needs_n_rounds() -> None:
    # Ring 0 -> 1 -> 2 -> 0, each owes the next 10 and owes sink node 3 an amount 2,
    # so pbar = (12, 12, 12, 0) and each ring node passes on a = 10/12 = 5/6 of what
    # it pays. e = (1, 5/2, 11/5, 0).
    # Round 1 (p = pbar): ring inflow 10; node 0: 11 < 12 defaults; nodes 1, 2 solvent.
    # Round 2 (D = {0}): p0 = 1 + a*12 = 11; node 1: 5/2 + a*11 = 11.67 < 12 defaults;
    #   node 2: 2.2 + 10 = 12.2 solvent.
    # Round 3 (D = {0, 1}): p0 = 11, p1 = 5/2 + a*11 = 11.67; node 2: 2.2 + a*p1 = 11.92
    #   < 12 defaults.
    # Round 4 (D = {0, 1, 2}): p0 = 1 + a p2, p1 = 5/2 + a p0, p2 = 11/5 + a p1
    #   =>  p2 (1 - a^3) = 11/5 + 5/2 a + a^2 = 224/45, 1 - a^3 = 91/216
    #   =>  p2 = 768/65, p0 = 1 + a p2 = 141/13, p1 = 5/2 + a p0 = 150/13 (all < 12;
    #   set unchanged, stop after n = 4 rounds). Node 3 receives (2/12)(p0 + p1 + p2).
    L = np.zeros((4, 4))
    L[0, 1] = L[1, 2] = L[2, 0] = 10.0
    L[:3, 3] = 2.0
    e = np.array([1.0, 2.5, 2.2, 0.0])
    res = eisenberg_noe(L, e)
    expected = np.array([141 / 13, 150 / 13, 768 / 65, 0.0])
    np.testing.assert_allclose(res.payments, expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(res.defaulted, [True, True, True, False])
    assert res.iterations == 4
    np.testing.assert_allclose(res.equity[3], expected[:3].sum() / 6, rtol=1e-14)
    assert_clearing_properties(L, e, res)


def test_chain_defaults_one_per_round() -> None:
    # Chain 0 -> 1 -> 2 -> 3 (sink), each owes 10; e = (5, 2, 2, 0).
    # Round 1: node 0 has 5 < 10. Round 2: p0 = 5, node 1 has 2 + 5 = 7 < 10.
    # Round 3: p1 = 7, node 2 has 2 + 7 = 9 < 10. Round 4: p2 = 9, unchanged.
    L = np.zeros((4, 4))
    L[0, 1] = L[1, 2] = L[2, 3] = 10.0
    e = np.array([5.0, 2.0, 2.0, 0.0])
    res = eisenberg_noe(sp.csr_array(L), e)
    np.testing.assert_allclose(res.payments, [5.0, 7.0, 9.0, 0.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.equity, [0.0, 0.0, 0.0, 9.0], rtol=0, atol=1e-12)
    assert res.iterations == 4


def test_greatest_not_least_clearing_vector() -> None:
    # Two nodes owing each other 10 with no external assets: every p = (t, t),
    # 0 <= t <= 10, is a clearing vector; the greatest is full payment.
    L = np.array([[0.0, 10.0], [10.0, 0.0]])
    res = eisenberg_noe(L, np.zeros(2))
    np.testing.assert_allclose(res.payments, [10.0, 10.0], rtol=0, atol=1e-12)
    assert not res.defaulted.any()
    # Unbalanced closed cycle: 0 owes 1 ten, 1 owes 0 five. Greatest: p = (5, 5).
    L = np.array([[0.0, 10.0], [5.0, 0.0]])
    res = eisenberg_noe(sp.coo_matrix(L), np.zeros(2))
    np.testing.assert_allclose(res.payments, [5.0, 5.0], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(res.defaulted, [True, False])


def test_no_defaults_when_external_assets_suffice() -> None:
    rng = np.random.default_rng(1)
    L, _ = random_system(rng, 30, 0.2, 1.0)
    e = L.sum(axis=1) + 0.5  # every node can pay all debts from external assets alone
    res = eisenberg_noe(L, e)
    np.testing.assert_array_equal(res.payments, L.sum(axis=1))
    assert not res.defaulted.any()
    np.testing.assert_array_equal(res.recovery_rate, np.ones(30))
    assert res.iterations == 1
    np.testing.assert_allclose(res.equity, e + L.sum(axis=0) - L.sum(axis=1), atol=1e-12)


def test_empty_and_trivial_systems() -> None:
    res = eisenberg_noe(np.zeros((0, 0)), np.zeros(0))
    assert res.payments.shape == (0,)
    res = eisenberg_noe(np.zeros((3, 3)), np.array([1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(res.payments, np.zeros(3))
    np.testing.assert_array_equal(res.equity, [1.0, 0.0, 2.0])
    np.testing.assert_array_equal(res.recovery_rate, np.ones(3))


def test_result_is_frozen() -> None:
    res = eisenberg_noe(np.array([[0.0, 1.0], [0.0, 0.0]]), np.zeros(2))
    with pytest.raises(AttributeError):
        res.iterations = 5  # type: ignore[misc]
    with pytest.raises(ValueError):
        res.payments[0] = 1.0


# --------------------------------------------------------------------------- random vs brute force


@pytest.mark.parametrize("seed", range(12))
def test_random_against_picard(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 60))
    L, e = random_system(rng, n, float(rng.uniform(0.05, 0.6)), float(rng.uniform(0.5, 20.0)))
    res = eisenberg_noe(L, e)
    np.testing.assert_allclose(res.payments, picard_greatest(L, e), rtol=0, atol=1e-10)
    assert_clearing_properties(L, e, res)


@st.composite
def systems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Small systems with integer-ish liabilities; the last node is a sink that every
    other node owes at least 1, bounding the Picard contraction rate away from 1."""
    n = draw(st.integers(2, 8))
    entries = st.integers(0, 20)
    L = np.array(draw(st.lists(entries, min_size=n * n, max_size=n * n)), dtype=float)
    L = L.reshape(n, n)
    np.fill_diagonal(L, 0.0)
    L[:, -1] = 0.0
    L[-1, :] = 0.0
    L[:-1, -1] = draw(st.lists(st.integers(1, 5), min_size=n - 1, max_size=n - 1))
    e = np.array(
        draw(st.lists(st.floats(0, 40, allow_nan=False), min_size=n, max_size=n)), dtype=float
    )
    return L, e


@settings(max_examples=profile_examples(150), deadline=None)
@given(systems())
def test_property_against_picard(system: tuple[np.ndarray, np.ndarray]) -> None:
    L, e = system
    res = eisenberg_noe(L, e)
    np.testing.assert_allclose(res.payments, picard_greatest(L, e), rtol=0, atol=1e-10)
    assert_clearing_properties(L, e, res)
    res_sparse = eisenberg_noe(sp.csr_array(L), e)
    np.testing.assert_allclose(res_sparse.payments, res.payments, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(res_sparse.defaulted, res.defaulted)


# --------------------------------------------------------------------------- dense vs sparse


@pytest.mark.parametrize(
    "to_sparse",
    [sp.csr_array, sp.csc_array, sp.coo_array, sp.csr_matrix, sp.lil_matrix, sp.dok_array],
    ids=lambda f: f.__name__,
)
def test_dense_and_sparse_agree(to_sparse) -> None:
    rng = np.random.default_rng(42)
    L, e = random_system(rng, 80, 0.08, 3.0)
    dense = eisenberg_noe(L, e)
    sparse = eisenberg_noe(to_sparse(L), e)
    assert dense.defaulted.any()  # the comparison exercises the linear solves
    np.testing.assert_allclose(sparse.payments, dense.payments, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(sparse.defaulted, dense.defaulted)
    np.testing.assert_allclose(sparse.recovery_rate, dense.recovery_rate, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sparse.equity, dense.equity, rtol=0, atol=1e-12)
    assert sparse.iterations == dense.iterations


def test_sparse_large_against_picard() -> None:
    L, e = large_sparse_system(7, 2000, 5, 8.0)
    res = eisenberg_noe(L, e)
    assert res.defaulted.sum() > 10
    np.testing.assert_allclose(res.payments, picard_greatest(L.toarray(), e), rtol=0, atol=1e-10)


def large_sparse_system(seed: int, n: int, k: int, e_scale: float):
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n), k)
    cols = (rows + rng.integers(1, n, rows.size)) % n  # never on the diagonal
    L = sp.coo_array((rng.exponential(10.0, rows.size), (rows, cols)), shape=(n, n)).tocsr()
    return L, rng.exponential(e_scale, n)


def test_sparse_krylov_and_direct_paths_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    # ~2000 nodes, several hundred defaulters: above _DIRECT_MAX, so GMRES is used.
    L, e = large_sparse_system(11, 2000, 5, 6.0)
    krylov = eisenberg_noe(L, e)
    assert krylov.defaulted.sum() > clearing_mod._DIRECT_MAX
    monkeypatch.setattr(clearing_mod, "_DIRECT_MAX", 10**9)  # force spsolve
    direct = eisenberg_noe(L, e)
    np.testing.assert_allclose(krylov.payments, direct.payments, rtol=0, atol=1e-11)
    np.testing.assert_array_equal(krylov.defaulted, direct.defaulted)


@pytest.mark.parametrize("seed", range(6))
def test_forced_krylov_path_against_picard(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clearing_mod, "_DIRECT_MAX", 0)
    rng = np.random.default_rng(100 + seed)
    L, e = random_system(rng, int(rng.integers(5, 80)), 0.15, float(rng.uniform(1.0, 10.0)))
    res = eisenberg_noe(sp.csr_array(L), e)
    assert res.defaulted.any()
    np.testing.assert_allclose(res.payments, picard_greatest(L, e), rtol=0, atol=1e-10)
    assert_clearing_properties(L, e, res)


def test_krylov_failure_falls_back_to_spsolve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clearing_mod, "_DIRECT_MAX", 0)
    monkeypatch.setattr(
        clearing_mod.spla, "gmres", lambda a, b, **kw: (np.zeros_like(b), 1), raising=True
    )
    L, e = random_system(np.random.default_rng(5), 40, 0.15, 3.0)
    res = eisenberg_noe(sp.csr_array(L), e)
    assert res.defaulted.any()
    np.testing.assert_allclose(res.payments, picard_greatest(L, e), rtol=0, atol=1e-10)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("L", "e", "match"),
    [
        (np.zeros((2, 3)), np.zeros(2), "liabilities must be square"),
        (np.zeros(3), np.zeros(3), "liabilities must be two-dimensional"),
        (np.zeros((3, 3)), np.zeros(2), "external_assets has length 2 .* shape mismatch"),
        (np.zeros((3, 3)), np.zeros((3, 1)), "external_assets must be one-dimensional"),
        (np.array([[0.0, -1.0], [0.0, 0.0]]), np.zeros(2), "liabilities must be non-negative"),
        (np.zeros((2, 2)), np.array([1.0, -1.0]), "external_assets must be non-negative"),
        (np.array([[0.0, np.nan], [0.0, 0.0]]), np.zeros(2), "liabilities contains NaN or inf"),
        (np.array([[0.0, np.inf], [0.0, 0.0]]), np.zeros(2), "liabilities contains NaN or inf"),
        (np.zeros((2, 2)), np.array([np.nan, 0.0]), "external_assets contains NaN or inf"),
        (np.zeros((2, 2)), np.array([np.inf, 0.0]), "external_assets contains NaN or inf"),
        (np.array([[1.0, 0.0], [0.0, 0.0]]), np.zeros(2), "liabilities must have a zero diagonal"),
        (sp.csr_array(np.zeros((2, 3))), np.zeros(2), "liabilities must be square"),
        (
            sp.csr_array(np.array([[0.0, -1.0], [0.0, 0.0]])),
            np.zeros(2),
            "liabilities must be non-negative",
        ),
        (
            sp.csr_array(np.array([[0.0, np.nan], [0.0, 0.0]])),
            np.zeros(2),
            "liabilities contains NaN",
        ),
        (
            sp.csr_array(np.array([[2.0, 0.0], [0.0, 0.0]])),
            np.zeros(2),
            "liabilities must have a zero diagonal",
        ),
        (np.array([["a", "b"], ["c", "d"]]), np.zeros(2), "liabilities must be a numeric matrix"),
    ],
)
def test_validation_errors(L, e, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        eisenberg_noe(L, e)


@pytest.mark.parametrize("max_iter", [0, -1, 1.5])
def test_invalid_max_iter(max_iter) -> None:
    with pytest.raises(ValueError, match="max_iter must be a positive integer"):
        eisenberg_noe(np.zeros((2, 2)), np.zeros(2), max_iter=max_iter)


def test_max_iter_too_small_raises() -> None:
    L = np.zeros((4, 4))
    L[0, 1] = L[1, 2] = L[2, 3] = 10.0
    with pytest.raises(RuntimeError, match="did not stabilise within max_iter=2"):
        eisenberg_noe(L, np.array([5.0, 2.0, 2.0, 0.0]), max_iter=2)
