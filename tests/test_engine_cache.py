"""The engine's speed-ups compute exactly what the plain formulas do (same floats)."""

from __future__ import annotations

import numpy as np
import pytest

import contagion as c
from contagion import examples, ledger, scenarios, topology
from contagion.engine import Simulation
from contagion.ledger import Ledger
from contagion.mechanisms import prices
from contagion.policies import QEConfig, StandingRepoConfig
from contagion.sums import rowdot, zeroed
from contagion.synthetic import counts_for, generate_system


@pytest.mark.parametrize("n", [5, 30_000])
@pytest.mark.parametrize("layout", ["sorted", "two_runs", "scattered"])
def test_incidence_sums_are_bincount(n, layout):
    rng = np.random.default_rng(7)
    k = 3 * n
    idx = rng.integers(0, n, k)
    if layout == "sorted":
        idx = np.sort(idx)
    elif layout == "two_runs":
        idx = np.concatenate([np.sort(idx[: k // 2]), np.sort(idx[k // 2 :])])
    inc = topology.Incidence(idx, n)
    x = rng.normal(size=k)
    assert np.array_equal(inc @ x, np.bincount(idx, x, minlength=n))  # same order of sums
    assert np.array_equal(inc @ np.zeros(k), np.zeros(n))
    assert np.array_equal(inc @ (x > 0), np.bincount(idx, (x > 0).astype(float), minlength=n))
    with pytest.raises(ValueError):
        inc @ np.ones(k + 1)


@pytest.mark.parametrize("columns", range(10))
@pytest.mark.parametrize("order", ["C", "F"])
def test_rowdot_is_the_reduction(columns, order):
    """Bit for bit ``np.add.reduce(matrix * vector, axis=1)``, signed zeros, infinities
    and NaN included."""
    rng = np.random.default_rng(columns)
    for n in (0, 1, 5, 1_000):
        m = rng.normal(size=(n, columns)) * 10.0 ** rng.integers(-8, 8, (n, columns))
        for value, share in ((-0.0, 0.2), (0.0, 0.1), (np.inf, 0.01), (-np.inf, 0.01)):
            m[rng.random((n, columns)) < share] = value
        m[rng.random((n, columns)) < 0.01] = np.nan
        m = np.asarray(m, order=order)
        v = rng.normal(size=columns)
        v[1:2] = -0.0
        with np.errstate(invalid="ignore"):
            want, got = np.add.reduce(m * v, axis=1), rowdot(m, v)
        assert got.shape == want.shape
        assert np.array_equal(got.view(np.int64), want.view(np.int64))


@pytest.mark.parametrize("share", [0.0, 0.01, 0.5, 1.0])
def test_zeroed_is_the_select(share):
    """``zeroed(x, mask)`` is bit for bit ``np.where(mask, 0.0, x)`` (signed zeros,
    infinities and NaN under and outside the mask), in place on ``x``."""
    rng = np.random.default_rng(7)
    for n in (0, 1, 2_710):
        x = rng.normal(size=n)
        for value, p in ((-0.0, 0.2), (np.inf, 0.05), (-np.inf, 0.05), (np.nan, 0.05)):
            x[rng.random(n) < p] = value
        mask = rng.random(n) < share
        want = np.where(mask, 0.0, x)
        got = zeroed(x, mask)
        assert got is x
        assert np.array_equal(got.view(np.int64), want.view(np.int64))


def test_price_curve_is_price_from_yield():
    d = np.array([1.9, 4.5, 8.0, 17.0, 3.0])
    cvx = np.array([0.05, 0.3, 0.8, 4.0, 0.0])
    p0 = np.array([99.0, 100.0, 101.5, 98.0, 100.0])
    curve = prices.PriceCurve(p0, d, cvx)
    for dy in (np.zeros(5), np.full(5, 35.0), np.array([-500.0, 3e3, 1e5, 2.5e4, 1e7])):
        assert np.array_equal(curve(dy), prices.price_from_yield(p0, d, cvx, dy))


def _checked_sums(monkeypatch) -> list[int]:
    """Make every cached sum over edges compare itself with a fresh one."""
    seen = [0]
    plain = Ledger.edge_sum

    def checked(self, key):
        out = plain(self, key)
        cache, self._cache = self._cache, {}
        try:
            fresh = plain(self, key)
        finally:
            self._cache = cache
        assert np.array_equal(out, fresh), f"stale cached sum {key!r} on day {self.s.day}"
        seen[0] += 1
        return out

    monkeypatch.setattr(Ledger, "edge_sum", checked)
    return seen


@pytest.mark.parametrize(
    "policies",
    [
        [],
        [QEConfig(name="qe", reactive_share=0.5, budget_usd_bn=500)],
        [StandingRepoConfig(name="srf", aggregate_limit_usd_bn=500)],
    ],
    ids=["no_action", "qe", "srf"],
)
def test_cached_balance_sheets_are_fresh(monkeypatch, policies):
    seen = _checked_sums(monkeypatch)
    res = c.simulate(examples.stylised_us_2025(), scenarios.load("basis_unwind"), policies)
    assert seen[0] > 100
    assert len(res.markets) == 21


def test_cached_balance_sheets_are_fresh_through_defaults(monkeypatch):
    seen = _checked_sums(monkeypatch)
    system = generate_system(seed=12345, exposures_per_fund=12, **counts_for(1000))
    res = c.simulate(system, scenarios.load("basis_unwind"))
    assert res.summary["defaults_count"] > 0  # resolution and clearing ran
    assert seen[0] > 100


def test_sparse_pay_and_settle_match_whole_arrays(monkeypatch):
    # large systems pay and repay only on the active edges; force that path on a small one
    system = generate_system(seed=12345, exposures_per_fund=12, **counts_for(1000))
    sc = scenarios.load("basis_unwind")
    whole = c.simulate(system, sc)
    monkeypatch.setattr(ledger, "SPARSE_MIN_EDGES", 0)
    assert c.simulate(system, sc).equals(whole)


def test_topology_shared_by_the_runs_of_a_system():
    """Runs of one compiled system share its topology (built once, not on pickling) unless
    a policy opens facility edges; a shared one gives the same run as a fresh one."""
    import pickle

    system = examples.stylised_us_2025()
    sc = scenarios.load("basis_unwind")
    cs = system.compile()
    first, second = Simulation(system, sc), Simulation(system, sc)
    assert first.ctx.topo is second.ctx.topo is cs.topology
    srf = Simulation(system, sc, [StandingRepoConfig()])
    assert srf.ctx.topo is not cs.topology and len(srf.ctx.topo.repo.ids) > len(cs.repo.ids)
    assert "topology" not in pickle.loads(pickle.dumps(cs)).__dict__
    other = examples.stylised_us_2025()  # a new system: its first run builds the topology
    assert other.compile() is not cs
    fresh = c.simulate(other, sc)
    c.simulate(system, scenarios.load("volatility_spike"))  # a whole other run on it first
    c.simulate(system, sc)
    shared = c.simulate(system, sc)  # on the topology the runs above used
    assert shared.summary == fresh.summary
    assert shared.markets.equals(fresh.markets) and shared.institutions.equals(fresh.institutions)


@pytest.mark.parametrize("system_name", ["stylised", "calibrated"])
def test_dealers_dv01_is_net_dv01_of_the_dealers(system_name):
    """The dealers' rooms read their DV01 from their own books only: the same bits as the
    rows of every institution's (checked on each day of a run)."""
    from contagion.mechanisms import dealers

    if system_name == "stylised":
        system, sc = examples.stylised_us_2025(), scenarios.load("basis_unwind")
    else:
        system = examples.calibrated_us_2025()
        sc = scenarios.load("basis_unwind").with_params(**examples.model_params(system))
    sim = Simulation(system, sc)
    s, topo = sim.state, sim.ctx.topo
    assert len(topo.dealers) and len(topo.dealer_margined[0])
    for _ in range(5):
        sim.run_day()
        mine = dealers.dealers_dv01(s, topo)
        assert np.array_equal(
            mine.view(np.int64), dealers.net_dv01(s, topo)[topo.dealers].view(np.int64)
        )
