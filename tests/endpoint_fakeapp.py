"""A small OpenAI-compatible server for fault tests and the load generator's ceiling benchmark:
`python tests/endpoint_fakeapp.py PORT MODE` or `serve_in_thread(mode)`.

Modes: ok (streams TOKENS chunks at once, with usage), error500, stall (one chunk, then silence),
drop (half a chunk, then the connection closes), slowhealth (never answers its health routes),
serial (like ok, but one request at a time, each taking SERIAL_S: under closed-loop load at
concurrency c a request waits for the c − 1 ahead of it, so its end-to-end time is about c × SERIAL_S).
Started as a command, `+deaf` (ignore SIGTERM) and `+daemon` (first fork a child that leaves the
process group with setsid and writes its pid to MARKER.daemon) may follow the mode: `ok+deaf`."""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKENS = 8
SERIAL_S = 0.08


class FifoLock:
    """A lock taken in the order it was asked for (threading.Lock promises no order), so a
    serial server's queue wait is exactly the requests ahead."""

    def __init__(self) -> None:
        self._turn = threading.Condition()
        self._next_ticket = 0
        self._serving = 0

    def __enter__(self) -> None:
        with self._turn:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._turn.wait_for(lambda: self._serving == ticket)

    def __exit__(self, *_exc: object) -> None:
        with self._turn:
            self._serving += 1
            self._turn.notify_all()


class Handler(BaseHTTPRequestHandler):
    mode = "ok"
    serial_lock = FifoLock()
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args: object) -> None:  # quiet
        pass

    def _json(self, code: int, data: object) -> None:
        body = json.dumps(data).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.mode == "slowhealth":
            self._json(503, {"status": "starting"})
        elif self.path.endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": "fake-model"}]})
        elif self.path == "/health":
            self._json(200, {"status": "ok"})
        else:
            self._json(404, {"error": "no route"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if not self.path.endswith("/completions"):
            self._json(404, {"detail": "Not Found"})
            return
        if self.mode == "error500":
            self._json(500, {"error": "internal"})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        n = int(body.get("max_tokens") or TOKENS)

        def chunk(data: object) -> bytes:
            return f"data: {json.dumps(data)}\n\n".encode()

        token = {"choices": [{"index": 0, "text": "a", "delta": {"content": "a"}}]}
        if self.mode == "stall":
            self.wfile.write(chunk(token))
            self.wfile.flush()
            time.sleep(30)
            return
        if self.mode == "drop":
            self.wfile.write(b'data: {"choices": [{"ind')
            self.wfile.flush()
            self.close_connection = True
            return
        if self.mode == "serial":
            with self.serial_lock:
                time.sleep(SERIAL_S)
        out = b"".join(chunk(token) for _ in range(n))
        usage = {"prompt_tokens": 4, "completion_tokens": n, "total_tokens": n + 4}
        out += chunk({"choices": [], "usage": usage}) + b"data: [DONE]\n\n"
        self.wfile.write(out)
        self.wfile.flush()
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    request_queue_size = 512  # the default 5 refuses connections under a load test


def make_server(mode: str, port: int = 0) -> ThreadingHTTPServer:
    handler = type("ModeHandler", (Handler,), {"mode": mode, "serial_lock": FifoLock()})
    server = _Server(("127.0.0.1", port), handler)
    server.daemon_threads = True
    return server


def serve_in_thread(mode: str) -> tuple[ThreadingHTTPServer, str]:
    server = make_server(mode)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


def _daemon(marker: str) -> None:
    import os

    if os.fork() == 0:
        os.setsid()
        with open(marker + ".daemon", "w") as fh:
            fh.write(str(os.getpid()))
        time.sleep(600)
        os._exit(0)


if __name__ == "__main__":
    import signal

    mode, *extras = (sys.argv[2] if len(sys.argv) > 2 else "ok").split("+")
    if "deaf" in extras:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if "daemon" in extras:
        _daemon(sys.argv[3])
    make_server(mode, int(sys.argv[1])).serve_forever()
