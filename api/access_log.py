"""Access logs without secrets or personal data: unsubscribe tokens, email addresses and search
terms (a name, a company) in a request's path or query are replaced before uvicorn writes the line
(`<token>`, `<email>`, `<redacted>`)."""
from __future__ import annotations

import logging
import re

_TOKEN_PATH = re.compile(r"^(/unsubscribe/)[^/?]+")
_EMAIL = re.compile(r"[^/?&=\s]+(?:@|%40)[^/?&=\s]+", re.I)
# Secrets, and the lead search (`GET /leads?q=`, `/ui/leads?q=`), whose words are people's names.
_PRIVATE_QUERY = re.compile(r"([?&](?:token|key|password|csrf_token|q)=)[^&]*", re.I)


def redact(path: str) -> str:
    path = _TOKEN_PATH.sub(r"\1<token>", path)
    path = _PRIVATE_QUERY.sub(r"\1<redacted>", path)
    return _EMAIL.sub("<email>", path)


class RedactPaths(logging.Filter):
    """uvicorn's access record args are (client, method, path with query, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        return True


def install() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactPaths) for f in access.filters):
        access.addFilter(RedactPaths())
