"""``admin list``/``expiring``/``gc`` count in words, and both ``migrate`` commands print
alike (issue #19: ``0 item(s)``, ``1 repositories``, ``applied migrations: [1]``)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from notary_server.admin.commands import format_duration, plural


def _run(module: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


def test_plural_and_durations() -> None:
    assert plural(1, "repository", "repositories") == "1 repository"
    assert plural(0, "repository", "repositories") == "0 repositories"
    assert plural(2, "item") == "2 items"
    assert format_duration(timedelta(days=30)) == "30 days"
    assert format_duration(timedelta(days=1)) == "1 day"
    assert format_duration(timedelta(hours=12)) == "12 hours"
    assert format_duration(timedelta(minutes=90)) == "90 minutes"
    assert format_duration(timedelta(seconds=45)) == "45 seconds"


def test_commands_say_what_they_count(tmp_path: Path) -> None:
    config = tmp_path / "server-config.json"
    config.write_text(
        json.dumps(
            {
                "server": {"http_addr": "127.0.0.1:0"},
                "trust_service": {"type": "local"},
                "storage": {"backend": "sqlite3", "db_url": "server.db"},
            }
        )
    )
    migrated = _run("notary_server", "migrate", "--config", config)
    assert migrated.stdout.startswith("applied migrations: 1, 2"), migrated.stdout
    assert _run("notary_server", "migrate", "--config", config).stdout == (
        "the schema is up to date\n"
    )
    listing = _run("notary_server", "admin", "list", "--config", config)
    assert listing.stdout.splitlines()[-1] == "0 repositories"
    expiring = _run("notary_server", "admin", "expiring", "--config", config, "--within", "12h")
    assert expiring.stdout == (
        "0 items expire within 12 hours: roots, targets, delegations and root certificates "
        "(timestamps and server-managed snapshots are re-signed by the server)\n"
    )
    gc = _run("notary_server", "admin", "gc", "--config", config, "--keep-versions", "1")
    assert gc.returncode == 2  # --keep-days is required
    gc = _run(
        "notary_server",
        "admin",
        "gc",
        "--config",
        config,
        "--keep-versions",
        "1",
        "--keep-days",
        "1",
        "--dry-run",
    )
    assert gc.stdout == "would delete 0 files, 0 B\n"
    help_text = _run("notary_server", "admin", "expiring", "--help").stdout
    assert "Timestamps" in help_text
    assert "how far ahead to look" in help_text
