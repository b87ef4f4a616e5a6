"""Stop signals taken like Ctrl-C, so a stopped run is closed cleanly. No heavy imports: the
in-process runner and the endpoint runner both use it."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Sequence
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


@contextmanager
def signals_interrupt(signals: Sequence[int] = STOP_SIGNALS) -> Iterator[None]:
    """Within the block, the first of `signals` raises Interrupted; later ones are ignored
    while the run is being closed. Only the main thread can take signals: elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = False

    def handler(signum: int, frame: object) -> None:
        nonlocal raised
        if not raised:
            raised = True
            raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
