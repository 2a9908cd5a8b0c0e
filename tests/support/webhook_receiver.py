"""A webhook receiver as a CRM would run one: a threaded HTTP server that verifies every request
with the `standardwebhooks` library and keeps what it accepted.

It can be down for a while (`fail_next`: that many requests answered 503; `down`: every request
until `recover()`) or slow (`delay` seconds before each answer), and logs every request it saw, so a
test can tell retries from duplicates.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Request:
    webhook_id: str | None
    verified: bool
    answered: int
    payload: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Receiver:
    def __init__(self, secret: str | None = None, *, fail_next: int = 0, down: bool = False, delay: float = 0):
        self.secret, self.fail_next, self.down, self.delay = secret, fail_next, down, delay
        self.requests: list[Request] = []  # everything that came in, in order
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                time.sleep(receiver.delay)
                status = receiver._take(body, dict(self.headers.items()))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/cadence"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def recover(self) -> None:
        with self._lock:
            self.down, self.fail_next = False, 0

    def _take(self, body: bytes, headers: dict[str, str]) -> int:
        try:
            payload = Webhook(self.secret).verify(body, headers)  # signature and a fresh timestamp
            verified = True
        except (WebhookVerificationError, ValueError, TypeError):
            payload, verified = None, False
        with self._lock:
            if not verified:
                status = 401
            elif self.down or self.fail_next > 0:
                self.fail_next = max(self.fail_next - 1, 0)
                status = 503
            else:
                status = 204
            lowered = {k.lower(): v for k, v in headers.items()}
            self.requests.append(Request(lowered.get("webhook-id"), verified, status, payload, lowered))
        return status

    # ---- what the test reads ---------------------------------------------------------------
    @property
    def accepted(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.answered == 204]

    def events(self, type_: str | None = None) -> list[dict[str, Any]]:
        """Accepted payloads, of one type if given."""
        return [r.payload for r in self.accepted if type_ is None or r.payload["type"] == type_]

    def types(self) -> set[str]:
        return {p["type"] for p in self.events()}
