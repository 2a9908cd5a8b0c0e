"""One way to reach Temporal, shared by the worker and the API (local dev server or Cloud)."""
from __future__ import annotations

from temporalio.client import Client
from temporalio.runtime import Runtime

from config import Settings
from persistence.db import Database, database_for
from privacy.codec import data_converter


async def connect(settings: Settings, db: Database | None = None, runtime: Runtime | None = None) -> Client:
    """A client whose payloads are encrypted (see privacy/codec.py); `db` holds the lead keys.
    `runtime`: the worker's, when it exports the SDK's metrics."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
        tls=settings.temporal_tls or bool(settings.temporal_api_key),
        data_converter=data_converter(settings, db or database_for(settings.resolved_database_url)),
        runtime=runtime,
    )
