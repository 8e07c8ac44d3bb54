"""The committed gRPC stubs match ``notary_proto/signer.proto``, which matches Go's.

``signer.proto`` must stay a byte-for-byte copy of Go notary v0.7.0's
``proto/signer.proto`` (checked by its SHA-256), the generated stubs must be
what ``scripts/gen_proto.py`` produces from it today, and they must serve the
method paths a Go notary-server calls.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from notary_proto import signer_pb2, signer_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
GENERATED = (
    "notary_proto/signer_pb2.py",
    "notary_proto/signer_pb2.pyi",
    "notary_proto/signer_pb2_grpc.py",
    "notary_proto/signer_pb2_grpc.pyi",
)
# sha256 of proto/signer.proto in the Go notary 0.7.0 source (NOTARY_VERSION 0.7.0).
GO_SIGNER_PROTO_SHA256 = "ed2ca16ef910369b9b68455a401cc3147516044d539d59bc7975f64545929c39"
GO_METHOD_PATHS = {
    "/proto.KeyManagement/CreateKey",
    "/proto.KeyManagement/DeleteKey",
    "/proto.KeyManagement/GetKeyInfo",
    "/proto.Signer/Sign",
}


def test_proto_is_go_notary_0_7_copy() -> None:
    data = (ROOT / "notary_proto/signer.proto").read_bytes()
    assert hashlib.sha256(data).hexdigest() == GO_SIGNER_PROTO_SHA256


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("proto")
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/gen_proto.py"), "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


@pytest.mark.parametrize("name", GENERATED)
def test_committed_stub_is_up_to_date(regenerated: Path, name: str) -> None:
    committed = (ROOT / name).read_text(encoding="utf-8")
    fresh = (regenerated / name).read_text(encoding="utf-8")
    assert committed == fresh, f"{name} is stale: run `make proto` and commit the result"


def test_regeneration_writes_nothing_else(regenerated: Path) -> None:
    written = {str(p.relative_to(regenerated)) for p in regenerated.rglob("*") if p.is_file()}
    assert written == set(GENERATED)


def test_descriptor_declares_go_method_paths() -> None:
    paths = {
        f"/{service.full_name}/{method.name}"
        for service in signer_pb2.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }
    assert paths == GO_METHOD_PATHS


class _RecordingChannel:
    """Stands in for a grpc channel; records the method paths stubs bind to."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def unary_unary(self, path: str, **_: Any) -> str:
        self.paths.append(path)
        return path


def test_stubs_call_go_method_paths() -> None:
    channel = _RecordingChannel()
    signer_pb2_grpc.KeyManagementStub(channel)
    signer_pb2_grpc.SignerStub(channel)
    assert sorted(channel.paths) == sorted(GO_METHOD_PATHS)
