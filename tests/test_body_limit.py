"""Request bodies above the limit are a 413 before a handler reads them, declared or streamed."""
from __future__ import annotations

import httpx
import pytest

from api.main import create_app
from config import Settings
from tests.support.live import ADMIN_KEY

pytestmark = pytest.mark.asyncio


@pytest.fixture
def app(sqlite_db):
    return create_app(Settings(_env_file=None, database_url=sqlite_db.url, cadence_max_body_bytes=1000,
                               cadence_bootstrap_api_key=ADMIN_KEY), db=sqlite_db)


async def test_a_declared_large_body_is_a_413(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        r = await http.post("/leads", content=b"x" * 5000, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json() == {"detail": "the request body is larger than 1000 bytes"}


async def test_a_streamed_large_body_is_a_413(app):
    async def chunks():
        for _ in range(10):
            yield b"[" * 500

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as http:
        async with app.router.lifespan_context(app):
            r = await http.post("/cadences", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
