"""Delivery through SendGrid with the official client; errors sorted into retry or give up."""
from __future__ import annotations

from typing import Any

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient


class TemporaryMailError(Exception):
    """SendGrid did not accept the message but may later (429, 5xx, network): retry."""


class RejectedMail(Exception):
    """SendGrid refused the message (4xx): retrying cannot help."""


class SendGridMailer:
    def __init__(self, api_key: str, host: str):
        self._client = SendGridAPIClient(api_key=api_key, host=host)

    def send(self, request: dict[str, Any]) -> str | None:
        """Send and return SendGrid's message id."""
        try:
            response = self._client.send(request)
        except HTTPError as exc:
            status = getattr(exc, "status_code", 0)
            if status == 429 or status >= 500:
                raise TemporaryMailError(f"SendGrid answered {status}") from exc
            raise RejectedMail(f"SendGrid answered {status}: {_body(exc)}") from exc
        except OSError as exc:  # connection refused, DNS, timeouts
            raise TemporaryMailError(f"SendGrid unreachable: {exc}") from exc
        return (response.headers or {}).get("X-Message-Id")


def _body(exc: HTTPError) -> str:
    body = getattr(exc, "body", b"")
    return body.decode(errors="replace")[:500] if isinstance(body, bytes) else str(body)[:500]
