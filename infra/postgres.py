"""A local PostgreSQL server, run detached from the binaries ``infra.pgbinaries`` finds.

Files live under ``<data_dir>/postgres``: the cluster in ``data/``, the server log in ``postgres.log``.

>>> PostgresServer(Path("/tmp/fs"), port=15432).url
'postgresql+psycopg2://flashsale@127.0.0.1:15432/flashsale'
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from infra.errors import InfraError
from infra.net import port_in_use, send_signal
from infra.pgbinaries import Binaries, RunAccount, find_binaries

if TYPE_CHECKING:
    from psycopg2.extensions import connection

_CONF = "flashsale.conf"  # rewritten on every start, so port changes apply


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
    def _account(self) -> RunAccount | None:
        return RunAccount.for_root()

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
            send_signal(pid, signal.SIGINT)  # what `pg_ctl stop -m fast` sends
            if not self._wait_stopped(pid, timeout):
                self.kill()

    def kill(self) -> None:
        """Immediate shutdown, as a crash would (outage tests); the next start recovers from the WAL."""
        pid = self.pid()
        if pid is not None:
            send_signal(pid, signal.SIGQUIT)  # what `pg_ctl stop -m immediate` sends
            if not self._wait_stopped(pid, 10):
                send_signal(pid, signal.SIGKILL)
                self._wait_stopped(pid, 10)

    def check_port(self) -> None:
        """InfraError (one line, naming the port and its setting) if our port is taken."""
        if port_in_use(self.host, self.port):
            raise InfraError(f"Postgres port {self.port} is already in use (set FLASHSALE_POSTGRES_PORT)")

    def binaries(self) -> Binaries:
        """The server binaries for this cluster: of its major version once it exists; InfraError if none."""
        if self._binaries is None:
            self._binaries = find_binaries(self._cluster_major())
        return self._binaries

    def _launch(self, timeout: float) -> None:
        self.check_port()
        binaries = self.binaries()  # fail before touching the disk
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
            [str(self.binaries().bindir / tool), *map(str, args)],
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

    def _cluster_major(self) -> int | None:
        try:
            return int((self.pgdata / "PG_VERSION").read_text().strip())
        except (OSError, ValueError):
            return None

    def _version(self) -> str | None:
        try:
            return self.binaries().version
        except InfraError:
            major = self._cluster_major()
            return str(major) if major else None
