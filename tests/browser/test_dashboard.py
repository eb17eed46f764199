"""``flashsale dashboard`` in headless Chromium while a simulated sale runs through a real worker.

The page must show live numbers and change them in place (the same document: no reload), fill the
SKU table, sort and filter it, and draw its charts. A screenshot is kept as an artifact: under the
test's tmp dir and in ``$FLASHSALE_ARTIFACTS`` (default ``flashsale-report/``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.runtime.admin import ensure_topics
from streams.settings import Settings
from streams.tools.demo import dashboard, free_port
from streams.tools.simulate import scenario, simulate

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SALE = scenario(seed=5, minutes=12, users=60, skus=6)
UNITS = "Number(document.querySelector('#kpi-units').textContent.replace(/,/g, ''))"
ROWS = "document.querySelectorAll('#sku-table tbody tr')"


def artifact_dir() -> Path:
    path = Path(os.environ.get("FLASHSALE_ARTIFACTS") or ROOT / "flashsale-report")
    path.mkdir(parents=True, exist_ok=True)
    return path


async def test_the_dashboard_shows_a_live_sale_and_updates_it_in_place(
    settings: Settings, db_schema: str, start_worker: Callable, chromium, tmp_path: Path
) -> None:
    ensure_topics(settings)
    start_worker(settings)
    with dashboard(settings, tmp_path / "dashboard.log", port=free_port()) as url:
        await chromium.open(url)
        await chromium.wait_for("document.querySelector('#connection').textContent === 'live'",
                                "the page's EventSource to connect", 30)  # fmt: skip
        document = await chromium.evaluate("window.sameDocument = Math.random()")
        sale = asyncio.create_task(
            asyncio.to_thread(simulate, settings, SALE, None, closed_loop=True, wait_s=30, progress=False)
        )
        first = await chromium.wait_for(f"{UNITS} > 0 && {UNITS}", "units sold to appear", 240)
        later = await chromium.wait_for(
            f"{UNITS} > {first} && {UNITS}", f"units sold to grow past {first}", 240
        )
        assert await chromium.evaluate("window.sameDocument") == document, "the page was reloaded"
        await asyncio.wait_for(sale, 600)

        await chromium.wait_for(f"{ROWS}.length === {SALE.n_skus}", f"{SALE.n_skus} SKU rows", 60)
        await chromium.wait_for("document.querySelectorAll('#decisions li').length > 0", "a decision", 60)
        await chromium.wait_for(
            "!!document.querySelector('#chart-forecast polygon.band')", "a forecast band", 60
        )
        await chromium.wait_for("!!document.querySelector('#chart-recs rect.bar')", "recommendation bars", 60)
        await chromium.wait_for("/^[0-9,]+$/.test(document.querySelector('#kpi-lag').textContent)",
                                "the group's lag as a number", 60)  # fmt: skip
        await check_sorting_and_filtering(chromium)
        assert await chromium.evaluate(UNITS) >= later
        assert await chromium.evaluate("window.sameDocument") == document, "the page was reloaded"
        shot = await chromium.screenshot(tmp_path / "dashboard.png")
    assert shot.stat().st_size > 20_000  # a drawn page, not a blank one
    shutil.copy(shot, artifact_dir() / "dashboard.png")


async def check_sorting_and_filtering(page) -> None:  # type: ignore[no-untyped-def]
    """Sold, descending by a click on its header, ascending by a second; a filter keeps one SKU."""
    sold = f"[...{ROWS}].map((tr) => Number(tr.children[4].textContent.replace(/,/g, '')))"
    click_sold = "document.querySelector('#sku-table th[data-key=units_sold]').click()"
    await page.evaluate("document.querySelector('#sku-table th[data-key=sku]').click()")
    await page.evaluate(click_sold)
    descending = await page.evaluate(sold)
    assert descending == sorted(descending, reverse=True)
    await page.evaluate(click_sold)
    ascending = await page.evaluate(sold)  # read again: the live counts may have grown meanwhile
    assert ascending == sorted(ascending) and len(ascending) == len(descending)
    sku = await page.evaluate(f"{ROWS}[0].dataset.sku")
    set_filter = "(value) => { const f = document.querySelector('#sku-filter'); f.value = value; " \
                 "f.dispatchEvent(new Event('input')); }"  # fmt: skip
    await page.evaluate(f"({set_filter})({sku!r})")
    assert await page.evaluate(f"[...{ROWS}].map((tr) => tr.dataset.sku)") == [sku]
    await page.evaluate(f"({set_filter})('')")
    await page.evaluate(click_sold)  # back to the top sellers first, for the screenshot
