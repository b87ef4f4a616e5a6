"""Hostile inputs against pricing of tampered run folders, `import`, `sweep plan` and the SkyPilot
catalog import, each case sorted by what gpucost did with it.

    PYTHONPATH=. python scripts/hostile_inputs.py            # counts per surface and outcome
    PYTHONPATH=. python scripts/hostile_inputs.py -v         # and every case that went wrong

Outcome classes: clean error (non-zero exit, one line, no traceback), handled right (exit 0 and
the result checks out), traceback, silent wrong (exit 0 with a result that is not true, or an
import `price` then refuses), hang (no answer in 60 s), data lost (an earlier file changed or
gone), leak (a planted secret in output or in a written file). The cases are generated from
the results schema, the shipped import samples and a small catalog; a case's expectation is
"refuse" (must end in a clean error), "accept" (must be handled right) or "either" (a field
gpucost may ignore: anything but the last five classes).
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import signal
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness.cli import main  # noqa: E402
from harness.results.schema import COLUMNS  # noqa: E402
from tests.helpers_runs import TEST_CARD, text_row, write_run  # noqa: E402

IMPORTS = REPO / "tests" / "data" / "imports"
SECRET = "s3cr3t-Pa55"
TIMEOUT_S = 60
CLASSES = ("clean error", "handled right", "traceback", "silent wrong", "hang", "data lost",
           "leak")  # fmt: skip


@dataclass
class Case:
    surface: str
    name: str
    args: list[str]
    expect: str  # refuse | accept | either
    check: Callable[[Any], str | None] | None = None
    """After exit 0: None when right, else what is wrong (silent wrong)."""
    guard: Callable[[], str | None] | None = None
    """After any exit: None, or "data lost: ..." when an earlier file was harmed."""
    scan: list[Path] = field(default_factory=list)
    """Folders whose files must not hold SECRET afterwards."""


class Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise Timeout


def classify(case: Case) -> tuple[str, str]:
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT_S)
    try:
        result = CliRunner().invoke(main, case.args)
    except Timeout:
        return "hang", "no answer"
    finally:
        signal.alarm(0)
    output = result.output
    if isinstance(result.exception, Timeout):
        return "hang", "no answer"
    if SECRET in output or any(
        SECRET in p.read_text(errors="replace")
        for folder in case.scan if folder.exists()
        for p in folder.rglob("*") if p.is_file() and p.suffix != ".whl"
    ):  # fmt: skip
        return "leak", "the secret is in the output or a written file"
    if case.guard is not None:
        harm = case.guard()
        if harm:
            return "data lost", harm
    if (result.exception is not None and not isinstance(result.exception, SystemExit)) or (
        "Traceback" in output
    ):
        return "traceback", repr(result.exception)[:200]
    if result.exit_code != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        if result.exit_code == 2 and lines and lines[0].startswith("Usage: ") and lines[
            -1].startswith("Error: "):
            lines = lines[-1:]  # click's own usage error: the line that says what is wrong
        if len(lines) == 1 and lines[0].startswith("Error: "):
            if case.expect == "accept":
                return "silent wrong", f"refused a sound input: {lines[0][:160]}"
            return "clean error", lines[0][:160]
        return "traceback", f"exit {result.exit_code}, {len(lines)} lines: {output[-200:]}"
    if case.expect == "refuse":
        return "silent wrong", f"accepted: {output.strip()[-160:]}"
    if case.check is not None:
        try:
            wrong = case.check(result)
        except Exception as err:  # what was written cannot be read back
            wrong = f"its output cannot be read back: {str(err)[:160]}"
        if wrong:
            return "silent wrong", wrong
    return "handled right", ""


# -- item 8: tampered run folders through price -------------------------------------------------


def _endpoint_row(**values: Any) -> dict[str, Any]:
    base = dict(engine="endpoint", concurrency=8, window_s=10.0, gpus_used=1, ttft_s_p50=0.1,
                ttft_s_p90=0.2, ttft_s_p99=0.3, error_count=0, error_rate=0.0,
                slo="ttft_p99=0.5", slo_met=True, cost_factor_low=0.9, cost_factor_high=1.1)  # fmt: skip
    return {**text_row(8, 0.5, **base), **values}


def _priced_sanely(result: Any) -> str | None:
    text = result.output
    if "$-" in text or "$nan" in text.lower() or "$inf" in text.lower():
        return "a negative or not-a-number price in the table"
    return None


def results_cases(root: Path, card: Path) -> Iterator[Case]:
    skip = {"run_id", "workload", "status", "batch_size", "wall_s_p50"}
    for column in COLUMNS:
        if column.name in skip or column.kind == "text":
            continue
        values: list[tuple[Any, str]] = []
        if column.kind == "bool":
            values = [("maybe", "refuse"), ("2", "refuse"), ("yes", "refuse"), ("true", "accept")]
        else:
            values = [("abc", "refuse"), ("nan", "refuse"), ("inf", "refuse"), ("-inf", "refuse")]
            if column.low is not None:
                values.append((column.low - 1.5, "refuse"))
            if column.low_open:
                values.append((column.low, "refuse"))
            if column.high is not None:
                values.append((column.high + 1, "refuse"))
            if column.kind == "int":
                values.append((2.5, "refuse"))
        for value, expect in values:
            row = _endpoint_row(**{column.name: value})
            if column.name in ("ttft_s_p50", "ttft_s_p90") and expect == "accept":
                continue
            folder = write_run(root / f"{column.name}-{len(list(root.glob('*')))}", [row])
            yield Case("results", f"{column.name}={value!r}", ["price", str(folder),
                       "--ratecard", str(card), "--instance", "test:eight"], expect,
                       check=_priced_sanely)  # fmt: skip
    specials = [
        ("ttft_s_p99 above the SLO but slo_met true", {"ttft_s_p99": 50}, "refuse"),
        ("error_rate 0.5 but slo_met true", {"error_rate": 0.5}, "refuse"),
        ("cost_factor_low above high", {"cost_factor_low": 4.0}, "refuse"),
        ("p50 above p99", {"ttft_s_p50": 0.9}, "refuse"),
        ("slo text unreadable", {"slo": "foo=1"}, "refuse"),
        ("sound row", {}, "accept"),
    ]
    for name, values, expect in specials:
        folder = write_run(root / f"special-{len(list(root.glob('*')))}", [_endpoint_row(**values)])
        yield Case("results", name, ["price", str(folder), "--ratecard", str(card),
                   "--instance", "test:eight"], expect, check=_priced_sanely)  # fmt: skip
    folder = write_run(root / "oversized", [_endpoint_row(gpus_used=9)])

    def noted(result: Any) -> str | None:
        return None if "not priced" in result.output else "a 9-GPU level dropped without a note"

    yield Case("results", "gpus_used 9 on an 8-GPU instance", ["price", str(folder), "--ratecard",
               str(card), "--instance", "test:eight"], "accept", check=noted)  # fmt: skip


# -- item 9: tampered import files --------------------------------------------------------------

HOSTILE_NUMBERS: list[tuple[Any, str]] = [
    (1e300, "hostile"), (-1, "hostile"), ("abc", "hostile"), ([1], "hostile"), ({}, "hostile"),
    (True, "hostile"), (None, "maybe"), (0.5, "maybe"),
]  # fmt: skip


def _numeric_paths(document: Any, prefix: tuple = ()) -> Iterator[tuple]:
    if isinstance(document, dict):
        for key, value in document.items():
            yield from _numeric_paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document[:1]):
            yield from _numeric_paths(value, (*prefix, index))
    elif isinstance(document, (int, float)) and not isinstance(document, bool):
        yield prefix


def _set(document: Any, path: tuple, value: Any) -> Any:
    changed = copy.deepcopy(document)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


def _imported_then_priced(out: Path) -> Callable[[Any], str | None]:
    def check(result: Any) -> str | None:
        run = result.stdout.strip().splitlines()[-1]
        priced = CliRunner().invoke(main, ["price", run])
        if priced.exit_code != 0 and "no ok rows" in priced.output and "[error:" in result.output:
            return None  # the import said the level failed, and why
        if priced.exit_code != 0:
            return f"imported, then price refuses it: {priced.output.strip()[:160]}"
        return _priced_sanely(priced)

    return check


def import_cases(root: Path, per_file: int) -> Iterator[Case]:
    samples = [("aiperf", "aiperf_concurrency4.json"), ("guidellm", "guidellm_concurrent_1_4.json"),
               ("vllm", "vllm_concurrency2_detailed.json")]  # fmt: skip
    for tool, name in samples:
        document = json.loads((IMPORTS / name).read_text(encoding="utf-8"))
        paths = [p for p in _numeric_paths(document) if "requests" not in p[:2]][:per_file]
        for path in paths:
            for value, _ in HOSTILE_NUMBERS:
                folder = root / f"{tool}-{len(list(root.glob('*')))}"
                folder.mkdir()
                source = folder / name
                source.write_text(json.dumps(_set(document, path, value)), encoding="utf-8")
                out = folder / "runs"
                yield Case("import", f"{tool} {'.'.join(map(str, path))}={value!r}",
                           ["import", tool, str(source), "--gpu", "H100-SXM-80GB",
                            "--gpus-used", "1", "--out", str(out)], "either",
                           check=_imported_then_priced(out))  # fmt: skip
    for gpus in ("0", "-1", "1000000000", "1e3", "abc"):
        yield Case("import", f"--gpus-used {gpus}", ["import", "vllm",
                   str(IMPORTS / "vllm_rates_2_8.json"), "--gpu", "L4", "--gpus-used", gpus,
                   "--out", str(root / "g")], "refuse")  # fmt: skip
    for what, data in (("empty", b""), ("binary", b"\xff\xfe\x00"), ("nested", b"[" * 100000),
                       ("a list", b"[1,2]"), ("a number", b"42")):  # fmt: skip
        for tool in ("aiperf", "guidellm", "vllm"):
            path = root / f"{tool}-{what}.json"
            path.write_bytes(data)
            yield Case("import", f"{tool} {what}", ["import", tool, str(path), "--gpu", "L4",
                       "--gpus-used", "1", "--out", str(root / "x")], "refuse")  # fmt: skip


# -- item 10: sweep plans --------------------------------------------------------------------------


def sweep_cases(root: Path) -> Iterator[Case]:
    bad_run_options = [
        ["-b", "0"], ["-b", "-3"], ["-b", "abc"], ["-w", "nosuch"], ["--slo", "foo=1"],
        ["--slo", "ttft_p99=-1"], ["--min-duration", "-5"], ["--min-duration", "nan"],
        ["-p", "nosuch"], ["--dtype", "fp7"], ["--threads", "0"], ["--device", "tpu"],
        ["-o", "nosuch=1"], ["--help"], ["--iterations", "0"], ["--warmup", "-1"],
        ["--out", "x"], ["--out=x"], ["--endpoint", f"http://alice:{SECRET}@h/v1"],
        ["--endpoint", f"https://{SECRET}@h:8000/v1"], ["--nosuch-option"],
    ]  # fmt: skip
    for number, options in enumerate(bad_run_options):
        out = root / f"bad-{number}"
        yield Case("sweep", f"run options {' '.join(options)}", ["sweep", "plan", "--instances",
                   "aws:g6e.xlarge", "--install", "gpucost==0.1.0", "-o", str(out), "--",
                   "-w", "text", "-p", "tiny", *options], "refuse", scan=[out])  # fmt: skip
    for hours in ("nan", "inf", "-inf", "1e308", "-1", "0", "721", "abc"):
        out = root / f"hours-{hours}"
        yield Case("sweep", f"--expected-hours {hours}", ["sweep", "plan", "--instances",
                   "aws:g6e.xlarge", "--expected-hours", hours, "--install", "x", "-o", str(out),
                   "--", "-w", "text", "-p", "tiny"], "refuse")  # fmt: skip
    for spec in ("", "--index-url=http://evil", "a\nb", " "):
        yield Case("sweep", f"--install {spec!r}", ["sweep", "plan", "--instances",
                   "aws:g6e.xlarge", "--install", spec, "-o", str(root / "i"), "--", "-w",
                   "text", "-p", "tiny"], "refuse")  # fmt: skip
    for instances in ("aws:nope", "nope", ":", "aws:", ",,", "AWS:NOPE"):
        yield Case("sweep", f"--instances {instances!r}", ["sweep", "plan", "--instances",
                   instances, "--install", "x", "-o", str(root / "n"), "--", "-w", "text"],
                   "refuse")  # fmt: skip
    spellings = "aws:g6e.xlarge,aws:g6e-xlarge,AWS:G6E.XLARGE,aws:G6E_XLARGE"
    out = root / "spellings"

    def one_task(result: Any) -> str | None:
        tasks = list(out.glob("*.yaml"))
        return None if len(tasks) == 1 else f"{len(tasks)} task files for one instance"

    yield Case("sweep", "four spellings of one instance", ["sweep", "plan", "--instances",
               spellings, "--install", "x", "-o", str(out), "--", "-w", "text", "-p", "tiny"],
               "accept", check=one_task)  # fmt: skip
    launched = root / "launched"
    launched.mkdir()
    (launched / "sweep-state.json").write_text('{"gpucost-aws-g6e-xlarge": {"job_id": 7}}')

    def state_kept() -> str | None:
        text = (launched / "sweep-state.json").read_text()
        return None if '"job_id": 7' in text else "a launched sweep's state was overwritten"

    yield Case("sweep", "plan over a launched sweep", ["sweep", "plan", "--instances",
               "aws:g6e.xlarge", "--install", "x", "-o", str(launched), "--", "-w", "text"],
               "refuse", guard=state_kept)  # fmt: skip
    yield Case("sweep", "old name gpucost fleet", ["fleet", "plan"], "refuse")


# -- item 11: SkyPilot catalogs ------------------------------------------------------------------

CATALOG_HEADER = ["InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs", "MemoryGiB",
                  "Price", "Region", "GpuInfo", "SpotPrice"]  # fmt: skip
GOOD_ROW = ["gpu_1x_h100_pcie", "H100", "1.0", "26.0", "200.0", "2.49", "us-east-1",
            "{'Gpus': [{'MemoryInfo': {'SizeInMiB': 81559}}]}", ""]  # fmt: skip


def _write_catalog(folder: Path, rows: list[list[str]], cloud: str = "lambda") -> Path:
    (folder / cloud).mkdir(parents=True, exist_ok=True)
    with (folder / cloud / "vms.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CATALOG_HEADER)
        writer.writerows(rows)
    return folder


def catalog_cases(root: Path) -> Iterator[Case]:
    hostile = ["abc", "0", "-1", "1e-300", "1e999", "nan", "inf", "1e9", "1.5", "", " 2 ", "0x10"]
    columns = {"AcceleratorCount": 2, "vCPUs": 3, "MemoryGiB": 4, "Price": 5, "SpotPrice": 8}
    for column, index in columns.items():
        for value in hostile:
            row = [*GOOD_ROW]
            row[0] = "gpu_2x_h100_pcie"
            row[index] = value
            folder = _write_catalog(root / f"{column}-{len(list(root.glob('*')))}", [GOOD_ROW, row])
            out = folder / "card.yaml"

            def check(result: Any, out: Path = out, value: str = value,
                      column: str = column) -> str | None:  # fmt: skip
                from harness.money.inputs import load_card_file

                _, instances = load_card_file(out)
                names = {i.name for i in instances}
                listed = "gpu_2x_h100_pcie:" in result.stderr
                if "gpu_2x_h100_pcie" not in names and not listed:
                    return "the row vanished without being listed"
                for i in instances:
                    for price in i.prices_per_hour_usd.values():
                        if not 0.001 <= price <= 10_000:
                            return f"price {price} imported"
                    if not 0 <= i.gpu_count <= 64 or not math.isfinite(i.vcpus):
                        return f"gpu_count {i.gpu_count} / vcpus {i.vcpus} imported"
                return None

            yield Case("catalog", f"{column}={value!r}", ["ratecards", "import", "skypilot",
                       "--catalog-dir", str(folder), "--as-of", "2026-12-01", "-o", str(out)],
                       "either", check=check)  # fmt: skip
    for name, row in (
        ("newline in name", ["gpu\nx", *GOOD_ROW[1:]]), ("tab in region", [*GOOD_ROW[:6], "us\teast", *GOOD_ROW[7:]]),
        ("NUL in accelerator", [GOOD_ROW[0], "H1\x0000", *GOOD_ROW[2:]]),
        ("GpuInfo SizeInMiB 1e999", [*GOOD_ROW[:7], "{'Gpus': [{'MemoryInfo': {'SizeInMiB': 1e999}}]}", ""]),
        ("GpuInfo nested deep", [*GOOD_ROW[:7], "{" * 5000, ""]),
    ):  # fmt: skip
        folder = _write_catalog(root / f"name-{len(list(root.glob('*')))}", [GOOD_ROW, row])
        out = folder / "card.yaml"
        yield Case("catalog", name, ["ratecards", "import", "skypilot", "--catalog-dir",
                   str(folder), "--as-of", "2026-12-01", "-o", str(out)], "either",
                   check=lambda r, out=out: None if "\n" not in "".join(
                       i.name for i in __import__("harness.money.inputs", fromlist=["x"])
                       .load_card_file(out)[1]) else "a newline in an imported name")  # fmt: skip
    upper = _write_catalog(root / "upper", [GOOD_ROW], cloud="LAMBDA")
    out = upper / "card.yaml"

    def lower_provider(result: Any, out: Path = out) -> str | None:
        from harness.money.inputs import load_card_file

        return None if load_card_file(out)[0].provider == "lambda" else "provider kept as LAMBDA"

    yield Case("catalog", "folder LAMBDA", ["ratecards", "import", "skypilot", "--catalog-dir",
               str(upper), "--as-of", "2026-12-01", "-o", str(out)], "accept",
               check=lower_provider)  # fmt: skip
    both = _write_catalog(_write_catalog(root / "both", [GOOD_ROW]), [GOOD_ROW], cloud="gcp")
    yield Case("catalog", "two clouds into x.yaml", ["ratecards", "import", "skypilot",
               "--catalog-dir", str(both), "--cloud", "lambda,gcp", "-o", str(both / "x.yaml")],
               "refuse")  # fmt: skip
    broken = _write_catalog(root / "broken", [GOOD_ROW])
    (broken / "gcp").mkdir()
    (broken / "gcp" / "vms.csv").write_text("Name,Cost\nx,1\n")
    cards = root / "cards"
    cards.mkdir()
    (cards / "lambda.yaml").write_text("# an earlier card\n")

    def earlier_kept() -> str | None:
        text = (cards / "lambda.yaml").read_text()
        return None if text == "# an earlier card\n" else "a failed import replaced a card"

    yield Case("catalog", "one cloud fails after another", ["ratecards", "import", "skypilot",
               "--catalog-dir", str(broken), "--cloud", "lambda,gcp", "-o", str(cards)],
               "refuse", guard=earlier_kept)  # fmt: skip
    for what, data in (("empty", b""), ("binary", b"\xff\xfe\x00"), ("header only",
                       ",".join(CATALOG_HEADER).encode()), ("wrong columns", b"a,b\n1,2\n")):  # fmt: skip
        folder = root / f"file-{what.replace(' ', '-')}"
        (folder / "lambda").mkdir(parents=True)
        (folder / "lambda" / "vms.csv").write_bytes(data)
        yield Case("catalog", f"vms.csv {what}", ["ratecards", "import", "skypilot",
                   "--catalog-dir", str(folder), "-o", str(folder / "c.yaml")], "refuse")  # fmt: skip


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--per-file", type=int, default=15,
                        help="numeric fields tampered per import sample")  # fmt: skip
    args = parser.parse_args()
    counts: dict[str, Counter] = {}
    wrong: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        card = root / "test.yaml"
        card.write_text(TEST_CARD, encoding="utf-8")
        generators = [
            lambda: results_cases(root / "results", card),
            lambda: import_cases(root / "imports", args.per_file),
            lambda: sweep_cases(root / "sweeps"),
            lambda: catalog_cases(root / "catalogs"),
        ]
        for folder in ("results", "imports", "sweeps", "catalogs"):
            (root / folder).mkdir()
        for make in generators:
            for case in make():
                outcome, detail = classify(case)
                counts.setdefault(case.surface, Counter())[outcome] += 1
                if outcome not in ("clean error", "handled right"):
                    wrong.append(f"[{outcome}] {case.surface}: {case.name}: {detail}")
                elif args.verbose:
                    print(f"[{outcome}] {case.surface}: {case.name}: {detail}")
    total = Counter()
    for surface, counter in counts.items():
        total.update(counter)
        print(f"{surface:8} {sum(counter.values()):4} cases: "
              + ", ".join(f"{c} {counter[c]}" for c in CLASSES if counter[c]))
    print(f"{'all':8} {sum(total.values()):4} cases: "
          + ", ".join(f"{c} {total[c]}" for c in CLASSES))
    for line in wrong:
        print(line)


if __name__ == "__main__":
    main_()
