"""A server that answers every request with bytes the test wrote: for hostile responses that a
well-behaved framework would never send (a chunk that is `[1,2]`, a stream cut short, usage of
10^15 tokens). `GET .../models` answers `models_body`; every POST answers `post(body)`, a whole
HTTP response written as is, after which the connection closes."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Callable
from typing import Any


def sse(*events: object, done: bool = True) -> bytes:
    """A 200 text/event-stream response, close-delimited: each event a `data:` line (objects as
    JSON, str/bytes as they are), then `[DONE]` unless `done` is False."""
    body = b""
    for event in events:
        if isinstance(event, bytes):
            body += event
        elif isinstance(event, str):
            body += f"data: {event}\n\n".encode()
        else:
            body += f"data: {json.dumps(event)}\n\n".encode()
    if done:
        body += b"data: [DONE]\n\n"
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n" + body


def http(
    status: int, body: bytes | str, content_type: str = "application/json", **headers: str
) -> bytes:
    data = body.encode() if isinstance(body, str) else body
    lines = [f"HTTP/1.1 {status} X", f"Content-Type: {content_type}",
             f"Content-Length: {len(data)}", "Connection: close"]  # fmt: skip
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def token(text: str = "a", finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "text": text, "finish_reason": finish}]}


def usage(completion: Any, prompt: Any = 4) -> dict[str, Any]:
    return {"choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}


def stream(n: int = 4, completion: Any = None, prompt: Any = 4) -> bytes:
    """`n` text chunks, the last with finish_reason, then usage (`completion` defaults to n)."""
    events: list[object] = [token() for _ in range(n - 1)] + [token(finish="length")]
    events.append(usage(n if completion is None else completion, prompt))
    return sse(*events)


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server: RawServer = self.server  # type: ignore[assignment]
        try:
            request_line = self.rfile.readline(65536).decode("latin-1")
            length = 0
            while True:
                line = self.rfile.readline(65536)
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
                if name.strip().lower() == "authorization":
                    server.authorizations.append(value.strip())
            raw = self.rfile.read(length) if length else b""
            method, path = request_line.split(" ")[:2]
            if method == "GET":
                self.wfile.write(http(200, json.dumps(server.models_body)) if path.endswith("/models")
                                 else http(200, '{"status": "ok"}'))  # fmt: skip
                return
            body = json.loads(raw or b"{}")
            server.bodies.append(body)
            self.wfile.write(server.post(body))
        except (OSError, ValueError):
            pass


class RawServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, post: Callable[[dict[str, Any]], bytes], models_body: Any = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.post = post
        self.models_body = {"data": [{"id": "raw"}]} if models_body is None else models_body
        self.bodies: list[dict[str, Any]] = []
        self.authorizations: list[str] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.shutdown()
        self.server_close()
