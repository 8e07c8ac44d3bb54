"""What ``/proc`` tells about a server's processes and their TCP sockets.

Used by the benchmark (waiting for every worker, measuring RSS) and by the
worker tests (which worker holds which connection).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

__all__ = ["TCP_ESTABLISHED", "TCP_LISTEN", "cpu_seconds", "process_tree", "socket_ports"]

TCP_ESTABLISHED: Final = "01"
TCP_LISTEN: Final = "0A"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time process ``pid`` has used so far (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants (a supervisor's workers), parents first."""
    found = [root]
    index = 0
    while index < len(found):
        pid = found[index]
        index += 1
        try:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                found.extend(int(child) for child in (task / "children").read_text().split())
            except (OSError, ValueError):
                continue
    return found


def socket_ports(pid: int, local_port: int, state: str) -> set[int]:
    """Remote ports of the IPv4 TCP sockets on ``local_port`` in ``state`` that ``pid`` holds.

    ``state`` is the kernel's code in ``/proc/net/tcp``: :data:`TCP_ESTABLISHED`,
    or :data:`TCP_LISTEN` (whose remote port is 0, so the answer is ``{0}``).
    A process that has gone holds nothing.
    """
    inodes = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return set()
    for fd in fds:
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        port = int(fields[1].split(":")[1], 16)
        if port == local_port and fields[3] == state and fields[9] in inodes:
            ports.add(int(fields[2].split(":")[1], 16))
    return ports
