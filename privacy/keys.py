"""Keys: the payload key ring from settings, AES-GCM sealing, lead data key wrapping, keyed hashes.

Pure functions over bytes; no I/O. The codec (`privacy.codec`) and the erasure use them.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from config import Settings

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the AES-GCM standard nonce; random per message
DERIVED_KEY_ID = "derived"  # the key made from CADENCE_SECRET_KEY outside production


class KeyProblem(ValueError):
    """A key that is malformed, missing from the ring, or does not open the data."""


class DecryptionFailed(KeyProblem):
    """The ciphertext was altered, or sealed under another key or for another context."""


@dataclass(frozen=True)
class KeyRing:
    """Payload keys by id, in the order given: the first encrypts, every one decrypts (rotation)."""

    keys: dict[str, bytes]

    @property
    def current_id(self) -> str:
        return next(iter(self.keys))

    def key(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise KeyProblem(f"payload key {key_id!r} is not in CADENCE_PAYLOAD_KEYS") from None


def parse_ring(text: str) -> KeyRing:
    """`id:base64(32 bytes),id2:...`; ids are short names without ':' or ','."""
    keys: dict[str, bytes] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key_id, sep, encoded = item.partition(":")
        if not sep or not key_id.strip():
            raise KeyProblem("CADENCE_PAYLOAD_KEYS entries look like id:base64key")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise KeyProblem(f"payload key {key_id!r} is not valid base64") from None
        if len(key) != KEY_BYTES:
            raise KeyProblem(f"payload key {key_id!r} must be {KEY_BYTES} bytes, not {len(key)}")
        if key_id.strip() in keys:
            raise KeyProblem(f"payload key {key_id!r} is given twice")
        keys[key_id.strip()] = key
    if not keys:
        raise KeyProblem("CADENCE_PAYLOAD_KEYS holds no key")
    return KeyRing(keys)


def derive(secret: str, purpose: str) -> bytes:
    """A key for one purpose from the product secret (HKDF-SHA256): purposes never share a key."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                info=f"cadence:{purpose}".encode()).derive(secret.encode())


def ring_for(settings: Settings) -> KeyRing:
    """The configured ring; outside production a derived one when unset, so development and tests
    encrypt too. Production without keys is refused: history must never be written in the clear."""
    if settings.cadence_payload_keys is not None:
        return parse_ring(settings.cadence_payload_keys.get_secret_value())
    if settings.cadence_env == "production":
        raise KeyProblem("CADENCE_PAYLOAD_KEYS must be set when CADENCE_ENV=production")
    return KeyRing({DERIVED_KEY_ID: derive(settings.secret(), "payload-key")})


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """nonce + AES-GCM ciphertext; `aad` binds it to its context (a key id, a lead)."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, blob: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError):
        raise DecryptionFailed("the payload does not decrypt: altered, or not sealed with this key") from None


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def wrap(ring: KeyRing, lead_id: str, data_key: bytes) -> tuple[str, str]:
    """(wrapping key id, base64 of the sealed data key) for the `lead_keys` row; the lead id is
    authenticated data, so a wrapped key copied onto another lead's row does not open."""
    key_id = ring.current_id
    return key_id, base64.b64encode(seal(ring.key(key_id), data_key, f"lead-key:{lead_id}".encode())).decode()


def unwrap(ring: KeyRing, lead_id: str, wrapping_key_id: str, wrapped: str) -> bytes:
    return unseal(ring.key(wrapping_key_id), base64.b64decode(wrapped), f"lead-key:{lead_id}".encode())


def email_hash(secret: str, email: str) -> str:
    """HMAC-SHA256 hex of a normalised address: matches the same address again, reads back nothing."""
    key = derive(secret, "erased-suppression")
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()
