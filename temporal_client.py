"""One way to reach Temporal, shared by the worker and the API (local dev server or Cloud)."""
from __future__ import annotations

from temporalio.client import Client

from config import Settings


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
        tls=settings.temporal_tls or bool(settings.temporal_api_key),
    )
