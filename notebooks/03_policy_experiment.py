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
# # 3. A policy experiment with uncertainty bands
#
# Arms are lists of policies run on the same shocks. With `draws > 0` the uncertain model
# parameters (price impact, margin and haircut sensitivities, ...) are drawn from plausible
# ranges, once per draw, and every arm of a draw uses the same parameters: the arms are
# paired, so their differences are policy effects, not noise. Sizes are kept small here
# (the toy system, 8 Sobol' draws) so the notebook runs in seconds. A system that carries
# fitted parameters (the main job's `calibrated_us_2025`) runs with them and draws over the
# fit's ranges by default; the toy carries none, so the package defaults and
# `DEFAULT_UNCERTAINTY` apply, and the result says so.

# %%
import pandas as pd
from IPython.display import display

import contagion
from contagion.experiment import DEFAULT_UNCERTAINTY, experiment
from contagion.policies import QEConfig, SLRReliefConfig, SovereignFundConfig
from contagion.report import figures, labels

pd.set_option("display.width", 140)
DRAWS = 8
system = contagion.examples.toy_basis_trade()
scenario = contagion.scenarios.load("basis_unwind")
arms = {
    "qe_25bn": [QEConfig(name="qe", reactive_share=0.5, budget_usd_bn=25)],
    "swf_25bn": [SovereignFundConfig(name="swf", reactive_share=0.5, budget_usd_bn=25)],
    "slr_relief": [SLRReliefConfig()],
}
display(pd.DataFrame(DEFAULT_UNCERTAINTY, index=["low", "high", "kind"]).T)

# %%
res = experiment(system, scenario, arms, draws=DRAWS, rng=2025, sampling="sobol")
print(res.parameters["description"])
names = labels.arm_labels(res.results)  # readable arm names; the ids stay in the data
res.metrics.rename(index=names).round(2)

# %% [markdown]
# Effectiveness is measured against `no_action` (positive is better), and the cost as the
# central bank's balance sheet used, cash lent and budget spent (central run).

# %%
res.effectiveness.rename(index=names).T.round(2)

# %%
figures.Svg(res.plot("cost_benefit"))

# %% [markdown]
# ## Uncertainty bands
# `summary()` gives quantiles across the draws of every headline metric and of the paired
# reductions (each draw's arm versus the same draw's no action).

# %%
table = res.summary(quantiles=(0.1, 0.5, 0.9))
metrics = ["peak_yield_bp", "reduction_peak_yield_bp", "fire_sale_usd_bn"]
table[table.index.get_level_values("metric").isin(metrics)].round(1)

# %% [markdown]
# Rank robustness: the share of the draws in which the row arm has a lower peak 10y yield
# change than the column arm.

# %%
rank = res.prob_better("peak_yield_bp")
print(f"shares of {rank.attrs['draws']} draws")
rank.rename(index=names, columns=names)

# %%
figures.Svg(res.plot("bands"))

# %% [markdown]
# Fan charts: the median and p10-p90 band over time of the main paths, kept for every draw.

# %%
figures.Svg(res.plot("fan"))
