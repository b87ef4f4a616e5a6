"""Result files of other benchmark tools (AIPerf, GuideLLM, `vllm bench serve`) turned into a
gpucost run folder: one row per load level, the endpoint-run columns, nothing invented.

An importer is an `Importer` class (harness/importers/base.py) with `read(path) -> ImportedFile`,
registered in the `gpucost.importers` entry-point group (registry.py); it checks the tool's
schema version and refuses, in one line, a file it cannot read faithfully.
"""
