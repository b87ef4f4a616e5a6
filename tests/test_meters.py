"""The measurement layer: NVML adapter (against a fake driver), null meter, sampler, energy windows."""

from __future__ import annotations

import itertools
import statistics
import subprocess
import sys
import threading
import time

import pytest

from harness.errors import BadInput, MeterError, MeterUnavailable
from harness.meters import (
    EnergyMonitor,
    NullMeter,
    NvmlMeter,
    Sample,
    Sampler,
    integrate_power_j,
    nvml_device_for,
    open_meter,
)
from tests.fakes import FakeNvml
from tests.fakes import fake_pynvml as nv


def open_fake(fake: FakeNvml, index: int = 0) -> NvmlMeter:
    return NvmlMeter(index, nvml_module=fake).open()


def sample_at(t_s: float, power_w: float | None) -> Sample:
    return Sample(t_s, power_w, None, None, None, None, None, None, None)


# -- the adapter ---------------------------------------------------------------------------------


def test_info_reads_the_device() -> None:
    meter = open_fake(FakeNvml(name="NVIDIA H100 80GB HBM3"))
    info = meter.info
    assert info.name == "NVIDIA H100 80GB HBM3"
    assert info.uuid is not None and info.uuid.startswith("GPU-")
    assert info.driver_version == "570.124.06"
    assert info.cuda_driver_version == "12.8"
    assert info.compute_capability == "9.0"
    assert info.memory_total_bytes == 80 * 1024**3
    assert info.power_limit_w == 700.0
    assert info.default_sm_clock_mhz == 1980.0
    assert info.max_sm_clock_mhz == 1980.0
    assert info.has_energy_counter is True


def test_unsupported_reading_is_none_and_asked_once() -> None:
    fake = FakeNvml(unsupported={"nvmlDeviceGetTemperature"})
    meter = open_fake(fake)
    first, second = meter.read_sample(), meter.read_sample()
    assert first.temperature_c is None and second.temperature_c is None
    assert fake.calls["nvmlDeviceGetTemperature"] == 1
    assert second.gpu_util_pct == 87.0 and second.sm_clock_mhz == 1980.0
    assert second.mem_used_bytes == 2 * 1024**3


def test_energy_counter_missing_on_old_gpu() -> None:
    fake = FakeNvml(energy_supported=False)
    meter = open_fake(fake)
    assert meter.energy_mj() is None
    assert meter.info.has_energy_counter is False
    assert meter.energy_mj() is None
    assert fake.calls["nvmlDeviceGetTotalEnergyConsumption"] == 1


def test_lost_gpu_raises_from_direct_call_and_blanks_sample_fields() -> None:
    fake = FakeNvml()
    meter = open_fake(fake)
    assert meter.read_sample().power_w == 300.0
    fake.lose_gpu()
    with pytest.raises(MeterError, match="GPU is lost"):
        meter.energy_mj()
    sample = meter.read_sample()
    assert sample.t_s > 0
    assert sample.power_w is None and sample.gpu_util_pct is None and sample.throttled is None


def test_gpu_lost_after_some_calls_is_not_remembered_as_unsupported() -> None:
    fake = FakeNvml(lose_gpu_after_calls=0)
    meter = NvmlMeter(0, nvml_module=fake)
    with pytest.raises(MeterError):
        meter.query("nvmlDeviceGetPowerUsage")
    with pytest.raises(MeterError):
        meter.query("nvmlDeviceGetPowerUsage")
    assert fake.calls["nvmlDeviceGetPowerUsage"] == 2


def test_instant_power_preferred_then_average_power_fallback() -> None:
    fake = FakeNvml(power_w=412.5)
    assert open_fake(fake).read_sample().power_w == 412.5
    assert fake.calls["nvmlDeviceGetFieldValues"] == 1
    assert fake.calls["nvmlDeviceGetPowerUsage"] == 0

    old = FakeNvml(power_w=412.5, instant_power_supported=False)
    meter = open_fake(old)
    readings = [meter.read_sample().power_w for _ in range(3)]
    assert readings == [412.5] * 3
    assert old.calls["nvmlDeviceGetFieldValues"] == 1
    assert old.calls["nvmlDeviceGetPowerUsage"] == 3


@pytest.mark.parametrize(
    ("reasons", "throttled"),
    [
        (0, False),
        (nv.nvmlClocksEventReasonGpuIdle, False),
        (
            nv.nvmlClocksEventReasonApplicationsClocksSetting | nv.nvmlClocksEventReasonGpuIdle,
            False,
        ),
        (nv.nvmlClocksEventReasonSyncBoost, False),
        (nv.nvmlClocksEventReasonSwPowerCap, True),
        (nv.nvmlClocksEventReasonHwSlowdown, True),
        (nv.nvmlClocksEventReasonSwThermalSlowdown, True),
        (nv.nvmlClocksEventReasonHwThermalSlowdown | nv.nvmlClocksEventReasonGpuIdle, True),
        (nv.nvmlClocksEventReasonHwPowerBrakeSlowdown, True),
    ],
)
def test_clock_event_reasons_decoded(reasons: int, throttled: bool) -> None:
    fake = FakeNvml()
    fake.set_reasons(reasons)
    sample = open_fake(fake).read_sample()
    assert sample.clock_event_reasons == reasons
    assert sample.throttled is throttled


def test_older_bindings_use_the_throttle_reasons_name() -> None:
    fake = FakeNvml(missing={"nvmlDeviceGetCurrentClocksEventReasons"})
    fake.set_reasons(nv.nvmlClocksThrottleReasonSwPowerCap)
    sample = open_fake(fake).read_sample()
    assert sample.throttled is True
    assert fake.calls["nvmlDeviceGetCurrentClocksThrottleReasons"] == 1


def test_init_failure_is_meter_unavailable() -> None:
    fake = FakeNvml(init_error=nv.NVML_ERROR_LIBRARY_NOT_FOUND)
    with pytest.raises(MeterUnavailable, match="Library Not Found"):
        NvmlMeter(0, nvml_module=fake).open()
    with pytest.raises(MeterUnavailable, match="no NVML device 3"):
        NvmlMeter(3, nvml_module=FakeNvml(devices=2)).open()


def test_close_shuts_nvml_down_once() -> None:
    fake = FakeNvml()
    meter = open_fake(fake)
    meter.read_sample()
    meter.close()
    meter.close()
    assert fake.calls["nvmlShutdown"] == 1
    assert fake.init_depth == 0
    with pytest.raises(MeterError, match="closed"):
        meter.energy_mj()


# -- open_meter and device mapping ---------------------------------------------------------------


def test_open_meter_cpu_is_null_without_touching_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    meter = open_meter("cpu")
    assert isinstance(meter, NullMeter) and meter.reason is None
    assert sum(fake.calls.values()) == 0


def test_open_meter_without_bindings_is_null(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` fail
    meter = open_meter("cuda:0")
    assert isinstance(meter, NullMeter)
    assert meter.reason is not None and "nvidia-ml-py" in meter.reason


def test_open_meter_without_driver_is_null(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml(init_error=nv.NVML_ERROR_DRIVER_NOT_LOADED)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    meter = open_meter("cuda")
    assert isinstance(meter, NullMeter)
    assert meter.reason is not None and "Driver Not Loaded" in meter.reason


def test_open_meter_honours_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml(devices=4)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    meter = open_meter("cuda:1")
    assert isinstance(meter, NvmlMeter)
    assert meter.info.index == 3 and meter.info.uuid == fake.devices[3].uuid

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", fake.devices[2].uuid[:12])
    by_uuid = open_meter("cuda:0")
    assert isinstance(by_uuid, NvmlMeter) and by_uuid.info.index == 2

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-")  # a prefix of every device: ambiguous
    assert isinstance(open_meter("cuda:0"), NullMeter)

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert isinstance(open_meter("cuda:1"), NullMeter)

    explicit = open_meter("cuda:0", device_uuid=fake.devices[1].uuid.removeprefix("GPU-"))
    assert isinstance(explicit, NvmlMeter) and explicit.index == 1


@pytest.mark.parametrize(
    ("device", "visible", "expected"),
    [
        ("cuda", None, 0),
        ("cuda:2", None, 2),
        ("cuda:0", "3,1", 3),
        ("cuda:1", "3,1", 1),
        ("cuda:0", "GPU-5e1f0c2a", "GPU-5e1f0c2a"),
        ("cuda:1", " 4 , 5 ", 5),
    ],
)
def test_nvml_device_for(device: str, visible: str | None, expected: int | str) -> None:
    assert nvml_device_for(device, visible) == expected


def test_nvml_device_for_refuses_what_it_cannot_meter() -> None:
    with pytest.raises(BadInput, match="cuda:x"):
        nvml_device_for("cuda:x", None)
    with pytest.raises(MeterUnavailable, match="not among"):
        nvml_device_for("cuda:1", "0,bogus,2")  # CUDA stops reading at the bad entry
    with pytest.raises(MeterUnavailable, match="not among"):
        nvml_device_for("cuda:0", "")
    with pytest.raises(MeterUnavailable, match="MIG"):
        nvml_device_for("cuda:0", "MIG-1b2c3d4e-aaaa-bbbb-cccc-0123456789ab")


def test_meters_package_does_not_import_torch() -> None:
    code = (
        "import sys, harness.meters as m; m.open_meter('cpu'); "
        "sys.exit(1 if 'torch' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# -- the null meter --------------------------------------------------------------------------------


def test_null_meter_reads_nothing() -> None:
    meter = NullMeter()
    sample = meter.read_sample()
    assert meter.info is None and meter.energy_mj() is None
    assert [sample.power_w, sample.gpu_util_pct, sample.throttled] == [None, None, None]
    meter.close()


# -- the sampler -----------------------------------------------------------------------------------


def test_sampler_labels_samples_at_its_interval() -> None:
    fake = FakeNvml()
    drained: list[int] = []
    sampler = Sampler(open_fake(fake), 0.05, on_samples=lambda items: drained.append(len(items)))
    with sampler:
        assert sampler.running
        sampler.set_label("text", 8)
        time.sleep(0.3)
        first = sampler.drain()
        sampler.set_label("image", 2)
        time.sleep(0.3)
    second = sampler.drain()
    assert not sampler.running
    assert {item.label for item in first} <= {(None, None), ("text", 8)}
    assert ("text", 8) in {item.label for item in first}
    assert ("image", 2) in {item.label for item in second}
    assert drained == [len(first), len(second)]
    assert sampler.drain() == []
    everything = sampler.samples
    assert len(everything) == len(first) + len(second)
    assert 6 <= len(everything) <= 15  # 0.6 s at 50 ms; missed ticks are skipped, never bunched
    times = [item.sample.t_s for item in everything]
    assert times == sorted(times)
    assert 0.025 <= statistics.median(b - a for a, b in itertools.pairwise(times)) <= 0.1
    middle = sampler.samples_between(times[2], times[4])
    assert [s.t_s for s in middle] == times[2:5]
    with_edges = sampler.samples_between(times[2] + 1e-9, times[4] - 1e-9, include_edges=True)
    assert [s.t_s for s in with_edges] == times[2:5]


def test_sampler_stop_returns_at_once() -> None:
    sampler = Sampler(open_fake(FakeNvml()), interval_s=30.0).start()
    time.sleep(0.05)
    started = time.perf_counter()
    sampler.stop()
    assert time.perf_counter() - started < 1.0  # a sleep(30) loop would hold stop for 30 s
    assert len(sampler.samples) == 1


@pytest.mark.parametrize("interval_s", [None, 0])
def test_sampler_disabled_starts_no_thread(interval_s: float | None) -> None:
    before = threading.active_count()
    with Sampler(open_fake(FakeNvml()), interval_s=interval_s) as sampler:
        assert not sampler.running and threading.active_count() == before
        assert sampler.sample_now() is not None
    assert len(sampler.samples) == 1


def test_sampler_with_null_meter_starts_no_thread() -> None:
    before = threading.active_count()
    with Sampler(NullMeter(), interval_s=0.01) as sampler:
        assert not sampler.running and threading.active_count() == before
        assert sampler.sample_now() is None
        time.sleep(0.03)
    assert sampler.samples == [] and sampler.drain() == []


def test_sampler_refuses_negative_interval() -> None:
    with pytest.raises(BadInput, match="interval"):
        Sampler(NullMeter(), interval_s=-0.1)


def test_sampler_survives_a_lost_gpu() -> None:
    fake = FakeNvml()
    with Sampler(open_fake(fake), 0.02) as sampler:
        time.sleep(0.06)
        fake.lose_gpu()
        time.sleep(0.06)
        assert sampler.running
    powers = [item.sample.power_w for item in sampler.samples]
    assert powers[0] == 300.0 and powers[-1] is None


def test_measurement_path_never_asks_for_process_lists() -> None:
    fake = FakeNvml(energy_supported=False)
    meter = open_fake(fake)
    with Sampler(meter, 0.01) as sampler:
        monitor = EnergyMonitor(meter, sampler)
        assert meter.info.name
        monitor.begin_window("w")
        time.sleep(0.05)
        monitor.end_window("w")
        monitor.measure_idle_power_w(0.02)
    assert fake.calls["nvmlDeviceGetUtilizationRates"] > 3
    assert fake.process_calls == 0
    with pytest.raises(AssertionError):  # the fake does catch such a call
        fake.nvmlDeviceGetComputeRunningProcesses(fake.nvmlDeviceGetHandleByIndex(0))
    assert fake.process_calls == 1


# -- energy windows --------------------------------------------------------------------------------


def test_counter_window_energy_is_power_times_time() -> None:
    fake = FakeNvml(power_w=250.0)
    monitor = EnergyMonitor(open_fake(fake), None)
    monitor.begin_window("bs8")
    time.sleep(0.2)
    window = monitor.end_window("bs8")
    assert window.energy_method == "counter"
    assert window.energy_j == pytest.approx(250.0 * window.elapsed_s, rel=0.01)
    assert window.avg_power_w == pytest.approx(250.0, rel=0.01)
    assert window.gpu_util_mean is None and window.throttled is None  # nothing sampled


def test_counter_zero_over_a_short_window_is_not_measured() -> None:
    fake = FakeNvml(energy_update_period_s=1e6)  # the counter does not tick during the test
    monitor = EnergyMonitor(open_fake(fake), None)
    monitor.begin_window("short")
    short = monitor.end_window("short")
    assert short.elapsed_s < 0.1
    assert short.energy_j is None and short.energy_method is None and short.avg_power_w is None
    monitor.begin_window("long")
    time.sleep(0.12)
    long = monitor.end_window("long")
    assert long.energy_j == 0.0 and long.energy_method == "counter"


def test_nested_and_overlapping_windows() -> None:
    fake = FakeNvml(power_w=100.0)
    monitor = EnergyMonitor(open_fake(fake), None)
    monitor.begin_window("outer")
    monitor.begin_window("inner")
    time.sleep(0.12)
    with pytest.raises(MeterError, match="already open"):
        monitor.begin_window("inner")
    inner = monitor.end_window("inner")
    time.sleep(0.12)
    outer = monitor.end_window("outer")
    assert outer.energy_j is not None and inner.energy_j is not None
    assert outer.energy_j > inner.energy_j > 0
    with pytest.raises(MeterError, match="never begun"):
        monitor.end_window("outer")


def test_power_integration_without_counter_follows_power_changes() -> None:
    fake = FakeNvml(power_w=100.0, energy_supported=False)
    meter = open_fake(fake)
    with Sampler(meter, 0.02) as sampler:
        monitor = EnergyMonitor(meter, sampler)
        true0_mj = fake.true_energy_mj()
        monitor.begin_window("w")
        time.sleep(0.2)
        fake.set_power(300.0)
        time.sleep(0.2)
        window = monitor.end_window("w")
        true_j = (fake.true_energy_mj() - true0_mj) / 1000.0
    assert window.energy_method == "power_integration"
    assert window.energy_j is not None
    # A linear ramp between the samples around the step misses at most interval x 200 W / 2.
    assert window.energy_j == pytest.approx(true_j, abs=0.02 * 200.0 / 2 + 0.01 * true_j)
    assert window.energy_j != pytest.approx(100.0 * window.elapsed_s, rel=0.2)
    assert window.gpu_util_mean == 87.0 and window.temperature_c_max == 54.0
    assert window.mem_used_bytes_max == 2 * 1024**3 and window.throttled is False


def test_power_integration_from_edge_samples_when_sampler_thread_is_off() -> None:
    fake = FakeNvml(power_w=180.0, energy_supported=False)
    meter = open_fake(fake)
    sampler = Sampler(meter, interval_s=None)
    monitor = EnergyMonitor(meter, sampler)
    monitor.begin_window("w")
    time.sleep(0.05)
    window = monitor.end_window("w")
    assert window.energy_method == "power_integration"
    assert window.energy_j == pytest.approx(180.0 * window.elapsed_s, rel=1e-6)
    assert len(sampler.samples) == 2


def test_no_counter_and_no_sampler_measures_no_energy() -> None:
    monitor = EnergyMonitor(open_fake(FakeNvml(energy_supported=False)), None)
    monitor.begin_window("w")
    window = monitor.end_window("w")
    assert window.energy_j is None and window.energy_method is None and window.avg_power_w is None


def test_null_meter_window_is_empty_but_timed() -> None:
    monitor = EnergyMonitor(NullMeter(), Sampler(NullMeter()))
    monitor.begin_window("cpu")
    time.sleep(0.01)
    window = monitor.end_window("cpu")
    assert window.elapsed_s >= 0.01
    assert window.energy_j is None and window.energy_method is None
    assert window.avg_power_w is None and window.throttled is None and window.gpu_util_mean is None


def test_window_reports_throttling_seen_by_the_sampler() -> None:
    fake = FakeNvml()
    meter = open_fake(fake)
    with Sampler(meter, 0.01) as sampler:
        monitor = EnergyMonitor(meter, sampler)
        monitor.begin_window("w")
        time.sleep(0.04)
        fake.set_reasons(nv.nvmlClocksEventReasonSwPowerCap)
        time.sleep(0.04)
        window = monitor.end_window("w")
    assert window.throttled is True


def test_integrate_power_holds_edges_and_interpolates() -> None:
    samples = [sample_at(1.0, 100.0), sample_at(2.0, None), sample_at(3.0, 200.0)]
    # held 100 W over [0.5, 1], ramp 100→200 W over [1, 3], held 200 W over [3, 3.5]
    assert integrate_power_j(samples, 0.5, 3.5) == pytest.approx(50.0 + 300.0 + 100.0)
    assert integrate_power_j(samples, 1.5, 2.5) == pytest.approx(150.0)  # bracketed window
    assert integrate_power_j(samples, 4.0, 5.0) is None  # only samples from before the window
    assert integrate_power_j([sample_at(1.0, None)], 0.0, 2.0) is None


def test_idle_power_from_counter_and_from_samples() -> None:
    counted = EnergyMonitor(open_fake(FakeNvml(power_w=70.0)), None)
    assert counted.measure_idle_power_w(0.15) == pytest.approx(70.0, rel=0.01)
    sampled = EnergyMonitor(open_fake(FakeNvml(power_w=65.0, energy_supported=False)), None)
    assert sampled.measure_idle_power_w(0.15) == 65.0
    started = time.perf_counter()
    assert EnergyMonitor(NullMeter(), None).measure_idle_power_w(5.0) is None
    assert time.perf_counter() - started < 1.0  # no wait when there is nothing to read


# -- the real device -------------------------------------------------------------------------------


@pytest.mark.gpu
def test_real_nvml_energy_window() -> None:
    meter = open_meter("cuda:0")
    assert isinstance(meter, NvmlMeter), getattr(meter, "reason", None)
    try:
        assert meter.info.name and meter.info.memory_total_bytes
        with Sampler(meter, 0.05) as sampler:
            monitor = EnergyMonitor(meter, sampler)
            monitor.begin_window("real")
            time.sleep(0.5)
            window = monitor.end_window("real")
        assert window.energy_method in ("counter", "power_integration")
        assert window.energy_j is not None and window.energy_j > 0
        assert window.avg_power_w is not None and window.avg_power_w > 0
        assert window.gpu_util_mean is not None
        assert len(sampler.samples) >= 5
    finally:
        meter.close()
