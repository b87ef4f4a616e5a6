"""Cloud bill formats, one class per format (`base.py` says what each provides); a bill is read
in the first format that recognises its columns."""

from __future__ import annotations

from collections.abc import Sequence

from harness.errors import BadInput
from harness.reconcile.bill_formats.aws import AwsCur, AwsCur2
from harness.reconcile.bill_formats.base import (
    CHARGE_GROUPS,
    COST_BASES,
    NO_RESOURCE,
    UNUSED_COMMITMENT,
    BillFormat,
    CostBasis,
    CostPlan,
    check_cost_basis,
)
from harness.reconcile.bill_formats.focus import Focus

BILL_FORMATS: tuple[BillFormat, ...] = (AwsCur(), AwsCur2(), Focus())


def detect_format(header: Sequence[str], where: str) -> BillFormat:
    present = set(header)
    for fmt in BILL_FORMATS:
        if fmt.recognises(present):
            return fmt
    expected = "; ".join(fmt.describe() for fmt in BILL_FORMATS)
    raise BadInput(f"bill {where}: columns match no known bill format; expected one of: {expected}")


__all__ = [
    "BILL_FORMATS",
    "CHARGE_GROUPS",
    "COST_BASES",
    "NO_RESOURCE",
    "UNUSED_COMMITMENT",
    "BillFormat",
    "CostBasis",
    "CostPlan",
    "check_cost_basis",
    "detect_format",
]
