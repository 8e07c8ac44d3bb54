"""The side-by-side server pair the client walks run against.

``go``: the Debian ``notary-server`` with in-memory storage and its local trust
service; ``ours``: ``python -m notary_server`` on sqlite3 with its local trust
service. Both over TLS on loopback, each with its own throw-away CA.

Our server runs without its key creation budget (ADR 0021): one sweep creates
thousands of repositories from one address, and Go has no such budget, so the
comparison would otherwise measure the budget instead of the verdicts.

``our_code`` runs our server from another copy of the packages (e.g. ``git archive
HEAD notary_tuf notary_server notary_runtime notary_proto notary_signer`` unpacked
into a directory), to replay walks against committed or deliberately broken code.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

from testkit.gotools import GoNotaryServer, NotaryServerProcess, require_go_tools
from testkit.ourserver import OurNotaryServer

if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType

NO_KEY_BUDGET = {"limits": {"key_creation": {"per_second": 0}}}

SIDES = ("go", "ours")
"""Side names, in the order reports show them."""


class _OurServerFrom(OurNotaryServer):
    """Our server importing its packages from ``code`` first."""

    def __init__(self, workdir: Path, *, code: Path) -> None:
        super().__init__(
            workdir, storage="sqlite3", log_level="warning", extra_config=NO_KEY_BUDGET
        )
        self.code = code

    def _environment(self) -> dict[str, str]:
        env = super()._environment()
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.code), env.get("PYTHONPATH")]))
        return env


@dataclass
class ServerPair:
    """Start both servers on enter, stop both on exit (``our_code``: see the module docstring)."""

    workdir: Path
    our_code: Path | None = None
    servers: dict[str, NotaryServerProcess] | None = None
    _stack: ExitStack | None = None

    def __enter__(self) -> Self:
        """Start Go's server and ours; stop whichever started if the other fails."""
        require_go_tools()
        with ExitStack() as stack:
            go = stack.enter_context(GoNotaryServer(self.workdir / "go-server"))
            our_dir = self.workdir / "our-server"
            ours = stack.enter_context(
                OurNotaryServer(
                    our_dir, storage="sqlite3", log_level="warning", extra_config=NO_KEY_BUDGET
                )
                if self.our_code is None
                else _OurServerFrom(our_dir, code=self.our_code)
            )
            self.servers = {"go": go, "ours": ours}
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop both servers."""
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()

    def __getitem__(self, side: str) -> NotaryServerProcess:
        """The server of ``side`` (``"go"`` or ``"ours"``)."""
        if self.servers is None:
            raise RuntimeError("server pair not started")
        return self.servers[side]
