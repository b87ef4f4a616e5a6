"""Bills as they really come: the FinOps Foundation's FOCUS sample and a real anonymised CUR,
cost bases (amortised Savings Plans), charges spread over periods, every container format, and
mixed providers."""

from __future__ import annotations

import csv
import gzip
import math
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from harness.errors import BadInput
from harness.reconcile.bill_formats import UNUSED_COMMITMENT
from harness.reconcile.bills import read_bills
from harness.reconcile.periods import iso_utc

BILLS = Path(__file__).resolve().parents[2] / "shared" / "data" / "bills"
if not BILLS.is_dir():
    BILLS = Path("/work/shared/data/bills")
FOCUS_SAMPLE = BILLS / "focus_sample.csv"
CUR_SAMPLE = BILLS / "aws_cur_anon_focus_converters.csv"
needs_samples = pytest.mark.skipif(
    not FOCUS_SAMPLE.is_file(), reason="the public bill samples are not in this checkout"
)


def per_day(result) -> dict[tuple[str, str], float]:
    return {
        (iso_utc(int(s))[:10], str(i)): round(float(c), 9)
        for s, i, c in zip(
            result.costs["period_start_ns"],
            result.costs["instance"],
            result.costs["cost_usd"],
            strict=True,
        )
    }


def prorated_by_day(frame: pd.DataFrame, start: str, end: str, cost: str) -> pd.Series:
    """The expected daily totals, written out: each row's cost shared over the UTC days its
    [start, end) covers, in proportion to the time in each."""
    out: dict[pd.Timestamp, float] = {}
    for s_text, e_text, value in zip(frame[start], frame[end], frame[cost], strict=True):
        s = (
            pd.Timestamp(s_text, tz="UTC")
            if pd.Timestamp(s_text).tz is None
            else pd.Timestamp(s_text)
        )
        e = (
            pd.Timestamp(e_text, tz="UTC")
            if pd.Timestamp(e_text).tz is None
            else pd.Timestamp(e_text)
        )
        s, e = s.tz_convert("UTC"), e.tz_convert("UTC")
        day = s.floor("D")
        if e <= s or (e - pd.Timedelta(microseconds=1)).floor("D") == day:
            out[day] = out.get(day, 0.0) + value
            continue
        while day < e:
            nxt = day + pd.Timedelta(days=1)
            share = (min(e, nxt) - max(s, day)) / (e - s)
            out[day] = out.get(day, 0.0) + value * share
            day = nxt
    return pd.Series(out).sort_index()


def daily_totals(result) -> pd.Series:
    by_day = result.costs.groupby("period_start_ns")["cost_usd"].sum()
    by_day.index = pd.to_datetime(by_day.index, unit="ns", utc=True)
    return by_day.sort_index()


@needs_samples
@pytest.mark.parametrize(
    ("basis", "column"), [("amortized", "EffectiveCost"), ("billed", "BilledCost")]
)
def test_focus_sample_days_and_charge_categories_match_pandas(basis: str, column: str) -> None:
    frame = pd.read_csv(FOCUS_SAMPLE, dtype=str, keep_default_na=False)
    frame[column] = frame[column].astype(float)
    result = read_bills([FOCUS_SAMPLE], "day", cost_basis=basis)
    assert result.rows_read == len(frame) == 1000
    assert math.isclose(result.costs["cost_usd"].sum(), frame[column].sum(), abs_tol=1e-9)
    expected = prorated_by_day(frame, "ChargePeriodStart", "ChargePeriodEnd", column)
    got = daily_totals(result)
    assert list(got.index) == list(expected.index)
    assert got.to_numpy() == pytest.approx(expected.to_numpy(), abs=1e-9)
    # Credits and adjustments are their own groups, per provider, never inside an instance.
    for category in ("Credit", "Adjustment"):
        rows = frame[frame["ChargeCategory"] == category]
        groups = result.costs[result.costs["instance"].str.endswith(f"({category.lower()})")]
        assert math.isclose(groups["cost_usd"].sum(), rows[column].sum(), abs_tol=1e-12)
        assert groups["line_items"].sum() == len(rows)
    assert any("mix providers" in note for note in result.notes)
    assert result.sources == (f"FOCUS: {column}",)


@needs_samples
def test_focus_sample_instance_types_come_from_the_description_and_providers_stay_apart() -> None:
    result = read_bills([FOCUS_SAMPLE], "month", cost_basis="billed")
    names = set(result.costs["instance"])
    assert "AWS g5.4xlarge" in names  # only the ChargeDescription names it
    assert all(n.split(" ", 1)[0] in ("AWS", "Microsoft", "Oracle") for n in names)
    assert any("parsed from that text" in note for note in result.notes)
    assert "NULL" not in {n.split(" ", 1)[1] for n in names}


@needs_samples
def test_real_cur_monthly_tax_is_spread_over_the_month() -> None:
    frame = pd.read_csv(CUR_SAMPLE, dtype=str, keep_default_na=False)
    cost = frame["lineItem/UnblendedCost"].astype(float)
    tax = cost[frame["lineItem/LineItemType"] == "Tax"].sum()
    result = read_bills([CUR_SAMPLE], "day", cost_basis="unblended")
    assert math.isclose(result.costs["cost_usd"].sum(), cost.sum(), abs_tol=1e-9)
    assert math.isclose(cost.sum(), 1.6823, abs_tol=1e-4)
    taxes = result.costs[result.costs["instance"] == "(tax)"]
    assert len(taxes) == 30  # November: one row a day, 1/30 of the month's tax each
    assert taxes["cost_usd"].to_numpy() == pytest.approx([tax / 30] * 30)
    expected = prorated_by_day(
        frame.assign(c=cost), "lineItem/UsageStartDate", "lineItem/UsageEndDate", "c"
    )
    assert daily_totals(result).to_numpy() == pytest.approx(expected.to_numpy(), abs=1e-9)
    assert any("prorated" in note for note in result.notes)


SP_HEADER = [
    "lineItem/LineItemType",
    "lineItem/UsageStartDate",
    "lineItem/UsageEndDate",
    "lineItem/UnblendedCost",
    "lineItem/CurrencyCode",
    "lineItem/ResourceId",
    "product/instanceType",
    "savingsPlan/SavingsPlanEffectiveCost",
    "savingsPlan/TotalCommitmentToDate",
    "savingsPlan/UsedCommitment",
    "reservation/EffectiveCost",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
    "reservation/UnusedRecurringFee",
]


def savings_plan_rows() -> list[dict[str, str]]:
    """One hour of a CUR with a Savings Plan, as AWS documents the line items: covered usage
    at on-demand cost with its effective cost, a negation cancelling the on-demand cost on the
    same resource, the plan's recurring fee on no resource (commitment 3.00, of which 2.10
    used), a reserved instance's discounted usage and its RIFee, plain usage, and tax."""
    hour = ("2026-11-03T10:00:00Z", "2026-11-03T11:00:00Z")

    def row(kind: str, cost: str, resource: str = "", instance: str = "", **extra: str):
        base = dict.fromkeys(SP_HEADER, "")
        base.update(
            {
                "lineItem/LineItemType": kind,
                "lineItem/UsageStartDate": hour[0],
                "lineItem/UsageEndDate": hour[1],
                "lineItem/UnblendedCost": cost,
                "lineItem/CurrencyCode": "USD",
                "lineItem/ResourceId": resource,
                "product/instanceType": instance,
            }
        )
        base.update({f"savingsPlan/{k}": v for k, v in extra.items() if not k.startswith("ri_")})
        base.update({f"reservation/{k[3:]}": v for k, v in extra.items() if k.startswith("ri_")})
        return base

    return [
        row(
            "SavingsPlanCoveredUsage", "1.006", "i-1", "g5.xlarge", SavingsPlanEffectiveCost="0.70"
        ),
        row("SavingsPlanNegation", "-1.006", "i-1", "g5.xlarge"),
        row(
            "SavingsPlanCoveredUsage", "1.624", "i-2", "g5.2xlarge", SavingsPlanEffectiveCost="1.40"
        ),
        row("SavingsPlanNegation", "-1.624", "i-2", "g5.2xlarge"),
        row("SavingsPlanRecurringFee", "3.00", TotalCommitmentToDate="3.00", UsedCommitment="2.10"),
        row("DiscountedUsage", "0", "i-3", "g5.xlarge", ri_EffectiveCost="0.62"),
        row(
            "RIFee",
            "0.62",
            ri_UnusedAmortizedUpfrontFeeForBillingPeriod="0.05",
            ri_UnusedRecurringFee="0.07",
        ),
        row("Usage", "0.10", "vol-9"),
        row("Tax", "0.25"),
    ]


def write_rows(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_savings_plan_cur_amortised_per_instance_type(tmp_path: Path) -> None:
    rows = savings_plan_rows()
    bill = write_rows(tmp_path / "sp.csv", SP_HEADER, rows)
    amortised = read_bills([bill], "day")
    got = {
        i: round(c, 9)
        for i, c in zip(amortised.costs["instance"], amortised.costs["cost_usd"], strict=True)
    }
    # Written out from AWS's line-item semantics: covered usage at its effective cost, the
    # negation out, the unused part of the commitment apart, the RI at its effective cost.
    expected = {
        "g5.xlarge": 0.70 + 0.62,
        "g5.2xlarge": 1.40,
        UNUSED_COMMITMENT: (3.00 - 2.10) + (0.05 + 0.07),
        "vol-9": 0.10,
        "(tax)": 0.25,
    }
    assert got == pytest.approx(expected)
    unblended = read_bills([bill], "day", cost_basis="unblended")
    by_group = dict(zip(unblended.costs["instance"], unblended.costs["cost_usd"], strict=True))
    # Unblended: usage and negation cancel on the instance; the invoice's fees stand apart.
    assert by_group["g5.2xlarge"] == pytest.approx(0.0)
    assert by_group["(commitment fee)"] == pytest.approx(3.62)
    total = sum(float(r["lineItem/UnblendedCost"]) for r in rows)
    assert unblended.costs["cost_usd"].sum() == pytest.approx(total)
    assert amortised.cost_basis == "amortized" and unblended.cost_basis == "unblended"


def one_bill_everywhere(tmp_path: Path) -> dict[str, list[Path]]:
    source = write_rows(tmp_path / "sp.csv", SP_HEADER, savings_plan_rows())
    gz = tmp_path / "gz" / "sp.csv.gz"
    gz.parent.mkdir()
    gz.write_bytes(gzip.compress(source.read_bytes()))
    zipped = tmp_path / "sp.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.write(source, "export/sp.csv")
    parquet = tmp_path / "sp.parquet"
    import duckdb

    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * FROM read_csv('{source}', all_varchar = true)) TO '{parquet}' (FORMAT parquet)"
    )
    parts = tmp_path / "parts"
    parts.mkdir()
    rows = savings_plan_rows()
    write_rows(parts / "part-1.csv", SP_HEADER, rows[:4])
    write_rows(parts / "part-2.csv", SP_HEADER, rows[4:])
    shutil.copy(parquet, parts / "ignored.txt.bak")
    return {
        "csv": [source],
        "csv.gz": [gz],
        "zip": [zipped],
        "parquet": [parquet],
        "folder": [parts],
        "glob": [tmp_path / "parts" / "part-*.csv"],
    }


def test_the_same_bill_as_csv_gzip_zip_parquet_folder_and_glob_is_identical(tmp_path: Path) -> None:
    outputs = {
        kind: per_day(read_bills(paths, "day"))
        for kind, paths in one_bill_everywhere(tmp_path).items()
    }
    first = outputs.pop("csv")
    assert len(first) == 5
    for kind, got in outputs.items():
        assert got == first, kind


FOCUS_HEADER = [
    "ProviderName",
    "ChargeCategory",
    "ChargeClass",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BilledCost",
    "EffectiveCost",
    "BillingCurrency",
    "ResourceId",
    "x_InstanceType",
    "ChargeDescription",
]


def focus_row(**cells: str) -> dict[str, str]:
    row = dict.fromkeys(FOCUS_HEADER, "NULL")
    row.update(BillingCurrency="USD", ChargeCategory="Usage")
    row.update(cells)
    return row


def test_a_monthly_fee_shows_as_a_thirtieth_a_day(tmp_path: Path) -> None:
    rows = [
        focus_row(
            ProviderName="AWS",
            ChargeCategory="Purchase",
            ChargePeriodStart="2026-11-01T00:00:00Z",
            ChargePeriodEnd="2026-12-01T00:00:00Z",
            BilledCost="300",
            EffectiveCost="300",
            ChargeDescription="Business support, November",
        )
    ]
    bill = write_rows(tmp_path / "fee.csv", FOCUS_HEADER, rows)
    result = read_bills([bill], "day")
    assert len(result.costs) == 30
    assert set(result.costs["instance"]) == {"(purchase)"}
    assert result.costs["cost_usd"].to_numpy() == pytest.approx([10.0] * 30)
    weekly = read_bills([bill], "week")
    # Week of Mon 26 Oct holds Nov 1 (a Sunday): 1 day; the last week Nov 30: 1 day.
    assert weekly.costs["cost_usd"].to_numpy() == pytest.approx([10, 70, 70, 70, 70, 10])
    monthly = read_bills([bill], "month")
    assert monthly.costs["cost_usd"].to_numpy() == pytest.approx([300.0])


def test_mixed_providers_with_the_same_name_are_kept_apart(tmp_path: Path) -> None:
    hour = {"ChargePeriodStart": "2026-11-01 10:00:00", "ChargePeriodEnd": "2026-11-01 11:00:00"}
    rows = [
        focus_row(
            ProviderName="AWS",
            x_InstanceType="gpu-large",
            BilledCost="2",
            EffectiveCost="2",
            **hour,
        ),
        focus_row(
            ProviderName="Oracle",
            x_InstanceType="gpu-large",
            BilledCost="3",
            EffectiveCost="3",
            **hour,
        ),
        focus_row(
            ProviderName="Oracle",
            ChargeCategory="Tax",
            BilledCost="0.5",
            EffectiveCost="0.5",
            **hour,
        ),
        focus_row(
            ProviderName="AWS",
            ChargeClass="Correction",
            BilledCost="-1",
            EffectiveCost="-1",
            x_InstanceType="gpu-large",
            **hour,
        ),
    ]
    result = read_bills([write_rows(tmp_path / "mixed.csv", FOCUS_HEADER, rows)], "day")
    assert per_day(result) == {
        ("2026-11-01", "AWS gpu-large"): 2.0,
        ("2026-11-01", "Oracle gpu-large"): 3.0,
        ("2026-11-01", "Oracle (tax)"): 0.5,
        ("2026-11-01", "AWS (correction)"): -1.0,
    }


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("inf", r"UnblendedCost is not a number on line\(s\) 7"),
        ("nan", r"UnblendedCost is not a number on line\(s\) 7"),
        ("1e400", r"UnblendedCost is not a number on line\(s\) 7"),
    ],
)
def test_infinite_costs_are_refused_with_their_line(
    tmp_path: Path, cell: str, message: str
) -> None:
    rows = savings_plan_rows()
    rows[5]["lineItem/UnblendedCost"] = cell
    with pytest.raises(BadInput, match=message):
        read_bills([write_rows(tmp_path / "b.csv", SP_HEADER, rows)], "day")


@pytest.mark.parametrize("stamp", ["2026", "5", "9999-01-01T00:00:00Z", "1999-12-31T23:00:00Z"])
def test_garbage_and_far_future_dates_are_refused(tmp_path: Path, stamp: str) -> None:
    rows = savings_plan_rows()
    rows[2]["lineItem/UsageStartDate"] = stamp
    with pytest.raises(BadInput, match=r"UsageStartDate is not a date on line\(s\) 4"):
        read_bills([write_rows(tmp_path / "b.csv", SP_HEADER, rows)], "day")


def test_damage_deep_in_a_bill_is_one_error_naming_the_file(tmp_path: Path) -> None:
    rows = savings_plan_rows() * 3000
    good = write_rows(tmp_path / "b.csv", SP_HEADER, rows).read_bytes()
    lines = good.split(b"\n")
    broken_quote = b"\n".join([*lines[:20000], b'Usage,"2026-11-03T10:00:00Z,x', *lines[20000:]])
    (tmp_path / "quote.csv").write_bytes(broken_quote)
    with pytest.raises(BadInput, match=r"^bill .*quote\.csv: not a readable CSV file \("):
        read_bills([tmp_path / "quote.csv"], "day")
    header = b"lineItem/UsageStartDate,lineItem/UsageEndDate,lineItem/UnblendedCost\n"
    hour = b"2026-11-01T10:00:00Z,2026-11-01T11:00:00Z,1.0\n"
    swallowed = header + hour * 20000 + b'2026-11-01T10:00:00Z,"2026-11-01,1.0\n' + hour * 20000
    (tmp_path / "swallowed.csv").write_bytes(swallowed)
    with pytest.raises(BadInput, match=r"^bill .*swallowed\.csv: not a readable CSV file \("):
        read_bills([tmp_path / "swallowed.csv"], "day")
    latin = b"\n".join([*lines[:20000], lines[20000].replace(b"i-1", b"i-\xe9"), *lines[20001:]])
    (tmp_path / "latin.csv").write_bytes(latin)
    with pytest.raises(BadInput, match=r"^bill .*latin\.csv: not a readable CSV file \(.*"):
        read_bills([tmp_path / "latin.csv"], "day")
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(BadInput, match="not a readable ZIP file"):
        read_bills([tmp_path / "bad.zip"], "day")
    with pytest.raises(BadInput, match="matches no file"):
        read_bills([tmp_path / "nothing-*.csv"], "day")


def test_a_parquet_bad_cost_names_its_row(tmp_path: Path) -> None:
    import duckdb

    rows = savings_plan_rows()
    rows[3]["lineItem/UnblendedCost"] = "Infinity"
    source = write_rows(tmp_path / "b.csv", SP_HEADER, rows)
    parquet = tmp_path / "b.parquet"
    duckdb.connect().execute(
        f"COPY (SELECT * FROM read_csv('{source}', all_varchar = true)) TO '{parquet}' (FORMAT parquet)"
    )
    with pytest.raises(
        BadInput, match=r"b\.parquet: lineItem/UnblendedCost is not a number on row\(s\) 4"
    ):
        read_bills([parquet], "day")
