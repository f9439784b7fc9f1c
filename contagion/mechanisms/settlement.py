"""Step 7 of a round: settle the trades at the clearing prices.

Sellers deliver the bonds and receive their value; policies' purchases and policies' new
issuance are netted first. What is left is bought by dealers in proportion to what they
absorbed (paid with new MMF financing, standing facilities, then cash) and by investors
outside the system at the impacted price. An unwind's sale repays the same share of the
seller's secured repo, as far as its cash allows; its futures and swaps are closed with the
CCP's external side, releasing their initial margin. Par per bucket::

    q_b       = sold_b + issued_b - bid_b
    dealers   = sum_d (A_d / sum_d' A_d') min(1, V / sum A) q_b^+     (A: value absorbed)
    outside   = q_b^+ - dealers_b - max(-q_b, 0)

The Treasury's scheduled issuance (``Scenario.treasury_issuance_usd_bn``) settles here
without moving prices: it was priced at auction days before. Dealers take their award share
``a`` (``ModelParams.dealer_auction_share_frac``) pro rata to their balance-sheet room
(equally when none has room), within what they can fund (their cash, new MMF and facility
financing: :func:`contagion.mechanisms.price_impact.clear_step`, before the day's market
purchases), and finance it like inventory; the rest goes to investors outside the system.
All buyers pay into the Treasury's account, so the whole issue drains reserves::

    dealer_d = min(a sum_b I_b p_b w_d, funding_d),   TGA += sum_b I_b p_b
"""

from __future__ import annotations

import numpy as np

from contagion.mechanisms import repo_market as rm
from contagion.mechanisms import sponsored
from contagion.sums import dot, rowdot

WRITES = (
    "par",
    "cash",
    "par_issued",
    "external_cash_in",
    "external_par_out",
    "pool_lent",
    "pool_borrowed",
    "repo_amount",
    "repo_recall",
    "repo_margin",  # FICC passes its members' repayments up (sponsored.pass_up)
    "im_posted",
    "im_due",
    "ext_notional",
    "notional",
    "other_assets",  # investors' cash for a sovereign fund's other assets (orders.Bid)
    "tga_drain_usd_bn",  # the Treasury's new issuance settles into its account
)


def _auction_awards(state, ledger, day, price: np.ndarray) -> np.ndarray | None:
    """Dealers' awards of the Treasury's issuance settling today (n x buckets par, set by
    the clearing), issued into the system; the whole issue's value goes to the Treasury's
    account. None if nothing was issued."""
    issued, awarded = day.issuance, day.awards
    day.issuance = day.awards = None
    if issued is None:
        return None
    state.tga_drain_usd_bn += dot(issued, price)
    ledger.issue_outside(awarded.sum(axis=0), price)
    ledger.receive_bonds(awarded)
    return awarded


def step(state, ctx, ledger, day, desk, sell, phi, close, absorbed_value) -> None:
    """Transfer bonds and cash at the new prices; repay repo; close futures and swaps."""
    s, topo = state, ctx.topo
    log = day.log
    price = s.price / 100.0
    sold = day.sold  # sell.sum(axis=0), summed by the clearing
    bids_par = day.policy_bids
    # sellers
    ledger.sell_bonds(sell, price)
    log.sales_by_bucket += sell
    # new issuance by policies (e.g. a debt-financed sovereign fund) is sold by the
    # Treasury, outside the system; policy bids are taken out first
    supply = day.policy_supply
    ledger.issue_outside(supply, price)
    awarded = _auction_awards(s, ledger, day, price)
    q = sold + supply - bids_par
    q_par = np.maximum(q, 0.0)
    from_outside = np.maximum(-q, 0.0)  # policies bought more than was offered
    # buyers: dealers in proportion to what they absorb, then outside investors
    total_value = dot(q_par, price)
    dealer_share = np.zeros(topo.n)
    if total_value > 0:
        scale = min(1.0, total_value / max(float(absorbed_value.sum()), 1e-300))
        dealer_share = absorbed_value * scale / total_value
    bought = dealer_share[:, None] * q_par[None, :]
    ledger.receive_bonds(bought)
    log.absorbed_by_dealers += bought
    financed = bought if awarded is None else bought + awarded
    rm.finance_dealers(s, ctx, ledger, day, desk, rowdot(financed, price), financed)
    outside = q_par - bought.sum(axis=0) - from_outside
    ledger.outside_buys(outside, price)
    log.bought_outside += outside
    # policies pay for what they bought (after dealers have drawn their financing)
    if desk:
        desk.settle_bids(s, topo, ledger, price, log.policy_bought)
    # repay repo from the sale: phi of each loan, as far as the borrower's cash allows
    if not phi.any():  # no unwind: nothing to repay
        np.maximum(np.minimum(s.repo_recall, s.repo_amount), 0.0, out=s.repo_recall)
    else:
        ledger.repay_unwound_repo(phi)
    # FICC passes what its members repaid and its collateral sales raised to its lenders
    sponsored.pass_up(s, topo, ledger)
    # close futures and swaps with the outside world; release IM on the closed part
    if close.any():
        ledger.close_margined(close)
