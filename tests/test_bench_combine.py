"""Pooling rounds, their order, and when a row gets a ratio (no timing involved)."""

from __future__ import annotations

import pytest

from bench.loadgen import Measurement, combine
from bench.report import Results, Row
from bench.run import _round_order
from bench.scenarios import Scenario


def _round(
    requests: int,
    seconds: float,
    p50: float,
    p99: float,
    *,
    cpu: float = 1.0,
    errors: int = 0,
    detail: dict[str, int] | None = None,
) -> Measurement:
    return Measurement(
        requests=requests,
        seconds=seconds,
        rps=round(requests / seconds, 1),
        p50_ms=p50,
        p99_ms=p99,
        errors=errors,
        server_cpu_s=cpu,
        error_detail=detail,
    )


def test_one_round_is_returned_as_it_is() -> None:
    only = _round(100, 10.0, 1.0, 2.0)
    assert combine([only]) is only


def test_rounds_pool_throughput_and_take_median_latencies() -> None:
    pooled = combine(
        [
            _round(1000, 10.0, 1.0, 9.0, cpu=2.0),
            _round(3000, 10.0, 3.0, 5.0, cpu=3.0, errors=2, detail={"timeout": 2}),
            _round(2000, 20.0, 2.0, 7.0, cpu=4.0, errors=1, detail={"timeout": 1, "read": 0}),
        ]
    )
    assert pooled.requests == 6000
    assert pooled.seconds == 40.0
    assert pooled.rps == 150.0  # 6000 / 40, not the mean of 100, 300 and 100
    assert pooled.p50_ms == 2.0
    assert pooled.p99_ms == 7.0
    assert pooled.errors == 3
    assert pooled.server_cpu_s == 9.0
    assert pooled.error_detail == {"timeout": 3, "read": 0}


def test_no_rounds_is_an_error() -> None:
    with pytest.raises(ValueError, match="no rounds"):
        combine([])


def test_rounds_alternate_who_goes_first_ours_in_odd_rounds() -> None:
    ours = ("ours", "ours_tuned")
    assert _round_order(0, ours, "go") == ["ours", "ours_tuned", "go"]
    assert _round_order(1, ours, "go") == ["go", "ours_tuned", "ours"]
    assert _round_order(2, ours, "go") == ["ours", "ours_tuned", "go"]


def test_no_ratio_where_the_servers_do_different_work() -> None:
    same = Scenario(name="GET timestamp.json c=64", kind="get", path="timestamp")
    differs = Scenario(
        name="GET timestamp.json c=64 If-None-Match",
        kind="get",
        path="timestamp",
        work_differs="ours answers 304, Go 200",
    )
    ours, go = _round(2000, 10.0, 1.0, 2.0), _round(1000, 10.0, 2.0, 4.0)
    assert Row(same, ours, go).ratio == 2.0
    row = Row(differs, ours, go, variant="ours_tuned")
    assert row.ratio is None
    figures = row.as_dict()
    assert figures["ratio_rps"] is None
    assert figures["ratio_p50"] is None
    assert figures["ratio_p99"] is None
    assert figures["work_differs"] == "ours answers 304, Go 200"
    results = Results(meta={}, servers=("ours", "ours_tuned", "go"), rows=[row])
    assert "n/a (work differs)" in results.table()
    assert "[tuned, Go signer]" in results.table()
