"""Liveness with the reachability of what the product depends on: the database, Temporal, and a
worker polling each task queue (asked of Temporal at most every few seconds: probes stay cheap)."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

router = APIRouter(tags=["health"])
POLLER_CACHE_SECONDS = 5.0
# A worker long-polls its queue, so an idle one is seen again about every minute; Temporal keeps
# listing a worker that stopped for a few minutes, hence the recent-enough test.
POLLER_SEEN_WITHIN = timedelta(minutes=2)


async def _polled(request: Request, client, task_queue: str) -> str:
    cache: dict[str, tuple[float, str]] = request.app.state.__dict__.setdefault("_poller_checks", {})
    hit = cache.get(task_queue)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    try:
        described = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
            namespace=client.namespace, task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW), timeout=timedelta(seconds=3))
        now = datetime.now(timezone.utc)
        seen = [p for p in described.pollers
                if now - p.last_access_time.ToDatetime(tzinfo=timezone.utc) <= POLLER_SEEN_WITHIN]
        result = "ok" if seen else f"error: no worker is polling task queue {task_queue!r}"
    except Exception as exc:
        result = f"error: {exc.__class__.__name__}"
    cache[task_queue] = (time.monotonic() + POLLER_CACHE_SECONDS, result)
    return result


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with request.app.state.db.session() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, never crash the probe
        checks["database"] = f"error: {exc.__class__.__name__}"
    client = await request.app.state.temporal_link.get()
    if client is None:
        checks["temporal"] = "error: not connected"
    else:
        try:
            await client.service_client.check_health()
            checks["temporal"] = "ok"
        except Exception as exc:
            checks["temporal"] = f"error: {exc.__class__.__name__}"
        settings = request.app.state.settings
        if checks["temporal"] == "ok":
            checks["worker"] = await _polled(request, client, settings.temporal_task_queue)
            checks["webhook_worker"] = await _polled(request, client, settings.temporal_webhook_task_queue)
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if healthy else "degraded", "checks": checks}, status_code=200 if healthy else 503)
