"""The server's own counters: Prometheus text read per engine table, hostile pages skipped, the
level's increase and the 1 % token check."""

from __future__ import annotations

from harness.endpoint.server_metrics import (
    COLUMNS,
    level_columns,
    metrics_url,
    parse_exposition,
    read_scrape,
    scrape,
)
from tests.known_speed_server import running

VLLM_PAGE = """\
# HELP vllm:prompt_tokens_total Number of prefill tokens processed.
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="m"} 100.0
vllm:prompt_tokens_total{engine="1",model_name="m"} 20.0
vllm:generation_tokens_total{engine="0",model_name="m"} 640.0
vllm:prompt_tokens_cached_total{engine="0",model_name="m"} 16.0
vllm:request_success_total{engine="0",finished_reason="length",model_name="m"} 20.0
vllm:request_success_total{engine="0",finished_reason="stop",model_name="m"} 0.0
vllm:num_preemptions_total{engine="0",model_name="m"} 0.0
vllm:request_queue_time_seconds_sum{engine="0",model_name="m"} 0.5
vllm:request_queue_time_seconds_bucket{engine="0",le="0.3",model_name="m"} 19.0
"""


def test_a_vllm_page_maps_to_server_columns_summed_over_engines() -> None:
    found = read_scrape(VLLM_PAGE)
    assert found is not None and found.engine.engine == "vllm"
    assert found.values["server_prompt_tokens"] == 120.0
    assert found.values["server_requests_length"] == 20.0
    assert found.values["server_requests_stop"] == 0.0
    assert found.values["server_requests_abort"] is None  # not on the page: unknown, not 0
    assert found.values["server_queue_s_sum"] == 0.5


def test_sglang_and_tgi_pages_are_recognised_by_their_own_names() -> None:
    sglang = read_scrape(
        'sglang:prompt_tokens_total{model_name="m"} 8.1e+03\n'
        'sglang:generation_tokens_total{model_name="m"} 7.5e+03\n'
        'sglang:cached_tokens_total{model_name="m",cache_source="device"} 64\n'
    )
    assert sglang is not None and sglang.engine.engine == "sglang"
    assert sglang.values["server_generation_tokens"] == 7500.0
    assert sglang.values["server_cached_prompt_tokens"] == 64.0
    tgi = read_scrape(
        "tgi_request_input_length_sum 300\ntgi_request_generated_tokens_sum 900\n"
        'tgi_batch_forward_duration_sum{method="prefill"} 1.5\n'
        'tgi_batch_forward_duration_sum{method="decode"} 4.0\n'
    )
    assert tgi is not None and tgi.engine.engine == "tgi"
    assert tgi.values["server_decode_s_sum"] == 4.0
    assert tgi.values["server_prefill_s_sum"] == 1.5


def test_hostile_lines_are_skipped_not_believed() -> None:
    page = (
        'vllm:generation_tokens_total{engine="0"} NaN\n'
        'vllm:generation_tokens_total{engine="1"} +Inf\n'
        "vllm:generation_tokens_total{engine=0} 5\n"  # an unquoted label: still one sample
        "vllm:prompt_tokens_total not-a-number\n"
        "}{ 12\n"
        + "x" * 10_000
        + "\n"
        'vllm:generation_tokens_total{engine="2",model_name="a \\"quoted\\" name"} 7\n'
    )
    samples = parse_exposition(page)
    assert "vllm:prompt_tokens_total" not in samples
    found = read_scrape(page)
    assert found is not None
    assert found.values["server_generation_tokens"] == 12.0  # 5 + 7; NaN and Inf left out
    assert read_scrape("no metrics here\n") is None
    assert read_scrape("") is None


def test_level_columns_take_the_increase_and_warn_beyond_one_percent() -> None:
    before = read_scrape(VLLM_PAGE)
    after = read_scrape(
        VLLM_PAGE.replace("640.0", "1280.0").replace("} 100.0", "} 164.0")
    )
    row = level_columns(before, after, {"input_tokens": 64, "output_tokens": 640})
    assert row["server_generation_tokens"] == 640.0
    assert row["server_prompt_tokens"] == 64.0
    assert row["server_token_mismatch"] is None
    off = level_columns(before, after, {"input_tokens": 64, "output_tokens": 600})
    assert off["server_token_mismatch"] == "generation tokens: server 640, client 600"
    # A counter that went down (the server restarted) is not a negative count.
    restarted = level_columns(after, before, {"input_tokens": 64, "output_tokens": 640})
    assert restarted["server_generation_tokens"] is None
    assert set(COLUMNS) <= set(level_columns(None, None, {}))
    assert all(v is None for v in level_columns(None, after, {}).values())


def test_a_server_without_metrics_leaves_the_columns_empty(tmp_path) -> None:
    assert metrics_url("http://h:8000/v1") == "http://h:8000/metrics"
    assert metrics_url("http://h:8000/") == "http://h:8000/metrics"
    with running(tmp_path / "log") as url:
        assert scrape(url) is None  # it answers 404 there
    assert scrape("http://127.0.0.1:9/v1") is None  # nothing listening
