"""Role-split workers on the real stack: a `skus` worker (per-SKU path and sink, without torch) and a
`users` worker (the user path, BERT) in groups of their own, together doing what one `all` worker does."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from streams.app import group_id
from streams.runtime.admin import ensure_topics
from streams.settings import Settings
from streams.worker import pipeline_app
from tests.integration.test_worker_roundtrip import START, order

pytestmark = pytest.mark.integration


def agents(role: str, tmp_path: Path) -> set[str]:
    app = pipeline_app(Settings(data_dir=tmp_path, worker_role=role), web=False).app  # type: ignore[arg-type]
    return {agent.name.rpartition(".")[2] for agent in app.agents.values()}


def test_each_role_registers_its_agents_and_has_its_own_group(tmp_path: Path) -> None:
    users = {"user-clicks", "user-orders"}
    assert users <= agents("users", tmp_path) and not users & agents("skus", tmp_path)
    assert agents("all", tmp_path) == agents("skus", tmp_path) | agents("users", tmp_path)
    roles = [Settings(worker_role=role, topic_prefix="ns") for role in ("all", "skus", "users")]  # type: ignore[arg-type]
    assert [group_id(s) for s in roles] == ["flashsale.ns", "flashsale-skus.ns", "flashsale-users.ns"]


def test_the_skus_role_never_imports_torch(tmp_path: Path) -> None:
    """Nor what it does not need of SciPy, scikit-learn (river's time_series loads both) or pandas."""
    heavy = ("torch", "transformers", "scipy", "sklearn", "pandas")
    probe = (
        "import sys; from streams.settings import Settings; from streams.worker import pipeline_app; "
        f"pipeline_app(Settings(data_dir={str(tmp_path)!r}, worker_role='skus'), web=False); "
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def listing(i: int) -> tuple[bytes, bytes, float]:
    """``sku-i``, in a campaign around the orders (only live campaign SKUs are recommended)."""
    ts = START - timedelta(hours=1)
    ends = (START + timedelta(hours=2)).isoformat()
    campaign = {"campaign_id": "c1", "starts_at": ts.isoformat(), "ends_at": ends, "discount": 0.2,
                "min_discount": 0.1, "max_discount": 0.5, "restock_lead_minutes": 20}  # fmt: skip
    value = {"sku": f"sku-{i}", "title": f"speaker {i}", "category": "audio", "base_price": 10.0,
             "updated_at": ts.isoformat(), "campaign": campaign}  # fmt: skip
    return f"sku-{i}".encode(), json.dumps(value).encode(), ts.timestamp()


def loads_torch(pid: int) -> bool:
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()


def test_a_skus_and_a_users_worker_split_the_pipeline(
    settings: Settings, start_worker: Callable, produce: Callable, consume: Callable
) -> None:
    ensure_topics(settings)
    produce(settings.topic("catalog"), [listing(i) for i in range(11)])
    produce(settings.topic("orders"), [order(i) for i in range(300)])
    skus = start_worker(settings.model_copy(update={"worker_role": "skus"}))
    users_settings = settings.model_copy(update={"worker_role": "users", "web_port": settings.web_port + 1})
    users = start_worker(users_settings.model_copy(update={"data_dir": settings.data_dir / "users"}))

    forwarded = consume(
        settings.topic("sku-events"), 300, where=lambda r: dict(r.headers).get("kind") == b"order"
    )
    recommended = consume(settings.topic("recommendations"), 37)  # each of the 37 users bought, so is listed
    assert len(forwarded) == 300
    assert len({r.key for r in recommended}) == 37
    assert not loads_torch(skus.pid) and loads_torch(users.pid)
    # What each built at start is kept out of the collector's passes (streams.runtime.heap).
    assert "heap frozen after start" in skus.log.text()
    assert "heap frozen after loading the BERT model and the catalog" in users.log.text()
