"""The load generator's HTTP transport: aiohttp under the small part of httpx's interface that
the request code uses (`post`, `stream`, and a response with `status_code`, `headers`, `text`,
`aread`, `aiter_bytes`, `aiter_text`, `json`), so the request and stream parsing stay as they are.

Why aiohttp: measured against a server of known speed (benchmarks/http_clients.py), httpx spent
about 3× the client CPU per streamed chunk that aiohttp does, and at concurrency 64 its
per-request cost alone pushed the TTFT it read up by ~100 ms. Transport failures are raised as
the httpx exception of the same meaning, so callers' error handling is unchanged."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json as jsonlib
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp
import httpx

DRAIN_S = 0.05
"""How long the end of a stream is waited for after its reader stopped."""


class Response:
    """An aiohttp response seen through httpx's names."""

    def __init__(self, raw: aiohttp.ClientResponse) -> None:
        self._raw = raw
        self.status_code = raw.status
        self.headers = raw.headers
        self._body: bytes | None = None

    async def aread(self) -> bytes:
        if self._body is None:
            with _as_httpx_errors():
                self._body = await self._raw.read()
        return self._body

    @property
    def text(self) -> str:
        return (self._body or b"").decode("utf-8", errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self._body or b"")

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors():
            async for data in self._raw.content.iter_any():
                yield data

    async def aiter_text(self) -> AsyncIterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        with _as_httpx_errors():
            async for data in self._raw.content.iter_any():
                text = decoder.decode(data)
                if text:
                    yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail


@contextlib.contextmanager
def _as_httpx_errors() -> Any:
    try:
        yield
    except aiohttp.ClientConnectorError as err:
        raise httpx.ConnectError(str(err) or "connection failed") from None
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as err:
        raise httpx.RemoteProtocolError(str(err) or "the server closed the stream") from None
    except aiohttp.InvalidURL as err:
        raise httpx.InvalidURL(f"not a URL: {err}") from None
    except (aiohttp.ClientError, ConnectionError) as err:
        raise httpx.ReadError(f"{type(err).__name__}: {err}") from None


class Client:
    """A pooled HTTP/1.1 client of at most `connections` connections, kept alive between
    requests. Time limits are the caller's (`asyncio.timeout` around each request)."""

    def __init__(
        self, connections: int, timeout_s: float, headers: Mapping[str, str] | None = None
    ) -> None:
        self._connections = connections
        self._timeout_s = timeout_s
        self._headers = dict(headers or {})
        self._session: aiohttp.ClientSession | None = None
        self._draining: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Client:
        connector = aiohttp.TCPConnector(limit=self._connections, limit_per_host=0)
        # No total limit here: a streamed request's limit is the caller's; connect gets one so a
        # dead address fails as a connection error rather than a request timeout.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._timeout_s)
        # When a request's headers leave the client (aiohttp's trace hook): its start for
        # latency, so a burst of sends queued in this event loop is not read as server time.
        trace = aiohttp.TraceConfig()
        trace.on_request_headers_sent.append(_headers_sent)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=timeout, trust_env=False, headers=self._headers,
            trace_configs=[trace],
        )
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for task in list(self._draining):
            task.cancel()
        if self._draining:
            await asyncio.gather(*self._draining, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _request(
        self, method: str, url: str, headers: Any, json: Any,
        on_sent: Callable[[float], None] | None = None,
    ) -> Any:  # fmt: skip
        assert self._session is not None, "use the client as `async with`"
        data = jsonlib.dumps(json, separators=(",", ":")).encode() if json is not None else None
        merged = {"Content-Type": "application/json", **(headers or {})}
        return self._session.request(
            method, url, data=data, headers=merged, trace_request_ctx=on_sent
        )

    async def post(self, url: str, *, json: Any = None, headers: Any = None) -> Response:
        return await self._whole("POST", url, headers, json)

    async def get(self, url: str, *, headers: Any = None) -> Response:
        return await self._whole("GET", url, headers, None)

    async def _whole(self, method: str, url: str, headers: Any, json: Any) -> Response:
        with _as_httpx_errors():
            raw = await self._request(method, url, headers, json)
        response = Response(raw)
        try:
            await response.aread()
        except BaseException:
            raw.close()
            raise
        raw.release()
        return response

    @contextlib.asynccontextmanager
    async def stream(
        self, method: str, url: str, *, headers: Any = None, json: Any = None,
        on_sent: Callable[[float], None] | None = None,
    ) -> AsyncIterator[Response]:
        """`on_sent(perf_counter)` is called when the request's headers have been written."""
        with _as_httpx_errors():
            raw = await self._request(method, url, headers, json, on_sent)
        try:
            yield Response(raw)
        except BaseException:
            # Cancelled or failed mid-stream: drop the connection at once (nothing awaited, so
            # a stop is never held up by a server that keeps the stream open).
            raw.close()
            raise
        # A reader stops at `[DONE]`, before the body's last bytes: reading them lets the
        # connection go back to the pool instead of being closed. In the background, so that the
        # request's end is not held up by it.
        if raw.content.at_eof():
            raw.release()
        else:
            task = asyncio.create_task(_drain_and_release(raw))
            self._draining.add(task)
            task.add_done_callback(self._draining.discard)


async def _headers_sent(_session: Any, context: Any, _params: Any) -> None:
    on_sent = context.trace_request_ctx
    if on_sent is not None:
        on_sent(time.perf_counter())


async def _drain_and_release(raw: aiohttp.ClientResponse) -> None:
    try:
        await _briefly(raw.content.read(), DRAIN_S)
    except BaseException:
        # Timed out, failed or cancelled with its client: the connection is closed rather than
        # reused, and nothing is raised (no one awaits this task; the request is already done).
        raw.close()
        return
    raw.release()


async def _briefly(awaitable: Any, limit_s: float) -> None:
    # asyncio.timeout, not wait_for: before Python 3.12, wait_for can swallow a cancellation
    # that arrives as the awaited read completes.
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(limit_s):
            await awaitable
    else:
        await asyncio.wait_for(awaitable, limit_s)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop where it is installed (it spent ~30 % less client CPU per chunk than
    asyncio's own in benchmarks/http_clients.py), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
