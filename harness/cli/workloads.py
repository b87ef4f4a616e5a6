"""`gpucost workloads`: every registered workload, where it comes from, its units and presets."""

from __future__ import annotations

import json
from typing import Any

import click

from harness.errors import BadInput


def workload_listing() -> list[dict[str, Any]]:
    """One record per registered workload; `priced` is False for one without a spec."""
    from workloads import registry

    specs = registry.specs()
    records = []
    for name, source in registry.sources().items():
        spec = specs.get(name)
        try:
            presets = sorted(registry.load(name).presets)
            problem = None
        except (BadInput, ImportError, AttributeError) as err:
            presets, problem = [], str(err).splitlines()[0] if str(err) else type(err).__name__
        records.append({
            "workload": name,
            "source": source,
            "priced": spec is not None,
            "units": [u.unit for u in spec.units] if spec else [],
            "unit_labels": [u.display_name for u in spec.units] if spec else [],
            "primary_unit": spec.primary_unit if spec else None,
            "presets": presets,
            "error": problem,
        })  # fmt: skip
    return records


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)  # fmt: skip
def workloads(fmt: str) -> None:
    """List every registered workload (built-in or plugin), its units and presets."""
    records = workload_listing()
    if fmt == "json":
        click.echo(json.dumps(records, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Workloads", title_justify="left")
    for column in ("workload", "source", "priced per", "presets"):
        table.add_column(column)
    for r in records:
        units = ", ".join(r["unit_labels"]) if r["priced"] else "not priced (no workload spec)"
        presets = ", ".join(r["presets"]) or f"— ({r['error']})"
        table.add_row(r["workload"], r["source"], units, presets)
    Console().print(table)
