"""The trace formats gpucost reads, by name: a mapping of reader classes, extended by the
`gpucost.trace_formats` entry-point group (a third-party reader is a `TraceReader` subclass)."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from harness.errors import BadInput
from harness.traffic.azure import AzureReader
from harness.traffic.base import TraceReader
from harness.traffic.burstgpt import BurstGptReader
from harness.traffic.mooncake import MooncakeReader
from harness.traffic.request_log import RequestLogReader, RequestLogSqliteReader

BUILT_IN: tuple[type[TraceReader], ...] = (
    RequestLogSqliteReader,
    RequestLogReader,
    MooncakeReader,
    AzureReader,
    BurstGptReader,
)


@cache
def trace_formats() -> dict[str, type[TraceReader]]:
    """Every known format by name, built-in ones first (detection tries them in this order)."""
    formats = {reader.format_name: reader for reader in BUILT_IN}
    for entry in entry_points(group="gpucost.trace_formats"):
        if entry.name in formats:
            continue
        try:
            reader = entry.load()
        except Exception as err:  # a broken plugin must not stop the built-in formats
            raise BadInput(f"trace format plugin {entry.name!r} failed to load: {err}") from None
        if isinstance(reader, type) and issubclass(reader, TraceReader):
            formats[entry.name] = reader
    return formats


def trace_format(name: str) -> type[TraceReader]:
    formats = trace_formats()
    if name not in formats:
        raise BadInput(f"--trace-format {name!r}: unknown; formats: {', '.join(formats)}")
    return formats[name]
