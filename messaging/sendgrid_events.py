"""SendGrid's Event Webhook: signature check and what each event means for a lead (SPEC 2.8).

Pure: the route does the I/O. The signature is SendGrid's ECDSA over timestamp + raw body,
checked with the official library's helper; a timestamp outside `MAX_AGE` is refused so a
captured request cannot be replayed later. Inbound Parse, where the account signs it (a webhook
security policy with signature verification), is checked the same way with its own key.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sendgrid.helpers.eventwebhook import EventWebhook

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_AGE_SECONDS = 300

# SendGrid event -> what the product does with it.
RECORD_ON_TOUCH = {"processed", "delivered", "deferred", "open", "click"}
BLOCK_EMAIL = {"bounce", "dropped"}  # the address cannot receive email: email steps are skipped
SUPPRESS = {"spamreport": "spam_report", "unsubscribe": "unsubscribe", "group_unsubscribe": "unsubscribe"}
KNOWN = RECORD_ON_TOUCH | BLOCK_EMAIL | set(SUPPRESS) | {"group_resubscribe"}
FINAL_DELIVERY = {"delivered", "bounced", "dropped", "blocked"}  # a late "deferred" does not undo these


class SignatureProblem(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def verify_signature(raw: bytes, signature: str | None, timestamp: str | None, public_key: str,
                     now: float) -> None:
    """Raise SignatureProblem (401 missing, 403 wrong or stale) unless SendGrid signed `raw`."""
    if not signature or not timestamp:
        raise SignatureProblem(401, f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}")
    try:
        age = now - int(timestamp)
    except ValueError:
        raise SignatureProblem(403, f"{TIMESTAMP_HEADER} is not a Unix time") from None
    if abs(age) > MAX_AGE_SECONDS:
        raise SignatureProblem(403, f"the request is {int(age)} s old; at most {MAX_AGE_SECONDS} s is accepted")
    try:
        verifier = EventWebhook(public_key)
        try:
            valid = verifier.verify_signature(raw.decode("utf-8"), signature, timestamp)
        except UnicodeDecodeError:  # Inbound Parse posts attachments as they are: check the bytes
            verifier.public_key.verify(base64.b64decode(signature), timestamp.encode() + raw,
                                       ec.ECDSA(hashes.SHA256()))
            valid = True
    except (ValueError, binascii.Error, InvalidSignature):
        valid = False
    if not valid:
        raise SignatureProblem(403, "the signature does not match the body: forged or altered request")


@dataclass(frozen=True)
class EmailEvent:
    id: str  # "sendgrid:<sg_event_id>": the key that makes a redelivery harmless
    type: str
    email: str | None
    lead_id: str | None  # from the custom_args the send put on the message
    touch_id: str | None
    at: datetime
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def delivery(self) -> str | None:
        """The touch's delivery state this event reports, if any."""
        if self.type == "bounce":
            return "blocked" if self.detail.get("bounce_type") == "blocked" else "bounced"
        return {"delivered": "delivered", "deferred": "deferred", "dropped": "dropped"}.get(self.type)

    @property
    def blocks_email(self) -> bool:
        """A hard bounce or a drop; a `blocked` bounce is temporary and only recorded."""
        return self.type in BLOCK_EMAIL and self.delivery != "blocked"

    @property
    def suppresses(self) -> str | None:
        """The lead event type for events that put the address on the suppression list."""
        return SUPPRESS.get(self.type)


def parse(item: Any) -> EmailEvent:
    """One element of the posted JSON array; ValueError names what is wrong with it."""
    if not isinstance(item, dict):
        raise ValueError("an event must be a JSON object")
    kind, event_id = item.get("event"), item.get("sg_event_id")
    if not isinstance(kind, str) or kind not in KNOWN:
        raise ValueError(f"unknown event type {kind!r}")
    if not isinstance(event_id, str) or not event_id:
        raise ValueError("sg_event_id is missing")
    stamp = item.get("timestamp")
    try:
        at = datetime.fromtimestamp(int(stamp), timezone.utc)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"timestamp {stamp!r} is not a Unix time") from None
    email = item.get("email")
    detail = {k: item[k] for k in ("reason", "status", "response", "url", "attempt", "asm_group_id")
              if item.get(k) is not None}
    if kind == "bounce":
        detail["bounce_type"] = item.get("type") or "bounce"  # "bounce" (hard) or "blocked"
    return EmailEvent(
        id=f"sendgrid:{event_id}", type=kind, email=email.strip().lower() if isinstance(email, str) else None,
        lead_id=_text(item.get("lead_id")), touch_id=_text(item.get("touch_id")), at=at, detail=detail,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
