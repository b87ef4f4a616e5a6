"""Installs the test plugin as a real distribution (dist-info with entry points) in a folder."""

from __future__ import annotations

import shutil
from pathlib import Path

SOURCE = Path(__file__).parent / "plugin_src" / "gpucost_testplugin.py"


def install_test_plugin(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(SOURCE, target / SOURCE.name)
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
    )
    return target
