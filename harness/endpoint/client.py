"""One request to an OpenAI-compatible endpoint, streamed where the API streams, with its own
timestamps. HTTP is httpx; server-sent events are read by harness/endpoint/sse.py."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.credentials import redact
from harness.endpoint.prompts import Prompt
from harness.endpoint.records import RequestRecord
from harness.endpoint.sse import event_data

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


class MalformedResponse(ValueError):
    """The server answered with something the OpenAI API does not send (a chunk that is not an
    object, `choices` that is not a list, a count that is not a whole number)."""


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedResponse(f"{what} is {_kind(value)}, not an object")
    return value


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def usage_count(usage: dict[str, Any], name: str) -> tuple[int | None, str | None]:
    """A token count from a `usage` object and, where it is not taken, why: absent or null is
    (None, None); a string, float, bool, negative or NaN is not a count."""
    value = usage.get(name)
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None, f"usage.{name} {str(value)[:40]!r} is not a whole number >= 0"
    return value, None


MAX_PROMPT_OVERHEAD_TOKENS = 8192
"""Tokens a chat template may add around a prompt: a `prompt_tokens` above the prompt's bytes
plus this is not a count of this prompt."""


def check_output_count(reported: int | None, chunks: int, asked: int | None) -> str | None:
    """Why a server's `completion_tokens` is not taken (None when it is): above what was asked
    (`max_tokens`), or far from the chunks that carried text (each chunk carries at least one
    token; below half of them, or many times more, is another count)."""
    if reported is None:
        return None
    if asked is not None and reported > asked:
        return f"usage.completion_tokens {reported} is above max_tokens {asked}"
    if reported * 2 < chunks:
        return f"usage.completion_tokens {reported} is far below the {chunks} streamed chunks"
    if asked is None and reported > 64 * max(chunks, 1):
        return f"usage.completion_tokens {reported} is far above the {chunks} streamed chunks"
    return None


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
        httpx.InvalidURL,
        json.JSONDecodeError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        RecursionError,
        UnicodeError,
    ) as err:
        record.error = f"{type(err).__name__}: {str(err)[:200] or 'connection failed'}"
    if record.ok and shape.api != "embedding" and not record.output_tokens:
        record.error = "no content in the response"
    if record.error is not None:
        record.end_s = None
        record.error = redact(record.error)  # a server may echo the Authorization it was sent
    return record


MAX_BODY_BYTES = 16 << 20
"""Largest whole (not streamed) response read: an embedding answer is kilobytes."""
ERROR_TEXT_BYTES = 4096
"""What is read of an error response: enough for its message, not an endless body."""


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """The body, or MalformedResponse once it passes `limit` bytes (a server that never stops
    sending would otherwise fill the memory before the request timeout)."""
    parts: list[bytes] = []
    size = 0
    async for part in response.aiter_bytes():
        size += len(part)
        if size > limit:
            raise MalformedResponse(f"the response is larger than {limit >> 20} MiB")
        parts.append(part)
    return b"".join(parts)


async def _error_text(response: httpx.Response) -> str:
    parts: list[bytes] = []
    size = 0
    async for part in response.aiter_bytes():
        parts.append(part)
        size += len(part)
        if size >= ERROR_TEXT_BYTES:
            break
    return b"".join(parts)[:ERROR_TEXT_BYTES].decode("utf-8", errors="replace")


def _loads(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise MalformedResponse(f"{what} is nested too deep") from None


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
        async with client.stream("POST", url, json=body, on_sent=record.sent_at) as response:
            record.status_code = response.status_code
            if response.status_code != 200:
                raise HttpStatusError(response.status_code, await _error_text(response))
            raw = await read_capped(response, MAX_BODY_BYTES)
        data = _object(_loads(raw.decode("utf-8"), "the response"), "the response")
        usage = {} if data.get("usage") is None else _object(data["usage"], "usage")
        record.input_tokens = _input_tokens(usage, prompt, record)
        embeddings = data.get("data")
        if not isinstance(embeddings, list) or not embeddings:
            raise MalformedResponse("no embedding in the response")
        return
    chunks = 0
    ended = False
    usage: dict[str, Any] = {}
    headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
    async with client.stream(
        "POST", url, json=body, headers=headers, on_sent=record.sent_at
    ) as response:
        record.status_code = response.status_code
        if response.status_code != 200:
            raise HttpStatusError(response.status_code, await _error_text(response))
        async for event in event_data(response):
            # An event whose data is empty carries nothing to read: servers send them (and
            # events of only `id:` or `retry:`, which are not dispatched) as keep-alives.
            if not event.strip():
                continue
            if event.strip() == "[DONE]":
                ended = True
                break
            data = _object(_loads(event, "a stream chunk"), "a stream chunk")
            if data.get("error"):
                raise ValueError(f"server error in stream: {str(data['error'])[:200]}")
            if data.get("usage") is not None:
                usage = _object(data["usage"], "usage")
            choices = data.get("choices")
            choices = [] if choices is None else choices
            if not isinstance(choices, list):
                raise MalformedResponse(f"choices is {_kind(choices)}, not a list")
            for item in choices:
                choice = _object(item, "a choice")
                if choice.get("finish_reason") is not None:
                    ended = True
                if shape.api == "completions":
                    text = choice.get("text")
                else:
                    delta = choice.get("delta")
                    text = None if delta is None else _object(delta, "delta").get("content")
                if text is not None and not isinstance(text, str):
                    raise MalformedResponse(f"the streamed text is {_kind(text)}, not a string")
                if text:
                    now = time.perf_counter()
                    if record.first_token_s is None:
                        record.first_token_s = now
                    record.token_times_s.append(now)
                    chunks += 1
    if not ended:
        # A stream cut short looks, to the reader, like one that closed on purpose: only the
        # OpenAI stream's own end (`[DONE]` or a finish_reason) says every token came.
        raise MalformedResponse(
            f"the stream ended after {chunks} chunks without [DONE] or a finish_reason"
        )
    record.input_tokens = _input_tokens(usage, prompt, record)
    record.cached_input_tokens = cached_tokens(usage, record.input_tokens)
    reported, why = usage_count(usage, "completion_tokens")
    if chunks == 0:
        if reported:
            raise MalformedResponse(f"usage.completion_tokens {reported} but no text was streamed")
        record.output_tokens = 0
        return
    why = why or check_output_count(reported, chunks, prompt.output_tokens)
    if why is not None:
        _reject(record, why)
    record.output_tokens = chunks if reported is None or why is not None else reported


def _reject(record: RequestRecord, why: str) -> None:
    record.usage_rejected = why if record.usage_rejected is None else record.usage_rejected


def _input_tokens(usage: dict[str, Any], prompt: Prompt, record: RequestRecord) -> int | None:
    """The server's `prompt_tokens` where it can be this prompt's count; else the tokenizer's
    (None without one), and the request is flagged."""
    reported, why = usage_count(usage, "prompt_tokens")
    limit = len(prompt.text.encode("utf-8")) + MAX_PROMPT_OVERHEAD_TOKENS
    if why is None and reported is not None and reported > limit:
        why = f"usage.prompt_tokens {reported} is more than the prompt could hold ({limit})"
    if why is not None:
        _reject(record, why)
    return prompt.input_tokens if reported is None or why is not None else reported


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
