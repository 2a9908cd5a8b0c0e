"""Production fails closed: the API does not start without every secret its webhooks and payloads
need, and once started with them, no webhook takes an unauthenticated request."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi import HTTPException
from pydantic import ValidationError

import config
from api.main import create_app
from api.routes.sendgrid import check_parse_credentials
from config import Settings, api_production_problems
from tests.support.live import free_port, serving_api
from tests.support.sendgrid_signing import WEBHOOK_KEY

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "a-production-secret-of-at-least-32-bytes"
REQUIRED = {  # what production needs besides CADENCE_SECRET_KEY, with valid values
    "SENDGRID_WEBHOOK_PUBLIC_KEY": WEBHOOK_KEY.public,
    "CADENCE_INBOUND_PARSE_USER": "sendgrid-parse",
    "CADENCE_INBOUND_PARSE_PASSWORD": "a-long-random-parse-password",
    "DIALER_WEBHOOK_SECRET": "a-long-random-dialer-secret",
    "CADENCE_PAYLOAD_KEYS": "k1:" + "A" * 43 + "=",
}


def production(db_url: str = "sqlite://", **env: str | None) -> Settings:
    values = {"CADENCE_ENV": "production", "CADENCE_SECRET_KEY": SECRET_KEY, "DATABASE_URL": db_url,
              **REQUIRED, **env}
    return Settings(_env_file=None, **{k.lower(): v for k, v in values.items() if v is not None})


def test_with_every_secret_production_has_no_problem():
    assert api_production_problems(production()) == []


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_production_refuses_to_start_naming_the_missing_setting(missing):
    for absent in (None, ""):  # unset, or set to nothing: an empty secret is no secret
        with pytest.raises(RuntimeError) as refused:
            create_app(production(**{missing: absent}))
        message = str(refused.value)
        assert "refuses to start" in message and f"{missing} must be set when CADENCE_ENV=production" in message
        assert [name for name in REQUIRED if name in message] == [missing]  # only what is wrong


def test_production_lists_every_problem_at_once():
    with pytest.raises(RuntimeError) as refused:
        create_app(production(**dict.fromkeys(REQUIRED)))
    assert all(f"{name} must be set" in str(refused.value) for name in REQUIRED)


@pytest.mark.parametrize("secret", [config.DEV_SECRET, "x" * (config.MIN_SECRET_BYTES - 1), None])
def test_production_refuses_the_development_or_a_short_secret_key(secret):
    with pytest.raises(ValidationError, match="CADENCE_SECRET_KEY must be set in production"):
        production(CADENCE_SECRET_KEY=secret)


def test_cadence_env_is_one_of_three():
    with pytest.raises(ValidationError, match="cadence_env"):
        production(CADENCE_ENV="staging")
    assert api_production_problems(production(CADENCE_ENV="test", **dict.fromkeys(REQUIRED))) == []


def test_the_process_exits_naming_every_missing_setting(tmp_path):
    """`uvicorn api.main:app` imports the module, which builds the app from the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CADENCE_", "SENDGRID_", "DIALER_"))}
    env.update(CADENCE_ENV="production", CADENCE_SECRET_KEY=SECRET_KEY, PYTHONPATH=str(ROOT),
               DATABASE_URL=f"sqlite:///{tmp_path / 'cadence.db'}")
    run = subprocess.run([sys.executable, "-c", "import api.main"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode != 0
    assert all(f"{name} must be set when CADENCE_ENV=production" in run.stderr for name in REQUIRED), run.stderr


def test_inbound_parse_credentials_outside_the_api():
    development = production(CADENCE_ENV="development", **dict.fromkeys(REQUIRED))
    check_parse_credentials(None, development)  # nothing configured: development accepts
    half = production(CADENCE_ENV="development", CADENCE_INBOUND_PARSE_PASSWORD=None)
    with pytest.raises(HTTPException) as refused:  # half a pair is a mistake: nothing is accepted
        check_parse_credentials("Basic c2VuZGdyaWQtcGFyc2U6", half)
    assert refused.value.status_code == 503


@pytest.mark.e2e
async def test_production_with_every_secret_serves_and_refuses_unauthenticated_webhooks(sqlite_db):
    settings = production(sqlite_db.url).model_copy(update={"cadence_api_port": free_port(),
                                                            "temporal_address": f"127.0.0.1:{free_port()}"})
    with serving_api(settings, sqlite_db) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as http:
            assert (await http.get("/healthz")).status_code in (200, 503)  # it runs (Temporal is not there)
            inbound = await http.post("/webhooks/sendgrid/inbound", files={"to": (None, "x")})
            assert inbound.status_code == 401 and inbound.headers["www-authenticate"].startswith("Basic")
            wrong = await http.post("/webhooks/sendgrid/inbound", files={"to": (None, "x")},
                                    auth=("sendgrid-parse", "guess"))
            assert wrong.status_code == 401
            assert (await http.post("/webhooks/sendgrid/events", json=[])).status_code == 401
            assert (await http.post("/webhooks/calls", json={"event_id": "e", "type": "missed_call"})).status_code == 401
