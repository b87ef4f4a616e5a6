"""What every bill format provides, and the cost bases and charge groups they share.

A format is a class: its column mapping (logical name → the bill's column) and the line-item
logic of its cloud (how each cost basis is computed, which rows are charges rather than usage,
where the instance type is, who the provider is). Each piece is abstract here, so a new format
states all of them and never inherits another cloud's rules by omission.

Expressions are DuckDB SQL over a bill whose cells are text (`cell(...)` turns empty text and
FOCUS's literal `NULL` into SQL NULL). A charge that is not usage (tax, credit, refund, discount,
a commitment fee) goes to a group of its own, named in parentheses, so it is listed apart and
never divides the work as if it were the cost of an instance.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from harness.errors import BadInput
from harness.reconcile.sources import TagFilter
from harness.reconcile.sql import cell, text_literal

CostBasis = Literal["amortized", "unblended", "billed", "list"]
COST_BASES: tuple[CostBasis, ...] = ("amortized", "unblended", "billed", "list")

UNUSED_COMMITMENT = "(unused commitment)"
CHARGE_GROUPS = (
    "(tax)",
    "(credit)",
    "(refund)",
    "(discount)",
    "(adjustment)",
    "(purchase)",
    "(correction)",
    "(commitment fee)",
    UNUSED_COMMITMENT,
)
"""Groups that hold charges, not the running cost of a resource: they never carry requests."""

NO_RESOURCE = "(no resource)"

# An instance type inside free text: "On Demand Linux g5.xlarge Instance Hour".
DESCRIPTION_INSTANCE = (
    r"(?:^|[\s(])((?:db\.|cache\.)?[a-z][a-z0-9-]*[0-9][a-z0-9-]*\."
    r"(?:[0-9]*x?large|medium|small|micro|nano|metal[a-z0-9-]*))(?:$|[\s),])"
)

REQUIRED_COLUMNS = ("start", "cost")
"""Logical columns every format maps: when a charge ran, and what it cost."""


def check_cost_basis(basis: str) -> CostBasis:
    if basis not in COST_BASES:
        raise BadInput(f"--cost-basis must be one of {', '.join(COST_BASES)} (got {basis!r})")
    return basis  # type: ignore[return-value]


@dataclass(frozen=True)
class CostPlan:
    """The SQL for one bill under one basis: the cost, the group a charge goes to, the columns
    whose cells must be finite numbers (the first must be given), and the name of the basis as
    the bill states it."""

    cost: str
    charge_group: str  # NULL for usage: the instance or resource decides the group
    checked: tuple[str, ...]
    source: str  # e.g. "EffectiveCost", "amortised (lineItem/LineItemType)"


class BillFormat(ABC):
    """One bill format. Subclasses set `name` and `columns` and implement every abstract method;
    an instance is refused when a required column is not mapped."""

    name: ClassVar[str]
    columns: ClassVar[Mapping[str, str]]
    """Logical name → the bill's column: `start`, `cost` (required), `end`, `currency`,
    `resource`, `description` and whatever the format's own logic reads."""

    def __init__(self) -> None:
        name = getattr(self, "name", None)
        columns = getattr(self, "columns", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"bill format {type(self).__name__} has no name")
        if not isinstance(columns, Mapping):
            raise TypeError(f"bill format {name} has no column mapping")
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise TypeError(f"bill format {name} maps no {', '.join(missing)} column")

    def describe(self) -> str:
        return f"{self.name} ({self.columns['start']}, {self.columns['cost']})"

    def has(self, name: str, header: set[str]) -> bool:
        return name in self.columns and self.columns[name] in header

    def col(self, name: str) -> str:
        return self.columns[name]

    def recognises(self, header: set[str]) -> bool:
        """Whether a bill with these columns is in this format."""
        return self.has("start", header) and self.has("cost", header)

    @abstractmethod
    def cost_plan(self, header: set[str], basis: CostBasis) -> CostPlan:
        """The cost of each row under `basis` and the charge group of rows that are not usage;
        BadInput when the bill lacks what the basis needs."""

    @abstractmethod
    def structured_instance(self, header: set[str]) -> list[str]:
        """Expressions, first non-null wins, for the instance type a row states in a column of
        its own (not parsed from free text)."""

    @abstractmethod
    def provider_sql(self, header: set[str]) -> str:
        """The cloud a row was charged by ('' when the bill does not say)."""

    @abstractmethod
    def tag_sql(self, header: Sequence[str], tag: TagFilter) -> str | None:
        """The value of `tag.key` on a row, or None when the bill has no such tag."""

    def instance_sql(self, header: set[str]) -> tuple[str, str]:
        """(the instance type or resource a row belongs to, whether it was parsed from free text)."""
        found = self.structured_instance(header)
        structured = f"coalesce({', '.join(found)})" if found else "NULL"
        parsed = "NULL"
        if self.has("description", header):
            parsed = (
                f"NULLIF(regexp_extract({cell(self.col('description'))}, "
                f"'{DESCRIPTION_INSTANCE}', 1), '')"
            )
        resource = cell(self.col("resource")) if self.has("resource", header) else "NULL"
        label = f"coalesce({structured}, {parsed}, {resource}, '{NO_RESOURCE}')"
        from_text = f"({structured} IS NULL AND {parsed} IS NOT NULL)"
        return label, from_text


def tag_from_columns(prefix: str, header: Sequence[str], tag: TagFilter) -> str | None:
    """A tag kept as one column per key (`resourceTags/user:Project`)."""
    wanted = (prefix + (tag.key if ":" in tag.key else f"user:{tag.key}")).lower()
    column = next((c for c in header if c.lower() == wanted), None)
    return cell(column) if column else None


def tag_from_json_map(column: str, header: Sequence[str], tag: TagFilter) -> str | None:
    """A tag kept in a JSON object per row; both spellings of a key match: `user:Project` and
    CUR 2.0's `user_project`."""
    if column not in header:
        return None
    wanted = tag.key.lower().replace(":", "_").removeprefix("user_")
    tags = cell(column)
    key = (
        f"list_filter(json_keys({tags}), lambda k: regexp_replace(replace(lower(k), ':', '_'), "
        f"'^user_', '') = {text_literal(wanted)})[1]"
    )
    return (
        f"CASE WHEN json_valid({tags}) AND json_type({tags}) = 'OBJECT' THEN "
        f"json_extract_string({tags}, '$.\"' || replace({key}, '\"', '\\\"') || '\"') END"
    )
