"""The API as the command line sees it: one HTTP client, and every refusal as one line naming its field."""
from __future__ import annotations

from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"


class Problem(Exception):
    """Something the user can act on, said in one line; the command exits non-zero."""


def describe(response: httpx.Response) -> str:
    """The API's answer in one line: `field: message` for each problem of a 422, else its detail."""
    try:
        detail: Any = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = [str(p) for p in item.get("loc", []) if p not in ("body", "query", "path", "header")]
                parts.append(f"{'.'.join(loc)}: {item.get('msg')}" if loc else str(item.get("msg")))
            else:
                parts.append(str(item))
        text = "; ".join(parts)
    elif isinstance(detail, dict):
        text = str(detail.get("msg") or detail)
    elif detail is not None:
        text = str(detail)
    else:
        text = response.text.strip()[:200] or response.reason_phrase
    if response.status_code == 401:
        return f"the API refused the key ({text}); set CADENCE_API_KEY to a valid key"
    if response.status_code == 403:
        return f"this key may not do that ({text})"
    return text


class Api:
    def __init__(self, url: str, key: str | None, timeout: float = 30.0):
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def __enter__(self) -> "Api":
        return self

    def __exit__(self, *exc) -> None:
        self._http.close()

    def request(self, method: str, path: str, *, expect: tuple[int, ...] = (200, 201, 202),
                **options: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **options)
        except httpx.TimeoutException:
            raise Problem(f"the API at {self.url} did not answer in time") from None
        except httpx.TransportError as exc:
            raise Problem(f"cannot reach the API at {self.url} ({exc}); is it running? set CADENCE_URL") from None
        if response.status_code not in expect:
            raise Problem(describe(response))
        return response

    def get(self, path: str, **options: Any) -> Any:
        return self.request("GET", path, **options).json()

    def post(self, path: str, **options: Any) -> Any:
        return self.request("POST", path, **options).json()
