# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. Building and importing the graph
#
# A system is a typed, directed multigraph: institutions are nodes, exposures (repo,
# futures, swaps, unsecured claims) are edges. It is built from two tidy tables plus a
# market description, validated on construction, and converts losslessly to networkx,
# GraphML, node-link JSON, YAML and CSV. Amounts are in USD billions.

# %%
import tempfile
from pathlib import Path

import networkx as nx
import pandas as pd
from IPython.display import SVG, display

import contagion
from contagion import views
from contagion.report import figures

pd.set_option("display.width", 140)
toy = contagion.examples.toy_basis_trade()
display(toy)

# %% [markdown]
# ## The tables
# `institutions` has one row per institution (type, cash, holdings per tenor bucket,
# behaviour parameters); `exposures` one row per edge.

# %%
toy.institutions[["id", "name", "type", "cash_usd_bn", "ust_10y_par_usd_bn", "equity_usd_bn"]]

# %%
toy.exposures[["id", "kind", "source", "target", "amount_usd_bn", "notional_usd_bn"]]

# %% [markdown]
# Every column is documented in the schema, with its unit and bounds:

# %%
contagion.schema_table("exposures").head(8)

# %% [markdown]
# ## Building a system from tables
# Edit a table and build a new system; validation lists every problem with its row and
# field. Here we give the 10y basis fund more cash and an invalid negative one to another.

# %%
inst = toy.institutions.copy()
inst.loc[inst["id"] == "hf_alpha", "cash_usd_bn"] += 2.0
inst.loc[inst["id"] == "hf_alpha", "equity_usd_bn"] += 2.0
richer = contagion.System(inst, toy.exposures, toy.market, name="toy_richer")
print(richer.n_institutions, "institutions;", richer.n_exposures, "exposures")

bad = inst.copy()
bad.loc[bad["id"] == "hf_beta", "cash_usd_bn"] = -1.0
try:
    contagion.System(bad, toy.exposures, toy.market)
except contagion.InputError as err:
    print(err)

# %% [markdown]
# ## networkx round trip
# Nodes carry the institution columns, edges the exposure columns (keyed by exposure id),
# and the graph the market. Any networkx analysis applies; converting back gives the same
# system.

# %%
g = contagion.to_networkx(toy)
print(g)
degree = pd.Series(dict(g.degree()), name="degree").sort_values(ascending=False)
degree.head()

# %%
repo = nx.DiGraph(
    (u, v) for u, v, d in g.edges(data=True) if d["kind"] == "repo"
)  # lender -> borrower
print("repo chains:", [p for p in nx.all_simple_paths(repo, "mmf_gov", "hf_alpha")])
back = contagion.from_networkx(g)
assert contagion.to_dict(back) == contagion.to_dict(toy)

# %% [markdown]
# The same holds for the file formats (CSV folder, GraphML, YAML):

# %%
with tempfile.TemporaryDirectory() as tmp:
    contagion.to_csv(toy, Path(tmp) / "csv")
    contagion.to_graphml(toy, Path(tmp) / "toy.graphml")
    for path in (Path(tmp) / "csv", Path(tmp) / "toy.graphml"):
        assert contagion.to_dict(contagion.load_system(path)) == contagion.to_dict(toy)
    print(sorted(p.name for p in (Path(tmp) / "csv").iterdir()))

# %% [markdown]
# ## Sector views of the stylised US system
# The bundled `stylised_us_2025` system has realistic aggregates (placeholder numbers until
# calibrated): 100 hedge funds with a heavy-tailed size distribution, 25 dealers, the
# large money funds and asset managers, two CCPs and the central bank.

# %%
us = contagion.examples.stylised_us_2025()
views.sector_aggregates(us)[
    [
        "n_institutions",
        "treasury_par_usd_bn",
        "repo_borrowed_usd_bn",
        "repo_lent_usd_bn",
        "futures_short_usd_bn",
        "equity_usd_bn",
        "leverage_ratio",
    ]
].round(1)

# %%
pd.concat([views.leverage_distribution(us), views.concentration(us)]).round(3)

# %% [markdown]
# The graph laid out by sector (node area: total assets); with no simulation yet, nobody
# is stressed.

# %%
per = views.institution_metrics(us)
stress = pd.Series(0.0, index=per.index)
fig = figures.network(
    contagion.to_networkx(us), stress, pd.Series(False, index=per.index), per["assets_usd_bn"]
)
display(SVG(figures.to_svg(fig)))
