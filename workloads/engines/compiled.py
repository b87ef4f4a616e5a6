"""The compiled engine: a static KV cache and a `torch.compile`d decode step.

Generation is greedy with exact lengths, like the eager engine: the prompt's forward (prefill)
runs eagerly and writes the static cache; every later token comes from the compiled step, which
runs the model on one token and takes the argmax inside the graph. On CUDA the step is compiled
with `mode="reduce-overhead"`, so each decode step replays as one CUDA graph instead of hundreds
of kernel launches; on the CPU it uses inductor's default mode.

Shapes are static (`dynamic=False`): each batch size compiles once, in `prepare`, outside the
timed window, and the first call's seconds are `compile_s`. Switching batch size drops the
previous graphs (`torch._dynamo.reset`), so a sweep never reaches dynamo's recompile limit,
where it would silently fall back to eager code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from harness.devicemem import is_out_of_memory
from harness.errors import BadInput
from workloads.base import Stopwatch
from workloads.engines.base import TextEngine


class CompileFailed(RuntimeError):
    """torch.compile could not build or run the graph; the message is one line."""


def compile_mode(device: torch.device) -> str | None:
    """CUDA graphs on CUDA, where launch overhead dominates small decode steps; else the default."""
    return "reduce-overhead" if device.type == "cuda" else None


def dispatch_mode_active() -> bool:
    """Whether a Python dispatch mode (torch's FLOP counter, say) is intercepting operators."""
    from torch.utils._python_dispatch import _get_current_dispatch_mode

    return _get_current_dispatch_mode() is not None


def compiled_graph_count() -> int:
    """Graphs dynamo has compiled in this process; a rise between two readings is a compilation."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def reset_compiled() -> None:
    """Drop every compiled graph (and CUDA graph pool) of this process."""
    torch._dynamo.reset()


class CompiledCall:
    """`fn` compiled for static shapes, called like `fn`.

    Under a dispatch mode (the runner's FLOP count) the plain `fn` runs instead: compiled code does
    not run under one, and dynamo would mark the frame as skipped for every later call.
    """

    def __init__(self, fn: Callable[..., Any], device: torch.device) -> None:
        self.fn = fn
        self.mode = compile_mode(device)
        self.on_cuda = device.type == "cuda"
        self.compiled = torch.compile(fn, fullgraph=True, dynamic=False, mode=self.mode)

    def __call__(self, *args: Any) -> Any:
        if dispatch_mode_active():
            return self.fn(*args)
        if self.on_cuda:
            # Each call starts a new CUDA-graph generation: the previous outputs were copied out.
            torch.compiler.cudagraph_mark_step_begin()
        return self.compiled(*args)

    def settings(self) -> dict[str, Any]:
        return {"compile_mode": self.mode or "default", "fullgraph": True, "dynamic": False}


def first_call_s(call: Callable[[], Any], device: torch.device, what: str) -> float:
    """Seconds of the first (compiling) call; a compile failure becomes one-line CompileFailed."""
    started = time.perf_counter()
    try:
        call()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    except Exception as err:
        if is_out_of_memory(err):
            raise
        first_line = (str(err).strip().splitlines() or [""])[0]
        raise CompileFailed(
            f"torch.compile of {what} failed: {type(err).__name__}: {first_line}"
        ) from err
    return time.perf_counter() - started


def _decode_step(model: Any, token: torch.Tensor, cache: Any) -> torch.Tensor:
    """One new token per sequence: the model on the latest token, greedy over the logits."""
    logits = model(input_ids=token, cache=cache, use_cache=True).logits
    return logits[:, -1].argmax(-1, keepdim=True)


class CompiledTextEngine(TextEngine):
    name = "compiled"

    def __init__(self, model: Any, input_len: int, output_len: int) -> None:
        super().__init__(model, input_len, output_len)
        if not getattr(model, "_can_compile_fullgraph", False):
            raise BadInput(
                f"--engine compiled: a {model.config.model_type!r} model cannot run with a "
                "static KV cache under torch.compile (use --engine eager)"
            )
        self.device = next(model.parameters()).device
        self.step = CompiledCall(_decode_step, self.device)
        self.cache: Any = None
        self.input_ids: torch.Tensor | None = None
        self.token: torch.Tensor | None = None
        self.out: torch.Tensor | None = None
        self._compiled_batch: int | None = None

    def prepare(self, input_ids: torch.Tensor) -> None:
        from transformers import StaticCache

        batch = int(input_ids.shape[0])
        self.input_ids = input_ids
        if batch == self._compiled_batch:
            return
        if self._compiled_batch is not None:
            reset_compiled()
        self._compiled_batch = None
        self.cache = StaticCache(
            config=self.model.config, max_cache_len=self.input_len + self.output_len
        )
        self.token = torch.empty(batch, 1, dtype=torch.long, device=self.device)
        self.out = torch.empty(batch, self.output_len, dtype=torch.long, device=self.device)
        self.compile_s = first_call_s(lambda: self.generate(None), self.device, "the decode step")
        self._compiled_batch = batch

    def generate(self, stopwatch: Stopwatch | None) -> torch.Tensor:
        assert self.input_ids is not None and self.out is not None and self.token is not None
        mark = stopwatch.mark if stopwatch is not None else _no_mark
        try:
            with torch.no_grad():
                logits = self.model(
                    input_ids=self.input_ids, cache=self.cache, use_cache=True, logits_to_keep=1
                ).logits
                self.token.copy_(logits[:, -1].argmax(-1, keepdim=True))
                self.out[:, :1].copy_(self.token)
                mark("first_token")
                mark("last_token")
                for i in range(1, self.output_len):
                    # Copied out at once: a CUDA graph's output is overwritten by its next replay.
                    self.token.copy_(self.step(self.model, self.token, self.cache))
                    self.out[:, i : i + 1].copy_(self.token)
                    mark("last_token")
        finally:
            # Back to an empty cache (same tensors, so the compiled graph still applies).
            self.cache.reset()
        return self.out.clone()

    def settings(self) -> dict[str, Any]:
        return {
            **super().settings(),
            **self.step.settings(),
            "cache_implementation": "static",
            "compiled": "decode step (prefill runs eagerly on the static cache)",
        }

    def release(self) -> None:
        self.input_ids = None

    def close(self) -> None:
        """Drop the cache and the compiled graphs."""
        self.cache = self.token = self.out = self.input_ids = None
        if self._compiled_batch is not None:
            reset_compiled()
        self._compiled_batch = None


def _no_mark(name: str) -> None:
    pass
