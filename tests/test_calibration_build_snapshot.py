"""build_snapshot: rows from the raw extracts, hand-typed rows flagged, no look-ahead; the
public parser and the comparison report."""

from __future__ import annotations

import csv
import datetime as dt
import statistics

import pandas as pd
import pytest

import calibration
from calibration.build import build_tables
from calibration.snapshot import BUILT_COLUMNS, MANUAL, SnapshotError, parse_aggregates
from calibration.sources import load_provenance, raw_path
from calibration.sources.assemble import VINTAGE_DATES, build_snapshot_rows
from calibration.sources.compare import comparison_report
from calibration.sources.raw import raw_root

D = dt.date


@pytest.fixture(scope="module", params=sorted(VINTAGE_DATES))
def built(request: pytest.FixtureRequest) -> calibration.Snapshot:
    return calibration.build_snapshot(request.param)


def test_every_row_has_a_source_and_no_look_ahead(built) -> None:
    table = built.table
    assert built.as_of == VINTAGE_DATES[built.vintage]
    assert (table["as_of"] <= built.as_of).all()
    assert table["origin"].ne("").all()
    listed = set("raw/" + load_provenance()["file"])
    raw = table[table["origin"] != MANUAL]
    assert set(raw["origin"]) <= listed
    assert raw["quality"].isin({"ok", "derived"}).all()
    manual = table[table["origin"] == MANUAL]
    assert manual["note"].str.startswith("Manual: ").all()
    assert len(raw) >= 8


def test_hand_checked_values() -> None:
    snap = calibration.build_snapshot("2020-02")
    # FinFut20, 2020-02-25: TY 1,162,678 + UXY 210,242 LF shorts x USD 100k
    assert snap.value("lf_futures_short_10y_usd_bn") == pytest.approx(137.292)
    assert snap.row("lf_futures_short_10y_usd_bn")["as_of"] == D(2020, 2, 25)
    assert snap.value("yield_10y_pct") == 1.13
    assert snap.value("fed_funds_target_upper_pct") == 1.75
    assert snap.value("on_rrp_rate_pct") == 1.5
    # Form PF rows stay hand-typed with the shipped value.
    assert snap.value("hf_repo_borrowing_usd_bn") == 1465.0
    assert snap.row("hf_repo_borrowing_usd_bn")["origin"] == MANUAL


def test_funding_rates_are_averaged_without_month_and_quarter_ends() -> None:
    with raw_path("fred/SOFR_2025.csv").open() as fh:
        rows = [(D.fromisoformat(r["observation_date"]), r["SOFR"]) for r in csv.DictReader(fh)]
    window = [float(v) for d, v in rows if D(2025, 3, 4) <= d <= D(2025, 3, 28) and v]
    snap = calibration.build_snapshot("2025-03")
    assert snap.value("sofr_pct") == pytest.approx(statistics.mean(window), abs=1e-4)
    assert snap.value("sofr_pct") != 4.41  # the 2025-03-31 quarter-end print
    assert snap.row("sofr_pct")["as_of"] == D(2025, 3, 28)


def test_any_date_reads_nothing_after_it() -> None:
    snap = calibration.build_snapshot("2020-03-10")
    assert snap.vintage == "built-2020-03-10"
    assert (snap.table["as_of"] <= D(2020, 3, 10)).all()
    assert snap.value("yield_10y_pct") == 0.76  # DGS10 line "2020-03-10,0.76"
    assert snap.row("lf_futures_short_2y_usd_bn")["as_of"] == D(2020, 3, 10)
    assert snap.value("fed_funds_target_upper_pct") == 1.25  # after the 2020-03-03 cut
    earlier = build_snapshot_rows("2020-03-02").rows.set_index("quantity")
    assert earlier.loc["fed_funds_target_upper_pct", "value"] == "1.75"


def test_out_of_sample_outcomes_stay_hand_typed_in_latest() -> None:
    rows = build_snapshot_rows("latest").rows.set_index("quantity")
    for qty in ("yield_10y_pct", "sofr_pct"):
        assert rows.loc[qty, "origin"] == MANUAL
        assert "withheld" in rows.loc[qty, "note"]
    assert rows.loc["bank_reserves_usd_bn", "origin"] == "raw/fred/WRESBAL_2025.csv"


def test_look_ahead_rows_are_dropped_or_become_ranged_assumptions() -> None:
    build = build_snapshot_rows("2025-03")
    assert build.excluded["quantity"].tolist() == ["ust_cash_volume_usd_bn_per_day"]
    rows = build_snapshot_rows("2020-02").rows.set_index("quantity")
    zero = rows.loc["hf_repo_zero_haircut_share_frac"]
    assert (zero["quality"], zero["as_of"], zero["low"], zero["high"]) == (
        "assumption", "2020-02-29", "0.42", "0.8",
    )  # fmt: skip


@pytest.mark.parametrize("vintage", ["2020-02", "2025-03", "latest"])
def test_the_system_builder_accepts_a_built_snapshot(vintage) -> None:
    inst, exp, _, _ = build_tables(calibration.build_snapshot(vintage), seed=0)
    assert len(inst) > 300 and len(exp) > 0


def test_built_snapshot_round_trips_through_a_folder_and_a_csv(tmp_path) -> None:
    snap = calibration.build_snapshot("2025-03")
    folder = calibration.write_snapshot(snap, tmp_path / "mine")
    again = calibration.load_snapshot(folder)
    assert again.vintage == "2025-03" and again.as_of == snap.as_of
    pd.testing.assert_frame_equal(again.table, snap.table.reset_index(drop=True))
    from_csv = calibration.load_snapshot(folder / "aggregates.csv", as_of="2025-03-31")
    assert from_csv.value("sofr_pct") == snap.value("sofr_pct")
    with pytest.raises(SnapshotError, match="look-ahead"):
        calibration.load_snapshot(folder / "aggregates.csv", as_of="2025-03-20")


def _first(col: pd.Series, value: str) -> pd.Series:
    return col.where(col.index != 0, value)


def _built_csv(tmp_path, edit) -> str:
    rows = build_snapshot_rows("2020-02").rows
    path = tmp_path / "aggregates.csv"
    edit(rows).to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize(
    ("edit", "field", "reason"),
    [
        (
            lambda f: f.assign(origin=f["origin"].where(f.index != 0, "")),
            "origin",
            "without a source",
        ),
        (
            lambda f: f.assign(origin=f["origin"].where(f.index != 0, "ftp://x")),
            "origin",
            "neither",
        ),
        (
            lambda f: f.assign(note=f["note"].where(f["origin"] != MANUAL, "")),
            "note",
            "manual rows",
        ),
        (
            lambda f: f.assign(as_of=f["as_of"].where(f.index != 0, "2020-03-02")),
            "as_of",
            "look-ahead",
        ),
    ],
)
def test_built_layout_errors(tmp_path, edit, field, reason) -> None:
    path = _built_csv(tmp_path, edit)
    with pytest.raises(SnapshotError) as info:
        parse_aggregates(path, as_of=D(2020, 2, 29))
    assert path in str(info.value)
    assert f"field {field!r}" in str(info.value)
    assert reason in str(info.value)


def test_built_columns_extend_the_shipped_layout() -> None:
    assert BUILT_COLUMNS[:-1] == calibration.snapshot.AGGREGATE_COLUMNS
    assert BUILT_COLUMNS[-1] == "origin"


def test_comparison_report_is_current() -> None:
    shipped = (raw_root() / "COMPARISON.md").read_text(encoding="utf-8")
    assert shipped == comparison_report(), "regenerate: python -m calibration.sources.compare"


def test_2019_08_lists_what_it_cannot_carry() -> None:
    build = build_snapshot_rows("2019-08")
    assert build.base == "2020-02"
    assert "hf_ust_long_exposure_usd_bn" in set(build.excluded["quantity"])
    rows = build.rows.set_index("quantity")
    assert rows.loc["iorb_pct", "value"] == "2.1"
    assert rows.loc["lf_futures_short_10y_usd_bn", "as_of"] == "2019-08-27"
