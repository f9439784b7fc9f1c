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

YAML is read with PyYAML's ``SafeLoader`` only (no python tags). Files are written
atomically (temp file + rename).

Errors (hostile or malformed input)
-----------------------------------
Every loader here (:func:`load_system`, :func:`from_dict`, :func:`from_csv`,
:func:`from_graphml`, :func:`from_node_link`, :func:`from_networkx`, :func:`read_document`
and, through it, ``load_scenario``, ``load_policy`` and ``load_experiment``) raises only
:class:`~contagion.errors.InputError` (a ``ValueError``) for bad input; its message names the
file (or table) and the location and field. Parser exceptions (YAML, JSON, XML, CSV),
``UnicodeDecodeError``, ``RecursionError`` (too deeply nested documents), ``OverflowError``
(integers beyond the float range, such as ``10**400``) and ``OSError`` (a symlink loop, a
permission) are converted, never leaked. Nothing is written while loading. Limits:

* files are read by :func:`contagion.files.read_bytes`: regular files only (named pipes and
  devices such as ``/dev/zero`` are refused without blocking), at most
  :data:`~contagion.files.MAX_DOCUMENT_BYTES` bytes *read*; files must be UTF-8 (a UTF-8
  byte-order mark is accepted; UTF-16 and Latin-1 are refused);
* YAML anchors/aliases ("billion laughs"): the composed node graph is measured before any
  Python object is built, each node counting 1 plus the characters of its scalar; a
  document is refused when its aliases expand it beyond :data:`MAX_EXPANDED_SIZE` and
  beyond both :data:`MAX_ALIAS_EXPANSION` times what is written and
  :data:`~contagion.files.MAX_DOCUMENT_BYTES`, or when an alias refers to a node
  containing itself (a recursive document); the check costs time linear in the file size;
* YAML mappings and JSON objects with a duplicate key are refused, in YAML also two
  spellings of one value (``0x10`` and ``16``, ``yes`` and ``true``): PyYAML and ``json``
  would silently keep the last value; a YAML merge key (``<<``) may still be overridden;
* strings holding a lone surrogate (``"\\ud800"`` in JSON or YAML) are refused (they cannot
  be written back as UTF-8);
* nesting deeper than Python's recursion limit is refused;
* GraphML is parsed by the standard library's expat, which refuses external entities and
  entity-expansion amplification; the JSON it embeds (market, metadata) obeys the JSON rules.

CSV cells that a spreadsheet would evaluate as a formula (text starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return) are written with a leading apostrophe by
:func:`csv_text` (and a text cell starting with an apostrophe gets one more), and
:func:`from_csv` removes it again, so CSV folders round-trip.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError

from contagion.errors import MAX_PROBLEMS_SHOWN, InputError, Problem
from contagion.files import (
    MAX_DOCUMENT_BYTES,
    atomic_write_text,
    read_text,
)
from contagion.market import Market
from contagion.schema import EXPOSURE_COLUMNS, EXPOSURE_SPEC, INSTITUTION_SPEC, Column
from contagion.system import System
from contagion.validation import coerced_booleans

DOC_KEYS = {"name", "description", "metadata", "market", "institutions", "exposures"}
#: The files of a CSV system folder (:func:`to_csv`, :func:`from_csv`).
CSV_FILES = ("system.yaml", "institutions.csv", "exposures.csv")
MAX_FILE_BYTES = MAX_DOCUMENT_BYTES  # the former name
# YAML size after expanding aliases, in nodes plus characters of scalars: documents this
# small may use aliases freely; beyond it aliases may multiply what is written at most
# MAX_ALIAS_EXPANSION times, and never past MAX_DOCUMENT_BYTES
MAX_EXPANDED_SIZE = 1_000_000
MAX_ALIAS_EXPANSION = 10
#: First characters that make a spreadsheet evaluate a CSV cell (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --- plain documents --------------------------------------------------------------------
def to_dict(system: System) -> dict[str, Any]:
    """The system as a JSON-able document."""
    inst, exp = system.to_tables()
    return {
        "name": system.name,
        "description": system.description,
        "metadata": system.metadata,
        "market": system.market.model_dump(mode="json"),
        "institutions": _records(_own_fund_blank(inst)),
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
    problems += _label_problems("document", doc)
    if problems:
        raise InputError(problems, source)
    market = _market(doc["market"], source)
    inst = _frame("institutions", doc["institutions"], source)
    exp = _frame("exposures", doc.get("exposures") or [], source)
    if exp.empty:
        exp = pd.DataFrame(columns=["kind", "source", "target"])
    return System(
        inst,
        exp,
        market,
        name=str(doc.get("name", "system")),
        description=str(doc.get("description", "")),
        metadata=doc.get("metadata") or {},
        source=source,
    )


def _market(raw: Any, source: str | None) -> Market:
    """Validate a market document; booleans where numbers go are refused (pydantic is lax)."""
    if isinstance(raw, Market):
        return raw
    try:
        market = Market.model_validate(raw)
    except ValidationError as err:
        raise InputError.from_validation(err, "market", source, empty="market") from None
    bools = coerced_booleans(raw, market.model_dump())
    if bools:
        raise InputError(
            [Problem("market", f, "must be a number, not a boolean") for f in bools], source
        )
    return market


def _label_problems(where: str, doc: Mapping[str, Any]) -> list[Problem]:
    """``name`` and ``description`` must be text (or a number); ``metadata`` a JSON-able map."""
    problems = []
    for key in ("name", "description"):
        v = doc.get(key)
        if key in doc and (isinstance(v, bool) or not isinstance(v, str | int | float)):
            problems.append(Problem(where, key, f"must be a string, got {type(v).__name__}"))
    if "metadata" in doc:
        meta = doc["metadata"]
        if meta is not None and not isinstance(meta, Mapping):
            problems.append(Problem(where, "metadata", "must be a mapping"))
        elif meta:
            try:
                json.dumps(meta)
            except (TypeError, ValueError, RecursionError) as err:
                problems.append(
                    Problem(
                        where,
                        "metadata",
                        f"must hold only JSON values (text, numbers, lists, mappings): {err} "
                        "(quote dates and other special values in YAML)",
                    )
                )
    return problems


def _frame(table: str, records: list, source: str | None) -> pd.DataFrame:
    problems = [
        Problem(f"{table} record {i}", "(record)", f"must be a mapping, got {type(r).__name__}")
        for i, r in enumerate(records)
        if not isinstance(r, Mapping)
    ]
    problems += [
        Problem(f"{table} record {i}", repr(k), "field names must be strings")
        for i, r in enumerate(records)
        if isinstance(r, Mapping)
        for k in r
        if not isinstance(k, str)
    ]
    if problems:
        raise InputError(problems[:MAX_PROBLEMS_SHOWN], source)
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


def _own_fund_blank(inst: pd.DataFrame) -> pd.DataFrame:
    """Leave out a ``fund_id`` equal to the institution's own id (its default)."""
    out = inst.copy()
    out["fund_id"] = out["fund_id"].where(out["fund_id"] != out["id"], "")
    return out


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
    """A regular file as UTF-8 text, bounded by bytes read (:func:`contagion.files.read_text`)."""
    return read_text(path)


def read_document(path: str | os.PathLike) -> Any:
    """Parse a YAML (safe loader) or JSON file with clear errors (limits: module docstring)."""
    path = Path(path)
    text = _read_text(path)
    if text.startswith("\ufeff"):  # a UTF-8 byte-order mark
        text = text[1:]
    if not text.strip():
        raise InputError(Problem("file", "(content)", "file is empty"), str(path))
    try:
        if path.suffix.lower() == ".json":
            doc = _parse_json(text)
        else:
            doc = _load_yaml(text)
        _check_strings(doc)
        return doc
    except InputError as err:
        raise err.with_source(str(path)) from None
    except (yaml.YAMLError, json.JSONDecodeError) as err:
        mark = getattr(err, "problem_mark", None)
        where = (
            f"line {mark.line + 1}" if mark is not None else f"line {getattr(err, 'lineno', '?')}"
        )
        raise InputError(Problem(where, "(syntax)", str(err).splitlines()[0]), str(path)) from None
    except RecursionError:
        raise InputError(
            Problem("document", "(nesting)", "nested too deeply to be read"), str(path)
        ) from None
    except (ValueError, OverflowError, TypeError) as err:  # e.g. int with > 4300 digits
        raise InputError(
            Problem("document", "(value)", f"unreadable value: {err}"), str(path)
        ) from None


def _parse_json(text: str) -> Any:
    """``json.loads`` refusing duplicate keys (raises the parser's own errors)."""
    return json.loads(text, object_pairs_hook=_json_object)


def parse_json_field(text: str, *, location: str, field: str, source: str | None) -> Any:
    """JSON held in a field (GraphML's market and metadata): errors name the field."""
    try:
        doc = _parse_json(text)
        _check_strings(doc)
        return doc
    except InputError as err:
        raise InputError(
            [Problem(location, f"{field}.{q.field}", q.reason) for q in err.problems], source
        ) from None
    except RecursionError:
        raise InputError(Problem(location, field, "nested too deeply to be read"), source) from None
    except ValueError as err:  # JSONDecodeError, an int with > 4300 digits
        raise InputError(Problem(location, field, f"not valid JSON: {err}"), source) from None


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise InputError(Problem("document", k, "duplicate key in a JSON object"))
        out[k] = v
    return out


def _check_strings(doc: Any) -> None:
    """Refuse strings (values or keys) holding a lone surrogate (iterative walk)."""
    stack: list[tuple[Any, str]] = [(doc, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if _has_surrogate(node):
                raise InputError(
                    Problem(
                        "document",
                        where or "(top level)",
                        "holds a lone surrogate (not valid Unicode text)",
                    )
                )
        elif isinstance(node, Mapping):
            for k, v in node.items():
                key = f"{where}.{k}" if where else str(k)
                if isinstance(k, str) and _has_surrogate(k):
                    raise InputError(Problem("document", ascii(k), "key holds a lone surrogate"))
                stack.append((v, key))
        elif isinstance(node, list | tuple):
            stack.extend((v, f"{where}.{i}" if where else str(i)) for i, v in enumerate(node))


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class _SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing keys that construct to the same value twice."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep=deep)
        written = {id(k) for k, _ in node.value}  # keys written here, not merged in by <<
        self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        own: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found an unhashable key",
                    key_node.start_mark,
                )
            if id(key_node) in written:
                if key in own:
                    first = own[key].value if isinstance(own[key], yaml.ScalarNode) else key
                    raise InputError(
                        Problem(
                            _yaml_line(key_node),
                            str(key_node.value if isinstance(key_node, yaml.ScalarNode) else key),
                            f"duplicate key (the same key as {first!r} at {_yaml_line(own[key])})",
                        )
                    )
                own[key] = key_node
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


def _load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with a check of the composed node graph before construction."""
    loader = _SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_yaml_nodes(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_yaml_nodes(root: yaml.Node) -> None:
    """Refuse alias bombs and recursive aliases (iterative walk of the node graph)."""
    size: dict[int, int] = {}  # id(node) -> size after expanding aliases
    own: dict[int, int] = {}  # id(node) -> its own size (1 + characters of a scalar)
    open_: set[int] = set()  # nodes on the current path
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        nid = id(node)
        kids = _yaml_children(node)
        if done:
            open_.discard(nid)
            size[nid] = own[nid] + sum(size[id(k)] for k in kids)
            continue
        if nid in size:
            continue
        if nid in open_:
            raise InputError(
                Problem(_yaml_line(node), "(alias)", "an alias refers to a node containing it")
            )
        own[nid] = 1 + (len(node.value) if isinstance(node, yaml.ScalarNode) else 0)
        open_.add(nid)
        stack.append((node, True))
        for k in kids:
            if id(k) in open_:
                raise InputError(
                    Problem(_yaml_line(k), "(alias)", "an alias refers to a node containing it")
                )
            if id(k) not in size:
                stack.append((k, False))
    written, expanded = sum(own.values()), size[id(root)]
    limit = max(MAX_EXPANDED_SIZE, min(MAX_ALIAS_EXPANSION * written, MAX_DOCUMENT_BYTES))
    if expanded > limit:
        raise InputError(
            Problem(
                "document",
                "(aliases)",
                f"YAML aliases expand a document of size {written} to {expanded} (nodes plus "
                f"characters; limit {limit}: {MAX_ALIAS_EXPANSION}x what is written, at most "
                f"{MAX_DOCUMENT_BYTES}, once over {MAX_EXPANDED_SIZE}); refusing a possible "
                "'billion laughs' document",
            )
        )


def _yaml_children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _yaml_line(node: yaml.Node) -> str:
    mark = node.start_mark
    return f"line {mark.line + 1}" if mark is not None else "document"


def _neutralise(value: Any) -> Any:
    """A text cell a spreadsheet would evaluate, with a leading apostrophe (see module doc)."""
    if isinstance(value, str) and value and (value[0] in FORMULA_START or value[0] == "'"):
        return "'" + value
    return value


def _restore_cell(value: Any) -> Any:
    """The inverse of :func:`_neutralise` for cells read back by :func:`from_csv`."""
    if isinstance(value, str) and len(value) > 1 and value[0] == "'":
        if value[1] in FORMULA_START or value[1] == "'":
            return value[1:]
    return value


def _is_text(series: pd.Series | pd.Index) -> bool:
    dtype = series.dtype
    return (
        pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    )


def csv_text(frame: pd.DataFrame, *, index: bool = True) -> str:
    """``frame.to_csv`` with text cells, index labels and column names that a spreadsheet
    would evaluate neutralised by a leading apostrophe (OWASP "CSV injection")."""
    out = frame.copy(deep=False)
    out.columns = [_neutralise(c) for c in out.columns]
    for j in range(out.shape[1]):
        col = out.iloc[:, j]
        if _is_text(col):
            out.isetitem(j, col.astype(object).map(_neutralise))
    if index:
        if isinstance(out.index, pd.MultiIndex):
            out.index = out.index.set_levels(
                [lvl.map(_neutralise) if _is_text(lvl) else lvl for lvl in out.index.levels]
            )
        elif _is_text(out.index):
            out.index = out.index.map(_neutralise)
        out.index.names = [_neutralise(n) for n in out.index.names]
    return out.to_csv(index=index)


def load_system(path: str | os.PathLike) -> System:
    """Load a system from YAML/JSON (by suffix), a GraphML file or a CSV directory."""
    path = Path(path)
    if path.is_dir():
        return from_csv(path)
    if path.suffix.lower() == ".graphml":
        return from_graphml(path)
    doc = read_document(path)
    if isinstance(doc, Mapping) and "nodes" in doc and "institutions" not in doc:
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
    atomic_write_text(d / "institutions.csv", csv_text(inst, index=False))
    atomic_write_text(d / "exposures.csv", csv_text(exp, index=False))
    head = {k: v for k, v in to_dict(system).items() if k not in ("institutions", "exposures")}
    atomic_write_text(d / "system.yaml", yaml.safe_dump(head, sort_keys=False))
    return d


def from_csv(directory: str | os.PathLike) -> System:
    """Read a CSV directory written by :func:`to_csv`."""
    d = Path(directory)
    head = read_document(d / "system.yaml")
    if not isinstance(head, Mapping):
        raise InputError(
            Problem("document", "(top level)", "must be a mapping"), str(d / "system.yaml")
        )
    problems = _label_problems("system.yaml", head)
    if problems:
        raise InputError(problems, str(d / "system.yaml"))
    inst = _read_csv(
        d / "institutions.csv",
        {"id": str, "name": str, "type": str, "strategy": str, "fund_id": str},
    )
    exp_types = {c.name: str for c in EXPOSURE_COLUMNS if c.dtype != "float"}
    exp = _read_csv(d / "exposures.csv", exp_types)
    return System(
        inst,
        exp,
        _market(head.get("market", {}), str(d / "system.yaml")),
        name=str(head.get("name", "system")),
        description=str(head.get("description", "")),
        metadata=head.get("metadata") or {},
        source=str(d),
    )


def _csv_reason(err: Exception) -> str:
    """The parser's first line, in words: pandas' tokenizer says 'Error tokenizing data. C
    error: Expected 14 fields in line 5, saw 15', whose second 'error:' reads as a second
    error to a person and to tools that split on it."""
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    reason = reason.replace("Error tokenizing data. C error: ", "not a valid CSV table: ")
    return reason.replace("error: ", "").replace("Error: ", "")


def _read_csv(path: Path, dtypes: Mapping[str, type]) -> pd.DataFrame:
    text = _read_text(path)  # clear errors for missing / special / non-UTF-8 files
    try:
        df = pd.read_csv(
            io.StringIO(text.removeprefix("\ufeff")),
            dtype=dtypes,
            keep_default_na=False,
            na_values=[""],
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OverflowError) as err:
        raise InputError(Problem("file", "(csv)", _csv_reason(err)), str(path)) from None
    for col in df.columns:
        if col in dtypes:  # text columns: undo the formula neutralisation of csv_text
            df[col] = df[col].map(_restore_cell)
    return df


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
    g.add_nodes_from((rec.pop("id"), rec) for rec in _records(_own_fund_blank(inst)))
    for row, rec in enumerate(_records(_drop_neutral(exp))):
        eid = rec.pop("id")
        g.add_edge(rec.pop("source"), rec.pop("target"), key=eid, row=row, **rec)
    return g


def from_networkx(graph: nx.MultiDiGraph, *, source: str | None = None) -> System:
    """Build a system from a MultiDiGraph laid out as :func:`to_networkx` writes it.

    Also what ``networkx.read_graphml`` returns for a file of :func:`to_graphml`: a
    ``DiGraph`` when no pair of institutions has two exposures (edge ids then sit in the
    ``id`` attribute), market and metadata as JSON strings, whole floats read as ints.
    """
    if isinstance(graph, nx.DiGraph) and not graph.is_multigraph():
        graph = nx.MultiDiGraph(graph)
    if not isinstance(graph, nx.MultiDiGraph):
        raise InputError(
            Problem("graph", "(type)", f"must be a networkx MultiDiGraph, got {type(graph)}"),
            source,
        )
    if any(isinstance(graph.graph.get(k), str) for k in ("market", "metadata")):
        graph = nx.MultiDiGraph(graph)  # a copy: the caller's graph is not changed
        _decode_graph_attrs(graph, source)
        _restore_dtypes(graph)
    gattr = graph.graph
    market = gattr.get("market")
    if market is None:
        raise InputError(Problem("graph", "market", "graph attribute is missing"), source)
    problems = _label_problems("graph", gattr)
    if problems:
        raise InputError(problems, source)
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
        _market(market, source),
        name=str(gattr.get("name", "system")),
        description=str(gattr.get("description", "")),
        metadata=gattr.get("metadata") or {},
        source=source,
    )


def graphml_graph(system: System) -> nx.MultiDiGraph:
    """The graph :func:`to_graphml` writes: :func:`to_networkx` with market and metadata
    as JSON strings (GraphML holds scalar attributes only)."""
    g = to_networkx(system)
    g.graph["market"] = json.dumps(g.graph["market"])
    g.graph["metadata"] = json.dumps(g.graph["metadata"])
    return g


def to_graphml(system: System, path: str | os.PathLike) -> None:
    """Write GraphML: scalar attributes only; market and metadata as JSON strings.

    Written atomically with the mode of any new file (0644 under the usual umask).
    """
    text = "\n".join(nx.generate_graphml(graphml_graph(system))) + "\n"
    atomic_write_text(path, text)


def from_graphml(path: str | os.PathLike) -> System:
    """Read a GraphML file written by :func:`to_graphml`."""
    path = Path(path)
    text = _read_text(path)  # regular, bounded, UTF-8
    try:
        g = nx.parse_graphml(text.encode("utf-8"), force_multigraph=True)
    except Exception as err:  # networkx raises several unrelated types for bad XML
        raise InputError(
            Problem("file", "(graphml)", f"not a readable GraphML file: {err}"), str(path)
        ) from None
    g = nx.MultiDiGraph(g)
    _decode_graph_attrs(g, str(path))
    _restore_dtypes(g)
    return from_networkx(g, source=str(path))


def _decode_graph_attrs(g: nx.MultiDiGraph, source: str | None) -> None:
    """Market and metadata stored as JSON strings (GraphML) back to mappings."""
    for key in ("market", "metadata"):
        raw = g.graph.get(key)
        if isinstance(raw, str):
            g.graph[key] = parse_json_field(raw, location="graph", field=key, source=source)
    try:  # (no lone surrogates: they cannot be written as UTF-8)
        _check_strings([g.graph, *(a for _, a in g.nodes(data=True))])
        _check_strings([a for *_, a in g.edges(keys=True, data=True)])
    except InputError as err:
        raise (err if source is None else err.with_source(source)) from None


def _restore_dtypes(g: nx.MultiDiGraph) -> None:
    """GraphML infers int for whole floats; coerce numeric schema fields back to float
    (an integer beyond the float range becomes an infinity, which validation refuses)."""
    float_node = {c.name for c in INSTITUTION_SPEC.values() if c.dtype == "float"}
    for _, attrs in g.nodes(data=True):
        for k, v in attrs.items():
            if (k in float_node or k.endswith("_usd_bn")) and isinstance(v, int):
                try:
                    attrs[k] = float(v)
                except OverflowError:
                    attrs[k] = float("inf") if v > 0 else float("-inf")


def to_node_link(system: System) -> dict[str, Any]:
    """Node-link JSON document (``networkx.node_link_data`` with ``edges="edges"``)."""
    return nx.node_link_data(to_networkx(system), edges="edges")


def from_node_link(doc: Mapping[str, Any], *, source: str | None = None) -> System:
    """Build a system from a node-link document written by :func:`to_node_link`."""
    _check_node_link(doc, source)
    try:
        g = nx.node_link_graph(doc, directed=True, multigraph=True, edges="edges")
    except (KeyError, TypeError, ValueError, AttributeError, nx.NetworkXError) as err:
        raise InputError(Problem("node-link", "(structure)", f"invalid: {err}"), source) from None
    return from_networkx(g, source=source)


def _check_node_link(doc: Any, source: str | None) -> None:
    """Structure of a node-link document: networkx merges duplicates and invents nodes."""
    if not isinstance(doc, Mapping):
        raise InputError(Problem("node-link", "(top level)", "must be a mapping"), source)
    problems = []
    for key in ("nodes", "edges"):
        if key not in doc:
            problems.append(Problem("node-link", key, "required key is missing"))
        elif not isinstance(doc[key], list):
            problems.append(Problem("node-link", key, "must be a list of records"))
    if "graph" in doc and not isinstance(doc["graph"], Mapping):
        problems.append(Problem("node-link", "graph", "must be a mapping"))
    if problems:
        raise InputError(problems, source)
    ids: set = set()
    for i, rec in enumerate(doc["nodes"]):
        if not isinstance(rec, Mapping):
            problems.append(Problem(f"nodes record {i}", "(record)", "must be a mapping"))
        elif "id" not in rec or not isinstance(rec["id"], str | int):
            problems.append(Problem(f"nodes record {i}", "id", "must be a string"))
        elif str(rec["id"]) in ids:
            problems.append(Problem(f"nodes record {i}", "id", f"duplicate id {rec['id']!r}"))
        else:
            ids.add(str(rec["id"]))
    keys: set = set()
    for i, rec in enumerate(doc["edges"]):
        if not isinstance(rec, Mapping):
            problems.append(Problem(f"edges record {i}", "(record)", "must be a mapping"))
            continue
        for end in ("source", "target"):
            v = rec.get(end)
            if not isinstance(v, str | int) or str(v) not in ids:
                problems.append(Problem(f"edges record {i}", end, f"unknown institution {v!r}"))
        k = rec.get("key")
        if k is not None and not isinstance(k, str | int):
            problems.append(Problem(f"edges record {i}", "key", "must be a string"))
        elif isinstance(k, str) and k in keys:
            problems.append(Problem(f"edges record {i}", "key", f"duplicate exposure id {k!r}"))
        elif isinstance(k, str):
            keys.add(k)
    if problems:
        raise InputError(problems[:MAX_PROBLEMS_SHOWN], source)
