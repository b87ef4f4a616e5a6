"""Finds workloads through the `gpucost.workloads` entry-point group (built-ins and plugins alike)."""

from __future__ import annotations

import importlib
import sys
from importlib import metadata

from harness.entry_points import checkout_entry_points
from harness.errors import BadInput
from workloads.base import Workload
from workloads.spec import WorkloadSpec

ENTRY_POINT_GROUP = "gpucost.workloads"


def _checkout_entry_points(group: str = ENTRY_POINT_GROUP) -> dict[str, str]:
    return checkout_entry_points(group)


BUILT_IN_ORDER = ("text", "image", "asr", "tts", "embedding", "retrieval")


def available() -> dict[str, str]:
    """Workload name -> "module:Class" for every registered workload, without importing them.

    Built-ins come first in their usual order, then plugins by name.
    """
    found = {ep.name: ep.value for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    for name, target in _checkout_entry_points().items():
        found.setdefault(name, target)

    def order(name: str) -> tuple[int, str]:
        return (BUILT_IN_ORDER.index(name) if name in BUILT_IN_ORDER else len(BUILT_IN_ORDER), name)

    return {name: found[name] for name in sorted(found, key=order)}


def load(name: str) -> type[Workload]:
    """The workload class registered under `name`; BadInput listing the valid names otherwise."""
    targets = available()
    if name not in targets:
        raise BadInput(f"unknown workload {name!r} (valid: {', '.join(targets) or 'none'})")
    module_name, _, attr = targets[name].partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, Workload)):
        raise BadInput(f"workload {name!r} ({targets[name]}) is not a gpucost Workload")
    return cls


SPEC_GROUP = "gpucost.workload_specs"
"""Light entry points: name -> "module:SPEC", a WorkloadSpec importable without torch."""

_spec_cache: dict[tuple[str, ...], dict[str, WorkloadSpec]] = {}


def _spec_targets() -> dict[str, str]:
    found = {ep.name: ep.value for ep in metadata.entry_points(group=SPEC_GROUP)}
    for name, target in _checkout_entry_points(SPEC_GROUP).items():
        found.setdefault(name, target)
    return found


def specs() -> dict[str, WorkloadSpec]:
    """Workload name -> its spec, built-ins first, for every workload that declares one.

    Cached per `sys.path`, so a plugin installed while the process runs is still found.
    """
    key = tuple(sys.path)
    if key not in _spec_cache:
        loaded: dict[str, WorkloadSpec] = {}
        for name, target in _spec_targets().items():
            module_name, _, attr = target.partition(":")
            try:
                value = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError) as err:
                raise BadInput(f"workload spec {name!r} ({target}) cannot be loaded: {err}") from None
            if not isinstance(value, WorkloadSpec) or value.name != name:
                raise BadInput(f"workload spec {name!r} ({target}) is not a WorkloadSpec named {name!r}")
            loaded[name] = value

        def order(name: str) -> tuple[int, str]:
            return (BUILT_IN_ORDER.index(name) if name in BUILT_IN_ORDER else len(BUILT_IN_ORDER), name)

        _spec_cache.clear()
        _spec_cache[key] = {name: loaded[name] for name in sorted(loaded, key=order)}
    return _spec_cache[key]


def spec(name: str) -> WorkloadSpec | None:
    """The spec of workload `name`, or None for a workload that declares none (not priced)."""
    return specs().get(name)


def sources() -> dict[str, str]:
    """Workload name -> "built-in" or "plugin <distribution>" for every registered workload."""
    found: dict[str, str] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else None
        own = dist_name == "gpucost" or ep.value.startswith("workloads.")
        found[ep.name] = "built-in" if own else f"plugin {dist_name or ep.value}"
    for name in _checkout_entry_points():
        found.setdefault(name, "built-in")
    return {name: found.get(name, "plugin") for name in available()}
