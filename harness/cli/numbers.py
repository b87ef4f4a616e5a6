"""Number options read exactly as written: click's INT and FLOAT call int() and float(), which
take `1_0` as 10 and other scripts' digits (`١٢` as 12). Only click at import time."""

from __future__ import annotations

import re
from typing import Any

import click

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"(?i)[+-]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(e[+-]?[0-9]+)?|inf|infinity|nan)")


class _Exact(click.ParamType):
    def __init__(self, name: str, pattern: re.Pattern[str], convert: Any, what: str) -> None:
        self.name = name
        self._pattern = pattern
        self._convert = convert
        self._what = what

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not self._pattern.fullmatch(text):
            self.fail(f"{value!r} is not {self._what}", param, ctx)
        return self._convert(text)


EXACT_INT = _Exact("integer", _INT, int, "a whole number in plain digits")
EXACT_FLOAT = _Exact("float", _FLOAT, float, "a number in plain digits")
