"""Serving-side metering: `RequestMeter` writes one record per request to the request log.

Users' serving code imports from here (`from harness.metering import RequestMeter`); the log's
schema lives in `request_log`, beside the writer, and the reconcile reader imports it from there.
"""

from harness.metering.meter import MeteredRequest, RequestMeter, current_request
from harness.metering.request_log import (
    JsonlSink,
    RequestRecord,
    RequestSink,
    SqliteSink,
    iso_timestamp,
    open_request_log,
)

__all__ = [
    "JsonlSink",
    "MeteredRequest",
    "RequestMeter",
    "RequestRecord",
    "RequestSink",
    "SqliteSink",
    "current_request",
    "iso_timestamp",
    "open_request_log",
]
