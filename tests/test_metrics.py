"""The operator's numbers: /metrics in Prometheus's text format matching the database, latency by
route template, who may scrape, /healthz seeing the workers, and the worker's Temporal SDK metrics."""
from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from persistence.models import Lead, LeadEventRecord, Task, Touch, WebhookDelivery
from temporal_client import connect
from tests.support.harness import eventually
from tests.support.live import api_client, free_port, prepare_database, serving_api, settings_for
from tests.test_api_e2e import FAST, dev_server, lead_body  # noqa: F401  (fixture)
from tests.test_webhooks_e2e import stack
from worker import build_worker, metrics_runtime

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]
TOKEN = "prometheus-scrape-token-0123456789"


def scrape(text: str) -> dict[str, dict[tuple, float]]:
    """family -> {sorted label pairs: value} of every sample."""
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def gauge(samples, name: str, *labels: str) -> Counter:
    return Counter({tuple(dict(k)[label] for label in labels): v for k, v in samples.get(name, {}).items() if v})


def counted(db) -> dict[str, Counter]:
    """The same numbers, counted here row by row (not with the product's queries)."""
    now = datetime.now(timezone.utc)
    with db.session() as s:
        tasks = [t for t in s.scalars(select(Task)) if t.status == "open"]
        return {
            "leads": Counter((lead.stage, lead.rank) for lead in s.scalars(select(Lead))),
            "touches": Counter((t.channel, t.status) for t in s.scalars(select(Touch))),
            "replies": Counter((e.data.get("intent") or "unknown",) for e in s.scalars(select(LeadEventRecord))
                               if e.type == "reply"),
            "open": Counter((t.owner or "",) for t in tasks),
            "overdue": Counter((t.owner or "",) for t in tasks if t.due_at < now),
            "deliveries": Counter((d.status,) for d in s.scalars(select(WebhookDelivery))),
        }


async def test_metrics_parse_and_match_the_database(dev_server, any_db):  # noqa: F811
    async with stack(dev_server, any_db, cadence_metrics_token=TOKEN) as http:
        rep = {"id": "ana", "name": "Ana", "email": "ana@example.com"}
        assert (await http.post("/reps", json=rep)).status_code == 201
        assert (await http.post("/cadences", json=FAST)).status_code == 201
        await http.post("/webhook-endpoints", json={"url": f"http://127.0.0.1:{free_port()}/closed",
                                                    "events": ["lead.created"]})  # nobody listens there
        leads = [(await http.post("/leads", json=lead_body(**over))).json() for over in (
            {}, {"source": "event"}, {"source": "target_list", "owner": "ana"}, {"cadence": "fast-test"})]
        await http.post(f"/leads/{leads[1]['id']}/signals/reply", json={"event_id": "r-1", "intent": "negative"})
        await http.post(f"/leads/{leads[2]['id']}/signals/reply", json={"event_id": "r-2", "intent": "neutral"})

        async def settled():
            want = counted(any_db)
            ready = (want["replies"] == Counter({("negative",): 1, ("neutral",): 1}) and want["open"]
                     and ("email", "outboxed") in want["touches"] and ("retrying",) in want["deliveries"])
            return want if ready else None
        await eventually(settled, timeout=20)
        await http.get(f"/leads/{leads[0]['id']}")
        await http.get("/nothing/here/123")
        async with api_client(str(http.base_url), key=None) as anonymous:
            assert (await anonymous.get("/leads")).status_code == 401

        r = await http.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        want = counted(any_db)  # after the scrape's queries: nothing moves while the leads wait
        samples = scrape(r.text)
        assert gauge(samples, "cadence_leads", "stage", "rank") == want["leads"]
        assert gauge(samples, "cadence_touches", "channel", "status") == want["touches"]
        assert gauge(samples, "cadence_replies", "intent") == want["replies"]
        assert gauge(samples, "cadence_tasks_open", "owner") == want["open"]
        assert gauge(samples, "cadence_tasks_overdue", "owner") == want["overdue"]
        assert gauge(samples, "cadence_webhook_deliveries", "status") == want["deliveries"]
        assert gauge(samples, "cadence_webhook_endpoints", "status") == Counter({("active",): 1})

        routes = {dict(k)["route"]: dict(k) for k in samples["cadence_http_request_duration_seconds_count"]}
        assert {"/leads", "/leads/{lead_id}", "/leads/{lead_id}/signals/{name}", "unmatched"} <= set(routes)
        assert not [route for route in routes if leads[0]["id"] in route or "123" in route]  # templates only
        answered = samples["cadence_http_request_duration_seconds_count"]
        refused = {(dict(k)["route"], dict(k)["status"]) for k in answered}
        assert ("/leads", "401") in refused  # timed although the gate answered it

        async with api_client(str(http.base_url), key=TOKEN) as prometheus:
            assert (await prometheus.get("/metrics")).status_code == 200
            assert (await prometheus.get("/leads")).status_code == 401  # the token reads metrics, nothing else
        async with api_client(str(http.base_url), key="not-the-token") as stranger:
            assert (await stranger.get("/metrics")).status_code == 401
        rep_key = (await http.post("/api-keys", json={"name": "ana", "role": "rep", "rep_id": "ana"})).json()["key"]
        async with api_client(str(http.base_url), key=rep_key) as rep:
            assert (await rep.get("/metrics")).status_code == 403


async def test_healthz_sees_the_workers_polling_and_their_absence(dev_server, sqlite_db):  # noqa: F811
    async with stack(dev_server, sqlite_db) as http:
        async def healthy():  # a worker shows once its first poll reached Temporal
            r = await http.get("/healthz")
            return r.json() if r.status_code == 200 else None
        body = await eventually(healthy, timeout=20, interval=1)
        assert body == {"status": "ok", "checks": {"database": "ok", "temporal": "ok", "worker": "ok",
                                                   "webhook_worker": "ok"}}
    port = int(dev_server.client.service_client.config.target_host.rsplit(":", 1)[1])
    lonely = settings_for(sqlite_db, port, free_port(), f"nobody-{uuid.uuid4().hex[:8]}")
    with serving_api(lonely, sqlite_db) as base_url:  # an API whose task queues no worker polls
        async with api_client(base_url, key=None) as anonymous:
            r = await anonymous.get("/healthz")
    assert r.status_code == 503 and r.json()["checks"]["worker"].startswith("error: no worker is polling")
    assert r.json()["checks"]["webhook_worker"].startswith("error: no worker is polling")


async def test_the_worker_exports_the_temporal_sdk_metrics(dev_server, sqlite_db):  # noqa: F811
    prepare_database(sqlite_db)
    port, metrics_port = int(dev_server.client.service_client.config.target_host.rsplit(":", 1)[1]), free_port()
    settings = settings_for(sqlite_db, port, free_port(), f"sdk-{uuid.uuid4().hex[:8]}",
                            cadence_worker_metrics_port=metrics_port)
    assert metrics_runtime(settings_for(sqlite_db, port, 1, "q")) is None  # unset: off
    client = await connect(settings, sqlite_db, runtime=metrics_runtime(settings))
    with ThreadPoolExecutor(max_workers=2) as executor:
        async with build_worker(client, settings, sqlite_db, executor):
            async def exported():
                async with httpx.AsyncClient() as http:
                    text = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
                names = {family.name for family in text_string_to_metric_families(text)}
                return names if any(n.startswith("temporal_worker_task_slots") for n in names) else None
            names = await eventually(exported, timeout=20)
    assert {"temporal_request", "temporal_num_pollers"} & names, sorted(names)[:20]
