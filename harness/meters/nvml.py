"""The NVML adapter: the one place that calls pynvml.

Vendor errors become the project's own: a library or driver that cannot start is
`MeterUnavailable`; a reading the device does not support is None (remembered, so it is not asked
again every sample); any other NVML failure is `MeterError` carrying NVML's message.
`read_sample()` never raises for one failed field: that field is None and the rest are read.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from types import ModuleType
from typing import Any

from harness.errors import BadInput, MeterError, MeterUnavailable
from harness.meters.base import DeviceInfo, Sample

# Clock-event reason bits (nvmlClocksEventReason*, same values as the older
# nvmlClocksThrottleReason* names). Only these mean the GPU is slowed against its will; idle,
# application-clock settings, sync boost and display clocks are not a slowdown of the work.
SW_POWER_CAP = 0x4
HW_SLOWDOWN = 0x8
SW_THERMAL_SLOWDOWN = 0x20
HW_THERMAL_SLOWDOWN = 0x40
HW_POWER_BRAKE_SLOWDOWN = 0x80
SLOWDOWN_REASONS_MASK = (
    SW_POWER_CAP | HW_SLOWDOWN | SW_THERMAL_SLOWDOWN | HW_THERMAL_SLOWDOWN | HW_POWER_BRAKE_SLOWDOWN
)

_NVML_SUCCESS = 0
_NVML_ERROR_INVALID_ARGUMENT = 2
_NVML_ERROR_NOT_SUPPORTED = 3
_NVML_ERROR_FUNCTION_NOT_FOUND = 13
_UNSUPPORTED_CODES = frozenset({_NVML_ERROR_NOT_SUPPORTED, _NVML_ERROR_FUNCTION_NOT_FOUND})
_NVML_CLOCK_SM = 1
_NVML_CLOCK_ID_APP_CLOCK_DEFAULT = 2
_NVML_TEMPERATURE_GPU = 0
_NVML_FI_DEV_POWER_INSTANT = 186
_FIELD_VALUE_ATTRS = ("dVal", "uiVal", "ulVal", "ullVal", "sllVal", "siVal", "usVal")


def is_throttled(clock_event_reasons: int | None) -> bool | None:
    """Whether a clock-event bitmask holds a slowdown reason; None when the reasons are unknown."""
    if clock_event_reasons is None:
        return None
    return bool(clock_event_reasons & SLOWDOWN_REASONS_MASK)


def load_pynvml() -> ModuleType:
    """Import nvidia-ml-py, or raise MeterUnavailable."""
    try:
        return importlib.import_module("pynvml")
    except ImportError as err:
        raise MeterUnavailable(f"NVML bindings not installed (nvidia-ml-py): {err}") from err


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class NvmlMeter:
    """Reads one NVIDIA GPU through NVML.

    `index` is the NVML index (the order nvidia-smi shows). With `uuid` given, the device is
    found by UUID instead (a prefix is enough, as in CUDA_VISIBLE_DEVICES) and `index` is ignored.
    The constructor only stores its arguments: NVML starts on `open()` or on the first reading,
    and stops on `close()`. Safe to read from the sampler thread and the caller's thread at once.
    """

    def __init__(
        self, index: int, nvml_module: ModuleType | None = None, *, uuid: str | None = None
    ) -> None:
        self._index = index
        self._uuid_prefix = uuid
        self._module = nvml_module
        self._nvml: Any = None
        self._handle: Any = None
        self._info: DeviceInfo | None = None
        self._unsupported: set[str] = set()
        self._open_lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"NvmlMeter(index={self._index})"

    def __enter__(self) -> NvmlMeter:
        return self.open()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def index(self) -> int:
        """The NVML index of the device (known once open when it was chosen by UUID)."""
        return self._index

    def open(self) -> NvmlMeter:
        """Start NVML and find the device. Raises MeterUnavailable when either cannot be done."""
        with self._open_lock:
            if self._closed:
                raise MeterError(f"NVML meter for GPU {self._index} is closed")
            if self._handle is not None:
                return self
            nvml = self._module if self._module is not None else load_pynvml()
            try:
                nvml.nvmlInit()
            except nvml.NVMLError as err:
                raise MeterUnavailable(f"NVML cannot start: {err}") from err
            try:
                handle = self._find_handle(nvml)
            except nvml.NVMLError as err:
                nvml.nvmlShutdown()
                raise MeterUnavailable(f"NVML cannot open GPU {self._describe()}: {err}") from err
            except MeterUnavailable:
                nvml.nvmlShutdown()
                raise
            # Readers test the handle without the lock: the module must be in place first.
            self._nvml = nvml
            self._handle = handle
            return self

    def close(self) -> None:
        """Stop NVML for this meter (once; later calls do nothing)."""
        with self._open_lock:
            if self._closed:
                return
            self._closed = True
            if self._handle is None:
                return
            self._handle = None
            # A lost GPU may refuse shutdown; there is nothing left to release then.
            with contextlib.suppress(self._nvml.NVMLError):
                self._nvml.nvmlShutdown()

    # -- readings ------------------------------------------------------------------------------

    @property
    def info(self) -> DeviceInfo:
        """What the driver says about the device, read once."""
        if self._info is None:
            self._info = self._read_info()
        return self._info

    def energy_mj(self) -> float | None:
        """Total energy counter in mJ since driver load (Volta and newer), else None."""
        value = self.query("nvmlDeviceGetTotalEnergyConsumption")
        return None if value is None else float(value)

    def read_sample(self) -> Sample:
        """One cheap reading for the sampler: no process lists; a failed field is None."""
        t_s = time.perf_counter()
        power_w = self._quiet(self.power_w)
        util = self._quiet(lambda: self.query("nvmlDeviceGetUtilizationRates"))
        memory = self._quiet(lambda: self.query("nvmlDeviceGetMemoryInfo"))
        sm_clock = self._quiet(lambda: self.query("nvmlDeviceGetClockInfo", _NVML_CLOCK_SM))
        temperature = self._quiet(
            lambda: self.query("nvmlDeviceGetTemperature", _NVML_TEMPERATURE_GPU)
        )
        reasons = self._quiet(self.clock_event_reasons)
        return Sample(
            t_s=t_s,
            power_w=power_w,
            gpu_util_pct=None if util is None else float(util.gpu),
            mem_util_pct=None if util is None else float(util.memory),
            mem_used_bytes=None if memory is None else int(memory.used),
            sm_clock_mhz=None if sm_clock is None else float(sm_clock),
            temperature_c=None if temperature is None else float(temperature),
            clock_event_reasons=reasons,
            throttled=is_throttled(reasons),
        )

    def power_w(self) -> float | None:
        """Instant board power where the driver has it, else NVML's power reading (on Ampere and
        newer, except GA100, that one is a 1-second average)."""
        instant_mw = self._instant_power_mw()
        if instant_mw is not None:
            return instant_mw / 1000.0
        usage_mw = self.query("nvmlDeviceGetPowerUsage")
        return None if usage_mw is None else usage_mw / 1000.0

    def clock_event_reasons(self) -> int | None:
        """Current clock-event (throttle) reason bitmask; older bindings only have the old name."""
        if self._has_function("nvmlDeviceGetCurrentClocksEventReasons"):
            value = self.query("nvmlDeviceGetCurrentClocksEventReasons")
        else:
            value = self.query("nvmlDeviceGetCurrentClocksThrottleReasons")
        return None if value is None else int(value)

    def query(self, function: str, *args: Any) -> Any:
        """Call `pynvml.<function>(handle, *args)`. None where the device or bindings lack it
        (asked once, then remembered); MeterError with NVML's message for any other failure."""
        key = function if not args else f"{function}{args}"
        if key in self._unsupported:
            return None
        nvml, handle = self._opened()
        fn = getattr(nvml, function, None)
        if fn is None:
            self._unsupported.add(key)
            return None
        try:
            return fn(handle, *args)
        except nvml.NVMLError as err:
            if getattr(err, "value", None) in _UNSUPPORTED_CODES:
                self._unsupported.add(key)
                return None
            raise MeterError(f"NVML {function} failed on GPU {self._index}: {err}") from err

    # -- internals -----------------------------------------------------------------------------

    def _opened(self) -> tuple[Any, Any]:
        if self._handle is None:
            self.open()
        return self._nvml, self._handle

    def _describe(self) -> str:
        return self._uuid_prefix if self._uuid_prefix is not None else str(self._index)

    def _find_handle(self, nvml: Any) -> Any:
        count = int(nvml.nvmlDeviceGetCount())
        if self._uuid_prefix is None:
            if not 0 <= self._index < count:
                raise MeterUnavailable(f"no NVML device {self._index} (NVML sees {count})")
            return nvml.nvmlDeviceGetHandleByIndex(self._index)
        wanted = _normalise_uuid(self._uuid_prefix)
        matches = []
        for index in range(count):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            uuid = _normalise_uuid(_text(nvml.nvmlDeviceGetUUID(handle)))
            if uuid == wanted:
                matches = [(index, handle)]
                break
            if uuid.startswith(wanted):
                matches.append((index, handle))
        if len(matches) != 1:
            found = "no" if not matches else f"{len(matches)}"
            raise MeterUnavailable(f"{found} NVML devices match UUID {self._uuid_prefix!r}")
        self._index, handle = matches[0]
        return handle

    def _has_function(self, function: str) -> bool:
        nvml, _ = self._opened()
        return getattr(nvml, function, None) is not None

    def _instant_power_mw(self) -> float | None:
        key = "instant_power"
        if key in self._unsupported:
            return None
        nvml, _ = self._opened()
        field_id = getattr(nvml, "NVML_FI_DEV_POWER_INSTANT", None)
        values = None if field_id is None else self.query("nvmlDeviceGetFieldValues", [field_id])
        if not values:
            self._unsupported.add(key)
            return None
        field = values[0]
        if field.nvmlReturn != _NVML_SUCCESS:
            if field.nvmlReturn in (*_UNSUPPORTED_CODES, _NVML_ERROR_INVALID_ARGUMENT):
                self._unsupported.add(key)
                return None
            raise MeterError(
                f"NVML instant power failed on GPU {self._index}: code {field.nvmlReturn}"
            )
        return float(getattr(field.value, _FIELD_VALUE_ATTRS[field.valueType]))

    @staticmethod
    def _quiet(read: Any) -> Any:
        try:
            return read()
        except MeterError:
            return None

    def _read_info(self) -> DeviceInfo:
        self._opened()
        name = self.query("nvmlDeviceGetName")
        uuid = self._quiet(lambda: self.query("nvmlDeviceGetUUID"))
        memory = self._quiet(lambda: self.query("nvmlDeviceGetMemoryInfo"))
        limit_mw = self._quiet(lambda: self.query("nvmlDeviceGetEnforcedPowerLimit"))
        capability = self._quiet(lambda: self.query("nvmlDeviceGetCudaComputeCapability"))
        energy = self._quiet(self.energy_mj)
        return DeviceInfo(
            index=self._index,
            name="unknown" if name is None else _text(name),
            uuid=None if uuid is None else _text(uuid),
            driver_version=self._system_text("nvmlSystemGetDriverVersion"),
            cuda_driver_version=_cuda_version(self._system_value("nvmlSystemGetCudaDriverVersion")),
            compute_capability=None if capability is None else f"{capability[0]}.{capability[1]}",
            memory_total_bytes=None if memory is None else int(memory.total),
            power_limit_w=None if limit_mw is None else limit_mw / 1000.0,
            default_sm_clock_mhz=self._default_sm_clock_mhz(),
            has_energy_counter=energy is not None,
            max_sm_clock_mhz=_float(
                self._quiet(lambda: self.query("nvmlDeviceGetMaxClockInfo", _NVML_CLOCK_SM))
            ),
        )

    def _default_sm_clock_mhz(self) -> float | None:
        # The default application clock is the clock the board runs at unthrottled; boards
        # without application clocks (most consumer cards) fall back to the maximum.
        for function, args in (
            ("nvmlDeviceGetClock", (_NVML_CLOCK_SM, _NVML_CLOCK_ID_APP_CLOCK_DEFAULT)),
            ("nvmlDeviceGetDefaultApplicationsClock", (_NVML_CLOCK_SM,)),
            ("nvmlDeviceGetMaxClockInfo", (_NVML_CLOCK_SM,)),
        ):
            value = self._quiet(lambda f=function, a=args: self.query(f, *a))
            if value:
                return float(value)
        return None

    def _system_value(self, function: str) -> Any:
        nvml, _ = self._opened()
        fn = getattr(nvml, function, None)
        if fn is None:
            return None
        try:
            return fn()
        except nvml.NVMLError:
            return None

    def _system_text(self, function: str) -> str | None:
        value = self._system_value(function)
        return None if value is None else _text(value)


def nvml_device_for(torch_device: str, cuda_visible_devices: str | None) -> int | str:
    """Which NVML device is torch's `cuda:N`: an NVML index, or a UUID (prefix) to match.

    CUDA numbers only the devices CUDA_VISIBLE_DEVICES lists, in its order: `cuda:1` with
    CUDA_VISIBLE_DEVICES=2,3 is NVML device 3. When the list holds UUIDs (GPU-...), the answer is
    that UUID and the device is matched by UUID. MIG instances (MIG-...) have no board-level
    energy counter of their own and are not metered. NVML orders devices by PCI bus; CUDA does
    too when CUDA_DEVICE_ORDER=PCI_BUS_ID, and on machines with one GPU model either order
    gives the same devices. Where that is not enough, pass the UUID torch reports instead.
    """
    kind, _, ordinal_text = torch_device.strip().partition(":")
    if kind != "cuda" or (ordinal_text and not ordinal_text.isdigit()):
        raise BadInput(f"device {torch_device!r}: expected cuda or cuda:N")
    ordinal = int(ordinal_text or 0)
    if cuda_visible_devices is None:
        return ordinal
    entries: list[str] = []
    for raw in cuda_visible_devices.split(","):
        entry = raw.strip()
        # CUDA stops reading the list at the first entry it cannot parse.
        if not (entry.isdigit() or entry.lower().startswith(("gpu-", "mig-"))):
            break
        entries.append(entry)
    if ordinal >= len(entries):
        raise MeterUnavailable(
            f"{torch_device} is not among CUDA_VISIBLE_DEVICES={cuda_visible_devices!r}"
        )
    entry = entries[ordinal]
    if entry.isdigit():
        return int(entry)
    if entry.lower().startswith("mig-"):
        raise MeterUnavailable(f"{torch_device} is MIG instance {entry}: not metered")
    return entry


def _cuda_version(value: Any) -> str | None:
    """NVML encodes the CUDA driver version as 1000 * major + 10 * minor (12080 → "12.8")."""
    if value is None:
        return None
    code = int(value)
    return f"{code // 1000}.{(code % 1000) // 10}"


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _normalise_uuid(uuid: str) -> str:
    return uuid.strip().lower().removeprefix("gpu-")
