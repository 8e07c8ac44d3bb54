"""Regenerate the gRPC stubs in notary_proto/ from notary_proto/signer.proto.

Run from anywhere with the project's virtualenv interpreter (``make proto``).
``--out DIR`` writes the stubs under ``DIR/notary_proto/`` instead of into the
package, which is how ``tests/test_proto_up_to_date.py`` checks for drift.

protoc runs with the repository root as its include path and the proto given as
``notary_proto/signer.proto``, so the generated code imports ``from
notary_proto import signer_pb2``; generating from inside notary_proto/ would
give a top-level ``import signer_pb2`` that breaks inside the package.

Outputs:
    signer_pb2.py, signer_pb2_grpc.py: grpcio-tools' messages and gRPC stubs.
    signer_pb2.pyi, signer_pb2_grpc.pyi: mypy-protobuf's typed stubs. They
        type the gRPC servicers and stubs too, which grpcio-tools' own
        ``--pyi_out`` does not, so mypy strict can check the code using them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROTO = "notary_proto/signer.proto"
GENERATED = (
    "notary_proto/signer_pb2.py",
    "notary_proto/signer_pb2.pyi",
    "notary_proto/signer_pb2_grpc.py",
    "notary_proto/signer_pb2_grpc.pyi",
)


def _plugin(name: str) -> str:
    """Return ``--plugin`` for a protoc plugin installed beside this interpreter.

    Naming the path lets the script work from a virtualenv that is not
    activated (its bin/ is then not on PATH).
    """
    path = Path(sysconfig.get_path("scripts")) / name
    if not path.exists():
        sys.exit(f"{name} not found in {path.parent}: pip install -e '.[test]'")
    return f"--plugin={name}={path}"


def generate(out_dir: Path) -> None:
    """Run protoc, writing the stubs under ``out_dir/notary_proto/``.

    Args:
        out_dir: Output root; the repository root regenerates in place.

    Raises:
        subprocess.CalledProcessError: protoc failed.
    """
    out = str(out_dir)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            _plugin("protoc-gen-mypy"),
            _plugin("protoc-gen-mypy_grpc"),
            "-I",
            ".",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            f"--mypy_out={out}",
            f"--mypy_grpc_out={out}",
            PROTO,
        ],
        cwd=REPO_ROOT,
        check=True,
    )


def main() -> None:
    """Parse the command line and regenerate."""
    parser = argparse.ArgumentParser(description="Regenerate the gRPC stubs in notary_proto/.")
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT,
        help="output root (default: the repository root, i.e. regenerate in place)",
    )
    generate(parser.parse_args().out.resolve())


if __name__ == "__main__":
    main()
