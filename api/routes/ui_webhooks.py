"""Settings → Integrations → Webhooks: the outbound webhook endpoints (create with the secret shown
once, pause, resume, delete) and each one's deliveries with their attempts (retry one). Every write
is the JSON API's route function in `api/routes/webhook_endpoints.py`."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.auth.deps import PrincipalDep
from api.deps import SessionDep, SettingsDep
from api.routes import webhook_endpoints as endpoints
from api.routes.ui import page_router
from api.routes.ui_settings import Refused, _call, _refused, _render, _shown_once
from domain.webhooks import DELIVERY_STATUSES, EVENT_TYPES

router = page_router()


def _context(session, **extra) -> dict[str, Any]:
    return {"endpoints": endpoints.list_endpoints(session)[::-1], "event_types": EVENT_TYPES, "error": None,
            "message": None, "created": None, "form": {}, **extra}


@router.get("/settings/webhooks", response_class=HTMLResponse)
def webhooks_page(request: Request, session: SessionDep, principal: PrincipalDep):
    return _render(request, principal, "webhooks", _context(session))


@router.post("/settings/webhooks")
def create_webhook(request: Request, session: SessionDep, settings: SettingsDep, principal: PrincipalDep,
                   url: Annotated[str, Form(max_length=2000)],
                   events: Annotated[list[str], Form(max_length=40)] = [],  # noqa: B006  (FastAPI reads it)
                   description: Annotated[str | None, Form(max_length=500)] = None,
                   include_reply_text: Annotated[str | None, Form(max_length=5)] = None):
    """`POST /webhook-endpoints`; the signing secret is on this answer only."""
    form = {"url": url, "events": events, "description": description, "include_reply_text": bool(include_reply_text)}
    try:
        body = _call(endpoints.EndpointCreate, url=url.strip(), events=events,
                     description=(description or "").strip() or None, include_reply_text=bool(include_reply_text))
        created = _call(endpoints.create_endpoint, body, session, settings, principal)
    except Refused as exc:
        return _refused(request, session, principal, "webhooks", _context, exc, form=form)
    return _shown_once(_render(request, principal, "webhooks", _context(session, created=created), 201))


@router.post("/settings/webhooks/{endpoint_id}")
def change_webhook(endpoint_id: str, request: Request, session: SessionDep, principal: PrincipalDep,
                   status: Annotated[str, Form(max_length=10)]):
    """Pause or resume (`PATCH /webhook-endpoints/{id}`): resuming sends the events it held."""
    try:
        changed = _call(endpoints.update_endpoint, endpoint_id, _call(endpoints.EndpointUpdate, status=status),
                        session, principal)
    except Refused as exc:
        return _refused(request, session, principal, "webhooks", _context, exc)
    words = "resumed: held events go out now" if changed["status"] == "active" else "paused: events wait for it"
    return _render(request, principal, "webhooks", _context(session, message=f"{changed['url']} {words}."))


@router.post("/settings/webhooks/{endpoint_id}/delete")
def delete_webhook(endpoint_id: str, request: Request, session: SessionDep, principal: PrincipalDep):
    gone = endpoints.delete_endpoint(endpoint_id, session, principal)
    return _render(request, principal, "webhooks", _context(session, message=f"Deleted {gone['url']}."))


@router.get("/settings/webhooks/{endpoint_id}", response_class=HTMLResponse)
def deliveries_page(endpoint_id: str, request: Request, session: SessionDep, principal: PrincipalDep,
                    status: str | None = None, message: str | None = None):
    status = status if status in DELIVERY_STATUSES else None
    endpoint = endpoints.get_endpoint(endpoint_id, session)
    found = endpoints.list_deliveries(endpoint_id, session, status=status, limit=50, offset=0)
    return _render(request, principal, "webhooks", template="settings_webhook.html", context={
        "endpoint": endpoint, "deliveries": found["data"], "total": found["count"], "status": status,
        "statuses": DELIVERY_STATUSES, "message": "Sent again: the next attempt is on its way." if message else None,
        "error": None})


@router.post("/settings/webhooks/{endpoint_id}/deliveries/{delivery_id}/retry")
def retry_delivery(endpoint_id: str, delivery_id: str, session: SessionDep, principal: PrincipalDep):
    endpoints.retry_delivery(endpoint_id, delivery_id, session, principal)
    return RedirectResponse(f"/ui/settings/webhooks/{endpoint_id}?message=retried", status_code=303)
