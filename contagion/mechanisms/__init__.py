"""One module per mechanism: its equations (module docstring), pure kernels, and the step
functions the engine sequences (``step(state, ctx, ledger, day, ...)``, see
:mod:`contagion.steps`).

* :mod:`~contagion.mechanisms.shocks`: the scenario's daily shocks; transient impact decays.
* :mod:`~contagion.mechanisms.prices`: bond and futures prices from yields.
* :mod:`~contagion.mechanisms.margin`: variation margin, volatility-driven initial margin.
* :mod:`~contagion.mechanisms.haircuts`: repo haircuts, repo margin calls, funding runs.
* :mod:`~contagion.mechanisms.deleveraging`: unwinds, leverage targeting, redemptions.
* :mod:`~contagion.mechanisms.waterfall`: payments and the liquidity waterfall.
* :mod:`~contagion.mechanisms.dealers`: dealers' balance-sheet room and utilisation.
* :mod:`~contagion.mechanisms.price_impact`: clearing the cash and futures markets.
* :mod:`~contagion.mechanisms.settlement`: trades settle at the clearing prices.
* :mod:`~contagion.mechanisms.repo_market`: repo interest, rate, MMF supply, dealer financing.
* :mod:`~contagion.mechanisms.facilities`: standing central-bank lending facilities.
* :mod:`~contagion.mechanisms.defaults`: defaults, CCP waterfall, Eisenberg-Noe clearing.
* :mod:`~contagion.mechanisms.volatility`: the volatility index and realised volatility.

Mechanisms decide what moves; :class:`contagion.ledger.Ledger` moves it.
"""
