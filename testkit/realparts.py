"""Real parts for the gate's end-to-end tests: a registry, the gate, skopeo, a tiny OCI image.

* :class:`RegistryProcess`: Debian's ``docker-registry`` (distribution 2.8)
  serving a filesystem store under the test's directory over plain HTTP on a
  free loopback port.
* :class:`GateProcess`: ``python -m notary_gate`` in front of it.

Both run as ``notary_runtime.processes`` children (ADR 0030).
* :func:`write_oci_layout`: a one-layer image in the OCI layout format, made
  from nothing but bytes (a tar with one file, a config, a manifest).
* :class:`Skopeo`: ``skopeo copy`` with no credentials, no TLS and its own
  policy file.

Missing binaries skip the test, or fail it when ``CI=true``
(:func:`require_binaries`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from notary_runtime.processes import ChildProcess, free_port, http_probe, no_proxy_env, tail_of
from testkit.ci import missing_real_part
from testkit.gotools import GoToolError

REPO_ROOT = Path(__file__).resolve().parents[1]
REGISTRY_BIN = "docker-registry"
SKOPEO_BIN = "skopeo"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
STARTUP_TIMEOUT = 30.0


def require_binaries(*names: str) -> None:
    """Skip (or fail when ``CI=true``) unless every program in ``names`` is installed."""
    missing = [name for name in names if shutil.which(name) is None]
    if not missing:
        return
    reason = f"missing {', '.join(missing)}; apt-get install -y docker-registry skopeo notary"
    missing_real_part(reason)


def http(
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
    context: ssl.SSLContext | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP(S) request (no proxy); HTTP errors are returned, not raised."""
    request = urllib.request.Request(url, method=method, headers=headers or {})  # noqa: S310
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


_UNVERIFIED = ssl.create_default_context()
_UNVERIFIED.check_hostname = False
_UNVERIFIED.verify_mode = ssl.CERT_NONE  # only to see that the port answers


class _Process:
    """A program on a loopback port (kept across restarts), ready once a GET answers."""

    name = "process"
    scheme = "http"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = 0
        self.log_path = workdir / f"{self.name}.log"
        self._process: ChildProcess | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The process ID (after :meth:`start`)."""
        assert self._process is not None
        return self._process.pid

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _environment(self) -> dict[str, str]:
        return no_proxy_env(os.environ)

    def _probe_path(self) -> str:
        raise NotImplementedError

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        self._process = ChildProcess(
            self.name,
            self._command(),
            self.log_path,
            env=self._environment(),
            cwd=self.workdir,
            error=GoToolError,
        )
        probe = http_probe(
            self.url + self._probe_path(), context=_UNVERIFIED, any_status=True, timeout=2.0
        )
        self._process.start_ready(probe, STARTUP_TIMEOUT)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.stop()

    def log(self) -> str:
        return tail_of(self.log_path, 20000)


class RegistryProcess(_Process):
    """``docker-registry serve config.yml``: filesystem storage, HTTP, deletes allowed."""

    name = "docker-registry"

    def _command(self) -> list[str]:
        storage = self.workdir / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n"
            "storage:\n"
            f"  filesystem:\n    rootdirectory: {storage}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n"
        )
        return [REGISTRY_BIN, "serve", str(config)]

    def _probe_path(self) -> str:
        return "/v2/"


class GateProcess(_Process):
    """``python -m notary_gate`` with the given configuration (``server`` filled in)."""

    name = "notary-gate"

    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        super().__init__(workdir)
        self.config = config

    def _command(self) -> list[str]:
        config = dict(self.config)
        config["server"] = {"http_addr": self.address} | config.get("server", {})
        path = self.workdir / "gate-config.json"
        path.write_text(json.dumps(config, indent=2))
        return [sys.executable, "-m", "notary_gate", "--config", str(path), "--logf", "json"]

    def _environment(self) -> dict[str, str]:
        env = super()._environment()
        env["PYTHONPATH"] = str(REPO_ROOT)  # also before `pip install -e .` learns the package
        return env

    def _probe_path(self) -> str:
        return "/metrics"

    def denials(self) -> list[dict[str, Any]]:
        """The gate's log records of denied manifests."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [json.loads(x) for x in lines if x.startswith("{") and '"reason"' in x]


@dataclass(frozen=True)
class Image:
    """An image in an OCI layout directory, and its manifest."""

    layout: Path
    tag: str
    manifest: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.manifest).hexdigest()


def _blob(layout: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def write_oci_layout(layout: Path, tag: str, content: str) -> Image:
    """A one-layer image whose only file says ``content``, tagged ``tag`` in ``layout``."""
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    data = content.encode()
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(data))
    layer = _blob(layout, tar_bytes.getvalue())
    diff_id = layer["digest"]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "config": {},
    }
    config_desc = _blob(layout, json.dumps(config).encode())
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_desc},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}],
        }
    ).encode()
    manifest_desc = _blob(layout, manifest)
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                **manifest_desc,
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    return Image(layout, tag, manifest)


class Skopeo:
    """``skopeo copy`` over plain HTTP with no credentials and an accept-anything policy."""

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.policy = workdir / "policy.json"
        self.policy.write_text('{"default":[{"type":"insecureAcceptAnything"}]}')

    def copy(self, source: str, destination: str) -> subprocess.CompletedProcess[str]:
        argv = [
            SKOPEO_BIN,
            "--policy",
            str(self.policy),
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--src-no-creds",
            "--dest-no-creds",
            "--preserve-digests",
            source,
            destination,
        ]
        env = no_proxy_env(os.environ)
        env["HOME"] = str(self.workdir)
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
            cwd=self.workdir,
        )


PULLED = re.compile(r"Pull \(1 of 1\): \S+@(sha256:[0-9a-f]{64})")


class DockerTrustPull:
    """``DOCKER_CONTENT_TRUST=1 docker pull`` with no daemon: only the trust resolution.

    docker resolves the tag through the trust server, prints
    ``Pull (1 of 1): NAME:TAG@sha256:…`` and then fails to reach the (absent)
    daemon; an unsigned tag fails before that line.
    """

    def __init__(self, workdir: Path, trust_url: str, trust_port: int, ca_path: Path) -> None:
        config_dir = workdir / "docker-config"
        certs = config_dir / "tls" / f"127.0.0.1:{trust_port}"
        certs.mkdir(parents=True, exist_ok=True)
        shutil.copy(ca_path, certs / "ca.crt")
        (workdir / "home").mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.env = no_proxy_env(os.environ) | {
            "DOCKER_CONFIG": str(config_dir),
            "HOME": str(workdir / "home"),
            "DOCKER_HOST": f"tcp://127.0.0.1:{free_port()}",  # nothing listens: no daemon
            "DOCKER_CONTENT_TRUST": "1",
            "DOCKER_CONTENT_TRUST_SERVER": trust_url,
        }

    def resolve(self, reference: str) -> str | None:
        """The digest docker would pull for ``reference``; ``None`` when trust refuses it."""
        done = subprocess.run(
            ["docker", "pull", reference],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.workdir,
            timeout=60,
            check=False,
        )
        found = PULLED.search(done.stdout)
        return found[1] if found is not None else None
