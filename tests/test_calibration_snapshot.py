"""Calibration snapshots and episodes: provenance, units, ranges, validation errors, spot checks."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest

from calibration import (
    Snapshot,
    SnapshotError,
    available_episodes,
    available_vintages,
    load_episode,
    load_snapshot,
)
from calibration import snapshot as sn

VINTAGES = ("2020-02", "2025-03", "latest")
TENORS = ("2y", "5y", "10y", "30y")
CORE = [
    "hf_ust_long_exposure_usd_bn",
    "hf_ust_short_exposure_usd_bn",
    "hf_repo_borrowing_usd_bn",
    "basis_trade_size_usd_bn",
    "swap_spread_trade_size_usd_bn",
    "top50_share_gross_ust_exposure_frac",
    "hf_leverage_top50_gav_nav_ratio",
    "hf_repo_zero_haircut_share_frac",
    "triparty_treasury_haircut_frac",
    "mmf_assets_usd_bn",
    "govt_mmf_assets_usd_bn",
    "on_rrp_usd_bn",
    "bank_reserves_usd_bn",
    "ust_outstanding_marketable_usd_bn",
    "sofr_pct",
    "on_rrp_rate_pct",
    "iorb_pct",
    "srf_min_bid_rate_pct",
    "srf_aggregate_limit_usd_bn",
    "move_index_level",
    "slr_requirement_frac",
    "primary_dealer_count",
    "dealer_ust_capacity_usd_bn",
    *(f"{p}_{t}_{s}" for t in TENORS for p, s in [("yield", "pct"), ("ust_outstanding", "usd_bn")]),
    *(f"lf_futures_short_{t}_usd_bn" for t in TENORS),
    *(f"am_futures_long_{t}_usd_bn" for t in TENORS),
    *(f"futures_initial_margin_{t}_frac" for t in TENORS),
    *(f"ust_modified_duration_{t}_years" for t in TENORS),
]


@pytest.fixture(scope="module", params=VINTAGES)
def snap(request: pytest.FixtureRequest) -> Snapshot:
    return load_snapshot(request.param)


def test_all_vintages_available_and_load() -> None:
    assert set(VINTAGES) <= set(available_vintages())
    for vintage in VINTAGES:
        snapshot = load_snapshot(vintage)
        assert snapshot.vintage == vintage
        assert isinstance(snapshot.as_of, dt.date)
        assert snapshot.table["quantity"].is_unique
        assert len(snapshot.table) >= 50


def test_core_quantities_in_every_vintage(snap: Snapshot) -> None:
    missing = sorted(set(CORE) - set(snap.table["quantity"]))
    assert not missing, f"{snap.vintage}: missing {missing}"


def test_every_row_has_source_unit_and_date(snap: Snapshot) -> None:
    for row in snap.table.itertuples():
        assert row.unit, row.quantity
        assert isinstance(row.as_of, dt.date), row.quantity
        assert row.as_of <= dt.date(2026, 12, 31), row.quantity
        assert row.quality in sn.QUALITY_FLAGS
        if row.quality == "assumption":
            assert row.source_url == "", row.quantity
        else:
            assert row.source_title and row.source_publisher and row.fact_ids, row.quantity


def test_assumptions_flagged_with_ranges(snap: Snapshot) -> None:
    assumed = snap.assumptions()
    assert len(assumed) > 0
    assert assumed[["low", "high"]].notna().all().all()
    assert (assumed["low"] <= assumed["value"]).all()
    assert (assumed["value"] <= assumed["high"]).all()
    assert (assumed["note"].str.len() > 0).all()
    unsure = snap.table[snap.table["quality"] == "?"]
    assert ((unsure["low"] <= unsure["value"]) & (unsure["value"] <= unsure["high"])).all()
    sourced = snap.table[~snap.table["quality"].isin(["assumption", "?"])]
    assert sourced[["low", "high"]].isna().all().all()


def test_unit_suffix_matches_unit(snap: Snapshot) -> None:
    for row in snap.table.itertuples():
        assert sn.expected_unit(row.quantity) == row.unit, row.quantity
    fracs = snap.table[snap.table["quantity"].str.endswith("_frac")]
    assert fracs["value"].between(0, 1).all()


@pytest.mark.parametrize(
    ("vintage", "quantity", "expected"),
    [
        ("2020-02", "hf_repo_borrowing_usd_bn", 1465),  # row 1.4
        ("2020-02", "top50_share_gross_ust_exposure_frac", 0.85),  # row 1.65
        ("2020-02", "hf_ust_long_exposure_usd_bn", 1445),  # row 1.1
        ("2020-02", "triparty_treasury_haircut_frac", 0.02),  # row 1.72
        ("2020-02", "fed_funds_target_upper_pct", 1.75),  # derived from row 4.40
        # CFTC TFF 2025-03-25 (FinFut25): TU Lev_Money_Positions_Short_All 2,116,862 x $200k
        ("2025-03", "lf_futures_short_2y_usd_bn", 423.3724),
        ("2025-03", "srf_aggregate_limit_usd_bn", 500),  # row 2.28
        ("latest", "basis_trade_size_usd_bn", 830),  # row 1.29
        ("latest", "hf_ust_gross_exposure_usd_bn", 4000),  # row 1.16
        ("latest", "hf_ust_holdings_share_outstanding_frac", 0.085),  # row 1.17, conflict 10.3
        ("latest", "iorb_pct", 3.90),  # row 2.38
        # nearest TFF report (2025-03-25): FV Open_Interest_All 6,333,096 x $100k
        ("latest", "futures_open_interest_5y_usd_bn", 633.3096),
    ],
)
def test_spot_checks_against_fact_base(vintage: str, quantity: str, expected: float) -> None:
    assert load_snapshot(vintage).value(quantity) == pytest.approx(expected, abs=0.5e-3 * expected)


@pytest.mark.parametrize("vintage", available_vintages())
def test_futures_positions_add_up_by_category(vintage: str) -> None:
    """Every vintage carries the TFF categories of one report: per bucket the categories'
    longs equal their shorts (outright open interest), and no row postdates the vintage."""
    snapshot = load_snapshot(vintage)
    stems = {
        "long": ("futures_dealer_long", "am_futures_long", "futures_lev_money_long",
                 "futures_other_rept_long", "futures_nonrept_long"),
        "short": ("futures_dealer_short", "futures_asset_mgr_short", "lf_futures_short",
                  "futures_other_rept_short", "futures_nonrept_short"),
    }  # fmt: skip
    dates = set()
    for tenor in TENORS:
        side = {}
        for key, names in stems.items():
            rows = [snapshot.row(f"{n}_{tenor}_usd_bn") for n in names]
            dates |= {r["as_of"] for r in rows}
            side[key] = sum(float(r["value"]) for r in rows)
        assert side["long"] == pytest.approx(side["short"], abs=1e-3), tenor
        assert side["long"] > 0
    assert len(dates) == 1 and dates.pop() <= snapshot.as_of


def test_row_and_errors_for_unknown_names() -> None:
    snapshot = load_snapshot("latest")
    assert snapshot.row("sofr_pct")["unit"] == "pct"
    with pytest.raises(KeyError, match="nope_usd_bn"):
        snapshot.value("nope_usd_bn")
    with pytest.raises(SnapshotError, match=r"unknown vintage '1999-01'.*2020-02"):
        load_snapshot("1999-01")
    with pytest.raises(SnapshotError, match=r"available: \['april_2025'"):
        load_episode("nope")


def test_episodes_load_with_roles_and_units() -> None:
    assert {"march_2020", "april_2025", "sept_2019"} <= set(available_episodes())
    for name in available_episodes():
        frame = load_episode(name)
        assert set(frame["role"]) <= {"input", "target"}
        assert all(isinstance(d, dt.date) for d in frame["date"])
        for row in frame.itertuples():
            assert sn.expected_unit(row.variable) == row.unit, (name, row.variable)


def test_april_2025_has_inputs_only() -> None:
    frame = load_episode("april_2025")
    assert (frame["role"] == "input").all()
    assert "april_2025" in sn.OUT_OF_SAMPLE_EPISODES


def test_fit_episodes_have_targets_and_inputs() -> None:
    for name in ("march_2020", "sept_2019"):
        roles = set(load_episode(name)["role"])
        assert roles == {"input", "target"}, name


# --- validation errors on broken files -------------------------------------------------


def _broken_aggregates(tmp_path: Path, edit) -> Path:
    src = sn._data_root() / "2020-02" / "aggregates.csv"
    frame = pd.read_csv(
        io.StringIO(src.read_text(encoding="utf-8")), dtype=str, keep_default_na=False
    )
    frame = edit(frame)
    path = tmp_path / "aggregates.csv"
    frame.to_csv(path, index=False)
    return path


def _set(target: str, **fields: str):
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        mask = frame["quantity"] == target
        assert mask.sum() == 1
        for key, value in fields.items():
            frame.loc[mask, key] = value
        return frame

    return edit


REPO, FRAC, ASSUMED = "hf_repo_borrowing_usd_bn", "top50_share_repo_frac", "mmf_assets_usd_bn"


@pytest.mark.parametrize(
    ("edit", "row", "field", "reason"),
    [
        (_set(REPO, source_title=""), REPO, "source_title", "missing source"),
        (_set(REPO, source_publisher=""), REPO, "source_publisher", "missing source"),
        (_set(REPO, unit="pct"), REPO, "unit", "implies 'USD bn'"),
        (_set(REPO, as_of="2020-02"), REPO, "as_of", "not an ISO date"),
        (_set(REPO, as_of="2020-02-30"), REPO, "as_of", "not an ISO date"),
        (_set(REPO, value="nan"), REPO, "value", "must be finite"),
        (_set(REPO, value=""), REPO, "value", "not a number"),
        (_set(REPO, low="1", high="2"), REPO, "low", "only for assumption"),
        (_set(FRAC, value="1.2"), FRAC, "value", "must lie in [0, 1]"),
        (_set(ASSUMED, low="4000"), ASSUMED, "low", "low <= value <= high"),
        (_set(ASSUMED, high=""), ASSUMED, "high", "required for 'assumption'"),
        (_set(ASSUMED, source_url="https://example.org"), ASSUMED, "source_url", "cite no source"),
        (_set(REPO, quality="good"), REPO, "quality", "not in"),
        (
            _set(REPO, quantity="hf_repo_borrowing_usd"),
            "hf_repo_borrowing_usd",
            "quantity",
            "suffix",
        ),
        (lambda f: pd.concat([f, f.iloc[[4]]]), REPO, "quantity", "duplicate quantity"),
    ],
)
def test_validation_errors_name_file_row_and_field(tmp_path, edit, row, field, reason) -> None:
    path = _broken_aggregates(tmp_path, edit)
    with pytest.raises(SnapshotError) as info:
        sn._parse_aggregates(path)
    message = str(info.value)
    assert str(path) in message
    assert f"row {row!r}" in message
    assert f"field {field!r}" in message
    assert reason in message


def test_validation_rejects_wrong_columns(tmp_path) -> None:
    path = _broken_aggregates(tmp_path, lambda f: f.drop(columns=["source_url"]))
    with pytest.raises(SnapshotError, match=r"missing \['source_url'\]"):
        sn._parse_aggregates(path)


def test_out_of_sample_episode_rejects_targets(tmp_path) -> None:
    frame = load_episode("april_2025").astype({"value": str, "date": str})
    frame.loc[0, "role"] = "target"
    path = tmp_path / "april_2025.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(SnapshotError, match=r"field 'role'.*out-of-sample"):
        sn._parse_episode(path)
    frame.loc[0, "role"] = "output"
    frame.to_csv(path, index=False)
    with pytest.raises(SnapshotError, match=r"field 'role'"):
        sn._parse_episode(path, "march_2020")
