"""Who may call what, route by route: every route of the app is called with no credentials and as
every role, against this file's own table. A route missing from the table fails, and so does a
route that answers differently from it, so a new route cannot ship without a decision."""
from __future__ import annotations

import uuid

import httpx
import pytest

from api import policy
from api.main import create_app
from tests.support.live import (
    api_client, free_port, make_user, prepare_database, running_worker, serving_api, settings_for, ui_login,
)
from tests.test_api_e2e import FAST, dev_server  # noqa: F401  (fixture)

pytestmark = [pytest.mark.e2e]

ALL = {"admin", "ops", "rep", "integration"}
STAFF = {"admin", "ops"}
ADMIN = {"admin"}
READERS = {"admin", "ops", "rep"}
PUBLIC, DOCS = "public", "docs"  # docs: open in development and test, a key of any role in production

# (method, path) -> the roles that may call it, PUBLIC, or DOCS. Pages (under /ui) are called with a
# logged-in session, everything else with an API key.
EXPECTED: dict[tuple[str, str], set[str] | str] = {
    ("GET", "/"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/unsubscribe/{token}"): PUBLIC,
    ("POST", "/unsubscribe/{token}"): PUBLIC,
    ("POST", "/webhooks/sendgrid/events"): PUBLIC,
    ("POST", "/webhooks/sendgrid/inbound"): PUBLIC,
    ("POST", "/webhooks/calls"): PUBLIC,
    ("GET", "/static"): PUBLIC,
    ("GET", "/ui/login"): PUBLIC,
    ("POST", "/ui/login"): PUBLIC,
    ("GET", "/openapi.json"): DOCS,
    ("GET", "/docs"): DOCS,
    ("GET", "/docs/oauth2-redirect"): DOCS,
    ("GET", "/redoc"): DOCS,
    ("POST", "/leads"): {"admin", "ops", "integration"},
    ("GET", "/leads"): READERS,
    ("GET", "/leads/{lead_id}"): READERS,
    ("POST", "/leads/{lead_id}/signals/{name}"): ALL,
    ("DELETE", "/leads/{lead_id}"): STAFF,
    ("POST", "/imports"): {"admin", "ops", "integration"},
    ("GET", "/imports"): {"admin", "ops", "integration"},
    ("GET", "/imports/{import_id}"): {"admin", "ops", "integration"},
    ("GET", "/leads/{lead_id}/export"): STAFF,
    ("GET", "/tasks"): READERS,
    ("POST", "/tasks/{task_id}/complete"): READERS,
    ("GET", "/cadences"): READERS,
    ("GET", "/cadences/{name}"): READERS,
    ("POST", "/cadences/{name}/simulate"): READERS,
    ("POST", "/cadences/{name}/preview"): READERS,
    ("POST", "/cadences"): STAFF,
    ("PUT", "/cadences/{name}"): STAFF,
    ("POST", "/cadences/{name}/archive"): STAFF,
    ("POST", "/cadences/{name}/unarchive"): STAFF,
    ("POST", "/cadences/{name}/migrations"): STAFF,
    ("GET", "/ranking"): STAFF,
    ("GET", "/ranking/versions"): STAFF,
    ("PUT", "/ranking"): STAFF,
    ("GET", "/reps"): STAFF,
    ("GET", "/reps/{rep_id}"): STAFF,
    ("POST", "/reps"): STAFF,
    ("PATCH", "/reps/{rep_id}"): STAFF,
    ("GET", "/mailboxes"): STAFF,
    ("GET", "/mailboxes/{email}"): STAFF,
    ("POST", "/mailboxes"): STAFF,
    ("PATCH", "/mailboxes/{email}"): STAFF,
    ("GET", "/reports/funnel"): STAFF,
    ("GET", "/reports/variants"): STAFF,
    ("GET", "/reports/steps"): STAFF,
    ("GET", "/reports/first-touch"): STAFF,
    ("GET", "/reports/tasks"): STAFF,
    ("GET", "/outbox"): STAFF,
    ("GET", "/audit"): STAFF,
    ("POST", "/api-keys"): ADMIN,
    ("GET", "/api-keys"): ADMIN,
    ("DELETE", "/api-keys/{key_id}"): ADMIN,
    ("POST", "/users"): ADMIN,
    ("GET", "/users"): ADMIN,
    ("DELETE", "/users/{user_id}"): ADMIN,
    ("POST", "/webhook-endpoints"): STAFF,
    ("GET", "/webhook-endpoints"): STAFF,
    ("GET", "/webhook-endpoints/{endpoint_id}"): STAFF,
    ("PATCH", "/webhook-endpoints/{endpoint_id}"): STAFF,
    ("DELETE", "/webhook-endpoints/{endpoint_id}"): STAFF,
    ("GET", "/webhook-endpoints/{endpoint_id}/deliveries"): STAFF,
    ("POST", "/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry"): STAFF,
    ("GET", "/metrics"): STAFF,  # or the CADENCE_METRICS_TOKEN bearer (tests/test_metrics.py)
    ("POST", "/codec/encode"): STAFF,
    ("POST", "/codec/decode"): STAFF,
    ("GET", "/ui"): READERS,
    ("GET", "/ui/inbox"): READERS,
    ("GET", "/ui/leads"): READERS,
    ("GET", "/ui/leads/{lead_id}"): READERS,
    ("POST", "/ui/tasks/{task_id}/complete"): READERS,
    ("POST", "/ui/logout"): ALL,
    ("POST", "/ui/leads/{lead_id}/signals/{name}"): ALL,
    ("POST", "/ui/leads/{lead_id}/replies/{record_id}/intent"): ALL,
    ("GET", "/ui/settings"): STAFF,
    ("GET", "/ui/settings/reps"): STAFF,
    ("POST", "/ui/settings/reps"): STAFF,
    ("POST", "/ui/settings/reps/{rep_id}"): STAFF,
    ("GET", "/ui/settings/mailboxes"): STAFF,
    ("POST", "/ui/settings/mailboxes"): STAFF,
    ("GET", "/ui/settings/ranking"): STAFF,
    ("POST", "/ui/settings/ranking"): STAFF,
    ("GET", "/ui/settings/keys"): ADMIN,
    ("POST", "/ui/settings/keys"): ADMIN,
    ("POST", "/ui/settings/keys/{key_id}/revoke"): ADMIN,
    ("GET", "/ui/settings/users"): ADMIN,
    ("POST", "/ui/settings/users"): ADMIN,
    ("POST", "/ui/settings/users/{user_id}/disable"): ADMIN,
    ("GET", "/ui/settings/webhooks"): STAFF,
    ("POST", "/ui/settings/webhooks"): STAFF,
    ("GET", "/ui/settings/webhooks/{endpoint_id}"): STAFF,
    ("POST", "/ui/settings/webhooks/{endpoint_id}"): STAFF,
    ("POST", "/ui/settings/webhooks/{endpoint_id}/delete"): STAFF,
    ("POST", "/ui/settings/webhooks/{endpoint_id}/deliveries/{delivery_id}/retry"): STAFF,
    ("GET", "/ui/cadences"): READERS,
    ("GET", "/ui/cadences/{name}"): READERS,
    ("GET", "/ui/cadences/{name}/diff"): READERS,
    ("GET", "/ui/cadences/{name}/edit"): STAFF,
    ("POST", "/ui/cadences/{name}/edit"): STAFF,
    ("GET", "/ui/cadences/{name}/migrate"): STAFF,
    ("POST", "/ui/cadences/{name}/migrate"): STAFF,
    ("GET", "/ui/reports"): STAFF,
    ("GET", "/ui/reports/{report}.csv"): STAFF,
}


def app_routes() -> list[tuple[str, str]]:
    return policy.app_routes(create_app().routes)


def test_every_route_has_an_entry_in_the_table():
    missing = [f"{m} {p}" for m, p in app_routes() if (m, p) not in EXPECTED]
    assert not missing, f"routes without an expected policy in this test: {missing}"
    stale = [f"{m} {p}" for m, p in EXPECTED if (m, p) not in set(app_routes())]
    assert not stale, f"the table names routes that no longer exist: {stale}"


def test_every_route_in_the_openapi_schema_is_in_the_table():
    schema = create_app().openapi()
    for path, operations in schema["paths"].items():
        for method in operations:
            assert (method.upper(), path) in EXPECTED, f"{method.upper()} {path} has no expected policy"


def test_the_app_refuses_to_start_with_a_route_nobody_decided_about():
    from fastapi import APIRouter

    import api.main as main

    stray = APIRouter()

    @stray.get("/stray")
    def _stray() -> dict:
        return {}

    original = main.health.router
    combined = APIRouter()
    combined.include_router(original)
    combined.include_router(stray)
    main.health.router = combined
    try:
        with pytest.raises(RuntimeError, match="GET /stray"):
            main.create_app()
    finally:
        main.health.router = original


def gate_refused(response: httpx.Response) -> str | None:
    """How the gate turned the request away, or None when it let it through to the route."""
    if response.status_code == 401 and response.headers.get("www-authenticate", "").startswith("Bearer"):
        return "unauthenticated"
    if response.status_code == 303 and response.headers.get("location", "").startswith("/ui/login?next="):
        return "unauthenticated"
    if response.status_code == 403 and "role may not" in response.text:
        return "forbidden"
    return None


def concrete(path: str) -> str:
    """Path parameters filled with ids nothing has, so no call changes a real lead or key."""
    return (path.replace("{lead_id}", "no-such-lead").replace("{task_id}", "no-such-task")
            .replace("{name}", "rank-a").replace("{rep_id}", "no-such-rep").replace("{email}", "no@example.com")
            .replace("/static", "/static/vendor/htmx-2.0.11.min.js").replace("{key_id}", "no-such-key").replace("{user_id}", "no-such-user").replace("{import_id}", "no-such-import").replace("{import_id}", "no-such-import").replace("{token}", "x.y")
            .replace("{endpoint_id}", "no-such-endpoint").replace("{delivery_id}", "no-such-delivery"))


async def call(client: httpx.AsyncClient, method: str, path: str, csrf: str | None = None) -> httpx.Response:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    if path.startswith("/ui") or method in ("GET", "DELETE"):
        return await client.request(method, concrete(path), headers=headers)
    if path == "/codec/decode" or path == "/codec/encode":
        return await client.request(method, concrete(path), json={"payloads": []}, headers=headers)
    return await client.request(method, concrete(path), json={}, headers=headers)


@pytest.fixture
async def stack(dev_server, sqlite_db):  # noqa: F811
    prepare_database(sqlite_db)
    port = int(dev_server.client.service_client.config.target_host.rsplit(":", 1)[1])
    settings = settings_for(sqlite_db, port, free_port(), f"policy-{uuid.uuid4().hex[:8]}")
    async with running_worker(dev_server.client, settings, sqlite_db):
        with serving_api(settings, sqlite_db) as base_url:
            async with api_client(base_url) as admin:
                keys, browsers = {"admin": admin}, {}
                assert (await admin.post("/reps", json={"id": "ana", "name": "Ana",
                                                        "email": "ana@example.com"})).status_code == 201
                for role in ("ops", "rep", "integration"):
                    r = await admin.post("/api-keys", json={"name": f"{role} key", "role": role,
                                                            "rep_id": "ana" if role == "rep" else None})
                    assert r.status_code == 201, r.text
                    keys[role] = api_client(base_url, r.json()["key"])
                for role in sorted(ALL):
                    email, password = await make_user(admin, role, "ana" if role == "rep" else None)
                    browsers[role] = await ui_login(base_url, email, password, sqlite_db)
                yield base_url, keys, browsers
                for client in [*keys.values(), *browsers.values()]:
                    if client is not admin:
                        await client.aclose()


async def test_each_route_answers_each_role_as_the_table_says(stack):
    base_url, keys, browsers = stack
    anonymous = httpx.AsyncClient(base_url=base_url, timeout=15)
    wrong = []
    try:
        # Logging out ends the session: those calls go last.
        for method, path in sorted(EXPECTED, key=lambda route: route == ("POST", "/ui/logout")):
            expected = EXPECTED[(method, path)]
            page = path.startswith("/ui") and expected != PUBLIC
            r = await call(anonymous, method, path)
            want = None if expected in (PUBLIC, DOCS) else "unauthenticated"
            if gate_refused(r) != want:
                wrong.append(f"{method} {path} without credentials: {r.status_code} {r.text[:120]}")
            if expected in (PUBLIC, DOCS):
                continue
            for role in sorted(ALL):
                client = browsers[role] if page else keys[role]
                r = await call(client, method, path, getattr(client, "csrf", None) if page else None)
                want = None if role in expected else "forbidden"
                if gate_refused(r) != want or r.status_code >= 500:
                    wrong.append(f"{method} {path} as {role}: {r.status_code} {r.text[:120]}")
    finally:
        await anonymous.aclose()
    assert not wrong, "routes answering differently from the table:\n" + "\n".join(wrong)


async def test_a_wrong_or_revoked_key_is_a_401_naming_the_scheme(stack):
    base_url, keys, _ = stack
    async with api_client(base_url, "cad_not-a-key-at-all-0000000000000000") as stranger:
        r = await stranger.get("/leads")
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    assert set(r.json()) == {"detail"}
    admin = keys["admin"]
    made = (await admin.post("/api-keys", json={"name": "short-lived", "role": "ops"})).json()
    async with api_client(base_url, made["key"]) as short_lived:
        assert (await short_lived.get("/leads")).status_code == 200
        assert (await admin.delete(f"/api-keys/{made['id']}")).status_code == 200
        assert (await short_lived.get("/leads")).status_code == 401
    listed = {k["id"]: k for k in (await admin.get("/api-keys")).json()}
    assert listed[made["id"]]["revoked_at"] and "key" not in listed[made["id"]]
    assert listed[made["id"]]["last_used_at"] is not None


async def test_a_rep_sees_only_its_own_leads_and_tasks_and_others_are_404(stack):
    base_url, keys, _ = stack
    admin, rep = keys["admin"], keys["rep"]
    assert (await admin.post("/reps", json={"id": "ben", "name": "Ben", "email": "ben@example.com"})).status_code == 201
    assert (await admin.post("/cadences", json=FAST)).status_code == 201  # a call task at once
    mine = (await admin.post("/leads", json={"email": f"{uuid.uuid4().hex[:8]}@example.com", "source": "form_fill",
                                             "owner": "ana", "cadence": "fast-test",
                                             "phone": "+14155550100"})).json()
    theirs = (await admin.post("/leads", json={"email": f"{uuid.uuid4().hex[:8]}@example.com",
                                               "source": "form_fill", "owner": "ben", "cadence": "fast-test",
                                               "phone": "+14155550101"})).json()
    assert (await rep.get(f"/leads/{mine['id']}")).status_code == 200
    hidden = await rep.get(f"/leads/{theirs['id']}")
    assert hidden.status_code == 404 and hidden.json() == {"detail": f"no lead with id {theirs['id']!r}"}
    assert (await rep.post(f"/leads/{theirs['id']}/signals/pause", json={})).status_code == 404
    listed = (await rep.get("/leads")).json()
    assert {lead["owner"] for lead in listed["data"]} == {"ana"}
    assert (await rep.get("/leads", params={"owner": "ben"})).json() == {"data": [], "count": 0,
                                                                   "next_cursor": None}
    from tests.support.harness import eventually

    async def tasks_of(lead_id):
        return (await admin.get("/tasks", params={"lead_id": lead_id})).json()["data"] or None
    their_task = (await eventually(lambda: tasks_of(theirs["id"]), timeout=15))[0]
    assert (await rep.post(f"/tasks/{their_task['id']}/complete", json={"outcome": "no_answer"})).status_code == 404
    assert all(t["owner"] == "ana" for t in (await rep.get("/tasks")).json()["data"])


async def test_an_integration_learns_nothing_about_a_known_person(stack):
    base_url, keys, _ = stack
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    created = await keys["integration"].post("/leads", json={"email": email, "source": "form_fill",
                                                             "first_name": "Grace"})
    assert created.status_code == 201
    again = await keys["integration"].post("/leads", json={"email": email, "source": "form_fill"})
    assert again.status_code == 200 and again.json() == {"id": created.json()["id"], "status": "active"}
    assert (await keys["ops"].post("/leads", json={"email": email, "source": "form_fill"})).json()["email"] == email


async def test_configuration_changes_are_in_the_audit_log(stack):
    base_url, keys, _ = stack
    ops = keys["ops"]
    assert (await ops.patch("/reps/ana", json={"team": "west"})).status_code == 200
    assert (await ops.post("/cadences/rank-d/archive")).status_code == 200
    log = (await ops.get("/audit")).json()["data"]
    actions = [(e["action"], e["target_id"]) for e in log]
    assert ("cadence.archived", "rank-d") in actions and ("rep.updated", "ana") in actions
    assert ("api_key.created", None) not in actions
    rep_change = next(e for e in log if e["action"] == "rep.updated")
    assert rep_change["changes"] == {"team": {"from": None, "to": "west"}}
    assert rep_change["actor"].startswith("key:") and rep_change["actor_name"] == "ops key"
    assert (await keys["rep"].get("/audit")).status_code == 403



async def test_in_production_the_api_docs_need_a_key(sqlite_db):
    from tests.support.live import ADMIN_KEY
    from tests.test_production_settings import production

    app = create_app(production(sqlite_db.url, CADENCE_BOOTSTRAP_API_KEY=ADMIN_KEY), db=sqlite_db)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            for path in ("/openapi.json", "/docs", "/redoc"):
                refused = await http.get(path)
                assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
                shown = await http.get(path, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
                assert shown.status_code == 200, path
            assert (await http.get("/healthz")).status_code in (200, 503)  # a probe never needs a key


async def test_a_rep_cannot_preview_another_reps_lead(stack):
    base_url, keys, _ = stack
    admin, rep = keys["admin"], keys["rep"]
    if (await admin.get("/reps/ben")).status_code == 404:
        assert (await admin.post("/reps", json={"id": "ben", "name": "Ben", "email": "ben@example.com"})).status_code == 201
    theirs = (await admin.post("/leads", json={"email": f"{uuid.uuid4().hex[:8]}@example.com", "source": "form_fill",
                                               "owner": "ben", "first_name": "Secretname"})).json()
    r = await rep.post("/cadences/rank-a/preview", json={"lead_id": theirs["id"]})
    assert r.status_code == 404 and "Secretname" not in r.text
    assert (await admin.post("/cadences/rank-a/preview", json={"lead_id": theirs["id"]})).status_code == 200


async def test_a_non_ascii_csrf_token_is_a_403_not_a_500(stack):
    base_url, _, browsers = stack
    r = await browsers["ops"].post("/ui/logout", headers={"X-CSRF-Token": "été".encode()})
    assert r.status_code == 403
