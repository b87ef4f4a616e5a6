"""Rows priced on the rate cards' instances: the instances named on the command line, and each
cost tied to the row it prices."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness.gpus import canonical_gpu
from harness.money import COST_COLUMNS, load_ratecards, unit_costs
from harness.money.context import PricingContext

if TYPE_CHECKING:
    import pandas as pd

    from harness.money import Instance


def load_instances(
    refs: Sequence[str], ratecard_files: Sequence[Path] = ()
) -> tuple[Instance, ...]:
    """The rate cards' instances, or only those named `provider:name` in `refs`."""
    cards = load_ratecards(extra_files=ratecard_files)
    if not refs:
        return cards.instances
    # A repeated --instance names the same choice once.
    return tuple(cards.find(ref) for ref in dict.fromkeys(refs))


def matched_unit_costs(rows: pd.DataFrame, context: PricingContext) -> pd.DataFrame:
    """`unit_costs` on the context's instances that carry the rows' GPU (or `context.gpu`); an
    empty frame of the same columns when none does."""
    import pandas as pd

    keys = {context.gpu} if context.gpu else {canonical_gpu(name) for name in rows["gpu_name"]}
    matched = [i for i in context.instances if i.gpu in keys]
    if rows.empty or not matched:
        return pd.DataFrame(columns=list(COST_COLUMNS))
    return unit_costs(rows, context.on(matched))


ROW_POSITION = "_row"
"""Column of `row_unit_costs` frames: the position, in the rows given, of the row a cost is of."""


def row_unit_costs(rows: pd.DataFrame, context: PricingContext) -> pd.DataFrame:
    """`matched_unit_costs` with each cost tied to the very row it prices (ROW_POSITION): the
    engine's `source_row` of rows numbered by their position."""
    import pandas as pd  # lazy: pandas loads with the first frame, not with the CLI

    costs = matched_unit_costs(rows.reset_index(drop=True), context)
    source = costs["source_row"] if len(costs) else []
    costs[ROW_POSITION] = pd.Series(source, index=costs.index, dtype="int64")
    return costs
