"""Dealers' Treasury inventory by maturity from FR 2004: the snapshot rows, the mapping of
the FR 2004 coupon buckets to the model's buckets and the builder's use of them."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

import calibration.build as build_module
from calibration.build import BUCKETS, build_system, build_targets, measure_aggregates
from calibration.snapshot import available_vintages, load_snapshot
from calibration.sources import fr2004_to_model_buckets

TOTAL = "dealer_ust_inventory_usd_bn"
ROWS = [f"dealer_ust_inventory_{b}_usd_bn" for b in BUCKETS]
VINTAGES = ["2019-08", "2020-02", "2025-03", "latest"]


def test_every_vintage_has_the_bucket_rows() -> None:
    assert set(VINTAGES) <= set(available_vintages())


@pytest.mark.parametrize("vintage", VINTAGES)
def test_bucket_rows_add_up_to_the_total(vintage: str) -> None:
    snap = load_snapshot(vintage)
    total = snap.row(TOTAL)
    parts = [snap.row(q) for q in ROWS]
    assert sum(p["value"] for p in parts) == pytest.approx(total["value"], abs=1e-9)
    for p in parts:
        # same source and date as the total row; derived from the published buckets
        for col in ("as_of", "source_title", "source_publisher", "source_url", "fact_ids"):
            assert p[col] == total[col], (p["quantity"], col)
        assert p["quality"] == "derived"
        assert p["value"] >= 0
        assert "9ad71be9fb6b554f53dc55bb0b775e87eff47ce678f95e1363bfff1a52adc302" in p["note"]


@pytest.mark.parametrize("vintage", ["2025-03", "latest"])
def test_bucket_rows_follow_from_the_components_in_the_total_note(vintage: str) -> None:
    snap = load_snapshot(vintage)
    note = snap.row(TOTAL)["note"]
    found = dict(re.findall(r"(?:PDPOSGSC-)?(L2|G2L3|G3L6|G6L7|G7L11|G11L21|G21) ([\d,]+)", note))
    assert len(found) == 7
    usd_mn = {k: float(v.replace(",", "")) for k, v in found.items()}
    want = fr2004_to_model_buckets(usd_mn)
    for b, q in zip(BUCKETS, ROWS, strict=True):
        assert snap.value(q) == pytest.approx(want[b] / 1000, abs=5e-4), q


@pytest.mark.parametrize("vintage", VINTAGES)
def test_built_dealers_hold_the_bucket_rows(vintage: str) -> None:
    got = measure_aggregates(build_system(vintage=vintage, seed=0))
    want = np.array([load_snapshot(vintage).value(q) for q in ROWS])
    np.testing.assert_allclose(got["dealer_inventory_by_bucket"], want, rtol=0, atol=1e-6)
    np.testing.assert_allclose(build_targets(vintage)["dealer_inventory_by_bucket"], want)


def test_builder_does_not_use_the_synthetic_weights() -> None:
    assert not hasattr(build_module, "DEALER_BUCKET_WEIGHTS")


def _without(vintage: str, quantity: str):
    snap = load_snapshot(vintage)
    return dataclasses.replace(snap, table=snap.table[snap.table["quantity"] != quantity])


def test_missing_bucket_row_is_an_error_naming_vintage_and_quantity() -> None:
    snap = _without("2020-02", "dealer_ust_inventory_10y_usd_bn")
    with pytest.raises(ValueError, match=r"2020-02.*dealer_ust_inventory_10y_usd_bn"):
        build_targets(snap)
    with pytest.raises(ValueError, match="dealer_ust_inventory_10y_usd_bn"):
        build_module.build_tables(snap, n_hedge_funds=60)


def test_bucket_rows_not_adding_up_is_an_error() -> None:
    snap = load_snapshot("latest")
    table = snap.table.copy()
    table.loc[table["quantity"] == "dealer_ust_inventory_2y_usd_bn", "value"] += 1.0
    with pytest.raises(ValueError, match="does not add up to dealer_ust_inventory_usd_bn"):
        build_targets(dataclasses.replace(snap, table=table))


def test_mapping_hand_checked_2025() -> None:
    # FR 2004 of 2025-11-26, USD mn: 2y = 78,606 + 22,679; 5y = 73,408 + 32,313;
    # 10y = 42,326 + 0.4 x 37,603 = 57,367.2; 30y = 57,450 + 0.6 x 37,603 = 80,011.8
    got = fr2004_to_model_buckets({"L2": 78606, "G2L3": 22679, "G3L6": 73408, "G6L7": 32313,
                                   "G7L11": 42326, "G11L21": 37603, "G21": 57450})  # fmt: skip
    assert got == pytest.approx({"2y": 101285, "5y": 105721, "10y": 57367.2, "30y": 80011.8})
    assert sum(got.values()) == pytest.approx(344385)


def test_mapping_hand_checked_before_2022() -> None:
    # one >11y bucket (G11): 4/19 of it (11-15y of 11-30y) to 10y, 15/19 to 30y
    got = fr2004_to_model_buckets({"L2": 1, "G2L3": 2, "G3L6": 3, "G6L7": 4, "G7L11": 5,
                                   "G11": 19})  # fmt: skip
    assert got == pytest.approx({"2y": 3, "5y": 7, "10y": 9, "30y": 15})


@pytest.mark.parametrize(
    "positions, message",
    [
        ({"L2": 1, "G2L3": 1, "G3L6": 1, "G6L7": 1, "G7L11": 1, "G11L21": 1}, "above 11y"),
        ({"L2": 1, "G2L3": 1, "G3L6": 1, "G6L7": 1, "G7L11": 1, "G11": 1, "G21": 1},
         "above 11y"),
        ({"L2": 1, "G3L6": 1, "G6L7": 1, "G7L11": 1, "G11": 1}, "missing"),
        ({"L2": 1, "G2L3": 1, "G3L6": 1, "G6L7": 1, "G7L11": 1, "G11": 1, "TIPS": 1},
         "unknown"),
    ],
)  # fmt: skip
def test_mapping_rejects_incomplete_or_mixed_buckets(positions, message) -> None:
    with pytest.raises(ValueError, match=message):
        fr2004_to_model_buckets(positions)
