"""A walk as a shell script one can replay against any notary server."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from testkit.gotools import DEFAULT_PASSPHRASE, PASSPHRASE_ENV_VARS
from tests.differential.material import FILES_DIR, Material
from tests.differential.model import Op

_PREAMBLE = """\
# Replay against one server: SERVER=https://127.0.0.1:PORT CA=/path/to/ca.pem sh replay.sh
# Each client (owner, collab, fresh-N) has its own trust dir under $W.
set -u
: "${{SERVER:?set SERVER}}" "${{CA:?set CA}}"
W=$(mktemp -d) && F=$W/files && mkdir -p "$F"
{exports}
n() {{
  c=$1; shift; mkdir -p "$W/$c"
  HOME="$W/$c" notary -d "$W/$c" -s "$SERVER" --tlscacert "$CA" "$@"
}}
"""


@dataclass(frozen=True)
class ReplayLine:
    """One command of the replay and its comment (step number, exit statuses)."""

    op: Op
    comment: str


def shell_line(op: Op) -> str:
    """``n <client> <args>`` with the material placeholder as ``$F``."""
    prefix = f"{FILES_DIR}/"
    words = [
        f'"$F"/{shlex.quote(arg.removeprefix(prefix))}'
        if arg.startswith(prefix)
        else shlex.quote(arg)
        for arg in op.args
    ]
    line = f"n {op.actor} {' '.join(words)}"
    if op.stdin is not None:
        answers = " ".join(shlex.quote(answer) for answer in op.stdin.splitlines())
        return f"printf '%s\\n' {answers} | {line}"
    return f"{line} </dev/null"


def _used_files(lines: list[ReplayLine]) -> list[str]:
    used: list[str] = []
    prefix = f"{FILES_DIR}/"
    for line in lines:
        for arg in line.op.args:
            if arg.startswith(prefix) and arg[len(prefix) :] not in used:
                used.append(arg[len(prefix) :])
    return used


def replay_script(material: Material, lines: list[ReplayLine]) -> str:
    """The whole script: preamble, the files the commands read, then the commands."""
    exports = "\n".join(f"export {var}={DEFAULT_PASSPHRASE}" for var in PASSPHRASE_ENV_VARS)
    parts = [_PREAMBLE.format(exports=exports)]
    for name in _used_files(lines):
        text = material.texts[name]
        parts.append(f"cat > \"$F/{name}\" <<'EOF'\n{text.rstrip()}\nEOF\n")
    parts.extend(f"{shell_line(line.op)}  # {line.comment}\n" for line in lines)
    return "".join(parts)
