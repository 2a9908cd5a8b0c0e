"""The product as it runs: a real Temporal dev server, the worker, and the API over HTTP."""
from __future__ import annotations

import re
import socket
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import uvicorn
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.main import create_app
from config import Settings
from persistence.db import Database
from persistence.migrate import upgrade
from privacy.codec import data_converter
from scripts.load_cadences import load
from tests.support.sendgrid_signing import INBOUND_KEY, WEBHOOK_KEY
from activities.webhooks import ensure_sweep_schedule
from worker import build_import_worker, build_webhook_worker, build_worker
from workflows.search_attributes import dev_server_args

BIN = Path(sys.executable).parent
DIALER_SECRET = "dialer-secret"
# The admin key every live stack starts with (CADENCE_BOOTSTRAP_API_KEY); `api_client` sends it.
ADMIN_KEY = "cad_live-test-admin-key-0123456789abcdef"
INBOUND_PARSE_AUTH = ("sendgrid-parse", "parse-password")  # HTTP Basic of the Parse URL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_dev_server(db_file: Path, port: int) -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"), port=port, ui=False,
        dev_server_extra_args=["--db-filename", str(db_file), *dev_server_args()],
    )


def settings_for(db: Database, temporal_port: int, api_port: int, task_queue: str, **over) -> Settings:
    """`over`: other settings, e.g. webhook retry intervals."""
    return Settings(
        _env_file=None, database_url=db.url, temporal_address=f"127.0.0.1:{temporal_port}",
        temporal_task_queue=task_queue, cadence_api_port=api_port, cadence_public_url=f"http://127.0.0.1:{api_port}",
        cadence_secret_key="test-secret", sendgrid_api_key=None, dialer_webhook_secret=DIALER_SECRET,
        sendgrid_webhook_public_key=WEBHOOK_KEY.public, cadence_inbound_parse_user=INBOUND_PARSE_AUTH[0],
        cadence_inbound_parse_password=INBOUND_PARSE_AUTH[1], sendgrid_inbound_public_key=INBOUND_KEY.public,
        cadence_bootstrap_api_key=ADMIN_KEY,
        cadence_env="test",
        **{"temporal_webhook_task_queue": f"{task_queue}-webhooks", "cadence_webhook_sweep_seconds": 2,
           "cadence_webhook_retry_first_seconds": 0.5, "cadence_webhook_retry_max_seconds": 2, **over},
    )


def api_client(base_url: str, key: str | None = ADMIN_KEY, **options) -> httpx.AsyncClient:
    """An HTTP client of the API that authenticates with `key` (the admin key unless told)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(base_url=base_url, headers=headers, **{"timeout": 15, **options})


async def make_user(admin: httpx.AsyncClient, role: str, rep_id: str | None = None) -> tuple[str, str]:
    """A UI user of `role` (a rep user for `rep_id`, made first if missing); its email and password."""
    if rep_id and (await admin.get(f"/reps/{rep_id}")).status_code == 404:
        r = await admin.post("/reps", json={"id": rep_id, "name": rep_id.title(), "email": f"{rep_id}@example.com"})
        assert r.status_code == 201, r.text
    email, password = f"{role}-{rep_id or 'x'}-{uuid.uuid4().hex[:6]}@example.com", "correct horse battery"
    r = await admin.post("/users", json={"email": email, "password": password, "role": role, "rep_id": rep_id})
    assert r.status_code == 201, r.text
    return email, password


async def ui_login(base_url: str, email: str, password: str, db: Database | None = None,
                   secret: str = "test-secret") -> httpx.AsyncClient:
    """A browser-like client logged in to the web UI. With `db`, `.csrf` holds the session's CSRF
    token (read from the database, for pages whose forms the test does not load)."""
    browser = httpx.AsyncClient(base_url=base_url, timeout=15)
    form = await browser.get("/ui/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    r = await browser.post("/ui/login", data={"email": email, "password": password, "csrf_token": token})
    assert r.status_code == 303, r.text
    if db is not None:
        from api.auth import credentials
        from persistence.models import UiSession

        session_id = credentials.unsign_session(browser.cookies["cadence_session"], secret)
        with db.session() as s:
            browser.csrf = s.get(UiSession, credentials.key_hash(session_id)).csrf_token
    return browser


def prepare_database(db: Database) -> None:
    upgrade(db.url)
    assert load(url=db.url) == 0


@contextmanager
def serving_api(settings: Settings, db: Database):
    """uvicorn in a thread with its own event loop and Temporal client, as in production."""
    server = uvicorn.Server(uvicorn.Config(create_app(settings, db=db), host="127.0.0.1",
                                           port=settings.cadence_api_port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("API did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{settings.cadence_api_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@asynccontextmanager
async def running_worker(client, settings: Settings, db: Database):
    # The dev server's client has no codec; the worker encrypts as the product's worker does.
    client = Client(**{**client.config(), "data_converter": data_converter(settings, db)})
    with ThreadPoolExecutor(max_workers=8) as executor, ThreadPoolExecutor(max_workers=2) as imports:
        worker: Worker = build_worker(client, settings, db, executor)
        async with (worker, build_import_worker(client, settings, db, imports),
                    delivering_webhooks(client, settings, db)):
            yield worker


@asynccontextmanager
async def delivering_webhooks(client, settings: Settings, db: Database):
    """The worker's second Worker (webhook deliveries) and the sweep's schedule, removed afterwards."""
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with build_webhook_worker(client, settings, db, executor):
            schedule_id = await ensure_sweep_schedule(client, settings)
            try:
                yield
            finally:
                await client.get_schedule_handle(schedule_id).delete()


def add_unstarted_lead(db: Database, cadence_name: str = "rank-a") -> str:
    """A lead row whose workflow never ran, as between the row's commit and the workflow's start."""
    from persistence import leads as lead_store
    from workflows.lead_cadence import workflow_id_for

    with db.session() as s:
        lead_id = lead_store.new_lead_id()
        lead_store.add(s, id=lead_id, workflow_id=workflow_id_for(lead_id), email=f"{lead_id}@example.com",
                       source="form_fill", rank="A", cadence_name=cadence_name, cadence_version=1, timezone="UTC",
                       custom={})
    return lead_id
