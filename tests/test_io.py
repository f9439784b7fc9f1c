"""Round trips through every format, hand-built graphs, and file errors that name the file."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import SMALL_MARKET, basis_system
from hypothesis import given
from hypothesis import strategies as st

from contagion import InputError, System, io


def assert_same(a: System, b: System) -> None:
    pd.testing.assert_frame_equal(a.institutions, b.institutions)
    pd.testing.assert_frame_equal(a.exposures, b.exposures)
    assert a.market == b.market
    assert (a.name, a.description, a.metadata) == (b.name, b.description, b.metadata)
    assert a.equals(b)


def random_system(seed: int) -> System:
    rng = np.random.default_rng(seed)
    funds = [
        (int(rng.integers(2)), *rng.uniform(0.1, 500, 2), rng.uniform(0, 0.2), *rng.random(2))
        for _ in range(8)
    ]
    meta = {"seed": seed, "sources": ["drawn"], "nested": {"x": 1.5}}
    return basis_system(funds, unsecured=rng.uniform(0, 50), name="random", metadata=meta)


@pytest.fixture(params=["toy", "random"])
def system(request, toy: System) -> System:
    return toy if request.param == "toy" else random_system(7)


def via_file(s: System, path: Path) -> System:
    io.save_system(s, path)
    return io.load_system(path)


def via_csv(s: System, path: Path) -> System:
    return io.load_system(io.to_csv(s, path / "csv"))


def via_node_link_file(s: System, path: Path) -> System:
    (path / "g.json").write_text(json.dumps(io.to_node_link(s)), encoding="utf-8")
    return io.load_system(path / "g.json")


def via_read_graphml(s: System, path: Path) -> System:
    """What a networkx user does with our export: nx.read_graphml, then from_networkx."""
    io.to_graphml(s, path / "s.graphml")
    return io.from_networkx(nx.read_graphml(path / "s.graphml"))


ROUND_TRIPS = {
    "nx_read_graphml": via_read_graphml,
    "dict": lambda s, p: io.from_dict(io.to_dict(s)),
    "yaml": lambda s, p: via_file(s, p / "s.yaml"),
    "yml": lambda s, p: via_file(s, p / "s.yml"),
    "json": lambda s, p: via_file(s, p / "s.json"),
    "graphml": lambda s, p: via_file(s, p / "s.graphml"),
    "csv": via_csv,
    "networkx": lambda s, p: io.from_networkx(io.to_networkx(s)),
    "node_link": lambda s, p: io.from_node_link(io.to_node_link(s)),
    "node_link_file": via_node_link_file,
}


@pytest.mark.parametrize("fmt", ROUND_TRIPS)
def test_round_trip_is_lossless(fmt: str, system: System, tmp_path: Path) -> None:
    assert_same(ROUND_TRIPS[fmt](system, tmp_path), system)


def test_from_tables_of_a_round_trip(system: System, tmp_path: Path) -> None:
    back = io.load_system(io.to_csv(system, tmp_path))
    rebuilt = System(*back.to_tables(), back.market, name=system.name, metadata=system.metadata)
    pd.testing.assert_frame_equal(rebuilt.institutions, system.institutions)


def test_document_layout(toy: System) -> None:
    doc = io.to_dict(toy)
    assert set(doc) == io.DOC_KEYS
    json.dumps(doc, allow_nan=False)  # plain JSON, no numpy scalars
    fut = next(r for r in doc["exposures"] if r["id"] == "fut_alpha_ty")
    assert "amount_usd_bn" not in fut and "collateral_bucket" not in fut
    assert fut["notional_usd_bn"] == -100.0


def test_networkx_layout(toy: System) -> None:
    g = io.to_networkx(toy)
    assert isinstance(g, nx.MultiDiGraph)
    assert (g.number_of_nodes(), g.number_of_edges()) == (11, 13)
    assert g.nodes["hf_alpha"]["type"] == "hedge_fund"
    assert g.edges["dealer_a", "hf_alpha", "repo_alpha"]["amount_usd_bn"] == 100.0
    assert g.graph["market"]["repo_rate_pct"] == 4.3
    assert g.graph["name"] == "toy_basis_trade"


HAND_DOC = {
    "name": "hand",
    "market": SMALL_MARKET,
    "institutions": [
        {"id": "dealer", "type": "dealer", "cash_usd_bn": 100},
        {"id": "fund", "type": "hedge_fund", "cash_usd_bn": 1, "ust_10y_par_usd_bn": 10},
        {"id": "ccp", "type": "ccp", "cash_usd_bn": 1.2},
    ],
    "exposures": [
        # 10 par at 97.5 = 9.75 of value >= 9 / 0.95 + 0.2 = 9.67 needed
        {"id": "r1", "kind": "repo", "source": "dealer", "target": "fund",
         "amount_usd_bn": 9, "collateral_bucket": "10y", "haircut_frac": 0.05},
        {"id": "r2", "kind": "repo", "source": "dealer", "target": "fund",
         "amount_usd_bn": 0.2, "collateral_bucket": "10y"},
        # the other side of the fund's short (open interest adds up at the CCP); listed
        # with the dealer's other edges, in the order a graph gives them back
        {"id": "f2", "kind": "futures", "source": "dealer", "target": "ccp",
         "futures_contract": "TY", "notional_usd_bn": 10},
        {"id": "f1", "kind": "futures", "source": "fund", "target": "ccp",
         "futures_contract": "TY", "notional_usd_bn": -10, "initial_margin_usd_bn": 0.2},
    ],
}  # fmt: skip


def test_hand_built_networkx_graph() -> None:
    # Built with plain networkx calls; attributes omitted where the schema has defaults.
    g = nx.MultiDiGraph(market=SMALL_MARKET, name="hand")
    for rec in HAND_DOC["institutions"]:
        g.add_node(rec["id"], **{k: v for k, v in rec.items() if k != "id"})
    for rec in HAND_DOC["exposures"]:
        attrs = {k: v for k, v in rec.items() if k not in ("id", "source", "target")}
        g.add_edge(rec["source"], rec["target"], key=rec["id"], **attrs)
    s = io.from_networkx(g)
    assert_same(s, io.from_dict(HAND_DOC))
    # fund: 1 cash + 10 x 0.975 + 0.2 IM = 10.95 assets; 9 + 0.2 repo -> equity 1.75
    assert s.institutions.set_index("id").loc["fund", "equity_usd_bn"] == pytest.approx(1.75)


def test_hand_built_graph_without_edge_keys() -> None:
    # networkx numbers parallel edges 0, 1, ... per node pair: those are not exposure ids.
    g = nx.MultiDiGraph(market=SMALL_MARKET)
    g.add_node("dealer", type="dealer", cash_usd_bn=100)
    g.add_node("fund", type="hedge_fund", ust_2y_par_usd_bn=10)
    g.add_node("mmf", type="mmf", cash_usd_bn=10)
    g.add_edge("dealer", "fund", kind="repo", amount_usd_bn=5, collateral_bucket="2y")
    g.add_edge("dealer", "fund", kind="repo", amount_usd_bn=4, collateral_bucket="2y")
    g.add_edge("mmf", "dealer", kind="unsecured", amount_usd_bn=3)
    s = io.from_networkx(g)
    assert s.exposures["id"].tolist() == ["repo-0", "repo-1", "unsecured-2"]
    assert s.exposures["amount_usd_bn"].tolist() == [5.0, 4.0, 3.0]


def test_graph_without_market_is_an_error() -> None:
    with pytest.raises(InputError, match="field 'market': graph attribute is missing") as err:
        io.from_networkx(nx.MultiDiGraph())
    assert err.value.problems[0].field == "market"
    with pytest.raises(InputError, match="MultiDiGraph"):
        io.from_networkx(nx.Graph())  # undirected: no lender-to-borrower direction


# --- files -------------------------------------------------------------------------------
def write_doc(path: Path, doc) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def test_validation_error_from_file_names_the_file(toy: System, tmp_path: Path) -> None:
    doc = io.to_dict(toy)
    doc["exposures"][1]["haircut_frac"] = 1.0
    path = write_doc(tmp_path / "broken.yaml", doc)
    with pytest.raises(InputError, match=r"id 'repo_beta'\), field 'haircut_frac'") as err:
        io.load_system(path)
    assert str(err.value).startswith(f"{path}: ")
    assert err.value.source == str(path)
    assert err.value.problems[0].field == "haircut_frac"


def test_csv_error_names_the_directory(toy: System, tmp_path: Path) -> None:
    d = io.to_csv(toy, tmp_path / "csv")
    inst = pd.read_csv(d / "institutions.csv").astype({"cash_usd_bn": object})
    inst.loc[2, "cash_usd_bn"] = "abc"
    inst.to_csv(d / "institutions.csv", index=False)
    with pytest.raises(InputError, match=r"id 'hf_gamma'\), field 'cash_usd_bn': must be a n"):
        io.load_system(d)
    with pytest.raises(InputError) as err:
        io.load_system(d)
    assert str(d) in str(err.value)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "file is empty"),
        (b"  \n\n", "file is empty"),
        (b"name: [unclosed\nmarket: {", r"line \d+, field '\(syntax\)'"),
        (b"name: caf\xe9\n", r"field '\(encoding\)': not valid UTF-8"),
        (b"- just\n- a list\n", r"field '\(top level\)': must be a mapping, got list"),
        (b"name: x\ncolour: red\n", r"field 'colour': unknown key"),
        (b"name: x\n", r"field 'market': required key is missing"),
    ],
)
def test_bad_files(content: bytes, match: str, tmp_path: Path) -> None:
    path = tmp_path / "system.yaml"
    path.write_bytes(content)
    with pytest.raises(InputError, match=match) as err:
        io.load_system(path)
    assert str(path) in str(err.value)


def test_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"name": ', encoding="utf-8")
    with pytest.raises(InputError, match=r"s\.json: .*field '\(syntax\)'"):
        io.load_system(path)


def test_missing_file_and_unknown_suffix(toy: System, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        io.load_system(tmp_path / "nope.yaml")
    with pytest.raises(InputError, match=r"unknown format '\.txt'"):
        io.save_system(toy, tmp_path / "s.txt")


def test_bad_graphml(tmp_path: Path) -> None:
    path = tmp_path / "s.graphml"
    path.write_text("<graphml><not closed", encoding="utf-8")
    with pytest.raises(InputError, match=r"not a readable GraphML file") as err:
        io.load_system(path)
    assert str(path) in str(err.value)


def test_save_is_atomic_and_overwrites(toy: System, tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("old", encoding="utf-8")
    io.save_system(toy, path)
    assert [p.name for p in tmp_path.iterdir()] == ["s.yaml"]  # no temp files left
    assert io.load_system(path).equals(toy)


# --- property: random valid systems round-trip unchanged ----------------------------------
money = st.floats(0.0, 1e4, allow_nan=False, allow_subnormal=False)
fund = st.tuples(
    st.integers(0, 1),
    st.floats(0.01, 1e4, allow_subnormal=False),
    money,
    st.floats(0.0, 0.99, allow_subnormal=False),
    st.floats(0.0, 1.0, allow_subnormal=False),
    st.floats(0.0, 100.0, allow_subnormal=False),
)


@given(funds=st.lists(fund, min_size=1, max_size=5), unsecured=st.floats(0.0, 1e3))
def test_random_systems_round_trip(funds, unsecured) -> None:
    s = basis_system(funds, unsecured=unsecured, name="prop", metadata={"n": len(funds)})
    assert_same(io.from_dict(io.to_dict(s)), s)
    assert_same(io.from_networkx(io.to_networkx(s)), s)
    with tempfile.TemporaryDirectory() as d:
        assert_same(io.from_csv(io.to_csv(s, d)), s)


def test_from_networkx_takes_a_digraph_read_from_graphml(tmp_path: Path) -> None:
    """Without parallel exposures nx.read_graphml gives a DiGraph, edge ids as ``id``."""
    one_fund = basis_system([(0, 100.0, 50.0, 0.05, 0.5, 0.5)], name="one fund")
    io.to_graphml(one_fund, tmp_path / "s.graphml")
    g = nx.read_graphml(tmp_path / "s.graphml")
    assert type(g) is nx.DiGraph
    before = dict(g.graph)
    assert_same(io.from_networkx(g), one_fund)
    assert g.graph == before  # the caller's graph is not changed


def test_exports_are_readable_by_others(toy: System, tmp_path: Path) -> None:
    """Every export gets the mode a plain open() would give (0644 under umask 022)."""
    umask = os.umask(0o022)
    try:
        io.to_graphml(toy, tmp_path / "s.graphml")
        io.save_system(toy, tmp_path / "s.yaml")
        io.to_csv(toy, tmp_path / "csv")
    finally:
        os.umask(umask)
    for p in [tmp_path / "s.graphml", tmp_path / "s.yaml", *(tmp_path / "csv").iterdir()]:
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p.name
