"""Finds importers through the `gpucost.importers` entry-point group (built-ins and plugins alike)."""

from __future__ import annotations

import importlib

from harness.entry_points import entry_point_targets
from harness.errors import BadInput
from harness.importers.base import Importer

ENTRY_POINT_GROUP = "gpucost.importers"
BUILT_IN_ORDER = ("aiperf", "guidellm", "vllm")


def available() -> dict[str, str]:
    """Importer name -> "module:Class", built-ins first, then plugins by name; nothing imported."""
    found = entry_point_targets(ENTRY_POINT_GROUP)

    def order(name: str) -> tuple[int, str]:
        known = name in BUILT_IN_ORDER
        return (BUILT_IN_ORDER.index(name) if known else len(BUILT_IN_ORDER), name)

    return {name: found[name] for name in sorted(found, key=order)}


def load(name: str) -> Importer:
    """The importer registered under `name`; BadInput in one line when there is none or it is
    not a gpucost Importer."""
    targets = available()
    if name not in targets:
        raise BadInput(f"unknown importer {name!r} (valid: {', '.join(targets) or 'none'})")
    target = targets[name]
    module_name, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise BadInput(f"importer {name!r} ({target}) cannot be loaded: {err}") from None
    if not (isinstance(cls, type) and issubclass(cls, Importer)):
        raise BadInput(f"importer {name!r} ({target}) is not a gpucost Importer")
    try:
        return cls()
    except TypeError as err:  # an abstract method left out
        raise BadInput(f"importer {name!r} ({target}) is incomplete: {err}") from None
