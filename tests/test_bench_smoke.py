"""``python -m bench --smoke`` and ``python -m bench.stall`` run to the end and report.

The smoke run includes the signer-alone rows (``Sign RPC c=1/16``, bench.signer)
with a hundred calls per measurement.

Only completion and the shape of the report are checked, never a figure: the
benchmark's numbers depend on the machine, and timing assertions make flaky tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.gotools.common import no_proxy_env, require_go_tools
from testkit.pg import admin_dsn, require_postgres

ROOT = Path(__file__).resolve().parent.parent
WRK_HINT = "wrk is missing; install it with: apt-get install -y wrk"
SMOKE_TIMEOUT = 240
STALL_TIMEOUT = 300

pytestmark = [pytest.mark.gotools, pytest.mark.postgres]


def _require_wrk() -> None:
    if shutil.which("wrk") is not None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(WRK_HINT, pytrace=False)
    pytest.skip(WRK_HINT)


def test_bench_smoke_reports_both_servers_and_ratios(tmp_path: Path) -> None:
    require_go_tools()
    admin = admin_dsn()
    require_postgres(admin)
    _require_wrk()
    out = tmp_path / "results.json"

    proc = subprocess.run(
        # The default: two alternating rounds, pooled (CI time: half a minute).
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--out",
            str(out),
            "--pg-dsn",
            admin,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT,
        check=False,
        env=no_proxy_env(os.environ),
    )

    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    header = proc.stdout.splitlines()[0]
    for column in ("ours req/s", "Go req/s", "ratio", "ours p50/p99 ms", "Go p50/p99 ms"):
        assert column in header
    assert "server RSS after get [defaults, our signer]: ours" in proc.stdout

    results = json.loads(out.read_text())
    assert results["meta"]["rounds"] == 2
    assert "pooled over 2 rounds" in proc.stdout
    kinds = {row["kind"] for row in results["scenarios"]}
    assert kinds == {"get", "publish"}
    # Every scenario twice: ours as installed with our signer, and ours tuned.
    assert [row["variant"] for row in results["scenarios"]] == ["ours", "ours_tuned"] * 2
    assert "[defaults, our signer]" in proc.stdout
    assert "[tuned, Go signer]" in proc.stdout
    for row in results["scenarios"]:
        assert row["name"] in proc.stdout
        for server in ("ours", "go"):
            figures = row[server]
            assert figures["requests"] > 0
            assert figures["errors"] == 0
            assert {"rps", "p50_ms", "p99_ms"} <= figures.keys()
        assert row["ratio_rps"] is not None
    assert set(results["rss_kib"]) == {"ours", "ours_tuned", "go"}
    # Every signer keeps its keys in PostgreSQL (no memory-backend server in smoke);
    # ours as installed signs through ours, the others through Go's.
    assert results["meta"]["signers"] == {
        "ours": {"signer": "ours", "key_storage": "postgres"},
        "ours_tuned": {"signer": "go", "key_storage": "postgres"},
        "go": {"signer": "go", "key_storage": "postgres"},
    }
    assert "signers: each keeps its keys in a PostgreSQL database of its own" in proc.stdout

    # The signers alone, after the publishes: both caller counts, both signers.
    signer_rows = results["signer_rpc"]
    assert [row["callers"] for row in signer_rows] == [1, 16]
    for row in signer_rows:
        assert row["name"] in proc.stdout
        assert row["key_storage"] == "postgres"
        for signer in ("ours", "go"):
            figures = row[signer]
            assert figures["requests"] > 0
            assert figures["errors"] == 0
            assert {"rps", "p50_ms", "p99_ms", "cpu_ms_per_call"} <= figures.keys()
        assert row["ratio_rps"] is not None
    assert "CPU ms/call ours/Go" in proc.stdout


def test_bench_stall_reports_every_phase_for_both_servers(tmp_path: Path) -> None:
    require_go_tools()
    admin = admin_dsn()
    require_postgres(admin)
    _require_wrk()
    out = tmp_path / "stall.json"

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.stall",
            "--rounds",
            "1",
            "--duration",
            "1",
            "--out",
            str(out),
            "--pg-dsn",
            admin,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=STALL_TIMEOUT,
        check=False,
        env=no_proxy_env(os.environ),
    )

    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    results = json.loads(out.read_text())
    for phase in ("alone", "valid 2 MB targets", "root, 60,000 bogus signatures"):
        assert phase in proc.stdout
        for server in ("ours", "go"):
            assert results["phases"][phase][server]["requests"] > 0
    for phase in ("valid 2 MB targets", "root, 60,000 bogus signatures", "16 MiB unknown field"):
        for server in ("ours", "go"):
            assert results["phases"][phase][server]["uploads"]["count"] > 0
    # The valid uploads are accepted by both servers.
    for server in ("ours", "go"):
        assert set(results["phases"]["valid 2 MB targets"][server]["uploads"]["statuses"]) == {
            "200"
        }
    assert "server CPU per valid 2 MB publish" in proc.stdout
    assert "target: ours GET p99 during" in proc.stdout
