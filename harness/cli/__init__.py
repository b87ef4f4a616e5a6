"""The `gpucost` command: thin click commands over library functions.

Each command group lives in its own module, imported only when that command runs, so money
commands never pay for torch and `gpucost --help` starts at once.
"""

from __future__ import annotations

import importlib
import sys

import click

from harness import __version__
from harness.errors import BadInput, GpucostError

COMMANDS: dict[str, str] = {
    "run": "harness.cli.run:run",
    "env": "harness.cli.env:env",
    "price": "harness.cli.money:price",
    "ratecards": "harness.cli.money:ratecards",
    "compare": "harness.cli.report:compare",
    "report": "harness.cli.report:report",
    "calibrate": "harness.cli.report:calibrate",
    "reconcile": "harness.cli.reconcile:reconcile",
    "capacity": "harness.cli.capacity:capacity",
    "plan": "harness.cli.plan:plan",
    "sweep": "harness.cli.sweep:sweep",
    "workloads": "harness.cli.workloads:workloads",
    "import": "harness.cli.importing:import_group",
    "model": "harness.cli.model:model",
}


RENAMED: dict[str, str] = {"fleet": "sweep"}
"""Old command names: hidden, each says in one line what it is called now."""


def _renamed(old: str, new: str) -> click.Command:
    @click.command(old, hidden=True, add_help_option=False,
                   context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    @click.pass_context
    def command(ctx: click.Context) -> None:
        rest = " ".join(ctx.args)
        raise BadInput(f"`gpucost {old}` is now `gpucost {new}`: gpucost {new} {rest}".rstrip())

    return command


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self.get_command(ctx, name) is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in RENAMED:
            return _renamed(cmd_name, RENAMED[cmd_name])
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name == module_name:
                return None  # a command group not built yet
            raise
        return getattr(module, attr, None)

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except GpucostError as err:
            click.echo(f"Error: {err}", err=True)
            ctx.exit(err.exit_code)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="gpucost")
def main() -> None:
    """Measure what AI inference costs on a GPU, and what it earns at your prices."""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
