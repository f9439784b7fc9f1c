"""The compiled array view agrees with the normalised tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contagion import System
from contagion.compiled import CompiledSystem
from contagion.schema import BEHAVIOUR_COLUMNS, INSTITUTION_TYPES, REPO_SEGMENTS


@pytest.fixture(scope="module")
def cs(toy: System) -> CompiledSystem:
    return toy.compile()


def test_compile_is_built_once(toy: System, cs: CompiledSystem) -> None:
    assert toy.compile() is cs
    assert (cs.n_institutions, cs.n_exposures) == (11, 13)


def test_node_arrays_equal_table_columns(toy: System, cs: CompiledSystem) -> None:
    inst = toy.institutions
    np.testing.assert_array_equal(cs.ids, inst["id"].to_numpy(dtype=object))
    np.testing.assert_array_equal(cs.names, inst["name"].to_numpy(dtype=object))
    for col in ("cash_usd_bn", "other_assets_usd_bn", "other_liabilities_usd_bn"):
        np.testing.assert_array_equal(getattr(cs, col), inst[col].to_numpy())
    holdings = inst[[f"ust_{b}_par_usd_bn" for b in toy.market.bucket_names]].to_numpy()
    np.testing.assert_array_equal(cs.holdings_par_usd_bn, holdings)
    assert set(cs.behaviour) == set(BEHAVIOUR_COLUMNS)
    for col, values in cs.behaviour.items():
        np.testing.assert_array_equal(values, inst[col].to_numpy())
    types = [INSTITUTION_TYPES[c] for c in cs.type_code]
    assert types == inst["type"].tolist()


def test_edge_arrays_equal_filtered_rows(toy: System, cs: CompiledSystem) -> None:
    exp = toy.exposures
    repo = exp[exp["kind"] == "repo"]
    r = cs.repo
    assert r.ids.tolist() == repo["id"].tolist()
    assert cs.ids[r.lender].tolist() == repo["source"].tolist()
    assert cs.ids[r.borrower].tolist() == repo["target"].tolist()
    for col in ("amount_usd_bn", "haircut_frac", "rate_pct", "tenor_days"):
        np.testing.assert_array_equal(getattr(r, col), repo[col].to_numpy())
    buckets = np.array(cs.market.bucket_names)
    assert buckets[r.bucket].tolist() == repo["collateral_bucket"].tolist()
    assert [REPO_SEGMENTS[s] for s in r.segment] == repo["segment"].tolist()
    fut = exp[exp["kind"] == "futures"]
    f = cs.futures
    assert f.ids.tolist() == fut["id"].tolist()
    assert (
        np.array(cs.market.futures_codes)[f.instrument].tolist() == fut["futures_contract"].tolist()
    )
    np.testing.assert_array_equal(f.notional_usd_bn, fut["notional_usd_bn"].to_numpy())
    np.testing.assert_array_equal(f.initial_margin_usd_bn, fut["initial_margin_usd_bn"])
    swap = exp[exp["kind"] == "swap"]
    assert buckets[cs.swaps.instrument].tolist() == swap["swap_tenor"].tolist()
    assert cs.ids[cs.swaps.source].tolist() == ["hf_gamma", "am_pension"]
    assert len(cs.unsecured.ids) == 0
    for arr in (r.lender, r.bucket, r.segment, f.source, f.instrument, cs.unsecured.debtor):
        assert arr.dtype == np.int64


def test_index_of_and_relabel(cs: CompiledSystem) -> None:
    assert cs.index_of("hf_alpha") == 0
    assert cs.index_of("foreign_official") == 10
    with pytest.raises(KeyError):
        cs.index_of("nobody")
    s = cs.relabel(np.arange(11.0), name="x")
    assert isinstance(s, pd.Series)
    assert (s.name, s.index.name, s["dealer_b"]) == ("x", "institution", 4.0)


def test_repo_matrix_sums(cs: CompiledSystem) -> None:
    m = cs.repo_matrix()
    assert m.shape == (11, 11)
    lent, borrowed = m.sum(axis=1), m.sum(axis=0)
    i = cs.index_of
    # mmf_gov lends 100 + 45 + 20 + 50 = 215; dealer_a borrows 100 and lends 100
    assert lent[i("mmf_gov")] == pytest.approx(215.0)
    assert (borrowed[i("dealer_a")], lent[i("dealer_a")]) == (100.0, 100.0)
    assert m[i("dealer_b"), i("hf_beta")] == 49.0
    # the sponsored trade is two legs: mmf_gov -> ccp_ficc 20 and ccp_ficc -> hf_gamma 20
    assert (borrowed[i("ccp_ficc")], lent[i("ccp_ficc")]) == (20.0, 20.0)
    assert m.sum() == pytest.approx(100 + 49 + 20 + 20 + 100 + 45 + 50)


def test_balance_sheet_matches_table_equity(toy: System, cs: CompiledSystem) -> None:
    assets, liabilities = cs.balance_sheet()
    np.testing.assert_array_equal(assets - liabilities, toy.institutions["equity_usd_bn"])
    np.testing.assert_array_equal(cs.equity(), toy.institutions["equity_usd_bn"])
    # ccp: 7.3 cash; IM held 2 + 0.75 + 2 + 0.75 + 0.4 + 0.4 = 6.3
    assert assets[cs.index_of("ccp")] == pytest.approx(7.3)
    assert liabilities[cs.index_of("ccp")] == pytest.approx(6.3)


def test_type_masks(cs: CompiledSystem) -> None:
    assert cs.ids[cs.mask("hedge_fund")].tolist() == ["hf_alpha", "hf_beta", "hf_gamma"]
    assert cs.ids[cs.mask("central_bank")].tolist() == ["fed"]
    assert cs.mask("sovereign_fund").sum() == 0
    assert sum(cs.mask(t).sum() for t in INSTITUTION_TYPES) == cs.n_institutions


def test_market_arrays(toy: System, cs: CompiledSystem) -> None:
    m = cs.market
    assert m.bucket_names == ("2y", "5y", "10y", "30y")
    np.testing.assert_array_equal(m.futures_bucket, [0, 1, 2, 3])
    np.testing.assert_array_equal(m.swap_rate_pct, [3.8, 3.7, 3.8, 3.9])
    assert m.repo_rate_pct == toy.market.repo_rate_pct
    # collateral par on each repo edge at price 100: amount / (1 - haircut)
    par = cs.repo.collateral_par_usd_bn(m.price)
    assert par[1] == pytest.approx(49 / 0.98)
