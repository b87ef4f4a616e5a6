"""The files a person writes by hand (rate cards, market prices, scenarios): one typed model each.

Each model validates a file and builds the objects pricing uses (`Instance`, `CandidatePrice`,
`Scenario`); `inputs.py` reads the files and hands them here, so every check lives in one place
and pricing only ever sees checked values. The same models print the JSON Schemas an editor uses
(`gpucost ratecards schema`). A refusal is one line: `file:line: entry: field what is wrong`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from harness.errors import BadInput, shown
from harness.gpus import CPU_ONLY, gpu_keys, is_gpu_key
from harness.money.prices import CandidatePrice, check_unit, parse_price_value, parse_scale
from harness.money.ratecard import ALL_PLANS, OWNED_PLAN, PLANS, CardFile, Instance, SelfHostedCost
from harness.money.scenario import CALL_UNIT, REVENUE_MODELS, DirectCosts, Revenue, Scenario
from harness.money.units import units_by_workload
from harness.money.yamlfile import Location, YamlFile

CURRENCIES: frozenset[str] = frozenset(
    {
        "USD", "EUR", "GBP", "JPY", "CNY", "CAD", "AUD", "CHF", "INR", "KRW", "SEK", "NOK",
        "DKK", "SGD", "HKD", "BRL", "MXN", "NZD", "PLN", "ZAR", "CZK", "ILS", "TWD",
    }
)  # fmt: skip
"""ISO 4217 codes a card may state. Pricing itself is done in one currency at a time."""

LARGEST = 1e15
"""No price, count or size in a card or scenario is this large; beyond it sums overflow."""

MAX_TEXT = 2000
"""Longest name, source or caveat a card may give (sources cite a few pages)."""


# --- field types: each refuses with a phrase that reads after the field's name -------------


def _text(value: Any) -> str:
    if (
        not isinstance(value, (str, int, float))
        or isinstance(value, bool)
        or (isinstance(value, float) and not math.isfinite(value))
        or str(value).strip() == ""
        or len(str(value)) > MAX_TEXT
    ):
        raise ValueError(f"must be a non-empty text (got {shown(value)})")
    return str(value).strip()


def _not_huge(value: float) -> float:
    if abs(value) > LARGEST:
        raise ValueError(f"is too large to be a real figure (got {shown(value)})")
    return value


def _share(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"must be a share between 0 and 1 (got {shown(value)})")
    return value


def _positive_share(value: float) -> float:
    if _share(value) == 0:
        raise ValueError("must be > 0")
    return value


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"must be a date like 2026-11-01 (got {shown(value)})")


def _market_date(value: Any) -> str:
    return "undated" if value == "undated" else _date(value).isoformat()


def _currency(value: Any) -> str:
    code = value.strip().upper() if isinstance(value, str) else None
    if code not in CURRENCIES:
        raise ValueError(f"unknown currency {shown(value)} (known: {', '.join(sorted(CURRENCIES))})")
    return code


Text = Annotated[str, BeforeValidator(_text)]


def _number(**bounds: float) -> Any:
    """A finite number (an int is one too, a bool or a text is not) within `bounds` (ge, gt)."""
    # The bounds come before the size check so that they show in the JSON Schema.
    return Annotated[
        float, Field(strict=True, allow_inf_nan=False, **bounds), AfterValidator(_not_huge)
    ]


Number = _number()
NonNegative = _number(ge=0)
Positive = _number(gt=0)
AtLeastOne = _number(ge=1.0)
Count = Annotated[int, Field(strict=True, le=int(LARGEST))]
Share = Annotated[Number, AfterValidator(_share), Field(json_schema_extra={"minimum": 0, "maximum": 1})]
PositiveShare = Annotated[
    Number, AfterValidator(_positive_share),
    Field(json_schema_extra={"exclusiveMinimum": 0, "maximum": 1}),
]  # fmt: skip
Date = Annotated[dt.date, BeforeValidator(_date)]
Currency = Annotated[str, BeforeValidator(_currency), Field(description="ISO 4217 code, e.g. USD")]


def as_of_text(value: Any, where: str) -> str:
    """`value` as an ISO date, or BadInput naming `where` (for a date given as an option)."""
    try:
        return _date(value).isoformat()
    except ValueError as err:
        raise BadInput(f"{where}: as_of {err}") from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- rate cards ----------------------------------------------------------------------------


class SelfHosted(_Strict):
    capital_cost_per_gpu: NonNegative = Field(description="purchase price of one GPU's share")
    depreciation_years: Positive
    hosting_cost_per_hour: NonNegative = Field(description="rack, network, staff per hour")
    electricity_price_per_kwh: NonNegative
    pue: AtLeastOne = Field(description="power usage effectiveness of the site")
    power_w: Positive | None = Field(default=None, description="draw per GPU when busy")

    def cost(self) -> SelfHostedCost:
        return SelfHostedCost(
            capital_cost_per_gpu_usd=self.capital_cost_per_gpu,
            depreciation_years=self.depreciation_years,
            hosting_cost_per_hour_usd=self.hosting_cost_per_hour,
            electricity_price_per_kwh_usd=self.electricity_price_per_kwh,
            pue=self.pue,
            power_w_per_gpu=self.power_w,
        )


class CardInstance(_Strict):
    name: Text
    gpu: Text = Field(description='canonical GPU key (e.g. "H100-SXM-80GB"); "none" for CPU')
    gpu_count: Annotated[Count, Field(ge=0, description="0 for CPU-only instances")]
    vcpus: Positive = Field(description="may be fractional (shared-core machines)")
    memory_gib: Positive
    region: Text
    prices_per_hour: dict[str, NonNegative] | None = Field(
        default=None, description="plan: price per instance-hour",
        json_schema_extra={"propertyNames": {"enum": list(PLANS)}, "minProperties": 1},
    )  # fmt: skip
    self_hosted: SelfHosted | None = None
    caveat: Text | None = None

    @field_validator("gpu")
    @classmethod
    def _known_gpu(cls, gpu: str) -> str:
        if not is_gpu_key(gpu):
            raise ValueError(f"unknown gpu {shown(gpu)} (valid: {', '.join((*gpu_keys(), CPU_ONLY))})")
        return gpu

    @field_validator("prices_per_hour")
    @classmethod
    def _known_plans(cls, prices: dict[str, float] | None) -> dict[str, float] | None:
        if prices is not None and not prices:
            raise ValueError("must be a mapping of plan: price, e.g. {on_demand: 1.006}")
        for plan in prices or {}:
            if plan not in PLANS:
                raise ValueError(f"unknown plan {shown(plan)} (plans: {', '.join(PLANS)})")
        return prices

    @model_validator(mode="after")
    def _consistent(self) -> CardInstance:
        if self.gpu == CPU_ONLY and self.gpu_count != 0:
            raise ValueError("gpu_count must be 0 for a CPU-only instance (gpu: none)")
        if self.gpu != CPU_ONLY and self.gpu_count < 1:
            raise ValueError(f"gpu_count must be ≥ 1 for gpu {self.gpu!r}")
        if (self.prices_per_hour is None) == (self.self_hosted is None):
            raise ValueError("give exactly one of prices_per_hour or self_hosted")
        return self


class RateCard(_Strict):
    """A gpucost rate card: one provider's instances and their prices per hour."""

    provider: Text
    currency: Currency
    as_of: Date
    source: Text = Field(description="where the figures come from")
    caveat: Text | None = None
    instances: list[CardInstance] = Field(min_length=1)

    def build(self, path: str) -> tuple[CardFile, list[Instance]]:
        """The card's instances as pricing uses them; money stays in the card's currency."""
        as_of = self.as_of.isoformat()
        seen: dict[str, int] = {}
        instances: list[Instance] = []
        for index, entry in enumerate(self.instances):
            if entry.name in seen:
                raise FieldError(
                    ("instances", index), f"duplicate instance (also entry #{seen[entry.name]})"
                )
            seen[entry.name] = index + 1
            owned = entry.self_hosted.cost() if entry.self_hosted else None
            prices = (
                {OWNED_PLAN: owned.price_per_hour_usd(entry.gpu_count)}
                if owned
                else dict(entry.prices_per_hour or {})
            )
            # An instance's own caveat adds to the file's, which holds for every entry.
            caveat = "; ".join(c for c in (self.caveat, entry.caveat) if c) or None
            instances.append(Instance(
                provider=self.provider, name=entry.name, gpu=entry.gpu,
                gpu_count=entry.gpu_count, vcpus=entry.vcpus, memory_gib=entry.memory_gib,
                region=entry.region, prices_per_hour_usd=prices, currency=self.currency,
                as_of=as_of, source=self.source, caveat=caveat, self_hosted=owned,
                card_path=path,
            ))  # fmt: skip
        card = CardFile(path, self.provider, self.currency, as_of, self.source, len(instances))
        return card, instances


# --- market prices -------------------------------------------------------------------------


class MarketEntry(_Strict):
    unit: Text = Field(description="WORKLOAD.UNIT, e.g. text.output_token")
    price: NonNegative
    per: Text | None = Field(default=None, description="scale the price is quoted per: 1K, 1M")
    product: Text
    source: Text
    date: Annotated[str, BeforeValidator(_market_date)] | None = Field(
        default=None, description='a date like 2026-11-01, or "undated"'
    )
    default: bool = Field(default=False, strict=True)


class MarketFile(_Strict):
    """Reference prices of hosted APIs: candidate prices per unit of work."""

    currency: Currency
    as_of: Date
    source: Text
    prices: list[MarketEntry] = Field(min_length=1)

    @field_validator("currency")
    @classmethod
    def _usd(cls, currency: str) -> str:
        if currency != "USD":
            raise ValueError(f"market prices must be in USD (got {currency})")
        return currency

    def build(self) -> list[tuple[CandidatePrice, bool]]:
        """Each entry as a candidate price, with its `default` flag."""
        result: list[tuple[CandidatePrice, bool]] = []
        seen: set[tuple[str, str]] = set()
        for index, entry in enumerate(self.prices):
            at = ("prices", index)
            workload, _, unit = entry.unit.partition(".")
            scale = _checked(at, lambda e=entry, w=workload, u=unit: (
                check_unit(w, u, ""), parse_scale(e.per, ""))[1])  # fmt: skip
            if (entry.unit, entry.product) in seen:
                raise FieldError(at, f"duplicate entry for {entry.product} {entry.unit}")
            seen.add((entry.unit, entry.product))
            as_of = entry.date or self.as_of.isoformat()
            price = CandidatePrice(
                workload, unit, entry.price / scale, scale, entry.product, entry.source, as_of
            )
            result.append((price, entry.default))
        return result


# --- scenarios -----------------------------------------------------------------------------


class DirectCostsModel(_Strict):
    third_party_api_usd: NonNegative = 0.0
    licence_usd: NonNegative = 0.0
    egress_usd_per_gb: NonNegative = 0.0
    egress_bytes: NonNegative = 0.0
    storage_usd_per_gb_month: NonNegative = 0.0
    storage_gb: NonNegative = 0.0
    storage_months: NonNegative = 0.0
    review_share: Share = 0.0
    review_minutes: NonNegative = 0.0
    review_wage_usd_per_hour: NonNegative = 0.0


class PerCall(_Strict):
    model: Literal["per_call"]
    price_usd: NonNegative


class PerUnit(_Strict):
    model: Literal["per_unit"]
    prices: dict[str, Text] = Field(
        min_length=1, description='unit → price, e.g. "0.60/1M"'
    )


class Bundle(_Strict):
    model: Literal["bundle"]
    package_price_usd: NonNegative
    included_units: Positive
    unit: Text = CALL_UNIT
    expected_use_share: PositiveShare = 1.0


class Free(_Strict):
    model: Literal["free"]


class ScenarioFile(_Strict):
    """A product scenario: direct costs and revenue per call of one service."""

    name: Text | None = None
    workload: Text = Field(description="a workload measured in the run")
    batch_size: Annotated[Count, Field(ge=1)] | None = None
    instance: Text | None = Field(default=None, description="provider:instance")
    plan: Literal[ALL_PLANS] | None = None  # type: ignore[valid-type]
    utilization: PositiveShare | None = None
    expected_monthly_calls: NonNegative | None = None
    direct_costs_per_call: DirectCostsModel | None = None
    revenue: PerCall | PerUnit | Bundle | Free = Field(discriminator="model")

    @field_validator("workload")
    @classmethod
    def _known_workload(cls, workload: str) -> str:
        known = units_by_workload()
        if workload not in known:
            raise ValueError(
                f"workload {shown(workload)} is unknown (workloads: {', '.join(known)})"
            )
        return workload

    @field_validator("instance")
    @classmethod
    def _instance_ref(cls, instance: str | None) -> str | None:
        if instance is not None and ":" not in instance:
            raise ValueError(f"must be PROVIDER:NAME (got {shown(instance)})")
        return instance

    @model_validator(mode="after")
    def _free_has_volume(self) -> ScenarioFile:
        if isinstance(self.revenue, Free) and self.expected_monthly_calls is None:
            raise ValueError(
                "revenue model 'free' needs expected_monthly_calls "
                "(the cost at that volume is what a free service shows)"
            )
        return self

    def build(self, path: str, default_name: str) -> Scenario:
        return Scenario(
            path=path,
            name=self.name or default_name,
            workload=self.workload,
            batch_size=self.batch_size,
            instance=self.instance,
            plan=self.plan,
            utilization=self.utilization,
            expected_monthly_calls=self.expected_monthly_calls,
            direct_costs=DirectCosts(**(self.direct_costs_per_call or DirectCostsModel()).model_dump()),
            revenue=self._revenue(),
        )

    def _revenue(self) -> Revenue:
        revenue, workload = self.revenue, self.workload
        at: Location = ("revenue", revenue.model)
        if isinstance(revenue, PerCall):
            return Revenue("per_call", price_per_call_usd=revenue.price_usd)
        if isinstance(revenue, PerUnit):
            prices = []
            for unit, text in revenue.prices.items():
                field = f"prices.{unit}"
                prices.append(_checked((*at, "prices", unit), lambda u=unit, t=text, f=field: (
                    check_unit(workload, u, f), parse_price_value(t, workload, u, f))[1]))  # fmt: skip
            return Revenue("per_unit", unit_prices=tuple(prices))
        if isinstance(revenue, Bundle):
            if revenue.unit != CALL_UNIT:
                _checked((*at, "unit"), lambda: check_unit(workload, revenue.unit, "unit"))
            return Revenue(
                "bundle",
                package_price_usd=revenue.package_price_usd,
                included_units=revenue.included_units,
                bundle_unit=revenue.unit,
                expected_use_share=revenue.expected_use_share,
            )
        return Revenue("free")


# --- from a pydantic error to one line naming the file, the line, the entry and the field --


class FieldError(Exception):
    """A check made while building objects from a validated file, at `location` in the file."""

    def __init__(self, location: Location, message: str) -> None:
        super().__init__(message)
        self.location = location
        self.message = message


def _checked(location: Location, check: Any) -> Any:
    """`check()`, its BadInput (from a helper shared with `--price`) re-raised at `location`."""
    try:
        return check()
    except BadInput as err:
        raise FieldError(location, str(err).removeprefix(": ")) from None


_SECTIONS: dict[str, tuple[str, ...]] = {
    "self_hosted": tuple(SelfHosted.model_fields),
    "direct_costs_per_call": tuple(DirectCostsModel.model_fields),
}
_REVENUE_FIELDS = {
    model: tuple(cls.model_fields)
    for model, cls in zip(REVENUE_MODELS, (PerCall, PerUnit, Bundle, Free), strict=True)
}
_ITEMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "instances": ("instance", tuple(CardInstance.model_fields)),
    "prices": ("price", tuple(MarketEntry.model_fields)),
}


def _entry_label(kind: str, index: int, entry: Any) -> str:
    entry = entry if isinstance(entry, Mapping) else {}
    if kind == "instance":
        name = entry.get("name")
        return f"instance {shown(name)}" if isinstance(name, str) and name.strip() else f"instance #{index + 1}"
    product, unit = entry.get("product"), entry.get("unit")
    if isinstance(product, str) and isinstance(unit, str):
        return f"price #{index + 1} ({product}, {unit})"
    return f"price #{index + 1}"


def _place(
    data: Any, location: Sequence[str | int], top: tuple[str, ...]
) -> tuple[list[str], str, tuple[str, ...], Location]:
    """The entry labels along `location`, the field it names, the fields allowed there, and
    `location` less the parts that are not in the file (a revenue model's tag)."""
    in_file: list[str | int] = []
    labels: list[str] = []
    field: list[str] = []
    allowed = top
    node = data
    for part in location:
        if part == "[key]":
            continue
        in_file.append(part)
        child = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(part, int):
            kind, allowed = _ITEMS.get(field[-1] if field else "", ("entry", ()))
            node = node[part] if isinstance(node, list) and part < len(node) else None
            labels.append(_entry_label(kind, part, node))
            field = []
            continue
        if part in _SECTIONS and not field:
            labels.append(part)
            allowed = _SECTIONS[part]
        elif part == "revenue" and not field:
            labels.append("revenue")
        elif labels and labels[-1] == "revenue" and part in _REVENUE_FIELDS and child is None:
            labels[-1] = f"revenue ({part})"
            allowed = _REVENUE_FIELDS[part]
            in_file.pop()
            continue
        else:
            field.append(str(part))
        node = child
    return labels, ".".join(field), allowed, tuple(in_file)


def _message(error: Mapping[str, Any], field: str, allowed: tuple[str, ...]) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    got = f"(got {shown(value)})"
    if kind == "missing":
        return f"missing field {field.rsplit('.', 1)[-1]!r}"
    if kind == "extra_forbidden":
        name = field.rsplit(".", 1)[-1]
        return f"unknown field {shown(name)} (fields: {', '.join(allowed)})"
    if kind in ("value_error", "assertion_error"):
        text = str(ctx.get("error", error["msg"]))
        # "must …" and "is …" describe the field; anything else is a whole sentence
        return f"{field} {text}" if field and text.startswith(("must", "is ")) else text
    if kind == "union_tag_invalid":  # only revenue is a tagged union
        return f"unknown revenue model {shown(ctx.get('tag'))} (models: {', '.join(REVENUE_MODELS)})"
    if kind == "union_tag_not_found":
        return f"missing field {ctx.get('discriminator', 'model').strip(chr(39))!r}"
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"unknown {field} {shown(value)} ({field}s: {expected})"
    phrase = {
        "float_type": "must be a number", "int_type": "must be a whole number",
        "int_from_float": "must be a whole number", "finite_number": "must be a finite number",
        "bool_type": "must be true or false", "string_type": "must be a non-empty text",
        "list_type": "must be a list", "too_short": "must not be empty",
        "dict_type": "must be a mapping of fields", "model_type": "must be a mapping of fields",
        "model_attributes_type": "must be a mapping of fields",
    }.get(kind)  # fmt: skip
    if kind == "greater_than_equal":
        phrase = "must not be negative" if ctx.get("ge") == 0 else f"must be ≥ {ctx.get('ge'):g}"
    elif kind == "greater_than":
        phrase = "must be positive" if ctx.get("gt") == 0 else f"must be > {ctx.get('gt'):g}"
    elif kind == "less_than_equal":
        phrase = f"must be ≤ {ctx.get('le'):g}"
        if ctx.get("le") == int(LARGEST):
            phrase = "is too large to be a real figure"
    if phrase is None:
        return f"{field}: {error['msg']}" if field else str(error["msg"])
    return f"{field} {phrase} {got}" if field else f"{phrase} {got}"


def _refusal(file: YamlFile, location: Location, message: str, labels: list[str]) -> BadInput:
    line = file.line_of(location)
    where = f"{file.path}:{line}" if line else str(file.path)
    return BadInput(": ".join([where, *labels, message]))


def validated(model: type[BaseModel], file: YamlFile) -> Any:
    """`file` validated by `model`, or BadInput for its first fault (unknown fields first)."""
    try:
        return model.model_validate(file.data)
    except ValidationError as err:
        errors = err.errors(include_url=False)
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        location = tuple(first["loc"])
        labels, field, allowed, in_file = _place(file.data, location, tuple(model.model_fields))
        raise _refusal(file, in_file, _message(first, field, allowed), labels) from None


def built(file: YamlFile, build: Any) -> Any:
    """`build()` (a model's `build`), its FieldError turned into the same one-line refusal."""
    try:
        return build()
    except FieldError as err:
        labels, _, _, in_file = _place(file.data, err.location, ())
        raise _refusal(file, in_file, err.message, labels) from None


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a "ratecard" or a "scenario" file."""
    model = RateCard if kind == "ratecard" else ScenarioFile
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
