"""`gpucost env`: what this machine can measure."""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def env(as_json: bool) -> None:
    """Show the GPU, driver, NVML readings available, and library versions."""
    from harness.measure.environment import describe_machine

    facts = describe_machine()
    if as_json:
        click.echo(json.dumps(facts, indent=2, default=str))
        return
    for section, values in facts.items():
        click.echo(f"{section}:")
        if isinstance(values, dict):
            for key, value in values.items():
                click.echo(f"  {key}: {'—' if value is None else value}")
        else:
            click.echo(f"  {values}")
