"""The dashboard's aiohttp app on an in-memory state (no broker): page, static files, JSON, SSE."""

from __future__ import annotations

import asyncio
import json
import re

from aiohttp.test_utils import TestClient, TestServer

from streams.tools.dashboard.state import DashboardState, Fed
from streams.tools.dashboard.web import STATIC, make_app


def status(units_sold: int) -> Fed:
    value = {"sku": "A", "on_hand": 5, "inbound": 0, "discount": 0.1, "units_sold": units_sold}
    return Fed("sku-status", b"A", json.dumps(value).encode(), 1_794_398_400_000)


async def test_the_page_and_its_scripts_are_served_from_package_data() -> None:
    async with TestClient(TestServer(make_app(DashboardState()))) as client:
        page = await client.get("/")
        assert page.status == 200 and 'src="/static/dashboard.js"' in await page.text()
        for name in ("dashboard.js", "charts.js", "dashboard.css"):
            asset = await client.get(f"/static/{name}")
            assert asset.status == 200, name


def test_the_page_loads_nothing_from_elsewhere() -> None:
    urls = {u for f in STATIC.iterdir() for u in re.findall(r"https?://[^\s\"'`]+", f.read_text())}
    assert urls <= {"http://www.w3.org/2000/svg"}  # the SVG namespace is a name, not a fetch


async def test_snapshot_is_the_state_as_json() -> None:
    state = DashboardState(namespace="ns1")
    state.fold(status(7))
    async with TestClient(TestServer(make_app(state))) as client:
        response = await client.get("/snapshot", params={"sku": "A"})
        body = await response.json()
    assert body["namespace"] == "ns1" and body["skus"][0]["units_sold"] == 7
    assert body["series"]["sku"] == "A"


async def test_events_push_a_snapshot_and_then_each_change() -> None:
    state = DashboardState()
    state.fold(status(1))
    async with TestClient(TestServer(make_app(state))) as client:
        response = await client.get("/events")
        assert response.headers["Content-Type"].startswith("text/event-stream")
        first = await asyncio.wait_for(next_event(response), 5)
        state.fold(status(2))
        second = await asyncio.wait_for(next_event(response), 5)
        response.close()
    assert first["skus"][0]["units_sold"] == 1 and second["skus"][0]["units_sold"] == 2


async def next_event(response) -> dict:  # type: ignore[no-untyped-def]
    """The next ``data:`` message of a Server-Sent Events stream, decoded."""
    while True:
        line = (await response.content.readline()).decode()
        if line.startswith("data: "):
            return json.loads(line.removeprefix("data: "))
