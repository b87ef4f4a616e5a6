"""Hostile inputs against endpoint runs and run folders, counted by outcome.

    PYTHONPATH=$PWD python benchmarks/hostile_endpoint.py [--quick] [-v]

Every case is generated here and judged against what it should give:

- clean error: one `Error:` line, exit 2 (or 1 where the run itself failed), no traceback, no
  run folder where the input could be checked before one (options, URLs, datasets);
- handled right: the run or request gives the outcome the case asks for (a malformed response
  is a counted request error; usage that cannot be true is not taken; a valid stream is read);
- traceback, silent wrong (exit 0 or `complete` where it must not, a count taken that cannot be
  true, a folder left behind), hang (past its time limit), data lost (a row measured but not on
  disk), leak (a secret in output or in any file written).

The servers are real sockets on 127.0.0.1 (tests/endpoint_rawapp.py, tests/endpoint_fakeapp.py).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from harness.cli import main
from harness.endpoint.client import RequestShape, send
from harness.endpoint.loadgen import make_client
from harness.endpoint.prompts import Prompt
from harness.endpoint.server import free_port
from tests.endpoint_rawapp import RawServer, http, sse, token, usage

ROOT = Path(__file__).resolve().parents[1]
FAKE_APP = ROOT / "tests" / "endpoint_fakeapp.py"
CLASSES = ("clean error", "handled right", "traceback", "silent wrong", "hang", "data lost",
           "leak")  # fmt: skip
SECRET = "pw-S3CRET-9f2"
PROMPT = Prompt("a b c d", 4, 4)

results: Counter[str] = Counter()
by_group: dict[str, Counter[str]] = {}
failures: list[str] = []


def record(group: str, name: str, outcome: str) -> None:
    results[outcome] += 1
    by_group.setdefault(group, Counter())[outcome] += 1
    if outcome not in ("clean error", "handled right"):
        failures.append(f"{outcome}: {group}: {name}")


# -- one request against a scripted answer ----------------------------------------------------


def ask(server: RawServer, answer: bytes, api: str) -> Any:
    server.post = lambda _body: answer

    async def one() -> Any:
        async with make_client(1, 3.0) as client:
            return await send(client, server.url, RequestShape(api, "m"), PROMPT, 0, 3.0)

    return asyncio.run(one())


def chunk(api: str, text: Any = "a", finish: Any = None) -> dict[str, Any]:
    if api == "chat":
        return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}
    return {"choices": [{"index": 0, "text": text, "finish_reason": finish}]}


def good(api: str, n: int = 4, completion: Any = "n", prompt: Any = 4, done: bool = True) -> list:
    events: list[Any] = [chunk(api) for _ in range(n - 1)] + [chunk(api, finish="length")]
    events.append(usage(n if completion == "n" else completion, prompt))
    return events


def response_cases(api: str) -> list[tuple[str, bytes, Callable[[Any], bool]]]:
    """(name, answer, is the record right?)."""
    err = lambda r: not r.ok and bool(r.error)  # noqa: E731
    ok4 = lambda r: r.ok and r.output_tokens == 4 and r.usage_rejected is None  # noqa: E731
    cases: list[tuple[str, bytes, Callable[[Any], bool]]] = []
    not_objects = ["[1,2]", '"x"', "null", "42", "true", "false", "[]", "1.5", '""', "-1"]
    for value, where in itertools.product(not_objects, ("first", "middle", "last")):
        events = good(api)
        events.insert({"first": 0, "middle": 2, "last": len(events)}[where], value)
        cases.append((f"chunk {value} at {where}", sse(*events), err))
    bad_choices = ["[1]", '"abc"', "{}", "5", "true", "[null]", "[[]]", '["a"]', "0", "false"]
    for value in bad_choices:
        events = good(api)
        events.insert(1, f'{{"choices": {value}}}')
        cases.append((f"choices {value}", sse(*events), err))
    for value in (
        ['"abc"', "5", "[1]", "true", "[]"] if api == "chat" else ["5", "[1]", "true", "[]", "{}"]
    ):
        body = (
            f'{{"choices": [{{"delta": {value}}}]}}'
            if api == "chat"
            else f'{{"choices": [{{"text": {value}}}]}}'
        )
        events = good(api)
        events.insert(1, body)
        cases.append((f"text/delta {value}", sse(*events), err))
    for value in ["[1]", '"abc"', "5", "true"]:
        events = good(api)
        events[-1] = f'{{"choices": [], "usage": {value}}}'
        cases.append((f"usage {value}", sse(*events), err))
    rejected = lambda r: r.ok and r.output_tokens == 4 and r.usage_rejected is not None  # noqa: E731
    for value in ['"12"', '"abc"', "{}", "[]", "1.5", "-1", "true", "false", "NaN", "Infinity",
                  "-Infinity", "1e15", "1000000000000000", "0", "1", "5", "99999"]:  # fmt: skip
        events = good(api)
        events[-1] = (
            f'{{"choices": [], "usage": {{"prompt_tokens": 4, "completion_tokens": {value}}}}}'
        )
        cases.append((f"completion_tokens {value}", sse(*events), rejected))
    prompt_rejected = lambda r: r.ok and r.input_tokens == 4 and r.usage_rejected is not None  # noqa: E731
    for value in ['"4"', "-3", "1.0", "true", "NaN", "1e300", "1000000000000000", "[4]"]:
        events = good(api)
        events[-1] = (
            f'{{"choices": [], "usage": {{"prompt_tokens": {value}, "completion_tokens": 4}}}}'
        )
        cases.append((f"prompt_tokens {value}", sse(*events), prompt_rejected))
    for value in ['"12"', "-1", "1.5", "NaN", "1e15", "0", "5", "[]"]:
        events = good(api)[:-1]
        events[-1] = dict(events[-1], usage={"prompt_tokens": 4, "completion_tokens": "§"})
        text = json.dumps(events[-1]).replace('"§"', value)
        cases.append((f"completion_tokens {value} on the last token", sse(*events[:-1], text),
                      rejected))  # fmt: skip
    for value in ['"4"', "-3", "1.0", "NaN", "1e300", "[4]", "{}", "false"]:
        events = good(api)[:-1]
        events[-1] = dict(events[-1], usage={"prompt_tokens": "§", "completion_tokens": 4})
        text = json.dumps(events[-1]).replace('"§"', value)
        cases.append((f"prompt_tokens {value} on the last token", sse(*events[:-1], text),
                      prompt_rejected))  # fmt: skip
    taken = lambda n: lambda r: r.ok and r.output_tokens == n and r.usage_rejected is None  # noqa: E731
    for completion, expect in ((4, 4), (3, 3), (2, 2), (None, 4), ("null", 4)):
        events = good(api, completion=completion if completion != "null" else None)
        if completion is None:
            events = events[:-1]  # no usage at all
        cases.append((f"completion_tokens {completion} for 4 chunks", sse(*events), taken(expect)))
    # SSE framing the specification allows
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    body = b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in good(api)) + b"data: [DONE]\n\n"
    framings = {
        "CRLF": body.replace(b"\n", b"\r\n"),
        "CR": body.replace(b"\n", b"\r"),
        "comments": b": hi\n\n" + body.replace(b"\n\n", b"\n\n: keepalive\n\n"),
        "id and retry events": b"id: 1\n\nretry: 50\n\n" + body,
        "empty data events": body.replace(b"\n\n", b"\n\ndata:\n\n"),
        "event names": body.replace(b"data: ", b"event: message\ndata: "),
        "no space after colon": body.replace(b"data: ", b"data:"),
        "unknown fields": body.replace(b"data: ", b"foo: bar\ndata: "),
        "extra blank lines": body.replace(b"\n\n", b"\n\n\n\n"),
        "ids on events": body.replace(b"data: ", b"id: 9\ndata: "),
    }
    for name, framed in framings.items():
        cases.append((f"SSE {name}", head + framed, ok4))
    multi = b'data: {"choices": [{"index": 0,\ndata: "text": "a", "delta": {"content": "a"},\n'
    multi += b'data: "finish_reason": "stop"}]}\n\n'
    cases.append(("SSE multi-line data", sse(multi, usage(1)), taken(1)))
    # how a stream ends
    for n in range(4):
        cases.append((f"cut after {n} of 4, no end", sse(*[chunk(api)] * n, done=False), err))
    cases.append(("cut mid-chunk", sse(chunk(api), b'data: {"choi', done=False), err))
    cases.append(("finish_reason, no [DONE]", sse(*good(api), done=False), ok4))
    only_done = [chunk(api)] * 4 + [usage(4)]
    cases.append(("[DONE], no finish_reason", sse(*only_done), ok4))
    cases.append(("usage but no text", sse(usage(16)), err))
    cases.append(("no events at all", sse(done=True), err))
    cases.append(("error event", sse({"error": {"message": "boom"}}), err))
    cases.append(("deep nesting", sse("[" * 100_000 + "]" * 100_000), err))
    cases.append(("not JSON", sse("{nope"), err))
    cases.append(("invalid UTF-8", head + b"data: \xff\xfe\n\n", err))
    cases.append(("a 3 MiB line", sse(b"data: " + b"x" * (3 << 20)), err))
    cases.append(("a 3 MiB event of short lines", sse(b"data: xxxxxxxx\n" * (400 << 10)), err))
    cases.append(("a 20 MiB error body", http(500, b"x" * (20 << 20)), err))
    cases.append(("text/event-stream in capitals", head.replace(b"text/event-stream",
                  b"Text/Event-Stream; charset=utf-8") + body, ok4))  # fmt: skip
    cases.append(("a BOM first", head + b"\xef\xbb\xbf" + body, ok4))
    for status in (201, 204, 301, 302, 307, 308, 400, 401, 403, 404, 405, 408, 413, 422, 429,
                   500, 502, 503, 504):  # fmt: skip
        extra = {"Location": "/elsewhere"} if 300 <= status < 400 else {"Retry_After": "1"}
        cases.append((f"HTTP {status}", http(status, '{"error": "x"}', **extra), err))
    cases.append(("HTML with 200", http(200, "<html></html>", "text/html"), err))
    cases.append(("JSON completion with 200", http(200, json.dumps(good(api)[0])), err))
    return cases


def embedding_cases() -> list[tuple[str, bytes, Callable[[Any], bool]]]:
    err = lambda r: not r.ok and bool(r.error)  # noqa: E731
    cases = []
    for body in ("[1, 2]", '"x"', "null", "5", '{"data": null}', '{"data": 5}', '{"data": []}',
                 '{"data": "x"}', '{"data": [[0.1]], "usage": "x"}', '{"data": [[0.1]], "usage": [1]}',
                 "[" * 100_000, "{nope", "[" + "0," * (10 << 20) + "0]"):  # fmt: skip
        cases.append((f"embedding {body[:30]}", http(200, body), err))
    ok = lambda r: r.ok and r.input_tokens == 4 and r.usage_rejected is not None  # noqa: E731
    for value in ('"4"', "-1", "1e300", "true"):
        body = f'{{"data": [[0.1]], "usage": {{"prompt_tokens": {value}}}}}'
        cases.append((f"embedding prompt_tokens {value}", http(200, body), ok))
    return cases


def run_response_cases(quick: bool) -> None:
    with RawServer(lambda _b: b"") as server:
        for api in ("completions", "chat"):
            cases = response_cases(api)
            for name, answer, right in cases[:: 3 if quick else 1]:
                _judge_request("responses " + api, name, lambda a=answer, p=api: ask(server, a, p),
                               right)  # fmt: skip
        for name, answer, right in embedding_cases():
            _judge_request("responses embedding", name,
                           lambda a=answer: ask(server, a, "embedding"), right)  # fmt: skip


def _judge_request(group: str, name: str, call: Callable[[], Any], right: Callable) -> None:
    started = time.monotonic()
    try:
        rec = call()
    except Exception as err:
        record(group, f"{name} ({type(err).__name__}: {err})", "traceback")
        return
    if time.monotonic() - started > 10:
        record(group, name, "hang")
    elif right(rec):
        record(group, name, "handled right")
    else:
        record(group, f"{name} -> ok={rec.ok} out={rec.output_tokens} "
                      f"in={rec.input_tokens} rejected={rec.usage_rejected} error={rec.error}",
               "silent wrong")  # fmt: skip


# -- the command line -------------------------------------------------------------------------


def invoke(args: list[str], env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, args, env=env)


def judge_refusal(group: str, name: str, args: list[str], tmp: Path, code: int = 2,
                  needs_no_folder: bool = True, env: dict[str, str] | None = None) -> None:  # fmt: skip
    out = tmp / f"out-{len(failures)}-{sum(results.values())}"
    started = time.monotonic()
    result = invoke([*args, "--out", str(out)], env)
    text = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        record(group, f"{name}: {type(result.exception).__name__}: {result.exception}", "traceback")
    elif SECRET in text or (out.exists() and SECRET in _files_text(out)):
        record(group, name, "leak")
    elif time.monotonic() - started > 60:
        record(group, name, "hang")
    elif result.exit_code != code or not text.strip().splitlines()[-1].startswith("Error:"):
        record(group, f"{name} -> exit {result.exit_code}: {text.strip()[-200:]}", "silent wrong")
    elif needs_no_folder and out.exists() and any(out.iterdir()):
        record(group, f"{name}: a run folder was left", "silent wrong")
    else:
        record(group, name, "clean error")


def _files_text(folder: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


NUMBERS = ["-5", "0", "-0", "1e999", "nan", "inf", "-inf", "1_0", "1,1", "abc", "", "0x10",
           "1e12", "100000000000", " ", "1.5", "--", "١٢", "1e-400", "0.0", "-1e-9", "1/2",
           "1e308", "2**31", "0b1", "1e", "e1", "Infinity"]  # fmt: skip
NUMERIC_OPTIONS = {
    # option: values that must be accepted among NUMBERS (the rest are refused)
    "--input-len": set(), "--output-len": set(), "--seq-len": set(), "--requests": set(),
    "--warmup-requests": {"0", "-0"}, "--gpus-used": set(), "--max-search-levels": set(),
    "--duration": {"1.5"}, "--request-timeout": {"1.5"}, "--server-timeout": {"1.5"},
    "--burstiness": {"1.5"},
}  # fmt: skip
LEVELS = ["0", "-1", "1_0", "1,1", "1,,2", ",", "x", "1.5", "1e3", "100000000", "10001",
          "nan", "inf", "-inf", "1e-9", "0x10", "١", "1;2", "1 2", "+1", "1e999", "9" * 400]  # fmt: skip
IN_PROCESS = [["-b", "1"], ["--batch-sizes", "1,2"], ["--iterations", "3"], ["--warmup", "1"],
              ["--engine", "compiled"], ["--device", "cpu"], ["--dtype", "fp32"],
              ["--min-duration", "1"], ["--max-iterations", "5"], ["--idle-seconds", "0"],
              ["--threads", "2"], ["--no-count-flops"], ["-o", "steps=4"], ["--steps", "4"],
              ["--preset", "tiny"], ["--height", "64"], ["--audio-seconds", "1"]]  # fmt: skip


def run_option_cases(tmp: Path, quick: bool) -> None:
    with RawServer(
        lambda body: sse(*good("completions", min(body.get("max_tokens") or 4, 4)))
    ) as s:
        base = ["run", "--endpoint", s.url, "--requests", "1", "--warmup-requests", "0"]
        for option, accepted in NUMERIC_OPTIONS.items():
            for value in NUMBERS[:: 3 if quick else 1]:
                if value in accepted:
                    continue  # a valid value runs a level: counted with the run cases
                extra = ["--slo", "e2e_p99=1", "--find-max-load"] if "search" in option else []
                args = (
                    [a for a in base if a not in ("--requests", "1")]
                    if option == "--requests"
                    else base
                )
                judge_refusal("options " + option, f"{option} {value!r}",
                              [*args, *extra, option, value], tmp)  # fmt: skip
        for flag, value in itertools.product(("--concurrency", "--request-rate"), LEVELS):
            if (flag, value) in {("--concurrency", "1e3"), ("--request-rate", "1.5"),
                                 ("--request-rate", "1e3"), ("--request-rate", "inf"),
                                 ("--request-rate", "10001"),
                                 ("--request-rate", "+1")}:  # fmt: skip
                continue
            judge_refusal("options levels", f"{flag} {value!r}", [*base, flag, value], tmp)
        for extra in IN_PROCESS:
            judge_refusal("options in-process", " ".join(extra), [*base, *extra], tmp)
        for slo in ["ttft_p99=1,ttft_p099=2", "ttft_p99=1,TTFT_P99=2", "ttft_p99=1_0",
                    "ttft_p99=-1", "ttft_p99=nan", "ttft_p99=inf", "ttft_p98=1", "foo_p99=1",
                    "ttft_p99", "ttft_p99=", ",", "ttft_p99=1,,", "ttft_p 99=1"]:  # fmt: skip
            judge_refusal("options slo", slo, [*base, "--slo", slo], tmp)
            judge_refusal("compare slo", slo, ["compare", str(tmp), "--slo", slo], tmp,
                          needs_no_folder=False)  # fmt: skip
        judge_refusal("options server", "--server-cmd ''", ["run", "--server-cmd", ""], tmp)
        judge_refusal("options server", "--server-cmd '\"'", ["run", "--server-cmd", '"'], tmp)
        judge_refusal("options server", "--server-cmd nosuch", ["run", "--server-cmd",
                      "/nonexistent/serve", "--endpoint", f"http://127.0.0.1:{free_port()}/v1"],
                      tmp, needs_no_folder=False)  # fmt: skip
        judge_refusal("options server", "--server and --server-cmd",
                      ["run", "--server", "transformers", "--server-cmd", "x"], tmp)  # fmt: skip
        judge_refusal("options workload", "-w image", [*base, "-w", "image"], tmp)
        judge_refusal("options workload", "-w text,embedding", [*base, "-w", "text,embedding"], tmp)


URLS = ["http://[::1", "http://h:abc/v1", "http://h:99999/v1", "http://h:-1/v1", "http://h/v1\n",
        "http://h/\tv1", "http://h /v1", "http://h/v1?x=1", "http://h/v1#frag", "http://h/v1?",
        "ftp://h/v1", "file:///etc/passwd", "javascript:alert(1)", "", " ", "http://", "http:///v1",
        "h:8000/v1", "//h/v1", "http://h\x00/v1", "http://h/v1\r\nX: y", "HTTP://[zz]/v1",
        "http://a@b@/v1", "http://[::1]:0x50/v1", "http://%zz/v1", "http://h:/v1:x?y#z"]  # fmt: skip


def run_url_cases(tmp: Path) -> None:
    for url in URLS:
        judge_refusal("urls", repr(url), ["run", "--endpoint", url], tmp)
        judge_refusal("urls with userinfo", repr(url), ["run", "--endpoint",
                      url.replace("://", f"://alice:{SECRET}@", 1)], tmp)  # fmt: skip
        judge_refusal("urls with --server-cmd", repr(url),
                      ["run", "--server-cmd", "sleep 30", "--endpoint", url], tmp)  # fmt: skip
    dead = f"http://alice:{SECRET}@127.0.0.1:{free_port()}/v1"
    judge_refusal("urls with userinfo", "unreachable", ["run", "--endpoint", dead], tmp)


def run_dataset_cases(tmp: Path) -> None:
    folder = tmp / "datasets"
    folder.mkdir()
    bad: dict[str, Callable[[Path], Any]] = {
        "missing": lambda p: None,
        "a folder": lambda p: p.mkdir(),
        "a FIFO": lambda p: os.mkfifo(p),
        "empty": lambda p: p.write_text(""),
        "blank lines": lambda p: p.write_text("\n\n  \n"),
        "nested 100000 deep": lambda p: p.write_text("[" * 100_000 + "]" * 100_000),
        "object nested deep": lambda p: p.write_text('{"a":' * 50_000 + "1" + "}" * 50_000),
        "not JSON": lambda p: p.write_text("{nope\n"),
        "a list line": lambda p: p.write_text("[1, 2]\n"),
        "prompt a number": lambda p: p.write_text('{"prompt": 5}\n'),
        "prompt null": lambda p: p.write_text('{"prompt": null}\n'),
        "latin-1 bytes": lambda p: p.write_bytes(b'{"prompt": "\xe9"}\n'),
        "over 256 MiB": lambda p: _sparse(p, 257 << 20),
    }
    for value in ("-1", "0", "1.5", '"5"', "true", "1e300", "1000000000", "null", "[]", "NaN"):
        bad[f"output_tokens {value}"] = lambda p, v=value: p.write_text(
            f'{{"prompt": "x", "output_tokens": {v}}}\n'
        )
    with RawServer(lambda body: sse(*good("completions"))) as server:
        for index, (name, make) in enumerate(bad.items()):
            path = folder / f"d{index}.jsonl"
            make(path)
            judge_refusal(
                "datasets", name, ["run", "--endpoint", server.url, "--dataset", str(path)], tmp
            )
        for device in ("/dev/zero", "/dev/null", "/dev/urandom", "/proc/self/mem"):
            judge_refusal(
                "datasets", device, ["run", "--endpoint", server.url, "--dataset", device], tmp
            )
        for name, make in {"missing": lambda p: None, "a file": lambda p: p.write_text("x"),
                           "empty folder": lambda p: p.mkdir(),
                           "bad tokenizer.json": lambda p: (p.mkdir(), (p / "tokenizer.json").write_text("{"))}.items():  # fmt: skip
            path = folder / f"tok-{name.replace(' ', '-')}"
            make(path)
            judge_refusal(
                "tokenizers", name, ["run", "--endpoint", server.url, "--tokenizer", str(path)], tmp
            )


def _sparse(path: Path, size: int) -> None:
    with open(path, "wb") as fh:
        fh.truncate(size)


# -- whole runs against misbehaving servers ---------------------------------------------------


def run_server_cases(tmp: Path) -> None:
    """Every request fails: exit 1, status `failed`, one error row (no request succeeded)."""

    def stall(_body: dict[str, Any]) -> bytes:
        time.sleep(1.5)
        return sse(*good("completions"))

    failing: dict[str, Callable[[dict[str, Any]], bytes]] = {
        "HTML with 200": lambda b: http(200, "<html></html>", "text/html"),
        "429 Retry-After": lambda b: http(429, "slow down", Retry_After="1"),
        "503 Retry-After": lambda b: http(503, "busy", Retry_After="1"),
        "500": lambda b: http(500, "boom"),
        "301 redirect": lambda b: http(301, "", Location="/elsewhere"),
        "307 redirect": lambda b: http(307, "", Location="http://127.0.0.1:1/v1/completions"),
        "timeout": stall,
        "cut mid-stream": lambda b: sse(token(), token(), done=False),
        "cut mid-chunk": lambda b: sse(token(), b'data: {"cho', done=False),
        "usage without text": lambda b: sse(usage(16)),
        "chunks not objects": lambda b: sse("[1,2]", "42"),
        "empty 200": lambda b: http(200, ""),
        "plain JSON 200": lambda b: http(200, '{"choices": [{"text": "a"}]}'),
    }
    for name, post in failing.items():
        with RawServer(post) as server:
            out = tmp / f"srv-{name.replace(' ', '-')}"
            started = time.monotonic()
            result = invoke(["run", "--endpoint", server.url, "--concurrency", "1,2",
                             "--requests", "2", "--warmup-requests", "0",
                             "--request-timeout", "1", "--out", str(out)])  # fmt: skip
            _judge_failed_run("servers", name, result, out, started)
    # the server goes away between levels
    holder: dict[str, RawServer] = {}

    def dying(body: dict[str, Any]) -> bytes:
        holder["s"].shutdown() if len(holder["s"].bodies) > 3 else None
        return sse(*good("completions"))

    with RawServer(dying) as server:
        holder["s"] = server
        out = tmp / "srv-dying"
        started = time.monotonic()
        result = invoke(["run", "--endpoint", server.url, "--concurrency", "1,2,4",
                         "--requests", "2", "--warmup-requests", "0", "--request-timeout", "1",
                         "--out", str(out)])  # fmt: skip
        rows = _rows(out)
        if result.exception and not isinstance(result.exception, SystemExit):
            record("servers", "dying server", "traceback")
        elif time.monotonic() - started > 60:
            record("servers", "dying server", "hang")
        elif len(rows) != 3 or rows[0]["status"] != "ok":
            record("servers", f"dying server: rows {[r['status'] for r in rows]}", "data lost")
        else:
            record("servers", "dying server", "handled right")


def _rows(out: Path) -> list[dict[str, str]]:
    runs = list(out.iterdir()) if out.exists() else []
    if len(runs) != 1 or not (runs[0] / "measurements.csv").exists():
        return []
    with open(runs[0] / "measurements.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _meta(out: Path) -> dict[str, Any]:
    (run,) = out.iterdir()
    return json.loads((run / "run.json").read_text())


def _judge_failed_run(group: str, name: str, result: Any, out: Path, started: float) -> None:
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        record(group, f"{name}: {type(result.exception).__name__}", "traceback")
    elif time.monotonic() - started > 60:
        record(group, name, "hang")
    elif result.exit_code == 0 or _meta(out).get("status") == "complete":
        record(
            group, f"{name}: exit {result.exit_code}, {_meta(out).get('status')}", "silent wrong"
        )
    elif len(_rows(out)) != 2 or any(r["status"] != "error" for r in _rows(out)):
        record(group, f"{name}: rows {len(_rows(out))}", "data lost")
    else:
        record(group, name, "handled right")


def run_usage_cases(tmp: Path) -> None:
    """Whole runs whose server lies in `usage`: the row counts from the stream and says how
    many requests' usage was not taken; a price never rests on the lie."""
    for value in ("1000000000000000", "-1", "1.5", '"12"', "NaN", "true", "0", "99"):

        def post(body: dict[str, Any], v: str = value) -> bytes:
            events = good("completions")
            events[-1] = (
                f'{{"choices": [], "usage": {{"prompt_tokens": 4, "completion_tokens": {v}}}}}'
            )
            return sse(*events)

        with RawServer(post) as server:
            out = tmp / f"usage-{abs(hash(value))}"
            result = invoke(["run", "--endpoint", server.url, "--requests", "3",
                             "--warmup-requests", "0", "--output-len", "4", "--out", str(out)])  # fmt: skip
        rows = _rows(out)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            record("usage runs", value, "traceback")
        elif (result.exit_code == 0 and rows and rows[0]["output_tokens"] == "12"
              and rows[0]["usage_rejected_count"] == "3"):  # fmt: skip
            record("usage runs", value, "handled right")
        else:
            record("usage runs", f"{value}: {rows[:1]}", "silent wrong")


def run_credential_cases(tmp: Path) -> None:
    key_env = {"GPUCOST_API_KEY": SECRET}
    echo = lambda body: http(500, f"you sent {body} with Bearer {SECRET} and Basic {SECRET}")  # noqa: E731
    with RawServer(echo) as server:
        userinfo = server.url.replace("://", f"://alice:{SECRET}@")
        for name, args, env in [
            ("userinfo, server echoes it", ["run", "--endpoint", userinfo], None),
            ("env key, server echoes it", ["run", "--endpoint", server.url], key_env),
            ("userinfo and env key", ["run", "--endpoint", userinfo], key_env),
            ("userinfo with --slo", ["run", "--endpoint", userinfo, "--slo", "e2e_p99=1"], None),
            ("userinfo with a dataset error", ["run", "--endpoint", userinfo, "--dataset", "/nope"], None),
            ("userinfo bad port", ["run", "--endpoint", f"http://a:{SECRET}@h:x/v1"], None),
        ]:  # fmt: skip
            out = tmp / f"cred-{abs(hash(name))}"
            old_argv = sys.argv
            sys.argv = ["gpucost", *args]  # what run.json's `command` is taken from
            try:
                result = invoke([*args, "--requests", "1", "--warmup-requests", "0",
                                 "--out", str(out)], env)  # fmt: skip
            finally:
                sys.argv = old_argv
            written = _files_text(out) if out.exists() else ""
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                record("credentials", name, "traceback")
            elif SECRET in result.output or SECRET in written:
                record("credentials", name, "leak")
            elif result.exit_code == 0:
                record("credentials", name, "silent wrong")
            else:
                record("credentials", name, "handled right")
    for argv in (["vllm", "serve", "m", "--api-key", SECRET], ["x", f"--hf-token={SECRET}"],
                 ["x", f"http://u:{SECRET}@h/v1"], ["x", "--password", SECRET],
                 ["x", f"--auth-token={SECRET}"]):  # fmt: skip
        from harness.credentials import redact_argv

        shown = " ".join(redact_argv(argv))
        record("credentials", f"server command {argv[-1][:12]}",
               "leak" if SECRET in shown else "handled right")  # fmt: skip


# -- stopping and full disks (subprocesses) ---------------------------------------------------


def _server_alive(marker: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
            except OSError:
                continue
            if str(marker).encode() in cmd and state != "Z":
                pids.append(int(entry.name))
    daemon = Path(str(marker) + ".daemon")
    if daemon.exists():
        pid = int(daemon.read_text())
        try:
            if Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
                pids.append(pid)
        except OSError:
            pass
    return pids


def run_signal_cases(tmp: Path, quick: bool) -> None:
    variants = [
        ("SIGTERM", "ok", [signal.SIGTERM], 143),
        ("SIGHUP", "ok", [signal.SIGHUP], 129),
        ("SIGINT", "ok", [signal.SIGINT], 130),
        ("SIGTERM twice", "ok", [signal.SIGTERM, signal.SIGTERM], 143),
        ("SIGINT then SIGTERM", "ok", [signal.SIGINT, signal.SIGTERM], 130),
        ("three signals 10 ms apart, deaf server with a setsid daemon", "ok+deaf+daemon",
         [signal.SIGTERM, signal.SIGTERM, signal.SIGINT], 143),
        ("SIGHUP, deaf server", "ok+deaf", [signal.SIGHUP, signal.SIGINT], 129),
    ]  # fmt: skip
    for name, mode, sigs, code in variants[: 3 if quick else None]:
        port = free_port()
        marker = tmp / f"marker-{port}"
        cmd = f"{sys.executable} {FAKE_APP} {port} {mode} {marker}"
        out = tmp / f"sig-{port}"
        child = subprocess.Popen(
            [sys.executable, "-m", "harness", "run", "--server-cmd", cmd, "--endpoint",
             f"http://127.0.0.1:{port}/v1", "--concurrency", "1", "--duration", "60",
             "--out", str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (
                _server_alive(marker)
                and (out.exists() and any(out.iterdir()))
                and ("daemon" not in mode or Path(str(marker) + ".daemon").exists())
            ):
                time.sleep(0.2)
            time.sleep(1.5)
            for sig in sigs:
                os.kill(child.pid, sig)
                time.sleep(0.01)
            _, err = child.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            record("signals", name, "hang")
            continue
        finally:
            left = _server_alive(marker)
            for pid in left:
                with __import__("contextlib").suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        meta = _meta(out) if out.exists() and any(out.iterdir()) else {}
        stopped = meta.get("stopped_by")
        want_stopped = None if code == 130 else signal.Signals(code - 128).name
        if b"Traceback" in err:
            record("signals", name, "traceback")
        elif left:
            record("signals", f"{name}: server left alive", "leak")
        elif (
            child.returncode != code
            or meta.get("status") != "interrupted"
            or stopped != want_stopped
        ):
            record("signals", f"{name}: exit {child.returncode}, {meta.get('status')}, {stopped}",
                   "silent wrong")  # fmt: skip
        else:
            record("signals", name, "handled right")


LIMITED = """\
import resource, sys
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY))
from harness.cli import main
sys.argv = ["gpucost", *{args!r}]
main()
"""


def run_full_disk_cases(tmp: Path) -> None:
    with RawServer(lambda body: sse(*good("completions"))) as server:
        levels = ",".join(str(n) for n in range(1, 40))
        for limit in (300, 2_000, 8_000, 20_000, 40_000):
            out = tmp / f"disk-{limit}"
            args = ["run", "--endpoint", server.url, "--concurrency", levels, "--requests", "1",
                    "--warmup-requests", "0", "--out", str(out)]  # fmt: skip
            proc = subprocess.run([sys.executable, "-c", LIMITED.format(limit=limit, args=args)],
                                  capture_output=True, text=True, timeout=120,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
            _judge_disk("full disk endpoint", f"{limit} bytes", proc, out)
    for limit in (300, 600, 2_000):
        out = tmp / f"disk-inproc-{limit}"
        args = ["run", "-w", "text", "-b", "1", "--iterations", "1", "--warmup", "0",
                "--min-duration", "0", "--idle-seconds", "0", "--no-price", "--out", str(out)]  # fmt: skip
        proc = subprocess.run([sys.executable, "-c", LIMITED.format(limit=limit, args=args)],
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"})  # fmt: skip
        _judge_disk("full disk in-process", f"{limit} bytes", proc, out)


def _judge_disk(group: str, name: str, proc: Any, out: Path) -> None:
    if "Traceback" in proc.stderr:
        record(group, f"{name}: {proc.stderr.strip().splitlines()[-1]}", "traceback")
        return
    runs = list(out.iterdir()) if out.exists() else []
    says_none = "no run folder was made" in proc.stderr
    if proc.returncode == 0:
        record(group, name, "handled right" if runs else "silent wrong")
        return
    if says_none and runs:
        record(group, f"{name}: says no folder, left {runs[0].name}", "silent wrong")
        return
    if runs:
        try:
            meta = json.loads((runs[0] / "run.json").read_text())
        except (OSError, ValueError):
            record(group, f"{name}: run.json unreadable", "data lost")
            return
        kept = len(_rows(out))
        if meta.get("status") == "running":
            record(group, f"{name}: left running", "silent wrong")
        elif f"{kept} row" not in proc.stderr:
            record(group, f"{name}: rows kept not said ({kept})", "data lost")
        else:
            record(group, name, "clean error")
    else:
        record(group, name, "clean error")


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a third of the generated cases")
    parser.add_argument("-v", action="store_true", help="list every case not handled")
    opts = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for name, step in [
            ("responses", lambda: run_response_cases(opts.quick)),
            ("options", lambda: run_option_cases(tmp, opts.quick)),
            ("urls", lambda: run_url_cases(tmp)),
            ("datasets", lambda: run_dataset_cases(tmp)),
            ("servers", lambda: run_server_cases(tmp)),
            ("usage", lambda: run_usage_cases(tmp)),
            ("credentials", lambda: run_credential_cases(tmp)),
            ("signals", lambda: run_signal_cases(tmp, opts.quick)),
            ("full disk", lambda: run_full_disk_cases(tmp)),
        ]:
            step_started = time.monotonic()
            step()
            print(f"  {name}: done in {time.monotonic() - step_started:.0f} s", file=sys.stderr)
    total = sum(results.values())
    print(f"{total} hostile inputs in {time.monotonic() - started:.0f} s")
    for outcome in CLASSES:
        print(f"  {outcome:14} {results[outcome]}")
    if opts.v or failures:
        for group, counts in sorted(by_group.items()):
            print(f"  [{group}] " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        for line in failures:
            print("  " + line[:300])


if __name__ == "__main__":
    main_()
