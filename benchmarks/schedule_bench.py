"""Benchmarks of the scheduling, validation, workflow and database paths (``make bench``).

Run from the repository root::

    .venv/bin/python -m benchmarks.schedule_bench

Every figure is put next to a baseline measured in the same run, on the same machine and
in the same process, so the *ratio* is what to compare between machines and commits; the
absolute numbers only describe this machine. Each measurement is repeated ``REPEATS``
times (baseline and subject interleaved, so drift hits both alike) and the median is
reported. The ratio is always a cost ratio: how many times more time one operation takes
than its baseline operation (higher means slower).

This is a benchmark, not a test: it asserts only that the work it timed really happened.
"""
from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

# `python -m benchmarks.schedule_bench` from the repository root already has the root on
# sys.path; make it so from anywhere else too (`tests.support.harness` is imported from it).
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

REPEATS = 5  # each figure is the median of this many measurements
MICRO_BATCH_SECONDS = 0.1  # wall time of one timed batch of a micro-benchmark
TZ = "America/New_York"
N_LEADS = 50  # workflows per throughput measurement
N_EVENTS = 2_000  # rows per database measurement
TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"


@dataclass
class Row:
    name: str
    value: str
    ratio: str


ROWS: list[Row] = []


def progress(index: int, total: int, name: str) -> None:
    print(f"[{index}/{total}] {name} ...", flush=True)


def per_op(seconds: float) -> str:
    us = seconds * 1e6
    return f"{us:,.2f} µs/op" if us < 100 else f"{us:,.0f} µs/op"


def add_pair(base_name: str, base_value: str, name: str, value: str, ratio: float) -> None:
    ROWS.append(Row(base_name, base_value, "1.00 (baseline)"))
    ROWS.append(Row(name, value, f"{ratio:,.2f}x"))


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


def compare(base: Callable[[], object], subject: Callable[[], object]) -> tuple[float, float]:
    """Median seconds per call of `base` and of `subject`, measured interleaved."""
    nb, ns = batch_size(base), batch_size(subject)
    base_s, subj_s = [], []
    for _ in range(REPEATS):
        base_s.append(time_batch(base, nb))
        subj_s.append(time_batch(subject, ns))
    return statistics.median(base_s), statistics.median(subj_s)


# --- 1. scheduling -------------------------------------------------------------------------------

def bench_next_due() -> None:
    from domain.schedule import SendWindow, next_due

    window = SendWindow()  # Mon-Fri 08:00-18:00
    wait = timedelta(days=2)  # P2D
    # A week of `after` instants every 3 h: mid-window, evenings, nights and a weekend, so the
    # window and business-day adjustments are exercised in realistic proportion.
    afters = [datetime(2025, 6, 2, tzinfo=timezone.utc) + timedelta(hours=3 * i) for i in range(56)]

    def base() -> None:
        for a in afters:
            (a + wait).astimezone(ZoneInfo(TZ))

    def subject() -> None:
        for a in afters:
            next_due(a, wait, tz=TZ, window=window, business_days=True)

    b, s = compare(base, subject)
    b, s = b / len(afters), s / len(afters)
    add_pair("next_due baseline: datetime + timedelta, astimezone(ZoneInfo)", per_op(b),
             "next_due (P2D, America/New_York, Mon-Fri 08-18, business days)", per_op(s), s / b)


def bench_plan() -> None:
    from domain.durations import parse_duration
    from domain.schedule import plan
    from persistence.cadences import snapshot_from_file

    cadence = snapshot_from_file("rank-a")
    waits = [parse_duration(step.wait) for step in cadence.steps]
    window, business_days = cadence.window(), cadence.business_days
    starts = [datetime(2025, 6, 2, 13, tzinfo=timezone.utc) + timedelta(hours=7 * i) for i in range(8)]

    def base() -> None:  # the same chain with plain arithmetic, no calendar rules
        for due in starts:
            for w in waits:
                due = (due + w).astimezone(ZoneInfo(TZ))

    def subject() -> None:
        for start in starts:
            plan(start, waits, tz=TZ, window=window, business_days=business_days)

    b, s = compare(base, subject)
    b, s = b / len(starts), s / len(starts)
    add_pair(f"plan baseline: {len(waits)} x (datetime + timedelta, astimezone)", per_op(b),
             f"plan over rank-a ({len(waits)} steps)", per_op(s), s / b)


# --- 2. cadence validation -------------------------------------------------------------------------

def bench_validation() -> None:
    import yaml

    from domain.cadences import validate_cadence
    from messaging.rendering import template_problem
    from persistence.cadences import CADENCES_DIR, read_files

    definition = next(d for d in read_files() if d["name"] == "rank-a")
    text = (CADENCES_DIR / "rank-a.yaml").read_text()
    assert validate_cadence(definition, template_problem) == [], "rank-a must be valid"

    b, s = compare(lambda: yaml.safe_load(text), lambda: validate_cadence(definition, template_problem))
    add_pair("validation baseline: yaml.safe_load(rank-a.yaml)", per_op(b),
             "validate_cadence(rank-a, template_problem)", per_op(s), s / b)


# --- 3. workflow throughput ------------------------------------------------------------------------

def email_cadence():
    from tests.support.harness import make_cadence

    steps = [{"id": f"e{i}", "channel": "email", "wait": "PT0S" if i == 1 else "P1D",
              "subject": f"Touch {i} for {{{{ first_name }}}}", "body": f"Hello {{{{ first_name }}}}, touch {i}."}
             for i in range(1, 7)]
    return make_cadence("bench-email", steps=steps)


async def run_trivial(client, task_queue: str, n: int) -> float:
    """Seconds for `n` trivial workflows, from the first start to the last result."""
    from benchmarks.baseline_workflow import TrivialWorkflow

    t0 = time.perf_counter()
    handles = await asyncio.gather(*(
        client.start_workflow(TrivialWorkflow.run, id=f"bench-trivial-{uuid.uuid4().hex}", task_queue=task_queue)
        for _ in range(n)))
    results = await asyncio.gather(*(h.result() for h in handles))
    elapsed = time.perf_counter() - t0
    assert results == ["done"] * n
    return elapsed


async def run_leads(client, template_db: Path, workdir: Path, cadence, n: int) -> float:
    """Seconds for `n` lead workflows, from the first start until every one reached its final
    stage; each gets a positive reply once its first email is in the outbox."""
    from persistence.db import Database
    from tests.support.harness import eventually, running_worker

    path = workdir / f"leads-{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(template_db, path)
    db = Database(f"sqlite:///{path}")
    try:
        async with running_worker(client, db) as h:
            t0 = time.perf_counter()
            handles = await asyncio.gather(*(h.start(cadence) for _ in range(n)))
            waiting = list(handles)

            async def first_email_then_reply() -> bool:
                for handle in list(waiting):
                    if any(t.status == "outboxed" for t in h.touches(handle)):
                        await h.signal(handle, "reply", intent="positive", channel="email", text="Yes, let's talk")
                        waiting.remove(handle)
                return not waiting

            await eventually(first_email_then_reply, timeout=120, interval=0.02)
            finals = await asyncio.gather(*(handle.result() for handle in handles))
            elapsed = time.perf_counter() - t0
        assert all(f.stage == "qualified" for f in finals), {f.stage for f in finals}
        assert all(len(h.touches(handle)) == 1 for handle in handles)
        return elapsed
    finally:
        db.engine.dispose()


async def workflow_throughput(workdir: Path) -> tuple[float, float]:
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from benchmarks.baseline_workflow import TrivialWorkflow

    template_db = migrated_template(workdir)
    cadence = email_cadence()
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(TEST_SERVER))
    try:
        task_queue = f"bench-trivial-{uuid.uuid4().hex[:8]}"
        async with Worker(env.client, task_queue=task_queue, workflows=[TrivialWorkflow]):
            # Warm-up (not timed): first workflow runs pay for sandbox imports and connections.
            await run_trivial(env.client, task_queue, 5)
            await run_leads(env.client, template_db, workdir, cadence, 5)
            base_s, subj_s = [], []
            for _ in range(REPEATS):
                base_s.append(await run_trivial(env.client, task_queue, N_LEADS))
                subj_s.append(await run_leads(env.client, template_db, workdir, cadence, N_LEADS))
    finally:
        await env.shutdown()
    return statistics.median(base_s), statistics.median(subj_s)


def bench_workflows(workdir: Path) -> None:
    b, s = asyncio.run(workflow_throughput(workdir))
    add_pair(f"workflow baseline: {N_LEADS} trivial workflows (one workflow.sleep(1))",
             f"{N_LEADS / b:,.1f} workflows/s",
             f"lead workflows: {N_LEADS} leads, 6-step email cadence, reply after email 1",
             f"{N_LEADS / s:,.1f} leads/s", s / b)


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


def event_rows() -> list[tuple[str, str, str, datetime, dict]]:
    at = datetime(2025, 6, 2, 14, tzinfo=timezone.utc)
    types = ("reply", "email_event", "call_outcome", "task_completed")
    return [("benchlead", f"evt-{i:05d}", types[i % 4], at + timedelta(seconds=i),
             {"intent": "neutral", "channel": "email", "text": "Tell me more"}) for i in range(N_EVENTS)]


def time_record_event_once(template: Path, workdir: Path, rows) -> float:
    from sqlalchemy import func, select

    from persistence.db import Database
    from persistence.models import LeadEventRecord
    from persistence.touches import record_event_once

    path = workdir / f"events-{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(template, path)
    db = Database(f"sqlite:///{path}")
    try:
        with db.engine.connect():  # open the pooled connection (and its PRAGMAs) outside the timing
            pass
        t0 = time.perf_counter()
        with db.session() as session:  # one unit of work, committed at the end
            for lead_id, event_id, type_, at, data in rows:
                record_event_once(session, lead_id, event_id, type_, at, data)
        elapsed = time.perf_counter() - t0
        with db.session() as session:
            assert session.scalar(select(func.count()).select_from(LeadEventRecord)) == len(rows)
        return elapsed
    finally:
        db.engine.dispose()


def time_raw_executemany(workdir: Path, rows) -> float:
    path = workdir / f"raw-{uuid.uuid4().hex[:8]}.db"
    conn = sqlite3.connect(path)
    try:
        # The application's PRAGMAs, so only the write path differs.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE lead_events (id INTEGER PRIMARY KEY, lead_id TEXT, event_id TEXT, type TEXT, "
                     "at TEXT, data TEXT)")
        conn.commit()
        t0 = time.perf_counter()
        with conn:  # one transaction
            conn.executemany("INSERT INTO lead_events (lead_id, event_id, type, at, data) VALUES (?, ?, ?, ?, ?)",
                             [(lid, eid, typ, at.isoformat(), json.dumps(data)) for lid, eid, typ, at, data in rows])
        elapsed = time.perf_counter() - t0
        assert conn.execute("SELECT count(*) FROM lead_events").fetchone()[0] == len(rows)
        return elapsed
    finally:
        conn.close()


def bench_database(workdir: Path) -> None:
    template = migrated_template(workdir)
    rows = event_rows()
    time_record_event_once(template, workdir, rows[:200])  # warm-up: statement compilation, imports
    time_raw_executemany(workdir, rows[:200])
    base_s, subj_s = [], []
    for _ in range(REPEATS):
        base_s.append(time_raw_executemany(workdir, rows))
        subj_s.append(time_record_event_once(template, workdir, rows))
    b, s = statistics.median(base_s), statistics.median(subj_s)
    add_pair(f"database baseline: sqlite3 executemany, {N_EVENTS:,} rows, plain table",
             f"{N_EVENTS / b:,.0f} rows/s",
             f"record_event_once x {N_EVENTS:,} (SQLAlchemy, migrated schema)",
             f"{N_EVENTS / s:,.0f} rows/s", s / b)


# --- main ------------------------------------------------------------------------------------------

def print_table(rows: list[Row]) -> None:
    headers = ("benchmark", "result (median of %d)" % REPEATS, "cost ratio")
    widths = [max(len(headers[i]), *(len(getattr(r, f)) for r in rows)) for i, f in enumerate(("name", "value", "ratio"))]
    line = "  ".join("-" * w for w in widths)
    print()
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    print(line)
    for i, r in enumerate(rows):
        if i and i % 2 == 0:
            print()
        print(f"{r.name.ljust(widths[0])}  {r.value.rjust(widths[1])}  {r.ratio.rjust(widths[2])}".rstrip())
    print(line)


def main() -> None:
    if not TEST_SERVER.exists():
        sys.exit(f"Temporal test server not found at {TEST_SERVER} (install the test extras: make test)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cadence-bench-") as tmp:
        workdir = Path(tmp)
        benchmarks: list[tuple[str, Callable[[], None]]] = [
            ("next_due vs datetime + timedelta", bench_next_due),
            ("plan over rank-a vs chained datetime arithmetic", bench_plan),
            ("validate_cadence(rank-a) vs yaml.safe_load", bench_validation),
            (f"{N_LEADS} lead workflows vs {N_LEADS} trivial workflows (time-skipping server)",
             lambda: bench_workflows(workdir)),
            (f"record_event_once x {N_EVENTS:,} vs sqlite3 executemany", lambda: bench_database(workdir)),
        ]
        for i, (name, bench) in enumerate(benchmarks, 1):
            progress(i, len(benchmarks), name)
            bench()
    print_table(ROWS)
    print(f"cost ratio = time per operation / baseline's time per operation (higher is slower); "
          f"total run {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
