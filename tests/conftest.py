"""Shared fixtures: a real Temporal (time-skipping or dev server), real databases."""
from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from persistence.db import Database
from persistence.migrate import upgrade
from temporal_client import ensure_search_attributes
from worker import compile_workflow_modules

BIN = Path(sys.executable).parent
# As the worker does at start: the workers the tests run import the workflow modules for every workflow.
compile_workflow_modules()
POSTGRES_URL = os.environ.get("DATABASE_TEST_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
async def time_env():
    """Temporal's time-skipping test server: a 30-day cadence runs in well under a second.

    One per test (it starts in about 0.1 s): its clock is global, so tests must not share it."""
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(BIN / "temporal-test-server"))
    await ensure_search_attributes(env.client, env.client.namespace)
    yield env
    await env.shutdown()


@pytest.fixture
def sqlite_db(tmp_path) -> Database:
    url = f"sqlite:///{tmp_path / 'cadence.db'}"
    upgrade(url)
    return Database(url)


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), connect_timeout=2):
            return True
    except Exception:
        return False


@pytest.fixture
def postgres_db() -> Database:
    """A fresh schema in the PostgreSQL test database, dropped afterwards."""
    if not postgres_available():
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL} (set DATABASE_TEST_URL)")
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    raw = POSTGRES_URL.replace("+psycopg", "")
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    upgrade(url)
    db = Database(url)
    yield db
    db.engine.dispose()
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request) -> Database:
    """Persistence and API tests run on both databases the product supports."""
    return request.getfixturevalue(f"{request.param}_db")
