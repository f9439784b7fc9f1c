"""Conversions of a :class:`~contagion.System` to and from files and graphs.

Formats (all round-trip losslessly through the normalised tables):

* a plain dict / YAML / JSON document ``{name, description, metadata, market,
  institutions: [records], exposures: [records]}``;
* a CSV directory ``institutions.csv``, ``exposures.csv``, ``system.yaml`` (market, name,
  metadata);
* a networkx ``MultiDiGraph``: nodes are institutions (attributes = institution columns),
  edges are exposures keyed by exposure id (attributes = exposure columns), graph
  attributes ``market`` (a dict), ``name``, ``description``, ``metadata``;
* GraphML (scalar attributes only: the market and metadata are stored as JSON strings);
* node-link JSON (``networkx.node_link_data(G, edges="edges")``).

YAML is read with ``yaml.safe_load`` only. Files are written atomically (temp file + rename).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import yaml

from contagion.errors import InputError, Problem
from contagion.schema import EXPOSURE_COLUMNS, EXPOSURE_SPEC, INSTITUTION_SPEC, Column
from contagion.system import System

DOC_KEYS = {"name", "description", "metadata", "market", "institutions", "exposures"}
MAX_FILE_BYTES = 2_000_000_000


# --- plain documents --------------------------------------------------------------------
def to_dict(system: System) -> dict[str, Any]:
    """The system as a JSON-able document."""
    inst, exp = system.to_tables()
    return {
        "name": system.name,
        "description": system.description,
        "metadata": system.metadata,
        "market": system.market.model_dump(mode="json"),
        "institutions": _records(inst),
        "exposures": _records(_drop_neutral(exp)),
    }


def from_dict(doc: Mapping[str, Any], *, source: str | None = None) -> System:
    """Build a system from a document (see :func:`to_dict`)."""
    if not isinstance(doc, Mapping):
        raise InputError(
            Problem("document", "(top level)", f"must be a mapping, got {type(doc).__name__}"),
            source,
        )
    problems = [
        Problem("document", str(k), f"unknown key; allowed: {', '.join(sorted(DOC_KEYS))}")
        for k in doc
        if k not in DOC_KEYS
    ]
    for key in ("market", "institutions"):
        if key not in doc:
            problems.append(Problem("document", key, "required key is missing"))
    for key in ("institutions", "exposures"):
        if key in doc and not isinstance(doc[key], list):
            problems.append(Problem("document", key, "must be a list of records"))
    if "metadata" in doc and not isinstance(doc["metadata"], Mapping):
        problems.append(Problem("document", "metadata", "must be a mapping"))
    if problems:
        raise InputError(problems, source)
    inst = _frame("institutions", doc["institutions"], source)
    exp = _frame("exposures", doc.get("exposures") or [], source)
    if exp.empty:
        exp = pd.DataFrame(columns=["kind", "source", "target"])
    return System(
        inst,
        exp,
        doc["market"],
        name=str(doc.get("name", "system")),
        description=str(doc.get("description", "")),
        metadata=doc.get("metadata") or {},
        source=source,
    )


def _frame(table: str, records: list, source: str | None) -> pd.DataFrame:
    bad = [i for i, r in enumerate(records) if not isinstance(r, Mapping)]
    if bad:
        raise InputError(
            [Problem(f"{table} record {i}", "(record)", "must be a mapping") for i in bad],
            source,
        )
    if not records:
        return pd.DataFrame()
    df = pd.DataFrame.from_records(records)
    specs = INSTITUTION_SPEC if table == "institutions" else EXPOSURE_SPEC
    for col in df.columns:
        default = _record_default(specs.get(col), col)
        if default is None:
            continue
        absent = np.array([col not in r for r in records])
        if absent.any():
            df[col] = df[col].astype(object)
            df.loc[absent, col] = default
    return df


def _record_default(spec: Column | None, col: str) -> float | str | None:
    """What a record that omits ``col`` means (None: leave blank for the table rules)."""
    if spec is None:
        return 0.0 if col.startswith("ust_") and col.endswith("_par_usd_bn") else None
    if spec.default is None or isinstance(spec.default, dict):
        return None
    if isinstance(spec.default, float) and np.isnan(spec.default):
        return None
    return spec.default


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: _scalar(v) for k, v in row.items() if not _is_blank(v)}
        for row in df.to_dict(orient="records")
    ]


def _scalar(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _is_blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v == "")


def _drop_neutral(exp: pd.DataFrame) -> pd.DataFrame:
    """Blank out fields that do not apply to an exposure's kind (keeps documents short)."""
    out = exp.astype(object)
    kinds = exp["kind"].to_numpy()
    for c in EXPOSURE_COLUMNS:
        if c.kinds:
            out.loc[~np.isin(kinds, c.kinds), c.name] = None
    return out


# --- files --------------------------------------------------------------------------------
def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(Problem("file", "(size)", f"{size} bytes is too large"), str(path))
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(Problem("file", "(path)", "file not found"), str(path)) from None
    except UnicodeDecodeError as err:
        raise InputError(
            Problem("file", "(encoding)", f"not valid UTF-8 text ({err.reason})"), str(path)
        ) from None
    except IsADirectoryError:
        raise InputError(Problem("file", "(path)", "is a directory"), str(path)) from None


def read_document(path: str | os.PathLike) -> Any:
    """Parse a YAML (``safe_load``) or JSON file with clear errors."""
    path = Path(path)
    text = _read_text(path)
    if not text.strip():
        raise InputError(Problem("file", "(content)", "file is empty"), str(path))
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(syntax)"
        raise InputError(Problem(where, "(syntax)", str(err).splitlines()[0]), str(path)) from None


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, _default_mode())  # mkstemp makes 0600; give what open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_system(path: str | os.PathLike) -> System:
    """Load a system from YAML/JSON (by suffix), a GraphML file or a CSV directory."""
    path = Path(path)
    if path.is_dir():
        return from_csv(path)
    if path.suffix.lower() == ".graphml":
        return from_graphml(path)
    doc = read_document(path)
    if isinstance(doc, Mapping) and "nodes" in doc and "edges" in doc:
        return from_node_link(doc, source=str(path))
    return from_dict(doc, source=str(path))


def save_system(system: System, path: str | os.PathLike) -> None:
    """Save as YAML (``.yaml``/``.yml``), JSON (``.json``) or GraphML (``.graphml``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".graphml":
        to_graphml(system, path)
    elif suffix == ".json":
        atomic_write_text(path, json.dumps(to_dict(system), indent=1))
    elif suffix in (".yaml", ".yml"):
        atomic_write_text(path, yaml.safe_dump(to_dict(system), sort_keys=False))
    else:
        raise InputError(
            Problem("path", "(suffix)", f"unknown format {suffix!r}; use .yaml, .json, .graphml"),
            str(path),
        )


def to_csv(system: System, directory: str | os.PathLike) -> Path:
    """Write ``institutions.csv``, ``exposures.csv`` and ``system.yaml`` into a directory."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    inst, exp = system.to_tables()
    atomic_write_text(d / "institutions.csv", inst.to_csv(index=False))
    atomic_write_text(d / "exposures.csv", exp.to_csv(index=False))
    head = {k: v for k, v in to_dict(system).items() if k not in ("institutions", "exposures")}
    atomic_write_text(d / "system.yaml", yaml.safe_dump(head, sort_keys=False))
    return d


def from_csv(directory: str | os.PathLike) -> System:
    """Read a CSV directory written by :func:`to_csv`."""
    d = Path(directory)
    head = read_document(d / "system.yaml")
    if not isinstance(head, Mapping):
        raise InputError(Problem("document", "(top level)", "must be a mapping"), str(d))
    inst = _read_csv(d / "institutions.csv", {"id": str, "name": str, "type": str})
    exp_types = {c.name: str for c in EXPOSURE_COLUMNS if c.dtype != "float"}
    exp = _read_csv(d / "exposures.csv", exp_types)
    return System(
        inst,
        exp,
        head.get("market", {}),
        name=str(head.get("name", "system")),
        description=str(head.get("description", "")),
        metadata=head.get("metadata") or {},
        source=str(d),
    )


def _read_csv(path: Path, dtypes: dict[str, type]) -> pd.DataFrame:
    _read_text(path)  # clear errors for missing / non-UTF-8 files
    try:
        return pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise InputError(Problem("file", "(csv)", str(err).splitlines()[0]), str(path)) from None


# --- networkx -------------------------------------------------------------------------------
def to_networkx(system: System) -> nx.MultiDiGraph:
    """The system as a MultiDiGraph (see module docstring for the attribute layout)."""
    inst, exp = system.to_tables()
    g = nx.MultiDiGraph(
        name=system.name,
        description=system.description,
        metadata=dict(system.metadata),
        market=system.market.model_dump(mode="json"),
    )
    g.add_nodes_from((rec.pop("id"), rec) for rec in _records(inst))
    for row, rec in enumerate(_records(_drop_neutral(exp))):
        eid = rec.pop("id")
        g.add_edge(rec.pop("source"), rec.pop("target"), key=eid, row=row, **rec)
    return g


def from_networkx(graph: nx.MultiDiGraph, *, source: str | None = None) -> System:
    """Build a system from a MultiDiGraph laid out as :func:`to_networkx` writes it."""
    if not isinstance(graph, nx.MultiDiGraph):
        raise InputError(
            Problem("graph", "(type)", f"must be a networkx MultiDiGraph, got {type(graph)}"),
            source,
        )
    gattr = graph.graph
    market = gattr.get("market")
    if market is None:
        raise InputError(Problem("graph", "market", "graph attribute is missing"), source)
    # Attributes a node or edge omits take their schema defaults, as in documents.
    inst = _frame(
        "institutions", [{"id": str(n), **attrs} for n, attrs in graph.nodes(data=True)], source
    )
    edges = [
        # integer keys are networkx's per-pair counters, not ids: let ids be generated
        {"id": "" if isinstance(k, int) else str(k), "source": str(u), "target": str(v), **attrs}
        for u, v, k, attrs in graph.edges(keys=True, data=True)
    ]
    if not edges:
        exp = pd.DataFrame(columns=["kind", "source", "target"])
    else:
        exp = _frame("exposures", edges, source)
        if "row" in exp.columns:  # written by to_networkx: restore the table order
            rows = pd.to_numeric(exp["row"], errors="coerce")
            if rows.notna().all() and rows.is_unique:
                exp = exp.iloc[np.argsort(rows.to_numpy(), kind="stable")]
            exp = exp.drop(columns="row").reset_index(drop=True)
    return System(
        inst,
        exp,
        market,
        name=str(gattr.get("name", "system")),
        description=str(gattr.get("description", "")),
        metadata=gattr.get("metadata") or {},
        source=source,
    )


def to_graphml(system: System, path: str | os.PathLike) -> None:
    """Write GraphML: scalar attributes only; market and metadata as JSON strings."""
    g = to_networkx(system)
    g.graph["market"] = json.dumps(g.graph["market"])
    g.graph["metadata"] = json.dumps(g.graph["metadata"])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".graphml.tmp")
    os.close(fd)
    try:
        nx.write_graphml(g, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def from_graphml(path: str | os.PathLike) -> System:
    """Read a GraphML file written by :func:`to_graphml`."""
    path = Path(path)
    _read_text(path)
    try:
        g = nx.read_graphml(path, force_multigraph=True)
    except Exception as err:  # networkx raises several unrelated types for bad XML
        raise InputError(
            Problem("file", "(graphml)", f"not a readable GraphML file: {err}"), str(path)
        ) from None
    g = nx.MultiDiGraph(g)
    for key in ("market", "metadata"):
        raw = g.graph.get(key)
        if isinstance(raw, str):
            try:
                g.graph[key] = json.loads(raw)
            except json.JSONDecodeError as err:
                raise InputError(
                    Problem("graph", key, f"not valid JSON: {err}"), str(path)
                ) from None
    _restore_dtypes(g)
    return from_networkx(g, source=str(path))


def _restore_dtypes(g: nx.MultiDiGraph) -> None:
    """GraphML infers int for whole floats; coerce numeric schema fields back to float."""
    float_node = {c.name for c in INSTITUTION_SPEC.values() if c.dtype == "float"}
    for _, attrs in g.nodes(data=True):
        for k, v in attrs.items():
            if (k in float_node or k.endswith("_usd_bn")) and isinstance(v, int):
                attrs[k] = float(v)


def to_node_link(system: System) -> dict[str, Any]:
    """Node-link JSON document (``networkx.node_link_data`` with ``edges="edges"``)."""
    return nx.node_link_data(to_networkx(system), edges="edges")


def from_node_link(doc: Mapping[str, Any], *, source: str | None = None) -> System:
    """Build a system from a node-link document written by :func:`to_node_link`."""
    try:
        g = nx.node_link_graph(doc, directed=True, multigraph=True, edges="edges")
    except (KeyError, TypeError, nx.NetworkXError) as err:
        raise InputError(Problem("node-link", "(structure)", f"invalid: {err}"), source) from None
    return from_networkx(g, source=source)
