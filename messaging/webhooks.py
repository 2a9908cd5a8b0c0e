"""Outbound webhook requests as the Standard Webhooks specification has them
(https://www.standardwebhooks.com), signed with its maintained `standardwebhooks` library.

    webhook-id: msg_...              the event's id: the same on every retry, for deduplication
    webhook-timestamp: 1767225600    the attempt's Unix time
    webhook-signature: v1,<base64>   HMAC-SHA256 of "<id>.<timestamp>.<body>" with the endpoint's secret
    {"type": "touch.sent", "timestamp": "2026-01-05T14:00:00+00:00", "data": {...}}
"""
from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx
from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the specification asks for 24 to 64 random bytes
USER_AGENT = "Cadence-Webhooks/1"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def body(event_type: str, at: datetime, data: dict[str, Any]) -> str:
    return json.dumps({"type": event_type, "timestamp": at.astimezone(timezone.utc).isoformat(), "data": data},
                      separators=(",", ":"), ensure_ascii=False)


def signed_headers(secret: str, message_id: str, payload: str, now: datetime) -> dict[str, str]:
    now = now.astimezone(timezone.utc)  # the library reads the timestamp as UTC
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, payload),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


@dataclass(frozen=True)
class Answer:
    response_code: int | None  # None: no HTTP answer at all
    error: str | None  # None: accepted (2xx)
    duration_ms: int


def post(url: str, payload: str, headers: dict[str, str], timeout: float) -> Answer:
    """One attempt. Redirects are not followed (a receiver answers where it was configured), and
    the answer's body is not kept: it is the receiver's, and may hold anything."""
    started = time.perf_counter()
    try:
        response = httpx.post(url, content=payload.encode(), headers=headers, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        reason = str(exc).strip() or "no answer"
        return Answer(None, f"{exc.__class__.__name__}: {reason}"[:500], _since(started))
    code = response.status_code
    return Answer(code, None if 200 <= code < 300 else f"HTTP {code}", _since(started))


def _since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
