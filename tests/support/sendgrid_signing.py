"""Signs Event Webhook (and signed Inbound Parse) requests the way SendGrid does: ECDSA P-256 over
timestamp + body."""
from __future__ import annotations

import base64
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


class SigningKey:
    def __init__(self) -> None:
        self._private = ec.generate_private_key(ec.SECP256R1())

    @property
    def public(self) -> str:
        """The verification key as SendGrid's settings page shows it (base64 DER, no PEM armour)."""
        der = self._private.public_key().public_bytes(serialization.Encoding.DER,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode()

    def headers(self, raw: bytes, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self._private.sign(stamp.encode() + raw, ec.ECDSA(hashes.SHA256()))
        return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
                "X-Twilio-Email-Event-Webhook-Timestamp": stamp, "content-type": "application/json"}


WEBHOOK_KEY = SigningKey()  # one per test run; its public half is in the live API's settings
INBOUND_KEY = SigningKey()  # the Inbound Parse security policy's key, likewise
