"""Server-sent events read as the HTML specification says (event-stream interpretation), with a
bound on how much one event may hold: a server that sends an endless line would otherwise fill
the memory before the request timeout. Only the `data` of each event is yielded; `event`, `id`
and `retry` fields and comments are read and left, an event without data is not dispatched, and
an event cut off by the end of the stream is discarded."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx

MAX_EVENT_CHARS = 1 << 20
"""Largest event (or line) read: an OpenAI stream chunk is a few hundred bytes."""
_LINE_END = re.compile(r"\r\n|\r|\n")


class SSEFormatError(ValueError):
    """The response is not an event stream, or one of its events is too large."""


async def event_data(response: httpx.Response) -> AsyncIterator[str]:
    """The data of each event of `response`, in order."""
    content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type != "text/event-stream":
        raise SSEFormatError(f"Content-Type {content_type!r}, not text/event-stream")
    data: list[str] = []
    size = 0
    buffer = ""
    skip_lf = False  # a CR ended the last piece: a LF opening the next one is the same line end
    first = True
    async for text in response.aiter_text():
        if first:
            text = text.removeprefix("\ufeff")
            first = False
        if skip_lf and text.startswith("\n"):
            text = text[1:]
        buffer += text
        skip_lf = buffer.endswith("\r")
        *lines, buffer = _LINE_END.split(buffer)
        if len(buffer) > MAX_EVENT_CHARS:
            raise SSEFormatError(f"a stream line longer than {MAX_EVENT_CHARS} characters")
        for line in lines:
            if not line:
                if data:
                    yield "\n".join(data)
                data, size = [], 0
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            if name == "data":
                value = value.removeprefix(" ")
                data.append(value)
                size += len(value)
                if size > MAX_EVENT_CHARS:
                    raise SSEFormatError(f"an event larger than {MAX_EVENT_CHARS} characters")
