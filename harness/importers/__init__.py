"""Result files of other benchmark tools (AIPerf, GuideLLM, `vllm bench serve`) turned into a
gpucost run folder: one row per load level, the endpoint-run columns, nothing invented.

An importer is a module with `read(path) -> ImportedFile` (harness/importers/base.py); it checks
the tool's schema version and refuses, in one line, a file it cannot read faithfully.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from harness.importers.base import ImportedFile

IMPORTERS: dict[str, str] = {
    "aiperf": "harness.importers.aiperf",
    "guidellm": "harness.importers.guidellm",
    "vllm": "harness.importers.vllm",
}
"""Tool name on the command line → the module that reads its result files."""


def reader(tool: str) -> Callable[[Path], ImportedFile]:
    return importlib.import_module(IMPORTERS[tool]).read  # type: ignore[no-any-return]
