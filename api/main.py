"""The HTTP API: translates requests into workflow starts, signals and reads of the read model."""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from temporalio.client import Client

from api.routes import (
    cadences, health, leads, mailboxes, migrations, outbox, ranking, reports, reps, sendgrid, tasks, ui, unsubscribe,
    webhooks,
)
from api.routes import codec
from config import Settings, api_production_problems, get_settings
from persistence.db import Database, database_for
from privacy.keys import ring_for
from temporal_client import connect

log = logging.getLogger("cadence.api")


def create_app(settings: Settings | None = None, db: Database | None = None, client: Client | None = None) -> FastAPI:
    settings = settings or get_settings()
    problems = api_production_problems(settings)
    if problems:  # production fails closed: no webhook or payload without its secret, ever
        raise RuntimeError("the API refuses to start with CADENCE_ENV=production:\n  " + "\n  ".join(problems))
    ring_for(settings)  # malformed CADENCE_PAYLOAD_KEYS: refused now, not at the first payload

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings
        app.state.db = db or database_for(settings.resolved_database_url)
        app.state.temporal = client
        if client is None:
            try:  # one client per process; the API still serves reads if Temporal is down
                app.state.temporal = await connect(settings, app.state.db)
            except Exception as exc:
                log.warning("Temporal at %s is not reachable: %s", settings.temporal_address, exc)
        yield

    app = FastAPI(title="Cadence", version="0.1.0", lifespan=lifespan,
                  description="Durable sales cadences: every lead runs its own Temporal workflow.")
    for module in (leads, cadences, migrations, mailboxes, ranking, reps, tasks, outbox, unsubscribe, webhooks,
                   codec,
                   sendgrid, reports, ui, health):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/ui")

    return app


app = create_app()
