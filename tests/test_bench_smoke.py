"""``python -m bench --smoke`` runs to the end and reports both servers and the ratios.

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

from tests.gotools.common import no_proxy_env, require_go_tools
from tests.pg import admin_dsn, require_postgres

ROOT = Path(__file__).resolve().parent.parent
WRK_HINT = "wrk is missing; install it with: apt-get install -y wrk"
SMOKE_TIMEOUT = 240

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
        # Two rounds: the alternating order and the pooling run too (CI time: a few seconds).
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--rounds",
            "2",
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
    assert "server RSS after get: ours" in proc.stdout

    results = json.loads(out.read_text())
    assert results["meta"]["rounds"] == 2
    assert "pooled over 2 rounds" in proc.stdout
    kinds = {row["kind"] for row in results["scenarios"]}
    assert kinds == {"get", "publish"}
    for row in results["scenarios"]:
        assert row["name"] in proc.stdout
        for server in ("ours", "go"):
            figures = row[server]
            assert figures["requests"] > 0
            assert figures["errors"] == 0
            assert {"rps", "p50_ms", "p99_ms"} <= figures.keys()
        assert row["ratio_rps"] is not None
    assert set(results["rss_kib"]) == {"ours", "go"}
