"""A fake `pynvml` module: behaves like the NVIDIA driver seen through nvidia-ml-py, with no GPU.

`FakeNvml(...)` *is* a module object (a `types.ModuleType` named "pynvml"): pass it as
`nvml_module=` or put it in `sys.modules["pynvml"]`. Constants, error classes and their codes
are the real ones (nvidia-ml-py 13.x); the functions read a small simulated device:

- an energy counter (mJ) that advances with the clock (`time.perf_counter` unless given) at the
  device's current power; `set_power()` changes the power from now on; `energy_update_period_s`
  makes the counter move in steps, as the driver's does (so short windows read 0);
- `unsupported` names functions that raise `NVMLError_NotSupported` ("old GPU"), `missing`
  names functions the bindings lack (older nvidia-ml-py), `init_error` makes `nvmlInit` fail,
  `lose_gpu_after_calls` makes every device call fail with GPU_IS_LOST after that many calls;
- every call is counted in `calls`; process-list functions raise AssertionError, so a test can
  prove the sampling path never asks for them.
"""

from __future__ import annotations

import math
import string
import time
import types
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_ALREADY_INITIALIZED = 5
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_INSUFFICIENT_SIZE = 7
NVML_ERROR_INSUFFICIENT_POWER = 8
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_TIMEOUT = 10
NVML_ERROR_IRQ_ISSUE = 11
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_CORRUPTED_INFOROM = 14
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_RESET_REQUIRED = 16
NVML_ERROR_OPERATING_SYSTEM = 17
NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18
NVML_ERROR_IN_USE = 19
NVML_ERROR_MEMORY = 20
NVML_ERROR_NO_DATA = 21
NVML_ERROR_UNKNOWN = 999

NVML_TEMPERATURE_GPU = 0
NVML_CLOCK_GRAPHICS = 0
NVML_CLOCK_SM = 1
NVML_CLOCK_MEM = 2
NVML_CLOCK_ID_CURRENT = 0
NVML_CLOCK_ID_APP_CLOCK_TARGET = 1
NVML_CLOCK_ID_APP_CLOCK_DEFAULT = 2
NVML_CLOCK_ID_CUSTOMER_BOOST_MAX = 3

NVML_VALUE_TYPE_DOUBLE = 0
NVML_VALUE_TYPE_UNSIGNED_INT = 1
NVML_VALUE_TYPE_UNSIGNED_LONG = 2
NVML_VALUE_TYPE_UNSIGNED_LONG_LONG = 3
NVML_VALUE_TYPE_SIGNED_LONG_LONG = 4
NVML_VALUE_TYPE_SIGNED_INT = 5
NVML_VALUE_TYPE_UNSIGNED_SHORT = 6
NVML_FI_DEV_POWER_AVERAGE = 185
NVML_FI_DEV_POWER_INSTANT = 186

nvmlClocksEventReasonGpuIdle = 0x1
nvmlClocksEventReasonApplicationsClocksSetting = 0x2
nvmlClocksEventReasonSwPowerCap = 0x4
nvmlClocksEventReasonHwSlowdown = 0x8
nvmlClocksEventReasonSyncBoost = 0x10
nvmlClocksEventReasonSwThermalSlowdown = 0x20
nvmlClocksEventReasonHwThermalSlowdown = 0x40
nvmlClocksEventReasonHwPowerBrakeSlowdown = 0x80
nvmlClocksEventReasonDisplayClockSetting = 0x100
nvmlClocksEventReasonNone = 0x0
nvmlClocksThrottleReasonGpuIdle = 0x1
nvmlClocksThrottleReasonApplicationsClocksSetting = 0x2
nvmlClocksThrottleReasonSwPowerCap = 0x4
nvmlClocksThrottleReasonHwSlowdown = 0x8
nvmlClocksThrottleReasonSyncBoost = 0x10
nvmlClocksThrottleReasonSwThermalSlowdown = 0x20
nvmlClocksThrottleReasonHwThermalSlowdown = 0x40
nvmlClocksThrottleReasonHwPowerBrakeSlowdown = 0x80
nvmlClocksThrottleReasonDisplayClockSetting = 0x100
nvmlClocksThrottleReasonNone = 0x0

_ERROR_STRINGS = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_ALREADY_INITIALIZED: "Already Initialized",
    NVML_ERROR_NOT_FOUND: "Not Found",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_TIMEOUT: "Timeout",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_FUNCTION_NOT_FOUND: "Function Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
    NVML_ERROR_UNKNOWN: "Unknown Error",
}


class NVMLError(Exception):
    """Like pynvml's: `NVMLError(code)` builds the subclass for that code (NVMLError_NotSupported, ...)."""

    _valClassMapping: dict[int, type[NVMLError]] = {}  # noqa: RUF012 - mirrors pynvml
    value: int

    def __new__(cls, value: int) -> NVMLError:
        if cls is NVMLError:
            cls = NVMLError._valClassMapping.get(value, cls)
        obj = Exception.__new__(cls)
        obj.value = value
        return obj

    def __init__(self, *_args: int) -> None:
        super().__init__(self.value)

    def __str__(self) -> str:
        return _ERROR_STRINGS.get(self.value, f"NVML Error with code {self.value}")


def _new_for_code(code: int) -> Callable[..., NVMLError]:
    # Like pynvml: `NVMLError_NotSupported()` needs no argument, its class fixes the code.
    def new(cls: type[NVMLError], *_args: int) -> NVMLError:
        return NVMLError.__new__(cls, code)

    return new


def _make_error_classes() -> dict[str, type[NVMLError]]:
    made: dict[str, type[NVMLError]] = {}
    for const_name, code in list(globals().items()):
        if not const_name.startswith("NVML_ERROR_"):
            continue
        words = string.capwords(const_name.removeprefix("NVML_ERROR_"), "_").replace("_", "")
        cls = type(f"NVMLError_{words}", (NVMLError,), {"__new__": _new_for_code(code)})
        NVMLError._valClassMapping[code] = cls
        made[cls.__name__] = cls
    return made


_ERROR_CLASSES = _make_error_classes()
globals().update(_ERROR_CLASSES)

_CONSTANTS = {
    name: value
    for name, value in globals().items()
    if name.startswith(("NVML_", "nvmlClocks")) and isinstance(value, int)
}

_PROCESS_LIST_FUNCTIONS = (
    "nvmlDeviceGetComputeRunningProcesses",
    "nvmlDeviceGetComputeRunningProcesses_v2",
    "nvmlDeviceGetComputeRunningProcesses_v3",
    "nvmlDeviceGetGraphicsRunningProcesses",
    "nvmlDeviceGetGraphicsRunningProcesses_v2",
    "nvmlDeviceGetGraphicsRunningProcesses_v3",
    "nvmlDeviceGetMPSComputeRunningProcesses",
    "nvmlDeviceGetProcessUtilization",
    "nvmlDeviceGetProcessesUtilizationInfo",
)

_ENERGY_BASE_MJ = 7_654_321_000.0  # the real counter counts since driver load: never near 0


@dataclass
class FakeDevice:
    """One simulated GPU. Change the fields to change what the next reading returns."""

    index: int
    name: str
    uuid: str
    power_w: float
    power_limit_w: float = 700.0
    memory_total_bytes: int = 80 * 1024**3
    mem_used_bytes: int = 2 * 1024**3
    gpu_util_pct: int = 87
    mem_util_pct: int = 41
    sm_clock_mhz: int = 1980
    default_sm_clock_mhz: int = 1980
    max_sm_clock_mhz: int = 1980
    temperature_c: int = 54
    clock_event_reasons: int = 0
    compute_capability: tuple[int, int] = (9, 0)
    energy_mj: float = _ENERGY_BASE_MJ
    energy_marked_at_s: float = 0.0


class _Handle:
    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class FakeNvml(types.ModuleType):
    """A `pynvml` stand-in. Defaults describe one H100 SXM drawing 300 W with every reading supported."""

    def __init__(
        self,
        *,
        power_w: float = 300.0,
        energy_supported: bool = True,
        instant_power_supported: bool = True,
        devices: int = 1,
        name: str = "NVIDIA H100 80GB HBM3",
        unsupported: Iterable[str] = (),
        missing: Iterable[str] = (),
        init_error: int | None = None,
        lose_gpu_after_calls: int | None = None,
        energy_update_period_s: float = 0.0,
        clock: Callable[[], float] = time.perf_counter,
        driver_version: str = "570.124.06",
        cuda_driver_version: int = 12080,
    ) -> None:
        super().__init__("pynvml", "A fake of nvidia-ml-py for tests.")
        self.clock = clock
        self.energy_update_period_s = energy_update_period_s
        self.init_error = init_error
        self.lose_gpu_after_calls = lose_gpu_after_calls
        self.instant_power_supported = instant_power_supported
        self.driver_version = driver_version
        self.cuda_driver_version = cuda_driver_version
        self.unsupported = set(unsupported)
        if not energy_supported:
            self.unsupported.add("nvmlDeviceGetTotalEnergyConsumption")
        self.calls: Counter[str] = Counter()
        self.device_calls = 0
        self.init_depth = 0
        self.gpu_lost = False
        now = clock()
        self.devices = [
            FakeDevice(
                index=i,
                name=name,
                uuid=f"GPU-{0x5E1F0C2A + 0x1F3A7 * i:08x}-7d3b-4c8e-9a6f-{0x3C41D9E2B7 + i:012x}",
                power_w=power_w,
                energy_marked_at_s=now,
            )
            for i in range(devices)
        ]
        for const_name, value in _CONSTANTS.items():
            setattr(self, const_name, value)
        for cls_name, cls in _ERROR_CLASSES.items():
            setattr(self, cls_name, cls)
        self.NVMLError = NVMLError
        skip = set(missing)
        for fn_name, fn in self._api().items():
            if fn_name not in skip:
                setattr(self, fn_name, self._counted(fn_name, fn))

    # -- controls for tests ------------------------------------------------------------------

    def set_power(self, power_w: float, index: int | None = None) -> None:
        """From now on the device(s) draw `power_w`; energy so far is kept."""
        for dev in self._targets(index):
            self._advance_energy(dev)
            dev.power_w = power_w

    def set_reasons(self, reasons: int, index: int | None = None) -> None:
        for dev in self._targets(index):
            dev.clock_event_reasons = reasons

    def lose_gpu(self) -> None:
        self.gpu_lost = True

    @property
    def process_calls(self) -> int:
        return sum(self.calls[name] for name in _PROCESS_LIST_FUNCTIONS)

    def true_energy_mj(self, index: int = 0) -> float:
        """The exact energy counter now, without the driver's update steps."""
        dev = self.devices[index]
        self._advance_energy(dev)
        return dev.energy_mj

    # -- simulation ----------------------------------------------------------------------------

    def _targets(self, index: int | None) -> list[FakeDevice]:
        return self.devices if index is None else [self.devices[index]]

    def _advance_energy(self, dev: FakeDevice) -> None:
        now = self.clock()
        dev.energy_mj += dev.power_w * (now - dev.energy_marked_at_s) * 1000.0
        dev.energy_marked_at_s = now

    def _counted(self, fn_name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            self.calls[fn_name] += 1
            if fn_name in _PROCESS_LIST_FUNCTIONS:
                raise AssertionError(f"{fn_name} called: process lists cost milliseconds")
            if fn_name not in ("nvmlInit", "nvmlErrorString") and self.init_depth == 0:
                raise NVMLError(NVML_ERROR_UNINITIALIZED)
            if args and isinstance(args[0], _Handle):
                self.device_calls += 1
                limit = self.lose_gpu_after_calls
                if limit is not None and self.device_calls > limit:
                    self.gpu_lost = True
                if self.gpu_lost:
                    raise NVMLError(NVML_ERROR_GPU_IS_LOST)
            if fn_name in self.unsupported:
                raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
            return fn(*args)

        call.__name__ = fn_name
        return call

    def _api(self) -> dict[str, Callable[..., Any]]:
        api: dict[str, Callable[..., Any]] = {
            "nvmlInit": self._init,
            "nvmlShutdown": self._shutdown,
            "nvmlErrorString": lambda code: _ERROR_STRINGS.get(code, "Unknown Error"),
            "nvmlDeviceGetCount": lambda: len(self.devices),
            "nvmlDeviceGetHandleByIndex": self._handle_by_index,
            "nvmlDeviceGetHandleByUUID": self._handle_by_uuid,
            "nvmlSystemGetDriverVersion": lambda: self.driver_version,
            "nvmlSystemGetCudaDriverVersion": lambda: self.cuda_driver_version,
            "nvmlDeviceGetName": lambda h: self._dev(h).name,
            "nvmlDeviceGetUUID": lambda h: self._dev(h).uuid,
            "nvmlDeviceGetCudaComputeCapability": lambda h: self._dev(h).compute_capability,
            "nvmlDeviceGetMemoryInfo": self._memory_info,
            "nvmlDeviceGetEnforcedPowerLimit": lambda h: int(self._dev(h).power_limit_w * 1000),
            "nvmlDeviceGetPowerUsage": lambda h: int(self._dev(h).power_w * 1000),
            "nvmlDeviceGetTotalEnergyConsumption": self._energy,
            "nvmlDeviceGetFieldValues": self._field_values,
            "nvmlDeviceGetUtilizationRates": self._utilization,
            "nvmlDeviceGetClockInfo": lambda h, _type: self._dev(h).sm_clock_mhz,
            "nvmlDeviceGetMaxClockInfo": lambda h, _type: self._dev(h).max_sm_clock_mhz,
            "nvmlDeviceGetClock": self._clock,
            "nvmlDeviceGetDefaultApplicationsClock": lambda h, _t: (
                self._dev(h).default_sm_clock_mhz
            ),
            "nvmlDeviceGetTemperature": lambda h, _sensor: self._dev(h).temperature_c,
            "nvmlDeviceGetCurrentClocksEventReasons": lambda h: self._dev(h).clock_event_reasons,
            "nvmlDeviceGetCurrentClocksThrottleReasons": lambda h: self._dev(h).clock_event_reasons,
        }
        for fn_name in _PROCESS_LIST_FUNCTIONS:
            api[fn_name] = lambda *_args: []
        return api

    def _init(self) -> None:
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.init_depth += 1

    def _shutdown(self) -> None:
        self.init_depth -= 1

    def _dev(self, handle: _Handle) -> FakeDevice:
        return self.devices[handle.index]

    def _handle_by_index(self, index: int) -> _Handle:
        if not 0 <= index < len(self.devices):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return _Handle(index)

    def _handle_by_uuid(self, uuid: str) -> _Handle:
        for dev in self.devices:
            if dev.uuid == uuid:
                return _Handle(dev.index)
        raise NVMLError(NVML_ERROR_NOT_FOUND)

    def _memory_info(self, handle: _Handle) -> types.SimpleNamespace:
        dev = self._dev(handle)
        free = dev.memory_total_bytes - dev.mem_used_bytes
        return types.SimpleNamespace(
            total=dev.memory_total_bytes, free=free, used=dev.mem_used_bytes
        )

    def _utilization(self, handle: _Handle) -> types.SimpleNamespace:
        dev = self._dev(handle)
        return types.SimpleNamespace(gpu=dev.gpu_util_pct, memory=dev.mem_util_pct)

    def _clock(self, handle: _Handle, _type: int, clock_id: int) -> int:
        dev = self._dev(handle)
        if clock_id == NVML_CLOCK_ID_APP_CLOCK_DEFAULT:
            return dev.default_sm_clock_mhz
        if clock_id == NVML_CLOCK_ID_CUSTOMER_BOOST_MAX:
            return dev.max_sm_clock_mhz
        return dev.sm_clock_mhz

    def _energy(self, handle: _Handle) -> int:
        dev = self._dev(handle)
        self._advance_energy(dev)
        period = self.energy_update_period_s
        if period <= 0:
            return int(dev.energy_mj)
        # The driver publishes the counter at its own ticks: report the value at the last tick.
        now = dev.energy_marked_at_s
        since_tick_s = now - math.floor(now / period) * period
        return int(dev.energy_mj - dev.power_w * since_tick_s * 1000.0)

    def _field_values(self, handle: _Handle, field_ids: list[int]) -> list[types.SimpleNamespace]:
        dev = self._dev(handle)
        values = []
        for field_id in field_ids:
            supported = field_id == NVML_FI_DEV_POWER_INSTANT and self.instant_power_supported
            values.append(
                types.SimpleNamespace(
                    fieldId=field_id,
                    scopeId=0,
                    timestamp=int(self.clock() * 1e6),
                    latencyUsec=0,
                    valueType=NVML_VALUE_TYPE_UNSIGNED_INT,
                    nvmlReturn=NVML_SUCCESS if supported else NVML_ERROR_NOT_SUPPORTED,
                    value=types.SimpleNamespace(uiVal=int(dev.power_w * 1000) if supported else 0),
                )
            )
        return values
