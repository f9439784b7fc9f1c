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
# # 3. A policy experiment with uncertainty bands
#
# Arms are lists of policies run on the same shocks. With `draws > 0` the uncertain model
# parameters (price impact, margin and haircut sensitivities, ...) are drawn from plausible
# ranges, once per draw, and every arm of a draw uses the same parameters: the arms are
# paired, so their differences are policy effects, not noise. Sizes are kept small here
# (the toy system, 8 draws) so the notebook runs in seconds.

# %%
import pandas as pd
from IPython.display import SVG, display

import contagion
from contagion.experiment import DEFAULT_UNCERTAINTY, experiment
from contagion.policies import QEConfig, SLRReliefConfig, SovereignFundConfig
from contagion.report import figures, render

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
res = experiment(system, scenario, arms, draws=DRAWS, rng=2025)
res.metrics.round(2)

# %% [markdown]
# Effectiveness is measured against `no_action` (positive is better), and the cost as the
# central bank's balance sheet used, cash lent and budget spent.

# %%
res.effectiveness.T.round(2)

# %%
size = render.intervention_size(res.effectiveness)
display(SVG(figures.to_svg(figures.cost_benefit(res.effectiveness, size))))

# %% [markdown]
# ## Uncertainty bands
# Median and 10-90% range across the draws, and the paired reduction of the peak 10y
# yield change (each draw's arm versus the same draw's no action).

# %%
render.draw_table(res.draws, "10y")

# %%
bands = [("peak_yield_bp", "peak 10y yield (bp)"), ("fire_sale_usd_bn", "fire sales (USD bn)"),
         ("losses_usd_bn", "losses (USD bn)")]  # fmt: skip
display(SVG(figures.to_svg(figures.draw_bands(res.draws, bands))))

# %%
for line in render.verdict(res.metrics, res.effectiveness, res.draws, "10y"):
    print("-", line)
