"""Lead lists through HTTP on the live stack: POST /imports, the import workflow, its rows' outcomes."""
from __future__ import annotations

import asyncio
import csv
import io
import os
import signal
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.api.common.v1 import Payload

from persistence.models import ImportRow, Lead
from privacy.codec import data_converter
from tests.support.harness import eventually
from tests.support.live import (
    api_client, free_port, prepare_database, running_worker, serving_api, settings_for,
)
from tests.test_api_e2e import dev_server  # noqa: F401  (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]
ROOT = Path(__file__).resolve().parent.parent

HEADER = ["Email", "SOURCE", "First_Name", "last_name", "Company", "Timezone", "country", "phone", "cadence",
          "custom.Industry", "fax"]
SOURCES = ["target_list", "event", "content_download"]
ZONES = ["Europe/Berlin", "America/New_York", ""]
# Ten rows that must not be enrolled, each for another reason: (position in the file, field, cells).
BAD = {
    7: ("email", {"Email": "not-an-email"}),
    50: ("source", {"SOURCE": "carrier_pigeon"}),
    120: ("timezone", {"Timezone": "Mars/Olympus"}),
    200: ("email", "duplicate"),  # the address of the row at position 3
    333: ("email", "suppressed"),
    404: ("phone", {"phone": "12345"}),
    500: ("cadence", {"cadence": "no-such-cadence"}),
    640: ("country", {"country": "USA"}),
    777: ("source", {"SOURCE": ""}),
    901: ("row", "extra values"),
}


def lead_list(prefix: str, size: int = 1000, bad: dict | None = None, suppressed: str | None = None) -> bytes:
    """A CSV of `size` rows; the positions in `bad` hold the broken rows, the others are good."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for i in range(size):
        row = {"Email": f"{prefix}-{i}@example.com", "SOURCE": SOURCES[i % 3], "First_Name": f"Ada{i}",
               "last_name": "Lovelace", "Company": "Engines", "Timezone": ZONES[i % 3], "country": "de",
               "phone": f"+1415555{i:04d}", "cadence": "", "custom.Industry": "Software", "fax": "+1 555 0100"}
        field, change = (bad or {}).get(i, (None, None))
        if change == "duplicate":
            row["Email"] = f"{prefix}-3@EXAMPLE.com "
        elif change == "suppressed":
            row["Email"] = suppressed
        elif isinstance(change, dict):
            row.update(change)
        values = [row[h] for h in HEADER]
        writer.writerow(values + ["surplus"] if change == "extra values" else values)
    return out.getvalue().encode()


def row_number(position: int) -> int:
    return position + 2  # the header is row 1


def import_settings(dev_server, db, **overrides):  # noqa: F811
    """The live stack's settings; imports start one lead every 30 s and continue as new every four
    activities, unless told otherwise."""
    prepare_database(db)
    port = int(dev_server.client.service_client.config.target_host.rsplit(":", 1)[1])
    return settings_for(db, port, free_port(), f"imports-{uuid.uuid4().hex[:8]}").model_copy(
        update={"cadence_import_start_interval": 30.0, "cadence_import_batches_per_run": 4, **overrides})


@pytest.fixture
async def live(dev_server, any_db):  # noqa: F811
    settings = import_settings(dev_server, any_db)
    async with running_worker(dev_server.client, settings, any_db):
        with serving_api(settings, any_db) as base_url:
            async with api_client(base_url) as http:
                yield SimpleNamespace(http=http, db=any_db, settings=settings, dev_server=dev_server)


async def upload(http: httpx.AsyncClient, content: bytes, name: str = "leads.csv", **form) -> httpx.Response:
    return await http.post("/imports", files={"file": (name, content, "text/csv")}, data=form or None)


async def finished(http: httpx.AsyncClient, import_id: str, timeout: float = 120) -> dict:
    async def done():
        body = (await http.get(f"/imports/{import_id}")).json()
        return body if body["status"] == "done" else None
    return await eventually(done, timeout=timeout, interval=0.5)


async def first_started(http: httpx.AsyncClient, import_id: str) -> dict:
    async def started():
        body = (await http.get(f"/imports/{import_id}", params={"errors_limit": 0})).json()
        return body if body["started"] else None
    return await eventually(started, timeout=15)


async def suppressed_address(http: httpx.AsyncClient) -> str:
    """An address that unsubscribed, through the product: a lead whose reply asked to be removed."""
    email = f"gone-{uuid.uuid4().hex[:8]}@example.com"
    lead = (await http.post("/leads", json={"email": email, "source": "event"})).json()
    r = await http.post(f"/leads/{lead['id']}/signals/reply", json={"intent": "unsubscribe", "event_id": "u-1"})
    assert r.status_code == 202, r.text

    async def gone():
        return (await http.get(f"/leads/{lead['id']}")).json()["stage"] == "not_interested" or None
    await eventually(gone, timeout=15)
    return email


def _payloads(message):
    """Every Payload inside a history event, wherever the event keeps it."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if hasattr(value, "ListFields"):
            items = [value]
        elif field.message_type.GetOptions().map_entry:
            items = value.values()
        else:
            items = list(value)  # a repeated field
        for item in items:
            if isinstance(item, Payload):
                yield item
            elif hasattr(item, "ListFields"):
                yield from _payloads(item)


async def import_history(client, settings, db, import_id: str) -> tuple[list[bytes], int]:
    """The decoded payloads of every run of the import's workflow, and how many runs there were."""
    codec = data_converter(settings, db).payload_codec
    decoded, runs, run_id = [], 0, None
    while True:
        handle = client.get_workflow_handle(f"import-{import_id}", run_id=run_id)
        history = await handle.fetch_history()
        runs += 1
        found = [p for event in history.events for p in _payloads(event)]
        decoded += [p.data for p in await codec.decode(found)]
        started = history.events[0].workflow_execution_started_event_attributes
        if not started.continued_execution_run_id:
            return decoded, runs
        run_id = started.continued_execution_run_id


async def activity_attempts(client, import_id: str) -> dict[str, list[int]]:
    """The attempt each activity of the import's workflow completed on, over all its runs."""
    attempts: dict[str, list[int]] = {}
    run_id = None
    while True:
        history = await client.get_workflow_handle(f"import-{import_id}", run_id=run_id).fetch_history()
        scheduled = {e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
                     for e in history.events if e.HasField("activity_task_scheduled_event_attributes")}
        for e in history.events:
            if e.HasField("activity_task_started_event_attributes"):
                started = e.activity_task_started_event_attributes
                attempts.setdefault(scheduled[started.scheduled_event_id], []).append(started.attempt)
        run_id = history.events[0].workflow_execution_started_event_attributes.continued_execution_run_id
        if not run_id:
            return attempts


async def test_a_thousand_rows_with_ten_bad_ones_and_the_same_file_again(live):
    http, db = live.http, live.db
    gone = await suppressed_address(http)
    prefix = uuid.uuid4().hex[:8]
    content = lead_list(prefix, bad=BAD, suppressed=gone)

    r = await upload(http, content)
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert r.headers["location"] == f"/imports/{accepted['id']}"
    assert (accepted["status"], accepted["total"]) == ("running", 1000)
    assert accepted["unknown_columns"] == ["fax"] and "'fax'" in accepted["warnings"][0]

    result = await finished(http, accepted["id"])
    assert (result["total"], result["processed"], result["created"], result["existing"], result["rejected"]) == (
        1000, 1000, 990, 0, 10)
    by_row = {e["row"]: e for e in result["errors"]}
    assert {row: e["field"] for row, e in by_row.items()} == {row_number(p): f for p, (f, _) in BAD.items()}
    assert by_row[row_number(200)]["message"] == f"the same address as row {row_number(3)}"
    assert "suppressed (unsubscribed)" in by_row[row_number(333)]["message"]
    assert by_row[row_number(901)]["message"] == f"{len(HEADER) + 1} values where the header has {len(HEADER)} columns"
    assert "Mars/Olympus" in by_row[row_number(120)]["message"]

    with db.session() as s:  # each good row is one lead, with the fields of its columns
        leads = {lead.email: lead for lead in s.scalars(select(Lead).where(Lead.email.like(f"{prefix}-%")))}
        outcomes = list(s.scalars(select(ImportRow).where(ImportRow.import_id == accepted["id"])))
    assert len(leads) == 990
    assert all(row.data is None for row in outcomes)  # a row's values are not kept once it has its outcome
    assert {row.lead_id for row in outcomes if row.status == "created"} == {lead.id for lead in leads.values()}
    first = leads[f"{prefix}-0@example.com"]
    assert (first.first_name, first.company, first.timezone, first.country, first.rank, first.cadence_name) == (
        "Ada0", "Engines", "Europe/Berlin", "DE", "D", "rank-d")
    assert first.custom == {"Industry": "Software"} and first.phone == "+14155550000"
    assert leads[f"{prefix}-2@example.com"].timezone == "UTC"  # an empty cell: the default
    assert leads[f"{prefix}-1@example.com"].rank == "B"

    # The cadences start one every 30 s: the first at once, the others wait their turn.
    started = await first_started(http, accepted["id"])
    assert started["started"] <= 2 and started["finished_at"] is None
    temporal = live.dev_server.client
    await temporal.get_workflow_handle(first.workflow_id).describe()
    with pytest.raises(Exception, match="not found"):
        await temporal.get_workflow_handle(leads[f"{prefix}-999@example.com"].workflow_id).describe()

    # The workflow worked in batches and continued as new; its history holds ids and counts only.
    decoded, runs = await import_history(temporal, live.settings, db, accepted["id"])
    assert runs >= 3  # ten batches at four activities a run
    assert decoded and not any(prefix.encode() in data or b"@" in data for data in decoded)

    again = (await upload(http, content)).json()
    second = await finished(http, again["id"])
    assert (second["created"], second["existing"], second["rejected"]) == (0, 990, 10)
    with db.session() as s:
        assert s.scalar(select(func.count()).where(Lead.email.like(f"{prefix}-%"))) == 990

    listed = (await http.get("/imports")).json()
    assert [i["id"] for i in listed["data"][:2]] == [again["id"], accepted["id"]]
    assert "errors" not in listed["data"][0] and listed["data"][1]["created"] == 990


async def test_a_known_email_with_a_better_source_is_re_engaged_even_before_its_turn(live):
    http = live.http
    prefix = uuid.uuid4().hex[:8]
    first = await finished(http, (await upload(http, lead_list(prefix, size=2))).json()["id"])
    first = await first_started(http, first["id"])
    assert (first["created"], first["started"]) == (2, 1)  # the second lead waits 30 s for its turn
    waiting = (await http.get("/leads", params={"cadence": "rank-b"})).json()["data"]
    lead = next(x for x in waiting if x["email"] == f"{prefix}-1@example.com")
    assert lead["rank"] == "B"

    better = b"email,source\n" + f"{prefix}-1@example.com,referral\n".encode()
    second = await finished(http, (await upload(http, better)).json()["id"])
    assert (second["created"], second["existing"]) == (0, 1)
    detail = (await http.get(f"/leads/{lead['id']}")).json()
    assert (detail["rank"], detail["cadence"]["name"]) == ("A", "rank-a")

    async def re_engaged():
        events = (await http.get(f"/leads/{lead['id']}")).json()["events"]
        return [e for e in events if e["type"] == "re_engaged"] or None
    assert (await eventually(re_engaged, timeout=15))[0]["to_cadence"] == "rank-a"


@pytest.mark.parametrize("content, field, message", [
    (b"name,company\nAda,Engines\n", "file", "no 'email' or 'source' column"),
    (b"email,source\n", "file", "no rows"),
    ("email,source\nzoë@example.com,event\n".encode("latin-1"), "file", "not UTF-8"),
    (b"\x00\x01\x02", "file", ""),
])
async def test_a_file_that_cannot_be_imported_is_a_422_naming_the_field(live, content, field, message):
    r = await upload(live.http, content)
    assert r.status_code == 422, r.text
    problem = r.json()["detail"][0]
    assert problem["loc"][-1] == field and message in problem["msg"]


async def test_a_bad_upload_is_a_clear_4xx(live):
    http = live.http
    r = await http.post("/imports", json={})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "file"]
    r = await http.post("/imports", data={"file": "not a file"})
    assert r.status_code == 422
    r = await upload(http, b"email,source\na@example.com,event\n", cadence="no-such-cadence")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "cadence"
    assert (await http.get("/imports/no-such-import")).status_code == 404


async def test_the_cadence_field_overrides_the_column_for_every_row(live):
    http = live.http
    prefix = uuid.uuid4().hex[:8]
    content = f"email,source,cadence\n{prefix}-a@example.com,event,rank-c\n{prefix}-b@example.com,event,\n".encode()
    result = await finished(http, (await upload(http, content, cadence="rank-a")).json()["id"])
    assert (result["created"], result["cadence"]) == (2, "rank-a")
    leads = (await http.get("/leads", params={"cadence": "rank-a", "limit": 500})).json()["data"]
    assert {x["email"] for x in leads} >= {f"{prefix}-a@example.com", f"{prefix}-b@example.com"}


SPREAD = {
    "name": "imported-hello", "send_window": None, "business_days": False,
    "steps": [{"id": "hello", "channel": "email", "wait": "PT0S", "subject": "Hello", "body": "Hi {{ first_name }}"}]
    + [{"id": f"later-{i}", "channel": "call" if i == 5 else "email", "wait": "P30D", "subject": "Later",
        "body": "Hi", "instructions": "Call"} for i in range(2, 7)],
}


async def test_imported_leads_first_touches_are_spread_one_interval_apart(dev_server, sqlite_db):  # noqa: F811
    settings = import_settings(dev_server, sqlite_db, cadence_import_start_interval=1.0)
    async with running_worker(dev_server.client, settings, sqlite_db):
        with serving_api(settings, sqlite_db) as base_url:
            async with api_client(base_url) as http:
                assert (await http.post("/cadences", json=SPREAD)).status_code == 201
                prefix = uuid.uuid4().hex[:8]
                rows = "".join(f"{prefix}-{i}@example.com,event,imported-hello\n" for i in range(5))
                accepted = (await upload(http, b"email,source,cadence\n" + rows.encode())).json()

                async def all_started():
                    body = (await http.get(f"/imports/{accepted['id']}")).json()
                    return body if body["finished_at"] else None
                result = await eventually(all_started, timeout=60, interval=0.5)
                assert (result["created"], result["started"]) == (5, 5)

                async def first_emails():
                    sent = (await http.get("/outbox", params={"limit": 100})).json()
                    mine = {o["to_email"]: datetime.fromisoformat(o["created_at"]) for o in sent
                            if o["to_email"].startswith(prefix)}
                    return mine if len(mine) == 5 else None
                emails = await eventually(first_emails, timeout=60)
    with sqlite_db.session() as s:
        starts = [(row.started_at, lead.email) for row, lead in s.execute(
            select(ImportRow, Lead).join(Lead, Lead.id == ImportRow.lead_id)
            .where(ImportRow.import_id == accepted["id"]).order_by(ImportRow.row))]
    assert [email for _, email in starts] == [f"{prefix}-{i}@example.com" for i in range(5)]
    assert [started for started, _ in starts] == sorted(started for started, _ in starts)  # in file order
    # Lead k's turn comes k seconds after the first lead's, which is after the upload: load can delay a
    # start, never bring one forward, so no first email comes before its lead's turn.
    uploaded = datetime.fromisoformat(accepted["created_at"])
    for k, (_, email) in enumerate(starts):
        assert (emails[email] - uploaded).total_seconds() >= k * 1.0, (k, emails, uploaded)


def _worker(settings, log: Path) -> subprocess.Popen:
    """`python worker.py` as production runs it, configured through its environment."""
    env = {**os.environ, "DATABASE_URL": settings.database_url, "TEMPORAL_ADDRESS": settings.temporal_address,
           "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue, "CADENCE_SECRET_KEY": "test-secret",
           "CADENCE_ENV": "test"}
    env.pop("CADENCE_PAYLOAD_KEYS", None)
    return subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


async def test_a_worker_killed_mid_import_resumes_and_enrols_no_row_twice(dev_server, sqlite_db, tmp_path):  # noqa: F811
    settings = import_settings(dev_server, sqlite_db, cadence_import_batch_size=200)
    log = tmp_path / "worker.log"
    prefix = uuid.uuid4().hex[:8]
    with serving_api(settings, sqlite_db) as base_url:
        async with api_client(base_url) as http:
            gone_worker = _worker(settings, log)
            try:
                gone = await suppressed_address(http)
                accepted = (await upload(http, lead_list(prefix, bad=BAD, suppressed=gone))).json()

                async def under_way():
                    body = (await http.get(f"/imports/{accepted['id']}")).json()
                    return body if 60 <= body["processed"] else None
                at_kill = await eventually(under_way, timeout=60, interval=0.1)
            finally:
                os.killpg(gone_worker.pid, signal.SIGKILL)  # no goodbye: mid-batch, mid-transaction
                gone_worker.wait()
            stopped = (await http.get(f"/imports/{accepted['id']}")).json()["processed"]
            # Two rows were rejected as the file was read; the first batch is the next 200.
            assert at_kill["processed"] <= stopped < 202, "the kill came after the first batch"

            second = _worker(settings, log)
            try:
                result = await finished(http, accepted["id"], timeout=150)
            finally:
                second.send_signal(signal.SIGINT)
                try:
                    second.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(second.pid, signal.SIGKILL)
    assert (result["created"], result["existing"], result["rejected"]) == (990, 0, 10)
    with sqlite_db.session() as s:
        leads = list(s.scalars(select(Lead).where(Lead.email.like(f"{prefix}-%"))))
        created = list(s.scalars(select(ImportRow.lead_id).where(ImportRow.import_id == accepted["id"],
                                                                 ImportRow.status == "created")))
    assert len(leads) == len(created) == len(set(created)) == 990
    assert set(created) == {lead.id for lead in leads}
    # The batch the worker was in the middle of was retried by the new worker, which skipped its
    # rows that already had their outcome.
    attempts = await activity_attempts(dev_server.client, accepted["id"])
    assert max(attempts.get("enrol_import_batch", [1])) >= 2, attempts
