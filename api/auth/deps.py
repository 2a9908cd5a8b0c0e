"""What routes take from the gate: the caller, and for pages its session and CSRF check."""
from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from api.auth.directory import PageSession
from api.auth.principal import Principal

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


async def current_principal(request: Request) -> Principal:  # a coroutine: no thread hop
    principal = getattr(request.state, "principal", None)
    if principal is None:  # the gate lets no such request through to a route that asks for one
        raise HTTPException(401, "not authenticated", headers={"WWW-Authenticate": 'Bearer realm="cadence"'})
    return principal


async def current_page_session(request: Request) -> PageSession:
    page = getattr(request.state, "page_session", None)
    if page is None:
        raise HTTPException(401, "log in first")
    return page


async def csrf_protect(request: Request) -> None:
    """Every UI write carries the session's CSRF token (a form field, or a header for scripts)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    page = getattr(request.state, "page_session", None)
    if page is None:
        return  # public forms (login) check their own token
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form()  # parsed once; the route's Form() fields read the same parse
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not given or not hmac.compare_digest(given.encode(), page.csrf_token.encode()):
        raise HTTPException(403, "the form is out of date or was not sent from Cadence (CSRF check); reload the page")


PrincipalDep = Annotated[Principal, Depends(current_principal)]
PageSessionDep = Annotated[PageSession, Depends(current_page_session)]
