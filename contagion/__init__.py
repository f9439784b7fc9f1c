"""contagion: a network model of a US Treasury basis-trade unwind.

The system (institutions, exposures, market) is a validated :class:`System` built from
tidy tables, YAML/JSON, CSV or networkx; :meth:`System.compile` gives the array view the
engine runs on. See the README for the model and the quickstart.
"""

from contagion import (
    clearing,
    examples,
    experiment,
    io,
    metrics,
    policies,
    scenarios,
    sensitivity,
    testing,
    views,
)
from contagion._version import __version__
from contagion.engine import simulate, simulate_summary
from contagion.errors import ContagionError, InputError, InvariantError, Problem
from contagion.io import (
    from_csv,
    from_dict,
    from_graphml,
    from_networkx,
    from_node_link,
    load_system,
    save_system,
    to_csv,
    to_dict,
    to_graphml,
    to_networkx,
    to_node_link,
)
from contagion.market import Bucket, FuturesContract, Market
from contagion.result import Result
from contagion.scenario import Channels, ModelParams, Scenario, load_scenario
from contagion.schema import ExposureKind, InstitutionType, RepoSegment, schema_table
from contagion.system import System

__all__ = [
    "Bucket",
    "Channels",
    "ContagionError",
    "ExposureKind",
    "FuturesContract",
    "InputError",
    "InstitutionType",
    "InvariantError",
    "Market",
    "ModelParams",
    "Problem",
    "RepoSegment",
    "Result",
    "Scenario",
    "System",
    "__version__",
    "clearing",
    "examples",
    "experiment",
    "from_csv",
    "from_dict",
    "from_graphml",
    "from_networkx",
    "from_node_link",
    "io",
    "load_scenario",
    "load_system",
    "metrics",
    "policies",
    "save_system",
    "scenarios",
    "schema_table",
    "sensitivity",
    "simulate",
    "simulate_summary",
    "testing",
    "to_csv",
    "to_dict",
    "to_graphml",
    "to_networkx",
    "to_node_link",
    "views",
]
