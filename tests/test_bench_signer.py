"""The signer-alone rows (bench.signer): pooling, selection, shares of calls (no timing)."""

from __future__ import annotations

import argparse

import pytest

from bench.loadgen import Measurement
from bench.report import Results
from bench.run import _selection
from bench.signer import (
    MESSAGE,
    MESSAGE_BYTES,
    SignRow,
    calls_for,
    cpu_ms_per_call,
    pool_rows,
    round_order,
    row_name,
    select_callers,
    split_calls,
)


def _round(requests: int, seconds: float, p50: float, p99: float, cpu: float) -> Measurement:
    return Measurement(
        requests=requests,
        seconds=seconds,
        rps=round(requests / seconds, 1),
        p50_ms=p50,
        p99_ms=p99,
        errors=0,
        server_cpu_s=cpu,
    )


def test_rounds_pool_per_signer_and_caller_count() -> None:
    measured = {
        ("ours", 1): [_round(2000, 2.0, 0.5, 0.9, 1.0), _round(2000, 4.0, 0.7, 1.5, 1.4)],
        ("go", 1): [_round(2000, 5.0, 1.8, 7.0, 1.2), _round(2000, 5.0, 2.0, 5.0, 1.2)],
        ("ours", 16): [_round(4000, 2.0, 7.0, 14.0, 1.6)],
        ("go", 16): [_round(4000, 8.0, 16.0, 110.0, 2.0)],
    }
    rows = pool_rows(measured)
    assert [row.callers for row in rows] == [1, 16]
    one = rows[0]
    assert one.ours.rps == 666.7  # 4,000 calls over 6 s, not the mean of the rounds' rates
    assert one.go.rps == 400.0
    assert one.ours.p50_ms == 0.6  # the median of the rounds' p50s
    assert one.go.p99_ms == 6.0
    assert cpu_ms_per_call(one.ours) == 0.6  # 2.4 s over 4,000 calls
    assert cpu_ms_per_call(one.go) == 0.6
    assert one.ratio == pytest.approx(666.7 / 400.0)
    figures = rows[1].as_dict()
    assert figures["name"] == "Sign RPC c=16 (ecdsa, PostgreSQL keys)"
    assert figures["ratio_rps"] == 4.0
    assert figures["ours"]["cpu_ms_per_call"] == 0.4
    assert figures["go"]["cpu_ms_per_call"] == 0.5
    assert figures["message_bytes"] == MESSAGE_BYTES == len(MESSAGE)


def test_a_caller_count_measured_on_one_signer_only_has_no_row() -> None:
    assert pool_rows({("ours", 1): [_round(10, 1.0, 1.0, 1.0, 0.0)]}) == []


def test_calls_are_shared_evenly_and_doubled_beyond_one_caller() -> None:
    assert split_calls(4000, 16) == [250] * 16
    assert split_calls(10, 4) == [3, 3, 2, 2]
    assert sum(split_calls(4001, 16)) == 4001
    assert calls_for(1, 2000) == 2000
    assert calls_for(16, 2000) == 4000


def test_rounds_alternate_which_signer_goes_first() -> None:
    assert round_order(0) == ["ours", "go"]
    assert round_order(1) == ["go", "ours"]
    assert round_order(2) == ["ours", "go"]


def test_scenario_names_select_signer_rows_and_server_scenarios() -> None:
    assert select_callers(None) == [1, 16]
    assert select_callers(["sign rpc c=16"]) == [16]
    assert select_callers(["publish"]) == []
    assert row_name(16) == "Sign RPC c=16 (ecdsa, PostgreSQL keys)"
    only_signer = argparse.Namespace(smoke=False, scenario=["Sign RPC"])
    assert _selection(only_signer) == ([], [1, 16])
    only_publish = argparse.Namespace(smoke=False, scenario=["(publish) c=1"])
    scenarios, callers = _selection(only_publish)
    assert [s.name for s in scenarios] == ["POST targets (publish) c=1"]
    assert callers == []
    with pytest.raises(ValueError, match="no scenario matches"):
        _selection(argparse.Namespace(smoke=False, scenario=["nothing like it"]))


def test_results_carry_the_signer_rows_in_json_and_table() -> None:
    row = SignRow(1, _round(100, 1.0, 0.5, 1.0, 0.05), _round(50, 1.0, 1.0, 2.0, 0.03))
    results = Results(meta={}, servers=("ours", "go"), signer_rows=[row])
    assert results.as_dict()["signer_rpc"][0]["ratio_rps"] == 2.0
    table = results.table()
    assert table.startswith("signer alone")  # no server rows: no server table
    assert "Sign RPC c=1 (ecdsa, PostgreSQL keys)" in table
    assert "0.50/0.60" in table  # CPU ms per call, ours/Go
    assert "2.00x" in table
