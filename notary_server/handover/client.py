"""The few requests the hand-over makes to the new notary server (standard library only).

Token authentication follows the Docker registry flow, as the Go client does:
a ``401`` with ``WWW-Authenticate: Bearer realm=…,service=…,scope=…`` is
answered by fetching a token from the realm, with ``NOTARY_AUTH`` (base64 of
``user:password``, the Go CLI's variable) as basic credentials if set.
"""

from __future__ import annotations

import json
import re
import secrets
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Final
from urllib.parse import quote

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = ["NotaryClient", "ServerError", "docker_ca_for"]

TIMEOUT: Final = 60.0
_CHALLENGE_PARAM: Final = re.compile(r'(\w+)="([^"]*)"')


class ServerError(Exception):
    """The server refused a request or could not be reached."""


def docker_ca_for(url: str, env: Mapping[str, str], home: Path) -> Path | None:
    """``$DOCKER_CONFIG/tls/<host:port>/ca.crt``, where docker keeps a notary server's CA."""
    from pathlib import Path  # noqa: PLC0415 - only needed here

    netloc = urllib.parse.urlsplit(url).netloc
    config = Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else home / ".docker"
    candidate = config / "tls" / netloc / "ca.crt"
    return candidate if candidate.is_file() else None


class NotaryClient:
    """GET and multipart POST against one notary server, with an optional bearer token."""

    def __init__(self, base_url: str, *, ca_file: Path | None, basic_auth: str | None) -> None:
        """``basic_auth`` is base64 ``user:password`` for a token realm, or None."""
        self.base_url = base_url.rstrip("/")
        self.context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        self.basic_auth = basic_auth
        self.token: str | None = None
        self.challenge = ""
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=self.context)
        )

    def _send(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes, str]:
        request = urllib.request.Request(  # noqa: S310 - the URL is the operator's https server
            self.base_url + path, data=body, method=method, headers=headers
        )
        if self.token is not None:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with self.opener.open(request, timeout=TIMEOUT) as response:
                return response.status, response.read(), ""
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers.get("WWW-Authenticate", "")
        except (urllib.error.URLError, OSError) as e:
            raise ServerError(f"{self.base_url}: cannot reach the server: {e}") from e

    def _fetch_token(self, challenge: str) -> None:
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        realm = params.pop("realm", None)
        if realm is None or not challenge.lower().startswith("bearer"):
            raise ServerError(
                f"the server asks for authentication this tool cannot do: {challenge}"
            )
        url = realm + "?" + urllib.parse.urlencode(params)
        request = urllib.request.Request(url)  # noqa: S310 - the realm the server named
        if self.basic_auth:
            request.add_header("Authorization", f"Basic {self.basic_auth}")
        try:
            with self.opener.open(request, timeout=TIMEOUT) as response:
                answer = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as e:
            hint = "" if self.basic_auth else " (set NOTARY_AUTH to base64 of user:password)"
            raise ServerError(f"cannot get a token from {realm}: {e}{hint}") from e
        self.token = answer.get("token") or answer.get("access_token")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """Send one request (fetching a token once if challenged); return status and body."""
        status, data, challenge = self._send(method, path, body, headers or {})
        # A token is for one scope (pull, then push and pull): fetch one per new challenge.
        if status == 401 and challenge and challenge != self.challenge:  # noqa: PLR2004
            self.challenge = challenge
            self._fetch_token(challenge)
            status, data, _ = self._send(method, path, body, headers or {})
        return status, data

    def _refusal(self, status: int, body: bytes) -> str:
        text = f"{status} {_error_text(body)}"
        if status in (401, 403) and not self.basic_auth:
            text += " (set NOTARY_AUTH to base64 of user:password)"
        return text

    def get(self, gun: str, name: str) -> bytes:
        """``GET /v2/<gun>/_trust/tuf/<name>``; raise :class:`ServerError` unless 200."""
        path = f"/v2/{quote(gun)}/_trust/tuf/{quote(name)}"
        status, data = self.request("GET", path)
        if status != 200:  # noqa: PLR2004 - ok
            raise ServerError(f"GET {path}: {self._refusal(status, data)}")
        return data

    def publish(self, gun: str, parts: Mapping[str, bytes]) -> None:
        """``POST /v2/<gun>/_trust/tuf/`` with one multipart part per role, as Go uploads."""
        boundary = secrets.token_hex(16)
        chunks = []
        for role, data in parts.items():
            chunks.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
                f'filename="{role}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            )
            chunks.extend([data, b"\r\n"])
        chunks.append(f"--{boundary}--\r\n".encode())
        path = f"/v2/{quote(gun)}/_trust/tuf/"
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        status, data = self.request("POST", path, b"".join(chunks), headers)
        if status != 200:  # noqa: PLR2004 - ok
            raise ServerError(f"POST {path}: {self._refusal(status, data)}")


def _error_text(body: bytes) -> str:
    """Notary's error body (``{"errors": [{"code", "message", "detail"}]}``), shortly."""
    try:
        errors = json.loads(body)["errors"]
        return "; ".join(
            f"{e.get('code')}: {e.get('message')}"
            + (f" ({e['detail']})" if e.get("detail") not in (None, "") else "")
            for e in errors
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return body[:300].decode("utf-8", "replace")
