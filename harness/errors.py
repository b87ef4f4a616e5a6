"""The project's own exceptions. Vendor and library errors are turned into these at the boundary."""

from __future__ import annotations

import math


class GpucostError(Exception):
    """Base class. The CLI prints `str(err)` as one line and exits non-zero."""

    exit_code = 1


class BadInput(GpucostError):
    """Something the user gave (an option, a file, a folder) is wrong. The message names what and where."""

    exit_code = 2


class RunFolderError(BadInput):
    """A results folder is missing, empty, or not a gpucost run."""


class MeterError(GpucostError):
    """A measurement device failed in a way the caller should know about."""


class MeterUnavailable(MeterError):
    """The meter cannot be used on this machine (no driver, no library, no device)."""


class MeterNotSupported(MeterError):
    """The device does not support this reading (e.g. no energy counter before Volta)."""


def shown(value: object, limit: int = 60) -> str:
    """A value as an error message shows it: scalars quoted and cut short, containers only by
    their kind and size (never printed whole: they can be huge)."""
    if isinstance(value, dict):
        return f"a mapping of {len(value)} fields"
    if isinstance(value, (list, tuple, set)):
        return f"a list of {len(value)} items"
    if value is None:
        return "nothing"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
