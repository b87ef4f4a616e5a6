"""Installs the test plugin as a real distribution (dist-info with entry points) in a folder."""

from __future__ import annotations

import shutil
from pathlib import Path

SOURCES = tuple(
    Path(__file__).parent / "plugin_src" / name
    for name in (
        "gpucost_testplugin.py",
        "gpucost_testplugin_specs.py",
        "gpucost_testplugin_importer.py",
    )
)


def install_test_plugin(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for source in SOURCES:
        shutil.copy(source, target / source.name)
    info = target / "gpucost_testplugin-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: gpucost-testplugin\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(
        "[gpucost.workloads]\n"
        "noop = gpucost_testplugin:NoopWorkload\n"
        "flaky = gpucost_testplugin:FlakyWorkload\n"
        "sleepy = gpucost_testplugin:SleepyWorkload\n"
        "frames = gpucost_testplugin:FramesWorkload\n"
        "[gpucost.workload_specs]\n"
        "frames = gpucost_testplugin_specs:FRAMES\n"
        "[gpucost.importers]\n"
        "tinybench = gpucost_testplugin_importer:TinyBenchImporter\n"
        "notimporter = gpucost_testplugin_importer:NotAnImporter\n"
    )
    return target
