"""Entry-point groups, the one way gpucost finds its plugins (workloads, their specs, importers).

Built-ins register in pyproject.toml exactly as a third party does. A source checkout run without
reinstalling (its installed metadata older than its pyproject.toml) still finds its own
built-ins: the checkout's pyproject.toml is read as a fallback, installed entries first."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path


def checkout_entry_points(group: str) -> dict[str, str]:
    """The group as declared in pyproject.toml, for a source checkout run without installing."""
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if not pyproject.is_file():
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    data = tomllib.loads(pyproject.read_text())
    return dict(data.get("project", {}).get("entry-points", {}).get(group, {}))


def entry_point_targets(group: str) -> dict[str, str]:
    """Name -> "module:attribute" for every entry of `group`, installed or in the checkout."""
    found = {ep.name: ep.value for ep in metadata.entry_points(group=group)}
    for name, target in checkout_entry_points(group).items():
        found.setdefault(name, target)
    return found
