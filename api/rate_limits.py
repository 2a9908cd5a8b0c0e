"""Rate limits (the `limits` library): per API key or UI session, per lead on signals, on failed logins.

Counters live in `CADENCE_RATE_LIMIT_STORAGE` ("memory://" per process; a shared store such as
"redis://host:6379" when several API processes serve one product). A refusal is a 429 with
`Retry-After` in seconds.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from fastapi import HTTPException
from limits import RateLimitItem, parse, storage, strategies

from config import Settings


class RateLimited(HTTPException):
    def __init__(self, what: str, retry_after: int):
        super().__init__(429, f"too many requests for {what}; retry in {retry_after} s",
                         headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


@dataclass
class Limits:
    per_caller: RateLimitItem
    per_lead_signal: RateLimitItem
    failed_logins: RateLimitItem  # per email address; a client address gets four times as many
    failed_logins_per_client: RateLimitItem
    limiter: strategies.RateLimiter

    @classmethod
    def from_settings(cls, settings: Settings) -> "Limits":
        logins = parse(settings.cadence_login_rate_limit)
        per_client = type(logins)(logins.amount * 4, logins.multiples, logins.namespace)
        return cls(parse(settings.cadence_rate_limit), parse(settings.cadence_signal_rate_limit), logins,
                   per_client, strategies.MovingWindowRateLimiter(
                       storage.storage_from_string(settings.cadence_rate_limit_storage)))

    def hit(self, item: RateLimitItem, what: str, *identifiers: str) -> None:
        """Count one request; raise RateLimited when over the limit."""
        if not self.limiter.hit(item, *identifiers):
            raise RateLimited(what, self.retry_after(item, *identifiers))

    def check(self, item: RateLimitItem, what: str, *identifiers: str) -> None:
        """Raise RateLimited when the limit is used up, without counting."""
        if not self.limiter.test(item, *identifiers):
            raise RateLimited(what, self.retry_after(item, *identifiers))

    def retry_after(self, item: RateLimitItem, *identifiers: str) -> int:
        reset = self.limiter.get_window_stats(item, *identifiers).reset_time
        return max(1, math.ceil(reset - time.time()))
