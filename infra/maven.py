"""Jars from Maven Central for the local stack, fetched once into a cache directory with ``mvn``."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from infra.errors import InfraError

MARKER = ".complete"  # written last: a cache directory without it is an interrupted download
_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
_POM_HEAD = """<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>flashsale</groupId><artifactId>jars</artifactId><version>1</version><dependencies>
"""
_POM_DEP = "<dependency><groupId>{}</groupId><artifactId>{}</artifactId><version>{}</version></dependency>\n"


def _pom(artifacts: Iterable[str]) -> str:
    """A pom whose only purpose is to depend on ``group:artifact:version`` coordinates."""
    deps = "".join(_POM_DEP.format(*coordinate.split(":")) for coordinate in artifacts)
    return f"{_POM_HEAD}{deps}</dependencies></project>\n"


def _mvn_error(output: str) -> str:
    """The last informative ``[ERROR]`` line of Maven's output (not its help boilerplate)."""
    output = re.sub(r"\x1b\[[0-9;]*m", "", output)  # Maven may colour its output even in batch mode
    noise = ("[Help", "Re-run Maven", "For more information", "To see the full stack trace")
    lines = [line.split("[ERROR]", 1)[1].strip() for line in output.splitlines() if "[ERROR]" in line]
    useful = [
        line.removesuffix("-> [Help 1]").strip() for line in lines if line and not line.startswith(noise)
    ]
    return useful[-1] if useful else (output.strip().splitlines() or ["no output"])[-1]


def maven_jars(artifacts: list[str], target: Path) -> Path:
    """Copy ``artifacts`` and their runtime dependencies into ``target`` once, using ``mvn``.

    The jars are resolved in a temporary directory next to ``target`` and renamed into place with
    a marker file, so an interrupted download never looks complete.
    """
    if (target / MARKER).exists():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise InfraError(f"Maven (`mvn`) not found: install Maven to download {artifacts[0]}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}-") as tmp:
        work, jars = Path(tmp), Path(tmp) / "jars"
        (work / "pom.xml").write_text(_pom(artifacts))
        cmd = [mvn, "-q", "-B", "-Dstyle.color=never", f"{_DEPENDENCY_PLUGIN}:copy-dependencies"]
        cmd += ["-DincludeScope=runtime", f"-DoutputDirectory={jars}"]
        done = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not jars.is_dir():
            raise InfraError(f"Maven could not fetch {artifacts[0]}: {_mvn_error(done.stdout + done.stderr)}")
        (jars / MARKER).write_text("\n".join(artifacts) + "\n")
        if target.exists() and not (target / MARKER).exists():
            shutil.rmtree(target)  # a leftover without the marker is not a cache
        try:
            jars.rename(target)
        except OSError:
            if not (target / MARKER).exists():  # a concurrent caller finishing first is fine
                raise
    return target
