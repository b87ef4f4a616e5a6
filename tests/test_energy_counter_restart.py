"""An energy counter that restarts within a window gives no energy, never a negative or made-up
one."""

from __future__ import annotations

import time

from harness.meters import EnergyMonitor, NvmlMeter
from tests.fakes import FakeNvml

# -- energy ---------------------------------------------------------------------------------------


def test_a_counter_that_restarts_mid_window_is_not_measured() -> None:
    fake = FakeNvml(power_w=200.0)
    monitor = EnergyMonitor(NvmlMeter(0, nvml_module=fake).open(), None)
    monitor.begin_window("w")
    fake.devices[0].energy_mj = 0.0  # the driver was reloaded: the counter starts again at 0
    time.sleep(0.12)
    window = monitor.end_window("w")
    assert window.energy_j is None and window.energy_method is None
