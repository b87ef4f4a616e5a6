"""`sweep-state.json` in the plan folder: what each instance's launch did, kept across commands."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from harness.errors import BadInput
from harness.results.atomicfile import write_text

STATE_FILE = "sweep-state.json"
LEGACY_STATE_FILE = "fleet-state.json"
"""The state file of plans launched before `gpucost fleet` became `gpucost sweep`: read, so that
`down` still finds their clusters; written back under the new name."""


class SweepState:
    """Per-entry records (`status`, `error`, `job_id`, `managed`), written whole on each change."""

    def __init__(self, plan_dir: Path) -> None:
        self.path = plan_dir / STATE_FILE
        self._lock = threading.Lock()
        self.entries: dict[str, dict[str, Any]] = {}
        source = self.path
        if not source.is_file() and (plan_dir / LEGACY_STATE_FILE).is_file():
            source = plan_dir / LEGACY_STATE_FILE
        if source.is_file():
            try:
                self.entries = json.loads(source.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise BadInput(f"{source}: not readable ({err})") from None

    def update(self, name: str, **fields: Any) -> None:
        with self._lock:
            self.entries.setdefault(name, {}).update(fields)
            write_text(self.path, json.dumps(self.entries, indent=2, sort_keys=True) + "\n")

    def get(self, name: str) -> dict[str, Any]:
        return dict(self.entries.get(name, {}))
