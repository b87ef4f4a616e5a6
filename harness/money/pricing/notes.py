"""Notes that travel with a price: what was measured, rows flagged unstable, rows whose SLO no
request met."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.money.confidence import UNSTABLE_CV
from harness.render.notes import Note, NoteKind


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    values = frame[name] if name in frame.columns else np.nan
    return pd.to_numeric(pd.Series(values, index=frame.index), errors="coerce")


def unstable_reason(wall_cv: float, cost_cv: float, client_bound: bool = False) -> str:
    """Why a flagged row is unstable, in words, from the CVs it measured."""
    reasons = ["client-bound: the load generator was the limit"] if client_bound else []
    if cost_cv > UNSTABLE_CV:
        reasons.append(f"cost interval wide: cost CV {cost_cv * 100:.0f}%")
    if wall_cv > UNSTABLE_CV:
        reasons.append(f"timing noisy: wall-time CV {wall_cv * 100:.0f}%")
    return "; ".join(reasons) or "flagged by the run"


def _client_bound(rows: pd.DataFrame) -> pd.Series:
    """The rows' `client_bound` flags as the results reader reads them (true, false or empty)."""
    if "client_bound" not in rows.columns:
        return pd.Series(False, index=rows.index)
    return rows["client_bound"] == True  # noqa: E712


def unstable_notes(measurements: pd.DataFrame) -> list[Note]:
    """One line per run naming the ok rows it flagged `unstable`, each with why."""
    if "unstable" not in measurements.columns:
        return []
    ok = measurements[(measurements["status"] == "ok") & (measurements["unstable"] == True)]  # noqa: E712
    lines = []
    for run_id, rows in ok.groupby("run_id", sort=False):
        named = ", ".join(
            f"{workload} batch {batch} ({unstable_reason(wall_cv, cost_cv, bool(bound))})"
            for workload, batch, wall_cv, cost_cv, bound in zip(
                rows["workload"], rows["batch_size"], _column(rows, "wall_s_cv"),
                _column(rows, "cost_cv"), _client_bound(rows), strict=True,
            )
        )  # fmt: skip
        lines.append(Note(NoteKind.UNSTABLE,
                          f"unstable: run {run_id}: {named}; these costs are uncertain "
                          "(measure again on a quiet machine, or longer)", str(run_id)))  # fmt: skip
    return lines


def goodput_notes(measurements: pd.DataFrame) -> list[Note]:
    """One line per run naming the ok rows measured with an SLO that no request met: their
    cost on goodput is unbounded, not a number."""
    goodput = [c for c in measurements.columns if c.startswith("goodput_") and c.endswith("_per_s")]
    if not goodput:
        return []
    ok = measurements[measurements["status"] == "ok"]
    rates = ok[goodput].apply(pd.to_numeric, errors="coerce")
    none_met = ok[(rates == 0).any(axis=1) & ~(rates > 0).any(axis=1)]
    return [
        Note(NoteKind.NO_GOODPUT, f"no request met the SLO: run {run_id}: "
             + ", ".join(f"{w} batch {b}" for w, b in zip(rows["workload"], rows["batch_size"],
                                                         strict=True))
             + ": no cost on goodput", str(run_id))
        for run_id, rows in none_met.groupby("run_id", sort=False)
    ]  # fmt: skip
