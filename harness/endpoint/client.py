"""One request to an OpenAI-compatible endpoint, streamed where the API streams, with its own
timestamps. HTTP is httpx; server-sent events are parsed by httpx-sse."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import SSEError, aconnect_sse

from harness.endpoint.prompts import Prompt
from harness.endpoint.records import RequestRecord

ROUTES = {"completions": "/completions", "chat": "/chat/completions", "embedding": "/embeddings"}
LENGTH_FIELDS = ("min_tokens", "ignore_eos")
"""Fields that pin the output length; some servers refuse them (422), so they are probed once."""


@dataclass
class RequestShape:
    """What every request of a run carries besides its prompt."""

    api: str  # completions, chat or embedding
    model: str | None
    length_fields: bool = True
    extra_body: dict[str, Any] = field(default_factory=dict)

    def body(self, prompt: Prompt) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.model is not None:
            body["model"] = self.model
        if self.api == "embedding":
            body["input"] = prompt.text
            return {**body, **self.extra_body}
        if self.api == "chat":
            body["messages"] = [{"role": "user", "content": prompt.text}]
        else:
            body["prompt"] = prompt.text
        body.update(
            max_tokens=prompt.output_tokens,
            stream=True,
            stream_options={"include_usage": True},
            temperature=0.0,
        )
        if self.length_fields:
            body.update(min_tokens=prompt.output_tokens, ignore_eos=True)
        return {**body, **self.extra_body}


class HttpStatusError(Exception):
    def __init__(self, status_code: int, text: str) -> None:
        super().__init__(f"HTTP {status_code}: {text[:200]}")
        self.status_code = status_code


async def _within(timeout_s: float, coro: Any) -> None:
    """Await `coro` for at most `timeout_s` (raises TimeoutError past it).

    `asyncio.timeout` where it exists: before Python 3.12, `asyncio.wait_for` can swallow a
    cancellation that arrives as the request completes, and a stopped run then keeps sending."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(timeout_s):
            await coro
    else:
        await asyncio.wait_for(coro, timeout_s)


async def send(
    client: httpx.AsyncClient,
    base_url: str,
    shape: RequestShape,
    prompt: Prompt,
    index: int,
    timeout_s: float,
) -> RequestRecord:
    """Send one request; never raises for what the server does (the record says it)."""
    record = RequestRecord(index=index, start_s=time.perf_counter())
    record.requested_output_tokens = None if shape.api == "embedding" else prompt.output_tokens
    try:
        await _within(timeout_s, _exchange(client, base_url, shape, prompt, record))
        record.end_s = time.perf_counter()
    except asyncio.TimeoutError:
        record.error = f"timeout after {timeout_s:g} s"
    except HttpStatusError as err:
        record.status_code = err.status_code
        record.error = str(err)
    except (
        httpx.HTTPError,
        SSEError,
        json.JSONDecodeError,
        ValueError,
        KeyError,
        TypeError,
    ) as err:
        record.error = f"{type(err).__name__}: {str(err)[:200] or 'connection failed'}"
    if record.ok and shape.api != "embedding" and not record.output_tokens:
        record.error = "no content in the response"
    if record.error is not None:
        record.end_s = None
    return record


async def _exchange(
    client: httpx.AsyncClient,
    base_url: str,
    shape: RequestShape,
    prompt: Prompt,
    record: RequestRecord,
) -> None:
    url = base_url + ROUTES[shape.api]
    body = shape.body(prompt)
    if shape.api == "embedding":
        response = await client.post(url, json=body)
        record.status_code = response.status_code
        if response.status_code != 200:
            raise HttpStatusError(response.status_code, response.text)
        data = response.json()
        usage = data.get("usage") or {}
        record.input_tokens = usage.get("prompt_tokens", prompt.input_tokens)
        if not data.get("data"):
            raise ValueError("no embedding in the response")
        return
    chunks = 0
    usage: dict[str, Any] = {}
    async with aconnect_sse(client, "POST", url, json=body) as source:
        response = source.response
        record.status_code = response.status_code
        if response.status_code != 200:
            await response.aread()
            raise HttpStatusError(response.status_code, response.text)
        async for event in source.aiter_sse():
            if event.data.strip() == "[DONE]":
                break
            data = json.loads(event.data)
            if data.get("error"):
                raise ValueError(f"server error in stream: {str(data['error'])[:200]}")
            if data.get("usage"):
                usage = data["usage"]
            for choice in data.get("choices") or ():
                text = (
                    choice.get("text")
                    if shape.api == "completions"
                    else ((choice.get("delta") or {}).get("content"))
                )
                if text:
                    now = time.perf_counter()
                    if record.first_token_s is None:
                        record.first_token_s = now
                    record.token_times_s.append(now)
                    chunks += 1
    record.input_tokens = usage.get("prompt_tokens", prompt.input_tokens)
    record.output_tokens = usage.get("completion_tokens", chunks)
    record.cached_input_tokens = cached_tokens(usage, record.input_tokens)


def cached_tokens(usage: dict[str, Any], input_tokens: Any) -> int | None:
    """`usage.prompt_tokens_details.cached_tokens` when it is a count that fits the prompt;
    anything else (absent, negative, more than the prompt) is not measured."""
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    if not isinstance(cached, int) or isinstance(cached, bool) or cached < 0:
        return None
    if isinstance(input_tokens, int) and cached > input_tokens:
        return None
    return cached
