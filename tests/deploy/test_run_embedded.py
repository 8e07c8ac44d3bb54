"""``make run``'s launcher (``scripts/run_embedded.py``) on a fresh data directory.

It is started as a user starts it (a process, its stdout read line by line with a
deadline), on free ports. The test checks what it prints (server URL, CA path, the
``notary`` command, the docker exports and where docker looks for the CA), drives the
real ``notary`` CLI against the printed URL and CA (``init -p``, ``add -p``, a fresh
client's ``list``), probes both services with ``scripts/healthcheck.py`` and stops the
launcher with SIGINT (Ctrl-C): it exits 0 and both services are gone. A second start
reuses the certificates, the passphrase (mode 0600) and the databases: the repository
is still there and a new publish is signed with the key the signer stored the first time.
"""

from __future__ import annotations

import json
import queue
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from testkit.gotools import NotaryCLI, free_port, require_go_tools
from tests.deploy.procs import SCRIPTS, run_checked

pytestmark = [pytest.mark.gotools, pytest.mark.timeout(300)]

GUN = "example.com/devstack/app"
STARTUP_TIMEOUT = 90.0


@dataclass
class Launcher:
    proc: subprocess.Popen[str]
    lines: queue.Queue[str | None]
    output: list[str] = field(default_factory=list)

    def read_until(self, marker: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                break
            self.output.append(line)
            if marker in line:
                return "".join(self.output)
        msg = f"no {marker!r} within {timeout}s; output:\n{''.join(self.output)}"
        raise AssertionError(msg)


@contextmanager
def launcher(data_dir: Path, server_port: int, signer_port: int, *extra: str) -> Iterator[Launcher]:
    argv = [
        sys.executable,
        str(SCRIPTS / "run_embedded.py"),
        "--data-dir",
        str(data_dir),
        "--server-port",
        str(server_port),
        "--signer-port",
        str(signer_port),
        *extra,
    ]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        yield Launcher(proc, lines)
    finally:
        if proc.poll() is None:  # a failed test: let the launcher stop its services first
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        proc.wait(timeout=10)
        reader.join(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()


def _stop(run: Launcher) -> None:
    run.proc.send_signal(signal.SIGINT)
    assert run.proc.wait(timeout=30) == 0, "".join(run.output)
    run.read_until("stopped", timeout=5)


def _port_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_launcher_serves_notary_cli_and_stops_cleanly(tmp_path: Path) -> None:
    require_go_tools()
    data = tmp_path / "notary-data"
    server_port, signer_port = free_port(), free_port()
    url = f"https://127.0.0.1:{server_port}"
    ca = data / "certs" / "root-ca.crt"
    target = tmp_path / "v1.bin"
    target.write_bytes(b"devstack target\n" * 4)

    with launcher(data, server_port, signer_port) as run:
        out = run.read_until(f"DOCKER_CONTENT_TRUST_SERVER={url}", STARTUP_TIMEOUT)
        assert "generated development certificates" in out
        assert f"server   {url}" in out
        assert f"CA       {ca}" in out
        assert f"notary -s {url} --tlscacert {ca}" in out
        assert "export DOCKER_CONTENT_TRUST=1" in out
        docker_ca = f"~/.docker/tls/127.0.0.1:{server_port}/ca.crt"
        assert f"cp {ca} {docker_ca}" in out

        # The printed URL and CA are all the notary CLI needs.
        alice = NotaryCLI(tmp_path / "alice", server_url=url, ca_path=ca)
        alice.run("init", GUN, "-p")
        alice.run("add", GUN, "v1", target, "-p")
        bob = NotaryCLI(tmp_path / "bob", server_url=url, ca_path=ca)
        assert [(r.name, r.length) for r in bob.list_targets(GUN)] == [
            ("v1", target.stat().st_size)
        ]
        timestamp_signer = json.loads(bob.cached_metadata(GUN)["timestamp"])["signatures"][0]

        # The compose health checks' probe accepts both generated configurations.
        for config in ("server-config.json", "signer-config.json"):
            run_checked([sys.executable, SCRIPTS / "healthcheck.py", data / config], timeout=30)
        _stop(run)
    assert _port_closed(server_port)
    assert _port_closed(signer_port)

    # What the first start kept: certificates, a private passphrase, both databases.
    passphrase_file = data / "signer-passphrase"
    assert stat.S_IMODE(passphrase_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "certs" / "notary-server.key").stat().st_mode) == 0o600
    passphrase = passphrase_file.read_text()
    ca_before = ca.read_bytes()
    signer_config = json.loads((data / "signer-config.json").read_text())
    assert signer_config["storage"] == {
        "backend": "sqlite3",
        "db_url": "signer.db",
        "default_alias": "devstack",
    }
    server_config = json.loads((data / "server-config.json").read_text())
    assert server_config["trust_service"]["type"] == "remote"
    assert server_config["trust_service"]["port"] == str(signer_port)
    assert passphrase not in (data / "signer.log").read_text()

    with launcher(data, server_port, signer_port) as run:
        out = run.read_until("DOCKER_CONTENT_TRUST_SERVER=", STARTUP_TIMEOUT)
        assert "generated development certificates" not in out
        assert ca.read_bytes() == ca_before
        assert passphrase_file.read_text() == passphrase
        second = tmp_path / "v2.bin"
        second.write_bytes(b"after a restart\n")
        alice.run("add", GUN, "v2", second, "-p")
        carol = NotaryCLI(tmp_path / "carol", server_url=url, ca_path=ca)
        assert {r.name for r in carol.list_targets(GUN)} == {"v1", "v2"}
        signature = json.loads(carol.cached_metadata(GUN)["timestamp"])["signatures"][0]
        assert signature["keyid"] == timestamp_signer["keyid"]
        _stop(run)


def test_launcher_reports_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        with launcher(tmp_path / "data", taken, free_port()) as run:
            assert run.proc.wait(timeout=STARTUP_TIMEOUT) == 1
            out = run.read_until("is in use", timeout=5)
    assert out.splitlines() == [
        (
            f"run_embedded: port {taken} (server) on 127.0.0.1 is in use: another instance (or "
            "another program) holds it; stop it, or choose other ports: "
            "make run SERVER_PORT=... SIGNER_PORT=..."
        )
    ]
    assert not (tmp_path / "data").exists()  # nothing was started or written


def test_make_run_twice_says_so_and_leaves_the_first_running(tmp_path: Path) -> None:
    data = tmp_path / "notary-data"
    server_port, signer_port = free_port(), free_port()
    with launcher(data, server_port, signer_port) as first:
        first.read_until("DOCKER_CONTENT_TRUST_SERVER=", STARTUP_TIMEOUT)
        with launcher(data, server_port, signer_port) as second:
            assert second.proc.wait(timeout=STARTUP_TIMEOUT) == 1
            out = second.read_until("in use", timeout=5)
        assert out.splitlines() == [
            (
                f"run_embedded: ports {server_port} (server) and {signer_port} (signer) on "
                "127.0.0.1 are in use: another instance (or another program) holds them; stop it, "
                "or choose other ports: make run SERVER_PORT=... SIGNER_PORT=..."
            )
        ]
        assert "notary-py is running" not in out
        assert first.proc.poll() is None
        run_checked(
            [sys.executable, SCRIPTS / "healthcheck.py", data / "server-config.json"], timeout=30
        )
        _stop(first)
