"""Every validation error names the field and the row / institution / exposure id."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from conftest import row, toy_exposures, toy_institutions, toy_market

from contagion import InputError, System
from contagion.errors import InputWarning


def build(inst: pd.DataFrame | None = None, exp: pd.DataFrame | None = None, market=None):
    return System(
        toy_institutions() if inst is None else inst,
        toy_exposures() if exp is None else exp,
        toy_market() if market is None else market,
    )


def exp_with(id_: str, **fields) -> pd.DataFrame:
    exp = toy_exposures().astype({k: object for k in fields})
    for k, v in fields.items():
        exp.loc[row(exp, id_), k] = v
    return exp


def inst_with(id_: str, **fields) -> pd.DataFrame:
    inst = toy_institutions().astype({k: object for k in fields})
    for k, v in fields.items():
        inst.loc[row(inst, id_), k] = v
    return inst


def check(err: pytest.ExceptionInfo, field: str) -> None:
    assert err.value.problems[0].field == field
    assert err.value.field == field


# --- exposures -------------------------------------------------------------------------------
def test_unknown_institution_in_exposure() -> None:
    with pytest.raises(
        InputError, match=r"row 0 \(id 'repo_alpha'\), field 'target': unknown institution 'hf_x'"
    ) as err:
        build(exp=exp_with("repo_alpha", target="hf_x"))
    check(err, "target")


def test_negative_amount() -> None:
    with pytest.raises(InputError, match=r"id 'repo_beta'.*'amount_usd_bn': must be >= 0") as err:
        build(exp=exp_with("repo_beta", amount_usd_bn=-5.0))
    check(err, "amount_usd_bn")


def test_negative_initial_margin() -> None:
    with pytest.raises(InputError, match=r"id 'fut_am_ty'.*'initial_margin_usd_bn'") as err:
        build(exp=exp_with("fut_am_ty", initial_margin_usd_bn=-1.0))
    check(err, "initial_margin_usd_bn")


@pytest.mark.parametrize(("haircut", "rule"), [(1.0, "must be < 1.0"), (-0.1, "must be >= 0.0")])
def test_haircut_outside_unit_interval(haircut: float, rule: str) -> None:
    with pytest.raises(InputError, match=rf"id 'repo_beta'.*'haircut_frac': {rule}") as err:
        build(exp=exp_with("repo_beta", haircut_frac=haircut))
    check(err, "haircut_frac")


def test_hedge_fund_repo_exceeds_collateral_value_at_haircut() -> None:
    # hf_beta holds 50 of 5y at 100; borrowing 49 at a 3% haircut needs 49 / 0.97 = 50.52.
    with pytest.raises(
        InputError, match=r"institution 'hf_beta', field 'ust_5y_par_usd_bn'.*50\.51"
    ) as err:
        build(exp=exp_with("repo_beta", haircut_frac=0.03))
    check(err, "ust_5y_par_usd_bn")


def test_repo_exactly_at_collateral_capacity_passes() -> None:
    # 49 at a 2% haircut needs 49 / 0.98 = 50 = hf_beta's 5y holdings: allowed.
    assert build().n_exposures == 13


@pytest.mark.parametrize(
    ("id_", "field", "value"),
    [
        ("repo_alpha", "collateral_bucket", "7y"),
        ("fut_alpha_ty", "futures_contract", "ZZ"),
        ("swap_gamma", "swap_tenor", "50y"),
        ("repo_alpha", "segment", "dark_pool"),
        ("repo_alpha", "kind", "cds"),
    ],
)
def test_unknown_category_value(id_: str, field: str, value: str) -> None:
    with pytest.raises(
        InputError, match=rf"id '{id_}'\), field '{field}': unknown \w+ '{value}'; allowed: "
    ) as err:
        build(exp=exp_with(id_, **{field: value}))
    check(err, field)


def test_missing_required_category_value() -> None:
    with pytest.raises(InputError, match=r"id 'fut_beta_fv'.*required for futures") as err:
        build(exp=exp_with("fut_beta_fv", futures_contract=""))
    check(err, "futures_contract")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nonfinite_amount(value: float) -> None:
    with pytest.raises(
        InputError, match=r"id 'repo_gamma'\), field 'amount_usd_bn': must be a finite number"
    ) as err:
        build(exp=exp_with("repo_gamma", amount_usd_bn=value))
    check(err, "amount_usd_bn")


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nonfinite_institution_amount(value: float) -> None:
    with pytest.raises(InputError, match=r"id 'dealer_b'\), field 'cash_usd_bn': .*finite") as e:
        build(inst=inst_with("dealer_b", cash_usd_bn=value))
    check(e, "cash_usd_bn")


def test_duplicate_exposure_ids() -> None:
    with pytest.raises(
        InputError, match=r"row 1 \(id 'repo_alpha'\), field 'id': duplicate id \(also in row 0\)"
    ) as err:
        build(exp=exp_with("repo_beta", id="repo_alpha"))
    check(err, "id")


def test_futures_target_not_a_ccp() -> None:
    with pytest.raises(
        InputError, match=r"id 'fut_alpha_ty'\), field 'target': .*must be a ccp, got a dealer"
    ) as err:
        build(exp=exp_with("fut_alpha_ty", target="dealer_a"))
    check(err, "target")


def test_zero_futures_notional() -> None:
    with pytest.raises(InputError, match=r"id 'fut_am_fv'.*must be non-zero") as err:
        build(exp=exp_with("fut_am_fv", notional_usd_bn=0.0))
    check(err, "notional_usd_bn")


def test_self_exposure() -> None:
    with pytest.raises(InputError, match=r"id 'repo_alpha'.*cannot link an institution") as err:
        build(exp=exp_with("repo_alpha", source="hf_alpha"))
    check(err, "target")


# --- institutions ----------------------------------------------------------------------------
def test_unknown_type() -> None:
    with pytest.raises(InputError, match=r"id 'ccp'\), field 'type': unknown type 'bank'") as e:
        build(inst=inst_with("ccp", type="bank"))
    check(e, "type")


def test_negative_cash() -> None:
    with pytest.raises(InputError, match=r"row 0 \(id 'hf_alpha'\), field 'cash_usd_bn'") as e:
        build(inst=inst_with("hf_alpha", cash_usd_bn=-1.0))
    check(e, "cash_usd_bn")


def test_duplicate_institution_ids() -> None:
    with pytest.raises(
        InputError, match=r"row 1 \(id 'hf_alpha'\), field 'id': duplicate id \(also in row 0\)"
    ) as err:
        build(inst=inst_with("hf_beta", id="hf_alpha"))
    check(err, "id")


def test_balance_sheet_does_not_balance() -> None:
    # hf_alpha: 103 - 100 = 3, not 3.5; 2e-6 is beyond the tolerance 1e-6 + 1e-9 x 103.
    for given in (3.5, 3.0 + 2e-6):
        with pytest.raises(
            InputError, match=r"institution 'hf_alpha', field 'equity_usd_bn': .*does not balance"
        ) as err:
            build(inst=inst_with("hf_alpha", equity_usd_bn=given))
        check(err, "equity_usd_bn")


def test_balance_sheet_within_tolerance_passes() -> None:
    s = build(inst=inst_with("hf_alpha", equity_usd_bn=3.0 + 5e-7))
    assert s.institutions.loc[0, "equity_usd_bn"] == pytest.approx(3.0, abs=1e-12)


def test_starting_insolvent() -> None:
    inst = inst_with("dealer_b", other_liabilities_usd_bn=70.0, equity_usd_bn=np.nan)
    # dealer_b: assets 109, liabilities 45 + 70 = 115 -> equity -6.
    with pytest.raises(
        InputError, match=r"institution 'dealer_b', field 'equity_usd_bn': starts insolvent"
    ) as err:
        build(inst=inst)
    check(err, "equity_usd_bn")


def test_central_bank_may_have_negative_equity() -> None:
    s = build(inst=inst_with("fed", other_liabilities_usd_bn=260.0, equity_usd_bn=-10.0))
    assert s.institutions.set_index("id").loc["fed", "equity_usd_bn"] == pytest.approx(-10.0)


def test_holdings_above_outstanding() -> None:
    # 30y outstanding 2000; held 20 + 50 + 2000 = 2070.
    inst = inst_with("foreign_official", ust_30y_par_usd_bn=2000.0, equity_usd_bn=np.nan)
    with pytest.raises(
        InputError, match=r"market bucket '30y', field 'outstanding_usd_bn': .*2070"
    ) as err:
        build(inst=inst)
    check(err, "outstanding_usd_bn")


def test_non_numeric_string_in_numeric_column() -> None:
    with pytest.raises(
        InputError, match=r"id 'mmf_gov'\), field 'cash_usd_bn': must be a number, got 'lots'"
    ) as err:
        build(inst=inst_with("mmf_gov", cash_usd_bn="lots"))
    check(err, "cash_usd_bn")
    with pytest.raises(InputError, match=r"id 'repo_gamma'.*got 'ten'") as err:
        build(exp=exp_with("repo_gamma", amount_usd_bn="ten"))
    check(err, "amount_usd_bn")


def test_numeric_strings_are_accepted() -> None:
    assert build(inst=inst_with("mmf_gov", cash_usd_bn="30")).equals(build())


# --- columns ---------------------------------------------------------------------------------
def test_unknown_columns_are_kept_with_a_warning() -> None:
    inst = toy_institutions().assign(lei=[f"LEI{i}" for i in range(len(toy_institutions()))])
    with pytest.warns(InputWarning, match=r"institutions: unknown column 'lei' kept as given"):
        s = build(inst=inst)
    assert s.institutions["lei"].tolist() == inst["lei"].tolist()
    assert s.compile() is not None
    with pytest.warns(InputWarning, match=r"exposures: unknown column 'ust_5y_par_usd_bn'"):
        s = build(exp=toy_exposures().assign(ust_5y_par_usd_bn=1.0))
    assert (s.exposures["ust_5y_par_usd_bn"] == 1.0).all()


def test_an_unknown_column_hides_no_other_problem() -> None:
    """Problems of both tables come together; an extra column is only a warning."""
    inst = inst_with("mmf_gov", cash_usd_bn=-5.0).assign(lei="X")
    exp = exp_with("repo_gamma", amount_usd_bn="ten")
    with pytest.warns(InputWarning, match="'lei'"), pytest.raises(InputError) as err:
        build(inst=inst, exp=exp)
    fields = {p.field for p in err.value.problems}
    assert {"cash_usd_bn", "amount_usd_bn"} <= fields


@pytest.mark.parametrize(
    ("table", "column"),
    [("institutions", "type"), ("exposures", "source"), ("exposures", "notional_usd_bn")],
)
def test_missing_required_column(table: str, column: str) -> None:
    tables = {"institutions": toy_institutions(), "exposures": toy_exposures()}
    tables[table] = tables[table].drop(columns=column)
    with pytest.raises(
        InputError, match=rf"{table}, field '{column}': required column is missing"
    ) as err:
        build(inst=tables["institutions"], exp=tables["exposures"])
    check(err, column)


def test_all_problems_are_listed() -> None:
    exp = exp_with("repo_alpha", haircut_frac=1.5, amount_usd_bn=-1.0)
    with pytest.raises(InputError, match="2 problems") as err:
        build(exp=exp)
    assert {p.field for p in err.value.problems} == {"haircut_frac", "amount_usd_bn"}


def test_invalid_market() -> None:
    market = toy_market().model_dump()
    market["buckets"][1]["modified_duration_years"] = -1.0
    with pytest.raises(InputError, match=r"market, field 'buckets\.1\.modified_duration_years'"):
        build(market=market)
    market = toy_market().model_dump()
    market["futures"][0]["bucket"] = "7y"
    with pytest.raises(InputError, match=r"unknown bucket '7y'"):
        build(market=market)


@pytest.mark.parametrize("bad", ["hf\r1", "hf\x00", "a\nb"])
def test_control_characters_in_ids_and_names_are_rejected(bad):
    # a lone carriage return breaks CSV round trips and \x00 is not valid XML (GraphML)
    inst = toy_institutions()
    inst.loc[0, "name"] = bad
    with pytest.raises(InputError, match="control characters") as err:
        System(inst, toy_exposures(), toy_market())
    assert err.value.problems[0].field == "name"


# --- strategy books and futures open interest (check_positions) ------------------------------
def books() -> pd.DataFrame:
    """The toy's funds as strategy books: alpha and beta basis books of one fund, gamma a
    swap-spread book of another."""
    return (
        inst_with("hf_alpha", strategy="basis", fund_id="fund_ab")
        .pipe(
            lambda f: f.assign(
                strategy=f["strategy"].where(f["id"] != "hf_beta", "basis"),
                fund_id=f["fund_id"].where(f["id"] != "hf_beta", "fund_ab"),
            )
        )
        .pipe(
            lambda f: f.assign(strategy=f["strategy"].where(f["id"] != "hf_gamma", "swap_spread"))
        )
    )


def test_strategy_books_of_one_fund_are_valid() -> None:
    inst = build(inst=books()).institutions.set_index("id")
    assert inst.loc["hf_alpha", "strategy"] == "basis"
    assert inst.loc["hf_beta", "fund_id"] == inst.loc["hf_alpha", "fund_id"] == "fund_ab"
    assert inst.loc["hf_gamma", "fund_id"] == "hf_gamma"  # blank: its own id
    assert inst.loc["dealer_a", "strategy"] == ""


def test_unknown_strategy() -> None:
    with pytest.raises(
        InputError, match=r"row 0 \(id 'hf_alpha'\), field 'strategy': unknown strategy 'carry'"
    ) as err:
        build(inst=inst_with("hf_alpha", strategy="carry"))
    check(err, "strategy")


def test_strategy_on_a_non_hedge_fund() -> None:
    with pytest.raises(InputError, match=r"id 'dealer_a'\), field 'strategy': only a hedge_fund"):
        build(inst=inst_with("dealer_a", strategy="basis"))


def test_basis_book_without_a_futures_short() -> None:
    # hf_gamma pays fixed on a swap and has no futures: not a basis book
    with pytest.raises(
        InputError, match=r"row 2 \(id 'hf_gamma'\), field 'strategy': a 'basis' book is short"
    ) as err:
        build(inst=inst_with("hf_gamma", strategy="basis"))
    check(err, "strategy")


def test_swap_spread_book_without_a_pay_fixed_swap() -> None:
    with pytest.raises(
        InputError, match=r"id 'hf_alpha'\), field 'strategy': a 'swap_spread' book pays fixed"
    ):
        build(inst=inst_with("hf_alpha", strategy="swap_spread"))


def test_basis_book_without_bonds() -> None:
    # a new fund short TU against the asset manager, with no bonds: not a basis trade
    inst = toy_institutions().drop(columns="equity_usd_bn")
    new_fund = {c: 0.0 for c in inst.columns if c.endswith("_usd_bn")}
    new_fund.update(id="hf_new", type="hedge_fund", cash_usd_bn=5.0, strategy="basis")
    inst = pd.concat([inst, pd.DataFrame([new_fund])], ignore_index=True)
    new = [{"id": f"tu_{who}", "kind": "futures", "source": who, "target": "ccp",
            "futures_contract": "TU", "notional_usd_bn": n, "initial_margin_usd_bn": 0.0}
           for who, n in (("hf_new", -10.0), ("am_pension", 10.0))]  # fmt: skip
    exp = pd.concat([toy_exposures(), pd.DataFrame(new)], ignore_index=True)
    with pytest.raises(InputError, match=r"id 'hf_new'\), field 'strategy': a 'basis' book is "
                       r"long cash Treasuries; it holds none"):  # fmt: skip
        build(inst=inst, exp=exp)


def test_relative_value_and_directional_books_take_any_instruments() -> None:
    inst = inst_with("hf_alpha", strategy="directional")
    inst.loc[row(inst, "hf_gamma"), "strategy"] = "relative_value"
    assert build(inst=inst).n_institutions == 11


@pytest.mark.parametrize(
    ("edits", "id_", "reason"),
    [
        ({"dealer_a": "fund_ab"}, "dealer_a", "only hedge-fund books share a fund"),
        ({"hf_alpha": "dealer_b"}, "hf_alpha", "'dealer_b' is the id of institution row 4 (a "
         "dealer in fund 'dealer_b'), not a book of that fund"),
        ({"hf_alpha": "hf_beta", "hf_beta": "fund_b"}, "hf_alpha", "'hf_beta' is the id of "
         "institution row 1 (a hedge_fund in fund 'fund_b'), not a book of that fund"),
    ],
)  # fmt: skip
def test_fund_id_problems(edits: dict, id_: str, reason: str) -> None:
    inst = toy_institutions().astype({"fund_id": object})
    for who, fund in edits.items():
        inst.loc[row(inst, who), "fund_id"] = fund
    with pytest.raises(InputError, match=rf"id '{id_}'\), field 'fund_id': {re.escape(reason)}"):
        build(inst=inst)


def test_a_fund_named_after_one_of_its_books_is_valid() -> None:
    inst = inst_with("hf_beta", fund_id="hf_alpha")
    out = build(inst=inst).institutions.set_index("id")
    assert out.loc["hf_beta", "fund_id"] == out.loc["hf_alpha", "fund_id"] == "hf_alpha"


def test_futures_longs_must_match_shorts_per_contract() -> None:
    # the asset manager's TY long is 100 against hf_alpha's 100 short: make it 90
    with pytest.raises(
        InputError,
        match=r"exposures rows 7, 9 \(futures_contract 'TY' at ccp 'ccp', 2 positions\), "
        r"field 'notional_usd_bn': longs 90\.000000 and shorts 100\.000000",
    ) as err:
        build(exp=exp_with("fut_am_ty", notional_usd_bn=90.0))
    check(err, "notional_usd_bn")


def test_futures_tolerance_is_per_position() -> None:
    # 1e-6 USD bn per position (2 in TY) + 1e-9 of the longs: a difference of 1.5e-6 passes
    assert build(exp=exp_with("fut_am_ty", notional_usd_bn=100.0 + 1.5e-6)).n_exposures == 13
    with pytest.raises(InputError, match=r"net \+0\.000003, tolerance 2\.1e-06"):
        build(exp=exp_with("fut_am_ty", notional_usd_bn=100.0 + 3e-6))


def test_market_open_interest_must_match_the_longs() -> None:
    market = toy_market().model_dump()
    market["futures"][2]["open_interest_usd_bn"] = 100.0  # TY: the longs add up to 100
    assert build(market=market).market.futures[2].open_interest_usd_bn == 100.0
    market["futures"][1]["open_interest_usd_bn"] = 60.0  # FV: the longs add up to 50
    with pytest.raises(
        InputError, match=r"market futures 'FV', field 'open_interest_usd_bn': 60\.000000 USD bn"
    ) as err:
        build(market=market)
    check(err, "open_interest_usd_bn")
