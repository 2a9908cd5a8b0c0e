"""Delivery through SendGrid with the official client; every outcome sorted into one of three:
sent, not sent (retrying may help, or cannot), or unknown (it may have gone out).

At most once: SendGrid's v3 Mail Send has no idempotency key, so once a request may have reached
SendGrid, sending it again could deliver the email twice. Errors while connecting or writing the
request (urllib wraps those in URLError) mean it was not accepted; a timeout or a reset while
waiting for the answer means nobody knows.
"""
from __future__ import annotations

from typing import Any
from urllib.error import URLError

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

DEFAULT_TIMEOUT_SECONDS = 10.0


class TemporaryMailError(Exception):
    """SendGrid did not accept the message but may later (429, 5xx, unreachable): retry."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after  # seconds SendGrid asked us to wait (429 Retry-After)


class RejectedMail(Exception):
    """SendGrid refused the message (4xx other than 429): retrying cannot help."""


class UnknownOutcome(Exception):
    """The request reached SendGrid, but its answer never came: it may have been sent."""


class SendGridMailer:
    def __init__(self, api_key: str, host: str, timeout: float = DEFAULT_TIMEOUT_SECONDS):
        self._client = SendGridAPIClient(api_key=api_key, host=host)
        # One socket timeout for connecting and for each read: a hung SendGrid never holds a
        # worker thread past the activity's own timeout.
        self._client.client.timeout = timeout

    def send(self, request: dict[str, Any]) -> str | None:
        """Send and return SendGrid's message id."""
        try:
            response = self._client.send(request)
        except HTTPError as exc:
            status = getattr(exc, "status_code", 0)
            if status == 429 or status >= 500:
                raise TemporaryMailError(f"SendGrid answered {status}", _retry_after(exc)) from exc
            raise RejectedMail(f"SendGrid answered {status}: {_body(exc)}") from exc
        except URLError as exc:  # connecting or writing the request failed: nothing was accepted
            raise TemporaryMailError(f"SendGrid unreachable: {exc.reason}") from exc
        except OSError as exc:  # timed out or reset while waiting for the answer
            raise UnknownOutcome(f"no answer from SendGrid ({exc.__class__.__name__}: {exc})") from exc
        return (response.headers or {}).get("X-Message-Id")


def _retry_after(exc: HTTPError) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _body(exc: HTTPError) -> str:
    body = getattr(exc, "body", b"")
    return body.decode(errors="replace")[:500] if isinstance(body, bytes) else str(body)[:500]
