"""The HTTP API: translates requests into workflow starts, signals and reads of the read model."""
from __future__ import annotations

import logging
from pathlib import Path
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from temporalio.client import Client

from api import access_log
from api.auth import bootstrap
from api.auth.directory import Directory
from api.auth.gate import AuthGate
from api.body_limit import BodyLimit
from api.cors import CodecCors
from api.policy import RouteTable, routes_without_policy
from api.rate_limits import Limits
from api.temporal_link import TemporalLink
from api.routes import (
    access, cadences, health, leads, mailboxes, migrations, outbox, ranking, reports, reps, sendgrid, tasks, ui,
    unsubscribe, webhooks,
)
from api.routes import ui_lead, ui_settings, ui_webhooks
from api.routes import codec, privacy, ui_cadences, ui_reports
from api.routes import metrics, webhook_endpoints
from activities.webhooks import DeliveryStarter
from api.metrics import RequestTimer, registry_for
from api.routes import imports
from config import Settings, api_production_problems, get_settings
from persistence import outbound
from persistence.db import Database, database_for
from privacy.keys import ring_for

log = logging.getLogger("cadence.api")
STATIC = Path(__file__).resolve().parent.parent / "static"


def create_app(settings: Settings | None = None, db: Database | None = None, client: Client | None = None) -> FastAPI:
    settings = settings or get_settings()
    problems = api_production_problems(settings)
    if problems:  # production fails closed: no webhook or payload without its secret, ever
        raise RuntimeError("the API refuses to start with CADENCE_ENV=production:\n  " + "\n  ".join(problems))
    access_log.install()
    ring_for(settings)  # malformed CADENCE_PAYLOAD_KEYS: refused now, not at the first payload
    db = db or database_for(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        bootstrap.from_settings(db, settings)
        detached: list = []

        def connected(temporal: Client) -> None:
            # Webhook deliveries the API's own changes make start after their commit (else the sweep).
            detached.append(outbound.start_after_commit(db, DeliveryStarter(temporal, settings)))

        # One client per process; the API serves reads while Temporal is down and connects when it is up.
        app.state.temporal_link = TemporalLink(settings, db, client, on_connect=connected)
        if client is not None:
            connected(client)
        await app.state.temporal_link.get()
        yield
        for detach in detached:
            detach()

    app = FastAPI(title="Cadence", version="0.1.0", lifespan=lifespan,
                  description="Durable sales cadences: every lead runs its own Temporal workflow. "
                              "Every route but the webhooks, unsubscribe links and /healthz needs "
                              "`Authorization: Bearer <API key>`.")
    app.state.settings, app.state.db = settings, db
    app.state.directory = Directory(db, settings.secret())
    app.state.limits = Limits.from_settings(settings)
    for module in (leads, cadences, migrations, mailboxes, ranking, reps, tasks, outbox, unsubscribe, webhooks,
                   privacy, codec, imports,
                   sendgrid, reports, access, ui, ui_lead, ui_settings, ui_webhooks, health,
                   webhook_endpoints, metrics):
        app.include_router(module.router)
    for module in (ui_cadences, ui_reports):  # the cadence and report pages
        app.include_router(module.router)

    # Files the pages need (htmx, styles), shipped in the repository: the UI works offline.
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/ui")

    missing = routes_without_policy(app.routes)
    if missing:  # a route nobody decided about must not ship
        raise RuntimeError(f"routes without an entry in api/policy.py: {', '.join(missing)}")
    app.state.route_table = RouteTable(app.routes)
    app.add_middleware(AuthGate)
    app.add_middleware(CodecCors, origins=settings.cadence_codec_origins)
    app.add_middleware(BodyLimit, max_bytes=settings.cadence_max_body_bytes)
    app.state.metrics, latency = registry_for(db)
    app.add_middleware(RequestTimer, latency=latency)  # outermost: times the gate's answers too
    return app


app = create_app()
