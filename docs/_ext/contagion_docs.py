"""Pages generated from the code, so the documentation cannot drift from it.

At ``builder-inited`` this writes, under ``docs/_generated/`` (not in git):

- ``cli.md``: the command-line reference, from the typer app (``typer.cli``'s generator);
- ``institutions.md``, ``exposures.md``: every input column with unit, default, bounds and
  description, from the :mod:`contagion.schema` column specs;
- one field table per pydantic model (market, buckets, futures, scenario, channels, model
  parameters, experiment and sensitivity blocks, each policy type), from its JSON schema;
- ``sources.md``: the latest vintage's sourced aggregates (:mod:`calibration.snapshot`);

and copies the executed notebooks (:mod:`notebook_cache`) to ``docs/notebooks/``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import shutil
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[1]
GENERATED = DOCS / "_generated"
NOTEBOOK_PAGES = DOCS / "notebooks"


def _cell(x: Any) -> str:
    """Text for a Markdown table cell."""
    if x is None or (isinstance(x, float) and x != x):
        return ""
    text = str(x).replace("\n", " ").replace("|", "\\|")
    return text


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# --- the input tables ----------------------------------------------------------------------
def schema_page(table: str) -> str:
    import contagion

    df = contagion.schema_table(table)
    rows = []
    for name, r in df.iterrows():
        bounds = []
        if r["min"] == r["min"] and r["min"] is not None:
            bounds.append(f">= {r['min']:g}")
        if r["max"] == r["max"] and r["max"] is not None:
            bounds.append(f"<= {r['max']:g}")
        allowed = r["allowed"] or ""
        rows.append([f"`{name}`", r["dtype"], r["unit"], r["default"], ", ".join(bounds),
                     allowed, r["kinds"], r["description"]])  # fmt: skip
    return _table(
        ["column", "type", "unit", "default", "bounds", "allowed", "applies to", "description"],
        rows,
    )


# --- pydantic models ------------------------------------------------------------------------
def _type(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    """A short readable type from a JSON schema."""
    if "$ref" in schema:
        return schema["$ref"].split("/")[-1]
    if "anyOf" in schema:
        return " or ".join(_type(s, defs) for s in schema["anyOf"])
    if "const" in schema:
        return repr(schema["const"])
    if "enum" in schema:
        return " / ".join(repr(v) for v in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        if "prefixItems" in schema:
            return "[" + ", ".join(_type(s, defs) for s in schema["prefixItems"]) + "]"
        return f"list of {_type(schema.get('items', {}), defs)}"
    if kind == "object":
        extra = schema.get("additionalProperties")
        return f"mapping to {_type(extra, defs)}" if isinstance(extra, dict) else "mapping"
    names = {"number": "number", "integer": "integer", "string": "text", "boolean": "boolean",
             "null": "null"}  # fmt: skip
    return names.get(kind, "any") if kind else "any"


def _bounds(schema: dict[str, Any]) -> str:
    """Bounds of a field or of the items of a list field."""
    out = []
    for s in [schema, schema.get("items", {}) if isinstance(schema.get("items"), dict) else {}]:
        for key, sign in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
                          ("exclusiveMaximum", "<"), ("minLength", "length >="),
                          ("maxLength", "length <=")):  # fmt: skip
            if key in s:
                out.append(f"{sign} {s[key]:g}" if isinstance(s[key], float) else
                           f"{sign} {s[key]}")  # fmt: skip
    return ", ".join(out)


def model_page(model: Any, *, skip: tuple[str, ...] = ()) -> str:
    """Field table of a pydantic model: name, type, default, bounds, description."""
    schema = model.model_json_schema(mode="validation")
    defs = schema.get("$defs", {})
    rows = []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        prop = schema["properties"].get(info.alias or name, {})
        if info.is_required():
            default = "required"
        elif info.default_factory is not None:
            value = info.default_factory()
            default = "" if value in ({}, (), []) else (
                "(defaults)" if hasattr(value, "model_fields") else repr(value)
            )  # fmt: skip
        else:
            default = repr(info.default)
        rows.append([f"`{name}`", _type(prop, defs), default, _bounds(prop),
                     info.description or prop.get("description", "")])  # fmt: skip
    return _table(["field", "type", "default", "bounds", "description"], rows)


def models() -> dict[str, tuple[Any, tuple[str, ...]]]:
    from contagion.experiment import ExperimentConfig, SensitivityConfig
    from contagion.market import Bucket, FuturesContract, Market
    from contagion.scenario import Channels, ModelParams, Scenario

    return {
        "market": (Market, ()),
        "bucket": (Bucket, ()),
        "futures_contract": (FuturesContract, ()),
        "scenario": (Scenario, ()),
        "channels": (Channels, ()),
        "model_params": (ModelParams, ()),
        "experiment": (ExperimentConfig, ()),
        "sensitivity": (SensitivityConfig, ()),
    }


def policies_page() -> str:
    """One section per policy type, with its fields."""
    import contagion.policies as pol

    out = []
    common = set(pol.PolicyConfig.model_fields)
    out.append("Every policy takes the common fields:\n\n" + model_page(pol.PolicyConfig))
    for kind in pol.registry.policy_types():
        cls = pol.registry.config_class(kind)
        doc = (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        out.append(f"### `type: {kind}`\n\n{doc}\n\n"
                   + model_page(cls, skip=tuple(common | {"type"})))  # fmt: skip
    return "\n".join(out)


# --- module lists -----------------------------------------------------------------------
def submodules(package: str) -> list[str]:
    """Every module of a package, in file-name order (a new mechanism appears by itself)."""
    pkg = importlib.import_module(package)
    return [f"{package}.{m.name}" for m in sorted(pkgutil.iter_modules(pkg.__path__),
                                                  key=lambda m: m.name)]  # fmt: skip


def automodules(modules: list[str], options: str) -> str:
    """An eval-rst block documenting each module with the given autodoc options."""
    body = "\n".join(f".. automodule:: {m}\n{options}\n" for m in modules)
    return "```{eval-rst}\n" + body + "```\n"


def policy_classes() -> str:
    """An autoclass of every registered policy config (a new tool appears by itself)."""
    import contagion.policies as pol

    names = [pol.registry.config_class(k) for k in pol.registry.policy_types()]
    body = "\n".join(f".. autoclass:: {c.__module__}.{c.__qualname__}\n" for c in names)
    return "```{eval-rst}\n" + body + "```\n"


# --- data sources ---------------------------------------------------------------------------
def sources_page() -> str:
    """The latest vintage's aggregates: value, unit, date, source and quality."""
    import pandas as pd

    from calibration.snapshot import load_snapshot

    df = load_snapshot("latest").table
    rows = []
    for r in df.to_dict("records"):
        low, high = r.get("low"), r.get("high")
        rng = f"{low:g} to {high:g}" if pd.notna(low) and pd.notna(high) else ""
        source = ", ".join(str(r[k]) for k in ("source_title", "source_publisher")
                           if pd.notna(r.get(k)) and str(r[k]))  # fmt: skip
        rows.append([f"`{r['quantity']}`", f"{r['value']:g}", r["unit"], r["as_of"], source,
                     r["quality"], rng])  # fmt: skip
    return _table(["quantity", "value", "unit", "as of", "source", "quality", "range"], rows)


def network_checks_page() -> str:
    """The built systems against data (calibration.build.network_checks)."""
    from calibration.build import network_checks

    df = network_checks()
    rows = [[r["vintage"], r["check"], r["kind"], f"{r['built']:.3f}", r["data"], r["source"]]
            for r in df.to_dict("records")]  # fmt: skip
    return _table(["vintage", "check", "kind", "built", "data", "source"], rows)


# --- the command line -----------------------------------------------------------------------
def cli_page() -> str:
    import click
    import typer.main
    from typer.cli import get_docs_for_click

    from contagion.cli import app

    command = typer.main.get_command(app)
    _whole_summaries(command)
    ctx = click.Context(command, info_name="contagion")
    text = get_docs_for_click(obj=command, ctx=ctx, name="contagion", title="contagion")
    # one level down: the page's own title is the only top-level heading
    return "\n".join(("#" + line) if line.startswith("#") else line for line in text.splitlines())


def _whole_summaries(command: Any) -> None:
    """List each command with its whole first sentence (click cuts it at 45 characters)."""
    for sub in getattr(command, "commands", {}).values():
        if not sub.short_help and sub.help:
            sub.short_help = sub.help.strip().split("\n\n")[0].replace("\n", " ")
        _whole_summaries(sub)


# --- notebooks ------------------------------------------------------------------------------
def copy_notebooks() -> list[str]:
    from notebook_cache import NOTEBOOKS, executed

    NOTEBOOK_PAGES.mkdir(exist_ok=True)
    names = []
    for ipynb in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        shutil.copyfile(executed(ipynb), NOTEBOOK_PAGES / ipynb.name)
        names.append(ipynb.stem)
    return names


def _write(name: str, text: str) -> None:
    path = GENERATED / name
    if not path.exists() or path.read_text(encoding="utf-8") != text:  # keep Sphinx's cache
        path.write_text(text, encoding="utf-8")


def generate(app: Any) -> None:
    GENERATED.mkdir(exist_ok=True)
    _write("cli.md", cli_page())
    for table in ("institutions", "exposures"):
        _write(f"{table}.md", schema_page(table))
    for name, (model, skip) in models().items():
        _write(f"{name}.md", model_page(model, skip=skip))
    _write("policies.md", policies_page())
    _write("sources.md", sources_page())
    _write("network_checks.md", network_checks_page())
    mechanisms = submodules("contagion.mechanisms")
    # policies.base's docstring has a table reStructuredText cannot parse (its first
    # column is narrower than `exposure_relief`): its classes are in the API reference
    skip = ("contagion.policies.registry", "contagion.policies.base")
    policies = [m for m in submodules("contagion.policies") if m not in skip]
    _write("model_mechanisms.md", automodules(mechanisms, "   :no-members:\n   :no-index:"))
    _write("model_policies.md", automodules(policies, "   :no-members:\n   :no-index:"))
    _write("api_mechanisms.md", automodules(mechanisms, "   :members:"))
    _write("api_policies.md", policy_classes())
    copy_notebooks()


# Prose that reStructuredText would misread, in docstrings edited elsewhere (the engine's,
# restructured on main): |notional| in contagion.mechanisms.margin reads as a substitution.
LITERAL_BARS = re.compile(r"(?<![\\`|])\|(notional)\|")


def escape_bars(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    for i, line in enumerate(lines):
        if not line.startswith("    "):  # not in a literal block
            lines[i] = LITERAL_BARS.sub(r"\\|\1\\|", line)


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", generate)
    app.connect("autodoc-process-docstring", escape_bars)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
