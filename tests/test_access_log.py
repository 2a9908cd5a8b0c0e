"""Access log lines carry no unsubscribe token, secret query value or email address."""
from __future__ import annotations

import logging

from api.access_log import RedactPaths, redact


def test_tokens_addresses_and_search_terms_are_replaced():
    assert redact("/unsubscribe/abc.DEF-123") == "/unsubscribe/<token>"
    assert redact("/mailboxes/sam@example.com?days=7") == "/mailboxes/<email>?days=7"
    assert redact("/leads?q=grace%40navy.mil&limit=5") == "/leads?q=<redacted>&limit=5"
    assert redact("/ui/leads?stage=new&q=Grace+Hopper") == "/ui/leads?stage=new&q=<redacted>"
    assert redact("/leads?owner=rep-1&limit=5") == "/leads?owner=rep-1&limit=5"  # no person in these
    assert redact("/codec/decode?token=s3cret&x=1") == "/codec/decode?token=<redacted>&x=1"
    assert redact("/leads/Xy3abc/signals/reply") == "/leads/Xy3abc/signals/reply"


def test_the_filter_rewrites_uvicorns_access_record():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/unsubscribe/tok.sig", "1.1", 200), None)
    assert RedactPaths().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /unsubscribe/<token> HTTP/1.1" 200'
