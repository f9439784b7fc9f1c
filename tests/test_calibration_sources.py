"""Official-format loaders, the shipped raw extracts and their provenance record.

Values are checked by hand against the shipped files (the CSV line is quoted in each test)
and, where the fact base has the same figure from another publication, against it.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
from pathlib import Path

import pytest

from calibration import sources
from calibration.sources import (
    SourceError,
    cut_extract,
    load_cftc_tff,
    load_cftc_tff_socrata,
    load_fed_ddp,
    load_fr2004_csv,
    load_fr2004_json,
    load_fred_csv,
    load_mspd_summary,
    load_nyfed_reference_rates,
    load_ofr_csv,
    load_raw,
    mspd_maturity_buckets,
    raw_path,
    treasury_face_value_usd_bn,
    verify_provenance,
)
from calibration.sources.raw import load_provenance, raw_root

D = dt.date


def _value(frame, series: str, date: dt.date) -> float:
    sel = frame[(frame["series"] == series) & (frame["date"] == date)]
    assert len(sel) == 1, (series, date, len(sel))
    return float(sel["value"].iloc[0])


# ---------------------------------------------------------------- loaders on shipped files


def test_tff_ty_leveraged_shorts_match_the_fact_base() -> None:
    # FinFut19: "10-YEAR U.S. TREASURY NOTES ...",190730,2019-07-30,043602,... Lev_Money short
    # 1,482,535 contracts x USD 100k = 148.25 bn: fact 1.44 (Risk.net) gives 148.3 on that
    # date; 113.9 on 2020-03-17 (1,139,024 contracts).
    tff19 = load_cftc_tff(raw_path("cftc_tff/FinFut19_treasury.txt"))
    tff20 = load_cftc_tff(raw_path("cftc_tff/FinFut20_treasury.txt"))
    peak = _value(tff19, "tff_043602_lev_money_short", D(2019, 7, 30))
    march = _value(tff20, "tff_043602_lev_money_short", D(2020, 3, 17))
    assert peak == 1_482_535
    assert march == 1_139_024
    assert peak * 1e5 / 1e9 == pytest.approx(148.3, abs=0.05)
    assert march * 1e5 / 1e9 == pytest.approx(113.9, abs=0.05)


def test_tff_rows_cover_the_six_contracts_and_every_category() -> None:
    tff = load_cftc_tff(raw_path("cftc_tff/FinFut20_treasury.txt"))
    codes = set(tff["series"].str[4:10])
    assert codes == set(sources.TREASURY_CONTRACTS)
    day = tff[tff["date"] == D(2020, 2, 25)]
    # 6 contracts x (open interest + 14 position columns + 4 concentration ratios)
    assert len(day) == 6 * (1 + 14 + 4)
    assert set(day["unit"]) == {"contracts", "pct of open interest"}
    # The TY line of 2020-02-25 reads: open interest 4,207,982; dealer long 258,654.
    assert _value(day, "tff_043602_open_interest", D(2020, 2, 25)) == 4_207_982
    assert _value(day, "tff_043602_dealer_long", D(2020, 2, 25)) == 258_654


def test_face_value_uses_200k_for_the_2y_and_sums_ty_with_uxy() -> None:
    tff = load_cftc_tff(raw_path("cftc_tff/FinFut20_treasury.txt"))
    face = treasury_face_value_usd_bn(tff)
    day = face[(face["date"] == D(2020, 2, 25)) & (face["category"] == "lev_money")]
    short = day[day["side"] == "short"].set_index("bucket")
    tu = _value(tff, "tff_042601_lev_money_short", D(2020, 2, 25))
    ty = _value(tff, "tff_043602_lev_money_short", D(2020, 2, 25))
    uxy = _value(tff, "tff_043607_lev_money_short", D(2020, 2, 25))
    assert short.loc["2y", "value_usd_bn"] == pytest.approx(tu * 200_000 / 1e9)
    assert short.loc["10y", "value_usd_bn"] == pytest.approx((ty + uxy) * 100_000 / 1e9)
    assert short.loc["10y", "contracts"] == "TY+UXY"
    assert short.loc["30y", "contracts"] == "US+WN"


def test_fred_extracts_read_with_their_recorded_units() -> None:
    dgs10 = load_raw("fred/DGS10_2019-2025.csv")
    assert _value(dgs10, "DGS10", D(2020, 3, 9)) == 0.54  # line "2020-03-09,0.54"
    old = load_raw("fred/WRESBAL_2019-2020.csv")
    new = load_raw("fred/WRESBAL_2025.csv")
    assert set(old["unit"]) == {"USD bn"} and set(new["unit"]) == {"USD mn"}
    # WRESBAL 2025-03-26 = 3,450,933 (USD mn): the figure of the shipped 2025-03 vintage.
    assert _value(new, "WRESBAL", D(2025, 3, 26)) == 3_450_933
    assert all(src.startswith("raw/fred/") for src in dgs10["source"])


def test_fred_missing_markers_are_dropped_not_zero() -> None:
    text = "DATE,SOFR\n2019-12-24,1.55\n2019-12-25,.\n2019-12-26,\n"
    frame = load_fred_csv(io.StringIO(text))
    assert frame["date"].tolist() == [D(2019, 12, 24)]


def test_alfred_vintages() -> None:
    text = "observation_date,WALCL_20200304,WALCL_20200311\n2020-03-04,4241507,4241507\n"
    frame = sources.load_alfred_csv(io.StringIO(text))
    assert frame["vintage"].tolist() == [D(2020, 3, 4), D(2020, 3, 11)]
    assert set(frame["unit"]) == {"USD mn"}


def test_nyfed_fr2004_ddp_ofr_mspd_fixtures() -> None:
    rates = load_nyfed_reference_rates(
        io.StringIO(
            "Effective Date,Rate Type,Rate (%),1st Percentile (%),99th Percentile (%),"
            "Volume ($Billions)\n09/17/2019,SOFR,5.25,2.25,9.00,1280\n"
            "09/17/2019,TGCR,5.25,2.20,8.00,580\n"
        )
    )
    assert _value(rates, "SOFR_p99", D(2019, 9, 17)) == 9.0
    assert _value(rates, "TGCR_volume", D(2019, 9, 17)) == 580.0
    pd_csv = load_fr2004_csv(
        io.StringIO(
            "As Of Date,Time Series,Value (millions),Series Break\n"
            "2020-02-26,PDPOSGST-TOT,191000,SBN2015\n"
        )
    )
    assert _value(pd_csv, "PDPOSGST-TOT", D(2020, 2, 26)) == 191_000
    doc = {"pd": {"timeseries": [{"asofdate": "2020-02-26", "keyid": "PDPOSGST-TOT",
                                  "value": "191000"}]}}  # fmt: skip
    assert load_fr2004_json(io.StringIO(json.dumps(doc)))["value"].tolist() == [191_000.0]
    ofr = sources.load_ofr_timeseries(io.StringIO('[["2020-03-02", 1.2]]'), "REPO-TRI_AR_OO-P")
    assert ofr["series"].tolist() == ["REPO-TRI_AR_OO-P"]
    assert load_ofr_csv(io.StringIO("date,A-B\n2020-01-02,3\n"))["value"].tolist() == [3.0]
    summary = load_mspd_summary(
        io.StringIO(
            "record_date,security_type_desc,security_class_desc,debt_held_public_mil_amt,"
            "intragov_hold_mil_amt,total_mil_amt\n2020-02-29,Marketable,Total Marketable,"
            "16900000,10000,16910000\n"
        )
    )
    assert _value(summary, "mspd_marketable_total_marketable_public", D(2020, 2, 29)) == 16.9e6
    buckets = mspd_maturity_buckets(
        io.StringIO(
            "Record Date,Security Type Description,Security Class 1 Description,"
            "Security Class 2 Description,Maturity Date,Outstanding Amount (in Millions)\n"
            "2020-02-29,Marketable,Notes,912828AA1,2023-02-28,10\n"  # 3.0y: the 2y bucket
            "2020-02-29,Marketable,Notes,912828AA2,2027-02-28,20\n"  # 7.0y: 5y
            "2020-02-29,Marketable,Bonds,912810AA3,2035-02-15,30\n"  # 15.0y: 10y
            "2020-02-29,Marketable,Bonds,912810AA4,2050-02-15,40\n"
            "2020-02-29,Marketable,Bills Maturity Value,912796AA5,2020-04-01,99\n"
            "2020-02-29,Marketable,Inflation-Protected Securities,912828AA6,2030-01-15,99\n"
        )
    )
    got = buckets.set_index("series")["value"].to_dict()
    assert got == {
        "mspd_nominal_coupons_2y": 10.0,
        "mspd_nominal_coupons_5y": 20.0,
        "mspd_nominal_coupons_10y": 30.0,
        "mspd_nominal_coupons_30y": 40.0,
        "mspd_nominal_coupons_total": 100.0,
    }
    ddp = load_fed_ddp(
        io.StringIO(
            '"Series Description","Total assets"\n"Unit:","Currency"\n'
            '"Multiplier:","1000000"\n"Currency:","USD"\n'
            '"Unique Identifier: ","H41/H41/RESPPMA_N.WW"\n"Time Period","RESPPMA_N.WW"\n'
            "2020-03-04,4241507\n2020-03-11,ND\n"
        )
    )
    assert ddp[["value", "unit"]].values.tolist() == [[4_241_507.0, "USD mn"]]


def test_socrata_tff_json_and_csv() -> None:
    rows = [
        {"report_date_as_yyyy_mm_dd": "2020-02-25T00:00:00.000", "cftc_contract_market_code":
         "043602", "open_interest_all": "4207982", "lev_money_positions_short": "1162678",
         "dealer_positions_long_all": "258654"},
        {"report_date_as_yyyy_mm_dd": "2020-02-25T00:00:00.000", "cftc_contract_market_code":
         "099741", "open_interest_all": "1"},
    ]  # fmt: skip
    frame = load_cftc_tff_socrata(io.StringIO(json.dumps(rows)))
    assert _value(frame, "tff_043602_lev_money_short", D(2020, 2, 25)) == 1_162_678
    assert not frame["series"].str.contains("099741").any()
    text = "report_date_as_yyyy_mm_dd,cftc_contract_market_code,open_interest_all,lev_money_positions_short_all\n2020-02-25,042601,9,4\n"  # noqa: E501
    assert load_cftc_tff_socrata(io.StringIO(text))["value"].sum() == 13


# ---------------------------------------------------------------- layout errors


def _tff_with(tmp_path: Path, old: str, new: str) -> Path:
    text = raw_path("cftc_tff/FinFut20_treasury.txt").read_text(encoding="utf-8")
    path = tmp_path / "FinFutYY.txt"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_tff_wrong_header_names_file_column_and_layout(tmp_path) -> None:
    path = _tff_with(tmp_path, '"Lev_Money_Positions_Short_All"', '"LevMoney_Short"')
    with pytest.raises(SourceError) as info:
        load_cftc_tff(path)
    msg = str(info.value)
    assert str(path) in msg
    assert "'Lev_Money_Positions_Short_All'" in msg
    assert "CFTC TFF futures-only text layout" in msg


def test_tff_rejects_a_combined_futures_and_options_file(tmp_path) -> None:
    path = _tff_with(tmp_path, '"FutOnly"', '"Combined"')
    with pytest.raises(SourceError, match=r"FutOnly_or_Combined.*futures-only"):
        load_cftc_tff(path)


def test_tff_rejects_a_bad_number(tmp_path) -> None:
    line = next(
        x for x in raw_path("cftc_tff/FinFut20_treasury.txt").read_text().splitlines()
        if ",043602," in x and ",200225," in x
    )  # fmt: skip
    path = _tff_with(tmp_path, line, line.replace(", 4207982,", ", 42O7982,"))
    with pytest.raises(SourceError, match=r"Open_Interest_All.*not a number"):
        load_cftc_tff(path)


@pytest.mark.parametrize(
    ("loader", "text", "column"),
    [
        (load_fred_csv, "date,DGS10\n2020-01-02,1.9\n", "'date'"),
        (load_fred_csv, "DATE,dgs10\n2020-01-02,1.9\n", "'dgs10'"),
        (load_fred_csv, "DATE,DGS10\n01/02/2020,1.9\n", "'DATE'"),
        (sources.load_alfred_csv, "observation_date,DGS10\n2020-01-02,1.9\n", "'DGS10'"),
        (load_nyfed_reference_rates, "Date,Type,Rate\n", "'Effective Date'"),
        (
            load_nyfed_reference_rates,
            "Effective Date,Rate Type,Rate (%)\n2020-01-02,SOFR,1\n",
            "'Effective Date'",
        ),
        (load_fr2004_csv, "As Of Date,Series,Value\n", "'Time Series'"),
        (load_fed_ddp, '"Series Description","x"\n"Time Period","X"\n', "'Unit:'"),
        (load_ofr_csv, "Date2,A\n", "'Date2'"),
        (load_mspd_summary, "Record Date,Security Type Description\n", "'Security Class"),
        (mspd_maturity_buckets, "Record Date,Maturity Date\n", "'Security Class 1 Description'"),
        (load_cftc_tff_socrata, "report_date,code\n", "'report_date_as_yyyy_mm_dd'"),
    ],
)
def test_layout_errors_name_file_and_column(tmp_path, loader, text, column) -> None:
    path = tmp_path / "file.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SourceError) as info:
        loader(path)
    assert str(path) in str(info.value)
    assert column in str(info.value)


def test_missing_file_is_a_source_error(tmp_path) -> None:
    with pytest.raises(SourceError, match="cannot read"):
        load_fred_csv(tmp_path / "nope.csv")


# ---------------------------------------------------------------- provenance


def test_provenance_lists_every_raw_file_with_matching_sha256() -> None:
    prov = verify_provenance()
    files = {p.relative_to(raw_root()).as_posix() for p in raw_root().rglob("*") if p.is_file()}
    assert set(prov["file"]) == files - {"PROVENANCE.csv", "README.md", "COMPARISON.md"}
    assert prov["official_url"].str.startswith("https://").all()
    assert prov["mirror_commit"].str.fullmatch(r"[0-9a-f]{40}").all()
    assert prov["sha256_original"].str.fullmatch(r"[0-9a-f]{64}").all()


def test_outcome_series_stop_before_the_out_of_sample_windows() -> None:
    for file in load_provenance()["file"]:
        rows = load_raw(file)
        if set(rows["series"]) & sources.OUTCOME_SERIES:
            assert rows["date"].max() < sources.WITHHELD_FROM, file


def test_extracts_are_reproducible_by_their_filter() -> None:
    for rec in load_provenance().to_dict("records"):
        data = raw_path(rec["file"]).read_bytes()
        assert cut_extract(rec["format"], data, rec["windows"]) == data, rec["file"]


@pytest.fixture
def raw_copy(tmp_path) -> Path:
    root = tmp_path / "raw"
    shutil.copytree(raw_root(), root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_provenance_detects_a_changed_file(raw_copy) -> None:
    path = raw_copy / "fred" / "DGS10_2019-2025.csv"
    path.write_text(path.read_text().replace("2020-03-09,0.54", "2020-03-09,0.55"))
    with pytest.raises(SourceError, match=r"DGS10_2019-2025.csv: sha256 .* differs"):
        verify_provenance(raw_copy)


def test_provenance_detects_unlisted_and_missing_files(raw_copy) -> None:
    (raw_copy / "fred" / "extra.csv").write_text("DATE,X\n")
    with pytest.raises(SourceError, match=r"extra\.csv: not listed"):
        verify_provenance(raw_copy)
    (raw_copy / "fred" / "extra.csv").unlink()
    (raw_copy / "fred" / "SOFR_2025.csv").unlink()
    with pytest.raises(SourceError, match=r"row 'fred/SOFR_2025.csv': file not found"):
        verify_provenance(raw_copy)


def test_provenance_rejects_an_outcome_series_in_the_withheld_window(raw_copy) -> None:
    prov = (raw_copy / "PROVENANCE.csv").read_text()
    prov = prov.replace("2019-07-01:2020-04-30;2025-01-01:2025-03-31",
                        "2019-07-01:2020-04-30;2025-01-01:2025-04-30")  # fmt: skip
    (raw_copy / "PROVENANCE.csv").write_text(prov)
    with pytest.raises(SourceError, match="out-of-sample"):
        verify_provenance(raw_copy)
