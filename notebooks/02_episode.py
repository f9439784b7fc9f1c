# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 2. Replaying an episode and reading the contagion path
#
# We run the bundled `basis_unwind` stress on the eleven-institution toy system, where every
# number can be checked by hand, then on a system of realistic size. The result is data:
# daily market paths, per-institution balance sheets, events (margin calls, forced sales,
# defaults with their cause) and flows.

# %%
import pandas as pd
from IPython.display import SVG, display

import calibration
import contagion
from contagion.report import figures, labels, render

pd.set_option("display.width", 140)
toy = contagion.examples.toy_basis_trade()
stress = contagion.scenarios.load("basis_unwind")
print(stress.description)

# %%
res = contagion.simulate(toy, stress)
print(res.parameter_set()["description"])  # which parameters ran: the toy has no fit
cols = ["yield_change_10y_bp", "basis_widening_TY_bp", "swap_spread_change_30y_bp",
        "repo_rate_pct", "dealer_utilisation_frac"]  # fmt: skip
res.markets[cols].head(8).round(2)

# %%
figures.Svg(res.plot(label="toy under basis_unwind"))

# %% [markdown]
# ## Who was hit, when, and how
# The events frame records each margin call, forced sale and default. Summing it by sector
# shows the order in which the stress spread.

# %%
render.sector_path(res)

# %%
res.events.pivot_table(index="day", columns="event", values="amount_usd_bn", aggfunc="sum").head(
    6
).round(2)

# %% [markdown]
# ## A fragile variant: defaults
# With a steeper price impact the 10y basis fund can no longer meet its calls. A default
# is recorded with its day and cause (liquidity, insolvency or clearing); its lenders seize
# and sell the collateral, which is a second wave of sales.

# %%
fragile = stress.with_params(impact_bp_per_usd_bn=0.3)
res_f = contagion.simulate(toy, fragile)
res_f.events[res_f.events["event"].isin(["default", "liquidation_sale"])]

# %%
names = toy.institutions.set_index("id")["name"]
render.institution_stress(res_f, names).sort_values("loss_share", ascending=False).round(2)

# %% [markdown]
# Equity losses by P&L channel. The channel `fire_sale` is the price-impact mark-to-market
# of every holder (bonds marked down by the sales' impact), not the volume sold.

# %%
summary = pd.Series(res_f.summary)
channels = summary[summary.index.str.startswith("equity_loss_")]
channels.index = [
    labels.channel(k.removeprefix("equity_loss_").removesuffix("_usd_bn")) for k in channels.index
]
channels.round(2)

# %% [markdown]
# ## An episode at realistic size
# The calibration package rebuilds the March 2020 episode (system, scenario and the Fed's
# actions, with the fitted parameters); if this version lacks it we run the bundled
# stylised 2025 system under the same `basis_unwind` stress.

# %%
if hasattr(calibration, "episode"):
    system, scenario, policies = calibration.episode("march_2020")
else:
    system, scenario, policies = contagion.examples.stylised_us_2025(), stress, []
big = contagion.simulate(system, scenario, policies)
episode = f"{scenario.name} with {', '.join(p.type for p in policies) or 'no policy'}"
print(system.name, "under", episode)
print(big.parameter_set()["description"])
pd.Series(big.summary)[
    ["peak_yield_change_10y_bp", "fire_sale_volume_usd_bn", "defaults_count",
     "equity_loss_total_usd_bn"]
].round(1)  # fmt: skip

# %%
sectors = labels.sector_labels(system.institutions)  # "other" named by what it contains
render.sector_path(big).assign(sector=lambda f: f["sector"].map(sectors))

# %% [markdown]
# The network coloured by the share of equity each institution lost (grey: the central
# bank, which cannot fail):

# %%
st = render.institution_stress(big, system.institutions.set_index("id")["name"])
fig = figures.network(
    contagion.to_networkx(system), st["loss_share"], st["default_day"].notna(),
    st["assets_usd_bn"],
)  # fmt: skip
display(SVG(figures.to_svg(fig)))

# %%
cum = figures.cumulative_sales({episode: big.events}, scenario.days)
display(SVG(figures.to_svg(figures.sales_by_sector(cum, sectors=sectors))))
