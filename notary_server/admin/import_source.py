"""Reading the notary server ``admin import`` copies from, with its token flow.

A server with token authentication (Docker Hub's notary among them) answers
an anonymous read with ``401`` and ``WWW-Authenticate: Bearer realm=…,
service=…,scope=…``. As the Go client does, the source asks the realm for a
token for that scope, with ``NOTARY_AUTH`` (base64 of ``user:password``, the
notary CLI's variable) as basic credentials when it is set and anonymously
otherwise, and sends the request again with the token. A token is kept per
scope, so reading many repositories asks once per repository.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Final

import aiohttp

from notary_server.services.importer import RepositoryImportError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["CHANGEFEED_PAGE", "ImportSource"]

CHANGEFEED_PAGE: Final = 1000
MAX_CHANGEFEED_PAGES: Final = 10_000
_CHALLENGE_PARAM: Final = re.compile(r'(\w+)="([^"]*)"')
_OK, _UNAUTHORIZED, _NOT_FOUND = 200, 401, 404


class ImportSource:
    """GETs from the source server: path → body, None on 404."""

    def __init__(
        self, session: aiohttp.ClientSession, base: str, *, basic_auth: str | None
    ) -> None:
        """``basic_auth``: base64 ``user:password`` for the token realm (None: anonymous)."""
        self.session = session
        self.base = base
        self.basic_auth = basic_auth
        self._tokens: dict[str, str] = {}  # challenge scope → bearer token

    async def __call__(self, path: str) -> bytes | None:
        """The body of ``GET path``; None when the source has no such file.

        Raises:
            RepositoryImportError: the source refused or the token realm did.
            aiohttp.ClientError, TimeoutError: the source cannot be reached.
        """
        status, body, challenge = await self._get(self.base + path, None)
        if status == _UNAUTHORIZED and challenge.lower().startswith("bearer"):
            token = await self._token(challenge)
            status, body, _ = await self._get(self.base + path, f"Bearer {token}")
        if status == _NOT_FOUND:
            return None
        if status != _OK:
            text = body[:200].decode(errors="replace")
            hint = ""
            if status == _UNAUTHORIZED and not self.basic_auth:
                hint = " (set NOTARY_AUTH to base64 of user:password)"
            raise RepositoryImportError(f"{path}: the source answered {status} {text}{hint}")
        return body

    async def _get(self, url: str, authorization: str | None) -> tuple[int, bytes, str]:
        headers = {"Authorization": authorization} if authorization else {}
        async with self.session.get(url, headers=headers) as response:
            body = await response.read()
            return response.status, body, response.headers.get("WWW-Authenticate", "")

    async def _token(self, challenge: str) -> str:
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        realm = params.pop("realm", "")
        scope = params.get("scope", "")
        if scope in self._tokens:
            return self._tokens[scope]
        if not realm.startswith(("https://", "http://")):
            raise RepositoryImportError(f"the source asks for a token from {realm!r}")
        headers = {"Authorization": f"Basic {self.basic_auth}"} if self.basic_auth else {}
        async with self.session.get(realm, params=params, headers=headers) as response:
            if response.status != _OK:
                hint = "" if self.basic_auth else " (set NOTARY_AUTH to base64 of user:password)"
                raise RepositoryImportError(
                    f"the token service {realm} answered {response.status}{hint}"
                )
            answer: Mapping[str, object] = json.loads(await response.read())
        token = answer.get("token") or answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise RepositoryImportError(f"the token service {realm} gave no token")
        self._tokens[scope] = token
        return token

    async def all_guns(self) -> list[str]:
        """Every repository the source's changefeed names and has not deleted (``--all``)."""
        guns: dict[str, None] = {}
        change_id = "0"
        for _ in range(MAX_CHANGEFEED_PAGES):
            path = f"/v2/_trust/changefeed?change_id={change_id}&records={CHANGEFEED_PAGE}"
            body = await self(path)
            if body is None:
                raise RepositoryImportError("the source has no changefeed; list the GUNs instead")
            records = json.loads(body).get("records") or []
            for record in records:
                if record.get("Category") == "deletion":
                    guns.pop(record["GUN"], None)
                else:
                    guns[record["GUN"]] = None
            if len(records) < CHANGEFEED_PAGE:
                return list(guns)
            change_id = str(records[-1]["ID"])
        raise RepositoryImportError("the source's changefeed did not end; list the GUNs instead")
