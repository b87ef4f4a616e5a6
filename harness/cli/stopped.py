"""What an in-process run and an endpoint run say when they stop early (a signal, a full disk):
where the rows measured so far are kept."""

from __future__ import annotations

import contextlib
from typing import Any

import click


def rows_kept_line(created: list[Any]) -> str:
    """Where the run's rows are, in words: the closing line of a run that did not finish."""
    if not created:
        return "no run folder was made"
    store = created[0]
    n = store.rows_kept
    return f"{n} row{'s' if n != 1 else ''} kept in {store.path / 'measurements.csv'}"


def echo_err(text: str) -> None:
    with contextlib.suppress(OSError):  # the terminal may have gone away with the SIGHUP
        click.echo(text, err=True)
