"""Finds workloads through the `gpucost.workloads` entry-point group (built-ins and plugins alike)."""

from __future__ import annotations

import importlib
import sys
from importlib import metadata
from pathlib import Path

from harness.errors import BadInput
from workloads.base import Workload

ENTRY_POINT_GROUP = "gpucost.workloads"


def _checkout_entry_points() -> dict[str, str]:
    """The group as declared in pyproject.toml, for a source checkout run without installing."""
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if not pyproject.is_file():
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    data = tomllib.loads(pyproject.read_text())
    return dict(data.get("project", {}).get("entry-points", {}).get(ENTRY_POINT_GROUP, {}))


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
