"""Specs of the test plugin's workloads: what pricing and reports know, without torch."""

from __future__ import annotations

from workloads.spec import SettingOption, UnitSpec, WorkloadSpec

FRAMES = WorkloadSpec(
    name="frames",
    units=(
        UnitSpec("frame", "frames", display_scale=1_000),
        UnitSpec("clip", "requests"),
    ),
    primary_unit="frame",
    call_column="requests",
    options=(SettingOption("frames-per-clip", "int", "frames: frames rendered per clip"),),
    description="a plugin workload with its own unit column (frames)",
)
