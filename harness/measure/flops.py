"""Model FLOPs of one iteration, counted by torch's FlopCounterMode (matrix products, convolutions
and attention; elementwise work is not counted, as in the usual MFU definition).

Counting runs one extra, untimed iteration under a dispatch mode, several times slower than a
plain one. Where the mode cannot follow a model (VITS's weight-norm parametrisations, say), the
count is None rather than a failed row.
"""

from __future__ import annotations

from harness.devicemem import is_out_of_memory
from workloads.base import Workload


class _NoMarks:
    def mark(self, name: str) -> None:
        pass


def count_iteration_flops(workload: Workload) -> float | None:
    """FLOPs of one `run_once` over the prepared batch; None where they cannot be counted."""
    from torch.utils.flop_counter import FlopCounterMode

    try:
        with FlopCounterMode(display=False) as counter:
            workload.run_once(_NoMarks())
    except Exception as err:
        if is_out_of_memory(err):
            raise
        return None  # a count we cannot make is left empty, never guessed
    total = counter.get_total_flops()
    return float(total) if total > 0 else None
