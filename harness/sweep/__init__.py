"""Sweeps: the same `gpucost run` on many instance types, launched through SkyPilot.

SkyPilot is an optional extra and is imported only in `harness.sweep.sky_api`, lazily; the plan,
the state file and collection work without it.
"""

from __future__ import annotations

from harness.errors import GpucostError

INSTALL_HINT = 'sweep commands need SkyPilot: pip install "gpucost[sweep]"'


class SweepUnavailable(GpucostError):
    """SkyPilot is not installed."""

    def __init__(self) -> None:
        super().__init__(INSTALL_HINT)
