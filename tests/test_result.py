"""Result.save / Result.load: parquet + metadata.json round trips, CSV, errors, atomic writes."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

import contagion as c
from contagion.result import FRAMES

FILES = [f"{n}.parquet" for n in FRAMES] + ["metadata.json"]


@pytest.fixture(scope="module")
def stressed() -> c.Result:
    """A run with every frame populated (margin calls, sales, flows, a default)."""
    return c.simulate(c.examples.toy_basis_trade(), c.scenarios.load("basis_unwind"), rng=11)


@pytest.fixture(scope="module")
def calm() -> c.Result:
    """A run with empty events and flows frames."""
    return c.simulate(
        c.examples.toy_basis_trade(),
        c.Scenario(name="calm", days=2, channels=c.Channels(repo_market=False)),
    )


def leftovers(directory) -> list[str]:
    """Temp files a writer left behind (hidden files or *.tmp)."""
    return sorted(
        p.name for p in directory.rglob("*") if p.name.startswith(".") or ".tmp" in p.name
    )


@pytest.mark.parametrize("which", ["stressed", "calm"])
def test_round_trip_equal_frames_and_dtypes(tmp_path, request, which):
    res = request.getfixturevalue(which)
    back = c.Result.load(res.save(tmp_path / "run"))
    for name in FRAMES:
        a, b = getattr(res, name), getattr(back, name)
        pd.testing.assert_frame_equal(b, a, check_exact=True)
        assert a.dtypes.to_dict() == b.dtypes.to_dict(), name
        assert a.index.equals(b.index) and a.index.name == b.index.name
    assert back.summary == res.summary
    assert back.config == res.config
    assert back.equals(res) and res.equals(back)


def test_calm_run_has_empty_frames_to_round_trip(calm):
    assert calm.flows.empty
    assert calm.events.empty or not (calm.events["event"] == "default").any()


def test_saved_files_and_metadata(tmp_path, stressed):
    d = stressed.save(tmp_path / "run")
    assert d == tmp_path / "run"
    assert sorted(p.name for p in d.iterdir()) == sorted(FILES)
    meta = json.loads((d / "metadata.json").read_text(encoding="utf-8"))
    assert set(meta) == {"summary", "config"}
    config = meta["config"]
    assert config["scenario"]["name"] == "basis_unwind"
    assert c.Scenario.model_validate(config["scenario"]) == c.scenarios.load("basis_unwind")
    assert config["seed"] == 11
    assert config["version"] == c.__version__
    assert config["system"]["name"] == "toy_basis_trade"
    assert meta["summary"] == stressed.summary


def test_seed_none_is_recorded_as_null(tmp_path, calm):
    assert calm.config["seed"] is None
    assert c.Result.load(calm.save(tmp_path)).config["seed"] is None


def test_saving_into_a_new_nested_directory(tmp_path, stressed):
    target = tmp_path / "a" / "b" / "run"
    stressed.save(target)
    assert c.Result.load(target).equals(stressed)


def test_saving_twice_overwrites(tmp_path, stressed, calm):
    d = tmp_path / "run"
    calm.save(d)
    stressed.save(d)
    assert c.Result.load(d).equals(stressed)
    assert leftovers(d) == []


def test_save_accepts_a_string_path(tmp_path, stressed):
    d = stressed.save(str(tmp_path / "s"))
    assert c.Result.load(str(d)).equals(stressed)


def test_csv_written_on_request(tmp_path, stressed):
    d = stressed.save(tmp_path / "run", csv=True)
    for name in FRAMES:
        path = d / f"{name}.csv"
        assert path.exists()
        frame = getattr(stressed, name)
        named = frame.index.name is not None  # markets by day; the others plain rows
        back = pd.read_csv(path, index_col=0 if named else None)
        assert len(back) == len(frame)
        assert list(back.columns) == list(frame.columns)
        assert not any(str(c).startswith("Unnamed") for c in back.columns), name
    m = pd.read_csv(d / "markets.csv", index_col="day")
    pd.testing.assert_series_equal(
        m["repo_rate_pct"], stressed.markets["repo_rate_pct"], check_exact=False, rtol=1e-12
    )
    assert leftovers(d) == []


def test_no_csv_by_default(tmp_path, calm):
    d = calm.save(tmp_path / "run")
    assert not list(d.glob("*.csv"))


@pytest.mark.parametrize("missing", FILES)
def test_load_of_an_incomplete_directory_names_the_missing_file(tmp_path, calm, missing):
    d = calm.save(tmp_path / "run")
    (d / missing).unlink()
    with pytest.raises(c.InputError) as info:
        c.Result.load(d)
    msg = str(info.value)
    assert missing in msg
    assert str(d) in msg
    for present in set(FILES) - {missing}:
        assert present not in msg


def test_load_of_a_missing_directory_lists_every_file(tmp_path):
    with pytest.raises(c.InputError) as info:
        c.Result.load(tmp_path / "nothing")
    for name in FILES:
        assert name in str(info.value)


def test_writes_leave_no_temp_files(tmp_path, stressed):
    d = stressed.save(tmp_path / "run", csv=True)
    assert leftovers(d) == []
    assert leftovers(tmp_path) == []


def _failing_to_parquet(fail_on: str):
    original = pd.DataFrame.to_parquet

    def to_parquet(self, path, *args, **kwargs):
        if fail_on in str(path):
            with open(path, "wb") as fh:  # a partial file, then the disk fills up
                fh.write(b"PAR1 partial")
            raise OSError("No space left on device")
        return original(self, path, *args, **kwargs)

    return to_parquet


def test_a_failed_write_keeps_the_previous_file(tmp_path, stressed, calm, monkeypatch):
    d = stressed.save(tmp_path / "run")
    monkeypatch.setattr(pd.DataFrame, "to_parquet", _failing_to_parquet("flows"))
    with pytest.raises(OSError, match="No space"):
        calm.save(d)
    monkeypatch.undo()
    # atomic: flows.parquet is still the complete previous file, never a partial one
    pd.testing.assert_frame_equal(pd.read_parquet(d / "flows.parquet"), stressed.flows)


def test_a_failed_write_leaves_no_temp_file(tmp_path, calm, monkeypatch):
    monkeypatch.setattr(pd.DataFrame, "to_parquet", _failing_to_parquet("flows"))
    with pytest.raises(OSError):
        calm.save(tmp_path / "run")
    monkeypatch.undo()
    assert leftovers(tmp_path) == []


def test_equals_detects_differences(stressed, calm):
    assert stressed.equals(stressed)
    assert not stressed.equals(calm)
    changed = dataclasses.replace(stressed, summary={**stressed.summary, "defaults_count": -1.0})
    assert not stressed.equals(changed)
    other_config = dataclasses.replace(stressed, config={**stressed.config, "seed": 12})
    assert not stressed.equals(other_config)


def test_result_is_frozen(calm):
    with pytest.raises(AttributeError):
        calm.summary = {}  # type: ignore[misc]
