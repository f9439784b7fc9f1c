"""Scenario validation (clear errors naming the field), path padding, copies, bundled ones."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from pydantic import ValidationError

import contagion as c
from contagion.scenario import MAX_DAYS, scenario_from_dict


def problem_fields(err: c.InputError) -> list[str]:
    return [p.field for p in err.problems]


# --- scenario_from_dict: every invalid document names its field -------------------------------
INVALID = {
    "unknown top-level field": ({"bogus": 1}, "bogus", "Extra inputs"),
    "misspelt path": ({"volatility_multipler": [2.0]}, "volatility_multipler", "Extra"),
    "unknown channel": ({"channels": {"margins": False}}, "channels.margins", "Extra"),
    "unknown param": ({"params": {"lambda": 1.0}}, "params.lambda", "Extra"),
    "days not an int": ({"days": "ten"}, "days", "integer"),
    "days fractional": ({"days": 2.5}, "days", "fractional"),
    "path not a sequence": ({"volatility_multiplier": 2.0}, "volatility_multiplier", "valid"),
    "path of text": ({"am_redemption_frac": ["a lot"]}, "am_redemption_frac.0", "number"),
    "rate shock not a mapping": ({"rate_shock_bp": [1, 2]}, "rate_shock_bp", "dictionary"),
    "channel not a bool": ({"channels": {"haircuts": "maybe"}}, "channels.haircuts", "boolean"),
    "param not a number": ({"params": {"impact_convexity": "x"}}, "params.impact_convexity", ""),
    "max_iterations fractional": (
        {"params": {"max_iterations": 2.5}},
        "params.max_iterations",
        "fractional",
    ),
    "NaN volatility": ({"volatility_multiplier": [math.nan]}, "volatility_multiplier.0", "finite"),
    "inf rate shock": ({"rate_shock_bp": {"10y": [0.0, math.inf]}}, "rate_shock_bp.10y.1", ""),
    "-inf sales": (
        {"exogenous_sales_usd_bn": {"10y": [-math.inf]}},
        "exogenous_sales_usd_bn.10y.0",
        "",
    ),
    "NaN param": (
        {"params": {"impact_bp_per_usd_bn": math.nan}},
        "params.impact_bp_per_usd_bn",
        "",
    ),
    "inf param": ({"params": {"day_count_days": math.inf}}, "params.day_count_days", ""),
    "negative redemption": (
        {"am_redemption_frac": [0.01, -0.1]},
        "am_redemption_frac.1",
        "greater than or equal to 0",
    ),
    "redemption above 1": ({"am_redemption_frac": [1.5]}, "am_redemption_frac.0", "1"),
    "negative MMF outflow": ({"mmf_outflow_frac": [-0.01]}, "mmf_outflow_frac.0", "0"),
    "negative sales": (
        {"exogenous_sales_usd_bn": {"2y": [-1.0]}},
        "exogenous_sales_usd_bn.2y.0",
        "0",
    ),
    "zero volatility": ({"volatility_multiplier": [0.0]}, "volatility_multiplier.0", "greater"),
    "haircut add-on of 1": ({"haircut_addon_frac": [1.0]}, "haircut_addon_frac.0", "less"),
    "capacity shock below -1": (
        {"dealer_capacity_shock_frac": [-2]},
        "dealer_capacity_shock_frac.0",
        "",
    ),
    "days zero": ({"days": 0}, "days", "greater than or equal to 1"),
    "days negative": ({"days": -3}, "days", "1"),
    "days above the maximum": ({"days": MAX_DAYS + 1}, "days", str(MAX_DAYS)),
    "empty name": ({"name": ""}, "name", "at least 1"),
    "param below its bound": ({"params": {"impact_convexity": -1}}, "params.impact_convexity", "0"),
    "param above its bound": (
        {"params": {"max_haircut_frac": 1.0}},
        "params.max_haircut_frac",
        "1",
    ),
    "iterations zero": ({"params": {"max_iterations": 0}}, "params.max_iterations", "1"),
}


@pytest.mark.parametrize(("doc", "field", "says"), INVALID.values(), ids=INVALID.keys())
def test_invalid_document_raises_input_error_naming_the_field(doc, field, says):
    with pytest.raises(c.InputError) as info:
        scenario_from_dict(doc, source="shock.yaml")
    err = info.value
    assert field in problem_fields(err)
    msg = str(err)
    assert msg.startswith("shock.yaml: ")
    assert f"field '{field}'" in msg
    assert says in msg


def test_every_problem_is_listed():
    doc = {"bogus": 1, "days": 0, "volatility_multiplier": [math.nan], "channels": {"x": True}}
    with pytest.raises(c.InputError) as info:
        scenario_from_dict(doc)
    fields = problem_fields(info.value)
    assert {"bogus", "days", "volatility_multiplier.0", "channels.x"} <= set(fields)
    assert "4 problems" in str(info.value)


@pytest.mark.parametrize("doc", [[1, 2], "days: 3", 3, None], ids=["list", "str", "int", "none"])
def test_non_mapping_document(doc):
    with pytest.raises(c.InputError, match="top level"):
        scenario_from_dict(doc)


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"days": 2, "volatility_multiplier": [1.0, 2.0, 3.0]}, "volatility_multiplier"),
        ({"days": 2, "am_redemption_frac": [0.0] * 3}, "am_redemption_frac"),
        ({"days": 2, "mmf_outflow_frac": [0.0] * 3}, "mmf_outflow_frac"),
        ({"days": 2, "haircut_addon_frac": [0.0] * 3}, "haircut_addon_frac"),
        ({"days": 2, "initial_margin_addon_frac": [0.0] * 3}, "initial_margin_addon_frac"),
        ({"days": 2, "dealer_capacity_shock_frac": [0.0] * 3}, "dealer_capacity_shock_frac"),
        ({"days": 2, "rate_shock_bp": {"10y": [1, 2, 3]}}, "rate_shock_bp.10y"),
        ({"days": 1, "exogenous_sales_usd_bn": {"30y": [1, 2]}}, "exogenous_sales_usd_bn.30y"),
    ],
)
def test_path_longer_than_days(doc, field):
    with pytest.raises(c.InputError) as info:
        scenario_from_dict(doc)
    # the problem is reported on the whole model, but its message names the path
    assert f"{field}: " in str(info.value)
    assert f"values for {doc['days']} days" in str(info.value)


def test_path_as_long_as_days_is_fine():
    s = scenario_from_dict({"days": 3, "volatility_multiplier": [1, 2, 3]})
    assert s.path("volatility_multiplier").tolist() == [1.0, 2.0, 3.0]


def test_days_bounds_are_inclusive():
    assert scenario_from_dict({"days": 1}).days == 1
    assert scenario_from_dict({"days": MAX_DAYS}).days == MAX_DAYS


# --- unknown buckets: only the system knows its buckets ----------------------------------------
@pytest.mark.parametrize("field", ["rate_shock_bp", "exogenous_sales_usd_bn"])
def test_unknown_bucket_raises_at_simulate_time(field, toy):
    sc = c.Scenario(name="typo", days=2, **{field: {"10y": [1.0], "7y": [1.0]}})
    with pytest.raises(c.InputError) as info:
        c.simulate(toy, sc)
    err = info.value
    assert err.field == f"{field}.7y"
    assert "unknown bucket" in str(err)
    assert "2y, 5y, 10y, 30y" in str(err)  # says what is allowed
    assert "typo" in str(err)  # names the scenario


def test_bucket_paths_pads_flows_with_zeros():
    sc = c.Scenario(days=4, rate_shock_bp={"10y": [5.0, 3.0], "2y": [1.0]})
    out = sc.bucket_paths("rate_shock_bp", ["2y", "10y", "30y"])
    assert out.shape == (4, 3)
    np.testing.assert_array_equal(out[:, 0], [1, 0, 0, 0])
    np.testing.assert_array_equal(out[:, 1], [5, 3, 0, 0])
    np.testing.assert_array_equal(out[:, 2], [0, 0, 0, 0])


# --- load_scenario: files --------------------------------------------------------------------
def test_load_yaml_and_json(tmp_path):
    (tmp_path / "s.yaml").write_text(
        "name: s\ndays: 3\nvolatility_multiplier: [1.5]\nrate_shock_bp: {10y: [10]}\n"
        "channels: {haircuts: false}\nparams: {impact_convexity: 2}\n",
        encoding="utf-8",
    )
    s = c.load_scenario(tmp_path / "s.yaml")
    assert (s.name, s.days, s.channels.haircuts, s.params.impact_convexity) == ("s", 3, False, 2)
    (tmp_path / "s.json").write_text(json.dumps(s.model_dump(mode="json")), encoding="utf-8")
    assert c.load_scenario(tmp_path / "s.json") == s
    assert c.load_scenario(str(tmp_path / "s.yaml")) == s


def test_round_trip_through_yaml_dump(tmp_path):
    import yaml

    sc = c.scenarios.load("basis_unwind")
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(sc.model_dump(mode="json")), "utf-8")
    assert c.load_scenario(tmp_path / "b.yaml") == sc


@pytest.mark.parametrize(
    ("name", "text", "field"),
    [
        ("syntax.yaml", "name: x\ndays: [1,\n", "(syntax)"),
        ("tabs.yaml", "name: x\n\tdays: 3\n", "(syntax)"),
        ("syntax.json", '{"name": "x", ', "(syntax)"),
        ("empty.yaml", "", "(content)"),
        ("blank.yaml", "  \n\n", "(content)"),
        ("list.yaml", "- 1\n- 2\n", "(top level)"),
        ("nan.yaml", "volatility_multiplier: [.nan]\n", "volatility_multiplier.0"),
        ("inf.yaml", "rate_shock_bp: {10y: [.inf]}\n", "rate_shock_bp.10y.0"),
        ("nan.json", '{"volatility_multiplier": [NaN]}', "volatility_multiplier.0"),
        ("extra.yaml", "name: x\nshock: 3\n", "shock"),
        ("negative.yaml", "am_redemption_frac: [-0.5]\n", "am_redemption_frac.0"),
        ("days.yaml", "days: 99999\n", "days"),
    ],
)
def test_load_invalid_file_names_file_and_field(tmp_path, name, text, field):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(c.InputError) as info:
        c.load_scenario(path)
    assert info.value.field == field
    assert str(path) in str(info.value)
    assert info.value.source == str(path)


def test_yaml_syntax_error_gives_the_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: x\ndays: 3\nvolatility_multiplier: [1,\n", encoding="utf-8")
    with pytest.raises(c.InputError, match=r"line \d+"):
        c.load_scenario(path)


def test_missing_file(tmp_path):
    with pytest.raises(c.InputError, match="not found") as info:
        c.load_scenario(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in str(info.value)


def test_input_error_is_a_value_error(tmp_path):
    with pytest.raises(ValueError):
        scenario_from_dict({"days": 0})


# --- path(): padding -----------------------------------------------------------------------------
LEVELS = (
    "volatility_multiplier",
    "haircut_addon_frac",
    "initial_margin_addon_frac",
    "dealer_capacity_shock_frac",
)
FLOWS = ("am_redemption_frac", "mmf_outflow_frac")


@pytest.mark.parametrize("name", LEVELS)
def test_levels_keep_their_last_value(name):
    s = c.Scenario(days=5, **{name: [0.2, 0.5]})
    assert s.path(name).tolist() == [0.2, 0.5, 0.5, 0.5, 0.5]


@pytest.mark.parametrize("name", FLOWS)
def test_flows_pad_with_zero(name):
    s = c.Scenario(days=5, **{name: [0.2, 0.5]})
    assert s.path(name).tolist() == [0.2, 0.5, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("name", LEVELS + FLOWS)
def test_empty_path_is_neutral(name):
    neutral = 1.0 if name == "volatility_multiplier" else 0.0
    path = c.Scenario(days=3).path(name)
    assert path.dtype == np.float64
    assert path.tolist() == [neutral] * 3


def test_path_docstring_example():
    s = c.Scenario(name="vol", days=5, volatility_multiplier=[1.33, 1.67, 2.0])
    assert s.path("volatility_multiplier").tolist() == [1.33, 1.67, 2.0, 2.0, 2.0]


def test_path_full_length_is_unchanged():
    s = c.Scenario(days=3, am_redemption_frac=[0.1, 0.2, 0.3])
    assert s.path("am_redemption_frac").tolist() == [0.1, 0.2, 0.3]


# --- copies: with_params / with_channels ---------------------------------------------------
def test_with_params_changes_only_what_is_asked():
    s = c.scenarios.load("basis_unwind")
    t = s.with_params(impact_convexity=2.0, max_iterations=7)
    assert (t.params.impact_convexity, t.params.max_iterations) == (2.0, 7)
    assert s.params.impact_convexity != 2.0 or s.params.max_iterations != 7  # s unchanged
    assert t.model_dump(exclude={"params"}) == s.model_dump(exclude={"params"})
    others = set(c.ModelParams.model_fields) - {"impact_convexity", "max_iterations"}
    assert all(getattr(t.params, k) == getattr(s.params, k) for k in others)


def test_with_channels_changes_only_what_is_asked():
    s = c.scenarios.load("basis_unwind")
    t = s.with_channels(haircuts=False, defaults=False)
    assert not t.channels.haircuts and not t.channels.defaults
    assert s.channels.haircuts and s.channels.defaults
    others = set(c.Channels.model_fields) - {"haircuts", "defaults"}
    assert all(getattr(t.channels, k) for k in others)
    assert t.model_dump(exclude={"channels"}) == s.model_dump(exclude={"channels"})


@pytest.mark.parametrize(
    "changes",
    [
        {"impact_convexity": -1.0},
        {"impact_convexity": math.nan},
        {"utilisation_cap_frac": 1.0},
        {"max_iterations": 0},
        {"not_a_param": 1.0},
    ],
)
def test_with_params_validates(changes):
    # raised as pydantic's ValidationError (a ValueError), not InputError: see the report
    with pytest.raises(ValueError) as info:
        c.Scenario().with_params(**changes)
    assert isinstance(info.value, ValidationError | c.InputError)
    assert next(iter(changes)) in str(info.value)


@pytest.mark.parametrize("changes", [{"haircuts": "maybe"}, {"margins": False}])
def test_with_channels_validates(changes):
    with pytest.raises(ValueError) as info:
        c.Scenario().with_channels(**changes)
    assert next(iter(changes)) in str(info.value)


# --- frozen -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("obj", "attr", "value"),
    [
        (c.Scenario(), "days", 3),
        (c.Scenario(), "volatility_multiplier", [2.0]),
        (c.Scenario(), "channels", c.Channels(haircuts=False)),
        (c.Channels(), "haircuts", False),
        (c.ModelParams(), "max_iterations", 3),
    ],
    ids=["scenario.days", "scenario.path", "scenario.channels", "channels", "params"],
)
def test_frozen(obj, attr, value):
    before = getattr(obj, attr)
    with pytest.raises(ValidationError, match="frozen"):
        setattr(obj, attr, value)
    assert getattr(obj, attr) == before


def test_scenarios_are_hashable_values():
    # frozen models compare by value; equal documents give equal scenarios
    a = scenario_from_dict({"name": "a", "days": 3})
    b = scenario_from_dict({"name": "a", "days": 3})
    assert a == b
    assert a != a.with_params(max_iterations=3)


def test_paths_cannot_be_mutated_in_place():
    s = c.Scenario(days=2, volatility_multiplier=[1.5], rate_shock_bp={"10y": [5.0]})
    with pytest.raises((TypeError, AttributeError)):
        s.volatility_multiplier.append(2.0)  # type: ignore[attr-defined]
    with pytest.raises((TypeError, AttributeError)):
        s.rate_shock_bp["10y"].append(2.0)  # type: ignore[attr-defined]
    assert s.path("volatility_multiplier").tolist() == [1.5, 1.5]


def test_boolean_days_is_rejected():
    with pytest.raises(c.InputError) as info:
        scenario_from_dict({"days": True})
    assert info.value.field == "days"


# --- bundled scenarios -------------------------------------------------------------------------
def test_available_lists_the_bundled_scenarios():
    names = c.scenarios.available()
    assert names == sorted(names)
    assert {"basis_unwind", "volatility_spike"} <= set(names)


@pytest.mark.parametrize("name", ["basis_unwind", "volatility_spike"])
def test_bundled_scenarios_load_and_run_on_the_toy(name, toy):
    s = c.scenarios.load(name)
    assert isinstance(s, c.Scenario)
    assert s.name == name
    assert s.description
    res = c.simulate(toy, s)  # every bucket it names exists in the toy market
    assert len(res.markets) == s.days + 1


def test_every_available_scenario_loads():
    for name in c.scenarios.available():
        assert c.scenarios.load(name).name == name


def test_unknown_bundled_scenario_lists_available():
    with pytest.raises(c.InputError) as info:
        c.scenarios.load("basis_unwnd")
    msg = str(info.value)
    assert info.value.field == "name"
    assert "basis_unwnd" in msg
    for name in c.scenarios.available():
        assert name in msg


def test_per_bucket_paths_cannot_be_mutated_in_place():
    s = c.Scenario(days=2, rate_shock_bp={"10y": [5.0]}, exogenous_sales_usd_bn={"2y": [1.0]})
    with pytest.raises(TypeError):
        s.rate_shock_bp["10y"] = (1.0, 2.0, 3.0)  # would bypass the length check
    table = s.exogenous_sales_usd_bn
    mutations = [
        lambda: table.__setitem__("30y", (1.0,)),
        lambda: table.__delitem__("2y"),
        lambda: table.update({"2y": (9.0,)}),
        lambda: table.setdefault("5y", (1.0,)),
        lambda: table.pop("2y"),
        lambda: table.popitem(),
        table.clear,
    ]
    for mutate in mutations:
        with pytest.raises(TypeError):
            mutate()
    with pytest.raises(TypeError):
        table |= {"5y": (1.0,)}
    assert s.rate_shock_bp == {"10y": (5.0,)} and s.exogenous_sales_usd_bn == {"2y": (1.0,)}
    assert s.bucket_paths("rate_shock_bp", ["2y", "10y"]).tolist() == [[0.0, 5.0], [0.0, 0.0]]


def test_read_only_paths_keep_round_trips_equality_hashing_and_pickling(tmp_path):
    import copy
    import json
    import pickle

    import yaml

    s = c.Scenario(name="rt", days=3, rate_shock_bp={"10y": [5.0, 1.0]}, volatility_multiplier=[2])
    same = c.Scenario(
        name="rt", days=3, rate_shock_bp={"10y": (5.0, 1.0)}, volatility_multiplier=[2]
    )
    assert s == same and hash(s) == hash(same)
    assert s != s.model_copy(update={"name": "other"})
    assert {s: 1}[same] == 1  # usable as a key: frozen all the way down
    # the dumps are plain documents and load back to equal scenarios
    doc = s.model_dump(mode="json")
    assert type(doc["rate_shock_bp"]) is dict
    assert scenario_from_dict(json.loads(json.dumps(doc))) == s
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(s.model_dump()), encoding="utf-8")
    assert c.load_scenario(path) == s
    assert c.Scenario.model_validate_json(s.model_dump_json()) == s
    # multi-process backends pickle scenarios; copies stay read-only
    for back in (pickle.loads(pickle.dumps(s)), copy.deepcopy(s), copy.copy(s)):
        assert back == s
        with pytest.raises(TypeError):
            back.rate_shock_bp["10y"] = (0.0,)


def seven_year_system() -> c.System:
    """The toy system with its 10y bucket (and the TY contract's bucket) made a 7y."""
    text = json.dumps(c.to_dict(c.examples.toy_basis_trade()))
    doc = json.loads(text.replace('"10y"', '"7y"').replace("ust_10y_", "ust_7y_"))
    for b in doc["market"]["buckets"]:
        if b["name"] == "7y":
            b["maturity_years"] = 7.0
    return c.from_dict(doc)


def test_for_system_maps_a_bundled_scenario_onto_other_buckets():
    system = seven_year_system()
    scenario = c.scenarios.load("basis_unwind")
    with pytest.raises(c.InputError, match=r"rate_shock_bp\.10y.*unknown bucket"):
        c.simulate_summary(system, scenario)
    adapted = scenario.for_system(system)
    assert "10y" not in adapted.rate_shock_bp and "7y" in adapted.rate_shock_bp
    # 7y lies between 5y and 10y: 0.6 of the way from the 5y path to the 10y path
    five, ten = np.array(scenario.rate_shock_bp["5y"]), np.array(scenario.rate_shock_bp["10y"])
    np.testing.assert_allclose(adapted.rate_shock_bp["7y"], five + 0.4 * (ten - five))
    assert adapted.rate_shock_bp["30y"] == scenario.rate_shock_bp["30y"]
    # the 10y sales go to the nearest bucket (7y); the total sold each day is unchanged
    sales = adapted.exogenous_sales_usd_bn
    assert sales["7y"] == scenario.exogenous_sales_usd_bn["10y"]
    assert sales["30y"] == scenario.exogenous_sales_usd_bn["30y"]
    assert "Adapted to the buckets of toy_basis_trade" in adapted.description
    summary = c.simulate_summary(system, adapted)
    assert summary["peak_yield_change_7y_bp"] > 0


def test_for_system_leaves_a_matching_scenario_alone(toy):
    scenario = c.scenarios.load("basis_unwind")
    assert scenario.for_system(toy) is scenario


def test_for_system_needs_a_maturity_in_an_unknown_bucket_name(toy):
    odd = c.Scenario(days=2, rate_shock_bp={"long_end": [5.0]})
    with pytest.raises(c.InputError, match=r"rate_shock_bp\.long_end.*gives no maturity"):
        odd.for_system(toy)
