"""Prometheus metrics of the API: the read model's counts, computed at scrape time, and the
latency of every request by route template.

Labels stay bounded: routes are templates (`/leads/{lead_id}`, never a lead's id; a path no route
serves is `unmatched`), methods outside the usual ones are `other`, owners are rep ids.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from persistence import metrics as counts
from persistence.db import Database

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
FAMILIES = {"cadence_leads": ["stage", "rank"], "cadence_touches": ["channel", "status"],
            "cadence_replies": ["intent"], "cadence_tasks_open": ["owner"], "cadence_tasks_overdue": ["owner"],
            "cadence_webhook_deliveries": ["status"], "cadence_webhook_endpoints": ["status"]}


def _gauge(name: str, documentation: str, rows) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=FAMILIES[name])
    for *values, count in rows:
        family.add_metric(["" if v is None else str(v) for v in values], count)
    return family


class ReadModelCollector(Collector):
    """Gauges from GROUP BY queries over the read model, in one short transaction per scrape."""

    def __init__(self, db: Database):
        self.db = db

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The families without their values: registering the collector queries nothing."""
        for name, labels in FAMILIES.items():
            yield GaugeMetricFamily(name, name, labels=labels)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = datetime.now(timezone.utc)
        with self.db.session() as session:
            leads, touches = counts.leads(session), counts.touches(session)
            replies, tasks = counts.replies(session), counts.open_tasks(session, now)
            deliveries, endpoints = counts.webhook_deliveries(session), counts.webhook_endpoints(session)
        yield _gauge("cadence_leads", "Leads by stage and rank.", leads)
        yield _gauge("cadence_touches", "Touches by channel and status (sent, outboxed, deferred, failed, "
                     "unknown, task_open, done, ...).", touches)
        yield _gauge("cadence_replies", "Replies on leads' timelines by intent.",
                     [(intent or "unknown", n) for intent, n in replies])
        yield _gauge("cadence_tasks_open", "Open tasks by owner (empty: unassigned).",
                     [(owner, n) for owner, n, _ in tasks])
        yield _gauge("cadence_tasks_overdue", "Open tasks past their due time by owner.",
                     [(owner, late) for owner, _, late in tasks])
        yield _gauge("cadence_webhook_deliveries", "Webhook deliveries by result (pending, retrying, succeeded, "
                     "failed, held).", deliveries)
        yield _gauge("cadence_webhook_endpoints", "Webhook endpoints by status (active, paused, failing).",
                     endpoints)


def registry_for(db: Database) -> tuple[CollectorRegistry, Histogram]:
    """One registry per app (tests run several apps in one process)."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(ReadModelCollector(db))
    latency = Histogram("cadence_http_request_duration_seconds", "API requests by method, route template and "
                        "status code.", ["method", "route", "status"], registry=registry)
    return registry, latency


class RequestTimer:
    """Times every request, whether a route answered it or the gate turned it away."""

    def __init__(self, app: ASGIApp, latency: Histogram):
        self.app, self.latency = app, latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), [500]

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            self.latency.labels(method, _route(scope), str(status[0])).observe(time.perf_counter() - started)


def _route(scope: Scope) -> str:
    """The route template after routing; before it (the gate refused), the gate's own lookup."""
    route = scope.get("route")
    if route is not None and getattr(route, "path", None):
        return route.path
    table = getattr(scope["app"].state, "route_table", None)
    return (table.template(scope["method"], scope["path"]) if table else None) or "unmatched"
