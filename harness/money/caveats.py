"""The caveats of a priced result, made once for every output (terminal, HTML, Markdown, JSON):
what was measured (a preset's shape with random weights, a CPU), hardware it was priced on but
not measured on, each shown instance's price caveat and each rate card's date."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import pandas as pd

from harness.gpus import CPU_ONLY, canonical_gpu
from harness.money.ratecard import Instance
from harness.render.notes import Note, NoteKind, caveats, stale_price_note


def measured_caveat(measurements: pd.DataFrame) -> list[Note]:
    """What the priced rows measured, when it is not the model one would serve: a preset's
    shapes with random weights, or a CPU. The margin holds only for the model served."""
    ok = measurements[measurements["status"] == "ok"]
    presets = sorted({str(r.preset) for r in ok.itertuples(index=False)
                      if isinstance(r.model, str) and r.model == r.preset})  # fmt: skip
    cpu = bool((ok["device"].astype(str).str.startswith("cpu") | ok["gpu_name"].isna()).any())
    notes = []
    if presets:
        notes.append(Note(NoteKind.RANDOM_WEIGHTS,
                          f"measured a preset's shape with random weights ({', '.join(presets)}): "
                          "costs and margins hold only for the model you would serve (market "
                          "prices are for other, real models)"))  # fmt: skip
    if cpu:
        notes.append(Note(NoteKind.CPU, "measured on a CPU: costs and margins hold only for the "
                                        "hardware you would serve on"))  # fmt: skip
    return notes


def measured_elsewhere(measurements: pd.DataFrame, gpu: str | None) -> list[str]:
    """ "run R was measured on X" for each run whose known hardware is not `gpu`; a run whose
    GPU is not in the catalogue (an import, a new card) is what `--gpu` names, not moves."""
    if gpu is None:
        return []
    ok = measurements[measurements["status"] == "ok"]
    lines = []
    for run_id, name in ok[["run_id", "gpu_name"]].drop_duplicates().itertuples(index=False):
        key = canonical_gpu(None if pd.isna(name) else str(name))
        if key is not None and key != gpu:
            lines.append(f"run {run_id} was measured on "
                         + ("a CPU" if key == CPU_ONLY else key))  # fmt: skip
    return lines


def instance_notes(instances: Iterable[Instance]) -> list[Note]:
    """Each instance's price caveat (a list price to verify, example figures) and each rate
    card's date and source (a caveat when stale)."""
    shown = list(instances)
    notes = [Note(NoteKind.LIST_PRICE, f"{i.key}: {i.caveat}", i.key) for i in shown if i.caveat]
    cards = sorted({(i.provider, i.as_of, i.source) for i in shown})
    notes += [stale_price_note(provider, as_of, source) for provider, as_of, source in cards]
    return notes


def run_caveats(
    measurements: pd.DataFrame, instances: Iterable[Instance], gpu: str | None = None
) -> list[Note]:
    """The caveats every output of these rows priced on `instances` carries at its top."""
    moved = [Note(NoteKind.OTHER_HARDWARE, f"priced on {gpu} instances although {line}: the "
                  "timings do not transfer") for line in measured_elsewhere(measurements, gpu)]  # fmt: skip
    return caveats([*measured_caveat(measurements), *moved, *instance_notes(instances)])


PROJECTED_SUBJECT = "projected rows"
"""The subject of the caveat on rows projected from another GPU (column `projected`)."""


def per_run_caveats(runs: Iterable[tuple[str, pd.DataFrame]]) -> list[Note]:
    """`measured_caveat` of each run's measurements, about that run alone (its id)."""
    return [replace(note, subject=run_id)
            for run_id, measurements in runs for note in measured_caveat(measurements)]  # fmt: skip


def row_caveats(notes: Iterable[Note], rows: pd.DataFrame) -> list[list[Note]]:
    """Per row of `rows`, the caveats about it: those about everything shown and those whose
    subject is the row's run id, workload, instance key (provider:name) or provider (a rate
    card's date), so a machine-readable row carries its own caveats and no other row's."""
    shown = caveats(notes)
    names = ("run_id", "workload", "provider", "instance", "projected")
    columns = [c for c in names if c in rows.columns]
    out = []
    for record in rows[columns].to_dict("records"):
        subjects = {str(record[c]) for c in ("run_id", "workload", "provider") if c in record}
        if record.get("projected") == True:  # noqa: E712 (a numpy bool too)
            subjects.add(PROJECTED_SUBJECT)
        if "provider" in record and "instance" in record:
            subjects.add(f"{record['provider']}:{record['instance']}")
        out.append([n for n in shown if not n.subject or n.subject in subjects])
    return out


def caveat_kinds_text(row: Iterable[Note]) -> str:
    """A row's caveat kinds for a CSV cell, `;`-joined, each once; empty when none."""
    return ";".join(dict.fromkeys(n.kind.value for n in row))


def caveat_records(row: Iterable[Note]) -> list[dict[str, str]]:
    """A row's caveats for JSON: each as {kind, text}."""
    return [{"kind": n.kind.value, "text": n.text} for n in row]


def floor_row_caveats(notes: Iterable[Note], table: pd.DataFrame) -> list[list[Note]]:
    """Per reconcile row, the caveats of its benchmark floor (the run's, the floor instance's
    and its rate card's); none on a row without a floor, whose numbers are the bill's alone."""
    keys = [k if isinstance(k, str) and k else None
            for k in (table["floor_instance"] if "floor_instance" in table else [None] * len(table))]  # fmt: skip
    frame = pd.DataFrame({"provider": [k.split(":", 1)[0] if k else "" for k in keys],
                          "instance": [k.split(":", 1)[-1] if k else "" for k in keys]})  # fmt: skip
    return [row if key else [] for row, key in zip(row_caveats(notes, frame), keys, strict=True)]
