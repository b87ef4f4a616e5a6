"""`gpucost report`: HTML and Markdown from hand-made runs and from a real tiny CPU run."""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.report.plots import throttled_spans
from tests.report_helpers import gpu_samples, text_row, write_run

EVIL = "<script>alert(1)</script>"
REPO = Path(__file__).resolve().parent.parent


class _Page(HTMLParser):
    """Start tags and text of a page, as a browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)

    def handle_data(self, data) -> None:
        self.text.append(data)


def _parse(path: Path) -> tuple[str, _Page]:
    raw = path.read_text(encoding="utf-8")
    page = _Page()
    page.feed(raw)
    page.close()
    return raw, page


def _report(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["report", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture()
def gpu_run(tmp_path: Path) -> Path:
    rows = [text_row(b, 0.05 * (1 + b / 8), energy_j=20.0 * b, model=EVIL) for b in (1, 8, 32)]
    rows.append(text_row(64, 0.0, status="oom", model=EVIL))
    return write_run(tmp_path, "gpu-run", rows, samples=gpu_samples(), hostname=f"host{EVIL}")


@pytest.fixture(scope="module")
def cpu_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real tiny text run on the CPU, shared by this module's tests."""
    out = tmp_path_factory.mktemp("cpu-run")
    args = [
        "run",
        "--workload",
        "text",
        "--preset",
        "tiny",
        "--batch-sizes",
        "1,2",
        "--iterations",
        "2",
        "--warmup",
        "1",
        "--out",
        str(out),
    ]
    with pytest.MonkeyPatch.context() as env:  # the per-test isolation is not active here yet
        env.setenv("GPUCOST_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return folder


def test_html_report_is_self_contained_and_escaped(gpu_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    code, stdout, stderr = _report(str(gpu_run), "-o", str(out))
    assert code == 0, stderr
    assert "wrote" in stdout
    raw, page = _parse(out)
    # latency, TTFT/TPOT, energy, efficiency, cost, margin, cost-interactivity frontier, timeline
    assert page.tags.count("img") == 8
    # answer, measurements, cheapest per batch, margins, Pareto points, machine, settings
    assert page.tags.count("table") == 7
    assert "Pareto-optimal" in raw
    assert "http://" not in raw and "https://" not in raw
    assert "script" not in page.tags
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw and EVIL not in raw
    text = " ".join(page.text)
    assert EVIL in text  # shown to the reader as text
    assert "oom" in text and "CUDA out of memory" in text
    assert "H100-SXM-80GB" in text and "GPT-4o-mini" in text


class _Outline(HTMLParser):
    """Headings and table captions in page order, as (tag, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple[str, str]] = []
        self._open: str | None = None
        self._cells: list[str] | None = None
        self.first_table: list[list[str]] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag in {"h2", "h3", "caption"}:
            self._open, self._text = tag, ""
        if tag == "tr" and len([t for t, _ in self.items if t == "caption"]) == 1:
            self._cells = []
        if tag == "td" and self._cells is not None:
            self._cells.append("")

    def handle_endtag(self, tag) -> None:
        if tag == self._open:
            self.items.append((tag, self._text.strip()))
            self._open = None
        if tag == "tr" and self._cells is not None:
            if self._cells:
                self.first_table.append(self._cells)
            self._cells = None

    def handle_data(self, data) -> None:
        if self._open:
            self._text += data
        elif self._cells:
            self._cells[-1] += data


def test_html_report_opens_with_the_answer_and_ends_with_metadata(
    gpu_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    code, _, stderr = _report(str(gpu_run), "-o", str(out), "--price", "text.output_token=0.6/1M")
    assert code == 0, stderr
    outline = _Outline()
    outline.feed(out.read_text(encoding="utf-8"))
    sections = [text for tag, text in outline.items if tag == "h2"]
    captions = [text for tag, text in outline.items if tag == "caption"]
    assert sections[0] == "Answer"  # the run id is in the title, once
    assert sections[-1] == "Machine and settings"
    assert captions[0].startswith("Cheapest instance and plan per workload")
    assert captions[-2:] == ["Machine", "Settings"]
    # The answer row of the given price: cheapest choice, its cost, margin and break-even.
    rows = {(r[0], r[1], r[5]): r for r in outline.first_table}
    row = rows[("text", "1M output tokens", "--price")]
    assert row[4] == row[8] and row[4].startswith("$")  # break-even is the cost per unit
    assert row[6] == "$0.60" and row[7].endswith("%")
    assert ("text", "1M input tokens", "GPT-4o-mini") in rows  # the market price stays
    # Same numbers as the per-batch margin table: the answer's batch size is the cheapest one.
    margins = out.read_text(encoding="utf-8").split("Gross margin at candidate prices")[1]
    assert f"<td>{row[3]}</td><td>--price</td><td>$0.60</td><td>{row[7]}</td>" in margins


def test_markdown_report_writes_its_plots_beside_it(gpu_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    code, _, stderr = _report(str(gpu_run), "-o", str(out), "--price", "text.output_token=0.6/1M")
    assert code == 0, stderr
    text = out.read_text(encoding="utf-8")
    pngs = sorted((tmp_path / "report_files").glob("*.png"))
    assert len(pngs) == 8  # the HTML page's figures, the frontier included
    for png in pngs:
        assert png.read_bytes().startswith(b"\x89PNG")
        assert f"](report_files/{png.name})" in text
    assert EVIL not in text and "&lt;script&gt;" in text
    # The given price replaces the market price of its unit; other units keep theirs.
    assert "| 1M output tokens | 1 | --price | $0.60 |" in text
    assert "| 1M output tokens | 1 | GPT-4o-mini" not in text
    assert "| 1M input tokens | 1 | GPT-4o-mini |" in text


def test_cpu_run_report_says_what_was_not_measured(cpu_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "cpu.html"
    code, _, stderr = _report(str(cpu_run), "-o", str(out))
    assert code == 0, stderr
    _, page = _parse(out)
    text = " ".join(page.text)
    assert "Energy per unit: not measured" in text
    assert "samples.csv has no rows" in text
    assert "MFU/MBU: empty (measured on a CPU)" in text
    # latency, TTFT/TPOT, cost, margin, frontier: no empty energy, efficiency or timeline plots
    assert page.tags.count("img") == 5
    assert "aws:c7i.xlarge" in text  # CPU runs are priced on CPU-only instances


def test_gpu_option_prices_a_run_as_another_gpu(cpu_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "as-l4.md"
    code, _, stderr = _report(str(cpu_run), "-o", str(out), "--gpu", "L4", "--plan", "on_demand")
    assert code == 0, stderr
    text = out.read_text(encoding="utf-8")
    assert "cost per unit vs batch size on L4" in text
    assert "gcp:g2-standard-4 on_demand" in text and "c7i" not in text
    code, _, stderr = _report(str(cpu_run), "-o", str(out), "--gpu", "Z9000")
    assert code != 0 and "--gpu 'Z9000': unknown GPU" in stderr


def test_bad_output_paths_fail_cleanly(gpu_run: Path, tmp_path: Path) -> None:
    code, _, stderr = _report(str(gpu_run), "-o", str(tmp_path / "report.pdf"))
    assert code != 0 and stderr.strip() == (
        f"Error: -o {tmp_path / 'report.pdf'}: unknown report format '.pdf' (use .html or .md)"
    )
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, _, stderr = _report(str(gpu_run), "-o", str(blocker / "report.html"))
    assert code != 0 and "does not exist" in stderr and len(stderr.strip().splitlines()) == 1


def test_a_failed_report_keeps_the_previous_one(gpu_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    out.write_text("<p>the previous report</p>", encoding="utf-8")
    before = out.read_bytes()
    code, _, stderr = _report(str(tmp_path / "no-such-run"), "-o", str(out))
    assert code != 0 and "no such run folder" in stderr
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_report_and_compare_do_not_import_torch(tmp_path: Path) -> None:
    gpu_run = write_run(tmp_path, "small", [text_row(1, 0.05)])
    code = (
        "import sys\n"
        "from harness.cli import main\n"
        f"main(['report', {str(gpu_run)!r}, '-o', {str(tmp_path / 'r.html')!r}],"
        " standalone_mode=False)\n"
        f"main(['compare', {str(gpu_run)!r}, '--format', 'csv'], standalone_mode=False)\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'diffusers') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout
    assert (tmp_path / "r.html").is_file()


def test_throttled_spans_run_to_the_next_sample() -> None:
    t = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert throttled_spans(t, [False, True, True, False, "True", float("nan")]) == [
        (0.1, 0.3),
        (0.4, 0.5),
    ]
    assert throttled_spans(t, [False] * 6) == []
    assert throttled_spans([0.0, 1.0], [True, True]) == [(0.0, 1.0)]


def test_market_prices_from_a_ratecard_file_are_used(gpu_run: Path, tmp_path: Path) -> None:
    market = tmp_path / "my-market.yaml"
    market.write_text(
        "currency: USD\nas_of: 2026-11-01\nsource: our own price list\nprices:\n"
        "  - {unit: text.output_token, price: 0.90, per: 1M, product: OurPlan, default: true,\n"
        "     source: our price list, date: 2026-11-01}\n",
        encoding="utf-8",
    )
    out = tmp_path / "report.html"
    code, _, stderr = _report(str(gpu_run), "-o", str(out), "--ratecard", str(market))
    assert code == 0, stderr
    assert "OurPlan" in " ".join(_parse(out)[1].text)


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (4e-4, 3e-3, ["0.0005", "0.001", "0.002"]),  # under a decade: 1-2-5, minor ticks unlabelled
        (2e-7, 5e-2, ["1e-06", "1e-05", "0.0001", "0.001", "0.01"]),  # wide: decades only
    ],
)
def test_log_axes_label_few_ticks_that_do_not_crowd(low, high, expected) -> None:
    from harness.report.plots import _log_axis, _new_figure

    ax = _new_figure(4, 3).subplots()
    ax.plot([low, high], [low, high])
    ax.set_yscale("log")
    ax.set_ylim(low, high)
    _log_axis(ax.yaxis, low, high)
    ticks = [t for t in ax.yaxis.get_majorticklocs() if low <= t <= high]
    labels = [ax.yaxis.get_major_formatter()(t) for t in ticks]
    assert labels == expected
    assert list(ax.yaxis.get_minorticklocs()) == []
