"""A third-party importer, as another package would ship it: a made-up tool whose result file is
one JSON object per load level, registered in the `gpucost.importers` entry-point group."""

from __future__ import annotations

from pathlib import Path

from harness.importers.base import (
    ImportedFile,
    Importer,
    Level,
    Reader,
    json_documents,
    read_bytes,
    sha256_of,
)


class TinyBenchImporter(Importer):
    summary = "tinybench result files (one JSON object per load level)."

    def read(self, path: Path) -> ImportedFile:
        data = read_bytes(path)
        reader = Reader(path, "tinybench result")
        levels = []
        for document in json_documents(path, data):
            result = reader.mapping(document, "the file")
            window_s = reader.number(result.get("duration_s"), "duration_s")
            done = reader.whole(result.get("completed"), "completed")
            latency_s = reader.number(result.get("latency_p50_s"), "latency_p50_s")
            levels.append(
                Level(
                    concurrency=reader.whole(result.get("concurrency"), "concurrency"),
                    request_rate=None,
                    max_in_flight=None,
                    values={
                        "window_s": window_s,
                        "requests": done,
                        "iterations": done or 0,
                        "output_tokens": reader.number(result.get("output_tokens"), "output_tokens"),
                        "wall_s_p50": latency_s,
                        "e2e_s_p50": latency_s,
                    },
                )
            )
        return ImportedFile(
            path=path, sha256=sha256_of(data), tool="tinybench", version="0.1",
            schema_version=None, levels=tuple(levels),
        )  # fmt: skip


class NotAnImporter:
    """Registered by mistake: has no `read`."""
