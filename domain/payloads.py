"""Bounds on free-form data: it is stored in JSON columns and travels in workflow payloads, so
its size must be known before it is accepted, not discovered when a write or a start fails."""
from __future__ import annotations

import math
from typing import Any

# A lead's `custom` fields (what templates read as `custom.<name>`).
MAX_CUSTOM_KEYS = 50
MAX_CUSTOM_KEY = 64  # characters of a name
MAX_CUSTOM_TEXT = 2_000  # characters of a text value
MAX_CUSTOM_LIST = 50  # items of a list value
MAX_CUSTOM_BYTES = 16 * 1024  # all of them as JSON
_SCALARS = (str, int, float, bool, type(None))


def json_size_over(data: Any, limit: int) -> bool:
    """Whether `data` takes more than about `limit` bytes as JSON. The walk stops as soon as it
    has seen `limit` bytes, so a huge value (or YAML aliases that repeat one list a billion
    times) costs no more to refuse than a value of the limit's size."""
    size, stack = 0, [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            size += 2 + 2 * len(value)
            if size <= limit:
                stack.extend(value.keys())
                stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            size += 2 + len(value)
            if size <= limit:
                stack.extend(value)
        elif isinstance(value, str):
            size += (2 + len(value.encode("utf-8", "replace"))) if len(value) <= limit else limit + 1
        else:
            try:
                size += len(str(value))
            except ValueError:  # an integer too long to print
                return True
        if size > limit:
            return True
    return False


def custom_fields_problem(custom: Any) -> str | None:
    """Why `custom` cannot be a lead's custom fields, or None: names are short text, values are
    text, numbers, true/false, null or short lists of those, and all of it is small."""
    if not isinstance(custom, dict):
        return "must be an object"
    if len(custom) > MAX_CUSTOM_KEYS:
        return f"has {len(custom)} fields; at most {MAX_CUSTOM_KEYS}"
    if json_size_over(custom, MAX_CUSTOM_BYTES):
        return f"is larger than {MAX_CUSTOM_BYTES // 1024} KB as JSON"
    for key, value in custom.items():
        if not isinstance(key, str) or not key or len(key) > MAX_CUSTOM_KEY:
            return f"field names must be 1 to {MAX_CUSTOM_KEY} characters; {str(key)[:80]!r} is not"
        items = value if isinstance(value, list) else [value]
        if isinstance(value, list) and len(value) > MAX_CUSTOM_LIST:
            return f"{key}: a list of at most {MAX_CUSTOM_LIST} items"
        for item in items:
            problem = _scalar_problem(item)
            if problem:
                return f"{key}: {problem}"
    return None


def _scalar_problem(value: Any) -> str | None:
    if not isinstance(value, _SCALARS):
        return "values must be text, numbers, true/false, null or lists of those"
    if isinstance(value, float) and not math.isfinite(value):
        return "numbers must be finite"
    if isinstance(value, str) and len(value) > MAX_CUSTOM_TEXT:
        return f"text values may have at most {MAX_CUSTOM_TEXT} characters"
    return None
