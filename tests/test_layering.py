"""Import layering and module size of the first-party packages (docs/house-rules.md#layering).

The rules, checked on the source with ``ast`` rather than by importing it:

* ``notary_server`` and ``notary_signer`` never import each other: the server
  reaches the signer only over gRPC. Both may import ``notary_runtime``.
* ``notary_runtime`` holds the plumbing both services share (ADR 0013): it
  imports neither service, nor ``notary_proto``, nor a web or gRPC library.
* ``notary_gate`` (the registry gate) builds on ``notary_tuf`` and
  ``notary_runtime`` only: it never imports either service, nor gRPC.
* ``notary_tuf`` is pure and synchronous: it imports no web, database or gRPC
  library and none of the packages built on it (``notary_runtime`` included).
* Shipped code never imports what is not shipped: ``tests``, ``testkit`` (the
  harness the tests and the benchmarks share) and ``bench``; and ``bench`` and
  ``testkit`` never import ``tests`` (ADR 0030).
* No module is longer than 1,000 lines.

Every import counts, including those under ``if TYPE_CHECKING:`` or inside
functions, and so do ``importlib.import_module("…")`` and ``__import__("…")``
with a literal name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("notary_tuf", "notary_runtime", "notary_server", "notary_signer", "notary_gate")
PACKAGES = (*SHIPPED, "testkit", "bench")
NOT_SHIPPED = frozenset({"tests", "testkit", "bench"})
_FORBIDDEN_IN_SHIPPED: dict[str, frozenset[str]] = {
    "notary_tuf": frozenset(
        {
            "aiohttp",
            "asyncpg",
            "grpc",
            "grpc_health",
            "notary_runtime",
            "notary_server",
            "notary_signer",
            "notary_proto",
            "notary_gate",
        }
    ),
    "notary_runtime": frozenset(
        {
            "aiohttp",
            "grpc",
            "grpc_health",
            "notary_server",
            "notary_signer",
            "notary_proto",
            "notary_gate",
        }
    ),
    "notary_server": frozenset({"notary_signer"}),
    "notary_signer": frozenset({"notary_server"}),
    # The registry gate reads trust data over HTTP like any client (issue #16).
    "notary_gate": frozenset({"notary_server", "notary_signer", "notary_proto", "grpc", "asyncpg"}),
}
FORBIDDEN: dict[str, frozenset[str]] = {
    **{package: names | NOT_SHIPPED for package, names in _FORBIDDEN_IN_SHIPPED.items()},
    # The benchmarks and the shared harness reuse test code only through testkit (ADR 0030).
    "testkit": frozenset({"tests", "bench"}),
    "bench": frozenset({"tests"}),
}
MAX_LINES = 1000


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported_modules(source: str) -> set[str]:
    """Return the absolute module names ``source`` imports.

    Relative imports (``from . import x``) stay inside their own package and
    are left out.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and _callee_name(node.func) in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


def _callee_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def test_imported_modules_sees_every_form() -> None:
    source = """
import aiohttp.web
import os, grpc as g
from asyncpg import pool
from . import sibling
from .sub import thing
import importlib
if TYPE_CHECKING:
    from notary_server.app import create_app
def f():
    import notary_signer
    importlib.import_module("grpc_health.v1")
    __import__("notary_proto")
"""
    assert imported_modules(source) == {
        "aiohttp.web",
        "os",
        "grpc",
        "asyncpg",
        "importlib",
        "notary_server.app",
        "notary_signer",
        "grpc_health.v1",
        "notary_proto",
    }


@pytest.mark.parametrize("package", PACKAGES)
def test_package_respects_layering(package: str) -> None:
    modules = _modules(package)
    assert modules, f"no Python files found in {package}/"
    violations = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules
        for name in sorted(imported_modules(path.read_text(encoding="utf-8")))
        if name.split(".")[0] in FORBIDDEN[package]
    ]
    assert violations == []


@pytest.mark.parametrize("package", PACKAGES)
def test_modules_stay_under_size_limit(package: str) -> None:
    line_counts = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in _modules(package)
    }
    too_long = {path: lines for path, lines in line_counts.items() if lines > MAX_LINES}
    assert too_long == {}
