"""Request traces (arrival times and token lengths of real traffic), read as streams: gpucost's
own request log, Azure LLM inference traces, Mooncake JSON Lines and BurstGPT, plain or gzip."""

from harness.traffic.base import TraceRequest, TraceTally
from harness.traffic.formats import trace_formats
from harness.traffic.read import Trace, detect_format, read_trace

__all__ = ["Trace", "TraceRequest", "TraceTally", "detect_format", "read_trace", "trace_formats"]
