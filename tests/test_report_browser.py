"""The HTML report as a browser shows it: at 1280×800 the first screen holds the answer table
and the caveats (a real headless Chromium; CI installs it, see .ci/run)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from tests.helpers_runs import text_row, write_run

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
WIDTH, HEIGHT = 1280, 800

# Run synchronously at the end of the body: layout is computed on demand, so the positions are
# those of the first paint; --dump-dom then prints them with the page.
PROBE = """<script>
(function () {
  var bottom = function (el) { return el ? el.getBoundingClientRect().bottom : null; };
  var table = document.querySelector("table");
  document.body.setAttribute("data-probe", JSON.stringify({
    table: bottom(table), caveats: bottom(document.getElementById("caveats")),
    height: window.innerHeight, caption: table ? table.caption.textContent : null,
    details: document.querySelectorAll("details:not([open])").length
  }));
})();
</script>"""


def _browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def _chromium(browser: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--window-size={WIDTH},{HEIGHT}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(
    _browser() is None and not os.environ.get("GPUCOST_REQUIRE_BROWSER"),
    reason="no chromium binary here (CI installs it and sets GPUCOST_REQUIRE_BROWSER)",
)
def test_first_screen_holds_the_answer_and_the_caveats(tmp_path: Path) -> None:
    browser = _browser()
    assert browser is not None, "GPUCOST_REQUIRE_BROWSER is set and no chromium is installed"
    run = write_run(tmp_path / "results", [text_row(1, 0.5, gpu_name=None),
                                           text_row(8, 2.0, gpu_name=None)], gpu_name=None)  # fmt: skip
    page = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", str(run), "-o", str(page)])
    assert result.exit_code == 0, result.output
    html = page.read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = _chromium(browser, "--dump-dom", probed.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'data-probe="([^"]*)"', done.stdout)
    assert found, done.stdout[:2000]
    probe = json.loads(found.group(1).replace("&quot;", '"'))
    assert probe["caption"].startswith("Cheapest instance and plan per workload")
    assert probe["caveats"] is not None and probe["caveats"] <= probe["height"]
    assert probe["table"] is not None and probe["table"] <= probe["height"]
    assert probe["details"] >= 2  # the per-workload details and the settings are folded
    shot = tmp_path / "first-screen.png"
    done = _chromium(browser, f"--screenshot={shot}", page.as_uri())
    assert done.returncode == 0 and shot.read_bytes().startswith(b"\x89PNG"), done.stderr[-2000:]
    keep = os.environ.get("GPUCOST_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / shot.name)
