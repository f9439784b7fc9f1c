"""System construction from tidy tables: defaults, derived equity, equality, immutability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import row, toy_exposures, toy_institutions, toy_market

from contagion import InputError, System, examples
from contagion.schema import BEHAVIOUR_COLUMNS, INSTITUTION_COLUMNS, holdings_column


def rebuild(toy: System, inst: pd.DataFrame, exp: pd.DataFrame, market=None) -> System:
    return System(
        inst,
        exp,
        toy.market if market is None else market,
        name=toy.name,
        description=toy.description,
        metadata=toy.metadata,
    )


def test_from_tables_equals_bundled(toy: System) -> None:
    inst, exp = toy.to_tables()
    built = rebuild(toy, inst, exp)
    assert built.equals(toy)
    assert System.from_tables(inst, exp, toy.market, name=toy.name).n_exposures == 13
    pd.testing.assert_frame_equal(built.institutions, toy.institutions)
    pd.testing.assert_frame_equal(built.exposures, toy.exposures)


def test_market_given_as_mapping(toy: System) -> None:
    built = rebuild(toy, *toy.to_tables(), market=toy.market.model_dump())
    assert built.equals(toy)


def test_equity_matches_hand_computed_table(toy: System) -> None:
    # examples.py docstring: e.g. hf_alpha 100 + 1 + 2 - 100 = 3; ccp 7.3 - 6.3 = 1.
    expected = examples.TOY_EQUITY_USD_BN
    equity = toy.institutions.set_index("id")["equity_usd_bn"]
    np.testing.assert_allclose(equity[list(expected)], list(expected.values()), atol=1e-12)


def test_equity_derived_when_column_absent(toy: System) -> None:
    inst = toy_institutions().drop(columns="equity_usd_bn")
    built = rebuild(toy, inst, toy_exposures())
    assert built.equals(toy)


def test_defaults_filled_per_type(toy: System) -> None:
    inst = toy.institutions.set_index("id")
    # Absent behavioural columns take the documented per-type defaults.
    assert inst.loc["hf_alpha", "max_leverage_ratio"] == 100.0
    assert inst.loc["am_pension", "max_leverage_ratio"] == 3.0
    assert inst.loc["dealer_a", "leverage_ratio_min_frac"] == 0.05
    assert inst.loc["mmf_gov", "lender_max_borrower_loss_frac"] == 0.4
    assert inst.loc["fed", "leverage_ratio_min_frac"] == 0.0
    assert inst.loc["fed", holdings_column("2y")] == 0.0
    schema = [c.name for c in INSTITUTION_COLUMNS]
    assert list(toy.institutions.columns[: len(schema)]) == schema
    behaviour = [c for c in schema if c in BEHAVIOUR_COLUMNS]
    assert behaviour == schema[8:]  # after id, name, type, strategy, fund_id and the balances
    assert (toy.institutions["strategy"] == "").all()
    assert (toy.institutions["fund_id"] == toy.institutions["id"]).all()


def test_blank_behaviour_cell_takes_type_default_and_blank_name_takes_id(toy: System) -> None:
    inst = toy_institutions()
    inst["max_leverage_ratio"] = np.nan
    inst.loc[row(inst, "hf_beta"), "max_leverage_ratio"] = 40.0
    inst["name"] = ""
    out = rebuild(toy, inst, toy_exposures()).institutions.set_index("id")
    assert out.loc["hf_alpha", "max_leverage_ratio"] == 100.0
    assert out.loc["hf_beta", "max_leverage_ratio"] == 40.0
    assert out.loc["dealer_a", "max_leverage_ratio"] == 1000.0
    assert out.loc["hf_alpha", "name"] == "hf_alpha"


def test_exposure_defaults_and_neutral_fields(toy: System) -> None:
    exp = toy.exposures.set_index("id")
    assert exp.loc["repo_alpha", "rate_pct"] == 4.3  # blank rate = market repo rate
    assert exp.loc["on_rrp", "rate_pct"] == 4.25
    assert exp.loc["repo_alpha", "tenor_days"] == 1.0
    fut = exp.loc["fut_alpha_ty"]
    assert (fut["amount_usd_bn"], fut["collateral_bucket"], fut["segment"]) == (0.0, "", "")
    assert exp.loc["repo_alpha", "futures_contract"] == ""


def test_exposure_ids_generated_when_absent(toy: System) -> None:
    exp = toy_exposures().drop(columns="id")
    ids = rebuild(toy, toy_institutions(), exp).exposures["id"]
    assert ids.iloc[0] == "repo-0"
    assert ids.iloc[7] == "futures-7"
    assert ids.iloc[12] == "swap-12"


def test_inputs_not_mutated_and_tables_are_copies(toy: System) -> None:
    inst, exp = toy_institutions(), toy_exposures()
    inst_before, exp_before = inst.copy(), exp.copy()
    built = rebuild(toy, inst, exp)
    pd.testing.assert_frame_equal(inst, inst_before)
    pd.testing.assert_frame_equal(exp, exp_before)
    view = built.institutions
    view.loc[0, "cash_usd_bn"] = 999.0
    assert built.institutions.loc[0, "cash_usd_bn"] == 1.0
    assert built.equals(toy)


def test_equals_detects_differences(toy: System) -> None:
    inst, exp = toy.to_tables()
    meta = {"name": toy.name, "description": toy.description, "metadata": toy.metadata}
    assert not toy.equals(System(inst, exp, toy.market, **{**meta, "name": "x"}))
    assert not toy.equals(System(inst, exp, toy.market, **{**meta, "metadata": {"a": 1}}))
    exp2 = exp.copy()
    exp2.loc[row(exp2, "repo_alpha"), "rate_pct"] = 4.31
    assert not toy.equals(rebuild(toy, inst, exp2))
    assert not toy.equals(toy.institutions)


def test_no_exposures_is_valid() -> None:
    inst = pd.DataFrame({"id": ["a", "b"], "type": ["dealer", "other"], "cash_usd_bn": [1, 2]})
    exp = pd.DataFrame(columns=["kind", "source", "target"])
    s = System(inst, exp, toy_market())
    assert (s.n_institutions, s.n_exposures) == (2, 0)
    assert s.institutions["equity_usd_bn"].tolist() == [1.0, 2.0]


def test_repr_counts_sectors(toy: System) -> None:
    text = repr(toy)
    assert "11 institutions" in text
    assert "3 hedge_fund" in text
    assert "13 exposures" in text


def test_summary_is_sector_aggregates(toy: System) -> None:
    assert toy.summary().loc["hedge_fund", "n_institutions"] == 3


@pytest.mark.parametrize("bad", [None, [1, 2], "institutions.csv"])
def test_tables_must_be_dataframes(bad) -> None:
    with pytest.raises(InputError, match="must be a pandas DataFrame") as info:
        System(bad, toy_exposures(), toy_market())
    assert info.value.problems[0].field == "institutions"
