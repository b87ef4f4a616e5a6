"""Each built-in workload's light spec agrees with its heavy class, and importing specs (or the
money layer that reads them) never imports torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workloads import registry
from workloads.spec import UnitSpec, WorkloadSpec


@pytest.mark.parametrize("name", registry.BUILT_IN_ORDER)
def test_spec_matches_the_workload_class(name: str) -> None:
    spec, cls = registry.spec(name), registry.load(name)
    assert spec is not None and spec.name == cls.name
    assert set(spec.count_columns) <= set(cls.unit_columns)
    assert spec.call_column in (*cls.unit_columns, "requests")
    assert spec.phases == tuple(p.name for p in cls.phases)
    fields = cls.settings_type.field_names()
    assert all(o.name.replace("-", "_") in fields for o in spec.options)


def test_specs_and_pricing_import_without_torch() -> None:
    code = (
        "import sys; from workloads import registry; import harness.money.pricing;"
        "assert registry.specs(); assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_spec_refuses_what_cannot_be_priced() -> None:
    unit = UnitSpec("frame", "frames")
    with pytest.raises(ValueError, match="primary unit"):
        WorkloadSpec("x", (unit,), primary_unit="clip")
    with pytest.raises(ValueError, match="share"):
        UnitSpec("frame", "frames", share="half")
    with pytest.raises(ValueError, match="roofline"):
        WorkloadSpec("x", (unit,), primary_unit="frame", roofline="magic")
    assert WorkloadSpec("x", (unit,), primary_unit="frame").units[0].workload == "x"
