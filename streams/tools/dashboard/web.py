"""The dashboard's web side: a thin aiohttp app over a :class:`DashboardState`.

``/`` the page, ``/static/*`` its scripts and styles (package data, no CDN), ``/snapshot`` the state as
JSON (tests, curl), ``/events`` the same as Server-Sent Events whenever it changed (the page's
EventSource: live updates without reloads). ``?sku=`` picks the SKU of the forecast chart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from streams.settings import Settings
from streams.tools.dashboard.feed import follow_lag, follow_topics
from streams.tools.dashboard.state import DashboardState

STATIC = Path(__file__).parent / "static"
STATE = web.AppKey("state", DashboardState)
PUSH_INTERVAL_S = 0.5  # at most two updates a second per page
KEEPALIVE_S = 15.0
NO_CACHE = {"Cache-Control": "no-cache"}


class DashboardError(RuntimeError):
    """The dashboard cannot run (its port is taken, say); the message is one line."""


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers=NO_CACHE)


async def snapshot(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response(state.snapshot(request.query.get("sku")), dumps=_dumps, headers=NO_CACHE)


async def events(request: web.Request) -> web.StreamResponse:
    """A snapshot now and after every change (checked each ``PUSH_INTERVAL_S``), until the page leaves."""
    state, sku = request.app[STATE], request.query.get("sku")
    response = web.StreamResponse(headers={**NO_CACHE, "Content-Type": "text/event-stream"})
    await response.prepare(request)
    sent, quiet_s = -1, 0.0
    with contextlib.suppress(ConnectionResetError):
        while True:
            if state.version != sent:
                sent, quiet_s = state.version, 0.0
                await response.write(f"data: {_dumps(state.snapshot(sku))}\n\n".encode())
            elif quiet_s >= KEEPALIVE_S:
                quiet_s = 0.0
                await response.write(b": keep-alive\n\n")
            await asyncio.sleep(PUSH_INTERVAL_S)
            quiet_s += PUSH_INTERVAL_S
    return response


def make_app(state: DashboardState) -> web.Application:
    """The aiohttp app serving ``state``."""
    app = web.Application()
    app[STATE] = state
    app.router.add_get("/", index)
    app.router.add_get("/snapshot", snapshot)
    app.router.add_get("/events", events)
    app.router.add_static("/static/", STATIC)
    return app


async def serve(settings: Settings, host: str, port: int, group: str, say: Callable[[str], Any]) -> None:
    """Listen on ``host:port`` first (a taken port fails at once), then feed the state until SIGTERM."""
    state = DashboardState(
        60 * settings.bucket_minutes, settings.topic_prefix, group, settings.event_time_policy()
    )
    runner = web.AppRunner(make_app(state), shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise DashboardError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    say(f"dashboard: http://{host}:{port}/")
    say(f"watching {f'namespace {settings.topic_prefix}' if settings.topic_prefix else 'the live topics'}, "
        f"lag of group {group}; Ctrl-C stops")  # fmt: skip
    tasks = [
        asyncio.create_task(stop.wait()),
        asyncio.create_task(follow_topics(settings, state)),
        asyncio.create_task(follow_lag(settings, state, group)),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # a feed that died of something unexpected: fail loudly, not serve stale data
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runner.cleanup()


def run_dashboard(settings: Settings, host: str, port: int, group: str, say: Callable[[str], Any]) -> None:
    """Serve until Ctrl-C or SIGTERM."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings, host, port, group, say))
