"""The project's own exceptions. Vendor and library errors are turned into these at the boundary."""

from __future__ import annotations


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
