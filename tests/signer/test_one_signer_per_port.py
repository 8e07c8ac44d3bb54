"""A second ``python -m notary_signer`` on a port a signer already holds refuses to start.

gRPC sets SO_REUSEPORT by default, so without ``grpc.so_reuseport`` = 0 the second
process would listen too and take a share of the server's calls (issue #19). Go's
signer fails with "address in use"; ours says so in one line and exits non-zero.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from notary_signer.server import AddressInUseError, check_address_free
from tests.signer.conftest import ALIAS, ENVIRON, TLSFiles
from tests.signer.gosigner import SignerProcess

pytestmark = pytest.mark.timeout(120)


def test_second_signer_on_the_same_port_exits_with_one_line(
    tmp_path: Path, tls_files: TLSFiles
) -> None:
    storage = {"backend": "sqlite3", "db_url": str(tmp_path / "a.db"), "default_alias": ALIAS}
    with SignerProcess(tmp_path / "first", tls_files, storage, dict(ENVIRON), go=False) as first:
        second = subprocess.run(
            [sys.executable, "-m", "notary_signer", "--config", str(first.config_path)],
            capture_output=True,
            text=True,
            env={**os.environ, **ENVIRON},
            stdin=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
        assert first.running
    assert second.returncode != 0
    lines = second.stderr.strip().splitlines()
    expected = (
        f"notary_signer: cannot serve: 127.0.0.1:{first.port}: address already in use "
        "(is another notary-signer running?)"
    )
    assert lines == [expected], second.stderr
    assert "listening" not in second.stdout + second.stderr


def test_probe_names_the_address(tmp_path: Path) -> None:
    import socket  # noqa: PLC0415

    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]
        with pytest.raises(AddressInUseError, match=f"127.0.0.1:{port}: address already in use"):
            check_address_free(f"127.0.0.1:{port}")
    check_address_free(f"127.0.0.1:{port}")  # free again
