"""Generated requests for every operation of the OpenAPI schema, as an admin, against the real stack
(dev server, worker, API over HTTP): whatever they send, the answer is never a 5xx.

`CADENCE_FUZZ_EXAMPLES` (default 50) requests per operation, about 2,500 in all."""
from __future__ import annotations

import asyncio
import os
import threading
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from api.main import create_app
from tests.support.live import (
    ADMIN_KEY, free_port, prepare_database, running_worker, serving_api, settings_for, start_dev_server,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
EXAMPLES = int(os.environ.get("CADENCE_FUZZ_EXAMPLES", "50"))
schema = schemathesis.openapi.from_dict(create_app().openapi())


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The whole product in a thread of its own, so the sync schemathesis calls can reach it."""
    from persistence.db import Database
    from persistence.migrate import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'cadence.db'}"
    upgrade(url)
    db = Database(url)
    ready, stop, box = threading.Event(), threading.Event(), {}

    async def run():
        env = await start_dev_server(tmp_path_factory.mktemp("temporal") / "temporal.db", free_port())
        try:
            port = int(env.client.service_client.config.target_host.rsplit(":", 1)[1])
            app_settings = settings_for(db, port, free_port(), f"fuzz-{uuid.uuid4().hex[:8]}").model_copy(
                update={"cadence_rate_limit": "1000000/minute", "cadence_signal_rate_limit": "1000000/minute"})
            prepare_database(db)
            async with running_worker(env.client, app_settings, db):
                with serving_api(app_settings, db) as base_url:
                    box["url"] = base_url
                    ready.set()
                    while not stop.is_set():
                        await asyncio.sleep(0.2)
        finally:
            await env.shutdown()

    thread = threading.Thread(target=lambda: asyncio.run(run()), daemon=True)
    thread.start()
    assert ready.wait(60), "the stack did not start"
    yield box["url"]
    stop.set()
    thread.join(30)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_generated_request_is_a_server_error(case, stack):
    response = case.call(base_url=stack, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}\n"
        f"{case.as_curl_command({'Authorization': 'Bearer <admin key>'})}")
