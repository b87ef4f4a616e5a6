"""The `gpucost run` options of endpoint runs, and the thin command that runs one. Only click and
the standard library at import time, so `--help` stays fast."""

from __future__ import annotations

import math
import re
import shlex
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click
from click.core import ParameterSource

from harness.cli.numbers import EXACT_FLOAT, EXACT_INT
from harness.cli.stopped import echo_err, rows_kept_line
from harness.errors import BadInput, GpucostError

if TYPE_CHECKING:
    from harness.endpoint.config import LoadLevel

DEFAULT_LEN = 128

_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("--endpoint",), {"default": None, "metavar": "URL",
                       "help": "Load a live OpenAI-compatible server at this base URL "
                               "(e.g. http://127.0.0.1:8000/v1) instead of running in-process."}),
    (("--api",), {"type": click.Choice(["completions", "chat"]), "default": "completions",
                  "show_default": True, "help": "endpoint, text: /v1/completions or /v1/chat/completions."}),
    (("--tokenizer",), {"type": click.Path(path_type=Path), "default": None,
                        "help": "endpoint: local tokenizer folder for exact prompt lengths "
                                "(default: the --model folder)."}),
    (("--dataset",), {"type": click.Path(path_type=Path), "default": None,
                      "help": 'endpoint: JSON Lines of {"prompt": ..., "output_tokens": N}.'}),
    (("--concurrency",), {"default": None, "metavar": "N,N,...",
                          "help": "endpoint: closed-loop levels, requests always in flight, e.g. 1,8,32."}),
    (("--request-rate",), {"default": None, "metavar": "R,R,...",
                           "help": "endpoint: open-loop levels, requests per second (Poisson), e.g. 1,4,inf."}),
    (("--burstiness",), {"type": EXACT_FLOAT, "default": 1.0, "show_default": True,
                         "help": "endpoint: gamma shape of the arrivals (1 = Poisson)."}),
    (("--duration",), {"type": EXACT_FLOAT, "default": None,
                       "help": "endpoint: seconds per level (default: --requests)."}),
    (("--requests",), {"type": EXACT_INT, "default": None,
                       "help": "endpoint: measured requests per level (default 32 without --duration)."}),
    (("--warmup-requests",), {"type": EXACT_INT, "default": 2, "show_default": True,
                              "help": "endpoint: unmeasured requests before each level."}),
    (("--request-timeout",), {"type": EXACT_FLOAT, "default": 120.0, "show_default": True,
                              "help": "endpoint: seconds before a request is given up (an error)."}),
    (("--gpus",), {"default": None, "metavar": "I,I,...",
                   "help": "endpoint: GPUs of a local server to meter (default: every visible GPU)."}),
    (("--gpus-used",), {"type": EXACT_INT, "default": None,
                        "help": "endpoint: GPUs the server uses, for pricing (default: the metered ones)."}),
    (("--gpu",), {"default": None, "metavar": "KEY",
                  "help": "endpoint: GPU the server runs on, for pricing a remote endpoint."}),
    (("--server-cmd",), {"default": None, "metavar": "COMMAND",
                         "help": "endpoint: start this server, wait until it answers, stop it at the end."}),
    (("--server",), {"type": click.Choice(["transformers"]), "default": None,
                     "help": "endpoint: start `transformers serve --model PATH --continuous-batching`."}),
    (("--server-timeout",), {"type": EXACT_FLOAT, "default": 300.0, "show_default": True,
                             "help": "endpoint: seconds a started server has to answer."}),
    (("--slo",), {"default": None, "metavar": "TARGETS",
                  "help": "Latency targets in seconds, e.g. ttft_p99=0.5,tpot_p99=0.05,e2e_p99=20 "
                          "(ttft, tpot, itl, e2e at p50/p90/p99): slo_met and goodput per row."}),
    (("--find-max-load",), {"is_flag": True, "default": False,
                            "help": "endpoint, with --slo: measure extra levels between the "
                                    "measured ones to find the highest that meets the SLO."}),
    (("--workers",), {"type": EXACT_INT, "default": None,
                      "help": "endpoint: load-generator processes, each with its own event loop "
                              "(default: enough for the level, at most the cores)."}),
    (("--max-search-levels",), {"type": EXACT_INT, "default": None,
                                "help": "endpoint: most extra levels --find-max-load measures "
                                        "(default 4)."}),
    (("--trace",), {"type": click.Path(path_type=Path), "default": None, "metavar": "FILE",
                    "help": "endpoint: replay this request trace (gpucost request log, Azure, "
                            "Mooncake, BurstGPT; .gz read), each request at its arrival time."}),
    (("--trace-format",), {"default": None, "metavar": "NAME",
                           "help": "endpoint: the trace's format (default: from its content)."}),
    (("--trace-speedup",), {"default": None, "metavar": "X,X,...",
                            "help": "endpoint: replay X times faster, one level each (default 1); "
                                    "--find-max-load searches it."}),
    (("--trace-start",), {"type": float, "default": None, "metavar": "S",
                          "help": "endpoint: start the replay S seconds into the trace."}),
    (("--trace-duration",), {"type": float, "default": None, "metavar": "S",
                             "help": "endpoint: replay S seconds of the trace (trace time)."}),
    (("--trace-requests",), {"type": int, "default": None, "metavar": "N",
                             "help": "endpoint: replay the first N requests of the window."}),
    (("--trace-strict",), {"is_flag": True, "default": False,
                           "help": "endpoint: stop at the trace's first bad line instead of "
                                   "counting it."}),
    (("--max-input-len",), {"type": int, "default": None, "metavar": "N",
                            "help": "endpoint, --trace: cut longer inputs to N tokens (recorded "
                                    "in the row), e.g. for a small model's context."}),
    (("--max-output-len",), {"type": int, "default": None, "metavar": "N",
                             "help": "endpoint, --trace: cut longer outputs to N tokens "
                                     "(recorded in the row)."}),
    (("--turns",), {"type": int, "default": None, "metavar": "K",
                    "help": "endpoint: synthetic chat of K-turn conversations, each turn "
                            "resending the conversation so far."}),
    (("--shared-prefix-len",), {"type": int, "default": None, "metavar": "N",
                                "help": "endpoint: every synthetic prompt starts with the same N "
                                        "tokens (a prefix cache can reuse them)."}),
)  # fmt: skip


def endpoint_options(func: Any) -> Any:
    for flags, kwargs in reversed(_OPTIONS):
        func = click.option(*flags, **kwargs)(func)
    return func


_ENDPOINT_ONLY = ("concurrency", "request_rate", "duration", "requests", "dataset", "tokenizer",
                  "gpus", "gpus_used", "gpu", "max_search_levels", "trace", "trace_format",
                  "trace_speedup", "trace_start", "trace_duration", "trace_requests",
                  "max_input_len", "max_output_len", "shared_prefix_len", "workers", "turns")  # fmt: skip
_TRACE_ONLY = ("trace_format", "trace_speedup", "trace_start", "trace_duration",
               "trace_requests", "max_input_len", "max_output_len")  # fmt: skip
DEFAULT_SEARCH_LEVELS = 4


def is_endpoint_run(kw: dict[str, Any]) -> bool:
    """True for an endpoint run; BadInput for an endpoint option given to an in-process run."""
    # Given at all, even empty: `--server-cmd ''` is a mistake to name, not an in-process run.
    if kw.get("endpoint") is not None or kw.get("server_cmd") is not None or kw.get("server"):
        return True
    for name in _ENDPOINT_ONLY:
        if kw.get(name) is not None:
            flag = "--" + name.replace("_", "-")
            raise BadInput(
                f"{flag} is for endpoint runs: add --endpoint URL, --server-cmd or --server"
            )
    if kw.get("find_max_load"):
        raise BadInput(
            "--find-max-load searches an endpoint's load levels: add --endpoint URL, "
            "--server-cmd or --server"
        )
    return False


MAX_TOKENS_LEN = 1 << 20
"""Longest prompt or output, in tokens (the longest context windows served are about 1M)."""
_BOUNDS: dict[str, tuple[float, float]] = {
    # name: (lowest, highest); every bound keeps a run's memory and time finite
    "requests": (1, 1_000_000),
    "warmup_requests": (0, 100_000),
    "gpus_used": (1, 4096),
    "max_search_levels": (1, 64),
    "workers": (1, 1024),
    "input_len": (1, MAX_TOKENS_LEN),
    "output_len": (1, MAX_TOKENS_LEN),
    "seq_len": (1, MAX_TOKENS_LEN),
}
_POSITIVE_BOUNDS: dict[str, float] = {
    "duration": 7 * 86_400.0,
    "request_timeout": 86_400.0,
    "server_timeout": 86_400.0,
    "burstiness": 100.0,
}
_IN_PROCESS_ONLY = ("preset", "batch_sizes", "dtype", "warmup", "iterations", "min_duration",
                    "max_iterations", "idle_seconds", "engine", "generic", "threads",
                    "count_flops")  # fmt: skip
_ENDPOINT_SETTINGS = ("input_len", "output_len", "seq_len")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check(kw: dict[str, Any]) -> None:
    _refuse_in_process_options(kw)
    for name, (low, high) in _BOUNDS.items():
        value = kw.get(name)
        if value is not None and not low <= value <= high:
            raise BadInput(f"{_flag(name)} must be from {low:g} to {high:g} (got {value})")
    for name, high in _POSITIVE_BOUNDS.items():
        value = kw[name]
        if value is not None and not (math.isfinite(value) and 0 < value <= high):
            raise BadInput(f"{_flag(name)} must be > 0 and at most {high:g} (got {value})")
    if kw["burstiness"] is not None and kw["burstiness"] < 0.01:
        raise BadInput(f"--burstiness must be at least 0.01 (got {kw['burstiness']})")
    if kw["server"] and kw["server_cmd"] is not None:
        raise BadInput("--server and --server-cmd: give one of them")
    if kw["server"] and kw["model_path"] is None:
        raise BadInput("--server transformers needs --model PATH (a local model folder)")
    if kw["server"] and kw["endpoint"] is not None:
        raise BadInput("--server transformers picks its own port: leave out --endpoint")
    _check_trace(kw)
    if kw.get("find_max_load"):
        if not kw.get("slo"):
            raise BadInput("--find-max-load needs --slo (the targets a level must meet)")
        if kw["concurrency"] is not None and kw["request_rate"] is not None:
            raise BadInput(
                "--find-max-load searches one kind of level: give --concurrency or "
                "--request-rate, not both"
            )


def _check_trace(kw: dict[str, Any]) -> None:
    if kw.get("trace") is None:
        for name in (*_TRACE_ONLY, "trace_strict"):
            if kw.get(name):
                raise BadInput(f"--{name.replace('_', '-')} shapes a replay: add --trace FILE")
        if kw.get("shared_prefix_len") is not None and kw["shared_prefix_len"] < 1:
            raise BadInput(f"--shared-prefix-len must be >= 1 (got {kw['shared_prefix_len']})")
        if kw.get("shared_prefix_len") is not None and kw.get("dataset") is not None:
            raise BadInput("--shared-prefix-len builds synthetic prompts: leave out --dataset")
        if kw.get("turns") is not None:
            if kw["turns"] < 1:
                raise BadInput(f"--turns must be >= 1 (got {kw['turns']})")
            if kw.get("dataset") is not None or kw.get("shared_prefix_len") is not None:
                raise BadInput("--turns builds its own prompts: leave out --dataset and "
                               "--shared-prefix-len")  # fmt: skip
        return
    for name in ("concurrency", "request_rate", "dataset", "requests", "duration"):
        if kw.get(name) is not None:
            flag = "--" + name.replace("_", "-")
            raise BadInput(
                f"{flag} and --trace: a replay sends the trace's own requests at their times "
                "(shape it with --trace-speedup, --trace-start/--trace-duration, --trace-requests)"
            )
    if kw.get("turns") is not None:
        raise BadInput("--turns is for synthetic prompts; a trace replays its own turns")
    if kw.get("shared_prefix_len") is not None:
        raise BadInput("--shared-prefix-len is for synthetic prompts; a trace's own block ids "
                       "say which prompts share a prefix")  # fmt: skip
    for name in ("trace_requests", "max_input_len", "max_output_len"):
        if kw.get(name) is not None and kw[name] < 1:
            raise BadInput(f"--{name.replace('_', '-')} must be >= 1 (got {kw[name]})")


def _refuse_in_process_options(kw: dict[str, Any]) -> None:
    """An in-process option given on the command line of an endpoint run is refused: it would
    be silently ignored (the server decides batching, dtype and device)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return
    given = [
        name
        for name in ctx.params
        if ctx.get_parameter_source(name)
        in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    ]
    from harness.cli.run import SETTING_OPTIONS

    settings = {name.replace("-", "_") for name, _, _ in SETTING_OPTIONS}
    for name in given:
        refused = name in _IN_PROCESS_ONLY or (name in settings and name not in _ENDPOINT_SETTINGS)
        if name == "device" and not kw.get("server"):
            refused = True  # only `--server transformers` passes a device on
        if refused:
            flag = "-o/--option" if name == "generic" else _flag(name)
            raise BadInput(
                f"{flag} is for in-process runs; an endpoint run measures what the server "
                "does (leave it out, or configure the server)"
            )


def run_endpoint_command(kw: dict[str, Any]) -> None:
    from harness.cli.options import gpu_key
    from harness.credentials import auth_headers, redact_argv
    from harness.endpoint.config import (
        ENDPOINT_WORKLOADS,
        EndpointConfig,
        LoadLevel,
        parse_concurrency,
        parse_gpus,
        parse_request_rate,
        parse_trace_speedup,
    )
    from harness.endpoint.meters import visible_gpus
    from harness.endpoint.runner import ServerSpec, run_endpoint
    from harness.endpoint.server import free_port, transformers_command
    from harness.results.store import StoreWriteError
    from harness.slo import parse_slo

    _check(kw)
    slo = parse_slo(kw["slo"]) if kw.get("slo") is not None else None
    names = [n.strip() for w in kw["workloads"] for n in w.split(",") if n.strip()] or ["text"]
    if len(names) != 1 or names[0] not in ENDPOINT_WORKLOADS:
        raise BadInput(
            f"--workload {','.join(names)}: an endpoint run serves one of "
            f"{', '.join(ENDPOINT_WORKLOADS)}"
        )
    workload = names[0]
    levels: tuple[LoadLevel, ...] = ()
    if kw["concurrency"] is not None:
        levels += parse_concurrency(kw["concurrency"])
    if kw["request_rate"] is not None:
        levels += parse_request_rate(kw["request_rate"])
    if kw.get("trace") is not None:
        levels = parse_trace_speedup(kw.get("trace_speedup") or "1")
    if not levels:
        levels = (LoadLevel(concurrency=1),)
    requests = kw["requests"]
    if requests is None and kw["duration"] is None and kw.get("trace") is None:
        requests = 32
    model_path: Path | None = kw["model_path"]
    server = None
    endpoint = kw["endpoint"]
    local = False
    if kw["server"]:
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}/v1"
        assert model_path is not None
        device = kw.get("device")
        server = ServerSpec(transformers_command(model_path, port, device), _transformers_version(),
                            kw["server_timeout"])  # fmt: skip
        local = True
    elif kw["server_cmd"] is not None:
        endpoint = "http://127.0.0.1:8000/v1" if endpoint is None else endpoint
        try:
            command = shlex.split(kw["server_cmd"])
        except ValueError as err:
            raise BadInput(f"--server-cmd: cannot split the command ({err})") from None
        if not command:
            raise BadInput("--server-cmd: empty command")
        server = ServerSpec(command, None, kw["server_timeout"])
        local = True
    assert endpoint is not None
    base_url, userinfo = _base_url(endpoint)
    headers = auth_headers(userinfo)
    local = local or _is_local(base_url)
    gpus = parse_gpus(kw["gpus"]) if kw["gpus"] else (visible_gpus() if local else ())
    tokenizer = kw["tokenizer"]
    if tokenizer is None and model_path is not None and model_path.is_dir():
        tokenizer = model_path
    settings = {k: kw.get(k) for k in _ENDPOINT_SETTINGS}
    config = EndpointConfig(
        base_url=base_url,
        workload=workload,
        api=kw["api"],
        model=str(model_path) if model_path is not None else None,
        levels=levels,
        input_len=DEFAULT_LEN if settings["input_len"] is None else settings["input_len"],
        output_len=DEFAULT_LEN if settings["output_len"] is None else settings["output_len"],
        seq_len=DEFAULT_LEN if settings["seq_len"] is None else settings["seq_len"],
        requests=requests,
        duration_s=kw["duration"],
        warmup_requests=kw["warmup_requests"],
        request_timeout_s=kw["request_timeout"],
        burstiness=kw["burstiness"],
        seed=kw["seed"],
        tokenizer=None if tokenizer is None else str(tokenizer),
        dataset=None if kw["dataset"] is None else str(kw["dataset"]),
        gpus=gpus,
        gpus_used=kw["gpus_used"],
        gpu=gpu_key(kw["gpu"]),
        sample_interval_s=kw.get("sample_interval") or None,
        server_cmd=tuple(server.command) if server else None,
        slo=slo.text if slo else None,
        find_max_load=bool(kw.get("find_max_load")),
        max_search_levels=kw.get("max_search_levels") or DEFAULT_SEARCH_LEVELS,
        trace=None if kw.get("trace") is None else str(kw["trace"]),
        trace_format=kw.get("trace_format"),
        trace_start_s=kw.get("trace_start"),
        trace_duration_s=kw.get("trace_duration"),
        trace_requests=kw.get("trace_requests"),
        trace_strict=bool(kw.get("trace_strict")),
        max_input_len=kw.get("max_input_len"),
        max_output_len=kw.get("max_output_len"),
        shared_prefix_len=kw.get("shared_prefix_len") or 0,
        turns=kw.get("turns") or 1,
        workers=kw.get("workers"),
        auth_headers=headers,
    )

    def report(level: LoadLevel, row: dict[str, Any]) -> None:
        click.echo(_level_line(level, row), err=True)

    def report_search(line: str) -> None:
        click.echo(line, err=True)

    created: list[Any] = []
    try:
        store = run_endpoint(
            config, kw["out"], redact_argv(["gpucost", *sys.argv[1:]]), server, report,
            report_search, created.append,
        )  # fmt: skip
    except KeyboardInterrupt as err:
        signum = getattr(err, "signum", None)
        how = "Interrupted" if signum is None else f"Stopped by {err}"
        stopped = "; the server is stopped" if server is not None else ""
        echo_err(f"{how}: {rows_kept_line(created)}{stopped}")
        sys.exit(130 if signum is None else 128 + signum)
    except StoreWriteError as err:
        raise GpucostError(f"{err}; the run stopped: {rows_kept_line(created)}") from None
    if kw.get("show_price", True):
        # The same closing table as an in-process run (`--no-price` skips it); the folder's
        # path stays the last line, for scripts.
        from harness.cli.money import print_market_summary

        print_market_summary(store.path)
    click.echo(str(store.path))


def _level_line(level: LoadLevel, row: dict[str, Any]) -> str:
    def fmt(value: Any, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    name = (
        f"concurrency {level.concurrency}"
        if level.concurrency
        else f"trace x{level.trace_speedup:g}"
        if level.trace_speedup is not None
        else f"rate {level.request_rate:g}/s"
    )
    line = (
        f"{name}: {fmt(row.get('requests_per_s'), '.2f')} req/s, "
        f"{fmt(row.get('output_tokens_per_s'), '.1f')} output tok/s, "
        f"TTFT p50 {fmt(row.get('ttft_s_p50'), '.3f')} s, errors {row.get('error_count')}"
    )
    if row.get("slo"):
        met = {True: "met", False: "missed", None: "not judged"}[row.get("slo_met")]
        line += (
            f"; SLO {met}, goodput {fmt(row.get('goodput_requests_per_s'), '.2f')} req/s "
            f"({row.get('good_requests')} good)"
        )
    return line


_HOST = re.compile(r"[A-Za-z0-9._-]+|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.%A-Za-z]*")
"""A DNS name or IPv4 address, or an IPv6 address (urlsplit has taken off the brackets)."""


def _base_url(url: str) -> tuple[str, str | None]:
    """The endpoint's base URL without userinfo, and the userinfo (sent, never stored); one
    line naming what is wrong otherwise. The URL in the line has its userinfo masked."""

    from harness.credentials import redact, split_userinfo

    shown = redact(url)
    example = "expected an http(s) URL such as http://127.0.0.1:8000/v1"
    if not url.strip():
        raise BadInput(f"--endpoint {shown!r}: empty; {example}")
    if any(ord(c) < 32 or c.isspace() for c in url):
        raise BadInput(f"--endpoint {shown!r}: a space or control character in the URL; {example}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as err:
        raise BadInput(f"--endpoint {shown!r}: not a URL ({redact(str(err))}); {example}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput(f"--endpoint {shown!r}: {example}")
    if not _HOST.fullmatch(parts.hostname):
        raise BadInput(f"--endpoint {shown!r}: {parts.hostname!r} is not a host name; {example}")
    if parts.query or parts.fragment or url.rstrip().endswith(("?", "#")):
        raise BadInput(
            f"--endpoint {shown!r}: leave out the query and fragment (the routes "
            "/completions, /chat/completions, /models are added to the base URL)"
        )
    netloc, userinfo = split_userinfo(parts.netloc)
    return f"{parts.scheme}://{netloc}{parts.path}".rstrip("/"), userinfo


def _is_local(base_url: str) -> bool:
    return (urlsplit(base_url).hostname or "") in ("127.0.0.1", "localhost", "::1")


def _transformers_version() -> str | None:
    try:
        return f"transformers {version('transformers')}"
    except PackageNotFoundError:
        return None
