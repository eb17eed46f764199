"""Headless Chromium driven over the Chrome DevTools Protocol (a websocket, with aiohttp: no new
dependency). Every wait polls a condition in the page and fails, after its bound, saying what it
waited for and what it saw last.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

CHROMIUM_FLAGS = (
    "--headless", "--remote-debugging-port=0", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars",
)  # fmt: skip
VIEWPORT = {"width": 1500, "height": 1000, "deviceScaleFactor": 1, "mobile": False}


class Page:
    """One Chromium tab: navigate, evaluate JavaScript in it, wait for a condition, screenshot."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws, self.last_id = ws, 0

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.last_id += 1
        await self.ws.send_json({"id": self.last_id, "method": method, "params": params})
        while True:  # skip events; the domains that send them are not enabled anyway
            message = await self.ws.receive_json(timeout=30)
            if message.get("id") == self.last_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    async def open(self, url: str) -> None:
        await self.send("Emulation.setDeviceMetricsOverride", **VIEWPORT)
        await self.send("Page.navigate", url=url)
        await self.wait_for("document.readyState === 'complete'", f"{url} to load", 30)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise AssertionError(f"{expression}: {details.get('exception', {}).get('description', details)}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, what: str, timeout_s: float = 60) -> Any:
        """The first truthy value of ``expression``; fails after ``timeout_s`` naming ``what``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if loop.time() > deadline:
                raise AssertionError(f"waited {timeout_s:.0f} s for {what}; `{expression}` was {value!r}")
            await asyncio.sleep(0.25)

    async def screenshot(self, path: Path) -> Path:
        """The whole page as a PNG."""
        size = (await self.send("Page.getLayoutMetrics"))["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


async def devtools_port(
    profile: Path, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 30
) -> int:
    """The port Chromium chose (``--remote-debugging-port=0`` writes it to DevToolsActivePort)."""
    loop = asyncio.get_running_loop()
    deadline, file = loop.time() + timeout_s, profile / "DevToolsActivePort"
    while not (file.exists() and len(file.read_text().splitlines()) >= 2):
        if proc.poll() is not None or loop.time() > deadline:
            raise AssertionError(f"Chromium did not open its DevTools port:\n{log.read_text()[-2000:]}")
        await asyncio.sleep(0.1)
    return int(file.read_text().splitlines()[0])


@pytest.fixture
async def chromium(tmp_path: Path) -> AsyncIterator[Page]:
    """A page of a fresh headless Chromium (its own profile), closed after the test."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("Chromium is not installed (apt-get install chromium); in CI this skip fails")
    profile, log = tmp_path / "chromium-profile", tmp_path / "chromium.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        port = await devtools_port(profile, proc, log)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json()
            target = next(t for t in targets if t["type"] == "page")
            async with session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                yield Page(ws)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
