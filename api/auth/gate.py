"""The one place every request is let in or turned away, before routing reads a byte of its body.

It matches the request to its route, reads the route's entry in `api/policy.py`, authenticates
the caller the way the entry says (Bearer key or UI session), checks the permission and the
caller's rate limit, and hands the Principal to the route in `request.state.principal`.
Answers are the API's one error shape, `{"detail": "..."}`; pages redirect to the login form.
"""
from __future__ import annotations

import hmac
from urllib.parse import quote

from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth.directory import SESSION_COOKIE, PageSession
from api.auth.principal import Principal
from api.policy import Access, access_for
from api.rate_limits import RateLimited


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else ""
    return None


def _cookie(headers: list[tuple[bytes, bytes]], name: str) -> str | None:
    for header, value in headers:
        if header == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, val = part.strip().partition("=")
                if key == name:
                    return val
    return None


def unauthorized(message: str, error: str | None = None) -> JSONResponse:
    challenge = 'Bearer realm="cadence"' + (f', error="{error}"' if error else "")
    return JSONResponse({"detail": message}, status_code=401, headers={"WWW-Authenticate": challenge})


def forbidden(principal: Principal, access: Access) -> JSONResponse:
    return JSONResponse({"detail": f"the {principal.role} role may not do this (needs {access.permission})"},
                        status_code=403)


class AuthGate:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        app = scope["app"]
        path = app.state.route_table.template(scope["method"], scope["path"])
        if path is None:  # no such route: routing answers 404 or 405 as usual
            return await self.app(scope, receive, send)
        access = access_for(scope["method"], path)
        if access is None:  # fail closed: a route nobody wrote a policy for answers nobody
            return await JSONResponse({"detail": "this route has no access policy"}, status_code=403)(
                scope, receive, send)
        response = await self._check(app, scope, access)
        if response is not None:
            return await response(scope, receive, send)
        await self.app(scope, receive, send)

    async def _check(self, app, scope: Scope, access: Access) -> Response | None:
        state = app.state
        if access.via == "public" or (access.via == "docs" and state.settings.cadence_env != "production"):
            return None
        headers = scope["headers"]
        principal: Principal | None = None
        page: PageSession | None = None
        key = _bearer(headers) if access.via in ("key", "key_or_page", "docs", "key_or_token") else None
        if access.via == "key_or_token" and key and _is_metrics_token(state.settings, key):
            return None  # Prometheus's scrape credential: it reads the metrics and nothing else
        if key:
            principal = await state.directory.by_key(key)
            if principal is None:
                return self._limited(state, f"client:{_client(scope)}") or unauthorized(
                    "the API key is not valid (unknown or revoked)", "invalid_token")
        elif access.via in ("page", "key_or_page"):
            cookie = _cookie(headers, SESSION_COOKIE)
            page = await state.directory.by_cookie(cookie) if cookie else None
            principal = page.principal if page else None
        if principal is None:
            if access.via == "page":
                target = scope["path"] + (f"?{scope['query_string'].decode()}" if scope.get("query_string") else "")
                return RedirectResponse(f"/ui/login?next={quote(target)}", status_code=303)
            return unauthorized("an API key is required: send `Authorization: Bearer <key>`"
                                if key is None else "the API key is empty")
        if access.permission is not None and not principal.may(access.permission):
            return forbidden(principal, access)
        limited = self._limited(state, principal.actor)
        if limited:
            return limited
        scope.setdefault("state", {})["principal"] = principal
        if page is not None:
            scope["state"]["page_session"] = page
        return None

    @staticmethod
    def _limited(state, who: str) -> Response | None:
        try:
            state.limits.hit(state.limits.per_caller, who, "caller", who)
        except RateLimited as exc:
            return JSONResponse({"detail": exc.detail}, status_code=429, headers=exc.headers)
        return None


def _is_metrics_token(settings, key: str) -> bool:
    token = settings.cadence_metrics_token
    return token is not None and bool(token.get_secret_value()) and hmac.compare_digest(
        key.encode(), token.get_secret_value().encode())


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"
