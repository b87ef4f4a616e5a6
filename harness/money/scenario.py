"""A product scenario: one service's workload, its direct costs per call and its revenue model.

A call is one request to the service (one row of `requests`; for embedding one sequence, for
retrieval one query, for image one image when a run has no request count). Direct costs are per
call; GB means 10⁹ bytes, as cloud bills count them.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.money.prices import CandidatePrice

REVENUE_MODELS: tuple[str, ...] = ("per_call", "per_unit", "bundle", "free")
CALL_UNIT = "request"
BYTES_PER_GB = 1e9

@dataclass(frozen=True)
class DirectCosts:
    """Costs per call on top of compute. Review: a share of calls is checked by a person."""

    third_party_api_usd: float = 0.0
    licence_usd: float = 0.0
    egress_usd_per_gb: float = 0.0
    egress_bytes: float = 0.0
    storage_usd_per_gb_month: float = 0.0
    storage_gb: float = 0.0
    storage_months: float = 0.0
    review_share: float = 0.0
    review_minutes: float = 0.0
    review_wage_usd_per_hour: float = 0.0

    def breakdown_usd(self) -> dict[str, float]:
        return {
            "third_party_api": self.third_party_api_usd,
            "licence": self.licence_usd,
            "egress": self.egress_usd_per_gb * self.egress_bytes / BYTES_PER_GB,
            "storage": self.storage_usd_per_gb_month * self.storage_gb * self.storage_months,
            "human_review": (
                self.review_share * self.review_minutes * self.review_wage_usd_per_hour / 60.0
            ),
        }

    def per_call_usd(self) -> float:
        return sum(self.breakdown_usd().values())


@dataclass(frozen=True)
class Revenue:
    """`per_call`: price_per_call_usd. `per_unit`: unit_prices (summed per call). `bundle`:
    package_price_usd ÷ (included_units × expected_use_share), per bundle_unit. `free`: none."""

    model: str
    price_per_call_usd: float | None = None
    unit_prices: tuple[CandidatePrice, ...] = ()
    package_price_usd: float | None = None
    included_units: float | None = None
    bundle_unit: str = CALL_UNIT
    expected_use_share: float = 1.0


@dataclass(frozen=True)
class Scenario:
    path: str
    name: str
    workload: str
    batch_size: int | None
    instance: str | None
    plan: str | None
    utilization: float | None
    expected_monthly_calls: float | None
    direct_costs: DirectCosts
    revenue: Revenue
