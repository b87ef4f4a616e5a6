"""Stop signals taken like Ctrl-C, so a stopped run is closed cleanly. No heavy imports: the
in-process runner and the endpoint runner both use it."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP (what containers, systemd, Slurm and Kubernetes send), taken like
    Ctrl-C: the run is marked `interrupted` and the rows measured so far stay."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def stop_exception(signum: int) -> KeyboardInterrupt:
    """What a stop signal raises: a plain KeyboardInterrupt for Ctrl-C, Interrupted (with the
    signal, for `stopped_by` and the exit code 128 + signal) for the others."""
    return KeyboardInterrupt() if signum == signal.SIGINT else Interrupted(signum)


class StopState:
    """The first stop signal of a block, and how it is delivered: raised where the code is
    plain Python, or handed to `cancel` while an event loop runs (a raise there would land in
    whatever callback the loop is running). Every later signal is ignored, so closing the run
    (stopping a server, writing run.json) is never cut short."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.cancel: Callable[[], None] | None = None
        self.closed = False

    def handle(self, signum: int, _frame: object = None) -> None:
        if self.signum is not None or self.closed:
            return
        self.signum = signum
        if self.cancel is not None:
            self.cancel()
            return
        raise stop_exception(signum)

    def closing(self) -> None:
        """From here on every signal is ignored (the run is being closed)."""
        self.closed = True


@contextmanager
def signals_interrupt(signals: Sequence[int] = STOP_SIGNALS) -> Iterator[StopState]:
    """Within the block, the first of `signals` raises (see StopState); later ones are ignored
    while the run is being closed. Only the main thread can take signals: elsewhere the state
    never sees one."""
    state = StopState()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    previous = {s: signal.signal(s, state.handle) for s in signals}
    try:
        yield state
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
