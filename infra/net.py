"""Ports and processes of the local servers, shared by the Kafka and Postgres launchers."""

from __future__ import annotations

import contextlib
import errno
import os
import random
import socket
import subprocess
import time
from pathlib import Path

from infra.errors import InfraError

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def port_in_use(host: str, port: int) -> bool:
    """Whether another process listens on (or holds) ``host:port``.

    Binds with ``SO_REUSEADDR`` as the JVM and postgres do, so a port in TIME_WAIT counts as free.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nobody holds now, chosen below the kernel's ephemeral range.

    Binding port 0 would give one from that range, which any outgoing connection (a Kafka client's,
    say) may take between the pick and the bind of the server it is meant for; the kernel never hands
    out ports below the range that way.
    """
    low = ephemeral_low()
    floor = min(20_000, low // 2)
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(floor, low)
        if not port_in_use(host, port):
            return port
    raise InfraError(f"no free port between {floor} and {low} on {host}")


def ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux's setting; 32768 elsewhere)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    return 32768


def alive(pid: int) -> bool:
    """Whether ``pid`` runs; reaps it first when it is our own exited child (else it stays a zombie)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def command_line(pid: int) -> str:
    """The command line of ``pid`` (``/proc`` on Linux, ``ps`` elsewhere), or "" if unknown."""
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    done = subprocess.run(
        ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    return done.stdout


def send_signal(pid: int, sig: int) -> None:
    """Send ``sig`` to ``pid``; a process that has exited meanwhile is not an error."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def wait_exit(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``pid`` to end; whether it did."""
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
