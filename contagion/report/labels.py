"""Human-readable names for what a report shows; the ids stay in the data files.

Arms are named from their policies (``qe_500bn`` -> "QE (USD 500 bn)"), metrics and loss
channels by what they measure (the P&L channel ``fire_sale`` is the price-impact
mark-to-market of every holder, not the volume sold), and the sector ``other`` by the
institutions it contains in the system at hand. Every function falls back to a readable
form of the id for names it does not know, so new arms, metrics and channels slot in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

BASELINE_LABEL = "No action"

TOOLS = {
    "qe": "QE",
    "srf": "Standing Repo Facility",
    "swf": "Sovereign-fund purchases",
    "basis_facility": "Basis purchase facility",
    "slr_relief": "SLR relief",
    "min_haircut": "Minimum repo haircuts",
    "central_clearing": "Central clearing",
    "apc_margin": "Anti-procyclical margin",
    "fima_repo": "FIMA repo facility",
}

#: Headline metrics, reductions and costs (``{y}``: the headline yield bucket).
METRICS = {
    "peak_yield_bp": "Peak {y} yield change (bp)",
    "peak_basis_bp": "Peak basis widening (bp)",
    "fire_sale_usd_bn": "Fire sales (USD bn)",
    "defaults": "Defaults",
    "losses_usd_bn": "Equity losses excl. central bank (USD bn)",
    "peak_repo_rate_pct": "Peak repo rate (%)",
    "peak_repo_rate_eligible_pct": "Peak repo rate, facility-eligible (%)",
    "dealer_peak_utilisation_frac": "Peak dealer utilisation, within the day (share)",
    "reserves_created_usd_bn": "Reserves created (USD bn)",
    "cash_lent_usd_bn": "Cash lent, peak outstanding (USD bn)",
    "budget_spent_usd_bn": "Budget spent (USD bn)",
    "reduction_peak_yield_bp": "Reduction of the peak {y} yield change (bp)",
    "reduction_peak_basis_bp": "Reduction of the peak basis widening (bp)",
    "reduction_fire_sale_usd_bn": "Reduction of fire sales (USD bn)",
    "reduction_defaults": "Reduction of defaults",
    "reduction_losses_usd_bn": "Reduction of equity losses (USD bn)",
    "cost_balance_sheet_usd_bn": "Central-bank balance sheet used (USD bn)",
    "cost_cash_lent_usd_bn": "Cash lent by facilities, peak (USD bn)",
    "cost_budget_spent_usd_bn": "Budget spent (USD bn)",
    "size_usd_bn": "Intervention size (USD bn)",
    "reduction_peak_yield_bp_per_100bn": "{y} yield reduction per USD 100 bn (bp)",
    "reduction_peak_basis_bp_per_100bn": "Basis reduction per USD 100 bn (bp)",
    "reduction_fire_sale_usd_bn_per_100bn": "Fire-sale reduction per USD 100 bn (USD bn)",
    "reduction_defaults_per_100bn": "Defaults avoided per USD 100 bn",
    "reduction_losses_usd_bn_per_100bn": "Loss reduction per USD 100 bn (USD bn)",
    "cb_mtm_loss_usd_bn": "Central bank's own mark-to-market loss (USD bn)",
    "bounds_hit": "Model bounds that bit (days)",
}

#: Daily paths kept per draw (:data:`contagion.experiment.PATHS`).
PATHS = {
    "yield_change_bp": "{y} yield change (bp)",
    "basis_widening_bp": "Widest basis widening (bp)",
    "repo_rate_pct": "Repo rate (%)",
    "dealer_peak_utilisation_frac": "Dealer utilisation, daily peak (share)",
    "fire_sales_cum_usd_bn": "Fire sales, cumulative (USD bn)",
}

#: P&L channels of :data:`contagion.state.PNL_CHANNELS`.
CHANNELS = {
    "fire_sale": "price-impact mark-to-market",
    "bond_fundamental": "fundamental rate move",
    "variation_margin": "variation margin",
    "funding_cost": "repo funding cost",
    "default_losses": "losses on defaulted counterparties",
    "shortfall_passed_on": "default shortfalls passed on",
}

SECTORS = {
    "hedge_fund": "hedge funds",
    "dealer": "dealers",
    "mmf": "money-market funds",
    "asset_manager": "asset managers",
    "ccp": "CCPs",
    "central_bank": "central bank",
    "sovereign_fund": "sovereign fund",
    "other": "other holders",
}

#: Summary counters of :data:`contagion.recorder.BOUNDS`, named for a reader.
BOUNDS = {
    "iteration_bound_hit_days": "within-day rounds cut off",
    "repo_rate_cap_hit_days": "repo rate at its ceiling",
    "funding_utilisation_cap_hit_days": "repo funding exhausted",
    "dealer_utilisation_cap_hit_days": "price-impact factor at its cap",
    "dealer_room_exhausted_days": "dealers out of balance sheet",
    "haircut_cap_hit_days": "haircuts at their cap",
    "price_floor_hit_days": "a price at its floor",
}


def readable(key: str) -> str:
    """An id as words (``reduction_peak_yield_bp`` -> "reduction peak yield bp")."""
    return str(key).replace("_", " ").strip()


def metric(key: str, y: str = "10y") -> str:
    """The label of a headline metric, reduction or cost."""
    return METRICS.get(key, readable(key)).format(y=y)


def path(key: str, y: str = "10y") -> str:
    """The label of a kept daily path."""
    return PATHS.get(key, readable(key)).format(y=y)


def channel(key: str) -> str:
    """The label of a P&L channel."""
    return CHANNELS.get(key, readable(key))


def bound(key: str) -> str:
    """The label of a bound counter of the summary."""
    return BOUNDS.get(key, readable(key.removesuffix("_days")))


def sector(key: str, members: Sequence[str] = ()) -> str:
    """The label of a sector; ``other`` (or any sector) named by its members when given."""
    name = SECTORS.get(key, readable(key))
    if key == "other" and members:
        shown = list(members[:4])
        more = len(members) - len(shown)
        return f"{name} ({', '.join(shown)}{f' and {more} more' if more > 0 else ''})"
    return name


def sector_members(institutions) -> dict[str, list[str]]:
    """Per sector, the names of its institutions (a system's institutions table), so the
    catch-all ``other`` can be named by what it contains."""
    out: dict[str, list[str]] = {}
    names = institutions["name"].astype(str) if "name" in institutions else institutions["id"]
    for t, n in zip(institutions["type"].astype(str), names, strict=True):
        out.setdefault(t, []).append(n)
    return out


def sector_labels(institutions) -> dict[str, str]:
    """Label of every sector of a system; ``other`` lists its members."""
    members = sector_members(institutions)
    return {t: sector(t, m if t == "other" else ()) for t, m in members.items()}


def _size(policy: Mapping[str, Any]) -> str:
    if policy.get("budget_usd_bn") is not None:
        return f"USD {float(policy['budget_usd_bn']):,.0f} bn"
    if policy.get("aggregate_limit_usd_bn") is not None:
        return f"USD {float(policy['aggregate_limit_usd_bn']):,.0f} bn limit"
    return ""


def policy_label(policy: Mapping[str, Any]) -> str:
    """A policy's description (``Policy.describe()``) as words: tool and size."""
    kind = str(policy.get("type", ""))
    tool = TOOLS.get(kind)
    if tool is None:
        try:
            from contagion.policies import registry

            tool = registry.describe(kind) if kind in registry.policy_types() else None
        except ImportError:  # pragma: no cover
            tool = None
        tool = (tool or readable(kind or str(policy.get("name", "policy")))).capitalize()
    if policy.get("central_clearing") is True:  # a facility's trades netted at a CCP
        tool += ", centrally cleared"
    size = _size(policy)
    return f"{tool} ({size})" if size else tool


def arm_label(
    arm: str,
    policies: Sequence[Mapping[str, Any]],
    standing: Sequence[Mapping[str, Any]] = (),
) -> str:
    """An arm named by its policies other than the ``standing`` ones (in force in every
    arm); ``no_action`` (no other policy) is "No action"."""
    own = [p for p in policies if p not in standing]
    if not own:
        return BASELINE_LABEL if arm == "no_action" else readable(arm)
    return " + ".join(policy_label(p) for p in own)


def standing_text(standing: Sequence[Mapping[str, Any]]) -> str:
    """The standing policies in words ("" without any)."""
    return "; ".join(policy_label(p) for p in standing)


def arm_labels(
    results: Mapping[str, Any], standing: Sequence[Mapping[str, Any]] = ()
) -> dict[str, str]:
    """Label per arm from each arm's ``Result.config["policies"]`` (or a list of policy
    descriptions) less the ``standing`` policies; two arms with the same label get their
    ids appended."""
    out = {}
    for arm, r in results.items():
        pols = r.config.get("policies", []) if hasattr(r, "config") else list(r)
        out[arm] = arm_label(arm, pols, standing)
    seen: dict[str, int] = {}
    for v in out.values():
        seen[v] = seen.get(v, 0) + 1
    return {a: (f"{v} [{a}]" if seen[v] > 1 else v) for a, v in out.items()}


def headline_bucket(summary: Mapping[str, float]) -> str:
    """Bucket of the headline yield metric (10y, or the longest bucket)."""
    if "peak_yield_change_10y_bp" in summary:
        return "10y"
    keys = [k for k in summary if k.startswith("peak_yield_change_")]
    return keys[-1].removeprefix("peak_yield_change_").removesuffix("_bp") if keys else "10y"


def band_metrics(results: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(metric, label) of the headline metrics shown with uncertainty bands."""
    y = headline_bucket(next(iter(results.values())).summary) if results else "10y"
    keys = ("peak_yield_bp", "peak_basis_bp", "fire_sale_usd_bn", "losses_usd_bn")
    return [(k, metric(k, y)) for k in keys]


def market_panels(summary: Mapping[str, float]) -> list[tuple[str, str]]:
    """(column of ``Result.markets``, label) of the main market paths of a run."""
    y = headline_bucket(summary)
    contracts = [
        k.removeprefix("peak_basis_widening_").removesuffix("_bp")
        for k in summary
        if k.startswith("peak_basis_widening_")
    ]
    panels = [(f"yield_change_{y}_bp", f"{y} yield change (bp)")]
    panels += [(f"basis_widening_{c}_bp", f"{c} basis widening (bp)") for c in contracts]
    panels += [
        ("repo_rate_pct", "Repo rate (%)"),
        ("dealer_peak_utilisation_frac", "Dealer utilisation, daily peak (share)"),
    ]
    return panels
