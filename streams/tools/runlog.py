"""The log file of a child process that earlier runs may have written to as well."""

from __future__ import annotations

from pathlib import Path


class RunLog:
    """``path`` read from where it ended when this run began.

    Worker logs are appended to across runs (the demo's report folder, a resumed replay), so an older
    run's "Ready" must not answer for this one. Create it before starting the process.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "worker.log"
    >>> _ = path.write_text("[old run] Ready\\n")
    >>> log = RunLog(path)
    >>> log.has("Ready"), log.last_line()
    (False, 'no output')
    >>> with path.open("a") as out:
    ...     _ = out.write("[this run] Ready\\n")
    >>> log.has("Ready"), log.last_line()
    (True, '[this run] Ready')
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.start = path.stat().st_size if path.exists() else 0

    def text(self) -> str:
        """What this run has written so far."""
        if not self.path.exists():
            return ""
        with self.path.open("rb") as log:
            log.seek(self.start)
            return log.read().decode(errors="replace")

    def has(self, marker: str) -> bool:
        return marker in self.text()

    def last_line(self) -> str:
        lines = self.text().strip().splitlines()
        return lines[-1] if lines else "no output"

    def __str__(self) -> str:
        return str(self.path)
