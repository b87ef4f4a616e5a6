"""One endpoint run: start the server if asked, probe the endpoint, run every load level under
the meters, write one measurement row per level through the results store, always stop the
server."""

from __future__ import annotations

import asyncio
import json
import shlex
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from harness.credentials import redact_argv
from harness.endpoint.client import ROUTES, RequestShape, send
from harness.endpoint.config import EndpointConfig, LoadLevel
from harness.endpoint.goodput import slo_columns
from harness.endpoint.loadgen import make_client
from harness.endpoint.maxload import ALL_MET, NONE_MET, UNJUDGED, MaxLoad, find_max_load
from harness.endpoint.meters import GpuGroup
from harness.endpoint.prompts import Prompt, load_dataset, load_tokenizer, synthetic_prompts
from harness.endpoint.replay import replay_schedule, run_schedule
from harness.endpoint.server import Server
from harness.endpoint.server_metrics import level_columns, scrape
from harness.endpoint.summary import request_rows, summarise_level
from harness.endpoint.transport import new_event_loop
from harness.endpoint.workers import ClientLoad, SplitLevel, default_workers, run_split_level
from harness.errors import BadInput, GpucostError
from harness.measure.environment import host_info, library_versions
from harness.measure.stopsignals import (
    STOP_SIGNALS,
    StopState,
    signals_interrupt,
    stop_exception,
)
from harness.results.store import RunStore
from harness.slo import parse_slo
from harness.traffic.prompts import multi_turn_prompts, shared_prefix_prompts
from harness.traffic.replay import load_replay, mix_columns, model_context_tokens

ENGINE = "endpoint"
PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ServerSpec:
    """A server gpucost starts: the command, and the version string where it is known."""

    command: list[str]
    version: str | None = None
    health_timeout_s: float = 300.0


class NoRequestSucceeded(GpucostError):
    """Every level of an endpoint run ended without one successful request."""


def run_endpoint(
    config: EndpointConfig,
    out: Path,
    command: Sequence[str] = (),
    server: ServerSpec | None = None,
    on_level: Any = None,
    on_search: Any = None,
    on_created: Any = None,
) -> RunStore:
    """Run every load level into a new run folder under `out`; the server (when started here)
    is stopped on every way out, Ctrl-C included.

    What can be checked without the run folder is checked first (the SLO, the dataset or
    tokenizer, and for a server already running: that it answers and takes the request), so
    a bad input leaves no folder. Raises KeyboardInterrupt (Interrupted for SIGTERM/SIGHUP)
    after marking the run `interrupted`, StoreWriteError when a file cannot be written, and
    NoRequestSucceeded (the run marked `failed`) when no level had a successful request.
    `on_created` is told the store as soon as its folder exists."""
    if config.slo:
        parse_slo(config.slo, where="slo")
    # A trace is read and checked (lengths against the model's context included) before a run
    # folder exists and before any request is sent.
    replay = _load_replay(config) if config.trace else None
    prompts = replay.prompts if replay is not None else _prompts(config)
    checked = None if server is not None else _check_endpoint(config, prompts)
    process = None
    # SIGINT, SIGTERM and SIGHUP stop the run: marked `interrupted` (with `stopped_by` for the
    # last two, as in-process runs), the server stopped, every later signal ignored meanwhile.
    with signals_interrupt((signal.SIGINT, *STOP_SIGNALS)) as stop:
        store = RunStore.start(
            out,
            command,
            {
                "host": host_info(),
                "device": {"name": config.gpu, "kind": ENGINE},
                "libraries": library_versions(),
                "config": config.as_dict(),
                "endpoint": {
                    "url": config.base_url,
                    "api": config.api,
                    "server_command": shlex.join(redact_argv(server.command)) if server else None,
                    "server_version": server.version if server else None,
                    "served_models": None,
                    "model": config.model,
                },
                "workloads": {},
                "idle_power_w": None,
                "calibration": None,
            },
        )
        if on_created is not None:
            on_created(store)
        if replay is not None:
            store.update_meta(trace=replay.describe())
            if on_search is not None:  # the run's one channel for a line to the user
                on_search(replay.summary_line())
        try:
            try:
                if server is not None:
                    # Progress through on_search, the runner's one line-by-line channel.
                    say = on_search or (lambda _line: None)
                    say(f"Starting the server (up to {server.health_timeout_s:g} s): "
                        f"{shlex.join(redact_argv(server.command))}")  # fmt: skip
                    started = time.monotonic()
                    process = Server(
                        server.command, config.base_url, store.path / "server.log",
                        headers=config.auth_headers,
                    )  # fmt: skip
                    process.start(server.health_timeout_s)
                    say(f"Server up after {time.monotonic() - started:.0f} s; "
                        "checking that it takes a request")  # fmt: skip
                    checked = _check_endpoint(config, prompts, stop)
                assert checked is not None
                _run_levels(config, store, prompts, checked, stop, on_level, on_search, replay)
            except KeyboardInterrupt as err:
                stop.closing()
                store.close_meta("interrupted", getattr(err, "signum", None))
                raise
            except BaseException:
                stop.closing()
                store.close_meta("failed", None)
                raise
        finally:
            stop.closing()
            if process is not None:
                process.stop()
        if not any(row.get("status") == "ok" for row in store.measurements):
            store.close_meta("failed", None)
            raise NoRequestSucceeded(
                "no request succeeded at any level: see the error column of "
                f"{store.path / 'measurements.csv'}"
            )
        store.complete()
    return store


def _run_async(coro: Any, stop: StopState | None = None) -> Any:
    """`asyncio.run` whose stop signal cancels the main task and then raises KeyboardInterrupt
    (Interrupted for SIGTERM/SIGHUP).

    A KeyboardInterrupt raised by a plain signal handler lands in whatever callback the loop is
    running (a connect, a task group's cleanup) and can leave the loop waiting on requests in
    flight; cancelling the task unwinds every request cleanly. The handler stays the one
    `signals_interrupt` installed, so there is no moment with the default handler in force
    (which a quick second signal would find, and kill the process outright)."""
    if stop is None:
        return _run_on_fast_loop(coro)

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        stop.cancel = lambda: loop.call_soon_threadsafe(task.cancel)
        return await coro

    try:
        result = _run_on_fast_loop(main())
    except BaseException:
        # Whatever the cancelled requests raised on their way out, a stop signal is the cause.
        if stop.signum is None:
            raise
        result = None
    finally:
        stop.cancel = None
    if stop.signum is not None:
        raise stop_exception(stop.signum)
    return result


def _run_on_fast_loop(coro: Any) -> Any:
    """`asyncio.run` on uvloop's loop where it is installed (less client CPU per streamed chunk:
    benchmarks/http_clients.py); `asyncio.Runner` takes a loop factory from Python 3.11."""
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            return runner.run(coro)
    return asyncio.run(coro)


def _served_models(base_url: str, headers: dict[str, str] | None = None) -> list[str]:
    """The ids `GET /models` lists; BadInput when nothing answers there."""
    try:
        with (
            httpx.Client(timeout=PROBE_TIMEOUT_S, trust_env=False, headers=headers) as client,
            client.stream("GET", base_url + "/models") as response,
        ):
            if response.status_code != 200:
                return []
            body = _models_body(response)
    except httpx.HTTPError as err:
        raise BadInput(
            f"--endpoint {base_url}: cannot connect ({type(err).__name__}: {err})"
        ) from None
    try:
        listing = json.loads(body) if body is not None else None
    except (ValueError, RecursionError):
        return []
    models = listing.get("data") if isinstance(listing, dict) else None
    if not isinstance(models, list):
        return []  # not the OpenAI list: the model is then the one --model names, or none
    return [str(m["id"]) for m in models if isinstance(m, dict) and isinstance(m.get("id"), str)]


MAX_MODELS_BYTES = 4 << 20
"""Largest `/models` answer read (a list of model ids is kilobytes)."""


def _models_body(response: httpx.Response) -> bytes | None:
    """The body of `/models`, or None when it runs past MAX_MODELS_BYTES or the probe timeout
    (a server that keeps sending would otherwise never let the run start)."""
    deadline = time.monotonic() + PROBE_TIMEOUT_S
    parts: list[bytes] = []
    size = 0
    for part in response.iter_bytes():
        size += len(part)
        if size > MAX_MODELS_BYTES or time.monotonic() > deadline:
            return None
        parts.append(part)
    return b"".join(parts)


async def _probe(config: EndpointConfig, shape: RequestShape, prompt: Prompt) -> dict[str, Any]:
    """One request before the levels: finds a missing route or an unknown model (one line), and
    whether the server takes the fields that pin the output length."""
    route = ROUTES[shape.api]
    async with make_client(1, config.request_timeout_s, config.auth_headers) as client:
        record = await send(client, config.base_url, shape, prompt, -1, config.request_timeout_s)
        if record.status_code in (400, 422) and shape.length_fields:
            shape.length_fields = False
            record = await send(
                client, config.base_url, shape, prompt, -1, config.request_timeout_s
            )
    if record.status_code in (404, 405):
        raise BadInput(
            f"--endpoint {config.base_url}: the server has no POST {route} ({record.error})"
        )
    if record.status_code in (400, 401, 403, 422):
        raise BadInput(
            f"--endpoint {config.base_url}: POST {route} refused the request ({record.error})"
        )
    return {"probe_error": record.error, "length_fields_accepted": shape.length_fields}


def _prompts(config: EndpointConfig) -> list[Prompt]:
    if config.dataset is not None:
        return load_dataset(config.dataset, config.output_len)
    tokenizer = load_tokenizer(config.tokenizer)
    length = config.seq_len if config.workload == "embedding" else config.input_len
    count = min(config.requests or 64, 256, max(1, MAX_PROMPT_TOKENS // max(length, 1)))
    if config.turns > 1:
        return multi_turn_prompts(
            tokenizer, count, length, config.output_len, config.turns, config.seed
        )
    if config.shared_prefix_len:
        return shared_prefix_prompts(
            tokenizer, count, length, config.output_len, config.shared_prefix_len, config.seed
        )
    return synthetic_prompts(tokenizer, count, length, config.output_len, config.seed)


MAX_PROMPT_TOKENS = 1 << 24
"""Tokens of synthetic prompts held at once: fewer distinct prompts for long inputs (they are
cycled through), so a long --input-len cannot take the memory."""


@dataclass
class _Checked:
    """What the checks before the levels found: the models listed, the model asked for, the
    request shape (with the length fields the server takes) and the probe's outcome."""

    served: list[str]
    model: str | None
    shape: RequestShape
    probe: dict[str, Any]


def _check_endpoint(
    config: EndpointConfig, prompts: list[Prompt], stop: StopState | None = None
) -> _Checked:
    """The endpoint answers, has the route and takes the request (BadInput otherwise)."""
    served = _served_models(config.base_url, config.auth_headers)
    model = config.model or (served[0] if served else None)
    api = "embedding" if config.workload == "embedding" else config.api
    shape = RequestShape(api=api, model=model)
    probe = _run_async(_probe(config, shape, prompts[0]), stop)
    return _Checked(served, model, shape, probe)


def _load_replay(config: EndpointConfig) -> Any:
    assert config.trace is not None
    return load_replay(
        config.trace, config.trace_format, load_tokenizer(config.tokenizer),
        seed=config.seed, strict=config.trace_strict, start_s=config.trace_start_s,
        duration_s=config.trace_duration_s, max_requests=config.trace_requests,
        max_input_len=config.max_input_len, max_output_len=config.max_output_len,
        context_tokens=model_context_tokens(config.model) or model_context_tokens(config.tokenizer),
        shared_prefix_len=config.shared_prefix_len, default_output_len=config.output_len,
    )  # fmt: skip


def _run_levels(
    config: EndpointConfig,
    store: RunStore,
    prompts: list[Prompt],
    checked: _Checked,
    stop: StopState,
    on_level: Any = None,
    on_search: Any = None,
    replay: Any = None,
) -> None:
    served, model, shape = checked.served, checked.model, checked.shape
    endpoint = dict(store.meta["endpoint"], served_models=served, model=model, **checked.probe)
    store.update_meta(endpoint=endpoint)
    gpus = config.gpus or ()
    origin = time.perf_counter()
    with GpuGroup(gpus, config.sample_interval_s) as group:
        names = group.names
        gpu_name = config.gpu or (names[0] if names else None)
        gpus_used = config.gpus_used or (len(gpus) or None)
        store.update_meta(
            device={"name": gpu_name, "kind": ENGINE, "gpus": list(gpus), "gpu_names": names}
        )
        slo = parse_slo(config.slo, where="slo") if config.slo else None
        measured: list[tuple[LoadLevel, dict[str, Any]]] = []

        def measure(level: LoadLevel) -> dict[str, Any]:
            number = len(measured) + 1
            group.begin(config.workload, number)
            counters: list[Any] = []
            if level.trace_speedup is not None:
                # A replay keeps one process: its schedule is one ordered timeline. The server's
                # counters and the client's CPU are read from the end of the warm-up on.
                marks: dict[str, float] = {}

                def started() -> None:
                    counters.append(scrape(config.base_url, config.auth_headers))
                    marks["cpu_s"], marks["wall_s"] = time.process_time(), time.perf_counter()

                replayed = _run_async(
                    stop=stop,
                    coro=run_schedule(
                        config.base_url, shape,
                        replay_schedule(replay.arrivals_s, prompts, level.trace_speedup),
                        warmup_requests=config.warmup_requests,
                        timeout_s=config.request_timeout_s,
                        headers=config.auth_headers, on_start=started,
                    ),
                )  # fmt: skip
                load = ClientLoad(
                    time.process_time() - marks["cpu_s"], time.perf_counter() - marks["wall_s"]
                )
                result = SplitLevel(replayed.records, replayed.max_in_flight, 1, [load])
            else:
                workers = config.workers or default_workers(level, config.output_len)
                result = run_split_level(
                    config.base_url, shape, prompts, level, workers,
                    lambda coro: _run_async(coro, stop),
                    on_start=lambda: counters.append(scrape(config.base_url, config.auth_headers)),
                    requests=config.requests, duration_s=config.duration_s,
                    warmup_requests=config.warmup_requests,
                    timeout_s=config.request_timeout_s,
                    burstiness=config.burstiness, seed=config.seed + number,
                    headers=config.auth_headers,
                )  # fmt: skip
            meters = group.end(config.workload, number)
            row = _row(config, level, result.records, result.max_in_flight, meters)
            if replay is not None:
                row.update(_replay_columns(replay, level, result.records))
                row["settings"].update(trace_speedup=level.trace_speedup, **replay.settings())
            row.update(model=model, gpu_name=gpu_name, gpus_used=gpus_used or 1,
                       length_fields_accepted=shape.length_fields)  # fmt: skip
            row.update(result.client_columns())
            if row["client_bound"]:
                row["unstable"] = True  # flagged in every table; money notes say why
            before = counters[0] if counters else None
            after = scrape(config.base_url, config.auth_headers) if before is not None else None
            row.update(level_columns(before, after, row))
            if slo is not None:
                row.update(slo_columns(slo, result.records, row))
                if config.find_max_load:
                    row["slo_max_load"] = False
            iterations = [
                {"workload": config.workload, "batch_size": row["batch_size"],
                 "concurrency": level.concurrency, "request_rate": level.request_rate, **r}
                for r in request_rows(result.records, origin)
            ]  # fmt: skip
            store.add_measurement(row, iterations)
            group.flush_samples(store)
            measured.append((level, row))
            if on_level is not None:
                on_level(level, row)
            return row

        try:
            for level in config.levels:
                measure(level)
            if slo is not None and config.find_max_load:
                _search_max_load(config, store, measured, measure, on_search)
        finally:
            group.flush_samples(store)


def _level_value(level: LoadLevel) -> float:
    if level.trace_speedup is not None:
        return level.trace_speedup
    return float(level.concurrency if level.concurrency is not None else level.request_rate)


def _level_name(level: LoadLevel) -> str:
    if level.concurrency is not None:
        return f"concurrency {level.concurrency}"
    if level.trace_speedup is not None:
        return f"trace speed-up {level.trace_speedup:g}x"
    return f"request rate {level.request_rate:g}/s"


def _search_max_load(
    config: EndpointConfig,
    store: RunStore,
    measured: list[tuple[LoadLevel, dict[str, Any]]],
    measure: Any,
    on_search: Any,
) -> None:
    """Bisect between the measured levels for the highest that meets the SLO, mark that row
    `slo_max_load`, and record the search in run.json."""
    closed = config.levels[0].concurrency is not None
    replayed = config.levels[0].trace_speedup is not None

    def level_of(value: float) -> LoadLevel:
        if replayed:
            return LoadLevel(trace_speedup=value)
        return LoadLevel(concurrency=int(value)) if closed else LoadLevel(request_rate=value)

    def measure_value(value: float) -> bool | None:
        return measure(level_of(value)).get("slo_met")

    outcomes: dict[float, bool | None] = {}
    for level, row in measured:
        value = _level_value(level)
        # a level given twice meets the SLO only if every measurement of it did
        verdicts = (outcomes.get(value, True), row.get("slo_met"))
        outcomes[value] = False if False in verdicts else (None if None in verdicts else True)
    search = find_max_load(
        outcomes, measure_value, integer=closed, max_extra=config.max_search_levels
    )
    best = level_of(search.best) if search.best is not None else None
    marked = False
    changes = []
    for level, _row in measured:
        is_best = best is not None and not marked and level == best
        marked = marked or is_best
        changes.append({"slo_max_load": is_best})
    store.update_measurements(changes)
    store.update_meta(
        max_load_search={
            "slo": config.slo,
            "verdict": search.verdict,
            "max_load": None if best is None else _level_value(best),
            "levels_added": search.extra,
        }
    )
    if on_search is not None:
        on_search(_search_line(search, best, measured))


def _search_line(
    search: MaxLoad, best: LoadLevel | None, measured: list[tuple[LoadLevel, dict[str, Any]]]
) -> str:
    added = f" ({len(search.extra)} level{'s' if len(search.extra) != 1 else ''} added)"
    levels = sorted((lvl for lvl, _ in measured), key=_level_value)
    if search.verdict == UNJUDGED:
        return "Max load: the SLO could not be judged at any level (see slo_met)"
    if search.verdict == NONE_MET:
        return (
            f"Max load: no level met the SLO, the lowest ({_level_name(levels[0])}) included; "
            "lower the bottom level" + added
        )
    assert best is not None
    if search.verdict == ALL_MET:
        return (
            f"Max load: every level met the SLO up to {_level_name(best)}; "
            "raise the top level to find the limit" + added
        )
    return f"Max load: {_level_name(best)} is the highest level that meets the SLO" + added


def _replay_columns(replay: Any, level: LoadLevel, records: list[Any]) -> dict[str, Any]:
    """A replay level's own columns: the speed-up, the trace's rate, the mix served; the fixed
    lengths are empty."""
    assert level.trace_speedup is not None
    span = replay.span_s / level.trace_speedup
    return {
        "trace_speedup": level.trace_speedup,
        "trace_requests_per_s": len(replay.requests) / span if span > 0 else None,
        "trace_clamped_requests": replay.clamped_requests,
        **mix_columns(records),
        "input_len": None,
        "output_len": None,
    }


def _row(
    config: EndpointConfig,
    level: LoadLevel,
    records: list[Any],
    max_in_flight: int,
    meters: dict[str, Any],
) -> dict[str, Any]:
    summary = summarise_level(records, config.workload)
    ok = summary["iterations"] > 0
    status = "ok" if ok else "error"
    error = summary.pop("error", None)
    if not ok:
        error = f"no request succeeded ({error or 'no requests sent'})"
    return {
        "workload": config.workload,
        "preset": None,
        "device": ENGINE,
        "dtype": None,
        # The readers key rows by a whole batch size: closed loop uses the concurrency, open
        # loop the most requests that were in flight at once.
        "batch_size": level.concurrency or max(max_in_flight, 1),
        "status": status,
        "error": error,
        "engine": ENGINE,
        "concurrency": level.concurrency,
        "request_rate": level.request_rate,
        "max_in_flight": max_in_flight,
        **summary,
        **meters,
        "input_len": None if config.dataset else config.input_len,
        "output_len": None
        if config.dataset or config.workload == "embedding"
        else config.output_len,
        "settings": {
            "concurrency": level.concurrency,
            "request_rate": level.request_rate,
            "api": config.api if config.workload != "embedding" else "embedding",
            "requests": config.requests,
            "duration_s": config.duration_s,
            "warmup_requests": config.warmup_requests,
            "burstiness": config.burstiness,
            "request_timeout_s": config.request_timeout_s,
            # Only where set, so rows written before the option existed stay the same work.
            **({"shared_prefix_len": config.shared_prefix_len} if config.shared_prefix_len else {}),
            **({"turns": config.turns} if config.turns > 1 else {}),
        },
    }
