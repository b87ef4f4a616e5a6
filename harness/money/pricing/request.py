"""What `gpucost price` is asked (`PriceRequest`) and what it answers (`PriceResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harness.money.caveats import instance_notes
from harness.money.margin import DEFAULT_TARGET_MARGINS
from harness.money.prices import CandidatePrice
from harness.money.ratecard import Instance
from harness.money.scenario import Scenario
from harness.render.notes import Note
from harness.results.runs import RunRecord

SENSITIVITY_UTILIZATIONS: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class PriceRequest:
    """What to price. Empty `utilizations` / `plans` / `instance_refs` mean: the scenario's
    choice, else u = 1.0, every plan a card has, every instance with the run's GPU."""

    run_paths: tuple[Path, ...]
    instance_refs: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()
    utilizations: tuple[float, ...] = ()
    price_texts: tuple[str, ...] = ()
    scenario_path: Path | None = None
    ratecard_files: tuple[Path, ...] = ()
    gpu: str | None = None
    other_hardware: bool = False
    """Price timings measured on one GPU (or a CPU) on instances of `gpu` anyway."""
    target_margins: tuple[float, ...] = DEFAULT_TARGET_MARGINS
    sensitivity_utilizations: tuple[float, ...] = SENSITIVITY_UTILIZATIONS
    include_user_dir: bool = True
    with_sensitivity: bool = True


@dataclass(frozen=True, eq=False)
class Sensitivity:
    """Cost (and margin) over plans × utilisations for one workload's unit at one batch size.

    `frame` holds, per plan, the instance that is cheapest at the highest utilisation, at every
    utilisation; `unit` is "call" for a scenario (cost per call of the service)."""

    run_id: str
    workload: str
    batch_size: int
    unit: str
    frame: pd.DataFrame


@dataclass(frozen=True, eq=False)
class PriceResult:
    runs: tuple[RunRecord, ...]
    instances: tuple[Instance, ...]
    candidates: tuple[CandidatePrice, ...]
    costs: pd.DataFrame
    currency: str
    target_margins: tuple[float, ...]
    scenario: Scenario | None = None
    scenario_rows: pd.DataFrame | None = None
    sensitivity: tuple[Sensitivity, ...] = ()
    notes: tuple[Note, ...] = field(default_factory=tuple)

    def all_notes(self, shown_instances: set[str] | None = None) -> list[Note]:
        """Every note about this result: the pricing's own, each shown instance's caveat (a
        list price to verify) and each rate card's date (stale when old). `shown_instances`
        (provider:name keys) keeps the instance notes to those an output shows."""
        shown = [i for i in self.instances if shown_instances is None or i.key in shown_instances]
        return list(dict.fromkeys([*self.notes, *instance_notes(shown)]))
