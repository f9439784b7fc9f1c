"""One module per mechanism, each a set of pure functions of state arrays and parameters.

* :mod:`~contagion.mechanisms.margin`: variation margin, volatility-driven initial margin.
* :mod:`~contagion.mechanisms.haircuts`: repo haircuts, repo margin calls, funding runs.
* :mod:`~contagion.mechanisms.deleveraging`: liquidity waterfall, unwinds, leverage targeting,
  redemptions.
* :mod:`~contagion.mechanisms.price_impact`: cash and futures price impact, dealer capacity.
* :mod:`~contagion.mechanisms.repo_market`: repo rate, MMF lending capacity.
* :mod:`~contagion.mechanisms.defaults`: CCP waterfall and clearing inputs.

The engine (:mod:`contagion.engine`) only sequences them and applies their flows.
"""
