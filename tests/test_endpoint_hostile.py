"""Endpoint requests against servers that misbehave on purpose (tests/endpoint_rawapp.py): every
malformed answer is one counted request error, never a traceback; the server's `usage` counts are
taken only where they can be true; streams end the way the OpenAI API ends them."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.endpoint.client import RequestShape, send
from harness.endpoint.loadgen import make_client
from harness.endpoint.prompts import Prompt
from tests.endpoint_rawapp import RawServer, http, sse, stream, token, usage

PROMPT = Prompt("a b c d", 4, 4)


def ask(answer: bytes, api: str = "completions"):
    with RawServer(lambda _body: answer) as server:

        async def one():
            async with make_client(1, 5.0) as client:
                return await send(client, server.url, RequestShape(api, "m"), PROMPT, 0, 5.0)

        return asyncio.run(one())


MALFORMED = {
    "chunk a list": sse("[1,2]"),
    "chunk a string": sse('"x"'),
    "chunk null": sse("null"),
    "chunk a number": sse("42"),
    "choices [1]": sse({"choices": [1]}),
    "choices a string": sse({"choices": "abc"}),
    "text a number": sse({"choices": [{"text": 5, "finish_reason": "stop"}]}),
    "usage a list": sse(token(finish="stop"), {"choices": [], "usage": [1]}),
    "usage a string": sse(token(finish="stop"), {"choices": [], "usage": "abc"}),
    "not JSON": sse("{nope"),
    "nested deep": sse("[" * 100_000 + "]" * 100_000),
    "html with 200": http(200, "<html>hi</html>", "text/html"),
    "cut after 2 of 4": sse(token(), token(), done=False),
    "usage without text": sse(usage(16)),
    "server error in stream": sse({"error": {"message": "boom"}}),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_stream_is_one_request_error(case: str) -> None:
    record = ask(MALFORMED[case])
    assert not record.ok and record.error, case
    assert record.end_s is None


def test_a_chat_delta_that_is_not_an_object_is_an_error() -> None:
    record = ask(sse({"choices": [{"delta": "abc"}]}), api="chat")
    assert not record.ok and "delta is str" in record.error


@pytest.mark.parametrize("completion", ["12", "abc", {}, 1.5, -1, True, 10**15])
def test_usage_counts_that_cannot_be_true_are_not_taken(completion: object) -> None:
    record = ask(stream(4, completion=completion))
    assert record.ok
    assert record.output_tokens == 4  # counted from the stream
    assert record.usage_rejected is not None and "completion_tokens" in record.usage_rejected


def test_a_count_far_below_the_chunks_is_not_taken() -> None:
    record = ask(stream(4, completion=1))
    assert record.ok and record.output_tokens == 4 and "far below" in record.usage_rejected


@pytest.mark.parametrize("prompt", ["4", -3, 10**15])
def test_prompt_counts_that_cannot_be_true_are_not_taken(prompt: object) -> None:
    record = ask(stream(4, prompt=prompt))
    assert record.ok and record.input_tokens == PROMPT.input_tokens
    assert "prompt_tokens" in record.usage_rejected


def test_true_counts_are_taken() -> None:
    record = ask(stream(3, completion=4, prompt=7))  # a chunk may carry two tokens
    assert record.ok and record.output_tokens == 4 and record.input_tokens == 7
    assert record.usage_rejected is None


def test_null_count_after_text_counts_the_stream() -> None:
    record = ask(
        stream(4, completion=None).replace(b'"completion_tokens": 4', b'"completion_tokens": null')
    )
    assert record.ok and record.output_tokens == 4 and record.usage_rejected is None


def test_sse_events_without_data_and_comments_are_skipped() -> None:
    keepalives = b": a comment\n\nid: 7\n\nretry: 100\n\ndata:\n\n"
    record = ask(sse(keepalives, token(), keepalives, token(finish="stop"), usage(2)))
    assert record.ok and record.output_tokens == 2, record.error


def test_multi_line_data_is_one_event() -> None:
    event = b'data: {"choices": [{"text": "a",\ndata: "finish_reason": "stop"}]}\n\n'
    record = ask(sse(event, usage(1)))
    assert record.ok and record.output_tokens == 1, record.error


def test_a_finish_reason_ends_a_stream_without_done() -> None:
    record = ask(sse(token(), token(finish="stop"), usage(2), done=False))
    assert record.ok and record.output_tokens == 2


def test_a_cut_stream_is_an_error_that_names_why() -> None:
    record = ask(sse(token(), token(), done=False))
    assert not record.ok and "without [DONE] or a finish_reason" in record.error


def test_embedding_bodies_that_are_not_objects_are_errors() -> None:
    for body in ("[1, 2]", '{"data": null}', '{"data": [[0.1]], "usage": "x"}'):
        record = ask(http(200, body), api="embedding")
        assert not record.ok and record.error, body


def _rows(out: Path) -> list[dict[str, str]]:
    (run,) = out.iterdir()
    with open(run / "measurements.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_the_row_counts_rejected_usage_and_prices_the_stream(tmp_path: Path) -> None:
    with RawServer(lambda body: stream(body["max_tokens"], completion=10**15)) as server:
        result = CliRunner().invoke(main, ["run", "--endpoint", server.url, "--requests", "3",
                                           "--output-len", "4", "--warmup-requests", "0",
                                           "--out", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 0, result.output
    (row,) = _rows(tmp_path)
    assert row["usage_rejected_count"] == "3" and row["output_tokens"] == "12"
    (run,) = tmp_path.iterdir()
    with open(run / "iterations.csv", newline="", encoding="utf-8") as fh:
        assert all("above max_tokens" in r["usage_rejected"] for r in csv.DictReader(fh))


@pytest.mark.parametrize("models", [{"data": None}, {"data": 5}, [1], "x"])
def test_a_strange_models_list_is_not_a_crash(models: object, tmp_path: Path) -> None:
    with RawServer(lambda body: stream(body["max_tokens"]), models_body=models) as server:
        result = CliRunner().invoke(main, ["run", "--endpoint", server.url, "--requests", "1",
                                           "--warmup-requests", "0", "--out", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        json.loads(next(tmp_path.iterdir()).joinpath("run.json").read_text())["status"]
        == "complete"
    )


# -- credentials ------------------------------------------------------------------------------


def _everything_written(out: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())


def test_userinfo_is_sent_but_never_stored_or_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cr3t-pw"
    with RawServer(lambda body: http(500, f"echo {body}")) as server:
        url = server.url.replace("http://", f"http://alice:{secret}@")
        args = ["run", "--endpoint", url, "--requests", "2", "--warmup-requests", "0",
                "--out", str(tmp_path)]  # fmt: skip
        monkeypatch.setattr(sys, "argv", ["gpucost", *args])
        result = CliRunner().invoke(main, args)
        sent = list(server.authorizations)
    assert sent and all(a.startswith("Basic ") for a in sent)  # the server got it
    assert secret not in result.output
    written = _everything_written(tmp_path)
    assert written and secret not in written and "alice:***" not in written
    meta = json.loads(next(tmp_path.iterdir()).joinpath("run.json").read_text())
    assert meta["endpoint"]["url"] == server.url and meta["config"]["base_url"] == server.url
    assert secret not in " ".join(meta["command"]) and "***@" in " ".join(meta["command"])


def test_the_api_key_comes_from_the_environment_and_is_not_stored(tmp_path: Path) -> None:
    key = "sk-test-0123456789"
    with RawServer(lambda body: http(401, "bad key Bearer " + key)) as server:
        result = CliRunner().invoke(
            main, ["run", "--endpoint", server.url, "--requests", "1", "--out", str(tmp_path)],
            env={"GPUCOST_API_KEY": key},
        )  # fmt: skip
        sent = list(server.authorizations)
    assert sent and sent[0] == f"Bearer {key}"
    assert result.exit_code == 2 and key not in result.output  # 401 on the probe: one line
    assert not tmp_path.exists() or key not in _everything_written(tmp_path)


def test_key_like_options_of_a_server_command_are_masked() -> None:
    from harness.credentials import redact, redact_argv

    argv = ["vllm", "serve", "m", "--api-key", "K1", "--hf-token=K2", "--port", "8000",
            "http://u:K3@h/v1"]  # fmt: skip
    shown = " ".join(redact_argv(argv))
    assert not any(k in shown for k in ("K1", "K2", "K3")) and "8000" in shown
    assert redact("Authorization: Bearer abc.def") == "Authorization: Bearer ***"


@pytest.mark.parametrize(
    ("url", "message"),
    [("http://[::1", "not a URL"), ("http://h:abc/v1", "not a URL"), ("http://h:99999/v1", "not a URL"),
     ("http://h/v1\nx", "control character"), ("http://h/v1?x=1", "query"), ("http://h/v1#f", "query"),
     ("", "empty"), ("http://:pw@/v1", "expected an http(s) URL"),
     ("http://%zz/v1", "is not a host name")],
)  # fmt: skip
def test_bad_urls_are_one_line(url: str, message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", "--endpoint", url, "--out", str(tmp_path)])
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert message in line and "pw" not in line
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


# -- a full disk ------------------------------------------------------------------------------

LIMITED = """\
import resource, sys
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY))
{body}
"""


def test_a_run_folder_that_cannot_be_started_is_removed(tmp_path: Path) -> None:
    # RLIMIT_FSIZE: run.json (small) fits, the measurements.csv header does not, as on a disk
    # with a few hundred bytes free. The run then says "no run folder was made": it must be so.
    body = (
        "from pathlib import Path\n"
        "from harness.results.store import RunStore, StoreWriteError\n"
        "try:\n"
        f"    RunStore.start(Path({str(tmp_path / 'out')!r}), ['gpucost'], {{}})\n"
        "except StoreWriteError as err:\n"
        "    print('refused', err)\n"
    )
    proc = subprocess.run([sys.executable, "-c", LIMITED.format(limit=400, body=body)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert "refused" in proc.stdout and "measurements.csv" in proc.stdout, proc.stderr
    assert list((tmp_path / "out").iterdir()) == []


def test_run_json_is_never_left_half_written(tmp_path: Path) -> None:
    # The file may not grow past 2000 bytes: the indented update does not fit, the compact one
    # does and is written; one that fits in neither leaves the previous text whole.
    body = (
        "import json\n"
        "from pathlib import Path\n"
        "from harness.results.store import RunStore, StoreWriteError\n"
        f"store = RunStore.start(Path({str(tmp_path / 'out')!r}), ['gpucost'], "
        "{'pad': ['x'] * 150})\n"
        "store.update_meta(status='failed', more=['y'] * 100)\n"
        "try:\n"
        "    store.update_meta(status='other', more=['y' * 40] * 200)\n"
        "except StoreWriteError:\n"
        "    print('refused')\n"
        "print(json.loads((store.path / 'run.json').read_text())['status'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", LIMITED.format(limit=2000, body=body)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.stdout.split() == ["refused", "failed"], proc.stderr


def test_an_endpoint_run_on_a_full_disk_says_what_it_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    levels = ",".join(str(n) for n in range(1, 60))
    with RawServer(lambda body: stream(body["max_tokens"])) as server:
        body = (
            "from harness.cli import main\n"
            f"sys.argv = ['gpucost', 'run', '--endpoint', {server.url!r}, '--concurrency', "
            f"{levels!r}, '--requests', '1', '--warmup-requests', '0', '--output-len', '2', "
            f"'--out', {str(out)!r}]\n"
            "main()\n"
        )
        proc = subprocess.run([sys.executable, "-c", LIMITED.format(limit=20_000, body=body)],
                              capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = [t for t in proc.stderr.splitlines() if t.startswith("Error:")]
    (run,) = out.iterdir()
    with open(run / "measurements.csv", newline="", encoding="utf-8") as fh:
        kept = list(csv.DictReader(fh))
    assert 0 < len(kept) < 59
    assert f"the run stopped: {len(kept)} rows kept in {run / 'measurements.csv'}" in line
    meta = json.loads((run / "run.json").read_text())
    assert meta["status"] == "failed" and meta["rows"] == {"ok": len(kept)}


# -- loose options and bounds: one line, no run folder ---------------------------------------

BAD_OPTIONS = [
    (("--input-len", "-5"), "--input-len must be from 1"),
    (("--output-len", "-5"), "--output-len must be from 1"),
    (("--seq-len", "-3"), "--seq-len must be from 1"),
    (("--output-len", "0"), "--output-len must be from 1"),
    (("--input-len", "1000000000"), "--input-len must be from 1"),
    (("--concurrency", "1_0"), "'1_0' is not a whole number"),
    (("--concurrency", "1,1"), "1 is given twice"),
    (("--concurrency", "1,,2"), "an empty value between commas"),
    (("--request-rate", "1e999"), "is too large (write inf)"),
    (("--concurrency", "100000000"), "must be from 1 to 10000"),
    (("--request-rate", "1e-9"), "must be from 0.001"),
    (("--request-rate", "1_0"), "is not a number or inf"),
    (("--request-rate", "2,2.0"), "is given twice"),
    (("--request-rate", "nan"), "is not a number or inf"),
    (("--request-rate", "1", "--duration", "1e12"), "--duration must be > 0 and at most"),
    (("--requests", "100000000"), "--requests must be from 1"),
    (("--burstiness", "1e-300"), "--burstiness must be at least"),
    (("--request-timeout", "inf"), "--request-timeout must be > 0"),
    (("--gpus-used", "1000000000"), "--gpus-used must be from 1"),
    (("--requests", "1_0"), "is not a whole number in plain digits"),
    (("--input-len", "١٢"), "is not a whole number in plain digits"),
    (("--duration", "1_0"), "is not a number in plain digits"),
    (("-b", "1,2"), "--batch-sizes is for in-process runs"),
    (("--iterations", "5"), "--iterations is for in-process runs"),
    (("--engine", "compiled"), "--engine is for in-process runs"),
    (("--device", "cpu"), "--device is for in-process runs"),
    (("-o", "steps=4"), "-o/--option is for in-process runs"),
    (("--slo", "ttft_p99=1,ttft_p099=2"), "unknown quantile 'p099'"),
    (("--slo", "ttft_p99=1_0"), "is not a number of seconds"),
]


@pytest.mark.parametrize(("args", "message"), BAD_OPTIONS)
def test_loose_endpoint_options_are_refused_before_a_folder(
    args: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    with RawServer(lambda body: stream(body.get("max_tokens") or 4)) as server:
        result = CliRunner().invoke(
            main, ["run", "--endpoint", server.url, *args, "--out", str(tmp_path / "out")]
        )
        assert server.bodies == []  # nothing was sent
    assert result.exit_code == 2, result.output
    line = result.output.strip().splitlines()[-1]  # click's own type errors add a usage line
    assert line.startswith("Error:") and message in line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_an_empty_server_command_or_endpoint_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", "--server-cmd", "", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--server-cmd: empty command" in result.output
    result = CliRunner().invoke(
        main, ["run", "--server-cmd", "sleep 30", "--endpoint", "", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "--endpoint '': empty" in result.output
    assert not any(tmp_path.iterdir())


def test_compare_refuses_a_second_spelling_of_a_target(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["compare", str(tmp_path), "--slo", "ttft_p99=1,ttft_p099=2"])
    assert result.exit_code == 2 and "p099" in result.output


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("[" * 100_000 + "]" * 100_000), "nested too deep"),
        (lambda p: os.mkfifo(p), "not a regular file"),
        (lambda p: p.mkdir(), "not a regular file"),
        (lambda p: p.write_text('{"prompt": "x", "output_tokens": 1e300}\n'), "output_tokens"),
        (lambda p: None, "not a regular file"),
    ],
)
def test_bad_datasets_are_one_line_before_a_folder(make, message: str, tmp_path: Path) -> None:
    dataset = tmp_path / "data.jsonl"
    make(dataset)
    with RawServer(lambda body: stream(body.get("max_tokens") or 4)) as server:
        result = CliRunner().invoke(main, ["run", "--endpoint", server.url, "--dataset",
                                           str(dataset), "--out", str(tmp_path / "out")])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_dev_zero_is_not_read_as_a_dataset(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", "--endpoint", "http://127.0.0.1:1/v1", "--dataset",
                                       "/dev/zero", "--out", str(tmp_path / "out")])  # fmt: skip
    assert result.exit_code == 2 and "not a regular file" in result.output


def test_a_bad_tokenizer_or_dead_endpoint_leaves_no_folder(tmp_path: Path) -> None:
    (tmp_path / "tok").mkdir()
    with RawServer(lambda body: stream(4)) as server:
        bad_tok = CliRunner().invoke(main, ["run", "--endpoint", server.url, "--tokenizer",
                                            str(tmp_path / "tok"), "--out", str(tmp_path / "out")])  # fmt: skip
        dead_url = server.url
    dead = CliRunner().invoke(main, ["run", "--endpoint", dead_url, "--out", str(tmp_path / "out")])
    assert bad_tok.exit_code == 2 and "--tokenizer" in bad_tok.output
    assert dead.exit_code == 2 and "cannot connect" in dead.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_open_loop_arrivals_are_drawn_as_needed() -> None:
    from itertools import islice

    from harness.endpoint.loadgen import arrival_gaps, arrival_gaps_s

    gaps = arrival_gaps(1.0, 1.0, 0)  # a generator: a long level holds none of them up front
    assert list(islice(gaps, 5)) == arrival_gaps_s(1.0, 1.0, 5, 0)


@pytest.mark.parametrize("make", [lambda p: os.mkfifo(p), lambda p: None])
def test_import_refuses_a_fifo_and_a_device(make, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.json"
    make(fifo)
    path = str(fifo) if fifo.exists() else "/dev/zero"
    result = CliRunner().invoke(
        main,
        [
            "import",
            "aiperf",
            path,
            "--gpu",
            "H100-SXM-80GB",
            "--gpus-used",
            "1",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2 and "not a regular file" in result.output, result.output


def test_reports_mask_credentials_left_in_an_older_run_folder(tmp_path: Path) -> None:
    with RawServer(lambda body: stream(body["max_tokens"])) as server:
        result = CliRunner().invoke(main, ["run", "--endpoint", server.url, "--requests", "2",
                                           "--warmup-requests", "0", "--gpu", "H100-SXM-80GB",
                                           "--out", str(tmp_path / "runs")])  # fmt: skip
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    meta = json.loads((run / "run.json").read_text())
    leaked = server.url.replace("http://", "http://alice:s3cr3t-old@")
    meta["command"] = ["gpucost", "run", "--endpoint", leaked]
    meta["config"]["base_url"] = leaked
    meta["config"]["server_cmd"] = ["vllm", "serve", "--api-key", "s3cr3t-old"]
    (run / "run.json").write_text(json.dumps(meta))
    for name in ("r.md", "r.html"):
        out = tmp_path / name
        done = CliRunner().invoke(main, ["report", str(run), "-o", str(out)])
        assert done.exit_code == 0, done.output
        text = out.read_text()
        assert "s3cr3t-old" not in text and "alice:***@" not in text and "***" in text


def test_endless_bodies_are_cut_not_read_into_memory(tmp_path: Path) -> None:
    huge = b"[" + b"0," * (10 << 20) + b"0]"  # 20 MiB
    record = ask(http(200, huge), api="embedding")
    assert not record.ok and "larger than 16 MiB" in record.error
    record = ask(http(500, b"x" * (20 << 20)))
    assert not record.ok and len(record.error) < 300
    with RawServer(lambda body: stream(body["max_tokens"]), models_body=["m" * 100] * 100_000) as s:
        result = CliRunner().invoke(main, ["run", "--endpoint", s.url, "--requests", "1",
                                           "--warmup-requests", "0", "--out", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 0, result.output


def test_a_valid_embedding_answer_is_read() -> None:
    body = json.dumps({"data": [{"embedding": [0.1, 0.2]}], "usage": {"prompt_tokens": 3}})
    record = ask(http(200, body), api="embedding")
    assert record.ok and record.input_tokens == 3 and record.usage_rejected is None


def _events(*pieces: bytes) -> list[str]:
    from harness.endpoint.sse import event_data

    async def stream_of() -> object:
        for piece in pieces:
            yield piece

    async def read() -> list[str]:
        response = httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=stream_of()
        )
        return [event async for event in event_data(response)]

    return asyncio.run(read())


def test_sse_line_ends_split_across_reads_and_the_specification_cases() -> None:
    assert _events(b"data: a\r", b"\ndata: b\r\n\r\n") == ["a\nb"]  # CRLF split in two reads
    assert _events(b"data: a\r\rdata: b\n\n") == ["a", "b"]  # CR alone ends a line
    assert _events(b"\xef\xbb\xbfdata: x\n\n") == ["x"]  # a leading BOM is not part of a field
    assert _events(b"id: 1\n\nretry: 5\n\n: hi\n\ndata:x\n\n") == ["x"]
    assert _events(b"data: a\n\ndata: cut") == ["a"]  # an event the stream cut off is dropped
    assert _events(b"data\n\n") == [""]  # a field with no colon is a data field, empty


def test_an_endless_line_is_an_error_not_memory(tmp_path: Path) -> None:
    record = ask(sse(b"data: " + b"x" * (3 << 20)))
    assert not record.ok and "longer than" in record.error
