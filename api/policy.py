"""Who may call what: one table, route → how the caller authenticates and the permission it needs.

Every route of the app must have an entry; `create_app` refuses to start otherwise, and
`tests/test_access_policy.py` calls every route as every role against its own copy of this table.
Which roles hold a permission is `domain.access.ROLE_PERMISSIONS`; narrowing a rep to its own
leads and tasks happens in the queries (`Principal.owner_scope`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from fastapi.routing import iter_route_contexts
from starlette.routing import Mount, compile_path

from domain.access import Permission as P


@dataclass(frozen=True)
class Access:
    # public: anyone (webhooks check their own signatures); key: `Authorization: Bearer <API key>`;
    # page: a logged-in UI session (and CSRF on writes); key_or_page: either (the codec, called by the
    # Temporal Web UI from a browser); docs: public in development, any key in production;
    # key_or_token: a key, or the CADENCE_METRICS_TOKEN bearer (Prometheus scraping /metrics).
    via: Literal["public", "key", "page", "key_or_page", "docs", "key_or_token"]
    permission: P | None = None  # None with key/page: any authenticated caller


PUBLIC = Access("public")
DOCS = Access("docs")


def key(permission: P | None) -> Access:
    return Access("key", permission)


def page(permission: P | None) -> Access:
    return Access("page", permission)


POLICY: dict[tuple[str, str], Access] = {
    # ---- open: probes, links in emails, webhooks with their own credentials, the login form
    ("GET", "/"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/unsubscribe/{token}"): PUBLIC,
    ("POST", "/unsubscribe/{token}"): PUBLIC,
    ("POST", "/webhooks/sendgrid/events"): PUBLIC,
    ("POST", "/webhooks/sendgrid/inbound"): PUBLIC,
    ("POST", "/webhooks/calls"): PUBLIC,
    ("GET", "/static"): PUBLIC,  # the mount of static files (htmx, styles)
    ("GET", "/ui/login"): PUBLIC,
    ("POST", "/ui/login"): PUBLIC,
    ("GET", "/openapi.json"): DOCS,
    ("GET", "/docs"): DOCS,
    ("GET", "/docs/oauth2-redirect"): DOCS,
    ("GET", "/redoc"): DOCS,
    # ---- leads and their signals (a rep: its own leads only)
    ("POST", "/leads"): key(P.LEADS_CREATE),
    ("GET", "/leads"): key(P.LEADS_READ),
    ("GET", "/leads/{lead_id}"): key(P.LEADS_READ),
    ("POST", "/leads/{lead_id}/signals/{name}"): key(P.LEADS_SIGNAL),
    ("DELETE", "/leads/{lead_id}"): key(P.LEADS_ERASE),
    # ---- lead lists from CSV files: importing is creating leads, and so is following an import
    ("POST", "/imports"): key(P.LEADS_CREATE),
    ("GET", "/imports"): key(P.LEADS_CREATE),
    ("GET", "/imports/{import_id}"): key(P.LEADS_CREATE),
    ("GET", "/leads/{lead_id}/export"): key(P.LEADS_ERASE),
    # ---- the task inbox (a rep: its own tasks only)
    ("GET", "/tasks"): key(P.TASKS_READ),
    ("POST", "/tasks/{task_id}/complete"): key(P.TASKS_WORK),
    # ---- cadences, migrations, ranking
    ("GET", "/cadences"): key(P.CADENCES_READ),
    ("GET", "/cadences/{name}"): key(P.CADENCES_READ),
    ("POST", "/cadences/{name}/simulate"): key(P.CADENCES_READ),
    ("POST", "/cadences/{name}/preview"): key(P.CADENCES_READ),
    ("POST", "/cadences"): key(P.CADENCES_WRITE),
    ("PUT", "/cadences/{name}"): key(P.CADENCES_WRITE),
    ("POST", "/cadences/{name}/archive"): key(P.CADENCES_WRITE),
    ("POST", "/cadences/{name}/unarchive"): key(P.CADENCES_WRITE),
    ("POST", "/cadences/{name}/migrations"): key(P.CADENCES_WRITE),
    ("GET", "/ranking"): key(P.RANKING_READ),
    ("GET", "/ranking/versions"): key(P.RANKING_READ),
    ("PUT", "/ranking"): key(P.RANKING_WRITE),
    # ---- reps and mailboxes
    ("GET", "/reps"): key(P.REPS_READ),
    ("GET", "/reps/{rep_id}"): key(P.REPS_READ),
    ("POST", "/reps"): key(P.REPS_WRITE),
    ("PATCH", "/reps/{rep_id}"): key(P.REPS_WRITE),
    ("GET", "/mailboxes"): key(P.MAILBOXES_READ),
    ("GET", "/mailboxes/{email}"): key(P.MAILBOXES_READ),
    ("POST", "/mailboxes"): key(P.MAILBOXES_WRITE),
    ("PATCH", "/mailboxes/{email}"): key(P.MAILBOXES_WRITE),
    # ---- reading what happened
    ("GET", "/reports/funnel"): key(P.REPORTS_READ),
    ("GET", "/reports/variants"): key(P.REPORTS_READ),
    ("GET", "/reports/steps"): key(P.REPORTS_READ),
    ("GET", "/reports/first-touch"): key(P.REPORTS_READ),
    ("GET", "/reports/tasks"): key(P.REPORTS_READ),
    ("GET", "/outbox"): key(P.OUTBOX_READ),
    ("GET", "/audit"): key(P.AUDIT_READ),
    # ---- credentials
    ("POST", "/api-keys"): key(P.KEYS_MANAGE),
    ("GET", "/api-keys"): key(P.KEYS_MANAGE),
    ("DELETE", "/api-keys/{key_id}"): key(P.KEYS_MANAGE),
    ("POST", "/users"): key(P.USERS_MANAGE),
    ("GET", "/users"): key(P.USERS_MANAGE),
    ("DELETE", "/users/{user_id}"): key(P.USERS_MANAGE),
    # ---- outbound webhooks, and the operator's numbers
    ("POST", "/webhook-endpoints"): key(P.WEBHOOKS_MANAGE),
    ("GET", "/webhook-endpoints"): key(P.WEBHOOKS_MANAGE),
    ("GET", "/webhook-endpoints/{endpoint_id}"): key(P.WEBHOOKS_MANAGE),
    ("PATCH", "/webhook-endpoints/{endpoint_id}"): key(P.WEBHOOKS_MANAGE),
    ("DELETE", "/webhook-endpoints/{endpoint_id}"): key(P.WEBHOOKS_MANAGE),
    ("GET", "/webhook-endpoints/{endpoint_id}/deliveries"): key(P.WEBHOOKS_MANAGE),
    ("POST", "/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry"): key(P.WEBHOOKS_MANAGE),
    ("GET", "/metrics"): Access("key_or_token", P.METRICS_READ),
    # ---- the Temporal Web UI's codec server
    ("POST", "/codec/encode"): Access("key_or_page", P.CODEC),
    ("POST", "/codec/decode"): Access("key_or_page", P.CODEC),
    # ---- the web UI (what a page shows follows the role)
    ("GET", "/ui"): page(P.LEADS_READ),  # a rep is sent on to its inbox
    ("GET", "/ui/inbox"): page(P.TASKS_READ),
    ("GET", "/ui/leads"): page(P.LEADS_READ),
    ("GET", "/ui/leads/{lead_id}"): page(P.LEADS_READ),
    ("POST", "/ui/tasks/{task_id}/complete"): page(P.TASKS_WORK),
    ("POST", "/ui/logout"): page(None),
    ("GET", "/ui/cadences"): page(P.CADENCES_READ),
    ("GET", "/ui/cadences/{name}"): page(P.CADENCES_READ),
    ("GET", "/ui/cadences/{name}/diff"): page(P.CADENCES_READ),
    ("GET", "/ui/cadences/{name}/edit"): page(P.CADENCES_WRITE),
    ("POST", "/ui/cadences/{name}/edit"): page(P.CADENCES_WRITE),
    ("GET", "/ui/cadences/{name}/migrate"): page(P.CADENCES_WRITE),
    ("POST", "/ui/cadences/{name}/migrate"): page(P.CADENCES_WRITE),
    ("GET", "/ui/reports"): page(P.REPORTS_READ),
    ("GET", "/ui/reports/{report}.csv"): page(P.REPORTS_READ),
    ("POST", "/ui/leads/{lead_id}/signals/{name}"): page(P.LEADS_SIGNAL),
    ("POST", "/ui/leads/{lead_id}/replies/{record_id}/intent"): page(P.LEADS_SIGNAL),
    ("GET", "/ui/settings"): page(P.REPS_READ),
    ("GET", "/ui/settings/reps"): page(P.REPS_READ),
    ("POST", "/ui/settings/reps"): page(P.REPS_WRITE),
    ("POST", "/ui/settings/reps/{rep_id}"): page(P.REPS_WRITE),
    ("GET", "/ui/settings/mailboxes"): page(P.MAILBOXES_READ),
    ("POST", "/ui/settings/mailboxes"): page(P.MAILBOXES_WRITE),
    ("GET", "/ui/settings/ranking"): page(P.RANKING_READ),
    ("POST", "/ui/settings/ranking"): page(P.RANKING_WRITE),
    ("GET", "/ui/settings/keys"): page(P.KEYS_MANAGE),
    ("POST", "/ui/settings/keys"): page(P.KEYS_MANAGE),
    ("POST", "/ui/settings/keys/{key_id}/revoke"): page(P.KEYS_MANAGE),
    ("GET", "/ui/settings/users"): page(P.USERS_MANAGE),
    ("POST", "/ui/settings/users"): page(P.USERS_MANAGE),
    ("POST", "/ui/settings/users/{user_id}/disable"): page(P.USERS_MANAGE),
    ("GET", "/ui/settings/webhooks"): page(P.WEBHOOKS_MANAGE),
    ("POST", "/ui/settings/webhooks"): page(P.WEBHOOKS_MANAGE),
    ("GET", "/ui/settings/webhooks/{endpoint_id}"): page(P.WEBHOOKS_MANAGE),
    ("POST", "/ui/settings/webhooks/{endpoint_id}"): page(P.WEBHOOKS_MANAGE),
    ("POST", "/ui/settings/webhooks/{endpoint_id}/delete"): page(P.WEBHOOKS_MANAGE),
    ("POST", "/ui/settings/webhooks/{endpoint_id}/deliveries/{delivery_id}/retry"): page(P.WEBHOOKS_MANAGE),
}


def access_for(method: str, path: str) -> Access | None:
    return POLICY.get((method, path))


def app_routes(routes) -> list[tuple[str, str]]:
    """Every (method, path template) the app serves, routers included; a mount (static files) as
    GET of its prefix."""
    found = []
    for route in iter_route_contexts(routes):
        if isinstance(route.original_route, Mount):
            found.append(("GET", route.original_route.path))
            continue
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                found.append((method, route.path))
    return found


def routes_without_policy(routes) -> list[str]:
    """Every (method, path) of `routes` the table does not name: a route nobody decided about."""
    return [f"{method} {path}" for method, path in app_routes(routes) if (method, path) not in POLICY]


class RouteTable:
    """Finds the route template of a request path before routing does, so the gate can look up
    its policy without reading the body (the same templates as the router: same matches)."""

    def __init__(self, routes):
        mounts = {route.path for route in routes if isinstance(route, Mount)}
        self._routes = [(re.compile(f"^{re.escape(path)}/") if path in mounts else compile_path(path)[0], method, path)
                        for method, path in app_routes(routes)]

    def template(self, method: str, path: str) -> str | None:
        method = "GET" if method == "HEAD" else method
        for regex, route_method, template in self._routes:
            if route_method == method and regex.match(path):
                return template
        return None
