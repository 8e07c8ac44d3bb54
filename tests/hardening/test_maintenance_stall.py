"""Issue #14 item 9: a stored giant repository must not stall the server at every pass (ADR 0023).

The re-sign and expiry pass used to parse every GUN's files on the event loop:
one 26 MiB targets file made a 2.6 s stall at every pass. Now the pass

* parses a file larger than ``IN_THREAD_BYTES`` in a worker thread (the spy on
  ``asyncio.to_thread`` sees the large targets go there);
* is incremental: a file's expiry is parsed once, when it becomes current, so
  the next pass neither fetches nor parses the giant file again;
* yields to the event loop after each repository;
* reports the event loop's largest delay, measured by a heartbeat, in the log
  and as ``notary_server_maintenance_loop_lag_seconds{pass}``.

No test asserts a duration; ``bench/maintenance_lag.py`` prints the figures.
The giant repository is published through the real HTTP API, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from notary_server.appkeys import METRICS_KEY
from notary_server.config import MaintenanceConfig, ServerConfig
from notary_server.maintenance import resign_pass
from notary_server.services import expiries as expiries_module
from notary_server.services import inventory
from notary_server.services.expiries import FileExpiries, scan_expiring
from notary_server.services.offloop import IN_THREAD_BYTES, LoopLagProbe
from notary_tuf.rolenames import TARGETS
from testkit.server_helpers import make_config, new_builder
from tests.hardening.attacks import publish

if TYPE_CHECKING:
    from collections.abc import Callable

    from notary_server.storage.capabilities import Backend
    from notary_server.storage.memory import MemoryMetaStore
    from testkit.repo_builder import RepoBuilder
    from testkit.server_helpers import AppClient, ClientFactory

GIANT_TARGETS = 4_000
"""Enough targets for a targets file above ``IN_THREAD_BYTES`` (about 1 MB)."""

GUN = "example.com/hardening/giant"


@pytest.fixture
def parsed_in_thread(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Record (function, bytes) of every stored file handed to ``asyncio.to_thread``."""
    handed: list[tuple[str, int]] = []
    real = asyncio.to_thread

    async def spy(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        name = getattr(func, "__name__", "")
        if name == "parse_stored":
            handed.append((name, len(args[1].data)))
        elif name == "_targets_facts":
            handed.append((name, len(args[0])))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", spy)
    return handed


def maintenance_config() -> ServerConfig:
    # The loop is off (the test runs the pass itself); every file is within the window.
    maintenance = MaintenanceConfig(resign_enabled=False, expiry_window_days=5_000)
    return dataclasses.replace(make_config(), maintenance=maintenance)


async def giant_repository(client: AppClient, gun: str = GUN) -> RepoBuilder:
    builder = await new_builder(client, gun)
    for index in range(GIANT_TARGETS):
        builder.add_target(f"artifact-{index:05d}", b"%d" % index)
    await publish(client, builder)
    assert len(builder.current[TARGETS]) > IN_THREAD_BYTES
    return builder


async def test_expiry_pass_parses_a_giant_targets_file_off_the_loop_and_only_once(
    sql_store: Backend,
    make_client: ClientFactory,
    parsed_in_thread: list[tuple[str, int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = await make_client(sql_store, maintenance_config())
    builder = await giant_repository(client)
    giant = len(builder.current[TARGETS])
    expiries = FileExpiries()
    caplog.set_level(logging.INFO, logger="notary_server.maintenance")

    await resign_pass(client.app, expiries)
    in_thread = [("_targets_facts", giant)]
    assert parsed_in_thread == in_thread  # the one large file, in a thread
    first = expiries.parsed
    assert first >= 3  # root, snapshot, targets

    # The next pass fetches and parses nothing it has seen: the giant file stays untouched.
    await resign_pass(client.app, expiries)
    assert parsed_in_thread == in_thread
    assert expiries.parsed == first

    # A publish makes new files current; the pass parses those, once each.
    builder.add_target("one-more", b"x")
    await publish(client, builder)
    await resign_pass(client.app, expiries)
    assert parsed_in_thread == [*in_thread, ("_targets_facts", len(builder.current[TARGETS]))]
    assert expiries.parsed == first + 2  # the new targets and snapshot
    assert len(expiries) == first  # the replaced files are forgotten after the pass

    registry = client.app[METRICS_KEY].registry
    lag = registry.get_sample_value(
        "notary_server_maintenance_loop_lag_seconds", {"pass": "re-sign"}
    )
    assert lag is not None
    assert any("largest event loop delay" in r.getMessage() for r in caplog.records)


async def test_incremental_scan_finds_what_the_full_scan_finds(
    sql_store: Backend, make_client: ClientFactory
) -> None:
    client = await make_client(sql_store)
    await giant_repository(client)
    other = await new_builder(client, "example.com/hardening/small")
    other.add_target("a", b"a")
    await publish(client, other)
    now = datetime.now(UTC)
    found = {}
    for days in (5_000, 1):
        within = timedelta(days=days)
        expected = await inventory.scan_expiring(sql_store, now=now, within=within)
        expiries = FileExpiries()
        assert await scan_expiring(sql_store, expiries, now=now, within=within) == expected
        # …and again from what it remembers.
        assert await scan_expiring(sql_store, expiries, now=now, within=within) == expected
        found[days] = len(expected)
    assert found == {5_000: 6, 1: 0}  # root, targets and the root certificate of each


async def test_remembered_files_are_bounded(
    memory_env: tuple[AppClient, MemoryMetaStore],
) -> None:
    client, store = memory_env
    builder = await new_builder(client, GUN)
    builder.add_target("a", b"a")
    await publish(client, builder)
    expiries = FileExpiries(max_files=2)
    now, within = datetime.now(UTC), timedelta(days=1)
    await scan_expiring(store, expiries, now=now, within=within)
    assert (expiries.parsed, len(expiries)) == (3, 2)  # root, snapshot, targets; two kept
    await scan_expiring(store, expiries, now=now, within=within)
    assert (expiries.parsed, len(expiries)) == (4, 2)  # the two kept are not parsed again


async def test_passes_yield_to_the_loop_between_repositories(
    memory_env: tuple[AppClient, MemoryMetaStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The memory store never suspends, so without the yields the whole pass
    # would run in one step of the loop.
    client, store = memory_env
    for index in range(6):
        builder = await new_builder(client, f"example.com/hardening/repo-{index}")
        builder.add_target("a", b"a")
        await publish(client, builder)
    monkeypatch.setattr(expiries_module, "BATCH_GUNS", 2)
    steps = 0

    async def other_work() -> None:
        nonlocal steps
        while True:
            steps += 1
            await asyncio.sleep(0)

    worker = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    before = steps
    await scan_expiring(store, FileExpiries(), now=datetime.now(UTC), within=timedelta(days=1))
    worker.cancel()
    assert steps - before >= 6


async def test_loop_lag_probe_reports_a_blocked_loop() -> None:
    # Not a timing check of the server: the loop is blocked on purpose for
    # 50 ms, so the heartbeat cannot have woken less than 40 ms late.
    async with LoopLagProbe(interval=0.01) as probe:
        await asyncio.sleep(0)
        time.sleep(0.05)  # noqa: ASYNC251 - blocking the loop is the point
        await asyncio.sleep(0.02)
    assert probe.beats >= 1
    assert probe.max_lag >= 0.04
