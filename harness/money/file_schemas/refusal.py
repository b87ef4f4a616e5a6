"""From a validation error to one line naming the file, the line, the entry and the field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from harness.errors import BadInput, shown
from harness.money.file_schemas.fields import LARGEST, FieldError
from harness.money.file_schemas.market import MarketEntry
from harness.money.file_schemas.ratecard import CardInstance, SelfHosted
from harness.money.file_schemas.scenario import Bundle, DirectCostsModel, Free, PerCall, PerUnit
from harness.money.scenario import REVENUE_MODELS
from harness.money.yamlfile import Location, YamlFile

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
        named = isinstance(name, str) and name.strip()
        return f"instance {shown(name)}" if named else f"instance #{index + 1}"
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
        models = ", ".join(REVENUE_MODELS)
        return f"unknown revenue model {shown(ctx.get('tag'))} (models: {models})"
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
