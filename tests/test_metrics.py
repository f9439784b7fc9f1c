"""Tests for contagion.metrics (original DebtRank; the loss-spiral gain)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from contagion.metrics import DebtRankResult, debtrank


def random_network(rng: np.random.Generator, n: int, density: float):
    mask = rng.random((n, n)) < density
    np.fill_diagonal(mask, False)
    A = np.where(mask, rng.exponential(5.0, (n, n)), 0.0)
    capital = rng.uniform(2.0, 20.0, n)
    return A, capital


def test_three_node_chain_by_hand() -> None:
    # Exposures: bank 0 holds 5 of bank 1's debt, capital 10 -> W[0, 1] = 0.5;
    # bank 1 holds 20 of bank 2's debt, capital 10 -> W[1, 2] = min(1, 2) = 1.
    # h(0) = (0, 0, 1): bank 2 defaults; states (U, U, D).
    # t=1: h1 = min(1, 0 + W[1,2] h2) = 1; states (U, D, I).
    # t=2: h0 = W[0,1] h1 = 0.5; states (D, I, I).
    # t=3: bank 0 has no borrowers in the network; states (I, I, I) -> stop, T = 3.
    # v = capital / sum = (10, 10, 20) / 40 = (0.25, 0.25, 0.5);
    # R = 0.25*0.5 + 0.25*1 + 0.5*1 - 0.5*1 = 0.375.
    A = np.array([[0.0, 5.0, 0.0], [0.0, 0.0, 20.0], [0.0, 0.0, 0.0]])
    res = debtrank(A, [10.0, 10.0, 20.0], [0.0, 0.0, 1.0])
    assert isinstance(res, DebtRankResult)
    np.testing.assert_allclose(res.h, [0.5, 1.0, 1.0], rtol=0, atol=1e-15)
    assert res.debtrank == pytest.approx(0.375, abs=1e-15)
    assert res.rounds == 3
    assert res.converged


def test_two_node_cycle_no_reverberation() -> None:
    # Mutual exposures 5 with capital 10 each: W = [[0, .5], [.5, 0]]. h(0) = (0.4, 0).
    # t=1: h1 = 0.5 * 0.4 = 0.2; node 0 -> Inactive, node 1 -> Distressed.
    # t=2: h0 = 0.4 + 0.5 * 0.2 = 0.5 (an Inactive node still absorbs distress);
    #      node 1 -> Inactive. No Distressed node left: T = 2. The distress 0.1 that
    #      node 0 absorbs at t=2 is not sent back around the cycle.
    # v = (0.5, 0.5): R = 0.5*(0.5 + 0.2) - 0.5*0.4 = 0.15.
    A = np.array([[0.0, 5.0], [5.0, 0.0]])
    res = debtrank(A, [10.0, 10.0], [0.4, 0.0])
    np.testing.assert_allclose(res.h, [0.5, 0.2], rtol=0, atol=1e-15)
    assert res.debtrank == pytest.approx(0.15, abs=1e-15)
    assert res.rounds == 2


def test_value_weights_are_normalised() -> None:
    A = np.array([[0.0, 5.0, 0.0], [0.0, 0.0, 20.0], [0.0, 0.0, 0.0]])
    # v = (2, 1, 1) / 4: R = 0.5*0.5 + 0.25*1 = 0.5.
    res = debtrank(A, [10.0, 10.0, 20.0], [0.0, 0.0, 1.0], value_weights=[2.0, 1.0, 1.0])
    assert res.debtrank == pytest.approx(0.5, abs=1e-15)


def test_no_initial_distress_gives_zero() -> None:
    A, capital = random_network(np.random.default_rng(0), 40, 0.2)
    res = debtrank(A, capital, np.zeros(40))
    np.testing.assert_array_equal(res.h, np.zeros(40))
    assert res.debtrank == 0.0
    assert res.rounds == 0
    assert res.converged


def test_isolated_node_does_not_propagate() -> None:
    rng = np.random.default_rng(1)
    A, capital = random_network(rng, 30, 0.3)
    A[:, 7] = 0.0  # nobody is exposed to node 7
    h0 = np.zeros(30)
    h0[7] = 1.0
    res = debtrank(A, capital, h0)
    np.testing.assert_array_equal(res.h, h0)
    assert res.debtrank == 0.0
    assert res.rounds == 1


def test_full_propagation_bounds() -> None:
    rng = np.random.default_rng(2)
    A, capital = random_network(rng, 50, 0.15)
    h0 = np.zeros(50)
    h0[:3] = rng.uniform(0.2, 1.0, 3)
    res = debtrank(A, capital, h0)
    assert np.all((res.h >= h0) & (res.h <= 1.0))
    assert 0.0 <= res.debtrank <= 1.0
    assert res.rounds <= 50
    assert res.converged


@pytest.mark.parametrize("seed", range(8))
def test_monotone_in_initial_distress_on_fixed_support(seed: int) -> None:
    rng = np.random.default_rng(seed)
    A, capital = random_network(rng, 40, 0.15)
    support = rng.random(40) < 0.1
    support[0] = True
    h_low = np.where(support, rng.uniform(0.01, 0.5, 40), 0.0)
    h_high = np.where(support, np.minimum(1.0, h_low + rng.uniform(0.0, 0.5, 40)), 0.0)
    low = debtrank(A, capital, h_low)
    high = debtrank(A, capital, h_high)
    assert np.all(high.h >= low.h - 1e-15)
    # The total value-weighted distress is monotone too.
    v = capital / capital.sum()
    assert v @ high.h >= v @ low.h - 1e-15


def test_not_monotone_when_support_grows() -> None:
    # Known property of the original DebtRank (motivating differential DebtRank):
    # node a is exposed-upon by j (W[j, a] = 1), c is exposed to j (W[c, j] = 1).
    # h(0) = (1, 0, 0): j gets 1 at t=1, passes 1 to c at t=2 -> h_c = 1.
    # h(0) = (1, eps, 0): j passes only eps at t=1, then is Inactive -> h_c = eps.
    A = np.zeros((3, 3))
    A[1, 0] = 10.0  # j (1) exposed to a (0)
    A[2, 1] = 10.0  # c (2) exposed to j (1)
    capital = np.full(3, 10.0)
    assert debtrank(A, capital, [1.0, 0.0, 0.0]).h[2] == 1.0
    assert debtrank(A, capital, [1.0, 0.01, 0.0]).h[2] == pytest.approx(0.01)


def test_max_rounds_truncates() -> None:
    A = np.array([[0.0, 5.0, 0.0], [0.0, 0.0, 20.0], [0.0, 0.0, 0.0]])
    res = debtrank(A, [10.0, 10.0, 20.0], [0.0, 0.0, 1.0], max_rounds=1)
    np.testing.assert_allclose(res.h, [0.0, 1.0, 1.0])
    assert res.rounds == 1
    assert not res.converged


@pytest.mark.parametrize(
    "to_sparse", [sp.csr_array, sp.csc_array, sp.coo_matrix, sp.lil_array], ids=lambda f: f.__name__
)
def test_sparse_equals_dense(to_sparse) -> None:
    rng = np.random.default_rng(3)
    A, capital = random_network(rng, 60, 0.1)
    h0 = np.where(rng.random(60) < 0.1, rng.uniform(0.1, 1.0, 60), 0.0)
    dense = debtrank(A, capital, h0)
    sparse = debtrank(to_sparse(A), capital, h0)
    np.testing.assert_allclose(sparse.h, dense.h, rtol=0, atol=1e-14)
    assert sparse.debtrank == pytest.approx(dense.debtrank, abs=1e-14)
    assert sparse.rounds == dense.rounds


def test_inputs_not_mutated() -> None:
    A = sp.csr_array(np.array([[0.0, 50.0], [5.0, 0.0]]))
    data = A.data.copy()
    h0 = np.array([1.0, 0.0])
    debtrank(A, np.array([10.0, 10.0]), h0)
    np.testing.assert_array_equal(A.data, data)
    np.testing.assert_array_equal(h0, [1.0, 0.0])


@pytest.mark.parametrize(
    ("A", "capital", "h0", "kwargs", "match"),
    [
        (np.zeros((2, 3)), [1, 1], [0, 0], {}, "exposures must be square"),
        (np.array([[0.0, -1.0], [0.0, 0.0]]), [1, 1], [0, 0], {}, "exposures must be non-neg"),
        (np.array([[0.0, np.nan], [0.0, 0.0]]), [1, 1], [0, 0], {}, "exposures contains NaN"),
        (np.array([[1.0, 0.0], [0.0, 0.0]]), [1, 1], [0, 0], {}, "exposures must have a zero"),
        (np.zeros((2, 2)), [1, 1, 1], [0, 0], {}, "capital has length 3 .* shape mismatch"),
        (np.zeros((2, 2)), [1, 0], [0, 0], {}, "capital must be strictly positive"),
        (np.zeros((2, 2)), [1, -2], [0, 0], {}, "capital must be strictly positive"),
        (np.zeros((2, 2)), [1, np.inf], [0, 0], {}, "capital contains NaN or inf"),
        (np.zeros((2, 2)), [1, 1], [0], {}, "initial_distress has length 1"),
        (np.zeros((2, 2)), [1, 1], [0, 1.5], {}, r"initial_distress must lie in \[0, 1\]"),
        (np.zeros((2, 2)), [1, 1], [-0.1, 0], {}, r"initial_distress must lie in \[0, 1\]"),
        (np.zeros((2, 2)), [1, 1], [np.nan, 0], {}, "initial_distress contains NaN"),
        (np.zeros((2, 2)), [1, 1], [0, 0], {"value_weights": [1, -1]}, "value_weights must be"),
        (np.zeros((2, 2)), [1, 1], [0, 0], {"value_weights": [0, 0]}, "positive sum"),
        (np.zeros((2, 2)), [1, 1], [0, 0], {"value_weights": [1]}, "value_weights has length"),
        (np.zeros((2, 2)), [1, 1], [0, 0], {"max_rounds": -1}, "max_rounds must be"),
        (sp.csr_array(np.zeros((2, 3))), [1, 1], [0, 0], {}, "exposures must be square"),
    ],
)
def test_validation_errors(A, capital, h0, kwargs, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        debtrank(A, capital, h0, **kwargs)


# --- loss-spiral gain --------------------------------------------------------------------------
def test_spiral_gain_closed_forms() -> None:
    from contagion.metrics import spiral_gain

    m = np.array([2.0, 4.0])
    # one fund at 5x, 0.1 USD bn per bp in bucket 0 only: (5 - 1) x 0.1 x 2 = 0.8
    one = spiral_gain(np.array([5.0]), np.array([[0.1, 0.0]]), np.array([[1.0, 0.0]]), m)
    assert one == pytest.approx(0.8, abs=1e-12)
    # two such funds in the same bucket feed each other: the gains add
    two = spiral_gain(
        np.array([5.0, 3.0]),
        np.array([[0.1, 0.0], [0.1, 0.0]]),
        np.array([[1.0, 0.0], [1.0, 0.0]]),
        m,
    )
    assert two == pytest.approx(0.8 + 2 * 0.1 * 2.0, abs=1e-12)
    # in separate buckets they do not: the larger own gain (bucket 1: 2 x 0.1 x 4 = 0.8)
    apart = spiral_gain(
        np.array([5.0, 3.0]),
        np.array([[0.1, 0.0], [0.0, 0.1]]),
        np.array([[1.0, 0.0], [0.0, 1.0]]),
        m,
    )
    assert apart == pytest.approx(0.8, abs=1e-12)
    # an unlevered holder (L = 1) and a holder that sells nothing add nothing
    assert spiral_gain(np.array([1.0]), np.array([[0.1, 0.1]]), np.array([[0.5, 0.5]]), m) == 0
    assert spiral_gain(np.array([9.0]), np.array([[0.1, 0.1]]), np.zeros((1, 2)), m) == 0


@pytest.fixture(scope="module")
def calibrated():
    import contagion as c

    system = c.examples.calibrated_us_2025()
    scenario = c.scenarios.load("basis_unwind").with_params(**c.examples.model_params(system))
    return system, scenario


def test_loss_spiral_gain_falls_with_outside_demand(calibrated) -> None:
    from contagion.metrics import loss_spiral_gain

    system, scenario = calibrated
    p = scenario.params
    gains = [
        loss_spiral_gain(system, p.model_copy(update={"outside_demand_usd_bn_per_bp": b})).gain
        for b in (0.3, 0.8, 2.0, 5.0)
    ]
    assert all(a > b > 0 for a, b in itertools.pairwise(gains))
    # transient impact only, dealers' k huge: m_b -> 1 / beta, so gain x beta is constant
    flat = p.model_copy(
        update={"impact_permanent_bp_per_usd_bn": 0.0, "impact_bp_per_usd_bn": 10.0}
    )
    g1 = loss_spiral_gain(system, flat.model_copy(update={"outside_demand_usd_bn_per_bp": 1.0}))
    g4 = loss_spiral_gain(system, flat.model_copy(update={"outside_demand_usd_bn_per_bp": 4.0}))
    assert g4.gain * 4.0 == pytest.approx(g1.gain, rel=0.02)
    assert loss_spiral_gain(system, p, types=()).gain == 0.0
    table = loss_spiral_gain(system, p).by_institution
    assert set(table["type"]) == {"hedge_fund"} and (table["leverage_ratio"] >= 0).all()


def test_loss_spiral_gain_tells_where_the_stress_runs_to_the_bound(calibrated) -> None:
    """The gain is a start-of-stress measure, yet it predicts the main job's cliff in
    outside demand: well above 1 the no-action arm reaches the impact bound, well below 1
    it does not (benchmarks/KNIFE_EDGE.md has the whole scan)."""
    import contagion as c
    from contagion.metrics import loss_spiral_gain

    system, scenario = calibrated
    for beta, explodes in ((0.4, True), (1.5, False)):
        sc = scenario.with_params(outside_demand_usd_bn_per_bp=beta)
        gain = loss_spiral_gain(system, sc.params).gain
        hit = c.simulate_summary(system, sc)["impact_bound_hit_days"] > 0
        assert (gain > 1.1) == explodes and hit == explodes, (beta, gain, hit)
