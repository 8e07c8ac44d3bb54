"""The project as pip and the Dockerfile build it (ADR 0029).

The schema migrations live in the top-level ``migrations/`` (Go's layout) and reach the
installed packages as ``notary_server._migrations`` and ``notary_signer._migrations``
through setuptools' ``package-dir``, so ``pyproject.toml`` lists its packages instead of
finding them. These tests fail when a package folder is missing from that list, when the
Dockerfile or ``.dockerignore`` leaves out a folder the build needs, and when a wheel
built from exactly the Dockerfile's sources, installed into a fresh virtualenv outside the
checkout, lacks a migration file or cannot migrate the server's and the signer's SQLite
databases. The editable install is what every other test runs on.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

from notary_server.storage.migrate import MIGRATOR as SERVER_MIGRATOR
from notary_signer.config import env_name
from notary_signer.keystore.migrate import MIGRATOR as SIGNER_MIGRATOR
from tests.signer.conftest import ALIAS, ENVIRON, write_tls_files

ROOT = Path(__file__).resolve().parent.parent
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
PACKAGES: list[str] = SETUPTOOLS["packages"]
PACKAGE_DIR: dict[str, str] = SETUPTOOLS["package-dir"]
MAPPED = {
    "notary_server._migrations": "migrations/server",
    "notary_signer._migrations": "migrations/signer",
}


def _folder(package: str) -> Path:
    """Where setuptools takes ``package`` from: its longest ``package-dir`` prefix, or the root."""
    parts = package.split(".")
    for end in range(len(parts), 0, -1):
        mapped = PACKAGE_DIR.get(".".join(parts[:end]))
        if mapped is not None:
            return ROOT / mapped / Path(*parts[end:])
    return ROOT / Path(*parts)


def _tree(root: Path) -> set[Path]:
    return {d for d in (root, *root.rglob("*")) if d.is_dir() and "__pycache__" not in d.parts}


def test_pyproject_lists_every_package_folder() -> None:
    assert PACKAGE_DIR == MAPPED
    assert {SERVER_MIGRATOR.package, SIGNER_MIGRATOR.package} == set(MAPPED)
    assert len(set(PACKAGES)) == len(PACKAGES)
    folders = {_folder(p) for p in PACKAGES}
    roots = {_folder(p) for p in PACKAGES if "." not in p} | {ROOT / d for d in MAPPED.values()}
    assert {f for root in roots for f in _tree(root)} == folders


def _docker_build_sources() -> list[str]:
    """What the Dockerfile copies before ``pip install .``."""
    sources: list[str] = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("RUN pip install ."):
            return sources
        if line.startswith("COPY "):
            sources += line.split()[1:-1]
    raise AssertionError("the Dockerfile has no `RUN pip install .`")


def test_dockerfile_copies_what_the_build_needs() -> None:
    sources = _docker_build_sources()
    tops = {_folder(p).relative_to(ROOT).parts[0] for p in PACKAGES}
    assert {"pyproject.toml", "README.md", *tops} <= set(sources)
    admitted = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().split()}
    assert {f"!{source}" for source in sources} <= admitted


def _run(argv: list[str | Path], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"{argv}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _versions(folder: Path) -> str:
    return ", ".join(str(int(p.name.split("_")[0])) for p in sorted(folder.glob("*.sql")))


def test_wheel_carries_the_migrations_and_migrates_outside_the_checkout(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # The wheel is built from exactly what the Dockerfile copies, in a copy of its own.
    src = tmp_path / "src"
    src.mkdir()
    for source in _docker_build_sources():
        if (ROOT / source).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(ROOT / source, src / source, ignore=ignore)
        else:
            shutil.copy2(ROOT / source, src / source)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    wheels = tmp_path / "wheels"
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", wheels, src], tmp_path, env)
    (wheel,) = wheels.glob("*.whl")

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for package, folder in MAPPED.items():
        for sql in (ROOT / folder).rglob("*.sql"):
            assert f"{package.replace('.', '/')}/{sql.relative_to(ROOT / folder)}" in names
    assert not any(name.startswith("migrations/") for name in names)

    # A fresh virtualenv holding the wheel; its dependencies come from this one's
    # site-packages, added by a .pth after its own (a path a .pth adds runs no .pth
    # of its own, so this environment's editable install stays out).
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path, env)
    python = venv / "bin" / "python"
    _run([*pip, "--python", python, "install", "--no-deps", "--no-index", wheel], tmp_path, env)
    purelib = _run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path, env
    )
    (Path(purelib.strip()) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    run = tmp_path / "run"
    run.mkdir()
    where = "import notary_server._migrations as a, notary_signer._migrations as b\n"
    located = _run([python, "-c", where + "print(a.__file__, b.__file__)"], run, env)
    for path in located.split():
        assert Path(path).is_relative_to(venv), located

    server_config = run / "server-config.json"
    server_config.write_text(
        json.dumps(
            {
                "server": {"http_addr": "127.0.0.1:0"},
                "trust_service": {"type": "local"},
                "storage": {"backend": "sqlite3", "db_url": "server.db"},
            }
        )
    )
    tls = write_tls_files(run)
    signer_config = run / "signer-config.json"
    signer_config.write_text(
        json.dumps(
            {
                "server": {
                    "grpc_addr": "127.0.0.1:0",
                    "tls_cert_file": str(tls.server.cert_file),
                    "tls_key_file": str(tls.server.key_file),
                    "client_ca_file": str(tls.ca_file),
                },
                "storage": {"backend": "sqlite3", "db_url": "signer.db", "default_alias": ALIAS},
            }
        )
    )
    signer_env = env | ENVIRON
    assert env_name(ALIAS) in signer_env
    for module, config, folder, environ in (
        ("notary_server", server_config, "migrations/server/sqlite", env),
        ("notary_signer", signer_config, "migrations/signer/sqlite", signer_env),
    ):
        migrated = _run([python, "-m", module, "migrate", "--config", config], run, environ)
        assert migrated == f"applied migrations: {_versions(ROOT / folder)}\n"
    for db, table in (("server.db", "tuf_files"), ("signer.db", "private_keys")):
        with sqlite3.connect(run / db) as conn:
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)  # noqa: S608
        conn.close()
